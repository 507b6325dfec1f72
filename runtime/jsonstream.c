/* jsonstream.c: a streaming reader of one JSON array (see jsonstream.h). */
#include "jsonstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JS_BUF 65536
#define JS_MAX_ELEMENT (64u << 20) /* a record larger than this is an error */
#define JS_MAX_DEPTH 512

struct jstream {
  FILE *f;
  char path[1024];
  unsigned char buf[JS_BUF];
  size_t pos, len;
  long long offset;    /* bytes consumed before buf */
  long line, col;      /* of the next byte, 1-based */
  char *elem;          /* the bytes of the element being read */
  size_t elen, ecap;
  int capture;
  int first;           /* no element read yet */
  int done;
};

static int peek(jstream *s) {
  if (s->pos == s->len) {
    s->offset += (long long)s->len;
    s->len = fread(s->buf, 1, JS_BUF, s->f);
    s->pos = 0;
    if (s->len == 0) return -1;
  }
  return s->buf[s->pos];
}

static int take(jstream *s) {
  int c = peek(s);
  if (c < 0) return c;
  s->pos++;
  if (c == '\n') s->line++, s->col = 1;
  else if ((c & 0xC0) != 0x80) s->col++;
  if (s->capture) {
    if (s->elen + 1 >= s->ecap) {
      if (s->ecap >= JS_MAX_ELEMENT) return -2;
      size_t cap = s->ecap ? s->ecap * 2 : 4096;
      char *n = realloc(s->elem, cap);
      if (!n) return -2;
      s->elem = n;
      s->ecap = cap;
    }
    s->elem[s->elen++] = (char)c;
  }
  return c;
}

static void skip_ws(jstream *s) {
  for (int c = peek(s); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek(s)) take(s);
}

static int fail(jstream *s, char *err, size_t errsize, const char *why) {
  snprintf(err, errsize, "%s:%ld:%ld: %s", s->path, s->line, s->col, why);
  return 0;
}

/* A string; its raw bytes (escapes kept) into key when key is not NULL. */
static int read_string(jstream *s, char *key, size_t keysize, char *err, size_t errsize) {
  if (take(s) != '"') return fail(s, err, errsize, "expected a string");
  size_t k = 0;
  for (;;) {
    int c = take(s);
    if (c < 0) return fail(s, err, errsize, c == -2 ? "a record is too large" : "the file ends inside a string");
    if (c == '"') break;
    if (key && k + 1 < keysize) key[k++] = (char)c;
    if (c == '\\') {
      c = take(s);
      if (c < 0) return fail(s, err, errsize, "the file ends inside a string");
      if (key && k + 1 < keysize) key[k++] = (char)c;
    }
  }
  if (key) key[k] = 0;
  return 1;
}

/* Skips (or, when capturing, copies) one whole value. */
static int skip_value(jstream *s, int depth, char *err, size_t errsize) {
  if (depth > JS_MAX_DEPTH) return fail(s, err, errsize, "nested too deeply");
  skip_ws(s);
  int c = peek(s);
  if (c == '"') return read_string(s, NULL, 0, err, errsize);
  if (c == '{' || c == '[') {
    int close = c == '{' ? '}' : ']';
    take(s);
    skip_ws(s);
    if (peek(s) == close) return take(s), 1;
    for (;;) {
      if (close == '}') {
        skip_ws(s);
        if (!read_string(s, NULL, 0, err, errsize)) return 0;
        skip_ws(s);
        if (take(s) != ':') return fail(s, err, errsize, "expected ':'");
      }
      if (!skip_value(s, depth + 1, err, errsize)) return 0;
      skip_ws(s);
      c = take(s);
      if (c == close) return 1;
      if (c != ',') return fail(s, err, errsize, c < 0 ? "the file ends inside a value" : "expected ',' or the end of a list");
    }
  }
  /* a number, true, false or null */
  int n = 0;
  while ((c = peek(s)) >= 0 && c != ',' && c != '}' && c != ']' && c != ' ' && c != '\n' && c != '\r' && c != '\t') take(s), n++;
  return n ? 1 : fail(s, err, errsize, c < 0 ? "the file ends where a value should be" : "expected a value");
}

/* Walks from the document to the array at `at`. */
static int find_array(jstream *s, const char *at, char *err, size_t errsize) {
  char part[256];
  const char *p = at ? at : "";
  skip_ws(s);
  if (peek(s) == 0xEF) { /* a UTF-8 byte order mark */
    take(s), take(s), take(s);
    skip_ws(s);
  }
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    snprintf(part, sizeof part, "%.*s", (int)n, p);
    p = dot ? dot + 1 : p + n;
    skip_ws(s);
    if (take(s) != '{') return fail(s, err, errsize, "expected an object on the way to the records");
    int found = 0;
    while (!found) {
      skip_ws(s);
      if (peek(s) == '}') return fail(s, err, errsize, "the path to the records is not in the file");
      char key[256];
      if (!read_string(s, key, sizeof key, err, errsize)) return 0;
      skip_ws(s);
      if (take(s) != ':') return fail(s, err, errsize, "expected ':'");
      if (strcmp(key, part) == 0) {
        found = 1;
        break;
      }
      if (!skip_value(s, 0, err, errsize)) return 0;
      skip_ws(s);
      int c = take(s);
      if (c == '}') return fail(s, err, errsize, "the path to the records is not in the file");
      if (c != ',') return fail(s, err, errsize, "expected ','");
    }
  }
  skip_ws(s);
  if (take(s) != '[') return fail(s, err, errsize, "the records are not an array");
  return 1;
}

jstream *jstream_open(const char *path, const char *at, char *err, size_t errsize) {
  jstream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  snprintf(s->path, sizeof s->path, "%s", path);
  s->f = fopen(path, "rb");
  if (!s->f) {
    snprintf(err, errsize, "%s: %s", path, strerror(errno));
    free(s);
    return NULL;
  }
  s->first = 1;
  s->line = s->col = 1;
  if (!find_array(s, at, err, errsize)) {
    jstream_close(s);
    return NULL;
  }
  return s;
}

json_t *jstream_next(jstream *s, char *err, size_t errsize) {
  err[0] = 0;
  if (s->done) return NULL;
  skip_ws(s);
  int c = peek(s);
  if (c == ']') {
    s->done = 1;
    return NULL;
  }
  if (!s->first) {
    if (take(s) != ',') {
      fail(s, err, errsize, c < 0 ? "the file ends inside the array of records" : "expected ',' between records");
      return NULL;
    }
    skip_ws(s);
  }
  s->first = 0;
  long line = s->line, col = s->col;
  s->elen = 0;
  s->capture = 1;
  int ok = skip_value(s, 0, err, errsize);
  s->capture = 0;
  if (!ok) return NULL;
  json_error_t je;
  json_t *v = json_loadb(s->elem, s->elen, JSON_DECODE_ANY, &je);
  if (!v) /* jansson counts from the element's start */
    snprintf(err, errsize, "%s:%ld:%ld: %s", s->path, line + je.line - 1, je.line > 1 ? (long)je.column : col + je.column - 1,
             je.text);
  return v;
}

void jstream_close(jstream *s) {
  if (!s) return;
  if (s->f) fclose(s->f);
  free(s->elem);
  free(s);
}
