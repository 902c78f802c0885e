/* SMTP command lines (see parse.h): the verb, the paths of RFC 5321 §4.1.2
 * with RFC 6531's UTF-8 additions, and the ESMTP parameters we offer.
 *
 * Every function reads its input once, left to right, and never backtracks.
 * A path is checked against the grammar in full (a route, the local part,
 * the domain or address literal, the lengths of §4.5.3.1); a byte >= 0x80
 * is taken as one UTF-8 character wherever the grammar allows non-ASCII
 * (atext, qtextSMTP, U-labels), and whether that is acceptable is decided
 * after the parameters are known: without SMTPUTF8 it is 553 5.6.7 whatever
 * the bytes are; with it, ill-formed UTF-8 is a syntax error (501). */
#include "smtp/parse.h"

#include <string.h>

static int fail(struct smtp_parse_error *err, int code, const char *enhanced, const char *text)
{
    if (err) {
        err->code = code;
        err->enhanced = enhanced;
        err->text = text;
    }
    return -1;
}

static int out_of_memory(struct smtp_parse_error *err)
{
    return fail(err, 452, "4.3.1", "Out of memory for this command");
}

/* Character classes (RFC 5234 core rules, RFC 5321 §4.1.2). */

static bool is_alpha(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static bool is_letdig(unsigned c)
{
    return is_alpha(c) || is_digit(c);
}

static int hex_value(unsigned c)
{
    if (is_digit(c))
        return (int)(c - '0');
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    return -1;
}

/* RFC 5322 atext, ASCII only. */
static bool is_atext(unsigned c)
{
    return is_letdig(c) || (c && c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c));
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) of two bytes or more at p, or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* A cursor over the bytes of a path or a HELO argument. */
struct scan {
    const unsigned char *p, *end;
    bool utf8;     /* a byte >= 0x80 was taken */
    bool bad_utf8; /* ... and some were not well-formed UTF-8 */
};

static bool at(const struct scan *s, unsigned char c)
{
    return s->p < s->end && *s->p == c;
}

/* Takes one non-ASCII character (s->p points at a byte >= 0x80); an
 * ill-formed byte is taken alone and remembered. */
static void take_nonascii(struct scan *s)
{
    size_t n = utf8_seq(s->p, s->end);
    s->utf8 = true;
    if (!n) {
        s->bad_utf8 = true;
        n = 1;
    }
    s->p += n;
}

/* Why the byte at s->p cannot continue the address. */
static const char *unexpected(const struct scan *s, const char *at_end)
{
    if (s->p == s->end)
        return at_end;
    if (*s->p < 0x20 || *s->p == 0x7F)
        return "NUL or control character in the address";
    if (*s->p == ' ')
        return "Space inside the address";
    return "Invalid character in the address";
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], or
 * a U-label (RFC 6531) when it holds non-ASCII. Stops at the first byte that
 * cannot continue it. Returns NULL, or why it is malformed. The 63-byte
 * label limit applies to ASCII labels: a U-label's limit is on its A-label,
 * which may be shorter than its UTF-8 form. */
static const char *scan_domain(struct scan *s)
{
    const unsigned char *start = s->p;
    for (;;) {
        const unsigned char *label = s->p;
        bool ascii = true, hyphen = false;
        while (s->p < s->end) {
            unsigned c = *s->p;
            if (c >= 0x80) {
                take_nonascii(s);
                ascii = false;
                hyphen = false;
            } else if (is_letdig(c)) {
                s->p++;
                hyphen = false;
            } else if (c == '-') {
                if (s->p == label)
                    return "A domain label starts with a hyphen";
                s->p++;
                hyphen = true;
            } else
                break;
        }
        if (s->p == label) {
            if (label == start)
                return s->p < s->end && (*s->p < 0x20 || *s->p == 0x7F)
                           ? "NUL or control character in the domain"
                           : "Missing or malformed domain";
            return "Empty domain label (a trailing or doubled dot)";
        }
        if (hyphen)
            return "A domain label ends with a hyphen";
        if (ascii && s->p - label > 63)
            return "A domain label is longer than 63 bytes";
        if (!at(s, '.'))
            return NULL;
        s->p++;
    }
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of at most 255. */
static bool ipv4_ok(const char *p, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i == n || p[i] != '.')
                return false;
            i++;
        }
        unsigned v = 0, digits = 0;
        while (i < n && is_digit((unsigned char)p[i]) && digits < 3) {
            v = v * 10 + (unsigned)(p[i] - '0');
            digits++;
            i++;
        }
        if (!digits || v > 255)
            return false;
    }
    return i == n;
}

/* IPv6-addr of RFC 5321 §4.1.3: eight groups of 1-4 hex digits, the last two
 * of which may be an IPv4 address, with at most one "::". Like RFC 4291 (and
 * unlike §4.1.3's IPv6-comp, which wants it to stand for two groups or more),
 * "::" may stand for a single group. */
static bool ipv6_ok(const char *p, size_t n)
{
    size_t i = 0, groups = 0;
    bool compressed = false;
    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        compressed = true;
        i = 2;
        if (i == n)
            return true;
    }
    for (;;) {
        size_t j = i;
        while (j < n && hex_value((unsigned char)p[j]) >= 0)
            j++;
        if (j < n && p[j] == '.') {
            if (!ipv4_ok(p + i, n - i))
                return false;
            groups += 2;
            break;
        }
        if (j == i || j - i > 4)
            return false;
        groups++;
        if (j == n)
            break;
        if (p[j] != ':' || ++j == n)
            return false;
        if (p[j] == ':') {
            if (compressed)
                return false;
            compressed = true;
            if (++j == n)
                break;
        }
        i = j;
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 * General-address-literal ) "]", at s->p. */
static const char *scan_literal(struct scan *s)
{
    const unsigned char *body = ++s->p;
    while (s->p < s->end && *s->p != ']') {
        unsigned c = *s->p;
        /* dcontent = %d33-90 / %d94-126 */
        if (c < 33 || c > 126 || c == '[' || c == '\\')
            return c < 0x20 || c == 0x7F ? "NUL or control character in the address literal"
                                         : "Invalid character in the address literal";
        s->p++;
    }
    if (s->p == s->end)
        return "Unterminated address literal (missing \"]\")";
    const char *b = (const char *)body;
    size_t n = (size_t)(s->p - body);
    s->p++;
    const char *colon = memchr(b, ':', n);
    if (!colon)
        return ipv4_ok(b, n) ? NULL : "Malformed IPv4 address literal";
    /* Standardized-tag = Ldh-str */
    size_t tag = (size_t)(colon - b);
    if (!tag || !is_letdig((unsigned char)b[tag - 1]))
        return "Malformed address literal tag";
    for (size_t i = 0; i < tag; i++)
        if (!is_letdig((unsigned char)b[i]) && b[i] != '-')
            return "Malformed address literal tag";
    if (str_eq_nocase_cstr((struct str){ b, tag }, "IPv6"))
        return ipv6_ok(colon + 1, n - tag - 1) ? NULL : "Malformed IPv6 address literal";
    return n - tag - 1 ? NULL : "Empty general address literal";
}

/* Dot-string = Atom *("." Atom), with UTF-8 atext (RFC 6531). */
static const char *scan_dot_string(struct scan *s)
{
    const unsigned char *start = s->p;
    for (;;) {
        const unsigned char *atom = s->p;
        while (s->p < s->end) {
            if (*s->p >= 0x80)
                take_nonascii(s);
            else if (is_atext(*s->p))
                s->p++;
            else
                break;
        }
        if (s->p == atom) {
            if (atom == start)
                return at(s, '@') || at(s, '>') ? "Missing local part"
                                                : unexpected(s, "Missing local part");
            return "Empty part in the local part (a leading, trailing or doubled dot)";
        }
        if (!at(s, '.'))
            return NULL;
        s->p++;
    }
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE, with UTF-8
 * qtextSMTP (RFC 6531), at s->p. */
static const char *scan_quoted(struct scan *s)
{
    for (s->p++; s->p < s->end;) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return NULL;
        }
        if (c == '\\') {
            if (s->p + 1 == s->end || s->p[1] < 32 || s->p[1] > 126)
                return "Invalid backslash escape in the quoted local part";
            s->p += 2;
        } else if (c >= 0x80)
            take_nonascii(s);
        else if (c < 32 || c == 127)
            return "NUL or control character in the quoted local part";
        else
            s->p++;
    }
    return "Unterminated quoted local part";
}

struct path_scan {
    struct str local, domain; /* point into the argument */
    size_t len;               /* from "<" to ">" inclusive */
    bool null, postmaster, utf8, bad_utf8;
};

/* Path = "<" [ A-d-l ":" ] Mailbox ">" at the start of arg, or "<>" when
 * `reverse`, or "<Postmaster>" when not. Returns NULL, or why the path is
 * malformed. */
static const char *scan_path(struct str arg, bool reverse, struct path_scan *ps)
{
    if (!arg.len)
        return reverse ? "Missing address; syntax: MAIL FROM:<address>"
                       : "Missing address; syntax: RCPT TO:<address>";
    struct scan s = { (const unsigned char *)arg.p, (const unsigned char *)arg.p + arg.len,
                      false, false };
    const unsigned char *start = s.p;
    const char *why;
    memset(ps, 0, sizeof(*ps));
    if (*s.p != '<')
        return "The address must be enclosed in <>";
    s.p++;
    if (at(&s, '>')) {
        if (!reverse)
            return "The null path <> cannot be a recipient";
        ps->null = true;
        s.p++;
        goto done;
    }
    /* A source route: accepted and dropped (RFC 5321 §4.1.2, §C). */
    bool route = at(&s, '@');
    while (at(&s, '@')) {
        s.p++;
        const unsigned char *d = s.p;
        if ((why = scan_domain(&s)))
            return why;
        if (s.p - d > SMTP_DOMAIN_MAX)
            return "A domain in the source route is longer than 255 bytes";
        if (at(&s, ',') && s.p + 1 < s.end && s.p[1] == '@') {
            s.p++;
            continue;
        }
        if (!at(&s, ':'))
            return "Malformed source route";
        s.p++;
        break;
    }
    const unsigned char *local = s.p;
    if ((why = at(&s, '"') ? scan_quoted(&s) : scan_dot_string(&s)))
        return why;
    ps->local = (struct str){ (const char *)local, (size_t)(s.p - local) };
    if (ps->local.len > SMTP_LOCAL_MAX)
        return "The local part is longer than 64 bytes";
    if (at(&s, '>') && !reverse && !route && str_eq_nocase_cstr(ps->local, "Postmaster")) {
        ps->postmaster = true;
        s.p++;
        goto done;
    }
    if (!at(&s, '@'))
        return at(&s, '>') ? "The address needs a domain (local@domain)"
                           : unexpected(&s, "Missing \"@domain>\"");
    s.p++;
    const unsigned char *domain = s.p;
    if ((why = at(&s, '[') ? scan_literal(&s) : scan_domain(&s)))
        return why;
    ps->domain = (struct str){ (const char *)domain, (size_t)(s.p - domain) };
    if (ps->domain.len > SMTP_DOMAIN_MAX)
        return "The domain is longer than 255 bytes";
    if (!at(&s, '>'))
        return unexpected(&s, "Missing \">\" after the address");
    s.p++;
done:
    ps->len = (size_t)(s.p - start);
    if (ps->len > SMTP_PATH_MAX)
        return "The address is longer than 256 bytes";
    ps->utf8 = s.utf8;
    ps->bad_utf8 = s.bad_utf8;
    return NULL;
}

/* Fills *out from a scanned path: strings in the arena. */
static int make_path(struct arena *a, const struct path_scan *ps, struct smtp_path *out,
                     struct smtp_parse_error *err)
{
    out->null = ps->null;
    out->postmaster = ps->postmaster;
    out->utf8 = ps->utf8;
    out->address = out->local = out->domain = "";
    if (ps->null)
        return 0;
    size_t n = ps->local.len + (ps->domain.len ? 1 + ps->domain.len : 0);
    char *addr = arena_alloc(a, n + 1);
    char *local = arena_strndup(a, ps->local.p, ps->local.len);
    char *domain = arena_strndup(a, ps->domain.p ? ps->domain.p : "", ps->domain.len);
    if (!addr || !local || !domain)
        return out_of_memory(err);
    memcpy(addr, ps->local.p, ps->local.len);
    if (ps->domain.len) {
        addr[ps->local.len] = '@';
        memcpy(addr + ps->local.len + 1, ps->domain.p, ps->domain.len);
    }
    addr[n] = '\0';
    out->address = addr;
    out->local = local;
    out->domain = domain;
    return 0;
}

/* xtext (RFC 3461 §4) into the arena: 0, -1 when malformed, -2 when the
 * arena is full. Lower-case hex digits are accepted (RFC 3461 wants upper
 * case); an escape that gives NUL is refused, since the result is a C
 * string. */
static int xtext_decode(struct arena *a, struct str s, char **out)
{
    char *d = arena_alloc(a, s.len + 1);
    if (!d)
        return -2;
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned c = (unsigned char)s.p[i];
        if (c == '+') {
            if (s.len - i < 3)
                return -1;
            int hi = hex_value((unsigned char)s.p[i + 1]);
            int lo = hex_value((unsigned char)s.p[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            d[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c < 33 || c > 126 || c == '=')
            return -1;
        else
            d[n++] = (char)c;
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

char *smtp_xtext_decode(struct arena *a, struct str s)
{
    char *out;
    return xtext_decode(a, s, &out) == 0 ? out : NULL;
}

char *smtp_xtext_encode(struct arena *a, struct str s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s.len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *e = arena_alloc(a, s.len * 3 + 1);
    if (!e)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned c = (unsigned char)s.p[i];
        if (c < 33 || c > 126 || c == '+' || c == '=') {
            e[n++] = '+';
            e[n++] = hex[c >> 4];
            e[n++] = hex[c & 15];
        } else
            e[n++] = (char)c;
    }
    e[n] = '\0';
    return e;
}

/* ESMTP parameters. */

enum param_id { P_SIZE, P_BODY, P_SMTPUTF8, P_RET, P_ENVID, P_REQUIRETLS, P_AUTH, P_NOTIFY,
                P_ORCPT };

static const struct {
    const char *name;
    unsigned ext;    /* any of these bits offers it */
    bool rcpt;       /* a RCPT parameter (else MAIL) */
    bool has_value;  /* KEYWORD=value (else a bare keyword) */
} params[] = {
    [P_SIZE] = { "SIZE", SMTP_EXT_SIZE, false, true },
    [P_BODY] = { "BODY", SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, false, true },
    [P_SMTPUTF8] = { "SMTPUTF8", SMTP_EXT_SMTPUTF8, false, false },
    [P_RET] = { "RET", SMTP_EXT_DSN, false, true },
    [P_ENVID] = { "ENVID", SMTP_EXT_DSN, false, true },
    [P_REQUIRETLS] = { "REQUIRETLS", SMTP_EXT_REQUIRETLS, false, false },
    [P_AUTH] = { "AUTH", SMTP_EXT_AUTH, false, true },
    [P_NOTIFY] = { "NOTIFY", SMTP_EXT_DSN, true, true },
    [P_ORCPT] = { "ORCPT", SMTP_EXT_DSN, true, true },
};

#define ENVID_MAX 100 /* RFC 3461 §4.4, as sent */
#define ORCPT_MAX 500 /* RFC 3461 §4.2, as sent */

static int bad_param(struct smtp_parse_error *err, const char *text)
{
    return fail(err, 501, "5.5.4", text);
}

/* The next parameter of `rest` from *pos on: esmtp-keyword ["=" esmtp-value]
 * (RFC 5321 §4.1.2, with RFC 6531's UTF-8 values). Returns 1 with the
 * parameter identified, 0 at the end, -1 with *err. */
static int next_param(struct str rest, size_t *pos, bool rcpt, unsigned ext, unsigned *seen,
                      enum param_id *id, struct str *value, struct smtp_parse_error *err)
{
    size_t i = *pos;
    while (i < rest.len && rest.p[i] == ' ')
        i++;
    if (i == rest.len)
        return 0;
    size_t j = i;
    while (j < rest.len && rest.p[j] != ' ')
        j++;
    *pos = j;
    struct str key = { rest.p + i, j - i };
    long eq = str_find_char(key, '=');
    bool has_value = eq >= 0;
    if (has_value) {
        *value = (struct str){ key.p + eq + 1, key.len - (size_t)eq - 1 };
        key.len = (size_t)eq;
    } else
        *value = (struct str){ key.p + key.len, 0 };
    if (!key.len || !is_letdig((unsigned char)key.p[0]))
        return bad_param(err, "Malformed parameter; expected KEYWORD or KEYWORD=value");
    for (size_t k = 1; k < key.len; k++)
        if (!is_letdig((unsigned char)key.p[k]) && key.p[k] != '-')
            return bad_param(err, "Malformed parameter keyword");
    if (has_value && !value->len)
        return bad_param(err, "Empty parameter value");
    for (size_t k = 0; k < value->len; k++) {
        unsigned c = (unsigned char)value->p[k];
        if (c < 33 || c == 127)
            return bad_param(err, "NUL or control character in a parameter value");
        if (c == '=')
            return bad_param(err, "\"=\" in a parameter value (xtext encodes it as +3D)");
    }
    size_t n;
    for (n = 0; n < sizeof(params) / sizeof(params[0]); n++)
        if (params[n].rcpt == rcpt && str_eq_nocase_cstr(key, params[n].name))
            break;
    if (n == sizeof(params) / sizeof(params[0]))
        return fail(err, 555, "5.5.4",
                    rcpt ? "Unrecognized RCPT TO parameter" : "Unrecognized MAIL FROM parameter");
    if (!(params[n].ext & ext))
        return fail(err, 555, "5.5.4", "Parameter not supported here (extension not offered)");
    if (*seen & 1u << n)
        return bad_param(err, "Parameter given twice");
    *seen |= 1u << n;
    if (params[n].has_value && !has_value)
        return bad_param(err, "Parameter needs a value (KEYWORD=value)");
    if (!params[n].has_value && has_value)
        return bad_param(err, "Parameter takes no value");
    *id = (enum param_id)n;
    return 1;
}

/* The bytes of s are all in lo..126. */
static bool all_in(const char *s, unsigned lo)
{
    for (; *s; s++)
        if ((unsigned char)*s < lo || (unsigned char)*s > 126)
            return false;
    return true;
}

/* After the path: nothing, or spaces and parameters. */
static int after_path(struct str arg, size_t len, struct str *rest, struct smtp_parse_error *err)
{
    *rest = (struct str){ arg.p + len, arg.len - len };
    if (rest->len && rest->p[0] != ' ')
        return bad_param(err, "Expected a space between the address and its parameters");
    return 0;
}

static int mail_param(struct arena *a, enum param_id id, struct str v, unsigned ext,
                      struct smtp_mail_args *out, struct smtp_parse_error *err)
{
    unsigned long long n;
    char *d = NULL;
    int r;
    switch (id) {
    case P_SIZE:
        if (str_to_u64(v, UINT64_MAX, &n) != 0)
            return bad_param(err, "SIZE needs a decimal number of bytes");
        out->has_size = true;
        out->size = n;
        return 0;
    case P_BODY:
        if (str_eq_nocase_cstr(v, "7BIT"))
            out->body = SMTP_BODY_7BIT;
        else if (str_eq_nocase_cstr(v, "8BITMIME")) {
            if (!(ext & SMTP_EXT_8BITMIME))
                return fail(err, 555, "5.5.4", "BODY=8BITMIME is not supported here");
            out->body = SMTP_BODY_8BITMIME;
        } else if (str_eq_nocase_cstr(v, "BINARYMIME")) {
            if (!(ext & SMTP_EXT_BINARYMIME))
                return fail(err, 555, "5.5.4", "BODY=BINARYMIME is not supported here");
            out->body = SMTP_BODY_BINARYMIME;
        } else
            return bad_param(err, "BODY must be 7BIT, 8BITMIME or BINARYMIME");
        return 0;
    case P_SMTPUTF8:
        out->smtputf8 = true;
        return 0;
    case P_RET:
        if (str_eq_nocase_cstr(v, "FULL"))
            out->ret = SMTP_RET_FULL;
        else if (str_eq_nocase_cstr(v, "HDRS"))
            out->ret = SMTP_RET_HDRS;
        else
            return bad_param(err, "RET must be FULL or HDRS");
        return 0;
    case P_ENVID:
        if (v.len > ENVID_MAX)
            return bad_param(err, "ENVID is longer than 100 characters");
        if ((r = xtext_decode(a, v, &d)) == -2)
            return out_of_memory(err);
        /* RFC 3461 §4.4: printable US-ASCII */
        if (r || !all_in(d, 32))
            return bad_param(err, "ENVID must be xtext of printable ASCII");
        out->envid = d;
        return 0;
    case P_REQUIRETLS:
        out->requiretls = true;
        return 0;
    case P_AUTH:
        if ((r = xtext_decode(a, v, &d)) == -2)
            return out_of_memory(err);
        if (r)
            return bad_param(err, "AUTH= must be xtext or <>");
        for (const char *c = d; *c; c++)
            if ((unsigned char)*c < 32 || *c == 127)
                return bad_param(err, "AUTH= must not encode control characters");
        out->auth = d;
        return 0;
    default:
        return bad_param(err, "Parameter not valid for MAIL FROM");
    }
}

int smtp_parse_mail(struct arena *a, struct str arg, unsigned ext, struct smtp_mail_args *out,
                    struct smtp_parse_error *err)
{
    memset(out, 0, sizeof(*out));
    out->path.address = out->path.local = out->path.domain = "";
    while (arg.len && arg.p[0] == ' ') {
        arg.p++;
        arg.len--;
    }
    struct path_scan ps;
    const char *why = scan_path(arg, true, &ps);
    if (why)
        return fail(err, 501, "5.1.7", why);
    struct str rest;
    if (after_path(arg, ps.len, &rest, err))
        return -1;
    size_t pos = 0;
    unsigned seen = 0;
    enum param_id id;
    struct str v;
    int r;
    while ((r = next_param(rest, &pos, false, ext, &seen, &id, &v, err)) == 1)
        if (mail_param(a, id, v, ext, out, err))
            return -1;
    if (r < 0)
        return -1;
    if (ps.utf8 && !out->smtputf8)
        return fail(err, 553, "5.6.7", "Non-ASCII address without the SMTPUTF8 parameter");
    if (ps.bad_utf8)
        return fail(err, 501, "5.1.7", "The address is not valid UTF-8");
    return make_path(a, &ps, &out->path, err);
}

/* NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ), RFC 3461 §4.1. */
static int parse_notify(struct str v, unsigned *notify)
{
    unsigned bits = 0;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < v.len && v.p[j] != ',')
            j++;
        struct str w = { v.p + i, j - i };
        if (str_eq_nocase_cstr(w, "NEVER"))
            bits |= SMTP_NOTIFY_NEVER;
        else if (str_eq_nocase_cstr(w, "SUCCESS"))
            bits |= SMTP_NOTIFY_SUCCESS;
        else if (str_eq_nocase_cstr(w, "FAILURE"))
            bits |= SMTP_NOTIFY_FAILURE;
        else if (str_eq_nocase_cstr(w, "DELAY"))
            bits |= SMTP_NOTIFY_DELAY;
        else
            return -1;
        if (j == v.len)
            break;
        i = j + 1;
    }
    if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
        return -1;
    *notify = bits;
    return 0;
}

static int rcpt_param(struct arena *a, enum param_id id, struct str v,
                      struct smtp_rcpt_args *out, struct smtp_parse_error *err)
{
    if (id == P_NOTIFY) {
        if (parse_notify(v, &out->notify))
            return bad_param(err, "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
        return 0;
    }
    /* ORCPT=addr-type ";" xtext, addr-type an atom (RFC 3461 §4.2) */
    if (v.len > ORCPT_MAX)
        return bad_param(err, "ORCPT is longer than 500 characters");
    long semi = str_find_char(v, ';');
    if (semi <= 0 || (size_t)semi + 1 == v.len)
        return bad_param(err, "ORCPT must be addr-type;address, e.g. rfc822;user@example.com");
    for (long k = 0; k < semi; k++)
        if (!is_atext((unsigned char)v.p[k]))
            return bad_param(err, "Malformed ORCPT address type");
    char *type = arena_strndup(a, v.p, (size_t)semi), *addr = NULL;
    int r = xtext_decode(a, (struct str){ v.p + semi + 1, v.len - (size_t)semi - 1 }, &addr);
    if (!type || r == -2)
        return out_of_memory(err);
    if (r || !all_in(addr, 32))
        return bad_param(err, "ORCPT's address must be xtext of printable ASCII");
    out->orcpt_type = type;
    out->orcpt = addr;
    return 0;
}

int smtp_parse_rcpt(struct arena *a, struct str arg, unsigned ext, bool smtputf8,
                    struct smtp_rcpt_args *out, struct smtp_parse_error *err)
{
    memset(out, 0, sizeof(*out));
    out->path.address = out->path.local = out->path.domain = "";
    while (arg.len && arg.p[0] == ' ') {
        arg.p++;
        arg.len--;
    }
    struct path_scan ps;
    const char *why = scan_path(arg, false, &ps);
    if (why)
        return fail(err, 501, "5.1.3", why);
    struct str rest;
    if (after_path(arg, ps.len, &rest, err))
        return -1;
    size_t pos = 0;
    unsigned seen = 0;
    enum param_id id;
    struct str v;
    int r;
    while ((r = next_param(rest, &pos, true, ext, &seen, &id, &v, err)) == 1)
        if (rcpt_param(a, id, v, out, err))
            return -1;
    if (r < 0)
        return -1;
    if (ps.utf8 && !smtputf8)
        return fail(err, 553, "5.6.7",
                    "Non-ASCII address, but MAIL FROM did not carry the SMTPUTF8 parameter");
    if (ps.bad_utf8)
        return fail(err, 501, "5.1.3", "The address is not valid UTF-8");
    return make_path(a, &ps, &out->path, err);
}

int smtp_parse_bdat(struct str arg, uint64_t *size, bool *last, struct smtp_parse_error *err)
{
    static const char syntax[] = "Syntax: BDAT <size> [LAST]";
    size_t i = 0, n = arg.len;
    while (i < n && arg.p[i] == ' ')
        i++;
    while (n > i && arg.p[n - 1] == ' ')
        n--;
    size_t d = i;
    while (d < n && is_digit((unsigned char)arg.p[d]))
        d++;
    unsigned long long v;
    if (d == i || (d < n && arg.p[d] != ' '))
        return fail(err, 501, "5.5.4", syntax);
    if (str_to_u64((struct str){ arg.p + i, d - i }, INT64_MAX, &v) != 0)
        return fail(err, 501, "5.5.4", "BDAT chunk size is too large");
    while (d < n && arg.p[d] == ' ')
        d++;
    bool l = false;
    if (d < n) {
        if (!str_eq_nocase_cstr((struct str){ arg.p + d, n - d }, "LAST"))
            return fail(err, 501, "5.5.4", syntax);
        l = true;
    }
    *size = v;
    *last = l;
    return 0;
}

int smtp_parse_helo(struct str arg, struct smtp_parse_error *err)
{
    static const char syntax[] = "Syntax: EHLO <domain or address literal>";
    while (arg.len && arg.p[0] == ' ') {
        arg.p++;
        arg.len--;
    }
    while (arg.len && arg.p[arg.len - 1] == ' ')
        arg.len--;
    if (!arg.len)
        return fail(err, 501, "5.5.4", syntax);
    struct scan s = { (const unsigned char *)arg.p, (const unsigned char *)arg.p + arg.len,
                      false, false };
    const char *why = at(&s, '[') ? scan_literal(&s) : scan_domain(&s);
    if (why)
        return fail(err, 501, "5.5.4", why);
    if (s.p != s.end)
        return fail(err, 501, "5.5.4",
                    *s.p < 0x20 || *s.p == 0x7F ? "NUL or control character in the argument"
                                                : syntax);
    if (arg.len > SMTP_DOMAIN_MAX)
        return fail(err, 501, "5.5.4", "The domain is longer than 255 bytes");
    if (s.bad_utf8)
        return fail(err, 501, "5.5.4", "The domain is not valid UTF-8");
    return 0;
}

/* Commands. */

static const struct {
    const char *name;
    enum smtp_verb verb;
} verbs[] = {
    { "HELO", SMTP_VERB_HELO }, { "EHLO", SMTP_VERB_EHLO },
    { "MAIL", SMTP_VERB_MAIL }, { "RCPT", SMTP_VERB_RCPT },
    { "DATA", SMTP_VERB_DATA }, { "BDAT", SMTP_VERB_BDAT },
    { "RSET", SMTP_VERB_RSET }, { "NOOP", SMTP_VERB_NOOP },
    { "QUIT", SMTP_VERB_QUIT }, { "VRFY", SMTP_VERB_VRFY },
    { "EXPN", SMTP_VERB_EXPN }, { "HELP", SMTP_VERB_HELP },
    { "STARTTLS", SMTP_VERB_STARTTLS }, { "AUTH", SMTP_VERB_AUTH },
};

int smtp_parse_command(struct str line, struct smtp_command *out, struct smtp_parse_error *err)
{
    out->verb = SMTP_VERB_UNKNOWN;
    out->arg = (struct str){ line.p, 0 };
    for (size_t i = 0; i < line.len; i++) {
        unsigned char c = (unsigned char)line.p[i];
        if (c == 0)
            return fail(err, 500, "5.5.2", "NUL byte in the command");
        if (c < 0x20 || c == 0x7F)
            return fail(err, 500, "5.5.2", "Control character in the command");
    }
    size_t v = 0;
    while (v < line.len && line.p[v] != ' ')
        v++;
    struct str name = { line.p, v };
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (str_eq_nocase_cstr(name, verbs[i].name)) {
            out->verb = verbs[i].verb;
            break;
        }
    if (out->verb == SMTP_VERB_UNKNOWN)
        return fail(err, 500, "5.5.1", "Command unrecognized");
    size_t s = v, e = line.len;
    while (s < e && line.p[s] == ' ')
        s++;
    while (e > s && line.p[e - 1] == ' ')
        e--;
    struct str arg = { line.p + s, e - s };
    const char *prefix = out->verb == SMTP_VERB_MAIL ? "FROM:"
                         : out->verb == SMTP_VERB_RCPT ? "TO:"
                                                       : NULL;
    if (prefix) {
        size_t n = strlen(prefix);
        if (!str_starts_with_nocase(arg, prefix))
            return fail(err, 501, "5.5.4",
                        n == 5 ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
        arg.p += n;
        arg.len -= n;
        while (arg.len && arg.p[0] == ' ') {
            arg.p++;
            arg.len--;
        }
    }
    out->arg = arg;
    return 0;
}
