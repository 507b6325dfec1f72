/* check_expr.c: names, types and literals inside expressions.
 *
 * check_expr() returns the static type of an expression and reports what is
 * wrong with it.  Source fields have type TY_ANY (known only at run time);
 * an expression that already got an error has TY_ERROR, which is compatible
 * with everything so that one mistake is reported once.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_api.h"
#include "builtins.h"
#include "check.h"
#include "diag.h"
#include "util.h"

static int unknown(sync_type t) { return t == TY_ANY || t == TY_NULL || t == TY_ERROR; }

static int numeric(sync_type t) { return t == TY_INT || t == TY_DECIMAL; }

/* Whether values of the two types can be compared or combined. */
static int compatible(sync_type a, sync_type b) {
  return unknown(a) || unknown(b) || a == b || (numeric(a) && numeric(b));
}

int check_date_text(const char *s) {
  int y, mo, d;
  char tail;
  if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3) return 0;
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return 0;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = mdays[mo - 1] + (mo == 2 && leap);
  return d <= max;
}

int check_time_text(const char *s) {
  int h, m;
  char tail;
  if (sscanf(s, "%2d:%2d%c", &h, &m, &tail) != 2) return 0;
  return h >= 0 && h <= 23 && m >= 0 && m <= 59;
}

int is_grade_code(const char *s) { return grade_rank(s) >= 0; /* the one list, in stdlib/bi_grade.c */ }

/* pcre2 compile options for the flags after the closing slash. */
static int regex_options(node *re, uint32_t *opts) {
  *opts = PCRE2_UTF;
  const char *f = re->str2 ? re->str2 : "";
  int ok = 1;
  for (size_t i = 0; f[i]; i++) {
    uint32_t bit = 0;
    switch (f[i]) {
      case 'i': bit = PCRE2_CASELESS; break;
      case 'm': bit = PCRE2_MULTILINE; break;
      case 's': bit = PCRE2_DOTALL; break;
      case 'x': bit = PCRE2_EXTENDED; break;
      case 'u': bit = PCRE2_UCP; break;
    }
    sync_span at = re->span;
    at.start = re->span.end - (int)strlen(f) + (int)i;
    at.end = at.start + 1;
    if (!bit) {
      diag_error(at, "unknown regex flag '%c'", f[i]);
      diag_hint("the flags are i (ignore case), m (multi-line), s (dot matches newline), x (extended), u (Unicode classes)");
      ok = 0;
    } else if (*opts & bit) {
      diag_error(at, "regex flag '%c' given twice", f[i]);
      ok = 0;
    }
    *opts |= bit;
  }
  return ok;
}

void check_regex(node *re) {
  uint32_t opts;
  if (!regex_options(re, &opts) || !re->str || !re->str[0]) return;
  int err;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re->str, PCRE2_ZERO_TERMINATED, opts, &err, &off, NULL);
  if (code) {
    pcre2_code_free(code);
    return;
  }
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(err, msg, sizeof msg);
  /* Point into the regex: the pattern starts one byte after the slash. */
  sync_span at = re->span;
  size_t len = strlen(re->str);
  if (off > len) off = len;
  at.start = re->span.start + 1 + (int)off;
  if (at.start >= re->span.end) at.start = re->span.end - 1;
  at.end = at.start + 1;
  diag_error(at, "invalid regex: %s", (const char *)msg);
}

static const char *type_article(sync_type t) {
  return t == TY_INT ? "an int" : t == TY_ANY ? "any value" : t == TY_ERROR ? "an error" : NULL;
}

const char *a_type(sync_type t) {
  static char buf[TY__COUNT][24];
  const char *a = type_article(t);
  if (a) return a;
  snprintf(buf[t], sizeof buf[t], "a %s", type_name(t));
  return buf[t];
}

static const char *param_words(char p) {
  switch (p) {
    case 's': return "a string";
    case 'i': return "an int";
    case 'n': return "a number";
    case 'd': return "a date";
    case 'l': return "a list";
    case 'b': return "a bool";
    case 'r': return "a /regex/";
    default: return "any value";
  }
}

static int param_accepts(char p, sync_type t) {
  if (unknown(t)) return 1;
  switch (p) {
    case 's': return t == TY_STRING;
    case 'i': return t == TY_INT;
    case 'n': return numeric(t);
    case 'd': return t == TY_DATE;
    case 'l': return t == TY_LIST;
    case 'b': return t == TY_BOOL;
    case 'r': return t == TY_REGEX || t == TY_STRING;
    default: return t != TY_REGEX;
  }
}

static const char *conversion_hint(char p) {
  switch (p) {
    case 's': return "string(...)";
    case 'i': return "int(...)";
    case 'd': return "date(...)";
    case 'b': return "bool(...)";
    default: return NULL;
  }
}

/* Checks literal arguments that a built-in can validate now rather than at
 * run time: grade codes and date formats. */
static void check_call_literals(int bi, node *call) {
  if (bi == BI_grades) {
    for (int i = 1; i < call->nkids; i++) {
      node *a = call->kids[i];
      if (a && a->kind == N_STR && !is_grade_code(a->str)) {
        diag_error(a->span, "'%s' is not a OneRoster grade code", a->str);
        diag_hint("the codes are IT, PR, PK, TK, KG, 01 to 13, PS, UG and Other");
      }
    }
  }
  if (bi == BI_date && call->nkids == 3) {
    node *f = call->kids[2];
    static const char *const formats[] = {"D/M/YYYY", "M/D/YYYY", "YYYY-MM-DD", "YYYYMMDD", "D.M.YYYY", NULL};
    if (f && f->kind == N_STR) {
      int ok = 0;
      for (int i = 0; formats[i]; i++) ok |= strcmp(formats[i], f->str) == 0;
      if (!ok) {
        diag_error(f->span, "unknown date format \"%s\"", f->str);
        diag_hint("the formats are D/M/YYYY, M/D/YYYY, YYYY-MM-DD, YYYYMMDD and D.M.YYYY");
      }
    }
  }
}

static sync_type check_call(const expr_env *env, node *e) {
  node *fn = e->kids[0];
  int nargs = e->nkids - 1;
  sync_type at[64];
  for (int i = 0; i < nargs; i++) {
    sync_type t = check_expr(env, e->kids[i + 1]);
    if (i < 64) at[i] = t;
  }
  int bi = builtin_find(fn->str);
  if (bi < 0) {
    diag_error(fn->span, "unknown function '%s'", fn->str);
    const char *s = closest_word(fn->str, builtin_names());
    if (s) diag_hint("did you mean '%s'?", s);
    return TY_ERROR;
  }
  const builtin_info *b = &builtin_table[bi];
  if ((b->flags & BF_SETTING) && env->cx != CX_SETTING) {
    diag_error(fn->span, "%s() reads a secret and is allowed only in a source's settings", b->name);
    return TY_ERROR;
  }
  if (nargs < b->min_args || (b->max_args >= 0 && nargs > b->max_args)) {
    if (b->max_args < 0)
      diag_error(e->span, "%s() takes at least %d argument%s, got %d", b->name, b->min_args,
                 b->min_args == 1 ? "" : "s", nargs);
    else if (b->min_args == b->max_args)
      diag_error(e->span, "%s() takes %d argument%s, got %d", b->name, b->min_args,
                 b->min_args == 1 ? "" : "s", nargs);
    else
      diag_error(e->span, "%s() takes %d to %d arguments, got %d", b->name, b->min_args, b->max_args, nargs);
    return TY_ERROR;
  }
  for (int i = 0; i < nargs && i < 64; i++) {
    char p = builtin_param(b, i);
    if (!param_accepts(p, at[i])) {
      diag_error(e->kids[i + 1]->span, "argument %d of %s() must be %s, not %s", i + 1, b->name,
                 param_words(p), a_type(at[i]));
      const char *h = conversion_hint(p);
      if (h && at[i] != TY_REGEX) diag_hint("convert it with %s", h);
      return TY_ERROR;
    }
  }
  if (env->cx != CX_SETTING) check_call_literals(bi, e);
  if (b->result == TY_ANY) {
    /* coalesce(a, b, ...) and first(list): the common type of the arguments.
     * coalesce's arguments must agree, as the two sides of ?? must. */
    sync_type r = TY_ANY;
    int first = -1;
    for (int i = 0; bi == BI_coalesce && i < nargs && i < 64; i++) {
      if (unknown(at[i])) continue;
      if (first < 0) {
        first = i;
        r = at[i];
      } else if (!compatible(r, at[i])) {
        diag_error(e->kids[i + 1]->span,
                   "the arguments of coalesce() have different types: argument %d is %s, argument %d is %s",
                   first + 1, a_type(at[first]), i + 1, a_type(at[i]));
        return TY_ERROR;
      } else if (at[i] == TY_DECIMAL) {
        r = TY_DECIMAL; /* int and decimal mix as decimal, as with + */
      }
    }
    return r;
  }
  return b->result;
}

static sync_type param_type(const expr_env *env, const char *name) {
  if (!env->params) return (sync_type)-1;
  for (int i = 0; i < env->params->nkids; i++)
    if (strcmp(env->params->kids[i]->str, name) == 0) return env->ptypes ? env->ptypes[i] : TY_ANY;
  return (sync_type)-1;
}

/* The type of `name` as an attribute of any entity (for templates checked
 * without a particular entity): its type if all entities agree. */
static int any_entity_attr(const spec_model *m, const char *name) {
  int found = -1;
  for (int e = 0; e < ENT__COUNT; e++) {
    int t = spec_attr_type(m, e, name);
    if (t < 0) continue;
    if (found < 0) found = t;
    else if (found != t) found = TY_ANY;
  }
  return found;
}

static sync_type check_path(const expr_env *env, node *e) {
  node *first = e->kids[0];
  const char *name = first->str;
  if (env->cx == CX_MAP) {
    /* A field of the source record.  `src.x` here reads a field named src,
     * which is almost certainly not what was meant. */
    if (strcmp(name, "src") == 0 && e->nkids >= 2) {
      sbuf rest = {0};
      for (int i = 1; i < e->nkids; i++) sb_printf(&rest, "%s%s", i > 1 ? "." : "", e->kids[i]->str);
      diag_warning(e->span, "in a map, names are already source fields: write %s, not src.%s", rest.data, rest.data);
      sb_free(&rest);
    }
    return TY_ANY;
  }
  if (env->cx == CX_SETTING || env->cx == CX_LITERAL) {
    diag_error(e->span, "'%s' is not a value here: write a literal (a string, number, date, ...)", name);
    if (env->cx == CX_SETTING) diag_hint("secrets are written env(\"VAR\") or file(\"path\")");
    return TY_ERROR;
  }
  if (strcmp(name, "src") == 0) {
    if (e->nkids < 2) {
      diag_error(e->span, "'src' alone is not a value: write src.FIELD for a field of the source record");
      return TY_ERROR;
    }
    return TY_ANY;
  }
  int pt = param_type(env, name);
  if (pt >= 0) {
    if (e->nkids > 1) {
      diag_error(e->kids[1]->span, "template parameter '%s' has no fields", name);
      return TY_ERROR;
    }
    return (sync_type)pt;
  }
  int t;
  if (env->entity < 0) {
    t = any_entity_attr(env->m, name);
    if (t < 0) {
      diag_error(first->span, "unknown attribute '%s'", name);
      diag_hint("in a template, bare names are hub attributes or the template's parameters");
      return TY_ERROR;
    }
  } else {
    t = spec_attr_type(env->m, env->entity, name);
    if (t < 0) {
      const char *ent = schema_entity_get(env->entity)->name;
      diag_error(first->span, "unknown attribute '%s' of %s", name, ent);
      const char *buf[64];
      const char *s = closest_word(name, spec_attr_names(env->m, env->entity, buf, 64));
      if (s)
        diag_hint("did you mean '%s'?", s);
      else
        diag_hint("a source field is read with src.%s", name);
      return TY_ERROR;
    }
  }
  if (e->nkids > 1) {
    diag_error(e->kids[1]->span, "attribute '%s' has no fields", name);
    diag_hint("a field of the source record is read with src.%s.%s", name, e->kids[1]->str);
    return TY_ERROR;
  }
  return (sync_type)t;
}

static sync_type check_binop(const expr_env *env, node *e) {
  binop op = (binop)e->num;
  node *l = e->kids[0], *r = e->kids[1];
  sync_type lt = check_expr(env, l);
  sync_type rt = check_expr(env, r);
  switch (op) {
    case BOP_AND:
    case BOP_OR:
      if (!unknown(lt) && lt != TY_BOOL) {
        diag_error(l->span, "'%s' needs a bool on its left, not %s", binop_text(op), a_type(lt));
        return TY_ERROR;
      }
      if (!unknown(rt) && rt != TY_BOOL) {
        diag_error(r->span, "'%s' needs a bool on its right, not %s", binop_text(op), a_type(rt));
        return TY_ERROR;
      }
      return TY_BOOL;
    case BOP_MATCH:
    case BOP_NOT_MATCH:
      if (r->kind != N_REGEX && rt != TY_ERROR) {
        diag_error(r->span, "the right side of '%s' must be a /regex/", binop_text(op));
        return TY_ERROR;
      }
      if (!unknown(lt) && lt != TY_STRING) {
        diag_error(l->span, "'%s' matches strings, but this is %s", binop_text(op), a_type(lt));
        if (lt != TY_LIST && lt != TY_REGEX) diag_hint("convert it with string(...)");
        return TY_ERROR;
      }
      return TY_BOOL;
    case BOP_IN:
    case BOP_NOT_IN:
      if (!unknown(rt) && rt != TY_LIST) {
        diag_error(r->span, "the right side of '%s' must be a list, not %s", binop_text(op), a_type(rt));
        return TY_ERROR;
      }
      if (lt == TY_LIST || lt == TY_REGEX) {
        diag_error(l->span, "'%s' looks for one value in a list, but this is %s", binop_text(op), a_type(lt));
        return TY_ERROR;
      }
      /* rt == TY_ERROR: the list itself was already reported. */
      if (r->kind == N_LIST && rt != TY_ERROR && !unknown(lt)) {
        for (int i = 0; i < r->nkids; i++) {
          node *item = r->kids[i];
          sync_type it = item->kind == N_STR ? TY_STRING : item->kind == N_INT ? TY_INT
                       : item->kind == N_DATE ? TY_DATE : item->kind == N_BOOL ? TY_BOOL : TY_ANY;
          if (!compatible(lt, it)) {
            diag_error(item->span, "this list holds %s, but the value looked for is %s", a_type(it), a_type(lt));
            return TY_ERROR;
          }
        }
      }
      return TY_BOOL;
    case BOP_EQ:
    case BOP_NE:
    case BOP_LT:
    case BOP_LE:
    case BOP_GT:
    case BOP_GE:
      if (lt == TY_REGEX || rt == TY_REGEX) {
        diag_error(lt == TY_REGEX ? l->span : r->span, "a regex is matched with '~', not compared with '%s'",
                   binop_text(op));
        return TY_ERROR;
      }
      if (!compatible(lt, rt)) {
        diag_error(e->span, "cannot compare %s with %s", a_type(lt), a_type(rt));
        if ((lt == TY_DATE && rt == TY_STRING) || (rt == TY_DATE && lt == TY_STRING)) diag_hint("convert the string with date(...)");
        return TY_ERROR;
      }
      if (op != BOP_EQ && op != BOP_NE) {
        sync_type t = unknown(lt) ? rt : lt;
        if (t == TY_BOOL || t == TY_LIST) {
          diag_error(e->span, "'%s' orders numbers, strings, dates and times, not %s", binop_text(op), a_type(t));
          return TY_ERROR;
        }
        if (lt == TY_NULL || rt == TY_NULL) {
          diag_warning(e->span, "comparing with null using '%s' is never true", binop_text(op));
          diag_hint("test for null with '== null' or '!= null'");
        }
      }
      return TY_BOOL;
    case BOP_COALESCE:
      if (!compatible(lt, rt)) {
        diag_error(e->span, "the two sides of '?\?' have different types: %s and %s", type_name(lt), type_name(rt));
        return TY_ERROR;
      }
      return unknown(lt) ? (rt == TY_NULL ? TY_ANY : rt) : lt;
    case BOP_ADD:
      if (lt == TY_ERROR || rt == TY_ERROR) return TY_ERROR;
      if (lt == TY_BOOL || rt == TY_BOOL || lt == TY_DATE || rt == TY_DATE || lt == TY_REGEX ||
          rt == TY_REGEX || lt == TY_TIME || rt == TY_TIME || !compatible(lt, rt)) {
        diag_error(e->span, "'+' joins two strings, adds two numbers or appends two lists; not %s and %s",
                   a_type(lt), a_type(rt));
        if (lt == TY_STRING || rt == TY_STRING) diag_hint("build strings from other values with concat(...)");
        return TY_ERROR;
      }
      if (lt == TY_DECIMAL || rt == TY_DECIMAL) return TY_DECIMAL;
      return unknown(lt) ? (unknown(rt) ? TY_ANY : rt) : lt;
    default:
      return TY_ERROR;
  }
}

sync_type check_expr(const expr_env *env, node *e) {
  if (!e) return TY_ERROR;
  if (e->depth > MAX_NESTING) return TY_ERROR; /* reported by the parser */
  switch (e->kind) {
    case N_STR: return TY_STRING;
    case N_INT: return TY_INT;
    case N_DEC: return TY_DECIMAL;
    case N_BOOL: return TY_BOOL;
    case N_NULL: return TY_NULL;
    case N_DATE:
      if (!check_date_text(e->str)) {
        diag_error(e->span, "%s is not a date", e->str);
        diag_hint("dates are written YYYY-MM-DD and must exist in the calendar");
        return TY_ERROR;
      }
      return TY_DATE;
    case N_TIME:
      if (!check_time_text(e->str)) {
        diag_error(e->span, "%s is not a time of day", e->str);
        diag_hint("times are written HH:MM, from 00:00 to 23:59");
        return TY_ERROR;
      }
      return TY_TIME;
    case N_REGEX:
      check_regex(e);
      if (env->cx == CX_SETTING || env->cx == CX_LITERAL) {
        diag_error(e->span, "a regex is not allowed here");
        return TY_ERROR;
      }
      return TY_REGEX;
    case N_LIST: {
      sync_type item = TY_ANY;
      for (int i = 0; i < e->nkids; i++) {
        sync_type t = check_expr(env, e->kids[i]);
        if (t == TY_LIST || t == TY_REGEX) {
          diag_error(e->kids[i]->span, "a list cannot hold %s", a_type(t));
          return TY_ERROR;
        }
        if (unknown(t)) continue;
        if (item == TY_ANY) item = t;
        else if (!compatible(item, t)) {
          diag_error(e->kids[i]->span, "a list holds values of one type: this is %s after %s", a_type(t), a_type(item));
          return TY_ERROR;
        }
      }
      return TY_LIST;
    }
    case N_PATH: return check_path(env, e);
    case N_CALL:
      if (env->cx == CX_LITERAL) {
        diag_error(e->span, "a function call is not allowed here: write a literal");
        return TY_ERROR;
      }
      return check_call(env, e);
    case N_BINOP:
      if (env->cx == CX_SETTING || env->cx == CX_LITERAL) {
        diag_error(e->span, "an operator is not allowed here: write a literal");
        return TY_ERROR;
      }
      return check_binop(env, e);
    case N_NOT: {
      sync_type t = check_expr(env, e->kids[0]);
      if (!unknown(t) && t != TY_BOOL) {
        diag_error(e->kids[0]->span, "'not' needs a bool, not %s", a_type(t));
        return TY_ERROR;
      }
      return TY_BOOL;
    }
    case N_NEG: {
      sync_type t = check_expr(env, e->kids[0]);
      if (!unknown(t) && !numeric(t)) {
        diag_error(e->kids[0]->span, "'-' needs a number, not %s", a_type(t));
        return TY_ERROR;
      }
      return unknown(t) ? TY_ANY : t;
    }
    case N_IF: {
      if (env->cx == CX_SETTING || env->cx == CX_LITERAL) {
        diag_error(e->span, "'if' is not allowed here: write a literal");
        return TY_ERROR;
      }
      sync_type c = check_expr(env, e->kids[0]);
      sync_type a = check_expr(env, e->kids[1]);
      sync_type b = check_expr(env, e->kids[2]);
      if (!unknown(c) && c != TY_BOOL) {
        diag_error(e->kids[0]->span, "the condition of 'if' must be a bool, not %s", a_type(c));
        return TY_ERROR;
      }
      if (!compatible(a, b)) {
        diag_error(e->kids[2]->span, "'then' gives %s but 'else' gives %s", a_type(a), a_type(b));
        diag_hint("both branches of an 'if' must give the same type");
        return TY_ERROR;
      }
      if (a == TY_ERROR || b == TY_ERROR) return TY_ERROR;
      return unknown(a) ? (unknown(b) ? TY_ANY : b) : a;
    }
    default:
      return TY_ERROR;
  }
}

/* Literal equality for constant folding: 1 equal, 0 different, -1 unknown. */
static int literal_equal(const node *a, const node *b) {
  if (a->kind == N_NULL || b->kind == N_NULL) return a->kind == b->kind;
  if (a->kind != b->kind) return -1;
  switch (a->kind) {
    case N_STR: case N_DATE: case N_TIME: case N_DEC: return strcmp(a->str, b->str) == 0;
    case N_INT: case N_BOOL: return a->num == b->num;
    default: return -1;
  }
}

static int is_literal(const node *n) {
  return n && (n->kind == N_STR || n->kind == N_INT || n->kind == N_DEC || n->kind == N_BOOL ||
               n->kind == N_NULL || n->kind == N_DATE || n->kind == N_TIME);
}

int fold_truth(const node *e) {
  if (!e || e->depth > MAX_NESTING) return -1;
  switch (e->kind) {
    case N_BOOL: return (int)e->num;
    case N_NOT: {
      int v = fold_truth(e->kids[0]);
      return v < 0 ? -1 : !v;
    }
    case N_IF: {
      int c = fold_truth(e->kids[0]);
      if (c < 0) return -1;
      return fold_truth(e->kids[c ? 1 : 2]);
    }
    case N_BINOP: {
      const node *l = e->kids[0], *r = e->kids[1];
      switch ((binop)e->num) {
        case BOP_AND: {
          int a = fold_truth(l), b = fold_truth(r);
          if (a == 0 || b == 0) return 0;
          return a == 1 && b == 1 ? 1 : -1;
        }
        case BOP_OR: {
          int a = fold_truth(l), b = fold_truth(r);
          if (a == 1 || b == 1) return 1;
          return a == 0 && b == 0 ? 0 : -1;
        }
        case BOP_EQ:
        case BOP_NE: {
          if (!is_literal(l) || !is_literal(r)) return -1;
          int eq = literal_equal(l, r);
          if (eq < 0) return -1;
          return e->num == BOP_EQ ? eq : !eq;
        }
        case BOP_IN:
        case BOP_NOT_IN: {
          if (!is_literal(l) || !r || r->kind != N_LIST) return -1;
          if (l->kind == N_NULL) return 0; /* null is in no list, and comparisons with null are false */
          int found = 0;
          for (int i = 0; i < r->nkids; i++) {
            if (!is_literal(r->kids[i])) return -1;
            int eq = literal_equal(l, r->kids[i]);
            if (eq < 0) return -1;
            found |= eq;
          }
          return e->num == BOP_IN ? found : !found;
        }
        default: return -1;
      }
    }
    default: return -1;
  }
}
