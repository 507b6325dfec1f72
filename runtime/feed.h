/* feed.h: the records of one source and entity, one at a time.
 *
 * A feed reads a file source (csv, json, oneroster_csv) and hands each record
 * over as one value per field path of the plan's unit (plan.h), which is
 * what the VM's LOAD_FIELD reads.  Values borrow from the feed's row buffer
 * (value.h's rule): they are valid until the next feed_next().  Files are
 * read a row at a time; memory does not grow with the file (the one
 * exception: OneRoster demographics, joined to users by id, are indexed).
 * The network kinds arrive with the connectors (issue 5).
 */
#ifndef SYNC_FEED_H
#define SYNC_FEED_H

#include <stddef.h>
#include <stdio.h>

#include "plan.h"

typedef struct feed feed;

enum { FEED_END = 0, FEED_RECORD = 1, FEED_BAD_ROW = -1, FEED_ERROR = -2 };

/* Opens the records of `unit`.  NULL and a message when the source cannot be
 * read at all (a missing file, a missing required column). */
feed *feed_open(const plan *p, uint32_t unit, char *err, size_t errsize);
/* FEED_RECORD with fields[] filled; FEED_END; FEED_BAD_ROW (a malformed
 * row: err names the file, line and column; the feed goes on with the next
 * row); FEED_ERROR (the source failed: stop, and apply nothing). */
int feed_next(feed *f, value *fields, arena *a, char *err, size_t errsize);
/* "students.csv:12": where the last record came from. */
const char *feed_where(const feed *f);
/* Whether the last record is a OneRoster delta deletion (tobedeleted). */
int feed_deleted(const feed *f);
/* Whether the feed is a OneRoster delta file: records it does not send are
 * unchanged, not gone; only its tobedeleted rows remove records. */
int feed_is_delta(const feed *f);
void feed_close(feed *f);
/* Whether the unit's feed is a file source's (csv, json, oneroster_csv,
 * not replayed) and its files are regular files: opening and reading it
 * ahead asks no server, never waits, and holds little. */
int feed_reads_local(const plan *p, uint32_t unit);

/* Replay: read a network source's records from recorded responses in DIR
 * instead of the network (syncvm plan|apply --replay SOURCE=DIR).  For the
 * OneRoster REST kinds (oneroster, synergy) DIR holds, per resource (users,
 * orgs, courses, classes, academicSessions, enrollments, demographics),
 * either RESOURCE.json or RESOURCE/NNNN.json pages, each a response body as
 * the API sends it ({"users": [...]}).  The other network kinds read their
 * own resources the same way (xpress: connectors/xpress_replay.h).  Returns 0
 * for an unknown source. */
int feed_set_replay(const plan *p, const char *source, const char *dir);

/* Progress on a terminal: once a run is a second old, a line on `out` (per
 * source and entity: records read, rate, seconds), rewritten in place and
 * cleared when the feed closes.  NULL (the default) is silent. */
void feed_progress(FILE *out);

/* Whether SOURCE is read from a replay directory. */
int feed_has_replay(uint32_t source);
/* Every env()/file() setting of the source can be read: else 0 and a message
 * naming the setting and where it is read from (never a value). */
int feed_check_settings(const plan *p, uint32_t source, char *err, size_t errsize);

/* Resolves a setting of a source: its literal, or (for env()/file()) the
 * secret read now.  Returns NULL when absent; *why when it cannot be read. */
const char *feed_setting(const plan *p, uint32_t source, const char *key, char *buf, size_t size, const char **why);

#endif
