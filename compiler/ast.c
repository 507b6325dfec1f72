/* ast.c: constructing, freeing and dumping syntax trees. */
#include "ast.h"

#include <inttypes.h>
#include <stdlib.h>

#include "util.h"

node *ast_new(node_kind kind, sync_span span) {
  node *n = xcalloc(1, sizeof *n);
  n->kind = kind;
  n->span = span;
  n->depth = 1;
  return n;
}

node *ast_str(node_kind kind, sync_span span, const char *s) {
  node *n = ast_new(kind, span);
  n->str = xstrdup(s);
  return n;
}

node *ast_add(node *parent, node *kid) {
  if (parent->nkids == parent->capkids) {
    parent->capkids = parent->capkids ? parent->capkids * 2 : 4;
    parent->kids = xrealloc(parent->kids, (size_t)parent->capkids * sizeof *parent->kids);
  }
  parent->kids[parent->nkids++] = kid;
  if (kid) {
    if (kid->depth + 1 > parent->depth) parent->depth = kid->depth + 1;
    if (kid->span.file == parent->span.file) {
      if (kid->span.start < parent->span.start) parent->span.start = kid->span.start;
      if (kid->span.end > parent->span.end) parent->span.end = kid->span.end;
    }
  }
  return parent;
}

void ast_free(node *n) {
  /* An explicit work list rather than recursion: a pathological spec (a
   * 100,000-term sum) must not overflow the C stack while being freed. */
  if (!n) return;
  size_t len = 0, cap = 64;
  node **todo = xmalloc(cap * sizeof *todo);
  todo[len++] = n;
  while (len) {
    node *cur = todo[--len];
    for (int i = 0; i < cur->nkids; i++) {
      if (!cur->kids[i]) continue;
      if (len == cap) todo = xrealloc(todo, (cap *= 2) * sizeof *todo);
      todo[len++] = cur->kids[i];
    }
    free(cur->kids);
    free(cur->str);
    free(cur->str2);
    free(cur);
  }
  free(todo);
}

const char *ast_kind_name(node_kind k) {
  static const char *const names[] = {
#define KIND(id, name, layout) name,
#include "ast.def"
#undef KIND
  };
  return (unsigned)k < N__COUNT ? names[k] : "?";
}

const char *binop_text(binop op) {
  static const char *const t[BOP__COUNT] = {"or", "and", "==", "!=", "<", "<=", ">", ">=",
                                            "in", "not in", "~", "!~", "??", "+"};
  return (unsigned)op < BOP__COUNT ? t[op] : "?";
}

static void dump_rec(sbuf *b, const node *n, int indent) {
  sb_pad(b, (size_t)indent * 2);
  if (!n) {
    sb_puts(b, "-\n");
    return;
  }
  sb_puts(b, ast_kind_name(n->kind));
  if (n->str) sb_printf(b, " s=%s", n->str);
  if (n->str2) sb_printf(b, " s2=%s", n->str2);
  if (n->kind == N_BINOP)
    sb_printf(b, " op=%s", binop_text((binop)n->num));
  else if (n->num)
    sb_printf(b, " n=%" PRId64, n->num);
  sb_putc(b, '\n');
  for (int i = 0; i < n->nkids; i++) dump_rec(b, n->kids[i], indent + 1);
}

char *ast_dump(const node *n) {
  sbuf b = {0};
  dump_rec(&b, n, 0);
  return b.data ? b.data : xstrdup("");
}

const char *ast_simple_name(const node *n) {
  if (n && n->kind == N_PATH && n->nkids == 1 && n->kids[0]) return n->kids[0]->str;
  return NULL;
}
