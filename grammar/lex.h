/* lex.h: what the lexer and the parser share, and the parse entry point.
 *
 * The lexer turns bytes into tokens and end-of-line tokens; a thin wrapper
 * (sync_yylex in lexer.l) drops line ends that cannot end a statement (inside
 * ( ) or [ ], after a binary operator, before `then`/`else`/`and`/`or`...), so
 * the grammar can say "one rule per line" without tripping over long
 * expressions.  Comments never reach the parser: the lexer records them for
 * `syncc fmt`.
 */
#ifndef SYNC_LEX_H
#define SYNC_LEX_H

#include "../compiler/ast.h"

/* Limits, each tested at and over the limit in tests/torture. */
#define MAX_NESTING 200       /* nested ( [ and nested expression operators */
#define MAX_SPEC_BYTES (16u << 20)

typedef struct {
  sync_span span;
  int trailing; /* code precedes it on the same line */
} sync_comment;

typedef struct {
  node *spec;             /* N_SPEC; never NULL after parse_source() */
  sync_comment *comments; /* in source order */
  int ncomments;
} parse_result;

/* Parses file `file` (registered in source.h).  Syntax errors go to diag.h.
 * The caller owns the result: free it with parse_result_free(). */
parse_result parse_source(int file);
void parse_result_free(parse_result *r);

#endif
