/* bi_str.c: string, number, list and secret built-ins.
 *
 * Strings are UTF-8.  Case mapping covers ASCII, the Latin-1 letters and
 * Latin Extended-A (U+00C0..U+017F: é, Ø, Ł, Š, ő ...), which is what names in
 * school data need; other characters pass through unchanged.  substr and len
 * count characters (code points), not bytes.  trim removes ASCII white space
 * and the no-break space U+00A0 that spreadsheets leave behind.
 *
 * Every function returns null for a null argument, except concat (which
 * skips nulls) and coalesce (which looks past them).  env() and file() read
 * secrets: their warnings name the variable or the path, never the value.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin_api.h"

/* The language's null rule, checked again here although the VM already
 * keeps null arguments away: a built-in given null returns null. */
static int has_null(const value *a, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].kind == V_NULL) return 1;
  return 0;
}

/* The argument as text: strings as they are, anything else as string() shows it. */
static value str_of(bi_ctx *cx, value v) { return v.kind == V_STR ? v : v_to_string(cx->arena, v); }

static int utf8_len(unsigned char c) { return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1; }

/* The other case of a code point below U+0180: Latin-1 (U+00C0..U+00FF)
 * and Latin Extended-A (U+0100..U+017F: Polish, Czech, Turkish, Baltic
 * names), where upper and lower case are neighbours.  Letters whose other
 * case lies elsewhere or has another length (ß, ı, İ, ĸ, ŉ, ſ) are left
 * alone, so a mapped string always has the byte length of the original. */
static unsigned other_case(unsigned cp, int upper) {
  if (cp >= 0xC0 && cp <= 0xFE && cp != 0xD7 && cp != 0xF7 && cp != 0xDF) {
    int is_upper = cp < 0xE0;
    return upper && !is_upper ? cp - 0x20 : !upper && is_upper ? cp + 0x20 : cp;
  }
  if (cp == 0xFF) return upper ? 0x178 : cp;   /* ÿ and Ÿ */
  if (cp == 0x178) return upper ? cp : 0xFF;
  if (cp >= 0x100 && cp <= 0x17E && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149) {
    /* Pairs start on an even code point, except in U+0139..U+0148 and
     * U+0179..U+017E, where they start on an odd one. */
    int odd_first = (cp >= 0x139 && cp <= 0x148) || cp >= 0x179;
    int is_upper = ((cp & 1) != 0) == odd_first;
    return upper && !is_upper ? cp - 1 : !upper && is_upper ? cp + 1 : cp;
  }
  return cp;
}

/* The code point of a two-byte UTF-8 sequence at s[i], or 0 when there is none. */
static unsigned two_byte_at(const char *s, size_t n, size_t i) {
  unsigned char c = (unsigned char)s[i];
  if ((c >> 5) != 6 || i + 1 >= n || ((unsigned char)s[i + 1] >> 6) != 2) return 0;
  return ((unsigned)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
}

/* Case-maps one character at s[i] into out; returns the bytes consumed. */
static size_t map_case(const char *s, size_t n, size_t i, int upper, char *out, size_t *k) {
  unsigned char c = (unsigned char)s[i];
  if (c < 0x80) {
    if (upper && c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
    if (!upper && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    out[(*k)++] = (char)c;
    return 1;
  }
  unsigned cp = two_byte_at(s, n, i);
  if (cp) {
    cp = other_case(cp, upper);
    out[(*k)++] = (char)(0xC0 | (cp >> 6));
    out[(*k)++] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  size_t len = (size_t)utf8_len(c);
  if (i + len > n) len = n - i;
  memcpy(out + *k, s + i, len);
  *k += len;
  return len;
}

/* Whether the character at s[i] continues a word for title(): letters,
 * digits, apostrophes (O'Neil stays one word) and any non-ASCII character
 * except the no-break space. */
static int word_char(const char *s, size_t n, size_t i) {
  unsigned char c = (unsigned char)s[i];
  if (c < 0x80) return isalnum(c) || c == '\'';
  return two_byte_at(s, n, i) != 0xA0;
}

static value casemap(bi_ctx *cx, value v, int mode /* 0 lower, 1 upper, 2 title */) {
  char *out = arena_alloc(cx->arena, (size_t)v.len + 1);
  size_t k = 0;
  if (mode < 2) {
    /* The common case, plain ASCII, in one tight loop. */
    size_t i = 0;
    for (; i < v.len; i++) {
      unsigned char c = (unsigned char)v.u.s[i];
      if (c >= 0x80) break;
      if (mode == 0 && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
      if (mode == 1 && c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
      out[i] = (char)c;
    }
    if (i == v.len) return v_str(out, v.len);
    k = 0;
  }
  int word_start = 1;
  for (size_t i = 0; i < v.len;) {
    int letter = word_char(v.u.s, v.len, i);
    int up = mode == 1 || (mode == 2 && word_start);
    i += map_case(v.u.s, v.len, i, up, out, &k);
    word_start = !letter;
  }
  return v_str(out, k);
}

value bi_lower(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  return casemap(cx, str_of(cx, a[0]), 0);
}

value bi_upper(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  return casemap(cx, str_of(cx, a[0]), 1);
}

value bi_title(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value low = casemap(cx, str_of(cx, a[0]), 0);
  return casemap(cx, low, 2);
}

static int is_space_at(const char *s, size_t n, size_t i, size_t *w) {
  unsigned char c = (unsigned char)s[i];
  *w = 1;
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') return 1;
  if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0) return *w = 2, 1; /* no-break space */
  return 0;
}

static value trim_value(value v) {
  size_t b = 0, e = v.len, w;
  while (b < e && is_space_at(v.u.s, v.len, b, &w)) b += w;
  while (e > b) {
    if (e >= 2 && (unsigned char)v.u.s[e - 2] == 0xC2 && (unsigned char)v.u.s[e - 1] == 0xA0) { e -= 2; continue; }
    if (is_space_at(v.u.s, v.len, e - 1, &w) && w == 1) { e--; continue; }
    break;
  }
  return v_str(v.u.s + b, e - b);
}

value bi_trim(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  return trim_value(str_of(cx, a[0]));
}

value bi_concat(bi_ctx *cx, const value *a, int n) {
  size_t total = 0;
  value *parts = arena_alloc(cx->arena, ((size_t)n + 1) * sizeof *parts);
  for (int i = 0; i < n; i++) {
    parts[i] = a[i].kind == V_NULL ? v_str("", 0) : str_of(cx, a[i]);
    total += parts[i].len;
  }
  char *s = arena_alloc(cx->arena, total + 1);
  size_t k = 0;
  for (int i = 0; i < n; i++) memcpy(s + k, parts[i].u.s, parts[i].len), k += parts[i].len;
  return v_str(s, k);
}

value bi_split(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]), sep = str_of(cx, a[1]);
  if (sep.len == 0) {
    bi_warn(cx, "the separator is empty");
    return v_null();
  }
  if (trim_value(s).len == 0) return v_list(NULL, 0); /* an empty cell is an empty list, not [""] */
  size_t count = 1;
  for (size_t i = 0; i + sep.len <= s.len; i++)
    if (memcmp(s.u.s + i, sep.u.s, sep.len) == 0) count++, i += sep.len - 1;
  value *items = arena_alloc(cx->arena, count * sizeof *items);
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= s.len; i++) {
    if (i + sep.len <= s.len && memcmp(s.u.s + i, sep.u.s, sep.len) == 0) {
      items[k++] = trim_value(v_str(s.u.s + start, i - start));
      i += sep.len - 1;
      start = i + 1;
    } else if (i == s.len) {
      items[k++] = trim_value(v_str(s.u.s + start, i - start));
    }
  }
  return v_list(items, k);
}

value bi_join(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value list = a[0], sep = str_of(cx, a[1]);
  if (list.kind != V_LIST) return str_of(cx, list);
  size_t total = 0;
  value *parts = arena_alloc(cx->arena, ((size_t)list.len + 1) * sizeof *parts);
  for (uint32_t i = 0; i < list.len; i++) {
    parts[i] = list.u.items[i].kind == V_NULL ? v_str("", 0) : str_of(cx, list.u.items[i]);
    total += parts[i].len + sep.len;
  }
  char *s = arena_alloc(cx->arena, total + 1);
  size_t k = 0;
  for (uint32_t i = 0; i < list.len; i++) {
    if (i) memcpy(s + k, sep.u.s, sep.len), k += sep.len;
    memcpy(s + k, parts[i].u.s, parts[i].len), k += parts[i].len;
  }
  return v_str(s, k);
}

/* Byte offset of character index `ci` in s (s.len when past the end). */
static size_t char_offset(value s, int64_t ci) {
  size_t i = 0;
  for (int64_t c = 0; c < ci && i < s.len; c++) i += (size_t)utf8_len((unsigned char)s.u.s[i]);
  return i > s.len ? s.len : i;
}

value bi_substr(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]);
  if (a[1].kind != V_INT || (n > 2 && a[2].kind != V_INT)) {
    bi_warn(cx, "start and length must be whole numbers");
    return v_null();
  }
  int64_t start = a[1].u.i < 0 ? 0 : a[1].u.i;
  size_t b = char_offset(s, start);
  size_t e = s.len;
  if (n > 2) e = a[2].u.i <= 0 ? b : b + char_offset(v_str(s.u.s + b, s.len - b), a[2].u.i);
  return v_str(s.u.s + b, e - b);
}

value bi_replace(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]), from = str_of(cx, a[1]), to = str_of(cx, a[2]);
  if (from.len == 0) return s;
  size_t count = 0;
  for (size_t i = 0; i + from.len <= s.len; i++)
    if (memcmp(s.u.s + i, from.u.s, from.len) == 0) count++, i += from.len - 1;
  char *out = arena_alloc(cx->arena, s.len + count * to.len + 1);
  size_t k = 0;
  for (size_t i = 0; i < s.len;) {
    if (i + from.len <= s.len && memcmp(s.u.s + i, from.u.s, from.len) == 0) {
      memcpy(out + k, to.u.s, to.len), k += to.len, i += from.len;
    } else {
      out[k++] = s.u.s[i++];
    }
  }
  return v_str(out, k);
}

value bi_len(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  if (a[0].kind == V_LIST) return v_int(a[0].len);
  value s = str_of(cx, a[0]);
  int64_t c = 0;
  for (size_t i = 0; i < s.len; i += (size_t)utf8_len((unsigned char)s.u.s[i])) c++;
  return v_int(c);
}

static int contains_at(value s, value t, size_t i) { return i + t.len <= s.len && memcmp(s.u.s + i, t.u.s, t.len) == 0; }

value bi_contains(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]), t = str_of(cx, a[1]);
  for (size_t i = 0; i + t.len <= s.len; i++)
    if (contains_at(s, t, i)) return v_bool(1);
  return v_bool(0);
}

value bi_starts_with(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]), t = str_of(cx, a[1]);
  return v_bool(contains_at(s, t, 0));
}

value bi_ends_with(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]), t = str_of(cx, a[1]);
  return v_bool(t.len <= s.len && contains_at(s, t, s.len - t.len));
}

value bi_digits(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]);
  char *out = arena_alloc(cx->arena, (size_t)s.len + 1);
  size_t k = 0;
  for (size_t i = 0; i < s.len; i++)
    if (s.u.s[i] >= '0' && s.u.s[i] <= '9') out[k++] = s.u.s[i];
  return v_str(out, k);
}

value bi_phone(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]);
  value t = trim_value(s);
  value d = bi_digits(cx, a, n);
  if (d.len == 0) {
    bi_warn(cx, "\"%.*s\" has no digits", (int)(s.len > 40 ? 40 : s.len), s.u.s);
    return v_null();
  }
  if (t.len && t.u.s[0] == '+') {
    char *out = arena_alloc(cx->arena, (size_t)d.len + 2);
    out[0] = '+';
    memcpy(out + 1, d.u.s, d.len);
    return v_str(out, (size_t)d.len + 1);
  }
  return d;
}

value bi_email_valid(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value s = str_of(cx, a[0]);
  size_t at = s.len, ats = 0;
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.u.s[i];
    if (c == '@') ats++, at = i;
    if (c <= ' ' || c == ',' || c == ';' || c == '<' || c == '>') return v_bool(0);
  }
  if (ats != 1 || at == 0 || at + 1 >= s.len) return v_bool(0);
  const char *dom = s.u.s + at + 1;
  size_t dl = s.len - at - 1;
  const char *dot = memchr(dom, '.', dl);
  if (!dot || dot == dom || dom[dl - 1] == '.' || dom[0] == '.') return v_bool(0);
  for (size_t i = 0; i + 1 < dl; i++)
    if (dom[i] == '.' && dom[i + 1] == '.') return v_bool(0);
  return v_bool(1);
}

value bi_string(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  if (a[0].kind == V_INT) { /* ids are ints more often than not: no printf */
    char tmp[24];
    int64_t v = a[0].u.i;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t k = sizeof tmp;
    do tmp[--k] = (char)('0' + u % 10); while ((u /= 10) > 0);
    if (v < 0) tmp[--k] = '-';
    return v_str(arena_strndup(cx->arena, tmp + k, sizeof tmp - k), sizeof tmp - k);
  }
  return str_of(cx, a[0]);
}

/* Reads [+-]digits with an optional fraction of zeros ("12", "-3", "12.00")
 * into *out; 0 when the text is anything else.  strtoll/strtod would also
 * take "0x1A", "1e3", "inf" and "nan", none of which is a whole number in a
 * roster, and converting an out-of-range double is undefined behaviour. */
static int parse_whole(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  size_t first = i;
  uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (limit - d) / 10) return 0; /* does not fit in 64 bits */
    v = v * 10 + d;
  }
  if (i == first) return 0;
  if (i < n && s[i] == '.')
    for (i++; i < n && s[i] == '0'; i++) continue;
  if (i != n) return 0;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 1;
}

/* Whether a double is a whole number that fits in an int64. */
static int whole_double(double d) { return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d; }

value bi_int(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value x = a[0];
  if (x.kind == V_INT) return x;
  if (x.kind == V_BOOL) return v_int(x.u.i);
  if (x.kind == V_DEC) {
    if (whole_double(x.u.d)) return v_int((int64_t)x.u.d);
    bi_warn(cx, "%.15g is not a whole number", x.u.d);
    return v_null();
  }
  value s = trim_value(str_of(cx, x));
  int64_t v;
  if (s.kind == V_STR && parse_whole(s.u.s, s.len, &v)) return v_int(v);
  bi_warn(cx, "\"%.*s\" is not a whole number", (int)(s.len > 40 ? 40 : s.len), s.u.s);
  return v_null();
}

value bi_bool(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value x = a[0];
  if (x.kind == V_BOOL) return x;
  if (x.kind == V_INT && (x.u.i == 0 || x.u.i == 1)) return v_bool((int)x.u.i);
  value s = trim_value(str_of(cx, x));
  static const char *const yes[] = {"true", "t", "yes", "y", "1"}, *const no[] = {"false", "f", "no", "n", "0"};
  for (int i = 0; i < 5; i++) {
    if (strlen(yes[i]) == s.len && strncasecmp(yes[i], s.u.s, s.len) == 0) return v_bool(1);
    if (strlen(no[i]) == s.len && strncasecmp(no[i], s.u.s, s.len) == 0) return v_bool(0);
  }
  bi_warn(cx, "\"%.*s\" is not true or false", (int)(s.len > 40 ? 40 : s.len), s.u.s);
  return v_null();
}

value bi_first(bi_ctx *cx, const value *a, int n) {
  (void)cx;
  if (has_null(a, n)) return v_null();
  if (a[0].kind != V_LIST) return a[0];
  return a[0].len ? a[0].u.items[0] : v_null();
}

value bi_coalesce(bi_ctx *cx, const value *a, int n) {
  (void)cx;
  for (int i = 0; i < n; i++)
    if (a[i].kind != V_NULL) return a[i];
  return v_null();
}

value bi_env(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value name = str_of(cx, a[0]);
  char *key = arena_strndup(cx->arena, name.u.s, name.len);
  const char *v = getenv(key);
  if (!v) {
    /* The variable's name only: a warning must never carry a secret. */
    bi_warn(cx, "the environment variable %s is not set", key);
    return v_null();
  }
  /* A copy: the environment may change under a borrowed pointer (setenv). */
  size_t len = strlen(v);
  return v_str(arena_strndup(cx->arena, v, len), len);
}

/* Reads a whole file into a malloc'd buffer; NULL (errno set) on failure. */
static char *read_all(FILE *f, size_t *len) {
  size_t cap = 4096, k = 0;
  char *buf = malloc(cap);
  while (buf) {
    k += fread(buf + k, 1, cap - k, f);
    if (ferror(f)) break; /* a directory, an I/O error */
    if (k < cap) {
      *len = k;
      return buf;
    }
    char *bigger = realloc(buf, cap * 2);
    if (!bigger) break;
    buf = bigger, cap *= 2;
  }
  free(buf);
  return NULL;
}

value bi_file(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value name = str_of(cx, a[0]);
  char *path = arena_strndup(cx->arena, name.u.s, name.len);
  errno = 0;
  FILE *f = fopen(path, "rb");
  size_t len = 0;
  char *text = f ? read_all(f, &len) : NULL;
  int err = errno;
  if (f) fclose(f);
  if (!text) {
    /* The path and the reason, never any of the content. */
    bi_warn(cx, "cannot read the secret file %s: %s", path, strerror(err ? err : EIO));
    return v_null();
  }
  /* Editors and `echo` end the file with a newline that is not part of the secret. */
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
  value v = v_str(arena_strndup(cx->arena, text, len), len);
  free(text);
  return v;
}
