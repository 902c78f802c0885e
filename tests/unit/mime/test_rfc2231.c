/*
 * Unit tests for mime/rfc2231.c: Content-Type and Content-Disposition values
 * and their parameters, with RFC 2231's own examples first.
 */
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

static const char *cstr(struct arena *a, struct str s)
{
    return s.p ? arena_strndup(a, s.p, s.len) : "(null)";
}

/* Each case: a Content-Type value, the type and subtype expected ("" when
 * invalid), then up to four name=value pairs ("name", "value", "lang"). */
static const struct {
    const char *in, *type, *subtype;
    const char *p[4][3];
} cases[] = {
    /* RFC 2231 §3: continuations. */
    { "message/external-body; access-type=URL;\r\n"
      " URL*0=\"ftp://\";\r\n"
      " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
      "message", "external-body",
      { { "access-type", "URL", NULL },
        { "URL", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar", NULL } } },
    /* RFC 2231 §4: charset and language. */
    { "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
      "application", "x-stuff", { { "title", "This is ***fun***", "en-us" } } },
    /* RFC 2231 §4.1: both together (as printed, without the semicolons the
     * erratum adds: a parameter with a forgotten ';' still counts). */
    { "application/x-stuff\r\n"
      " title*0*=us-ascii'en'This%20is%20even%20more%20\r\n"
      " title*1*=%2A%2A%2Afun%2A%2A%2A%20\r\n"
      " title*2=\"isn't it!\"",
      "application", "x-stuff", { { "title", "This is even more ***fun*** isn't it!", "en" } } },
    /* ... and with them. */
    { "application/x-stuff;\r\n"
      " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
      " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
      " title*2=\"isn't it!\"",
      "application", "x-stuff", { { "title", "This is even more ***fun*** isn't it!", "en" } } },
    /* Sections out of order, a repeated one (the first counts). */
    { "text/plain; name*1=\"b\"; name*0=\"a\"; name*2=c; name*1=x", "text", "plain",
      { { "name", "abc", NULL } } },
    /* A charset converted to UTF-8; an empty language. */
    { "text/plain; name*=iso-8859-1''caf%E9.txt", "text", "plain",
      { { "name", "caf\xc3\xa9.txt", "" } } },
    { "application/pdf; filename*0*=utf-8''%E2%82; filename*1*=%AC.pdf", "application", "pdf",
      { { "filename", "\xe2\x82\xac.pdf", "" } } },
    /* name*= beats name=, whichever comes first. */
    { "application/pdf; name=\"fallback.pdf\"; name*=utf-8''real.pdf", "application", "pdf",
      { { "name", "real.pdf", "" } } },
    /* RFC 2047 in parameter values, quoted or not (real mailers). */
    { "text/plain; charset=\"US-ASCII\"; name==?koi8-r?B?89DJ08/LLmRvYw==?=", "text", "plain",
      { { "charset", "US-ASCII", NULL },
        { "name", "\xd0\xa1\xd0\xbf\xd0\xb8\xd1\x81\xd0\xbe\xd0\xba.doc", NULL } } },
    { "image/png; name=\"=?utf-8?q?caf=C3=A9?= .png\"", "image", "png",
      { { "name", "caf\xc3\xa9 .png", NULL } } },
    /* ... but never in a boundary, which is compared byte for byte. */
    { "multipart/mixed; boundary=\"=?utf-8?q?x?=\"", "multipart", "mixed",
      { { "boundary", "=?utf-8?q?x?=", NULL } } },
    /* Quoted strings: escapes, semicolons, trailing blanks kept. */
    { "multipart/mixed; boundary=\"a\\\"b;c  \"", "multipart", "mixed",
      { { "boundary", "a\"b;c  ", NULL } } },
    /* Comments (RFC 2045 §5.1) anywhere. */
    { "text/plain (Plain text); charset=us-ascii (Plain text)", "text", "plain",
      { { "charset", "us-ascii", NULL } } },
    { "(c) text (c) / (c) html (c) ; (c) charset (c) = (c) utf-8", "text", "html",
      { { "charset", "utf-8", NULL } } },
    /* Blanks around '=', unquoted values with blanks, case kept. */
    { "Text/HTML; Charset = UTF-8 ; name=my file.txt", "Text", "HTML",
      { { "Charset", "UTF-8", NULL }, { "name", "my file.txt", NULL } } },
    /* Junk between parameters is skipped. */
    { "text/plain; junk; ;; =x; a=1; b", "text", "plain", { { "a", "1", NULL } } },
    /* Invalid types: the caller's default, parameters still parsed. */
    { "text; charset=utf-8", "", "", { { "charset", "utf-8", NULL } } },
    { "text/; charset=utf-8", "", "", { { "charset", "utf-8", NULL } } },
    { "; charset=utf-8", "", "", { { "charset", "utf-8", NULL } } },
    { "", "", "", { { NULL } } },
    /* An RFC 2231 value without its charset'language' prefix. */
    { "a/b; t*=no%20quote", "a", "b", { { "t", "no quote", NULL } } },
    /* A bad %-escape stays. */
    { "a/b; t*=utf-8''100%; u*=utf-8''%zz", "a", "b",
      { { "t", "100%", "" }, { "u", "%zz", "" } } },
};

static void test_cases(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str type, subtype;
        struct mime_param *params;
        unsigned n;
        int r = mime_content_type_parse(a, str_from_cstr(cases[i].in), &type, &subtype, &params,
                                         &n);
        int failures = test_failures;
        if (*cases[i].type) {
            CHECK_INT(r, 0);
            CHECK_STR(cstr(a, type), cases[i].type);
            CHECK_STR(cstr(a, subtype), cases[i].subtype);
        } else {
            CHECK_INT(r, -1);
        }
        unsigned want = 0;
        while (want < 4 && cases[i].p[want][0])
            want++;
        CHECK_INT(n, want);
        for (unsigned k = 0; k < want && k < n; k++) {
            CHECK_STR(cstr(a, params[k].name), cases[i].p[k][0]);
            CHECK_STR(cstr(a, params[k].value), cases[i].p[k][1]);
            CHECK_STR(cstr(a, params[k].language), cases[i].p[k][2] ? cases[i].p[k][2] : "(null)");
        }
        if (test_failures != failures)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].in);
    }
    arena_free(a);
}

static void test_disposition(void)
{
    struct arena *a = arena_new(0);
    struct str type;
    struct mime_param *params;
    unsigned n;
    CHECK_INT(mime_content_type_parse(a,
                                      STR_LIT(" attachment; filename=blob.png;\r\n"
                                              "   modification-date=\"Sun, 21 Jun 2008 15:32:18 "
                                              "+0000\";size=10234;"),
                                      &type, NULL, &params, &n),
              0);
    CHECK_STR(cstr(a, type), "attachment");
    CHECK_INT(n, 3);
    CHECK_STR(cstr(a, mime_param_get(params, n, "FILENAME")->value), "blob.png");
    CHECK_STR(cstr(a, mime_param_get(params, n, "modification-date")->value),
              "Sun, 21 Jun 2008 15:32:18 +0000");
    CHECK_STR(cstr(a, mime_param_get(params, n, "size")->value), "10234");
    CHECK(mime_param_get(params, n, "name") == NULL);
    CHECK_INT(mime_content_type_parse(a, STR_NULL, &type, NULL, &params, &n), -1);
    CHECK_INT(n, 0);
    CHECK_INT(mime_content_type_parse(a, STR_LIT("inline"), &type, NULL, &params, &n), 0);
    CHECK_STR(cstr(a, type), "inline");
    CHECK_INT(n, 0);
    arena_free(a);
}

static void test_limits(void)
{
    struct arena *a = arena_new(0);
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "text/plain");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "; p%d=v%d", i, i);
    struct str type, subtype;
    struct mime_param *params;
    unsigned n;
    CHECK_INT(mime_content_type_parse(a, buf_str(&b), &type, &subtype, &params, &n), 0);
    CHECK_INT(n, MIME_MAX_PARAMS);
    CHECK_STR(cstr(a, params[0].value), "v0");

    /* A long continuation joins in order, however the sections are sent. */
    buf_clear(&b);
    buf_append_cstr(&b, "a/b");
    for (int i = 99; i >= 0; i--)
        buf_printf(&b, "; t*%d=%c", i, 'a' + i % 26);
    CHECK_INT(mime_content_type_parse(a, buf_str(&b), &type, &subtype, &params, &n), 0);
    CHECK_INT(n, 1);
    CHECK_INT(params[0].value.len, 100);
    CHECK(params[0].value.p[0] == 'a' && params[0].value.p[27] == 'b');

    /* Huge numbers are not sections. */
    CHECK_INT(mime_content_type_parse(a, STR_LIT("a/b; t*99999=x"), &type, &subtype, &params, &n),
              0);
    CHECK_INT(n, 1);
    CHECK_STR(cstr(a, params[0].name), "t*99999");
    buf_free(&b);

    /* A full arena: fewer parameters, no crash. */
    struct arena *tiny = arena_new(64);
    mime_content_type_parse(tiny, STR_LIT("text/plain; a=1; b=2; c=3; d=4; e=5"), &type, &subtype,
                            &params, &n);
    CHECK(n == 0 || params != NULL);
    arena_free(tiny);
    arena_free(a);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_disposition);
    RUN(test_limits);
    return TEST_DONE();
}
