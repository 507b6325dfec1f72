/* rectext.c: values and records as jansson's compact JSON text (see
 * rectext.h).  Each rule is the one jansson follows when it makes and dumps
 * the same value, because hashes in every hub were taken over its text. */
#include "rectext.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rectext_ok(value v) {
  if (v.kind == V_STR) return jt_utf8_ok(v.u.s, v.len);
  if (v.kind == V_DEC) return isfinite(v.u.d);
  return 1;
}

/* A decimal goes through jansson itself: its number format (%.17g, ".0"
 * added, the exponent trimmed) is not worth copying for a rare kind. */
static void put_decimal(jtext *t, double d) {
  json_t *r = json_real(d);
  char *s = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(r);
  if (s) jt_raw(t, s, strlen(s));
  free(s);
}

/* v (0 <= v < 10^width) as exactly `width` decimal digits, zeros first. */
static void digits(char *b, int64_t v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10) b[i] = (char)('0' + v % 10);
}

void rectext_value(jtext *t, value v) {
  char b[64];
  int n;
  switch (v.kind) {
    case V_BOOL: jt_raw(t, v.u.i ? "true" : "false", v.u.i ? 4 : 5); break;
    case V_INT: jt_int(t, v.u.i); break;
    case V_DEC: put_decimal(t, v.u.d); break;
    case V_STR: jt_str(t, v.u.s, v.len); break;
    case V_DATE: /* as the pipeline has always printed them */
      if (v.u.i >= 0 && v.u.i <= 99991231) { /* every real date: digits, not a printf per date of every record */
        digits(b, v.u.i / 10000, 4), b[4] = '-', digits(b + 5, v.u.i / 100 % 100, 2), b[7] = '-', digits(b + 8, v.u.i % 100, 2);
        n = 10;
      } else {
        n = snprintf(b, sizeof b, "%04lld-%02lld-%02lld", (long long)(v.u.i / 10000), (long long)(v.u.i / 100 % 100),
                     (long long)(v.u.i % 100));
      }
      jt_str(t, b, (size_t)n);
      break;
    case V_TIME:
      if (v.u.i >= 0 && v.u.i <= 9999) {
        digits(b, v.u.i / 100, 2), b[2] = ':', digits(b + 3, v.u.i % 100, 2);
        n = 5;
      } else {
        n = snprintf(b, sizeof b, "%02lld:%02lld", (long long)(v.u.i / 100), (long long)(v.u.i % 100));
      }
      jt_str(t, b, (size_t)n);
      break;
    case V_LIST:
      jt_open(t, '[');
      for (uint32_t i = 0; i < v.len; i++) /* an item jansson could not make is not appended */
        if (rectext_ok(v.u.items[i])) jt_elem(t), rectext_value(t, v.u.items[i]);
      jt_close(t, ']');
      break;
    default: jt_raw(t, "null", 4); break; /* null, and a regex (never a record's value) */
  }
}

void rectext_member(jtext *t, const char *key, value v) {
  if (!rectext_ok(v)) return;
  jt_key(t, key);
  rectext_value(t, v);
}

void rectext_member_as(jtext *t, const jtext *key, value v) {
  if (!rectext_ok(v)) return;
  jt_key_as(t, key);
  rectext_value(t, v);
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

void rectext_record(jtext *t, const char *const *names, const int *order, int n, const value *attrs) {
  jt_open(t, '{');
  for (int k = 0; k < n; k++)
    if (attrs[order[k]].kind != V_NULL) rectext_member(t, names[order[k]], attrs[order[k]]);
  jt_close(t, '}');
}
