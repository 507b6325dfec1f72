/* test_linkscan.c: the links read on a second thread (linkscan.h) come to
 * the taker in the statement's order, every row of a wanted feed once and
 * no row of another, each with its feed's index, across batches; a scan
 * that wants no feed the table has ends at once; a statement that cannot
 * run ends as failed (so the caller looks the links up itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkscan.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

#define SQL "SELECT feed, source_id, hub_id, gone, hash FROM links"

/* Feed 1's students, with feed 3's links (every tenth) and one of feed 2
 * between them, in table order. */
static sqlite3 *hub(int nstudents) {
  sqlite3 *db;
  sqlite3_open(":memory:", &db);
  sqlite3_exec(db, "CREATE TABLE links (feed INTEGER, source_id TEXT, hub_id INTEGER, gone INTEGER, hash)", NULL, NULL, NULL);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "INSERT INTO links VALUES (?2, printf('s%07d', ?1), ?1 + 1, 0, ?1 * 3)", -1, &st, NULL);
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (int i = 0; i < nstudents; i++) {
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_int(st, 2, 1);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (i % 10 == 0) {
      sqlite3_bind_int(st, 2, 3);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
    if (i == nstudents / 2) sqlite3_exec(db, "INSERT INTO links VALUES (2, 'c1', 7, 1, 'not an integer')", NULL, NULL, NULL);
  }
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_finalize(st);
  return db;
}

static void test_feeds(void) {
  const int n = 5000; /* several batches */
  sqlite3 *db = hub(n);
  static const int64_t feeds[] = {1, 9, 2}; /* feed 9 has no link; feed 3 is not wanted */
  linkscan *ls = ls_start(db, SQL, feeds, 3);
  check(ls != NULL, "start", "");
  int in_order = 1, end = 0, got = 0, other = 0, c1 = 0;
  while (!end) {
    const ls_row *rows;
    int k = ls_next(ls, &rows, &end);
    for (int i = 0; i < k; i++) {
      if (rows[i].feed == 2) {
        c1 += !strcmp(rows[i].sid, "c1") && rows[i].hub == 7 && rows[i].gone == 1 && rows[i].head == 0;
        continue;
      }
      if (rows[i].feed != 0) {
        other++;
        continue;
      }
      char want[16];
      snprintf(want, sizeof want, "s%07d", got);
      in_order = in_order && rows[i].sid && !strcmp(rows[i].sid, want) && rows[i].hub == got + 1 && !rows[i].gone &&
                 rows[i].head == (uint64_t)got * 3;
      got++;
    }
  }
  check(end == 1 && got == n && in_order, "a wanted feed's rows, in order, every one once, across batches", "");
  check(other == 0, "no row of a feed not wanted", "");
  check(c1 == 1, "a row's feed, its gone flag, and a hash that is not an integer read as none", "");
  ls_stop(ls);
  /* stopped before the end: the thread leaves the statement where it is */
  const ls_row *rows;
  ls = ls_start(db, SQL, feeds, 3);
  ls_next(ls, &rows, &end);
  ls_stop(ls);
  check(sqlite3_exec(db, "SELECT count(*) FROM links", NULL, NULL, NULL) == SQLITE_OK,
        "stopped early, the connection is the caller's again", sqlite3_errmsg(db));
  static const int64_t none[] = {9};
  ls = ls_start(db, SQL, none, 1);
  int k = ls_next(ls, &rows, &end);
  check(k == 0 && end == 1, "no wanted feed has links: the scan ends, read whole", "");
  ls_stop(ls);
  check(sqlite3_close(db) == SQLITE_OK, "with no statement left open", sqlite3_errmsg(db));
}

static void test_bad_statement(void) {
  sqlite3 *db = hub(3);
  static const int64_t feeds[] = {1, 2};
  linkscan *ls = ls_start(db, "SELECT no_such_column FROM links", feeds, 2);
  const ls_row *rows;
  int end, a = ls_next(ls, &rows, &end);
  check(a == 0 && end == -1, "a statement that cannot run fails the scan", "");
  ls_stop(ls);
  check(sqlite3_close(db) == SQLITE_OK, "and leaves no statement open", sqlite3_errmsg(db));
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  test_feeds();
  test_bad_statement();
  printf("linkscan: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
