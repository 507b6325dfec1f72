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
/* The same, applied while it is read: runfile_start reads the file's head
 * (the members before "ops") here and, when it holds everything a run needs
 * before applying (as plan -o writes it: the hub version, the hold and the
 * counts) and `follow` is RUNFILE_FOLLOW, the operations on a thread of
 * their own, into run->ops; runfile_followed() says so.  RUNFILE_IN_PLACE
 * follows them where they lie in the file, when they lie as plan -o writes
 * them, rather than copying them (see runfile.c).  The report may come after the
 * operations: run->report is then empty until runfile_finish.  The
 * caller takes them as they come with runfile_next_op (each NUL-terminated,
 * valid until the next call; NULL after the last or when reading failed)
 * and runfile_known_ops (waits until at least `want` are read, or all; how
 * many), and must not touch run->ops itself until runfile_finish.  Any
 * other file, or RUNFILE_WHOLE, is read whole before runfile_start
 * returns.  NULL and err when the head cannot be read. */
typedef struct runfile_job runfile_job;
enum { RUNFILE_WHOLE, RUNFILE_FOLLOW, RUNFILE_IN_PLACE };
runfile_job *runfile_start(const char *path, run_result *run, int follow, char *err, size_t errsize);
int runfile_followed(const runfile_job *j);
const char *runfile_next_op(runfile_job *j, size_t *n);
size_t runfile_known_ops(runfile_job *j, size_t want);
/* Whether the thread has stopped short of the file's end (malformed, or
 * strayed: see runfile_finish): what runfile_next_op handed out is not the
 * whole run. */
int runfile_stopped(runfile_job *j);
/* Waits for the thread; 1 when the whole file was read and is a well-formed
 * run file (and, with took_all, when the caller took operations until
 * runfile_next_op said NULL: every one was handed out), else 0 with err (as
 * runfile_start's) naming the file, line and column.  *again (when not
 * NULL) is 1 when, followed in place, the operations strayed from plan -o's
 * layout after the first: the caller undoes what it applied and reads the
 * file again with RUNFILE_FOLLOW.  Frees the job (run stays the caller's,
 * to run_free). */
int runfile_finish(runfile_job *j, int took_all, int *again);
/* Tells the thread to stop, waits for it and frees the job. */
void runfile_stop(runfile_job *j);
/* The operations the history keeps of run_id (history.h), read the same
 * way into run->ops (made by the caller); 0 and err when it keeps none or
 * they are damaged or malformed. */
int runfile_history_ops(sqlite3 *db, int64_t run_id, run_result *run, char *err, size_t errsize);

#endif
