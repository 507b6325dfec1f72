/* jspan.c: JSON values read in place (see jspan.h). */
#include "jspan.h"

#include <stdlib.h>
#include <string.h>

#include "jtext.h"

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* What ends a number or literal (SCALAR_END), and what a container's walk
 * must stop at (NESTING), by table: a scalar's end was found with strchr
 * over its separators, which gcc makes a memchr call per character; an
 * apply reads every operation's members so, a million at 100k students. */
enum { SCALAR_END = 1, NESTING = 2 };
static const unsigned char CLASS[256] = {
    [','] = SCALAR_END, [' '] = SCALAR_END, ['\t'] = SCALAR_END, ['\r'] = SCALAR_END, ['\n'] = SCALAR_END,
    [']'] = SCALAR_END | NESTING, ['}'] = SCALAR_END | NESTING, ['['] = NESTING, ['{'] = NESTING, ['"'] = NESTING,
};

/* The end of the value starting at p (no leading space), or NULL. */
static const char *skip_value(const char *p, const char *end) {
  if (p >= end) return NULL;
  if (*p == '"') return skip_string(p, end);
  if (*p != '{' && *p != '[') {
    while (p < end && !(CLASS[(unsigned char)*p] & SCALAR_END)) p++;
    return p;
  }
  int depth = 0;
  while (p < end) {
    while (p < end && !(CLASS[(unsigned char)*p] & NESTING)) p++;
    if (p == end) break;
    if (*p == '"') {
      if (!(p = skip_string(p, end))) return NULL;
      continue;
    }
    if (*p == '{' || *p == '[') depth++;
    else if (--depth == 0) return p + 1;
    p++;
  }
  return NULL;
}

int jspan_type(jspan v) {
  if (!v.p || !v.n) return JS_ABSENT;
  switch (v.p[0]) {
    case '{': return JS_OBJECT;
    case '[': return JS_ARRAY;
    case '"': return JS_STRING;
    case 't': return JS_TRUE;
    case 'f': return JS_FALSE;
    case 'n': return JS_NULL;
  }
  for (size_t i = 0; i < v.n; i++)
    if (v.p[i] == '.' || v.p[i] == 'e' || v.p[i] == 'E') return JS_REAL;
  return JS_INTEGER;
}

/* The object that starts at p (a '{'), its members into out (up to max;
 * *n how many): the end of the object, found in the same walk, or NULL. */
static const char *object_at(const char *p, const char *end, jmember *out, size_t max, size_t *n) {
  *n = 0;
  for (p = skip_ws(p + 1, end); p < end;) {
    if (*p == '}') return p + 1;
    const char *ke = *p == '"' ? skip_string(p, end) : NULL;
    if (!ke) return NULL;
    jspan k = {p, (size_t)(ke - p)};
    p = skip_ws(ke, end);
    if (p >= end || *p != ':') return NULL;
    p = skip_ws(p + 1, end);
    const char *ve = skip_value(p, end);
    if (!ve || ve == p) return NULL;
    if (*n < max) out[*n].key = k, out[*n].val = (jspan){p, (size_t)(ve - p)}, ++*n;
    p = skip_ws(ve, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
    else if (p < end && *p != '}') return NULL;
  }
  return NULL;
}

/* Members and elements alike: a container's items, keys for an object.
 * The object member named `inner` (a quoted key; NULL: none) has its own
 * members put in inner_out (*ninner how many) in the same walk. */
static size_t items(jspan v, int object, jmember *out, size_t max, const char *inner, jmember *inner_out, size_t inner_max,
                    size_t *ninner) {
  const char *p = v.p + 1, *end = v.p + v.n - 1;
  size_t n = 0, inner_n = inner ? strlen(inner) : 0;
  int inner_done = 0;
  if (inner) *ninner = 0;
  for (p = skip_ws(p, end); p < end && n < max; n++) {
    jspan k = {NULL, 0};
    if (object) {
      const char *ke = *p == '"' ? skip_string(p, end) : NULL;
      if (!ke) return n;
      k = (jspan){p, (size_t)(ke - p)};
      p = skip_ws(ke, end);
      if (p >= end || *p != ':') return n;
      p = skip_ws(p + 1, end);
    }
    const char *ve = NULL;
    if (inner && !inner_done && k.n == inner_n + 2 && !memcmp(k.p + 1, inner, inner_n)) { /* the first of that key */
      inner_done = 1;
      if (*p == '{') ve = object_at(p, end, inner_out, inner_max, ninner);
      if (!ve) { /* not an object, or one object_at cannot take: as jspan_members would split it */
        ve = skip_value(p, end);
        *ninner = ve ? jspan_members((jspan){p, (size_t)(ve - p)}, inner_out, inner_max) : 0;
      }
    } else {
      ve = skip_value(p, end);
    }
    if (!ve) return n;
    out[n].key = k;
    out[n].val = (jspan){p, (size_t)(ve - p)};
    p = skip_ws(ve, end);
    if (p < end && *p == ',') p = skip_ws(p + 1, end);
  }
  return n;
}

size_t jspan_value_len(const char *p, size_t n) {
  const char *e = skip_value(p, p + n);
  return e ? (size_t)(e - p) : 0;
}

int jspan_next(jspan arr, const char **at, jspan *v) {
  if (jspan_type(arr) != JS_ARRAY) return 0;
  const char *end = arr.p + arr.n - 1, *p = *at ? *at : skip_ws(arr.p + 1, end);
  if (p >= end) return 0;
  const char *ve = skip_value(p, end);
  if (!ve || ve == p) return 0;
  *v = (jspan){p, (size_t)(ve - p)};
  p = skip_ws(ve, end);
  if (p < end && *p == ',') p = skip_ws(p + 1, end);
  *at = p;
  return 1;
}

size_t jspan_members(jspan obj, jmember *out, size_t max) {
  return jspan_type(obj) == JS_OBJECT ? items(obj, 1, out, max, NULL, NULL, 0, NULL) : 0;
}

size_t jspan_members_with(jspan obj, jmember *out, size_t max, const char *key, jmember *inner, size_t inner_max, size_t *ninner) {
  *ninner = 0;
  return jspan_type(obj) == JS_OBJECT ? items(obj, 1, out, max, key, inner, inner_max, ninner) : 0;
}

int jspan_key_is(jspan k, const char *key) {
  size_t n = strlen(key);
  return k.n == n + 2 && memcmp(k.p + 1, key, n) == 0;
}

jspan jspan_get(const jmember *m, size_t n, const char *key) {
  size_t kn = strlen(key);
  for (size_t i = 0; i < n; i++)
    if (m[i].key.n == kn + 2 && memcmp(m[i].key.p + 1, key, kn) == 0) return m[i].val;
  return (jspan){NULL, 0};
}

int64_t jspan_int(jspan v) { return jspan_type(v) == JS_INTEGER ? strtoll(v.p, NULL, 10) : 0; }

double jspan_real(jspan v) { return strtod(v.p, NULL); }

static void grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  *cap = need * 2 + 64;
  *buf = realloc(*buf, *cap);
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000)
    return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 0x3F)), o[2] = (char)(0x80 | (cp & 0x3F)), 3;
  o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F)), o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

static uint32_t hex4(const char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

long jspan_str(jspan v, char **buf, size_t *cap) {
  if (jspan_type(v) != JS_STRING || v.n < 2) return -1;
  grow(buf, cap, v.n);
  char *o = *buf;
  const char *p = v.p + 1, *end = v.p + v.n - 1;
  while (p < end) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    char c = p[1];
    p += 2;
    if (c == 'u' && p + 4 <= end) {
      uint32_t cp = hex4(p);
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= end && p[0] == '\\' && p[1] == 'u') { /* a surrogate pair */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 2) - 0xDC00);
        p += 6;
      }
      o += put_utf8(o, cp);
    } else {
      *o++ = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    }
  }
  *o = 0;
  return (long)(o - *buf);
}

int jspan_str_is(jspan v, const char *s) {
  size_t n = strlen(s);
  return v.p && v.n == n + 2 && v.p[0] == '"' && memcmp(v.p + 1, s, n) == 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
  grow(buf, cap, *len + n + 1);
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = 0;
}

typedef struct {
  jmember m;
  char *key; /* decoded, for sorting */
} keyed;

static int cmp_keyed(const void *a, const void *b) { return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key); }

static int dump_container(jspan v, int object, char **buf, size_t *len, size_t *cap) {
  size_t max = v.n / 2 + 1, n;
  jmember *m = malloc(max * sizeof *m);
  keyed *k = malloc(max * sizeof *k);
  n = items(v, object, m, max, NULL, NULL, 0, NULL);
  for (size_t i = 0; i < n; i++) {
    size_t kc = 0;
    k[i].m = m[i];
    k[i].key = NULL;
    if (object) jspan_str(m[i].key, &k[i].key, &kc);
  }
  if (object) qsort(k, n, sizeof *k, cmp_keyed);
  append(buf, len, cap, object ? "{" : "[", 1);
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    if (i) append(buf, len, cap, ",", 1);
    if (object) append(buf, len, cap, k[i].m.key.p, k[i].m.key.n), append(buf, len, cap, ":", 1);
    ok = jspan_dump_sorted(k[i].m.val, buf, len, cap);
  }
  append(buf, len, cap, object ? "}" : "]", 1);
  for (size_t i = 0; i < n; i++) free(k[i].key);
  free(k);
  free(m);
  return ok;
}

int jspan_dump_sorted(jspan v, char **buf, size_t *len, size_t *cap) {
  int t = jspan_type(v);
  if (t == JS_ABSENT) return 0;
  if (t == JS_OBJECT || t == JS_ARRAY) return dump_container(v, t == JS_OBJECT, buf, len, cap);
  append(buf, len, cap, v.p, v.n); /* a scalar's compact text is itself */
  return 1;
}

/* ---- the compact subset ------------------------------------------------------ */

/* Each returns the end of the value starting at p, or NULL when it is not
 * in the subset jspan_compact_ok accepts. */
static const char *ok_value(const char *p, const char *end, int depth);

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The bytes a string's walk stops at: the quote, the backslash, control
 * characters and the bytes of UTF-8 sequences.  Any other byte is taken by
 * one test, the common case of a run file's text. */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char STR_STOP[256] = {
    R16(1), R16(1),                                 /* 0x00-0x1F: control characters */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x22: '"' */
    R16(0), R16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x5C: '\\' */
    R16(0), R16(0),
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), /* 0x80-0xFF: UTF-8 */
};
#undef R16

/* *escaped (when not NULL) is set when the string holds an escape. */
static const char *ok_string(const char *p, const char *end, int *escaped) {
  const char *start = ++p;
  int ascii = 1;
  while (p < end) {
    while (p < end && !STR_STOP[(unsigned char)*p]) p++;
    if (p == end) break;
    unsigned char c = (unsigned char)*p;
    if (c == '"') return ascii || jt_utf8_ok(start, (size_t)(p - start)) ? p + 1 : NULL;
    if (c < 0x20) return NULL;
    if (c >= 0x80) ascii = 0;
    if (c != '\\') {
      p++;
      continue;
    }
    if (end - p < 2) return NULL;
    if (escaped) *escaped = 1;
    char e = p[1];
    if (e == 'u') {
      if (end - p < 6) return NULL;
      unsigned v = 0;
      for (int i = 2; i < 6; i++) {
        int d = hex_digit(p[i]);
        if (d < 0) return NULL;
        v = v << 4 | (unsigned)d;
      }
      if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) return NULL; /* NUL, surrogates: jansson's rules decide */
      p += 6;
    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
      p += 2;
    } else {
      return NULL;
    }
  }
  return NULL;
}

/* An integer of up to 18 digits (a real or a longer number: jansson's rules). */
static const char *ok_number(const char *p, const char *end) {
  if (p < end && *p == '-') p++;
  const char *digits = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  size_t n = (size_t)(p - digits);
  if (n == 0 || n > 18 || (n > 1 && *digits == '0')) return NULL;
  if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) return NULL;
  return p;
}

static const char *ok_word(const char *p, const char *end, const char *w) {
  size_t n = strlen(w);
  return (size_t)(end - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

/* An object's keys are kept to find one given twice: jansson keeps the
 * last, jspan_get finds the first, so such an object goes to jansson (as
 * do keys with escapes, which could spell the same key two ways, and
 * objects of more than 32 members). */
static int new_key(jspan *keys, size_t *n, const char *k, size_t len, int escaped) {
  if (*n == 32 || escaped) return 0;
  for (size_t i = 0; i < *n; i++) /* (k[1]: the first byte after the quote, or the closing quote) */
    if (keys[i].n == len && keys[i].p[1] == k[1] && !memcmp(keys[i].p, k, len)) return 0;
  keys[(*n)++] = (jspan){k, len};
  return 1;
}

static const char *ok_items(const char *p, const char *end, int depth, int object) {
  char close = object ? '}' : ']';
  jspan keys[32];
  size_t nkeys = 0;
  p++;
  if (p < end && *p == close) return p + 1;
  for (;;) {
    if (object) {
      const char *k = p;
      int escaped = 0;
      if (p >= end || *p != '"' || !(p = ok_string(p, end, &escaped)) || !new_key(keys, &nkeys, k, (size_t)(p - k), escaped) ||
          p >= end || *p++ != ':')
        return NULL;
    }
    if (!(p = ok_value(p, end, depth + 1)) || p >= end) return NULL;
    if (*p == close) return p + 1;
    if (*p++ != ',') return NULL;
  }
}

static const char *ok_value(const char *p, const char *end, int depth) {
  if (p >= end || depth > 64) return NULL;
  switch (*p) {
    case '{': return ok_items(p, end, depth, 1);
    case '[': return ok_items(p, end, depth, 0);
    case '"': return ok_string(p, end, NULL);
    case 't': return ok_word(p, end, "true");
    case 'f': return ok_word(p, end, "false");
    case 'n': return ok_word(p, end, "null");
    default: return ok_number(p, end);
  }
}

int jspan_compact_ok(const char *p, size_t n) {
  return n > 0 && *p == '{' && ok_value(p, p + n, 0) == p + n;
}

size_t jspan_compact_len(const char *p, size_t avail) {
  const char *end = avail > 0 && *p == '{' ? ok_value(p, p + avail, 0) : NULL;
  return end ? (size_t)(end - p) : 0;
}
