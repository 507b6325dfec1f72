/* test_par.c: par_for (par.h) calls its function once for each chunk of
 * [0, n), never past n nor longer than a chunk, on both threads when there
 * is more than a chunk of work, and returns only once every chunk is done. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "par.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

typedef struct {
  size_t n, chunk;
  atomic_int *seen;         /* times each item was given */
  atomic_int bad_range;     /* chunks past n, empty, or longer than a chunk */
  atomic_int chunks[PAR_WORKERS];
  atomic_int started[PAR_WORKERS]; /* chunks each worker has begun */
  int wait_for_helper;      /* each worker's first chunk waits until the other has begun one */
} loop;

static void sleep_ms(int ms) {
  struct timespec t = {0, ms * 1000000L};
  nanosleep(&t, NULL);
}

static void visit(void *arg, int worker, size_t from, size_t to) {
  loop *l = arg;
  if (from >= to || to > l->n || to - from > l->chunk || worker < 0 || worker >= PAR_WORKERS) {
    atomic_fetch_add(&l->bad_range, 1);
    return;
  }
  /* Either thread may be slow to start (a loaded machine) and find every
   * chunk taken; holding each one's first chunk until the other has begun
   * one makes both take a chunk, unless a thread never starts at all. */
  if (atomic_fetch_add(&l->started[worker], 1) == 0 && l->wait_for_helper)
    for (int ms = 0; ms < 5000 && atomic_load(&l->started[1 - worker]) == 0; ms++) sleep_ms(1);
  for (size_t i = from; i < to; i++) atomic_fetch_add(&l->seen[i], 1);
  atomic_fetch_add(&l->chunks[worker], 1);
}

/* Runs par_for over n items in chunks of `chunk`; whether each was given once. */
static void run(size_t n, size_t chunk, int wait_for_helper) {
  loop l = {n, chunk ? chunk : 1, calloc(n + 1, sizeof *l.seen), 0, {0}, {0}, wait_for_helper};
  par_for(n, chunk, visit, &l);
  size_t once = 0;
  for (size_t i = 0; i < n; i++) once += atomic_load(&l.seen[i]) == 1;
  char what[96], detail[128];
  snprintf(what, sizeof what, "%zu items in chunks of %zu: each given once", n, chunk);
  snprintf(detail, sizeof detail, "%zu of %zu once, %d bad chunks", once, n, atomic_load(&l.bad_range));
  check(once == n && atomic_load(&l.bad_range) == 0, what, detail);
  size_t want = n ? (n + l.chunk - 1) / l.chunk : 0;
  snprintf(what, sizeof what, "%zu items in chunks of %zu: %zu chunks", n, chunk, want);
  snprintf(detail, sizeof detail, "%d and %d", atomic_load(&l.chunks[0]), atomic_load(&l.chunks[1]));
  check((size_t)(atomic_load(&l.chunks[0]) + atomic_load(&l.chunks[1])) == want, what, detail);
  if (wait_for_helper) {
    snprintf(what, sizeof what, "%zu items in chunks of %zu: both threads take chunks", n, chunk);
    check(atomic_load(&l.chunks[0]) > 0 && atomic_load(&l.chunks[1]) > 0, what, detail);
  }
  if (n <= l.chunk) {
    snprintf(what, sizeof what, "%zu items in chunks of %zu: one chunk is done on this thread", n, chunk);
    check(atomic_load(&l.chunks[1]) == 0, what, detail);
  }
  free(l.seen);
}

int main(void) {
  run(0, 16, 0);
  run(1, 16, 0);
  run(16, 16, 0);
  run(17, 16, 1);
  run(100000, 1, 1);
  run(100000, 7, 1);
  run(1000003, 1024, 1);
  run(5, 0, 1); /* a chunk of 0 is taken as 1 */
  printf("par: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
