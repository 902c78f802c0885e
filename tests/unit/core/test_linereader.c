/*
 * Unit tests for core/linereader.h: cutting a byte stream into bounded lines.
 */
#include <stdlib.h>
#include <string.h>

#include "core/linereader.h"
#include "test.h"

#define MAX_EVENTS 64

struct event {
    enum line_status st;
    char line[256];
    size_t len;
    long lf; /* offset in the stream of the line's LF, or -1 */
};

static const char *status_name(enum line_status st)
{
    switch (st) {
    case LINE_NONE: return "NONE";
    case LINE_CRLF: return "CRLF";
    case LINE_LF: return "LF";
    case LINE_TOO_LONG: return "TOO_LONG";
    }
    return "?";
}

/* The expected lines of a whole stream, computed the simple way. Returns the
 * number of events; *trailing gets the length of an unfinished last line. */
static int reference(const char *s, size_t len, size_t max, struct event *ev, size_t *trailing)
{
    int n = 0;
    size_t pos = 0;
    *trailing = 0;
    while (pos < len) {
        const char *lf = memchr(s + pos, '\n', len - pos);
        size_t raw = lf ? (size_t)(lf - (s + pos)) : len - pos;
        bool cr = raw > 0 && s[pos + raw - 1] == '\r';
        size_t content = cr ? raw - 1 : raw;
        if (content > max) {
            ev[n].st = LINE_TOO_LONG;
            ev[n].len = max;
        } else if (lf) {
            ev[n].st = cr ? LINE_CRLF : LINE_LF;
            ev[n].len = content;
        } else {
            *trailing = raw;
            break;
        }
        memcpy(ev[n].line, s + pos, ev[n].len);
        ev[n].lf = lf ? (long)(lf - s) : -1;
        n++;
        if (!lf) {
            *trailing = raw;
            break;
        }
        pos += raw + 1;
    }
    return n;
}

/* Feeds s to a fresh reader cut at the offsets in cuts (ascending), and
 * compares every line, status and the input left over with the reference.
 * Returns the number of mismatches (and prints the first). */
static int run_split(const char *s, size_t len, size_t max, const size_t *cuts, int ncuts)
{
    struct event want[MAX_EVENTS];
    size_t trailing;
    int nwant = reference(s, len, max, want, &trailing);
    struct linereader r;
    linereader_init(&r, max);
    int got = 0, bad = 0;
    size_t start = 0;
    for (int c = 0; c <= ncuts && !bad; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        struct str in = { s + start, end - start };
        for (;;) {
            struct str line = { NULL, 12345 };
            enum line_status st = linereader_next(&r, &in, &line);
            if (st == LINE_NONE) {
                if (in.len != 0)
                    bad++;
                break;
            }
            if (got >= nwant) {
                bad++;
                break;
            }
            const struct event *w = &want[got];
            if (st != w->st || line.len != w->len || (line.len && memcmp(line.p, w->line, w->len))) {
                bad++;
            } else if (w->lf >= 0 && (size_t)w->lf < end) {
                /* The bytes after the LF are still in the input. */
                if (in.p != s + w->lf + 1 || in.len != end - (size_t)w->lf - 1)
                    bad++;
            } else if (in.len != 0) {
                bad++;
            }
            if (bad) {
                fprintf(stderr, "  max %zu, event %d: got %s \"%.*s\", want %s \"%.*s\"\n", max, got,
                        status_name(st), (int)(line.p ? line.len : 0), line.p ? line.p : "",
                        status_name(w->st), (int)w->len, w->line);
                break;
            }
            got++;
        }
        start = end;
    }
    if (!bad && got != nwant) {
        fprintf(stderr, "  max %zu: %d lines, want %d\n", max, got, nwant);
        bad++;
    }
    if (!bad && linereader_pending(&r) != (trailing > 0)) {
        fprintf(stderr, "  max %zu: pending %d, want %d\n", max, linereader_pending(&r), trailing > 0);
        bad++;
    }
    if (bad) {
        fprintf(stderr, "  stream \"");
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, s[i] == '\r' ? "\\r" : s[i] == '\n' ? "\\n" : "%c", s[i]);
        fprintf(stderr, "\" cut at");
        for (int c = 0; c < ncuts; c++)
            fprintf(stderr, " %zu", cuts[c]);
        fprintf(stderr, "\n");
    }
    linereader_free(&r);
    return bad;
}

/* Expected lines, as a list of (status, text). */
struct want_line {
    enum line_status st;
    const char *text;
};

/* Feeds chunks (NULL-terminated list) and checks the lines that come out. */
static void check_chunks(size_t max, const char *const *chunks, const struct want_line *want,
                         int nwant, bool pending_after)
{
    struct linereader r;
    linereader_init(&r, max);
    int got = 0;
    for (int c = 0; chunks[c]; c++) {
        struct str in = str_from_cstr(chunks[c]);
        enum line_status st;
        struct str line;
        while ((st = linereader_next(&r, &in, &line)) != LINE_NONE) {
            CHECK(got < nwant);
            if (got >= nwant)
                break;
            CHECK_INT(st, want[got].st);
            CHECK(str_eq_cstr(line, want[got].text));
            if (!str_eq_cstr(line, want[got].text))
                fprintf(stderr, "  line %d: \"%.*s\", want \"%s\"\n", got, (int)line.len, line.p,
                        want[got].text);
            got++;
        }
        CHECK_INT(in.len, 0);
    }
    CHECK_INT(got, nwant);
    CHECK(linereader_pending(&r) == pending_after);
    linereader_free(&r);
}

static void test_terminators(void)
{
    static const struct {
        const char *in;
        struct want_line want[4];
        int n;
        bool pending;
    } cases[] = {
        { "abc\r\n", { { LINE_CRLF, "abc" } }, 1, false },
        { "abc\n", { { LINE_LF, "abc" } }, 1, false },
        { "\r\n", { { LINE_CRLF, "" } }, 1, false },
        { "\n", { { LINE_LF, "" } }, 1, false },
        { "a\rb\n", { { LINE_LF, "a\rb" } }, 1, false },
        { "a\r\r\n", { { LINE_CRLF, "a\r" } }, 1, false },
        { "\r\r\n", { { LINE_CRLF, "\r" } }, 1, false },
        { "a\nb\r\nc\n", { { LINE_LF, "a" }, { LINE_CRLF, "b" }, { LINE_LF, "c" } }, 3, false },
        { "\n\r\n\n", { { LINE_LF, "" }, { LINE_CRLF, "" }, { LINE_LF, "" } }, 3, false },
        { "abc", { { LINE_NONE, NULL } }, 0, true },
        { "abc\r", { { LINE_NONE, NULL } }, 0, true },
        { "\r", { { LINE_NONE, NULL } }, 0, true },
        { "x\r\ny", { { LINE_CRLF, "x" } }, 1, true },
        { "", { { LINE_NONE, NULL } }, 0, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *chunks[] = { cases[i].in, NULL };
        check_chunks(100, chunks, cases[i].want, cases[i].n, cases[i].pending);
    }
}

static void test_in_place_and_rest(void)
{
    struct linereader r;
    linereader_init(&r, 100);
    const char *chunk = "EHLO x\r\nDATA-raw-bytes";
    struct str in = str_from_cstr(chunk);
    struct str line;
    CHECK_INT(linereader_next(&r, &in, &line), LINE_CRLF);
    CHECK(str_eq_cstr(line, "EHLO x"));
    CHECK(line.p == chunk); /* a complete line is not copied */
    /* The bytes after the line are left for the caller (a raw read). */
    CHECK(in.p == chunk + 8);
    CHECK_INT(in.len, 14);
    CHECK(str_eq_cstr(in, "DATA-raw-bytes"));
    CHECK(!linereader_pending(&r));

    /* Same after a line that was completed from a buffered part. */
    struct str a = str_from_cstr("BD");
    CHECK_INT(linereader_next(&r, &a, &line), LINE_NONE);
    CHECK_INT(a.len, 0);
    CHECK(linereader_pending(&r));
    const char *second = "AT 5 LAST\r\nhello";
    struct str b = str_from_cstr(second);
    CHECK_INT(linereader_next(&r, &b, &line), LINE_CRLF);
    CHECK(str_eq_cstr(line, "BDAT 5 LAST"));
    CHECK(b.p == second + 11);
    CHECK(str_eq_cstr(b, "hello"));
    CHECK(!linereader_pending(&r));

    /* And after an over-long line ending in this chunk. */
    linereader_free(&r);
    linereader_init(&r, 3);
    const char *third = "abcdef\r\n{literal}";
    struct str c = str_from_cstr(third);
    CHECK_INT(linereader_next(&r, &c, &line), LINE_TOO_LONG);
    CHECK(str_eq_cstr(line, "abc"));
    CHECK(c.p == third + 8);
    CHECK(str_eq_cstr(c, "{literal}"));
    CHECK(!linereader_pending(&r));

    /* Empty input: nothing happens. */
    struct str empty = { "", 0 };
    CHECK_INT(linereader_next(&r, &empty, &line), LINE_NONE);
    CHECK(!linereader_pending(&r));
    linereader_free(&r);
}

static void test_split_everywhere(void)
{
    const char *s = "abc\r\ndef\n";
    size_t len = strlen(s);
    static const struct want_line want[] = { { LINE_CRLF, "abc" }, { LINE_LF, "def" } };
    /* Two pieces, cut at every offset (0 and len give one empty piece). */
    for (size_t cut = 0; cut <= len; cut++) {
        char first[32], second[32];
        memcpy(first, s, cut);
        first[cut] = '\0';
        strcpy(second, s + cut);
        const char *chunks[] = { first, second, NULL };
        check_chunks(10, chunks, want, 2, false);
        CHECK_INT(run_split(s, len, 10, &cut, 1), 0);
    }
    /* Byte by byte. */
    char bytes[16][2];
    const char *chunks[17];
    for (size_t i = 0; i < len; i++) {
        bytes[i][0] = s[i];
        bytes[i][1] = '\0';
        chunks[i] = bytes[i];
    }
    chunks[len] = NULL;
    check_chunks(10, chunks, want, 2, false);
    size_t cuts[16];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    CHECK_INT(run_split(s, len, 10, cuts, (int)len), 0);
    /* Byte by byte with the tightest limit the lines fit in. */
    CHECK_INT(run_split(s, len, 3, cuts, (int)len), 0);
}

static void test_max_boundary(void)
{
    /* max = 8 */
    static const struct {
        const char *in;
        enum line_status st;
        const char *line;
    } cases[] = {
        { "12345678\r\nnext\r\n", LINE_CRLF, "12345678" },
        { "12345678\nnext\r\n", LINE_LF, "12345678" },
        { "123456789\r\nnext\r\n", LINE_TOO_LONG, "12345678" },
        { "123456789\nnext\r\n", LINE_TOO_LONG, "12345678" },
        { "1234567\r\r\nnext\r\n", LINE_CRLF, "1234567\r" },
        { "12345678\r\r\nnext\r\n", LINE_TOO_LONG, "12345678" },
        { "1234567890abcdefghij\nnext\r\n", LINE_TOO_LONG, "12345678" },
        { "12345678\rX\nnext\r\n", LINE_TOO_LONG, "12345678" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].in;
        size_t len = strlen(s);
        /* Whole, then cut at every offset, then byte by byte. */
        const char *whole[] = { s, NULL };
        struct want_line want[] = { { cases[i].st, cases[i].line }, { LINE_CRLF, "next" } };
        check_chunks(8, whole, want, 2, false);
        int bad = 0;
        for (size_t cut = 0; cut <= len; cut++)
            bad += run_split(s, len, 8, &cut, 1);
        size_t cuts[64];
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        bad += run_split(s, len, 8, cuts, (int)len);
        CHECK_INT(bad, 0);
    }

    /* A line of exactly max bytes whose CR ends one chunk and LF starts the next. */
    const char *cr_split[] = { "12345678\r", "\n", NULL };
    static const struct want_line ok[] = { { LINE_CRLF, "12345678" } };
    check_chunks(8, cr_split, ok, 1, false);
    /* ... while the CR followed by something else makes it too long. */
    const char *cr_then_x[] = { "12345678\r", "x\nnext\n", NULL };
    static const struct want_line too[] = { { LINE_TOO_LONG, "12345678" }, { LINE_LF, "next" } };
    check_chunks(8, cr_then_x, too, 2, false);
}

static void test_too_long_skips_across_chunks(void)
{
    struct linereader r;
    linereader_init(&r, 8);
    struct str line;
    struct str in = STR_LIT("123456789");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_TOO_LONG);
    CHECK_INT(line.len, 8);
    CHECK(str_eq_cstr(line, "12345678"));
    CHECK_INT(in.len, 0);
    CHECK(linereader_pending(&r)); /* skipping to the LF */

    /* The rest of the line, over several chunks, is skipped silently;
     * a CR LF split over two chunks ends it. */
    static const char *const rest[] = { "abcdef", "\r", "ghijklmnopqrstuvwxyz", "\r" };
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        in = str_from_cstr(rest[i]);
        CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
        CHECK_INT(in.len, 0);
        CHECK(linereader_pending(&r));
    }
    in = str_from_cstr("\nQUIT\r\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_CRLF);
    CHECK(str_eq_cstr(line, "QUIT"));
    CHECK_INT(in.len, 0);
    CHECK(!linereader_pending(&r));

    /* Too long once the buffered part and a new chunk are put together. */
    in = str_from_cstr("12345");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
    in = str_from_cstr("6789");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_TOO_LONG);
    CHECK(str_eq_cstr(line, "12345678"));
    in = str_from_cstr("X\r\nnext\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_LF);
    CHECK(str_eq_cstr(line, "next"));

    /* A long line in many chunks of a few bytes reports TOO_LONG once. */
    linereader_free(&r);
    linereader_init(&r, 1000);
    char big[3001];
    memset(big, 'x', 3000);
    big[3000] = '\0';
    int too_long = 0, other = 0;
    for (size_t off = 0; off < 3000; off += 7) {
        in = (struct str){ big + off, off + 7 <= 3000 ? 7 : 3000 - off };
        enum line_status st;
        while ((st = linereader_next(&r, &in, &line)) != LINE_NONE) {
            if (st == LINE_TOO_LONG) {
                too_long++;
                CHECK_INT(line.len, 1000);
            } else {
                other++;
            }
        }
    }
    CHECK_INT(too_long, 1);
    CHECK_INT(other, 0);
    in = str_from_cstr("\r\nend\r\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_CRLF);
    CHECK(str_eq_cstr(line, "end"));
    linereader_free(&r);

    /* A line of exactly 1000 bytes in chunks of 7 is fine. */
    linereader_init(&r, 1000);
    memset(big, 'y', 1000);
    memcpy(big + 1000, "\r\n", 2);
    int lines = 0;
    for (size_t off = 0; off < 1002; off += 7) {
        in = (struct str){ big + off, off + 7 <= 1002 ? 7 : 1002 - off };
        enum line_status st;
        while ((st = linereader_next(&r, &in, &line)) != LINE_NONE) {
            lines++;
            CHECK_INT(st, LINE_CRLF);
            CHECK_INT(line.len, 1000);
            CHECK(line.len == 1000 && memcmp(line.p, big, 1000) == 0);
        }
    }
    CHECK_INT(lines, 1);
    linereader_free(&r);
}

static void test_max_zero(void)
{
    static const struct want_line want[] = {
        { LINE_CRLF, "" }, { LINE_LF, "" }, { LINE_TOO_LONG, "" }, { LINE_TOO_LONG, "" }, { LINE_LF, "" },
    };
    const char *chunks[] = { "\r\n\nx\nxy\r", "z\n\n", NULL };
    check_chunks(0, chunks, want, 5, false);
}

static void test_binary(void)
{
    struct linereader r;
    linereader_init(&r, 10);
    struct str in = { "a\0b\r\n\0\n", 7 };
    struct str line;
    CHECK_INT(linereader_next(&r, &in, &line), LINE_CRLF);
    CHECK_INT(line.len, 3);
    CHECK(line.len == 3 && memcmp(line.p, "a\0b", 3) == 0);
    CHECK_INT(linereader_next(&r, &in, &line), LINE_LF);
    CHECK_INT(line.len, 1);
    CHECK(line.len == 1 && line.p[0] == '\0');
    /* A NUL split over chunks. */
    in = (struct str){ "x\0", 2 };
    CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
    in = (struct str){ "\0y\n", 3 };
    CHECK_INT(linereader_next(&r, &in, &line), LINE_LF);
    CHECK_INT(line.len, 4);
    CHECK(line.len == 4 && memcmp(line.p, "x\0\0y", 4) == 0);
    linereader_free(&r);
}

static void test_reset_and_pending(void)
{
    struct linereader r;
    linereader_init(&r, 8);
    struct str line;
    CHECK(!linereader_pending(&r));

    /* A partial line is dropped by a reset (plaintext before STARTTLS). */
    struct str in = STR_LIT("MAIL FR");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
    CHECK(linereader_pending(&r));
    linereader_reset(&r);
    CHECK(!linereader_pending(&r));
    in = str_from_cstr("QUIT\r\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_CRLF);
    CHECK(str_eq_cstr(line, "QUIT"));

    /* A lone CR is pending too, and is dropped by a reset. */
    in = str_from_cstr("\r");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
    CHECK(linereader_pending(&r));
    linereader_reset(&r);
    CHECK(!linereader_pending(&r));
    in = str_from_cstr("\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_LF);
    CHECK_INT(line.len, 0);

    /* A reset in the middle of skipping an over-long line stops the skipping. */
    in = str_from_cstr("0123456789abc");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_TOO_LONG);
    CHECK(linereader_pending(&r));
    linereader_reset(&r);
    CHECK(!linereader_pending(&r));
    in = str_from_cstr("ok\n");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_LF);
    CHECK(str_eq_cstr(line, "ok"));
    CHECK(!linereader_pending(&r));

    /* Reset of an idle reader is harmless; reset then free. */
    linereader_reset(&r);
    CHECK(!linereader_pending(&r));
    in = str_from_cstr("left");
    CHECK_INT(linereader_next(&r, &in, &line), LINE_NONE);
    linereader_reset(&r);
    linereader_free(&r);
}

/* Every stream of up to 7 bytes over {a, CR, LF}, every way of cutting it
 * into chunks, for several limits, against the reference. */
static void test_exhaustive(void)
{
    static const char alphabet[] = { 'a', '\r', '\n' };
    int bad = 0;
    long runs = 0;
    for (size_t len = 0; len <= 7 && bad < 5; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= 3;
        for (size_t code = 0; code < total && bad < 5; code++) {
            char s[8];
            size_t c = code;
            for (size_t i = 0; i < len; i++) {
                s[i] = alphabet[c % 3];
                c /= 3;
            }
            size_t nsplits = len ? (size_t)1 << (len - 1) : 1;
            for (size_t mask = 0; mask < nsplits; mask++) {
                size_t cuts[8];
                int ncuts = 0;
                for (size_t b = 0; b + 1 < len; b++)
                    if (mask & ((size_t)1 << b))
                        cuts[ncuts++] = b + 1;
                for (size_t max = 0; max <= 4; max++) {
                    bad += run_split(s, len, max, cuts, ncuts);
                    runs++;
                }
            }
        }
    }
    CHECK_INT(bad, 0);
    CHECK(runs > 100000); /* the loops really ran */
}

int main(void)
{
    RUN(test_terminators);
    RUN(test_in_place_and_rest);
    RUN(test_split_everywhere);
    RUN(test_max_boundary);
    RUN(test_too_long_skips_across_chunks);
    RUN(test_max_zero);
    RUN(test_binary);
    RUN(test_reset_and_pending);
    RUN(test_exhaustive);
    return TEST_DONE();
}
