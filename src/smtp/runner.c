/* The queue runner (see runner.h). */
#include "smtp/runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/tls.h"
#include "smtp/client.h"
#include "smtp/mtasts.h"
#include "smtp/mtasts_fetch.h"
#include "smtp/report.h"

/* Messages leased per scan; the scan repeats at once when it got this
 * many. */
#define LEASE_BATCH 500
/* No new lease while this many recipients wait for a connection. */
#define MAX_WAITING 5000
/* RFC 8461 §3.3 suggests a policy fetch be given a minute at most. */
#define STS_FETCH_TIMEOUT_MS 60000

/* Queued messages up to this size are read into memory; larger ones are
 * mapped. */
#define READ_MAX (256u << 10)

/* How often the queue is looked at for mail that became due (a retry time
 * reached, `outpost queue retry` or `release` from the command line). */
#define POLL_MS 2000

/* One queued message in memory, shared by the units made of it. */
struct qmsg {
    int refs;
    char id[STORE_QUEUE_ID_LEN + 1];
    char *sender, *origin, *envid;
    int64_t account_id, created;
    int ret, body;
    bool smtputf8, requiretls;
    char *data;               /* the file: read, or mapped read-only when large */
    size_t len;
    bool mapped;
};

struct qrcpt {
    int64_t id;
    char *address;
    unsigned notify;
    char *orcpt_type, *orcpt;
    int attempts;
    bool delay_notified;
};

/* One transaction's worth: a message and its recipients at one destination. */
struct unit {
    struct unit *next;
    struct qmsg *m;
    struct qrcpt *rcpts;
    int n;
};

struct dest {
    struct dest *next;
    char *name;               /* the domain (A-label, lowercase), or the relay */
    bool relay;
    int relay_port;           /* the relay's, as configured when this was made */
    int fail_streak;          /* attempts that failed before a session, in a row */
    struct unit *head, *tail;
    int npending;
    int nattempts;            /* connections being made or in use */
    int nconnecting;          /* of those, not yet ready */
    /* MTA-STS (RFC 8461): found out once per destination, before its
     * first attempt. */
    enum { STS_UNKNOWN, STS_PENDING, STS_DONE } sts_state;
    struct mtasts_policy *policy; /* NULL: none */
    struct dns_query *sts_q;
    struct mtasts_fetch *sts_f;
    char sts_id[MTASTS_ID_MAX + 1];
    struct runner *r;
};

/* Policies fetched, by domain, kept while valid (max_age). */
struct sts_entry {
    struct sts_entry *next;
    char *domain;
    struct mtasts_policy p;
};

struct attempt;

struct runner {
    struct runner_env env;
    const struct config *cfg;
    SSL_CTX *ssl_ctx;
    char *relay_host;
    int relay_port;
    char *relay_password;
    struct event *scan_ev, *poll_ev;
    struct event *flush_ev;   /* records the outcomes collected (soon, or after a failure) */
    bool scanning, rescan, stopping;
    struct dest *dests;
    int nattempts;
    struct attempt *attempts;
    struct sts_entry *sts;
    struct store_tls_result *tls; /* TLS sessions' results to record */
    int ntls, tlscap;
    int waiting;              /* recipients in units not yet sent */
    /* Outcomes waiting to be recorded, and the batch being recorded. */
    struct report_outcome *out;
    int nout, outcap;
    bool flushing;
    int jobs;                 /* worker jobs in flight */
};

struct attempt {
    struct attempt *prev, *next; /* the runner's list */
    struct runner *r;
    struct dest *d;
    struct dns_query *q;
    char **hosts;
    int nhosts, host_i;
    struct sockaddr_storage *addrs;
    int naddrs, addr_i;
    bool plain_retry;         /* this address again, without STARTTLS */
    struct smtp_client *cl;
    bool ready;
    int sent;
    struct unit *cur;
    struct smtp_client_txn txn;
    char *last_error;
    int last_code;
    char *host;               /* the host being tried */
    bool mx_secure;           /* the MX answer was DNSSEC-validated */
    bool loop;                /* the MX is ourselves: bounce, do not retry */
    bool tlsa_unusable;       /* secure TLSA records, none usable: encrypt anyway */
    bool sts_enforce;         /* the destination's MTA-STS policy is in force */
    struct dns_tlsa *tlsa;    /* DANE: this host's usable TLSA records */
    int ntlsa;
    struct sockaddr_storage *pending_addrs; /* waiting for the TLSA answer */
    int npending_addrs;
};

static void scan(struct runner *r);
static void dest_pump(struct runner *r, struct dest *d);
static void pump_all(struct runner *r);
static void attempt_next_host(struct attempt *a);
static void attempt_next_addr(struct attempt *a);
static void flush(struct runner *r);
static void release_waiting(struct runner *r);

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- messages and units ---- */

static void qmsg_unref(struct qmsg *m)
{
    if (!m || --m->refs > 0)
        return;
    if (m->mapped)
        munmap(m->data, m->len);
    else
        free(m->data);
    free(m->sender);
    free(m->origin);
    free(m->envid);
    free(m);
}

static void unit_free(struct unit *u)
{
    for (int i = 0; i < u->n; i++) {
        free(u->rcpts[i].address);
        free(u->rcpts[i].orcpt_type);
        free(u->rcpts[i].orcpt);
    }
    free(u->rcpts);
    qmsg_unref(u->m);
    free(u);
}

static char *dup0(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---- outcomes ---- */

static void outcome_add(struct runner *r, const struct qmsg *m, const struct qrcpt *q,
                        enum store_queue_outcome kind, int code, const char *enhanced,
                        const char *reply, const char *remote, bool attempted)
{
    if (r->nout == r->outcap) {
        r->outcap = r->outcap ? r->outcap * 2 : 64;
        r->out = xrealloc(r->out, sizeof(*r->out) * (size_t)r->outcap);
    }
    struct report_outcome *o = &r->out[r->nout++];
    memset(o, 0, sizeof(*o));
    int64_t now = now_s();
    o->rcpt_id = q->id;
    o->kind = kind;
    o->attempted = attempted;
    o->code = code;
    snprintf(o->enhanced, sizeof(o->enhanced), "%s", enhanced ? enhanced : "");
    o->reply = dup0(reply);
    o->remote = dup0(remote);
    o->address = xstrdup(q->address);
    o->orcpt_type = dup0(q->orcpt_type);
    o->orcpt = dup0(q->orcpt);
    o->notify = q->notify;
    o->attempts = q->attempts + (attempted ? 1 : 0);
    o->msg_id = xstrdup(m->id);
    o->sender = xstrdup(m->sender);
    o->envid = dup0(m->envid);
    o->ret = m->ret;
    o->created = m->created;
    o->smtputf8 = m->smtputf8;
    const struct config *cfg = r->cfg;
    bool may_notify = m->sender[0] != '\0';
    if (kind == STORE_QUEUE_DEFERRED) {
        int64_t wait = cfg->queue_retry_min / 1000;
        for (int i = 1; i < o->attempts && wait < cfg->queue_retry_max / 1000; i++)
            wait *= 2;
        if (wait > cfg->queue_retry_max / 1000)
            wait = cfg->queue_retry_max / 1000;
        o->next_attempt = now + wait;
        if (attempted && now - m->created >= cfg->queue_max_lifetime / 1000) {
            /* Given up: the bounce quotes the last reason. */
            o->kind = STORE_QUEUE_FAILED;
            o->expired = true;
        } else if (cfg->queue_delay_warning > 0 && !q->delay_notified && may_notify &&
                   now - m->created >= cfg->queue_delay_warning / 1000 &&
                   (q->notify == 0 || (q->notify & 8))) {
            o->delay_notice = true;
            o->retry_until = m->created + cfg->queue_max_lifetime / 1000;
        }
    }
    if (o->kind == STORE_QUEUE_FAILED)
        o->bounce = may_notify && !(q->notify & 1) && (q->notify == 0 || (q->notify & 4));
    const char *ev = o->kind == STORE_QUEUE_DELIVERED ? "sent"
                   : o->kind == STORE_QUEUE_FAILED ? "bounced"
                   : o->kind == STORE_QUEUE_DEFERRED ? "deferred" : "released";
    if (o->kind == STORE_QUEUE_DEFERRED)
        log_info("delivery", ev, "id=%s rcpt=%s host=%s attempt=%d next=%llds reply=%s", m->id,
                 log_q(q->address), remote ? remote : "-", o->attempts,
                 (long long)(o->next_attempt - now), log_q(reply ? reply : "-"));
    else
        log_info("delivery", ev, "id=%s rcpt=%s host=%s attempt=%d delay=%llds%s reply=%s", m->id,
                 log_q(q->address), remote ? remote : "-", o->attempts,
                 (long long)(now - m->created), o->expired ? " expired=yes" : "",
                 log_q(reply ? reply : "-"));
    /* Recorded from the loop, never from inside the caller's frame: the
     * caller may still set fields of this outcome, and batches grow. */
    if (!r->flushing && !event_pending(r->flush_ev, EV_TIMEOUT, NULL))
        event_active(r->flush_ev, 0, 0);
}

struct flush_job {
    struct runner *r;
    struct report_outcome *out;
    int n;
    struct store_tls_result *tls;
    int ntls;
    struct report_env renv;
    char *error;
    int result;
};

static void flush_work(void *arg)
{
    struct flush_job *j = arg;
    /* Reports first, then the results that caused them (runner.h). */
    j->result = report_send_all(&j->renv, j->out, j->n, &j->error);
    if (j->result != STORE_OK)
        return; /* the TLS results go with the failed batch: they only feed reports */
    struct store_queue_result *res = xcalloc((size_t)j->n, sizeof(*res));
    for (int i = 0; i < j->n; i++) {
        const struct report_outcome *o = &j->out[i];
        res[i] = (struct store_queue_result){
            .rcpt_id = o->rcpt_id,
            .outcome = o->kind,
            .next_attempt = o->next_attempt,
            .reply = o->reply,
            .attempted = o->attempted,
            .delay_notified = o->delay_notice,
        };
    }
    j->result = store_queue_record(j->renv.store, res, j->n, &j->error);
    free(res);
    char *err = NULL;
    if (store_queue_tls_count(j->renv.store, j->tls, j->ntls, &err) != STORE_OK)
        log_error("delivery", "tls-record-failed", "results=%d error=%s", j->ntls,
                  log_q(err ? err : "?"));
    free(err);
}

static void tls_results_free(struct store_tls_result *t, int n)
{
    for (int i = 0; i < n; i++) {
        free((char *)t[i].domain);
        free((char *)t[i].policy);
        free((char *)t[i].mx);
        free((char *)t[i].result);
    }
    free(t);
}

static void flush_done(void *arg)
{
    struct flush_job *j = arg;
    struct runner *r = j->r;
    r->jobs--;
    r->flushing = false;
    tls_results_free(j->tls, j->ntls); /* counted in flush_work, or lost: only for reports */
    if (j->result != STORE_OK) {
        /* Kept and tried again (a busy or full disk passes): recording is
         * idempotent; a report queued before the failure may go twice. */
        log_error("delivery", "record-failed", "outcomes=%d error=%s retry=5s", j->n,
                  log_q(j->error ? j->error : "?"));
        if (r->nout + j->n > r->outcap) {
            r->outcap = r->nout + j->n;
            r->out = xrealloc(r->out, sizeof(*r->out) * (size_t)r->outcap);
        }
        memcpy(r->out + r->nout, j->out, sizeof(*r->out) * (size_t)j->n);
        r->nout += j->n;
        free(j->out);
        free(j->error);
        free(j);
        struct timeval tv = { 5, 0 };
        event_add(r->flush_ev, &tv);
        return;
    }
    bool reports = false;
    for (int i = 0; i < j->n && j->result == STORE_OK; i++)
        reports |= j->out[i].bounce || j->out[i].delay_notice || j->out[i].success_notice;
    free(j->error);
    report_outcomes_free(j->out, j->n);
    free(j);
    if ((r->nout || r->ntls) && !event_pending(r->flush_ev, EV_TIMEOUT, NULL))
        flush(r);
    if (reports)
        scan(r); /* the reports just queued */
}

static void flush(struct runner *r)
{
    if (r->flushing || (r->nout == 0 && r->ntls == 0))
        return;
    struct flush_job *j = xcalloc(1, sizeof(*j));
    j->r = r;
    j->out = r->out;
    j->n = r->nout;
    r->out = NULL;
    r->nout = r->outcap = 0;
    j->tls = r->tls;
    j->ntls = r->ntls;
    r->tls = NULL;
    r->ntls = r->tlscap = 0;
    j->renv = (struct report_env){
        .store = r->env.store,
        .hostname = r->cfg->server_hostname,
    };
    r->flushing = true;
    r->jobs++;
    workers_submit(r->env.workers, flush_work, flush_done, j);
}

/* ---- destinations ---- */

static struct dest *dest_get(struct runner *r, const char *name, bool relay)
{
    for (struct dest *d = r->dests; d; d = d->next)
        if (d->relay == relay && !strcmp(d->name, name))
            return d;
    struct dest *d = xcalloc(1, sizeof(*d));
    d->name = xstrdup(name);
    d->relay = relay;
    d->relay_port = r->relay_port;
    d->r = r;
    d->sts_state = relay ? STS_DONE : STS_UNKNOWN;
    d->next = r->dests;
    r->dests = d;
    return d;
}

static void dest_free(struct dest *d)
{
    if (d->sts_q)
        dns_cancel(d->sts_q);
    if (d->sts_f)
        mtasts_fetch_cancel(d->sts_f);
    if (d->policy) {
        mtasts_policy_free(d->policy);
        free(d->policy);
    }
    free(d->name);
    free(d);
}

/* Frees the destinations with nothing to do. Only from the top of an
 * event (the scan): callbacks deeper down may still hold a destination. */
static void dests_sweep(struct runner *r)
{
    for (struct dest **p = &r->dests; *p;) {
        struct dest *d = *p;
        if (d->npending || d->nattempts || d->sts_state == STS_PENDING) {
            p = &d->next;
            continue;
        }
        *p = d->next;
        dest_free(d);
    }
}

static void dest_push(struct runner *r, struct dest *d, struct unit *u)
{
    u->next = NULL;
    if (d->tail)
        d->tail->next = u;
    else
        d->head = u;
    d->tail = u;
    d->npending++;
}

static struct unit *dest_pop(struct runner *r, struct dest *d)
{
    struct unit *u = d->head;
    if (!u)
        return NULL;
    d->head = u->next;
    if (!d->head)
        d->tail = NULL;
    d->npending--;
    r->waiting -= u->n;
    u->next = NULL;
    return u;
}

/* Every waiting unit of `d` gets the same outcome (a DNS failure, no
 * reachable host, a null MX). */
static void dest_fail_all(struct runner *r, struct dest *d, enum store_queue_outcome kind,
                          int code, const char *enhanced, const char *reply, bool attempted)
{
    struct unit *u;
    while ((u = dest_pop(r, d))) {
        for (int i = 0; i < u->n; i++)
            outcome_add(r, u->m, &u->rcpts[i], kind, code, enhanced, reply, NULL, attempted);
        unit_free(u);
    }
}

/* ---- one attempt: MX, addresses, a connection, transactions ---- */

static void clear_tlsa(struct attempt *a)
{
    for (int i = 0; i < a->ntlsa; i++)
        free((void *)a->tlsa[i].data);
    free(a->tlsa);
    a->tlsa = NULL;
    a->ntlsa = 0;
}

static void attempt_end(struct attempt *a)
{
    struct runner *r = a->r;
    struct dest *d = a->d;
    if (a->q)
        dns_cancel(a->q);
    a->q = NULL;
    if (!a->ready) {
        d->nconnecting--;
        d->fail_streak++;
    }
    d->nattempts--;
    r->nattempts--;
    if (a->prev)
        a->prev->next = a->next;
    else
        r->attempts = a->next;
    if (a->next)
        a->next->prev = a->prev;
    /* Nobody else is on it: what waits shares this attempt's fate. */
    if (d->nattempts == 0 && d->npending > 0 && !a->ready) {
        char *why = a->last_error ? xstrdup(a->last_error)
                                  : xasprintf("no mail server of %s could be reached", d->name);
        /* A refusal before any transaction (a 5xx greeting, EHLO or AUTH)
         * is the server's or our setup's state, not the message's fate:
         * deferred. Only a loop back to ourselves is final. */
        bool perm = a->loop;
        dest_fail_all(r, d, perm ? STORE_QUEUE_FAILED : STORE_QUEUE_DEFERRED, a->last_code,
                      perm ? "5.4.6" : "4.4.1", why, true);
        free(why);
    }
    for (int i = 0; i < a->nhosts; i++)
        free(a->hosts[i]);
    free(a->hosts);
    free(a->addrs);
    free(a->last_error);
    free(a->host);
    clear_tlsa(a);
    free(a);
    pump_all(r);
}

static void attempt_error(struct attempt *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void attempt_error(struct attempt *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(a->last_error);
    a->last_error = xvasprintf(fmt, ap);
    va_end(ap);
    a->last_code = code;
}

/* Counts what a TLS session used and how it went (RFC 8460 data). */
static void tls_note(struct attempt *a, const struct smtp_client_info *in)
{
    struct runner *r = a->r;
    if (!in->tls_result)
        return;
    if (r->ntls == r->tlscap) {
        r->tlscap = r->tlscap ? r->tlscap * 2 : 16;
        r->tls = xrealloc(r->tls, sizeof(*r->tls) * (size_t)r->tlscap);
    }
    r->tls[r->ntls++] = (struct store_tls_result){
        .when = now_s(),
        .domain = xstrdup(a->d->name),
        .policy = xstrdup(a->ntlsa > 0 ? "tlsa"
                          : a->d->policy ? "sts" : "no-policy-found"),
        .mx = xstrdup(a->host ? a->host : "-"),
        .result = xstrdup(in->tls_result),
    };
    if (!r->flushing && !event_pending(r->flush_ev, EV_TIMEOUT, NULL))
        event_active(r->flush_ev, 0, 0);
}

static void send_next(struct attempt *a)
{
    struct runner *r = a->r;
    if (r->stopping || a->sent >= r->cfg->queue_max_messages_per_connection ||
        !(a->cur = dest_pop(r, a->d))) {
        smtp_client_quit(a->cl);
        return;
    }
    struct unit *u = a->cur;
    struct smtp_client_rcpt *rc = xcalloc((size_t)u->n, sizeof(*rc));
    for (int i = 0; i < u->n; i++) {
        rc[i].address = u->rcpts[i].address;
        rc[i].notify = u->rcpts[i].notify;
        rc[i].orcpt_type = u->rcpts[i].orcpt_type;
        rc[i].orcpt = u->rcpts[i].orcpt;
    }
    a->txn = (struct smtp_client_txn){
        .sender = u->m->sender,
        .envid = u->m->envid,
        .ret = u->m->ret,
        .body = u->m->body,
        .smtputf8 = u->m->smtputf8,
        .requiretls = u->m->requiretls,
        .data = u->m->data,
        .len = u->m->len,
        .rcpts = rc,
        .nrcpts = u->n,
    };
    a->sent++;
    smtp_client_send(a->cl, &a->txn);
}

static void on_ready(void *ctx, struct smtp_client *cl)
{
    struct attempt *a = ctx;
    (void)cl;
    a->ready = true;
    a->d->nconnecting--;
    a->d->fail_streak = 0;
    tls_note(a, smtp_client_info(cl));
    send_next(a);
}

static void on_done(void *ctx, struct smtp_client *cl, struct smtp_client_txn *txn)
{
    struct attempt *a = ctx;
    struct runner *r = a->r;
    struct unit *u = a->cur;
    const struct smtp_client_info *in = smtp_client_info(cl);
    /* "452 4.5.3 too many recipients" (RFC 5321 §4.5.3.1.10) for some of
     * them: those go again at once in a transaction of their own, no
     * attempt counted. (For all of them it is a plain deferral.) */
    int too_many = 0;
    for (int i = 0; i < u->n; i++)
        too_many += txn->rcpts[i].code == 452 && !strcmp(txn->rcpts[i].enhanced, "4.5.3");
    struct unit *again = NULL;
    if (too_many > 0 && too_many < u->n) {
        again = xcalloc(1, sizeof(*again));
        again->m = u->m;
        u->m->refs++;
        again->rcpts = xcalloc((size_t)too_many, sizeof(*again->rcpts));
    }
    for (int i = 0; i < u->n; i++) {
        const struct smtp_client_rcpt *rc = &txn->rcpts[i];
        if (again && rc->code == 452 && !strcmp(rc->enhanced, "4.5.3")) {
            struct qrcpt *q = &again->rcpts[again->n++];
            *q = u->rcpts[i];
            u->rcpts[i].address = u->rcpts[i].orcpt_type = u->rcpts[i].orcpt = NULL;
            continue;
        }
        enum store_queue_outcome k;
        bool attempted = true;
        if (rc->code >= 200 && rc->code < 300)
            k = STORE_QUEUE_DELIVERED;
        else if (rc->code >= 500)
            k = STORE_QUEUE_FAILED;
        else if (rc->code == 0 && r->stopping) {
            k = STORE_QUEUE_RELEASED; /* our shutdown, not the remote's fault */
            attempted = false;
        } else
            k = STORE_QUEUE_DEFERRED;
        char remote[300];
        snprintf(remote, sizeof(remote), "%s[%s]", a->host ? a->host : a->d->name, in->peer);
        outcome_add(r, u->m, &u->rcpts[i], k, rc->code, rc->enhanced, rc->reply, remote,
                    attempted);
        if (k == STORE_QUEUE_DELIVERED && (u->rcpts[i].notify & 2) && !txn->dsn_passed)
            r->out[r->nout - 1].success_notice = true;
    }
    smtp_client_txn_clear(txn);
    free(txn->rcpts);
    txn->rcpts = NULL;
    unit_free(u);
    a->cur = NULL;
    if (again && r->stopping) {
        for (int i = 0; i < again->n; i++)
            outcome_add(r, again->m, &again->rcpts[i], STORE_QUEUE_RELEASED, 0, NULL, NULL, NULL,
                        false);
        unit_free(again);
        again = NULL;
    }
    if (again) {
        /* At the front: this connection takes it next. */
        again->next = a->d->head;
        a->d->head = again;
        if (!a->d->tail)
            a->d->tail = again;
        a->d->npending++;
        r->waiting += again->n;
    }
    if (smtp_client_is_ready(cl))
        send_next(a);
}

static void on_closed(void *ctx, struct smtp_client *cl, bool was_ready, int code,
                      const char *reply, bool tls_failed)
{
    struct attempt *a = ctx;
    a->cl = NULL;
    if (!was_ready)
        tls_note(a, smtp_client_info(cl));
    if (was_ready) {
        /* Its work is done or given back; the others go on. */
        attempt_end(a);
        return;
    }
    attempt_error(a, code, "%s", reply ? reply : "connection failed");
    log_info("delivery", "connect-failed", "domain=%s host=%s code=%d reason=%s", a->d->name,
             a->host ? a->host : "-", code, log_q(a->last_error));
    if (a->r->stopping) {
        attempt_end(a);
        return;
    }
    if (tls_failed && !a->plain_retry && !a->d->relay && !a->sts_enforce && a->ntlsa == 0 &&
        !a->tlsa_unusable) {
        /* Opportunistic TLS that failed: the same server without it
         * (RFC 7435: better plaintext than no delivery). */
        a->plain_retry = true;
        attempt_next_addr(a);
        return;
    }
    a->plain_retry = false;
    a->addr_i++;
    attempt_next_addr(a);
}

static const struct smtp_client_handler client_handler = {
    .ready = on_ready,
    .done = on_done,
    .closed = on_closed,
};

static void attempt_next_addr(struct attempt *a)
{
    struct runner *r = a->r;
    const struct config *cfg = r->cfg;
    if (r->stopping) {
        attempt_end(a);
        return;
    }
    if (a->addr_i >= a->naddrs) {
        a->host_i++;
        attempt_next_host(a);
        return;
    }
    struct sockaddr_storage ss = a->addrs[a->addr_i];
    int port = a->d->relay ? a->d->relay_port : (int)cfg->delivery_port;
    struct sockaddr_storage src;
    const struct sockaddr *source = NULL;
    memset(&src, 0, sizeof(src));
    if (ss.ss_family == AF_INET) {
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        if (cfg->delivery_source_ipv4[0]) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
            s4->sin_family = AF_INET;
            inet_pton(AF_INET, cfg->delivery_source_ipv4, &s4->sin_addr);
            source = (struct sockaddr *)&src;
        }
    } else {
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        if (cfg->delivery_source_ipv6[0]) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;
            s6->sin6_family = AF_INET6;
            inet_pton(AF_INET6, cfg->delivery_source_ipv6, &s6->sin6_addr);
            source = (struct sockaddr *)&src;
        }
    }
    bool relay = a->d->relay;
    /* DANE before MTA-STS (RFC 8461 §2); either forbids plaintext. */
    enum smtp_client_tls mode = relay || a->sts_enforce ? SMTP_TLS_VERIFY
                              : a->plain_retry ? SMTP_TLS_NONE : SMTP_TLS_OPPORTUNISTIC;
    if (a->ntlsa > 0 && !relay)
        mode = SMTP_TLS_DANE;
    else if (a->tlsa_unusable && !relay && !a->sts_enforce)
        mode = SMTP_TLS_ENCRYPT;
    struct smtp_client_params p = {
        .helo = cfg->server_hostname,
        .host = a->host,
        .tls = mode,
        .policy = mode == SMTP_TLS_DANE ? "dane" : relay ? "relay"
                : a->sts_enforce ? "mta-sts" : "none",
        /* RFC 8689 §4.2.1: an MX from DNSSEC or MTA-STS (TLS verified by
         * name or DANE is the client's own check). */
        .authenticated_mx = mode == SMTP_TLS_DANE || a->sts_enforce || relay || a->mx_secure,
        .tlsa = a->tlsa,
        .ntlsa = a->ntlsa,
        .ssl_ctx = r->ssl_ctx,
        .tls_name = a->host,
        .implicit_tls = relay && !strcmp(cfg->delivery_relay_tls, "implicit"),
        .auth_user = relay && cfg->delivery_relay_user[0] ? cfg->delivery_relay_user : NULL,
        .auth_password = relay ? r->relay_password : NULL,
        .connect_timeout_ms = cfg->delivery_connect_timeout,
        .command_timeout_ms = cfg->delivery_command_timeout,
        .data_timeout_ms = cfg->delivery_data_timeout,
        .source = source,
    };
    char *err = NULL;
    a->cl = smtp_client_connect(r->env.base, (struct sockaddr *)&ss, &p, &client_handler, a, &err);
    if (!a->cl) {
        attempt_error(a, 0, "%s: %s", a->host, err);
        free(err);
        a->plain_retry = false; /* the next address starts with TLS again */
        a->addr_i++;
        attempt_next_addr(a);
    }
}

static void on_tlsa(void *ctx, const struct dns_tlsa_result *res)
{
    struct attempt *a = ctx;
    a->q = NULL;
    clear_tlsa(a);
    a->tlsa_unusable = false;
    if (res->a.status == DNS_TEMPFAIL) {
        /* RFC 7672 §2.2.1: a TLSA lookup that fails (bogus, SERVFAIL) makes
         * the host unusable, not a host without DANE. */
        attempt_error(a, 0, "451 4.7.5 TLSA lookup for %s failed: %s", a->host,
                      res->a.error ? res->a.error : "temporary failure");
        a->addr_i = a->naddrs;
        attempt_next_addr(a);
        return;
    }
    if (res->a.status == DNS_OK && res->a.secure) {
        a->tlsa = xcalloc((size_t)res->n + 1, sizeof(*a->tlsa));
        for (int i = 0; i < res->n; i++) {
            const struct dns_tlsa *t = &res->tlsa[i];
            /* §3.1: only DANE-TA(2) and DANE-EE(3) are for SMTP. */
            if ((t->usage != 2 && t->usage != 3) || t->selector > 1 || t->mtype > 2)
                continue;
            unsigned char *data = xmalloc(t->len ? t->len : 1);
            memcpy(data, t->data, t->len);
            a->tlsa[a->ntlsa] = *t;
            a->tlsa[a->ntlsa++].data = data;
        }
        if (a->ntlsa == 0) {
            /* §2.2: TLSA records, none usable: encrypt, verify nothing —
             * but never plaintext. */
            a->tlsa_unusable = true;
            log_info("delivery", "dane-unusable", "domain=%s host=%s records=%d", a->d->name,
                     a->host, res->n);
        }
    }
    attempt_next_addr(a);
}

static void on_addrs(void *ctx, const struct dns_addr_result *res)
{
    struct attempt *a = ctx;
    a->q = NULL;
    free(a->addrs);
    a->addrs = NULL;
    a->naddrs = a->addr_i = 0;
    if (res->a.status == DNS_OK && res->n > 0) {
        a->addrs = xcalloc((size_t)res->n, sizeof(*a->addrs));
        memcpy(a->addrs, res->addrs, sizeof(*a->addrs) * (size_t)res->n);
        a->naddrs = res->n;
        /* DANE (RFC 7672 §2.2): TLSA records count only under a secure MX
         * and secure addresses. */
        struct runner *r = a->r;
        if (r->cfg->delivery_dane && a->mx_secure && res->a.secure && !a->d->relay) {
            char *name = xasprintf("_%d._tcp.%s", (int)r->cfg->delivery_port, a->host);
            a->q = dns_lookup_tlsa(r->env.dns, name, on_tlsa, a);
            free(name);
            return;
        }
    } else if (res->a.status == DNS_TEMPFAIL) {
        attempt_error(a, 0, "DNS lookup of %s failed: %s", a->host,
                      res->a.error ? res->a.error : "temporary failure");
    } else if (!a->last_error) {
        attempt_error(a, 0, "%s has no address (%s)", a->host, dns_status_name(res->a.status));
    }
    attempt_next_addr(a);
}

static bool is_ip_literal(const char *h, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static void attempt_next_host(struct attempt *a)
{
    struct runner *r = a->r;
    if (r->stopping || a->host_i >= a->nhosts) {
        attempt_end(a);
        return;
    }
    free(a->host);
    a->host = xstrdup(a->hosts[a->host_i]);
    clear_tlsa(a);
    a->tlsa_unusable = false;
    struct sockaddr_storage ss;
    if (is_ip_literal(a->host, &ss)) {
        free(a->addrs);
        a->addrs = xcalloc(1, sizeof(*a->addrs));
        a->addrs[0] = ss;
        a->naddrs = 1;
        a->addr_i = 0;
        attempt_next_addr(a);
        return;
    }
    if (!strcasecmp(a->host, r->cfg->server_hostname) && !a->d->relay) {
        /* Our own name as the MX of a domain that is not ours: mail would
         * come back to us for ever. */
        attempt_error(a, 554, "554 5.4.6 mail for %s loops back to myself (%s is its MX)",
                      a->d->name, a->host);
        a->loop = true;
        a->host_i++;
        attempt_next_host(a);
        return;
    }
    a->q = dns_lookup_addr(r->env.dns, a->host, r->cfg->delivery_ipv6 ? AF_UNSPEC : AF_INET,
                           on_addrs, a);
}

static void on_mx(void *ctx, const struct dns_mx_result *res)
{
    struct attempt *a = ctx;
    struct runner *r = a->r;
    struct dest *d = a->d;
    a->q = NULL;
    switch (res->a.status) {
    case DNS_OK:
        break;
    case DNS_NXDOMAIN: {
        char *why = xasprintf("550 5.1.2 The domain %s does not exist (DNS: NXDOMAIN)", d->name);
        attempt_error(a, 550, "%s", why);
        free(why);
        dest_fail_all(r, d, STORE_QUEUE_FAILED, 550, "5.1.2", a->last_error, true);
        attempt_end(a);
        return;
    }
    default:
        attempt_error(a, 0, "451 4.4.3 DNS lookup of the mail servers of %s failed: %s", d->name,
                      res->a.error ? res->a.error : dns_status_name(res->a.status));
        /* Other attempts under way carry on with what waits. */
        if (d->nattempts == 1)
            dest_fail_all(r, d, STORE_QUEUE_DEFERRED, 451, "4.4.3", a->last_error, true);
        attempt_end(a);
        return;
    }
    if (res->null_mx) {
        attempt_error(a, 556, "556 5.1.10 The domain %s accepts no mail (null MX, RFC 7505)",
                      d->name);
        dest_fail_all(r, d, STORE_QUEUE_FAILED, 556, "5.1.10", a->last_error, true);
        attempt_end(a);
        return;
    }
    a->mx_secure = res->a.secure;
    a->sts_enforce = d->policy && d->policy->mode == MTASTS_MODE_ENFORCE;
    /* RFC 5321 §5.1: when we are one of the domain's MX hosts (a backup),
     * only the better ones are for us to try; none left is a loop. */
    int ours = -1;
    for (int i = 0; i < res->n; i++)
        if (res->mx[i].host[0] && !strcasecmp(res->mx[i].host, r->cfg->server_hostname) &&
            (ours < 0 || res->mx[i].preference < ours))
            ours = res->mx[i].preference;
    a->hosts = xcalloc((size_t)res->n + 1, sizeof(*a->hosts));
    for (int i = 0; i < res->n; i++) {
        if (!res->mx[i].host[0] || (ours >= 0 && res->mx[i].preference >= ours))
            continue;
        /* MTA-STS enforce (RFC 8461 §4.1): only the MX hosts it names. */
        if (a->sts_enforce && !mtasts_mx_matches(d->policy, str_from_cstr(res->mx[i].host))) {
            log_info("delivery", "mta-sts-skip", "domain=%s host=%s", d->name, res->mx[i].host);
            continue;
        }
        a->hosts[a->nhosts++] = xstrdup(res->mx[i].host);
    }
    if (a->nhosts == 0 && ours >= 0) {
        attempt_error(a, 554, "554 5.4.6 mail for %s loops back to myself (we are its best MX)",
                      d->name);
        a->loop = true;
    } else if (a->nhosts == 0 && a->sts_enforce) {
        attempt_error(a, 0, "451 4.7.5 no MX host of %s matches its MTA-STS policy (enforce)",
                      d->name);
    }
    attempt_next_host(a);
}

static void attempt_start(struct runner *r, struct dest *d)
{
    struct attempt *a = xcalloc(1, sizeof(*a));
    a->r = r;
    a->d = d;
    d->nattempts++;
    d->nconnecting++;
    r->nattempts++;
    a->next = r->attempts;
    if (r->attempts)
        r->attempts->prev = a;
    r->attempts = a;
    if (d->relay) {
        a->hosts = xcalloc(1, sizeof(*a->hosts));
        a->hosts[0] = xstrdup(d->name); /* the relay's host, kept across reloads */
        a->nhosts = 1;
        attempt_next_host(a);
        return;
    }
    a->q = dns_lookup_mx(r->env.dns, d->name, on_mx, a);
}

/* ---- MTA-STS: the destination's policy, before its first attempt ---- */

static struct sts_entry *sts_cached(struct runner *r, const char *domain)
{
    for (struct sts_entry *e = r->sts; e; e = e->next)
        if (!strcmp(e->domain, domain))
            return e;
    return NULL;
}

static void sts_remember(struct runner *r, const char *domain, const struct mtasts_policy *p)
{
    struct sts_entry *e = sts_cached(r, domain);
    if (e) {
        mtasts_policy_free(&e->p);
    } else {
        e = xcalloc(1, sizeof(*e));
        e->domain = xstrdup(domain);
        e->next = r->sts;
        r->sts = e;
    }
    mtasts_policy_copy(&e->p, p);
}

struct sts_save_job {
    struct store *store;
    char *domain;
    struct buf text;
};

static void sts_save_work(void *arg)
{
    struct sts_save_job *j = arg;
    char *err = NULL;
    if (store_queue_sts_save(j->store, j->domain, buf_cstr(&j->text), &err) != STORE_OK)
        log_error("delivery", "mta-sts-save-failed", "domain=%s error=%s", j->domain,
                  log_q(err ? err : "?"));
    free(err);
}

static void sts_save_done(void *arg)
{
    struct sts_save_job *j = arg;
    free(j->domain);
    buf_free(&j->text);
    free(j);
}

/* Keeps a fetched policy across restarts. */
static void sts_save(struct runner *r, const char *domain, const struct mtasts_policy *p)
{
    struct sts_save_job *j = xcalloc(1, sizeof(*j));
    j->store = r->env.store;
    j->domain = xstrdup(domain);
    buf_init(&j->text, 0);
    mtasts_policy_serialize(p, &j->text);
    workers_submit(r->env.workers, sts_save_work, sts_save_done, j);
}

/* The destination's policy is known (p NULL: none): attempts may start. */
static void sts_done(struct dest *d, const struct mtasts_policy *p, const char *source,
                     const char *error)
{
    struct runner *r = d->r;
    d->sts_state = STS_DONE;
    if (p && p->mode != MTASTS_MODE_NONE) {
        d->policy = xcalloc(1, sizeof(*d->policy));
        mtasts_policy_copy(d->policy, p);
    }
    if (p || error)
        log_info("delivery", "mta-sts", "domain=%s mode=%s id=%s source=%s%s%s", d->name,
                 p ? mtasts_mode_name(p->mode) : "none", p && p->id[0] ? p->id : "-", source,
                 error ? " error=" : "", error ? log_q(error) : "");
    dest_pump(r, d);
}

/* A valid cached policy, or NULL (RFC 8461 §5.1: a cached policy stays in
 * force, whatever DNS says, until it expires). */
static const struct mtasts_policy *sts_valid_cache(struct runner *r, const char *domain)
{
    struct sts_entry *e = sts_cached(r, domain);
    return e && !mtasts_policy_expired(&e->p, (long long)now_s()) ? &e->p : NULL;
}

static void on_sts_fetched(void *ctx, enum mtasts_fetch_result result,
                           const struct mtasts_policy *policy, const char *error)
{
    struct dest *d = ctx;
    struct runner *r = d->r;
    d->sts_f = NULL;
    if (result == MTASTS_FETCH_OK && policy) {
        struct mtasts_policy p;
        mtasts_policy_copy(&p, policy);
        snprintf(p.id, sizeof(p.id), "%s", d->sts_id);
        p.fetched_at = (long long)now_s();
        sts_remember(r, d->name, &p);
        sts_save(r, d->name, &p);
        sts_done(d, &p, "fetched", NULL);
        mtasts_policy_free(&p);
        return;
    }
    /* §3.3 / §5.1: a failed fetch leaves a cached policy in force. */
    const struct mtasts_policy *c = sts_valid_cache(r, d->name);
    char *why = xasprintf("policy fetch failed (%s): %s", mtasts_fetch_result_name(result),
                          error ? error : "?");
    sts_done(d, c, c ? "cache" : "none", why);
    free(why);
}

static void on_sts_addrs(void *ctx, const struct dns_addr_result *res)
{
    struct dest *d = ctx;
    struct runner *r = d->r;
    d->sts_q = NULL;
    if (res->a.status != DNS_OK || res->n == 0) {
        const struct mtasts_policy *c = sts_valid_cache(r, d->name);
        char *why = xasprintf("mta-sts.%s has no address (%s)", d->name,
                              dns_status_name(res->a.status));
        sts_done(d, c, c ? "cache" : "none", why);
        free(why);
        return;
    }
    d->sts_f = mtasts_fetch_start(r->env.base, r->ssl_ctx, d->name, res->addrs, res->n, 443,
                                  STS_FETCH_TIMEOUT_MS, on_sts_fetched, d);
}

static void on_sts_txt(void *ctx, const struct dns_txt_result *res)
{
    struct dest *d = ctx;
    struct runner *r = d->r;
    d->sts_q = NULL;
    const struct mtasts_policy *c = sts_valid_cache(r, d->name);
    const char *why = NULL;
    enum mtasts_txt_status ts = MTASTS_TXT_NONE;
    if (res->a.status == DNS_OK)
        ts = mtasts_txt_select(res->txt, res->lens, res->n, d->sts_id, &why);
    if (ts != MTASTS_TXT_OK) {
        /* No record (or a broken one, or DNS failing): a cached policy
         * stays in force; without one, none applies. */
        sts_done(d, c, c ? "cache" : "none",
                 ts == MTASTS_TXT_INVALID ? why
                 : res->a.status == DNS_TEMPFAIL ? "TXT lookup failed" : NULL);
        return;
    }
    if (c && !strcmp(c->id, d->sts_id)) {
        sts_done(d, c, "cache", NULL);
        return;
    }
    char *host = xasprintf("mta-sts.%s", d->name);
    d->sts_q = dns_lookup_addr(r->env.dns, host, r->cfg->delivery_ipv6 ? AF_UNSPEC : AF_INET,
                               on_sts_addrs, d);
    free(host);
}

static void sts_discover(struct runner *r, struct dest *d)
{
    if (!r->cfg->delivery_mta_sts) {
        d->sts_state = STS_DONE;
        return;
    }
    d->sts_state = STS_PENDING;
    char *name = xasprintf("_mta-sts.%s", d->name);
    d->sts_q = dns_lookup_txt(r->env.dns, name, on_sts_txt, d);
    free(name);
}

static void dest_pump(struct runner *r, struct dest *d)
{
    const struct config *cfg = r->cfg;
    if (d->sts_state == STS_UNKNOWN && d->npending > 0 && !r->stopping)
        sts_discover(r, d);
    if (d->sts_state == STS_PENDING)
        return;
    /* A new connection only when work waits that the connections being
     * made will not take; and while connections fail before a session
     * (a server limiting how many of us it talks to), one at a time. */
    while (!r->stopping && d->npending > d->nconnecting &&
           !(d->fail_streak > 0 && d->nattempts > 0) &&
           d->nattempts < cfg->queue_max_connections_per_domain &&
           r->nattempts < cfg->queue_max_connections)
        attempt_start(r, d);
}

static void pump_all(struct runner *r)
{
    for (struct dest *d = r->dests; d; ) {
        struct dest *next = d->next;
        dest_pump(r, d);
        d = next;
    }
}

/* ---- scanning the queue ---- */

struct scan_job {
    struct runner *r;
    struct arena *a;
    struct store_queue_job *jobs;
    int njobs;
    int leased;
    /* For each job: the mapped file, and per recipient whether it is ours. */
    char **data;
    size_t *len;
    bool *mapped;
    signed char **local;      /* 1 local (done here), 0 remote, -1 unknown user */
    bool forwarded;           /* local delivery queued mail for an alias's outside targets */
    char *error;
    int result;
};

static bool relayed_domain(const struct config *cfg, const char *domain)
{
    if (!cfg->delivery_relay[0])
        return false;
    if (!cfg->delivery_relay_domains[0])
        return true;
    const char *p = cfg->delivery_relay_domains;
    size_t n = strlen(domain);
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == n && !strncasecmp(p, domain, n))
            return true;
        p = e;
    }
    return false;
}

static void scan_work(void *arg)
{
    struct scan_job *j = arg;
    j->result = store_queue_lease(j->r->env.store, j->a, now_s(), LEASE_BATCH, &j->jobs,
                                  &j->njobs, &j->error);
    if (j->result != STORE_OK)
        return;
    j->data = xcalloc((size_t)j->njobs + 1, sizeof(*j->data));
    j->len = xcalloc((size_t)j->njobs + 1, sizeof(*j->len));
    j->mapped = xcalloc((size_t)j->njobs + 1, sizeof(*j->mapped));
    j->local = xcalloc((size_t)j->njobs + 1, sizeof(*j->local));
    for (int i = 0; i < j->njobs; i++) {
        struct store_queue_job *q = &j->jobs[i];
        j->leased += q->nrcpts;
        char *path = store_queue_message_path(j->r->env.store, q->id);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        free(path);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
            size_t size = (size_t)st.st_size;
            if (size <= READ_MAX) {
                /* Small messages are read: a mapping costs more to undo
                 * (munmap's TLB flush) than the copy. */
                char *p = xmalloc(size);
                size_t got = 0;
                ssize_t n = 0;
                while (got < size && (n = read(fd, p + got, size - got)) > 0)
                    got += (size_t)n;
                if (got == size) {
                    j->data[i] = p;
                    j->len[i] = size;
                } else {
                    free(p);
                }
            } else {
                void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (p != MAP_FAILED) {
                    j->data[i] = p;
                    j->len[i] = size;
                    j->mapped[i] = true;
                }
            }
        }
        if (fd >= 0)
            close(fd);
        j->local[i] = xcalloc((size_t)q->nrcpts + 1, 1);
        /* Recipients of our own domains are delivered here, on this thread
         * (a bounce to one of our users, a mailbox that was full). */
        for (int k = 0; k < q->nrcpts && j->data[i]; k++) {
            struct store_resolution res;
            char *err = NULL;
            struct arena *ra = arena_new(0);
            if (store_resolve(j->r->env.store, ra, q->rcpts[k].address, &res, &err) != STORE_OK) {
                /* Not "remote": a busy database must not send our own
                 * users' mail to our own MX (a loop). Tried again later. */
                log_info("delivery", "local-failed", "id=%s rcpt=%s error=%s", q->id,
                         log_q(q->rcpts[k].address), log_q(err));
                free(err);
                arena_free(ra);
                j->local[i][k] = 2;
                continue;
            }
            if (res.status == STORE_RCPT_UNKNOWN_USER)
                j->local[i][k] = -1;
            else if (res.status == STORE_RCPT_LOCAL)
                j->local[i][k] = 1;
            if (j->local[i][k] == 1) {
                int worst = STORE_OK;
                char *why = NULL;
                /* An alias's outside targets go on the queue as a message of
                 * their own (the alias as their ORCPT), like mail forwarded
                 * by our SMTP service. */
                struct store_queue_rcpt *ext = xcalloc((size_t)res.ntargets + 1, sizeof(*ext));
                int next = 0;
                for (int t = 0; t < res.ntargets; t++)
                    if (res.targets[t].account_id <= 0)
                        ext[next++] = (struct store_queue_rcpt){
                            .address = res.targets[t].address, .notify = q->rcpts[k].notify,
                            .orcpt_type = "rfc822", .orcpt = q->rcpts[k].address };
                if (next) {
                    struct store_queue_msg fwd = {
                        .sender = q->sender, .origin = "forward", .envid = q->envid,
                        .ret = q->ret, .body = q->body, .smtputf8 = q->smtputf8,
                        .requiretls = q->requiretls, .data = j->data[i], .len = j->len[i],
                        .rcpts = ext, .nrcpts = next };
                    char fid[STORE_QUEUE_ID_LEN + 1];
                    int fr = store_queue_add(j->r->env.store, &fwd, fid, &err);
                    if (fr != STORE_OK) {
                        worst = fr;
                        why = err;
                        err = NULL;
                    } else {
                        j->forwarded = true;
                    }
                }
                free(ext);
                for (int t = 0; t < res.ntargets; t++) {
                    if (res.targets[t].account_id <= 0)
                        continue; /* queued above */
                    struct store_acct *acct;
                    int rr = store_acct_take(j->r->env.store, res.targets[t].account_id, &acct,
                                             &err);
                    if (rr == STORE_OK) {
                        struct store_append_req req = { .mailbox = "INBOX", .data = j->data[i],
                                                        .len = j->len[i] };
                        rr = store_message_append(acct, &req, NULL, &err);
                        store_acct_give(acct);
                    }
                    if (rr != STORE_OK) {
                        worst = rr;
                        free(why);
                        why = err;
                        err = NULL;
                    }
                }
                j->local[i][k] = worst == STORE_OK ? 1 : worst == STORE_ERR_QUOTA_PERM ? 3 : 2;
                if (why) {
                    log_info("delivery", "local-failed", "id=%s rcpt=%s error=%s", q->id,
                             log_q(q->rcpts[k].address), log_q(why));
                    free(why);
                }
            }
            arena_free(ra);
        }
    }
}

static void scan_done(void *arg)
{
    struct scan_job *j = arg;
    struct runner *r = j->r;
    r->jobs--;
    r->scanning = false;
    if (j->result != STORE_OK) {
        log_error("delivery", "scan-failed", "error=%s", log_q(j->error ? j->error : "?"));
    } else {
        for (int i = 0; i < j->njobs; i++) {
            struct store_queue_job *q = &j->jobs[i];
            struct qmsg *m = xcalloc(1, sizeof(*m));
            m->refs = 1;
            snprintf(m->id, sizeof(m->id), "%s", q->id);
            m->sender = xstrdup(q->sender ? q->sender : "");
            m->origin = xstrdup(q->origin ? q->origin : "");
            m->envid = dup0(q->envid);
            m->account_id = q->account_id;
            m->created = q->created;
            m->ret = q->ret;
            m->body = q->body;
            m->smtputf8 = q->smtputf8;
            m->requiretls = q->requiretls;
            m->data = j->data[i];
            m->len = j->len[i];
            m->mapped = j->mapped[i];
            /* Remote recipients by destination, at most
             * max_recipients_per_message per unit. */
            for (int k = 0; k < q->nrcpts; k++) {
                struct store_queue_job_rcpt *jr = &q->rcpts[k];
                struct qrcpt qr = { .id = jr->id, .address = (char *)jr->address,
                                    .notify = jr->notify, .orcpt_type = (char *)jr->orcpt_type,
                                    .orcpt = (char *)jr->orcpt, .attempts = jr->attempts,
                                    .delay_notified = jr->delay_notified };
                if (!m->data) {
                    /* The file is gone (dropped meanwhile) or unreadable. */
                    outcome_add(r, m, &qr, STORE_QUEUE_DEFERRED, 451, "4.3.0",
                                "451 4.3.0 the queued message file cannot be read", NULL, true);
                    continue;
                }
                signed char loc = j->local[i][k];
                if (loc == 1) {
                    outcome_add(r, m, &qr, STORE_QUEUE_DELIVERED, 250, "2.0.0",
                                "250 2.0.0 delivered to the mailbox", "local", true);
                    if (qr.notify & 2)
                        r->out[r->nout - 1].success_notice = true;
                    continue;
                }
                if (loc == 2 || loc == 3) {
                    outcome_add(r, m, &qr, loc == 3 ? STORE_QUEUE_FAILED : STORE_QUEUE_DEFERRED,
                                loc == 3 ? 552 : 452, loc == 3 ? "5.2.2" : "4.2.2",
                                loc == 3 ? "552 5.2.2 the mailbox is full"
                                         : "452 4.2.2 the mailbox cannot take the message now",
                                "local", true);
                    continue;
                }
                if (loc == -1) {
                    outcome_add(r, m, &qr, STORE_QUEUE_FAILED, 550, "5.1.1",
                                "550 5.1.1 no such user here", "local", true);
                    continue;
                }
                const char *at = strrchr(jr->address, '@');
                char *domain = NULL;
                const char *why = NULL;
                struct arena *da = arena_new(0);
                char *dn = NULL;
                if (at && store_domain_normalize(da, at + 1, &dn, &why) == STORE_OK)
                    domain = xstrdup(dn);
                arena_free(da);
                if (!domain) {
                    outcome_add(r, m, &qr, STORE_QUEUE_FAILED, 553, "5.1.3",
                                "553 5.1.3 the recipient's domain is not a valid domain name",
                                NULL, true);
                    continue;
                }
                bool relay = relayed_domain(r->cfg, domain);
                struct dest *d = dest_get(r, relay ? r->relay_host : domain, relay);
                free(domain);
                struct unit *u = d->tail;
                if (!u || u->m != m || u->n >= r->cfg->queue_max_recipients_per_message) {
                    u = xcalloc(1, sizeof(*u));
                    u->m = m;
                    m->refs++;
                    u->rcpts = xcalloc((size_t)r->cfg->queue_max_recipients_per_message,
                                       sizeof(*u->rcpts));
                    dest_push(r, d, u);
                }
                struct qrcpt *dst = &u->rcpts[u->n++];
                *dst = qr;
                dst->address = xstrdup(jr->address);
                dst->orcpt_type = dup0(jr->orcpt_type);
                dst->orcpt = dup0(jr->orcpt);
                r->waiting++;
            }
            qmsg_unref(m);
            free(j->local[i]);
        }
        log_debug("delivery", "scan", "leased=%d messages=%d waiting=%d", j->leased, j->njobs,
                  r->waiting);
    }
    if (r->stopping)
        release_waiting(r); /* leased while shutting down: back as they were */
    bool again = j->result == STORE_OK && (j->njobs >= LEASE_BATCH || j->forwarded);
    free(j->data);
    free(j->len);
    free(j->mapped);
    free(j->local);
    free(j->error);
    arena_free(j->a);
    free(j);
    pump_all(r);
    if (again || r->rescan) {
        r->rescan = false;
        scan(r);
    }
}

static void scan(struct runner *r)
{
    if (r->stopping)
        return;
    dests_sweep(r);
    if (r->scanning) {
        r->rescan = true;
        return;
    }
    if (r->waiting >= MAX_WAITING)
        return; /* the poll looks again once the backlog has gone out */
    r->scanning = true;
    struct scan_job *j = xcalloc(1, sizeof(*j));
    j->r = r;
    j->a = arena_new(0);
    r->jobs++;
    workers_submit(r->env.workers, scan_work, scan_done, j);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush(arg);
}

static void scan_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    scan(arg);
}

/* ---- life ---- */

struct release_job {
    struct runner *r;
    int result;
    char *error;
    struct buf sts;           /* kept MTA-STS policies: "domain\0policy\0" pairs */
};

static int sts_row(void *ctx, const char *domain, const char *policy)
{
    struct buf *b = ctx;
    buf_append(b, domain, strlen(domain) + 1);
    buf_append(b, policy, strlen(policy) + 1);
    return 0;
}

static void release_work(void *arg)
{
    struct release_job *j = arg;
    j->result = store_queue_release_leases(j->r->env.store, &j->error);
    int swept = 0;
    if (j->result == STORE_OK)
        j->result = store_queue_sweep(j->r->env.store, &swept, &j->error);
    if (j->result == STORE_OK)
        j->result = store_queue_sts_load(j->r->env.store, sts_row, &j->sts, &j->error);
}

static void release_done(void *arg)
{
    struct release_job *j = arg;
    struct runner *r = j->r;
    r->jobs--;
    if (j->result != STORE_OK)
        log_error("delivery", "release-failed", "error=%s", log_q(j->error ? j->error : "?"));
    /* The policies kept by the previous run stay in force (RFC 8461 §5.1:
     * a restart must not open a downgrade window). */
    for (size_t at = 0; at < j->sts.len;) {
        const char *domain = j->sts.p + at;
        at += strlen(domain) + 1;
        const char *text = j->sts.p + at;
        at += strlen(text) + 1;
        struct mtasts_policy p;
        char *err = NULL;
        if (mtasts_policy_deserialize(str_from_cstr(text), &p, &err) == 0) {
            if (!mtasts_policy_expired(&p, (long long)now_s()))
                sts_remember(r, domain, &p);
            mtasts_policy_free(&p);
        }
        free(err);
    }
    buf_free(&j->sts);
    free(j->error);
    free(j);
    if (r->stopping)
        return;
    struct timeval tv = { POLL_MS / 1000, (POLL_MS % 1000) * 1000 };
    event_add(r->poll_ev, &tv);
    scan(r);
}

static int load_settings(struct runner *r, const struct config *cfg, char **error_r)
{
    char host[256];
    int port = 587;
    char *password = NULL;
    if (cfg->delivery_relay[0] &&
        addr_parse_host_port(cfg->delivery_relay, host, sizeof(host), &port,
                             !strcmp(cfg->delivery_relay_tls, "implicit") ? 465 : 587) < 0) {
        *error_r = xasprintf("[delivery] relay: cannot parse %s", cfg->delivery_relay);
        return -1;
    }
    if (cfg->delivery_relay_password_file[0]) {
        FILE *f = fopen(cfg->delivery_relay_password_file, "r");
        if (!f) {
            *error_r = xasprintf("[delivery] relay_password_file: %s: %s",
                                 cfg->delivery_relay_password_file, strerror(errno));
            return -1;
        }
        char line[1024];
        if (!fgets(line, sizeof(line), f))
            line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        password = xstrdup(line);
        OPENSSL_cleanse(line, sizeof(line));
    }
    SSL_CTX *ctx = tls_client_ctx_new(cfg->delivery_tls_ca_file, error_r);
    if (!ctx) {
        free(password);
        return -1;
    }
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    r->ssl_ctx = ctx;
    free(r->relay_host);
    r->relay_host = cfg->delivery_relay[0] ? xstrdup(host) : NULL;
    r->relay_port = port;
    if (r->relay_password) {
        OPENSSL_cleanse(r->relay_password, strlen(r->relay_password));
        free(r->relay_password);
    }
    r->relay_password = password;
    r->cfg = cfg;
    return 0;
}

struct runner *runner_new(const struct runner_env *env, char **error_r)
{
    struct runner *r = xcalloc(1, sizeof(*r));
    r->env = *env;
    if (load_settings(r, env->cfg, error_r) < 0) {
        free(r);
        return NULL;
    }
    r->scan_ev = event_new(env->base, -1, 0, scan_cb, r);
    r->poll_ev = event_new(env->base, -1, EV_PERSIST, scan_cb, r);
    r->flush_ev = event_new(env->base, -1, 0, flush_cb, r);
    struct release_job *j = xcalloc(1, sizeof(*j));
    j->r = r;
    buf_init(&j->sts, 0);
    r->jobs++;
    workers_submit(env->workers, release_work, release_done, j);
    return r;
}

int runner_set_config(struct runner *r, const struct config *cfg, char **error_r)
{
    return load_settings(r, cfg, error_r);
}

void runner_kick(struct runner *r)
{
    if (r && !r->stopping)
        event_active(r->scan_ev, 0, 0);
}

/* Shutdown: the units still waiting go back to the queue as they were. */
static void release_waiting(struct runner *r)
{
    for (struct dest *d = r->dests; d; d = d->next) {
        struct unit *u;
        while ((u = dest_pop(r, d))) {
            for (int i = 0; i < u->n; i++)
                outcome_add(r, u->m, &u->rcpts[i], STORE_QUEUE_RELEASED, 0, NULL, NULL, NULL,
                            false);
            unit_free(u);
        }
    }
}

void runner_shutdown(struct runner *r)
{
    if (!r || r->stopping)
        return;
    r->stopping = true;
    event_del(r->poll_ev);
    event_del(r->scan_ev);
    release_waiting(r);
    for (struct dest *d = r->dests; d; d = d->next) {
        if (d->sts_q)
            dns_cancel(d->sts_q);
        if (d->sts_f)
            mtasts_fetch_cancel(d->sts_f);
        d->sts_q = NULL;
        d->sts_f = NULL;
        if (d->sts_state == STS_PENDING)
            d->sts_state = STS_DONE;
    }
    /* Attempts waiting for DNS end now; connections close through
     * conn_shutdown_all (their `done` releases what they carried). */
    for (struct attempt *a = r->attempts, *next; a; a = next) {
        next = a->next;
        if (a->q && !a->cl)
            attempt_end(a);
    }
}

bool runner_idle(const struct runner *r)
{
    return !r || (r->jobs == 0 && r->nattempts == 0 && r->nout == 0);
}

void runner_free(struct runner *r)
{
    if (!r)
        return;
    while (r->dests) {
        struct dest *d = r->dests;
        r->dests = d->next;
        struct unit *u;
        while ((u = dest_pop(r, d)))
            unit_free(u);
        dest_free(d);
    }
    while (r->sts) {
        struct sts_entry *e = r->sts;
        r->sts = e->next;
        mtasts_policy_free(&e->p);
        free(e->domain);
        free(e);
    }
    report_outcomes_free(r->out, r->nout);
    tls_results_free(r->tls, r->ntls);
    event_free(r->scan_ev);
    event_free(r->poll_ev);
    event_free(r->flush_ev);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    free(r->relay_host);
    if (r->relay_password) {
        OPENSSL_cleanse(r->relay_password, strlen(r->relay_password));
        free(r->relay_password);
    }
    free(r);
}
