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
/* The same for the feed of the plan's unit `unit`, opened by the thread
 * too: started while an earlier unit is mapped, the opening (which may
 * read a join's whole file) and the first batches are ready when the
 * mapper gets to it.  NULL as fpipe_start. */
feedpipe *fpipe_open(const plan *p, uint32_t unit, int nfields);
/* Waits for fpipe_open's feed to be opened: the feed (the caller's to
 * close, after fpipe_stop), or NULL with feed_open's message. */
feed *fpipe_opened(feedpipe *fp, char *err, size_t errsize);
/* The next record, as feed_next gives it: FEED_RECORD with its fields (valid
 * until the next call), where it came from and whether it is a delta's
 * deletion; FEED_END; or the feed's error code, with its message in err. */
int fpipe_next(feedpipe *fp, value **fields, const char **where, int *deleted, char *err, size_t errsize);
/* Seconds fpipe_next has waited for the reading thread so far. */
double fpipe_waited(const feedpipe *fp);
/* Stops the reading thread (after the record it is reading) and frees the
 * pipe; a feed it opened that fpipe_opened never gave out is closed. */
void fpipe_stop(feedpipe *fp);

#endif
