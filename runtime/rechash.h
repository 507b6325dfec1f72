/* rechash.h: a mapped record's content hash, 64 bits taken over its values.
 *
 * A link keeps the hash of what its source sent last, so that a record sent
 * again unchanged costs its hash and a compare, not a read of its hub row.
 * Only equality matters, never secrecy: whoever could aim a collision feeds
 * the hub anyway.  A hash that differs costs nothing but that compare (the
 * merge then checks the record against its hub row), so a record's hash
 * only has to be stable: the same values give the same hash on every run
 * and every machine.
 *
 * The hash reads the values themselves, attribute by attribute in name
 * order: each non-null attribute's name, kind and payload (a string's
 * length and bytes, an integer's 8 bytes, a list's count and items).  Up
 * to December 2026 it was the first 64 bits of the SHA-256 of the record as
 * sorted compact JSON: building that text and hashing it were a seventh of
 * a re-sync's time.  A hub linked by that hash takes its first run after the
 * change as every record changed, and compares each with its object.
 */
#ifndef SYNC_RECHASH_H
#define SYNC_RECHASH_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

/* The key an attribute name contributes (taken once per name, not per record). */
uint64_t rechash_name(const char *name);
/* The hash of a record: attrs[order[k]] for k < n, each named by keys[order[k]];
 * never 0 (a link keeps 0 for "no hash"). */
uint64_t rechash_record(const uint64_t *keys, const int *order, int n, const value *attrs);
/* As a run file writes it: 16 lowercase hex digits and a NUL. */
void rechash_hex(uint64_t h, char out[17]);
/* A run file's hash back to its 64 bits: 16 hex digits, or the 64 of a run
 * file saved before (whose head is what links kept then); 0 for anything else. */
uint64_t rechash_of_hex(const char *hex, size_t n);

#endif
