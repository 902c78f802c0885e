/*
 * Unit tests for mime/header.c: walking the fields of a header block,
 * unfolding, and the comment and quoted-string pieces the parsers share.
 */
#include <string.h>

#include "core/arena.h"
#include "mime/internal.h"
#include "mime/mime.h"
#include "test.h"

#define S(lit) STR_LIT(lit)

static const char *cstr(struct arena *a, struct str s)
{
    return s.p ? arena_strndup(a, s.p, s.len) : "(null)";
}

static void test_fields(void)
{
    struct arena *a = arena_new(0);
    /* Folding (RFC 5322 §2.2.3), obsolete blanks before the colon (§4.5),
     * lines that are not fields, and the blank line that ends the block. */
    static const char hdr[] =
        "Subject: This\r\n is a test\r\n"
        "Subject :The obsolete syntax\r\n"
        "       \r\n"
        " and empty lines in folding.\r\n"
        "This line has no colon\r\n"
        "  and a continuation\r\n"
        "Inval\xe9" "d-Name: no\r\n"
        "With Space: not a field name either\r\n"
        "X-Empty:\r\n"
        "HeaderWithWSP \t  \t:\t\tvalue.\r\n"
        "\r\n"
        "Body: not a header\r\n";
    struct mime_header_iter it;
    struct mime_field f;
    mime_header_iter_init(&it, (struct str){ hdr, sizeof(hdr) - 1 });
    const struct {
        const char *name, *value, *raw;
    } want[] = {
        { "Subject", " This\r\n is a test", "Subject: This\r\n is a test" },
        { "Subject", "The obsolete syntax\r\n       \r\n and empty lines in folding.",
          "Subject :The obsolete syntax\r\n       \r\n and empty lines in folding." },
        { "X-Empty", "", "X-Empty:" },
        { "HeaderWithWSP", "\t\tvalue.", "HeaderWithWSP \t  \t:\t\tvalue." },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECK(mime_header_next(&it, &f));
        CHECK_STR(cstr(a, f.name), want[i].name);
        CHECK_STR(cstr(a, f.value), want[i].value);
        CHECK_STR(cstr(a, f.raw), want[i].raw);
    }
    CHECK(!mime_header_next(&it, &f));
    CHECK(!mime_header_next(&it, &f));
    arena_free(a);
}

static void test_fields_lf_and_edges(void)
{
    struct arena *a = arena_new(0);
    struct mime_header_iter it;
    struct mime_field f;
    /* Bare LF, a continuation before any field, no line end at the end. */
    static const char hdr[] = " orphan continuation\nA: 1\n\tfolded\nB:2";
    mime_header_iter_init(&it, (struct str){ hdr, sizeof(hdr) - 1 });
    CHECK(mime_header_next(&it, &f));
    CHECK_STR(cstr(a, f.name), "A");
    CHECK_STR(cstr(a, f.value), " 1\n\tfolded");
    CHECK(mime_header_next(&it, &f));
    CHECK_STR(cstr(a, f.name), "B");
    CHECK_STR(cstr(a, f.value), "2");
    CHECK(!mime_header_next(&it, &f));

    /* An empty block, a block that is only its blank line, a bare CR. */
    mime_header_iter_init(&it, S(""));
    CHECK(!mime_header_next(&it, &f));
    mime_header_iter_init(&it, S("\r\n"));
    CHECK(!mime_header_next(&it, &f));
    mime_header_iter_init(&it, S("A: x\ry\r\n"));
    CHECK(mime_header_next(&it, &f));
    CHECK_STR(cstr(a, f.value), " x\ry");

    /* NUL bytes are ordinary bytes in a value, but not in a name. */
    static const char nul[] = "A\0B: x\r\nC: y\0z\r\n";
    mime_header_iter_init(&it, (struct str){ nul, sizeof(nul) - 1 });
    CHECK(mime_header_next(&it, &f));
    CHECK_STR(cstr(a, f.name), "C");
    CHECK_INT(f.value.len, 4);
    CHECK(memcmp(f.value.p, " y\0z", 4) == 0);
    CHECK(!mime_header_next(&it, &f));
    arena_free(a);
}

static void test_find(void)
{
    struct mime_field f;
    struct str h = S("From: a@b\r\nCONTENT-type: text/html\r\nContent-Type: second\r\n\r\n"
                     "Content-Type: in the body\r\n");
    CHECK(mime_header_find(h, "content-type", &f));
    CHECK(str_eq(f.value, S(" text/html")));
    CHECK(mime_header_find(h, "FROM", &f));
    CHECK(!mime_header_find(h, "To", &f));
    CHECK(!mime_header_find(h, "Content-Typ", &f));
}

static void test_unfold(void)
{
    struct arena *a = arena_new(0);
    const struct {
        const char *in, *out;
    } cases[] = {
        { " plain ", "plain" },
        { " This\r\n is a test", "This is a test" },
        { "\r\n leading fold", "leading fold" },
        { " a\n\tb\r\n  c", "a\tb  c" },
        { " a\r\n \r\n b", "a  b" },
        { "", "" },
        { " \t ", "" },
        { " bare\rcr", "bare\rcr" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str u = mime_unfold(a, str_from_cstr(cases[i].in));
        CHECK(u.p != NULL);
        CHECK_STR(cstr(a, u), cases[i].out);
    }
    /* Nothing folded: a slice of the input, no allocation. */
    size_t used = arena_used(a);
    struct str in = S("  Hello  ");
    struct str u = mime_unfold(a, in);
    CHECK(u.p == in.p + 2 && u.len == 5);
    CHECK_INT(arena_used(a), used);
    arena_free(a);
}

static void test_cfws(void)
{
    struct str c;
    struct str s = S("  (a (nested) \\) comment) (second)x");
    CHECK_INT(mime_skip_cfws(s, 0, &c), s.len - 1);
    CHECK(str_eq(c, S("second")));
    s = S("(unterminated (comment");
    CHECK_INT(mime_skip_cfws(s, 0, &c), s.len);
    CHECK(str_eq(c, S("unterminated (comment")));
    s = S("x");
    CHECK_INT(mime_skip_cfws(s, 0, &c), 0);
    CHECK(c.p == NULL);
    CHECK_INT(mime_skip_cfws(S("\r\n\t "), 0, NULL), 4);
    /* A backslash at the very end cannot escape past it. */
    s = S("(a\\");
    CHECK_INT(mime_skip_cfws(s, 0, NULL), s.len);
}

static void test_unquote(void)
{
    struct arena *a = arena_new(0);
    size_t end;
    struct str s = S("\"Joe Q. Public\" <x>");
    struct str u = mime_unquote(a, s, 0, &end);
    CHECK(str_eq(u, S("Joe Q. Public")));
    CHECK(u.p == s.p + 1); /* no escapes: a slice */
    CHECK_INT(end, 15);
    s = S("\"Giant; \\\"Big\\\" Box\" rest");
    u = mime_unquote(a, s, 0, &end);
    CHECK(str_eq(u, S("Giant; \"Big\" Box")));
    CHECK_INT(end, 20);
    s = S("\"unterminated");
    u = mime_unquote(a, s, 0, &end);
    CHECK(str_eq(u, S("unterminated")));
    CHECK_INT(end, s.len);
    s = S("\"ends in backslash\\");
    u = mime_unquote(a, s, 0, &end);
    CHECK_INT(end, s.len);
    s = S("\"\"");
    u = mime_unquote(a, s, 0, &end);
    CHECK(u.p && u.len == 0);
    CHECK_INT(end, 2);
    arena_free(a);
}

int main(void)
{
    RUN(test_fields);
    RUN(test_fields_lf_and_edges);
    RUN(test_find);
    RUN(test_unfold);
    RUN(test_cfws);
    RUN(test_unquote);
    return TEST_DONE();
}
