/* builtins.h: the table of built-in functions, expanded from builtins.def.
 *
 * The checker reads names, arities and types from here; the VM will bind the
 * same rows to their C implementations.
 */
#ifndef SYNC_BUILTINS_H
#define SYNC_BUILTINS_H

#include "../runtime/schema.h"

enum { BF_SETTING = 1, BF_VOLATILE = 2, BF_NULLS = 4 };

typedef enum {
#define BUILTIN(name, min, max, ret, params, flags, doc) BI_##name,
#include "builtins.def"
#undef BUILTIN
  BI__COUNT
} builtin_id;

typedef struct {
  const char *name;
  int min_args, max_args; /* max_args -1: variadic */
  sync_type result;
  const char *params;
  int flags;
  const char *doc;
} builtin_info;

extern const builtin_info builtin_table[BI__COUNT];

/* Index of the built-in called `name`, or -1. */
int builtin_find(const char *name);
/* NULL-terminated list of names, for "did you mean". */
const char *const *builtin_names(void);
/* The parameter letter of argument i (0-based), repeating the last one. */
char builtin_param(const builtin_info *b, int i);

#endif
