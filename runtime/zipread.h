/* zipread.h: reading one member of a .zip file (OneRoster CSV packages).
 *
 * OneRoster CSV is distributed as a zip of CSV files.  zip_extract() finds a
 * member by name (also inside a folder of the zip) and inflates it into an
 * anonymous temporary file, a buffer at a time, so memory stays bounded
 * whatever the member's size.  Uses zlib's raw inflate: a zip's members are
 * deflate streams (method 8) or stored as they are (method 0).
 */
#ifndef SYNC_ZIPREAD_H
#define SYNC_ZIPREAD_H

#include <stddef.h>
#include <stdio.h>

/* The member's bytes in a temporary file, positioned at its start; NULL and
 * a message in err when the zip or the member cannot be read.  *missing is
 * set when the zip is fine but has no such member. */
FILE *zip_extract(const char *zip, const char *name, int *missing, char *err, size_t errsize);

#endif
