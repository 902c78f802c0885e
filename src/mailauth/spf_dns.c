/* The SPF resolver on core/dns (see spf_resolver_core_dns in spf.h). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"
#include "core/str.h"
#include "mailauth/spf.h"

/* One lookup: the SPF callback, and core/dns's handle for cancel. Freed by
 * the answer or by cancel, whichever comes first (core/dns never runs a
 * cancelled callback). */
struct spf_dns_call {
    spf_dns_fn cb;
    void *arg;
    struct dns_query *q;
    int family;
};

static enum spf_dns_status map_status(enum dns_status s)
{
    switch (s) {
    case DNS_OK: return SPF_DNS_OK;
    case DNS_NODATA: return SPF_DNS_NODATA;
    /* A name core/dns cannot ask (a bad label) can have no record. */
    case DNS_NXDOMAIN:
    case DNS_PERMFAIL: return SPF_DNS_NXDOMAIN;
    case DNS_TEMPFAIL: return SPF_DNS_TEMPFAIL;
    }
    return SPF_DNS_TEMPFAIL;
}

static struct spf_dns_call *call_new(spf_dns_fn cb, void *arg, int family)
{
    struct spf_dns_call *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    w->family = family;
    return w;
}

/* NULL when the callback already ran (and freed w). */
static void *call_started(struct spf_dns_call *w, struct dns_query *q)
{
    if (!q)
        return NULL;
    w->q = q;
    return w;
}

static void on_txt(void *ctx, const struct dns_txt_result *r)
{
    struct spf_dns_call *w = ctx;
    struct spf_dns_answer a = {
        .status = map_status(r->a.status),
        .n = r->a.status == DNS_OK ? r->n : 0,
        .strings = (const char *const *)r->txt,
        .lens = r->lens,
    };
    spf_dns_fn cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, &a);
}

static void on_addr(void *ctx, const struct dns_addr_result *r)
{
    struct spf_dns_call *w = ctx;
    size_t step = w->family == AF_INET ? 4 : 16;
    unsigned char *packed = xcalloc((size_t)r->n + 1, step);
    int n = 0;
    for (int i = 0; r->a.status == DNS_OK && i < r->n; i++) {
        const struct sockaddr_storage *ss = &r->addrs[i];
        if (ss->ss_family == AF_INET && w->family == AF_INET)
            memcpy(packed + step * (size_t)n++, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        else if (ss->ss_family == AF_INET6 && w->family == AF_INET6)
            memcpy(packed + step * (size_t)n++, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
    struct spf_dns_answer a = { .status = map_status(r->a.status), .n = n, .addrs = packed };
    if (a.status == SPF_DNS_OK && n == 0)
        a.status = SPF_DNS_NODATA;
    spf_dns_fn cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, &a);
    free(packed);
}

static void on_mx(void *ctx, const struct dns_mx_result *r)
{
    struct spf_dns_call *w = ctx;
    const char **names = xcalloc((size_t)r->n + 1, sizeof(char *));
    struct spf_dns_answer a = { .status = map_status(r->a.status), .strings = names };
    /* §5.4: no implicit MX; a null MX is the name "", which matches nothing. */
    if (r->a.status == DNS_OK && r->implicit) {
        a.status = SPF_DNS_NODATA;
    } else if (r->a.status == DNS_OK) {
        for (int i = 0; i < r->n; i++)
            names[a.n++] = r->mx[i].host;
    }
    spf_dns_fn cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, &a);
    free(names);
}

static void on_ptr(void *ctx, const struct dns_ptr_result *r)
{
    struct spf_dns_call *w = ctx;
    struct spf_dns_answer a = {
        .status = map_status(r->a.status),
        .n = r->a.status == DNS_OK ? r->n : 0,
        .strings = (const char *const *)r->names,
    };
    spf_dns_fn cb = w->cb;
    void *arg = w->arg;
    free(w);
    cb(arg, &a);
}

static void *core_txt(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    struct spf_dns_call *w = call_new(cb, arg, 0);
    return call_started(w, dns_lookup_txt(ctx, name, on_txt, w));
}

static void *core_a(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    struct spf_dns_call *w = call_new(cb, arg, AF_INET);
    return call_started(w, dns_lookup_addr(ctx, name, AF_INET, on_addr, w));
}

static void *core_aaaa(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    struct spf_dns_call *w = call_new(cb, arg, AF_INET6);
    return call_started(w, dns_lookup_addr(ctx, name, AF_INET6, on_addr, w));
}

static void *core_mx(void *ctx, const char *name, spf_dns_fn cb, void *arg)
{
    struct spf_dns_call *w = call_new(cb, arg, 0);
    return call_started(w, dns_lookup_mx(ctx, name, on_mx, w));
}

static void *core_ptr(void *ctx, const struct spf_ip *ip, spf_dns_fn cb, void *arg)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (ip->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, ip->addr, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, ip->addr, 16);
    }
    struct spf_dns_call *w = call_new(cb, arg, 0);
    return call_started(w, dns_lookup_ptr(ctx, (const struct sockaddr *)&ss, on_ptr, w));
}

static void core_cancel(void *ctx, void *handle)
{
    struct spf_dns_call *w = handle;
    if (!w)
        return;
    dns_cancel(w->q);
    free(w);
}

void spf_resolver_core_dns(struct spf_resolver *out, struct dns *d)
{
    *out = (struct spf_resolver){
        .ctx = d,
        .txt = core_txt,
        .a = core_a,
        .aaaa = core_aaaa,
        .mx = core_mx,
        .ptr = core_ptr,
        .cancel = core_cancel,
    };
}
