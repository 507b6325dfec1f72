/* apply.c: writing a run's operations into the hub (run_apply_ops, see
 * pipeline.h).
 *
 * Each operation is read in place from its oplog line (jspan.h) rather than
 * parsed into jansson values, and each distinct statement is prepared once:
 * a first sync of a district applies millions of operations, and parsing,
 * freeing and formatting SQL text per operation cost more than SQLite did.
 * The values bound are exactly those jansson would have given: a string's
 * decoded bytes, an integer, a real, an array's compact text.
 */
#include <stdlib.h>
#include <string.h>

#include "jspan.h"
#include "pipeline.h"
#include "schema.h"
#include "sha256.h"

#define MAX_MEMBERS 64

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
} applier;

/* ---- statements ----------------------------------------------------------------------------- */

/* Each distinct statement is prepared once, found by a hash of its key: its
 * text, the address of its text (a literal, prepare_literal), or the shape
 * of the set it writes (write_attrs).  An apply issues a few dozen
 * different statements, each many thousand times. */
#define STMT_CACHE 128
static struct {
  sqlite3 *db;
  uint64_t hash;
  char *key;  /* see above: the three kinds never start with the same byte */
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
 * (*slot: where to cache it, or -1 when the cache is full). */
static sqlite3_stmt *cached(applier *a, const void *key, size_t n, int *slot) {
  int i = cache_slot(a->s->db, key, n, hash_bytes(key, n), slot);
  if (i < 0) return NULL;
  a->uncached = 0;
  sqlite3_reset(stmt_cache[i].st);
  sqlite3_clear_bindings(stmt_cache[i].st);
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
  sqlite3_stmt *st = cached(a, sql, n, &slot);
  return st ? st : prepare_into(a, sql, sql, n, slot);
}

/* A statement whose text is a string literal, found by its address (the
 * hottest, once per record: no hashing of the text). */
static sqlite3_stmt *prepare_literal(applier *a, const char *sql) {
  uint8_t key[1 + sizeof sql];
  key[0] = 0xFE; /* no SQL text starts so */
  memcpy(key + 1, &sql, sizeof sql);
  int slot;
  sqlite3_stmt *st = cached(a, key, sizeof key, &slot);
  return st ? st : prepare_into(a, sql, key, sizeof key, slot);
}

static void free_stmt_cache(void) {
  for (int i = 0; i < STMT_CACHE; i++) {
    if (stmt_cache[i].st) sqlite3_finalize(stmt_cache[i].st);
    free(stmt_cache[i].key);
    memset(&stmt_cache[i], 0, sizeof stmt_cache[i]);
  }
}

static int step_done(applier *a, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  int ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
  if (!ok) snprintf(a->err, a->errsize, "%s: %s", a->s->path, sqlite3_errmsg(a->s->db));
  if (a->uncached) {
    sqlite3_finalize(st);
  } else {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* strings are bound where they lie (bind_span): none may outlive its line */
  }
  return ok;
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

/* A record's content hash (64 hex digits in the run) as its link keeps it:
 * the head, an integer; NULL (no hash: the record is taken as changed next
 * run) for anything else. */
static void bind_hash(applier *a, sqlite3_stmt *st, int i, jspan v) {
  uint64_t head = 0;
  if (jspan_type(v) == JS_STRING) {
    long n = jspan_str(v, &a->dec, &a->deccap);
    head = n > 0 ? sha256_hex_head(a->dec, (size_t)n) : 0;
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

/* The statement that writes this shape of `set`: created, or updated, with
 * these columns in this order, with or without declared attributes. */
static sqlite3_stmt *attrs_stmt(applier *a, int entity, int create, int has_extra, const uint8_t *cols, int nb) {
  uint8_t key[4 + 128];
  key[0] = 0xFF, key[1] = (uint8_t)entity, key[2] = (uint8_t)(create | has_extra << 1), key[3] = (uint8_t)nb;
  memcpy(key + 4, cols, (size_t)nb);
  int slot;
  sqlite3_stmt *st = cached(a, key, 4 + (size_t)nb, &slot);
  if (st) return st;
  const schema_entity *en = schema_entity_get(entity);
  char sql[8192];
  size_t n;
  if (create) {
    n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO hub_%s (created_run, updated_run", en->name);
    for (int i = 0; i < nb; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", en->attrs[cols[i]].name);
    n += (size_t)snprintf(sql + n, sizeof sql - n, ", extra, provenance) VALUES (?1, ?1");
    for (int i = 0; i < nb; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", ?%d", i + 3);
    snprintf(sql + n, sizeof sql - n, ", ?2, ?%d)", nb + 3);
  } else {
    n = (size_t)snprintf(sql, sizeof sql, "UPDATE hub_%s SET updated_run = ?1", en->name);
    for (int i = 0; i < nb; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\" = ?%d", en->attrs[cols[i]].name, i + 3);
    if (has_extra) n += (size_t)snprintf(sql + n, sizeof sql - n, ", extra = json_patch(coalesce(extra, '{}'), ?2)");
    n += (size_t)snprintf(sql + n, sizeof sql - n, ", provenance = json_patch(coalesce(provenance, '{}'), ?%d)", nb + 3);
    snprintf(sql + n, sizeof sql - n, " WHERE hub_id = ?%d", nb + 4);
  }
  return prepare_into(a, sql, key, 4 + (size_t)nb, slot);
}

static int attr_slot(const schema_entity *en, jspan key) {
  for (int i = 0; i < en->nattrs; i++)
    if (jspan_key_is(key, en->attrs[i].name)) return i;
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

/* Writes the `set` attributes of an op into the entity's row: schema
 * attributes to their columns, declared ones into the extra JSON. */
static int write_attrs(applier *a, int entity, int64_t hub_id, jspan set, jspan prov, int64_t run_id, int create) {
  const schema_entity *en = schema_entity_get(entity);
  jmember m[MAX_MEMBERS * 2], x[MAX_MEMBERS * 2];
  size_t nm = jspan_members(set, m, MAX_MEMBERS * 2);
  uint8_t cols[128];
  jspan vals[128];
  int nb = 0, nx = 0;
  for (size_t i = 0; i < nm; i++) {
    int slot = attr_slot(en, m[i].key);
    if (slot < 0) {
      x[nx++] = m[i];
      continue;
    }
    if (nb == 128) break;
    cols[nb] = (uint8_t)slot, vals[nb] = m[i].val, nb++;
  }
  sqlite3_stmt *st = attrs_stmt(a, entity, create, nx > 0, cols, nb);
  if (!st) return 0;
  sqlite3_bind_int64(st, 1, run_id);
  if (nx) {
    dump_extra(a, x, nx);
    sqlite3_bind_text(st, 2, a->txt, (int)a->txtlen, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(st, 2);
  }
  for (int i = 0; i < nb; i++) bind_span(a, st, i + 3, vals[i]);
  if (jspan_type(prov) == JS_STRING) {
    jspan_str(prov, &a->prov, &a->provcap);
    sqlite3_bind_text(st, nb + 3, a->prov, -1, SQLITE_STATIC); /* as json_string_value: up to a NUL */
  } else {
    sqlite3_bind_text(st, nb + 3, dump_sorted(a, prov), -1, SQLITE_TRANSIENT);
  }
  if (!create) sqlite3_bind_int64(st, nb + 4, hub_id);
  return step_done(a, st);
}

/* ---- operations ----------------------------------------------------------------------------- */

typedef struct {
  int64_t *hub;     /* per tmp: the hub id it got, 0 if not created, -1 if filtered out */
  size_t n;
  size_t max;       /* tmps run from 1 to at most the number of operations */
} tmp_map;

/* NULL for a tmp no run of this many operations can have (a corrupt run
 * file): the caller fails the apply rather than skip a create. */
static int64_t *tmp_slot(tmp_map *m, int64_t tmp) {
  if (tmp <= 0 || (uint64_t)tmp > m->max) return NULL;
  if ((size_t)tmp >= m->n) {
    size_t n = (size_t)tmp + (size_t)tmp / 2 + 16;
    if (n > m->max + 1) n = m->max + 1;
    m->hub = realloc(m->hub, n * sizeof *m->hub);
    memset(m->hub + m->n, 0, (n - m->n) * sizeof *m->hub);
    m->n = n;
  }
  return &m->hub[tmp];
}

/* One operation's line, split into its members. */
typedef struct op_view {
  jmember m[MAX_MEMBERS];
  size_t n;
  char ent[512];    /* the entity's name, "(null)" when it has none (as snprintf prints NULL) */
} op_view;

static jspan get(const op_view *o, const char *key) { return jspan_get(o->m, o->n, key); }

/* "entity/sid": how a filtered-out record is remembered. */
static const char *id_key(applier *a, const op_view *o, char *buf, size_t size) {
  long n = jspan_str(get(o, "sid"), &a->dec, &a->deccap);
  snprintf(buf, size, "%s/%s", o->ent, n >= 0 ? a->dec : "");
  return buf;
}

static int apply_deactivate(applier *a, const op_view *o, int e, int64_t run_id) {
  char sql[256], rid[32];
  jspan end = get(o, "end_date");
  snprintf(sql, sizeof sql, "UPDATE hub_%s SET status = 'inactive', updated_run = ?2%s WHERE hub_id = ?1", schema_entity_get(e)->name,
           end.p ? ", end_date = coalesce(end_date, ?3)" : "");
  jspan args[3] = {get(o, "hub_id"), int_span(rid, sizeof rid, run_id), end};
  return exec_spans(a, sql, end.p ? 3 : 2, args);
}

/* Deleted for good: the object and its links (with its sources' hashes). */
static int apply_delete(applier *a, const op_view *o, int e) {
  char sql[256];
  snprintf(sql, sizeof sql, "DELETE FROM hub_%s WHERE hub_id = ?1", schema_entity_get(e)->name);
  jspan args[2] = {get(o, "entity"), get(o, "hub_id")};
  return exec_spans(a, sql, 1, args + 1) && exec_spans(a, "DELETE FROM sync_links WHERE entity = ?1 AND hub_id = ?2", 2, args);
}

static int apply_case(applier *a, const op_view *o, int64_t run_id) {
  char rid[32];
  const char *rec = dump_sorted(a, get(o, "record"));
  jspan args[9] = {int_span(rid, sizeof rid, run_id), get(o, "entity"), get(o, "source"), get(o, "sid"), {NULL, 0},
                   get(o, "candidate"), get(o, "domain"), get(o, "candidate_source"), get(o, "candidate_sid")};
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

/* Writes a link, and the content hash of what its source sent (`hash`:
 * absent when no snapshot came with it).  The link is to `hub`, or (when
 * the op names none) to the object its create made, phub. */
static int write_link(applier *a, const op_view *o, int64_t phub, jspan hash) {
  jspan hub = get(o, "hub_id");
  jspan args[5] = {get(o, "source"), get(o, "entity"), get(o, "sid"), hub, get(o, "domain")};
  sqlite3_stmt *st = prepare_literal(
      a, "INSERT OR REPLACE INTO sync_links (source, entity, source_id, hub_id, domain, gone, hash) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)");
  if (!st) return 0;
  for (int i = 0; i < 5; i++)
    if (i == 3 && !hub.p) sqlite3_bind_int64(st, 4, phub);
    else bind_span(a, st, i + 1, args[i]);
  bind_hash(a, st, 6, hash);
  return step_done(a, st);
}

/* A link without a hash (a run saved by an older syncvm, which followed
 * every link with its record's snapshot) is held until the next operation,
 * so that the two become one row written once, not a row written and then
 * updated. */
static void view_line(applier *a, op_view *o, const char *line, size_t n);

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
  view_line(a, a->pv, a->pline, n);
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
  static const char *const keys[] = {"source", "entity", "sid"};
  for (int i = 0; i < 3; i++)
    if (!span_eq(get(o, keys[i]), get(a->pv, keys[i]))) return 0;
  return 1;
}

/* A snapshot on its own (the record's link is already in the hub): its hash. */
static int apply_snapshot(applier *a, const op_view *o) {
  jspan args[3] = {get(o, "source"), get(o, "entity"), get(o, "sid")};
  sqlite3_stmt *st = prepare_cached(a, "UPDATE sync_links SET hash = ?4 WHERE source = ?1 AND entity = ?2 AND source_id = ?3");
  if (!st) return 0;
  for (int i = 0; i < 3; i++) bind_span(a, st, i + 1, args[i]);
  bind_hash(a, st, 4, get(o, "hash"));
  return step_done(a, st);
}

/* Reads the line into o; returns whether it is an operation to apply (a
 * kind, and an entity unless it is a case), and its entity in *e. */
static void view_line(applier *a, op_view *o, const char *line, size_t n) {
  o->n = jspan_members((jspan){line, n}, o->m, MAX_MEMBERS);
  long len = jspan_str(get(o, "entity"), &a->dec, &a->deccap);
  const char *ent = len >= 0 ? a->dec : "(null)";
  size_t n_ent = strnlen(ent, sizeof o->ent - 1); /* as snprintf into it would keep */
  memcpy(o->ent, ent, n_ent);
  o->ent[n_ent] = 0;
}

static int view_op(applier *a, op_view *o, const char *line, size_t n, int *e) {
  view_line(a, o, line, n);
  long len = jspan_str(get(o, "entity"), &a->dec, &a->deccap);
  *e = len >= 0 ? schema_entity_find(a->dec) : -1;
  jspan k = get(o, "op");
  return jspan_type(k) == JS_STRING && (*e >= 0 || jspan_str_is(k, "case"));
}

static int bad_tmp(applier *a, const op_view *o, const tmp_map *tm) {
  snprintf(a->err, a->errsize, "an operation on %.100s has no tmp from 1 to %zu (the run's operations): the run is corrupt", o->ent,
           tm->max);
  return 0;
}

/* One operation; *skipped: "entity/sid" of records whose create was filtered
 * out (a jansson object, made when the first is). */
static int apply_op(applier *a, const op_view *o, const char *line, size_t n, int e, tmp_map *tm, json_t *skipped, int filtered,
                    int64_t run_id) {
  jspan k = get(o, "op");
  char idkey[600];
  int snapshot = jspan_str_is(k, "snapshot");
  if (a->pending && !(snapshot && of_held_link(a, o)) && !flush_link(a, (jspan){NULL, 0})) return 0;
  if (jspan_str_is(k, "create")) {
    int64_t *slot = tmp_slot(tm, jspan_int(get(o, "tmp")));
    if (!slot) return bad_tmp(a, o, tm);
    if (filtered) {
      *slot = -1;
      json_object_set_new(skipped, id_key(a, o, idkey, sizeof idkey), json_true());
      return 1;
    }
    int ok = write_attrs(a, e, 0, get(o, "set"), get(o, "provenance"), run_id, 1);
    *slot = sqlite3_last_insert_rowid(a->s->db);
    return ok;
  }
  if (jspan_str_is(k, "update") || jspan_str_is(k, "reactivate"))
    return filtered || write_attrs(a, e, jspan_int(get(o, "hub_id")), get(o, "set"), get(o, "provenance"), run_id, 0);
  if (jspan_str_is(k, "deactivate")) return filtered || apply_deactivate(a, o, e, run_id);
  if (jspan_str_is(k, "delete")) return filtered || apply_delete(a, o, e);
  if (jspan_str_is(k, "link")) {
    jspan hub = get(o, "hub_id");
    int64_t *slot = NULL;
    if (!hub.p && !(slot = tmp_slot(tm, jspan_int(get(o, "tmp"))))) return bad_tmp(a, o, tm);
    if (!hub.p && *slot <= 0) {
      json_object_set_new(skipped, id_key(a, o, idkey, sizeof idkey), json_true());
      return 1;
    }
    jspan hash = get(o, "hash");
    if (hash.p) return write_link(a, o, slot ? *slot : 0, hash); /* the link carries its record's hash */
    return hold_link(a, line, n, slot ? *slot : 0); /* a run saved before links did: its snapshot follows */
  }
  if (jspan_str_is(k, "unlink")) {
    jspan args[3] = {get(o, "source"), get(o, "entity"), get(o, "sid")};
    return filtered || exec_spans(a, "UPDATE sync_links SET gone = 1 WHERE source = ?1 AND entity = ?2 AND source_id = ?3", 3, args);
  }
  if (snapshot) {
    if (a->pending) return flush_link(a, get(o, "hash")); /* of the held link's record (checked above) */
    if (json_object_size(skipped) && json_object_get(skipped, id_key(a, o, idkey, sizeof idkey))) return 1;
    return apply_snapshot(a, o);
  }
  if (jspan_str_is(k, "case")) return apply_case(a, o, run_id);
  return 1;
}

/* SQLite's page cache while applying, in KiB: its default 2 MB spilled the
 * pages of the tables and indexes being filled to the WAL and read them back
 * many times over (16 MB made the apply of 20k students 15% faster; more did
 * not help, and memory must stay well under 256 MB at 100k students). */
#define APPLY_CACHE_KB 16384

static int64_t pragma_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void set_cache(sqlite3 *db, int64_t size) {
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA cache_size = %lld", (long long)size);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int run_apply_ops(store *s, const run_result *r, int64_t run_id, op_filter keep, void *fctx, char *err, size_t errsize) {
  applier a = {.s = s, .err = err, .errsize = errsize, .pv = malloc(sizeof(op_view))};
  tmp_map tm = {NULL, 0, oplog_count(r->ops)};
  json_t *skipped = json_object();
  op_view *o = malloc(sizeof *o);
  int ok = 1;
  const char *line;
  size_t n;
  oplog_rewind(r->ops);
  int64_t cache = pragma_int(s->db, "PRAGMA cache_size");
  set_cache(s->db, -APPLY_CACHE_KB); /* negative: in KiB; restored after */
  store_deferred later;
  ok = store_defer_indexes(s, &later, err, errsize);
  int e;
  while (ok && (line = oplog_next_text(r->ops, &n))) {
    if (!view_op(&a, o, line, n, &e)) continue;
    json_t *j = keep ? json_loadb(line, n, JSON_ALLOW_NUL, NULL) : NULL; /* the filter takes jansson values */
    int filtered = keep && !keep(j, fctx);
    ok = apply_op(&a, o, line, n, e, &tm, skipped, filtered, run_id);
    json_decref(j);
  }
  if (ok) ok = flush_link(&a, (jspan){NULL, 0});
  if (ok) ok = store_remake_indexes(s, &later, err, errsize);
  store_deferred_free(&later);
  set_cache(s->db, cache);
  free(o);
  free(a.pv);
  free(a.pline);
  free(tm.hub);
  free(a.dec);
  free(a.txt);
  free(a.prov);
  json_decref(skipped);
  free_stmt_cache(); /* the caller commits or rolls back next: no statement may stay open */
  return ok;
}
