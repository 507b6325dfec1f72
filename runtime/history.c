/* history.c: each run's operations in the history, deflated, in pieces
 * (see history.h).  One zlib stream per run, cut wherever the output buffer
 * fills: a reader inflates the pieces in order as one stream, so neither
 * side ever holds more than a piece and a buffer. */
#include "history.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Level 1: the fastest; the text is so repetitive that it still shrinks
 * about tenfold, and a first sync writes it while the hub waits. */
#define HIST_LEVEL 1

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *ins;
  int64_t run_id;
  int piece;
  z_stream z;
  unsigned char *out;
} sink;

/* Stores what the stream has written so far as the next piece. */
static int emit(sink *k) {
  size_t n = HIST_PIECE - k->z.avail_out;
  sqlite3_bind_int64(k->ins, 1, k->run_id);
  sqlite3_bind_int(k->ins, 2, k->piece++);
  sqlite3_bind_blob(k->ins, 3, k->out, (int)n, SQLITE_STATIC);
  int ok = sqlite3_step(k->ins) == SQLITE_DONE;
  sqlite3_reset(k->ins);
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

static int sink_open(sink *k, sqlite3 *db, int64_t run_id) {
  memset(k, 0, sizeof *k);
  k->db = db, k->run_id = run_id;
  k->out = malloc(HIST_PIECE);
  if (!k->out || deflateInit(&k->z, HIST_LEVEL) != Z_OK) {
    free(k->out);
    return 0;
  }
  k->z.next_out = k->out;
  k->z.avail_out = HIST_PIECE;
  if (sqlite3_prepare_v2(db, "INSERT INTO sync_run_ops (run_id, piece, data) VALUES (?, ?, ?)", -1, &k->ins, NULL) != SQLITE_OK) {
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

int hist_put(sqlite3 *db, int64_t run_id, oplog *ops, int (*keep)(const char *text, size_t n), char *err, size_t errsize) {
  sink k;
  if (!sink_open(&k, db, run_id)) {
    snprintf(err, errsize, "cannot record run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
    return 0;
  }
  int ok = (keep ? oplog_each_piece_if(ops, keep, sink_put, &k) : oplog_each_piece(ops, sink_put, &k)) && sink_finish(&k);
  if (!ok) snprintf(err, errsize, "cannot record run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
  sink_close(&k);
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
  if (!next_piece(h)) {
    snprintf(err, errsize, "run %lld's operations were not kept in the history (over 1 GB of them, recorded by an older syncvm)",
             (long long)run_id);
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
  if (!sink_open(&k, db, run_id)) {
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
