/* swar.h: looking at eight bytes of text as one 64-bit word.
 *
 * The hot loops over text (a CSV line split into cells, a string checked
 * and escaped for JSON) find the bytes they care about a word at a time:
 * a plain ASCII byte that is none of them costs an eighth of a test.
 * A byte's place in the word is its place in the text only on a
 * little-endian machine; a loop that needs the place (not just whether
 * there is one) uses it there alone.
 */
#ifndef SYNC_SWAR_H
#define SYNC_SWAR_H

#include <stdint.h>
#include <string.h>

/* c in every byte of a word. */
#define SWAR_EVERY(c) (0x0101010101010101ull * (unsigned char)(c))
#define SWAR_HIGHS SWAR_EVERY(0x80)

/* Eight bytes at p, as one word (no alignment needed). */
static inline uint64_t swar_load8(const void *p) {
  uint64_t w;
  memcpy(&w, p, sizeof w);
  return w;
}

/* The high bit of each byte of x that is zero, and no other bit (exact:
 * no byte's borrow reaches the next, as with the shorter (x - 0x01..) form,
 * so the bits may be counted and their places trusted). */
static inline uint64_t swar_zero_bytes(uint64_t x) {
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
  return ~(((x & low7) + low7) | x | low7);
}

#endif
