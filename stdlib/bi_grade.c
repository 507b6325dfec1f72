/* bi_grade.c: grade levels in every SIS vocabulary, as OneRoster codes.
 *
 * The OneRoster (CEDS) codes, in order: IT (infant/toddler), PR (preschool,
 * early education), PK, TK, KG, 01 .. 13, PS (postsecondary), UG (ungraded),
 * Other.  Sources say the same thing many ways: "K", "0", "Kindergarten",
 * "Grade 3", "3rd", "third grade", PowerSchool's numbers (0 is KG; negative
 * numbers are pre-K: -1 is PK, -2 and below PR), Ed-Fi descriptors
 * ("Transitional Kindergarten", "Preschool/Prekindergarten", "Infant/toddler",
 * "Early Education", "Ungraded", "No grade level", "Postsecondary"; "Adult
 * Education" and "Out of School", which OneRoster has no code for, are Other) and
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
    {"ps", "PS"}, {"postsecondary", "PS"}, {"postgraduate", "PS"},
    {"ug", "UG"}, {"ungraded", "UG"}, {"nogradelevel", "UG"},
    {"other", "Other"}, {"outofschool", "Other"}, {"adulteducation", "Other"}, {"adult", "Other"},
    {"first", "01"}, {"second", "02"}, {"third", "03"}, {"fourth", "04"}, {"fifth", "05"}, {"sixth", "06"},
    {"seventh", "07"}, {"eighth", "08"}, {"ninth", "09"}, {"tenth", "10"}, {"eleventh", "11"}, {"twelfth", "12"},
    {"thirteenth", "13"},
};

static const char *from_number(long v) {
  /* PowerSchool: 0 is kindergarten, negatives are before it. */
  if (v == 0) return "KG";
  if (v == -1) return "PK";
  if (v <= -2 && v >= -5) return "PR";
  if (v >= 1 && v <= 13) return codes[4 + v];
  return NULL;
}

static const char *lookup_word(const char *w) {
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(words[i].word, w) == 0) return words[i].code;
  return NULL;
}

static int is_noise(const char *t) {
  static const char *const noise[] = {"grade", "grades", "gr", "g", "year", "yr", "level", "lvl", NULL};
  for (int i = 0; noise[i]; i++)
    if (strcmp(noise[i], t) == 0) return 1;
  return 0;
}

static int is_ordinal(const char *t) {
  return !strcmp(t, "st") || !strcmp(t, "nd") || !strcmp(t, "rd") || !strcmp(t, "th");
}

/* Splits into lower-case tokens at anything that is not a letter or digit
 * and between digits and letters ("3rd" is "3" "rd"), drops the words that
 * only say "grade" and ordinal endings after a number, then reads what is
 * left: one number ("Grade 03", "3rd grade", "-1") or words ("Third
 * grade", "Pre-K", "Preschool/Prekindergarten"). */
const char *grade_code(const char *s, size_t n) {
  char tok[8][32];
  int ntok = 0;
  int negative = 0;
  for (size_t i = 0; i < n && ntok < 8;) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c)) {
      if (c == '-' && ntok == 0 && i + 1 < n && isdigit((unsigned char)s[i + 1])) negative = 1;
      i++;
      continue;
    }
    int digit = isdigit(c) != 0;
    size_t k = 0;
    while (i < n && isalnum((unsigned char)s[i]) && (isdigit((unsigned char)s[i]) != 0) == digit) {
      if (k < sizeof tok[0] - 1) tok[ntok][k++] = (char)tolower((unsigned char)s[i]);
      i++;
    }
    tok[ntok][k] = 0;
    ntok++;
  }
  char joined[128] = "", full[128] = "";
  const char *number = NULL;
  int nwords = 0;
  for (int t = 0; t < ntok; t++)
    if (!isdigit((unsigned char)tok[t][0])) strncat(full, tok[t], sizeof full - strlen(full) - 1);
  /* A phrase in the table as a whole ("No grade level") wins. */
  const char *whole = full[0] ? lookup_word(full) : NULL;
  if (whole && ntok > 0 && !isdigit((unsigned char)tok[0][0])) {
    int has_number = 0;
    for (int t = 0; t < ntok; t++) has_number |= isdigit((unsigned char)tok[t][0]) != 0;
    if (!has_number) return whole;
  }
  for (int t = 0; t < ntok; t++) {
    if (isdigit((unsigned char)tok[t][0])) {
      if (number) return NULL; /* two numbers: not a grade */
      number = tok[t];
      continue;
    }
    if (is_noise(tok[t]) || (is_ordinal(tok[t]) && number)) continue;
    strncat(joined, tok[t], sizeof joined - strlen(joined) - 1);
    nwords++;
  }
  if (number && nwords == 0) {
    long v = strtol(number, NULL, 10);
    return from_number(negative ? -v : v);
  }
  if (number) return NULL;
  if (nwords == 0) {
    /* only noise words: "Grade" alone, or a word that is itself noise */
    return NULL;
  }
  return lookup_word(joined);
}

/* A district has a few dozen distinct grade strings and sends each many
 * thousand times: a small direct-mapped cache of recent answers. */
#define GCACHE 64
static struct {
  char text[24];
  uint8_t len;
  const char *code;
} gcache[GCACHE];

static const char *cached_code(const char *s, size_t n) {
  if (n >= sizeof gcache[0].text) return grade_code(s, n);
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
  h %= GCACHE;
  if (gcache[h].len == n && gcache[h].code && memcmp(gcache[h].text, s, n) == 0) return gcache[h].code;
  const char *code = grade_code(s, n);
  if (code) {
    memcpy(gcache[h].text, s, n);
    gcache[h].len = (uint8_t)n;
    gcache[h].code = code;
  }
  return code;
}

value bi_grade(bi_ctx *cx, const value *a, int n) {
  (void)n;
  value x = a[0];
  const char *code = NULL;
  if (x.kind == V_INT) {
    code = from_number((long)x.u.i);
  } else if (x.kind == V_STR && (code = cached_code(x.u.s, x.len)) != NULL) {
    /* found */
  } else if (x.kind == V_STR) {
    char buf[16];
    if (x.len < sizeof buf) {
      memcpy(buf, x.u.s, x.len);
      buf[x.len] = 0;
      if (grade_rank(buf) >= 0) return x; /* already a code: "Other" and friends */
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
