/* test_jtext.c: jt_str writes a string exactly as jansson dumps it, and
 * jt_utf8_ok accepts exactly the strings jansson takes.  Both read eight
 * bytes at a time where none needs a second look, so the strings here are
 * runs of printable ASCII (of every length from 0 to 20, starting at every
 * offset from an eight-byte boundary) between bytes that need a second look: control characters,
 * quotes, backslashes, DEL, valid and invalid UTF-8. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jtext.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

/* One byte (or sequence) that is not plain ASCII text. */
static size_t odd_bytes(char *o) {
  static const char *const odd[] = {"\x01", "\x1f", "\n", "\t", "\"", "\\", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                    "\xf0\x9f\x98\x80", "\xc3", "\xff", "\xed\xa0\x80", "\x80"};
  const char *s = odd[rand() % (int)(sizeof odd / sizeof *odd)];
  memcpy(o, s, strlen(s));
  return strlen(s);
}

static void test_against_jansson(void) {
  srand(5);
  char buf[256], what[64];
  for (int it = 0; it < 100000; it++) {
    char *s = buf + it % 8; /* strings start anywhere in a word */
    size_t n = 0;
    int parts = 1 + rand() % 6;
    for (int part = 0; part < parts && n < 200; part++) {
      size_t run = (size_t)(rand() % 21);
      for (size_t i = 0; i < run; i++) s[n++] = (char)(' ' + rand() % 95); /* ' ' to '~', '"' and '\\' among them */
      if (rand() % 3) n += odd_bytes(s + n);
    }
    json_t *j = json_stringn(s, n);
    snprintf(what, sizeof what, "string %d (%zu bytes)", it, n);
    check((j != NULL) == jt_utf8_ok(s, n), what, "jt_utf8_ok and jansson differ");
    if (j) {
      jtext t = {0};
      jt_reset(&t);
      jt_str(&t, s, n);
      char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
      check(want && strcmp(want, t.b) == 0, what, t.b);
      free(want);
      jt_free(&t);
    }
    json_decref(j);
  }
}

/* Text made once (jt_key_text, jt_restart) writes the same bytes as the
 * calls it stands for, commas included, for keys that need escaping too. */
static void test_made_once(void) {
  static const char *const keys[] = {"op", "sis_id", "say \"hi\"", "tab\there", "caf\xc3\xa9", ""};
  jtext direct = {0}, made = {0}, head = {0}, k = {0};
  jt_reset(&head);
  jt_open(&head, '{');
  jt_mstr(&head, "op", "create");
  jt_key(&head, "tmp");
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    jt_reset(&direct);
    jt_open(&direct, '{');
    jt_mstr(&direct, "op", "create");
    jt_key(&direct, "tmp");
    jt_int(&direct, 7);
    jt_key(&direct, keys[i]);
    jt_int(&direct, 1);
    jt_mstr(&direct, keys[i], "v\"x");
    jt_mstr(&direct, keys[i], "\xff"); /* not UTF-8: no member */
    jt_close(&direct, '}');
    jt_restart(&made, &head);
    jt_int(&made, 7);
    jt_key_text(&k, keys[i]);
    jt_key_as(&made, &k);
    jt_int(&made, 1);
    jt_mstr_as(&made, &k, "v\"x");
    jt_mstr_as(&made, &k, "\xff");
    jt_close(&made, '}');
    check(made.n == direct.n && !memcmp(made.b, direct.b, direct.n), "made once", direct.b);
  }
  jt_free(&direct), jt_free(&made), jt_free(&head), jt_free(&k);
}

int main(void) {
  test_against_jansson();
  test_made_once();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
