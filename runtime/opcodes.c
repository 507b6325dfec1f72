/* opcodes.c: the opcode and operand-format tables. */
#include "opcodes.h"

const op_info op_table[OP__COUNT] = {
#define OP(name, fmt, pop, push, doc) {#name, FMT_##fmt, pop, push, doc},
#include "opcodes.def"
#undef OP
};

const fmt_info fmt_table[FMT__COUNT] = {
#define OPFMT(name, bytes, doc) {#name, bytes, doc},
#include "opfmt.def"
#undef OPFMT
};
