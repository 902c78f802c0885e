/* The SMTP engine driven without sockets: replies, pipelining, DATA and
 * BDAT edge cases, limits, STARTTLS input dropping, AUTH flows. */
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/log.h"
#include "smtp/server.h"
#include "test.h"

struct h {
    struct smtp_server *s;
    struct buf out;
    bool closed, paused, in_data, starttls;
    bool async;              /* answer mail/rcpt/data later (h_answer) */
    int pending;             /* 1 mail, 2 rcpt, 3 data */
    int rcpt_code;           /* reply to RCPT (250 default) */
    struct buf last_message;
    unsigned messages;
    char last_user[64];
    bool password_ok;
    int auth_done_calls;
};

static unsigned char secret[32];

static void w(void *ctx, struct str b) { buf_append_str(&((struct h *)ctx)->out, b); }
static void cl(void *ctx, const char *r) { (void)r; ((struct h *)ctx)->closed = true; }
static void pz(void *ctx, bool p) { ((struct h *)ctx)->paused = p; }
static void dp(void *ctx, bool d) { ((struct h *)ctx)->in_data = d; }
static void stls(void *ctx) { ((struct h *)ctx)->starttls = true; }

static void answer(struct h *h)
{
    int p = h->pending;
    h->pending = 0;
    if (p == 1)
        smtp_server_reply(h->s, 250, "2.1.0", "Sender OK");
    else if (p == 2)
        smtp_server_reply(h->s, h->rcpt_code, h->rcpt_code == 250 ? "2.1.5" : "5.1.1",
                          h->rcpt_code == 250 ? "Recipient OK" : "No such user");
    else if (p == 3)
        smtp_server_reply(h->s, 250, "2.0.0", "OK");
}

static void mail(void *ctx, struct smtp_transaction *t)
{
    (void)t;
    struct h *h = ctx;
    h->pending = 1;
    if (!h->async)
        answer(h);
}

static void rcpt(void *ctx, struct smtp_transaction *t, struct smtp_rcpt *r)
{
    (void)t;
    (void)r;
    struct h *h = ctx;
    h->pending = 2;
    if (!h->async)
        answer(h);
}

static void data(void *ctx, struct smtp_transaction *t)
{
    struct h *h = ctx;
    buf_clear(&h->last_message);
    buf_append_str(&h->last_message, t->message);
    h->messages++;
    h->pending = 3;
    if (!h->async)
        answer(h);
}

static unsigned blocked(void *ctx) { (void)ctx; return 0; }

static void apw(void *ctx, const char *u, struct str p)
{
    struct h *h = ctx;
    snprintf(h->last_user, sizeof(h->last_user), "%s", u);
    smtp_server_auth_checked(h->s, str_eq_cstr(p, "pencil"));
}

static struct auth_credentials cred;

static void ascram(void *ctx, const char *u)
{
    struct h *h = ctx;
    smtp_server_auth_credentials(h->s, strcmp(u, "user") == 0 ? &cred : NULL);
}

static void adone(void *ctx, const char *u, bool ok, const char *r)
{
    (void)r;
    struct h *h = ctx;
    h->auth_done_calls++;
    snprintf(h->last_user, sizeof(h->last_user), "%s", u ? u : "");
    smtp_server_auth_finished(h->s, ok, false);
}

static const struct smtp_server_callbacks cbs = {
    .write = w, .close = cl, .pause = pz, .data_phase = dp, .starttls = stls,
    .mail = mail, .rcpt = rcpt, .data = data, .auth_blocked = blocked,
    .auth_password = apw, .auth_scram = ascram, .auth_done = adone,
};

static void h_init(struct h *h, enum smtp_mode mode, bool tls)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->out, 0);
    buf_init(&h->last_message, 0);
    h->rcpt_code = 250;
    struct smtp_server_config cfg = {
        .mode = mode,
        .hostname = "mx.example.test",
        .session = "test",
        .tls_active = tls,
        .starttls = !tls,
        .max_line = 512,
        .max_message_size = 1000,
        .max_recipients = 3,
        .max_errors = 10,
        .sasl_secret = secret,
    };
    h->s = smtp_server_new(&cfg, &cbs, h);
    smtp_server_greet(h->s);
}

static void h_free(struct h *h)
{
    smtp_server_free(h->s);
    buf_free(&h->out);
    buf_free(&h->last_message);
}

/* Feeds input and returns (and clears) what the server wrote. */
static const char *feed(struct h *h, const char *in)
{
    buf_clear(&h->out);
    smtp_server_input(h->s, str_from_cstr(in));
    return buf_cstr(&h->out);
}

static void test_greeting_and_ehlo(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    CHECK_STR(buf_cstr(&h.out), "220 mx.example.test ESMTP ready\r\n");
    const char *r = feed(&h, "EHLO client.example\r\n");
    CHECK(strstr(r, "250-mx.example.test greets client.example\r\n") == r);
    CHECK(strstr(r, "250-PIPELINING\r\n"));
    CHECK(strstr(r, "250-SIZE 1000\r\n"));
    CHECK(strstr(r, "250-8BITMIME\r\n"));
    CHECK(strstr(r, "250-SMTPUTF8\r\n"));
    CHECK(strstr(r, "250-ENHANCEDSTATUSCODES\r\n"));
    CHECK(strstr(r, "250-CHUNKING\r\n"));
    CHECK(strstr(r, "250-DSN\r\n"));
    CHECK(strstr(r, "250 STARTTLS\r\n"));
    CHECK(!strstr(r, "AUTH"));        /* never on the MX */
    CHECK(!strstr(r, "REQUIRETLS"));  /* only over TLS */
    CHECK_STR(feed(&h, "HELO client.example\r\n"), "250 mx.example.test\r\n");
    CHECK_STR(feed(&h, "NOOP\r\n"), "250 2.0.0 OK\r\n");
    CHECK_STR(feed(&h, "VRFY root\r\n"),
              "252 2.5.0 Cannot VRFY user; send mail and delivery will be attempted\r\n");
    CHECK_STR(feed(&h, "QUIT\r\n"), "221 2.0.0 mx.example.test closing connection\r\n");
    CHECK(h.closed);
    h_free(&h);
}

static void test_early_talker(void)
{
    struct h h;
    memset(&h, 0, sizeof(h));
    buf_init(&h.out, 0);
    buf_init(&h.last_message, 0);
    struct smtp_server_config cfg = { .mode = SMTP_MODE_MX, .hostname = "mx", .max_line = 512,
                                      .max_message_size = 100, .max_recipients = 1,
                                      .max_errors = 10, .greet_later = true,
                                      .sasl_secret = secret };
    h.s = smtp_server_new(&cfg, &cbs, &h);
    const char *r = feed(&h, "EHLO spammer\r\n");
    CHECK(strncmp(r, "554 5.5.1 ", 10) == 0);
    CHECK(h.closed);
    h_free(&h);
}

static void test_transaction_and_dot_stuffing(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\n");
    CHECK_STR(feed(&h, "MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender OK\r\n");
    CHECK_STR(feed(&h, "RCPT TO:<x@mx.example>\r\n"), "250 2.1.5 Recipient OK\r\n");
    CHECK_STR(feed(&h, "DATA\r\n"), "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    CHECK(h.in_data);
    CHECK_STR(feed(&h, "Subject: t\r\n\r\n..leading dot\r\n.x\r\n"), "");
    CHECK_STR(feed(&h, "end\r\n.\r\n"), "250 2.0.0 OK\r\n");
    CHECK(!h.in_data);
    CHECK_STR(buf_cstr(&h.last_message), "Subject: t\r\n\r\n.leading dot\r\nx\r\nend\r\n");
    /* The terminator split across every possible chunk edge. */
    feed(&h, "MAIL FROM:<>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n");
    const char *body = "a\r\n.\r\n";
    for (size_t i = 0; body[i]; i++) {
        char one[2] = { body[i], 0 };
        feed(&h, one);
    }
    CHECK_INT(h.messages, 2);
    CHECK_STR(buf_cstr(&h.last_message), "a\r\n");
    /* An empty message. */
    feed(&h, "MAIL FROM:<>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n");
    CHECK_STR(feed(&h, ".\r\n"), "250 2.0.0 OK\r\n");
    CHECK_STR(buf_cstr(&h.last_message), "");
    h_free(&h);
}

static void test_pipelining_keeps_order_with_async_answers(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\n");
    h.async = true;
    h.rcpt_code = 250;
    const char *r = feed(&h, "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n"
                             "RCPT TO:<z@y.example>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\n");
    CHECK_STR(r, "");
    CHECK(h.paused);
    CHECK_INT(h.pending, 1);
    buf_clear(&h.out);
    answer(&h); /* MAIL */
    answer(&h); /* RCPT 1 */
    answer(&h); /* RCPT 2 */
    CHECK_STR(buf_cstr(&h.out), "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
                                "250 2.1.5 Recipient OK\r\n354 Start mail input; end with "
                                "<CRLF>.<CRLF>\r\n");
    CHECK_INT(h.pending, 3);
    buf_clear(&h.out);
    answer(&h); /* DATA */
    CHECK_STR(buf_cstr(&h.out), "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
    CHECK(!h.paused);
    h_free(&h);
}

static void test_smuggling_is_refused(void)
{
    static const char *const bodies[] = {
        "a\n.\nMAIL FROM:<evil@x>\r\n.\r\n",      /* bare LF dot bare LF */
        "a\r\n.\nRCPT TO:<v@x>\r\n.\r\n",         /* CRLF dot LF */
        "a\n.\r\nRCPT\r\n.\r\n",                  /* LF dot CRLF */
        "a\r.\r\nb\r\n.\r\n",                     /* bare CR */
        "a\r\n.\rb\r\n.\r\n",                     /* dot bare CR */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct h h;
        h_init(&h, SMTP_MODE_MX, false);
        feed(&h, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n");
        const char *r = feed(&h, bodies[i]);
        CHECK_STR(r, "550 5.6.0 Message refused: it contains a bare CR or LF (lines must end "
                     "with CRLF)\r\n");
        CHECK_INT(h.messages, 0);
        /* Nothing inside the data was taken as a command. */
        CHECK_STR(feed(&h, "RCPT TO:<v@x.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
        h_free(&h);
    }
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n");
    buf_clear(&h.out);
    smtp_server_input(h.s, (struct str){ "a\0b\r\n.\r\n", 8 });
    CHECK_STR(buf_cstr(&h.out), "550 5.6.0 Message refused: it contains a NUL byte\r\n");
    h_free(&h);
}

static void test_limits(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\n");
    CHECK_STR(feed(&h, "MAIL FROM:<a@b.example> SIZE=1001\r\n"),
              "552 5.3.4 Message size exceeds the limit of 1000 bytes\r\n");
    feed(&h, "MAIL FROM:<a@b.example> SIZE=1000\r\n");
    feed(&h, "RCPT TO:<1@y.example>\r\nRCPT TO:<2@y.example>\r\nRCPT TO:<3@y.example>\r\n");
    CHECK_STR(feed(&h, "RCPT TO:<4@y.example>\r\n"),
              "452 4.5.3 Too many recipients (at most 3 per message)\r\n");
    feed(&h, "DATA\r\n");
    char big[1200];
    memset(big, 'x', sizeof(big));
    memcpy(big + sizeof(big) - 6, "\r\n.\r\n", 6);
    CHECK_STR(feed(&h, big), "552 5.3.4 Message too big (the limit is 1000 bytes)\r\n");
    CHECK_INT(h.messages, 0);
    /* A long command line. */
    char line[700];
    memset(line, 'A', sizeof(line));
    memcpy(line + sizeof(line) - 3, "\r\n", 3);
    CHECK_STR(feed(&h, line), "500 5.5.2 Line too long (the limit is 512 bytes)\r\n");
    CHECK_STR(feed(&h, "NOOP\r\n"), "250 2.0.0 OK\r\n");
    h_free(&h);
}

static void test_too_many_errors(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    for (int i = 0; i < 9; i++)
        CHECK_STR(feed(&h, "BOGUS\r\n"), "500 5.5.1 Command unrecognized\r\n");
    CHECK_STR(feed(&h, "BOGUS\r\n"), "500 5.5.1 Command unrecognized\r\n"
                                     "421 4.7.0 mx.example.test Too many errors; closing the "
                                     "connection\r\n");
    CHECK(h.closed);
    CHECK_STR(feed(&h, "NOOP\r\n"), "");
    h_free(&h);
}

static void test_sequence_errors(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    CHECK_STR(feed(&h, "MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Send EHLO first\r\n");
    feed(&h, "EHLO c\r\n");
    CHECK_STR(feed(&h, "DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
    feed(&h, "MAIL FROM:<a@b.example>\r\n");
    CHECK_STR(feed(&h, "MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Nested MAIL command\r\n");
    h.rcpt_code = 550;
    CHECK_STR(feed(&h, "RCPT TO:<nobody@y.example>\r\n"), "550 5.1.1 No such user\r\n");
    CHECK_STR(feed(&h, "DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    CHECK_STR(feed(&h, "RSET\r\n"), "250 2.0.0 OK\r\n");
    CHECK_STR(feed(&h, "RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    CHECK_STR(feed(&h, "AUTH PLAIN\r\n"), "503 5.5.1 Authentication not enabled on this port\r\n");
    CHECK_STR(feed(&h, "EXPN list\r\n"), "502 5.5.1 EXPN not available\r\n");
    h_free(&h);
}

static void test_bdat(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n");
    /* A chunk split over reads, its bytes taken raw (a command inside is data). */
    CHECK_STR(feed(&h, "BDAT 12\r\nQUIT\r\n"), "");
    CHECK_STR(feed(&h, "NOOP\r\n"), "250 2.0.0 12 octets received\r\n");
    CHECK(!h.closed);
    h_free(&h);

    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n");
    CHECK_STR(feed(&h, "BDAT 10\r\nSubject: x"), "250 2.0.0 10 octets received\r\n");
    CHECK_STR(feed(&h, "BDAT 10 LAST\r\n\r\n\r\nbody\r\n"), "250 2.0.0 OK\r\n");
    CHECK_STR(buf_cstr(&h.last_message), "Subject: x\r\n\r\nbody\r\n");
    CHECK_STR(feed(&h, "DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
    /* BDAT without a transaction: the bytes are read, then refused. */
    CHECK_STR(feed(&h, "BDAT 6\r\nNOOP\r\n"), "503 5.5.1 Need MAIL before BDAT\r\n");
    /* BDAT 0 LAST ends a message. */
    feed(&h, "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nBDAT 3\r\na\r\n");
    CHECK_STR(feed(&h, "BDAT 0 LAST\r\n"), "250 2.0.0 OK\r\n");
    CHECK_STR(buf_cstr(&h.last_message), "a\r\n");
    /* DATA and BDAT do not mix. */
    feed(&h, "MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nBDAT 3\r\nab\n");
    CHECK_STR(feed(&h, "DATA\r\n"), "503 5.5.1 DATA cannot follow BDAT\r\n");
    CHECK_STR(feed(&h, "BDAT 0 LAST\r\n"),
              "550 5.6.0 Message refused: it contains a bare CR or LF (lines must end with "
              "CRLF)\r\n");
    h_free(&h);
}

static void test_starttls_drops_pipelined_plaintext(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_MX, false);
    feed(&h, "EHLO c\r\n");
    CHECK_STR(feed(&h, "STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n"),
              "220 2.0.0 Ready to start TLS\r\n");
    CHECK(h.starttls);
    CHECK_STR(feed(&h, "RCPT TO:<more@x.example>\r\n"), ""); /* ignored during handshake */
    smtp_server_tls_started(h.s);
    /* The session starts over: EHLO again, and no MAIL survived. */
    CHECK_STR(feed(&h, "RCPT TO:<x@y.example>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
    const char *r = feed(&h, "EHLO c\r\n");
    CHECK(strstr(r, "REQUIRETLS"));
    CHECK(!strstr(r, "STARTTLS"));
    CHECK_STR(feed(&h, "STARTTLS\r\n"), "503 5.5.1 TLS already active\r\n");
    h_free(&h);
}

static void test_submission_auth(void)
{
    struct h h;
    h_init(&h, SMTP_MODE_SUBMISSION, false);
    const char *r = feed(&h, "EHLO c\r\n");
    CHECK(!strstr(r, "AUTH")); /* not before TLS */
    CHECK_STR(feed(&h, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n"),
              "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
    CHECK_STR(feed(&h, "MAIL FROM:<user@example.test>\r\n"), "530 5.7.0 Authentication required\r\n");
    h_free(&h);

    h_init(&h, SMTP_MODE_SUBMISSION, true);
    r = feed(&h, "EHLO c\r\n");
    CHECK(strstr(r, "AUTH PLAIN LOGIN SCRAM-SHA-256\r\n"));
    CHECK_STR(feed(&h, "AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n"), /* \0user\0wrong */
              "535 5.7.8 Authentication credentials invalid\r\n");
    CHECK_STR(feed(&h, "AUTH CRAM-MD5\r\n"), "504 5.5.4 Unrecognized authentication mechanism\r\n");
    CHECK_STR(feed(&h, "AUTH PLAIN\r\n"), "334 \r\n");
    CHECK_STR(feed(&h, "*\r\n"), "501 5.0.0 Authentication cancelled\r\n");
    CHECK_STR(feed(&h, "AUTH PLAIN !!!\r\n"), "501 5.5.2 Invalid base64 in AUTH initial response\r\n");
    CHECK_STR(feed(&h, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    CHECK_STR(feed(&h, "dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
    CHECK_STR(feed(&h, "cGVuY2ls\r\n"), "235 2.7.0 Authentication successful\r\n");
    CHECK_STR(h.last_user, "user");
    CHECK_STR(feed(&h, "AUTH PLAIN AHVzZXIAcGVuY2ls\r\n"), "503 5.5.1 Already authenticated\r\n");
    CHECK_STR(feed(&h, "MAIL FROM:<user@example.test>\r\n"), "250 2.1.0 Sender OK\r\n");
    h_free(&h);

    /* Asking to act as someone else fails even with the right password. */
    h_init(&h, SMTP_MODE_SUBMISSION, true);
    feed(&h, "EHLO c\r\n");
    CHECK_STR(feed(&h, "AUTH PLAIN b3RoZXIAdXNlcgBwZW5jaWw=\r\n"), /* other\0user\0pencil */
              "535 5.7.8 Authentication credentials invalid\r\n");
    h_free(&h);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    auth_init();
    const char *why;
    auth_credentials_make("pencil", 6, &cred, &why);
    RUN(test_greeting_and_ehlo);
    RUN(test_early_talker);
    RUN(test_transaction_and_dot_stuffing);
    RUN(test_pipelining_keeps_order_with_async_answers);
    RUN(test_smuggling_is_refused);
    RUN(test_limits);
    RUN(test_too_many_errors);
    RUN(test_sequence_errors);
    RUN(test_bdat);
    RUN(test_starttls_drops_pipelined_plaintext);
    RUN(test_submission_auth);
    return TEST_DONE();
}
