/* DKIM verification (RFC 6376 §6, RFC 8301, RFC 8463). Each signature is
 * read and checked as far as it can be without its key; the keys are looked
 * up together, and each signature is settled when its key arrives. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mailauth/dkim_internal.h"

struct sig {
    struct dkim_verify *v;
    struct dkim_sig_result r;
    bool settled;
    struct dkim_field *field;
    struct dkim_tags tags;
    bool rsa;                 /* a=rsa-sha256 (else ed25519-sha256) */
    enum dkim_canon hc, bc;
    long long l;              /* -1: no l= */
    struct str names[DKIM_MAX_FIELDS / 8];
    int n_names;
    unsigned char bh[32];
    unsigned char *b;
    size_t b_len;
    char qname[600];
    struct str idomain;       /* the domain of i= (or d=) */
};

struct dkim_verify {
    struct str msg;
    time_t now;
    struct dkim_header h;
    struct sig sigs[DKIM_MAX_SIGNATURES];
    int n;
    int ignored;
    int pending;
    dkim_verify_done_fn *done;
    void *ctx;
    struct dkim_sig_result *results; /* for dkim_verify_results */
};

const char *dkim_result_name(enum dkim_result r)
{
    switch (r) {
    case DKIM_NONE: return "none";
    case DKIM_PASS: return "pass";
    case DKIM_FAIL: return "fail";
    case DKIM_NEUTRAL: return "neutral";
    case DKIM_POLICY: return "policy";
    case DKIM_TEMPERROR: return "temperror";
    case DKIM_PERMERROR: return "permerror";
    }
    return "none";
}

static void settle(struct sig *s, enum dkim_result r, const char *reason)
{
    s->r.result = r;
    s->r.reason = r == DKIM_PASS ? NULL : reason;
    s->settled = true;
}

static void copy_str(char *dst, size_t cap, struct str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s.p[i] > 0x20 && (unsigned char)s.p[i] < 0x7f)
            dst[j++] = s.p[i];
    dst[j] = '\0';
}

static bool domain_ok(struct str d)
{
    if (d.len == 0 || d.len > 253 || d.p[0] == '.' || d.p[d.len - 1] == '.')
        return false;
    for (size_t i = 0; i < d.len; i++) {
        char c = d.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
        if (c == '.' && d.p[i + 1] == '.')
            return false;
    }
    return true;
}

/* sub equals dom or ends with "." dom. */
static bool within(struct str sub, struct str dom)
{
    if (sub.len == dom.len)
        return str_eq_nocase(sub, dom);
    if (sub.len < dom.len + 1)
        return false;
    struct str tail = { sub.p + sub.len - dom.len, dom.len };
    return sub.p[sub.len - dom.len - 1] == '.' && str_eq_nocase(tail, dom);
}

static int number(struct str s, unsigned long long max, unsigned long long *out)
{
    if (s.len > 20)
        return -1;
    return str_to_u64(s, max, out);
}

/* Reads one signature field; settles it when it is unusable as written. */
static void read_sig(struct dkim_verify *v, struct sig *s)
{
    const char *err = NULL;
    s->l = -1;
    if (dkim_tags_parse(s->field->value, &s->tags, &err) < 0)
        return settle(s, DKIM_NEUTRAL, "malformed signature (tag list)");
    const struct dkim_tags *t = &s->tags;
    const struct dkim_tag *tv = dkim_tags_get(t, "v"), *ta = dkim_tags_get(t, "a"),
                          *tb = dkim_tags_get(t, "b"), *tbh = dkim_tags_get(t, "bh"),
                          *td = dkim_tags_get(t, "d"), *th = dkim_tags_get(t, "h"),
                          *ts = dkim_tags_get(t, "s"), *tc = dkim_tags_get(t, "c"),
                          *ti = dkim_tags_get(t, "i"), *tl = dkim_tags_get(t, "l"),
                          *tq = dkim_tags_get(t, "q"), *tt = dkim_tags_get(t, "t"),
                          *tx = dkim_tags_get(t, "x");
    if (td)
        copy_str(s->r.domain, sizeof s->r.domain, td->value);
    if (ts)
        copy_str(s->r.selector, sizeof s->r.selector, ts->value);
    if (ta)
        copy_str(s->r.algorithm, sizeof s->r.algorithm, ta->value);
    if (tb)
        copy_str(s->r.b_prefix, sizeof s->r.b_prefix, tb->value);
    if (ti)
        copy_str(s->r.identity, sizeof s->r.identity, ti->value);
    else if (td)
    {
        s->r.identity[0] = '@';
        copy_str(s->r.identity + 1, sizeof s->r.identity - 1, td->value);
    }
    if (!tv || !ta || !tb || !tbh || !td || !th || !ts)
        return settle(s, DKIM_NEUTRAL, "signature lacks a required tag");
    if (!str_eq_cstr(tv->value, "1"))
        return settle(s, DKIM_NEUTRAL, "unsupported signature version");
    if (str_eq_nocase_cstr(ta->value, "rsa-sha1"))
        return settle(s, DKIM_POLICY, "rsa-sha1 is no longer acceptable (RFC 8301)");
    if (str_eq_nocase_cstr(ta->value, "rsa-sha256"))
        s->rsa = true;
    else if (!str_eq_nocase_cstr(ta->value, "ed25519-sha256"))
        return settle(s, DKIM_NEUTRAL, "unknown signing algorithm");
    s->hc = s->bc = DKIM_CANON_SIMPLE;
    if (tc) {
        struct str c = tc->value, hcs = c, bcs = STR_LIT("simple");
        long slash = str_find_char(c, '/');
        if (slash >= 0) {
            hcs = (struct str){ c.p, (size_t)slash };
            bcs = (struct str){ c.p + slash + 1, c.len - (size_t)slash - 1 };
        }
        if (str_eq_cstr(hcs, "relaxed"))
            s->hc = DKIM_CANON_RELAXED;
        else if (!str_eq_cstr(hcs, "simple"))
            return settle(s, DKIM_NEUTRAL, "unknown canonicalization");
        if (str_eq_cstr(bcs, "relaxed"))
            s->bc = DKIM_CANON_RELAXED;
        else if (!str_eq_cstr(bcs, "simple"))
            return settle(s, DKIM_NEUTRAL, "unknown canonicalization");
    }
    if (!domain_ok(td->value) || !domain_ok(ts->value))
        return settle(s, DKIM_NEUTRAL, "bad d= or s=");
    if (tq) {
        /* A colon list of query methods; we know dns/txt. */
        struct str q = tq->value;
        bool found = false;
        for (size_t i = 0; i + 7 <= q.len; i++)
            if (str_starts_with_nocase((struct str){ q.p + i, q.len - i }, "dns/txt"))
                found = true;
        if (!found)
            return settle(s, DKIM_NEUTRAL, "unknown query method");
    }
    unsigned long long num, tval = 0;
    if (tl) {
        if (number(tl->value, LLONG_MAX, &num) < 0)
            return settle(s, DKIM_NEUTRAL, "bad l=");
        s->l = (long long)num;
    }
    if (tt && number(tt->value, 999999999999ULL, &tval) < 0)
        return settle(s, DKIM_NEUTRAL, "bad t=");
    if (tx) {
        if (number(tx->value, 999999999999ULL, &num) < 0)
            return settle(s, DKIM_NEUTRAL, "bad x=");
        if (tt && num < tval)
            return settle(s, DKIM_NEUTRAL, "x= before t=");
        if ((long long)num < (long long)v->now)
            return settle(s, DKIM_FAIL, "signature expired");
    }
    s->idomain = td->value;
    if (ti) {
        long at = -1;
        for (size_t i = 0; i < ti->value.len; i++)
            if (ti->value.p[i] == '@')
                at = (long)i;
        if (at < 0)
            return settle(s, DKIM_NEUTRAL, "bad i=");
        s->idomain = (struct str){ ti->value.p + at + 1, ti->value.len - (size_t)at - 1 };
        if (!within(s->idomain, td->value))
            return settle(s, DKIM_PERMERROR, "i= is not within d=");
    }
    /* h=: colon list; From must be there (§5.4). */
    struct str hl = th->value;
    bool from = false;
    size_t i = 0;
    while (i <= hl.len) {
        size_t j = i;
        while (j < hl.len && hl.p[j] != ':')
            j++;
        struct str n = { hl.p + i, j - i };
        while (n.len && (n.p[0] == ' ' || n.p[0] == '\t' || n.p[0] == '\r' || n.p[0] == '\n')) {
            n.p++;
            n.len--;
        }
        while (n.len && (n.p[n.len - 1] == ' ' || n.p[n.len - 1] == '\t' ||
                         n.p[n.len - 1] == '\r' || n.p[n.len - 1] == '\n'))
            n.len--;
        if (n.len == 0)
            return settle(s, DKIM_NEUTRAL, "bad h=");
        if ((size_t)s->n_names == sizeof s->names / sizeof s->names[0])
            return settle(s, DKIM_NEUTRAL, "h= too long");
        s->names[s->n_names++] = n;
        from |= str_eq_nocase_cstr(n, "from");
        i = j + 1;
    }
    if (!from)
        return settle(s, DKIM_PERMERROR, "From is not signed");
    size_t bh_len = 0;
    unsigned char *bh = dkim_b64_decode(tbh->value, &bh_len);
    if (!bh)
        return settle(s, DKIM_NEUTRAL, "bh= is not base64");
    bool bh_ok = bh_len == 32;
    if (bh_ok)
        memcpy(s->bh, bh, 32);
    free(bh);
    if (!bh_ok)
        return settle(s, DKIM_FAIL, "body hash did not verify");
    s->b = dkim_b64_decode(tb->value, &s->b_len);
    if (!s->b || s->b_len == 0)
        return settle(s, DKIM_NEUTRAL, "b= is not base64");
    snprintf(s->qname, sizeof s->qname, "%.*s._domainkey.%.*s", (int)ts->value.len,
             ts->value.p, (int)td->value.len, td->value.p);
}

struct dkim_verify *dkim_verify_new(struct str msg, time_t now)
{
    struct dkim_verify *v = xcalloc(1, sizeof *v);
    v->msg = msg;
    v->now = now;
    dkim_header_split(msg, &v->h);
    for (int i = 0; i < v->h.n; i++) {
        if (!str_eq_nocase_cstr(v->h.f[i].name, "DKIM-Signature"))
            continue;
        if (v->n == DKIM_MAX_SIGNATURES) {
            v->ignored++;
            continue;
        }
        struct sig *s = &v->sigs[v->n++];
        s->v = v;
        s->field = &v->h.f[i];
        read_sig(v, s);
    }
    return v;
}

static EVP_PKEY *load_public(struct sig *s, const struct dkim_key_record *k)
{
    const unsigned char *p = k->key;
    if (!s->rsa) {
        if (k->key_len != 32)
            return NULL;
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->key, 32);
    }
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)k->key_len);
    if (pkey && (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || p != k->key + k->key_len)) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (!pkey) { /* some publish the bare RSAPublicKey (PKCS#1) */
        p = k->key;
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)k->key_len);
    }
    return pkey;
}

static bool verify_hash(struct sig *s, EVP_PKEY *pkey, const unsigned char hash[32])
{
    bool ok = false;
    if (s->rsa) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
        ok = ctx && EVP_PKEY_verify_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_verify(ctx, s->b, s->b_len, hash, 32) == 1;
        EVP_PKEY_CTX_free(ctx);
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
             EVP_DigestVerify(md, s->b, s->b_len, hash, 32) == 1;
        EVP_MD_CTX_free(md);
    }
    return ok;
}

/* With the key record in hand: checks it, then the body hash, then the
 * signature. */
static void check_with_key(struct sig *s, const struct dkim_key_record *k)
{
    struct dkim_verify *v = s->v;
    s->r.testing = k->testing;
    if (k->revoked)
        return settle(s, DKIM_PERMERROR, "key revoked");
    if ((s->rsa && !k->rsa) || (!s->rsa && !k->ed25519))
        return settle(s, DKIM_PERMERROR, "key type does not match a=");
    if (!k->sha256_ok)
        return settle(s, DKIM_PERMERROR, "key does not allow sha256");
    if (!k->email_ok)
        return settle(s, DKIM_PERMERROR, "key is not for email");
    if (k->strict && !str_eq_nocase(s->idomain, dkim_tags_get(&s->tags, "d")->value))
        return settle(s, DKIM_PERMERROR, "key is strict (t=s) and i= is a subdomain");
    EVP_PKEY *pkey = load_public(s, k);
    if (!pkey)
        return settle(s, DKIM_PERMERROR, "malformed public key");
    s->r.key_bits = EVP_PKEY_get_bits(pkey);
    if (s->rsa && s->r.key_bits < 1024) {
        EVP_PKEY_free(pkey);
        return settle(s, DKIM_PERMERROR, "RSA key under 1024 bits (RFC 8301)");
    }
    unsigned char bh[32];
    long long body_len = 0;
    struct dkim_body_hash *b = dkim_body_hash_new(s->bc, s->l);
    dkim_body_hash_update(b, v->msg.p + v->h.body_off, v->msg.len - v->h.body_off);
    dkim_body_hash_final(b, bh, &body_len);
    dkim_body_hash_free(b);
    if (s->l >= 0 && s->l > body_len) {
        EVP_PKEY_free(pkey);
        return settle(s, DKIM_FAIL, "l= is longer than the body");
    }
    if (CRYPTO_memcmp(bh, s->bh, 32) != 0) {
        EVP_PKEY_free(pkey);
        return settle(s, DKIM_FAIL, "body hash did not verify");
    }
    /* The signature field with b='s value blanked (§3.5): everything from
     * just after "b=" to the end of the value. */
    const struct dkim_tag *tb = dkim_tags_get(&s->tags, "b");
    struct str raw = s->field->raw;
    size_t voff = (size_t)(s->field->value.p - raw.p);
    size_t cut_from = voff + tb->eq_off + 1, cut_to = voff + tb->value_end;
    char *blank = xmalloc(raw.len);
    memcpy(blank, raw.p, cut_from);
    memcpy(blank + cut_from, raw.p + cut_to, raw.len - cut_to);
    struct str sig_field = { blank, raw.len - (cut_to - cut_from) };
    unsigned char hash[32];
    bool ok = dkim_hash_headers(&v->h, s->names, s->n_names, s->hc, sig_field, hash) == 0 &&
              verify_hash(s, pkey, hash);
    free(blank);
    EVP_PKEY_free(pkey);
    settle(s, ok ? DKIM_PASS : DKIM_FAIL, "signature did not verify");
}

static void finish_one(struct dkim_verify *v)
{
    if (--v->pending == 0 && v->done)
        v->done(v->ctx, v);
}

static void key_answer(void *ctx, enum dkim_dns_status status, const char *const *txt,
                       const size_t *lens, int n)
{
    struct sig *s = ctx;
    if (status == DKIM_DNS_TEMPFAIL)
        settle(s, DKIM_TEMPERROR, "key lookup failed");
    else if (status != DKIM_DNS_OK || n <= 0)
        settle(s, DKIM_PERMERROR, "no key for signature");
    else {
        /* The first record that parses as a key record is the key. */
        const char *err = "malformed key record";
        bool found = false;
        for (int i = 0; i < n && !found; i++) {
            struct dkim_key_record k;
            if (dkim_key_record_parse((struct str){ txt[i], lens[i] }, &k, &err) == 0) {
                found = true;
                check_with_key(s, &k);
                dkim_key_record_free(&k);
            }
        }
        if (!found)
            settle(s, DKIM_PERMERROR, err);
    }
    finish_one(s->v);
}

void dkim_verify_start(struct dkim_verify *v, const struct dkim_resolver *res,
                       dkim_verify_done_fn *done, void *ctx)
{
    v->done = done;
    v->ctx = ctx;
    v->pending = 1; /* held until every lookup has started */
    for (int i = 0; i < v->n; i++) {
        if (v->sigs[i].settled)
            continue;
        v->pending++;
        res->lookup_txt(res->ctx, v->sigs[i].qname, key_answer, &v->sigs[i]);
    }
    finish_one(v);
}

const struct dkim_sig_result *dkim_verify_results(const struct dkim_verify *v, int *n_r,
                                                  int *ignored_r)
{
    struct dkim_verify *mv = (struct dkim_verify *)v;
    if (!mv->results && v->n > 0)
        mv->results = xcalloc((size_t)v->n, sizeof *mv->results);
    for (int i = 0; i < v->n; i++)
        mv->results[i] = v->sigs[i].r;
    *n_r = v->n;
    if (ignored_r)
        *ignored_r = v->ignored;
    return mv->results;
}

void dkim_verify_free(struct dkim_verify *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++)
        free(v->sigs[i].b);
    dkim_header_free(&v->h);
    free(v->results);
    free(v);
}

static void sync_done(void *ctx, struct dkim_verify *v)
{
    *(bool *)ctx = true;
}

int dkim_verify_message(struct str msg, time_t now, const struct dkim_resolver *res,
                        struct dkim_sig_result *out, int max)
{
    struct dkim_verify *v = dkim_verify_new(msg, now);
    bool finished = false;
    dkim_verify_start(v, res, sync_done, &finished);
    int n = 0;
    const struct dkim_sig_result *r = dkim_verify_results(v, &n, NULL);
    if (n > max)
        n = max;
    for (int i = 0; i < n; i++) {
        out[i] = r[i];
        if (!finished && r[i].result == DKIM_NONE) {
            out[i].result = DKIM_TEMPERROR;
            out[i].reason = "key lookup did not answer";
        }
    }
    dkim_verify_free(v);
    return n;
}
