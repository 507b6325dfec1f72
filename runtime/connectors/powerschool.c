/* powerschool.c: the PowerSchool SIS plugin REST API connector.
 *
 * Reads /ws/v1/metadata for the page sizes, then the district's schools,
 * students (with the expansions stdlib/powerschool.sync's maps read), each
 * school's staff, courses, terms and sections, each section's enrollments,
 * and the guardian PowerQuery, as the entities the source feeds require.
 * Lists with a /count are paged to the known last page; section enrollments
 * (one small list per section) are asked for a page each, several at once,
 * and only a full page makes the pager go further.  Responses are saved in
 * the replay layout (URL paths without /ws/v1) for feed.c's decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "schema.h"

#define E(x) (1u << ENT_##x)
#define GUARDIANS "schema/query/com.pearson.core.guardian.student_guardian_detail"

typedef struct {
  const char *path;       /* after /ws/v1/ (or /ws/ for the PowerQuery) */
  const char *singular;   /* the key under the collection's wrapper */
  const char *expansions;
  long pagesize;
  int query;              /* a PowerQuery: POST, rows under "record" */
  json_t *ids;            /* when set: collects the records' ids */
} ps_list;

/* The records of a page: the singular key under the wrapper holds an array,
 * an object (a page of one) or nothing (an empty page). */
static json_t *items_of(json_t *doc, const ps_list *l) {
  if (l->query) return json_object_get(doc, "record");
  const char *key;
  json_t *v;
  json_object_foreach(doc, key, v) if (json_is_object(v)) return json_object_get(v, l->singular);
  return NULL;
}

static long count(pager *pg, http_req *r) {
  ps_list *l = pg->ud;
  if (!json_is_object(r->json)) return -1;
  json_t *items = items_of(r->json, l);
  if (json_is_object(items)) {
    if (l->ids) json_array_append(l->ids, json_object_get(items, "id"));
    return 1;
  }
  if (!json_is_array(items)) return 0;
  size_t i;
  json_t *x;
  json_array_foreach(items, i, x) if (l->ids) json_array_append(l->ids, json_object_get(x, "id"));
  return (long)json_array_size(items);
}

static void list_url(conn *c, const ps_list *l, const char *suffix, char *url, size_t size) {
  snprintf(url, size, "%s/ws/%s%s%s", c->base, l->query ? "" : "v1/", l->path, suffix);
}

static void build(pager *pg, int page, http_req *r) {
  conn *c = pg->c;
  const ps_list *l = pg->ud;
  char url[2400], q[600];
  list_url(c, l, "", url, sizeof url);
  snprintf(q, sizeof q, "?page=%d&pagesize=%ld%s%s", page, c->test ? 1 : l->pagesize, l->expansions ? "&expansions=" : "",
           l->expansions ? l->expansions : "");
  strncat(url, q, sizeof url - strlen(url) - 1);
  http_req_init(r, l->query ? "POST" : "GET", url);
  http_req_header(r, "Accept: application/json");
  if (l->query) {
    http_req_header(r, "Content-Type: application/json");
    http_req_body(r, "{}", 2);
  }
}

/* The number of records a list holds, from its /count. */
static int list_total(conn *c, const ps_list *l, long *total) {
  char url[2400];
  list_url(c, l, "/count", url, sizeof url);
  http_req r;
  http_req_init(&r, l->query ? "POST" : "GET", url);
  http_req_header(&r, "Accept: application/json");
  if (l->query) {
    http_req_header(&r, "Content-Type: application/json");
    http_req_body(&r, "{}", 2);
  }
  r.want_json = 1;
  int ok = http_send(c->http, &r, c->err, sizeof c->err) && conn_ok(c, &r);
  json_t *n = ok ? json_object_get(json_object_get(r.json, "resource"), "count") : NULL;
  if (ok && !n) n = json_object_get(r.json, "count");
  if (ok && !json_is_integer(n)) {
    snprintf(c->err, sizeof c->err, "source %s: %.1200s: no count in the response", c->name, url);
    ok = 0;
  }
  if (ok) *total = (long)json_integer_value(n);
  http_req_clear(&r);
  return ok;
}

static int pull(conn *c, ps_list *l) {
  pager pg = {.c = c, .resource = l->path, .build = build, .count = count, .total = -1, .ud = l};
  if (!c->test) {
    if (!list_total(c, l, &pg.total)) return 0;
    pg.last_page = pg.total > 0 ? (pg.total + l->pagesize - 1) / l->pagesize : 1;
  }
  return pager_run(&pg);
}

/* ---- the page sizes -------------------------------------------------------------- */

static long page_size(json_t *meta, const char *key) {
  json_t *v = json_object_get(json_object_get(meta, "metadata"), key);
  long n = json_is_integer(v) ? (long)json_integer_value(v) : json_is_string(v) ? atol(json_string_value(v)) : 0;
  return n > 0 ? n : 100;
}

static json_t *metadata(conn *c) {
  char url[2400];
  snprintf(url, sizeof url, "%s/ws/v1/metadata", c->base);
  http_req r;
  http_req_init(&r, "GET", url);
  http_req_header(&r, "Accept: application/json");
  r.want_json = 1;
  int ok = http_send(c->http, &r, c->err, sizeof c->err) && conn_ok(c, &r);
  json_t *meta = ok ? json_incref(r.json) : NULL;
  http_req_clear(&r);
  if (c->test) conn_report(c, "metadata", ok, ok);
  return meta;
}

/* ---- section enrollments: a page per section, several at once -------------------------- */

static int section_enrollments(conn *c, json_t *sections, long size) {
  enum { BATCH = 16 };
  size_t n = json_array_size(sections);
  for (size_t at = 0; at < n; at += BATCH) {
    http_req reqs[BATCH];
    ps_list lists[BATCH];
    char paths[BATCH][160];
    int k = (int)(n - at < BATCH ? n - at : BATCH);
    if (c->test) k = 1;
    for (int i = 0; i < k; i++) {
      json_t *id = json_array_get(sections, at + (size_t)i);
      char idt[64];
      if (json_is_integer(id)) snprintf(idt, sizeof idt, "%lld", (long long)json_integer_value(id));
      else snprintf(idt, sizeof idt, "%s", json_is_string(id) ? json_string_value(id) : "0");
      snprintf(paths[i], sizeof paths[i], "section/%s/section_enrollment", idt);
      lists[i] = (ps_list){paths[i], "section_enrollment", NULL, size, 0, NULL};
      pager one = {.c = c, .ud = &lists[i]};
      build(&one, 1, &reqs[i]);
      reqs[i].want_json = 1;
    }
    int ok = http_batch(c->http, reqs, k, c->err, sizeof c->err);
    for (int i = 0; ok && i < k; i++) {
      pager pg = {.c = c, .resource = paths[i], .build = build, .count = count, .total = -1, .ud = &lists[i]};
      ok = conn_ok(c, &reqs[i]);
      long got = ok ? count(&pg, &reqs[i]) : 0;
      if (c->test) {
        conn_report(c, "section/ID/section_enrollment", ok && got >= 0, got);
        ok = 1;
      } else if (ok && got >= size) {
        ok = pull(c, &lists[i]); /* more than a page: page it properly */
      } else if (ok) {
        ok = conn_save(c, paths[i], 1, reqs[i].resp, reqs[i].resp_len);
        if (got > 0) conn_progress(c, "section enrollments", got);
      }
    }
    for (int i = 0; i < k; i++) http_req_clear(&reqs[i]);
    if (!ok) return 0;
    if (c->test) break;
  }
  return 1;
}

/* ---- the whole pull ----------------------------------------------------------------- */

static int per_school(conn *c, json_t *meta, const char *school, const char *what, const char *key, const char *exp,
                      json_t *ids) {
  char path[160];
  snprintf(path, sizeof path, "school/%s/%s", school, what);
  ps_list l = {path, what, exp, page_size(meta, key), 0, ids};
  return pull(c, &l);
}

static int pull_schools(conn *c, json_t *meta, json_t *schools) {
  json_t *sections = conn_feeds(c, ENT_enrollment) ? json_array() : NULL;
  size_t i;
  json_t *sid;
  int ok = 1;
  json_array_foreach(schools, i, sid) {
    char id[64];
    if (json_is_integer(sid)) snprintf(id, sizeof id, "%lld", (long long)json_integer_value(sid));
    else if (json_is_string(sid)) snprintf(id, sizeof id, "%s", json_string_value(sid));
    else continue;
    if (ok && c->feeds & (E(teacher) | E(admin)))
      ok = per_school(c, meta, id, "staff", "staff_max_page_size", "emails,phones,school_affiliations", NULL);
    if (ok && c->feeds & (E(course) | E(class))) ok = per_school(c, meta, id, "course", "course_max_page_size", NULL, NULL);
    if (ok && conn_feeds(c, ENT_calendar)) ok = per_school(c, meta, id, "term", "term_max_page_size", NULL, NULL);
    if (ok && c->feeds & (E(class) | E(enrollment)))
      ok = per_school(c, meta, id, "section", "section_max_page_size", NULL, sections);
    if (c->test) break; /* one school shows whether the per-school lists answer */
  }
  if (ok && sections)
    ok = section_enrollments(c, sections, page_size(meta, "section_enrollment_max_page_size"));
  json_decref(sections);
  return ok;
}

int powerschool_fetch(conn *c) {
  json_t *meta = metadata(c);
  if (!meta) return c->test;
  json_t *schools = json_array();
  ps_list sl = {"district/school", "school", NULL, page_size(meta, "school_max_page_size"), 0, schools};
  int ok = pull(c, &sl);
  if (ok && conn_feeds(c, ENT_student)) {
    ps_list st = {"district/student", "student", "demographics,school_enrollment,contact_info,phones,addresses",
                  page_size(meta, "student_max_page_size"), 0, NULL};
    ok = pull(c, &st);
  }
  if (ok && conn_feeds(c, ENT_contact)) {
    ps_list g = {GUARDIANS, "record", NULL, page_size(meta, "schema_table_query_max_page_size"), 1, NULL};
    ok = pull(c, &g);
  }
  if (ok) ok = pull_schools(c, meta, schools);
  json_decref(schools);
  json_decref(meta);
  return ok;
}
