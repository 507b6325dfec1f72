/* test_plan.c: the plan loader and verifier against damaged plans.
 *
 * Takes a good plan (built by `make` from tests/plans/small.sync), then:
 * truncates it at every offset, flips every byte, and flips every byte again
 * with the checksum recomputed so that the verifier itself must cope.  Every
 * variant must be refused with a "bad plan" message or, if it still verifies,
 * must run through the VM and the disassembler without a memory error (the
 * sanitizer build proves that).  Also: the version and mangling messages,
 * and the limit on an entity's attributes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm.h"
#include "plan.h"
#include "sha256.h"
#include "vm.h"

static int passed, failed;

static void check(int cond, const char *what, long at) {
  if (cond) {
    passed++;
  } else {
    failed++;
    if (failed < 20) printf("FAIL %s (at %ld)\n", what, at);
  }
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
  fclose(f);
  *len = (size_t)n;
  return b;
}

static int refused(const char *err) {
  return strncmp(err, "bad plan: ", 10) == 0 || strncmp(err, "plan format ", 12) == 0;
}

/* A plan that verified must be safe to run: every block over null inputs. */
static void exercise(const plan *p) {
  vm v;
  vm_init(&v, p);
  value fields[256], attrs[128];
  for (int i = 0; i < 256; i++) fields[i] = v_null();
  for (uint32_t b = 0; b < p->nblocks; b++) {
    const plan_unit *u = &p->units[p->blocks[b].unit];
    if (u->nfields > 256) continue;
    for (int i = 0; i < 128; i++) attrs[i] = v_str("x", 1);
    vm_result r;
    vm_run(&v, b, fields, attrs, &r);
    vm_reset_record(&v);
  }
  vm_free(&v);
  FILE *devnull = fopen("/dev/null", "w");
  if (devnull) {
    disasm_plan(devnull, p);
    fclose(devnull);
  }
}

static void try_bytes(const unsigned char *b, size_t len, const char *what, long at, int may_pass) {
  char err[300] = "";
  plan *p = plan_read(b, len, err, sizeof err);
  if (p) {
    check(may_pass, what, at);
    exercise(p);
    plan_free(p);
  } else {
    check(refused(err), what, at);
  }
}

/* A plan whose entity has more attributes than SCHEMA_MAX_ATTRS is refused
 * by name (syncc refuses such a spec; a plan may be made by hand), and one
 * at the limit loads and runs: the VM's and the runtime's per-record arrays
 * are that long.  The good plan declares student.house. */
static void attribute_limit(const unsigned char *good, size_t len) {
  char err[300];
  plan *p = plan_read(good, len, err, sizeof err);
  check(p && p->nattrs > 0, "the good plan declares an attribute", 0);
  if (!p || !p->nattrs) {
    plan_free(p);
    return;
  }
  plan_attr *own = p->attrs;
  uint32_t nown = p->nattrs;
  int have = plan_entity_attrs(p, own[0].entity, NULL, NULL, 0);
  for (int over = 0; over < 2; over++) {
    uint32_t n = nown + (uint32_t)(SCHEMA_MAX_ATTRS - have + over);
    plan_attr *more = calloc(n, sizeof *more);
    memcpy(more, own, nown * sizeof *own);
    for (uint32_t i = nown; i < n; i++) more[i] = own[0]; /* the names repeat: the loader counts, it does not compare */
    p->attrs = more, p->nattrs = n;
    size_t blen;
    uint8_t *bytes = plan_write(p, &blen);
    p->attrs = own, p->nattrs = nown;
    free(more);
    plan *q = plan_read(bytes, blen, err, sizeof err);
    if (over) {
      check(!q && strstr(err, "has more than 128 attributes"), "an entity past the attribute limit refused", (long)n);
    } else {
      check(q != NULL, "an entity at the attribute limit loads", (long)n);
      if (q) exercise(q);
    }
    plan_free(q);
    free(bytes);
  }
  plan_free(p);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : getenv("SYNC_TEST_PLAN");
  if (!path) path = "build/test/small.plan";
  size_t len;
  unsigned char *good = slurp(path, &len);
  if (!good) {
    printf("cannot read %s (run make first)\n0 passed, 1 failed\n", path);
    return 1;
  }
  char err[300];
  plan *p = plan_read(good, len, err, sizeof err);
  check(p != NULL, "the good plan loads", 0);
  if (p) {
    exercise(p);
    plan_free(p);
  }
  attribute_limit(good, len);
  unsigned char *b = malloc(len);
  for (size_t n = 0; n < len; n++) try_bytes(good, n, "truncated plan refused", (long)n, 0);
  for (size_t i = 0; i < len; i++) {
    memcpy(b, good, len);
    b[i] ^= 0xFF;
    try_bytes(b, len, "flipped byte refused", (long)i, 0);
  }
  /* Flips with a recomputed checksum reach the section readers and the
   * verifier; a variant may verify (a changed string), but must not crash. */
  for (size_t i = PLAN_HEADER_LEN; i < len; i++) {
    for (int bit = 0; bit < 2; bit++) {
      memcpy(b, good, len);
      b[i] ^= bit ? 0x01 : 0x80;
      plan_checksum(b, len, b + 24);
      try_bytes(b, len, "re-summed flip handled", (long)i, 1);
    }
  }
  /* A newer major version is refused naming both versions. */
  memcpy(b, good, len);
  b[12] = 2;
  plan_checksum(b, len, b + 24);
  plan *q = plan_read(b, len, err, sizeof err);
  check(!q && strstr(err, "2.0") && strstr(err, "1.0") && strstr(err, "newer"), "newer major version named", 12);
  plan_free(q);
  /* A plan built for another hub schema is refused, saying so. */
  memcpy(b, good, len);
  size_t schema_at = 0; /* the schema hash: the last 32 bytes of the inputs section */
  unsigned nsec = (unsigned)good[16] | (unsigned)good[17] << 8;
  for (unsigned k = 0; k < nsec; k++) {
    const unsigned char *ent = good + PLAN_HEADER_LEN + 12 * k;
    uint32_t off = (uint32_t)ent[4] | (uint32_t)ent[5] << 8 | (uint32_t)ent[6] << 16 | (uint32_t)ent[7] << 24;
    uint32_t sl = (uint32_t)ent[8] | (uint32_t)ent[9] << 8 | (uint32_t)ent[10] << 16 | (uint32_t)ent[11] << 24;
    if ((ent[0] | ent[1] << 8) == SEC_INPUTS) schema_at = PLAN_HEADER_LEN + off + sl - 32;
  }
  b[schema_at] ^= 0x55;
  plan_checksum(b, len, b + 24);
  q = plan_read(b, len, err, sizeof err);
  check(!q && strstr(err, "another version of the hub schema"), "another schema version named", (long)len - 1);
  plan_free(q);
  /* CRLF mangling of the signature is recognised. */
  unsigned char *m = malloc(len + 1);
  memcpy(m, good, 10);
  m[10] = '\r', m[11] = '\n';
  memcpy(m + 12, good + 11, len - 11);
  q = plan_read(m, len + 1, err, sizeof err);
  check(!q && strstr(err, "mangled"), "text-mode mangling recognised", 10);
  plan_free(q);
  free(m);
  free(b);
  free(good);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
