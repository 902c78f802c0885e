/* DKIM tag lists (RFC 6376 §3.2) and key records (§3.6.1). Both come from
 * the network: the parser is strict and never reads past its input. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mailauth/dkim_internal.h"

static bool is_ws(char c)
{
    /* FWS, read loosely: a TXT record has no line ends, a header field's
     * line ends are always followed by WSP (the header splitter's doing). */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_valchar(char c)
{
    unsigned char u = (unsigned char)c;
    return u >= 0x21 && u <= 0x7e && u != ';';
}

int dkim_tags_parse(struct str in, struct dkim_tags *out, const char **error_r)
{
    size_t i = 0;
    out->n = 0;
    for (;;) {
        while (i < in.len && is_ws(in.p[i]))
            i++;
        if (i == in.len)
            return 0; /* empty list, or a trailing ';' */
        size_t name_start = i;
        if (!ascii_is_alpha(in.p[i])) {
            *error_r = "tag name expected";
            return -1;
        }
        while (i < in.len && (ascii_is_alpha(in.p[i]) || (in.p[i] >= '0' && in.p[i] <= '9') ||
                              in.p[i] == '_'))
            i++;
        struct str name = { in.p + name_start, i - name_start };
        while (i < in.len && is_ws(in.p[i]))
            i++;
        if (i == in.len || in.p[i] != '=') {
            *error_r = "'=' expected after tag name";
            return -1;
        }
        size_t eq = i++;
        while (i < in.len && is_ws(in.p[i]))
            i++;
        size_t vstart = i, vend = i;
        while (i < in.len && in.p[i] != ';') {
            if (is_valchar(in.p[i]))
                vend = i + 1;
            else if (!is_ws(in.p[i])) {
                *error_r = "invalid character in tag value";
                return -1;
            }
            i++;
        }
        for (int k = 0; k < out->n; k++) {
            if (str_eq(out->tag[k].name, name)) {
                *error_r = "tag given twice";
                return -1;
            }
        }
        if (out->n == DKIM_MAX_TAGS) {
            *error_r = "too many tags";
            return -1;
        }
        out->tag[out->n++] = (struct dkim_tag){
            .name = name, .value = { in.p + vstart, vend - vstart },
            .eq_off = eq, .value_end = vend,
        };
        if (i == in.len)
            return 0;
        i++; /* the ';' */
    }
}

const struct dkim_tag *dkim_tags_get(const struct dkim_tags *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (str_eq_cstr(t->tag[i].name, name))
            return &t->tag[i];
    return NULL;
}

char *dkim_b64_encode(const unsigned char *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = xmalloc(cap);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

unsigned char *dkim_b64_decode(struct str in, size_t *len_r)
{
    size_t cap = in.len / 4 * 3 + 3;
    unsigned char *out = xmalloc(cap + 1);
    const char *end = NULL;
    size_t n = 0;
    if (sodium_base642bin(out, cap, in.p ? in.p : "", in.len, " \t\r\n", &n, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != in.p + in.len) {
        free(out);
        return NULL;
    }
    *len_r = n;
    return out;
}

/* Calls fn for each element of a colon-separated list, trimmed of FWS. */
static bool list_has(struct str list, const char *want)
{
    size_t i = 0;
    while (i <= list.len) {
        size_t j = i;
        while (j < list.len && list.p[j] != ':')
            j++;
        size_t a = i, b = j;
        while (a < b && is_ws(list.p[a]))
            a++;
        while (b > a && is_ws(list.p[b - 1]))
            b--;
        if (str_eq_nocase_cstr((struct str){ list.p + a, b - a }, want))
            return true;
        i = j + 1;
    }
    return false;
}

int dkim_key_record_parse(struct str txt, struct dkim_key_record *out, const char **error_r)
{
    memset(out, 0, sizeof *out);
    struct dkim_tags t;
    if (dkim_tags_parse(txt, &t, error_r) < 0)
        return -1;
    const struct dkim_tag *v = dkim_tags_get(&t, "v");
    if (v && (v != &t.tag[0] || !str_eq_cstr(v->value, "DKIM1"))) {
        *error_r = v != &t.tag[0] ? "v= is not the first tag" : "v= is not DKIM1";
        return -1;
    }
    const struct dkim_tag *k = dkim_tags_get(&t, "k");
    if (!k || str_eq_cstr(k->value, "rsa"))
        out->rsa = true;
    else if (str_eq_cstr(k->value, "ed25519"))
        out->ed25519 = true;
    else {
        *error_r = "unknown key type k=";
        return -1;
    }
    const struct dkim_tag *h = dkim_tags_get(&t, "h");
    out->sha256_ok = !h || list_has(h->value, "sha256");
    const struct dkim_tag *s = dkim_tags_get(&t, "s");
    out->email_ok = !s || list_has(s->value, "*") || list_has(s->value, "email");
    const struct dkim_tag *fl = dkim_tags_get(&t, "t");
    if (fl) {
        out->testing = list_has(fl->value, "y");
        out->strict = list_has(fl->value, "s");
    }
    const struct dkim_tag *p = dkim_tags_get(&t, "p");
    if (!p) {
        *error_r = "no p= in key record";
        return -1;
    }
    if (p->value.len == 0) {
        out->revoked = true;
        return 0;
    }
    out->key = dkim_b64_decode(p->value, &out->key_len);
    if (!out->key || out->key_len == 0) {
        free(out->key);
        out->key = NULL;
        *error_r = "p= is not base64";
        return -1;
    }
    return 0;
}

void dkim_key_record_free(struct dkim_key_record *r)
{
    free(r->key);
    r->key = NULL;
}
