/* runfile.c: reads a run file (syncvm plan -o) in one pass, in bounded memory.
 *
 * A first sync's run file holds millions of operations: half a gigabyte at
 * 100,000 students.  Read whole and parsed into jansson values it took many
 * times that in memory.  This reader walks the top-level object through a
 * buffer: each member but "ops" (all small) is parsed by jansson, and each
 * operation goes to the run's oplog as soon as it is read.  An operation in
 * the compact form the oplog keeps (as plan -o writes it) is checked by
 * jspan_compact_ok and copied as it is; any other (a run file indented or
 * edited by hand) is parsed by jansson, which says where an error is, and
 * kept as its compact dump.  Errors name the file, line and column.
 *
 * Applied as it is read (runfile_start with RUNFILE_IN_PLACE), a run file
 * that plan -o wrote is not copied at all: its operations lie one per line,
 * each after the first right after its comma, which is how an oplog kept in
 * a run file lays them out (oplog.h).  The run's oplog is then the file
 * itself (oplog_over), each operation checked and counted as it is read;
 * at a million students that saves writing four gigabytes again.  A file
 * whose operations stray from that layout after the first (edited by hand)
 * stops the reader, and the caller reads it again, copied.
 */
#include "runfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "history.h"
#include "jspan.h"
#include "oplog.h"

#define RF_BUF (1u << 20)
#define RF_MAX_VALUE (64u << 20) /* an operation (or the report) larger than this is an error */
#define PUBLISH_EVERY 1024u /* operations read on a thread between two reports of progress: about 250 KB */

typedef struct {
  size_t (*read)(void *src, char *buf, size_t n); /* 0 at the end (or on an error) */
  void *src;
  const char *path;       /* what errors name: a file, or "run N" */
  char *buf;
  size_t pos, len, cap;   /* buf[pos, len) is read and not yet taken */
  long long off;          /* the file offset of buf[0] */
  long line;              /* of buf[pos], 1-based */
  long long line_start;   /* the file offset where that line starts */
  int eof;
  char *err;
  size_t errsize;
  struct runfile_job *job; /* read on a thread: where progress is told */
  unsigned unpublished;    /* operations added since it was last told */
  int inplace_fd;          /* >= 0: the operations may be taken where they lie in this file */
  int inplace;             /* they are: run->ops is over the file (oplog_over) */
  int strayed;             /* in place, and one of them or a separator is not as plan -o writes it */
} reader;

static int fail_at(reader *r, long long at, const char *why) {
  snprintf(r->err, r->errsize, "%s:%ld:%lld: %s", r->path, r->line, at - r->line_start + 1, why);
  return 0;
}

static int fail(reader *r, const char *why) { return fail_at(r, r->off + (long long)r->pos, why); }

/* Reads more: keeps buf[pos, len) and appends what the file has next.  0 at
 * the end of the file (or when the value being read passed RF_MAX_VALUE). */
static int more(reader *r) {
  if (r->eof) return 0;
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->off += (long long)r->pos;
    r->len -= r->pos;
    r->pos = 0;
  }
  if (r->len == r->cap) {
    if (r->cap >= RF_MAX_VALUE) return 0;
    char *b = realloc(r->buf, r->cap * 2);
    if (!b) return 0;
    r->buf = b;
    r->cap *= 2;
  }
  size_t got = r->read(r->src, r->buf + r->len, r->cap - r->len);
  if (got == 0) r->eof = 1;
  r->len += got;
  return got > 0;
}

static int peek(reader *r) {
  if (r->pos == r->len && !more(r)) return -1;
  return (unsigned char)r->buf[r->pos];
}

/* Takes n bytes, counting the lines they end. */
static void take(reader *r, size_t n) {
  const char *p = r->buf + r->pos, *end = p + n;
  while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
    p++;
    r->line++;
    r->line_start = r->off + (p - r->buf);
  }
  r->pos += n;
}

static void skip_ws(reader *r) {
  for (int c = peek(r); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek(r)) take(r, 1);
}

/* The length of the value at buf[pos], read into the buffer whole; 0 when
 * it is cut short by the end of the file or is too large (err says so). */
static size_t value_length(reader *r) {
  size_t k = 0;
  int depth = 0, in_string = 0, escaped = 0;
  for (;;) {
    for (; r->pos + k < r->len; k++) {
      char c = r->buf[r->pos + k];
      if (in_string) {
        if (escaped) escaped = 0;
        else if (c == '\\') escaped = 1;
        else if (c == '"') {
          in_string = 0;
          if (depth == 0) return k + 1;
        }
      } else if (c == '"') {
        in_string = 1;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return k; /* the end of a bare word before its container closes */
        if (--depth == 0) return k + 1;
      } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        return k;
      }
    }
    if (!more(r)) {
      if (r->eof && depth == 0 && !in_string && k > 0) return k; /* a bare word ends the file */
      fail(r, r->eof ? "the file ends inside a value" : "a value larger than 64 MB");
      return 0;
    }
  }
}

/* Parses the n bytes at buf[pos] with jansson; NULL and err on an error. */
static json_t *parse(reader *r, size_t n, size_t flags) {
  json_error_t je;
  json_t *v = json_loadb(r->buf + r->pos, n, flags | JSON_DECODE_ANY, &je);
  if (!v) { /* jansson counts lines and columns from the value's start */
    long long col = je.line > 1 ? je.column : r->off + (long long)r->pos - r->line_start + je.column;
    snprintf(r->err, r->errsize, "%s:%ld:%lld: %s", r->path, r->line + je.line - 1, col, je.text);
  }
  return v;
}

static int expect(reader *r, int c, const char *why) {
  skip_ws(r);
  if (peek(r) != c) return fail(r, why);
  take(r, 1);
  return 1;
}

static int publish(reader *r, run_result *run, int done, int ok);

/* The operations from the one at buf[pos] on are taken where they lie: the
 * run's oplog becomes a log over the file.  Without a descriptor to spare,
 * they are copied as before. */
static void take_in_place(reader *r, run_result *run) {
  oplog *over = oplog_over(r->inplace_fd, (long)(r->off + (long long)r->pos));
  if (!over) return;
  oplog_free(run->ops);
  run->ops = over;
  r->inplace = 1;
}

/* In place, what follows an operation is not as plan -o writes it. */
static int stray(reader *r) {
  r->strayed = 1;
  return fail(r, "the operations are not laid out one per line as plan -o writes them");
}

/* What follows an operation: ',' or ']', or -1 at the end of the file.
 * In place, only a newline may come before it, and nothing after a comma. */
static int after_op(reader *r) {
  if (!r->inplace) return skip_ws(r), peek(r);
  if (peek(r) != '\n') return stray(r), ']';
  take(r, 1);
  int c = peek(r);
  return c == ',' || c == ']' ? c : (stray(r), ']');
}

/* The array of operations, each into the run's oplog. */
static int read_ops(reader *r, run_result *run) {
  if (!expect(r, '[', "the operations are not an array")) return 0;
  skip_ws(r);
  if (peek(r) == ']') return take(r, 1), 1;
  for (;;) {
    if (!r->inplace) skip_ws(r);
    else if (peek(r) != '{') return stray(r); /* right after its comma */
    /* Most operations are in jspan's form and whole in the buffer: one walk
     * finds the end and checks them; the rest are found and parsed apart. */
    size_t n = jspan_compact_len(r->buf + r->pos, r->len - r->pos);
    int compact = n > 0;
    if (!compact) {
      if (!(n = value_length(r))) return r->err[0] ? 0 : fail(r, "expected an operation");
      compact = jspan_compact_ok(r->buf + r->pos, n);
    }
    if (r->inplace_fd >= 0 && compact && oplog_count(run->ops) == 0) take_in_place(r, run);
    if (r->inplace) {
      if (!compact) return stray(r);
      run_count_op_text(run, r->buf + r->pos, n);
      oplog_note(run->ops, n);
    } else if (compact) {
      if (!run_add_op_text(run, r->buf + r->pos, n)) return fail(r, "cannot write the run's operations to a temporary file");
    } else {
      json_t *op = parse(r, n, 0);
      if (!op) return 0;
      if (!json_is_object(op)) return json_decref(op), fail(r, "an operation is not an object");
      if (!run_add_op(run, op)) return fail(r, "cannot write the run's operations to a temporary file");
    }
    take(r, n);
    if (r->job && ++r->unpublished == PUBLISH_EVERY && !publish(r, run, 0, 1)) return fail(r, "stopped");
    int c = after_op(r);
    if (r->strayed) return 0;
    if (c == ']') return take(r, 1), 1;
    if (c != ',') return fail(r, c < 0 ? "the file ends inside the operations" : "expected ',' or ']' after an operation");
    take(r, 1);
  }
}

/* One member of the top-level object: "ops" streamed (or, with
 * stop_at_ops, left at its value: 2), any other into `into` (1); 0 on an
 * error. */
static int read_member(reader *r, run_result *run, json_t *into, int *saw_ops, int stop_at_ops) {
  skip_ws(r);
  if (peek(r) != '"') return fail(r, "expected a member's name");
  size_t n = value_length(r);
  json_t *key = n ? parse(r, n, 0) : NULL;
  if (!key) return 0;
  char name[64];
  snprintf(name, sizeof name, "%s", json_string_value(key) ? json_string_value(key) : "");
  json_decref(key);
  take(r, n);
  if (!expect(r, ':', "expected ':' after a member's name")) return 0;
  skip_ws(r);
  if (!strcmp(name, "ops")) {
    if (*saw_ops) return fail(r, "two arrays of operations");
    *saw_ops = 1;
    return stop_at_ops ? 2 : read_ops(r, run);
  }
  n = value_length(r);
  json_t *v = n ? parse(r, n, 0) : NULL;
  if (!v) return n ? 0 : (r->err[0] ? 0 : fail(r, "expected a value"));
  json_object_set_new(into, name, v);
  take(r, n);
  return 1;
}

/* After a member's value: 1 when another follows (its comma taken), 2 when
 * the object ends there (and nothing follows it), 0 on an error. */
static int after_member(reader *r) {
  skip_ws(r);
  int c = peek(r);
  if (c == ',') return take(r, 1), 1;
  if (c != '}') return fail(r, c < 0 ? "the file ends inside the run" : "expected ',' or '}' after a member");
  take(r, 1);
  skip_ws(r);
  return peek(r) < 0 ? 2 : fail(r, "text after the end of the run");
}

/* The top-level object's members from here, or (`resumed`) from just after
 * a member's value.  1 after the closing brace; with stop_at_ops, 2 where
 * the operations' array starts; 0 on an error. */
static int read_members(reader *r, run_result *run, json_t *into, int *saw_ops, int stop_at_ops, int resumed) {
  int more = resumed ? after_member(r) : 1;
  while (more == 1) {
    int got = read_member(r, run, into, saw_ops, stop_at_ops);
    if (got != 1) return got;
    more = after_member(r);
  }
  return more == 2;
}

/* The top-level object up to its members (after a byte order mark); 2 when
 * it has some, 1 when it is empty, 0 on an error. */
static int read_open(reader *r) {
  skip_ws(r);
  if (peek(r) == 0xEF) { /* a UTF-8 byte order mark */
    while (r->len - r->pos < 3 && more(r)) {
    }
    if (r->len - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3)) take(r, 3);
  }
  if (!expect(r, '{', "not a syncvm run file (expected '{')")) return 0;
  skip_ws(r);
  if (peek(r) == '}') return take(r, 1), 1;
  return 2;
}

static size_t file_read(void *f, char *buf, size_t n) { return fread(buf, 1, n, f); }

/* A history row's operations, inflated a buffer at a time from their
 * pieces (history.h), so the array is never held whole. */
int runfile_history_ops(sqlite3 *db, int64_t run_id, run_result *run, char *err, size_t errsize) {
  char name[48];
  snprintf(name, sizeof name, "run %lld's operations", (long long)run_id);
  err[0] = 0;
  hist_src *h = hist_open(db, run_id, err, errsize);
  if (!h) return 0;
  reader r = {.read = hist_read, .src = h, .path = name, .line = 1, .err = err, .errsize = errsize, .cap = RF_BUF, .inplace_fd = -1};
  r.buf = malloc(r.cap);
  int ok = 0;
  if (!r.buf) snprintf(err, errsize, "%s: out of memory", name);
  else if (read_ops(&r, run)) {
    skip_ws(&r);
    ok = peek(&r) < 0 || fail(&r, "text after the operations");
  }
  if (hist_error(h)) { /* a damaged piece, not the text, stopped the reader */
    snprintf(err, errsize, "%s", hist_error(h));
    ok = 0;
  }
  free(r.buf);
  hist_close(h);
  return ok;
}

int runfile_is(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int c;
  while ((c = getc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xEF || c == 0xBB || c == 0xBF) {
  }
  fclose(f);
  return c == '{';
}

/* ---- reading on a thread while the operations are applied ---------------------------------------- */

struct runfile_job {
  reader r;
  FILE *f;
  run_result *run;
  json_t *head, *tail; /* the members before "ops" and after it */
  int saw_ops, ok;
  int report_later;    /* followed, the report after the operations (as plan -o writes it) */
  /* told by the thread, under mu: the operations written to the oplog so far */
  pthread_t thread;
  int threaded;
  pthread_mutex_t mu;
  pthread_cond_t more;
  oplog_view seen;
  size_t seen_count;
  int done, stop;
  /* the follower's own (the thread that applies) */
  char *buf;
  size_t cap, start, have; /* buf[start, have): read from the oplog, not yet handed out */
  uint64_t at;             /* the oplog's offset of buf[have] */
  size_t handed;           /* operations handed out */
};

/* The thread tells the follower how far the oplog is written (flushed, so
 * pread sees it); 0 when the follower asked it to stop. */
static int publish(reader *r, run_result *run, int done, int ok) {
  runfile_job *j = r->job;
  r->unpublished = 0;
  oplog_view v = oplog_view_of(run->ops);
  pthread_mutex_lock(&j->mu);
  j->seen = v;
  j->seen_count = oplog_count(run->ops);
  if (done) j->done = 1, j->ok = ok;
  int stop = j->stop;
  pthread_cond_broadcast(&j->more);
  pthread_mutex_unlock(&j->mu);
  return !stop;
}

/* The operations and the members after them. */
static int read_rest(runfile_job *j) {
  int ok = read_ops(&j->r, j->run) && read_members(&j->r, j->run, j->tail, &j->saw_ops, 0, 1) == 1;
  if (ok && oplog_failed(j->run->ops)) ok = fail(&j->r, "cannot write the run's operations to a temporary file");
  return ok;
}

static void *read_thread(void *arg) {
  runfile_job *j = arg;
  int ok = read_rest(j);
  publish(&j->r, j->run, 1, ok);
  return NULL;
}

static runfile_job *job_new(const char *path, run_result *run, char *err, size_t errsize) {
  runfile_job *j = calloc(1, sizeof *j);
  if (!j) return snprintf(err, errsize, "%s: out of memory", path), NULL;
  memset(run, 0, sizeof *run);
  run->from_file = 1;
  err[0] = 0;
  j->run = run;
  j->f = fopen(path, "rb");
  j->r = (reader){.read = file_read, .src = j->f, .path = path, .line = 1, .err = err, .errsize = errsize, .cap = RF_BUF,
                  .inplace_fd = -1};
  j->r.buf = malloc(j->r.cap);
  j->head = json_object();
  j->tail = json_object();
  run->ops = oplog_new();
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->more, NULL);
  return j;
}

static void job_free(runfile_job *j) {
  if (j->f) fclose(j->f);
  free(j->r.buf);
  free(j->buf);
  json_decref(j->head);
  json_decref(j->tail);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->more);
  free(j);
}

runfile_job *runfile_start(const char *path, run_result *run, int follow, char *err, size_t errsize) {
  runfile_job *j = job_new(path, run, err, errsize);
  if (!j) return NULL;
  int opened = 0, at_ops = 0;
  if (!j->f) snprintf(err, errsize, "cannot read %s: %s", path, strerror(errno));
  else if (!j->r.buf || !j->head || !j->tail) snprintf(err, errsize, "%s: out of memory", path);
  else if (!run->ops) snprintf(err, errsize, "cannot make a temporary file for the run's operations (TMPDIR): %s", strerror(errno));
  else if ((opened = read_open(&j->r)) == 2)
    at_ops = read_members(&j->r, run, j->head, &j->saw_ops, 1, 0);
  if (!opened || (opened == 2 && !at_ops)) {
    run_free(run);
    job_free(j);
    return NULL;
  }
  /* Followed only when everything a run needs before applying (its hub
   * version, its hold, its counts) came before the operations, as plan -o
   * writes them; any other file is read whole first.  The report may come
   * after them (tail_agrees). */
  char why[200];
  if (at_ops == 2 && follow && run_head_first(j->head, run, why, sizeof why)) {
    j->report_later = json_object_get(j->head, "report") == NULL;
    j->r.job = j;
    if (follow == RUNFILE_IN_PLACE) j->r.inplace_fd = fileno(j->f);
    j->threaded = pthread_create(&j->thread, NULL, read_thread, j) == 0;
    if (j->threaded) return j;
    j->r.job = NULL;
  }
  j->ok = at_ops == 2 ? read_rest(j) : 1;
  j->done = 1;
  j->seen = oplog_view_of(run->ops);
  j->seen_count = oplog_count(run->ops);
  return j;
}

/* Waits until the oplog holds more than `at` bytes or the thread is done;
 * what it holds. */
static oplog_view wait_beyond(runfile_job *j, uint64_t at) {
  pthread_mutex_lock(&j->mu);
  while (j->seen.size <= at && !j->done) pthread_cond_wait(&j->more, &j->mu);
  oplog_view v = j->seen;
  pthread_mutex_unlock(&j->mu);
  return v;
}

const char *runfile_next_op(runfile_job *j, size_t *n) {
  for (;;) {
    char *nl = j->have > j->start ? memchr(j->buf + j->start, '\n', j->have - j->start) : NULL;
    if (nl) {
      *nl = '\0';
      const char *line = j->buf + j->start;
      *n = (size_t)(nl - line);
      j->start = (size_t)(nl - j->buf) + 1;
      j->handed++;
      if (*line == ',') line++, (*n)--; /* a run file's separator (an operation is an object) */
      return line;
    }
    if (j->start > 0) { /* keep the start of a line not yet whole */
      memmove(j->buf, j->buf + j->start, j->have - j->start);
      j->have -= j->start, j->start = 0;
    }
    if (j->have == j->cap) { /* a line longer than the buffer */
      size_t cap = j->cap ? j->cap * 2 : RF_BUF;
      char *more = realloc(j->buf, cap);
      if (!more) return NULL;
      j->buf = more, j->cap = cap;
    }
    oplog_view v = wait_beyond(j, j->at);
    if (v.size <= j->at) return NULL; /* all read (or reading stopped) */
    size_t want = j->cap - j->have < v.size - j->at ? j->cap - j->have : (size_t)(v.size - j->at);
    ssize_t got = pread(v.fd, j->buf + j->have, want, (off_t)(v.start + j->at));
    if (got <= 0) return NULL;
    j->have += (size_t)got, j->at += (uint64_t)got;
  }
}

size_t runfile_known_ops(runfile_job *j, size_t want) {
  pthread_mutex_lock(&j->mu);
  while (j->seen_count < want && !j->done) pthread_cond_wait(&j->more, &j->mu);
  size_t n = j->seen_count;
  pthread_mutex_unlock(&j->mu);
  return n;
}

/* The members after the operations may not change what was decided before
 * them (they are only an extra, as plan --json adds), but for the report
 * when it comes only there: the run then takes it. */
static int tail_agrees(runfile_job *j, char *why, size_t size) {
  if (json_object_size(j->tail) == 0 && !j->report_later) return 1;
  run_result again;
  memset(&again, 0, sizeof again);
  json_object_update(j->head, j->tail);
  if (!run_head_from_json(j->head, &again, why, size)) {
    run_free(&again);
    return 0;
  }
  int same = again.hub_version == j->run->hub_version && !strcmp(again.held, j->run->held) &&
             !strcmp(again.plan_sha, j->run->plan_sha) && !strcmp(again.spec_sha, j->run->spec_sha) &&
             !memcmp(again.counts, j->run->counts, sizeof again.counts) &&
             (j->report_later || json_equal(again.report, j->run->report));
  if (!same) snprintf(why, size, "a member after the operations changes the run's head");
  else if (j->report_later) {
    json_decref(j->run->report);
    j->run->report = json_incref(again.report);
  }
  run_free(&again);
  return same;
}

int runfile_stopped(runfile_job *j) {
  pthread_mutex_lock(&j->mu);
  int stopped = j->done && !j->ok;
  pthread_mutex_unlock(&j->mu);
  return stopped;
}

int runfile_finish(runfile_job *j, int took_all, int *again) {
  if (j->threaded) pthread_join(j->thread, NULL);
  if (again) *again = j->r.strayed;
  const char *path = j->r.path;
  char *err = j->r.err;
  size_t errsize = j->r.errsize;
  int ok = j->ok;
  if (ok && !j->threaded) { /* read whole here: the head is complete only now */
    json_object_update(j->head, j->tail);
    char why[200];
    ok = run_head_from_json(j->head, j->run, why, sizeof why) && j->saw_ops;
    if (!ok) snprintf(err, errsize, "%s: %s", path, j->saw_ops ? why : "the run file has no operations");
  } else if (ok) {
    char why[200];
    ok = tail_agrees(j, why, sizeof why);
    if (!ok) snprintf(err, errsize, "%s: %s", path, why);
    /* The follower stopped short (out of memory, or the temporary file
     * could not be read back): what it applied is not the whole run. */
    if (ok && took_all && j->handed != j->seen_count) {
      snprintf(err, errsize, "%s: %zu of the run's %zu operations could be read back from the temporary file", path, j->handed,
               j->seen_count);
      ok = 0;
    }
  }
  job_free(j);
  return ok;
}

int runfile_followed(const runfile_job *j) { return j->threaded; }

void runfile_stop(runfile_job *j) {
  pthread_mutex_lock(&j->mu);
  j->stop = 1;
  pthread_mutex_unlock(&j->mu);
  if (j->threaded) pthread_join(j->thread, NULL);
  job_free(j);
}

int runfile_read(const char *path, run_result *run, char *err, size_t errsize) {
  runfile_job *j = runfile_start(path, run, RUNFILE_WHOLE, err, errsize);
  if (!j) return 0;
  int ok = runfile_finish(j, 0, NULL);
  if (!ok) run_free(run);
  return ok;
}
