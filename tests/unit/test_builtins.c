/* test_builtins.c: the built-in functions against the case files in
 * tests/builtins (NAME.cases), the value operations and the arena, the
 * secrets built-ins (env, file), and the real values in ../shared/realdata
 * when it is present (Clever dates and grades, Ed-Fi grade descriptors,
 * FEBRL birth dates); the real-data checks are skipped when it is absent.
 *
 * A case is one line:   CALL => EXPECTED [warn ["TEXT"]]
 * `warn` says the call must warn (and, with TEXT, that the warning contains
 * TEXT); without it the call must not warn.  Literals: "strings" (with \"
 * \\ \n \t escapes, \xHH for a raw byte, \uHHHH for a character),
 * integers, decimals, true, false, null, dates 2024-01-31, [lists] and
 * /regex/flags (flags i, m, s, x).  Lines starting with # are
 * comments.  As in the VM, a call with a null argument is null without being
 * made, except for the built-ins that take nulls (coalesce, concat).
 *
 * Run it from the repository root or anywhere else (it finds the root from
 * its own path).  The last line is "N passed, N failed"; the exit status is
 * 0 only when nothing failed.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <glob.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builtin_api.h"
#include "builtins.h"

static int passed, failed;
static arena ar;
static regex_const regexes[64];
static int nregexes;
static char root[1024] = "."; /* the repository */

static void fail(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *where, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  failed++;
  printf("FAIL %s: ", where);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

/* Counts one check: passes when ok, else prints the failure. */
static void check(int ok, const char *where, const char *what) {
  if (ok) passed++;
  else fail(where, "%s", what);
}

/* ---- calling a built-in ----------------------------------------------------- */

typedef struct {
  value v;
  char warning[200];
} result;

/* Calls built-in `bi` the way the VM does: null in, null out, uncalled. */
static result call(int bi, const value *args, int n) {
  result r;
  bi_ctx cx;
  memset(&cx, 0, sizeof cx);
  cx.arena = &ar;
  cx.today = 20261123;
  r.v = v_null();
  int has_null = 0;
  for (int i = 0; i < n; i++) has_null |= args[i].kind == V_NULL;
  if (!has_null || (builtin_table[bi].flags & BF_NULLS)) r.v = builtin_impl[bi](&cx, args, n);
  memcpy(r.warning, cx.warning, sizeof r.warning);
  return r;
}

static result call1(int bi, value a) { return call(bi, &a, 1); }

/* ---- the case files --------------------------------------------------------- */

static void skip_ws(const char **p) {
  while (**p == ' ' || **p == '\t') (*p)++;
}

static int parse_value(const char **p, value *out);

/* The value of `digits` hex digits at s, or -1. */
static long hex_at(const char *s, int digits) {
  long v = 0;
  for (int i = 0; i < digits; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* One escape after a backslash at s (\n \t \xHH a raw byte, \uHHHH a
 * character in UTF-8, else the character itself); the characters read. */
static int escape(const char *s, char *buf, size_t *k) {
  long v;
  if (*s == 'x' && (v = hex_at(s + 1, 2)) >= 0) return buf[(*k)++] = (char)v, 3;
  if (*s == 'u' && (v = hex_at(s + 1, 4)) >= 0) {
    if (v < 0x80) buf[(*k)++] = (char)v;
    else if (v < 0x800) buf[(*k)++] = (char)(0xC0 | (v >> 6)), buf[(*k)++] = (char)(0x80 | (v & 0x3F));
    else buf[(*k)++] = (char)(0xE0 | (v >> 12)), buf[(*k)++] = (char)(0x80 | ((v >> 6) & 0x3F)),
         buf[(*k)++] = (char)(0x80 | (v & 0x3F));
    return 5;
  }
  buf[(*k)++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
  return 1;
}

/* "text" with escapes, into the arena. */
static int parse_string(const char **p, value *out) {
  const char *s = *p;
  char *buf = arena_alloc(&ar, strlen(s) + 1);
  size_t k = 0;
  for (s++; *s && *s != '"';) {
    if (*s == '\\' && s[1]) s += 1 + escape(s + 1, buf, &k);
    else buf[k++] = *s++;
  }
  if (*s != '"') return 0;
  *p = s + 1;
  *out = v_str(buf, k);
  return 1;
}

static int parse_list(const char **p, value *out) {
  value items[32];
  size_t n = 0;
  (*p)++;
  skip_ws(p);
  while (**p && **p != ']') {
    if (n == 32 || !parse_value(p, &items[n++])) return 0;
    skip_ws(p);
    if (**p == ',') (*p)++;
    skip_ws(p);
  }
  if (**p != ']') return 0;
  (*p)++;
  value *copy = arena_alloc(&ar, (n + 1) * sizeof *copy);
  memcpy(copy, items, n * sizeof *copy);
  *out = v_list(copy, n);
  return 1;
}

/* /pattern/flags, compiled as the plan loader would; freed at the end. */
static int parse_regex(const char **p, value *out) {
  const char *s = *p, *e = s + 1;
  while (*e && *e != '/') e += (*e == '\\' && e[1]) ? 2 : 1;
  if (*e != '/' || nregexes == 64) return 0;
  const char *f = e + 1;
  uint32_t opts = PCRE2_UTF;
  for (; *f >= 'a' && *f <= 'z'; f++)
    opts |= *f == 'i' ? PCRE2_CASELESS : *f == 'm' ? PCRE2_MULTILINE : *f == 's' ? PCRE2_DOTALL
          : *f == 'x' ? PCRE2_EXTENDED : 0;
  int err;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)(s + 1), (size_t)(e - s - 1), opts, &err, &off, NULL);
  if (!code) return 0;
  regex_const *rc = &regexes[nregexes++];
  rc->pattern = "";
  rc->flags = "";
  rc->code = (struct pcre2_real_code_8 *)code;
  value v = {V_REGEX, 0, {0}};
  v.u.re = rc;
  *out = v;
  *p = f;
  return 1;
}

static int parse_number(const char **p, value *out) {
  const char *s = *p;
  int y, m, d, len = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &len) == 3 && len == 10) {
    *p += 10;
    *out = v_date((int64_t)y * 10000 + m * 100 + d);
    return 1;
  }
  char *end;
  long long i = strtoll(s, &end, 10);
  if (end != s && *end != '.' && *end != 'e') {
    *p = end;
    *out = v_int(i);
    return 1;
  }
  double dv = strtod(s, &end);
  if (end == s) return 0;
  *p = end;
  *out = v_dec(dv);
  return 1;
}

/* Parses one literal at *p; returns 0 on a syntax error. */
static int parse_value(const char **p, value *out) {
  skip_ws(p);
  const char *s = *p;
  if (*s == '"') return parse_string(p, out);
  if (*s == '[') return parse_list(p, out);
  if (*s == '/') return parse_regex(p, out);
  if (!strncmp(s, "true", 4)) return *p += 4, *out = v_bool(1), 1;
  if (!strncmp(s, "false", 5)) return *p += 5, *out = v_bool(0), 1;
  if (!strncmp(s, "null", 4)) return *p += 4, *out = v_null(), 1;
  return parse_number(p, out);
}

/* Reads NAME(ARGS) at *p; the built-in's index, or -1. */
static int parse_call(const char **p, value *args, int *n) {
  char name[64];
  size_t k = 0;
  while ((**p >= 'a' && **p <= 'z') || **p == '_') {
    if (k < sizeof name - 1) name[k++] = **p;
    (*p)++;
  }
  name[k] = 0;
  int bi = builtin_find(name);
  if (bi < 0 || **p != '(') return -1;
  (*p)++;
  *n = 0;
  skip_ws(p);
  while (**p && **p != ')') {
    if (*n == 16 || !parse_value(p, &args[(*n)++])) return -1;
    skip_ws(p);
    if (**p == ',') (*p)++;
    skip_ws(p);
  }
  if (**p != ')') return -1;
  (*p)++;
  return bi;
}

/* Compares a result with what the case wants, warnings included. */
static void judge(const char *where, result got, value want, int want_warn, value warn_text) {
  char g[200], w[200];
  v_describe(got.v, g, sizeof g);
  v_describe(want, w, sizeof w);
  if (got.v.kind != want.kind || !v_equal(got.v, want)) {
    fail(where, "got %s, want %s%s%s", g, w, got.warning[0] ? "; warning: " : "", got.warning);
  } else if (want_warn != (got.warning[0] != 0)) {
    fail(where, want_warn ? "no warning%s" : "an unexpected warning: %s", got.warning);
  } else if (warn_text.kind == V_STR && !strstr(got.warning, arena_strndup(&ar, warn_text.u.s, warn_text.len))) {
    fail(where, "the warning \"%s\" does not say %s", got.warning, w);
  } else {
    passed++;
  }
}

static void run_case(const char *where, const char *line) {
  const char *p = line;
  value args[16], want, warn_text = v_null();
  int n;
  int bi = parse_call(&p, args, &n);
  skip_ws(&p);
  if (bi < 0 || strncmp(p, "=>", 2) != 0) {
    fail(where, "cannot read the call: %s", line);
    return;
  }
  p += 2;
  if (!parse_value(&p, &want)) {
    fail(where, "cannot read the expected value: %s", line);
    return;
  }
  skip_ws(&p);
  int want_warn = strncmp(p, "warn", 4) == 0;
  if (want_warn) {
    p += 4;
    skip_ws(&p);
    if (*p == '"' && !parse_string(&p, &warn_text)) {
      fail(where, "cannot read the warning text: %s", line);
      return;
    }
    skip_ws(&p);
  }
  if (*p && *p != '#') {
    fail(where, "unexpected text after the case: %s", p);
    return;
  }
  judge(where, call(bi, args, n), want, want_warn, warn_text);
}

static void run_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fail(path, "cannot open");
    return;
  }
  char line[2048];
  int no = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    char where[1200];
    snprintf(where, sizeof where, "%s:%d", path, no);
    run_case(where, line);
    arena_rewind(&ar);
  }
  fclose(f);
}

static void run_case_files(void) {
  char pattern[1100];
  snprintf(pattern, sizeof pattern, "%s/tests/builtins/*.cases", root);
  glob_t gl;
  if (glob(pattern, 0, NULL, &gl) != 0) {
    fail(pattern, "no case files found");
    return;
  }
  for (size_t i = 0; i < gl.gl_pathc; i++) run_file(gl.gl_pathv[i]);
  globfree(&gl);
}

/* ---- the null rule, values and the arena ------------------------------------ */

/* Every built-in, called directly with nulls (which the VM never does), must
 * return null without crashing: concat skips them and coalesce finds none. */
static void check_null_rule(void) {
  value nulls[4] = {v_null(), v_null(), v_null(), v_null()};
  bi_ctx cx;
  memset(&cx, 0, sizeof cx);
  cx.arena = &ar;
  for (int bi = 0; bi < BI__COUNT; bi++) {
    const builtin_info *b = &builtin_table[bi];
    if (b->min_args == 0) continue;
    int n = b->max_args < 0 ? 3 : b->max_args;
    value r = builtin_impl[bi](&cx, nulls, n);
    int ok = bi == BI_concat ? r.kind == V_STR && r.len == 0 : r.kind == V_NULL;
    char where[80];
    snprintf(where, sizeof where, "%s(null...)", b->name);
    check(ok, where, "a built-in given null must return null");
  }
  arena_rewind(&ar);
}

static void check_values(void) {
  value l1[2] = {v_int(1), v_str("a", 1)}, l2[2] = {v_dec(1.0), v_str("a", 1)};
  check(v_equal(v_int(1), v_dec(1.0)), "v_equal", "1 == 1.0");
  check(!v_equal(v_null(), v_str("", 0)), "v_equal", "null != \"\"");
  check(v_equal(v_null(), v_null()), "v_equal", "null == null");
  check(v_equal(v_list(l1, 2), v_list(l2, 2)), "v_equal", "[1, \"a\"] == [1.0, \"a\"]");
  check(v_compare(v_int(2), v_dec(2.5)) == -1, "v_compare", "2 < 2.5");
  check(v_compare(v_str("b", 1), v_str("ab", 2)) == 1, "v_compare", "\"b\" > \"ab\"");
  check(v_compare(v_date(20240131), v_date(20240201)) == -1, "v_compare", "dates in order");
  check(v_compare(v_int(1), v_str("1", 1)) == 2, "v_compare", "an int and a string cannot be ordered");
  check(v_compare(v_null(), v_null()) == 2, "v_compare", "null cannot be ordered");
  check(v_missing(v_str(" \t\xc2\xa0", 4)) && !v_missing(v_str(" x", 2)), "v_missing", "blank strings are missing");
  check(v_missing(v_list(NULL, 0)) && !v_missing(v_int(0)), "v_missing", "an empty list is missing, 0 is not");
  value s = v_to_string(&ar, v_list(l1, 2));
  check(s.len == 3 && memcmp(s.u.s, "1,a", 3) == 0, "v_to_string", "[1, \"a\"] is \"1,a\"");
  s = v_to_string(&ar, v_date(20270630));
  check(s.len == 10 && memcmp(s.u.s, "2027-06-30", 10) == 0, "v_to_string", "dates are YYYY-MM-DD");
  char buf[16];
  v_describe(v_str("a long string that is cut", 25), buf, sizeof buf);
  check(strlen(buf) < sizeof buf && buf[0] == '"', "v_describe", "a long string is cut to the buffer");
  v_describe(v_dec(12.0), buf, sizeof buf);
  check(strcmp(buf, "12.0") == 0, "v_describe", "a whole decimal shows as 12.0");
  arena_rewind(&ar);
}

static void check_arena(void) {
  arena a = {NULL, NULL};
  char *small = arena_alloc(&a, 10);
  char *big = arena_alloc(&a, 200000); /* oversized: a block of its own */
  char *next = arena_alloc(&a, 10);
  memset(big, 1, 200000);
  check(((uintptr_t)small | (uintptr_t)big | (uintptr_t)next) % 16 == 0, "arena", "allocations are 16-aligned");
  check(next == small + 16, "arena", "an oversized block leaves the current block in use");
  for (int i = 0; i < 100; i++) memset(arena_alloc(&a, 5000), 2, 5000);
  arena_rewind(&a);
  char *again = arena_alloc(&a, 10);
  check(again != NULL && a.spare != NULL, "arena", "rewinding keeps blocks for reuse");
  check(arena_strndup(&a, "abc", 2)[2] == 0, "arena", "arena_strndup terminates");
  arena_free(&a);
  check(a.head == NULL && a.spare == NULL, "arena", "arena_free releases everything");
}

/* ---- secrets: env() and file() ---------------------------------------------- */

static int str_is(value v, const char *s) { return v.kind == V_STR && v.len == strlen(s) && !memcmp(v.u.s, s, v.len); }

static void check_env(void) {
  setenv("SYNC_TEST_SECRET", "hunter2", 1);
  result r = call1(BI_env, v_str("SYNC_TEST_SECRET", 16));
  check(str_is(r.v, "hunter2") && !r.warning[0], "env(set)", "the variable's value");
  unsetenv("SYNC_TEST_SECRET");
  r = call1(BI_env, v_str("SYNC_TEST_SECRET", 16));
  check(r.v.kind == V_NULL && strstr(r.warning, "SYNC_TEST_SECRET") && !strstr(r.warning, "hunter2"), "env(unset)",
        "null and a warning naming the variable, not the value");
  arena_rewind(&ar);
}

/* Writes text to a new temporary file; its path in `path`, or 0. */
static int temp_file(char *path, size_t size, const char *text, size_t n) {
  snprintf(path, size, "/tmp/sync_test_secret_XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) return 0;
  FILE *f = fdopen(fd, "wb");
  if (!f) return close(fd), 0;
  fwrite(text, 1, n, f);
  return fclose(f) == 0;
}

static void check_file(void) {
  char path[64];
  if (!temp_file(path, sizeof path, "s3cr3t\r\n\n", 9)) {
    fail("file()", "cannot make a temporary file");
    return;
  }
  result r = call1(BI_file, v_str(path, strlen(path)));
  check(str_is(r.v, "s3cr3t") && !r.warning[0], "file(secret)", "the content without trailing newlines");
  remove(path);
  r = call1(BI_file, v_str(path, strlen(path)));
  check(r.v.kind == V_NULL && strstr(r.warning, path), "file(missing)", "null and a warning naming the path");
  r = call1(BI_file, v_str("/tmp", 4));
  check(r.v.kind == V_NULL && r.warning[0], "file(directory)", "a directory is not readable as a secret");
  size_t n = 100000;
  char *big = malloc(n);
  memset(big, 'k', n);
  if (temp_file(path, sizeof path, big, n)) {
    r = call1(BI_file, v_str(path, strlen(path)));
    check(r.v.kind == V_STR && r.v.len == n, "file(large)", "a large file is read whole");
    remove(path);
  }
  free(big);
  arena_rewind(&ar);
}

/* ---- real data ------------------------------------------------------------------ */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  char *b = malloc(cap + 1);
  while (b) {
    n += fread(b + n, 1, cap - n, f);
    if (n < cap) break;
    char *bigger = realloc(b, cap * 2 + 1);
    if (!bigger) {
      free(b);
      b = NULL;
      break;
    }
    b = bigger, cap *= 2;
  }
  fclose(f);
  if (b) b[n] = 0;
  return b;
}

typedef struct {
  const char *what;
  int ok, impossible, bad; /* parsed; refused real impossibilities; wrongly refused or accepted */
} tally;

static int days_in(int y, int m) {
  static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return md[m - 1] + (m == 2 && leap);
}

/* An independent judgement of M/D/Y or YYYYMMDD text: 1 a real day, 0 an
 * impossible one (02/29/2005, 19770231), -1 not that shape at all. */
static int real_day(const char *s, size_t n) {
  char buf[32];
  int m, d, y, len = 0;
  if (n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (n == 8 && strspn(buf, "0123456789") == 8) {
    y = atoi(buf) / 10000, m = atoi(buf) / 100 % 100, d = atoi(buf) % 100;
  } else if (sscanf(buf, "%d/%d/%d%n", &m, &d, &y, &len) != 3 || (size_t)len != n) {
    return -1;
  }
  if (y < 100) y += y < 40 ? 2000 : 1900;
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in(y, m);
}

/* date() on one real value: it must parse exactly when the day is real, and
 * warn, quoting the text, when it does not. */
static void date_check(const char *s, size_t n, void *ctx) {
  tally *t = ctx;
  result r = call1(BI_date, v_str(s, n));
  int real = real_day(s, n);
  if (r.v.kind == V_DATE && real != 0) {
    t->ok++;
  } else if (r.v.kind == V_NULL && real == 0 && r.warning[0]) {
    if (t->impossible++ < 3) printf("  %s: refused the impossible date %.*s (%s)\n", t->what, (int)n, s, r.warning);
  } else if (t->bad++ < 5) {
    printf("  %s: misjudged %.*s\n", t->what, (int)n, s);
  }
  arena_rewind(&ar);
}

static void grade_check(const char *s, size_t n, void *ctx) {
  tally *t = ctx;
  result r = call1(BI_grade, v_str(s, n));
  if (r.v.kind == V_STR && !r.warning[0]) t->ok++;
  else if (t->bad++ < 5) printf("  %s: not a grade: %.*s\n", t->what, (int)n, s);
  arena_rewind(&ar);
}

static void verdict(const tally *t) {
  if (t->impossible) printf("realdata %s: %d parsed, %d impossible dates refused, %d misjudged\n", t->what, t->ok, t->impossible, t->bad);
  else printf("realdata %s: %d parsed, %d not\n", t->what, t->ok, t->bad);
  if (t->ok > 0 && t->bad == 0) passed++;
  else fail(t->what, "%d parsed, %d misjudged", t->ok, t->bad);
}

/* Calls fn on every "key": "string" in a JSON text (a plain scan). */
static void each_json_string(const char *text, const char *key, void (*fn)(const char *, size_t, void *), void *ctx) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
    const char *v = p + strlen(pat);
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') v++;
    if (*v++ != ':') continue;
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') v++;
    if (*v != '"') continue;
    const char *e = v + 1;
    while (*e && *e != '"') e += (*e == '\\' && e[1]) ? 2 : 1;
    if (*e) fn(v + 1, (size_t)(e - v - 1), ctx);
  }
}

static void real_clever_json(const char *data) {
  char path[1200];
  snprintf(path, sizeof path, "%s/clever-go-demo-district/users.json", data);
  char *text = slurp(path);
  if (!text) return;
  tally d = {"Clever API dob", 0, 0, 0}, g = {"Clever API grade", 0, 0, 0};
  each_json_string(text, "dob", date_check, &d);
  each_json_string(text, "grade", grade_check, &g);
  verdict(&d);
  verdict(&g);
  free(text);
}

/* Splits a CSV row without quotes at commas, in place; the column count. */
static int split_row(char *row, char **cols, int max) {
  int n = 0;
  for (char *c = row; n < max;) {
    cols[n++] = c;
    char *comma = strchr(c, ',');
    if (!comma) break;
    *comma = 0;
    c = comma + 1;
  }
  return n;
}

/* The index of a column by name (spaces around names ignored), or -1. */
static int column(char **cols, int n, const char *name) {
  for (int i = 0; i < n; i++) {
    const char *c = cols[i];
    while (*c == ' ') c++;
    if (strncmp(c, name, strlen(name)) == 0 && (c[strlen(name)] == 0 || c[strlen(name)] == ' ')) return i;
  }
  return -1;
}

/* The classic Clever CSV export: CR line ends, M/D/YY birth dates. */
static void real_clever_csv(const char *data) {
  char path[1200];
  snprintf(path, sizeof path, "%s/clever-sandbox-csv/students.csv", data);
  char *text = slurp(path);
  if (!text) return;
  tally d = {"Clever CSV Dob", 0, 0, 0}, g = {"Clever CSV Grade", 0, 0, 0};
  int dob = -1, grade = -1;
  char *save = NULL;
  for (char *row = strtok_r(text, "\r\n", &save); row; row = strtok_r(NULL, "\r\n", &save)) {
    char *cols[64];
    int n = split_row(row, cols, 64);
    if (dob < 0 && grade < 0) {
      dob = column(cols, n, "Dob"), grade = column(cols, n, "Grade");
      if (dob < 0 || grade < 0) break;
      continue;
    }
    if (n > dob) date_check(cols[dob], strlen(cols[dob]), &d);
    if (n > grade) grade_check(cols[grade], strlen(cols[grade]), &g);
  }
  verdict(&d);
  verdict(&g);
  free(text);
}

/* Every grade level descriptor in the Ed-Fi samples: the descriptor list's
 * CodeValues, and the descriptor URIs the sample district's files use. */
static void real_edfi(const char *data) {
  char pattern[1200];
  snprintf(pattern, sizeof pattern, "%s/edfi-data-standard-samples/*.xml", data);
  glob_t gl;
  int found = glob(pattern, 0, NULL, &gl) == 0;
  snprintf(pattern, sizeof pattern, "%s/edfi-data-standard-samples/Descriptors/GradeLevelDescriptor.xml", data);
  if (glob(pattern, found ? GLOB_APPEND : 0, NULL, &gl) != 0 && !found) return;
  tally codes = {"Ed-Fi GradeLevelDescriptor CodeValues", 0, 0, 0}, uris = {"Ed-Fi GradeLevelDescriptor URIs", 0, 0, 0};
  for (size_t i = 0; i < gl.gl_pathc; i++) {
    char *text = slurp(gl.gl_pathv[i]);
    if (!text) continue;
    int is_list = strstr(gl.gl_pathv[i], "Descriptors/") != NULL;
    for (const char *p = strstr(text, "<CodeValue>"); is_list && p; p = strstr(p + 1, "<CodeValue>")) {
      const char *v = p + 11, *e = strstr(v, "</CodeValue>");
      if (e) grade_check(v, (size_t)(e - v), &codes);
    }
    for (const char *p = strstr(text, "uri://"); !is_list && p; p = strstr(p + 1, "uri://")) {
      size_t n = strcspn(p, "<\"");
      const char *kind = strstr(p, "GradeLevelDescriptor#");
      if (kind && kind < p + n) grade_check(p, n, &uris);
    }
    free(text);
  }
  globfree(&gl);
  if (codes.ok + codes.bad) verdict(&codes);
  if (uris.ok + uris.bad) verdict(&uris);
}

/* FEBRL's duplicates are corrupted on purpose, birth dates included: every
 * real YYYYMMDD must parse, and every one refused must really not exist. */
static void real_febrl_file(const char *path, tally *t, int *empty) {
  char *text = slurp(path);
  if (!text) return;
  int dob = -1;
  char *save = NULL;
  for (char *row = strtok_r(text, "\r\n", &save); row; row = strtok_r(NULL, "\r\n", &save)) {
    char *cols[32];
    int n = split_row(row, cols, 32);
    if (dob < 0) {
      if ((dob = column(cols, n, "date_of_birth")) < 0) break;
      continue;
    }
    if (n <= dob) continue;
    char *v = cols[dob];
    while (*v == ' ') v++;
    if (!*v) (*empty)++;
    else date_check(v, strlen(v), t);
  }
  free(text);
}

static void real_febrl(const char *data) {
  char pattern[1200];
  snprintf(pattern, sizeof pattern, "%s/febrl/dataset*.csv", data);
  glob_t gl;
  if (glob(pattern, 0, NULL, &gl) != 0) return;
  tally t = {"FEBRL date_of_birth", 0, 0, 0};
  int empty = 0;
  for (size_t i = 0; i < gl.gl_pathc; i++) real_febrl_file(gl.gl_pathv[i], &t, &empty);
  globfree(&gl);
  printf("realdata FEBRL date_of_birth: %d empty (skipped)\n", empty);
  verdict(&t);
}

static void run_realdata(void) {
  char data[1100], readme[1200];
  snprintf(data, sizeof data, "%s/../shared/realdata", root);
  snprintf(readme, sizeof readme, "%s/README.md", data);
  FILE *f = fopen(readme, "r");
  if (!f) {
    printf("skipped: the real-data checks (%s is absent)\n", data);
    return;
  }
  fclose(f);
  real_clever_json(data);
  real_clever_csv(data);
  real_edfi(data);
  real_febrl(data);
}

/* ---- main ---------------------------------------------------------------------- */

/* The repository root: the working directory when it has tests/builtins,
 * else two or three levels above this program (build/unit, build/san/unit). */
static void find_root(const char *argv0) {
  static const char *const ups[] = {"", "/../..", "/../../.."};
  char dir[800];
  snprintf(dir, sizeof dir, "%s", argv0);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  for (int i = 0; i < 3; i++) {
    char cand[1024], probe[1100];
    snprintf(cand, sizeof cand, "%s%s", i == 0 ? "." : dir, ups[i]);
    snprintf(probe, sizeof probe, "%s/tests/builtins", cand);
    if (access(probe, R_OK) == 0) {
      snprintf(root, sizeof root, "%s", cand);
      return;
    }
  }
}

int main(int argc, char **argv) {
  (void)argc;
  find_root(argv[0]);
  run_case_files();
  check_null_rule();
  check_values();
  check_arena();
  check_env();
  check_file();
  run_realdata();
  for (int i = 0; i < nregexes; i++) pcre2_code_free((pcre2_code *)regexes[i].code);
  arena_free(&ar);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
