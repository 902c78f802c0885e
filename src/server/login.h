/*
 * server/login.h — checking a login, the same for every protocol (SMTP AUTH,
 * IMAP LOGIN/AUTHENTICATE, POP3): the throttle, the password check on a
 * worker (an unknown user is checked against a dummy argon2id hash, so it
 * takes as long as a known one), SCRAM credentials, the account lookup, the
 * failure delay, and the log lines (`auth`, `auth-failed` — the one fail2ban
 * reads — and `auth-error`) under the protocol's module name.
 *
 * The protocol engines' login callbacks map one to one onto these calls;
 * the answers come back through the owner's callbacks. A password job keeps
 * the owner alive (ref/unref) until it returns; after the connection closes
 * (`gone`), nothing is answered.
 *
 * Owns: the delay timer, the logged-in account's address.
 */
#ifndef OUTPOST_SERVER_LOGIN_H
#define OUTPOST_SERVER_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "server/service.h"

struct login {
    const struct service_env *env;
    const char *module;          /* "smtp", "imap", "pop3" */
    struct conn *c;
    char ip[64];
    void *owner;
    void (*ref)(void *owner);
    void (*unref)(void *owner);
    bool (*gone)(void *owner);
    void (*checked)(void *owner, bool ok);
    void (*credentials)(void *owner, const struct auth_credentials *cred);
    void (*finished)(void *owner, bool ok, bool temporary);
    /* After a successful login: */
    int64_t account_id;
    char *account;               /* the account's address, as stored */
    bool cached;                 /* the last password check hit the login cache */
    struct event *delay;
};

/* Fills ip from the connection; the caller sets the rest of the fields. */
void login_init(struct login *l, const struct service_env *env, const char *module,
                struct conn *c);
/* The connection is gone: no more answers (the delay timer is dropped). */
void login_close(struct login *l);
void login_free(struct login *l);

unsigned login_blocked(struct login *l);
void login_password(struct login *l, const char *user, struct str password);
void login_scram(struct login *l, const char *user);
void login_done(struct login *l, const char *user, bool ok, const char *reason);

#endif
