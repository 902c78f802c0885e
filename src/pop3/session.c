/* POP3 sessions on real connections (see session.h). */
#include "pop3/session.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/workers.h"
#include "pop3/maildrop.h"
#include "pop3/server.h"
#include "server/login.h"
#include "server/usercount.h"

/* The module name; its address identifies POP3 in usercount. */
static const char POP3_MODULE[] = "pop3";

/* Replies queued for a client that does not read them: past this, stop
 * (reading its commands, and reading the message RETR is sending) until
 * they drain (see smtp/session.c). */
#define OUTPUT_HIGH (256u << 10)
#define OUTPUT_LOW (16u << 10)
/* A message is read this much at a time: with OUTPUT_HIGH, what a
 * retrieval holds in memory whatever the message's size. */
#define RETR_CHUNK (64u << 10)

struct pop3_session {
    char id[16];              /* the connection's id, for logs from jobs */
    struct conn *c;
    const struct service *svc;
    const struct service_env *env;
    struct pop3_server *engine;
    struct login login;
    int refs;                 /* the connection's, plus one per job outstanding */
    bool closed;
    bool engine_paused, output_paused;
    bool job_running;
    int64_t locked;           /* the account whose maildrop this session holds, or 0 */
    struct pop3_maildrop md;  /* files and UIDVALIDITY of the maildrop (TRANSACTION) */
    /* The retrieval under way: the file (open once its first chunk is
     * read), the buffer chunks are read into, and whether the next chunk
     * waits for the client to read. */
    int fd;
    uint32_t retr_index;
    bool retr_started, retr_wait_drain;
    char *chunk;
};

enum job_kind { JOB_MAILDROP, JOB_READ, JOB_UPDATE };

struct pop3_job {
    struct pop3_session *ss;
    enum job_kind kind;
    struct store *store;
    int64_t account_id;
    int result;
    char *error;
    /* JOB_MAILDROP */
    struct pop3_maildrop md;
    double ms;
    /* JOB_READ: the file to open (first chunk) and what was read */
    const char *file;
    int fd;
    bool gone;
    ssize_t got;
    /* JOB_UPDATE */
    uint32_t uidvalidity;
    const uint32_t *uids;
    uint32_t n, removed;
};

static void retr_close(struct pop3_session *ss)
{
    if (ss->fd >= 0)
        close(ss->fd);
    ss->fd = -1;
    ss->retr_started = ss->retr_wait_drain = false;
}

static void session_unref(struct pop3_session *ss)
{
    if (--ss->refs > 0)
        return;
    /* The lock lasts until the last job is back: a QUIT's deletions still
     * running after the client left must not overlap the next session. */
    if (ss->locked)
        usercount_remove(POP3_MODULE, ss->locked);
    retr_close(ss);
    pop3_server_free(ss->engine);
    login_free(&ss->login);
    pop3_maildrop_free(&ss->md);
    free(ss->chunk);
    free(ss);
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* ---- engine I/O ---- */

static void update_reading(struct pop3_session *ss)
{
    if (ss->closed)
        return;
    if (ss->engine_paused || ss->output_paused)
        conn_pause_read(ss->c);
    else
        conn_resume_read(ss->c);
}

static void submit(struct pop3_session *ss, struct pop3_job *j);
static struct pop3_job *job_new(struct pop3_session *ss, enum job_kind kind);

static void next_chunk(struct pop3_session *ss)
{
    struct pop3_job *j = job_new(ss, JOB_READ);
    submit(ss, j);
}

static void output_drained(struct conn *c, void *ctx)
{
    (void)c;
    struct pop3_session *ss = ctx;
    ss->output_paused = false;
    if (ss->closed)
        return;
    update_reading(ss);
    if (ss->retr_wait_drain) {
        ss->retr_wait_drain = false;
        next_chunk(ss);
    }
    pop3_server_output_blocked(ss->engine, false);
}

static void cb_write(void *ctx, struct str bytes)
{
    struct pop3_session *ss = ctx;
    if (ss->closed)
        return;
    conn_write(ss->c, bytes);
    if (!ss->output_paused && conn_pending_output(ss->c) > OUTPUT_HIGH) {
        ss->output_paused = true;
        conn_set_drain(ss->c, OUTPUT_LOW, output_drained);
        update_reading(ss);
        pop3_server_output_blocked(ss->engine, true);
    }
}

static void cb_close(void *ctx, const char *reason)
{
    struct pop3_session *ss = ctx;
    if (!ss->closed)
        conn_close_after_flush(ss->c, reason);
}

static void cb_pause(void *ctx, bool paused)
{
    struct pop3_session *ss = ctx;
    ss->engine_paused = paused;
    update_reading(ss);
}

static void cb_starttls(void *ctx)
{
    struct pop3_session *ss = ctx;
    service_starttls(ss->env, ss->c, "pop3");
}

static bool cb_channel_binding(void *ctx, struct sasl_channel_binding *out)
{
    struct pop3_session *ss = ctx;
    return !ss->closed && tls_exporter_binding(conn_ssl(ss->c), out->data, sizeof(out->data));
}

/* ---- login ---- */

static unsigned cb_auth_blocked(void *ctx)
{
    return login_blocked(&((struct pop3_session *)ctx)->login);
}

static void cb_auth_password(void *ctx, const char *user, struct str password)
{
    login_password(&((struct pop3_session *)ctx)->login, user, password);
}

static void cb_auth_scram(void *ctx, const char *user)
{
    login_scram(&((struct pop3_session *)ctx)->login, user);
}

static void cb_auth_done(void *ctx, const char *user, bool ok, const char *reason)
{
    login_done(&((struct pop3_session *)ctx)->login, user, ok, reason);
}

static void login_ref(void *owner) { ((struct pop3_session *)owner)->refs++; }
static void login_unref(void *owner) { session_unref(owner); }
static bool login_gone(void *owner) { return ((struct pop3_session *)owner)->closed; }
static void login_checked(void *owner, bool ok)
{
    pop3_server_auth_checked(((struct pop3_session *)owner)->engine, ok);
}
static void login_credentials(void *owner, const struct auth_credentials *cred)
{
    pop3_server_auth_credentials(((struct pop3_session *)owner)->engine, cred);
}

static void login_finished(void *owner, bool ok, bool temporary)
{
    struct pop3_session *ss = owner;
    if (!ok) {
        pop3_server_auth_finished(ss->engine, temporary ? POP3_AUTH_TEMPORARY : POP3_AUTH_FAILED);
        return;
    }
    /* One POP3 session per maildrop (RFC 1939 §8): message numbers and
     * deletions of two sessions would contradict each other. IMAP does
     * not take this lock, so IMAP clients are never shut out. */
    int64_t id = ss->login.account_id;
    if (usercount_get(POP3_MODULE, id) > 0) {
        log_info("pop3", "in-use", "session=%s user=%s", conn_id(ss->c),
                 log_q(ss->login.account));
        ss->login.account_id = 0;
        pop3_server_auth_finished(ss->engine, POP3_AUTH_IN_USE);
        return;
    }
    usercount_add(POP3_MODULE, id);
    ss->locked = id;
    submit(ss, job_new(ss, JOB_MAILDROP));
}

/* ---- jobs ---- */

static void job_work(void *arg)
{
    struct pop3_job *j = arg;
    struct pop3_session *ss = j->ss;
    switch (j->kind) {
    case JOB_MAILDROP: {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        j->result = pop3_maildrop_load(j->store, j->account_id, ss->id, &j->md, &j->error);
        j->ms = elapsed_ms(&t0);
        break;
    }
    case JOB_READ:
        if (j->fd < 0) {
            j->fd = pop3_maildrop_open(j->store, j->account_id, j->file, &j->gone, &j->error);
            if (j->fd < 0) {
                j->result = STORE_ERR_IO;
                break;
            }
        }
        do
            j->got = read(j->fd, ss->chunk, RETR_CHUNK);
        while (j->got < 0 && errno == EINTR);
        if (j->got < 0) {
            j->error = xasprintf("%s: %s", j->file, strerror(errno));
            j->result = STORE_ERR_IO;
        }
        break;
    case JOB_UPDATE:
        j->result = pop3_maildrop_expunge(j->store, j->account_id, j->uidvalidity, j->uids, j->n,
                                          &j->removed, &j->error);
        break;
    }
}

static void maildrop_done(struct pop3_session *ss, struct pop3_job *j)
{
    if (j->result != STORE_OK) {
        log_error("pop3", "store-failed", "session=%s error=%s", ss->id,
                  log_q(j->error ? j->error : "?"));
        usercount_remove(POP3_MODULE, ss->locked);
        ss->locked = 0;
        ss->login.account_id = 0;
        pop3_server_auth_finished(ss->engine, POP3_AUTH_TEMPORARY);
        return;
    }
    ss->md = j->md;
    memset(&j->md, 0, sizeof(j->md));
    uint64_t octets = 0;
    for (uint32_t i = 0; i < ss->md.n; i++)
        octets += ss->md.msgs[i].size;
    log_debug("pop3", "maildrop", "session=%s user=%s messages=%u octets=%llu scanned=%u ms=%.1f",
              ss->id, log_q(ss->login.account), ss->md.n, (unsigned long long)octets,
              ss->md.scanned, j->ms);
    pop3_server_maildrop(ss->engine, ss->md.uidvalidity, ss->md.msgs, ss->md.n);
}

static void read_done(struct pop3_session *ss, struct pop3_job *j)
{
    ss->fd = j->fd;
    if (j->result != STORE_OK) {
        retr_close(ss);
        if (j->gone) {
            pop3_server_retr_failed(ss->engine, NULL,
                                    "The message was removed by another session");
            return;
        }
        log_error("pop3", "store-failed", "session=%s error=%s", ss->id,
                  log_q(j->error ? j->error : "?"));
        /* After the +OK the engine can only close the session. */
        pop3_server_retr_failed(ss->engine, "SYS/TEMP", "Cannot read the message; try again later");
        return;
    }
    if (!ss->retr_started) {
        ss->retr_started = true;
        pop3_server_retr_start(ss->engine);
    }
    bool more = j->got > 0 &&
                pop3_server_retr_data(ss->engine, (struct str){ ss->chunk, (size_t)j->got });
    if (ss->closed)
        return;
    if (!more) {
        /* The end of the file, or TOP has its lines. */
        retr_close(ss);
        pop3_server_retr_end(ss->engine);
        return;
    }
    if (ss->output_paused)
        ss->retr_wait_drain = true; /* output_drained reads on */
    else
        next_chunk(ss);
}

static void update_done(struct pop3_session *ss, struct pop3_job *j)
{
    if (j->result != STORE_OK) {
        log_error("pop3", "store-failed", "session=%s error=%s", ss->id,
                  log_q(j->error ? j->error : "?"));
    } else {
        log_info("pop3", "update", "session=%s user=%s marked=%u deleted=%u", ss->id,
                 log_q(ss->login.account), j->n, j->removed);
    }
    if (!ss->closed)
        pop3_server_update_done(ss->engine, j->result == STORE_OK, j->removed);
}

static void job_done(void *arg)
{
    struct pop3_job *j = arg;
    struct pop3_session *ss = j->ss;
    ss->job_running = false;
    if (j->kind == JOB_UPDATE) {
        update_done(ss, j); /* logged even when the client did not wait */
    } else if (ss->closed) {
        if (j->kind == JOB_READ && j->fd >= 0)
            close(j->fd);
        pop3_maildrop_free(&j->md);
    } else if (j->kind == JOB_MAILDROP) {
        maildrop_done(ss, j);
    } else {
        read_done(ss, j);
    }
    free(j->error);
    free(j);
    session_unref(ss);
}

static struct pop3_job *job_new(struct pop3_session *ss, enum job_kind kind)
{
    struct pop3_job *j = xcalloc(1, sizeof(*j));
    j->ss = ss;
    j->kind = kind;
    j->store = ss->env->store;
    j->account_id = ss->locked;
    j->fd = -1;
    if (kind == JOB_READ) {
        j->fd = ss->fd;
        ss->fd = -1; /* the job's until it is back */
        j->file = ss->md.files[ss->retr_index];
    }
    return j;
}

static void submit(struct pop3_session *ss, struct pop3_job *j)
{
    ss->refs++;
    ss->job_running = true;
    workers_submit(ss->env->workers, job_work, job_done, j);
}

static void cb_retrieve(void *ctx, uint32_t index, uint32_t uid)
{
    (void)uid;
    struct pop3_session *ss = ctx;
    retr_close(ss);
    ss->retr_index = index;
    if (!ss->chunk)
        ss->chunk = xmalloc(RETR_CHUNK);
    next_chunk(ss);
}

static void cb_update(void *ctx, const uint32_t *uids, uint32_t n)
{
    struct pop3_session *ss = ctx;
    struct pop3_job *j = job_new(ss, JOB_UPDATE);
    j->uidvalidity = ss->md.uidvalidity;
    j->uids = uids; /* the engine's, until pop3_server_update_done */
    j->n = n;
    submit(ss, j);
}

/* ---- the connection ---- */

static void on_read(struct conn *c, void *ctx, struct str bytes)
{
    (void)c;
    pop3_server_input(((struct pop3_session *)ctx)->engine, bytes);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    (void)c;
    pop3_server_tls_started(((struct pop3_session *)ctx)->engine);
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
    struct pop3_session *ss = ctx;
    log_debug(ss->svc->name, "disconnect", "session=%s reason=%s", conn_id(c), log_q(reason));
    ss->closed = true;
    login_close(&ss->login);
    if (!ss->job_running)
        retr_close(ss); /* a retrieval waiting for the client to read */
    session_unref(ss);
}

static void on_shutdown(struct conn *c, void *ctx)
{
    (void)c;
    pop3_server_shutdown(((struct pop3_session *)ctx)->engine);
}

static void on_timeout(struct conn *c, void *ctx)
{
    (void)c;
    pop3_server_timeout(((struct pop3_session *)ctx)->engine);
}

static const struct conn_handler handler = {
    .read = on_read,
    .tls_ready = on_tls_ready,
    .closed = on_closed,
    .shutdown = on_shutdown,
    .timeout = on_timeout,
};

static const struct pop3_server_callbacks callbacks = {
    .write = cb_write,
    .close = cb_close,
    .pause = cb_pause,
    .starttls = cb_starttls,
    .channel_binding = cb_channel_binding,
    .auth_blocked = cb_auth_blocked,
    .auth_password = cb_auth_password,
    .auth_scram = cb_auth_scram,
    .auth_done = cb_auth_done,
    .retrieve = cb_retrieve,
    .update = cb_update,
};

void pop3_session_start(struct conn *c, const struct service *svc, const struct service_env *env)
{
    const struct config *cfg = env->cfg;
    struct pop3_session *ss = xcalloc(1, sizeof(*ss));
    ss->c = c;
    snprintf(ss->id, sizeof(ss->id), "%s", conn_id(c));
    ss->svc = svc;
    ss->env = env;
    ss->refs = 1;
    ss->fd = -1;
    login_init(&ss->login, env, POP3_MODULE, c);
    ss->login.owner = ss;
    ss->login.ref = login_ref;
    ss->login.unref = login_unref;
    ss->login.gone = login_gone;
    ss->login.checked = login_checked;
    ss->login.credentials = login_credentials;
    ss->login.finished = login_finished;
    struct pop3_server_config sc = {
        .hostname = cfg->server_hostname,
        .session = conn_id(c),
        .tls_active = svc->implicit_tls,
        .starttls = !svc->implicit_tls && env->tls != NULL,
        .login_plaintext = cfg->auth_plaintext_on_loopback && conn_peer_is_loopback(c),
        .max_line = (size_t)cfg->pop3_max_line_length,
        .max_errors = (unsigned)cfg->pop3_max_errors,
        .sasl_secret = env->secret,
    };
    ss->engine = pop3_server_new(&sc, &callbacks, ss);
    conn_set_handler(c, &handler, ss);
    conn_set_idle_timeout(c, cfg->pop3_idle_timeout);
    log_debug(svc->name, "session", "session=%s peer=%s", conn_id(c), conn_peer(c));
    pop3_server_greet(ss->engine);
}
