/*
 * smtp/mtasts.h — MTA-STS (RFC 8461) for outbound delivery: reading the
 * _mta-sts TXT record, the policy file and the HTTP response that carries
 * it; matching MX host names against a policy; a text form for the cache.
 *
 * Everything here is untrusted input from the network (DNS, a web server),
 * so it is all pure, bounded and fuzzed (tests/fuzz/fuzz_mtasts.c); the
 * fetch itself (HTTPS on the event loop) is smtp/mtasts_fetch.
 *
 * Decisions where the RFC leaves room (each has a unit test):
 *
 * - Syntax is the RFC's ABNF: keywords and values are case-sensitive
 *   ("version", "STSv1", "enforce"), a line or TXT field that does not fit
 *   the grammar makes the whole record or policy invalid, and an invalid one
 *   is no policy (§3.1, §3.2). A few harmless departures, because they cannot
 *   change a policy's meaning and real files have them: empty lines, a
 *   leading UTF-8 byte-order mark, white space at the end of a TXT record,
 *   and a trailing dot on an mx pattern are accepted.
 * - A repeated field other than mx (version, mode, max_age in the policy; id
 *   in the TXT record): the first one wins, as §3.2 says ("ignore all but
 *   the first instance"); the later ones must still be valid syntax.
 * - max_age is 1 to 10 digits (the ABNF); a value above 31557600 (one year,
 *   the RFC's maximum) is taken as 31557600 rather than refused: the policy
 *   says "cache me as long as you may", and refusing it would turn an
 *   enforced policy into none.
 * - Among several TXT records, only those beginning with "v=STSv1" followed
 *   by ";", white space or the end count (so "v=STSv10" is someone else's);
 *   more than one of those is MTASTS_TXT_INVALID, like one invalid record.
 * - Limits: a policy file of at most MTASTS_POLICY_MAX bytes, at most
 *   MTASTS_MAX_MX patterns of at most MTASTS_PATTERN_MAX characters
 *   (labels of at most 63). Past a limit the policy is refused.
 * - mx patterns are stored lowercase without a trailing dot; "*." is allowed
 *   only as the whole leftmost label, and covers exactly one label (§4.1).
 *   Patterns must be A-labels (LDH); U-labels are refused (§3.2).
 *
 * Certificates (§4.2): the MX host's certificate is checked by the TLS layer,
 * not here: make the SSL with SSL_set1_host(ssl, mx_host) and
 * SSL_set_hostflags(ssl, MTASTS_X509_HOSTFLAGS) plus SSL_VERIFY_PEER against
 * the system's trust store, so OpenSSL matches subjectAltName dNSNames with
 * a wildcard only as a whole leftmost label, and never the subject's CN.
 * mtasts_cert_matches_host checks a certificate already in hand the same way.
 *
 * Owns: what its structs point to (freed by their _free functions). Never
 * does I/O, never logs.
 */
#ifndef OUTPOST_SMTP_MTASTS_H
#define OUTPOST_SMTP_MTASTS_H

#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/linereader.h"
#include "core/str.h"

#define MTASTS_ID_MAX 32              /* §3.1: 1*32(ALPHA / DIGIT) */
#define MTASTS_POLICY_MAX 65536       /* §3.3 suggests 64 KB */
#define MTASTS_MAX_AGE_MAX 31557600u  /* §3.2: one year */
#define MTASTS_MAX_MX 100
#define MTASTS_PATTERN_MAX 253        /* a domain name's length, "*." included */

#define MTASTS_X509_HOSTFLAGS \
    (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)

/* --- The TXT record at _mta-sts.DOMAIN (§3.1) --- */

enum mtasts_txt_status {
    MTASTS_TXT_NONE = 0,  /* not an MTA-STS record (or none among several) */
    MTASTS_TXT_OK,        /* an MTA-STS record; its id is in id[] */
    MTASTS_TXT_INVALID,   /* one MTA-STS record with bad syntax, or several:
                             no policy (§3.1), *error_r says which */
};

/* One record, its character-strings already concatenated (core/dns does).
 * On OK, id holds the record's id, NUL-terminated. */
enum mtasts_txt_status mtasts_txt_parse(struct str record, char id[MTASTS_ID_MAX + 1],
                                        const char **error_r);
/* All the TXT records found at the name, in the shape core/dns gives them:
 * the one MTA-STS record's id, NONE when there is none, INVALID when there
 * are several or the one is invalid. A NONE or INVALID answer means "no
 * policy now", not "forget the cached one" (§3.1, §5.1): that is the
 * caller's to decide. */
enum mtasts_txt_status mtasts_txt_select(const char *const *txt, const size_t *lens, int n,
                                         char id[MTASTS_ID_MAX + 1], const char **error_r);

/* --- The policy (§3.2) --- */

enum mtasts_mode {
    MTASTS_MODE_NONE = 0,
    MTASTS_MODE_TESTING,
    MTASTS_MODE_ENFORCE,
};

struct mtasts_policy {
    enum mtasts_mode mode;
    uint32_t max_age;          /* seconds, at most MTASTS_MAX_AGE_MAX */
    int nmx;
    char **mx;                 /* patterns: lowercase, no trailing dot, "*.x.y" */
    /* Not part of the policy file; set by whoever fetched it (the TXT
     * record's id, the fetch time) and kept by the cache's text form. */
    char id[MTASTS_ID_MAX + 1];
    long long fetched_at;      /* Unix seconds */
};

/* Parses a policy file's body. Returns 0 with *out filled (id "" and
 * fetched_at 0), or -1 with *error_r allocated ("line 3: mode: expected
 * enforce, testing or none") and *out empty. */
int mtasts_policy_parse(struct str text, struct mtasts_policy *out, char **error_r);
void mtasts_policy_free(struct mtasts_policy *p);
/* A deep copy into *dst (which is overwritten, not freed). */
void mtasts_policy_copy(struct mtasts_policy *dst, const struct mtasts_policy *src);
const char *mtasts_mode_name(enum mtasts_mode m);

/* Whether the policy has expired at `now` (fetched_at + max_age passed). */
bool mtasts_policy_expired(const struct mtasts_policy *p, long long now);

/* The cache's text form: three lines of our own ("outpost-mtasts: 1",
 * "id: ...", "fetched_at: ...") and then the policy in canonical form.
 * deserialize(serialize(p)) gives p back; anything else read from the cache
 * is checked like a fetched policy. */
/* Appends to out; returns -1 only when out's cap is too small (the text
 * is at most a few tens of KB: MTASTS_MAX_MX patterns and three lines). */
int mtasts_policy_serialize(const struct mtasts_policy *p, struct buf *out);
int mtasts_policy_deserialize(struct str text, struct mtasts_policy *out, char **error_r);

/* --- Matching (§4.1) --- */

/* Whether an MX host name matches one pattern (as stored in a policy):
 * ASCII case-insensitive, a trailing dot on the host ignored, "*.example.com"
 * matching exactly one more non-empty leftmost label. */
bool mtasts_pattern_matches(const char *pattern, struct str host);
/* Whether any of the policy's patterns matches (false for a policy
 * without patterns, as mode none may be). */
bool mtasts_mx_matches(const struct mtasts_policy *p, struct str host);

/* Whether cert is valid for host by subjectAltName dNSName, a wildcard only
 * as the whole leftmost label (§4.2, RFC 6125). Only the name: the chain is
 * the TLS layer's to verify. */
bool mtasts_cert_matches_host(X509 *cert, const char *host);

/* --- The HTTP response to the policy fetch (§3.3) --- */

/* The response is read here, without I/O, so that it is fuzzed with the
 * rest: HTTP/1.0 and 1.1, a status line and header fields (CRLF or bare LF)
 * within MTASTS_HTTP_HEAD_MAX bytes, interim 1xx responses skipped, and a
 * body framed by Content-Length, chunked Transfer-Encoding (the only coding
 * accepted: we ask for no other) or the end of the connection. Only a 200's
 * body is read: any other status is complete at the end of its header, as
 * nothing in its body could change the outcome. A body past
 * MTASTS_POLICY_MAX is refused as soon as it is known to be (an announced
 * Content-Length, a chunk size). */
#define MTASTS_HTTP_HEAD_MAX 16384
#define MTASTS_HTTP_LINE_MAX 8192
#define MTASTS_HTTP_MAX_FIELDS 100

enum mtasts_http_status {
    MTASTS_HTTP_NEED_MORE = 0,
    MTASTS_HTTP_DONE,       /* r->status, r->content_type and r->body are set */
    MTASTS_HTTP_ERROR,      /* malformed: *error_r says why */
    MTASTS_HTTP_TOO_LARGE,  /* a 200 whose body passes MTASTS_POLICY_MAX */
};

struct mtasts_http_reader {
    int state;
    struct linereader lr;
    size_t head_bytes;         /* of every head read, interim ones included */
    int nfields;
    int status;                /* 200, 404, ... */
    struct buf content_type;   /* the field's value, "" when absent */
    struct buf body;           /* a 200's body, chunked coding undone */
    bool seen_content_type, has_length, chunked;
    unsigned long long length; /* Content-Length */
    unsigned long long left;   /* bytes left in the body or the chunk */
    enum mtasts_http_status final; /* once DONE or failed, the answer */
    const char *error;
};

void mtasts_http_reader_init(struct mtasts_http_reader *r);
void mtasts_http_reader_free(struct mtasts_http_reader *r);
/* Takes bytes from the front of *in. Once DONE (or an error) it takes no
 * more bytes and answers the same. */
enum mtasts_http_status mtasts_http_read(struct mtasts_http_reader *r, struct str *in,
                                         const char **error_r);
/* The connection ended. A body that runs to the end of the connection is
 * complete only when the end was a clean one (TLS close_notify: `clean`),
 * so an attacker cannot cut a policy short; any other unfinished response
 * is an error. */
enum mtasts_http_status mtasts_http_eof(struct mtasts_http_reader *r, bool clean,
                                        const char **error_r);

/* Whether a Content-Type value is text/plain, parameters allowed (§3.3). */
bool mtasts_content_type_ok(struct str value);

#endif
