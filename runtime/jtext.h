/* jtext.h: writing compact JSON text directly, byte for byte as jansson's
 * json_dumps(JSON_COMPACT) would write the same values.
 *
 * Computing a run makes an operation per object and per record; building
 * each as jansson values only to dump it into the oplog and free it was most
 * of the merge.  The writer follows jansson's rules where they show in the
 * text: members in the order they are added; strings escaped as jansson
 * escapes them ("\uXXXX", upper-case hex, for other control characters); a
 * string that is not valid UTF-8 is no value at all (json_string() gives
 * NULL, so the member is not added): callers test jt_utf8_ok() first.
 */
#ifndef SYNC_JTEXT_H
#define SYNC_JTEXT_H

#include <stddef.h>
#include <stdint.h>

#define JT_DEPTH 16

typedef struct {
  char *b;
  size_t n, cap;
  int depth;
  uint8_t items[JT_DEPTH]; /* per open container: it has an item already */
} jtext;

void jt_reset(jtext *t);
void jt_free(jtext *t);
/* Whether jansson takes the bytes as a string (valid UTF-8). */
int jt_utf8_ok(const char *s, size_t n);

void jt_open(jtext *t, char brace); /* '{' or '[' */
void jt_close(jtext *t, char brace); /* '}' or ']' */
/* Starts a member (its key) or an array element. */
void jt_key(jtext *t, const char *key);
void jt_elem(jtext *t);

/* Values (after jt_key or jt_elem). */
void jt_str(jtext *t, const char *s, size_t n); /* valid UTF-8 */
void jt_int(jtext *t, int64_t v);
void jt_raw(jtext *t, const char *s, size_t n);  /* already JSON */

/* Members whose value may be no value: a string added only when valid. */
void jt_mstr(jtext *t, const char *key, const char *s);
void jt_mint(jtext *t, const char *key, int64_t v);

/* Text made once and written many times: a run writes the same keys, and
 * every create of an entity starts with the same members, a million times.
 * jt_key_text() makes into k the text jt_key(t, key) writes after any
 * comma ("key":); jt_key_as() and jt_mstr_as() then write as jt_key() and
 * jt_mstr() would with that key; jt_restart() starts t as a copy of head,
 * its text and its open containers. */
void jt_key_text(jtext *k, const char *key);
void jt_key_as(jtext *t, const jtext *k);
void jt_mstr_as(jtext *t, const jtext *k, const char *s);
void jt_restart(jtext *t, const jtext *head);

#endif
