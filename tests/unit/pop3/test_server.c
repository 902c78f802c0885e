/* The POP3 engine without sockets: states, CAPA, login (USER/PASS, AUTH,
 * refusals, IN-USE), the maildrop commands, RETR and TOP streaming,
 * pipelining while the caller works, QUIT's update, STLS, limits. */
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/log.h"
#include "pop3/encode.h"
#include "pop3/server.h"
#include "test.h"

struct h {
    struct pop3_server *s;
    struct buf out;
    bool closed, paused, starttls;
    unsigned blocked;
    bool in_use;              /* the login finds the maildrop locked */
    bool async_retr;          /* retrieve answers later (h_retr) */
    bool async_update;
    int retrieves;
    uint32_t retr_index;
    const char *files[4];     /* the maildrop's messages as stored */
    uint32_t nmsgs;
    uint32_t uids[8];
    uint32_t nuids;
    int updates;
    char user[64];
};

static unsigned char secret[32];
static struct auth_credentials cred;

static uint64_t wire_size(const char *stored)
{
    return pop3_wire_size(str_from_cstr(stored));
}

static void w(void *ctx, struct str b) { buf_append_str(&((struct h *)ctx)->out, b); }
static void cl(void *ctx, const char *r) { (void)r; ((struct h *)ctx)->closed = true; }
static void pz(void *ctx, bool p) { ((struct h *)ctx)->paused = p; }
static void stls(void *ctx) { ((struct h *)ctx)->starttls = true; }
static unsigned blocked(void *ctx) { return ((struct h *)ctx)->blocked; }

static void apw(void *ctx, const char *u, struct str p)
{
    struct h *h = ctx;
    snprintf(h->user, sizeof(h->user), "%s", u);
    pop3_server_auth_checked(h->s, strcmp(u, "user") == 0 && str_eq_cstr(p, "pencil"));
}

static void ascram(void *ctx, const char *u)
{
    pop3_server_auth_credentials(((struct h *)ctx)->s, strcmp(u, "user") == 0 ? &cred : NULL);
}

static void adone(void *ctx, const char *u, bool ok, const char *r)
{
    (void)u;
    (void)r;
    struct h *h = ctx;
    if (!ok) {
        pop3_server_auth_finished(h->s, POP3_AUTH_FAILED);
        return;
    }
    if (h->in_use) {
        pop3_server_auth_finished(h->s, POP3_AUTH_IN_USE);
        return;
    }
    struct pop3_message m[4];
    for (uint32_t i = 0; i < h->nmsgs; i++)
        m[i] = (struct pop3_message){ .uid = 10 * (i + 1),
                                      .size = wire_size(h->files[i]) };
    pop3_server_maildrop(h->s, 1234, m, h->nmsgs);
}

/* Streams message index in chunks of `step` bytes. */
static void h_send_message(struct h *h, size_t step)
{
    const char *f = h->files[h->retr_index];
    size_t len = strlen(f), i = 0;
    pop3_server_retr_start(h->s);
    bool more = true;
    while (more && i < len) {
        size_t n = step < len - i ? step : len - i;
        more = pop3_server_retr_data(h->s, (struct str){ f + i, n });
        i += n;
    }
    pop3_server_retr_end(h->s);
}

static void retrieve(void *ctx, uint32_t index, uint32_t uid)
{
    struct h *h = ctx;
    h->retrieves++;
    h->retr_index = index;
    CHECK_INT(uid, 10 * (index + 1));
    if (!h->async_retr)
        h_send_message(h, 3);
}

static void update(void *ctx, const uint32_t *uids, uint32_t n)
{
    struct h *h = ctx;
    h->updates++;
    h->nuids = n;
    memcpy(h->uids, uids, n * sizeof(*uids));
    if (!h->async_update)
        pop3_server_update_done(h->s, true, n);
}

static const struct pop3_server_callbacks cbs = {
    .write = w, .close = cl, .pause = pz, .starttls = stls, .auth_blocked = blocked,
    .auth_password = apw, .auth_scram = ascram, .auth_done = adone, .retrieve = retrieve,
    .update = update,
};

static void h_init(struct h *h, bool tls, bool plaintext)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->out, 0);
    h->files[0] = "Subject: one\r\n\r\nfirst\r\n";
    h->files[1] = "Subject: two\n\n.dot\nbare\n";           /* bare LFs, a dot line */
    h->files[2] = "Subject: three\r\n\r\nl1\r\nl2\r\nl3";   /* no final CRLF */
    h->nmsgs = 3;
    struct pop3_server_config cfg = {
        .hostname = "mail.example.test", .session = "t", .tls_active = tls, .starttls = !tls,
        .login_plaintext = plaintext, .max_line = 100, .max_errors = 5, .sasl_secret = secret,
    };
    h->s = pop3_server_new(&cfg, &cbs, h);
    pop3_server_greet(h->s);
}

static void h_free(struct h *h)
{
    pop3_server_free(h->s);
    buf_free(&h->out);
}

/* Sends input and returns what came out since the last call. */
static const char *h_say(struct h *h, const char *in)
{
    buf_clear(&h->out);
    pop3_server_input(h->s, str_from_cstr(in));
    return buf_cstr(&h->out);
}

static void h_login(struct h *h)
{
    h_say(h, "USER user\r\n");
    CHECK(strncmp(h_say(h, "PASS pencil\r\n"), "+OK Logged in", 13) == 0);
    CHECK_INT(pop3_server_state(h->s), POP3_STATE_TRANSACTION);
}

static void test_greeting_and_capa(void)
{
    struct h h;
    h_init(&h, false, false);
    CHECK_STR(buf_cstr(&h.out), "+OK mail.example.test POP3 ready\r\n");
    /* Before TLS: STLS, and nothing that invites a password. */
    const char *r = h_say(&h, "CAPA\r\n");
    CHECK(strncmp(r, "+OK", 3) == 0);
    CHECK(strstr(r, "\r\nTOP\r\n") && strstr(r, "\r\nUIDL\r\n") && strstr(r, "\r\nRESP-CODES\r\n"));
    CHECK(strstr(r, "\r\nAUTH-RESP-CODE\r\n") && strstr(r, "\r\nPIPELINING\r\n"));
    CHECK(strstr(r, "\r\nSTLS\r\n") && strstr(r, "\r\nIMPLEMENTATION outpost\r\n"));
    CHECK(!strstr(r, "USER") && !strstr(r, "SASL"));
    CHECK(strlen(r) > 5 && strcmp(r + strlen(r) - 5, "\r\n.\r\n") == 0);
    h_free(&h);

    h_init(&h, true, false);
    r = h_say(&h, "CAPA\r\n");
    CHECK(strstr(r, "\r\nUSER\r\n") && strstr(r, "\r\nSASL PLAIN SCRAM-SHA-256\r\n"));
    CHECK(!strstr(r, "STLS"));
    h_login(&h);
    r = h_say(&h, "CAPA\r\n");
    CHECK(strstr(r, "\r\nTOP\r\n") && !strstr(r, "USER") && !strstr(r, "SASL"));
    h_free(&h);

    /* Plaintext on loopback: a login may happen now, and STLS is offered. */
    h_init(&h, false, true);
    r = h_say(&h, "CAPA\r\n");
    CHECK(strstr(r, "\r\nUSER\r\n") && strstr(r, "\r\nSTLS\r\n"));
    h_free(&h);
}

static void test_no_password_before_tls(void)
{
    struct h h;
    h_init(&h, false, false);
    CHECK_STR(h_say(&h, "USER user\r\n"), "-ERR [AUTH] Log in over TLS: use STLS first\r\n");
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "-ERR [AUTH] Log in over TLS: use STLS first\r\n");
    CHECK_STR(h_say(&h, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n"),
              "-ERR [AUTH] Log in over TLS: use STLS first\r\n");
    CHECK_INT(pop3_server_state(h.s), POP3_STATE_AUTHORIZATION);
    h_free(&h);
}

static void test_user_pass(void)
{
    struct h h;
    h_init(&h, true, false);
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "-ERR Send USER first\r\n");
    CHECK_STR(h_say(&h, "USER nobody\r\n"), "+OK Send your password\r\n");
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "-ERR [AUTH] Authentication failed\r\n");
    CHECK_STR(h.user, "nobody");
    /* After a failed PASS, USER comes first again (RFC 1939 §7). */
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "-ERR Send USER first\r\n");
    h_say(&h, "USER user\r\n");
    CHECK_STR(h_say(&h, "PASS wrong\r\n"), "-ERR [AUTH] Authentication failed\r\n");
    h_say(&h, "USER user\r\n");
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "+OK Logged in; 3 messages (81 octets)\r\n");
    CHECK_STR(pop3_server_user(h.s), "user");
    CHECK_STR(h_say(&h, "USER user\r\n"), "-ERR Already logged in\r\n");
    CHECK_STR(h_say(&h, "STLS\r\n"), "-ERR Already logged in\r\n");
    h_free(&h);
}

static void test_in_use_and_blocked(void)
{
    struct h h;
    h_init(&h, true, false);
    h.in_use = true;
    h_say(&h, "USER user\r\n");
    const char *r = h_say(&h, "PASS pencil\r\n");
    CHECK(strncmp(r, "-ERR [IN-USE] ", 14) == 0);
    CHECK_INT(pop3_server_state(h.s), POP3_STATE_AUTHORIZATION);
    CHECK(!h.closed);
    h.in_use = false;
    h_login(&h);
    h_free(&h);

    h_init(&h, true, false);
    h.blocked = 600;
    h_say(&h, "USER user\r\n");
    r = h_say(&h, "PASS pencil\r\n");
    CHECK(strncmp(r, "-ERR [SYS/TEMP] Too many failed logins", 38) == 0);
    CHECK(strstr(r, "10 minutes"));
    CHECK_INT(pop3_server_state(h.s), POP3_STATE_AUTHORIZATION);
    h_free(&h);
}

static void test_auth_plain(void)
{
    struct h h;
    h_init(&h, true, false);
    /* "AUTH" alone lists the mechanisms. */
    CHECK_STR(h_say(&h, "AUTH\r\n"), "+OK Mechanisms follow\r\nPLAIN\r\nSCRAM-SHA-256\r\n.\r\n");
    CHECK_STR(h_say(&h, "AUTH LOGIN\r\n"), "-ERR Unsupported authentication mechanism\r\n");
    CHECK_STR(h_say(&h, "AUTH SCRAM-SHA-256-PLUS\r\n"),
              "-ERR Unsupported authentication mechanism\r\n");
    CHECK_STR(h_say(&h, "AUTH PLAIN !!!\r\n"), "-ERR Invalid base64 in the initial response\r\n");
    /* Without an initial response: an empty challenge, then the response. */
    CHECK_STR(h_say(&h, "AUTH PLAIN\r\n"), "+ \r\n");
    CHECK_STR(h_say(&h, "*\r\n"), "-ERR Authentication cancelled\r\n");
    CHECK_STR(h_say(&h, "AUTH PLAIN\r\n"), "+ \r\n");
    CHECK_STR(h_say(&h, "AHVzZXIAd3Jvbmc=\r\n"), "-ERR [AUTH] Authentication failed\r\n");
    /* "\0user\0pencil" as the initial response. */
    CHECK(strncmp(h_say(&h, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n"), "+OK Logged in", 13) == 0);
    h_free(&h);

    /* Logging in as someone else is refused. */
    h_init(&h, true, false);
    CHECK_STR(h_say(&h, "AUTH PLAIN b3RoZXIAdXNlcgBwZW5jaWw=\r\n"),
              "-ERR [AUTH] Authentication failed\r\n");
    h_free(&h);
}

static void test_auth_scram_reaches_the_proof(void)
{
    struct h h;
    h_init(&h, true, false);
    /* "n,,n=user,r=abcdefghijklmnop": the server-first comes back in a
     * challenge; a bad proof fails like a wrong password. */
    const char *r = h_say(&h, "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9YWJjZGVmZ2hpamtsbW5vcA==\r\n");
    CHECK(strncmp(r, "+ ", 2) == 0 && strlen(r) > 40);
    r = h_say(&h, "Yz1iaXdzLHI9eHgscD1BQUFB\r\n");
    CHECK_STR(r, "-ERR [AUTH] Authentication failed\r\n");
    CHECK_INT(pop3_server_state(h.s), POP3_STATE_AUTHORIZATION);
    h_free(&h);
}

static void test_stat_list_uidl(void)
{
    struct h h;
    h_init(&h, true, false);
    CHECK_STR(h_say(&h, "STAT\r\n"), "-ERR Log in first\r\n");
    h_login(&h);
    /* Sizes are what RETR sends: 23, 28 (bare LFs as CRLF), 30 (CRLF added). */
    CHECK_STR(h_say(&h, "STAT\r\n"), "+OK 3 81\r\n");
    CHECK_STR(h_say(&h, "LIST\r\n"), "+OK 3 messages (81 octets)\r\n1 23\r\n2 28\r\n3 30\r\n.\r\n");
    CHECK_STR(h_say(&h, "LIST 2\r\n"), "+OK 2 28\r\n");
    CHECK_STR(h_say(&h, "LIST 4\r\n"), "-ERR No such message\r\n");
    CHECK_STR(h_say(&h, "LIST 0\r\n"), "-ERR No such message\r\n");
    CHECK_STR(h_say(&h, "UIDL\r\n"),
              "+OK Unique-ID listing follows\r\n1 1234.10\r\n2 1234.20\r\n3 1234.30\r\n.\r\n");
    CHECK_STR(h_say(&h, "UIDL 3\r\n"), "+OK 3 1234.30\r\n");
    CHECK_STR(h_say(&h, "NOOP\r\n"), "+OK\r\n");
    h_free(&h);
}

static void test_dele_rset_quit(void)
{
    struct h h;
    h_init(&h, true, false);
    h_login(&h);
    CHECK_STR(h_say(&h, "DELE 1\r\n"), "+OK Message 1 deleted\r\n");
    CHECK_STR(h_say(&h, "DELE 1\r\n"), "-ERR Message 1 is deleted\r\n");
    CHECK_STR(h_say(&h, "RETR 1\r\n"), "-ERR Message 1 is deleted\r\n");
    CHECK_STR(h_say(&h, "STAT\r\n"), "+OK 2 58\r\n");
    CHECK_STR(h_say(&h, "LIST\r\n"), "+OK 2 messages (58 octets)\r\n2 28\r\n3 30\r\n.\r\n");
    CHECK_STR(h_say(&h, "UIDL\r\n"), "+OK Unique-ID listing follows\r\n2 1234.20\r\n3 1234.30\r\n.\r\n");
    CHECK_STR(h_say(&h, "RSET\r\n"), "+OK Maildrop has 3 messages (81 octets)\r\n");
    CHECK_STR(h_say(&h, "STAT\r\n"), "+OK 3 81\r\n");
    CHECK_INT(pop3_server_marked(h.s), 0);
    h_say(&h, "DELE 3\r\n");
    h_say(&h, "DELE 1\r\n");
    CHECK_INT(pop3_server_marked(h.s), 2);
    CHECK_INT(h.updates, 0); /* nothing happens before QUIT */
    CHECK_STR(h_say(&h, "QUIT\r\n"), "+OK mail.example.test closing connection; 2 messages deleted\r\n");
    CHECK_INT(h.updates, 1);
    CHECK_INT(h.nuids, 2);
    CHECK_INT(h.uids[0], 10);
    CHECK_INT(h.uids[1], 30);
    CHECK(h.closed);
    h_free(&h);

    /* QUIT with nothing marked asks for nothing. */
    h_init(&h, true, false);
    h_login(&h);
    CHECK_STR(h_say(&h, "QUIT\r\n"), "+OK mail.example.test closing connection; no messages deleted\r\n");
    CHECK_INT(h.updates, 0);
    CHECK(h.closed);
    h_free(&h);

    /* QUIT before login. */
    h_init(&h, true, false);
    CHECK_STR(h_say(&h, "QUIT\r\n"), "+OK mail.example.test closing connection\r\n");
    CHECK(h.closed);
    h_free(&h);
}

static void test_update_failure_and_wait(void)
{
    struct h h;
    h_init(&h, true, false);
    h.async_update = true;
    h_login(&h);
    h_say(&h, "DELE 2\r\n");
    CHECK_STR(h_say(&h, "QUIT\r\nNOOP\r\n"), "");
    CHECK(h.paused);
    CHECK_INT(pop3_server_state(h.s), POP3_STATE_UPDATE);
    buf_clear(&h.out);
    pop3_server_update_done(h.s, false, 0);
    CHECK_STR(buf_cstr(&h.out), "-ERR [SYS/TEMP] Some deleted messages were not removed; try again\r\n");
    CHECK(h.closed);
    h_free(&h);
}

static void test_retr_wire_form(void)
{
    struct h h;
    h_init(&h, true, false);
    h_login(&h);
    CHECK_STR(h_say(&h, "RETR 1\r\n"), "+OK 23 octets\r\nSubject: one\r\n\r\nfirst\r\n.\r\n");
    CHECK_STR(h_say(&h, "RETR 2\r\n"),
              "+OK 28 octets\r\nSubject: two\r\n\r\n..dot\r\nbare\r\n.\r\n");
    CHECK_STR(h_say(&h, "RETR 3\r\n"),
              "+OK 30 octets\r\nSubject: three\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n");
    CHECK_STR(h_say(&h, "RETR 4\r\n"), "-ERR No such message\r\n");
    CHECK_INT(h.retrieves, 3);
    h_free(&h);
}

static void test_top(void)
{
    struct h h;
    h_init(&h, true, false);
    h_login(&h);
    CHECK_STR(h_say(&h, "TOP 3 0\r\n"), "+OK Top of message 3 follows\r\nSubject: three\r\n\r\n.\r\n");
    CHECK_STR(h_say(&h, "TOP 3 2\r\n"),
              "+OK Top of message 3 follows\r\nSubject: three\r\n\r\nl1\r\nl2\r\n.\r\n");
    CHECK_STR(h_say(&h, "TOP 3 9\r\n"),
              "+OK Top of message 3 follows\r\nSubject: three\r\n\r\nl1\r\nl2\r\nl3\r\n.\r\n");
    CHECK_STR(h_say(&h, "TOP 2 1\r\n"),
              "+OK Top of message 2 follows\r\nSubject: two\r\n\r\n..dot\r\n.\r\n");
    CHECK_STR(h_say(&h, "TOP 2\r\n"), "-ERR TOP needs a message number and a number of lines\r\n");
    h_free(&h);
}

static void test_retrieval_failures(void)
{
    struct h h;
    h_init(&h, true, false);
    h.async_retr = true;
    h_login(&h);
    CHECK_STR(h_say(&h, "RETR 1\r\n"), "");
    buf_clear(&h.out);
    pop3_server_retr_failed(h.s, NULL, "The message was removed by another session");
    CHECK_STR(buf_cstr(&h.out), "-ERR The message was removed by another session\r\n");
    CHECK(!h.closed);
    CHECK_STR(h_say(&h, "NOOP\r\n"), "+OK\r\n");
    /* Once the +OK is out, a failure can only end the session. */
    h_say(&h, "RETR 2\r\n");
    pop3_server_retr_start(h.s);
    pop3_server_retr_data(h.s, str_from_cstr("Subject: t"));
    buf_clear(&h.out);
    pop3_server_retr_failed(h.s, "SYS/TEMP", "Cannot read");
    CHECK_STR(buf_cstr(&h.out), "");
    CHECK(h.closed);
    h_free(&h);
}

static void test_pipelining_waits_for_the_caller(void)
{
    struct h h;
    h_init(&h, true, false);
    h.async_retr = true;
    h_login(&h);
    /* RETR goes to the caller; STAT and LIST wait, with reading paused. */
    CHECK_STR(h_say(&h, "RETR 1\r\nSTAT\r\nLI"), "");
    CHECK(h.paused);
    CHECK_STR(h_say(&h, "ST 1\r\n"), "");
    buf_clear(&h.out);
    h_send_message(&h, 1);
    CHECK_STR(buf_cstr(&h.out),
              "+OK 23 octets\r\nSubject: one\r\n\r\nfirst\r\n.\r\n+OK 3 81\r\n+OK 1 23\r\n");
    CHECK(!h.paused);
    h_free(&h);
}

static void test_output_blocked_holds_commands(void)
{
    struct h h;
    h_init(&h, true, false);
    h_login(&h);
    pop3_server_output_blocked(h.s, true);
    CHECK(h.paused);
    CHECK_STR(h_say(&h, "STAT\r\nNOOP\r\n"), "");
    pop3_server_output_blocked(h.s, false);
    CHECK_STR(buf_cstr(&h.out), "+OK 3 81\r\n+OK\r\n");
    CHECK(!h.paused);
    h_free(&h);
}

static void test_long_lines_and_errors(void)
{
    struct h h;
    h_init(&h, true, false);
    char line[300];
    memset(line, 'A', sizeof(line));
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    CHECK_STR(h_say(&h, line), "-ERR Line too long (the limit is 100 bytes)\r\n");
    /* The session goes on. */
    CHECK(strncmp(h_say(&h, "CAPA\r\n"), "+OK", 3) == 0);
    CHECK_STR(h_say(&h, "HELO\r\n"), "-ERR Unknown command\r\n");
    CHECK_STR(h_say(&h, "RETR 1\r\n"), "-ERR Log in first\r\n");
    CHECK_STR(h_say(&h, "APOP a b\r\n"), "-ERR APOP is not supported: use USER and PASS, or AUTH\r\n");
    CHECK(!h.closed);
    /* The fifth error ends the session. */
    const char *r = h_say(&h, "\r\n");
    CHECK(strstr(r, "-ERR Empty command (too many errors") == r);
    CHECK(h.closed);
    CHECK_STR(h_say(&h, "CAPA\r\n"), "");
    h_free(&h);
}

static void test_bare_lf_commands(void)
{
    struct h h;
    h_init(&h, true, false);
    h_say(&h, "USER user\n");
    CHECK(strncmp(h_say(&h, "PASS pencil\n"), "+OK Logged in", 13) == 0);
    CHECK_STR(h_say(&h, "STAT\n"), "+OK 3 81\r\n");
    h_free(&h);
}

static void test_stls(void)
{
    struct h h;
    h_init(&h, false, false);
    /* Whatever follows STLS in the same read was sent in plaintext: gone. */
    CHECK_STR(h_say(&h, "STLS\r\nCAPA\r\n"), "+OK Begin TLS negotiation now\r\n");
    CHECK(h.starttls);
    CHECK_STR(h_say(&h, "CAPA\r\n"), ""); /* during the handshake */
    pop3_server_tls_started(h.s);
    const char *r = h_say(&h, "CAPA\r\n");
    CHECK(strstr(r, "\r\nUSER\r\n") && !strstr(r, "STLS"));
    CHECK_STR(h_say(&h, "STLS\r\n"), "-ERR TLS is already active\r\n");
    h_login(&h);
    h_free(&h);

    /* A USER before STLS does not survive it. */
    h_init(&h, false, true);
    h_say(&h, "USER user\r\n");
    h_say(&h, "STLS\r\n");
    pop3_server_tls_started(h.s);
    CHECK_STR(h_say(&h, "PASS pencil\r\n"), "-ERR Send USER first\r\n");
    h_free(&h);

    /* No STLS where it is not offered. */
    h_init(&h, true, false);
    CHECK_STR(h_say(&h, "STLS\r\n"), "-ERR TLS is already active\r\n");
    h_free(&h);
}

static void test_timeout_and_shutdown(void)
{
    struct h h;
    h_init(&h, true, false);
    h_login(&h);
    h_say(&h, "DELE 1\r\n");
    buf_clear(&h.out);
    pop3_server_timeout(h.s);
    CHECK(strstr(buf_cstr(&h.out), "-ERR ") == buf_cstr(&h.out));
    CHECK(strstr(buf_cstr(&h.out), "timeout"));
    CHECK(h.closed);
    CHECK_INT(h.updates, 0); /* no UPDATE without QUIT */
    h_free(&h);

    h_init(&h, true, false);
    buf_clear(&h.out);
    pop3_server_shutdown(h.s);
    CHECK_STR(buf_cstr(&h.out), "-ERR [SYS/TEMP] mail.example.test shutting down\r\n");
    CHECK(h.closed);
    h_free(&h);

    /* During a retrieval: after it. */
    h_init(&h, true, false);
    h.async_retr = true;
    h_login(&h);
    h_say(&h, "RETR 1\r\n");
    pop3_server_shutdown(h.s);
    CHECK(!h.closed);
    buf_clear(&h.out);
    h_send_message(&h, 100);
    CHECK_STR(buf_cstr(&h.out), "+OK 23 octets\r\nSubject: one\r\n\r\nfirst\r\n.\r\n"
                                "-ERR [SYS/TEMP] mail.example.test shutting down\r\n");
    CHECK(h.closed);
    h_free(&h);
}

static void test_input_overflow(void)
{
    struct h h;
    h_init(&h, true, false);
    h.async_retr = true;
    h_login(&h);
    h_say(&h, "RETR 1\r\n");
    char *big = xmalloc(300 << 10);
    memset(big, 'N', 300 << 10);
    pop3_server_input(h.s, (struct str){ big, 300 << 10 });
    free(big);
    CHECK(h.closed);
    h_free(&h);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    if (auth_init() < 0)
        return 2;
    const char *why;
    if (auth_credentials_make("pencil", 6, &cred, &why) < 0)
        return 2;
    RUN(test_greeting_and_capa);
    RUN(test_no_password_before_tls);
    RUN(test_user_pass);
    RUN(test_in_use_and_blocked);
    RUN(test_auth_plain);
    RUN(test_auth_scram_reaches_the_proof);
    RUN(test_stat_list_uidl);
    RUN(test_dele_rset_quit);
    RUN(test_update_failure_and_wait);
    RUN(test_retr_wire_form);
    RUN(test_top);
    RUN(test_retrieval_failures);
    RUN(test_pipelining_waits_for_the_caller);
    RUN(test_output_blocked_holds_commands);
    RUN(test_long_lines_and_errors);
    RUN(test_bare_lf_commands);
    RUN(test_stls);
    RUN(test_timeout_and_shutdown);
    RUN(test_input_overflow);
    return TEST_DONE();
}
