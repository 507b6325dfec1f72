/* stdlib_embed.h: the .sync libraries compiled into syncc (each stdlib .sync file,
 * turned into C arrays by tools/embed.sh at build time). */
#ifndef SYNC_STDLIB_EMBED_H
#define SYNC_STDLIB_EMBED_H

#include <stddef.h>

typedef struct {
  const char *name; /* "veracross" for stdlib/veracross.sync */
  const char *text;
  size_t len;
} stdlib_file;

/* Terminated by an entry whose name is NULL. */
extern const stdlib_file stdlib_files[];

#endif
