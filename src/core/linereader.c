#include "core/linereader.h"

#include <string.h>

void linereader_init(struct linereader *r, size_t max_line)
{
    /* +1: a CR is buffered before we know whether an LF follows. */
    buf_init(&r->partial, max_line + 1);
    r->max = max_line;
    r->discarding = false;
}

void linereader_free(struct linereader *r)
{
    buf_free(&r->partial);
}

void linereader_reset(struct linereader *r)
{
    buf_clear(&r->partial);
    r->discarding = false;
}

bool linereader_pending(const struct linereader *r)
{
    return r->partial.len > 0 || r->discarding;
}

static enum line_status finish(struct str *line, const char *p, size_t len)
{
    if (len && p[len - 1] == '\r') {
        *line = (struct str){ p, len - 1 };
        return LINE_CRLF;
    }
    *line = (struct str){ p, len };
    return LINE_LF;
}

enum line_status linereader_next(struct linereader *r, struct str *in, struct str *line)
{
    while (in->len) {
        const char *lf = memchr(in->p, '\n', in->len);
        size_t take = lf ? (size_t)(lf - in->p) : in->len; /* bytes before LF */

        if (r->discarding) {
            in->p += take;
            in->len -= take;
            if (lf) {
                in->p++;
                in->len--;
                r->discarding = false;
            }
            continue;
        }

        /* The line's length without its terminator; a trailing CR may be
         * the first half of CRLF, so it does not count yet. */
        size_t have = r->partial.len + take;
        char last = take ? in->p[take - 1] : (r->partial.len ? r->partial.p[r->partial.len - 1] : 0);
        size_t content = (have && last == '\r') ? have - 1 : have;
        bool too_long = content > r->max;
        if (too_long) {
            size_t room = r->partial.len < r->max ? r->max - r->partial.len : 0;
            if (room > take)
                room = take;
            buf_append(&r->partial, in->p, room);
            *line = (struct str){ r->partial.p, r->partial.len < r->max ? r->partial.len : r->max };
            r->partial.len = 0; /* the bytes stay readable until the next call */
            in->p += take;
            in->len -= take;
            if (lf) {
                in->p++;
                in->len--;
            } else {
                r->discarding = true;
            }
            return LINE_TOO_LONG;
        }

        if (!lf) {
            buf_append(&r->partial, in->p, take);
            in->p += take;
            in->len -= take;
            return LINE_NONE;
        }

        const char *start = in->p;
        in->p += take + 1;
        in->len -= take + 1;
        if (r->partial.len == 0)
            return finish(line, start, take);
        buf_append(&r->partial, start, take);
        enum line_status st = finish(line, r->partial.p, r->partial.len);
        r->partial.len = 0; /* readable until the next call */
        return st;
    }
    return LINE_NONE;
}
