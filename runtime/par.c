/* par.c: a loop shared by this thread and one more (see par.h).
 *
 * The threads take chunks from one counter; the only thing they share is
 * that counter, so taking a chunk is one atomic add, and no lock is held.
 */
#include "par.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct {
  par_fn *fn;
  void *arg;
  size_t n, chunk;
  atomic_size_t next; /* the first item of the next chunk to take */
} par_loop;

static void take_chunks(par_loop *l, int worker) {
  for (;;) {
    size_t from = atomic_fetch_add(&l->next, l->chunk);
    if (from >= l->n) return;
    size_t to = l->n - from < l->chunk ? l->n : from + l->chunk;
    l->fn(l->arg, worker, from, to);
  }
}

static void *helper(void *arg) {
  take_chunks(arg, 1);
  return NULL;
}

void par_for(size_t n, size_t chunk, par_fn *fn, void *arg) {
  par_loop l = {fn, arg, n, chunk ? chunk : 1, 0};
  pthread_t t;
  /* A loop of one chunk is done here: starting a thread costs more. */
  int started = n > l.chunk && pthread_create(&t, NULL, helper, &l) == 0;
  take_chunks(&l, 0);
  if (started) pthread_join(t, NULL);
}
