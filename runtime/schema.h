/* schema.h: value types and the hub schema (entities and attributes).
 *
 * The facts themselves live in schema.def; this header only expands them.
 * Both syncc (the checker) and syncvm (the store) include it.
 */
#ifndef SYNC_SCHEMA_H
#define SYNC_SCHEMA_H

/* Static types of the language.  TY_ANY is a value whose type is known only
 * at run time (a source field); TY_ERROR marks an expression that already got
 * an error, so that no second error is reported about it. */
#define SYNC_TYPES(X) \
  X(TY_ANY, "any") X(TY_NULL, "null") X(TY_STRING, "string") X(TY_INT, "int") \
  X(TY_DECIMAL, "decimal") X(TY_BOOL, "bool") X(TY_DATE, "date") X(TY_TIME, "time") \
  X(TY_LIST, "list") X(TY_REGEX, "regex") X(TY_ERROR, "error")

typedef enum {
#define X(id, name) id,
  SYNC_TYPES(X)
#undef X
  TY__COUNT
} sync_type;

const char *type_name(sync_type t);

typedef enum {
#define ENTITY(name, doc) ENT_##name,
#define ATTR(e, name, type, ref, doc)
#include "schema.def"
#undef ENTITY
#undef ATTR
  ENT__COUNT
} entity_id;

/* What a reference attribute points at. */
typedef enum {
  REF_NONE = -1,
  REF_SCHOOL = ENT_school,
  REF_STUDENT = ENT_student,
  REF_TEACHER = ENT_teacher,
  REF_COURSE = ENT_course,
  REF_CLASS = ENT_class,
  REF_CALENDAR = ENT_calendar,
  REF_USER = ENT__COUNT /* student, teacher, contact or admin */
} ref_kind;

typedef struct {
  entity_id entity;
  const char *name;
  sync_type type;
  int ref; /* a ref_kind */
  const char *doc;
} schema_attr;

/* The attributes an entity may have, the schema's and those a spec
 * declares together: syncc refuses a spec with more, the plan loader a
 * plan with more, and the compiler, VM and runtime size their per-record
 * arrays by it. */
#define SCHEMA_MAX_ATTRS 128

typedef struct {
  const char *name;
  const char *doc;
  const schema_attr *attrs; /* the entity's attributes, in order */
  int nattrs;
} schema_entity;

/* The entity with id e (0 <= e < ENT__COUNT). */
const schema_entity *schema_entity_get(int e);

/* Lookups return -1 / NULL when the name is unknown. */
int schema_entity_find(const char *name);
const schema_attr *schema_attr_find(int entity, const char *name);

/* NULL-terminated name lists for "did you mean" suggestions.  The returned
 * arrays are static (entities) or owned by the schema module (attributes). */
const char *const *schema_entity_names(void);
const char *const *schema_attr_names(int entity);

#endif
