/* rectext.c: a record's sorted compact JSON text, written from its values
 * (see rectext.h).  Each rule below is the one jansson follows when it
 * builds and dumps the same record, because the hashes in every hub were
 * taken over jansson's text. */
#include "rectext.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(rectext *t, size_t more) {
  if (t->len + more + 1 <= t->cap) return;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < t->len + more + 1) cap *= 2;
  t->buf = realloc(t->buf, cap);
  t->cap = cap;
}

static void put(rectext *t, const char *s, size_t n) {
  reserve(t, n);
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = '\0';
}

/* jansson's json_stringn() refuses (returns NULL for) anything but valid
 * UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) k = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, cp = c & 0x07;
    else return 0;
    if (i + k > n) return 0;
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + j] & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000)) return 0;
    i += k;
  }
  return 1;
}

/* A JSON string as jansson dumps it: only '"', '\\' and control characters
 * escaped, the five short escapes, \u00XX in upper case for the rest. */
static void put_string(rectext *t, const char *s, size_t n) {
  reserve(t, n + 2);
  t->buf[t->len++] = '"';
  size_t run = 0; /* start of the bytes not yet copied */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(t, s + run, i - run);
    run = i + 1;
    char esc[8];
    switch (c) {
      case '"': put(t, "\\\"", 2); break;
      case '\\': put(t, "\\\\", 2); break;
      case '\b': put(t, "\\b", 2); break;
      case '\f': put(t, "\\f", 2); break;
      case '\n': put(t, "\\n", 2); break;
      case '\r': put(t, "\\r", 2); break;
      case '\t': put(t, "\\t", 2); break;
      default:
        snprintf(esc, sizeof esc, "\\u%04X", c);
        put(t, esc, 6);
    }
  }
  put(t, s + run, n - run);
  put(t, "\"", 1);
}

/* A decimal goes through jansson itself: its number format (%.17g, ".0"
 * added, the exponent trimmed) is not worth copying for a rare kind. */
static int put_decimal(rectext *t, double d) {
  json_t *r = json_real(d); /* NULL for infinities and NaN */
  char *s = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(r);
  if (!s) return 0;
  put(t, s, strlen(s));
  free(s);
  return 1;
}

/* Writes one value; 0 (having written nothing that stays) when jansson
 * would have refused to make it, so that the caller leaves it out. */
static int put_value(rectext *t, value v) {
  char b[64];
  switch (v.kind) {
    case V_NULL: put(t, "null", 4); return 1;
    case V_BOOL: v.u.i ? put(t, "true", 4) : put(t, "false", 5); return 1;
    case V_INT: put(t, b, (size_t)snprintf(b, sizeof b, "%lld", (long long)v.u.i)); return 1;
    case V_DEC: return put_decimal(t, v.u.d);
    case V_STR:
      if (!utf8_valid((const unsigned char *)v.u.s, v.len)) return 0;
      put_string(t, v.u.s, v.len);
      return 1;
    case V_DATE:
      snprintf(b, sizeof b, "%04lld-%02lld-%02lld", (long long)(v.u.i / 10000), (long long)(v.u.i / 100 % 100),
               (long long)(v.u.i % 100));
      put_string(t, b, strlen(b));
      return 1;
    case V_TIME:
      snprintf(b, sizeof b, "%02lld:%02lld", (long long)(v.u.i / 100), (long long)(v.u.i % 100));
      put_string(t, b, strlen(b));
      return 1;
    case V_LIST: {
      put(t, "[", 1);
      int first = 1;
      for (uint32_t i = 0; i < v.len; i++) {
        size_t mark = t->len;
        if (!first) put(t, ",", 1);
        if (put_value(t, v.u.items[i])) first = 0;
        else t->len = mark; /* an item jansson could not make is not appended */
      }
      put(t, "]", 1);
      return 1;
    }
    default: put(t, "null", 4); return 1;
  }
}

static const char *const *sort_names; /* qsort has no context argument */

static int cmp_name(const void *a, const void *b) {
  return strcmp(sort_names[*(const int *)a], sort_names[*(const int *)b]);
}

void rectext_sort_names(const char *const *names, int n, int *order) {
  for (int i = 0; i < n; i++) order[i] = i;
  sort_names = names;
  qsort(order, (size_t)n, sizeof *order, cmp_name);
}

void rectext_record(rectext *t, const char *const *names, const int *order, int n, const value *attrs) {
  t->len = 0;
  put(t, "{", 1);
  int first = 1;
  for (int k = 0; k < n; k++) {
    int i = order[k];
    if (attrs[i].kind == V_NULL) continue;
    size_t mark = t->len;
    if (!first) put(t, ",", 1);
    put_string(t, names[i], strlen(names[i]));
    put(t, ":", 1);
    if (put_value(t, attrs[i])) first = 0;
    else t->len = mark; /* json_object_set_new() of a NULL value sets nothing */
  }
  put(t, "}", 1);
}

void rectext_free(rectext *t) {
  free(t->buf);
  memset(t, 0, sizeof *t);
}
