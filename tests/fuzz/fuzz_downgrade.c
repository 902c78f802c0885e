/* Fuzzes the 8BITMIME to 7-bit conversion with any bytes as a message. A
 * converted message must be 7-bit, parse into the same tree as the input,
 * decode to exactly the same bytes in every leaf (a message/global part
 * encoded whole: to its original body), and need no second conversion; a
 * message left alone must be 7-bit; a refusal must leave the output as it
 * was. The same bytes go through both encoders, which must decode back to
 * them; and the conversion runs again with an output cap, which may only
 * add TOO_BIG.
 *
 * Seeds (corpus/downgrade/): the mime4j messages, *.msg, copied from
 * tests/data/mime4j/ (Apache License 2.0, see LICENSE.mime4j and
 * NOTICE.mime4j there); 8-bit messages of our own, *.eml; and every input
 * that once crashed, crash-*. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/downgrade.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_7bit(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] >= 0x80)
            return false;
    return true;
}

static void decode_part(struct str msg, const struct mime_part *p, struct buf *out)
{
    struct str body = { msg.p + p->body_offset, p->body_len };
    if (mime_decode_body(p->encoding, body, out, NULL) == -2)
        buf_append_str(out, body);
}

static bool same_bytes(struct str m1, const struct mime_part *a, bool decode_a, struct str m2,
                       const struct mime_part *b)
{
    struct buf da, db;
    buf_init(&da, 0);
    buf_init(&db, 0);
    if (decode_a)
        decode_part(m1, a, &da);
    else
        buf_append(&da, m1.p + a->body_offset, a->body_len);
    decode_part(m2, b, &db);
    bool same = str_eq(buf_str(&da), buf_str(&db));
    buf_free(&da);
    buf_free(&db);
    return same;
}

/* Both trees walked together, iteratively (they may be deep). */
static bool same_content(struct str m1, const struct mime_part *a, struct str m2,
                         const struct mime_part *b)
{
    while (a && b) {
        bool descend = true;
        if (a->kind == MIME_KIND_MESSAGE && b->kind == MIME_KIND_LEAF &&
            b->encoding == MIME_ENC_BASE64 && str_eq_nocase_cstr(a->subtype, "global")) {
            if (!same_bytes(m1, a, false, m2, b))
                return false;
            descend = false;
        } else {
            if (a->kind != b->kind || a->n_children != b->n_children ||
                !str_eq_nocase(a->type, b->type) || !str_eq_nocase(a->subtype, b->subtype))
                return false;
            if (a->kind == MIME_KIND_LEAF && !same_bytes(m1, a, true, m2, b))
                return false;
        }
        if (descend && a->children) {
            a = a->children;
            b = b->children;
            continue;
        }
        while (a && !a->next) {
            a = a->parent;
            b = b->parent;
        }
        if (a) {
            a = a->next;
            b = b->next;
        }
    }
    return !a && !b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str msg = { (const char *)data, size };

    for (int text = 0; text < 3; text++) {
        struct buf enc, dec;
        buf_init(&enc, 0);
        buf_init(&dec, 0);
        if (text < 2)
            mime_encode_qp(msg, text, &enc);
        else
            mime_encode_base64(msg, &enc);
        if (!all_7bit(buf_str(&enc)))
            abort();
        mime_decode_body(text < 2 ? MIME_ENC_QP : MIME_ENC_BASE64, buf_str(&enc), &dec, NULL);
        if (!str_eq(buf_str(&dec), msg))
            abort();
        buf_free(&enc);
        buf_free(&dec);
    }

    struct arena *a = arena_new(0);
    struct buf out;
    buf_init(&out, 0);
    const char *err = NULL;
    enum mime_downgrade_status st = mime_downgrade(a, msg, &out, &err);
    switch (st) {
    case MIME_DOWNGRADE_CLEAN:
        if (out.len || !all_7bit(msg))
            abort();
        break;
    case MIME_DOWNGRADE_DONE: {
        struct str o = buf_str(&out);
        if (!all_7bit(o))
            abort();
        const struct mime_part *r1 = mime_parse(a, msg, NULL);
        const struct mime_part *r2 = mime_parse(a, o, NULL);
        if (!r1 || !r2 || !same_content(msg, r1, o, r2))
            abort();
        struct buf again;
        buf_init(&again, 0);
        if (mime_downgrade(a, o, &again, NULL) != MIME_DOWNGRADE_CLEAN || again.len)
            abort();
        buf_free(&again);
        break;
    }
    case MIME_DOWNGRADE_NEEDS_UTF8:
    case MIME_DOWNGRADE_UNSUPPORTED:
        if (out.len || !err)
            abort();
        break;
    default:
        abort();
    }

    /* With a cap: the same answer, or TOO_BIG with nothing written. */
    struct buf capped;
    buf_init(&capped, out.len / 2 + 1);
    enum mime_downgrade_status st2 = mime_downgrade(a, msg, &capped, NULL);
    if (st2 == MIME_DOWNGRADE_TOO_BIG ? capped.len != 0
                                      : st2 != st || !str_eq(buf_str(&capped), buf_str(&out)))
        abort();
    buf_free(&capped);
    buf_free(&out);
    arena_free(a);
    return 0;
}
