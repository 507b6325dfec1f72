/* csv.c: the streaming CSV reader (see csv.h). */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swar.h"

#define CSV_BUF 65536
#define CSV_MAX_ROW (64u << 20) /* a row longer than this is an error, not an allocation */

struct csv_reader {
  FILE *f;
  char delim;
  unsigned char buf[CSV_BUF];
  size_t pos, len;
  int eof;
  long line;        /* current line */
  long col;         /* current column (bytes, 1-based) */
  long row_line;
  /* the row being built: all cells' bytes in one buffer, NUL-separated */
  char *row;
  size_t rowlen, rowcap;
  size_t *starts;   /* offsets of cells in row */
  char **cells;
  size_t *lens;
  int ncells, capcells;
  int started;      /* the BOM check is done */
};

csv_reader *csv_open(const char *path, char delim, char *err, size_t errsize) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errsize, "%s: %s", path, strerror(errno));
    return NULL;
  }
  csv_reader *r = csv_open_stream(f, delim);
  if (!r) snprintf(err, errsize, "out of memory");
  return r;
}

csv_reader *csv_open_stream(FILE *f, char delim) {
  csv_reader *r = calloc(1, sizeof *r);
  if (!r) {
    fclose(f);
    return NULL;
  }
  r->f = f;
  r->delim = delim ? delim : ',';
  r->line = 1;
  r->col = 1;
  return r;
}

void csv_close(csv_reader *r) {
  if (!r) return;
  fclose(r->f);
  free(r->row);
  free(r->starts);
  free(r->cells);
  free(r->lens);
  free(r);
}

long csv_row_line(const csv_reader *r) { return r->row_line; }

/* The next byte, or -1 at the end of the file. */
static int peekc(csv_reader *r) {
  if (r->pos == r->len) {
    if (r->eof) return -1;
    r->len = fread(r->buf, 1, CSV_BUF, r->f);
    r->pos = 0;
    if (r->len == 0) {
      r->eof = 1;
      return -1;
    }
  }
  return r->buf[r->pos];
}

static int getc_(csv_reader *r) {
  int c = peekc(r);
  if (c >= 0) r->pos++, r->col++;
  return c;
}

/* Doubles the row buffer; 0 when it is already CSV_MAX_ROW (or no memory). */
static int grow_row(csv_reader *r) {
  if (r->rowcap >= CSV_MAX_ROW) return 0;
  size_t cap = r->rowcap ? r->rowcap * 2 : 1024;
  char *n = realloc(r->row, cap);
  if (!n) return 0;
  r->row = n;
  r->rowcap = cap;
  return 1;
}

static int put(csv_reader *r, char c) {
  if (r->rowlen + 1 >= r->rowcap && !grow_row(r)) return 0;
  r->row[r->rowlen++] = c;
  return 1;
}

/* Appends n bytes at once; 0 (nothing appended) when the row would pass
 * CSV_MAX_ROW, and the caller goes byte by byte to fail where put() does. */
static int put_n(csv_reader *r, const unsigned char *p, size_t n) {
  while (r->rowlen + n + 1 > r->rowcap)
    if (!grow_row(r)) return 0;
  memcpy(r->row + r->rowlen, p, n);
  r->rowlen += n;
  return 1;
}

/* The plain bytes of an unquoted cell that the buffer holds, taken at once
 * (a district's files are millions of such cells): they end at the
 * delimiter, a line end or the buffer's end. */
static void take_plain(csv_reader *r) {
  const unsigned char *b = r->buf + r->pos, *e = r->buf + r->len, *q = b;
  while (q < e && *q != r->delim && *q != '\n' && *q != '\r') q++;
  size_t n = (size_t)(q - b);
  if (n && put_n(r, b, n)) r->pos += n, r->col += (long)n;
}

static int grow_cells(csv_reader *r) {
  int cap = r->capcells ? r->capcells * 2 : 16;
  size_t *s = realloc(r->starts, (size_t)cap * sizeof *s);
  if (!s) return 0;
  r->starts = s;
  char **cl = realloc(r->cells, (size_t)cap * sizeof *cl);
  if (!cl) return 0;
  r->cells = cl;
  size_t *ln = realloc(r->lens, (size_t)cap * sizeof *ln);
  if (!ln) return 0;
  r->lens = ln;
  r->capcells = cap;
  return 1;
}

/* Consumes a line end (\n, \r\n or \r) if one is next; returns whether it did. */
static int line_end(csv_reader *r) {
  int c = peekc(r);
  if (c == '\n' || c == '\r') {
    getc_(r);
    if (c == '\r' && peekc(r) == '\n') getc_(r);
    r->line++;
    r->col = 1;
    return 1;
  }
  return 0;
}

static void skip_line(csv_reader *r) {
  for (;;) {
    int c = peekc(r);
    if (c < 0 || line_end(r)) return;
    getc_(r);
  }
}

/* Whether csv_next splits plain lines in one pass (csv_fast_rows). */
static int fast_rows = 1;

void csv_fast_rows(int enable) { fast_rows = enable; }

/* Marks a delimiter at row offset i: the NUL that ends a cell, and the
 * start of the next.  0 when no memory. */
static int cell_break(csv_reader *r, size_t i, int *nc) {
  r->row[i] = 0;
  if (*nc == r->capcells && !grow_cells(r)) return 0;
  r->starts[(*nc)++] = i + 1;
  return 1;
}

/* A whole line that the buffer holds, with no quote and no bare CR in it,
 * split in one pass: copied at once, then each delimiter made the NUL
 * that ends a cell.  Nearly every row of a district's files is such a
 * line, and the byte-by-byte path below cost the reading thread more than
 * the mapping cost the other.  The line is looked at eight bytes a step
 * (on a little-endian machine, where a byte's place in the word is its
 * place in the line): a byte at a time, this was the reading thread's
 * largest cost.  0 (nothing consumed) for any other line: the
 * byte-by-byte path reads it, with the same result. */
static int plain_row(csv_reader *r) {
  if (!fast_rows || r->delim == '"' || r->delim == '\r' || r->delim == '\n') return 0;
  const unsigned char *b = r->buf + r->pos;
  const unsigned char *nl = memchr(b, '\n', r->len - r->pos);
  if (!nl) return 0; /* the line goes on past the buffer (or the file has no last line end) */
  size_t n = (size_t)(nl - b), end = n && b[n - 1] == '\r' ? n - 1 : n;
  while (end + 1 > r->rowcap)
    if (!grow_row(r)) return 0;
  unsigned char delim = (unsigned char)r->delim;
  int nc = 0;
  if (!r->capcells && !grow_cells(r)) return 0;
  r->starts[nc++] = 0;
  memcpy(r->row, b, end);
  size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t d8 = SWAR_EVERY(delim), q8 = SWAR_EVERY('"'), cr8 = SWAR_EVERY('\r');
  for (; i + 8 <= end; i += 8) {
    uint64_t x = swar_load8(b + i);
    if (swar_zero_bytes(x ^ q8) | swar_zero_bytes(x ^ cr8)) return 0;
    for (uint64_t d = swar_zero_bytes(x ^ d8); d; d &= d - 1)
      if (!cell_break(r, i + (size_t)(__builtin_ctzll(d) >> 3), &nc)) return 0;
  }
#endif
  for (; i < end; i++) {
    if (b[i] == '"' || b[i] == '\r') return 0;
    if (b[i] == delim && !cell_break(r, i, &nc)) return 0;
  }
  r->row[end] = 0;
  r->rowlen = end + 1;
  r->ncells = nc;
  r->pos += n + 1;
  r->line++;
  r->col = 1;
  return 1;
}

static int fail(csv_reader *r, char *err, size_t errsize, long line, long col, const char *why) {
  snprintf(err, errsize, "line %ld, column %ld: %s", line, col, why);
  skip_line(r);
  return -1;
}

int csv_next(csv_reader *r, char ***cells, size_t **lens, int *n, char *err, size_t errsize) {
  if (!r->started) {
    r->started = 1;
    if (peekc(r) == 0xEF && r->len - r->pos >= 3 && r->buf[r->pos + 1] == 0xBB && r->buf[r->pos + 2] == 0xBF)
      r->pos += 3;
  }
  r->rowlen = 0;
  r->ncells = 0;
  if (peekc(r) < 0) return 0;
  r->row_line = r->line;
  if (plain_row(r)) goto split;
  for (;;) {
    /* one cell */
    if (r->ncells == r->capcells && !grow_cells(r)) return fail(r, err, errsize, r->line, r->col, "out of memory");
    r->starts[r->ncells] = r->rowlen;
    int c = peekc(r);
    if (c == '"') {
      long qline = r->line, qcol = r->col;
      getc_(r);
      for (;;) {
        c = getc_(r);
        if (c < 0) return fail(r, err, errsize, qline, qcol, "the quoted field starting here is never closed");
        if (c == '"') {
          if (peekc(r) == '"') {
            getc_(r);
            if (!put(r, '"')) return fail(r, err, errsize, r->line, r->col, "row too long");
            continue;
          }
          break;
        }
        if (c == '\n' || (c == '\r' && peekc(r) != '\n')) {
          /* A line break inside quotes is part of the value, kept as written. */
          r->line++;
          r->col = 1;
        }
        if (!put(r, (char)c)) return fail(r, err, errsize, r->line, r->col, "row too long");
      }
      c = peekc(r);
      if (c >= 0 && c != r->delim && c != '\n' && c != '\r')
        return fail(r, err, errsize, r->line, r->col, "text after the closing quote of a field");
    } else {
      for (;;) {
        c = peekc(r);
        if (c < 0 || c == r->delim || c == '\n' || c == '\r') break;
        take_plain(r);
        c = peekc(r);
        if (c < 0 || c == r->delim || c == '\n' || c == '\r') break;
        /* A quote inside an unquoted field (Robert "Bob" Smith, 37'37.8"N) is
         * kept as a character: real exports have them, and refusing the row
         * would lose a record over punctuation. */
        getc_(r);
        if (!put(r, (char)c)) return fail(r, err, errsize, r->line, r->col, "row too long");
      }
    }
    /* close the cell: store its NUL terminator and count it */
    if (!put(r, 0)) return fail(r, err, errsize, r->line, r->col, "row too long");
    r->ncells++;
    c = peekc(r);
    if (c == r->delim) {
      getc_(r);
      continue;
    }
    line_end(r);
    break;
  }
split:
  for (int i = 0; i < r->ncells; i++) {
    r->cells[i] = r->row + r->starts[i];
    size_t end = i + 1 < r->ncells ? r->starts[i + 1] - 1 : r->rowlen - 1;
    r->lens[i] = end - r->starts[i];
  }
  *cells = r->cells;
  *lens = r->lens;
  *n = r->ncells;
  return 1;
}
