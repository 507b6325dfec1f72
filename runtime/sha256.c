/* sha256.c: a small, portable SHA-256.  Plans are checksummed with it and
 * record the hash of the spec and of each stdlib file they were built from;
 * syncvm hashes every record of every run with it (the content hash a link
 * keeps), so on x86-64 processors with the SHA extensions the blocks go
 * through those instructions (block_ni), checked against the portable code
 * by tests/unit/test_sha256.c. */
#include "sha256.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(sha256_ctx *c, const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
    h = g, g = f, f = e, e = d + t1, d = cc, cc = b, b = a, a = t1 + t2;
  }
  c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
  c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

#ifdef SHA_NI
/* One block with the SHA extensions.  The state lives as two vectors,
 * ABEF and CDGH, the order sha256rnds2 takes; each step of the loop does
 * four rounds, and from the fifth on makes the next four schedule words
 * from the sixteen before (msg1, the word seven back, msg2). */
__attribute__((target("sha,sse4.1"))) static void block_ni(sha256_ctx *c, const uint8_t *p) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL); /* big-endian words */
  __m128i dcba = _mm_loadu_si128((const __m128i *)&c->h[0]), hgfe = _mm_loadu_si128((const __m128i *)&c->h[4]);
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1), efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8), cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  const __m128i abef0 = abef, cdgh0 = cdgh;
  __m128i w[4];
  for (int i = 0; i < 16; i++) {
    __m128i m;
    if (i < 4) {
      m = w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
    } else {
      __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(w[i % 4], w[(i + 1) % 4]), _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4));
      m = w[i % 4] = _mm_sha256msg2_epu32(t, w[(i + 3) % 4]);
    }
    m = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * i]));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
  }
  abef = _mm_add_epi32(abef, abef0), cdgh = _mm_add_epi32(cdgh, cdgh0);
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B), dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)&c->h[0], _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)&c->h[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* Whether this processor has the SHA extensions (CPUID leaf 7, EBX bit 29)
 * and SSE4.1 (leaf 1, ECX bit 19). */
static int cpu_has_sha(void) {
  unsigned a, b, cc, d;
  if (!__get_cpuid(1, &a, &b, &cc, &d) || !(cc & (1u << 19))) return 0;
  return __get_cpuid_count(7, 0, &a, &b, &cc, &d) && (b & (1u << 29));
}
#endif

static int use_ni = -1; /* -1: not asked yet */

int sha256_accelerated(int enable) {
#ifdef SHA_NI
  use_ni = enable && cpu_has_sha();
#else
  (void)enable;
  use_ni = 0;
#endif
  return use_ni;
}

static void compress(sha256_ctx *c, const uint8_t *p) {
#ifdef SHA_NI
  if (use_ni < 0) sha256_accelerated(1);
  if (use_ni) {
    block_ni(c, p);
    return;
  }
#endif
  block(c, p);
}

void sha256_init(sha256_ctx *c) {
  static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, init, sizeof init);
  c->total = 0;
  c->used = 0;
}

void sha256_update(sha256_ctx *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->total += n;
  while (n > 0) {
    size_t take = 64 - c->used < n ? 64 - c->used : n;
    memcpy(c->buf + c->used, p, take);
    c->used += take, p += take, n -= take;
    if (c->used == 64) {
      compress(c, c->buf);
      c->used = 0;
    }
  }
}

void sha256_final(sha256_ctx *c, uint8_t out[32]) {
  uint64_t bits = c->total * 8;
  /* 0x80, zeros up to 56 bytes into a block, then the length in bits */
  uint8_t pad[64] = {0x80};
  sha256_update(c, pad, c->used < 56 ? 56 - c->used : 120 - c->used);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(c, len, 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

void sha256(const void *data, size_t n, uint8_t out[32]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, data, n);
  sha256_final(&c, out);
}

/* By table, not snprintf: every record of every run is hashed. */
void sha256_hex(const uint8_t d[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) out[2 * i] = digits[d[i] >> 4], out[2 * i + 1] = digits[d[i] & 15];
  out[64] = 0;
}

uint64_t sha256_head_of_hex(const char *hex) {
  uint64_t v = 0;
  for (int i = 0; i < 16 && hex[i]; i++) {
    unsigned c = (unsigned char)hex[i];
    v = v << 4 | ((c & 0xF) + (c >> 6) * 9); /* '0'-'9' and 'a'-'f' to 0-15 without a branch */
  }
  return v;
}

/* 1 for the characters of a digest's hex: one load per character and one
 * test per digest; two range tests per character were 3% of a first sync's
 * apply (a million links, 64 characters each). */
static const uint8_t LOWER_HEX[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

uint64_t sha256_hex_head(const char *hex, size_t n) {
  if (!hex || n != 64) return 0;
  unsigned all = 1;
  for (size_t i = 0; i < 64; i++) all &= LOWER_HEX[(unsigned char)hex[i]];
  return all ? sha256_head_of_hex(hex) : 0;
}
