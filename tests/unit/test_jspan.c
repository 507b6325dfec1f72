/* test_jspan.c: an object's members found in place (jspan.h).  Each member's
 * key and value span exactly their text: strings with escaped quotes and
 * runs of backslashes, containers holding strings with brackets, numbers
 * and literals before every kind of separator; a broken object gives the
 * members before the break and no more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jspan.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

/* The members of `text`, as "key=value" joined by '|'. */
static const char *members(const char *text, size_t *count) {
  static char out[4096];
  jmember m[32];
  size_t n = jspan_members((jspan){text, strlen(text)}, m, 32), at = 0;
  out[0] = 0;
  for (size_t i = 0; i < n && at < sizeof out - 1; i++)
    at += (size_t)snprintf(out + at, sizeof out - at, "%s%.*s=%.*s", i ? "|" : "", (int)m[i].key.n, m[i].key.p, (int)m[i].val.n,
                           m[i].val.p);
  *count = n;
  return out;
}

static void expect(const char *text, size_t n, const char *want) {
  size_t got_n;
  const char *got = members(text, &got_n);
  char detail[8192];
  snprintf(detail, sizeof detail, "%s -> %zu: %s (want %zu: %s)", text, got_n, got, n, want);
  check(got_n == n && strcmp(got, want) == 0, "members", detail);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  expect("{\"a\":1,\"b\":\"x\"}", 2, "\"a\"=1|\"b\"=\"x\"");
  /* An escaped quote does not end a string; an escaped backslash before a
   * quote does not escape it. */
  expect("{\"a\":\"say \\\"hi\\\"\",\"b\":2}", 2, "\"a\"=\"say \\\"hi\\\"\"|\"b\"=2");
  expect("{\"a\":\"ends in \\\\\",\"b\":2}", 2, "\"a\"=\"ends in \\\\\"|\"b\"=2");
  expect("{\"a\":\"\\\\\\\"\",\"b\":true}", 2, "\"a\"=\"\\\\\\\"\"|\"b\"=true");
  expect("{\"k\\\"ey\":null}", 1, "\"k\\\"ey\"=null");
  /* Containers: brackets inside strings do not count. */
  expect("{\"s\":{\"x\":\"}]\",\"y\":[1,{\"z\":\"[{\"}]},\"t\":[]}", 2, "\"s\"={\"x\":\"}]\",\"y\":[1,{\"z\":\"[{\"}]}|\"t\"=[]");
  expect("{\"s\":[\"a\\\"]\",2],\"u\":-1.5e3}", 2, "\"s\"=[\"a\\\"]\",2]|\"u\"=-1.5e3");
  /* Scalars end at any separator, spaces included. */
  expect("{ \"a\" : 12 , \"b\" :false\n,\"c\":\tnull\r}", 3, "\"a\"=12|\"b\"=false|\"c\"=null");
  expect("{\"a\":[1,2 ,3]}", 1, "\"a\"=[1,2 ,3]");
  expect("{}", 0, "");
  /* Broken: an unterminated string, an unclosed container, a key alone. */
  expect("{\"a\":1,\"b\":\"open}", 1, "\"a\"=1");
  expect("{\"a\":1,\"b\":\"ends in escape\\\"}", 1, "\"a\"=1");
  expect("{\"a\":{\"b\":[1,2}", 0, "");
  expect("{\"a\"}", 0, "");
  expect("[1,2]", 0, "");
  printf("jspan: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
