/*
 * mailauth/spf.h — SPF (RFC 7208): check_host() for the MAIL FROM and HELO
 * identities of an inbound SMTP session.
 *
 * The evaluation is a state machine that never does I/O itself: it asks for
 * DNS answers through a struct spf_resolver (TXT, A, AAAA, MX, PTR), whose
 * functions answer through a callback, either later from the event loop
 * (spf_resolver_core_dns: core/dns) or at once, inside the call (the tests'
 * in-memory zones). One lookup is in flight at a time: SPF's semantics are
 * sequential (the first matching mechanism wins, and the lookup limits
 * count in record order), and a check asks few questions.
 *
 * What the RFC says, and where it leaves room (each has a case in the RFC's
 * test suite, tests/data/spf/, run by tests/integration/test_spf_suite.py):
 *
 * - The identity (§2.3, §2.4, §4.3): MAIL FROM's domain, or the HELO name
 *   when MAIL FROM is the null path (then the sender is postmaster@HELO). A
 *   sender without a local-part gets "postmaster". A domain that is not a
 *   multi-label name (labels 1..63 bytes, the last one a valid top label,
 *   253 bytes at most, an address literal is not one) is SPF_NONE without
 *   any lookup; so is NXDOMAIN, or no record.
 * - Records (§4.5): only TXT is asked (type SPF is gone). A record is one
 *   whose text starts with "v=spf1" (any case) followed by a space or its
 *   end; its character-strings are joined with nothing between them. Two
 *   records: permerror. A record with any byte outside printable ASCII and
 *   space (control characters, tabs, NUL, UTF-8): permerror. Other TXT
 *   records at the name are ignored, whatever their bytes.
 * - Syntax (§4.6, §5, §6, §12): the whole record is parsed before any term
 *   is evaluated, so an error anywhere is permerror even after a match would
 *   have been found. Terms are separated by one or more spaces; names are
 *   case-insensitive. Unknown mechanisms, a modifier name not starting with
 *   a letter, a macro error, CIDR lengths out of range or with leading
 *   zeros, "a/24/64" (the IPv6 length needs "//"), a domain-spec that does
 *   not end in a valid top label or a macro, an IP literal that is not
 *   exactly one, a repeated redirect= or exp=: all permerror. Unknown
 *   modifiers are ignored, but their value must still be a macro-string.
 *   A trailing "/N" or "/N//M" on a domain-spec is the CIDR length, and
 *   include/exists/redirect/exp take none (so "include:x.example/24" is a
 *   bad domain).
 * - Evaluation (§4.6.4, §5): the 10-term limit counts include, a, mx, ptr,
 *   exists and redirect when they are evaluated, not when they are parsed
 *   (so a record whose 11th such term comes after the match passes); the
 *   11th is permerror. Void lookups (NXDOMAIN or no data) of those terms'
 *   own queries: the 3rd is permerror. An mx answer of more than 10 names
 *   is permerror; a ptr or %{p} answer past 10 names is cut to 10. MX and
 *   PTR target names are looked up for the client's family only (A for an
 *   IPv4 client, AAAA for IPv6); no implicit MX (§5.4). An IPv4-mapped
 *   IPv6 client is treated as the IPv4 address everywhere.
 * - DNS errors (§2.6.6, §5): a timeout or server failure of any lookup
 *   except the ones below ends the check with temperror. PTR lookups and
 *   the address lookups that validate PTR names (ptr, %{p}) skip the name
 *   or fail to match instead (§5.5, §7.3); an explanation that cannot be
 *   fetched is left out (§6.2). A name that cannot exist (an empty label, a
 *   label over 63 bytes) is not asked: it is a void answer.
 * - include (§5.2): pass matches; fail, softfail and neutral do not;
 *   temperror is temperror; permerror and none are permerror. redirect
 *   (§6.1): only when no mechanism matched; the target's result is the
 *   result, none becoming permerror.
 * - exp (§6.2): fetched only for a final fail, from the record whose "-"
 *   mechanism matched (an include's exp is never used; redirect's target
 *   brings its own). No TXT, several, a DNS error, a macro error or
 *   non-ASCII text: no explanation (the caller's default applies).
 * - Macros (§7): s l o d i p v h everywhere, c r t in explanations only.
 *   Transformers: a non-zero digit count (0 is a syntax error; more than
 *   there are means all) and "r"; delimiters . - + , / _ =; an uppercase
 *   letter URL-escapes its value (unreserved characters kept). %{i} of an
 *   IPv6 client is 32 dot-separated uppercase nibbles (as pyspf, and the
 *   test suite's explanations, have it); %{c} is RFC 5952 text. %{p} is the
 *   validated name of the client (the domain itself, else a subdomain of
 *   it, else the first), "unknown" when none; its lookups are not counted.
 *   An expanded name longer than 253 bytes loses labels from the left
 *   (§7.3); a trailing dot is dropped before the lookup.
 *
 * Owns: each check's copies of its inputs, records and names, freed by
 * spf_check_free. Never logs: the caller logs the outcome.
 */
#ifndef OUTPOST_MAILAUTH_SPF_H
#define OUTPOST_MAILAUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/str.h"

#define SPF_MAX_DNS_TERMS 10   /* §4.6.4 */
#define SPF_MAX_VOID 2         /* §4.6.4 */
#define SPF_MAX_NAMES 10       /* §4.6.4: MX names, PTR names */
#define SPF_MAX_RECORD 4096    /* longer TXT answers are a permerror */
#define SPF_MAX_NAME 253

enum spf_result {
    SPF_NONE = 0,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror":
 * the words of Received-SPF and Authentication-Results. */
const char *spf_result_name(enum spf_result r);

/* An address as SPF sees it: family AF_INET (4 bytes used) or AF_INET6. */
struct spf_ip {
    int family;
    unsigned char addr[16];
};

/* Parses "192.0.2.1" or "2001:db8::1"; an IPv4-mapped IPv6 address becomes
 * the IPv4 address. Returns 0 or -1. */
int spf_ip_parse(const char *text, struct spf_ip *out);

/* --- The DNS a check asks through --- */

enum spf_dns_status {
    SPF_DNS_OK = 0,       /* n records (n may be 0: treated as NODATA) */
    SPF_DNS_NODATA,
    SPF_DNS_NXDOMAIN,
    SPF_DNS_TEMPFAIL,     /* timeout, SERVFAIL, bogus DNSSEC, anything else */
};

/* An answer, valid only during the callback. */
struct spf_dns_answer {
    enum spf_dns_status status;
    int n;
    /* TXT: each record's character-strings joined, with lens[] (a record may
     * hold NUL bytes). MX: exchange names in preference order ("" for a
     * null MX). PTR: names. Names with or without the trailing dot. */
    const char *const *strings;
    const size_t *lens;             /* TXT only; NULL means strlen */
    /* A: 4 bytes per address, AAAA: 16, packed. */
    const unsigned char *addrs;
};

typedef void (*spf_dns_fn)(void *arg, const struct spf_dns_answer *a);

/* Each lookup function starts a lookup and returns a handle for cancel, or
 * NULL after calling cb already (inside the call). cb runs exactly once,
 * unless cancelled. Names are passed without a trailing dot. */
struct spf_resolver {
    void *ctx;
    void *(*txt)(void *ctx, const char *name, spf_dns_fn cb, void *arg);
    void *(*a)(void *ctx, const char *name, spf_dns_fn cb, void *arg);
    void *(*aaaa)(void *ctx, const char *name, spf_dns_fn cb, void *arg);
    void *(*mx)(void *ctx, const char *name, spf_dns_fn cb, void *arg);
    void *(*ptr)(void *ctx, const struct spf_ip *ip, spf_dns_fn cb, void *arg);
    void (*cancel)(void *ctx, void *handle);
};

struct dns;
/* The adapter for core/dns (mailauth/spf_dns.c): the resolver's functions
 * use d, which must outlive every check using it. dns_lookup_addr answers
 * A and AAAA by family; an implicit MX becomes NODATA (§5.4), a null MX the
 * name "". */
void spf_resolver_core_dns(struct spf_resolver *out, struct dns *d);

/* --- A check --- */

struct spf_request {
    struct spf_ip ip;         /* the SMTP client */
    const char *helo;         /* the HELO/EHLO argument (may be NULL: "") */
    /* MAIL FROM's reverse-path without <>; NULL or "" checks the HELO
     * identity (§2.3: sender postmaster@HELO). */
    const char *mail_from;
    const char *receiver;     /* %{r}: our host name; NULL means "unknown" */
    time_t now;               /* %{t}; 0 means time(NULL) */
};

struct spf_outcome {
    enum spf_result result;
    bool helo_identity;       /* the HELO name was checked (null MAIL FROM) */
    const char *domain;       /* the identity's domain */
    const char *sender;       /* the sender checked: local@domain */
    /* The mechanism that decided ("-all", "include:x"), "default" when
     * none matched, or NULL (none/errors). */
    const char *mechanism;
    /* fail with a usable exp=: the expanded explanation; else NULL. */
    const char *explanation;
    /* temperror/permerror/none: why, one line; else NULL. */
    const char *problem;
    int dns_terms;            /* terms counted against the limit of 10 */
    int void_lookups;
};

struct spf_check;
typedef void (*spf_done_fn)(void *arg, const struct spf_outcome *o);

/* Starts a check and returns it (never NULL; the caller frees it). done
 * runs exactly once with the outcome, unless the check is freed first:
 * later from the loop, where it may free the check (the outcome is then
 * gone), or inside this call when the resolver answers synchronously (done
 * may be NULL then: read spf_check_outcome after the call). The outcome
 * lives as long as the check. The request's strings are copied. */
struct spf_check *spf_check_start(const struct spf_request *req, const struct spf_resolver *res,
                                  spf_done_fn done, void *arg);
/* NULL while the check runs. */
const struct spf_outcome *spf_check_outcome(const struct spf_check *c);
/* Cancels its lookup in flight; done will not run. */
void spf_check_free(struct spf_check *c);

/* --- Pieces, public for the fuzz target and the unit tests --- */

struct spf_record;
/* Parses one record (its text after joining, "v=spf1 ..."). Returns NULL
 * with *error_r (static text) on a syntax error: that is a permerror. */
struct spf_record *spf_record_parse(const char *text, size_t len, const char **error_r);
void spf_record_free(struct spf_record *r);
/* Terms in the record (mechanisms, then redirect/exp if present). */
int spf_record_terms(const struct spf_record *r);

/* The macro variables of §7.3. */
struct spf_macro_vars {
    const char *sender;       /* s */
    const char *local;        /* l */
    const char *sender_domain;/* o */
    const char *domain;       /* d */
    struct spf_ip ip;         /* i, c, v */
    const char *ptr_name;     /* p ("unknown" when NULL) */
    const char *helo;         /* h */
    const char *receiver;     /* r */
    time_t now;               /* t */
};

/* Expands a macro-string into out (capped at SPF_MAX_RECORD). explanation
 * allows c, r and t. Returns 0, or -1 with *error_r on a syntax error. */
int spf_macro_expand(struct str spec, const struct spf_macro_vars *v, bool explanation,
                     struct buf *out, const char **error_r);

/* --- Headers --- */

/* The Authentication-Results method fragment (RFC 8601 §2.7.2):
 * "spf=pass smtp.mailfrom=user@example.org" or "spf=none smtp.helo=host",
 * with a reason comment for errors. Appended to out. */
void spf_auth_results(const struct spf_outcome *o, struct buf *out);
/* A Received-SPF field value (RFC 7208 §9.1), without the field name:
 * "pass (receiver: domain of ... designates ...) client-ip=...; ..." */
void spf_received_spf(const struct spf_outcome *o, const struct spf_request *req,
                      struct buf *out);

#endif
