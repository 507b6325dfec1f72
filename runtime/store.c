/* store.c: opening, creating and migrating the hub (see store.h). */
#include "store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncvfs.h"
#include "history.h"
#include "jtext.h"
#include "schema.h"
#include "sha256.h"

/* The links' index by object (feed, hub id), which a first apply keeps
 * while it writes (store_defer_indexes). */
#define LINKS_BY_OBJECT "sync_link_rows_hub"

int store_exec(store *s, const char *sql, char *err, size_t errsize) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errsize, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return 0;
  }
  return 1;
}

int64_t store_feed(store *s, const char *source, size_t n, const char *entity, int add) {
  sqlite3_stmt *ins = NULL, *find = NULL;
  int64_t id = -1;
  if ((!add || sqlite3_prepare_v2(s->db, "INSERT INTO sync_feeds (source, entity) VALUES (?1, ?2) ON CONFLICT DO NOTHING", -1, &ins,
                                  NULL) == SQLITE_OK) &&
      sqlite3_prepare_v2(s->db, "SELECT feed FROM sync_feeds WHERE source = ?1 AND entity = ?2", -1, &find, NULL) == SQLITE_OK) {
    for (int k = 0; k < 2; k++) {
      sqlite3_stmt *st = k ? find : ins;
      if (!st) continue;
      sqlite3_bind_text(st, 1, source, (int)n, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, entity, -1, SQLITE_STATIC);
    }
    int rc = ins ? sqlite3_step(ins) : SQLITE_DONE;
    if (rc == SQLITE_DONE) rc = sqlite3_step(find);
    if (rc == SQLITE_ROW) id = sqlite3_column_int64(find, 0);
    else if (rc == SQLITE_DONE) id = 0;
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(find);
  return id;
}

const char *store_column_type(int type) {
  return type == TY_INT || type == TY_BOOL ? "INTEGER" : type == TY_DECIMAL ? "REAL" : "TEXT";
}

/* Version 1: the whole schema.  Later versions add steps here, each run once
 * inside the migration transaction. */
static int migrate_to_1(store *s, char *err, size_t errsize) {
  char sql[8192];
  for (int e = 0; e < ENT__COUNT; e++) {
    const schema_entity *en = schema_entity_get(e);
    size_t n = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE hub_%s (hub_id INTEGER PRIMARY KEY", en->name);
    for (int i = 0; i < en->nattrs; i++)
      n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\" %s", en->attrs[i].name, store_column_type(en->attrs[i].type));
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          ", extra TEXT, provenance TEXT, created_run INTEGER, updated_run INTEGER);"
                          "CREATE INDEX hub_%s_sis ON hub_%s(sis_id);",
                          en->name, en->name);
    if (!store_exec(s, sql, err, errsize)) return 0;
  }
  return store_exec(s,
                    "CREATE TABLE sync_links (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                    " hub_id INTEGER NOT NULL, domain TEXT, gone INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (source, entity, source_id));"
                    "CREATE INDEX sync_links_hub ON sync_links(entity, hub_id);"
                    "CREATE TABLE sync_snapshot (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                    " hash TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (source, entity, source_id));"
                    "CREATE TABLE sync_runs (run_id INTEGER PRIMARY KEY, created TEXT NOT NULL, finished TEXT,"
                    " status TEXT NOT NULL, plan_sha TEXT, spec_sha TEXT, hub_version INTEGER NOT NULL,"
                    " counts TEXT, changes TEXT, report TEXT, held_by TEXT, approved_by TEXT);"
                    "CREATE TABLE sync_cases (case_id INTEGER PRIMARY KEY, run_id INTEGER, entity TEXT NOT NULL,"
                    " source TEXT NOT NULL, source_id TEXT NOT NULL, record TEXT, candidate INTEGER, candidate_source TEXT,"
                    " candidate_sid TEXT, domain TEXT,"
                    " status TEXT NOT NULL DEFAULT 'open', decided TEXT,"
                    " UNIQUE (source, entity, source_id));"
                    "CREATE TABLE sync_decisions (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                    " decision TEXT NOT NULL, hub_id INTEGER, PRIMARY KEY (source, entity, source_id));",
                    err, errsize);
}

/* Version 2: enrollments by user.  Ending a withdrawn person's enrollments
 * looked them up through a hash of every enrollment's user made in memory
 * (170 MB at a million students); the index answers it from the file, and
 * is what a reader of the hub asking for a person's classes needs too. */
static int migrate_to_2(store *s, char *err, size_t errsize) {
  return store_exec(s, "CREATE INDEX IF NOT EXISTS hub_enrollment_user ON hub_enrollment(\"user\")", err, errsize);
}

/* Version 3: the content hash moves onto the link, and sync_snapshot (the
 * hash and the text of each record) goes.  A record linked by its id then
 * costs one lookup, not two, and a first sync writes one row per record
 * instead of two into indexed tables; nothing read the record text (its
 * bytes were a fifth of the hub).  The links are keyed by their primary key
 * itself (WITHOUT ROWID): a lookup descends one B-tree instead of the key's
 * index and then the table, and the deletions' scan in key order reads the
 * rows themselves.  A snapshot without a link (none is made so) is dropped:
 * its record is taken as new next run. */
static int migrate_to_3(store *s, char *err, size_t errsize) {
  return store_exec(s,
                    "CREATE TABLE sync_links_3 (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                    " hub_id INTEGER NOT NULL, domain TEXT, gone INTEGER NOT NULL DEFAULT 0, hash TEXT,"
                    " PRIMARY KEY (source, entity, source_id)) WITHOUT ROWID;"
                    "INSERT INTO sync_links_3 SELECT l.source, l.entity, l.source_id, l.hub_id, l.domain, l.gone, n.hash"
                    " FROM sync_links l LEFT JOIN sync_snapshot n USING (source, entity, source_id);"
                    "DROP TABLE sync_links;"
                    "DROP TABLE sync_snapshot;"
                    "ALTER TABLE sync_links_3 RENAME TO sync_links;"
                    "CREATE INDEX sync_links_hub ON sync_links(entity, hub_id);",
                    err, errsize);
}

/* Version 4: each run's operations move from sync_runs.changes into
 * sync_run_ops, deflated, in pieces (history.c): a first sync's copy was
 * half the hub, and a run of over 1 GB of them could not be kept at all. */
static int migrate_to_4(store *s, char *err, size_t errsize) {
  char why[300];
  if (hist_migrate(s->db, why, sizeof why)) return 1;
  snprintf(err, errsize, "%s: %s", s->path, why);
  return 0;
}

/* Version 5: a link keeps the head of its record's content hash (its first
 * 64 bits, an integer), not the 64 hex digits: the merge compared only
 * those bits already, and the digits were half of each link, in the
 * largest table of the hub.  Anything but a hash becomes NULL (none). */
static void hash_head_sql(sqlite3_context *cx, int argc, sqlite3_value **argv) {
  (void)argc;
  uint64_t h = 0;
  if (sqlite3_value_type(argv[0]) == SQLITE_TEXT)
    h = sha256_hex_head((const char *)sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]));
  if (h) sqlite3_result_int64(cx, (int64_t)h);
  else sqlite3_result_null(cx);
}

static int migrate_to_5(store *s, char *err, size_t errsize) {
  if (sqlite3_create_function(s->db, "syncvm_hash_head", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, hash_head_sql, NULL, NULL) !=
      SQLITE_OK) {
    snprintf(err, errsize, "%s: %s", s->path, sqlite3_errmsg(s->db));
    return 0;
  }
  int ok = store_exec(s,
                      "CREATE TABLE sync_links_5 (source TEXT NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL,"
                      " hub_id INTEGER NOT NULL, domain TEXT, gone INTEGER NOT NULL DEFAULT 0, hash INTEGER,"
                      " PRIMARY KEY (source, entity, source_id)) WITHOUT ROWID;"
                      "INSERT INTO sync_links_5 SELECT source, entity, source_id, hub_id, domain, gone, syncvm_hash_head(hash)"
                      " FROM sync_links ORDER BY source, entity, source_id;"
                      "DROP TABLE sync_links;"
                      "ALTER TABLE sync_links_5 RENAME TO sync_links;"
                      "CREATE INDEX sync_links_hub ON sync_links(entity, hub_id);",
                      err, errsize);
  sqlite3_create_function(s->db, "syncvm_hash_head", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, NULL, NULL, NULL);
  return ok;
}

/* Version 6: a link names its source and entity by a number, a feed of
 * sync_feeds, and sync_link_rows is a plain table whose key is an index.
 * A first sync inserted a million links at 100,000 students, each a descent
 * of a B-tree keyed by three texts (1.2 s, 3.4 s when the source ids come in
 * no order, as a real SIS's may), and the texts of source and entity were in
 * every row and every index entry.  Rows are now appended, and the key is
 * an index a first sync makes once the table is full (store_defer_indexes),
 * sorting its keys once.  sync_links becomes a view of the same columns as
 * before, for whoever reads the hub; its join goes from the feeds (a few
 * rows) to the links (CROSS JOIN: SQLite's own choice, without statistics,
 * was to read every link to find an object's). */
static int migrate_to_6(store *s, char *err, size_t errsize) {
  return store_exec(s,
                    "CREATE TABLE sync_feeds (feed INTEGER PRIMARY KEY, source TEXT NOT NULL, entity TEXT NOT NULL,"
                    " UNIQUE (source, entity));"
                    "INSERT INTO sync_feeds (source, entity) SELECT DISTINCT source, entity FROM sync_links ORDER BY 1, 2;"
                    "CREATE TABLE sync_link_rows (feed INTEGER NOT NULL, source_id TEXT NOT NULL, hub_id INTEGER NOT NULL,"
                    " domain TEXT, gone INTEGER NOT NULL DEFAULT 0, hash INTEGER);"
                    "INSERT INTO sync_link_rows SELECT f.feed, l.source_id, l.hub_id, l.domain, l.gone, l.hash"
                    " FROM sync_links l JOIN sync_feeds f USING (source, entity) ORDER BY f.feed, l.source_id;"
                    "DROP TABLE sync_links;"
                    "CREATE UNIQUE INDEX sync_link_rows_key ON sync_link_rows(feed, source_id);"
                    "CREATE INDEX " LINKS_BY_OBJECT " ON sync_link_rows(feed, hub_id);"
                    "CREATE VIEW sync_links AS SELECT f.source, f.entity, l.source_id, l.hub_id, l.domain, l.gone, l.hash"
                    " FROM sync_feeds f CROSS JOIN sync_link_rows l ON l.feed = f.feed;",
                    err, errsize);
}

/* Version 7: a run's operations are kept zstd-compressed in its pieces
 * of sync_run_ops (runtime/history.c), those of earlier runs as they were,
 * deflated; the first bytes of a run's first piece tell a reader which.
 * Nothing is rewritten: the version is there so that an older syncvm,
 * which reads only zlib's, refuses the hub rather than call its new runs'
 * operations damaged. */
static int migrate_to_7(store *s, char *err, size_t errsize) {
  (void)s, (void)err, (void)errsize;
  return 1;
}

/* Step i takes a hub from schema version i to i + 1, all of them in one
 * transaction when a hub is opened. */
typedef int (*migration)(store *s, char *err, size_t errsize);
static const migration MIGRATIONS[] = {migrate_to_1, migrate_to_2, migrate_to_3, migrate_to_4, migrate_to_5, migrate_to_6, migrate_to_7};
_Static_assert(sizeof MIGRATIONS / sizeof *MIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

static int meta_int(store *s, const char *key, int64_t *out) {
  sqlite3_stmt *st;
  *out = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM sync_meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK) return 0;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int found = sqlite3_step(st) == SQLITE_ROW;
  if (found) *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return found;
}

int64_t store_hub_version(store *s) {
  int64_t v;
  meta_int(s, "hub_version", &v);
  return v;
}

int store_open(store *s, const char *path, char *err, size_t errsize) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  /* One connection per store, used by one thread at a time (the history's
   * thread never touches SQLite): the mutexes SQLite takes around every
   * call, and around every allocation to count memory, were a tenth of the
   * time a first sync spent writing the hub.  Configuring fails, harmlessly,
   * once SQLite is initialized: the first store sets it for the process.
   * Its writes to the hub and to temporary files go through asyncvfs.h
   * (the default VFS when that cannot be registered). */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, asyncvfs_name()) !=
      SQLITE_OK) {
    snprintf(err, errsize, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
    store_close(s);
    return 0;
  }
  /* SYNC_BUSY_MS shortens the wait, for tests of the one-writer rule. */
  const char *busy = getenv("SYNC_BUSY_MS");
  s->busy_ms = busy && atoi(busy) > 0 ? atoi(busy) : STORE_BUSY_MS;
  sqlite3_busy_timeout(s->db, s->busy_ms);
  /* A new hub's pages are 16 KB, not SQLite's 4 KB: a first sync writes
   * gigabytes of rows and indexes, and with pages four times the size it
   * makes a quarter of the writes and of the B-tree pages to split and
   * link (a million students' apply 22.2 -> 19.4 s, the system time spent
   * writing 7.8 -> 4.4 s).  A hub that exists keeps its pages (this only
   * names the size a file made from nothing will have). */
  if (!store_exec(s, "PRAGMA page_size=" STORE_PAGE_SIZE "; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                  err, errsize)) {
    store_close(s);
    return 0;
  }
  /* A hub already at this version needs no write lock to be opened. */
  int64_t current = 0;
  if (meta_int(s, "schema_version", &current) && current == STORE_SCHEMA_VERSION) return 1;
  if (!store_exec(s, "BEGIN IMMEDIATE", err, errsize)) {
    if (sqlite3_errcode(s->db) == SQLITE_BUSY)
      snprintf(err, errsize, "%s is being written by another syncvm (waited %.1f s); try again when it has finished", path,
               s->busy_ms / 1000.0);
    store_close(s);
    return 0;
  }
  if (!store_exec(s, "CREATE TABLE IF NOT EXISTS sync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", err, errsize)) {
    store_close(s);
    return 0;
  }
  int64_t version;
  meta_int(s, "schema_version", &version);
  int ok = 1;
  if (version > STORE_SCHEMA_VERSION) {
    snprintf(err, errsize, "%s: the hub has schema version %lld, newer than this syncvm's %d: upgrade syncvm", path,
             (long long)version, STORE_SCHEMA_VERSION);
    ok = 0;
  }
  if (ok && version < 0) {
    snprintf(err, errsize, "%s: the hub has schema version %lld, which no syncvm writes", path, (long long)version);
    ok = 0;
  }
  for (int64_t v = version; ok && v < STORE_SCHEMA_VERSION; v++) {
    char sql[100];
    if (v == 0) snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO sync_meta VALUES ('schema_version', '1'), ('hub_version', '0')");
    else snprintf(sql, sizeof sql, "UPDATE sync_meta SET value = '%lld' WHERE key = 'schema_version'", (long long)v + 1);
    ok = MIGRATIONS[v](s, err, errsize) && store_exec(s, sql, err, errsize);
  }
  if (ok) ok = store_exec(s, "COMMIT", err, errsize);
  if (!ok) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    store_close(s);
  }
  return ok;
}

/* The journal mode SQLite reports after `sql`. */
static int journal_is(store *s, const char *sql, const char *mode) {
  sqlite3_stmt *st;
  int is = 0;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) is = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), mode) == 0;
  sqlite3_finalize(st);
  return is;
}

int store_bulk_begin(store *s) {
  if (store_hub_version(s) != 0) return 0;
  sqlite3_busy_timeout(s->db, 0); /* a reader is connected: stay in WAL rather than wait */
  int bulk = journal_is(s, "PRAGMA journal_mode=DELETE", "delete");
  sqlite3_busy_timeout(s->db, s->busy_ms);
  return bulk;
}

void store_bulk_end(store *s) { journal_is(s, "PRAGMA journal_mode=WAL", "wal"); }

/* 1 when `table` has no row. */
static int table_empty(store *s, const char *table) {
  char *sql = sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 1", table);
  sqlite3_stmt *st;
  int prepared = sql && sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK;
  sqlite3_free(sql);
  if (!prepared) return 0;
  int empty = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return empty;
}

int store_defer_indexes(store *s, store_deferred *d, char *err, size_t errsize) {
  memset(d, 0, sizeof *d);
  err[0] = '\0';
  sqlite3_stmt *st;
  /* sql IS NULL: an index SQLite made for a UNIQUE or PRIMARY KEY, which
   * cannot be dropped.  The links' index by object stays: into empty
   * links, an apply writes them in the order of that index's keys (each
   * create's hub id is one more than the last, and its links come in it),
   * so each key goes at the end of the index, where SQLite inserts without
   * descending from its root; made at the end, it was a sort of ten
   * million keys at a million students (a first apply 0.2-1.2 s faster,
   * five alternations).  Links in another order still get their entries,
   * only at more cost. */
  if (sqlite3_prepare_v2(s->db,
                         "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                         " AND (substr(tbl_name, 1, 4) = 'hub_' OR tbl_name = 'sync_link_rows')"
                         " AND name <> '" LINKS_BY_OBJECT "' ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errsize, "%s: %s", s->path, sqlite3_errmsg(s->db));
    return 0;
  }
  int ok = 1;
  while (ok && sqlite3_step(st) == SQLITE_ROW) {
    if (!table_empty(s, (const char *)sqlite3_column_text(st, 0))) continue;
    struct store_index *ix = realloc(d->ix, (size_t)(d->n + 1) * sizeof *ix);
    ok = ix != NULL;
    if (!ok) break;
    d->ix = ix;
    ix[d->n].table = strdup((const char *)sqlite3_column_text(st, 0));
    ix[d->n].name = strdup((const char *)sqlite3_column_text(st, 1));
    ix[d->n].sql = strdup((const char *)sqlite3_column_text(st, 2));
    ok = ix[d->n].table && ix[d->n].name && ix[d->n].sql;
    d->n++;
  }
  sqlite3_finalize(st);
  if (!ok) snprintf(err, errsize, "out of memory");
  for (int i = 0; ok && i < d->n; i++) {
    char *sql = sqlite3_mprintf("DROP INDEX \"%w\"", d->ix[i].name);
    ok = sql && store_exec(s, sql, err, errsize);
    sqlite3_free(sql);
  }
  if (!ok) store_deferred_free(d);
  return ok;
}

/* While the links' key was away, a link whose key was already there was
 * appended rather than replacing it (INSERT OR REPLACE finds a conflict
 * only through the index): the last of each key is kept, as replacing
 * would have.  Only a run that links one record twice does that, and only
 * then is the table read twice. */
static int remake_index(store *s, const struct store_index *ix, char *err, size_t errsize) {
  if (store_exec(s, ix->sql, err, errsize)) return 1;
  if (sqlite3_errcode(s->db) != SQLITE_CONSTRAINT || strcmp(ix->name, "sync_link_rows_key") != 0) return 0;
  return store_exec(s,
                    "DELETE FROM sync_link_rows WHERE rowid NOT IN (SELECT max(rowid) FROM sync_link_rows GROUP BY feed, source_id)",
                    err, errsize) &&
         store_exec(s, ix->sql, err, errsize);
}

/* SQLite sorts an index's keys in memory up to its page cache's size and
 * beyond it writes sorted runs to temporary files, merged at the end.  With
 * a helper thread (SQLITE_LIMIT_WORKER_THREADS, PRAGMA threads) each run is
 * sorted and written while the main thread reads on: at a million students
 * the indexes of the enrollments (7.3 million rows) and the links (10
 * million) were made 20-40% faster, 25.4 -> 23.4 s of the apply.  Tables of
 * 1.5 million rows or fewer were made slower by it, and a 100k-student
 * apply 0.2 s slower: the thread's start and the runs' merge cost more than
 * the few runs they sort.  So only a larger table gets the helper. */
#define SORT_HELPER_ROWS 4000000

/* The table's largest rowid: its rows at most, read from the end of its B-tree. */
static int64_t rows_at_most(store *s, const char *table) {
  char *sql = sqlite3_mprintf("SELECT max(rowid) FROM \"%w\"", table);
  sqlite3_stmt *st;
  int64_t n = 0;
  if (sql && sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_free(sql);
  return n;
}

int store_remake_indexes(store *s, store_deferred *d, char *err, size_t errsize) {
  int ok = 1, threads = sqlite3_limit(s->db, SQLITE_LIMIT_WORKER_THREADS, -1);
  for (int i = 0; ok && i < d->n; i++) {
    sqlite3_limit(s->db, SQLITE_LIMIT_WORKER_THREADS, rows_at_most(s, d->ix[i].table) > SORT_HELPER_ROWS ? 1 : threads);
    ok = remake_index(s, &d->ix[i], err, errsize);
  }
  sqlite3_limit(s->db, SQLITE_LIMIT_WORKER_THREADS, threads);
  store_deferred_free(d);
  return ok;
}

void store_deferred_free(store_deferred *d) {
  for (int i = 0; i < d->n; i++) free(d->ix[i].table), free(d->ix[i].name), free(d->ix[i].sql);
  free(d->ix);
  memset(d, 0, sizeof *d);
}

void store_close(store *s) {
  if (s->db) sqlite3_close(s->db);
  s->db = NULL;
}

void store_bind(sqlite3_stmt *st, int i, value v, arena *a) {
  switch (v.kind) {
    case V_NULL: sqlite3_bind_null(st, i); break;
    case V_BOOL: case V_INT: sqlite3_bind_int64(st, i, v.u.i); break;
    case V_DEC: sqlite3_bind_double(st, i, v.u.d); break;
    case V_STR: sqlite3_bind_text(st, i, v.u.s, (int)v.len, SQLITE_TRANSIENT); break;
    case V_LIST: {
      json_t *arr = json_array();
      for (uint32_t k = 0; k < v.len; k++) {
        value s = v_to_string(a, v.u.items[k]);
        json_array_append_new(arr, json_stringn(s.u.s, s.len));
      }
      char *text = json_dumps(arr, JSON_COMPACT);
      sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
      free(text);
      json_decref(arr);
      break;
    }
    default: {
      value s = v_to_string(a, v);
      sqlite3_bind_text(st, i, s.u.s, (int)s.len, SQLITE_TRANSIENT);
    }
  }
}

/* A list column as store_bind writes it, ["a","b"] (compact, strings
 * without escapes), read without jansson; 0 for any other text (jansson
 * reads it, and decides what is valid JSON). */
static int simple_list(const char *text, size_t n, arena *a, value *out) {
  if (n < 2 || text[0] != '[' || text[n - 1] != ']') return 0;
  size_t count = 0;
  for (size_t k = 1; k + 1 < n; k++) count += text[k] == '"';
  if (count % 2) return 0;
  value *items = arena_alloc(a, (count / 2 + 1) * sizeof *items);
  size_t len = 0, k = 1;
  while (k + 1 < n) {
    if (text[k] != '"') return 0;
    size_t start = ++k;
    while (k + 1 < n && text[k] != '"') {
      if ((unsigned char)text[k] < 0x20 || text[k] == '\\') return 0;
      k++;
    }
    if (k + 1 >= n || !jt_utf8_ok(text + start, k - start)) return 0;
    items[len++] = v_str(arena_strndup(a, text + start, k - start), k - start);
    k++;
    if (text[k] == ',' && k + 2 < n) k++;
    else if (k + 1 != n) return 0;
  }
  *out = v_list(items, len);
  return 1;
}

value store_column(sqlite3_stmt *st, int i, int type, arena *a) {
  int t = sqlite3_column_type(st, i);
  if (t == SQLITE_NULL) return v_null();
  if (type == TY_INT) return v_int(sqlite3_column_int64(st, i));
  if (type == TY_BOOL) return v_bool(sqlite3_column_int64(st, i) != 0);
  if (type == TY_DECIMAL) return v_dec(sqlite3_column_double(st, i));
  const char *text = (const char *)sqlite3_column_text(st, i);
  size_t n = (size_t)sqlite3_column_bytes(st, i);
  if (type == TY_DATE && n == 10)
    return v_date((int64_t)atoi(text) * 10000 + atoi(text + 5) * 100 + atoi(text + 8));
  if (type == TY_LIST) {
    value v;
    if (simple_list(text, n, a, &v)) return v;
    json_error_t je;
    json_t *arr = json_loadb(text, n, 0, &je);
    if (json_is_array(arr)) {
      size_t len = json_array_size(arr);
      value *items = arena_alloc(a, (len + 1) * sizeof *items);
      for (size_t k = 0; k < len; k++) {
        const char *s = json_string_value(json_array_get(arr, k));
        items[k] = s ? v_str(arena_strndup(a, s, strlen(s)), strlen(s)) : v_null();
      }
      json_decref(arr);
      return v_list(items, len);
    }
    json_decref(arr);
  }
  return v_str(arena_strndup(a, text, n), n);
}
