/*
 * mailauth/dkim.h — DomainKeys Identified Mail: signing what our users send
 * and verifying what arrives. RFC 6376 (DKIM), RFC 8463 (ed25519-sha256),
 * RFC 8301 (rsa-sha1 and keys under 1024 bits no longer acceptable), result
 * names as RFC 8601 (Authentication-Results) writes them.
 *
 * The pieces, each usable (and fuzzed) on its own:
 *  - tag lists (§3.2), the syntax of DKIM-Signature fields and of key
 *    records: strict (a malformed list is refused whole, a tag named twice
 *    is an error) and bounded (at most DKIM_MAX_TAGS tags): it is network
 *    input;
 *  - canonicalization (§3.4), simple and relaxed, of header fields and of
 *    bodies; the body hash is computed streaming, the body given in pieces
 *    of any size, so a large message never has to be copied;
 *  - signing with an RSA (rsa-sha256) or Ed25519 (ed25519-sha256) key,
 *    relaxed/relaxed, with the header list of dkim_sign_default_headers()
 *    plus oversigning (see dkim_sign_header);
 *  - key making: the private key as PEM and the TXT record to publish;
 *  - verification of every DKIM-Signature of a message (up to
 *    DKIM_MAX_SIGNATURES), the keys looked up through struct dkim_resolver,
 *    which the server implements with core/dns and the tests with a map.
 *
 * Messages are given as bytes as received: lines end in CRLF or in a bare
 * LF (a bare LF is read as CRLF, which is what the message looked like on
 * the wire). Header field names in h= are matched ASCII case-insensitively.
 *
 * Ed25519 (RFC 8463 §3): the signature is PureEd25519 over the SHA-256
 * hash of the header data, not over the data itself ("hash then sign") —
 * the same 32 bytes an RSA signature wraps in its DigestInfo.
 *
 * What a verifier says (enum dkim_result), per signature:
 *  - pass;
 *  - fail: body hash mismatch, signature did not verify, x= in the past,
 *    l= longer than the body;
 *  - neutral: the signature field is malformed (tag-list syntax, a required
 *    tag missing, bad values, v= not 1, an algorithm or canonicalization we
 *    do not know) — RFC 8601 §2.7.1 "contained syntax errors";
 *  - policy: rsa-sha1, which RFC 8301 §3.1 says verifiers must treat as
 *    failing; we name the reason instead of just saying fail;
 *  - temperror: the key lookup failed temporarily (SERVFAIL, timeout);
 *  - permerror: no key record (NXDOMAIN / NODATA), a malformed key record,
 *    a revoked key (empty p=), k= not matching a=, h= of the key not
 *    allowing sha256, s= excluding email, t=s with an i= in a subdomain,
 *    an RSA key under 1024 bits (RFC 8301 §3.2: never a valid signature; it
 *    is the key that is unusable, so permerror), h= of the signature
 *    without From, i= outside d=.
 * DMARC, not this module, decides what a pass means for the From domain.
 *
 * Owns: its own allocations (freed by the *_free functions). Never does
 * I/O except through the resolver, never logs; the time comes from the
 * caller.
 */
#ifndef OUTPOST_MAILAUTH_DKIM_H
#define OUTPOST_MAILAUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/str.h"

/* ---- tag lists (RFC 6376 §3.2) ---- */

#define DKIM_MAX_TAGS 32

/* name is the tag name; value the tag value without the FWS around it
 * (FWS inside it is kept: b=, bh= and p= may be folded). Both point into
 * the parsed text. value_end_off/eq_off are offsets in that text (the
 * verifier uses them to blank b=). */
struct dkim_tag {
    struct str name;
    struct str value;
    size_t eq_off;    /* offset of the '=' */
    size_t value_end; /* offset just past the value */
};

struct dkim_tags {
    struct dkim_tag tag[DKIM_MAX_TAGS];
    int n;
};

/* Parses `in` as a tag-list: tag-spec *( ";" tag-spec ) [ ";" ], tag names
 * ALPHA *(ALPHA / DIGIT / "_"), values of printable ASCII but ';' with FWS.
 * An empty list (or only whitespace) is valid and has no tags. Returns 0,
 * or -1 with *error_r (static text): syntax error, a tag given twice, more
 * than DKIM_MAX_TAGS tags. */
int dkim_tags_parse(struct str in, struct dkim_tags *out, const char **error_r);
/* The tag named `name` (case-sensitive, as §3.2 says), or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *t, const char *name);

/* ---- canonicalization (RFC 6376 §3.4) ---- */

enum dkim_canon {
    DKIM_CANON_SIMPLE = 0,
    DKIM_CANON_RELAXED,
};

/* Appends one header field, canonicalized, to out, followed by CRLF.
 * `field` is the whole field as in the message (name, colon, value with its
 * folding), without its final line end. Returns 0, or -1 when out's cap
 * would be passed. */
int dkim_canon_header(enum dkim_canon c, struct str field, struct buf *out);

/* The streaming body canonicalizer and SHA-256 hasher. `limit` is the l=
 * value, or -1 to hash the whole canonical body. */
struct dkim_body_hash;
struct dkim_body_hash *dkim_body_hash_new(enum dkim_canon c, long long limit);
/* Feeds the next piece of the body (the bytes after the blank line that
 * ends the header), any size, split anywhere (even inside a CRLF). */
void dkim_body_hash_update(struct dkim_body_hash *h, const void *p, size_t n);
/* Ends the body: writes the 32-byte SHA-256 to out. *length_r (if not
 * NULL) receives the whole canonical body length (not cut by the limit):
 * a verifier compares it with l=. */
void dkim_body_hash_final(struct dkim_body_hash *h, unsigned char out[32], long long *length_r);
void dkim_body_hash_free(struct dkim_body_hash *h);
/* Test helper: the canonical body itself, whole, appended to out. */
void dkim_canon_body(enum dkim_canon c, struct str body, struct buf *out);

/* ---- keys ---- */

enum dkim_key_type {
    DKIM_KEY_RSA = 0,     /* rsa-sha256 */
    DKIM_KEY_ED25519,     /* ed25519-sha256 */
};

/* Makes a key: RSA of `bits` bits (0: 2048; tests make smaller ones) or
 * Ed25519 (bits ignored). *pem_r receives the private key as PKCS#8 PEM,
 * *txt_r the TXT record text to publish at SELECTOR._domainkey.DOMAIN:
 * "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or
 * "v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>" (RFC 8463 §4).
 * Both malloc'd. Returns 0, or -1 with *error_r (static text). */
int dkim_keygen(enum dkim_key_type type, int bits, char **pem_r, char **txt_r,
                const char **error_r);

/* A loaded private key. */
struct dkim_key;
/* From PEM text (PKCS#8 or traditional); RSA or Ed25519. An RSA key under
 * 1024 bits is refused (RFC 8301 §3.2) unless allow_short (tests only:
 * making the signatures a verifier must refuse). NULL with *error_r. */
struct dkim_key *dkim_key_load(const char *pem, size_t len, bool allow_short,
                               const char **error_r);
enum dkim_key_type dkim_key_type(const struct dkim_key *k);
void dkim_key_free(struct dkim_key *k);

/* ---- signing ---- */

struct dkim_sign_params {
    const char *domain;       /* d= */
    const char *selector;     /* s= */
    const char *identity;     /* i=, or NULL to leave it out (then @d) */
    time_t timestamp;         /* t=, or 0 to leave it out */
    long long expire_after;   /* x= = t= (or now) + this; <= 0 leaves x= out */
    time_t now;               /* used for x= when timestamp is 0 */
    /* Header names to sign, or NULL for dkim_sign_default_headers(); each
     * signed as often as it occurs, those in `oversign` (NULL: the default)
     * once more. */
    const char *const *headers;
    const char *const *oversign;
};

/* NULL-terminated lists. Signed when present: From, To, Cc, Subject, Date,
 * Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding,
 * Reply-To, In-Reply-To, References, Sender, List-Id, List-Unsubscribe,
 * List-Unsubscribe-Post, List-Post, List-Help, List-Subscribe, List-Owner,
 * List-Archive, Autocrypt. Oversigned (named once more than present, so a
 * copy added on the way breaks the signature, and always named, so adding
 * one where there was none breaks it too): From, To, Subject, Date,
 * Message-ID, Reply-To, Cc, Content-Type, MIME-Version. */
const char *const *dkim_sign_default_headers(void);
const char *const *dkim_sign_oversign_headers(void);

/* Signs a whole message (header, blank line, body): appends the
 * DKIM-Signature field, folded to under 80 columns, ending in CRLF, to out;
 * the caller puts it in front of the message. Returns 0, or -1 with
 * *error_r (static text). */
int dkim_sign(const struct dkim_key *key, const struct dkim_sign_params *p, struct str msg,
              struct buf *out, const char **error_r);
/* The same for a caller that hashed the body itself (dkim_body_hash, with
 * DKIM_CANON_RELAXED and limit -1, e.g. in a worker while the body was
 * spooled): `header` is the header block, its blank line optional. */
int dkim_sign_header(const struct dkim_key *key, const struct dkim_sign_params *p,
                     struct str header, const unsigned char body_hash[32], struct buf *out,
                     const char **error_r);

/* ---- key records ---- */

struct dkim_key_record {
    bool rsa, ed25519;        /* k= (rsa when absent) */
    bool sha256_ok;           /* h= absent or naming sha256 */
    bool email_ok;            /* s= absent or naming "*" or "email" */
    bool testing;             /* t=y */
    bool strict;              /* t=s: i= must be in d= itself, no subdomain */
    bool revoked;             /* p= empty */
    unsigned char *key;       /* p= decoded (malloc'd; NULL when revoked) */
    size_t key_len;
};
/* Parses a TXT record as a DKIM key record (§3.6.1). Unknown tags and
 * unknown flags are ignored (as the RFC says); v= other than DKIM1, a v=
 * not first, a missing p=, bad base64, an unknown k= are errors. Returns 0,
 * or -1 with *error_r. Free with dkim_key_record_free. */
int dkim_key_record_parse(struct str txt, struct dkim_key_record *out, const char **error_r);
void dkim_key_record_free(struct dkim_key_record *r);

/* ---- verification ---- */

#define DKIM_MAX_SIGNATURES 10

enum dkim_result {
    DKIM_NONE = 0,            /* no signature (the message's result) */
    DKIM_PASS,
    DKIM_FAIL,
    DKIM_NEUTRAL,
    DKIM_POLICY,
    DKIM_TEMPERROR,
    DKIM_PERMERROR,
};
/* "none", "pass", "fail", ... as RFC 8601 writes them. */
const char *dkim_result_name(enum dkim_result r);

/* The answer to one TXT lookup. */
enum dkim_dns_status {
    DKIM_DNS_OK = 0,          /* records in txt[] */
    DKIM_DNS_NONE,            /* NXDOMAIN or NODATA */
    DKIM_DNS_TEMPFAIL,        /* SERVFAIL, timeout, bogus DNSSEC */
};
typedef void dkim_txt_done_fn(void *done_ctx, enum dkim_dns_status status,
                              const char *const *txt, const size_t *lens, int n);

/* How the verifier asks DNS. lookup_txt starts a TXT lookup of `name` and
 * calls done exactly once, later or before it returns (a synchronous map);
 * the records are only read during the call. */
struct dkim_resolver {
    void (*lookup_txt)(void *ctx, const char *name, dkim_txt_done_fn *done, void *done_ctx);
    void *ctx;
};

struct dkim_sig_result {
    enum dkim_result result;
    const char *reason;       /* why, for anything but pass (static text) */
    /* From the signature, when it could be read ("" otherwise); for
     * Authentication-Results: header.d, header.i, header.s, header.a,
     * header.b (first 8 characters of b=, RFC 6008). */
    char domain[256];
    char identity[256];
    char selector[64];
    char algorithm[32];
    char b_prefix[9];
    bool testing;             /* the key said t=y */
    int key_bits;             /* RSA modulus size, 256 for Ed25519; 0 unknown */
};

struct dkim_verify;
typedef void dkim_verify_done_fn(void *ctx, struct dkim_verify *v);

/* Reads the DKIM-Signature fields of msg (from the top: the first
 * DKIM_MAX_SIGNATURES; more are not checked and counted in *ignored).
 * msg must stay valid until the verifier is freed; now is for x=. */
struct dkim_verify *dkim_verify_new(struct str msg, time_t now);
/* Looks up every key and verifies; calls done once all are settled
 * (possibly before returning, with a synchronous resolver). With no
 * signature, done is called at once. */
void dkim_verify_start(struct dkim_verify *v, const struct dkim_resolver *res,
                       dkim_verify_done_fn *done, void *ctx);
/* The results, in the order the fields appear; *ignored: signatures past
 * the cap. Valid until dkim_verify_free. */
const struct dkim_sig_result *dkim_verify_results(const struct dkim_verify *v, int *n_r,
                                                  int *ignored_r);
void dkim_verify_free(struct dkim_verify *v);

/* Synchronous convenience for a resolver that answers inside lookup_txt
 * (tests, tools): fills up to max results, returns how many. */
int dkim_verify_message(struct str msg, time_t now, const struct dkim_resolver *res,
                        struct dkim_sig_result *out, int max);

#endif
