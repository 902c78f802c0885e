/* 8BITMIME to 7 bits (see downgrade.h). The message is parsed once; then
 * two walks over the tree in document order: the first decides and finds
 * what cannot be converted (and whether anything will be re-encoded, which
 * the root's header must know before it is written), the second writes the
 * message with the changed header blocks and bodies spliced in. Both walks
 * are iterative: the tree may be as deep as the parser's limit. */
#include "mime/downgrade.h"

#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* RFC 5322 §2.1.1 / RFC 2045 §2.7: 998 octets before the CRLF. */
#define MAX_LINE 998
/* RFC 2045 §6.7 (5): 76 characters, the soft break's "=" included. */
#define QP_LINE 76

/* Output collects in a small block before going to the buf: one append per
 * 4 KB instead of one per byte. */
struct sink {
    struct buf *out;
    int err;
    size_t n;
    char tmp[4096];
};

static void sink_flush(struct sink *k)
{
    if (k->n && !k->err && buf_append(k->out, k->tmp, k->n) < 0)
        k->err = -1;
    k->n = 0;
}

static inline void sink_put(struct sink *k, char c)
{
    if (k->n == sizeof(k->tmp))
        sink_flush(k);
    k->tmp[k->n++] = c;
}

static void sink_mem(struct sink *k, const char *p, size_t n)
{
    if (n >= sizeof(k->tmp)) {
        sink_flush(k);
        if (!k->err && buf_append(k->out, p, n) < 0)
            k->err = -1;
        return;
    }
    if (k->n + n > sizeof(k->tmp))
        sink_flush(k);
    memcpy(k->tmp + k->n, p, n);
    k->n += n;
}

static void sink_cstr(struct sink *k, const char *s)
{
    sink_mem(k, s, strlen(s));
}

static const char hex_digits[] = "0123456789ABCDEF";

static bool is_crlf_at(struct str s, size_t i)
{
    return i + 1 < s.len && s.p[i] == '\r' && s.p[i + 1] == '\n';
}

static void qp_encode(struct sink *k, struct str in, bool text)
{
    size_t col = 0;
    size_t i = 0;
    while (i < in.len) {
        unsigned char c = (unsigned char)in.p[i];
        if (text && is_crlf_at(in, i)) {
            sink_mem(k, "\r\n", 2);
            col = 0;
            i += 2;
            continue;
        }
        /* Is this the last character of its line? Then it may take the
         * 76th column, and a blank there must be escaped (RFC 2045 §6.7
         * (3): trailing blanks are removed in transport). */
        bool last = i + 1 == in.len || (text && is_crlf_at(in, i + 1));
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
        if (literal && col == 0) {
            /* A line starting "--" could be read as a boundary, "From " is
             * mangled by mbox: escape the first character (RFC 2049 §4). */
            if (c == '-' && i + 1 < in.len && in.p[i + 1] == '-')
                literal = false;
            else if (c == 'F' && in.len - i >= 5 && memcmp(in.p + i, "From ", 5) == 0)
                literal = false;
        }
        size_t w = literal ? 1 : 3;
        if (col + w > (last ? QP_LINE : QP_LINE - 1)) {
            sink_mem(k, "=\r\n", 3);
            col = 0;
            continue; /* the rules at the start of a line apply again */
        }
        if (literal) {
            sink_put(k, (char)c);
        } else {
            char e[3] = { '=', hex_digits[c >> 4], hex_digits[c & 15] };
            sink_mem(k, e, 3);
        }
        col += w;
        i++;
    }
}

int mime_encode_qp(struct str in, bool text, struct buf *out)
{
    struct sink k = { .out = out };
    qp_encode(&k, in, text);
    sink_flush(&k);
    return k.err;
}

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(struct sink *k, struct str in)
{
    const unsigned char *u = (const unsigned char *)in.p;
    size_t col = 0;
    for (size_t i = 0; i < in.len; i += 3) {
        if (col == QP_LINE) {
            sink_mem(k, "\r\n", 2);
            col = 0;
        }
        size_t n = in.len - i < 3 ? in.len - i : 3;
        unsigned v = (unsigned)u[i] << 16 | (n > 1 ? (unsigned)u[i + 1] << 8 : 0) |
                     (n > 2 ? u[i + 2] : 0);
        char q[4] = { b64_chars[v >> 18], b64_chars[(v >> 12) & 63],
                      n > 1 ? b64_chars[(v >> 6) & 63] : '=', n > 2 ? b64_chars[v & 63] : '=' };
        sink_mem(k, q, 4);
        col += 4;
    }
}

int mime_encode_base64(struct str in, struct buf *out)
{
    struct sink k = { .out = out };
    b64_encode(&k, in);
    sink_flush(&k);
    return k.err;
}

/* ---- what needs converting ------------------------------------------------ */

static bool has_8bit(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] >= 0x80)
            return true;
    return false;
}

/* A byte 7bit does not allow (>= 0x80, NUL) or a line past 998 octets. */
static bool needs_7bit(struct str s)
{
    size_t line = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x80 || c == 0)
            return true;
        if (c == '\n') {
            line = 0;
        } else if (++line > MAX_LINE && !(c == '\r' && i + 1 < s.len && s.p[i + 1] == '\n')) {
            return true;
        }
    }
    return false;
}

bool mime_needs_downgrade(struct str msg)
{
    return needs_7bit(msg);
}

static struct str header_of(struct str msg, const struct mime_part *p)
{
    return (struct str){ msg.p + p->header_offset, p->header_len };
}

static struct str body_of(struct str msg, const struct mime_part *p)
{
    return (struct str){ msg.p + p->body_offset, p->body_len };
}

/* Types that RFC 2045 §6.4 and RFC 2046 §5.2 allow in 7bit, 8bit or binary
 * only: their content is converted inside instead. message/global is not
 * one (RFC 6532 §3.5): it may be encoded as a whole, which is how one whose
 * encapsulated header is UTF-8 goes to a peer without SMTPUTF8. */
static bool never_encoded(const struct mime_part *p)
{
    if (str_eq_nocase_cstr(p->type, "multipart"))
        return true;
    return str_eq_nocase_cstr(p->type, "message") &&
           (str_eq_nocase_cstr(p->subtype, "rfc822") ||
            str_eq_nocase_cstr(p->subtype, "partial") ||
            str_eq_nocase_cstr(p->subtype, "external-body"));
}

enum action {
    ACT_NONE,
    ACT_RELABEL, /* a multipart or message whose 8bit/binary label becomes 7bit */
    ACT_QP,
    ACT_BASE64,
};

/* Bytes a quoted-printable encoding of a text body would escape. */
static size_t qp_escapes(struct str s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '\r' && is_crlf_at(s, i))
            i++;
        else if (c >= 0x80 || c == '=' || (c < 32 && c != '\t') || c == 127)
            n++;
    }
    return n;
}

static bool is_message_global(const struct mime_part *p)
{
    return p->kind == MIME_KIND_MESSAGE && str_eq_nocase_cstr(p->subtype, "global");
}

/* What to do with part p; *decode_r when its body must be decoded first.
 * A message/global part that needs converting is encoded whole, its
 * encapsulated message left unlooked at (the walks skip it). */
static enum mime_downgrade_status decide(struct str msg, const struct mime_part *p,
                                         enum action *act_r, bool *decode_r,
                                         const char **error_r)
{
    *act_r = ACT_NONE;
    *decode_r = false;
    if (has_8bit(header_of(msg, p))) {
        *error_r = p->parent ? "8-bit bytes in a part's header" : "8-bit bytes in the header";
        return MIME_DOWNGRADE_NEEDS_UTF8;
    }
    struct str body = body_of(msg, p);
    if (is_message_global(p)) {
        if (needs_7bit(body))
            *act_r = ACT_BASE64;
        return MIME_DOWNGRADE_DONE;
    }
    if (p->kind != MIME_KIND_LEAF) {
        /* Its label must say 7bit once what is inside is; a base64 or
         * quoted-printable label on a multipart was wrong anyway. */
        if (p->encoding != MIME_ENC_7BIT && has_8bit(body))
            *act_r = ACT_RELABEL;
        if (p->kind == MIME_KIND_MULTIPART) {
            /* Past the parser's limits the rest of a multipart is opaque,
             * and one without parts is all opaque: 8-bit bytes there may be
             * content we cannot tell from filler. */
            size_t from = p->body_offset;
            for (const struct mime_part *c = p->children; c; c = c->next)
                from = c->body_offset + c->body_len;
            size_t end = p->body_offset + p->body_len;
            if ((p->truncated || !p->n_children) &&
                has_8bit((struct str){ msg.p + from, end - from })) {
                *error_r = p->n_children ? "8-bit bytes past the parser's limits"
                                         : "8-bit bytes in a multipart without parts";
                return MIME_DOWNGRADE_UNSUPPORTED;
            }
        }
        return MIME_DOWNGRADE_DONE;
    }
    if (!needs_7bit(body))
        return MIME_DOWNGRADE_DONE;
    if (p->encoding == MIME_ENC_BASE64 || p->encoding == MIME_ENC_QP) {
        *decode_r = true;
        *act_r = p->encoding == MIME_ENC_BASE64 ? ACT_BASE64 : ACT_QP;
        return MIME_DOWNGRADE_DONE;
    }
    if (p->encoding == MIME_ENC_OTHER || never_encoded(p)) {
        /* Nothing we may change. A NUL or a long line is left as it is
         * (8BITMIME would not have allowed them either); 8-bit bytes are
         * what the peer cannot take. */
        if (!has_8bit(body))
            return MIME_DOWNGRADE_DONE;
        *error_r = p->encoding == MIME_ENC_OTHER
                       ? "8-bit bytes in a body of an unknown transfer encoding"
                       : "8-bit bytes in a multipart or message part that cannot be parsed";
        return MIME_DOWNGRADE_UNSUPPORTED;
    }
    if (str_eq_nocase_cstr(p->type, "text") && qp_escapes(body) * 4 <= body.len)
        *act_r = ACT_QP;
    else
        *act_r = ACT_BASE64;
    return MIME_DOWNGRADE_DONE;
}

/* ---- writing -------------------------------------------------------------- */

/* Copies msg[from, to), with bytes >= 0x80 as spaces: what is copied is
 * headers and bodies already checked to be 7-bit, and the text between the
 * parts of a multipart, which nobody reads. A space, because it keeps the
 * structure: no boundary holds an 8-bit byte (headers are 7-bit), so such a
 * byte can only be in what follows a boundary on its line; there, when
 * several boundaries match, blanks can make the longest match exact but
 * never another one (RFC 2046 §5.1.1 ignores the rest of the line anyway). */
static void copy_clean(struct sink *k, struct str msg, size_t from, size_t to)
{
    while (from < to) {
        size_t i = from;
        while (i < to && (unsigned char)msg.p[i] < 0x80)
            i++;
        sink_mem(k, msg.p + from, i - from);
        if (i < to) {
            sink_put(k, ' ');
            i++;
        }
        from = i;
    }
}

/* Length of the blank line that ends a header block (0 when there is none). */
static size_t blank_line_len(struct str h)
{
    if (h.len >= 2 && h.p[h.len - 2] == '\r' && h.p[h.len - 1] == '\n' &&
        (h.len == 2 || h.p[h.len - 3] == '\n'))
        return 2;
    if (h.len >= 1 && h.p[h.len - 1] == '\n' && (h.len == 1 || h.p[h.len - 2] == '\n'))
        return 1;
    return 0;
}

/* The header block with every Content-Transfer-Encoding field replaced by
 * `cte` (NULL: left as they are) and `extra` fields added before the blank
 * line. */
static void write_header(struct sink *k, struct str h, const char *cte, const char *extra)
{
    size_t blank = blank_line_len(h);
    size_t end = h.len - blank, from = 0;
    if (cte) {
        struct mime_header_iter it;
        struct mime_field f;
        mime_header_iter_init(&it, (struct str){ h.p, end });
        while (mime_header_next(&it, &f)) {
            if (!str_eq_nocase_cstr(f.name, "content-transfer-encoding"))
                continue;
            size_t start = (size_t)(f.raw.p - h.p);
            sink_mem(k, h.p + from, start - from);
            from = it.pos;
        }
    }
    sink_mem(k, h.p + from, end - from);
    /* A last line without its line end would swallow ours. */
    if (end && h.p[end - 1] != '\n')
        sink_mem(k, "\r\n", 2);
    if (cte) {
        sink_cstr(k, "Content-Transfer-Encoding: ");
        sink_cstr(k, cte);
        sink_mem(k, "\r\n", 2);
    }
    if (extra)
        sink_cstr(k, extra);
    sink_mem(k, blank ? h.p + end : "\r\n", blank ? blank : 2);
}

static bool has_field(struct str header, const char *name)
{
    struct mime_field f;
    return mime_header_find(header, name, &f);
}

/* The part after p in document order; p's own parts are skipped when p is
 * encoded whole. */
static const struct mime_part *next_in_order(const struct mime_part *p, enum action act)
{
    if (p->children && act != ACT_BASE64 && act != ACT_QP)
        return p->children;
    while (p && !p->next)
        p = p->parent;
    return p ? p->next : NULL;
}

enum mime_downgrade_status mime_downgrade(struct arena *a, struct str msg, struct buf *out,
                                          const char **error_r)
{
    const char *dummy;
    if (!error_r)
        error_r = &dummy;
    if (!msg.p)
        msg = STR_LIT("");
    if (!needs_7bit(msg))
        return MIME_DOWNGRADE_CLEAN;
    const struct mime_part *root = mime_parse(a, msg, NULL);
    if (!root) {
        *error_r = "out of memory parsing the message";
        return MIME_DOWNGRADE_TOO_BIG;
    }

    /* First walk: is anything refused, is anything encoded? */
    bool encodes = false, changes = false;
    enum action act;
    bool decode;
    for (const struct mime_part *p = root; p; p = next_in_order(p, act)) {
        enum mime_downgrade_status st = decide(msg, p, &act, &decode, error_r);
        if (st != MIME_DOWNGRADE_DONE)
            return st;
        encodes |= act == ACT_QP || act == ACT_BASE64;
        changes |= act != ACT_NONE;
    }
    if (!changes && !has_8bit(msg))
        return MIME_DOWNGRADE_CLEAN; /* only long header lines: nothing of ours */

    size_t saved = out->len;
    struct sink k = { .out = out };
    struct buf decoded;
    buf_init(&decoded, 0);
    size_t pos = 0;
    for (const struct mime_part *p = root; p && !k.err; p = next_in_order(p, act)) {
        decide(msg, p, &act, &decode, error_r);
        bool root_mime = !p->parent && encodes && !has_field(header_of(msg, p), "mime-version");
        if (act == ACT_NONE && !root_mime)
            continue;
        struct str body = body_of(msg, p);
        /* The header block. */
        copy_clean(&k, msg, pos, p->header_offset);
        const char *cte = act == ACT_RELABEL ? "7bit"
                          : act == ACT_QP    ? "quoted-printable"
                          : act == ACT_BASE64 ? "base64"
                                              : NULL;
        struct buf extra;
        buf_init(&extra, 0);
        if (root_mime)
            buf_append_cstr(&extra, "MIME-Version: 1.0\r\n");
        if ((act == ACT_QP || act == ACT_BASE64) && !decode &&
            !has_field(header_of(msg, p), "content-type") && str_eq_nocase_cstr(p->type, "text"))
            buf_printf(&extra, "Content-Type: text/plain; charset=%s\r\n",
                       mime_utf8_valid(body) ? "utf-8" : "unknown-8bit");
        write_header(&k, header_of(msg, p), cte, extra.len ? buf_cstr(&extra) : NULL);
        buf_free(&extra);
        pos = p->body_offset;
        if (act != ACT_QP && act != ACT_BASE64)
            continue;

        /* The body. */
        struct str data = body;
        if (decode) {
            buf_clear(&decoded);
            mime_decode_body(p->encoding, body, &decoded, NULL);
            data = buf_str(&decoded);
        }
        if (act == ACT_QP)
            qp_encode(&k, data, true);
        else
            b64_encode(&k, data);
        /* The body must end its line: what follows it (a boundary's line
         * end, or the end of the message) must not join the last encoded
         * line. A soft break adds nothing to the decoded bytes. */
        size_t end = p->body_offset + p->body_len;
        bool ended = k.n ? k.tmp[k.n - 1] == '\n'
                         : out->len > saved && out->p[out->len - 1] == '\n';
        if (data.len && !ended && (end == msg.len || (msg.p[end] != '\r' && msg.p[end] != '\n')))
            sink_cstr(&k, act == ACT_QP ? "=\r\n" : "\r\n");
        pos = end;
    }
    if (!k.err)
        copy_clean(&k, msg, pos, msg.len);
    sink_flush(&k);
    buf_free(&decoded);
    if (k.err) {
        out->len = saved;
        if (out->p)
            out->p[saved] = '\0';
        *error_r = "the converted message is too big";
        return MIME_DOWNGRADE_TOO_BIG;
    }
    return MIME_DOWNGRADE_DONE;
}
