/*
 * smtp/server.h — the SMTP server engine (RFC 5321), for the MX (port 25)
 * and for submission (587 with STARTTLS, 465 with implicit TLS).
 *
 * The engine knows no sockets: it is fed bytes (smtp_server_input) and
 * answers with bytes through the `write` callback. Everything that needs the
 * rest of the server — is this recipient ours, is this the user's password,
 * store this message — goes out through a callback and is answered later
 * with smtp_server_reply (or the auth answers below). While an answer is
 * outstanding the engine holds back the client's further input (pipelined
 * commands stay in order) and asks the caller to stop reading (`pause`).
 *
 * Extensions: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
 * STARTTLS, CHUNKING, DSN, REQUIRETLS (after TLS), AUTH (submission only,
 * after TLS unless allowed in plaintext). Every 2xx/4xx/5xx reply carries an
 * RFC 3463 enhanced code.
 *
 * DATA ends only at CRLF.CRLF; a bare CR, bare LF or NUL in the message
 * (DATA or BDAT) makes it refused at the end (SMTP smuggling, RFC 5321
 * §2.3.8). Over-long command lines get 500 5.5.2; after max_errors error
 * replies the session ends with 421.
 *
 * Owns: its arenas (one per session, a child per transaction, reset at RSET
 * and after each message), its line reader and the held-back input.
 * Logs protocol errors (module "smtp") once each, with the session id.
 */
#ifndef OUTPOST_SMTP_SERVER_H
#define OUTPOST_SMTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "core/arena.h"
#include "core/str.h"
#include "smtp/parse.h"

enum smtp_mode { SMTP_MODE_MX, SMTP_MODE_SUBMISSION };

struct smtp_server_config {
    enum smtp_mode mode;
    const char *hostname;         /* in the greeting and replies */
    const char *session;          /* id for the logs */
    bool tls_active;              /* implicit TLS: the connection is already TLS */
    bool starttls;                /* STARTTLS may be offered (before TLS) */
    bool auth_plaintext;          /* AUTH allowed without TLS (loopback, if configured) */
    bool greet_later;             /* the caller greets with smtp_server_greet after a pause */
    size_t max_line;              /* command line, CRLF excluded */
    uint64_t max_message_size;
    unsigned max_recipients;
    unsigned max_errors;
    const unsigned char *sasl_secret; /* 32 bytes: see sasl_new */
};

/* One accepted recipient. `target` is the caller's (set in its rcpt callback). */
struct smtp_rcpt {
    struct smtp_rcpt_args args;
    void *target;
};

/* The current transaction: from MAIL to the end of the message or RSET. */
struct smtp_transaction {
    struct arena *arena;          /* freed (reset) when the transaction ends */
    struct smtp_mail_args mail;
    struct smtp_rcpt *rcpts;      /* accepted recipients, in order */
    unsigned nrcpts;
    struct str message;           /* at the data callback: the message as received
                                     (dot-unstuffed), CRLF line ends */
    bool chunking;                /* the message came with BDAT */
    void *data;                   /* the caller's, for this transaction */
};

/* What the session knows of its client, for Received headers and logs. */
struct smtp_session_info {
    const char *helo;             /* the HELO/EHLO argument, NULL before it */
    bool esmtp;                   /* EHLO (not HELO) */
    bool tls;                     /* the session is TLS now */
    const char *auth_user;        /* authenticated user, or NULL */
};

struct smtp_server_callbacks {
    /* Queue bytes for the client. */
    void (*write)(void *ctx, struct str bytes);
    /* The last reply is queued; close once it is sent. */
    void (*close)(void *ctx, const char *reason);
    /* Stop (true) or resume (false) reading: an answer is outstanding. */
    void (*pause)(void *ctx, bool paused);
    /* The session entered (true) or left (false) a message's data: the
     * caller switches between the command and the data timeouts. */
    void (*data_phase)(void *ctx, bool in_data);
    /* "220 Ready to start TLS" is queued: upgrade the connection, then call
     * smtp_server_tls_started. Input after the command is already dropped. */
    void (*starttls)(void *ctx);
    /* The TLS 1.3 tls-exporter channel binding of the connection, for
     * SCRAM-SHA-256-PLUS (RFC 9266). Returns false when there is none (not
     * TLS, or TLS 1.2). May be NULL. */
    bool (*channel_binding)(void *ctx, struct sasl_channel_binding *out);

    /* Answered with smtp_server_reply (any code; 250 accepts): */
    void (*mail)(void *ctx, struct smtp_transaction *t);
    void (*rcpt)(void *ctx, struct smtp_transaction *t, struct smtp_rcpt *r);
    /* The message is complete: store it, then reply (250 only once durable). */
    void (*data)(void *ctx, struct smtp_transaction *t);

    /* AUTH. Returns the seconds the client's address is still blocked, or 0. */
    unsigned (*auth_blocked)(void *ctx);
    /* PLAIN/LOGIN: check the password; answer smtp_server_auth_checked. */
    void (*auth_password)(void *ctx, const char *user, struct str password);
    /* SCRAM: look up the user's credentials; answer smtp_server_auth_credentials. */
    void (*auth_scram)(void *ctx, const char *user);
    /* The exchange ended (user may be NULL when the client never named one);
     * the caller throttles and logs, then answers smtp_server_auth_finished,
     * where it may still refuse a successful one (a disabled account). */
    void (*auth_done)(void *ctx, const char *user, bool ok, const char *reason);
};

struct smtp_server;

struct smtp_server *smtp_server_new(const struct smtp_server_config *cfg,
                                    const struct smtp_server_callbacks *cb, void *ctx);
void smtp_server_free(struct smtp_server *s);

/* Sends the greeting (call once; with greet_later, after the pause). A client
 * that speaks before it is told off and disconnected (early talker). */
void smtp_server_greet(struct smtp_server *s);
/* Bytes from the client. */
void smtp_server_input(struct smtp_server *s, struct str bytes);
/* The TLS handshake after STARTTLS finished; the session starts over (RFC
 * 3207 §4.2). */
void smtp_server_tls_started(struct smtp_server *s);
/* The server is stopping: 421 now, or after the outstanding answer. */
void smtp_server_shutdown(struct smtp_server *s);
/* No input for the command or data timeout: "421 4.4.2 ... Timeout" (RFC
 * 5321 §4.5.3.2), then close. */
void smtp_server_timeout(struct smtp_server *s);

/* Answers the outstanding mail, rcpt or data callback. For rcpt, a 2xx
 * reply accepts the recipient. A text may hold several lines ('\n'). */
void smtp_server_reply(struct smtp_server *s, int code, const char *enhanced, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers auth_password: the password is right for the user. */
void smtp_server_auth_checked(struct smtp_server *s, bool ok);
/* Answers auth_scram: the user's credentials, or NULL (unknown user). */
void smtp_server_auth_credentials(struct smtp_server *s, const struct auth_credentials *cred);
/* Answers auth_done: 235 when ok, else 535 5.7.8 (or 454 4.7.0 when
 * `temporary`, e.g. the store failed). */
void smtp_server_auth_finished(struct smtp_server *s, bool ok, bool temporary);

const struct smtp_session_info *smtp_server_info(const struct smtp_server *s);

#endif
