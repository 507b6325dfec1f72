/* fuzz_runfile.c: libFuzzer target for the run-file reader (runfile.c) and
 * the compact subset it copies operations in (jspan_compact_ok).
 *
 * The input is a run file.  Whatever it holds, reading it must end in a
 * run or an error, never a crash; every text jspan_compact_ok accepts must
 * be one jansson parses too (else an operation copied as it is could mean
 * something other than what a parse would give); and each operation read
 * must be one jspan can take apart, and what an applied run's history
 * keeps of it (run_history_keeps) no longer than it and, when cut, still
 * JSON.  The same holds when it is read on a second thread while its
 * operations are taken.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jspan.h"
#include "oplog.h"
#include "pipeline.h"
#include "runfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (jspan_compact_ok((const char *)data, size)) {
    json_t *v = json_loadb((const char *)data, size, 0, NULL);
    if (!v) abort(); /* the subset took a text jansson refuses */
    json_decref(v);
  }
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_runfile_%d.json", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  run_result r;
  char err[1200];
  if (runfile_read(path, &r, err, sizeof err)) {
    const char *line;
    size_t n;
    char *buf = NULL;
    size_t cap = 0;
    oplog_rewind(r.ops);
    while ((line = oplog_next_text(r.ops, &n))) {
      jmember m[64];
      size_t nm = jspan_members((jspan){line, n}, m, 64);
      for (size_t i = 0; i < nm; i++) jspan_str(m[i].val, &buf, &cap), jspan_int(m[i].val);
      size_t k = run_history_keeps(line, n);
      if (k > n) abort();
      if (k && k < n) { /* cut: the head and a '}' must be an object still */
        char *cut = malloc(k + 1);
        memcpy(cut, line, k);
        cut[k] = '}';
        json_t *v = json_loadb(cut, k + 1, 0, NULL);
        if (!json_is_object(v)) abort();
        json_decref(v);
        free(cut);
      }
    }
    free(buf);
    run_free(&r);
  }
  /* The same file applied as it is read (apply RUNFILE): a second thread
   * reads the operations while this one takes them, copied, then where
   * they lie.  Read well both ways, the operations taken are the same. */
  uint64_t taken[2] = {0, 0};
  int read_well[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    runfile_job *j = runfile_start(path, &r, k ? RUNFILE_IN_PLACE : RUNFILE_FOLLOW, err, sizeof err);
    if (!j) continue;
    size_t n;
    uint64_t h = 1469598103934665603ull;
    for (const char *op; (op = runfile_next_op(j, &n));)
      for (size_t i = 0; i <= n; i++) h = (h ^ (i < n ? (unsigned char)op[i] : 0x100u)) * 1099511628211ull;
    runfile_known_ops(j, (size_t)1 << 30);
    int again = 0;
    read_well[k] = runfile_finish(j, 1, &again) && !again;
    if (again && !k) abort(); /* only a file followed in place strays */
    taken[k] = h;
    run_free(&r);
  }
  if (read_well[0] && read_well[1] && taken[0] != taken[1]) abort();
  remove(path);
  return 0;
}
