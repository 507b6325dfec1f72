/* scratch.c: unlinked temporary files (scratch.h). */
#include "scratch.h"

#include <stdlib.h>
#include <unistd.h>

FILE *scratch_file(const char *tag, char **iobuf) {
  const char *dir = getenv("TMPDIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/syncvm-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  unlink(path);
  FILE *f = fdopen(fd, "w+");
  if (!f) {
    close(fd);
    return NULL;
  }
  if (iobuf) {
    if (!(*iobuf = malloc(SCRATCH_IOBUF))) {
      fclose(f);
      return NULL;
    }
    setvbuf(f, *iobuf, _IOFBF, SCRATCH_IOBUF);
  }
  return f;
}
