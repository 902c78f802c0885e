/* BINARY[section] data (see binary.h). */
#include "imap/binary.h"

static struct str body_of(struct str msg, const struct mime_part *p)
{
    if (p->body_offset > msg.len)
        return (struct str){ msg.p + msg.len, 0 };
    size_t len = p->body_len;
    if (len > msg.len - p->body_offset)
        len = msg.len - p->body_offset;
    return (struct str){ msg.p + p->body_offset, len };
}

int imap_binary_section(struct str msg, const struct mime_part *root, const unsigned *parts,
                        size_t n, struct buf *scratch, struct str *data_r)
{
    *data_r = (struct str){ msg.p, 0 };
    if (n == 0) {
        *data_r = msg;
        return 0;
    }
    const struct mime_part *p = root ? mime_part_find(root, parts, n) : NULL;
    if (!p)
        return 0;
    struct str body = body_of(msg, p);
    if (p->kind != MIME_KIND_LEAF || (p->encoding != MIME_ENC_BASE64 &&
                                      p->encoding != MIME_ENC_QP &&
                                      p->encoding != MIME_ENC_OTHER)) {
        *data_r = body;
        return 0;
    }
    size_t start = scratch->len;
    int r = mime_decode_body(p->encoding, body, scratch, NULL);
    if (r == -2)
        return IMAP_BINARY_UNKNOWN_CTE;
    /* The buffer may have moved while growing: point at it only now. */
    *data_r = (struct str){ scratch->p ? scratch->p + start : msg.p, scratch->len - start };
    return r < 0 ? -1 : 0;
}
