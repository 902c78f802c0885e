/*
 * Unit tests for imap/binary.c: the data of FETCH BINARY[section] (RFC
 * 3516) — which part a section names, which encodings are undone, and
 * which are refused — on messages written by hand and parsed with
 * mime_parse, as the server's stored structure would be.
 */
#include <string.h>

#include "core/arena.h"
#include "imap/binary.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *A;

struct got {
    int r;
    struct str data;
    bool in_msg; /* points into the message: nothing was decoded */
};

static struct got binary(const char *msg_text, size_t msg_len, const unsigned *parts, size_t n,
                         struct buf *scratch)
{
    struct str msg = { msg_text, msg_len };
    struct mime_part *root = mime_parse(A, msg, NULL);
    struct got g;
    g.r = imap_binary_section(msg, root, parts, n, scratch, &g.data);
    g.in_msg = g.data.p >= msg.p && g.data.p <= msg.p + msg.len;
    return g;
}

#define CHECK_DATA(g, want)                                             \
    do {                                                                \
        CHECK_INT((g).data.len, sizeof(want) - 1);                      \
        CHECK((g).data.len == sizeof(want) - 1 &&                       \
              memcmp((g).data.p, want, sizeof(want) - 1) == 0);         \
    } while (0)

static const char SINGLE_B64[] =
    "From: a@example.test\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC/w==\r\n"; /* 00 01 02 ff */

static void test_single_part(void)
{
    struct buf b;
    buf_init(&b, 0);
    unsigned one = 1;
    struct got g = binary(SINGLE_B64, sizeof(SINGLE_B64) - 1, &one, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "\x00\x01\x02\xff");
    CHECK(!g.in_msg);
    /* BINARY[]: the whole message, as stored. */
    g = binary(SINGLE_B64, sizeof(SINGLE_B64) - 1, NULL, 0, &b);
    CHECK_INT(g.r, 0);
    CHECK(g.in_msg);
    CHECK_INT(g.data.len, sizeof(SINGLE_B64) - 1);
    /* Part 2 of a single-part message does not exist: empty, not an error. */
    unsigned two = 2;
    g = binary(SINGLE_B64, sizeof(SINGLE_B64) - 1, &two, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_INT(g.data.len, 0);
    buf_free(&b);
}

static const char MULTI[] =
    "From: a@example.test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=XX\r\n"
    "\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain =41 text\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9 soft=\r\n"
    "break =00nul\r\n"
    "--XX\r\n"
    "Content-Type: application/x-thing\r\n"
    "Content-Transfer-Encoding: x-uuencode\r\n"
    "\r\n"
    "begin 644 x\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "Content-Transfer-Encoding: BASE64\r\n"
    "\r\n"
    "aGk=\r\n"
    "--XX--\r\n";

static void test_multipart(void)
{
    struct buf b;
    buf_init(&b, 0);
    size_t len = sizeof(MULTI) - 1;
    /* 7bit: as it is, escapes and all. */
    unsigned p1[] = { 1 };
    struct got g = binary(MULTI, len, p1, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "plain =41 text");
    CHECK(g.in_msg);
    /* Quoted-printable: escapes and soft breaks undone, NUL included. */
    unsigned p2[] = { 2 };
    g = binary(MULTI, len, p2, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "caf\xc3\xa9 soft" "break \x00nul");
    CHECK(!g.in_msg);
    /* An encoding we cannot undo. */
    unsigned p3[] = { 3 };
    g = binary(MULTI, len, p3, 1, &b);
    CHECK_INT(g.r, IMAP_BINARY_UNKNOWN_CTE);
    /* An encapsulated message comes as it is; its own body is decoded. */
    unsigned p4[] = { 4 };
    g = binary(MULTI, len, p4, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "Subject: inner\r\nContent-Transfer-Encoding: BASE64\r\n\r\naGk=");
    unsigned p41[] = { 4, 1 };
    g = binary(MULTI, len, p41, 2, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "hi");
    /* Nonexistent parts. */
    unsigned p5[] = { 5 };
    g = binary(MULTI, len, p5, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_INT(g.data.len, 0);
    unsigned p11[] = { 1, 1 };
    g = binary(MULTI, len, p11, 2, &b);
    CHECK_INT(g.r, 0);
    CHECK_INT(g.data.len, 0);
    buf_free(&b);
}

/* Decoded data goes after what the scratch buffer held; a full buffer is
 * reported, never overrun. */
static void test_scratch(void)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "before");
    unsigned one = 1;
    struct got g = binary(SINGLE_B64, sizeof(SINGLE_B64) - 1, &one, 1, &b);
    CHECK_INT(g.r, 0);
    CHECK_DATA(g, "\x00\x01\x02\xff");
    CHECK(memcmp(b.p, "before", 6) == 0);
    buf_free(&b);
    buf_init(&b, 2);
    g = binary(SINGLE_B64, sizeof(SINGLE_B64) - 1, &one, 1, &b);
    CHECK_INT(g.r, -1);
    CHECK(g.data.len <= 2);
    buf_free(&b);
}

int main(void)
{
    A = arena_new(0);
    RUN(test_single_part);
    RUN(test_multipart);
    RUN(test_scratch);
    arena_free(A);
    return TEST_DONE();
}
