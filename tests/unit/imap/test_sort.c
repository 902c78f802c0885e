/*
 * Unit tests for imap/sort.c and imap/thread.c (RFC 5256 SORT and THREAD,
 * RFC 5957 DISPLAYFROM/DISPLAYTO): the base subject, the sent date,
 * Message-IDs, SORT orders and THREAD trees, with every expected answer
 * worked out by hand from the RFC's rules (the comments show the working).
 * Messages are real header blocks parsed with mime_parse, so the keys come
 * from an envelope as they do in the server.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "imap/sort.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *A;

/* ---- the base subject ---- */

static const char *base(const char *subject, bool *reply)
{
    struct str s = imap_base_subject(A, subject ? str_from_cstr(subject) : STR_NULL, reply);
    return arena_strndup(A, s.p, s.len);
}

#define CHECK_BASE(subject, want, want_reply)        \
    do {                                             \
        bool r_ = !(want_reply);                     \
        CHECK_STR(base(subject, &r_), want);         \
        CHECK_INT(r_, want_reply);                   \
    } while (0)

static void test_base_subject(void)
{
    CHECK_BASE("hello", "hello", false);
    CHECK_BASE(NULL, "", false);
    CHECK_BASE("", "", false);
    CHECK_BASE("Re: hello", "hello", true);
    CHECK_BASE("RE: Re[2]: FWD: hello (fwd)", "hello", true);
    CHECK_BASE("Fw: x", "x", true);
    CHECK_BASE("Fwd : x", "x", true);
    CHECK_BASE("Re[PATCH]: x", "x", true);
    /* No colon, or a longer word: not a subj-refwd. */
    CHECK_BASE("Re x", "Re x", false);
    CHECK_BASE("Regarding: x", "Regarding: x", false);
    CHECK_BASE("Fwdx: y", "Fwdx: y", false);
    /* Blobs: before a Re: they go with it (step 3); alone they go only
     * when text is left after them (step 4). */
    CHECK_BASE("[list] Re: hello", "hello", true);
    CHECK_BASE("[a][b] Re: x", "x", true);
    CHECK_BASE("[list] hello", "hello", false);
    CHECK_BASE("[list]", "[list]", false);
    CHECK_BASE("Re: [list]", "[list]", true);
    CHECK_BASE("[a] [b]", "[b]", false);
    /* Trailers (step 2). */
    CHECK_BASE("hello (fwd) (fwd)", "hello", true);
    CHECK_BASE("hello(FWD)", "hello", true);
    CHECK_BASE("(fwd)", "", true);
    CHECK_BASE("Re: (fwd)", "", true);
    CHECK_BASE("re:", "", true);
    CHECK_BASE("hello (fwd) world", "hello (fwd) world", false);
    /* [fwd: ...] (step 6), then again from step 2. */
    CHECK_BASE("[fwd: hello world]", "hello world", true);
    CHECK_BASE("[Fwd: Re: [x] hi] (fwd)", "hi", true);
    CHECK_BASE("Re: Re: [fwd: [PATCH] x]", "x", true);
    CHECK_BASE("[fwd: x] y", "y", false); /* step 4 took the blob first */
    /* White space (step 1): tabs, folding, runs. */
    CHECK_BASE("  Hello\t  World  ", "Hello World", false);
    CHECK_BASE("Re:\r\n\tfolded   subject", "folded subject", true);
    /* Encoded words are decoded before anything else (step 1). */
    CHECK_BASE("=?UTF-8?B?UmU6IGjDqWxsbw==?=", "h\xc3\xa9llo", true);
    CHECK_BASE("=?ISO-8859-1?Q?[t=E9st]?= =?UTF-8?Q?Re=3A_x?=", "x", true);
    /* 8-bit text inside a blob (UTF-8 after step 1). */
    CHECK_BASE("[\xc3\xa9t\xc3\xa9] Re: y", "y", true);
}

/* ---- the sent date ---- */

static bool date(const char *s, int64_t *t)
{
    *t = -12345;
    return imap_sent_date(s ? str_from_cstr(s) : STR_NULL, t);
}

static void test_sent_date(void)
{
    int64_t t;
    CHECK(date("Tue, 24 Nov 2026 19:31:38 +0100", &t));
    CHECK_INT(t, 1795545098); /* 18:31:38 UTC */
    /* RFC 5256 §2.2's example: 1 Jan 2001 00:01:33 UTC. */
    CHECK(date("31 Dec 2000 16:01:33 -0800", &t));
    CHECK_INT(t, 978307293);
    CHECK(date("Mon, 1 Jan 2001 00:00:00 PST", &t));
    CHECK_INT(t, 978336000);
    CHECK(date("Mon, 1 Jan 2001 00:00:00 +0000 (UTC)", &t));
    CHECK_INT(t, 978307200);
    CHECK(date("Mon,1 Jan 2001 00:00 GMT", &t));
    CHECK_INT(t, 978307200);
    CHECK(date("1 Jan 01 00:00:00 +0000", &t)); /* two-digit years */
    CHECK_INT(t, 978307200);
    CHECK(date("1 Jan 99 00:00:00 +0000", &t));
    CHECK_INT(t, 915148800);
    CHECK(date("  1   jan   2001   10:00:00  ", &t)); /* no zone: UTC */
    CHECK_INT(t, 978343200);
    CHECK(date("1 Jan 2001 10:00:00 +99x", &t)); /* a bad zone: UTC */
    CHECK_INT(t, 978343200);
    CHECK(date("1 Jan 2001 10:00:00 -0060", &t)); /* minutes past 59 */
    CHECK_INT(t, 978343200);
    CHECK(date("Tue, 24 Nov 2026", &t)); /* no time: 00:00:00 */
    CHECK_INT(t, 1795478400);
    CHECK(date("Tue, 24 Nov 2026 25:61:00", &t)); /* a bad time too */
    CHECK_INT(t, 1795478400);
    CHECK(date("1 Jan 1970 00:00:00 +0100", &t)); /* before the epoch */
    CHECK_INT(t, -3600);
    CHECK(date("1 Mar 1900 00:00:00 +0000", &t));
    CHECK_INT(t, -2203891200LL);
    /* No date at all: the caller falls back to INTERNALDATE; *t untouched. */
    CHECK(!date(NULL, &t));
    CHECK(!date("", &t));
    CHECK(!date("not a date", &t));
    CHECK(!date("Tue, 32 Nov 2026 10:00:00 +0000", &t));
    CHECK(!date("Tue, 24 Foo 2026 10:00:00 +0000", &t));
    CHECK(!date("Tue, 24 Nov -5 10:00:00 +0000", &t));
    CHECK(!date("Tue, 24 Nov", &t));
    CHECK_INT(t, -12345);
}

/* ---- Message-IDs ---- */

static const char *ids(const char *v)
{
    struct str *id;
    uint32_t n = imap_msgids(A, v ? str_from_cstr(v) : STR_NULL, &id);
    struct buf b;
    buf_init(&b, 0);
    for (uint32_t i = 0; i < n; i++)
        buf_printf(&b, "%s%.*s", i ? " " : "", (int)id[i].len, id[i].p);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static void test_msgids(void)
{
    CHECK_STR(ids("<a@b> <c@d>"), "a@b c@d");
    CHECK_STR(ids("(comment) <a@b>\r\n\t<c@d>junk<e@f>"), "a@b c@d e@f");
    /* RFC 5256: quoting differences are no difference. */
    CHECK_STR(ids("<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>"), "01KF8JCEOCBS0045PS@xxx.yyy.com");
    CHECK_STR(ids("<\"a\\\"b\"@c>"), "a\"b@c");
    CHECK_STR(ids("< a@b >"), "a@b");
    /* Not valid: no '@', nothing on one side, unterminated. */
    CHECK_STR(ids("<nodomain> <@x> <x@> <>"), "");
    CHECK_STR(ids("junk <a@b"), "");
    CHECK_STR(ids("<a<b@c>"), "b@c");
    CHECK_STR(ids(NULL), "");
    CHECK_STR(ids("a@b"), "");
    /* Case matters (RFC 5256: comparisons are case-sensitive). */
    CHECK_STR(ids("<A@B>"), "A@B");
}

/* ---- messages ---- */

/* A message from its header fields ("\n" between fields), with its keys. */
static struct imap_sort_msg mk(uint32_t seq, int64_t arrival, uint64_t size, const char *fields)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = fields; *p; p++) {
        if (*p == '\n')
            buf_append_cstr(&b, "\r\n");
        else
            buf_append_char(&b, *p);
    }
    buf_append_cstr(&b, "\r\n\r\nbody\r\n");
    struct str msg = arena_str(A, buf_str(&b));
    buf_free(&b);
    struct mime_part *root = mime_parse(A, msg, NULL);
    struct imap_sort_msg m = { .seq = seq, .num = seq, .arrival = arrival, .size = size };
    struct mime_field f;
    struct str refs = STR_NULL;
    if (mime_header_find((struct str){ msg.p, root->header_len }, "References", &f))
        refs = mime_unfold(A, f.value);
    imap_sort_msg_keys(A, &m, root->envelope, refs);
    return m;
}

static void test_keys(void)
{
    struct imap_sort_msg m = mk(1, 500, 10,
                                "From: =?UTF-8?Q?=C3=89mile?= <Emile@X.test>, b@y.test\n"
                                "To: Undisclosed recipients:;\n"
                                "Cc: carl@w.test\n"
                                "Subject: Re: [list] hi\n"
                                "Date: 31 Dec 2000 16:01:33 -0800\n"
                                "Message-ID: <\"m\"@x>\n"
                                "In-Reply-To: <p@x>\n"
                                "References: <r1@x>\n <r2@x>");
    CHECK_STR(m.from.p, "Emile");
    CHECK_STR(m.display_from.p, "\xc3\x89mile");
    CHECK_STR(m.to.p, "Undisclosed recipients"); /* a group: its name */
    CHECK_STR(m.display_to.p, "Undisclosed recipients");
    CHECK_STR(m.cc.p, "carl");
    CHECK_STR(m.subject.p, "hi");
    CHECK(m.reply);
    CHECK_INT(m.date, 978307293);
    CHECK_STR(m.message_id.p, "m@x");
    CHECK_INT(m.n_refs, 2); /* References wins over In-Reply-To */
    CHECK_STR(m.refs[1].p, "r2@x");

    m = mk(2, 500, 10, "From: alice@x.test\nIn-Reply-To: <p@x> <q@x>\nReferences: junk\n"
                       "Date: yesterday");
    CHECK_STR(m.display_from.p, "alice@x.test"); /* no display name: the addr-spec */
    CHECK_STR(m.to.p, "");
    CHECK_INT(m.date, 500);   /* Date does not parse: INTERNALDATE */
    CHECK(m.message_id.p == NULL);
    CHECK_INT(m.n_refs, 1);   /* the first valid In-Reply-To */
    CHECK_STR(m.refs[0].p, "p@x");

    m = mk(3, -7, 10, "X-Nothing: here");
    CHECK_INT(m.date, -7);
    CHECK_STR(m.subject.p, "");
    CHECK(!m.reply);
    CHECK_STR(m.from.p, "");
    CHECK_STR(m.display_from.p, "");
    CHECK_INT(m.n_refs, 0);

    /* A sender's thousand references: only the last IMAP_THREAD_MAX_REFS. */
    struct buf many;
    buf_init(&many, 0);
    buf_append_cstr(&many, "References:");
    for (int i = 0; i < 1000; i++)
        buf_printf(&many, " <r%d@x>", i);
    m = mk(5, 1, 10, buf_cstr(&many));
    buf_free(&many);
    CHECK_INT(m.n_refs, IMAP_THREAD_MAX_REFS);
    CHECK_STR(m.refs[0].p, "r936@x");
    CHECK_STR(m.refs[IMAP_THREAD_MAX_REFS - 1].p, "r999@x");

    /* No envelope at all (an unreadable message). */
    struct imap_sort_msg z = { .seq = 4, .arrival = 99 };
    imap_sort_msg_keys(A, &z, NULL, STR_NULL);
    CHECK_INT(z.date, 99);
    CHECK_STR(z.subject.p, "");
    CHECK_STR(z.cc.p, "");
}

/* ---- SORT ---- */

static struct imap_sort_msg S[5];

static const char *sorted(const char *spec)
{
    /* spec: "REVERSE SIZE SUBJECT ..." */
    static const struct { const char *name; enum imap_sort_key key; } names[] = {
        { "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
        { "DATE", IMAP_SORT_DATE },       { "FROM", IMAP_SORT_FROM },
        { "SIZE", IMAP_SORT_SIZE },       { "SUBJECT", IMAP_SORT_SUBJECT },
        { "TO", IMAP_SORT_TO },           { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
        { "DISPLAYTO", IMAP_SORT_DISPLAYTO },
    };
    struct imap_sort_criterion c[8];
    uint32_t nc = 0;
    bool reverse = false;
    char *copy = arena_strdup(A, spec), *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (strcmp(w, "REVERSE") == 0) {
            reverse = true;
            continue;
        }
        size_t i = 0;
        while (strcmp(names[i].name, w) != 0)
            i++;
        c[nc++] = (struct imap_sort_criterion){ names[i].key, reverse };
        reverse = false;
    }
    const struct imap_sort_msg *v[5];
    for (int i = 0; i < 5; i++)
        v[i] = &S[i];
    imap_sort(v, 5, c, nc);
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 5; i++)
        buf_printf(&b, "%s%u", i ? " " : "", v[i]->num);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static void test_sort(void)
{
    /*      arrival size sent date (UTC)       base subject  from   to           cc
     *  1   1000    300  2023-01-02 10:00      banana        zed    bob          -
     *  2    900    100  (none: 900)           apple         alice  carol "Zoe"  -
     *  3   1100    200  2023-01-02 09:00      Cherry        Bob    group        dave
     *  4   1000    200  (bad: 1000)           APPLE         emile  alice        carl
     *  5    800    400  2023-01-02 04:00      ""            -      -            -
     */
    S[0] = mk(1, 1000, 300, "Date: Mon, 02 Jan 2023 10:00:00 +0000\nSubject: Re: banana\n"
                            "From: Zed <zed@x.test>\nTo: bob@y.test");
    S[1] = mk(2, 900, 100, "Subject: apple\nFrom: alice@x.test\nTo: Zoe <carol@z.test>");
    S[2] = mk(3, 1100, 200, "Date: Mon, 02 Jan 2023 11:00:00 +0200\nSubject: [list] Cherry\n"
                            "From: \"Bob\" <Bob@x.test>\nTo: Undisclosed:;\nCc: dave@w.test");
    S[3] = mk(4, 1000, 200, "Date: garbage\nSubject: APPLE\n"
                            "From: =?UTF-8?Q?=C3=89mile?= <emile@x.test>\nTo: alice@y.test\n"
                            "Cc: Carl <carl@w.test>");
    S[4] = mk(5, 800, 400, "Date: Sun, 01 Jan 2023 23:00:00 -0500");
    /* Ties go by sequence number, also under REVERSE (1 before 4). */
    CHECK_STR(sorted("ARRIVAL"), "5 2 1 4 3");
    CHECK_STR(sorted("REVERSE ARRIVAL"), "3 1 4 2 5");
    CHECK_STR(sorted("SIZE"), "2 3 4 1 5");
    CHECK_STR(sorted("REVERSE SIZE"), "5 1 3 4 2");
    CHECK_STR(sorted("DATE"), "2 4 5 3 1");
    CHECK_STR(sorted("REVERSE DATE"), "1 3 5 4 2");
    /* "" < APPLE = apple < BANANA < CHERRY (i;ascii-casemap). */
    CHECK_STR(sorted("SUBJECT"), "5 2 4 1 3");
    CHECK_STR(sorted("SUBJECT REVERSE DATE"), "5 4 2 1 3");
    CHECK_STR(sorted("FROM"), "5 2 3 4 1");
    CHECK_STR(sorted("TO"), "5 4 1 2 3");
    CHECK_STR(sorted("CC"), "1 2 5 4 3");
    CHECK_STR(sorted("CC SUBJECT"), "5 2 1 4 3");
    CHECK_STR(sorted("REVERSE CC SUBJECT"), "3 4 5 2 1");
    /* "", alice@x.test, Bob, Zed, then "\xc3\x89mile" (8-bit sorts last). */
    CHECK_STR(sorted("DISPLAYFROM"), "5 2 3 1 4");
    CHECK_STR(sorted("DISPLAYTO"), "5 4 1 3 2");
    CHECK_STR(sorted("REVERSE DISPLAYTO"), "2 3 1 4 5");
    CHECK_STR(sorted("SIZE REVERSE ARRIVAL"), "2 3 4 1 5");
    CHECK_STR(sorted("REVERSE SIZE REVERSE SUBJECT"), "5 1 3 4 2");
}

static void test_casemap(void)
{
    CHECK_INT(imap_casemap_cmp(STR_LIT("abc"), STR_LIT("ABC")), 0);
    CHECK(imap_casemap_cmp(STR_LIT("ab"), STR_LIT("ABC")) < 0);
    /* a-z map to A-Z, so 'a' (as 'A', 0x41) sorts before '[' (0x5b);
     * strcasecmp's lowercase mapping would say the opposite. */
    CHECK(imap_casemap_cmp(STR_LIT("a"), STR_LIT("[")) < 0);
    CHECK(imap_casemap_cmp(STR_LIT("_"), STR_LIT("a")) > 0);
    CHECK(imap_casemap_cmp(STR_LIT("z"), STR_LIT("\xc3\xa9")) < 0);
}

/* ---- THREAD ---- */

static const char *threads(struct imap_sort_msg *m, uint32_t n, enum imap_thread_alg alg)
{
    struct buf b;
    buf_init(&b, 0);
    imap_thread(A, m, n, alg, &b);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

/* Message i's Date: 2023-01-<day> <hour>:00. */
static const char *day(int d, int h)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "Date: %d Jan 2023 %02d:00:00 +0000", d, h);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static struct imap_sort_msg mkt(uint32_t seq, const char *date_field, const char *fields)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s\n%s", date_field, fields);
    struct imap_sort_msg m = mk(seq, 1000000 + seq, 100, buf_cstr(&b));
    buf_free(&b);
    return m;
}

static void test_orderedsubject(void)
{
    struct imap_sort_msg m[9];
    m[0] = mkt(1, day(2, 10), "Subject: foo");
    m[1] = mkt(2, day(2, 9), "Subject: Re: foo");  /* earlier than 1 */
    m[2] = mkt(3, day(1, 0), "Subject: bar");
    m[3] = mkt(4, day(3, 0), "Subject: Re: foo");
    m[4] = mkt(5, day(4, 0), "Subject: RE: FOO");
    m[5] = mkt(6, day(5, 0), "Subject: baz");
    m[6] = mkt(7, day(6, 0), "Subject: qux");
    m[7] = mkt(8, day(7, 0), "Subject: Re: qux");
    m[8] = mkt(9, "X-No-Date: 1", "Subject: [x] (fwd)"); /* base "[x]"; date 1000009 (1970) */
    /* By base subject, then date: bar: 3; baz: 6; foo: 2 1 4 5; qux: 7 8;
     * [x]: 9. Threads by their first message's date: 9 (1970), 3 (Jan 1),
     * 2 (Jan 2 9:00), 6, 7. The first message is the parent of all the
     * others; one child needs no parentheses. */
    CHECK_STR(threads(m, 9, IMAP_THREAD_ORDEREDSUBJECT), "(9)(3)(2 (1)(4)(5))(6)(7 8)");
    CHECK_STR(threads(m, 1, IMAP_THREAD_ORDEREDSUBJECT), "(1)");
    CHECK_STR(threads(m, 0, IMAP_THREAD_ORDEREDSUBJECT), "");
    /* Same date: sequence order. */
    struct imap_sort_msg t[3];
    t[0] = mkt(1, day(1, 0), "Subject: same");
    t[1] = mkt(2, day(1, 0), "Subject: Re: same");
    t[2] = mkt(3, day(1, 0), "Subject: other");
    CHECK_STR(threads(t, 3, IMAP_THREAD_ORDEREDSUBJECT), "(1 2)(3)");
}

static void test_references_links(void)
{
    /* 1 <- 2 <- 3, 1 <- 4: "(1 (2 3)(4))". */
    struct imap_sort_msg a[4];
    a[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: a");
    a[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <1@x>\nSubject: Re: a");
    a[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <1@x> <2@x>\nSubject: Re: a");
    a[3] = mkt(4, day(4, 0), "Message-ID: <4@x>\nIn-Reply-To: <1@x>\nSubject: Re: a");
    CHECK_STR(threads(a, 4, IMAP_THREAD_REFERENCES), "(1 (2 3)(4))");

    /* Children are sorted by sent date, not by sequence: 4 is older. */
    a[3] = mkt(4, day(1, 12), "Message-ID: <4@x>\nIn-Reply-To: <1@x>\nSubject: Re: a");
    CHECK_STR(threads(a, 4, IMAP_THREAD_REFERENCES), "(1 (4)(2 3))");

    /* In-Reply-To counts only without a valid References; its first valid
     * ID is the parent. */
    struct imap_sort_msg b[3];
    b[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: b1");
    b[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nIn-Reply-To: <1@x> (x) <zz@x>\nSubject: b2");
    b[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: garbage\nIn-Reply-To: <2@x>\n"
                             "Subject: b3");
    CHECK_STR(threads(b, 3, IMAP_THREAD_REFERENCES), "(1 2 3)");

    /* A duplicated Message-ID stays with the first message; the second
     * gets a unique one, and references find the first. */
    struct imap_sort_msg d[3];
    d[0] = mkt(1, day(1, 0), "Message-ID: <d@x>\nSubject: x1");
    d[1] = mkt(2, day(2, 0), "Message-ID: <d@x>\nSubject: x2");
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <d@x>\nSubject: Re: x1");
    CHECK_STR(threads(d, 3, IMAP_THREAD_REFERENCES), "(1 3)(2)");

    /* Message-IDs compare case-sensitively. */
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <D@x>\nSubject: Re: x3");
    CHECK_STR(threads(d, 3, IMAP_THREAD_REFERENCES), "(1)(2)(3)");

    /* Quoting differences are normalized away. */
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <\"d\"@x>\nSubject: Re: x1");
    CHECK_STR(threads(d, 3, IMAP_THREAD_REFERENCES), "(1 3)(2)");
}

static void test_references_dummies(void)
{
    /* A missing parent: a dummy at the top with one child, which takes its
     * place; a dummy with two children stays: "((2)(3))". */
    struct imap_sort_msg a[3];
    a[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nReferences: <0@x>\nSubject: b");
    a[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <9@x>\nSubject: c");
    a[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <9@x>\nSubject: d");
    CHECK_STR(threads(a, 1, IMAP_THREAD_REFERENCES), "(1)");
    CHECK_STR(threads(a, 3, IMAP_THREAD_REFERENCES), "(1)((2)(3))");

    /* A dummy below a message: its children take its place. 1 <- [m] <- 2
     * is "(1 2)"; with 3 also below [m], "(1 (2)(3))". */
    struct imap_sort_msg b[3];
    b[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: e");
    b[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <1@x> <m@x>\nSubject: Re: e");
    b[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <1@x> <m@x>\nSubject: Re: e");
    CHECK_STR(threads(b, 2, IMAP_THREAD_REFERENCES), "(1 2)");
    CHECK_STR(threads(b, 3, IMAP_THREAD_REFERENCES), "(1 (2)(3))");

    /* Dummies in a row below a dummy at the top: [p] <- [q] <- 1, [p] <- 2:
     * [q] goes (1 moves up to [p]), and [p] keeps its two children. */
    struct imap_sort_msg c[2];
    c[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nReferences: <p@x> <q@x>\nSubject: f1");
    c[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <p@x>\nSubject: f2");
    CHECK_STR(threads(c, 2, IMAP_THREAD_REFERENCES), "((1)(2))");
    /* ...and with only 1: [p] <- [q] <- 1 is "(1)". */
    CHECK_STR(threads(c, 1, IMAP_THREAD_REFERENCES), "(1)");

    /* A dummy sorts at the top by its oldest child: [p]'s children 3
     * (Jan 1) and 2 (Jan 5) put it before 1 (Jan 3). */
    struct imap_sort_msg e[3];
    e[0] = mkt(1, day(3, 0), "Message-ID: <1@x>\nSubject: g1");
    e[1] = mkt(2, day(5, 0), "Message-ID: <2@x>\nReferences: <p@x>\nSubject: g2");
    e[2] = mkt(3, day(1, 0), "Message-ID: <3@x>\nReferences: <p@x>\nSubject: g3");
    CHECK_STR(threads(e, 3, IMAP_THREAD_REFERENCES), "((3)(2))(1)");
}

static void test_references_loops(void)
{
    /* Two messages that reference each other: 1 (a) says b is its parent,
     * 2 (b) says a is: linking a above b would close the loop, so 2 is
     * the root although 1 is older. */
    struct imap_sort_msg a[2];
    a[0] = mkt(1, day(1, 0), "Message-ID: <a@x>\nReferences: <b@x>\nSubject: l1");
    a[1] = mkt(2, day(2, 0), "Message-ID: <b@x>\nReferences: <a@x>\nSubject: l2");
    CHECK_STR(threads(a, 2, IMAP_THREAD_REFERENCES), "(2 1)");

    /* A loop inside one References field: b <- c, then c <- b is refused;
     * the last reference (b) is the parent of 1. [c] has no children left
     * and goes; [b] at the top with one child gives way to it. */
    struct imap_sort_msg b[1];
    b[0] = mkt(1, day(1, 0), "Message-ID: <a@x>\nReferences: <b@x> <c@x> <b@x>\nSubject: l3");
    CHECK_STR(threads(b, 1, IMAP_THREAD_REFERENCES), "(1)");

    /* A message that references itself. */
    b[0] = mkt(1, day(1, 0), "Message-ID: <a@x>\nReferences: <a@x>\nSubject: l4");
    CHECK_STR(threads(b, 1, IMAP_THREAD_REFERENCES), "(1)");

    /* Three messages in a ring: 1 (a) -> c, 2 (b) -> a, 3 (c) -> b. 1 goes
     * under [c]; 2 under 1; 3 (c, 1's parent) cannot go under 2, its
     * descendant: 3 is the root. */
    struct imap_sort_msg c[3];
    c[0] = mkt(1, day(1, 0), "Message-ID: <a@x>\nIn-Reply-To: <c@x>\nSubject: r1");
    c[1] = mkt(2, day(2, 0), "Message-ID: <b@x>\nIn-Reply-To: <a@x>\nSubject: r2");
    c[2] = mkt(3, day(3, 0), "Message-ID: <c@x>\nIn-Reply-To: <b@x>\nSubject: r3");
    CHECK_STR(threads(c, 3, IMAP_THREAD_REFERENCES), "(3 1 2)");

    /* A truncated References: 2 says 1 <- 3 <- 2, but 3 itself names 9 as
     * its parent (step 1.B breaks the old link): 1 alone, and [9] <- 3 <- 2
     * with [9] giving way. */
    struct imap_sort_msg d[3];
    d[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: s1");
    d[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <1@x> <3@x>\nSubject: s2");
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <9@x>\nSubject: s3");
    CHECK_STR(threads(d, 3, IMAP_THREAD_REFERENCES), "(1)(3 2)");
    /* ...and without any reference, 3 loses its parent all the same. */
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nSubject: s3");
    CHECK_STR(threads(d, 3, IMAP_THREAD_REFERENCES), "(1)(3 2)");
    /* Step 1.A never moves a message that has a parent: 3 <- 2 from the
     * first References stays although a later one says 1 <- 2. */
    struct imap_sort_msg e[4];
    e[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: t1");
    e[1] = mkt(2, day(2, 0), "Message-ID: <3@x>\nSubject: t3");
    e[2] = mkt(3, day(3, 0), "Message-ID: <x@x>\nReferences: <3@x> <2@x> <x0@x>\nSubject: t4");
    e[3] = mkt(4, day(4, 0), "Message-ID: <y@x>\nReferences: <1@x> <2@x> <y0@x>\nSubject: t5");
    /* [2] under 2 (<3@x>); [x0] <- 3 and [y0] <- 4 under [2]: dummies go,
     * so 2 <- 3, 2 <- 4; 1 alone. */
    CHECK_STR(threads(e, 4, IMAP_THREAD_REFERENCES), "(1)(2 (3)(4))");
}

static void test_references_subjects(void)
{
    /* Step 5: 2 lost its parent; it is a reply to "hello", so it goes
     * under 1; 3 is another "hello", not a reply: 1 and 3 go under a new
     * dummy. */
    struct imap_sort_msg a[3];
    a[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: hello");
    a[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nReferences: <lost@x>\nSubject: Re: hello");
    a[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nSubject: hello");
    CHECK_STR(threads(a, 3, IMAP_THREAD_REFERENCES), "((1 2)(3))");
    CHECK_STR(threads(a, 2, IMAP_THREAD_REFERENCES), "(1 2)");

    /* Two replies with the same subject and no original: a dummy. */
    struct imap_sort_msg b[2];
    b[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: Re: lonely");
    b[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nSubject: Re: lonely");
    CHECK_STR(threads(b, 2, IMAP_THREAD_REFERENCES), "((1)(2))");

    /* The original arrives later than the reply: the reply is first in
     * the table, the original replaces it (a message rather than a
     * reply), and the reply goes under it. */
    b[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: Re: late");
    b[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nSubject: late");
    CHECK_STR(threads(b, 2, IMAP_THREAD_REFERENCES), "(2 1)");

    /* A dummy wins the table; a message joins it as a child; another
     * dummy's children join it too. [p]: 1, 2; [q]: 3, 4; 5 is the
     * original and the oldest. */
    struct imap_sort_msg c[5];
    c[0] = mkt(1, day(2, 0), "Message-ID: <1@x>\nReferences: <p@x>\nSubject: Re: topic");
    c[1] = mkt(2, day(3, 0), "Message-ID: <2@x>\nReferences: <p@x>\nSubject: Re: topic");
    c[2] = mkt(3, day(4, 0), "Message-ID: <3@x>\nReferences: <q@x>\nSubject: Re: topic");
    c[3] = mkt(4, day(5, 0), "Message-ID: <4@x>\nReferences: <q@x>\nSubject: Re: topic");
    c[4] = mkt(5, day(1, 0), "Message-ID: <5@x>\nSubject: topic");
    CHECK_STR(threads(c, 5, IMAP_THREAD_REFERENCES), "((5)(1)(2)(3)(4))");

    /* Subjects compare case-insensitively; empty subjects never join. */
    struct imap_sort_msg d[4];
    d[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: Case");
    d[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nSubject: RE: CASE");
    d[2] = mkt(3, day(3, 0), "Message-ID: <3@x>");
    d[3] = mkt(4, day(4, 0), "Message-ID: <4@x>\nSubject: Re:");
    CHECK_STR(threads(d, 4, IMAP_THREAD_REFERENCES), "(1 2)(3)(4)");

    /* Only the top level joins: 3 is "hello" below 2, and stays there. */
    struct imap_sort_msg e[3];
    e[0] = mkt(1, day(1, 0), "Message-ID: <1@x>\nSubject: hello");
    e[1] = mkt(2, day(2, 0), "Message-ID: <2@x>\nSubject: other");
    e[2] = mkt(3, day(3, 0), "Message-ID: <3@x>\nReferences: <2@x>\nSubject: hello");
    CHECK_STR(threads(e, 3, IMAP_THREAD_REFERENCES), "(1)(2 3)");

    /* Missing Date: the INTERNALDATE (1970 here) puts 2 first. */
    struct imap_sort_msg f[2];
    f[0] = mkt(1, day(5, 0), "Message-ID: <1@x>\nSubject: u1");
    f[1] = mkt(2, "X-Date: none", "Message-ID: <2@x>\nSubject: u2");
    CHECK_STR(threads(f, 2, IMAP_THREAD_REFERENCES), "(2)(1)");
}

/* Built without parsing: n messages, each the reply of the one before (a
 * chain n deep), or n replies to one missing message. */
static struct imap_sort_msg *many(uint32_t n, bool chain)
{
    struct imap_sort_msg *m = arena_zalloc(A, n * sizeof(*m));
    for (uint32_t i = 0; i < n; i++) {
        m[i].seq = m[i].num = i + 1;
        m[i].date = m[i].arrival = 1000 + i;
        m[i].subject = STR_LIT("s");
        m[i].reply = i > 0;
        char *id = arena_alloc(A, 32);
        snprintf(id, 32, "%u@x", i + 1);
        m[i].message_id = str_from_cstr(id);
        m[i].refs = arena_alloc(A, sizeof(struct str));
        m[i].refs[0] = chain ? (i ? m[i - 1].message_id : STR_LIT("root@x")) : STR_LIT("p@x");
        m[i].n_refs = 1;
    }
    return m;
}

static void test_big(void)
{
    /* A chain 200,000 deep: no recursion anywhere, and linear enough. */
    uint32_t n = 200000;
    struct imap_sort_msg *m = many(n, true);
    struct buf want;
    buf_init(&want, 0);
    buf_append_char(&want, '(');
    for (uint32_t i = 1; i <= n; i++)
        buf_printf(&want, "%s%u", i > 1 ? " " : "", i);
    buf_append_char(&want, ')');
    CHECK(strcmp(threads(m, n, IMAP_THREAD_REFERENCES), buf_cstr(&want)) == 0);
    buf_free(&want);

    /* 100,000 siblings below one missing parent: "((1)(2)...)". */
    n = 100000;
    m = many(n, false);
    const char *s = threads(m, n, IMAP_THREAD_REFERENCES);
    CHECK(strncmp(s, "((1)(2)(3)", 10) == 0);
    CHECK(strlen(s) > 9 && strcmp(s + strlen(s) - 9, "(100000))") == 0);

    /* ORDEREDSUBJECT over the same: one thread. */
    s = threads(m, n, IMAP_THREAD_ORDEREDSUBJECT);
    CHECK(strncmp(s, "(1 (2)(3)", 9) == 0);
}

/* ---- random input: no crash, no hang, always a well-formed answer ---- */

static unsigned long rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rnd_state >> 33) % n;
}

static const char *rnd_text(const char *const *parts, unsigned nparts, unsigned max)
{
    struct buf b;
    buf_init(&b, 0);
    for (unsigned i = rnd(max); i > 0; i--)
        buf_append_cstr(&b, parts[rnd(nparts)]);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

/* RFC 5256's grammar: thread-list = "(" (thread-members / thread-nested)
 * ")"; thread-members = nz-number *(SP nz-number) [SP thread-nested];
 * thread-nested = 2*thread-list. Marks each number seen in `seen`. */
static bool thread_list(const char **p, uint32_t n, unsigned char *seen);

static bool thread_nested(const char **p, uint32_t n, unsigned char *seen)
{
    int k = 0;
    while (**p == '(') {
        if (!thread_list(p, n, seen))
            return false;
        k++;
    }
    return k >= 2;
}

static bool thread_list(const char **p, uint32_t n, unsigned char *seen)
{
    if (*(*p)++ != '(')
        return false;
    if (**p == '(') {
        if (!thread_nested(p, n, seen))
            return false;
    } else {
        for (;;) {
            char *end;
            unsigned long v = strtoul(*p, &end, 10);
            if (end == *p || v == 0 || v > n || seen[v])
                return false;
            seen[v] = 1;
            *p = end;
            if (**p != ' ')
                break;
            (*p)++;
            if (**p == '(') {
                if (!thread_nested(p, n, seen))
                    return false;
                break;
            }
        }
    }
    return *(*p)++ == ')';
}

static bool well_formed(const char *s, uint32_t n)
{
    unsigned char seen[64] = { 0 };
    while (*s)
        if (!thread_list(&s, n, seen))
            return false;
    for (uint32_t i = 1; i <= n; i++)
        if (!seen[i])
            return false;
    return true;
}

static void test_random(void)
{
    static const char *const subj[] = { "Re", "re", ":", " ", "\t", "[", "]", "fwd", "Fw",
                                        "(fwd)", "[fwd:", "a", "b", "x y", "\xc3\xa9", "=?",
                                        "?=", "d" };
    static const char *const dates[] = { "Mon,", " ", "1", "31", "Jan", "dec", "2023", "99",
                                         "10:00", ":", "00", "+0100", "-", "PST", "(", ")",
                                         ",", "x" };
    static const char *const idparts[] = { "<", ">", "@", "a", "b", "\"", "\\", " ", "x" };
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        const char *s = rnd_text(subj, sizeof(subj) / sizeof(subj[0]), 12);
        bool reply;
        struct str b1 = imap_base_subject(A, str_from_cstr(s), &reply);
        if (strstr(s, "=?"))
            continue; /* decoding twice may decode what the first decoded */
        /* A base subject is its own base subject, and no reply. */
        struct str b2 = imap_base_subject(A, b1, &reply);
        if (!str_eq(b1, b2) || reply) {
            if (bad++ < 5)
                fprintf(stderr, "base subject of \"%s\": \"%.*s\", then \"%.*s\"\n", s,
                        (int)b1.len, b1.p, (int)b2.len, b2.p);
        }
        int64_t t;
        imap_sent_date(str_from_cstr(rnd_text(dates, sizeof(dates) / sizeof(dates[0]), 10)), &t);
        struct str *ids;
        uint32_t nid = imap_msgids(A, str_from_cstr(rnd_text(idparts, 9, 12)), &ids);
        for (uint32_t k = 0; k < nid; k++)
            if (!memchr(ids[k].p, '@', ids[k].len) || ids[k].p[ids[k].len - 1] == '@') {
                if (bad++ < 5)
                    fprintf(stderr, "Message-ID \"%.*s\"\n", (int)ids[k].len, ids[k].p);
            }
    }
    CHECK_INT(bad, 0);
    /* Random reference graphs over a few Message-IDs (loops, duplicates,
     * self-references, missing parents) and a few subjects. */
    static const char *const subjects[] = { "s", "Re: s", "t", "Re: t", "", "Re:" };
    bad = 0;
    for (int round = 0; round < 3000; round++) {
        uint32_t n = 1 + rnd(40);
        struct imap_sort_msg *m = arena_zalloc(A, n * sizeof(*m));
        for (uint32_t i = 0; i < n; i++) {
            m[i].seq = m[i].num = i + 1;
            m[i].date = rnd(5);
            bool reply;
            m[i].subject = imap_base_subject(A, str_from_cstr(subjects[rnd(6)]), &reply);
            m[i].reply = reply;
            char *id = arena_alloc(A, 16);
            snprintf(id, 16, "%u@x", rnd(12));
            m[i].message_id = rnd(8) ? str_from_cstr(id) : STR_NULL;
            m[i].n_refs = rnd(5);
            m[i].refs = arena_alloc(A, (m[i].n_refs + 1) * sizeof(struct str));
            for (uint32_t k = 0; k < m[i].n_refs; k++) {
                char *r = arena_alloc(A, 16);
                snprintf(r, 16, "%u@x", rnd(16));
                m[i].refs[k] = str_from_cstr(r);
            }
        }
        for (int alg = 0; alg < 2; alg++) {
            const char *out = threads(m, n, alg ? IMAP_THREAD_REFERENCES
                                                : IMAP_THREAD_ORDEREDSUBJECT);
            if (!well_formed(out, n) && bad++ < 5)
                fprintf(stderr, "round %d alg %d: %s\n", round, alg, out);
        }
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    A = arena_new(0);
    RUN(test_base_subject);
    RUN(test_sent_date);
    RUN(test_msgids);
    RUN(test_keys);
    RUN(test_casemap);
    RUN(test_sort);
    RUN(test_orderedsubject);
    RUN(test_references_links);
    RUN(test_references_dummies);
    RUN(test_references_loops);
    RUN(test_references_subjects);
    RUN(test_big);
    RUN(test_random);
    arena_free(A);
    return TEST_DONE();
}
