/* veracross.c: the Veracross Data API v3 connector.
 *
 * Pulls BASE/RESOURCE for every resource the source's entities need (the
 * replay decoder in feed.c joins and decodes them; stdlib/veracross.sync
 * says what each entity receives).  Paging is by request headers
 * (X-Page-Number, X-Page-Size 1000) with no total, so the pager finds the
 * end; value lists are asked for on page 1 only (they decode every page of
 * that endpoint).  Scopes are requested from the resources pulled
 * (`students:list` ...).  A source that is not bulk pulls only what changed
 * since the last applied run where the endpoint can filter on it.
 */
#include <stdio.h>
#include <string.h>

#include "connector.h"
#include "schema.h"

#define E(x) (1u << ENT_##x)
#define PAGE_SIZE 1000 /* the most Veracross serves */

static const struct {
  const char *path;
  unsigned entities; /* pulled when the source feeds one of these */
  int delta;         /* the list filters on_or_after_last_modified_date */
} resources[] = {
    /* students also give the campus value list (schools) and tell contacts
       which related people are students */
    {"students", E(school) | E(student) | E(contact), 1},
    {"staff_faculty", E(teacher) | E(admin), 0},
    {"parents", E(contact), 0},
    {"relationships", E(contact), 0},
    {"households", E(contact), 0},
    {"academics/courses", E(course), 1},
    {"academics/classes", E(class), 1},
    {"academics/config/grading_periods", E(calendar), 0},
    {"academics/enrollments", E(enrollment), 1},
};
enum { NRES = sizeof resources / sizeof resources[0] };

typedef struct {
  const char *path;
  int delta;
} vc_pull;

static void build(pager *pg, int page, http_req *r) {
  conn *c = pg->c;
  const vc_pull *v = pg->ud;
  char url[2400];
  int n = snprintf(url, sizeof url, "%s/%s", c->base, v->path);
  if (v->delta && c->since[0] && n > 0 && (size_t)n < sizeof url)
    snprintf(url + n, sizeof url - (size_t)n, "?on_or_after_last_modified_date=%.10s", c->since);
  http_req_init(r, "GET", url);
  http_req_header(r, "Accept: application/json");
  http_req_header(r, "X-Page-Number: %d", page);
  http_req_header(r, "X-Page-Size: %d", c->test ? 1 : PAGE_SIZE);
  if (page == 1) http_req_header(r, "X-API-Value-Lists: include");
}

static long count(pager *pg, http_req *r) {
  (void)pg;
  json_t *data = json_object_get(r->json, "data");
  return json_is_array(data) ? (long)json_array_size(data) : -1;
}

int veracross_fetch(conn *c) {
  int wanted[NRES] = {0};
  char scope[2048] = "";
  size_t o = 0;
  for (int i = 0; i < NRES; i++) {
    wanted[i] = (c->feeds & resources[i].entities) != 0;
    /* A pull of students for contacts alone still needs every student: the
       join decides which related people are students. */
    if (!wanted[i] || o >= sizeof scope - 80) continue;
    char s[128];
    snprintf(s, sizeof s, "%s", resources[i].path);
    for (char *p = s; *p; p++)
      if (*p == '/') *p = '.';
    o += (size_t)snprintf(scope + o, sizeof scope - o, "%s%s:list", o ? " " : "", s);
  }
  if (!c->auth.scope[0]) snprintf(c->auth.scope, sizeof c->auth.scope, "%s", scope);
  for (int i = 0; i < NRES; i++) {
    if (!wanted[i]) continue;
    int delta = resources[i].delta && !(i == 0 && conn_feeds(c, ENT_contact));
    vc_pull v = {resources[i].path, delta};
    pager pg = {.c = c, .resource = resources[i].path, .build = build, .count = count, .total = -1, .asked = PAGE_SIZE, .ud = &v};
    if (!pager_run(&pg)) return 0;
  }
  return 1;
}
