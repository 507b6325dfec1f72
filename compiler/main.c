/* main.c: the syncc command line.
 *
 *   syncc check [--json] [--max-errors N] FILE...
 *   syncc fmt [--check] [-w] FILE...
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
#include "diag.h"
#include "fmt.h"
#include "gendoc.h"
#include "source.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: syncc check [--json] [--max-errors N] FILE...\n"
        "       syncc fmt [--check] [-w] FILE...\n"
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

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "fmt") == 0) return fmt_main(argc - 2, argv + 2);
  if (strcmp(cmd, "ast") == 0) return cmd_ast(argc - 2, argv + 2);
  if (strcmp(cmd, "gen-doc") == 0) return gendoc_main(argc - 2, argv + 2);
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "syncc: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
