/* par.h: a loop shared by this thread and one more.
 *
 * The machine a district syncs on may have two cores, and some phases of a
 * run keep only one of them busy: the reference check, for one, looks up a
 * million-student district's sixteen million references on the first core
 * while the second has nothing to do.  par_for splits such a loop into
 * chunks that the two threads take in turn, each the next one not yet
 * taken, so that neither waits for the other while work is left.
 *
 * fn must be safe to run on two threads at once over different chunks:
 * it reads what both share and writes only its own chunk's results, and
 * anything per thread (an arena, a read window) it keeps by `worker`.
 */
#ifndef SYNC_PAR_H
#define SYNC_PAR_H

#include <stddef.h>

#define PAR_WORKERS 2 /* this thread (worker 0) and one more (worker 1) */

typedef void par_fn(void *arg, int worker, size_t from, size_t to);

/* Calls fn(arg, worker, from, to) over [0, n) in chunks of `chunk` items
 * (the last may be shorter), and returns once every chunk is done.  When
 * no second thread can be started, this thread does them all. */
void par_for(size_t n, size_t chunk, par_fn *fn, void *arg);

#endif
