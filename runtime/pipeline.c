/* pipeline.c: computing a run (see pipeline.h) and applying its operations.
 *
 * The computed run is a JSON array of operations:
 *   create     {entity, tmp, label, set}          a new hub object (tmp: its id in this run)
 *   update     {entity, hub_id, label, set, old, by}   changed attributes only
 *   deactivate {entity, hub_id, label, reason}    status becomes inactive
 *   delete     {entity, hub_id, label, reason}
 *   reactivate {entity, hub_id, label}
 *   link / unlink   {source, entity, sid, hub_id | tmp, domain}
 *   snapshot / unsnapshot {source, entity, sid, hash, record}
 *   case       {source, entity, sid, record, candidate, domain}
 * Values are JSON: strings, numbers, booleans, null; dates "YYYY-MM-DD";
 * lists arrays.
 *
 * Memory does not hold the run: operations go to an oplog (oplog.h) as they
 * are computed, and mapped records to a spill (recspill.h), memory keeping a
 * small header per record (inrec) and indexes of hashes.  Each phase reads
 * one record (or one object's records) back at a time into the scratch arena
 * `tmp`, rewound for the next; the run arena `ar` gets nothing per record
 * but its source id.
 */
#include "pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed.h"
#include "feedpipe.h"
#include "history.h"
#include "jtext.h"
#include "opcodes.h"
#include "kinds.h"
#include "linkscan.h"
#include "par.h"
#include "recspill.h"
#include "jspan.h"
#include "rechash.h"
#include "rectext.h"
#include "sha256.h"
#include "vm.h"

#define MAX_ATTRS SCHEMA_MAX_ATTRS
#define READ_AHEAD_UNITS 2 /* units whose files are opened and read ahead (run_compute) */

/* What memory keeps of a mapped record: its body (where it came from, its
 * hash, its attributes) is in the spill, read back when a phase needs it. */
typedef struct {
  uint64_t off;         /* its body in the spill */
  int64_t hub_id;       /* > 0 existing object; < 0 new object -(n+1); 0 none yet */
  const char *sid;      /* prefixed source id (run arena) */
  uint32_t unit, len;   /* len: of its body */
  uint8_t source, entity, parked;
  uint8_t same;         /* linked by id, and its content hash is the one the link keeps (known once linked) */
  uint16_t how;         /* how it was linked: LINK_ID... (rec_domain() gives the text) */
} inrec; /* 40 bytes: a million-student district holds ten million of these */

/* How a record was linked: small codes, not a pointer per record. */
enum { LINK_NONE, LINK_ID, LINK_ID_AGAIN, LINK_DECISION, LINK_NEW, LINK_DOMAIN /* + the domain's index */ };

/* A string -> index map (open addressing), so that looking up a record by
 * its id, or by its domain values, costs the same at 100 records or 1M. */
typedef struct {
  const char **keys;
  size_t *vals;
  size_t cap, n;
} strmap;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static void map_put(strmap *m, const char *key, size_t val);

static void map_grow(strmap *m) {
  strmap old = *m;
  m->cap = old.cap ? old.cap * 2 : 1024;
  m->keys = calloc(m->cap, sizeof *m->keys);
  m->vals = calloc(m->cap, sizeof *m->vals);
  m->n = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.keys[i]) map_put(m, old.keys[i], old.vals[i]);
  free(old.keys);
  free(old.vals);
}

/* Keeps the first value put for a key. */
static void map_put(strmap *m, const char *key, size_t val) {
  if ((m->n + 1) * 2 > m->cap) map_grow(m);
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->keys[i]) {
    if (strcmp(m->keys[i], key) == 0) return;
    i = (i + 1) & (m->cap - 1);
  }
  m->keys[i] = key;
  m->vals[i] = val;
  m->n++;
}

static int map_get(const strmap *m, const char *key, size_t *val) {
  if (!m->cap) return 0;
  size_t i = hash_str(key) & (m->cap - 1);
  while (m->keys[i]) {
    if (strcmp(m->keys[i], key) == 0) {
      *val = m->vals[i];
      return 1;
    }
    i = (i + 1) & (m->cap - 1);
  }
  return 0;
}

static void map_free(strmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* A uniqueness domain's values in the hub, hashed, so that matching a new
 * record costs a lookup rather than a scan of the entity's table (whose
 * domain columns have no index).  state: 0 not made yet, 1 made, -1 not
 * usable (a domain over a non-text or declared attribute: SQL decides). */
struct dom_index {
  fpmap map;            /* hash of the values joined by \x1f -> index into ids */
  int64_t *ids;
  sqlite3_stmt *check;  /* "SELECT 1 FROM hub_E WHERE hub_id = ?1 AND a = ?2 ...": the hash only names candidates */
  int state;
};

/* A live link of a feed that scan_links read whole which no record of this
 * run took back: its object lost a record (may_skip_same) and, unless a
 * parked record still has the id, the source no longer sends it (deletions). */
typedef struct {
  const char *sid;      /* in ctx.ar */
  int64_t hub_id;
  int sent;             /* a parked record of this run has the id */
} loose_link;

/* A feed's loose links, in source_id order; kept only while few (complete). */
typedef struct {
  loose_link *v;
  size_t n, cap;
  int64_t live;         /* the feed's live links */
  int complete;         /* every loose link is listed: no second pass over the feed's links */
} feed_links;

typedef struct {
  const plan *p;
  store *s;
  run_result *r;
  arena ar;             /* lives for the whole computation: nothing per record */
  arena tmp;            /* one record's (or object's) work, rewound for the next */
  recspill *spill;      /* the records' bodies */
  int spill_broken;     /* a body could not be read back */
  fpmap by_id;          /* hash of (source, entity, sid) -> record */
  fpmap schools;        /* hash of a school record's sid -> record */
  strmap ended;         /* "entity/hub_id" already deactivated by this run */
  const char **dom_words, **dom_text; /* per domain, made once: "email", "by the unattended domain (email) at f:3" */
  uint8_t (*unit_sets)[MAX_ATTRS];    /* per unit: its map assigns the attribute (map_sets, once) */
  sqlite3_stmt *st_link, *st_school, *st_decision; /* prepared once, reused for every record */
  sqlite3_stmt *st_person_ids, *st_enrollment;
  struct dom_index *dom_idx;  /* per domain: the hub's values, hashed (hub_match) */
  sqlite3_stmt *st_hub[ENT__COUNT];
  sqlite3_stmt *st_domain[64];
  inrec *recs;
  size_t nrecs, caprecs;
  int64_t ntmp;
  int sent[64][ENT__COUNT];     /* records each source sent, per entity */
  int fed[64][ENT__COUNT];      /* the source's feed for the entity was read to the end */
  int delta[64][ENT__COUNT];    /* ...and was a delta: only tobedeleted rows remove records */
  feed_links links[64][ENT__COUNT]; /* per full feed, what scan_links saw of its live links */
  uint8_t decided[64][ENT__COUNT];  /* sync_decisions has answers for the feed: 0 not asked yet, 1 none, 2 some */
  strmap deleted;               /* "source/entity/sid" of tobedeleted rows */
  const char *names[ENT__COUNT][MAX_ATTRS];
  uint8_t types[ENT__COUNT][MAX_ATTRS];
  int texts;                 /* the oplog keeps the operations' text (else it counts them: oplog_counter) */
  int skip_same[ENT__COUNT]; /* merge may pass over objects whose records are all unchanged (may_skip_same)... */
  int64_t *dropped[ENT__COUNT]; /* ...except these, sorted: objects with a live link this run does not bring back */
  size_t ndropped[ENT__COUNT], capdropped[ENT__COUNT];
  int order[ENT__COUNT][MAX_ATTRS];  /* attributes sorted by name: the record text's key order */
  uint64_t name_keys[ENT__COUNT][MAX_ATTRS]; /* rechash_name of each attribute */
  int nattrs[ENT__COUNT];
  struct {
    int first_name, last_name, name, title, status, school; /* -1: the entity has none */
  } slot[ENT__COUNT]; /* found once: every operation's label and merge asks for them */
  jtext jt, jt2;                         /* an operation's text, and a text it holds as a string */
  jtext prov_raw, prov_esc;              /* the last create's provenance, and its escaped string (put_create_provenance) */
  int prov_ok;                           /* ...which is valid UTF-8 */
  /* Text every create writes, made once (jt_key_text): a first sync has a
   * million creates, and escaping the same keys in each was a tenth of its
   * merge. */
  jtext create_head[ENT__COUNT];         /* {"op":"create","entity":"...","tmp": */
  jtext qname[ENT__COUNT][MAX_ATTRS];    /* each attribute's key */
  jtext k_label, k_sid, k_set, k_provenance, k_by, k_links, k_source, k_domain, k_hash;
  jtext qsource[64];                     /* each source's name as a string (when it is UTF-8: qsource_ok) */
  int qsource_ok[64];
  const char *only_by;                   /* the source whose "only source" provenance text is... */
  jtext only_text;                       /* ...this (run_only_provenance) */
} ctx;

/* ---- values <-> JSON ---------------------------------------------------------- */

static json_t *to_json(value v) {
  switch (v.kind) {
    case V_NULL: return json_null();
    case V_BOOL: return json_boolean(v.u.i);
    case V_INT: return json_integer(v.u.i);
    case V_DEC: return json_real(v.u.d);
    case V_STR: return json_stringn(v.u.s, v.len);
    case V_DATE: {
      char b[64];
      snprintf(b, sizeof b, "%04lld-%02lld-%02lld", (long long)(v.u.i / 10000), (long long)(v.u.i / 100 % 100),
               (long long)(v.u.i % 100));
      return json_string(b);
    }
    case V_TIME: {
      char b[48];
      snprintf(b, sizeof b, "%02lld:%02lld", (long long)(v.u.i / 100), (long long)(v.u.i % 100));
      return json_string(b);
    }
    case V_LIST: {
      json_t *a = json_array();
      for (uint32_t i = 0; i < v.len; i++) json_array_append_new(a, to_json(v.u.items[i]));
      return a;
    }
    default: return json_null();
  }
}

/* ---- helpers ----------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(ctx *c, const char *kind, int entity, uint32_t source, const char *sid, const char *where,
                   const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void report(ctx *c, const char *kind, int entity, uint32_t source, const char *sid, const char *where,
                   const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *o = json_object();
  json_object_set_new(o, "kind", json_string(kind));
  json_object_set_new(o, "entity", json_string(schema_entity_get(entity)->name));
  json_object_set_new(o, "source", json_string(plan_str(c->p, c->p->sources[source].name)));
  if (sid) json_object_set_new(o, "sid", json_string(sid));
  if (where) json_object_set_new(o, "where", json_string(where));
  json_object_set_new(o, "reason", json_string(msg));
  json_array_append_new(c->r->report, o);
}

/* The operations that change the hub (a plan that has one exits 2). */
static int is_change_op(const char *k) {
  static const char *const kinds[] = {"create", "update", "deactivate", "delete", "reactivate", "link", "unlink", NULL};
  for (int i = 0; k && kinds[i]; i++)
    if (!strcmp(k, kinds[i])) return 1;
  return 0;
}

/* Spilled as soon as computed: memory never holds the run's operations. */
static void op(ctx *c, json_t *o) {
  if (is_change_op(json_string_value(json_object_get(o, "op")))) c->r->nchanges++;
  oplog_add(c->r->ops, o);
}

static int attr_index(const ctx *c, int entity, const char *name) {
  for (int i = 0; i < c->nattrs[entity]; i++)
    if (strcmp(c->names[entity][i], name) == 0) return i;
  return -1;
}

static const char *str_of(arena *a, value v) {
  value s = v_to_string(a, v);
  return arena_strndup(a, s.u.s, s.len);
}

/* "Ada Lovelace" for people, the title or name otherwise, else the id (in
 * the scratch arena: it goes into an operation and is forgotten). */
static const char *label_of(ctx *c, int entity, const value *attrs, const char *sid) {
  int f = c->slot[entity].first_name, l = c->slot[entity].last_name;
  if (f >= 0 && l >= 0 && (attrs[f].kind != V_NULL || attrs[l].kind != V_NULL)) {
    const char *fs = attrs[f].kind == V_NULL ? "" : str_of(&c->tmp, attrs[f]);
    const char *ls = attrs[l].kind == V_NULL ? "" : str_of(&c->tmp, attrs[l]);
    size_t n = strlen(fs) + strlen(ls) + 2;
    char *b = arena_alloc(&c->tmp, n);
    snprintf(b, n, "%s%s%s", fs, *fs && *ls ? " " : "", ls);
    return b;
  }
  const int slots[] = {c->slot[entity].name, c->slot[entity].title};
  for (int k = 0; k < 2; k++)
    if (slots[k] >= 0 && attrs[slots[k]].kind != V_NULL) return str_of(&c->tmp, attrs[slots[k]]);
  return sid ? sid : "";
}

static json_t *record_json(ctx *c, int entity, const value *attrs) {
  json_t *o = json_object();
  for (int i = 0; i < c->nattrs[entity]; i++)
    if (attrs[i].kind != V_NULL) json_object_set_new(o, c->names[entity][i], to_json(attrs[i]));
  return o;
}

/* The content hash its link will keep (rechash.h). */
static uint64_t record_hash(ctx *c, int entity, const value *attrs) {
  return rechash_record(c->name_keys[entity], c->order[entity], c->nattrs[entity], attrs);
}

/* Reads a record's body into the scratch arena (valid until it is rewound). */
static value *load_rec(ctx *c, const inrec *rec, const char **where) {
  int n = c->nattrs[rec->entity];
  value *attrs = arena_alloc(&c->tmp, ((size_t)n + 1) * sizeof *attrs);
  const char *w = "";
  uint64_t h;
  if (!spill_get(c->spill, rec->off, rec->len, &c->tmp, &w, &h, attrs, n)) {
    c->spill_broken = 1; /* run_compute fails the run */
    w = "";
    for (int i = 0; i < n; i++) attrs[i] = v_null();
  }
  if (where) *where = w;
  return attrs;
}

/* ---- fetch, map, schools, filter, require, prefix ------------------------------- */

static const char *prefix_of(ctx *c, uint32_t source) {
  char buf[256];
  const char *why;
  const char *v = feed_setting(c->p, source, "prefix", buf, sizeof buf, &why);
  return v ? arena_strndup(&c->ar, v, strlen(v)) : "";
}

static int is_bulk(ctx *c, uint32_t source) {
  char buf[16];
  const char *why;
  const char *v = feed_setting(c->p, source, "bulk", buf, sizeof buf, &why);
  return v && strcmp(v, "true") == 0;
}

/* The prefixed value, in the VM's per-record arena. */
static value prefixed(arena *a, const char *prefix, value v) {
  if (!*prefix || v.kind == V_NULL) return v;
  if (v.kind == V_LIST) {
    value *items = arena_alloc(a, ((size_t)v.len + 1) * sizeof *items);
    for (uint32_t i = 0; i < v.len; i++) items[i] = prefixed(a, prefix, v.u.items[i]);
    return v_list(items, v.len);
  }
  value s = v_to_string(a, v);
  size_t pl = strlen(prefix);
  char *b = arena_alloc(a, pl + s.len + 1);
  memcpy(b, prefix, pl);
  memcpy(b + pl, s.u.s, s.len);
  b[pl + s.len] = 0;
  return v_str(b, pl + s.len);
}

typedef struct {
  ctx *c;
  const char *where;
  uint32_t source;
  int entity;
} warn_ctx;

static void on_warning(void *vp, uint32_t loc, const char *msg) {
  warn_ctx *w = vp;
  char at[300];
  if (loc < w->c->p->nlocs)
    snprintf(at, sizeof at, "%s:%u", plan_str(w->c->p, w->c->p->locs[loc].file), w->c->p->locs[loc].line);
  else
    snprintf(at, sizeof at, "?");
  report(w->c, "warning", w->entity, w->source, NULL, w->where, "%s (spec line %s)", msg, at);
}

static const char *id_key(arena *a, uint32_t source, int entity, const char *sid);

static const char *rule_text(ctx *c, arena *a, const plan_unit *u, uint32_t rule) {
  const plan_rule *pr = &u->rules[rule];
  static const char *const words[] = {"keep if", "drop if", "skip if missing", "report if missing"};
  char *b = arena_alloc(a, 400);
  const plan_loc *l = &c->p->locs[pr->loc];
  snprintf(b, 400, "%s at %s:%u", words[pr->kind], plan_str(c->p, l->file), l->line);
  return b;
}

/* The record's sis_id as the hub will know it (prefixed), for a report:
 * *sid, made on the first call. */
static const char *report_sid(arena *a, const char **sid, const char *prefix, value id) {
  if (!*sid && id.kind != V_NULL) *sid = str_of(a, prefixed(a, prefix, id));
  return *sid;
}

/* The next record of a feed, from its pipe or (pipe NULL) read here into
 * own, the time that takes added to *read_here. */
static int next_record(feed *f, feedpipe *pipe, value *own, value **row, const char **where, int *deleted, arena *a, char *err,
                       size_t errsize, double *read_here) {
  if (pipe) return fpipe_next(pipe, row, where, deleted, err, errsize);
  double t0 = now_s();
  int rc = feed_next(f, own, a, err, errsize);
  *row = own, *where = feed_where(f), *deleted = feed_deleted(f);
  *read_here += now_s() - t0;
  return rc;
}

/* Maps one unit's records.  `ahead`: its pipe, opened while an earlier
 * unit was mapped (fpipe_open), taken; NULL: opened here. */
static int fetch_unit(ctx *c, vm *v, uint32_t ui, feedpipe *ahead) {
  const plan *p = c->p;
  const plan_unit *u = &p->units[ui];
  int e = u->entity;
  char err[1200];
  double t0 = now_s(); /* opening counts as reading: a join reads its other resources then */
  feed *f = ahead ? fpipe_opened(ahead, err, sizeof err) : feed_open(p, ui, err, sizeof err);
  if (!f) {
    snprintf(c->r->error, sizeof c->r->error, "%s", err);
    fpipe_stop(ahead);
    return 0;
  }
  const char *prefix = prefix_of(c, u->source);
  int school_slot = attr_index(c, e, e == ENT_school ? "sis_id" : "school");
  int id_slot = attr_index(c, e, "sis_id");
  value *fields = calloc(u->nfields + 1, sizeof *fields);
  value attrs[MAX_ATTRS];
  warn_ctx wc = {c, NULL, u->source, e};
  v->warn = on_warning;
  v->warn_ctx = &wc;
  int rc, ok = 1, deleted;
  /* Read on the other core, a batch ahead (feedpipe.h); on this one when
   * no thread can be had.  t_read is then the time spent waiting for it. */
  feedpipe *pipe = ahead ? ahead : fpipe_start(f, (int)u->nfields);
  value *row;
  const char *where;
  double t1 = now_s(), read_here = 0;
  c->r->t_read += t1 - t0;
  while ((rc = next_record(f, pipe, fields, &row, &where, &deleted, &v->ar, err, sizeof err, &read_here)) != FEED_END) {
    c->r->records++;
    if (rc == FEED_BAD_ROW || rc == FEED_ERROR) {
      snprintf(c->r->error, sizeof c->r->error, "%s", err);
      ok = 0;
      break;
    }
    wc.where = where;
    c->sent[u->source][e]++;
    for (int i = 0; i < c->nattrs[e]; i++) attrs[i] = v_null(); /* the plan's code names no attribute past these (plan_verify) */
    vm_result res;
    if (u->map_block != PLAN_NONE) vm_run(v, u->map_block, row, attrs, &res);
    /* The id reports name: the record's sis_id as the hub will know it,
     * made when a report first needs it (few records make one: made for
     * every record, it was two copies more of each id), but a school's
     * now, before its schools map changes it. */
    const char *sid = e == ENT_school && attrs[id_slot].kind != V_NULL ? str_of(&v->ar, attrs[id_slot]) : NULL;
    if (deleted) { /* a OneRoster delta deletion: the record is gone */
      if (report_sid(&v->ar, &sid, prefix, attrs[id_slot])) map_put(&c->deleted, id_key(&c->ar, u->source, e, sid), 1);
      vm_reset_record(v);
      continue;
    }
    /* schools */
    if (school_slot >= 0) {
      value code;
      int sr = plan_map_school(p, u->source, attrs[school_slot], &code);
      if (sr == SCHOOL_SKIPPED || sr == SCHOOL_UNMAPPED) {
        c->r->counts[e][CNT_LEFT_OUT]++;
        report(c, "left out", e, u->source, report_sid(&v->ar, &sid, prefix, attrs[id_slot]), wc.where, "school %s is %s the schools map", str_of(&v->ar, attrs[school_slot]),
               sr == SCHOOL_SKIPPED ? "skipped by" : "not in");
        vm_reset_record(v);
        continue;
      }
      attrs[school_slot] = code;
    }
    if (u->filter_block != PLAN_NONE) {
      vm_run(v, u->filter_block, row, attrs, &res);
      if (res.outcome == VM_DROPPED) {
        c->r->counts[e][CNT_DROPPED]++;
        report(c, "dropped", e, u->source, report_sid(&v->ar, &sid, prefix, attrs[id_slot]), wc.where, "%s", rule_text(c, &v->ar, u, res.rule));
        vm_reset_record(v);
        continue;
      }
    }
    int reported = 0;
    if (u->require_block != PLAN_NONE) {
      vm_run(v, u->require_block, row, attrs, &res);
      if (res.outcome == VM_SKIPPED) {
        c->r->counts[e][CNT_SKIPPED]++;
        report(c, "skipped", e, u->source, report_sid(&v->ar, &sid, prefix, attrs[id_slot]), wc.where, "%s is missing (%s)", c->names[e][res.attr],
               rule_text(c, &v->ar, u, res.rule));
        vm_reset_record(v);
        continue;
      }
      for (int k = 0; k < res.nreported; k++)
        report(c, "reported", e, u->source, report_sid(&v->ar, &sid, prefix, attrs[id_slot]), wc.where, "%s is missing (%s)", c->names[e][res.reported_attr[k]],
               rule_text(c, &v->ar, u, res.reported_rule[k]));
      reported = res.nreported > 0;
    }
    if (reported) c->r->counts[e][CNT_REPORTED]++;
    /* prefix: sis_id and references, never hub school codes */
    const schema_entity *en = schema_entity_get(e);
    for (int i = 0; i < en->nattrs; i++) {
      int ref = en->attrs[i].ref;
      int is_id = i == id_slot; /* the schema's attributes come first, in order */
      if ((is_id && e != ENT_school) || (ref != REF_NONE && ref != REF_SCHOOL)) attrs[i] = prefixed(&v->ar, prefix, attrs[i]);
    }
    if (c->nrecs == c->caprecs) {
      c->caprecs = c->caprecs ? c->caprecs * 2 : 256;
      c->recs = realloc(c->recs, c->caprecs * sizeof *c->recs);
    }
    inrec *rec = &c->recs[c->nrecs++];
    memset(rec, 0, sizeof *rec);
    rec->unit = ui;
    rec->source = (uint8_t)u->source;
    rec->entity = (uint8_t)e;
    value id = attrs[id_slot].kind == V_NULL ? attrs[id_slot] : v_to_string(&v->ar, attrs[id_slot]);
    if (id.kind == V_NULL) {
      c->nrecs--;
      c->r->counts[e][CNT_SKIPPED]++;
      report(c, "skipped", e, u->source, NULL, wc.where, "the record has no sis_id");
    } else {
      rec->sid = arena_strpack(&c->ar, id.u.s, strnlen(id.u.s, id.len)); /* to a NUL, as the C string it becomes */
      spill_put(c->spill, wc.where, record_hash(c, e, attrs), attrs, c->nattrs[e], &rec->off, &rec->len);
    }
    vm_reset_record(v);
  }
  double waited = pipe ? fpipe_waited(pipe) : read_here;
  c->r->t_read += waited;
  c->r->t_map += now_s() - t1 - waited;
  fpipe_stop(pipe);
  if (ok) c->fed[u->source][e] = 1;
  if (ok && feed_is_delta(f)) c->delta[u->source][e] = 1;
  free(fields);
  feed_close(f);
  return ok;
}

/* ---- indexes ---------------------------------------------------------------------- */

/* "source/entity/sid": the key of a OneRoster delta's deleted records. */
static const char *id_key(arena *a, uint32_t source, int entity, const char *sid) {
  size_t n = strlen(sid) + 32;
  char *k = arena_alloc(a, n);
  snprintf(k, n, "%u/%d/%s", source, entity, sid);
  return k;
}

static uint64_t id_hash(uint32_t source, int entity, const char *sid) {
  return fp_hash(sid, strlen(sid), (uint64_t)source << 8 | (uint64_t)entity);
}

/* Lookups are made a batch at a time, the memory each will touch asked
 * for first (its slot in the id index, then its record, then the record's
 * id): one lookup waited on three cache misses in a row, and that was the
 * most of a re-sync's reference check and link phase. */
#define LOOKUP_BATCH 16

/* Indexes hold hashes; the record's own sid (in memory) settles a match. */
static void index_records(ctx *c) {
  fp_reserve(&c->by_id, c->nrecs);
  /* Hashed a batch ahead, their slots prefetched: the table is far larger
   * than the caches, and each put waited for its slot's line. */
  uint64_t h[LOOKUP_BATCH];
  for (size_t i = 0; i < c->nrecs; i += LOOKUP_BATCH) {
    size_t n = c->nrecs - i < LOOKUP_BATCH ? c->nrecs - i : LOOKUP_BATCH;
    for (size_t k = 0; k < n; k++) {
      const inrec *r = &c->recs[i + k];
      h[k] = id_hash(r->source, r->entity, r->sid);
      fp_prefetch(&c->by_id, h[k]);
    }
    for (size_t k = 0; k < n; k++) {
      const inrec *r = &c->recs[i + k];
      fp_put(&c->by_id, h[k], (uint32_t)(i + k));
      if (r->entity == ENT_school) fp_put(&c->schools, fp_hash(r->sid, strlen(r->sid), 0), (uint32_t)(i + k));
    }
  }
}

/* Whether the source sent a record of the entity with this id in this run. */
static int has_record(ctx *c, uint32_t source, int entity, const char *sid) {
  size_t pos = 0;
  uint32_t i;
  uint64_t h = id_hash(source, entity, sid);
  while (fp_next(&c->by_id, h, &pos, &i)) {
    const inrec *r = &c->recs[i];
    if (r->source == source && r->entity == entity && !strcmp(r->sid, sid)) return 1;
  }
  return 0;
}

static void prefetch_ids(ctx *c, const uint64_t *h, int n) {
  uint32_t first[LOOKUP_BATCH * 4];
  int has[LOOKUP_BATCH * 4];
  for (int k = 0; k < n; k++) fp_prefetch(&c->by_id, h[k]);
  for (int k = 0; k < n; k++)
    if ((has[k] = fp_first(&c->by_id, h[k], &first[k]))) __builtin_prefetch(&c->recs[first[k]]);
  for (int k = 0; k < n; k++)
    if (has[k]) __builtin_prefetch(c->recs[first[k]].sid);
}

/* Whether any source sent a school with this code in this run. */
static int has_school(ctx *c, const char *code) {
  size_t pos = 0;
  uint32_t i;
  uint64_t h = fp_hash(code, strlen(code), 0);
  while (fp_next(&c->schools, h, &pos, &i))
    if (!strcmp(c->recs[i].sid, code)) return 1;
  return 0;
}

/* ---- references ---------------------------------------------------------------- */

static int64_t linked_hub(ctx *c, const char *source, int entity, const char *sid, int *gone, uint64_t *head);

/* A live link (a record the source still sends) for this id. */
static int link_exists(ctx *c, const char *source, int entity, const char *sid) {
  int gone;
  return linked_hub(c, source, entity, sid, &gone, NULL) != 0 && !gone;
}

/* Whether the hub has a school with this code. */
static int hub_school(ctx *c, const char *code) {
  if (!c->st_school && sqlite3_prepare_v2(c->s->db, "SELECT 1 FROM hub_school WHERE sis_id = ?", -1, &c->st_school, NULL) != SQLITE_OK)
    return 0;
  sqlite3_reset(c->st_school);
  sqlite3_bind_text(c->st_school, 1, code, -1, SQLITE_TRANSIENT);
  int found = sqlite3_step(c->st_school) == SQLITE_ROW;
  sqlite3_reset(c->st_school);
  return found;
}

/* The kinds of record a reference to `target` may name (a user: any kind
 * a user can be), as the range [*lo, *hi] with user_kind() to skip others. */
static void ref_kinds(int target, int *lo, int *hi) {
  *lo = *hi = target;
  if (target == REF_USER) *lo = 0, *hi = ENT__COUNT - 1;
}

static int user_kind(int e) { return e == ENT_student || e == ENT_teacher || e == ENT_contact || e == ENT_admin; }

/* Whether this run's records hold what the reference names.  Memory only:
 * safe on any thread (check_references shares it out). */
static int ref_in_run(ctx *c, uint32_t source, int target, const char *id) {
  if (target == REF_SCHOOL) return has_school(c, id);
  int lo, hi;
  ref_kinds(target, &lo, &hi);
  for (int e = lo; e <= hi; e++)
    if ((target != REF_USER || user_kind(e)) && has_record(c, source, e, id)) return 1;
  return 0;
}

/* This run's records first, for every kind a user can be, then the hub:
 * a teacher's enrollment asked the hub whether its user was a student
 * before finding the teacher among this run's records. */
static int ref_found(ctx *c, uint32_t source, int target, const char *id) {
  if (ref_in_run(c, source, target, id)) return 1;
  if (target == REF_SCHOOL) return hub_school(c, id);
  int lo, hi;
  ref_kinds(target, &lo, &hi);
  for (int e = lo; e <= hi; e++)
    if ((target != REF_USER || user_kind(e)) && link_exists(c, plan_str(c->p, c->p->sources[source].name), e, id)) return 1;
  return 0;
}

/* Whether the unit's require block skips on a missing `attr`. */
static int skips_on(const plan *p, const plan_unit *u, int attr) {
  if (u->require_block == PLAN_NONE) return 0;
  const plan_block *b = &p->blocks[u->require_block];
  for (uint32_t pc = 0; pc < b->len; pc += (uint32_t)op_size(b->code[pc]))
    if (b->code[pc] == OP_SKIP_IF_MISSING && (int)rd16(b->code + pc + 3) == attr) return 1;
  return 0;
}

/* Reports (or skips) a record whose references name nothing. */
/* The ids a record's references name, one at a time: each attribute that
 * refers (a list's every item), but a school code when no source feeds
 * schools (the codes are then the hub's own). */
typedef struct {
  const schema_entity *en;
  const value *attrs;
  int any_school_source;
  arena *a;   /* where an id that is not a string already is made */
  int at;     /* the attribute... */
  uint32_t k; /* ...and its item, next */
} ref_walk;

static ref_walk refs_of(const inrec *rec, const value *attrs, int any_school_source, arena *a) {
  return (ref_walk){schema_entity_get(rec->entity), attrs, any_school_source, a, 0, 0};
}

/* The next id (its attribute in *attr, what it names in *ref); NULL after
 * the last. */
static const char *next_ref(ref_walk *w, int *attr, int *ref) {
  for (; w->at < w->en->nattrs; w->at++, w->k = 0) {
    int r = w->en->attrs[w->at].ref;
    value v = w->attrs[w->at];
    if (r == REF_NONE || v.kind == V_NULL || (r == REF_SCHOOL && !w->any_school_source)) continue;
    if (w->k >= (v.kind == V_LIST ? v.len : 1)) continue;
    value item = v.kind == V_LIST ? v.u.items[w->k] : v;
    w->k++;
    *attr = w->at, *ref = r;
    return item.kind == V_STR ? item.u.s : str_of(w->a, item); /* spilled strings end in a NUL */
  }
  return NULL;
}

static void check_record(ctx *c, inrec *rec, const value *attrs, const char *where, int any_school_source) {
  if (rec->parked) return; /* left out already */
  const schema_entity *en = schema_entity_get(rec->entity);
  ref_walk w = refs_of(rec, attrs, any_school_source, &c->tmp);
  int a, ref;
  for (const char *id; (id = next_ref(&w, &a, &ref));) {
    if (ref_found(c, rec->source, ref, id)) continue;
    const char *target = ref == REF_USER ? "user" : schema_entity_get(ref)->name;
    if (skips_on(c->p, &c->p->units[rec->unit], a)) {
      rec->parked = 2; /* skipped */
      c->r->counts[rec->entity][CNT_SKIPPED]++;
      report(c, "skipped", rec->entity, rec->source, rec->sid, where, "%s %s names no %s", en->attrs[a].name, id, target);
      return;
    }
    c->r->counts[rec->entity][CNT_REPORTED]++;
    report(c, "reported", rec->entity, rec->source, rec->sid, where, "%s %s names no %s (the record is kept)",
           en->attrs[a].name, id, target);
  }
}

/* The id-index lookups a record's references will start with (a user's:
 * as a student), for prefetch_ids; at most room. */
static int ref_hashes(const inrec *rec, const value *attrs, uint64_t *out, int room) {
  const schema_entity *en = schema_entity_get(rec->entity);
  int n = 0;
  for (int a = 0; a < en->nattrs && n < room; a++) {
    int ref = en->attrs[a].ref;
    if (ref == REF_NONE || ref == REF_SCHOOL || attrs[a].kind != V_STR) continue;
    out[n++] = id_hash(rec->source, ref == REF_USER ? ENT_student : ref, attrs[a].u.s); /* spilled strings end in a NUL */
  }
  return n;
}

/* How many records a thread of the reference check takes at a time (par.h). */
#define REF_CHUNK 1024

/* The reference check, shared out.  Two threads (par_for) find which
 * records have a reference that names nothing among this run's records:
 * that is memory alone, and nearly every reference.  The rest (slow[i])
 * check_record sees afterwards on this thread, in the records' order: it
 * may ask the hub, on this thread's connection, and its reports keep the
 * order they had. */
typedef struct {
  ctx *c;
  uint8_t *slow; /* 1: check_record must see record i */
  int any_school_source;
  int has_refs[ENT__COUNT];
  spill_window win[PAR_WORKERS];
  arena tmp[PAR_WORKERS];
} ref_pass;

/* Whether each reference of the record names a record of this run (ids
 * made in a, when a value is not a string already). */
static int refs_in_run(ctx *c, const inrec *rec, const value *attrs, int any_school_source, arena *a) {
  ref_walk w = refs_of(rec, attrs, any_school_source, a);
  int at, ref;
  for (const char *id; (id = next_ref(&w, &at, &ref));)
    if (!ref_in_run(c, rec->source, ref, id)) return 0;
  return 1;
}

/* Records [from, to), on thread `worker`: read sixteen at a time, the
 * memory their lookups will touch asked for first (prefetch_ids). */
static void ref_chunk(void *arg, int worker, size_t from, size_t to) {
  ref_pass *rp = arg;
  ctx *c = rp->c;
  arena *a = &rp->tmp[worker];
  for (size_t i = from; i < to;) {
    size_t idx[LOOKUP_BATCH];
    value *attrs[LOOKUP_BATCH];
    uint64_t h[LOOKUP_BATCH * 4];
    int nb = 0, nh = 0;
    arena_rewind(a);
    for (; i < to && nb < LOOKUP_BATCH; i++) {
      const inrec *rec = &c->recs[i];
      if (!rp->has_refs[rec->entity]) continue;
      int n = c->nattrs[rec->entity];
      value *v = arena_alloc(a, ((size_t)n + 1) * sizeof *v);
      const char *where;
      uint64_t hash;
      if (!spill_get_in(c->spill, &rp->win[worker], rec->off, rec->len, a, &where, &hash, v, n)) {
        rp->slow[i] = 1; /* check_record's own read of it says what failed */
        continue;
      }
      idx[nb] = i, attrs[nb] = v;
      nh += ref_hashes(rec, v, h + nh, LOOKUP_BATCH * 4 - nh);
      nb++;
    }
    prefetch_ids(c, h, nh);
    for (int k = 0; k < nb; k++)
      if (!refs_in_run(c, &c->recs[idx[k]], attrs[k], rp->any_school_source, a)) rp->slow[idx[k]] = 1;
  }
}

static void check_references(ctx *c) {
  ref_pass rp = {.c = c};
  for (uint32_t i = 0; i < c->p->nunits; i++) rp.any_school_source |= c->p->units[i].entity == ENT_school;
  for (int e = 0; e < ENT__COUNT; e++)
    for (int a = 0; a < schema_entity_get(e)->nattrs; a++) rp.has_refs[e] |= schema_entity_get(e)->attrs[a].ref != REF_NONE;
  /* Zeroed pages that only a slow record writes to: a run without one
   * never touches them. */
  rp.slow = calloc(c->nrecs + 1, 1);
  if (rp.slow) {
    spill_settle(c->spill); /* if it fails, every read does, and check_record's says so */
    par_for(c->nrecs, REF_CHUNK, ref_chunk, &rp);
  }
  for (int w = 0; w < PAR_WORKERS; w++) spill_window_free(&rp.win[w]), arena_free(&rp.tmp[w]);
  for (size_t i = 0; i < c->nrecs; i++) {
    inrec *rec = &c->recs[i];
    if (!rp.has_refs[rec->entity] || (rp.slow && !rp.slow[i])) continue; /* no memory for slow[]: every record here */
    const char *where;
    arena_rewind(&c->tmp);
    const value *attrs = load_rec(c, rec, &where);
    check_record(c, rec, attrs, where, rp.any_school_source);
  }
  free(rp.slow);
}

/* ---- link ------------------------------------------------------------------------ */

/* Prepares a (source, entity, source id) lookup into *slot once, and
 * returns it reset with the three bound and stepped once: SQLITE_ROW when
 * there is a row. */
static int keyed_step(ctx *c, sqlite3_stmt **slot, const char *sql, const char *source, int entity, const char *sid) {
  if (!*slot && sqlite3_prepare_v2(c->s->db, sql, -1, slot, NULL) != SQLITE_OK) return SQLITE_ERROR;
  sqlite3_reset(*slot);
  /* Not copied (SQLITE_STATIC): each caller resets the statement before
   * the strings can go. */
  sqlite3_bind_text(*slot, 1, source, -1, SQLITE_STATIC);
  sqlite3_bind_text(*slot, 2, schema_entity_get(entity)->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(*slot, 3, sid, -1, SQLITE_STATIC);
  return sqlite3_step(*slot);
}

/* The head a link keeps (column col of st): 0 for none. */
static uint64_t link_head(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_INTEGER ? (uint64_t)sqlite3_column_int64(st, col) : 0;
}

/* The object a source record is linked to; *gone when the link is one the
 * source had dropped (the record is coming back).  `head` (when not NULL)
 * gets the head of the content hash of what the source sent last, 0 when
 * the link keeps none. */
static int64_t linked_hub(ctx *c, const char *source, int entity, const char *sid, int *gone, uint64_t *head) {
  int64_t id = 0;
  *gone = 0;
  if (head) *head = 0;
  if (keyed_step(c, &c->st_link, STORE_LINK_BY_KEY, source, entity, sid) == SQLITE_ROW) {
    id = sqlite3_column_int64(c->st_link, 0), *gone = sqlite3_column_int(c->st_link, 1);
    if (head) *head = link_head(c->st_link, 2);
  }
  if (c->st_link) sqlite3_reset(c->st_link);
  return id;
}

/* The record's content hash alone (its attributes stay in the spill); 0
 * when the spill could not be read. */
static uint64_t rec_hash(ctx *c, const inrec *rec) {
  uint64_t h = 0;
  if (!spill_hash(c->spill, rec->off, rec->len, &h)) c->spill_broken = 1; /* run_compute fails the run */
  return h;
}

/* Whether sync_decisions may answer for a record of source s's feed of
 * entity e.  Asked once per feed: a first sync asked the table once per
 * record that had no link, a million times at 100,000 students, and it is
 * nearly always empty. */
static int may_have_decision(ctx *c, uint32_t s, int e) {
  if (s >= 64) return 1;
  if (!c->decided[s][e]) {
    sqlite3_stmt *st;
    int some = 1; /* if it cannot be asked, every record is */
    if (sqlite3_prepare_v2(c->s->db, "SELECT 1 FROM sync_decisions WHERE source = ?1 AND entity = ?2 LIMIT 1", -1, &st, NULL) ==
        SQLITE_OK) {
      sqlite3_bind_text(st, 1, plan_str(c->p, c->p->sources[s].name), -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, schema_entity_get(e)->name, -1, SQLITE_STATIC);
      some = sqlite3_step(st) != SQLITE_DONE;
    }
    sqlite3_finalize(st);
    c->decided[s][e] = some ? 2 : 1;
  }
  return c->decided[s][e] == 2;
}

static const char *decision(ctx *c, const char *source, int entity, const char *sid, int64_t *hub) {
  const char *d = NULL;
  *hub = 0;
  if (keyed_step(c, &c->st_decision, "SELECT decision, hub_id FROM sync_decisions WHERE source=? AND entity=? AND source_id=?",
                 source, entity, sid) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(c->st_decision, 0);
    d = arena_strndup(&c->tmp, t, strlen(t));
    *hub = sqlite3_column_int64(c->st_decision, 1);
  }
  if (c->st_decision) sqlite3_reset(c->st_decision);
  return d;
}

/* Whether every attribute of the domain is a TEXT column of the hub. */
static int domain_text_columns(ctx *c, const plan_domain *d) {
  const schema_entity *en = schema_entity_get(d->entity);
  for (uint32_t k = 0; k < d->nattrs; k++) {
    int a = attr_index(c, d->entity, plan_str(c->p, d->attrs[k]));
    if (a < 0 || a >= en->nattrs || strcmp(store_column_type(en->attrs[a].type), "TEXT") != 0) return 0;
  }
  return d->nattrs > 0 && d->nattrs <= 16;
}

/* Reads the domain's columns of every hub object once, as hashes. */
static void build_dom_index(ctx *c, struct dom_index *x, const plan_domain *d) {
  char sql[1024], check[1024];
  const char *ent = schema_entity_get(d->entity)->name;
  size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT hub_id"), m = (size_t)snprintf(check, sizeof check, "SELECT 1 FROM hub_%s WHERE hub_id = ?1", ent);
  for (uint32_t k = 0; k < d->nattrs; k++) {
    n += (size_t)snprintf(sql + n, sizeof sql - n, ", \"%s\"", plan_str(c->p, d->attrs[k]));
    m += (size_t)snprintf(check + m, sizeof check - m, " AND \"%s\" = ?%u", plan_str(c->p, d->attrs[k]), k + 2);
  }
  snprintf(sql + n, sizeof sql - n, " FROM hub_%s", ent);
  sqlite3_stmt *st;
  x->state = -1;
  if (sqlite3_prepare_v2(c->s->db, check, -1, &x->check, NULL) != SQLITE_OK || sqlite3_prepare_v2(c->s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return;
  size_t cnt = 0, cap = 0;
  arena ka = {0}; /* its own: the caller's record lives in c->tmp */
  while (sqlite3_step(st) == SQLITE_ROW) {
    arena_rewind(&ka);
    char *key = NULL;
    size_t len = 0;
    for (uint32_t k = 0; k < d->nattrs && (k == 0 || key); k++) {
      const char *t = (const char *)sqlite3_column_text(st, (int)k + 1);
      size_t tl = (size_t)sqlite3_column_bytes(st, (int)k + 1);
      char *nk = t ? arena_alloc(&ka, len + tl + 2) : NULL;
      if (nk && k) memcpy(nk, key, len), nk[len++] = '\x1f';
      if (nk) memcpy(nk + len, t, tl), len += tl;
      key = nk;
    }
    if (!key) continue; /* a NULL column: SQL's = never matches it */
    if (cnt == cap) x->ids = realloc(x->ids, (cap = cap ? cap * 2 : 1024) * sizeof *x->ids);
    x->ids[cnt] = sqlite3_column_int64(st, 0);
    fp_put(&x->map, fp_hash(key, len, 0), (uint32_t)cnt++);
  }
  sqlite3_finalize(st);
  arena_free(&ka);
  x->state = 1;
}

/* hub_match through the domain's index: the lowest hub id among the
 * candidates that SQL confirms.  -1: this record cannot use the index. */
static int64_t hub_match_indexed(ctx *c, uint32_t di, const plan_domain *d, const value *attrs) {
  struct dom_index *x = &c->dom_idx[di];
  if (!x->state && !domain_text_columns(c, d)) x->state = -1;
  if (x->state < 0) return -1;
  size_t len = 0;
  char key[4096];
  int a[16];
  for (uint32_t k = 0; k < d->nattrs; k++) {
    a[k] = attr_index(c, d->entity, plan_str(c->p, d->attrs[k]));
    value v = attrs[a[k]];
    if (v.kind != V_STR || len + v.len + 1 > sizeof key) return -1; /* SQL's affinity rules decide for anything else */
    if (k) key[len++] = '\x1f';
    memcpy(key + len, v.u.s, v.len);
    len += v.len;
  }
  if (!x->state) build_dom_index(c, x, d);
  if (x->state < 0) return -1;
  int64_t best = 0;
  size_t pos = 0;
  uint32_t i;
  uint64_t h = fp_hash(key, len, 0);
  while (fp_next(&x->map, h, &pos, &i)) {
    if (best && x->ids[i] >= best) continue;
    sqlite3_reset(x->check);
    sqlite3_bind_int64(x->check, 1, x->ids[i]);
    for (uint32_t k = 0; k < d->nattrs; k++) store_bind(x->check, (int)k + 2, attrs[a[k]], &c->tmp);
    if (sqlite3_step(x->check) == SQLITE_ROW) best = x->ids[i];
    sqlite3_reset(x->check);
  }
  return best;
}

/* A hub object of `entity` whose domain attributes all equal the record's. */
static int64_t hub_match(ctx *c, uint32_t di, const plan_domain *d, const value *attrs) {
  int64_t fast = hub_match_indexed(c, di, d, attrs);
  if (fast >= 0) return fast;
  sqlite3_stmt *cached = di < 64 ? c->st_domain[di] : NULL, *st = cached;
  int64_t id = 0;
  if (!st) {
    char sql[1024];
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT hub_id FROM hub_%s WHERE 1", schema_entity_get(d->entity)->name);
    for (uint32_t k = 0; k < d->nattrs; k++)
      n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"%s\" = ?", plan_str(c->p, d->attrs[k]));
    snprintf(sql + n, sizeof sql - n, " ORDER BY hub_id LIMIT 1");
    if (sqlite3_prepare_v2(c->s->db, sql, -1, &st, NULL) != SQLITE_OK) return 0;
    if (di < 64) c->st_domain[di] = cached = st;
  }
  sqlite3_reset(st);
  for (uint32_t k = 0; k < d->nattrs; k++) {
    int a = attr_index(c, d->entity, plan_str(c->p, d->attrs[k]));
    store_bind(st, (int)k + 1, a >= 0 ? attrs[a] : v_null(), &c->tmp);
  }
  if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  if (cached) sqlite3_reset(st);
  else sqlite3_finalize(st);
  return id;
}

static int domain_complete(ctx *c, const plan_domain *d, const value *attrs) {
  for (uint32_t k = 0; k < d->nattrs; k++) {
    int a = attr_index(c, d->entity, plan_str(c->p, d->attrs[k]));
    if (a < 0 || v_missing(attrs[a])) return 0;
  }
  return 1;
}

/* The domain's values of a record as one key ("d3\x1fada@x.org"). */
static const char *domain_key(ctx *c, uint32_t d, const plan_domain *dom, const value *attrs) {
  size_t n = 32;
  value parts[16];
  uint32_t np = dom->nattrs < 16 ? dom->nattrs : 16;
  for (uint32_t k = 0; k < np; k++) {
    int a = attr_index(c, dom->entity, plan_str(c->p, dom->attrs[k]));
    parts[k] = v_to_string(&c->tmp, attrs[a]);
    n += parts[k].len + 1;
  }
  char *key = arena_alloc(&c->tmp, n);
  size_t at = (size_t)snprintf(key, n, "%u", d);
  for (uint32_t k = 0; k < np; k++) {
    key[at++] = '\x1f';
    memcpy(key + at, parts[k].u.s, parts[k].len);
    at += parts[k].len;
  }
  key[at] = 0;
  return key;
}

/* "email, last_name": made once per domain (records share it). */
static const char *domain_words(ctx *c, uint32_t di) {
  if (c->dom_words[di]) return c->dom_words[di];
  const plan_domain *d = &c->p->domains[di];
  char *b = arena_alloc(&c->ar, 256);
  size_t n = 0;
  for (uint32_t k = 0; k < d->nattrs && n < 200; k++) n += (size_t)snprintf(b + n, 256 - n, "%s%s", k ? ", " : "", plan_str(c->p, d->attrs[k]));
  return c->dom_words[di] = b;
}

/* How a record linked through an unattended domain was linked (once per domain). */
static const char *domain_text(ctx *c, uint32_t di) {
  if (c->dom_text[di]) return c->dom_text[di];
  const plan_domain *dom = &c->p->domains[di];
  char *dw = arena_alloc(&c->ar, 300);
  snprintf(dw, 300, "by the unattended domain (%s) at %s:%u", domain_words(c, di), plan_str(c->p, c->p->locs[dom->loc].file),
           c->p->locs[dom->loc].line);
  return c->dom_text[di] = dw;
}

/* The first record of this run (lowest number, as a first-wins map would
 * keep) whose values for domain d make `key`; its hash is only a hint. */
static int seen_domain(ctx *c, const fpmap *seen, uint32_t d, const char *key, uint32_t *found) {
  size_t pos = 0;
  uint32_t j;
  int any = 0;
  uint64_t h = fp_hash(key, strlen(key), 0);
  while (fp_next(seen, h, &pos, &j)) {
    if (any && j >= *found) continue;
    const value *other = load_rec(c, &c->recs[j], NULL);
    if (strcmp(domain_key(c, d, &c->p->domains[d], other), key) == 0) *found = j, any = 1;
  }
  return any;
}

static void park(ctx *c, inrec *rec, const value *attrs, int64_t candidate, const inrec *other, const char *domain) {
  rec->parked = 1;
  c->r->counts[rec->entity][CNT_CASES]++;
  json_t *o = json_object();
  json_object_set_new(o, "op", json_string("case"));
  json_object_set_new(o, "source", json_string(plan_str(c->p, c->p->sources[rec->source].name)));
  json_object_set_new(o, "entity", json_string(schema_entity_get(rec->entity)->name));
  json_object_set_new(o, "sid", json_string(rec->sid));
  json_object_set_new(o, "record", record_json(c, rec->entity, attrs));
  json_object_set_new(o, "candidate", candidate > 0 ? json_integer(candidate) : json_null());
  if (other) {
    json_object_set_new(o, "candidate_source", json_string(plan_str(c->p, c->p->sources[other->source].name)));
    json_object_set_new(o, "candidate_sid", json_string(other->sid));
  }
  json_object_set_new(o, "domain", json_string(domain));
  json_object_set_new(o, "label", json_string(label_of(c, rec->entity, attrs, rec->sid)));
  op(c, o);
}

/* The words a link operation gives for how its record was linked. */
static const char *rec_domain(ctx *c, const inrec *r) {
  switch (r->how) {
    case LINK_ID: return "id";
    case LINK_ID_AGAIN: return "by its id: the source sends it again";
    case LINK_DECISION: return "by a duplicate decision (syncvm duplicates merge)";
    case LINK_NEW: return "new";
    case LINK_NONE: return NULL;
    default: return domain_text(c, (uint32_t)(r->how - LINK_DOMAIN));
  }
}

/* Lists a loose link of feed f; 0 once the list is longer than a sixteenth
 * of the feed's records (then merge and deletions read the feed's links
 * again, as for a delta: a list that long would cost more memory than the
 * pass it saves). */
static int add_loose(ctx *c, feed_links *f, size_t records, const char *sid, int64_t hub, int sent) {
  if (!f->complete) return 0;
  loose_link *more = NULL;
  if (f->n == f->cap && f->n < records / 16 + 1024) more = realloc(f->v, (f->cap ? f->cap * 2 : 64) * sizeof *more);
  if (f->n == f->cap && more) f->v = more, f->cap = f->cap ? f->cap * 2 : 64;
  if (f->n == f->cap || f->n >= records / 16 + 1024) {
    free(f->v), f->v = NULL, f->n = f->cap = 0, f->complete = 0;
    return 0;
  }
  f->v[f->n++] = (loose_link){arena_strpack(&c->ar, sid, strlen(sid)), hub, sent};
  return 1;
}

/* One link row as scan_links read it: its sid copied out of SQLite's row. */
typedef struct {
  const char *sid;
  int64_t hub;
  int gone;
  uint64_t head, h;
} link_row;

/* Matches one link of feed (s, e) to the records of this run with its id. */
static void take_link(ctx *c, uint32_t s, int e, size_t records, uint64_t *heads, const link_row *l) {
  feed_links *f = &c->links[s][e];
  int sent = 0, linked = 0;
  size_t pos = 0;
  uint32_t i;
  while (l->sid && fp_next(&c->by_id, l->h, &pos, &i)) {
    inrec *r = &c->recs[i];
    if (r->source != s || r->entity != e || strcmp(r->sid, l->sid) != 0) continue;
    sent = 1;
    if (r->parked) continue;
    linked = 1;
    r->hub_id = l->hub;
    r->how = l->gone ? LINK_ID_AGAIN : LINK_ID;
    heads[i] = l->head;
  }
  if (l->gone || !l->sid) return;
  f->live++;
  if (!linked) add_loose(c, f, records, l->sid, l->hub, sent);
}

/* A batch of links (prefetch_ids). */
static void take_links(ctx *c, uint32_t s, int e, size_t records, uint64_t *heads, link_row *q, int n) {
  uint64_t h[LOOKUP_BATCH] = {0};
  for (int k = 0; k < n; k++) h[k] = q[k].h;
  prefetch_ids(c, h, n);
  for (int k = 0; k < n; k++) take_link(c, s, e, records, heads, &q[k]);
}

static int cmp_loose(const void *a, const void *b) {
  return strcmp(((const loose_link *)a)->sid, ((const loose_link *)b)->sid);
}

/* The links of full feeds (not deltas), read in one pass over
 * sync_link_rows in table order: each found record gets its object, and in
 * heads[] the head of the hash the link keeps.  Looking each record's link
 * up cost a B-tree descent through SQLite's VM per record, the most of a
 * re-sync's time.  scanned[s][e] says which feeds were read so; the same
 * pass lists in c->links the live links no record took back (sorted by
 * source id, the order deletions take them in), which spares merge and
 * deletions a pass of their own. */
static void scan_links(ctx *c, uint64_t *heads, uint8_t (*scanned)[ENT__COUNT]) {
  size_t per[64][ENT__COUNT] = {{0}};
  for (size_t i = 0; i < c->nrecs; i++)
    if (!c->recs[i].parked) per[c->recs[i].source][c->recs[i].entity]++;
  int64_t feeds[64 * ENT__COUNT];
  uint8_t ps[64 * ENT__COUNT], pe[64 * ENT__COUNT];
  int np = 0;
  for (uint32_t s = 0; s < c->p->nsources && s < 64; s++)
    for (int e = 0; e < ENT__COUNT; e++) {
      if (!per[s][e] || c->delta[s][e]) continue; /* a delta sends a few records of many: look those up */
      const char *src = plan_str(c->p, c->p->sources[s].name);
      int64_t id = store_feed(c->s, src, strlen(src), schema_entity_get(e)->name, 0);
      if (id < 0) continue; /* looked up one by one */
      c->links[s][e].complete = 1;
      if (!id) {
        scanned[s][e] = 1; /* no feed: no link */
        continue;
      }
      feeds[np] = id, ps[np] = (uint8_t)s, pe[np++] = (uint8_t)e;
    }
  /* Read on the other core (linkscan.h): this connection is not touched
   * here until ls_stop. */
  linkscan *ls = np ? ls_start(c->s->db, STORE_ALL_LINKS, feeds, np) : NULL;
  int end = ls ? 0 : -1; /* no scan: every feed is looked up one by one */
  link_row q[LOOKUP_BATCH];
  while (!end) {
    const ls_row *rows;
    int n = ls_next(ls, &rows, &end);
    /* Runs of rows of one feed (a feed's links are mostly together) go to
     * take_links a batch at a time. */
    for (int at = 0, m = 0; at < n; at += m) {
      int f = rows[at].feed;
      for (m = 0; m < LOOKUP_BATCH && at + m < n && rows[at + m].feed == f; m++) {
        const ls_row *r = &rows[at + m];
        q[m] = (link_row){r->sid, r->hub, r->gone, r->head, r->sid ? id_hash(ps[f], pe[f], r->sid) : 0};
      }
      take_links(c, ps[f], pe[f], per[ps[f]][pe[f]], heads, q, m);
    }
  }
  ls_stop(ls);
  for (int k = 0; k < np; k++) {
    feed_links *fl = &c->links[ps[k]][pe[k]];
    if (end == 1) {
      scanned[ps[k]][pe[k]] = 1;
      if (fl->n > 1) qsort(fl->v, fl->n, sizeof *fl->v, cmp_loose);
    } else { /* looked up one by one */
      free(fl->v), memset(fl, 0, sizeof *fl);
    }
  }
}

static void link_all(ctx *c) {
  fpmap seen_domains = {0}; /* hash of a domain key -> the records of this run that had it */
  int has_domains[ENT__COUNT] = {0};
  for (uint32_t d = 0; d < c->p->ndomains; d++) has_domains[c->p->domains[d].entity] = 1;
  uint64_t *heads = calloc(c->nrecs + 1, sizeof *heads); /* freed before merge, whose arrays are as large */
  uint8_t scanned[64][ENT__COUNT] = {{0}};
  scan_links(c, heads, scanned);
  for (size_t i = 0; i < c->nrecs; i++) {
    inrec *rec = &c->recs[i];
    if (rec->parked) continue;
    arena_rewind(&c->tmp);
    const value *attrs = NULL; /* read only when a domain needs it */
    const char *src = plan_str(c->p, c->p->sources[rec->source].name);
    if (scanned[rec->source][rec->entity]) {
      if (rec->hub_id > 0) {
        /* An unchanged record costs its share of the scan and a compare of
         * its hash with the link's (a change keeping it is about a 2^-64
         * chance: rechash.c). */
        rec->same = (uint8_t)(rec->how == LINK_ID && heads[i] && heads[i] == rec_hash(c, rec));
        continue;
      }
      rec->hub_id = 0; /* no link: the scan saw every one of the feed's */
    } else {
      int gone;
      uint64_t last;
      rec->hub_id = linked_hub(c, src, rec->entity, rec->sid, &gone, &last);
      if (rec->hub_id) {
        rec->how = gone ? LINK_ID_AGAIN : LINK_ID;
        /* An unchanged record costs this one lookup and a hash compare. */
        rec->same = (uint8_t)(!gone && last && last == rec_hash(c, rec));
        continue;
      }
    }
    int64_t dhub = 0;
    const char *dec = may_have_decision(c, rec->source, rec->entity) ? decision(c, src, rec->entity, rec->sid, &dhub) : NULL;
    if (dec && strcmp(dec, "ignore") == 0) {
      rec->parked = 2;
      continue;
    }
    if (dec && strcmp(dec, "merge") == 0 && dhub > 0) {
      rec->hub_id = dhub;
      rec->how = LINK_DECISION;
      continue;
    }
    if (has_domains[rec->entity]) attrs = load_rec(c, rec, NULL);
    if (attrs && (!dec || strcmp(dec, "new") != 0)) {
      for (uint32_t d = 0; d < c->p->ndomains && !rec->hub_id && !rec->parked; d++) {
        const plan_domain *dom = &c->p->domains[d];
        if (dom->entity != rec->entity || !domain_complete(c, dom, attrs)) continue;
        int64_t match = hub_match(c, d, dom, attrs);
        const inrec *other = NULL;
        const char *dkey = domain_key(c, d, dom, attrs);
        uint32_t j;
        if (!match && seen_domain(c, &seen_domains, d, dkey, &j)) match = c->recs[j].hub_id, other = &c->recs[j];
        if (!match) continue;
        if (dom->manual) {
          park(c, rec, attrs, match > 0 ? match : 0, other, domain_words(c, d));
        } else {
          rec->hub_id = match;
          rec->how = (uint16_t)(LINK_DOMAIN + d);
        }
      }
    }
    if (!rec->hub_id && !rec->parked) {
      rec->hub_id = -(++c->ntmp);
      rec->how = LINK_NEW;
    }
    /* Later records of this run can match this one, domain by domain. */
    if (rec->hub_id && !rec->parked && attrs)
      for (uint32_t d = 0; d < c->p->ndomains; d++) {
        const plan_domain *dom = &c->p->domains[d];
        if (dom->entity != rec->entity || !domain_complete(c, dom, attrs)) continue;
        const char *key = domain_key(c, d, dom, attrs);
        fp_put(&seen_domains, fp_hash(key, strlen(key), 0), (uint32_t)i);
      }
  }
  free(heads);
  fp_free(&seen_domains);
}

/* ---- operations as text --------------------------------------------------------------- */

/* Spilled as soon as computed: memory never holds the run's operations. */
static void op_text(ctx *c, jtext *t, int change) {
  if (change) c->r->nchanges++;
  oplog_add_text(c->r->ops, t->b, t->n);
}

/* An operation counted, its text not made: the oplog keeps none
 * (c->texts 0).  A first sync's creates were half of its plan's time,
 * formatted and written to be thrown away by `plan --summary`. */
static void op_counted(ctx *c, int change) {
  if (change) c->r->nchanges++;
  oplog_add_text(c->r->ops, "", 0);
}

/* json_equal(to_json(a), to_json(b)), the common kinds without making them. */
static int same_json(value a, value b) {
  if (a.kind == b.kind) switch (a.kind) {
      case V_NULL: return 1;
      case V_BOOL: return !a.u.i == !b.u.i;
      case V_INT: return a.u.i == b.u.i;
      case V_DATE: case V_TIME: /* one text per value, at least for those >= 0 (all real dates and times) */
        if (a.u.i >= 0 && b.u.i >= 0) return a.u.i == b.u.i;
        break;
      case V_STR: return a.len == b.len && (!a.len || !memcmp(a.u.s, b.u.s, a.len)) && jt_utf8_ok(a.u.s, a.len);
      case V_LIST: { /* arrays of the items to_json keeps, item by item */
        uint32_t i = 0, j = 0;
        for (;; i++, j++) {
          while (i < a.len && !rectext_ok(a.u.items[i])) i++;
          while (j < b.len && !rectext_ok(b.u.items[j])) j++;
          if (i == a.len || j == b.len) return i == a.len && j == b.len;
          if (!same_json(a.u.items[i], b.u.items[j])) return 0;
        }
      }
      default: break;
    }
  json_t *x = to_json(a), *y = to_json(b);
  int same = json_equal(x, y);
  json_decref(x), json_decref(y);
  return same;
}

/* ---- merge and diff ----------------------------------------------------------------- */

/* The source order for attribute `name` of `entity`: precedence rule for the
 * attribute, else the `*` rule, else declaration order.  Returns a rank
 * (lower wins) for `source`. */
static int rank_of(ctx *c, int entity, const char *name, uint32_t source, uint32_t *loc) {
  const plan_prec *rule = NULL, *star = NULL;
  for (uint32_t i = 0; i < c->p->nprecs; i++) {
    const plan_prec *r = &c->p->precs[i];
    if (r->entity != entity) continue;
    if (r->attr == PLAN_NONE) star = r;
    else if (strcmp(plan_str(c->p, r->attr), name) == 0) rule = r;
  }
  const plan_prec *use = rule ? rule : star;
  *loc = use ? use->loc : PLAN_NONE;
  if (use) {
    for (uint32_t k = 0; k < use->nsources; k++)
      if (use->sources[k] == source) return (int)k;
    return 1000 + (int)source;
  }
  return (int)source;
}

/* Which attributes each unit's map assigns: read from its code once, not
 * once per record and attribute. */
static void find_map_sets(ctx *c) {
  c->unit_sets = calloc(c->p->nunits + 1, sizeof *c->unit_sets);
  for (uint32_t ui = 0; ui < c->p->nunits; ui++) {
    const plan_unit *u = &c->p->units[ui];
    if (u->map_block == PLAN_NONE) continue;
    const plan_block *b = &c->p->blocks[u->map_block];
    for (uint32_t pc = 0; pc < b->len; pc += (uint32_t)op_size(b->code[pc]))
      if (b->code[pc] == OP_STORE_ATTR && rd16(b->code + pc + 1) < MAX_ATTRS) c->unit_sets[ui][rd16(b->code + pc + 1)] = 1;
  }
}

static int load_hub(ctx *c, int entity, int64_t hub_id, value *out) {
  const schema_entity *en = schema_entity_get(entity);
  if (!c->st_hub[entity]) {
    char sql[4096];
    size_t n = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    for (int i = 0; i < en->nattrs; i++) n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "", en->attrs[i].name);
    snprintf(sql + n, sizeof sql - n, ", extra FROM hub_%s WHERE hub_id = ?", en->name);
    if (sqlite3_prepare_v2(c->s->db, sql, -1, &c->st_hub[entity], NULL) != SQLITE_OK) return 0;
  }
  sqlite3_stmt *st = c->st_hub[entity];
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, hub_id);
  int found = sqlite3_step(st) == SQLITE_ROW;
  for (int i = 0; i < c->nattrs[entity]; i++) out[i] = v_null();
  if (found) {
    for (int i = 0; i < en->nattrs; i++) out[i] = store_column(st, i, en->attrs[i].type, &c->tmp);
    const char *extra = (const char *)sqlite3_column_text(st, en->nattrs);
    json_t *x = extra ? json_loads(extra, 0, NULL) : NULL;
    for (int i = en->nattrs; x && i < c->nattrs[entity]; i++) {
      json_t *j = json_object_get(x, c->names[entity][i]);
      if (json_is_string(j)) out[i] = v_str(arena_strndup(&c->tmp, json_string_value(j), json_string_length(j)), json_string_length(j));
      else if (json_is_integer(j)) out[i] = v_int(json_integer_value(j));
      else if (json_is_boolean(j)) out[i] = v_bool(json_is_true(j));
    }
    json_decref(x);
  }
  sqlite3_reset(st);
  return found;
}

/* An object's attributes merged from its records, and who gave each. */
typedef struct {
  value v[MAX_ATTRS];
  const char *by[MAX_ATTRS];
  uint32_t byloc[MAX_ATTRS];
  int contenders[MAX_ATTRS], assigned[MAX_ATTRS];
} merged_obj;

static void merge_values(ctx *c, int e, const uint32_t *members, size_t nm, value *const *mattrs, merged_obj *m) {
  for (int a = 0; a < c->nattrs[e]; a++) {
    m->v[a] = v_null();
    m->by[a] = NULL;
    m->byloc[a] = PLAN_NONE;
    m->contenders[a] = m->assigned[a] = 0;
    int best = 1 << 30;
    for (size_t k = 0; k < nm; k++) {
      inrec *r = &c->recs[members[k]];
      if (!c->unit_sets[r->unit][a]) continue;
      m->assigned[a] = 1;
      if (mattrs[k][a].kind == V_NULL) continue;
      uint32_t loc;
      int rk = rank_of(c, e, c->names[e][a], r->source, &loc);
      m->contenders[a]++;
      if (rk < best) {
        best = rk;
        m->v[a] = mattrs[k][a];
        m->by[a] = plan_str(c->p, c->p->sources[r->source].name);
        m->byloc[a] = loc;
      }
    }
  }
  int status = c->slot[e].status;
  if (status >= 0 && m->v[status].kind == V_NULL) m->v[status] = v_str("active", 6), m->assigned[status] = 1;
}

/* The one source that gave every attribute the object has, none of them
 * given by another as well; NULL when there is none such. */
static const char *only_source(const ctx *c, int e, const merged_obj *m) {
  const char *only = NULL;
  for (int a = 0; a < c->nattrs[e]; a++)
    if (m->by[a]) {
      if (m->contenders[a] > 1 || (only && strcmp(only, m->by[a]) != 0)) return NULL;
      only = m->by[a];
    }
  return only;
}

void run_only_provenance(jtext *t, const char *source, size_t n) {
  static const char reason[] = ", the only source that gives it\"";
  jt_open(t, '{');
  jt_key(t, "*");
  jt_str(t, source, n); /* the name, escaped and quoted... */
  t->n--;               /* ...its closing quote taken back, the reason put in front of it */
  jt_raw(t, reason, sizeof reason - 1);
  jt_close(t, '}');
}

/* Provenance, for `syncvm why`: which source gave each attribute, and by
 * which precedence line when several sources gave one.  Made only for an
 * object that changes (an unchanged one would throw it away).  `sorted`:
 * keys in name order (a create keeps it as that text), else in attribute
 * order ("*" first either way: no attribute name sorts before it). */
static void put_provenance(ctx *c, jtext *t, int e, const merged_obj *m, int sorted) {
  const char *only = only_source(c, e, m);
  if (only && !jt_utf8_ok(only, strlen(only))) { /* no string: no entry */
    jt_raw(t, "{}", 2);
    return;
  }
  if (only) { /* one source gave everything: one entry, not one per attribute */
    if (only != c->only_by) { /* most records in a row have the same one */
      jt_reset(&c->only_text);
      run_only_provenance(&c->only_text, only, strlen(only));
      c->only_by = only;
    }
    jt_raw(t, c->only_text.b, c->only_text.n);
    return;
  }
  jt_open(t, '{');
  jt_key(t, "*"), jt_raw(t, "null", 4); /* json_patch drops an older "*" */
  for (int k = 0; k < c->nattrs[e]; k++) {
    int a = sorted ? c->order[e][k] : k;
    if (!m->by[a]) continue;
    char text[400];
    if (m->contenders[a] > 1 && m->byloc[a] != PLAN_NONE)
      snprintf(text, sizeof text, "%s, by the precedence line at %s:%u", m->by[a], plan_str(c->p, c->p->locs[m->byloc[a]].file),
               c->p->locs[m->byloc[a]].line);
    else if (m->contenders[a] > 1)
      snprintf(text, sizeof text, "%s, the first declared of the sources that give it", m->by[a]);
    else
      snprintf(text, sizeof text, "%s, the only source that gives it", m->by[a]);
    jt_mstr(t, c->names[e][a], text);
  }
  jt_close(t, '}');
}

/* The members every create starts with, as put_head writes them. */
static void put_create_head(ctx *c, jtext *t, int e, int64_t tmp, const merged_obj *m, const char *sid) {
  jt_restart(t, &c->create_head[e]);
  jt_int(t, tmp);
  const char *label = label_of(c, e, m->v, sid);
  if (strcmp(label, sid) != 0) jt_mstr_as(t, &c->k_label, label);
  jt_mstr_as(t, &c->k_sid, sid);
}

/* The text every create writes, made once (see ctx). */
static void make_create_text(ctx *c) {
  for (int e = 0; e < ENT__COUNT; e++) {
    jtext *h = &c->create_head[e];
    jt_reset(h);
    jt_open(h, '{');
    jt_mstr(h, "op", "create");
    jt_mstr(h, "entity", schema_entity_get(e)->name);
    jt_key(h, "tmp");
    for (int a = 0; a < c->nattrs[e]; a++) jt_key_text(&c->qname[e][a], c->names[e][a]);
  }
  static const char *const keys[] = {"label", "sid", "set", "provenance", "by", "links", "source", "domain", "hash"};
  jtext *const texts[] = {&c->k_label, &c->k_sid, &c->k_set, &c->k_provenance, &c->k_by, &c->k_links, &c->k_source, &c->k_domain, &c->k_hash};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) jt_key_text(texts[k], keys[k]);
  for (uint32_t s = 0; s < c->p->nsources && s < 64; s++) {
    const char *name = plan_str(c->p, c->p->sources[s].name);
    jt_reset(&c->qsource[s]);
    c->qsource_ok[s] = jt_utf8_ok(name, strlen(name));
    if (c->qsource_ok[s]) jt_str(&c->qsource[s], name, strlen(name));
  }
}

static void free_create_text(ctx *c) {
  for (int e = 0; e < ENT__COUNT; e++) {
    jt_free(&c->create_head[e]);
    for (int a = 0; a < MAX_ATTRS; a++) jt_free(&c->qname[e][a]);
  }
  jtext *const texts[] = {&c->k_label, &c->k_sid, &c->k_set, &c->k_provenance, &c->k_by, &c->k_links, &c->k_source, &c->k_domain, &c->k_hash};
  for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) jt_free(texts[k]);
  for (int s = 0; s < 64; s++) jt_free(&c->qsource[s]);
}

/* The members every create and update starts with. */
static void put_head(ctx *c, jtext *t, const char *kind, int e, const char *idkey, int64_t id, const merged_obj *m, const char *sid) {
  jt_reset(t);
  jt_open(t, '{');
  jt_mstr(t, "op", kind);
  jt_mstr(t, "entity", schema_entity_get(e)->name);
  jt_mint(t, idkey, id);
  const char *label = label_of(c, e, m->v, sid);
  if (strcmp(label, sid) != 0) jt_mstr(t, "label", label);
  jt_mstr(t, "sid", sid);
}

/* A create's provenance (c->jt2) as its member: text, one string per
 * record, as jt_mstr writes it.  Creates in a row nearly all have the same
 * provenance, so the last one's escaped text is kept and copied when it
 * comes again: escaping its quotes was a tenth of a first sync's merge. */
static void put_create_provenance(ctx *c, jtext *t) {
  const jtext *raw = &c->jt2;
  if (!c->prov_raw.b || raw->n != c->prov_raw.n || memcmp(raw->b, c->prov_raw.b, raw->n) != 0) {
    jt_reset(&c->prov_raw);
    jt_raw(&c->prov_raw, raw->b, raw->n);
    jt_reset(&c->prov_esc);
    size_t n = strlen(raw->b);
    c->prov_ok = jt_utf8_ok(raw->b, n);
    if (c->prov_ok) jt_str(&c->prov_esc, raw->b, n);
  }
  if (!c->prov_ok) return;
  jt_key_as(t, &c->k_provenance);
  jt_raw(t, c->prov_esc.b, c->prov_esc.n);
}

/* A create's records' links, as its last member (the history leaves them
 * out: run_history_keeps): a first sync's links to its new objects, a
 * million at 100,000 students, were as many operations of their own, which
 * plan wrote and apply read, checked and parsed one by one.  A link gives
 * its sid only when it is not the create's, and its domain only when it is
 * not "new" (the record the object was made for). */
static void put_create_links(ctx *c, jtext *t, const char *sid, const uint32_t *members, size_t nm) {
  jt_key_as(t, &c->k_links);
  jt_open(t, '[');
  for (size_t k = 0; k < nm; k++) {
    const inrec *rec = &c->recs[members[k]];
    char hash[17];
    rechash_hex(rec_hash(c, rec), hash);
    jt_elem(t);
    jt_open(t, '{');
    if (rec->source >= 64) jt_mstr(t, "source", plan_str(c->p, c->p->sources[rec->source].name));
    else if (c->qsource_ok[rec->source]) jt_key_as(t, &c->k_source), jt_raw(t, c->qsource[rec->source].b, c->qsource[rec->source].n);
    if (strcmp(rec->sid, sid) != 0) jt_mstr_as(t, &c->k_sid, rec->sid);
    if (rec->how != LINK_NEW) jt_mstr_as(t, &c->k_domain, rec_domain(c, rec));
    jt_key_as(t, &c->k_hash);
    jt_str(t, hash, 16); /* hex digits: always a string */
    jt_close(t, '}');
  }
  jt_close(t, ']');
}

static void emit_create(ctx *c, int e, int64_t hub_id, const char *sid, const merged_obj *m, const uint32_t *members, size_t nm) {
  c->r->counts[e][CNT_CREATE]++;
  if (!c->texts) {
    op_counted(c, 1);
    return;
  }
  jtext *t = &c->jt;
  put_create_head(c, t, e, -hub_id, m, sid);
  jt_key_as(t, &c->k_set);
  jt_open(t, '{');
  for (int a = 0; a < c->nattrs[e]; a++)
    if (m->assigned[a] && m->v[a].kind != V_NULL) rectext_member_as(t, &c->qname[e][a], m->v[a]);
  jt_close(t, '}');
  const char *only = only_source(c, e, m);
  if (only && jt_utf8_ok(only, strlen(only))) {
    jt_mstr_as(t, &c->k_by, only); /* "by": the provenance apply makes of it (run_only_provenance) */
  } else {
    jt_reset(&c->jt2);
    put_provenance(c, &c->jt2, e, m, 1);
    put_create_provenance(c, t);
  }
  put_create_links(c, t, sid, members, nm);
  jt_close(t, '}');
  op_text(c, t, 1);
}

static int is_word(value v, const char *w) { return v.kind == V_STR && v.len == strlen(w) && memcmp(v.u.s, w, v.len) == 0; }

/* Diffs the merged object against the hub's: an update (changed attributes
 * only), a reactivation, or unchanged.  A value that is no JSON value
 * (json_ok) is left out of the object it would be in, as jansson did. */
static void emit_update(ctx *c, int e, int64_t hub_id, const char *sid, const merged_obj *m) {
  value cur[MAX_ATTRS];
  load_hub(c, e, hub_id, cur);
  int changed[MAX_ATTRS], nch = 0, nset = 0;
  for (int a = 0; a < c->nattrs[e]; a++)
    if (m->assigned[a] && !same_json(m->v[a], cur[a])) changed[nch++] = a, nset += rectext_ok(m->v[a]);
  if (nset == 0) {
    c->r->counts[e][CNT_UNCHANGED]++;
    return;
  }
  int status = c->slot[e].status;
  int back = status >= 0 && is_word(cur[status], "inactive") && is_word(m->v[status], "active");
  c->r->counts[e][back ? CNT_REACTIVATE : CNT_UPDATE]++;
  if (!c->texts) {
    op_counted(c, 1);
    return;
  }
  jtext *t = &c->jt;
  put_head(c, t, back ? "reactivate" : "update", e, "hub_id", hub_id, m, sid);
  static const char *const parts[] = {"set", "old", "by"};
  for (int p = 0; p < 3; p++) {
    jt_key(t, parts[p]);
    jt_open(t, '{');
    for (int k = 0; k < nch; k++) {
      int a = changed[k];
      if (p == 0) rectext_member(t, c->names[e][a], m->v[a]);
      else if (p == 1) rectext_member(t, c->names[e][a], cur[a]);
      else if (m->by[a]) jt_mstr(t, c->names[e][a], m->by[a]);
    }
    jt_close(t, '}');
  }
  jt_key(t, "provenance");
  put_provenance(c, t, e, m, 0);
  int sc = c->slot[e].school;
  if (sc >= 0 && m->v[sc].kind == V_STR) rectext_member(t, "school", m->v[sc]);
  jt_close(t, '}');
  op_text(c, t, 1);
}

/* One hub object from its records (members, with their attributes). */
static void merge_object(ctx *c, int64_t hub_id, const uint32_t *members, size_t nm, value *const *mattrs) {
  const inrec *first = &c->recs[members[0]];
  merged_obj *m = arena_alloc(&c->tmp, sizeof *m);
  merge_values(c, first->entity, members, nm, mattrs, m);
  if (hub_id < 0) emit_create(c, first->entity, hub_id, first->sid, m, members, nm);
  else emit_update(c, first->entity, hub_id, first->sid, m);
}

static const inrec *sort_base;

/* Objects in the order their first record arrived; records of one object
 * in arrival order. */
static int cmp_by_object(const void *a, const void *b) {
  uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
  const inrec *x = &sort_base[i], *y = &sort_base[j];
  if (x->entity != y->entity) return x->entity < y->entity ? -1 : 1;
  if (x->hub_id != y->hub_id) return x->hub_id < y->hub_id ? -1 : 1;
  return i < j ? -1 : 1;
}

static const uint32_t *sort_order;

/* Group starts (positions in the sorted order) by their first record. */
static int cmp_start(const void *a, const void *b) {
  uint32_t x = sort_order[*(const uint32_t *)a], y = sort_order[*(const uint32_t *)b];
  return x < y ? -1 : x > y;
}

static int same_object(const inrec *x, const inrec *y) { return x->entity == y->entity && x->hub_id == y->hub_id; }

/* Reads a group's records and merges them (the scratch arena holds them
 * until the next group). */
static int object_dropped(ctx *c, int e, int64_t hub);

static void merge_group(ctx *c, const uint32_t *members, size_t nm) {
  arena_rewind(&c->tmp);
  int e = c->recs[members[0]].entity, all_same = c->skip_same[e] && c->recs[members[0]].hub_id > 0;
  for (size_t k = 0; k < nm; k++) all_same &= c->recs[members[k]].same;
  if (all_same && object_dropped(c, e, c->recs[members[0]].hub_id)) all_same = 0;
  if (all_same) { /* what the last run merged from these very records, with this very plan */
    c->r->counts[e][CNT_UNCHANGED]++;
    return;
  }
  value **mattrs = arena_alloc(&c->tmp, nm * sizeof *mattrs);
  for (size_t k = 0; k < nm; k++) mattrs[k] = load_rec(c, &c->recs[members[k]], NULL);
  merge_object(c, c->recs[members[0]].hub_id, members, nm, mattrs);
}

/* Whether this run brings the record of a live link back, linked by it. */
static int linked_back(ctx *c, uint32_t source, int entity, const char *sid) {
  size_t pos = 0;
  uint32_t i;
  while (fp_next(&c->by_id, id_hash(source, entity, sid), &pos, &i)) {
    const inrec *r = &c->recs[i];
    if (r->source == source && r->entity == entity && !strcmp(r->sid, sid)) return !r->parked && r->how == LINK_ID;
  }
  return 0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* 0 when there is no memory to list it (the caller merges the entity whole). */
static int add_dropped(ctx *c, int e, int64_t hub) {
  if (c->ndropped[e] == c->capdropped[e]) {
    size_t cap = c->capdropped[e] ? c->capdropped[e] * 2 : 256;
    int64_t *more = realloc(c->dropped[e], cap * sizeof *more);
    if (!more) return 0;
    c->dropped[e] = more, c->capdropped[e] = cap;
  }
  c->dropped[e][c->ndropped[e]++] = hub;
  return 1;
}

/* Lists object `hub` as one a source dropped a record of.  A record of this
 * run is linked back by at most one live link, so once 3 x dropped passes
 * the entity's records, dropped is over a quarter of its live links
 * whatever comes next: the entity merges whole, and its list is not kept
 * (a feed that stopped sending would list every object). */
static void drop_object(ctx *c, int e, int64_t hub, const int64_t *recs, int *whole) {
  if (whole[e]) return;
  if (!add_dropped(c, e, hub) || 3 * (int64_t)c->ndropped[e] > recs[e]) {
    whole[e] = 1;
    free(c->dropped[e]), c->dropped[e] = NULL, c->ndropped[e] = c->capdropped[e] = 0;
  }
}

/* The live links of source s's feed for e that st reads (source_id,
 * hub_id), counted, and their objects dropped unless this run links the
 * record back; 0 when the read failed. */
static int drop_rows(ctx *c, sqlite3_stmt *st, uint32_t s, int e, int64_t *live, const int64_t *recs, int *whole) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *sid = (const char *)sqlite3_column_text(st, 0);
    live[e]++;
    if (!whole[e] && !(sid && linked_back(c, s, e, sid))) drop_object(c, e, sqlite3_column_int64(st, 1), recs, whole);
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE;
}

/* Whether merge may take an object whose records all come back unchanged
 * as unchanged without loading its hub row: when the last run that wrote
 * the hub was applied whole (not partly approved: a held-back update would
 * never be made) by this same plan (same maps and precedence), and every
 * live link of the object is to a record this run brings back linked by
 * it (no source dropped a record of the object: such objects are listed in
 * c->dropped, from the loose links scan_links listed and, for the feeds it
 * did not read whole, the links read again).  Links of sources the plan
 * does not have are not read: the last run, by this same plan, did not
 * merge their records either.  The hub then
 * holds exactly what merging these records gave; only edits made to the hub
 * by hand, outside syncvm, are not put back until their record changes.
 * An entity with many dropped links (more than a quarter) is merged whole
 * rather than listing them. */
static void may_skip_same(ctx *c) {
  sqlite3_stmt *st;
  int same_plan = 0;
  if (sqlite3_prepare_v2(c->s->db,
                         "SELECT status, plan_sha FROM sync_runs WHERE status IN ('applied', 'approved', 'partly approved')"
                         " ORDER BY run_id DESC LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *status = (const char *)sqlite3_column_text(st, 0), *sha = (const char *)sqlite3_column_text(st, 1);
      same_plan = status && strcmp(status, "partly approved") != 0 && sha && strcmp(sha, c->r->plan_sha) == 0;
    }
    sqlite3_finalize(st);
  }
  if (!same_plan) return;
  int64_t live[ENT__COUNT] = {0}, recs[ENT__COUNT] = {0};
  int whole[ENT__COUNT] = {0};
  for (size_t i = 0; i < c->nrecs; i++) recs[c->recs[i].entity]++;
  sqlite3_stmt *pair = NULL;
  int ok = sqlite3_prepare_v2(c->s->db, STORE_LIVE_LINKS_OF_FEED, -1, &pair, NULL) == SQLITE_OK;
  for (uint32_t s = 0; s < c->p->nsources && ok; s++)
    for (int e = 0; e < ENT__COUNT && ok; e++) {
      const feed_links *f = &c->links[s][e];
      if (f->complete) { /* scan_links listed them */
        live[e] += f->live;
        for (size_t k = 0; k < f->n; k++) drop_object(c, e, f->v[k].hub_id, recs, whole);
        continue;
      }
      sqlite3_bind_text(pair, 1, plan_str(c->p, c->p->sources[s].name), -1, SQLITE_STATIC);
      sqlite3_bind_text(pair, 2, schema_entity_get(e)->name, -1, SQLITE_STATIC);
      ok = drop_rows(c, pair, s, e, live, recs, whole);
    }
  sqlite3_finalize(pair);
  for (int e = 0; e < ENT__COUNT; e++) {
    c->skip_same[e] = ok && !whole[e] && c->ndropped[e] <= (size_t)live[e] / 4;
    if (c->ndropped[e]) qsort(c->dropped[e], c->ndropped[e], sizeof *c->dropped[e], cmp_i64);
  }
}

/* Whether a source dropped one of the object's records (may_skip_same). */
static int object_dropped(ctx *c, int e, int64_t hub) {
  return c->ndropped[e] && bsearch(&hub, c->dropped[e], c->ndropped[e], sizeof hub, cmp_i64) != NULL;
}

/* Merges the groups in the order of their first record, by sorting: for
 * hub ids too far apart to count (merge_counted). */
static void merge_sorted(ctx *c) {
  uint32_t *order = malloc((c->nrecs + 1) * sizeof *order), n = 0;
  for (size_t i = 0; i < c->nrecs; i++)
    if (!c->recs[i].parked) order[n++] = (uint32_t)i;
  sort_base = c->recs;
  qsort(order, n, sizeof *order, cmp_by_object);
  /* Groups, then the groups in the order of their first record; a group
   * ends where the next object begins (no array of ends: ten million
   * records make millions of groups). */
  uint32_t *starts = malloc(((size_t)n + 1) * sizeof *starts), ng = 0;
  for (uint32_t i = 0; i < n; i++)
    if (i == 0 || !same_object(&c->recs[order[i]], &c->recs[order[i - 1]])) starts[ng++] = i;
  sort_order = order;
  qsort(starts, ng, sizeof *starts, cmp_start);
  for (uint32_t k = 0; k < ng; k++) {
    uint32_t s = starts[k], e = s + 1;
    while (e < n && same_object(&c->recs[order[e]], &c->recs[order[s]])) e++;
    merge_group(c, order + s, e - s);
  }
  free(starts);
  free(order);
}

/* The same merge without sorting, when the objects' hub ids lie close
 * enough to count: a slot per possible (entity, hub id), and the records
 * placed into their object's slots in arrival order (a counting sort).  A
 * record that is the first in its object's slots starts the group, so
 * walking the records in order gives the groups in the order of their
 * first record, as merge_sorted does.  At ten million records the two
 * sorts took 0.4 s, and their buffers were more fresh pages.  0 (nothing
 * merged) when the ids are spread too far or there is no memory. */
static int merge_counted(ctx *c) {
  int64_t lo[ENT__COUNT], hi[ENT__COUNT];
  uint64_t base[ENT__COUNT + 1];
  uint32_t n = 0;
  for (int e = 0; e < ENT__COUNT; e++) lo[e] = INT64_MAX, hi[e] = INT64_MIN;
  for (size_t i = 0; i < c->nrecs; i++) {
    const inrec *r = &c->recs[i];
    if (r->parked) continue;
    n++;
    if (r->hub_id < lo[r->entity]) lo[r->entity] = r->hub_id;
    if (r->hub_id > hi[r->entity]) hi[r->entity] = r->hub_id;
  }
  uint64_t limit = 2 * (uint64_t)n + 4096; /* slots: no more than the records make worth it */
  base[0] = 0;
  for (int e = 0; e < ENT__COUNT; e++) {
    uint64_t span = lo[e] > hi[e] ? 0 : (uint64_t)hi[e] - (uint64_t)lo[e] + 1; /* 0 too when it wraps */
    if (lo[e] <= hi[e] && (span == 0 || span > limit)) return 0;
    base[e + 1] = base[e] + span;
    if (base[e + 1] > limit) return 0;
  }
  uint64_t slots = base[ENT__COUNT];
  uint32_t *start = calloc(slots + 1, sizeof *start), *members = malloc(((size_t)n + 1) * sizeof *members);
  if (!start || !members) {
    free(start), free(members);
    return 0;
  }
#define SLOT(r) (base[(r)->entity] + (uint64_t)(r)->hub_id - (uint64_t)lo[(r)->entity])
  for (size_t i = 0; i < c->nrecs; i++)
    if (!c->recs[i].parked) start[SLOT(&c->recs[i]) + 1]++;
  for (uint64_t s = 1; s <= slots; s++) start[s] += start[s - 1]; /* start[s]: where slot s's records go */
  for (size_t i = 0; i < c->nrecs; i++)
    if (!c->recs[i].parked) members[start[SLOT(&c->recs[i])]++] = (uint32_t)i; /* start[s] moves to s's end */
  for (size_t i = 0; i < c->nrecs; i++) {
    if (c->recs[i].parked) continue;
    uint64_t s = SLOT(&c->recs[i]);
    uint32_t first = s ? start[s - 1] : 0, end = start[s]; /* slot s - 1 ended where s begins */
    if (members[first] == (uint32_t)i) merge_group(c, members + first, end - first);
  }
#undef SLOT
  free(start);
  free(members);
  return 1;
}

static void merge_all(ctx *c) {
  may_skip_same(c);
  if (!merge_counted(c)) merge_sorted(c);
  for (int e = 0; e < ENT__COUNT; e++) free(c->dropped[e]), c->dropped[e] = NULL, c->ndropped[e] = c->capdropped[e] = 0;
}

/* The members a link and a snapshot start with. */
static void put_record_head(jtext *t, const char *kind, const char *src, const char *ent, const char *sid) {
  jt_reset(t);
  jt_open(t, '{');
  jt_mstr(t, "op", kind);
  jt_mstr(t, "source", src);
  jt_mstr(t, "entity", ent);
  jt_mstr(t, "sid", sid);
}

/* Links with the hash of what each source sent, and for a record already
 * linked that changed, a snapshot (its new hash).  A new object's records
 * have their links in its create (put_create_links). */
static void link_ops(ctx *c) {
  jtext *t = &c->jt;
  for (size_t i = 0; i < c->nrecs; i++) {
    inrec *rec = &c->recs[i];
    /* linked and sent as last time, or of a new object (its create has it) */
    if (rec->parked || (rec->how == LINK_ID && rec->same) || rec->hub_id < 0) continue;
    if (!c->texts) {
      op_counted(c, rec->how != LINK_ID); /* a link, else a snapshot (no change) */
      continue;
    }
    const char *src = plan_str(c->p, c->p->sources[rec->source].name);
    const char *ent = schema_entity_get(rec->entity)->name;
    arena_rewind(&c->tmp);
    char hash[17];
    rechash_hex(rec_hash(c, rec), hash);
    if (rec->how != LINK_ID) { /* the link keeps the hash: no snapshot operation */
      put_record_head(t, "link", src, ent, rec->sid);
      jt_mint(t, rec->hub_id > 0 ? "hub_id" : "tmp", rec->hub_id > 0 ? rec->hub_id : -rec->hub_id);
      jt_mstr(t, "domain", rec_domain(c, rec));
      jt_mstr(t, "hash", hash);
      jt_close(t, '}');
      op_text(c, t, 1);
      continue;
    }
    /* The hash alone: the hub keeps nothing else of it (hub schema 3), and
     * the record's text made a first sync's operations half again as large
     * (runs saved before still apply: their snapshots' text is ignored). */
    put_record_head(t, "snapshot", src, ent, rec->sid);
    jt_mstr(t, "hash", hash);
    jt_close(t, '}');
    op_text(c, t, 0);
  }
}

/* ---- deletions ------------------------------------------------------------------------ */

static int seen(ctx *c, uint32_t source, int entity, const char *sid) { return has_record(c, source, entity, sid); }

/* Whether this run has not deactivated the object yet (and now has). */
static int first_deactivation(ctx *c, int entity, int64_t hub) {
  char key[64];
  snprintf(key, sizeof key, "%d/%lld", entity, (long long)hub);
  size_t at;
  if (map_get(&c->ended, key, &at)) return 0;
  map_put(&c->ended, arena_strndup(&c->ar, key, strlen(key)), 1);
  return 1;
}

/* hub_enrollment has no index on "user": hash its users once, rather than
 * scanning the table once per withdrawn person (which made a day with a
 * thousand withdrawals take minutes).  Only hashes and hub ids are kept. */
typedef struct {
  int64_t hub;
  const char *sid;
} enr_row;

static int cmp_enr(const void *a, const void *b) {
  int64_t x = ((const enr_row *)a)->hub, y = ((const enr_row *)b)->hub;
  return x < y ? -1 : x > y;
}

/* Adds the active enrollments whose user is `user` (the hub_enrollment_user
 * index finds them) to rows, once each. */
static void enrollments_of(ctx *c, const char *user, enr_row **rows, size_t *n, size_t *cap) {
  if (!c->st_enrollment && sqlite3_prepare_v2(c->s->db,
                                               "SELECT hub_id, sis_id FROM hub_enrollment WHERE \"user\" = ?"
                                               " AND (status IS NULL OR status != 'inactive')",
                                               -1, &c->st_enrollment, NULL) != SQLITE_OK)
    return;
  sqlite3_reset(c->st_enrollment);
  sqlite3_bind_text(c->st_enrollment, 1, user, -1, SQLITE_TRANSIENT);
  while (sqlite3_step(c->st_enrollment) == SQLITE_ROW) {
    int64_t hub = sqlite3_column_int64(c->st_enrollment, 0);
    int dup = 0;
    for (size_t i = 0; i < *n && !dup; i++) dup = (*rows)[i].hub == hub;
    if (dup) continue;
    if (*n == *cap) *rows = realloc(*rows, (*cap = *cap ? *cap * 2 : 16) * sizeof **rows);
    const char *sid = (const char *)sqlite3_column_text(c->st_enrollment, 1);
    (*rows)[*n].hub = hub;
    (*rows)[(*n)++].sid = sid ? arena_strndup(&c->tmp, sid, strlen(sid)) : NULL;
  }
  sqlite3_reset(c->st_enrollment);
}

/* The enrollments whose user is one of the person's source ids (any
 * source, gone or not), in hub id order. */
static enr_row *person_enrollments(ctx *c, int64_t person, int entity, size_t *n) {
  enr_row *rows = NULL;
  size_t cap = 0;
  *n = 0;
  if (!c->st_person_ids &&
      sqlite3_prepare_v2(c->s->db, STORE_SIDS_OF_OBJECT, -1, &c->st_person_ids, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_reset(c->st_person_ids);
  sqlite3_bind_text(c->st_person_ids, 1, schema_entity_get(entity)->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(c->st_person_ids, 2, person);
  while (sqlite3_step(c->st_person_ids) == SQLITE_ROW) {
    const char *u = (const char *)sqlite3_column_text(c->st_person_ids, 0);
    enrollments_of(c, arena_strndup(&c->tmp, u, strlen(u)), &rows, n, &cap);
  }
  sqlite3_reset(c->st_person_ids);
  if (*n) qsort(rows, *n, sizeof *rows, cmp_enr);
  return rows;
}

static void end_enrollments(ctx *c, int64_t person, int entity, const char *label) {
  size_t n;
  enr_row *rows = person_enrollments(c, person, entity, &n);
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  char today[16];
  strftime(today, sizeof today, "%Y-%m-%d", &tm);
  for (size_t i = 0; i < n; i++) {
    if (!first_deactivation(c, ENT_enrollment, rows[i].hub)) continue;
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string("deactivate"));
    json_object_set_new(o, "entity", json_string("enrollment"));
    json_object_set_new(o, "hub_id", json_integer(rows[i].hub));
    const char *sid = rows[i].sid;
    json_object_set_new(o, "label", json_string(sid ? sid : ""));
    json_object_set_new(o, "sid", json_string(sid ? sid : ""));
    json_object_set_new(o, "end_date", json_string(today));
    char why[300];
    snprintf(why, sizeof why, "its %s %s is no longer active", schema_entity_get(entity)->name, label);
    json_object_set_new(o, "reason", json_string(why));
    op(c, o);
    c->r->counts[ENT_enrollment][CNT_DEACTIVATE]++;
  }
  free(rows);
}

/* The live link of record `sid` that source s's feed for e no longer
 * brings back: unlinked when a delta marked it tobedeleted or the feed is
 * bulk, and its object deactivated (or deleted) when no other source still
 * feeds it. */
static void remove_link(ctx *c, uint32_t s, int e, int bulk, const char *sid, int64_t hub) {
  const char *src = plan_str(c->p, c->p->sources[s].name);
  size_t at;
  /* A delta file removes only what it marks tobedeleted; a bulk file
   * removes whatever it no longer sends. */
  if (c->delta[s][e] ? !map_get(&c->deleted, id_key(&c->tmp, s, e, sid), &at) : !bulk) return;
  value cur[MAX_ATTRS];
  load_hub(c, e, hub, cur);
  int sc = c->slot[e].school;
  json_t *o = json_object();
  if (sc >= 0 && cur[sc].kind == V_STR) json_object_set_new(o, "school", to_json(cur[sc])); /* for approve --school */
  json_object_set_new(o, "op", json_string("unlink"));
  json_object_set_new(o, "source", json_string(src));
  json_object_set_new(o, "entity", json_string(schema_entity_get(e)->name));
  json_object_set_new(o, "sid", json_string(sid));
  json_object_set_new(o, "hub_id", json_integer(hub));
  op(c, o);
  /* Does any other source still feed the object? */
  sqlite3_stmt *q;
  int others = 0;
  if (sqlite3_prepare_v2(c->s->db, STORE_LIVE_LINKS_OF_OBJECT, -1, &q, NULL) == SQLITE_OK) {
    sqlite3_bind_text(q, 1, schema_entity_get(e)->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, hub);
    while (sqlite3_step(q) == SQLITE_ROW) {
      const char *os = (const char *)sqlite3_column_text(q, 0), *oid = (const char *)sqlite3_column_text(q, 1);
      if (strcmp(os, src) == 0 && strcmp(oid, sid) == 0) continue;
      int still = 1;
      for (uint32_t k = 0; k < c->p->nsources; k++)
        if (strcmp(plan_str(c->p, c->p->sources[k].name), os) == 0 && is_bulk(c, k) && c->fed[k][e] && !seen(c, k, e, oid))
          still = 0;
      others += still;
    }
    sqlite3_finalize(q);
  }
  if (others) return;
  int status = c->slot[e].status;
  if (status >= 0 && cur[status].kind == V_STR && cur[status].len == 8 && !memcmp(cur[status].u.s, "inactive", 8)) return;
  if (!first_deactivation(c, e, hub)) return;
  const char *label = label_of(c, e, cur, sid);
  o = json_object();
  json_object_set_new(o, "op", json_string(c->p->policy.delete_objects ? "delete" : "deactivate"));
  json_object_set_new(o, "entity", json_string(schema_entity_get(e)->name));
  json_object_set_new(o, "hub_id", json_integer(hub));
  json_object_set_new(o, "label", json_string(label));
  json_object_set_new(o, "sid", json_string(sid));
  char why[300];
  snprintf(why, sizeof why, "no longer sent by %s", src);
  json_object_set_new(o, "reason", json_string(why));
  if (sc >= 0 && cur[sc].kind == V_STR) json_object_set_new(o, "school", to_json(cur[sc]));
  op(c, o);
  c->r->counts[e][CNT_DEACTIVATE]++;
  if (e == ENT_student || e == ENT_teacher) end_enrollments(c, hub, e, label);
}

static void deletions(ctx *c) {
  for (uint32_t s = 0; s < c->p->nsources; s++) {
    int bulk = is_bulk(c, s);
    int any_delta = 0;
    for (int e = 0; e < ENT__COUNT; e++) any_delta |= c->delta[s][e];
    if (!bulk && !any_delta) continue;
    const char *src = plan_str(c->p, c->p->sources[s].name);
    for (int e = 0; e < ENT__COUNT; e++) {
      if (!c->fed[s][e]) continue;
      int64_t last_time = 0;
      const feed_links *f = &c->links[s][e];
      if (f->complete) { /* scan_links listed the links no record took back */
        last_time = f->live;
        for (size_t k = 0; k < f->n; k++)
          if (!f->v[k].sent) arena_rewind(&c->tmp), remove_link(c, s, e, bulk, f->v[k].sid, f->v[k].hub_id);
      } else {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(c->s->db, STORE_LIVE_LINKS_OF_FEED, -1, &st, NULL) != SQLITE_OK)
          continue;
        sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, schema_entity_get(e)->name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
          last_time++;
          arena_rewind(&c->tmp);
          const char *sid = (const char *)sqlite3_column_text(st, 0);
          if (!seen(c, s, e, sid)) remove_link(c, s, e, bulk, sid, sqlite3_column_int64(st, 1));
        }
        sqlite3_finalize(st);
      }
      /* The empty-source guard, always on (a delta may well be empty). */
      if (bulk && !c->delta[s][e] && c->sent[s][e] == 0 && last_time > 0 && !c->r->held[0])
        snprintf(c->r->held, sizeof c->r->held,
                 "source %s sent no %s records, but it sent %lld last time (a bulk source that suddenly sends nothing is held, always)",
                 src, schema_entity_get(e)->name, (long long)last_time);
    }
  }
}

/* ---- holds --------------------------------------------------------------------------- */

static int64_t hub_count(ctx *c, int entity) {
  int64_t n = 0;
  for (int e = 0; e < ENT__COUNT; e++) {
    if (entity >= 0 && e != entity) continue;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM hub_%s", schema_entity_get(e)->name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->s->db, sql, -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW) n += sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
  }
  return n;
}

static void holds(ctx *c) {
  static const char *const opnames[] = {"creates", "updates", "deletes", "changes"};
  for (uint32_t i = 0; i < c->p->policy.nholds && !c->r->held[0]; i++) {
    const plan_hold *h = &c->p->policy.holds[i];
    int ent = h->entity == 0xFF ? -1 : h->entity;
    int64_t n = 0;
    for (int e = 0; e < ENT__COUNT; e++) {
      if (ent >= 0 && e != ent) continue;
      const int64_t *k = c->r->counts[e];
      switch (h->op) {
        case HOLD_CREATES: n += k[CNT_CREATE]; break;
        case HOLD_UPDATES: n += k[CNT_UPDATE] + k[CNT_REACTIVATE]; break;
        case HOLD_DELETES: n += k[CNT_DEACTIVATE]; break;
        default: n += k[CNT_CREATE] + k[CNT_UPDATE] + k[CNT_REACTIVATE] + k[CNT_DEACTIVATE]; break;
      }
    }
    int64_t base = hub_count(c, ent);
    double amount = (double)n;
    if (h->percent) {
      if (base == 0) continue; /* a percentage of an empty hub: the first sync is not held by it */
      amount = 100.0 * (double)n / (double)base;
    }
    if (amount > h->limit) {
      const plan_loc *l = &c->p->locs[h->loc];
      snprintf(c->r->held, sizeof c->r->held, "hold %s%s%s > %g%s (%s:%u) tripped: %lld %s%s", ent >= 0 ? schema_entity_get(ent)->name : "",
               ent >= 0 ? " " : "", opnames[h->op], h->limit, h->percent ? "%" : "", plan_str(c->p, l->file), l->line,
               (long long)n, opnames[h->op], h->percent ? "" : "");
      if (h->percent) {
        size_t len = strlen(c->r->held);
        snprintf(c->r->held + len, sizeof c->r->held - len, " of %lld existing records (%.1f%%)", (long long)base, amount);
      }
    }
  }
  if (!c->r->held[0] && c->p->policy.preview) snprintf(c->r->held, sizeof c->r->held, "policy: preview is on, every run waits for approval");
}

/* ---- the whole computation ------------------------------------------------------------- */

/* Everything after reading: references, link, merge, diff, deletions, holds. */
static void compute_phases(ctx *c) {
  double t0 = now_s();
  index_records(c);
  check_references(c);
  link_all(c);
  double t1 = now_s();
  find_map_sets(c);
  merge_all(c);
  link_ops(c);
  deletions(c);
  holds(c);
  c->r->t_link = t1 - t0;
  c->r->t_merge = now_s() - t1;
}

static void ctx_free(ctx *c) {
  jt_free(&c->jt);
  jt_free(&c->jt2);
  jt_free(&c->prov_raw);
  jt_free(&c->only_text);
  jt_free(&c->prov_esc);
  free_create_text(c);
  fp_free(&c->by_id);
  fp_free(&c->schools);
  map_free(&c->ended);
  map_free(&c->deleted);
  sqlite3_finalize(c->st_link);
  sqlite3_finalize(c->st_decision);
  sqlite3_finalize(c->st_person_ids);
  sqlite3_finalize(c->st_enrollment);
  for (int e = 0; e < ENT__COUNT; e++) sqlite3_finalize(c->st_hub[e]);
  for (int k = 0; k < 64; k++) sqlite3_finalize(c->st_domain[k]);
  sqlite3_finalize(c->st_school);
  spill_free(c->spill);
  arena_free(&c->ar);
  arena_free(&c->tmp);
  free(c->dom_words);
  free(c->dom_text);
  for (uint32_t d = 0; d < c->p->ndomains; d++) {
    fp_free(&c->dom_idx[d].map);
    free(c->dom_idx[d].ids);
    sqlite3_finalize(c->dom_idx[d].check);
  }
  free(c->dom_idx);
  free(c->unit_sets);
  free(c->recs);
  for (int s = 0; s < 64; s++)
    for (int e = 0; e < ENT__COUNT; e++) free(c->links[s][e].v);
  free(c);
}

/* Why the run cannot go on, when its temporary files failed it. */
static int spills_ok(ctx *c) {
  if (oplog_failed(c->r->ops) || spill_failed(c->spill) || c->spill_broken) {
    snprintf(c->r->error, sizeof c->r->error, "cannot write or read back the run's temporary files (TMPDIR): disk full?");
    return 0;
  }
  return 1;
}

int run_compute(const plan *p, const uint8_t *plan_bytes, size_t plan_len, store *s, run_result *r, oplog *ops, FILE *trace) {
  memset(r, 0, sizeof *r);
  r->ops = ops ? ops : oplog_new();
  r->report = json_array();
  r->hub_version = store_hub_version(s);
  ctx *c = calloc(1, sizeof *c);
  c->spill = spill_new();
  if (!r->ops || !c->spill || p->nsources > 64) {
    snprintf(r->error, sizeof r->error, p->nsources > 64 ? "too many sources"
             : "cannot make a temporary file for the run (TMPDIR): %s", strerror(errno));
    spill_free(c->spill);
    free(c);
    return 0;
  }
  c->texts = oplog_keeps(r->ops);
  uint8_t d[32];
  sha256(plan_bytes, plan_len, d);
  sha256_hex(d, r->plan_sha);
  if (p->ninputs) sha256_hex(p->inputs[0].sha256, r->spec_sha);
  c->p = p;
  c->s = s;
  c->r = r;
  c->dom_words = calloc(p->ndomains + 1, sizeof *c->dom_words);
  c->dom_text = calloc(p->ndomains + 1, sizeof *c->dom_text);
  c->dom_idx = calloc(p->ndomains + 1, sizeof *c->dom_idx);
  for (int e = 0; e < ENT__COUNT; e++) {
    c->nattrs[e] = plan_entity_attrs(p, e, c->names[e], c->types[e], MAX_ATTRS);
    rectext_sort_names(c->names[e], c->nattrs[e], c->order[e]);
    for (int a = 0; a < c->nattrs[e]; a++) c->name_keys[e][a] = rechash_name(c->names[e][a]);
    c->slot[e].first_name = attr_index(c, e, "first_name"), c->slot[e].last_name = attr_index(c, e, "last_name");
    c->slot[e].name = attr_index(c, e, "name"), c->slot[e].title = attr_index(c, e, "title");
    c->slot[e].status = attr_index(c, e, "status"), c->slot[e].school = attr_index(c, e, "school");
  }
  make_create_text(c);
  /* One read transaction (unless the caller's write one is open): one
   * consistent view of the hub, and no lock taken per lookup. */
  int own_txn = sqlite3_get_autocommit(s->db) && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
  vm v;
  vm_init(&v, p);
  v.trace = trace;
  int ok = 1;
  /* The next units' files (file sources) are opened and read ahead, a
   * batch or two each, while this one is mapped: a unit whose records are few in a large
   * file (OneRoster's teachers among its users) or one that opens a join
   * was otherwise waited for. */
  feedpipe **ahead = calloc(p->nunits + 1, sizeof *ahead);
  for (uint32_t i = 0; i < p->nunits && ok; i++) {
    for (uint32_t k = i + 1; ahead && k <= i + READ_AHEAD_UNITS && k < p->nunits; k++)
      if (!ahead[k] && feed_reads_local(p, k)) ahead[k] = fpipe_open(p, k, (int)p->units[k].nfields);
    ok = fetch_unit(c, &v, i, ahead ? ahead[i] : NULL);
    if (ahead) ahead[i] = NULL;
  }
  for (uint32_t k = 0; ahead && k < p->nunits; k++) fpipe_stop(ahead[k]); /* after a unit failed */
  free(ahead);
  vm_free(&v);
  if (ok && spills_ok(c)) compute_phases(c);
  ok = ok && spills_ok(c);
  ctx_free(c);
  if (own_txn) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  return ok;
}

void run_free(run_result *r) {
  oplog_free(r->ops);
  json_decref(r->report);
  r->ops = NULL;
  r->report = NULL;
}

int run_has_changes(const run_result *r) { return r->nchanges > 0; }

/* ---- printing ---------------------------------------------------------------------------- */

static void print_value(FILE *out, json_t *v) {
  if (!v || json_is_null(v)) fputs("(none)", out);
  else if (json_is_string(v)) fputs(json_string_value(v), out);
  else {
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(t ? t : "?", out);
    free(t);
  }
}

static void print_op(json_t *o, FILE *out, int *header);

/* Whether print_op could print the operation, read in place: a first sync
 * is mostly snapshots and links of new objects, which the listing leaves
 * out, and parsing each only to skip it was most of the listing's time. */
static int listed(const char *line, size_t n) {
  /* Most lines start {"op":"KIND" (jtext and jansson write "op" first):
   * the kind alone decides, except for a link. */
  static const char head[] = "{\"op\":\"";
  static const char *const shown[] = {"create\"", "update\"", "deactivate\"", "delete\"", "reactivate\"", "case\""};
  static const char *const hidden[] = {"snapshot\"", "unlink\""};
  const size_t h = sizeof head - 1;
  if (n > h + 12 && !memcmp(line, head, h)) {
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
      if (!memcmp(line + h, shown[i], strlen(shown[i]))) return 1;
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
      if (!memcmp(line + h, hidden[i], strlen(hidden[i]))) return 0;
  }
  jmember m[32];
  size_t nm = jspan_members((jspan){line, n}, m, 32);
  jspan k = jspan_get(m, nm, "op");
  if (jspan_str_is(k, "snapshot") || jspan_str_is(k, "unlink")) return 0;
  return !jspan_str_is(k, "link") || jspan_get(m, nm, "hub_id").p != NULL;
}

void run_print(const run_result *r, FILE *out, int summary_only) {
  static const char *const heads[CNT__COUNT] = {"create", "update", "deactivate", "reactivate", "unchanged",
                                                "left out", "dropped", "skipped", "reported", "duplicates"};
  fprintf(out, "%-11s", "entity");
  for (int k = 0; k < CNT__COUNT; k++) fprintf(out, " %10s", heads[k]);
  fputc('\n', out);
  for (int e = 0; e < ENT__COUNT; e++) {
    int any = 0;
    for (int k = 0; k < CNT__COUNT; k++) any |= r->counts[e][k] != 0;
    if (!any) continue;
    fprintf(out, "%-11s", schema_entity_get(e)->name);
    for (int k = 0; k < CNT__COUNT; k++) fprintf(out, " %10lld", (long long)r->counts[e][k]);
    fputc('\n', out);
  }
  if (r->held[0]) fprintf(out, "\nheld for approval: %s\n", r->held);
  if (summary_only) return;
  int header = 0;
  const char *line;
  size_t n;
  oplog_rewind(r->ops);
  while ((line = oplog_next_text(r->ops, &n))) {
    if (!listed(line, n)) continue;
    json_t *o = json_loadb(line, n, JSON_ALLOW_NUL, NULL);
    if (o) print_op(o, out, &header);
    json_decref(o);
  }
}

/* One line per change (several for an update); *header: lines so far. */
static void print_op(json_t *o, FILE *out, int *header) {
  const char *k = json_string_value(json_object_get(o, "op"));
  const char *ent = json_string_value(json_object_get(o, "entity"));
  const char *sid = json_string_value(json_object_get(o, "sid"));
  const char *label = json_string_value(json_object_get(o, "label"));
  if (!k) return;
  const char *dom = json_string_value(json_object_get(o, "domain"));
  int joins = !strcmp(k, "link") && json_object_get(o, "hub_id") && dom && strcmp(dom, "new") != 0;
  int is_change = !strcmp(k, "create") || !strcmp(k, "update") || !strcmp(k, "deactivate") || !strcmp(k, "delete") ||
                  !strcmp(k, "reactivate") || !strcmp(k, "case") || joins;
  if (!is_change) return;
  if (joins) {
    if (!(*header)++) fputc('\n', out);
    fprintf(out, "= %s %s from %s joins hub %s %lld: %s\n", ent, sid ? sid : "", json_string_value(json_object_get(o, "source")),
            ent, (long long)json_integer_value(json_object_get(o, "hub_id")), dom);
    return;
  }
  if (!(*header)++) fputc('\n', out);
  if (!strcmp(k, "create")) {
    fprintf(out, "+ %s %s", ent, sid ? sid : "");
    if (label && (!sid || strcmp(label, sid) != 0)) fprintf(out, " %s", label);
    json_t *set = json_object_get(o, "set");
    json_t *school = json_object_get(set, "school"), *grade = json_object_get(set, "grade");
    if (json_is_string(school) || json_is_string(grade)) {
      fputs(" (", out);
      if (json_is_string(school)) fputs(json_string_value(school), out);
      if (json_is_string(grade)) fprintf(out, "%sgrade %s", json_is_string(school) ? ", " : "", json_string_value(grade));
      fputc(')', out);
    }
    fputc('\n', out);
  } else if (!strcmp(k, "update") || !strcmp(k, "reactivate")) {
    json_t *set = json_object_get(o, "set"), *old = json_object_get(o, "old"), *by = json_object_get(o, "by");
    const char *key;
    json_t *nv;
    if (!strcmp(k, "reactivate")) fprintf(out, "~ %s %s reactivate: sent again\n", ent, sid ? sid : "");
    json_object_foreach(set, key, nv) {
      fprintf(out, "~ %s %s %s: ", ent, sid ? sid : "", key);
      print_value(out, json_object_get(old, key));
      fputs(" -> ", out);
      print_value(out, nv);
      const char *src = json_string_value(json_object_get(by, key));
      if (src) fprintf(out, " (%s)", src);
      fputc('\n', out);
    }
  } else if (!strcmp(k, "case")) {
    json_t *cand = json_object_get(o, "candidate");
    const char *csid = json_string_value(json_object_get(o, "candidate_sid"));
    fprintf(out, "? %s %s %s: possibly the same as ", ent, sid ? sid : "", label ? label : "");
    if (csid) fprintf(out, "%s %s", ent, csid);
    else fprintf(out, "hub %s %lld", ent, (long long)json_integer_value(cand));
    fprintf(out, " (same %s): a duplicate case, waiting for a decision\n", json_string_value(json_object_get(o, "domain")));
  } else {
    fprintf(out, "- %s %s %s: %s\n", ent, sid ? sid : "", k, json_string_value(json_object_get(o, "reason")));
  }
}

static const char *const count_keys[CNT__COUNT] = {"create", "update", "deactivate", "reactivate", "unchanged",
                                                  "left_out", "dropped", "skipped", "reported", "duplicates"};

json_t *run_counts_json(const run_result *r) {
  json_t *counts = json_object();
  for (int e = 0; e < ENT__COUNT; e++) {
    json_t *row = json_object();
    int any = 0;
    for (int k = 0; k < CNT__COUNT; k++) {
      json_object_set_new(row, count_keys[k], json_integer(r->counts[e][k]));
      any |= r->counts[e][k] != 0;
    }
    if (any) json_object_set_new(counts, schema_entity_get(e)->name, row);
    else json_decref(row);
  }
  return counts;
}

/* Stands for the operations in the dumped document; the writer splices the
 * oplog in where it appears (no real value can be this string: it would be
 * inside an array, never the whole "ops" value). */
#define OPS_MARK "\"@@syncvm-ops@@\""

/* The run document's members that come before its operations in every
 * layout: what applying needs first (runfile.h). */
static json_t *head_doc(const run_result *r) {
  json_t *doc = json_object();
  json_object_set_new(doc, "format", json_string("syncvm-run-1"));
  json_object_set_new(doc, "plan_sha256", json_string(r->plan_sha));
  json_object_set_new(doc, "spec_sha256", json_string(r->spec_sha));
  json_object_set_new(doc, "hub_version", json_integer(r->hub_version));
  json_object_set_new(doc, "held", r->held[0] ? json_string(r->held) : json_null());
  json_object_set_new(doc, "counts", run_counts_json(r));
  return doc;
}

int run_write_json(const run_result *r, FILE *out, size_t flags, json_t *extra) {
  json_t *doc = head_doc(r);
  /* the report before the operations: apply RUNFILE then knows all it
   * needs before the first operation, and applies them as it reads them */
  json_object_set(doc, "report", r->report);
  json_object_set_new(doc, "ops", json_string("@@syncvm-ops@@"));
  json_object_update(doc, extra);
  char *text = json_dumps(doc, flags);
  json_decref(doc);
  char *mark = text ? strstr(text, OPS_MARK) : NULL;
  int ok = mark != NULL;
  if (ok) {
    fwrite(text, 1, (size_t)(mark - text), out);
    ok = oplog_write_array(r->ops, out, flags, 1) && fputs(mark + strlen(OPS_MARK), out) != EOF && !ferror(out);
  }
  free(text);
  return ok;
}

/* ---- plan -o: the run file written as the run is computed ------------------------------ */

/* The room the head takes at most: its dump for the longest value each
 * member can have (hub version and counts at INT64_MIN, a hold of
 * control characters, each escaped in six bytes), and the comma after it. */
static size_t head_room(void) {
  static size_t room;
  if (room) return room;
  run_result *w = calloc(1, sizeof *w);
  if (!w) return 0;
  memset(w->plan_sha, 'f', sizeof w->plan_sha - 1);
  memset(w->spec_sha, 'f', sizeof w->spec_sha - 1);
  memset(w->held, '\x01', sizeof w->held - 1);
  w->hub_version = INT64_MIN;
  for (int e = 0; e < ENT__COUNT; e++)
    for (int k = 0; k < CNT__COUNT; k++) w->counts[e][k] = INT64_MIN;
  json_t *doc = head_doc(w);
  char *text = json_dumps(doc, JSON_COMPACT);
  if (text) room = strlen(text) + 1;
  free(text);
  json_decref(doc);
  free(w);
  return room;
}

oplog *run_file_begin(FILE *f) {
  size_t room = head_room();
  if (!room) return NULL;
  for (size_t i = 0; i < room; i++) putc(' ', f);
  fputs("\"ops\":[", f);
  return ferror(f) ? NULL : oplog_new_in(f);
}

int run_file_end(const run_result *r, FILE *f) {
  if (oplog_failed(r->ops) || fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0) return 0;
  char *report = json_dumps(r->report, JSON_COMPACT);
  json_t *doc = head_doc(r);
  char *head = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  size_t room = head_room(), n = head ? strlen(head) : 0;
  int ok = report && head && n <= room && fprintf(f, "],\"report\":%s}", report) > 0;
  if (ok) { /* "{...}" becomes "{...," then spaces up to the room, the last a newline */
    head[n - 1] = ',';
    ok = fseek(f, 0, SEEK_SET) == 0 && fwrite(head, 1, n, f) == n;
    for (size_t i = n; ok && i < room; i++) ok = putc(i + 1 < room ? ' ' : '\n', f) != EOF;
  }
  free(report);
  free(head);
  return ok && fflush(f) == 0;
}

/* run_head_from_json and run_head_first: `first` asks for what applying
 * needs before the first operation, the report allowed to come later. */
static int head_fields(json_t *doc, run_result *r, int first, char *err, size_t errsize) {
  const char *fmt = json_string_value(json_object_get(doc, "format"));
  if (!fmt || strcmp(fmt, "syncvm-run-1") != 0) {
    snprintf(err, errsize, "not a syncvm run file");
    return 0;
  }
  json_t *report = json_object_get(doc, "report");
  if (first && (!json_is_integer(json_object_get(doc, "hub_version")) || !json_is_object(json_object_get(doc, "counts")) ||
                !(json_is_null(json_object_get(doc, "held")) || json_is_string(json_object_get(doc, "held"))))) {
    snprintf(err, errsize, "the hub version, the hold or the counts come after the operations");
    return 0;
  }
  if (!json_is_array(report) && !(first && !report)) {
    snprintf(err, errsize, "the run file has no report");
    return 0;
  }
  json_decref(r->report);
  r->report = report ? json_incref(report) : json_array();
  r->hub_version = json_integer_value(json_object_get(doc, "hub_version"));
  const char *ps = json_string_value(json_object_get(doc, "plan_sha256"));
  const char *ss = json_string_value(json_object_get(doc, "spec_sha256"));
  snprintf(r->plan_sha, sizeof r->plan_sha, "%s", ps ? ps : "");
  snprintf(r->spec_sha, sizeof r->spec_sha, "%s", ss ? ss : "");
  const char *held = json_string_value(json_object_get(doc, "held"));
  if (held) snprintf(r->held, sizeof r->held, "%s", held);
  json_t *counts = json_object_get(doc, "counts");
  for (int e = 0; e < ENT__COUNT; e++) {
    json_t *row = json_object_get(counts, schema_entity_get(e)->name);
    for (int k = 0; row && k < CNT__COUNT; k++) r->counts[e][k] = json_integer_value(json_object_get(row, count_keys[k]));
  }
  return 1;
}

int run_head_from_json(json_t *doc, run_result *r, char *err, size_t errsize) { return head_fields(doc, r, 0, err, errsize); }

int run_head_first(json_t *doc, run_result *r, char *err, size_t errsize) { return head_fields(doc, r, 1, err, errsize); }

int run_add_op(run_result *r, json_t *op) {
  if (is_change_op(json_string_value(json_object_get(op, "op")))) r->nchanges++;
  return oplog_add(r->ops, op);
}

void run_count_op_text(run_result *r, const char *text, size_t n) {
  static const char head[] = "{\"op\":\""; /* as jtext and jansson write an operation: its kind first */
  const size_t h = sizeof head - 1;
  const char *q = n > h && !memcmp(text, head, h) ? memchr(text + h, '"', n - h) : NULL;
  if (q && !memchr(text + h, '\\', (size_t)(q - text - h))) {
    char kind[16];
    size_t k = (size_t)(q - text - h);
    if (k < sizeof kind) { /* a longer kind is none of them */
      memcpy(kind, text + h, k), kind[k] = 0;
      r->nchanges += is_change_op(kind);
    }
    return;
  }
  jmember m[32];
  size_t nm = jspan_members((jspan){text, n}, m, 32);
  char *kind = NULL;
  size_t cap = 0;
  if (jspan_str(jspan_get(m, nm, "op"), &kind, &cap) >= 0 && is_change_op(kind)) r->nchanges++;
  free(kind);
}

int run_add_op_text(run_result *r, const char *text, size_t n) {
  run_count_op_text(r, text, n);
  return oplog_add_text(r->ops, text, n);
}

int run_from_json(json_t *doc, run_result *r, char *err, size_t errsize) {
  memset(r, 0, sizeof *r);
  json_t *ops = json_object_get(doc, "ops");
  int head = run_head_from_json(doc, r, err, errsize);
  if (head && !json_is_array(ops)) snprintf(err, errsize, "the run file has no operations");
  if (!head || !json_is_array(ops)) {
    run_free(r);
    return 0;
  }
  r->ops = oplog_new();
  if (!r->ops) {
    snprintf(err, errsize, "cannot make a temporary file for the run's operations (TMPDIR): %s", strerror(errno));
    run_free(r);
    return 0;
  }
  size_t i;
  json_t *o;
  json_array_foreach(ops, i, o) run_add_op(r, json_incref(o));
  json_object_del(doc, "ops"); /* the oplog has them now: memory holds them once, briefly */
  return 1;
}

/* ---- the history's copy of the operations ---------------------------------------------- */

/* A create's links are its last member (put_create_links): the history,
 * like the listing, leaves links to new objects out (the hub has them), and
 * they were a seventh of a first sync's history.  The member is found from
 * the line's end; it must run to the object's last byte, so that an
 * attribute named "links" in the set, or a create without them, is never
 * cut. */
static size_t without_links(const char *line, size_t n) {
  static const char key[] = ",\"links\":";
  const size_t kn = sizeof key - 1;
  if (n < kn + 3 || line[n - 1] != '}' || line[n - 2] != ']') return n;
  for (size_t at = n - kn - 2; at > 0; at--)
    if (line[at] == ',' && !memcmp(line + at, key, kn)) {
      size_t len = jspan_value_len(line + at + kn, n - 1 - (at + kn));
      return len == n - 1 - (at + kn) && line[at + kn] == '[' ? at : n;
    }
  return n;
}

/* An applied run's history keeps the operations the listing shows; the
 * rest (links of new objects, snapshots, unlinks) are in sync_links once
 * applied, and were two thirds of a first sync's history. */
size_t run_history_keeps(const char *line, size_t n) {
  if (!listed(line, n)) return 0;
  static const char create[] = "{\"op\":\"create\"";
  return n > sizeof create && !memcmp(line, create, sizeof create - 1) ? without_links(line, n) : n;
}

int run_record_history(const run_result *r, store *s, int64_t run_id, int all, char *err, size_t errsize) {
  return hist_put(s->db, run_id, r->ops, all ? NULL : run_history_keeps, err, errsize);
}

void run_print_stats(const run_result *r, FILE *out) {
  double total = r->t_read + r->t_map + r->t_link + r->t_merge + r->t_write;
  fprintf(out, "\nphase                   seconds\n");
  fprintf(out, "read and decode         %7.3f\n", r->t_read);
  fprintf(out, "map, filter, require    %7.3f\n", r->t_map);
  fprintf(out, "references and link     %7.3f\n", r->t_link);
  fprintf(out, "merge, diff, deletions  %7.3f\n", r->t_merge);
  fprintf(out, "write to the hub        %7.3f\n", r->t_write);
  /* apply RUNFILE reads no record: what it did is write the run's operations */
  long long n = r->records ? (long long)r->records : (long long)(r->ops ? oplog_count(r->ops) : 0);
  const char *what = r->records || !r->ops ? "records" : "operations";
  fprintf(out, "total                   %7.3f   (%lld %s, %.0f %s/s)\n", total, n, what, total > 0 ? (double)n / total : 0.0, what);
  if (r->from_file) fprintf(out, "run file's operations   %s\n", r->ops && oplog_is_over(r->ops) ? "read where they lie" : "copied");
}
