/* jtext.c: compact JSON text as jansson writes it (see jtext.h). */
#include "jtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swar.h"

static void reserve(jtext *t, size_t more) {
  if (t->n + more + 1 <= t->cap) return;
  t->cap = (t->n + more + 1) * 2 + 256;
  t->b = realloc(t->b, t->cap);
}

void jt_reset(jtext *t) {
  t->n = 0;
  t->depth = 0;
  reserve(t, 0);
  t->b[0] = 0;
}

void jt_free(jtext *t) {
  free(t->b);
  memset(t, 0, sizeof *t);
}

void jt_raw(jtext *t, const char *s, size_t n) {
  reserve(t, n);
  memcpy(t->b + t->n, s, n);
  t->n += n;
  t->b[t->n] = 0;
}

static void put_c(jtext *t, char c) {
  reserve(t, 1);
  t->b[t->n++] = c;
  t->b[t->n] = 0;
}

/* jansson's utf8_check_first and utf8_check_full: the length of the
 * sequence starting at s, 0 when it is not valid UTF-8. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
  unsigned char u = s[0];
  size_t count = u < 0x80 ? 1 : u >= 0xC2 && u <= 0xDF ? 2 : u >= 0xE0 && u <= 0xEF ? 3 : u >= 0xF0 && u <= 0xF4 ? 4 : 0;
  if (count <= 1) return count;
  if (count > left) return 0;
  uint32_t v = u & (count == 2 ? 0x1F : count == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < count; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    v = v << 6 | (s[i] & 0x3F);
  }
  if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  if ((count == 2 && v < 0x80) || (count == 3 && v < 0x800) || (count == 4 && v < 0x10000)) return 0;
  return count;
}

/* Eight bytes at a time (swar.h): every string of every operation goes
 * through both loops below, and nearly all of their bytes are plain ASCII.
 * Whether any byte of w is below 0x20, or is '"' or '\\' (those jt_str
 * escapes); bytes of 0x80 and over are never flagged. */
static int any_escaped(uint64_t w) {
  uint64_t quote = w ^ SWAR_EVERY('"'), backslash = w ^ SWAR_EVERY('\\'); /* 0 where the byte is one */
  uint64_t below_space = (w - SWAR_EVERY(0x20)) & ~w, zero_quote = (quote - SWAR_EVERY(1)) & ~quote,
           zero_back = (backslash - SWAR_EVERY(1)) & ~backslash;
  return ((below_space | zero_quote | zero_back) & SWAR_HIGHS) != 0;
}

int jt_utf8_ok(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (i + 8 <= n && !(swar_load8(p + i) & SWAR_HIGHS)) { /* the common case */
      i += 8;
      continue;
    }
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(p + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

void jt_str(jtext *t, const char *s, size_t n) {
  reserve(t, n * 6 + 2);
  char *o = t->b + t->n;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    while (i + 8 <= n && !any_escaped(swar_load8(s + i))) {
      memcpy(o, s + i, 8);
      o += 8, i += 8;
    }
    if (i == n) break;
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      *o++ = (char)c;
      continue;
    }
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      default: o += sprintf(o, "u%04X", (unsigned)c); break;
    }
  }
  *o++ = '"';
  *o = 0;
  t->n = (size_t)(o - t->b);
}

/* As "%lld", without printf's cost (an operation has one or two). */
void jt_int(jtext *t, int64_t v) {
  char b[24], *p = b + sizeof b;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--p = '-';
  jt_raw(t, p, (size_t)(b + sizeof b - p));
}

void jt_open(jtext *t, char brace) {
  put_c(t, brace);
  if (t->depth < JT_DEPTH) t->items[t->depth] = 0;
  t->depth++;
}

void jt_close(jtext *t, char brace) {
  t->depth--;
  put_c(t, brace);
}

void jt_elem(jtext *t) {
  int d = t->depth - 1;
  if (d < 0 || d >= JT_DEPTH) return;
  if (t->items[d]) put_c(t, ',');
  t->items[d] = 1;
}

void jt_key(jtext *t, const char *key) {
  jt_elem(t);
  jt_str(t, key, strlen(key));
  put_c(t, ':');
}

/* jt_mstr (key) and jt_mstr_as (k): the member only when s is UTF-8. */
static void mstr(jtext *t, const char *key, const jtext *k, const char *s) {
  size_t n = strlen(s);
  if (!jt_utf8_ok(s, n)) return;
  if (k) jt_key_as(t, k);
  else jt_key(t, key);
  jt_str(t, s, n);
}

void jt_mstr(jtext *t, const char *key, const char *s) { mstr(t, key, NULL, s); }

void jt_key_text(jtext *k, const char *key) {
  jt_reset(k);
  jt_str(k, key, strlen(key));
  put_c(k, ':');
}

void jt_key_as(jtext *t, const jtext *k) {
  jt_elem(t);
  jt_raw(t, k->b, k->n);
}

void jt_mstr_as(jtext *t, const jtext *k, const char *s) { mstr(t, NULL, k, s); }

void jt_restart(jtext *t, const jtext *head) {
  jt_reset(t);
  jt_raw(t, head->b, head->n);
  t->depth = head->depth;
  memcpy(t->items, head->items, sizeof t->items);
}

void jt_mint(jtext *t, const char *key, int64_t v) {
  jt_key(t, key);
  jt_int(t, v);
}
