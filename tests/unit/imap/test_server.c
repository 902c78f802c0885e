/* The IMAP engine without sockets: literals and continuations, states,
 * LOGIN and AUTHENTICATE, IDLE framing, limits. */
#include <string.h>

#include "auth/password.h"
#include "core/log.h"
#include "imap/server.h"
#include "test.h"

struct h {
    struct imap_server *s;
    struct buf out;
    bool closed, paused, idling, starttls;
    int commands;
    enum imap_cmd last_cmd;
    struct buf last_append;
    bool async;
};

static unsigned char secret[32];
static struct auth_credentials cred;

static void w(void *ctx, struct str b) { buf_append_str(&((struct h *)ctx)->out, b); }
static void cl(void *ctx, const char *r) { (void)r; ((struct h *)ctx)->closed = true; }
static void pz(void *ctx, bool p) { ((struct h *)ctx)->paused = p; }
static void stls(void *ctx) { ((struct h *)ctx)->starttls = true; }
static unsigned blocked(void *ctx) { (void)ctx; return 0; }
static void apw(void *ctx, const char *u, struct str p)
{
    imap_server_auth_checked(((struct h *)ctx)->s, strcmp(u, "user") == 0 && str_eq_cstr(p, "pencil"));
}
static void ascram(void *ctx, const char *u)
{
    imap_server_auth_credentials(((struct h *)ctx)->s, strcmp(u, "user") == 0 ? &cred : NULL);
}
static void adone(void *ctx, const char *u, bool ok, const char *r)
{
    (void)u;
    (void)r;
    imap_server_auth_finished(((struct h *)ctx)->s, ok, false);
}
static void command(void *ctx, const struct imap_command *c)
{
    struct h *h = ctx;
    h->commands++;
    h->last_cmd = c->cmd;
    if (c->cmd == IMAP_CMD_APPEND) {
        buf_clear(&h->last_append);
        buf_append_str(&h->last_append, c->u.append.msgs[0].data);
    }
    if (c->cmd == IMAP_CMD_SELECT)
        imap_server_set_state(h->s, IMAP_STATE_SELECTED);
    if (!h->async)
        imap_server_done(h->s, "OK", NULL, "done");
}
static void idle(void *ctx, bool on) { ((struct h *)ctx)->idling = on; }

static const struct imap_server_callbacks cbs = {
    .write = w, .close = cl, .pause = pz, .starttls = stls, .auth_blocked = blocked,
    .auth_password = apw, .auth_scram = ascram, .auth_done = adone, .command = command,
    .idle = idle,
};

static void h_init_caps(struct h *h, bool tls, const char *caps)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->out, 0);
    buf_init(&h->last_append, 0);
    struct imap_server_config cfg = {
        .hostname = "mx.example.test", .session = "t", .tls_active = tls, .starttls = !tls,
        .max_line = 200, .max_literal = 100, .append_limit = 1000, .max_bad = 10,
        .sasl_secret = secret, .capabilities = caps,
    };
    h->s = imap_server_new(&cfg, &cbs, h);
    imap_server_greet(h->s);
}

static void h_init(struct h *h, bool tls)
{
    h_init_caps(h, tls, "IMAP4rev2 IMAP4rev1 IDLE");
}

static void h_free(struct h *h)
{
    imap_server_free(h->s);
    buf_free(&h->out);
    buf_free(&h->last_append);
}

static const char *feed(struct h *h, const char *in)
{
    buf_clear(&h->out);
    imap_server_input(h->s, str_from_cstr(in));
    return buf_cstr(&h->out);
}

static void test_greeting_and_login_disabled(void)
{
    struct h h;
    h_init(&h, false);
    CHECK(strstr(buf_cstr(&h.out), "* OK [CAPABILITY IMAP4rev2 IMAP4rev1 LITERAL+ SASL-IR ID "
                                   "ENABLE STARTTLS LOGINDISABLED] mx.example.test") != NULL);
    CHECK_STR(feed(&h, "a LOGIN user pencil\r\n"),
              "a NO [PRIVACYREQUIRED] Log in over TLS: use STARTTLS first\r\n");
    CHECK_STR(feed(&h, "b SELECT INBOX\r\n"), "b BAD Log in first\r\n");
    CHECK_STR(feed(&h, "c STARTTLS\r\nd NOOP\r\n"), "c OK Begin TLS negotiation now\r\n");
    CHECK(h.starttls);
    imap_server_tls_started(h.s);
    CHECK_STR(feed(&h, "e LOGIN user pencil\r\n"),
              "e OK [CAPABILITY IMAP4rev2 IMAP4rev1 IDLE] Logged in\r\n");
    CHECK_STR(imap_server_user(h.s), "user");
    h_free(&h);
}

static void test_login_with_literals(void)
{
    struct h h;
    h_init(&h, true);
    CHECK_STR(feed(&h, "a LOGIN {4}\r\n"), "+ Ready for literal data\r\n");
    CHECK_STR(feed(&h, "user {5}\r\n"), "+ Ready for literal data\r\n");
    CHECK_STR(feed(&h, "wrong"), "");
    CHECK_STR(feed(&h, "\r\n"), "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    /* LITERAL+: no continuation. */
    CHECK_STR(feed(&h, "b LOGIN {4+}\r\nuser {6+}\r\npencil\r\n"),
              "b OK [CAPABILITY IMAP4rev2 IMAP4rev1 IDLE] Logged in\r\n");
    h_free(&h);
}

static void test_literal_limits(void)
{
    struct h h;
    h_init(&h, true);
    CHECK_STR(feed(&h, "a LOGIN {101}\r\n"),
              "a NO [TOOBIG] Literal too large (the limit is 100 bytes)\r\n");
    CHECK(!h.closed);
    feed(&h, "b LOGIN user pencil\r\n");
    /* APPEND takes up to append_limit. */
    CHECK_STR(feed(&h, "c APPEND INBOX {500}\r\n"), "+ Ready for literal data\r\n");
    char msg[501];
    memset(msg, 'x', 500);
    msg[500] = '\0';
    feed(&h, msg);
    CHECK_STR(feed(&h, "\r\n"), "c OK done\r\n");
    CHECK_INT(h.last_append.len, 500);
    CHECK_STR(feed(&h, "d APPEND INBOX {1001}\r\n"),
              "d NO [TOOBIG] Literal too large (the limit is 1000 bytes)\r\n");
    /* A non-synchronizing literal that is too large ends the session. */
    CHECK_STR(feed(&h, "e APPEND INBOX {1001+}\r\n"),
              "* BYE [TOOBIG] Literal too large (the limit is 1000 bytes)\r\n");
    CHECK(h.closed);
    h_free(&h);
}

/* QRESYNC implies CONDSTORE (RFC 7162 §3.2.3); ENABLE lists what it newly
 * turned on. QRESYNC after CONDSTORE once went unlisted and off. */
static void test_enable_condstore_and_qresync(void)
{
    struct h h;
    h_init_caps(&h, true, "IMAP4rev2 IMAP4rev1 CONDSTORE QRESYNC");
    feed(&h, "a LOGIN user pencil\r\n");
    CHECK_STR(feed(&h, "b ENABLE CONDSTORE\r\n"),
              "* ENABLED CONDSTORE\r\nb OK ENABLE completed\r\n");
    CHECK_INT(imap_server_enabled(h.s), IMAP_ENABLED_CONDSTORE);
    CHECK_STR(feed(&h, "c ENABLE CONDSTORE QRESYNC\r\n"),
              "* ENABLED QRESYNC\r\nc OK ENABLE completed\r\n");
    CHECK_INT(imap_server_enabled(h.s), IMAP_ENABLED_CONDSTORE | IMAP_ENABLED_QRESYNC);
    CHECK_STR(feed(&h, "d ENABLE QRESYNC CONDSTORE\r\n"), "* ENABLED\r\nd OK ENABLE completed\r\n");
    h_free(&h);
    h_init_caps(&h, true, "IMAP4rev2 IMAP4rev1 CONDSTORE QRESYNC");
    feed(&h, "a LOGIN user pencil\r\n");
    CHECK_STR(feed(&h, "b ENABLE QRESYNC CONDSTORE\r\n"),
              "* ENABLED QRESYNC\r\nb OK ENABLE completed\r\n");
    CHECK_INT(imap_server_enabled(h.s), IMAP_ENABLED_CONDSTORE | IMAP_ENABLED_QRESYNC);
    h_free(&h);
    /* Not offered: not enabled. */
    h_init(&h, true);
    feed(&h, "a LOGIN user pencil\r\n");
    CHECK_STR(feed(&h, "b ENABLE QRESYNC\r\n"), "* ENABLED\r\nb OK ENABLE completed\r\n");
    CHECK_INT(imap_server_enabled(h.s), 0);
    h_free(&h);
}

static void test_bad_and_states(void)
{
    struct h h;
    h_init(&h, true);
    CHECK_STR(feed(&h, "a1 FROB\r\n"), "a1 BAD Unknown command\r\n");
    CHECK(strncmp(feed(&h, "\r\n"), "* BAD ", 6) == 0);
    CHECK(strncmp(feed(&h, "a2 NOOP\r\n"), "a2 OK", 5) == 0);
    feed(&h, "a3 LOGIN user pencil\r\n");
    CHECK_STR(feed(&h, "a4 FETCH 1 FLAGS\r\n"), "a4 BAD No mailbox selected\r\n");
    CHECK_STR(feed(&h, "a5 LOGIN user pencil\r\n"), "a5 BAD Already logged in\r\n");
    CHECK_STR(feed(&h, "a6 SELECT INBOX\r\n"), "a6 OK done\r\n");
    CHECK_INT(imap_server_state(h.s), IMAP_STATE_SELECTED);
    CHECK_STR(feed(&h, "a7 FETCH 1 FLAGS\r\n"), "a7 OK done\r\n");
    CHECK_STR(feed(&h, "a8 ENABLE IMAP4rev2 CONDSTORE\r\n"),
              "* ENABLED IMAP4rev2\r\na8 OK ENABLE completed\r\n");
    CHECK(imap_server_rev2(h.s));
    /* A long line is refused with its tag, and the session goes on. */
    char line[300];
    memset(line, 'A', sizeof(line));
    memcpy(line, "a9 NOOP ", 8);
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    CHECK_STR(feed(&h, line), "a9 BAD Line too long\r\n");
    CHECK_STR(feed(&h, "b1 LOGOUT\r\n"), "* BYE mx.example.test logging out\r\nb1 OK LOGOUT completed\r\n");
    CHECK(h.closed);
    h_free(&h);
}

static void test_pipelined_commands_wait_for_the_running_one(void)
{
    struct h h;
    h_init(&h, true);
    feed(&h, "a LOGIN user pencil\r\n");
    h.async = true;
    CHECK_STR(feed(&h, "b SELECT INBOX\r\nc NOOP\r\nd NOOP\r\n"), "");
    CHECK(h.paused);
    CHECK_INT(h.commands, 1);
    buf_clear(&h.out);
    imap_server_done(h.s, "OK", "READ-WRITE", "SELECT completed");
    CHECK_STR(buf_cstr(&h.out), "b OK [READ-WRITE] SELECT completed\r\n");
    CHECK_INT(h.commands, 2);
    buf_clear(&h.out);
    imap_server_done(h.s, "OK", NULL, "NOOP completed");
    imap_server_done(h.s, "OK", NULL, "NOOP completed");
    CHECK_STR(buf_cstr(&h.out), "c OK NOOP completed\r\nd OK NOOP completed\r\n");
    CHECK(!h.paused);
    h_free(&h);
}

static void test_idle(void)
{
    struct h h;
    h_init(&h, true);
    feed(&h, "a LOGIN user pencil\r\na2 SELECT INBOX\r\n");
    CHECK_STR(feed(&h, "b IDLE\r\n"), "+ idling\r\n");
    CHECK(h.idling);
    imap_server_send(h.s, STR_LIT("* 3 EXISTS\r\n"));
    CHECK_STR(buf_cstr(&h.out), "+ idling\r\n* 3 EXISTS\r\n");
    CHECK_STR(feed(&h, "done\r\n"), "b OK IDLE terminated\r\n");
    CHECK(!h.idling);
    CHECK_STR(feed(&h, "c IDLE\r\n"), "+ idling\r\n");
    CHECK_STR(feed(&h, "c2 NOOP\r\n"), "c BAD Expected DONE\r\n");
    h_free(&h);
}

static void test_authenticate(void)
{
    struct h h;
    h_init(&h, true);
    CHECK_STR(feed(&h, "a AUTHENTICATE PLAIN AHVzZXIAcGVuY2ls\r\n"),
              "a OK [CAPABILITY IMAP4rev2 IMAP4rev1 IDLE] Logged in\r\n");
    h_free(&h);
    h_init(&h, true);
    CHECK_STR(feed(&h, "a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    CHECK_STR(feed(&h, "*\r\n"), "a BAD Authentication cancelled\r\n");
    CHECK_STR(feed(&h, "b AUTHENTICATE CRAM-MD5\r\n"),
              "b NO [CANNOT] Unsupported authentication mechanism\r\n");
    CHECK_STR(feed(&h, "c AUTHENTICATE PLAIN AHVzZXIAd3Jvbmc=\r\n"),
              "c NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
    h_free(&h);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    auth_init();
    const char *why;
    auth_credentials_make("pencil", 6, &cred, &why);
    RUN(test_greeting_and_login_disabled);
    RUN(test_login_with_literals);
    RUN(test_literal_limits);
    RUN(test_bad_and_states);
    RUN(test_enable_condstore_and_qresync);
    RUN(test_pipelined_commands_wait_for_the_running_one);
    RUN(test_idle);
    RUN(test_authenticate);
    return TEST_DONE();
}
