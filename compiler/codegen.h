/* codegen.h: from a checked spec to a plan (runtime/plan.h). */
#ifndef SYNC_CODEGEN_H
#define SYNC_CODEGEN_H

#include "check.h"
#include "plan.h"

/* Builds the plan of a spec that checked without errors.  The result is
 * freed with plan_free().  Deterministic: the same spec gives the same plan. */
plan *codegen(const spec_model *m);

#endif
