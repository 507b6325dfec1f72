/* test_store.c: the hub's links (store.h).  A new hub keeps them in
 * sync_link_rows, by feed, under a unique key, and shows them by name in
 * the view sync_links; a first sync's indexes put off on empty tables come
 * back as they were; links appended twice while the key was away keep the
 * last of each key, as INSERT OR REPLACE would have; a version-5 hub (links
 * keyed by three texts) migrates with every link; no statement that finds
 * links reads them all; a feed is found, or added once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

static int64_t one_int(store *s, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return -2;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void fresh(char *path, size_t size) {
  snprintf(path, size, "/tmp/test_store_%d.db", (int)getpid());
  unlink(path);
}

/* A new hub at a fresh path (in path[64]). */
static void open_fresh(store *s, char *path) {
  char err[512];
  fresh(path, 64);
  check(store_open(s, path, err, sizeof err), "a new hub opens", err);
}

static void test_feeds(void) {
  char path[64];
  store s;
  open_fresh(&s, path);
  check(store_feed(&s, "sis", 3, "student", 0) == 0, "no feed yet, none added", "not 0");
  int64_t a = store_feed(&s, "sis", 3, "student", 1), b = store_feed(&s, "sisx", 3, "student", 1);
  check(a > 0 && b == a, "a feed added once, found by its source's n bytes", "two feeds");
  check(store_feed(&s, "sis", 3, "teacher", 1) > a && store_feed(&s, "sis", 3, "student", 0) == a, "one feed per entity", "");
  check(one_int(&s, "SELECT count(*) FROM sync_feeds") == 2, "two feeds in the hub", "not 2");
  char err[512];
  check(store_exec(&s, "DROP VIEW sync_links; DROP TABLE sync_feeds", err, sizeof err), "feeds dropped", err);
  check(store_feed(&s, "sis", 3, "student", 0) == -1, "a feed that cannot be read is -1, not none", "not -1");
  store_close(&s);
  unlink(path);
}

static void test_new_hub(void) {
  char path[64], err[512];
  store s;
  open_fresh(&s, path);
  check(one_int(&s, "SELECT value FROM sync_meta WHERE key = 'schema_version'") == STORE_SCHEMA_VERSION, "schema version",
        "not the current one");
  check(one_int(&s, "SELECT count(*) FROM sqlite_master WHERE name = 'sync_links' AND type = 'view'") == 1, "sync_links is a view",
        "no view");
  check(one_int(&s, "PRAGMA page_size") == atoi(STORE_PAGE_SIZE), "a new hub has the store's page size", "another");
  check(one_int(&s, "SELECT \"unique\" FROM pragma_index_list('sync_link_rows') WHERE name = 'sync_link_rows_key'") == 1,
        "the links' key is a unique index", "not unique");
  store_exec(&s,
             "INSERT INTO sync_feeds (source, entity) VALUES ('sis', 'student'), ('lms', 'student');"
             "INSERT INTO sync_link_rows (feed, source_id, hub_id) VALUES (1, 's1', 7), (2, 's1', 7), (1, 's2', 8);",
             err, sizeof err);
  check(one_int(&s, "SELECT count(*) FROM sync_links WHERE entity = 'student' AND hub_id = 7") == 2, "the view joins the feeds",
        "not 2 links of object 7");
  check(one_int(&s, "SELECT hub_id FROM sync_links WHERE source = 'sis' AND entity = 'student' AND source_id = 's2'") == 8,
        "the view finds a link by its names", "not 8");
  char msg[512] = "";
  check(!store_exec(&s, "INSERT INTO sync_link_rows (feed, source_id, hub_id) VALUES (1, 's1', 9)", msg, sizeof msg) &&
            strstr(msg, "UNIQUE"),
        "a second link of one key is refused", msg);
  store_close(&s);
  unlink(path);
}

static void test_deferred_duplicates(void) {
  char path[64], err[512];
  store s;
  open_fresh(&s, path);
  store_exec(&s, "BEGIN", err, sizeof err);
  store_deferred later;
  check(store_defer_indexes(&s, &later, err, sizeof err), "indexes put off", err);
  int key = 0, hub = 0;
  for (int i = 0; i < later.n; i++)
    key |= !strcmp(later.ix[i].name, "sync_link_rows_key"), hub |= !strcmp(later.ix[i].name, "sync_link_rows_hub");
  check(key && !hub && one_int(&s, "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'sync_link_rows' AND type = 'index'") == 1,
        "the links' key is put off on an empty hub, their index by object kept (links come in its order)", "not so");
  /* s1 twice, then s2 once and s1 a third time: the last of each key stays. */
  check(store_exec(&s,
                   "INSERT INTO sync_feeds (source, entity) VALUES ('sis', 'student');"
                   "INSERT INTO sync_link_rows (feed, source_id, hub_id) VALUES (1, 's1', 1), (1, 's1', 2), (1, 's2', 3), (1, 's1', 4);",
                   err, sizeof err),
        "links appended while the key is away", err);
  check(store_remake_indexes(&s, &later, err, sizeof err), "the indexes are made again", err);
  check(one_int(&s, "SELECT count(*) FROM sync_link_rows") == 2, "one link per key", "duplicates left");
  check(one_int(&s, "SELECT hub_id FROM sync_link_rows WHERE feed = 1 AND source_id = 's1'") == 4, "the last link of a key wins",
        "not the last");
  check(one_int(&s, "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'sync_link_rows' AND type = 'index'") == 2,
        "both indexes are back", "missing");
  check(store_exec(&s, "COMMIT", err, sizeof err), "commit", err);
  check(one_int(&s, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") == 0, "integrity", "not ok");
  store_close(&s);
  unlink(path);
}

/* A hub as version 5 left it: links keyed by source, entity and id. */
static void test_migrate_5(void) {
  char path[64], err[512];
  fresh(path, sizeof path);
  sqlite3 *db;
  sqlite3_open(path, &db);
  char *msg = NULL;
  int rc = sqlite3_exec(db,
                        "CREATE TABLE sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                        "INSERT INTO sync_meta VALUES ('schema_version', '5'), ('hub_version', '3');"
                        "CREATE TABLE sync_links (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                        " hub_id INTEGER NOT NULL, domain TEXT, gone INTEGER NOT NULL DEFAULT 0, hash INTEGER,"
                        " PRIMARY KEY (source, entity, source_id)) WITHOUT ROWID;"
                        "CREATE INDEX sync_links_hub ON sync_links(entity, hub_id);"
                        "INSERT INTO sync_links VALUES ('sis', 'student', 'a', 1, 'new', 0, 11), ('sis', 'student', 'b', 2, 'id', 1, NULL),"
                        " ('ad', 'teacher', 'a', 1, 'email', 0, -5), ('sis', 'teacher', 'x', 2, NULL, 0, 7);",
                        NULL, NULL, &msg);
  check(rc == SQLITE_OK, "a version-5 hub is made", msg ? msg : "");
  sqlite3_free(msg);
  sqlite3_close(db);
  store s;
  /* Only the links' tables matter here: the rest of a version-5 hub is not
   * made, and the migration touches nothing else. */
  check(store_open(&s, path, err, sizeof err), "a version-5 hub opens", err);
  check(one_int(&s, "SELECT value FROM sync_meta WHERE key = 'schema_version'") == STORE_SCHEMA_VERSION, "it is at the current version",
        "not current");
  check(one_int(&s, "SELECT count(*) FROM sync_feeds") == 3, "a feed per source and entity", "not 3");
  check(one_int(&s, "SELECT count(*) FROM sync_links WHERE (source, entity, source_id, hub_id, coalesce(domain, '-'), gone,"
                    " coalesce(hash, 0)) IN (VALUES ('sis', 'student', 'a', 1, 'new', 0, 11), ('sis', 'student', 'b', 2, 'id', 1, 0),"
                    " ('ad', 'teacher', 'a', 1, 'email', 0, -5), ('sis', 'teacher', 'x', 2, '-', 0, 7))") == 4,
        "every link is kept as it was", "a link changed");
  check(one_int(&s, "SELECT count(*) FROM sync_link_rows") == 4, "no link more", "not 4");
  check(one_int(&s, "PRAGMA page_size") == 4096, "a hub that exists keeps its page size", "changed");
  store_close(&s);
  unlink(path);
}

/* Whether SQLite's plan for `sql` reads every link (a SCAN of the links'
 * table, by either name) rather than searching an index. */
static int scans_links(store *s, const char *sql, char *plan, size_t size) {
  char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
  sqlite3_stmt *st;
  int scans = -1;
  size_t at = 0;
  plan[0] = 0;
  if (q && sqlite3_prepare_v2(s->db, q, -1, &st, NULL) == SQLITE_OK) {
    scans = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *d = (const char *)sqlite3_column_text(st, 3);
      if (at < size) at += (size_t)snprintf(plan + at, size - at, "%s; ", d ? d : "");
      if (d && (!strncmp(d, "SCAN l", 6) || !strncmp(d, "SCAN sync_link_rows", 19))) scans = 1;
    }
    sqlite3_finalize(st);
  }
  sqlite3_free(q);
  return scans;
}

/* Every statement that finds links, syncvm's own and a reader's through
 * the view, searches an index: none reads every link, which at a million
 * students made one day-2 plan take minutes. */
static void test_plans(void) {
  char path[64], plan[2048], what[256];
  store s;
  open_fresh(&s, path);
  static const char *const sql[] = {
      STORE_LINK_BY_KEY, STORE_LIVE_LINKS_OF_FEED, STORE_SIDS_OF_OBJECT, STORE_LIVE_LINKS_OF_OBJECT,
      STORE_OBJECT_OF_SID, STORE_SET_LINK_HASH, STORE_UNLINK, STORE_DELETE_LINKS_OF_OBJECT,
      "SELECT hub_id FROM sync_links WHERE source = ? AND entity = ? AND source_id = ?",
      "SELECT source, source_id, domain, gone FROM sync_links WHERE entity = ? AND hub_id = ? ORDER BY source, source_id",
      "SELECT count(*) FROM sync_links WHERE hub_id = ?"};
  for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
    int scans = scans_links(&s, sql[i], plan, sizeof plan);
    snprintf(what, sizeof what, "statement %zu searches an index", i);
    char detail[4096];
    snprintf(detail, sizeof detail, "%s -> %s", sql[i], scans < 0 ? sqlite3_errmsg(s.db) : plan);
    check(scans == 0, what, detail);
  }
  /* The one that reads them all does so in table order, through no index. */
  check(scans_links(&s, STORE_ALL_LINKS, plan, sizeof plan) == 1 && !strstr(plan, "INDEX"), "every link, in table order", plan);
  store_close(&s);
  unlink(path);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  test_plans();
  test_feeds();
  test_new_hub();
  test_deferred_duplicates();
  test_migrate_5();
  printf("store: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
