/* gendoc.h: `syncc gen-doc`, Markdown expanded from the single tables
 * (schema.def, builtins.def, kinds.def) so the docs cannot drift. */
#ifndef SYNC_GENDOC_H
#define SYNC_GENDOC_H

int gendoc_main(int argc, char **argv);

#endif
