/* opcodes.h: the instruction set, expanded from opcodes.def and opfmt.def. */
#ifndef SYNC_OPCODES_H
#define SYNC_OPCODES_H

#include <stdint.h>

typedef enum {
#define OPFMT(name, bytes, doc) FMT_##name,
#include "opfmt.def"
#undef OPFMT
  FMT__COUNT
} op_format;

typedef enum {
#define OP(name, fmt, pop, push, doc) OP_##name,
#include "opcodes.def"
#undef OP
  OP__COUNT
} opcode;

_Static_assert(OP__COUNT <= 256, "an opcode must fit in one byte");

typedef struct {
  const char *name;
  op_format fmt;
  int pop, push; /* pop -1: the operand says how many */
  const char *doc;
} op_info;

typedef struct {
  const char *name;
  int bytes;
  const char *doc;
} fmt_info;

extern const op_info op_table[OP__COUNT];
extern const fmt_info fmt_table[FMT__COUNT];

/* Size of the instruction with opcode `op` in bytes (opcode + operands). */
static inline int op_size(int op) { return 1 + fmt_table[op_table[op].fmt].bytes; }

static inline unsigned rd16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

#endif
