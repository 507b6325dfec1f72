/* plan.h: a compiled plan in memory, and its file format's constants.
 *
 * syncc fills a `plan` from the checked spec (compiler/codegen.c) and writes
 * it (plan_write.c); syncvm reads it back (plan_read.c), verifies it
 * (plan_verify.c) and runs it (vm.c).  docs/plan-format.md describes the
 * bytes.  Every index in a plan is checked by the loader or the verifier
 * before anything uses it, so code that runs a loaded plan may trust them.
 *
 * All strings live in one pool and are referred to by index (u32);
 * PLAN_NONE marks an absent one.
 */
#ifndef SYNC_PLAN_H
#define SYNC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"
#include "value.h"

/* First byte 0x89 cannot start a text file; \r\n and \x1a catch CRLF and
 * ^Z mangling by a transfer in text mode (the PNG signature's trick). */
#define PLAN_MAGIC "\x89SYNCPLAN\r\n\x1a\n"
#define PLAN_MAGIC_LEN 12
#define PLAN_MAJOR 1
#define PLAN_MINOR 0
#define PLAN_HEADER_LEN 56 /* magic, major, minor, nsections, reserved, body length, SHA-256 */
#define PLAN_NONE 0xFFFFFFFFu

/* Limits the loader enforces on every count it reads. */
#define PLAN_MAX_STRINGS 1000000
#define PLAN_MAX_STRING_LEN (1u << 20)
#define PLAN_MAX_ITEMS 1000000
#define PLAN_MAX_BLOCK_LEN 65535
#define PLAN_MAX_STACK 256
#define PLAN_MAX_BYTES (256u << 20)

typedef enum {
  SEC_STRINGS = 1, SEC_CONSTS, SEC_REGEXES, SEC_ATTRS, SEC_SOURCES, SEC_UNITS, SEC_BLOCKS,
  SEC_DOMAINS, SEC_PRECEDENCE, SEC_POLICY, SEC_SCHEDULE, SEC_TESTS, SEC_LOCS, SEC_INPUTS, SEC_CALLS,
  SEC__END
} plan_section;

typedef struct {
  uint8_t kind;    /* a vkind (not V_REGEX) */
  uint32_t str;    /* V_STR: string index; V_DEC: its text */
  int64_t i;       /* V_BOOL, V_INT, V_DATE, V_TIME */
  double d;        /* V_DEC */
  uint32_t first, count; /* V_LIST: items are list_items[first .. first+count) (constant indexes) */
} plan_const;

typedef struct {
  uint32_t pattern, flags; /* string indexes */
} plan_regex;

typedef enum { SECRET_NONE, SECRET_ENV, SECRET_FILE } secret_kind;

typedef struct {
  uint32_t key;     /* setting name */
  uint8_t secret;   /* secret_kind: the value is read at run time from env or file */
  uint32_t value;   /* constant index (SECRET_NONE), else the variable or path string */
} plan_setting;

typedef struct {
  uint8_t entity;
  uint32_t path, at; /* strings; at PLAN_NONE when absent */
} plan_file;

typedef struct {
  uint32_t id, code; /* strings; code PLAN_NONE: skip this school */
} plan_school;

typedef struct {
  uint32_t name;
  uint8_t kind;       /* kind_id */
  uint16_t feeds;     /* bit e: feeds entity e */
  plan_setting *settings;
  uint32_t nsettings;
  plan_file *files;
  uint32_t nfiles;
  uint8_t has_schools, schools_auto;
  plan_school *schools;
  uint32_t nschools;
} plan_source;

typedef struct {
  uint8_t entity, type;
  uint32_t name;
} plan_attr; /* an `attribute` declaration */

typedef enum { RULE_KEEP, RULE_DROP, RULE_SKIP, RULE_REPORT } rule_kind;

typedef struct {
  uint8_t kind;  /* rule_kind */
  uint32_t loc;  /* where the line is (index into locs) */
  uint32_t via;  /* the `use TEMPLATE()` line it came through, or PLAN_NONE */
} plan_rule;

typedef enum { BLOCK_MAP, BLOCK_FILTER, BLOCK_REQUIRE, BLOCK_EXPECT } block_kind;

typedef struct {
  uint8_t kind;       /* block_kind */
  uint32_t unit;      /* the unit whose fields, attributes and rules it uses */
  uint8_t *code;
  uint32_t len;
  uint16_t max_stack; /* computed by the verifier */
  uint32_t *loc_at;   /* loc index for each byte offset that starts an instruction (PLAN_NONE elsewhere) */
} plan_block;

typedef struct {
  uint32_t source;     /* index into sources */
  uint8_t entity;
  uint32_t *fields;    /* dotted source-field paths (strings) */
  uint32_t nfields;
  uint32_t map_block, filter_block, require_block; /* PLAN_NONE when empty */
  plan_rule *rules;
  uint32_t nrules;
} plan_unit;

typedef struct {
  uint8_t entity, manual;
  uint32_t *attrs; /* attribute names (strings) */
  uint32_t nattrs;
  uint32_t loc;
} plan_domain;

typedef struct {
  uint8_t entity;
  uint32_t attr;       /* attribute name, or PLAN_NONE for `*` */
  uint32_t *sources;   /* source indexes, first wins */
  uint32_t nsources;
  uint32_t loc;
} plan_prec;

typedef enum { HOLD_CREATES, HOLD_UPDATES, HOLD_DELETES, HOLD_CHANGES } hold_op;

typedef struct {
  uint8_t entity;  /* 0xFF: all entities */
  uint8_t op;      /* hold_op */
  uint8_t percent;
  double limit;
  uint32_t loc;
} plan_hold;

typedef struct {
  uint8_t preview, delete_objects; /* deletions = delete (else deactivate) */
  plan_hold *holds;
  uint32_t nholds;
} plan_policy;

typedef enum { FREQ_NONE, FREQ_DAILY, FREQ_WEEKLY, FREQ_HOURLY } freq_kind;

typedef struct {
  uint8_t freq, weekday;  /* weekday 0 = monday */
  uint16_t time;          /* HHMM */
  int64_t until;          /* YYYYMMDD, 0 when none */
} plan_schedule;

typedef enum { EXPECT_KEPT, EXPECT_DROPPED, EXPECT_SKIPPED, EXPECT_REPORTED, EXPECT_CONDITION } expect_kind;

typedef struct {
  uint8_t kind;     /* expect_kind */
  uint32_t block;   /* EXPECT_CONDITION: a BLOCK_EXPECT block */
  uint32_t loc;
} plan_expect;

typedef struct {
  uint32_t path, value; /* field path string, constant index */
} plan_given;

typedef struct {
  uint32_t name, unit, loc;
  plan_given *given;
  uint32_t ngiven;
  plan_expect *expects;
  uint32_t nexpects;
} plan_test;

typedef struct {
  uint32_t file;  /* path string */
  uint32_t line, col;
} plan_loc;

typedef struct {
  uint32_t name;        /* path of the spec, or stdlib/NAME.sync */
  uint8_t sha256[32];
} plan_input;

typedef struct plan {
  uint16_t major, minor;
  char **strings;
  uint32_t *string_lens;
  uint32_t nstrings;
  plan_const *consts;
  uint32_t nconsts;
  uint32_t *list_items;
  uint32_t nlist_items;
  plan_regex *regexes;
  uint32_t nregexes;
  regex_const *compiled;  /* per regex, filled by the loader; NULL in syncc's copy */
  plan_attr *attrs;
  uint32_t nattrs;
  plan_source *sources;
  uint32_t nsources;
  plan_unit *units;
  uint32_t nunits;
  plan_block *blocks;
  uint32_t nblocks;
  plan_domain *domains;
  uint32_t ndomains;
  plan_prec *precs;
  uint32_t nprecs;
  plan_policy policy;
  plan_schedule schedule;
  plan_test *tests;
  uint32_t ntests;
  plan_loc *locs;
  uint32_t nlocs;
  plan_input *inputs;   /* [0] is the spec; then each used stdlib file */
  uint32_t ninputs;
  uint32_t *calls;      /* names of the built-ins CALL refers to (strings) */
  uint32_t ncalls;
  uint8_t schema_hash[32]; /* of the hub schema the plan was built for */
  /* Filled by the loader and verifier: */
  int *call_builtin;    /* per call: the builtin_id its name resolved to */
  value *const_values;  /* constants as VM values */
  value *list_values;   /* items of list constants */
  uint32_t *code_offset; /* per block: file offset of its code, for messages */
} plan;

/* The schema's fingerprint: SHA-256 over every entity and attribute name
 * and type in schema.def order (a plan built for another schema is refused). */
void plan_schema_hash(uint8_t out[32]);

/* Attributes of `entity` in this plan: the schema's, then the declared ones.
 * Returns the number; names/types are filled up to `cap`. */
int plan_entity_attrs(const plan *p, int entity, const char **names, uint8_t *types, int cap);

/* The schools step (language.md): what a source's schools map does with a
 * school id.  *code gets the hub code (the id itself for PASS). */
enum { SCHOOL_PASS, SCHOOL_MAPPED, SCHOOL_SKIPPED, SCHOOL_UNMAPPED };
int plan_map_school(const plan *p, uint32_t source, value id, value *code);

/* The checksum a plan file's header holds: SHA-256 over its first 24 bytes
 * (signature, versions, section count, body length) and then its body. */
void plan_checksum(const uint8_t *file, size_t len, uint8_t out[32]);

/* Serializes deterministically; returns a malloc'd buffer of *len bytes. */
uint8_t *plan_write(const plan *p, size_t *len);

/* Parses and verifies `len` bytes.  On failure returns NULL and writes
 * "bad plan: REASON (offset N)" (or a version message) into err. */
plan *plan_read(const uint8_t *bytes, size_t len, char *err, size_t errsize);
/* Checks code and cross references (called by plan_read). */
int plan_verify(plan *p, char *err, size_t errsize);
void plan_free(plan *p);
/* Frees the compiled regexes (plan_verify() compiles them). */
void plan_free_compiled(plan *p);

const char *plan_str(const plan *p, uint32_t idx); /* "" for PLAN_NONE */

#endif
