/* http.h: the one HTTP layer every network connector uses (libcurl).
 *
 * A client belongs to one source.  It sends batches of requests, up to
 * max_inflight at once over reused connections (curl multi), and owns the
 * policy every vendor shares:
 *   - TLS is always verified (ca_file adds a private CA); plain http is
 *     refused except to the loopback address, where the test mocks live;
 *   - gzip/deflate bodies, connect and transfer timeouts;
 *   - retries with exponential backoff and jitter on timeouts, resets,
 *     truncated bodies, 5xx, 429 and (when a request asks for JSON) bodies
 *     that do not parse; Retry-After is honoured;
 *   - a request budget read from the vendor's rate-limit headers
 *     (X-Rate-Limit-Remaining/Reset and the usual variants): when it runs
 *     out the client waits for the window to reset instead of earning a 429;
 *   - on a 401 the auth hook is asked for a fresh credential, once.
 * Nothing here logs a header or a body: secrets travel only in requests.
 */
#ifndef SYNC_HTTP_H
#define SYNC_HTTP_H

#include <jansson.h>
#include <stddef.h>

typedef struct http_client http_client;

#define HTTP_MAX_HEADERS 8

typedef struct http_req {
  /* request */
  const char *method;                  /* "GET" (default) or "POST" */
  char url[2048];
  char *headers[HTTP_MAX_HEADERS];     /* "Name: value", owned (freed by http_req_clear) */
  int nheaders;
  char *body;                          /* owned */
  size_t body_len;
  int want_json;                       /* parse the body; a 2xx that is not JSON is retried */
  int no_auth;                         /* do not call the auth hook (token requests) */
  int auth_gen;                        /* set by the auth hook: which credential it sent */
  /* response */
  long status;                         /* 0 when no response arrived */
  char *resp;                          /* NUL-terminated body */
  size_t resp_len;
  char *resp_headers;                  /* the last response's header block, lowercase names */
  json_t *json;                        /* want_json and 2xx: the parsed body */
  int attempts;
  char error[3200];                    /* why it failed, when it did (no secrets) */
} http_req;

/* The Authorization header value for `req` (bearer token, OAuth 1.0a
 * signature); `refresh` after a 401 asks for a new credential.  NULL and a
 * message when none can be had. */
typedef const char *(*http_auth_fn)(void *ctx, http_req *req, int refresh, char *err, size_t errsize);
/* Told how long the client waits for a rate-limit window (for progress). */
typedef void (*http_wait_fn)(void *ctx, double seconds);

typedef struct {
  const char *source;    /* names the source in messages */
  const char *ca_file;   /* a PEM bundle of private CAs, or NULL */
  int max_inflight;      /* default 4 */
  int max_attempts;      /* default 6 (SYNC_HTTP_ATTEMPTS) */
  double timeout;        /* seconds per attempt, default 120 (SYNC_HTTP_TIMEOUT) */
  double backoff;        /* first retry delay in seconds, default 0.5 (SYNC_HTTP_BACKOFF) */
  double max_wait;       /* the longest Retry-After or reset wait accepted, default 900 s */
  http_auth_fn auth;
  http_wait_fn on_wait;
  void *ctx;
} http_options;

http_client *http_new(const http_options *o, char *err, size_t errsize);
void http_free(http_client *c);

/* Whether the URL may be used: https, or http to 127.0.0.1/localhost/[::1]. */
int http_url_allowed(const char *url, char *err, size_t errsize);

/* Sends every request of the batch (retrying as above) and returns 1 when
 * each has a final response: a 2xx, or an error status that retrying does
 * not cure (the caller reads req->status and req->resp).  Returns 0 when a
 * request failed for good (timeouts, resets, retries exhausted): its
 * req->error says why, and `err` too. */
int http_batch(http_client *c, http_req *reqs, int n, char *err, size_t errsize);
/* One request. */
int http_send(http_client *c, http_req *req, char *err, size_t errsize);

/* Request building. */
void http_req_init(http_req *r, const char *method, const char *url);
void http_req_header(http_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void http_req_body(http_req *r, const char *body, size_t len);
/* Frees what the request owns (headers, body, response) and zeroes it. */
void http_req_clear(http_req *r);
/* The value of a response header (name in any case), copied into buf; NULL when absent. */
const char *http_resp_header(const http_req *r, const char *name, char *buf, size_t size);

/* The vendor's own error text in an error response body (error_description,
 * error, message, imsx_description, ...), else the first 200 bytes of it. */
const char *http_error_text(const http_req *r, char *out, size_t size);

/* Percent-encodes per RFC 3986 (unreserved characters kept). */
void http_urlencode(const char *s, char *out, size_t size);
/* Requests sent and seconds spent waiting for rate limits, for --stats. */
void http_counters(const http_client *c, long *requests, long *retries, double *waited);

#endif
