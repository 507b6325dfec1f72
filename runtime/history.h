/* history.h: each run's operations in the history, compressed, in pieces.
 *
 * The history keeps a run's operations as the compact JSON array `plan
 * --json` prints, compressed (one zstd frame; one zlib stream for runs kept
 * before schema version 7) and cut into pieces of at most HIST_PIECE
 * bytes, one row of sync_run_ops each: (run_id, piece, data).  Pieces
 * because SQLite takes a value only whole and refuses one over 1 GB (a
 * parked first sync of a million students is gigabytes of operations);
 * compressed because that text repeats its keys on every line and shrinks
 * about thirtyfold (3.5 GB to 123 MB for that first sync's applied copy),
 * and a first sync's copy was half of the hub file.  A run with no pieces
 * kept no copy of its operations (a hub migrated from a version that
 * dropped those over 1 GB).
 */
#ifndef SYNC_HISTORY_H
#define SYNC_HISTORY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "oplog.h"

#define HIST_PIECE (1u << 20)

/* Writes run_id's pieces: the operations as `keep` keeps them (NULL: all,
 * whole) as the compact array.  0 and err on a write error. */
int hist_put(sqlite3 *db, int64_t run_id, oplog *ops, oplog_keep keep, char *err, size_t errsize);

/* The same on the second core, beside the apply: hist_start() compresses
 * the operations as `keep` keeps them into a temporary file in a thread (reading
 * the oplog through its own offset; the caller may read it meanwhile, but
 * not add to it); hist_finish() waits for the thread and stores the pieces
 * as run_id's, or with db NULL only waits and frees (the apply failed).
 * hist_start() returns NULL when it cannot start (no temporary file, no
 * thread): hist_put() then does the work. */
typedef struct hist_job hist_job;
hist_job *hist_start(oplog *ops, oplog_keep keep);
int hist_finish(hist_job *j, sqlite3 *db, int64_t run_id, char *err, size_t errsize);

/* Reading run_id's operations back as the text of the array, a buffer at a
 * time: hist_open(), then hist_read() (a runfile reader's read callback)
 * until it returns 0, then hist_error() says whether that was the end or a
 * damaged or missing piece. */
typedef struct hist_src hist_src;
/* NULL (and err) when the run kept no copy of its operations. */
hist_src *hist_open(sqlite3 *db, int64_t run_id, char *err, size_t errsize);
size_t hist_read(void *src, char *buf, size_t n);
/* The reason the text stopped early, or NULL when it ended as written. */
const char *hist_error(const hist_src *h);
void hist_close(hist_src *h);

/* Schema version 4: moves every run's sync_runs.changes (the array as
 * text, or a BLOB of it when over 16 MB) into pieces and drops the column. */
int hist_migrate(sqlite3 *db, char *err, size_t errsize);

#endif
