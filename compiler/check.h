/* check.h: the checker, and the resolved model of a spec that it builds.
 *
 * check_spec() reads a parsed spec (and the stdlib files it uses), reports
 * every error and warning through diag.h, and returns the model: sources,
 * their effective maps, filters, templates and so on, each pointing into the
 * AST.  Code generation (a later stage) reads only this model.
 *
 * Name resolution rules, in one place:
 *  - `map X.E`: X is a declared source, or else a source kind, which makes
 *    the map the default for every source of that kind (this is how the
 *    stdlib libraries give default maps).  A source's effective map for an
 *    entity is its own map, else the spec's map for its kind, else the map
 *    of its kind in a used stdlib library.
 *  - In a map, bare names are fields of the source record.  In filters,
 *    requirements, templates and `expect`, bare names are hub attributes (or
 *    template parameters) and `src.FIELD` reads the source record.
 */
#ifndef SYNC_CHECK_H
#define SYNC_CHECK_H

#include "../grammar/lex.h"
#include "ast.h"
#include "schema.h"

#define MAX_SPEC_SOURCES 64

typedef struct {
  const char *name;
  node *decl;               /* N_SOURCE */
  int kind;                 /* kind_id, or -1 if unknown */
  int feeds[ENT__COUNT];    /* which entities it feeds */
  node *maps[ENT__COUNT];   /* effective map per entity (N_MAP) or NULL */
  node *schools;            /* N_SCHOOLS or NULL */
} spec_source;

typedef struct {
  const char *entity_name;
  int entity;
  const char *name;
  sync_type type;
  node *decl;
} spec_attr; /* an `attribute` declaration */

typedef struct {
  const char *name;
  int file;
  parse_result parsed;
} spec_unit;

typedef struct spec_model {
  spec_unit main;
  spec_unit *libs; /* used stdlib files, in `use` order */
  int nlibs;
  spec_source sources[MAX_SPEC_SOURCES];
  int nsources;
  spec_attr *attrs;
  int nattrs;
  node **templates;
  int ntemplates;
  node *uniqueness[ENT__COUNT];
  node *precedence[ENT__COUNT];
  node *schedule, *policy;
  int lib_failed; /* a `use` failed: missing maps are not reported */
} spec_model;

/* Loads, parses and checks the spec in `path`.  Returns NULL when the file
 * cannot be read (an I/O error, already printed to stderr); otherwise a model
 * to free with spec_free(), even when diag_error_count() says there were
 * errors. */
spec_model *spec_load(const char *path);
void spec_free(spec_model *m);

/* The type of `attr` of `entity` (schema or `attribute` declarations), or
 * -1 when the entity has no such attribute. */
int spec_attr_type(const spec_model *m, int entity, const char *attr);
/* The names of the entity's attributes, schema and declared, for "did you
 * mean" suggestions: fills buf (room for cap pointers, NULL-terminated). */
const char *const *spec_attr_names(const spec_model *m, int entity, const char **buf, int cap);

/* Whether the UTF-8 text holds a NUL byte or invalid UTF-8; reports it. */
int check_text(int file);

/* check_expr.c */
typedef enum { CX_MAP, CX_COND, CX_SETTING, CX_LITERAL } expr_context;

typedef struct {
  const spec_model *m;
  expr_context cx;
  int entity;               /* for CX_COND: the hub entity, or -1 for "any" */
  const node *params;       /* N_PARAMS of the template being checked, or NULL */
  const sync_type *ptypes;  /* their types (NULL: any) */
} expr_env;

sync_type check_expr(const expr_env *env, node *e);
/* Constant truth of a condition: 1 always true, 0 always false, -1 unknown. */
int fold_truth(const node *e);
int check_date_text(const char *s);  /* 1 if YYYY-MM-DD is a real date */
int check_time_text(const char *s);  /* 1 if HH:MM is a real time of day */
void check_regex(node *re);          /* compiles with pcre2, reports errors */
int is_grade_code(const char *s);
const char *a_type(sync_type t);     /* "a string", "an int", ... */

#endif
