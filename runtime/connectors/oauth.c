/* oauth.c: OAuth 2 client credentials, OAuth 1.0a signing and the xPress
 * login, as oauth.h describes. */
#include "oauth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"

static double now_epoch(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void oauth_init(oauth *a, oauth_mode mode, const char *source, const char *token_url, const char *id, const char *secret,
                const char *scope) {
  memset(a, 0, sizeof *a);
  a->mode = mode;
  a->source = source;
  snprintf(a->token_url, sizeof a->token_url, "%s", token_url ? token_url : "");
  snprintf(a->id, sizeof a->id, "%s", id ? id : "");
  snprintf(a->secret, sizeof a->secret, "%s", secret ? secret : "");
  snprintf(a->scope, sizeof a->scope, "%s", scope ? scope : "");
}

void oauth_wipe(oauth *a) {
  json_decref(a->login);
  memset(a, 0, sizeof *a);
}

/* ---- codecs ------------------------------------------------------------------- */

void oauth_base64(const unsigned char *in, size_t n, char *out, size_t size) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n && o + 5 < size; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = tab[v >> 18 & 63];
    out[o++] = tab[v >> 12 & 63];
    out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? tab[v & 63] : '=';
  }
  out[o] = 0;
}

void oauth_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t n, unsigned char out[32]) {
  unsigned char k[64] = {0}, pad[64], inner[32];
  if (keylen > 64) sha256(key, keylen, k);
  else memcpy(k, key, keylen);
  sha256_ctx c;
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
  sha256_init(&c);
  sha256_update(&c, pad, 64);
  sha256_update(&c, msg, n);
  sha256_final(&c, inner);
  for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
  sha256_init(&c);
  sha256_update(&c, pad, 64);
  sha256_update(&c, inner, 32);
  sha256_final(&c, out);
  memset(k, 0, sizeof k);
  memset(pad, 0, sizeof pad);
}

/* ---- OAuth 1.0a (RFC 5849), two-legged ------------------------------------------------ */

static int hexval(int c) { return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10; }

/* Decodes one form-encoded query component. */
static void form_decode(const char *s, size_t n, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    if (s[i] == '+') out[o++] = ' ';
    else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      out[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
      i += 2;
    } else out[o++] = s[i];
  }
  out[o] = 0;
}

typedef struct {
  char k[512], v[1024];
} param;

static int cmp_param(const void *a, const void *b) {
  const param *x = a, *y = b;
  int c = strcmp(x->k, y->k);
  return c ? c : strcmp(x->v, y->v);
}

/* Adds the encoded pairs of an `a=b&c=d` string (decoded first when `decode`). */
static int add_pairs(param *ps, int n, int max, const char *q, int decode) {
  while (q && *q && n < max) {
    size_t len = strcspn(q, "&");
    const char *eq = memchr(q, '=', len);
    size_t kl = eq ? (size_t)(eq - q) : len;
    char raw[1024];
    if (decode) form_decode(q, kl, raw, sizeof raw);
    else snprintf(raw, sizeof raw, "%.*s", (int)kl, q);
    http_urlencode(raw, ps[n].k, sizeof ps[n].k);
    if (eq) {
      if (decode) form_decode(eq + 1, len - kl - 1, raw, sizeof raw);
      else snprintf(raw, sizeof raw, "%.*s", (int)(len - kl - 1), eq + 1);
    } else raw[0] = 0;
    http_urlencode(raw, ps[n].v, sizeof ps[n].v);
    n++;
    q += len + (q[len] == '&');
  }
  return n;
}

/* METHOD&enc(base URL)&enc(sorted, encoded parameters: the query's and the
 * oauth_* ones, given raw as `k=v&k=v`). */
void oauth1_base_string(const char *method, const char *url, const char *oauth_params, char *out, size_t size) {
  enum { MAXP = 64 };
  param *ps = calloc(MAXP, sizeof *ps);
  const char *q = strchr(url, '?');
  size_t blen = q ? (size_t)(q - url) : strlen(url);
  char base[2048];
  snprintf(base, sizeof base, "%.*s", (int)blen, url);
  char *host = strstr(base, "://");
  for (char *p = base; p && *p && (!host || p < host + 3 || (*p != '/')); p++) *p = (char)tolower((unsigned char)*p);
  int n = add_pairs(ps, 0, MAXP, q ? q + 1 : NULL, 1);
  n = add_pairs(ps, n, MAXP, oauth_params, 0);
  qsort(ps, (size_t)n, sizeof *ps, cmp_param);
  char *norm = malloc(65536), *enc = malloc(3 * 65536);
  size_t o = 0;
  norm[0] = 0;
  for (int i = 0; i < n && o < 60000; i++) o += (size_t)snprintf(norm + o, 65536 - o, "%s%s=%s", i ? "&" : "", ps[i].k, ps[i].v);
  char ebase[6144];
  http_urlencode(base, ebase, sizeof ebase);
  http_urlencode(norm, enc, 3 * 65536);
  snprintf(out, size, "%s&%s&%s", method, ebase, enc);
  free(norm);
  free(enc);
  free(ps);
}

void oauth1_sign(const char *secret, const char *base, char *out, size_t size) {
  char key[3200];
  http_urlencode(secret, key, sizeof key - 2);
  strcat(key, "&"); /* no token secret: two-legged */
  unsigned char mac[32];
  oauth_hmac_sha256((const unsigned char *)key, strlen(key), (const unsigned char *)base, strlen(base), mac);
  oauth_base64(mac, 32, out, size);
  memset(key, 0, sizeof key);
}

static void random_hex(char *out, size_t bytes) {
  unsigned char b[32] = {0};
  FILE *f = fopen("/dev/urandom", "rb");
  size_t got = f ? fread(b, 1, bytes, f) : 0;
  if (f) fclose(f);
  if (got < bytes) { /* no urandom: still unique per request */
    static unsigned counter;
    unsigned v = (unsigned)time(NULL) ^ (++counter * 2654435761u);
    for (size_t i = 0; i < bytes; i++) b[i] ^= (unsigned char)(v >> (8 * (i % 4))) + (unsigned char)i;
  }
  for (size_t i = 0; i < bytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static const char *oauth1_header(oauth *a, const http_req *req) {
  char nonce[40], ts[32], eid[3100];
  random_hex(nonce, 16);
  snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
  http_urlencode(a->id, eid, sizeof eid);
  char params[4096];
  snprintf(params, sizeof params,
           "oauth_consumer_key=%s&oauth_nonce=%s&oauth_signature_method=HMAC-SHA256&oauth_timestamp=%s&oauth_version=1.0", a->id,
           nonce, ts);
  char *base = malloc(300000);
  oauth1_base_string(req->method, req->url, params, base, 300000);
  char sig[64], esig[200];
  oauth1_sign(a->secret, base, sig, sizeof sig);
  free(base);
  http_urlencode(sig, esig, sizeof esig);
  snprintf(a->header, sizeof a->header,
           "OAuth oauth_consumer_key=\"%s\", oauth_nonce=\"%s\", oauth_signature=\"%s\", "
           "oauth_signature_method=\"HMAC-SHA256\", oauth_timestamp=\"%s\", oauth_version=\"1.0\"",
           eid, nonce, esig, ts);
  memset(params, 0, sizeof params);
  return a->header;
}

/* ---- OAuth 2 client credentials and the xPress login ------------------------------------ */

static double expires_in(json_t *doc) {
  json_t *v = json_object_get(doc, "expires_in");
  double d = json_is_number(v) ? json_number_value(v) : json_is_string(v) ? strtod(json_string_value(v), NULL) : 0;
  return d > 0 ? d : 3600;
}

static void token_request(oauth *a, http_req *r) {
  char eid[3100], esec[3100], escope[6200];
  http_urlencode(a->id, eid, sizeof eid);
  http_urlencode(a->secret, esec, sizeof esec);
  http_urlencode(a->scope, escope, sizeof escope);
  char body[16384];
  http_req_init(r, "POST", a->token_url);
  r->no_auth = 1;
  r->want_json = 1;
  http_req_header(r, "Accept: application/json");
  http_req_header(r, "Content-Type: application/x-www-form-urlencoded");
  if (a->mode == OAUTH_LOGIN) {
    snprintf(body, sizeof body, "username=%s&password=%s", eid, esec);
  } else if (a->mode == OAUTH_CC_BODY) {
    snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s%s%s", eid, esec,
             a->scope[0] ? "&scope=" : "", escope);
  } else {
    char pair[2100], b64[3000];
    snprintf(pair, sizeof pair, "%s:%s", a->id, a->secret);
    oauth_base64((const unsigned char *)pair, strlen(pair), b64, sizeof b64);
    http_req_header(r, "Authorization: Basic %s", b64);
    memset(pair, 0, sizeof pair);
    memset(b64, 0, sizeof b64);
    snprintf(body, sizeof body, "grant_type=client_credentials%s%s", a->scope[0] ? "&scope=" : "", escope);
  }
  http_req_body(r, body, strlen(body));
  memset(body, 0, sizeof body);
  memset(esec, 0, sizeof esec);
}

int oauth_fetch_token(oauth *a, char *err, size_t errsize) {
  if (a->mode == OAUTH_1) return 1;
  http_req r;
  token_request(a, &r);
  char why[600];
  int ok = http_send(a->http, &r, why, sizeof why);
  if (ok && (r.status < 200 || r.status >= 300)) {
    char text[300];
    snprintf(err, errsize, "source %s: the %s at %s was refused: HTTP %ld: %s%s", a->source,
             a->mode == OAUTH_LOGIN ? "login" : "token request", a->token_url, r.status, http_error_text(&r, text, sizeof text),
             r.status == 404 ? " (is token_url right? OneRoster and Synergy servers do not share one token path)" : "");
    ok = 0;
  } else if (!ok) {
    snprintf(err, errsize, "source %s: %s", a->source, why);
  }
  json_t *tok = ok ? json_object_get(r.json, "access_token") : NULL;
  if (ok && !json_is_string(tok)) tok = json_object_get(r.json, "token");
  if (ok && !json_is_string(tok)) {
    snprintf(err, errsize, "source %s: the response of %s holds no access_token", a->source, a->token_url);
    ok = 0;
  }
  if (ok) {
    snprintf(a->token, sizeof a->token, "%s", json_string_value(tok));
    double life = expires_in(r.json);
    /* renew a minute early, or at 90% of a short lifetime */
    a->expires_at = now_epoch() + (life > 600 ? life - 60 : life * 0.9);
    a->gen++;
    if (a->mode == OAUTH_LOGIN) {
      json_decref(a->login);
      a->login = json_incref(r.json);
    }
  }
  http_req_clear(&r);
  return ok;
}

const char *oauth_authorize(void *ctx, http_req *req, int refresh, char *err, size_t errsize) {
  oauth *a = ctx;
  if (a->mode == OAUTH_1) return oauth1_header(a, req);
  /* A 401 renews the token, unless another request already renewed it. */
  int stale = !a->token[0] || now_epoch() >= a->expires_at || (refresh && req->auth_gen == a->gen);
  if (stale && !oauth_fetch_token(a, err, errsize)) return NULL;
  req->auth_gen = a->gen;
  if (snprintf(a->header, sizeof a->header, "Bearer %s", a->token) >= (int)sizeof a->header) a->header[0] = 0;
  return a->header;
}
