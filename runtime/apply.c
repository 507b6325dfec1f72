/* apply.c: writing a run's operations into the hub (run_apply_ops, see
 * pipeline.h).
 *
 * Each operation is read in place from its oplog line (jspan.h) rather than
 * parsed into jansson values, and each distinct statement is prepared once:
 * a first sync of a district applies millions of operations, and parsing,
 * freeing and formatting SQL text per operation cost more than SQLite did.
 * The values bound are exactly those jansson would have given: a string's
 * decoded bytes, an integer, a real, an array's compact text.
 *
 * A second thread reads and splits the operations ahead (view_ahead) while
 * this one writes them: splitting a line into its members was a sixth of a
 * first sync's writing, on the core SQLite needs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "jspan.h"
#include "pipeline.h"
#include "schema.h"
#include "rechash.h"

#define MAX_MEMBERS 64

/* What splitting operations (view_line) keeps from one line to the next:
 * the last entity read, and a buffer to decode strings into.  The applier
 * has one, and so has the thread that splits them ahead (view_ahead). */
typedef struct {
  char *dec;             /* a decoded string */
  size_t deccap;
  char ent_raw[64];      /* the last entity read, as its line gave it (view_entity)... */
  size_t ent_rawn;       /* ...(0: none kept) */
  char ent_name[512];    /* ...its name */
  size_t ent_namen;
  int ent_e;             /* ...and id */
} viewer;

/* One apply's state: the scratch buffers reused for every operation. */
typedef struct {
  store *s;
  char *err;
  size_t errsize;
  char *dec;          /* a decoded string */
  size_t deccap;
  char *txt;          /* a dumped object */
  size_t txtlen, txtcap;
  char *prov;         /* a decoded provenance, bound where it is until the step */
  size_t provcap;
  int uncached;       /* the statement last prepared is not in the cache (step_done finalizes it) */
  struct op_view *pv; /* a link waiting for its record's snapshot (hold_link), when pending */
  char *pline;        /* that link's line, which pv points into */
  size_t plinecap;
  int64_t phub;       /* the hub id of its create, when it has no hub_id */
  int pending;
  struct batch *creates, *links;    /* rows waiting to be inserted together (batch_flush) */
  int64_t next_hub[ENT__COUNT];     /* the hub id of the entity's next create; 0 until read */
  struct feed_id {                  /* the feeds (sync_feeds) links were written to: a run names a few */
    char *source;
    size_t n;
    int entity;
    int64_t feed;
  } *feeds;
  int nfeeds;
  store_deferred *later; /* the indexes made at the end (store_defer_indexes) */
  viewer vw;             /* for a link held for its snapshot (hold_link) */
  char *pc_raw, *pc_text; /* the last create's provenance string (or "by"), raw and decoded (create_provenance) */
  size_t pc_rawn, pc_rawcap, pc_len, pc_textcap;
  int pc_by;              /* ...that was a "by" */
  jtext pc_only;          /* ...and the provenance it stands for */
  const char *pc_out;     /* the provenance the last create's row got */
} applier;

/* ---- statements ----------------------------------------------------------------------------- */

/* Each distinct statement is prepared once, found by a hash of its key: its
 * text, or the shape of the rows it writes (write_attrs, batch_stmt).  An
 * apply issues a few dozen different statements, each many thousand times. */
#define STMT_CACHE 128
static struct {
  sqlite3 *db;
  uint64_t hash;
  char *key;  /* see above: no SQL text starts with a shape's first byte (0xFC, 0xFD, 0xFF) */
  size_t n;
  sqlite3_stmt *st;
} stmt_cache[STMT_CACHE];

static uint64_t hash_bytes(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return h;
}

static int cache_slot(sqlite3 *db, const void *key, size_t n, uint64_t h, int *free_slot) {
  *free_slot = -1;
  for (int i = (int)(h % STMT_CACHE), k = 0; k < STMT_CACHE; k++, i = (i + 1) % STMT_CACHE) {
    if (!stmt_cache[i].key) {
      *free_slot = i;
      return -1;
    }
    if (stmt_cache[i].hash == h && stmt_cache[i].db == db && stmt_cache[i].n == n && !memcmp(stmt_cache[i].key, key, n)) return i;
  }
  return -1;
}

/* The cached statement for `key`, reset; NULL when it is not cached yet
 * (*slot: where to cache it, or -1 when the cache is full).  A batch's
 * statement (all_bound) has every parameter bound before each step, so its
 * bindings are not cleared: clearing a few hundred twice per batch was a
 * fortieth of a first sync's apply. */
static sqlite3_stmt *cached(applier *a, const void *key, size_t n, int *slot, int all_bound) {
  int i = cache_slot(a->s->db, key, n, hash_bytes(key, n), slot);
  if (i < 0) return NULL;
  a->uncached = 0;
  sqlite3_reset(stmt_cache[i].st);
  if (!all_bound) sqlite3_clear_bindings(stmt_cache[i].st);
  return stmt_cache[i].st;
}

static sqlite3_stmt *prepare_into(applier *a, const char *sql, const void *key, size_t n, int slot) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(a->s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(a->err, a->errsize, "%s: %s", a->s->path, sqlite3_errmsg(a->s->db));
    return NULL;
  }
  a->uncached = slot < 0;
  if (slot < 0) return st; /* cache full: step_done finalizes it */
  stmt_cache[slot].db = a->s->db;
  stmt_cache[slot].hash = hash_bytes(key, n);
  stmt_cache[slot].key = malloc(n);
  memcpy(stmt_cache[slot].key, key, n);
  stmt_cache[slot].n = n;
  stmt_cache[slot].st = st;
  return st;
}

static sqlite3_stmt *prepare_cached(applier *a, const char *sql) {
  int slot;
  size_t n = strlen(sql);
  sqlite3_stmt *st = cached(a, sql, n, &slot, 0);
  return st ? st : prepare_into(a, sql, sql, n, slot);
}

static void free_stmt_cache(void) {
  for (int i = 0; i < STMT_CACHE; i++) {
    if (stmt_cache[i].st) sqlite3_finalize(stmt_cache[i].st);
    free(stmt_cache[i].key);
    memset(&stmt_cache[i], 0, sizeof stmt_cache[i]);
  }
}

/* Steps st once, then resets it (or finalizes it, uncached): SQLite's
 * result code, with its message in a->err when it is an error. */
static int step_rc(applier *a, sqlite3_stmt *st, int all_bound) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) snprintf(a->err, a->errsize, "%s: %s", a->s->path, sqlite3_errmsg(a->s->db));
  if (a->uncached) {
    sqlite3_finalize(st);
  } else {
    sqlite3_reset(st);
    if (!all_bound) sqlite3_clear_bindings(st); /* strings are bound where they lie (bind_span): none may outlive its line */
  }
  return rc;
}

static int step_done(applier *a, sqlite3_stmt *st) {
  int rc = step_rc(a, st, 0);
  return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

/* ---- values --------------------------------------------------------------------------------- */

/* Binds a JSON value as jansson's value would have been: absent, null and
 * objects as NULL, arrays as their compact text.  A string without escapes
 * (nearly all) and an array are bound as they lie in the operation's line,
 * which outlives the step: SQLite copying each into a buffer of its own was
 * a malloc, a copy and a free per column of every row. */
static void bind_span(applier *a, sqlite3_stmt *st, int i, jspan v) {
  switch (jspan_type(v)) {
    case JS_STRING: {
      if (v.n >= 2 && !memchr(v.p + 1, '\\', v.n - 2)) {
        sqlite3_bind_text(st, i, v.p + 1, (int)v.n - 2, SQLITE_STATIC);
        break;
      }
      long n = jspan_str(v, &a->dec, &a->deccap);
      sqlite3_bind_text(st, i, a->dec, (int)n, SQLITE_TRANSIENT);
      break;
    }
    case JS_INTEGER: sqlite3_bind_int64(st, i, jspan_int(v)); break;
    case JS_REAL: sqlite3_bind_double(st, i, jspan_real(v)); break;
    case JS_TRUE: sqlite3_bind_int64(st, i, 1); break;
    case JS_FALSE: sqlite3_bind_int64(st, i, 0); break;
    case JS_ARRAY: sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_STATIC); break; /* the line is the compact dump */
    default: sqlite3_bind_null(st, i); break;
  }
}

/* A record's content hash (16 hex digits in the run; 64 in a run saved
 * before rechash.h) as its link keeps it: 64 bits, an integer; NULL (no
 * hash: the record is taken as changed next run) for anything else. */
static void bind_hash(applier *a, sqlite3_stmt *st, int i, jspan v) {
  uint64_t head = 0;
  if (jspan_type(v) == JS_STRING) {
    long n = jspan_str(v, &a->dec, &a->deccap);
    head = n > 0 ? rechash_of_hex(a->dec, (size_t)n) : 0;
  }
  if (head) sqlite3_bind_int64(st, i, (int64_t)head);
  else sqlite3_bind_null(st, i);
}

/* json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS), or "{}" where it gives NULL
 * (absent, or not an object or array): into a->txt. */
static const char *dump_sorted(applier *a, jspan v) {
  int t = jspan_type(v);
  a->txtlen = 0;
  if ((t != JS_OBJECT && t != JS_ARRAY) || !jspan_dump_sorted(v, &a->txt, &a->txtlen, &a->txtcap)) {
    a->txtlen = 0;
    return "{}";
  }
  return a->txt;
}

static jspan int_span(char *buf, size_t size, int64_t v) {
  int n = snprintf(buf, size, "%lld", (long long)v);
  return (jspan){buf, (size_t)n};
}

/* Runs `sql` (cached) with the values bound to ?1..?n. */
static int exec_spans(applier *a, const char *sql, int n, const jspan *args) {
  sqlite3_stmt *st = prepare_cached(a, sql);
  if (!st) return 0;
  for (int i = 0; i < n; i++) bind_span(a, st, i + 1, args[i]);
  return step_done(a, st);
}

/* ---- attributes ----------------------------------------------------------------------------- */

/* The statement that updates this shape of `set`: these columns in this
 * order, with or without declared attributes.  (Creates: batch_stmt.) */
static sqlite3_stmt *attrs_stmt(applier *a, int entity, int has_extra, const uint8_t *cols, int nb) {
  uint8_t key[4 + SCHEMA_MAX_ATTRS];
  key[0] = 0xFF, key[1] = (uint8_t)entity, key[2] = (uint8_t)has_extra, key[3] = (uint8_t)nb;
  memcpy(key + 4, cols, (size_t)nb);
  int slot;
  sqlite3_stmt *st = cached(a, key, 4 + (size_t)nb, &slot, 0);
  if (st) return st;
  const schema_entity *en = schema_entity_get(entity);
  char sql[8192];
  size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE hub_%s SET updated_run = ?1", en->name);
  for (int i = 0; i < nb; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\" = ?%d", en->attrs[cols[i]].name, i + 3);
  if (has_extra) n += (size_t)snprintf(sql + n, sizeof sql - n, ", extra = json_patch(coalesce(extra, '{}'), ?2)");
  n += (size_t)snprintf(sql + n, sizeof sql - n, ", provenance = json_patch(coalesce(provenance, '{}'), ?%d)", nb + 3);
  snprintf(sql + n, sizeof sql - n, " WHERE hub_id = ?%d", nb + 4);
  return prepare_into(a, sql, key, 4 + (size_t)nb, slot);
}

/* The attribute a key names, tried from `from` on: a plan writes a set's
 * attributes in the schema's order, so the one after the last found is
 * nearly always the next (searching from the first made a student's create
 * a hundred name comparisons). */
static int attr_slot(const schema_entity *en, jspan key, int from) {
  for (int k = 0; k < en->nattrs; k++) {
    int i = (from + k) % en->nattrs;
    if (jspan_key_is(key, en->attrs[i].name)) return i;
  }
  return -1;
}

/* The declared (not schema) attributes as the sorted compact object, into a->txt. */
static void dump_extra(applier *a, const jmember *x, int nx) {
  size_t len = 0, cap = 2;
  char *obj = NULL;
  for (int i = 0; i < nx; i++) cap += x[i].key.n + x[i].val.n + 2;
  obj = malloc(cap + 1);
  obj[len++] = '{';
  for (int i = 0; i < nx; i++) {
    if (i) obj[len++] = ',';
    memcpy(obj + len, x[i].key.p, x[i].key.n), len += x[i].key.n;
    obj[len++] = ':';
    memcpy(obj + len, x[i].val.p, x[i].val.n), len += x[i].val.n;
  }
  obj[len++] = '}';
  dump_sorted(a, (jspan){obj, len});
  free(obj);
}

/* A column is a byte here and in the statements' keys (attrs_stmt, batch). */
_Static_assert(SCHEMA_MAX_ATTRS <= 255, "an attribute's column fits a byte");

/* An op's `set`, split: schema attributes (their columns and values) and
 * declared ones (for the extra JSON). */
typedef struct {
  uint8_t cols[SCHEMA_MAX_ATTRS];
  jspan vals[SCHEMA_MAX_ATTRS];
  jmember x[MAX_MEMBERS * 2];
  int nb, nx;
} split_set;

static void split(const schema_entity *en, const jmember *m, size_t nm, split_set *out) {
  out->nb = out->nx = 0;
  for (size_t i = 0, from = 0; i < nm; i++) {
    int slot = attr_slot(en, m[i].key, (int)from);
    if (slot >= 0) from = (size_t)slot + 1;
    if (slot < 0) {
      out->x[out->nx++] = m[i];
      continue;
    }
    if (out->nb == SCHEMA_MAX_ATTRS) break;
    out->cols[out->nb] = (uint8_t)slot, out->vals[out->nb] = m[i].val, out->nb++;
  }
}

/* Writes the `set` attributes of an update into the entity's row: schema
 * attributes to their columns, declared ones merged into the extra JSON.
 * (A create is queued instead: queue_create.) */
static int write_attrs(applier *a, int entity, int64_t hub_id, const jmember *set, size_t nset, jspan prov, int64_t run_id) {
  split_set sp;
  split(schema_entity_get(entity), set, nset, &sp);
  int nb = sp.nb;
  sqlite3_stmt *st = attrs_stmt(a, entity, sp.nx > 0, sp.cols, nb);
  if (!st) return 0;
  sqlite3_bind_int64(st, 1, run_id);
  if (sp.nx) {
    dump_extra(a, sp.x, sp.nx);
    sqlite3_bind_text(st, 2, a->txt, (int)a->txtlen, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(st, 2);
  }
  for (int i = 0; i < nb; i++) bind_span(a, st, i + 3, sp.vals[i]);
  if (jspan_type(prov) == JS_STRING) {
    jspan_str(prov, &a->prov, &a->provcap);
    sqlite3_bind_text(st, nb + 3, a->prov, -1, SQLITE_STATIC); /* as json_string_value: up to a NUL */
  } else {
    sqlite3_bind_text(st, nb + 3, dump_sorted(a, prov), -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(st, nb + 4, hub_id);
  return step_done(a, st);
}

/* The integer a one-row query gives (0 when it gives none). */
static int64_t pragma_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* ---- batches -------------------------------------------------------------------------------- */

/* A first sync inserts a row and a link per record: a million of each at
 * 100,000 students.  Run one statement per row, SQLite's cost per
 * statement (opening its cursors, halting, resetting) was a third of what
 * it spent.  So creates of one shape, and links, wait in a batch and go in
 * BATCH_ROWS rows to a statement.
 *
 * INSERT OR FAIL, not the default ABORT: a statement of many rows that may
 * abort (undo its own rows) keeps a journal of every page it changes, and
 * writing it cost more than batching saved; any error rolls the run's
 * transaction back anyway.  A link replaces one with the same key: a batch
 * of links that meets one (OR FAIL stops there) is inserted again a row at
 * a time, OR REPLACE, the rows already in being replaced by themselves.
 *
 * Nothing else is batched, and every other operation first flushes both
 * batches (flush_batches), so every statement sees what the operations
 * before it wrote.  A create's hub id is not SQLite's choice after the
 * insert but given before it: the table's largest, read once, plus one per
 * create, as SQLite would choose it (nothing else inserts hub rows during
 * an apply), so the links that follow know it while its row still waits. */
#define BATCH_ROWS 16
#define BATCH_COLS (SCHEMA_MAX_ATTRS + 5) /* a create's: hub id, the two runs, its attributes, extra, provenance */

enum { BV_NULL, BV_INT, BV_REAL, BV_TEXT };

/* A value waiting to be bound: text is in the batch's arena (an offset, as
 * the arena may move when it grows). */
typedef struct {
  union {
    int64_t i;
    double d;
    size_t off;
  } u;
  uint32_t n;
  uint8_t type;
} bval;

typedef struct batch {
  uint8_t key[4 + SCHEMA_MAX_ATTRS]; /* the statement's shape (attrs_stmt's key, but 0xFD; 0xFC for links) */
  size_t keyn;
  int ncols, rows;
  bval v[BATCH_ROWS * BATCH_COLS];
  char *arena;
  size_t used, cap;
} batch;

static bval *row_slot(batch *b, int col) { return &b->v[b->rows * b->ncols + col]; }

static int keep_text(applier *a, batch *b, bval *out, const char *p, size_t n) {
  if (!b->arena || b->used + n > b->cap) { /* never NULL once kept: an empty string is bound as '', not NULL */
    size_t cap = (b->used + n) * 2 + 4096;
    char *more = realloc(b->arena, cap);
    if (!more) {
      snprintf(a->err, a->errsize, "out of memory");
      return 0;
    }
    b->arena = more, b->cap = cap;
  }
  if (n) memcpy(b->arena + b->used, p, n);
  out->type = BV_TEXT, out->u.off = b->used, out->n = (uint32_t)n;
  b->used += n;
  return 1;
}

static void keep_int(bval *out, int64_t v) { out->type = BV_INT, out->u.i = v; }

/* A JSON value as bind_span would bind it. */
static int keep_span(applier *a, batch *b, bval *out, jspan v) {
  out->type = BV_NULL;
  switch (jspan_type(v)) {
    case JS_STRING: {
      if (v.n >= 2 && !memchr(v.p + 1, '\\', v.n - 2)) return keep_text(a, b, out, v.p + 1, v.n - 2);
      long n = jspan_str(v, &a->dec, &a->deccap);
      return keep_text(a, b, out, a->dec, (size_t)(n > 0 ? n : 0));
    }
    case JS_INTEGER: keep_int(out, jspan_int(v)); break;
    case JS_REAL: out->type = BV_REAL, out->u.d = jspan_real(v); break;
    case JS_TRUE: keep_int(out, 1); break;
    case JS_FALSE: keep_int(out, 0); break;
    case JS_ARRAY: return keep_text(a, b, out, v.p, v.n);
  }
  return 1;
}

/* A content hash as bind_hash would bind it. */
static void keep_hash(applier *a, bval *out, jspan v) {
  uint64_t head = 0;
  if (jspan_type(v) == JS_STRING && v.n == 18) { /* 16 digits: nothing to decode (a \ is no digit) */
    head = rechash_of_hex(v.p + 1, 16);
  } else if (jspan_type(v) == JS_STRING) {
    long n = jspan_str(v, &a->dec, &a->deccap);
    head = n > 0 ? rechash_of_hex(a->dec, (size_t)n) : 0;
  }
  out->type = BV_NULL;
  if (head) keep_int(out, (int64_t)head);
}

/* The statement inserting k rows of b's shape. */
static sqlite3_stmt *batch_stmt(applier *a, const batch *b, int k) {
  uint8_t key[sizeof b->key + 1];
  memcpy(key, b->key, b->keyn);
  key[b->keyn] = (uint8_t)k;
  int slot;
  sqlite3_stmt *st = cached(a, key, b->keyn + 1, &slot, 1);
  if (st) return st;
  char sql[65536];
  size_t n;
  const char *row;
  char rowbuf[BATCH_COLS * 2 + 8];
  if (b->key[0] == 0xFC) {
    n = (size_t)snprintf(sql, sizeof sql, "INSERT OR %s INTO sync_link_rows (feed, source_id, hub_id, domain, gone, hash) VALUES ",
                         k == 1 ? "REPLACE" : "FAIL");
    row = "(?,?,?,?,0,?)";
  } else {
    const schema_entity *en = schema_entity_get(b->key[1]);
    n = (size_t)snprintf(sql, sizeof sql, "INSERT OR FAIL INTO hub_%s (hub_id, created_run, updated_run", en->name);
    for (int i = 0; i < b->key[2]; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", en->attrs[b->key[3 + i]].name);
    n += (size_t)snprintf(sql + n, sizeof sql - n, ", extra, provenance) VALUES ");
    size_t r = 0;
    rowbuf[r++] = '(';
    for (int c = 0; c < b->ncols; c++) {
      if (c) rowbuf[r++] = ',';
      rowbuf[r++] = '?';
    }
    rowbuf[r++] = ')', rowbuf[r] = 0;
    row = rowbuf;
  }
  for (int i = 0; i < k; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s", i ? "," : "", row);
  return prepare_into(a, sql, key, b->keyn + 1, slot);
}

static void bind_bval(sqlite3_stmt *st, int i, const batch *b, const bval *v) {
  switch (v->type) {
    case BV_INT: sqlite3_bind_int64(st, i, v->u.i); break;
    case BV_REAL: sqlite3_bind_double(st, i, v->u.d); break;
    case BV_TEXT: sqlite3_bind_text(st, i, b->arena + v->u.off, (int)v->n, SQLITE_STATIC); break;
    default: sqlite3_bind_null(st, i); break;
  }
}

/* Inserts the waiting rows: BATCH_ROWS to a statement, a smaller rest one
 * at a time (a statement per size would fill the cache). */
static int batch_rows(applier *a, batch *b, int r, int k) {
  sqlite3_stmt *st = batch_stmt(a, b, k);
  if (!st) return SQLITE_ERROR;
  for (int i = 0; i < k * b->ncols; i++) bind_bval(st, i + 1, b, &b->v[r * b->ncols + i]);
  return step_rc(a, st, 1);
}

static int batch_flush(applier *a, batch *b) {
  int rc = SQLITE_DONE;
  for (int r = 0; rc == SQLITE_DONE && r < b->rows;) {
    int k = b->rows - r >= BATCH_ROWS ? BATCH_ROWS : 1;
    rc = batch_rows(a, b, r, k);
    if (rc == SQLITE_CONSTRAINT && k > 1 && b->key[0] == 0xFC) { /* a link with a key already there: see above */
      rc = SQLITE_DONE;
      for (int i = 0; i < k && rc == SQLITE_DONE; i++) rc = batch_rows(a, b, r + i, 1);
    }
    r += k;
  }
  b->rows = 0, b->used = 0;
  return rc == SQLITE_DONE;
}

static int flush_batches(applier *a) { return batch_flush(a, a->creates) && batch_flush(a, a->links); }

/* The hub id the entity's next create gets (see above); 0 (and a->err)
 * when there is none. */
static int64_t next_hub_id(applier *a, int e) {
  const char *name = schema_entity_get(e)->name;
  if (!a->next_hub[e]) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(hub_id), 0) FROM hub_%s", name);
    int64_t max = pragma_int(a->s->db, sql);
    a->next_hub[e] = max < 1 ? 1 : max == INT64_MAX ? -1 : max + 1; /* below 1, only ids put there by hand */
  }
  if (a->next_hub[e] < 0) { /* a row with the largest id there is (put there by hand) */
    snprintf(a->err, a->errsize, "%s: hub_%s has a row with hub_id %lld: there is no larger id for a new one", a->s->path, name,
             (long long)INT64_MAX);
    return 0;
  }
  int64_t id = a->next_hub[e];
  a->next_hub[e] = id == INT64_MAX ? -1 : id + 1;
  return id;
}

/* A create's provenance as its row keeps it: a string's decoded text up to
 * a NUL (as json_string_value), anything else its sorted dump; a create
 * without one that names its only source as "by" gets the provenance that
 * stands for (run_only_provenance).  Creates of one source and entity
 * nearly all have the same provenance, so the last string's raw text and
 * what it gave are kept, and a create repeating it costs a comparison, not
 * a decode of its escaped quotes.  NULL when out of memory. */
static const char *create_provenance(applier *a, jspan prov, jspan by, size_t *n) {
  int from_by = !prov.p && jspan_type(by) == JS_STRING;
  jspan raw = from_by ? by : prov;
  if (jspan_type(raw) != JS_STRING) {
    const char *t = dump_sorted(a, prov);
    *n = strlen(t);
    return t;
  }
  if (a->pc_out && from_by == a->pc_by && raw.n == a->pc_rawn && !memcmp(raw.p, a->pc_raw, raw.n)) {
    *n = a->pc_len;
    return a->pc_out;
  }
  a->pc_out = NULL;
  long len = jspan_str(raw, &a->pc_text, &a->pc_textcap);
  char *copy = raw.n > a->pc_rawcap ? realloc(a->pc_raw, raw.n) : a->pc_raw;
  if (!copy || !a->pc_text) {
    snprintf(a->err, a->errsize, "out of memory");
    return NULL;
  }
  memcpy(copy, raw.p, raw.n);
  a->pc_raw = copy, a->pc_rawcap = raw.n > a->pc_rawcap ? raw.n : a->pc_rawcap, a->pc_rawn = raw.n, a->pc_by = from_by;
  a->pc_out = a->pc_text;
  if (from_by && len >= 0 && jt_utf8_ok(a->pc_text, (size_t)len)) {
    jt_reset(&a->pc_only);
    run_only_provenance(&a->pc_only, a->pc_text, (size_t)len);
    a->pc_out = a->pc_only.b;
  } else if (from_by) {
    a->pc_out = "{}"; /* no name to give, as a create with no provenance */
  }
  a->pc_len = strlen(a->pc_out);
  *n = a->pc_len;
  return a->pc_out;
}

/* Queues a create of hub object hub_id. */
static int queue_create(applier *a, int e, int64_t hub_id, const jmember *set, size_t nset, jspan prov, jspan by, int64_t run_id) {
  batch *b = a->creates;
  split_set sp;
  split(schema_entity_get(e), set, nset, &sp);
  uint8_t key[sizeof b->key];
  size_t keyn = 3 + (size_t)sp.nb;
  key[0] = 0xFD, key[1] = (uint8_t)e, key[2] = (uint8_t)sp.nb;
  memcpy(key + 3, sp.cols, (size_t)sp.nb);
  if (b->rows && (b->keyn != keyn || memcmp(b->key, key, keyn)) && !batch_flush(a, b)) return 0;
  memcpy(b->key, key, keyn), b->keyn = keyn, b->ncols = sp.nb + 5;
  keep_int(row_slot(b, 0), hub_id);
  keep_int(row_slot(b, 1), run_id);
  keep_int(row_slot(b, 2), run_id);
  for (int i = 0; i < sp.nb; i++)
    if (!keep_span(a, b, row_slot(b, 3 + i), sp.vals[i])) return 0;
  bval *extra = row_slot(b, 3 + sp.nb), *pv = row_slot(b, 4 + sp.nb);
  extra->type = BV_NULL;
  if (sp.nx) {
    dump_extra(a, sp.x, sp.nx);
    if (!keep_text(a, b, extra, a->txt, a->txtlen)) return 0;
  }
  size_t pn;
  const char *pt = create_provenance(a, prov, by, &pn);
  if (!pt || !keep_text(a, b, pv, pt, pn)) return 0;
  return ++b->rows < BATCH_ROWS || batch_flush(a, b);
}

/* ---- operations ----------------------------------------------------------------------------- */

typedef struct {
  int64_t *hub;     /* per tmp: the hub id it got, 0 if not created, -1 if filtered out */
  size_t n;
  size_t max;       /* tmps run from 1 to at most the number of operations */
  const op_feed *feed; /* still reading them: max is the number read so far */
} tmp_map;

/* NULL for a tmp no run of this many operations can have (a corrupt run
 * file): the caller fails the apply rather than skip a create. */
static int64_t *tmp_slot(tmp_map *m, int64_t tmp) {
  if (tmp > 0 && (uint64_t)tmp > m->max && m->feed) m->max = m->feed->known(m->feed->ctx, (size_t)tmp);
  if (tmp <= 0 || (uint64_t)tmp > m->max) return NULL;
  if ((size_t)tmp >= m->n) {
    size_t n = (size_t)tmp + (size_t)tmp / 2 + 16;
    if (n > m->max + 1) n = m->max + 1;
    int64_t *more = realloc(m->hub, n * sizeof *m->hub);
    if (!more) return NULL;
    m->hub = more;
    memset(m->hub + m->n, 0, (n - m->n) * sizeof *m->hub);
    m->n = n;
  }
  return &m->hub[tmp];
}

/* The members apply reads, each found once per line (op_view.k) rather
 * than by a walk over the members per question: a create was asked about a
 * dozen times, and a first sync has a million creates and as many links. */
#define OP_KEYS(X) \
  X(op) X(entity) X(tmp) X(sid) X(set) X(provenance) X(by) X(hub_id) X(hash) X(source) X(domain) X(end_date) X(record) \
  X(candidate) X(candidate_source) X(candidate_sid) X(links)

enum {
#define X(k) K_##k,
  OP_KEYS(X)
#undef X
  K__COUNT
};

/* What an operation does ("op"), read once. */
#define OP_KINDS(X) X(create) X(update) X(reactivate) X(deactivate) X(delete) X(link) X(unlink) X(snapshot) X(case)
enum {
  OP_OTHER,
#define X(k) OP_##k,
  OP_KINDS(X)
#undef X
};

/* One operation's line, split into its members. */
typedef struct op_view {
  jmember m[MAX_MEMBERS];
  size_t n;
  jspan k[K__COUNT]; /* the members above, by key (the first of a key given twice, as jspan_get) */
  jmember set[MAX_MEMBERS * 2]; /* the members of its "set", found in the same walk */
  size_t nset;
  int kind;          /* OP_... (a string "op" naming none: OP_OTHER) */
  int e;             /* the entity (schema_entity_find), -1 when it names none */
  char ent[512];     /* the entity's name, "(null)" when it has none (as snprintf prints NULL) */
} op_view;

#define GET(o, key) ((o)->k[K_##key])

/* "entity/sid": how a filtered-out record is remembered. */
static const char *id_key(applier *a, const op_view *o, char *buf, size_t size) {
  long n = jspan_str(GET(o, sid), &a->dec, &a->deccap);
  snprintf(buf, size, "%s/%s", o->ent, n >= 0 ? a->dec : "");
  return buf;
}

static int apply_deactivate(applier *a, const op_view *o, int e, int64_t run_id) {
  char sql[256], rid[32];
  jspan end = GET(o, end_date);
  snprintf(sql, sizeof sql, "UPDATE hub_%s SET status = 'inactive', updated_run = ?2%s WHERE hub_id = ?1", schema_entity_get(e)->name,
           end.p ? ", end_date = coalesce(end_date, ?3)" : "");
  jspan args[3] = {GET(o, hub_id), int_span(rid, sizeof rid, run_id), end};
  return exec_spans(a, sql, end.p ? 3 : 2, args);
}

/* An operation that finds links by their key or object needs the links'
 * indexes: if this apply put them off (the links were empty), they are
 * made now rather than read a whole table per operation.  Never so in a
 * first sync, which only adds. */
static int links_indexed(applier *a) {
  int deferred = 0;
  for (int i = 0; i < a->later->n; i++) deferred |= strcmp(a->later->ix[i].table, "sync_link_rows") == 0;
  return !deferred || store_remake_indexes(a->s, a->later, a->err, a->errsize);
}

/* Deleted for good: the object and its links (with its sources' hashes). */
static int apply_delete(applier *a, const op_view *o, int e) {
  char sql[256];
  snprintf(sql, sizeof sql, "DELETE FROM hub_%s WHERE hub_id = ?1", schema_entity_get(e)->name);
  jspan args[2] = {GET(o, entity), GET(o, hub_id)};
  return exec_spans(a, sql, 1, args + 1) && links_indexed(a) &&
         exec_spans(a, STORE_DELETE_LINKS_OF_OBJECT, 2, args);
}

static int apply_case(applier *a, const op_view *o, int64_t run_id) {
  char rid[32];
  const char *rec = dump_sorted(a, GET(o, record));
  jspan args[9] = {int_span(rid, sizeof rid, run_id), GET(o, entity), GET(o, source), GET(o, sid), {NULL, 0},
                   GET(o, candidate), GET(o, domain), GET(o, candidate_source), GET(o, candidate_sid)};
  sqlite3_stmt *st = prepare_cached(a,
                                    "INSERT INTO sync_cases (run_id, entity, source, source_id, record, candidate, domain, status,"
                                    " candidate_source, candidate_sid)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9)"
                                    " ON CONFLICT (source, entity, source_id) DO UPDATE SET run_id = ?1, record = ?5, candidate = ?6,"
                                    " domain = ?7, candidate_source = ?8, candidate_sid = ?9 WHERE status = 'open'");
  if (!st) return 0;
  for (int i = 0; i < 9; i++)
    if (i == 4) sqlite3_bind_text(st, 5, rec, -1, SQLITE_TRANSIENT);
    else bind_span(a, st, i + 1, args[i]);
  return step_done(a, st);
}

/* The feed of a link's source (of entity e, named ent) and entity, added
 * to sync_feeds when the hub has none yet; 0 (and a->err, naming the
 * link's sid) when it cannot be had. */
static int64_t feed_of(applier *a, int e, const char *ent, jspan source, jspan sid) {
  long n = jspan_str(source, &a->dec, &a->deccap);
  if (n < 0) {
    snprintf(a->err, a->errsize, "the link of %.100s %.*s names no source: the run is corrupt", ent, (int)(sid.n < 200 ? sid.n : 200),
             sid.p ? sid.p : "");
    return 0;
  }
  for (int i = 0; i < a->nfeeds; i++)
    if (a->feeds[i].entity == e && a->feeds[i].n == (size_t)n && !memcmp(a->feeds[i].source, a->dec, (size_t)n))
      return a->feeds[i].feed;
  int64_t feed = store_feed(a->s, a->dec, (size_t)n, schema_entity_get(e)->name, 1);
  if (feed <= 0) {
    snprintf(a->err, a->errsize, "%s: %s", a->s->path, sqlite3_errmsg(a->s->db));
    return 0;
  }
  struct feed_id *more = realloc(a->feeds, (size_t)(a->nfeeds + 1) * sizeof *more);
  char *copy = malloc((size_t)n + 1);
  if (more) a->feeds = more;
  if (!more || !copy) {
    free(copy);
    snprintf(a->err, a->errsize, "out of memory");
    return 0;
  }
  memcpy(copy, a->dec, (size_t)n);
  copy[n] = 0;
  a->feeds[a->nfeeds++] = (struct feed_id){copy, (size_t)n, e, feed};
  return feed;
}

/* What a link row is made of: its source, the record's id, the object (hub
 * when the link names one, else phub: the object its create made), how it
 * was linked, and the content hash of what the source sent (absent when no
 * snapshot came with it). */
typedef struct {
  jspan source, sid, hub, domain, hash;
  int64_t phub;
} link_parts;

/* Queues a link of entity e (named ent). */
static int queue_link(applier *a, int e, const char *ent, const link_parts *l) {
  batch *b = a->links;
  int64_t feed = e >= 0 ? feed_of(a, e, ent, l->source, l->sid) : 0;
  if (!feed) {
    if (e < 0) snprintf(a->err, a->errsize, "a link of %.100s, no entity: the run is corrupt", ent);
    return 0;
  }
  jspan args[4] = {{NULL, 0}, l->sid, l->hub, l->domain};
  b->key[0] = 0xFC, b->keyn = 1, b->ncols = 5;
  keep_int(row_slot(b, 0), feed);
  for (int i = 1; i < 4; i++)
    if (i == 2 && !l->hub.p) keep_int(row_slot(b, 2), l->phub);
    else if (!keep_span(a, b, row_slot(b, i), args[i])) return 0;
  keep_hash(a, row_slot(b, 4), l->hash);
  return ++b->rows < BATCH_ROWS || batch_flush(a, b);
}

/* A link operation, with `hash` (see link_parts). */
static int write_link(applier *a, const op_view *o, int64_t phub, jspan hash) {
  link_parts l = {GET(o, source), GET(o, sid), GET(o, hub_id), GET(o, domain), hash, phub};
  return queue_link(a, o->e, o->ent, &l);
}

/* The links of a create's records to the object it made (hub), which plan
 * writes with the create rather than as operations of their own: a first
 * sync's million links were a million more lines to write, read, check and
 * parse.  A link without a sid is of the create's; without a domain, it is
 * "new" (the record the object was made for). */
static int create_links(applier *a, const op_view *o, int64_t hub, jspan links) {
  if (jspan_type(links) != JS_ARRAY) {
    jspan sid = GET(o, sid);
    snprintf(a->err, a->errsize, "the create of %.100s %.*s has links that are no array: the run is corrupt", o->ent,
             (int)(sid.n < 200 ? sid.n : 200), sid.p ? sid.p : "");
    return 0;
  }
  const char *at = NULL;
  jspan el;
  while (jspan_next(links, &at, &el)) {
    jmember m[MAX_MEMBERS];
    size_t nm = jspan_members(el, m, MAX_MEMBERS);
    static const char new_domain[] = "\"new\"";
    link_parts l = {jspan_get(m, nm, "source"), jspan_get(m, nm, "sid"), {NULL, 0}, jspan_get(m, nm, "domain"),
                    jspan_get(m, nm, "hash"), hub};
    if (!l.sid.p) l.sid = GET(o, sid);
    if (!l.domain.p) l.domain = (jspan){new_domain, sizeof new_domain - 1};
    if (jspan_type(el) != JS_OBJECT || jspan_type(l.sid) != JS_STRING) {
      jspan sid = GET(o, sid);
      snprintf(a->err, a->errsize, "a link of the create of %.100s %.*s is no object with a sid: the run is corrupt", o->ent,
               (int)(sid.n < 200 ? sid.n : 200), sid.p ? sid.p : "");
      return 0;
    }
    if (!queue_link(a, o->e, o->ent, &l)) return 0;
  }
  return 1;
}

/* A link without a hash (a run saved by an older syncvm, which followed
 * every link with its record's snapshot) is held until the next operation,
 * so that the two become one row written once, not a row written and then
 * updated. */
static void view_line(viewer *w, op_view *o, const char *line, size_t n);

static int hold_link(applier *a, const char *line, size_t n, int64_t phub) {
  if (n + 1 > a->plinecap) {
    size_t cap = n + 1 > 2 * a->plinecap ? n + 1 : 2 * a->plinecap;
    char *more = realloc(a->pline, cap);
    if (!more) {
      snprintf(a->err, a->errsize, "out of memory");
      return 0;
    }
    a->pline = more, a->plinecap = cap;
  }
  memcpy(a->pline, line, n);
  a->pline[n] = 0;
  view_line(&a->vw, a->pv, a->pline, n);
  a->phub = phub;
  a->pending = 1;
  return 1;
}

/* Writes the held link, with `hash` (absent: none came). */
static int flush_link(applier *a, jspan hash) {
  if (!a->pending) return 1;
  a->pending = 0;
  return write_link(a, a->pv, a->phub, hash);
}

static int span_eq(jspan x, jspan y) { return x.n == y.n && (!x.n || !memcmp(x.p, y.p, x.n)); }

/* Whether snapshot o is of the held link's record. */
static int of_held_link(applier *a, const op_view *o) {
  return span_eq(GET(o, source), GET(a->pv, source)) && span_eq(GET(o, entity), GET(a->pv, entity)) &&
         span_eq(GET(o, sid), GET(a->pv, sid));
}

/* A snapshot on its own (the record's link is already in the hub): its hash. */
static int apply_snapshot(applier *a, const op_view *o) {
  jspan args[3] = {GET(o, source), GET(o, entity), GET(o, sid)};
  sqlite3_stmt *st = links_indexed(a) ? prepare_cached(a, STORE_SET_LINK_HASH) : NULL;
  if (!st) return 0;
  for (int i = 0; i < 3; i++) bind_span(a, st, i + 1, args[i]);
  bind_hash(a, st, 4, GET(o, hash));
  return step_done(a, st);
}

/* The OP_KEYS member a quoted key names, or -1.  Each comparison is of a
 * constant length, which the compiler makes a load or two, not a call. */
static int op_key(jspan key) {
  const char *k = key.p + 1;
  size_t n = key.n - 2;
#define X(name) \
  if (n == sizeof #name - 1 && !memcmp(k, #name, sizeof #name - 1)) return K_##name;
  OP_KEYS(X)
#undef X
  return -1;
}

/* The kind an "op" string names. */
static int op_kind(jspan k) {
  if (jspan_type(k) != JS_STRING) return OP_OTHER;
#define X(name) \
  if (k.n == sizeof #name + 1 && !memcmp(k.p + 1, #name, sizeof #name - 1)) return OP_##name;
  OP_KINDS(X)
#undef X
  return OP_OTHER;
}

/* The entity a line's "entity" names, into o->e and o->ent.  Operations
 * come an entity at a time, so the last one's raw text is kept and a line
 * naming it again costs a comparison, not a decode and a lookup. */
static void view_entity(viewer *a, op_view *o) {
  jspan v = GET(o, entity);
  if (a->ent_rawn && v.p && v.n == a->ent_rawn && !memcmp(v.p, a->ent_raw, v.n)) {
    memcpy(o->ent, a->ent_name, a->ent_namen + 1);
    o->e = a->ent_e;
    return;
  }
  long len = jspan_str(v, &a->dec, &a->deccap);
  const char *ent = len >= 0 ? a->dec : "(null)";
  size_t n_ent = strnlen(ent, sizeof o->ent - 1); /* as snprintf into it would keep */
  memcpy(o->ent, ent, n_ent);
  o->ent[n_ent] = 0;
  o->e = len >= 0 ? schema_entity_find(a->dec) : -1;
  a->ent_rawn = 0;
  if (v.p && v.n <= sizeof a->ent_raw) {
    memcpy(a->ent_raw, v.p, v.n), a->ent_rawn = v.n;
    memcpy(a->ent_name, o->ent, n_ent + 1), a->ent_namen = n_ent, a->ent_e = o->e;
  }
}

/* Reads the line into o: its members, by key, its kind and its entity. */
static void view_line(viewer *a, op_view *o, const char *line, size_t n) {
  o->n = jspan_members_with((jspan){line, n}, o->m, MAX_MEMBERS, "set", o->set, MAX_MEMBERS * 2, &o->nset);
  memset(o->k, 0, sizeof o->k);
  for (size_t i = 0; i < o->n; i++) {
    int j = op_key(o->m[i].key);
    if (j >= 0 && !o->k[j].p) o->k[j] = o->m[i].val;
  }
  o->kind = op_kind(GET(o, op));
  view_entity(a, o);
}

/* Whether the line is an operation to apply: a kind, and an entity unless
 * it is a case. */
static int view_op(viewer *a, op_view *o, const char *line, size_t n) {
  view_line(a, o, line, n);
  return jspan_type(GET(o, op)) == JS_STRING && (o->e >= 0 || o->kind == OP_case);
}

static int bad_tmp(applier *a, const op_view *o, const tmp_map *tm) {
  snprintf(a->err, a->errsize, "an operation on %.100s has no tmp from 1 to %zu (the run's operations): the run is corrupt", o->ent,
           tm->max);
  return 0;
}

/* One operation; *skipped: "entity/sid" of records whose create was filtered
 * out (a jansson object, made when the first is). */
static int apply_op(applier *a, const op_view *o, const char *line, size_t n, tmp_map *tm, json_t *skipped, int filtered,
                    int64_t run_id) {
  int e = o->e, kind = o->kind;
  char idkey[600];
  int snapshot = kind == OP_snapshot, create = kind == OP_create;
  if (a->pending && !(snapshot && of_held_link(a, o)) && !flush_link(a, (jspan){NULL, 0})) return 0;
  /* Only creates and links with their hash wait in batches: anything else
   * may read or change what they write. */
  if (!(create || (kind == OP_link && GET(o, hash).p)) && !flush_batches(a)) return 0;
  if (create) {
    int64_t *slot = tmp_slot(tm, jspan_int(GET(o, tmp)));
    if (!slot) return bad_tmp(a, o, tm);
    if (filtered) {
      *slot = -1;
      json_object_set_new(skipped, id_key(a, o, idkey, sizeof idkey), json_true());
      return 1;
    }
    if (!(*slot = next_hub_id(a, e)) || !queue_create(a, e, *slot, o->set, o->nset, GET(o, provenance), GET(o, by), run_id)) return 0;
    return !GET(o, links).p || create_links(a, o, *slot, GET(o, links));
  }
  if (kind == OP_update || kind == OP_reactivate)
    return filtered || write_attrs(a, e, jspan_int(GET(o, hub_id)), o->set, o->nset, GET(o, provenance), run_id);
  if (kind == OP_deactivate) return filtered || apply_deactivate(a, o, e, run_id);
  if (kind == OP_delete) return filtered || apply_delete(a, o, e);
  if (kind == OP_link) {
    jspan hub = GET(o, hub_id);
    int64_t *slot = NULL;
    if (!hub.p && !(slot = tmp_slot(tm, jspan_int(GET(o, tmp))))) return bad_tmp(a, o, tm);
    if (!hub.p && *slot <= 0) {
      json_object_set_new(skipped, id_key(a, o, idkey, sizeof idkey), json_true());
      return 1;
    }
    jspan hash = GET(o, hash);
    if (hash.p) return write_link(a, o, slot ? *slot : 0, hash); /* the link carries its record's hash */
    return hold_link(a, line, n, slot ? *slot : 0); /* a run saved before links did: its snapshot follows */
  }
  if (kind == OP_unlink) {
    jspan args[3] = {GET(o, source), GET(o, entity), GET(o, sid)};
    return filtered || (links_indexed(a) && exec_spans(a, STORE_UNLINK, 3, args));
  }
  if (snapshot) {
    if (a->pending) return flush_link(a, GET(o, hash)); /* of the held link's record (checked above) */
    if (json_object_size(skipped) && json_object_get(skipped, id_key(a, o, idkey, sizeof idkey))) return 1;
    return apply_snapshot(a, o);
  }
  if (kind == OP_case) return apply_case(a, o, run_id);
  return 1;
}

/* SQLite's page cache while applying, in KiB: its default 2 MB spilled the
 * pages of the tables and indexes being filled to the WAL and read them back
 * many times over (16 MB made the apply of 20k students 15% faster; more did
 * not help, and memory must stay well under 256 MB at 100k students). */
#define APPLY_CACHE_KB 16384

static void set_cache(sqlite3 *db, int64_t size) {
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)size);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The next operation's text, from the feed or the run's oplog. */
static const char *next_op(const run_result *r, const op_feed *feed, size_t *n) {
  return feed ? feed->next(feed->ctx, n) : oplog_next_text(r->ops, n);
}

/* ---- splitting operations ahead, on the second core ---------------------------------------- */

/* The thread takes the operations (next_op) and splits each (view_op) into
 * a slot of a block; blocks go round a small ring, handed over whole so the
 * two threads meet once per VIEW_BLOCK operations rather than per one. */
#define VIEW_BLOCK 256
#define VIEW_BLOCKS 4
/* A block also ends once it holds this much text, and a slot's buffer
 * that grew past VIEW_SLOT_KEEP is let go when a shorter line comes: a run
 * file's operations may each be up to 64 MB (runfile.c), and the ring must
 * not hold a thousand of them. */
#define VIEW_BLOCK_BYTES (1u << 20)
#define VIEW_SLOT_KEEP (16u << 10)

typedef struct {
  char *line; /* the operation's text, NUL-terminated: the view points into it */
  size_t n, cap;
  int viewed; /* view_op: an operation to apply */
  op_view v;
} view_slot;

typedef struct {
  view_slot s[VIEW_BLOCK];
  int n; /* slots filled (fewer than VIEW_BLOCK in the last block, or one of VIEW_BLOCK_BYTES) */
} view_block;

typedef struct {
  const run_result *r;
  const op_feed *feed;
  viewer vw; /* the thread's own */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned filled, taken; /* blocks handed over and given back, ever (block i is b[i % VIEW_BLOCKS]) */
  int done, stop, failed; /* the last block is handed over; the applier stops early; out of memory */
  view_block *cur;        /* the applier's: block `taken` once handed over (NULL before)... */
  int at;                 /* ...and its next slot there */
  view_block b[VIEW_BLOCKS];
} view_ahead;

/* Copies the line into the slot and splits it there; 0 when out of memory. */
static int fill_slot(view_ahead *va, view_slot *sl, const char *line, size_t n) {
  if (sl->cap > VIEW_SLOT_KEEP && n + 1 <= VIEW_SLOT_KEEP) free(sl->line), sl->line = NULL, sl->cap = 0;
  if (n + 1 > sl->cap) {
    size_t cap = n + 1 > 2 * sl->cap ? n + 1 : 2 * sl->cap;
    char *more = realloc(sl->line, cap);
    if (!more) return 0;
    sl->line = more, sl->cap = cap;
  }
  memcpy(sl->line, line, n);
  sl->line[n] = 0;
  sl->n = n;
  sl->viewed = view_op(&va->vw, &sl->v, sl->line, n);
  return 1;
}

static void *view_thread(void *arg) {
  view_ahead *va = arg;
  for (int last = 0; !last;) {
    pthread_mutex_lock(&va->mu);
    while (va->filled - va->taken == VIEW_BLOCKS && !va->stop) pthread_cond_wait(&va->cv, &va->mu);
    int stop = va->stop;
    pthread_mutex_unlock(&va->mu);
    if (stop) break;
    view_block *b = &va->b[va->filled % VIEW_BLOCKS]; /* the applier has given it back */
    const char *line;
    size_t n, bytes = 0;
    for (b->n = 0; b->n < VIEW_BLOCK && bytes < VIEW_BLOCK_BYTES; b->n++, bytes += n) {
      if (!(line = next_op(va->r, va->feed, &n))) {
        last = 1;
        break;
      }
      if (!fill_slot(va, &b->s[b->n], line, n)) {
        va->failed = 1, last = 1; /* told under the lock below, with the block */
        break;
      }
    }
    pthread_mutex_lock(&va->mu);
    va->filled++;
    va->done = last;
    pthread_cond_broadcast(&va->cv);
    pthread_mutex_unlock(&va->mu);
  }
  return NULL;
}

/* Starts the thread; NULL when it cannot be had (the caller splits the
 * operations itself). */
static view_ahead *ahead_start(const run_result *r, const op_feed *feed) {
  view_ahead *va = calloc(1, sizeof *va);
  if (!va) return NULL;
  va->r = r, va->feed = feed;
  pthread_mutex_init(&va->mu, NULL);
  pthread_cond_init(&va->cv, NULL);
  if (pthread_create(&va->thread, NULL, view_thread, va) != 0) {
    pthread_mutex_destroy(&va->mu);
    pthread_cond_destroy(&va->cv);
    free(va);
    return NULL;
  }
  return va;
}

/* The next slot split ahead; NULL after the last (or when the thread ran
 * out of memory: *failed).  A block once handed over is the applier's
 * alone until it gives it back: only the change of blocks takes the lock. */
static view_slot *ahead_next(view_ahead *va, int *failed) {
  if (va->cur && va->at < va->cur->n) return &va->cur->s[va->at++];
  pthread_mutex_lock(&va->mu);
  if (va->cur && va->done && va->taken + 1 == va->filled) { /* the last block, used up */
    pthread_mutex_unlock(&va->mu);
    return NULL;
  }
  if (va->cur) { /* used up: back to the thread */
    va->taken++;
    pthread_cond_broadcast(&va->cv);
  }
  while (va->taken == va->filled) pthread_cond_wait(&va->cv, &va->mu);
  va->cur = &va->b[va->taken % VIEW_BLOCKS], va->at = 0;
  *failed = va->failed;
  pthread_mutex_unlock(&va->mu);
  return va->at < va->cur->n ? &va->cur->s[va->at++] : NULL;
}

/* Stops the thread (wherever it is) and frees it all. */
static void ahead_stop(view_ahead *va) {
  if (!va) return;
  pthread_mutex_lock(&va->mu);
  va->stop = 1;
  pthread_cond_broadcast(&va->cv);
  pthread_mutex_unlock(&va->mu);
  pthread_join(va->thread, NULL);
  for (int i = 0; i < VIEW_BLOCKS; i++)
    for (int k = 0; k < VIEW_BLOCK; k++) free(va->b[i].s[k].line);
  free(va->vw.dec);
  pthread_mutex_destroy(&va->mu);
  pthread_cond_destroy(&va->cv);
  free(va);
}

int run_apply_ops(store *s, const run_result *r, int64_t run_id, op_filter keep, void *fctx, const op_feed *feed,
                  const apply_hook *hook, char *err, size_t errsize) {
  applier a = {.s = s, .err = err, .errsize = errsize, .pv = malloc(sizeof(op_view)), .creates = calloc(1, sizeof(batch)),
               .links = calloc(1, sizeof(batch))};
  tmp_map tm = {NULL, 0, feed ? feed->known(feed->ctx, 0) : oplog_count(r->ops), feed};
  json_t *skipped = json_object();
  op_view *o = malloc(sizeof *o);
  const char *line;
  size_t n;
  if (!feed) oplog_rewind(r->ops);
  view_ahead *va = NULL;
  int64_t cache = pragma_int(s->db, "PRAGMA cache_size");
  set_cache(s->db, -APPLY_CACHE_KB); /* negative: in KiB; restored after */
  store_deferred later = {0};
  a.later = &later;
  int ok = a.pv && a.creates && a.links && o && skipped;
  if (!ok) snprintf(err, errsize, "out of memory");
  ok = ok && store_defer_indexes(s, &later, err, errsize);
  if (ok) va = ahead_start(r, feed);
  int failed = 0; /* the thread ran out of memory */
  while (ok) {
    const op_view *v = o;
    if (va) { /* split ahead */
      view_slot *sl = ahead_next(va, &failed);
      if (!sl) break;
      line = sl->line, n = sl->n, v = &sl->v;
      if (!sl->viewed) continue;
    } else {
      if (!(line = next_op(r, feed, &n))) break;
      if (!view_op(&a.vw, o, line, n)) continue;
    }
    json_t *j = keep ? json_loadb(line, n, JSON_ALLOW_NUL, NULL) : NULL; /* the filter takes jansson values */
    int filtered = keep && !keep(j, fctx);
    ok = apply_op(&a, v, line, n, &tm, skipped, filtered, run_id);
    json_decref(j);
  }
  ahead_stop(va);
  if (ok && failed) ok = 0, snprintf(err, errsize, "out of memory");
  if (ok && feed && feed->stopped && feed->stopped(feed->ctx)) ok = 0; /* the reader says why; nothing more to write */
  if (ok) ok = flush_link(&a, (jspan){NULL, 0}) && flush_batches(&a);
  if (ok && hook) hook->written(hook->ctx);
  if (ok) ok = store_remake_indexes(s, &later, err, errsize);
  store_deferred_free(&later);
  set_cache(s->db, cache);
  free(o);
  free(a.pv);
  free(a.pline);
  free(tm.hub);
  free(a.dec);
  free(a.vw.dec);
  free(a.txt);
  free(a.prov);
  free(a.pc_raw);
  free(a.pc_text);
  jt_free(&a.pc_only);
  for (int i = 0; i < a.nfeeds; i++) free(a.feeds[i].source);
  free(a.feeds);
  if (a.creates) free(a.creates->arena);
  if (a.links) free(a.links->arena);
  free(a.creates);
  free(a.links);
  json_decref(skipped);
  free_stmt_cache(); /* the caller commits or rolls back next: no statement may stay open */
  return ok;
}
