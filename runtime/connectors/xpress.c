/* xpress.c: the xPress Roster connector (RICOne-style).
 *
 * Logs in at token_url (form body username/password = client_id and
 * client_secret), which answers a token and the provider endpoints; data
 * requests go to `url` or else the first endpoint's href.  Resources are
 * paged with the navigationPage/navigationPageSize request headers, and the
 * navigationLastPage response header on page 1 says where they end.  A
 * source that is not bulk asks for changes since the last applied run
 * (changesSinceMarker).  Pages are saved per resource (xStudents, ...) for
 * the xpress replay decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "schema.h"

#define E(x) (1u << ENT_##x)

static const struct {
  const char *resource;
  unsigned entities;
} resources[] = {
    {"xLeas", E(school)},
    {"xSchools", E(school)},
    {"xCalendars", E(calendar)},
    {"xCourses", E(course) | E(class)},
    {"xRosters", E(class) | E(enrollment)},
    {"xStaffs", E(teacher) | E(admin)},
    {"xStudents", E(student) | E(contact)},
    {"xContacts", E(contact)},
};
enum { NRES = sizeof resources / sizeof resources[0], PAGE_SIZE = 1000 };

static void build(pager *pg, int page, http_req *r) {
  conn *c = pg->c;
  char url[2600];
  snprintf(url, sizeof url, "%s/%s%s%.40s", c->base, pg->resource, c->since[0] ? "?changesSinceMarker=" : "", c->since);
  http_req_init(r, "GET", url);
  http_req_header(r, "Accept: application/json");
  http_req_header(r, "navigationPage: %d", page);
  http_req_header(r, "navigationPageSize: %d", c->test ? 1 : PAGE_SIZE);
}

/* {"xStudents": {"xStudent": [...] | {...}}}, {"xStudents": [...]} or a bare array. */
static long count(pager *pg, http_req *r) {
  json_t *doc = r->json, *outer = json_is_object(doc) ? json_object_get(doc, pg->resource) : doc;
  if (json_is_object(doc) && !outer) return json_object_size(doc) == 0 ? 0 : -1;
  if (json_is_array(outer)) return (long)json_array_size(outer);
  if (json_is_null(outer)) return 0;
  if (!json_is_object(outer)) return -1;
  const char *key;
  json_t *v;
  json_object_foreach(outer, key, v) {
    if (json_is_array(v)) return (long)json_array_size(v);
    if (json_is_object(v)) return 1;
  }
  return 0;
}

static void first(pager *pg, http_req *r, long n) {
  (void)n;
  char v[64];
  if (http_resp_header(r, "navigationlastpage", v, sizeof v) && atol(v) > 0) pg->last_page = atol(v);
}

/* The data URL: the `url` setting, else the first endpoint of the login. */
static int endpoint(conn *c) {
  if (c->base[0]) return 1;
  if (!oauth_fetch_token(&c->auth, c->err, sizeof c->err)) return 0;
  json_t *login = c->auth.login, *eps = json_object_get(login, "endpoint");
  if (!eps) eps = json_object_get(login, "endpoints");
  json_t *ep = json_is_array(eps) ? json_array_get(eps, 0) : eps;
  const char *href = json_string_value(json_object_get(ep, "href"));
  if (!href) {
    snprintf(c->err, sizeof c->err, "source %s: the login answered no endpoint href; set url", c->name);
    return 0;
  }
  snprintf(c->base, sizeof c->base, "%s", href);
  size_t n = strlen(c->base);
  while (n && c->base[n - 1] == '/') c->base[--n] = 0;
  return http_url_allowed(c->base, c->err, sizeof c->err);
}

int xpress_fetch(conn *c) {
  if (!endpoint(c)) {
    if (c->test) conn_report(c, "login", 0, 0);
    return c->test;
  }
  if (c->test) conn_report(c, "login", 1, 0);
  for (int i = 0; i < NRES; i++) {
    if (!(c->feeds & resources[i].entities)) continue;
    pager pg = {.c = c, .resource = resources[i].resource, .build = build, .count = count, .first = first, .total = -1,
                .asked = PAGE_SIZE};
    if (!pager_run(&pg)) return 0;
  }
  return 1;
}
