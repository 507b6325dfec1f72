/* history.c: each run's operations in the history, deflated, in pieces
 * (see history.h).  One zlib stream per run, cut wherever the output buffer
 * fills: a reader inflates the pieces in order as one stream, so neither
 * side ever holds more than a piece and a buffer. */
#include "history.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "scratch.h"

/* Level 1: the fastest; the text is so repetitive that it still shrinks
 * about tenfold, and a first sync writes it while the hub waits. */
#define HIST_LEVEL 1

/* ---- writing ----------------------------------------------------------------------------- */

/* Deflated bytes go to the history as pieces (ins), or to a file (out_file:
 * a thread deflating beside the apply, whose pieces are stored after). */
typedef struct {
  sqlite3_stmt *ins;
  FILE *out_file;
  int64_t run_id;
  int piece;
  z_stream z;
  unsigned char *out;
} sink;

static int store_piece(sqlite3_stmt *ins, int64_t run_id, int piece, const void *bytes, size_t n) {
  sqlite3_bind_int64(ins, 1, run_id);
  sqlite3_bind_int(ins, 2, piece);
  sqlite3_bind_blob(ins, 3, bytes, (int)n, SQLITE_STATIC);
  int ok = sqlite3_step(ins) == SQLITE_DONE;
  sqlite3_reset(ins);
  return ok;
}

/* Stores (or writes out) what the stream has written so far. */
static int emit(sink *k) {
  size_t n = HIST_PIECE - k->z.avail_out;
  int ok = k->out_file ? fwrite(k->out, 1, n, k->out_file) == n : store_piece(k->ins, k->run_id, k->piece++, k->out, n);
  k->z.next_out = k->out;
  k->z.avail_out = HIST_PIECE;
  return ok;
}

static int sink_put(void *vp, const char *bytes, size_t n) {
  sink *k = vp;
  while (n) {
    uInt take = n > UINT_MAX ? UINT_MAX : (uInt)n;
    k->z.next_in = (Bytef *)bytes;
    k->z.avail_in = take;
    while (k->z.avail_in) {
      if (deflate(&k->z, Z_NO_FLUSH) == Z_STREAM_ERROR) return 0;
      if (!k->z.avail_out && !emit(k)) return 0;
    }
    bytes += take, n -= take;
  }
  return 1;
}

static int sink_finish(sink *k) {
  for (;;) {
    int rc = deflate(&k->z, Z_FINISH);
    if (rc == Z_STREAM_END) return emit(k);
    if (rc == Z_STREAM_ERROR || (!k->z.avail_out && !emit(k))) return 0;
  }
}

static const char INSERT_PIECE[] = "INSERT INTO sync_run_ops (run_id, piece, data) VALUES (?, ?, ?)";

/* A sink into the history (db) or into a file (out_file, db NULL). */
static int sink_open(sink *k, sqlite3 *db, int64_t run_id, FILE *out_file) {
  memset(k, 0, sizeof *k);
  k->run_id = run_id, k->out_file = out_file;
  k->out = malloc(HIST_PIECE);
  if (!k->out || deflateInit(&k->z, HIST_LEVEL) != Z_OK) {
    free(k->out);
    return 0;
  }
  k->z.next_out = k->out;
  k->z.avail_out = HIST_PIECE;
  if (db && sqlite3_prepare_v2(db, INSERT_PIECE, -1, &k->ins, NULL) != SQLITE_OK) {
    deflateEnd(&k->z);
    free(k->out);
    return 0;
  }
  return 1;
}

static void sink_close(sink *k) {
  sqlite3_finalize(k->ins);
  deflateEnd(&k->z);
  free(k->out);
}

int hist_put(sqlite3 *db, int64_t run_id, oplog *ops, oplog_keep keep, char *err, size_t errsize) {
  sink k;
  if (!sink_open(&k, db, run_id, NULL)) {
    snprintf(err, errsize, "cannot record run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
    return 0;
  }
  int ok = oplog_view_pieces(oplog_view_of(ops), keep, sink_put, &k) && sink_finish(&k);
  if (!ok) snprintf(err, errsize, "cannot record run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
  sink_close(&k);
  return ok;
}

/* ---- deflating on the second core -------------------------------------------------------- */

struct hist_job {
  pthread_t thread;
  oplog_view ops;
  oplog_keep keep;
  FILE *file; /* the deflated stream */
  int ok;
};

static void *deflate_job(void *vp) {
  hist_job *j = vp;
  sink k;
  if (sink_open(&k, NULL, 0, j->file)) {
    j->ok = oplog_view_pieces(j->ops, j->keep, sink_put, &k) && sink_finish(&k) && fflush(j->file) == 0;
    sink_close(&k);
  }
  return NULL;
}

hist_job *hist_start(oplog *ops, oplog_keep keep) {
  hist_job *j = calloc(1, sizeof *j);
  if (!j || !(j->file = scratch_file("history", NULL))) {
    free(j);
    return NULL;
  }
  j->ops = oplog_view_of(ops);
  j->keep = keep;
  if (pthread_create(&j->thread, NULL, deflate_job, j) != 0) {
    fclose(j->file);
    free(j);
    return NULL;
  }
  return j;
}

int hist_finish(hist_job *j, sqlite3 *db, int64_t run_id, char *err, size_t errsize) {
  pthread_join(j->thread, NULL);
  int ok = j->ok;
  if (!ok && db) snprintf(err, errsize, "cannot deflate run %lld's operations (TMPDIR full?)", (long long)run_id);
  sqlite3_stmt *ins = NULL;
  unsigned char *buf = db && ok ? malloc(HIST_PIECE) : NULL;
  if (db && ok) {
    ok = buf && sqlite3_prepare_v2(db, INSERT_PIECE, -1, &ins, NULL) == SQLITE_OK && fseek(j->file, 0, SEEK_SET) == 0;
    size_t n;
    for (int piece = 0; ok && (n = fread(buf, 1, HIST_PIECE, j->file)) > 0; piece++) ok = store_piece(ins, run_id, piece, buf, n);
    ok = ok && !ferror(j->file);
    if (!ok) snprintf(err, errsize, "cannot record run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
  }
  sqlite3_finalize(ins);
  free(buf);
  fclose(j->file);
  free(j);
  return ok;
}

/* ---- reading ----------------------------------------------------------------------------- */

struct hist_src {
  sqlite3_stmt *st;
  z_stream z;
  int64_t run_id;
  int piece, done;   /* piece: the next to read; done: the stream ended */
  char why[160];     /* set when the text stopped early */
};

/* `piece`: the one missing, or the one being inflated. */
static int bad(hist_src *h, int piece, const char *what) {
  snprintf(h->why, sizeof h->why, "run %lld's operations are damaged in the history (piece %d: %s)", (long long)h->run_id, piece,
           what);
  return 0;
}

/* Steps to the next piece and hands its bytes to the inflater. */
static int next_piece(hist_src *h) {
  int rc = sqlite3_step(h->st);
  if (rc != SQLITE_ROW) return bad(h, h->piece, rc == SQLITE_DONE ? "missing" : sqlite3_errmsg(sqlite3_db_handle(h->st)));
  if (sqlite3_column_int(h->st, 0) != h->piece) return bad(h, h->piece, "missing");
  h->z.next_in = (Bytef *)sqlite3_column_blob(h->st, 1);
  h->z.avail_in = (uInt)sqlite3_column_bytes(h->st, 1);
  h->piece++;
  return 1;
}

hist_src *hist_open(sqlite3 *db, int64_t run_id, char *err, size_t errsize) {
  hist_src *h = calloc(1, sizeof *h);
  if (!h || inflateInit(&h->z) != Z_OK) {
    free(h);
    snprintf(err, errsize, "out of memory");
    return NULL;
  }
  h->run_id = run_id;
  if (sqlite3_prepare_v2(db, "SELECT piece, data FROM sync_run_ops WHERE run_id = ? ORDER BY piece", -1, &h->st, NULL) != SQLITE_OK) {
    snprintf(err, errsize, "run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
    hist_close(h);
    return NULL;
  }
  sqlite3_bind_int64(h->st, 1, run_id);
  int none = sqlite3_step(h->st) == SQLITE_DONE; /* no piece at all (else the first must be piece 0) */
  sqlite3_reset(h->st);
  if (none || !next_piece(h)) {
    if (none)
      snprintf(err, errsize, "run %lld's operations were not kept in the history (over 1 GB of them, recorded by an older syncvm)",
               (long long)run_id);
    else snprintf(err, errsize, "%s", h->why);
    hist_close(h);
    return NULL;
  }
  return h;
}

size_t hist_read(void *src, char *buf, size_t n) {
  hist_src *h = src;
  if (h->done || h->why[0]) return 0;
  h->z.next_out = (Bytef *)buf;
  h->z.avail_out = n > UINT_MAX ? UINT_MAX : (uInt)n;
  uInt want = h->z.avail_out;
  while (h->z.avail_out && !h->done) {
    if (!h->z.avail_in && !next_piece(h)) break;
    int rc = inflate(&h->z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      h->done = 1;
      if (h->z.avail_in || sqlite3_step(h->st) != SQLITE_DONE) bad(h, h->piece - 1, "bytes after the end");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      bad(h, h->piece - 1, h->z.msg ? h->z.msg : "not a deflate stream");
      break;
    }
  }
  return want - h->z.avail_out;
}

const char *hist_error(const hist_src *h) { return h->why[0] ? h->why : NULL; }

void hist_close(hist_src *h) {
  if (!h) return;
  sqlite3_finalize(h->st);
  inflateEnd(&h->z);
  free(h);
}

/* ---- schema version 4 -------------------------------------------------------------------- */

/* Deflates one run's old changes column (TEXT or BLOB) into its pieces,
 * reading it a block at a time through SQLite's incremental blob I/O. */
static int move_changes(sqlite3 *db, int64_t run_id) {
  sqlite3_blob *b;
  if (sqlite3_blob_open(db, "main", "sync_runs", "changes", run_id, 0, &b) != SQLITE_OK) return 0;
  sink k;
  if (!sink_open(&k, db, run_id, NULL)) {
    sqlite3_blob_close(b);
    return 0;
  }
  int size = sqlite3_blob_bytes(b), ok = 1;
  char *block = malloc(1 << 16);
  for (int at = 0; ok && at < size; at += 1 << 16) {
    int n = size - at < (1 << 16) ? size - at : (1 << 16);
    ok = block && sqlite3_blob_read(b, block, n, at) == SQLITE_OK && sink_put(&k, block, (size_t)n);
  }
  ok = ok && block && sink_finish(&k);
  free(block);
  sink_close(&k);
  sqlite3_blob_close(b);
  return ok;
}

int hist_migrate(sqlite3 *db, char *err, size_t errsize) {
  if (sqlite3_exec(db,
                   "CREATE TABLE sync_run_ops (run_id INTEGER NOT NULL, piece INTEGER NOT NULL, data BLOB NOT NULL,"
                   " PRIMARY KEY (run_id, piece))",
                   NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, errsize, "%s", sqlite3_errmsg(db));
    return 0;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT run_id FROM sync_runs WHERE changes IS NOT NULL ORDER BY run_id", -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, errsize, "%s", sqlite3_errmsg(db));
    return 0;
  }
  int ok = 1;
  while (ok && sqlite3_step(st) == SQLITE_ROW) ok = move_changes(db, sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  /* DROP COLUMN came with SQLite 3.35; before it the column stays, empty. */
  if (ok && sqlite3_libversion_number() >= 3035000)
    ok = sqlite3_exec(db, "ALTER TABLE sync_runs DROP COLUMN changes", NULL, NULL, NULL) == SQLITE_OK;
  else if (ok)
    ok = sqlite3_exec(db, "UPDATE sync_runs SET changes = NULL", NULL, NULL, NULL) == SQLITE_OK;
  if (!ok) snprintf(err, errsize, "moving the history's operations into sync_run_ops: %s", sqlite3_errmsg(db));
  return ok;
}
