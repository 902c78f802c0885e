/*
 * core/dns_parse.h — reading DNS answers: the wire-format message libunbound
 * hands back, the records in it, and the names inside their rdata.
 *
 * Private to core/dns, its unit test and its fuzz target. Pure functions on
 * bytes: no libunbound, no I/O, no clock, so every byte of a hostile answer
 * goes through code that the fuzzer reaches. Every read is bounds-checked;
 * names may be compressed (RFC 1035 §4.1.4) but only by pointers to earlier
 * bytes, so no name loops. A record that does not parse is left out of the
 * result; a message that does not parse makes the lookup a temporary failure.
 *
 * Names come out lowercase, without the trailing dot ("" for the root), and
 * only when every byte of every label is printable ASCII other than '.' and
 * '\': a host name a mail server may connect to or compare, never one that
 * would need escaping to be shown.
 *
 * Owns: nothing (results live in the caller's arena). Never logs.
 */
#ifndef OUTPOST_CORE_DNS_PARSE_H
#define OUTPOST_CORE_DNS_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/arena.h"
#include "core/dns.h"

/* A name in text: 253 characters at most (255 octets on the wire), a NUL. */
#define DNS_NAME_TEXT_MAX 254
/* "f.e.d. ... .ip6.arpa": 32 nibbles and dots, "ip6.arpa", a NUL. */
#define DNS_PTR_QNAME_MAX 73

enum {
    DNS_TYPE_A = 1,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_TLSA = 52,
};

enum {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
};

/* One record of the answer section. */
struct dns_rr {
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata;       /* offset of the rdata in the message */
};

/* A parsed answer: the records of the asked type owned by the name at the
 * end of the question's CNAME chain (as a resolver gives them). */
struct dns_msg {
    const uint8_t *p;
    size_t len;
    int rcode;          /* the header's RCODE */
    uint16_t qtype;
    struct dns_rr *rr;  /* in the order of the message */
    int n;
    uint32_t chain_ttl; /* the smallest TTL of the CNAMEs followed (UINT32_MAX: none) */
};

/* Parses a whole message whose question must be of type qtype (a reply to
 * another question is an error). Records live in arena a. Returns 0, or -1
 * with *error_r set to a static reason. */
int dns_msg_parse(struct arena *a, const uint8_t *p, size_t len, uint16_t qtype,
                  struct dns_msg *out, const char **error_r);

/* The rdata parsers: each returns 0, or -1 when the record is malformed (a
 * wrong length, a name running past the rdata, a name with bytes that cannot
 * be a host name) and should be left out. */
int dns_rdata_mx(const struct dns_msg *m, const struct dns_rr *rr, uint16_t *preference,
                 char host[DNS_NAME_TEXT_MAX]);
int dns_rdata_ptr(const struct dns_msg *m, const struct dns_rr *rr, char name[DNS_NAME_TEXT_MAX]);
/* family AF_INET needs 4 bytes of rdata, AF_INET6 16; port 0. */
int dns_rdata_addr(const struct dns_msg *m, const struct dns_rr *rr, int family,
                   struct sockaddr_storage *out);
/* The character-strings concatenated, NUL-terminated, in a. */
int dns_rdata_txt(struct arena *a, const struct dns_msg *m, const struct dns_rr *rr,
                  const char **txt, size_t *len);
/* data points into the message. */
int dns_rdata_tlsa(const struct dns_msg *m, const struct dns_rr *rr, struct dns_tlsa *out);

/* A name asked by a caller, made ready for the resolver: lowercase, one
 * trailing dot removed, at most 253 characters, labels of 1 to 63 bytes of
 * printable ASCII other than '\'. Returns NULL, or a static reason. */
const char *dns_name_normalize(const char *name, char out[DNS_NAME_TEXT_MAX]);

/* The reverse-lookup name of an address: "4.3.2.1.in-addr.arpa", 32
 * nibbles + "ip6.arpa"; an IPv4-mapped IPv6 address is taken as IPv4
 * (a dual-stack socket's view of an IPv4 peer). Returns 0, or -1 for
 * another family. */
int dns_ptr_qname(const struct sockaddr *sa, char out[DNS_PTR_QNAME_MAX]);

/* The results of one answer, as dns.c hands them to callers, built from a
 * parsed message without the DNSSEC status (the caller adds secure/bogus).
 * They live in a, except TLSA data, which points into the message. `name`
 * is the normalized name that was asked (the implicit MX). */
void dns_build_mx(struct arena *a, const struct dns_msg *m, const char *name,
                  struct dns_mx_result *r);
void dns_build_txt(struct arena *a, const struct dns_msg *m, struct dns_txt_result *r);
void dns_build_tlsa(struct arena *a, const struct dns_msg *m, struct dns_tlsa_result *r);
void dns_build_ptr(struct arena *a, const struct dns_msg *m, struct dns_ptr_result *r);
/* One family's addresses (AF_INET from an A answer, AF_INET6 from AAAA),
 * with that answer's status and ttl; secure4/secure6 left false. */
void dns_build_addrs(struct arena *a, const struct dns_msg *m, int family,
                     struct dns_addr_result *r);
/* Both families' results (each with its DNSSEC status applied) as one:
 * IPv6 first. OK when either has addresses, unless either is bogus (then
 * TEMPFAIL: a forged answer for one family taints the name); otherwise a
 * TEMPFAIL of either wins over NXDOMAIN, NXDOMAIN over NODATA. secure when
 * both are. */
void dns_merge_addrs(struct arena *a, const struct dns_addr_result *v6,
                     const struct dns_addr_result *v4, struct dns_addr_result *out);

/* The status of a message without records of its own: NXDOMAIN, NODATA or
 * TEMPFAIL by the RCODE (a.error set for TEMPFAIL). Used by the builders. */
void dns_answer_from_rcode(int rcode, struct dns_answer *a);

#endif
