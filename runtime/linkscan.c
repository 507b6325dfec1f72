/* linkscan.c: the links read on a second thread (see linkscan.h).
 *
 * Two batches go back and forth as in feedpipe.c: the thread fills one
 * (rows, and their ids in the batch's arena) while the taker matches the
 * other; whose a batch is changes only under the mutex.
 */
#include "linkscan.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

#define LS_BATCH 1024

typedef struct {
  ls_row rows[LS_BATCH];
  arena ar;
  int n, end;
  int full; /* the taker's */
} ls_batch;

struct linkscan {
  sqlite3 *db;
  const char *sql;
  const int64_t *feeds;
  int nfeeds;
  /* the filler's (the thread's, or the taker's when there is none) */
  sqlite3_stmt *st;
  int prepared, done;
  pthread_t thread;
  int threaded;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ls_batch b[2];
  int cur, taking; /* the taker's batch, and whether it holds it */
  int stop;
};

/* The index of `feed` in ls->feeds, -1 when it is not wanted (a run wants
 * a few). */
static int wanted(const linkscan *ls, int64_t feed) {
  for (int i = 0; i < ls->nfeeds; i++)
    if (ls->feeds[i] == feed) return i;
  return -1;
}

/* Fills b with the next rows of wanted feeds. */
static void fill(linkscan *ls, ls_batch *b) {
  if (!ls->prepared) ls->prepared = sqlite3_prepare_v2(ls->db, ls->sql, -1, &ls->st, NULL) == SQLITE_OK ? 1 : -1;
  int ok = ls->prepared == 1 && !ls->done, rc = ls->done ? SQLITE_DONE : SQLITE_ERROR;
  arena_rewind(&b->ar);
  b->n = 0;
  while (ok && b->n < LS_BATCH && (rc = sqlite3_step(ls->st)) == SQLITE_ROW) {
    int f = wanted(ls, sqlite3_column_int64(ls->st, 0));
    if (f < 0) continue;
    ls_row *r = &b->rows[b->n++];
    const char *sid = (const char *)sqlite3_column_text(ls->st, 1);
    r->sid = sid ? arena_strndup(&b->ar, sid, strlen(sid)) : NULL;
    r->hub = sqlite3_column_int64(ls->st, 2);
    r->gone = sqlite3_column_int(ls->st, 3);
    r->head = sqlite3_column_type(ls->st, 4) == SQLITE_INTEGER ? (uint64_t)sqlite3_column_int64(ls->st, 4) : 0;
    r->feed = f;
  }
  b->end = ok && rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
  if (b->end) ls->done = 1;
}

static void *scan(void *arg) {
  linkscan *ls = arg;
  for (int k = 0; !ls->done; k ^= 1) {
    pthread_mutex_lock(&ls->mu);
    while (ls->b[k].full && !ls->stop) pthread_cond_wait(&ls->cv, &ls->mu);
    int stop = ls->stop;
    pthread_mutex_unlock(&ls->mu);
    if (stop) break;
    fill(ls, &ls->b[k]);
    pthread_mutex_lock(&ls->mu);
    ls->b[k].full = 1;
    pthread_cond_broadcast(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
  }
  sqlite3_finalize(ls->st); /* on this thread: the statement is never the taker's */
  ls->st = NULL;
  return NULL;
}

linkscan *ls_start(sqlite3 *db, const char *sql, const int64_t *feeds, int nfeeds) {
  linkscan *ls = calloc(1, sizeof *ls);
  if (!ls) return NULL;
  ls->db = db, ls->sql = sql, ls->feeds = feeds, ls->nfeeds = nfeeds;
  pthread_mutex_init(&ls->mu, NULL);
  pthread_cond_init(&ls->cv, NULL);
  ls->threaded = pthread_create(&ls->thread, NULL, scan, ls) == 0;
  return ls;
}

int ls_next(linkscan *ls, const ls_row **rows, int *end) {
  ls_batch *b = &ls->b[0];
  if (!ls->threaded) { /* no thread: read here */
    fill(ls, b);
  } else {
    pthread_mutex_lock(&ls->mu);
    if (ls->taking) { /* the batch taken last goes back to the thread */
      ls->b[ls->cur].full = 0;
      ls->cur ^= 1;
      pthread_cond_broadcast(&ls->cv);
    }
    while (!ls->b[ls->cur].full) pthread_cond_wait(&ls->cv, &ls->mu);
    ls->taking = 1;
    pthread_mutex_unlock(&ls->mu);
    b = &ls->b[ls->cur];
  }
  *rows = b->rows;
  *end = b->end;
  return b->n;
}

void ls_stop(linkscan *ls) {
  if (!ls) return;
  if (ls->threaded) {
    pthread_mutex_lock(&ls->mu);
    ls->stop = 1;
    pthread_cond_broadcast(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
    pthread_join(ls->thread, NULL);
  }
  sqlite3_finalize(ls->st);
  pthread_mutex_destroy(&ls->mu);
  pthread_cond_destroy(&ls->cv);
  for (int k = 0; k < 2; k++) arena_free(&ls->b[k].ar);
  free(ls);
}
