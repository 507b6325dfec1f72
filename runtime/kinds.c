/* kinds.c: the source-kind and setting tables, and lookups over them. */
#include "kinds.h"

#include <string.h>

const setting_info setting_table[SET__COUNT] = {
#define SETTING(name, type, doc) {#name, type, doc},
#define SOURCE_KIND(name, flags, req, opt, lib, doc)
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
};

const kind_info kind_table[KIND__COUNT] = {
#define SETTING(name, type, doc)
#define SOURCE_KIND(name, flags, req, opt, lib, doc) {#name, flags, req, opt, lib, doc},
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
};

int setting_find(const char *name) {
  for (int i = 0; i < SET__COUNT; i++)
    if (strcmp(setting_table[i].name, name) == 0) return i;
  return -1;
}

int kind_find(const char *name) {
  for (int i = 0; i < KIND__COUNT; i++)
    if (strcmp(kind_table[i].name, name) == 0) return i;
  return -1;
}

const char *const *setting_names(void) {
  static const char *const names[] = {
#define SETTING(name, type, doc) #name,
#define SOURCE_KIND(name, flags, req, opt, lib, doc)
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
      NULL};
  return names;
}

const char *const *kind_names(void) {
  static const char *const names[] = {
#define SETTING(name, type, doc)
#define SOURCE_KIND(name, flags, req, opt, lib, doc) #name,
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
      NULL};
  return names;
}

/* Whether `word` is one of the space-separated words of `list`. */
static int in_words(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; *p;) {
    while (*p == ' ') p++;
    const char *e = p;
    while (*e && *e != ' ') e++;
    if ((size_t)(e - p) == n && memcmp(p, word, n) == 0) return 1;
    p = e;
  }
  return 0;
}

int kind_takes(int kind, int setting) {
  if (kind < 0 || kind >= KIND__COUNT || setting < 0 || setting >= SET__COUNT) return 0;
  const char *name = setting_table[setting].name;
  if (setting == SET_prefix || setting == SET_bulk || setting == SET_entities) return 1;
  if (in_words(kind_table[kind].required, name)) return 2;
  if (in_words(kind_table[kind].optional, name)) return 1;
  return 0;
}
