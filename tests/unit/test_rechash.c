/* test_rechash.c: a record's content hash (rechash.h) is the same for the
 * same values on every run and machine (pinned values: every link in a hub
 * keeps one), differs whenever a value, a kind, a name or a boundary
 * between values does, and travels through a run file's hex and back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rechash.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

static const char *const NAMES[] = {"sis_id", "email", "grade", "birth_date", "tags"};
enum { N = 5 };
static uint64_t keys[N];
static int order[N] = {3, 1, 2, 0, 4}; /* the names sorted */

/* Taken when the hash was made (2026-12-06), on x86-64. */
#define PINNED_FULL "7e7575a4087d9321"
#define PINNED_EMPTY "9ca066f1a4ab2eea"

static uint64_t hash_of(const value *attrs) { return rechash_record(keys, order, N, attrs); }

static void hex(uint64_t h, char out[17]) { rechash_hex(h, out); }

/* The same values give the same hash as when the hash was made: a change
 * here makes every hub take its next run as every record changed. */
static void test_pinned(void) {
  value items[] = {v_str("a", 1), v_int(7)};
  value r[N] = {v_str("S-1", 3), v_str("ann@example.org", 15), v_int(4), v_date(20180216), v_list(items, 2)};
  char got[17];
  hex(hash_of(r), got);
  check(strcmp(got, PINNED_FULL) == 0, "pinned hash of a full record", got);
  value none[N] = {v_null(), v_null(), v_null(), v_null(), v_null()};
  hex(hash_of(none), got);
  check(strcmp(got, PINNED_EMPTY) == 0, "pinned hash of a record with no values", got);
}

/* Every one-byte change of a string, at every position, gives a new hash. */
static void test_one_byte(void) {
  char s[40] = "s0000123@students.bench.example.org.xx";
  size_t n = strlen(s);
  value r[N] = {v_str("S-1", 3), v_str(s, n), v_int(4), v_null(), v_null()};
  uint64_t base = hash_of(r);
  int same = 0;
  for (size_t i = 0; i < n; i++)
    for (int bit = 0; bit < 8; bit++) {
      s[i] ^= (char)(1 << bit);
      same += hash_of(r) == base;
      s[i] ^= (char)(1 << bit);
    }
  check(same == 0 && hash_of(r) == base, "every one-bit change of a string changes the hash", "");
}

static void differ(const value *a, const value *b, const char *what) {
  char x[17], y[17], d[64];
  hex(hash_of(a), x);
  hex(hash_of(b), y);
  snprintf(d, sizeof d, "both %s", x);
  check(strcmp(x, y) != 0, what, d);
}

static void test_shapes(void) {
  value ab[N] = {v_str("ab", 2), v_str("c", 1), v_null(), v_null(), v_null()};
  value a_bc[N] = {v_str("a", 1), v_str("bc", 2), v_null(), v_null(), v_null()};
  differ(ab, a_bc, "a boundary between two values");
  value a[N] = {v_str("a", 1), v_null(), v_null(), v_null(), v_null()};
  value a_nul[N] = {v_str("a\0", 2), v_null(), v_null(), v_null(), v_null()};
  differ(a, a_nul, "\"a\" and \"a\" with a NUL after it (the last word's padding)");
  value empty[N] = {v_str("", 0), v_null(), v_null(), v_null(), v_null()};
  value null[N] = {v_null(), v_null(), v_null(), v_null(), v_null()};
  differ(empty, null, "an empty string and no value");
  value one_int[N] = {v_null(), v_null(), v_int(1), v_null(), v_null()};
  value one_str[N] = {v_null(), v_null(), v_str("1", 1), v_null(), v_null()};
  value one_bool[N] = {v_null(), v_null(), v_bool(1), v_null(), v_null()};
  value one_dec[N] = {v_null(), v_null(), v_dec(1), v_null(), v_null()};
  differ(one_int, one_str, "1 and \"1\"");
  differ(one_int, one_bool, "1 and true");
  differ(one_int, one_dec, "1 and 1.0");
  value in_grade[N] = {v_null(), v_null(), v_str("x", 1), v_null(), v_null()};
  value in_email[N] = {v_null(), v_str("x", 1), v_null(), v_null(), v_null()};
  differ(in_grade, in_email, "the same value under another name");
  value it1[] = {v_str("a,b", 3)}, it2[] = {v_str("a", 1), v_str("b", 1)};
  value l1[N] = {v_null(), v_null(), v_null(), v_null(), v_list(it1, 1)};
  value l2[N] = {v_null(), v_null(), v_null(), v_null(), v_list(it2, 2)};
  differ(l1, l2, "[\"a,b\"] and [\"a\",\"b\"]");
  value zero[N] = {v_null(), v_null(), v_dec(0.0), v_null(), v_null()};
  value minus_zero[N] = {v_null(), v_null(), v_dec(-0.0), v_null(), v_null()};
  check(hash_of(zero) == hash_of(minus_zero), "0.0 and -0.0 hash alike (== says they are equal)", "");
}

/* Records shaped like a district's enrollments, a quarter of a million of
 * them: no two hashes alike (a 2^-30 chance for a good 64-bit hash). */
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_no_collisions(void) {
  enum { M = 250000 };
  uint64_t *h = malloc(M * sizeof *h);
  char sid[32], mail[48];
  for (int i = 0; i < M; i++) {
    int ns = snprintf(sid, sizeof sid, "B-enr-stu-%07d-%d", i / 7, i % 7);
    int nm = snprintf(mail, sizeof mail, "s%07d@students.bench.example", i / 3);
    value r[N] = {v_str(sid, (size_t)ns), v_str(mail, (size_t)nm), v_int(i % 13), v_date(20100101 + i % 28), v_null()};
    h[i] = hash_of(r);
  }
  qsort(h, M, sizeof *h, cmp_u64);
  int dup = 0, zero = h[0] == 0;
  for (int i = 1; i < M; i++) dup += h[i] == h[i - 1];
  char d[64];
  snprintf(d, sizeof d, "%d alike, zero %d", dup, zero);
  check(dup == 0 && !zero, "250,000 records, 250,000 hashes", d);
  free(h);
}

static void test_hex(void) {
  char t[17];
  rechash_hex(0x0123456789abcdefull, t);
  check(strcmp(t, "0123456789abcdef") == 0, "hex of a hash", t);
  check(rechash_of_hex(t, 16) == 0x0123456789abcdefull, "a hash from its hex", t);
  check(rechash_of_hex("ffffffffffffffff", 16) == ~0ull, "the largest hash from its hex", "");
  /* a run saved before: 64 digits of SHA-256, whose first 64 bits links kept */
  const char *old = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  check(rechash_of_hex(old, 64) == 0xba7816bf8f01cfeaull, "the head of an older run's 64 digits", "");
  check(rechash_of_hex("0123456789ABCDEF", 16) == 0, "upper case is not a hash", "");
  check(rechash_of_hex("0123456789abcdeg", 16) == 0, "a non-digit is not a hash", "");
  /* the bytes just outside the digits' ranges, first and last */
  static const char *const outside[] = {"/123456789abcdef", ":123456789abcdef", "`123456789abcdef", "0123456789abcde`",
                                        "0123456789abcde:", "0123456789abcde/"};
  for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) check(rechash_of_hex(outside[i], 16) == 0, "not a digit", outside[i]);
  check(rechash_of_hex("0123456\0" "89abcdef", 16) == 0, "a NUL is not a digit", "");
  check(rechash_of_hex("0123456789abcde", 15) == 0, "15 digits are not a hash", "");
  check(rechash_of_hex("0123456789abcdef0", 17) == 0, "17 digits are not a hash", "");
  check(rechash_of_hex("", 0) == 0, "nothing is not a hash", "");
}

int main(void) {
  for (int i = 0; i < N; i++) keys[i] = rechash_name(NAMES[i]);
  test_pinned();
  test_one_byte();
  test_shapes();
  test_no_collisions();
  test_hex();
  printf("rechash: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
