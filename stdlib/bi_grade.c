/* bi_grade.c: grade levels in every SIS vocabulary, as OneRoster codes.
 *
 * The OneRoster (CEDS) codes, in order: IT (infant/toddler), PR (preschool,
 * early education), PK, TK, KG, 01 .. 13, PS (postsecondary), UG (ungraded),
 * Other.  Sources say the same thing many ways:
 *   - plain numbers and words: "K", "0", "00", "Kindergarten", "Kinder",
 *     "Grade 3", "3", "03", "3rd", "third grade", "1st Grade", "Grade 12";
 *   - PowerSchool's numbers: 0 is KG and negative numbers are the years
 *     before it.  -1 is PK (the year before kindergarten) and -2 .. -5 are
 *     PR (earlier preschool years).  Not PS: in OneRoster PS is
 *     postsecondary, the other end of schooling.  99 (PowerSchool's
 *     "graduated") and other numbers are not grades: null and a warning;
 *   - Ed-Fi descriptors, alone or as a URI (...GradeLevelDescriptor#Ninth
 *     grade): "Transitional Kindergarten", "Preschool/Prekindergarten" and
 *     "Prekindergarten" (PK), "Preschool" and "Early Education" (PR),
 *     "Infant/toddler" (IT), "Ungraded" and "No grade level" (UG),
 *     "Grade 13", "Postsecondary" (PS); "Adult Education" and "Out of
 *     School", which OneRoster has no code for, are Other;
 *   - Clever's: "PreKindergarten", "TransitionalKindergarten",
 *     "InfantToddler", "Preschool", "Postgraduate" (PS), "Ungraded", "Other";
 *   - pre-K by age: "PK3", "PK4", "Pre-K 4", "K4", "4K" are PK; "K5", "5K" KG.
 * Anything else is not a grade: null, and a warning quoting it.
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
    {"pk", "PK"}, {"prek", "PK"}, {"prekindergarten", "PK"}, {"preschoolprekindergarten", "PK"},
    /* pre-K by the children's age: PK3, PK4, Pre-K 4, K4 and 4K (Wisconsin's
     * four-year-old kindergarten); K5 and 5K are kindergarten itself. */
    {"pk3", "PK"}, {"pk4", "PK"}, {"prek3", "PK"}, {"prek4", "PK"}, {"k4", "PK"}, {"4k", "PK"},
    {"k5", "KG"}, {"5k", "KG"},
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
  /* PowerSchool: 0 is kindergarten, negatives are before it (see the top). */
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

/* Appends src to the string in dst (size bytes), cutting it when full. */
static void append(char *dst, size_t size, const char *src) {
  size_t have = strlen(dst), add = strlen(src);
  if (add > size - 1 - have) add = size - 1 - have;
  memcpy(dst + have, src, add);
  dst[have + add] = 0;
}

/* An Ed-Fi descriptor URI (uri://ed-fi.org/GradeLevelDescriptor#Ninth
 * grade) names the grade after the '#'. */
static void strip_uri(const char **s, size_t *n) {
  for (size_t i = *n; i > 0; i--)
    if ((*s)[i - 1] == '#') {
      *s += i, *n -= i;
      return;
    }
}

#define MAXTOK 8
typedef char token[32];

static int is_number(const char *t) { return isdigit((unsigned char)t[0]) != 0; }

/* Splits into lower-case tokens at anything that is not a letter or digit
 * and between digits and letters ("3rd" is "3" "rd"); notes a minus sign
 * before a leading number (PowerSchool's -1).  Returns the token count. */
static int tokenize(const char *s, size_t n, token *tok, int *negative) {
  int ntok = 0;
  *negative = 0;
  for (size_t i = 0; i < n && ntok < MAXTOK;) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c)) {
      if (c == '-' && ntok == 0 && i + 1 < n && isdigit((unsigned char)s[i + 1])) *negative = 1;
      i++;
      continue;
    }
    int digit = isdigit(c) != 0;
    size_t k = 0;
    while (i < n && isalnum((unsigned char)s[i]) && (isdigit((unsigned char)s[i]) != 0) == digit) {
      if (k < sizeof tok[0] - 1) tok[ntok][k++] = (char)tolower((unsigned char)s[i]);
      i++;
    }
    tok[ntok++][k] = 0;
  }
  return ntok;
}

/* Words only ("Third grade", "Pre-K", "No grade level"): the whole phrase
 * if the table has it, else the phrase without the words that only say
 * "grade". */
static const char *from_words(token *tok, int ntok) {
  char full[128] = "", joined[128] = "";
  for (int t = 0; t < ntok; t++) {
    append(full, sizeof full, tok[t]);
    if (!is_noise(tok[t])) append(joined, sizeof joined, tok[t]);
  }
  const char *code = lookup_word(full);
  return code ? code : joined[0] ? lookup_word(joined) : NULL;
}

/* One number with perhaps some words: "Grade 03", "3rd grade", "-1" are the
 * number; "PK4", "Pre-K 4", "K5", "4K" are table entries with digits. */
static const char *from_number_and_words(token *tok, int ntok, int negative) {
  char mixed[128] = "";
  const char *number = NULL;
  int nwords = 0;
  for (int t = 0; t < ntok; t++) {
    if (is_number(tok[t])) number = tok[t];
    else if (is_noise(tok[t]) || (number && is_ordinal(tok[t]))) continue;
    else nwords++;
    append(mixed, sizeof mixed, tok[t]);
  }
  if (nwords == 0) {
    long v = strlen(number) > 4 ? 9999 : strtol(number, NULL, 10);
    return from_number(negative ? -v : v);
  }
  return negative ? NULL : lookup_word(mixed);
}

/* Reads what the tokens say: words only, or exactly one number with or
 * without words; two numbers ("3 4", "3.5") are not a grade. */
const char *grade_code(const char *s, size_t n) {
  strip_uri(&s, &n);
  token tok[MAXTOK];
  int negative;
  int ntok = tokenize(s, n, tok, &negative);
  int numbers = 0;
  for (int t = 0; t < ntok; t++) numbers += is_number(tok[t]);
  if (ntok == 0 || numbers > 1) return NULL;
  return numbers == 0 ? from_words(tok, ntok) : from_number_and_words(tok, ntok, negative);
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
  if (has_null(a, n)) return v_null();
  value x = a[0];
  const char *code = NULL;
  if (x.kind == V_INT) {
    code = x.u.i >= -99 && x.u.i <= 99 ? from_number((long)x.u.i) : NULL;
  } else if (x.kind == V_DEC && x.u.d >= -99 && x.u.d <= 99 && x.u.d == (double)(long)x.u.d) {
    code = from_number((long)x.u.d); /* 3.0 from a spreadsheet's number column */
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
  if (has_null(a, n)) return v_null();
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
