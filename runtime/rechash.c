/* rechash.c: a mapped record's content hash (see rechash.h).
 *
 * One 64-bit lane in the manner of MurmurHash3: each 8-byte word is mixed
 * on its own (multiply, rotate, multiply), folded into the state, and the
 * state is stirred; the end runs the state through a finalizer whose every
 * output bit depends on every input bit.  Every step from one word to the
 * next is a bijection of the state, so two records of the same shape that
 * differ in one word never collide; other differences collide at about
 * 2^-64.  Lengths and kinds are folded in too, so that "ab","c" and "a","bc"
 * differ.
 */
#include "rechash.h"

#include <string.h>

#include "sha256.h"

#define K1 0x87c37b91114253d5ull
#define K2 0x4cf5ad432745937full

static inline uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }

static inline uint64_t fold(uint64_t h, uint64_t k) {
  k *= K1;
  k = rotl(k, 31);
  k *= K2;
  h ^= k;
  h = rotl(h, 27);
  return h * 5 + 0x52dce729;
}

/* Little-endian whatever the machine, so a hub's hashes travel with it
 * (compilers make this one load on x86 and arm64). */
static inline uint64_t le64(const unsigned char *p, size_t n) {
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++) k |= (uint64_t)p[i] << (8 * i);
  return k;
}

static uint64_t fold_bytes(uint64_t h, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  h = fold(h, n);
  for (; n >= 8; p += 8, n -= 8) h = fold(h, le64(p, 8));
  return n ? fold(h, le64(p, n)) : h;
}

static uint64_t finish(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

static uint64_t fold_value(uint64_t h, value v) {
  h = fold(h, v.kind);
  switch (v.kind) {
    case V_BOOL: case V_INT: case V_DATE: case V_TIME: return fold(h, (uint64_t)v.u.i);
    case V_DEC: {
      double d = v.u.d == 0 ? 0 : v.u.d; /* -0.0 is 0, as == says */
      uint64_t bits;
      memcpy(&bits, &d, sizeof bits);
      return fold(h, bits);
    }
    case V_STR: return fold_bytes(h, v.u.s, v.len);
    case V_LIST:
      h = fold(h, v.len);
      for (uint32_t i = 0; i < v.len; i++) h = fold_value(h, v.u.items[i]);
      return h;
    default: return h; /* null, and a regex (never a record's value) */
  }
}

uint64_t rechash_name(const char *name) { return finish(fold_bytes(0, name, strlen(name))); }

uint64_t rechash_record(const uint64_t *keys, const int *order, int n, const value *attrs) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (int k = 0; k < n; k++) {
    int a = order[k];
    if (attrs[a].kind == V_NULL) continue;
    h = fold_value(fold(h, keys[a]), attrs[a]);
  }
  h = finish(h);
  return h ? h : 1;
}

void rechash_hex(uint64_t h, char out[17]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, h >>= 4) out[i] = digits[h & 15];
  out[16] = 0;
}

/* A lower-case hex digit's value plus one, 0 for any other byte: a first
 * sync reads a million hashes, and each digit's value by comparisons was a
 * twentieth of its apply's first core. */
static const uint8_t HEX1[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

uint64_t rechash_of_hex(const char *hex, size_t n) {
  if (n == 64) return sha256_hex_head(hex, n);
  if (n != 16) return 0;
  uint64_t v = 0;
  int bad = 0;
  for (size_t i = 0; i < 16; i++) {
    unsigned d = HEX1[(unsigned char)hex[i]];
    bad |= d == 0;
    v = v << 4 | ((d - 1) & 15);
  }
  return bad ? 0 : v;
}
