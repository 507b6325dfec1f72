/* util.h: small helpers every part of syncc shares.
 *
 * Allocation never returns NULL: on out-of-memory the x* wrappers print a
 * message and exit(2), so callers need no NULL checks.  A growable string
 * buffer (sbuf) is used by the formatter and the diagnostics printer.
 */
#ifndef SYNC_UTIL_H
#define SYNC_UTIL_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer; `data` is always NUL-terminated. */
typedef struct {
  char *data;
  size_t len, cap;
} sbuf;

void sb_putc(sbuf *b, char c);
void sb_puts(sbuf *b, const char *s);
void sb_putn(sbuf *b, const char *s, size_t n);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(sbuf *b, const char *fmt, va_list ap);
void sb_pad(sbuf *b, size_t width); /* pad with spaces to `width` since the last newline */
void sb_free(sbuf *b);

/* Optimal string alignment distance (Levenshtein, plus swapping two adjacent
 * characters as one edit), capped: returns cap+1 when it exceeds cap. */
int edit_distance(const char *a, const char *b, int cap);

/* The candidate closest to `word` (NULL-terminated list), or NULL when none is
 * close enough to be worth suggesting. */
const char *closest_word(const char *word, const char *const *candidates);

/* Reads a whole file into a NUL-terminated buffer.  Returns NULL and sets errno
 * on failure.  Files larger than `limit` bytes fail with EFBIG. */
char *read_file(const char *path, size_t limit, size_t *len_out);

#endif
