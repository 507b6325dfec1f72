/* hugepages.h: runs syncvm on transparent huge pages where the kernel gives
 * them only on request.
 *
 * A sync at 100,000 students touches about 100 MB of memory once: its
 * records, their id index, the spill's buffers, SQLite's page cache.  In
 * 4 KB pages that is some 26,000 page faults per process, and on a virtual
 * machine each costs microseconds (7% of a no-change plan, by perf).  glibc's
 * malloc asks for 2 MB pages when its tunable glibc.malloc.hugetlb is 1, but
 * reads its tunables only as a process starts: so syncvm, when the kernel's
 * mode is "madvise" and the tunable is not set, runs itself again at once
 * with it added to GLIBC_TUNABLES.  A user who sets glibc.malloc.hugetlb
 * (to 0, say) is left alone.
 */
#ifndef SYNC_HUGEPAGES_H
#define SYNC_HUGEPAGES_H

#include <stddef.h>
#include <stdlib.h> /* defines __GLIBC__ with glibc */

/* 1 when malloc is glibc's and reads the tunable: the sanitizers bring
 * their own malloc, which ignores glibc's tunables. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HUGEPAGES_GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HUGEPAGES_GLIBC_MALLOC 0
#endif
#endif
#ifndef HUGEPAGES_GLIBC_MALLOC
#ifdef __GLIBC__
#define HUGEPAGES_GLIBC_MALLOC 1
#else
#define HUGEPAGES_GLIBC_MALLOC 0
#endif
#endif

/* The GLIBC_TUNABLES value to run with, given the current one (NULL when
 * unset), into out; 0 when the current one already says
 * glibc.malloc.hugetlb (or out is too small): nothing to change. */
int hugepages_tunables(const char *current, char *out, size_t size);

/* Execs this program again with the tunable when that helps (see above);
 * returns when it does not, or when the exec fails (nothing is lost: the
 * process goes on with 4 KB pages).  Call first thing in main, before any
 * output or input. */
void hugepages_reexec(char **argv);

/* "on" when this process runs with glibc.malloc.hugetlb=1, else "off". */
const char *hugepages_state(void);

#endif
