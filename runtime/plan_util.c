/* plan_util.c: small questions about a plan that several parts ask:
 * an entity's attributes, the schema fingerprint, the schools map. */
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "sha256.h"

int plan_entity_attrs(const plan *p, int entity, const char **names, uint8_t *types, int cap) {
  int n = 0;
  if (entity < 0 || entity >= ENT__COUNT) return 0;
  const schema_entity *e = schema_entity_get(entity);
  for (int i = 0; i < e->nattrs; i++, n++)
    if (n < cap) names[n] = e->attrs[i].name, types[n] = (uint8_t)e->attrs[i].type;
  for (uint32_t i = 0; p && i < p->nattrs; i++)
    if (p->attrs[i].entity == entity) {
      if (n < cap) names[n] = plan_str(p, p->attrs[i].name), types[n] = p->attrs[i].type;
      n++;
    }
  return n;
}

void plan_schema_hash(uint8_t out[32]) {
  char buf[8192];
  size_t n = 0;
  for (int e = 0; e < ENT__COUNT; e++) {
    const schema_entity *en = schema_entity_get(e);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s{", en->name);
    for (int i = 0; i < en->nattrs && n < sizeof buf; i++)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "%s:%d:%d;", en->attrs[i].name, en->attrs[i].type, en->attrs[i].ref);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "}");
    if (n >= sizeof buf) n = sizeof buf - 1;
  }
  sha256(buf, n, out);
}

int plan_map_school(const plan *p, uint32_t source, value id, value *code) {
  const plan_source *s = &p->sources[source];
  *code = id;
  if (id.kind == V_NULL || !s->has_schools) return SCHOOL_PASS;
  char buf[64];
  const char *t = id.u.s;
  size_t n = id.len;
  if (id.kind == V_INT) {
    n = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)id.u.i);
    t = buf;
  } else if (id.kind != V_STR) {
    return SCHOOL_UNMAPPED;
  }
  for (uint32_t i = 0; i < s->nschools; i++) {
    const plan_school *e = &s->schools[i];
    if (p->string_lens[e->id] != n || memcmp(p->strings[e->id], t, n) != 0) continue;
    if (e->code == PLAN_NONE) return SCHOOL_SKIPPED;
    *code = v_str(p->strings[e->code], p->string_lens[e->code]);
    return SCHOOL_MAPPED;
  }
  return s->schools_auto ? SCHOOL_PASS : SCHOOL_UNMAPPED;
}

void plan_checksum(const uint8_t *file, size_t len, uint8_t out[32]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, file, len < 24 ? len : 24);
  if (len > PLAN_HEADER_LEN) sha256_update(&c, file + PLAN_HEADER_LEN, len - PLAN_HEADER_LEN);
  sha256_final(&c, out);
}
