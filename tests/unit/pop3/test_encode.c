/* The wire form of stored messages: CRLF whatever is stored, dot-stuffing,
 * TOP's lines, sizes that match what is sent, and chunk boundaries
 * anywhere. */
#include <stdlib.h>

#include "pop3/encode.h"
#include "test.h"

/* Encodes `msg` in chunks of `step` bytes (0: at once). */
static char *encode(const char *msg, size_t len, bool top, uint64_t lines, size_t step,
                    uint64_t *octets, size_t *taken)
{
    struct pop3_encoder e;
    pop3_encoder_init(&e, top, lines);
    struct buf out;
    buf_init(&out, 0);
    size_t i = 0;
    while (i < len && !pop3_encoder_done(&e)) {
        size_t n = step && step < len - i ? step : len - i;
        size_t t = pop3_encode(&e, (struct str){ msg + i, n }, &out);
        i += t;
        if (t < n)
            break;
    }
    pop3_encode_finish(&e, &out);
    if (octets)
        *octets = e.octets;
    if (taken)
        *taken = i;
    char *r = xstrndup(out.p ? out.p : "", out.len);
    buf_free(&out);
    return r;
}

static void check_retr(const char *stored, const char *wire, uint64_t size)
{
    size_t len = strlen(stored);
    for (size_t step = 0; step <= len; step++) {
        uint64_t octets;
        char *got = encode(stored, len, false, 0, step, &octets, NULL);
        CHECK_STR(got, wire);
        CHECK_INT(octets, size);
        free(got);
    }
    CHECK_INT(pop3_wire_size(str_from_cstr(stored)), size);
}

static void test_crlf_unchanged(void)
{
    check_retr("Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n", 20);
}

static void test_bare_lf_becomes_crlf(void)
{
    /* 17 stored bytes, 4 of them bare LFs: 21 on the wire. */
    check_retr("Subject: a\n\nb\nc\n", "Subject: a\r\n\r\nb\r\nc\r\n", 20);
    check_retr("a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n", 9);
}

static void test_bare_cr_is_a_byte(void)
{
    check_retr("a\rb\r\n", "a\rb\r\n", 5);
    check_retr("a\r\r\n", "a\r\r\n", 4);
}

static void test_last_line_gets_crlf(void)
{
    check_retr("Subject: a\r\n\r\nno end", "Subject: a\r\n\r\nno end\r\n", 22);
    check_retr("x\r", "x\r\n", 3);
    check_retr("", "", 0);
}

static void test_dot_stuffing(void)
{
    /* Stuffing dots are not counted (RFC 1939 §11). */
    check_retr(".\r\n", "..\r\n", 3);
    check_retr("a\r\n.b\r\n..c\r\nd.\r\n", "a\r\n..b\r\n...c\r\nd.\r\n", 16);
    check_retr("a\n.\nb", "a\r\n..\r\nb\r\n", 9);
    check_retr(".start", "..start\r\n", 8);
}

static void test_top(void)
{
    const char *m = "From: x\r\nSubject: y\r\n\r\nl1\r\nl2\r\n.l3\r\nl4\r\n";
    size_t len = strlen(m), taken;
    for (size_t step = 0; step <= len; step++) {
        char *got = encode(m, len, true, 0, step, NULL, NULL);
        CHECK_STR(got, "From: x\r\nSubject: y\r\n\r\n");
        free(got);
        got = encode(m, len, true, 3, step, NULL, &taken);
        CHECK_STR(got, "From: x\r\nSubject: y\r\n\r\nl1\r\nl2\r\n..l3\r\n");
        CHECK_INT(taken, len - 4); /* "l4\r\n" was not wanted */
        free(got);
        got = encode(m, len, true, 100, step, NULL, NULL);
        CHECK_STR(got, "From: x\r\nSubject: y\r\n\r\nl1\r\nl2\r\n..l3\r\nl4\r\n");
        free(got);
    }
}

static void test_top_bare_lf_and_odd_shapes(void)
{
    const char *m = "A: 1\nB: 2\n\nbody1\nbody2\n";
    char *got = encode(m, strlen(m), true, 1, 0, NULL, NULL);
    CHECK_STR(got, "A: 1\r\nB: 2\r\n\r\nbody1\r\n");
    free(got);
    /* A line holding only a CR is not the blank line... */
    m = "A: 1\r\r\nB: 2\r\n\r\nbody\r\n";
    got = encode(m, strlen(m), true, 0, 0, NULL, NULL);
    CHECK_STR(got, "A: 1\r\r\nB: 2\r\n\r\n");
    free(got);
    /* ...a header without a blank line is all header... */
    m = "A: 1\r\nB: 2";
    got = encode(m, strlen(m), true, 5, 0, NULL, NULL);
    CHECK_STR(got, "A: 1\r\nB: 2\r\n");
    free(got);
    /* ...and a message that starts with the blank line has no header. */
    m = "\r\nl1\r\nl2\r\n";
    got = encode(m, strlen(m), true, 1, 0, NULL, NULL);
    CHECK_STR(got, "\r\nl1\r\n");
    free(got);
    /* A last body line without LF, inside TOP's count. */
    m = "A: 1\n\nonly";
    got = encode(m, strlen(m), true, 3, 0, NULL, NULL);
    CHECK_STR(got, "A: 1\r\n\r\nonly\r\n");
    free(got);
}

static void test_counting_without_output(void)
{
    const char *m = "a\nb\r\n.c\nd";
    struct pop3_encoder e;
    pop3_encoder_init(&e, false, 0);
    CHECK_INT(pop3_encode(&e, str_from_cstr(m), NULL), strlen(m));
    pop3_encode_finish(&e, NULL);
    CHECK_INT(e.octets, 13);
    CHECK_INT(pop3_wire_size(str_from_cstr(m)), 13);
}

int main(void)
{
    RUN(test_crlf_unchanged);
    RUN(test_bare_lf_becomes_crlf);
    RUN(test_bare_cr_is_a_byte);
    RUN(test_last_line_gets_crlf);
    RUN(test_dot_stuffing);
    RUN(test_top);
    RUN(test_top_bare_lf_and_odd_shapes);
    RUN(test_counting_without_output);
    return TEST_DONE();
}
