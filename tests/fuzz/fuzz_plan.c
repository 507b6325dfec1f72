/* fuzz_plan.c: libFuzzer target for the plan loader, verifier and VM.
 *
 * The first input byte chooses whether the body's checksum is recomputed
 * before loading: without it most mutations stop at the checksum, with it
 * they reach the section readers and the verifier.  A plan that verifies is
 * run, every block over null records, and disassembled.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm.h"
#include "plan.h"
#include "sha256.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int resum = data[0] & 1;
  data++, size--;
  uint8_t *b = malloc(size ? size : 1);
  memcpy(b, data, size);
  if (resum && size > PLAN_HEADER_LEN) plan_checksum(b, size, b + 24);
  char err[300];
  plan *p = plan_read(b, size, err, sizeof err);
  if (p) {
    vm v;
    vm_init(&v, p);
    value fields[256], attrs[128];
    for (int i = 0; i < 256; i++) fields[i] = v_null();
    for (uint32_t k = 0; k < p->nblocks; k++) {
      if (p->units[p->blocks[k].unit].nfields > 256) continue;
      for (int i = 0; i < 128; i++) attrs[i] = v_null();
      vm_result r;
      vm_run(&v, k, fields, attrs, &r);
      vm_reset_record(&v);
    }
    vm_free(&v);
    FILE *null = fopen("/dev/null", "w");
    disasm_plan(null, p);
    fclose(null);
    plan_free(p);
  }
  free(b);
  return 0;
}
