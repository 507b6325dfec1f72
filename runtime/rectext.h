/* rectext.h: a mapped record as the sorted compact JSON text its content
 * hash is taken over, written straight from the values.
 *
 * The snapshot's content hash has always been SHA-256 of the record as
 * jansson dumps it (JSON_COMPACT | JSON_SORT_KEYS).  Building a jansson
 * object per record just to dump it was about three quarters of the map
 * phase, so this writes the same text directly into a reused buffer: same
 * key order, same escapes, same numbers, the same values left out (nulls,
 * and the strings jansson refuses: invalid UTF-8).  Hashes in existing hubs
 * stay valid; tests/unit/test_rectext.c compares the two byte for byte.
 */
#ifndef SYNC_RECTEXT_H
#define SYNC_RECTEXT_H

#include <stddef.h>

#include "value.h"

typedef struct {
  char *buf;
  size_t len, cap;
} rectext;

/* The order to write an entity's attributes in: `order` gets the indexes of
 * names[0..n) sorted by name (as jansson's JSON_SORT_KEYS sorts keys). */
void rectext_sort_names(const char *const *names, int n, int *order);

/* Replaces t's text with the record {names[i]: attrs[i]} (nulls left out),
 * keys in `order`.  The text is NUL-terminated; t->len excludes the NUL. */
void rectext_record(rectext *t, const char *const *names, const int *order, int n, const value *attrs);

void rectext_free(rectext *t);

#endif
