/* bench/vm.c: how fast the VM maps and filters already-decoded records.
 *
 *   make bench-vm            (builds the Springfield plan, runs 1,000,000 records)
 *   build/bench/vm PLAN [N]
 *
 * Runs the map, filter and require blocks of the plan's vc.student unit over
 * N synthetic Veracross student records (decoded values, as a connector
 * hands them over), with the schools step in between, and prints records per
 * second and nanoseconds per record.  The target (issue 3) is 2,000,000
 * records per second on one core.  Best of three runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan.h"
#include "vm.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *pick(const char *const *list, size_t n, size_t i) { return list[i % n]; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench/vm PLAN [RECORDS]\n");
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 1000000;
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  static uint8_t buf[1 << 22];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  char err[300];
  plan *p = plan_read(buf, len, err, sizeof err);
  if (!p) {
    fprintf(stderr, "%s: %s\n", argv[1], err);
    return 2;
  }
  uint32_t unit = PLAN_NONE;
  for (uint32_t i = 0; i < p->nunits; i++)
    if (p->units[i].entity == ENT_student && strcmp(plan_str(p, p->sources[p->units[i].source].name), "vc") == 0) unit = i;
  if (unit == PLAN_NONE) {
    fprintf(stderr, "the plan has no vc.student unit\n");
    return 2;
  }
  const plan_unit *u = &p->units[unit];
  /* A pool of distinct records, cycled: field values as a connector decodes them. */
  enum { POOL = 4096 };
  static const char *const firsts[] = {"Ada", "Bo", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana"};
  static const char *const lasts[] = {"Lovelace", "Lee", "Ng", "Okafor", "Smith", "Garcia", "Kowalski"};
  static const char *const grades[] = {"Kindergarten", "Grade 1", "Grade 5", "Grade 9", "Grade 12", "Pre-K"};
  static const char *const statuses[] = {"Enrolled", "Enrolled", "Enrolled", "Withdrawn"};
  value *pool = calloc((size_t)POOL * u->nfields, sizeof *pool);
  char (*emails)[64] = calloc(POOL, 64);
  char (*ids)[16] = calloc(POOL, 16);
  for (int r = 0; r < POOL; r++) {
    snprintf(emails[r], 64, "  %s.%s%d@Springfield.Example ", firsts[r % 8], lasts[r % 7], r);
    snprintf(ids[r], 16, "%d", 100000 + r);
    for (uint32_t k = 0; k < u->nfields; k++) {
      const char *path = plan_str(p, u->fields[k]);
      value v = v_null();
      if (!strcmp(path, "id")) v = v_int(100000 + r);
      else if (!strcmp(path, "first_name")) v = v_str(pick(firsts, 8, (size_t)r), strlen(pick(firsts, 8, (size_t)r)));
      else if (!strcmp(path, "last_name")) v = v_str(pick(lasts, 7, (size_t)r), strlen(pick(lasts, 7, (size_t)r)));
      else if (!strcmp(path, "email_1")) v = v_str(emails[r], strlen(emails[r]));
      else if (!strcmp(path, "birthday")) v = v_str("2014-03-09", 10);
      else if (!strcmp(path, "grade_level.description")) v = v_str(pick(grades, 6, (size_t)r), strlen(pick(grades, 6, (size_t)r)));
      else if (!strcmp(path, "enrollment_status.description")) v = v_str(pick(statuses, 4, (size_t)r), strlen(pick(statuses, 4, (size_t)r)));
      else if (!strcmp(path, "campus.id")) v = v_int(1 + r % 2);
      else if (!strcmp(path, "graduation_year")) v = v_int(2030 + r % 8);
      else if (!strcmp(path, "username")) v = v_str(ids[r], strlen(ids[r]));
      pool[(size_t)r * u->nfields + k] = v;
    }
  }
  vm v;
  vm_init(&v, p);
  value attrs[128];
  int school_slot = -1;
  const char *names[128];
  uint8_t types[128];
  int nattrs = plan_entity_attrs(p, u->entity, names, types, 128);
  for (int i = 0; i < nattrs; i++)
    if (!strcmp(names[i], "school")) school_slot = i;
  double best = 1e9;
  long kept = 0;
  for (int round = 0; round < 3; round++) {
    kept = 0;
    double t0 = now();
    for (long r = 0; r < n; r++) {
      const value *fields = &pool[(size_t)(r % POOL) * u->nfields];
      for (int i = 0; i < nattrs; i++) attrs[i] = v_null();
      vm_result res;
      vm_run(&v, u->map_block, fields, attrs, &res);
      if (school_slot >= 0) {
        value code;
        int s = plan_map_school(p, u->source, attrs[school_slot], &code);
        if (s == SCHOOL_SKIPPED || s == SCHOOL_UNMAPPED) {
          vm_reset_record(&v);
          continue;
        }
        attrs[school_slot] = code;
      }
      if (u->filter_block != PLAN_NONE) vm_run(&v, u->filter_block, fields, attrs, &res);
      if (res.outcome == VM_KEPT && u->require_block != PLAN_NONE) vm_run(&v, u->require_block, fields, attrs, &res);
      kept += res.outcome == VM_KEPT;
      vm_reset_record(&v);
    }
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("vm benchmark: %ld vc.student records through map, schools, filter and require\n", n);
  printf("  kept %ld, best of 3: %.3f s, %.0f records/s, %.0f ns/record (target: 2000000 records/s)\n", kept, best,
         n / best, best * 1e9 / n);
  vm_free(&v);
  plan_free(p);
  free(pool);
  free(emails);
  free(ids);
  return 0;
}
