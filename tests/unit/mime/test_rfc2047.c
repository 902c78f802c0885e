/*
 * Unit tests for mime/rfc2047.c: encoded words, with RFC 2047 §8's own
 * examples first.
 */
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

static const struct {
    const char *in, *out;
} cases[] = {
    /* RFC 2047 §8: how whitespace between encoded words goes. */
    { "(=?ISO-8859-1?Q?a?=)", "(a)" },
    { "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
    { "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
    { "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
    { "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
    { "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
    { "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
    /* RFC 2047 §8: the header examples. */
    { "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>" },
    { "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
      "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>" },
    { "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
      "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>" },
    { "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
      "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
      "If you can read this you understand the example." },
    { "=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
      "Olle J\xc3\xa4rnefors <ojarnef@admin.kth.se>" },
    { "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n    "
      "(=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
      "Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n    "
      "(\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9 \xd7\x9f\xd7\x91 \xd7\x99\xd7\x9c\xd7\x98\xd7\xa4"
      "\xd7\xa0)" },
    /* RFC 2231 §5: a language after the charset. */
    { "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
    /* Lower-case encodings; UTF-8; Q with lower-case hex. */
    { "=?utf-8?q?caf=c3=a9?=", "caf\xc3\xa9" },
    { "=?UTF-8?b?4oKs?= 5", "\xe2\x82\xac 5" },
    /* A character split across two words is joined before decoding. */
    { "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
    { "=?utf-8?Q?=E2=82?= =?UTF-8?Q?=AC?=", "\xe2\x82\xac" },
    /* Encoded words next to text without blanks: decoded anyway. */
    { "Re:=?utf-8?q?x?=y", "Re:xy" },
    /* Text between words that is not only blanks stays. */
    { "=?utf-8?q?a?= - =?utf-8?q?b?=", "a - b" },
    /* Malformed: left as they are. */
    { "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
    { "=?utf-8?q?no end", "=?utf-8?q?no end" },
    { "=??q?empty charset?=", "=??q?empty charset?=" },
    { "=?utf-8?b?not base64!?=", "=?utf-8?b?not base64!?=" },
    { "=?utf-8?q?has space?=", "=?utf-8?q?has space?=" },
    { "=?utf-8?q", "=?utf-8?q" },
    { "a =?", "a =?" },
    /* An empty encoded text is fine. */
    { "[=?utf-8?q?\?=]", "[]" },
    /* Q: a bad escape is kept. */
    { "=?utf-8?q?100=?= =?utf-8?q?=4G?=", "100==4G" },
    /* Invalid bytes for the charset become U+FFFD. */
    { "=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd" "b" },
    /* A charset iconv does not know: UTF-8 passes, other bytes as cp1252. */
    { "=?x-nonexistent?q?=E2=82=AC=80?=", "\xe2\x82\xac\xe2\x82\xac" },
    /* A charset name that tries iconv's suffixes is not passed to it. */
    { "=?utf-8//TRANSLIT?q?=E9?=", "\xc3\xa9" },
    /* Other charsets through iconv. */
    { "=?koi8-r?B?89DJ08/LLmRvYw==?=", "\xd0\xa1\xd0\xbf\xd0\xb8\xd1\x81\xd0\xbe\xd0\xba.doc" },
    { "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
    { "=?Shift_JIS?B?g2WDWINn?=", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88" },
    /* Plain text, no encoded word at all. */
    { "just text", "just text" },
    { "", "" },
};

static void test_cases(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str out = mime_decode_words(a, str_from_cstr(cases[i].in));
        char *got = arena_strndup(a, out.p ? out.p : "", out.len);
        if (strcmp(got, cases[i].out) != 0)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].in);
        CHECK_STR(got, cases[i].out);
    }
    arena_free(a);
}

static void test_no_allocation(void)
{
    struct arena *a = arena_new(0);
    struct str in = STR_LIT("Subject without encoded words =? here");
    struct str out = mime_decode_words(a, in);
    CHECK(out.p == in.p && out.len == in.len);
    CHECK_INT(arena_used(a), 0);
    arena_free(a);
}

static void test_nul_and_long(void)
{
    struct arena *a = arena_new(0);
    /* NUL bytes in and around encoded words. */
    static const char in[] = "a\0=?utf-8?q?b=00c?=\0";
    struct str out = mime_decode_words(a, (struct str){ in, sizeof(in) - 1 });
    CHECK_INT(out.len, 6);
    CHECK(memcmp(out.p, "a\0b\0c\0", 6) == 0);

    /* Many adjacent words: linear, and all joined. */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 20000; i++)
        buf_append_cstr(&b, "=?utf-8?q?x?= ");
    out = mime_decode_words(a, buf_str(&b));
    CHECK_INT(out.len, 20000 + 1); /* the final blank is text */
    buf_free(&b);
    arena_free(a);
}

static void test_capped_arena(void)
{
    /* No room in the arena: the input comes back, never a crash. */
    struct arena *a = arena_new(16);
    struct str in = STR_LIT("=?utf-8?q?a_long_enough_decoded_text_to_not_fit?=");
    struct str out = mime_decode_words(a, in);
    CHECK(out.p == in.p);
    arena_free(a);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_no_allocation);
    RUN(test_nul_and_long);
    RUN(test_capped_arena);
    return TEST_DONE();
}
