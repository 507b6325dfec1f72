/* plan_read.c: loading a plan file without trusting a byte of it.
 *
 * Order of checks: size and magic; the format version (a newer major is
 * refused naming both versions); the body length and its SHA-256; the
 * section table (each section inside the body, none twice); then each
 * section with every read bounds-checked and every count bounded.  Only
 * then does plan_verify() check the code and the cross references.  A
 * failure anywhere gives "bad plan: REASON (offset N)" and frees whatever
 * was built.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "sha256.h"

typedef struct {
  const uint8_t *b;
  size_t end;   /* one past the last readable byte of the current section */
  size_t pos;
  jmp_buf fail;
  char *err;
  size_t errsize;
} reader;

static void rd_fail(reader *r, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void rd_fail(reader *r, const char *fmt, ...) {
  char why[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(r->err, r->errsize, "bad plan: %s (offset %zu)", why, r->pos);
  longjmp(r->fail, 1);
}

static void need(reader *r, size_t n, const char *what) {
  if (n > r->end - r->pos) rd_fail(r, "truncated %s", what);
}

static unsigned g8(reader *r) {
  need(r, 1, "field");
  return r->b[r->pos++];
}
static unsigned g16(reader *r) {
  need(r, 2, "field");
  unsigned v = (unsigned)r->b[r->pos] | (unsigned)r->b[r->pos + 1] << 8;
  r->pos += 2;
  return v;
}
static uint32_t g32(reader *r) {
  need(r, 4, "field");
  const uint8_t *p = r->b + r->pos;
  r->pos += 4;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t g64(reader *r) {
  uint64_t lo = g32(r);
  return lo | (uint64_t)g32(r) << 32;
}
static double gf64(reader *r) {
  uint64_t bits = g64(r);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

/* A count of items of at least `min_size` bytes each: bounded by the limit
 * and by the bytes left, so a forged count cannot make us allocate much. */
static uint32_t gcount(reader *r, size_t min_size, const char *what) {
  size_t at = r->pos;
  uint32_t n = g32(r);
  if (n > PLAN_MAX_ITEMS || (min_size && n > (r->end - r->pos) / min_size)) {
    r->pos = at;
    rd_fail(r, "%s count %u is too large", what, n);
  }
  return n;
}

static void *alloc(reader *r, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) rd_fail(r, "out of memory");
  return p;
}

static uint32_t *gidxs(reader *r, uint32_t *n, const char *what) {
  *n = 0;
  uint32_t count = gcount(r, 4, what);
  uint32_t *v = alloc(r, count, sizeof *v);
  for (uint32_t i = 0; i < count; i++) v[i] = g32(r);
  *n = count;
  return v;
}

static void rd_strings(reader *r, plan *p) {
  uint32_t n = gcount(r, 4, "string");
  p->strings = alloc(r, n, sizeof *p->strings);
  p->string_lens = alloc(r, n, sizeof *p->string_lens);
  p->nstrings = n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len = g32(r);
    if (len > PLAN_MAX_STRING_LEN) rd_fail(r, "string %u is too long", i);
    need(r, len, "string");
    p->strings[i] = alloc(r, (size_t)len + 1, 1);
    memcpy(p->strings[i], r->b + r->pos, len);
    p->string_lens[i] = len;
    r->pos += len;
  }
}

static void rd_consts(reader *r, plan *p) {
  uint32_t n = gcount(r, 1, "constant");
  p->consts = alloc(r, n, sizeof *p->consts);
  p->nconsts = n;
  for (uint32_t i = 0; i < n; i++) {
    plan_const *c = &p->consts[i];
    c->kind = (uint8_t)g8(r);
    switch (c->kind) {
      case V_NULL: break;
      case V_BOOL: case V_INT: case V_DATE: case V_TIME: c->i = (int64_t)g64(r); break;
      case V_DEC: c->d = gf64(r); c->str = g32(r); break;
      case V_STR: c->str = g32(r); break;
      case V_LIST: c->first = g32(r); c->count = g32(r); break;
      default: r->pos--; rd_fail(r, "constant %u has unknown kind %u", i, c->kind);
    }
  }
  p->list_items = gidxs(r, &p->nlist_items, "list item");
}

static void rd_sources(reader *r, plan *p) {
  uint32_t n = gcount(r, 16, "source");
  p->sources = alloc(r, n, sizeof *p->sources);
  p->nsources = n;
  for (uint32_t i = 0; i < n; i++) {
    plan_source *s = &p->sources[i];
    s->name = g32(r);
    s->kind = (uint8_t)g8(r);
    s->feeds = (uint16_t)g16(r);
    uint32_t ns = gcount(r, 9, "setting");
    s->settings = alloc(r, ns, sizeof *s->settings);
    s->nsettings = ns;
    for (uint32_t k = 0; k < ns; k++) {
      s->settings[k].key = g32(r);
      s->settings[k].secret = (uint8_t)g8(r);
      s->settings[k].value = g32(r);
    }
    uint32_t nf = gcount(r, 9, "file");
    s->files = alloc(r, nf, sizeof *s->files);
    s->nfiles = nf;
    for (uint32_t k = 0; k < nf; k++) {
      s->files[k].entity = (uint8_t)g8(r);
      s->files[k].path = g32(r);
      s->files[k].at = g32(r);
    }
    s->has_schools = (uint8_t)g8(r);
    s->schools_auto = (uint8_t)g8(r);
    uint32_t nsc = gcount(r, 8, "school");
    s->schools = alloc(r, nsc, sizeof *s->schools);
    s->nschools = nsc;
    for (uint32_t k = 0; k < nsc; k++) {
      s->schools[k].id = g32(r);
      s->schools[k].code = g32(r);
    }
  }
}

static void rd_units(reader *r, plan *p) {
  uint32_t n = gcount(r, 25, "unit");
  p->units = alloc(r, n, sizeof *p->units);
  p->nunits = n;
  for (uint32_t i = 0; i < n; i++) {
    plan_unit *u = &p->units[i];
    u->source = g32(r);
    u->entity = (uint8_t)g8(r);
    u->fields = gidxs(r, &u->nfields, "field");
    u->map_block = g32(r);
    u->filter_block = g32(r);
    u->require_block = g32(r);
    uint32_t nr = gcount(r, 9, "rule");
    u->rules = alloc(r, nr, sizeof *u->rules);
    u->nrules = nr;
    for (uint32_t k = 0; k < nr; k++) {
      u->rules[k].kind = (uint8_t)g8(r);
      u->rules[k].loc = g32(r);
      u->rules[k].via = g32(r);
    }
  }
}

static void rd_blocks(reader *r, plan *p) {
  uint32_t n = gcount(r, 13, "block");
  p->blocks = alloc(r, n, sizeof *p->blocks);
  p->code_offset = alloc(r, n, sizeof *p->code_offset);
  p->nblocks = n;
  for (uint32_t i = 0; i < n; i++) {
    plan_block *b = &p->blocks[i];
    b->kind = (uint8_t)g8(r);
    b->unit = g32(r);
    uint32_t len = g32(r);
    if (len > PLAN_MAX_BLOCK_LEN) rd_fail(r, "block %u is too long (%u bytes)", i, len);
    need(r, len, "code");
    b->code = alloc(r, len, 1);
    b->loc_at = alloc(r, len, sizeof *b->loc_at);
    b->len = len;
    memcpy(b->code, r->b + r->pos, len);
    p->code_offset[i] = (uint32_t)r->pos;
    r->pos += len;
    for (uint32_t k = 0; k < len; k++) b->loc_at[k] = PLAN_NONE;
    uint32_t nl = gcount(r, 8, "debug entry");
    for (uint32_t k = 0; k < nl; k++) {
      uint32_t off = g32(r), loc = g32(r);
      if (off >= len) rd_fail(r, "debug entry %u points outside block %u", k, i);
      b->loc_at[off] = loc;
    }
  }
}

static void rd_small(reader *r, plan *p, int sec) {
  uint32_t n;
  switch (sec) {
    case SEC_REGEXES:
      n = gcount(r, 8, "regex");
      p->regexes = alloc(r, n, sizeof *p->regexes);
      p->nregexes = n;
      for (uint32_t i = 0; i < n; i++) p->regexes[i].pattern = g32(r), p->regexes[i].flags = g32(r);
      break;
    case SEC_ATTRS:
      n = gcount(r, 6, "attribute");
      p->attrs = alloc(r, n, sizeof *p->attrs);
      p->nattrs = n;
      for (uint32_t i = 0; i < n; i++) {
        p->attrs[i].entity = (uint8_t)g8(r);
        p->attrs[i].type = (uint8_t)g8(r);
        p->attrs[i].name = g32(r);
      }
      break;
    case SEC_DOMAINS:
      n = gcount(r, 10, "domain");
      p->domains = alloc(r, n, sizeof *p->domains);
      p->ndomains = n;
      for (uint32_t i = 0; i < n; i++) {
        p->domains[i].entity = (uint8_t)g8(r);
        p->domains[i].manual = (uint8_t)g8(r);
        p->domains[i].loc = g32(r);
        p->domains[i].attrs = gidxs(r, &p->domains[i].nattrs, "domain attribute");
      }
      break;
    case SEC_PRECEDENCE:
      n = gcount(r, 13, "precedence rule");
      p->precs = alloc(r, n, sizeof *p->precs);
      p->nprecs = n;
      for (uint32_t i = 0; i < n; i++) {
        p->precs[i].entity = (uint8_t)g8(r);
        p->precs[i].attr = g32(r);
        p->precs[i].loc = g32(r);
        p->precs[i].sources = gidxs(r, &p->precs[i].nsources, "precedence source");
      }
      break;
    case SEC_POLICY:
      p->policy.preview = (uint8_t)g8(r);
      p->policy.delete_objects = (uint8_t)g8(r);
      n = gcount(r, 15, "hold");
      p->policy.holds = alloc(r, n, sizeof *p->policy.holds);
      p->policy.nholds = n;
      for (uint32_t i = 0; i < n; i++) {
        plan_hold *h = &p->policy.holds[i];
        h->entity = (uint8_t)g8(r);
        h->op = (uint8_t)g8(r);
        h->percent = (uint8_t)g8(r);
        h->limit = gf64(r);
        h->loc = g32(r);
      }
      break;
    case SEC_SCHEDULE:
      p->schedule.freq = (uint8_t)g8(r);
      p->schedule.weekday = (uint8_t)g8(r);
      p->schedule.time = (uint16_t)g16(r);
      p->schedule.until = (int64_t)g64(r);
      break;
    case SEC_TESTS:
      n = gcount(r, 20, "test");
      p->tests = alloc(r, n, sizeof *p->tests);
      p->ntests = n;
      for (uint32_t i = 0; i < n; i++) {
        plan_test *t = &p->tests[i];
        t->name = g32(r);
        t->unit = g32(r);
        t->loc = g32(r);
        uint32_t ng = gcount(r, 8, "given field");
        t->given = alloc(r, ng, sizeof *t->given);
        t->ngiven = ng;
        for (uint32_t k = 0; k < ng; k++) t->given[k].path = g32(r), t->given[k].value = g32(r);
        uint32_t ne = gcount(r, 9, "expectation");
        t->expects = alloc(r, ne, sizeof *t->expects);
        t->nexpects = ne;
        for (uint32_t k = 0; k < ne; k++) {
          t->expects[k].kind = (uint8_t)g8(r);
          t->expects[k].block = g32(r);
          t->expects[k].loc = g32(r);
        }
      }
      break;
    case SEC_LOCS:
      n = gcount(r, 12, "location");
      p->locs = alloc(r, n, sizeof *p->locs);
      p->nlocs = n;
      for (uint32_t i = 0; i < n; i++) p->locs[i].file = g32(r), p->locs[i].line = g32(r), p->locs[i].col = g32(r);
      break;
    case SEC_INPUTS:
      n = gcount(r, 36, "input");
      p->inputs = alloc(r, n, sizeof *p->inputs);
      p->ninputs = n;
      for (uint32_t i = 0; i < n; i++) {
        p->inputs[i].name = g32(r);
        need(r, 32, "hash");
        memcpy(p->inputs[i].sha256, r->b + r->pos, 32);
        r->pos += 32;
      }
      need(r, 32, "schema hash");
      memcpy(p->schema_hash, r->b + r->pos, 32);
      r->pos += 32;
      break;
    case SEC_CALLS:
      p->calls = gidxs(r, &p->ncalls, "call");
      break;
    default: break;
  }
}

static void rd_section(reader *r, plan *p, int sec) {
  switch (sec) {
    case SEC_STRINGS: rd_strings(r, p); break;
    case SEC_CONSTS: rd_consts(r, p); break;
    case SEC_SOURCES: rd_sources(r, p); break;
    case SEC_UNITS: rd_units(r, p); break;
    case SEC_BLOCKS: rd_blocks(r, p); break;
    default: rd_small(r, p, sec); break;
  }
  if (r->pos != r->end) rd_fail(r, "section %d has %zu bytes left over", sec, r->end - r->pos);
}

static void rd_header(reader *r, size_t len, size_t *body, size_t *body_len, uint32_t *nsec) {
  if (len < PLAN_MAGIC_LEN || memcmp(r->b, PLAN_MAGIC, PLAN_MAGIC_LEN) != 0) {
    if (len >= 10 && memcmp(r->b + 1, "SYNCPLAN", 8) == 0)
      rd_fail(r, "the file was mangled by a text-mode transfer (line ends or ^Z changed)");
    rd_fail(r, "not a plan file (no plan signature)");
  }
  r->pos = PLAN_MAGIC_LEN;
  r->end = len;
  unsigned major = g16(r), minor = g16(r);
  if (major != PLAN_MAJOR) {
    snprintf(r->err, r->errsize,
             "plan format %u.%u is %s than this syncvm's %u.%u: %s", major, minor,
             major > PLAN_MAJOR ? "newer" : "older", PLAN_MAJOR, PLAN_MINOR,
             major > PLAN_MAJOR ? "upgrade syncvm" : "rebuild the plan with this syncc");
    longjmp(r->fail, 1);
  }
  *nsec = g16(r);
  g16(r);
  uint32_t blen = g32(r);
  need(r, 32, "header");
  const uint8_t *want = r->b + r->pos;
  r->pos += 32;
  if (r->pos != PLAN_HEADER_LEN) rd_fail(r, "bad header size");
  if (blen != len - PLAN_HEADER_LEN) rd_fail(r, "the body should be %u bytes but is %zu", blen, len - PLAN_HEADER_LEN);
  uint8_t got[32];
  plan_checksum(r->b, len, got);
  if (memcmp(got, want, 32) != 0) {
    r->pos = PLAN_MAGIC_LEN + 12;
    rd_fail(r, "checksum mismatch: the file is damaged");
  }
  *body = PLAN_HEADER_LEN;
  *body_len = blen;
}

plan *plan_read(const uint8_t *bytes, size_t len, char *err, size_t errsize) {
  reader r;
  memset(&r, 0, sizeof r);
  r.b = bytes, r.end = len, r.err = err, r.errsize = errsize;
  plan *volatile p = NULL;
  if (setjmp(r.fail)) {
    plan_free(p);
    return NULL;
  }
  if (len > PLAN_MAX_BYTES) rd_fail(&r, "the file is larger than %u MB", PLAN_MAX_BYTES >> 20);
  size_t body, body_len;
  uint32_t nsec;
  rd_header(&r, len, &body, &body_len, &nsec);
  p = alloc(&r, 1, sizeof *p);
  p->major = PLAN_MAJOR;
  p->minor = PLAN_MINOR;
  if (nsec > 64) rd_fail(&r, "too many sections (%u)", nsec);
  int seen[SEC__END] = {0};
  size_t table = body;
  for (uint32_t i = 0; i < nsec; i++) {
    r.pos = table + (size_t)i * 12;
    r.end = body + body_len;
    unsigned id = g16(&r);
    g16(&r);
    uint32_t off = g32(&r), slen = g32(&r);
    if ((size_t)off > body_len || (size_t)slen > body_len - off) {
      r.pos -= 8;
      rd_fail(&r, "section %u lies outside the file", id);
    }
    if (id == 0 || id >= SEC__END) continue; /* a section from a newer minor version: skip it */
    if (seen[id]++) rd_fail(&r, "section %u appears twice", id);
    r.pos = body + off;
    r.end = body + off + slen;
    rd_section(&r, p, (int)id);
  }
  for (int s = 1; s < SEC__END; s++)
    if (!seen[s]) {
      r.pos = table;
      rd_fail(&r, "section %d is missing", s);
    }
  if (!plan_verify(p, err, errsize)) {
    plan_free(p);
    return NULL;
  }
  return p;
}

const char *plan_str(const plan *p, uint32_t idx) {
  return idx < p->nstrings ? p->strings[idx] : "";
}

void plan_free(plan *p) {
  if (!p) return;
  for (uint32_t i = 0; i < p->nstrings; i++) free(p->strings[i]);
  free(p->strings);
  free(p->string_lens);
  free(p->consts);
  free(p->list_items);
  free(p->regexes);
  plan_free_compiled(p);
  free(p->attrs);
  for (uint32_t i = 0; i < p->nsources; i++) {
    free(p->sources[i].settings);
    free(p->sources[i].files);
    free(p->sources[i].schools);
  }
  free(p->sources);
  for (uint32_t i = 0; i < p->nunits; i++) {
    free(p->units[i].fields);
    free(p->units[i].rules);
  }
  free(p->units);
  for (uint32_t i = 0; i < p->nblocks; i++) {
    free(p->blocks[i].code);
    free(p->blocks[i].loc_at);
  }
  free(p->blocks);
  for (uint32_t i = 0; i < p->ndomains; i++) free(p->domains[i].attrs);
  free(p->domains);
  for (uint32_t i = 0; i < p->nprecs; i++) free(p->precs[i].sources);
  free(p->precs);
  free(p->policy.holds);
  for (uint32_t i = 0; i < p->ntests; i++) {
    free(p->tests[i].given);
    free(p->tests[i].expects);
  }
  free(p->tests);
  free(p->locs);
  free(p->inputs);
  free(p->calls);
  free(p->call_builtin);
  free(p->const_values);
  free(p->list_values);
  free(p->code_offset);
  free(p);
}
