/* sha256.h: SHA-256 (FIPS 180-4), for plan checksums and input hashes. */
#ifndef SYNC_SHA256_H
#define SYNC_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t total;
  uint8_t buf[64];
  size_t used;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
void sha256(const void *data, size_t n, uint8_t out[32]);
/* Whether blocks go through the processor's SHA extensions (x86-64):
 * enable 0 forces the portable code (for the tests); returns whether the
 * extensions are in use.  Without a call they are used when present. */
int sha256_accelerated(int enable);
/* 64 lower-case hex digits and a NUL. */
void sha256_hex(const uint8_t digest[32], char out[65]);
/* The first 64 bits of a digest written as sha256_hex writes it (64
 * lower-case hex digits; anything else gives 0, "none"): what links kept of
 * a record's content hash from hub schema 5 until rechash.h, and what a run
 * file saved then still gives. */
uint64_t sha256_hex_head(const char *hex, size_t n);
/* The same without the checks, for digests sha256_hex has written: the
 * value of the first 16 digits (fewer when the string is shorter). */
uint64_t sha256_head_of_hex(const char *hex);

#endif
