/* bgwrite.c: a file written on a second thread (see bgwrite.h).
 *
 * The buffers go round in order: the caller fills buf[cur], hands it over
 * (full) and moves to the next, waiting only when that one is still being
 * written; the thread writes them in the same order.  Whose a buffer is
 * (the caller's while free, the thread's while full) changes only under
 * the mutex, so neither touches the other's.
 */
#include "bgwrite.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct bgwriter {
  int fd;
  bgw_sink sink;    /* else the buffers go to fd */
  void *sink_ctx;
  char *buf[BGW_BUFS];
  int cur;          /* the buffer being filled */
  size_t fill;      /* its bytes so far */
  uint64_t at;      /* the file offset of its first byte */
  /* under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t len[BGW_BUFS]; /* a full buffer's bytes; 0: free */
  uint64_t off[BGW_BUFS];
  int failed, err, stop;
  pthread_t thread;
  int threaded;
};

/* All of n bytes at `off`; 0 and errno otherwise. */
static int write_all(int fd, const char *p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t got = pwrite(fd, p, n, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EIO;
      return 0;
    }
    p += got, n -= (size_t)got, off += (uint64_t)got;
  }
  return 1;
}

/* A full buffer to where it goes; 0 and errno when it cannot. */
static int put(bgwriter *w, const char *p, size_t n, uint64_t off) {
  return w->sink ? w->sink(w->sink_ctx, p, n) : write_all(w->fd, p, n, off);
}

static void *writer(void *arg) {
  bgwriter *w = arg;
  pthread_mutex_lock(&w->mu);
  for (int next = 0;; next = (next + 1) % BGW_BUFS) {
    while (!w->len[next] && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->len[next]) break; /* stopped, and nothing left to write */
    size_t n = w->len[next];
    uint64_t off = w->off[next];
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    int ok = failed || put(w, w->buf[next], n, off); /* after a failure the rest is dropped */
    int err = errno;
    pthread_mutex_lock(&w->mu);
    if (!ok) w->failed = 1, w->err = err;
    w->len[next] = 0;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static bgwriter *start(int fd, uint64_t at, bgw_sink sink, void *ctx) {
  bgwriter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  for (int i = 0; i < BGW_BUFS; i++)
    if (!(w->buf[i] = malloc(BGW_BUF))) {
      for (int k = 0; k < i; k++) free(w->buf[k]);
      free(w);
      return NULL;
    }
  w->fd = fd;
  w->at = at;
  w->sink = sink, w->sink_ctx = ctx;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->threaded = pthread_create(&w->thread, NULL, writer, w) == 0;
  return w;
}

bgwriter *bgw_open(int fd, uint64_t at) { return start(fd, at, NULL, NULL); }

bgwriter *bgw_open_sink(bgw_sink sink, void *ctx) { return start(-1, 0, sink, ctx); }

/* Hands the buffer being filled to the thread (or, without one, writes it
 * here) and moves to the next. */
static void hand_over(bgwriter *w) {
  if (!w->fill) return;
  if (!w->threaded) {
    if (!w->failed && !put(w, w->buf[w->cur], w->fill, w->at)) w->failed = 1, w->err = errno;
  } else {
    pthread_mutex_lock(&w->mu);
    w->len[w->cur] = w->fill;
    w->off[w->cur] = w->at;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->cur = (w->cur + 1) % BGW_BUFS;
  }
  w->at += w->fill;
  w->fill = 0;
}

/* Waits until the buffer to fill is free (written), and says whether every
 * write so far went well. */
static int ready(bgwriter *w) {
  if (!w->threaded) return !w->failed;
  pthread_mutex_lock(&w->mu);
  while (w->len[w->cur]) pthread_cond_wait(&w->cv, &w->mu);
  int failed = w->failed, err = w->err;
  pthread_mutex_unlock(&w->mu);
  if (failed) errno = err;
  return !failed;
}

int bgw_write(bgwriter *w, const void *bytes, size_t n) {
  const char *p = bytes;
  while (n > 0) {
    if (w->fill == 0 && !ready(w)) return 0;
    size_t k = BGW_BUF - w->fill < n ? BGW_BUF - w->fill : n;
    memcpy(w->buf[w->cur] + w->fill, p, k);
    w->fill += k, p += k, n -= k;
    if (w->fill == BGW_BUF) hand_over(w);
  }
  return 1;
}

void *bgw_reserve(bgwriter *w, size_t n) {
  if (n > BGW_BUF) return NULL;
  if (BGW_BUF - w->fill < n) hand_over(w);
  if (w->fill == 0 && !ready(w)) return NULL;
  return w->buf[w->cur] + w->fill;
}

void bgw_wrote(bgwriter *w, size_t n) {
  w->fill += n;
  if (w->fill == BGW_BUF) hand_over(w);
}

int bgw_sync(bgwriter *w) {
  hand_over(w);
  if (!w->threaded) return !w->failed;
  pthread_mutex_lock(&w->mu);
  for (int i = 0; i < BGW_BUFS; i++)
    while (w->len[i]) pthread_cond_wait(&w->cv, &w->mu);
  int failed = w->failed, err = w->err;
  pthread_mutex_unlock(&w->mu);
  if (failed) errno = err;
  return !failed;
}

uint64_t bgw_offset(const bgwriter *w) { return w->at + w->fill; }

size_t bgw_room(const bgwriter *w) { return BGW_BUF - w->fill; }

void bgw_flush(bgwriter *w) { hand_over(w); }

int bgw_close(bgwriter *w) {
  if (!w) return 1;
  int ok = bgw_sync(w);
  if (w->threaded) {
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
  }
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  for (int i = 0; i < BGW_BUFS; i++) free(w->buf[i]);
  free(w);
  return ok;
}
