/* jspan.h: reading JSON text in place, without building a value tree.
 *
 * Applying a run reads every operation back from the oplog, one compact
 * JSON object per line; parsing each into jansson values (and freeing them)
 * was a third of the apply.  A span is a value's own bytes inside the line:
 * finding a member, reading an integer or a string, or copying an array's
 * text costs a walk over the bytes and no allocation.  The text must be
 * well-formed JSON (the oplog holds jansson's dumps); a malformed span reads
 * as absent.
 */
#ifndef SYNC_JSPAN_H
#define SYNC_JSPAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *p; /* NULL: absent */
  size_t n;
} jspan;

enum { JS_ABSENT, JS_OBJECT, JS_ARRAY, JS_STRING, JS_INTEGER, JS_REAL, JS_TRUE, JS_FALSE, JS_NULL };

/* The members of an object, in their order (keys as spans of their quoted text). */
typedef struct {
  jspan key, val;
} jmember;

int jspan_type(jspan v);
/* Splits an object into up to `max` members; returns how many (0 for a non-object). */
size_t jspan_members(jspan obj, jmember *out, size_t max);
/* jspan_members, and the members of the member named `key` (its first; an
 * object) into inner (up to inner_max; *ninner how many: as jspan_members
 * of that member's value would give), found in the same walk: a create's
 * set was walked once to find where it ends, and again to split it. */
size_t jspan_members_with(jspan obj, jmember *out, size_t max, const char *key, jmember *inner, size_t inner_max, size_t *ninner);
/* The elements of an array one at a time: *at is NULL to start; each call
 * puts the next element in *v and returns 1, or returns 0 after the last
 * (or at malformed text, or for a non-array). */
int jspan_next(jspan arr, const char **at, jspan *v);
/* The length of the JSON value that starts at p (no space before it), at
 * most n bytes; 0 when there is none. */
size_t jspan_value_len(const char *p, size_t n);
/* The member whose key is `key` (ASCII, no escapes), or an absent span. */
jspan jspan_get(const jmember *m, size_t n, const char *key);
/* Whether a quoted key span equals `key` (ASCII, no escapes). */
int jspan_key_is(jspan k, const char *key);
/* An integer's value (0 for any other type, as json_integer_value). */
int64_t jspan_int(jspan v);
double jspan_real(jspan v);
/* A string's decoded bytes into *buf (grown with realloc; NUL-terminated);
 * returns its length, or -1 for a non-string. */
long jspan_str(jspan v, char **buf, size_t *cap);
/* Whether the string equals `s` (NUL-terminated; no escapes in `s`). */
int jspan_str_is(jspan v, const char *s);
/* Appends the compact dump with keys sorted (as jansson's JSON_COMPACT |
 * JSON_SORT_KEYS) of the value to *buf at *len; 0 on malformed text. */
int jspan_dump_sorted(jspan v, char **buf, size_t *len, size_t *cap);

/* Whether text is one JSON object in the compact form jspan reads, with a
 * meaning jansson's parse would give it too: no space outside strings (so
 * one line), strings of valid UTF-8 without control characters, \u escapes
 * other than NUL and surrogates, integers of up to 18 digits, no reals,
 * nesting up to 64 deep, objects of up to 32 members with no key given
 * twice (jansson keeps the last, jspan_get the first) and none escaped.  A run file's operations in this form go to the
 * oplog as they are; any other is left to jansson. */
int jspan_compact_ok(const char *text, size_t n);
/* The length of the object in that form that starts at text, found in the
 * same walk that checks it; 0 when there is none within `avail` bytes (not
 * in that form, or cut short). */
size_t jspan_compact_len(const char *text, size_t avail);

#endif
