/* fmt.c: placeholder, replaced below. */
#include "fmt.h"
#include <stdio.h>
int fmt_main(int argc, char **argv) { (void)argc; (void)argv; fputs("syncc fmt: not yet\n", stderr); return 2; }
