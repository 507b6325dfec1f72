/* outfile.c: plan -o's run file, written beside where it goes and put in
 * place once whole (see outfile.h).
 *
 * Put in place by exchanging it with the old file (renameat2 with
 * RENAME_EXCHANGE), then removing the old one, rather than by renaming over
 * it: ext4, seeing a file renamed over another, writes the new file's data
 * out before the rename returns (its auto_da_alloc, a guard for programs
 * that skip fsync), and at 100,000 students that held plan -o 0.17 s on a
 * 400 MB run file.  The exchange is as atomic as the rename.  Where it is
 * not to be had (another filesystem, an older kernel, no old file or one
 * that is not a regular file), the file is renamed over the path as before.
 *
 * The old file stays whole on disk until then, but its pages in the
 * kernel's cache are let go as the plan begins (POSIX_FADV_DONTNEED, on a
 * thread of its own).  On a machine that hands memory unused for a few
 * seconds back to its host, as this project's does, pages just freed are
 * the cheap ones to write into: with a million students' 4 GB run file
 * still cached from the run before, the new one went into pages the host
 * had to back again, and plan -o's merge took 8.1-8.3 s against 4.6-4.9 s
 * once the old pages were dropped first (the drop itself 0.2 s).
 */
#define _GNU_SOURCE /* renameat2 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUNFILE_IOBUF (1 << 20) /* stdio's own is a page: a write call per 4 KB */

/* The partial file while it is being written, removed when a signal ends
 * the process first (Ctrl-C, a timeout's SIGTERM, a closed pipe): at a
 * million students it is gigabytes.  After the exchange it is the old file,
 * which goes either way. */
static char partial_path[1100];
static volatile sig_atomic_t partial_live;

static void remove_partial(int sig) {
  if (partial_live) unlink(partial_path); /* async-signal-safe */
  raise(sig);                             /* the default action now (SA_RESETHAND) */
}

static void watch_partial(const char *path) {
  snprintf(partial_path, sizeof partial_path, "%s", path);
  partial_live = 1;
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = remove_partial;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);
}

static void *drop_pages(void *arg) {
  out_file *w = arg;
  posix_fadvise(w->old_fd, 0, 0, POSIX_FADV_DONTNEED); /* advice: nothing to do when it is not taken */
  return NULL;
}

/* Starts dropping the cached pages of the regular file at path, if there
 * is one (opened without blocking: a FIFO there must not hold the plan). */
static void drop_old(out_file *w, const char *path) {
  struct stat st;
  w->dropping = 0;
  w->old_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (w->old_fd < 0) return;
  if (fstat(w->old_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    w->dropping = pthread_create(&w->dropper, NULL, drop_pages, w) == 0;
  if (!w->dropping) close(w->old_fd);
}

static void drop_done(out_file *w) {
  if (!w->dropping) return;
  pthread_join(w->dropper, NULL);
  close(w->old_fd);
  w->dropping = 0;
}

int out_open(out_file *w, const char *path) {
  snprintf(w->partial, sizeof w->partial, "%s.%ld.partial", path, (long)getpid());
  watch_partial(w->partial); /* before the file exists: a signal in between finds nothing to remove */
  int fd = open(w->partial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  w->f = fd >= 0 ? fdopen(fd, "w+") : NULL;
  w->iobuf = malloc(RUNFILE_IOBUF);
  if (!w->f || !w->iobuf) {
    fprintf(stderr, "syncvm: cannot write %s: %s\n", path, strerror(errno));
    if (w->f) fclose(w->f);
    else if (fd >= 0) close(fd);
    if (fd >= 0) unlink(w->partial);
    partial_live = 0;
    free(w->iobuf);
    return 0;
  }
  setvbuf(w->f, w->iobuf, _IOFBF, RUNFILE_IOBUF);
  drop_old(w, path);
  return 1;
}

/* Puts the partial file at path: exchanged with a regular file there (the
 * old one then goes), else renamed over it. */
static int put_in_place(const char *partial, const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && renameat2(AT_FDCWD, partial, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
    unlink(partial); /* the old file, now; a failure leaves only a stale file behind */
    return 1;
  }
  return rename(partial, path) == 0;
}

int out_close(out_file *w, const char *path, int keep) {
  drop_done(w);
  int ok = fclose(w->f) == 0 && keep && put_in_place(w->partial, path), err = errno;
  if (!ok) unlink(w->partial);
  partial_live = 0; /* after: a signal before it removes a file already gone */
  free(w->iobuf);
  errno = err;
  return ok;
}
