/*
 * core/dns.h — asynchronous DNS lookups on the event loop, with DNSSEC.
 *
 * Outbound delivery (MX, A/AAAA, TLSA for DANE, TXT for MTA-STS) and later
 * the mail authentication checks ask here. libunbound does the work on our
 * own event base (its event API: no thread, no forked helper), so its
 * sockets and timers are libevent events and a lookup never blocks the
 * loop. It reads neither /etc/hosts nor /etc/resolv.conf.
 * Every answer carries its DNSSEC status as libunbound validated it against
 * the configured trust anchor: `secure` only for a validated chain, `bogus`
 * when validation failed (the answer must not be used for DANE, and a bogus
 * MX or address is a temporary failure).
 *
 * Where the answers come from is a setting ([dns] servers): empty means
 * libunbound resolves iteratively from the root itself (what a mail server
 * wants: its own validating resolver); otherwise the listed servers
 * ("IP" or "IP@PORT") are asked, which is how tests point outpost at a DNS
 * server on loopback serving test zones. [dns] trust_anchor is a file of
 * DS or DNSKEY records (Debian's /usr/share/dns/root.key by default); empty
 * turns validation off (then nothing is ever `secure`). With servers and an
 * anchor for a zone below the root (the tests' signed zones), names outside
 * the anchored zones come back insecure, not bogus.
 *
 * Answers are wire-format messages parsed by core/dns_parse (fuzzed): a
 * malformed record is left out, a malformed message is DNS_TEMPFAIL.
 *
 * Owns: the libunbound context and the callbacks' state. Never logs: the
 * caller that knows what the lookup was for logs its result.
 */
#ifndef OUTPOST_CORE_DNS_H
#define OUTPOST_CORE_DNS_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct dns;
struct dns_query;

struct dns_config {
    const char *servers;      /* "" or NULL: iterate from the root; else comma list */
    const char *trust_anchor; /* file of DS/DNSKEY records; "" or NULL: no validation */
    long long timeout_ms;     /* a lookup taking longer fails as DNS_TEMPFAIL (<= 0: 10 s) */
};

/* The [dns] settings of a loaded config. The default trust_anchor names
 * Debian's root key (package dns-root-data): when that file is missing,
 * validation is off rather than start-up failing; any other file named in
 * the config must exist (config validation says so). Strings point into
 * cfg; a relative path is relative to the config's directory, which callers
 * have entered. */
void dns_config_init(struct dns_config *out, const struct config *cfg);

enum dns_status {
    DNS_OK = 0,       /* records found (n > 0) */
    DNS_NODATA,       /* the name exists, no record of this type */
    DNS_NXDOMAIN,     /* the name does not exist */
    DNS_TEMPFAIL,     /* SERVFAIL, timeout, network failure, bogus answer */
    DNS_PERMFAIL,     /* a name that cannot be asked (too long, bad label) */
};

/* What every lookup reports besides its records. */
struct dns_answer {
    enum dns_status status;
    bool secure;              /* DNSSEC-validated (a secure NODATA/NXDOMAIN too) */
    bool bogus;               /* validation failed; status is DNS_TEMPFAIL */
    uint32_t ttl;             /* the smallest TTL of the records (0 when none) */
    const char *error;        /* for TEMPFAIL/PERMFAIL: why, one line */
};

struct dns_mx {
    uint16_t preference;
    const char *host;         /* lowercase, no trailing dot; "" for the null MX's "." */
};

struct dns_mx_result {
    struct dns_answer a;
    /* Sorted by preference; equal preferences in random order (RFC 5321 §5.1). */
    struct dns_mx *mx;
    int n;
    /* RFC 7505: the one record "0 ." — the domain takes no mail. Status OK,
     * n 1, host "". An MX set of nothing but "." records counts too; a "."
     * among real hosts is left out (it is no host). */
    bool null_mx;
    /* The name has no MX (NODATA): status OK, n 1, mx holds the domain
     * itself with preference 0 (RFC 5321 §5.1). NXDOMAIN stays NXDOMAIN. */
    bool implicit;
};

struct dns_addr_result {
    struct dns_answer a;      /* OK when either family has an address */
    /* IPv6 first, then IPv4 (or as asked); ports are 0. */
    struct sockaddr_storage *addrs;
    int n;
    bool secure4, secure6;    /* each family's own DNSSEC status */
};

struct dns_txt_result {
    struct dns_answer a;
    /* Each record's character-strings concatenated (RFC 7208 §3.3);
     * NUL-terminated, with lens[] for binary content. */
    const char **txt;
    const size_t *lens;
    int n;
};

struct dns_tlsa {
    uint8_t usage, selector, mtype;
    const unsigned char *data;
    size_t len;
};

struct dns_tlsa_result {
    struct dns_answer a;
    struct dns_tlsa *tlsa;
    int n;
};

struct dns_ptr_result {
    struct dns_answer a;
    const char **names;       /* lowercase, no trailing dot */
    int n;
};

/* Results and everything they point to live until the callback returns.
 * A callback may start lookups, cancel others or free the resolver;
 * cancelling its own lookup does nothing. */
typedef void (*dns_mx_fn)(void *ctx, const struct dns_mx_result *r);
typedef void (*dns_addr_fn)(void *ctx, const struct dns_addr_result *r);
typedef void (*dns_txt_fn)(void *ctx, const struct dns_txt_result *r);
typedef void (*dns_tlsa_fn)(void *ctx, const struct dns_tlsa_result *r);
typedef void (*dns_ptr_fn)(void *ctx, const struct dns_ptr_result *r);

/* Returns NULL with *error_r allocated (a bad server address, an unreadable
 * trust anchor). */
struct dns *dns_new(struct event_base *base, const struct dns_config *cfg, char **error_r);
/* Cancels every outstanding lookup (their callbacks never run). Before the
 * event base is freed: libunbound's events live on it. */
void dns_free(struct dns *d);

/* Each call returns a handle for dns_cancel, or NULL when the callback has
 * already run (an invalid name answers at once with DNS_PERMFAIL). Callbacks
 * run on the loop thread, never inside the call that started the lookup
 * unless that call returned NULL. Names are domain names in A-label form,
 * with or without the trailing dot; host names in results are lowercase,
 * without it, and printable ASCII (a record naming anything else is left
 * out). */
struct dns_query *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_fn cb, void *ctx);
/* family: AF_UNSPEC (both, in parallel), AF_INET or AF_INET6. */
struct dns_query *dns_lookup_addr(struct dns *d, const char *host, int family, dns_addr_fn cb,
                                  void *ctx);
struct dns_query *dns_lookup_txt(struct dns *d, const char *name, dns_txt_fn cb, void *ctx);
/* name: "_25._tcp.mx.example.org" */
struct dns_query *dns_lookup_tlsa(struct dns *d, const char *name, dns_tlsa_fn cb, void *ctx);
/* An IPv4-mapped IPv6 address is looked up as the IPv4 address. */
struct dns_query *dns_lookup_ptr(struct dns *d, const struct sockaddr *addr, dns_ptr_fn cb,
                                 void *ctx);
/* The callback will not run. */
void dns_cancel(struct dns_query *q);

/* Lookups in flight (tests, shutdown). */
int dns_pending(const struct dns *d);

const char *dns_status_name(enum dns_status s);

#endif
