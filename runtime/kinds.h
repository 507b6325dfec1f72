/* kinds.h: source kinds and their settings, expanded from kinds.def. */
#ifndef SYNC_KINDS_H
#define SYNC_KINDS_H

typedef enum { ST_STRING, ST_BOOL, ST_URL, ST_SECRET, ST_ENTITIES, ST_CHAR, ST_AUTH } setting_type;
enum { KK_FILES = 1, KK_JSON = 2 };

typedef enum {
#define SETTING(name, type, doc) SET_##name,
#define SOURCE_KIND(name, flags, req, opt, lib, doc)
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
  SET__COUNT
} setting_id;

typedef enum {
#define SETTING(name, type, doc)
#define SOURCE_KIND(name, flags, req, opt, lib, doc) KIND_##name,
#include "kinds.def"
#undef SETTING
#undef SOURCE_KIND
  KIND__COUNT
} kind_id;

typedef struct {
  const char *name;
  setting_type type;
  const char *doc;
} setting_info;

typedef struct {
  const char *name;
  int flags;
  const char *required; /* space-separated setting names */
  const char *optional;
  const char *stdlib;   /* library with its default maps, or "" */
  const char *doc;
} kind_info;

extern const setting_info setting_table[SET__COUNT];
extern const kind_info kind_table[KIND__COUNT];

int setting_find(const char *name);
int kind_find(const char *name);
const char *const *setting_names(void);
const char *const *kind_names(void);
/* Whether `setting` is one of the kind's required (2) or optional (1)
 * settings, or a setting every kind takes (1); 0 if it does not apply. */
int kind_takes(int kind, int setting);

#endif
