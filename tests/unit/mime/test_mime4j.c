/*
 * The Apache James mime4j test messages (tests/data/mime4j/, Apache License
 * 2.0: see LICENSE.mime4j and NOTICE.mime4j there) against the structure
 * mime4j expects for each (NAME.xml): every header field as written, every
 * body's exact bytes, multipart nesting and part counts, preambles and
 * epilogues, encapsulated messages.
 *
 * Where our structure deliberately differs:
 *  - A message/rfc822 body in base64 (base64encoded-rfc822message*,
 *    bad-newlines-multiple-parts-base64): mime4j decodes it and parses the
 *    result. We keep such a part as a leaf: RFC 2046 §5.2.1 allows no
 *    encoding but 7bit, 8bit and binary for message/rfc822, and an
 *    encapsulated message that is not at any byte offset of the file could
 *    not be served by IMAP BODY[n.m] anyway. The test decodes the body with
 *    mime_decode_body, parses that with mime_parse, and compares the result
 *    with mime4j's: so the structure mime4j finds is still checked.
 *  - malformedHeaderStartsBody-*: the same bytes as malformedHeader-*, with
 *    mime4j's option to end the header at the first line that is not a field.
 *    We keep reading the header to its blank line, as mime4j does by default
 *    (a broken line in the middle of a header is far more common than a
 *    message without a header, and ours always gain a Received: line at
 *    delivery), so these are checked against malformedHeader-*.xml.
 *  - mime4j omits an empty preamble or epilogue; we check those only when
 *    the XML gives them.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

#define DATA "../data/mime4j/"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    if (!b.p)
        return xstrdup("");
    return b.p;
}

struct xml {
    const char *p, *end;
    const char *name; /* the test, for messages */
    struct arena *a;
    bool bad;
};

static void fail(struct xml *x, const char *what)
{
    if (!x->bad)
        fprintf(stderr, "  %s: %s near \"%.40s\"\n", x->name, what, x->p);
    x->bad = true;
    test_failures++;
}

static void skip_ws(struct xml *x)
{
    while (x->p < x->end && (*x->p == '\r' || *x->p == '\n' || *x->p == ' '))
        x->p++;
}

static bool at(struct xml *x, const char *tag)
{
    skip_ws(x);
    size_t n = strlen(tag);
    return (size_t)(x->end - x->p) >= n && memcmp(x->p, tag, n) == 0;
}

static void expect(struct xml *x, const char *tag)
{
    if (!at(x, tag)) {
        fail(x, tag);
        x->p = x->end;
        return;
    }
    x->p += strlen(tag);
}

/* The text of <tag>\r\n...</tag>, unescaped; the cursor moves past it. */
static struct str text(struct xml *x, const char *tag)
{
    char open[32], close[32];
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    expect(x, open);
    if (x->p < x->end && *x->p == '\r')
        x->p++;
    if (x->p < x->end && *x->p == '\n')
        x->p++;
    const char *e = memmem(x->p, (size_t)(x->end - x->p), close, strlen(close));
    if (!e) {
        fail(x, close);
        x->p = x->end;
        return STR_NULL;
    }
    struct buf b;
    buf_init(&b, 0);
    static const struct { const char *ent, *ch; } ents[] = {
        { "&lt;", "<" }, { "&gt;", ">" }, { "&amp;", "&" }, { "&quot;", "\"" }, { "&apos;", "'" },
    };
    for (const char *q = x->p; q < e;) {
        size_t k;
        for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
            if ((size_t)(e - q) >= strlen(ents[k].ent) &&
                memcmp(q, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (k < sizeof(ents) / sizeof(ents[0])) {
            buf_append_cstr(&b, ents[k].ch);
            q += strlen(ents[k].ent);
        } else {
            buf_append_char(&b, *q++);
        }
    }
    struct str s = arena_str(x->a, buf_str(&b));
    buf_free(&b);
    x->p = e + strlen(close);
    return s;
}

static void check_lines(struct xml *x, struct str msg, const struct mime_part *p)
{
    size_t lf = 0;
    for (size_t i = 0; i < p->body_len; i++)
        lf += msg.p[p->body_offset + i] == '\n';
    if (p->body_len && msg.p[p->body_offset + p->body_len - 1] != '\n')
        lf++;
    if (lf != p->body_lines)
        fail(x, "body_lines");
}

static void compare_entity(struct xml *x, struct str msg, const struct mime_part *part);

/* The header fields, in order, each exactly as written. */
static void compare_header(struct xml *x, struct str msg, const struct mime_part *part)
{
    expect(x, "<header>");
    struct mime_header_iter it;
    struct mime_field f;
    mime_header_iter_init(&it, (struct str){ msg.p + part->header_offset, part->header_len });
    while (!x->bad && at(x, "<field>")) {
        struct str want = text(x, "field");
        if (!mime_header_next(&it, &f))
            fail(x, "a field missing");
        else if (!str_eq(f.raw, want))
            fail(x, "field differs");
    }
    if (!x->bad && mime_header_next(&it, &f))
        fail(x, "an extra field");
    expect(x, "</header>");
}

static bool starts_with(struct str s, struct str prefix)
{
    return s.len >= prefix.len && memcmp(s.p, prefix.p, prefix.len) == 0;
}

static bool ends_with(struct str s, struct str suffix)
{
    return s.len >= suffix.len && memcmp(s.p + s.len - suffix.len, suffix.p, suffix.len) == 0;
}

static void compare_multipart(struct xml *x, struct str msg, const struct mime_part *part)
{
    struct str body = { msg.p + part->body_offset, part->body_len };
    expect(x, "<multipart>");
    if (part->kind != MIME_KIND_MULTIPART)
        fail(x, "not a multipart");
    if (at(x, "<preamble>") && !starts_with(body, text(x, "preamble")))
        fail(x, "preamble");
    const struct mime_part *c = part->children;
    unsigned n = 0;
    while (!x->bad && at(x, "<body-part>")) {
        if (!c) {
            fail(x, "a part missing");
            break;
        }
        compare_entity(x, msg, c);
        c = c->next;
        n++;
    }
    if (!x->bad && (c || n != part->n_children))
        fail(x, "extra parts");
    if (at(x, "<epilogue>") && !ends_with(body, text(x, "epilogue")))
        fail(x, "epilogue");
    expect(x, "</multipart>");
}

/* A base64 message/rfc822: decoded and parsed on its own (see the top). */
static void compare_encoded_message(struct xml *x, const struct mime_part *part, struct str msg)
{
    if (part->kind != MIME_KIND_LEAF || part->encoding != MIME_ENC_BASE64) {
        fail(x, "expected an encapsulated message");
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    mime_decode_body(part->encoding, (struct str){ msg.p + part->body_offset, part->body_len },
                     &b, NULL);
    struct str decoded = arena_str(x->a, buf_str(&b));
    buf_free(&b);
    const struct mime_part *root = mime_parse(x->a, decoded, NULL);
    compare_entity(x, decoded, root);
}

/* <message> or <body-part>: header, then body, multipart or message. */
static void compare_entity(struct xml *x, struct str msg, const struct mime_part *part)
{
    bool message = at(x, "<message>");
    expect(x, message ? "<message>" : "<body-part>");
    if (x->bad)
        return;
    compare_header(x, msg, part);
    check_lines(x, msg, part);
    if (at(x, "<body>")) {
        struct str want = text(x, "body");
        if (part->kind != MIME_KIND_LEAF)
            fail(x, "not a leaf");
        if (!str_eq((struct str){ msg.p + part->body_offset, part->body_len }, want))
            fail(x, "body differs");
    } else if (at(x, "<multipart>")) {
        compare_multipart(x, msg, part);
    } else if (at(x, "<message>")) {
        if (part->kind == MIME_KIND_MESSAGE)
            compare_entity(x, msg, part->children);
        else
            compare_encoded_message(x, part, msg);
    } else {
        fail(x, "unknown element");
    }
    expect(x, message ? "</message>" : "</body-part>");
}

/* Also: every tree survives the store's blob unchanged. */
static void check_round_trip(struct arena *a, const struct mime_part *root, const char *name)
{
    struct buf b1, b2;
    buf_init(&b1, 0);
    buf_init(&b2, 0);
    CHECK_INT(mime_serialize(root, &b1), 0);
    const struct mime_part *back = mime_deserialize(a, buf_str(&b1));
    CHECK(back != NULL);
    if (back) {
        CHECK_INT(mime_serialize(back, &b2), 0);
        CHECK(str_eq(buf_str(&b1), buf_str(&b2)));
    } else {
        fprintf(stderr, "  %s: blob refused\n", name);
    }
    buf_free(&b1);
    buf_free(&b2);
}

static const struct {
    const char *msg, *xml;
} substitutes[] = {
    { "malformedHeaderStartsBody-nocrlfcrlf", "malformedHeader-nocrlfcrlf" },
    { "malformedHeaderStartsBody-noheader", "malformedHeader-noheader" },
};

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void test_corpus(void)
{
    DIR *d = opendir(DATA);
    CHECK(d != NULL);
    if (!d)
        return;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".msg") == 0)
            names[n++] = xstrndup(e->d_name, len - 4);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), by_name);
    CHECK(n >= 32);
    unsigned compared = 0;
    for (size_t i = 0; i < n; i++) {
        const char *xml_name = names[i];
        for (size_t k = 0; k < sizeof(substitutes) / sizeof(substitutes[0]); k++)
            if (strcmp(names[i], substitutes[k].msg) == 0)
                xml_name = substitutes[k].xml;
        char path[512];
        size_t mlen, xlen;
        snprintf(path, sizeof(path), DATA "%s.msg", names[i]);
        char *m = read_file(path, &mlen);
        snprintf(path, sizeof(path), DATA "%s.xml", xml_name);
        char *xm = read_file(path, &xlen);
        CHECK(m && xm);
        if (m && xm) {
            struct arena *a = arena_new(0);
            struct str msg = { m, mlen };
            const struct mime_part *root = mime_parse(a, msg, NULL);
            struct xml x = { xm, xm + xlen, names[i], a, false };
            int before = test_failures;
            compare_entity(&x, msg, root);
            if (!x.bad && (skip_ws(&x), x.p != x.end))
                fail(&x, "trailing XML");
            test_checks++;
            check_round_trip(a, root, names[i]);
            if (test_failures == before)
                compared++;
            arena_free(a);
        }
        free(m);
        free(xm);
        free(names[i]);
    }
    fprintf(stderr, "  %u of %zu mime4j messages match\n", compared, n);
}

int main(void)
{
    RUN(test_corpus);
    return TEST_DONE();
}
