#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "core/addr.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/privdrop.h"
#include "core/workers.h"
#include "auth/password.h"
#include "auth/throttle.h"
#include "server/service.h"
#include "server/usercount.h"

#define SERVER_MAX_LISTENERS (ADDR_LIST_MAX * 16)
#define SHUTDOWN_POLL_MS 50
/* Verified-password cache slots (auth/cache.h): 8192 × 48 bytes. */
#define LOGIN_CACHE_SLOTS 8192

struct server;

struct bound {
    struct server *srv;
    struct listener *l;
    const struct service *svc;
};

struct server {
    char *file;            /* the config file as named on the command line */
    char *file_in_dir;     /* its name inside the config directory (our cwd) */
    struct config *cfg;
    struct config **old_cfgs; /* replaced by reloads; kept until exit */
    int nold;
    struct service_env env;
    struct bound bound[SERVER_MAX_LISTENERS];
    int nbound;
    struct event *sig_term, *sig_int, *sig_hup, *shutdown_timer;
    bool shutting_down;
    long long shutdown_waited_ms;
    char *dummy_hash;
};

static void on_accept(void *ctx, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
    struct bound *b = ctx;
    struct server *srv = b->srv;
    SSL *ssl = NULL;
    if (b->svc->implicit_tls) {
        ssl = tls_server_new_ssl(srv->env.tls);
        if (!ssl) {
            char name[64];
            addr_format(peer, name, sizeof(name));
            log_error("tls", "setup-failed", "peer=%s service=%s", name, b->svc->name);
            close(fd);
            return;
        }
    }
    /* Counted before this one joins the list. */
    int total = conn_count(), from_peer = conn_count_peer(peer);
    struct conn *c = conn_new(srv->env.base, fd, peer, peerlen, ssl);
    if (!c)
        return;
    log_debug(b->svc->name, "connect", "session=%s peer=%s listener=%s", conn_id(c), conn_peer(c),
              listener_name(b->l));
    if (total >= srv->cfg->server_max_connections)
        refuse_busy(c, b->svc, &srv->env, "max_connections");
    else if (from_peer >= srv->cfg->server_max_connections_per_ip)
        refuse_busy(c, b->svc, &srv->env, "max_connections_per_ip");
    else
        b->svc->start(c, b->svc, &srv->env);
}

static void close_listeners(struct server *srv)
{
    for (int i = 0; i < srv->nbound; i++)
        listener_free(srv->bound[i].l);
    srv->nbound = 0;
}

/* Binds every configured address. On failure prints one line and returns -1. */
static int open_listeners(struct server *srv)
{
    for (int s = 0; s < services_count; s++) {
        const struct service *svc = &services[s];
        struct addr_list addrs;
        const char *e;
        char where[512];
        config_where(srv->cfg, svc->listen_id, where, sizeof(where));
        if (addr_list_parse(config_string(srv->cfg, svc->listen_id), &addrs, &e) < 0) {
            fprintf(stderr, "outpost: %s: [listen] %s: %s\n", where, svc->name, e);
            return -1;
        }
        for (int i = 0; i < addrs.n; i++) {
            if (srv->nbound == SERVER_MAX_LISTENERS)
                abort(); /* bounded by the config: 16 addresses per service */
            struct bound *b = &srv->bound[srv->nbound];
            b->srv = srv;
            b->svc = svc;
            char *err = NULL;
            b->l = listener_new(srv->env.base, (struct sockaddr *)&addrs.addr[i], addrs.len[i],
                                addrs.wildcard[i], on_accept, b, &err);
            if (!b->l) {
                fprintf(stderr, "outpost: %s: [listen] %s: cannot listen on %s\n", where,
                        svc->name, err);
                free(err);
                return -1;
            }
            srv->nbound++;
        }
    }
    return 0;
}

static void throttle_config(const struct config *cfg, struct auth_throttle_config *out)
{
    *out = (struct auth_throttle_config){
        .ip_max_failures = (unsigned)cfg->auth_max_failures_per_ip,
        .user_max_failures = (unsigned)cfg->auth_max_failures_per_user,
        .window_secs = (unsigned)(cfg->auth_failure_window / 1000),
        .block_secs = (unsigned)(cfg->auth_block_time / 1000),
        .failure_delay_ms = (unsigned)cfg->auth_failure_delay,
        .max_delay_ms = (unsigned)cfg->auth_max_delay,
        .max_entries = 65536,
    };
}

static void log_ready(struct server *srv)
{
    /* "smtp=127.0.0.1:10025 imap=127.0.0.1:10143,[::1]:10143 ..." */
    struct buf b;
    buf_init(&b, 0);
    for (int s = 0; s < services_count; s++) {
        bool first = true;
        for (int i = 0; i < srv->nbound; i++) {
            if (srv->bound[i].svc != &services[s])
                continue;
            if (first)
                buf_printf(&b, "%s%s=", b.len ? " " : "", services[s].name);
            else
                buf_append_char(&b, ',');
            buf_append_cstr(&b, listener_name(srv->bound[i].l));
            first = false;
        }
    }
    log_info("core", "ready", "version=%s pid=%d uid=%d hostname=%s %s", OUTPOST_VERSION,
             (int)getpid(), (int)getuid(), srv->cfg->server_hostname, buf_cstr(&b));
    buf_free(&b);
}

/* Settings that take effect at once, at start and on every reload. */
static void apply_runtime_settings(const struct config *cfg)
{
    enum log_level lvl = LOG_INFO;
    log_level_parse(cfg->server_log_level, &lvl);
    log_set_level(lvl);
    conn_set_handshake_timeout(cfg->tls_handshake_timeout);
}

/* SIGHUP: read the config and certificates again. A config that does not
 * load leaves everything as it was; open connections are never touched. */
static void reload(struct server *srv)
{
    char *err = NULL;
    struct config *cfg = config_load(srv->file_in_dir, &err);
    if (!cfg) {
        log_error("core", "reload-failed", "file=%s error=%s", log_q(srv->file), log_q(err));
        free(err);
        return;
    }
    free(cfg->file);
    cfg->file = xstrdup(srv->file);
    struct tls_server *tls = tls_server_new(cfg, &err);
    if (!tls) {
        log_error("core", "reload-failed", "file=%s error=%s", log_q(srv->file), log_q(err));
        free(err);
        config_free(cfg);
        return;
    }
    for (int s = 0; s < services_count; s++) {
        enum config_id id = services[s].listen_id;
        if (strcmp(config_string(cfg, id), config_string(srv->cfg, id)))
            log_warn("core", "reload-partial", "setting=listen.%s reason=%s", services[s].name,
                     log_q("listener changes take effect at the next start"));
    }
    if (cfg->server_workers != srv->cfg->server_workers)
        log_warn("core", "reload-partial", "setting=server.workers reason=%s",
                 log_q("takes effect at the next start"));
    if (cfg->auth_hash_threads != srv->cfg->auth_hash_threads)
        log_warn("core", "reload-partial", "setting=auth.hash_threads reason=%s",
                 log_q("takes effect at the next start"));
    if (strcmp(cfg->store_subaddress_separator, srv->cfg->store_subaddress_separator))
        log_warn("core", "reload-partial", "setting=store.subaddress_separator reason=%s",
                 log_q("takes effect at the next start"));
    if (strcmp(cfg->store_quota_exceeded, srv->cfg->store_quota_exceeded))
        log_warn("core", "reload-partial", "setting=store.quota_exceeded reason=%s",
                 log_q("takes effect at the next start"));
    if (strcmp(cfg->server_user, srv->cfg->server_user))
        log_warn("core", "reload-partial", "setting=server.user reason=%s",
                 log_q("takes effect at the next start"));
    if (strcmp(cfg->server_data_dir, srv->cfg->server_data_dir))
        log_warn("core", "reload-partial", "setting=server.data_dir reason=%s",
                 log_q("takes effect at the next start"));

    /* Sessions read env.cfg when they need it and keep no pointer into it
     * past one callback, but a callback may be running on a worker: the old
     * config stays allocated until exit (a few KB per reload). */
    srv->old_cfgs = xrealloc(srv->old_cfgs, sizeof(*srv->old_cfgs) * (size_t)(srv->nold + 1));
    srv->old_cfgs[srv->nold++] = srv->cfg;
    srv->cfg = cfg;
    srv->env.cfg = cfg;
    tls_server_unref(srv->env.tls);
    srv->env.tls = tls;
    if (runner_set_config(srv->env.runner, cfg, &err) < 0) {
        log_error("core", "reload-partial", "setting=delivery error=%s", log_q(err));
        free(err);
    }
    struct auth_throttle_config tc;
    throttle_config(cfg, &tc);
    auth_throttle_configure(srv->env.throttle, &tc);
    apply_runtime_settings(cfg);
    log_info("core", "reloaded", "file=%s", log_q(srv->file));
}

static void shutdown_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    srv->shutdown_waited_ms += SHUTDOWN_POLL_MS;
    if (conn_count() == 0 && workers_busy(srv->env.workers) == 0 &&
        runner_idle(srv->env.runner)) {
        event_base_loopexit(srv->env.base, NULL);
        return;
    }
    if (srv->shutdown_waited_ms >= srv->cfg->server_shutdown_timeout) {
        log_info("core", "shutdown-deadline", "sessions=%d", conn_count());
        conn_close_all("shutdown");
        event_base_loopexit(srv->env.base, NULL);
    }
}

static void begin_shutdown(struct server *srv, const char *signame)
{
    if (srv->shutting_down) {
        /* A second signal: stop waiting for sessions. */
        log_info("core", "shutdown-now", "signal=%s sessions=%d", signame, conn_count());
        conn_close_all("shutdown");
        event_base_loopexit(srv->env.base, NULL);
        return;
    }
    srv->shutting_down = true;
    log_info("core", "shutdown", "signal=%s sessions=%d", signame, conn_count());
    close_listeners(srv);
    runner_shutdown(srv->env.runner);
    conn_shutdown_all();
    struct timeval tv = { 0, SHUTDOWN_POLL_MS * 1000 };
    srv->shutdown_timer = event_new(srv->env.base, -1, EV_PERSIST, shutdown_tick, srv);
    event_add(srv->shutdown_timer, &tv);
    shutdown_tick(-1, 0, srv); /* nothing open: stop now */
    srv->shutdown_waited_ms = 0;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *srv = arg;
    if (sig == SIGHUP)
        reload(srv);
    else
        begin_shutdown(srv, sig == SIGTERM ? "TERM" : "INT");
}

static void server_free(struct server *srv)
{
    close_listeners(srv);
    conn_close_all("exit");
    /* Workers first: their last jobs may still use the store. */
    workers_free(srv->env.hash_workers);
    runner_shutdown(srv->env.runner);
    workers_free(srv->env.workers);
    /* After the workers: their last `done` callbacks are the runner's. */
    runner_free(srv->env.runner);
    if (srv->env.dns)
        dns_free(srv->env.dns);
    store_close(srv->env.store);
    if (srv->shutdown_timer)
        event_free(srv->shutdown_timer);
    if (srv->sig_term) {
        event_free(srv->sig_term);
        event_free(srv->sig_int);
        event_free(srv->sig_hup);
    }
    tls_server_unref(srv->env.tls);
    auth_throttle_free(srv->env.throttle);
    auth_cache_free(srv->env.login_cache);
    usercount_free();
    free(srv->dummy_hash);
    if (srv->env.base)
        event_base_free(srv->env.base);
    for (int i = 0; i < srv->nold; i++)
        config_free(srv->old_cfgs[i]);
    free(srv->old_cfgs);
    config_free(srv->cfg);
    free(srv->file);
    free(srv->file_in_dir);
    free(srv);
}

/* Every connection is a descriptor: allow as many as the hard limit does. */
static void raise_descriptor_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int server_run(const char *config_file)
{
    struct server *srv = xcalloc(1, sizeof(*srv));
    srv->file = xstrdup(config_file);
    const char *slash = strrchr(config_file, '/');
    srv->file_in_dir = xstrdup(slash ? slash + 1 : config_file);
    int rc = 1;
    char *err = NULL;

    srv->cfg = config_load(config_file, &err);
    if (!srv->cfg) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto out;
    }
    srv->env.cfg = srv->cfg;
    apply_runtime_settings(srv->cfg);
    if (config_enter_dir(srv->cfg) < 0) {
        fprintf(stderr, "outpost: %s: %s\n", srv->cfg->dir, strerror(errno));
        goto out;
    }
    srv->env.tls = tls_server_new(srv->cfg, &err);
    if (!srv->env.tls) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto out;
    }

    signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit();
    srv->env.base = event_base_new();
    if (!srv->env.base) {
        fprintf(stderr, "outpost: cannot start the event loop\n");
        goto out;
    }
    if (open_listeners(srv) < 0)
        goto out;
    int dropped = privdrop(srv->cfg, &err);
    if (dropped < 0) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto out;
    }
    srv->env.workers = workers_new(srv->env.base, (int)srv->cfg->server_workers);
    /* The store opens as the unprivileged user, so every file it makes is
     * that user's. */
    if (auth_init() < 0) {
        fprintf(stderr, "outpost: cannot initialise libsodium\n");
        goto out;
    }
    /* What unknown users' passwords are checked against, so that they take
     * as long as known ones; and the secret behind their fake SCRAM salts. */
    {
        char pw[32];
        struct auth_credentials dummy;
        const char *why;
        auth_password_generate(pw, sizeof(pw) - 1);
        if (auth_credentials_make(pw, strlen(pw), &dummy, &why) < 0) {
            fprintf(stderr, "outpost: %s\n", why);
            goto out;
        }
        auth_wipe(pw, sizeof(pw));
        srv->dummy_hash = xstrdup(dummy.hash);
        srv->env.dummy_hash = srv->dummy_hash;
        randombytes_buf(srv->env.secret, sizeof(srv->env.secret));
        struct auth_throttle_config tc;
        throttle_config(srv->cfg, &tc);
        srv->env.throttle = auth_throttle_new(&tc);
        srv->env.login_cache = auth_cache_new(LOGIN_CACHE_SLOTS);
    }
    srv->env.hash_workers = workers_new(srv->env.base, (int)srv->cfg->auth_hash_threads);
    struct store_options sopt = {
        .data_dir = srv->cfg->server_data_dir,
        .subaddress_separators = srv->cfg->store_subaddress_separator,
        .quota_permanent = strcmp(srv->cfg->store_quota_exceeded, "permanent") == 0,
    };
    if (store_open(&sopt, &srv->env.store, &err) != STORE_OK ||
        store_attach(srv->env.store, srv->env.base, srv->env.workers, &err) != STORE_OK) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto out;
    }
    {
        struct dns_config dc;
        dns_config_init(&dc, srv->cfg);
        srv->env.dns = dns_new(srv->env.base, &dc, &err);
        if (!srv->env.dns) {
            fprintf(stderr, "outpost: [dns] %s\n", err);
            free(err);
            goto out;
        }
        struct runner_env re = {
            .base = srv->env.base,
            .workers = srv->env.workers,
            .store = srv->env.store,
            .dns = srv->env.dns,
            .cfg = srv->cfg,
        };
        srv->env.runner = runner_new(&re, &err);
        if (!srv->env.runner) {
            fprintf(stderr, "outpost: %s\n", err);
            free(err);
            goto out;
        }
    }
    srv->sig_term = evsignal_new(srv->env.base, SIGTERM, signal_cb, srv);
    srv->sig_int = evsignal_new(srv->env.base, SIGINT, signal_cb, srv);
    srv->sig_hup = evsignal_new(srv->env.base, SIGHUP, signal_cb, srv);
    event_add(srv->sig_term, NULL);
    event_add(srv->sig_int, NULL);
    event_add(srv->sig_hup, NULL);

    log_ready(srv);
    event_base_dispatch(srv->env.base);
    log_info("core", "stopped", "pid=%d", (int)getpid());
    rc = 0;
out:
    server_free(srv);
    return rc;
}
