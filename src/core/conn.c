#include "core/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "core/addr.h"
#include "core/deflate.h"
#include "core/log.h"
#include "core/tls.h"

#define CONN_READ_CHUNK 16384

struct conn {
    struct conn *prev, *next; /* the list of open connections */
    struct event_base *base;
    struct bufferevent *bev;
    SSL *ssl;           /* owned by bev once attached */
    bool tls_handshaking;
    bool outbound;      /* made by conn_connect: not an inbound client */
    bool connecting;    /* conn_connect: the TCP handshake is under way */
    const struct conn_handler *h;
    void *ctx;
    void (*drained)(struct conn *c, void *ctx);
    size_t drain_low;
    bool paused;
    long long idle_ms;  /* the engine's idle timeout, restored after a handshake */
    bool closing;       /* close once output is flushed */
    bool closed;        /* closed; free when the callback depth drops to 0 */
    bool notified;      /* TLS close_notify sent */
    bool draining_under; /* waiting for the layers under STARTTLS/COMPRESS to drain */
    struct deflate_state *deflate; /* COMPRESS=DEFLATE: owned by its filter */
    struct event *deflate_failed;  /* closes the conn, outside the filter */
    int depth;          /* nesting of our callbacks into the engine */
    char *close_reason;
    char id[16];
    char peer[64];
    struct sockaddr_storage peer_addr;
};

static struct conn *conns;
static int nconns;
static long long handshake_timeout_ms = 30000;

static void apply_timeout(struct conn *c, long long ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    bufferevent_set_timeouts(c->bev, ms > 0 ? &tv : NULL, ms > 0 ? &tv : NULL);
}

void conn_set_handshake_timeout(long long ms)
{
    handshake_timeout_ms = ms;
}

/* A layer under another (STARTTLS, COMPRESS) takes this much of the upper
 * layer's output at most, so queued output stays in the top layer, where
 * conn_set_drain watches it and the engine's backpressure sees it. */
#define UNDER_HIGH (64u << 10)
#define COMPRESS_READ_AHEAD (256u << 10)

static void hold_back(struct bufferevent *under)
{
    bufferevent_setwatermark(under, EV_WRITE, 0, UNDER_HIGH);
}

static void read_cb(struct bufferevent *bev, void *arg);
static void conn_destroy(struct conn *c);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static void make_id(char *out, size_t outlen)
{
    /* Random start, then sequential: unique for the process and still
     * distinct across restarts in a log. */
    static unsigned long long next;
    if (!next) {
        if (RAND_bytes((unsigned char *)&next, sizeof(next)) != 1)
            next = (unsigned long long)getpid() << 20;
        next &= 0xffffffffffULL;
        next |= 1;
    }
    snprintf(out, outlen, "%010llx", next++ & 0xffffffffffULL);
}

struct conn *conn_new(struct event_base *base, int fd, const struct sockaddr *peer,
                      socklen_t peerlen, SSL *ssl)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->base = base;
    make_id(c->id, sizeof(c->id));
    if (peerlen > sizeof(c->peer_addr))
        peerlen = sizeof(c->peer_addr);
    memcpy(&c->peer_addr, peer, peerlen);
    addr_format(peer, c->peer, sizeof(c->peer));
    int opts = BEV_OPT_CLOSE_ON_FREE;
    if (ssl) {
        c->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
        c->ssl = ssl;
        c->tls_handshaking = true;
    } else {
        c->bev = bufferevent_socket_new(base, fd, opts);
    }
    if (!c->bev) {
        /* Only on out of memory; the socket and SSL are ours to free. */
        if (ssl)
            SSL_free(ssl);
        close(fd);
        free(c);
        return NULL;
    }
    if (ssl)
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    if (ssl)
        apply_timeout(c, handshake_timeout_ms);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    nconns++;
    return c;
}

struct conn *conn_connect(struct event_base *base, const struct sockaddr *peer,
                          const struct sockaddr *source, long long timeout_ms,
                          const struct conn_handler *h, void *ctx, char **error_r)
{
    socklen_t len = peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    int fd = socket(peer->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error_r = xasprintf("socket: %s", strerror(errno));
        return NULL;
    }
    if (source) {
        socklen_t slen = source->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                       : sizeof(struct sockaddr_in);
        if (source->sa_family != peer->sa_family || bind(fd, source, slen) < 0) {
            char a[64];
            addr_format(source, a, sizeof(a));
            *error_r = xasprintf("cannot use source address %s: %s", a,
                                 source->sa_family != peer->sa_family
                                     ? "not of the peer's address family" : strerror(errno));
            close(fd);
            return NULL;
        }
    }
    struct conn *c = conn_new(base, fd, peer, len, NULL);
    if (!c) {
        *error_r = xstrdup("out of memory");
        return NULL;
    }
    nconns--; /* conn_count is the inbound clients */
    c->outbound = true;
    c->connecting = true;
    c->h = h;
    c->ctx = ctx;
    apply_timeout(c, timeout_ms);
    if (bufferevent_socket_connect(c->bev, peer, (int)len) < 0) {
        /* libevent reports an immediate refusal through the event callback
         * when it can; a failure here is a socket error it could not defer. */
        *error_r = xasprintf("connect: %s", strerror(errno));
        c->h = NULL;
        c->closed = true;
        conn_destroy(c);
        return NULL;
    }
    return c;
}

void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ctx)
{
    c->h = h;
    c->ctx = ctx;
    if (!c->paused)
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void conn_destroy(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!c->outbound)
        nconns--;
    bufferevent_free(c->bev); /* closes the socket and frees the SSL */
    if (c->deflate_failed)
        event_free(c->deflate_failed);
    free(c->close_reason);
    free(c);
}

/* Runs the engine's closed callback once, then frees when no callback of
 * ours is still on the stack. */
static void finish(struct conn *c, const char *reason)
{
    if (c->closed)
        return;
    c->closed = true;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->h && c->h->closed) {
        c->depth++;
        c->h->closed(c, c->ctx, reason);
        c->depth--;
    }
    if (c->depth == 0)
        conn_destroy(c);
}

/* Called when one of our callbacks returns: free a conn closed meanwhile. */
static bool leave(struct conn *c)
{
    c->depth--;
    if (c->closed && c->depth == 0) {
        conn_destroy(c);
        return true;
    }
    return c->closed;
}

static void under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

/* A closing conn whose own output is empty: say goodbye at the TLS level
 * and close once the bytes are on the wire. Under STARTTLS or COMPRESS,
 * the upper layer hands its bytes to the one below it; those must drain
 * too, or the last reply (SMTP 221, IMAP BYE) would be freed unsent. */
static void close_when_drained(struct conn *c)
{
    if (c->closed)
        return;
    /* Down the layers (COMPRESS, TLS, socket; the top one is empty): each
     * must have passed its bytes on before the next is looked at, and
     * close_notify goes out only after the last plaintext went into TLS. */
    for (struct bufferevent *b = c->bev; b; b = bufferevent_get_underlying(b)) {
        struct evbuffer *out = bufferevent_get_output(b);
        if (b != c->bev && evbuffer_get_length(out) > 0) {
            if (!c->draining_under) {
                c->draining_under = true;
                evbuffer_add_cb(out, under_drained, c);
            }
            return;
        }
        if (c->ssl && !c->tls_handshaking && !c->notified && bufferevent_openssl_get_ssl(b)) {
            c->notified = true;
            SSL_shutdown(c->ssl); /* queues close_notify; the peer's is not awaited */
            ERR_clear_error();
        }
    }
    finish(c, c->close_reason ? c->close_reason : "closed");
}

static void under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)info;
    struct conn *c = arg;
    if (evbuffer_get_length(buf) == 0 && !c->closed) {
        evbuffer_remove_cb(buf, under_drained, c);
        c->draining_under = false;
        c->depth++;
        close_when_drained(c); /* the next layer down, or the end */
        leave(c);
    }
}

/* Under COMPRESS: inflating stops at the read-ahead limit, leaving
 * compressed bytes below, and libevent inflates again only when more bytes
 * arrive from the network, which a client waiting for our answer never
 * sends. So once the engine has taken everything inflated, ask the lower
 * layer to hand up what it holds. */
static void inflate_more(struct conn *c)
{
    if (!c->deflate)
        return;
    struct bufferevent *under = bufferevent_get_underlying(c->bev);
    if (under && evbuffer_get_length(bufferevent_get_input(under)))
        bufferevent_trigger(under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char chunk[CONN_READ_CHUNK];
    if (c->tls_handshaking) {
        /* Data before the handshake is reported done (libevent reads
         * first): kept until event_cb has told the engine TLS is ready. */
        return;
    }
    c->depth++;
    /* bev != c->bev: the engine stacked COMPRESS on this layer meanwhile. */
    while (!c->closed && !c->closing && !c->paused && bev == c->bev && evbuffer_get_length(in)) {
        int n = evbuffer_remove(in, chunk, sizeof(chunk));
        if (n <= 0)
            break;
        if (c->h && c->h->read)
            c->h->read(c, c->ctx, (struct str){ chunk, (size_t)n });
    }
    if (c->closing && !c->closed)
        evbuffer_drain(in, evbuffer_get_length(in)); /* nothing more is read */
    else if (!c->closed && !c->paused && bev == c->bev && evbuffer_get_length(in) == 0)
        inflate_more(c);
    leave(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    size_t left = evbuffer_get_length(bufferevent_get_output(bev));
    c->depth++;
    if (c->closing && left == 0 && !c->tls_handshaking) {
        close_when_drained(c);
    } else if (c->drained && left <= c->drain_low) {
        void (*fn)(struct conn *, void *) = c->drained;
        c->drained = NULL;
        fn(c, c->ctx);
    }
    leave(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    c->depth++;
    if ((what & BEV_EVENT_CONNECTED) && c->connecting) {
        c->connecting = false;
        apply_timeout(c, c->idle_ms);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        if (c->h && c->h->connected)
            c->h->connected(c, c->ctx);
    } else if (what & BEV_EVENT_CONNECTED) {
        /* A filter over a plain bufferevent: this was STARTTLS. */
        bool was_starttls = c->tls_handshaking && bufferevent_get_underlying(bev) != NULL;
        c->tls_handshaking = false;
        apply_timeout(c, c->idle_ms);
        log_debug("tls", "handshake", "session=%s peer=%s version=%s cipher=%s", c->id, c->peer,
                  tls_version_name(c->ssl), tls_cipher_name(c->ssl));
        if (c->closing) {
            /* Closed before the handshake ended: send what is queued, then go. */
            if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
                close_when_drained(c);
        } else if (was_starttls && c->h && c->h->tls_ready) {
            c->h->tls_ready(c, c->ctx);
        }
        /* The peer's first bytes over TLS may have come in the same segment
         * as its last handshake message (a TLS 1.3 client sends EHLO right
         * behind its Finished): libevent hands them to read_cb before it
         * reports the handshake, and read_cb kept them. Now they can go. */
        if (!c->closed && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
            bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    } else if ((what & BEV_EVENT_TIMEOUT) && c->connecting) {
        finish(c, "connect timed out");
    } else if (what & BEV_EVENT_TIMEOUT) {
        if (c->tls_handshaking)
            log_info("tls", "handshake-timeout", "session=%s peer=%s", c->id, c->peer);
        if (!c->tls_handshaking && !c->closing && c->h && c->h->timeout) {
            c->h->timeout(c, c->ctx);
            /* The engine must close; if it did not, the conn would hang
             * with reading stopped by the timeout. */
            if (!c->closing && !c->closed)
                finish(c, "timeout");
        } else {
            finish(c, c->tls_handshaking ? "tls handshake timeout" : "timeout");
        }
    } else if (what & BEV_EVENT_EOF) {
        finish(c, "peer closed");
    } else if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        if (c->ssl && (e || c->tls_handshaking)) {
            char why[256] = "connection closed during handshake";
            if (e)
                ERR_error_string_n(e, why, sizeof(why));
            while (bufferevent_get_openssl_error(bev))
                ;
            log_info("tls", c->tls_handshaking ? "handshake-failed" : "error",
                     "session=%s peer=%s reason=%s", c->id, c->peer, log_q(why));
            finish(c, c->tls_handshaking ? "tls handshake failed" : "tls error");
        } else if (c->connecting) {
            /* libevent has put the socket's SO_ERROR into errno. */
            int err = errno;
            char why[160];
            snprintf(why, sizeof(why), "connect failed: %s",
                     err ? evutil_socket_error_to_string(err) : "error");
            finish(c, why);
        } else {
            finish(c, "i/o error");
        }
    }
    leave(c);
}

void conn_write(struct conn *c, struct str bytes)
{
    if (c->closed || c->closing || !bytes.len)
        return;
    bufferevent_write(c->bev, bytes.p, bytes.len);
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    conn_write(c, buf_str(&b));
    buf_free(&b);
}

size_t conn_pending_output(const struct conn *c)
{
    size_t n = 0;
    for (struct bufferevent *b = c->bev; b; b = bufferevent_get_underlying(b))
        n += evbuffer_get_length(bufferevent_get_output(b));
    return n;
}

void conn_set_drain(struct conn *c, size_t low, void (*drained)(struct conn *c, void *ctx))
{
    c->drain_low = low;
    c->drained = drained;
    bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
}

void conn_pause_read(struct conn *c)
{
    c->paused = true;
    bufferevent_disable(c->bev, EV_READ);
}

void conn_resume_read(struct conn *c)
{
    if (c->closed || c->closing)
        return;
    c->paused = false;
    bufferevent_enable(c->bev, EV_READ);
    /* Input that arrived while paused is already buffered: no new read
     * event will announce it, so hand it over now. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    else
        inflate_more(c);
}

void conn_set_idle_timeout(struct conn *c, long long ms)
{
    c->idle_ms = ms;
    if (!c->tls_handshaking)
        apply_timeout(c, ms);
}

int conn_starttls(struct conn *c, SSL *ssl)
{
    if (c->ssl || c->closed) {
        SSL_free(ssl);
        return -1;
    }
    /* Anything the client sent after the STARTTLS command arrived in
     * plaintext and must not be taken as if it came over TLS. */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    struct bufferevent *tls = bufferevent_openssl_filter_new(
        c->base, c->bev, ssl, SSL_is_server(ssl) ? BUFFEREVENT_SSL_ACCEPTING
                                                 : BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (!tls) {
        SSL_free(ssl);
        return -1;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
    /* The plaintext layer's idle timer would still fire under the TLS one. */
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    hold_back(c->bev);
    c->bev = tls;
    c->ssl = ssl;
    c->tls_handshaking = true;
    bufferevent_setcb(tls, read_cb, write_cb, event_cb, c);
    apply_timeout(c, handshake_timeout_ms);
    bufferevent_enable(tls, c->paused ? EV_WRITE : EV_READ | EV_WRITE);
    return 0;
}

static void deflate_failed_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->closed)
        return;
    log_info("conn", "compress-error", "session=%s peer=%s", c->id, c->peer);
    conn_close(c, "compression error");
}

static void deflate_failed(void *arg)
{
    struct conn *c = arg;
    event_active(c->deflate_failed, EV_TIMEOUT, 0);
}

int conn_compress(struct conn *c)
{
    if (c->deflate || c->closed || c->closing || c->tls_handshaking)
        return -1;
    c->deflate_failed = evtimer_new(c->base, deflate_failed_cb, c);
    struct deflate_state *z = c->deflate_failed ? deflate_state_new(deflate_failed, c) : NULL;
    if (!z)
        return -1;
    /* As for STARTTLS: what the client sent before it saw the OK was not
     * compressed, and is not a command either. */
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    struct bufferevent *f = bufferevent_filter_new(c->bev, deflate_filter_in, deflate_filter_out,
                                                   BEV_OPT_CLOSE_ON_FREE, deflate_state_free, z);
    if (!f) {
        deflate_state_free(z);
        return -1;
    }
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    hold_back(c->bev);
    c->bev = f;
    c->deflate = z;
    /* A few compressed bytes can inflate to megabytes: inflate only this
     * far ahead of the engine. */
    bufferevent_setwatermark(f, EV_READ, 0, COMPRESS_READ_AHEAD);
    if (c->drained)
        bufferevent_setwatermark(f, EV_WRITE, c->drain_low, 0);
    bufferevent_setcb(f, read_cb, write_cb, event_cb, c);
    apply_timeout(c, c->idle_ms);
    bufferevent_enable(f, c->paused ? EV_WRITE : EV_READ | EV_WRITE);
    return 0;
}

bool conn_is_compressed(const struct conn *c)
{
    return c->deflate != NULL;
}

bool conn_is_tls(const struct conn *c)
{
    return c->ssl != NULL;
}

SSL *conn_ssl(const struct conn *c)
{
    return c->ssl;
}

void conn_close_after_flush(struct conn *c, const char *reason)
{
    if (c->closed || c->closing)
        return;
    c->closing = true;
    c->close_reason = xstrdup(reason);
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 && !c->tls_handshaking) {
        c->depth++;
        close_when_drained(c);
        leave(c);
    } else {
        /* write_cb fires when the output buffer drains to 0. */
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        bufferevent_enable(c->bev, EV_WRITE);
    }
}

void conn_close(struct conn *c, const char *reason)
{
    c->depth++;
    finish(c, reason);
    leave(c);
}

const char *conn_id(const struct conn *c)
{
    return c->id;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}

const struct sockaddr *conn_peer_addr(const struct conn *c)
{
    return (const struct sockaddr *)&c->peer_addr;
}

bool conn_peer_is_loopback(const struct conn *c)
{
    const struct sockaddr *sa = conn_peer_addr(c);
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

void conn_shutdown_all(void)
{
    /* An engine may close its connection from the callback: walk with care. */
    struct conn *c = conns;
    if (c)
        c->depth++;
    while (c) {
        /* Pin the next one too: this one's callback may close it. */
        struct conn *next = c->next;
        if (next)
            next->depth++;
        if (!c->closed && c->tls_handshaking) {
            /* No session has begun on it: nothing to say goodbye to. */
            finish(c, "shutdown");
        } else if (!c->closed && !c->closing) {
            if (c->h && c->h->shutdown)
                c->h->shutdown(c, c->ctx);
            else
                finish(c, "shutdown");
        }
        leave(c);
        c = next;
    }
}

void conn_close_all(const char *reason)
{
    while (conns) {
        struct conn *c = conns;
        if (c->depth > 0)
            abort(); /* a bug: called from inside a connection's callback */
        if (c->closed) {
            conn_destroy(c);
            continue;
        }
        conn_close(c, reason);
    }
}

int conn_count(void)
{
    return nconns;
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
    return false;
}

int conn_count_peer(const struct sockaddr *peer)
{
    /* A walk of the list: bounded by max_connections, and only on accept. */
    int n = 0;
    for (struct conn *c = conns; c; c = c->next)
        if (!c->closed && !c->outbound && same_ip((const struct sockaddr *)&c->peer_addr, peer))
            n++;
    return n;
}
