/* linkscan.h: a run's pass over the hub's links, read on a second thread.
 *
 * Linking full feeds reads all of their links in one pass over
 * sync_link_rows in table order (scan_links in pipeline.c) and matches each
 * to the run's records.  Stepping SQLite through a million rows and
 * matching them took turns on one core; here a thread steps the statement
 * and copies the rows out, a batch ahead of the matching.  It uses the
 * run's own connection, in the run's own read transaction (so it sees
 * exactly what the rest of the run sees, an in-memory hub too): the caller
 * must not touch the connection between ls_start and ls_stop.
 *
 * One pass in table order, not one per feed in key order: the key is an
 * index (hub schema 6), and reading a feed through it fetched each row from
 * the table by its rowid, a descent per link, which made the pass the
 * slower of the two cores.
 */
#ifndef SYNC_LINKSCAN_H
#define SYNC_LINKSCAN_H

#include <sqlite3.h>
#include <stdint.h>

/* One link row: its source id (NULL when the row has none), object, gone
 * flag and the content hash it keeps (its column as an integer, else 0),
 * and which of the wanted feeds it is of (an index into ls_start's feeds). */
typedef struct {
  const char *sid;
  int64_t hub;
  int gone;
  uint64_t head;
  int feed;
} ls_row;

typedef struct linkscan linkscan;

/* Starts the thread on `sql`, a statement without parameters giving feed,
 * source_id, hub_id, gone and hash; rows of a feed not among feeds[] are
 * passed over.  Where no thread can be had, ls_next reads them itself.
 * NULL when out of memory. */
linkscan *ls_start(sqlite3 *db, const char *sql, const int64_t *feeds, int nfeeds);
/* The next rows (valid until the next call), of any wanted feed, and
 * whether they are the last: *end is 0 when more follow, 1 when every link
 * was read, -1 when reading failed. */
int ls_next(linkscan *ls, const ls_row **rows, int *end);
/* Stops the thread (wherever it is) and frees the scan; the connection is
 * the caller's again. */
void ls_stop(linkscan *ls);

#endif
