/* test_linkscan.c: the links read on a second thread (linkscan.h) come to
 * the taker pair by pair, in the statement's order, every row once, across
 * batches; a pair with no links ends at once; a statement that cannot run
 * ends every pair as failed (so the caller looks the links up itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkscan.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

#define SQL "SELECT source_id, hub_id, gone, hash FROM sync_links WHERE source = ? AND entity = ? ORDER BY source_id"

static sqlite3 *hub(int nstudents) {
  sqlite3 *db;
  sqlite3_open(":memory:", &db);
  sqlite3_exec(db,
               "CREATE TABLE sync_links (source TEXT, entity TEXT, source_id TEXT, hub_id INTEGER, gone INTEGER, hash,"
               " PRIMARY KEY (source, entity, source_id)) WITHOUT ROWID;"
               "INSERT INTO sync_links VALUES ('sis', 'class', 'c1', 7, 1, 'not an integer');",
               NULL, NULL, NULL);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "INSERT INTO sync_links VALUES ('sis', 'student', printf('s%07d', ?1), ?1 + 1, 0, ?1 * 3)", -1, &st, NULL);
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (int i = 0; i < nstudents; i++) {
    sqlite3_bind_int(st, 1, i);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  sqlite3_finalize(st);
  return db;
}

static void test_pairs(void) {
  const int n = 5000; /* several batches */
  sqlite3 *db = hub(n);
  static const ls_pair pairs[] = {{"sis", "student"}, {"sis", "teacher"}, {"sis", "class"}};
  linkscan *ls = ls_start(db, SQL, pairs, 3);
  check(ls != NULL, "start", "");
  int in_order = 1, end = 0, got = 0;
  while (!end) {
    const ls_row *rows;
    int k = ls_next(ls, &rows, &end);
    for (int i = 0; i < k; i++, got++) {
      char want[16];
      snprintf(want, sizeof want, "s%07d", got);
      in_order = in_order && rows[i].sid && !strcmp(rows[i].sid, want) && rows[i].hub == got + 1 && !rows[i].gone &&
                 rows[i].head == (uint64_t)got * 3;
    }
  }
  check(end == 1 && got == n && in_order, "a pair's rows, in order, every one once, across batches", "");
  const ls_row *rows;
  int k = ls_next(ls, &rows, &end);
  check(k == 0 && end == 1, "a pair with no links ends at once, read whole", "");
  k = ls_next(ls, &rows, &end);
  check(k == 1 && end == 1 && !strcmp(rows[0].sid, "c1") && rows[0].hub == 7 && rows[0].gone == 1 && rows[0].head == 0,
        "a row's gone flag, and a hash that is not an integer read as none", "");
  ls_stop(ls);
  /* stopped before the end: the thread leaves its pair where it is */
  ls = ls_start(db, SQL, pairs, 3);
  ls_next(ls, &rows, &end);
  ls_stop(ls);
  check(sqlite3_exec(db, "SELECT count(*) FROM sync_links", NULL, NULL, NULL) == SQLITE_OK,
        "stopped early, the connection is the caller's again", sqlite3_errmsg(db));
  check(sqlite3_close(db) == SQLITE_OK, "with no statement left open", sqlite3_errmsg(db));
}

static void test_bad_statement(void) {
  sqlite3 *db = hub(3);
  static const ls_pair pairs[] = {{"sis", "student"}, {"sis", "class"}};
  linkscan *ls = ls_start(db, "SELECT no_such_column FROM sync_links WHERE source = ? AND entity = ?", pairs, 2);
  const ls_row *rows;
  int end, a = ls_next(ls, &rows, &end), first = end, b = ls_next(ls, &rows, &end);
  check(a == 0 && first == -1 && b == 0 && end == -1, "a statement that cannot run fails every pair", "");
  ls_stop(ls);
  check(sqlite3_close(db) == SQLITE_OK, "and leaves no statement open", sqlite3_errmsg(db));
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  test_pairs();
  test_bad_statement();
  printf("linkscan: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
