/* test_hugepages.c: the GLIBC_TUNABLES value syncvm runs itself again with
 * (hugepages.h): the tunable is added to what a user set, never twice, and
 * never over a value the user chose; and the state --stats reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hugepages.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail) {
  if (cond) passed++;
  else if (failed++ < 10) printf("FAIL %s: %s\n", what, detail);
}

static void tunables(const char *current, const char *want) {
  char out[256] = "";
  int changed = hugepages_tunables(current, out, sizeof out);
  char what[300];
  snprintf(what, sizeof what, "tunables from \"%s\"", current ? current : "(unset)");
  if (want) check(changed && strcmp(out, want) == 0, what, out);
  else check(!changed, what, out);
}

static void test_tunables(void) {
  tunables(NULL, "glibc.malloc.hugetlb=1");
  tunables("", "glibc.malloc.hugetlb=1");
  tunables("glibc.malloc.arena_max=2", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  /* the user's own choice, wherever it is in the list, is kept */
  tunables("glibc.malloc.hugetlb=0", NULL);
  tunables("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", NULL);
  tunables("glibc.malloc.hugetlb=2:glibc.malloc.arena_max=2", NULL);
  /* a longer name that starts the same is another tunable */
  tunables("glibc.malloc.hugetlbx=0", "glibc.malloc.hugetlbx=0:glibc.malloc.hugetlb=1");
  tunables("xglibc.malloc.hugetlb=0", "xglibc.malloc.hugetlb=0:glibc.malloc.hugetlb=1");
  char small[8];
  check(!hugepages_tunables(NULL, small, sizeof small), "no room for the value: nothing changes", "");
}

/* The state --stats prints follows the tunable (with glibc's malloc; a
 * sanitizer's ignores it, and the state is "off" whatever it says). */
static void test_state(int glibc_malloc) {
  const char *on = glibc_malloc ? "on" : "off";
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  check(strcmp(hugepages_state(), on) == 0, "state with hugetlb=1", hugepages_state());
  setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", 1);
  check(strcmp(hugepages_state(), on) == 0, "state with hugetlb=1 last", hugepages_state());
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0", 1);
  check(strcmp(hugepages_state(), "off") == 0, "state with hugetlb=0", hugepages_state());
  setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=10", 1);
  check(strcmp(hugepages_state(), "off") == 0, "state with hugetlb=10", hugepages_state());
  unsetenv("GLIBC_TUNABLES");
  check(strcmp(hugepages_state(), "off") == 0, "state unset", hugepages_state());
}

int main(int argc, char **argv) {
  (void)argc, (void)argv;
  test_tunables();
  test_state(HUGEPAGES_GLIBC_MALLOC);
  printf("hugepages: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
