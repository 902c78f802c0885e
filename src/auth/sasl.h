/*
 * auth/sasl.h — the server side of SASL mechanisms, for every protocol:
 * PLAIN (RFC 4616), LOGIN (the de-facto mechanism of
 * draft-murchison-sasl-login), SCRAM-SHA-256 and SCRAM-SHA-256-PLUS
 * (RFC 5802, RFC 7677, with tls-exporter channel binding, RFC 9266).
 *
 * A mechanism is a state machine fed the client's decoded responses (the
 * protocol engine does base64 and the "*" cancel). The slow or stateful parts
 * stay with the caller: checking a password against its argon2id hash (worker
 * pool) and looking up an account's SCRAM keys (the store). The caller learns
 * what to do from the status of each step.
 *
 * Unknown users: the caller passes NULL credentials to sasl_scram_credentials;
 * the exchange continues with a salt derived from the user name and a server
 * secret and fails only at the proof, exactly as a wrong password does (same
 * step, same reason, "wrong password"), so the client cannot tell an unknown
 * user from a wrong password. The caller knows which it was.
 *
 * What is accepted: names (authcid, authzid) of 1 to 255 bytes of UTF-8
 * without NUL; passwords of 1 to AUTH_PASSWORD_MAX bytes without NUL, taken
 * as bytes (no SASLprep, like auth_credentials_make). SCRAM: messages of up to
 * 4096 bytes, the "tls-exporter" channel binding only, extensions ignored
 * except "m=" (which fails, as RFC 5802 requires); any other deviation from
 * RFC 5802's grammar fails as a malformed message.
 *
 * Owns: the exchange's state; secrets in it are wiped by sasl_free.
 * Never does I/O, never logs (reasons are returned for the caller's log).
 */
#ifndef OUTPOST_AUTH_SASL_H
#define OUTPOST_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/password.h"
#include "core/str.h"

enum sasl_mech {
    SASL_MECH_PLAIN,
    SASL_MECH_LOGIN,
    SASL_MECH_SCRAM_SHA_256,
    SASL_MECH_SCRAM_SHA_256_PLUS,
};

/* Case-insensitive mechanism name to enum. Returns 0, or -1 when unknown. */
int sasl_mech_parse(struct str name, enum sasl_mech *out);
const char *sasl_mech_name(enum sasl_mech mech);

/* The tls-exporter channel binding (RFC 9266): 32 bytes exported with label
 * "EXPORTER-Channel-Binding" and no context, from a TLS 1.3 connection. */
#define SASL_CB_LEN 32
struct sasl_channel_binding {
    unsigned char data[SASL_CB_LEN];
};

enum sasl_status {
    SASL_CHALLENGE,       /* send `out` (may be empty) and feed the client's answer */
    SASL_CHECK_PASSWORD,  /* PLAIN/LOGIN: verify sasl_password() for sasl_authcid(),
                             then call sasl_password_result() */
    SASL_NEED_SCRAM,      /* SCRAM: look up sasl_authcid()'s credentials and call
                             sasl_scram_credentials() */
    SASL_SUCCESS,         /* authenticated as sasl_authcid(); `out` holds the
                             server's final data (SCRAM's "v=..."), empty otherwise */
    SASL_FAILURE,         /* *reason_r says why, for the log (never a secret) */
};

struct sasl;

/* Starts an exchange. `cb` is the connection's channel binding (NULL when
 * the connection is not TLS 1.3); when it is non-NULL the caller offers
 * SCRAM-SHA-256-PLUS, which the downgrade check of RFC 5802 §6 relies on.
 * SCRAM-SHA-256-PLUS without `cb` fails at the first step.
 * `secret` (32 bytes, per server process) salts the fake SCRAM exchange of
 * unknown users; PLAIN and LOGIN may pass NULL (SCRAM would then use a random
 * one, and an unknown user's salt would change from one try to the next). */
struct sasl *sasl_new(enum sasl_mech mech, const struct sasl_channel_binding *cb,
                      const unsigned char secret[32]);
/* Wipes and frees (NULL is fine). */
void sasl_free(struct sasl *s);

/* Feeds the client's (decoded) response; `first` tells whether this is the
 * initial response of the command (SASL-IR) or an answer to a challenge.
 * Call with first = true and in.p = NULL when the command had no initial
 * response: PLAIN and SCRAM then challenge with empty data; LOGIN asks for
 * "Username:" (an initial response to LOGIN is the user name). The answer to
 * send goes to `out` (cleared first); it is empty on failure. Once an
 * exchange has succeeded or failed, every further call fails. */
enum sasl_status sasl_step(struct sasl *s, struct str in, bool first, struct buf *out,
                           const char **reason_r);

/* After SASL_CHECK_PASSWORD: the outcome of the password check.
 * Returns SASL_SUCCESS or SASL_FAILURE. */
enum sasl_status sasl_password_result(struct sasl *s, bool ok, const char **reason_r);

/* After SASL_NEED_SCRAM: the user's credentials, or NULL for an unknown or
 * disabled user. Returns SASL_CHALLENGE with the server-first-message in
 * `out`, or SASL_FAILURE. */
enum sasl_status sasl_scram_credentials(struct sasl *s, const struct auth_credentials *cred,
                                        struct buf *out, const char **reason_r);

/* The authentication identity (user name) once known, or NULL. */
const char *sasl_authcid(const struct sasl *s);
/* The authorization identity the client asked for, or NULL when none.
 * Callers refuse one that differs from the authcid (no proxy logins). */
const char *sasl_authzid(const struct sasl *s);
/* PLAIN/LOGIN: the password (its bytes are followed by a NUL), valid until
 * sasl_free; STR_NULL before it is known. */
struct str sasl_password(const struct sasl *s);

/* The base64 framing every protocol puts SASL data in (SMTP "334 ", IMAP
 * "+ "): encode appends the text for `bin`; decode takes a client's line,
 * "=" being the empty response, and returns 0 or -1 on bad base64. The
 * decoded bytes may be a password: callers wipe `out` when done. */
void sasl_b64_encode(struct buf *out, struct str bin);
int sasl_b64_decode(struct str in, struct buf *out);

#endif
