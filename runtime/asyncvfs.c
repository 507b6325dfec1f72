/* asyncvfs.c: SQLite's writes to the hub and its temporary files, on a
 * second thread (see asyncvfs.h for what may wait and why that is safe).
 *
 * Each file this VFS opens is SQLite's default VFS's file, wrapped: the
 * wrapper (af_file) comes first and the real file right after it.  A write
 * that may wait goes into the file's bgwriter as a record (its offset and
 * length, then its bytes), never split across two buffers; the bgwriter's
 * thread hands each record to the real file's xWrite, in order.  A call
 * on a journal or a WAL (or a deletion) waits for every write the calling
 * thread has waiting.
 */
#include "asyncvfs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <string.h>

#include "bgwrite.h"

enum { AF_DB, AF_TEMP, AF_OTHER };

typedef struct af_file {
  sqlite3_file base; /* pMethods: &af_io */
  sqlite3_file *real;
  int kind;
  int lock;              /* AF_DB: the lock level this connection holds */
  bgwriter *w;           /* its thread and buffers, made by the first write that waits; kept until close */
  int queued;            /* writes are waiting in w (f is in this thread's list) */
  int failed_rc;         /* the first write that failed (set on the thread, read after bgw_sync) */
  int in_place;          /* a write failed: no write waits any more */
  int untold;            /* that failure, until a call that can return it has */
  int sector, device;    /* the real file's, taken when opened (they never change) */
  struct af_file *next;  /* in this thread's list of files with writes waiting */
} af_file;

typedef struct {
  sqlite3_int64 off;
  int n;
  int pad;
} af_record;

static sqlite3_vfs af_vfs;
static sqlite3_vfs *base_vfs;

/* The files whose writes wait, of the thread that wrote them.  Writes
 * wait from a write to the next other call on the file (settle), at the
 * latest the unlock that ends its transaction, so they never outlive the
 * thread's use of the connection; and a journal, its WAL or a deletion
 * belongs to the thread that is using the connection. */
static _Thread_local af_file *waiting;

static atomic_llong writes_waited;

long long asyncvfs_writes_waited(void) { return atomic_load(&writes_waited); }

/* On the bgwriter's thread: a buffer of records, each to the real file. */
static int sink(void *ctx, const char *bytes, size_t n) {
  af_file *f = ctx;
  for (size_t at = 0; at < n;) {
    af_record r;
    memcpy(&r, bytes + at, sizeof r);
    at += sizeof r;
    int rc = f->real->pMethods->xWrite(f->real, bytes + at, r.n, r.off);
    if (rc != SQLITE_OK) {
      f->failed_rc = rc;
      errno = EIO;
      return 0;
    }
    at += (size_t)r.n;
  }
  return 1;
}

/* Waits until every write f took is in the file.  A failed one is kept to
 * be told (settle), and f writes in place from then on. */
static void drain(af_file *f) {
  if (!f->queued) return;
  for (af_file **p = &waiting; *p; p = &(*p)->next)
    if (*p == f) {
      *p = f->next;
      break;
    }
  f->queued = 0;
  if (bgw_sync(f->w)) return;
  bgw_close(f->w); /* it drops every write after a failed one */
  f->w = NULL;
  f->in_place = 1, f->untold = f->failed_rc ? f->failed_rc : SQLITE_IOERR_WRITE;
}

/* drain, and the failure not yet told, as SQLite's code for it (once). */
static int settle(af_file *f) {
  drain(f);
  int rc = f->untold;
  f->untold = SQLITE_OK;
  return rc;
}

/* Every write this thread has waiting: before a call on a journal, a WAL
 * or any other file, and before a deletion.  The first failure is told. */
static int settle_all(void) {
  int rc = SQLITE_OK;
  while (waiting) {
    int one = settle(waiting);
    if (rc == SQLITE_OK) rc = one;
  }
  return rc;
}

/* Before a call on the file itself. */
static int before(sqlite3_file *file) {
  af_file *f = (af_file *)file;
  return f->kind == AF_OTHER ? settle_all() : settle(f);
}

#define REAL(file) (((af_file *)(file))->real)
#define SETTLE_OR_RETURN(file)   \
  do {                           \
    int rc_ = before(file);      \
    if (rc_ != SQLITE_OK) return rc_; \
  } while (0)

static int may_wait(const af_file *f, size_t n) {
  if (f->in_place || n + sizeof(af_record) > BGW_BUF) return 0;
  return f->kind == AF_TEMP || (f->kind == AF_DB && f->lock >= SQLITE_LOCK_EXCLUSIVE);
}

static int af_write(sqlite3_file *file, const void *p, int n, sqlite3_int64 off) {
  af_file *f = (af_file *)file;
  if (n < 0 || !may_wait(f, (size_t)n)) {
    SETTLE_OR_RETURN(file);
    return f->real->pMethods->xWrite(f->real, p, n, off);
  }
  if (!f->w && !(f->w = bgw_open_sink(sink, f))) return f->real->pMethods->xWrite(f->real, p, n, off);
  if (!f->queued) f->queued = 1, f->next = waiting, waiting = f;
  if (bgw_room(f->w) < sizeof(af_record) + (size_t)n) bgw_flush(f->w);
  af_record r = {off, n, 0};
  if (bgw_write(f->w, &r, sizeof r) && bgw_write(f->w, p, (size_t)n)) {
    atomic_fetch_add_explicit(&writes_waited, 1, memory_order_relaxed);
    return SQLITE_OK;
  }
  return settle(f); /* an earlier write failed: tell it now */
}

static int af_close(sqlite3_file *file) {
  af_file *f = (af_file *)file;
  int rc = before(file);
  if (f->w) bgw_close(f->w); /* nothing waits in it now */
  f->w = NULL;
  int rc2 = f->real->pMethods->xClose(f->real);
  return rc != SQLITE_OK ? rc : rc2;
}

static int af_read(sqlite3_file *file, void *p, int n, sqlite3_int64 off) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xRead(REAL(file), p, n, off);
}

static int af_truncate(sqlite3_file *file, sqlite3_int64 size) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xTruncate(REAL(file), size);
}

static int af_sync(sqlite3_file *file, int flags) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xSync(REAL(file), flags);
}

static int af_size(sqlite3_file *file, sqlite3_int64 *size) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xFileSize(REAL(file), size);
}

static int af_lock(sqlite3_file *file, int level) {
  SETTLE_OR_RETURN(file);
  int rc = REAL(file)->pMethods->xLock(REAL(file), level);
  if (rc == SQLITE_OK) ((af_file *)file)->lock = level;
  return rc;
}

/* Unlocks even when a write failed (the failure is told all the same):
 * a lock kept would shut every other syncvm out of the hub. */
static int af_unlock(sqlite3_file *file, int level) {
  int failed = before(file);
  int rc = REAL(file)->pMethods->xUnlock(REAL(file), level);
  if (rc == SQLITE_OK) ((af_file *)file)->lock = level;
  return failed != SQLITE_OK ? failed : rc;
}

static int af_reserved(sqlite3_file *file, int *out) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}

static int af_control(sqlite3_file *file, int op, void *arg) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}

static int af_sector(sqlite3_file *file) { return ((af_file *)file)->sector; }

static int af_device(sqlite3_file *file) { return ((af_file *)file)->device; }

static int af_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xShmMap(REAL(file), page, size, extend, out);
}

static int af_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}

static void af_shm_barrier(sqlite3_file *file) {
  af_file *f = (af_file *)file;
  if (f->kind == AF_OTHER) settle_all(); /* never: SQLite calls it on the database's file */
  else drain(f);                         /* a failure is told by the next call */
  REAL(file)->pMethods->xShmBarrier(REAL(file));
}

static int af_shm_unmap(sqlite3_file *file, int delete_flag) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}

static int af_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **out) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xFetch(REAL(file), off, n, out);
}

static int af_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p) {
  SETTLE_OR_RETURN(file);
  return REAL(file)->pMethods->xUnfetch(REAL(file), off, p);
}

/* The methods, in the version of the real file's (af_open): SQLite makes
 * no call that version lacks. */
#define AF_METHODS_V1                                                                                                 \
  .xClose = af_close, .xRead = af_read, .xWrite = af_write, .xTruncate = af_truncate, .xSync = af_sync, .xFileSize = af_size, \
  .xLock = af_lock, .xUnlock = af_unlock, .xCheckReservedLock = af_reserved, .xFileControl = af_control,                   \
  .xSectorSize = af_sector, .xDeviceCharacteristics = af_device
#define AF_METHODS_V2 \
  AF_METHODS_V1, .xShmMap = af_shm_map, .xShmLock = af_shm_lock, .xShmBarrier = af_shm_barrier, .xShmUnmap = af_shm_unmap

static const sqlite3_io_methods af_io = {.iVersion = 3, AF_METHODS_V2, .xFetch = af_fetch, .xUnfetch = af_unfetch};
static const sqlite3_io_methods af_io_v2 = {.iVersion = 2, AF_METHODS_V2};
static const sqlite3_io_methods af_io_v1 = {.iVersion = 1, AF_METHODS_V1};

static int kind_of(const char *name, int flags) {
  if (flags & SQLITE_OPEN_MAIN_DB) return name ? AF_DB : AF_TEMP; /* a database with no name is a temporary one */
  if (flags & (SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TRANSIENT_DB)) return AF_TEMP;
  return AF_OTHER; /* a journal, a WAL, a super-journal */
}

static int af_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
  (void)vfs;
  af_file *f = (af_file *)file;
  memset(f, 0, sizeof *f);
  f->real = (sqlite3_file *)(f + 1);
  f->kind = kind_of(name, flags);
  int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || !f->real->pMethods) {
    f->base.pMethods = NULL; /* SQLite then never calls af_close */
    return rc;
  }
  f->sector = f->real->pMethods->xSectorSize(f->real);
  f->device = f->real->pMethods->xDeviceCharacteristics(f->real);
  int v = f->real->pMethods->iVersion;
  f->base.pMethods = v >= 3 ? &af_io : v == 2 ? &af_io_v2 : &af_io_v1;
  return SQLITE_OK;
}

/* Deleting a journal ends a transaction: the database's writes go first. */
static int af_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs;
  int rc = settle_all();
  return rc != SQLITE_OK ? rc : base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int af_access(sqlite3_vfs *v, const char *n, int flags, int *out) { (void)v; return base_vfs->xAccess(base_vfs, n, flags, out); }
static int af_full_path(sqlite3_vfs *v, const char *n, int size, char *out) {
  (void)v;
  return base_vfs->xFullPathname(base_vfs, n, size, out);
}
static void *af_dl_open(sqlite3_vfs *v, const char *n) { (void)v; return base_vfs->xDlOpen(base_vfs, n); }
static void af_dl_error(sqlite3_vfs *v, int size, char *out) { (void)v; base_vfs->xDlError(base_vfs, size, out); }
static void (*af_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void) { (void)v; return base_vfs->xDlSym(base_vfs, h, sym); }
static void af_dl_close(sqlite3_vfs *v, void *h) { (void)v; base_vfs->xDlClose(base_vfs, h); }
static int af_random(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xRandomness(base_vfs, n, out); }
static int af_sleep(sqlite3_vfs *v, int us) { (void)v; return base_vfs->xSleep(base_vfs, us); }
static int af_time(sqlite3_vfs *v, double *out) { (void)v; return base_vfs->xCurrentTime(base_vfs, out); }
static int af_last_error(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xGetLastError(base_vfs, n, out); }
static int af_time64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return base_vfs->xCurrentTimeInt64(base_vfs, out); }

static int registered;

static void register_once(void) {
  base_vfs = sqlite3_vfs_find(NULL);
  if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64) return;
  af_vfs = (sqlite3_vfs){.iVersion = 2,
                         .szOsFile = (int)sizeof(af_file) + base_vfs->szOsFile,
                         .mxPathname = base_vfs->mxPathname,
                         .zName = "syncvm-async",
                         .xOpen = af_open,
                         .xDelete = af_delete,
                         .xAccess = af_access,
                         .xFullPathname = af_full_path,
                         .xDlOpen = af_dl_open,
                         .xDlError = af_dl_error,
                         .xDlSym = af_dl_sym,
                         .xDlClose = af_dl_close,
                         .xRandomness = af_random,
                         .xSleep = af_sleep,
                         .xCurrentTime = af_time,
                         .xGetLastError = af_last_error,
                         .xCurrentTimeInt64 = af_time64};
  registered = sqlite3_vfs_register(&af_vfs, 0) == SQLITE_OK;
}

const char *asyncvfs_name(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_once);
  return registered ? af_vfs.zName : NULL;
}
