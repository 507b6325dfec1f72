/* oplog.h: a run's operations, kept in a temporary file rather than in memory.
 *
 * A first sync of a large district computes millions of operations; held as
 * JSON objects they took gigabytes.  An oplog writes each operation, as it is
 * computed, as one line of compact JSON text to an unlinked temporary file
 * (in $TMPDIR, else /tmp), and reads them back one at a time, in order, to
 * print them, save them, record them in the history and apply them.  Memory
 * holds one operation at a time, whatever the size of the run.
 */
#ifndef SYNC_OPLOG_H
#define SYNC_OPLOG_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef struct oplog oplog;

/* A new, empty log; NULL (with errno) when no temporary file can be made. */
oplog *oplog_new(void);
/* A log kept in a file its caller owns (a run file that plan -o writes),
 * from the file's current offset on, as the inside of a JSON array: each
 * line but the first starts with the comma that separates it from the one
 * before ("{...}\n,{...}\n"), which reading leaves out.  The operations
 * are then written once, not to a temporary file and copied after.  Such a
 * log has no view (oplog_view_of gives fd -1).  NULL when out of memory. */
oplog *oplog_new_in(FILE *f);
/* A log of the lines already in a file, from offset `start` on, laid out
 * as oplog_new_in writes them (a run file that apply follows where it lies
 * rather than copying it): never written, each line counted by
 * oplog_note as its reader finds it.  The log reads through a descriptor
 * of its own (a dup of fd).  NULL when out of memory or descriptors. */
oplog *oplog_over(int fd, long start);
/* Counts the next line of a log over a file: n bytes, without the comma
 * before it and the newline after it. */
void oplog_note(oplog *l, size_t n);
int oplog_is_over(const oplog *l); /* made by oplog_over */
/* A log that counts its operations and keeps none (`plan --summary`, which
 * shows the counts alone): reading it finds nothing, and its writers may
 * leave the operations' text unmade (oplog_keeps).  NULL when out of
 * memory. */
oplog *oplog_counter(void);
int oplog_keeps(const oplog *l); /* 0 for a counter */
void oplog_free(oplog *l);
/* Appends `op` (taking the reference).  0 when the file cannot be written
 * (the log remembers it: oplog_failed()). */
int oplog_add(oplog *l, json_t *op);
/* Appends an operation already dumped as jansson's compact JSON (one line:
 * jtext.h writes it so). */
int oplog_add_text(oplog *l, const char *text, size_t n);
int oplog_failed(oplog *l); /* waits for the writes under way (bgwrite.h) */
size_t oplog_count(const oplog *l);

/* Reading: oplog_rewind(), then oplog_next() until it returns NULL.  Each
 * operation is a new reference the caller releases.  One reader at a time. */
void oplog_rewind(oplog *l);
json_t *oplog_next(oplog *l);
/* The next operation's compact JSON text (without a newline; valid until
 * the next read), or NULL at the end. */
const char *oplog_next_text(oplog *l, size_t *n);

/* Writes the operations as the JSON array jansson would dump with `flags`
 * (JSON_COMPACT, or JSON_INDENT(n) for an array nested `depth` levels deep),
 * byte for byte.  Returns 0 on a write error. */
int oplog_write_array(oplog *l, FILE *out, size_t flags, int depth);
/* A finished log as it may be read beside the owner's own reads (by
 * another thread too): its file descriptor and length, read only with
 * pread (never through the log's FILE).  The log must not grow while a
 * view is read. */
typedef struct {
  int fd;
  uint64_t start; /* the file offset of the first line */
  uint64_t size;  /* the lines with their newlines (and separators) */
  int in_array;   /* each line but the first starts with its separator, ',' */
} oplog_view;
oplog_view oplog_view_of(oplog *l); /* flushes the log's buffer */
/* How much of an operation's line (text, n bytes) to keep: 0 drops it, n
 * keeps it whole, and fewer keeps that head of the object, whose last
 * members were cut, closed with a '}'. */
typedef size_t (*oplog_keep)(const char *text, size_t n);
/* The compact JSON array "[op,op,...]" of the operations as keep keeps
 * them (keep NULL: every one whole), in pieces, for writers that take text
 * a piece at a time (a compressor): calls put(ctx, bytes, n) in order;
 * 0 when put or a read fails. */
int oplog_view_pieces(oplog_view v, oplog_keep keep, int (*put)(void *ctx, const char *bytes, size_t n), void *ctx);

#endif
