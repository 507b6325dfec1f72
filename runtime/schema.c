/* schema.c: tables expanded from schema.def, and lookups over them. */
#include "schema.h"

#include <string.h>

const char *type_name(sync_type t) {
  static const char *const names[] = {
#define X(id, name) name,
      SYNC_TYPES(X)
#undef X
  };
  return (unsigned)t < TY__COUNT ? names[t] : "?";
}

static const schema_attr all_attrs[] = {
#define ENTITY(name, doc)
#define ATTR(e, n, t, r, d) {ENT_##e, #n, t, r, d},
#include "schema.def"
#undef ENTITY
#undef ATTR
};

#define NATTRS (int)(sizeof all_attrs / sizeof all_attrs[0])

static int count_attrs(entity_id e) {
  int n = 0;
  for (int i = 0; i < NATTRS; i++) n += all_attrs[i].entity == e;
  return n;
}

static int first_attr(entity_id e) {
  for (int i = 0; i < NATTRS; i++)
    if (all_attrs[i].entity == e) return i;
  return 0;
}

/* Filled lazily: C cannot compute the per-entity offsets at compile time
 * from an X-macro without a second list, and a second list is what we avoid. */
static schema_entity entities[ENT__COUNT] = {
#define ENTITY(name, doc) {#name, doc, NULL, 0},
#define ATTR(e, n, t, r, d)
#include "schema.def"
#undef ENTITY
#undef ATTR
};

static void schema_init(void) {
  static int done;
  if (done) return;
  done = 1;
  schema_entity *es = entities;
  for (int e = 0; e < ENT__COUNT; e++) {
    es[e].attrs = &all_attrs[first_attr((entity_id)e)];
    es[e].nattrs = count_attrs((entity_id)e);
  }
}

const schema_entity *schema_entity_get(int e) {
  schema_init();
  return &entities[e];
}

int schema_entity_find(const char *name) {
  schema_init();
  for (int e = 0; e < ENT__COUNT; e++)
    if (strcmp(entities[e].name, name) == 0) return e;
  return -1;
}

const schema_attr *schema_attr_find(int entity, const char *name) {
  schema_init();
  if (entity < 0 || entity >= ENT__COUNT) return NULL;
  const schema_entity *e = &entities[entity];
  for (int i = 0; i < e->nattrs; i++)
    if (strcmp(e->attrs[i].name, name) == 0) return &e->attrs[i];
  return NULL;
}

const char *const *schema_entity_names(void) {
  static const char *const names[] = {
#define ENTITY(name, doc) #name,
#define ATTR(e, n, t, r, d)
#include "schema.def"
#undef ENTITY
#undef ATTR
      NULL};
  return names;
}

const char *const *schema_attr_names(int entity) {
  static const char *names[ENT__COUNT][32];
  schema_init();
  if (entity < 0 || entity >= ENT__COUNT) return names[0] + 31;
  const schema_entity *e = &entities[entity];
  if (!names[entity][0])
    for (int i = 0; i < e->nattrs && i < 31; i++) names[entity][i] = e->attrs[i].name;
  return names[entity];
}
