/*
 * pop3/server.h — the POP3 engine: RFC 1939 with CAPA and response codes
 * (RFC 2449, RFC 3206), STLS (RFC 2595) and AUTH (RFC 5034).
 *
 * Like the SMTP and IMAP engines it knows no sockets: fed bytes
 * (pop3_server_input), it answers through `write`. It reads command lines
 * (pop3/parse), keeps the state (AUTHORIZATION, TRANSACTION, UPDATE), runs
 * the login (USER/PASS as SASL PLAIN, AUTH with the auth/sasl machine; the
 * password check, the throttle and the account through callbacks, as SMTP
 * and IMAP do), and holds the maildrop the caller gives it after a login:
 * message numbers, UIDs, sizes and deletion marks. So CAPA, STAT, LIST,
 * UIDL, DELE, RSET and NOOP are answered here; RETR and TOP ask the caller
 * for the message's bytes, which the engine turns into their wire form
 * (pop3/encode: CRLF, dot-stuffing, TOP's lines) as they come, chunk by
 * chunk; QUIT in TRANSACTION hands the caller the UIDs to expunge.
 *
 * One command runs at a time: while one waits for the caller (a login, a
 * retrieval, the update), or while the caller says its output is full,
 * input is held back (the caller is asked to stop reading), so pipelined
 * commands (RFC 2449 PIPELINING) run in order and a client that does not
 * read cannot make us queue answers without end.
 *
 * UIDL: "<UIDVALIDITY>.<UID>" of the message in INBOX — the same message
 * has the same unique-id in every session for as long as INBOX keeps its
 * UIDVALIDITY, and IMAP clients can match it with UID and UIDVALIDITY.
 *
 * Owns: the maildrop, the held input, the SASL exchange. Logs protocol
 * errors (module "pop3") once each.
 */
#ifndef OUTPOST_POP3_SERVER_H
#define OUTPOST_POP3_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "core/str.h"

enum pop3_state {
    POP3_STATE_AUTHORIZATION,
    POP3_STATE_TRANSACTION,
    POP3_STATE_UPDATE,        /* QUIT was said: deleting, then closing */
};

struct pop3_server_config {
    const char *hostname;
    const char *session;        /* id for the logs */
    bool tls_active;            /* implicit TLS */
    bool starttls;              /* STLS may be offered */
    bool login_plaintext;       /* USER/PASS and AUTH allowed without TLS */
    size_t max_line;            /* a command line, CRLF excluded */
    unsigned max_errors;        /* -ERR replies to bad input before the session ends */
    const unsigned char *sasl_secret;
};

/* One message of the maildrop. */
struct pop3_message {
    uint32_t uid;
    uint64_t size;              /* octets as RETR sends them (pop3/encode.h) */
};

/* Why a login did not open the maildrop. */
enum pop3_auth_result {
    POP3_AUTH_FAILED,           /* wrong password, unknown user: "-ERR [AUTH]" */
    POP3_AUTH_TEMPORARY,        /* our trouble: "-ERR [SYS/TEMP]" */
    POP3_AUTH_IN_USE,           /* another POP3 session has it: "-ERR [IN-USE]" */
};

struct pop3_server_callbacks {
    void (*write)(void *ctx, struct str bytes);
    /* The last response is queued; close once it is sent. */
    void (*close)(void *ctx, const char *reason);
    /* Stop (true) or resume (false) reading. */
    void (*pause)(void *ctx, bool paused);
    /* "+OK Begin TLS negotiation" is queued: upgrade, then call
     * pop3_server_tls_started. */
    void (*starttls)(void *ctx);
    bool (*channel_binding)(void *ctx, struct sasl_channel_binding *out);

    /* Login, as in imap/server.h: blocked seconds or 0; then either a
     * password check (answer pop3_server_auth_checked) or a SCRAM lookup
     * (answer pop3_server_auth_credentials); then auth_done, answered with
     * pop3_server_maildrop (the maildrop is open) or
     * pop3_server_auth_finished (it is not). */
    unsigned (*auth_blocked)(void *ctx);
    void (*auth_password)(void *ctx, const char *user, struct str password);
    void (*auth_scram)(void *ctx, const char *user);
    void (*auth_done)(void *ctx, const char *user, bool ok, const char *reason);

    /* RETR (top false) or TOP: message `index` (0-based) of the maildrop.
     * Answer pop3_server_retr_start, then pop3_server_retr_data with the
     * file's bytes in order while it returns true, then
     * pop3_server_retr_end; or pop3_server_retr_failed. */
    void (*retrieve)(void *ctx, uint32_t index, uint32_t uid);
    /* QUIT in TRANSACTION with messages marked: expunge these UIDs
     * (ascending, n > 0) and answer pop3_server_update_done. */
    void (*update)(void *ctx, const uint32_t *uids, uint32_t n);
};

struct pop3_server;

struct pop3_server *pop3_server_new(const struct pop3_server_config *cfg,
                                    const struct pop3_server_callbacks *cb, void *ctx);
void pop3_server_free(struct pop3_server *s);

/* Sends the greeting. */
void pop3_server_greet(struct pop3_server *s);
void pop3_server_input(struct pop3_server *s, struct str bytes);
void pop3_server_tls_started(struct pop3_server *s);
/* The server is stopping: "-ERR [SYS/TEMP]", now or after the running
 * command. Marked messages stay (no QUIT, no UPDATE). */
void pop3_server_shutdown(struct pop3_server *s);
/* The session was idle too long: "-ERR ... timeout" and close (RFC 1939
 * §3: no UPDATE). */
void pop3_server_timeout(struct pop3_server *s);
/* The caller's output is above (true) or back below (false) its limit:
 * commands wait (input held, reading paused) until it drains. */
void pop3_server_output_blocked(struct pop3_server *s, bool blocked);

/* Answers to the login callbacks. */
void pop3_server_auth_checked(struct pop3_server *s, bool ok);
void pop3_server_auth_credentials(struct pop3_server *s, const struct auth_credentials *cred);
/* The login failed (or the maildrop could not be opened): back to
 * AUTHORIZATION. */
void pop3_server_auth_finished(struct pop3_server *s, enum pop3_auth_result result);
/* The login succeeded and this is the maildrop (INBOX now, in UID order):
 * "+OK", and TRANSACTION. The engine copies `msgs`. */
void pop3_server_maildrop(struct pop3_server *s, uint32_t uidvalidity,
                          const struct pop3_message *msgs, uint32_t n);

/* Answers to `retrieve`. start sends "+OK"; data encodes and sends the
 * next bytes of the file and returns false once it wants no more (TOP has
 * its lines); end finishes the response. failed, before start, answers
 * "-ERR [code] text" (code may be NULL); after start the response cannot
 * be mended and the session is closed. */
void pop3_server_retr_start(struct pop3_server *s);
bool pop3_server_retr_data(struct pop3_server *s, struct str bytes);
void pop3_server_retr_end(struct pop3_server *s);
void pop3_server_retr_failed(struct pop3_server *s, const char *code, const char *text);

/* Answer to `update`: "+OK" when the messages are gone (`removed` of them:
 * others may have gone already), else "-ERR [SYS/TEMP]"; then close. */
void pop3_server_update_done(struct pop3_server *s, bool ok, uint32_t removed);

enum pop3_state pop3_server_state(const struct pop3_server *s);
/* The logged-in user, or NULL. */
const char *pop3_server_user(const struct pop3_server *s);
/* The maildrop's messages marked deleted now. */
uint32_t pop3_server_marked(const struct pop3_server *s);

#endif
