/* linkscan.h: a run's pass over the hub's links, read on a second thread.
 *
 * Linking a full feed reads all of its links in one pass over sync_links
 * in key order (scan_links in pipeline.c) and matches each to the run's
 * records.  Stepping SQLite through a million rows and matching them took
 * turns on one core; here a thread steps the statement and copies the rows
 * out, a batch ahead of the matching.  It uses the run's own connection, in
 * the run's own read transaction (so it sees exactly what the rest of the
 * run sees, an in-memory hub too): the caller must not touch the
 * connection between ls_start and ls_stop.
 */
#ifndef SYNC_LINKSCAN_H
#define SYNC_LINKSCAN_H

#include <sqlite3.h>
#include <stdint.h>

/* One (source, entity) whose links are wanted, by the names sync_links
 * keeps (not copied: they must outlive the scan). */
typedef struct {
  const char *source, *entity;
} ls_pair;

/* One link row: its source id (NULL when the row has none), object, gone
 * flag and the content hash it keeps (its column as an integer, else 0). */
typedef struct {
  const char *sid;
  int64_t hub;
  int gone;
  uint64_t head;
} ls_row;

typedef struct linkscan linkscan;

/* Starts the thread on `sql`, a statement of two parameters (source,
 * entity) giving source_id, hub_id, gone and hash, run for each pair in
 * turn; where no thread can be had, ls_next reads them itself.  NULL when
 * out of memory. */
linkscan *ls_start(sqlite3 *db, const char *sql, const ls_pair *pairs, int npairs);
/* The next rows of the current pair (valid until the next call), and
 * whether they are its last: *end is 0 when more follow, 1 when the pair
 * was read whole, -1 when reading it failed.  After a pair's last rows the
 * next call starts the next pair. */
int ls_next(linkscan *ls, const ls_row **rows, int *end);
/* Stops the thread (wherever it is) and frees the scan; the connection is
 * the caller's again. */
void ls_stop(linkscan *ls);

#endif
