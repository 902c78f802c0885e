/*
 * smtp/mtasts_fetch.h — fetching a domain's MTA-STS policy over HTTPS on the
 * event loop (RFC 8461 §3.3).
 *
 * GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt, HTTP/1.1 with
 * "Connection: close", over TLS 1.2 or later with SNI, the certificate
 * verified against the client context's trust store and matched to
 * mta-sts.DOMAIN (subjectAltName only, a wildcard only as a whole leftmost
 * label: MTASTS_X509_HOSTFLAGS). Accepted: a 200 whose Content-Type is
 * text/plain (parameters allowed) and whose body, at most 64 KB, is a valid
 * policy. Anything else fails — a redirect is never followed, no HTTP cache
 * is used.
 *
 * The caller resolves mta-sts.DOMAIN (core/dns) and gives the addresses;
 * they are tried in order until one completes a TLS handshake (a refused
 * connection, a failed handshake or a bad certificate moves on to the
 * next; an HTTP answer, good or bad, is final). The whole fetch has one
 * deadline; each address gets an equal share of the time left for its
 * connection and handshake, so one silent address cannot use it all.
 *
 * Owns: the connection, its SSL and the response while the fetch runs (and
 * a client SSL_CTX of its own when given none). Never logs: the result code
 * and one line of error go to the caller, who knows what the fetch was for.
 */
#ifndef OUTPOST_SMTP_MTASTS_FETCH_H
#define OUTPOST_SMTP_MTASTS_FETCH_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "smtp/mtasts.h"

struct mtasts_fetch;

enum mtasts_fetch_result {
    MTASTS_FETCH_OK = 0,
    MTASTS_FETCH_CONNECT,       /* no address took the connection */
    MTASTS_FETCH_TLS,           /* the TLS handshake failed (not the certificate) */
    MTASTS_FETCH_CERT,          /* the certificate is not valid for mta-sts.DOMAIN */
    MTASTS_FETCH_TIMEOUT,       /* the deadline passed */
    MTASTS_FETCH_HTTP,          /* a malformed or cut-short response */
    MTASTS_FETCH_STATUS,        /* a status other than 200 (a 3xx too: not followed) */
    MTASTS_FETCH_CONTENT_TYPE,  /* not text/plain */
    MTASTS_FETCH_TOO_LARGE,     /* a body over MTASTS_POLICY_MAX */
    MTASTS_FETCH_POLICY,        /* the body is not a valid policy */
    MTASTS_FETCH_INVALID,       /* a bad argument: no addresses, a bad domain */
};

/* `policy` (set only for MTASTS_FETCH_OK: fetched_at set, id "") and
 * `error` (NULL only for OK) live until the callback returns; keep the
 * policy with mtasts_policy_copy. The fetch is freed when the callback
 * returns: its handle must not be used from the callback on. */
typedef void (*mtasts_fetch_done_fn)(void *ctx, enum mtasts_fetch_result result,
                                     const struct mtasts_policy *policy, const char *error);

/* The client context comes from tls_client_ctx_new (core/tls.h); every
 * fetch turns verification and the host-name check on for its own
 * connection, whatever the context says. */

/* Starts a fetch for `domain` (an A-label domain name, with or without the
 * trailing dot) at addrs[0..naddrs) (ports ignored: `port` is used, 443 but
 * in tests). client_ctx may be NULL (a default one is made for this fetch)
 * and must otherwise outlive the fetch. timeout_ms bounds the whole fetch.
 * `done` always runs exactly once, later, on the loop — never inside this
 * call, even when the arguments are bad — unless the fetch is cancelled. */
struct mtasts_fetch *mtasts_fetch_start(struct event_base *base, SSL_CTX *client_ctx,
                                        const char *domain, const struct sockaddr_storage *addrs,
                                        int naddrs, int port, long long timeout_ms,
                                        mtasts_fetch_done_fn done, void *ctx);
/* Stops a fetch in progress: `done` will not run. */
void mtasts_fetch_cancel(struct mtasts_fetch *f);

/* "ok", "connect", "tls", "cert", "timeout", "http", "status",
 * "content-type", "too-large", "policy", "invalid" (for logs). */
const char *mtasts_fetch_result_name(enum mtasts_fetch_result r);
/* The result type of an SMTP TLS report (RFC 8460 §4.3) for a failed fetch:
 * "sts-webpki-invalid", "sts-policy-invalid" or "sts-policy-fetch-error". */
const char *mtasts_fetch_result_tlsrpt(enum mtasts_fetch_result r);

#endif
