/* builtin_api.h: how the VM calls a built-in function.
 *
 * Each row of stdlib/builtins.def has a C implementation named bi_NAME with
 * this signature.  Arguments are never null when the function is called: the
 * VM returns null for a call with a null argument without calling it (the
 * language's null rule), except for the BF_NULLS ones (coalesce, concat).
 *
 * A built-in that cannot compute a result for this record (int("abc"), an
 * impossible date) returns null and calls bi_warn() with a short reason; the
 * VM turns that into a per-record warning naming the spec line.  It never
 * aborts the run.
 */
#ifndef SYNC_BUILTIN_API_H
#define SYNC_BUILTIN_API_H

#include "value.h"

typedef struct bi_ctx {
  arena *arena;             /* where results are allocated */
  int64_t today;            /* YYYYMMDD the run started on (for today()) */
  char warning[200];        /* set by bi_warn(); empty when none */
} bi_ctx;

typedef value (*builtin_fn)(bi_ctx *cx, const value *args, int nargs);

void bi_warn(bi_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One declaration per row of builtins.def. */
#define BUILTIN(name, min, max, ret, params, flags, doc) value bi_##name(bi_ctx *cx, const value *args, int nargs);
#include "builtins.def"
#undef BUILTIN

/* The implementations, indexed like builtin_table. */
extern const builtin_fn builtin_impl[];

/* Helpers the implementations share (in stdlib/bi_date.c and bi_grade.c). */
/* Parses a date in any of the formats date() knows; `dayfirst` reads D/M/Y.
 * Returns YYYYMMDD, or -1 when the text is not a date (or not a real one). */
int64_t parse_date_text(const char *s, size_t n, int dayfirst);
/* The OneRoster code for a grade in any SIS vocabulary, or NULL. */
const char *grade_code(const char *s, size_t n);
/* The position of a code in the OneRoster order (IT PR PK TK KG 01..13 PS UG Other), or -1. */
int grade_rank(const char *code);

#endif
