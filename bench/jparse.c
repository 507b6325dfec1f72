/* bench/jparse.c: the "jansson parse" reference of bench/run's Veracross
 * section.
 *
 *     build/bench/jparse DIR
 *
 * Parses every *.json page under DIR (recursively) with json_load_file and
 * walks each page's "data" array, touching every field of every record,
 * then prints "pages N records N fields N strings N". It does no more than any reader
 * of these pages must do, so a replayed syncvm plan of the same pages is
 * measured against it. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  long pages, records, fields, strings;
} tally;

/* Every member of a record is looked at: a reader maps fields by name. */
static void touch_record(json_t *rec, tally *t) {
  const char *key;
  json_t *v;
  json_object_foreach(rec, key, v) {
    t->fields++;
    t->strings += json_is_string(v);
  }
  t->records++;
}

static int parse_page(const char *path, tally *t) {
  json_error_t je;
  json_t *doc = json_load_file(path, 0, &je);
  if (!doc) {
    fprintf(stderr, "jparse: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
    return 0;
  }
  size_t i;
  json_t *rec;
  json_array_foreach(json_object_get(doc, "data"), i, rec) touch_record(rec, t);
  t->pages++;
  json_decref(doc);
  return 1;
}

static int is_json(const char *name) {
  size_t n = strlen(name);
  return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* Directories first found are walked as they come: the order of pages does
 * not change the work. */
static int walk(const char *dir, tally *t) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return 0;
  }
  int ok = 1;
  struct dirent *de;
  while (ok && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) ok = walk(path, t);
    else if (is_json(de->d_name)) ok = parse_page(path, t);
  }
  closedir(d);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: jparse DIR\n");
    return 2;
  }
  tally t = {0, 0, 0, 0};
  if (!walk(argv[1], &t)) return 1;
  printf("pages %ld records %ld fields %ld strings %ld\n", t.pages, t.records, t.fields, t.strings);
  return 0;
}
