/* SMTP sessions on real connections (see session.h): the engine's callbacks
 * answered with the store, the worker pool and the login throttle. */
#include "smtp/session.h"

#include <openssl/ssl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/password.h"
#include "core/log.h"
#include "mime/mime.h"
#include "smtp/headers.h"
#include "server/login.h"
#include "smtp/server.h"

struct delivery;

struct session {
    struct conn *c;
    const struct service *svc;
    const struct service_env *env;
    struct smtp_server *engine;
    struct event *greet_timer;
    struct login login;
    int refs;                  /* the connection's, plus one per job outstanding */
    bool closed;
    bool engine_paused;        /* the engine waits for an answer */
    bool output_paused;        /* the client is not reading its replies */
    enum smtp_mode mode;
    /* after AUTH */
    int64_t account_id;
    char *account;
    char *auth_mech;
    /* the transaction being delivered */
    struct delivery *dlv;
    unsigned txn_seq;
};

static void session_unref(struct session *ss)
{
    if (--ss->refs > 0)
        return;
    smtp_server_free(ss->engine);
    login_free(&ss->login);
    free(ss->account);
    free(ss->auth_mech);
    free(ss);
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- engine I/O ---- */

/* Replies queued for a client that does not read them: past this, stop
 * reading its commands until they drain (pipelining without reading would
 * otherwise grow our output buffer without bound). */
#define OUTPUT_HIGH (256u << 10)
#define OUTPUT_LOW (16u << 10)

static void update_reading(struct session *ss)
{
    if (ss->closed)
        return;
    if (ss->engine_paused || ss->output_paused)
        conn_pause_read(ss->c);
    else
        conn_resume_read(ss->c);
}

static void output_drained(struct conn *c, void *ctx)
{
    (void)c;
    struct session *ss = ctx;
    ss->output_paused = false;
    update_reading(ss);
}

static void cb_write(void *ctx, struct str bytes)
{
    struct session *ss = ctx;
    if (ss->closed)
        return;
    conn_write(ss->c, bytes);
    if (!ss->output_paused && conn_pending_output(ss->c) > OUTPUT_HIGH) {
        ss->output_paused = true;
        conn_set_drain(ss->c, OUTPUT_LOW, output_drained);
        update_reading(ss);
    }
}

static void cb_close(void *ctx, const char *reason)
{
    struct session *ss = ctx;
    if (!ss->closed)
        conn_close_after_flush(ss->c, reason);
}

static void cb_pause(void *ctx, bool paused)
{
    struct session *ss = ctx;
    ss->engine_paused = paused;
    update_reading(ss);
}

static void cb_data_phase(void *ctx, bool in_data)
{
    struct session *ss = ctx;
    if (!ss->closed)
        conn_set_idle_timeout(ss->c, in_data ? ss->env->cfg->smtp_data_timeout
                                             : ss->env->cfg->smtp_command_timeout);
}

static void cb_starttls(void *ctx)
{
    struct session *ss = ctx;
    service_starttls(ss->env, ss->c, "smtp");
}

static bool cb_channel_binding(void *ctx, struct sasl_channel_binding *out)
{
    struct session *ss = ctx;
    return !ss->closed && tls_exporter_binding(conn_ssl(ss->c), out->data, sizeof(out->data));
}

/* ---- MAIL and RCPT ---- */

/* True when `address` belongs to the logged-in account: its own address, a
 * sub-address of it, or an alias that delivers to it. */
static bool owns_address(struct session *ss, struct arena *a, const char *address)
{
    if (!address || !*address)
        return false;
    struct store_resolution res;
    char *err = NULL;
    if (store_resolve(ss->env->store, a, address, &res, &err) != STORE_OK) {
        free(err);
        return false;
    }
    if (res.status != STORE_RCPT_LOCAL)
        return false;
    for (int i = 0; i < res.ntargets; i++)
        if (res.targets[i].account_id == ss->account_id)
            return true;
    return false;
}

static void cb_mail(void *ctx, struct smtp_transaction *t)
{
    struct session *ss = ctx;
    if (ss->mode == SMTP_MODE_SUBMISSION && !owns_address(ss, t->arena, t->mail.path.address)) {
        log_info("smtp", "sender-refused", "session=%s user=%s from=%s", conn_id(ss->c),
                 log_q(ss->account), log_q(t->mail.path.address));
        smtp_server_reply(ss->engine, 553, "5.7.1",
                          "<%s>: Sender address not owned by %s; send as one of your addresses",
                          t->mail.path.address, ss->account);
        return;
    }
    smtp_server_reply(ss->engine, 250, "2.1.0", "Sender OK");
}

static int first_domain_cb(void *ctx, const struct store_domain *d)
{
    char **out = ctx;
    *out = xstrdup(d->name);
    return 1;
}

static void cb_rcpt(void *ctx, struct smtp_transaction *t, struct smtp_rcpt *r)
{
    struct session *ss = ctx;
    const char *address = r->args.path.address;
    struct store_resolution *res = arena_zalloc(t->arena, sizeof(*res));
    char *err = NULL;
    int rc;
    if (r->args.path.postmaster) {
        /* RCPT TO:<Postmaster> without a domain: the postmaster of our host
         * name, else of our first domain (RFC 5321 §4.5.1: it must always
         * be accepted). */
        const char *pm = "postmaster@";
        char *a1 = xasprintf("%s%s", pm, ss->env->cfg->server_hostname);
        rc = store_resolve(ss->env->store, t->arena, a1, res, &err);
        free(a1);
        if (rc == STORE_OK && res->status != STORE_RCPT_LOCAL) {
            char *dom = NULL;
            store_domain_list(ss->env->store, first_domain_cb, &dom, &err);
            if (dom) {
                char *a2 = xasprintf("%s%s", pm, dom);
                rc = store_resolve(ss->env->store, t->arena, a2, res, &err);
                free(a2);
                free(dom);
            }
        }
    } else {
        rc = store_resolve(ss->env->store, t->arena, address, res, &err);
    }
    if (rc != STORE_OK && rc != STORE_ERR_INVALID) {
        log_error("smtp", "resolve-failed", "session=%s rcpt=%s error=%s", conn_id(ss->c),
                  log_q(address), log_q(err));
        free(err);
        smtp_server_reply(ss->engine, 451, "4.3.0", "Temporary failure; try again later");
        return;
    }
    free(err);
    if (rc == STORE_ERR_INVALID) {
        /* Syntactically SMTP, but no address we could ever hold. */
        res->status = ss->mode == SMTP_MODE_SUBMISSION ? STORE_RCPT_NOT_LOCAL
                                                       : STORE_RCPT_UNKNOWN_USER;
    }
    switch (res->status) {
    case STORE_RCPT_LOCAL:
        r->target = res;
        smtp_server_reply(ss->engine, 250, "2.1.5", "Recipient OK");
        return;
    case STORE_RCPT_UNKNOWN_USER:
        log_info("smtp", "rcpt-refused", "session=%s ip=%s rcpt=%s reason=unknown-user",
                 conn_id(ss->c), ss->login.ip, log_q(address));
        smtp_server_reply(ss->engine, 550, "5.1.1", "<%s>: No such user here", address);
        return;
    case STORE_RCPT_NOT_LOCAL:
        if (ss->mode == SMTP_MODE_SUBMISSION) {
            /* Our user sends out: the queue takes it. */
            res->ntargets = 1;
            res->targets = arena_zalloc(t->arena, sizeof(*res->targets));
            res->targets[0].account_id = 0;
            res->targets[0].address = address;
            r->target = res;
            smtp_server_reply(ss->engine, 250, "2.1.5", "Recipient OK");
            return;
        }
        log_info("smtp", "rcpt-refused", "session=%s ip=%s rcpt=%s reason=relay",
                 conn_id(ss->c), ss->login.ip, log_q(address));
        smtp_server_reply(ss->engine, 554, "5.7.1", "<%s>: Relay access denied", address);
        return;
    }
}

/* ---- DATA: local mailboxes and the queue ---- */

/* One local mailbox a message goes to. */
struct local_target {
    struct delivery *d;
    int64_t account_id;
    const char *address;        /* the account's address (for a retry from the queue) */
    int result;
};

struct delivery {
    struct session *ss;
    struct smtp_transaction *t;
    struct buf data;            /* Return-Path + Received + the message */
    size_t rp_len;              /* the Return-Path line (not in the queue's copy) */
    struct store_append_req req;
    struct store_queue_msg qmsg;
    struct store_queue_rcpt *qrcpts;
    struct local_target *accounts;
    int naccounts;
    /* Mailboxes that failed while others took the message: queued for a
     * later attempt instead of a 451 that would duplicate it for the rest. */
    struct store_queue_msg retry;
    struct store_queue_rcpt *retry_rcpts;
    bool retry_started;
    int outstanding;
    int ok, temp_fail, quota_fail, quota_perm_fail, other_fail;
    char txn_id[24];
    char queue_id[STORE_QUEUE_ID_LEN + 1];
    struct timespec start;
};

static void retry_done(void *ctx, int result, const char *id, const char *error);
static void count_result(struct delivery *d, int result, const char *error, const char *what);

/* Some mailboxes took the message and some did not (one is full, a disk
 * error): answering 451 would make the client send it again to all of them.
 * Instead the failed ones go on the queue, which retries them (and bounces
 * in the end), and the client gets its 250. Returns true when started. */
static bool queue_failed_mailboxes(struct delivery *d)
{
    int n = 0;
    for (int i = 0; i < d->naccounts; i++)
        if (d->accounts[i].result != STORE_OK)
            n++;
    if (d->retry_started || d->ok == 0 || n == 0 || n != d->temp_fail + d->quota_fail +
                                                        d->quota_perm_fail + d->other_fail)
        return false;
    d->retry_started = true;
    d->retry_rcpts = xcalloc((size_t)n, sizeof(*d->retry_rcpts));
    for (int i = 0, j = 0; i < d->naccounts; i++)
        if (d->accounts[i].result != STORE_OK)
            d->retry_rcpts[j++].address = d->accounts[i].address;
    d->retry = (struct store_queue_msg){
        .sender = d->t->mail.path.address,
        .account_id = d->ss->mode == SMTP_MODE_SUBMISSION ? d->ss->account_id : 0,
        .origin = "local-retry",
        .envid = d->t->mail.envid,
        .ret = (int)d->t->mail.ret,
        .body = (int)d->t->mail.body,
        .smtputf8 = d->t->mail.smtputf8,
        .data = d->data.p + d->rp_len,
        .len = d->data.len - d->rp_len,
        .rcpts = d->retry_rcpts,
        .nrcpts = n,
    };
    d->outstanding = 1;
    store_queue_add_async(d->ss->env->store, &d->retry, retry_done, d);
    return true;
}

static void delivery_finish(struct delivery *d)
{
    struct session *ss = d->ss;
    struct smtp_transaction *t = d->t;
    if (queue_failed_mailboxes(d))
        return;
    int failed = d->temp_fail + d->quota_fail + d->quota_perm_fail + d->other_fail;
    const struct smtp_session_info *info = smtp_server_info(ss->engine);
    SSL *ssl = ss->closed ? NULL : conn_ssl(ss->c);
    log_info("smtp", failed ? "deliver-failed" : "deliver",
             "session=%s id=%s from=%s rcpt=%u size=%zu tls=%s user=%s local=%d queued=%d "
             "failed=%d ms=%.1f", ss->closed ? "-" : conn_id(ss->c), d->txn_id,
             log_q(t->mail.path.address), t->nrcpts, t->message.len,
             info->tls && ssl ? tls_version_name(ssl) : "no", ss->account ? log_q(ss->account) : "-",
             d->naccounts, d->qmsg.nrcpts, failed, elapsed_ms(&d->start));
    if (!ss->closed) {
        if (failed == 0)
            smtp_server_reply(ss->engine, 250, "2.0.0", "OK: message %s accepted", d->txn_id);
        else if (failed == d->quota_perm_fail && d->ok == 0)
            smtp_server_reply(ss->engine, 552, "5.2.2", "Mailbox full");
        else if (failed == d->quota_fail + d->quota_perm_fail && d->ok == 0)
            smtp_server_reply(ss->engine, 452, "4.2.2", "Mailbox full; try again later");
        else
            smtp_server_reply(ss->engine, 451, "4.3.0",
                              "Temporary failure storing the message; try again later");
    }
    ss->dlv = NULL;
    buf_free(&d->data);
    free(d->qrcpts);
    free(d->retry_rcpts);
    free(d->accounts);
    free(d);
    session_unref(ss);
}

static void retry_done(void *ctx, int result, const char *id, const char *error)
{
    struct delivery *d = ctx;
    if (result == STORE_OK) {
        log_info("smtp", "deliver-deferred", "id=%s queue=%s mailboxes=%d", d->txn_id, id,
                 d->retry.nrcpts);
        runner_kick(d->ss->env->runner);
        /* Every failure is now the queue's: the message is accepted. */
        d->temp_fail = d->quota_fail = d->quota_perm_fail = d->other_fail = 0;
    } else {
        count_result(d, result, error, "queue");
    }
    d->outstanding = 0;
    delivery_finish(d);
}

static void count_result(struct delivery *d, int result, const char *error, const char *what)
{
    switch (result) {
    case STORE_OK: d->ok++; return;
    case STORE_ERR_QUOTA: d->quota_fail++; break;
    case STORE_ERR_QUOTA_PERM: d->quota_perm_fail++; break;
    case STORE_ERR_IO: d->temp_fail++; break;
    default: d->other_fail++; break;
    }
    log_error("smtp", "store-failed", "id=%s target=%s error=%s", d->txn_id, what,
              log_q(error ? error : "?"));
}

static void append_done(void *ctx, int result, uint32_t uid, const char *error)
{
    struct local_target *lt = ctx;
    struct delivery *d = lt->d;
    (void)uid;
    lt->result = result;
    count_result(d, result, error, "mailbox");
    if (--d->outstanding == 0)
        delivery_finish(d);
}

static void queue_done(void *ctx, int result, const char *id, const char *error)
{
    struct delivery *d = ctx;
    if (result == STORE_OK && id) {
        snprintf(d->queue_id, sizeof(d->queue_id), "%s", id);
        runner_kick(d->ss->env->runner);
    }
    count_result(d, result, error, "queue");
    if (--d->outstanding == 0)
        delivery_finish(d);
}

/* Submission: every From: address must be the user's. Returns NULL when
 * fine, else the offending address (from the arena) or "" for no From. */
static const char *from_not_owned(struct session *ss, struct arena *a, struct str header)
{
    struct mime_header_iter it;
    struct mime_field f;
    unsigned mailboxes = 0;
    mime_header_iter_init(&it, header);
    while (mime_header_next(&it, &f)) {
        if (!str_eq_nocase_cstr(f.name, "From"))
            continue;
        bool truncated = false;
        struct mime_addresses list = mime_addresses_parse(a, f.value, 100, &truncated);
        if (truncated)
            return "(more than 100 addresses)"; /* never let one go unchecked */
        for (unsigned i = 0; i < list.n; i++) {
            const struct mime_address *m = &list.v[i];
            if (m->kind != MIME_ADDR_MAILBOX)
                continue;
            mailboxes++;
            char *addr = arena_alloc(a, m->mailbox.len + m->domain.len + 2);
            memcpy(addr, m->mailbox.p, m->mailbox.len);
            addr[m->mailbox.len] = '@';
            memcpy(addr + m->mailbox.len + 1, m->domain.p, m->domain.len);
            addr[m->mailbox.len + 1 + m->domain.len] = '\0';
            if (!owns_address(ss, a, addr))
                return addr;
        }
    }
    return mailboxes ? NULL : "";
}

static void add_account(struct delivery *d, int64_t id, const char *address)
{
    for (int i = 0; i < d->naccounts; i++)
        if (d->accounts[i].account_id == id)
            return;
    d->accounts[d->naccounts++] = (struct local_target){ d, id, address, STORE_OK };
}

static bool queued_already(const struct delivery *d, const char *address)
{
    for (int i = 0; i < d->qmsg.nrcpts; i++)
        if (strcasecmp(d->qrcpts[i].address, address) == 0)
            return true;
    return false;
}

static void cb_data(void *ctx, struct smtp_transaction *t)
{
    struct session *ss = ctx;
    const struct config *cfg = ss->env->cfg;
    struct str msg = t->message;
    size_t hend = smtp_header_end(msg);
    struct str header = { msg.p, hend };

    if (ss->mode == SMTP_MODE_SUBMISSION) {
        const char *bad = from_not_owned(ss, t->arena, header);
        if (bad) {
            log_info("smtp", "sender-refused", "session=%s user=%s header-from=%s",
                     conn_id(ss->c), log_q(ss->account), log_q(*bad ? bad : "(none)"));
            if (*bad)
                smtp_server_reply(ss->engine, 553, "5.7.1",
                                  "From: <%s> is not an address of %s; send as one of your "
                                  "addresses", bad, ss->account);
            else
                smtp_server_reply(ss->engine, 550, "5.6.0",
                                  "The message has no From: header with an address");
            return;
        }
    }

    struct delivery *d = xcalloc(1, sizeof(*d));
    d->ss = ss;
    d->t = t;
    clock_gettime(CLOCK_MONOTONIC, &d->start);
    snprintf(d->txn_id, sizeof(d->txn_id), "%s.%u", conn_id(ss->c), ++ss->txn_seq);
    buf_init(&d->data, 0);

    const struct smtp_session_info *info = smtp_server_info(ss->engine);
    buf_printf(&d->data, "Return-Path: <%s>\r\n", t->mail.path.address);
    d->rp_len = d->data.len;
    SSL *ssl = conn_ssl(ss->c);
    struct smtp_received rcv = {
        .helo = info->helo,
        .ip = ss->login.ip,
        .hostname = cfg->server_hostname,
        .esmtp = info->esmtp,
        .tls = info->tls,
        .auth = info->auth_user != NULL,
        .utf8 = t->mail.smtputf8,
        .tls_version = ssl ? tls_version_name(ssl) : NULL,
        .tls_cipher = ssl ? tls_cipher_name(ssl) : NULL,
        .id = d->txn_id,
        .for_rcpt = t->nrcpts == 1 ? t->rcpts[0].args.path.address : NULL,
        .when = time(NULL),
    };
    smtp_received_append(&d->data, &rcv);
    if (ss->mode == SMTP_MODE_SUBMISSION) {
        struct mime_field f;
        if (!mime_header_find(header, "Date", &f)) {
            char date[64];
            smtp_format_date(time(NULL), date, sizeof(date));
            buf_printf(&d->data, "Date: %s\r\n", date);
        }
        if (!mime_header_find(header, "Message-ID", &f))
            smtp_message_id_append(&d->data, cfg->server_hostname);
    }
    buf_append(&d->data, msg.p, msg.len);

    /* Who gets it: accounts (deduplicated) and external addresses. */
    unsigned max_targets = 0;
    for (unsigned i = 0; i < t->nrcpts; i++)
        max_targets += (unsigned)((struct store_resolution *)t->rcpts[i].target)->ntargets;
    d->accounts = xcalloc(max_targets + 1, sizeof(*d->accounts));
    d->qrcpts = xcalloc(max_targets + 1, sizeof(*d->qrcpts));
    for (unsigned i = 0; i < t->nrcpts; i++) {
        const struct smtp_rcpt *r = &t->rcpts[i];
        const struct store_resolution *res = r->target;
        for (int j = 0; j < res->ntargets; j++) {
            const struct store_target *tg = &res->targets[j];
            if (tg->account_id > 0) {
                add_account(d, tg->account_id, tg->address);
            } else if (!queued_already(d, tg->address)) {
                struct store_queue_rcpt *q = &d->qrcpts[d->qmsg.nrcpts++];
                q->address = tg->address;
                q->notify = r->args.notify;
                /* Forwarded through an alias: the original recipient travels
                 * along for DSNs (RFC 3461 §4.2). */
                q->orcpt_type = r->args.orcpt_type ? r->args.orcpt_type : "rfc822";
                q->orcpt = r->args.orcpt ? r->args.orcpt : r->args.path.address;
            }
        }
    }

    d->req = (struct store_append_req){
        .mailbox = "INBOX",
        .data = d->data.p,
        .len = d->data.len,
    };
    if (d->qmsg.nrcpts) {
        d->qmsg.sender = t->mail.path.address;
        d->qmsg.account_id = ss->mode == SMTP_MODE_SUBMISSION ? ss->account_id : 0;
        d->qmsg.origin = ss->mode == SMTP_MODE_SUBMISSION ? "submission" : "forward";
        d->qmsg.envid = t->mail.envid;
        d->qmsg.ret = (int)t->mail.ret;
        d->qmsg.body = (int)t->mail.body;
        d->qmsg.smtputf8 = t->mail.smtputf8;
        d->qmsg.requiretls = t->mail.requiretls;
        d->qmsg.data = d->data.p + d->rp_len;
        d->qmsg.len = d->data.len - d->rp_len;
        d->qmsg.rcpts = d->qrcpts;
    }
    d->outstanding = d->naccounts + (d->qmsg.nrcpts ? 1 : 0);
    ss->dlv = d;
    ss->refs++;
    if (d->outstanding == 0) { /* cannot happen: every accepted RCPT has a target */
        delivery_finish(d);
        return;
    }
    int n = d->naccounts;
    bool queue = d->qmsg.nrcpts > 0;
    for (int i = 0; i < n; i++)
        store_append_async(ss->env->store, d->accounts[i].account_id, &d->req, append_done,
                           &d->accounts[i]);
    if (queue)
        store_queue_add_async(ss->env->store, &d->qmsg, queue_done, d);
}

/* ---- AUTH: the engine's callbacks go to the shared login code ---- */

static unsigned cb_auth_blocked(void *ctx)
{
    return login_blocked(&((struct session *)ctx)->login);
}

static void cb_auth_password(void *ctx, const char *user, struct str password)
{
    login_password(&((struct session *)ctx)->login, user, password);
}

static void cb_auth_scram(void *ctx, const char *user)
{
    login_scram(&((struct session *)ctx)->login, user);
}

static void cb_auth_done(void *ctx, const char *user, bool ok, const char *reason)
{
    login_done(&((struct session *)ctx)->login, user, ok, reason);
}

static void login_ref(void *owner) { ((struct session *)owner)->refs++; }
static void login_unref(void *owner) { session_unref(owner); }
static bool login_gone(void *owner) { return ((struct session *)owner)->closed; }
static void login_checked(void *owner, bool ok)
{
    smtp_server_auth_checked(((struct session *)owner)->engine, ok);
}
static void login_credentials(void *owner, const struct auth_credentials *cred)
{
    smtp_server_auth_credentials(((struct session *)owner)->engine, cred);
}
static void login_finished(void *owner, bool ok, bool temporary)
{
    struct session *ss = owner;
    if (ok) {
        ss->account_id = ss->login.account_id;
        free(ss->account);
        ss->account = xstrdup(ss->login.account);
    }
    smtp_server_auth_finished(ss->engine, ok, temporary);
}

/* ---- the connection ---- */

static void on_read(struct conn *c, void *ctx, struct str bytes)
{
    (void)c;
    struct session *ss = ctx;
    smtp_server_input(ss->engine, bytes);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    (void)c;
    struct session *ss = ctx;
    smtp_server_tls_started(ss->engine);
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
    struct session *ss = ctx;
    log_debug(ss->svc->name, "disconnect", "session=%s reason=%s", conn_id(c), log_q(reason));
    ss->closed = true;
    if (ss->greet_timer) {
        event_free(ss->greet_timer);
        ss->greet_timer = NULL;
    }
    login_close(&ss->login);
    session_unref(ss);
}

static void on_shutdown(struct conn *c, void *ctx)
{
    (void)c;
    struct session *ss = ctx;
    smtp_server_shutdown(ss->engine);
}

static void on_timeout(struct conn *c, void *ctx)
{
    (void)c;
    struct session *ss = ctx;
    smtp_server_timeout(ss->engine);
}

static const struct conn_handler handler = {
    .read = on_read,
    .tls_ready = on_tls_ready,
    .closed = on_closed,
    .shutdown = on_shutdown,
    .timeout = on_timeout,
};

static const struct smtp_server_callbacks callbacks = {
    .write = cb_write,
    .close = cb_close,
    .pause = cb_pause,
    .data_phase = cb_data_phase,
    .starttls = cb_starttls,
    .channel_binding = cb_channel_binding,
    .mail = cb_mail,
    .rcpt = cb_rcpt,
    .data = cb_data,
    .auth_blocked = cb_auth_blocked,
    .auth_password = cb_auth_password,
    .auth_scram = cb_auth_scram,
    .auth_done = cb_auth_done,
};

static void greet_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct session *ss = arg;
    event_free(ss->greet_timer);
    ss->greet_timer = NULL;
    smtp_server_greet(ss->engine);
}

void smtp_session_start(struct conn *c, const struct service *svc, const struct service_env *env)
{
    const struct config *cfg = env->cfg;
    struct session *ss = xcalloc(1, sizeof(*ss));
    ss->c = c;
    ss->svc = svc;
    ss->env = env;
    ss->refs = 1;
    ss->mode = strcmp(svc->name, "smtp") == 0 ? SMTP_MODE_MX : SMTP_MODE_SUBMISSION;
    login_init(&ss->login, env, "smtp", c);
    ss->login.owner = ss;
    ss->login.ref = login_ref;
    ss->login.unref = login_unref;
    ss->login.gone = login_gone;
    ss->login.checked = login_checked;
    ss->login.credentials = login_credentials;
    ss->login.finished = login_finished;
    long long pause = ss->mode == SMTP_MODE_MX ? cfg->smtp_greet_pause : 0;
    struct smtp_server_config sc = {
        .mode = ss->mode,
        .hostname = cfg->server_hostname,
        .session = conn_id(c),
        .tls_active = svc->implicit_tls,
        .starttls = !svc->implicit_tls && env->tls != NULL,
        .auth_plaintext = cfg->auth_plaintext_on_loopback && conn_peer_is_loopback(c),
        .greet_later = pause > 0,
        .max_line = (size_t)cfg->smtp_max_line_length,
        .max_message_size = (uint64_t)cfg->smtp_max_message_size,
        .max_recipients = (unsigned)cfg->smtp_max_recipients,
        .max_errors = (unsigned)cfg->smtp_max_errors,
        .sasl_secret = env->secret,
    };
    ss->engine = smtp_server_new(&sc, &callbacks, ss);
    conn_set_handler(c, &handler, ss);
    conn_set_idle_timeout(c, cfg->smtp_command_timeout);
    log_debug(svc->name, "session", "session=%s peer=%s", conn_id(c), conn_peer(c));
    if (pause > 0) {
        struct timeval tv = { pause / 1000, (pause % 1000) * 1000 };
        ss->greet_timer = evtimer_new(env->base, greet_now, ss);
        evtimer_add(ss->greet_timer, &tv);
    } else {
        smtp_server_greet(ss->engine);
    }
}
