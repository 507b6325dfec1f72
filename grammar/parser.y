/* parser.y: the grammar of the .sync language, building the AST (ast.h).
 *
 * A pure (reentrant) bison parser with byte-span locations.  Statements end
 * at the end of a line (the lexer drops line ends that cannot end one), and
 * every block - source, schools, map, filter, ... - shares one statement
 * grammar; the action that closes a declaration then checks that each of its
 * statements belongs in it ("'keep if' is not allowed in a map block").
 * That keeps the grammar small and conflict-free, and makes misplaced lines
 * a clear error instead of a bare "syntax error".
 *
 * Error recovery: a bad statement is skipped to the end of its line (or to
 * the `}` that closes its block); a bad declaration header is skipped to the
 * end of its block.  Bison stays quiet until three tokens have been read
 * after an error, so one mistake gives one message; for the same reason a
 * line the lexer already reported an error on gets no syntax error too.  A
 * ( or [ left open is reported at the end of its line (the lexer ignores
 * line ends inside them, so the parser trips only on a later line), with a
 * note pointing at it.  Syntax errors are counted (lexstate.h): the checker
 * skips a tree that had any, but not one that only had misplaced lines.
 *
 * Operator precedence, from loosest to tightest (docs/language.md):
 *   if-then-else  <  or  <  and  <  not  <  == != < <= > >= in not-in ~ !~
 *   (comparisons do not chain)  <  ??  (right to left)  <  +  <  unary -
 */
%define api.pure full
%define api.prefix {sync_yy}
%define api.location.type {sync_span}
%define parse.error custom
%locations
%param {yyscan_t scanner}
%expect 0

%code requires {
#include "../compiler/ast.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
}

%code provides {
int sync_yylex(SYNC_YYSTYPE *lval, SYNC_YYLTYPE *lloc, yyscan_t scanner);
int sync_yyparse(yyscan_t scanner);
int lex_is_reserved(const char *s);
int lex_is_word(const char *s);
}

%code {
#include <stdlib.h>
#include <string.h>

#include "../compiler/diag.h"
#include "../compiler/source.h"
#include "../compiler/util.h"
#include "lexstate.h"

#define YYMAXDEPTH 100000

#define YYLLOC_DEFAULT(Cur, Rhs, N)                      \
  do {                                                   \
    if (N) {                                             \
      (Cur).file = YYRHSLOC(Rhs, 1).file;                \
      (Cur).start = YYRHSLOC(Rhs, 1).start;              \
      (Cur).end = YYRHSLOC(Rhs, N).end;                  \
    } else {                                             \
      (Cur).file = YYRHSLOC(Rhs, 0).file;                \
      (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;    \
    }                                                    \
  } while (0)

lex_extra *sync_raw_get_extra(yyscan_t scanner);
static void sync_yyerror(SYNC_YYLTYPE *loc, yyscan_t scanner, const char *msg);
static node *close_decl(yyscan_t scanner, node *decl, node *block);
static node *binary(yyscan_t scanner, binop op, node *l, node *r, sync_span at);
static node *unary(yyscan_t scanner, node_kind k, node *operand, sync_span at);
static node *leaf(node_kind k, sync_span at);
static node *path_to_name(node *path);
static void add_decl(yyscan_t scanner, node *decl);
}

%union {
  node *node;
}

%token <node> IDENT "name" STRING "string" INT "integer" DECIMAL "decimal"
%token <node> DATE "date" TIME "time" REGEX "regex"
%token <node> USE "use" SOURCE "source" SCHOOLS "schools" MAP "map" FILTER "filter"
%token <node> REQUIRE "require" UNIQUENESS "uniqueness" PRECEDENCE "precedence"
%token <node> SCHEDULE "schedule" POLICY "policy" ATTRIBUTE "attribute"
%token <node> TEMPLATE "template" TEST "test" FILE_KW "file" AT "at" AUTO "auto"
%token <node> SKIP "skip" KEEP "keep" DROP "drop" REPORT "report" MISSING "missing"
%token <node> UNATTENDED "unattended" MANUAL "manual" GIVEN "given" EXPECT "expect"
%token <node> HOLD "hold" DAILY "daily" WEEKLY "weekly" HOURLY "hourly" ON "on"
%token <node> UNTIL "until"
%token AND "and" OR "or" NOT "not" IN "in" IF "if" THEN "then" ELSE "else"
%token TRUE "true" FALSE "false" NULL_KW "null"
%token EQ "==" NE "!=" LE "<=" GE ">=" LT "<" GT ">" MATCH "~" NMATCH "!~"
%token COALESCE "??" ARROW "->" NL "end of line"

%type <node> decl block stmts stmt name path target names sources params args arglist
%type <node> expr or_expr and_expr not_expr cmp_expr coal_expr add_expr unary_expr primary
%type <node> literal list items number opt_at
%destructor { ast_free($$); } <node>

%%

spec
  : %empty
  | spec NL
  | spec decl            { add_decl(scanner, $2); }
  | spec error '}'
  | spec error NL
  ;

decl
  : USE path NL                                 { $$ = ast_add(leaf(N_USE, @1), $2); ast_free($1); }
  | SOURCE name ':' name block                  { $$ = ast_add(ast_add(leaf(N_SOURCE, @1), $2), $4); $$ = close_decl(scanner, $$, $5); ast_free($1); }
  | SCHOOLS name block                          { $$ = ast_add(leaf(N_SCHOOLS, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  | MAP name '.' name block                     {
                                                  node *t = ast_add(ast_add(leaf(N_TARGET, @2), $2), $4);
                                                  $$ = ast_add(leaf(N_MAP, @1), t);
                                                  $$ = close_decl(scanner, $$, $5); ast_free($1);
                                                }
  | FILTER target block                         { $$ = ast_add(leaf(N_FILTER, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  | REQUIRE target block                        { $$ = ast_add(leaf(N_REQUIRE, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  | UNIQUENESS name block                       { $$ = ast_add(leaf(N_UNIQUENESS, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  | PRECEDENCE name block                       { $$ = ast_add(leaf(N_PRECEDENCE, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  | SCHEDULE block                              { $$ = close_decl(scanner, leaf(N_SCHEDULE, @1), $2); ast_free($1); }
  | POLICY block                                { $$ = close_decl(scanner, leaf(N_POLICY, @1), $2); ast_free($1); }
  | ATTRIBUTE name '.' name ':' name NL         { $$ = ast_add(ast_add(ast_add(leaf(N_ATTRIBUTE, @1), $2), $4), $6); ast_free($1); }
  | TEMPLATE name '(' params ')' block          { $$ = ast_add(ast_add(leaf(N_TEMPLATE, @1), $2), $4); $$ = close_decl(scanner, $$, $6); ast_free($1); }
  | TEST STRING block                           { $$ = ast_add(leaf(N_TEST, @1), $2); $$ = close_decl(scanner, $$, $3); ast_free($1); }
  ;

target
  : name                 { $$ = ast_add(ast_add(leaf(N_TARGET, @1), NULL), $1); }
  | name '.' name        { $$ = ast_add(ast_add(leaf(N_TARGET, @1), $1), $3); }
  ;

params
  : %empty               { $$ = leaf(N_PARAMS, @$); }
  | names                { $$ = $1; $$->kind = N_PARAMS; }
  ;

/* A block is a list of statements, one per line.  Its node is a scratch
 * N_ERROR holder whose children close_decl() checks and takes over. */
block
  : '{' stmts '}'        { $$ = $2; $$->span = @$; }
  | '{' stmts stmt '}'   { $$ = ast_add($2, $3); $$->span = @$; }
  | '{' stmts error '}'  { $$ = $2; $$->span = @$; }
  ;

stmts
  : %empty               { $$ = leaf(N_ERROR, @$); }
  | stmts NL             { $$ = $1; }
  | stmts stmt NL        { $$ = ast_add($1, $2); }
  | stmts error NL       { $$ = $1; }
  ;

stmt
  : path '=' expr                        { $$ = ast_add(ast_add(leaf(N_ASSIGN, @1), $1), $3); }
  | FILE_KW name '=' expr opt_at         { $$ = ast_add(ast_add(ast_add(leaf(N_FILE_SETTING, @1), $2), $4), $5); ast_free($1); }
  | STRING ARROW STRING                  { $$ = ast_add(ast_add(leaf(N_SCHOOL_MAP, @1), $1), $3); }
  | AUTO                                 { $$ = leaf(N_SCHOOL_AUTO, @1); ast_free($1); }
  | SKIP STRING                          { $$ = ast_add(leaf(N_SCHOOL_SKIP, @1), $2); ast_free($1); }
  | KEEP IF expr                         { $$ = ast_add(leaf(N_KEEP, @1), $3); ast_free($1); }
  | DROP IF expr                         { $$ = ast_add(leaf(N_DROP, @1), $3); ast_free($1); }
  | USE name '(' args ')'                { $$ = $4; $$->kind = N_USE_TEMPLATE; $$->span = @$;
                                           /* the template's name goes first */
                                           $$ = ast_add($$, NULL);
                                           memmove($$->kids + 1, $$->kids, (size_t)($$->nkids - 1) * sizeof *$$->kids);
                                           $$->kids[0] = $2; ast_free($1); }
  | SKIP IF MISSING names                { $$ = $4; $$->kind = N_MISSING; $$->num = 0; $$->span.start = @1.start; ast_free($1); ast_free($3); }
  | REPORT IF MISSING names              { $$ = $4; $$->kind = N_MISSING; $$->num = 1; $$->span.start = @1.start; ast_free($1); ast_free($3); }
  | UNATTENDED names                     { $$ = $2; $$->kind = N_DOMAIN; $$->num = 0; $$->span.start = @1.start; ast_free($1); }
  | MANUAL names                         { $$ = $2; $$->kind = N_DOMAIN; $$->num = 1; $$->span.start = @1.start; ast_free($1); }
  | name ':' sources                     { $$ = $3; $$->kids[0] = $1; $$->span.start = @1.start; }
  | '*' ':' sources                      { $$ = $3; $$->kids[0] = ast_str(N_NAME, @1, "*"); $$->span.start = @1.start; }
  | DAILY AT TIME                        { $$ = ast_add(ast_add(ast_str(N_EVERY, @$, "daily"), NULL), $3); ast_free($1); ast_free($2); }
  | WEEKLY ON name AT TIME               { $$ = ast_add(ast_add(ast_str(N_EVERY, @$, "weekly"), $3), $5); ast_free($1); ast_free($2); ast_free($4); }
  | HOURLY                               { $$ = ast_add(ast_add(ast_str(N_EVERY, @$, "hourly"), NULL), NULL); ast_free($1); }
  | UNTIL DATE                           { $$ = ast_add(leaf(N_UNTIL, @1), $2); ast_free($1); }
  | HOLD name name GT number '%'         { $$ = ast_add(ast_add(ast_add(leaf(N_HOLD, @$), $2), $3), $5); $$->num = 1; ast_free($1); }
  | HOLD name name GT number             { $$ = ast_add(ast_add(ast_add(leaf(N_HOLD, @$), $2), $3), $5); ast_free($1); }
  | HOLD name GT number '%'              { $$ = ast_add(ast_add(ast_add(leaf(N_HOLD, @$), NULL), $2), $4); $$->num = 1; ast_free($1); }
  | HOLD name GT number                  { $$ = ast_add(ast_add(ast_add(leaf(N_HOLD, @$), NULL), $2), $4); ast_free($1); }
  | GIVEN name '.' name block            {
                                           node *t = ast_add(ast_add(leaf(N_TARGET, @2), $2), $4);
                                           $$ = ast_add(leaf(N_GIVEN, @1), t);
                                           $$ = close_decl(scanner, $$, $5); ast_free($1);
                                         }
  | EXPECT expr                          { $$ = ast_add(leaf(N_EXPECT, @1), $2); ast_free($1); }
  ;

opt_at
  : %empty               { $$ = NULL; }
  | AT expr              { $$ = $2; ast_free($1); }
  ;

number
  : INT
  | DECIMAL
  ;

/* `a, b, c` held by a scratch node whose kind the rule using it sets. */
names
  : name                 { $$ = ast_add(leaf(N_ERROR, @1), $1); }
  | names ',' name       { $$ = ast_add($1, $3); }
  ;

/* `s1 > s2 > s3`, with slot 0 kept free for the attribute. */
sources
  : name                 { $$ = ast_add(ast_add(leaf(N_PREC_RULE, @1), NULL), $1); }
  | sources GT name      { $$ = ast_add($1, $3); }
  ;

/* Any word can be a name where a name is expected, except the reserved
 * words (and, or, not, in, if, then, else, true, false, null). */
name
  : IDENT | USE | SOURCE | SCHOOLS | MAP | FILTER | REQUIRE | UNIQUENESS
  | PRECEDENCE | SCHEDULE | POLICY | ATTRIBUTE | TEMPLATE | TEST | FILE_KW | AT
  | AUTO | SKIP | KEEP | DROP | REPORT | MISSING | UNATTENDED | MANUAL | GIVEN
  | EXPECT | HOLD | DAILY | WEEKLY | HOURLY | ON | UNTIL
  ;

path
  : name                 { $$ = ast_add(leaf(N_PATH, @1), $1); }
  | path '.' name        { $$ = ast_add($1, $3); }
  ;

expr
  : IF expr THEN expr ELSE expr  { $$ = ast_add(ast_add(ast_add(leaf(N_IF, @1), $2), $4), $6); }
  | or_expr
  ;

or_expr
  : or_expr OR and_expr  { $$ = binary(scanner, BOP_OR, $1, $3, @2); }
  | and_expr
  ;

and_expr
  : and_expr AND not_expr  { $$ = binary(scanner, BOP_AND, $1, $3, @2); }
  | not_expr
  ;

not_expr
  : NOT not_expr         { $$ = unary(scanner, N_NOT, $2, @1); }
  | cmp_expr
  ;

cmp_expr
  : coal_expr EQ coal_expr       { $$ = binary(scanner, BOP_EQ, $1, $3, @2); }
  | coal_expr NE coal_expr       { $$ = binary(scanner, BOP_NE, $1, $3, @2); }
  | coal_expr LT coal_expr       { $$ = binary(scanner, BOP_LT, $1, $3, @2); }
  | coal_expr LE coal_expr       { $$ = binary(scanner, BOP_LE, $1, $3, @2); }
  | coal_expr GT coal_expr       { $$ = binary(scanner, BOP_GT, $1, $3, @2); }
  | coal_expr GE coal_expr       { $$ = binary(scanner, BOP_GE, $1, $3, @2); }
  | coal_expr IN coal_expr       { $$ = binary(scanner, BOP_IN, $1, $3, @2); }
  | coal_expr NOT IN coal_expr   { $$ = binary(scanner, BOP_NOT_IN, $1, $4, @2); }
  | coal_expr MATCH coal_expr    { $$ = binary(scanner, BOP_MATCH, $1, $3, @2); }
  | coal_expr NMATCH coal_expr   { $$ = binary(scanner, BOP_NOT_MATCH, $1, $3, @2); }
  | coal_expr
  ;

coal_expr
  : add_expr COALESCE coal_expr  { $$ = binary(scanner, BOP_COALESCE, $1, $3, @2); }
  | add_expr
  ;

add_expr
  : add_expr '+' unary_expr      { $$ = binary(scanner, BOP_ADD, $1, $3, @2); }
  | unary_expr
  ;

unary_expr
  : '-' unary_expr               { $$ = unary(scanner, N_NEG, $2, @1); }
  | primary
  ;

primary
  : literal
  | path
  | name '(' args ')'            { $$ = $3; $$->kind = N_CALL; $$->span = @$;
                                   $$ = ast_add($$, NULL);
                                   memmove($$->kids + 1, $$->kids, (size_t)($$->nkids - 1) * sizeof *$$->kids);
                                   $$->kids[0] = $1; }
  | '(' expr ')'                 { $$ = $2; $$->flags |= NF_PARENS; $$->span = @$; }
  | list
  ;

args
  : %empty                       { $$ = leaf(N_ERROR, @$); }
  | arglist
  | arglist ','                  { $$ = $1; }
  ;

arglist
  : expr                         { $$ = ast_add(leaf(N_ERROR, @1), $1); }
  | arglist ',' expr             { $$ = ast_add($1, $3); }
  ;

list
  : '[' items ']'                { $$ = $2; $$->kind = N_LIST; $$->span = @$; }
  ;

items
  : args
  ;

literal
  : STRING | INT | DECIMAL | DATE | TIME | REGEX
  | TRUE                         { $$ = leaf(N_BOOL, @1); $$->num = 1; }
  | FALSE                        { $$ = leaf(N_BOOL, @1); }
  | NULL_KW                      { $$ = leaf(N_NULL, @1); }
  ;

%%

static node *leaf(node_kind k, sync_span at) { return ast_new(k, at); }

static void check_depth(yyscan_t scanner, node *n) {
  if (n->depth == MAX_NESTING + 1) {
    diag_error(n->span, "expression nested too deeply (the limit is %d levels)", MAX_NESTING);
    sync_raw_get_extra(scanner)->syntax_errors++;
  }
}

static node *binary(yyscan_t scanner, binop op, node *l, node *r, sync_span at) {
  node *n = ast_new(N_BINOP, at);
  n->num = op;
  ast_add(n, l);
  ast_add(n, r);
  check_depth(scanner, n);
  return n;
}

static node *unary(yyscan_t scanner, node_kind k, node *operand, sync_span at) {
  node *n = ast_add(ast_new(k, at), operand);
  check_depth(scanner, n);
  return n;
}

static void add_decl(yyscan_t scanner, node *decl) {
  lex_extra *x = sync_raw_get_extra(scanner);
  ast_add(x->spec, decl);
}

/* Turns a one-part N_PATH into its N_NAME (freeing the path), or reports a
 * dotted path where only a name is allowed and returns NULL. */
static node *path_to_name(node *path) {
  if (path->nkids == 1) {
    node *name = path->kids[0];
    path->nkids = 0;
    ast_free(path);
    return name;
  }
  diag_error(path->span, "a setting or attribute name cannot be dotted");
  ast_free(path);
  return NULL;
}

static const char *stmt_words(const node *s) {
  switch (s->kind) {
    case N_ASSIGN: return "'name = value'";
    case N_FILE_SETTING: return "'file'";
    case N_SCHOOL_MAP: return "'\"id\" -> \"CODE\"'";
    case N_SCHOOL_AUTO: return "'auto'";
    case N_SCHOOL_SKIP: return "'skip \"id\"'";
    case N_KEEP: return "'keep if'";
    case N_DROP: return "'drop if'";
    case N_USE_TEMPLATE: return "'use TEMPLATE()'";
    case N_MISSING: return s->num ? "'report if missing'" : "'skip if missing'";
    case N_DOMAIN: return s->num ? "'manual'" : "'unattended'";
    case N_PREC_RULE: return "'attribute : source > source'";
    case N_EVERY: return s->str && s->str[0] == 'w' ? "'weekly'" : s->str && s->str[0] == 'h' ? "'hourly'" : "'daily'";
    case N_UNTIL: return "'until'";
    case N_HOLD: return "'hold'";
    case N_GIVEN: return "'given'";
    case N_EXPECT: return "'expect'";
    default: return "this line";
  }
}

static const char *block_words(node_kind k, const char **holds) {
  switch (k) {
    case N_SOURCE: *holds = "settings (name = value) and 'file ENTITY = \"path\"' lines"; return "source";
    case N_SCHOOLS: *holds = "'\"id\" -> \"CODE\"', 'auto' and 'skip \"id\"' lines"; return "schools";
    case N_MAP: *holds = "'attribute = expression' lines"; return "map";
    case N_FILTER: *holds = "'keep if', 'drop if' and 'use TEMPLATE(args)' lines"; return "filter";
    case N_TEMPLATE: *holds = "'keep if', 'drop if' and 'use TEMPLATE(args)' lines"; return "template";
    case N_REQUIRE: *holds = "'skip if missing a, b' and 'report if missing a, b' lines"; return "require";
    case N_UNIQUENESS: *holds = "'unattended a, b' and 'manual a, b' lines"; return "uniqueness";
    case N_PRECEDENCE: *holds = "'attribute : source > source' lines"; return "precedence";
    case N_SCHEDULE: *holds = "'daily at HH:MM', 'weekly on DAY at HH:MM', 'hourly' and 'until DATE' lines"; return "schedule";
    case N_POLICY: *holds = "'preview = bool', 'deletions = deactivate|delete' and 'hold ...' lines"; return "policy";
    case N_TEST: *holds = "a 'given SOURCE.ENTITY { ... }' block and 'expect' lines"; return "test";
    case N_GIVEN: *holds = "'field.path = value' lines"; return "given";
    default: *holds = "statements"; return "this";
  }
}

static int allowed(node_kind block, node_kind stmt) {
  switch (block) {
    case N_SOURCE: return stmt == N_ASSIGN || stmt == N_FILE_SETTING;
    case N_SCHOOLS: return stmt == N_SCHOOL_MAP || stmt == N_SCHOOL_AUTO || stmt == N_SCHOOL_SKIP;
    case N_MAP: return stmt == N_ASSIGN;
    case N_FILTER: case N_TEMPLATE: return stmt == N_KEEP || stmt == N_DROP || stmt == N_USE_TEMPLATE;
    case N_REQUIRE: return stmt == N_MISSING;
    case N_UNIQUENESS: return stmt == N_DOMAIN;
    case N_PRECEDENCE: return stmt == N_PREC_RULE;
    case N_SCHEDULE: return stmt == N_EVERY || stmt == N_UNTIL;
    case N_POLICY: return stmt == N_ASSIGN || stmt == N_HOLD;
    case N_TEST: return stmt == N_GIVEN || stmt == N_EXPECT;
    case N_GIVEN: return stmt == N_ASSIGN;
    default: return 0;
  }
}

/* Moves the statements of `block` into `decl`, reporting each statement that
 * does not belong in this kind of block and turning `a = b` lines into the
 * node kind the block wants. */
static node *close_decl(yyscan_t scanner, node *decl, node *block) {
  (void)scanner;
  for (int i = 0; i < block->nkids; i++) {
    node *s = block->kids[i];
    block->kids[i] = NULL;
    if (!s) continue;
    if (!allowed(decl->kind, s->kind)) {
      const char *holds;
      const char *what = block_words(decl->kind, &holds);
      diag_error(s->span, "%s is not allowed in a %s block", stmt_words(s), what);
      diag_hint("a %s block holds %s", what, holds);
      ast_free(s);
      continue;
    }
    if (s->kind == N_ASSIGN && decl->kind != N_GIVEN) {
      node *name = path_to_name(s->kids[0]);
      s->kids[0] = name;
      if (!name) {
        ast_free(s);
        continue;
      }
      if (decl->kind != N_MAP) s->kind = N_SETTING;
    } else if (s->kind == N_ASSIGN) {
      s->kind = N_GIVEN_FIELD;
    }
    ast_add(decl, s);
  }
  decl->span.end = block->span.end > decl->span.end ? block->span.end : decl->span.end;
  ast_free(block);
  return decl;
}

static void sync_yyerror(SYNC_YYLTYPE *loc, yyscan_t scanner, const char *msg) {
  sync_raw_get_extra(scanner)->syntax_errors++;
  if (strstr(msg, "exhausted"))
    diag_error(*loc, "the spec is nested too deeply to parse");
  else
    diag_error(*loc, "%s", msg);
}

/* "name", "end of line" and the other categories print bare; keywords and
 * punctuation in quotes.  In parse.error custom mode yysymbol_name() gives
 * "then" and "==" without their double quotes, and '=' with its single ones. */
static void symbol_words(sbuf *b, yysymbol_kind_t sym) {
  const char *s = yysymbol_name(sym);
  static const char *const bare[] = {"name", "string", "integer", "decimal", "date", "time", "regex",
                                     "end of line", "end of file", "error", "invalid token", NULL};
  for (int i = 0; bare[i]; i++)
    if (strcmp(bare[i], s) == 0) {
      sb_puts(b, s);
      return;
    }
  if (s[0] == '\'') {
    sb_puts(b, s);
    return;
  }
  sb_printf(b, "'%s'", s);
}

static int is_symbol(yysymbol_kind_t sym, const char *name) { return strcmp(yysymbol_name(sym), name) == 0; }

static int line_of(int file, int off) {
  int line, col;
  src_linecol(file, off, &line, &col);
  return line;
}

/* The innermost ( or [ still open when the parser met `la` at `at`, or NULL.
 * A { or } closes them all in the lexer, which remembers the innermost. */
static const sync_span *open_paren(const lex_extra *x, yysymbol_kind_t la, sync_span at) {
  if ((is_symbol(la, "'{'") || is_symbol(la, "'}'")) && x->dropped_at == at.start) return &x->dropped_paren;
  if (x->paren > 0 && x->paren <= MAX_NESTING + 1 && x->parens[x->paren - 1].start < at.start)
    return &x->parens[x->paren - 1];
  return NULL;
}

/* Whether `at`, on a later line than the token before it, looks like the
 * start of a new statement rather than a continuation inside the ( or [
 * at `open`: the end of the file, a }, or a token indented no deeper
 * than the line that opened it.  Then a missing ')' is reported at the end
 * of the line that needs it, not on the next one. */
static int starts_next_line(const lex_extra *x, yysymbol_kind_t la, sync_span at, const sync_span *open) {
  if (la == YYSYMBOL_YYEOF || la == YYSYMBOL_NL) return 1; /* the file ends inside the ( */
  if (line_of(x->file, at.start) <= line_of(x->file, x->prev_end)) return 0;
  if (is_symbol(la, "'}'")) return 1;
  int len;
  const char *open_line = src_line(x->file, line_of(x->file, open->start), &len);
  int indent = 0;
  while (indent < len && (open_line[indent] == ' ' || open_line[indent] == '\t')) indent++;
  const char *la_line = src_line(x->file, line_of(x->file, at.start), &len);
  return at.start - (int)(la_line - x->text) <= indent;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner) {
  lex_extra *x = sync_raw_get_extra(scanner);
  x->syntax_errors++;
  yysymbol_kind_t expected[YYNTOKENS];
  int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
  yysymbol_kind_t la = yypcontext_token(ctx);
  sync_span at = *yypcontext_location(ctx);
  int wants_assign = 0, wants_brace = 0, wants_close = 0;
  const sync_span *open = open_paren(x, la, at);
  const char *closer = open && x->text[open->start] == '[' ? "']'" : "')'";
  for (int i = 0; i < n; i++) {
    if (is_symbol(expected[i], "'='")) wants_assign = 1;
    if (is_symbol(expected[i], "'}'")) wants_brace = 1;
    if (open && is_symbol(expected[i], closer)) wants_close = 1;
  }
  int at_eol = wants_close && starts_next_line(x, la, at, open);
  if (at_eol) {
    at.start = at.end = x->prev_end;
    /* Stop ignoring line ends, so that error recovery ends with this line
     * rather than swallowing every line up to the next '}'. */
    x->paren = 0;
  }
  /* One mistake, one message: the lexer has already spoken about this line. */
  int line = line_of(x->file, at.start);
  if (line == x->err_lines[0] || line == x->err_lines[1]) return 0;
  sbuf b = {0};
  if (at_eol) {
    sb_printf(&b, "unexpected end of line, expected %s", closer);
  } else {
    sb_puts(&b, "unexpected ");
    symbol_words(&b, la);
    if (la == YYSYMBOL_IDENT || la == YYSYMBOL_INT || la == YYSYMBOL_STRING) {
      int len = at.end - at.start;
      if (len > 0 && len <= 40) sb_printf(&b, " %.*s", len, x->text + at.start);
    }
    if (n > 0 && n <= 5) {
      sb_puts(&b, ", expected ");
      for (int i = 0; i < n; i++) {
        if (i) sb_puts(&b, i == n - 1 ? " or " : ", ");
        symbol_words(&b, expected[i]);
      }
    }
  }
  diag_error(at, "%s", b.data);
  sb_free(&b);
  /* Only when the ( looks really unclosed: a missing ',' in a list that
   * goes on over several lines also "expects ']'". */
  if (at_eol)
    diag_note(*open, "the %s opened here is never closed", x->text[open->start] == '[' ? "'['" : "'('");
  if (la == YYSYMBOL_YYEOF && x->nbraces > 0) {
    diag_note(x->braces[x->nbraces - 1], "the '{' opened here is never closed");
  } else if (is_symbol(la, "'='") && !wants_assign) {
    diag_hint("write '==' to compare");
  } else if (wants_brace && la == YYSYMBOL_NL && !at_eol) {
    diag_hint("a block ends with '}'");
  }
  return 0;
}
