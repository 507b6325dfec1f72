/* feed.c: file sources: csv, json and oneroster_csv, and the replay of
 * recorded network responses (see feed.h). */
#include "feed.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "csv.h"
#include "jsonstream.h"
#include "kinds.h"
#include "xpress_replay.h"
#include "zipread.h"

typedef enum { FK_CSV, FK_JSON, FK_ONEROSTER, FK_REPLAY } feed_kind;

#define MAX_REPLAY 64
static struct {
  uint32_t source;
  char dir[1024];
} replays[MAX_REPLAY];
static int nreplays;

int feed_set_replay(const plan *p, const char *source, const char *dir) {
  for (uint32_t i = 0; i < p->nsources; i++)
    if (strcmp(plan_str(p, p->sources[i].name), source) == 0 && nreplays < MAX_REPLAY) {
      replays[nreplays].source = i;
      snprintf(replays[nreplays].dir, sizeof replays[nreplays].dir, "%s", dir);
      nreplays++;
      return 1;
    }
  return 0;
}

static const char *replay_dir(uint32_t source) {
  for (int i = 0; i < nreplays; i++)
    if (replays[i].source == source) return replays[i].dir;
  return NULL;
}

int feed_has_replay(uint32_t source) { return replay_dir(source) != NULL; }

static int is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether a OneRoster CSV set (a directory, or a zip) is regular files
 * only: every CSV file of a directory. */
static int regular_set(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) return 1; /* a zip */
  DIR *d = S_ISDIR(st.st_mode) ? opendir(dir) : NULL;
  int ok = d != NULL;
  for (struct dirent *e; ok && d && (e = readdir(d));) {
    size_t n = strlen(e->d_name);
    if (n > 4 && !strcasecmp(e->d_name + n - 4, ".csv")) {
      char path[2048];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      ok = is_regular(path);
    }
  }
  if (d) closedir(d);
  return ok;
}

/* Recorded responses are left out: a replayed feed opened ahead holds its
 * pages, which took a 100k-student Veracross plan from 204 to 239 MB, and
 * reading them is what such a plan waits for anyway.  So is anything but a
 * regular file: opening a FIFO waits for its writer, and a run whose
 * earlier unit failed would then wait for the thread opening it. */
int feed_reads_local(const plan *p, uint32_t unit) {
  const plan_unit *u = &p->units[unit];
  const plan_source *s = &p->sources[u->source];
  if (replay_dir(u->source)) return 0;
  if (s->kind == KIND_oneroster_csv) {
    char buf[1024];
    const char *why, *dir = feed_setting(p, u->source, "dir", buf, sizeof buf, &why);
    return regular_set(dir ? dir : ".");
  }
  if (s->kind != KIND_csv && s->kind != KIND_json) return 0;
  for (uint32_t i = 0; i < s->nfiles; i++)
    if (s->files[i].entity == u->entity) return is_regular(plan_str(p, s->files[i].path));
  return 0;
}

struct feed {
  feed_kind kind;
  const plan *p;
  const plan_unit *u;
  char path[1024];
  char where[1100];
  /* csv and oneroster */
  csv_reader *csv;
  int *col;          /* per unit field: column index, or -1 */
  int *col_list;     /* per unit field: the column holds a comma list */
  int ncols;
  int role_col, status_col, type_col, id_col;
  const char *const *roles; /* oneroster users: the roles this entity takes */
  int deleted;
  int delta;
  /* oneroster demographics: sourcedId -> row values, for demographics.X fields */
  int *demo_field;   /* per unit field: demographics column, or -1 */
  char *demo_text;      /* every cell of the rows, each ending in a NUL, one after another */
  size_t demo_textlen, demo_textcap;
  size_t *demo_cell;    /* row r's cell c starts at demo_text + demo_cell[r * demo_ncols + c] */
  size_t ndemo, demo_cellcap;
  int demo_ncols, demo_idcol;
  size_t *demo_index;   /* open addressing over the rows' sourcedIds: row + 1, 0 empty */
  size_t demo_cap;
  /* json */
  jstream *js;          /* a json source, read a record at a time */
  json_t *cur;          /* the record being handed over */
  json_t *doc;
  json_t *array;
  size_t index;
  /* replay: the pages of one resource, and the demographics by id */
  char **pages;
  size_t npages, page;
  const char *plural;
  json_t *demo;         /* object: sourcedId -> demographics record */
  /* veracross replay */
  json_t *vlists;       /* field -> {id as text -> description} */
  json_t *students;     /* student id (text) -> true, for contacts */
  json_t *rels;         /* person id (text) -> [relationships rows] */
  json_t *households;   /* household id (text) -> record */
  /* powerschool replay: pages streamed, each with the school it was listed under */
  const char *ps_singular; /* the key under the collection's wrapper ("student") */
  json_t *page_school;     /* per page: the school_number its records get, or null */
  json_t *seen;            /* staff ids already handed over */
  json_t *courses;         /* "school_number/course id" -> course, for classes */
  /* progress */
  long nread;
  double opened;
  int shown;
};

/* ---- settings ------------------------------------------------------------ */

const char *feed_setting(const plan *p, uint32_t source, const char *key, char *buf, size_t size, const char **why) {
  const plan_source *s = &p->sources[source];
  *why = NULL;
  for (uint32_t i = 0; i < s->nsettings; i++) {
    const plan_setting *st = &s->settings[i];
    if (strcmp(plan_str(p, st->key), key) != 0) continue;
    if (st->secret == SECRET_ENV) {
      const char *v = getenv(plan_str(p, st->value));
      if (!v) *why = "its environment variable is not set";
      return v;
    }
    if (st->secret == SECRET_FILE) {
      FILE *f = fopen(plan_str(p, st->value), "rb");
      if (!f) {
        *why = "its file cannot be read";
        return NULL;
      }
      size_t n = fread(buf, 1, size - 1, f);
      fclose(f);
      while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
      buf[n] = 0;
      return buf;
    }
    const value *v = &p->const_values[st->value];
    if (v->kind == V_STR) {
      snprintf(buf, size, "%.*s", (int)v->len, v->u.s);
      return buf;
    }
    if (v->kind == V_BOOL) return v->u.i ? "true" : "false";
    return NULL;
  }
  return NULL;
}

/* ---- csv ------------------------------------------------------------------- */

static const char *const oneroster_lists[] = {"grades", "orgSourcedIds", "agentSourcedIds", "termSourcedIds",
                                              "subjects", "subjectCodes", "periods", NULL};

static int is_list_column(const char *name) {
  for (int i = 0; oneroster_lists[i]; i++)
    if (strcmp(oneroster_lists[i], name) == 0) return 1;
  return 0;
}

static int find_col(char **cells, size_t *lens, int n, const char *name) {
  size_t len = strlen(name);
  for (int i = 0; i < n; i++)
    if (lens[i] == len && memcmp(cells[i], name, len) == 0) return i;
  for (int i = 0; i < n; i++) /* headers differ in case between exports */
    if (lens[i] == len && strncasecmp(cells[i], name, len) == 0) return i;
  return -1;
}

static int open_csv(feed *f, char delim, int strict, char *err, size_t errsize) {
  if (!f->csv) f->csv = csv_open(f->path, delim, err, errsize);
  if (!f->csv) return 0;
  char **cells;
  size_t *lens;
  int n;
  int rc = csv_next(f->csv, &cells, &lens, &n, err, errsize);
  if (rc <= 0) {
    if (rc == 0) snprintf(err, errsize, "%s: the file is empty (no header row)", f->path);
    else {
      char why[300];
      snprintf(why, sizeof why, "%s", err);
      snprintf(err, errsize, "%s: header: %s", f->path, why);
    }
    return 0;
  }
  f->ncols = n;
  f->col = calloc(f->u->nfields + 1, sizeof *f->col);
  f->col_list = calloc(f->u->nfields + 1, sizeof *f->col_list);
  f->demo_field = calloc(f->u->nfields + 1, sizeof *f->demo_field);
  for (uint32_t k = 0; k < f->u->nfields; k++) {
    const char *path = plan_str(f->p, f->u->fields[k]);
    f->demo_field[k] = -1;
    f->col[k] = find_col(cells, lens, n, path);
    f->col_list[k] = f->kind == FK_ONEROSTER && is_list_column(path);
    if (f->col[k] < 0 && strict && strncmp(path, "demographics.", 13) != 0) {
      snprintf(err, errsize, "%s: no column '%s' (the map reads it)", f->path, path);
      return 0;
    }
  }
  f->role_col = find_col(cells, lens, n, "role");
  f->status_col = find_col(cells, lens, n, "status");
  f->type_col = find_col(cells, lens, n, "type");
  f->id_col = find_col(cells, lens, n, "sourcedId");
  return 1;
}

/* A comma list in one cell ("09,10") as a list value. */
static value list_of(arena *a, const char *s, size_t n) {
  size_t count = 1;
  for (size_t i = 0; i < n; i++) count += s[i] == ',';
  value *items = arena_alloc(a, count * sizeof *items);
  size_t k = 0, start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != ',') continue;
    size_t b = start, e = i;
    while (b < e && (s[b] == ' ' || s[b] == '"')) b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '"')) e--;
    if (e > b) items[k++] = v_str(s + b, e - b);
    start = i + 1;
  }
  return v_list(items, k);
}

static int cell_is(char **cells, size_t *lens, int n, int col, const char *word) {
  if (col < 0 || col >= n) return 0;
  size_t len = strlen(word);
  return lens[col] == len && strncasecmp(cells[col], word, len) == 0;
}

static int role_wanted(const feed *f, char **cells, size_t *lens, int n) {
  if (!f->roles) return 1;
  for (int i = 0; f->roles[i]; i++)
    if (cell_is(cells, lens, n, f->role_col, f->roles[i])) return 1;
  return 0;
}

static size_t id_hash(const char *s, size_t n) {
  size_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static const char *demo_at(const feed *f, size_t row, int col) {
  return f->demo_text + f->demo_cell[row * (size_t)f->demo_ncols + (size_t)col];
}

/* Keeps a demographics row (n == demo_ncols cells) in the two growing
 * arrays: a million rows were a million small arrays and ten million
 * strings, made one by one on the thread the plan waits for first.  0
 * when out of memory. */
static int demo_keep(feed *f, char **cells, size_t *lens, int n) {
  size_t need = (f->ndemo + 1) * (size_t)n, bytes = 0;
  for (int i = 0; i < n; i++) bytes += lens[i] + 1;
  if (need > f->demo_cellcap) {
    size_t cap = f->demo_cellcap ? f->demo_cellcap * 2 : 1024;
    while (cap < need) cap *= 2;
    size_t *more = realloc(f->demo_cell, cap * sizeof *more);
    if (!more) return 0;
    f->demo_cell = more, f->demo_cellcap = cap;
  }
  if (f->demo_textlen + bytes > f->demo_textcap) {
    size_t cap = f->demo_textcap ? f->demo_textcap * 2 : 1 << 16;
    while (cap < f->demo_textlen + bytes) cap *= 2;
    char *more = realloc(f->demo_text, cap);
    if (!more) return 0;
    f->demo_text = more, f->demo_textcap = cap;
  }
  for (int i = 0; i < n; i++) {
    f->demo_cell[f->ndemo * (size_t)n + (size_t)i] = f->demo_textlen;
    memcpy(f->demo_text + f->demo_textlen, cells[i], lens[i]);
    f->demo_text[f->demo_textlen + lens[i]] = 0; /* read as a C string, to its first NUL, as strndup kept it */
    f->demo_textlen += lens[i] + 1;
  }
  f->ndemo++;
  return 1;
}

/* Indexes the demographics rows by sourcedId (a user's row is found in one
 * probe, whatever the size of the file). */
static void demo_build_index(feed *f) {
  f->demo_cap = 16;
  while (f->demo_cap < f->ndemo * 2) f->demo_cap *= 2;
  f->demo_index = calloc(f->demo_cap, sizeof *f->demo_index);
  if (!f->demo_index) return;
  for (size_t i = 0; i < f->ndemo; i++) {
    const char *id = demo_at(f, i, f->demo_idcol);
    size_t h = id_hash(id, strlen(id)) & (f->demo_cap - 1);
    while (f->demo_index[h]) h = (h + 1) & (f->demo_cap - 1);
    f->demo_index[h] = i + 1;
  }
}

static const char *demo_lookup(const feed *f, const char *id, size_t idlen, int col) {
  if (!f->demo_index) return NULL;
  for (size_t h = id_hash(id, idlen) & (f->demo_cap - 1); f->demo_index[h]; h = (h + 1) & (f->demo_cap - 1)) {
    size_t i = f->demo_index[h] - 1;
    const char *row_id = demo_at(f, i, f->demo_idcol);
    if (strlen(row_id) == idlen && memcmp(row_id, id, idlen) == 0)
      return col < f->demo_ncols ? demo_at(f, i, col) : NULL;
  }
  return NULL;
}

/* f->where = "PATH:LINE", as snprintf would write it; the path is copied
 * only when it is not there yet (once per file: this runs for every row). */
static void set_where(feed *f, long line) {
  size_t pn = strlen(f->path), cap = sizeof f->where;
  if (pn + 22 >= cap || line < 0) {
    snprintf(f->where, cap, "%s:%ld", f->path, line);
    return;
  }
  if (memcmp(f->where, f->path, pn) != 0 || f->where[pn] != ':') memcpy(f->where, f->path, pn), f->where[pn] = ':';
  char digits[24];
  int k = 0;
  do digits[k++] = (char)('0' + line % 10), line /= 10;
  while (line);
  char *o = f->where + pn + 1;
  while (k) *o++ = digits[--k];
  *o = 0;
}

static int next_csv(feed *f, value *fields, arena *a, char *err, size_t errsize) {
  char **cells;
  size_t *lens;
  int n;
  for (;;) {
    int rc = csv_next(f->csv, &cells, &lens, &n, err, errsize);
    set_where(f, csv_row_line(f->csv));
    if (rc == 0) return FEED_END;
    if (rc < 0) {
      char why[300];
      snprintf(why, sizeof why, "%s", err);
      snprintf(err, errsize, "%s: %s", f->path, why);
      return FEED_BAD_ROW;
    }
    if (n == 1 && lens[0] == 0) continue; /* a blank line */
    if (f->kind == FK_ONEROSTER) {
      if (f->u->entity == ENT_school && f->type_col >= 0 && !cell_is(cells, lens, n, f->type_col, "school")) continue;
      if (!role_wanted(f, cells, lens, n)) continue;
      f->deleted = f->delta && cell_is(cells, lens, n, f->status_col, "tobedeleted");
    }
    if (n != f->ncols) {
      snprintf(err, errsize, "%s:%ld: the row has %d fields but the header has %d", f->path, csv_row_line(f->csv), n,
               f->ncols);
      return FEED_BAD_ROW;
    }
    for (uint32_t k = 0; k < f->u->nfields; k++) {
      int c = f->col[k];
      fields[k] = v_null();
      if (c >= 0 && c < n && lens[c] > 0)
        fields[k] = f->col_list[k] ? list_of(a, cells[c], lens[c]) : v_str(cells[c], lens[c]);
      else if (c < 0 && f->demo_field[k] >= 0 && f->id_col >= 0 && f->id_col < n) {
        const char *v = demo_lookup(f, cells[f->id_col], lens[f->id_col], f->demo_field[k]);
        if (v && *v) fields[k] = v_str(v, strlen(v));
      }
    }
    return FEED_RECORD;
  }
}

/* ---- oneroster_csv ----------------------------------------------------------- */

static const char *const student_roles[] = {"student", NULL};
static const char *const teacher_roles[] = {"teacher", "aide", "proctor", NULL};
static const char *const contact_roles[] = {"parent", "guardian", "relative", NULL};
static const char *const admin_roles[] = {"administrator", "districtAdministrator", "siteAdministrator",
                                          "principal", "systemAdministrator", NULL};

/* The OneRoster user roles an entity takes (language.md), NULL for the
 * entities that are not users. */
static const char *const *roles_of(int entity) {
  switch (entity) {
    case ENT_student: return student_roles;
    case ENT_teacher: return teacher_roles;
    case ENT_contact: return contact_roles;
    case ENT_admin: return admin_roles;
    default: return NULL;
  }
}

static const char *oneroster_file(int entity) {
  switch (entity) {
    case ENT_school: return "orgs";
    case ENT_student: case ENT_teacher: case ENT_contact: case ENT_admin: return "users";
    case ENT_course: return "courses";
    case ENT_class: return "classes";
    case ENT_calendar: return "academicSessions";
    case ENT_enrollment: return "enrollments";
    default: return NULL;
  }
}

static int is_zip(const char *dir) {
  size_t n = strlen(dir);
  return n > 4 && strcasecmp(dir + n - 4, ".zip") == 0;
}

/* Opens FILE.csv of a OneRoster package: a directory or a .zip.  *missing
 * when the package simply has no such file. */
static csv_reader *open_member(const char *dir, const char *file, int *missing, char *err, size_t errsize) {
  char name[256];
  snprintf(name, sizeof name, "%s.csv", file);
  *missing = 0;
  if (is_zip(dir)) {
    FILE *fp = zip_extract(dir, name, missing, err, errsize);
    return fp ? csv_open_stream(fp, ',') : NULL;
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  csv_reader *r = csv_open(path, ',', err, errsize);
  if (!r) *missing = 1;
  return r;
}

/* The manifest's word for a file: "bulk", "delta" or "absent" (NULL when the
 * manifest has no line for it). */
static int manifest_mode(const char *dir, const char *file, char *mode, size_t size, char *err, size_t errsize) {
  int missing;
  csv_reader *r = open_member(dir, "manifest", &missing, err, errsize);
  if (!r) return 0;
  char **cells;
  size_t *lens;
  int n, rc;
  char key[128];
  snprintf(key, sizeof key, "file.%s", file);
  mode[0] = 0;
  while ((rc = csv_next(r, &cells, &lens, &n, err, errsize)) != 0) {
    if (rc < 0 || n < 2) continue;
    if (lens[0] == strlen(key) && memcmp(cells[0], key, lens[0]) == 0)
      snprintf(mode, size, "%.*s", (int)lens[1], cells[1]);
  }
  csv_close(r);
  return 1;
}

/* 0 (with err) when out of memory. */
static int load_demographics(feed *f, const char *dir, char *errout, size_t errsize) {
  int any = 0;
  for (uint32_t k = 0; k < f->u->nfields; k++) any |= strncmp(plan_str(f->p, f->u->fields[k]), "demographics.", 13) == 0;
  if (!any) return 1;
  char err[300];
  int missing;
  csv_reader *r = open_member(dir, "demographics", &missing, err, sizeof err);
  if (!r) return 1; /* no demographics file: the fields are null */
  char **cells;
  size_t *lens;
  int n, rc, idcol = -1, header = 1;
  char **names = NULL;
  int nnames = 0;
  while ((rc = csv_next(r, &cells, &lens, &n, err, sizeof err)) != 0) {
    if (rc < 0) continue;
    if (header) {
      header = 0;
      names = calloc((size_t)n, sizeof *names);
      nnames = n;
      for (int i = 0; i < n; i++) names[i] = strndup(cells[i], lens[i]);
      idcol = find_col(cells, lens, n, "sourcedId");
      f->demo_ncols = n;
      f->demo_idcol = idcol;
      continue;
    }
    if (idcol < 0 || n != nnames) continue;
    if (!demo_keep(f, cells, lens, n)) {
      snprintf(errout, errsize, "%s: out of memory reading demographics.csv (row %zu)", dir, f->ndemo + 1);
      csv_close(r);
      for (int i = 0; i < nnames; i++) free(names[i]);
      free(names);
      return 0;
    }
  }
  csv_close(r);
  demo_build_index(f);
  for (uint32_t k = 0; k < f->u->nfields; k++) {
    const char *path_k = plan_str(f->p, f->u->fields[k]);
    if (strncmp(path_k, "demographics.", 13) != 0) continue;
    for (int i = 0; i < nnames; i++)
      if (strcmp(names[i], path_k + 13) == 0) f->demo_field[k] = i;
  }
  for (int i = 0; i < nnames; i++) free(names[i]);
  free(names);
  return 1;
}

static int open_oneroster(feed *f, const char *dir, char *err, size_t errsize) {
  const char *file = oneroster_file(f->u->entity);
  char mode[32];
  if (!file || !manifest_mode(dir, file, mode, sizeof mode, err, errsize)) {
    if (file) {
      char why[300];
      snprintf(why, sizeof why, "%s", err);
      snprintf(err, errsize, "%s: no readable manifest.csv (%s)", dir, why);
    }
    return 0;
  }
  if (strcmp(mode, "bulk") != 0 && strcmp(mode, "delta") != 0) {
    snprintf(err, errsize, "%s/manifest.csv marks %s.csv as %s", dir, file, mode[0] ? mode : "missing");
    return -1; /* nothing to read: an empty feed */
  }
  f->delta = strcmp(mode, "delta") == 0;
  if (snprintf(f->path, sizeof f->path, "%s%s%s.csv", dir, is_zip(dir) ? ":" : "/", file) >= (int)sizeof f->path)
    f->path[sizeof f->path - 1] = 0;
  int missing;
  f->csv = open_member(dir, file, &missing, err, errsize);
  if (!f->csv) return 0;
  f->roles = roles_of(f->u->entity);
  if (!open_csv(f, ',', 0, err, errsize)) return 0;
  return load_demographics(f, dir, err, errsize);
}

/* ---- json -------------------------------------------------------------------- */

static int open_json(feed *f, const char *at, char *err, size_t errsize) {
  f->js = jstream_open(f->path, at, err, errsize);
  return f->js != NULL;
}

static value json_value(arena *a, json_t *j) {
  switch (json_typeof(j)) {
    case JSON_STRING: return json_string_length(j) ? v_str(json_string_value(j), json_string_length(j)) : v_null();
    case JSON_INTEGER: return v_int(json_integer_value(j));
    case JSON_REAL: return v_dec(json_real_value(j));
    case JSON_TRUE: return v_bool(1);
    case JSON_FALSE: return v_bool(0);
    case JSON_ARRAY: {
      size_t n = json_array_size(j);
      value *items = arena_alloc(a, (n + 1) * sizeof *items);
      size_t k = 0;
      for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(j, i);
        /* A list of objects (GUIDRefs) becomes the list of their ids. */
        if (json_is_object(it)) it = json_object_get(it, "sourcedId") ? json_object_get(it, "sourcedId") : json_object_get(it, "id");
        if (it && !json_is_object(it) && !json_is_array(it)) items[k++] = json_value(a, it);
      }
      return v_list(items, k);
    }
    default: return v_null();
  }
}

static int next_json(feed *f, value *fields, arena *a, char *err, size_t errsize) {
  if (!f->js) return FEED_END; /* a OneRoster file the manifest marks absent */
  json_decref(f->cur); /* the values of the previous record borrowed from it */
  f->cur = jstream_next(f->js, err, errsize);
  if (!f->cur) return err[0] ? FEED_BAD_ROW : FEED_END;
  f->index++;
  snprintf(f->where, sizeof f->where, "%s: record %zu", f->path, f->index);
  for (uint32_t k = 0; k < f->u->nfields; k++) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", plan_str(f->p, f->u->fields[k]));
    json_t *cur = f->cur;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && cur; part = strtok_r(NULL, ".", &save))
      cur = json_object_get(cur, part); /* strtok_r: feeds are read on several threads at once */
    fields[k] = cur ? json_value(a, cur) : v_null();
  }
  return FEED_RECORD;
}

/* ---- replay of OneRoster REST responses ------------------------------------------ */

static double mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The response bodies of one resource: DIR/RESOURCE.json, or the pages
 * DIR/RESOURCE/NNNN.json in name order. */
static int replay_pages(feed *f, const char *dir, const char *resource) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.json", dir, resource);
  FILE *one = fopen(path, "rb");
  if (one) {
    fclose(one);
    f->pages = realloc(f->pages, (f->npages + 1) * sizeof *f->pages);
    f->pages[f->npages++] = strdup(path);
    return 1;
  }
  snprintf(path, sizeof path, "%s/%s", dir, resource);
  DIR *d = opendir(path);
  if (!d) return 0;
  size_t first = f->npages;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
    f->pages = realloc(f->pages, (f->npages + 1) * sizeof *f->pages);
    char full[1500];
    snprintf(full, sizeof full, "%s/%s", path, de->d_name);
    f->pages[f->npages++] = strdup(full);
  }
  closedir(d);
  qsort(f->pages + first, f->npages - first, sizeof *f->pages, cmp_str);
  return 1;
}

/* A recorded page, parsed: read whole, then parsed from memory.
 * (json_load_file reads a byte at a time through getc, a locked call per
 * byte: a fifth of decoding a district's pages.)  On failure je says why,
 * with the line and column as json_load_file would give them. */
static json_t *load_page(const char *path, json_error_t *je) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    memset(je, 0, sizeof *je);
    snprintf(je->text, sizeof je->text, "unable to open %.100s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t n = 0, cap = 0, got;
  do {
    if (n == cap) {
      char *more = realloc(buf, (cap = cap ? cap * 2 : 1 << 16));
      if (!more) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = more;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  int bad = ferror(f) || !buf;
  fclose(f);
  json_t *doc = NULL;
  if (bad) {
    memset(je, 0, sizeof *je);
    snprintf(je->text, sizeof je->text, "cannot read %.100s", path);
  } else {
    doc = json_loadb(buf, n, 0, je);
  }
  free(buf);
  return doc;
}

static void add_value_lists(json_t *into, json_t *page);
static void keep_coded(json_t *lists, int entity);

static int replay_load_page(feed *f, char *err, size_t errsize) {
  json_decref(f->doc);
  f->doc = NULL;
  f->array = NULL;
  f->index = 0;
  json_error_t je;
  f->doc = load_page(f->pages[f->page], &je);
  if (!f->doc) {
    snprintf(err, errsize, "%s:%d:%d: %s", f->pages[f->page], je.line, je.column, je.text);
    return 0;
  }
  if (f->ps_singular) { /* {"students": {"student": [...] | {...} | absent}} */
    json_t *items = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(f->doc, key, v) if (json_is_object(v)) items = json_object_get(v, f->ps_singular);
    json_t *arr = json_is_array(items) ? json_incref(items) : json_is_object(items) ? json_pack("[O]", items) : json_array();
    json_object_set_new(f->doc, " items", arr); /* owned by the page */
    f->array = arr;
    return 1;
  }
  if (f->vlists && json_object_get(f->doc, "value_lists")) { /* veracross */
    add_value_lists(f->vlists, f->doc);
    keep_coded(f->vlists, f->u->entity);
  }
  f->array = json_object_get(f->doc, f->plural);
  if (!f->array) f->array = json_array_size(f->doc) ? f->doc : NULL; /* a bare array */
  if (!json_is_array(f->array)) {
    snprintf(err, errsize, "%s: the page has no \"%s\" array", f->pages[f->page], f->plural);
    return 0;
  }
  return 1;
}

/* The OneRoster role a user plays: `role` (1.1), else the primary entry of
 * `roles` (1.2), else the first. */
static const char *user_role(json_t *u) {
  const char *r = json_string_value(json_object_get(u, "role"));
  if (r) return r;
  json_t *roles = json_object_get(u, "roles");
  size_t i;
  json_t *x;
  json_array_foreach(roles, i, x) {
    const char *type = json_string_value(json_object_get(x, "roleType"));
    if (type && !strcmp(type, "primary")) return json_string_value(json_object_get(x, "role"));
  }
  return json_string_value(json_object_get(json_array_get(roles, 0), "role"));
}

/* A OneRoster 1.2 user has no top-level role and no orgs: the contract
 * (stdlib/oneroster.sync) gives them `role` from its primary roles entry and
 * `orgs` as the primaryOrg followed by the other roles' orgs, so that one map
 * reads both versions. */
static void user_12_as_11(json_t *u) {
  const char *role = user_role(u);
  if (role) json_object_set_new(u, "role", json_string(role));
  if (json_object_get(u, "orgs")) return;
  json_t *orgs = json_array(), *seen = json_object(), *roles = json_object_get(u, "roles");
  size_t n = json_array_size(roles);
  for (size_t i = 0; i <= n; i++) {
    json_t *org = i == 0 ? json_object_get(u, "primaryOrg") : json_object_get(json_array_get(roles, i - 1), "org");
    const char *id = json_string_value(json_object_get(org, "sourcedId"));
    if (!id || json_object_get(seen, id)) continue;
    json_object_set_new(seen, id, json_true());
    json_array_append(orgs, org);
  }
  json_decref(seen);
  json_object_set_new(u, "orgs", orgs);
}

static int replay_wanted(const feed *f, json_t *rec) {
  if (f->u->entity == ENT_school) {
    const char *t = json_string_value(json_object_get(rec, "type"));
    return !t || !strcmp(t, "school");
  }
  if (!f->roles) return 1;
  const char *role = user_role(rec);
  for (int i = 0; role && f->roles[i]; i++)
    if (!strcasecmp(role, f->roles[i])) return 1;
  return 0;
}

static void replay_demographics(feed *f, const char *dir) {
  int any = 0;
  for (uint32_t k = 0; k < f->u->nfields; k++) any |= strncmp(plan_str(f->p, f->u->fields[k]), "demographics.", 13) == 0;
  if (!any) return;
  feed tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.plural = "demographics";
  f->demo = json_object();
  if (!replay_pages(&tmp, dir, "demographics")) return;
  char err[300];
  for (tmp.page = 0; tmp.page < tmp.npages; tmp.page++) {
    if (!replay_load_page(&tmp, err, sizeof err)) continue;
    size_t i;
    json_t *d;
    json_array_foreach(tmp.array, i, d) {
      const char *id = json_string_value(json_object_get(d, "sourcedId"));
      if (id) json_object_set(f->demo, id, d);
    }
  }
  json_decref(tmp.doc);
  for (size_t i = 0; i < tmp.npages; i++) free(tmp.pages[i]);
  free(tmp.pages);
}

static int open_replay(feed *f, const char *dir, char *err, size_t errsize) {
  static const char *const resources[ENT__COUNT] = {
      [ENT_school] = "orgs", [ENT_student] = "users", [ENT_teacher] = "users", [ENT_contact] = "users",
      [ENT_admin] = "users", [ENT_course] = "courses", [ENT_class] = "classes", [ENT_calendar] = "academicSessions",
      [ENT_enrollment] = "enrollments"};
  const char *res = resources[f->u->entity];
  f->plural = res;
  f->roles = roles_of(f->u->entity);
  if (!replay_pages(f, dir, res)) {
    snprintf(err, errsize, "%s: no recorded %s (neither %s.json nor a %s/ directory of pages)", dir, res, res, res);
    return 0;
  }
  replay_demographics(f, dir);
  return 1;
}

/* ---- Veracross replay: value lists and the contact join ------------------------ */

static char *id_text(json_t *v, char *buf, size_t n) {
  if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
  else if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
  else buf[0] = 0;
  return buf;
}

/* Merges a page's value_lists into `into`: field -> {id -> description}. */
static void add_value_lists(json_t *into, json_t *page) {
  size_t i, j;
  json_t *vl, *field, *item;
  json_array_foreach(json_object_get(page, "value_lists"), i, vl) {
    json_t *fields = json_object_get(vl, "fields");
    json_t *one = json_string_value(fields) ? json_pack("[O]", fields) : json_incref(fields);
    json_array_foreach(one, j, field) {
      const char *name = json_string_value(field);
      if (!name) continue;
      char base[256];
      snprintf(base, sizeof base, "%s", name);
      char *dot = strchr(base, '.');
      if (dot && !strcmp(dot, ".id")) *dot = 0;
      json_t *map = json_object_get(into, base);
      if (!map) json_object_set_new(into, base, map = json_object());
      size_t k;
      json_array_foreach(json_object_get(vl, "items"), k, item) {
        char id[64];
        id_text(json_object_get(item, "id"), id, sizeof id);
        json_t *d = json_object_get(item, "description");
        if (id[0] && json_is_string(d)) json_object_set(map, id, d);
      }
    }
    json_decref(one);
  }
}

/* FIELD = 20 becomes FIELD = {id: 20, description: "..."}; an object with an
 * id gets its description filled when the API left it out. */
static void decode_value_lists(json_t *lists, json_t *rec) {
  const char *field;
  json_t *map;
  json_object_foreach(lists, field, map) {
    json_t *v = json_object_get(rec, field);
    if (!v || json_is_null(v)) continue;
    char id[64];
    if (json_is_object(v)) {
      if (!json_object_get(v, "description"))
        json_object_set(v, "description", json_object_get(map, id_text(json_object_get(v, "id"), id, sizeof id)));
      continue;
    }
    json_t *d = json_object_get(map, id_text(v, id, sizeof id));
    json_object_set_new(rec, field, json_pack("{s:O, s:O}", "id", v, "description", d ? d : json_null()));
  }
}

/* Every record of every page of a resource, with value lists applied. */
/* Every record of every page of a resource, a page at a time, with the
 * value lists gathered so far (page 1 carries them) applied when `decode`. */
static void load_all(const char *dir, const char *resource, int decode, void (*each)(feed *, json_t *, json_t *), feed *f) {
  feed tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.plural = "data";
  if (!replay_pages(&tmp, dir, resource)) return;
  json_t *lists = json_object();
  for (size_t p = 0; p < tmp.npages; p++) {
    json_error_t je;
    json_t *doc = load_page(tmp.pages[p], &je);
    if (decode && doc) add_value_lists(lists, doc);
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(doc, "data"), i, rec) {
      if (decode) decode_value_lists(lists, rec);
      each(f, rec, lists);
    }
    json_decref(doc);
  }
  json_decref(lists);
  for (size_t i = 0; i < tmp.npages; i++) free(tmp.pages[i]);
  free(tmp.pages);
}

/* Copies the named fields of `rec` (those it has): the joins keep only what
 * the contract hands over, not whole pages. */
static json_t *pick(json_t *rec, const char *const *names) {
  json_t *out = json_object();
  for (int i = 0; names[i]; i++) {
    json_t *v = json_object_get(rec, names[i]);
    if (v) json_object_set(out, names[i], v);
  }
  return out;
}

static void note_student(feed *f, json_t *rec, json_t *lists) {
  (void)lists;
  char id[64];
  json_object_set_new(f->students, id_text(json_object_get(rec, "id"), id, sizeof id), json_true());
}

/* The contact join holds the rows it needs as compact JSON text (an array
 * per person), not as jansson objects: a relationship row as an object took
 * about 800 bytes, as text about 150, at 300,000 rows for 100,000 students.
 * Returns "[rows..., row]" (malloc'd) from the array text `rows` (or NULL). */
static char *append_row(const char *rows, const char *row) {
  size_t n = rows ? strlen(rows) : 0, m = strlen(row);
  char *out = malloc(n + m + 3);
  if (n >= 2) {
    memcpy(out, rows, n - 1); /* without its "]" */
    out[n - 1] = ',';
    memcpy(out + n, row, m + 1);
    memcpy(out + n + m, "]", 2);
  } else {
    out[0] = '[';
    memcpy(out + 1, row, m);
    memcpy(out + 1 + m, "]", 2);
  }
  return out;
}

static void note_relationship(feed *f, json_t *rec, json_t *lists) {
  static const char *const ends[] = {"person_id", "related_person_id"};
  static const char *const keep[] = {"person_id", "related_person_id", "relationship", "legal_custody", "emergency",
                                     "pick_up", "parent_portal_access", NULL};
  (void)lists;
  json_t *row = pick(rec, keep);
  char *text = json_dumps(row, JSON_COMPACT);
  json_decref(row);
  if (!text) return;
  for (int k = 0; k < 2; k++) {
    char id[64];
    id_text(json_object_get(rec, ends[k]), id, sizeof id);
    if (!id[0]) continue;
    char *rows = append_row(json_string_value(json_object_get(f->rels, id)), text);
    json_object_set_new(f->rels, id, json_string(rows));
    free(rows);
  }
  free(text);
}

static void note_household(feed *f, json_t *rec, json_t *lists) {
  static const char *const keep[] = {"id", "name", "phone", "address_line_1", "address_line_2", "address_line_3", "city",
                                     "state_or_province", "zip", "country", NULL};
  (void)lists;
  char id[64];
  json_t *h = pick(rec, keep);
  char *text = json_dumps(h, JSON_COMPACT); /* text, as the relationship rows */
  json_decref(h);
  if (text) json_object_set_new(f->households, id_text(json_object_get(rec, "id"), id, sizeof id), json_string(text));
  free(text);
}

/* The fields a Veracross contact gets from /relationships and /households. */
static void join_contact(feed *f, json_t *rec) {
  char pid[64];
  id_text(json_object_get(rec, "id"), pid, sizeof pid);
  json_t *ids = json_array(), *rel = NULL;
  int flags[4] = {0};
  static const char *const names[] = {"legal_custody", "emergency", "pick_up", "parent_portal_access"};
  size_t i;
  json_t *row;
  const char *rows_text = json_string_value(json_object_get(f->rels, pid));
  json_t *rows = rows_text ? json_loads(rows_text, 0, NULL) : NULL;
  json_array_foreach(rows, i, row) {
    char a[64], b[64];
    id_text(json_object_get(row, "person_id"), a, sizeof a);
    id_text(json_object_get(row, "related_person_id"), b, sizeof b);
    const char *other = strcmp(a, pid) == 0 ? b : a;
    if (!json_object_get(f->students, other)) continue;
    int dup = 0;
    size_t k;
    json_t *x;
    json_array_foreach(ids, k, x) dup |= !strcmp(json_string_value(x), other);
    if (!dup) json_array_append_new(ids, json_string(other));
    if (!rel) rel = json_object_get(row, "relationship");
    for (int n = 0; n < 4; n++) flags[n] |= json_is_true(json_object_get(row, names[n]));
  }
  json_object_set_new(rec, "student_ids", ids);
  if (rel) json_object_set(rec, "relationship", rel);
  json_decref(rows);
  for (int n = 0; n < 4; n++) json_object_set_new(rec, names[n], json_boolean(flags[n]));
  char hid[64];
  const char *h = json_string_value(json_object_get(f->households, id_text(json_object_get(rec, "household_id"), hid, sizeof hid)));
  json_t *hj = h ? json_loads(h, 0, NULL) : NULL;
  if (hj) json_object_set_new(rec, "household", hj);
}

/* Only the fields stdlib/veracross.sync's contract names as coded are
 * decoded: a school may send lists for more (a class's campus_id), and
 * turning those into objects would break the maps that read them as ids. */
static void keep_coded(json_t *lists, int entity) {
  static const char *const coded[ENT__COUNT] = {
      [ENT_student] = " gender grade_level school_level homeroom campus enrollment_status student_group ",
      [ENT_teacher] = " gender faculty_type department campus ", [ENT_admin] = " gender faculty_type department campus ",
      [ENT_contact] = " gender ", [ENT_course] = " course_type ", [ENT_school] = " campus "};
  const char *keep = coded[entity] ? coded[entity] : " ";
  const char *field;
  json_t *map;
  void *tmp;
  json_object_foreach_safe(lists, tmp, field, map) {
    char word[300];
    snprintf(word, sizeof word, " %s ", field);
    if (!strstr(keep, word)) json_object_del(lists, field);
  }
}

static int open_veracross_replay(feed *f, const char *dir, char *err, size_t errsize) {
  static const char *const resources[ENT__COUNT] = {
      [ENT_school] = "students", [ENT_student] = "students", [ENT_teacher] = "staff_faculty", [ENT_contact] = "parents",
      [ENT_admin] = "staff_faculty", [ENT_course] = "academics/courses", [ENT_class] = "academics/classes",
      [ENT_calendar] = "academics/config/grading_periods", [ENT_enrollment] = "academics/enrollments"};
  const char *res = resources[f->u->entity];
  f->plural = "data";
  f->vlists = json_object();
  if (!replay_pages(f, dir, res)) {
    snprintf(err, errsize, "%s: no recorded %s (neither %s.json nor a %s/ directory of pages)", dir, res, res, res);
    return 0;
  }
  /* The value lists are gathered as the pages stream (replay_load_page):
     page 1 carries them (the connector asks for them there), and a page
     decodes with the lists of the pages up to it. */
  if (f->u->entity == ENT_school) {
    /* Schools are the items of the campus value list (no endpoint). */
    json_t *items = json_array();
    for (size_t p = 0; p < f->npages; p++) {
      json_error_t je;
      json_t *doc = load_page(f->pages[p], &je);
      size_t i, j;
      json_t *vl, *fld;
      json_array_foreach(json_object_get(doc, "value_lists"), i, vl) {
        int campus = 0;
        json_t *fields = json_object_get(vl, "fields");
        if (json_is_string(fields)) campus = !strcmp(json_string_value(fields), "campus") || !strcmp(json_string_value(fields), "campus.id");
        json_array_foreach(fields, j, fld) campus |= json_is_string(fld) && (!strcmp(json_string_value(fld), "campus") ||
                                                                             !strcmp(json_string_value(fld), "campus.id"));
        if (campus && json_array_size(items) == 0) json_array_extend(items, json_object_get(vl, "items"));
      }
      json_decref(doc);
      if (json_array_size(items)) break; /* found: no need to read the rest */
    }
    for (size_t i = 0; i < f->npages; i++) free(f->pages[i]);
    f->npages = 0;
    f->doc = items;
    f->array = items;
  }
  if (f->u->entity == ENT_contact) {
    f->students = json_object();
    f->rels = json_object();
    f->households = json_object();
    load_all(dir, "students", 0, note_student, f);
    load_all(dir, "relationships", 1, note_relationship, f);
    load_all(dir, "households", 0, note_household, f);
  }
  return 1;
}

/* ---- PowerSchool replay --------------------------------------------------------- */

/* The records of every recorded page of RESOURCE: the items under the
 * singular key, which holds an object instead of an array when a page has
 * one record, and is missing, null or "" when a page has none. */
static json_t *ps_items(const char *dir, const char *resource, const char *singular) {
  feed tmp;
  memset(&tmp, 0, sizeof tmp);
  json_t *out = json_array();
  if (!replay_pages(&tmp, dir, resource)) return out;
  for (size_t p = 0; p < tmp.npages; p++) {
    json_error_t je;
    json_t *doc = load_page(tmp.pages[p], &je);
    json_t *wrap = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) if (json_is_object(v)) wrap = v; /* {"students": {...}} */
    json_t *items = wrap ? json_object_get(wrap, singular) : NULL;
    if (!items && json_object_get(doc, "record")) items = json_object_get(doc, "record"); /* a PowerQuery */
    if (json_is_object(items)) json_array_append(out, items);
    else if (json_is_array(items)) json_array_extend(out, items);
    json_decref(doc);
  }
  for (size_t i = 0; i < tmp.npages; i++) free(tmp.pages[i]);
  free(tmp.pages);
  return out;
}

static json_t *first_of(json_t *rec, const char *const *names) {
  for (int i = 0; names[i]; i++) {
    json_t *v = json_object_get(rec, names[i]);
    if (v && !json_is_null(v)) return v;
  }
  return NULL;
}

/* A per-school list (staff, course, section, term) for every school, each
 * record with the school_number it was listed under. */
static json_t *ps_per_school(const char *dir, json_t *schools, const char *what, const char *singular) {
  json_t *out = json_array();
  size_t i, j;
  json_t *s, *rec;
  json_array_foreach(schools, i, s) {
    char id[64], res[256];
    snprintf(res, sizeof res, "school/%s/%s", id_text(json_object_get(s, "id"), id, sizeof id), what);
    json_t *items = ps_items(dir, res, singular);
    json_array_foreach(items, j, rec) {
      json_object_set(rec, "school_number", json_object_get(s, "school_number"));
      json_array_append(out, rec);
    }
    json_decref(items);
  }
  return out;
}

static json_t *ps_guardians(const char *dir) {
  static const char *const gid[] = {"guardian_id", "guardianid", "contactid", "person_id", NULL};
  static const char *const sid[] = {"student_id", "studentsdcid", "students_dcid", "student_dcid", NULL};
  static const char *const first[] = {"first_name", "firstname", NULL};
  static const char *const last[] = {"last_name", "lastname", NULL};
  static const char *const mail[] = {"email", "emailaddress", "email_address", NULL};
  static const char *const rel[] = {"relationship", "relationship_type", "relationshiptype", NULL};
  json_t *rows = ps_items(dir, "schema/query/com.pearson.core.guardian.student_guardian_detail", "record");
  json_t *by_id = json_object(), *order = json_array();
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    char id[64], st[64];
    json_t *g = first_of(row, gid);
    if (!g || !id_text(g, id, sizeof id)[0]) continue;
    json_t *rec = json_object_get(by_id, id);
    if (!rec) {
      rec = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:[]}", "guardian_id", id, "first_name", first_of(row, first),
                      "last_name", first_of(row, last), "email", first_of(row, mail), "relationship", first_of(row, rel),
                      "student_ids");
      json_object_set_new(by_id, id, rec);
      json_array_append(order, rec);
    }
    json_t *s = first_of(row, sid);
    if (!s || !id_text(s, st, sizeof st)[0]) continue;
    json_t *ids = json_object_get(rec, "student_ids");
    int dup = 0;
    size_t k;
    json_t *x;
    json_array_foreach(ids, k, x) dup |= !strcmp(json_string_value(x), st);
    if (!dup) json_array_append_new(ids, json_string(st));
  }
  json_decref(rows);
  json_decref(by_id);
  return order;
}

/* Adds the pages of RESOURCE, each to give its records `school` (a
 * school_number, or NULL). */
static void ps_add_pages(feed *f, const char *dir, const char *resource, json_t *school) {
  size_t before = f->npages;
  replay_pages(f, dir, resource);
  for (size_t i = before; i < f->npages; i++) json_array_append(f->page_school, school ? school : json_null());
}

static void ps_add_per_school(feed *f, const char *dir, json_t *schools, const char *what) {
  size_t i;
  json_t *s;
  json_array_foreach(schools, i, s) {
    char id[64], res[256];
    snprintf(res, sizeof res, "school/%s/%s", id_text(json_object_get(s, "id"), id, sizeof id), what);
    ps_add_pages(f, dir, res, json_object_get(s, "school_number"));
  }
}

/* Courses by "school_number/id", for the classes' course{...}. */
static json_t *ps_courses(const char *dir, json_t *schools) {
  json_t *all = ps_per_school(dir, schools, "course", "course"), *by = json_object();
  size_t i;
  json_t *c;
  json_array_foreach(all, i, c) {
    char sn[64], id[64], key[140];
    snprintf(key, sizeof key, "%s/%s", id_text(json_object_get(c, "school_number"), sn, sizeof sn),
             id_text(json_object_get(c, "id"), id, sizeof id));
    json_object_set_new(by, key, json_pack("{s:O?, s:O?}", "course_number", json_object_get(c, "course_number"),
                                           "course_name", json_object_get(c, "course_name")));
  }
  json_decref(all);
  return by;
}

/* The pages each entity reads, streamed a page at a time (only schools,
 * courses, section ids and guardian rows are held whole: the guardian rows
 * must be grouped). */
static int open_powerschool_replay(feed *f, const char *dir, char *err, size_t errsize) {
  json_t *schools = ps_items(dir, "district/school", "school");
  f->page_school = json_array();
  f->plural = "record";
  switch (f->u->entity) {
    case ENT_school: f->doc = json_incref(schools), f->array = schools; break;
    case ENT_contact: f->doc = ps_guardians(dir), f->array = f->doc; break;
    case ENT_student: f->ps_singular = "student", ps_add_pages(f, dir, "district/student", NULL); break;
    case ENT_teacher:
    case ENT_admin:
      f->ps_singular = "staff", f->seen = json_object(), ps_add_per_school(f, dir, schools, "staff");
      break;
    case ENT_course: f->ps_singular = "course", ps_add_per_school(f, dir, schools, "course"); break;
    case ENT_calendar: f->ps_singular = "term", ps_add_per_school(f, dir, schools, "term"); break;
    case ENT_class:
      f->ps_singular = "section", f->courses = ps_courses(dir, schools), ps_add_per_school(f, dir, schools, "section");
      break;
    case ENT_enrollment: {
      json_t *sections = ps_per_school(dir, schools, "section", "section");
      size_t i;
      json_t *rec;
      f->ps_singular = "section_enrollment";
      json_array_foreach(sections, i, rec) {
        char id[64], res[256];
        snprintf(res, sizeof res, "section/%s/section_enrollment", id_text(json_object_get(rec, "id"), id, sizeof id));
        ps_add_pages(f, dir, res, NULL);
      }
      json_decref(sections);
      break;
    }
    default:
      json_decref(schools);
      snprintf(err, errsize, "%s: nothing recorded for %s", dir, schema_entity_get(f->u->entity)->name);
      return 0;
  }
  json_decref(schools);
  return 1;
}

/* A PowerSchool record as the contract hands it over: the school it was
 * listed under, a staff member once, a section with its course.  0 skips it. */
static int ps_record(feed *f, json_t *rec) {
  json_t *school = f->page ? json_array_get(f->page_school, f->page - 1) : NULL;
  if (school && !json_is_null(school)) json_object_set(rec, "school_number", school);
  if (f->seen) { /* a person listed by several schools: the first school */
    char id[64];
    if (json_object_get(f->seen, id_text(json_object_get(rec, "id"), id, sizeof id))) return 0;
    json_object_set_new(f->seen, id, json_true());
  }
  if (f->courses) {
    char sn[64], id[64], key[140];
    snprintf(key, sizeof key, "%s/%s", id_text(school, sn, sizeof sn), id_text(json_object_get(rec, "course_id"), id, sizeof id));
    json_t *c = json_object_get(f->courses, key);
    if (c) json_object_set(rec, "course", c);
  }
  return 1;
}

/* ---- xPress replay: decoded by connectors/xpress_replay.c ------------------------ */

static int open_xpress_replay(feed *f, const char *dir, char *err, size_t errsize) {
  json_t *recs = xpress_records(dir, f->u->entity, err, errsize);
  if (!recs) return 0;
  f->doc = recs;
  f->array = recs;
  f->plural = "record";
  return 1;
}

static void fill_fields(feed *f, json_t *rec, value *fields, arena *a) {
  for (uint32_t k = 0; k < f->u->nfields; k++) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", plan_str(f->p, f->u->fields[k]));
    json_t *cur = rec;
    if (f->demo && strncmp(buf, "demographics.", 13) == 0) {
      const char *id = json_string_value(json_object_get(rec, "sourcedId"));
      cur = id ? json_object_get(f->demo, id) : NULL;
      memmove(buf, buf + 13, strlen(buf + 13) + 1);
    }
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && cur; part = strtok_r(NULL, ".", &save))
      cur = json_object_get(cur, part); /* strtok_r: feeds are read on several threads at once */
    fields[k] = cur ? json_value(a, cur) : v_null();
  }
}

static int next_replay(feed *f, value *fields, arena *a, char *err, size_t errsize) {
  for (;;) {
    if (!f->array || f->index >= json_array_size(f->array)) {
      if (f->page >= f->npages) return FEED_END;
      if (!replay_load_page(f, err, errsize)) return FEED_ERROR;
      f->page++;
      continue;
    }
    json_t *rec = json_array_get(f->array, f->index++);
    snprintf(f->where, sizeof f->where, "%s: record %zu", f->page ? f->pages[f->page - 1] : "recorded responses", f->index);
    if (!json_is_object(rec)) continue;
    if (f->vlists) { /* veracross */
      decode_value_lists(f->vlists, rec);
      if (f->students) join_contact(f, rec);
    } else if (f->page_school) { /* powerschool */
      if (!ps_record(f, rec)) continue;
    } else if (!replay_wanted(f, rec)) {
      continue;
    } else if (f->roles && !json_object_get(rec, "role") && json_object_get(rec, "roles")) {
      user_12_as_11(rec);
    }
    fill_fields(f, rec, fields, a);
    return FEED_RECORD;
  }
}

/* ---- dispatch ------------------------------------------------------------------ */

/* Every setting read from the environment or a file must be there before a
 * source is read: the message names the setting and where it is read from,
 * never a value. */
int feed_check_settings(const plan *p, uint32_t source, char *err, size_t errsize) {
  const plan_source *s = &p->sources[source];
  for (uint32_t i = 0; i < s->nsettings; i++) {
    const plan_setting *st = &s->settings[i];
    if (st->secret == SECRET_NONE) continue;
    char buf[4096];
    const char *why;
    if (!feed_setting(p, source, plan_str(p, st->key), buf, sizeof buf, &why)) {
      snprintf(err, errsize, "source %s: setting %s is read from %s %s, but %s", plan_str(p, s->name), plan_str(p, st->key),
               st->secret == SECRET_ENV ? "the environment variable" : "the file", plan_str(p, st->value), why ? why : "it is empty");
      return 0;
    }
  }
  return 1;
}

feed *feed_open(const plan *p, uint32_t unit, char *err, size_t errsize) {
  const plan_unit *u = &p->units[unit];
  const plan_source *s = &p->sources[u->source];
  if (!replay_dir(u->source) && !feed_check_settings(p, u->source, err, errsize)) return NULL;
  feed *f = calloc(1, sizeof *f);
  f->p = p;
  f->u = u;
  f->opened = mono_now();
  char buf[1024];
  const char *why;
  int ok = 0;
  const char *replay = replay_dir(u->source);
  if (replay) {
    if (s->kind != KIND_oneroster && s->kind != KIND_synergy && s->kind != KIND_veracross && s->kind != KIND_powerschool &&
        s->kind != KIND_xpress) {
      snprintf(err, errsize, "source %s: replaying recorded %s responses is not supported yet", plan_str(p, s->name),
               kind_table[s->kind].name);
      feed_close(f);
      return NULL;
    }
    f->kind = FK_REPLAY;
    int opened = s->kind == KIND_veracross     ? open_veracross_replay(f, replay, err, errsize)
                 : s->kind == KIND_powerschool ? open_powerschool_replay(f, replay, err, errsize)
                 : s->kind == KIND_xpress      ? open_xpress_replay(f, replay, err, errsize)
                                               : open_replay(f, replay, err, errsize);
    if (!opened) {
      feed_close(f);
      return NULL;
    }
    return f;
  }
  switch (s->kind) {
    case KIND_csv:
    case KIND_json: {
      const plan_file *pf = NULL;
      for (uint32_t i = 0; i < s->nfiles; i++)
        if (s->files[i].entity == u->entity) pf = &s->files[i];
      if (!pf) {
        snprintf(err, errsize, "source %s has no file for %s", plan_str(p, s->name), schema_entity_get(u->entity)->name);
        break;
      }
      snprintf(f->path, sizeof f->path, "%s", plan_str(p, pf->path));
      if (s->kind == KIND_csv) {
        f->kind = FK_CSV;
        const char *d = feed_setting(p, u->source, "delimiter", buf, sizeof buf, &why);
        ok = open_csv(f, d && *d ? (d[0] == '\\' && d[1] == 't' ? '\t' : d[0]) : ',', 1, err, errsize);
      } else {
        f->kind = FK_JSON;
        ok = open_json(f, pf->at == PLAN_NONE ? NULL : plan_str(p, pf->at), err, errsize);
      }
      break;
    }
    case KIND_oneroster_csv: {
      f->kind = FK_ONEROSTER;
      const char *dir = feed_setting(p, u->source, "dir", buf, sizeof buf, &why);
      char dcopy[1024];
      snprintf(dcopy, sizeof dcopy, "%s", dir ? dir : ".");
      ok = open_oneroster(f, dcopy, err, errsize);
      if (ok < 0) { /* the manifest says absent: no records */
        f->kind = FK_JSON;
        f->doc = json_array();
        f->array = f->doc;
        ok = 1;
      }
      break;
    }
    default:
      snprintf(err, errsize, "source %s: a %s source is read over the network before the run (syncvm fetches it) or from --replay",
               plan_str(p, s->name), kind_table[s->kind].name);
      break;
  }
  if (!ok) {
    feed_close(f);
    return NULL;
  }
  return f;
}

/* ---- progress on a terminal ------------------------------------------------------ */

static FILE *progress_out;
static double progress_t0;

void feed_progress(FILE *out) {
  progress_out = out;
  progress_t0 = mono_now();
}

/* Every 4096 records, once the run is a second old: one line, rewritten. */
static void progress_tick(feed *f) {
  if (!progress_out || (++f->nread & 4095) != 0) return;
  double t = mono_now() - progress_t0;
  if (t < 1) return;
  double ft = mono_now() - f->opened;
  fprintf(progress_out, "\r\033[K%s %s: %ld records read, %.0f records/s, %.1f s", plan_str(f->p, f->p->sources[f->u->source].name),
          schema_entity_get(f->u->entity)->name, f->nread, ft > 0 ? (double)f->nread / ft : 0.0, t);
  fflush(progress_out);
  f->shown = 1;
}

int feed_next(feed *f, value *fields, arena *a, char *err, size_t errsize) {
  f->deleted = 0;
  int rc = f->kind == FK_REPLAY ? next_replay(f, fields, a, err, errsize)
           : f->kind == FK_JSON ? next_json(f, fields, a, err, errsize)
                                : next_csv(f, fields, a, err, errsize);
  if (rc == FEED_RECORD) progress_tick(f);
  return rc;
}

const char *feed_where(const feed *f) { return f->where; }
int feed_deleted(const feed *f) { return f->deleted; }
int feed_is_delta(const feed *f) { return f->delta; }

void feed_close(feed *f) {
  if (!f) return;
  if (f->shown && progress_out) fputs("\r\033[K", progress_out), fflush(progress_out);
  csv_close(f->csv);
  free(f->col);
  free(f->col_list);
  free(f->demo_field);
  free(f->demo_text);
  free(f->demo_cell);
  free(f->demo_index);
  jstream_close(f->js);
  json_decref(f->cur);
  json_decref(f->doc);
  json_decref(f->demo);
  json_decref(f->vlists);
  json_decref(f->students);
  json_decref(f->rels);
  json_decref(f->households);
  json_decref(f->page_school);
  json_decref(f->seen);
  json_decref(f->courses);
  for (size_t i = 0; i < f->npages; i++) free(f->pages[i]);
  free(f->pages);
  free(f);
}
