/* diag.h: the one place diagnostics are made and printed.
 *
 * Messages are collected while a command runs and printed, sorted by file
 * and position, by diag_flush():
 *
 *   spec.sync:3:7: error: unknown attribute 'gradee' of student
 *       3 |   gradee = x
 *         |   ^~~~~~
 *   hint: did you mean 'grade'?
 *
 * Warnings look the same with "warning:".  diag_note() and diag_hint()
 * attach to the diagnostic made last.  Errors are capped (the rest are
 * counted, not shown), and a diagnostic with the same file, position and
 * message as an earlier one is dropped, so one mistake never reports twice
 * (distinct messages at one place are all shown).
 */
#ifndef SYNC_DIAG_H
#define SYNC_DIAG_H

#include <stdio.h>

#include "ast.h"

typedef enum { DIAG_ERROR, DIAG_WARNING } diag_level;

/* json: print one JSON document instead of text.  color: ANSI colours. */
void diag_init(int json, int color, int max_errors);
void diag_error(sync_span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warning(sync_span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note pointing at another place (at.file < 0: a note with no place). */
void diag_note(sync_span at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int diag_error_count(void);
int diag_warning_count(void);
/* Prints and forgets everything collected so far. */
void diag_flush(FILE *out);
void diag_reset(void);

/* A span that names no place. */
extern const sync_span NO_SPAN;

#endif
