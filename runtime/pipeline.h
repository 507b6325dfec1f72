/* pipeline.h: computing a run, and applying it.
 *
 * run_compute() takes a plan through the pipeline of language.md: fetch ->
 * map -> schools -> filter -> require -> prefix -> references -> link
 * (uniqueness domains) -> merge (precedence) -> diff against the hub ->
 * deletions -> holds and preview.  It writes nothing.  Its result is a list
 * of operations (JSON) that run_apply() replays in one transaction, so a
 * computed run can be printed, saved (-o RUNFILE), parked for approval and
 * applied later, and applying is the same code in every case.  The
 * operations live in an oplog (a temporary file), never all in memory.
 */
#ifndef SYNC_PIPELINE_H
#define SYNC_PIPELINE_H

#include <jansson.h>
#include <stdio.h>

#include "jtext.h"
#include "oplog.h"
#include "plan.h"
#include "store.h"

enum { CNT_CREATE, CNT_UPDATE, CNT_DEACTIVATE, CNT_REACTIVATE, CNT_UNCHANGED, CNT_LEFT_OUT, CNT_DROPPED,
       CNT_SKIPPED, CNT_REPORTED, CNT_CASES, CNT__COUNT };

typedef struct {
  oplog *ops;         /* the operations, in order */
  int64_t nchanges;   /* how many of them change the hub (run_has_changes) */
  json_t *report;     /* left out, dropped, skipped, reported, warnings: one object each */
  int64_t counts[ENT__COUNT][CNT__COUNT];
  int64_t hub_version;
  char held[600];     /* why the run waits for approval; empty when it need not */
  char error[1200];   /* why the run failed; empty when it did not */
  char plan_sha[65], spec_sha[65];
  /* --stats: seconds spent in each phase, and records read */
  double t_read, t_map, t_link, t_merge, t_write;
  int64_t records;
  int from_file;      /* the operations were read from a run file (runfile.h) */
} run_result;

/* The per-phase figures (--stats). */
void run_print_stats(const run_result *r, FILE *out);

/* Computes a run.  Returns 0 (and result->error) when a source cannot be
 * read or a record is malformed: nothing may then be applied.  ops: where
 * the operations go (taken; NULL: a new temporary oplog).  trace: when not
 * NULL, every instruction the VM runs, through disasm_insn(). */
int run_compute(const plan *p, const uint8_t *plan_bytes, size_t plan_len, store *s, run_result *r, oplog *ops, FILE *trace);
void run_free(run_result *r);

/* The summary table and one line per change. */
void run_print(const run_result *r, FILE *out, int summary_only);
/* The run document ({format, ..., counts, ops, report} and then the keys of
 * `extra`, when not NULL) as json_dumps(doc, flags) would write it, with the
 * operations streamed from the oplog; flags: JSON_COMPACT or JSON_INDENT(n).
 * Returns 0 on a write error. */
int run_write_json(const run_result *r, FILE *out, size_t flags, json_t *extra);
/* plan -o writes its run file as the run is computed, the operations once
 * and straight into it, not to a temporary file and then copied (half a
 * gigabyte at 100,000 students).  What comes before them is known only at
 * the end, so run_file_begin leaves room for it (everything in it has a
 * longest form) and starts the operations' array, giving the oplog to
 * compute into; run_file_end, once the run is computed, writes the report
 * after the operations and the head into its room, padded with spaces:
 *   {"format":...,"hub_version":N,"held":...,"counts":{...},   "ops":[
 *   {op}
 *   ,{op}
 *   ],"report":[...]}
 * Everything applying needs before the first operation comes before them
 * (runfile.h).  f: opened for reading and writing; 0 on a write error. */
oplog *run_file_begin(FILE *f);
int run_file_end(const run_result *r, FILE *f);
/* The counts object of the run document. */
json_t *run_counts_json(const run_result *r);
/* Reads a run document; takes its "ops" out of `doc` into the run's oplog. */
int run_from_json(json_t *doc, run_result *r, char *err, size_t errsize);
/* The run document's fields but its operations (format, plan and spec
 * hashes, hub version, held, counts, report), into r; 0 and err when it is
 * not a run document. */
int run_head_from_json(json_t *doc, run_result *r, char *err, size_t errsize);
/* The same for the members before a run file's operations, when they hold
 * all that applying needs first (hub version, hold, counts) and perhaps not
 * the report, which may come after the operations (r->report is then empty
 * until it is read); 0 when one of those is missing. */
int run_head_first(json_t *doc, run_result *r, char *err, size_t errsize);
/* Appends one operation to r->ops (taking the reference), counting it
 * among the changes when it is one; 0 on a write error. */
int run_add_op(run_result *r, json_t *op);
/* The same for an operation given as compact JSON text (one line, as
 * jspan_compact_ok accepts it). */
int run_add_op_text(run_result *r, const char *text, size_t n);
/* Counts an operation given so among the changes when it is one, without
 * adding it (it lies in the file r->ops is over: oplog_over). */
void run_count_op_text(run_result *r, const char *text, size_t n);
int run_has_changes(const run_result *r);
/* Records r's operations in the history of run run_id (history.h): all of
 * them for a parked run (`all`: approve applies them later), for an applied
 * run those its listing shows (creates, without the links of their records
 * that plan writes in them, updates, deactivations, deletions,
 * reactivations, links to existing objects, duplicate cases).  0 and err
 * when they cannot be written. */
int run_record_history(const run_result *r, store *s, int64_t run_id, int all, char *err, size_t errsize);
/* How much of this operation (a line of its oplog) an applied run's
 * history keeps (oplog_keep): for hist_start(), which compresses them beside
 * the apply. */
size_t run_history_keeps(const char *line, size_t n);

/* A create whose every attribute came from one source, and from no other
 * as well, names it as its "by" member rather than carrying its provenance
 * (a million times the same 60 bytes in a first sync's run file): this
 * writes into t the provenance that stands for, as the hub keeps it,
 * {"*":"SOURCE, the only source that gives it"}.  source: n bytes of valid
 * UTF-8. */
void run_only_provenance(jtext *t, const char *source, size_t n);

/* Where run_apply_ops takes the operations from when they are still being
 * read (a run file read on a second thread: runfile.h): next gives each
 * operation's text in order (NUL-terminated, valid until the next call),
 * NULL after the last one or when reading stopped; known waits until at
 * least `want` operations have been read, or all, and says how many. */
typedef struct {
  const char *(*next)(void *ctx, size_t *n);
  size_t (*known)(void *ctx, size_t want);
  int (*stopped)(void *ctx); /* reading stopped short: what next gave is not the whole run */
  void *ctx;
} op_feed;

/* Called once the operations' rows are written, before the hub's indexes
 * are made again (the longest stretch left, on one core): work that needs
 * a core but not the hub, such as compressing the history's copy, starts
 * there rather than compete with the writing. */
typedef struct {
  void (*written)(void *ctx);
  void *ctx;
} apply_hook;

/* Applies inside the caller's transaction; `keep` filters operations (NULL:
 * all), taken from `feed` (NULL: the run's oplog, whole); `hook` may be
 * NULL.  Returns 0 with a message on failure (the caller rolls back). */
typedef int (*op_filter)(json_t *op, void *ctx);
int run_apply_ops(store *s, const run_result *r, int64_t run_id, op_filter keep, void *ctx, const op_feed *feed,
                  const apply_hook *hook, char *err, size_t errsize);

#endif
