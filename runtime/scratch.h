/* scratch.h: an unlinked temporary file, for what a run spills to disk
 * (its operations, its mapped records). */
#ifndef SYNC_SCRATCH_H
#define SYNC_SCRATCH_H

#include <stdio.h>

/* A new file in $TMPDIR (else /tmp) named syncvm-TAG-XXXXXX, opened "w+"
 * and unlinked at once, so it is gone when the process ends however it
 * ends.  NULL when it cannot be made. */
FILE *scratch_file(const char *tag);

#endif
