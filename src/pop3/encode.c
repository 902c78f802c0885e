/* The wire form of a stored message (see encode.h). */
#include "pop3/encode.h"

#include <string.h>

void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t lines)
{
    memset(e, 0, sizeof(*e));
    e->top = top;
    e->lines_left = lines;
    e->line_start = true;
}

bool pop3_encoder_done(const struct pop3_encoder *e)
{
    return e->done;
}

/* A line ended (its LF taken): where TOP stands now. */
static void line_end(struct pop3_encoder *e)
{
    /* Empty: nothing before the LF, or only the CR of a CRLF. */
    bool empty = e->line_len == 0 || (e->line_len == 1 && e->prev_cr);
    if (!e->in_body) {
        if (empty) {
            e->in_body = true;
            if (e->top && e->lines_left == 0)
                e->done = true;
        }
    } else if (e->top && --e->lines_left == 0) {
        e->done = true;
    }
    e->line_len = 0;
    e->line_start = true;
}

size_t pop3_encode(struct pop3_encoder *e, struct str in, struct buf *out)
{
    size_t i = 0;
    while (i < in.len && !e->done) {
        if (e->line_start) {
            e->line_start = false;
            if (in.p[i] == '.' && out)
                buf_append_char(out, '.'); /* stuffing: not counted */
        }
        /* The rest of this line, up to its LF or the chunk's end. */
        const char *lf = memchr(in.p + i, '\n', in.len - i);
        size_t end = lf ? (size_t)(lf - in.p) : in.len;
        size_t n = end - i;
        if (n) {
            if (out)
                buf_append(out, in.p + i, n);
            e->octets += n;
            e->line_len += n;
            e->prev_cr = in.p[end - 1] == '\r';
        }
        i = end;
        if (!lf)
            break;
        /* The LF: a bare one gets its CR. */
        bool had_cr = e->prev_cr && e->line_len > 0;
        if (out)
            buf_append(out, had_cr ? "\n" : "\r\n", had_cr ? 1 : 2);
        e->octets += had_cr ? 1 : 2;
        line_end(e);
        e->prev_cr = false;
        i++;
    }
    return i;
}

void pop3_encode_finish(struct pop3_encoder *e, struct buf *out)
{
    if (e->done || e->line_start)
        return;
    /* A last line without LF: a trailing CR becomes the CRLF's CR. */
    bool had_cr = e->prev_cr && e->line_len > 0;
    if (out)
        buf_append(out, had_cr ? "\n" : "\r\n", had_cr ? 1 : 2);
    e->octets += had_cr ? 1 : 2;
    e->line_start = true;
    e->line_len = 0;
    e->prev_cr = false;
}

uint64_t pop3_wire_size(struct str message)
{
    struct pop3_encoder e;
    pop3_encoder_init(&e, false, 0);
    pop3_encode(&e, message, NULL);
    pop3_encode_finish(&e, NULL);
    return e.octets;
}
