/* runfile.h: reading a run file (syncvm plan -o RUNFILE) for apply.
 *
 * runfile_read streams the operations into the run's oplog (memory holds
 * one at a time, whatever the size of the run) and parses the rest;
 * runfile_history_ops does the same for the operations the history keeps
 * of a run (approve, show).
 */
#ifndef SYNC_RUNFILE_H
#define SYNC_RUNFILE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"

/* Whether the file starts like a run file (a JSON object), not a plan;
 * -1 (errno) when it cannot be opened. */
int runfile_is(const char *path);
/* Reads the run file at path into run (run_free releases it); 0 and err,
 * naming the file, line and column, when it cannot be read or is not a
 * well-formed run file. */
int runfile_read(const char *path, run_result *run, char *err, size_t errsize);
/* The operations the history keeps of run_id (history.h), read the same
 * way into run->ops (made by the caller); 0 and err when it keeps none or
 * they are damaged or malformed. */
int runfile_history_ops(sqlite3 *db, int64_t run_id, run_result *run, char *err, size_t errsize);

#endif
