/* source.h: the text of every file a compilation reads, and its line map.
 *
 * Spans (ast.h) are byte offsets; this module turns them into line and
 * column only when a message is printed (jq's locfile).  Columns count
 * characters (UTF-8 code points), starting at 1, as editors do.
 */
#ifndef SYNC_SOURCE_H
#define SYNC_SOURCE_H

#include <stddef.h>

typedef struct {
  char *path;    /* as given on the command line, or "stdlib/NAME.sync" */
  char *text;    /* NUL-terminated; may contain other NULs if the file did */
  size_t len;
  int *lines;    /* byte offset where each line starts */
  int nlines;
  int is_stdlib; /* embedded library file */
} source_file;

/* Registers a file; takes ownership of `text` (malloc'd).  Returns its id. */
int src_add(const char *path, char *text, size_t len, int is_stdlib);
const source_file *src_get(int id);
int src_count(void);
/* 1-based line and column (in characters) of byte offset `off`. */
void src_linecol(int file, int off, int *line, int *col);
/* The text of 1-based line `line` (without its line break), and its length. */
const char *src_line(int file, int line, int *len);
void src_free_all(void);

#endif
