/* The header fields the SMTP server adds. */
#include <string.h>

#include "smtp/headers.h"
#include "test.h"

static void test_header_end(void)
{
    static const struct { const char *msg; size_t end; } cases[] = {
        { "Subject: x\r\n\r\nbody\r\n", 14 },
        { "\r\nbody only\r\n", 2 },
        { "Subject: x\r\nTo: y\r\n", 19 },  /* no blank line: all header */
        { "", 0 },
        { "A: b\r\n\r\n", 8 },
        { "A: b\n\nbare LF is not a header end\r\n", 35 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(smtp_header_end(str_from_cstr(cases[i].msg)), cases[i].end);
}

static void test_date(void)
{
    char d[64];
    smtp_format_date(0, d, sizeof(d));
    CHECK_STR(d, "Thu, 1 Jan 1970 00:00:00 +0000");
    smtp_format_date(1795549898, d, sizeof(d)); /* 2026-11-24 19:51:38 UTC */
    CHECK_STR(d, "Tue, 24 Nov 2026 19:51:38 +0000");
}

static void test_received(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct smtp_received r = {
        .helo = "client.example", .ip = "192.0.2.1", .hostname = "mx.example.test",
        .esmtp = true, .tls = true, .tls_version = "TLSv1.3",
        .tls_cipher = "TLS_AES_256_GCM_SHA384", .id = "abc.1", .for_rcpt = "bob@example.test",
        .when = 0,
    };
    smtp_received_append(&b, &r);
    CHECK_STR(buf_cstr(&b), "Received: from client.example ([192.0.2.1])\r\n"
                            "\tby mx.example.test (outpost) with ESMTPS id abc.1\r\n"
                            "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384)\r\n"
                            "\tfor <bob@example.test>;\r\n"
                            "\tThu, 1 Jan 1970 00:00:00 +0000\r\n");
    /* RFC 3848 / 6531 protocol names, and a hostile HELO kept harmless. */
    static const struct { bool esmtp, tls, auth, utf8; const char *with; } with[] = {
        { false, false, false, false, "with SMTP " },
        { true, false, false, false, "with ESMTP " },
        { true, false, true, false, "with ESMTPA " },
        { true, true, true, false, "with ESMTPSA " },
        { true, true, false, true, "with UTF8SMTPS " },
        { true, false, true, true, "with UTF8SMTPA " },
    };
    for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++) {
        buf_clear(&b);
        struct smtp_received w = { .helo = "x;(y)\r\nInjected: 1", .ip = "::1", .hostname = "h",
                                   .esmtp = with[i].esmtp, .tls = with[i].tls,
                                   .auth = with[i].auth, .utf8 = with[i].utf8, .id = "1" };
        smtp_received_append(&b, &w);
        CHECK(strstr(buf_cstr(&b), with[i].with) != NULL);
        CHECK(strstr(buf_cstr(&b), "from x__y___Injected:_1 ([IPv6:::1])") != NULL);
        CHECK(strstr(buf_cstr(&b), "\r\nInjected") == NULL);
    }
    buf_free(&b);
}

static void test_message_id(void)
{
    struct buf a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    smtp_message_id_append(&a, "mx.example.test");
    smtp_message_id_append(&b, "mx.example.test");
    CHECK(strncmp(buf_cstr(&a), "Message-ID: <", 13) == 0);
    CHECK(strstr(buf_cstr(&a), "@mx.example.test>\r\n") != NULL);
    CHECK_INT(a.len, strlen("Message-ID: <>\r\n") + 24 + strlen("@mx.example.test"));
    CHECK(strcmp(buf_cstr(&a), buf_cstr(&b)) != 0);
    buf_free(&a);
    buf_free(&b);
}

int main(void)
{
    RUN(test_header_end);
    RUN(test_date);
    RUN(test_received);
    RUN(test_message_id);
    return TEST_DONE();
}
