/* test_builtins.c: the built-in functions against the case files in
 * tests/builtins (NAME.cases), and against the real values in ../shared/realdata when it is present
 * (Clever dates and grades, Ed-Fi grade descriptors, FEBRL birth dates).
 *
 * A case is one line: CALL => EXPECTED, optionally followed by `warn` when
 * the call must also warn.  Literals: "strings" (with \" \\ \n \t escapes),
 * integers, decimals, true, false, null, dates 2024-01-31, [lists] and
 * /regex/flags.  Lines starting with # are comments.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <dirent.h>
#include <glob.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin_api.h"
#include "builtins.h"

static int passed, failed;
static arena ar;
static regex_const regexes[64];
static int nregexes;

static void fail(const char *where, const char *fmt, const char *a, const char *b) {
  failed++;
  printf("FAIL %s: ", where);
  printf(fmt, a, b);
  printf("\n");
}

static void skip_ws(const char **p) {
  while (**p == ' ' || **p == '\t') (*p)++;
}

/* Parses one literal at *p; returns 0 on a syntax error. */
static int parse_value(const char **p, value *out) {
  skip_ws(p);
  const char *s = *p;
  if (*s == '"') {
    char *buf = arena_alloc(&ar, strlen(s) + 1);
    size_t k = 0;
    for (s++; *s && *s != '"'; s++) {
      if (*s == '\\' && s[1]) {
        s++;
        buf[k++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      } else {
        buf[k++] = *s;
      }
    }
    if (*s != '"') return 0;
    *p = s + 1;
    *out = v_str(buf, k);
    return 1;
  }
  if (*s == '[') {
    value items[32];
    size_t n = 0;
    (*p)++;
    skip_ws(p);
    while (**p && **p != ']') {
      if (n == 32 || !parse_value(p, &items[n++])) return 0;
      skip_ws(p);
      if (**p == ',') (*p)++;
    }
    if (**p != ']') return 0;
    (*p)++;
    value *copy = arena_alloc(&ar, (n + 1) * sizeof *copy);
    memcpy(copy, items, n * sizeof *copy);
    *out = v_list(copy, n);
    return 1;
  }
  if (*s == '/') {
    const char *e = s + 1;
    while (*e && *e != '/') e += (*e == '\\' && e[1]) ? 2 : 1;
    if (*e != '/' || nregexes == 64) return 0;
    const char *f = e + 1;
    uint32_t opts = PCRE2_UTF;
    while (*f >= 'a' && *f <= 'z') opts |= *f++ == 'i' ? PCRE2_CASELESS : 0;
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
  if (!strncmp(s, "true", 4)) return *p += 4, *out = v_bool(1), 1;
  if (!strncmp(s, "false", 5)) return *p += 5, *out = v_bool(0), 1;
  if (!strncmp(s, "null", 4)) return *p += 4, *out = v_null(), 1;
  int y, m, d, len = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &len) == 3 && len == 10) {
    *p += 10;
    *out = v_date((int64_t)y * 10000 + m * 100 + d);
    return 1;
  }
  char *end;
  long long i = strtoll(s, &end, 10);
  if (end != s && *end != '.') {
    *p = end;
    *out = v_int(i);
    return 1;
  }
  double dv = strtod(s, &end);
  if (end != s) {
    *p = end;
    *out = v_dec(dv);
    return 1;
  }
  return 0;
}

static void run_case(const char *where, const char *line) {
  const char *p = line;
  char name[64];
  size_t k = 0;
  while ((*p >= 'a' && *p <= 'z') || *p == '_') {
    if (k < sizeof name - 1) name[k++] = *p;
    p++;
  }
  name[k] = 0;
  int bi = builtin_find(name);
  if (bi < 0 || *p != '(') {
    fail(where, "cannot read the case: %s%s", line, "");
    return;
  }
  p++;
  value args[16];
  int n = 0;
  skip_ws(&p);
  while (*p && *p != ')') {
    if (n == 16 || !parse_value(&p, &args[n++])) {
      fail(where, "cannot read the arguments: %s%s", line, "");
      return;
    }
    skip_ws(&p);
    if (*p == ',') p++;
    skip_ws(&p);
  }
  const char *arrow = strstr(p, "=>");
  value want;
  if (*p != ')' || !arrow) {
    fail(where, "cannot read the case: %s%s", line, "");
    return;
  }
  p = arrow + 2;
  if (!parse_value(&p, &want)) {
    fail(where, "cannot read the expected value: %s%s", line, "");
    return;
  }
  skip_ws(&p);
  int want_warn = strncmp(p, "warn", 4) == 0;
  bi_ctx cx;
  memset(&cx, 0, sizeof cx);
  cx.arena = &ar;
  cx.today = 20261123;
  /* The VM's null rule: a null argument means a null result, uncalled. */
  value got = v_null();
  int has_null = 0;
  for (int i = 0; i < n; i++) has_null |= args[i].kind == V_NULL;
  if (!has_null || (builtin_table[bi].flags & BF_NULLS)) got = builtin_impl[bi](&cx, args, n);
  char g[200], w[200];
  v_describe(got, g, sizeof g);
  v_describe(want, w, sizeof w);
  int same = got.kind == want.kind && v_equal(got, want);
  if (!same) {
    fail(where, "got %s, want %s", g, w);
  } else if (want_warn != (cx.warning[0] != 0)) {
    fail(where, want_warn ? "no warning (%s%s)" : "an unexpected warning: %s%s", cx.warning, "");
  } else {
    passed++;
  }
}

static void run_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fail(path, "cannot open%s%s", "", "");
    return;
  }
  char line[1024];
  int no = 0;
  while (fgets(line, sizeof line, f)) {
    no++;
    line[strcspn(line, "\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    char where[300];
    snprintf(where, sizeof where, "%s:%d", path, no);
    run_case(where, line);
    arena_rewind(&ar);
  }
  fclose(f);
}

/* ---- real data ---------------------------------------------------------- */

static const char *realdata(void) {
  static const char *const roots[] = {"../shared/realdata", "../../shared/realdata", NULL};
  for (int i = 0; roots[i]; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/README.md", roots[i]);
    FILE *f = fopen(p, "r");
    if (f) {
      fclose(f);
      return roots[i];
    }
  }
  return NULL;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  b[got] = 0;
  fclose(f);
  return b;
}

/* Calls f on every "key":"value" string in a JSON text (a plain scan). */
static void each_json_string(const char *text, const char *key, void (*fn)(const char *, size_t, void *), void *ctx) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  for (const char *p = strstr(text, pat); p; p = strstr(p + 1, pat)) {
    const char *v = p + strlen(pat);
    while (*v == ' ') v++;
    if (*v != '"') continue;
    const char *e = strchr(v + 1, '"');
    if (e) fn(v + 1, (size_t)(e - v - 1), ctx);
  }
}

typedef struct {
  int ok, bad;
  const char *what;
} tally;

/* Whether M/D/Y text names a day that does not exist (02/29/2005): such
 * dates are in real exports and must be refused (null and a warning). */
static int impossible_mdy(const char *s, size_t n) {
  int m, d, y;
  char buf[32];
  if (n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (sscanf(buf, "%d/%d/%d", &m, &d, &y) != 3) return 0;
  static const int md[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 100) y += y < 40 ? 2000 : 1900;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m >= 1 && m <= 12 && (d < 1 || d > md[m - 1] - (m == 2 && !leap));
}

static void date_ok(const char *s, size_t n, void *ctx) {
  tally *t = ctx;
  if (parse_date_text(s, n, 0) > 0) t->ok++;
  else if (impossible_mdy(s, n)) {
    printf("  %s: refused, as it should be, the impossible date %.*s\n", t->what, (int)n, s);
    t->ok++;
  } else {
    t->bad++;
    if (t->bad < 5) printf("  %s: not a date: %.*s\n", t->what, (int)n, s);
  }
}

static void grade_ok(const char *s, size_t n, void *ctx) {
  tally *t = ctx;
  if (grade_code(s, n)) t->ok++;
  else {
    t->bad++;
    if (t->bad < 5) printf("  %s: not a grade: %.*s\n", t->what, (int)n, s);
  }
}

static void verdict(tally *t, int allowed_bad) {
  char detail[100];
  snprintf(detail, sizeof detail, "%d parsed, %d not", t->ok, t->bad);
  if (t->ok > 0 && t->bad <= allowed_bad) passed++;
  else fail(t->what, "%s%s", detail, "");
  printf("realdata %s: %s\n", t->what, detail);
}

static void real_clever(const char *root) {
  char path[300];
  snprintf(path, sizeof path, "%s/clever-go-demo-district/users.json", root);
  char *text = slurp(path);
  if (!text) return;
  tally d = {0, 0, "Clever API dob"}, g = {0, 0, "Clever API grade"};
  each_json_string(text, "dob", date_ok, &d);
  each_json_string(text, "grade", grade_ok, &g);
  verdict(&d, 0);
  verdict(&g, 0);
  free(text);
  /* The classic CSV export: CR line ends, M/D/YY birth dates. */
  snprintf(path, sizeof path, "%s/clever-sandbox-csv/students.csv", root);
  text = slurp(path);
  if (!text) return;
  tally cd = {0, 0, "Clever CSV Dob"}, cg = {0, 0, "Clever CSV Grade"};
  int line = 0;
  for (char *row = strtok(text, "\r\n"); row; row = strtok(NULL, "\r\n")) {
    if (line++ == 0) continue;
    char *cols[32];
    int nc = 0;
    for (char *c = row; nc < 32;) {
      cols[nc++] = c;
      char *comma = strchr(c, ',');
      if (!comma) break;
      *comma = 0;
      c = comma + 1;
    }
    if (nc > 9) {
      date_ok(cols[8], strlen(cols[8]), &cd);
      grade_ok(cols[9], strlen(cols[9]), &cg);
    }
  }
  verdict(&cd, 0);
  verdict(&cg, 0);
  free(text);
}

static void real_edfi(const char *root) {
  char path[300];
  snprintf(path, sizeof path, "%s/edfi-data-standard-samples/Descriptors/GradeLevelDescriptor.xml", root);
  char *text = slurp(path);
  if (!text) return;
  tally g = {0, 0, "Ed-Fi grade level descriptors"};
  for (const char *p = strstr(text, "<CodeValue>"); p; p = strstr(p + 1, "<CodeValue>")) {
    const char *v = p + 11, *e = strstr(v, "</CodeValue>");
    if (e) grade_ok(v, (size_t)(e - v), &g);
  }
  verdict(&g, 0);
  free(text);
}

static void real_febrl(const char *root) {
  /* FEBRL's duplicates are corrupted on purpose, birth dates included: every
   * valid YYYYMMDD must parse, and every one refused must really be invalid. */
  char pattern[300];
  snprintf(pattern, sizeof pattern, "%s/febrl/dataset*.csv", root);
  glob_t gl;
  if (glob(pattern, 0, NULL, &gl) != 0) return;
  tally t = {0, 0, "FEBRL date_of_birth"};
  int wrong = 0;
  for (size_t i = 0; i < gl.gl_pathc; i++) {
    char *text = slurp(gl.gl_pathv[i]);
    if (!text) continue;
    for (char *row = strtok(text, "\n"); row; row = strtok(NULL, "\n")) {
      char *cols[16];
      int nc = 0;
      for (char *c = row; nc < 16;) {
        cols[nc++] = c;
        char *comma = strchr(c, ',');
        if (!comma) break;
        *comma = 0;
        c = comma + 1;
      }
      if (nc < 10) continue;
      char *v = cols[9];
      while (*v == ' ') v++;
      if (strlen(v) != 8 || strspn(v, "0123456789") != 8) continue;
      int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
      int m = (v[4] - '0') * 10 + (v[5] - '0'), d = (v[6] - '0') * 10 + (v[7] - '0');
      static const int md[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
      int real = y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= md[m - 1] - (m == 2 && !leap);
      int64_t got = parse_date_text(v, 8, 0);
      if ((got > 0) != real) wrong++;
      if (got > 0) t.ok++;
      else t.bad++;
    }
    free(text);
  }
  globfree(&gl);
  printf("realdata FEBRL date_of_birth: %d valid, %d impossible dates refused, %d misjudged\n", t.ok, t.bad, wrong);
  if (t.ok > 0 && wrong == 0) passed++;
  else fail("FEBRL date_of_birth", "%s%s", "misjudged dates", "");
}

int main(void) {
  glob_t gl;
  if (glob("tests/builtins/*.cases", 0, NULL, &gl) == 0) {
    for (size_t i = 0; i < gl.gl_pathc; i++) run_file(gl.gl_pathv[i]);
    globfree(&gl);
  } else {
    fail("tests/builtins", "no case files found (run from the repository root)%s%s", "", "");
  }
  const char *root = realdata();
  if (root) {
    real_clever(root);
    real_edfi(root);
    real_febrl(root);
  } else {
    printf("skipped: ../shared/realdata is absent\n");
  }
  for (int i = 0; i < nregexes; i++) pcre2_code_free((pcre2_code *)regexes[i].code);
  arena_free(&ar);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
