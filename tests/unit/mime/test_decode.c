/*
 * Unit tests for mime/decode.c: Content-Transfer-Encoding names, base64
 * (RFC 4648 §10 vectors, then what real mail does) and quoted-printable
 * (RFC 2045 §6.7's rules).
 */
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"
#include "test.h"

struct dcase {
    const char *in;
    size_t in_len; /* 0: strlen */
    const char *out;
    size_t out_len; /* 0: strlen */
};

static void run(enum mime_encoding enc, const struct dcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct buf b;
        buf_init(&b, 0);
        struct str in = { c[i].in, c[i].in_len ? c[i].in_len : strlen(c[i].in) };
        size_t want_len = c[i].out_len ? c[i].out_len : strlen(c[i].out);
        bool binary;
        CHECK_INT(mime_decode_body(enc, in, &b, &binary), 0);
        bool ok = b.len == want_len && (want_len == 0 || memcmp(b.p, c[i].out, want_len) == 0);
        if (!ok)
            fprintf(stderr, "  case %zu: \"%s\" gave \"%s\"\n", i, c[i].in, buf_cstr(&b));
        CHECK(ok);
        CHECK(binary == (want_len && memchr(c[i].out, '\0', want_len) != NULL));
        buf_free(&b);
    }
}

static void test_encoding_names(void)
{
    const struct {
        const char *in;
        enum mime_encoding enc;
    } cases[] = {
        { NULL, MIME_ENC_7BIT },
        { "", MIME_ENC_7BIT },
        { "7bit", MIME_ENC_7BIT },
        { " 7BIT ", MIME_ENC_7BIT },
        { "8bit", MIME_ENC_8BIT },
        { "Binary", MIME_ENC_BINARY },
        { "BASE64", MIME_ENC_BASE64 },
        { "base64 (yes)", MIME_ENC_BASE64 },
        { "(c) base64", MIME_ENC_BASE64 },
        { "Quoted-Printable", MIME_ENC_QP },
        { "x-uuencode", MIME_ENC_OTHER },
        { "base 64", MIME_ENC_OTHER },
        { "quoted-printablex", MIME_ENC_OTHER },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(mime_encoding_parse(str_from_cstr(cases[i].in)), cases[i].enc);
}

static void test_base64(void)
{
    static const struct dcase cases[] = {
        /* RFC 4648 §10. */
        { "", 0, "", 0 },
        { "Zg==", 0, "f", 0 },
        { "Zm8=", 0, "fo", 0 },
        { "Zm9v", 0, "foo", 0 },
        { "Zm9vYg==", 0, "foob", 0 },
        { "Zm9vYmE=", 0, "fooba", 0 },
        { "Zm9vYmFy", 0, "foobar", 0 },
        /* Line breaks, blanks and junk are skipped. */
        { "Zm9v\r\nYmFy\r\n", 0, "foobar", 0 },
        { " Z m 9 v\tY*m!F-y ", 0, "foobar", 0 },
        /* Missing padding. */
        { "Zm9vYg", 0, "foob", 0 },
        { "Zm9vYmE", 0, "fooba", 0 },
        /* A lone sixth of a byte is dropped. */
        { "Zm9vY", 0, "foo", 0 },
        /* Padding ends a group: concatenated blobs decode. */
        { "Zg==Zm8=Zm9v", 0, "ffofoo", 0 },
        { "Zg=\r\n=\r\nZg==", 0, "ff", 0 },
        { "====", 0, "", 0 },
        /* Binary output. */
        { "AAEC", 0, "\0\1\2", 3 },
        { "/+/+", 0, "\xff\xef\xfe", 0 },
    };
    run(MIME_ENC_BASE64, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_qp(void)
{
    static const struct dcase cases[] = {
        { "plain text", 0, "plain text", 0 },
        { "caf=E9 =3D =3d", 0, "caf\xe9 = =", 0 },
        /* Soft line breaks, CRLF or LF, with blanks a transport added. */
        { "soft=\r\nbreak", 0, "softbreak", 0 },
        { "soft=\nbreak", 0, "softbreak", 0 },
        { "soft= \t\r\nbreak", 0, "softbreak", 0 },
        { "end=", 0, "end", 0 },
        { "end=  ", 0, "end", 0 },
        /* Hard line breaks are kept as they are. */
        { "a\r\nb\nc", 0, "a\r\nb\nc", 0 },
        /* Trailing blanks of a line were added in transport (§6.7 (3)). */
        { "trailing  \r\nnext\t\nlast  ", 0, "trailing\r\nnext\nlast", 0 },
        { "inner  blanks", 0, "inner  blanks", 0 },
        /* Bad escapes stay (§6.7 (1), note). */
        { "=G1 =4 x=", 0, "=G1 =4 x", 0 },
        { "100% =\"", 0, "100% =\"", 0 },
        { "=4", 0, "=4", 0 },
        /* NUL, encoded and raw. */
        { "a=00b", 0, "a\0b", 3 },
        { "a\0b", 3, "a\0b", 3 },
        /* mime4j's qp-body.msg. */
        { "7bit content with euro =A4 symbol=20\r\n", 0, "7bit content with euro \xa4 symbol \r\n",
          0 },
    };
    run(MIME_ENC_QP, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_passthrough(void)
{
    static const struct dcase cases[] = {
        { "=E9 Zm9v", 0, "=E9 Zm9v", 0 },
        { "a\0b", 3, "a\0b", 3 },
    };
    run(MIME_ENC_7BIT, cases, 2);
    run(MIME_ENC_8BIT, cases, 2);
    run(MIME_ENC_BINARY, cases, 2);
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(mime_decode_body(MIME_ENC_OTHER, STR_LIT("begin 644 x"), &b, NULL), -2);
    CHECK_INT(b.len, 0);
    buf_free(&b);
}

static void test_cap(void)
{
    /* Over the cap: -1, and out holds the longest prefix that fits. */
    struct buf big;
    buf_init(&big, 0);
    for (int i = 0; i < 5000; i++)
        buf_append_cstr(&big, "Zm9vYmFy");
    const size_t caps[] = { 0, 1, 5, 4095, 4096, 4097, 10000, 29999, 30000 };
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        struct buf b;
        buf_init(&b, caps[i] ? caps[i] : 1);
        if (caps[i] == 0)
            b.max = 1, buf_append_char(&b, 'x'); /* already full */
        int r = mime_decode_body(MIME_ENC_BASE64, buf_str(&big), &b, NULL);
        size_t want = caps[i] ? caps[i] : 1;
        CHECK_INT(r, caps[i] == 30000 ? 0 : -1);
        CHECK_INT(b.len, want);
        if (caps[i] > 6)
            CHECK(memcmp(b.p, "foobarfoo", 6) == 0);
        buf_free(&b);
    }
    struct buf b;
    buf_init(&b, 3);
    CHECK_INT(mime_decode_body(MIME_ENC_8BIT, STR_LIT("abcdef"), &b, NULL), -1);
    CHECK_INT(b.len, 3);
    buf_free(&b);
    buf_init(&b, 3);
    CHECK_INT(mime_decode_body(MIME_ENC_QP, STR_LIT("a=3Db=3Dc"), &b, NULL), -1);
    CHECK_STR(buf_cstr(&b), "a=b");
    buf_free(&b);
    buf_free(&big);
}

static void test_internal_base64(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(mime_base64_decode(STR_LIT("Zm9v YmFy"), &b), 0);
    CHECK_STR(buf_cstr(&b), "foobar");
    buf_free(&b);
    buf_init(&b, 2);
    CHECK_INT(mime_base64_decode(STR_LIT("Zm9v"), &b), -1);
    CHECK_STR(buf_cstr(&b), "fo");
    buf_free(&b);
}

int main(void)
{
    RUN(test_encoding_names);
    RUN(test_base64);
    RUN(test_qp);
    RUN(test_passthrough);
    RUN(test_cap);
    RUN(test_internal_base64);
    return TEST_DONE();
}
