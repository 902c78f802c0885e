/*
 * Unit tests for mime/charset.c: conversion to UTF-8 through iconv, and the
 * cases we handle ourselves (no charset, us-ascii on 8-bit text, latin-1 as
 * windows-1252, invalid bytes).
 */
#include <string.h>

#include "core/arena.h"
#include "mime/internal.h"
#include "mime/mime.h"
#include "test.h"

static const struct {
    const char *charset, *in, *out;
} cases[] = {
    { "utf-8", "caf\xc3\xa9", "caf\xc3\xa9" },
    { "UTF8", "\xe2\x82\xac", "\xe2\x82\xac" },
    /* Invalid UTF-8: U+FFFD per bad byte; overlongs and surrogates too. */
    { "utf-8", "a\xff" "b", "a\xef\xbf\xbd" "b" },
    { "utf-8", "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
    { "utf-8", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "utf-8", "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "utf-8", "cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd" },
    { "utf-8", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
    /* No charset or us-ascii: UTF-8 where valid, else windows-1252. */
    { "", "caf\xc3\xa9 caf\xe9 \x80", "caf\xc3\xa9 caf\xc3\xa9 \xe2\x82\xac" },
    { "us-ascii", "\x93quoted\x94", "\xe2\x80\x9cquoted\xe2\x80\x9d" },
    { "\"US-ASCII\"", "plain", "plain" },
    /* iso-8859-1 is read as windows-1252, byte by byte. */
    { "iso-8859-1", "caf\xe9 \x80 \xc3\xa9", "caf\xc3\xa9 \xe2\x82\xac \xc3\x83\xc2\xa9" },
    { "latin1", "\x81", "\xc2\x81" },
    /* Through iconv. */
    { "iso-8859-15", "\xa4", "\xe2\x82\xac" },
    { "ISO-8859-2", "\xb1", "\xc4\x85" },
    { "koi8-r", "\xf3\xd0\xc9\xd3\xcf\xcb", "\xd0\xa1\xd0\xbf\xd0\xb8\xd1\x81\xd0\xbe\xd0\xba" },
    { "windows-1251", "\xcf\xf0\xe8", "\xd0\x9f\xd1\x80\xd0\xb8" },
    { "utf-16le", "A\0B\0", "AB" },
    { "gb2312", "\xc4\xe3\xba\xc3", "\xe4\xbd\xa0\xe5\xa5\xbd" },
    { "ks_c_5601-1987", "\xc7\xd1", "\xed\x95\x9c" },
    { "iso-2022-jp", "\x1b$B%F%9%H\x1b(B", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
    /* Bytes a charset does not have: U+FFFD, and the rest goes on. */
    { "shift_jis", "\x83\x65\xff\x83\x65", "\xe3\x83\x86\xef\xbf\xbd\xe3\x83\x86" },
    { "utf-16le", "A\0B", "A\xef\xbf\xbd" },
    /* Unknown or hostile names: as if there were no charset. */
    { "x-no-such-charset", "caf\xe9", "caf\xc3\xa9" },
    { "utf-8//TRANSLIT", "caf\xe9", "caf\xc3\xa9" },
    { "../../etc/passwd", "ok", "ok" },
    /* RFC 2231 language suffix. */
    { "utf-8*en", "\xc3\xa9", "\xc3\xa9" },
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, 0);
        struct str in = str_from_cstr(cases[i].in);
        if (strcmp(cases[i].charset, "utf-16le") == 0)
            in.len = strcmp(cases[i].out, "AB") == 0 ? 4 : 3;
        CHECK_INT(mime_charset_to_utf8(str_from_cstr(cases[i].charset), in, &b), 0);
        if (strcmp(buf_cstr(&b), cases[i].out) != 0)
            fprintf(stderr, "  case %zu (%s)\n", i, cases[i].charset);
        CHECK_STR(buf_cstr(&b), cases[i].out);
        buf_free(&b);
    }
}

static void test_cap(void)
{
    struct buf b;
    buf_init(&b, 4);
    CHECK_INT(mime_charset_to_utf8(STR_LIT("utf-8"), STR_LIT("abcdef"), &b), -1);
    buf_free(&b);
    buf_init(&b, 4);
    CHECK_INT(mime_charset_to_utf8(STR_LIT("koi8-r"), STR_LIT("\xf3\xd0\xc9\xd3\xcf\xcb"), &b),
              -1);
    CHECK(b.len <= 4);
    buf_free(&b);
    /* Long input through iconv crosses its 4 KB output blocks intact. */
    struct buf in;
    buf_init(&in, 0);
    for (int i = 0; i < 10000; i++)
        buf_append_cstr(&in, "\xa4");
    buf_init(&b, 0);
    CHECK_INT(mime_charset_to_utf8(STR_LIT("iso-8859-15"), buf_str(&in), &b), 0);
    CHECK_INT(b.len, 30000);
    CHECK(mime_utf8_valid(buf_str(&b)));
    buf_free(&b);
    buf_free(&in);
}

static void test_arena_variant(void)
{
    struct arena *a = arena_new(0);
    /* Valid UTF-8 with no or a UTF-8 charset: the same bytes, no copy. */
    struct str in = STR_LIT("caf\xc3\xa9");
    CHECK(mime_charset_to_utf8_arena(a, STR_NULL, in).p == in.p);
    CHECK(mime_charset_to_utf8_arena(a, STR_LIT("utf-8"), in).p == in.p);
    CHECK_INT(arena_used(a), 0);
    struct str out = mime_charset_to_utf8_arena(a, STR_LIT("iso-8859-1"), in);
    CHECK(str_eq(out, STR_LIT("caf\xc3\x83\xc2\xa9")));
    arena_free(a);
}

static void test_utf8_valid(void)
{
    CHECK(mime_utf8_valid(STR_LIT("")));
    CHECK(mime_utf8_valid(STR_LIT("plain")));
    CHECK(mime_utf8_valid(STR_LIT("\xe2\x82\xac\xf0\x9f\x98\x80")));
    CHECK(!mime_utf8_valid(STR_LIT("\xe2\x82")));
    CHECK(!mime_utf8_valid(STR_LIT("\xc1\xbf")));
    CHECK(!mime_utf8_valid(STR_LIT("\xe0\x80\x80")));
    CHECK(!mime_utf8_valid(STR_LIT("\xf5\x80\x80\x80")));
}

static void test_empty(void)
{
    /* Empty and NULL input (found by fuzzing: NULL + 0 is undefined). */
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(mime_charset_to_utf8(STR_LIT("iso-8859-1"), STR_NULL, &b), 0);
    CHECK_INT(mime_charset_to_utf8(STR_NULL, STR_NULL, &b), 0);
    CHECK_INT(mime_charset_to_utf8(STR_LIT("koi8-r"), STR_LIT(""), &b), 0);
    CHECK_INT(b.len, 0);
    buf_free(&b);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_cap);
    RUN(test_arena_variant);
    RUN(test_utf8_valid);
    RUN(test_empty);
    return TEST_DONE();
}
