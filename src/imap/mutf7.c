/* Modified UTF-7 mailbox names (see mutf7.h). */
#include "imap/mutf7.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1. */
static long utf8_next(struct str s, size_t *i)
{
    unsigned char c = (unsigned char)s.p[*i];
    int n;
    long cp;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (*i + (size_t)n >= s.len)
        return -1; /* truncated */
    for (int k = 1; k <= n; k++) {
        unsigned char d = (unsigned char)s.p[*i + (size_t)k];
        if ((d & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (d & 0x3f);
    }
    static const long min[] = { 0, 0x80, 0x800, 0x10000 };
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1; /* overlong, out of range, or a surrogate */
    *i += (size_t)n + 1;
    return cp;
}

static void put_utf8(struct buf *out, long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(out, b, n);
}

/* Flushes UTF-16 units as modified base64: bits accumulate in `acc`. */
struct b64w {
    uint32_t acc;
    int bits;
};

static void b64_put16(struct buf *out, struct b64w *w, unsigned unit)
{
    w->acc = (w->acc << 16) | unit;
    w->bits += 16;
    while (w->bits >= 6) {
        w->bits -= 6;
        buf_append_char(out, b64[(w->acc >> w->bits) & 0x3f]);
    }
}

static char *finish(struct arena *a, struct buf *b, bool ok)
{
    char *r = ok ? arena_strndup(a, b->p ? b->p : "", b->len) : NULL;
    buf_free(b);
    return r;
}

char *imap_mutf7_encode(struct arena *a, struct str in)
{
    struct buf out;
    buf_init(&out, 0);
    size_t i = 0;
    while (i < in.len) {
        unsigned char c = (unsigned char)in.p[i];
        if (c >= 0x20 && c <= 0x7e) {
            if (c == '&')
                buf_append(&out, "&-", 2);
            else
                buf_append_char(&out, (char)c);
            i++;
            continue;
        }
        /* A run of characters outside printable ASCII, shifted. */
        buf_append_char(&out, '&');
        struct b64w w = { 0, 0 };
        while (i < in.len) {
            unsigned char d = (unsigned char)in.p[i];
            if (d >= 0x20 && d <= 0x7e)
                break;
            long cp = utf8_next(in, &i);
            if (cp <= 0)
                return finish(a, &out, false); /* invalid UTF-8, or NUL */
            if (cp >= 0x10000) {
                cp -= 0x10000;
                b64_put16(&out, &w, 0xd800 | (unsigned)(cp >> 10));
                b64_put16(&out, &w, 0xdc00 | (unsigned)(cp & 0x3ff));
            } else {
                b64_put16(&out, &w, (unsigned)cp);
            }
        }
        if (w.bits)
            buf_append_char(&out, b64[(w.acc << (6 - w.bits)) & 0x3f]);
        buf_append_char(&out, '-');
    }
    return finish(a, &out, true);
}

char *imap_mutf7_decode(struct arena *a, struct str in)
{
    struct buf out;
    buf_init(&out, 0);
    size_t i = 0;
    while (i < in.len) {
        unsigned char c = (unsigned char)in.p[i];
        if (c < 0x20 || c > 0x7e)
            return finish(a, &out, false);
        if (c != '&') {
            buf_append_char(&out, (char)c);
            i++;
            continue;
        }
        i++;
        if (i < in.len && in.p[i] == '-') {
            buf_append_char(&out, '&');
            i++;
            continue;
        }
        uint32_t acc = 0;
        int bits = 0;
        unsigned high = 0; /* a pending high surrogate */
        size_t units = 0;
        for (;;) {
            if (i >= in.len)
                return finish(a, &out, false); /* unterminated */
            unsigned char d = (unsigned char)in.p[i++];
            if (d == '-')
                break;
            int v = b64_value(d);
            if (v < 0)
                return finish(a, &out, false);
            acc = (acc << 6) | (uint32_t)v;
            bits += 6;
            if (bits >= 16) {
                bits -= 16;
                unsigned unit = (acc >> bits) & 0xffff;
                units++;
                if (high) {
                    if (unit < 0xdc00 || unit > 0xdfff)
                        return finish(a, &out, false);
                    put_utf8(&out, 0x10000 + (((long)high - 0xd800) << 10) + (unit - 0xdc00));
                    high = 0;
                } else if (unit >= 0xd800 && unit <= 0xdbff) {
                    high = unit;
                } else if (unit >= 0xdc00 && unit <= 0xdfff) {
                    return finish(a, &out, false);
                } else if (unit >= 0x20 && unit <= 0x7e) {
                    return finish(a, &out, false); /* must not be shifted */
                } else if (unit == 0) {
                    return finish(a, &out, false);
                } else {
                    put_utf8(&out, unit);
                }
            }
        }
        /* Leftover bits must be fewer than 6 and zero; no pending surrogate;
         * a shift must hold something. */
        if (high || units == 0 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
            return finish(a, &out, false);
    }
    return finish(a, &out, true);
}
