/* Delivery status notifications: the classifier on real refusal texts, and
 * composed reports checked field by field and through the MIME parser.
 * tests/integration/test_bounce_format.py checks the same reports (written
 * by bounce_sample.c) with Python's email parser. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "smtp/bounce.h"
#include "test.h"

static void test_classify(void)
{
    static const struct {
        int code;
        const char *enhanced, *text;
        enum smtp_bounce_category want;
    } cases[] = {
        /* Unknown addresses. */
        { 550, "5.1.1",
          "The email account that you tried to reach does not exist. Please try\n"
          "double-checking the recipient's email address for typos or\n"
          "unnecessary spaces. For more information, go to\n"
          "https://support.google.com/mail/?p=NoSuchUser d2e1a72fcca58-7..., gsmtp",
          SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, "5.1.10",
          "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
          SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, "5.1.1", "<jane@example.org>: Recipient address rejected: User unknown in "
                        "virtual mailbox table", SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, NULL, "No such user here", SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, NULL, "Unrouteable address", SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 554, "5.0.0", "Recipient not listed in public Name & Address Book",
          SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, "5.2.1", "The email account that you tried to reach is disabled.",
          SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 553, NULL, "5.1.3 Invalid address syntax", SMTP_BOUNCE_UNKNOWN_ADDRESS },
        { 550, NULL, "5.1.1 <bob@example.org>... User unknown", SMTP_BOUNCE_UNKNOWN_ADDRESS },
        /* Mailbox full. */
        { 452, "4.2.2",
          "The email account that you tried to reach is over quota. Please direct\n"
          "the recipient to https://support.google.com/mail/?p=OverQuotaTemp",
          SMTP_BOUNCE_MAILBOX_FULL },
        { 552, "5.2.2", "Mailbox full", SMTP_BOUNCE_MAILBOX_FULL },
        { 552, NULL, "Requested mail action aborted: exceeded storage allocation",
          SMTP_BOUNCE_MAILBOX_FULL },
        { 422, NULL, "The recipient's inbox is full", SMTP_BOUNCE_MAILBOX_FULL },
        /* Too big. */
        { 552, "5.3.4", "Message size exceeds fixed maximum message size",
          SMTP_BOUNCE_TOO_BIG },
        { 552, "5.2.3",
          "Your message exceeded Google's message size limits. Please visit\n"
          "https://support.google.com/mail/?p=MaxSizeError",
          SMTP_BOUNCE_TOO_BIG },
        /* Spam and content. */
        { 550, "5.7.1",
          "[192.0.2.1] Our system has detected that this message is likely\n"
          "unsolicited mail. To reduce the amount of spam sent to Gmail, this\n"
          "message has been blocked.",
          SMTP_BOUNCE_SPAM },
        { 554, "5.7.1", "Message rejected due to content restrictions", SMTP_BOUNCE_SPAM },
        { 550, NULL, "Virus found in message (Eicar-Test-Signature)", SMTP_BOUNCE_SPAM },
        /* Blocklists. */
        { 554, "5.7.1",
          "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
          "https://www.spamhaus.org/query/ip/192.0.2.1",
          SMTP_BOUNCE_BLOCKLISTED },
        { 550, "5.7.1",
          "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
          "Internet service provider since part of their network is on our block list "
          "(S3140). You can also refer your provider to "
          "http://mail.live.com/mail/troubleshooting.aspx#errors.",
          SMTP_BOUNCE_BLOCKLISTED },
        { 550, "5.7.1",
          "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
          "Internet service provider. (S3150)",
          SMTP_BOUNCE_BLOCKLISTED },
        { 550, "5.7.1", "Mail rejected by Windows Live Hotmail for policy reasons. (SC-001)",
          SMTP_BOUNCE_BLOCKLISTED },
        { 554, NULL, "Blocked - see https://www.barracudacentral.org/blocklists",
          SMTP_BOUNCE_BLOCKLISTED },
        { 550, NULL, "Your IP 192.0.2.1 is listed on our RBL", SMTP_BOUNCE_BLOCKLISTED },
        { 550, "5.7.1", "Rejected: 192.0.2.1 listed at bl.spamcop.net",
          SMTP_BOUNCE_BLOCKLISTED },
        { 550, "5.7.1",
          "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail "
          "originating from your IP address. To protect our users from spam, mail sent "
          "from your IP address has been blocked.",
          SMTP_BOUNCE_BLOCKLISTED },
        { 554, NULL, "Sender IP reputation is poor", SMTP_BOUNCE_BLOCKLISTED },
        /* Authentication and policy. */
        { 550, "5.7.26",
          "This mail has been blocked because the sender is unauthenticated. Gmail "
          "requires all senders to authenticate with either SPF or DKIM.",
          SMTP_BOUNCE_AUTH_POLICY },
        { 550, "5.7.23", "The message was rejected because of Sender Policy Framework "
                         "violation", SMTP_BOUNCE_AUTH_POLICY },
        { 550, "5.7.25",
          "[192.0.2.1] The IP address sending this message does not have a PTR record "
          "setup, or the corresponding forward DNS entry does not point to the sending IP.",
          SMTP_BOUNCE_AUTH_POLICY },
        { 550, "5.7.1", "Email rejected per DMARC policy for example.com",
          SMTP_BOUNCE_AUTH_POLICY },
        /* Rate limits. */
        { 421, "4.7.0",
          "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
          "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
          SMTP_BOUNCE_RATE_LIMITED },
        { 421, "4.7.28",
          "[192.0.2.1] Our system has detected an unusual rate of unsolicited mail "
          "originating from your IP address. To protect our users from spam, mail sent "
          "from your IP address has been temporarily rate limited.",
          SMTP_BOUNCE_RATE_LIMITED },
        { 451, "4.7.650",
          "The mail server [192.0.2.1] has been temporarily rate limited due to IP "
          "reputation.",
          SMTP_BOUNCE_RATE_LIMITED },
        { 421, NULL, "Too many concurrent SMTP connections; please try again later.",
          SMTP_BOUNCE_RATE_LIMITED },
        { 450, "4.7.1", "Try again later", SMTP_BOUNCE_RATE_LIMITED },
        /* Greylisting. */
        { 450, "4.2.0",
          "<bob@example.org>: Recipient address rejected: Greylisted, see "
          "http://postgrey.schweikert.ch/help/example.org.html",
          SMTP_BOUNCE_GREYLISTED },
        { 451, "4.7.1", "Please try again later (graylisting)", SMTP_BOUNCE_GREYLISTED },
        /* TLS. */
        { 530, "5.7.0", "Must issue a STARTTLS command first", SMTP_BOUNCE_TLS },
        { 0, "4.7.5", "TLS handshake failed: certificate verify failed", SMTP_BOUNCE_TLS },
        { 550, "5.7.10", "Encryption needed", SMTP_BOUNCE_TLS },
        /* Ours: DNS and connections. */
        { 0, "5.1.2", "the domain example.invalid does not exist (NXDOMAIN)",
          SMTP_BOUNCE_NO_DOMAIN },
        { 0, "5.4.4", "example.org has no mail servers", SMTP_BOUNCE_NO_DOMAIN },
        { 550, "5.4.4", "Host or domain name not found. Name service error for "
                        "name=example.invalid type=MX: Host not found",
          SMTP_BOUNCE_NO_DOMAIN },
        { 556, "5.1.10", "the domain says it accepts no mail (null MX)",
          SMTP_BOUNCE_NULL_MX },
        { 0, "5.1.10", "Recipient address has null MX", SMTP_BOUNCE_NULL_MX },
        { 0, "4.4.1", "connection refused by mx.example.org", SMTP_BOUNCE_NO_CONNECTION },
        { 0, "4.4.2", "mx.example.org: connection timed out", SMTP_BOUNCE_NO_CONNECTION },
        { 0, NULL, "could not connect to any mail server of example.org",
          SMTP_BOUNCE_NO_CONNECTION },
        /* Nothing to go on. */
        { 554, "5.7.1", "Relay access denied", SMTP_BOUNCE_OTHER },
        { 451, "4.3.0", "Internal error", SMTP_BOUNCE_OTHER },
        { 550, NULL, NULL, SMTP_BOUNCE_OTHER },
        { 0, NULL, NULL, SMTP_BOUNCE_OTHER },
        { 550, "5.1.8", "Sender address rejected", SMTP_BOUNCE_OTHER },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum smtp_bounce_category c =
            smtp_bounce_classify(cases[i].code, cases[i].enhanced, cases[i].text);
        if (c != cases[i].want)
            fprintf(stderr, "  case %zu (%s): %s, expected %s\n", i,
                    cases[i].text ? cases[i].text : "(null)", smtp_bounce_category_name(c),
                    smtp_bounce_category_name(cases[i].want));
        CHECK_INT(c, cases[i].want);
    }
    CHECK_STR(smtp_bounce_category_name(SMTP_BOUNCE_BLOCKLISTED), "blocklisted");
    CHECK_STR(smtp_bounce_category_name(SMTP_BOUNCE_UNKNOWN_ADDRESS), "unknown-address");
    CHECK_STR(smtp_bounce_category_name((enum smtp_bounce_category)99), "other");
}

/* ---- composing ------------------------------------------------------------------ */

static const char original[] = "Return-Path: <alice@example.test>\r\n"
                               "From: Alice <alice@example.test>\r\n"
                               "To: jane@example.org\r\n"
                               "Subject: Lunch\r\n on Friday?\r\n"
                               "Message-ID: <abc.123@example.test>\r\n"
                               "Date: Tue, 24 Nov 2026 19:00:00 +0000\r\n"
                               "\r\n"
                               "Shall we?\r\n";

static struct smtp_bounce_rcpt rcpt_unknown(void)
{
    return (struct smtp_bounce_rcpt){
        .address = "jane@example.org",
        .orcpt_type = "rfc822",
        .orcpt = "Jane@Example.org",
        .action = SMTP_BOUNCE_FAILED,
        .code = 550,
        .status = "5.1.1",
        .text = "550-5.1.1 The email account that you tried to reach does not exist.\n"
                "550 5.1.1 Please try double-checking the recipient's email address",
        .remote_mta = "mx.example.org",
        .last_attempt = 1795549898,
    };
}

static struct smtp_bounce base(const struct smtp_bounce_rcpt *r, size_t n)
{
    return (struct smtp_bounce){
        .kind = SMTP_BOUNCE_FAILURE,
        .hostname = "mail.example.test",
        .to = "alice@example.test",
        .unique = "q1",
        .date = 1795549898,
        .envid = "env-42",
        .arrival = 1795546298,
        .full_max = 100000,
        .message = { original, sizeof(original) - 1 },
        .rcpts = r,
        .n_rcpts = n,
    };
}

static char *compose(const struct smtp_bounce *b)
{
    struct buf out;
    buf_init(&out, 0);
    const char *err = NULL;
    CHECK_INT(smtp_bounce_compose(b, &out, &err), 0);
    char *r = xstrdup(buf_cstr(&out));
    buf_free(&out);
    return r;
}

static bool has(const char *hay, const char *needle)
{
    bool ok = strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  missing: \"%s\"\n", needle);
    return ok;
}

/* A phrase of the text, wherever the lines were wrapped. */
static bool says(const char *m, const char *phrase)
{
    struct buf f;
    buf_init(&f, 0);
    for (const char *p = m; *p; p++) {
        if (*p == '\r' || *p == '\n' || *p == ' ') {
            if (f.len && f.p[f.len - 1] != ' ')
                buf_append_char(&f, ' ');
        } else {
            buf_append_char(&f, *p);
        }
    }
    bool ok = has(buf_cstr(&f), phrase);
    buf_free(&f);
    return ok;
}

/* Every line ends in CRLF and fits in 998 octets; no bare CR or LF. */
static bool well_formed(const char *m)
{
    size_t line = 0;
    for (const char *p = m; *p; p++) {
        if (*p == '\r') {
            if (p[1] != '\n')
                return false;
            line = 0;
            p++;
        } else if (*p == '\n' || ++line > 998) {
            return false;
        }
    }
    return line == 0;
}

/* The structure through our own parser: multipart/report with three parts. */
static const struct mime_part *parse_report(struct arena *a, const char *m, const char *t3)
{
    const struct mime_part *root = mime_parse(a, str_from_cstr(m), NULL);
    CHECK(str_eq_cstr(root->type, "multipart") && str_eq_cstr(root->subtype, "report"));
    CHECK_INT(root->n_children, 3);
    if (root->n_children != 3)
        return NULL;
    const struct mime_part *p1 = root->children, *p2 = p1->next, *p3 = p2->next;
    CHECK(str_eq_cstr(p1->type, "text") && str_eq_cstr(p1->subtype, "plain"));
    CHECK(str_eq_cstr(p2->type, "message"));
    struct buf t;
    buf_init(&t, 0);
    buf_printf(&t, "%.*s/%.*s", (int)p3->type.len, p3->type.p, (int)p3->subtype.len,
               p3->subtype.p);
    CHECK_STR(buf_cstr(&t), t3);
    buf_free(&t);
    return root;
}

static void test_failure(void)
{
    struct smtp_bounce_rcpt r = rcpt_unknown();
    struct smtp_bounce b = base(&r, 1);
    char *m = compose(&b);
    CHECK(well_formed(m));
    static const char head[] = "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>\r\n"
                               "To: alice@example.test\r\n"
                               "Subject: Undelivered mail: Lunch on Friday?\r\n"
                               "Date: Tue, 24 Nov 2026 19:51:38 +0000\r\n"
                               "Message-ID: <q1.dsn@mail.example.test>\r\n"
                               "In-Reply-To: <abc.123@example.test>\r\n"
                               "References: <abc.123@example.test>\r\n"
                               "Auto-Submitted: auto-replied\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                               "\tboundary=\"=_outpost_q1_0\"\r\n\r\n";
    CHECK(strncmp(m, head, sizeof(head) - 1) == 0);
    CHECK(has(m, "\r\nSubject: Undelivered mail: Lunch on Friday?\r\n"));
    CHECK(has(m,
              "\r\nIn-Reply-To: <abc.123@example.test>\r\nReferences: <abc.123@example.test>\r\n"));
    CHECK(has(m, "\r\nAuto-Submitted: auto-replied\r\n"));
    CHECK(has(m, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                 "\tboundary=\"=_outpost_q1_0\"\r\n"));
    /* The delivery-status fields (RFC 3464 §2.2, §2.3), the code and
     * enhanced code written once. */
    CHECK(has(m, "Content-Type: message/delivery-status\r\n"));
    CHECK(has(m, "\r\n\r\nReporting-MTA: dns; mail.example.test\r\n"
                 "Original-Envelope-Id: env-42\r\n"
                 "Arrival-Date: Tue, 24 Nov 2026 18:51:38 +0000\r\n"
                 "\r\n"
                 "Original-Recipient: rfc822; Jane@Example.org\r\n"
                 "Final-Recipient: rfc822; jane@example.org\r\n"
                 "Action: failed\r\n"
                 "Status: 5.1.1\r\n"
                 "Remote-MTA: dns; mx.example.org\r\n"
                 "Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach\r\n"
                 " does not exist. Please try double-checking the recipient's email address\r\n"
                 "Last-Attempt-Date: Tue, 24 Nov 2026 19:51:38 +0000\r\n"
                 "\r\n--=_outpost_q1_0\r\n"));
    /* The text: what happened in plain words, and the server's reply. */
    CHECK(has(m, "Content-Type: text/plain; charset=utf-8\r\n"));
    CHECK(has(m, "This is the mail system at mail.example.test.\r\n"));
    CHECK(has(m, "Your message could not be delivered to the recipient below."));
    CHECK(says(m, "This is about your message \"Lunch on Friday?\", sent on Tue, 24 Nov 2026 "
                  "18:51 UTC."));
    CHECK(has(m, "\r\n\r\njane@example.org\r\n    The address jane@example.org does not exist"));
    CHECK(says(m, "The address jane@example.org does not exist at example.org. Check the "
                  "spelling of the address."));
    CHECK(has(m, "    The server mx.example.org said:\r\n"
                 "        550 5.1.1 The email account that you tried to reach does not\r\n"
                 "        exist. Please try"));
    /* The whole original, as it was. */
    CHECK(has(m, "Content-Type: message/rfc822\r\nContent-Description: Undelivered message\r\n"
                 "\r\nReturn-Path: <alice@example.test>\r\n"));
    CHECK(has(m, "\r\n\r\nShall we?\r\n\r\n--=_outpost_q1_0--\r\n"));

    struct arena *a = arena_new(0);
    const struct mime_part *root = parse_report(a, m, "message/rfc822");
    if (root) {
        const struct mime_part *p3 = root->children->next->next;
        CHECK_INT(p3->kind, MIME_KIND_MESSAGE);
        CHECK(str_eq_cstr(p3->children->envelope->message_id, "<abc.123@example.test>"));
    }
    arena_free(a);

    /* The same input gives the same bytes. */
    char *again = compose(&b);
    CHECK_STR(again, m);
    free(again);
    free(m);
}

static void test_delay_and_success(void)
{
    struct smtp_bounce_rcpt r = {
        .address = "bob@example.net",
        .action = SMTP_BOUNCE_DELAYED,
        .code = 450,
        .status = "4.2.0",
        .text = "<bob@example.net>: Recipient address rejected: Greylisted, see "
                "http://postgrey.schweikert.ch/help/example.net.html",
        .remote_mta = "mx.example.net",
        .last_attempt = 1795549898,
        .will_retry_until = 1795549898 + 5 * 86400,
    };
    struct smtp_bounce b = base(&r, 1);
    b.kind = SMTP_BOUNCE_DELAY;
    b.ret = SMTP_BOUNCE_RET_FULL; /* a delay returns the header only */
    char *m = compose(&b);
    CHECK(well_formed(m));
    CHECK(has(m, "\r\nSubject: Delayed mail (still trying): Lunch on Friday?\r\n"));
    CHECK(has(m, "Action: delayed\r\nStatus: 4.2.0\r\n"));
    CHECK(has(m, "Will-Retry-Until: Sun, 29 Nov 2026 19:51:38 +0000\r\n"));
    CHECK(says(m, "The mail server of example.net asked us to try again later."));
    CHECK(says(m, "We last tried on Tue, 24 Nov 2026 19:51 UTC. We will keep trying until Sun, "
                  "29 Nov 2026 19:51 UTC; if it has not worked by then, we will tell you."));
    CHECK(says(m, "Your message has not reached the recipient below yet."));
    CHECK(has(m, "Content-Type: text/rfc822-headers\r\nContent-Description: Delayed message "
                 "header\r\n\r\nReturn-Path: <alice@example.test>\r\n"));
    CHECK(has(m, "Date: Tue, 24 Nov 2026 19:00:00 +0000\r\n\r\n--=_outpost_q1_0--\r\n"));
    CHECK(strstr(m, "Shall we?") == NULL);
    struct arena *a = arena_new(0);
    parse_report(a, m, "text/rfc822-headers");
    arena_free(a);
    free(m);

    struct smtp_bounce_rcpt ok = {
        .address = "bob@example.net",
        .action = SMTP_BOUNCE_DELIVERED,
        .code = 250,
        .text = "2.0.0 OK 1795549898 a1-20020a05",
        .remote_mta = "mx.example.net",
    };
    b = base(&ok, 1);
    b.kind = SMTP_BOUNCE_SUCCESS;
    m = compose(&b);
    CHECK(has(m, "\r\nSubject: Delivered: Lunch on Friday?\r\n"));
    CHECK(has(m, "Action: delivered\r\nStatus: 2.0.0\r\n"));
    CHECK(has(m, "Diagnostic-Code: smtp; 250 2.0.0 OK 1795549898 a1-20020a05\r\n"));
    CHECK(says(m, "Your message was delivered to bob@example.net."));
    CHECK(has(m, "Content-Type: text/rfc822-headers\r\n"));
    free(m);
}

/* A remote server's reply cannot add a header field, a MIME boundary or an
 * overlong line, whatever it holds. */
static void test_hostile(void)
{
    struct buf t;
    buf_init(&t, 0);
    buf_append_cstr(&t, "no\r\nX-Injected: 1\r\n\r\n--=_outpost_q1_0\r\nContent-Type: text/html\r\n"
                        "\r\n<script>\x01\x7f\x1b[31m\tend ");
    for (int i = 0; i < 5000; i++)
        buf_append_char(&t, 'A');
    buf_append_cstr(&t, " \xff\xfe tail");
    struct smtp_bounce_rcpt r = rcpt_unknown();
    r.code = 554;
    r.status = NULL;
    r.text = buf_cstr(&t);
    r.remote_mta = "mx.example.org\r\nX-Injected: 2";
    r.address = "jane@example.org\r\nX-Injected: 3";
    struct buf orig;
    buf_init(&orig, 0);
    buf_append_cstr(&orig, "Subject: =?utf-8?q?x?=\r\n\tX-Injected: 4\r\nMessage-ID: <a b>\r\n\r\n"
                           "--=_outpost_q1_0\r\n--=_outpost_q1_1--\r\n");
    struct smtp_bounce b = base(&r, 1);
    b.message = buf_str(&orig);
    char *m = compose(&b);
    CHECK(well_formed(m));
    CHECK(strstr(m, "\r\nX-Injected") == NULL);
    CHECK(strstr(m, "\r\nContent-Type: text/html") == NULL);
    CHECK(strstr(m, "\x01") == NULL && strstr(m, "\x1b") == NULL && strstr(m, "\x7f") == NULL);
    /* The boundary is one that the contents do not hold. */
    CHECK(has(m, "boundary=\"=_outpost_q1_2\""));
    CHECK(has(m, "Status: 5.0.0\r\n"));
    CHECK(has(m, "Diagnostic-Code: smtp; 554 5.0.0 no X-Injected: 1 --=_outpost_q1_0"));
    CHECK(has(m, "Final-Recipient: rfc822; jane@example.orgX-Injected:3\r\n"));
    CHECK(has(m, "Remote-MTA: dns; mx.example.org\r\n"));
    CHECK(strstr(m, "In-Reply-To") == NULL); /* "<a b>" is no message id */
    /* Capped: the text is cut and says so. */
    CHECK(has(m, "AAAA...\r\n"));
    struct arena *a = arena_new(0);
    const struct mime_part *root = parse_report(a, m, "message/rfc822");
    if (root)
        CHECK_INT(root->children->next->next->children->n_children, 0);
    arena_free(a);
    free(m);
    buf_free(&orig);
    buf_free(&t);
}

static unsigned rnd_state = 1;
static unsigned rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 16;
}

/* Random bytes in every string that comes from outside: the report stays
 * well formed, three parts, one recipient block, and keeps its header. */
static void test_random_input(void)
{
    static const char alphabet[] = "a -:\r\n\t=?<>\"\x01\x80\xc3\xa9\xff.@;";
    for (int iter = 0; iter < 500; iter++) {
        char fields[5][300];
        for (int f = 0; f < 5; f++) {
            size_t n = rnd() % (sizeof(fields[f]) - 1);
            for (size_t i = 0; i < n; i++) {
                char c = iter % 2 ? (char)(rnd() % 255 + 1) : alphabet[rnd() % (sizeof(alphabet) - 1)];
                fields[f][i] = c;
            }
            fields[f][n] = '\0';
        }
        struct buf orig;
        buf_init(&orig, 0);
        buf_printf(&orig, "Subject: %s\r\nMessage-ID: %s\r\n\r\nbody\r\n", fields[3], fields[4]);
        struct smtp_bounce_rcpt r = {
            .address = fields[0], .orcpt_type = "rfc822", .orcpt = fields[1],
            .action = (enum smtp_bounce_action)(rnd() % 5), .code = (int)(rnd() % 400) + 200,
            .text = fields[2], .remote_mta = fields[1], .will_retry_until = 1795549898,
        };
        struct smtp_bounce b = base(&r, 1);
        b.kind = (enum smtp_bounce_kind)(rnd() % 3);
        b.smtputf8 = rnd() % 2;
        b.message = buf_str(&orig);
        char *m = compose(&b);
        CHECK(well_formed(m));
        static const char from[] = "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>"
                                   "\r\nTo: ";
        CHECK(strncmp(m, from, sizeof(from) - 1) == 0);
        if (!b.smtputf8) {
            bool ascii = true;
            for (const char *p = m; *p; p++)
                ascii &= (unsigned char)*p < 0x80;
            CHECK(ascii);
        }
        struct arena *a = arena_new(0);
        const struct mime_part *root = mime_parse(a, str_from_cstr(m), NULL);
        CHECK_INT(root->n_children, 3);
        /* Our header fields, each once, in order. */
        static const char *const names[] = { "From", "To", "Subject", "Date", "Message-ID" };
        struct mime_header_iter it;
        struct mime_field f;
        mime_header_iter_init(&it, (struct str){ m + root->header_offset, root->header_len });
        for (size_t k = 0; k < 5; k++)
            CHECK(mime_header_next(&it, &f) && str_eq_cstr(f.name, names[k]));
        arena_free(a);
        free(m);
        buf_free(&orig);
    }
}

static void test_returned_part(void)
{
    struct smtp_bounce_rcpt r = rcpt_unknown();
    static const struct {
        enum smtp_bounce_kind kind;
        enum smtp_bounce_ret ret;
        size_t full_max;
        bool smtputf8;
        const char *msg;
        const char *type, *cte;
    } cases[] = {
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_DEFAULT, 100000, false, original,
          "message/rfc822", NULL },
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_FULL, 100000, false, original, "message/rfc822",
          NULL },
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_HDRS, 100000, false, original,
          "text/rfc822-headers", NULL },
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_FULL, 10, false, original, "text/rfc822-headers",
          NULL },
        { SMTP_BOUNCE_SUCCESS, SMTP_BOUNCE_RET_FULL, 100000, false, original,
          "text/rfc822-headers", NULL },
        /* 8-bit body: whole only when the report may carry 8 bits. */
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_DEFAULT, 100000, false,
          "Subject: x\r\n\r\ncaf\xc3\xa9\r\n", "text/rfc822-headers", NULL },
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_DEFAULT, 100000, true,
          "Subject: x\r\n\r\ncaf\xc3\xa9\r\n", "message/rfc822", "8bit" },
        /* UTF-8 header: message/global and message/global-headers (RFC
         * 6533), or the header in quoted-printable. */
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_DEFAULT, 100000, true,
          "Subject: caf\xc3\xa9\r\n\r\ncaf\xc3\xa9\r\n", "message/global", "8bit" },
        { SMTP_BOUNCE_DELAY, SMTP_BOUNCE_RET_DEFAULT, 100000, true,
          "Subject: caf\xc3\xa9\r\n\r\ncaf\xc3\xa9\r\n", "message/global-headers", "8bit" },
        { SMTP_BOUNCE_FAILURE, SMTP_BOUNCE_RET_DEFAULT, 100000, false,
          "Subject: caf\xc3\xa9\r\n\r\ncaf\xc3\xa9\r\n", "text/rfc822-headers; charset=utf-8",
          "quoted-printable" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct smtp_bounce b = base(&r, 1);
        b.kind = cases[i].kind;
        b.ret = cases[i].ret;
        b.full_max = cases[i].full_max;
        b.smtputf8 = cases[i].smtputf8;
        b.message = str_from_cstr(cases[i].msg);
        char *m = compose(&b);
        struct buf want;
        buf_init(&want, 0);
        buf_printf(&want, "\r\nContent-Type: %s\r\nContent-Description: ", cases[i].type);
        CHECK(has(m, buf_cstr(&want)));
        buf_clear(&want);
        buf_printf(&want, "Content-Type: %s\r\nContent-Description: %s\r\n%s%s%s\r\n",
                   cases[i].type,
                   !strcmp(cases[i].type, "message/rfc822") ||
                           !strcmp(cases[i].type, "message/global")
                       ? "Undelivered message"
                   : cases[i].kind == SMTP_BOUNCE_FAILURE     ? "Undelivered message header"
                   : cases[i].kind == SMTP_BOUNCE_DELAY       ? "Delayed message header"
                                                              : "Delivered message header",
                   cases[i].cte ? "Content-Transfer-Encoding: " : "",
                   cases[i].cte ? cases[i].cte : "", cases[i].cte ? "\r\n" : "");
        CHECK(has(m, buf_cstr(&want)));
        CHECK(well_formed(m));
        if (!cases[i].smtputf8) {
            bool ascii = true;
            for (const char *p = m; *p; p++)
                ascii &= (unsigned char)*p < 0x80;
            CHECK(ascii);
        }
        buf_free(&want);
        free(m);
    }
}

/* Internationalised addresses: RFC 6533 §3 in both forms; the Subject in
 * encoded words when the report may not carry UTF-8. */
static void test_utf8(void)
{
    struct smtp_bounce_rcpt r = rcpt_unknown();
    r.address = "j\xc3\xb8rn@ex\xc3\xa4mple.org";
    r.orcpt_type = "utf-8";
    r.orcpt = "J\xc3\xb8rn+x@ex\xc3\xa4mple.org";
    r.text = "5.1.1 unknown user j\xc3\xb8rn";
    const char *msg = "Subject: R\xc3\xa9union \xe2\x82\xac 2026 \xe2\x80\x94 the quarterly "
                      "planning meeting of the whole team\r\n\r\nx\r\n";
    struct smtp_bounce b = base(&r, 1);
    b.message = str_from_cstr(msg);
    char *m = compose(&b);
    CHECK(well_formed(m));
    CHECK(has(m, "Final-Recipient: utf-8; j\\x{F8}rn@ex\\x{E4}mple.org\r\n"));
    CHECK(has(m, "Original-Recipient: utf-8; J\\x{F8}rn\\x{2B}x@ex\\x{E4}mple.org\r\n"));
    CHECK(has(m, "Diagnostic-Code: smtp; 550 5.1.1 unknown user j?rn\r\n"));
    CHECK(has(m, "Content-Type: message/delivery-status\r\n"));
    CHECK(has(m, "Content-Transfer-Encoding: quoted-printable\r\n")); /* the text */
    CHECK(has(m, "\r\nj=C3=B8rn@ex=C3=A4mple.org\r\n"));
    CHECK(says(m, "Subject: Undelivered mail: =?UTF-8?B?"));
    /* The encoded words decode back to the Subject. */
    struct arena *a = arena_new(0);
    const struct mime_part *root = mime_parse(a, str_from_cstr(m), NULL);
    struct str subj = mime_decode_words(a, root->envelope->subject);
    CHECK(str_eq_cstr(subj, "Undelivered mail: R\xc3\xa9union \xe2\x82\xac 2026 \xe2\x80\x94 the "
                            "quarterly planning meeting of the whole team"));
    arena_free(a);
    free(m);

    b.smtputf8 = true;
    m = compose(&b);
    CHECK(has(m, "report-type=global-delivery-status;"));
    CHECK(has(m, "Content-Type: message/global-delivery-status\r\n"
                 "Content-Description: Delivery report\r\nContent-Transfer-Encoding: 8bit\r\n"));
    CHECK(has(m, "Final-Recipient: utf-8; j\xc3\xb8rn@ex\xc3\xa4mple.org\r\n"));
    CHECK(has(m, "Diagnostic-Code: smtp; 550 5.1.1 unknown user j\xc3\xb8rn\r\n"));
    CHECK(has(m, "Subject: Undelivered mail: R\xc3\xa9union"));
    free(m);
}

/* Several recipients, statuses derived, our own reasons. */
static void test_rcpts(void)
{
    struct smtp_bounce_rcpt r[3] = {
        { .address = "a@nowhere.invalid", .action = SMTP_BOUNCE_FAILED, .status = "5.1.2",
          .text = "the domain nowhere.invalid does not exist" },
        { .address = "b@example.org", .action = SMTP_BOUNCE_FAILED, .code = 550,
          .text = "Blocked - see https://www.spamhaus.org/", .remote_mta = "mx.example.org" },
        { .address = "c@example.org", .action = SMTP_BOUNCE_FAILED },
    };
    struct smtp_bounce b = base(r, 3);
    b.admin = "postmaster@example.test";
    char *m = compose(&b);
    CHECK(well_formed(m));
    CHECK(has(m, "to the recipients below."));
    CHECK(has(m, "Final-Recipient: rfc822; a@nowhere.invalid\r\nAction: failed\r\n"
                 "Status: 5.1.2\r\nDiagnostic-Code: X-Outpost; the domain nowhere.invalid does "
                 "not exist\r\n"));
    CHECK(says(m, "The domain nowhere.invalid does not exist, or has no mail servers."));
    CHECK(has(m, "    Details:\r\n        the domain nowhere.invalid does not exist\r\n"));
    CHECK(has(m, "Status: 5.0.0\r\nRemote-MTA: dns; mx.example.org\r\n"
                 "Diagnostic-Code: smtp; 550 5.0.0 Blocked - see https://www.spamhaus.org/\r\n"));
    CHECK(says(m, "The mail server of example.org refused the message because the address of "
                  "our mail server is on a blocklist it uses. This is not about your message"));
    CHECK(says(m, "`outpost reputation status`"));
    CHECK(has(m, "Final-Recipient: rfc822; c@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\n"
                 "\r\n--"));
    CHECK(says(m, "forward this whole message to your mail administrator, "
                  "postmaster@example.test."));
    CHECK(has(m, "Subject: Undelivered mail: Lunch on Friday?\r\n"));
    struct arena *a = arena_new(0);
    parse_report(a, m, "message/rfc822");
    arena_free(a);
    free(m);

    /* No Subject, no Message-ID, a postmaster of our own. */
    b = base(r, 1);
    b.message = STR_LIT("From: x@example.test\r\n\r\nhi\r\n");
    b.postmaster = "postmaster@example.test";
    b.envid = NULL;
    b.arrival = 0;
    m = compose(&b);
    CHECK(has(m, "From: Mail Delivery System <postmaster@example.test>\r\n"));
    CHECK(has(m, "Subject: Undelivered mail: (no subject)\r\n"));
    CHECK(strstr(m, "In-Reply-To") == NULL && strstr(m, "Original-Envelope-Id") == NULL &&
          strstr(m, "Arrival-Date") == NULL && strstr(m, "This is about") == NULL);
    free(m);
}

/* The enhanced code may come only in the text (a client that kept the
 * reply as one line): it is the status, and is written once. */
static void test_status_from_text(void)
{
    struct smtp_bounce_rcpt r = {
        .address = "bob@example.net",
        .action = SMTP_BOUNCE_FAILED,
        .code = 550,
        .text = "550 5.1.1 <bob@example.net>... User unknown",
        .remote_mta = "mx.example.net",
    };
    struct smtp_bounce b = base(&r, 1);
    char *m = compose(&b);
    CHECK(has(m, "Status: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\n"
                 "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>... User unknown\r\n"));
    CHECK(says(m, "The address bob@example.net does not exist at example.net."));
    free(m);
    r.text = NULL;
    r.code = 451;
    r.action = SMTP_BOUNCE_DELAYED;
    m = compose(&b);
    CHECK(has(m, "Status: 4.0.0\r\nRemote-MTA: dns; mx.example.net\r\n"
                 "Diagnostic-Code: smtp; 451 4.0.0\r\n"));
    free(m);
}

static void test_errors(void)
{
    struct smtp_bounce_rcpt r = rcpt_unknown();
    struct smtp_bounce b = base(&r, 1);
    struct buf out;
    buf_init(&out, 100);
    buf_append_cstr(&out, "kept");
    const char *err = NULL;
    CHECK_INT(smtp_bounce_compose(&b, &out, &err), -1);
    CHECK_STR(buf_cstr(&out), "kept");
    CHECK(err != NULL);
    b.hostname = NULL;
    err = NULL;
    CHECK_INT(smtp_bounce_compose(&b, &out, &err), -1);
    CHECK(err != NULL);
    b = base(&r, 0);
    CHECK_INT(smtp_bounce_compose(&b, &out, NULL), -1);
    b = base(&r, 1);
    b.to = "";
    CHECK_INT(smtp_bounce_compose(&b, &out, NULL), -1);
    CHECK_STR(buf_cstr(&out), "kept");
    buf_free(&out);
}

static void test_when_not(void)
{
    static const char report[] = "From: MAILER-DAEMON@x\r\nContent-Type: multipart/report;\r\n"
                                 " report-type=\"delivery-status\"; boundary=b\r\n\r\n--b--\r\n";
    static const char mdn[] =
        "Content-Type: multipart/report; report-type=disposition-notification;"
        " boundary=b\r\n\r\n";
    static const struct {
        const char *sender, *msg;
        unsigned notify;
        enum smtp_bounce_kind kind;
        bool report, wanted;
    } cases[] = {
        { "", original, 0, SMTP_BOUNCE_FAILURE, true, false },
        { NULL, original, 0, SMTP_BOUNCE_FAILURE, true, false },
        { "<>", original, 0, SMTP_BOUNCE_FAILURE, true, false },
        { "a@x", report, 0, SMTP_BOUNCE_FAILURE, true, false },
        { "a@x", mdn, 0, SMTP_BOUNCE_FAILURE, false, true },
        { "a@x", original, 0, SMTP_BOUNCE_FAILURE, false, true },
        { "a@x", original, 0, SMTP_BOUNCE_DELAY, false, true },
        { "a@x", original, 0, SMTP_BOUNCE_SUCCESS, false, false },
        { "a@x", original, 1, SMTP_BOUNCE_FAILURE, false, false },
        { "a@x", original, 2, SMTP_BOUNCE_SUCCESS, false, true },
        { "a@x", original, 2, SMTP_BOUNCE_FAILURE, false, false },
        { "a@x", original, 4, SMTP_BOUNCE_FAILURE, false, true },
        { "a@x", original, 4, SMTP_BOUNCE_DELAY, false, false },
        { "a@x", original, 12, SMTP_BOUNCE_DELAY, false, true },
        { "a@x", "", 0, SMTP_BOUNCE_FAILURE, false, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str m = str_from_cstr(cases[i].msg);
        CHECK_INT(smtp_bounce_is_report(cases[i].sender, m), cases[i].report);
        CHECK_INT(smtp_bounce_wanted(cases[i].sender, m, cases[i].notify, cases[i].kind),
                  cases[i].wanted);
    }
    /* Our own reports are reports. */
    struct smtp_bounce_rcpt r = rcpt_unknown();
    struct smtp_bounce b = base(&r, 1);
    char *m = compose(&b);
    CHECK(smtp_bounce_is_report("somebody@example.test", str_from_cstr(m)));
    free(m);
}

int main(void)
{
    RUN(test_classify);
    RUN(test_failure);
    RUN(test_delay_and_success);
    RUN(test_hostile);
    RUN(test_random_input);
    RUN(test_returned_part);
    RUN(test_utf8);
    RUN(test_rcpts);
    RUN(test_status_from_text);
    RUN(test_errors);
    RUN(test_when_not);
    return TEST_DONE();
}
