/* fmt.c: `syncc fmt`, the canonical layout of a spec.
 *
 * The layout is the one of examples/springfield.sync: two-space indents, one
 * rule per line, `=` aligned in a run of assignments (and `:` in precedence
 * blocks, `->` in schools blocks), one blank line between declarations
 * (consecutive `use` lines stay together), at most one blank line kept
 * between the statements of a block, and every comment kept.  Trailing
 * comments on consecutive lines share a column: two spaces after the longest
 * line, or the column the first of them had in the input if that is further
 * right, so hand-aligned comments stay where they are and fmt stays
 * idempotent.
 *
 * fmt never changes meaning: it re-parses its own output and refuses to
 * write anything when the syntax tree differs from the input's.
 */
#include "fmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "diag.h"
#include "source.h"
#include "util.h"

int lex_is_reserved(const char *s);

typedef struct {
  const char *text; /* the input */
  const sync_comment *comments;
  int ncomments;
  int next; /* the first comment not yet printed */
} printer;

/* ---- expressions ------------------------------------------------------------ */

enum { P_IF = 1, P_OR, P_AND, P_NOT, P_CMP, P_COAL, P_ADD, P_NEG, P_PRIMARY };

static int is_ident(const char *s) {
  if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
  return !lex_is_reserved(s);
}

static void put_name(sbuf *b, const node *n) {
  if (is_ident(n->str) || strcmp(n->str, "*") == 0)
    sb_puts(b, n->str);
  else
    sb_printf(b, "`%s`", n->str);
}

static void put_string(sbuf *b, const char *s) {
  sb_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': sb_puts(b, "\\\""); break;
      case '\\': sb_puts(b, "\\\\"); break;
      case '\n': sb_puts(b, "\\n"); break;
      case '\t': sb_puts(b, "\\t"); break;
      case '\r': sb_puts(b, "\\r"); break;
      default:
        if (*p < 0x20 || *p == 0x7f)
          sb_printf(b, "\\u%04x", *p);
        else
          sb_putc(b, (char)*p);
    }
  }
  sb_putc(b, '"');
}

static int prec_of(const node *e) {
  switch (e->kind) {
    case N_IF: return P_IF;
    case N_NOT: return P_NOT;
    case N_NEG: return P_NEG;
    case N_BINOP:
      switch ((binop)e->num) {
        case BOP_OR: return P_OR;
        case BOP_AND: return P_AND;
        case BOP_COALESCE: return P_COAL;
        case BOP_ADD: return P_ADD;
        default: return P_CMP;
      }
    default: return P_PRIMARY;
  }
}

static void put_expr(sbuf *b, const node *e, int min);

static void put_list(sbuf *b, const node *n, int first) {
  for (int i = first; i < n->nkids; i++) {
    if (i > first) sb_puts(b, ", ");
    put_expr(b, n->kids[i], P_IF);
  }
}

static void put_expr(sbuf *b, const node *e, int min) {
  if (!e) return;
  int p = prec_of(e);
  int parens = p < min || (e->flags & NF_PARENS);
  if (parens) sb_putc(b, '(');
  switch (e->kind) {
    case N_STR: put_string(b, e->str); break;
    case N_INT: sb_printf(b, "%" PRId64, e->num); break;
    case N_DEC: case N_DATE: case N_TIME: sb_puts(b, e->str); break;
    case N_BOOL: sb_puts(b, e->num ? "true" : "false"); break;
    case N_NULL: sb_puts(b, "null"); break;
    case N_REGEX: sb_printf(b, "/%s/%s", e->str, e->str2 ? e->str2 : ""); break;
    case N_NAME: put_name(b, e); break;
    case N_PATH:
      for (int i = 0; i < e->nkids; i++) {
        if (i) sb_putc(b, '.');
        put_name(b, e->kids[i]);
      }
      break;
    case N_LIST:
      sb_putc(b, '[');
      put_list(b, e, 0);
      sb_putc(b, ']');
      break;
    case N_CALL:
      put_name(b, e->kids[0]);
      sb_putc(b, '(');
      put_list(b, e, 1);
      sb_putc(b, ')');
      break;
    case N_NOT:
      sb_puts(b, "not ");
      put_expr(b, e->kids[0], P_NOT);
      break;
    case N_NEG:
      sb_putc(b, '-');
      put_expr(b, e->kids[0], P_NEG);
      break;
    case N_IF:
      sb_puts(b, "if ");
      put_expr(b, e->kids[0], P_IF);
      sb_puts(b, " then ");
      put_expr(b, e->kids[1], P_IF);
      sb_puts(b, " else ");
      put_expr(b, e->kids[2], P_IF);
      break;
    case N_BINOP: {
      /* Left-associative operators take their own level on the left,
       * `??` on the right; comparisons do not chain. */
      int lmin = p, rmin = p + 1;
      if (p == P_CMP) lmin = P_COAL;
      if (p == P_COAL) lmin = P_ADD, rmin = P_COAL;
      put_expr(b, e->kids[0], lmin);
      sb_printf(b, " %s ", binop_text((binop)e->num));
      put_expr(b, e->kids[1], rmin);
      break;
    }
    default: sb_puts(b, "?"); break;
  }
  if (parens) sb_putc(b, ')');
}

/* ---- statements -------------------------------------------------------------- */

/* One printed line of a block: `lhs sep rhs` when it takes part in
 * alignment, else `whole`. */
typedef struct {
  char *lhs, *rhs, *whole;
  const char *sep;
  char *comment;     /* trailing comment text */
  int comment_col;   /* its column in the input (0-based) */
  int blank_before;
  int own_comment;   /* this line is a comment on a line of its own */
} line_t;

typedef struct {
  line_t *v;
  int n, cap;
} lines_t;

static line_t *add_line(lines_t *ls) {
  if (ls->n == ls->cap) {
    ls->cap = ls->cap ? ls->cap * 2 : 16;
    ls->v = xrealloc(ls->v, (size_t)ls->cap * sizeof *ls->v);
  }
  line_t *l = &ls->v[ls->n++];
  memset(l, 0, sizeof *l);
  return l;
}

static char *expr_text(const node *e) {
  sbuf b = {0};
  put_expr(&b, e, P_IF);
  return b.data ? b.data : xstrdup("");
}

static char *names_text(const node *n, int first, const char *sep) {
  sbuf b = {0};
  for (int i = first; i < n->nkids; i++) {
    if (i > first) sb_puts(&b, sep);
    put_name(&b, n->kids[i]);
  }
  return b.data ? b.data : xstrdup("");
}

static void block_lines(printer *pr, const node *owner, int first, int indent, int end_off, sbuf *out);

static void render_stmt(printer *pr, const node *s, line_t *l, int indent) {
  sbuf b = {0};
  switch (s->kind) {
    case N_SETTING:
    case N_ASSIGN:
      l->lhs = xstrdup(""), l->sep = " = ";
      put_name(&b, s->kids[0]);
      free(l->lhs);
      l->lhs = b.data;
      l->rhs = expr_text(s->kids[1]);
      return;
    case N_GIVEN_FIELD:
      put_expr(&b, s->kids[0], P_PRIMARY);
      l->lhs = b.data, l->sep = " = ", l->rhs = expr_text(s->kids[1]);
      return;
    case N_FILE_SETTING:
      sb_puts(&b, "file ");
      put_name(&b, s->kids[0]);
      l->lhs = b.data, l->sep = " = ";
      {
        sbuf r = {0};
        put_expr(&r, s->kids[1], P_IF);
        if (s->kids[2]) {
          sb_puts(&r, " at ");
          put_expr(&r, s->kids[2], P_IF);
        }
        l->rhs = r.data;
      }
      return;
    case N_SCHOOL_MAP:
      put_string(&b, s->kids[0]->str);
      l->lhs = b.data, l->sep = " -> ";
      {
        sbuf r = {0};
        put_string(&r, s->kids[1]->str);
        l->rhs = r.data;
      }
      return;
    case N_PREC_RULE:
      put_name(&b, s->kids[0]);
      l->lhs = b.data, l->sep = " : ", l->rhs = names_text(s, 1, " > ");
      return;
    case N_SCHOOL_AUTO: sb_puts(&b, "auto"); break;
    case N_SCHOOL_SKIP:
      sb_puts(&b, "skip ");
      put_string(&b, s->kids[0]->str);
      break;
    case N_KEEP:
    case N_DROP:
      sb_puts(&b, s->kind == N_KEEP ? "keep if " : "drop if ");
      put_expr(&b, s->kids[0], P_IF);
      break;
    case N_USE_TEMPLATE:
      sb_puts(&b, "use ");
      put_name(&b, s->kids[0]);
      sb_putc(&b, '(');
      put_list(&b, s, 1);
      sb_putc(&b, ')');
      break;
    case N_MISSING: {
      char *names = names_text(s, 0, ", ");
      sb_printf(&b, "%s if missing %s", s->num ? "report" : "skip", names);
      free(names);
      break;
    }
    case N_DOMAIN: {
      char *names = names_text(s, 0, ", ");
      sb_printf(&b, "%s %s", s->num ? "manual" : "unattended", names);
      free(names);
      break;
    }
    case N_EVERY:
      sb_puts(&b, s->str);
      if (s->kids[0]) {
        sb_puts(&b, " on ");
        put_name(&b, s->kids[0]);
      }
      if (s->kids[1]) sb_printf(&b, " at %s", s->kids[1]->str);
      break;
    case N_UNTIL: sb_printf(&b, "until %s", s->kids[0]->str); break;
    case N_HOLD:
      sb_puts(&b, "hold ");
      if (s->kids[0]) {
        put_name(&b, s->kids[0]);
        sb_putc(&b, ' ');
      }
      put_name(&b, s->kids[1]);
      sb_puts(&b, " > ");
      put_expr(&b, s->kids[2], P_PRIMARY);
      if (s->num) sb_putc(&b, '%');
      break;
    case N_EXPECT:
      sb_puts(&b, "expect ");
      put_expr(&b, s->kids[0], P_IF);
      break;
    case N_GIVEN: {
      sb_puts(&b, "given ");
      put_name(&b, s->kids[0]->kids[0]);
      sb_putc(&b, '.');
      put_name(&b, s->kids[0]->kids[1]);
      sb_puts(&b, " {");
      block_lines(pr, s, 1, indent + 2, s->span.end, &b);
      sb_pad(&b, (size_t)indent);
      sb_putc(&b, '}');
      break;
    }
    default: sb_puts(&b, "?"); break;
  }
  l->whole = b.data ? b.data : xstrdup("");
}

/* ---- comments and blank lines ------------------------------------------------- */

static int line_breaks(const char *text, int from, int to) {
  int n = 0;
  for (int i = from; i < to; i++) {
    if (text[i] == '\n') n++;
    else if (text[i] == '\r' && text[i + 1] != '\n') n++;
  }
  return n;
}

static int column_of(const char *text, int off) {
  int col = 0;
  for (int i = off; i > 0 && text[i - 1] != '\n' && text[i - 1] != '\r'; i--)
    if (((unsigned char)text[i - 1] & 0xC0) != 0x80) col++;
  return col;
}

static char *comment_text(const printer *pr, const sync_comment *c) {
  int end = c->span.end;
  while (end > c->span.start && (pr->text[end - 1] == ' ' || pr->text[end - 1] == '\t')) end--;
  return xstrndup(pr->text + c->span.start, (size_t)(end - c->span.start));
}

static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

/* The width of the last line of s (for multi-line statements). */
static size_t last_line_width(const char *s) {
  const char *nl = strrchr(s, '\n');
  return width(nl ? nl + 1 : s);
}

/* Takes own-line comments that start before `off` into lines, each with
 * whether a blank line precedes it.  `prev_end` is where the previous item
 * ended. */
static int take_comments_before(printer *pr, lines_t *ls, int off, int prev_end) {
  while (pr->next < pr->ncomments && pr->comments[pr->next].span.start < off) {
    const sync_comment *c = &pr->comments[pr->next++];
    line_t *l = add_line(ls);
    l->whole = comment_text(pr, c);
    l->own_comment = 1;
    l->blank_before = prev_end >= 0 && line_breaks(pr->text, prev_end, c->span.start) >= 2;
    prev_end = c->span.end;
  }
  return prev_end;
}

/* A comment on the same line right after offset `end`, if any. */
static void take_trailing(printer *pr, line_t *l, int end) {
  if (pr->next >= pr->ncomments) return;
  const sync_comment *c = &pr->comments[pr->next];
  if (c->span.start < end || line_breaks(pr->text, end, c->span.start) != 0) return;
  pr->next++;
  l->comment = comment_text(pr, c);
  l->comment_col = column_of(pr->text, c->span.start);
}

static int is_aligned(const line_t *l) { return l->lhs != NULL; }

static void free_lines(lines_t *ls) {
  for (int i = 0; i < ls->n; i++) {
    free(ls->v[i].lhs);
    free(ls->v[i].rhs);
    free(ls->v[i].whole);
    free(ls->v[i].comment);
  }
  free(ls->v);
}

/* Prints lines at `indent`: aligns runs of `lhs sep rhs` lines and runs of
 * trailing comments.  A run ends at a blank line or an own-line comment. */
static void emit_lines(lines_t *ls, int indent, sbuf *out) {
  int n = ls->n;
  size_t *lhsw = xcalloc((size_t)n + 1, sizeof *lhsw);
  for (int i = 0; i < n;) {
    int j = i;
    size_t w = 0;
    if (is_aligned(&ls->v[i])) {
      const char *sep = ls->v[i].sep;
      while (j < n && is_aligned(&ls->v[j]) && strcmp(ls->v[j].sep, sep) == 0 && (j == i || !ls->v[j].blank_before)) {
        if (width(ls->v[j].lhs) > w) w = width(ls->v[j].lhs);
        j++;
      }
      for (int k = i; k < j; k++) lhsw[k] = w;
      i = j;
    } else {
      i++;
    }
  }
  /* Render the code of each line, then place comments. */
  char **code = xcalloc((size_t)n + 1, sizeof *code);
  for (int i = 0; i < n; i++) {
    line_t *l = &ls->v[i];
    sbuf b = {0};
    if (is_aligned(l)) {
      sb_puts(&b, l->lhs);
      for (size_t k = width(l->lhs); k < lhsw[i]; k++) sb_putc(&b, ' ');
      sb_puts(&b, l->sep);
      sb_puts(&b, l->rhs);
    } else {
      sb_puts(&b, l->whole);
    }
    code[i] = b.data ? b.data : xstrdup("");
  }
  for (int i = 0; i < n;) {
    if (!ls->v[i].comment) {
      i++;
      continue;
    }
    int j = i;
    size_t col = 0;
    while (j < n && ls->v[j].comment && !ls->v[j].own_comment && (j == i || !ls->v[j].blank_before)) {
      size_t w = (size_t)indent + last_line_width(code[j]) + 2;
      if (w > col) col = w;
      j++;
    }
    if ((size_t)ls->v[i].comment_col > col) col = (size_t)ls->v[i].comment_col;
    for (int k = i; k < j; k++) ls->v[k].comment_col = (int)col;
    i = j;
  }
  for (int i = 0; i < n; i++) {
    line_t *l = &ls->v[i];
    if (l->blank_before && i > 0) sb_putc(out, '\n');
    sb_pad(out, (size_t)indent);
    sb_puts(out, code[i]);
    if (l->comment) {
      sb_pad(out, (size_t)l->comment_col);
      sb_puts(out, l->comment);
    }
    sb_putc(out, '\n');
    free(code[i]);
  }
  free(code);
  free(lhsw);
}

/* Prints the statements owner->kids[first..] as the body of a block: the
 * text after `{` (a trailing comment, a line break), the lines, and the
 * comments that come before the block's end at `end_off`. */
static void block_lines(printer *pr, const node *owner, int first, int indent, int end_off, sbuf *out) {
  /* A comment right after the opening brace stays on the header line. */
  if (pr->next < pr->ncomments && pr->comments[pr->next].trailing &&
      (owner->nkids <= first || pr->comments[pr->next].span.start < owner->kids[first]->span.start) &&
      pr->comments[pr->next].span.start < end_off &&
      line_breaks(pr->text, owner->span.start, pr->comments[pr->next].span.start) == 0) {
    char *c = comment_text(pr, &pr->comments[pr->next++]);
    sb_printf(out, "  %s", c);
    free(c);
  }
  sb_putc(out, '\n');
  lines_t ls = {0};
  int prev_end = -1;
  for (int i = first; i < owner->nkids; i++) {
    const node *s = owner->kids[i];
    prev_end = take_comments_before(pr, &ls, s->span.start, prev_end);
    line_t *l = add_line(&ls);
    l->blank_before = prev_end >= 0 && line_breaks(pr->text, prev_end, s->span.start) >= 2;
    render_stmt(pr, s, l, indent);
    /* Comments inside the statement's own text move to the line after it. */
    int idx = ls.n - 1;
    take_trailing(pr, &ls.v[idx], s->span.end);
    prev_end = s->span.end;
  }
  /* Comments before the closing brace stay inside the block. */
  int end = end_off;
  while (end > 0 && pr->text[end - 1] != '}') end--;
  take_comments_before(pr, &ls, end > 0 ? end - 1 : end_off, prev_end);
  emit_lines(&ls, indent, out);
  free_lines(&ls);
}

/* ---- declarations --------------------------------------------------------------- */

static void decl_header(sbuf *b, const node *d) {
  const node *t;
  switch (d->kind) {
    case N_USE: sb_puts(b, "use "); put_expr(b, d->kids[0], P_PRIMARY); return;
    case N_SOURCE:
      sb_puts(b, "source ");
      put_name(b, d->kids[0]);
      sb_puts(b, " : ");
      put_name(b, d->kids[1]);
      break;
    case N_SCHOOLS: sb_puts(b, "schools "); put_name(b, d->kids[0]); break;
    case N_MAP: case N_FILTER: case N_REQUIRE:
      sb_puts(b, d->kind == N_MAP ? "map " : d->kind == N_FILTER ? "filter " : "require ");
      t = d->kids[0];
      if (t->kids[0]) {
        put_name(b, t->kids[0]);
        sb_putc(b, '.');
      }
      put_name(b, t->kids[1]);
      break;
    case N_UNIQUENESS: case N_PRECEDENCE:
      sb_puts(b, d->kind == N_UNIQUENESS ? "uniqueness " : "precedence ");
      put_name(b, d->kids[0]);
      break;
    case N_SCHEDULE: sb_puts(b, "schedule"); break;
    case N_POLICY: sb_puts(b, "policy"); break;
    case N_ATTRIBUTE:
      sb_puts(b, "attribute ");
      put_name(b, d->kids[0]);
      sb_putc(b, '.');
      put_name(b, d->kids[1]);
      sb_puts(b, " : ");
      put_name(b, d->kids[2]);
      return;
    case N_TEMPLATE: {
      sb_puts(b, "template ");
      put_name(b, d->kids[0]);
      char *ps = names_text(d->kids[1], 0, ", ");
      sb_printf(b, "(%s)", ps);
      free(ps);
      break;
    }
    case N_TEST: sb_puts(b, "test "); put_string(b, d->kids[0]->str); break;
    default: sb_puts(b, "?"); return;
  }
  sb_puts(b, " {");
}

static int first_stmt(const node *d) {
  switch (d->kind) {
    case N_SOURCE: return 2;
    case N_SCHOOLS: case N_MAP: case N_FILTER: case N_REQUIRE: case N_UNIQUENESS:
    case N_PRECEDENCE: case N_TEST: return 1;
    case N_TEMPLATE: return 2;
    case N_SCHEDULE: case N_POLICY: return 0;
    default: return -1; /* no block */
  }
}

char *fmt_render(int file, const parse_result *r) {
  const source_file *f = src_get(file);
  printer pr = {f->text, r->comments, r->ncomments, 0};
  sbuf out = {0};
  const node *spec = r->spec;
  int prev_end = -1;
  const node *prev = NULL;
  for (int i = 0; i < spec->nkids; i++) {
    const node *d = spec->kids[i];
    if (!d) continue;
    /* Comments before the declaration, then the declaration itself. */
    lines_t ls = {0};
    int blank_first = 0;
    if (pr.next < pr.ncomments && pr.comments[pr.next].span.start < d->span.start)
      blank_first = prev_end >= 0 && line_breaks(pr.text, prev_end, pr.comments[pr.next].span.start) >= 2;
    int after = take_comments_before(&pr, &ls, d->span.start, prev_end);
    int glued = prev && prev->kind == N_USE && d->kind == N_USE && ls.n == 0;
    if (prev && !glued) sb_putc(&out, '\n');
    else if (!prev && ls.n && blank_first) sb_putc(&out, '\n');
    if (ls.n) {
      ls.v[0].blank_before = 0;
      emit_lines(&ls, 0, &out);
      if (line_breaks(pr.text, after, d->span.start) >= 2) sb_putc(&out, '\n');
    }
    free_lines(&ls);
    sbuf head = {0};
    decl_header(&head, d);
    sb_puts(&out, head.data);
    sb_free(&head);
    int first = first_stmt(d);
    if (first >= 0) {
      block_lines(&pr, d, first, 2, d->span.end, &out);
      sb_putc(&out, '}');
    }
    line_t tl = {0};
    take_trailing(&pr, &tl, d->span.end);
    if (tl.comment) {
      sb_printf(&out, "  %s", tl.comment);
      free(tl.comment);
    }
    sb_putc(&out, '\n');
    prev_end = d->span.end;
    prev = d;
  }
  /* Comments after the last declaration. */
  lines_t ls = {0};
  int blank = pr.next < pr.ncomments && prev_end >= 0 &&
              line_breaks(pr.text, prev_end, pr.comments[pr.next].span.start) >= 2;
  take_comments_before(&pr, &ls, (int)f->len + 1, prev_end);
  if (ls.n) {
    if (blank) sb_putc(&out, '\n');
    ls.v[0].blank_before = 0;
    emit_lines(&ls, 0, &out);
  }
  free_lines(&ls);
  return out.data ? out.data : xstrdup("");
}

/* ---- the command ---------------------------------------------------------------- */

/* Formats one file; returns its canonical text, or NULL on errors (already
 * reported).  *same says whether the input was already canonical. */
static char *format_file(const char *path, int *same, int *io_error) {
  size_t len;
  char *text = read_file(path, MAX_SPEC_BYTES, &len);
  if (!text) {
    fprintf(stderr, "syncc fmt: cannot read %s: %s\n", path, strerror(errno));
    *io_error = 1;
    return NULL;
  }
  int file = src_add(path, text, len, 0);
  int before = diag_error_count();
  if (check_text(file)) return NULL;
  parse_result r = parse_source(file);
  if (diag_error_count() > before) {
    parse_result_free(&r);
    return NULL;
  }
  char *out = fmt_render(file, &r);
  /* Never change meaning: the output must parse to the same tree. */
  char *copy = xstrdup(out);
  int file2 = src_add(path, copy, strlen(copy), 0);
  parse_result r2 = parse_source(file2);
  char *d1 = ast_dump(r.spec), *d2 = ast_dump(r2.spec);
  int ok = diag_error_count() == before && strcmp(d1, d2) == 0 && r2.ncomments == r.ncomments;
  free(d1);
  free(d2);
  parse_result_free(&r);
  parse_result_free(&r2);
  if (!ok) {
    fprintf(stderr, "syncc fmt: internal error: formatting %s would change its meaning; file left alone\n", path);
    free(out);
    *io_error = 1;
    return NULL;
  }
  *same = strlen(out) == len && memcmp(out, src_get(file)->text, len) == 0;
  return out;
}

static int write_atomically(const char *path, const char *text) {
  char *tmp = xasprintf("%s.fmt-tmp", path);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "syncc fmt: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
  }
  free(tmp);
  return ok;
}

int fmt_main(int argc, char **argv) {
  int check = 0, write = 0, nfiles = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--check") == 0) check = 1;
    else if (strcmp(argv[i], "-w") == 0) write = 1;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "syncc fmt: unknown option %s\n", argv[i]);
      return 2;
    } else nfiles++;
  }
  if (!nfiles) {
    fputs("usage: syncc fmt [--check] [-w] FILE...\n", stderr);
    return 2;
  }
  diag_init(0, isatty(2) && !getenv("NO_COLOR"), 20);
  int io_error = 0, changed = 0;
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) continue;
    int same = 0;
    char *out = format_file(argv[i], &same, &io_error);
    if (!out) continue;
    if (check) {
      if (!same) {
        printf("%s\n", argv[i]);
        changed = 1;
      }
    } else if (write) {
      if (!same && !write_atomically(argv[i], out)) io_error = 1;
    } else {
      fputs(out, stdout);
    }
    free(out);
  }
  diag_flush(stderr);
  int errors = diag_error_count();
  src_free_all();
  if (io_error) return 2;
  return errors || changed ? 1 : 0;
}
