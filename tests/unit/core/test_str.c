/*
 * Unit tests for core/str.h: slices (str_*) and capped buffers (buf_*).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "test.h"

#define S(lit) STR_LIT(lit)

static void test_str_from_cstr(void)
{
    struct str s = str_from_cstr("hello");
    CHECK_INT(s.len, 5);
    CHECK(s.p != NULL && memcmp(s.p, "hello", 5) == 0);
    s = str_from_cstr("");
    CHECK_INT(s.len, 0);
    s = str_from_cstr(NULL);
    CHECK(s.p == NULL);
    CHECK_INT(s.len, 0);
}

static void test_str_eq(void)
{
    const struct {
        struct str a, b;
        bool eq, nocase;
    } cases[] = {
        { S("abc"), S("abc"), true, true },
        { S("abc"), S("abd"), false, false },
        { S("abc"), S("ab"), false, false },
        { S("ab"), S("abc"), false, false },
        { S("ABC"), S("abc"), false, true },
        { S("MaIl FrOm"), S("mail from"), false, true },
        { S(""), S(""), true, true },
        { S(""), S("a"), false, false },
        /* Only ASCII letters fold: '@' (0x40) vs '`' (0x60), '[' vs '{'. */
        { S("@"), S("`"), false, false },
        { S("["), S("{"), false, false },
        { S("\xC4"), S("\xE4"), false, false },
        /* NUL is an ordinary byte. */
        { S("a\0b"), S("a\0b"), true, true },
        { S("a\0b"), S("a\0c"), false, false },
        { S("A\0B"), S("a\0b"), false, true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (str_eq(cases[i].a, cases[i].b) != cases[i].eq)
            fprintf(stderr, "  str_eq case %zu\n", i);
        CHECK(str_eq(cases[i].a, cases[i].b) == cases[i].eq);
        CHECK(str_eq(cases[i].b, cases[i].a) == cases[i].eq);
        if (str_eq_nocase(cases[i].a, cases[i].b) != cases[i].nocase)
            fprintf(stderr, "  str_eq_nocase case %zu\n", i);
        CHECK(str_eq_nocase(cases[i].a, cases[i].b) == cases[i].nocase);
        CHECK(str_eq_nocase(cases[i].b, cases[i].a) == cases[i].nocase);
    }
    /* STR_NULL equals the empty string. */
    CHECK(str_eq(STR_NULL, S("")));
    CHECK(str_eq(STR_NULL, STR_NULL));
    CHECK(!str_eq(STR_NULL, S("x")));

    CHECK(str_eq_cstr(S("quit"), "quit"));
    CHECK(!str_eq_cstr(S("quit"), "QUIT"));
    CHECK(!str_eq_cstr(S("quit"), "quit "));
    CHECK(str_eq_cstr(STR_NULL, ""));
    CHECK(str_eq_nocase_cstr(S("QUIT"), "quit"));
    CHECK(!str_eq_nocase_cstr(S("QUIT"), "quits"));
    /* A slice that is part of a longer string. */
    struct str part = { "HELOworld", 4 };
    CHECK(str_eq_cstr(part, "HELO"));
    CHECK(str_eq_nocase_cstr(part, "helo"));
}

static void test_str_starts_with_nocase(void)
{
    const struct {
        struct str s;
        const char *prefix;
        bool want;
    } cases[] = {
        { S("MAIL FROM:<a@b>"), "mail from:", true },
        { S("mail from:<a@b>"), "MAIL FROM:", true },
        { S("MAIL"), "mail from:", false },
        { S("MAIX FROM:"), "mail", false },
        { S("anything"), "", true },
        { S(""), "", true },
        { S(""), "a", false },
        { S("AUTH PLAIN"), "auth", true },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(str_starts_with_nocase(cases[i].s, cases[i].prefix) == cases[i].want);
    /* Must not read past the slice's length. */
    struct str part = { "MAILFROM", 4 };
    CHECK(!str_starts_with_nocase(part, "mailf"));
    CHECK(str_starts_with_nocase(part, "mail"));
}

static void test_str_trim(void)
{
    const struct {
        struct str in;
        const char *want;
    } cases[] = {
        { S("abc"), "abc" },
        { S("  abc"), "abc" },
        { S("abc  "), "abc" },
        { S(" \t abc \t "), "abc" },
        { S("a b\tc"), "a b\tc" },
        { S("   "), "" },
        { S("\t"), "" },
        { S(""), "" },
        /* Only spaces and tabs: CR and LF stay. */
        { S("abc\r\n"), "abc\r\n" },
        { S("\nabc"), "\nabc" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str t = str_trim(cases[i].in);
        CHECK(str_eq_cstr(t, cases[i].want));
        if (t.len)
            CHECK(t.p >= cases[i].in.p && t.p + t.len <= cases[i].in.p + cases[i].in.len);
    }
    struct str t = str_trim(STR_NULL);
    CHECK_INT(t.len, 0);
    /* The trimmed slice points into the original bytes. */
    const char *src = "  xy ";
    t = str_trim(str_from_cstr(src));
    CHECK(t.p == src + 2);
    CHECK_INT(t.len, 2);
}

static void test_str_find_char(void)
{
    const struct {
        struct str s;
        char c;
        long want;
    } cases[] = {
        { S("abc"), 'a', 0 },
        { S("abc"), 'c', 2 },
        { S("abc"), 'x', -1 },
        { S("a:b:c"), ':', 1 },
        { S(""), 'a', -1 },
        { S("a\0b"), '\0', 1 },
        { S("a\0b"), 'b', 2 },
        { S("\xff"), '\xff', 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(str_find_char(cases[i].s, cases[i].c), cases[i].want);
    CHECK_INT(str_find_char(STR_NULL, 'a'), -1);
    /* Only within the slice's length. */
    struct str part = { "abc:def", 3 };
    CHECK_INT(str_find_char(part, ':'), -1);
}

static void test_str_to_u64(void)
{
    const struct {
        struct str s;
        unsigned long long max;
        int ret;
        unsigned long long val;
    } cases[] = {
        { S("0"), 10, 0, 0 },
        { S("7"), 10, 0, 7 },
        { S("10"), 10, 0, 10 },
        { S("11"), 10, -1, 0 },
        { S("100"), 10, -1, 0 },
        { S("007"), 10, 0, 7 },
        { S("25"), 65535, 0, 25 },
        { S("65535"), 65535, 0, 65535 },
        { S("65536"), 65535, -1, 0 },
        { S("65540"), 65535, -1, 0 },
        { S("99999"), 65535, -1, 0 },
        { S("18446744073709551615"), ULLONG_MAX, 0, ULLONG_MAX },
        { S("18446744073709551614"), ULLONG_MAX, 0, ULLONG_MAX - 1 },
        { S("18446744073709551616"), ULLONG_MAX, -1, 0 },
        { S("18446744073709551620"), ULLONG_MAX, -1, 0 },
        { S("99999999999999999999"), ULLONG_MAX, -1, 0 },
        { S("184467440737095516150"), ULLONG_MAX, -1, 0 },
        { S("9223372036854775807"), LLONG_MAX, 0, LLONG_MAX },
        { S("9223372036854775808"), LLONG_MAX, -1, 0 },
        { S("00000000000000000000000000001"), 1, 0, 1 },
        /* Empty and non-digits. */
        { S(""), 100, -1, 0 },
        { S(" 1"), 100, -1, 0 },
        { S("1 "), 100, -1, 0 },
        { S("+1"), 100, -1, 0 },
        { S("-1"), 100, -1, 0 },
        { S("1a"), 100, -1, 0 },
        { S("a1"), 100, -1, 0 },
        { S("1.5"), 100, -1, 0 },
        { S("0x10"), 100, -1, 0 },
        { S("1\0"), 100, -1, 0 },
        { S("/"), 100, -1, 0 }, /* '0' - 1 */
        { S(":"), 100, -1, 0 }, /* '9' + 1 */
        /* A single digit larger than a small max must be refused as well. */
        { S("5"), 5, 0, 5 },
        { S("6"), 5, -1, 0 },
        { S("9"), 5, -1, 0 },
        { S("0"), 0, 0, 0 },
        { S("1"), 0, -1, 0 },
        { S("9"), 8, -1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long out = 12345;
        int r = str_to_u64(cases[i].s, cases[i].max, &out);
        if (r != cases[i].ret)
            fprintf(stderr, "  str_to_u64 case %zu (\"%.*s\", max %llu): returned %d (out %llu)\n",
                    i, (int)cases[i].s.len, cases[i].s.p, cases[i].max, r, out);
        CHECK_INT(r, cases[i].ret);
        if (cases[i].ret == 0)
            CHECK(out == cases[i].val);
        else
            CHECK(out == 12345); /* untouched on failure */
    }
    unsigned long long out = 1;
    CHECK_INT(str_to_u64(STR_NULL, 10, &out), -1);
    /* Stops at the slice's length. */
    struct str part = { "12345", 2 };
    CHECK_INT(str_to_u64(part, 100, &out), 0);
    CHECK(out == 12);
}

static void test_buf_append(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    CHECK_INT(buf_str(&b).len, 0);

    CHECK_INT(buf_append(&b, "abc", 3), 0);
    CHECK_INT(buf_append_str(&b, S("def")), 0);
    CHECK_INT(buf_append_cstr(&b, "gh"), 0);
    CHECK_INT(buf_append_char(&b, 'i'), 0);
    CHECK_INT(buf_append(&b, "zzz", 0), 0);
    CHECK_INT(b.len, 9);
    CHECK_STR(buf_cstr(&b), "abcdefghi");
    CHECK(str_eq_cstr(buf_str(&b), "abcdefghi"));
    CHECK(b.cap > b.len); /* room for the NUL */

    /* Growing well past the first allocation keeps every byte. */
    for (int i = 0; i < 1000; i++)
        CHECK_INT(buf_append_char(&b, (char)('0' + i % 10)), 0);
    CHECK_INT(b.len, 1009);
    CHECK_INT(strlen(buf_cstr(&b)), 1009);
    bool ok = memcmp(b.p, "abcdefghi", 9) == 0;
    for (int i = 0; i < 1000; i++)
        if (b.p[9 + i] != (char)('0' + i % 10))
            ok = false;
    CHECK(ok);
    CHECK_INT(b.p[b.len], '\0');
    buf_free(&b);
    CHECK(b.p == NULL);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    /* Freeing twice, or a never-used buffer, is harmless. */
    buf_free(&b);
}

static void test_buf_binary(void)
{
    static const char bin[] = { 'a', '\0', 'b', '\0', '\0', (char)0xff, '\n' };
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(buf_append(&b, bin, sizeof(bin)), 0);
    CHECK_INT(b.len, sizeof(bin));
    CHECK(memcmp(b.p, bin, sizeof(bin)) == 0);
    CHECK_INT(b.p[b.len], '\0');
    struct str s = buf_str(&b);
    CHECK_INT(s.len, 7);
    CHECK(str_eq(s, (struct str){ bin, sizeof(bin) }));
    CHECK_INT(buf_append_char(&b, '\0'), 0);
    CHECK_INT(b.len, 8);
    CHECK_INT(b.p[7], '\0');
    buf_consume(&b, 2);
    CHECK_INT(b.len, 6);
    CHECK(memcmp(b.p, bin + 2, 5) == 0);
    CHECK_INT(b.p[5], '\0');
    CHECK_INT(b.p[6], '\0'); /* terminator */
    buf_free(&b);
}

static void test_buf_max(void)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_INT(b.max, 8);
    CHECK_INT(buf_append_cstr(&b, "12345"), 0);
    /* 5 + 4 > 8: refused, buffer unchanged. */
    CHECK_INT(buf_append_cstr(&b, "6789"), -1);
    CHECK_INT(b.len, 5);
    CHECK_STR(buf_cstr(&b), "12345");
    CHECK_INT(buf_printf(&b, "%d", 6789), -1);
    CHECK_INT(b.len, 5);
    CHECK_STR(buf_cstr(&b), "12345");
    /* Exactly up to the cap is fine. */
    CHECK_INT(buf_append_cstr(&b, "678"), 0);
    CHECK_INT(b.len, 8);
    CHECK_STR(buf_cstr(&b), "12345678");
    CHECK_INT(buf_append_char(&b, '9'), -1);
    CHECK_INT(buf_append_str(&b, S("9")), -1);
    CHECK_INT(buf_append(&b, "9", 1), -1);
    CHECK_STR(buf_cstr(&b), "12345678");
    /* An empty append at the cap is allowed. */
    CHECK_INT(buf_append(&b, "", 0), 0);
    CHECK_INT(b.len, 8);
    /* Consuming makes room again. */
    buf_consume(&b, 3);
    CHECK_STR(buf_cstr(&b), "45678");
    CHECK_INT(buf_append_cstr(&b, "abc"), 0);
    CHECK_STR(buf_cstr(&b), "45678abc");
    CHECK_INT(buf_append_char(&b, 'd'), -1);
    buf_free(&b);

    /* A single append larger than the cap on an empty buffer. */
    buf_init(&b, 4);
    CHECK_INT(buf_append_cstr(&b, "12345"), -1);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    CHECK_INT(buf_append(&b, "x", (size_t)-1), -1); /* never read: refused by size */
    CHECK_INT(b.len, 0);
    CHECK_INT(buf_printf(&b, "%s", "toolong"), -1);
    CHECK_INT(b.len, 0);
    CHECK_INT(buf_printf(&b, "%s", "1234"), 0);
    CHECK_STR(buf_cstr(&b), "1234");
    buf_free(&b);
}

static void test_buf_printf(void)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(buf_printf(&b, "%d-%s", 42, "x"), 0);
    CHECK_STR(buf_cstr(&b), "42-x");
    CHECK_INT(b.len, 4);
    CHECK_INT(buf_printf(&b, "%s", ""), 0);
    CHECK_INT(b.len, 4);
    CHECK_INT(buf_printf(&b, " %05u|%-3s|%c", 7u, "ab", 'z'), 0);
    CHECK_STR(buf_cstr(&b), "42-x 00007|ab |z");
    CHECK_INT(b.len, strlen("42-x 00007|ab |z"));
    /* A long formatted string grows the buffer in one go. */
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_INT(buf_printf(&b, "[%s]", big), 0);
    CHECK_INT(b.len, 16 + 2 + 2999);
    CHECK_INT(b.p[16], '[');
    CHECK_INT(b.p[16 + 1 + 2998], 'q');
    CHECK_INT(b.p[b.len - 1], ']');
    CHECK_INT(b.p[b.len], '\0');
    buf_free(&b);

    /* printf on an empty buffer with an empty result still gives "". */
    buf_init(&b, 0);
    CHECK_INT(buf_printf(&b, "%s", ""), 0);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    buf_free(&b);
}

static void test_buf_consume_clear(void)
{
    const struct {
        const char *init;
        size_t n;
        const char *want;
    } cases[] = {
        { "abcdef", 0, "abcdef" },
        { "abcdef", 1, "bcdef" },
        { "abcdef", 5, "f" },
        { "abcdef", 6, "" },
        { "abcdef", 7, "" },
        { "abcdef", (size_t)-1, "" },
        { "", 0, "" },
        { "", 3, "" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, 0);
        CHECK_INT(buf_append_cstr(&b, cases[i].init), 0);
        buf_consume(&b, cases[i].n);
        CHECK_STR(buf_cstr(&b), cases[i].want);
        CHECK_INT(b.len, strlen(cases[i].want));
        buf_free(&b);
    }
    /* consume on a buffer that never allocated */
    struct buf e;
    buf_init(&e, 0);
    buf_consume(&e, 4);
    CHECK_INT(e.len, 0);
    CHECK_STR(buf_cstr(&e), "");
    buf_clear(&e);
    CHECK_STR(buf_cstr(&e), "");
    buf_free(&e);

    struct buf b;
    buf_init(&b, 16);
    CHECK_INT(buf_append_cstr(&b, "0123456789abcdef"), 0);
    size_t cap = b.cap;
    buf_clear(&b);
    CHECK_INT(b.len, 0);
    CHECK_STR(buf_cstr(&b), "");
    CHECK_INT(b.cap, cap); /* memory kept for reuse */
    CHECK_INT(buf_append_cstr(&b, "0123456789abcdef"), 0); /* the cap counts from 0 again */
    CHECK_STR(buf_cstr(&b), "0123456789abcdef");
    buf_free(&b);
}

static void test_xalloc(void)
{
    char *s = xstrdup("hello");
    CHECK_STR(s, "hello");
    free(s);
    s = xstrndup("hello world", 5);
    CHECK_STR(s, "hello");
    free(s);
    s = xstrndup("a\0b", 3);
    CHECK(memcmp(s, "a\0b\0", 4) == 0);
    free(s);
    s = xasprintf("%s=%d", "n", 12);
    CHECK_STR(s, "n=12");
    free(s);
    s = xasprintf("%s", "");
    CHECK_STR(s, "");
    free(s);
    int *z = xcalloc(8, sizeof(int));
    bool zero = true;
    for (int i = 0; i < 8; i++)
        zero = zero && z[i] == 0;
    CHECK(zero);
    z = xrealloc(z, 100 * sizeof(int));
    z[99] = 5;
    CHECK_INT(z[0], 0);
    CHECK_INT(z[99], 5);
    free(z);
    void *p = xmalloc(0);
    CHECK(p != NULL);
    free(p);
}

int main(void)
{
    RUN(test_str_from_cstr);
    RUN(test_str_eq);
    RUN(test_str_starts_with_nocase);
    RUN(test_str_trim);
    RUN(test_str_find_char);
    RUN(test_str_to_u64);
    RUN(test_buf_append);
    RUN(test_buf_binary);
    RUN(test_buf_max);
    RUN(test_buf_printf);
    RUN(test_buf_consume_clear);
    RUN(test_xalloc);
    return TEST_DONE();
}
