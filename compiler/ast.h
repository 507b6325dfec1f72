/* ast.h: the syntax tree of a .sync spec.
 *
 * One generic node type; ast.def says, per kind, what `str`, `num` and the
 * children hold.  Nodes are heap-allocated and own their children and
 * strings: ast_free(root) frees a whole tree.  Every node has a span, so any
 * diagnostic can point at the exact text it is about.
 */
#ifndef SYNC_AST_H
#define SYNC_AST_H

#include <stdint.h>

/* A stretch of source text: bytes [start, end) of file `file` (see source.h). */
typedef struct {
  int file;
  int start, end;
} sync_span;

typedef enum {
#define KIND(id, name, layout) id,
#include "ast.def"
#undef KIND
  N__COUNT
} node_kind;

typedef enum {
  BOP_OR, BOP_AND, BOP_EQ, BOP_NE, BOP_LT, BOP_LE, BOP_GT, BOP_GE,
  BOP_IN, BOP_NOT_IN, BOP_MATCH, BOP_NOT_MATCH, BOP_COALESCE, BOP_ADD,
  BOP__COUNT
} binop;

enum {
  NF_PARENS = 1, /* written inside ( ): kept by fmt, ignored by equality */
};

typedef struct node {
  node_kind kind;
  sync_span span;
  char *str;
  char *str2;
  int64_t num;
  int flags;
  int depth; /* nesting depth of an expression, for the nesting limit */
  int nkids, capkids;
  struct node **kids;
} node;

node *ast_new(node_kind kind, sync_span span);
node *ast_str(node_kind kind, sync_span span, const char *s); /* copies s */
/* Appends `kid` (may be NULL) and widens the parent's span to cover it. */
node *ast_add(node *parent, node *kid);
void ast_free(node *n);

const char *ast_kind_name(node_kind k);
const char *binop_text(binop op);

/* Deterministic text dump of the tree without spans or parentheses: two
 * trees that dump the same mean the same.  Used by fmt's self-check. */
char *ast_dump(const node *n);

/* A bare name of a N_PATH with one part, else NULL. */
const char *ast_simple_name(const node *n);

#endif
