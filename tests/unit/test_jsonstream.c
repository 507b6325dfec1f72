/* test_jsonstream.c: the streaming JSON array reader on documents that put
 * the records in different places, and on broken ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonstream.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else failed++, printf("FAIL %s: %s\n", what, detail);
}

/* Reads every element's "id" into out ("1,2,3"), or the error. */
static void read_all(const char *doc, const char *at, char *out, size_t n) {
  char path[64], err[300];
  snprintf(path, sizeof path, "/tmp/test_jsonstream_%d.json", (int)getpid());
  FILE *f = fopen(path, "wb");
  fputs(doc, f);
  fclose(f);
  out[0] = 0;
  jstream *s = jstream_open(path, at, err, sizeof err);
  if (!s) {
    snprintf(out, n, "error: %s", strchr(err, ':') ? strchr(err, ':') + 1 : err);
    remove(path);
    return;
  }
  json_t *v;
  while ((v = jstream_next(s, err, sizeof err)) != NULL) {
    json_t *id = json_object_get(v, "id");
    snprintf(out + strlen(out), n - strlen(out), "%s%lld", out[0] ? "," : "", (long long)json_integer_value(id));
    json_decref(v);
  }
  if (err[0]) snprintf(out + strlen(out), n - strlen(out), " error: %s", strchr(err, ':') ? strchr(err, ':') + 1 : err);
  jstream_close(s);
  remove(path);
}

int main(void) {
  static const struct {
    const char *doc, *at, *want;
  } cases[] = {
      {"[{\"id\":1},{\"id\":2}]", "", "1,2"},
      {"\xEF\xBB\xBF [ {\"id\": 1} ]", NULL, "1"},
      {"[]", "", ""},
      {"{\"data\":[{\"id\":1,\"s\":\"a]b\\\"}\"},{\"id\":2,\"n\":[1,{\"x\":[]}]}]}", "data", "1,2"},
      {"{\"meta\":{\"data\":[{\"id\":9}]},\"x\":\"[\",\"data\":[{\"id\":3}]}", "data", "3"},
      {"{\"response\":{\"users\":[{\"id\":4},{\"id\":5}]}}", "response.users", "4,5"},
      {"{\"links\":[],\"data\":[{\"id\":6}],\"tail\":{\"a\":[1,2]}}", "data", "6"},
      {"{\"data\":[{\"id\":1},{\"id\":2", "data", "1 error: 1:26: the file ends inside a value"},
      {"{\"data\":[{\"id\":1} {\"id\":2}]}", "data", "1 error: 1:20: expected ',' between records"},
      {"{\"other\":[]}", "data", "error: 1:13: the path to the records is not in the file"},
      {"{\"data\":{\"id\":1}}", "data", "error: 1:10: the records are not an array"},
      {"[{\"id\":1}, tru]", "", "1 error: 1:14: invalid token near 'tru'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[500];
    read_all(cases[i].doc, cases[i].at, out, sizeof out);
    char detail[700];
    snprintf(detail, sizeof detail, "case %zu: got '%s', want '%s'", i, out, cases[i].want);
    check(strcmp(out, cases[i].want) == 0, "json stream", detail);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
