/* scratch.h: an unlinked temporary file, for what a run spills to disk
 * (its operations, its mapped records). */
#ifndef SYNC_SCRATCH_H
#define SYNC_SCRATCH_H

#include <stdio.h>

/* A new file in $TMPDIR (else /tmp) named syncvm-TAG-XXXXXX, opened "w+"
 * and unlinked at once, so it is gone when the process ends however it
 * ends.  NULL when it cannot be made.
 *
 * With `iobuf`, the file gets a stdio buffer of SCRATCH_IOBUF bytes in
 * *iobuf, which the caller frees after fclose: glibc's own is a page (it
 * ignores the size setvbuf is given without a buffer), and a file written a
 * line or a record at a time then costs a system call per 4 KB (on a
 * virtual machine, microseconds each: 180,000 of them in a 100k first
 * sync's plan). */
FILE *scratch_file(const char *tag, char **iobuf);
#define SCRATCH_IOBUF (1 << 20)

#endif
