/* main.c: the syncc command line.
 *
 *   syncc check [--json] [--max-errors N] FILE...
 *   syncc fmt [--check] [-w] FILE...
 *   syncc build SPEC -o PLAN     compile to a plan file
 *   syncc disasm PLAN            the plan in words
 *   syncc test [--trace] SPEC... run the specs' test blocks through their plans
 *   syncc ast FILE               (the syntax tree, for tests and debugging)
 *   syncc gen-doc schema|builtins|kinds   (docs expanded from the tables)
 *
 * Exit status: 0 clean, 1 errors in a spec (or files fmt would change with
 * --check), 2 usage or I/O errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "codegen.h"
#include "diag.h"
#include "disasm.h"
#include "plan.h"
#include "spectest.h"
#include "fmt.h"
#include "gendoc.h"
#include "source.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: syncc check [--json] [--max-errors N] FILE...\n"
        "       syncc fmt [--check] [-w] FILE...\n"
        "       syncc build SPEC -o PLAN\n"
        "       syncc disasm PLAN\n"
        "       syncc test [--trace] SPEC...\n"
        "       syncc ast FILE\n"
        "       syncc gen-doc schema|builtins|kinds\n",
        out);
}

static int use_color(void) { return isatty(2) && getenv("NO_COLOR") == NULL; }

static int cmd_check(int argc, char **argv) {
  int json = 0, max = 20, nfiles = 0, io_error = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--max-errors") == 0 && i + 1 < argc)
      max = atoi(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "syncc check: unknown option %s\n", argv[i]);
      return 2;
    } else
      nfiles++;
  }
  if (!nfiles) {
    usage(stderr);
    return 2;
  }
  diag_init(json, use_color(), max);
  for (int i = 0; i < argc; i++) {
    if (argv[i][0] == '-' && argv[i][1]) {
      if (strcmp(argv[i], "--max-errors") == 0) i++;
      continue;
    }
    spec_model *m = spec_load(argv[i]);
    if (!m) io_error = 1;
    spec_free(m);
  }
  diag_flush(json ? stdout : stderr);
  int errors = diag_error_count();
  src_free_all();
  if (io_error) return 2;
  return errors ? 1 : 0;
}

static int cmd_ast(int argc, char **argv) {
  if (argc != 1) {
    usage(stderr);
    return 2;
  }
  diag_init(0, use_color(), 20);
  spec_model *m = spec_load(argv[0]);
  if (!m) return 2;
  int rc = 0;
  if (diag_error_count()) {
    rc = 1;
  } else {
    char *s = ast_dump(m->main.parsed.spec);
    fputs(s, stdout);
    free(s);
  }
  diag_flush(stderr);
  spec_free(m);
  src_free_all();
  return rc;
}

/* Checks and compiles a spec, then reads the plan back through the loader
 * and verifier, exactly as syncvm will.  Returns the bytes (and the loaded
 * plan in *loaded when asked), or NULL after printing why. */
static uint8_t *compile_spec(const char *path, size_t *len, plan **loaded, int *rc) {
  spec_model *m = spec_load(path);
  if (!m) {
    *rc = 2;
    return NULL;
  }
  if (diag_error_count()) {
    spec_free(m);
    *rc = 1;
    return NULL;
  }
  plan *p = codegen(m);
  uint8_t *bytes = plan_write(p, len);
  plan_free(p);
  spec_free(m);
  char err[300];
  plan *back = plan_read(bytes, *len, err, sizeof err);
  if (!back) {
    fprintf(stderr, "syncc: internal error: the plan built from %s does not load: %s\n", path, err);
    free(bytes);
    *rc = 2;
    return NULL;
  }
  if (loaded)
    *loaded = back;
  else
    plan_free(back);
  return bytes;
}

static int cmd_build(int argc, char **argv) {
  const char *spec = NULL, *out = NULL;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
    else if (!spec && argv[i][0] != '-') spec = argv[i];
    else {
      usage(stderr);
      return 2;
    }
  }
  if (!spec || !out) {
    usage(stderr);
    return 2;
  }
  diag_init(0, use_color(), 20);
  size_t len;
  int rc = 0;
  uint8_t *bytes = compile_spec(spec, &len, NULL, &rc);
  diag_flush(stderr);
  src_free_all();
  if (!bytes) return rc;
  char *tmp = xasprintf("%s.tmp", out);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(bytes, 1, len, f) == len;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, out) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "syncc build: cannot write %s\n", out);
    remove(tmp);
  }
  free(tmp);
  free(bytes);
  return ok ? 0 : 2;
}

static int cmd_disasm(int argc, char **argv) {
  if (argc != 1) {
    usage(stderr);
    return 2;
  }
  size_t len;
  char *bytes = read_file(argv[0], PLAN_MAX_BYTES, &len);
  if (!bytes) {
    fprintf(stderr, "syncc disasm: cannot read %s\n", argv[0]);
    return 2;
  }
  char err[300];
  plan *p = plan_read((const uint8_t *)bytes, len, err, sizeof err);
  free(bytes);
  if (!p) {
    fprintf(stderr, "%s: %s\n", argv[0], err);
    return 2;
  }
  disasm_plan(stdout, p);
  plan_free(p);
  return 0;
}

static int cmd_test(int argc, char **argv) {
  int trace = 0, failures = 0, rc = 0, n = 0;
  diag_init(0, use_color(), 20);
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--trace") == 0) {
      trace = 1;
      continue;
    }
    n++;
    size_t len;
    plan *p = NULL;
    int one = 0;
    uint8_t *bytes = compile_spec(argv[i], &len, &p, &one);
    diag_flush(stderr);
    if (!bytes) {
      rc = rc ? rc : one;
      continue;
    }
    free(bytes);
    if (argc > 1) printf("== %s\n", argv[i]);
    failures += spectest_run(p, stdout, trace);
    plan_free(p);
  }
  src_free_all();
  if (!n) {
    usage(stderr);
    return 2;
  }
  if (rc) return rc;
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "fmt") == 0) return fmt_main(argc - 2, argv + 2);
  if (strcmp(cmd, "ast") == 0) return cmd_ast(argc - 2, argv + 2);
  if (strcmp(cmd, "build") == 0) return cmd_build(argc - 2, argv + 2);
  if (strcmp(cmd, "disasm") == 0) return cmd_disasm(argc - 2, argv + 2);
  if (strcmp(cmd, "test") == 0) return cmd_test(argc - 2, argv + 2);
  if (strcmp(cmd, "gen-doc") == 0) return gendoc_main(argc - 2, argv + 2);
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "syncc: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
