/* SPF check_host() (RFC 7208): record parsing, macros, the evaluation state
 * machine and the header fragments (see spf.h). */
#include "mailauth/spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MACRO_OUT_MAX 8192
#define MAX_FRAMES (SPF_MAX_DNS_TERMS + 2)

const char *spf_result_name(enum spf_result r)
{
    switch (r) {
    case SPF_NONE: return "none";
    case SPF_NEUTRAL: return "neutral";
    case SPF_PASS: return "pass";
    case SPF_FAIL: return "fail";
    case SPF_SOFTFAIL: return "softfail";
    case SPF_TEMPERROR: return "temperror";
    case SPF_PERMERROR: return "permerror";
    }
    return "permerror";
}

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

/* --- Addresses --- */

int spf_ip_parse(const char *text, struct spf_ip *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, out->addr) == 1) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        out->family = AF_INET6;
        if (memcmp(out->addr, mapped, 12) == 0) {
            memmove(out->addr, out->addr + 12, 4);
            memset(out->addr + 4, 0, 12);
            out->family = AF_INET;
        }
        return 0;
    }
    return -1;
}

static bool ip_in_net(const struct spf_ip *ip, int family, const unsigned char *net, int bits)
{
    if (ip->family != family)
        return false;
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(ip->addr, net, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (ip->addr[whole] & mask) == (net[whole] & mask);
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros
 * (§5.6's ABNF; inet_pton would accept the same, but be explicit). */
static bool parse_ip4_strict(const char *s, size_t len, unsigned char out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && ascii_is_digit(s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t n = i - start;
        if (n == 0 || v > 255 || (n > 1 && s[start] == '0'))
            return false;
        out[part] = (unsigned char)v;
    }
    return i == len;
}

/* ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT); ip6: 0*2DIGIT, <= 128. */
static int parse_cidr(const char *s, size_t len, int max)
{
    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!ascii_is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* --- Macros (§7) --- */

static bool is_delimiter(char c)
{
    return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

static bool unreserved(char c)
{
    return ascii_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void ip_text(const struct spf_ip *ip, bool dotted_nibbles, char *out, size_t outlen)
{
    if (ip->family == AF_INET) {
        snprintf(out, outlen, "%u.%u.%u.%u", ip->addr[0], ip->addr[1], ip->addr[2], ip->addr[3]);
    } else if (dotted_nibbles) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (int i = 0; i < 16 && o + 4 < outlen; i++) {
            out[o++] = hex[ip->addr[i] >> 4];
            out[o++] = '.';
            out[o++] = hex[ip->addr[i] & 15];
            out[o++] = i == 15 ? '\0' : '.';
        }
        out[outlen - 1] = '\0';
    } else if (!inet_ntop(AF_INET6, ip->addr, out, (socklen_t)outlen)) {
        snprintf(out, outlen, "unknown");
    }
}

static const char *macro_value(char letter, const struct spf_macro_vars *v, char *tmp,
                               size_t tmplen)
{
    switch (letter) {
    case 's': return v->sender ? v->sender : "";
    case 'l': return v->local ? v->local : "";
    case 'o': return v->sender_domain ? v->sender_domain : "";
    case 'd': return v->domain ? v->domain : "";
    case 'i': ip_text(&v->ip, true, tmp, tmplen); return tmp;
    case 'c': ip_text(&v->ip, false, tmp, tmplen); return tmp;
    case 'p': return v->ptr_name ? v->ptr_name : "unknown";
    case 'v': return v->ip.family == AF_INET ? "in-addr" : "ip6";
    case 'h': return v->helo ? v->helo : "";
    case 'r': return v->receiver ? v->receiver : "unknown";
    case 't': snprintf(tmp, tmplen, "%lld", (long long)v->now); return tmp;
    }
    return "";
}

/* Appends the transformed value: split at the delimiters, reversed if asked,
 * the rightmost `keep` parts (0: all), joined with dots; URL-escaped when
 * the letter was uppercase. */
static int macro_append(struct buf *out, const char *value, const char *delims, size_t ndelims,
                        unsigned keep, bool reverse, bool escape)
{
    size_t vlen = strlen(value);
    /* Part boundaries: at most vlen + 1 parts. */
    size_t nparts = 0;
    size_t *starts = xmalloc((vlen + 1) * sizeof(size_t));
    size_t *lens = xmalloc((vlen + 1) * sizeof(size_t));
    size_t start = 0;
    for (size_t i = 0; i <= vlen; i++) {
        bool d = i == vlen;
        if (!d) {
            if (ndelims == 0)
                d = value[i] == '.';
            else
                d = memchr(delims, value[i], ndelims) != NULL;
        }
        if (d) {
            starts[nparts] = start;
            lens[nparts] = i - start;
            nparts++;
            start = i + 1;
        }
    }
    size_t first = 0;
    if (keep > 0 && keep < nparts)
        first = nparts - keep;
    int rc = 0;
    for (size_t k = first; k < nparts && rc == 0; k++) {
        size_t idx = reverse ? nparts - 1 - k : k;
        if (k > first)
            rc |= buf_append_char(out, '.');
        for (size_t j = 0; j < lens[idx] && rc == 0; j++) {
            char ch = value[starts[idx] + j];
            if (escape && !unreserved(ch))
                rc |= buf_printf(out, "%%%02X", (unsigned char)ch);
            else
                rc |= buf_append_char(out, ch);
        }
    }
    free(starts);
    free(lens);
    return rc;
}

/* Parses (and, with v and out, expands) a macro-string. ends_with_macro
 * reports whether the last token was a macro-expand (domain-end). */
static int macro_run(struct str spec, const struct spf_macro_vars *v, bool explanation,
                     struct buf *out, bool *ends_with_macro, const char **error_r)
{
    bool last_macro = false;
    for (size_t i = 0; i < spec.len;) {
        char ch = spec.p[i];
        if (ch != '%') {
            bool ok = (ch >= 0x21 && ch <= 0x7e) || (explanation && ch == ' ');
            if (!ok) {
                *error_r = "invalid character in a macro-string";
                return -1;
            }
            if (out && buf_append_char(out, ch) < 0)
                goto too_long;
            last_macro = false;
            i++;
            continue;
        }
        if (i + 1 >= spec.len) {
            *error_r = "a macro-string ends in \"%\"";
            return -1;
        }
        char n = spec.p[i + 1];
        if (n == '%' || n == '_' || n == '-') {
            if (out && buf_append_cstr(out, n == '%' ? "%" : n == '_' ? " " : "%20") < 0)
                goto too_long;
            last_macro = true;
            i += 2;
            continue;
        }
        if (n != '{') {
            *error_r = "\"%\" not followed by {, %, _ or -";
            return -1;
        }
        i += 2;
        if (i >= spec.len) {
            *error_r = "unterminated macro";
            return -1;
        }
        char letter = spec.p[i];
        char ll = ascii_lower(letter);
        bool allowed = strchr("slodipvh", ll) != NULL ||
                       (explanation && strchr("crt", ll) != NULL);
        if (!ascii_is_alpha(letter) || !allowed) {
            *error_r = "unknown macro letter";
            return -1;
        }
        i++;
        unsigned keep = 0;
        bool have_digits = false;
        while (i < spec.len && ascii_is_digit(spec.p[i])) {
            have_digits = true;
            if (keep < 100000)
                keep = keep * 10 + (unsigned)(spec.p[i] - '0');
            i++;
        }
        if (have_digits && keep == 0) {
            *error_r = "a macro's digit transformer is 0";
            return -1;
        }
        bool reverse = false;
        if (i < spec.len && (spec.p[i] == 'r' || spec.p[i] == 'R')) {
            reverse = true;
            i++;
        }
        size_t dstart = i;
        while (i < spec.len && is_delimiter(spec.p[i]))
            i++;
        size_t ndelims = i - dstart;
        if (i >= spec.len || spec.p[i] != '}') {
            *error_r = "malformed macro";
            return -1;
        }
        i++;
        if (out) {
            char tmp[128];
            const char *value = macro_value(ll, v, tmp, sizeof(tmp));
            if (macro_append(out, value, spec.p + dstart, ndelims, keep, reverse,
                             letter != ll) < 0)
                goto too_long;
        }
        last_macro = true;
    }
    if (ends_with_macro)
        *ends_with_macro = last_macro;
    return 0;
too_long:
    *error_r = "macro expansion too long";
    return -1;
}

int spf_macro_expand(struct str spec, const struct spf_macro_vars *v, bool explanation,
                     struct buf *out, const char **error_r)
{
    return macro_run(spec, v, explanation, out, NULL, error_r);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_ok(const char *s, size_t len)
{
    if (len == 0 || !ascii_is_alnum(s[0]) || !ascii_is_alnum(s[len - 1]))
        return false;
    bool alpha = false, dash = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            dash = true;
        else if (ascii_is_alpha(s[i]))
            alpha = true;
        else if (!ascii_is_digit(s[i]))
            return false;
    }
    return alpha || dash;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool domain_spec_ok(const char *s, size_t len, const char **error_r)
{
    bool ends_macro = false;
    if (len == 0) {
        *error_r = "empty domain-spec";
        return false;
    }
    if (macro_run((struct str){ s, len }, NULL, false, NULL, &ends_macro, error_r) < 0)
        return false;
    if (ends_macro)
        return true;
    size_t end = len;
    if (s[end - 1] == '.')
        end--;
    size_t dot = end;
    while (dot > 0 && s[dot - 1] != '.')
        dot--;
    /* The literal tail must hold the dot (a macro's "}" before it is fine). */
    if (dot == 0 || !toplabel_ok(s + dot, end - dot)) {
        *error_r = "a domain-spec must end in a valid top-level label";
        return false;
    }
    return true;
}

/* --- Records --- */

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS };

struct term {
    char qual;            /* + - ~ ? */
    enum mech kind;
    char *spec;           /* domain-spec, NULL when absent */
    int cidr4, cidr6;
    struct spf_ip net;    /* ip4/ip6 */
    char *text;           /* as written, for the outcome */
};

struct spf_record {
    struct term *terms;
    int n;
    char *redirect;       /* domain-spec or NULL */
    char *exp;
};

void spf_record_free(struct spf_record *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        free(r->terms[i].spec);
        free(r->terms[i].text);
    }
    free(r->terms);
    free(r->redirect);
    free(r->exp);
    free(r);
}

int spf_record_terms(const struct spf_record *r)
{
    return r->n + (r->redirect != NULL) + (r->exp != NULL);
}

/* Splits a trailing dual-cidr-length off s[0..*len): "/N", "//M", "/N//M".
 * Returns -1 on a malformed length. */
static int take_dual_cidr(const char *s, size_t *len, int *c4, int *c6)
{
    size_t end = *len, j = end;
    while (j > 0 && ascii_is_digit(s[j - 1]))
        j--;
    if (j < end && j >= 2 && s[j - 1] == '/' && s[j - 2] == '/') {
        *c6 = parse_cidr(s + j, end - j, 128);
        if (*c6 < 0)
            return -1;
        end = j - 2;
    }
    j = end;
    while (j > 0 && ascii_is_digit(s[j - 1]))
        j--;
    if (j < end && j >= 1 && s[j - 1] == '/') {
        *c4 = parse_cidr(s + j, end - j, 32);
        if (*c4 < 0)
            return -1;
        end = j - 1;
    }
    *len = end;
    return 0;
}

static int parse_mechanism(const char *t, size_t len, struct term *out, const char **error_r)
{
    size_t i = 0;
    out->qual = '+';
    if (len > 0 && strchr("+-~?", t[0])) {
        out->qual = t[0];
        i = 1;
    }
    size_t name_start = i;
    while (i < len && t[i] != ':' && t[i] != '/')
        i++;
    const char *name = t + name_start;
    size_t name_len = i - name_start;
    const char *rest = t + i;
    size_t rest_len = len - i;
    out->cidr4 = 32;
    out->cidr6 = 128;

    static const struct { const char *name; enum mech kind; } names[] = {
        { "all", M_ALL }, { "include", M_INCLUDE }, { "a", M_A }, { "mx", M_MX },
        { "ptr", M_PTR }, { "ip4", M_IP4 }, { "ip6", M_IP6 }, { "exists", M_EXISTS },
    };
    size_t k;
    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (eq_nocase(name, name_len, names[k].name))
            break;
    if (k == sizeof(names) / sizeof(names[0])) {
        *error_r = "unknown mechanism";
        return -1;
    }
    out->kind = names[k].kind;
    switch (out->kind) {
    case M_ALL:
        if (rest_len != 0) {
            *error_r = "\"all\" takes no argument";
            return -1;
        }
        return 0;
    case M_INCLUDE:
    case M_EXISTS:
    case M_PTR:
        if (rest_len == 0) {
            if (out->kind == M_PTR)
                return 0;
            *error_r = "include and exists need a domain";
            return -1;
        }
        if (rest[0] != ':' || !domain_spec_ok(rest + 1, rest_len - 1, error_r)) {
            if (rest[0] != ':')
                *error_r = "this mechanism takes no CIDR length";
            return -1;
        }
        out->spec = xstrndup(rest + 1, rest_len - 1);
        return 0;
    case M_A:
    case M_MX: {
        if (rest_len == 0)
            return 0;
        size_t speclen = rest_len;
        if (take_dual_cidr(rest, &speclen, &out->cidr4, &out->cidr6) < 0) {
            *error_r = "invalid CIDR length";
            return -1;
        }
        if (speclen == 0)
            return 0;
        if (rest[0] != ':' || !domain_spec_ok(rest + 1, speclen - 1, error_r)) {
            if (rest[0] != ':')
                *error_r = "invalid CIDR length";
            return -1;
        }
        out->spec = xstrndup(rest + 1, speclen - 1);
        return 0;
    }
    case M_IP4:
    case M_IP6: {
        if (rest_len < 2 || rest[0] != ':') {
            *error_r = "ip4 and ip6 need an address";
            return -1;
        }
        const char *a = rest + 1;
        size_t alen = rest_len - 1;
        const char *slash = memchr(a, '/', alen);
        int max = out->kind == M_IP4 ? 32 : 128;
        int bits = max;
        if (slash) {
            bits = parse_cidr(slash + 1, alen - (size_t)(slash + 1 - a), max);
            if (bits < 0) {
                *error_r = "invalid CIDR length";
                return -1;
            }
            alen = (size_t)(slash - a);
        }
        if (out->kind == M_IP4) {
            out->net.family = AF_INET;
            out->cidr4 = bits;
            if (!parse_ip4_strict(a, alen, out->net.addr)) {
                *error_r = "invalid IPv4 address";
                return -1;
            }
        } else {
            char tmp[64];
            out->net.family = AF_INET6;
            out->cidr6 = bits;
            if (alen >= sizeof(tmp)) {
                *error_r = "invalid IPv6 address";
                return -1;
            }
            memcpy(tmp, a, alen);
            tmp[alen] = '\0';
            if (inet_pton(AF_INET6, tmp, out->net.addr) != 1) {
                *error_r = "invalid IPv6 address";
                return -1;
            }
        }
        return 0;
    }
    }
    return -1;
}

struct spf_record *spf_record_parse(const char *text, size_t len, const char **error_r)
{
    if (len < 6 || !eq_nocase(text, 6, "v=spf1") || (len > 6 && text[6] != ' ')) {
        *error_r = "not an SPF record";
        return NULL;
    }
    if (len > SPF_MAX_RECORD) {
        *error_r = "record too long";
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < 0x20 || text[i] > 0x7e) {
            *error_r = "the record holds a byte that is not printable ASCII";
            return NULL;
        }
    }
    struct spf_record *r = xcalloc(1, sizeof(*r));
    int cap = 0;
    size_t i = 6;
    while (i < len) {
        while (i < len && text[i] == ' ')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && text[i] != ' ')
            i++;
        const char *t = text + start;
        size_t tlen = i - start;
        size_t j = 0;
        while (j < tlen && t[j] != '=' && t[j] != ':' && t[j] != '/')
            j++;
        if (j < tlen && t[j] == '=') {
            /* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
            bool name_ok = j > 0 && ascii_is_alpha(t[0]);
            for (size_t k = 1; k < j && name_ok; k++)
                name_ok = ascii_is_alnum(t[k]) || t[k] == '-' || t[k] == '_' || t[k] == '.';
            if (!name_ok) {
                *error_r = "invalid modifier name";
                goto fail;
            }
            const char *val = t + j + 1;
            size_t vlen = tlen - j - 1;
            bool redirect = eq_nocase(t, j, "redirect"), exp = eq_nocase(t, j, "exp");
            if (redirect || exp) {
                char **slot = redirect ? &r->redirect : &r->exp;
                if (*slot) {
                    *error_r = redirect ? "two redirect= modifiers" : "two exp= modifiers";
                    goto fail;
                }
                if (!domain_spec_ok(val, vlen, error_r))
                    goto fail;
                *slot = xstrndup(val, vlen);
            } else if (macro_run((struct str){ val, vlen }, NULL, true, NULL, NULL, error_r) < 0) {
                goto fail; /* unknown modifiers are ignored, but must parse */
            }
            continue;
        }
        if (r->n == cap) {
            cap = cap ? cap * 2 : 8;
            r->terms = xrealloc(r->terms, (size_t)cap * sizeof(*r->terms));
        }
        struct term *term = &r->terms[r->n];
        memset(term, 0, sizeof(*term));
        if (parse_mechanism(t, tlen, term, error_r) < 0) {
            free(term->spec);
            goto fail;
        }
        term->text = xstrndup(t, tlen);
        r->n++;
    }
    return r;
fail:
    spf_record_free(r);
    return NULL;
}

/* --- Names --- */

/* Drops one trailing dot; cuts labels from the left past 253 bytes (§7.3). */
static void normalize_name(struct buf *b)
{
    if (b->len > 0 && b->p[b->len - 1] == '.') {
        b->len--;
        b->p[b->len] = '\0';
    }
    while (b->len > SPF_MAX_NAME) {
        const char *dot = memchr(b->p, '.', b->len);
        if (!dot) {
            break;
        }
        buf_consume(b, (size_t)(dot - b->p) + 1);
    }
}

/* A name that can be asked: 1..253 bytes, labels of 1..63. */
static bool name_askable(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > SPF_MAX_NAME)
        return false;
    size_t lab = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (lab == 0 || lab > 63)
                return false;
            lab = 0;
        } else {
            lab++;
        }
    }
    return true;
}

/* §4.3: the identity's domain must be a multi-label FQDN. */
static bool identity_domain_ok(const char *s)
{
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > SPF_MAX_NAME)
        return false;
    char *copy = xstrndup(s, len);
    bool ok = name_askable(copy);
    const char *dot = strrchr(copy, '.');
    ok = ok && dot && toplabel_ok(dot + 1, strlen(dot + 1));
    free(copy);
    return ok;
}

static bool name_eq(const char *a, const char *b)
{
    return eq_nocase(a, strlen(a), b);
}

/* a equals b or ends with "." b. */
static bool name_within(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb)
        return eq_nocase(a, la, b);
    return la > lb && a[la - lb - 1] == '.' && eq_nocase(a + la - lb, lb, b);
}

/* --- The check --- */

enum op {
    OP_NONE,
    OP_RECORD,     /* TXT of the frame's domain */
    OP_A,          /* the a mechanism's addresses */
    OP_MX,
    OP_MX_ADDR,
    OP_EXISTS,
    OP_PTR,
    OP_PTR_ADDR,
    OP_EXP,
};

enum stage {
    ST_START,      /* the term is not yet counted */
    ST_EXPAND,     /* counted; its domain-spec to expand */
    ST_MX_ADDRS,   /* asking the MX names' addresses */
    ST_PTR_MATCH,  /* the client's names are known: match them */
    ST_WAIT,       /* a lookup or an include is under way */
};

enum exp_stage { EXP_OFF, EXP_START, EXP_TEXT, EXP_EXPAND };

struct frame {
    char *domain;
    struct spf_record *rec;    /* NULL until fetched */
    int pos;                   /* the term being evaluated; rec->n: redirect */
    bool via_redirect;         /* none is then permerror */
};

struct spf_check {
    struct spf_resolver res;
    spf_done_fn done;
    void *arg;
    struct spf_outcome out;
    bool finished, reported, waiting, running;
    void *handle;
    enum op op;

    struct spf_macro_vars vars;   /* domain and ptr_name set per expansion */
    char *helo, *sender, *local, *domain, *receiver;

    struct frame frames[MAX_FRAMES];
    int depth;
    enum stage stage;
    char *target;                 /* the current term's expanded domain */

    char **mx_names;
    int mx_n, mx_i;

    int ptr_state;                /* 0 not asked, 1 asking, 2 known */
    enum spf_dns_status ptr_status;
    char *ptr_names[SPF_MAX_NAMES];
    bool ptr_valid[SPF_MAX_NAMES];
    int ptr_n, ptr_i, ptr_cur;

    enum exp_stage exp_stage;
    const char *exp_spec, *exp_domain;
    char *exp_text;

    struct spf_record **records;  /* every record fetched, freed at the end */
    int nrecords;
    char **pool;                  /* strings freed at the end */
    int npool, cappool;
};

static char *pool_keep(struct spf_check *c, char *s)
{
    if (c->npool == c->cappool) {
        c->cappool = c->cappool ? c->cappool * 2 : 16;
        c->pool = xrealloc(c->pool, (size_t)c->cappool * sizeof(char *));
    }
    c->pool[c->npool++] = s;
    return s;
}

static char *pool_strdup(struct spf_check *c, const char *s)
{
    return pool_keep(c, xstrdup(s ? s : ""));
}

static void finish(struct spf_check *c, enum spf_result r, const char *problem)
{
    if (c->finished)
        return;
    c->finished = true;
    c->out.result = r;
    c->out.problem = problem;
    if (r == SPF_NONE || r == SPF_TEMPERROR || r == SPF_PERMERROR)
        c->out.mechanism = NULL;
}

static void on_dns(void *arg, const struct spf_dns_answer *a);
static void run(struct spf_check *c);

enum qtype { Q_TXT, Q_A, Q_AAAA, Q_MX };

static void ask(struct spf_check *c, enum op op, enum qtype q, const char *name)
{
    c->op = op;
    c->waiting = true;
    if (!name_askable(name)) {
        struct spf_dns_answer none = { .status = SPF_DNS_NXDOMAIN };
        on_dns(c, &none);
        return;
    }
    void *(*fn)(void *, const char *, spf_dns_fn, void *) =
        q == Q_TXT ? c->res.txt : q == Q_A ? c->res.a : q == Q_AAAA ? c->res.aaaa : c->res.mx;
    void *h = fn(c->res.ctx, name, on_dns, c);
    if (c->waiting)
        c->handle = h;
}

static void ask_addr(struct spf_check *c, enum op op, const char *name)
{
    ask(c, op, c->vars.ip.family == AF_INET ? Q_A : Q_AAAA, name);
}

static bool is_void(const struct spf_dns_answer *a)
{
    return a->status == SPF_DNS_NXDOMAIN || a->status == SPF_DNS_NODATA ||
           (a->status == SPF_DNS_OK && a->n == 0);
}

/* Counts a void answer of a term's own query; false when past the limit
 * (the check is then finished). */
static bool count_void(struct spf_check *c)
{
    if (++c->out.void_lookups > SPF_MAX_VOID) {
        finish(c, SPF_PERMERROR, "more than 2 void DNS lookups");
        return false;
    }
    return true;
}

/* Whether an A or AAAA answer holds the client within the current term's
 * CIDR length. */
static bool any_addr_matches(struct spf_check *c, const struct spf_dns_answer *a)
{
    int family = c->vars.ip.family;
    size_t step = family == AF_INET ? 4 : 16;
    struct term *t = &c->frames[c->depth - 1].rec->terms[c->frames[c->depth - 1].pos];
    int bits = family == AF_INET ? t->cidr4 : t->cidr6;
    for (int i = 0; i < a->n && a->addrs; i++)
        if (ip_in_net(&c->vars.ip, family, a->addrs + (size_t)i * step, bits))
            return true;
    return false;
}

static enum spf_result qual_result(char q)
{
    switch (q) {
    case '-': return SPF_FAIL;
    case '~': return SPF_SOFTFAIL;
    case '?': return SPF_NEUTRAL;
    default: return SPF_PASS;
    }
}

static void frame_result(struct spf_check *c, enum spf_result r);

/* The current term of the top frame matched. */
static void term_matched(struct spf_check *c)
{
    struct frame *f = &c->frames[c->depth - 1];
    struct term *t = &f->rec->terms[f->pos];
    enum spf_result r = qual_result(t->qual);
    c->out.mechanism = t->text;
    if (r == SPF_FAIL) {
        c->exp_spec = f->rec->exp;
        c->exp_domain = f->domain;
    }
    frame_result(c, r);
}

static void term_next(struct spf_check *c)
{
    c->frames[c->depth - 1].pos++;
    c->stage = ST_START;
}

/* The top frame's record gave r (a match, the default, or its redirect). */
static void frame_result(struct spf_check *c, enum spf_result r)
{
    struct frame *f = &c->frames[c->depth - 1];
    if (r == SPF_NONE && (c->depth > 1 || f->via_redirect)) {
        finish(c, SPF_PERMERROR, c->depth > 1 && !f->via_redirect ?
                   "include: names a domain without an SPF record" :
                   "redirect= names a domain without an SPF record");
        return;
    }
    if (r == SPF_TEMPERROR || r == SPF_PERMERROR || r == SPF_NONE) {
        finish(c, r, c->out.problem);
        return;
    }
    c->depth--;
    if (c->depth == 0) {
        if (r == SPF_FAIL && c->exp_spec) {
            c->exp_stage = EXP_START;
            c->out.result = r;
            return;
        }
        finish(c, r, NULL);
        return;
    }
    /* The parent's include: pass matches, the others do not. */
    if (r == SPF_PASS)
        term_matched(c);
    else
        term_next(c);
}

static void record_answer(struct spf_check *c, const struct spf_dns_answer *a)
{
    if (a->status == SPF_DNS_TEMPFAIL) {
        finish(c, SPF_TEMPERROR, "DNS failure looking up the SPF record");
        return;
    }
    int found = -1, count = 0;
    for (int i = 0; i < a->n && a->status == SPF_DNS_OK; i++) {
        const char *s = a->strings[i];
        size_t len = a->lens ? a->lens[i] : strlen(s);
        if (len >= 6 && eq_nocase(s, 6, "v=spf1") && (len == 6 || s[6] == ' ')) {
            found = i;
            count++;
        }
    }
    if (count == 0) {
        c->out.problem = "no SPF record";
        frame_result(c, SPF_NONE);
        return;
    }
    if (count > 1) {
        finish(c, SPF_PERMERROR, "more than one SPF record");
        return;
    }
    const char *err = NULL;
    struct spf_record *rec = spf_record_parse(a->strings[found],
                                              a->lens ? a->lens[found] : strlen(a->strings[found]),
                                              &err);
    if (!rec) {
        finish(c, SPF_PERMERROR, err);
        return;
    }
    c->records = xrealloc(c->records, (size_t)(c->nrecords + 1) * sizeof(*c->records));
    c->records[c->nrecords++] = rec;
    struct frame *f = &c->frames[c->depth - 1];
    f->rec = rec;
    f->pos = 0;
    c->stage = ST_START;
}

static void on_answer(struct spf_check *c, const struct spf_dns_answer *a)
{
    enum op op = c->op;
    c->op = OP_NONE;
    switch (op) {
    case OP_NONE:
        return;
    case OP_RECORD:
        record_answer(c, a);
        return;
    case OP_A:
    case OP_EXISTS:
        if (a->status == SPF_DNS_TEMPFAIL) {
            finish(c, SPF_TEMPERROR, "DNS failure looking up addresses");
            return;
        }
        if (is_void(a)) {
            if (count_void(c))
                term_next(c);
            return;
        }
        if (op == OP_EXISTS || any_addr_matches(c, a))
            term_matched(c);
        else
            term_next(c);
        return;
    case OP_MX:
        if (a->status == SPF_DNS_TEMPFAIL) {
            finish(c, SPF_TEMPERROR, "DNS failure looking up MX");
            return;
        }
        if (is_void(a)) {
            if (count_void(c))
                term_next(c);
            return;
        }
        if (a->n > SPF_MAX_NAMES) {
            finish(c, SPF_PERMERROR, "more than 10 MX names");
            return;
        }
        c->mx_names = (char **)(void *)pool_keep(c, xcalloc((size_t)a->n + 1, sizeof(char *)));
        c->mx_n = 0;
        for (int i = 0; i < a->n; i++)
            if (a->strings[i] && a->strings[i][0] && strcmp(a->strings[i], ".") != 0)
                c->mx_names[c->mx_n++] = pool_strdup(c, a->strings[i]);
        c->mx_i = 0;
        c->stage = ST_MX_ADDRS;
        return;
    case OP_MX_ADDR:
        if (a->status == SPF_DNS_TEMPFAIL) {
            finish(c, SPF_TEMPERROR, "DNS failure looking up an MX host's addresses");
            return;
        }
        if (!is_void(a) && any_addr_matches(c, a))
            term_matched(c);
        return;
    case OP_PTR:
        c->ptr_status = a->status;
        if (a->status == SPF_DNS_OK)
            for (int i = 0; i < a->n && c->ptr_n < SPF_MAX_NAMES; i++)
                if (a->strings[i] && a->strings[i][0])
                    c->ptr_names[c->ptr_n++] = pool_strdup(c, a->strings[i]);
        for (int i = 0; i < c->ptr_n; i++) {
            size_t l = strlen(c->ptr_names[i]);
            if (l > 0 && c->ptr_names[i][l - 1] == '.')
                c->ptr_names[i][l - 1] = '\0';
        }
        c->ptr_i = 0;
        return;
    case OP_PTR_ADDR:
        /* §5.5: an error validating a name skips the name. */
        if (a->status == SPF_DNS_OK) {
            size_t step = c->vars.ip.family == AF_INET ? 4 : 16;
            for (int i = 0; i < a->n && a->addrs; i++)
                if (memcmp(a->addrs + (size_t)i * step, c->vars.ip.addr, step) == 0)
                    c->ptr_valid[c->ptr_cur] = true;
        }
        return;
    case OP_EXP:
        /* §6.2: anything but exactly one printable record: no explanation. */
        if (a->status == SPF_DNS_OK && a->n == 1) {
            size_t len = a->lens ? a->lens[0] : strlen(a->strings[0]);
            bool ok = len <= SPF_MAX_RECORD;
            for (size_t i = 0; i < len && ok; i++)
                ok = a->strings[0][i] >= 0x20 && a->strings[0][i] <= 0x7e;
            if (ok) {
                c->exp_text = pool_keep(c, xstrndup(a->strings[0], len));
                c->exp_stage = EXP_EXPAND;
                return;
            }
        }
        finish(c, SPF_FAIL, NULL);
        return;
    }
}

static void on_dns(void *arg, const struct spf_dns_answer *a)
{
    struct spf_check *c = arg;
    c->waiting = false;
    c->handle = NULL;
    on_answer(c, a);
    run(c);
}

/* The name %{p} stands for when checking domain (§7.3). */
static const char *ptr_name_for(struct spf_check *c, const char *domain)
{
    const char *sub = NULL, *any = NULL;
    for (int i = 0; i < c->ptr_n; i++) {
        if (!c->ptr_valid[i])
            continue;
        if (name_eq(c->ptr_names[i], domain))
            return c->ptr_names[i];
        if (!sub && name_within(c->ptr_names[i], domain))
            sub = c->ptr_names[i];
        if (!any)
            any = c->ptr_names[i];
    }
    return sub ? sub : any ? any : "unknown";
}

static bool needs_ptr(const char *spec)
{
    for (const char *p = spec; p && (p = strstr(p, "%{")) != NULL; p += 2)
        if (p[2] == 'p' || p[2] == 'P')
            return true;
    return false;
}

/* Starts or continues learning the client's validated names. */
static void ptr_step(struct spf_check *c)
{
    if (c->ptr_i < 0) {
        c->waiting = true;
        c->op = OP_PTR;
        void *h = c->res.ptr(c->res.ctx, &c->vars.ip, on_dns, c);
        if (c->waiting)
            c->handle = h;
        return;
    }
    if (c->ptr_i < c->ptr_n) {
        c->ptr_cur = c->ptr_i++;
        ask_addr(c, OP_PTR_ADDR, c->ptr_names[c->ptr_cur]);
        return;
    }
    c->ptr_state = 2;
}

/* Expands spec for domain into a name to ask; false when the check
 * finished (or must first learn %{p}: then it returns false, not finished). */
static bool expand_name(struct spf_check *c, const char *spec, const char *domain, char **out)
{
    if (needs_ptr(spec) && c->ptr_state != 2) {
        c->ptr_state = 1;
        c->ptr_i = -1;
        return false;
    }
    c->vars.domain = domain;
    c->vars.ptr_name = ptr_name_for(c, domain);
    struct buf b;
    buf_init(&b, MACRO_OUT_MAX);
    const char *err = NULL;
    if (macro_run(str_from_cstr(spec), &c->vars, false, &b, NULL, &err) < 0) {
        buf_free(&b);
        finish(c, SPF_PERMERROR, err);
        return false;
    }
    normalize_name(&b);
    *out = pool_strdup(c, buf_cstr(&b));
    buf_free(&b);
    return true;
}

static void exp_step(struct spf_check *c)
{
    if (c->exp_stage == EXP_START) {
        if (needs_ptr(c->exp_spec) && c->ptr_state != 2) {
            c->ptr_state = 1;
            c->ptr_i = -1;
            return;
        }
        /* The spec parsed; an expansion too long only loses the text. */
        c->vars.domain = c->exp_domain;
        c->vars.ptr_name = ptr_name_for(c, c->exp_domain);
        struct buf b;
        buf_init(&b, MACRO_OUT_MAX);
        const char *err = NULL;
        if (macro_run(str_from_cstr(c->exp_spec), &c->vars, false, &b, NULL, &err) < 0) {
            buf_free(&b);
            finish(c, SPF_FAIL, NULL);
            return;
        }
        normalize_name(&b);
        char *name = pool_strdup(c, buf_cstr(&b));
        buf_free(&b);
        c->exp_stage = EXP_TEXT;
        ask(c, OP_EXP, Q_TXT, name);
        return;
    }
    if (c->exp_stage == EXP_EXPAND) {
        if (needs_ptr(c->exp_text) && c->ptr_state != 2) {
            c->ptr_state = 1;
            c->ptr_i = -1;
            return;
        }
        c->vars.domain = c->exp_domain;
        c->vars.ptr_name = ptr_name_for(c, c->exp_domain);
        struct buf b;
        buf_init(&b, MACRO_OUT_MAX);
        const char *err = NULL;
        if (macro_run(str_from_cstr(c->exp_text), &c->vars, true, &b, NULL, &err) == 0)
            c->out.explanation = pool_strdup(c, buf_cstr(&b));
        buf_free(&b);
        finish(c, SPF_FAIL, NULL);
        return;
    }
    finish(c, SPF_FAIL, NULL); /* EXP_TEXT without a lookup: cannot happen */
}

/* One step of the top frame: fetch its record, or evaluate one term. */
static void frame_step(struct spf_check *c)
{
    struct frame *f = &c->frames[c->depth - 1];
    if (!f->rec) {
        c->stage = ST_WAIT;
        ask(c, OP_RECORD, Q_TXT, f->domain);
        return;
    }
    if (f->pos >= f->rec->n) {
        if (!f->rec->redirect) {
            c->out.mechanism = "default";
            frame_result(c, SPF_NEUTRAL);
            return;
        }
        if (c->stage == ST_START) {
            if (++c->out.dns_terms > SPF_MAX_DNS_TERMS) {
                finish(c, SPF_PERMERROR, "more than 10 DNS-querying terms");
                return;
            }
            c->stage = ST_EXPAND;
        }
        char *target;
        if (!expand_name(c, f->rec->redirect, f->domain, &target))
            return;
        /* A tail call: the frame becomes the target's (§6.1). */
        f->domain = target;
        f->rec = NULL;
        f->pos = 0;
        f->via_redirect = true;
        c->stage = ST_START;
        return;
    }
    struct term *t = &f->rec->terms[f->pos];
    switch (t->kind) {
    case M_ALL:
        term_matched(c);
        return;
    case M_IP4:
        if (ip_in_net(&c->vars.ip, AF_INET, t->net.addr, t->cidr4))
            term_matched(c);
        else
            term_next(c);
        return;
    case M_IP6:
        if (ip_in_net(&c->vars.ip, AF_INET6, t->net.addr, t->cidr6))
            term_matched(c);
        else
            term_next(c);
        return;
    default:
        break;
    }
    switch (c->stage) {
    case ST_START:
        if (++c->out.dns_terms > SPF_MAX_DNS_TERMS) {
            finish(c, SPF_PERMERROR, "more than 10 DNS-querying terms");
            return;
        }
        c->stage = ST_EXPAND;
        /* fall through */
    case ST_EXPAND: {
        char *target = NULL;
        if (!expand_name(c, t->spec ? t->spec : "%{d}", f->domain, &target))
            return;
        c->target = target;
        switch (t->kind) {
        case M_INCLUDE:
            c->stage = ST_WAIT;
            c->frames[c->depth++] = (struct frame){ .domain = target };
            c->stage = ST_START;
            return;
        case M_A:
            c->stage = ST_WAIT;
            ask_addr(c, OP_A, target);
            return;
        case M_MX:
            c->stage = ST_WAIT;
            ask(c, OP_MX, Q_MX, target);
            return;
        case M_EXISTS:
            c->stage = ST_WAIT;
            ask(c, OP_EXISTS, Q_A, target);
            return;
        case M_PTR:
            c->stage = ST_PTR_MATCH;
            if (c->ptr_state != 2) {
                c->ptr_state = 1;
                c->ptr_i = -1;
            }
            return;
        default:
            return;
        }
    }
    case ST_MX_ADDRS:
        if (c->mx_i < c->mx_n) {
            ask_addr(c, OP_MX_ADDR, c->mx_names[c->mx_i++]);
            return;
        }
        term_next(c);
        return;
    case ST_PTR_MATCH:
        if (c->ptr_status == SPF_DNS_NXDOMAIN || c->ptr_status == SPF_DNS_NODATA ||
            (c->ptr_status == SPF_DNS_OK && c->ptr_n == 0)) {
            if (!count_void(c))
                return;
        }
        for (int i = 0; i < c->ptr_n; i++) {
            if (c->ptr_valid[i] && name_within(c->ptr_names[i], c->target)) {
                term_matched(c);
                return;
            }
        }
        term_next(c);
        return;
    case ST_WAIT:
        /* Only reached if a lookup answered without changing the stage. */
        term_next(c);
        return;
    }
}

static void advance(struct spf_check *c)
{
    if (c->ptr_state == 1) {
        ptr_step(c);
        return;
    }
    if (c->exp_stage != EXP_OFF) {
        exp_step(c);
        return;
    }
    frame_step(c);
}

/* Steps until the check waits for DNS or ends. A synchronous answer
 * arrives inside ask(), while running: it is handled there and the loop
 * here goes on, so the stack does not grow with the number of lookups. */
static void run(struct spf_check *c)
{
    if (c->running)
        return;
    c->running = true;
    while (!c->finished && !c->waiting)
        advance(c);
    c->running = false;
    if (c->finished && !c->reported) {
        c->reported = true;
        if (c->done)
            c->done(c->arg, &c->out); /* may free c */
    }
}

struct spf_check *spf_check_start(const struct spf_request *req, const struct spf_resolver *res,
                                  spf_done_fn done, void *arg)
{
    struct spf_check *c = xcalloc(1, sizeof(*c));
    c->res = *res;
    c->done = done;
    c->arg = arg;
    c->helo = pool_strdup(c, req->helo);
    c->receiver = pool_strdup(c, req->receiver ? req->receiver : "unknown");
    const char *mf = req->mail_from;
    if (!mf || !*mf) {
        c->out.helo_identity = true;
        c->local = pool_strdup(c, "postmaster");
        c->domain = pool_strdup(c, c->helo);
    } else {
        const char *at = strrchr(mf, '@');
        if (at) {
            c->local = pool_keep(c, at == mf ? xstrdup("postmaster") :
                                                xstrndup(mf, (size_t)(at - mf)));
            c->domain = pool_strdup(c, at + 1);
        } else {
            c->local = pool_strdup(c, "postmaster");
            c->domain = pool_strdup(c, mf);
        }
    }
    size_t dl = strlen(c->domain);
    if (dl > 0 && c->domain[dl - 1] == '.')
        c->domain[dl - 1] = '\0';
    size_t slen = strlen(c->local) + strlen(c->domain) + 2;
    c->sender = pool_keep(c, xmalloc(slen));
    snprintf(c->sender, slen, "%s@%s", c->local, c->domain);
    c->out.domain = c->domain;
    c->out.sender = c->sender;

    c->vars.sender = c->sender;
    c->vars.local = c->local;
    c->vars.sender_domain = c->domain;
    c->vars.ip = req->ip;
    c->vars.helo = c->helo;
    c->vars.receiver = c->receiver;
    c->vars.now = req->now ? req->now : time(NULL);
    if (c->vars.ip.family == AF_INET6) {
        struct spf_ip tmp;
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, c->vars.ip.addr, text, sizeof(text)) &&
            spf_ip_parse(text, &tmp) == 0)
            c->vars.ip = tmp; /* an IPv4-mapped address is IPv4 */
    }

    if (c->vars.ip.family != AF_INET && c->vars.ip.family != AF_INET6) {
        finish(c, SPF_PERMERROR, "no client address");
    } else if (!identity_domain_ok(c->domain)) {
        finish(c, SPF_NONE, "not a valid domain name");
    } else {
        c->frames[0] = (struct frame){ .domain = c->domain };
        c->depth = 1;
        c->stage = ST_START;
    }
    run(c);
    return c;
}

const struct spf_outcome *spf_check_outcome(const struct spf_check *c)
{
    return c->finished ? &c->out : NULL;
}

void spf_check_free(struct spf_check *c)
{
    if (!c)
        return;
    if (c->waiting && c->handle && c->res.cancel)
        c->res.cancel(c->res.ctx, c->handle);
    for (int i = 0; i < c->nrecords; i++)
        spf_record_free(c->records[i]);
    free(c->records);
    for (int i = 0; i < c->npool; i++)
        free(c->pool[i]);
    free(c->pool);
    free(c);
}

/* --- Headers --- */

static bool atext(char ch)
{
    return ascii_is_alnum(ch) || (ch && strchr("!#$%&'*+-/=?^_`{|}~.", ch));
}

/* A value as RFC 8601 takes it: as is when it is a dot-atom-ish address
 * or token, else a quoted-string. */
static void append_value(struct buf *out, const char *v)
{
    bool plain = *v != '\0';
    for (const char *p = v; *p && plain; p++)
        plain = atext(*p) || *p == '@';
    if (plain) {
        buf_append_cstr(out, v);
        return;
    }
    buf_append_char(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_append_char(out, '\\');
        if ((unsigned char)*p >= 0x20 && *p != 0x7f)
            buf_append_char(out, *p);
    }
    buf_append_char(out, '"');
}

void spf_auth_results(const struct spf_outcome *o, struct buf *out)
{
    buf_printf(out, "spf=%s", spf_result_name(o->result));
    if (o->problem && (o->result == SPF_TEMPERROR || o->result == SPF_PERMERROR)) {
        buf_append_cstr(out, " reason=");
        append_value(out, o->problem);
    }
    if (o->helo_identity) {
        buf_append_cstr(out, " smtp.helo=");
        append_value(out, o->domain);
    } else {
        buf_append_cstr(out, " smtp.mailfrom=");
        append_value(out, o->sender);
    }
}

void spf_received_spf(const struct spf_outcome *o, const struct spf_request *req,
                      struct buf *out)
{
    char ip[INET6_ADDRSTRLEN];
    ip_text(&req->ip, false, ip, sizeof(ip));
    const char *receiver = req->receiver ? req->receiver : "unknown";
    buf_printf(out, "%s (%s: ", spf_result_name(o->result), receiver);
    switch (o->result) {
    case SPF_PASS:
        buf_printf(out, "domain of %s designates %s as permitted sender)", o->sender, ip);
        break;
    case SPF_FAIL:
    case SPF_SOFTFAIL:
        buf_printf(out, "domain of %s does not designate %s as permitted sender)", o->sender,
                   ip);
        break;
    case SPF_NEUTRAL:
        buf_printf(out, "%s is neither permitted nor denied by domain of %s)", ip, o->sender);
        break;
    default:
        buf_printf(out, "%s)", o->problem ? o->problem : spf_result_name(o->result));
        break;
    }
    buf_printf(out, " client-ip=%s;", ip);
    if (!o->helo_identity) {
        buf_append_cstr(out, " envelope-from=");
        append_value(out, o->sender);
        buf_append_char(out, ';');
    }
    if (req->helo && *req->helo) {
        buf_append_cstr(out, " helo=");
        append_value(out, req->helo);
        buf_append_char(out, ';');
    }
    buf_append_cstr(out, " receiver=");
    append_value(out, receiver);
    buf_printf(out, "; identity=%s", o->helo_identity ? "helo" : "mailfrom");
    if (o->problem && (o->result == SPF_TEMPERROR || o->result == SPF_PERMERROR)) {
        buf_append_cstr(out, "; problem=");
        append_value(out, o->problem);
    }
}
