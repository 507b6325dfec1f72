/* zipread.c: the zip central directory, and inflating one member. */
#include "zipread.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

/* Finds the end-of-central-directory record in the last 64 KB + 22 bytes. */
static long find_eocd(FILE *f, unsigned char *rec) {
  if (fseek(f, 0, SEEK_END) != 0) return -1;
  long size = ftell(f);
  long back = size < 65557 ? size : 65557;
  unsigned char *buf = malloc((size_t)back);
  if (!buf || fseek(f, size - back, SEEK_SET) != 0 || fread(buf, 1, (size_t)back, f) != (size_t)back) {
    free(buf);
    return -1;
  }
  long at = -1;
  for (long i = back - 22; i >= 0; i--)
    if (buf[i] == 0x50 && buf[i + 1] == 0x4b && buf[i + 2] == 5 && buf[i + 3] == 6) {
      memcpy(rec, buf + i, 22);
      at = size - back + i;
      break;
    }
  free(buf);
  return at;
}

static int name_matches(const char *entry, size_t n, const char *name) {
  size_t len = strlen(name);
  if (n == len && memcmp(entry, name, n) == 0) return 1;
  /* "export/users.csv" holds "users.csv" */
  return n > len && entry[n - len - 1] == '/' && memcmp(entry + n - len, name, len) == 0;
}

static FILE *inflate_member(FILE *f, long data, uint32_t method, uint32_t csize, char *err, size_t errsize) {
  FILE *out = tmpfile();
  if (!out) {
    snprintf(err, errsize, "cannot make a temporary file: %s", strerror(errno));
    return NULL;
  }
  if (fseek(f, data, SEEK_SET) != 0) goto bad;
  unsigned char in[65536], buf[65536];
  if (method == 0) {
    for (uint32_t left = csize; left > 0;) {
      size_t n = fread(in, 1, left < sizeof in ? left : sizeof in, f);
      if (n == 0 || fwrite(in, 1, n, out) != n) goto bad;
      left -= (uint32_t)n;
    }
  } else if (method == 8) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) goto bad;
    int rc = Z_OK;
    for (uint32_t left = csize; rc != Z_STREAM_END;) {
      if (z.avail_in == 0) {
        if (left == 0) break;
        size_t n = fread(in, 1, left < sizeof in ? left : sizeof in, f);
        if (n == 0) break;
        left -= (uint32_t)n;
        z.next_in = in;
        z.avail_in = (uInt)n;
      }
      z.next_out = buf;
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) break;
      size_t got = sizeof buf - z.avail_out;
      if (got && fwrite(buf, 1, got, out) != got) break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
      snprintf(err, errsize, "a member of the zip is damaged (inflate failed)");
      fclose(out);
      return NULL;
    }
  } else {
    snprintf(err, errsize, "a member of the zip uses compression method %u; only deflate and stored are read", method);
    fclose(out);
    return NULL;
  }
  rewind(out);
  return out;
bad:
  snprintf(err, errsize, "the zip is truncated or damaged");
  fclose(out);
  return NULL;
}

FILE *zip_extract(const char *zip, const char *name, int *missing, char *err, size_t errsize) {
  *missing = 0;
  FILE *f = fopen(zip, "rb");
  if (!f) {
    snprintf(err, errsize, "%s: %s", zip, strerror(errno));
    return NULL;
  }
  unsigned char eocd[22];
  FILE *out = NULL;
  if (find_eocd(f, eocd) < 0) {
    snprintf(err, errsize, "%s: not a zip file (no central directory)", zip);
    fclose(f);
    return NULL;
  }
  uint32_t entries = le16(eocd + 10), dir_off = le32(eocd + 16);
  if (fseek(f, (long)dir_off, SEEK_SET) != 0) goto damaged;
  for (uint32_t i = 0; i < entries; i++) {
    unsigned char h[46];
    if (fread(h, 1, 46, f) != 46 || le32(h) != 0x02014b50) goto damaged;
    uint32_t method = le16(h + 10), csize = le32(h + 20), nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
    uint32_t local = le32(h + 42);
    char entry[1024];
    if (nlen >= sizeof entry || fread(entry, 1, nlen, f) != nlen) goto damaged;
    entry[nlen] = 0;
    if (fseek(f, (long)(xlen + clen), SEEK_CUR) != 0) goto damaged;
    if (!name_matches(entry, nlen, name)) continue;
    unsigned char lh[30];
    if (fseek(f, (long)local, SEEK_SET) != 0 || fread(lh, 1, 30, f) != 30 || le32(lh) != 0x04034b50) goto damaged;
    long data = (long)local + 30 + (long)le16(lh + 26) + (long)le16(lh + 28);
    out = inflate_member(f, data, method, csize, err, errsize);
    if (!out) {
      char why[300];
      snprintf(why, sizeof why, "%s", err);
      snprintf(err, errsize, "%s: %s: %s", zip, entry, why);
    }
    fclose(f);
    return out;
  }
  *missing = 1;
  snprintf(err, errsize, "%s has no %s", zip, name);
  fclose(f);
  return NULL;
damaged:
  snprintf(err, errsize, "%s: the zip's central directory is damaged", zip);
  fclose(f);
  return NULL;
}
