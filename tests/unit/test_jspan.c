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

/* jspan_members_with(text, "set"): the outer members must be jspan_members'
 * and the inner ones jspan_members' of the first "set" member's value. */
static void expect_with(const char *text) {
  jmember out[32], inner[3], want_out[32], want_inner[3];
  size_t ninner = 99, n = jspan_members_with((jspan){text, strlen(text)}, out, 32, "set", inner, 3, &ninner);
  size_t wn = jspan_members((jspan){text, strlen(text)}, want_out, 32), wi = 0;
  for (size_t i = 0; i < wn; i++)
    if (jspan_key_is(want_out[i].key, "set")) {
      wi = jspan_members(want_out[i].val, want_inner, 3);
      break;
    }
  int same = n == wn && ninner == wi;
  for (size_t i = 0; same && i < n; i++)
    same = out[i].key.p == want_out[i].key.p && out[i].key.n == want_out[i].key.n && out[i].val.p == want_out[i].val.p &&
           out[i].val.n == want_out[i].val.n;
  for (size_t i = 0; same && i < ninner; i++)
    same = inner[i].key.p == want_inner[i].key.p && inner[i].key.n == want_inner[i].key.n && inner[i].val.p == want_inner[i].val.p &&
           inner[i].val.n == want_inner[i].val.n;
  char detail[512];
  snprintf(detail, sizeof detail, "%s -> %zu members, %zu inner (want %zu, %zu)", text, n, ninner, wn, wi);
  check(same, "members_with", detail);
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
  /* A set's members found in the same walk as the operation's. */
  expect_with("{\"op\":\"create\",\"set\":{\"a\":1,\"b\":\"}\\\"x\",\"c\":[1,{\"d\":2}]},\"links\":[{\"s\":\"x\"}]}");
  expect_with("{\"set\":{}}");
  expect_with("{\"op\":\"create\"}");                            /* no set */
  expect_with("{\"set\":\"text\",\"x\":1}");                     /* not an object */
  expect_with("{\"set\":[1,2],\"set\":{\"a\":1}}");              /* the first set counts, as jspan_get's */
  expect_with("{\"set\":{\"a\":1},\"set\":{\"b\":2,\"c\":3}}");
  expect_with("{\"set\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5},\"z\":0}"); /* more than room for */
  expect_with("{\"set\":{\"a\":1 \"b\":2},\"z\":0}");           /* a comma missing inside */
  expect_with("{\"set\":{\"a\" 1},\"z\":0}");                    /* a colon missing inside */
  expect_with("{\"set\":{\"a\":1,\"z\":0}");                     /* never closed */
  expect_with("{ \"set\" : { \"a\" : 1 , \"b\" : [ ] } , \"z\" : 0 }");
  printf("jspan: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
