/* bi_table.c: the implementations of builtins.def, in its order, and the
 * warning helper every built-in uses. */
#include <stdarg.h>
#include <stdio.h>

#include "builtin_api.h"

const builtin_fn builtin_impl[] = {
#define BUILTIN(name, min, max, ret, params, flags, doc) bi_##name,
#include "builtins.def"
#undef BUILTIN
};

void bi_warn(bi_ctx *cx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cx->warning, sizeof cx->warning, fmt, ap);
  va_end(ap);
}
