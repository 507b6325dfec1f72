/* xpress_replay.c: decodes recorded xPress Roster responses into the records
 * stdlib/xpress.sync's maps read (see xpress_replay.h for the layout).
 *
 * xPress has no endpoint per hub entity, so some records are derived:
 * teachers and administrators are the xStaffs split by job function,
 * contacts carry the students that point at them, calendars are the
 * xCalendars and the sessions inside them, classes carry flat term, period,
 * room and teacher fields, and enrollments are the students and staff listed
 * by each xRoster.
 */
#include "xpress_replay.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"

/* ---- small JSON helpers ------------------------------------------------------ */

/* The value at a dotted path, or NULL. */
static json_t *at(json_t *v, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v; part = strtok_r(NULL, ".", &save))
    v = json_object_get(v, part);
  return v;
}

/* A string or integer as text (refIds are strings, some ids numbers); NULL
 * for anything else and for "". */
static const char *text(json_t *v, char *buf, size_t n) {
  if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
  else if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
  else return NULL;
  return buf[0] ? buf : NULL;
}

/* xPress lists hold one object instead of an array when they have one item
 * (and are absent when empty): always an array, a new reference. */
static json_t *as_list(json_t *v) {
  if (json_is_array(v)) return json_incref(v);
  json_t *out = json_array();
  if (v && !json_is_null(v)) json_array_append(out, v);
  return out;
}

static void add_unique(json_t *list, const char *s) {
  if (!s) return;
  size_t i;
  json_t *x;
  json_array_foreach(list, i, x) if (!strcmp(json_string_value(x), s)) return;
  json_array_append_new(list, json_string(s));
}

static void set_text(json_t *rec, const char *key, const char *s) {
  if (s) json_object_set_new(rec, key, json_string(s));
}

/* ---- pages and envelopes ----------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_files(char **files, size_t n) {
  for (size_t i = 0; files && i < n; i++) free(files[i]);
  free(files);
}

/* The response bodies of RESOURCE: DIR/RESOURCE.json, or the pages
 * DIR/RESOURCE/NNNN.json in name order.  NULL when neither is there. */
static char **page_files(const char *dir, const char *resource, size_t *n) {
  char path[1200];
  struct stat st;
  *n = 0;
  snprintf(path, sizeof path, "%s/%s.json", dir, resource);
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
    char **one = malloc(sizeof *one);
    one[0] = strdup(path);
    *n = 1;
    return one;
  }
  snprintf(path, sizeof path, "%s/%s", dir, resource);
  DIR *d = opendir(path);
  if (!d) return NULL;
  char **files = malloc(sizeof *files);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
    files = realloc(files, (*n + 1) * sizeof *files);
    char full[1500];
    snprintf(full, sizeof full, "%s/%s", path, de->d_name);
    files[(*n)++] = strdup(full);
  }
  closedir(d);
  qsort(files, *n, sizeof *files, cmp_str);
  return files;
}

/* Top-level records carry their id as "@refId" (an XML attribute in the
 * JSON binding); the maps read it as refId. */
static void normalise(json_t *rec) {
  json_t *id = json_object_get(rec, "@refId");
  if (id && !json_object_get(rec, "refId")) json_object_set(rec, "refId", id);
}

static void append_record(json_t *rec, json_t *out) {
  if (!json_is_object(rec) || json_object_size(rec) == 0) return;
  normalise(rec);
  json_array_append(out, rec);
}

/* The value that holds the records: {"xStudents": X} gives X, and X (or the
 * body itself) that is a non-empty object gives its "xStudent".  NULL and
 * *bad when an object has neither key. */
static json_t *records_value(json_t *doc, const char *resource, const char *item, int *bad) {
  json_t *v = doc;
  *bad = 0;
  if (json_is_object(v) && json_object_get(v, resource)) v = json_object_get(v, resource);
  if (json_is_object(v) && json_object_size(v) > 0) {
    v = json_object_get(v, item);
    *bad = v == NULL;
  }
  return v;
}

int xpress_page_items(json_t *doc, const char *resource, json_t *out) {
  char item[64];
  snprintf(item, sizeof item, "%.*s", (int)strlen(resource) - 1, resource); /* xStudents -> xStudent */
  int bad;
  json_t *v = records_value(doc, resource, item, &bad);
  if (bad) return 0;
  if (json_is_array(v)) {
    size_t i;
    json_t *rec;
    json_array_foreach(v, i, rec) append_record(rec, out);
    return 1;
  }
  if (json_is_object(v)) append_record(v, out);
  else if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) return 0;
  return 1;
}

static int load_page(const char *path, const char *resource, json_t *out, char *err, size_t errsize) {
  struct stat st;
  if (stat(path, &st) == 0 && st.st_size == 0) return 1; /* an empty body: no records */
  json_error_t je;
  json_t *doc = json_load_file(path, JSON_DECODE_ANY, &je);
  if (!doc) {
    snprintf(err, errsize, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    return 0;
  }
  int ok = xpress_page_items(doc, resource, out);
  json_decref(doc);
  if (!ok) snprintf(err, errsize, "%s: the page holds no %s (neither {\"%s\": ...} nor an array of records)", path, resource, resource);
  return ok;
}

/* Every record of every recorded page of RESOURCE, appended to `out`.  A
 * resource that is not recorded is an error only when `required`. */
static int load(const char *dir, const char *resource, int required, json_t *out, char *err, size_t errsize) {
  size_t n;
  char **files = page_files(dir, resource, &n);
  if (!files) {
    if (required) snprintf(err, errsize, "%s: no recorded %s (neither %s.json nor a %s/ directory of pages)", dir, resource, resource, resource);
    return !required;
  }
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) ok = load_page(files[i], resource, out, err, errsize);
  free_files(files, n);
  return ok;
}

/* ---- staff: teachers and administrators ------------------------------------- */

/* The refIds of the staff a roster names: primaryStaff, then otherStaffs. */
static json_t *roster_staff(json_t *roster) {
  char buf[256];
  json_t *ids = json_array();
  add_unique(ids, text(at(roster, "primaryStaff.staffPersonReference.refId"), buf, sizeof buf));
  json_t *others = as_list(at(roster, "otherStaffs.otherStaff"));
  size_t i;
  json_t *o;
  json_array_foreach(others, i, o) add_unique(ids, text(at(o, "staffPersonReference.refId"), buf, sizeof buf));
  json_decref(others);
  return ids;
}

/* Whether a job function names an administrator.  Free text in xPress 3.2,
 * an enumeration ("Administrators", ...) in SIF 3.3: words, not codes;
 * "Administrative Support Staff" is not one. */
static int is_admin_function(const char *job) {
  static const char *const words[] = {"administrator", "principal", "superintendent", NULL};
  char low[256];
  size_t n = 0;
  for (; job && job[n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)job[n]);
  low[n] = 0;
  for (int i = 0; words[i]; i++)
    if (strstr(low, words[i])) return 1;
  return 0;
}

/* Staff records of one side of the split: an administrator by job function
 * who teaches no roster is an admin, every other staff member a teacher (so
 * a class's teachers always name teachers). */
static int build_staff(const char *dir, int want_admin, json_t *out, char *err, size_t errsize) {
  json_t *staff = json_array(), *rosters = json_array(), *taught = json_object();
  int ok = load(dir, "xStaffs", 1, staff, err, errsize) && load(dir, "xRosters", 0, rosters, err, errsize);
  size_t i, k;
  json_t *rec, *id;
  json_array_foreach(rosters, i, rec) {
    json_t *ids = roster_staff(rec);
    json_array_foreach(ids, k, id) json_object_set_new(taught, json_string_value(id), json_true());
    json_decref(ids);
  }
  json_array_foreach(staff, i, rec) {
    char buf[256], job[256];
    const char *ref = text(json_object_get(rec, "refId"), buf, sizeof buf);
    int admin = is_admin_function(text(at(rec, "primaryAssignment.jobFunction"), job, sizeof job)) &&
                !(ref && json_object_get(taught, ref));
    if (admin == want_admin) json_array_append(out, rec);
  }
  json_decref(staff);
  json_decref(rosters);
  json_decref(taught);
  return ok;
}

/* ---- contacts ------------------------------------------------------------------ */

/* contact refId -> [student refIds], from the students' studentContacts. */
static json_t *students_by_contact(json_t *students) {
  json_t *by = json_object();
  size_t i, k;
  json_t *s, *c;
  json_array_foreach(students, i, s) {
    char sid[256], cid[256];
    if (!text(json_object_get(s, "refId"), sid, sizeof sid)) continue;
    json_t *refs = as_list(at(s, "studentContacts.contactPersonRefId"));
    json_array_foreach(refs, k, c) {
      if (!text(c, cid, sizeof cid)) continue;
      json_t *list = json_object_get(by, cid);
      if (!list) json_object_set_new(by, cid, list = json_array());
      add_unique(list, sid);
    }
    json_decref(refs);
  }
  return by;
}

/* studentRefIds: the contact's relationships' students, then the students
 * whose studentContacts name it; relationshipCode: the first relationship's. */
static void join_contact(json_t *contact, json_t *by_contact) {
  char buf[256], code[256];
  json_t *ids = json_array(), *rels = as_list(at(contact, "relationships.relationship"));
  const char *first_code = NULL;
  size_t i;
  json_t *r;
  json_array_foreach(rels, i, r) {
    add_unique(ids, text(json_object_get(r, "studentRefId"), buf, sizeof buf));
    if (!first_code) first_code = text(json_object_get(r, "relationshipCode"), code, sizeof code);
  }
  json_array_foreach(json_object_get(by_contact, text(json_object_get(contact, "refId"), buf, sizeof buf) ? buf : ""), i, r)
    add_unique(ids, json_string_value(r));
  json_object_set_new(contact, "studentRefIds", ids);
  set_text(contact, "relationshipCode", first_code);
  json_decref(rels);
}

static int build_contacts(const char *dir, json_t *out, char *err, size_t errsize) {
  json_t *students = json_array();
  int ok = load(dir, "xContacts", 1, out, err, errsize) && load(dir, "xStudents", 0, students, err, errsize);
  json_t *by = students_by_contact(students);
  size_t i;
  json_t *c;
  json_array_foreach(out, i, c) join_contact(c, by);
  json_decref(by);
  json_decref(students);
  return ok;
}

/* ---- calendars ------------------------------------------------------------------ */

/* A session's key within its calendar: its sessionCode, else its
 * description, else its position ("3"). */
static const char *session_key(json_t *session, size_t index, char *buf, size_t n) {
  const char *k = text(json_object_get(session, "sessionCode"), buf, n);
  if (!k) k = text(json_object_get(session, "description"), buf, n);
  if (!k) snprintf(buf, n, "%zu", index + 1), k = buf;
  return k;
}

/* "CALENDAR:SESSION": the id of a session record and of a class's term. */
static json_t *session_id(const char *calendar, const char *session) {
  char id[600];
  snprintf(id, sizeof id, "%s:%s", calendar, session);
  return json_string(id);
}

static void widen(json_t *year, const char *key, json_t *date, int later) {
  const char *d = json_string_value(date), *cur = json_string_value(json_object_get(year, key));
  if (d && *d && (!cur || (later ? strcmp(d, cur) > 0 : strcmp(d, cur) < 0))) json_object_set(year, key, date);
}

/* One record for the calendar (level "year", dates spanning its sessions)
 * and one per session (level "session", parentId the calendar). */
static void calendar_records(json_t *cal, json_t *out) {
  char cid[256], key[256];
  if (!text(json_object_get(cal, "refId"), cid, sizeof cid)) return;
  json_object_set_new(cal, "id", json_string(cid));
  json_object_set_new(cal, "level", json_string("year"));
  json_array_append(out, cal);
  json_t *sessions = as_list(at(cal, "sessions.sessionList"));
  size_t i;
  json_t *s;
  json_array_foreach(sessions, i, s) {
    if (!json_is_object(s)) continue;
    json_t *rec = json_copy(s);
    json_object_set_new(rec, "id", session_id(cid, session_key(s, i, key, sizeof key)));
    json_object_set_new(rec, "level", json_string("session"));
    json_object_set_new(rec, "parentId", json_string(cid));
    json_object_set_new(rec, "calendarRefId", json_string(cid));
    json_object_set(rec, "schoolRefId", json_object_get(cal, "schoolRefId"));
    json_object_set(rec, "schoolYear", json_object_get(cal, "schoolYear"));
    json_array_append_new(out, rec);
    widen(cal, "startDate", json_object_get(s, "startDate"), 0);
    widen(cal, "endDate", json_object_get(s, "endDate"), 1);
  }
  json_decref(sessions);
}

static int build_calendars(const char *dir, json_t *out, char *err, size_t errsize) {
  json_t *cals = json_array();
  int ok = load(dir, "xCalendars", 1, cals, err, errsize);
  size_t i;
  json_t *c;
  json_array_foreach(cals, i, c) calendar_records(c, out);
  json_decref(cals);
  return ok;
}

/* ---- classes --------------------------------------------------------------------- */

/* The refId of the calendar of a roster's school (and school year, when both
 * give one): for rosters that name a sessionCode but no calendar. */
static const char *school_calendar(json_t *calendars, json_t *roster, char *buf, size_t n) {
  json_t *school = json_object_get(roster, "schoolRefId"), *year = json_object_get(roster, "schoolYear");
  size_t i;
  json_t *c;
  json_array_foreach(calendars, i, c) {
    json_t *cy = json_object_get(c, "schoolYear");
    if (!json_equal(json_object_get(c, "schoolRefId"), school)) continue;
    if (year && cy && !json_equal(year, cy)) continue;
    return text(json_object_get(c, "refId"), buf, n);
  }
  return NULL;
}

/* termId: "CALENDAR:SESSION" from the roster's sessionCode and
 * schoolCalendarRefId (roster level, deprecated, else the first meeting
 * time giving them), or the calendar alone when no session is named. */
static void roster_term(json_t *r, json_t *times, json_t *calendars) {
  char cb[256], sb[256];
  const char *cal = text(json_object_get(r, "schoolCalendarRefId"), cb, sizeof cb);
  const char *ses = text(json_object_get(r, "sessionCode"), sb, sizeof sb);
  size_t i;
  json_t *mt;
  json_array_foreach(times, i, mt) {
    if (!cal) cal = text(json_object_get(mt, "schoolCalendarRefId"), cb, sizeof cb);
    if (!ses) ses = text(json_object_get(mt, "sessionCode"), sb, sizeof sb);
  }
  if (!cal && ses) cal = school_calendar(calendars, r, cb, sizeof cb);
  if (cal) json_object_set_new(r, "termId", ses ? session_id(cal, ses) : json_string(cal));
}

/* teacherRefIds, periods (distinct timeTablePeriods), roomNumber (the
 * first meeting time's) and termId, as flat fields. */
static void flatten_roster(json_t *r, json_t *calendars) {
  char buf[256];
  json_t *times = as_list(at(r, "meetingTimes.meetingTime")), *periods = json_array();
  const char *room = NULL;
  char rb[256];
  size_t i;
  json_t *mt;
  json_array_foreach(times, i, mt) {
    add_unique(periods, text(json_object_get(mt, "timeTablePeriod"), buf, sizeof buf));
    if (!room) room = text(json_object_get(mt, "roomNumber"), rb, sizeof rb);
  }
  json_object_set_new(r, "teacherRefIds", roster_staff(r));
  json_object_set_new(r, "periods", periods);
  set_text(r, "roomNumber", room);
  roster_term(r, times, calendars);
  json_decref(times);
}

static int build_classes(const char *dir, json_t *out, char *err, size_t errsize) {
  json_t *calendars = json_array();
  int ok = load(dir, "xRosters", 1, out, err, errsize) && load(dir, "xCalendars", 0, calendars, err, errsize);
  size_t i;
  json_t *r;
  json_array_foreach(out, i, r) flatten_roster(r, calendars);
  json_decref(calendars);
  return ok;
}

/* ---- enrollments ------------------------------------------------------------------ */

static void add_enrollment(json_t *roster, json_t *person, const char *role, int primary, json_t *seen, json_t *out) {
  char rid[256], uid[256], id[600];
  if (!text(json_object_get(roster, "refId"), rid, sizeof rid) || !text(json_object_get(person, "refId"), uid, sizeof uid)) return;
  snprintf(id, sizeof id, "%s:%s", rid, uid);
  if (json_object_get(seen, id)) return; /* listed twice: one enrollment */
  json_object_set_new(seen, id, json_true());
  json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:O?, s:O?, s:O?, s:O?, s:O?}", "id", id,
                                       "rosterRefId", rid, "userRefId", uid, "role", role, "primary", primary,
                                       "localId", json_object_get(person, "localId"), "givenName",
                                       json_object_get(person, "givenName"), "familyName",
                                       json_object_get(person, "familyName"), "schoolRefId",
                                       json_object_get(roster, "schoolRefId"), "schoolYear",
                                       json_object_get(roster, "schoolYear")));
}

/* One student enrollment per studentReference, one teacher enrollment per
 * staff member (primary for primaryStaff). */
static void roster_enrollments(json_t *r, json_t *seen, json_t *out) {
  json_t *students = as_list(at(r, "students.studentReference"));
  json_t *others = as_list(at(r, "otherStaffs.otherStaff"));
  size_t i;
  json_t *p;
  json_array_foreach(students, i, p) add_enrollment(r, p, "student", 0, seen, out);
  json_t *primary = at(r, "primaryStaff.staffPersonReference");
  if (primary) add_enrollment(r, primary, "teacher", 1, seen, out);
  json_array_foreach(others, i, p) add_enrollment(r, json_object_get(p, "staffPersonReference"), "teacher", 0, seen, out);
  json_decref(students);
  json_decref(others);
}

static int build_enrollments(const char *dir, json_t *out, char *err, size_t errsize) {
  json_t *rosters = json_array(), *seen = json_object();
  int ok = load(dir, "xRosters", 1, rosters, err, errsize);
  size_t i;
  json_t *r;
  json_array_foreach(rosters, i, r) roster_enrollments(r, seen, out);
  json_decref(rosters);
  json_decref(seen);
  return ok;
}

/* ---- dispatch ----------------------------------------------------------------------- */

json_t *xpress_records(const char *dir, int entity, char *err, size_t errsize) {
  json_t *out = json_array();
  int ok;
  switch (entity) {
    case ENT_school: ok = load(dir, "xSchools", 1, out, err, errsize); break;
    case ENT_student: ok = load(dir, "xStudents", 1, out, err, errsize); break;
    case ENT_course: ok = load(dir, "xCourses", 1, out, err, errsize); break;
    case ENT_teacher: ok = build_staff(dir, 0, out, err, errsize); break;
    case ENT_admin: ok = build_staff(dir, 1, out, err, errsize); break;
    case ENT_contact: ok = build_contacts(dir, out, err, errsize); break;
    case ENT_calendar: ok = build_calendars(dir, out, err, errsize); break;
    case ENT_class: ok = build_classes(dir, out, err, errsize); break;
    case ENT_enrollment: ok = build_enrollments(dir, out, err, errsize); break;
    default:
      snprintf(err, errsize, "%s: xPress has no records for %s", dir, schema_entity_get(entity)->name);
      ok = 0;
  }
  if (!ok) {
    json_decref(out);
    return NULL;
  }
  return out;
}
