/* jsonstream.h: the records of a JSON array, one at a time.
 *
 * A `json` source names a file and the dotted path of the array of records
 * in it ("data", "response.users"; none: the document is the array).  This
 * reader walks the file with a fixed-size buffer, skips everything outside
 * that array, and hands over one element at a time, parsed by jansson from
 * its own bytes, so memory holds one record, never the document.
 */
#ifndef SYNC_JSONSTREAM_H
#define SYNC_JSONSTREAM_H

#include <jansson.h>
#include <stddef.h>

typedef struct jstream jstream;

/* Opens `path` and finds the array at `at` (NULL or "": the document).
 * NULL and a message naming the file, line and column on failure. */
jstream *jstream_open(const char *path, const char *at, char *err, size_t errsize);
/* The next element (a new reference), or NULL at the end of the array (with
 * err empty) or on malformed JSON (err says where). */
json_t *jstream_next(jstream *s, char *err, size_t errsize);
void jstream_close(jstream *s);

#endif
