/* oneroster.c: the OneRoster REST connector (1.1 and 1.2; OAuth 2 client
 * credentials or OAuth 1.0a), which is also Synergy's and Veracross's
 * OneRoster endpoint.
 *
 * Pulls /orgs, /users, /courses, /classes, /academicSessions,
 * /enrollments and, when a map reads demographics.FIELD, /demographics, as
 * the source's entities need.  Paging is limit/offset: page 1 says the total
 * (X-Total-Count) and, by how many records it holds, whether the server
 * clamped the limit; the other pages are then fetched several at once.
 * Without a total the Link header's rel="next" says whether to go on.  A
 * source that is not bulk asks only for what changed since the last applied
 * run (filter=dateLastModified>'...').
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
    {"orgs", E(school)},
    {"users", E(student) | E(teacher) | E(contact) | E(admin)},
    {"demographics", 0}, /* only when a map reads demographics.FIELD */
    {"courses", E(course)},
    {"classes", E(class)},
    {"academicSessions", E(calendar)},
    {"enrollments", E(enrollment)},
};
enum { NRES = sizeof resources / sizeof resources[0], FIRST_LIMIT = 1000 };

typedef struct {
  const char *resource;
} or_list;

static void build(pager *pg, int page, http_req *r) {
  conn *c = pg->c;
  const or_list *l = pg->ud;
  long limit = c->test ? 1 : page == 1 ? FIRST_LIMIT : pg->step;
  char url[2400], filter[200] = "";
  if (c->since[0]) {
    char f[120];
    snprintf(f, sizeof f, "dateLastModified>'%.20s'", c->since);
    http_urlencode(f, filter, sizeof filter);
  }
  snprintf(url, sizeof url, "%s/%s?limit=%ld&offset=%ld%s%s", c->base, l->resource, limit, (long)(page - 1) * pg->step,
           filter[0] ? "&filter=" : "", filter);
  http_req_init(r, "GET", url);
  http_req_header(r, "Accept: application/json");
}

static long count(pager *pg, http_req *r) {
  const or_list *l = pg->ud;
  json_t *items = json_object_get(r->json, l->resource);
  return json_is_array(items) ? (long)json_array_size(items) : -1;
}

/* Page 1 tells the total, the page size the server really uses, and (with
 * no total) whether there is more. */
static void first(pager *pg, http_req *r, long n) {
  char v[64], link[2048];
  if (http_resp_header(r, "x-total-count", v, sizeof v)) pg->total = atol(v);
  int more = http_resp_header(r, "link", link, sizeof link) && strstr(link, "rel=\"next\"");
  pg->step = n > 0 && n < FIRST_LIMIT && (pg->total > n || (pg->total < 0 && more)) ? n : FIRST_LIMIT;
  if (pg->total >= 0) pg->last_page = pg->total > 0 ? (pg->total + pg->step - 1) / pg->step : 1;
  else if (!more) pg->last_page = 1;
}

static int uses_demographics(const conn *c) {
  const plan *p = c->p;
  for (uint32_t u = 0; u < p->nunits; u++) {
    if (p->units[u].source != c->source) continue;
    for (uint32_t k = 0; k < p->units[u].nfields; k++)
      if (!strncmp(plan_str(p, p->units[u].fields[k]), "demographics.", 13)) return 1;
  }
  return 0;
}

static void default_scope(conn *c, int demographics) {
  if (c->auth.scope[0] || c->auth.mode == OAUTH_1) return;
  const char *v = strstr(c->base, "v1p2") ? "v1p2" : "v1p1";
  snprintf(c->auth.scope, sizeof c->auth.scope, "https://purl.imsglobal.org/spec/or/%s/scope/roster.readonly%s%s%s", v,
           demographics ? " https://purl.imsglobal.org/spec/or/" : "", demographics ? v : "",
           demographics ? "/scope/roster-demographics.readonly" : "");
}

void oneroster_prepare(conn *c) { default_scope(c, uses_demographics(c)); }

int oneroster_fetch(conn *c) {
  int demographics = uses_demographics(c);
  for (int i = 0; i < NRES; i++) {
    int wanted = (c->feeds & resources[i].entities) || (i == 2 && demographics);
    if (!wanted) continue;
    or_list l = {resources[i].resource};
    pager pg = {.c = c, .resource = l.resource, .build = build, .count = count, .first = first, .step = FIRST_LIMIT,
                .total = -1, .ud = &l};
    if (!pager_run(&pg)) return 0;
  }
  return 1;
}
