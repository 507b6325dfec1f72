/* util.c: allocation wrappers, string buffers, edit distance, file reading. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void) {
  fputs("syncc: out of memory\n", stderr);
  exit(2);
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) oom();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) oom();
  return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *xasprintf(const char *fmt, ...) {
  sbuf b = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  return b.data ? b.data : xstrdup("");
}

static void sb_grow(sbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
}

void sb_putn(sbuf *b, const char *s, size_t n) {
  sb_grow(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }
void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

void sb_vprintf(sbuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  sb_grow(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_pad(sbuf *b, size_t width) {
  size_t col = 0;
  for (size_t i = b->len; i > 0 && b->data[i - 1] != '\n'; i--) col++;
  while (col < width) {
    sb_putc(b, ' ');
    col++;
  }
}

void sb_free(sbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* Optimal string alignment distance: Levenshtein plus the swap of two
 * adjacent characters as one edit, so "emial" is one edit from "email". */
int edit_distance(const char *a, const char *b, int cap) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return cap + 1;
  /* Three rows: the one before the previous (for swaps), previous, current. */
  int r0[65], r1[65], r2[65];
  int *prev2 = r0, *prev = r1, *cur = r2;
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int v = prev[j - 1] + cost;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      if (prev[j] + 1 < v) v = prev[j] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
        v = prev2[j - 2] + 1;
      cur[j] = v;
    }
    int *t = prev2;
    prev2 = prev, prev = cur, cur = t;
  }
  return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *closest_word(const char *word, const char *const *candidates) {
  /* A suggestion must be closer than a third of the word's length (at least
   * one edit), so "x" never suggests "id" but "gradee" suggests "grade". */
  int cap = (int)strlen(word) / 3;
  if (cap < 1) cap = 1;
  if (cap > 3) cap = 3;
  const char *best = NULL;
  int bestd = cap + 1;
  for (size_t i = 0; candidates[i]; i++) {
    int d = edit_distance(word, candidates[i], cap);
    if (d < bestd) {
      bestd = d;
      best = candidates[i];
    }
  }
  return best;
}

char *read_file(const char *path, size_t limit, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  sbuf b = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n > limit) {
      fclose(f);
      sb_free(&b);
      errno = EFBIG;
      return NULL;
    }
    sb_putn(&b, chunk, n);
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    sb_free(&b);
    errno = EIO;
    return NULL;
  }
  if (!b.data) b.data = xstrdup("");
  if (len_out) *len_out = b.len;
  return b.data;
}
