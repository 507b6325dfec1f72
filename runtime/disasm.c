/* disasm.c: the plan listing (`syncc disasm`) and the trace line format.
 *
 * Secrets never appear: a credential setting is printed as the name of the
 * variable or file it will be read from, which is all a plan holds. */
#include "disasm.h"

#include <string.h>

#include "builtins.h"
#include "kinds.h"
#include "opcodes.h"
#include "sha256.h"

void disasm_loc(char *buf, size_t size, const plan *p, uint32_t loc) {
  if (loc >= p->nlocs) {
    snprintf(buf, size, "?");
    return;
  }
  const plan_loc *l = &p->locs[loc];
  snprintf(buf, size, "%s:%u:%u", plan_str(p, l->file), l->line, l->col);
}

static void put_quoted(FILE *out, const char *s, size_t n) {
  fputc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c == '\n') fputs("\\n", out);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

static void put_const(FILE *out, const plan *p, uint32_t k) {
  const plan_const *c = &p->consts[k];
  switch (c->kind) {
    case V_NULL: fputs("null", out); break;
    case V_BOOL: fputs(c->i ? "true" : "false", out); break;
    case V_INT: fprintf(out, "%lld", (long long)c->i); break;
    case V_DEC: fputs(plan_str(p, c->str), out); break;
    case V_STR: put_quoted(out, p->strings[c->str], p->string_lens[c->str]); break;
    case V_DATE: fprintf(out, "%04lld-%02lld-%02lld", (long long)(c->i / 10000), (long long)(c->i / 100 % 100), (long long)(c->i % 100)); break;
    case V_TIME: fprintf(out, "%02lld:%02lld", (long long)(c->i / 100), (long long)(c->i % 100)); break;
    case V_LIST:
      fputc('[', out);
      for (uint32_t i = 0; i < c->count; i++) {
        if (i) fputs(", ", out);
        put_const(out, p, p->list_items[c->first + i]);
      }
      fputc(']', out);
      break;
  }
}

static const char *rule_words(int kind) {
  static const char *const w[] = {"keep if", "drop if", "skip if missing", "report if missing"};
  return kind >= 0 && kind <= RULE_REPORT ? w[kind] : "?";
}

int disasm_insn(FILE *out, const plan *p, const plan_block *b, uint32_t pc) {
  unsigned op = b->code[pc];
  const op_info *oi = &op_table[op];
  const uint8_t *arg = b->code + pc + 1;
  const plan_unit *u = &p->units[b->unit];
  unsigned a = oi->fmt != FMT_NONE ? rd16(arg) : 0;
  char operand[32] = "";
  if (oi->fmt == FMT_CALL) snprintf(operand, sizeof operand, "%u %u", a, arg[2]);
  else if (oi->fmt == FMT_RULEATTR) snprintf(operand, sizeof operand, "%u %u", a, rd16(arg + 2));
  else if (oi->fmt != FMT_NONE) snprintf(operand, sizeof operand, "%u", a);
  fprintf(out, "  %4u  %-17s %-8s", pc, oi->name, operand);
  const char *names[SCHEMA_MAX_ATTRS];
  uint8_t types[SCHEMA_MAX_ATTRS];
  int nattrs = plan_entity_attrs(p, u->entity, names, types, SCHEMA_MAX_ATTRS);
  if (oi->fmt != FMT_NONE) fputs(" ; ", out);
  switch (oi->fmt) {
    case FMT_CONST: put_const(out, p, a); break;
    case FMT_FIELD: fputs(plan_str(p, u->fields[a]), out); break;
    case FMT_ATTR: fputs((int)a < nattrs ? names[a] : "?", out); break;
    case FMT_LABEL: fprintf(out, "-> %u", a); break;
    case FMT_CALL: fprintf(out, "%s/%u", plan_str(p, p->calls[a]), arg[2]); break;
    case FMT_REGEX: fprintf(out, "/%s/%s", plan_str(p, p->regexes[a].pattern), plan_str(p, p->regexes[a].flags)); break;
    case FMT_COUNT: fprintf(out, "%u items", a); break;
    case FMT_RULE: fprintf(out, "rule %u: %s", a, rule_words(u->rules[a].kind)); break;
    case FMT_RULEATTR: {
      unsigned at = rd16(arg + 2);
      fprintf(out, "rule %u: %s %s", a, rule_words(u->rules[a].kind), (int)at < nattrs ? names[at] : "?");
      break;
    }
    default: break;
  }
  if (b->loc_at[pc] != PLAN_NONE && b->loc_at[pc] < p->nlocs)
    fprintf(out, "  [%u:%u]", p->locs[b->loc_at[pc]].line, p->locs[b->loc_at[pc]].col);
  fputc('\n', out);
  return op_size((int)op);
}

static void disasm_source(FILE *out, const plan *p, const plan_source *s) {
  fprintf(out, "source %s : %s\n", plan_str(p, s->name), kind_table[s->kind].name);
  fputs("  feeds     ", out);
  for (int e = 0, first = 1; e < ENT__COUNT; e++)
    if (s->feeds & (1u << e)) fprintf(out, "%s%s", first ? "" : ", ", schema_entity_get(e)->name), first = 0;
  fputc('\n', out);
  for (uint32_t k = 0; k < s->nsettings; k++) {
    const plan_setting *st = &s->settings[k];
    fprintf(out, "  %-9s ", plan_str(p, st->key));
    if (st->secret == SECRET_ENV) fprintf(out, "read from environment variable %s when the plan runs\n", plan_str(p, st->value));
    else if (st->secret == SECRET_FILE) fprintf(out, "read from file %s when the plan runs\n", plan_str(p, st->value));
    else {
      put_const(out, p, st->value);
      fputc('\n', out);
    }
  }
  for (uint32_t k = 0; k < s->nfiles; k++) {
    fprintf(out, "  file %s = \"%s\"", schema_entity_get(s->files[k].entity)->name, plan_str(p, s->files[k].path));
    if (s->files[k].at != PLAN_NONE) fprintf(out, " at \"%s\"", plan_str(p, s->files[k].at));
    fputc('\n', out);
  }
  if (s->has_schools) {
    fputs("  schools  ", out);
    for (uint32_t k = 0; k < s->nschools; k++) {
      if (s->schools[k].code == PLAN_NONE) fprintf(out, " skip \"%s\"", plan_str(p, s->schools[k].id));
      else fprintf(out, " \"%s\" -> %s", plan_str(p, s->schools[k].id), plan_str(p, s->schools[k].code));
      fputc(k + 1 < s->nschools || s->schools_auto ? ',' : ' ', out);
    }
    fprintf(out, "%s\n", s->schools_auto ? " every other school as itself (auto)" : " every other school left out");
  }
}

static void disasm_policy(FILE *out, const plan *p) {
  static const char *const ops[] = {"creates", "updates", "deletes", "changes"};
  static const char *const days[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  fprintf(out, "policy: preview %s, deletions %s\n", p->policy.preview ? "on" : "off",
          p->policy.delete_objects ? "delete" : "deactivate");
  for (uint32_t i = 0; i < p->policy.nholds; i++) {
    const plan_hold *h = &p->policy.holds[i];
    char loc[256];
    disasm_loc(loc, sizeof loc, p, h->loc);
    fprintf(out, "  hold when %s%s %s > %g%s  [%s]\n", h->entity == 0xFF ? "" : schema_entity_get(h->entity)->name,
            h->entity == 0xFF ? "all" : "", ops[h->op], h->limit, h->percent ? "%" : "", loc);
  }
  fputs("  hold when a bulk source sends no records of an entity it sent last time (always on)\n", out);
  const plan_schedule *s = &p->schedule;
  if (s->freq == FREQ_NONE) fputs("schedule: none (runs when started)\n", out);
  else if (s->freq == FREQ_HOURLY) fputs("schedule: hourly", out);
  else if (s->freq == FREQ_DAILY) fprintf(out, "schedule: daily at %02u:%02u", s->time / 100, s->time % 100);
  else fprintf(out, "schedule: weekly on %s at %02u:%02u", days[s->weekday], s->time / 100, s->time % 100);
  if (s->freq != FREQ_NONE) {
    if (s->until) fprintf(out, " until %04lld-%02lld-%02lld", (long long)(s->until / 10000), (long long)(s->until / 100 % 100), (long long)(s->until % 100));
    fputc('\n', out);
  }
}

void disasm_plan(FILE *out, const plan *p) {
  fprintf(out, "plan format %u.%u\n", p->major, p->minor);
  for (uint32_t i = 0; i < p->ninputs; i++) {
    char hex[65];
    sha256_hex(p->inputs[i].sha256, hex);
    fprintf(out, "%s %s sha256:%.16s\n", i == 0 ? "built from" : "      with", plan_str(p, p->inputs[i].name), hex);
  }
  fputc('\n', out);
  for (uint32_t i = 0; i < p->nsources; i++) disasm_source(out, p, &p->sources[i]);
  for (uint32_t i = 0; i < p->nattrs; i++)
    fprintf(out, "attribute %s.%s : %s\n", schema_entity_get(p->attrs[i].entity)->name, plan_str(p, p->attrs[i].name),
            type_name((sync_type)p->attrs[i].type));
  for (int e = 0; e < ENT__COUNT; e++) {
    int n = 0;
    for (uint32_t i = 0; i < p->ndomains; i++) {
      const plan_domain *d = &p->domains[i];
      if (d->entity != e) continue;
      if (!n++) fprintf(out, "uniqueness %s, in priority order:\n", schema_entity_get(e)->name);
      fprintf(out, "  %d. %-10s ", n, d->manual ? "manual" : "unattended");
      for (uint32_t k = 0; k < d->nattrs; k++) fprintf(out, "%s%s", k ? ", " : "", plan_str(p, d->attrs[k]));
      fputc('\n', out);
    }
    n = 0;
    for (uint32_t i = 0; i < p->nprecs; i++) {
      const plan_prec *r = &p->precs[i];
      if (r->entity != e) continue;
      if (!n++) fprintf(out, "precedence %s:\n", schema_entity_get(e)->name);
      fprintf(out, "  %-16s ", r->attr == PLAN_NONE ? "* (the rest)" : plan_str(p, r->attr));
      for (uint32_t k = 0; k < r->nsources; k++) fprintf(out, "%s%s", k ? " > " : "", plan_str(p, p->sources[r->sources[k]].name));
      fputc('\n', out);
    }
  }
  disasm_policy(out, p);
  for (uint32_t i = 0; i < p->nunits; i++) {
    const plan_unit *u = &p->units[i];
    fprintf(out, "\nunit %u: %s.%s\n", i, plan_str(p, p->sources[u->source].name), schema_entity_get(u->entity)->name);
    fputs("  fields:", out);
    for (uint32_t k = 0; k < u->nfields; k++) fprintf(out, " %u=%s", k, plan_str(p, u->fields[k]));
    fputc('\n', out);
    for (uint32_t k = 0; k < u->nrules; k++) {
      char loc[256], via[320] = "";
      disasm_loc(loc, sizeof loc, p, u->rules[k].loc);
      if (u->rules[k].via != PLAN_NONE) {
        char v[240];
        disasm_loc(v, sizeof v, p, u->rules[k].via);
        snprintf(via, sizeof via, " (through the template used at %s)", v);
      }
      fprintf(out, "  rule %u: %s at %s%s\n", k, rule_words(u->rules[k].kind), loc, via);
    }
    uint32_t blocks[3] = {u->map_block, u->filter_block, u->require_block};
    static const char *const what[] = {"map", "filter", "require"};
    for (int k = 0; k < 3; k++) {
      if (blocks[k] == PLAN_NONE) continue;
      const plan_block *b = &p->blocks[blocks[k]];
      fprintf(out, "  %s (block %u):\n", what[k], blocks[k]);
      for (uint32_t pc = 0; pc < b->len;) pc += (uint32_t)disasm_insn(out, p, b, pc);
    }
  }
  for (uint32_t i = 0; i < p->ntests; i++) {
    const plan_test *t = &p->tests[i];
    const plan_unit *u = &p->units[t->unit];
    fprintf(out, "\ntest \"%s\" on %s.%s\n", plan_str(p, t->name), plan_str(p, p->sources[u->source].name),
            schema_entity_get(u->entity)->name);
    for (uint32_t k = 0; k < t->ngiven; k++) {
      fprintf(out, "  given %s = ", plan_str(p, t->given[k].path));
      put_const(out, p, t->given[k].value);
      fputc('\n', out);
    }
    static const char *const ex[] = {"kept", "dropped", "skipped", "reported"};
    for (uint32_t k = 0; k < t->nexpects; k++) {
      const plan_expect *e = &t->expects[k];
      if (e->kind != EXPECT_CONDITION) {
        fprintf(out, "  expect %s\n", ex[e->kind]);
        continue;
      }
      fprintf(out, "  expect (block %u):\n", e->block);
      const plan_block *b = &p->blocks[e->block];
      for (uint32_t pc = 0; pc < b->len;) pc += (uint32_t)disasm_insn(out, p, b, pc);
    }
  }
}
