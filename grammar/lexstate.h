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

  node *spec;            /* the N_SPEC that declarations are added to */
} lex_extra;

#endif
