/* Fuzzes smtp/mtasts, the first byte choosing what (its value mod 5):
 *
 * 0  a policy file: a parsed policy keeps every promise of the header
 *    (mode, max_age, patterns lowercase LDH within the limits, mx present
 *    unless mode none), each pattern matches the hosts it should and not
 *    the ones it should not, and the cache form gives it back exactly;
 * 1  TXT records (one per line): each parse agrees with the record's start
 *    and with the id's syntax, and selection agrees with the parses;
 * 2  an HTTP response, cut into chunks of a size the second byte gives:
 *    the outcome is the same as when fed whole, every byte is taken or left
 *    after a finished response, and a finished one keeps the limits;
 * 3  "pattern\nhost": matching agrees with a reference written differently;
 * 4  a cache entry: one that reads back serializes to itself.
 *
 * Every error is one line. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void check_error(const char *err)
{
    if (!err || !*err || strchr(err, '\n'))
        abort();
}

/* A stored pattern: ["*."] lowercase LDH labels of 1 to 63, no hyphen at
 * either end, at most 253 characters in all. */
static bool valid_pattern(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > MTASTS_PATTERN_MAX)
        return false;
    if (p[0] == '*') {
        if (p[1] != '.')
            return false;
        p += 2;
    }
    const char *label = p;
    for (;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t n = (size_t)(p - label);
            if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
                return false;
            if (*p == '\0')
                return true;
            label = p + 1;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            return false;
        }
    }
}

static bool same_policy(const struct mtasts_policy *a, const struct mtasts_policy *b)
{
    if (a->mode != b->mode || a->max_age != b->max_age || a->nmx != b->nmx ||
        strcmp(a->id, b->id) || a->fetched_at != b->fetched_at)
        return false;
    for (int i = 0; i < a->nmx; i++)
        if (strcmp(a->mx[i], b->mx[i]))
            return false;
    return true;
}

/* Serialize, read back, serialize again: the same policy, the same text. */
static void check_round_trip(const struct mtasts_policy *p)
{
    struct buf t1, t2;
    buf_init(&t1, 0);
    buf_init(&t2, 0);
    if (mtasts_policy_serialize(p, &t1) < 0)
        abort();
    struct mtasts_policy q;
    char *err = NULL;
    if (mtasts_policy_deserialize(buf_str(&t1), &q, &err) < 0)
        abort();
    if (!same_policy(p, &q))
        abort();
    if (mtasts_policy_serialize(&q, &t2) < 0 || t1.len != t2.len || memcmp(t1.p, t2.p, t1.len))
        abort();
    struct mtasts_policy c;
    mtasts_policy_copy(&c, &q);
    if (!same_policy(&c, p))
        abort();
    mtasts_policy_free(&c);
    mtasts_policy_free(&q);
    buf_free(&t1);
    buf_free(&t2);
}

static bool matches(const char *pattern, const char *host)
{
    return mtasts_pattern_matches(pattern, str_from_cstr(host));
}

static void fuzz_policy(const uint8_t *data, size_t size)
{
    struct mtasts_policy p;
    char *err = NULL;
    if (mtasts_policy_parse((struct str){ (const char *)data, size }, &p, &err) < 0) {
        check_error(err);
        if (p.nmx || p.mx)
            abort();
        free(err);
        return;
    }
    if (err || p.mode > MTASTS_MODE_ENFORCE || p.max_age > MTASTS_MAX_AGE_MAX || p.nmx < 0 ||
        p.nmx > MTASTS_MAX_MX || (p.mode != MTASTS_MODE_NONE && p.nmx == 0) || p.id[0] ||
        p.fetched_at)
        abort();
    char host[MTASTS_PATTERN_MAX + 8];
    for (int i = 0; i < p.nmx; i++) {
        const char *pat = p.mx[i];
        if (!valid_pattern(pat))
            abort();
        size_t n = strlen(pat);
        if (pat[0] == '*') {
            /* One more label matches; none, or two more, do not. */
            snprintf(host, sizeof(host), "a%s", pat + 1);
            if (!matches(pat, host) || !mtasts_mx_matches(&p, str_from_cstr(host)))
                abort();
            if (matches(pat, pat + 2))
                abort();
            snprintf(host, sizeof(host), "a.b%s", pat + 1);
            if (matches(pat, host))
                abort();
        } else {
            /* Itself, in capitals, with the root's dot. */
            if (!matches(pat, pat) || !mtasts_mx_matches(&p, str_from_cstr(pat)))
                abort();
            for (size_t k = 0; k <= n; k++)
                host[k] = pat[k] >= 'a' && pat[k] <= 'z' ? (char)(pat[k] - 32) : pat[k];
            if (!matches(pat, host))
                abort();
            snprintf(host, sizeof(host), "%s.", pat);
            if (!matches(pat, host))
                abort();
            snprintf(host, sizeof(host), "x.%s", pat);
            if (matches(pat, host))
                abort();
        }
    }
    /* The cache form, with an id and a time taken from the input. */
    size_t k = 0;
    for (size_t i = 0; i < size && k < MTASTS_ID_MAX; i++)
        if (alnum((char)data[i]))
            p.id[k++] = (char)data[i];
    p.id[k] = '\0';
    p.fetched_at = (long long)(size * 7919);
    check_round_trip(&p);
    mtasts_policy_free(&p);
}

static void fuzz_txt(const uint8_t *data, size_t size)
{
    enum { MAXREC = 8 };
    const char *recs[MAXREC];
    size_t lens[MAXREC];
    int n = 0;
    const char *s = (const char *)data;
    size_t start = 0;
    for (size_t i = 0; i <= size && n < MAXREC; i++) {
        if (i == size || s[i] == '\n') {
            recs[n] = s + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    }
    int sts = 0;
    char first_id[MTASTS_ID_MAX + 1] = "";
    enum mtasts_txt_status first_st = MTASTS_TXT_NONE;
    for (int i = 0; i < n; i++) {
        char id[MTASTS_ID_MAX + 1];
        const char *err = NULL;
        enum mtasts_txt_status st = mtasts_txt_parse((struct str){ recs[i], lens[i] }, id, &err);
        bool is_sts = lens[i] >= 7 && memcmp(recs[i], "v=STSv1", 7) == 0 &&
                      (lens[i] == 7 || recs[i][7] == ';' || recs[i][7] == ' ' ||
                       recs[i][7] == '\t');
        if ((st != MTASTS_TXT_NONE) != is_sts)
            abort();
        if (st == MTASTS_TXT_OK) {
            size_t idlen = strlen(id);
            if (idlen < 1 || idlen > MTASTS_ID_MAX)
                abort();
            for (size_t k = 0; k < idlen; k++)
                if (!alnum(id[k]))
                    abort();
            /* The id appears in the record as "id=<id>". */
            char needle[MTASTS_ID_MAX + 4];
            snprintf(needle, sizeof(needle), "id=%s", id);
            if (!memmem(recs[i], lens[i], needle, strlen(needle)))
                abort();
        } else {
            if (id[0])
                abort();
            if (st == MTASTS_TXT_INVALID)
                check_error(err);
        }
        if (st != MTASTS_TXT_NONE) {
            if (sts++ == 0) {
                first_st = st;
                memcpy(first_id, id, sizeof(id));
            }
        }
    }
    char id[MTASTS_ID_MAX + 1];
    const char *err = NULL;
    enum mtasts_txt_status st = mtasts_txt_select(recs, lens, n, id, &err);
    enum mtasts_txt_status want = sts == 0 ? MTASTS_TXT_NONE
                                  : sts > 1 ? MTASTS_TXT_INVALID
                                            : first_st;
    if (st != want || (st == MTASTS_TXT_OK && strcmp(id, first_id)) ||
        (st != MTASTS_TXT_OK && id[0]))
        abort();
    if (st == MTASTS_TXT_INVALID)
        check_error(err);
}

struct http_outcome {
    enum mtasts_http_status st;
    int status;
    size_t consumed;
    struct buf body, ctype;
    const char *err;
};

static void http_run(const uint8_t *data, size_t size, size_t chunk, int eof,
                     struct http_outcome *o)
{
    struct mtasts_http_reader r;
    mtasts_http_reader_init(&r);
    size_t off = 0;
    o->st = MTASTS_HTTP_NEED_MORE;
    o->err = NULL;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        struct str in = { (const char *)data + off, n };
        size_t before = in.len;
        o->st = mtasts_http_read(&r, &in, &o->err);
        if (in.len > before)
            abort();
        off += n - in.len;
        if (o->st != MTASTS_HTTP_NEED_MORE)
            break;
        if (in.len != 0)
            abort(); /* NEED_MORE takes everything */
    }
    if (o->st == MTASTS_HTTP_NEED_MORE && eof)
        o->st = mtasts_http_eof(&r, eof == 1, &o->err);
    o->consumed = off;
    o->status = r.status;
    buf_init(&o->body, 0);
    buf_init(&o->ctype, 0);
    if (o->st == MTASTS_HTTP_DONE) {
        if (r.status < 200 || r.status > 599 || r.body.len > MTASTS_POLICY_MAX ||
            (r.status != 200 && r.body.len) || r.content_type.len > 1024)
            abort();
        buf_append_str(&o->body, buf_str(&r.body));
        buf_append_str(&o->ctype, buf_str(&r.content_type));
        /* Finished: it takes nothing more and says the same. */
        struct str more = { "x", 1 };
        const char *e2 = NULL;
        if (mtasts_http_read(&r, &more, &e2) != MTASTS_HTTP_DONE || more.len != 1)
            abort();
    } else if (o->st != MTASTS_HTTP_NEED_MORE) {
        check_error(o->err);
    }
    mtasts_http_reader_free(&r);
}

static void fuzz_http(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t chunk = 1 + data[0] % 61;
    int eof = data[0] / 61 % 3; /* none, clean, dirty */
    data++;
    size--;
    struct http_outcome a, b;
    http_run(data, size, chunk, eof, &a);
    http_run(data, size, size ? size : 1, eof, &b);
    if (a.st != b.st || (a.st != MTASTS_HTTP_NEED_MORE && a.consumed != b.consumed))
        abort();
    if (a.st == MTASTS_HTTP_DONE &&
        (a.status != b.status || !str_eq(buf_str(&a.body), buf_str(&b.body)) ||
         !str_eq(buf_str(&a.ctype), buf_str(&b.ctype))))
        abort();
    if (a.st != MTASTS_HTTP_DONE && a.st != MTASTS_HTTP_NEED_MORE && strcmp(a.err, b.err))
        abort();
    (void)mtasts_content_type_ok(buf_str(&a.ctype));
    buf_free(&a.body);
    buf_free(&a.ctype);
    buf_free(&b.body);
    buf_free(&b.ctype);
}

static bool ref_eq_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];
        if (x != y)
            return false;
    }
    return true;
}

/* The matcher, written another way: split the host at its first dot. */
static bool ref_match(const char *pattern, const char *host, size_t hlen)
{
    if (hlen && host[hlen - 1] == '.')
        hlen--;
    if (hlen == 0)
        return false;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = memchr(host, '.', hlen);
        if (!dot || dot == host)
            return false;
        size_t rest = hlen - (size_t)(dot - host) - 1;
        return ref_eq_nocase(dot + 1, rest, pattern + 2, strlen(pattern + 2));
    }
    return ref_eq_nocase(host, hlen, pattern, strlen(pattern));
}

static void fuzz_match(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    if (!nl)
        return;
    struct buf pol;
    buf_init(&pol, 0);
    buf_append_cstr(&pol, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: ");
    buf_append(&pol, s, (size_t)(nl - s));
    struct mtasts_policy p;
    char *err = NULL;
    if (mtasts_policy_parse(buf_str(&pol), &p, &err) == 0) {
        if (p.nmx != 1)
            abort();
        struct str host = { nl + 1, size - (size_t)(nl - s) - 1 };
        bool m = mtasts_pattern_matches(p.mx[0], host);
        if (m != ref_match(p.mx[0], host.p, host.len) || m != mtasts_mx_matches(&p, host))
            abort();
        mtasts_policy_free(&p);
    } else {
        check_error(err);
        free(err);
    }
    buf_free(&pol);
}

static void fuzz_cache(const uint8_t *data, size_t size)
{
    struct mtasts_policy p;
    char *err = NULL;
    if (mtasts_policy_deserialize((struct str){ (const char *)data, size }, &p, &err) < 0) {
        check_error(err);
        free(err);
        return;
    }
    check_round_trip(&p);
    mtasts_policy_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t what = data[0] % 5;
    data++;
    size--;
    switch (what) {
    case 0:
        fuzz_policy(data, size);
        break;
    case 1:
        fuzz_txt(data, size);
        break;
    case 2:
        fuzz_http(data, size);
        break;
    case 3:
        fuzz_match(data, size);
        break;
    default:
        fuzz_cache(data, size);
        break;
    }
    return 0;
}
