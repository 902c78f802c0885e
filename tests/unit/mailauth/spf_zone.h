/*
 * tests/unit/mailauth/spf_zone.h — an in-memory DNS zone answering an SPF
 * check synchronously (inside the lookup call), for the unit test, the
 * suite driver (spf_check.c) and the fuzz target.
 *
 * Entries are kept in the order given, names compared without case and
 * without a trailing dot. The RFC 7208 test suite's conventions (as its
 * drivers, pyspf's among them, read them):
 * - "TIMEOUT" for a name: a query of a type with no record listed before it
 *   times out (so a TXT record followed by TIMEOUT answers TXT queries and
 *   times out the others);
 * - a CNAME is followed (8 at most; a loop or a longer chain is a server
 *   failure) when the name has no record of the type asked;
 * - a name absent from the zone is NXDOMAIN, a name with no record of the
 *   type NODATA.
 */
#ifndef OUTPOST_TEST_SPF_ZONE_H
#define OUTPOST_TEST_SPF_ZONE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/str.h"
#include "mailauth/spf.h"

enum zone_type { ZT_TXT, ZT_A, ZT_AAAA, ZT_MX, ZT_PTR, ZT_CNAME, ZT_TIMEOUT };

struct zone_rr {
    char *name;
    enum zone_type type;
    char *data;            /* TXT text (len), MX/PTR/CNAME name */
    size_t len;
    unsigned char addr[16];
};

struct zone {
    struct zone_rr *rr;
    int n, cap;
    int queries;           /* lookups answered, for tests */
};

static void zone_name_norm(char *s)
{
    size_t l = strlen(s);
    if (l > 0 && s[l - 1] == '.')
        s[--l] = '\0';
    for (size_t i = 0; i < l; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

/* Adds one entry. For A/AAAA, data is the address text; returns -1 when
 * it does not parse. */
static int zone_add(struct zone *z, const char *name, enum zone_type type, const char *data,
                    size_t len)
{
    if (z->n == z->cap) {
        z->cap = z->cap ? z->cap * 2 : 16;
        z->rr = xrealloc(z->rr, (size_t)z->cap * sizeof(*z->rr));
    }
    struct zone_rr *r = &z->rr[z->n];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    zone_name_norm(r->name);
    r->type = type;
    r->data = xstrndup(data ? data : "", data ? len : 0);
    r->len = data ? len : 0;
    if (type == ZT_A && inet_pton(AF_INET, r->data, r->addr) != 1)
        goto bad;
    if (type == ZT_AAAA && inet_pton(AF_INET6, r->data, r->addr) != 1)
        goto bad;
    if (type == ZT_MX || type == ZT_PTR || type == ZT_CNAME)
        zone_name_norm(r->data);
    z->n++;
    return 0;
bad:
    free(r->name);
    free(r->data);
    return -1;
}

static void zone_free(struct zone *z)
{
    for (int i = 0; i < z->n; i++) {
        free(z->rr[i].name);
        free(z->rr[i].data);
    }
    free(z->rr);
    memset(z, 0, sizeof(*z));
}

static void zone_answer(struct zone *z, const char *qname, enum zone_type qt, spf_dns_fn cb,
                        void *arg)
{
    z->queries++;
    char name[512];
    snprintf(name, sizeof(name), "%s", qname);
    zone_name_norm(name);
    struct spf_dns_answer a = { .status = SPF_DNS_NXDOMAIN };
    const char *strings[64];
    size_t lens[64];
    unsigned char addrs[64 * 16];
    for (int hop = 0; hop <= 8; hop++) {
        bool exists = false, seen_type = false;
        const char *cname = NULL;
        a.n = 0;
        for (int i = 0; i < z->n; i++) {
            struct zone_rr *r = &z->rr[i];
            if (strcmp(r->name, name) != 0)
                continue;
            exists = true;
            if (r->type == ZT_TIMEOUT && !seen_type) {
                a.status = SPF_DNS_TEMPFAIL;
                a.n = 0;
                cb(arg, &a);
                return;
            }
            if (r->type == ZT_CNAME && !cname)
                cname = r->data;
            if (r->type != qt || a.n >= 64)
                continue;
            seen_type = true;
            strings[a.n] = r->data;
            lens[a.n] = r->len;
            memcpy(addrs + (size_t)a.n * (qt == ZT_A ? 4 : 16), r->addr, qt == ZT_A ? 4 : 16);
            a.n++;
        }
        if (a.n > 0 || !cname) {
            a.status = a.n > 0 ? SPF_DNS_OK : exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN;
            a.strings = strings;
            a.lens = qt == ZT_TXT ? lens : NULL;
            a.addrs = addrs;
            cb(arg, &a);
            return;
        }
        snprintf(name, sizeof(name), "%s", cname);
    }
    a.status = SPF_DNS_TEMPFAIL; /* a CNAME loop or a chain too long */
    a.n = 0;
    cb(arg, &a);
}

static void *zone_txt(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    zone_answer(ctx, name, ZT_TXT, cb, arg);
    return NULL;
}

static void *zone_a(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    zone_answer(ctx, name, ZT_A, cb, arg);
    return NULL;
}

static void *zone_aaaa(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    zone_answer(ctx, name, ZT_AAAA, cb, arg);
    return NULL;
}

static void *zone_mx(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    zone_answer(ctx, name, ZT_MX, cb, arg);
    return NULL;
}

static void *zone_ptr(void *ctx, const struct spf_ip *ip, spf_dns_fn cb, void *arg)
{
    char name[128];
    if (ip->family == AF_INET) {
        snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa", ip->addr[3], ip->addr[2],
                 ip->addr[1], ip->addr[0]);
    } else {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (int i = 15; i >= 0; i--) {
            name[o++] = hex[ip->addr[i] & 15];
            name[o++] = '.';
            name[o++] = hex[ip->addr[i] >> 4];
            name[o++] = '.';
        }
        snprintf(name + o, sizeof(name) - o, "ip6.arpa");
    }
    zone_answer(ctx, name, ZT_PTR, cb, arg);
    return NULL;
}

static void zone_resolver(struct spf_resolver *res, struct zone *z)
{
    *res = (struct spf_resolver){ .ctx = z, .txt = zone_txt, .a = zone_a, .aaaa = zone_aaaa,
                                  .mx = zone_mx, .ptr = zone_ptr, .cancel = NULL };
}

#endif
