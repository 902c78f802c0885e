/*
 * Unit tests for mime/serialize.c: the store's blob. Round trips must be
 * exact; a damaged blob of any kind must be refused without reading out of
 * bounds (the ASan build checks the latter).
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *A;

static const char *const messages[] = {
    "",
    "Subject: plain\r\n\r\nbody\r\n",
    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
    "To: Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example\r\n"
    "Cc: A Group:Ed Jones <c@a.test>,joe@where.test;\r\n"
    "Bcc:\r\nReply-To: r@x\r\nSender: s@x\r\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\nMessage-ID: <1@x>\r\nIn-Reply-To: <0@x>\r\n"
    "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n"
    "Content-Language: en, fr\r\nContent-ID: <c1@x>\r\nContent-Description: d\r\n"
    "Content-MD5: xyz\r\nContent-Location: loc\r\n\r\ntext\r\n"
    "--b\r\nContent-Type: application/pdf; name*=utf-8'en'%E2%82%AC.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\n"
    "AAEC\r\n"
    "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@x\r\nSubject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\na\r\n--c\r\n\r\nb\r\n--c--\r\n"
    "--b--\r\nepilogue\r\n",
    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: x\r\n\r\ny\r\n--d\r\n",
};

static bool same_str(struct str a, struct str b)
{
    return (a.p == NULL) == (b.p == NULL) && str_eq(a, b);
}

static bool same_params(const struct mime_param *a, unsigned na, const struct mime_param *b,
                        unsigned nb)
{
    if (na != nb)
        return false;
    for (unsigned i = 0; i < na; i++)
        if (!same_str(a[i].name, b[i].name) || !same_str(a[i].value, b[i].value) ||
            !same_str(a[i].language, b[i].language))
            return false;
    return true;
}

static bool same_addresses(const struct mime_addresses *a, const struct mime_addresses *b)
{
    if (a->n != b->n)
        return false;
    for (unsigned i = 0; i < a->n; i++) {
        const struct mime_address *x = &a->v[i], *y = &b->v[i];
        if (x->kind != y->kind || !same_str(x->name_raw, y->name_raw) ||
            !same_str(x->name, y->name) || !same_str(x->route, y->route) ||
            !same_str(x->mailbox, y->mailbox) || !same_str(x->domain, y->domain))
            return false;
    }
    return true;
}

static bool same_tree(const struct mime_part *a, const struct mime_part *b)
{
    if (a->kind != b->kind || a->encoding != b->encoding || a->truncated != b->truncated ||
        a->header_offset != b->header_offset || a->header_len != b->header_len ||
        a->body_offset != b->body_offset || a->body_len != b->body_len ||
        a->body_lines != b->body_lines || a->n_children != b->n_children ||
        !same_str(a->type, b->type) || !same_str(a->subtype, b->subtype) ||
        !same_params(a->params, a->n_params, b->params, b->n_params) || !same_str(a->id, b->id) ||
        !same_str(a->description, b->description) || !same_str(a->cte, b->cte) ||
        !same_str(a->md5, b->md5) || !same_str(a->disposition, b->disposition) ||
        !same_params(a->disposition_params, a->n_disposition_params, b->disposition_params,
                     b->n_disposition_params) ||
        a->n_languages != b->n_languages || !same_str(a->location, b->location) ||
        (a->envelope == NULL) != (b->envelope == NULL))
        return false;
    for (unsigned i = 0; i < a->n_languages; i++)
        if (!same_str(a->languages[i], b->languages[i]))
            return false;
    if (a->envelope) {
        const struct mime_envelope *x = a->envelope, *y = b->envelope;
        if (!same_str(x->date, y->date) || !same_str(x->subject, y->subject) ||
            !same_str(x->message_id, y->message_id) || !same_str(x->in_reply_to, y->in_reply_to) ||
            !same_addresses(&x->from, &y->from) || !same_addresses(&x->sender, &y->sender) ||
            !same_addresses(&x->reply_to, &y->reply_to) || !same_addresses(&x->to, &y->to) ||
            !same_addresses(&x->cc, &y->cc) || !same_addresses(&x->bcc, &y->bcc))
            return false;
    }
    const struct mime_part *c = a->children, *d = b->children;
    for (; c && d; c = c->next, d = d->next)
        if (d->parent != b || !same_tree(c, d))
            return false;
    return !c && !d;
}

static void blob_of(const char *msg, struct buf *out)
{
    buf_init(out, 0);
    const struct mime_part *r = mime_parse(A, str_from_cstr(msg), NULL);
    CHECK_INT(mime_serialize(r, out), 0);
}

static void test_round_trip(void)
{
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        const struct mime_part *r = mime_parse(A, str_from_cstr(messages[i]), NULL);
        struct buf b1, b2;
        buf_init(&b1, 0);
        buf_init(&b2, 0);
        CHECK_INT(mime_serialize(r, &b1), 0);
        struct mime_part *back = mime_deserialize(A, buf_str(&b1));
        CHECK(back != NULL);
        if (!back)
            continue;
        CHECK(same_tree(r, back));
        CHECK(back->parent == NULL);
        CHECK_INT(mime_serialize(back, &b2), 0);
        CHECK(str_eq(buf_str(&b1), buf_str(&b2)));
        buf_free(&b1);
        buf_free(&b2);
    }
    /* A blob is compact: well under the message for a plain one. */
    struct buf b;
    blob_of(messages[2], &b);
    CHECK(b.len < strlen(messages[2]));
    buf_free(&b);
    /* It is appended: what was in the buffer stays. */
    buf_init(&b, 0);
    buf_append_cstr(&b, "prefix");
    CHECK_INT(mime_serialize(mime_parse(A, STR_LIT("x"), NULL), &b), 0);
    CHECK(memcmp(b.p, "prefixOMT\x01", 10) == 0);
    buf_free(&b);
}

static void test_damage(void)
{
    struct buf b;
    blob_of(messages[2], &b);
    struct str blob = buf_str(&b);
    /* Every truncation is refused. */
    for (size_t n = 0; n < blob.len; n++)
        CHECK(mime_deserialize(A, (struct str){ blob.p, n }) == NULL);
    /* Every single-byte change is refused or reproduced exactly. */
    char *copy = xmalloc(blob.len);
    unsigned accepted = 0;
    for (size_t i = 0; i < blob.len; i++) {
        static const unsigned char values[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff };
        for (size_t k = 0; k < sizeof(values); k++) {
            memcpy(copy, blob.p, blob.len);
            if ((unsigned char)copy[i] == values[k])
                continue;
            copy[i] = (char)values[k];
            struct arena *a = arena_new(0);
            const struct mime_part *t = mime_deserialize(a, (struct str){ copy, blob.len });
            if (t) {
                accepted++;
                struct buf again;
                buf_init(&again, 0);
                CHECK_INT(mime_serialize(t, &again), 0);
                CHECK(str_eq(buf_str(&again), (struct str){ copy, blob.len }));
                buf_free(&again);
            }
            arena_free(a);
        }
    }
    free(copy);
    CHECK(accepted > 0); /* string bytes, for one, may change freely */

    /* Another version, another magic, a trailing byte. */
    struct buf bad;
    buf_init(&bad, 0);
    buf_append_str(&bad, blob);
    bad.p[3] = 2;
    CHECK(mime_deserialize(A, buf_str(&bad)) == NULL);
    bad.p[3] = 1;
    bad.p[0] = 'X';
    CHECK(mime_deserialize(A, buf_str(&bad)) == NULL);
    bad.p[0] = 'O';
    CHECK(mime_deserialize(A, buf_str(&bad)) != NULL);
    buf_append_char(&bad, 0);
    CHECK(mime_deserialize(A, buf_str(&bad)) == NULL);
    buf_free(&bad);
    buf_free(&b);
}

/* A hand-made blob: a root leaf with the given bytes after the magic. */
static const struct mime_part *blob(const char *bytes, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, "OMT\x01", 4);
    buf_append(&b, bytes, n);
    const struct mime_part *t = mime_deserialize(A, buf_str(&b));
    buf_free(&b);
    return t;
}

/* kind encoding flags | hoff hlen boff blen lines | type subtype params | id desc cte md5
 * disp dparams | nlang location | envelope: date subject msgid inreplyto, 6 empty lists |
 * children */
#define LEAF_HEAD "\x00\x00\x02"
#define LEAF_TAIL "\x02x\x02y\x00" "\x00\x00\x00\x00\x00\x00" "\x00\x00" \
                  "\x00\x00\x00\x00" "\x00\x00\x00\x00\x00\x00" "\x00"

static void test_canonical(void)
{
    /* The smallest valid blob, then the same with one thing wrong. */
    static const char ok[] = LEAF_HEAD "\x00\x02\x02\x04\x01" LEAF_TAIL;
    CHECK(blob(ok, sizeof(ok) - 1) != NULL);
    /* body_offset != header_offset + header_len. */
    static const char off[] = LEAF_HEAD "\x00\x02\x03\x04\x01" LEAF_TAIL;
    CHECK(blob(off, sizeof(off) - 1) == NULL);
    /* A root that does not start at 0. */
    static const char nonzero[] = LEAF_HEAD "\x01\x02\x03\x04\x01" LEAF_TAIL;
    CHECK(blob(nonzero, sizeof(nonzero) - 1) == NULL);
    /* More lines than bytes. */
    static const char lines[] = LEAF_HEAD "\x00\x02\x02\x01\x02" LEAF_TAIL;
    CHECK(blob(lines, sizeof(lines) - 1) == NULL);
    /* A varint that is not in its shortest form. */
    static const char longform[] = LEAF_HEAD "\x80\x00\x02\x02\x01\x01" LEAF_TAIL;
    CHECK(blob(longform, sizeof(longform) - 1) == NULL);
    /* Unknown flags, kind, encoding. */
    static const char flags[] = "\x00\x00\x06\x00\x02\x02\x04\x01" LEAF_TAIL;
    CHECK(blob(flags, sizeof(flags) - 1) == NULL);
    static const char kind[] = "\x03\x00\x02\x00\x02\x02\x04\x01" LEAF_TAIL;
    CHECK(blob(kind, sizeof(kind) - 1) == NULL);
    static const char enc[] = "\x00\x06\x02\x00\x02\x02\x04\x01" LEAF_TAIL;
    CHECK(blob(enc, sizeof(enc) - 1) == NULL);
    /* A root without an envelope. */
    static const char noenv[] = "\x00\x00\x00\x00\x02\x02\x04\x01"
                                "\x02x\x02y\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    CHECK(blob(noenv, sizeof(noenv) - 1) == NULL);
    /* A leaf that says it has a child. */
    static const char kids[] = LEAF_HEAD "\x00\x02\x02\x04\x01"
                               "\x02x\x02y\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                               "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01";
    CHECK(blob(kids, sizeof(kids) - 1) == NULL);
    /* A NULL type. */
    static const char notype[] = LEAF_HEAD "\x00\x02\x02\x04\x01"
                                 "\x00\x02y\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                 "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    CHECK(blob(notype, sizeof(notype) - 1) == NULL);
    /* A string longer than the blob; a count larger than it could hold. */
    static const char longstr[] = LEAF_HEAD "\x00\x02\x02\x04\x01\x7fx";
    CHECK(blob(longstr, sizeof(longstr) - 1) == NULL);
    static const char count[] = LEAF_HEAD "\x00\x02\x02\x04\x01\x02x\x02y\xff\xff\xff\xff\x0f";
    CHECK(blob(count, sizeof(count) - 1) == NULL);
    /* A 64-bit overflow in a varint. */
    static const char big[] = LEAF_HEAD "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02";
    CHECK(blob(big, sizeof(big) - 1) == NULL);
}

static void test_structure(void)
{
    /* Children outside their parent, out of order, or a message child that
     * is not its parent's whole body: refused. Made by editing a real tree. */
    struct mime_part *r = mime_parse(
        A, STR_LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n"
                   "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n--b--\r\n"),
        NULL);
    struct mime_part *p1 = r->children, *p2 = p1->next, *m = p2->children;
    struct buf b;
    const struct {
        size_t *field;
        size_t delta;
    } edits[] = {
        { &p1->header_offset, (size_t)-100 }, /* before the parent's body */
        { &p2->header_offset, (size_t)-20 },  /* overlapping its sibling */
        { &m->header_offset, 1 },             /* not at the message part's body */
        { &m->body_len, (size_t)-1 },         /* not to its end */
        { &p2->body_len, 1000 },              /* past the parent */
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        *edits[i].field += edits[i].delta;
        /* Keep body_offset == header_offset + header_len where the edit
         * moved a header, so only the structure is wrong. */
        p1->body_offset = p1->header_offset + p1->header_len;
        p2->body_offset = p2->header_offset + p2->header_len;
        m->body_offset = m->header_offset + m->header_len;
        buf_init(&b, 0);
        CHECK_INT(mime_serialize(r, &b), 0);
        if (mime_deserialize(A, buf_str(&b)) != NULL)
            fprintf(stderr, "  edit %zu accepted\n", i);
        CHECK(mime_deserialize(A, buf_str(&b)) == NULL);
        buf_free(&b);
        *edits[i].field -= edits[i].delta;
        p1->body_offset = p1->header_offset + p1->header_len;
        p2->body_offset = p2->header_offset + p2->header_len;
        m->body_offset = m->header_offset + m->header_len;
    }
    buf_init(&b, 0);
    CHECK_INT(mime_serialize(r, &b), 0);
    CHECK(mime_deserialize(A, buf_str(&b)) != NULL);
    buf_free(&b);
}

static void test_depth(void)
{
    /* The deepest tree mime_parse can make comes back... */
    struct buf msg, b;
    buf_init(&msg, 0);
    for (int i = 0; i < 400; i++)
        buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
    struct mime_limits lim = { .max_depth = 100000, .max_parts = 100000 };
    const struct mime_part *r = mime_parse(A, buf_str(&msg), &lim);
    unsigned depth = 0;
    for (const struct mime_part *p = r; p->children; p = p->children)
        depth++;
    CHECK_INT(depth, MIME_DEPTH_CAP);
    buf_init(&b, 0);
    CHECK_INT(mime_serialize(r, &b), 0);
    CHECK(mime_deserialize(A, buf_str(&b)) != NULL);
    buf_free(&b);

    /* ... one level more is refused: callers may recurse over a tree. */
    struct mime_part *chain = NULL;
    for (int i = 0; i <= MIME_DEPTH_CAP + 1; i++) {
        struct mime_part *p = arena_zalloc(A, sizeof(*p));
        p->type = STR_LIT("multipart");
        p->subtype = STR_LIT("mixed");
        p->kind = chain ? MIME_KIND_MULTIPART : MIME_KIND_LEAF;
        p->body_len = 0;
        if (chain) {
            p->children = chain;
            p->n_children = 1;
            chain->parent = p;
        }
        chain = p;
    }
    chain->envelope = arena_zalloc(A, sizeof(struct mime_envelope));
    buf_init(&b, 0);
    CHECK_INT(mime_serialize(chain, &b), 0);
    CHECK(mime_deserialize(A, buf_str(&b)) == NULL);
    buf_free(&b);
    buf_free(&msg);
}

static void test_cap(void)
{
    struct buf b;
    blob_of(messages[2], &b);
    size_t full = b.len;
    buf_free(&b);
    for (size_t cap = 1; cap < full; cap += 7) {
        buf_init(&b, cap);
        buf_append_cstr(&b, "x");
        CHECK_INT(mime_serialize(mime_parse(A, str_from_cstr(messages[2]), NULL), &b), -1);
        CHECK_INT(b.len, 1); /* nothing half-written */
        buf_free(&b);
    }
    /* A full arena: refused, not a crash. */
    blob_of(messages[2], &b);
    for (size_t cap = 16; cap < 8192; cap += 64) {
        struct arena *a = arena_new(cap);
        mime_deserialize(a, buf_str(&b));
        arena_free(a);
    }
    buf_free(&b);
}

int main(void)
{
    A = arena_new(0);
    RUN(test_round_trip);
    RUN(test_damage);
    RUN(test_canonical);
    RUN(test_structure);
    RUN(test_depth);
    RUN(test_cap);
    arena_free(A);
    return TEST_DONE();
}
