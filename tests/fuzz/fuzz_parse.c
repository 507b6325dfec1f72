/* fuzz_parse.c: libFuzzer target for the front end.
 *
 * Each input is a spec: it is lexed, parsed, checked (through a file, as
 * `syncc check` does) and, when clean, formatted, compiled to a plan and
 * loaded back.  Any crash, leak, hang or undefined behaviour is a bug.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "codegen.h"
#include "diag.h"
#include "fmt.h"
#include "plan.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz-parse-%d.sync", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  diag_init(1, 0, 20);
  spec_model *m = spec_load(path);
  if (m && diag_error_count() == 0) {
    char *out = fmt_render(m->main.file, &m->main.parsed);
    free(out);
    plan *p = codegen(m);
    size_t len;
    uint8_t *bytes = plan_write(p, &len);
    char err[300];
    plan *back = plan_read(bytes, len, err, sizeof err);
    if (!back) abort(); /* the compiler must only write plans that verify */
    plan_free(back);
    plan_free(p);
    free(bytes);
  }
  spec_free(m);
  diag_reset();
  src_free_all();
  return 0;
}
