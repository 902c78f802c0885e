/* MTA-STS records, policies, matching and the policy's HTTP response (see
 * mtasts.h). */
#include "smtp/mtasts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* sts-ext-name / sts-policy-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT /
 * "_" / "-" / "."). Returns the name's length at s[i], 0 when none, or more
 * than 32 when too long (the caller refuses it). */
static size_t field_name_len(struct str s, size_t i)
{
    if (i >= s.len || !ascii_is_alnum(s.p[i]))
        return 0;
    size_t n = 1;
    while (i + n < s.len &&
           (ascii_is_alnum(s.p[i + n]) || s.p[i + n] == '_' || s.p[i + n] == '-' || s.p[i + n] == '.'))
        n++;
    return n;
}

/* --- TXT record --- */

/* %x21-3A / %x3C / %x3E-7E: visible ASCII but ";" and "=". */
static bool txt_value_char(char c)
{
    return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

static enum mtasts_txt_status txt_invalid(char *id, const char **error_r, const char *why)
{
    id[0] = '\0';
    *error_r = why;
    return MTASTS_TXT_INVALID;
}

enum mtasts_txt_status mtasts_txt_parse(struct str rec, char id[MTASTS_ID_MAX + 1],
                                        const char **error_r)
{
    static const char version[] = "v=STSv1";
    const size_t vlen = sizeof(version) - 1;
    id[0] = '\0';
    if (rec.len < vlen || memcmp(rec.p, version, vlen) != 0 ||
        (rec.len > vlen && rec.p[vlen] != ';' && !is_wsp(rec.p[vlen])))
        return MTASTS_TXT_NONE;

    bool have_id = false;
    size_t i = vlen;
    for (;;) {
        /* sts-field-delim: *WSP ";" *WSP; white space may also end the record. */
        while (i < rec.len && is_wsp(rec.p[i]))
            i++;
        if (i == rec.len)
            break;
        if (rec.p[i] != ';') {
            return txt_invalid(id, error_r, "expected \";\" between fields");
        }
        i++;
        while (i < rec.len && is_wsp(rec.p[i]))
            i++;
        if (i == rec.len)
            break; /* the optional delimiter at the end */
        size_t nlen = field_name_len(rec, i);
        if (nlen == 0 || nlen > 32 || i + nlen >= rec.len || rec.p[i + nlen] != '=') {
            return txt_invalid(id, error_r, "a field is not name=value");
        }
        struct str name = { rec.p + i, nlen };
        i += nlen + 1;
        size_t vstart = i;
        while (i < rec.len && txt_value_char(rec.p[i]))
            i++;
        struct str value = { rec.p + vstart, i - vstart };
        if (value.len == 0) {
            return txt_invalid(id, error_r, "a field has an empty value");
        }
        if (str_eq_cstr(name, "id")) {
            bool ok = value.len <= MTASTS_ID_MAX;
            for (size_t k = 0; ok && k < value.len; k++)
                ok = ascii_is_alnum(value.p[k]);
            if (!ok)
                return txt_invalid(id, error_r, "id is not 1 to 32 letters and digits");
            if (!have_id) { /* §3.2: the first instance wins */
                memcpy(id, value.p, value.len);
                id[value.len] = '\0';
                have_id = true;
            }
        }
        /* Any other field is an extension: ignored (§3.1). */
    }
    if (!have_id)
        return txt_invalid(id, error_r, "no id field");
    return MTASTS_TXT_OK;
}

enum mtasts_txt_status mtasts_txt_select(const char *const *txt, const size_t *lens, int n,
                                         char id[MTASTS_ID_MAX + 1], const char **error_r)
{
    enum mtasts_txt_status found = MTASTS_TXT_NONE;
    const char *found_error = NULL;
    char tmp[MTASTS_ID_MAX + 1];
    int count = 0;
    id[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *err = NULL;
        enum mtasts_txt_status st = mtasts_txt_parse((struct str){ txt[i], lens[i] }, tmp, &err);
        if (st == MTASTS_TXT_NONE)
            continue;
        if (++count == 1) {
            found = st;
            found_error = err;
            memcpy(id, tmp, sizeof(tmp));
        }
    }
    if (count > 1) {
        id[0] = '\0';
        *error_r = "several MTA-STS TXT records";
        return MTASTS_TXT_INVALID;
    }
    if (found == MTASTS_TXT_INVALID) {
        id[0] = '\0';
        *error_r = found_error;
    }
    return found;
}

/* --- Policy --- */

const char *mtasts_mode_name(enum mtasts_mode m)
{
    switch (m) {
    case MTASTS_MODE_ENFORCE:
        return "enforce";
    case MTASTS_MODE_TESTING:
        return "testing";
    case MTASTS_MODE_NONE:
        break;
    }
    return "none";
}

void mtasts_policy_free(struct mtasts_policy *p)
{
    for (int i = 0; i < p->nmx; i++)
        free(p->mx[i]);
    free(p->mx);
    memset(p, 0, sizeof(*p));
}

void mtasts_policy_copy(struct mtasts_policy *dst, const struct mtasts_policy *src)
{
    *dst = *src;
    dst->mx = src->nmx ? xcalloc((size_t)src->nmx, sizeof(char *)) : NULL;
    for (int i = 0; i < src->nmx; i++)
        dst->mx[i] = xstrdup(src->mx[i]);
}

bool mtasts_policy_expired(const struct mtasts_policy *p, long long now)
{
    return now >= p->fetched_at + (long long)p->max_age;
}

/* Checks an mx value (["*."] Domain, RFC 5321's Domain) and returns it
 * lowercase without a trailing dot, or NULL with *why set. */
static char *mx_pattern(struct str v, const char **why)
{
    bool wild = v.len >= 2 && v.p[0] == '*' && v.p[1] == '.';
    struct str d = wild ? (struct str){ v.p + 2, v.len - 2 } : v;
    if (d.len && d.p[d.len - 1] == '.')
        d.len--;
    if (d.len == 0) {
        *why = "mx: no domain name";
        return NULL;
    }
    if (d.len + (wild ? 2 : 0) > MTASTS_PATTERN_MAX) {
        *why = "mx: longer than 253 characters";
        return NULL;
    }
    size_t label = 0;
    for (size_t i = 0; i <= d.len; i++) {
        char c = i < d.len ? d.p[i] : '.';
        if (c == '.') {
            /* Let-dig [Ldh-str]: no empty label, no hyphen at either end. */
            if (label == 0 || label > 63 || d.p[i - label] == '-' || d.p[i - 1] == '-') {
                *why = label > 63 ? "mx: a label longer than 63 characters"
                                  : "mx: not a domain name (empty label or hyphen at an end)";
                return NULL;
            }
            label = 0;
            continue;
        }
        if ((unsigned char)c >= 0x80) {
            *why = "mx: not ASCII (use the A-label form, xn--...)";
            return NULL;
        }
        if (!ascii_is_alnum(c) && c != '-') {
            *why = c == '*' ? "mx: \"*\" is allowed only as \"*.\" at the start"
                            : "mx: not a domain name (letters, digits, hyphens and dots only)";
            return NULL;
        }
        label++;
    }
    char *out = xmalloc(d.len + 3);
    size_t o = 0;
    if (wild) {
        out[o++] = '*';
        out[o++] = '.';
    }
    for (size_t i = 0; i < d.len; i++)
        out[o++] = ascii_lower(d.p[i]);
    out[o] = '\0';
    return out;
}

static int policy_fail(struct mtasts_policy *out, char **error_r, int line, const char *why)
{
    mtasts_policy_free(out);
    *error_r = line ? xasprintf("line %d: %s", line, why) : xstrdup(why);
    return -1;
}

int mtasts_policy_parse(struct str text, struct mtasts_policy *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (text.len > MTASTS_POLICY_MAX)
        return policy_fail(out, error_r, 0, "policy larger than 65536 bytes");
    if (text.len >= 3 && memcmp(text.p, "\xef\xbb\xbf", 3) == 0) {
        text.p += 3;
        text.len -= 3;
    }
    bool seen_version = false, seen_mode = false, seen_max_age = false;
    size_t pos = 0;
    int lineno = 0;
    while (pos < text.len) {
        lineno++;
        const char *lf = memchr(text.p + pos, '\n', text.len - pos);
        size_t end = lf ? (size_t)(lf - text.p) : text.len;
        struct str line = { text.p + pos, end - pos };
        pos = lf ? end + 1 : text.len;
        if (line.len && line.p[line.len - 1] == '\r')
            line.len--;
        while (line.len && is_wsp(line.p[line.len - 1]))
            line.len--;
        if (line.len == 0)
            continue;

        size_t nlen = field_name_len(line, 0);
        if (nlen == 0 || nlen >= line.len || line.p[nlen] != ':')
            return policy_fail(out, error_r, lineno, "expected \"name: value\"");
        if (nlen > 32)
            return policy_fail(out, error_r, lineno, "field name longer than 32 characters");
        struct str name = { line.p, nlen };
        size_t v = nlen + 1;
        while (v < line.len && is_wsp(line.p[v]))
            v++;
        struct str value = { line.p + v, line.len - v };
        if (value.len == 0)
            return policy_fail(out, error_r, lineno, "empty value");
        for (size_t i = 0; i < value.len; i++) {
            unsigned char c = (unsigned char)value.p[i];
            if (c < 0x20 || c == 0x7f)
                return policy_fail(out, error_r, lineno, "control character in a value");
        }

        if (str_eq_cstr(name, "version")) {
            if (!str_eq_cstr(value, "STSv1"))
                return policy_fail(out, error_r, lineno, "version: expected STSv1");
            seen_version = true;
        } else if (str_eq_cstr(name, "mode")) {
            enum mtasts_mode m;
            if (str_eq_cstr(value, "enforce"))
                m = MTASTS_MODE_ENFORCE;
            else if (str_eq_cstr(value, "testing"))
                m = MTASTS_MODE_TESTING;
            else if (str_eq_cstr(value, "none"))
                m = MTASTS_MODE_NONE;
            else
                return policy_fail(out, error_r, lineno,
                                   "mode: expected enforce, testing or none");
            if (!seen_mode)
                out->mode = m;
            seen_mode = true;
        } else if (str_eq_cstr(name, "max_age")) {
            unsigned long long age;
            if (value.len > 10 || str_to_u64(value, 9999999999ULL, &age) < 0)
                return policy_fail(out, error_r, lineno, "max_age: expected 1 to 10 digits");
            if (!seen_max_age)
                out->max_age = age > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX : (uint32_t)age;
            seen_max_age = true;
        } else if (str_eq_cstr(name, "mx")) {
            const char *why = NULL;
            char *pat = mx_pattern(value, &why);
            if (!pat)
                return policy_fail(out, error_r, lineno, why);
            if (out->nmx == MTASTS_MAX_MX) {
                free(pat);
                return policy_fail(out, error_r, lineno, "more than 100 mx patterns");
            }
            out->mx = xrealloc(out->mx, sizeof(char *) * (size_t)(out->nmx + 1));
            out->mx[out->nmx++] = pat;
        }
        /* Any other name is an extension: its syntax is checked above
         * (a name, visible characters), its meaning ignored (§3.2). */
    }
    if (!seen_version)
        return policy_fail(out, error_r, 0, "no version field");
    if (!seen_mode)
        return policy_fail(out, error_r, 0, "no mode field");
    if (!seen_max_age)
        return policy_fail(out, error_r, 0, "no max_age field");
    if (out->mode != MTASTS_MODE_NONE && out->nmx == 0)
        return policy_fail(out, error_r, 0, "no mx field (required unless mode is none)");
    return 0;
}

/* --- Cache text form --- */

int mtasts_policy_serialize(const struct mtasts_policy *p, struct buf *out)
{
    size_t before = out->len;
    int r = buf_printf(out, "outpost-mtasts: 1\nid:%s%s\nfetched_at: %lld\n"
                            "version: STSv1\nmode: %s\nmax_age: %u\n",
                       p->id[0] ? " " : "", p->id, p->fetched_at, mtasts_mode_name(p->mode),
                       (unsigned)p->max_age);
    for (int i = 0; r == 0 && i < p->nmx; i++)
        r = buf_printf(out, "mx: %s\n", p->mx[i]);
    if (r < 0) {
        out->len = before;
        if (out->p)
            out->p[before] = '\0';
    }
    return r;
}

/* Takes one LF-terminated line "key:value" off the front of *text. */
static bool cache_line(struct str *text, const char *key, struct str *value)
{
    const char *lf = memchr(text->p, '\n', text->len);
    size_t klen = strlen(key);
    if (!lf)
        return false;
    struct str line = { text->p, (size_t)(lf - text->p) };
    if (line.len < klen + 1 || memcmp(line.p, key, klen) != 0 || line.p[klen] != ':')
        return false;
    *value = str_trim((struct str){ line.p + klen + 1, line.len - klen - 1 });
    text->p = lf + 1;
    text->len -= line.len + 1;
    return true;
}

int mtasts_policy_deserialize(struct str text, struct mtasts_policy *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    struct str magic, id, fetched;
    unsigned long long at;
    if (!cache_line(&text, "outpost-mtasts", &magic) || !str_eq_cstr(magic, "1")) {
        *error_r = xstrdup("not an MTA-STS cache entry (version 1)");
        return -1;
    }
    if (!cache_line(&text, "id", &id) || id.len > MTASTS_ID_MAX) {
        *error_r = xstrdup("cache entry: bad id line");
        return -1;
    }
    for (size_t i = 0; i < id.len; i++) {
        if (!ascii_is_alnum(id.p[i])) {
            *error_r = xstrdup("cache entry: bad id line");
            return -1;
        }
    }
    if (!cache_line(&text, "fetched_at", &fetched) ||
        str_to_u64(fetched, 1ULL << 62, &at) < 0) {
        *error_r = xstrdup("cache entry: bad fetched_at line");
        return -1;
    }
    if (mtasts_policy_parse(text, out, error_r) < 0)
        return -1;
    memcpy(out->id, id.p, id.len);
    out->id[id.len] = '\0';
    out->fetched_at = (long long)at;
    return 0;
}

/* --- Matching --- */

bool mtasts_pattern_matches(const char *pattern, struct str host)
{
    if (host.len && host.p[host.len - 1] == '.')
        host.len--;
    if (host.len == 0)
        return false;
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* Exactly one more label: host = LABEL + ".rest" with LABEL non-empty
         * and dot-free. */
        struct str rest = str_from_cstr(pattern + 1);
        if (host.len <= rest.len)
            return false;
        size_t label = host.len - rest.len;
        if (memchr(host.p, '.', label))
            return false;
        return str_eq_nocase((struct str){ host.p + label, rest.len }, rest);
    }
    return str_eq_nocase(str_from_cstr(pattern), host);
}

bool mtasts_mx_matches(const struct mtasts_policy *p, struct str host)
{
    for (int i = 0; i < p->nmx; i++)
        if (mtasts_pattern_matches(p->mx[i], host))
            return true;
    return false;
}

bool mtasts_cert_matches_host(X509 *cert, const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    return cert && n && X509_check_host(cert, host, n, MTASTS_X509_HOSTFLAGS, NULL) == 1;
}

/* --- HTTP response --- */

enum {
    H_STATUS = 0,  /* the status line */
    H_FIELDS,      /* header fields up to the empty line */
    B_LENGTH,      /* a body of Content-Length bytes */
    B_EOF,         /* a body that ends with the connection */
    B_CHUNK_SIZE,  /* chunk-size [; ext] */
    B_CHUNK_DATA,
    B_CHUNK_END,   /* the CRLF after a chunk's data */
    B_TRAILER,     /* trailer fields up to the empty line */
    H_FINISHED,    /* DONE or failed: r->final says which */
};

#define CHUNK_LINE_MAX 1024
#define CONTENT_TYPE_MAX 1024

void mtasts_http_reader_init(struct mtasts_http_reader *r)
{
    memset(r, 0, sizeof(*r));
    linereader_init(&r->lr, MTASTS_HTTP_LINE_MAX);
    buf_init(&r->content_type, CONTENT_TYPE_MAX);
    buf_init(&r->body, MTASTS_POLICY_MAX);
}

void mtasts_http_reader_free(struct mtasts_http_reader *r)
{
    linereader_free(&r->lr);
    buf_free(&r->content_type);
    buf_free(&r->body);
}

static enum mtasts_http_status finish(struct mtasts_http_reader *r, enum mtasts_http_status st,
                                      const char *error, const char **error_r)
{
    r->state = H_FINISHED;
    r->final = st;
    r->error = error;
    if (st != MTASTS_HTTP_DONE)
        *error_r = error;
    return st;
}

static bool is_tchar(char c)
{
    return ascii_is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" */
static bool parse_status_line(struct str l, int *status)
{
    if (l.len < 12 || memcmp(l.p, "HTTP/1.", 7) != 0 || !ascii_is_digit(l.p[7]) || l.p[8] != ' ' ||
        l.p[9] < '1' || l.p[9] > '5' || !ascii_is_digit(l.p[10]) || !ascii_is_digit(l.p[11]) ||
        (l.len > 12 && l.p[12] != ' '))
        return false;
    *status = (l.p[9] - '0') * 100 + (l.p[10] - '0') * 10 + (l.p[11] - '0');
    return true;
}

/* One header (or trailer) field line; returns NULL or an error. */
static const char *field_line(struct mtasts_http_reader *r, struct str l, bool trailer)
{
    if (is_wsp(l.p[0]))
        return "folded header line";
    size_t n = 0;
    while (n < l.len && is_tchar(l.p[n]))
        n++;
    if (n == 0 || n == l.len || l.p[n] != ':')
        return "malformed header line";
    if (++r->nfields > MTASTS_HTTP_MAX_FIELDS)
        return "too many header fields";
    struct str name = { l.p, n };
    struct str value = str_trim((struct str){ l.p + n + 1, l.len - n - 1 });
    for (size_t i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return "control character in a header field";
    }
    if (trailer)
        return NULL; /* nothing in a trailer matters to us */
    if (str_eq_nocase_cstr(name, "content-length")) {
        unsigned long long len;
        if (value.len > 18 || str_to_u64(value, 999999999999999999ULL, &len) < 0)
            return "bad Content-Length";
        if (r->has_length && len != r->length)
            return "conflicting Content-Length fields";
        r->has_length = true;
        r->length = len;
    } else if (str_eq_nocase_cstr(name, "transfer-encoding")) {
        /* We send no TE: chunked, once, is the only coding a server may use. */
        if (!str_eq_nocase_cstr(value, "chunked") || r->chunked)
            return "unsupported Transfer-Encoding";
        r->chunked = true;
    } else if (str_eq_nocase_cstr(name, "content-type")) {
        if (r->seen_content_type)
            return "several Content-Type fields";
        r->seen_content_type = true;
        if (buf_append_str(&r->content_type, value) < 0)
            return "Content-Type too long";
    }
    return NULL;
}

/* The empty line after a head: what comes next. */
static enum mtasts_http_status end_of_head(struct mtasts_http_reader *r, const char **error_r)
{
    if (r->status < 200) {
        if (r->status == 101)
            return finish(r, MTASTS_HTTP_ERROR, "unexpected 101 Switching Protocols", error_r);
        /* An interim response: the real one follows. */
        r->state = H_STATUS;
        r->status = 0;
        r->nfields = 0;
        r->has_length = r->chunked = r->seen_content_type = false;
        r->length = 0;
        buf_clear(&r->content_type);
        return MTASTS_HTTP_NEED_MORE;
    }
    if (r->status != 200)
        return finish(r, MTASTS_HTTP_DONE, NULL, error_r);
    if (r->chunked) {
        /* Transfer-Encoding wins over Content-Length (RFC 9112 §6.3). */
        r->state = B_CHUNK_SIZE;
    } else if (r->has_length) {
        if (r->length > MTASTS_POLICY_MAX)
            return finish(r, MTASTS_HTTP_TOO_LARGE, "policy larger than 65536 bytes", error_r);
        if (r->length == 0)
            return finish(r, MTASTS_HTTP_DONE, NULL, error_r);
        r->left = r->length;
        r->state = B_LENGTH;
    } else {
        r->state = B_EOF;
    }
    return MTASTS_HTTP_NEED_MORE;
}

/* chunk-size [ BWS ";" ext ] */
static enum mtasts_http_status chunk_size_line(struct mtasts_http_reader *r, struct str l,
                                               const char **error_r)
{
    if (l.len > CHUNK_LINE_MAX)
        return finish(r, MTASTS_HTTP_ERROR, "chunk size line too long", error_r);
    size_t i = 0;
    unsigned long long size = 0;
    while (i < l.len) {
        char c = l.p[i];
        int d = ascii_is_digit(c) ? c - '0' : (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'f') ? ascii_lower(c) - 'a' + 10 : -1;
        if (d < 0)
            break;
        if (size <= MTASTS_POLICY_MAX) /* saturates: anything past the cap is too large */
            size = size * 16 + (unsigned)d;
        i++;
    }
    size_t digits = i;
    while (i < l.len && is_wsp(l.p[i]))
        i++;
    if (digits == 0 || (i < l.len && l.p[i] != ';'))
        return finish(r, MTASTS_HTTP_ERROR, "bad chunk size", error_r);
    if (size == 0) {
        r->state = B_TRAILER;
        return MTASTS_HTTP_NEED_MORE;
    }
    if (size > MTASTS_POLICY_MAX - r->body.len)
        return finish(r, MTASTS_HTTP_TOO_LARGE, "policy larger than 65536 bytes", error_r);
    r->left = size;
    r->state = B_CHUNK_DATA;
    return MTASTS_HTTP_NEED_MORE;
}

enum mtasts_http_status mtasts_http_read(struct mtasts_http_reader *r, struct str *in,
                                         const char **error_r)
{
    for (;;) {
        if (r->state == H_FINISHED) {
            if (r->final != MTASTS_HTTP_DONE)
                *error_r = r->error;
            return r->final;
        }
        if (r->state == B_LENGTH || r->state == B_EOF || r->state == B_CHUNK_DATA) {
            if (in->len == 0)
                return MTASTS_HTTP_NEED_MORE;
            size_t n = in->len;
            if (r->state != B_EOF && n > r->left)
                n = (size_t)r->left;
            if (buf_append(&r->body, in->p, n) < 0)
                return finish(r, MTASTS_HTTP_TOO_LARGE, "policy larger than 65536 bytes",
                              error_r);
            in->p += n;
            in->len -= n;
            if (r->state == B_EOF)
                continue;
            r->left -= n;
            if (r->left == 0) {
                if (r->state == B_LENGTH)
                    return finish(r, MTASTS_HTTP_DONE, NULL, error_r);
                r->state = B_CHUNK_END;
            }
            continue;
        }

        /* The states that read lines. */
        bool head = r->state == H_STATUS || r->state == H_FIELDS || r->state == B_TRAILER;
        struct str line;
        size_t before = in->len;
        enum line_status ls = linereader_next(&r->lr, in, &line);
        if (head) {
            r->head_bytes += before - in->len;
            if (r->head_bytes > MTASTS_HTTP_HEAD_MAX)
                return finish(r, MTASTS_HTTP_ERROR, "response header too large", error_r);
        }
        if (ls == LINE_NONE)
            return MTASTS_HTTP_NEED_MORE;
        if (ls == LINE_TOO_LONG)
            return finish(r, MTASTS_HTTP_ERROR, "response line too long", error_r);

        const char *err = NULL;
        enum mtasts_http_status st;
        switch (r->state) {
        case H_STATUS:
            if (!parse_status_line(line, &r->status))
                return finish(r, MTASTS_HTTP_ERROR, "not an HTTP/1.x status line", error_r);
            r->state = H_FIELDS;
            break;
        case H_FIELDS:
            if (line.len == 0) {
                st = end_of_head(r, error_r);
                if (st != MTASTS_HTTP_NEED_MORE)
                    return st;
                break;
            }
            if ((err = field_line(r, line, false)))
                return finish(r, MTASTS_HTTP_ERROR, err, error_r);
            break;
        case B_CHUNK_SIZE:
            st = chunk_size_line(r, line, error_r);
            if (st != MTASTS_HTTP_NEED_MORE)
                return st;
            break;
        case B_CHUNK_END:
            if (line.len != 0)
                return finish(r, MTASTS_HTTP_ERROR, "chunk data longer than its size", error_r);
            r->state = B_CHUNK_SIZE;
            break;
        case B_TRAILER:
            if (line.len == 0)
                return finish(r, MTASTS_HTTP_DONE, NULL, error_r);
            if ((err = field_line(r, line, true)))
                return finish(r, MTASTS_HTTP_ERROR, err, error_r);
            break;
        default:
            abort(); /* every other state is handled above */
        }
    }
}

enum mtasts_http_status mtasts_http_eof(struct mtasts_http_reader *r, bool clean,
                                        const char **error_r)
{
    if (r->state == H_FINISHED) {
        if (r->final != MTASTS_HTTP_DONE)
            *error_r = r->error;
        return r->final;
    }
    if (r->state == B_EOF) {
        if (!clean)
            return finish(r, MTASTS_HTTP_ERROR,
                          "connection closed without TLS close_notify: the body may be cut short",
                          error_r);
        return finish(r, MTASTS_HTTP_DONE, NULL, error_r);
    }
    if (r->state == H_STATUS && r->head_bytes == 0)
        return finish(r, MTASTS_HTTP_ERROR, "connection closed without a response", error_r);
    return finish(r, MTASTS_HTTP_ERROR, "connection closed before the response was complete",
                  error_r);
}

bool mtasts_content_type_ok(struct str value)
{
    struct str v = str_trim(value);
    if (v.len < 10 || !str_starts_with_nocase(v, "text/plain"))
        return false;
    size_t i = 10;
    while (i < v.len && is_wsp(v.p[i]))
        i++;
    return i == v.len || v.p[i] == ';';
}
