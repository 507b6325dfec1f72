/* test_rectext.c: rectext (on jtext) writes, byte for byte, the text jansson
 * dumps for the same record (the content hashes in every hub were taken over that
 * text).  The reference builds the jansson object the way the pipeline did
 * before rectext, and dumps it with JSON_COMPACT | JSON_SORT_KEYS; records
 * come from a fixed list of awkward values and from a seeded random mix of
 * kinds, bytes (invalid UTF-8, control characters, quotes), numbers and
 * nested lists. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rectext.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

/* The reference: a value as the pipeline used to make it with jansson. */
static json_t *ref_json(value v) {
  char b[64];
  switch (v.kind) {
    case V_NULL: return json_null();
    case V_BOOL: return json_boolean(v.u.i);
    case V_INT: return json_integer(v.u.i);
    case V_DEC: return json_real(v.u.d);
    case V_STR: return json_stringn(v.u.s, v.len);
    case V_DATE:
      snprintf(b, sizeof b, "%04lld-%02lld-%02lld", (long long)(v.u.i / 10000), (long long)(v.u.i / 100 % 100),
               (long long)(v.u.i % 100));
      return json_string(b);
    case V_TIME:
      snprintf(b, sizeof b, "%02lld:%02lld", (long long)(v.u.i / 100), (long long)(v.u.i % 100));
      return json_string(b);
    case V_LIST: {
      json_t *a = json_array();
      for (uint32_t i = 0; i < v.len; i++) json_array_append_new(a, ref_json(v.u.items[i]));
      return a;
    }
    default: return json_null();
  }
}

static char *ref_text(const char *const *names, int n, const value *attrs) {
  json_t *o = json_object();
  for (int i = 0; i < n; i++)
    if (attrs[i].kind != V_NULL) json_object_set_new(o, names[i], ref_json(attrs[i]));
  char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return t;
}

static void compare(const char *what, const char *const *names, int n, const value *attrs) {
  int order[64];
  jtext t = {0};
  jt_reset(&t);
  rectext_sort_names(names, n, order);
  rectext_record(&t, names, order, n, attrs);
  char *want = ref_text(names, n, attrs);
  char detail[600];
  snprintf(detail, sizeof detail, "got %.250s, want %.250s", t.b, want);
  check(strlen(want) == t.n && strcmp(want, t.b) == 0, what, detail);
  free(want);
  jt_free(&t);
}

static const char *const NAMES[] = {"sis_id", "last_name", "email", "grade", "birth_date", "a", "zeta", "Zeta", "_x", "roles"};
#define NNAMES 10

static void test_fixed(void) {
  static const value items[] = {{V_STR, 2, {.s = "ok"}}, {V_STR, 2, {.s = "\xC0\x80"}}, {V_INT, 0, {.i = -5}}, {V_NULL, 0, {0}}};
  value a[NNAMES];
  for (int i = 0; i < NNAMES; i++) a[i] = v_null();
  compare("all null", NAMES, NNAMES, a);
  a[0] = v_str("s-1", 3);
  a[1] = v_str("O\"Brien \\ \t\n\r\b\f\x01\x1f\x7f /", 21);
  a[2] = v_str("jos\xC3\xA9@\xE2\x82\xAC\xF0\x9F\x98\x80", 14);
  a[3] = v_int(-9223372036854775807LL - 1);
  a[4] = v_date(20180216);
  a[5] = v_time(905);
  a[6] = v_bool(1);
  a[7] = v_bool(0);
  a[8] = v_dec(0.1);
  a[9] = v_list(items, 4);
  compare("escapes, UTF-8, kinds, list", NAMES, NNAMES, a);
  a[1] = v_str("bad \xED\xA0\x80 surrogate", 16);
  a[2] = v_str("nul\0inside", 10);
  a[8] = v_dec(NAN);
  compare("invalid UTF-8 and NaN left out, NUL escaped", NAMES, NNAMES, a);
  static const double decs[] = {1e300, -0.0, 100.0, 1.5e-7, 123456789012345678.0, INFINITY, 2.5};
  for (size_t i = 0; i < sizeof decs / sizeof *decs; i++) {
    a[8] = v_dec(decs[i]);
    compare("decimal", NAMES, NNAMES, a);
  }
  value r = {V_REGEX, 0, {0}};
  a[9] = r;
  compare("a regex is null", NAMES, NNAMES, a);
}

static unsigned rnd(void) { return (unsigned)rand(); }

static value random_value(char *pool, size_t *used, value *items, int depth) {
  switch (rnd() % (depth < 2 ? 8 : 7)) {
    case 0: return v_null();
    case 1: return v_bool(rnd() & 1);
    case 2: return v_int((int64_t)rnd() * (rnd() & 1 ? 1 : -1) * (int64_t)rnd());
    case 3: return v_dec((double)rnd() / (rnd() % 1000 + 1) * (rnd() % 5 == 0 ? 1e-30 : 1));
    case 4: return v_date((int64_t)(rnd() % 3000) * 10000 + rnd() % 13 * 100 + rnd() % 32);
    case 5: return v_time(rnd() % 2400);
    case 6: {
      size_t n = rnd() % 12;
      char *s = pool + *used;
      static const char alphabet[] = "aZ9 \"\\/\t\n\x01\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC0\xFF\x80\xED\xA0";
      for (size_t i = 0; i < n; i++)
        s[i] = rnd() % 4 ? alphabet[rnd() % 4] : alphabet[rnd() % (sizeof alphabet - 1)];
      *used += n;
      return v_str(s, n);
    }
    default: {
      size_t n = rnd() % 4;
      for (size_t i = 0; i < n; i++) items[i] = random_value(pool, used, items + 4, depth + 1);
      return v_list(items, n);
    }
  }
}

static void test_random(void) {
  srand(7);
  for (int k = 0; k < 5000; k++) {
    char pool[4096];
    size_t used = 0;
    value a[NNAMES], items[NNAMES][8];
    for (int i = 0; i < NNAMES; i++) a[i] = random_value(pool, &used, items[i], 0);
    compare("random record", NAMES, NNAMES, a);
  }
}

int main(void) {
  test_fixed();
  test_random();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
