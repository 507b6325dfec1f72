/* feedpipe.h: a feed read on a second thread, a batch of records ahead of
 * the thread that maps them.
 *
 * Reading and decoding a source (CSV cells, JSON pages, an HTTP response) is
 * a fifth of computing a run, and mapping does not wait on it: the reading
 * thread fills one batch of records (their fields, where each came from,
 * whether it is a delta's deletion) while the mapping thread takes the
 * records of the other, each batch with an arena of its own.  Records come
 * out in the order the feed gave them, and a feed's error comes after every
 * record before it, so a run computes exactly what it would on one thread.
 * Only the reading thread touches the feed between fpipe_start and
 * fpipe_stop.
 */
#ifndef SYNC_FEEDPIPE_H
#define SYNC_FEEDPIPE_H

#include <stddef.h>

#include "feed.h"
#include "value.h"

typedef struct feedpipe feedpipe;

/* Starts reading f (records of nfields fields) on a thread of its own; NULL
 * when a thread or memory cannot be had (the caller reads f itself). */
feedpipe *fpipe_start(feed *f, int nfields);
/* The next record, as feed_next gives it: FEED_RECORD with its fields (valid
 * until the next call), where it came from and whether it is a delta's
 * deletion; FEED_END; or the feed's error code, with its message in err. */
int fpipe_next(feedpipe *fp, value **fields, const char **where, int *deleted, char *err, size_t errsize);
/* Seconds fpipe_next has waited for the reading thread so far. */
double fpipe_waited(const feedpipe *fp);
/* Stops the reading thread (after the record it is reading) and frees the pipe. */
void fpipe_stop(feedpipe *fp);

#endif
