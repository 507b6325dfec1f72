/* test_bgwrite.c: a file written on a second thread (bgwrite.h) holds every
 * byte given, in order, from the offset it was opened at, whatever the
 * sizes of the pieces against its buffers, copied in or put straight into
 * the room bgw_reserve gives; after bgw_sync a reader sees all
 * of them; and a failed write (a full disk) is reported, never lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgwrite.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

/* The byte at offset i of what the tests write. */
static char byte_at(uint64_t i) { return (char)('a' + (i * 7 + i / 4099) % 26); }

/* Pieces of these sizes, in turn: smaller than a buffer, ending one just
 * short or just past its end, and larger than all of them together. */
static const size_t sizes[] = {1, 7, BGW_BUF - 3, 2, 5, 3 * BGW_BUF + 11, 4096, BGW_BUF, 0, 13};

static void test_order(void) {
  char path[] = "/tmp/test_bgwrite-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return check(0, "a temporary file", strerror(errno));
  unlink(path);
  const uint64_t at = 100;
  char head[100];
  memset(head, 'H', sizeof head);
  check(write(fd, head, sizeof head) == (ssize_t)sizeof head, "the bytes before", "");
  bgwriter *w = bgw_open(fd, at);
  check(w != NULL, "open", "");
  if (!w) return;
  uint64_t total = 0;
  char *piece = malloc(3 * BGW_BUF + 11);
  int all = 1, reserved = 1;
  for (int round = 0; round < 3; round++)
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      /* the last round puts what fits straight into the buffer (bgw_reserve) */
      char *room = round == 2 ? bgw_reserve(w, sizes[k]) : NULL;
      if (round == 2) reserved &= (room != NULL) == (sizes[k] <= BGW_BUF);
      char *to = room ? room : piece;
      for (size_t i = 0; i < sizes[k]; i++) to[i] = byte_at(total + i);
      if (room) bgw_wrote(w, sizes[k]);
      else all = bgw_write(w, piece, sizes[k]) && all;
      total += sizes[k];
      if (round == 1 && k == 4) { /* a reader in the middle sees all so far */
        check(bgw_sync(w), "sync in the middle", "");
        char got[64];
        check(pread(fd, got, sizeof got, (off_t)(at + total - sizeof got)) == (ssize_t)sizeof got &&
                  got[sizeof got - 1] == byte_at(total - 1) && got[0] == byte_at(total - sizeof got),
              "after a sync, the last bytes given are in the file", "");
      }
    }
  check(all, "every write taken", "");
  check(reserved, "room for every piece up to a buffer's size, and none for a larger one", "");
  check(bgw_offset(w) == at + total, "the offset of the next byte", "");
  check(bgw_close(w), "close", "");
  off_t size = lseek(fd, 0, SEEK_END);
  check(size == (off_t)(at + total), "the file's size", "");
  char *back = malloc(total + at);
  ssize_t got = pread(fd, back, total + at, 0);
  int same = got == (ssize_t)(total + at) && memcmp(back, head, sizeof head) == 0;
  for (uint64_t i = 0; same && i < total; i++) same = back[at + i] == byte_at(i);
  check(same, "every byte in order, the ones before the offset untouched", "");
  free(back);
  free(piece);
  close(fd);
}

static void test_full_disk(void) {
  int fd = open("/dev/full", O_WRONLY);
  if (fd < 0) return; /* no such device here: nothing to show */
  bgwriter *w = bgw_open(fd, 0);
  char *piece = calloc(1, BGW_BUF);
  int ok = 1;
  for (int i = 0; i < 2 * BGW_BUFS && ok; i++) ok = bgw_write(w, piece, BGW_BUF);
  int synced = bgw_sync(w), err = errno;
  check(!synced && err == ENOSPC, "a full disk: sync says the write failed, with ENOSPC", strerror(err));
  check(!bgw_write(w, "x", 1) || !bgw_sync(w), "and every write after it fails too", "");
  check(bgw_reserve(w, 1) == NULL, "and no room is given after it", "");
  check(!bgw_close(w), "and close says so", "");
  free(piece);
  close(fd);
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  test_order();
  test_full_disk();
  printf("bgwrite: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
