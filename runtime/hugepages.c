/* hugepages.c: running syncvm on transparent huge pages (see hugepages.h). */
#include "hugepages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"
#define THP_MODE "/sys/kernel/mm/transparent_hugepage/enabled"

/* Where `current` sets the tunable (its name at the start or after a ':'),
 * or NULL. */
static const char *find_tunable(const char *current) {
  size_t n = strlen(TUNABLE);
  for (const char *p = current; p && *p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL)
    if (!strncmp(p, TUNABLE, n) && p[n] == '=') return p;
  return NULL;
}

int hugepages_tunables(const char *current, char *out, size_t size) {
  if (find_tunable(current)) return 0;
  int n = current && *current ? snprintf(out, size, "%s:%s=1", current, TUNABLE) : snprintf(out, size, "%s=1", TUNABLE);
  return n > 0 && (size_t)n < size;
}

/* 1 when the kernel gives huge pages only to memory that asks for them
 * ("always": every process has them already; "never": none will). */
static int thp_on_request(void) {
  char mode[128] = "";
  FILE *f = fopen(THP_MODE, "r");
  if (!f) return 0;
  size_t n = fread(mode, 1, sizeof mode - 1, f);
  fclose(f);
  mode[n] = '\0';
  return strstr(mode, "[madvise]") != NULL;
}

void hugepages_reexec(char **argv) {
  char value[4096];
  const char *current = getenv("GLIBC_TUNABLES");
  if (!HUGEPAGES_GLIBC_MALLOC || !hugepages_tunables(current, value, sizeof value) || !thp_on_request()) return;
  char *old = current ? strdup(current) : NULL;
  /* The program's own path, so that ps and top still name it (exec'd as
   * /proc/self/exe, it would be "exe"); that link itself if it is gone. */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) self[n] = '\0';
  if (n <= 0 || access(self, X_OK) != 0) snprintf(self, sizeof self, "/proc/self/exe");
  if (setenv("GLIBC_TUNABLES", value, 1) == 0) execv(self, argv);
  /* No /proc, say: go on as we are, without advertising a tunable that the
   * running malloc never read. */
  if (old) setenv("GLIBC_TUNABLES", old, 1);
  else unsetenv("GLIBC_TUNABLES");
  free(old);
}

const char *hugepages_state(void) {
  const char *p = HUGEPAGES_GLIBC_MALLOC ? find_tunable(getenv("GLIBC_TUNABLES")) : NULL;
  if (!p) return "off";
  p += strlen(TUNABLE) + 1; /* the value */
  return p[0] == '1' && (p[1] == ':' || p[1] == '\0') ? "on" : "off";
}
