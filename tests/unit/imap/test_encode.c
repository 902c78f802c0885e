/*
 * Unit tests for imap/encode.c: strings, ENVELOPE, BODY, BODYSTRUCTURE and
 * INTERNALDATE (RFC 9051 §7.5.2, RFC 3501 §7.4.2), from messages parsed
 * with mime_parse, compared with exact expected output. The examples of
 * RFC 3501 §7.4.2 (RFC 9051 §7.5.2 repeats them) come first.
 *
 * Where Dovecot 2.3 (the independent check, see test_like_dovecot) answers
 * differently, on purpose:
 *  - it adds ("charset" "us-ascii") to every text/ part without a charset;
 *    we add ("CHARSET" "US-ASCII") to text/plain only (encode.h says why);
 *  - it counts a body's lines as its LF bytes; mime.h counts a last line
 *    without one too;
 *  - it sends "MISSING_DOMAIN" as the host of an address without one; we
 *    send "" (mime.h);
 *  - it keeps RFC 2231 and RFC 2047 parameter values as written; we decode
 *    them (RFC 9051 §7.5.2), and re-encode 8-bit values in RFC 2231 form for
 *    clients without UTF-8.
 *
 * This file also includes the fuzz target (tests/fuzz/fuzz_imap_encode.c)
 * and runs it, with its grammar checker, over the seed corpus and the
 * mime4j messages.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_imap_encode.c"
#include "core/arena.h"
#include "imap/encode.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *A;

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    struct buf b;
    buf_init(&b, 0);
    va_list ap;
    va_start(ap, f);
    buf_vprintf(&b, f, ap);
    va_end(ap);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

enum what { ENVELOPE, BODY, BODYSTRUCTURE };

/* The output for a message, as a C string (the tests have no NULs). */
static const char *enc_lim(const char *msg, enum what what, bool utf8,
                           const struct mime_limits *lim)
{
    struct mime_part *r = mime_parse(A, str_from_cstr(msg), lim);
    struct buf b;
    buf_init(&b, 0);
    int rc = what == ENVELOPE ? imap_write_envelope(&b, r->envelope, utf8)
             : what == BODY   ? imap_write_body(&b, r, utf8)
                              : imap_write_bodystructure(&b, r, utf8);
    CHECK_INT(rc, 0);
    /* Whatever it is, the grammar checker must accept it. */
    struct chk c = chk_begin(buf_str(&b), utf8);
    if (what == ENVELOPE)
        chk_envelope(&c);
    else
        chk_body(&c, what == BODYSTRUCTURE);
    CHECK(c.p == c.end);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static const char *enc(const char *msg, enum what what, bool utf8)
{
    return enc_lim(msg, what, utf8, NULL);
}

/* A body of exactly `bytes` octets and `lines` lines, CRLF line ends; the
 * last line has none when it is followed by a boundary (whose CRLF it is). */
static void fill(struct buf *b, size_t bytes, size_t lines, bool last_eol)
{
    size_t eols = last_eol ? lines : lines - 1;
    size_t text = bytes - 2 * eols;
    for (size_t i = 0; i < lines; i++) {
        size_t n = text / lines + (i < text % lines);
        for (size_t k = 0; k < n; k++)
            buf_append_char(b, (char)('a' + (i + k) % 26));
        if (i < eols)
            buf_append(b, "\r\n", 2);
    }
}

/* ---- RFC examples ---- */

static void test_rfc_single_part(void)
{
    /* RFC 3501 §7.4.2's FETCH example: ENVELOPE, BODY, INTERNALDATE. */
    struct buf m;
    buf_init(&m, 0);
    buf_append_cstr(&m, "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
                        "From: Terry Gray <gray@cac.washington.edu>\r\n"
                        "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
                        "To: imap@cac.washington.edu\r\n"
                        "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
                        "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
                        "\r\n");
    fill(&m, 3028, 92, true);
    const char *msg = arena_strdup(A, buf_cstr(&m));
    buf_free(&m);
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
              "\"IMAP4rev1 WG mtg summary and minutes\" "
              "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
              "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
              "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
              "((NIL NIL \"imap\" \"cac.washington.edu\")) "
              "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
              "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
              "\"<B27397-0100000@cac.washington.edu>\")");
    CHECK_STR(enc(msg, BODY, false),
              "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
    CHECK_STR(enc(msg, BODYSTRUCTURE, true),
              "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 "
              "NIL NIL NIL NIL)");
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(imap_write_internaldate(&b, 837596665, -7 * 60), 0);
    CHECK_STR(buf_cstr(&b), "\"17-Jul-1996 02:44:25 -0700\"");
    buf_free(&b);
}

static void test_rfc_multipart(void)
{
    /* RFC 3501 §7.4.2's multipart BODY example. */
    struct buf m;
    buf_init(&m, 0);
    buf_append_cstr(&m, "From: a@example.test\r\n"
                        "MIME-Version: 1.0\r\n"
                        "Content-Type: MULTIPART/MIXED; BOUNDARY=\"xyz\"\r\n"
                        "\r\n"
                        "--xyz\r\n"
                        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
                        "\r\n");
    fill(&m, 1152, 23, false);
    buf_append_cstr(&m, "\r\n--xyz\r\n"
                        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\r\n"
                        "Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
                        "Content-Description: Compiler diff\r\n"
                        "Content-Transfer-Encoding: BASE64\r\n"
                        "\r\n");
    fill(&m, 4554, 73, false);
    buf_append_cstr(&m, "\r\n--xyz--\r\n");
    const char *msg = arena_strdup(A, buf_cstr(&m));
    buf_free(&m);
    CHECK_STR(enc(msg, BODY, false),
              "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
              "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
              "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 "
              "73) \"MIXED\")");
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 "
              "NIL NIL NIL NIL)"
              "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
              "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 "
              "73 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"xyz\") NIL NIL NIL)");
}

/* ---- Common shapes ---- */

static void test_alternative(void)
{
    const char *msg = "From: a@example.test\r\n"
                      "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
                      "\r\n"
                      "--alt\r\n"
                      "Content-Type: text/plain; charset=\"utf-8\"\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n"
                      "caf=C3=A9\r\n"
                      "--alt\r\n"
                      "Content-Type: text/html; charset=utf-8\r\n"
                      "\r\n"
                      "<p>caf&eacute;</p>\r\n"
                      "--alt--\r\n";
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1 "
              "NIL NIL NIL NIL)"
              "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 18 1 NIL NIL NIL NIL) "
              "\"alternative\" (\"boundary\" \"alt\") NIL NIL NIL)");
    CHECK_STR(enc(msg, BODY, false),
              "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1)"
              "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 18 1) "
              "\"alternative\")");
}

static void test_attachment(void)
{
    const char *msg = "From: a@example.test\r\n"
                      "Content-Type: multipart/mixed; boundary=mix\r\n"
                      "\r\n"
                      "--mix\r\n"
                      "Content-Type: text/plain; format=flowed\r\n"
                      "\r\n"
                      "Hi\r\n"
                      "--mix\r\n"
                      "Content-Type: application/pdf; name*=utf-8''%E2%82%AC%20rates.pdf\r\n"
                      "Content-Disposition: attachment;\r\n"
                      " filename*0*=utf-8'en'%E2%82%AC%20;\r\n"
                      " filename*1=\"rates.pdf\"; size=1234\r\n"
                      "Content-Transfer-Encoding: base64\r\n"
                      "Content-Language: en, fr\r\n"
                      "Content-Location: http://example.test/rates.pdf\r\n"
                      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
                      "\r\n"
                      "JVBERi0=\r\n"
                      "--mix--\r\n";
    /* Without UTF-8, the decoded values go back to RFC 2231 form. */
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "((\"text\" \"plain\" (\"format\" \"flowed\" \"CHARSET\" \"US-ASCII\") NIL NIL "
              "\"7BIT\" 2 1 NIL NIL NIL NIL)"
              "(\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL "
              "\"BASE64\" 8 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename*\" "
              "\"utf-8'en'%E2%82%AC%20rates.pdf\" \"size\" \"1234\")) (\"en\" \"fr\") "
              "\"http://example.test/rates.pdf\") "
              "\"mixed\" (\"boundary\" \"mix\") NIL NIL NIL)");
    /* With it, as UTF-8 in quoted strings. */
    CHECK_STR(enc(msg, BODYSTRUCTURE, true),
              "((\"text\" \"plain\" (\"format\" \"flowed\" \"CHARSET\" \"US-ASCII\") NIL NIL "
              "\"7BIT\" 2 1 NIL NIL NIL NIL)"
              "(\"application\" \"pdf\" (\"name\" \"\xE2\x82\xAC rates.pdf\") NIL NIL "
              "\"BASE64\" 8 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" (\"filename\" "
              "\"\xE2\x82\xAC rates.pdf\" \"size\" \"1234\")) (\"en\" \"fr\") "
              "\"http://example.test/rates.pdf\") "
              "\"mixed\" (\"boundary\" \"mix\") NIL NIL NIL)");
    /* BODY has no extension data at any level. */
    CHECK_STR(enc(msg, BODY, false),
              "((\"text\" \"plain\" (\"format\" \"flowed\" \"CHARSET\" \"US-ASCII\") NIL NIL "
              "\"7BIT\" 2 1)"
              "(\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20rates.pdf\") NIL NIL "
              "\"BASE64\" 8) \"mixed\")");
}

#define INNER                                                                   \
    "From: Inner Person <inner@example.test>\r\n"                               \
    "To: someone@example.test\r\n"                                             \
    "Subject: inner\r\n"                                                        \
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"                                  \
    "Message-ID: <inner@example.test>\r\n"                                      \
    "Content-Type: multipart/alternative; boundary=i\r\n"                       \
    "\r\n"                                                                      \
    "--i\r\n"                                                                   \
    "Content-Type: text/plain\r\n"                                              \
    "\r\n"                                                                      \
    "a\r\n"                                                                     \
    "--i\r\n"                                                                   \
    "Content-Type: text/html\r\n"                                               \
    "\r\n"                                                                      \
    "<b>a</b>\r\n"                                                              \
    "--i--"

#define INNER_ENVELOPE                                                                           \
    "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"inner\" "                                             \
    "((\"Inner Person\" NIL \"inner\" \"example.test\")) "                                       \
    "((\"Inner Person\" NIL \"inner\" \"example.test\")) "                                       \
    "((\"Inner Person\" NIL \"inner\" \"example.test\")) "                                       \
    "((NIL NIL \"someone\" \"example.test\")) NIL NIL NIL \"<inner@example.test>\")"

static size_t lines_of(const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len && s[len - 1] != '\n');
}

static void test_message_rfc822(void)
{
    const char *msg = "From: outer@example.test\r\n"
                      "Subject: fwd\r\n"
                      "Content-Type: multipart/mixed; boundary=o\r\n"
                      "\r\n"
                      "--o\r\n"
                      "Content-Type: text/plain\r\n"
                      "\r\n"
                      "see attached\r\n"
                      "--o\r\n"
                      "Content-Type: message/rfc822\r\n"
                      "Content-Description: the original\r\n"
                      "\r\n" INNER "\r\n"
                      "--o--\r\n";
    size_t len = strlen(INNER), lines = lines_of(INNER);
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              fmt("((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1 "
                  "NIL NIL NIL NIL)"
                  "(\"message\" \"rfc822\" NIL NIL \"the original\" \"7BIT\" %zu " INNER_ENVELOPE
                  " ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 1 "
                  "NIL NIL NIL NIL)"
                  "(\"text\" \"html\" NIL NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL) "
                  "\"alternative\" (\"boundary\" \"i\") NIL NIL NIL) %zu NIL NIL NIL NIL) "
                  "\"mixed\" (\"boundary\" \"o\") NIL NIL NIL)",
                  len, lines));
    CHECK_STR(enc(msg, BODY, false),
              fmt("((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 1)"
                  "(\"message\" \"rfc822\" NIL NIL \"the original\" \"7BIT\" %zu " INNER_ENVELOPE
                  " ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 1)"
                  "(\"text\" \"html\" NIL NIL NIL \"7BIT\" 8 1) \"alternative\") %zu) "
                  "\"mixed\")",
                  len, lines));
    /* The outer envelope: Sender and Reply-To fall back to From. */
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(NIL \"fwd\" ((NIL NIL \"outer\" \"example.test\")) "
              "((NIL NIL \"outer\" \"example.test\")) ((NIL NIL \"outer\" \"example.test\")) "
              "NIL NIL NIL NIL NIL)");

    /* A message/rfc822 directly as the body of a message. */
    const char *msg2 = "Content-Type: message/rfc822\r\n\r\n" INNER;
    CHECK_STR(enc(msg2, BODY, false),
              fmt("(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" %zu " INNER_ENVELOPE
                  " ((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 1)"
                  "(\"text\" \"html\" NIL NIL NIL \"7BIT\" 8 1) \"alternative\") %zu)",
                  len, lines));
}

static void test_message_rfc822_leaf(void)
{
    /* In base64 (RFC 2046 allows only 7bit, 8bit, binary) the encapsulated
     * message is not parsed. body-type-basic must not be MESSAGE/RFC822, so
     * an empty envelope and an empty body stand in, as Dovecot does. */
    const char *msg = "Content-Type: message/rfc822\r\n"
                      "Content-Transfer-Encoding: base64\r\n"
                      "\r\n"
                      "U3ViamVjdDogeA0KDQpoaQ0K\r\n";
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "(\"message\" \"rfc822\" NIL NIL NIL \"BASE64\" 26 "
              "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
              "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
              "NIL NIL NIL NIL) 1 NIL NIL NIL NIL)");
    CHECK_STR(enc(msg, BODY, false),
              "(\"message\" \"rfc822\" NIL NIL NIL \"BASE64\" 26 "
              "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
              "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) 1)");
    /* Past the depth limit: the same. */
    struct mime_limits lim = { .max_depth = 0, .max_parts = 10 };
    CHECK_STR(enc_lim("Content-Type: Message/RFC822\r\n\r\nSubject: x\r\n\r\nhi\r\n", BODY,
                      false, &lim),
              "(\"Message\" \"RFC822\" NIL NIL NIL \"7BIT\" 18 "
              "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
              "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) 3)");
    /* A multipart past a limit is a basic body of its type. */
    CHECK_STR(enc_lim("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
                      BODYSTRUCTURE, false, &lim),
              "(\"multipart\" \"mixed\" (\"boundary\" \"b\") NIL NIL \"7BIT\" 17 "
              "NIL NIL NIL NIL)");
}

static void test_message_global(void)
{
    const char *msg = "Content-Type: message/global\r\n"
                      "\r\n"
                      "Subject: gr\xC3\xBC\xC3\x9F\x65\r\n"
                      "\r\n"
                      "x\r\n";
    /* IMAP4rev2 and UTF8=ACCEPT: body-type-msg, with UTF-8 quoted. */
    CHECK_STR(enc(msg, BODY, true),
              "(\"message\" \"global\" NIL NIL NIL \"7BIT\" 23 "
              "(NIL \"gr\xC3\xBC\xC3\x9F\x65\" NIL NIL NIL NIL NIL NIL NIL NIL) "
              "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 1) 3)");
    /* IMAP4rev1: media-message is only RFC822, so a basic body. */
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "(\"message\" \"global\" NIL NIL NIL \"7BIT\" 23 NIL NIL NIL NIL)");
}

static void test_groups(void)
{
    const char *msg =
        "From: <@a.test,@b.test:joe@c.test>\r\n"
        "Sender: Secretary <sec@example.test>\r\n"
        "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, "
        "Mary Smith <mary@x.test>\r\n"
        "Cc: undisclosed-recipients:;\r\n"
        "Bcc: localonly, (comment only)\r\n"
        "In-Reply-To: <parent@example.test>\r\n"
        "\r\n";
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(NIL NIL ((NIL \"@a.test,@b.test\" \"joe\" \"c.test\")) "
              "((\"Secretary\" NIL \"sec\" \"example.test\")) "
              "((NIL \"@a.test,@b.test\" \"joe\" \"c.test\")) "
              "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
              "(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")"
              "(NIL NIL NIL NIL)(\"Mary Smith\" NIL \"mary\" \"x.test\")) "
              "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
              "((NIL NIL \"localonly\" \"\")) \"<parent@example.test>\" NIL)");
}

static void test_groups_unbalanced(void)
{
    /* A list that does not come from the parser (a damaged blob could not
     * pass mime_deserialize, but the writer does not rely on that). */
    struct mime_address v[] = {
        { .kind = MIME_ADDR_GROUP_END },
        { .kind = MIME_ADDR_GROUP_START, .name_raw = STR_LIT("g1") },
        { .kind = MIME_ADDR_GROUP_START, .name_raw = STR_LIT("g2") },
        { .kind = MIME_ADDR_MAILBOX, .mailbox = STR_LIT("m") },
    };
    struct mime_envelope env = { .to = { v, 4 }, .cc = { v, 1 } };
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(imap_write_envelope(&b, &env, false), 0);
    CHECK_STR(buf_cstr(&b), "(NIL NIL NIL NIL NIL "
                            "((NIL NIL \"g1\" NIL)(NIL NIL NIL NIL)(NIL NIL \"g2\" NIL)"
                            "(NIL NIL \"m\" \"\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
    buf_clear(&b);
    CHECK_INT(imap_write_envelope(&b, NULL, false), 0);
    CHECK_STR(buf_cstr(&b), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    buf_free(&b);
}

static void test_encoded_words(void)
{
    const char *msg = "Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=\r\n"
                      "From: =?iso-8859-1?q?Andr=E9?= <andre@x.test>\r\n"
                      "Content-Type: text/plain; name=\"=?utf-8?q?caf=C3=A9.txt?=\"\r\n"
                      "Content-Description: =?utf-8?q?r=C3=A9sum=C3=A9?=\r\n"
                      "\r\n"
                      "x";
    /* Header values as written, encoded words and all. */
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(NIL \"=?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=\" "
              "((\"=?iso-8859-1?q?Andr=E9?=\" NIL \"andre\" \"x.test\")) "
              "((\"=?iso-8859-1?q?Andr=E9?=\" NIL \"andre\" \"x.test\")) "
              "((\"=?iso-8859-1?q?Andr=E9?=\" NIL \"andre\" \"x.test\")) NIL NIL NIL NIL NIL)");
    /* The parameter was decoded by mime_parse (RFC 2047 inside quotes, as
     * mailers write it); without UTF-8 it goes out in RFC 2231 form. */
    CHECK_STR(enc(msg, BODY, false),
              "(\"text\" \"plain\" (\"name*\" \"utf-8''caf%C3%A9.txt\" \"CHARSET\" \"US-ASCII\") "
              "NIL \"=?utf-8?q?r=C3=A9sum=C3=A9?=\" \"7BIT\" 1 1)");
    CHECK_STR(enc(msg, BODY, true),
              "(\"text\" \"plain\" (\"name\" \"caf\xC3\xA9.txt\" \"CHARSET\" \"US-ASCII\") "
              "NIL \"=?utf-8?q?r=C3=A9sum=C3=A9?=\" \"7BIT\" 1 1)");
}

static void test_8bit_headers(void)
{
    const char *msg = "Subject: caf\xC3\xA9\r\n"
                      "From: J\xC3\xB6rg <joerg@x.test>\r\n"
                      "To: latin <caf\xE9@x.test>\r\n"
                      "Message-ID: <caf\xE9@x>\r\n"
                      "\r\n";
    /* With UTF-8 permission: quoted when valid UTF-8, a literal otherwise. */
    CHECK_STR(enc(msg, ENVELOPE, true),
              "(NIL \"caf\xC3\xA9\" ((\"J\xC3\xB6rg\" NIL \"joerg\" \"x.test\")) "
              "((\"J\xC3\xB6rg\" NIL \"joerg\" \"x.test\")) "
              "((\"J\xC3\xB6rg\" NIL \"joerg\" \"x.test\")) "
              "((\"latin\" NIL {4}\r\ncaf\xE9 \"x.test\")) NIL NIL NIL {8}\r\n<caf\xE9@x>)");
    /* Without: every 8-bit value is a literal. */
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(NIL {5}\r\ncaf\xC3\xA9 (({5}\r\nJ\xC3\xB6rg NIL \"joerg\" \"x.test\")) "
              "(({5}\r\nJ\xC3\xB6rg NIL \"joerg\" \"x.test\")) "
              "(({5}\r\nJ\xC3\xB6rg NIL \"joerg\" \"x.test\")) "
              "((\"latin\" NIL {4}\r\ncaf\xE9 \"x.test\")) NIL NIL NIL {8}\r\n<caf\xE9@x>)");
    /* An 8-bit parameter value that is not UTF-8 stays as written. */
    CHECK_STR(enc("Content-Type: text/plain; charset=x; name=\"caf\xE9\"\r\n\r\n", BODY, false),
              "(\"text\" \"plain\" (\"charset\" \"x\" \"name\" {4}\r\ncaf\xE9) NIL NIL \"7BIT\" 0 "
              "0)");
}

static void test_quotes_and_backslashes(void)
{
    const char *msg = "Subject: He said \"hi\" \\o/\r\n"
                      "From: \"Doe, \\\"JD\\\" John\" <jd@x.test>\r\n"
                      "Content-Type: text/plain; name=\"a\\\\b \\\"c\\\".txt\"\r\n"
                      "Content-Description: \"quoted\" \\ text\r\n"
                      "\r\n";
    CHECK_STR(enc(msg, ENVELOPE, false),
              "(NIL \"He said \\\"hi\\\" \\\\o/\" "
              "((\"Doe, \\\"JD\\\" John\" NIL \"jd\" \"x.test\")) "
              "((\"Doe, \\\"JD\\\" John\" NIL \"jd\" \"x.test\")) "
              "((\"Doe, \\\"JD\\\" John\" NIL \"jd\" \"x.test\")) NIL NIL NIL NIL NIL)");
    CHECK_STR(enc(msg, BODY, false),
              "(\"text\" \"plain\" (\"name\" \"a\\\\b \\\"c\\\".txt\" \"CHARSET\" \"US-ASCII\") "
              "NIL \"\\\"quoted\\\" \\\\ text\" \"7BIT\" 0 0)");
}

static void test_empty_multipart(void)
{
    /* No boundary parameter. */
    CHECK_STR(enc("Content-Type: multipart/mixed\r\n\r\nno parts here\r\n", BODYSTRUCTURE, false),
              "((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 "
              "NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)");
    /* A boundary that never comes; and BODY. */
    CHECK_STR(enc("Content-Type: multipart/related; boundary=zz\r\n\r\nnothing\r\n", BODY, false),
              "((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) "
              "\"related\")");
    /* An empty multipart inside another. */
    CHECK_STR(enc("Content-Type: multipart/mixed; boundary=a\r\n\r\n"
                  "--a\r\nContent-Type: multipart/alternative\r\n\r\n--a--\r\n",
                  BODY, false),
              "(((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) "
              "\"alternative\") \"mixed\")");
}

static void test_default_type(void)
{
    /* No Content-Type: text/plain; charset=us-ascii (RFC 2045 §5.2). */
    CHECK_STR(enc("Subject: x\r\n\r\nhello\r\n", BODYSTRUCTURE, false),
              "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 7 1 "
              "NIL NIL NIL NIL)");
    /* An invalid one: the same, with the parameters it had. */
    CHECK_STR(enc("Content-Type: garbage; charset=utf-8\r\n\r\nx\r\n", BODY, false),
              "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 3 1)");
    /* A charset in any case counts; other text/ subtypes get no default. */
    CHECK_STR(enc("Content-Type: Text/Plain; CharSet=\"ISO-8859-1\"\r\n\r\n", BODY, false),
              "(\"Text\" \"Plain\" (\"CharSet\" \"ISO-8859-1\") NIL NIL \"7BIT\" 0 0)");
    CHECK_STR(enc("Content-Type: text/calendar; method=REQUEST\r\n\r\nx", BODY, false),
              "(\"text\" \"calendar\" (\"method\" \"REQUEST\") NIL NIL \"7BIT\" 1 1)");
    /* Not text: no line count, no default parameters. */
    CHECK_STR(enc("Content-Type: image/png\r\n\r\nPNG\r\n", BODYSTRUCTURE, false),
              "(\"image\" \"png\" NIL NIL NIL \"7BIT\" 5 NIL NIL NIL NIL)");
}

static void test_encodings_and_extensions(void)
{
    const char *msg = "Content-Type: multipart/mixed; boundary=b\r\n"
                      "Content-Disposition: inline\r\n"
                      "Content-Language: de\r\n"
                      "Content-Location: urn:x\r\n"
                      "\r\n"
                      "--b\r\n"
                      "Content-Type: application/octet-stream\r\n"
                      "Content-Transfer-Encoding: x-uuencode\r\n"
                      "Content-Disposition: ; filename=x.bin\r\n"
                      "\r\n"
                      "begin\r\n"
                      "--b\r\n"
                      "Content-Type: text/plain; charset=us-ascii\r\n"
                      "Content-Transfer-Encoding: Quoted-Printable\r\n"
                      "Content-Disposition: INLINE\r\n"
                      "Content-ID: <id@x>\r\n"
                      "\r\n"
                      "\r\n"
                      "--b\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: 8BIT\r\n"
                      "Content-Disposition: attachment\r\n"
                      "\r\n"
                      "caf\xC3\xA9\r\n\r\n"
                      "--b--\r\n";
    CHECK_STR(enc(msg, BODYSTRUCTURE, false),
              "((\"application\" \"octet-stream\" NIL NIL NIL \"x-uuencode\" 5 NIL "
              "(\"\" (\"filename\" \"x.bin\")) NIL NIL)"
              "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<id@x>\" NIL "
              "\"QUOTED-PRINTABLE\" 0 0 NIL (\"INLINE\" NIL) NIL NIL)"
              "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8BIT\" 7 1 NIL "
              "(\"attachment\" NIL) NIL NIL) "
              "\"mixed\" (\"boundary\" \"b\") (\"inline\" NIL) (\"de\") \"urn:x\")");
}

static void test_deep_nesting(void)
{
    /* 200 nested multiparts, parsed with a limit that allows them. */
    enum { N = 200 };
    struct buf m, want;
    buf_init(&m, 0);
    buf_init(&want, 0);
    for (int i = 0; i < N; i++)
        buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_append_cstr(&m, "\r\nleaf\r\n");
    for (int i = N - 1; i >= 0; i--)
        buf_printf(&m, "--b%d--\r\n", i);
    for (int i = 0; i < N; i++)
        buf_append_char(&want, '(');
    buf_append_cstr(&want, "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 4 1)");
    for (int i = N - 1; i >= 0; i--)
        buf_printf(&want, " \"mixed\")");
    struct mime_limits lim = { .max_depth = MIME_DEPTH_CAP, .max_parts = 5000 };
    CHECK_STR(enc_lim(buf_cstr(&m), BODY, false, &lim), buf_cstr(&want));
    buf_free(&m);
    buf_free(&want);

    /* A tree far deeper than any parse gives, built by hand: the walk is
     * iterative, so depth costs no stack. Alternating multiparts and
     * encapsulated messages. */
    enum { DEEP = 100000 };
    struct mime_part *parts = arena_zalloc(A, (DEEP + 1) * sizeof(*parts));
    struct mime_envelope *env = arena_zalloc(A, sizeof(*env));
    for (int i = 0; i <= DEEP; i++) {
        struct mime_part *p = &parts[i];
        p->parent = i ? &parts[i - 1] : NULL;
        bool message = i % 2 == 1;
        p->type = message ? STR_LIT("message") : STR_LIT("multipart");
        p->subtype = message ? STR_LIT("rfc822") : STR_LIT("mixed");
        p->kind = message ? MIME_KIND_MESSAGE : MIME_KIND_MULTIPART;
        if (i < DEEP) {
            p->children = &parts[i + 1];
            p->n_children = 1;
        }
        if (i && parts[i - 1].kind == MIME_KIND_MESSAGE)
            p->envelope = env;
    }
    parts[DEEP].kind = MIME_KIND_LEAF;
    parts[DEEP].type = STR_LIT("text");
    parts[DEEP].subtype = STR_LIT("plain");
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(imap_write_bodystructure(&b, &parts[0], false), 0);
    size_t open = 0, close = 0;
    for (size_t i = 0; i < b.len; i++) {
        open += b.p[i] == '(';
        close += b.p[i] == ')';
    }
    CHECK(open == close && open > DEEP);
    CHECK(b.len > 0 && b.p[0] == '(' && b.p[1] == '(' && b.p[b.len - 1] == ')');
    buf_free(&b);
}

/* ---- Strings ---- */

static void test_strings(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *rev1, *utf8;
    } cases[] = {
        { "", 0, "\"\"", "\"\"" },
        { "plain", 5, "\"plain\"", "\"plain\"" },
        { "NIL", 3, "\"NIL\"", "\"NIL\"" },
        { "a \"q\" \\", 7, "\"a \\\"q\\\" \\\\\"", "\"a \\\"q\\\" \\\\\"" },
        { "(paren) {3}", 11, "\"(paren) {3}\"", "\"(paren) {3}\"" },
        { "two\r\nlines", 10, "{10}\r\ntwo\r\nlines", "{10}\r\ntwo\r\nlines" },
        { "bare\rcr", 7, "{7}\r\nbare\rcr", "{7}\r\nbare\rcr" },
        { "tab\there", 8, "\"tab\there\"", "\"tab\there\"" },
        { "caf\xC3\xA9", 5, "{5}\r\ncaf\xC3\xA9", "\"caf\xC3\xA9\"" },
        { "\xF0\x9F\x98\x80", 4, "{4}\r\n\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\"" },
        /* Not UTF-8: Latin-1, an overlong '/', a surrogate, past U+10FFFF,
         * a cut sequence. */
        { "caf\xE9", 4, "{4}\r\ncaf\xE9", "{4}\r\ncaf\xE9" },
        { "\xC0\xAF", 2, "{2}\r\n\xC0\xAF", "{2}\r\n\xC0\xAF" },
        { "\xED\xA0\x80", 3, "{3}\r\n\xED\xA0\x80", "{3}\r\n\xED\xA0\x80" },
        { "\xF4\x90\x80\x80", 4, "{4}\r\n\xF4\x90\x80\x80", "{4}\r\n\xF4\x90\x80\x80" },
        { "x\xE2\x82", 3, "{3}\r\nx\xE2\x82", "{3}\r\nx\xE2\x82" },
        /* NULs cannot be sent: dropped. */
        { "a\0b", 3, "\"ab\"", "\"ab\"" },
        { "a\0\n", 3, "{2}\r\na\n", "{2}\r\na\n" },
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str s = { cases[i].in, cases[i].len };
        for (int utf8 = 0; utf8 < 2; utf8++) {
            buf_clear(&b);
            CHECK_INT(imap_write_string(&b, s, utf8), 0);
            const char *want = utf8 ? cases[i].utf8 : cases[i].rev1;
            if (strcmp(buf_cstr(&b), want) != 0)
                fprintf(stderr, "  case %zu utf8=%d: got \"%s\"\n", i, utf8, buf_cstr(&b));
            CHECK_STR(buf_cstr(&b), want);
        }
    }
    buf_clear(&b);
    CHECK_INT(imap_write_nstring(&b, STR_NULL, false), 0);
    CHECK_INT(imap_write_string(&b, STR_NULL, false), 0);
    CHECK_INT(imap_write_nstring(&b, STR_LIT(""), false), 0);
    CHECK_INT(imap_write_literal(&b, STR_LIT("x\0y")), 0);
    CHECK_STR(buf_cstr(&b), "NIL\"\"\"\"{2}\r\nxy");
    /* literal8 keeps every byte. */
    buf_clear(&b);
    CHECK_INT(imap_write_literal8(&b, (struct str){ "a\0\r\n", 4 }), 0);
    CHECK_INT(b.len, 10);
    CHECK(memcmp(b.p, "~{4}\r\na\0\r\n", 10) == 0);
    buf_clear(&b);
    CHECK_INT(imap_write_literal8_prefix(&b, 18446744073709551615ULL), 0);
    CHECK_STR(buf_cstr(&b), "~{18446744073709551615}\r\n");
    buf_free(&b);
}

static void test_cap(void)
{
    const char *msg = "From: a@example.test\r\nSubject: something long enough\r\n"
                      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n";
    struct mime_part *r = mime_parse(A, str_from_cstr(msg), NULL);
    struct buf full;
    buf_init(&full, 0);
    CHECK_INT(imap_write_bodystructure(&full, r, false), 0);
    struct buf env;
    buf_init(&env, 0);
    CHECK_INT(imap_write_envelope(&env, r->envelope, false), 0);
    /* Every cap short of the whole fails and leaves the buffer as it was. */
    for (size_t cap = 2; cap < 2 + full.len; cap++) {
        struct buf b;
        buf_init(&b, cap);
        buf_append_cstr(&b, "* ");
        CHECK_INT(imap_write_bodystructure(&b, r, false), -1);
        if (cap < 2 + env.len)
            CHECK_INT(imap_write_envelope(&b, r->envelope, false), -1);
        CHECK_STR(buf_cstr(&b), "* ");
        buf_free(&b);
    }
    buf_free(&env);
    struct buf b;
    buf_init(&b, 2 + full.len);
    buf_append_cstr(&b, "* ");
    CHECK_INT(imap_write_bodystructure(&b, r, false), 0);
    CHECK_STR(buf_cstr(&b) + 2, buf_cstr(&full));
    /* Full now: even the smallest string fails. */
    CHECK_INT(imap_write_string(&b, STR_LIT(""), false), -1);
    CHECK_INT(imap_write_literal8(&b, STR_LIT("x")), -1);
    CHECK_INT(imap_write_internaldate(&b, 0, 0), -1);
    CHECK_INT(b.len, 2 + full.len);
    buf_free(&b);
    buf_free(&full);
}

static void test_internaldate(void)
{
    static const struct {
        int64_t t;
        int tz;
        const char *want;
    } cases[] = {
        { 0, 0, "\"01-Jan-1970 00:00:00 +0000\"" },
        { 837596665, -420, "\"17-Jul-1996 02:44:25 -0700\"" },
        { 837596665, 0, "\"17-Jul-1996 09:44:25 +0000\"" },
        { 1709251199, 0, "\"29-Feb-2024 23:59:59 +0000\"" },
        { 1709251199, 60, "\"01-Mar-2024 00:59:59 +0100\"" },
        { 1709251199, 330, "\"01-Mar-2024 05:29:59 +0530\"" },
        { 0, -1, "\"31-Dec-1969 23:59:00 -0001\"" },
        { -1, 0, "\"31-Dec-1969 23:59:59 +0000\"" },
        { 951782400, 0, "\"29-Feb-2000 00:00:00 +0000\"" },
        /* Clamped: the zone to +-99:59, the time to years 1-9999. */
        { 0, 10000, "\"05-Jan-1970 03:59:00 +9959\"" },
        { INT64_MAX, 0, "\"31-Dec-9999 23:59:59 +0000\"" },
        { INT64_MIN, -600, "\"01-Jan-0001 00:00:00 -1000\"" },
    };
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_clear(&b);
        CHECK_INT(imap_write_internaldate(&b, cases[i].t, cases[i].tz), 0);
        CHECK_STR(buf_cstr(&b), cases[i].want);
    }
    buf_free(&b);
}

/* ---- The fuzz target's checks over real messages ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return b.p ? b.p : xstrdup("");
}

static void run_dir(const char *dir, const char *suffix, unsigned *count)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), k = strlen(suffix);
        if (e->d_name[0] == '.' || n < k || strcmp(e->d_name + n - k, suffix) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len;
        char *data = slurp(path, &len);
        CHECK(data != NULL);
        if (!data)
            continue;
        LLVMFuzzerTestOneInput((const uint8_t *)data, len); /* aborts on a failure */
        free(data);
        (*count)++;
    }
    closedir(d);
}

static void test_corpora(void)
{
    unsigned n = 0;
    run_dir("../data/mime4j", ".msg", &n);
    CHECK(n >= 30);
    unsigned seeds = 0;
    run_dir("../fuzz/corpus/imap_encode", "", &seeds);
    CHECK(seeds >= 10);
}

static void test_like_dovecot(void)
{
    /* What Dovecot 2.3.19 answered for these (a private instance, FETCH
     * BODYSTRUCTURE), with the differences listed at the top of this file
     * applied: the same bytes otherwise, letter case aside. */
    static const struct {
        const char *file, *dovecot;
    } cases[] = {
        { "simple-attachment.msg",
          "((\"text\" \"plain\" (\"charset\" \"ISO-8859-15\") NIL NIL \"7BIT\" 7 1 NIL NIL NIL "
          "NIL)(\"application\" \"octet-stream\" (\"name\" \"data.bin\") NIL NIL \"BASE64\" 1404 "
          "NIL (\"attachment\" (\"filename\" \"data.bin\")) NIL NIL) \"mixed\" (\"boundary\" "
          "\"------------090404080405080108000909\") NIL NIL NIL)" },
        { "multipartnopart.msg",
          "((\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) "
          "\"mixed\" (\"boundary\" \"------------299A70B339B65A93542D2AE\") NIL NIL NIL)" },
        { "base64encoded-rfc822message.msg",
          "(\"message\" \"rfc822\" NIL NIL NIL \"BASE64\" 130 (NIL NIL NIL NIL NIL NIL NIL NIL "
          "NIL NIL) (\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL "
          "NIL NIL) 3 NIL NIL NIL NIL)" },
        { "multipartnestedemptyparts.msg",
          /* Dovecot: 12 lines (LFs only) for the message/rfc822 part. */
          "((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 356 (\"Thu, 11 Apr 1996 01:10:30 -0500\" "
          "NIL ((\"Me\" NIL \"me\" \"example.com\")) ((\"Me\" NIL \"me\" \"example.com\")) "
          "((\"Me\" NIL \"me\" \"example.com\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" "
          "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"mixed\" "
          "(\"boundary\" \"------------299A70B339B65A93542D2AF\") NIL NIL NIL) 13 NIL NIL NIL "
          "NIL) \"mixed\" (\"boundary\" \"------------299A70B339B65A93542D2AE\") NIL NIL NIL)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "../data/mime4j/%s", cases[i].file);
        size_t len;
        char *data = slurp(path, &len);
        CHECK(data != NULL);
        if (!data)
            continue;
        const char *got = enc(data, BODYSTRUCTURE, false);
        if (strcasecmp(got, cases[i].dovecot) != 0)
            fprintf(stderr, "  %s: got %s\n", cases[i].file, got);
        CHECK(strcasecmp(got, cases[i].dovecot) == 0);
        free(data);
    }
}

int main(void)
{
    A = arena_new(0);
    RUN(test_rfc_single_part);
    RUN(test_rfc_multipart);
    RUN(test_alternative);
    RUN(test_attachment);
    RUN(test_message_rfc822);
    RUN(test_message_rfc822_leaf);
    RUN(test_message_global);
    RUN(test_groups);
    RUN(test_groups_unbalanced);
    RUN(test_encoded_words);
    RUN(test_8bit_headers);
    RUN(test_quotes_and_backslashes);
    RUN(test_empty_multipart);
    RUN(test_default_type);
    RUN(test_encodings_and_extensions);
    RUN(test_deep_nesting);
    RUN(test_strings);
    RUN(test_cap);
    RUN(test_internaldate);
    RUN(test_corpora);
    RUN(test_like_dovecot);
    arena_free(A);
    return TEST_DONE();
}
