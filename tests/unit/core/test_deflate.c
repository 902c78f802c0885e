/*
 * Unit tests for core/deflate.h: what the output filter writes inflates
 * (with plain zlib, as a client would) to what went in, each batch ending
 * on a sync flush; what a client deflates passes the input filter in any
 * split; the input filter stops at its limit (a small input inflating to a
 * megabyte) and goes on when called again; garbage and an ended stream fail.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <zlib.h>

#include "core/deflate.h"
#include "test.h"

/* Raw-inflates all of buf with a fresh zlib stream (the client's side). */
static size_t client_inflate(z_stream *z, struct evbuffer *buf, unsigned char *out, size_t cap)
{
    size_t len = evbuffer_get_length(buf);
    unsigned char *in = malloc(len + 1);
    evbuffer_remove(buf, in, len);
    z->next_in = in;
    z->avail_in = (uInt)len;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    int r = inflate(z, Z_SYNC_FLUSH);
    CHECK(r == Z_OK || r == Z_BUF_ERROR);
    CHECK_INT(z->avail_in, 0);
    free(in);
    return cap - z->avail_out;
}

static void test_output_round_trip(void)
{
    struct deflate_state *s = deflate_state_new(NULL, NULL);
    CHECK(s != NULL);
    z_stream z;
    memset(&z, 0, sizeof(z));
    CHECK_INT(inflateInit2(&z, -15), Z_OK);
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
    static unsigned char out[1 << 20];
    /* Two replies: each must inflate whole on its own (sync flush). */
    const char *r1 = "* 1 FETCH (FLAGS (\\Seen))\r\nA1 OK done\r\n";
    evbuffer_add(src, r1, strlen(r1));
    CHECK_INT(deflate_filter_out(src, dst, -1, BEV_NORMAL, s), BEV_OK);
    CHECK_INT(evbuffer_get_length(src), 0);
    size_t n = client_inflate(&z, dst, out, sizeof(out));
    CHECK_INT(n, strlen(r1));
    CHECK(memcmp(out, r1, n) == 0);
    /* A big one, added in many pieces (several iovecs). */
    char *big = malloc(300000);
    for (size_t i = 0; i < 300000; i++)
        big[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    for (size_t off = 0; off < 300000; off += 1000)
        evbuffer_add(src, big + off, 1000);
    CHECK_INT(deflate_filter_out(src, dst, -1, BEV_NORMAL, s), BEV_OK);
    CHECK(evbuffer_get_length(dst) < 300000);
    n = client_inflate(&z, dst, out, sizeof(out));
    CHECK_INT(n, 300000);
    CHECK(memcmp(out, big, n) == 0);
    /* Nothing to do. */
    CHECK_INT(deflate_filter_out(src, dst, -1, BEV_NORMAL, s), BEV_NEED_MORE);
    free(big);
    inflateEnd(&z);
    evbuffer_free(src);
    evbuffer_free(dst);
    deflate_state_free(s);
}

/* With a limit (the room below), the output filter leaves the rest of its
 * input on top; pass after pass, everything arrives, in order. */
static void test_output_limit(void)
{
    struct deflate_state *s = deflate_state_new(NULL, NULL);
    z_stream z;
    memset(&z, 0, sizeof(z));
    CHECK_INT(inflateInit2(&z, -15), Z_OK);
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
    size_t len = 500000;
    unsigned char *data = malloc(len);
    unsigned x = 12345;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16); /* incompressible */
    }
    evbuffer_add(src, data, len);
    static unsigned char out[1 << 20];
    size_t got = 0;
    int passes = 0;
    while (evbuffer_get_length(src) > 0 && passes < 1000) {
        CHECK_INT(deflate_filter_out(src, dst, 65536, BEV_NORMAL, s), BEV_OK);
        CHECK(evbuffer_get_length(dst) <= 65536 + 16384 + 64);
        got += client_inflate(&z, dst, out + got, sizeof(out) - got);
        passes++;
    }
    CHECK(passes > 5);
    CHECK_INT(got, len);
    CHECK(memcmp(out, data, len) == 0);
    free(data);
    inflateEnd(&z);
    evbuffer_free(src);
    evbuffer_free(dst);
    deflate_state_free(s);
}

/* The client's bytes: raw deflate with a 32 KB window and sync flushes. */
static size_t client_deflate(const char *text, size_t len, unsigned char *out, size_t cap,
                             int flush)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    CHECK_INT(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, flush) != Z_STREAM_ERROR);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void test_input_any_split(void)
{
    const char *cmds = "a1 NOOP\r\na2 SELECT INBOX\r\na3 FETCH 1:* (FLAGS)\r\na4 LOGOUT\r\n";
    unsigned char wire[512];
    size_t n = client_deflate(cmds, strlen(cmds), wire, sizeof(wire), Z_SYNC_FLUSH);
    for (size_t split = 1; split < n; split++) {
        struct deflate_state *s = deflate_state_new(NULL, NULL);
        struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
        evbuffer_add(src, wire, split);
        deflate_filter_in(src, dst, -1, BEV_NORMAL, s);
        evbuffer_add(src, wire + split, n - split);
        /* BEV_NEED_MORE when the second piece was only the flush's empty
         * block: nothing new came out. */
        CHECK(deflate_filter_in(src, dst, -1, BEV_NORMAL, s) != BEV_ERROR);
        CHECK_INT(evbuffer_get_length(src), 0);
        CHECK_INT(evbuffer_get_length(dst), strlen(cmds));
        char got[128] = "";
        evbuffer_remove(dst, got, sizeof(got) - 1);
        CHECK_STR(got, cmds);
        CHECK(!deflate_state_failed(s));
        evbuffer_free(src);
        evbuffer_free(dst);
        deflate_state_free(s);
    }
}

/* One megabyte of zeros is about a kilobyte on the wire: with a limit the
 * filter stops near it, and the next calls take the rest. */
static void test_input_limit(void)
{
    size_t big = 1 << 20;
    char *zeros = calloc(1, big);
    unsigned char *wire = malloc(big);
    size_t n = client_deflate(zeros, big, wire, big, Z_SYNC_FLUSH);
    CHECK(n < 4096);
    struct deflate_state *s = deflate_state_new(NULL, NULL);
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
    evbuffer_add(src, wire, n);
    CHECK_INT(deflate_filter_in(src, dst, 1000, BEV_NORMAL, s), BEV_OK);
    size_t first = evbuffer_get_length(dst);
    CHECK_INT(first, 1000);
    CHECK(evbuffer_get_length(src) > 0);
    size_t total = first;
    evbuffer_drain(dst, first);
    for (int i = 0; i < 1000 && evbuffer_get_length(src) > 0; i++) {
        deflate_filter_in(src, dst, 50000, BEV_NORMAL, s);
        total += evbuffer_get_length(dst);
        evbuffer_drain(dst, evbuffer_get_length(dst));
    }
    CHECK_INT(evbuffer_get_length(src), 0);
    CHECK_INT(total, big);
    free(zeros);
    free(wire);
    evbuffer_free(src);
    evbuffer_free(dst);
    deflate_state_free(s);
}

static void count(void *arg)
{
    (*(int *)arg)++;
}

static void test_input_errors(void)
{
    /* Not DEFLATE: a reserved block type (BTYPE 11). The owner hears once. */
    int told = 0;
    struct deflate_state *s = deflate_state_new(count, &told);
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
    evbuffer_add(src, "\x07garbage", 8);
    CHECK_INT(deflate_filter_in(src, dst, -1, BEV_NORMAL, s), BEV_ERROR);
    CHECK(deflate_state_failed(s));
    CHECK_INT(deflate_filter_in(src, dst, -1, BEV_NORMAL, s), BEV_ERROR);
    CHECK_INT(told, 1);
    deflate_state_free(s);
    /* A stream the client ended (Z_FINISH): nothing could follow. */
    s = deflate_state_new(NULL, NULL);
    unsigned char wire[64];
    size_t n = client_deflate("a1 NOOP\r\n", 9, wire, sizeof(wire), Z_FINISH);
    evbuffer_drain(src, evbuffer_get_length(src));
    evbuffer_add(src, wire, n);
    CHECK_INT(deflate_filter_in(src, dst, -1, BEV_NORMAL, s), BEV_ERROR);
    CHECK(deflate_state_failed(s));
    deflate_state_free(s);
    evbuffer_free(src);
    evbuffer_free(dst);
}

int main(void)
{
    RUN(test_output_round_trip);
    RUN(test_output_limit);
    RUN(test_input_any_split);
    RUN(test_input_limit);
    RUN(test_input_errors);
    return TEST_DONE();
}
