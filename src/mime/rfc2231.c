/* Content-Type and Content-Disposition values (RFC 2045 §5.1, RFC 2183) and
 * their parameters, with RFC 2231 continuations ("name*0", "name*1*") and
 * charsets ("name*=utf-8'en'%E2%82%AC") decoded to UTF-8, and RFC 2047
 * encoded words in plain values decoded too, since real mailers send them. */
#include <stdlib.h>
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* Raw parameters looked at per field: bounds the work of joining them. */
#define RAW_PARAMS_MAX (MIME_MAX_PARAMS * 2)

/* RFC 2045 token characters. */
static bool is_token(char ch)
{
    unsigned char c = (unsigned char)ch;
    return c > ' ' && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

struct raw_param {
    struct str base;   /* name without the RFC 2231 suffix */
    int section;       /* -1 when there is no "*N" */
    bool extended;     /* a trailing "*": charset'language'%XX */
    struct str value;
    unsigned order;    /* position among the raw parameters */
};

/* Splits "title*1*" into base "title", section 1, extended. */
static void split_name(struct str name, struct raw_param *rp)
{
    rp->section = -1;
    rp->extended = false;
    if (name.len > 1 && name.p[name.len - 1] == '*') {
        rp->extended = true;
        name.len--;
    }
    size_t d = name.len;
    while (d > 0 && name.p[d - 1] >= '0' && name.p[d - 1] <= '9')
        d--;
    if (d > 1 && d < name.len && name.p[d - 1] == '*' && name.len - d <= 3) {
        int n = 0;
        for (size_t i = d; i < name.len; i++)
            n = n * 10 + (name.p[i] - '0');
        rp->section = n;
        name.len = d - 1;
    }
    rp->base = name;
}

/* Where an unquoted value ends: at ';', or before blanks followed by
 * "token=" (a parameter whose ';' the sender forgot, as in RFC 2231's own
 * examples), with a trailing comment dropped. */
static size_t unquoted_end(struct str s, size_t i, size_t *next_r)
{
    size_t j = i;
    while (j < s.len && s.p[j] != ';') {
        if (mime_is_lwsp(s.p[j])) {
            size_t k = j;
            while (k < s.len && mime_is_lwsp(s.p[k]))
                k++;
            size_t t = k;
            while (t < s.len && is_token(s.p[t]))
                t++;
            while (t < s.len && mime_is_lwsp(s.p[t]))
                t++;
            if (t > k && t < s.len && s.p[t] == '=') {
                *next_r = k;
                return j;
            }
            if (k < s.len && s.p[k] == '(') {
                /* "us-ascii (Plain text)": a comment ends the value. */
                *next_r = mime_skip_cfws(s, k, NULL);
                return j;
            }
            j = k;
            continue;
        }
        j++;
    }
    *next_r = j;
    return j;
}

static int cmp_section(const void *x, const void *y)
{
    const struct raw_param *a = x, *b = y;
    if (a->section != b->section)
        return a->section < b->section ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* %XX escapes decoded (a bad escape stays as it is). */
static void pct_decode(struct str v, struct buf *out)
{
    for (size_t i = 0; i < v.len; i++) {
        int h1, h2;
        if (v.p[i] == '%' && i + 2 < v.len && (h1 = hexval(v.p[i + 1])) >= 0 &&
            (h2 = hexval(v.p[i + 2])) >= 0) {
            buf_append_char(out, (char)(h1 << 4 | h2));
            i += 2;
        } else {
            buf_append_char(out, v.p[i]);
        }
    }
}

/* Splits "charset'language'rest" (RFC 2231 §4); false when malformed. */
static bool split_initial(struct str v, struct str *cs, struct str *lang, struct str *rest)
{
    long q1 = str_find_char(v, '\'');
    if (q1 < 0)
        return false;
    struct str after = { v.p + q1 + 1, v.len - (size_t)q1 - 1 };
    long q2 = str_find_char(after, '\'');
    if (q2 < 0)
        return false;
    *cs = (struct str){ v.p, (size_t)q1 };
    *lang = (struct str){ after.p, (size_t)q2 };
    *rest = (struct str){ after.p + q2 + 1, after.len - (size_t)q2 - 1 };
    return true;
}

/* One parameter's final value from its raw pieces: the n that share a base
 * name, in order of appearance (the array is reordered). */
static void join_param(struct arena *a, struct raw_param *rp, unsigned n, struct mime_param *out)
{
    struct raw_param plain = { 0 }, ext = { 0 };
    bool have_plain = false, have_ext = false;
    unsigned n_sec = 0;
    out->name = rp[0].base;
    out->language = STR_NULL;
    for (unsigned i = 0; i < n; i++) {
        if (rp[i].section >= 0)
            rp[n_sec++] = rp[i]; /* sections move to the front */
        else if (rp[i].extended && !have_ext)
            ext = rp[i], have_ext = true;
        else if (!rp[i].extended && !have_plain)
            plain = rp[i], have_plain = true;
    }
    /* A boundary is compared byte for byte: never decoded. */
    bool decode = !str_eq_nocase_cstr(out->name, "boundary");
    if (!have_ext && !n_sec) {
        out->value = decode ? mime_decode_words(a, plain.value) : plain.value;
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    struct str cs = STR_NULL;
    bool charset_given = false;
    if (have_ext) {
        /* name*= beats name*0... and name=: it is the form meant for
         * readers that know RFC 2231. */
        struct str rest = ext.value;
        split_initial(ext.value, &cs, &out->language, &rest);
        pct_decode(rest, &b);
        charset_given = true;
    } else {
        qsort(rp, n_sec, sizeof(*rp), cmp_section);
        for (unsigned i = 0; i < n_sec; i++) {
            if (i > 0 && rp[i].section == rp[i - 1].section)
                continue; /* a repeated section: the first counts */
            struct str v = rp[i].value;
            if (i == 0 && rp[i].extended) {
                split_initial(v, &cs, &out->language, &v);
                charset_given = true;
            }
            if (rp[i].extended)
                pct_decode(v, &b);
            else
                buf_append_str(&b, v);
        }
    }
    struct str joined = arena_str(a, buf_str(&b));
    buf_free(&b);
    if (!joined.p) {
        out->value = STR_LIT("");
        return;
    }
    if (charset_given)
        out->value = mime_charset_to_utf8_arena(a, cs, joined);
    else
        out->value = decode ? mime_decode_words(a, joined) : joined;
}

void mime_params_parse(struct arena *a, struct str s, struct mime_param **params_r,
                       unsigned *n_r)
{
    *params_r = NULL;
    *n_r = 0;
    struct raw_param raw[RAW_PARAMS_MAX];
    unsigned n_raw = 0;
    size_t i = 0;
    while (i < s.len) {
        i = mime_skip_cfws(s, i, NULL);
        if (i < s.len && s.p[i] == ';') {
            i++;
            continue;
        }
        if (i >= s.len)
            break;
        size_t start = i;
        while (i < s.len && is_token(s.p[i]))
            i++;
        struct str name = { s.p + start, i - start };
        i = mime_skip_cfws(s, i, NULL);
        if (name.len == 0 || i >= s.len || s.p[i] != '=') {
            /* Not a parameter: skip to the next ';' (at least one byte). */
            if (i == start)
                i++;
            while (i < s.len && s.p[i] != ';')
                i++;
            continue;
        }
        i = mime_skip_cfws(s, i + 1, NULL);
        struct str value;
        if (i < s.len && s.p[i] == '"') {
            value = mime_unquote(a, s, i, &i);
        } else {
            size_t next, end = unquoted_end(s, i, &next);
            value = str_trim((struct str){ s.p + i, end - i });
            i = next;
        }
        if (n_raw == RAW_PARAMS_MAX)
            break;
        struct raw_param *rp = &raw[n_raw];
        split_name(name, rp);
        rp->value = value;
        rp->order = n_raw++;
    }
    if (!n_raw)
        return;

    /* Group the raw parameters by base name, in order of first appearance. */
    struct raw_param sorted[RAW_PARAMS_MAX];
    bool used[RAW_PARAMS_MAX] = { false };
    unsigned groups = 0;
    unsigned group_start[RAW_PARAMS_MAX], group_len[RAW_PARAMS_MAX];
    unsigned k = 0;
    for (unsigned x = 0; x < n_raw; x++) {
        if (used[x])
            continue;
        group_start[groups] = k;
        for (unsigned y = x; y < n_raw; y++) {
            if (!used[y] && str_eq_nocase(raw[x].base, raw[y].base)) {
                used[y] = true;
                sorted[k++] = raw[y];
            }
        }
        group_len[groups] = k - group_start[groups];
        groups++;
    }
    if (groups > MIME_MAX_PARAMS)
        groups = MIME_MAX_PARAMS;
    struct mime_param *p = arena_alloc(a, groups * sizeof(*p));
    if (!p)
        return;
    for (unsigned g = 0; g < groups; g++)
        join_param(a, &sorted[group_start[g]], group_len[g], &p[g]);
    *params_r = p;
    *n_r = groups;
}

/* A token at s.p[i]; returns its end. */
static size_t token_end(struct str s, size_t i)
{
    while (i < s.len && is_token(s.p[i]))
        i++;
    return i;
}

int mime_content_type_parse(struct arena *a, struct str value, struct str *type,
                            struct str *subtype, struct mime_param **params, unsigned *n_params)
{
    struct str v = mime_unfold(a, value);
    if (!v.p)
        v = STR_LIT("");
    *type = STR_NULL;
    if (subtype)
        *subtype = STR_NULL;
    size_t i = mime_skip_cfws(v, 0, NULL), end = token_end(v, i);
    int rc = 0;
    if (end == i) {
        rc = -1;
    } else {
        *type = (struct str){ v.p + i, end - i };
        i = end;
        if (subtype) {
            i = mime_skip_cfws(v, i, NULL);
            size_t s0 = i < v.len && v.p[i] == '/' ? mime_skip_cfws(v, i + 1, NULL) : i;
            end = token_end(v, s0);
            if (s0 == i || end == s0) {
                rc = -1; /* "text" or "text/" alone: invalid, so the default */
                *type = STR_NULL;
            } else {
                *subtype = (struct str){ v.p + s0, end - s0 };
                i = end;
            }
        }
    }
    if (rc < 0) {
        long semi = str_find_char(v, ';');
        i = semi < 0 ? v.len : (size_t)semi;
    }
    mime_params_parse(a, (struct str){ v.p + i, v.len - i }, params, n_params);
    return rc;
}

const struct mime_param *mime_param_get(const struct mime_param *params, unsigned n,
                                        const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (str_eq_nocase_cstr(params[i].name, name))
            return &params[i];
    return NULL;
}
