/* plan_write.c: serializing a plan, deterministically.
 *
 * Explicit little-endian fields, never a C struct dumped; sections in a
 * fixed order; the SHA-256 of the body in the header.  The same plan always
 * gives the same bytes: nothing here depends on time, addresses or hash
 * order.  The layout is documented in docs/plan-format.md.
 */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "sha256.h"

typedef struct {
  uint8_t *b;
  size_t len, cap;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n) cap *= 2;
    uint8_t *nb = realloc(w->b, cap);
    if (!nb) abort();
    w->b = nb;
    w->cap = cap;
  }
  memcpy(w->b + w->len, p, n);
  w->len += n;
}

static void u8(wbuf *w, unsigned v) {
  uint8_t b = (uint8_t)v;
  put(w, &b, 1);
}
static void u16(wbuf *w, unsigned v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  put(w, b, 2);
}
static void u32(wbuf *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(w, b, 4);
}
static void u64(wbuf *w, uint64_t v) {
  u32(w, (uint32_t)v);
  u32(w, (uint32_t)(v >> 32));
}
static void f64(wbuf *w, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  u64(w, bits);
}
static void idxs(wbuf *w, const uint32_t *v, uint32_t n) {
  u32(w, n);
  for (uint32_t i = 0; i < n; i++) u32(w, v[i]);
}

static void sec_strings(wbuf *w, const plan *p) {
  u32(w, p->nstrings);
  for (uint32_t i = 0; i < p->nstrings; i++) {
    u32(w, p->string_lens[i]);
    put(w, p->strings[i], p->string_lens[i]);
  }
}

static void sec_consts(wbuf *w, const plan *p) {
  u32(w, p->nconsts);
  for (uint32_t i = 0; i < p->nconsts; i++) {
    const plan_const *c = &p->consts[i];
    u8(w, c->kind);
    switch (c->kind) {
      case V_BOOL: case V_INT: case V_DATE: case V_TIME: u64(w, (uint64_t)c->i); break;
      case V_DEC: f64(w, c->d); u32(w, c->str); break;
      case V_STR: u32(w, c->str); break;
      case V_LIST: u32(w, c->first); u32(w, c->count); break;
      default: break;
    }
  }
  idxs(w, p->list_items, p->nlist_items);
}

static void sec_sources(wbuf *w, const plan *p) {
  u32(w, p->nsources);
  for (uint32_t i = 0; i < p->nsources; i++) {
    const plan_source *s = &p->sources[i];
    u32(w, s->name);
    u8(w, s->kind);
    u16(w, s->feeds);
    u32(w, s->nsettings);
    for (uint32_t k = 0; k < s->nsettings; k++) {
      u32(w, s->settings[k].key);
      u8(w, s->settings[k].secret);
      u32(w, s->settings[k].value);
    }
    u32(w, s->nfiles);
    for (uint32_t k = 0; k < s->nfiles; k++) {
      u8(w, s->files[k].entity);
      u32(w, s->files[k].path);
      u32(w, s->files[k].at);
    }
    u8(w, s->has_schools);
    u8(w, s->schools_auto);
    u32(w, s->nschools);
    for (uint32_t k = 0; k < s->nschools; k++) {
      u32(w, s->schools[k].id);
      u32(w, s->schools[k].code);
    }
  }
}

static void sec_units(wbuf *w, const plan *p) {
  u32(w, p->nunits);
  for (uint32_t i = 0; i < p->nunits; i++) {
    const plan_unit *u = &p->units[i];
    u32(w, u->source);
    u8(w, u->entity);
    idxs(w, u->fields, u->nfields);
    u32(w, u->map_block);
    u32(w, u->filter_block);
    u32(w, u->require_block);
    u32(w, u->nrules);
    for (uint32_t k = 0; k < u->nrules; k++) {
      u8(w, u->rules[k].kind);
      u32(w, u->rules[k].loc);
      u32(w, u->rules[k].via);
    }
  }
}

static void sec_blocks(wbuf *w, const plan *p) {
  u32(w, p->nblocks);
  for (uint32_t i = 0; i < p->nblocks; i++) {
    const plan_block *b = &p->blocks[i];
    u8(w, b->kind);
    u32(w, b->unit);
    u32(w, b->len);
    put(w, b->code, b->len);
    uint32_t n = 0;
    for (uint32_t k = 0; k < b->len; k++) n += b->loc_at[k] != PLAN_NONE;
    u32(w, n);
    for (uint32_t k = 0; k < b->len; k++)
      if (b->loc_at[k] != PLAN_NONE) {
        u32(w, k);
        u32(w, b->loc_at[k]);
      }
  }
}

static void sec_rest(wbuf *w, const plan *p, int sec) {
  switch (sec) {
    case SEC_REGEXES:
      u32(w, p->nregexes);
      for (uint32_t i = 0; i < p->nregexes; i++) {
        u32(w, p->regexes[i].pattern);
        u32(w, p->regexes[i].flags);
      }
      break;
    case SEC_ATTRS:
      u32(w, p->nattrs);
      for (uint32_t i = 0; i < p->nattrs; i++) {
        u8(w, p->attrs[i].entity);
        u8(w, p->attrs[i].type);
        u32(w, p->attrs[i].name);
      }
      break;
    case SEC_DOMAINS:
      u32(w, p->ndomains);
      for (uint32_t i = 0; i < p->ndomains; i++) {
        u8(w, p->domains[i].entity);
        u8(w, p->domains[i].manual);
        u32(w, p->domains[i].loc);
        idxs(w, p->domains[i].attrs, p->domains[i].nattrs);
      }
      break;
    case SEC_PRECEDENCE:
      u32(w, p->nprecs);
      for (uint32_t i = 0; i < p->nprecs; i++) {
        u8(w, p->precs[i].entity);
        u32(w, p->precs[i].attr);
        u32(w, p->precs[i].loc);
        idxs(w, p->precs[i].sources, p->precs[i].nsources);
      }
      break;
    case SEC_POLICY:
      u8(w, p->policy.preview);
      u8(w, p->policy.delete_objects);
      u32(w, p->policy.nholds);
      for (uint32_t i = 0; i < p->policy.nholds; i++) {
        const plan_hold *h = &p->policy.holds[i];
        u8(w, h->entity);
        u8(w, h->op);
        u8(w, h->percent);
        f64(w, h->limit);
        u32(w, h->loc);
      }
      break;
    case SEC_SCHEDULE:
      u8(w, p->schedule.freq);
      u8(w, p->schedule.weekday);
      u16(w, p->schedule.time);
      u64(w, (uint64_t)p->schedule.until);
      break;
    case SEC_TESTS:
      u32(w, p->ntests);
      for (uint32_t i = 0; i < p->ntests; i++) {
        const plan_test *t = &p->tests[i];
        u32(w, t->name);
        u32(w, t->unit);
        u32(w, t->loc);
        u32(w, t->ngiven);
        for (uint32_t k = 0; k < t->ngiven; k++) {
          u32(w, t->given[k].path);
          u32(w, t->given[k].value);
        }
        u32(w, t->nexpects);
        for (uint32_t k = 0; k < t->nexpects; k++) {
          u8(w, t->expects[k].kind);
          u32(w, t->expects[k].block);
          u32(w, t->expects[k].loc);
        }
      }
      break;
    case SEC_LOCS:
      u32(w, p->nlocs);
      for (uint32_t i = 0; i < p->nlocs; i++) {
        u32(w, p->locs[i].file);
        u32(w, p->locs[i].line);
        u32(w, p->locs[i].col);
      }
      break;
    case SEC_INPUTS:
      u32(w, p->ninputs);
      for (uint32_t i = 0; i < p->ninputs; i++) {
        u32(w, p->inputs[i].name);
        put(w, p->inputs[i].sha256, 32);
      }
      put(w, p->schema_hash, 32);
      break;
    case SEC_CALLS:
      idxs(w, p->calls, p->ncalls);
      break;
    default: break;
  }
}

uint8_t *plan_write(const plan *p, size_t *len) {
  enum { NSEC = SEC__END - 1 };
  wbuf data[NSEC];
  memset(data, 0, sizeof data);
  for (int s = 1; s < SEC__END; s++) {
    wbuf *w = &data[s - 1];
    switch (s) {
      case SEC_STRINGS: sec_strings(w, p); break;
      case SEC_CONSTS: sec_consts(w, p); break;
      case SEC_SOURCES: sec_sources(w, p); break;
      case SEC_UNITS: sec_units(w, p); break;
      case SEC_BLOCKS: sec_blocks(w, p); break;
      default: sec_rest(w, p, s); break;
    }
  }
  /* Body: the section table, then each section's bytes. */
  wbuf body = {0};
  uint32_t off = NSEC * 12;
  for (int s = 1; s < SEC__END; s++) {
    u16(&body, (unsigned)s);
    u16(&body, 0);
    u32(&body, off);
    u32(&body, (uint32_t)data[s - 1].len);
    off += (uint32_t)data[s - 1].len;
  }
  for (int s = 0; s < NSEC; s++) {
    if (data[s].len) put(&body, data[s].b, data[s].len);
    free(data[s].b);
  }
  wbuf out = {0};
  put(&out, PLAN_MAGIC, PLAN_MAGIC_LEN);
  u16(&out, PLAN_MAJOR);
  u16(&out, PLAN_MINOR);
  u16(&out, NSEC);
  u16(&out, 0);
  u32(&out, (uint32_t)body.len);
  uint8_t zero[32] = {0};
  put(&out, zero, 32);
  put(&out, body.b, body.len);
  free(body.b);
  plan_checksum(out.b, out.len, out.b + 24);
  *len = out.len;
  return out.b;
}
