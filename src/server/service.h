/*
 * server/service.h — what runs behind each listener.
 *
 * One entry per listen setting (smtp, submission, imaps, ...): the protocol,
 * whether the socket is implicit TLS, and the function that takes over an
 * accepted connection. A protocol module plugs in by providing its start
 * function here; nothing else in the daemon changes.
 *
 * Owns: nothing; the daemon (server.c) owns listeners and connections.
 */
#ifndef OUTPOST_SERVER_SERVICE_H
#define OUTPOST_SERVER_SERVICE_H

#include <stdbool.h>

#include "core/config.h"
#include "core/conn.h"
#include "auth/cache.h"
#include "auth/throttle.h"
#include "core/tls.h"
#include "core/dns.h"
#include "smtp/runner.h"
#include "store/store.h"

/* What a protocol's session gets from the daemon. */
struct service_env {
    const struct config *cfg;      /* the current config (replaced on reload) */
    struct tls_server *tls;        /* the current certificates (for STARTTLS) */
    struct event_base *base;
    struct workers *workers;
    struct workers *hash_workers;  /* password hashes only ([auth] hash_threads) */
    struct store *store;           /* the mail store, attached to the loop */
    struct auth_throttle *throttle; /* failed logins, shared by every protocol */
    unsigned char secret[32];      /* random per process: salts fake SCRAM exchanges */
    const char *dummy_hash;        /* an argon2id hash of nothing: unknown users are
                                      checked against it, so they take as long */
    struct auth_cache *login_cache; /* passwords verified lately ([auth] login_cache) */
    struct dns *dns;               /* lookups on the loop ([dns]) */
    struct runner *runner;         /* outbound delivery: kick it when mail is queued */
};

enum service_proto { PROTO_SMTP, PROTO_IMAP, PROTO_POP3, PROTO_HTTP };

struct service {
    const char *name;          /* the [listen] key */
    enum config_id listen_id;
    enum service_proto proto;
    bool implicit_tls;
    /* Takes over a new connection: attaches a handler and greets. */
    void (*start)(struct conn *c, const struct service *svc, const struct service_env *env);
};

extern const struct service services[];
extern const int services_count;

/* STARTTLS for a session whose engine has just queued its "go ahead" (SMTP
 * 220, IMAP OK, POP3 +OK): a TLS state from the current certificates, then
 * conn_starttls. On failure it logs `MODULE starttls-failed` and closes
 * after the reply is flushed (the engine is still on the stack). */
void service_starttls(const struct service_env *env, struct conn *c, const char *module);

/* The refusal every listener answers with until its protocol module exists:
 * the protocol's "not available" greeting, then close. */
void refuse_start(struct conn *c, const struct service *svc, const struct service_env *env);
/* The "too many connections, try again later" every listener answers with
 * past [server] max_connections or max_connections_per_ip. */
void refuse_busy(struct conn *c, const struct service *svc, const struct service_env *env,
                 const char *limit);

#endif
