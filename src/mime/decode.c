/* Content-Transfer-Encoding (RFC 2045 §6): base64 and quoted-printable
 * decoding, tolerant the way real mail needs (whitespace and junk in base64,
 * lower-case hex and bad escapes in quoted-printable). */
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

enum mime_encoding mime_encoding_parse(struct str cte)
{
    if (!cte.p)
        return MIME_ENC_7BIT;
    size_t i = mime_skip_cfws(cte, 0, NULL), start = i;
    while (i < cte.len && !mime_is_lwsp(cte.p[i]) && cte.p[i] != '(' && cte.p[i] != ';')
        i++;
    struct str tok = { cte.p + start, i - start };
    if (tok.len == 0 || str_eq_nocase_cstr(tok, "7bit"))
        return MIME_ENC_7BIT;
    if (str_eq_nocase_cstr(tok, "8bit"))
        return MIME_ENC_8BIT;
    if (str_eq_nocase_cstr(tok, "binary"))
        return MIME_ENC_BINARY;
    if (str_eq_nocase_cstr(tok, "base64"))
        return MIME_ENC_BASE64;
    if (str_eq_nocase_cstr(tok, "quoted-printable"))
        return MIME_ENC_QP;
    return MIME_ENC_OTHER;
}

/* Decoded bytes collect in a small block before going to the buf: one
 * append per 4 KB instead of one per byte. */
struct sink {
    struct buf *out;
    bool nul;
    size_t n;
    char tmp[4096];
};

/* Over the cap, the bytes that still fit go in: the output is always the
 * longest prefix of the decoded body that fits. */
static int append_prefix(struct buf *out, const char *p, size_t n)
{
    if (buf_append(out, p, n) == 0)
        return 0;
    size_t room = out->max > out->len ? out->max - out->len : 0;
    buf_append(out, p, room < n ? room : n);
    return -1;
}

static int sink_flush(struct sink *k)
{
    if (k->n && memchr(k->tmp, '\0', k->n))
        k->nul = true;
    int r = append_prefix(k->out, k->tmp, k->n);
    k->n = 0;
    return r;
}

static inline int sink_put(struct sink *k, char c)
{
    if (k->n == sizeof(k->tmp) && sink_flush(k) < 0)
        return -1;
    k->tmp[k->n++] = c;
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Padding, wherever it comes, ends a group: what is left of it is flushed,
 * so concatenated base64 blobs decode as well. A lone sixth of a group
 * carries no whole byte and is dropped. */
static int b64_flush(struct sink *k, const unsigned char *q, unsigned n)
{
    if (n >= 2 && sink_put(k, (char)((q[0] << 2) | (q[1] >> 4))) < 0)
        return -1;
    if (n >= 3 && sink_put(k, (char)((q[1] << 4) | (q[2] >> 2))) < 0)
        return -1;
    if (n >= 4 && sink_put(k, (char)((q[2] << 6) | q[3])) < 0)
        return -1;
    return 0;
}

static int b64_decode(struct sink *k, struct str in)
{
    unsigned char q[4];
    unsigned n = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char c = (unsigned char)in.p[i];
        int v = b64_value(c);
        if (v >= 0) {
            q[n++] = (unsigned char)v;
            if (n == 4) {
                if (b64_flush(k, q, 4) < 0)
                    return -1;
                n = 0;
            }
        } else if (c == '=') {
            if (b64_flush(k, q, n) < 0)
                return -1;
            n = 0;
        }
    }
    return b64_flush(k, q, n);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Length of the line break at s[i] (CRLF or LF), 0 when there is none. */
static size_t eol_at(struct str s, size_t i)
{
    if (i < s.len && s.p[i] == '\n')
        return 1;
    if (i + 1 < s.len && s.p[i] == '\r' && s.p[i + 1] == '\n')
        return 2;
    return 0;
}

static int qp_decode(struct sink *k, struct str in)
{
    size_t i = 0;
    while (i < in.len) {
        char c = in.p[i];
        if (c == '=') {
            int h1 = i + 1 < in.len ? hex_value((unsigned char)in.p[i + 1]) : -1;
            int h2 = i + 2 < in.len ? hex_value((unsigned char)in.p[i + 2]) : -1;
            if (h1 >= 0 && h2 >= 0) {
                if (sink_put(k, (char)(h1 << 4 | h2)) < 0)
                    return -1;
                i += 3;
                continue;
            }
            /* A soft line break: "=", maybe blanks a transport added, EOL. */
            size_t j = i + 1;
            while (j < in.len && mime_is_wsp(in.p[j]))
                j++;
            size_t e = eol_at(in, j);
            if (e || j == in.len) {
                i = j + e;
                continue;
            }
            /* A bad escape stays as it is. */
        } else if (mime_is_wsp(c)) {
            /* Blanks at the end of a line were added in transport. */
            size_t j = i;
            while (j < in.len && mime_is_wsp(in.p[j]))
                j++;
            if (j == in.len || eol_at(in, j)) {
                i = j;
                continue;
            }
            for (; i < j; i++)
                if (sink_put(k, in.p[i]) < 0)
                    return -1;
            continue;
        }
        if (sink_put(k, c) < 0)
            return -1;
        i++;
    }
    return 0;
}

int mime_base64_decode(struct str in, struct buf *out)
{
    struct sink k = { .out = out };
    int r = b64_decode(&k, in);
    return (r < 0 || sink_flush(&k) < 0) ? -1 : 0;
}

int mime_decode_body(enum mime_encoding enc, struct str body, struct buf *out, bool *binary_r)
{
    if (binary_r)
        *binary_r = false;
    if (enc == MIME_ENC_OTHER)
        return -2;
    if (enc != MIME_ENC_BASE64 && enc != MIME_ENC_QP) {
        if (binary_r && body.len && memchr(body.p, '\0', body.len))
            *binary_r = true;
        return append_prefix(out, body.p, body.len);
    }
    struct sink k = { .out = out };
    int r = enc == MIME_ENC_BASE64 ? b64_decode(&k, body) : qp_decode(&k, body);
    if (r == 0)
        r = sink_flush(&k);
    if (binary_r)
        *binary_r = k.nul;
    return r;
}
