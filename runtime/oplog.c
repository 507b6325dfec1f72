/* oplog.c: a run's operations in an unlinked temporary file (see oplog.h).
 *
 * One operation per line, as jansson's compact dump: strings escape every
 * control character, so a line never holds a raw newline, and the compact
 * array jansson would write is exactly "[" + the lines joined by "," + "]".
 * A log kept in a run file (oplog_new_in) writes that comma at the start of
 * each line but the first, so its bytes are the array's inside as they are;
 * a log over a run file already written (oplog_over) reads them where they
 * lie, and is never written.
 */
#include "oplog.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "bgwrite.h"
#include "scratch.h"

struct oplog {
  FILE *f;     /* read through; written through bg (bgwrite.h) */
  bgwriter *bg; /* NULL in a log over a file (oplog_over) */
  int owns_f;  /* closed with the log: all but a run file's that plan -o writes */
  char *iobuf; /* its stdio buffer (scratch_file) */
  size_t count;
  uint64_t bytes;  /* of the lines, without their newlines */
  int failed;
  int in_array;    /* oplog_new_in: lines after the first start with ',' */
  int counter;     /* oplog_counter: no file, nothing kept */
  long start;      /* the file offset of the first line */
  size_t taken;    /* lines read since the last rewind: a run file has more after them */
  char *line;      /* oplog_next()'s buffer, reused */
  size_t linecap;
};

oplog *oplog_new(void) {
  char *iobuf;
  FILE *f = scratch_file("ops", &iobuf);
  if (!f) return NULL;
  oplog *l = calloc(1, sizeof *l);
  if (!l) {
    fclose(f);
    free(iobuf);
    return NULL;
  }
  l->f = f;
  l->owns_f = 1;
  l->iobuf = iobuf;
  if (!(l->bg = bgw_open(fileno(f), 0))) {
    oplog_free(l);
    return NULL;
  }
  return l;
}

oplog *oplog_new_in(FILE *f) {
  oplog *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->f = f;
  l->in_array = 1;
  l->start = fflush(f) == 0 ? ftell(f) : -1;
  if (l->start < 0 || !(l->bg = bgw_open(fileno(f), (uint64_t)l->start))) {
    free(l);
    return NULL;
  }
  return l;
}

oplog *oplog_over(int fd, long start) {
  int own = dup(fd); /* a descriptor of the same open file, so the same file even if renamed over since */
  FILE *f = own >= 0 ? fdopen(own, "rb") : NULL;
  oplog *l = f ? calloc(1, sizeof *l) : NULL;
  if (!l) {
    if (f) fclose(f);
    else if (own >= 0) close(own);
    return NULL;
  }
  l->f = f;
  l->owns_f = 1;
  l->in_array = 1;
  l->start = start;
  return l;
}

oplog *oplog_counter(void) {
  oplog *l = calloc(1, sizeof *l);
  if (l) l->counter = 1;
  return l;
}

int oplog_keeps(const oplog *l) { return !l->counter; }

void oplog_free(oplog *l) {
  if (!l) return;
  bgw_close(l->bg);
  if (l->owns_f && l->f) fclose(l->f); /* a run file plan -o writes stays its owner's */
  free(l->iobuf); /* after fclose, which flushes through it */
  free(l->line);
  free(l);
}

static int put_line(oplog *l, const char *text, size_t n) {
  if (l->counter) return ++l->count, 1;
  int comma = l->in_array && l->count > 0;
  if ((comma && !bgw_write(l->bg, ",", 1)) || !bgw_write(l->bg, text, n) || !bgw_write(l->bg, "\n", 1)) return 0;
  l->count++;
  l->bytes += n + (size_t)comma;
  return 1;
}

int oplog_add(oplog *l, json_t *op) {
  char *text = json_dumps(op, JSON_COMPACT);
  json_decref(op);
  if (!text || !put_line(l, text, strlen(text))) l->failed = 1;
  free(text);
  return !l->failed;
}

int oplog_add_text(oplog *l, const char *text, size_t n) {
  if (!put_line(l, text, n)) l->failed = 1;
  return !l->failed;
}

int oplog_is_over(const oplog *l) { return l->owns_f && l->in_array; }

void oplog_note(oplog *l, size_t n) {
  l->bytes += n + (l->count > 0);
  l->count++;
}

/* Waits for the writes under way, which may yet fail; 0 when one did. */
static int synced(oplog *l) {
  if (l->bg && !bgw_sync(l->bg)) l->failed = 1;
  return !l->failed;
}

int oplog_failed(oplog *l) { return !synced(l); }
size_t oplog_count(const oplog *l) { return l->count; }

void oplog_rewind(oplog *l) {
  synced(l);
  l->taken = l->count; /* a counter: nothing to read (next_line) */
  if (!l->f) return;
  fseek(l->f, l->start, SEEK_SET);
  l->taken = 0;
}

/* The next line without its newline, or NULL at the end. */
static const char *next_line(oplog *l, size_t *n) {
  if (l->taken == l->count) return NULL; /* in a run file, the members after the operations */
  l->taken++;
  ssize_t got = getline(&l->line, &l->linecap, l->f);
  if (got <= 0) return NULL;
  if (l->line[got - 1] == '\n') l->line[--got] = 0;
  if (l->in_array && l->line[0] == ',') { /* the separator, not the operation's */
    *n = (size_t)got - 1;
    return l->line + 1;
  }
  *n = (size_t)got;
  return l->line;
}

const char *oplog_next_text(oplog *l, size_t *n) { return next_line(l, n); }

json_t *oplog_next(oplog *l) {
  size_t n;
  const char *t = next_line(l, &n);
  return t ? json_loadb(t, n, JSON_ALLOW_NUL, NULL) : NULL;
}

oplog_view oplog_view_of(oplog *l) {
  synced(l);
  /* A run file plan -o is writing has no view: nothing reads it back meanwhile (a read of -1 fails). */
  oplog_view v = {l->owns_f ? fileno(l->f) : -1, (uint64_t)l->start, l->bytes + l->count, l->in_array};
  return v;
}

/* Hands one line to put, after a separator when it is not the first.  A
 * line of a run file brings its own separator, which goes. */
static int view_line(const char *t, size_t n, oplog_keep keep, int (*put)(void *, const char *, size_t), void *ctx, int *first) {
  if (n && t[0] == ',') t++, n--; /* an operation is an object: a comma first can only be the separator */
  size_t k = keep ? keep(t, n) : n;
  if (!k) return 1;
  if ((!*first && !put(ctx, ",", 1)) || !put(ctx, t, k < n ? k : n) || (k < n && !put(ctx, "}", 1))) return 0;
  *first = 0;
  return 1;
}

/* Every line kept: the array is the file itself with each newline but the
 * last made a comma, handed on a buffer at a time rather than a line at a
 * time (a first sync's run file is two million lines). */
static int all_pieces(oplog_view v, int (*put)(void *ctx, const char *bytes, size_t n), void *ctx) {
  size_t cap = 1 << 20;
  char *buf = malloc(cap);
  int ok = buf && put(ctx, "[", 1);
  uint64_t at = 0;
  while (ok && at < v.size) {
    size_t want = cap < v.size - at ? cap : (size_t)(v.size - at);
    ssize_t got = pread(v.fd, buf, want, (off_t)(v.start + at));
    if (got <= 0) break;
    at += (uint64_t)got;
    size_t n = (size_t)got;
    if (at == v.size) ok = buf[--n] == '\n'; /* the last line's newline closes the array instead */
    for (char *p = buf; ok && (p = memchr(p, '\n', (size_t)(buf + n - p))); p++) *p = ',';
    ok = ok && (n == 0 || put(ctx, buf, n));
  }
  ok = ok && at == v.size && put(ctx, "]", 1);
  free(buf);
  return ok;
}

int oplog_view_pieces(oplog_view v, oplog_keep keep, int (*put)(void *ctx, const char *bytes, size_t n), void *ctx) {
  if (!keep && !v.in_array) return all_pieces(v, put, ctx);
  size_t cap = 1 << 20, have = 0; /* buf[0, have): the start of a line not yet whole */
  char *buf = malloc(cap);
  int ok = buf && put(ctx, "[", 1), first = 1;
  uint64_t at = 0;
  while (ok && at < v.size) {
    if (have == cap) { /* a line longer than the buffer */
      char *more = realloc(buf, cap * 2);
      if (!more) break;
      buf = more, cap *= 2;
    }
    size_t want = cap - have < v.size - at ? cap - have : (size_t)(v.size - at);
    ssize_t got = pread(v.fd, buf + have, want, (off_t)(v.start + at));
    if (got <= 0) break;
    at += (uint64_t)got;
    size_t end = have + (size_t)got, start = 0;
    for (char *nl; ok && (nl = memchr(buf + start, '\n', end - start)); start = (size_t)(nl - buf) + 1)
      ok = view_line(buf + start, (size_t)(nl - buf) - start, keep, put, ctx, &first);
    have = end - start;
    memmove(buf, buf + start, have);
  }
  ok = ok && at == v.size && !have && put(ctx, "]", 1);
  free(buf);
  return ok;
}

static int put_file(void *ctx, const char *bytes, size_t n) { return fwrite(bytes, 1, n, ctx) == n; }

/* `text` with (depth) indents after every newline: jansson's dump of a value
 * nested that deep is its dump at the top, shifted right. */
static int put_indented(FILE *out, const char *text, int spaces) {
  for (const char *p = text; *p; p++) {
    if (fputc(*p, out) == EOF) return 0;
    if (*p == '\n')
      for (int k = 0; k < spaces; k++) fputc(' ', out);
  }
  return 1;
}

static int put_newline(FILE *out, int spaces) {
  fputc('\n', out);
  for (int k = 0; k < spaces; k++) fputc(' ', out);
  return !ferror(out);
}

int oplog_write_array(oplog *l, FILE *out, size_t flags, int depth) {
  if (l->counter) return 0; /* it kept none to write */
  int indent = (int)(flags & 0x1F); /* JSON_INDENT(n) is n in the low bits */
  if (!indent && !(flags & JSON_COMPACT)) return 0; /* no caller wants ", " separators */
  if (!indent && !l->in_array) return oplog_view_pieces(oplog_view_of(l), NULL, put_file, out); /* the lines are the compact dump */
  if (!l->count) return fputs("[]", out) != EOF;
  if (!indent) { /* a run file's log: its lines, joined by commas */
    oplog_rewind(l);
    fputc('[', out);
    const char *t;
    size_t n;
    for (size_t i = 0; (t = oplog_next_text(l, &n)); i++)
      if ((i && fputc(',', out) == EOF) || fwrite(t, 1, n, out) != n) return 0;
    return fputc(']', out) != EOF && !ferror(out);
  }
  oplog_rewind(l);
  fputc('[', out);
  put_newline(out, (depth + 1) * indent);
  json_t *op;
  for (size_t i = 0; (op = oplog_next(l)); i++) {
    char *text = json_dumps(op, flags);
    json_decref(op);
    if (!text || !put_indented(out, text, (depth + 1) * indent)) {
      free(text);
      return 0;
    }
    free(text);
    if (i + 1 < l->count) fputc(',', out), put_newline(out, (depth + 1) * indent);
    else put_newline(out, depth * indent);
  }
  return fputc(']', out) != EOF && !ferror(out);
}
