/* value.c: the per-record arena and the value operations of value.h
 * (missing, equality, ordering, text).
 *
 * The arena hands out memory in 64 KB blocks; an allocation larger than a
 * block gets a block of its own.  Rewinding keeps the standard blocks for the
 * next record, so after the first few records evaluation calls malloc no
 * more; arena_free releases everything.
 */
#include "value.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 65536

struct arena_block {
  arena_block *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
};

static arena_block *new_block(size_t size) {
  arena_block *b = malloc(sizeof *b + size);
  if (!b) {
    fputs("syncvm: out of memory\n", stderr);
    exit(2);
  }
  b->next = NULL;
  b->used = 0;
  b->size = size;
  return b;
}

/* Takes a standard block from the spare list, or makes one. */
static arena_block *standard_block(arena *a) {
  arena_block *b = a->spare;
  if (!b) return new_block(ARENA_BLOCK);
  a->spare = b->next;
  b->used = 0;
  return b;
}

void *arena_alloc(arena *a, size_t n) {
  if (n > SIZE_MAX - 32) {
    fputs("syncvm: out of memory\n", stderr);
    exit(2);
  }
  n = n == 0 ? 16 : (n + 15) & ~(size_t)15; /* 16: any value or struct fits */
  if (n > ARENA_BLOCK) {
    /* Oversized: a block of its own, linked behind the current block so
     * that block's free space is still used by the next small allocation. */
    arena_block *b = new_block(n);
    b->used = n;
    if (a->head) {
      b->next = a->head->next;
      a->head->next = b;
    } else {
      a->head = b;
    }
    return b->data;
  }
  /* aligned again: arena_strpack() leaves `used` anywhere */
  size_t at = a->head ? (a->head->used + 15) & ~(size_t)15 : 0;
  if (!a->head || a->head->size < at || a->head->size - at < n) {
    arena_block *b = standard_block(a);
    b->next = a->head;
    a->head = b;
    at = 0;
  }
  void *p = a->head->data + at;
  a->head->used = at + n;
  return p;
}

char *arena_strpack(arena *a, const char *s, size_t n) {
  if (n + 1 > ARENA_BLOCK / 4) return arena_strndup(a, s, n);
  if (!a->head || a->head->size - a->head->used < n + 1) {
    arena_block *b = standard_block(a);
    b->next = a->head;
    a->head = b;
  }
  char *p = (char *)a->head->data + a->head->used;
  a->head->used += n + 1;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void arena_rewind(arena *a) {
  /* Standard-size blocks are kept for the next record, so a steady stream
   * of records allocates nothing; an oversized block is freed, because one
   * huge record should not pin its memory for the rest of the run. */
  while (a->head) {
    arena_block *b = a->head;
    a->head = b->next;
    if (b->size == ARENA_BLOCK) {
      b->next = a->spare;
      a->spare = b;
    } else {
      free(b);
    }
  }
}

void arena_free(arena *a) {
  arena_rewind(a);
  while (a->spare) {
    arena_block *b = a->spare;
    a->spare = b->next;
    free(b);
  }
}

int v_missing(value v) {
  if (v.kind == V_NULL) return 1;
  if (v.kind == V_LIST) return v.len == 0;
  if (v.kind != V_STR) return 0;
  for (uint32_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.u.s[i];
    if (c == 0xC2 && i + 1 < v.len && (unsigned char)v.u.s[i + 1] == 0xA0) { /* U+00A0 */
      i++;
      continue;
    }
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return 0;
  }
  return 1;
}

static int is_num(value v) { return v.kind == V_INT || v.kind == V_DEC; }
static double num(value v) { return v.kind == V_INT ? (double)v.u.i : v.u.d; }

int v_equal(value a, value b) {
  if (a.kind == V_NULL || b.kind == V_NULL) return a.kind == b.kind;
  if (is_num(a) && is_num(b)) {
    if (a.kind == V_INT && b.kind == V_INT) return a.u.i == b.u.i;
    return num(a) == num(b);
  }
  if (a.kind != b.kind) return 0;
  switch (a.kind) {
    case V_BOOL: case V_DATE: case V_TIME: return a.u.i == b.u.i;
    case V_STR: return a.len == b.len && memcmp(a.u.s, b.u.s, a.len) == 0;
    case V_LIST:
      if (a.len != b.len) return 0;
      for (uint32_t i = 0; i < a.len; i++)
        if (!v_equal(a.u.items[i], b.u.items[i])) return 0;
      return 1;
    case V_REGEX: return a.u.re == b.u.re;
    default: return 0;
  }
}

int v_compare(value a, value b) {
  if (a.kind == V_NULL || b.kind == V_NULL) return 2;
  if (is_num(a) && is_num(b)) {
    if (a.kind == V_INT && b.kind == V_INT) return a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
    double x = num(a), y = num(b);
    return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
  }
  if (a.kind != b.kind) return 2;
  switch (a.kind) {
    case V_DATE: case V_TIME: return a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
    case V_STR: {
      size_t n = a.len < b.len ? a.len : b.len;
      int c = memcmp(a.u.s, b.u.s, n);
      if (c) return c < 0 ? -1 : 1;
      return a.len < b.len ? -1 : a.len > b.len;
    }
    default: return 2;
  }
}

/* Writes the text of v into buf (size >= 64 for scalars); returns its length. */
static size_t scalar_text(value v, char *buf, size_t size) {
  int n = 0;
  switch (v.kind) {
    case V_BOOL: n = snprintf(buf, size, "%s", v.u.i ? "true" : "false"); break;
    case V_INT: n = snprintf(buf, size, "%lld", (long long)v.u.i); break;
    case V_DEC: n = snprintf(buf, size, "%.15g", v.u.d); break;
    case V_DATE:
      n = snprintf(buf, size, "%04lld-%02lld-%02lld", (long long)(v.u.i / 10000), (long long)(v.u.i / 100 % 100),
                   (long long)(v.u.i % 100));
      break;
    case V_TIME: n = snprintf(buf, size, "%02lld:%02lld", (long long)(v.u.i / 100), (long long)(v.u.i % 100)); break;
    case V_REGEX: n = snprintf(buf, size, "/%s/%s", v.u.re->pattern, v.u.re->flags); break;
    default: buf[0] = 0; break;
  }
  return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

value v_to_string(arena *a, value v) {
  if (v.kind == V_STR) return v;
  if (v.kind == V_NULL) return v_str("", 0);
  if (v.kind == V_LIST) {
    size_t total = 0;
    value *parts = arena_alloc(a, ((size_t)v.len + 1) * sizeof *parts);
    for (uint32_t i = 0; i < v.len; i++) {
      parts[i] = v_to_string(a, v.u.items[i]);
      total += parts[i].len + 1;
    }
    char *s = arena_alloc(a, total + 1);
    size_t k = 0;
    for (uint32_t i = 0; i < v.len; i++) {
      if (i) s[k++] = ',';
      memcpy(s + k, parts[i].u.s, parts[i].len);
      k += parts[i].len;
    }
    return v_str(s, k);
  }
  char buf[512];
  size_t n = scalar_text(v, buf, sizeof buf);
  return v_str(arena_strndup(a, buf, n), n);
}

void v_describe(value v, char *buf, size_t size) {
  if (size == 0) return;
  switch (v.kind) {
    case V_NULL: snprintf(buf, size, "null"); return;
    case V_STR: {
      size_t n = v.len > size - 3 ? size - 3 : v.len;
      if (size < 4) n = 0;
      snprintf(buf, size, "\"%.*s\"", (int)n, v.u.s);
      return;
    }
    case V_LIST: {
      size_t k = 0;
      buf[k++] = '[';
      for (uint32_t i = 0; i < v.len && k + 8 < size; i++) {
        if (i) buf[k++] = ',', buf[k++] = ' ';
        v_describe(v.u.items[i], buf + k, size - k - 2);
        k += strlen(buf + k);
      }
      if (k + 2 <= size) buf[k++] = ']';
      buf[k < size ? k : size - 1] = 0;
      return;
    }
    case V_DEC: {
      /* 12.0, not 12: a trace or a test failure must tell a decimal from an int. */
      size_t n = scalar_text(v, buf, size);
      if (!strpbrk(buf, ".eEni") && n + 3 <= size) memcpy(buf + n, ".0", 3);
      return;
    }
    default: scalar_text(v, buf, size); return;
  }
}
