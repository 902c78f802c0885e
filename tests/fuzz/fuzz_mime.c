/* Fuzzes the MIME module with any bytes as a message: the tree must keep
 * its invariants (every range inside the message and inside its parent,
 * line counts right), its blob must come back exactly (serialize,
 * deserialize, serialize), and search text and body decoding must stay
 * within their caps. The same bytes are also tried as a blob: one that is
 * accepted must serialize back to itself. A second parse with tiny limits and
 * a nearly full arena exercises the paths that give up early.
 *
 * Seeds (corpus/mime/): the mime4j messages, *.msg, copied from
 * tests/data/mime4j/ (Apache License 2.0, see LICENSE.mime4j and
 * NOTICE.mime4j there); hostile shapes of our own, *.eml; blobs of some of
 * those, blob-*, for the blob reader; and every input that once crashed,
 * crash-*. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t part_end(const struct mime_part *p)
{
    return p->body_offset + p->body_len;
}

static void check_tree(struct str msg, const struct mime_part *root, const struct mime_limits *lim)
{
    if (root->header_offset != 0 || part_end(root) != msg.len)
        abort();
    unsigned parts = 0;
    const struct mime_part *p = root;
    while (p) {
        parts++;
        if (p->body_offset != p->header_offset + p->header_len || part_end(p) > msg.len)
            abort();
        if (!p->type.p || !p->subtype.p)
            abort();
        size_t lines = 0;
        const char *b = msg.p + p->body_offset, *e = b + p->body_len, *nl;
        for (const char *q = b; q < e && (nl = memchr(q, '\n', (size_t)(e - q))); q = nl + 1)
            lines++;
        if (p->body_len && e[-1] != '\n')
            lines++;
        if (lines != p->body_lines)
            abort();
        unsigned n = 0;
        size_t from = p->body_offset;
        for (const struct mime_part *c = p->children; c; c = c->next) {
            n++;
            if (c->parent != p || c->header_offset < from || part_end(c) > part_end(p))
                abort();
            from = part_end(c);
        }
        if (n != p->n_children || (p->kind == MIME_KIND_LEAF && n) ||
            (p->kind == MIME_KIND_MESSAGE && n != 1))
            abort();
        if (!!p->envelope != (!p->parent || p->parent->kind == MIME_KIND_MESSAGE))
            abort();
        if (p->children) {
            p = p->children;
            continue;
        }
        while (p != root && !p->next)
            p = p->parent;
        p = p == root ? NULL : p->next;
    }
    if (lim && parts > lim->max_parts)
        abort();
}

static void round_trip(struct arena *a, const struct mime_part *root)
{
    struct buf b1, b2;
    buf_init(&b1, 0);
    buf_init(&b2, 0);
    if (mime_serialize(root, &b1) != 0)
        abort();
    const struct mime_part *back = mime_deserialize(a, buf_str(&b1));
    if (!back || mime_serialize(back, &b2) != 0 || !str_eq(buf_str(&b1), buf_str(&b2)))
        abort();
    buf_free(&b1);
    buf_free(&b2);
}

static void use_tree(struct arena *a, struct str msg, const struct mime_part *root)
{
    struct buf b;
    buf_init(&b, 65536);
    mime_search_text(a, msg, root, &b);
    if (b.len > 65536)
        abort();
    buf_free(&b);
    const struct mime_part *p = root;
    while (p) {
        buf_init(&b, 1 << 20);
        bool binary;
        mime_decode_body(p->encoding, (struct str){ msg.p + p->body_offset, p->body_len }, &b,
                         &binary);
        if (b.len > (1 << 20) || (binary && !memchr(b.p, '\0', b.len)))
            abort();
        buf_free(&b);
        if (p->children) {
            p = p->children;
            continue;
        }
        while (p != root && !p->next)
            p = p->parent;
        p = p == root ? NULL : p->next;
    }
    static const unsigned sections[][3] = { { 1, 0, 0 }, { 1, 1, 0 }, { 2, 1, 1 }, { 1, 2, 3 } };
    for (size_t i = 0; i < 4; i++)
        for (size_t n = 1; n <= 3; n++)
            mime_part_find(root, sections[i], n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str msg = { (const char *)data, size };
    struct arena *a = arena_new(0);
    const struct mime_part *root = mime_parse(a, msg, NULL);
    if (!root)
        abort();
    check_tree(msg, root, NULL);
    round_trip(a, root);
    use_tree(a, msg, root);

    /* The input as a blob. */
    const struct mime_part *t = mime_deserialize(a, msg);
    if (t) {
        struct buf b;
        buf_init(&b, 0);
        if (mime_serialize(t, &b) != 0 || !str_eq(buf_str(&b), msg))
            abort();
        buf_free(&b);
    }
    arena_free(a);

    /* Tiny limits and a nearly full arena. */
    struct mime_limits lim = { .max_depth = 2, .max_parts = 4 };
    a = arena_new(1024 + size % 4096);
    root = mime_parse(a, msg, &lim);
    if (root) {
        check_tree(msg, root, &lim);
        struct arena *b = arena_new(0);
        round_trip(b, root);
        arena_free(b);
    }
    arena_free(a);
    return 0;
}
