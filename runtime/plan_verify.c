/* plan_verify.c: checking a loaded plan before anything runs it.
 *
 * Lua and QuickJS trust the bytecode they load; we do not.  After the
 * reader has bounds-checked every byte, this checks meaning: every index
 * inside its table, every built-in resolved by name with a valid argument
 * count, every regex recompiled, and each block's code walked instruction
 * by instruction: opcodes in range, operands in range, jumps landing on an
 * instruction of the same block, the stack depth the same on every path
 * into an instruction, no underflow, no path running off the end, and each
 * opcode used only in the kind of block it belongs to.  The VM then runs
 * verified code without checking any of this again.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "kinds.h"
#include "opcodes.h"
#include "plan.h"
#include "sha256.h"

typedef struct {
  plan *p;
  char *err;
  size_t errsize;
  int failed;
} verifier;

static int vfail(verifier *v, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(verifier *v, size_t offset, const char *fmt, ...) {
  if (v->failed) return 0;
  char why[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(v->err, v->errsize, "bad plan: %s (offset %zu)", why, offset);
  v->failed = 1;
  return 0;
}

#define STR_OK(p, i) ((i) < (p)->nstrings)
#define STR_OR_NONE(p, i) ((i) == PLAN_NONE || (i) < (p)->nstrings)

void plan_schema_hash(uint8_t out[32]);

static int check_consts(verifier *v) {
  plan *p = v->p;
  for (uint32_t i = 0; i < p->nlist_items; i++) {
    uint32_t k = p->list_items[i];
    if (k >= p->nconsts || p->consts[k].kind == V_LIST) return vfail(v, 0, "list item %u is not a plain constant", i);
  }
  for (uint32_t i = 0; i < p->nconsts; i++) {
    plan_const *c = &p->consts[i];
    if ((c->kind == V_STR || c->kind == V_DEC) && !STR_OK(p, c->str)) return vfail(v, 0, "constant %u names string %u, which does not exist", i, c->str);
    if (c->kind == V_LIST && (c->first > p->nlist_items || c->count > p->nlist_items - c->first))
      return vfail(v, 0, "list constant %u is out of range", i);
  }
  /* Constants as values, once, so the VM pushes them without converting. */
  p->const_values = calloc(p->nconsts + 1, sizeof *p->const_values);
  p->list_values = calloc(p->nlist_items + 1, sizeof *p->list_values);
  if (!p->const_values || !p->list_values) return vfail(v, 0, "out of memory");
  for (int pass = 0; pass < 2; pass++) /* lists after their items */
    for (uint32_t i = 0; i < p->nconsts; i++) {
      plan_const *c = &p->consts[i];
      value *out = &p->const_values[i];
      if (pass == 0 && c->kind != V_LIST) {
        switch (c->kind) {
          case V_NULL: *out = v_null(); break;
          case V_BOOL: *out = v_bool((int)c->i); break;
          case V_INT: *out = v_int(c->i); break;
          case V_DATE: *out = v_date(c->i); break;
          case V_TIME: *out = v_time(c->i); break;
          case V_DEC: *out = v_dec(c->d); break;
          case V_STR: *out = v_str(p->strings[c->str], p->string_lens[c->str]); break;
        }
      } else if (pass == 1 && c->kind == V_LIST) {
        for (uint32_t k = 0; k < c->count; k++) p->list_values[c->first + k] = p->const_values[p->list_items[c->first + k]];
        *out = v_list(&p->list_values[c->first], c->count);
      }
    }
  return 1;
}

static int check_regexes(verifier *v) {
  plan *p = v->p;
  p->compiled = calloc(p->nregexes + 1, sizeof *p->compiled);
  if (!p->compiled) return vfail(v, 0, "out of memory");
  for (uint32_t i = 0; i < p->nregexes; i++) {
    plan_regex *r = &p->regexes[i];
    if (!STR_OK(p, r->pattern) || !STR_OK(p, r->flags)) return vfail(v, 0, "regex %u names a missing string", i);
    uint32_t opts = PCRE2_UTF;
    for (const char *f = p->strings[r->flags]; *f; f++) {
      switch (*f) {
        case 'i': opts |= PCRE2_CASELESS; break;
        case 'm': opts |= PCRE2_MULTILINE; break;
        case 's': opts |= PCRE2_DOTALL; break;
        case 'x': opts |= PCRE2_EXTENDED; break;
        case 'u': opts |= PCRE2_UCP; break;
        default: return vfail(v, 0, "regex %u has unknown flag '%c'", i, *f);
      }
    }
    int errc;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)p->strings[r->pattern], p->string_lens[r->pattern], opts, &errc,
                                     &erroff, NULL);
    if (!code) return vfail(v, 0, "regex %u does not compile", i);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* where the platform has a JIT; fine without */
    p->compiled[i].pattern = p->strings[r->pattern];
    p->compiled[i].flags = p->strings[r->flags];
    p->compiled[i].code = (struct pcre2_real_code_8 *)code;
  }
  return 1;
}

void plan_free_compiled(plan *p) {
  if (!p->compiled) return;
  for (uint32_t i = 0; i < p->nregexes; i++) pcre2_code_free((pcre2_code *)p->compiled[i].code);
  free(p->compiled);
  p->compiled = NULL;
}

static int check_calls(verifier *v) {
  plan *p = v->p;
  p->call_builtin = calloc(p->ncalls + 1, sizeof *p->call_builtin);
  if (!p->call_builtin) return vfail(v, 0, "out of memory");
  for (uint32_t i = 0; i < p->ncalls; i++) {
    if (!STR_OK(p, p->calls[i])) return vfail(v, 0, "call %u names a missing string", i);
    int b = builtin_find(p->strings[p->calls[i]]);
    if (b < 0) return vfail(v, 0, "unknown built-in '%s' (the plan needs a newer syncvm)", p->strings[p->calls[i]]);
    if (builtin_table[b].flags & BF_SETTING) return vfail(v, 0, "%s() cannot be called from code", builtin_table[b].name);
    p->call_builtin[i] = b;
  }
  return 1;
}

static int check_sources(verifier *v) {
  plan *p = v->p;
  for (uint32_t i = 0; i < p->nsources; i++) {
    plan_source *s = &p->sources[i];
    if (!STR_OK(p, s->name) || s->kind >= KIND__COUNT || s->feeds >= (1u << ENT__COUNT))
      return vfail(v, 0, "source %u is malformed", i);
    for (uint32_t k = 0; k < s->nsettings; k++) {
      plan_setting *st = &s->settings[k];
      if (!STR_OK(p, st->key) || setting_find(p->strings[st->key]) < 0) return vfail(v, 0, "source %u has an unknown setting", i);
      if (st->secret > SECRET_FILE) return vfail(v, 0, "source %u: bad secret kind", i);
      if (st->secret ? !STR_OK(p, st->value) : st->value >= p->nconsts) return vfail(v, 0, "source %u: setting value out of range", i);
    }
    for (uint32_t k = 0; k < s->nfiles; k++)
      if (s->files[k].entity >= ENT__COUNT || !STR_OK(p, s->files[k].path) || !STR_OR_NONE(p, s->files[k].at))
        return vfail(v, 0, "source %u: bad file entry", i);
    for (uint32_t k = 0; k < s->nschools; k++)
      if (!STR_OK(p, s->schools[k].id) || !STR_OR_NONE(p, s->schools[k].code)) return vfail(v, 0, "source %u: bad school entry", i);
  }
  for (uint32_t i = 0; i < p->nattrs; i++)
    if (p->attrs[i].entity >= ENT__COUNT || p->attrs[i].type >= TY__COUNT || !STR_OK(p, p->attrs[i].name))
      return vfail(v, 0, "attribute %u is malformed", i);
  for (int e = 0; e < ENT__COUNT; e++) /* the VM and the runtime hold an entity's attributes in arrays this long */
    if (plan_entity_attrs(p, e, NULL, NULL, 0) > SCHEMA_MAX_ATTRS)
      return vfail(v, 0, "%s has more than %d attributes", schema_entity_get(e)->name, SCHEMA_MAX_ATTRS);
  return 1;
}

static int check_units(verifier *v) {
  plan *p = v->p;
  for (uint32_t i = 0; i < p->nunits; i++) {
    plan_unit *u = &p->units[i];
    if (u->source >= p->nsources || u->entity >= ENT__COUNT) return vfail(v, 0, "unit %u is malformed", i);
    for (uint32_t k = 0; k < u->nfields; k++)
      if (!STR_OK(p, u->fields[k])) return vfail(v, 0, "unit %u: field %u names a missing string", i, k);
    uint32_t blocks[3] = {u->map_block, u->filter_block, u->require_block};
    for (int k = 0; k < 3; k++) {
      if (blocks[k] == PLAN_NONE) continue;
      if (blocks[k] >= p->nblocks || p->blocks[blocks[k]].unit != i || p->blocks[blocks[k]].kind != k)
        return vfail(v, 0, "unit %u: block reference %u is wrong", i, blocks[k]);
    }
    for (uint32_t k = 0; k < u->nrules; k++) {
      plan_rule *r = &u->rules[k];
      if (r->kind > RULE_REPORT || r->loc >= p->nlocs || (r->via != PLAN_NONE && r->via >= p->nlocs))
        return vfail(v, 0, "unit %u: rule %u is malformed", i, k);
    }
  }
  return 1;
}

/* The stack depth before each instruction, by abstract interpretation. */
static int check_block(verifier *v, uint32_t bi) {
  plan *p = v->p;
  plan_block *b = &p->blocks[bi];
  size_t base = p->code_offset ? p->code_offset[bi] : 0;
  if (b->unit >= p->nunits || b->kind > BLOCK_EXPECT) return vfail(v, base, "block %u is malformed", bi);
  plan_unit *u = &p->units[b->unit];
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  int nattrs = plan_entity_attrs(p, u->entity, names, types, SCHEMA_MAX_ATTRS);
  uint32_t len = b->len;
  if (len == 0) return vfail(v, base, "block %u is empty", bi);
  /* Pass 1: instruction boundaries and operand ranges. */
  uint8_t *start = calloc(len + 1, 1);
  int *depth = malloc((len + 1) * sizeof *depth);
  uint32_t *work = malloc((len + 1) * sizeof *work);
  if (!start || !depth || !work) {
    free(start), free(depth), free(work);
    return vfail(v, base, "out of memory");
  }
  int ok = 1;
  for (uint32_t pc = 0; ok && pc < len;) {
    unsigned op = b->code[pc];
    if (op >= OP__COUNT) {
      ok = vfail(v, base + pc, "unknown opcode %u in block %u", op, bi);
      break;
    }
    int size = op_size((int)op);
    if (pc + (uint32_t)size > len) {
      ok = vfail(v, base + pc, "instruction runs past the end of block %u", bi);
      break;
    }
    start[pc] = 1;
    const uint8_t *arg = b->code + pc + 1;
    unsigned a = size > 1 ? rd16(arg) : 0;
    switch (op_table[op].fmt) {
      case FMT_NONE: case FMT_LABEL: case FMT_COUNT: break;
      case FMT_CONST: if (a >= p->nconsts) ok = vfail(v, base + pc, "constant %u out of range", a); break;
      case FMT_FIELD: if (a >= u->nfields) ok = vfail(v, base + pc, "field %u out of range", a); break;
      case FMT_ATTR: if ((int)a >= nattrs) ok = vfail(v, base + pc, "attribute %u out of range", a); break;
      case FMT_REGEX: if (a >= p->nregexes) ok = vfail(v, base + pc, "regex %u out of range", a); break;
      case FMT_CALL:
        if (a >= p->ncalls) {
          ok = vfail(v, base + pc, "call %u out of range", a);
        } else {
          const builtin_info *bt = &builtin_table[p->call_builtin[a]];
          int argc = arg[2];
          if (argc < bt->min_args || (bt->max_args >= 0 && argc > bt->max_args))
            ok = vfail(v, base + pc, "%s() called with %d arguments", bt->name, argc);
        }
        break;
      case FMT_RULE:
      case FMT_RULEATTR: {
        if (a >= u->nrules) {
          ok = vfail(v, base + pc, "rule %u out of range", a);
          break;
        }
        int want = op == OP_KEEP_IF ? RULE_KEEP : op == OP_DROP_IF ? RULE_DROP : op == OP_SKIP_IF_MISSING ? RULE_SKIP : RULE_REPORT;
        if (u->rules[a].kind != want) ok = vfail(v, base + pc, "rule %u is of the wrong kind", a);
        if (op_table[op].fmt == FMT_RULEATTR && (int)rd16(arg + 2) >= nattrs) ok = vfail(v, base + pc, "attribute out of range");
        break;
      }
      default: ok = vfail(v, base + pc, "bad operand format"); break;
    }
    /* Opcodes belong to kinds of blocks. */
    int allowed = 1;
    switch (op) {
      case OP_STORE_ATTR: allowed = b->kind == BLOCK_MAP; break;
      case OP_LOAD_ATTR: allowed = b->kind != BLOCK_MAP; break;
      case OP_KEEP_IF: case OP_DROP_IF: allowed = b->kind == BLOCK_FILTER; break;
      case OP_SKIP_IF_MISSING: case OP_REPORT_IF_MISSING: allowed = b->kind == BLOCK_REQUIRE; break;
      case OP_RETURN_VALUE: allowed = b->kind == BLOCK_EXPECT; break;
      case OP_RETURN: allowed = b->kind != BLOCK_EXPECT; break;
      default: break;
    }
    if (ok && !allowed) ok = vfail(v, base + pc, "%s is not allowed in this kind of block", op_table[op].name);
    pc += (uint32_t)size;
  }
  /* Pass 2: stack depths along every path. */
  for (uint32_t i = 0; i <= len; i++) depth[i] = -1;
  int nwork = 0, max = 0;
  if (ok) depth[0] = 0, work[nwork++] = 0;
  while (ok && nwork > 0) {
    uint32_t pc = work[--nwork];
    unsigned op = b->code[pc];
    const op_info *oi = &op_table[op];
    int d = depth[pc];
    int pop = oi->pop;
    if (op == OP_CALL) pop = b->code[pc + 3];
    if (op == OP_MAKE_LIST) pop = (int)rd16(b->code + pc + 1);
    if (d < pop) {
      ok = vfail(v, base + pc, "stack underflow at %s", oi->name);
      break;
    }
    int after = d - pop + oi->push;
    if (after > PLAN_MAX_STACK) {
      ok = vfail(v, base + pc, "stack deeper than %d", PLAN_MAX_STACK);
      break;
    }
    if (after > max) max = after;
    uint32_t next[2];
    int nnext = 0;
    int branch_depth = after;
    switch (op) {
      case OP_RETURN:
        if (d != 0) ok = vfail(v, base + pc, "RETURN with %d values on the stack", d);
        break;
      case OP_RETURN_VALUE:
        if (d != 1) ok = vfail(v, base + pc, "RETURN_VALUE with %d values on the stack", d);
        break;
      case OP_JUMP:
        next[nnext++] = rd16(b->code + pc + 1);
        break;
      case OP_JUMP_IF_FALSE:
        next[nnext++] = rd16(b->code + pc + 1);
        next[nnext++] = pc + (uint32_t)op_size((int)op);
        break;
      case OP_JUMP_FALSE_KEEP: case OP_JUMP_TRUE_KEEP: case OP_JUMP_NOT_NULL:
        /* Jumping keeps the value; falling through pops it. */
        next[nnext++] = rd16(b->code + pc + 1);
        next[nnext++] = pc + (uint32_t)op_size((int)op);
        branch_depth = d;
        after = d - 1;
        break;
      default:
        next[nnext++] = pc + (uint32_t)op_size((int)op);
        break;
    }
    for (int k = 0; ok && k < nnext; k++) {
      uint32_t t = next[k];
      int td = (k == 0 && nnext == 2) || op == OP_JUMP ? branch_depth : after;
      if (op == OP_JUMP_IF_FALSE) td = after;
      if (t >= len) {
        ok = vfail(v, base + pc, t == len ? "execution runs off the end of block %u" : "jump outside block %u", bi);
        break;
      }
      if (!start[t]) {
        ok = vfail(v, base + pc, "jump into the middle of an instruction");
        break;
      }
      if (depth[t] < 0) {
        depth[t] = td;
        work[nwork++] = t;
      } else if (depth[t] != td) {
        ok = vfail(v, base + t, "stack depth %d and %d meet at one instruction", depth[t], td);
      }
    }
  }
  for (uint32_t pc = 0; ok && pc < len; pc++)
    if (start[pc] && b->loc_at[pc] != PLAN_NONE && b->loc_at[pc] >= p->nlocs)
      ok = vfail(v, base + pc, "debug location out of range");
  b->max_stack = (uint16_t)max;
  free(start);
  free(depth);
  free(work);
  return ok;
}

static int check_rest(verifier *v) {
  plan *p = v->p;
  for (uint32_t i = 0; i < p->nlocs; i++)
    if (!STR_OK(p, p->locs[i].file)) return vfail(v, 0, "location %u names a missing file", i);
  /* The pipeline notes a record's linking domain in 16 bits. */
  if (p->ndomains > 60000) return vfail(v, 0, "%u uniqueness domains (at most 60000)", p->ndomains);
  for (uint32_t i = 0; i < p->ndomains; i++) {
    plan_domain *d = &p->domains[i];
    if (d->entity >= ENT__COUNT || d->manual > 1 || d->loc >= p->nlocs || d->nattrs == 0) return vfail(v, 0, "domain %u is malformed", i);
    for (uint32_t k = 0; k < d->nattrs; k++)
      if (!STR_OK(p, d->attrs[k])) return vfail(v, 0, "domain %u names a missing string", i);
  }
  for (uint32_t i = 0; i < p->nprecs; i++) {
    plan_prec *r = &p->precs[i];
    if (r->entity >= ENT__COUNT || !STR_OR_NONE(p, r->attr) || r->loc >= p->nlocs) return vfail(v, 0, "precedence rule %u is malformed", i);
    for (uint32_t k = 0; k < r->nsources; k++)
      if (r->sources[k] >= p->nsources) return vfail(v, 0, "precedence rule %u names a missing source", i);
  }
  for (uint32_t i = 0; i < p->policy.nholds; i++) {
    plan_hold *h = &p->policy.holds[i];
    if ((h->entity >= ENT__COUNT && h->entity != 0xFF) || h->op > HOLD_CHANGES || h->percent > 1 || h->loc >= p->nlocs ||
        !(h->limit >= 0) || (h->percent && h->limit > 100))
      return vfail(v, 0, "hold rule %u is malformed", i);
  }
  if (p->schedule.freq > FREQ_HOURLY || p->schedule.weekday > 6 || p->schedule.time % 100 > 59 || p->schedule.time / 100 > 23)
    return vfail(v, 0, "the schedule is malformed");
  for (uint32_t i = 0; i < p->ntests; i++) {
    plan_test *t = &p->tests[i];
    if (!STR_OK(p, t->name) || t->unit >= p->nunits || t->loc >= p->nlocs) return vfail(v, 0, "test %u is malformed", i);
    for (uint32_t k = 0; k < t->ngiven; k++)
      if (!STR_OK(p, t->given[k].path) || t->given[k].value >= p->nconsts) return vfail(v, 0, "test %u: bad given field", i);
    for (uint32_t k = 0; k < t->nexpects; k++) {
      plan_expect *e = &t->expects[k];
      if (e->kind > EXPECT_CONDITION || e->loc >= p->nlocs) return vfail(v, 0, "test %u: bad expectation", i);
      if (e->kind == EXPECT_CONDITION && (e->block >= p->nblocks || p->blocks[e->block].kind != BLOCK_EXPECT ||
                                          p->blocks[e->block].unit != t->unit))
        return vfail(v, 0, "test %u: bad expectation block", i);
    }
  }
  for (uint32_t i = 0; i < p->ninputs; i++)
    if (!STR_OK(p, p->inputs[i].name)) return vfail(v, 0, "input %u names a missing string", i);
  uint8_t schema[32];
  plan_schema_hash(schema);
  if (memcmp(schema, p->schema_hash, 32) != 0)
    return vfail(v, 0, "the plan was built for another version of the hub schema: rebuild it with this syncc");
  return 1;
}

int plan_verify(plan *p, char *err, size_t errsize) {
  verifier v = {p, err, errsize, 0};
  if (!check_consts(&v) || !check_regexes(&v) || !check_calls(&v) || !check_sources(&v) || !check_units(&v)) return 0;
  for (uint32_t i = 0; i < p->nblocks; i++)
    if (!check_block(&v, i)) return 0;
  return check_rest(&v);
}

