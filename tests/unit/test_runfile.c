/* test_runfile.c: the run-file reader (runfile.c) and the compact subset its
 * operations are copied in (jspan_compact_ok): what the subset takes and
 * leaves to jansson, and run files read whole, in pieces larger than the
 * reader's buffer, and broken at each place, each error with its position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jspan.h"
#include "oplog.h"
#include "runfile.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else failed++, printf("FAIL %s: %s\n", what, detail);
}

static void subset(void) {
  static const char *const in[] = {
      "{}", "{\"op\":\"create\",\"tmp\":1,\"set\":{\"a\":\"x\",\"b\":null,\"c\":[1,-2,true,false]}}",
      "{\"s\":\"caf\xc3\xa9 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\"}", "{\"n\":123456789012345678}", "{\"a\":[]}",
      "{\"a\":[[],{}]}", "{\"n\":0}", "{\"n\":-1}", "{\"ab\":1,\"ac\":2,\"a\":3,\"\":4,\"b\":{\"ab\":5}}"};
  static const char *const out[] = {
      "", "[]", "\"x\"", "{ }", "{\"a\": 1}", "{\"a\":1 }", "{\"a\":1}\n", "{\"n\":1.5}", "{\"n\":1e3}",
      "{\"n\":1234567890123456789}", "{\"n\":01}", "{\"n\":-}", "{\"s\":\"\\u0000\"}", "{\"s\":\"\\ud83d\\ude00\"}",
      "{\"s\":\"\\x\"}", "{\"s\":\"\\u12g4\"}", "{\"s\":\"a\tb\"}", "{\"s\":\"\xc3\"}", "{\"s\":\"\xed\xa0\x80\"}",
      "{\"a\":tru}", "{\"a\":nul}", "{\"a\":1,}", "{\"a\" :1}", "{\"a\":[1,]}", "{\"a\":{\"b\":1}", "{\"a\":1}}",
      "{a:1}", "{\"a\":\"b}", "{\"a\":1}x", "{\"op\":\"create\",\"op\":\"delete\"}", "{\"a\":{\"b\":1,\"b\":2}}",
      "{\"\\u0061\":1}", "{\"\":1,\"\":2}", "{\"x\":1,\"a\\\"b\":2}", "{\"ab\":1,\"ab\":2}"};
  for (size_t i = 0; i < sizeof in / sizeof *in; i++) check(jspan_compact_ok(in[i], strlen(in[i])), "in the subset", in[i]);
  for (size_t i = 0; i < sizeof out / sizeof *out; i++)
    check(!jspan_compact_ok(out[i], strlen(out[i])), "left to jansson", out[i]);
  /* every byte inside a string: taken exactly when jansson takes it (a
   * lone byte of UTF-8's upper half is not text; a quote ends the string) */
  int agree = 1;
  for (int b = 0; b < 256; b++) {
    char one[16] = "{\"s\":\"a_a\"}";
    one[7] = (char)b;
    json_t *j = json_loadb(one, 12, 0, NULL);
    if (jspan_compact_ok(one, 12) != (j != NULL)) agree = 0, printf("byte 0x%02x: jspan %d, jansson %d\n", b, jspan_compact_ok(one, 12), j != NULL);
    json_decref(j);
  }
  check(agree, "each byte in a string, as jansson reads it", "");
  char deep[400] = "";
  for (int i = 0; i < 70; i++) strcat(deep, "[");
  for (int i = 0; i < 70; i++) strcat(deep, "]");
  char obj[420];
  snprintf(obj, sizeof obj, "{\"a\":%s}", deep);
  check(!jspan_compact_ok(obj, strlen(obj)), "nesting past 64 is left to jansson", "");
}

static char path[64];

static void put(const char *text, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(text, 1, n, f);
  fclose(f);
}

/* The run's operations as one string of lines, or "error: ..." (the
 * message after the path). */
static char *read_run(const char *text, size_t n, size_t *nchanges) {
  put(text, n);
  run_result r;
  char err[600];
  if (!runfile_read(path, &r, err, sizeof err)) {
    char *e = malloc(strlen(err) + 10);
    sprintf(e, "error: %s", strncmp(err, path, strlen(path)) ? err : err + strlen(path));
    return e;
  }
  size_t cap = 1 << 16, len = 0, k;
  char *all = malloc(cap);
  all[0] = 0;
  const char *line;
  oplog_rewind(r.ops);
  while ((line = oplog_next_text(r.ops, &k))) {
    while (len + k + 2 > cap) all = realloc(all, cap *= 2);
    memcpy(all + len, line, k);
    len += k;
    all[len++] = '\n';
    all[len] = 0;
  }
  *nchanges = r.nchanges;
  run_free(&r);
  return all;
}

#define HEAD "{\"format\":\"syncvm-run-1\",\"hub_version\":3,\"held\":null,\"counts\":{},"

static void run_files(void) {
  size_t nch = 0;
  const char *compact = HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1},{\"op\":\"snapshot\",\"hash\":\"ab\"}],\"report\":[]}";
  char *got = read_run(compact, strlen(compact), &nch);
  check(strcmp(got, "{\"op\":\"create\",\"tmp\":1}\n{\"op\":\"snapshot\",\"hash\":\"ab\"}\n") == 0 && nch == 1, "compact operations", got);
  free(got);
  char bom[400];
  snprintf(bom, sizeof bom, "\xEF\xBB\xBF%s", compact);
  got = read_run(bom, strlen(bom), &nch);
  check(strcmp(got, "{\"op\":\"create\",\"tmp\":1}\n{\"op\":\"snapshot\",\"hash\":\"ab\"}\n") == 0, "after a byte order mark", got);
  free(got);
  /* indented by hand, the report first, a real and an escape: jansson's compact dump */
  const char *loose = "{\n \"report\": [],\n \"format\": \"syncvm-run-1\",\n \"ops\": [\n  {\"op\": \"update\", \"w\": 1.5},\n"
                      "  {\"op\":\"link\",\"s\":\"\\u00e9\"}\n ]\n}\n";
  got = read_run(loose, strlen(loose), &nch);
  check(strcmp(got, "{\"op\":\"update\",\"w\":1.5}\n{\"op\":\"link\",\"s\":\"\\u00e9\"}\n") == 0 && nch == 2, "operations left to jansson",
        got);
  free(got);
  /* a key given twice means what jansson makes of it (the last) */
  const char *twice = HEAD "\"ops\":[{\"op\":\"create\",\"op\":\"delete\"}],\"report\":[]}";
  got = read_run(twice, strlen(twice), &nch);
  check(strcmp(got, "{\"op\":\"delete\"}\n") == 0, "a key given twice", got);
  free(got);
  /* 30,000 operations (past the reader's 1 MB buffer many times) and one of 3 MB */
  size_t cap = 8u << 20, n = 0;
  char *big = malloc(cap);
  n += (size_t)sprintf(big, HEAD "\"ops\":[");
  for (int i = 0; i < 30000; i++) n += (size_t)sprintf(big + n, "%s{\"op\":\"create\",\"tmp\":%d,\"label\":\"Student %d\"}", i ? "," : "", i, i);
  n += (size_t)sprintf(big + n, ",{\"op\":\"update\",\"text\":\"");
  memset(big + n, 'x', 3u << 20);
  n += 3u << 20;
  n += (size_t)sprintf(big + n, "\"}],\"report\":[{\"why\":\"kept\"}]}");
  got = read_run(big, n, &nch);
  size_t lines = 0;
  for (char *p = got; (p = strchr(p, '\n')); p++) lines++;
  check(lines == 30001 && nch == 30001 && strstr(got, "{\"op\":\"create\",\"tmp\":29999,\"label\":\"Student 29999\"}\n") != NULL,
        "30,000 operations and one of 3 MB", got[0] == 'e' ? got : "");
  free(got);
  /* cut short at every few bytes: never a crash, always an error */
  size_t errors = 0, tried = 0;
  for (size_t cut = 0; cut < strlen(HEAD) + 60; cut += 3, tried++) {
    got = read_run(HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1},{\"op\":\"unlink\"}],\"report\":[]}", cut, &nch);
    errors += strncmp(got, "error: ", 7) == 0;
    free(got);
  }
  check(errors == tried, "a run file cut short is an error wherever it is cut", "");
  free(big);
  static const struct {
    const char *text, *want;
  } bad[] = {
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}", ":1:96: the file ends inside the operations"},
      {HEAD "\"ops\":[{\"op\":\"create\",\"s\":\"\xff\"}],\"report\":[]}", ":1:92: unable to decode byte 0xff near '\"'"},
      {"{\"format\":\"syncvm-run-1\",\n\"ops\":[\n{\"op\":\"x\"} {\"op\":\"y\"}],\"report\":[]}", ":3:12: expected ',' or ']' after an operation"},
      {HEAD "\"ops\":[1],\"report\":[]}", ":1:73: an operation is not an object"},
      {HEAD "\"report\":[]}", ": the run file has no operations"},
      {HEAD "\"ops\":[]}", ": the run file has no report"},
      {"{\"format\":\"other\",\"ops\":[],\"report\":[]}", ": not a syncvm run file"},
      {HEAD "\"ops\":[],\"report\":[]} x", ":1:88: text after the end of the run"},
      {HEAD "\"ops\":[],\"ops\":[],\"report\":[]}", ":1:81: two arrays of operations"},
      {"\xEF{", ":1:1: not a syncvm run file (expected '{')"},
      {"\xEF\xBB", ":1:1: not a syncvm run file (expected '{')"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    got = read_run(bad[i].text, strlen(bad[i].text), &nch);
    char want[200];
    snprintf(want, sizeof want, "error: %s", bad[i].want);
    check(strcmp(got, want) == 0, want, got);
    free(got);
  }
}

/* Followed (read on a thread while taken, as apply does): the report may
 * come after the operations, as plan -o writes it, and the run takes it
 * there; a file with none at all fails at the end, naming it. */
static void followed(void) {
  static const char *const files[] = {
      HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}\n],\"report\":[{\"kind\":\"x\"}]}",
      HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}\n]}",
  };
  for (int i = 0; i < 2; i++) {
    put(files[i], strlen(files[i]));
    run_result r;
    char err[600] = "";
    runfile_job *j = runfile_start(path, &r, RUNFILE_FOLLOW, err, sizeof err);
    check(j && runfile_followed(j), "a head with the hub version, the hold and the counts is followed", err);
    if (!j) continue;
    size_t n, taken = 0;
    while (runfile_next_op(j, &n)) taken++;
    int ok = runfile_finish(j, 1, NULL);
    if (i == 0) {
      char *report = json_dumps(r.report, JSON_COMPACT);
      check(ok && taken == 2 && report && !strcmp(report, "[{\"kind\":\"x\"}]"), "the report after the operations is the run's",
            report ? report : err);
      free(report);
    } else {
      check(!ok && taken == 2 && strstr(err, ": the run file has no report"), "no report anywhere: an error at the end", err);
    }
    run_free(&r);
  }
}

static int put_piece(void *ctx, const char *bytes, size_t n) {
  strncat(ctx, bytes, n);
  return 1;
}

/* Followed in place (RUNFILE_IN_PLACE): the operations are read where they
 * lie, the oplog over the file gives them as a copy would (and nothing of
 * what follows them), and a file that strays from plan -o's layout after
 * the first operation says it must be read again, copied. */
static void in_place(void) {
  static const struct {
    const char *text;
    int over, again;
  } files[] = {
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}\n],\"report\":[]}", 1, 0},
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}\n]\n,\"report\":[{\"op\":\"x\"}]\n}", 1, 0},
      {HEAD "\"ops\":[{\"op\": \"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}\n],\"report\":[]}", 0, 0},
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n, {\"op\":\"link\",\"tmp\":1}\n],\"report\":[]}", 1, 1},
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1},\n{\"op\":\"link\",\"tmp\":1}\n],\"report\":[]}", 1, 1},
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\":1}],\"report\":[]}", 1, 1},
      {HEAD "\"ops\":[{\"op\":\"create\",\"tmp\":1}\n,{\"op\":\"link\",\"tmp\": 1}\n],\"report\":[]}", 1, 1},
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    put(files[i].text, strlen(files[i].text));
    run_result r;
    char err[600] = "";
    runfile_job *j = runfile_start(path, &r, RUNFILE_IN_PLACE, err, sizeof err);
    if (!j) {
      check(0, "followed in place", err);
      continue;
    }
    size_t n, taken = 0;
    char seen[200] = "";
    for (const char *op; (op = runfile_next_op(j, &n)); taken++) strncat(seen, op, n), strcat(seen, "|");
    int again = -1, ok = runfile_finish(j, 1, &again);
    const char *want = "{\"op\":\"create\",\"tmp\":1}|{\"op\":\"link\",\"tmp\":1}|";
    if (files[i].again) {
      check(!ok && again == 1 && strstr(err, "not laid out one per line as plan -o writes them"), "strays: read again, copied", err);
    } else {
      char *listed = calloc(1, 400), *pieces = calloc(1, 400);
      const char *line;
      oplog_rewind(r.ops);
      while ((line = oplog_next_text(r.ops, &n))) strncat(listed, line, n), strcat(listed, "|");
      oplog_view_pieces(oplog_view_of(r.ops), NULL, put_piece, pieces);
      check(ok && again == 0 && taken == 2 && !strcmp(seen, want) && oplog_is_over(r.ops) == files[i].over && !strcmp(listed, want) &&
                !strcmp(pieces, "[{\"op\":\"create\",\"tmp\":1},{\"op\":\"link\",\"tmp\":1}]") && r.nchanges == 2,
            files[i].over ? "read where they lie, and read back as a copy would be" : "the first not compact: copied", listed);
      free(listed);
      free(pieces);
    }
    run_free(&r);
  }
}

int main(void) {
  snprintf(path, sizeof path, "/tmp/test_runfile_%d.json", (int)getpid());
  subset();
  run_files();
  followed();
  in_place();
  remove(path);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
