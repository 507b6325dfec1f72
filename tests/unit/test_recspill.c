/* test_recspill.c: a record's body put in the spill (recspill.h) comes back
 * as it was put: its where, hash and every kind of value, also while later
 * bodies are still being written on the spill's thread, for bodies larger
 * than its read window and its write buffers, and on two threads at once
 * through windows of their own once the spill is settled; and a write that
 * fails (a file too large for the process's limit, as on a full disk) is
 * reported by spill_failed and by reading back, never lost. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "par.h"
#include "recspill.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

#define NATTRS 5
#define BIG (3u << 20) /* larger than a read window, and than a write buffer */

static char *big;

/* Lengths on either side of where a varint length takes another byte. */
static const uint32_t edges[] = {0, 1, 127, 128, 16383, 16384, 2097151, 2097152};

/* Record i's values: a string whose length varies (every 500th is BIG
 * bytes, and every 50th an edge's), an integer, null, a list of two
 * strings, and a decimal. */
static void record(int i, value *v, value *items, char *text, size_t size) {
  int n = snprintf(text, size, "record-%d-%.*s", i, i % 37, "abcdefghijklmnopqrstuvwxyzabcdefghijk");
  v[0] = i % 500 == 7 ? v_str(big, BIG) : i % 50 == 3 ? v_str(big, edges[i / 50 % 8]) : v_str(text, (size_t)n);
  v[1] = v_int((int64_t)i * 1000003);
  v[2] = v_null();
  items[0] = v_str("a", 1), items[1] = v_str(text, (size_t)n);
  v[3] = v_list(items, 2);
  v[4] = (value){V_DEC, 0, {0}};
  v[4].u.d = i / 4.0;
}

static int same_value(value a, value b) {
  if (a.kind != b.kind) return 0;
  switch (a.kind) {
    case V_STR: return a.len == b.len && !memcmp(a.u.s, b.u.s, a.len) && b.u.s[b.len] == '\0';
    case V_INT: return a.u.i == b.u.i;
    case V_DEC: return a.u.d == b.u.d;
    case V_LIST:
      if (a.len != b.len) return 0;
      for (uint32_t k = 0; k < a.len; k++)
        if (!same_value(a.u.items[k], b.u.items[k])) return 0;
      return 1;
    default: return 1;
  }
}

/* Whether body i reads back as put: through spill_get, or (w not NULL)
 * through spill_get_in and the window w. */
static int reads_back_in(recspill *s, spill_window *win, int i, uint64_t off, uint32_t len) {
  value want[NATTRS], items[2], got[NATTRS];
  char text[128], where[64];
  record(i, want, items, text, sizeof text);
  snprintf(where, sizeof where, "users.csv:%d", i + 2);
  arena a = {0};
  const char *w = NULL;
  uint64_t hash = 0, alone = 0;
  int ok = (win ? spill_get_in(s, win, off, len, &a, &w, &hash, got, NATTRS) : spill_get(s, off, len, &a, &w, &hash, got, NATTRS)) &&
           !strcmp(w, where) && hash == (uint64_t)i * 77 + 1 && (win || (spill_hash(s, off, len, &alone) && alone == hash));
  for (int k = 0; ok && k < NATTRS; k++) ok = same_value(want[k], got[k]);
  arena_free(&a);
  return ok;
}

static int reads_back(recspill *s, int i, uint64_t off, uint32_t len) { return reads_back_in(s, NULL, i, off, len); }

#define N 4000

/* Two threads read bodies at once, each through its own window (par.h). */
typedef struct {
  recspill *s;
  const uint64_t *off;
  const uint32_t *len;
  spill_window win[PAR_WORKERS];
  int bad[PAR_WORKERS], read[PAR_WORKERS];
  atomic_int began[PAR_WORKERS]; /* each thread has begun a chunk */
} shared_read;

/* Each thread's first chunk waits (up to 5 s) until the other has begun
 * one, so that the two surely read at once: either may be slow to start on
 * a loaded machine and find every chunk taken. */
static void read_chunk(void *arg, int worker, size_t from, size_t to) {
  shared_read *r = arg;
  if (r->read[worker] == 0) {
    atomic_store(&r->began[worker], 1);
    for (int ms = 0; ms < 5000 && !atomic_load(&r->began[1 - worker]); ms++) nanosleep(&(struct timespec){0, 1000000L}, NULL);
  }
  for (size_t i = from; i < to; i++) {
    r->bad[worker] += !reads_back_in(r->s, &r->win[worker], (int)i, r->off[i], r->len[i]);
    r->read[worker]++;
  }
}

static void test_shared_reads(recspill *s, const uint64_t *off, const uint32_t *len) {
  shared_read r = {s, off, len, {{0}}, {0}, {0}, {0}};
  par_for(N, 64, read_chunk, &r);
  char detail[96];
  snprintf(detail, sizeof detail, "%d and %d bad of %d and %d", r.bad[0], r.bad[1], r.read[0], r.read[1]);
  check(r.read[0] + r.read[1] == N && r.read[0] > 0 && r.read[1] > 0 && !r.bad[0] && !r.bad[1],
        "bodies read on two threads at once, each through its window", detail);
  for (int w = 0; w < PAR_WORKERS; w++) spill_window_free(&r.win[w]);
}

static void test_round_trip(void) {
  recspill *s = spill_new();
  check(s != NULL, "a spill", "");
  if (!s) return;
  static uint64_t off[N];
  static uint32_t len[N];
  int put_ok = 1, early_ok = 1;
  for (int i = 0; i < N; i++) {
    value v[NATTRS], items[2];
    char text[128], where[64];
    record(i, v, items, text, sizeof text);
    snprintf(where, sizeof where, "users.csv:%d", i + 2);
    put_ok &= spill_put(s, where, (uint64_t)i * 77 + 1, v, NATTRS, &off[i], &len[i]);
    /* now and then, read back a body put a while ago and the one just put */
    if (i % 613 == 0) early_ok &= reads_back(s, i / 2, off[i / 2], len[i / 2]) && reads_back(s, i, off[i], len[i]);
  }
  check(put_ok, "every body put", "");
  check(early_ok, "bodies read back between puts", "");
  check(!spill_failed(s), "no write failed", "");
  int all = 1, backwards = 1;
  for (int i = 0; i < N; i++) all &= reads_back(s, i, off[i], len[i]);
  for (int i = N - 1; i >= 0; i -= 3) backwards &= reads_back(s, i, off[i], len[i]);
  check(all, "every body read back in order", "");
  check(backwards, "bodies read back out of order", "");
  check(len[7] > BIG, "a body larger than a buffer was put", "");
  /* spill_get_in does not wait for writes: before spill_settle, it refuses */
  value v[NATTRS], items[2];
  char text[128];
  record(1, v, items, text, sizeof text);
  spill_put(s, "users.csv:3", 78, v, NATTRS, &off[1], &len[1]);
  spill_window win = {0};
  check(!reads_back_in(s, &win, 1, off[1], len[1]), "an unsettled spill is not read through a window", "");
  check(spill_settle(s) && reads_back_in(s, &win, 1, off[1], len[1]), "a settled one is", "");
  spill_window_free(&win);
  test_shared_reads(s, off, len);
  spill_free(s);
}

/* In a child: files may not grow past 256 KB.  The puts go on; the failure
 * must show in spill_failed and in reading back.  Exit 0 when it does. */
static int full_child(void) {
  signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
  struct rlimit rl = {256u << 10, 256u << 10};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
  recspill *s = spill_new();
  if (!s) return 4;
  uint64_t off = 0, last_off = 0;
  uint32_t len = 0, last_len = 0;
  for (int i = 0; i < N; i++) {
    value v[NATTRS], items[2];
    char text[128];
    record(i % 500 == 7 ? i + 1 : i, v, items, text, sizeof text); /* no BIG body: it alone passes the limit */
    spill_put(s, "users.csv:2", 1, v, NATTRS, &off, &len);
    last_off = off, last_len = len;
  }
  int reported = spill_failed(s);
  arena a = {0};
  const char *w;
  uint64_t hash;
  value got[NATTRS];
  int read = spill_get(s, last_off, last_len, &a, &w, &hash, got, NATTRS);
  arena_free(&a);
  spill_free(s);
  return reported && !read ? 0 : 5;
}

static void test_full(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(full_child());
  int status = 0;
  check(pid > 0 && waitpid(pid, &status, 0) == pid, "the child", "");
  char detail[64];
  snprintf(detail, sizeof detail, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a failed write is reported and not read back", detail);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  big = malloc(BIG);
  if (!big) return 1;
  for (size_t i = 0; i < BIG; i++) big[i] = (char)('a' + i % 23);
  test_round_trip();
  test_full();
  free(big);
  printf("recspill: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
