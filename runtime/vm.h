/* vm.h: the bytecode interpreter.
 *
 * vm_run() evaluates one block of a verified plan over one record: a map
 * block reads source fields and writes hub attributes; a filter or require
 * block reads hub attributes (and `src.` fields) and decides the record's
 * fate; an expect block returns a value.  Values follow value.h's rule: all
 * results live in the VM's arena until vm_reset_record().
 *
 * A run-time problem in one record (int("abc"), an impossible date, a value
 * that does not fit its attribute) never stops the run: the value becomes
 * null and the warning callback gets the spec location and a reason.
 */
#ifndef SYNC_VM_H
#define SYNC_VM_H

#include <stdio.h>

#include "builtin_api.h"
#include "plan.h"

typedef enum { VM_KEPT, VM_DROPPED, VM_SKIPPED } vm_outcome;

#define VM_MAX_REPORTED 16

typedef struct {
  int outcome;         /* vm_outcome */
  uint32_t rule;       /* for dropped and skipped: the unit's rule */
  uint32_t attr;       /* for skipped: the missing attribute */
  int nreported;       /* report-if-missing rules that fired */
  uint32_t reported_rule[VM_MAX_REPORTED], reported_attr[VM_MAX_REPORTED];
  value result;        /* what an expect block returned */
} vm_result;

typedef void (*vm_warn_fn)(void *ctx, uint32_t loc, const char *message);

typedef struct vm {
  const plan *p;
  arena ar;
  bi_ctx bi;
  value stack[PLAN_MAX_STACK + 1];
  void *match_data;      /* pcre2 match data, made once */
  FILE *trace;           /* --trace: each instruction, through disasm_insn() */
  vm_warn_fn warn;
  void *warn_ctx;
  uint64_t warnings;
  /* Per entity, its attributes' names and types (plan_entity_attrs), so a
   * map's STORE_ATTR finds its target type without a lookup per record. */
  const char *attr_names[ENT__COUNT][SCHEMA_MAX_ATTRS];
  uint8_t attr_types[ENT__COUNT][SCHEMA_MAX_ATTRS];
} vm;

void vm_init(vm *v, const plan *p);
void vm_free(vm *v);
/* Forgets every value of the previous record (rewinds the arena). */
void vm_reset_record(vm *v);
/* Runs `block`.  `fields` has one value per field of the block's unit;
 * `attrs` one per attribute of its entity (plan_entity_attrs order). */
void vm_run(vm *v, uint32_t block, const value *fields, value *attrs, vm_result *res);
/* Converts a value to an attribute's type as STORE_ATTR does; returns null
 * and sets *why when it cannot. */
value vm_coerce(arena *a, value x, int type, const char **why);

#endif
