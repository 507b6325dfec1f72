/* csv.h: a streaming RFC 4180 reader.
 *
 * Reads one row at a time through a fixed-size input buffer, so memory stays
 * bounded by the longest row, never the file.  Accepts what real exports
 * contain: a UTF-8 byte order mark, CRLF, bare LF and bare CR (classic Mac
 * exports such as Clever's) line ends, quoted fields holding delimiters,
 * quotes ("") and line breaks, and any one-byte delimiter.  A quote inside an
 * unquoted field is kept as a character (real exports have them); text
 * after a closing quote, or a file that ends inside quotes, is an error that
 * names the line and column.
 */
#ifndef SYNC_CSV_H
#define SYNC_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef struct csv_reader csv_reader;

/* Opens `path`; NULL and a message in err on failure. */
csv_reader *csv_open(const char *path, char delim, char *err, size_t errsize);
/* Reads an open stream (a zip member's temporary file); takes it over. */
csv_reader *csv_open_stream(FILE *f, char delim);
/* Reads the next row.  Returns 1 with *cells / *lens / *n set (valid until
 * the next call), 0 at the end, -1 on a malformed row (message in err; the
 * reader then skips to the next line, so the caller may go on). */
int csv_next(csv_reader *r, char ***cells, size_t **lens, int *n, char *err, size_t errsize);
/* Whether plain lines are split in one pass (1, the default) or byte by
 * byte like every other line (0): for the tests, which compare the two. */
void csv_fast_rows(int enable);
/* The line on which the row last returned started (1-based). */
long csv_row_line(const csv_reader *r);
void csv_close(csv_reader *r);

#endif
