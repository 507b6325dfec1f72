/* store.h: the hub, in SQLite.
 *
 * One table per entity (hub_student, ...), its columns generated from
 * schema.def; sync_link_rows maps (feed, source id) to hub objects, a feed
 * being a (source, entity) of sync_feeds (a link whose record the source
 * stopped sending is kept as `gone`, so the record, when it comes back,
 * finds its object again and reactivates it) and keeps the content hash of
 * what the source sent last; the view sync_links shows them with the
 * source's and entity's names;
 * sync_runs is the history (and holds parked runs); sync_cases and
 * sync_decisions are the duplicate queue and its remembered answers;
 * sync_meta holds the schema version and the hub version, which every apply
 * increments.  WAL mode; a second writer waits STORE_BUSY_MS and then fails.
 */
#ifndef SYNC_STORE_H
#define SYNC_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "value.h"

#define STORE_SCHEMA_VERSION 7
/* The page size of a hub made new (store_open), as SQL text. */
#define STORE_PAGE_SIZE "16384"
#define STORE_BUSY_MS 10000

typedef struct {
  sqlite3 *db;
  char path[1024];
  int busy_ms; /* how long a writer waits for another */
} store;

/* The statements that read and change links, each in one place, so that
 * tests/unit/test_store.c can check that SQLite finds every link they want
 * through an index.  A link is found by feed and source id (its key), a
 * feed by source and entity (?1, ?2); an object's links by entity and hub
 * id (?1, ?2), from the entity's few feeds (CROSS JOIN keeps that order:
 * SQLite's own plan, without statistics, read every link instead). */
#define STORE_FEED_OF_SOURCE "(SELECT feed FROM sync_feeds WHERE source = ?1 AND entity = ?2)"
#define STORE_FEEDS_OF_ENTITY "(SELECT feed FROM sync_feeds WHERE entity = ?1)"
/* A link by its key (?3: source id): object, gone, hash. */
#define STORE_LINK_BY_KEY "SELECT hub_id, gone, hash FROM sync_link_rows WHERE feed = " STORE_FEED_OF_SOURCE " AND source_id = ?3"
/* Every link, in table order (no index: the one statement here that reads
 * them all): feed, source id, object, gone, hash. */
#define STORE_ALL_LINKS "SELECT feed, source_id, hub_id, gone, hash FROM sync_link_rows NOT INDEXED"
/* Every live link of a feed, in key order: source id, object. */
#define STORE_LIVE_LINKS_OF_FEED \
  "SELECT source_id, hub_id FROM sync_link_rows WHERE feed = " STORE_FEED_OF_SOURCE " AND gone = 0 ORDER BY source_id"
/* The source ids of an object's links, of any source, gone or not. */
#define STORE_SIDS_OF_OBJECT \
  "SELECT DISTINCT source_id FROM sync_link_rows WHERE feed IN " STORE_FEEDS_OF_ENTITY " AND hub_id = ?2"
/* An object's live links: source, source id. */
#define STORE_LIVE_LINKS_OF_OBJECT                                                      \
  "SELECT f.source, l.source_id FROM sync_feeds f CROSS JOIN sync_link_rows l ON l.feed = f.feed" \
  " WHERE f.entity = ?1 AND l.hub_id = ?2 AND l.gone = 0"
/* The object of the first source (by name) with a live link of source id ?2. */
#define STORE_OBJECT_OF_SID                                                                               \
  "SELECT l.hub_id FROM sync_feeds f CROSS JOIN sync_link_rows l ON l.feed = f.feed AND l.source_id = ?2" \
  " WHERE f.entity = ?1 AND l.gone = 0 ORDER BY f.source LIMIT 1"
#define STORE_SET_LINK_HASH "UPDATE sync_link_rows SET hash = ?4 WHERE feed = " STORE_FEED_OF_SOURCE " AND source_id = ?3"
#define STORE_UNLINK "UPDATE sync_link_rows SET gone = 1 WHERE feed = " STORE_FEED_OF_SOURCE " AND source_id = ?3"
#define STORE_DELETE_LINKS_OF_OBJECT "DELETE FROM sync_link_rows WHERE feed IN " STORE_FEEDS_OF_ENTITY " AND hub_id = ?2"

/* Opens (creating or migrating) the hub at `path`.  0 and a message on failure. */
int store_open(store *s, const char *path, char *err, size_t errsize);
void store_close(store *s);
/* A hub no run has applied to yet takes its first apply (a whole district:
 * every page new) through a rollback journal instead of the WAL, which
 * would write each page twice, into the WAL and then back into the file;
 * pages added to a file need no journal.  1 when the mode changed (the
 * caller calls store_bulk_end() once its transaction has ended); 0 when the
 * hub has been applied to, or another connection has it open. */
int store_bulk_begin(store *s);
void store_bulk_end(store *s);
/* Filling an empty table row by row would insert each row into every index
 * of the table at a random place, each insert a descent of the index's
 * B-tree; an index made once the table is full sorts its keys once.
 * store_defer_indexes drops the secondary indexes of every empty hub table
 * and of sync_link_rows (if empty: its key among them), keeping their SQL;
 * store_remake_indexes makes them again.  Both inside the caller's write transaction, so a run
 * that fails rolls the drop back with everything else.  0 and a message on
 * failure. */
typedef struct {
  struct store_index {
    char *table, *name, *sql; /* the CREATE INDEX statement */
  } *ix;
  int n;
} store_deferred;
int store_defer_indexes(store *s, store_deferred *d, char *err, size_t errsize);
int store_remake_indexes(store *s, store_deferred *d, char *err, size_t errsize);
void store_deferred_free(store_deferred *d);
int store_exec(store *s, const char *sql, char *err, size_t errsize);
/* The feed (sync_feeds) of `source` (n bytes) and `entity`: its number; 0
 * when the hub has none (with `add`, one is added first); -1 when it cannot
 * be read or added (SQLite's message is the connection's). */
int64_t store_feed(store *s, const char *source, size_t n, const char *entity, int add);
int64_t store_hub_version(store *s);
/* The SQL column type of a schema type. */
const char *store_column_type(int type);
/* Binds a value to a statement parameter (lists as JSON text). */
void store_bind(sqlite3_stmt *st, int i, value v, arena *a);
/* Reads a column back as a value of the given type (strings into the arena). */
value store_column(sqlite3_stmt *st, int i, int type, arena *a);

#endif
