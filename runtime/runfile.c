/* runfile.c: reads a run file (syncvm plan -o) in one pass, in bounded memory.
 *
 * A first sync's run file holds millions of operations: half a gigabyte at
 * 100,000 students.  Read whole and parsed into jansson values it took many
 * times that in memory.  This reader walks the top-level object through a
 * buffer: each member but "ops" (all small) is parsed by jansson, and each
 * operation goes to the run's oplog as soon as it is read.  An operation in
 * the compact form the oplog keeps (as plan -o writes it) is checked by
 * jspan_compact_ok and copied as it is; any other (a run file indented or
 * edited by hand) is parsed by jansson, which says where an error is, and
 * kept as its compact dump.  Errors name the file, line and column.
 */
#include "runfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "jspan.h"
#include "oplog.h"

#define RF_BUF (1u << 20)
#define RF_MAX_VALUE (64u << 20) /* an operation (or the report) larger than this is an error */

typedef struct {
  size_t (*read)(void *src, char *buf, size_t n); /* 0 at the end (or on an error) */
  void *src;
  const char *path;       /* what errors name: a file, or "run N" */
  char *buf;
  size_t pos, len, cap;   /* buf[pos, len) is read and not yet taken */
  long long off;          /* the file offset of buf[0] */
  long line;              /* of buf[pos], 1-based */
  long long line_start;   /* the file offset where that line starts */
  int eof;
  char *err;
  size_t errsize;
} reader;

static int fail_at(reader *r, long long at, const char *why) {
  snprintf(r->err, r->errsize, "%s:%ld:%lld: %s", r->path, r->line, at - r->line_start + 1, why);
  return 0;
}

static int fail(reader *r, const char *why) { return fail_at(r, r->off + (long long)r->pos, why); }

/* Reads more: keeps buf[pos, len) and appends what the file has next.  0 at
 * the end of the file (or when the value being read passed RF_MAX_VALUE). */
static int more(reader *r) {
  if (r->eof) return 0;
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->off += (long long)r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->len == r->cap) {
    if (r->cap >= RF_MAX_VALUE) return 0;
    char *b = realloc(r->buf, r->cap * 2);
    if (!b) return 0;
    r->buf = b;
    r->cap *= 2;
  }
  size_t got = r->read(r->src, r->buf + r->len, r->cap - r->len);
  if (got == 0) r->eof = 1;
  r->len += got;
  return got > 0;
}

static int peek(reader *r) {
  if (r->pos == r->len && !more(r)) return -1;
  return (unsigned char)r->buf[r->pos];
}

/* Takes n bytes, counting the lines they end. */
static void take(reader *r, size_t n) {
  const char *p = r->buf + r->pos, *end = p + n;
  while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
    p++;
    r->line++;
    r->line_start = r->off + (p - r->buf);
  }
  r->pos += n;
}

static void skip_ws(reader *r) {
  for (int c = peek(r); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek(r)) take(r, 1);
}

/* The length of the value at buf[pos], read into the buffer whole; 0 when
 * it is cut short by the end of the file or is too large (err says so). */
static size_t value_length(reader *r) {
  size_t k = 0;
  int depth = 0, in_string = 0, escaped = 0;
  for (;;) {
    for (; r->pos + k < r->len; k++) {
      char c = r->buf[r->pos + k];
      if (in_string) {
        if (escaped) escaped = 0;
        else if (c == '\\') escaped = 1;
        else if (c == '"') {
          in_string = 0;
          if (depth == 0) return k + 1;
        }
      } else if (c == '"') {
        in_string = 1;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return k; /* the end of a bare word before its container closes */
        if (--depth == 0) return k + 1;
      } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        return k;
      }
    }
    if (!more(r)) {
      if (r->eof && depth == 0 && !in_string && k > 0) return k; /* a bare word ends the file */
      fail(r, r->eof ? "the file ends inside a value" : "a value larger than 64 MB");
      return 0;
    }
  }
}

/* Parses the n bytes at buf[pos] with jansson; NULL and err on an error. */
static json_t *parse(reader *r, size_t n, size_t flags) {
  json_error_t je;
  json_t *v = json_loadb(r->buf + r->pos, n, flags | JSON_DECODE_ANY, &je);
  if (!v) { /* jansson counts lines and columns from the value's start */
    long long col = je.line > 1 ? je.column : r->off + (long long)r->pos - r->line_start + je.column;
    snprintf(r->err, r->errsize, "%s:%ld:%lld: %s", r->path, r->line + je.line - 1, col, je.text);
  }
  return v;
}

static int expect(reader *r, int c, const char *why) {
  skip_ws(r);
  if (peek(r) != c) return fail(r, why);
  take(r, 1);
  return 1;
}

/* The array of operations, each into the run's oplog. */
static int read_ops(reader *r, run_result *run) {
  if (!expect(r, '[', "the operations are not an array")) return 0;
  skip_ws(r);
  if (peek(r) == ']') return take(r, 1), 1;
  for (;;) {
    skip_ws(r);
    /* Most operations are in jspan's form and whole in the buffer: one walk
     * finds the end and checks them; the rest are found and parsed apart. */
    size_t n = jspan_compact_len(r->buf + r->pos, r->len - r->pos);
    int compact = n > 0;
    if (!compact) {
      if (!(n = value_length(r))) return r->err[0] ? 0 : fail(r, "expected an operation");
      compact = jspan_compact_ok(r->buf + r->pos, n);
    }
    if (compact) {
      if (!run_add_op_text(run, r->buf + r->pos, n)) return fail(r, "cannot write the run's operations to a temporary file");
    } else {
      json_t *op = parse(r, n, 0);
      if (!op) return 0;
      if (!json_is_object(op)) return json_decref(op), fail(r, "an operation is not an object");
      if (!run_add_op(run, op)) return fail(r, "cannot write the run's operations to a temporary file");
    }
    take(r, n);
    skip_ws(r);
    int c = peek(r);
    if (c == ']') return take(r, 1), 1;
    if (c != ',') return fail(r, c < 0 ? "the file ends inside the operations" : "expected ',' or ']' after an operation");
    take(r, 1);
  }
}

/* The top-level object: "ops" streamed, every other member into head. */
static int read_doc(reader *r, run_result *run, json_t *head, int *saw_ops) {
  skip_ws(r);
  if (peek(r) == 0xEF) { /* a UTF-8 byte order mark */
    while (r->len - r->pos < 3 && more(r)) {
    }
    if (r->len - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3)) take(r, 3);
  }
  if (!expect(r, '{', "not a syncvm run file (expected '{')")) return 0;
  skip_ws(r);
  if (peek(r) == '}') return take(r, 1), 1;
  for (;;) {
    skip_ws(r);
    if (peek(r) != '"') return fail(r, "expected a member's name");
    size_t n = value_length(r);
    json_t *key = n ? parse(r, n, 0) : NULL;
    if (!key) return 0;
    char name[64];
    snprintf(name, sizeof name, "%s", json_string_value(key) ? json_string_value(key) : "");
    json_decref(key);
    take(r, n);
    if (!expect(r, ':', "expected ':' after a member's name")) return 0;
    skip_ws(r);
    if (!strcmp(name, "ops")) {
      if (*saw_ops || !read_ops(r, run)) return *saw_ops ? fail(r, "two arrays of operations") : 0;
      *saw_ops = 1;
    } else {
      n = value_length(r);
      json_t *v = n ? parse(r, n, 0) : NULL;
      if (!v) return n ? 0 : (r->err[0] ? 0 : fail(r, "expected a value"));
      json_object_set_new(head, name, v);
      take(r, n);
    }
    skip_ws(r);
    int c = peek(r);
    if (c == '}') break;
    if (c != ',') return fail(r, c < 0 ? "the file ends inside the run" : "expected ',' or '}' after a member");
    take(r, 1);
  }
  take(r, 1);
  skip_ws(r);
  return peek(r) < 0 ? 1 : fail(r, "text after the end of the run");
}

static size_t file_read(void *f, char *buf, size_t n) { return fread(buf, 1, n, f); }

/* A history row's operations, inflated a buffer at a time from their
 * pieces (history.h), so the array is never held whole. */
int runfile_history_ops(sqlite3 *db, int64_t run_id, run_result *run, char *err, size_t errsize) {
  char name[48];
  snprintf(name, sizeof name, "run %lld's operations", (long long)run_id);
  err[0] = 0;
  hist_src *h = hist_open(db, run_id, err, errsize);
  if (!h) return 0;
  reader r = {.read = hist_read, .src = h, .path = name, .line = 1, .err = err, .errsize = errsize, .cap = RF_BUF};
  r.buf = malloc(r.cap);
  int ok = 0;
  if (!r.buf) snprintf(err, errsize, "%s: out of memory", name);
  else if (read_ops(&r, run)) {
    skip_ws(&r);
    ok = peek(&r) < 0 || fail(&r, "text after the operations");
  }
  if (hist_error(h)) { /* a damaged piece, not the text, stopped the reader */
    snprintf(err, errsize, "%s", hist_error(h));
    ok = 0;
  }
  free(r.buf);
  hist_close(h);
  return ok;
}

int runfile_is(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int c;
  while ((c = getc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xEF || c == 0xBB || c == 0xBF) {
  }
  fclose(f);
  return c == '{';
}

int runfile_read(const char *path, run_result *run, char *err, size_t errsize) {
  memset(run, 0, sizeof *run);
  err[0] = 0;
  FILE *f = fopen(path, "rb");
  reader r = {.read = file_read, .src = f, .path = path, .line = 1, .err = err, .errsize = errsize, .cap = RF_BUF};
  r.buf = malloc(r.cap);
  run->ops = oplog_new();
  json_t *head = json_object();
  int ok = 0, saw_ops = 0;
  if (!f) snprintf(err, errsize, "cannot read %s: %s", path, strerror(errno));
  else if (!r.buf || !head) snprintf(err, errsize, "%s: out of memory", path);
  else if (!run->ops) snprintf(err, errsize, "cannot make a temporary file for the run's operations (TMPDIR): %s", strerror(errno));
  else if (read_doc(&r, run, head, &saw_ops)) {
    char why[200];
    ok = run_head_from_json(head, run, why, sizeof why) && saw_ops;
    if (!ok) snprintf(err, errsize, "%s: %s", path, saw_ops ? why : "the run file has no operations");
  }
  if (f) fclose(f);
  free(r.buf);
  json_decref(head);
  if (!ok) run_free(run);
  return ok;
}
