/*
 * imap/server.h — the IMAP engine: IMAP4rev2 (RFC 9051) and IMAP4rev1
 * (RFC 3501) framing, states and the commands that need no mailbox.
 *
 * Like the SMTP engine it knows no sockets: fed bytes (imap_server_input),
 * it answers through `write`. It assembles each command with its literals
 * (sending "+ " continuation requests for synchronizing ones, refusing one
 * that is too large before the client sends it), parses it (imap/parse),
 * checks it against the state, and answers itself what needs nothing else:
 * CAPABILITY, NOOP (when nothing is selected), LOGOUT, ID, ENABLE, STARTTLS,
 * LOGIN and AUTHENTICATE (the password check and the throttle through
 * callbacks, as SMTP does), and the IDLE framing. Every other command goes to
 * the `command` callback; its caller sends untagged data with
 * imap_server_send and ends it with imap_server_done. One command runs at a
 * time: input that arrives meanwhile is held back (the caller is asked to
 * stop reading), so pipelined commands run in order.
 *
 * Owns: a per-command arena (reset after each command), the command buffer,
 * the held-back input. Logs protocol errors (module "imap") once each.
 */
#ifndef OUTPOST_IMAP_SERVER_H
#define OUTPOST_IMAP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "core/str.h"
#include "imap/parse.h"

enum imap_state {
    IMAP_STATE_NOT_AUTHENTICATED,
    IMAP_STATE_AUTHENTICATED,
    IMAP_STATE_SELECTED,
    IMAP_STATE_LOGOUT,
};

/* What ENABLE turned on (RFC 5161). */
#define IMAP_ENABLED_IMAP4REV2  0x01u
#define IMAP_ENABLED_CONDSTORE  0x02u
#define IMAP_ENABLED_QRESYNC    0x04u
#define IMAP_ENABLED_UTF8       0x08u  /* UTF8=ACCEPT (RFC 6855) */

struct imap_server_config {
    const char *hostname;
    const char *session;            /* id for the logs */
    bool tls_active;                /* implicit TLS */
    bool starttls;                  /* STARTTLS may be offered */
    bool login_plaintext;           /* LOGIN/AUTHENTICATE allowed without TLS */
    size_t max_line;                /* one line of a command, CRLF excluded */
    uint64_t max_literal;           /* a literal outside APPEND */
    uint64_t append_limit;          /* a message in APPEND (APPENDLIMIT) */
    unsigned max_bad;               /* BAD replies before the session ends */
    const unsigned char *sasl_secret;
    /* The capabilities after login, from the caller that implements them
     * ("IMAP4rev2 IMAP4rev1 LITERAL+ ... IDLE MOVE"). */
    const char *capabilities;
};

struct imap_server_callbacks {
    void (*write)(void *ctx, struct str bytes);
    /* The last response is queued; close once it is sent. */
    void (*close)(void *ctx, const char *reason);
    /* Stop (true) or resume (false) reading. */
    void (*pause)(void *ctx, bool paused);
    /* "OK Begin TLS negotiation now" is queued: upgrade, then call
     * imap_server_tls_started. */
    void (*starttls)(void *ctx);
    /* "OK DEFLATE active" is queued: compress both directions from here
     * (NULL: COMPRESS is refused). */
    void (*compress)(void *ctx);
    bool (*channel_binding)(void *ctx, struct sasl_channel_binding *out);

    /* Login, as in smtp/server.h: blocked seconds or 0; then either a
     * password check (answer imap_server_auth_checked) or a SCRAM lookup
     * (answer imap_server_auth_credentials); then auth_done (answer
     * imap_server_auth_finished). */
    unsigned (*auth_blocked)(void *ctx);
    void (*auth_password)(void *ctx, const char *user, struct str password);
    void (*auth_scram)(void *ctx, const char *user);
    void (*auth_done)(void *ctx, const char *user, bool ok, const char *reason);

    /* A command for the caller (authenticated and selected states, and NOOP
     * or CHECK when selected). `cmd` and everything it points to live until
     * imap_server_done. */
    void (*command)(void *ctx, const struct imap_command *cmd);
    /* IDLE began (true) or ended with DONE (false): the caller sends
     * updates with imap_server_send while it lasts. */
    void (*idle)(void *ctx, bool idling);
};

struct imap_server;

struct imap_server *imap_server_new(const struct imap_server_config *cfg,
                                    const struct imap_server_callbacks *cb, void *ctx);
void imap_server_free(struct imap_server *s);

/* Sends the greeting. */
void imap_server_greet(struct imap_server *s);
void imap_server_input(struct imap_server *s, struct str bytes);
void imap_server_tls_started(struct imap_server *s);
/* The server is stopping: "* BYE", now or after the running command. */
void imap_server_shutdown(struct imap_server *s);
/* The session was idle too long: "* BYE Autologout". */
void imap_server_timeout(struct imap_server *s);

/* While a command runs or IDLE lasts: untagged responses, written as given
 * (each must end in CRLF). */
void imap_server_send(struct imap_server *s, struct str bytes);
/* Ends the running command: "TAG OK|NO|BAD [code] text". `status` is "OK",
 * "NO" or "BAD"; `code` without brackets, or NULL. The state changes the
 * caller made (imap_server_set_state) take effect before the reply. */
void imap_server_done(struct imap_server *s, const char *status, const char *code,
                      const char *text);
/* SELECT/EXAMINE succeeded (SELECTED) or CLOSE/UNSELECT/a failed SELECT
 * (AUTHENTICATED). */
void imap_server_set_state(struct imap_server *s, enum imap_state state);

/* Answers to the login callbacks. */
void imap_server_auth_checked(struct imap_server *s, bool ok);
void imap_server_auth_credentials(struct imap_server *s, const struct auth_credentials *cred);
/* ok: "TAG OK [CAPABILITY ...] Logged in"; else "TAG NO [AUTHENTICATIONFAILED]"
 * or, when `temporary`, "TAG NO [UNAVAILABLE]". */
void imap_server_auth_finished(struct imap_server *s, bool ok, bool temporary);
/* The password was right but the account has too many sessions:
 * "TAG NO [LIMIT]"; the session stays unauthenticated. */
void imap_server_auth_limited(struct imap_server *s);

enum imap_state imap_server_state(const struct imap_server *s);
unsigned imap_server_enabled(const struct imap_server *s);
/* The client speaks IMAP4rev2 (it ENABLEd it): some responses differ. */
bool imap_server_rev2(const struct imap_server *s);
/* The logged-in user, or NULL. */
const char *imap_server_user(const struct imap_server *s);

#endif
