/* outfile.h: plan -o's run file, written beside where it goes and put in
 * place once whole.
 *
 * A plan that fails (or is stopped by a signal) leaves the file that was
 * there as it was, and no partial file behind.  A whole file replaces the
 * old one atomically: a reader opening the path at any moment gets one or
 * the other, complete.
 */
#ifndef SYNC_OUTFILE_H
#define SYNC_OUTFILE_H

#include <stdio.h>

#include <pthread.h>

typedef struct {
  FILE *f;         /* write the run file here */
  char *iobuf;     /* its stdio buffer */
  char partial[1100];
  pthread_t dropper; /* drops the old file's cached pages (out_open) */
  int dropping;
  int old_fd;
} out_file;

/* Creates "PATH.PID.partial" to write; 0 (with a message on stderr naming
 * path) when it cannot. */
int out_open(out_file *w, const char *path);
/* Closes the file, and puts it at path when `keep` (else removes it).  0
 * on an error, with errno. */
int out_close(out_file *w, const char *path, int keep);

#endif
