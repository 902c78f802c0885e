/*
 * imap/encode.c — IMAP strings, ENVELOPE, BODY[STRUCTURE] and INTERNALDATE.
 * The choices are listed in encode.h.
 */
#include "imap/encode.h"

#include <stdio.h>
#include <string.h>

/* ---- The writer ---------------------------------------------------------- */

/* Appends with a sticky error: after the first failed append nothing more is
 * written, and done() puts the buffer back as it was. */
struct w {
    struct buf *b;
    size_t start;
    bool err;
    bool utf8;
    bool ext; /* BODYSTRUCTURE rather than BODY */
};

static struct w w_begin(struct buf *b, bool utf8)
{
    return (struct w){ .b = b, .start = b->len, .utf8 = utf8 };
}

static int w_done(struct w *w)
{
    if (!w->err)
        return 0;
    w->b->len = w->start;
    if (w->b->p)
        w->b->p[w->start] = '\0';
    return -1;
}

static void put(struct w *w, const void *p, size_t n)
{
    if (!w->err && buf_append(w->b, p, n) < 0)
        w->err = true;
}

static void put_c(struct w *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_u64(struct w *w, uint64_t n)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    put(w, tmp + i, sizeof(tmp) - i);
}

/* ---- Strings ------------------------------------------------------------- */

/* The length (2-4) of the well-formed UTF-8 sequence at s (RFC 3629 §4:
 * no overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static bool valid_utf8(struct str s)
{
    const unsigned char *u = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(u + i, s.len - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

static bool has_8bit(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] >= 0x80)
            return true;
    return false;
}

/* The bytes of s without its NULs. */
static void put_bytes_no_nul(struct w *w, struct str s)
{
    size_t i = 0;
    while (i < s.len) {
        const char *z = memchr(s.p + i, '\0', s.len - i);
        size_t end = z ? (size_t)(z - s.p) : s.len;
        put(w, s.p + i, end - i);
        i = end + 1;
    }
}

static void put_literal(struct w *w, struct str s)
{
    size_t n = s.len;
    for (size_t i = 0; i < s.len; i++)
        if (!s.p[i])
            n--;
    put(w, "{", 1);
    put_u64(w, n);
    put(w, "}\r\n", 3);
    put_bytes_no_nul(w, s);
}

static void put_string(struct w *w, struct str s)
{
    if (!s.p)
        s = STR_LIT("");
    const unsigned char *u = (const unsigned char *)s.p;
    bool quoted = true;
    for (size_t i = 0; i < s.len && quoted;) {
        unsigned c = u[i];
        if (c == '\r' || c == '\n') {
            quoted = false;
        } else if (c >= 0x80) {
            size_t k = w->utf8 ? utf8_seq(u + i, s.len - i) : 0;
            if (!k)
                quoted = false;
            i += k;
            continue;
        }
        i++;
    }
    if (!quoted) {
        put_literal(w, s);
        return;
    }
    put(w, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c != '"' && c != '\\' && c != '\0')
            continue;
        put(w, s.p + run, i - run);
        if (c)
            put(w, c == '"' ? "\\\"" : "\\\\", 2);
        run = i + 1;
    }
    put(w, s.p + run, s.len - run);
    put(w, "\"", 1);
}

static void put_nstring(struct w *w, struct str s)
{
    if (s.p)
        put_string(w, s);
    else
        put(w, "NIL", 3);
}

int imap_write_string(struct buf *out, struct str s, bool utf8)
{
    struct w w = w_begin(out, utf8);
    put_string(&w, s);
    return w_done(&w);
}

int imap_write_nstring(struct buf *out, struct str s, bool utf8)
{
    struct w w = w_begin(out, utf8);
    put_nstring(&w, s);
    return w_done(&w);
}

int imap_write_literal(struct buf *out, struct str s)
{
    struct w w = w_begin(out, false);
    put_literal(&w, s);
    return w_done(&w);
}

int imap_write_literal8_prefix(struct buf *out, uint64_t n)
{
    struct w w = w_begin(out, false);
    put(&w, "~{", 2);
    put_u64(&w, n);
    put(&w, "}\r\n", 3);
    return w_done(&w);
}

int imap_write_literal8(struct buf *out, struct str s)
{
    struct w w = w_begin(out, false);
    put(&w, "~{", 2);
    put_u64(&w, s.len);
    put(&w, "}\r\n", 3);
    put(&w, s.p, s.len);
    return w_done(&w);
}

/* ---- Envelope ------------------------------------------------------------- */

/* A string that must not be NIL: "" for a missing one. */
static void put_string_or_empty(struct w *w, struct str s)
{
    put_string(w, s.p ? s : STR_LIT(""));
}

/* An address list; NIL when it has nothing to show. Groups are kept
 * balanced whatever the list holds: a stray end is skipped, a start inside
 * an open group closes it first, and an open group is closed at the end. */
static void put_addresses(struct w *w, const struct mime_addresses *l)
{
    bool open = false, any = false;
    for (unsigned i = 0; l && i < l->n; i++) {
        const struct mime_address *a = &l->v[i];
        if (a->kind == MIME_ADDR_GROUP_END && !open)
            continue;
        put(w, any ? "(" : "((", any ? 1 : 2);
        any = true;
        switch (a->kind) {
        case MIME_ADDR_GROUP_START:
            if (open)
                put_c(w, "NIL NIL NIL NIL)(");
            put(w, "NIL NIL ", 8);
            put_string_or_empty(w, a->name_raw);
            put(w, " NIL", 4);
            open = true;
            break;
        case MIME_ADDR_GROUP_END:
            put(w, "NIL NIL NIL NIL", 15);
            open = false;
            break;
        default:
            put_nstring(w, a->name_raw);
            put(w, " ", 1);
            put_nstring(w, a->route);
            put(w, " ", 1);
            put_string_or_empty(w, a->mailbox);
            put(w, " ", 1);
            put_string_or_empty(w, a->domain);
            break;
        }
        put(w, ")", 1);
    }
    if (open)
        put(w, "(NIL NIL NIL NIL)", 17);
    put_c(w, any ? ")" : "NIL");
}

static void put_envelope(struct w *w, const struct mime_envelope *env)
{
    if (!env) {
        put_c(w, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
        return;
    }
    put(w, "(", 1);
    put_nstring(w, env->date);
    put(w, " ", 1);
    put_nstring(w, env->subject);
    put(w, " ", 1);
    put_addresses(w, &env->from);
    put(w, " ", 1);
    put_addresses(w, mime_envelope_sender(env));
    put(w, " ", 1);
    put_addresses(w, mime_envelope_reply_to(env));
    put(w, " ", 1);
    put_addresses(w, &env->to);
    put(w, " ", 1);
    put_addresses(w, &env->cc);
    put(w, " ", 1);
    put_addresses(w, &env->bcc);
    put(w, " ", 1);
    put_nstring(w, env->in_reply_to);
    put(w, " ", 1);
    put_nstring(w, env->message_id);
    put(w, ")", 1);
}

int imap_write_envelope(struct buf *out, const struct mime_envelope *env, bool utf8)
{
    struct w w = w_begin(out, utf8);
    put_envelope(&w, env);
    return w_done(&w);
}

/* ---- Body structure --------------------------------------------------------- */

/* RFC 2231 §7 attribute-char: US-ASCII except SPACE, CTLs, '*', '\'', '%'
 * and tspecials. */
static bool attribute_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("*'%()<>@,;:\\\"/[]?=", c);
}

static bool language_tag(struct str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!(c == '-' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            return false;
    }
    return true;
}

static bool attribute(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!attribute_char((unsigned char)s.p[i]))
            return false;
    return s.len > 0;
}

/* name* "utf-8'lang'%XX..." (RFC 2231 §4), for a name that is an RFC 2231
 * attribute: ASCII only, one quoted string each. */
static void put_param_2231(struct w *w, const struct mime_param *p)
{
    static const char hex[] = "0123456789ABCDEF";
    put(w, "\"", 1);
    put(w, p->name.p, p->name.len);
    put_c(w, "*\" \"utf-8'");
    if (p->language.p && language_tag(p->language))
        put(w, p->language.p, p->language.len);
    put(w, "'", 1);
    size_t run = 0;
    for (size_t i = 0; i < p->value.len; i++) {
        unsigned char c = (unsigned char)p->value.p[i];
        if (attribute_char(c))
            continue;
        put(w, p->value.p + run, i - run);
        char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
        put(w, esc, 3);
        run = i + 1;
    }
    put(w, p->value.p + run, p->value.len - run);
    put(w, "\"", 1);
}

/* body-fld-param: the parameters as written, then the US-ASCII default when
 * asked for; NIL when there is nothing. */
static void put_params(struct w *w, const struct mime_param *v, unsigned n, bool default_charset)
{
    if (!n && !default_charset) {
        put(w, "NIL", 3);
        return;
    }
    put(w, "(", 1);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            put(w, " ", 1);
        const struct mime_param *p = &v[i];
        struct str value = p->value.p ? p->value : STR_LIT("");
        if (!w->utf8 && has_8bit(value) && valid_utf8(value) && attribute(p->name)) {
            put_param_2231(w, p);
            continue;
        }
        put_string_or_empty(w, p->name);
        put(w, " ", 1);
        put_string(w, value);
    }
    if (default_charset)
        put_c(w, n ? " \"CHARSET\" \"US-ASCII\"" : "\"CHARSET\" \"US-ASCII\"");
    put(w, ")", 1);
}

/* body-fld-dsp */
static void put_disposition(struct w *w, const struct mime_part *p)
{
    if (!p->disposition.p || (!p->disposition.len && !p->n_disposition_params)) {
        put(w, "NIL", 3);
        return;
    }
    put(w, "(", 1);
    put_string(w, p->disposition);
    put(w, " ", 1);
    put_params(w, p->disposition_params, p->n_disposition_params, false);
    put(w, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc, after a space. */
static void put_ext_common(struct w *w, const struct mime_part *p)
{
    put(w, " ", 1);
    put_disposition(w, p);
    put(w, " ", 1);
    if (!p->n_languages) {
        put(w, "NIL", 3);
    } else {
        put(w, "(", 1);
        for (unsigned i = 0; i < p->n_languages; i++) {
            if (i)
                put(w, " ", 1);
            put_string_or_empty(w, p->languages[i]);
        }
        put(w, ")", 1);
    }
    put(w, " ", 1);
    put_nstring(w, p->location);
}

static bool is_type(const struct mime_part *p, const char *type, const char *subtype)
{
    return str_eq_nocase_cstr(p->type, type) &&
           (!subtype || str_eq_nocase_cstr(p->subtype, subtype));
}

/* Whether a single part is written as body-type-msg. */
static bool msg_form(const struct w *w, const struct mime_part *p)
{
    return is_type(p, "message", "rfc822") || (w->utf8 && is_type(p, "message", "global"));
}

static const char *const encodings[] = {
    [MIME_ENC_7BIT] = "\"7BIT\"",     [MIME_ENC_8BIT] = "\"8BIT\"",
    [MIME_ENC_BINARY] = "\"BINARY\"", [MIME_ENC_BASE64] = "\"BASE64\"",
    [MIME_ENC_QP] = "\"QUOTED-PRINTABLE\"",
};

/* "type" "subtype" body-fields */
static void put_fields(struct w *w, const struct mime_part *p)
{
    put_string_or_empty(w, p->type);
    put(w, " ", 1);
    put_string_or_empty(w, p->subtype);
    put(w, " ", 1);
    bool dflt = is_type(p, "text", "plain") && !mime_param_get(p->params, p->n_params, "charset");
    put_params(w, p->params, p->n_params, dflt);
    put(w, " ", 1);
    put_nstring(w, p->id);
    put(w, " ", 1);
    put_nstring(w, p->description);
    put(w, " ", 1);
    if (p->encoding < MIME_ENC_OTHER || !p->cte.len)
        put_c(w, encodings[p->encoding < MIME_ENC_OTHER ? p->encoding : MIME_ENC_7BIT]);
    else
        put_string(w, p->cte);
    put(w, " ", 1);
    put_u64(w, p->body_len);
}

/* What goes after a single part's body-fld-lines (or fields): its
 * extension data in BODYSTRUCTURE, and the closing parenthesis. */
static void put_1part_tail(struct w *w, const struct mime_part *p)
{
    if (w->ext) {
        put(w, " ", 1);
        put_nstring(w, p->md5);
        put_ext_common(w, p);
    }
    put(w, ")", 1);
}

static void put_multipart_tail(struct w *w, const struct mime_part *p)
{
    put(w, " ", 1);
    put_string_or_empty(w, p->subtype);
    if (w->ext) {
        put(w, " ", 1);
        put_params(w, p->params, p->n_params, false);
        put_ext_common(w, p);
    }
    put(w, ")", 1);
}

/* The body that stands for a missing one. */
static void put_empty_body(struct w *w)
{
    put_c(w, "(\"text\" \"plain\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0");
    put_c(w, w->ext ? " NIL NIL NIL NIL)" : ")");
}

/* Writes the start of p. Returns the part to descend into (p's first child,
 * whose end then calls close_part(p)), or NULL when p is complete. */
static const struct mime_part *open_part(struct w *w, const struct mime_part *p)
{
    put(w, "(", 1);
    if (p->kind == MIME_KIND_MULTIPART) {
        if (p->children)
            return p->children;
        put_empty_body(w);
        put_multipart_tail(w, p);
        return NULL;
    }
    put_fields(w, p);
    if (msg_form(w, p)) {
        /* body-type-msg. A message/rfc822 leaf (encoded, headerless, past a
         * limit) still needs this form (body-type-basic must not be
         * MESSAGE/RFC822): an empty envelope and an empty body stand in. */
        const struct mime_part *c = p->kind == MIME_KIND_MESSAGE ? p->children : NULL;
        put(w, " ", 1);
        put_envelope(w, c ? c->envelope : NULL);
        put(w, " ", 1);
        if (c)
            return c;
        put_empty_body(w);
        put(w, " ", 1);
        put_u64(w, p->body_lines);
    } else if (is_type(p, "text", NULL)) {
        put(w, " ", 1);
        put_u64(w, p->body_lines);
    }
    put_1part_tail(w, p);
    return NULL;
}

/* Writes the end of p, whose children have been written. */
static void close_part(struct w *w, const struct mime_part *p)
{
    if (p->kind == MIME_KIND_MULTIPART) {
        put_multipart_tail(w, p);
    } else {
        put(w, " ", 1);
        put_u64(w, p->body_lines);
        put_1part_tail(w, p);
    }
}

/* An iterative walk: no recursion, whatever the depth. */
static void put_body(struct w *w, const struct mime_part *top)
{
    const struct mime_part *p = top;
    for (;;) {
        const struct mime_part *down = open_part(w, p);
        if (down) {
            p = down;
            continue;
        }
        /* p is complete: close every ancestor it ends, up to one with a
         * next sibling. */
        while (p != top && !p->next) {
            p = p->parent;
            close_part(w, p);
        }
        if (p == top || w->err)
            return;
        p = p->next;
    }
}

int imap_write_body(struct buf *out, const struct mime_part *part, bool utf8)
{
    struct w w = w_begin(out, utf8);
    put_body(&w, part);
    return w_done(&w);
}

int imap_write_bodystructure(struct buf *out, const struct mime_part *part, bool utf8)
{
    struct w w = w_begin(out, utf8);
    w.ext = true;
    put_body(&w, part);
    return w_done(&w);
}

/* ---- INTERNALDATE ------------------------------------------------------------ */

/* The civil date of day z since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int imap_write_internaldate(struct buf *out, int64_t t, int tz_minutes)
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    /* 0001-01-01T00:00:00 and 9999-12-31T23:59:59 local time. */
    const int64_t min = -62135596800LL, max = 253402300799LL;
    if (tz_minutes > 99 * 60 + 59)
        tz_minutes = 99 * 60 + 59;
    if (tz_minutes < -(99 * 60 + 59))
        tz_minutes = -(99 * 60 + 59);
    int64_t local = t;
    if (local > max - tz_minutes * 60)
        local = max;
    else if (local < min - tz_minutes * 60)
        local = min;
    else
        local += tz_minutes * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    unsigned z = (unsigned)(tz_minutes < 0 ? -tz_minutes : tz_minutes);
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "\"%02u-%s-%04u %02u:%02u:%02u %c%02u%02u\"", day,
                     months[month - 1], (unsigned)year, (unsigned)(secs / 3600),
                     (unsigned)(secs / 60 % 60), (unsigned)(secs % 60), tz_minutes < 0 ? '-' : '+',
                     z / 60, z % 60);
    return buf_append(out, tmp, (size_t)n);
}
