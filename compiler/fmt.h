/* fmt.h: `syncc fmt`, the canonical printer of .sync specs. */
#ifndef SYNC_FMT_H
#define SYNC_FMT_H

#include "../grammar/lex.h"

/* The canonical text of a parsed file (comments kept).  Caller frees. */
char *fmt_render(int file, const parse_result *r);
int fmt_main(int argc, char **argv);

#endif
