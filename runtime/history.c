/* history.c: each run's operations in the history, compressed, in pieces
 * (see history.h).  One zstd frame per run, cut wherever the output buffer
 * fills: a reader decompresses the pieces in order as one stream, so
 * neither side ever holds more than a piece and a buffer.  Runs recorded
 * before schema version 7 are one zlib stream instead, read the same way;
 * the first bytes of a run's first piece tell which. */
#include "history.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "scratch.h"

/* Level 1: the fastest of zstd's ordinary levels.  The text repeats its
 * keys on every line, so it still shrinks about thirtyfold, and a first
 * sync compresses gigabytes of it while the hub's indexes are made: zlib's
 * fastest level, used until schema version 7, took 2.5 times as long for
 * half that (a million students' first sync: 3.5 GB to 235 MB against 123
 * MB, and its apply 23.4 s against 21.5). */
#define HIST_LEVEL 1

/* A zstd frame starts with these four bytes; a zlib stream never does: its
 * first two, read as a big-endian number, are a multiple of 31 (the
 * header's check), and 0x28B5 is not. */
static const unsigned char ZSTD_MAGIC_BYTES[4] = {0x28, 0xB5, 0x2F, 0xFD};

/* ---- writing ----------------------------------------------------------------------------- */

/* Compressed bytes go to the history as pieces (ins), or to a file
 * (out_file: a thread compressing beside the apply, whose pieces are
 * stored after). */
typedef struct {
  sqlite3_stmt *ins;
  FILE *out_file;
  int64_t run_id;
  int piece;
  ZSTD_CCtx *z;
  ZSTD_outBuffer out; /* out.dst: HIST_PIECE bytes; out.pos: how many hold output */
} sink;

static int store_piece(sqlite3_stmt *ins, int64_t run_id, int piece, const void *bytes, size_t n) {
  sqlite3_bind_int64(ins, 1, run_id);
  sqlite3_bind_int(ins, 2, piece);
  sqlite3_bind_blob(ins, 3, bytes, (int)n, SQLITE_STATIC);
  int ok = sqlite3_step(ins) == SQLITE_DONE;
  sqlite3_reset(ins);
  return ok;
}

/* Stores (or writes out) what the frame has written so far. */
static int emit(sink *k) {
  size_t n = k->out.pos;
  k->out.pos = 0;
  if (!n) return 1;
  return k->out_file ? fwrite(k->out.dst, 1, n, k->out_file) == n : store_piece(k->ins, k->run_id, k->piece++, k->out.dst, n);
}

/* Feeds `n` bytes (or, with `end`, the frame's end) through the
 * compressor, emitting each piece as the buffer fills. */
static int compress_some(sink *k, const char *bytes, size_t n, ZSTD_EndDirective end) {
  ZSTD_inBuffer in = {bytes, n, 0};
  for (;;) {
    size_t left = ZSTD_compressStream2(k->z, &k->out, &in, end);
    if (ZSTD_isError(left)) return 0;
    if (k->out.pos == k->out.size && !emit(k)) return 0;
    if (end == ZSTD_e_end ? left == 0 : in.pos == in.size) return 1;
  }
}

static int sink_put(void *vp, const char *bytes, size_t n) { return compress_some(vp, bytes, n, ZSTD_e_continue); }

static int sink_finish(sink *k) { return compress_some(k, NULL, 0, ZSTD_e_end) && emit(k); }

static const char INSERT_PIECE[] = "INSERT INTO sync_run_ops (run_id, piece, data) VALUES (?, ?, ?)";

/* A sink into the history (db) or into a file (out_file, db NULL).  The
 * frame carries a checksum of its text, so damage is found at the latest
 * at its end, as zlib's stream found it. */
static int sink_open(sink *k, sqlite3 *db, int64_t run_id, FILE *out_file) {
  memset(k, 0, sizeof *k);
  k->run_id = run_id, k->out_file = out_file;
  k->out.dst = malloc(HIST_PIECE);
  k->out.size = HIST_PIECE;
  k->z = ZSTD_createCCtx();
  int ok = k->out.dst && k->z && !ZSTD_isError(ZSTD_CCtx_setParameter(k->z, ZSTD_c_compressionLevel, HIST_LEVEL)) &&
           !ZSTD_isError(ZSTD_CCtx_setParameter(k->z, ZSTD_c_checksumFlag, 1));
  if (ok && db) ok = sqlite3_prepare_v2(db, INSERT_PIECE, -1, &k->ins, NULL) == SQLITE_OK;
  if (!ok) {
    ZSTD_freeCCtx(k->z);
    free(k->out.dst);
  }
  return ok;
}

static void sink_close(sink *k) {
  sqlite3_finalize(k->ins);
  ZSTD_freeCCtx(k->z);
  free(k->out.dst);
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

/* ---- compressing on the second core ------------------------------------------------------ */

struct hist_job {
  pthread_t thread;
  oplog_view ops;
  oplog_keep keep;
  FILE *file; /* the compressed frame */
  int ok;
};

static void *compress_job(void *vp) {
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
  if (pthread_create(&j->thread, NULL, compress_job, j) != 0) {
    fclose(j->file);
    free(j);
    return NULL;
  }
  return j;
}

int hist_finish(hist_job *j, sqlite3 *db, int64_t run_id, char *err, size_t errsize) {
  pthread_join(j->thread, NULL);
  int ok = j->ok;
  if (!ok && db) snprintf(err, errsize, "cannot compress run %lld's operations (TMPDIR full?)", (long long)run_id);
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

/* A run's pieces decompressed as one stream: zstd, or zlib for a run
 * recorded before schema version 7. */
struct hist_src {
  sqlite3_stmt *st;
  int zlib;          /* the run's stream is zlib's (z), else zstd's (zd) */
  z_stream z;
  ZSTD_DStream *zd;
  ZSTD_inBuffer in;  /* zstd's view of the current piece */
  int held;          /* zstd filled the last buffer, so it may hold more text than it gave */
  int64_t run_id;
  int piece, done;   /* piece: the next to read; done: the stream ended */
  char why[160];     /* set when the text stopped early */
};

/* `piece`: the one missing, or the one being decompressed. */
static int bad(hist_src *h, int piece, const char *what) {
  snprintf(h->why, sizeof h->why, "run %lld's operations are damaged in the history (piece %d: %s)", (long long)h->run_id, piece,
           what);
  return 0;
}

/* Steps to the next piece and hands its bytes to the decompressor. */
static int next_piece(hist_src *h) {
  int rc = sqlite3_step(h->st);
  if (rc != SQLITE_ROW) return bad(h, h->piece, rc == SQLITE_DONE ? "missing" : sqlite3_errmsg(sqlite3_db_handle(h->st)));
  if (sqlite3_column_int(h->st, 0) != h->piece) return bad(h, h->piece, "missing");
  const void *bytes = sqlite3_column_blob(h->st, 1);
  size_t n = (size_t)sqlite3_column_bytes(h->st, 1);
  if (h->piece == 0) h->zlib = n < sizeof ZSTD_MAGIC_BYTES || memcmp(bytes, ZSTD_MAGIC_BYTES, sizeof ZSTD_MAGIC_BYTES) != 0;
  h->in = (ZSTD_inBuffer){bytes, n, 0};
  h->z.next_in = (Bytef *)bytes;
  h->z.avail_in = (uInt)n;
  h->piece++;
  return 1;
}

static void hist_free(hist_src *h) {
  sqlite3_finalize(h->st);
  inflateEnd(&h->z);
  ZSTD_freeDStream(h->zd);
  free(h);
}

hist_src *hist_open(sqlite3 *db, int64_t run_id, char *err, size_t errsize) {
  hist_src *h = calloc(1, sizeof *h);
  if (!h || inflateInit(&h->z) != Z_OK || !(h->zd = ZSTD_createDStream())) {
    if (h) inflateEnd(&h->z);
    free(h);
    snprintf(err, errsize, "out of memory");
    return NULL;
  }
  h->run_id = run_id;
  if (sqlite3_prepare_v2(db, "SELECT piece, data FROM sync_run_ops WHERE run_id = ? ORDER BY piece", -1, &h->st, NULL) != SQLITE_OK) {
    snprintf(err, errsize, "run %lld's operations: %s", (long long)run_id, sqlite3_errmsg(db));
    hist_free(h);
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
    hist_free(h);
    return NULL;
  }
  return h;
}

/* The stream has ended: nothing may follow it, in this piece or after. */
static void stream_end(hist_src *h, size_t left) {
  h->done = 1;
  if (left || sqlite3_step(h->st) != SQLITE_DONE) bad(h, h->piece - 1, "bytes after the end");
}

/* One step of zlib's inflate into buf, after the *got bytes already there; 0 when the text stopped early. */
static int inflate_some(hist_src *h, char *buf, size_t *got, size_t n) {
  h->z.next_out = (Bytef *)buf + *got;
  h->z.avail_out = n - *got > UINT_MAX ? UINT_MAX : (uInt)(n - *got);
  uInt room = h->z.avail_out;
  int rc = inflate(&h->z, Z_NO_FLUSH);
  *got += room - h->z.avail_out;
  if (rc == Z_STREAM_END) stream_end(h, h->z.avail_in);
  else if (rc != Z_OK && rc != Z_BUF_ERROR) return bad(h, h->piece - 1, h->z.msg ? h->z.msg : "not a deflate stream");
  return 1;
}

/* The same with zstd. */
static int unzstd_some(hist_src *h, char *buf, size_t *got, size_t n) {
  ZSTD_outBuffer out = {buf, n, *got};
  size_t rc = ZSTD_decompressStream(h->zd, &out, &h->in);
  *got = out.pos;
  h->held = out.pos == out.size;
  if (ZSTD_isError(rc)) return bad(h, h->piece - 1, ZSTD_getErrorName(rc));
  if (rc == 0) stream_end(h, h->in.size - h->in.pos); /* the frame is whole and all of it is out */
  return 1;
}

size_t hist_read(void *src, char *buf, size_t n) {
  hist_src *h = src;
  size_t got = 0;
  while (got < n && !h->done && !h->why[0]) {
    /* Asking for the next piece too early is harmless, except after the
     * last: zstd's decoder, seen to keep the end of its input until it has
     * given out all its text, may not always. */
    int empty = h->zlib ? !h->z.avail_in : h->in.pos == h->in.size && !h->held;
    if (empty && !next_piece(h)) break;
    if (!(h->zlib ? inflate_some(h, buf, &got, n) : unzstd_some(h, buf, &got, n))) break;
  }
  return got;
}

const char *hist_error(const hist_src *h) { return h->why[0] ? h->why : NULL; }

void hist_close(hist_src *h) {
  if (h) hist_free(h);
}

/* ---- schema version 4 -------------------------------------------------------------------- */

/* Compresses one run's old changes column (TEXT or BLOB) into its pieces,
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
