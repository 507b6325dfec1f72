/* test_history.c: a run's operations in the history (history.c): stored in
 * pieces and read back as the same text, compressed in a thread while the
 * oplog is read beside it, runs kept deflated by an older syncvm read as
 * well, and damaged or missing pieces reported. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "history.h"
#include "oplog.h"
#include "pipeline.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else failed++, printf("FAIL %s: %s\n", what, detail);
}

typedef struct {
  char *buf;
  size_t n, cap;
} text;

static int put_text(void *vp, const char *bytes, size_t n) {
  text *t = vp;
  while (t->n + n + 1 > t->cap) t->buf = realloc(t->buf, t->cap = t->cap ? t->cap * 2 : 1 << 16);
  memcpy(t->buf + t->n, bytes, n);
  t->n += n;
  t->buf[t->n] = 0;
  return 1;
}

/* run_id's operations read back through hist_read, in reads of `step`
 * bytes; "error: ..." when they cannot be. */
static text read_back(sqlite3 *db, int64_t run_id, size_t step) {
  text t = {0};
  char err[300];
  hist_src *h = hist_open(db, run_id, err, sizeof err);
  if (!h) {
    put_text(&t, "error: ", 7);
    put_text(&t, err, strlen(err));
    return t;
  }
  char *buf = malloc(step);
  size_t got;
  while ((got = hist_read(h, buf, step)) > 0) put_text(&t, buf, got);
  if (hist_error(h)) {
    t.n = 0;
    put_text(&t, "error: ", 7);
    put_text(&t, hist_error(h), strlen(hist_error(h)));
  }
  free(buf);
  hist_close(h);
  return t;
}

#define DAMAGED(run) "error: run " #run "'s operations are damaged in the history (piece "

/* A failed check's detail: the text, or its start when it is long. */
static const char *detail(const text *t) {
  static char start[301];
  snprintf(start, sizeof start, "%s", t->buf ? t->buf : "");
  return start;
}

/* Appends a line to an expected array, with the "[" or "," before it. */
static void add_line(text *t, const char *line, size_t n) {
  put_text(t, t->n ? "," : "[", 1);
  put_text(t, line, n);
}

static size_t creates(const char *line, size_t n) { return n > 12 && !memcmp(line, "{\"op\":\"create\"", 14) ? n : 0; }

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) check(0, sql, msg ? msg : "");
  sqlite3_free(msg);
}

/* Stores `bytes` as run_id's pieces, cut every `cut` bytes, as another
 * writer than history.c would have. */
static void store_pieces(sqlite3 *db, int64_t run_id, const unsigned char *bytes, size_t n, size_t cut) {
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "INSERT INTO sync_run_ops (run_id, piece, data) VALUES (?, ?, ?)", -1, &st, NULL);
  for (size_t at = 0, piece = 0; at < n; at += cut, piece++) {
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, (int)piece);
    sqlite3_bind_blob(st, 3, bytes + at, (int)(n - at < cut ? n - at : cut), SQLITE_STATIC);
    check(sqlite3_step(st) == SQLITE_DONE, "a piece stored", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
}

/* Runs whose pieces another writer made: one zlib stream, as syncvm kept
 * them before schema version 7, cut into many pieces; and a zstd frame
 * without the checksum history.c adds, in one piece. */
static void test_other_writers(sqlite3 *db, const text *all) {
  uLong zcap = compressBound((uLong)all->n);
  unsigned char *z = malloc(zcap);
  check(compress2(z, &zcap, (const Bytef *)all->buf, (uLong)all->n, 6) == Z_OK, "zlib compresses", "");
  store_pieces(db, 6, z, zcap, 4096);
  for (size_t step = 1000; step <= (8u << 20); step *= 91) {
    text t = read_back(db, 6, step);
    check(t.n == all->n && !memcmp(t.buf, all->buf, all->n), "a run deflated by an older syncvm is read back", detail(&t));
    free(t.buf);
  }
  exec(db, "UPDATE sync_run_ops SET data = CAST(substr(data, 1, 200) || 'xyz' || substr(data, 204) AS BLOB) WHERE run_id = 6 AND piece = 3");
  text t = read_back(db, 6, 1 << 16);
  check(!strncmp(t.buf, DAMAGED(6), strlen(DAMAGED(6))), "a damaged deflated piece", detail(&t));
  free(t.buf);
  free(z);

  size_t cap = ZSTD_compressBound(all->n);
  unsigned char *f = malloc(cap);
  size_t n = ZSTD_compress(f, cap, all->buf, all->n, 1);
  check(!ZSTD_isError(n), "zstd compresses", "");
  store_pieces(db, 7, f, n, n);
  t = read_back(db, 7, 1000);
  check(t.n == all->n && !memcmp(t.buf, all->buf, all->n), "a zstd frame without a checksum", detail(&t));
  free(t.buf);
  free(f);
}

int main(void) {
  sqlite3 *db;
  sqlite3_open(":memory:", &db);
  exec(db, "CREATE TABLE sync_run_ops (run_id INTEGER NOT NULL, piece INTEGER NOT NULL, data BLOB NOT NULL,"
           " PRIMARY KEY (run_id, piece))");
  /* 60,000 operations, varied enough to compress into several pieces, and
   * one of 3 MB (longer than the thread's read buffer) */
  oplog *l = oplog_new();
  text all = {0}, some = {0}; /* the arrays expected back: every operation, the creates */
  char line[200];
  srand(7);
  for (int i = 0; i < 60000; i++) {
    snprintf(line, sizeof line, "{\"op\":\"%s\",\"tmp\":%d,\"label\":\"Student %d %08x\"}", i % 3 ? "create" : "link", i, i,
             (unsigned)rand());
    oplog_add_text(l, line, strlen(line));
    add_line(&all, line, strlen(line));
    if (creates(line, strlen(line))) add_line(&some, line, strlen(line));
  }
  size_t big = 3u << 20;
  char *huge = malloc(big + 64);
  size_t hn = (size_t)sprintf(huge, "{\"op\":\"create\",\"text\":\"");
  for (size_t k = 0; k < big; k++) huge[hn++] = (char)('a' + rand() % 26);
  hn += (size_t)sprintf(huge + hn, "\"}");
  oplog_add_text(l, huge, hn);
  add_line(&all, huge, hn), add_line(&some, huge, hn);
  put_text(&all, "]", 1), put_text(&some, "]", 1);

  char err[300] = "";
  check(hist_put(db, 1, l, NULL, err, sizeof err), "hist_put", err);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "SELECT count(*), max(length(data)) FROM sync_run_ops WHERE run_id = 1", -1, &st, NULL);
  sqlite3_step(st);
  int pieces = sqlite3_column_int(st, 0), longest = sqlite3_column_int(st, 1);
  sqlite3_finalize(st);
  check(pieces > 2 && longest <= (int)HIST_PIECE, "several pieces, none over HIST_PIECE", "");
  sqlite3_prepare_v2(db, "SELECT hex(substr(data, 1, 4)) FROM sync_run_ops WHERE run_id = 1 AND piece = 0", -1, &st, NULL);
  sqlite3_step(st);
  check(!strcmp((const char *)sqlite3_column_text(st, 0), "28B52FFD"), "a zstd frame", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  for (size_t step = 1000; step <= (8u << 20); step *= 91) {
    text t = read_back(db, 1, step);
    check(t.n == all.n && !memcmp(t.buf, all.buf, all.n), "read back as written", detail(&t));
    free(t.buf);
  }

  /* in a thread, while this one reads the log through its FILE */
  hist_job *j = hist_start(l, creates);
  check(j != NULL, "hist_start", "");
  size_t k, seen = 0;
  oplog_rewind(l);
  while (oplog_next_text(l, &k)) seen++;
  check(seen == 60001, "the log read beside the thread", "");
  check(j && hist_finish(j, db, 2, err, sizeof err), "hist_finish", err);
  text t = read_back(db, 2, 1 << 16);
  check(t.n == some.n && !memcmp(t.buf, some.buf, some.n), "the thread's pieces hold the operations kept", detail(&t));
  free(t.buf);
  /* an apply that failed: the thread is waited for and nothing is stored */
  j = hist_start(l, NULL);
  check(j && hist_finish(j, NULL, 3, err, sizeof err), "hist_finish without a store", "");
  t = read_back(db, 3, 1 << 16);
  check(strstr(t.buf, "were not kept in the history") != NULL, "no pieces: not kept", detail(&t));
  free(t.buf);

  test_other_writers(db, &all);

  /* damaged and missing pieces */
  exec(db, "UPDATE sync_run_ops SET data = CAST(substr(data, 1, 200) || 'xyz' || substr(data, 204) AS BLOB) WHERE run_id = 1 AND piece = 1");
  t = read_back(db, 1, 1 << 16);
  /* (found where the stream stops making sense: at the latest, its checksum) */
  check(!strncmp(t.buf, DAMAGED(1), strlen(DAMAGED(1))), "a damaged piece", detail(&t));
  free(t.buf);
  exec(db, "DELETE FROM sync_run_ops WHERE run_id = 2 AND piece = 1");
  t = read_back(db, 2, 1 << 16);
  check(strcmp(t.buf, "error: run 2's operations are damaged in the history (piece 1: missing)") == 0, "a missing piece", detail(&t));
  free(t.buf);
  exec(db, "DELETE FROM sync_run_ops WHERE run_id = 2 AND piece = 0");
  t = read_back(db, 2, 1 << 16);
  check(strcmp(t.buf, "error: run 2's operations are damaged in the history (piece 0: missing)") == 0,
        "the first piece missing is damage, not a run that kept none", detail(&t));
  free(t.buf);
  exec(db, "INSERT INTO sync_run_ops SELECT 4, piece, data FROM sync_run_ops WHERE run_id = 1 AND piece = 0");
  exec(db, "UPDATE sync_run_ops SET data = CAST('not deflated' AS BLOB) WHERE run_id = 4");
  t = read_back(db, 4, 1 << 16);
  check(!strncmp(t.buf, DAMAGED(4) "0: ", strlen(DAMAGED(4) "0: ")), "neither zstd nor zlib", detail(&t));
  free(t.buf);

  /* What an applied run's history keeps (run_history_keeps): a create
   * without the links plan writes last in it, and never cut elsewhere. */
  static const char *const cases[][2] = {
      {"{\"op\":\"create\",\"entity\":\"student\",\"tmp\":1,\"sid\":\"S1\",\"set\":{\"sis_id\":\"S1\"},"
       "\"links\":[{\"source\":\"sis\",\"sid\":\"S1\",\"domain\":\"new\",\"hash\":\"0123456789abcdef\"}]}",
       "{\"op\":\"create\",\"entity\":\"student\",\"tmp\":1,\"sid\":\"S1\",\"set\":{\"sis_id\":\"S1\"}}"},
      /* an attribute named links, last in the set, and no links member */
      {"{\"op\":\"create\",\"entity\":\"student\",\"tmp\":2,\"set\":{\"links\":[1]}}",
       "{\"op\":\"create\",\"entity\":\"student\",\"tmp\":2,\"set\":{\"links\":[1]}}"},
      /* links that are not the last member */
      {"{\"op\":\"create\",\"tmp\":3,\"links\":[],\"sid\":\"S3\"}", "{\"op\":\"create\",\"tmp\":3,\"links\":[],\"sid\":\"S3\"}"},
      /* a string holding the member's text */
      {"{\"op\":\"create\",\"tmp\":4,\"label\":\"a \\\",\\\"links\\\":[]}\"}",
       "{\"op\":\"create\",\"tmp\":4,\"label\":\"a \\\",\\\"links\\\":[]}\"}"},
      {"{\"op\":\"link\",\"source\":\"sis\",\"entity\":\"student\",\"sid\":\"S5\",\"tmp\":5,\"domain\":\"new\"}", NULL},
      {"{\"op\":\"link\",\"source\":\"sis\",\"entity\":\"student\",\"sid\":\"S6\",\"hub_id\":6,\"domain\":\"email\"}",
       "{\"op\":\"link\",\"source\":\"sis\",\"entity\":\"student\",\"sid\":\"S6\",\"hub_id\":6,\"domain\":\"email\"}"},
      {"{\"op\":\"snapshot\",\"source\":\"sis\",\"entity\":\"student\",\"sid\":\"S7\",\"hash\":\"00\"}", NULL},
  };
  oplog *h = oplog_new();
  text kept = {0};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    oplog_add_text(h, cases[i][0], strlen(cases[i][0]));
    if (cases[i][1]) add_line(&kept, cases[i][1], strlen(cases[i][1]));
  }
  put_text(&kept, "]", 1);
  check(hist_put(db, 5, h, run_history_keeps, err, sizeof err), "hist_put of an applied run", err);
  t = read_back(db, 5, 1 << 16);
  check(t.n == kept.n && !memcmp(t.buf, kept.buf, kept.n), "an applied run keeps its creates without their links", t.buf);
  free(t.buf), free(kept.buf);
  oplog_free(h);

  free(all.buf), free(some.buf), free(huge);
  oplog_free(l);
  sqlite3_close(db);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
