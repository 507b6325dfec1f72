/* check_decl.c: loading a spec and checking its declarations.
 *
 * Order of work: parse the spec; load and parse each `use stdlib.X`; gather
 * the declarations of all of them (sources, attributes, templates, maps);
 * then check each declaration against what was gathered, so that the order
 * in which things are declared never matters (language.md: "no significant
 * order except where this page says so").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "check.h"
#include "diag.h"
#include "kinds.h"
#include "source.h"
#include "stdlib_embed.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------- */

static const char *const *stdlib_names(void) {
  static const char *names[64];
  if (!names[0])
    for (int i = 0; stdlib_files[i].name && i < 63; i++) names[i] = stdlib_files[i].name;
  return names;
}

static const char *const type_words[] = {"string", "int", "bool", "date", "list", "decimal", NULL};

static sync_type type_from_word(const char *w) {
  if (strcmp(w, "string") == 0) return TY_STRING;
  if (strcmp(w, "int") == 0) return TY_INT;
  if (strcmp(w, "bool") == 0) return TY_BOOL;
  if (strcmp(w, "date") == 0) return TY_DATE;
  if (strcmp(w, "list") == 0) return TY_LIST;
  if (strcmp(w, "decimal") == 0) return TY_DECIMAL;
  return TY_ERROR;
}

int spec_attr_type(const spec_model *m, int entity, const char *attr) {
  const schema_attr *a = schema_attr_find(entity, attr);
  if (a) return a->type;
  for (int i = 0; m && i < m->nattrs; i++)
    if (m->attrs[i].entity == entity && strcmp(m->attrs[i].name, attr) == 0) return m->attrs[i].type;
  return -1;
}

const char *const *spec_attr_names(const spec_model *m, int entity, const char **buf, int cap) {
  int n = 0;
  const schema_entity *e = schema_entity_get(entity);
  for (int i = 0; i < e->nattrs && n < cap - 1; i++) buf[n++] = e->attrs[i].name;
  for (int i = 0; i < m->nattrs && n < cap - 1; i++)
    if (m->attrs[i].entity == entity) buf[n++] = m->attrs[i].name;
  buf[n] = NULL;
  return buf;
}

static void report_unknown_attr(const spec_model *m, int entity, node *name) {
  const char *buf[64];
  diag_error(name->span, "unknown attribute '%s' of %s", name->str, schema_entity_get(entity)->name);
  const char *s = closest_word(name->str, spec_attr_names(m, entity, buf, 64));
  if (s) diag_hint("did you mean '%s'?", s);
}

/* An entity name; reports and returns -1 when unknown. */
static int resolve_entity(const spec_model *m, node *name) {
  int e = schema_entity_find(name->str);
  if (e >= 0) return e;
  diag_error(name->span, "unknown entity '%s'", name->str);
  const char *s = closest_word(name->str, schema_entity_names());
  if (s)
    diag_hint("did you mean '%s'?", s);
  else
    diag_hint("the entities are school, student, contact, teacher, admin, course, class, calendar and enrollment");
  (void)m;
  return -1;
}

static spec_source *find_source(spec_model *m, const char *name) {
  for (int i = 0; i < m->nsources; i++)
    if (strcmp(m->sources[i].name, name) == 0) return &m->sources[i];
  return NULL;
}

static void report_unknown_source(spec_model *m, node *name) {
  diag_error(name->span, "unknown source '%s'", name->str);
  const char *names[MAX_SPEC_SOURCES + 1];
  for (int i = 0; i < m->nsources; i++) names[i] = m->sources[i].name;
  names[m->nsources] = NULL;
  const char *s = closest_word(name->str, names);
  if (s)
    diag_hint("did you mean '%s'?", s);
  else if (m->nsources == 0)
    diag_hint("declare it with 'source %s : KIND { ... }'", name->str);
}

/* Every declaration of the spec and its libraries, main spec first. */
typedef struct {
  node **items;
  int n, cap;
} decl_list;

static void each_decl(spec_model *m, decl_list *out) {
  out->n = 0;
  spec_unit *units[65];
  int nunits = 0;
  units[nunits++] = &m->main;
  for (int i = 0; i < m->nlibs && nunits < 65; i++) units[nunits++] = &m->libs[i];
  for (int u = 0; u < nunits; u++) {
    node *spec = units[u]->parsed.spec;
    for (int i = 0; spec && i < spec->nkids; i++) {
      if (!spec->kids[i]) continue;
      if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 32;
        out->items = xrealloc(out->items, (size_t)out->cap * sizeof *out->items);
      }
      out->items[out->n++] = spec->kids[i];
    }
  }
}

static int is_lib_file(const node *n) {
  const source_file *f = src_get(n->span.file);
  return f && f->is_stdlib;
}

/* ---- use -------------------------------------------------------------- */

static void load_uses(spec_model *m) {
  node *spec = m->main.parsed.spec;
  for (int i = 0; i < spec->nkids; i++) {
    node *d = spec->kids[i];
    if (!d || d->kind != N_USE) continue;
    node *p = d->kids[0];
    if (p->nkids != 2 || strcmp(p->kids[0]->str, "stdlib") != 0) {
      diag_error(p->span, "'use' takes a library of the standard library: use stdlib.NAME");
      continue;
    }
    const char *name = p->kids[1]->str;
    const stdlib_file *lib = NULL;
    for (int k = 0; stdlib_files[k].name; k++)
      if (strcmp(stdlib_files[k].name, name) == 0) lib = &stdlib_files[k];
    if (!lib) {
      diag_error(p->kids[1]->span, "unknown library 'stdlib.%s'", name);
      const char *s = closest_word(name, stdlib_names());
      if (s) diag_hint("did you mean 'stdlib.%s'?", s);
      continue;
    }
    int dup = 0;
    for (int k = 0; k < m->nlibs; k++) dup |= strcmp(m->libs[k].name, name) == 0;
    if (dup) {
      diag_warning(d->span, "stdlib.%s is used twice", name);
      continue;
    }
    char *path = xasprintf("stdlib/%s.sync", name);
    int file = src_add(path, xstrndup(lib->text, lib->len), lib->len, 1);
    free(path);
    m->libs = xrealloc(m->libs, (size_t)(m->nlibs + 1) * sizeof *m->libs);
    spec_unit *u = &m->libs[m->nlibs++];
    u->name = lib->name;
    u->file = file;
    u->parsed = parse_source(file);
    node *lspec = u->parsed.spec;
    for (int k = 0; k < lspec->nkids; k++)
      if (lspec->kids[k] && lspec->kids[k]->kind == N_USE)
        diag_error(lspec->kids[k]->span, "a library cannot use another library");
  }
}

/* ---- attribute declarations ---------------------------------------------- */

static void gather_attribute(spec_model *m, node *d) {
  int e = resolve_entity(m, d->kids[0]);
  node *name = d->kids[1], *type = d->kids[2];
  sync_type t = type_from_word(type->str);
  if (t == TY_ERROR) {
    diag_error(type->span, "unknown type '%s'", type->str);
    const char *s = closest_word(type->str, type_words);
    diag_hint(s ? "did you mean '%s'?" : "the types are string, int, decimal, bool, date and list", s);
  }
  if (e < 0) return;
  if (schema_attr_find(e, name->str)) {
    diag_error(name->span, "%s already has an attribute '%s'", schema_entity_get(e)->name, name->str);
    return;
  }
  int declared = 0;
  for (int i = 0; i < m->nattrs; i++)
    if (m->attrs[i].entity == e && strcmp(m->attrs[i].name, name->str) == 0) {
      diag_error(name->span, "attribute %s.%s is declared twice", schema_entity_get(e)->name, name->str);
      diag_note(m->attrs[i].decl->span, "first declared here");
      return;
    } else if (m->attrs[i].entity == e) {
      declared++;
    }
  const schema_entity *en = schema_entity_get(e);
  if (en->nattrs + declared == SCHEMA_MAX_ATTRS) /* said once, at the first past the limit; the rest are kept, so
                                                  * that the maps naming them raise nothing more */
    diag_error(name->span, "too many attributes for %s (the limit is %d, the schema's %d among them)", en->name,
               SCHEMA_MAX_ATTRS, en->nattrs);
  m->attrs = xrealloc(m->attrs, (size_t)(m->nattrs + 1) * sizeof *m->attrs);
  spec_attr *a = &m->attrs[m->nattrs++];
  a->entity_name = schema_entity_get(e)->name;
  a->entity = e;
  a->name = name->str;
  a->type = t == TY_ERROR ? TY_ANY : t;
  a->decl = d;
}

/* ---- sources ------------------------------------------------------------- */

static int is_loopback_url(const char *u) {
  return strncmp(u, "http://127.", 11) == 0 || strncmp(u, "http://localhost", 16) == 0 ||
         strncmp(u, "http://[::1]", 12) == 0;
}

static int is_secret_call(const node *v) {
  if (!v || v->kind != N_CALL) return 0;
  const char *f = v->kids[0]->str;
  return strcmp(f, "env") == 0 || strcmp(f, "file") == 0;
}

static void check_setting_value(spec_model *m, spec_source *src, node *key, node *v, int setting) {
  const setting_info *si = &setting_table[setting];
  expr_env env = {m, CX_SETTING, -1, NULL, NULL};
  if (si->type == ST_SECRET) {
    if (v->kind == N_STR) {
      diag_error(v->span, "%s is a credential and must not be written in the spec", key->str);
      diag_hint("read it when the plan runs: env(\"VAR\") or file(\"/path/to/secret\")");
      return;
    }
    if (!is_secret_call(v)) {
      diag_error(v->span, "%s is a credential: write env(\"VAR\") or file(\"path\")", key->str);
      return;
    }
  }
  if (is_secret_call(v)) {
    int before = diag_error_count();
    check_expr(&env, v);
    /* A bare name as the argument is already reported: no second error. */
    int reported = diag_error_count() > before;
    if (!reported && v->nkids == 2 && v->kids[1]->kind != N_STR)
      diag_error(v->kids[1]->span, "%s() takes a string literal", v->kids[0]->str);
    else if (!reported && v->nkids == 2 && v->kids[1]->str[0] == 0)
      diag_error(v->kids[1]->span, "%s() needs a non-empty name", v->kids[0]->str);
    if (si->type == ST_BOOL || si->type == ST_ENTITIES)
      diag_error(v->span, "%s cannot be read from env() or file()", key->str);
    return;
  }
  switch (si->type) {
    case ST_BOOL:
      if (v->kind != N_BOOL) diag_error(v->span, "%s must be true or false", key->str);
      return;
    case ST_ENTITIES: {
      if (v->kind != N_LIST) {
        diag_error(v->span, "entities must be a list of entity names: [student, teacher]");
        return;
      }
      int seen[ENT__COUNT] = {0};
      for (int i = 0; i < v->nkids; i++) {
        const char *nm = ast_simple_name(v->kids[i]);
        if (!nm) {
          diag_error(v->kids[i]->span, "entities lists entity names, like student or class");
          continue;
        }
        int e = resolve_entity(m, v->kids[i]->kids[0]);
        if (e < 0) continue;
        if (seen[e]) diag_error(v->kids[i]->span, "%s is listed twice", nm);
        seen[e] = 1;
        src->feeds[e] = 1;
      }
      return;
    }
    default:
      break;
  }
  if (v->kind != N_STR) {
    int before = diag_error_count();
    check_expr(&env, v);
    if (diag_error_count() > before) return; /* e.g. a bare name: already reported */
    if (v->kind == N_CALL || v->kind == N_BINOP || v->kind == N_IF || v->kind == N_NOT) {
      /* Settings are read before any record: nothing is computed. */
      diag_error(v->span, "the value of %s must be a literal string, not a computed value", key->str);
      diag_hint("a setting's value is a literal; only secrets are read when the plan runs, with env(\"VAR\") or file(\"path\")");
    } else {
      diag_error(v->span, "%s must be a string", key->str);
    }
    return;
  }
  const char *s = v->str;
  switch (si->type) {
    case ST_URL:
      if (strncmp(s, "https://", 8) != 0 && !is_loopback_url(s)) {
        diag_error(v->span, "%s must be an https:// URL", key->str);
        if (strncmp(s, "http://", 7) == 0) diag_hint("TLS is always used; plain http:// is allowed only for this machine (127.0.0.1, localhost)");
      } else if (strchr(s, ' ')) {
        diag_error(v->span, "%s must not contain spaces", key->str);
      }
      break;
    case ST_CHAR:
      if (strlen(s) != 1) diag_error(v->span, "%s must be one character, like \",\" or \"\\t\"", key->str);
      break;
    case ST_AUTH:
      if (strcmp(s, "oauth1") != 0 && strcmp(s, "oauth2") != 0)
        diag_error(v->span, "auth must be \"oauth2\" or \"oauth1\"");
      else if (src->kind == KIND_synergy && !strcmp(s, "oauth1")) {
        diag_error(v->span, "Synergy's OneRoster API takes OAuth 2 only");
        diag_hint("leave auth out (it is \"oauth2\"), and set token_url: Synergy's token URL is not derived from url");
      }
      break;
    default:
      if (!s[0] && setting != SET_prefix) diag_error(v->span, "%s must not be empty", key->str);
      break;
  }
}

static void check_file_setting(spec_model *m, spec_source *src, node *fs, node **files) {
  node *ent = fs->kids[0], *path = fs->kids[1], *at = fs->kids[2];
  int kflags = src->kind >= 0 ? kind_table[src->kind].flags : KK_FILES | KK_JSON;
  if (!(kflags & KK_FILES)) {
    diag_error(fs->span, "'file' lines are for csv and json sources, not %s", kind_table[src->kind].name);
    if (src->kind == KIND_oneroster_csv) diag_hint("a oneroster_csv source reads a whole directory: dir = \"path\"");
    return;
  }
  int e = resolve_entity(m, ent);
  if (path->kind != N_STR || !path->str[0]) diag_error(path->span, "the file's path must be a non-empty string");
  if (at) {
    if (!(kflags & KK_JSON))
      diag_error(at->span, "'at' (the path to the array of records) is for json sources");
    else if (at->kind != N_STR)
      diag_error(at->span, "'at' takes a string: the dotted path to the array of records");
  }
  if (e < 0) return;
  if (files[e]) {
    diag_error(fs->span, "two files for %s", schema_entity_get(e)->name);
    diag_note(files[e]->span, "the first is here");
    return;
  }
  files[e] = fs;
}

/* Appends the space-separated words of `list` to `b`, each after ", ". */
static void add_words(sbuf *b, const char *list) {
  for (const char *w = list; *w;) {
    size_t n = strcspn(w, " ");
    if (n) {
      sb_puts(b, ", ");
      sb_putn(b, w, n);
    }
    w += n;
    w += strspn(w, " ");
  }
}

static void check_source(spec_model *m, spec_source *src) {
  node *d = src->decl, *kindname = d->kids[1];
  if (src->kind < 0) {
    diag_error(kindname->span, "unknown source kind '%s'", kindname->str);
    const char *s = closest_word(kindname->str, kind_names());
    if (s)
      diag_hint("did you mean '%s'?", s);
    else
      diag_hint("the kinds are veracross, powerschool, synergy, oneroster, oneroster_csv, xpress, csv and json");
  }
  node *given[SET__COUNT] = {0};
  node *files[ENT__COUNT] = {0};
  int has_entities = 0;
  for (int i = 2; i < d->nkids; i++) {
    node *s = d->kids[i];
    if (s->kind == N_FILE_SETTING) {
      check_file_setting(m, src, s, files);
      continue;
    }
    node *key = s->kids[0], *v = s->kids[1];
    int set = setting_find(key->str);
    if (set < 0) {
      diag_error(key->span, "unknown setting '%s'", key->str);
      const char *sug = closest_word(key->str, setting_names());
      if (sug) diag_hint("did you mean '%s'?", sug);
      continue;
    }
    if (src->kind >= 0 && !kind_takes(src->kind, set)) {
      diag_error(key->span, "a %s source has no setting '%s'", kind_table[src->kind].name, key->str);
      const kind_info *k = &kind_table[src->kind];
      sbuf all = {0};
      sb_puts(&all, "prefix, bulk, entities");
      add_words(&all, k->required);
      add_words(&all, k->optional);
      diag_hint("its settings are %s", all.data);
      sb_free(&all);
      continue;
    }
    if (given[set]) {
      diag_error(key->span, "setting '%s' is given twice", key->str);
      diag_note(given[set]->span, "first given here");
      continue;
    }
    given[set] = s;
    if (set == SET_entities) has_entities = 1;
    check_setting_value(m, src, key, v, set);
  }
  if (src->kind < 0) return;
  const kind_info *k = &kind_table[src->kind];
  /* All the missing settings in one message: they share one place.  They
   * are listed in the order kinds.def's "required" string gives them. */
  int order[SET__COUNT];
  int nmissing = 0, last = -1;
  for (const char *w = k->required; *w;) {
    size_t n = strcspn(w, " ");
    for (int set = 0; n && set < SET__COUNT; set++)
      if (strlen(setting_table[set].name) == n && memcmp(setting_table[set].name, w, n) == 0 && !given[set] &&
          nmissing < SET__COUNT)
        order[nmissing++] = last = set;
    w += n;
    w += strspn(w, " ");
  }
  sbuf missing = {0};
  for (int i = 0; i < nmissing; i++) {
    if (i) sb_puts(&missing, i == nmissing - 1 ? " and " : ", ");
    sb_printf(&missing, "'%s'", setting_table[order[i]].name);
  }
  if (nmissing) {
    diag_error(d->kids[0]->span, "source %s (%s) is missing the required setting%s %s", src->name, k->name,
               nmissing > 1 ? "s" : "", missing.data);
    diag_hint("%s: %s", setting_table[last].name, setting_table[last].doc);
  }
  sb_free(&missing);
  if (k->flags & KK_FILES) {
    int any = 0;
    for (int e = 0; e < ENT__COUNT; e++) any |= files[e] != NULL;
    if (!any) {
      diag_error(d->kids[0]->span, "a %s source needs at least one 'file ENTITY = \"path\"' line", k->name);
      return;
    }
    for (int e = 0; e < ENT__COUNT; e++) {
      if (has_entities && src->feeds[e] && !files[e])
        diag_error(given[SET_entities]->span, "source %s feeds %s but has no 'file %s = ...' line", src->name,
                   schema_entity_get(e)->name, schema_entity_get(e)->name);
      if (files[e]) src->feeds[e] = 1;
    }
  }
  src->decl->num = has_entities; /* whether `entities` was given */
}

/* ---- maps ----------------------------------------------------------------- */

/* A map's target: a declared source, else a source kind (a default map). */
static void gather_map(spec_model *m, node *d, node **kind_maps_spec, node **kind_maps_lib,
                       node *(*own)[ENT__COUNT]) {
  node *t = d->kids[0];
  node *sname = t->kids[0], *ename = t->kids[1];
  int e = resolve_entity(m, ename);
  spec_source *src = is_lib_file(d) ? NULL : find_source(m, sname->str);
  int kind = src ? -1 : kind_find(sname->str);
  if (!src && kind < 0) {
    if (is_lib_file(d)) {
      diag_error(sname->span, "unknown source kind '%s'", sname->str);
    } else {
      report_unknown_source(m, sname);
    }
    return;
  }
  if (e < 0) return;
  node **slot = src ? &own[src - m->sources][e] : is_lib_file(d) ? &kind_maps_lib[kind * ENT__COUNT + e]
                                                                   : &kind_maps_spec[kind * ENT__COUNT + e];
  if (*slot) {
    if (is_lib_file(d) && !is_lib_file(*slot)) return;
    diag_error(t->span, "a second map for %s.%s", sname->str, ename->str);
    diag_note((*slot)->span, "the first is here");
    return;
  }
  *slot = d;
}

static void check_map_body(spec_model *m, node *d, int entity) {
  node *assigned[64] = {0};
  const char *names[64] = {0};
  int n = 0, has_id = 0;
  expr_env env = {m, CX_MAP, entity, NULL, NULL};
  for (int i = 1; i < d->nkids; i++) {
    node *a = d->kids[i];
    node *name = a->kids[0], *v = a->kids[1];
    sync_type vt = check_expr(&env, v);
    if (entity < 0) continue;
    int t = spec_attr_type(m, entity, name->str);
    if (t < 0) {
      report_unknown_attr(m, entity, name);
      continue;
    }
    int dup = -1;
    for (int k = 0; k < n; k++)
      if (strcmp(names[k], name->str) == 0) dup = k;
    if (dup >= 0) {
      diag_error(name->span, "%s is assigned twice in this map", name->str);
      diag_note(assigned[dup]->span, "first assigned here");
      continue;
    }
    if (n < 64) names[n] = name->str, assigned[n++] = a;
    if (strcmp(name->str, "sis_id") == 0) has_id = 1;
    if (vt == TY_ERROR || vt == TY_ANY || vt == TY_NULL) continue;
    int ok = vt == (sync_type)t || (t == TY_DECIMAL && vt == TY_INT);
    if (!ok) {
      diag_error(v->span, "%s is %s, but this gives %s", name->str, a_type((sync_type)t), a_type(vt));
      const char *conv = t == TY_STRING ? "string(...)" : t == TY_INT ? "int(...)" : t == TY_DATE ? "date(...)"
                       : t == TY_BOOL ? "bool(...)" : NULL;
      if (conv && vt != TY_LIST && vt != TY_REGEX) diag_hint("convert it with %s", conv);
    }
  }
  if (entity >= 0 && !has_id)
    diag_error(d->kids[0]->span, "map %s.%s does not assign sis_id", d->kids[0]->kids[0]->str,
               d->kids[0]->kids[1]->str);
}

static int map_assigns(const node *map, const char *attr) {
  for (int i = 1; map && i < map->nkids; i++)
    if (strcmp(map->kids[i]->kids[0]->str, attr) == 0) return 1;
  return 0;
}

/* ---- schools ------------------------------------------------------------- */

static void check_schools(spec_model *m, node *d) {
  spec_source *src = find_source(m, d->kids[0]->str);
  if (!src) {
    report_unknown_source(m, d->kids[0]);
  } else if (src->schools) {
    diag_error(d->kids[0]->span, "a second schools block for %s", src->name);
    diag_note(src->schools->span, "the first is here");
  } else {
    src->schools = d;
  }
  node *auto_line = NULL;
  int nentries = 0;
  for (int i = 1; i < d->nkids; i++) {
    node *s = d->kids[i];
    if (s->kind == N_SCHOOL_AUTO) {
      if (auto_line) diag_error(s->span, "'auto' is given twice");
      auto_line = s;
      continue;
    }
    nentries++;
    node *id = s->kids[0];
    if (!id->str[0]) diag_error(id->span, "a school id cannot be empty");
    if (s->kind == N_SCHOOL_MAP && !s->kids[1]->str[0]) diag_error(s->kids[1]->span, "a hub school code cannot be empty");
    for (int k = 1; k < i; k++) {
      node *o = d->kids[k];
      if (o->kind == N_SCHOOL_AUTO || strcmp(o->kids[0]->str, id->str) != 0) continue;
      diag_error(id->span, "school id \"%s\" appears twice", id->str);
      diag_note(o->kids[0]->span, "first here");
      break;
    }
  }
  if (!auto_line && nentries == 0) diag_error(d->span, "an empty schools block: every record would be left out");
}

/* ---- filters, requirements, templates --------------------------------------- */

static node *find_template(spec_model *m, const char *name) {
  for (int i = 0; i < m->ntemplates; i++)
    if (strcmp(m->templates[i]->kids[0]->str, name) == 0) return m->templates[i];
  return NULL;
}

static void check_rules(spec_model *m, node *owner, int first, int entity, const node *params,
                        const sync_type *ptypes, int depth);

static void check_template_use(spec_model *m, node *u, int entity, const node *params, const sync_type *ptypes,
                               int depth) {
  node *name = u->kids[0];
  node *t = find_template(m, name->str);
  expr_env env = {m, CX_COND, entity, params, ptypes};
  sync_type at[32];
  int nargs = u->nkids - 1;
  for (int i = 0; i < nargs; i++) {
    sync_type ty = check_expr(&env, u->kids[i + 1]);
    if (i < 32) at[i] = ty;
  }
  if (!t) {
    diag_error(name->span, "unknown template '%s'", name->str);
    const char *names[256];
    int n = 0;
    for (int i = 0; i < m->ntemplates && n < 255; i++) names[n++] = m->templates[i]->kids[0]->str;
    names[n] = NULL;
    const char *s = closest_word(name->str, names);
    if (s)
      diag_hint("did you mean '%s'?", s);
    else if (!m->nlibs)
      diag_hint("the stdlib templates come with 'use stdlib.templates'");
    return;
  }
  node *tparams = t->kids[1];
  if (nargs != tparams->nkids) {
    diag_error(u->span, "template %s takes %d argument%s, got %d", name->str, tparams->nkids,
               tparams->nkids == 1 ? "" : "s", nargs);
    diag_note(t->kids[0]->span, "%s is declared here", name->str);
    return;
  }
  if (depth > 16) {
    diag_error(u->span, "templates use each other too deeply (a cycle?)");
    return;
  }
  /* Check the template's body for this entity, with the argument types. */
  int before = diag_error_count();
  check_rules(m, t, 2, entity, tparams, nargs <= 32 ? at : NULL, depth + 1);
  if (diag_error_count() > before && entity >= 0)
    diag_note(u->span, "in template %s, used here for %s", name->str, schema_entity_get(entity)->name);
}

static void check_condition(spec_model *m, node *line, int entity, const node *params, const sync_type *ptypes) {
  expr_env env = {m, CX_COND, entity, params, ptypes};
  node *c = line->kids[0];
  sync_type t = check_expr(&env, c);
  if (t != TY_ERROR && t != TY_ANY && t != TY_BOOL && t != TY_NULL) {
    diag_error(c->span, "a condition must be a bool, not %s", a_type(t));
    /* Quote the expression itself when it is short and on one line. */
    const source_file *f = src_get(c->span.file);
    int len = c->span.end - c->span.start;
    const char *text = f ? f->text + c->span.start : "";
    if (!f || len <= 0 || len > 40 || memchr(text, '\n', (size_t)len) || memchr(text, '\r', (size_t)len))
      text = "it", len = 2;
    if (t == TY_STRING)
      diag_hint("compare it: %.*s != null, %.*s == \"text\", or %.*s ~ /pattern/", len, text, len, text, len, text);
    else if (t == TY_INT || t == TY_DECIMAL || t == TY_DATE || t == TY_TIME)
      diag_hint("compare it: %.*s != null, or %.*s > %s", len, text, len, text,
                t == TY_INT ? "0" : t == TY_DECIMAL ? "0.5" : t == TY_DATE ? "2024-09-01" : "12:00");
    return;
  }
  int v = fold_truth(c);
  if (v < 0) return;
  int keep = line->kind == N_KEEP;
  if (keep && v) diag_warning(c->span, "this condition is always true: the line keeps every record and has no effect");
  if (keep && !v) diag_warning(c->span, "this condition is never true: the line drops every record");
  if (!keep && v) diag_warning(c->span, "this condition is always true: the line drops every record");
  if (!keep && !v) diag_warning(c->span, "this condition is never true: the line has no effect");
}

static void check_rules(spec_model *m, node *owner, int first, int entity, const node *params,
                        const sync_type *ptypes, int depth) {
  for (int i = first; i < owner->nkids; i++) {
    node *line = owner->kids[i];
    if (line->kind == N_USE_TEMPLATE)
      check_template_use(m, line, entity, params, ptypes, depth);
    else
      check_condition(m, line, entity, params, ptypes);
  }
}

/* filter/require target: ENTITY or SOURCE.ENTITY; returns the entity or -1. */
static int resolve_target(spec_model *m, node *t) {
  node *sname = t->kids[0], *ename = t->kids[1];
  if (sname) {
    spec_source *src = find_source(m, sname->str);
    int e = resolve_entity(m, ename);
    if (!src) {
      if (!is_lib_file(t) || kind_find(sname->str) < 0) report_unknown_source(m, sname);
      return e;
    }
    if (e >= 0 && !src->feeds[e]) diag_warning(ename->span, "source %s does not feed %s", src->name, ename->str);
    return e;
  }
  if (schema_entity_find(ename->str) < 0 && find_source(m, ename->str)) {
    diag_error(ename->span, "'%s' is a source: write %s.ENTITY, or an entity name alone", ename->str, ename->str);
    return -1;
  }
  return resolve_entity(m, ename);
}

static void check_require(spec_model *m, node *d) {
  int e = resolve_target(m, d->kids[0]);
  for (int i = 1; i < d->nkids; i++) {
    node *line = d->kids[i];
    for (int k = 0; k < line->nkids; k++) {
      node *a = line->kids[k];
      if (e >= 0 && spec_attr_type(m, e, a->str) < 0) report_unknown_attr(m, e, a);
      for (int j = 0; j < k; j++)
        if (strcmp(line->kids[j]->str, a->str) == 0) diag_error(a->span, "%s is listed twice", a->str);
    }
  }
}

/* ---- uniqueness and precedence -------------------------------------------- */

static int same_attrs(const node *a, const node *b) {
  if (a->nkids != b->nkids) return 0;
  for (int i = 0; i < a->nkids; i++) {
    int found = 0;
    for (int k = 0; k < b->nkids; k++) found |= strcmp(a->kids[i]->str, b->kids[k]->str) == 0;
    if (!found) return 0;
  }
  return 1;
}

/* Every attribute of `sub` is one of `super`'s. */
static int attrs_within(const node *sub, const node *super) {
  for (int i = 0; i < sub->nkids; i++) {
    int found = 0;
    for (int k = 0; k < super->nkids; k++) found |= strcmp(sub->kids[i]->str, super->kids[k]->str) == 0;
    if (!found) return 0;
  }
  return 1;
}

static void check_uniqueness(spec_model *m, node *d) {
  int e = resolve_entity(m, d->kids[0]);
  if (e >= 0) {
    if (m->uniqueness[e]) {
      diag_error(d->kids[0]->span, "a second uniqueness block for %s", d->kids[0]->str);
      diag_note(m->uniqueness[e]->span, "the first is here");
      return;
    }
    m->uniqueness[e] = d;
  }
  for (int i = 1; i < d->nkids; i++) {
    node *dom = d->kids[i];
    int ok = 1;
    for (int k = 0; k < dom->nkids; k++) {
      node *a = dom->kids[k];
      if (e >= 0 && spec_attr_type(m, e, a->str) < 0) {
        report_unknown_attr(m, e, a);
        ok = 0;
      }
      for (int j = 0; j < k; j++)
        if (strcmp(dom->kids[j]->str, a->str) == 0) {
          diag_error(a->span, "%s is listed twice in this domain", a->str);
          ok = 0;
        }
    }
    if (!ok) continue;
    for (int j = 1; j < i; j++) {
      node *prev = d->kids[j];
      if (same_attrs(dom, prev) && dom->num == prev->num) {
        diag_error(dom->span, "the same domain twice");
        diag_note(prev->span, "first here");
        break;
      }
      if (attrs_within(prev, dom)) {
        /* Whenever all of dom's attributes match, prev's match too, and prev
         * comes first: dom can never decide anything. */
        diag_warning(dom->span, "this %s domain is never reached: the %s domain before it has %s attributes",
                     dom->num ? "manual" : "unattended", prev->num ? "manual" : "unattended",
                     same_attrs(dom, prev) ? "the same" : "a subset of its");
        diag_note(prev->span, "the earlier domain");
        break;
      }
    }
  }
}

static void check_precedence(spec_model *m, node *d) {
  int e = resolve_entity(m, d->kids[0]);
  if (e >= 0) {
    if (m->precedence[e]) {
      diag_error(d->kids[0]->span, "a second precedence block for %s", d->kids[0]->str);
      diag_note(m->precedence[e]->span, "the first is here");
      return;
    }
    m->precedence[e] = d;
  }
  for (int i = 1; i < d->nkids; i++) {
    node *rule = d->kids[i];
    node *attr = rule->kids[0];
    int star = strcmp(attr->str, "*") == 0;
    int attr_ok = 1;
    if (!star && e >= 0 && spec_attr_type(m, e, attr->str) < 0) {
      report_unknown_attr(m, e, attr);
      attr_ok = 0;
    }
    for (int j = 1; j < i; j++)
      if (strcmp(d->kids[j]->kids[0]->str, attr->str) == 0) {
        diag_error(attr->span, star ? "a second '*' rule" : "%s has a second rule", attr->str);
        diag_note(d->kids[j]->span, "the first is here");
        attr_ok = 0;
      }
    int assigned = 0, known_sources = 1;
    for (int k = 1; k < rule->nkids; k++) {
      node *sn = rule->kids[k];
      spec_source *src = find_source(m, sn->str);
      for (int j = 1; j < k; j++)
        if (strcmp(rule->kids[j]->str, sn->str) == 0) diag_error(sn->span, "source %s is listed twice", sn->str);
      if (!src) {
        report_unknown_source(m, sn);
        known_sources = 0;
        continue;
      }
      if (e < 0) continue;
      if (!src->feeds[e]) {
        diag_warning(sn->span, "source %s does not feed %s", src->name, schema_entity_get(e)->name);
        continue;
      }
      if (!star && map_assigns(src->maps[e], attr->str)) assigned = 1;
    }
    if (!star && attr_ok && known_sources && e >= 0 && !assigned)
      diag_warning(attr->span, "no map of the sources listed here assigns %s", attr->str);
  }
}

/* ---- schedule and policy ---------------------------------------------------- */

static void check_schedule(spec_model *m, node *d) {
  if (m->schedule) {
    diag_error(d->span, "a second schedule block");
    diag_note(m->schedule->span, "the first is here");
    return;
  }
  m->schedule = d;
  node *every = NULL, *until = NULL;
  expr_env env = {m, CX_LITERAL, -1, NULL, NULL};
  static const char *const days[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", NULL};
  for (int i = 0; i < d->nkids; i++) {
    node *s = d->kids[i];
    node **slot = s->kind == N_EVERY ? &every : &until;
    if (*slot) {
      diag_error(s->span, s->kind == N_EVERY ? "a schedule has one frequency line" : "a second 'until' line");
      diag_note((*slot)->span, "the first is here");
      continue;
    }
    *slot = s;
    if (s->kind == N_UNTIL) {
      check_expr(&env, s->kids[0]);
      continue;
    }
    node *day = s->kids[0], *time = s->kids[1];
    if (day) {
      int ok = 0;
      for (int k = 0; days[k]; k++) ok |= strcmp(days[k], day->str) == 0;
      if (!ok) {
        diag_error(day->span, "unknown day '%s'", day->str);
        const char *sug = closest_word(day->str, days);
        diag_hint(sug ? "did you mean '%s'?" : "the days are monday to sunday, in lower case", sug);
      }
    }
    if (time) check_expr(&env, time);
  }
  if (!every && until) diag_error(d->span, "a schedule with 'until' needs a frequency: daily at HH:MM, weekly on DAY at HH:MM or hourly");
  if (!every && !until) diag_error(d->span, "an empty schedule block");
}

static void check_policy(spec_model *m, node *d) {
  if (m->policy) {
    diag_error(d->span, "a second policy block");
    diag_note(m->policy->span, "the first is here");
    return;
  }
  m->policy = d;
  node *seen_preview = NULL, *seen_deletions = NULL;
  static const char *const ops[] = {"creates", "updates", "deletes", "changes", NULL};
  static const char *const keys[] = {"preview", "deletions", NULL};
  for (int i = 0; i < d->nkids; i++) {
    node *s = d->kids[i];
    if (s->kind == N_SETTING) {
      node *key = s->kids[0], *v = s->kids[1];
      node **slot = strcmp(key->str, "preview") == 0 ? &seen_preview : strcmp(key->str, "deletions") == 0 ? &seen_deletions : NULL;
      if (!slot) {
        diag_error(key->span, "unknown policy setting '%s'", key->str);
        const char *sug = closest_word(key->str, keys);
        diag_hint(sug ? "did you mean '%s'?" : "the policy settings are preview and deletions, and 'hold' lines", sug);
        continue;
      }
      if (*slot) {
        diag_error(key->span, "%s is given twice", key->str);
        diag_note((*slot)->span, "first given here");
        continue;
      }
      *slot = s;
      if (slot == &seen_preview && v->kind != N_BOOL) diag_error(v->span, "preview must be true or false");
      if (slot == &seen_deletions) {
        const char *w = ast_simple_name(v);
        if (!w && v->kind == N_STR) w = v->str;
        if (!w || (strcmp(w, "deactivate") != 0 && strcmp(w, "delete") != 0))
          diag_error(v->span, "deletions must be deactivate or delete");
      }
      continue;
    }
    /* hold [ENTITY] OP > N[%] */
    node *ent = s->kids[0], *op = s->kids[1], *lim = s->kids[2];
    if (ent) resolve_entity(m, ent);
    int okop = 0;
    for (int k = 0; ops[k]; k++) okop |= strcmp(ops[k], op->str) == 0;
    if (!okop) {
      diag_error(op->span, "unknown hold operation '%s'", op->str);
      const char *sug = closest_word(op->str, ops);
      diag_hint(sug ? "did you mean '%s'?" : "the operations are creates, updates, deletes and changes", sug);
    }
    if (s->num) {
      double pct = lim->kind == N_INT ? (double)lim->num : strtod(lim->str, NULL);
      if (pct < 0 || pct > 100) diag_error(lim->span, "a hold percentage must be between 0 and 100");
    } else if (lim->kind != N_INT) {
      diag_error(lim->span, "a hold count must be a whole number (or write a percentage: %s%%)", lim->str);
    }
  }
}

/* ---- tests --------------------------------------------------------------- */

static int path_equal(const node *a, const node *b) {
  if (a->nkids != b->nkids) return 0;
  for (int i = 0; i < a->nkids; i++)
    if (strcmp(a->kids[i]->str, b->kids[i]->str) != 0) return 0;
  return 1;
}

static int is_literal_value(const node *v) {
  switch (v->kind) {
    case N_STR: case N_INT: case N_DEC: case N_BOOL: case N_NULL: case N_DATE: case N_TIME: return 1;
    case N_NEG: return v->kids[0]->kind == N_INT || v->kids[0]->kind == N_DEC;
    case N_LIST:
      for (int i = 0; i < v->nkids; i++)
        if (!is_literal_value(v->kids[i])) return 0;
      return 1;
    default: return 0;
  }
}

static void check_test(spec_model *m, node *d, node **tests, int ntests) {
  node *name = d->kids[0];
  if (!name->str[0]) diag_error(name->span, "a test needs a name");
  for (int i = 0; i < ntests; i++)
    if (strcmp(tests[i]->kids[0]->str, name->str) == 0) {
      diag_error(name->span, "a second test named \"%s\"", name->str);
      diag_note(tests[i]->kids[0]->span, "the first is here");
      break;
    }
  node *given = NULL;
  int entity = -1, nexpect = 0;
  for (int i = 1; i < d->nkids; i++) {
    node *s = d->kids[i];
    if (s->kind != N_GIVEN) continue;
    if (given) {
      diag_error(s->span, "a test has one 'given' record");
      diag_note(given->span, "the first is here");
      continue;
    }
    given = s;
    node *t = s->kids[0];
    spec_source *src = find_source(m, t->kids[0]->str);
    int e = resolve_entity(m, t->kids[1]);
    if (!src)
      report_unknown_source(m, t->kids[0]);
    else if (e >= 0 && !src->maps[e]) {
      diag_error(t->span, "there is no map for %s.%s to test", src->name, t->kids[1]->str);
      if (!src->feeds[e]) diag_note(src->decl->kids[0]->span, "source %s does not feed %s", src->name, t->kids[1]->str);
    }
    entity = e;
    expr_env env = {m, CX_LITERAL, -1, NULL, NULL};
    for (int k = 1; k < s->nkids; k++) {
      node *f = s->kids[k];
      node *v = f->kids[1];
      /* TY_ERROR: check_expr already said why it is not a literal. */
      if (check_expr(&env, v) != TY_ERROR && !is_literal_value(v))
        diag_error(v->span, "a given value must be a literal");
      for (int j = 1; j < k; j++)
        if (path_equal(s->kids[j]->kids[0], f->kids[0])) {
          diag_error(f->kids[0]->span, "this field is given twice");
          diag_note(s->kids[j]->kids[0]->span, "first given here");
          break;
        }
    }
  }
  if (!given) diag_error(d->kids[0]->span, "test \"%s\" has no 'given SOURCE.ENTITY { ... }' record", name->str);
  static const char *const outcomes[] = {"kept", "dropped", "skipped", "reported", NULL};
  for (int i = 1; i < d->nkids; i++) {
    node *s = d->kids[i];
    if (s->kind != N_EXPECT) continue;
    nexpect++;
    node *c = s->kids[0];
    const char *w = ast_simple_name(c);
    int outcome = 0;
    for (int k = 0; w && outcomes[k]; k++) outcome |= strcmp(outcomes[k], w) == 0;
    if (outcome && (entity < 0 || spec_attr_type(m, entity, w) < 0)) {
      s->num = 1; /* an outcome, not a condition */
      continue;
    }
    if (!given) continue;
    expr_env env = {m, CX_COND, entity, NULL, NULL};
    sync_type t = check_expr(&env, c);
    if (t != TY_ERROR && t != TY_ANY && t != TY_BOOL)
      diag_error(c->span, "expect takes kept, dropped, skipped, reported or a condition, not %s", a_type(t));
  }
  if (!nexpect) diag_error(d->kids[0]->span, "test \"%s\" expects nothing", name->str);
}

/* ---- the whole spec --------------------------------------------------------- */

static void gather(spec_model *m, decl_list *decls) {
  for (int i = 0; i < decls->n; i++) {
    node *d = decls->items[i];
    if (d->kind == N_ATTRIBUTE) gather_attribute(m, d);
    if (d->kind == N_TEMPLATE) {
      node *prev = find_template(m, d->kids[0]->str);
      if (prev) {
        diag_error(d->kids[0]->span, "a second template named %s", d->kids[0]->str);
        diag_note(prev->kids[0]->span, "the first is here");
        continue;
      }
      node *params = d->kids[1];
      for (int k = 0; k < params->nkids; k++)
        for (int j = 0; j < k; j++)
          if (strcmp(params->kids[j]->str, params->kids[k]->str) == 0)
            diag_error(params->kids[k]->span, "parameter %s is listed twice", params->kids[k]->str);
      m->templates = xrealloc(m->templates, (size_t)(m->ntemplates + 1) * sizeof *m->templates);
      m->templates[m->ntemplates++] = d;
    }
    if (d->kind == N_SOURCE) {
      if (is_lib_file(d)) {
        diag_error(d->span, "a library cannot declare sources");
        continue;
      }
      node *name = d->kids[0];
      spec_source *prev = find_source(m, name->str);
      if (prev) {
        diag_error(name->span, "a second source named %s", name->str);
        diag_note(prev->decl->kids[0]->span, "the first is here");
        continue;
      }
      if (m->nsources == MAX_SPEC_SOURCES) {
        diag_error(name->span, "too many sources (the limit is %d)", MAX_SPEC_SOURCES);
        continue;
      }
      spec_source *s = &m->sources[m->nsources++];
      memset(s, 0, sizeof *s);
      s->name = name->str;
      s->decl = d;
      s->kind = kind_find(d->kids[1]->str);
    }
  }
}

/* Whether the spec has `use stdlib.NAME`. */
static int uses_lib(const spec_model *m, const char *name) {
  for (int i = 0; i < m->nlibs; i++)
    if (strcmp(m->libs[i].name, name) == 0) return 1;
  return 0;
}

/* Decides each source's effective map per entity and which entities it feeds. */
static void resolve_maps(spec_model *m, decl_list *decls) {
  node **kind_spec = xcalloc((size_t)KIND__COUNT * ENT__COUNT, sizeof *kind_spec);
  node **kind_lib = xcalloc((size_t)KIND__COUNT * ENT__COUNT, sizeof *kind_lib);
  node *(*own)[ENT__COUNT] = xcalloc(MAX_SPEC_SOURCES, sizeof *own);
  for (int i = 0; i < decls->n; i++)
    if (decls->items[i]->kind == N_MAP) gather_map(m, decls->items[i], kind_spec, kind_lib, own);
  for (int i = 0; i < m->nsources; i++) {
    spec_source *s = &m->sources[i];
    int explicit_entities = s->decl->num;
    int files_kind = s->kind >= 0 && (kind_table[s->kind].flags & KK_FILES);
    for (int e = 0; e < ENT__COUNT; e++) {
      node *map = own[i][e];
      if (!map && s->kind >= 0) map = kind_spec[s->kind * ENT__COUNT + e];
      if (!map && s->kind >= 0) {
        /* A stdlib default applies only when its library is used. */
        node *lm = kind_lib[s->kind * ENT__COUNT + e];
        if (lm) map = lm;
      }
      if (own[i][e] && !s->feeds[e] && (explicit_entities || files_kind)) {
        diag_error(own[i][e]->kids[0]->span, "source %s does not feed %s", s->name, schema_entity_get(e)->name);
        if (explicit_entities)
          diag_hint("add %s to its entities", schema_entity_get(e)->name);
        else
          diag_hint("add a 'file %s = \"path\"' line to the source", schema_entity_get(e)->name);
        continue;
      }
      if (!explicit_entities && !files_kind && map) s->feeds[e] = 1;
      if (s->feeds[e]) s->maps[e] = map;
      if (s->feeds[e] && !map && s->kind >= 0 && !m->lib_failed) {
        const char *lib = kind_table[s->kind].stdlib;
        diag_error(s->decl->kids[0]->span, "source %s feeds %s but there is no map %s.%s", s->name,
                   schema_entity_get(e)->name, s->name, schema_entity_get(e)->name);
        if (lib[0] && uses_lib(m, lib))
          diag_hint("stdlib.%s has no map for %s: write map %s.%s { ... }", lib, schema_entity_get(e)->name,
                    s->name, schema_entity_get(e)->name);
        else if (lib[0])
          diag_hint("use stdlib.%s for the default maps, or write map %s.%s { ... }", lib, s->name,
                    schema_entity_get(e)->name);
        else
          diag_hint("write map %s.%s { ... }", s->name, schema_entity_get(e)->name);
      }
    }
    int any = 0;
    for (int e = 0; e < ENT__COUNT; e++) any |= s->feeds[e];
    if (!any && s->kind >= 0 && !files_kind && !m->lib_failed) {
      diag_error(s->decl->kids[0]->span, "source %s feeds nothing: it has no maps", s->name);
      if (kind_table[s->kind].stdlib[0] && !uses_lib(m, kind_table[s->kind].stdlib)) diag_hint("use stdlib.%s for the default maps", kind_table[s->kind].stdlib);
    }
  }
  free(kind_spec);
  free(kind_lib);
  free(own);
}

static void check_all(spec_model *m) {
  decl_list decls = {0};
  each_decl(m, &decls);
  gather(m, &decls);
  for (int i = 0; i < m->nsources; i++) check_source(m, &m->sources[i]);
  resolve_maps(m, &decls);
  node **tests = xmalloc((size_t)(decls.n + 1) * sizeof *tests);
  int ntests = 0;
  for (int i = 0; i < decls.n; i++) {
    node *d = decls.items[i];
    switch (d->kind) {
      case N_MAP: {
        int e = schema_entity_find(d->kids[0]->kids[1]->str);
        check_map_body(m, d, e);
        break;
      }
      case N_SCHOOLS: check_schools(m, d); break;
      case N_FILTER: {
        int e = resolve_target(m, d->kids[0]);
        check_rules(m, d, 1, e, NULL, NULL, 0);
        break;
      }
      case N_REQUIRE: check_require(m, d); break;
      case N_UNIQUENESS: check_uniqueness(m, d); break;
      case N_PRECEDENCE: check_precedence(m, d); break;
      case N_SCHEDULE: check_schedule(m, d); break;
      case N_POLICY: check_policy(m, d); break;
      case N_TEMPLATE: {
        /* Checked generically here (bare names must be an attribute of some
         * entity); each use checks it again for its entity. */
        int before = diag_error_count();
        check_rules(m, d, 2, -1, d->kids[1], NULL, 0);
        (void)before;
        break;
      }
      case N_TEST:
        check_test(m, d, tests, ntests);
        tests[ntests++] = d;
        break;
      default: break;
    }
  }
  free(tests);
  free(decls.items);
}

int check_text(int file) {
  const source_file *f = src_get(file);
  const unsigned char *s = (const unsigned char *)f->text;
  size_t n = f->len;
  for (size_t i = 0; i < n; i++)
    if (s[i] == 0) {
      sync_span at = {file, (int)i, (int)i + 1};
      diag_error(at, "this file holds a NUL byte: it is not a text file");
      return 1;
    }
  int bad = 0, lastline = -1;
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;
    if (ok && len == 3) {
      unsigned cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
      ok = cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok && len == 4) {
      unsigned cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (!ok) {
      int line, col;
      src_linecol(file, (int)i, &line, &col);
      if (line != lastline) {
        sync_span at = {file, (int)i, (int)i + 1};
        diag_error(at, "invalid UTF-8 (byte 0x%02x)", c);
        if (!bad) diag_hint("a spec is UTF-8 text; re-save the file as UTF-8");
        lastline = line;
      }
      bad = 1;
      i++;
      continue;
    }
    i += len;
  }
  return bad;
}

spec_model *spec_load(const char *path) {
  size_t len;
  char *text = read_file(path, MAX_SPEC_BYTES, &len);
  if (!text) {
    if (errno == EFBIG)
      fprintf(stderr, "syncc: %s: the file is larger than the limit of %u MB\n", path, MAX_SPEC_BYTES >> 20);
    else
      fprintf(stderr, "syncc: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  spec_model *m = xcalloc(1, sizeof *m);
  m->main.name = path;
  m->main.file = src_add(path, text, len, 0);
  if (check_text(m->main.file)) {
    m->main.parsed.spec = ast_new(N_SPEC, (sync_span){m->main.file, 0, 0});
    return m;
  }
  m->main.parsed = parse_source(m->main.file);
  /* No checking of a broken tree.  parse_source() leaves the number of real
   * syntax errors in the N_SPEC's num; a line in the wrong block is reported
   * too but dropped from the tree, so the rest is still checked. */
  if (m->main.parsed.spec->num > 0) return m;
  int before = diag_error_count();
  load_uses(m);
  /* A library that failed to load would make every map it gives look
   * missing: say nothing about missing maps then. */
  m->lib_failed = diag_error_count() > before;
  check_all(m);
  return m;
}

void spec_free(spec_model *m) {
  if (!m) return;
  parse_result_free(&m->main.parsed);
  for (int i = 0; i < m->nlibs; i++) parse_result_free(&m->libs[i].parsed);
  free(m->libs);
  free(m->attrs);
  free(m->templates);
  free(m);
}
