/* test_sha256.c: SHA-256 gives the FIPS 180-4 example digests, and the
 * processor's SHA extensions (when this machine has them) give, for every
 * length from 0 to 1,100 bytes and for updates split at random points,
 * exactly the digests of the portable code: plans are named by their
 * digest, and content hashes in hubs made before rechash.h were taken with
 * one or the other.  And the head of a digest's hex,
 * as a link keeps it, is read only from a well-formed digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

static void hex_of(const void *data, size_t n, char out[65]) {
  uint8_t d[32];
  sha256(data, n, d);
  sha256_hex(d, out);
}

/* The examples of FIPS 180-4 (and the NIST test vectors), each way. */
static void test_vectors(int accel) {
  static const struct {
    const char *msg;
    const char *hex;
  } v[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
  };
  char got[65], what[64];
  sha256_accelerated(accel);
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    hex_of(v[i].msg, strlen(v[i].msg), got);
    snprintf(what, sizeof what, "vector %zu (%s)", i, accel ? "accelerated" : "portable");
    check(strcmp(got, v[i].hex) == 0, what, got);
  }
  /* a million 'a's, fed in pieces of 1,000 */
  sha256_ctx c;
  char a[1000];
  memset(a, 'a', sizeof a);
  sha256_init(&c);
  for (int i = 0; i < 1000; i++) sha256_update(&c, a, sizeof a);
  uint8_t d[32];
  sha256_final(&c, d);
  sha256_hex(d, got);
  snprintf(what, sizeof what, "a million a (%s)", accel ? "accelerated" : "portable");
  check(strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, what, got);
}

/* The digest of buf[0..n) fed in random pieces. */
static void pieces_hex(const uint8_t *buf, size_t n, char out[65]) {
  sha256_ctx c;
  sha256_init(&c);
  for (size_t at = 0; at < n;) {
    size_t k = (size_t)rand() % 150;
    if (k > n - at) k = n - at;
    sha256_update(&c, buf + at, k);
    at += k;
  }
  uint8_t d[32];
  sha256_final(&c, d);
  sha256_hex(d, out);
}

static void test_same_both_ways(void) {
  static uint8_t buf[1100];
  srand(11);
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)rand();
  for (size_t n = 0; n <= sizeof buf; n++) {
    char portable[65], accel[65], split[65], what[64];
    sha256_accelerated(0);
    hex_of(buf, n, portable);
    sha256_accelerated(1);
    hex_of(buf, n, accel);
    pieces_hex(buf, n, split);
    snprintf(what, sizeof what, "%zu bytes", n);
    check(strcmp(portable, accel) == 0 && strcmp(portable, split) == 0, what, accel);
  }
}

/* The head of a digest's hex (what a link keeps): 64 lowercase hex digits
 * give their first 16 as an integer; anything else gives 0, whichever
 * character is wrong. */
static void test_hex_head(void) {
  const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  check(sha256_hex_head(good, 64) == 0xba7816bf8f01cfeaull, "the head of a digest", good);
  check(sha256_head_of_hex(good) == 0xba7816bf8f01cfeaull, "the head of a digest, unchecked", good);
  check(sha256_hex_head(good, 63) == 0 && sha256_hex_head(NULL, 64) == 0, "a digest cut short", good);
  const char bad[] = "gG/:@`\x7f\x80\xff -A";
  char text[65], what[80];
  for (size_t at = 0; at < 64; at++)
    for (size_t b = 0; b < sizeof bad - 1; b++) {
      memcpy(text, good, 65);
      text[at] = bad[b];
      snprintf(what, sizeof what, "0x%02x at %zu", (unsigned char)bad[b], at);
      check(sha256_hex_head(text, 64) == 0, what, text);
    }
}

int main(void) {
  int has = sha256_accelerated(1);
  printf("SHA extensions: %s\n", has ? "in use" : "not on this machine (the portable code is compared with itself)");
  test_vectors(0);
  test_vectors(1);
  test_same_both_ways();
  test_hex_head();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
