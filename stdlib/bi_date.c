/* bi_date.c: date(), year() and today(), and the date parser they share.
 *
 * Accepted forms (the formats the vendors and the real data use):
 *   2014-03-09, 2014-03-09T04:05:06Z (and any time or offset after the date)
 *   3/9/2014, 03/09/2014, 3-9-2014    month first, unless told "D/M/YYYY"
 *   3/9/14                            two-digit year: see PIVOT below
 *   20140309 (as text or as an int)
 *   Mar 09 2014, March 9, 2014, 9 March 2014 (month names in English, any case)
 * A date that does not exist (2005-02-29, 13/45/2010) is not a date.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin_api.h"

/* Two-digit years are birth dates and school years, so they lean to the
 * past: 00..39 are 2000..2039, 40..99 are 1940..1999. */
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
      (n == 10 || s[10] == 'T' || s[10] == ' ' || s[10] == 't')) {
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

value bi_date(bi_ctx *cx, const value *a, int n) {
  value x = a[0];
  if (x.kind == V_DATE) return x;
  int dayfirst = 0;
  if (n > 1 && a[1].kind == V_STR) dayfirst = a[1].len >= 1 && (a[1].u.s[0] == 'D' || a[1].u.s[0] == 'd');
  char buf[64];
  const char *s;
  size_t len;
  if (x.kind == V_INT) {
    len = (size_t)snprintf(buf, sizeof buf, "%lld", (long long)x.u.i);
    s = buf;
  } else if (x.kind == V_STR) {
    s = x.u.s, len = x.len;
  } else {
    bi_warn(cx, "a %s is not a date", x.kind == V_BOOL ? "bool" : x.kind == V_LIST ? "list" : "number");
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
  (void)n;
  if (a[0].kind == V_DATE) return v_int(a[0].u.i / 10000);
  value d = bi_date(cx, a, 1);
  return d.kind == V_DATE ? v_int(d.u.i / 10000) : d;
}

value bi_today(bi_ctx *cx, const value *a, int n) {
  (void)a, (void)n;
  return v_date(cx->today);
}
