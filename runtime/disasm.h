/* disasm.h: a plan in words, in the spirit of SQLite's EXPLAIN.
 *
 * `syncc disasm PLAN` prints every section and every block; the VM's trace
 * (`--trace`) prints each instruction it runs through disasm_insn(), so the
 * two can never disagree. */
#ifndef SYNC_DISASM_H
#define SYNC_DISASM_H

#include <stdio.h>

#include "plan.h"

/* One line: `addr OPCODE operand ; synopsis [line:col]`.  Returns the
 * instruction's size. */
int disasm_insn(FILE *out, const plan *p, const plan_block *b, uint32_t pc);
void disasm_plan(FILE *out, const plan *p);
/* "file:line:col" of a location index. */
void disasm_loc(char *buf, size_t size, const plan *p, uint32_t loc);

#endif
