/* test_xpress.c: the xPress replay decoder: every envelope form a response
 * body may take, bad bodies, and the records derived for each hub entity
 * from a small recorded directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema.h"
#include "xpress_replay.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else failed++, printf("FAIL %s: %s\n", what, detail);
}

/* The refIds of the records of one body ("a,b"), or "bad". */
static void ids_of(const char *body, char *out, size_t n) {
  json_error_t je;
  json_t *doc = json_loads(body, JSON_DECODE_ANY, &je), *recs = json_array();
  out[0] = 0;
  if (!doc || !xpress_page_items(doc, "xStudents", recs)) snprintf(out, n, "bad");
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r)
    snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", json_string_value(json_object_get(r, "refId")));
  json_decref(doc);
  json_decref(recs);
}

static void test_envelopes(void) {
  static const struct {
    const char *body, *want;
  } cases[] = {
      {"{\"xStudents\":{\"xStudent\":[{\"@refId\":\"a\"},{\"@refId\":\"b\"}]}}", "a,b"},
      {"{\"xStudents\":{\"xStudent\":{\"@refId\":\"a\"}}}", "a"},
      {"{\"xStudents\":[{\"refId\":\"a\"},{\"@refId\":\"b\"}]}", "a,b"},
      {"[{\"@refId\":\"a\"}]", "a"},
      {"{\"xStudent\":{\"@refId\":\"a\"}}", "a"},
      {"{\"xStudents\":{\"xStudent\":[]}}", ""},
      {"{\"xStudents\":{\"xStudent\":null}}", ""},
      {"{\"xStudents\":{}}", ""},
      {"{\"xStudents\":null}", ""},
      {"{\"xStudents\":\"\"}", ""},
      {"{}", ""},
      {"[]", ""},
      {"null", ""},
      {"{\"xStudents\":{\"xStudent\":[{\"@refId\":\"a\"},null,{},\"x\"]}}", "a"},
      {"{\"xStaffs\":{\"xStaff\":[]}}", "bad"},
      {"{\"xStudents\":{\"other\":[]}}", "bad"},
      {"{\"xStudents\":3}", "bad"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[200];
    ids_of(cases[i].body, out, sizeof out);
    char detail[600];
    snprintf(detail, sizeof detail, "%s: got '%s', want '%s'", cases[i].body, out, cases[i].want);
    check(!strcmp(out, cases[i].want), "envelope", detail);
  }
}

/* ---- a recorded directory --------------------------------------------------------- */

static char dir[256];

static void put(const char *name, const char *body) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *slash = strrchr(path, '/');
  *slash = 0;
  mkdir(path, 0700);
  *slash = '/';
  FILE *f = fopen(path, "wb");
  fputs(body, f);
  fclose(f);
}

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/test_xpress_%d", (int)getpid());
  mkdir(dir, 0700);
  put("xStaffs/0001.json", "{\"xStaffs\":{\"xStaff\":[{\"@refId\":\"t1\",\"primaryAssignment\":{\"jobFunction\":\"Teacher\"}},"
                           "{\"@refId\":\"p1\",\"primaryAssignment\":{\"jobFunction\":\"Principal\"}}]}}");
  put("xStaffs/0002.json", "{\"xStaffs\":{\"xStaff\":[{\"@refId\":\"a1\",\"primaryAssignment\":{\"jobFunction\":\"Administrators\"}},"
                           "{\"@refId\":\"s1\",\"primaryAssignment\":{\"jobFunction\":\"Administrative Support Staff\"}}]}}");
  put("xStaffs/0003.json", "");
  put("xRosters.json",
      "{\"xRosters\":{\"xRoster\":{\"@refId\":\"r1\",\"schoolRefId\":\"sch\",\"schoolYear\":\"2025\","
      "\"meetingTimes\":{\"meetingTime\":[{\"timeTablePeriod\":\"2\",\"roomNumber\":\"104\",\"sessionCode\":\"S1\"},"
      "{\"timeTablePeriod\":\"3\"},{\"timeTablePeriod\":\"2\"}]},"
      "\"students\":{\"studentReference\":[{\"refId\":\"st1\"},{\"refId\":\"st2\"},{\"refId\":\"st1\"}]},"
      "\"primaryStaff\":{\"staffPersonReference\":{\"refId\":\"t1\"}},"
      "\"otherStaffs\":{\"otherStaff\":{\"staffPersonReference\":{\"refId\":\"p1\"}}}}}}");
  put("xCalendars.json", "{\"xCalendars\":{\"xCalendar\":[{\"@refId\":\"c1\",\"schoolRefId\":\"sch\",\"schoolYear\":\"2025\","
                         "\"sessions\":{\"sessionList\":[{\"sessionCode\":\"S1\",\"startDate\":\"2024-09-03\",\"endDate\":\"2025-01-24\"},"
                         "{\"sessionCode\":\"S2\",\"startDate\":\"2025-01-27\",\"endDate\":\"2025-06-20\"}]}}]}}");
  put("xStudents.json", "[{\"@refId\":\"st1\",\"studentContacts\":{\"contactPersonRefId\":[\"k1\",\"k2\"]}},"
                        "{\"@refId\":\"st2\",\"studentContacts\":{\"contactPersonRefId\":\"k1\"}}]");
  put("xContacts.json", "{\"xContacts\":{\"xContact\":[{\"@refId\":\"k1\",\"relationships\":{\"relationship\":"
                        "{\"studentRefId\":\"st2\",\"relationshipCode\":\"Mother\"}}},{\"@refId\":\"k2\"},{\"@refId\":\"k3\"}]}}");
  put("bad/xSchools.json", "{\"xSchools\": [");
}

static void remove_dir(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
}

/* FIELD of every record ("a|b"), lists joined with commas. */
static void field_of(int entity, const char *field, char *out, size_t n) {
  char err[600];
  json_t *recs = xpress_records(dir, entity, err, sizeof err);
  out[0] = 0;
  if (!recs) {
    snprintf(out, n, "error: %s", err + strlen(dir));
    return;
  }
  size_t i, k;
  json_t *r, *x;
  json_array_foreach(recs, i, r) {
    json_t *v = json_object_get(r, field);
    snprintf(out + strlen(out), n - strlen(out), "%s", i ? "|" : "");
    if (json_is_array(v)) json_array_foreach(v, k, x) snprintf(out + strlen(out), n - strlen(out), "%s%s", k ? "," : "", json_string_value(x));
    else if (json_is_string(v)) snprintf(out + strlen(out), n - strlen(out), "%s", json_string_value(v));
    else if (json_is_boolean(v)) snprintf(out + strlen(out), n - strlen(out), "%s", json_is_true(v) ? "true" : "false");
    else snprintf(out + strlen(out), n - strlen(out), "-");
  }
  json_decref(recs);
}

static void test_entities(void) {
  static const struct {
    int entity;
    const char *field, *want;
  } cases[] = {
      {ENT_teacher, "refId", "t1|p1|s1"}, /* p1 is a principal who teaches r1 */
      {ENT_admin, "refId", "a1"},
      {ENT_class, "teacherRefIds", "t1,p1"},
      {ENT_class, "periods", "2,3"},
      {ENT_class, "roomNumber", "104"},
      {ENT_class, "termId", "c1:S1"}, /* the calendar found by school and year */
      {ENT_calendar, "id", "c1|c1:S1|c1:S2"},
      {ENT_calendar, "parentId", "-|c1|c1"},
      {ENT_calendar, "startDate", "2024-09-03|2024-09-03|2025-01-27"},
      {ENT_calendar, "endDate", "2025-06-20|2025-01-24|2025-06-20"},
      {ENT_enrollment, "id", "r1:st1|r1:st2|r1:t1|r1:p1"},
      {ENT_enrollment, "role", "student|student|teacher|teacher"},
      {ENT_enrollment, "primary", "false|false|true|false"},
      {ENT_contact, "studentRefIds", "st2,st1|st1|"},
      {ENT_contact, "relationshipCode", "Mother|-|-"},
      {ENT_school, "refId", "error: : no recorded xSchools (neither xSchools.json nor a xSchools/ directory of pages)"},
      {ENT_student, "refId", "st1|st2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[400], detail[900];
    field_of(cases[i].entity, cases[i].field, out, sizeof out);
    snprintf(detail, sizeof detail, "%s.%s: got '%s', want '%s'", schema_entity_get(cases[i].entity)->name, cases[i].field, out,
             cases[i].want);
    check(!strcmp(out, cases[i].want), "entity", detail);
  }
  char err[600];
  strcat(dir, "/bad");
  json_t *recs = xpress_records(dir, ENT_school, err, sizeof err);
  check(!recs && strstr(err, "xSchools.json:1:"), "bad page", err);
  dir[strlen(dir) - 4] = 0;
}

int main(void) {
  test_envelopes();
  make_dir();
  test_entities();
  remove_dir();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
