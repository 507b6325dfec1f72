/* connector.c: what every network connector shares: reading the source's
 * settings, the HTTP clients and the credentials, writing recorded pages,
 * progress on a terminal, test-connection reports, and keeping secrets out of
 * every message. */
#include "connector.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "kinds.h"
#include "schema.h"

int conn_is_network(int kind) {
  return kind == KIND_veracross || kind == KIND_powerschool || kind == KIND_oneroster || kind == KIND_synergy ||
         kind == KIND_xpress;
}

int conn_feeds(const conn *c, int entity) { return (c->feeds >> entity) & 1; }

const char *conn_setting(conn *c, const char *key, char *buf, size_t size) {
  const char *why;
  const char *v = feed_setting(c->p, c->source, key, buf, size, &why);
  return v && *v ? v : NULL;
}

static double now_mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Replaces every occurrence of the source's credentials in `msg` (of
 * `size` bytes): a vendor may echo what it was sent, and no message may carry
 * a secret. */
static void redact(conn *c, char *msg, size_t size) {
  const char *secrets[] = {c->auth.id, c->auth.secret, c->auth.token};
  char *out = malloc(size);
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(secrets[i]), o = 0;
    if (n < 4 || !strstr(msg, secrets[i])) continue;
    for (const char *m = msg; *m && o + 1 < size;) {
      if (!strncmp(m, secrets[i], n)) {
        o += (size_t)snprintf(out + o, size - o, "[redacted]");
        if (o >= size) o = size - 1;
        m += n;
      } else out[o++] = *m++;
    }
    out[o] = 0;
    memcpy(msg, out, o + 1);
  }
  free(out);
}

/* ---- pages on disk ------------------------------------------------------------- */

static int mkdirs(const char *path) {
  char tmp[2048];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return 0;
    *p = '/';
  }
  return mkdir(tmp, 0700) == 0 || errno == EEXIST;
}

int conn_save(conn *c, const char *resource, int page, const char *body, size_t len) {
  if (!c->dir[0]) return 1;
  char path[2400];
  snprintf(path, sizeof path, "%s/%s", c->dir, resource);
  if (!mkdirs(path)) {
    snprintf(c->err, sizeof c->err, "source %s: cannot create %.1200s: %s", c->name, path, strerror(errno));
    return 0;
  }
  snprintf(path, sizeof path, "%s/%s/%06d.json", c->dir, resource, page);
  c->bytes += (double)len;
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
    snprintf(c->err, sizeof c->err, "source %s: cannot write %.1200s: %s", c->name, path, strerror(errno));
    return 0;
  }
  return 1;
}

int conn_ok(conn *c, const http_req *r) {
  if (r->status >= 200 && r->status < 300) return 1;
  char text[400];
  snprintf(c->err, sizeof c->err, "source %s: %s %.900s: HTTP %ld: %.400s", c->name, r->method, r->url, r->status,
           http_error_text(r, text, sizeof text));
  redact(c, c->err, sizeof c->err);
  return 0;
}

/* ---- progress and reports -------------------------------------------------------- */

void conn_progress(conn *c, const char *resource, long n) {
  c->records += n;
  c->pages++;
  snprintf(c->resource, sizeof c->resource, "%s", resource);
  if (!c->progress) return;
  double t = now_mono() - c->t0;
  fprintf(c->progress, "\r\033[K%s: %s, %ld pages, %ld records, %.0f records/s, %.1f s", c->name, resource, c->pages, c->records,
          t > 0 ? (double)c->records / t : 0.0, t);
  fflush(c->progress);
}

/* The http hooks get the conn; the credentials are its oauth. */
static const char *conn_auth(void *ctx, http_req *req, int refresh, char *err, size_t errsize) {
  return oauth_authorize(&((conn *)ctx)->auth, req, refresh, err, errsize);
}

static void on_wait(void *ctx, double seconds) {
  conn *c = ctx;
  if (!c->progress) return;
  fprintf(c->progress, "\r\033[K%s: %s, %ld records: waiting %.0f s for the rate limit", c->name, c->resource, c->records,
          seconds);
  fflush(c->progress);
}

void conn_report(conn *c, const char *resource, int ok, long n) {
  if (!ok) c->failures++;
  if (!c->report) return;
  if (ok && (!strcmp(resource, "token") || !strcmp(resource, "login") || !strcmp(resource, "metadata")))
    fprintf(c->report, "  %-40s OK\n", resource);
  else if (ok) fprintf(c->report, "  %-40s OK (%ld record%s on the first page)\n", resource, n, n == 1 ? "" : "s");
  else fprintf(c->report, "  %-40s FAILED: %s\n", resource, c->err);
}

/* ---- setting up ----------------------------------------------------------------- */

static void trim_slash(char *s) {
  size_t n = strlen(s);
  while (n && s[n - 1] == '/') s[--n] = 0;
}

/* The base URL, token URL and credential mode of each kind (language.md's
 * settings table). */
static int set_urls(conn *c, char *token_url, size_t size, oauth_mode *mode) {
  char buf[2048];
  const char *v;
  switch (c->kind) {
    case KIND_veracross: {
      char route[512];
      snprintf(route, sizeof route, "%s", (v = conn_setting(c, "school_route", buf, sizeof buf)) ? v : "");
      v = conn_setting(c, "base_url", buf, sizeof buf);
      snprintf(c->base, sizeof c->base, v ? "%s" : "https://api.veracross.com/%s/v3", v ? v : route);
      v = conn_setting(c, "token_url", buf, sizeof buf);
      snprintf(token_url, size, v ? "%s" : "https://accounts.veracross.com/%s/oauth/token", v ? v : route);
      *mode = OAUTH_CC_BODY;
      break;
    }
    case KIND_powerschool:
      snprintf(c->base, sizeof c->base, "%s", (v = conn_setting(c, "url", buf, sizeof buf)) ? v : "");
      trim_slash(c->base);
      v = conn_setting(c, "token_url", buf, sizeof buf);
      snprintf(token_url, size, v ? "%s" : "%s/oauth/access_token", v ? v : c->base);
      *mode = OAUTH_CC_BASIC;
      break;
    case KIND_oneroster:
    case KIND_synergy: {
      snprintf(c->base, sizeof c->base, "%s", (v = conn_setting(c, "url", buf, sizeof buf)) ? v : "");
      trim_slash(c->base);
      v = conn_setting(c, "auth", buf, sizeof buf);
      *mode = v && !strcmp(v, "oauth1") ? OAUTH_1 : OAUTH_CC_BASIC;
      v = conn_setting(c, "token_url", buf, sizeof buf);
      if (v) snprintf(token_url, size, "%s", v);
      else { /* the server's /token: OneRoster does not fix a token URL; Synergy districts set token_url */
        char root[2048];
        snprintf(root, sizeof root, "%s", c->base);
        char *ims = strstr(root, "/ims/oneroster");
        if (ims) *ims = 0;
        if (snprintf(token_url, size, "%s/token", root) >= (int)size) token_url[0] = 0;
      }
      break;
    }
    case KIND_xpress:
      v = conn_setting(c, "url", buf, sizeof buf);
      snprintf(c->base, sizeof c->base, "%s", v ? v : "");
      trim_slash(c->base);
      snprintf(token_url, size, "%s", (v = conn_setting(c, "token_url", buf, sizeof buf)) ? v : "");
      *mode = OAUTH_LOGIN;
      break;
    default:
      return 0;
  }
  trim_slash(c->base);
  if (c->base[0] && !http_url_allowed(c->base, c->err, sizeof c->err)) return 0;
  if (*mode != OAUTH_1 && !http_url_allowed(token_url, c->err, sizeof c->err)) return 0;
  return 1;
}

static int conn_open(conn *c, const plan *p, uint32_t source, const conn_options *o) {
  memset(c, 0, sizeof *c);
  c->p = p;
  c->source = source;
  c->name = plan_str(p, p->sources[source].name);
  c->kind = p->sources[source].kind;
  c->feeds = p->sources[source].feeds;
  char buf[64];
  const char *bulk = conn_setting(c, "bulk", buf, sizeof buf);
  c->bulk = bulk && !strcmp(bulk, "true");
  c->test = o->test;
  c->report = o->report;
  if (o->since && !c->bulk) snprintf(c->since, sizeof c->since, "%s", o->since);
  c->t0 = now_mono();
  c->progress = o->progress ? stderr : NULL;
  char token_url[2048] = "", id[1024] = "", secret[1024] = "", scope[2048] = "";
  oauth_mode mode = OAUTH_CC_BASIC;
  if (!set_urls(c, token_url, sizeof token_url, &mode)) return 0;
  const char *v;
  if ((v = conn_setting(c, "client_id", id, sizeof id)) != id) snprintf(id, sizeof id, "%s", v ? v : "");
  if ((v = conn_setting(c, "client_secret", secret, sizeof secret)) != secret) snprintf(secret, sizeof secret, "%s", v ? v : "");
  if ((v = conn_setting(c, "scope", scope, sizeof scope)) != scope) snprintf(scope, sizeof scope, "%s", v ? v : "");
  /* the clients keep the pointer: the path lives in the conn */
  const char *ca = conn_setting(c, "ca_file", c->ca_file, sizeof c->ca_file);
  if (ca && ca != c->ca_file) snprintf(c->ca_file, sizeof c->ca_file, "%s", ca);
  if (ca) ca = c->ca_file;
  oauth_init(&c->auth, mode, c->name, token_url, id, secret, scope);
  memset(secret, 0, sizeof secret);
  memset(id, 0, sizeof id);
  http_options ho = {.source = c->name, .ca_file = ca, .auth = conn_auth, .on_wait = on_wait, .ctx = c};
  c->http = http_new(&ho, c->err, sizeof c->err);
  http_options to = {.source = c->name, .ca_file = ca, .max_inflight = 1};
  c->token_http = c->http ? http_new(&to, c->err, sizeof c->err) : NULL;
  if (!c->token_http) return 0;
  c->auth.http = c->token_http;
  if (c->kind == KIND_veracross) veracross_prepare(c);
  if (c->kind == KIND_oneroster || c->kind == KIND_synergy) oneroster_prepare(c);
  return 1;
}

static void conn_close(conn *c) {
  if (c->progress && c->pages) {
    fprintf(c->progress, "\r\033[K%s: %ld pages, %ld records in %.1f s\n", c->name, c->pages, c->records, now_mono() - c->t0);
  }
  http_free(c->http);
  http_free(c->token_http);
  oauth_wipe(&c->auth);
}

static int run_vendor(conn *c) {
  switch (c->kind) {
    case KIND_veracross: return veracross_fetch(c);
    case KIND_powerschool: return powerschool_fetch(c);
    case KIND_oneroster:
    case KIND_synergy: return oneroster_fetch(c);
    case KIND_xpress: return xpress_fetch(c);
    default: return 0;
  }
}

int conn_fetch(const plan *p, uint32_t source, const char *dir, const conn_options *o, char *err, size_t errsize) {
  conn *c = calloc(1, sizeof *c);
  int ok = conn_open(c, p, source, o);
  if (ok) {
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    ok = mkdirs(dir);
    if (!ok) snprintf(c->err, sizeof c->err, "source %s: cannot create %s: %s", c->name, dir, strerror(errno));
  }
  if (ok) ok = run_vendor(c);
  if (o->stats && c->http) {
    conn_stats *st = o->stats;
    http_counters(c->http, &st->requests, &st->retries, &st->waited);
    st->pages = c->pages;
    st->records = c->records;
    st->bytes = c->bytes;
    st->seconds = now_mono() - c->t0;
  }
  if (!ok) {
    redact(c, c->err, sizeof c->err);
    snprintf(err, errsize, "%s", c->err);
  }
  conn_close(c);
  free(c);
  return ok;
}

int conn_test(const plan *p, uint32_t source, const conn_options *o, char *err, size_t errsize) {
  conn *c = calloc(1, sizeof *c);
  conn_options to = *o;
  to.test = 1;
  to.progress = 0;
  int failures = -1;
  if (conn_open(c, p, source, &to)) {
    if (c->report) fprintf(c->report, "%s (%s):\n", c->name, kind_table[c->kind].name);
    /* Credentials first: without a token no resource can answer. */
    int authed = c->auth.mode == OAUTH_1 || c->kind == KIND_xpress || oauth_fetch_token(&c->auth, c->err, sizeof c->err);
    if (c->auth.mode != OAUTH_1 && c->kind != KIND_xpress) {
      redact(c, c->err, sizeof c->err);
      conn_report(c, "token", authed, 0);
    }
    if (authed) run_vendor(c);
    else if (c->kind == KIND_veracross && strstr(c->err, "HTTP 400")) veracross_diagnose_scopes(c);
    failures = c->failures;
  } else {
    redact(c, c->err, sizeof c->err);
    snprintf(err, errsize, "%s", c->err);
  }
  conn_close(c);
  free(c);
  return failures;
}

/* ---- paging --------------------------------------------------------------------- */

/* One page, alone (a refetch). */
static long fetch_one(pager *pg, int page, int *ok) {
  conn *c = pg->c;
  http_req r;
  pg->build(pg, page, &r);
  r.want_json = 1;
  long n = -1;
  *ok = http_send(c->http, &r, c->err, sizeof c->err) && conn_ok(c, &r);
  if (*ok) n = pg->count(pg, &r);
  if (*ok && n > 0) *ok = conn_save(c, pg->resource, page, r.resp, r.resp_len);
  if (*ok && n > 0) conn_progress(c, pg->resource, n);
  if (*ok && n > 0) pg->records += n;
  http_req_clear(&r);
  return n;
}

/* A page that came back empty while the stream goes on: ask again, twice. */
static int refetch(pager *pg, int page) {
  for (int tries = 0; tries < 2; tries++) {
    int ok;
    long n = fetch_one(pg, page, &ok);
    if (!ok) return 0;
    if (n > 0) return 1;
  }
  snprintf(pg->c->err, sizeof pg->c->err, "source %s: %s page %d came back empty although %s; the pull is incomplete",
           pg->c->name, pg->resource, page, pg->last_page ? "the total says there are more records" : "later pages hold records");
  return 0;
}

typedef struct {
  int page, pending_empty, empties, done;
  int clamped;          /* a page after one shorter than asked had records */
  int after_short;      /* the empty pages pending began right after a short page */
  long prev_n, max_n;
} pager_state;

/* Whether the page before this one was the last: shorter than the pages
 * before it, or shorter than asked of a server that serves what is asked. */
static int prev_short(const pager *pg, const pager_state *st) {
  if (st->prev_n <= 0) return 0;
  return st->prev_n < st->max_n || (pg->asked && st->prev_n < pg->asked && !st->clamped);
}

/* Takes one page of a batch in order: 1 taken, 2 taken and the stream
 * moved back to st->page (a glitch was repaired), 0 an error. */
static int take_page(pager *pg, pager_state *st, http_req *r) {
  conn *c = pg->c;
  if (!conn_ok(c, r)) return 0;
  long n = pg->count(pg, r);
  if (n < 0) {
    snprintf(c->err, sizeof c->err, "source %s: %s: page %d is not a page of records (%.80s...)", c->name, r->url, st->page,
             r->resp);
    return 0;
  }
  if (st->page == 1 && pg->first) pg->first(pg, r, n);
  if (n == 0) {
    /* The total (or the last page) says records are still to come. */
    int more = pg->total > 0 ? pg->records < pg->total : pg->last_page && st->page > 1 && st->page <= pg->last_page;
    if (more) return refetch(pg, st->page);
    if (st->page == 1) { /* nothing at all: the resource is recorded as empty */
      st->done = pg->last_page <= 1;
      if (st->done) return conn_save(c, pg->resource, 1, r->resp, r->resp_len);
    }
    /* After a short page, an empty one is the end only if the next is
     * empty too: a server that serves fewer than asked (Veracross: no
     * total) sends a short page 1, and a glitch on page 2 then looked like
     * the end of the stream and lost the rest of it. */
    if (prev_short(pg, st)) st->after_short = 1;
    if (!st->pending_empty) st->pending_empty = st->page;
    if (++st->empties >= 2 && st->after_short) {
      st->done = 1;
      return 1;
    }
    if (st->empties >= 2) { /* confirm the first empty page once: it may be a glitch */
      int first_empty = st->pending_empty, ok;
      long again = fetch_one(pg, first_empty, &ok);
      if (!ok) return 0;
      if (again > 0) {
        st->page = first_empty + 1; /* the stream goes on after it */
        st->prev_n = st->max_n = again;
        st->pending_empty = st->empties = st->after_short = 0;
        return 2;
      }
      st->done = 1;
    }
  } else {
    if (st->pending_empty && !refetch(pg, st->pending_empty)) return 0;
    if (st->pending_empty && st->after_short) st->clamped = 1; /* the short page was not the last */
    st->pending_empty = st->empties = st->after_short = 0;
    if (pg->asked && st->prev_n > 0 && st->prev_n < pg->asked) st->clamped = 1; /* serves fewer than asked */
    if (!conn_save(c, pg->resource, st->page, r->resp, r->resp_len)) return 0;
    conn_progress(c, pg->resource, n);
    pg->records += n;
  }
  st->prev_n = n;
  if (n > st->max_n) st->max_n = n;
  if (pg->last_page && st->page >= pg->last_page) st->done = 1;
  return 1;
}

int pager_run(pager *pg) {
  conn *c = pg->c;
  pager_state st = {.page = 1, .prev_n = -1};
  enum { BATCH = 4 };
  http_req reqs[BATCH];
  while (!st.done) {
    /* Page 1 alone (it may say how paging goes); after a page shorter than
       asked, two pages to confirm the end (two, so that one empty page in
       the middle of a stream is caught by the records after it). */
    int k = st.page == 1 || c->test ? 1 : prev_short(pg, &st) ? 2 : BATCH;
    if (pg->last_page && k > pg->last_page - st.page + 1) k = (int)(pg->last_page - st.page + 1);
    if (k < 1) k = 1;
    for (int i = 0; i < k; i++) {
      pg->build(pg, st.page + i, &reqs[i]);
      reqs[i].want_json = 1;
    }
    int ok = http_batch(c->http, reqs, k, c->err, sizeof c->err);
    if (c->test) { /* one page: report it, and go on with the next resource */
      long n = ok && conn_ok(c, &reqs[0]) ? pg->count(pg, &reqs[0]) : -2;
      if (n == -1) snprintf(c->err, sizeof c->err, "the response is not a page of records");
      conn_report(c, pg->resource, n >= 0, n);
      http_req_clear(&reqs[0]);
      return 1;
    }
    for (int i = 0; ok && i < k && !st.done; i++) {
      int taken = take_page(pg, &st, &reqs[i]);
      ok = taken != 0;
      if (taken == 2) break; /* ask again from where the stream went on */
      if (taken == 1) st.page++;
    }
    for (int i = 0; i < k; i++) http_req_clear(&reqs[i]);
    if (!ok) return 0;
  }
  return 1;
}
