/* Fuzzes imap/encode with any bytes as a message: mime_parse, then
 * ENVELOPE, BODY and BODYSTRUCTURE for clients with and without UTF-8. A
 * checker of our own reads every output back against RFC 9051's grammar
 * (§9: body, body-type-mpart/1part/msg/text, body-fields, body-ext-*,
 * envelope, address), stricter where we promise more:
 *  - parentheses balance outside strings, and every literal {n} is followed
 *    by CRLF and exactly n bytes, none of them NUL;
 *  - quoted strings hold no CR, LF or NUL, escape only '"' and '\', and hold
 *    8-bit bytes only for a UTF-8 client and only as valid UTF-8;
 *  - a text/ body has its line count, message/rfc822 (and message/global
 *    for UTF-8 clients) is body-type-msg, BODY has no extension data and
 *    BODYSTRUCTURE all four (or, for a multipart, parameters and three);
 *  - groups in address lists open and close in turn.
 * The same tree after mime_serialize/mime_deserialize must give the same
 * bytes; a buffer whose cap is too small must fail and stay as it was; the
 * input as one string must come back as itself (without its NULs); and
 * INTERNALDATE must have its fixed shape for any time and zone.
 *
 * The unit tests (tests/unit/imap/test_encode.c) include this file and run
 * it over the seeds and the mime4j messages.
 *
 * Seeds (corpus/imap_encode/): small messages of every shape the encoder
 * knows (nested messages, groups, RFC 2231 parameters, 8-bit headers, empty
 * multiparts, encoded message/rfc822, message/global, deep nesting). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "imap/encode.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- A reader of what the encoder wrote ---- */

struct chk {
    const unsigned char *p, *end;
    bool utf8;
    unsigned depth;
};

#define CHK(cond)        \
    do {                 \
        if (!(cond))     \
            abort();     \
    } while (0)

static bool chk_at(struct chk *c, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(c->end - c->p) >= n && memcmp(c->p, s, n) == 0;
}

static void chk_expect(struct chk *c, const char *s)
{
    CHK(chk_at(c, s));
    c->p += strlen(s);
}

static size_t chk_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || n < len)
        return 0;
    uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* string = quoted / literal. The value goes to val when it is not NULL. */
static void chk_string(struct chk *c, struct buf *val)
{
    if (val)
        buf_clear(val);
    CHK(c->p < c->end);
    if (*c->p == '"') {
        c->p++;
        for (;;) {
            CHK(c->p < c->end);
            unsigned char ch = *c->p;
            if (ch == '"') {
                c->p++;
                return;
            }
            CHK(ch != '\r' && ch != '\n' && ch != '\0');
            size_t n = 1;
            if (ch == '\\') {
                CHK(c->end - c->p >= 2 && (c->p[1] == '"' || c->p[1] == '\\'));
                c->p++;
            } else if (ch >= 0x80) {
                CHK(c->utf8);
                n = chk_utf8_seq(c->p, (size_t)(c->end - c->p));
                CHK(n);
            }
            if (val)
                buf_append(val, c->p, n);
            c->p += n;
        }
    }
    chk_expect(c, "{");
    uint64_t n = 0;
    CHK(c->p < c->end && *c->p >= '0' && *c->p <= '9');
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        CHK(n < UINT64_MAX / 10);
        n = n * 10 + (uint64_t)(*c->p++ - '0');
    }
    chk_expect(c, "}\r\n");
    CHK((uint64_t)(c->end - c->p) >= n);
    CHK(!memchr(c->p, '\0', (size_t)n));
    if (val)
        buf_append(val, c->p, (size_t)n);
    c->p += n;
}

/* nstring; returns false for NIL. */
static bool chk_nstring(struct chk *c, struct buf *val)
{
    if (chk_at(c, "NIL")) {
        c->p += 3;
        return false;
    }
    chk_string(c, val);
    return true;
}

static uint64_t chk_number(struct chk *c)
{
    CHK(c->p < c->end && *c->p >= '0' && *c->p <= '9');
    uint64_t n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        CHK(n < UINT64_MAX / 10);
        n = n * 10 + (uint64_t)(*c->p++ - '0');
    }
    return n;
}

/* body-fld-param: NIL or ("name" "value" ...), at least one pair. */
static void chk_params(struct chk *c)
{
    if (chk_at(c, "NIL")) {
        c->p += 3;
        return;
    }
    chk_expect(c, "(");
    for (;;) {
        chk_string(c, NULL);
        chk_expect(c, " ");
        chk_string(c, NULL);
        if (chk_at(c, ")"))
            break;
        chk_expect(c, " ");
    }
    c->p++;
}

/* SP body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void chk_ext_common(struct chk *c)
{
    chk_expect(c, " ");
    if (chk_at(c, "NIL")) {
        c->p += 3;
    } else {
        chk_expect(c, "(");
        chk_string(c, NULL);
        chk_expect(c, " ");
        chk_params(c);
        chk_expect(c, ")");
    }
    chk_expect(c, " ");
    if (chk_at(c, "(")) {
        c->p++;
        for (;;) {
            chk_string(c, NULL);
            if (chk_at(c, ")"))
                break;
            chk_expect(c, " ");
        }
        c->p++;
    } else {
        chk_nstring(c, NULL);
    }
    chk_expect(c, " ");
    chk_nstring(c, NULL);
}

/* env-from and the others: NIL or (1*address). */
static void chk_addresses(struct chk *c)
{
    if (chk_at(c, "NIL")) {
        c->p += 3;
        return;
    }
    chk_expect(c, "(");
    bool group = false;
    do {
        chk_expect(c, "(");
        bool name = chk_nstring(c, NULL);
        chk_expect(c, " ");
        bool adl = chk_nstring(c, NULL);
        chk_expect(c, " ");
        bool mailbox = chk_nstring(c, NULL);
        chk_expect(c, " ");
        bool host = chk_nstring(c, NULL);
        chk_expect(c, ")");
        if (!host) {
            /* Group syntax (RFC 9051 §7.5.2): a start has the group's name
             * as its mailbox, an end has nothing. */
            CHK(!name && !adl);
            CHK(mailbox != group);
            group = mailbox;
        } else {
            CHK(mailbox);
        }
    } while (chk_at(c, "("));
    CHK(!group);
    chk_expect(c, ")");
}

static void chk_envelope(struct chk *c)
{
    chk_expect(c, "(");
    chk_nstring(c, NULL); /* date */
    chk_expect(c, " ");
    chk_nstring(c, NULL); /* subject */
    for (int i = 0; i < 6; i++) {
        chk_expect(c, " ");
        chk_addresses(c);
    }
    chk_expect(c, " ");
    chk_nstring(c, NULL); /* in-reply-to */
    chk_expect(c, " ");
    chk_nstring(c, NULL); /* message-id */
    chk_expect(c, ")");
}

static bool val_is(const struct buf *b, const char *s)
{
    return str_eq_nocase_cstr(buf_str(b), s);
}

/* body, recursively (the depth is bounded by the parse limits). Returns
 * the number of single parts in it. */
static unsigned chk_body(struct chk *c, bool ext)
{
    CHK(++c->depth < 4 * MIME_DEPTH_CAP);
    unsigned parts = 0;
    chk_expect(c, "(");
    if (chk_at(c, "(")) {
        /* body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart] */
        while (chk_at(c, "("))
            parts += chk_body(c, ext);
        chk_expect(c, " ");
        chk_string(c, NULL);
        if (ext) {
            chk_expect(c, " ");
            chk_params(c);
            chk_ext_common(c);
        }
    } else {
        struct buf type, subtype;
        buf_init(&type, 0);
        buf_init(&subtype, 0);
        chk_string(c, &type);
        chk_expect(c, " ");
        chk_string(c, &subtype);
        /* body-fields */
        chk_expect(c, " ");
        chk_params(c);
        chk_expect(c, " ");
        chk_nstring(c, NULL);
        chk_expect(c, " ");
        chk_nstring(c, NULL);
        chk_expect(c, " ");
        chk_string(c, NULL);
        chk_expect(c, " ");
        chk_number(c);
        bool message = val_is(&type, "message");
        if (message && (val_is(&subtype, "rfc822") || (c->utf8 && val_is(&subtype, "global")))) {
            chk_expect(c, " ");
            chk_envelope(c);
            chk_expect(c, " ");
            parts += chk_body(c, ext);
            chk_expect(c, " ");
            chk_number(c);
        } else if (val_is(&type, "text")) {
            chk_expect(c, " ");
            chk_number(c);
        }
        buf_free(&type);
        buf_free(&subtype);
        if (ext) {
            chk_expect(c, " ");
            chk_nstring(c, NULL); /* md5 */
            chk_ext_common(c);
        }
        parts++;
    }
    chk_expect(c, ")");
    c->depth--;
    return parts;
}

static struct chk chk_begin(struct str s, bool utf8)
{
    return (struct chk){ (const unsigned char *)s.p, (const unsigned char *)s.p + s.len, utf8,
                         0 };
}

/* The number of single parts BODY[STRUCTURE] shows for a tree: leaves, and
 * a stand-in for each childless multipart and each message/rfc822 leaf. */
static unsigned count_parts(const struct mime_part *top, bool utf8)
{
    unsigned n = 0;
    const struct mime_part *p = top;
    for (;;) {
        bool msg = str_eq_nocase_cstr(p->type, "message") &&
                   (str_eq_nocase_cstr(p->subtype, "rfc822") ||
                    (utf8 && str_eq_nocase_cstr(p->subtype, "global")));
        bool down = false;
        if (p->kind == MIME_KIND_MULTIPART)
            n += !p->children, down = p->children != NULL;
        else if (msg)
            down = p->kind == MIME_KIND_MESSAGE && p->children, n += 1 + !down;
        else
            n++;
        if (down) {
            p = p->children;
            continue;
        }
        while (p != top && !p->next)
            p = p->parent;
        if (p == top)
            return n;
        p = p->next;
    }
}

/* ---- The target ---- */

static void encode_all(struct buf *b, const struct mime_part *root, bool utf8)
{
    CHK(imap_write_envelope(b, root->envelope, utf8) == 0);
    buf_append(b, "\n", 1);
    CHK(imap_write_body(b, root, utf8) == 0);
    buf_append(b, "\n", 1);
    CHK(imap_write_bodystructure(b, root, utf8) == 0);
}

static void check_message(struct str msg, const struct mime_part *root, struct arena *a)
{
    for (int utf8 = 0; utf8 < 2; utf8++) {
        struct buf b;
        buf_init(&b, 0);
        CHK(imap_write_envelope(&b, root->envelope, utf8) == 0);
        struct chk c = chk_begin(buf_str(&b), utf8);
        chk_envelope(&c);
        CHK(c.p == c.end);

        for (int ext = 0; ext < 2; ext++) {
            buf_clear(&b);
            CHK((ext ? imap_write_bodystructure : imap_write_body)(&b, root, utf8) == 0);
            c = chk_begin(buf_str(&b), utf8);
            CHK(chk_body(&c, ext) == count_parts(root, utf8));
            CHK(c.p == c.end);
        }

        /* The same from the stored form. */
        buf_clear(&b);
        encode_all(&b, root, utf8);
        struct buf blob, b2;
        buf_init(&blob, 0);
        buf_init(&b2, 0);
        CHK(mime_serialize(root, &blob) == 0);
        const struct mime_part *back = mime_deserialize(a, buf_str(&blob));
        CHK(back);
        encode_all(&b2, back, utf8);
        CHK(str_eq(buf_str(&b), buf_str(&b2)));

        /* Too small a buffer: -1, and nothing of it left behind. */
        buf_clear(&b);
        CHK(imap_write_bodystructure(&b, root, utf8) == 0);
        struct buf small;
        buf_init(&small, 2 + msg.len % b.len);
        buf_append(&small, "x ", 2);
        CHK(imap_write_bodystructure(&small, root, utf8) == -1 && small.len == 2);
        buf_free(&small);
        buf_init(&small, 2 + b.len);
        buf_append(&small, "x ", 2);
        CHK(imap_write_bodystructure(&small, root, utf8) == 0 && small.len == 2 + b.len);
        buf_free(&small);
        buf_free(&blob);
        buf_free(&b2);
        buf_free(&b);
    }
}

static void check_string(struct str s)
{
    for (int utf8 = 0; utf8 < 2; utf8++) {
        struct buf b, v;
        buf_init(&b, 0);
        buf_init(&v, 0);
        CHK(imap_write_string(&b, s, utf8) == 0);
        struct chk c = chk_begin(buf_str(&b), utf8);
        chk_string(&c, &v);
        CHK(c.p == c.end);
        size_t j = 0;
        for (size_t i = 0; i < s.len; i++)
            if (s.p[i]) {
                CHK(j < v.len && v.p[j] == s.p[i]);
                j++;
            }
        CHK(j == v.len);
        /* A capped buffer stays as it was. */
        struct buf small;
        buf_init(&small, b.len ? b.len - 1 : 0);
        if (b.len) {
            buf_append(&small, "ab", b.len > 2 ? 2 : 0);
            size_t before = small.len;
            CHK(imap_write_string(&small, s, utf8) == -1 && small.len == before);
        }
        buf_free(&small);
        buf_free(&b);
        buf_free(&v);
    }
}

static void check_date(const uint8_t *data, size_t size)
{
    int64_t t = 0;
    int16_t z = 0;
    if (size >= 8)
        memcpy(&t, data, 8);
    if (size >= 10)
        memcpy(&z, data + 8, 2);
    struct buf b;
    buf_init(&b, 0);
    CHK(imap_write_internaldate(&b, t, z) == 0);
    /* "dd-Mon-yyyy hh:mm:ss +zzzz" */
    static const char shape[] = "\"99-Aaa-9999 99:99:99 +9999\"";
    CHK(b.len == sizeof(shape) - 1);
    for (size_t i = 0; i < b.len; i++) {
        char s = shape[i], ch = b.p[i];
        if (s == '9')
            CHK(ch >= '0' && ch <= '9');
        else if (s == 'A' || s == 'a')
            CHK((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
        else if (s == '+')
            CHK(ch == '+' || ch == '-');
        else
            CHK(ch == s);
    }
    CHK(strstr("JanFebMarAprMayJunJulAugSepOctNovDec", (char[]){ b.p[4], b.p[5], b.p[6], 0 }));
    int day = (b.p[1] - '0') * 10 + (b.p[2] - '0');
    CHK(day >= 1 && day <= 31);
    CHK(b.p[13] <= '2' && b.p[16] <= '5' && b.p[19] <= '5');
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str msg = { (const char *)data, size };
    struct arena *a = arena_new(0);
    const struct mime_part *root = mime_parse(a, msg, NULL);
    CHK(root);
    check_message(msg, root, a);
    arena_free(a);

    /* Tight limits: truncated parts, message/rfc822 leaves. */
    a = arena_new(0);
    struct mime_limits lim = { .max_depth = 1 + size % 3, .max_parts = 3 + size % 5 };
    root = mime_parse(a, msg, &lim);
    CHK(root);
    check_message(msg, root, a);
    arena_free(a);

    if (size <= 4096)
        check_string(msg);
    check_date(data, size);
    return 0;
}
