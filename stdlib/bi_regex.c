/* bi_regex.c: regex_replace() and regex_extract().
 *
 * The pattern is a plan regex (a V_REGEX compiled, and JIT-compiled, when
 * the plan was loaded) or a string.  A string pattern is compiled on first
 * use and kept in a small least-recently-used cache keyed by the pattern, so
 * a pattern taken from data costs one compile per distinct pattern, not one
 * per record.  The cache is freed at exit.
 *
 * In a replacement, $0 is the whole match and $1 .. $9 (or ${12}) the groups,
 * as pcre2_substitute reads them; $$ is a dollar sign.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_api.h"

#define CACHE 16

static struct {
  char *pattern; /* malloc'd copy; NULL for an empty slot */
  size_t len;
  pcre2_code *code;
  unsigned long long used; /* the clock at the last use: the smallest goes first */
} cache[CACHE];
static unsigned long long cache_clock;

/* The language's null rule, kept here too: a built-in given null returns null. */
static int has_null(const value *a, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].kind == V_NULL) return 1;
  return 0;
}

static void free_cache(void) {
  for (int i = 0; i < CACHE; i++) {
    free(cache[i].pattern);
    pcre2_code_free(cache[i].code);
    cache[i].pattern = NULL;
    cache[i].code = NULL;
  }
}

/* The pcre2 message for an error code, for a warning. */
static const char *pcre2_message(int err, char *buf, size_t size) {
  if (pcre2_get_error_message(err, (PCRE2_UCHAR *)buf, size) < 0) snprintf(buf, size, "pcre2 error %d", err);
  return buf;
}

/* The slot to reuse: an empty one, else the least recently used. */
static int victim_slot(void) {
  int best = 0;
  for (int i = 0; i < CACHE; i++) {
    if (!cache[i].code) return i;
    if (cache[i].used < cache[best].used) best = i;
  }
  return best;
}

/* Compiles a string pattern, or finds it in the cache; NULL (and a warning)
 * when it is not a valid regex. */
static const pcre2_code *compile_cached(bi_ctx *cx, value re) {
  for (int i = 0; i < CACHE; i++)
    if (cache[i].code && cache[i].len == re.len && memcmp(cache[i].pattern, re.u.s, re.len) == 0) {
      cache[i].used = ++cache_clock;
      return cache[i].code;
    }
  int err;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re.u.s, re.len, PCRE2_UTF, &err, &off, NULL);
  if (!code) {
    char msg[120];
    bi_warn(cx, "the pattern \"%.*s\" is not a valid regex: %s", (int)(re.len > 40 ? 40 : re.len), re.u.s,
            pcre2_message(err, msg, sizeof msg));
    return NULL;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort: the interpreter works without it */
  char *copy = malloc(re.len + 1);
  if (!copy) return pcre2_code_free(code), NULL;
  memcpy(copy, re.u.s, re.len);
  copy[re.len] = 0;
  static int registered;
  if (!registered) registered = 1, atexit(free_cache);
  int slot = victim_slot();
  free(cache[slot].pattern);
  pcre2_code_free(cache[slot].code);
  cache[slot].pattern = copy;
  cache[slot].len = re.len;
  cache[slot].code = code;
  cache[slot].used = ++cache_clock;
  return code;
}

static const pcre2_code *code_of(bi_ctx *cx, value re) {
  if (re.kind == V_REGEX && re.u.re && re.u.re->code) return (const pcre2_code *)re.u.re->code;
  if (re.kind == V_STR) return compile_cached(cx, re);
  bi_warn(cx, "the pattern is not a regex or a string");
  return NULL;
}

static value text_of(bi_ctx *cx, value v) { return v.kind == V_STR ? v : v_to_string(cx->arena, v); }

value bi_regex_replace(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = text_of(cx, a[0]), rep = text_of(cx, a[2]);
  const pcre2_code *code = code_of(cx, a[1]);
  if (!code) return v_null();
  /* Every match, with $0 .. $9 in the replacement.  When the guess at the
   * output's size is too small, pcre2 says how much it needs: one retry. */
  PCRE2_SIZE outlen = (PCRE2_SIZE)s.len * 2 + rep.len + 64;
  for (int attempt = 0; attempt < 2; attempt++) {
    char *out = arena_alloc(cx->arena, outlen + 1);
    PCRE2_SIZE len = outlen;
    int rc = pcre2_substitute(code, (PCRE2_SPTR)s.u.s, s.len, 0, PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                              NULL, NULL, (PCRE2_SPTR)rep.u.s, rep.len, (PCRE2_UCHAR *)out, &len);
    if (rc >= 0) return v_str(out, len);
    if (rc != PCRE2_ERROR_NOMEMORY) {
      /* A bad replacement ($x), text that is not UTF-8, a runaway match. */
      char msg[120];
      bi_warn(cx, "cannot replace in \"%.*s\" with \"%.*s\": %s", (int)(s.len > 30 ? 30 : s.len), s.u.s,
              (int)(rep.len > 30 ? 30 : rep.len), rep.u.s, pcre2_message(rc, msg, sizeof msg));
      return v_null();
    }
    outlen = len + 1;
  }
  return v_null();
}

value bi_regex_extract(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = text_of(cx, a[0]);
  const pcre2_code *code = code_of(cx, a[1]);
  if (!code) return v_null();
  int64_t group = n > 2 && a[2].kind == V_INT ? a[2].u.i : 0;
  uint32_t groups = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
  if (group < 0 || group > (int64_t)groups) {
    bi_warn(cx, "the regex has no group %lld", (long long)group);
    return v_null();
  }
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  if (!md) return v_null();
  int rc = pcre2_match(code, (PCRE2_SPTR)s.u.s, s.len, 0, 0, md, NULL);
  value r = v_null();
  if (rc > group) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[2 * group] != PCRE2_UNSET) r = v_str(s.u.s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
  } else if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
    char msg[120];
    bi_warn(cx, "cannot match \"%.*s\": %s", (int)(s.len > 40 ? 40 : s.len), s.u.s, pcre2_message(rc, msg, sizeof msg));
  }
  /* A group that did not take part in the match (rc <= group) is null. */
  pcre2_match_data_free(md);
  return r;
}
