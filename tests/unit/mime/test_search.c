/*
 * Unit tests for mime/search.c: the text the full-text index gets.
 */
#include <string.h>

#include "core/arena.h"
#include "mime/internal.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *A;

static const char *text_of(const char *m, size_t cap, int *rc)
{
    struct str msg = str_from_cstr(m);
    const struct mime_part *r = mime_parse(A, msg, NULL);
    struct buf b;
    buf_init(&b, cap);
    *rc = mime_search_text(A, msg, r, &b);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static bool has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static const char message[] =
    "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\r\n"
    "To: Mary Smith <mary@example.net>, Team: bob@example.org;\r\n"
    "Cc: carol@example.com\r\n"
    "Bcc: secret@example.com\r\n"
    "Subject: =?utf-8?q?R=C3=A9union?= tomorrow\r\n"
    "X-Other: not indexed\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    "preamble is not indexed\r\n"
    "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
    "--c\r\nContent-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "0NLJ18XU\r\n"
    "--c\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<html><head><style>p { color: red }</style><script>var secret = 1;</script></head>"
    "<body><p>Caf=E9 &amp; cr&#232;me &#x20AC;5 &lt;ok&gt; &bogus;</p><!-- hidden -->"
    "<br>next<b>line</b></body></html>\r\n"
    "--c--\r\n"
    "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "aW1hZ2UgYnl0ZXM=\r\n"
    "--b\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: forwarded subject\r\nFrom: dave@example.net\r\n\r\n"
    "forwarded body\r\n"
    "--b--\r\nepilogue is not indexed\r\n";

static void test_content(void)
{
    int rc;
    const char *t = text_of(message, 0, &rc);
    CHECK_INT(rc, 0);
    CHECK(has(t, "R\xc3\xa9union tomorrow"));
    CHECK(has(t, "Keld J\xc3\xb8rn Simonsen keld@dkuug.dk"));
    CHECK(has(t, "Mary Smith mary@example.net"));
    CHECK(has(t, "Team bob@example.org"));
    CHECK(has(t, "carol@example.com"));
    CHECK(!has(t, "secret@example.com")); /* Bcc stays out */
    CHECK(!has(t, "not indexed"));
    CHECK(has(t, "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82")); /* привет */
    CHECK(has(t, "Caf\xc3\xa9 & cr\xc3\xa8me \xe2\x82\xac" "5 <ok> &bogus;"));
    CHECK(has(t, "next line"));
    CHECK(!has(t, "color"));
    CHECK(!has(t, "var secret"));
    CHECK(!has(t, "hidden"));
    CHECK(!has(t, "<p>"));
    CHECK(!has(t, "image bytes"));
    CHECK(has(t, "forwarded subject"));
    CHECK(has(t, "dave@example.net"));
    CHECK(has(t, "forwarded body"));
    CHECK(mime_utf8_valid(str_from_cstr(t)));
}

static void test_raw_8bit(void)
{
    int rc;
    /* Undeclared 8-bit text and headers still become valid UTF-8. */
    const char *t = text_of("Subject: caf\xe9\r\n\r\ncr\xe8me \xc3\xa9t\xc3\xa9\r\n", 0, &rc);
    CHECK(has(t, "caf\xc3\xa9"));
    CHECK(has(t, "cr\xc3\xa8me \xc3\xa9t\xc3\xa9"));
    CHECK(mime_utf8_valid(str_from_cstr(t)));
    /* A body in an unknown transfer encoding is indexed as it is. */
    t = text_of("Content-Transfer-Encoding: x-weird\r\n\r\nraw words\r\n", 0, &rc);
    CHECK(has(t, "raw words"));
}

static void test_cap(void)
{
    int rc;
    const char *full = text_of(message, 0, &rc);
    size_t n = strlen(full);
    for (size_t cap = 1; cap < n + 10; cap += 3) {
        const char *t = text_of(message, cap, &rc);
        CHECK(strlen(t) <= cap);
        CHECK_INT(rc, cap >= n ? 0 : -1);
        /* Never cut inside a character. */
        CHECK(mime_utf8_valid(str_from_cstr(t)));
        CHECK(strncmp(t, full, strlen(t)) == 0 || cap < n);
    }
}

static void test_foreign_tree(void)
{
    /* A tree whose ranges do not fit the message given: no reads outside. */
    const struct mime_part *r = mime_parse(A, STR_LIT("Subject: x\r\n\r\nlong enough body\r\n"),
                                           NULL);
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(mime_search_text(A, STR_LIT("short"), r, &b), 0);
    CHECK(!has(buf_cstr(&b), "body"));
    CHECK_INT(mime_search_text(A, STR_NULL, r, &b), 0);
    buf_free(&b);
}

int main(void)
{
    A = arena_new(0);
    RUN(test_content);
    RUN(test_raw_8bit);
    RUN(test_cap);
    RUN(test_foreign_tree);
    arena_free(A);
    return TEST_DONE();
}
