/* bi_regex.c: regex_replace() and regex_extract().
 *
 * The pattern is a plan regex (compiled when the plan was loaded) or a
 * string; string patterns are compiled on first use and kept in a small
 * cache, so a pattern taken from data costs one compile, not one per record.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_api.h"

#define CACHE 16

static struct {
  char *pattern;
  pcre2_code *code;
} cache[CACHE];
static int cache_next;

static void free_cache(void) {
  for (int i = 0; i < CACHE; i++) {
    free(cache[i].pattern);
    pcre2_code_free(cache[i].code);
    cache[i].pattern = NULL;
    cache[i].code = NULL;
  }
}

static const pcre2_code *code_of(bi_ctx *cx, value re) {
  if (re.kind == V_REGEX) return (const pcre2_code *)re.u.re->code;
  if (re.kind != V_STR) return NULL;
  for (int i = 0; i < CACHE; i++)
    if (cache[i].pattern && strlen(cache[i].pattern) == re.len && memcmp(cache[i].pattern, re.u.s, re.len) == 0)
      return cache[i].code;
  int err;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re.u.s, re.len, PCRE2_UTF, &err, &off, NULL);
  if (!code) {
    bi_warn(cx, "the pattern \"%.*s\" is not a valid regex", (int)(re.len > 40 ? 40 : re.len), re.u.s);
    return NULL;
  }
  static int registered;
  if (!registered) registered = 1, atexit(free_cache);
  int slot = cache_next++ % CACHE;
  free(cache[slot].pattern);
  pcre2_code_free(cache[slot].code);
  cache[slot].pattern = malloc(re.len + 1);
  if (!cache[slot].pattern) {
    pcre2_code_free(code);
    cache[slot].code = NULL;
    return NULL;
  }
  memcpy(cache[slot].pattern, re.u.s, re.len);
  cache[slot].pattern[re.len] = 0;
  cache[slot].code = code;
  return code;
}

value bi_regex_replace(bi_ctx *cx, const value *a, int n) {
  (void)n;
  value s = a[0].kind == V_STR ? a[0] : v_to_string(cx->arena, a[0]);
  value rep = a[2].kind == V_STR ? a[2] : v_to_string(cx->arena, a[2]);
  const pcre2_code *code = code_of(cx, a[1]);
  if (!code) return v_null();
  /* pcre2_substitute with $1..$9 and $0 in the replacement, every match. */
  PCRE2_SIZE outlen = (PCRE2_SIZE)s.len * 2 + rep.len + 64;
  for (int attempt = 0; attempt < 4; attempt++) {
    char *out = arena_alloc(cx->arena, outlen + 1);
    PCRE2_SIZE len = outlen;
    int rc = pcre2_substitute(code, (PCRE2_SPTR)s.u.s, s.len, 0, PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                              NULL, NULL, (PCRE2_SPTR)rep.u.s, rep.len, (PCRE2_UCHAR *)out, &len);
    if (rc >= 0) return v_str(out, len);
    if (rc != PCRE2_ERROR_NOMEMORY) {
      bi_warn(cx, "the replacement \"%.*s\" is not valid", (int)(rep.len > 40 ? 40 : rep.len), rep.u.s);
      return v_null();
    }
    outlen = len + 1;
  }
  return v_null();
}

value bi_regex_extract(bi_ctx *cx, const value *a, int n) {
  value s = a[0].kind == V_STR ? a[0] : v_to_string(cx->arena, a[0]);
  const pcre2_code *code = code_of(cx, a[1]);
  if (!code) return v_null();
  int64_t group = n > 2 && a[2].kind == V_INT ? a[2].u.i : 0;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  int rc = pcre2_match(code, (PCRE2_SPTR)s.u.s, s.len, 0, 0, md, NULL);
  value r = v_null();
  if (rc > 0 && group >= 0 && group < rc) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[2 * group] != PCRE2_UNSET) r = v_str(s.u.s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
  } else if (rc > 0 && group >= rc) {
    bi_warn(cx, "the regex has no group %lld", (long long)group);
  }
  pcre2_match_data_free(md);
  return r;
}
