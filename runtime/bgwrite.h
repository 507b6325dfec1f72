/* bgwrite.h: a file written on a second thread, a buffer at a time.
 *
 * A run writes its operations to a file as it computes them: half a
 * gigabyte at 100,000 students.  Each write() copies into pages of the
 * kernel's file cache, and on the virtual machines syncvm runs on (and is
 * measured on) pages the kernel has not used for a few seconds have been
 * handed back to the host, which backs them again one at a time: such a
 * write went at 0.4 GB/s against 4.5 GB/s into recently used pages, a
 * second of a first sync's two-second merge phase, on the one core that
 * computes.  A bgwriter takes the bytes into one of a few buffers and a
 * thread of its own writes each full one, so that copy lands on the other
 * core, which has nothing to do while the merge runs.  Memory: BGW_BUFS
 * buffers of BGW_BUF bytes, reused.
 */
#ifndef SYNC_BGWRITE_H
#define SYNC_BGWRITE_H

#include <stddef.h>
#include <stdint.h>

#define BGW_BUF (1u << 20)
#define BGW_BUFS 3

typedef struct bgwriter bgwriter;

/* Writes to fd from offset `at` on (with pwrite: the descriptor's own
 * offset is left alone).  Where no thread can be had, the caller's thread
 * writes each full buffer itself.  NULL when out of memory. */
bgwriter *bgw_open(int fd, uint64_t at);
/* Hands each full buffer to sink(ctx, bytes, n) instead of a file (on the
 * thread), which returns 0 (and sets errno) when it cannot take them: a
 * writer whose bytes are records of its own (asyncvfs.c).  With bgw_room
 * and bgw_flush, a record never spans two buffers.  NULL when out of
 * memory. */
typedef int (*bgw_sink)(void *ctx, const char *bytes, size_t n);
bgwriter *bgw_open_sink(bgw_sink sink, void *ctx);
/* Takes n bytes; 0 once a write has failed (errno is the write's). */
int bgw_write(bgwriter *w, const void *bytes, size_t n);
/* Room for n bytes (at most BGW_BUF) in the buffer being filled, which is
 * handed over first when it has less: the caller puts them there itself
 * and then says how many it put (bgw_wrote), instead of copying them in
 * through bgw_write.  NULL when n is larger or a write has failed. */
void *bgw_reserve(bgwriter *w, size_t n);
void bgw_wrote(bgwriter *w, size_t n);
/* Waits until every byte taken is in the file: what a reader of the file
 * needs first.  0 when a write failed. */
int bgw_sync(bgwriter *w);
/* The offset the next byte taken goes to. */
uint64_t bgw_offset(const bgwriter *w);
/* How many more bytes the buffer being filled takes. */
size_t bgw_room(const bgwriter *w);
/* Hands the buffer being filled to the thread now, as full. */
void bgw_flush(bgwriter *w);
/* Syncs, stops the thread and frees the writer; 0 when a write failed. */
int bgw_close(bgwriter *w);

#endif
