/* connector.h: pulling network sources (veracross, powerschool, oneroster,
 * synergy, xpress) into recorded responses.
 *
 * A network source is read in two steps.  The connector pulls every page of
 * every resource the source's entities need and writes each response body,
 * as the vendor sent it, into a directory in the replay layout (docs/
 * runtime.md); then the replay decoders in feed.c read that directory, a
 * record at a time, exactly as `--replay` does.  So a live run, a replayed
 * recording and `syncvm fetch --record` share one decoder, and a pull that
 * fails half way fails before the pipeline sees a record: a broken pull can
 * never look like records that disappeared (and so never deletes anything).
 */
#ifndef SYNC_CONNECTOR_H
#define SYNC_CONNECTOR_H

#include <stdio.h>

#include "http.h"
#include "oauth.h"
#include "plan.h"

typedef struct conn {
  const plan *p;
  uint32_t source;
  const char *name;
  int kind;
  unsigned feeds;           /* bit e: the source feeds entity e */
  int bulk;
  http_client *http;        /* data requests */
  http_client *token_http;  /* token requests (never nested in a data batch) */
  oauth auth;
  char base[2048];          /* the vendor's base URL, without a trailing / */
  char ca_file[1024];       /* the ca_file setting ("" for the system CAs) */
  char dir[1024];           /* where pages go; "" when testing */
  char since[40];           /* incremental pull from this UTC time, "" for all */
  int test;                 /* test-connection: one small page per resource */
  FILE *report;             /* test-connection: one line per resource */
  int failures;             /* test-connection: resources that failed */
  /* progress on a terminal */
  FILE *progress;
  double t0;
  long records, pages;
  double bytes;
  char resource[160];
  char err[1600];
} conn;

/* What a pull cost, for --stats. */
typedef struct {
  long requests, retries, pages, records;
  double bytes, seconds, waited; /* waited: for rate-limit windows */
} conn_stats;

typedef struct {
  conn_stats *stats;        /* filled by conn_fetch when set */
  const char *since;        /* the last applied run's time, for incremental pulls */
  int progress;             /* a progress line on stderr */
  int test;                 /* test-connection */
  FILE *report;
} conn_options;

/* Whether a kind is pulled over the network. */
int conn_is_network(int kind);
/* Pulls source `source` into DIR (created).  0 and a message on failure. */
int conn_fetch(const plan *p, uint32_t source, const char *dir, const conn_options *o, char *err, size_t errsize);
/* test-connection: authenticates and reads one page of each resource the
 * source's entities use, printing a line per resource to o->report.
 * Returns the number of failures (-1 when it could not even start). */
int conn_test(const plan *p, uint32_t source, const conn_options *o, char *err, size_t errsize);

/* ---- for the vendor files ---------------------------------------------------- */

/* Writes one response body as DIR/RESOURCE/NNNNNN.json. */
int conn_save(conn *c, const char *resource, int page, const char *body, size_t len);
/* Checks a final response: 1 for a 2xx; else 0 with c->err naming the
 * request and the vendor's own error text. */
int conn_ok(conn *c, const http_req *r);
/* Progress: a page of `n` records of `resource` arrived. */
void conn_progress(conn *c, const char *resource, long n);
/* test-connection: reports one resource as OK (n records on its first page)
 * or failed (the message in c->err). */
void conn_report(conn *c, const char *resource, int ok, long n);
/* A setting of the source (secrets resolved), or NULL. */
const char *conn_setting(conn *c, const char *key, char *buf, size_t size);
int conn_feeds(const conn *c, int entity);

/* Numbered pages of one resource, fetched a batch at a time.  Vendors say
 * how to ask for page N and how many records a page holds; the pager finds
 * the end (the known last page, else a short page followed by an empty one,
 * else two empty pages), refetches a page that came back empty in the middle
 * of the stream, saves every page by its number and reports progress. */
typedef struct pager {
  conn *c;
  const char *resource;       /* saved under this name; named in messages */
  void (*build)(struct pager *pg, int page, http_req *r);
  long (*count)(struct pager *pg, http_req *r);       /* records on a page; -1: not a page */
  void (*first)(struct pager *pg, http_req *r, long n); /* optional: learn paging from page 1 */
  long last_page;             /* 0: unknown */
  long asked;                 /* records asked for per page (0: unknown) */
  long step;                  /* records per page, for offset paging */
  long total;                 /* -1 unknown */
  long records;               /* records saved */
  void *ud;
} pager;

int pager_run(pager *pg);

int veracross_fetch(conn *c);
void veracross_prepare(conn *c);         /* the scopes the pull needs */
void veracross_diagnose_scopes(conn *c); /* test-connection: which scope is missing */
void oneroster_prepare(conn *c);
int powerschool_fetch(conn *c);
int oneroster_fetch(conn *c);
int xpress_fetch(conn *c);

#endif
