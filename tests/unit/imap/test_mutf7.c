/* Modified UTF-7 mailbox names (RFC 3501 §5.1.3). */
#include <string.h>

#include "imap/mutf7.h"
#include "test.h"

static void test_round_trips(void)
{
    static const struct { const char *utf8, *mutf7; } cases[] = {
        { "INBOX", "INBOX" },
        { "", "" },
        { "a&b", "a&-b" },
        { "&", "&-" },
        { "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" }, /* RFC 3501 */
        { "Entwürfe", "Entw&APw-rfe" },
        { "Gesendete Objekte", "Gesendete Objekte" },
        { "Корзина", "&BBoEPgRABDcEOAQ9BDA-" },
        { "📧 mail", "&2D3c5w- mail" },
        { "é&ü", "&AOk-&-&APw-" },
        { "tab\there", "tab&AAk-here" },
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *enc = imap_mutf7_encode(a, str_from_cstr(cases[i].utf8));
        CHECK_STR(enc ? enc : "(null)", cases[i].mutf7);
        const char *dec = imap_mutf7_decode(a, str_from_cstr(cases[i].mutf7));
        CHECK_STR(dec ? dec : "(null)", cases[i].utf8);
    }
    arena_free(a);
}

static void test_invalid(void)
{
    static const char *const bad_mutf7[] = {
        "&",            /* unterminated */
        "&AGE",         /* unterminated */
        "&AGE-",        /* encodes "a": printable ASCII must not be shifted */
        "&-&",          /* second shift unterminated */
        "&Jjo!-",       /* not base64 */
        "&U,BTF2-",     /* leftover bits not zero */
        "&2D0-",        /* a lone high surrogate */
        "&3ec-",        /* a lone low surrogate */
        "&AAA-",        /* NUL */
        "caf\xc3\xa9",  /* 8-bit bytes are not modified UTF-7 */
        "a\x01",        /* control */
        "&ZeVnLIqe",    /* unterminated after a full unit */
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
        const char *r = imap_mutf7_decode(a, str_from_cstr(bad_mutf7[i]));
        if (r)
            fprintf(stderr, "  decoded %s\n", bad_mutf7[i]);
        CHECK(r == NULL);
    }
    static const char *const bad_utf8[] = {
        "\xc3",             /* truncated */
        "\xc0\xaf",         /* overlong */
        "\xed\xa0\x80",     /* a surrogate in UTF-8 */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xff",
    };
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++)
        CHECK(imap_mutf7_encode(a, str_from_cstr(bad_utf8[i])) == NULL);
    CHECK(imap_mutf7_encode(a, (struct str){ "a\0b", 3 }) == NULL); /* no NUL in a name */
    arena_free(a);
}

int main(void)
{
    RUN(test_round_trips);
    RUN(test_invalid);
    return TEST_DONE();
}
