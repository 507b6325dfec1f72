/* feedpipe.c: a feed read on a second thread (see feedpipe.h).
 *
 * Two batches take turns.  The reader fills an empty one (a feed's values
 * borrow from its row buffer, valid until its next record, so each is
 * copied into the batch's arena) and hands it over full; the mapper takes
 * its records and hands it back empty.  One mutex and one condition guard
 * the batches' states; nothing else is shared while both threads run.
 */
#include "feedpipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1024 /* records: big enough that the threads rarely meet, small enough to stay in cache */

enum { EMPTY, FILLING, FULL };

typedef struct {
  int state;
  arena ar;     /* the batch's strings, lists and places */
  value *fields; /* BATCH records of nfields + 1 values */
  const char *where[BATCH];
  unsigned char deleted[BATCH];
  int n;        /* records in the batch */
  int end;      /* after them: FEED_RECORD (more batches come), FEED_END, or the feed's error */
  char err[1200];
} batch;

struct feedpipe {
  feed *f;
  int nfields;
  const plan *p;  /* fpipe_open: the thread opens the feed of this unit first... */
  uint32_t unit;
  int opened;     /* ...and says so under the lock: 1, or -1 when it failed (open_err) */
  int given;      /* fpipe_opened gave the feed out */
  char open_err[1200];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t changed;
  atomic_int stop; /* the mapper has gone: the reader ends after its record */
  batch b[2];
  int cur;      /* the mapper's batch... */
  int ready;    /* ...seen full (under the lock): its records are the mapper's alone */
  int pos;      /* its next record */
  double waited; /* seconds the mapper waited for a batch */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A value borrowed from the feed's row, copied to live as long as its batch. */
static value copy_value(arena *a, value v) {
  if (v.kind == V_STR) return v_str(v.len ? arena_strndup(a, v.u.s, v.len) : "", v.len);
  if (v.kind == V_LIST) {
    value *items = arena_alloc(a, (v.len ? v.len : 1) * sizeof *items);
    for (uint32_t i = 0; i < v.len; i++) items[i] = copy_value(a, v.u.items[i]);
    return v_list(items, v.len);
  }
  return v;
}

/* Fills one batch; returns its end (FEED_RECORD when the feed goes on). */
static int fill(feedpipe *fp, batch *b, arena *row) {
  int width = fp->nfields + 1;
  arena_rewind(&b->ar);
  b->n = 0;
  while (b->n < BATCH && !atomic_load(&fp->stop)) {
    value *fields = b->fields + (size_t)b->n * (size_t)width;
    arena_rewind(row);
    int rc = feed_next(fp->f, fields, row, b->err, sizeof b->err);
    if (rc != FEED_RECORD) return rc;
    for (int i = 0; i < width; i++) fields[i] = copy_value(&b->ar, fields[i]);
    const char *where = feed_where(fp->f);
    b->where[b->n] = where ? arena_strndup(&b->ar, where, strlen(where)) : NULL;
    b->deleted[b->n] = (unsigned char)feed_deleted(fp->f);
    b->n++;
  }
  return FEED_RECORD;
}

static void *reader(void *arg) {
  feedpipe *fp = arg;
  if (fp->p) {
    feed *f = feed_open(fp->p, fp->unit, fp->open_err, sizeof fp->open_err);
    pthread_mutex_lock(&fp->mu);
    fp->f = f, fp->opened = f ? 1 : -1;
    pthread_cond_broadcast(&fp->changed);
    pthread_mutex_unlock(&fp->mu);
    if (!f) return NULL;
  }
  arena row = {0}; /* what feed_next allocates for a record, copied out at once */
  for (int k = 0;; k ^= 1) {
    batch *b = &fp->b[k];
    pthread_mutex_lock(&fp->mu);
    while (b->state != EMPTY && !atomic_load(&fp->stop)) pthread_cond_wait(&fp->changed, &fp->mu);
    int stop = atomic_load(&fp->stop);
    if (!stop) b->state = FILLING;
    pthread_mutex_unlock(&fp->mu);
    if (stop) break;
    int end = fill(fp, b, &row);
    pthread_mutex_lock(&fp->mu);
    b->end = end;
    b->state = FULL;
    pthread_cond_broadcast(&fp->changed);
    pthread_mutex_unlock(&fp->mu);
    if (end != FEED_RECORD) break;
  }
  arena_free(&row);
  return NULL;
}

static feedpipe *start(feed *f, const plan *p, uint32_t unit, int nfields) {
  feedpipe *fp = calloc(1, sizeof *fp);
  if (!fp) return NULL;
  fp->f = f;
  fp->p = p, fp->unit = unit;
  fp->nfields = nfields;
  size_t width = (size_t)nfields + 1;
  fp->b[0].fields = calloc(BATCH * width, sizeof(value));
  fp->b[1].fields = calloc(BATCH * width, sizeof(value));
  int mu = fp->b[0].fields && fp->b[1].fields && pthread_mutex_init(&fp->mu, NULL) == 0;
  int cond = mu && pthread_cond_init(&fp->changed, NULL) == 0;
  if (cond && pthread_create(&fp->thread, NULL, reader, fp) == 0) return fp;
  if (cond) pthread_cond_destroy(&fp->changed);
  if (mu) pthread_mutex_destroy(&fp->mu);
  free(fp->b[0].fields);
  free(fp->b[1].fields);
  free(fp);
  return NULL;
}

feedpipe *fpipe_start(feed *f, int nfields) { return start(f, NULL, 0, nfields); }

feedpipe *fpipe_open(const plan *p, uint32_t unit, int nfields) { return start(NULL, p, unit, nfields); }

feed *fpipe_opened(feedpipe *fp, char *err, size_t errsize) {
  pthread_mutex_lock(&fp->mu);
  while (!fp->opened) pthread_cond_wait(&fp->changed, &fp->mu);
  pthread_mutex_unlock(&fp->mu);
  if (fp->opened < 0) {
    snprintf(err, errsize, "%s", fp->open_err);
    return NULL;
  }
  fp->given = 1;
  return fp->f;
}

int fpipe_next(feedpipe *fp, value **fields, const char **where, int *deleted, char *err, size_t errsize) {
  batch *b = &fp->b[fp->cur];
  if (!fp->ready || fp->pos == b->n) {
    pthread_mutex_lock(&fp->mu);
    if (fp->ready && b->end == FEED_RECORD) { /* taken whole: back to the reader, on to the other */
      b->state = EMPTY;
      pthread_cond_broadcast(&fp->changed);
      fp->cur ^= 1, fp->pos = 0, fp->ready = 0;
      b = &fp->b[fp->cur];
    }
    if (b->state != FULL) { /* timed only when it waits: a clock read per record was 3% of a plan */
      double t0 = now_s();
      while (b->state != FULL) pthread_cond_wait(&fp->changed, &fp->mu);
      fp->waited += now_s() - t0;
    }
    fp->ready = 1;
    pthread_mutex_unlock(&fp->mu);
    if (fp->pos == b->n) { /* the feed's end, or its error, after every record */
      if (b->end != FEED_END) snprintf(err, errsize, "%s", b->err);
      return b->end;
    }
  }
  int i = fp->pos++;
  *fields = b->fields + (size_t)i * (size_t)(fp->nfields + 1);
  *where = b->where[i];
  *deleted = b->deleted[i];
  return FEED_RECORD;
}

double fpipe_waited(const feedpipe *fp) { return fp->waited; }

void fpipe_stop(feedpipe *fp) {
  if (!fp) return;
  pthread_mutex_lock(&fp->mu);
  atomic_store(&fp->stop, 1);
  pthread_cond_broadcast(&fp->changed);
  pthread_mutex_unlock(&fp->mu);
  pthread_join(fp->thread, NULL);
  if (fp->p && fp->f && !fp->given) feed_close(fp->f);
  pthread_cond_destroy(&fp->changed);
  pthread_mutex_destroy(&fp->mu);
  for (int k = 0; k < 2; k++) {
    arena_free(&fp->b[k].ar);
    free(fp->b[k].fields);
  }
  free(fp);
}
