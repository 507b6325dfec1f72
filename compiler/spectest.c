/* spectest.c: running `test` blocks through the compiled plan.
 *
 * A test gives one source record; it goes through the same steps a real run
 * takes before linking: the map block, the schools map, the filter block and
 * the require block, all in the VM, from the plan as syncvm would load it.
 * Each expectation is then checked: kept, dropped, skipped, reported, or a
 * condition on the mapped attributes (an expect block).
 */
#include "spectest.h"

#include <stdlib.h>
#include <string.h>

#include "disasm.h"
#include "opcodes.h"
#include "source.h"
#include "util.h"
#include "vm.h"

typedef struct {
  sbuf *notes;
  const plan *p;
} warn_sink;

static void on_warning(void *ctx, uint32_t loc, const char *msg) {
  warn_sink *w = ctx;
  char where[300];
  disasm_loc(where, sizeof where, w->p, loc);
  sb_printf(w->notes, "    warning at %s: %s\n", where, msg);
}

/* The text of the spec line at a location, trimmed, when the spec is loaded. */
static void line_text(char *buf, size_t size, const plan *p, uint32_t loc) {
  buf[0] = 0;
  if (loc >= p->nlocs) return;
  const char *path = plan_str(p, p->locs[loc].file);
  for (int f = 0; f < src_count(); f++) {
    const source_file *sf = src_get(f);
    if (strcmp(sf->path, path) != 0) continue;
    int len;
    const char *t = src_line(f, (int)p->locs[loc].line, &len);
    while (len > 0 && (*t == ' ' || *t == '\t')) t++, len--;
    snprintf(buf, size, "%.*s", len > 120 ? 120 : len, t);
    return;
  }
}

static void describe_rule(char *buf, size_t size, const plan *p, const plan_unit *u, uint32_t rule) {
  char where[300], text[160];
  const plan_rule *r = &u->rules[rule];
  disasm_loc(where, sizeof where, p, r->loc);
  line_text(text, sizeof text, p, r->loc);
  if (r->via != PLAN_NONE) {
    char via[300];
    disasm_loc(via, sizeof via, p, r->via);
    if (snprintf(buf, size, "%s `%s` (in a template used at %s)", where, text, via) >= (int)size) buf[size - 1] = 0;
  } else {
    if (snprintf(buf, size, "%s `%s`", where, text) >= (int)size) buf[size - 1] = 0;
  }
}

typedef struct {
  int outcome;     /* vm_outcome, or -1: left out by the schools map */
  vm_result res;
  const char *school_why;
} record_fate;

static void run_record(vm *v, const plan *p, uint32_t ui, const value *fields, value *attrs, record_fate *f) {
  const plan_unit *u = &p->units[ui];
  memset(f, 0, sizeof *f);
  f->outcome = VM_KEPT;
  if (u->map_block != PLAN_NONE) vm_run(v, u->map_block, fields, attrs, &f->res);
  /* The schools step reads the mapped `school` (a school's own sis_id). */
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  int n = plan_entity_attrs(p, u->entity, names, types, SCHEMA_MAX_ATTRS);
  const char *key = u->entity == ENT_school ? "sis_id" : "school";
  for (int i = 0; i < n && i < SCHEMA_MAX_ATTRS; i++) {
    if (strcmp(names[i], key) != 0) continue;
    value code;
    int r = plan_map_school(p, u->source, attrs[i], &code);
    if (r == SCHOOL_SKIPPED || r == SCHOOL_UNMAPPED) {
      f->outcome = -1;
      f->school_why = r == SCHOOL_SKIPPED ? "its school is skipped by the schools map" : "its school is not in the schools map";
      return;
    }
    attrs[i] = code;
  }
  if (u->filter_block != PLAN_NONE) {
    vm_run(v, u->filter_block, fields, attrs, &f->res);
    if (f->res.outcome != VM_KEPT) {
      f->outcome = f->res.outcome;
      return;
    }
  }
  if (u->require_block != PLAN_NONE) {
    vm_run(v, u->require_block, fields, attrs, &f->res);
    f->outcome = f->res.outcome;
  }
}

static void fate_words(sbuf *b, const plan *p, const plan_unit *u, const record_fate *f) {
  char rule[600];
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  plan_entity_attrs(p, u->entity, names, types, SCHEMA_MAX_ATTRS);
  if (f->outcome == -1) {
    sb_printf(b, "left out: %s", f->school_why);
  } else if (f->outcome == VM_DROPPED) {
    describe_rule(rule, sizeof rule, p, u, f->res.rule);
    sb_printf(b, "dropped by %s", rule);
  } else if (f->outcome == VM_SKIPPED) {
    describe_rule(rule, sizeof rule, p, u, f->res.rule);
    sb_printf(b, "skipped: %s is missing (%s)", names[f->res.attr], rule);
  } else if (f->res.nreported) {
    describe_rule(rule, sizeof rule, p, u, f->res.reported_rule[0]);
    sb_printf(b, "kept and reported: %s is missing (%s)", names[f->res.reported_attr[0]], rule);
  } else {
    sb_puts(b, "kept");
  }
}

static int expect_met(const plan_expect *e, const record_fate *f) {
  switch (e->kind) {
    case EXPECT_KEPT: return f->outcome == VM_KEPT;
    case EXPECT_DROPPED: return f->outcome == VM_DROPPED || f->outcome == -1;
    case EXPECT_SKIPPED: return f->outcome == VM_SKIPPED;
    case EXPECT_REPORTED: return f->outcome == VM_KEPT && f->res.nreported > 0;
    default: return 0;
  }
}

/* The attributes an expect block reads, with their values. */
static void show_read_attrs(sbuf *b, const plan *p, const plan_block *blk, const value *attrs) {
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  plan_entity_attrs(p, p->units[blk->unit].entity, names, types, SCHEMA_MAX_ATTRS);
  int shown[SCHEMA_MAX_ATTRS] = {0};
  for (uint32_t pc = 0; pc < blk->len; pc += (uint32_t)op_size(blk->code[pc])) {
    if (blk->code[pc] != OP_LOAD_ATTR) continue;
    unsigned a = rd16(blk->code + pc + 1);
    if (a >= SCHEMA_MAX_ATTRS || shown[a]++) continue;
    char buf[120];
    v_describe(attrs[a], buf, sizeof buf);
    sb_printf(b, "%s%s is %s", b->len ? ", " : "", names[a], buf);
  }
}

int spectest_run(const plan *p, FILE *out, int trace) {
  vm v;
  vm_init(&v, p);
  if (trace) v.trace = out;
  int passed = 0, failed = 0;
  for (uint32_t ti = 0; ti < p->ntests; ti++) {
    const plan_test *t = &p->tests[ti];
    const plan_unit *u = &p->units[t->unit];
    sbuf notes = {0};
    warn_sink sink = {&notes, p};
    v.warn = on_warning;
    v.warn_ctx = &sink;
    vm_reset_record(&v);
    value *fields = arena_alloc(&v.ar, (u->nfields + 1) * sizeof *fields);
    for (uint32_t k = 0; k < u->nfields; k++) {
      fields[k] = v_null();
      for (uint32_t g = 0; g < t->ngiven; g++)
        if (t->given[g].path == u->fields[k]) fields[k] = p->const_values[t->given[g].value];
    }
    value attrs[SCHEMA_MAX_ATTRS];
    for (int k = 0; k < SCHEMA_MAX_ATTRS; k++) attrs[k] = v_null();
    if (trace) fprintf(out, "test \"%s\":\n", plan_str(p, t->name));
    record_fate fate;
    run_record(&v, p, t->unit, fields, attrs, &fate);
    sbuf why = {0};
    int ok = 1;
    static const char *const words[] = {"kept", "dropped", "skipped", "reported"};
    for (uint32_t k = 0; k < t->nexpects; k++) {
      const plan_expect *e = &t->expects[k];
      char where[300], text[160];
      disasm_loc(where, sizeof where, p, e->loc);
      line_text(text, sizeof text, p, e->loc);
      if (e->kind != EXPECT_CONDITION) {
        if (expect_met(e, &fate)) continue;
        ok = 0;
        sb_printf(&why, "    %s: expected %s, but the record was ", where, words[e->kind]);
        fate_words(&why, p, u, &fate);
        sb_putc(&why, '\n');
        continue;
      }
      vm_result r;
      vm_run(&v, e->block, fields, attrs, &r);
      if (r.result.kind == V_BOOL && r.result.u.i) continue;
      ok = 0;
      sbuf vals = {0};
      show_read_attrs(&vals, p, &p->blocks[e->block], attrs);
      sb_printf(&why, "    %s: `%s` does not hold: %s\n", where, text, vals.data ? vals.data : "");
      if (fate.outcome != VM_KEPT) {
        sb_puts(&why, "      (the record was ");
        fate_words(&why, p, u, &fate);
        sb_puts(&why, ")\n");
      }
      sb_free(&vals);
    }
    char where[300];
    disasm_loc(where, sizeof where, p, t->loc);
    fprintf(out, "%s  test \"%s\"  (%s)\n", ok ? "PASS" : "FAIL", plan_str(p, t->name), where);
    if (!ok && why.data) fputs(why.data, out);
    if (notes.data) fputs(notes.data, out);
    sb_free(&why);
    sb_free(&notes);
    ok ? passed++ : failed++;
  }
  fprintf(out, "%d passed, %d failed\n", passed, failed);
  vm_free(&v);
  return failed;
}
