/* builtins.c: the built-in table expanded from builtins.def, and lookups. */
#include "builtins.h"

#include <string.h>

const builtin_info builtin_table[BI__COUNT] = {
#define BUILTIN(name, min, max, ret, params, flags, doc) {#name, min, max, ret, params, flags, doc},
#include "builtins.def"
#undef BUILTIN
};

int builtin_find(const char *name) {
  for (int i = 0; i < BI__COUNT; i++)
    if (strcmp(builtin_table[i].name, name) == 0) return i;
  return -1;
}

const char *const *builtin_names(void) {
  static const char *const names[] = {
#define BUILTIN(name, min, max, ret, params, flags, doc) #name,
#include "builtins.def"
#undef BUILTIN
      NULL};
  return names;
}

char builtin_param(const builtin_info *b, int i) {
  size_t n = strlen(b->params);
  if (n == 0) return 'a';
  return (size_t)i < n ? b->params[i] : b->params[n - 1];
}
