/* source.c: the file registry and line maps. */
#include "source.h"

#include <stdlib.h>

#include "util.h"

static source_file *files;
static int nfiles, capfiles;

int src_add(const char *path, char *text, size_t len, int is_stdlib) {
  if (nfiles == capfiles) {
    capfiles = capfiles ? capfiles * 2 : 8;
    files = xrealloc(files, (size_t)capfiles * sizeof *files);
  }
  source_file *f = &files[nfiles];
  f->path = xstrdup(path);
  f->text = text;
  f->len = len;
  f->is_stdlib = is_stdlib;
  int cap = 64;
  f->lines = xmalloc((size_t)cap * sizeof *f->lines);
  f->nlines = 0;
  f->lines[f->nlines++] = 0;
  for (size_t i = 0; i < len; i++) {
    /* \n, \r\n and a bare \r each end a line. */
    int brk = 0;
    if (text[i] == '\n')
      brk = 1;
    else if (text[i] == '\r') {
      if (i + 1 < len && text[i + 1] == '\n') i++;
      brk = 1;
    }
    if (brk) {
      if (f->nlines == cap) f->lines = xrealloc(f->lines, (size_t)(cap *= 2) * sizeof *f->lines);
      f->lines[f->nlines++] = (int)(i + 1);
    }
  }
  return nfiles++;
}

const source_file *src_get(int id) { return id >= 0 && id < nfiles ? &files[id] : NULL; }
int src_count(void) { return nfiles; }

static int line_index(const source_file *f, int off) {
  int lo = 0, hi = f->nlines - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (f->lines[mid] <= off)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static int src_has_bom(const source_file *f) {
  return f->len >= 3 && (unsigned char)f->text[0] == 0xEF && (unsigned char)f->text[1] == 0xBB &&
         (unsigned char)f->text[2] == 0xBF;
}

void src_linecol(int file, int off, int *line, int *col) {
  const source_file *f = src_get(file);
  if (!f) {
    *line = *col = 0;
    return;
  }
  if (off < 0) off = 0;
  if ((size_t)off > f->len) off = (int)f->len;
  int li = line_index(f, off);
  int c = 1;
  int start = f->lines[li];
  /* A UTF-8 byte order mark is not a column: editors do not show it. */
  if (li == 0 && src_has_bom(f)) start = 3;
  for (int i = start; i < off; i++)
    if (((unsigned char)f->text[i] & 0xC0) != 0x80) c++;
  *line = li + 1;
  *col = c;
}

const char *src_line(int file, int line, int *len) {
  const source_file *f = src_get(file);
  if (!f || line < 1 || line > f->nlines) {
    *len = 0;
    return "";
  }
  int start = f->lines[line - 1];
  int end = line < f->nlines ? f->lines[line] : (int)f->len;
  while (end > start && (f->text[end - 1] == '\n' || f->text[end - 1] == '\r')) end--;
  *len = end - start;
  return f->text + start;
}

void src_free_all(void) {
  for (int i = 0; i < nfiles; i++) {
    free(files[i].path);
    free(files[i].text);
    free(files[i].lines);
  }
  free(files);
  files = NULL;
  nfiles = capfiles = 0;
}
