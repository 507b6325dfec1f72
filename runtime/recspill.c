/* recspill.c: records in a temporary file, and the fingerprint index (see
 * recspill.h).
 *
 * A body is: the content hash (8 bytes, first, so that it can be read
 * alone), where (length, bytes, NUL), then each attribute as a kind byte
 * and its payload: 8 bytes for booleans, integers, dates, times and
 * decimals; length, bytes and NUL for strings (so a string read back is
 * NUL-terminated too); count and the items for lists.  A length or count
 * is a varint (seven bits a byte, low first: one byte below 128), not four
 * bytes: a record is mostly short strings, and the three bytes each saves
 * made a 100,000-student spill 13% smaller (160 -> 139 MB), bytes written
 * into fresh pages of the file cache.  Native byte order for the rest:
 * the file lives as long as the run.
 *
 * The bodies are written on a second thread (bgwrite.h), as a run file's
 * operations are: at a million students they are more than a gigabyte,
 * and copying them into fresh pages of the kernel's file cache was about
 * 2.6 s of the map phase's 8 s on the core that maps, while the other core
 * had little to do.  A read first waits for the writes under way.
 */
#include "recspill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "bgwrite.h"
#include "scratch.h"

/* Phases read the records mostly in the order they were written: a read
 * fetches a window this large, and the next records come from memory. */
#define WINDOW (256u << 10)

struct recspill {
  FILE *f;
  bgwriter *w;     /* writes the bodies to f; NULL: through f's stdio buffer */
  char *iobuf;     /* that buffer, only then (scratch_file) */
  uint64_t size;   /* bytes written */
  int dirty, failed;
  uint8_t *buf;    /* one body being encoded, when not in the writer's buffer */
  size_t cap;
  spill_window win; /* spill_get's */
};

recspill *spill_new(void) {
  recspill *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->f = scratch_file("records", NULL);
  if (s->f && !(s->w = bgw_open(fileno(s->f), 0))) { /* out of memory for its buffers: write through stdio */
    fclose(s->f);
    s->f = scratch_file("records", &s->iobuf);
  }
  if (!s->f) {
    free(s);
    return NULL;
  }
  return s;
}

void spill_free(recspill *s) {
  if (!s) return;
  bgw_close(s->w);
  fclose(s->f);
  free(s->iobuf); /* after fclose, which flushes through it */
  free(s->buf);
  spill_window_free(&s->win);
  free(s);
}

int spill_failed(recspill *s) {
  if (s->w && !s->failed && !bgw_sync(s->w)) s->failed = 1;
  return s->failed;
}

/* The bytes of n as a varint. */
static size_t varint_size(uint32_t n) { return n < 1u << 7 ? 1 : n < 1u << 14 ? 2 : n < 1u << 21 ? 3 : n < 1u << 28 ? 4 : 5; }

static uint8_t *put_varint(uint8_t *p, uint32_t n) {
  for (; n >= 0x80; n >>= 7) *p++ = (uint8_t)(n | 0x80);
  *p++ = (uint8_t)n;
  return p;
}

/* A value's encoded size, and its encoding at p (returning the end). */
static size_t value_size(value v) {
  switch (v.kind) {
    case V_BOOL: case V_INT: case V_DATE: case V_TIME: case V_DEC: return 1 + 8;
    case V_STR: return 1 + varint_size(v.len) + (size_t)v.len + 1;
    case V_LIST: {
      size_t n = 1 + varint_size(v.len);
      for (uint32_t i = 0; i < v.len; i++) n += value_size(v.u.items[i]);
      return n;
    }
    default: return 1; /* V_NULL (a regex is never an attribute) */
  }
}

static uint8_t *put_text(uint8_t *p, const char *t, uint32_t n) {
  p = put_varint(p, n);
  memcpy(p, t, n);
  p[n] = 0;
  return p + n + 1;
}

static uint8_t *put_value(uint8_t *p, value v) {
  *p++ = (uint8_t)v.kind;
  switch (v.kind) {
    case V_BOOL: case V_INT: case V_DATE: case V_TIME: memcpy(p, &v.u.i, 8); return p + 8;
    case V_DEC: memcpy(p, &v.u.d, 8); return p + 8;
    case V_STR: return put_text(p, v.u.s, v.len);
    case V_LIST:
      p = put_varint(p, v.len);
      for (uint32_t i = 0; i < v.len; i++) p = put_value(p, v.u.items[i]);
      return p;
    default: return p;
  }
}

/* The body is sized first and then encoded in one go, straight into the
 * writer's buffer when it fits there: piece by piece through a growing
 * buffer, and then copied, it was a third of mapping a record. */
int spill_put(recspill *s, const char *where, uint64_t hash, const value *attrs, int nattrs, uint64_t *off, uint32_t *len) {
  size_t wl = strlen(where), n = 8 + varint_size((uint32_t)wl) + wl + 1;
  for (int i = 0; i < nattrs; i++) n += value_size(attrs[i]);
  if (n > UINT32_MAX) { /* a body's length is kept in 32 bits */
    s->failed = 1;
    return 0;
  }
  uint8_t *b = s->w ? bgw_reserve(s->w, n) : NULL;
  uint8_t *at = b;
  if (!b) { /* larger than the writer's buffer, a failed writer, or none */
    if (n > s->cap) {
      uint8_t *more = realloc(s->buf, n);
      if (!more) {
        s->failed = 1;
        return 0;
      }
      s->buf = more, s->cap = n;
    }
    at = s->buf;
  }
  uint8_t *p = at;
  memcpy(p, &hash, 8);
  p = put_text(p + 8, where, (uint32_t)wl);
  for (int i = 0; i < nattrs; i++) p = put_value(p, attrs[i]);
  *off = s->size;
  *len = (uint32_t)n;
  if (b) bgw_wrote(s->w, n);
  else if (s->w ? !bgw_write(s->w, s->buf, n) : fwrite(s->buf, 1, n, s->f) != n) s->failed = 1;
  s->size += n;
  s->dirty = 1;
  return !s->failed;
}

typedef struct {
  const uint8_t *p, *end;
  arena *a;
} reader;

static int get_bytes(reader *r, void *out, size_t n) {
  if ((size_t)(r->end - r->p) < n) return 0;
  memcpy(out, r->p, n);
  r->p += n;
  return 1;
}

/* A varint of at most 32 bits; 0 when it runs past the body or over 32 bits. */
static int get_varint(reader *r, uint32_t *n) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (r->p == r->end) return 0;
    uint8_t b = *r->p++;
    if (shift == 28 && b > 0x0f) return 0;
    v |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *n = v;
      return 1;
    }
  }
  return 0;
}

static int get_text(reader *r, const char **t, uint32_t *n) {
  if (!get_varint(r, n) || (size_t)(r->end - r->p) < (size_t)*n + 1) return 0;
  *t = (const char *)r->p;
  r->p += *n + 1;
  return 1;
}

static int get_value(reader *r, value *v) {
  uint8_t kind;
  if (!get_bytes(r, &kind, 1)) return 0;
  *v = v_null();
  v->kind = kind;
  switch (kind) {
    case V_BOOL: case V_INT: case V_DATE: case V_TIME: return get_bytes(r, &v->u.i, 8);
    case V_DEC: return get_bytes(r, &v->u.d, 8);
    case V_STR: return get_text(r, &v->u.s, &v->len);
    case V_LIST: {
      if (!get_varint(r, &v->len) || v->len > (size_t)(r->end - r->p)) return 0; /* each item is a byte at least */
      value *items = arena_alloc(r->a, ((size_t)v->len + 1) * sizeof *items);
      for (uint32_t i = 0; i < v->len; i++)
        if (!get_value(r, &items[i])) return 0;
      v->u.items = items;
      return 1;
    }
    default: return kind == V_NULL;
  }
}

/* Waits for the writes under way: reads may then come from any thread. */
int spill_settle(recspill *s) {
  if (s->dirty) {
    if (s->w ? !bgw_sync(s->w) : fflush(s->f) != 0) return 0;
    s->dirty = 0;
    s->win.len = 0; /* the file grew: the window may be short */
  }
  return 1;
}

/* Copies bytes [off, off + len) of a settled spill into b, through w. */
static int read_at(const recspill *s, spill_window *w, uint64_t off, uint32_t len, uint8_t *b) {
  if (s->dirty) return 0;
  if (len > WINDOW) return pread(fileno(s->f), b, len, (off_t)off) == (ssize_t)len;
  if (off < w->off || off + len > w->off + w->len) {
    if (!w->buf && !(w->buf = malloc(WINDOW))) return 0;
    ssize_t got = pread(fileno(s->f), w->buf, WINDOW, (off_t)off);
    if (got < (ssize_t)len) return 0;
    w->off = off;
    w->len = (size_t)got;
  }
  memcpy(b, w->buf + (off - w->off), len);
  return 1;
}

int spill_get_in(const recspill *s, spill_window *w, uint64_t off, uint32_t len, arena *a, const char **where, uint64_t *hash,
                 value *attrs, int nattrs) {
  uint8_t *b = arena_alloc(a, (size_t)len + 1);
  if (!read_at(s, w, off, len, b)) return 0;
  reader r = {b, b + len, a};
  uint32_t n;
  if (!get_bytes(&r, hash, sizeof *hash) || !get_text(&r, where, &n)) return 0;
  for (int i = 0; i < nattrs; i++)
    if (!get_value(&r, &attrs[i])) return 0;
  return r.p == r.end; /* the body is exactly what was put */
}

int spill_get(recspill *s, uint64_t off, uint32_t len, arena *a, const char **where, uint64_t *hash, value *attrs, int nattrs) {
  return spill_settle(s) && spill_get_in(s, &s->win, off, len, a, where, hash, attrs, nattrs);
}

void spill_window_free(spill_window *w) {
  free(w->buf);
  *w = (spill_window){0};
}

int spill_hash(recspill *s, uint64_t off, uint32_t len, uint64_t *hash) {
  uint8_t b[sizeof *hash];
  if (len < sizeof b || !spill_settle(s) || !read_at(s, &s->win, off, sizeof b, b)) return 0;
  memcpy(hash, b, sizeof b);
  return 1;
}

/* ---- fpmap ----------------------------------------------------------------- */

uint64_t fp_hash(const void *bytes, size_t n, uint64_t seed) {
  const uint8_t *p = bytes;
  uint64_t h = 1469598103934665603ull ^ seed;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  h ^= h >> 33; /* FNV alone leaves the low bits (the slot) weakly mixed */
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h ? h : 1;
}

/* The tag kept for a hash (never 0: it marks an empty slot), and the slot
 * a tag's search starts at (from the tag alone, so that growing can place
 * the entries again). */
static uint32_t fp_tag(uint64_t h) {
  uint32_t t = (uint32_t)(h >> 32);
  return t ? t : 1;
}

static void put_tag(fpmap *m, uint32_t t, uint32_t v) {
  size_t i = (size_t)t & (m->cap - 1);
  while (m->h[i]) i = (i + 1) & (m->cap - 1);
  m->h[i] = t;
  m->v[i] = v;
  m->n++;
}

static void fp_grow(fpmap *m) {
  fpmap old = *m;
  m->cap = old.cap ? old.cap * 2 : 1024;
  m->h = calloc(m->cap, sizeof *m->h);
  m->v = malloc(m->cap * sizeof *m->v);
  m->n = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.h[i]) put_tag(m, old.h[i], old.v[i]);
  free(old.h);
  free(old.v);
}

/* Sized once for n entries when the count is known: growing doubles the
 * table while the old one is still held (300 MB at 10 million records). */
void fp_reserve(fpmap *m, size_t n) {
  if (m->cap || !n) return;
  size_t cap = 1024;
  while ((n + 1) * 4 > cap * 3) cap *= 2;
  m->cap = cap;
  m->h = calloc(cap, sizeof *m->h);
  m->v = malloc(cap * sizeof *m->v);
}

/* Grows past three quarters full: every lookup's user takes the candidates
 * in any order, and at 10 million records a half-full table would be 400 MB. */
void fp_put(fpmap *m, uint64_t h, uint32_t v) {
  if ((m->n + 1) * 4 > m->cap * 3) fp_grow(m);
  put_tag(m, fp_tag(h), v);
}

int fp_next(const fpmap *m, uint64_t h, size_t *pos, uint32_t *v) {
  if (!m->cap) return 0;
  uint32_t t = fp_tag(h);
  size_t i = *pos ? *pos - 1 : (size_t)t & (m->cap - 1);
  while (m->h[i]) {
    size_t at = i;
    i = (i + 1) & (m->cap - 1);
    if (m->h[at] == t) {
      *v = m->v[at];
      *pos = i + 1;
      return 1;
    }
  }
  return 0;
}

int fp_first(const fpmap *m, uint64_t h, uint32_t *v) {
  size_t pos = 0;
  return fp_next(m, h, &pos, v);
}

void fp_prefetch(const fpmap *m, uint64_t h) {
  if (!m->cap) return;
  size_t i = (size_t)fp_tag(h) & (m->cap - 1);
  __builtin_prefetch(&m->h[i]);
  __builtin_prefetch(&m->v[i]);
}

void fp_free(fpmap *m) {
  free(m->h);
  free(m->v);
  memset(m, 0, sizeof *m);
}
