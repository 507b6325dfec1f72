/* lexstate.h: the state a reentrant scan carries (flex's "extra" data),
 * private to lexer.l and parser.y. */
#ifndef SYNC_LEXSTATE_H
#define SYNC_LEXSTATE_H

#include "lex.h"

typedef struct {
  int file;
  const char *text;
  int len;
  int off;               /* byte offset of the next character */

  int paren;             /* depth of ( and [ : line ends inside are ignored */
  /* Where the innermost MAX_NESTING + 1 open ( and [ are (parens[paren - 1]
   * is the innermost), for "the '(' opened here is never closed" notes. */
  sync_span parens[MAX_NESTING + 1];
  /* A { or } forgets the open ( and [ before it; the innermost one it
   * forgot, and where that brace is (-1: none), for the same note. */
  sync_span dropped_paren;
  int dropped_at;
  int nesting_reported;  /* the nesting limit was reported once already */
  int line_has_token;    /* for telling trailing comments from own-line ones */
  sync_span *braces;     /* where each open { is, for "opened here" notes */
  int nbraces, capbraces;

  sync_comment *comments;
  int ncomments, capcomments;

  int last_tok;          /* last token handed to the parser (0 at start) */
  int have_peek;         /* a token read ahead while deciding a line end */
  int peek_tok;
  node *peek_node;
  sync_span peek_loc;
  int eof_nl_sent;

  int last_end, prev_end; /* ends of the last two tokens handed to the parser */

  /* Syntax errors (the lexer's and the parser's, not "not allowed in a ...
   * block"): the checker skips a tree that had any.  err_lines holds the
   * last two lines the lexer reported an error on, newest first (0: none):
   * the parser says nothing more about those lines. */
  int syntax_errors;
  int err_lines[2];

  node *spec;            /* the N_SPEC that declarations are added to */
} lex_extra;

#endif
