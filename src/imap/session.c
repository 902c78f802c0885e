/* IMAP sessions on real connections (see session.h and internal.h). */
#include "imap/session.h"

#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/workers.h"
#include "imap/internal.h"
#include "imap/mutf7.h"
#include "server/usercount.h"

/* The module name; its address identifies IMAP in usercount. */
static const char IMAP_MODULE[] = "imap";

const char imap_capabilities[] =
    "IMAP4rev2 IMAP4rev1 LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE "
    "SPECIAL-USE CHILDREN COMPRESS=DEFLATE CONDSTORE QRESYNC SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
    "MULTIAPPEND LIST-EXTENDED LIST-STATUS QUOTA QUOTA=RES-STORAGE SEARCHRES BINARY ESEARCH "
    "STATUS=SIZE";

/* Replies queued for a client that does not read them: stop reading its
 * commands past this (see smtp/session.c). */
#define OUTPUT_HIGH (256u << 10)
#define OUTPUT_LOW (16u << 10)

static void session_unref(struct imap_session *ss)
{
    if (--ss->refs > 0)
        return;
    imap_server_free(ss->engine);
    login_free(&ss->login);
    if (ss->watch)
        store_watch_remove(ss->watch);
    while (ss->events) {
        struct imap_event *e = ss->events;
        ss->events = e->next;
        free(e->mailbox);
        free(e);
    }
    store_acct_close(ss->acct);
    imap_view_clear(&ss->view);
    free(ss->selected);
    free(ss);
}

/* ---- engine I/O ---- */

static void update_reading(struct imap_session *ss)
{
    if (ss->closed)
        return;
    if (ss->engine_paused || ss->output_paused)
        conn_pause_read(ss->c);
    else
        conn_resume_read(ss->c);
}

static void run_next(struct imap_session *ss);

static void output_drained(struct conn *c, void *ctx)
{
    (void)c;
    struct imap_session *ss = ctx;
    ss->output_paused = false;
    update_reading(ss);
    run_next(ss);
}

static void cb_write(void *ctx, struct str bytes)
{
    struct imap_session *ss = ctx;
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
    struct imap_session *ss = ctx;
    if (!ss->closed)
        conn_close_after_flush(ss->c, reason);
}

static void cb_pause(void *ctx, bool paused)
{
    struct imap_session *ss = ctx;
    ss->engine_paused = paused;
    update_reading(ss);
}

static void cb_starttls(void *ctx)
{
    struct imap_session *ss = ctx;
    service_starttls(ss->env, ss->c, "imap");
}

static void cb_compress(void *ctx)
{
    struct imap_session *ss = ctx;
    if (conn_compress(ss->c) < 0) {
        log_error("imap", "compress-failed", "session=%s", conn_id(ss->c));
        conn_close_after_flush(ss->c, "compress failed");
    }
}

static bool cb_channel_binding(void *ctx, struct sasl_channel_binding *out)
{
    struct imap_session *ss = ctx;
    return !ss->closed && tls_exporter_binding(conn_ssl(ss->c), out->data, sizeof(out->data));
}

/* ---- login ---- */

static unsigned cb_auth_blocked(void *ctx)
{
    return login_blocked(&((struct imap_session *)ctx)->login);
}

static void cb_auth_password(void *ctx, const char *user, struct str password)
{
    login_password(&((struct imap_session *)ctx)->login, user, password);
}

static void cb_auth_scram(void *ctx, const char *user)
{
    login_scram(&((struct imap_session *)ctx)->login, user);
}

static void cb_auth_done(void *ctx, const char *user, bool ok, const char *reason)
{
    login_done(&((struct imap_session *)ctx)->login, user, ok, reason);
}

static void login_ref(void *owner) { ((struct imap_session *)owner)->refs++; }
static void login_unref(void *owner) { session_unref(owner); }
static bool login_gone(void *owner) { return ((struct imap_session *)owner)->closed; }
static void login_checked(void *owner, bool ok)
{
    imap_server_auth_checked(((struct imap_session *)owner)->engine, ok);
}
static void login_credentials(void *owner, const struct auth_credentials *cred)
{
    imap_server_auth_credentials(((struct imap_session *)owner)->engine, cred);
}
static void login_finished(void *owner, bool ok, bool temporary)
{
    struct imap_session *ss = owner;
    if (ok) {
        unsigned n = usercount_get(IMAP_MODULE, ss->login.account_id);
        if (n >= (unsigned)ss->env->cfg->imap_max_connections_per_user) {
            log_info("imap", "user-limit", "session=%s user=%s connections=%u",
                     conn_id(ss->c), log_q(ss->login.account), n);
            ss->login.account_id = 0;
            imap_server_auth_limited(ss->engine);
            return;
        }
        usercount_add(IMAP_MODULE, ss->login.account_id);
        ss->counted = ss->login.account_id;
    }
    imap_server_auth_finished(ss->engine, ok, temporary);
}

/* ---- jobs ---- */

void imap_job_result(struct imap_job *j, const char *status, const char *code, const char *fmt, ...)
{
    j->status = status;
    buf_clear(&j->code);
    buf_append_cstr(&j->code, code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->text, sizeof(j->text), fmt, ap);
    va_end(ap);
}

void imap_job_store_error(struct imap_job *j, int r, const char *error)
{
    switch (r) {
    case STORE_ERR_NOT_FOUND:
        imap_job_result(j, "NO", "NONEXISTENT", "No such mailbox");
        break;
    case STORE_ERR_EXISTS:
        imap_job_result(j, "NO", "ALREADYEXISTS", "Mailbox already exists");
        break;
    case STORE_ERR_INVALID:
        imap_job_result(j, "NO", "CANNOT", "%s", error ? error : "Not allowed");
        break;
    case STORE_ERR_QUOTA:
    case STORE_ERR_QUOTA_PERM:
        imap_job_result(j, "NO", "OVERQUOTA", "Quota exceeded");
        break;
    default:
        log_error("imap", "store-failed", "session=%s error=%s", j->ss->id,
                  log_q(error ? error : "?"));
        imap_job_result(j, "NO", "SERVERBUG", "Internal error; try again later");
        break;
    }
}

char *imap_name_from_wire(struct imap_job *j, struct str name)
{
    if (j->utf8)
        return arena_strndup(j->arena, name.p, name.len);
    return imap_mutf7_decode(j->arena, name);
}

static void job_run(struct imap_job *j);

/* The account's handle is the pool's between jobs: an idle client holds
 * none (see store_acct_take). */
static void job_work(void *arg)
{
    struct imap_job *j = arg;
    struct imap_session *ss = j->ss;
    /* A parked command's next batch (see internal.h); it sets resume
     * again when there is more. */
    void (*resume)(struct imap_job *) = j->resume;
    j->resume = NULL;
    char *err = NULL;
    int r = store_acct_take(ss->env->store, ss->login.account_id, &ss->acct, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    store_acct_set_origin(ss->acct, ss->origin);
    if (!resume)
        job_run(j);
    else if (imap_view_check(j))
        resume(j);
    else
        imap_job_result(j, "NO", "CLOSED", "No mailbox selected any more");
    store_acct_give(ss->acct);
    ss->acct = NULL;
}

static void job_run(struct imap_job *j)
{
    struct imap_session *ss = j->ss;
    if (!imap_view_check(j)) {
        if (j->cmd && imap_server_state(ss->engine) == IMAP_STATE_SELECTED) {
            switch (j->cmd->cmd) {
            case IMAP_CMD_CHECK: case IMAP_CMD_CLOSE: case IMAP_CMD_UNSELECT:
            case IMAP_CMD_EXPUNGE: case IMAP_CMD_SEARCH: case IMAP_CMD_FETCH:
            case IMAP_CMD_STORE: case IMAP_CMD_COPY: case IMAP_CMD_MOVE:
            case IMAP_CMD_SORT: case IMAP_CMD_THREAD:
                imap_job_result(j, "NO", "CLOSED", "No mailbox selected any more");
                return;
            default:
                break;
            }
        }
    }
    if (!j->cmd) {
        imap_apply_updates(j, true);
        return;
    }
    switch (j->cmd->cmd) {
    case IMAP_CMD_FETCH:
        imap_cmd_fetch(j);
        break;
    case IMAP_CMD_STORE:
        imap_cmd_store(j);
        break;
    case IMAP_CMD_SEARCH:
        imap_cmd_search(j);
        break;
    case IMAP_CMD_SORT:
        imap_cmd_sort(j);
        break;
    case IMAP_CMD_THREAD:
        imap_cmd_thread(j);
        break;
    default:
        imap_cmd_mailbox(j);
        break;
    }
}

static void submit_job(struct imap_session *ss, const struct imap_command *cmd);
static void job_done(void *arg);

static void queue_event(struct imap_session *ss, struct imap_event *e)
{
    e->next = NULL;
    if (ss->events_tail)
        ss->events_tail->next = e;
    else
        ss->events = e;
    ss->events_tail = e;
    ss->nevents++;
}

/* Starts what waits: a command (when no job runs and the client reads its
 * replies), else an update for an idling client. */
static void run_next(struct imap_session *ss)
{
    if (ss->closed || ss->job_running || ss->output_paused)
        return;
    if (ss->parked) {
        /* The client read the last batch: the next one (see internal.h). */
        struct imap_job *j = ss->parked;
        ss->parked = NULL;
        ss->job_running = true;
        workers_submit(ss->env->workers, job_work, job_done, j);
    } else if (ss->pending) {
        const struct imap_command *cmd = ss->pending;
        ss->pending = NULL;
        submit_job(ss, cmd);
    } else if (ss->idling && (ss->events || ss->resync)) {
        submit_job(ss, NULL);
    }
}

static void job_free(struct imap_job *j);

static void job_done(void *arg)
{
    struct imap_job *j = arg;
    struct imap_session *ss = j->ss;
    ss->job_running = false;
    if (j->enabled & IMAP_ENABLED_CONDSTORE)
        ss->condstore = true; /* for the rest of the session */
    free(ss->selected);
    ss->selected = ss->view.selected ? xstrdup(ss->view.mailbox) : NULL;
    if (!ss->closed) {
        if (j->out.len)
            imap_server_send(ss->engine, buf_str(&j->out));
        if (j->set_state)
            imap_server_set_state(ss->engine, j->state);
        if (j->resume) {
            /* More to come: parked, with its session reference, until the
             * client has read this batch. A big message's buffer is not
             * kept for the next one. */
            if (j->out.cap > 4 * IMAP_BATCH_BYTES) {
                buf_free(&j->out);
                buf_init(&j->out, 0);
            }
            buf_clear(&j->out);
            ss->parked = j;
            run_next(ss);
            return;
        }
        if (j->cmd)
            imap_server_done(ss->engine, j->status ? j->status : "OK", buf_cstr(&j->code),
                             j->text);
    }
    job_free(j);
    run_next(ss);
    session_unref(ss);
}

/* Also for a parked job whose connection closed. */
static void job_free(struct imap_job *j)
{
    struct imap_session *ss = j->ss;
    while (j->events) {
        struct imap_event *e = j->events;
        j->events = e->next;
        /* Expunges a non-UID FETCH, STORE or SEARCH could not report wait
         * for the next command that may. */
        if (j->expunges_deferred && e->kind == STORE_EVENT_EXPUNGE) {
            queue_event(ss, e);
            continue;
        }
        free(e->mailbox);
        free(e);
    }
    if (j->resync && !j->expunges_done)
        ss->resync = true;
    buf_free(&j->out);
    buf_free(&j->code);
    arena_free(j->arena);
    free(j);
}

static void submit_job(struct imap_session *ss, const struct imap_command *cmd)
{
    struct imap_job *j = xcalloc(1, sizeof(*j));
    j->ss = ss;
    j->cmd = cmd;
    j->events = ss->events;
    j->resync = ss->resync;
    ss->events = ss->events_tail = NULL;
    ss->nevents = 0;
    ss->resync = false;
    buf_init(&j->code, 0);
    j->enabled = imap_server_enabled(ss->engine) | (ss->condstore ? IMAP_ENABLED_CONDSTORE : 0);
    j->utf8 = j->enabled & (IMAP_ENABLED_IMAP4REV2 | IMAP_ENABLED_UTF8);
    j->arena = arena_new(0);
    buf_init(&j->out, 0);
    imap_job_result(j, "OK", NULL, "%s completed", cmd ? imap_command_name(cmd->cmd) : "");
    ss->refs++;
    ss->job_running = true;
    workers_submit(ss->env->workers, job_work, job_done, j);
}

static void on_store_event(void *ctx, const struct store_event *ev)
{
    struct imap_session *ss = ctx;
    /* Only the selected mailbox's changes matter. While a job runs the
     * selection may be changing: keep everything then. */
    if (!ss->job_running && (!ss->selected || strcmp(ss->selected, ev->mailbox) != 0))
        return;
    if (ss->resync)
        return;
    /* Our own flag changes were answered by the command that made them (or
     * were asked to be silent: STORE .SILENT, RFC 9051 §6.4.6). */
    if (ev->kind == STORE_EVENT_FLAGS && ev->origin == ss->origin)
        return;
    if (ss->nevents >= IMAP_EVENTS_MAX) {
        /* A flood (STORE 1:* on a big mailbox elsewhere): compare it all. */
        while (ss->events) {
            struct imap_event *e = ss->events;
            ss->events = e->next;
            free(e->mailbox);
            free(e);
        }
        ss->events_tail = NULL;
        ss->nevents = 0;
        ss->resync = true;
    } else {
        struct imap_event *e = xcalloc(1, sizeof(*e));
        e->kind = ev->kind;
        e->mailbox = xstrdup(ev->mailbox);
        e->uid = ev->uid;
        e->modseq = ev->modseq;
        queue_event(ss, e);
    }
    run_next(ss);
}

static void ensure_watch(struct imap_session *ss)
{
    if (!ss->watch)
        ss->watch = store_watch_add(ss->env->store, ss->login.account_id, on_store_event, ss);
}

static void cb_command(void *ctx, const struct imap_command *cmd)
{
    struct imap_session *ss = ctx;
    ensure_watch(ss);
    /* An IDLE update may still be running, or the client is not reading:
     * the command waits (the engine holds everything after it). */
    ss->pending = cmd;
    run_next(ss);
}

static void cb_idle(void *ctx, bool idling)
{
    struct imap_session *ss = ctx;
    ss->idling = idling;
    ensure_watch(ss);
    /* Anything queued since the last command goes out at once. */
    run_next(ss);
}

/* ---- the connection ---- */

static void on_read(struct conn *c, void *ctx, struct str bytes)
{
    (void)c;
    imap_server_input(((struct imap_session *)ctx)->engine, bytes);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    (void)c;
    imap_server_tls_started(((struct imap_session *)ctx)->engine);
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
    struct imap_session *ss = ctx;
    if (ss->counted)
        usercount_remove(IMAP_MODULE, ss->counted);
    ss->counted = 0;
    log_debug(ss->svc->name, "disconnect", "session=%s reason=%s", conn_id(c), log_q(reason));
    ss->closed = true;
    login_close(&ss->login);
    if (ss->parked) {
        /* A streaming command the client will never read the rest of. */
        job_free(ss->parked);
        ss->parked = NULL;
        session_unref(ss); /* the job's reference */
    }
    session_unref(ss);
}

static void on_shutdown(struct conn *c, void *ctx)
{
    (void)c;
    imap_server_shutdown(((struct imap_session *)ctx)->engine);
}

static void on_timeout(struct conn *c, void *ctx)
{
    (void)c;
    imap_server_timeout(((struct imap_session *)ctx)->engine);
}

static const struct conn_handler handler = {
    .read = on_read,
    .tls_ready = on_tls_ready,
    .closed = on_closed,
    .shutdown = on_shutdown,
    .timeout = on_timeout,
};

static const struct imap_server_callbacks callbacks = {
    .write = cb_write,
    .close = cb_close,
    .pause = cb_pause,
    .starttls = cb_starttls,
    .compress = cb_compress,
    .channel_binding = cb_channel_binding,
    .auth_blocked = cb_auth_blocked,
    .auth_password = cb_auth_password,
    .auth_scram = cb_auth_scram,
    .auth_done = cb_auth_done,
    .command = cb_command,
    .idle = cb_idle,
};

void imap_session_start(struct conn *c, const struct service *svc, const struct service_env *env)
{
    const struct config *cfg = env->cfg;
    struct imap_session *ss = xcalloc(1, sizeof(*ss));
    ss->c = c;
    snprintf(ss->id, sizeof(ss->id), "%s", conn_id(c));
    ss->svc = svc;
    static uint64_t sessions; /* the loop thread's: origins are never reused */
    ss->origin = ++sessions;
    ss->env = env;
    ss->refs = 1;
    login_init(&ss->login, env, "imap", c);
    ss->login.owner = ss;
    ss->login.ref = login_ref;
    ss->login.unref = login_unref;
    ss->login.gone = login_gone;
    ss->login.checked = login_checked;
    ss->login.credentials = login_credentials;
    ss->login.finished = login_finished;
    struct imap_server_config sc = {
        .hostname = cfg->server_hostname,
        .session = conn_id(c),
        .tls_active = svc->implicit_tls,
        .starttls = !svc->implicit_tls && env->tls != NULL,
        .login_plaintext = cfg->auth_plaintext_on_loopback && conn_peer_is_loopback(c),
        .max_line = (size_t)cfg->imap_max_line_length,
        .max_literal = 65536,
        .append_limit = (uint64_t)cfg->smtp_max_message_size,
        .max_bad = (unsigned)cfg->imap_max_errors,
        .sasl_secret = env->secret,
    };
    /* APPENDLIMIT=n (RFC 7889) is the engine's limit for an APPEND literal;
     * the engine keeps its own copy of the list. */
    ss->append_limit = sc.append_limit;
    char caps[sizeof(imap_capabilities) + 32];
    snprintf(caps, sizeof(caps), "%s APPENDLIMIT=%llu", imap_capabilities,
             (unsigned long long)sc.append_limit);
    sc.capabilities = caps;
    ss->engine = imap_server_new(&sc, &callbacks, ss);
    conn_set_handler(c, &handler, ss);
    conn_set_idle_timeout(c, cfg->imap_idle_timeout);
    log_debug(svc->name, "session", "session=%s peer=%s", conn_id(c), conn_peer(c));
    imap_server_greet(ss->engine);
}
