/*
 * mailauth/dkim_internal.h — what the DKIM files share; private to them.
 */
#ifndef OUTPOST_MAILAUTH_DKIM_INTERNAL_H
#define OUTPOST_MAILAUTH_DKIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/str.h"
#include "mailauth/dkim.h"

/* A header is cut into at most this many fields; a longer header's later
 * fields are not seen (nor signed, nor verified). */
#define DKIM_MAX_FIELDS 2000

struct dkim_field {
    struct str raw;   /* the whole field, final line end dropped */
    struct str name;  /* without whitespace before the colon */
    struct str value; /* after the colon */
};

struct dkim_header {
    struct dkim_field *f; /* malloc'd */
    int n;
    size_t body_off;      /* where the body starts (msg.len when none) */
};

/* Cuts msg's header into fields; lines without a colon and continuation
 * lines before any field are skipped. */
void dkim_header_split(struct str msg, struct dkim_header *h);
void dkim_header_free(struct dkim_header *h);

/* SHA-256 of the header data: the fields named in names[] (each picked
 * from the bottom up, a name named more often than present adding
 * nothing), canonicalized, then sig_field canonicalized without its CRLF. */
int dkim_hash_headers(const struct dkim_header *h, const struct str *names, int n_names,
                      enum dkim_canon c, struct str sig_field, unsigned char out[32]);

/* Base64 (original alphabet, padded). Decoding ignores SP, TAB, CR, LF.
 * decode returns malloc'd bytes or NULL. */
char *dkim_b64_encode(const unsigned char *p, size_t n);
unsigned char *dkim_b64_decode(struct str in, size_t *len_r);

struct dkim_key {
    EVP_PKEY *pkey;
    enum dkim_key_type type;
};

#endif
