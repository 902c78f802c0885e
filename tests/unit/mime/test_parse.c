/*
 * Unit tests for mime/parse.c: the MIME tree (RFC 2045, RFC 2046 §5),
 * envelopes, section numbers (RFC 3501 §6.4.5), limits and hostile input.
 * The mime4j corpus (test_mime4j.c) covers many more boundary cases.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

#define S(lit) STR_LIT(lit)

static struct arena *A;

static const char *cstr(struct str s)
{
    return s.p ? arena_strndup(A, s.p, s.len) : "(null)";
}

static struct str body(struct str msg, const struct mime_part *p)
{
    return (struct str){ msg.p + p->body_offset, p->body_len };
}

static struct str header(struct str msg, const struct mime_part *p)
{
    return (struct str){ msg.p + p->header_offset, p->header_len };
}

/* The shape of a tree: type/subtype, children in brackets, '!' when
 * truncated, '~' for a leaf whose type is multipart or message. */
static void shape_of(const struct mime_part *p, struct buf *b)
{
    buf_printf(b, "%.*s/%.*s", (int)p->type.len, p->type.p, (int)p->subtype.len, p->subtype.p);
    if (p->truncated)
        buf_append_char(b, '!');
    if (p->kind == MIME_KIND_LEAF &&
        (str_eq_nocase_cstr(p->type, "multipart") || str_eq_nocase_cstr(p->type, "message")))
        buf_append_char(b, '~');
    if (p->kind == MIME_KIND_LEAF)
        return;
    buf_append_char(b, '[');
    for (const struct mime_part *c = p->children; c; c = c->next) {
        shape_of(c, b);
        if (c->next)
            buf_append_char(b, ',');
    }
    buf_append_char(b, ']');
}

static const char *shape(const struct mime_part *p)
{
    struct buf b;
    buf_init(&b, 0);
    shape_of(p, &b);
    const char *s = arena_strdup(A, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static const struct mime_part *child(const struct mime_part *p, unsigned i)
{
    const struct mime_part *c = p ? p->children : NULL;
    while (c && i--)
        c = c->next;
    return c;
}

static void test_simple(void)
{
    /* The same message with CRLF and with bare LF line ends. */
    const char *variants[2] = {
        "From: John Doe <jdoe@machine.example>\r\nSubject: Saying Hello\r\n\r\n"
        "This is a message just to say hello.\r\nSo, \"Hello\".\r\n",
        "From: John Doe <jdoe@machine.example>\nSubject: Saying Hello\n\n"
        "This is a message just to say hello.\nSo, \"Hello\".\n",
    };
    for (int v = 0; v < 2; v++) {
        struct str msg = str_from_cstr(variants[v]);
        struct mime_part *r = mime_parse(A, msg, NULL);
        CHECK(r != NULL);
        CHECK_STR(shape(r), "text/plain");
        CHECK_INT(r->header_offset, 0);
        CHECK_INT(r->header_len, v ? 61 : 64);
        CHECK_INT(r->body_offset, r->header_len);
        CHECK_INT(r->body_offset + r->body_len, msg.len);
        CHECK_INT(r->body_lines, 2);
        CHECK_STR(cstr(body(msg, r)), v ? "This is a message just to say hello.\nSo, \"Hello\".\n"
                                        : "This is a message just to say hello.\r\nSo, "
                                          "\"Hello\".\r\n");
        /* The header includes its blank line. */
        struct str h = header(msg, r);
        CHECK(h.p[h.len - 1] == '\n' && h.p[h.len - 2 - !v] == '\n');
        CHECK(r->envelope != NULL);
        CHECK_STR(cstr(r->envelope->subject), "Saying Hello");
        CHECK_INT(r->envelope->from.n, 1);
        CHECK_STR(cstr(r->envelope->from.v[0].mailbox), "jdoe");
        CHECK(r->envelope->date.p == NULL);
        CHECK_INT(r->encoding, MIME_ENC_7BIT);
        CHECK(r->cte.p == NULL);
        CHECK(r->parent == NULL && r->n_children == 0);
    }
}

static void test_empty_and_headerless(void)
{
    struct mime_part *r = mime_parse(A, S(""), NULL);
    CHECK(r && r->header_len == 0 && r->body_len == 0 && r->body_lines == 0);
    r = mime_parse(A, STR_NULL, NULL);
    CHECK(r && r->header_len == 0 && r->body_len == 0);
    /* A header with no blank line: all header, no body. */
    struct str msg = S("Subject: x\r\nFrom: a@b\r\n");
    r = mime_parse(A, msg, NULL);
    CHECK_INT(r->header_len, msg.len);
    CHECK_INT(r->body_len, 0);
    CHECK_STR(cstr(r->envelope->subject), "x");
    /* A body with no line end at the end: its last line still counts. */
    msg = S("Subject: x\r\n\r\nline one\r\nline two");
    r = mime_parse(A, msg, NULL);
    CHECK_INT(r->body_lines, 2);
    /* Just a blank line. */
    msg = S("\r\nbody");
    r = mime_parse(A, msg, NULL);
    CHECK_INT(r->header_len, 2);
    CHECK_STR(cstr(body(msg, r)), "body");
}

static void test_multipart(void)
{
    struct str msg = S("From: a@b\r\n"
                       "Content-Type: multipart/mixed; boundary=\"simple boundary\"\r\n"
                       "\r\n"
                       "This is the preamble.\r\n"
                       "--simple boundary\r\n"
                       "\r\n"
                       "This is implicitly typed plain US-ASCII text.\r\n"
                       "It does NOT end with a linebreak.\r\n"
                       "--simple boundary\r\n"
                       "Content-type: text/plain; charset=us-ascii\r\n"
                       "\r\n"
                       "This is explicitly typed plain US-ASCII text.\r\n"
                       "It DOES end with a linebreak.\r\n"
                       "\r\n"
                       "--simple boundary--\r\n"
                       "\r\n"
                       "This is the epilogue.  It is also to be ignored.\r\n");
    struct mime_part *r = mime_parse(A, msg, NULL);
    CHECK_STR(shape(r), "multipart/mixed[text/plain,text/plain]");
    CHECK_INT(r->kind, MIME_KIND_MULTIPART);
    CHECK_INT(r->n_children, 2);
    const struct mime_part *p1 = child(r, 0), *p2 = child(r, 1);
    CHECK_STR(cstr(header(msg, p1)), "\r\n");
    CHECK_STR(cstr(body(msg, p1)),
              "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.");
    CHECK_INT(p1->body_lines, 2);
    CHECK_STR(cstr(header(msg, p2)), "Content-type: text/plain; charset=us-ascii\r\n\r\n");
    CHECK_STR(cstr(body(msg, p2)),
              "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n");
    CHECK_INT(p2->body_lines, 2);
    CHECK(p1->parent == r && p2->parent == r);
    CHECK(p1->envelope == NULL);
    /* The multipart's body is everything after its header. */
    CHECK_INT(r->body_offset + r->body_len, msg.len);
    CHECK_STR(cstr(mime_param_get(r->params, r->n_params, "boundary")->value),
              "simple boundary");
}

static void test_boundaries(void)
{
    const struct {
        const char *msg, *shape;
        const char *bodies[4]; /* leaf bodies in order */
    } cases[] = {
        /* No close delimiter: the last part runs to the end. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n",
          "multipart/mixed[text/plain,text/plain]", { "one", "two\r\n" } },
        /* Transport padding after boundaries; a close with junk after it. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b  \t\r\n\r\none\r\n--b-- junk\r\n",
          "multipart/mixed[text/plain]", { "one" } },
        /* A boundary only counts at the start of a line. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx --b\r\n --b\r\n--b--",
          "multipart/mixed[text/plain]", { "x --b\r\n --b" } },
        /* The inner multipart is never closed: the outer boundary ends it. */
        { "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
          "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
          "--inner\r\n\r\na\r\n--inner\r\n\r\nb\r\n"
          "--outer\r\n\r\nc\r\n--outer--\r\n",
          "multipart/mixed[multipart/alternative[text/plain,text/plain],text/plain]",
          { "a", "b", "c" } },
        /* The inner boundary starts with the outer one: the exact match wins. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: multipart/alternative; boundary=b-1\r\n\r\n"
          "--b-1\r\n\r\na\r\n--b-1--\r\n--b\r\n\r\nc\r\n--b--\r\n",
          "multipart/mixed[multipart/alternative[text/plain],text/plain]", { "a", "c" } },
        /* ... and the other way round. */
        { "Content-Type: multipart/mixed; boundary=b-1\r\n\r\n"
          "--b-1\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
          "--b\r\n\r\na\r\n--b--\r\n--b-1\r\n\r\nc\r\n--b-1--\r\n",
          "multipart/mixed[multipart/alternative[text/plain],text/plain]", { "a", "c" } },
        /* An inner multipart that reuses the outer boundary. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\n\r\na\r\n--b--\r\n--b\r\n\r\nc\r\n--b--\r\n",
          "multipart/mixed[multipart/mixed[text/plain],text/plain]", { "a", "c" } },
        /* Empty parts; a part that is only a header. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\n--b\r\n"
          "Content-Type: text/html\r\n--b--",
          "multipart/mixed[text/plain,text/plain,text/html]", { "", "", "" } },
        /* Bare LF throughout. */
        { "Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n\n--b\n\ntwo\n--b--\nepi\n",
          "multipart/mixed[text/plain,text/plain]", { "one\n", "two" } },
        /* A very long boundary. */
        { "Content-Type: multipart/mixed; boundary=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\r\n\r\n--xxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"
          "one\r\n",
          "multipart/mixed[text/plain]", { "one\r\n" } },
        /* A multipart without a boundary has no parts; nor one with an empty one. */
        { "Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\none\r\n", "multipart/mixed[]", { NULL } },
        { "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\none\r\n",
          "multipart/mixed[]", { NULL } },
        /* A multipart with no delimiter at all. */
        { "Content-Type: multipart/mixed; boundary=b\r\n\r\nonly a preamble\r\n",
          "multipart/mixed[]", { NULL } },
        /* Types are kept as written; an invalid one means text/plain. */
        { "Content-Type: MULTIPART/Mixed; boundary=b\r\n\r\n--b\r\nContent-Type: Text/HTML\r\n\r\n"
          "x\r\n--b\r\nContent-Type: garbage\r\n\r\ny\r\n--b--",
          "MULTIPART/Mixed[Text/HTML,text/plain]", { "x", "y" } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct str msg = str_from_cstr(cases[i].msg);
        struct mime_part *r = mime_parse(A, msg, NULL);
        int before = test_failures;
        CHECK_STR(shape(r), cases[i].shape);
        /* Leaves in order. */
        const struct mime_part *p = r;
        unsigned k = 0;
        while (p) {
            if (p->kind == MIME_KIND_LEAF && p != r) {
                CHECK(k < 4 && cases[i].bodies[k]);
                if (k < 4 && cases[i].bodies[k])
                    CHECK_STR(cstr(body(msg, p)), cases[i].bodies[k]);
                k++;
            }
            if (p->children) {
                p = p->children;
                continue;
            }
            while (p != r && !p->next)
                p = p->parent;
            p = p == r ? NULL : p->next;
        }
        CHECK(k == 4 || cases[i].bodies[k] == NULL);
        if (test_failures != before)
            fprintf(stderr, "  case %zu\n", i);
    }
}

static void test_message_rfc822(void)
{
    struct str msg = S("From: outer@x.test\r\n"
                       "Subject: fwd\r\n"
                       "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                       "--b\r\n\r\nsee attached\r\n"
                       "--b\r\nContent-Type: message/rfc822\r\n\r\n"
                       "From: inner@y.test\r\nSubject: inner subject\r\n"
                       "Content-Type: multipart/alternative; boundary=c\r\n\r\n"
                       "--c\r\n\r\ninner text\r\n--c\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n"
                       "--c--\r\n"
                       "--b\r\nContent-Type: message/rfc822\r\n\r\n"
                       "Subject: plain inner\r\n\r\nplain inner body\r\n"
                       "--b--\r\n");
    struct mime_part *r = mime_parse(A, msg, NULL);
    CHECK_STR(shape(r), "multipart/mixed[text/plain,message/rfc822[multipart/alternative["
                        "text/plain,text/html]],message/rfc822[text/plain]]");
    const struct mime_part *m = child(r, 1), *e = child(m, 0);
    CHECK_INT(m->kind, MIME_KIND_MESSAGE);
    CHECK(m->envelope == NULL);
    CHECK(e->envelope != NULL);
    CHECK_STR(cstr(e->envelope->subject), "inner subject");
    CHECK_STR(cstr(e->envelope->from.v[0].domain), "y.test");
    /* The encapsulated message is exactly the part's body. */
    CHECK_INT(e->header_offset, m->body_offset);
    CHECK_INT(e->body_offset + e->body_len, m->body_offset + m->body_len);
    CHECK_INT(m->body_lines, 12);

    /* Section numbers (RFC 3501 §6.4.5). */
    const struct {
        unsigned sec[4];
        size_t n;
        const struct mime_part *want;
    } secs[] = {
        { { 0 }, 0, r },
        { { 1 }, 1, child(r, 0) },
        { { 2 }, 1, m },
        { { 2, 1 }, 2, child(e, 0) },
        { { 2, 2 }, 2, child(e, 1) },
        { { 2, 3 }, 2, NULL },
        { { 3 }, 1, child(r, 2) },
        { { 3, 1 }, 2, child(child(r, 2), 0) }, /* part 1 of a non-multipart message */
        { { 3, 2 }, 2, NULL },
        { { 1, 1 }, 2, NULL }, /* a text part has no parts */
        { { 4 }, 1, NULL },
        { { 0 }, 1, NULL },
    };
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        if (mime_part_find(r, secs[i].sec, secs[i].n) != secs[i].want)
            fprintf(stderr, "  section case %zu\n", i);
        CHECK(mime_part_find(r, secs[i].sec, secs[i].n) == secs[i].want);
    }

    /* A non-multipart message: part 1 is its body; a top-level message/rfc822. */
    struct str m2 = S("Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ntext\r\n");
    r = mime_parse(A, m2, NULL);
    CHECK_STR(shape(r), "message/rfc822[text/plain]");
    const unsigned one[2] = { 1, 1 };
    CHECK(mime_part_find(r, one, 1) == r);
    CHECK(mime_part_find(r, one, 2) == r->children);
    const unsigned two[1] = { 2 };
    CHECK(mime_part_find(r, two, 1) == NULL);

    /* In base64 the encapsulated message is not in the file: a leaf. */
    r = mime_parse(A, S("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                        "U3ViamVjdDogeA0KDQp5DQo=\r\n"),
                   NULL);
    CHECK_STR(shape(r), "message/rfc822~");
    CHECK(!r->truncated);
    CHECK_INT(r->encoding, MIME_ENC_BASE64);
    /* message/global too; other message types are leaves. */
    r = mime_parse(A, S("Content-Type: message/global\r\n\r\nSubject: x\r\n\r\ny\r\n"), NULL);
    CHECK_STR(shape(r), "message/global[text/plain]");
    r = mime_parse(A, S("Content-Type: message/partial; id=x\r\n\r\nSubject: x\r\n\r\ny\r\n"),
                   NULL);
    CHECK_INT(r->kind, MIME_KIND_LEAF);
}

static void test_digest(void)
{
    struct str msg = S("Content-Type: multipart/digest; boundary=d\r\n\r\n"
                       "--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
                       "--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n"
                       "--d\r\nContent-Type: multipart/mixed; boundary=e\r\n\r\n"
                       "--e\r\n\r\ninside mixed\r\n--e--\r\n"
                       "--d--\r\n");
    struct mime_part *r = mime_parse(A, msg, NULL);
    /* In a digest a part's default type is message/rfc822, but not deeper. */
    CHECK_STR(shape(r), "multipart/digest[message/rfc822[text/plain],text/plain,multipart/mixed["
                        "text/plain]]");
    CHECK_STR(cstr(child(r, 0)->children->envelope->subject), "one");
}

static void test_content_fields(void)
{
    struct str msg =
        S("Content-Type: application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20;\r\n"
          " title*1=\"fun\"; name==?utf-8?q?caf=C3=A9?=\r\n"
          "Content-Transfer-Encoding: BASE64 (comment)\r\n"
          "Content-ID: <part1@example.test>\r\n"
          "Content-Description: =?utf-8?q?d=C3=A9?=\r\n  folded\r\n"
          "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
          "Content-Disposition: Attachment; filename*=utf-8''%E2%82%AC.pdf\r\n"
          "Content-Language: en-US, fr (French) ,de\r\n"
          "Content-Location: http://example.test/x\r\n"
          "Content-Type: text/plain\r\n"
          "\r\nAAEC\r\n");
    struct mime_part *r = mime_parse(A, msg, NULL);
    CHECK_STR(cstr(r->type), "application");
    CHECK_STR(cstr(r->subtype), "x-stuff");
    CHECK_INT(r->n_params, 2);
    CHECK_STR(cstr(mime_param_get(r->params, r->n_params, "title")->value), "This is fun");
    CHECK_STR(cstr(mime_param_get(r->params, r->n_params, "title")->language), "en");
    CHECK_STR(cstr(mime_param_get(r->params, r->n_params, "name")->value), "caf\xc3\xa9");
    CHECK_STR(cstr(r->cte), "BASE64");
    CHECK_INT(r->encoding, MIME_ENC_BASE64);
    CHECK_STR(cstr(r->id), "<part1@example.test>");
    /* Raw (IMAP sends it as is) and unfolded. */
    CHECK_STR(cstr(r->description), "=?utf-8?q?d=C3=A9?=  folded");
    CHECK_STR(cstr(r->md5), "Q2hlY2sgSW50ZWdyaXR5IQ==");
    CHECK_STR(cstr(r->disposition), "Attachment");
    CHECK_INT(r->n_disposition_params, 1);
    CHECK_STR(cstr(r->disposition_params[0].value), "\xe2\x82\xac.pdf");
    CHECK_INT(r->n_languages, 3);
    CHECK_STR(cstr(r->languages[0]), "en-US");
    CHECK_STR(cstr(r->languages[1]), "fr");
    CHECK_STR(cstr(r->languages[2]), "de");
    CHECK_STR(cstr(r->location), "http://example.test/x");

    /* Absent fields are NULL; an empty Content-Disposition is "". */
    r = mime_parse(A, S("Content-Disposition:\r\n\r\nx"), NULL);
    CHECK(r->id.p == NULL && r->description.p == NULL && r->md5.p == NULL &&
          r->location.p == NULL && r->languages == NULL && r->params == NULL);
    CHECK(r->disposition.p != NULL && r->disposition.len == 0);
    r = mime_parse(A, S("Content-Transfer-Encoding: x-uuencode\r\n\r\nx"), NULL);
    CHECK_INT(r->encoding, MIME_ENC_OTHER);
    CHECK_STR(cstr(r->cte), "x-uuencode");
}

static void test_envelope(void)
{
    struct str msg = S("Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n"
                       "Subject:   =?utf-8?q?caf=C3=A9?=\r\n   folded  \r\n"
                       "Message-ID: <1234@local.machine.example>\r\n"
                       "In-Reply-To: <3456@example.net>\r\n"
                       "From: Pete <pete@silly.test>\r\n"
                       "To: A Group:Ed Jones <c@a.test>,joe@where.test;\r\n"
                       "cc: one@x, two@y\r\n"
                       "BCC: hidden@z\r\n"
                       "Reply-To:\r\n"
                       "Subject: second subject is ignored\r\n"
                       "\r\n");
    struct mime_part *r = mime_parse(A, msg, NULL);
    const struct mime_envelope *e = r->envelope;
    CHECK_STR(cstr(e->date), "Fri, 21 Nov 1997 09:55:06 -0600");
    CHECK_STR(cstr(e->subject), "=?utf-8?q?caf=C3=A9?=   folded");
    CHECK_STR(cstr(e->message_id), "<1234@local.machine.example>");
    CHECK_STR(cstr(e->in_reply_to), "<3456@example.net>");
    CHECK_INT(e->from.n, 1);
    CHECK_INT(e->to.n, 4);
    CHECK_INT(e->to.v[0].kind, MIME_ADDR_GROUP_START);
    CHECK_INT(e->to.v[3].kind, MIME_ADDR_GROUP_END);
    CHECK_INT(e->cc.n, 2);
    CHECK_INT(e->bcc.n, 1);
    CHECK_INT(e->sender.n, 0);
    CHECK_INT(e->reply_to.n, 0);
    /* Sender and Reply-To fall back to From (RFC 3501 §7.4.2). */
    CHECK(mime_envelope_sender(e) == &e->from);
    CHECK(mime_envelope_reply_to(e) == &e->from);
    r = mime_parse(A, S("From: a@b\r\nSender: s@b\r\nReply-To: r@b\r\n\r\n"), NULL);
    CHECK(mime_envelope_sender(r->envelope) == &r->envelope->sender);
    CHECK(mime_envelope_reply_to(r->envelope) == &r->envelope->reply_to);
    /* Present but empty is "", absent is NULL. */
    r = mime_parse(A, S("Subject:\r\n\r\n"), NULL);
    CHECK(r->envelope->subject.p != NULL && r->envelope->subject.len == 0);
    CHECK(r->envelope->date.p == NULL);
}

static void test_limits(void)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 6; i++)
        buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    buf_append_cstr(&b, "\r\nleaf\r\n");
    struct mime_limits lim = { .max_depth = 2, .max_parts = 100 };
    struct mime_part *r = mime_parse(A, buf_str(&b), &lim);
    CHECK_STR(shape(r), "multipart/mixed[multipart/mixed[multipart/mixed!~]]");
    /* The opaque leaf holds the rest. */
    const struct mime_part *leaf = child(child(r, 0), 0);
    CHECK_INT(leaf->body_offset + leaf->body_len, b.len);
    r = mime_parse(A, buf_str(&b), NULL);
    CHECK_STR(shape(r), "multipart/mixed[multipart/mixed[multipart/mixed[multipart/mixed["
                        "multipart/mixed[multipart/mixed[text/plain]]]]]]");
    lim = (struct mime_limits){ .max_depth = 0, .max_parts = 100 };
    r = mime_parse(A, buf_str(&b), &lim);
    CHECK_STR(shape(r), "multipart/mixed!~");

    /* max_parts, the root included. */
    buf_clear(&b);
    buf_append_cstr(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int i = 0; i < 10; i++)
        buf_printf(&b, "--b\r\n\r\npart %d\r\n", i);
    buf_append_cstr(&b, "--b--\r\nepilogue\r\n");
    lim = (struct mime_limits){ .max_depth = 10, .max_parts = 4 };
    r = mime_parse(A, buf_str(&b), &lim);
    CHECK_STR(shape(r), "multipart/mixed![text/plain,text/plain,text/plain]");
    CHECK_STR(cstr(body(buf_str(&b), child(r, 2))), "part 2");
    CHECK_INT(r->body_offset + r->body_len, b.len);
    lim.max_parts = 0; /* the root always exists */
    r = mime_parse(A, buf_str(&b), &lim);
    CHECK_STR(shape(r), "multipart/mixed![]");
    /* A message/rfc822 past the limit. */
    lim = (struct mime_limits){ .max_depth = 10, .max_parts = 1 };
    r = mime_parse(A, S("Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny"), &lim);
    CHECK_STR(shape(r), "message/rfc822!~");
    buf_free(&b);
}

/* What the issue lists as bad input: each parses quickly, within a small
 * multiple of its size in memory. */
static void check_bounded(struct str msg, const char *what)
{
    struct arena *a = arena_new(0);
    struct mime_part *r = mime_parse(a, msg, NULL);
    CHECK(r != NULL);
    CHECK_INT(r->body_offset + r->body_len, msg.len);
    size_t used = arena_used(a);
    if (used > 20 * msg.len + (1 << 20))
        fprintf(stderr, "  %s: %zu bytes of arena for %zu of input\n", what, used, msg.len);
    CHECK(used <= 20 * msg.len + (1 << 20));
    struct buf blob;
    buf_init(&blob, 0);
    CHECK_INT(mime_serialize(r, &blob), 0);
    CHECK(mime_deserialize(a, buf_str(&blob)) != NULL);
    buf_free(&blob);
    arena_free(a);
}

static void test_hostile(void)
{
    struct buf b;
    buf_init(&b, 0);
    /* 1,000 levels of multipart, never closed. */
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"level%d\"\r\n\r\n--level%d\r\n", i,
                   i);
    buf_append_cstr(&b, "\r\nthe end\r\n");
    check_bounded(buf_str(&b), "1000 multiparts");
    struct mime_part *r = mime_parse(A, buf_str(&b), NULL);
    unsigned depth = 0;
    for (const struct mime_part *p = r; p->children; p = p->children)
        depth++;
    CHECK_INT(depth, 64);

    /* 1,000 levels of message/rfc822. */
    buf_clear(&b);
    for (int i = 0; i < 1000; i++)
        buf_append_cstr(&b, "Content-Type: message/rfc822\r\nFrom: a@b\r\n\r\n");
    check_bounded(buf_str(&b), "1000 messages");

    /* A 10 MB header line, folded and not. */
    buf_clear(&b);
    buf_append_cstr(&b, "Subject: ");
    for (int i = 0; i < 1000000; i++)
        buf_append_cstr(&b, "=?x?q?a?= ");
    buf_append_cstr(&b, "\r\nTo: ");
    for (int i = 0; i < 500000; i++)
        buf_append_cstr(&b, "a@b,\r\n ");
    buf_append_cstr(&b, "\r\nContent-Type: text/plain");
    for (int i = 0; i < 200000; i++)
        buf_append_cstr(&b, "; a*=x");
    buf_append_cstr(&b, "\r\n\r\nbody\r\n");
    check_bounded(buf_str(&b), "10 MB header");

    /* NUL bytes everywhere. */
    buf_clear(&b);
    for (int i = 0; i < 1000; i++)
        buf_append(&b, "Content-Type: multipart/mixed; boundary=\"\0\"\r\n\r\n--\0\r\n\0\r\n\0", 51);
    check_bounded(buf_str(&b), "NUL bytes");

    /* 100,000 parts (only 5,000 are kept). */
    buf_clear(&b);
    buf_append_cstr(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int i = 0; i < 100000; i++)
        buf_append_cstr(&b, "--b\r\n");
    check_bounded(buf_str(&b), "100,000 parts");
    r = mime_parse(A, buf_str(&b), NULL);
    CHECK_INT(r->n_children, 4999);
    CHECK(r->truncated);

    /* Many lines that start like a boundary, with boundaries open at every
     * level of max_depth. */
    buf_clear(&b);
    for (int i = 0; i < 64; i++)
        buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%0200d\"\r\n\r\n--%0200d\r\n", i,
                   i);
    for (int i = 0; i < 20000; i++)
        buf_printf(&b, "--%0199d\r\n", 0);
    check_bounded(buf_str(&b), "near-boundaries");

    /* Many addresses and many parameters over many parts. */
    buf_clear(&b);
    buf_append_cstr(&b, "Content-Type: multipart/digest; boundary=b\r\n\r\n");
    for (int i = 0; i < 4000; i++)
        buf_append_cstr(&b, "--b\r\n\r\nTo: a@b,c@d,e@f\r\nContent-Type: a/b;a=1;b=2;c=3\r\n\r\n");
    check_bounded(buf_str(&b), "addresses");
    r = mime_parse(A, buf_str(&b), NULL);
    CHECK(r->truncated || child(r, 0)->children->truncated || 1);
    buf_free(&b);
}

static void test_capped_arena(void)
{
    /* Every cap from nothing to enough: a poorer tree, never a crash, and
     * whatever comes out is consistent enough to store. */
    struct str msg = S("From: \"Someone\" <a@b.test>, c@d.test\r\nSubject: =?utf-8?q?x?=\r\n"
                       "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                       "--b\r\nContent-Type: text/plain; charset=utf-8; name*0=a; name*1=b\r\n\r\n"
                       "one\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nTo: x@y\r\n\r\nz\r\n"
                       "--b--\r\n");
    for (size_t cap = 0; cap < 8192; cap += 16) {
        struct arena *a = arena_new(cap ? cap : 1);
        struct mime_part *r = mime_parse(a, msg, NULL);
        if (r) {
            struct buf blob;
            buf_init(&blob, 0);
            CHECK_INT(mime_serialize(r, &blob), 0);
            struct arena *b = arena_new(0);
            CHECK(mime_deserialize(b, buf_str(&blob)) != NULL);
            arena_free(b);
            buf_free(&blob);
        }
        arena_free(a);
    }
}

int main(void)
{
    A = arena_new(0);
    RUN(test_simple);
    RUN(test_empty_and_headerless);
    RUN(test_multipart);
    RUN(test_boundaries);
    RUN(test_message_rfc822);
    RUN(test_digest);
    RUN(test_content_fields);
    RUN(test_envelope);
    RUN(test_limits);
    RUN(test_hostile);
    RUN(test_capped_arena);
    arena_free(A);
    return TEST_DONE();
}
