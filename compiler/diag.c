/* diag.c: collecting, de-duplicating, capping and printing diagnostics. */
#include "diag.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "util.h"

const sync_span NO_SPAN = {-1, 0, 0};

typedef struct {
  sync_span at;
  char *msg;
} diag_note_t;

typedef struct {
  diag_level level;
  sync_span at;
  char *msg;
  diag_note_t *notes;
  int nnotes;
  char *hint;
  int seq; /* order of creation, to keep the sort stable */
} diag_t;

static diag_t *diags;
static int ndiags, capdiags;
static int nerrors, nwarnings, hidden_errors;
static int opt_json, opt_color, opt_max = 20;
static diag_t *last; /* where notes and hints attach; NULL if dropped */

void diag_init(int json, int color, int max_errors) {
  opt_json = json;
  opt_color = color && !json;
  opt_max = max_errors > 0 ? max_errors : 20;
}

int diag_error_count(void) { return nerrors; }
int diag_warning_count(void) { return nwarnings; }

/* An earlier diagnostic of the same level, place and text: the same
 * mistake reached twice (a template checked once per use, say).  Distinct
 * messages at one place are all kept. */
static int is_repeat(diag_level level, sync_span at, const char *msg) {
  if (at.file < 0) return 0;
  for (int i = 0; i < ndiags; i++)
    if (diags[i].level == level && diags[i].at.file == at.file && diags[i].at.start == at.start &&
        strcmp(diags[i].msg, msg) == 0)
      return 1;
  return 0;
}

static void add(diag_level level, sync_span at, const char *fmt, va_list ap) {
  last = NULL;
  sbuf b = {0};
  sb_vprintf(&b, fmt, ap);
  char *msg = b.data ? b.data : xstrdup("");
  if (is_repeat(level, at, msg)) {
    free(msg);
    return;
  }
  if (level == DIAG_ERROR) {
    nerrors++;
    if (nerrors > opt_max) {
      hidden_errors++;
      free(msg);
      return;
    }
  } else {
    nwarnings++;
  }
  if (ndiags == capdiags) {
    capdiags = capdiags ? capdiags * 2 : 16;
    diags = xrealloc(diags, (size_t)capdiags * sizeof *diags);
  }
  diag_t *d = &diags[ndiags];
  memset(d, 0, sizeof *d);
  d->level = level;
  d->at = at;
  d->seq = ndiags++;
  d->msg = msg;
  last = d;
}

void diag_error(sync_span at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add(DIAG_ERROR, at, fmt, ap);
  va_end(ap);
}

void diag_warning(sync_span at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  add(DIAG_WARNING, at, fmt, ap);
  va_end(ap);
}

void diag_note(sync_span at, const char *fmt, ...) {
  if (!last) return;
  last->notes = xrealloc(last->notes, (size_t)(last->nnotes + 1) * sizeof *last->notes);
  diag_note_t *n = &last->notes[last->nnotes++];
  n->at = at;
  sbuf b = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  n->msg = b.data ? b.data : xstrdup("");
}

void diag_hint(const char *fmt, ...) {
  if (!last || last->hint) return;
  sbuf b = {0};
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  last->hint = b.data ? b.data : xstrdup("");
}

static int cmp_diag(const void *pa, const void *pb) {
  const diag_t *a = pa, *b = pb;
  if (a->at.file != b->at.file) return a->at.file < b->at.file ? -1 : 1;
  if (a->at.start != b->at.start) return a->at.start < b->at.start ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

#define COLOR(code) (opt_color ? "\033[" code "m" : "")

static void print_place(sbuf *b, sync_span at) {
  const source_file *f = src_get(at.file);
  if (!f) return;
  int line, col;
  src_linecol(at.file, at.start, &line, &col);
  sb_printf(b, "%s%s:%d:%d:%s ", COLOR("1"), f->path, line, col, COLOR("0"));
}

/* The source line, then a caret under the first character of the span and
 * tildes under the rest of it (to the end of the line for a longer span). */
static void print_excerpt(sbuf *b, sync_span at) {
  const source_file *f = src_get(at.file);
  if (!f) return;
  int line, col, len;
  src_linecol(at.file, at.start, &line, &col);
  const char *text = src_line(at.file, line, &len);
  if (line == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3; /* not shown: not a column */
  int linestart = (int)(text - f->text);
  sb_printf(b, "%5d | ", line);
  for (int i = 0; i < len; i++) sb_putc(b, text[i] == '\t' ? ' ' : text[i]);
  sb_puts(b, "\n      | ");
  for (int i = 1; i < col; i++) sb_putc(b, ' ');
  int end = at.end > at.start ? at.end : at.start + 1;
  if (end > linestart + len) end = linestart + len;
  sb_puts(b, COLOR("1;32"));
  sb_putc(b, '^');
  for (int i = at.start + 1; i < end; i++)
    if (((unsigned char)f->text[i] & 0xC0) != 0x80) sb_putc(b, '~');
  sb_printf(b, "%s\n", COLOR("0"));
}

static void print_text(FILE *out) {
  sbuf b = {0};
  for (int i = 0; i < ndiags; i++) {
    diag_t *d = &diags[i];
    print_place(&b, d->at);
    if (d->level == DIAG_ERROR)
      sb_printf(&b, "%serror:%s ", COLOR("1;31"), COLOR("0"));
    else
      sb_printf(&b, "%swarning:%s ", COLOR("1;35"), COLOR("0"));
    sb_printf(&b, "%s\n", d->msg);
    print_excerpt(&b, d->at);
    for (int j = 0; j < d->nnotes; j++) {
      print_place(&b, d->notes[j].at);
      sb_printf(&b, "%snote:%s %s\n", COLOR("1;36"), COLOR("0"), d->notes[j].msg);
    }
    if (d->hint) sb_printf(&b, "%shint:%s %s\n", COLOR("1;32"), COLOR("0"), d->hint);
  }
  if (hidden_errors)
    sb_printf(&b, "syncc: %d more error%s not shown (limit is %d)\n", hidden_errors,
              hidden_errors == 1 ? "" : "s", opt_max);
  if (b.data) fputs(b.data, out);
  sb_free(&b);
}

static json_t *place_json(sync_span at) {
  json_t *o = json_object();
  const source_file *f = src_get(at.file);
  if (!f) return o;
  int line, col, eline, ecol;
  src_linecol(at.file, at.start, &line, &col);
  src_linecol(at.file, at.end > at.start ? at.end : at.start, &eline, &ecol);
  json_object_set_new(o, "file", json_string(f->path));
  json_object_set_new(o, "line", json_integer(line));
  json_object_set_new(o, "column", json_integer(col));
  json_object_set_new(o, "end_line", json_integer(eline));
  json_object_set_new(o, "end_column", json_integer(ecol));
  json_object_set_new(o, "offset", json_integer(at.start));
  return o;
}

static void print_json(FILE *out) {
  json_t *arr = json_array();
  for (int i = 0; i < ndiags; i++) {
    diag_t *d = &diags[i];
    json_t *o = place_json(d->at);
    json_object_set_new(o, "severity", json_string(d->level == DIAG_ERROR ? "error" : "warning"));
    json_object_set_new(o, "message", json_string(d->msg));
    json_t *notes = json_array();
    for (int j = 0; j < d->nnotes; j++) {
      json_t *n = place_json(d->notes[j].at);
      json_object_set_new(n, "message", json_string(d->notes[j].msg));
      json_array_append_new(notes, n);
    }
    json_object_set_new(o, "notes", notes);
    if (d->hint) json_object_set_new(o, "hint", json_string(d->hint));
    json_array_append_new(arr, o);
  }
  json_t *doc = json_object();
  json_object_set_new(doc, "diagnostics", arr);
  json_object_set_new(doc, "errors", json_integer(nerrors));
  json_object_set_new(doc, "warnings", json_integer(nwarnings));
  char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  if (s) {
    fputs(s, out);
    fputc('\n', out);
  }
  free(s);
  json_decref(doc);
}

static void forget(void) {
  for (int i = 0; i < ndiags; i++) {
    free(diags[i].msg);
    free(diags[i].hint);
    for (int j = 0; j < diags[i].nnotes; j++) free(diags[i].notes[j].msg);
    free(diags[i].notes);
  }
  free(diags);
  diags = NULL;
  ndiags = capdiags = 0;
  last = NULL;
}

void diag_flush(FILE *out) {
  if (ndiags > 1) qsort(diags, (size_t)ndiags, sizeof *diags, cmp_diag);
  if (opt_json)
    print_json(out);
  else
    print_text(out);
  fflush(out);
  forget();
}

void diag_reset(void) {
  forget();
  nerrors = nwarnings = hidden_errors = 0;
}
