/*
 * smtp/client.h — one outbound SMTP connection: the client side of RFC 5321.
 *
 * The queue runner opens a client to one address of one mail exchanger and
 * hands it transactions, one after another, over the same connection. The
 * client greets (EHLO, falling back to HELO), takes STARTTLS whenever the
 * server offers it (and insists on it, with the certificate verified against
 * the name or TLSA records it was given, when the policy says so), logs in
 * to a smarthost with AUTH PLAIN, and sends each message with the extensions
 * the server has: PIPELINING (MAIL, RCPT and DATA in one write), CHUNKING
 * (BDAT, no dot-stuffing), SIZE, 8BITMIME, SMTPUTF8, DSN (RET, ENVID,
 * NOTIFY, ORCPT passed on) and REQUIRETLS.
 *
 * What the client cannot send it refuses itself, with the reply a server
 * would give, so the runner treats it like any other refusal: a message
 * needing SMTPUTF8 to a server without it (5.6.7), a message larger than
 * the server's SIZE (5.3.4), 8-bit content to a server without 8BITMIME
 * that cannot be converted to 7 bits (5.6.3), REQUIRETLS without verified
 * TLS or without the server's support (5.7.30).
 *
 * Owns: its conn and the reply reader. Logs the session's events (connect,
 * TLS, refusals) under its conn's id; the runner logs each delivery.
 */
#ifndef OUTPOST_SMTP_CLIENT_H
#define OUTPOST_SMTP_CLIENT_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/dns.h"
#include "core/str.h"

struct smtp_client;

enum smtp_client_tls {
    SMTP_TLS_OPPORTUNISTIC, /* STARTTLS when offered, certificate not required valid */
    SMTP_TLS_NONE,          /* never STARTTLS (the retry after a failed handshake) */
    SMTP_TLS_VERIFY,        /* STARTTLS required, certificate valid for tls_name */
    SMTP_TLS_DANE,          /* STARTTLS required, certificate matching the TLSA records */
    SMTP_TLS_ENCRYPT,       /* STARTTLS required, certificate not checked (RFC 7672
                               §2.2: TLSA records present, none usable) */
};

struct smtp_client_params {
    const char *helo;               /* our hostname */
    const char *host;               /* the MX host's name, for logs and DSNs */
    enum smtp_client_tls tls;
    const char *policy;             /* for logs: "dane", "mta-sts", "relay", "none" */
    bool authenticated_mx;          /* the host came from DNSSEC or MTA-STS: REQUIRETLS
                                       may go to it (RFC 8689 §4.2) */
    SSL_CTX *ssl_ctx;               /* a client context (tls_client_ctx_new) */
    const char *tls_name;           /* SNI and the name to verify (VERIFY, DANE) */
    const struct dns_tlsa *tlsa;    /* DANE: the usable TLSA records */
    int ntlsa;
    bool implicit_tls;              /* TLS from the first byte (a smarthost on 465) */
    const char *auth_user;          /* AUTH PLAIN after EHLO (smarthost) */
    const char *auth_password;
    long long connect_timeout_ms;
    long long command_timeout_ms;   /* each reply (RFC 5321 §4.5.3.2: 5 min) */
    long long data_timeout_ms;      /* the reply to the end of data (10 min) */
    const struct sockaddr *source;  /* bind to this address, or NULL */
};

/* One recipient's fate in a transaction. */
struct smtp_client_rcpt {
    const char *address;
    unsigned notify;                /* DSN NOTIFY bits (store.h) */
    const char *orcpt_type, *orcpt;
    /* Filled by the client: */
    int code;                       /* the deciding reply's code; 0: never answered */
    char enhanced[16];
    char *reply;                    /* "550 5.1.1 text" on one line (allocated) */
};

struct smtp_client_txn {
    const char *sender;             /* "" for the null reverse-path */
    const char *envid;              /* DSN ENVID or NULL */
    int ret;                        /* DSN RET: 0, 1 FULL, 2 HDRS */
    int body;                       /* 0, 1 7BIT, 2 8BITMIME, 3 BINARYMIME */
    bool smtputf8;
    bool requiretls;
    const char *data;               /* the message, CRLF line ends; kept until done */
    size_t len;
    struct smtp_client_rcpt *rcpts;
    int nrcpts;
    /* Filled by the client: */
    bool dsn_passed;                /* the server took our DSN parameters */
    bool downgraded;                /* sent converted to 7 bits */
};

/* What the client knows of the session, for logs and TLS reports. */
struct smtp_client_info {
    const char *peer;               /* "IP:PORT" */
    const char *id;                 /* the conn's id */
    bool tls;
    bool tls_verified;              /* the certificate checked out (name or DANE) */
    const char *tls_version, *tls_cipher;
    const char *verify_error;       /* why not verified, or NULL */
    const char *tls_result;         /* for TLS reports (RFC 8460 §4.3): "success" or a
                                       failure type; NULL: no TLS was tried */
    bool pipelining, chunking, eightbit, smtputf8, dsn, requiretls, size;
    uint64_t size_limit;            /* 0: none announced */
};

struct smtp_client_handler {
    /* The session is up (greeted, TLS as required, logged in): send
     * transactions with smtp_client_send, or smtp_client_quit. */
    void (*ready)(void *ctx, struct smtp_client *cl);
    /* A transaction ended: every rcpt has its code (0 when the connection
     * died before its answer). The client is ready for the next one. */
    void (*done)(void *ctx, struct smtp_client *cl, struct smtp_client_txn *txn);
    /* The connection ended. Before ready: `code`/`reply` say why the
     * session never started (0 for a network or TLS failure, else the
     * server's reply); `tls_failed` when the TLS handshake or verification
     * failed (an opportunistic session may be retried without TLS). A
     * transaction in flight has had its `done` first. The client is freed
     * after this returns. */
    void (*closed)(void *ctx, struct smtp_client *cl, bool was_ready, int code,
                   const char *reply, bool tls_failed);
};

/* Connects to `addr` (port set). NULL with *error_r allocated when no
 * socket can be made; otherwise `closed` is called in the end, always. */
struct smtp_client *smtp_client_connect(struct event_base *base, const struct sockaddr *addr,
                                        const struct smtp_client_params *p,
                                        const struct smtp_client_handler *h, void *ctx,
                                        char **error_r);
/* Starts a transaction (only when ready, one at a time). */
void smtp_client_send(struct smtp_client *cl, struct smtp_client_txn *txn);
/* Says QUIT and closes; `closed` follows. */
void smtp_client_quit(struct smtp_client *cl);
/* Closes at once (shutdown): a transaction in flight gets code 0. */
void smtp_client_abort(struct smtp_client *cl, const char *reason);

/* Ready for smtp_client_send: greeted, no transaction, not closing (a
 * `done` callback asks this before sending the next message). */
bool smtp_client_is_ready(const struct smtp_client *cl);
const struct smtp_client_info *smtp_client_info(const struct smtp_client *cl);

/* Frees the replies a transaction's rcpts were given. */
void smtp_client_txn_clear(struct smtp_client_txn *txn);

#endif
