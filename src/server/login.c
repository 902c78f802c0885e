/* Checking logins for every protocol (see login.h). */
#include "server/login.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "auth/password.h"
#include "auth/throttle.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/workers.h"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void login_init(struct login *l, const struct service_env *env, const char *module,
                struct conn *c)
{
    memset(l, 0, sizeof(*l));
    l->env = env;
    l->module = module;
    l->c = c;
    addr_format_ip(conn_peer_addr(c), l->ip, sizeof(l->ip));
}

void login_close(struct login *l)
{
    if (l->delay) {
        event_free(l->delay);
        l->delay = NULL;
    }
}

void login_free(struct login *l)
{
    login_close(l);
    free(l->account);
    l->account = NULL;
}

unsigned login_blocked(struct login *l)
{
    return auth_throttle_blocked(l->env->throttle, conn_peer_addr(l->c), now_s());
}

struct pw_job {
    struct login *l;
    struct store *store;
    const char *dummy_hash;
    struct auth_cache *cache;
    unsigned cache_ttl;
    int64_t now;
    char *user;
    char *password;
    size_t len;
    bool ok;
    bool cached;
};

static void pw_work(void *arg)
{
    struct pw_job *j = arg;
    struct auth_credentials cred;
    char *err = NULL;
    int r = store_account_credentials(j->store, j->user, &cred, &err);
    free(err);
    if (r == STORE_OK &&
        auth_cache_check(j->cache, cred.hash, j->password, j->len, j->now, j->cache_ttl)) {
        j->ok = j->cached = true;
        auth_wipe(&cred, sizeof(cred));
        return;
    }
    /* An unknown user costs the same argon2id run as a known one. */
    bool ok = auth_password_verify(r == STORE_OK ? cred.hash : j->dummy_hash, j->password, j->len);
    j->ok = ok && r == STORE_OK;
    if (j->ok && j->cache_ttl)
        auth_cache_put(j->cache, cred.hash, j->password, j->len, j->now);
    auth_wipe(&cred, sizeof(cred));
}

static void pw_done(void *arg)
{
    struct pw_job *j = arg;
    struct login *l = j->l;
    void *owner = l->owner;
    l->cached = j->cached;
    if (!l->gone(owner))
        l->checked(owner, j->ok);
    auth_wipe(j->password, j->len);
    free(j->password);
    free(j->user);
    free(j);
    l->unref(owner);
}

void login_password(struct login *l, const char *user, struct str password)
{
    struct pw_job *j = xcalloc(1, sizeof(*j));
    j->l = l;
    j->store = l->env->store;
    j->dummy_hash = l->env->dummy_hash;
    j->cache = l->env->login_cache;
    j->cache_ttl = (unsigned)(l->env->cfg->auth_login_cache / 1000);
    j->now = now_s();
    j->user = xstrdup(user ? user : "");
    j->password = xmalloc(password.len + 1);
    memcpy(j->password, password.p, password.len);
    j->password[password.len] = '\0';
    j->len = password.len;
    l->ref(l->owner);
    workers_submit(l->env->hash_workers, pw_work, pw_done, j);
}

void login_scram(struct login *l, const char *user)
{
    l->cached = false;
    struct auth_credentials cred;
    char *err = NULL;
    int r = store_account_credentials(l->env->store, user, &cred, &err);
    free(err);
    l->credentials(l->owner, r == STORE_OK ? &cred : NULL);
    auth_wipe(&cred, sizeof(cred));
}

static void delay_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct login *l = arg;
    event_free(l->delay);
    l->delay = NULL;
    if (!l->gone(l->owner))
        l->finished(l->owner, false, false);
}

void login_done(struct login *l, const char *user, bool ok, const char *reason)
{
    const struct sockaddr *peer = conn_peer_addr(l->c);
    if (ok) {
        struct arena *a = arena_new(0);
        struct store_account acct;
        char *err = NULL;
        int r = store_account_get(l->env->store, a, user, &acct, &err);
        if (r == STORE_OK && !acct.disabled) {
            auth_throttle_success(l->env->throttle, peer, user, now_s());
            l->account_id = acct.id;
            free(l->account);
            l->account = xstrdup(acct.address);
            log_info(l->module, "auth", "session=%s ip=%s user=%s%s", conn_id(l->c), l->ip,
                     log_q(acct.address), l->cached ? " cached=yes" : "");
            arena_free(a);
            free(err);
            l->finished(l->owner, true, false);
            return;
        }
        arena_free(a);
        if (r != STORE_OK && r != STORE_ERR_NOT_FOUND && r != STORE_ERR_INVALID) {
            log_error(l->module, "auth-error", "session=%s error=%s", conn_id(l->c), log_q(err));
            free(err);
            l->finished(l->owner, false, true);
            return;
        }
        free(err);
        reason = "account disabled";
    }
    /* The line fail2ban reads: docs/operations.md has the filter. */
    log_info(l->module, "auth-failed", "session=%s ip=%s user=%s reason=%s", conn_id(l->c), l->ip,
             log_q(user ? user : ""), log_q(reason ? reason : "failed"));
    unsigned ms = auth_throttle_failure(l->env->throttle, peer, user, now_s());
    if (ms == 0) {
        l->finished(l->owner, false, false);
        return;
    }
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    l->delay = evtimer_new(l->env->base, delay_done, l);
    evtimer_add(l->delay, &tv);
}
