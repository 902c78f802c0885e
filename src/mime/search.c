/* Text for the full-text index: what a user would search for, in UTF-8. */
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* Appends as much of s as fits; -1 when it did not all fit. */
static int append_capped(struct buf *out, struct str s)
{
    if (buf_append_str(out, s) == 0)
        return 0;
    size_t room = out->max > out->len ? out->max - out->len : 0;
    /* Cut at a character boundary, never inside a UTF-8 sequence. */
    while (room > 0 && room < s.len && ((unsigned char)s.p[room] & 0xC0) == 0x80)
        room--;
    buf_append(out, s.p, room < s.len ? room : s.len);
    return -1;
}

/* Header text: UTF-8 already where it was encoded; raw 8-bit bytes are made
 * valid UTF-8 the way mime_charset_to_utf8 does without a charset. */
static int add_text(struct buf *out, struct str s)
{
    if (!s.len)
        return 0;
    struct buf t;
    buf_init(&t, 0);
    mime_charset_to_utf8(STR_NULL, s, &t);
    buf_append_char(&t, '\n');
    int r = append_capped(out, buf_str(&t));
    buf_free(&t);
    return r;
}

static int add_addresses(struct buf *out, const struct mime_addresses *l)
{
    struct buf t;
    buf_init(&t, 0);
    for (unsigned i = 0; i < l->n; i++) {
        const struct mime_address *ad = &l->v[i];
        if (ad->name.len) {
            buf_append_str(&t, ad->name);
            buf_append_char(&t, ' ');
        }
        if (ad->kind == MIME_ADDR_MAILBOX) {
            buf_append_str(&t, ad->mailbox);
            if (ad->domain.len) {
                buf_append_char(&t, '@');
                buf_append_str(&t, ad->domain);
            }
            buf_append_char(&t, ' ');
        }
    }
    int r = add_text(out, buf_str(&t));
    buf_free(&t);
    return r;
}

static int add_envelope(struct arena *a, struct buf *out, const struct mime_envelope *e)
{
    if (e->subject.p && add_text(out, mime_decode_words(a, e->subject)) < 0)
        return -1;
    if (add_addresses(out, &e->from) < 0 || add_addresses(out, &e->to) < 0 ||
        add_addresses(out, &e->cc) < 0)
        return -1;
    return 0;
}

static bool starts_nocase(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && str_eq_nocase((struct str){ p, n }, str_from_cstr(word));
}

/* Tags after which words do not run together. */
static bool is_block_tag(struct str name)
{
    static const char *const tags[] = {
        "p",  "br", "div", "td", "th", "tr", "li", "ul", "ol", "h1", "h2", "h3",
        "h4", "h5", "h6",  "table", "blockquote", "pre", "hr", "title", "body", "html",
    };
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (str_eq_nocase_cstr(name, tags[i]))
            return true;
    return false;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static void put_entity(struct buf *t, const char **pp, const char *end)
{
    static const struct { const char *name; const char *utf8; } named[] = {
        { "amp;", "&" },   { "lt;", "<" },    { "gt;", ">" },
        { "quot;", "\"" }, { "apos;", "'" },  { "nbsp;", " " },
    };
    const char *p = *pp + 1;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (starts_nocase(p, end, named[i].name)) {
            buf_append_cstr(t, named[i].utf8);
            *pp = p + strlen(named[i].name);
            return;
        }
    }
    if (p < end && *p == '#') {
        const char *q = p + 1;
        unsigned long cp = 0;
        int base = 10, digits = 0;
        if (q < end && (*q == 'x' || *q == 'X')) {
            base = 16;
            q++;
        }
        for (; q < end && digits < 7; q++, digits++) {
            int d = digit_value(*q);
            if (d < 0 || d >= base)
                break;
            cp = cp * (unsigned long)base + (unsigned long)d;
        }
        if (digits && q < end && *q == ';' && cp && cp <= 0x10FFFF &&
            !(cp >= 0xD800 && cp <= 0xDFFF)) {
            char u[4];
            size_t n;
            if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                n = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                n = 4;
            }
            buf_append(t, u, n);
            *pp = q + 1;
            return;
        }
    }
    buf_append_char(t, '&');
    *pp = p;
}

/* HTML to text, roughly: tags, comments, scripts and styles go; the common
 * entities are decoded; block tags leave a line break. */
static void strip_html(struct str html, struct buf *t)
{
    if (!html.len)
        return;
    const char *p = html.p, *end = html.p + html.len;
    while (p < end) {
        if (*p == '&') {
            put_entity(t, &p, end);
            continue;
        }
        if (*p != '<') {
            const char *q = p;
            while (q < end && *q != '<' && *q != '&')
                q++;
            buf_append(t, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (starts_nocase(p, end, "<!--")) {
            const char *q = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
            p = q ? q + 3 : end;
            continue;
        }
        const char *q = p + 1;
        if (q < end && *q == '/')
            q++;
        const char *name = q;
        while (q < end && is_alnum(*q))
            q++;
        struct str tag = { name, (size_t)(q - name) };
        const char *gt = memchr(q, '>', (size_t)(end - q));
        p = gt ? gt + 1 : end;
        bool closing = name[-1] == '/';
        if (!closing && (str_eq_nocase_cstr(tag, "script") || str_eq_nocase_cstr(tag, "style"))) {
            /* Skip to the closing tag. */
            const char *c = p;
            while (c < end) {
                c = memchr(c, '<', (size_t)(end - c));
                if (!c)
                    break;
                if (c + 2 + tag.len <= end && c[1] == '/' &&
                    str_eq_nocase((struct str){ c + 2, tag.len }, tag))
                    break;
                c++;
            }
            p = c ? c : end;
            continue;
        }
        buf_append_char(t, is_block_tag(tag) ? '\n' : ' ');
    }
}

static int add_body(struct buf *out, struct str msg, const struct mime_part *part)
{
    if (!msg.p || part->body_offset > msg.len || part->body_len > msg.len - part->body_offset)
        return 0; /* a tree that is not this message's */
    struct str body = { msg.p + part->body_offset, part->body_len };
    /* Enough decoded input to fill what is left, with room for markup. */
    size_t room = out->max ? (out->max > out->len ? out->max - out->len : 0) : 0;
    struct buf dec, utf, txt;
    buf_init(&dec, out->max ? room * 4 + 4096 : 0);
    buf_init(&utf, 0);
    buf_init(&txt, 0);
    mime_decode_body(part->encoding == MIME_ENC_OTHER ? MIME_ENC_8BIT : part->encoding, body,
                     &dec, NULL);
    const struct mime_param *cs = mime_param_get(part->params, part->n_params, "charset");
    mime_charset_to_utf8(cs ? cs->value : STR_NULL, buf_str(&dec), &utf);
    buf_free(&dec);
    struct str text = buf_str(&utf);
    if (str_eq_nocase_cstr(part->subtype, "html")) {
        strip_html(text, &txt);
        text = buf_str(&txt);
    }
    int r = 0;
    if (text.len) {
        r = append_capped(out, text);
        if (r == 0)
            r = buf_append_char(out, '\n');
    }
    buf_free(&utf);
    buf_free(&txt);
    return r;
}

int mime_search_text(struct arena *a, struct str msg, const struct mime_part *root,
                     struct buf *out)
{
    const struct mime_part *p = root;
    while (p) {
        if (p->envelope && add_envelope(a, out, p->envelope) < 0)
            return -1;
        if (p->kind == MIME_KIND_LEAF && str_eq_nocase_cstr(p->type, "text") &&
            add_body(out, msg, p) < 0)
            return -1;
        if (p->children) {
            p = p->children;
            continue;
        }
        while (p != root && !p->next)
            p = p->parent;
        p = p == root ? NULL : p->next;
    }
    return 0;
}
