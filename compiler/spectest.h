/* spectest.h: `syncc test`, the spec's own rule tests run through its plan. */
#ifndef SYNC_SPECTEST_H
#define SYNC_SPECTEST_H

#include <stdio.h>

#include "plan.h"

/* Runs every test of a loaded (verified) plan; prints one line per test and
 * the details of each failure to `out`, then "N passed, N failed".
 * Returns the number of failures.  trace: print each instruction run. */
int spectest_run(const plan *p, FILE *out, int trace);

#endif
