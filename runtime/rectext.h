/* rectext.h: values and records as the JSON text jansson would dump, written
 * straight from the values into a jtext.
 *
 * The snapshot's content hash has always been SHA-256 of the record as
 * jansson dumps it (JSON_COMPACT | JSON_SORT_KEYS), and operations were
 * jansson objects dumped compact.  Building a jansson value per record or
 * per operation only to dump it was most of the map and merge phases, so
 * these write the same text directly: the same key order, escapes and
 * numbers, and the same values left out (nulls in a record, and what jansson
 * refuses to make: text that is not UTF-8, a NaN or an infinity).  Hashes in
 * existing hubs stay valid; tests/unit/test_rectext.c compares the two
 * byte for byte.
 */
#ifndef SYNC_RECTEXT_H
#define SYNC_RECTEXT_H

#include "jtext.h"
#include "value.h"

/* Whether jansson makes a value of v: json_string() refuses text that is
 * not UTF-8, json_real() a NaN or an infinity. */
int rectext_ok(value v);
/* v as jansson dumps it compact (rectext_ok(v) holds). */
void rectext_value(jtext *t, value v);
/* The member "key": v of the object being written; nothing unless
 * rectext_ok(v) (json_object_set_new() of no value sets nothing). */
void rectext_member(jtext *t, const char *key, value v);
/* The same with the key's text made once (jt_key_text). */
void rectext_member_as(jtext *t, const jtext *key, value v);

/* The order to write an entity's attributes in: `order` gets the indexes of
 * names[0..n) sorted by name (as jansson's JSON_SORT_KEYS sorts keys). */
void rectext_sort_names(const char *const *names, int n, int *order);
/* Appends the record {names[i]: attrs[i]} (nulls left out), keys in
 * `order`. */
void rectext_record(jtext *t, const char *const *names, const int *order, int n, const value *attrs);

#endif
