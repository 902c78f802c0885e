/* Fetching MTA-STS policies over HTTPS (see mtasts_fetch.h).
 *
 * A small HTTP/1.1 client of our own rather than evhttp: we need one GET
 * with Connection: close, and doing it ourselves gives what evhttp does not:
 * the connection and the handshake as separate steps (so a refused
 * connection, a failed handshake and a bad certificate are told apart, and
 * the next address is tried), a response reader that is fuzzed
 * (mtasts_http_read), a hard body cap, and a body that runs to the end of
 * the connection accepted only after a TLS close_notify. */
#include "smtp/mtasts_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/tls.h"

#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "0"
#endif

enum phase {
    P_IDLE = 0,    /* before the first attempt, or between two */
    P_CONNECT,     /* TCP connect in progress on fd */
    P_HANDSHAKE,   /* TLS handshake on bev */
    P_HTTP,        /* request sent, reading the response */
};

struct mtasts_fetch {
    struct event_base *base;
    SSL_CTX *ctx;
    bool own_ctx;
    char *host;                  /* mta-sts.DOMAIN */
    char *request;
    struct sockaddr_storage *addrs;
    int naddrs, next, port;
    long long timeout_ms, deadline, attempt_deadline; /* monotonic ms */
    struct event *kick;          /* the first step, run from the loop */
    struct event *timer;
    struct event *connect_ev;
    evutil_socket_t fd;
    struct bufferevent *bev;     /* owns the SSL and the socket */
    SSL *ssl;
    enum phase phase;
    char addr[INET6_ADDRSTRLEN + 16]; /* "192.0.2.1:443", "[2001:db8::1]:443" */
    struct mtasts_http_reader reader;
    bool reader_live;
    /* The most telling failure so far, and an early one found by start. */
    int best;                    /* -1, or an enum mtasts_fetch_result */
    char *error;
    int tried;
    mtasts_fetch_done_fn done;
    void *done_ctx;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mtasts_fetch_result_name(enum mtasts_fetch_result r)
{
    switch (r) {
    case MTASTS_FETCH_OK: return "ok";
    case MTASTS_FETCH_CONNECT: return "connect";
    case MTASTS_FETCH_TLS: return "tls";
    case MTASTS_FETCH_CERT: return "cert";
    case MTASTS_FETCH_TIMEOUT: return "timeout";
    case MTASTS_FETCH_HTTP: return "http";
    case MTASTS_FETCH_STATUS: return "status";
    case MTASTS_FETCH_CONTENT_TYPE: return "content-type";
    case MTASTS_FETCH_TOO_LARGE: return "too-large";
    case MTASTS_FETCH_POLICY: return "policy";
    case MTASTS_FETCH_INVALID: return "invalid";
    }
    return "unknown";
}

const char *mtasts_fetch_result_tlsrpt(enum mtasts_fetch_result r)
{
    switch (r) {
    case MTASTS_FETCH_CERT:
        return "sts-webpki-invalid";
    case MTASTS_FETCH_POLICY:
        return "sts-policy-invalid";
    default:
        return "sts-policy-fetch-error";
    }
}


/* Rank of an attempt's failure: the one that got furthest is reported. */
static int rank(int result)
{
    switch (result) {
    case MTASTS_FETCH_CONNECT: return 1;
    case MTASTS_FETCH_TIMEOUT: return 2;
    case MTASTS_FETCH_TLS: return 3;
    case MTASTS_FETCH_CERT: return 4;
    default: return 5;
    }
}

static void note_failure(struct mtasts_fetch *f, int result, char *error)
{
    if (f->best < 0 || rank(result) >= rank(f->best)) {
        free(f->error);
        f->error = error;
        f->best = result;
    } else {
        free(error);
    }
}

static void close_attempt(struct mtasts_fetch *f)
{
    if (f->connect_ev) {
        event_free(f->connect_ev);
        f->connect_ev = NULL;
    }
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->bev) {
        bufferevent_free(f->bev); /* frees the SSL and closes the socket */
        f->bev = NULL;
        f->ssl = NULL;
    }
    if (f->reader_live) {
        mtasts_http_reader_free(&f->reader);
        f->reader_live = false;
    }
    f->phase = P_IDLE;
}

static void fetch_free(struct mtasts_fetch *f)
{
    close_attempt(f);
    if (f->kick)
        event_free(f->kick);
    if (f->timer)
        event_free(f->timer);
    if (f->own_ctx)
        SSL_CTX_free(f->ctx);
    free(f->host);
    free(f->request);
    free(f->addrs);
    free(f->error);
    free(f);
}

void mtasts_fetch_cancel(struct mtasts_fetch *f)
{
    if (f)
        fetch_free(f);
}

/* Ends the fetch: frees it, then tells the caller. */
static void finish(struct mtasts_fetch *f, enum mtasts_fetch_result result,
                   const struct mtasts_policy *policy, const char *error)
{
    mtasts_fetch_done_fn done = f->done;
    void *ctx = f->done_ctx;
    char *err = error ? xstrdup(error) : NULL;
    fetch_free(f);
    done(ctx, result, policy, err);
    free(err);
}

static void finish_failed(struct mtasts_fetch *f, enum mtasts_fetch_result result,
                          const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish_failed(struct mtasts_fetch *f, enum mtasts_fetch_result result,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct buf b;
    buf_init(&b, 0);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    finish(f, result, NULL, buf_cstr(&b));
    buf_free(&b);
}

static void arm_timer(struct mtasts_fetch *f)
{
    long long at = f->deadline;
    if ((f->phase == P_CONNECT || f->phase == P_HANDSHAKE) && f->attempt_deadline < at)
        at = f->attempt_deadline;
    long long left = at - now_ms();
    if (left < 0)
        left = 0;
    struct timeval tv = { (time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000 };
    evtimer_add(f->timer, &tv);
}

static void next_attempt(struct mtasts_fetch *f);

/* No address is left, or the fetch is out of time: the best failure. */
static void finish_attempts(struct mtasts_fetch *f)
{
    if (f->best < 0)
        finish_failed(f, MTASTS_FETCH_CONNECT, "no address to connect to");
    else if (f->tried > 1)
        finish_failed(f, (enum mtasts_fetch_result)f->best, "%s (%d addresses tried)", f->error,
                      f->tried);
    else
        finish_failed(f, (enum mtasts_fetch_result)f->best, "%s", f->error);
}

static void handle_response(struct mtasts_fetch *f, enum mtasts_http_status st, const char *err)
{
    struct mtasts_http_reader *r = &f->reader;
    if (st == MTASTS_HTTP_ERROR) {
        finish_failed(f, MTASTS_FETCH_HTTP, "%s: %s", f->addr, err);
        return;
    }
    if (st == MTASTS_HTTP_TOO_LARGE) {
        finish_failed(f, MTASTS_FETCH_TOO_LARGE, "%s: %s", f->addr, err);
        return;
    }
    if (r->status != 200) {
        if (r->status >= 300 && r->status < 400)
            finish_failed(f, MTASTS_FETCH_STATUS,
                          "%s: HTTP status %d: a redirect, not followed (RFC 8461 §3.3)", f->addr,
                          r->status);
        else
            finish_failed(f, MTASTS_FETCH_STATUS, "%s: HTTP status %d", f->addr, r->status);
        return;
    }
    if (!r->seen_content_type) {
        finish_failed(f, MTASTS_FETCH_CONTENT_TYPE, "%s: no Content-Type (text/plain required)",
                      f->addr);
        return;
    }
    if (!mtasts_content_type_ok(buf_str(&r->content_type))) {
        finish_failed(f, MTASTS_FETCH_CONTENT_TYPE, "%s: Content-Type \"%.100s\" is not text/plain",
                      f->addr, buf_cstr(&r->content_type));
        return;
    }
    struct mtasts_policy policy;
    char *perr = NULL;
    if (mtasts_policy_parse(buf_str(&r->body), &policy, &perr) < 0) {
        finish_failed(f, MTASTS_FETCH_POLICY, "%s: invalid policy: %s", f->addr, perr);
        free(perr);
        return;
    }
    policy.fetched_at = (long long)time(NULL);
    finish(f, MTASTS_FETCH_OK, &policy, NULL);
    mtasts_policy_free(&policy);
}

/* Gives the buffered bytes to the reader; true when the response is
 * complete (or failed) and the fetch has finished: f is gone. */
static bool feed(struct mtasts_fetch *f)
{
    struct evbuffer *in = bufferevent_get_input(f->bev);
    size_t n;
    while ((n = evbuffer_get_contiguous_space(in)) > 0) {
        struct str s = { (const char *)evbuffer_pullup(in, (ev_ssize_t)n), n };
        const char *err = NULL;
        enum mtasts_http_status st = mtasts_http_read(&f->reader, &s, &err);
        evbuffer_drain(in, n - s.len);
        if (st != MTASTS_HTTP_NEED_MORE) {
            handle_response(f, st, err);
            return true;
        }
        if (s.len == n)
            abort(); /* NEED_MORE takes every byte: a broken invariant */
    }
    return false;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    feed(arg);
}

/* libevent keeps a TLS connection's errors in a small LIFO, the SSL_ERROR_*
 * code first and then OpenSSL's queue: the cause is the earliest real one. */
static unsigned long bev_openssl_error(struct bufferevent *bev)
{
    unsigned long e, pick = 0;
    while ((e = bufferevent_get_openssl_error(bev)))
        if (ERR_GET_LIB(e) != 0)
            pick = e;
    return pick;
}

static void handshake_failed(struct mtasts_fetch *f, short what)
{
    long verify = f->ssl ? SSL_get_verify_result(f->ssl) : X509_V_OK;
    if (verify != X509_V_OK) {
        note_failure(f, MTASTS_FETCH_CERT,
                     xasprintf("%s: certificate not valid for %s: %s", f->addr, f->host,
                               X509_verify_cert_error_string(verify)));
        return;
    }
    unsigned long e = bev_openssl_error(f->bev);
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        note_failure(f, MTASTS_FETCH_TLS,
                     xasprintf("%s: TLS handshake failed: %s", f->addr, buf));
    } else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR()) {
        note_failure(f, MTASTS_FETCH_TLS,
                     xasprintf("%s: TLS handshake failed: %s", f->addr,
                               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())));
    } else {
        note_failure(f, MTASTS_FETCH_TLS,
                     xasprintf("%s: connection closed during the TLS handshake", f->addr));
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct mtasts_fetch *f = arg;
    if (what & BEV_EVENT_CONNECTED) {
        f->phase = P_HTTP;
        mtasts_http_reader_init(&f->reader);
        f->reader_live = true;
        if (bufferevent_write(bev, f->request, strlen(f->request)) < 0) {
            finish_failed(f, MTASTS_FETCH_HTTP, "%s: cannot send the request", f->addr);
            return;
        }
        arm_timer(f);
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    if (f->phase == P_HANDSHAKE) {
        handshake_failed(f, what);
        next_attempt(f);
        return;
    }
    /* Reading the response: the connection ended. Bytes still buffered
     * go to the reader first. */
    if (feed(f))
        return;
    const char *err = NULL;
    enum mtasts_http_status st;
    unsigned long e;
    if (what & BEV_EVENT_EOF) {
        bool clean = (SSL_get_shutdown(f->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
        st = mtasts_http_eof(&f->reader, clean, &err);
    } else if ((e = bev_openssl_error(bev)) && ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        /* OpenSSL 3 reports a close without close_notify as an error, not
         * as the dirty EOF libevent knows: it is one all the same. (Not
         * SSL_OP_IGNORE_UNEXPECTED_EOF, which would make it look clean.) */
        st = mtasts_http_eof(&f->reader, false, &err);
    } else {
        char buf[256];
        if (e)
            ERR_error_string_n(e, buf, sizeof(buf));
        else
            snprintf(buf, sizeof(buf), "%s",
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        finish_failed(f, MTASTS_FETCH_HTTP, "%s: connection failed while reading: %s", f->addr,
                      buf);
        return;
    }
    handle_response(f, st, err);
}

static void on_connect_ready(evutil_socket_t fd, short what, void *arg)
{
    struct mtasts_fetch *f = arg;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr) {
        note_failure(f, MTASTS_FETCH_CONNECT,
                     xasprintf("%s: cannot connect: %s", f->addr, strerror(soerr)));
        next_attempt(f);
        return;
    }
    event_free(f->connect_ev);
    f->connect_ev = NULL;

    char err[256];
    SSL *ssl = SSL_new(f->ctx);
    /* SNI, the name check and peer verification are set on each SSL, so a
     * caller's context that lacks them cannot turn verification off. */
    if (!ssl || SSL_set_tlsext_host_name(ssl, f->host) != 1 || SSL_set1_host(ssl, f->host) != 1) {
        SSL_free(ssl);
        note_failure(f, MTASTS_FETCH_TLS,
                     xasprintf("%s: TLS: %s", f->addr, tls_last_error(err, sizeof(err))));
        next_attempt(f);
        return;
    }
    SSL_set_hostflags(ssl, MTASTS_X509_HOSTFLAGS);
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    f->bev = bufferevent_openssl_socket_new(f->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!f->bev) {
        SSL_free(ssl);
        note_failure(f, MTASTS_FETCH_TLS, xasprintf("%s: cannot start TLS", f->addr));
        next_attempt(f);
        return;
    }
    f->fd = -1; /* the bufferevent's now */
    f->ssl = ssl;
    f->phase = P_HANDSHAKE;
    /* A dirty close is reported as EOF; whether a body that runs to the end
     * may be trusted is decided by the reader, with SSL_get_shutdown. */
    bufferevent_openssl_set_allow_dirty_shutdown(f->bev, 1);
    bufferevent_setcb(f->bev, on_read, NULL, on_event, f);
    bufferevent_enable(f->bev, EV_READ | EV_WRITE);
}

static void next_attempt(struct mtasts_fetch *f)
{
    close_attempt(f);
    while (f->next < f->naddrs) {
        long long now = now_ms();
        if (now >= f->deadline) {
            finish_failed(f, MTASTS_FETCH_TIMEOUT, "timed out after %lld ms", f->timeout_ms);
            return;
        }
        int i = f->next++;
        f->tried++;
        f->attempt_deadline = now + (f->deadline - now) / (f->naddrs - i);

        struct sockaddr_storage ss = f->addrs[i];
        socklen_t slen;
        char ip[INET6_ADDRSTRLEN];
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
            sin->sin_port = htons((uint16_t)f->port);
            slen = sizeof(*sin);
            inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
            snprintf(f->addr, sizeof(f->addr), "%s:%d", ip, f->port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
            sin6->sin6_port = htons((uint16_t)f->port);
            slen = sizeof(*sin6);
            inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
            snprintf(f->addr, sizeof(f->addr), "[%s]:%d", ip, f->port);
        } else {
            note_failure(f, MTASTS_FETCH_CONNECT,
                         xasprintf("address %d: not IPv4 or IPv6", i + 1));
            continue;
        }
        f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (f->fd < 0) {
            note_failure(f, MTASTS_FETCH_CONNECT,
                         xasprintf("%s: socket: %s", f->addr, strerror(errno)));
            continue;
        }
        /* Even a connect that succeeds at once is finished from the loop. */
        if (connect(f->fd, (struct sockaddr *)&ss, slen) < 0 && errno != EINPROGRESS) {
            note_failure(f, MTASTS_FETCH_CONNECT,
                         xasprintf("%s: cannot connect: %s", f->addr, strerror(errno)));
            close(f->fd);
            f->fd = -1;
            continue;
        }
        f->connect_ev = event_new(f->base, f->fd, EV_WRITE, on_connect_ready, f);
        event_add(f->connect_ev, NULL);
        f->phase = P_CONNECT;
        arm_timer(f);
        return;
    }
    finish_attempts(f);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct mtasts_fetch *f = arg;
    if (now_ms() < f->deadline && (f->phase == P_CONNECT || f->phase == P_HANDSHAKE)) {
        /* This address's share of the time is used up: the next one. */
        note_failure(f, MTASTS_FETCH_TIMEOUT,
                     xasprintf("%s: timed out %s", f->addr,
                               f->phase == P_CONNECT ? "connecting" : "in the TLS handshake"));
        next_attempt(f);
        return;
    }
    const char *doing = f->phase == P_CONNECT     ? "connecting to"
                        : f->phase == P_HANDSHAKE ? "in the TLS handshake with"
                                                  : "waiting for the response from";
    if (f->best >= 0)
        finish_failed(f, MTASTS_FETCH_TIMEOUT, "timed out after %lld ms %s %s (before: %s)",
                      f->timeout_ms, doing, f->addr, f->error);
    else
        finish_failed(f, MTASTS_FETCH_TIMEOUT, "timed out after %lld ms %s %s", f->timeout_ms,
                      doing, f->addr);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct mtasts_fetch *f = arg;
    if (f->best == MTASTS_FETCH_INVALID) {
        finish_failed(f, MTASTS_FETCH_INVALID, "%s", f->error);
        return;
    }
    next_attempt(f);
}

/* A domain name in A-label form, lowercased, without the trailing dot, and
 * short enough that mta-sts.DOMAIN is a name; NULL when it is not. */
static char *check_domain(const char *domain)
{
    size_t n = strlen(domain);
    if (n && domain[n - 1] == '.')
        n--;
    if (n == 0 || n + 8 > 253)
        return NULL;
    char *d = xstrndup(domain, n);
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? d[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || d[i - label] == '-' || d[i - 1] == '-') {
                free(d);
                return NULL;
            }
            label = 0;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            d[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            free(d);
            return NULL;
        }
        label++;
    }
    return d;
}

struct mtasts_fetch *mtasts_fetch_start(struct event_base *base, SSL_CTX *client_ctx,
                                        const char *domain, const struct sockaddr_storage *addrs,
                                        int naddrs, int port, long long timeout_ms,
                                        mtasts_fetch_done_fn done, void *ctx)
{
    struct mtasts_fetch *f = xcalloc(1, sizeof(*f));
    f->base = base;
    f->fd = -1;
    f->best = -1;
    f->done = done;
    f->done_ctx = ctx;
    f->port = port;
    f->timeout_ms = timeout_ms;
    f->deadline = now_ms() + timeout_ms;
    f->kick = event_new(base, -1, 0, on_kick, f);
    f->timer = evtimer_new(base, on_timer, f);
    if (!f->kick || !f->timer)
        abort(); /* out of memory */

    char *d = check_domain(domain);
    if (!d) {
        f->best = MTASTS_FETCH_INVALID;
        f->error = xstrdup("not a domain name in A-label form");
    } else if (naddrs <= 0) {
        f->best = MTASTS_FETCH_INVALID;
        f->error = xstrdup("no address to connect to");
    } else if (port <= 0 || port > 65535 || timeout_ms <= 0) {
        f->best = MTASTS_FETCH_INVALID;
        f->error = xstrdup("bad port or timeout");
    } else {
        f->host = xasprintf("mta-sts.%s", d);
        char hostport[300];
        if (port == 443)
            snprintf(hostport, sizeof(hostport), "%s", f->host);
        else
            snprintf(hostport, sizeof(hostport), "%s:%d", f->host, port);
        f->request = xasprintf("GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                               "Host: %s\r\n"
                               "User-Agent: outpost/" OUTPOST_VERSION "\r\n"
                               "Accept: text/plain\r\n"
                               "Connection: close\r\n"
                               "\r\n",
                               hostport);
        f->addrs = xmalloc(sizeof(*addrs) * (size_t)naddrs);
        memcpy(f->addrs, addrs, sizeof(*addrs) * (size_t)naddrs);
        f->naddrs = naddrs;
        if (client_ctx) {
            /* Ours for the fetch's life: a reload may free the caller's. */
            SSL_CTX_up_ref(client_ctx);
            f->ctx = client_ctx;
            f->own_ctx = true;
        } else {
            char *err = NULL;
            f->ctx = tls_client_ctx_new(NULL, &err);
            if (!f->ctx) {
                f->best = MTASTS_FETCH_INVALID;
                f->error = err;
            }
            f->own_ctx = f->ctx != NULL;
        }
    }
    free(d);
    event_active(f->kick, 0, 0);
    return f;
}
