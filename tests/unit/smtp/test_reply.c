/*
 * Unit tests for smtp/reply.h: single and multiline replies in any
 * chunking, enhanced codes taken from the first line and stripped where
 * repeated, pipelined replies one after another, and every refusal: no
 * code, a changed code, a bad separator, too long, too many lines.
 */
#include <string.h>

#include "smtp/reply.h"
#include "test.h"

/* Reads exactly one reply from `text` fed `chunk` bytes at a time. */
static enum smtp_reply_status read_one(const char *text, size_t chunk, struct smtp_reply *out,
                                       const char **error)
{
    struct smtp_reply_reader r;
    smtp_reply_reader_init(&r);
    size_t len = strlen(text), off = 0;
    enum smtp_reply_status st = SMTP_REPLY_NEED_MORE;
    while (off < len && st == SMTP_REPLY_NEED_MORE) {
        size_t n = len - off < chunk ? len - off : chunk;
        struct str in = { text + off, n };
        st = smtp_reply_read(&r, &in, out, error);
        off += n - in.len;
    }
    smtp_reply_reader_free(&r);
    return st;
}

static void test_single_and_multiline(void)
{
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        struct smtp_reply rep;
        const char *err = NULL;
        CHECK_INT(read_one("250 2.1.0 Sender OK\r\n", chunk, &rep, &err), SMTP_REPLY_DONE);
        CHECK_INT(rep.code, 250);
        CHECK_STR(rep.enhanced, "2.1.0");
        CHECK_STR(buf_cstr(&rep.text), "Sender OK");
        CHECK_INT(rep.lines, 1);
        smtp_reply_free(&rep);
        CHECK_INT(read_one("250-mx.example.net Hello\r\n250-PIPELINING\r\n250-SIZE 1000\n"
                           "250 ENHANCEDSTATUSCODES\r\n",
                           chunk, &rep, &err),
                  SMTP_REPLY_DONE);
        CHECK_INT(rep.code, 250);
        CHECK_STR(rep.enhanced, "");
        CHECK_STR(buf_cstr(&rep.text),
                  "mx.example.net Hello\nPIPELINING\nSIZE 1000\nENHANCEDSTATUSCODES");
        CHECK_INT(rep.lines, 4);
        smtp_reply_free(&rep);
    }
    struct smtp_reply rep;
    const char *err = NULL;
    /* The enhanced code repeated on each line is stripped from each. */
    CHECK_INT(read_one("550-5.7.1 Our system has detected\r\n550-5.7.1 unsolicited mail.\r\n"
                       "550 5.7.1 See https://support.example/ for more.\r\n",
                       7, &rep, &err),
              SMTP_REPLY_DONE);
    CHECK_STR(rep.enhanced, "5.7.1");
    CHECK_STR(buf_cstr(&rep.text),
              "Our system has detected\nunsolicited mail.\nSee https://support.example/ for more.");
    smtp_reply_free(&rep);
    /* A bare code; a code of another class than the reply's is text. */
    CHECK_INT(read_one("354\r\n", 3, &rep, &err), SMTP_REPLY_DONE);
    CHECK_INT(rep.code, 354);
    CHECK_STR(buf_cstr(&rep.text), "");
    smtp_reply_free(&rep);
    CHECK_INT(read_one("421 4.4.2 timeout\r\n", 5, &rep, &err), SMTP_REPLY_DONE);
    CHECK_STR(rep.enhanced, "4.4.2");
    smtp_reply_free(&rep);
    CHECK_INT(read_one("550 2.1.0 odd\r\n", 5, &rep, &err), SMTP_REPLY_DONE);
    CHECK_STR(rep.enhanced, "");
    CHECK_STR(buf_cstr(&rep.text), "2.1.0 odd");
    smtp_reply_free(&rep);
    CHECK_INT(read_one("250 2.1.0005 not a code\r\n", 5, &rep, &err), SMTP_REPLY_DONE);
    CHECK_STR(rep.enhanced, "");
    smtp_reply_free(&rep);
}

static void test_pipelined(void)
{
    struct smtp_reply_reader r;
    smtp_reply_reader_init(&r);
    const char *all = "250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 No such user\r\n354 Go";
    struct str in = str_from_cstr(all);
    struct smtp_reply rep;
    const char *err = NULL;
    int codes[3], n = 0;
    while (n < 3 && smtp_reply_read(&r, &in, &rep, &err) == SMTP_REPLY_DONE) {
        codes[n++] = rep.code;
        smtp_reply_free(&rep);
    }
    CHECK_INT(n, 3);
    CHECK_INT(codes[0], 250);
    CHECK_INT(codes[2], 550);
    CHECK_INT(smtp_reply_read(&r, &in, &rep, &err), SMTP_REPLY_NEED_MORE);
    struct str rest = str_from_cstr(" ahead\r\n");
    CHECK_INT(smtp_reply_read(&r, &rest, &rep, &err), SMTP_REPLY_DONE);
    CHECK_INT(rep.code, 354);
    CHECK_STR(buf_cstr(&rep.text), "Go ahead");
    smtp_reply_free(&rep);
    smtp_reply_reader_free(&r);
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "hello\r\n", "25\r\n", "2500 x\r\n", "250x\r\n", "650 no\r\n", "150 no\r\n",
        "250-a\r\n251 b\r\n", "250-a\r\nxyz\r\n", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!*bad[i])
            continue;
        struct smtp_reply rep;
        const char *err = NULL;
        CHECK_INT(read_one(bad[i], 4, &rep, &err), SMTP_REPLY_ERROR);
        CHECK(err != NULL);
    }
    struct buf b;
    buf_init(&b, 0);
    /* A line past the limit. */
    buf_append_cstr(&b, "250 ");
    for (int i = 0; i < SMTP_REPLY_MAX_LINE; i++)
        buf_append_char(&b, 'x');
    buf_append_cstr(&b, "\r\n");
    struct smtp_reply rep;
    const char *err = NULL;
    CHECK_INT(read_one(buf_cstr(&b), 1000, &rep, &err), SMTP_REPLY_ERROR);
    CHECK_STR(err, "reply line too long");
    /* Too many lines. */
    buf_clear(&b);
    for (int i = 0; i < SMTP_REPLY_MAX_LINES; i++)
        buf_append_cstr(&b, "250-x\r\n");
    buf_append_cstr(&b, "250 x\r\n");
    CHECK_INT(read_one(buf_cstr(&b), 1000, &rep, &err), SMTP_REPLY_ERROR);
    CHECK_STR(err, "reply has too many lines");
    /* Too much text in allowed lines. */
    buf_clear(&b);
    for (int i = 0; i < 10; i++) {
        buf_append_cstr(&b, "250-");
        for (int k = 0; k < 2000; k++)
            buf_append_char(&b, 'y');
        buf_append_cstr(&b, "\r\n");
    }
    buf_append_cstr(&b, "250 end\r\n");
    CHECK_INT(read_one(buf_cstr(&b), 1000, &rep, &err), SMTP_REPLY_ERROR);
    CHECK_STR(err, "reply text too long");
    buf_free(&b);
    /* After an error the reader starts afresh on the next reply. */
    struct smtp_reply_reader r;
    smtp_reply_reader_init(&r);
    struct str in = str_from_cstr("250-a\r\n251 b\r\n220 ready\r\n");
    CHECK_INT(smtp_reply_read(&r, &in, &rep, &err), SMTP_REPLY_ERROR);
    CHECK_INT(smtp_reply_read(&r, &in, &rep, &err), SMTP_REPLY_DONE);
    CHECK_INT(rep.code, 220);
    smtp_reply_free(&rep);
    smtp_reply_reader_free(&r);
}

static void test_enhanced_code_len(void)
{
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("5.1.1 x")), 5);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("4.7.321")), 7);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("2.123.456 ok")), 9);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("3.1.1 x")), 0);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("5.1234.1")), 0);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("5.1.1x")), 0);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("5..1")), 0);
    CHECK_INT(smtp_enhanced_code_len(str_from_cstr("5.1.")), 0);
}

int main(void)
{
    RUN(test_single_and_multiline);
    RUN(test_pipelined);
    RUN(test_refused);
    RUN(test_enhanced_code_len);
    return TEST_DONE();
}
