/* bi_grade.c: grade levels in every SIS vocabulary, as OneRoster codes.
 *
 * The OneRoster (CEDS) codes, in order: IT (infant/toddler), PR (preschool,
 * early education), PK, TK, KG, 01 .. 13, PS (postsecondary), UG (ungraded),
 * Other.  Sources say the same thing many ways: "K", "0", "Kindergarten",
 * "Grade 3", "3rd", "third grade", PowerSchool's numbers (0 is KG; negative
 * numbers are pre-K: -1 is PK, -2 and below PR), Ed-Fi descriptors
 * ("Transitional Kindergarten", "Preschool/Prekindergarten", "Infant/toddler",
 * "Early Education", "Ungraded", "Postsecondary", "Adult Education") and
 * Clever's ("PreKindergarten", "TransitionalKindergarten", "InfantToddler",
 * "Preschool", "Postgraduate", "Ungraded", "Other").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builtin_api.h"

static const char *const codes[] = {"IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07",
                                    "08", "09", "10", "11", "12", "13", "PS", "UG", "Other"};
#define NCODES (int)(sizeof codes / sizeof codes[0])

int grade_rank(const char *code) {
  for (int i = 0; i < NCODES; i++)
    if (strcmp(codes[i], code) == 0) return i;
  return -1;
}

/* Words, compared after lower-casing and dropping everything but letters
 * and digits ("Pre-K" and "pre k" are both "prek"). */
static const struct {
  const char *word, *code;
} words[] = {
    {"it", "IT"}, {"infanttoddler", "IT"}, {"infant", "IT"}, {"toddler", "IT"},
    {"pr", "PR"}, {"preschool", "PR"}, {"earlyeducation", "PR"}, {"earlychildhood", "PR"}, {"ps3", "PR"},
    {"pk", "PK"}, {"prek", "PK"}, {"prekindergarten", "PK"}, {"preschoolprekindergarten", "PK"}, {"pk4", "PK"},
    {"tk", "TK"}, {"transitionalkindergarten", "TK"}, {"transitionalk", "TK"},
    {"k", "KG"}, {"kg", "KG"}, {"kindergarten", "KG"}, {"kinder", "KG"}, {"kindergartenfullday", "KG"},
    {"kindergartenhalfday", "KG"}, {"halfdaykindergarten", "KG"}, {"fulldaykindergarten", "KG"},
    {"ps", "PS"}, {"postsecondary", "PS"}, {"postgraduate", "PS"}, {"adulteducation", "PS"}, {"adult", "PS"},
    {"ug", "UG"}, {"ungraded", "UG"}, {"other", "Other"},
    {"first", "01"}, {"second", "02"}, {"third", "03"}, {"fourth", "04"}, {"fifth", "05"}, {"sixth", "06"},
    {"seventh", "07"}, {"eighth", "08"}, {"ninth", "09"}, {"tenth", "10"}, {"eleventh", "11"}, {"twelfth", "12"},
    {"thirteenth", "13"},
};

static const char *from_number(long v) {
  if (v == 0) return "KG";
  if (v == -1) return "PK";
  if (v <= -2 && v >= -5) return "PR";
  if (v >= 1 && v <= 13) return codes[4 + v];
  return NULL;
}

const char *grade_code(const char *s, size_t n) {
  char w[64];
  size_t k = 0;
  int letters = 0;
  for (size_t i = 0; i < n && k < sizeof w - 1; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c)) {
      w[k++] = (char)tolower(c);
      letters += isalpha(c) != 0;
    } else if (c == '-' && k == 0 && i + 1 < n && isdigit((unsigned char)s[i + 1])) {
      w[k++] = '-';
    }
  }
  w[k] = 0;
  if (k == 0) return NULL;
  if (!letters) return from_number(strtol(w, NULL, 10));
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(words[i].word, w) == 0) return words[i].code;
  if (strcmp(w, "other") == 0) return "Other";
  /* "grade3", "3rd", "3rdgrade", "grade03", "gr3", "year3", "third grade" */
  static const char *const noise[] = {"grade", "gr", "g", "year", "yr", "st", "nd", "rd", "th", NULL};
  char rest[64];
  size_t r = 0;
  for (size_t i = 0; i < k;) {
    int skipped = 0;
    for (int j = 0; noise[j]; j++) {
      size_t len = strlen(noise[j]);
      if (strncmp(w + i, noise[j], len) == 0) {
        i += len;
        skipped = 1;
        break;
      }
    }
    if (!skipped) rest[r++] = w[i++];
  }
  rest[r] = 0;
  if (r == 0) return NULL;
  int all_digits = 1;
  for (size_t i = 0; i < r; i++) all_digits &= isdigit((unsigned char)rest[i]) != 0;
  if (all_digits) return from_number(strtol(rest, NULL, 10));
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(words[i].word, rest) == 0) return words[i].code;
  return NULL;
}

value bi_grade(bi_ctx *cx, const value *a, int n) {
  (void)n;
  value x = a[0];
  const char *code = NULL;
  if (x.kind == V_INT) {
    code = from_number((long)x.u.i);
  } else if (x.kind == V_STR) {
    char buf[16];
    if (x.len < sizeof buf) {
      memcpy(buf, x.u.s, x.len);
      buf[x.len] = 0;
      if (grade_rank(buf) >= 0) return x; /* already a code */
    }
    code = grade_code(x.u.s, x.len);
  }
  if (!code) {
    char shown[80];
    v_describe(x, shown, sizeof shown);
    bi_warn(cx, "%s is not a grade level", shown);
    return v_null();
  }
  return v_str(code, strlen(code));
}

value bi_grades(bi_ctx *cx, const value *a, int n) {
  (void)n;
  const char *lo = NULL, *hi = NULL;
  char b1[16], b2[16];
  if (a[0].kind == V_STR && a[0].len < sizeof b1) memcpy(b1, a[0].u.s, a[0].len), b1[a[0].len] = 0, lo = b1;
  if (a[1].kind == V_STR && a[1].len < sizeof b2) memcpy(b2, a[1].u.s, a[1].len), b2[a[1].len] = 0, hi = b2;
  int r1 = lo ? grade_rank(lo) : -1, r2 = hi ? grade_rank(hi) : -1;
  if (r1 < 0 || r2 < 0) {
    bi_warn(cx, "grades() takes two OneRoster grade codes");
    return v_null();
  }
  if (r1 > r2) {
    int t = r1;
    r1 = r2, r2 = t;
  }
  value *items = arena_alloc(cx->arena, (size_t)(r2 - r1 + 1) * sizeof *items);
  for (int i = r1; i <= r2; i++) items[i - r1] = v_str(codes[i], strlen(codes[i]));
  return v_list(items, (size_t)(r2 - r1 + 1));
}
