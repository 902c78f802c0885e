#include "core/dns_parse.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A name on the wire: 255 octets at most, its root label included. */
#define WIRE_NAME_MAX 255
/* CNAMEs followed at most; a resolver gives the whole chain, and a longer
 * one is a loop or an attack either way. */
#define CHAIN_MAX 16

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Reads the name at off into out, uncompressed and lowercase. A compression
 * pointer must point before the start of the labels that hold it, so each
 * jump goes strictly backwards and no name can loop. *end is where the name
 * ends in place: after its root label, or after its first pointer. Returns
 * the wire length, or -1. */
static int name_read(const uint8_t *p, size_t len, size_t off, uint8_t out[WIRE_NAME_MAX],
                     size_t *end)
{
    size_t w = 0, pos = off, limit = off;
    bool jumped = false;
    for (;;) {
        if (pos >= len)
            return -1;
        uint8_t c = p[pos];
        if ((c & 0xC0) == 0xC0) {
            if (pos + 1 >= len)
                return -1;
            size_t target = (size_t)(c & 0x3F) << 8 | p[pos + 1];
            if (!jumped)
                *end = pos + 2;
            jumped = true;
            if (target >= limit)
                return -1;
            pos = limit = target;
            continue;
        }
        if (c & 0xC0)
            return -1; /* 0x40 and 0x80: label types nobody uses */
        if (w + 1 + c > WIRE_NAME_MAX || pos + 1 + c > len)
            return -1;
        out[w++] = c;
        if (c == 0) {
            if (!jumped)
                *end = pos + 1;
            return (int)w;
        }
        for (size_t i = 0; i < c; i++)
            out[w++] = lower(p[pos + 1 + i]);
        pos += 1 + (size_t)c;
    }
}

/* Wire form to text (see the header for what is refused). */
static int name_text(const uint8_t *w, char out[DNS_NAME_TEXT_MAX])
{
    size_t o = 0, i = 0;
    while (w[i]) {
        uint8_t n = w[i++];
        if (o)
            out[o++] = '.';
        for (uint8_t j = 0; j < n; j++) {
            uint8_t c = w[i++];
            if (c < 0x21 || c > 0x7e || c == '.' || c == '\\')
                return -1;
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return 0;
}

/* A name that must fill the rdata from off to its end exactly. */
static int rdata_name(const struct dns_msg *m, const struct dns_rr *rr, size_t off,
                      char out[DNS_NAME_TEXT_MAX])
{
    uint8_t wire[WIRE_NAME_MAX];
    size_t end = 0, stop = rr->rdata + rr->rdlen;
    /* Read within the message, but the name's own bytes within the rdata. */
    if (off >= stop || name_read(m->p, stop, off, wire, &end) < 0 || end != stop)
        return -1;
    return name_text(wire, out);
}

/* ---- the message ---- */

struct raw_rr {
    size_t owner;   /* offset of the owner name */
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdata;
};

static bool owner_is(const struct dns_msg *m, const struct raw_rr *r, const uint8_t *name,
                     int nlen)
{
    uint8_t w[WIRE_NAME_MAX];
    size_t end;
    int l = name_read(m->p, m->len, r->owner, w, &end);
    return l == nlen && memcmp(w, name, (size_t)nlen) == 0;
}

int dns_msg_parse(struct arena *a, const uint8_t *p, size_t len, uint16_t qtype,
                  struct dns_msg *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    out->p = p;
    out->len = len;
    out->qtype = qtype;
    out->chain_ttl = UINT32_MAX;
    if (len < 12) {
        *error_r = "truncated DNS message";
        return -1;
    }
    out->rcode = p[3] & 0x0F;
    uint16_t qd = be16(p + 4), an = be16(p + 6);
    if (qd != 1) {
        *error_r = "DNS message without its question";
        return -1;
    }
    uint8_t qname[WIRE_NAME_MAX];
    size_t off = 12;
    int qlen = name_read(p, len, off, qname, &off);
    if (qlen < 0 || off + 4 > len) {
        *error_r = "malformed question in DNS message";
        return -1;
    }
    if (be16(p + off) != qtype) {
        *error_r = "DNS answer to another question";
        return -1;
    }
    off += 4;
    /* The smallest record is 11 bytes: a count that cannot fit is a lie,
     * and checking it first bounds the allocation below. */
    if ((size_t)an * 11 > len - off) {
        *error_r = "truncated DNS message";
        return -1;
    }
    struct raw_rr *raw = an ? arena_alloc(a, (size_t)an * sizeof(*raw)) : NULL;
    int nraw = 0;
    for (uint16_t i = 0; i < an; i++) {
        uint8_t w[WIRE_NAME_MAX];
        size_t owner = off;
        if (name_read(p, len, off, w, &off) < 0 || off + 10 > len) {
            *error_r = "malformed record in DNS message";
            return -1;
        }
        uint16_t type = be16(p + off), class = be16(p + off + 2);
        uint32_t ttl = be32(p + off + 4);
        uint16_t rdlen = be16(p + off + 8);
        off += 10;
        if (rdlen > len - off) {
            *error_r = "truncated DNS message";
            return -1;
        }
        if (class == 1) /* IN; anything else is not an answer to us */
            raw[nraw++] = (struct raw_rr){ owner, type, ttl, rdlen, off };
        off += rdlen;
    }

    /* Follow the CNAME chain from the question to the name that owns the
     * records, as a resolver's answer lays it out. */
    uint8_t cur[WIRE_NAME_MAX];
    int clen = qlen;
    memcpy(cur, qname, (size_t)qlen);
    for (int step = 0; qtype != DNS_TYPE_CNAME; step++) {
        const struct raw_rr *cname = NULL;
        for (int i = 0; i < nraw && !cname; i++)
            if (raw[i].type == DNS_TYPE_CNAME && owner_is(out, &raw[i], cur, clen))
                cname = &raw[i];
        if (!cname)
            break;
        if (step == CHAIN_MAX) {
            *error_r = "CNAME chain too long";
            return -1;
        }
        size_t end, stop = cname->rdata + cname->rdlen;
        clen = cname->rdlen ? name_read(p, stop, cname->rdata, cur, &end) : -1;
        if (clen < 0 || end != stop) {
            *error_r = "malformed CNAME in DNS message";
            return -1;
        }
        if (cname->ttl < out->chain_ttl)
            out->chain_ttl = cname->ttl;
    }
    int n = 0;
    for (int i = 0; i < nraw; i++)
        if (raw[i].type == qtype && owner_is(out, &raw[i], cur, clen))
            n++;
    out->rr = n ? arena_alloc(a, (size_t)n * sizeof(*out->rr)) : NULL;
    for (int i = 0; i < nraw; i++)
        if (raw[i].type == qtype && owner_is(out, &raw[i], cur, clen))
            out->rr[out->n++] = (struct dns_rr){ raw[i].ttl, raw[i].rdlen, raw[i].rdata };
    return 0;
}

/* ---- rdata ---- */

int dns_rdata_mx(const struct dns_msg *m, const struct dns_rr *rr, uint16_t *preference,
                 char host[DNS_NAME_TEXT_MAX])
{
    if (rr->rdlen < 3)
        return -1;
    *preference = be16(m->p + rr->rdata);
    return rdata_name(m, rr, rr->rdata + 2, host);
}

int dns_rdata_ptr(const struct dns_msg *m, const struct dns_rr *rr, char name[DNS_NAME_TEXT_MAX])
{
    return rdata_name(m, rr, rr->rdata, name);
}

int dns_rdata_addr(const struct dns_msg *m, const struct dns_rr *rr, int family,
                   struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (family == AF_INET && rr->rdlen == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, m->p + rr->rdata, 4);
        return 0;
    }
    if (family == AF_INET6 && rr->rdlen == 16) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, m->p + rr->rdata, 16);
        return 0;
    }
    return -1;
}

int dns_rdata_txt(struct arena *a, const struct dns_msg *m, const struct dns_rr *rr,
                  const char **txt, size_t *len)
{
    /* At least one character-string (RFC 1035 §3.3.14), each within the
     * rdata; the text is never longer than the rdata. */
    if (rr->rdlen == 0)
        return -1;
    const uint8_t *p = m->p + rr->rdata;
    char *out = arena_alloc(a, rr->rdlen);
    size_t o = 0, i = 0;
    while (i < rr->rdlen) {
        size_t n = p[i++];
        if (n > rr->rdlen - i)
            return -1;
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    *txt = out;
    *len = o;
    return 0;
}

int dns_rdata_tlsa(const struct dns_msg *m, const struct dns_rr *rr, struct dns_tlsa *out)
{
    /* Three octets and association data that is not empty (RFC 6698 §2.1);
     * whether its length suits its matching type is DANE's question. */
    if (rr->rdlen < 4)
        return -1;
    const uint8_t *p = m->p + rr->rdata;
    out->usage = p[0];
    out->selector = p[1];
    out->mtype = p[2];
    out->data = p + 3;
    out->len = rr->rdlen - 3u;
    return 0;
}

/* ---- names asked ---- */

const char *dns_name_normalize(const char *name, char out[DNS_NAME_TEXT_MAX])
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0)
        return "empty name";
    if (len > 253)
        return "name longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c == '.') {
            if (label == 0)
                return "empty label in name";
            label = 0;
            out[i] = '.';
            continue;
        }
        if (c < 0x21 || c > 0x7e || c == '\\')
            return "name with a byte that is not printable ASCII (use the A-label form)";
        if (++label > 63)
            return "label longer than 63 characters";
        out[i] = (char)lower(c);
    }
    if (label == 0)
        return "empty label in name";
    out[len] = '\0';
    return NULL;
}

int dns_ptr_qname(const struct sockaddr *sa, char out[DNS_PTR_QNAME_MAX])
{
    const uint8_t *b;
    if (sa->sa_family == AF_INET) {
        b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        b = a6->s6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6)) {
            static const char hex[] = "0123456789abcdef";
            size_t o = 0;
            for (int i = 15; i >= 0; i--) {
                out[o++] = hex[b[i] & 0xF];
                out[o++] = '.';
                out[o++] = hex[b[i] >> 4];
                out[o++] = '.';
            }
            memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
            return 0;
        }
        b += 12;
    } else {
        return -1;
    }
    snprintf(out, DNS_PTR_QNAME_MAX, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
    return 0;
}

/* ---- results ---- */

void dns_answer_from_rcode(int rcode, struct dns_answer *a)
{
    switch (rcode) {
    case DNS_RCODE_NOERROR:
        a->status = DNS_NODATA;
        return;
    case DNS_RCODE_NXDOMAIN:
        a->status = DNS_NXDOMAIN;
        return;
    case DNS_RCODE_SERVFAIL:
        a->status = DNS_TEMPFAIL;
        a->error = "server failure (SERVFAIL)";
        return;
    case 5:
        a->status = DNS_TEMPFAIL;
        a->error = "query refused (REFUSED)";
        return;
    default:
        a->status = DNS_TEMPFAIL;
        a->error = "the server answered with an error";
        return;
    }
}

/* The status every builder starts from. Returns true when the message's
 * records are to be read. */
static bool start(const struct dns_msg *m, struct dns_answer *a)
{
    memset(a, 0, sizeof(*a));
    if (m->rcode != DNS_RCODE_NOERROR || m->n == 0) {
        dns_answer_from_rcode(m->rcode, a);
        return false;
    }
    a->status = DNS_OK;
    a->ttl = m->chain_ttl;
    return true;
}

/* After the records: the smallest TTL, and what to say when every record
 * was malformed. */
static void finish(struct dns_answer *a, int good, const char *what)
{
    if (good == 0) {
        a->status = DNS_TEMPFAIL;
        a->error = what;
        a->ttl = 0;
    }
}

static void take_ttl(struct dns_answer *a, uint32_t ttl)
{
    if (ttl < a->ttl)
        a->ttl = ttl;
}

struct mx_sort {
    struct dns_mx mx;
    uint32_t key; /* random: the order within one preference */
};

static int mx_cmp(const void *x, const void *y)
{
    const struct mx_sort *a = x, *b = y;
    if (a->mx.preference != b->mx.preference)
        return a->mx.preference < b->mx.preference ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

void dns_build_mx(struct arena *a, const struct dns_msg *m, const char *name,
                  struct dns_mx_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!start(m, &r->a)) {
        if (r->a.status == DNS_NODATA) {
            /* No MX: the domain is its own mail host (RFC 5321 §5.1). */
            r->a.status = DNS_OK;
            r->implicit = true;
            r->mx = arena_zalloc(a, sizeof(*r->mx));
            r->mx[0].host = arena_strdup(a, name);
            r->n = 1;
        }
        return;
    }
    struct mx_sort *s = arena_alloc(a, (size_t)m->n * sizeof(*s));
    int good = 0, dots = 0;
    for (int i = 0; i < m->n; i++) {
        char host[DNS_NAME_TEXT_MAX];
        uint16_t pref;
        if (dns_rdata_mx(m, &m->rr[i], &pref, host) < 0)
            continue;
        take_ttl(&r->a, m->rr[i].ttl);
        /* "." is no host to connect to: it is only meaningful as the null
         * MX, and left out of a list that has real hosts. */
        if (!host[0]) {
            dots++;
            continue;
        }
        s[good].mx.preference = pref;
        s[good].mx.host = arena_strdup(a, host);
        s[good].key = arc4random();
        good++;
    }
    if (good == 0 && dots > 0) {
        /* RFC 7505: the domain takes no mail. The RFC's form is one "0 .";
         * a lone "." at another preference (or several) means the same, as
         * no mail could go anywhere else. */
        r->null_mx = true;
        r->mx = arena_zalloc(a, sizeof(*r->mx));
        r->mx[0].host = "";
        r->n = 1;
        return;
    }
    finish(&r->a, good, "malformed MX records");
    qsort(s, (size_t)good, sizeof(*s), mx_cmp);
    r->mx = arena_alloc(a, (size_t)(good ? good : 1) * sizeof(*r->mx));
    for (int i = 0; i < good; i++)
        r->mx[i] = s[i].mx;
    r->n = good;
}

void dns_build_txt(struct arena *a, const struct dns_msg *m, struct dns_txt_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!start(m, &r->a))
        return;
    const char **txt = arena_alloc(a, (size_t)m->n * sizeof(*txt));
    size_t *lens = arena_alloc(a, (size_t)m->n * sizeof(*lens));
    int good = 0;
    for (int i = 0; i < m->n; i++) {
        if (dns_rdata_txt(a, m, &m->rr[i], &txt[good], &lens[good]) < 0)
            continue;
        take_ttl(&r->a, m->rr[i].ttl);
        good++;
    }
    finish(&r->a, good, "malformed TXT records");
    r->txt = txt;
    r->lens = lens;
    r->n = good;
}

void dns_build_tlsa(struct arena *a, const struct dns_msg *m, struct dns_tlsa_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!start(m, &r->a))
        return;
    r->tlsa = arena_alloc(a, (size_t)m->n * sizeof(*r->tlsa));
    int good = 0;
    for (int i = 0; i < m->n; i++) {
        if (dns_rdata_tlsa(m, &m->rr[i], &r->tlsa[good]) < 0)
            continue;
        take_ttl(&r->a, m->rr[i].ttl);
        good++;
    }
    finish(&r->a, good, "malformed TLSA records");
    r->n = good;
}

void dns_build_ptr(struct arena *a, const struct dns_msg *m, struct dns_ptr_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!start(m, &r->a))
        return;
    const char **names = arena_alloc(a, (size_t)m->n * sizeof(*names));
    int good = 0;
    for (int i = 0; i < m->n; i++) {
        char name[DNS_NAME_TEXT_MAX];
        if (dns_rdata_ptr(m, &m->rr[i], name) < 0 || !name[0])
            continue;
        names[good++] = arena_strdup(a, name);
        take_ttl(&r->a, m->rr[i].ttl);
    }
    finish(&r->a, good, "malformed PTR records");
    r->names = names;
    r->n = good;
}

void dns_build_addrs(struct arena *a, const struct dns_msg *m, int family,
                     struct dns_addr_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!start(m, &r->a))
        return;
    r->addrs = arena_alloc(a, (size_t)m->n * sizeof(*r->addrs));
    int good = 0;
    for (int i = 0; i < m->n; i++) {
        if (dns_rdata_addr(m, &m->rr[i], family, &r->addrs[good]) < 0)
            continue;
        take_ttl(&r->a, m->rr[i].ttl);
        good++;
    }
    finish(&r->a, good, family == AF_INET ? "malformed A records" : "malformed AAAA records");
    r->n = good;
}

void dns_merge_addrs(struct arena *a, const struct dns_addr_result *v6,
                     const struct dns_addr_result *v4, struct dns_addr_result *out)
{
    memset(out, 0, sizeof(*out));
    out->secure6 = v6->a.secure;
    out->secure4 = v4->a.secure;
    out->a.secure = v6->a.secure && v4->a.secure;
    if (v6->a.bogus || v4->a.bogus) {
        out->a.status = DNS_TEMPFAIL;
        out->a.bogus = true;
        out->a.secure = false;
        out->a.error = v6->a.bogus ? v6->a.error : v4->a.error;
        return;
    }
    if (v6->n + v4->n > 0) {
        out->a.status = DNS_OK;
        out->addrs = arena_alloc(a, (size_t)(v6->n + v4->n) * sizeof(*out->addrs));
        out->a.ttl = UINT32_MAX;
        const struct dns_addr_result *parts[2] = { v6, v4 };
        for (int p = 0; p < 2; p++) {
            if (parts[p]->n == 0)
                continue;
            memcpy(out->addrs + out->n, parts[p]->addrs, (size_t)parts[p]->n * sizeof(*out->addrs));
            out->n += parts[p]->n;
            take_ttl(&out->a, parts[p]->a.ttl);
        }
        return;
    }
    if (v6->a.status == DNS_TEMPFAIL || v4->a.status == DNS_TEMPFAIL) {
        out->a.status = DNS_TEMPFAIL;
        out->a.error = v6->a.status == DNS_TEMPFAIL ? v6->a.error : v4->a.error;
        out->a.secure = false;
    } else if (v6->a.status == DNS_NXDOMAIN || v4->a.status == DNS_NXDOMAIN) {
        out->a.status = DNS_NXDOMAIN;
    } else {
        out->a.status = DNS_NODATA;
    }
}
