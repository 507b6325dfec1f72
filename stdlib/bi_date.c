/* bi_date.c: date(), year() and today(), and the date parser they share.
 *
 * Accepted forms (the formats the vendors and the real data use):
 *   2014-03-09, 2014-03-09T04:05:06Z (and any time or offset after the date)
 *   3/9/2014, 03/09/2014, 3-9-2014    month first, unless told "D/M/YYYY"
 *   3/9/14                            two-digit year: see PIVOT below
 *   2014/03/09, 2014-3-9              year first
 *   20140309 (as text or as an int)
 *   Mar 09 2014, March 9, 2014, 9 March 2014, 09-Mar-2014 (English month
 *   names or their first three letters, any case)
 * date()'s optional format is one of D/M/YYYY, D.M.YYYY (day first),
 * M/D/YYYY, YYYY-MM-DD, YYYYMMDD (month first); it only decides the
 * ambiguous D/M/Y text, since the other forms say which number is which.
 * A date that does not exist (2005-02-29, 13/45/2010) is not a date: null,
 * and a warning quoting the text.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin_api.h"

/* The language's null rule, kept here too: a built-in given null returns null. */
static int has_null(const value *a, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].kind == V_NULL) return 1;
  return 0;
}

/* The century of a two-digit year (Clever's CSV writes 11/1/98).  Such years
 * are birth dates and school years, so they lean to the past: 00..39 are
 * 2000..2039 (every student born this century, school years to 2039) and
 * 40..99 are 1940..1999 (staff and guardians).  The pivot is fixed rather
 * than sliding with the clock so that a plan reads the same text the same
 * way every year (and constant folding at compile time agrees with run
 * time); move it forward before the late 2030s. */
#define PIVOT 40

static int days_in(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d[m - 1] + (m == 2 && leap);
}

static int64_t ymd(int y, int m, int d) {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in(y, m)) return -1;
  return (int64_t)y * 10000 + m * 100 + d;
}

static int month_of(const char *s, size_t n) {
  static const char *const names[] = {"january", "february", "march", "april", "may", "june", "july",
                                      "august", "september", "october", "november", "december"};
  if (n < 3) return 0;
  for (int i = 0; i < 12; i++) {
    size_t full = strlen(names[i]);
    if ((n == 3 || (n == 4 && s[3] == '.') || n == full || (i == 8 && n == 4 && strncasecmp(s, "sept", 4) == 0)) &&
        strncasecmp(s, names[i], n == 4 && s[3] == '.' ? 3 : n) == 0)
      return i + 1;
  }
  return 0;
}

/* Splits text into up to 4 tokens of digits or letters. */
typedef struct {
  const char *s;
  size_t n;
  int digits;
} tok;

static int tokens(const char *s, size_t n, tok *t, int max, char *seps) {
  int k = 0;
  size_t i = 0;
  while (i < n && k < max) {
    while (i < n && !isalnum((unsigned char)s[i])) {
      if (k > 0 && seps[k - 1] == 0) seps[k - 1] = s[i];
      i++;
    }
    if (i >= n) break;
    size_t b = i;
    int dig = isdigit((unsigned char)s[i]) != 0;
    while (i < n && (dig ? isdigit((unsigned char)s[i]) : isalpha((unsigned char)s[i]) || s[i] == '.')) i++;
    t[k].s = s + b, t[k].n = i - b, t[k].digits = dig;
    seps[k] = 0;
    k++;
  }
  return k;
}

static int num(const tok *t) {
  int v = 0;
  for (size_t i = 0; i < t->n && i < 9; i++) v = v * 10 + (t->s[i] - '0');
  return v;
}

static int year_of(const tok *t) {
  int y = num(t);
  if (t->n == 2) y += y < PIVOT ? 2000 : 1900;
  return t->n == 2 || t->n == 4 ? y : -1;
}

/* The value of n digits at s (the text is not NUL-terminated: never atoi). */
static int digits_at(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

int64_t parse_date_text(const char *s, size_t n, int dayfirst) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (n == 0) return -1;
  /* ISO first: YYYY-MM-DD with anything after it (a time, an offset). */
  if (n >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-' &&
      (n == 10 || memchr("Tt Zz+-", s[10], 7))) { /* a time, or an offset as xsd:date has */
    for (int i = 0; i < 10; i++)
      if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return -1;
    return ymd(digits_at(s, 4), digits_at(s + 5, 2), digits_at(s + 8, 2));
  }
  if (n == 8) { /* YYYYMMDD */
    int all = 1;
    for (int i = 0; i < 8; i++) all &= isdigit((unsigned char)s[i]) != 0;
    if (all) return ymd(digits_at(s, 4), digits_at(s + 4, 2), digits_at(s + 6, 2));
  }
  tok t[4];
  char seps[4] = {0};
  int k = tokens(s, n, t, 4, seps);
  if (k != 3) return -1;
  if (t[0].digits && t[1].digits && t[2].digits) {
    if (t[0].n == 4) return ymd(num(&t[0]), num(&t[1]), num(&t[2])); /* 2014/03/09 */
    int y = year_of(&t[2]);
    if (y < 0 || t[0].n > 2 || t[1].n > 2) return -1;
    return dayfirst ? ymd(y, num(&t[1]), num(&t[0])) : ymd(y, num(&t[0]), num(&t[1]));
  }
  if (!t[0].digits && t[1].digits && t[2].digits) { /* Mar 09 2014 */
    int m = month_of(t[0].s, t[0].n);
    int y = year_of(&t[2]);
    return m && y > 0 ? ymd(y, m, num(&t[1])) : -1;
  }
  if (t[0].digits && !t[1].digits && t[2].digits) { /* 9 March 2014 */
    int m = month_of(t[1].s, t[1].n);
    int y = year_of(&t[2]);
    return m && y > 0 ? ymd(y, m, num(&t[0])) : -1;
  }
  return -1;
}

/* The format argument: which of day and month comes first in D/M/Y text.
 * Every other form (ISO, YYYYMMDD, month names) says which is which by
 * itself, so the format only settles the ambiguous one.  Returns 0 or 1, or
 * -1 for a format date() does not know (the checker refuses such a literal;
 * this catches one computed at run time). */
static int dayfirst_of(value f) {
  static const struct {
    const char *name;
    int dayfirst;
  } formats[] = {{"D/M/YYYY", 1}, {"D.M.YYYY", 1}, {"M/D/YYYY", 0}, {"YYYY-MM-DD", 0}, {"YYYYMMDD", 0}};
  if (f.kind != V_STR) return -1;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (strlen(formats[i].name) == f.len && strncasecmp(formats[i].name, f.u.s, f.len) == 0) return formats[i].dayfirst;
  return -1;
}

static const char *kind_name(value x) {
  switch (x.kind) {
    case V_BOOL: return "bool";
    case V_DEC: return "decimal";
    case V_TIME: return "time";
    case V_LIST: return "list";
    case V_REGEX: return "regex";
    default: return "value";
  }
}

value bi_date(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  value x = a[0];
  if (x.kind == V_DATE) return x;
  int dayfirst = n > 1 ? dayfirst_of(a[1]) : 0;
  if (dayfirst < 0) {
    char shown[64];
    v_describe(a[1], shown, sizeof shown);
    bi_warn(cx, "unknown date format %s (D/M/YYYY, D.M.YYYY, M/D/YYYY, YYYY-MM-DD or YYYYMMDD)", shown);
    return v_null();
  }
  char buf[64];
  const char *s;
  size_t len;
  if (x.kind == V_INT) { /* 20140309 from a numeric column */
    len = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)x.u.i);
    s = buf;
  } else if (x.kind == V_STR) {
    s = x.u.s, len = x.len;
  } else {
    bi_warn(cx, "a %s is not a date", kind_name(x));
    return v_null();
  }
  int64_t d = parse_date_text(s, len, dayfirst);
  if (d < 0) {
    bi_warn(cx, "\"%.*s\" is not a date", (int)(len > 40 ? 40 : len), s);
    return v_null();
  }
  return v_date(d);
}

value bi_year(bi_ctx *cx, const value *a, int n) {
  if (has_null(a, n)) return v_null();
  if (a[0].kind == V_DATE) return v_int(a[0].u.i / 10000);
  value d = bi_date(cx, a, 1);
  return d.kind == V_DATE ? v_int(d.u.i / 10000) : d;
}

value bi_today(bi_ctx *cx, const value *a, int n) {
  (void)a, (void)n;
  return v_date(cx->today);
}
