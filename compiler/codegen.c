/* codegen.c: compiling the checked spec into a plan.
 *
 * Each source and entity it feeds becomes a unit with up to three blocks:
 * its map (source fields -> hub attributes), its filter (the entity's
 * filters, then the source's, with templates inlined) and its requirements.
 * Expressions compile to stack code (opcodes.def); `and`, `or` and `??`
 * short-circuit with the *_KEEP jumps, `if` with JUMP_IF_FALSE and JUMP.
 * Constant subexpressions are folded here, calling the same built-in
 * implementations the VM calls, so folding cannot change a result.
 *
 * Determinism: strings and constants are numbered in first-use order, units
 * follow the order sources are declared and entities the schema's order, and
 * nothing depends on addresses or hash-table order.
 */
#include "codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_api.h"
#include "builtins.h"
#include "kinds.h"
#include "opcodes.h"
#include "sha256.h"
#include "source.h"
#include "util.h"

/* ---- interning ----------------------------------------------------------- */

typedef struct {
  plan *p;
  uint32_t *hash;   /* open addressing over string indexes, PLAN_NONE empty */
  uint32_t hcap;
  uint32_t caps[8]; /* capacities of the growable plan arrays */
  arena ar;         /* for folding */
} cg_state;

static uint32_t fnv(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

#define GROW(arr, n, capref)                                        \
  do {                                                              \
    if ((n) == (capref)) {                                          \
      (capref) = (capref) ? (capref) * 2 : 16;                      \
      (arr) = xrealloc((arr), (size_t)(capref) * sizeof *(arr));    \
    }                                                               \
  } while (0)

static void rehash(cg_state *cg) {
  uint32_t cap = cg->hcap ? cg->hcap * 2 : 256;
  free(cg->hash);
  cg->hash = xmalloc(cap * sizeof *cg->hash);
  for (uint32_t i = 0; i < cap; i++) cg->hash[i] = PLAN_NONE;
  cg->hcap = cap;
  for (uint32_t i = 0; i < cg->p->nstrings; i++) {
    uint32_t h = fnv(cg->p->strings[i], cg->p->string_lens[i]) & (cap - 1);
    while (cg->hash[h] != PLAN_NONE) h = (h + 1) & (cap - 1);
    cg->hash[h] = i;
  }
}

static uint32_t str_n(cg_state *cg, const char *s, size_t n) {
  plan *p = cg->p;
  if ((p->nstrings + 1) * 2 > cg->hcap) rehash(cg);
  uint32_t h = fnv(s, n) & (cg->hcap - 1);
  while (cg->hash[h] != PLAN_NONE) {
    uint32_t i = cg->hash[h];
    if (p->string_lens[i] == n && memcmp(p->strings[i], s, n) == 0) return i;
    h = (h + 1) & (cg->hcap - 1);
  }
  uint32_t cap = cg->caps[0];
  GROW(p->strings, p->nstrings, cap);
  p->string_lens = xrealloc(p->string_lens, (size_t)cap * sizeof *p->string_lens);
  cg->caps[0] = cap;
  p->strings[p->nstrings] = xstrndup(s, n);
  p->string_lens[p->nstrings] = (uint32_t)n;
  cg->hash[h] = p->nstrings;
  return p->nstrings++;
}

static uint32_t str(cg_state *cg, const char *s) { return str_n(cg, s, strlen(s)); }

static uint32_t add_const(cg_state *cg, plan_const c) {
  plan *p = cg->p;
  for (uint32_t i = 0; i < p->nconsts; i++) {
    plan_const *o = &p->consts[i];
    if (o->kind == c.kind && o->str == c.str && o->i == c.i && o->first == c.first && o->count == c.count &&
        memcmp(&o->d, &c.d, sizeof c.d) == 0)
      return i;
  }
  GROW(p->consts, p->nconsts, cg->caps[1]);
  p->consts[p->nconsts] = c;
  return p->nconsts++;
}

static plan_const pc_blank(uint8_t kind) {
  plan_const c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  return c;
}

/* A constant for a folded value; PLAN_NONE when it has no constant form. */
static uint32_t const_of_value(cg_state *cg, value v) {
  plan_const c = pc_blank(v.kind);
  switch (v.kind) {
    case V_NULL: break;
    case V_BOOL: case V_INT: case V_DATE: case V_TIME: c.i = v.u.i; break;
    case V_DEC: {
      c.d = v.u.d;
      char buf[64];
      snprintf(buf, sizeof buf, "%.17g", v.u.d);
      c.str = str(cg, buf);
      break;
    }
    case V_STR: c.str = str_n(cg, v.u.s, v.len); break;
    case V_LIST: {
      uint32_t *items = xmalloc((v.len + 1) * sizeof *items);
      for (uint32_t i = 0; i < v.len; i++) {
        if (v.u.items[i].kind == V_LIST || v.u.items[i].kind == V_REGEX) {
          free(items);
          return PLAN_NONE;
        }
        items[i] = const_of_value(cg, v.u.items[i]);
      }
      plan *p = cg->p;
      /* Reuse an identical run of list items if there is one. */
      c.first = p->nlist_items;
      c.count = v.len;
      for (uint32_t i = 0; i < v.len; i++) {
        GROW(p->list_items, p->nlist_items, cg->caps[2]);
        p->list_items[p->nlist_items++] = items[i];
      }
      free(items);
      break;
    }
    default: return PLAN_NONE;
  }
  return add_const(cg, c);
}

/* ---- literal values (for folding and given fields) --------------------------- */

static int64_t date_num(const char *s) { return (int64_t)atoi(s) * 10000 + atoi(s + 5) * 100 + atoi(s + 8); }
static int64_t time_num(const char *s) {
  const char *colon = strchr(s, ':');
  return (int64_t)atoi(s) * 100 + (colon ? atoi(colon + 1) : 0);
}

/* The value of a literal node, or kind V_REGEX (as "none") when it is not one. */
static value literal_value(cg_state *cg, const node *n) {
  value none = {V_REGEX, 0, {0}};
  if (!n) return none;
  switch (n->kind) {
    case N_STR: return v_str(n->str, strlen(n->str));
    case N_INT: return v_int(n->num);
    case N_DEC: return v_dec(strtod(n->str, NULL));
    case N_BOOL: return v_bool((int)n->num);
    case N_NULL: return v_null();
    case N_DATE: return v_date(date_num(n->str));
    case N_TIME: return v_time(time_num(n->str));
    case N_NEG: {
      value x = literal_value(cg, n->kids[0]);
      if (x.kind == V_INT) return v_int(-x.u.i);
      if (x.kind == V_DEC) return v_dec(-x.u.d);
      return none;
    }
    case N_LIST: {
      value *items = arena_alloc(&cg->ar, ((size_t)n->nkids + 1) * sizeof *items);
      for (int i = 0; i < n->nkids; i++) {
        items[i] = literal_value(cg, n->kids[i]);
        if (items[i].kind == V_REGEX || items[i].kind == V_LIST) return none;
      }
      return v_list(items, (size_t)n->nkids);
    }
    default: return none;
  }
}

/* ---- emitting code --------------------------------------------------------------- */

typedef struct {
  uint8_t *code;
  uint32_t *loc_at;
  uint32_t len, cap;
} emitter;

typedef struct scope scope;
struct scope {
  const node *params;   /* a template's parameters */
  node *const *args;    /* the argument nodes bound to them */
  const scope *outer;   /* where the arguments are compiled */
  uint32_t via;         /* location of the `use` line */
};

typedef struct {
  cg_state *cg;
  plan_unit *unit;
  uint32_t unit_index;
  int in_map;           /* bare names are source fields */
  uint32_t loc;         /* location of the statement being compiled */
} unit_ctx;

static uint32_t add_loc(cg_state *cg, sync_span at) {
  plan *p = cg->p;
  const source_file *f = src_get(at.file);
  int line, col;
  src_linecol(at.file, at.start, &line, &col);
  uint32_t file = str(cg, f ? f->path : "?");
  for (uint32_t i = p->nlocs; i-- > 0;) /* locations repeat a lot: look back */
    if (p->locs[i].file == file && p->locs[i].line == (uint32_t)line && p->locs[i].col == (uint32_t)col) return i;
  GROW(p->locs, p->nlocs, cg->caps[3]);
  p->locs[p->nlocs].file = file;
  p->locs[p->nlocs].line = (uint32_t)line;
  p->locs[p->nlocs].col = (uint32_t)col;
  return p->nlocs++;
}

static uint32_t emit(emitter *e, uint32_t loc, int op, unsigned a, unsigned b) {
  int size = op_size(op);
  if (e->len + (uint32_t)size > e->cap) {
    e->cap = e->cap ? e->cap * 2 : 64;
    while (e->len + (uint32_t)size > e->cap) e->cap *= 2;
    e->code = xrealloc(e->code, e->cap);
    e->loc_at = xrealloc(e->loc_at, e->cap * sizeof *e->loc_at);
  }
  uint32_t at = e->len;
  e->code[at] = (uint8_t)op;
  e->loc_at[at] = loc;
  for (int i = 1; i < size; i++) e->loc_at[at + (uint32_t)i] = PLAN_NONE;
  switch (op_table[op].fmt) {
    case FMT_NONE: break;
    case FMT_CALL:
      e->code[at + 1] = (uint8_t)a, e->code[at + 2] = (uint8_t)(a >> 8), e->code[at + 3] = (uint8_t)b;
      break;
    case FMT_RULEATTR:
      e->code[at + 1] = (uint8_t)a, e->code[at + 2] = (uint8_t)(a >> 8);
      e->code[at + 3] = (uint8_t)b, e->code[at + 4] = (uint8_t)(b >> 8);
      break;
    default: e->code[at + 1] = (uint8_t)a, e->code[at + 2] = (uint8_t)(a >> 8); break;
  }
  e->len += (uint32_t)size;
  return at;
}

static void patch(emitter *e, uint32_t at) {
  e->code[at + 1] = (uint8_t)e->len;
  e->code[at + 2] = (uint8_t)(e->len >> 8);
}

static uint32_t field_slot(unit_ctx *u, const node *path, int first) {
  sbuf b = {0};
  for (int i = first; i < path->nkids; i++) {
    if (i > first) sb_putc(&b, '.');
    sb_puts(&b, path->kids[i]->str);
  }
  uint32_t s = str(u->cg, b.data ? b.data : "");
  sb_free(&b);
  plan_unit *un = u->unit;
  for (uint32_t i = 0; i < un->nfields; i++)
    if (un->fields[i] == s) return i;
  un->fields = xrealloc(un->fields, (un->nfields + 1) * sizeof *un->fields);
  un->fields[un->nfields] = s;
  return un->nfields++;
}

static int attr_slot(const plan *p, int entity, const char *name) {
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  int n = plan_entity_attrs(p, entity, names, types, SCHEMA_MAX_ATTRS);
  for (int i = 0; i < n && i < SCHEMA_MAX_ATTRS; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

static uint32_t call_index(cg_state *cg, const char *name) {
  plan *p = cg->p;
  uint32_t s = str(cg, name);
  for (uint32_t i = 0; i < p->ncalls; i++)
    if (p->calls[i] == s) return i;
  p->calls = xrealloc(p->calls, (p->ncalls + 1) * sizeof *p->calls);
  p->calls[p->ncalls] = s;
  return p->ncalls++;
}

static uint32_t regex_index(cg_state *cg, const node *re) {
  plan *p = cg->p;
  uint32_t pat = str(cg, re->str), fl = str(cg, re->str2 ? re->str2 : "");
  for (uint32_t i = 0; i < p->nregexes; i++)
    if (p->regexes[i].pattern == pat && p->regexes[i].flags == fl) return i;
  p->regexes = xrealloc(p->regexes, (p->nregexes + 1) * sizeof *p->regexes);
  p->regexes[p->nregexes].pattern = pat;
  p->regexes[p->nregexes].flags = fl;
  return p->nregexes++;
}

/* ---- constant folding -------------------------------------------------------------- */

static value fold(cg_state *cg, const node *e, const scope *sc);

/* Folds a call to a pure built-in whose arguments all fold. */
static value fold_call(cg_state *cg, const node *e, const scope *sc) {
  value none = {V_REGEX, 0, {0}};
  int bi = builtin_find(e->kids[0]->str);
  if (bi < 0 || (builtin_table[bi].flags & (BF_VOLATILE | BF_SETTING))) return none;
  int argc = e->nkids - 1;
  value args[16];
  if (argc > 16) return none;
  for (int i = 0; i < argc; i++) {
    args[i] = fold(cg, e->kids[i + 1], sc);
    if (args[i].kind == V_REGEX) return none;
    if (args[i].kind == V_NULL && !(builtin_table[bi].flags & BF_NULLS)) return v_null();
  }
  bi_ctx cx;
  memset(&cx, 0, sizeof cx);
  cx.arena = &cg->ar;
  value r = builtin_impl[bi](&cx, args, argc);
  if (cx.warning[0]) return none; /* leave it to run time, which warns per record */
  return r;
}

/* The value of a constant expression, or kind V_REGEX when it is not one. */
static value fold(cg_state *cg, const node *e, const scope *sc) {
  value none = {V_REGEX, 0, {0}};
  if (!e) return none;
  (void)sc;
  switch (e->kind) {
    case N_STR: case N_INT: case N_DEC: case N_BOOL: case N_NULL: case N_DATE: case N_TIME:
    case N_NEG: case N_LIST:
      return literal_value(cg, e);
    case N_CALL: return fold_call(cg, e, sc);
    case N_NOT: {
      value x = fold(cg, e->kids[0], sc);
      return x.kind == V_REGEX ? none : v_bool(!(x.kind == V_BOOL && x.u.i));
    }
    case N_BINOP: {
      value a = fold(cg, e->kids[0], sc);
      if (a.kind == V_REGEX) return none;
      if (e->num == BOP_COALESCE && a.kind != V_NULL) return a;
      value b = fold(cg, e->kids[1], sc);
      if (b.kind == V_REGEX) return none;
      switch ((binop)e->num) {
        case BOP_COALESCE: return b;
        case BOP_AND: return v_bool(a.kind == V_BOOL && a.u.i && b.kind == V_BOOL && b.u.i);
        case BOP_OR: return v_bool((a.kind == V_BOOL && a.u.i) || (b.kind == V_BOOL && b.u.i));
        case BOP_EQ: return v_bool(v_equal(a, b));
        case BOP_NE: return v_bool(!v_equal(a, b));
        case BOP_LT: return v_bool(v_compare(a, b) == -1);
        case BOP_LE: { int c = v_compare(a, b); return v_bool(c == -1 || c == 0); }
        case BOP_GT: return v_bool(v_compare(a, b) == 1);
        case BOP_GE: { int c = v_compare(a, b); return v_bool(c == 1 || c == 0); }
        case BOP_ADD:
          if (a.kind == V_STR && b.kind == V_STR) {
            char *s = arena_alloc(&cg->ar, (size_t)a.len + b.len + 1);
            memcpy(s, a.u.s, a.len);
            memcpy(s + a.len, b.u.s, b.len);
            return v_str(s, (size_t)a.len + b.len);
          }
          if (a.kind == V_INT && b.kind == V_INT) {
            int64_t r;
            if (!__builtin_add_overflow(a.u.i, b.u.i, &r)) return v_int(r);
          }
          return none;
        default: return none;
      }
    }
    case N_IF: {
      value c = fold(cg, e->kids[0], sc);
      if (c.kind == V_REGEX) return none;
      return fold(cg, e->kids[(c.kind == V_BOOL && c.u.i) ? 1 : 2], sc);
    }
    default: return none;
  }
}

/* ---- expressions ------------------------------------------------------------------- */

static void gen_expr(unit_ctx *u, emitter *em, const node *e, const scope *sc);

static const node *param_arg(const scope *sc, const char *name, const scope **outer) {
  for (; sc; sc = sc->outer) {
    if (!sc->params) continue;
    for (int i = 0; i < sc->params->nkids; i++)
      if (strcmp(sc->params->kids[i]->str, name) == 0) {
        *outer = sc->outer;
        return sc->args[i];
      }
    return NULL; /* a template sees only its own parameters */
  }
  return NULL;
}

static void gen_path(unit_ctx *u, emitter *em, const node *e, const scope *sc, uint32_t loc) {
  const char *first = e->kids[0]->str;
  if (u->in_map) {
    emit(em, loc, OP_LOAD_FIELD, field_slot(u, e, 0), 0);
    return;
  }
  if (strcmp(first, "src") == 0 && e->nkids > 1) {
    emit(em, loc, OP_LOAD_FIELD, field_slot(u, e, 1), 0);
    return;
  }
  const scope *outer = NULL;
  const node *arg = e->nkids == 1 ? param_arg(sc, first, &outer) : NULL;
  if (arg) {
    gen_expr(u, em, arg, outer);
    return;
  }
  int slot = attr_slot(u->cg->p, u->unit->entity, first);
  if (slot < 0) {
    emit(em, loc, OP_PUSH_NULL, 0, 0); /* an attribute this entity lacks (a generic template) */
    return;
  }
  emit(em, loc, OP_LOAD_ATTR, (unsigned)slot, 0);
}

static void gen_const(unit_ctx *u, emitter *em, value v, uint32_t loc) {
  if (v.kind == V_NULL) emit(em, loc, OP_PUSH_NULL, 0, 0);
  else if (v.kind == V_BOOL) emit(em, loc, v.u.i ? OP_PUSH_TRUE : OP_PUSH_FALSE, 0, 0);
  else emit(em, loc, OP_PUSH_CONST, const_of_value(u->cg, v), 0);
}

static void gen_expr(unit_ctx *u, emitter *em, const node *e, const scope *sc) {
  uint32_t loc = add_loc(u->cg, e->span);
  /* Template parameters are not constants of the template, so fold only
   * outside templates or where no parameter is involved (fold sees none). */
  if (e->kind != N_PATH && e->kind != N_REGEX) {
    value v = fold(u->cg, e, sc);
    if (v.kind != V_REGEX && (v.kind != V_LIST || v.len < 10000)) {
      uint32_t k = v.kind == V_NULL || v.kind == V_BOOL ? 0 : const_of_value(u->cg, v);
      if (k != PLAN_NONE) {
        gen_const(u, em, v, loc);
        return;
      }
    }
  }
  switch (e->kind) {
    case N_PATH: gen_path(u, em, e, sc, loc); return;
    case N_REGEX: emit(em, loc, OP_PUSH_REGEX, regex_index(u->cg, e), 0); return;
    case N_LIST:
      for (int i = 0; i < e->nkids; i++) gen_expr(u, em, e->kids[i], sc);
      emit(em, loc, OP_MAKE_LIST, (unsigned)e->nkids, 0);
      return;
    case N_CALL:
      for (int i = 1; i < e->nkids; i++) gen_expr(u, em, e->kids[i], sc);
      emit(em, loc, OP_CALL, call_index(u->cg, e->kids[0]->str), (unsigned)(e->nkids - 1));
      return;
    case N_NOT:
      gen_expr(u, em, e->kids[0], sc);
      emit(em, loc, OP_NOT, 0, 0);
      return;
    case N_NEG:
      gen_expr(u, em, e->kids[0], sc);
      emit(em, loc, OP_NEG, 0, 0);
      return;
    case N_IF: {
      gen_expr(u, em, e->kids[0], sc);
      uint32_t jf = emit(em, loc, OP_JUMP_IF_FALSE, 0, 0);
      gen_expr(u, em, e->kids[1], sc);
      uint32_t j = emit(em, loc, OP_JUMP, 0, 0);
      patch(em, jf);
      gen_expr(u, em, e->kids[2], sc);
      patch(em, j);
      return;
    }
    case N_BINOP: {
      binop op = (binop)e->num;
      const node *l = e->kids[0], *r = e->kids[1];
      if (op == BOP_AND || op == BOP_OR || op == BOP_COALESCE) {
        gen_expr(u, em, l, sc);
        int jop = op == BOP_AND ? OP_JUMP_FALSE_KEEP : op == BOP_OR ? OP_JUMP_TRUE_KEEP : OP_JUMP_NOT_NULL;
        uint32_t j = emit(em, loc, jop, 0, 0);
        gen_expr(u, em, r, sc);
        patch(em, j);
        return;
      }
      gen_expr(u, em, l, sc);
      if (op == BOP_MATCH || op == BOP_NOT_MATCH) {
        emit(em, loc, op == BOP_MATCH ? OP_MATCH : OP_NOT_MATCH, regex_index(u->cg, r), 0);
        return;
      }
      gen_expr(u, em, r, sc);
      static const int ops[BOP__COUNT] = {
          [BOP_EQ] = OP_EQ, [BOP_NE] = OP_NE, [BOP_LT] = OP_LT, [BOP_LE] = OP_LE, [BOP_GT] = OP_GT,
          [BOP_GE] = OP_GE, [BOP_IN] = OP_IN, [BOP_NOT_IN] = OP_NOT_IN, [BOP_ADD] = OP_ADD};
      emit(em, loc, ops[op], 0, 0);
      return;
    }
    default:
      emit(em, loc, OP_PUSH_NULL, 0, 0);
      return;
  }
}

/* ---- blocks ----------------------------------------------------------------------- */

static uint32_t finish_block(cg_state *cg, emitter *em, int kind, uint32_t unit, int value_block) {
  plan *p = cg->p;
  emit(em, em->len ? em->loc_at[0] : PLAN_NONE, value_block ? OP_RETURN_VALUE : OP_RETURN, 0, 0);
  GROW(p->blocks, p->nblocks, cg->caps[4]);
  plan_block *b = &p->blocks[p->nblocks];
  memset(b, 0, sizeof *b);
  b->kind = (uint8_t)kind;
  b->unit = unit;
  b->code = em->code;
  b->loc_at = em->loc_at;
  b->len = em->len;
  return p->nblocks++;
}

static uint32_t add_rule(unit_ctx *u, int kind, sync_span at, uint32_t via) {
  plan_unit *un = u->unit;
  un->rules = xrealloc(un->rules, (un->nrules + 1) * sizeof *un->rules);
  un->rules[un->nrules].kind = (uint8_t)kind;
  un->rules[un->nrules].loc = add_loc(u->cg, at);
  un->rules[un->nrules].via = via;
  return un->nrules++;
}

static const node *find_template(const spec_model *m, const char *name) {
  for (int i = 0; i < m->ntemplates; i++)
    if (strcmp(m->templates[i]->kids[0]->str, name) == 0) return m->templates[i];
  return NULL;
}

static void gen_rules(const spec_model *m, unit_ctx *u, emitter *em, const node *owner, int first, const scope *sc,
                      int depth) {
  for (int i = first; i < owner->nkids; i++) {
    const node *line = owner->kids[i];
    if (line->kind == N_USE_TEMPLATE) {
      const node *t = find_template(m, line->kids[0]->str);
      if (!t || depth > 16) continue;
      scope inner = {t->kids[1], line->kids + 1, sc, add_loc(u->cg, line->span)};
      gen_rules(m, u, em, t, 2, &inner, depth + 1);
      continue;
    }
    uint32_t via = PLAN_NONE;
    for (const scope *s = sc; s; s = s->outer)
      if (s->params) {
        via = s->via;
        break;
      }
    uint32_t rule = add_rule(u, line->kind == N_KEEP ? RULE_KEEP : RULE_DROP, line->span, via);
    gen_expr(u, em, line->kids[0], sc);
    emit(em, add_loc(u->cg, line->span), line->kind == N_KEEP ? OP_KEEP_IF : OP_DROP_IF, rule, 0);
  }
}

/* Does this filter or require declaration apply to the unit? */
static int applies(const node *decl, const char *source, int entity) {
  const node *t = decl->kids[0];
  if (schema_entity_find(t->kids[1]->str) != entity) return 0;
  return !t->kids[0] || strcmp(t->kids[0]->str, source) == 0;
}

typedef struct {
  node **items;
  int n;
} decls_t;

static void all_decls(const spec_model *m, decls_t *out) {
  out->n = 0;
  out->items = NULL;
  const spec_unit *units[65];
  int nunits = 0;
  units[nunits++] = &m->main;
  for (int i = 0; i < m->nlibs && nunits < 65; i++) units[nunits++] = &m->libs[i];
  for (int k = 0; k < nunits; k++) {
    const node *spec = units[k]->parsed.spec;
    for (int i = 0; spec && i < spec->nkids; i++) {
      if (!spec->kids[i]) continue;
      out->items = xrealloc(out->items, (size_t)(out->n + 1) * sizeof *out->items);
      out->items[out->n++] = spec->kids[i];
    }
  }
}

static void gen_unit(const spec_model *m, cg_state *cg, const decls_t *ds, uint32_t src_index, int entity) {
  plan *p = cg->p;
  const spec_source *s = &m->sources[src_index];
  GROW(p->units, p->nunits, cg->caps[5]);
  uint32_t ui = p->nunits++;
  plan_unit *un = &p->units[ui];
  memset(un, 0, sizeof *un);
  un->source = src_index;
  un->entity = (uint8_t)entity;
  un->map_block = un->filter_block = un->require_block = PLAN_NONE;
  unit_ctx u = {cg, un, ui, 1, 0};
  /* map */
  const node *map = s->maps[entity];
  if (map) {
    emitter em = {0};
    for (int i = 1; i < map->nkids; i++) {
      const node *a = map->kids[i];
      int slot = attr_slot(p, entity, a->kids[0]->str);
      if (slot < 0) continue;
      gen_expr(&u, &em, a->kids[1], NULL);
      emit(&em, add_loc(cg, a->span), OP_STORE_ATTR, (unsigned)slot, 0);
    }
    un = &p->units[ui], u.unit = un;
    un->map_block = finish_block(cg, &em, BLOCK_MAP, ui, 0);
  }
  /* filter: the entity's filters first, then the source's own */
  u.in_map = 0;
  emitter fe = {0};
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < ds->n; i++) {
      const node *d = ds->items[i];
      if (d->kind != N_FILTER || !applies(d, s->name, entity) || (d->kids[0]->kids[0] != NULL) != pass) continue;
      gen_rules(m, &u, &fe, d, 1, NULL, 0);
    }
  if (fe.len) un->filter_block = finish_block(cg, &fe, BLOCK_FILTER, ui, 0);
  /* require: skip lines before report lines, so a skipped record is not also reported */
  emitter re = {0};
  for (int kind = 0; kind < 2; kind++)
    for (int i = 0; i < ds->n; i++) {
      const node *d = ds->items[i];
      if (d->kind != N_REQUIRE || !applies(d, s->name, entity)) continue;
      for (int k = 1; k < d->nkids; k++) {
        const node *line = d->kids[k];
        if (line->num != kind) continue;
        uint32_t rule = add_rule(&u, kind ? RULE_REPORT : RULE_SKIP, line->span, PLAN_NONE);
        for (int j = 0; j < line->nkids; j++) {
          int slot = attr_slot(p, entity, line->kids[j]->str);
          if (slot >= 0)
            emit(&re, add_loc(cg, line->kids[j]->span), kind ? OP_REPORT_IF_MISSING : OP_SKIP_IF_MISSING, rule, (unsigned)slot);
        }
      }
    }
  if (re.len) un->require_block = finish_block(cg, &re, BLOCK_REQUIRE, ui, 0);
  else free(re.code), free(re.loc_at);
  if (!fe.len) free(fe.code), free(fe.loc_at);
}

/* ---- sources, tests and the rest ----------------------------------------------------- */

static void gen_sources(const spec_model *m, cg_state *cg) {
  plan *p = cg->p;
  p->sources = xcalloc((size_t)m->nsources + 1, sizeof *p->sources);
  p->nsources = (uint32_t)m->nsources;
  for (int i = 0; i < m->nsources; i++) {
    const spec_source *ss = &m->sources[i];
    plan_source *ps = &p->sources[i];
    ps->name = str(cg, ss->name);
    ps->kind = (uint8_t)ss->kind;
    for (int e = 0; e < ENT__COUNT; e++)
      if (ss->feeds[e]) ps->feeds |= (uint16_t)(1u << e);
    const node *d = ss->decl;
    for (int k = 2; k < d->nkids; k++) {
      const node *st = d->kids[k];
      if (st->kind == N_FILE_SETTING) {
        ps->files = xrealloc(ps->files, (ps->nfiles + 1) * sizeof *ps->files);
        plan_file *f = &ps->files[ps->nfiles++];
        memset(f, 0, sizeof *f);
        f->entity = (uint8_t)schema_entity_find(st->kids[0]->str);
        f->path = str(cg, st->kids[1]->str);
        f->at = st->kids[2] ? str(cg, st->kids[2]->str) : PLAN_NONE;
        continue;
      }
      ps->settings = xrealloc(ps->settings, (ps->nsettings + 1) * sizeof *ps->settings);
      plan_setting *o = &ps->settings[ps->nsettings++];
      memset(o, 0, sizeof *o);
      const node *v = st->kids[1];
      o->key = str(cg, st->kids[0]->str);
      if (v->kind == N_CALL) {
        o->secret = strcmp(v->kids[0]->str, "env") == 0 ? SECRET_ENV : SECRET_FILE;
        o->value = str(cg, v->kids[1]->str);
      } else if (v->kind == N_LIST) {
        /* entities = [a, b]: a list of entity names */
        value *items = arena_alloc(&cg->ar, ((size_t)v->nkids + 1) * sizeof *items);
        for (int j = 0; j < v->nkids; j++) {
          const char *nm = ast_simple_name(v->kids[j]);
          items[j] = v_str(nm ? nm : "", nm ? strlen(nm) : 0);
        }
        o->value = const_of_value(cg, v_list(items, (size_t)v->nkids));
      } else {
        o->secret = SECRET_NONE;
        o->value = const_of_value(cg, literal_value(cg, v));
      }
    }
    if (ss->schools) {
      ps->has_schools = 1;
      const node *sd = ss->schools;
      for (int k = 1; k < sd->nkids; k++) {
        const node *en = sd->kids[k];
        if (en->kind == N_SCHOOL_AUTO) {
          ps->schools_auto = 1;
          continue;
        }
        ps->schools = xrealloc(ps->schools, (ps->nschools + 1) * sizeof *ps->schools);
        plan_school *sc = &ps->schools[ps->nschools++];
        sc->id = str(cg, en->kids[0]->str);
        sc->code = en->kind == N_SCHOOL_MAP ? str(cg, en->kids[1]->str) : PLAN_NONE;
      }
    }
  }
}

static uint32_t find_unit(const plan *p, uint32_t source, int entity) {
  for (uint32_t i = 0; i < p->nunits; i++)
    if (p->units[i].source == source && p->units[i].entity == entity) return i;
  return PLAN_NONE;
}

static void gen_tests(const spec_model *m, cg_state *cg, const decls_t *ds) {
  plan *p = cg->p;
  for (int i = 0; i < ds->n; i++) {
    const node *d = ds->items[i];
    if (d->kind != N_TEST) continue;
    const node *given = NULL;
    for (int k = 1; k < d->nkids; k++)
      if (d->kids[k]->kind == N_GIVEN) given = d->kids[k];
    if (!given) continue;
    uint32_t src = PLAN_NONE;
    for (int k = 0; k < m->nsources; k++)
      if (strcmp(m->sources[k].name, given->kids[0]->kids[0]->str) == 0) src = (uint32_t)k;
    int entity = schema_entity_find(given->kids[0]->kids[1]->str);
    uint32_t ui = src == PLAN_NONE ? PLAN_NONE : find_unit(p, src, entity);
    if (ui == PLAN_NONE) continue;
    p->tests = xrealloc(p->tests, (p->ntests + 1) * sizeof *p->tests);
    plan_test *t = &p->tests[p->ntests++];
    memset(t, 0, sizeof *t);
    t->name = str(cg, d->kids[0]->str);
    t->unit = ui;
    t->loc = add_loc(cg, d->span);
    unit_ctx u = {cg, &p->units[ui], ui, 1, 0};
    for (int k = 1; k < given->nkids; k++) {
      const node *f = given->kids[k];
      t->given = xrealloc(t->given, (t->ngiven + 1) * sizeof *t->given);
      u.unit = &p->units[ui];
      uint32_t slot = field_slot(&u, f->kids[0], 0); /* may grow the field table */
      t->given[t->ngiven].path = p->units[ui].fields[slot];
      t->given[t->ngiven].value = const_of_value(cg, literal_value(cg, f->kids[1]));
      t->ngiven++;
    }
    for (int k = 1; k < d->nkids; k++) {
      const node *x = d->kids[k];
      if (x->kind != N_EXPECT) continue;
      t = &p->tests[p->ntests - 1];
      t->expects = xrealloc(t->expects, (t->nexpects + 1) * sizeof *t->expects);
      plan_expect *ex = &t->expects[t->nexpects++];
      ex->loc = add_loc(cg, x->span);
      ex->block = PLAN_NONE;
      if (x->num) { /* an outcome */
        const char *w = ast_simple_name(x->kids[0]);
        ex->kind = strcmp(w, "kept") == 0 ? EXPECT_KEPT : strcmp(w, "dropped") == 0 ? EXPECT_DROPPED
                 : strcmp(w, "skipped") == 0 ? EXPECT_SKIPPED : EXPECT_REPORTED;
        continue;
      }
      ex->kind = EXPECT_CONDITION;
      emitter em = {0};
      unit_ctx cu = {cg, &p->units[ui], ui, 0, 0};
      gen_expr(&cu, &em, x->kids[0], NULL);
      uint32_t blk = finish_block(cg, &em, BLOCK_EXPECT, ui, 1);
      p->tests[p->ntests - 1].expects[p->tests[p->ntests - 1].nexpects - 1].block = blk;
    }
  }
}

static uint32_t names_to_strs(cg_state *cg, const node *n, int first, uint32_t **out) {
  uint32_t k = 0;
  *out = xmalloc(((size_t)n->nkids + 1) * sizeof **out);
  for (int i = first; i < n->nkids; i++) (*out)[k++] = str(cg, n->kids[i]->str);
  return k;
}

static void gen_policy(const spec_model *m, cg_state *cg) {
  plan *p = cg->p;
  for (int e = 0; e < ENT__COUNT; e++) {
    const node *u = m->uniqueness[e];
    for (int i = 1; u && i < u->nkids; i++) {
      p->domains = xrealloc(p->domains, (p->ndomains + 1) * sizeof *p->domains);
      plan_domain *d = &p->domains[p->ndomains++];
      d->entity = (uint8_t)e;
      d->manual = (uint8_t)u->kids[i]->num;
      d->loc = add_loc(cg, u->kids[i]->span);
      d->nattrs = names_to_strs(cg, u->kids[i], 0, &d->attrs);
    }
    const node *pr = m->precedence[e];
    for (int i = 1; pr && i < pr->nkids; i++) {
      const node *rule = pr->kids[i];
      p->precs = xrealloc(p->precs, (p->nprecs + 1) * sizeof *p->precs);
      plan_prec *r = &p->precs[p->nprecs++];
      r->entity = (uint8_t)e;
      r->attr = strcmp(rule->kids[0]->str, "*") == 0 ? PLAN_NONE : str(cg, rule->kids[0]->str);
      r->loc = add_loc(cg, rule->span);
      r->sources = xmalloc(((size_t)rule->nkids + 1) * sizeof *r->sources);
      r->nsources = 0;
      for (int k = 1; k < rule->nkids; k++)
        for (int s = 0; s < m->nsources; s++)
          if (strcmp(m->sources[s].name, rule->kids[k]->str) == 0) r->sources[r->nsources++] = (uint32_t)s;
    }
  }
  if (m->policy)
    for (int i = 0; i < m->policy->nkids; i++) {
      const node *s = m->policy->kids[i];
      if (s->kind == N_SETTING) {
        const char *w = ast_simple_name(s->kids[1]);
        if (!w && s->kids[1]->kind == N_STR) w = s->kids[1]->str;
        if (strcmp(s->kids[0]->str, "preview") == 0) p->policy.preview = (uint8_t)s->kids[1]->num;
        else if (w && strcmp(w, "delete") == 0) p->policy.delete_objects = 1;
        continue;
      }
      p->policy.holds = xrealloc(p->policy.holds, (p->policy.nholds + 1) * sizeof *p->policy.holds);
      plan_hold *h = &p->policy.holds[p->policy.nholds++];
      h->entity = s->kids[0] ? (uint8_t)schema_entity_find(s->kids[0]->str) : 0xFF;
      const char *op = s->kids[1]->str;
      h->op = strcmp(op, "creates") == 0 ? HOLD_CREATES : strcmp(op, "updates") == 0 ? HOLD_UPDATES
            : strcmp(op, "deletes") == 0 ? HOLD_DELETES : HOLD_CHANGES;
      h->percent = (uint8_t)s->num;
      h->limit = s->kids[2]->kind == N_INT ? (double)s->kids[2]->num : strtod(s->kids[2]->str, NULL);
      h->loc = add_loc(cg, s->span);
    }
  if (m->schedule) {
    static const char *const days[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    for (int i = 0; i < m->schedule->nkids; i++) {
      const node *s = m->schedule->kids[i];
      if (s->kind == N_UNTIL) {
        p->schedule.until = date_num(s->kids[0]->str);
        continue;
      }
      p->schedule.freq = s->str[0] == 'd' ? FREQ_DAILY : s->str[0] == 'w' ? FREQ_WEEKLY : FREQ_HOURLY;
      if (s->kids[0])
        for (int d = 0; d < 7; d++)
          if (strcmp(days[d], s->kids[0]->str) == 0) p->schedule.weekday = (uint8_t)d;
      if (s->kids[1]) p->schedule.time = (uint16_t)time_num(s->kids[1]->str);
    }
  }
}

static void gen_inputs(const spec_model *m, cg_state *cg) {
  plan *p = cg->p;
  p->ninputs = (uint32_t)m->nlibs + 1;
  p->inputs = xcalloc(p->ninputs, sizeof *p->inputs);
  const spec_unit *units[65];
  units[0] = &m->main;
  for (int i = 0; i < m->nlibs && i < 64; i++) units[i + 1] = &m->libs[i];
  for (uint32_t i = 0; i < p->ninputs; i++) {
    const source_file *f = src_get(units[i]->file);
    p->inputs[i].name = str(cg, f->path);
    sha256(f->text, f->len, p->inputs[i].sha256);
  }
  plan_schema_hash(p->schema_hash);
}

plan *codegen(const spec_model *m) {
  cg_state cg;
  memset(&cg, 0, sizeof cg);
  cg.p = xcalloc(1, sizeof *cg.p);
  plan *p = cg.p;
  p->major = PLAN_MAJOR;
  p->minor = PLAN_MINOR;
  gen_inputs(m, &cg);
  gen_sources(m, &cg);
  p->attrs = xcalloc((size_t)m->nattrs + 1, sizeof *p->attrs);
  p->nattrs = (uint32_t)m->nattrs;
  for (int i = 0; i < m->nattrs; i++) {
    p->attrs[i].entity = (uint8_t)m->attrs[i].entity;
    p->attrs[i].type = (uint8_t)m->attrs[i].type;
    p->attrs[i].name = str(&cg, m->attrs[i].name);
  }
  decls_t ds;
  all_decls(m, &ds);
  for (int s = 0; s < m->nsources; s++)
    for (int e = 0; e < ENT__COUNT; e++)
      if (m->sources[s].feeds[e] && m->sources[s].maps[e]) gen_unit(m, &cg, &ds, (uint32_t)s, e);
  gen_policy(m, &cg);
  gen_tests(m, &cg, &ds);
  free(ds.items);
  free(cg.hash);
  arena_free(&cg.ar);
  return p;
}
