/* oauth.h: credentials for the network connectors, in one module.
 *
 *   OAUTH_CC_BODY   OAuth 2 client credentials, id and secret in the form
 *                   body (Veracross);
 *   OAUTH_CC_BASIC  OAuth 2 client credentials with HTTP Basic (PowerSchool,
 *                   OneRoster 1.2, Synergy, most OneRoster 1.1 providers);
 *   OAUTH_1         OneRoster 1.1 two-legged OAuth 1.0a, HMAC-SHA256;
 *   OAUTH_LOGIN     the xPress (RICOne) login: a token plus the provider's
 *                   endpoints.
 * A token is fetched once per source and reused for the whole run; it is
 * renewed a minute before it expires and once after a 401 (only one renewal
 * however many requests were in flight: Veracross revokes the oldest of more
 * than ten tokens).  `expires_in` may be a number or a string.  The id, the
 * secret and the token live only in this struct and in request headers; no
 * message carries them.
 */
#ifndef SYNC_OAUTH_H
#define SYNC_OAUTH_H

#include <jansson.h>

#include "http.h"

typedef enum { OAUTH_CC_BODY, OAUTH_CC_BASIC, OAUTH_1, OAUTH_LOGIN } oauth_mode;

typedef struct {
  oauth_mode mode;
  const char *source;
  http_client *http;      /* token requests go through the source's client */
  char token_url[2048];
  char id[1024], secret[1024], scope[2048];
  char token[8192];
  double expires_at;
  int gen;                /* bumped at every new token */
  json_t *login;          /* OAUTH_LOGIN: the whole login response */
  char header[8192];      /* the Authorization value handed to http */
} oauth;

void oauth_init(oauth *a, oauth_mode mode, const char *source, const char *token_url, const char *id, const char *secret,
                const char *scope);
/* The http_auth_fn: ctx is the oauth. */
const char *oauth_authorize(void *ctx, http_req *req, int refresh, char *err, size_t errsize);
/* Gets a token now (test-connection reports this step on its own). */
int oauth_fetch_token(oauth *a, char *err, size_t errsize);
/* Zeroes every credential and frees the login response. */
void oauth_wipe(oauth *a);

/* Building blocks, exposed for the unit tests. */
void oauth_base64(const unsigned char *in, size_t n, char *out, size_t size);
void oauth_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t n, unsigned char out[32]);
/* The OAuth 1.0a signature base string and the signature of a request. */
void oauth1_base_string(const char *method, const char *url, const char *oauth_params, char *out, size_t size);
void oauth1_sign(const char *secret, const char *base, char *out, size_t size);

#endif
