/* value.h: the values the VM computes with, and THE ownership rule.
 *
 * OWNERSHIP: a value never owns memory.  Its bytes live either in the record
 * being evaluated (borrowed: valid while that record is), in the plan's
 * constant pool (valid while the plan is loaded), or in the VM's per-record
 * arena (valid until vm_reset_record()).  Nothing is freed value by value:
 * the arena is rewound between records, so evaluating a record allocates
 * nothing on the common path once the arena has grown to its high-water mark.
 * A value that must outlive its record (a hub attribute written to the store)
 * is copied out by its new owner.
 *
 * Values are small structs passed by value.
 */
#ifndef SYNC_VALUE_H
#define SYNC_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  V_NULL, V_BOOL, V_INT, V_DEC, V_STR, V_DATE, V_TIME, V_LIST, V_REGEX
} vkind;

struct pcre2_real_code_8;

typedef struct value {
  uint8_t kind; /* vkind */
  uint32_t len; /* V_STR: bytes; V_LIST: items */
  union {
    int64_t i;        /* V_BOOL (0/1), V_INT, V_DATE (YYYYMMDD), V_TIME (HHMM) */
    double d;         /* V_DEC */
    const char *s;    /* V_STR: not NUL-terminated */
    const struct value *items; /* V_LIST */
    const struct regex_const *re; /* V_REGEX */
  } u;
} value;

/* A regex constant of the plan, compiled (and JIT-compiled) at load. */
typedef struct regex_const {
  const char *pattern;
  const char *flags;
  struct pcre2_real_code_8 *code;
} regex_const;

/* A bump allocator rewound per record. */
typedef struct arena_block arena_block;
typedef struct {
  arena_block *head; /* blocks in use, newest first */
  arena_block *spare; /* rewound blocks, reused before allocating */
} arena;

void *arena_alloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
/* A copy with no padding after it (arena_strndup rounds to 16 bytes): for
 * the millions of source ids a run keeps. */
char *arena_strpack(arena *a, const char *s, size_t n);
void arena_rewind(arena *a);
void arena_free(arena *a);

static inline value v_null(void) { value v = {V_NULL, 0, {0}}; return v; }
static inline value v_bool(int b) { value v = {V_BOOL, 0, {0}}; v.u.i = b != 0; return v; }
static inline value v_int(int64_t i) { value v = {V_INT, 0, {0}}; v.u.i = i; return v; }
static inline value v_dec(double d) { value v = {V_DEC, 0, {0}}; v.u.d = d; return v; }
static inline value v_str(const char *s, size_t n) { value v = {V_STR, (uint32_t)n, {0}}; v.u.s = s; return v; }
static inline value v_date(int64_t ymd) { value v = {V_DATE, 0, {0}}; v.u.i = ymd; return v; }
static inline value v_time(int64_t hhmm) { value v = {V_TIME, 0, {0}}; v.u.i = hhmm; return v; }
static inline value v_list(const value *items, size_t n) { value v = {V_LIST, (uint32_t)n, {0}}; v.u.items = items; return v; }

/* Whether the value is "missing" as `require` means it: null, or a string
 * (or list) that is empty after trimming. */
int v_missing(value v);
/* Equality as `==` means it (null equals only null; 1 == 1.0). */
int v_equal(value a, value b);
/* Ordering for < <= > >=: -1, 0, 1, or 2 when the two cannot be ordered. */
int v_compare(value a, value b);
/* Appends the value's text (strings as is, dates YYYY-MM-DD, lists joined
 * with ","; null as the empty string) to a buffer in the arena. */
value v_to_string(arena *a, value v);
/* A short readable form for traces and test failures: "text", 12, 2027-06-30, [..]. */
void v_describe(value v, char *buf, size_t size);

#endif
