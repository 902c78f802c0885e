/*
 * core/conn.h — one client connection: bytes in, bytes out, plain or TLS.
 *
 * The I/O layer under every protocol engine. Plain and TLS connections look
 * the same to the engine (libevent bufferevents, with OpenSSL underneath for
 * TLS); STARTTLS swaps the transport in place. The engine sees bytes through
 * the `read` callback and answers with conn_write; it never touches a socket.
 *
 * Every open connection is on one process-wide list, so shutdown can ask each
 * session to finish (conn_shutdown_all) and close what is left at the deadline.
 *
 * Owns: the socket, the bufferevent, the SSL. Logs connection-level events
 * (TLS handshake failures, I/O errors) with the connection's id.
 */
#ifndef OUTPOST_CORE_CONN_H
#define OUTPOST_CORE_CONN_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "core/str.h"

struct conn;

struct conn_handler {
    /* Bytes arrived. The engine may call any conn_* function, conn_free too. */
    void (*read)(struct conn *c, void *ctx, struct str bytes);
    /* A STARTTLS handshake finished (conn_starttls). */
    void (*tls_ready)(struct conn *c, void *ctx);
    /* The connection is gone (peer closed, I/O or TLS error, timeout). `ctx`
     * must be released here; the conn is freed right after. */
    void (*closed)(struct conn *c, void *ctx, const char *reason);
    /* The server is shutting down: say goodbye (SMTP 421, IMAP BYE) and
     * close. NULL: the connection is just closed. */
    void (*shutdown)(struct conn *c, void *ctx);
    /* No input for the idle timeout (conn_set_idle_timeout): say why (SMTP
     * 421 4.4.2, IMAP BYE) and close. NULL: the connection is just closed. */
    void (*timeout)(struct conn *c, void *ctx);
    /* An outbound connection (conn_connect) is established. */
    void (*connected)(struct conn *c, void *ctx);
};

/* Wraps an accepted socket. With `ssl` the connection is implicit TLS: the
 * handshake runs first and the engine sees only decrypted bytes.
 * The connection takes `fd` and `ssl` in all cases. */
struct conn *conn_new(struct event_base *base, int fd, const struct sockaddr *peer,
                      socklen_t peerlen, SSL *ssl);
/* Starts an outbound TCP connection to `peer` (port set), from `source`
 * when not NULL (its port 0). The handler is attached at once: `connected`
 * runs when the connection is up, `closed` when it fails (reason says why)
 * or after `timeout_ms`. Outbound connections are not counted by
 * conn_count/conn_count_peer (those limit inbound clients), but they are
 * on the list conn_shutdown_all walks. NULL with *error_r allocated when no
 * socket can be made (the callbacks never run then). */
struct conn *conn_connect(struct event_base *base, const struct sockaddr *peer,
                          const struct sockaddr *source, long long timeout_ms,
                          const struct conn_handler *h, void *ctx, char **error_r);
/* Attaches the engine. Until then nothing is read. */
void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ctx);

/* Queues bytes for the peer (unbounded only by what the engine writes: an
 * engine that streams large data waits for conn_set_drain). */
void conn_write(struct conn *c, struct str bytes);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes queued but not yet sent. */
size_t conn_pending_output(const struct conn *c);
/* Calls `drained` once when queued output falls to `low` bytes or fewer. */
void conn_set_drain(struct conn *c, size_t low, void (*drained)(struct conn *c, void *ctx));
/* Stops and resumes delivering input to the engine (backpressure). */
void conn_pause_read(struct conn *c);
void conn_resume_read(struct conn *c);
/* Closes the connection when there is no input for `ms` milliseconds
 * (0: never). During a TLS handshake the handshake timeout applies instead. */
void conn_set_idle_timeout(struct conn *c, long long ms);
/* How long any TLS handshake may take (process-wide; default 30 s). */
void conn_set_handshake_timeout(long long ms);

/* Upgrades to TLS after the engine's "go ahead" reply has been queued; the
 * reply is sent in plaintext first. A client SSL (SSL_set_connect_state)
 * makes this the client side of STARTTLS: then call it once the server's
 * "220 go ahead" is read; whatever came after that reply is dropped. tls_ready follows, or closed on failure.
 * Whatever the client sent after the command came in plaintext and must not
 * be taken as sent over TLS (RFC 3207 §4.2, the STARTTLS injection bugs): the
 * conn drops what it still holds, and the engine must drop the rest of the
 * bytes it was handed in this read callback and reset its line reader. */
int conn_starttls(struct conn *c, SSL *ssl);
bool conn_is_tls(const struct conn *c);
/* Starts DEFLATE both ways (IMAP COMPRESS, RFC 4978), after the engine's
 * "OK" has been queued: that reply goes out as it is, everything written
 * after is compressed, everything read after is inflated. Input the conn
 * still holds was sent before the client saw the OK and is dropped, as for
 * STARTTLS (the engine drops the rest of its read too). -1 when
 * already compressed, closing, or in a TLS handshake. Data that does not
 * inflate closes the connection (log: conn compress-error). */
int conn_compress(struct conn *c);
bool conn_is_compressed(const struct conn *c);
SSL *conn_ssl(const struct conn *c);

/* Sends what is queued, then closes (closed runs with `reason`). */
void conn_close_after_flush(struct conn *c, const char *reason);
/* Closes at once: the closed callback runs, then the conn is freed. */
void conn_close(struct conn *c, const char *reason);

const char *conn_id(const struct conn *c);    /* session id for logs */
const char *conn_peer(const struct conn *c);  /* "IP:PORT" */
const struct sockaddr *conn_peer_addr(const struct conn *c);
bool conn_peer_is_loopback(const struct conn *c);

/* Asks every open connection to finish; see conn_handler.shutdown. */
void conn_shutdown_all(void);
/* Closes every connection still open. */
void conn_close_all(const char *reason);
int conn_count(void);
/* Open connections from the same IP address as `peer` (any port). */
int conn_count_peer(const struct sockaddr *peer);

#endif
