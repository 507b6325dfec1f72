/* http.c: batches of HTTP requests over libcurl's multi interface, with the
 * retry, backoff, rate-budget and TLS policy described in http.h. */
#include "http.h"

#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A broken server must not make us swallow memory: no page is this large. */
#define MAX_BODY (512u << 20)

struct http_client {
  http_options o;
  CURLM *multi;
  int budget_known;   /* a rate-limit header told us the budget */
  long budget;        /* requests left in the current window */
  double reset_at;    /* when the window resets (epoch seconds) */
  long window_mark;   /* `requests` when this client opened the window */
  int mark_exact;     /* window_mark is exact (we opened the window) */
  int probe;          /* one request at a time until a response opens the window */
  long requests, retries;
  double waited;
  unsigned rng;
};

typedef struct {
  char *p;
  size_t n, cap;
  int too_big;
} buf;

typedef struct {
  http_req *r;
  CURL *easy;
  struct curl_slist *hdrs;
  buf body, head;
  double not_before;
  enum { WAITING, INFLIGHT, DONE } state;
  int refreshed;      /* the 401 refresh has been used */
  long seq;           /* the client's request count when this attempt started */
  char errbuf[CURL_ERROR_SIZE];
} slot;

static double now_epoch(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_for(double seconds) {
  if (seconds <= 0) return;
  struct timespec t = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
  nanosleep(&t, NULL);
}

static double env_double(const char *name, double dflt) {
  const char *v = getenv(name);
  char *end;
  double d = v ? strtod(v, &end) : 0;
  return v && end != v && d > 0 ? d : dflt;
}

static void buf_add(buf *b, const char *data, size_t n) {
  if (b->too_big) return;
  if (b->n + n + 1 > MAX_BODY) {
    b->too_big = 1;
    return;
  }
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->n + n + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  buf_add(ud, data, size * nmemb);
  return ((buf *)ud)->too_big ? 0 : size * nmemb;
}

/* Header lines, names lowercased; a new status line (a 100 Continue, a
 * redirect) starts the block again. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud) {
  buf *b = ud;
  size_t n = size * nmemb;
  if (n >= 5 && !strncmp(data, "HTTP/", 5)) b->n = 0;
  size_t start = b->n;
  buf_add(b, data, n);
  if (b->too_big) return 0;
  for (size_t i = start; i < b->n && b->p[i] != ':'; i++) b->p[i] = (char)tolower((unsigned char)b->p[i]);
  return n;
}

/* ---- requests -------------------------------------------------------------- */

void http_req_init(http_req *r, const char *method, const char *url) {
  memset(r, 0, sizeof *r);
  r->method = method ? method : "GET";
  snprintf(r->url, sizeof r->url, "%s", url);
}

void http_req_header(http_req *r, const char *fmt, ...) {
  if (r->nheaders == HTTP_MAX_HEADERS) return;
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  r->headers[r->nheaders++] = strdup(line);
}

void http_req_body(http_req *r, const char *body, size_t len) {
  free(r->body);
  r->body = malloc(len + 1);
  memcpy(r->body, body, len);
  r->body[len] = 0;
  r->body_len = len;
}

static void clear_response(http_req *r) {
  free(r->resp);
  free(r->resp_headers);
  json_decref(r->json);
  r->resp = r->resp_headers = NULL;
  r->json = NULL;
  r->resp_len = 0;
  r->status = 0;
}

void http_req_clear(http_req *r) {
  for (int i = 0; i < r->nheaders; i++) {
    /* Authorization values never outlive the request. */
    memset(r->headers[i], 0, strlen(r->headers[i]));
    free(r->headers[i]);
  }
  if (r->body) memset(r->body, 0, r->body_len);
  free(r->body);
  clear_response(r);
  memset(r, 0, sizeof *r);
}

const char *http_resp_header(const http_req *r, const char *name, char *out, size_t size) {
  size_t n = strlen(name);
  for (const char *line = r->resp_headers; line && *line;) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    if (len > n && line[n] == ':' && !strncasecmp(line, name, n)) {
      const char *v = line + n + 1;
      while (*v == ' ' || *v == '\t') v++;
      size_t vl = (size_t)(line + len - v);
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) vl--;
      snprintf(out, size, "%.*s", (int)vl, v);
      return out;
    }
    line = eol ? eol + 1 : line + len;
  }
  return NULL;
}

void http_urlencode(const char *s, char *out, size_t size) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < size; s++) {
    unsigned char ch = (unsigned char)*s;
    if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') out[o++] = (char)ch;
    else {
      out[o++] = '%';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    }
  }
  out[o] = 0;
}

static const char *text_of(json_t *doc) {
  static const char *const keys[] = {"error_description", "imsx_description", "message", "error", "detail", "title", NULL};
  if (json_is_array(doc)) doc = json_array_get(doc, 0);
  if (!json_is_object(doc)) return NULL;
  for (int i = 0; keys[i]; i++) {
    json_t *v = json_object_get(doc, keys[i]);
    if (json_is_string(v) && json_string_length(v)) return json_string_value(v);
    if (json_is_object(v) && text_of(v)) return text_of(v); /* {"error": {"message": ...}} */
  }
  static const char *const nests[] = {"statusInfoSet", "errors", "imsx_statusInfo", NULL};
  for (int i = 0; nests[i]; i++) {
    const char *t = text_of(json_object_get(doc, nests[i]));
    if (t) return t;
  }
  return NULL;
}

const char *http_error_text(const http_req *r, char *out, size_t size) {
  json_t *doc = r->resp ? json_loadb(r->resp, r->resp_len, 0, NULL) : NULL;
  const char *t = text_of(doc);
  if (t) snprintf(out, size, "%s", t);
  else {
    size_t n = r->resp ? strcspn(r->resp, "\r\n") : 0;
    snprintf(out, size, "%.*s", (int)(n > 200 ? 200 : n), r->resp ? r->resp : "");
    for (char *p = out; *p; p++)
      if ((unsigned char)*p < 32) *p = ' ';
  }
  json_decref(doc);
  return out;
}

/* ---- the client ------------------------------------------------------------ */

int http_url_allowed(const char *url, char *err, size_t errsize) {
  if (!strncasecmp(url, "https://", 8)) return 1;
  if (!strncasecmp(url, "http://", 7)) {
    const char *h = url + 7;
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]", NULL};
    for (int i = 0; loopback[i]; i++) {
      size_t n = strlen(loopback[i]);
      if (!strncasecmp(h, loopback[i], n) && (h[n] == ':' || h[n] == '/' || h[n] == 0)) return 1;
    }
    snprintf(err, errsize, "%s: plain http is refused (credentials would cross the network unencrypted); use https", url);
    return 0;
  }
  snprintf(err, errsize, "%s: not an http(s) URL", url);
  return 0;
}

http_client *http_new(const http_options *o, char *err, size_t errsize) {
  static int global_done;
  if (!global_done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
      snprintf(err, errsize, "libcurl could not be initialised");
      return NULL;
    }
    global_done = 1;
  }
  http_client *c = calloc(1, sizeof *c);
  c->o = *o;
  if (c->o.max_inflight <= 0) c->o.max_inflight = 4;
  if (c->o.max_attempts <= 0) c->o.max_attempts = (int)env_double("SYNC_HTTP_ATTEMPTS", 6);
  if (c->o.timeout <= 0) c->o.timeout = env_double("SYNC_HTTP_TIMEOUT", 120);
  if (c->o.backoff <= 0) c->o.backoff = env_double("SYNC_HTTP_BACKOFF", 0.5);
  if (c->o.max_wait <= 0) c->o.max_wait = env_double("SYNC_HTTP_MAX_WAIT", 900);
  c->multi = curl_multi_init();
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->o.max_inflight);
  c->rng = (unsigned)time(NULL) ^ (unsigned)(size_t)c;
  c->mark_exact = c->probe = 1; /* a new client's first request opens its window */
  return c;
}

void http_free(http_client *c) {
  if (!c) return;
  curl_multi_cleanup(c->multi);
  free(c);
}

void http_counters(const http_client *c, long *requests, long *retries, double *waited) {
  *requests = c->requests;
  *retries = c->retries;
  *waited = c->waited;
}

/* ---- the rate budget ----------------------------------------------------------- */

static const char *first_header(const http_req *r, const char *const *names, char *out, size_t size) {
  for (int i = 0; names[i]; i++)
    if (http_resp_header(r, names[i], out, size)) return out;
  return NULL;
}

/* A reset value: epoch seconds (Veracross) or seconds from now (the
 * RateLimit-Reset draft, older APIs). */
static double reset_time(const char *v, double now) {
  double d = strtod(v, NULL);
  return d > 1e9 ? d : now + d;
}

/* Reads the vendor's rate-limit headers.  When this client opened the
 * window itself (a fresh client, or the first request after waiting for a
 * reset, sent alone), the budget is its own count: limit minus the requests
 * started since, exact whatever order the server counts concurrent requests
 * in; the server's remaining rules only when it is lower (someone else
 * spends the same budget).  A window that rolled over on its own is counted
 * from the server's figures, conservatively.  Responses from a window already
 * closed are ignored. */
static void note_rate(http_client *c, const http_req *r, long seq) {
  static const char *const rem_names[] = {"x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining", NULL};
  static const char *const reset_names[] = {"x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset", NULL};
  static const char *const limit_names[] = {"x-rate-limit-limit", "x-ratelimit-limit", "ratelimit-limit", NULL};
  char rem[64], rst[64], lim[64];
  if (!first_header(r, rem_names, rem, sizeof rem) || !first_header(r, reset_names, rst, sizeof rst)) return;
  double now = now_epoch(), reset_at = reset_time(rst, now);
  long remaining = strtol(rem, NULL, 10), after = c->requests - seq; /* started after this one */
  long limit = first_header(r, limit_names, lim, sizeof lim) ? strtol(lim, NULL, 10) : 0;
  if (c->budget_known && reset_at < c->reset_at - 0.5) return;
  c->probe = 0;
  if (!c->budget_known || reset_at > c->reset_at + 0.5) { /* a new window */
    if (c->budget_known) c->mark_exact = 0;              /* it rolled over on its own */
    c->budget_known = 1;
    c->reset_at = reset_at;
    c->budget = remaining - after;
  }
  long own = limit - (c->requests - c->window_mark);
  if (limit > 0 && c->mark_exact && remaining >= own) c->budget = own;
  else if (remaining - after < c->budget) c->budget = remaining - after;
}

/* Seconds to wait before another request may start (0: go).  After the
 * wait, the next request goes alone and opens the new window. */
static double budget_wait(http_client *c, double now) {
  if (!c->budget_known || c->budget > 0) return 0;
  if (now >= c->reset_at + 0.05) {
    c->budget_known = 0;
    c->window_mark = c->requests;
    c->mark_exact = 1;
    c->probe = 1;
    return 0;
  }
  return c->reset_at + 0.05 - now;
}

/* ---- one attempt ---------------------------------------------------------------- */

static int start(http_client *c, slot *s, char *err, size_t errsize) {
  http_req *r = s->r;
  clear_response(r);
  s->body.n = s->head.n = 0;
  s->body.too_big = s->head.too_big = 0;
  s->hdrs = NULL;
  for (int i = 0; i < r->nheaders; i++) s->hdrs = curl_slist_append(s->hdrs, r->headers[i]);
  if (!r->no_auth && c->o.auth) {
    const char *a = c->o.auth(c->o.ctx, r, s->refreshed == 1, err, errsize);
    if (s->refreshed == 1) s->refreshed = 2;
    if (!a) {
      curl_slist_free_all(s->hdrs);
      s->hdrs = NULL;
      return 0;
    }
    char line[8192];
    snprintf(line, sizeof line, "Authorization: %s", a);
    s->hdrs = curl_slist_append(s->hdrs, line);
    memset(line, 0, sizeof line);
  }
  s->hdrs = curl_slist_append(s->hdrs, "Expect:");
  CURL *e = curl_easy_init();
  s->easy = e;
  s->errbuf[0] = 0;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->o.ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, c->o.ca_file);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(fmin(c->o.timeout, 15) * 1000));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->o.timeout * 1000));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "syncvm/1 (+https://github.com/syncc)");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &s->head);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, s);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  if (!strcmp(r->method, "POST")) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)r->body_len);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  curl_multi_add_handle(c->multi, e);
  r->attempts++;
  c->requests++;
  s->seq = c->requests;
  if (c->budget_known) c->budget--;
  s->state = INFLIGHT;
  return 1;
}

static void stop(http_client *c, slot *s) {
  if (s->easy) {
    curl_multi_remove_handle(c->multi, s->easy);
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
  }
  curl_slist_free_all(s->hdrs); /* holds a copy of the Authorization line */
  s->hdrs = NULL;
}

static int retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return 1;
    default:
      return 0;
  }
}

/* How long to wait before the next attempt: what the server asked for
 * (Retry-After, or the rate window's reset on a 429), else exponential
 * backoff with jitter. */
static double retry_delay(http_client *c, const slot *s) {
  char v[128];
  double now = now_epoch();
  if (http_resp_header(s->r, "retry-after", v, sizeof v)) {
    char *end;
    double d = strtod(v, &end);
    if (end != v) return d;
    time_t when = curl_getdate(v, NULL);
    if (when > 0) return (double)when - now;
  }
  static const char *const reset_names[] = {"x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset", NULL};
  if (s->r->status == 429 && first_header(s->r, reset_names, v, sizeof v)) {
    /* This response's own window, not what earlier ones said: the server
       has just told us the budget is spent until then, for every request. */
    double at = reset_time(v, now);
    c->budget_known = 1;
    c->budget = 0;
    c->reset_at = at;
    return at + 0.05 - now;
  }
  double d = c->o.backoff * pow(2, s->r->attempts - 1);
  if (d > 30) d = 30;
  c->rng = c->rng * 1103515245u + 12345u;
  return d * (0.5 + 0.5 * (double)((c->rng >> 8) % 1000) / 1000.0);
}

/* Decides what a finished attempt means: 1 done, 0 retry (not_before set),
 * -1 failed for good (req->error says why). */
static int finish(http_client *c, slot *s, CURLcode rc) {
  http_req *r = s->r;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
  r->resp = s->body.p ? s->body.p : strdup("");
  r->resp_len = s->body.n;
  r->resp_headers = s->head.p ? s->head.p : strdup("");
  s->body = (buf){0};
  s->head = (buf){0};
  stop(c, s);
  note_rate(c, r, s->seq);
  c->probe = 0; /* any answer ends the probe, with or without rate headers */
  char why[400] = "";
  if (rc != CURLE_OK) {
    snprintf(why, sizeof why, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
    if (!retryable_curl(rc)) {
      snprintf(r->error, sizeof r->error, "%s %s: %s", r->method, r->url, why);
      return -1;
    }
    r->status = 0;
  } else if (r->status == 401 && !r->no_auth && c->o.auth && !s->refreshed) {
    s->refreshed = 1; /* a new credential, once, right away */
    s->not_before = 0;
    return 0;
  } else if (r->status == 429 || r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504) {
    snprintf(why, sizeof why, "HTTP %ld", r->status);
  } else if (r->status >= 200 && r->status < 300 && r->want_json) {
    json_error_t je;
    r->json = json_loadb(r->resp, r->resp_len, 0, &je);
    if (!r->json) snprintf(why, sizeof why, "the response is not JSON (line %d, column %d: %s)", je.line, je.column, je.text);
  }
  if (!why[0]) return 1;
  double delay = retry_delay(c, s);
  if (r->attempts >= c->o.max_attempts || delay > c->o.max_wait) {
    snprintf(r->error, sizeof r->error, "%s %s: %s%s (after %d attempt%s)", r->method, r->url, why,
             delay > c->o.max_wait ? ", and the server asks to wait longer than the run may" : "", r->attempts,
             r->attempts == 1 ? "" : "s");
    return -1;
  }
  c->retries++;
  s->not_before = now_epoch() + (delay > 0 ? delay : 0);
  return 0;
}

/* ---- batches ------------------------------------------------------------------- */

static double next_start(const slot *slots, int n, double now) {
  double t = now + 1;
  for (int i = 0; i < n; i++)
    if (slots[i].state == WAITING && slots[i].not_before < t) t = slots[i].not_before;
  return t;
}

int http_batch(http_client *c, http_req *reqs, int n, char *err, size_t errsize) {
  slot *slots = calloc((size_t)(n ? n : 1), sizeof *slots);
  for (int i = 0; i < n; i++) {
    slots[i].r = &reqs[i];
    reqs[i].attempts = 0;
    reqs[i].error[0] = 0;
  }
  int done = 0, inflight = 0, failed = -1;
  while (done < n && failed < 0) {
    double now = now_epoch();
    for (int i = 0; i < n && inflight < c->o.max_inflight && failed < 0; i++) {
      if (slots[i].state != WAITING || slots[i].not_before > now) continue;
      if (c->probe && inflight > 0) break; /* the window opener goes alone */
      double wait = budget_wait(c, now);
      if (wait > c->o.max_wait) {
        snprintf(reqs[i].error, sizeof reqs[i].error,
                 "%s %s: the rate limit is spent and resets in %.0f s, longer than the run may wait (%.0f s)", reqs[i].method,
                 reqs[i].url, wait, c->o.max_wait);
        failed = i;
        break;
      }
      if (wait > 0) {
        if (inflight == 0) { /* nothing to read meanwhile: sit out the window */
          if (c->o.on_wait) c->o.on_wait(c->o.ctx, wait);
          sleep_for(wait);
          c->waited += wait;
          now = now_epoch();
          i--;
          continue;
        }
        break;
      }
      if (!start(c, &slots[i], reqs[i].error, sizeof reqs[i].error)) failed = i;
      else inflight++;
    }
    if (failed >= 0) break;
    if (inflight) {
      curl_multi_poll(c->multi, NULL, 0, 100, NULL);
    } else {
      double t = next_start(slots, n, now) - now;
      sleep_for(t > 1 ? 1 : t);
      continue;
    }
    int running;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      slot *s;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      CURLcode rc = m->data.result;
      inflight--;
      int fate = finish(c, s, rc);
      s->state = fate == 0 ? WAITING : DONE;
      if (fate == 1) done++;
      if (fate < 0 && failed < 0) failed = (int)(s - slots);
    }
  }
  for (int i = 0; i < n; i++) {
    stop(c, &slots[i]);
    free(slots[i].body.p);
    free(slots[i].head.p);
  }
  free(slots);
  if (failed >= 0) {
    snprintf(err, errsize, "%s", reqs[failed].error);
    return 0;
  }
  return 1;
}

int http_send(http_client *c, http_req *req, char *err, size_t errsize) { return http_batch(c, req, 1, err, errsize); }
