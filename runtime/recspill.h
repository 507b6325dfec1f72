/* recspill.h: the run's mapped records, kept out of memory.
 *
 * A run keeps each mapped record from its source's read to the end of the
 * computation (references, link and merge look at every record).  In memory
 * that cost about a kilobyte a record.  A spill holds each record's body
 * (where it came from, its content hash, its attribute values) in an unlinked
 * temporary file (in $TMPDIR, else /tmp), written once while reading the
 * sources and read back by offset (from the page cache, not the heap) when a
 * phase needs it.  Memory keeps a small header per record (pipeline.c).
 *
 * fpmap is the index beside it: 64-bit key hashes to record numbers, 12
 * bytes a slot rather than a copy of every key.  Two keys may share a hash,
 * so a lookup yields candidates and the caller checks the real key.
 */
#ifndef SYNC_RECSPILL_H
#define SYNC_RECSPILL_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

typedef struct recspill recspill;

/* Where reads of a spill come from: the last window of the file read (a
 * phase reads records mostly in the order they were written).  A spill
 * keeps one for spill_get; a second thread reading at the same time keeps
 * its own (spill_get_in).  Zeroed: empty. */
typedef struct {
  uint8_t *buf;  /* bytes [off, off + len) of the file */
  uint64_t off;
  size_t len;
} spill_window;

/* NULL (with errno) when no temporary file can be made. */
recspill *spill_new(void);
void spill_free(recspill *s);
/* Appends one record's body; *off and *len say where it is.  0 on a write
 * error (the spill remembers it: spill_failed()). */
int spill_put(recspill *s, const char *where, uint64_t hash, const value *attrs, int nattrs, uint64_t *off, uint32_t *len);
int spill_failed(recspill *s); /* waits for the writes under way (bgwrite.h) */
/* Reads a body back: strings and lists point into memory from arena `a`.
 * attrs gets nattrs values (as many as were put).  0 on a read error. */
int spill_get(recspill *s, uint64_t off, uint32_t len, arena *a, const char **where, uint64_t *hash, value *attrs, int nattrs);
/* Waits for the writes under way (0 when one failed).  Once settled, and
 * until the next spill_put, spill_get_in may be called from any thread. */
int spill_settle(recspill *s);
/* spill_get through the caller's own window, for a thread other than the
 * one that calls spill_get: 0 too when the spill is not settled. */
int spill_get_in(const recspill *s, spill_window *w, uint64_t off, uint32_t len, arena *a, const char **where, uint64_t *hash,
                 value *attrs, int nattrs);
void spill_window_free(spill_window *w);
/* The body's content hash alone (rechash.h), without reading the rest. */
int spill_hash(recspill *s, uint64_t off, uint32_t len, uint64_t *hash);

/* A hash's 32-bit tag per slot, not the whole hash: every user checks its
 * candidates against the real key anyway, and at ten million records the
 * table is 130 MB instead of 200. */
typedef struct {
  uint32_t *h;   /* the tag; 0: an empty slot */
  uint32_t *v;
  size_t cap, n;
} fpmap;

/* A key's hash (never 0), over parts joined as if by a separator no part holds. */
uint64_t fp_hash(const void *bytes, size_t n, uint64_t seed);
void fp_put(fpmap *m, uint64_t h, uint32_t v);
/* Makes an empty map room for n entries at once (no growth until then). */
void fp_reserve(fpmap *m, size_t n);
/* Candidates for h, in no particular order: start with *pos = 0; each call
 * gives the next (1) or says there is none (0). */
int fp_next(const fpmap *m, uint64_t h, size_t *pos, uint32_t *v);
/* The first candidate for h alone (1), or none (0): for a caller that
 * asks for memory ahead (fp_prefetch), then goes through fp_next. */
int fp_first(const fpmap *m, uint64_t h, uint32_t *v);
/* Asks the processor for the slot where h's search starts: a batch of
 * lookups then waits for memory once, not once each. */
void fp_prefetch(const fpmap *m, uint64_t h);
void fp_free(fpmap *m);

#endif
