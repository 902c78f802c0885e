#include "core/dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound-event.h>
#include <unbound.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/dns_parse.h"
#include "core/str.h"

#define DEFAULT_TIMEOUT_MS 10000

/*
 * Why libunbound's event API (ub_ctx_create_event, ub_resolve_event) and not
 * ub_resolve_async with ub_fd/ub_process: the latter needs a background
 * worker, either a thread (ub_ctx_async(ctx, 1)) or, by default, a forked
 * copy of the whole server. The event API runs unbound's state machines on
 * our event base, in this thread. The price is that answers come as wire
 * messages rather than parsed ub_results: core/dns_parse reads them.
 *
 * Every answer reaches its caller through an event of ours (`done`), never
 * from inside libunbound: unbound may answer synchronously (its cache, its
 * local zones), and a caller's callback may free the resolver, which must
 * not happen while unbound is on the stack.
 */

enum kind { Q_MX, Q_ADDR, Q_TXT, Q_TLSA, Q_PTR };

/* One libunbound query; an address lookup of both families has two. */
struct sub {
    struct dns_query *q;
    int type;
    int id;            /* libunbound's async id, for ub_cancel */
    bool running;      /* libunbound still has it */
    int rcode;         /* from libunbound; -1: no answer (error set) */
    int sec;           /* 0 insecure, 1 bogus, 2 secure */
    const char *error; /* why there is no answer */
    const char *why_bogus;
    uint8_t *pkt;      /* a copy, in the query's arena */
    size_t len;
};

struct dns_query {
    struct dns *d;
    struct dns_query *prev, *next;
    enum kind kind;
    union {
        dns_mx_fn mx;
        dns_addr_fn addr;
        dns_txt_fn txt;
        dns_tlsa_fn tlsa;
        dns_ptr_fn ptr;
    } cb;
    void *ctx;
    struct arena *arena;
    char name[DNS_NAME_TEXT_MAX];
    int family;
    struct sub sub[2];
    int nsub;
    int left;           /* subs still running */
    bool delivering;    /* its callback runs: dns_cancel is a no-op */
    struct event *timer; /* the timeout; made active at once when all answered */
};

struct dns {
    struct event_base *base;
    struct ub_ctx *ub;
    long long timeout_ms;
    struct dns_query *queries; /* in flight */
    int pending;
};

void dns_config_init(struct dns_config *out, const struct config *cfg)
{
    out->servers = cfg->dns_servers;
    out->trust_anchor = cfg->dns_trust_anchor;
    out->timeout_ms = cfg->dns_timeout;
    if (!strcmp(out->trust_anchor, config_settings[CFG_ID_dns_trust_anchor].def) &&
        access(out->trust_anchor, F_OK) != 0)
        out->trust_anchor = "";
}

const char *dns_status_name(enum dns_status s)
{
    switch (s) {
    case DNS_OK: return "ok";
    case DNS_NODATA: return "nodata";
    case DNS_NXDOMAIN: return "nxdomain";
    case DNS_TEMPFAIL: return "tempfail";
    case DNS_PERMFAIL: return "permfail";
    }
    return "?";
}

/* ---- the resolver ---- */

static void probe_cb(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
                     int ratelimited)
{
    (void)arg, (void)rcode, (void)pkt, (void)len, (void)sec, (void)why_bogus, (void)ratelimited;
}

static int set_option(struct ub_ctx *ub, const char *opt, const char *val, char **error_r)
{
    int r = ub_ctx_set_option(ub, opt, val);
    if (r != 0)
        *error_r = xasprintf("cannot set the resolver's %s %s: %s", opt, val, ub_strerror(r));
    return r;
}

static int set_servers(struct ub_ctx *ub, const char *list, char **error_r)
{
    const char *p = list;
    int n = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        struct str item = str_trim((struct str){ p, len });
        p += len + (p[len] == ',');
        if (!item.len)
            continue;
        char *s = xstrndup(item.p, item.len);
        int r = ub_ctx_set_fwd(ub, s);
        if (r != 0) {
            *error_r = xasprintf("[dns] servers: '%s': %s", s, ub_strerror(r));
            free(s);
            return -1;
        }
        free(s);
        n++;
    }
    if (n == 0)
        return 0;
    /* The servers were chosen: they may be on loopback (unbound refuses
     * 127.0.0.0/8 and ::1 by default, against delegations that point
     * there), and names unbound would answer from its built-in zones are
     * theirs to answer (a lab's .test, an office's private reverse zones).
     * "transparent" rather than "nodefault": a zone of that name replaces
     * the built-in one, and libunbound 1.17's ub_ctx_set_option keeps
     * "test. nodefault" whole as the name, which then matches nothing. */
    if (set_option(ub, "do-not-query-localhost:", "no", error_r) != 0 ||
        set_option(ub, "local-zone:", "test. transparent", error_r) != 0 ||
        set_option(ub, "unblock-lan-zones:", "yes", error_r) != 0)
        return -1;
    return 0;
}

struct dns *dns_new(struct event_base *base, const struct dns_config *cfg, char **error_r)
{
    struct ub_ctx *ub = ub_ctx_create_event(base);
    if (!ub) {
        *error_r = xasprintf("cannot create the DNS resolver (libunbound)");
        return NULL;
    }
    /* libunbound logs to stderr; this module never logs (its callers
     * report each failure with its context). The setting is process-wide. */
    ub_ctx_debugout(ub, NULL);
    if (cfg->servers && cfg->servers[0] && set_servers(ub, cfg->servers, error_r) < 0)
        goto fail;
    if (cfg->trust_anchor && cfg->trust_anchor[0]) {
        /* libunbound reads the file only when it starts (below); say which
         * file is missing in words of our own. */
        FILE *f = fopen(cfg->trust_anchor, "r");
        if (!f) {
            *error_r = xasprintf("[dns] trust_anchor: %s: %s", cfg->trust_anchor,
                                 strerror(errno));
            goto fail;
        }
        fclose(f);
        int r = ub_ctx_add_ta_file(ub, cfg->trust_anchor);
        if (r != 0) {
            *error_r = xasprintf("[dns] trust_anchor: %s: %s", cfg->trust_anchor, ub_strerror(r));
            goto fail;
        }
    }
    /* libunbound applies its settings at the first lookup, anchors
     * included: make that happen now with a name it answers itself, so that
     * a broken anchor file fails start-up rather than every lookup. */
    int id = 0;
    int r = ub_resolve_event(ub, "localhost.", DNS_TYPE_A, 1, NULL, probe_cb, &id);
    if (r != 0) {
        *error_r = xasprintf("cannot start the DNS resolver: %s%s", ub_strerror(r),
                             cfg->trust_anchor && cfg->trust_anchor[0]
                                 ? " (is [dns] trust_anchor a file of DS or DNSKEY records?)"
                                 : "");
        goto fail;
    }
    if (id)
        ub_cancel(ub, id); /* not answered at once after all: never mind */

    struct dns *d = xcalloc(1, sizeof(*d));
    d->base = base;
    d->ub = ub;
    d->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    return d;
fail:
    ub_ctx_delete(ub);
    return NULL;
}

static void query_free(struct dns_query *q)
{
    event_free(q->timer);
    arena_free(q->arena);
    free(q);
}

static void unlink_query(struct dns_query *q)
{
    struct dns *d = q->d;
    if (q->prev)
        q->prev->next = q->next;
    else
        d->queries = q->next;
    if (q->next)
        q->next->prev = q->prev;
    d->pending--;
}

static void cancel_subs(struct dns_query *q)
{
    for (int i = 0; i < q->nsub; i++) {
        if (q->sub[i].running) {
            ub_cancel(q->d->ub, q->sub[i].id);
            q->sub[i].running = false;
        }
    }
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    /* Cancelled first: libunbound, deleting a context, answers what it
     * still holds with SERVFAIL unless it was cancelled. */
    while (d->queries) {
        struct dns_query *q = d->queries;
        cancel_subs(q);
        unlink_query(q);
        query_free(q);
    }
    ub_ctx_delete(d->ub);
    free(d);
}

int dns_pending(const struct dns *d)
{
    return d->pending;
}

void dns_cancel(struct dns_query *q)
{
    if (!q || q->delivering)
        return;
    cancel_subs(q);
    unlink_query(q);
    query_free(q);
}

/* ---- answers ---- */

/* Parses a sub's message, or says why there is none. Returns true with m
 * set, or false with *fail set. */
static bool sub_msg(struct dns_query *q, struct sub *s, struct dns_msg *m, struct dns_answer *fail)
{
    memset(fail, 0, sizeof(*fail));
    fail->status = DNS_TEMPFAIL;
    if (s->rcode < 0) {
        fail->error = s->error;
        return false;
    }
    if (s->rcode != 0 || !s->pkt) {
        /* libunbound reports its own failures (SERVFAIL mostly) as an
         * RCODE with no message to read. */
        dns_answer_from_rcode(s->rcode ? s->rcode : DNS_RCODE_SERVFAIL, fail);
        return false;
    }
    const char *e;
    if (dns_msg_parse(q->arena, s->pkt, s->len, (uint16_t)s->type, m, &e) < 0) {
        fail->error = e;
        return false;
    }
    return true;
}

/* The DNSSEC status on top of the DNS one: a bogus answer is never used.
 * Returns false when the result's records must be dropped. */
static bool apply_sec(const struct sub *s, struct dns_answer *a)
{
    if (s->sec == 1) {
        a->status = DNS_TEMPFAIL;
        a->bogus = true;
        a->secure = false;
        a->ttl = 0;
        a->error = s->why_bogus ? s->why_bogus : "DNSSEC validation failed";
        return false;
    }
    if (a->status == DNS_TEMPFAIL || a->status == DNS_PERMFAIL)
        return false;
    a->secure = s->sec == 2;
    return true;
}

static void deliver_mx(struct dns_query *q)
{
    struct dns_mx_result r;
    struct dns_msg m;
    struct dns_answer fail;
    if (sub_msg(q, &q->sub[0], &m, &fail)) {
        dns_build_mx(q->arena, &m, q->name, &r);
    } else {
        memset(&r, 0, sizeof(r));
        r.a = fail;
    }
    if (!apply_sec(&q->sub[0], &r.a) || r.a.status != DNS_OK) {
        r.n = 0;
        r.null_mx = r.implicit = false;
    }
    q->cb.mx(q->ctx, &r);
}

static void addr_part(struct dns_query *q, struct sub *s, struct dns_addr_result *r)
{
    struct dns_msg m;
    struct dns_answer fail;
    if (sub_msg(q, s, &m, &fail)) {
        dns_build_addrs(q->arena, &m, s->type == DNS_TYPE_A ? AF_INET : AF_INET6, r);
    } else {
        memset(r, 0, sizeof(*r));
        r->a = fail;
    }
    if (!apply_sec(s, &r->a))
        r->n = 0;
    if (s->type == DNS_TYPE_A)
        r->secure4 = r->a.secure;
    else
        r->secure6 = r->a.secure;
}

static void deliver_addr(struct dns_query *q)
{
    struct dns_addr_result r;
    if (q->nsub == 1) {
        addr_part(q, &q->sub[0], &r);
    } else {
        struct dns_addr_result v6, v4;
        addr_part(q, &q->sub[0], &v6);
        addr_part(q, &q->sub[1], &v4);
        dns_merge_addrs(q->arena, &v6, &v4, &r);
    }
    q->cb.addr(q->ctx, &r);
}

static void deliver_txt(struct dns_query *q)
{
    struct dns_txt_result r;
    struct dns_msg m;
    struct dns_answer fail;
    if (sub_msg(q, &q->sub[0], &m, &fail)) {
        dns_build_txt(q->arena, &m, &r);
    } else {
        memset(&r, 0, sizeof(r));
        r.a = fail;
    }
    if (!apply_sec(&q->sub[0], &r.a))
        r.n = 0;
    q->cb.txt(q->ctx, &r);
}

static void deliver_tlsa(struct dns_query *q)
{
    struct dns_tlsa_result r;
    struct dns_msg m;
    struct dns_answer fail;
    if (sub_msg(q, &q->sub[0], &m, &fail)) {
        dns_build_tlsa(q->arena, &m, &r);
    } else {
        memset(&r, 0, sizeof(r));
        r.a = fail;
    }
    if (!apply_sec(&q->sub[0], &r.a))
        r.n = 0;
    q->cb.tlsa(q->ctx, &r);
}

static void deliver_ptr(struct dns_query *q)
{
    struct dns_ptr_result r;
    struct dns_msg m;
    struct dns_answer fail;
    if (sub_msg(q, &q->sub[0], &m, &fail)) {
        dns_build_ptr(q->arena, &m, &r);
    } else {
        memset(&r, 0, sizeof(r));
        r.a = fail;
    }
    if (!apply_sec(&q->sub[0], &r.a))
        r.n = 0;
    q->cb.ptr(q->ctx, &r);
}

/* The timer: the timeout, or (made active by hand) every sub has answered. */
static void done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct dns_query *q = arg;
    if (q->left > 0) {
        /* The timeout: what has not answered fails (the other family of
         * an address lookup may still have answered). */
        for (int i = 0; i < q->nsub; i++) {
            struct sub *s = &q->sub[i];
            if (!s->running)
                continue;
            ub_cancel(q->d->ub, s->id);
            s->running = false;
            s->rcode = -1;
            s->error = "timed out";
        }
        q->left = 0;
    }
    unlink_query(q);
    q->delivering = true;
    switch (q->kind) {
    case Q_MX: deliver_mx(q); break;
    case Q_ADDR: deliver_addr(q); break;
    case Q_TXT: deliver_txt(q); break;
    case Q_TLSA: deliver_tlsa(q); break;
    case Q_PTR: deliver_ptr(q); break;
    }
    query_free(q);
}

static void ub_done(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus,
                    int ratelimited)
{
    (void)ratelimited;
    struct sub *s = arg;
    struct dns_query *q = s->q;
    s->running = false;
    s->rcode = rcode;
    s->sec = sec;
    if (rcode == 0 && pkt && len > 0) {
        s->pkt = arena_alloc(q->arena, (size_t)len);
        memcpy(s->pkt, pkt, (size_t)len);
        s->len = (size_t)len;
    }
    if (why_bogus)
        s->why_bogus = arena_strdup(q->arena, why_bogus);
    if (--q->left == 0) {
        evtimer_del(q->timer);
        event_active(q->timer, EV_TIMEOUT, 0);
    }
}

static struct dns_query *query_new(struct dns *d, enum kind kind, const char *name, void *ctx)
{
    struct dns_query *q = xcalloc(1, sizeof(*q));
    q->d = d;
    q->kind = kind;
    q->ctx = ctx;
    q->arena = arena_new(0);
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->timer = evtimer_new(d->base, done, q);
    return q;
}

static void query_add_sub(struct dns_query *q, int type)
{
    struct sub *s = &q->sub[q->nsub++];
    s->q = q;
    s->type = type;
}

/* Starts every sub. Answers that come at once wait for the loop. */
static struct dns_query *query_start(struct dns_query *q)
{
    struct dns *d = q->d;
    q->next = d->queries;
    if (d->queries)
        d->queries->prev = q;
    d->queries = q;
    d->pending++;
    q->left = q->nsub;
    struct timeval tv = { .tv_sec = d->timeout_ms / 1000,
                          .tv_usec = (d->timeout_ms % 1000) * 1000 };
    evtimer_add(q->timer, &tv);
    for (int i = 0; i < q->nsub; i++) {
        struct sub *s = &q->sub[i];
        s->running = true;
        int r = ub_resolve_event(d->ub, q->name, s->type, 1, s, ub_done, &s->id);
        if (r != 0) {
            s->running = false;
            s->rcode = -1;
            s->error = arena_strdup(q->arena, ub_strerror(r));
            if (--q->left == 0) {
                evtimer_del(q->timer);
                event_active(q->timer, EV_TIMEOUT, 0);
            }
        }
    }
    return q;
}

/* ---- lookups ---- */

/* A name that cannot be asked: the callback runs now, and the lookup
 * returns NULL. */
#define CHECK_NAME(in, out, result_type, cb, ctx)                      \
    do {                                                               \
        const char *why_ = dns_name_normalize((in), (out));            \
        if (why_) {                                                    \
            result_type r_;                                            \
            memset(&r_, 0, sizeof(r_));                                \
            r_.a.status = DNS_PERMFAIL;                                \
            r_.a.error = why_;                                         \
            (cb)((ctx), &r_);                                          \
            return NULL;                                               \
        }                                                              \
    } while (0)

struct dns_query *dns_lookup_mx(struct dns *d, const char *domain, dns_mx_fn cb, void *ctx)
{
    char name[DNS_NAME_TEXT_MAX];
    CHECK_NAME(domain, name, struct dns_mx_result, cb, ctx);
    struct dns_query *q = query_new(d, Q_MX, name, ctx);
    q->cb.mx = cb;
    query_add_sub(q, DNS_TYPE_MX);
    return query_start(q);
}

struct dns_query *dns_lookup_addr(struct dns *d, const char *host, int family, dns_addr_fn cb,
                                  void *ctx)
{
    char name[DNS_NAME_TEXT_MAX];
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
        struct dns_addr_result r;
        memset(&r, 0, sizeof(r));
        r.a.status = DNS_PERMFAIL;
        r.a.error = "unknown address family";
        cb(ctx, &r);
        return NULL;
    }
    CHECK_NAME(host, name, struct dns_addr_result, cb, ctx);
    struct dns_query *q = query_new(d, Q_ADDR, name, ctx);
    q->cb.addr = cb;
    q->family = family;
    /* IPv6 first: the merged list puts it first too. */
    if (family != AF_INET)
        query_add_sub(q, DNS_TYPE_AAAA);
    if (family != AF_INET6)
        query_add_sub(q, DNS_TYPE_A);
    return query_start(q);
}

struct dns_query *dns_lookup_txt(struct dns *d, const char *name_in, dns_txt_fn cb, void *ctx)
{
    char name[DNS_NAME_TEXT_MAX];
    CHECK_NAME(name_in, name, struct dns_txt_result, cb, ctx);
    struct dns_query *q = query_new(d, Q_TXT, name, ctx);
    q->cb.txt = cb;
    query_add_sub(q, DNS_TYPE_TXT);
    return query_start(q);
}

struct dns_query *dns_lookup_tlsa(struct dns *d, const char *name_in, dns_tlsa_fn cb, void *ctx)
{
    char name[DNS_NAME_TEXT_MAX];
    CHECK_NAME(name_in, name, struct dns_tlsa_result, cb, ctx);
    struct dns_query *q = query_new(d, Q_TLSA, name, ctx);
    q->cb.tlsa = cb;
    query_add_sub(q, DNS_TYPE_TLSA);
    return query_start(q);
}

struct dns_query *dns_lookup_ptr(struct dns *d, const struct sockaddr *addr, dns_ptr_fn cb,
                                 void *ctx)
{
    char name[DNS_PTR_QNAME_MAX];
    if (dns_ptr_qname(addr, name) < 0) {
        struct dns_ptr_result r;
        memset(&r, 0, sizeof(r));
        r.a.status = DNS_PERMFAIL;
        r.a.error = "not an IP address";
        cb(ctx, &r);
        return NULL;
    }
    struct dns_query *q = query_new(d, Q_PTR, name, ctx);
    q->cb.ptr = cb;
    query_add_sub(q, DNS_TYPE_PTR);
    return query_start(q);
}
