/* main.c: the syncvm command line.
 *
 *   syncvm plan PLAN [--summary] [--json] [-o RUNFILE]    what a run would do (exit 0 none, 2 changes, 1 error)
 *   syncvm apply PLAN|RUNFILE [--json]                    apply it (exit 0), or park it for approval (exit 3)
 *   syncvm approve RUN [--only creates,updates,deletes] [--school CODE] [--by NAME]
 *   syncvm reject RUN
 *   syncvm history [--json]
 *   syncvm show RUN [--json]
 *   syncvm duplicates list|show CASE|merge CASE [--into HUB_ID]|new CASE|ignore CASE|delete CASE [--json]
 *   syncvm why ENTITY ID [--json]
 *   syncvm fetch PLAN --record DIR [SOURCE...]           pull network sources into recordings for --replay
 *   syncvm test-connection PLAN [SOURCE...]              a token and one page of each resource, OK or the vendor's error
 *   --stats (plan, apply): seconds per phase and records per second
 *   common: --store PATH (else $SYNC_STORE, else ./hub.db); --trace prints every
 *   VM instruction (to stderr) through the disassembler's routine
 *
 * The store is written only in one transaction per command; a second writer
 * waits STORE_BUSY_MS and then fails with a message.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "feed.h"
#include "history.h"
#include "hugepages.h"
#include "outfile.h"
#include "pipeline.h"
#include "plan.h"
#include "runfile.h"
#include "store.h"


typedef struct {
  const char *store_path;
  int json, summary, trace, stats;
  const char *out, *only, *school, *by, *into, *record;
  const char *replay[16];
  int nreplay;
  const char *args[4];
  int nargs;
} opts;

static void usage(FILE *f) {
  fputs("usage: syncvm plan PLAN [--summary] [--json] [-o RUNFILE] [--replay SOURCE=DIR]\n"
        "       syncvm apply PLAN|RUNFILE [--json] [--replay SOURCE=DIR]\n"
        "       syncvm approve RUN [--only creates,updates,deletes] [--school CODE] [--by NAME]\n"
        "       syncvm reject RUN\n"
        "       syncvm fetch PLAN --record DIR [SOURCE...]\n"
        "       syncvm test-connection PLAN [SOURCE...]\n"
        "       syncvm history [--json]\n"
        "       syncvm show RUN [--json]\n"
        "       syncvm duplicates list|show|merge|new|ignore|delete [CASE] [--into HUB_ID] [--json]\n"
        "       syncvm why ENTITY ID [--json]\n"
        "options: --store PATH (else $SYNC_STORE, else ./hub.db), --trace and --stats (plan, apply)\n",
        f);
}

static int parse_opts(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->store_path = getenv("SYNC_STORE") ? getenv("SYNC_STORE") : "hub.db";
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--store") ? &o->store_path : !strcmp(a, "-o") ? &o->out : !strcmp(a, "--only") ? &o->only
                      : !strcmp(a, "--school") ? &o->school : !strcmp(a, "--by") ? &o->by : !strcmp(a, "--into") ? &o->into
                      : !strcmp(a, "--record") ? &o->record : NULL;
    if (slot) {
      if (i + 1 >= argc) {
        fprintf(stderr, "syncvm: %s needs a value\n", a);
        return 0;
      }
      *slot = argv[++i];
    } else if (!strcmp(a, "--json")) o->json = 1;
    else if (!strcmp(a, "--summary")) o->summary = 1;
    else if (!strcmp(a, "--trace")) o->trace = 1;
    else if (!strcmp(a, "--stats")) o->stats = 1;
    else if (!strcmp(a, "--replay")) {
      if (i + 1 >= argc || !strchr(argv[i + 1], '=') || o->nreplay == 16) {
        fprintf(stderr, "syncvm: --replay takes SOURCE=DIR\n");
        return 0;
      }
      o->replay[o->nreplay++] = argv[++i];
    }
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "syncvm: unknown option %s\n", a);
      return 0;
    } else if (o->nargs < 4) o->args[o->nargs++] = a;
  }
  return 1;
}

static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errsize) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errsize, "cannot read %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  size_t got;
  while ((got = fread(b + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      if (cap >= PLAN_MAX_BYTES) break;
      cap *= 2;
      b = realloc(b, cap);
    }
  }
  fclose(f);
  *len = n;
  return b;
}

/* Prints a JSON document (indented, keys in insertion order) and frees it. */
static void put_json(json_t *doc) {
  char *t = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (t) puts(t);
  free(t);
  json_decref(doc);
}

static int open_store(store *s, const opts *o) {
  char err[1200];
  if (!store_open(s, o->store_path, err, sizeof err)) {
    fprintf(stderr, "syncvm: %s\n", err);
    return 0;
  }
  return 1;
}

/* Whether the directory a file would be made in exists. */
static int dir_of_exists(const char *path) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) slash[1] = '\0';
  else *slash = '\0';
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* plan is a dry run: where there is no hub yet, it plans against an empty
 * one made in memory instead of creating the file (and syncing it to disk,
 * 0.2 s of a first sync's plan); apply creates it.  A path whose directory
 * does not exist is opened as given, to fail saying so. */
static int open_store_to_plan(store *s, const opts *o) {
  struct stat st;
  if (stat(o->store_path, &st) == 0 || errno != ENOENT || !dir_of_exists(o->store_path)) return open_store(s, o);
  char err[1200];
  if (!store_open(s, ":memory:", err, sizeof err)) {
    fprintf(stderr, "syncvm: %s: %s\n", o->store_path, err);
    return 0;
  }
  snprintf(s->path, sizeof s->path, "%s", o->store_path); /* what messages name */
  return 1;
}

/* BEGIN IMMEDIATE: the one-writer lock, with a clear message when busy. */
static int begin_write(store *s) {
  char err[1200];
  if (!store_exec(s, "BEGIN IMMEDIATE", err, sizeof err)) {
    if (sqlite3_errcode(s->db) == SQLITE_BUSY || strstr(err, "locked"))
      fprintf(stderr, "syncvm: %s is being written by another syncvm (waited %.1f s); try again when it has finished\n",
              s->path, s->busy_ms / 1000.0);
    else
      fprintf(stderr, "syncvm: %s\n", err);
    return 0;
  }
  return 1;
}

static void now_text(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds the run's row to the history; its operations too, unless
 * `with_ops` is 0 (a thread is compressing them: hist_finish stores them). */
static int64_t record_run(store *s, const run_result *r, const char *status, int with_ops, const uint8_t *plan_bytes,
                          size_t plan_len) {
  json_t *counts = run_counts_json(r);
  char *counts_t = json_dumps(counts, JSON_COMPACT), *report_t = json_dumps(r->report, JSON_COMPACT);
  char now[32];
  now_text(now, sizeof now);
  sqlite3_stmt *st;
  int64_t id = 0;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO sync_runs (created, finished, status, plan_sha, spec_sha, hub_version, counts, report, held_by)"
                         " VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->plan_sha, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->spec_sha, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, r->hub_version);
    sqlite3_bind_text(st, 6, counts_t, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, report_t, -1, SQLITE_STATIC);
    if (r->held[0]) sqlite3_bind_text(st, 8, r->held, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE) id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
  }
  char err[300];
  if (id && with_ops && !run_record_history(r, s, id, strcmp(status, "parked") == 0, err, sizeof err)) {
    fprintf(stderr, "syncvm: %s\n", err);
    id = 0;
  }
  (void)plan_bytes, (void)plan_len;
  free(counts_t), free(report_t);
  json_decref(counts);
  return id;
}

static int bump_version(store *s) {
  char err[300];
  return store_exec(s, "UPDATE sync_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'hub_version'", err, sizeof err);
}

/* Loads a plan file (verified) or a run file. */
static plan *load_plan(const char *path, uint8_t **bytes, size_t *len) {
  char err[400];
  *bytes = slurp(path, len, err, sizeof err);
  if (!*bytes) {
    fprintf(stderr, "syncvm: %s\n", err);
    return NULL;
  }
  plan *p = plan_read(*bytes, *len, err, sizeof err);
  if (!p) fprintf(stderr, "%s: %s\n", path, err);
  return p;
}

static const opts *current_opts;
static char fetch_report[4096]; /* one line per source pulled, for --stats */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

/* Removes a temporary pull directory (nothing when `dir` is ""). */
static void remove_tree(const char *dir) {
  if (dir[0]) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The time of the last applied run: a source that is not bulk pulls what
 * changed since then. */
static void last_applied(store *s, char *out, size_t size) {
  sqlite3_stmt *st;
  out[0] = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT max(created) FROM sync_runs WHERE status = 'applied'", -1, &st, NULL) != SQLITE_OK) return;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

static int wanted_source(const plan *p, uint32_t i, const char *const *names, int n) {
  if (!n) return 1;
  for (int k = 0; k < n; k++)
    if (!strcmp(names[k], plan_str(p, p->sources[i].name))) return 1;
  return 0;
}

/* Pulls every network source that is not replayed (or only those named)
 * into DIR/SOURCE and replays it from there: DIR is `root` when recording,
 * else a new temporary directory (its path left in `made`, for removal).
 * The whole pull happens before the pipeline reads a record. */
static int fetch_sources(plan *p, store *s, const char *root, const char *const *names, char *made, size_t madesize) {
  made[0] = 0;
  char since[64] = "";
  if (s) last_applied(s, since, sizeof since);
  int nnames = 0;
  while (names && names[nnames]) nnames++;
  conn_options co = {.since = since[0] ? since : NULL,
                     .progress = isatty(2) && !(current_opts && current_opts->json)};
  for (uint32_t i = 0; i < p->nsources; i++) {
    if (!conn_is_network(p->sources[i].kind) || feed_has_replay(i) || !wanted_source(p, i, names, nnames)) continue;
    char err[2000], dir[2048];
    if (!feed_check_settings(p, i, err, sizeof err)) {
      fprintf(stderr, "syncvm: %s\nsyncvm: nothing was applied; the hub is unchanged\n", err);
      return 0;
    }
    if (!root && !made[0]) {
      const char *tmp = getenv("TMPDIR");
      snprintf(made, madesize, "%s/syncvm-pull-XXXXXX", tmp && *tmp ? tmp : "/tmp");
      if (!mkdtemp(made)) {
        fprintf(stderr, "syncvm: cannot create a temporary directory %s: %s\n", made, strerror(errno));
        made[0] = 0;
        return 0;
      }
    }
    snprintf(dir, sizeof dir, "%s/%s", root ? root : made, plan_str(p, p->sources[i].name));
    conn_stats st = {0};
    co.stats = &st;
    if (!conn_fetch(p, i, dir, &co, err, sizeof err)) {
      fprintf(stderr, "syncvm: %s\nsyncvm: nothing was applied; the hub is unchanged\n", err);
      remove_tree(made);
      made[0] = 0;
      return 0;
    }
    feed_set_replay(p, plan_str(p, p->sources[i].name), dir);
    size_t n = strlen(fetch_report);
    snprintf(fetch_report + n, sizeof fetch_report - n,
             "fetch %-12s %8.3f s  %ld requests (%ld retried), %ld pages, %ld records, %.1f MB, %.1f s waiting for rate limits\n",
             plan_str(p, p->sources[i].name), st.seconds, st.requests, st.retries, st.pages, st.records, st.bytes / 1e6, st.waited);
  }
  return 1;
}

/* --stats, after the phases: what each pull cost (HTTP and the JSON check
 * of every page; the pages are decoded again by the read phase), and
 * whether malloc asked for huge pages (hugepages.h). */
static void print_process_stats(FILE *out) {
  fputs(fetch_report, out);
  fprintf(out, "huge pages              %s\n", hugepages_state());
}

/* Computes the run of the plan at plan_path into r, its operations into
 * `ops` (taken; NULL: a temporary oplog). */
static int compute(const char *plan_path, store *s, run_result *r, uint8_t **bytes, size_t *len, plan **pp, oplog *ops,
                   FILE *trace) {
  *pp = load_plan(plan_path, bytes, len);
  if (!*pp) return oplog_free(ops), 2;
  for (int i = 0; current_opts && i < current_opts->nreplay; i++) {
    char name[256];
    const char *eq = strchr(current_opts->replay[i], '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - current_opts->replay[i]), current_opts->replay[i]);
    if (!feed_set_replay(*pp, name, eq + 1)) {
      fprintf(stderr, "syncvm: --replay %s: the plan has no source %s\n", current_opts->replay[i], name);
      return oplog_free(ops), 2;
    }
  }
  char fetched[1024];
  if (!fetch_sources(*pp, s, NULL, NULL, fetched, sizeof fetched)) return oplog_free(ops), 1;
  if (isatty(2) && !(current_opts && current_opts->json)) feed_progress(stderr);
  int ok = run_compute(*pp, *bytes, *len, s, r, ops, trace);
  remove_tree(fetched);
  if (!ok) {
    fprintf(stderr, "syncvm: %s\nsyncvm: nothing was applied; the hub is unchanged\n", r->error);
    return 1;
  }
  return 0;
}

static void print_result_as(const run_result *r, const opts *o, int64_t run_id, const char *status) {
  if (o->json) {
    json_t *extra = json_object();
    if (run_id) json_object_set_new(extra, "run", json_integer(run_id));
    if (status) json_object_set_new(extra, "status", json_string(status));
    run_write_json(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER, extra);
    putchar('\n');
    json_decref(extra);
  } else {
    run_print(r, stdout, o->summary);
  }
}

static void print_result(const run_result *r, const opts *o) { print_result_as(r, o, 0, NULL); }

static int cmd_plan(const opts *o) {
  if (o->nargs != 1) return usage(stderr), 2;
  store s;
  if (!open_store_to_plan(&s, o)) return 1;
  out_file w;
  if (o->out && !out_open(&w, o->out)) return store_close(&s), 1;
  /* --summary alone shows the counts: the operations are counted, not
   * kept (a temporary oplog was 400 MB at 100,000 students). */
  oplog *ops = o->out ? run_file_begin(w.f) : o->summary && !o->json ? oplog_counter() : NULL;
  run_result r;
  memset(&r, 0, sizeof r);
  uint8_t *bytes = NULL;
  size_t len;
  plan *p = NULL;
  int rc = o->out && !ops ? 1 : compute(o->args[0], &s, &r, &bytes, &len, &p, ops, o->trace ? stderr : NULL);
  if (rc == 0) {
    print_result(&r, o);
    errno = 0;
    if (o->out && !out_close(&w, o->out, run_file_end(&r, w.f))) {
      fprintf(stderr, "syncvm: cannot write %s%s%s\n", o->out, errno ? ": " : "", errno ? strerror(errno) : "");
      rc = 1;
    }
    if (!rc) rc = run_has_changes(&r) ? 2 : 0;
    if (o->stats && !o->json) run_print_stats(&r, stdout), print_process_stats(stdout);
  } else if (o->out) {
    if (!ops) fprintf(stderr, "syncvm: cannot write %s\n", o->out);
    out_close(&w, o->out, 0);
  }
  run_free(&r);
  plan_free(p);
  free(bytes);
  store_close(&s);
  return rc;
}

/* The end of an apply: commits the run (the hub's version one more) and
 * says so, or, when it failed (!ok, with err) or cannot commit, rolls it
 * back and says why.  1 when committed.  t0: when writing began. */
static int end_apply(store *s, run_result *r, const opts *o, int64_t id, int ok, char *err, size_t errsize,
                     const struct timespec *t0) {
  if (!ok || !bump_version(s) || !store_exec(s, "COMMIT", err, errsize)) {
    fprintf(stderr, "syncvm: %s\nsyncvm: the run was rolled back; the hub is unchanged\n", err[0] ? err : sqlite3_errmsg(s->db));
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return 0;
  }
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->t_write = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
  print_result_as(r, o, id, "applied");
  if (!o->json) printf("applied as run %lld\n", (long long)id);
  if (o->stats && !o->json) run_print_stats(r, stdout), print_process_stats(stdout);
  return 1;
}

/* The history's copy of an applied run's operations is compressed on the
 * second core (hist_start) once their rows are written (apply_hook): while
 * they are, that core reads and splits the operations ahead, and the
 * indexes made after them leave it idle.  At a million students the copy
 * is gigabytes of text. */
typedef struct {
  const run_result *r;
  hist_job *job;
} deferred_history;

static void history_now(void *ctx) {
  deferred_history *h = ctx;
  if (!h->job) h->job = hist_start(h->r->ops, run_history_keeps);
}

/* The compressed copy into run id's history (ok), or dropped (not ok);
 * when no thread could compress it, compressed here. */
static int history_done(deferred_history *h, store *s, int64_t id, int ok, char *err, size_t errsize) {
  if (h->job) return hist_finish(h->job, ok ? s->db : NULL, id, err, errsize) && ok;
  return ok && run_record_history(h->r, s, id, 0, err, errsize);
}

/* Applies (or parks) a computed run inside the open write transaction. */
static int finish_apply(store *s, run_result *r, const opts *o, const uint8_t *bytes, size_t len) {
  char err[1200] = "";
  if (r->held[0]) {
    int64_t id = record_run(s, r, "parked", 1, bytes, len);
    if (!id || !store_exec(s, "COMMIT", err, sizeof err)) {
      fprintf(stderr, "syncvm: %s\nsyncvm: the run was not parked; the hub is unchanged\n", err[0] ? err : sqlite3_errmsg(s->db));
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return 1;
    }
    if (o->json) {
      print_result_as(r, o, id, "parked");
      return 3;
    }
    run_print(r, stdout, 1);
    printf("parked as run %lld: %s\napprove it with: syncvm approve %lld\n", (long long)id, r->held, (long long)id);
    return 3;
  }
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  deferred_history h = {r, NULL};
  apply_hook hook = {history_now, &h};
  int64_t id = record_run(s, r, "applied", 0, bytes, len);
  int ok = id && run_apply_ops(s, r, id, NULL, NULL, NULL, &hook, err, sizeof err);
  ok = history_done(&h, s, id, ok, err, sizeof err);
  return end_apply(s, r, o, id, ok, err, sizeof err, &t0) ? 0 : 1;
}

/* ---- apply RUNFILE: applied while a second thread reads it (runfile.h) ---------------------------- */

/* The run's report into its history row, once the file has been read to
 * its end (record_run wrote the row before the first operation). */
static int set_report(store *s, const run_result *r, int64_t id) {
  char *text = json_dumps(r->report, JSON_COMPACT);
  sqlite3_stmt *st;
  int ok = text && sqlite3_prepare_v2(s->db, "UPDATE sync_runs SET report = ?1 WHERE run_id = ?2", -1, &st, NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
  }
  free(text);
  return ok;
}

static const char *job_next(void *job, size_t *n) { return runfile_next_op(job, n); }
static size_t job_known(void *job, size_t want) { return runfile_known_ops(job, want); }
static int job_stopped(void *job) { return runfile_stopped(job); }

/* The run file's operations are applied as they are read, so reading it (a
 * seventh of a first sync's apply) waits on nothing; a file that proves
 * malformed partway fails the run whole, as one read first would.  rerr is
 * where the reader puts its error.  APPLY_AGAIN when the file, followed in
 * place, strayed from plan -o's layout: the caller rolls back and reads it
 * again, copied. */
#define APPLY_AGAIN (-1)
static int apply_following(store *s, run_result *r, runfile_job *j, const opts *o, const char *rerr) {
  char err[1200] = "";
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int64_t id = record_run(s, r, "applied", 0, NULL, 0);
  op_feed from = {job_next, job_known, job_stopped, j};
  deferred_history h = {r, NULL};
  apply_hook hook = {history_now, &h};
  int ok = id && run_apply_ops(s, r, id, NULL, NULL, &from, &hook, err, sizeof err), again = 0;
  int read = runfile_finish(j, ok, &again);
  if (!read) snprintf(err, sizeof err, "%s", rerr), ok = 0; /* what the file lacks explains the rest */
  if (ok) ok = set_report(s, r, id); /* plan -o writes it after the operations */
  ok = history_done(&h, s, id, ok, err, sizeof err);
  if (again) return APPLY_AGAIN;
  return end_apply(s, r, o, id, ok, err, sizeof err, &t0) ? 0 : read ? 1 : 2;
}

/* apply RUNFILE (from plan -o), the file read as a stream: followed where
 * it lies (RUNFILE_IN_PLACE) or copied (RUNFILE_FOLLOW). */
static int apply_run_file(store *s, run_result *r, const opts *o, int follow) {
  char err[1200];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  runfile_job *j = runfile_start(o->args[0], r, follow, err, sizeof err);
  int followed = j && runfile_followed(j), read = j != NULL;
  if (j && !followed) read = runfile_finish(j, 0, NULL), j = NULL; /* read whole already */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->t_read = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  if (!read) {
    fprintf(stderr, "syncvm: %s\n", err);
    return 2;
  }
  if (r->hub_version != store_hub_version(s)) {
    fprintf(stderr, "syncvm: %s is stale: the hub has changed since it was computed (version %lld, now %lld); plan again\n",
            o->args[0], (long long)r->hub_version, (long long)store_hub_version(s));
    if (j) runfile_stop(j);
    return 1;
  }
  if (j && !r->held[0]) return apply_following(s, r, j, o, err);
  if (j && !runfile_finish(j, 0, NULL)) { /* a run held for approval is parked whole */
    fprintf(stderr, "syncvm: %s\n", err);
    return 2;
  }
  return finish_apply(s, r, o, NULL, 0);
}

static int cmd_apply(const opts *o) {
  if (o->nargs != 1) return usage(stderr), 2;
  store s;
  if (!open_store(&s, o)) return 1;
  int bulk = store_bulk_begin(&s);
  if (!begin_write(&s)) {
    if (bulk) store_bulk_end(&s);
    return store_close(&s), 1;
  }
  size_t len = 0;
  uint8_t *bytes = NULL;
  int rc;
  run_result r;
  memset(&r, 0, sizeof r);
  int is_run = runfile_is(o->args[0]);
  if (is_run < 0) {
    fprintf(stderr, "syncvm: cannot read %s: %s\n", o->args[0], strerror(errno));
    rc = 2;
  } else if (is_run) {
    rc = apply_run_file(&s, &r, o, RUNFILE_IN_PLACE);
    if (rc == APPLY_AGAIN) { /* undone whole, then read again, copied */
      sqlite3_exec(s.db, "ROLLBACK", NULL, NULL, NULL);
      run_free(&r);
      memset(&r, 0, sizeof r);
      rc = begin_write(&s) ? apply_run_file(&s, &r, o, RUNFILE_FOLLOW) : 1;
    }
  } else {
    plan *p = NULL;
    rc = compute(o->args[0], &s, &r, &bytes, &len, &p, NULL, o->trace ? stderr : NULL);
    if (rc == 0) rc = finish_apply(&s, &r, o, bytes, len);
    plan_free(p);
  }
  if (rc != 0 && rc != 3) sqlite3_exec(s.db, "ROLLBACK", NULL, NULL, NULL);
  if (bulk) store_bulk_end(&s);
  run_free(&r);
  free(bytes);
  store_close(&s);
  return rc;
}

typedef struct {
  int creates, updates, deletes;
  const char *school;
} approve_filter;

static int keep_op(json_t *op, void *vp) {
  approve_filter *f = vp;
  const char *k = json_string_value(json_object_get(op, "op"));
  if (!strcmp(k, "create") && !f->creates) return 0;
  if ((!strcmp(k, "update") || !strcmp(k, "reactivate")) && !f->updates) return 0;
  if ((!strcmp(k, "deactivate") || !strcmp(k, "delete") || !strcmp(k, "unlink")) && !f->deletes) return 0;
  if (f->school && (!strcmp(k, "create") || !strcmp(k, "update") || !strcmp(k, "reactivate") || !strcmp(k, "deactivate") ||
                    !strcmp(k, "delete") || !strcmp(k, "unlink"))) {
    json_t *sc = json_object_get(op, "school");
    if (!sc) sc = json_object_get(json_object_get(op, "set"), "school");
    if (!json_is_string(sc) || strcmp(json_string_value(sc), f->school) != 0) return 0;
  }
  return 1;
}

static int set_status(store *s, const char *id, const char *status, const char *by) {
  sqlite3_stmt *st;
  char now[32];
  now_text(now, sizeof now);
  if (sqlite3_prepare_v2(s->db, "UPDATE sync_runs SET status = ?1, approved_by = ?2, finished = ?3 WHERE run_id = ?4", -1, &st, NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
  if (by) sqlite3_bind_text(st, 2, by, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, atoll(id));
  int ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok;
}

/* A history row's status and the hub version its run was computed
 * against; 0 when there is no such run. */
static int run_row(store *s, const char *id, char *status, size_t n, int64_t *version) {
  sqlite3_stmt *st;
  int found = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT status, hub_version FROM sync_runs WHERE run_id = ?", -1, &st, NULL) != SQLITE_OK) return 0;
  sqlite3_bind_int64(st, 1, atoll(id));
  if (sqlite3_step(st) == SQLITE_ROW) {
    snprintf(status, n, "%s", (const char *)sqlite3_column_text(st, 0));
    *version = sqlite3_column_int64(st, 1);
    found = 1;
  }
  sqlite3_finalize(st);
  return found;
}

/* A run of the history as a run_result, its operations streamed from the
 * row (runfile_history_ops): memory holds one at a time, however large the
 * run (a parked first sync of a million students is gigabytes of them). */
static int history_run(store *s, const char *id, run_result *r, char *err, size_t errsize) {
  memset(r, 0, sizeof *r);
  sqlite3_stmt *st;
  json_t *head = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT hub_version, report, counts, held_by, plan_sha, spec_sha FROM sync_runs WHERE run_id = ?", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, atoll(id));
    if (sqlite3_step(st) == SQLITE_ROW) {
      head = json_object();
      json_object_set_new(head, "format", json_string("syncvm-run-1"));
      json_object_set_new(head, "hub_version", json_integer(sqlite3_column_int64(st, 0)));
      json_object_set_new(head, "report", json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL));
      json_object_set_new(head, "counts", json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL));
      const char *held = (const char *)sqlite3_column_text(st, 3);
      json_object_set_new(head, "held", held ? json_string(held) : json_null());
      for (int i = 4; i <= 5; i++)
        if (sqlite3_column_type(st, i) == SQLITE_TEXT)
          json_object_set_new(head, i == 4 ? "plan_sha256" : "spec_sha256", json_string((const char *)sqlite3_column_text(st, i)));
    }
    sqlite3_finalize(st);
  }
  int ok = head && run_head_from_json(head, r, err, errsize);
  if (!head) snprintf(err, errsize, "there is no run %s", id);
  json_decref(head);
  if (ok && !(r->ops = oplog_new())) {
    snprintf(err, errsize, "cannot make a temporary file for the run's operations (TMPDIR): %s", strerror(errno));
    ok = 0;
  }
  if (ok) ok = runfile_history_ops(s->db, atoll(id), r, err, errsize);
  if (!ok) run_free(r);
  return ok;
}

static int cmd_approve(const opts *o, int reject) {
  if (o->nargs != 1) return usage(stderr), 2;
  store s;
  if (!open_store(&s, o)) return 1;
  if (!begin_write(&s)) return store_close(&s), 1;
  char status[32];
  int64_t version;
  int found = run_row(&s, o->args[0], status, sizeof status, &version);
  int rc = 0;
  char err[1200];
  run_result r;
  memset(&r, 0, sizeof r);
  if (!found) {
    fprintf(stderr, "syncvm: there is no run %s\n", o->args[0]);
    rc = 1;
  } else if (strcmp(status, "parked") != 0) {
    fprintf(stderr, "syncvm: run %s is %s, not waiting for approval\n", o->args[0], status);
    rc = 1;
  } else if (reject) {
    rc = set_status(&s, o->args[0], "rejected", o->by) && store_exec(&s, "COMMIT", err, sizeof err) ? 0 : 1;
    if (!rc) printf("run %s rejected\n", o->args[0]);
  } else if (version != store_hub_version(&s)) {
    fprintf(stderr, "syncvm: run %s is stale: the hub has changed since it was computed (version %lld, now %lld); plan again\n",
            o->args[0], (long long)version, (long long)store_hub_version(&s));
    rc = 1;
  } else if (!history_run(&s, o->args[0], &r, err, sizeof err)) {
    fprintf(stderr, "syncvm: run %s: %s\n", o->args[0], err);
    rc = 1;
  } else {
    approve_filter f = {1, 1, 1, o->school};
    if (o->only) f.creates = strstr(o->only, "create") != NULL, f.updates = strstr(o->only, "update") != NULL,
                 f.deletes = strstr(o->only, "delete") != NULL;
    int partial = o->only || o->school;
    if (!run_apply_ops(&s, &r, atoll(o->args[0]), partial ? keep_op : NULL, &f, NULL, NULL, err, sizeof err) || !bump_version(&s) ||
        !set_status(&s, o->args[0], partial ? "partly approved" : "approved", o->by ? o->by : getenv("USER")) ||
        !store_exec(&s, "COMMIT", err, sizeof err)) {
      fprintf(stderr, "syncvm: %s\nsyncvm: rolled back; the hub is unchanged\n", err);
      rc = 1;
    } else {
      printf("run %s %s and applied\n", o->args[0], partial ? "partly approved" : "approved");
    }
  }
  if (rc) sqlite3_exec(s.db, "ROLLBACK", NULL, NULL, NULL);
  run_free(&r);
  store_close(&s);
  return rc;
}

/* syncvm fetch PLAN --record DIR [SOURCE...]: pulls the network sources and
 * keeps their responses (no secrets: only response bodies) for --replay. */
static int cmd_fetch(const opts *o) {
  if (o->nargs < 1 || !o->record) return usage(stderr), 2;
  uint8_t *bytes;
  size_t len;
  plan *p = load_plan(o->args[0], &bytes, &len);
  if (!p) return 1;
  char made[8];
  int ok = fetch_sources(p, NULL, o->record, o->nargs > 1 ? o->args + 1 : NULL, made, sizeof made);
  for (uint32_t i = 0; ok && i < p->nsources; i++)
    if (conn_is_network(p->sources[i].kind) && wanted_source(p, i, o->args + 1, o->nargs - 1))
      printf("%s: recorded in %s/%s (replay with --replay %s=%s/%s)\n", plan_str(p, p->sources[i].name), o->record,
             plan_str(p, p->sources[i].name), plan_str(p, p->sources[i].name), o->record, plan_str(p, p->sources[i].name));
  plan_free(p);
  free(bytes);
  return ok ? 0 : 1;
}

/* syncvm test-connection PLAN [SOURCE...]: authenticates and reads one page
 * of each resource; exit 0 when everything answered. */
static int cmd_test_connection(const opts *o) {
  if (o->nargs < 1) return usage(stderr), 2;
  uint8_t *bytes;
  size_t len;
  plan *p = load_plan(o->args[0], &bytes, &len);
  if (!p) return 1;
  int bad = 0, any = 0;
  conn_options co = {.report = stdout};
  for (uint32_t i = 0; i < p->nsources; i++) {
    if (!conn_is_network(p->sources[i].kind) || !wanted_source(p, i, o->args + 1, o->nargs - 1)) continue;
    any = 1;
    char err[2000];
    int failures = feed_check_settings(p, i, err, sizeof err) ? conn_test(p, i, &co, err, sizeof err) : -1;
    if (failures < 0) printf("%s: FAILED: %s\n", plan_str(p, p->sources[i].name), err);
    bad += failures != 0;
  }
  if (!any) fprintf(stderr, "syncvm: the plan has no network source%s to test\n", o->nargs > 1 ? " of that name" : "");
  plan_free(p);
  free(bytes);
  return bad || !any ? 1 : 0;
}

static int cmd_history(const opts *o) {
  store s;
  if (!open_store(&s, o)) return 1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s.db, "SELECT run_id, created, status, hub_version, counts, held_by, approved_by FROM sync_runs ORDER BY run_id", -1, &st, NULL) != SQLITE_OK)
    return store_close(&s), 1;
  json_t *arr = json_array();
  if (!o->json) printf("%-5s %-21s %-16s %8s %8s %8s  %s\n", "run", "when", "status", "creates", "updates", "deletes", "note");
  while (sqlite3_step(st) == SQLITE_ROW) {
    json_t *counts = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
    long long cr = 0, up = 0, de = 0;
    const char *key;
    json_t *row;
    json_object_foreach(counts, key, row) {
      cr += json_integer_value(json_object_get(row, "create"));
      up += json_integer_value(json_object_get(row, "update")) + json_integer_value(json_object_get(row, "reactivate"));
      de += json_integer_value(json_object_get(row, "deactivate"));
    }
    const char *held = (const char *)sqlite3_column_text(st, 5), *by = (const char *)sqlite3_column_text(st, 6);
    if (o->json) {
      json_t *r = json_object();
      json_object_set_new(r, "run", json_integer(sqlite3_column_int64(st, 0)));
      json_object_set_new(r, "created", json_string((const char *)sqlite3_column_text(st, 1)));
      json_object_set_new(r, "status", json_string((const char *)sqlite3_column_text(st, 2)));
      json_object_set_new(r, "counts", counts ? json_incref(counts) : json_object());
      json_object_set_new(r, "held", held ? json_string(held) : json_null());
      json_object_set_new(r, "approved_by", by ? json_string(by) : json_null());
      json_array_append_new(arr, r);
    } else {
      printf("%-5lld %-21s %-16s %8lld %8lld %8lld  %s%s%s\n", (long long)sqlite3_column_int64(st, 0),
             (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2), cr, up, de, held ? held : "",
             by ? "approved by " : "", by ? by : "");
    }
    json_decref(counts);
  }
  sqlite3_finalize(st);
  if (o->json) put_json(arr);
  else json_decref(arr);
  store_close(&s);
  return 0;
}

static int cmd_show(const opts *o) {
  if (o->nargs != 1) return usage(stderr), 2;
  store s;
  if (!open_store(&s, o)) return 1;
  char status[32];
  int64_t version;
  if (!run_row(&s, o->args[0], status, sizeof status, &version)) {
    fprintf(stderr, "syncvm: there is no run %s\n", o->args[0]);
    store_close(&s);
    return 1;
  }
  /* Both forms stream the operations from the history (history_run):
   * a first sync of a million students keeps gigabytes of them, which one
   * JSON document in memory could not hold. */
  run_result r;
  char err[1200];
  int rc = 0, have = history_run(&s, o->args[0], &r, err, sizeof err);
  if (!have) {
    fprintf(stderr, "syncvm: run %s: %s\n", o->args[0], err);
    rc = 1;
  } else if (o->json) {
    json_t *extra = json_pack("{ss}", "status", status);
    if (!run_write_json(&r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER, extra)) {
      fprintf(stderr, "syncvm: run %s: cannot write its operations: %s\n", o->args[0], strerror(errno));
      rc = 1;
    }
    putchar('\n');
    json_decref(extra);
  } else {
    printf("run %s: %s\n\n", o->args[0], status);
    run_print(&r, stdout, 0);
    size_t i;
    json_t *e;
    if (json_array_size(r.report)) printf("\nreport:\n");
    json_array_foreach(r.report, i, e) {
      const char *sid = json_string_value(json_object_get(e, "sid"));
      printf("  %-9s %s %s%s%s: %s\n", json_string_value(json_object_get(e, "kind")), json_string_value(json_object_get(e, "entity")),
             sid ? sid : "", sid ? " " : "", json_string_value(json_object_get(e, "where")) ? json_string_value(json_object_get(e, "where")) : "",
             json_string_value(json_object_get(e, "reason")));
    }
  }
  if (have) run_free(&r); /* history_run frees what it fails to make */
  store_close(&s);
  return rc;
}

/* ---- duplicates ------------------------------------------------------------------ */

static int64_t case_candidate(store *s, sqlite3_stmt *row) {
  /* The hub object the case may duplicate: its id, or (when the match was
   * a record of the same run) the object that record's link now names. */
  if (sqlite3_column_type(row, 5) != SQLITE_NULL) return sqlite3_column_int64(row, 5);
  const char *src = (const char *)sqlite3_column_text(row, 6), *sid = (const char *)sqlite3_column_text(row, 7);
  if (!src || !sid) return 0;
  sqlite3_stmt *st;
  int64_t id = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT hub_id FROM sync_links WHERE source = ? AND entity = ? AND source_id = ?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, src, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, (const char *)sqlite3_column_text(row, 1), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, sid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return id;
}

static const char *CASE_COLS = "SELECT case_id, entity, source, source_id, record, candidate, candidate_source, candidate_sid, domain, status FROM sync_cases";

static int cmd_duplicates(const opts *o) {
  const char *sub = o->nargs ? o->args[0] : "list";
  store s;
  if (!open_store(&s, o)) return 1;
  sqlite3_stmt *st;
  char sql[512];
  int rc = 0;
  if (!strcmp(sub, "list")) {
    snprintf(sql, sizeof sql, "%s WHERE status = 'open' ORDER BY case_id", CASE_COLS);
    if (sqlite3_prepare_v2(s.db, sql, -1, &st, NULL) != SQLITE_OK) return store_close(&s), 1;
    json_t *arr = json_array();
    if (!o->json) printf("%-5s %-10s %-22s %-10s %s\n", "case", "entity", "record", "candidate", "same");
    while (sqlite3_step(st) == SQLITE_ROW) {
      int64_t cand = case_candidate(&s, st);
      if (o->json) {
        json_t *c = json_object();
        json_object_set_new(c, "case", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(c, "entity", json_string((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(c, "source", json_string((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(c, "sid", json_string((const char *)sqlite3_column_text(st, 3)));
        json_object_set_new(c, "record", json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL));
        json_object_set_new(c, "candidate", cand ? json_integer(cand) : json_null());
        json_object_set_new(c, "domain", json_string((const char *)sqlite3_column_text(st, 8)));
        json_array_append_new(arr, c);
      } else {
        char rec[64];
        snprintf(rec, sizeof rec, "%s:%s", (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
        printf("%-5lld %-10s %-22s %-10lld %s\n", (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               rec, (long long)cand, (const char *)sqlite3_column_text(st, 8));
      }
    }
    sqlite3_finalize(st);
    if (o->json) put_json(arr);
    else json_decref(arr);
    store_close(&s);
    return 0;
  }
  if (o->nargs < 2) {
    usage(stderr);
    store_close(&s);
    return 2;
  }
  snprintf(sql, sizeof sql, "%s WHERE case_id = ?", CASE_COLS);
  if (sqlite3_prepare_v2(s.db, sql, -1, &st, NULL) != SQLITE_OK) return store_close(&s), 1;
  sqlite3_bind_int64(st, 1, atoll(o->args[1]));
  if (sqlite3_step(st) != SQLITE_ROW) {
    fprintf(stderr, "syncvm: there is no duplicate case %s\n", o->args[1]);
    sqlite3_finalize(st);
    store_close(&s);
    return 1;
  }
  int64_t cand = case_candidate(&s, st);
  char entity[64], source[256], sid[256], status[32];
  snprintf(entity, sizeof entity, "%s", (const char *)sqlite3_column_text(st, 1));
  snprintf(source, sizeof source, "%s", (const char *)sqlite3_column_text(st, 2));
  snprintf(sid, sizeof sid, "%s", (const char *)sqlite3_column_text(st, 3));
  snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 9));
  if (!strcmp(sub, "show")) {
    printf("case %s (%s): %s record %s from %s\n  record:    %s\n  same %s as hub %s %lld\n", o->args[1], status, entity, sid,
           source, (const char *)sqlite3_column_text(st, 4), (const char *)sqlite3_column_text(st, 8), entity, (long long)cand);
    sqlite3_finalize(st);
    store_close(&s);
    return 0;
  }
  sqlite3_finalize(st);
  const char *decision = !strcmp(sub, "merge") ? "merge" : !strcmp(sub, "new") ? "new" : !strcmp(sub, "ignore") ? "ignore"
                       : !strcmp(sub, "delete") ? "delete" : NULL;
  if (!decision) {
    usage(stderr);
    store_close(&s);
    return 2;
  }
  int64_t into = o->into ? atoll(o->into) : cand;
  if (!strcmp(decision, "merge") && into <= 0) {
    fprintf(stderr, "syncvm: case %s has no hub object to merge into yet; name one with --into HUB_ID\n", o->args[1]);
    store_close(&s);
    return 1;
  }
  char err[1200];
  if (!begin_write(&s)) return store_close(&s), 1;
  int ok;
  if (!strcmp(decision, "delete")) {
    /* Forget the case: the record comes back (and is judged again) next run. */
    ok = sqlite3_exec(s.db, "SELECT 1", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_stmt *d;
    ok = ok && sqlite3_prepare_v2(s.db, "DELETE FROM sync_cases WHERE case_id = ?", -1, &d, NULL) == SQLITE_OK;
    if (ok) {
      sqlite3_bind_int64(d, 1, atoll(o->args[1]));
      ok = sqlite3_step(d) == SQLITE_DONE;
      sqlite3_finalize(d);
    }
  } else {
    sqlite3_stmt *d;
    ok = sqlite3_prepare_v2(s.db, "INSERT OR REPLACE INTO sync_decisions (source, entity, source_id, decision, hub_id) VALUES (?, ?, ?, ?, ?)",
                            -1, &d, NULL) == SQLITE_OK;
    if (ok) {
      sqlite3_bind_text(d, 1, source, -1, SQLITE_STATIC);
      sqlite3_bind_text(d, 2, entity, -1, SQLITE_STATIC);
      sqlite3_bind_text(d, 3, sid, -1, SQLITE_STATIC);
      sqlite3_bind_text(d, 4, decision, -1, SQLITE_STATIC);
      if (!strcmp(decision, "merge")) sqlite3_bind_int64(d, 5, into);
      ok = sqlite3_step(d) == SQLITE_DONE;
      sqlite3_finalize(d);
    }
    char now[32];
    now_text(now, sizeof now);
    ok = ok && sqlite3_prepare_v2(s.db, "UPDATE sync_cases SET status = ?, decided = ? WHERE case_id = ?", -1, &d, NULL) == SQLITE_OK;
    if (ok) {
      static const char *const words[] = {"merged", "new", "ignored"};
      int w = !strcmp(decision, "merge") ? 0 : !strcmp(decision, "new") ? 1 : 2;
      sqlite3_bind_text(d, 1, words[w], -1, SQLITE_STATIC);
      sqlite3_bind_text(d, 2, now, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(d, 3, atoll(o->args[1]));
      ok = sqlite3_step(d) == SQLITE_DONE;
      sqlite3_finalize(d);
    }
  }
  if (!ok || !store_exec(&s, "COMMIT", err, sizeof err)) {
    fprintf(stderr, "syncvm: %s\n", sqlite3_errmsg(s.db));
    sqlite3_exec(s.db, "ROLLBACK", NULL, NULL, NULL);
    rc = 1;
  } else if (!strcmp(decision, "delete")) {
    printf("case %s deleted: the record will be judged again on the next run\n", o->args[1]);
  } else {
    printf("case %s: %s remembered for %s %s from %s; it takes effect on the next run\n", o->args[1], decision, entity, sid, source);
  }
  store_close(&s);
  return rc;
}

/* ---- why -------------------------------------------------------------------------- */

/* `why` builds one JSON answer and prints it as text or as JSON. */
static json_t *why_not_in_hub(store *s, const char *entity, const char *id) {
  sqlite3_stmt *st;
  json_t *ans = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT run_id, report FROM sync_runs ORDER BY run_id DESC", -1, &st, NULL) != SQLITE_OK) return NULL;
  while (!ans && sqlite3_step(st) == SQLITE_ROW) {
    json_t *rep = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    size_t i;
    json_t *x;
    json_array_foreach(rep, i, x) {
      const char *sid = json_string_value(json_object_get(x, "sid"));
      const char *ent = json_string_value(json_object_get(x, "entity"));
      const char *kind = json_string_value(json_object_get(x, "kind"));
      if (!sid || !ent || !kind || strcmp(ent, entity) != 0 || !strcmp(kind, "warning") || !strcmp(kind, "reported")) continue;
      size_t n = strlen(sid), m = strlen(id);
      if (strcmp(sid, id) != 0 && !(n > m && strcmp(sid + n - m, id) == 0)) continue;
      ans = json_object();
      json_object_set_new(ans, "entity", json_string(entity));
      json_object_set_new(ans, "sis_id", json_string(sid));
      json_object_set_new(ans, "in_hub", json_false());
      json_object_set_new(ans, "run", json_integer(sqlite3_column_int64(st, 0)));
      json_object_set_new(ans, "outcome", json_string(kind));
      json_object_set(ans, "where", json_object_get(x, "where"));
      json_object_set(ans, "reason", json_object_get(x, "reason"));
      break;
    }
    json_decref(rep);
  }
  sqlite3_finalize(st);
  return ans;
}

static json_t *why_in_hub(store *s, int e, const char *entity, int64_t hub) {
  json_t *ans = json_object();
  char sql[512];
  sqlite3_stmt *st;
  json_object_set_new(ans, "entity", json_string(entity));
  json_object_set_new(ans, "hub_id", json_integer(hub));
  json_object_set_new(ans, "in_hub", json_true());
  snprintf(sql, sizeof sql, "SELECT sis_id, status, provenance FROM hub_%s WHERE hub_id = ?", schema_entity_get(e)->name);
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, hub);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *sid = (const char *)sqlite3_column_text(st, 0), *status = (const char *)sqlite3_column_text(st, 1);
      json_object_set_new(ans, "sis_id", sid ? json_string(sid) : json_null());
      json_object_set_new(ans, "status", status ? json_string(status) : json_null());
      const char *prov = (const char *)sqlite3_column_text(st, 2);
      json_t *pj = prov ? json_loads(prov, 0, NULL) : NULL;
      json_object_set_new(ans, "attributes", pj ? pj : json_object());
    }
    sqlite3_finalize(st);
  }
  json_t *srcs = json_array();
  if (sqlite3_prepare_v2(s->db, "SELECT source, source_id, domain, gone FROM sync_links WHERE entity = ? AND hub_id = ? ORDER BY source, source_id",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, entity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, hub);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *dom = (const char *)sqlite3_column_text(st, 2);
      json_t *l = json_object();
      json_object_set_new(l, "source", json_string((const char *)sqlite3_column_text(st, 0)));
      json_object_set_new(l, "sid", json_string((const char *)sqlite3_column_text(st, 1)));
      json_object_set_new(l, "linked", json_string(!dom || !strcmp(dom, "new") ? "when it was created" : !strcmp(dom, "id") ? "by its id" : dom));
      json_object_set_new(l, "still_sent", json_boolean(!sqlite3_column_int(st, 3)));
      json_array_append_new(srcs, l);
    }
    sqlite3_finalize(st);
  }
  json_object_set_new(ans, "sources", srcs);
  return ans;
}

static void why_print(json_t *ans) {
  const char *entity = json_string_value(json_object_get(ans, "entity"));
  const char *sid = json_string_value(json_object_get(ans, "sis_id"));
  if (!json_is_true(json_object_get(ans, "in_hub"))) {
    printf("%s %s is not in the hub: run %lld %s it (%s): %s\n", entity, sid, (long long)json_integer_value(json_object_get(ans, "run")),
           json_string_value(json_object_get(ans, "outcome")), json_string_value(json_object_get(ans, "where")),
           json_string_value(json_object_get(ans, "reason")));
    return;
  }
  printf("%s %s (hub %lld, %s)\nattributes:\n", entity, sid ? sid : "", (long long)json_integer_value(json_object_get(ans, "hub_id")),
         json_string_value(json_object_get(ans, "status")));
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(ans, "attributes"), key, v)
    if (json_is_string(v)) printf("  %-16s from %s\n", !strcmp(key, "*") ? "every attribute" : key, json_string_value(v));
  printf("sources:\n");
  size_t i;
  json_array_foreach(json_object_get(ans, "sources"), i, v) {
    printf("  %-8s %-20s linked %s%s\n", json_string_value(json_object_get(v, "source")), json_string_value(json_object_get(v, "sid")),
           json_string_value(json_object_get(v, "linked")),
           json_is_true(json_object_get(v, "still_sent")) ? "" : " (no longer sent by the source)");
  }
}

/* The hub object a live link of any source names by this source id (the
 * first source by name, when several do), else the one with this sis_id;
 * 0 for none.  Each of the entity's feeds (a few) is looked up by its key. */
static int64_t why_hub_id(store *s, int e, const char *id) {
  sqlite3_stmt *link = NULL, *sis = NULL;
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT hub_id FROM hub_%s WHERE sis_id = ?1 LIMIT 1", schema_entity_get(e)->name);
  int64_t hub = 0;
  if (sqlite3_prepare_v2(s->db, STORE_OBJECT_OF_SID, -1, &link, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(s->db, sql, -1, &sis, NULL) == SQLITE_OK) {
    sqlite3_bind_text(link, 1, schema_entity_get(e)->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(link, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(link) == SQLITE_ROW) hub = sqlite3_column_int64(link, 0);
    sqlite3_bind_text(sis, 1, id, -1, SQLITE_STATIC);
    if (!hub && sqlite3_step(sis) == SQLITE_ROW) hub = sqlite3_column_int64(sis, 0);
  }
  sqlite3_finalize(link);
  sqlite3_finalize(sis);
  return hub;
}

static int cmd_why(const opts *o) {
  if (o->nargs != 2) return usage(stderr), 2;
  int e = schema_entity_find(o->args[0]);
  if (e < 0) {
    fprintf(stderr, "syncvm: unknown entity '%s'\n", o->args[0]);
    return 2;
  }
  const char *id = o->args[1];
  store s;
  if (!open_store(&s, o)) return 1;
  int64_t hub = why_hub_id(&s, e, id);
  json_t *ans = hub ? why_in_hub(&s, e, o->args[0], hub) : why_not_in_hub(&s, o->args[0], id);
  store_close(&s);
  if (!ans) {
    if (o->json) printf("{\"entity\": \"%s\", \"in_hub\": false, \"known\": false}\n", o->args[0]);
    else printf("%s %s is not in the hub, and no run has reported it\n", o->args[0], id);
    return 1;
  }
  if (o->json) {
    put_json(ans);
  } else {
    why_print(ans);
    json_decref(ans);
  }
  return 0;
}

int main(int argc, char **argv) {
  /* The commands that compute or write a run touch the most memory. */
  if (argc >= 2 && (!strcmp(argv[1], "plan") || !strcmp(argv[1], "apply") || !strcmp(argv[1], "approve")))
    hugepages_reexec(argv);
  /* No fast bins: jansson frees each page's tree as tens of thousands of
   * small chunks, and glibc then consolidated them again and again as the
   * heap grew (a third of a 100,000-student Veracross read was malloc's;
   * read and decode 29.6 s -> 22.4 s). */
  mallopt(M_MXFAST, 0);
  if (argc < 2) return usage(stderr), 2;
  opts o;
  if (!parse_opts(argc - 2, argv + 2, &o)) return 2;
  current_opts = &o;
  const char *cmd = argv[1];
  if (!strcmp(cmd, "plan")) return cmd_plan(&o);
  if (!strcmp(cmd, "apply")) return cmd_apply(&o);
  if (!strcmp(cmd, "approve")) return cmd_approve(&o, 0);
  if (!strcmp(cmd, "reject")) return cmd_approve(&o, 1);
  if (!strcmp(cmd, "history")) return cmd_history(&o);
  if (!strcmp(cmd, "show")) return cmd_show(&o);
  if (!strcmp(cmd, "duplicates")) return cmd_duplicates(&o);
  if (!strcmp(cmd, "why")) return cmd_why(&o);
  if (!strcmp(cmd, "fetch")) return cmd_fetch(&o);
  if (!strcmp(cmd, "test-connection")) return cmd_test_connection(&o);
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "help")) return usage(stdout), 0;
  fprintf(stderr, "syncvm: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
