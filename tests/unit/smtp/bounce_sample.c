/* Writes sample delivery reports into the directory given, one file per
 * case (NAME.eml), for tests/integration/test_bounce_format.py to read with
 * Python's email parser: an independent check of what test_bounce.c checks
 * with ours. Built with the unit tests; not a test itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/bounce.h"

static const char original[] = "Return-Path: <alice@example.test>\r\n"
                               "From: Alice <alice@example.test>\r\n"
                               "To: jane@example.org, bob@example.net\r\n"
                               "Subject: Lunch\r\n on Friday?\r\n"
                               "Message-ID: <abc.123@example.test>\r\n"
                               "Date: Tue, 24 Nov 2026 19:00:00 +0000\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: text/plain; charset=us-ascii\r\n"
                               "\r\n"
                               "Shall we?\r\n";

static int write_case(const char *dir, const char *name, const struct smtp_bounce *b)
{
    struct buf out;
    buf_init(&out, 0);
    const char *err = NULL;
    if (smtp_bounce_compose(b, &out, &err) < 0) {
        fprintf(stderr, "bounce_sample: %s: %s\n", name, err);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out.p, 1, out.len, f) != out.len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    buf_free(&out);
    return 0;
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

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bounce_sample DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int err = 0;

    /* Two recipients refused: unknown, and our address on a blocklist. */
    struct smtp_bounce_rcpt failed[2] = {
        { .address = "jane@example.org", .orcpt_type = "rfc822", .orcpt = "Jane@Example.org",
          .action = SMTP_BOUNCE_FAILED, .code = 550, .status = "5.1.1",
          .text = "550-5.1.1 The email account that you tried to reach does not exist. Please "
                  "try\n550-5.1.1 double-checking the recipient's email address for typos or\n"
                  "550-5.1.1 unnecessary spaces. For more information, go to\n"
                  "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si gsmtp",
          .remote_mta = "mx.example.org", .last_attempt = 1795549898 },
        { .address = "bob@example.net", .action = SMTP_BOUNCE_FAILED, .code = 554,
          .status = "5.7.1",
          .text = "Service unavailable; Client host [192.0.2.1] blocked using "
                  "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
          .remote_mta = "mx.example.net", .last_attempt = 1795549898 },
    };
    struct smtp_bounce b = base(failed, 2);
    b.admin = "postmaster@example.test";
    err |= write_case(dir, "failure", &b);

    /* Still trying: greylisted; the header comes back. */
    struct smtp_bounce_rcpt delayed = {
        .address = "bob@example.net", .action = SMTP_BOUNCE_DELAYED, .code = 450,
        .status = "4.2.0",
        .text = "<bob@example.net>: Recipient address rejected: Greylisted, see "
                "http://postgrey.schweikert.ch/help/example.net.html",
        .remote_mta = "mx.example.net", .last_attempt = 1795549898,
        .will_retry_until = 1795549898 + 5 * 86400,
    };
    b = base(&delayed, 1);
    b.kind = SMTP_BOUNCE_DELAY;
    err |= write_case(dir, "delay", &b);

    /* NOTIFY=SUCCESS. */
    struct smtp_bounce_rcpt delivered = {
        .address = "bob@example.net", .action = SMTP_BOUNCE_DELIVERED, .code = 250,
        .text = "2.0.0 OK 1795549898 a1-20020a05", .remote_mta = "mx.example.net",
        .last_attempt = 1795549898,
    };
    b = base(&delivered, 1);
    b.kind = SMTP_BOUNCE_SUCCESS;
    err |= write_case(dir, "success", &b);

    /* A remote server that tries to write our message for us. */
    struct buf hostile;
    buf_init(&hostile, 0);
    buf_append_cstr(&hostile, "no such user\r\nX-Injected: yes\r\n\r\n--=_outpost_q1_0\r\n"
                              "Content-Type: text/html\r\n\r\n<b>owned</b>\x01\x1b[31m ");
    for (int i = 0; i < 3000; i++)
        buf_append_char(&hostile, 'A');
    struct smtp_bounce_rcpt evil = {
        .address = "jane@example.org", .action = SMTP_BOUNCE_FAILED, .code = 550,
        .status = "5.1.1", .text = buf_cstr(&hostile),
        .remote_mta = "mx.example.org\r\nX-Injected: yes",
    };
    static const char evil_original[] = "Subject: hi\r\nMessage-ID: <x@y>\r\n"
                                        "X-Note: --=_outpost_q1_1\r\n\r\n--=_outpost_q1_0\r\n";
    b = base(&evil, 1);
    b.message = (struct str){ evil_original, sizeof(evil_original) - 1 };
    err |= write_case(dir, "hostile", &b);
    buf_free(&hostile);

    /* Internationalised: the report sent without SMTPUTF8, then with it. */
    static const char utf8_original[] = "From: J\xc3\xb8rn <j@example.test>\r\n"
                                        "Subject: R\xc3\xa9union \xe2\x82\xac 2026\r\n"
                                        "Message-ID: <u8@example.test>\r\n"
                                        "\r\n"
                                        "Caf\xc3\xa9?\r\n";
    struct smtp_bounce_rcpt intl = {
        .address = "j\xc3\xb8rn@ex\xc3\xa4mple.org", .orcpt_type = "utf-8",
        .orcpt = "J\xc3\xb8rn@ex\xc3\xa4mple.org", .action = SMTP_BOUNCE_FAILED, .code = 550,
        .status = "5.1.1", .text = "unknown user j\xc3\xb8rn", .remote_mta = "mx.example.org",
    };
    b = base(&intl, 1);
    b.message = (struct str){ utf8_original, sizeof(utf8_original) - 1 };
    err |= write_case(dir, "utf8", &b);
    b.smtputf8 = true;
    err |= write_case(dir, "global", &b);

    /* Our own reasons: no such domain, no connection; RET=HDRS. */
    struct smtp_bounce_rcpt ours[2] = {
        { .address = "a@nowhere.invalid", .action = SMTP_BOUNCE_FAILED, .status = "5.1.2",
          .text = "the domain nowhere.invalid does not exist" },
        { .address = "b@example.org", .action = SMTP_BOUNCE_FAILED, .status = "4.4.1",
          .text = "connection refused by every mail server of example.org" },
    };
    b = base(ours, 2);
    b.ret = SMTP_BOUNCE_RET_HDRS;
    err |= write_case(dir, "ours", &b);
    return err ? 1 : 0;
}
