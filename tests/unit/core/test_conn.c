/* The connection layer over a socketpair, with a real TLS handshake: plain
 * I/O, STARTTLS (including plaintext injected after the command), implicit
 * TLS, close-after-flush, closing from a callback, and shutdown_all. */
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/ssl.h>

#include "core/config.h"
#include "core/conn.h"
#include "core/linereader.h"
#include "core/tls.h"
#include "test.h"

static struct event_base *base;
static struct tls_server *tls;
static SSL_CTX *client_ctx;

/* ---- a tiny line engine: STARTTLS, PING, QUIT, BYE-on-shutdown ---- */

struct engine {
    struct linereader lr;
    struct buf seen; /* every line it took, joined with '|' */
    int tls_ready;
    int closed;
    char reason[64];
};

static void engine_read(struct conn *c, void *ctx, struct str bytes)
{
    struct engine *e = ctx;
    struct str line;
    enum line_status st;
    while ((st = linereader_next(&e->lr, &bytes, &line)) != LINE_NONE) {
        buf_append_str(&e->seen, line);
        buf_append_char(&e->seen, '|');
        if (str_eq_cstr(line, "STARTTLS")) {
            conn_write(c, STR_LIT("220 go ahead\r\n"));
            CHECK_INT(conn_starttls(c, tls_server_new_ssl(tls)), 0);
            linereader_reset(&e->lr);
            return; /* the rest of this chunk came in plaintext */
        } else if (str_eq_cstr(line, "PING")) {
            conn_printf(c, "PONG %s\r\n", conn_is_tls(c) ? "tls" : "plain");
        } else if (str_eq_cstr(line, "QUIT")) {
            conn_write(c, STR_LIT("221 bye\r\n"));
            conn_close_after_flush(c, "quit");
            return;
        } else if (str_eq_cstr(line, "DROP")) {
            conn_close(c, "dropped"); /* freed once this callback returns */
            return;
        }
    }
}

static void engine_tls_ready(struct conn *c, void *ctx)
{
    (void)c;
    ((struct engine *)ctx)->tls_ready++;
}

static void engine_closed(struct conn *c, void *ctx, const char *reason)
{
    (void)c;
    struct engine *e = ctx;
    e->closed++;
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

static void engine_shutdown(struct conn *c, void *ctx)
{
    (void)ctx;
    conn_write(c, STR_LIT("421 shutting down\r\n"));
    conn_close_after_flush(c, "shutdown");
}

static const struct conn_handler engine_handler = {
    .read = engine_read,
    .tls_ready = engine_tls_ready,
    .closed = engine_closed,
    .shutdown = engine_shutdown,
};

static void engine_init(struct engine *e)
{
    memset(e, 0, sizeof(*e));
    linereader_init(&e->lr, 100);
    buf_init(&e->seen, 0);
}

static void engine_free(struct engine *e)
{
    linereader_free(&e->lr);
    buf_free(&e->seen);
}

/* ---- the client side: a bufferevent collecting what it reads ---- */

struct client {
    struct bufferevent *bev;
    struct buf got;
    const char *want; /* stop the loop once `got` contains this */
    int connected;    /* TLS handshake done */
    int eof;
};

static void client_read(struct bufferevent *bev, void *arg)
{
    struct client *cl = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char tmp[4096];
    int n;
    while ((n = evbuffer_remove(in, tmp, sizeof(tmp))) > 0)
        buf_append(&cl->got, tmp, (size_t)n);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct client *cl = arg;
    if (what & BEV_EVENT_CONNECTED)
        cl->connected = 1;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        cl->eof = 1;
}

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
    event_base_loopbreak(base);
}

/* Runs the loop until `done` says so, or 5 s pass (a failure, not a hang). */
static void run_loop(bool (*done)(void *), void *arg)
{
    int timed_out = 0;
    struct event *t = evtimer_new(base, give_up, &timed_out);
    struct timeval five = { 5, 0 };
    evtimer_add(t, &five);
    while (!done(arg) && !timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    /* Let deferred work (closes, frees) run. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(!timed_out);
}

static bool client_done(void *arg)
{
    struct client *cl = arg;
    if (cl->want)
        return strstr(buf_cstr(&cl->got), cl->want) != NULL;
    return cl->eof || cl->connected;
}

/* Runs the loop until the client has `want` (NULL: EOF or handshake done). */
static void run_until(struct client *cl, const char *want)
{
    cl->want = want;
    cl->connected = 0;
    run_loop(client_done, cl);
}

static bool engine_closed_done(void *arg)
{
    return ((struct engine *)arg)->closed > 0;
}

static struct conn *pair(struct client *cl, bool implicit_tls)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        abort();
    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(4242),
                                .sin_addr.s_addr = htonl(0x7f000001) };
    struct conn *c = conn_new(base, fds[0], (struct sockaddr *)&peer, sizeof(peer),
                              implicit_tls ? tls_server_new_ssl(tls) : NULL);
    memset(cl, 0, sizeof(*cl));
    buf_init(&cl->got, 0);
    if (implicit_tls) {
        SSL *ssl = SSL_new(client_ctx);
        cl->bev = bufferevent_openssl_socket_new(base, fds[1], ssl, BUFFEREVENT_SSL_CONNECTING,
                                                 BEV_OPT_CLOSE_ON_FREE);
        bufferevent_openssl_set_allow_dirty_shutdown(cl->bev, 1);
    } else {
        cl->bev = bufferevent_socket_new(base, fds[1], BEV_OPT_CLOSE_ON_FREE);
    }
    bufferevent_setcb(cl->bev, client_read, NULL, client_event, cl);
    bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
    return c;
}

static void client_free(struct client *cl)
{
    bufferevent_free(cl->bev);
    buf_free(&cl->got);
}

static void client_send(struct client *cl, const char *s)
{
    bufferevent_write(cl->bev, s, strlen(s));
}

/* ---- tests ---- */

static void test_plain_io_and_peer(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    CHECK(!conn_is_tls(c));
    CHECK_STR(conn_peer(c), "127.0.0.1:4242");
    CHECK(conn_peer_is_loopback(c));
    CHECK_INT(strlen(conn_id(c)), 10);
    CHECK_INT(conn_count(), 1);
    client_send(&cl, "PI");
    client_send(&cl, "NG\r\nPING\n");
    run_until(&cl, "PONG plain\r\nPONG plain\r\n");
    CHECK_STR(buf_cstr(&cl.got), "PONG plain\r\nPONG plain\r\n");
    client_send(&cl, "QUIT\r\n");
    run_until(&cl, "221 bye\r\n");
    run_until(&cl, NULL); /* until EOF */
    CHECK(cl.eof);
    CHECK_INT(e.closed, 1);
    CHECK_STR(e.reason, "quit");
    CHECK_INT(conn_count(), 0);
    client_free(&cl);
    engine_free(&e);
}

/* Upgrades the client side to TLS over its socket and waits for the handshake. */
static void client_starttls(struct client *cl)
{
    SSL *ssl = SSL_new(client_ctx);
    struct bufferevent *tlsbev = bufferevent_openssl_filter_new(
        base, cl->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_openssl_set_allow_dirty_shutdown(tlsbev, 1);
    cl->bev = tlsbev;
    bufferevent_setcb(tlsbev, client_read, NULL, client_event, cl);
    bufferevent_enable(tlsbev, EV_READ | EV_WRITE);
    run_until(cl, NULL);
    CHECK(cl->connected && !cl->eof);
}

static void test_starttls_drops_injected_plaintext(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    /* The classic injection: a command pipelined behind STARTTLS. */
    client_send(&cl, "STARTTLS\r\nPING\r\n");
    run_until(&cl, "220 go ahead\r\n");
    CHECK_STR(buf_cstr(&cl.got), "220 go ahead\r\n");
    buf_clear(&cl.got);

    /* Now the client's TLS handshake over the same socket. */
    client_starttls(&cl);
    client_send(&cl, "PING\r\n");
    run_until(&cl, "PONG tls\r\n");
    CHECK_STR(buf_cstr(&cl.got), "PONG tls\r\n");
    CHECK_INT(e.tls_ready, 1);
    CHECK(conn_is_tls(c));
    CHECK_STR(tls_version_name(conn_ssl(c)), "TLSv1.3");
    /* The injected PING never reached the engine. */
    CHECK_STR(buf_cstr(&e.seen), "STARTTLS|PING|");
    /* A second STARTTLS is refused by the layer. */
    CHECK_INT(conn_starttls(c, tls_server_new_ssl(tls)), -1);
    conn_close(c, "test over");
    CHECK_INT(e.closed, 1);
    client_free(&cl);
    engine_free(&e);
}

static void test_starttls_drops_a_large_injection(void)
{
    /* More than one read chunk (16 KB) after the command: what the engine
     * was not handed yet must be dropped by the conn itself. */
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    struct buf inj;
    buf_init(&inj, 0);
    buf_append_cstr(&inj, "STARTTLS\r\n");
    for (int i = 0; i < 5000; i++)
        buf_append_cstr(&inj, "PING\r\n");
    bufferevent_write(cl.bev, inj.p, inj.len);
    buf_free(&inj);
    run_until(&cl, "220 go ahead\r\n");
    buf_clear(&cl.got);
    /* The injected bytes may reach the server's socket after the upgrade
     * began; they are then garbage to TLS, and the handshake fails rather
     * than any PING being answered. Either way no PONG may come back. */
    SSL *ssl = SSL_new(client_ctx);
    struct bufferevent *tlsbev = bufferevent_openssl_filter_new(
        base, cl.bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_openssl_set_allow_dirty_shutdown(tlsbev, 1);
    cl.bev = tlsbev;
    bufferevent_setcb(tlsbev, client_read, NULL, client_event, &cl);
    bufferevent_enable(tlsbev, EV_READ | EV_WRITE);
    run_until(&cl, NULL);
    if (cl.connected) {
        client_send(&cl, "PING\r\n");
        run_until(&cl, "PONG tls\r\n");
        CHECK_STR(buf_cstr(&cl.got), "PONG tls\r\n");
    }
    CHECK(strstr(buf_cstr(&e.seen), "STARTTLS|") == buf_cstr(&e.seen));
    CHECK(strstr(buf_cstr(&e.seen), "PONG plain") == NULL);
    /* No plaintext PING was answered. */
    CHECK(strstr(buf_cstr(&cl.got), "PONG plain") == NULL);
    if (!e.closed)
        conn_close(c, "test over");
    client_free(&cl);
    engine_free(&e);
}

static void test_last_reply_after_starttls_is_delivered(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    conn_set_idle_timeout(c, 300);
    client_send(&cl, "STARTTLS\r\n");
    run_until(&cl, "220 go ahead\r\n");
    buf_clear(&cl.got);
    client_starttls(&cl);
    /* The plaintext layer's 300 ms idle timer must not fire under TLS. */
    conn_set_idle_timeout(c, 0);
    struct timeval half = { 0, 500000 };
    int slept = 0;
    struct event *t = evtimer_new(base, give_up, &slept);
    evtimer_add(t, &half);
    while (!slept && !e.closed)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    CHECK_INT(e.closed, 0);
    client_send(&cl, "QUIT\r\n");
    run_until(&cl, "221 bye\r\n");
    CHECK_STR(buf_cstr(&cl.got), "221 bye\r\n");
    run_until(&cl, NULL);
    CHECK(cl.eof);
    CHECK_STR(e.reason, "quit");
    client_free(&cl);
    engine_free(&e);
}

static void test_implicit_tls_closed_before_the_handshake(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, true);
    conn_set_handler(c, &engine_handler, &e);
    conn_close_after_flush(c, "refused"); /* nothing queued */
    run_until(&cl, NULL); /* the client's handshake completes... */
    if (cl.connected)
        run_until(&cl, NULL); /* ...then the server closes */
    CHECK(cl.eof);
    CHECK_INT(e.closed, 1);
    CHECK_STR(e.reason, "refused");
    client_free(&cl);
    engine_free(&e);
}

static void test_implicit_tls(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, true);
    conn_set_handler(c, &engine_handler, &e);
    conn_write(c, STR_LIT("* greeting\r\n")); /* queued before the handshake */
    run_until(&cl, "* greeting\r\n");
    CHECK_STR(buf_cstr(&cl.got), "* greeting\r\n");
    client_send(&cl, "PING\r\n");
    run_until(&cl, "PONG tls\r\n");
    CHECK(strstr(buf_cstr(&cl.got), "PONG tls\r\n") != NULL);
    CHECK_INT(e.tls_ready, 0); /* only STARTTLS reports tls_ready */
    client_send(&cl, "DROP\r\n");
    run_until(&cl, NULL);
    CHECK_INT(e.closed, 1);
    CHECK_STR(e.reason, "dropped");
    CHECK_INT(conn_count(), 0);
    client_free(&cl);
    engine_free(&e);
}

static void test_peer_closing_is_reported(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    (void)c;
    client_free(&cl);
    run_loop(engine_closed_done, &e);
    CHECK_INT(e.closed, 1);
    CHECK_STR(e.reason, "peer closed");
    CHECK_INT(conn_count(), 0);
    engine_free(&e);
}

static void test_shutdown_all_says_goodbye(void)
{
    struct client cl1, cl2;
    struct engine e1, e2;
    engine_init(&e1);
    engine_init(&e2);
    conn_set_handler(pair(&cl1, false), &engine_handler, &e1);
    conn_set_handler(pair(&cl2, false), &engine_handler, &e2);
    CHECK_INT(conn_count(), 2);
    conn_shutdown_all();
    run_until(&cl1, "421 shutting down\r\n");
    run_until(&cl2, "421 shutting down\r\n");
    run_until(&cl1, NULL);
    CHECK_STR(buf_cstr(&cl1.got), "421 shutting down\r\n");
    CHECK_STR(buf_cstr(&cl2.got), "421 shutting down\r\n");
    CHECK_INT(e1.closed + e2.closed, 2);
    CHECK_INT(conn_count(), 0);
    client_free(&cl1);
    client_free(&cl2);
    engine_free(&e1);
    engine_free(&e2);
}

/* A shutdown callback that also closes the next connection on the list. */
static struct conn *victim;

static void closing_shutdown(struct conn *c, void *ctx)
{
    (void)ctx;
    if (victim) {
        conn_close(victim, "closed by a neighbour");
        victim = NULL;
    }
    conn_close(c, "shutdown");
}

static const struct conn_handler neighbour_handler = {
    .read = engine_read,
    .closed = engine_closed,
    .shutdown = closing_shutdown,
};

static void test_shutdown_all_survives_closing_a_neighbour(void)
{
    struct client cl1, cl2, cl3;
    struct engine e1, e2, e3;
    engine_init(&e1);
    engine_init(&e2);
    engine_init(&e3);
    /* New conns go to the front: c3 is first on the list, then c2, c1. */
    struct conn *c1 = pair(&cl1, false);
    struct conn *c2 = pair(&cl2, false);
    struct conn *c3 = pair(&cl3, false);
    conn_set_handler(c1, &neighbour_handler, &e1);
    conn_set_handler(c2, &neighbour_handler, &e2);
    conn_set_handler(c3, &neighbour_handler, &e3);
    victim = c2;
    conn_shutdown_all();
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_INT(e1.closed + e2.closed + e3.closed, 3);
    CHECK_STR(e2.reason, "closed by a neighbour");
    CHECK_INT(conn_count(), 0);
    client_free(&cl1);
    client_free(&cl2);
    client_free(&cl3);
    engine_free(&e1);
    engine_free(&e2);
    engine_free(&e3);
}

static void test_shutdown_all_closes_handshaking_conns_at_once(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        abort();
    struct sockaddr_in peer = { .sin_family = AF_INET };
    struct conn *c = conn_new(base, fds[0], (struct sockaddr *)&peer, sizeof(peer),
                              tls_server_new_ssl(tls));
    conn_set_handler(c, &engine_handler, &e);
    conn_write(c, STR_LIT("* greeting\r\n"));
    conn_close_after_flush(c, "refused"); /* waits for a handshake that never comes */
    conn_shutdown_all();
    CHECK_INT(e.closed, 1);
    CHECK_STR(e.reason, "shutdown");
    CHECK_INT(conn_count(), 0);
    close(fds[1]);
    (void)cl;
    engine_free(&e);
}

static void test_idle_timeout(void)
{
    struct client cl;
    struct engine e;
    engine_init(&e);
    struct conn *c = pair(&cl, false);
    conn_set_handler(c, &engine_handler, &e);
    conn_set_idle_timeout(c, 50);
    run_until(&cl, NULL);
    CHECK(cl.eof);
    CHECK_STR(e.reason, "timeout");
    client_free(&cl);
    engine_free(&e);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as serve does: a peer gone is an error, not a signal */
    char dir[] = "/tmp/outpost-test-conn-XXXXXX";
    if (!mkdtemp(dir))
        abort();
    char *cert = xasprintf("%s/cert.pem", dir), *key = xasprintf("%s/key.pem", dir);
    char *err = NULL;
    if (tls_write_self_signed("mail.example.test", cert, key, &err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char *text = xasprintf("[tls]\ncert = %s\nkey = %s\n", cert, key);
    struct config *cfg = config_parse_string(text, "test.conf", NULL, &err);
    CHECK(cfg != NULL);
    tls = tls_server_new(cfg, &err);
    CHECK(tls != NULL);
    client_ctx = SSL_CTX_new(TLS_client_method());
    base = event_base_new();

    RUN(test_plain_io_and_peer);
    RUN(test_starttls_drops_injected_plaintext);
    RUN(test_starttls_drops_a_large_injection);
    RUN(test_last_reply_after_starttls_is_delivered);
    RUN(test_implicit_tls_closed_before_the_handshake);
    RUN(test_implicit_tls);
    RUN(test_peer_closing_is_reported);
    RUN(test_shutdown_all_says_goodbye);
    RUN(test_shutdown_all_survives_closing_a_neighbour);
    RUN(test_shutdown_all_closes_handshaking_conns_at_once);
    RUN(test_idle_timeout);

    conn_close_all("exit");
    event_base_free(base);
    SSL_CTX_free(client_ctx);
    tls_server_unref(tls);
    config_free(cfg);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    free(cert);
    free(key);
    free(text);
    return TEST_DONE();
}
