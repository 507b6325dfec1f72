/* vm.c: the interpreter loop.
 *
 * The plan was verified when it was loaded (plan_verify.c): operands are in
 * range, jumps land on instructions, the stack never under- or overflows.
 * So the loop does no checking of its own; it is a tight dispatch over
 * opcodes.def (computed goto on GCC and clang, a switch elsewhere), with the
 * slow parts (calls, regexes, conversions) in helpers.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "vm.h"

#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtins.h"
#include "disasm.h"
#include "opcodes.h"

void vm_init(vm *v, const plan *p) {
  memset(v, 0, sizeof *v);
  v->p = p;
  v->bi.arena = &v->ar;
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  v->bi.today = (int64_t)(tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
  v->match_data = pcre2_match_data_create(10, NULL);
  for (int e = 0; e < ENT__COUNT; e++) plan_entity_attrs(p, e, v->attr_names[e], v->attr_types[e], SCHEMA_MAX_ATTRS);
}

void vm_free(vm *v) {
  arena_free(&v->ar);
  pcre2_match_data_free((pcre2_match_data *)v->match_data);
}

void vm_reset_record(vm *v) { arena_rewind(&v->ar); }

static void warn_at(vm *v, const plan_block *b, uint32_t pc, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  v->warnings++;
  if (v->warn) v->warn(v->warn_ctx, b->loc_at[pc], msg);
}

static int truthy(value x) { return x.kind == V_BOOL && x.u.i; }

static int64_t ymd_from_text(value x) { return parse_date_text(x.u.s, x.len, 0); }

value vm_coerce(arena *a, value x, int type, const char **why) {
  *why = NULL;
  if (x.kind == V_NULL || type == TY_ANY) return x;
  switch (type) {
    case TY_STRING:
      return x.kind == V_STR ? x : v_to_string(a, x);
    case TY_INT:
      if (x.kind == V_INT) return x;
      if (x.kind == V_BOOL) return v_int(x.u.i);
      if (x.kind == V_DEC && x.u.d > -9.2e18 && x.u.d < 9.2e18 && x.u.d == (double)(int64_t)x.u.d) return v_int((int64_t)x.u.d);
      if (x.kind == V_STR) {
        size_t i = 0, n = x.len;
        while (i < n && (x.u.s[i] == ' ' || x.u.s[i] == '\t')) i++;
        while (n > i && (x.u.s[n - 1] == ' ' || x.u.s[n - 1] == '\t')) n--;
        if (i == n) return v_null();
        char buf[32];
        if (n - i < sizeof buf) {
          memcpy(buf, x.u.s + i, n - i);
          buf[n - i] = 0;
          /* Digits with an optional sign, or a whole decimal ("12.0");
           * never 1e3, 0x1A, nan or inf, and never a cast out of range. */
          char *end;
          errno = 0;
          long long ll = strtoll(buf, &end, 10);
          if (*end == 0 && end != buf && errno == 0) return v_int(ll);
          size_t k = (buf[0] == '-' || buf[0] == '+') ? 1 : 0, dots = 0, digits = 0;
          for (; buf[k]; k++) {
            if (buf[k] == '.') dots++;
            else if (buf[k] >= '0' && buf[k] <= '9') digits++;
            else break;
          }
          if (!buf[k] && dots == 1 && digits > 0) {
            double d = strtod(buf, &end);
            if (*end == 0 && d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d) return v_int((long long)d);
          }
        }
      }
      *why = "is not a whole number";
      return v_null();
    case TY_DECIMAL:
      if (x.kind == V_DEC) return x;
      if (x.kind == V_INT) return v_dec((double)x.u.i);
      if (x.kind == V_STR && x.len < 64) {
        char buf[64], *end;
        memcpy(buf, x.u.s, x.len);
        buf[x.len] = 0;
        /* Plain decimal text only: never nan, inf or hexadecimal floats. */
        int plain = buf[0] != 0;
        for (const char *q = buf; *q; q++) plain &= (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == '+';
        double d = plain ? strtod(buf, &end) : 0;
        if (plain && end != buf && *end == 0) return v_dec(d);
      }
      *why = "is not a number";
      return v_null();
    case TY_BOOL:
      if (x.kind == V_BOOL) return x;
      if (x.kind == V_INT && (x.u.i == 0 || x.u.i == 1)) return v_bool((int)x.u.i);
      if (x.kind == V_STR) {
        static const char *const yes[] = {"true", "t", "yes", "y", "1", "TRUE", "True", "Yes", "Y", "T", NULL};
        static const char *const no[] = {"false", "f", "no", "n", "0", "FALSE", "False", "No", "N", "F", NULL};
        for (int i = 0; yes[i]; i++)
          if (strlen(yes[i]) == x.len && memcmp(yes[i], x.u.s, x.len) == 0) return v_bool(1);
        for (int i = 0; no[i]; i++)
          if (strlen(no[i]) == x.len && memcmp(no[i], x.u.s, x.len) == 0) return v_bool(0);
        if (x.len == 0) return v_null();
      }
      *why = "is not true or false";
      return v_null();
    case TY_DATE:
      if (x.kind == V_DATE) return x;
      if (x.kind == V_STR) {
        if (x.len == 0) return v_null();
        int64_t d = ymd_from_text(x);
        if (d > 0) return v_date(d);
      }
      if (x.kind == V_INT && x.u.i > 10000101 && x.u.i < 99991231) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%lld", (long long)x.u.i);
        int64_t d = parse_date_text(buf, (size_t)n, 0);
        if (d > 0) return v_date(d);
      }
      *why = "is not a date";
      return v_null();
    case TY_LIST: {
      if (x.kind == V_LIST) return x;
      if (x.kind == V_STR) {
        /* "a, b,c" from a file source: split on commas, items trimmed. */
        size_t n = 1;
        for (uint32_t i = 0; i < x.len; i++) n += x.u.s[i] == ',';
        value *items = arena_alloc(a, n * sizeof *items);
        size_t k = 0, start = 0;
        for (uint32_t i = 0; i <= x.len; i++) {
          if (i < x.len && x.u.s[i] != ',') continue;
          size_t s = start, e = i;
          while (s < e && x.u.s[s] == ' ') s++;
          while (e > s && x.u.s[e - 1] == ' ') e--;
          if (e > s) items[k++] = v_str(x.u.s + s, e - s);
          start = i + 1;
        }
        return v_list(items, k);
      }
      value *one = arena_alloc(a, sizeof *one);
      *one = x;
      return v_list(one, 1);
    }
    default:
      return x;
  }
}

static value do_add(vm *v, value a, value b, int *overflow) {
  *overflow = 0;
  if (a.kind == V_NULL || b.kind == V_NULL) return v_null();
  if (a.kind == V_INT && b.kind == V_INT) {
    int64_t r;
    if (__builtin_add_overflow(a.u.i, b.u.i, &r)) {
      *overflow = 1;
      return v_null();
    }
    return v_int(r);
  }
  if ((a.kind == V_INT || a.kind == V_DEC) && (b.kind == V_INT || b.kind == V_DEC))
    return v_dec((a.kind == V_INT ? (double)a.u.i : a.u.d) + (b.kind == V_INT ? (double)b.u.i : b.u.d));
  if (a.kind == V_LIST && b.kind == V_LIST) {
    value *items = arena_alloc(&v->ar, ((size_t)a.len + b.len + 1) * sizeof *items);
    memcpy(items, a.u.items, a.len * sizeof *items);
    memcpy(items + a.len, b.u.items, b.len * sizeof *items);
    return v_list(items, (size_t)a.len + b.len);
  }
  value sa = a.kind == V_STR ? a : v_to_string(&v->ar, a);
  value sb = b.kind == V_STR ? b : v_to_string(&v->ar, b);
  char *s = arena_alloc(&v->ar, (size_t)sa.len + sb.len + 1);
  memcpy(s, sa.u.s, sa.len);
  memcpy(s + sa.len, sb.u.s, sb.len);
  return v_str(s, (size_t)sa.len + sb.len);
}

static int do_match(vm *v, const regex_const *re, value x) {
  if (x.kind == V_NULL) return -1;
  value s = x.kind == V_STR ? x : v_to_string(&v->ar, x);
  int rc = pcre2_match((const pcre2_code *)re->code, (PCRE2_SPTR)s.u.s, s.len, 0, 0,
                       (pcre2_match_data *)v->match_data, NULL);
  return rc >= 0;
}

static int in_list(value x, value list) {
  if (x.kind == V_NULL || list.kind != V_LIST) return -1;
  for (uint32_t i = 0; i < list.len; i++)
    if (v_equal(x, list.u.items[i])) return 1;
  return 0;
}

static value do_call(vm *v, const plan_block *b, uint32_t pc, int bi, value *args, int argc) {
  if (!(builtin_table[bi].flags & BF_NULLS))
    for (int i = 0; i < argc; i++)
      if (args[i].kind == V_NULL) return v_null(); /* the null rule */
  v->bi.warning[0] = 0;
  value r = builtin_impl[bi](&v->bi, args, argc);
  if (v->bi.warning[0]) warn_at(v, b, pc, "%s(): %s", builtin_table[bi].name, v->bi.warning);
  return r;
}

static void trace_insn(vm *v, const plan_block *b, uint32_t pc, value *sp, value *base) {
  fprintf(v->trace, "    ");
  if (sp > base) {
    char buf[80];
    v_describe(sp[-1], buf, sizeof buf);
    fprintf(v->trace, "[%2d: %-24s]", (int)(sp - base), buf);
  } else {
    fprintf(v->trace, "[%2d: %-24s]", 0, "");
  }
  disasm_insn(v->trace, v->p, b, pc);
}

void vm_run(vm *v, uint32_t block, const value *fields, value *attrs, vm_result *res) {
  const plan *p = v->p;
  const plan_block *b = &p->blocks[block];
  const plan_unit *u = &p->units[b->unit];
  const uint8_t *code = b->code;
  value *const base = v->stack;
  value *sp = base;
  uint32_t pc = 0;
  res->outcome = VM_KEPT;
  res->nreported = 0;
  res->result = v_null();
  const uint8_t *types = v->attr_types[u->entity];
  const char *const *names = v->attr_names[u->entity];

#define ARG16 rd16(code + pc + 1)
#define STEP(op) pc += (uint32_t)op_size(OP_##op)

#if defined(__GNUC__)
  static const void *const labels[OP__COUNT] = {
#define OP(name, fmt, pop, push, doc) &&L_##name,
#include "opcodes.def"
#undef OP
  };
#define CASE(name) L_##name:
#define NEXT                                                 \
  do {                                                       \
    if (__builtin_expect(v->trace != NULL, 0)) trace_insn(v, b, pc, sp, base); \
    goto *labels[code[pc]];                                  \
  } while (0)
  NEXT;
#else
#define CASE(name) case OP_##name:
#define NEXT continue
  for (;;) {
    if (v->trace) trace_insn(v, b, pc, sp, base);
    switch ((opcode)code[pc]) {
#endif

  CASE(PUSH_CONST) *sp++ = p->const_values[ARG16]; STEP(PUSH_CONST); NEXT;
  CASE(PUSH_NULL) *sp++ = v_null(); STEP(PUSH_NULL); NEXT;
  CASE(PUSH_TRUE) *sp++ = v_bool(1); STEP(PUSH_TRUE); NEXT;
  CASE(PUSH_FALSE) *sp++ = v_bool(0); STEP(PUSH_FALSE); NEXT;
  CASE(PUSH_REGEX) {
    value r = {V_REGEX, 0, {0}};
    r.u.re = &p->compiled[ARG16];
    *sp++ = r;
    STEP(PUSH_REGEX);
    NEXT;
  }
  CASE(LOAD_FIELD) *sp++ = fields[ARG16]; STEP(LOAD_FIELD); NEXT;
  CASE(LOAD_ATTR) *sp++ = attrs[ARG16]; STEP(LOAD_ATTR); NEXT;
  CASE(STORE_ATTR) {
    unsigned a = ARG16;
    const char *why;
    value x = *--sp;
    attrs[a] = vm_coerce(&v->ar, x, types[a], &why);
    if (why) {
      char shown[80];
      v_describe(x, shown, sizeof shown);
      warn_at(v, b, pc, "%s: %s %s", names[a], shown, why);
    }
    STEP(STORE_ATTR);
    NEXT;
  }
  CASE(POP) sp--; STEP(POP); NEXT;
  CASE(EQ) sp--; sp[-1] = v_bool(v_equal(sp[-1], sp[0])); STEP(EQ); NEXT;
  CASE(NE) sp--; sp[-1] = v_bool(!v_equal(sp[-1], sp[0])); STEP(NE); NEXT;
  CASE(LT) sp--; { int c = v_compare(sp[-1], sp[0]); sp[-1] = v_bool(c == -1); } STEP(LT); NEXT;
  CASE(LE) sp--; { int c = v_compare(sp[-1], sp[0]); sp[-1] = v_bool(c == -1 || c == 0); } STEP(LE); NEXT;
  CASE(GT) sp--; { int c = v_compare(sp[-1], sp[0]); sp[-1] = v_bool(c == 1); } STEP(GT); NEXT;
  CASE(GE) sp--; { int c = v_compare(sp[-1], sp[0]); sp[-1] = v_bool(c == 1 || c == 0); } STEP(GE); NEXT;
  CASE(IN) sp--; sp[-1] = v_bool(in_list(sp[-1], sp[0]) == 1); STEP(IN); NEXT;
  CASE(NOT_IN) sp--; sp[-1] = v_bool(in_list(sp[-1], sp[0]) == 0); STEP(NOT_IN); NEXT;
  CASE(MATCH) sp[-1] = v_bool(do_match(v, &p->compiled[ARG16], sp[-1]) == 1); STEP(MATCH); NEXT;
  CASE(NOT_MATCH) sp[-1] = v_bool(do_match(v, &p->compiled[ARG16], sp[-1]) == 0); STEP(NOT_MATCH); NEXT;
  CASE(NOT) sp[-1] = v_bool(!truthy(sp[-1])); STEP(NOT); NEXT;
  CASE(NEG) {
    value x = sp[-1];
    if (x.kind == V_INT && x.u.i != INT64_MIN) sp[-1] = v_int(-x.u.i);
    else if (x.kind == V_DEC) sp[-1] = v_dec(-x.u.d);
    else sp[-1] = v_null();
    STEP(NEG);
    NEXT;
  }
  CASE(ADD) {
    int overflow;
    sp--;
    sp[-1] = do_add(v, sp[-1], sp[0], &overflow);
    if (overflow) warn_at(v, b, pc, "integer overflow in '+'");
    STEP(ADD);
    NEXT;
  }
  CASE(MAKE_LIST) {
    unsigned n = ARG16;
    value *items = arena_alloc(&v->ar, (n + 1) * sizeof *items);
    sp -= n;
    memcpy(items, sp, n * sizeof *items);
    *sp++ = v_list(items, n);
    STEP(MAKE_LIST);
    NEXT;
  }
  CASE(CALL) {
    unsigned call = ARG16, argc = code[pc + 3];
    sp -= argc;
    *sp = do_call(v, b, pc, p->call_builtin[call], sp, (int)argc);
    sp++;
    STEP(CALL);
    NEXT;
  }
  CASE(JUMP) pc = ARG16; NEXT;
  CASE(JUMP_IF_FALSE) sp--; if (!truthy(*sp)) pc = ARG16; else STEP(JUMP_IF_FALSE); NEXT;
  CASE(JUMP_FALSE_KEEP) if (!truthy(sp[-1])) pc = ARG16; else { sp--; STEP(JUMP_FALSE_KEEP); } NEXT;
  CASE(JUMP_TRUE_KEEP) if (truthy(sp[-1])) pc = ARG16; else { sp--; STEP(JUMP_TRUE_KEEP); } NEXT;
  CASE(JUMP_NOT_NULL) if (sp[-1].kind != V_NULL) pc = ARG16; else { sp--; STEP(JUMP_NOT_NULL); } NEXT;
  CASE(KEEP_IF)
    sp--;
    if (!truthy(*sp)) {
      res->outcome = VM_DROPPED;
      res->rule = ARG16;
      return;
    }
    STEP(KEEP_IF);
    NEXT;
  CASE(DROP_IF)
    sp--;
    if (truthy(*sp)) {
      res->outcome = VM_DROPPED;
      res->rule = ARG16;
      return;
    }
    STEP(DROP_IF);
    NEXT;
  CASE(SKIP_IF_MISSING)
    if (v_missing(attrs[rd16(code + pc + 3)])) {
      res->outcome = VM_SKIPPED;
      res->rule = ARG16;
      res->attr = rd16(code + pc + 3);
      return;
    }
    STEP(SKIP_IF_MISSING);
    NEXT;
  CASE(REPORT_IF_MISSING)
    if (v_missing(attrs[rd16(code + pc + 3)]) && res->nreported < VM_MAX_REPORTED) {
      res->reported_rule[res->nreported] = ARG16;
      res->reported_attr[res->nreported++] = rd16(code + pc + 3);
    }
    STEP(REPORT_IF_MISSING);
    NEXT;
  CASE(RETURN) return;
  CASE(RETURN_VALUE) res->result = *--sp; return;

#if !defined(__GNUC__)
    }
  }
#endif
#undef CASE
#undef NEXT
}
