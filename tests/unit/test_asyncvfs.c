/* test_asyncvfs.c: a database written through the VFS whose writes wait
 * for a second thread (asyncvfs.h) holds exactly what plain SQLite would:
 * a transaction of many pages, spilled from a small cache while it runs
 * and read back before commit; an index made through the sorter's
 * temporary files; a rollback of spilled pages; a WAL database.  Each is
 * checked by reopening the file with SQLite's default VFS (integrity and
 * contents), and the writes are checked to have waited at all.  A write
 * that fails (past RLIMIT_FSIZE, as on a full disk) fails the transaction,
 * whether it is told by a later write or only by the sync at commit, and
 * the file reopened is what it was before it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "asyncvfs.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

static char dir[] = "/tmp/test_asyncvfs-XXXXXX";
static char path[256];

static void remove_db(void) {
  const char *suffix[] = {"", "-journal", "-wal", "-shm"};
  for (int i = 0; i < 4; i++) {
    char p[300];
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
}

static sqlite3 *open_db(const char *vfs) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) {
    check(0, "open", db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }

/* The one integer (or text, in *text) a query gives. */
static long long one(sqlite3 *db, const char *sql, char *text, size_t size) {
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    v = sqlite3_column_int64(st, 0);
    if (text) snprintf(text, size, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
  }
  sqlite3_finalize(st);
  return v;
}

/* Inserts rows [from, to) of t: b is a hundred bytes that depend on a. */
static int fill(sqlite3 *db, int from, int to) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "INSERT INTO t (a, b) VALUES (?, printf('%0100d', ?1 * 7919 % 1000003))", -1, &st, NULL) != SQLITE_OK)
    return SQLITE_ERROR;
  int rc = SQLITE_DONE;
  for (int a = from; a < to && rc == SQLITE_DONE; a++) {
    sqlite3_bind_int(st, 1, a);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* What plain SQLite finds in the file: integrity, rows, and a checksum. */
static void check_file(const char *what, long long rows) {
  sqlite3 *db = open_db(NULL);
  if (!db) return;
  char ok[64] = "", detail[200];
  one(db, "PRAGMA integrity_check", ok, sizeof ok);
  long long n = one(db, "SELECT count(*) FROM t", NULL, 0);
  long long bad = one(db, "SELECT count(*) FROM t WHERE b <> printf('%0100d', a * 7919 % 1000003)", NULL, 0);
  snprintf(detail, sizeof detail, "integrity %s, %lld rows (want %lld), %lld wrong", ok, n, rows, bad);
  check(!strcmp(ok, "ok") && n == rows && bad == 0, what, detail);
  sqlite3_close(db);
}

#define ROWS 60000 /* about 8 MB: many times the 256 KB cache below */

static void test_bulk(const char *vfs) {
  remove_db();
  sqlite3 *db = open_db(vfs);
  if (!db) return;
  exec(db, "PRAGMA journal_mode=DELETE; PRAGMA cache_size=-256; CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)");
  fill(db, 0, 10);
  long long before = asyncvfs_writes_waited();
  int rc = exec(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) rc = fill(db, 10, ROWS);
  char b[128] = "";
  one(db, "SELECT b FROM t WHERE a = 11", b, sizeof b); /* its page was spilled long ago */
  char want[128];
  snprintf(want, sizeof want, "%0100d", 11 * 7919 % 1000003);
  check(!strcmp(b, want), "a spilled row read back before commit", b);
  if (rc == SQLITE_OK) rc = exec(db, "CREATE INDEX t_b ON t(b)"); /* the sorter's temporary files */
  if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
  check(rc == SQLITE_OK, "the transaction commits", sqlite3_errmsg(db));
  check(asyncvfs_writes_waited() - before > 1000, "writes waited for the thread", "");
  /* rolled back: pages spilled into the file go back to what they were */
  rc = exec(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) rc = fill(db, ROWS, 2 * ROWS);
  if (rc == SQLITE_OK) rc = exec(db, "UPDATE t SET b = 'x' WHERE a < 5000");
  check(rc == SQLITE_OK && exec(db, "ROLLBACK") == SQLITE_OK, "a rollback", sqlite3_errmsg(db));
  sqlite3_close(db);
  char journal[300];
  snprintf(journal, sizeof journal, "%s-journal", path);
  check(access(journal, F_OK) != 0, "no journal left", "");
  check_file("the file after commit and rollback", ROWS);
}

static void test_wal(void) {
  remove_db();
  sqlite3 *db = open_db(asyncvfs_name());
  if (!db) return;
  int rc = exec(db, "PRAGMA journal_mode=WAL; PRAGMA cache_size=-256; CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)");
  for (int k = 0; k < 4 && rc == SQLITE_OK; k++) {
    rc = exec(db, "BEGIN");
    if (rc == SQLITE_OK) rc = fill(db, k * ROWS / 4, (k + 1) * ROWS / 4);
    if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
  }
  if (rc == SQLITE_OK) rc = exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  check(rc == SQLITE_OK, "WAL transactions and a checkpoint", sqlite3_errmsg(db));
  sqlite3_close(db);
  check_file("a WAL database", ROWS);
}

/* One transaction of rows [1000, to), in the child below; its result. */
static int transaction(sqlite3 *db, int to) {
  int rc = exec(db, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) rc = fill(db, 1000, to);
  if (rc == SQLITE_OK) rc = exec(db, "COMMIT");
  if (rc != SQLITE_OK) exec(db, "ROLLBACK");
  return rc;
}

/* In a child: files may not grow past 1 MB.  A transaction whose pages
 * all stay in the cache until commit (so the write that fails is among
 * the last, and only the sync at commit can tell it), and one that spills
 * from a small cache while it runs, must both fail.  Exit 0 when they do. */
static int full_child(void) {
  signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
  struct rlimit rl = {1u << 20, 1u << 20};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
  sqlite3 *db = open_db(asyncvfs_name());
  if (!db) return 4;
  exec(db, "PRAGMA journal_mode=DELETE; PRAGMA cache_size=-16384");
  int at_commit = transaction(db, 16000); /* about 2 MB */
  exec(db, "PRAGMA cache_size=-256");
  int spilled = transaction(db, ROWS);
  sqlite3_close(db);
  return at_commit != SQLITE_OK && spilled != SQLITE_OK ? 0 : 5;
}

static void test_full(void) {
  remove_db();
  sqlite3 *db = open_db(NULL);
  if (!db) return;
  exec(db, "PRAGMA journal_mode=DELETE; CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)");
  fill(db, 0, 1000);
  sqlite3_close(db);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(full_child());
  int status = 0;
  check(pid > 0 && waitpid(pid, &status, 0) == pid, "the child", "");
  char detail[64];
  snprintf(detail, sizeof detail, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a failed write fails the transaction", detail);
  check_file("the file after a failed transaction", 1000);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/t.db", dir);
  check(asyncvfs_name() != NULL, "the VFS is registered", "");
  test_bulk(asyncvfs_name());
  test_wal();
  test_full();
  remove_db();
  rmdir(dir);
  printf("asyncvfs: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
