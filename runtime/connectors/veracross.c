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

/* The scope of one resource: its path with / as ., and :list. */
static void scope_of(const char *path, char *out, size_t size) {
  snprintf(out, size, "%s:list", path);
  for (char *p = out; *p; p++)
    if (*p == '/') *p = '.';
}

static int wanted(const conn *c, int i) { return (c->feeds & resources[i].entities) != 0; }

void veracross_prepare(conn *c) {
  if (c->auth.scope[0]) return;
  size_t o = 0;
  for (int i = 0; i < NRES; i++) {
    if (!wanted(c, i) || o >= sizeof c->auth.scope - 80) continue;
    char s[128];
    scope_of(resources[i].path, s, sizeof s);
    o += (size_t)snprintf(c->auth.scope + o, sizeof c->auth.scope - o, "%s%s", o ? " " : "", s);
  }
}

static int pull(conn *c, int i) {
  /* A pull of students for contacts alone still needs every student: the
     join decides which related people are students. */
  int delta = resources[i].delta && !(i == 0 && conn_feeds(c, ENT_contact));
  vc_pull v = {resources[i].path, delta};
  pager pg = {.c = c, .resource = resources[i].path, .build = build, .count = count, .total = -1, .asked = PAGE_SIZE, .ud = &v};
  return pager_run(&pg);
}

int veracross_fetch(conn *c) {
  for (int i = 0; i < NRES; i++)
    if (wanted(c, i) && !pull(c, i)) return 0;
  return 1;
}

/* test-connection, when the token for every scope is refused: Veracross
 * refuses a request for any scope the application was not granted, so each
 * resource is tried with a token for its own scope alone, to name the ones
 * missing. */
void veracross_diagnose_scopes(conn *c) {
  for (int i = 0; i < NRES; i++) {
    if (!wanted(c, i)) continue;
    scope_of(resources[i].path, c->auth.scope, sizeof c->auth.scope);
    c->auth.token[0] = 0;
    if (!oauth_fetch_token(&c->auth, c->err, sizeof c->err)) {
      char why[1200];
      snprintf(why, sizeof why, "%.1100s", c->err);
      snprintf(c->err, sizeof c->err, "scope %.200s: %s", c->auth.scope, why);
      conn_report(c, resources[i].path, 0, 0);
      continue;
    }
    pull(c, i);
  }
}
