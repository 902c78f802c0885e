/*
 * Unit tests for core/dns_parse.h: DNS messages as libunbound hands them
 * back, built here byte by byte (names plain and compressed, broken in the
 * ways a hostile server would break them), and the results made of them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/arena.h"
#include "core/dns_parse.h"
#include "test.h"

/* ---- a message builder ---- */

struct pkt {
    uint8_t b[8192];
    size_t len;
};

static void put8(struct pkt *p, unsigned v)
{
    p->b[p->len++] = (uint8_t)v;
}

static void put16(struct pkt *p, unsigned v)
{
    put8(p, v >> 8);
    put8(p, v & 0xFF);
}

static void put32(struct pkt *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p, v & 0xFFFF);
}

static void putbytes(struct pkt *p, const void *d, size_t n)
{
    memcpy(p->b + p->len, d, n);
    p->len += n;
}

/* "a.b.c" as labels with the root label; "" is the root alone. A label
 * "@NNN" is instead a compression pointer to offset NNN (and ends the name). */
static void putname(struct pkt *p, const char *name)
{
    const char *s = name;
    while (*s) {
        if (*s == '@') {
            unsigned off = (unsigned)atoi(s + 1);
            put16(p, 0xC000 | off);
            return;
        }
        size_t n = strcspn(s, ".");
        put8(p, (unsigned)n);
        putbytes(p, s, n);
        s += n;
        if (*s == '.')
            s++;
    }
    put8(p, 0);
}

/* Header and question; the question's name starts at offset 12. */
static void msg_start(struct pkt *p, int rcode, int qd, int an, const char *qname, unsigned qtype)
{
    p->len = 0;
    put16(p, 0x1234);
    put16(p, 0x8180 | (unsigned)rcode); /* QR RD RA */
    put16(p, (unsigned)qd);
    put16(p, (unsigned)an);
    put16(p, 0);
    put16(p, 0);
    if (qd) {
        putname(p, qname);
        put16(p, qtype);
        put16(p, 1);
    }
}

/* Starts a record; returns where its RDLENGTH goes (rr_end fills it). */
static size_t rr_start(struct pkt *p, const char *owner, unsigned type, uint32_t ttl)
{
    putname(p, owner);
    put16(p, type);
    put16(p, 1);
    put32(p, ttl);
    size_t at = p->len;
    put16(p, 0);
    return at;
}

static void rr_end(struct pkt *p, size_t at)
{
    size_t n = p->len - at - 2;
    p->b[at] = (uint8_t)(n >> 8);
    p->b[at + 1] = (uint8_t)n;
}

static void add_mx(struct pkt *p, const char *owner, unsigned pref, const char *host, uint32_t ttl)
{
    size_t at = rr_start(p, owner, DNS_TYPE_MX, ttl);
    put16(p, pref);
    putname(p, host);
    rr_end(p, at);
}

static void add_raw(struct pkt *p, const char *owner, unsigned type, const void *rdata, size_t n,
                    uint32_t ttl)
{
    size_t at = rr_start(p, owner, type, ttl);
    putbytes(p, rdata, n);
    rr_end(p, at);
}

static void add_name_rr(struct pkt *p, const char *owner, unsigned type, const char *target,
                        uint32_t ttl)
{
    size_t at = rr_start(p, owner, type, ttl);
    putname(p, target);
    rr_end(p, at);
}

static int parse(struct arena *a, const struct pkt *p, unsigned qtype, struct dns_msg *m,
                 const char **err)
{
    *err = NULL;
    return dns_msg_parse(a, p->b, p->len, (uint16_t)qtype, m, err);
}

/* ---- names asked ---- */

static void test_name_normalize(void)
{
    char l63[64], l64[65], n253[254], n254[255];
    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'a', 64);
    l64[64] = '\0';
    /* 4 x 63 + 1: 253 characters in labels of at most 63. */
    snprintf(n253, sizeof(n253), "%s.%s.%s.%.61s", l63, l63, l63, l63);
    snprintf(n254, sizeof(n254), "%s.%s.%s.%.62s", l63, l63, l63, l63);
    char n253dot[256];
    snprintf(n253dot, sizeof(n253dot), "%s.", n253);
    static char l63_expect[80];
    snprintf(l63_expect, sizeof(l63_expect), "%s.test", l63);
    char l63_in[80], l64_in[80];
    snprintf(l63_in, sizeof(l63_in), "%s.test", l63);
    snprintf(l64_in, sizeof(l64_in), "%s.test", l64);
    const struct {
        const char *in;
        const char *out; /* NULL: refused */
    } cases[] = {
        { "example.test", "example.test" },
        { "Example.TEST.", "example.test" },
        { "MX1.example.test", "mx1.example.test" },
        { "_25._tcp.mx.example.test", "_25._tcp.mx.example.test" },
        { "xn--bcher-kva.example", "xn--bcher-kva.example" },
        { "localhost", "localhost" },
        { l63_in, l63_expect },
        { n253, n253 },
        { n253dot, n253 },
        { "", NULL },
        { ".", NULL },
        { "..", NULL },
        { "a..b", NULL },
        { ".a", NULL },
        { "a.b..", NULL },
        { l64_in, NULL },
        { n254, NULL },
        { "a b.test", NULL },
        { "a\tb.test", NULL },
        { "back\\slash.test", NULL },
        { "b\xc3\xbc" "cher.example", NULL },
        { "del\x7f.test", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[DNS_NAME_TEXT_MAX];
        const char *why = dns_name_normalize(cases[i].in, out);
        if (cases[i].out) {
            if (why)
                fprintf(stderr, "  case %zu: %s\n", i, why);
            CHECK(why == NULL);
            if (!why)
                CHECK_STR(out, cases[i].out);
        } else {
            if (!why)
                fprintf(stderr, "  case %zu accepted\n", i);
            CHECK(why != NULL);
        }
    }
}

static void test_ptr_qname(void)
{
    const struct {
        const char *ip;
        const char *name;
    } cases[] = {
        { "192.0.2.1", "1.2.0.192.in-addr.arpa" },
        { "10.0.0.255", "255.0.0.10.in-addr.arpa" },
        { "0.0.0.0", "0.0.0.0.in-addr.arpa" },
        { "2001:db8::1",
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" },
        { "fd00::abcd:ef01",
          "1.0.f.e.d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa" },
        { "::ffff:10.0.0.1", "1.0.0.10.in-addr.arpa" },
        { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
          "f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.f.ip6.arpa" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, cases[i].ip, &s4->sin_addr) == 1)
            s4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, cases[i].ip, &s6->sin6_addr) == 1)
            s6->sin6_family = AF_INET6;
        char out[DNS_PTR_QNAME_MAX];
        CHECK_INT(dns_ptr_qname((struct sockaddr *)&ss, out), 0);
        CHECK_STR(out, cases[i].name);
        CHECK(strlen(out) < DNS_PTR_QNAME_MAX);
    }
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    char out[DNS_PTR_QNAME_MAX];
    CHECK_INT(dns_ptr_qname((struct sockaddr *)&un, out), -1);
}

/* ---- messages ---- */

static void test_malformed_messages(void)
{
    struct arena *a = arena_new(0);
    struct pkt p;
    struct dns_msg m;
    const char *err;

    /* Shorter than a header. */
    p.len = 11;
    memset(p.b, 0, 11);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);
    CHECK_STR(err, "truncated DNS message");

    /* No question. */
    msg_start(&p, 0, 0, 0, "", DNS_TYPE_MX);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* Two questions. */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_MX);
    p.b[5] = 2;
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* The answer to another question. */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_A);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);
    CHECK_STR(err, "DNS answer to another question");

    /* The question cut short. */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_MX);
    p.len -= 3;
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* More answers announced than there are. */
    msg_start(&p, 0, 1, 3, "example.test", DNS_TYPE_MX);
    add_mx(&p, "@12", 10, "mx.example.test", 300);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* An answer count that could never fit (the allocation is bounded). */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_MX);
    p.b[6] = 0xFF;
    p.b[7] = 0xFF;
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* RDLENGTH past the end. */
    msg_start(&p, 0, 1, 1, "example.test", DNS_TYPE_MX);
    add_mx(&p, "@12", 10, "mx.example.test", 300);
    p.len -= 2;
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* Compression pointers: to itself, forwards, past the end, in a loop. */
    const char *owners[] = { "@29", "@40", "@4000", "x.@29" };
    for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
        msg_start(&p, 0, 1, 1, "example.test", DNS_TYPE_MX); /* question ends at 30 */
        add_mx(&p, owners[i], 10, "mx.example.test", 300);
        CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);
    }

    /* Label types 0x40 and 0x80 are not names. */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_MX);
    p.b[12] = 0x41;
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* A name longer than 255 octets on the wire. */
    char longname[400] = "";
    for (int i = 0; i < 5; i++)
        strcat(longname, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(longname, "test");
    msg_start(&p, 0, 1, 0, longname, DNS_TYPE_MX);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);

    /* A CNAME loop. */
    msg_start(&p, 0, 1, 2, "a.test", DNS_TYPE_MX);
    add_name_rr(&p, "a.test", DNS_TYPE_CNAME, "b.test", 300);
    add_name_rr(&p, "b.test", DNS_TYPE_CNAME, "a.test", 300);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);
    CHECK_STR(err, "CNAME chain too long");

    /* A CNAME whose target runs past its rdata. */
    msg_start(&p, 0, 1, 1, "a.test", DNS_TYPE_MX);
    size_t at = rr_start(&p, "a.test", DNS_TYPE_CNAME, 300);
    putname(&p, "b.test");
    rr_end(&p, at);
    p.b[at + 1] -= 2;
    put16(&p, 0); /* keeps the message long enough */
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), -1);
    arena_free(a);
}

static void test_records_and_chain(void)
{
    struct arena *a = arena_new(0);
    struct pkt p;
    struct dns_msg m;
    const char *err;

    /* Owner and exchange compressed against the question (offset 12),
     * records of other types, classes and owners left out. */
    msg_start(&p, 0, 1, 5, "Example.TEST", DNS_TYPE_MX);
    add_mx(&p, "@12", 10, "mx1.@12", 300);
    add_mx(&p, "example.test", 20, "MX2.Example.Test", 200);
    add_raw(&p, "@12", DNS_TYPE_A, "\xc0\x00\x02\x01", 4, 60);
    add_mx(&p, "other.test", 5, "mx.other.test", 300);
    size_t at = rr_start(&p, "@12", DNS_TYPE_MX, 300);
    p.b[at - 5] = 3; /* class CH */
    put16(&p, 1);
    putname(&p, "chaos.test");
    rr_end(&p, at);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), 0);
    CHECK_INT(m.rcode, 0);
    CHECK_INT(m.n, 2);
    uint16_t pref;
    char host[DNS_NAME_TEXT_MAX];
    CHECK_INT(dns_rdata_mx(&m, &m.rr[0], &pref, host), 0);
    CHECK_INT(pref, 10);
    CHECK_STR(host, "mx1.example.test");
    CHECK_INT(dns_rdata_mx(&m, &m.rr[1], &pref, host), 0);
    CHECK_INT(pref, 20);
    CHECK_STR(host, "mx2.example.test");
    CHECK_INT(m.rr[1].ttl, 200);
    CHECK_INT(m.chain_ttl, UINT32_MAX);

    /* A CNAME chain: the records are the last name's. */
    msg_start(&p, 0, 1, 4, "www.example.test", DNS_TYPE_A);
    add_name_rr(&p, "@12", DNS_TYPE_CNAME, "web.example.test", 100);
    add_name_rr(&p, "web.example.test", DNS_TYPE_CNAME, "host.example.test", 50);
    add_raw(&p, "www.example.test", DNS_TYPE_A, "\x01\x01\x01\x01", 4, 300);
    add_raw(&p, "HOST.example.test", DNS_TYPE_A, "\xc0\x00\x02\x07", 4, 300);
    CHECK_INT(parse(a, &p, DNS_TYPE_A, &m, &err), 0);
    CHECK_INT(m.n, 1);
    CHECK_INT(m.chain_ttl, 50);
    struct sockaddr_storage ss;
    CHECK_INT(dns_rdata_addr(&m, &m.rr[0], AF_INET, &ss), 0);
    CHECK_INT(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0xC0000207);
    CHECK_INT(((struct sockaddr_in *)&ss)->sin_port, 0);
    CHECK_INT(dns_rdata_addr(&m, &m.rr[0], AF_INET6, &ss), -1);

    /* NXDOMAIN and SERVFAIL come through as RCODEs. */
    msg_start(&p, DNS_RCODE_NXDOMAIN, 1, 0, "nx.test", DNS_TYPE_MX);
    CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), 0);
    CHECK_INT(m.rcode, DNS_RCODE_NXDOMAIN);
    CHECK_INT(m.n, 0);
    arena_free(a);
}

/* Each MX rdata alone: what parses and what is left out. */
static void test_mx_rdata(void)
{
    const struct {
        const char *what;
        const char *rdata;
        size_t len;
        int result;
        const char *host;
    } cases[] = {
        { "plain", "\x00\x0a\x02mx\x04test\x00", 11, 0, "mx.test" },
        { "upper case", "\x00\x0a\x02MX\x04TeSt\x00", 11, 0, "mx.test" },
        { "root", "\x00\x00\x00", 3, 0, "" },
        { "underscore", "\x00\x01\x03m_x\x00", 7, 0, "m_x" },
        { "too short", "\x00\x0a", 2, -1, NULL },
        { "no name", "\x00\x0a\x02mx", 5, -1, NULL },
        { "junk after the name", "\x00\x0a\x02mx\x00\x00", 7, -1, NULL },
        { "a dot in a label", "\x00\x0a\x03m.x\x00", 7, -1, NULL },
        { "a space in a label", "\x00\x0a\x03m x\x00", 7, -1, NULL },
        { "a NUL in a label", "\x00\x0a\x03m\0x\x00", 7, -1, NULL },
        { "a backslash", "\x00\x0a\x03m\\x\x00", 7, -1, NULL },
        { "8-bit", "\x00\x0a\x03m\xe9x\x00", 7, -1, NULL },
        { "pointer forwards", "\x00\x0a\xc0\x40", 4, -1, NULL },
        { "label past rdata", "\x00\x0a\x09mx\x00", 6, -1, NULL },
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p;
        struct dns_msg m;
        const char *err;
        msg_start(&p, 0, 1, 1, "example.test", DNS_TYPE_MX);
        add_raw(&p, "@12", DNS_TYPE_MX, cases[i].rdata, cases[i].len, 300);
        CHECK_INT(parse(a, &p, DNS_TYPE_MX, &m, &err), 0);
        CHECK_INT(m.n, 1);
        if (m.n != 1)
            continue;
        uint16_t pref;
        char host[DNS_NAME_TEXT_MAX];
        int r = dns_rdata_mx(&m, &m.rr[0], &pref, host);
        if (r != cases[i].result)
            fprintf(stderr, "  %s: %d\n", cases[i].what, r);
        CHECK_INT(r, cases[i].result);
        if (r == 0 && cases[i].host)
            CHECK_STR(host, cases[i].host);
    }
    arena_free(a);
}

static void test_txt_tlsa_ptr_rdata(void)
{
    struct arena *a = arena_new(0);
    const struct {
        const char *what;
        const char *rdata;
        size_t len;
        int result;
        const char *text;
        size_t textlen;
    } txt[] = {
        { "one string", "\x05hello", 6, 0, "hello", 5 },
        { "strings joined", "\x07v=spf1 \x04-all", 13, 0, "v=spf1 -all", 11 },
        { "empty string", "\x00", 1, 0, "", 0 },
        { "empty strings", "\x00\x00\x02" "ab\x00", 5, 0, "ab", 2 },
        { "a NUL inside", "\x03" "a\0b", 4, 0, "a\0b", 3 },
        { "no string", "", 0, -1, NULL, 0 },
        { "length past the end", "\x05hell", 5, -1, NULL, 0 },
        { "second past the end", "\x01" "a\x02" "b", 4, -1, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof(txt) / sizeof(txt[0]); i++) {
        struct pkt p;
        struct dns_msg m;
        const char *err;
        msg_start(&p, 0, 1, 1, "t.test", DNS_TYPE_TXT);
        add_raw(&p, "@12", DNS_TYPE_TXT, txt[i].rdata, txt[i].len, 300);
        CHECK_INT(parse(a, &p, DNS_TYPE_TXT, &m, &err), 0);
        const char *out = NULL;
        size_t len = 0;
        int r = dns_rdata_txt(a, &m, &m.rr[0], &out, &len);
        if (r != txt[i].result)
            fprintf(stderr, "  txt %s: %d\n", txt[i].what, r);
        CHECK_INT(r, txt[i].result);
        if (r == 0) {
            CHECK_INT(len, txt[i].textlen);
            CHECK(memcmp(out, txt[i].text, len) == 0);
            CHECK(out[len] == '\0');
        }
    }

    /* TLSA: three octets and data. */
    uint8_t tl[35] = { 3, 1, 1 };
    for (int i = 0; i < 32; i++)
        tl[3 + i] = (uint8_t)i;
    const struct {
        size_t len;
        int result;
    } tlsa[] = { { 35, 0 }, { 4, 0 }, { 3, -1 }, { 0, -1 } };
    for (size_t i = 0; i < sizeof(tlsa) / sizeof(tlsa[0]); i++) {
        struct pkt p;
        struct dns_msg m;
        const char *err;
        msg_start(&p, 0, 1, 1, "_25._tcp.mx.test", DNS_TYPE_TLSA);
        add_raw(&p, "@12", DNS_TYPE_TLSA, tl, tlsa[i].len, 300);
        CHECK_INT(parse(a, &p, DNS_TYPE_TLSA, &m, &err), 0);
        struct dns_tlsa t;
        CHECK_INT(dns_rdata_tlsa(&m, &m.rr[0], &t), tlsa[i].result);
        if (tlsa[i].result == 0) {
            CHECK_INT(t.usage, 3);
            CHECK_INT(t.selector, 1);
            CHECK_INT(t.mtype, 1);
            CHECK_INT(t.len, tlsa[i].len - 3);
            CHECK(memcmp(t.data, tl + 3, t.len) == 0);
        }
    }

    /* PTR: one name filling the rdata, compressed or not. */
    struct pkt p;
    struct dns_msg m;
    const char *err;
    msg_start(&p, 0, 1, 2, "1.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
    add_name_rr(&p, "@12", DNS_TYPE_PTR, "Host.Example.Test", 300);
    add_name_rr(&p, "@12", DNS_TYPE_PTR, "mail.@16", 300); /* "mail.0.192..." */
    CHECK_INT(parse(a, &p, DNS_TYPE_PTR, &m, &err), 0);
    CHECK_INT(m.n, 2);
    char name[DNS_NAME_TEXT_MAX];
    CHECK_INT(dns_rdata_ptr(&m, &m.rr[0], name), 0);
    CHECK_STR(name, "host.example.test");
    CHECK_INT(dns_rdata_ptr(&m, &m.rr[1], name), 0);
    CHECK_STR(name, "mail.0.192.in-addr.arpa");
    arena_free(a);
}

/* ---- results ---- */

static void build_mx(struct arena *a, struct pkt *p, struct dns_mx_result *r)
{
    struct dns_msg m;
    const char *err;
    CHECK_INT(parse(a, p, DNS_TYPE_MX, &m, &err), 0);
    dns_build_mx(a, &m, "example.test", r);
}

static void test_mx_results(void)
{
    struct arena *a = arena_new(0);
    struct pkt p;
    struct dns_mx_result r;

    /* Sorted by preference; the smallest TTL. */
    msg_start(&p, 0, 1, 4, "example.test", DNS_TYPE_MX);
    add_mx(&p, "@12", 20, "c.test", 300);
    add_mx(&p, "@12", 10, "b.test", 100);
    add_mx(&p, "@12", 30, "d.test", 300);
    add_mx(&p, "@12", 5, "a.test", 3600);
    build_mx(a, &p, &r);
    CHECK_INT(r.a.status, DNS_OK);
    CHECK_INT(r.n, 4);
    CHECK(!r.null_mx && !r.implicit);
    CHECK_INT(r.a.ttl, 100);
    const char *order[] = { "a.test", "b.test", "c.test", "d.test" };
    for (int i = 0; i < 4 && i < r.n; i++)
        CHECK_STR(r.mx[i].host, order[i]);

    /* Equal preferences in random order: both orders show up. */
    msg_start(&p, 0, 1, 3, "example.test", DNS_TYPE_MX);
    add_mx(&p, "@12", 10, "x.test", 300);
    add_mx(&p, "@12", 10, "y.test", 300);
    add_mx(&p, "@12", 20, "z.test", 300);
    int x_first = 0;
    for (int i = 0; i < 200; i++) {
        build_mx(a, &p, &r);
        CHECK_INT(r.n, 3);
        CHECK_STR(r.mx[2].host, "z.test");
        x_first += !strcmp(r.mx[0].host, "x.test");
    }
    CHECK(x_first > 20 && x_first < 180);

    /* Null MX (RFC 7505), and the "." variants. */
    const struct {
        const char *what;
        unsigned pref[2];
        const char *host[2];
        int n;
        bool null_mx;
        int result_n;
        const char *first;
    } nulls[] = {
        { "0 .", { 0 }, { "" }, 1, true, 1, "" },
        { "10 . alone", { 10 }, { "" }, 1, true, 1, "" },
        { "only dots", { 0, 10 }, { "", "" }, 2, true, 1, "" },
        { "a dot among hosts", { 0, 10 }, { "", "mx.test" }, 2, false, 1, "mx.test" },
    };
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        msg_start(&p, 0, 1, nulls[i].n, "example.test", DNS_TYPE_MX);
        for (int j = 0; j < nulls[i].n; j++)
            add_mx(&p, "@12", nulls[i].pref[j], nulls[i].host[j], 300);
        build_mx(a, &p, &r);
        CHECK_INT(r.a.status, DNS_OK);
        CHECK(r.null_mx == nulls[i].null_mx);
        CHECK(!r.implicit);
        CHECK_INT(r.n, nulls[i].result_n);
        if (r.n)
            CHECK_STR(r.mx[0].host, nulls[i].first);
    }

    /* No MX: the implicit MX, the domain itself. */
    msg_start(&p, 0, 1, 0, "example.test", DNS_TYPE_MX);
    build_mx(a, &p, &r);
    CHECK_INT(r.a.status, DNS_OK);
    CHECK(r.implicit && !r.null_mx);
    CHECK_INT(r.n, 1);
    CHECK_STR(r.mx[0].host, "example.test");
    CHECK_INT(r.mx[0].preference, 0);

    /* NXDOMAIN stays NXDOMAIN; SERVFAIL and REFUSED are temporary. */
    const struct {
        int rcode;
        enum dns_status status;
    } rcodes[] = {
        { DNS_RCODE_NXDOMAIN, DNS_NXDOMAIN },
        { DNS_RCODE_SERVFAIL, DNS_TEMPFAIL },
        { 5, DNS_TEMPFAIL },
        { 4, DNS_TEMPFAIL },
    };
    for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
        msg_start(&p, rcodes[i].rcode, 1, 0, "example.test", DNS_TYPE_MX);
        build_mx(a, &p, &r);
        CHECK_INT(r.a.status, rcodes[i].status);
        CHECK(!r.implicit);
        CHECK_INT(r.n, 0);
        CHECK((r.a.status == DNS_TEMPFAIL) == (r.a.error != NULL));
    }

    /* Malformed records are left out; when all are, the answer fails. */
    msg_start(&p, 0, 1, 2, "example.test", DNS_TYPE_MX);
    add_raw(&p, "@12", DNS_TYPE_MX, "\x00", 1, 300);
    add_mx(&p, "@12", 10, "good.test", 300);
    build_mx(a, &p, &r);
    CHECK_INT(r.a.status, DNS_OK);
    CHECK_INT(r.n, 1);
    msg_start(&p, 0, 1, 1, "example.test", DNS_TYPE_MX);
    add_raw(&p, "@12", DNS_TYPE_MX, "\x00", 1, 300);
    build_mx(a, &p, &r);
    CHECK_INT(r.a.status, DNS_TEMPFAIL);
    CHECK_INT(r.n, 0);
    CHECK(!r.implicit);
    arena_free(a);
}

static void test_other_results(void)
{
    struct arena *a = arena_new(0);
    struct pkt p;
    struct dns_msg m;
    const char *err;

    msg_start(&p, 0, 1, 3, "t.test", DNS_TYPE_TXT);
    add_raw(&p, "@12", DNS_TYPE_TXT, "\x03" "abc\x03" "def", 8, 300);
    add_raw(&p, "@12", DNS_TYPE_TXT, "\x09" "short", 6, 300);
    add_raw(&p, "@12", DNS_TYPE_TXT, "\x01x", 2, 60);
    CHECK_INT(parse(a, &p, DNS_TYPE_TXT, &m, &err), 0);
    struct dns_txt_result t;
    dns_build_txt(a, &m, &t);
    CHECK_INT(t.a.status, DNS_OK);
    CHECK_INT(t.n, 2);
    CHECK_STR(t.txt[0], "abcdef");
    CHECK_INT(t.lens[0], 6);
    CHECK_STR(t.txt[1], "x");
    CHECK_INT(t.a.ttl, 60);

    msg_start(&p, 0, 1, 1, "_25._tcp.mx.test", DNS_TYPE_TLSA);
    add_raw(&p, "@12", DNS_TYPE_TLSA, "\x03\x01\x01\xaa\xbb", 5, 300);
    CHECK_INT(parse(a, &p, DNS_TYPE_TLSA, &m, &err), 0);
    struct dns_tlsa_result tl;
    dns_build_tlsa(a, &m, &tl);
    CHECK_INT(tl.a.status, DNS_OK);
    CHECK_INT(tl.n, 1);
    CHECK_INT(tl.tlsa[0].len, 2);
    CHECK_INT(tl.tlsa[0].data[1], 0xbb);

    /* PTR: the root name is no host name. */
    msg_start(&p, 0, 1, 2, "1.0.0.10.in-addr.arpa", DNS_TYPE_PTR);
    add_name_rr(&p, "@12", DNS_TYPE_PTR, "", 300);
    add_name_rr(&p, "@12", DNS_TYPE_PTR, "host.test", 300);
    CHECK_INT(parse(a, &p, DNS_TYPE_PTR, &m, &err), 0);
    struct dns_ptr_result pr;
    dns_build_ptr(a, &m, &pr);
    CHECK_INT(pr.a.status, DNS_OK);
    CHECK_INT(pr.n, 1);
    CHECK_STR(pr.names[0], "host.test");

    /* NODATA for each. */
    msg_start(&p, 0, 1, 0, "t.test", DNS_TYPE_TXT);
    CHECK_INT(parse(a, &p, DNS_TYPE_TXT, &m, &err), 0);
    dns_build_txt(a, &m, &t);
    CHECK_INT(t.a.status, DNS_NODATA);
    CHECK_INT(t.n, 0);
    CHECK_INT(t.a.ttl, 0);
    arena_free(a);
}

static void addr_part(struct arena *a, int family, int rcode, int n, bool secure, bool bogus,
                      struct dns_addr_result *r)
{
    struct pkt p;
    struct dns_msg m;
    const char *err;
    unsigned type = family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
    msg_start(&p, rcode, 1, n, "h.test", type);
    for (int i = 0; i < n; i++) {
        uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8 };
        ip[15] = (uint8_t)(i + 1);
        if (family == AF_INET)
            add_raw(&p, "@12", type, "\xc0\x00\x02\x01", 4, 300 - (uint32_t)i);
        else
            add_raw(&p, "@12", type, ip, 16, 200);
    }
    CHECK_INT(parse(a, &p, (unsigned)type, &m, &err), 0);
    dns_build_addrs(a, &m, family, r);
    r->a.secure = secure;
    if (bogus) {
        r->a.status = DNS_TEMPFAIL;
        r->a.bogus = true;
        r->a.error = "bogus";
        r->n = 0;
    }
}

static void test_addr_merge(void)
{
    struct arena *a = arena_new(0);
    const struct {
        const char *what;
        int rc6, n6, rc4, n4;
        bool sec6, sec4, bogus6, bogus4;
        enum dns_status status;
        int n;
        bool secure, bogus;
    } cases[] = {
        { "both", 0, 2, 0, 1, true, true, false, false, DNS_OK, 3, true, false },
        { "v4 only", 0, 0, 0, 1, false, true, false, false, DNS_OK, 1, false, false },
        { "v6 only", 0, 1, 0, 0, true, true, false, false, DNS_OK, 1, true, false },
        { "neither", 0, 0, 0, 0, true, true, false, false, DNS_NODATA, 0, true, false },
        { "nxdomain", 3, 0, 3, 0, true, true, false, false, DNS_NXDOMAIN, 0, true, false },
        { "v6 fails, v4 works", 2, 0, 0, 1, false, false, false, false, DNS_OK, 1, false, false },
        { "v6 fails, no v4", 2, 0, 0, 0, false, false, false, false, DNS_TEMPFAIL, 0, false,
          false },
        { "v4 bogus", 0, 1, 0, 1, true, false, false, true, DNS_TEMPFAIL, 0, false, true },
        { "v6 bogus", 0, 1, 0, 1, false, true, true, false, DNS_TEMPFAIL, 0, false, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dns_addr_result v6, v4, r;
        addr_part(a, AF_INET6, cases[i].rc6, cases[i].n6, cases[i].sec6, cases[i].bogus6, &v6);
        addr_part(a, AF_INET, cases[i].rc4, cases[i].n4, cases[i].sec4, cases[i].bogus4, &v4);
        dns_merge_addrs(a, &v6, &v4, &r);
        if (r.a.status != cases[i].status || r.n != cases[i].n)
            fprintf(stderr, "  %s: status %d n %d\n", cases[i].what, r.a.status, r.n);
        CHECK_INT(r.a.status, cases[i].status);
        CHECK_INT(r.n, cases[i].n);
        CHECK(r.a.secure == cases[i].secure);
        CHECK(r.a.bogus == cases[i].bogus);
        CHECK(r.secure6 == cases[i].sec6);
        CHECK(r.secure4 == cases[i].sec4);
        /* IPv6 first. */
        for (int j = 0; j < r.n; j++)
            CHECK_INT(r.addrs[j].ss_family, j < v6.n ? AF_INET6 : AF_INET);
        if (cases[i].status == DNS_OK)
            CHECK_INT(r.a.ttl, cases[i].n4 && cases[i].n6 ? 200 : cases[i].n4 ? 300 : 200);
    }
    arena_free(a);
}

int main(void)
{
    RUN(test_name_normalize);
    RUN(test_ptr_qname);
    RUN(test_malformed_messages);
    RUN(test_records_and_chain);
    RUN(test_mx_rdata);
    RUN(test_txt_tlsa_ptr_rdata);
    RUN(test_mx_results);
    RUN(test_other_results);
    RUN(test_addr_merge);
    return TEST_DONE();
}
