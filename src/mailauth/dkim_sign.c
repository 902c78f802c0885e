/* DKIM keys and signing (RFC 6376 §5, RFC 8463). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mailauth/dkim_internal.h"

static const char *const default_headers[] = {
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "Reply-To", "In-Reply-To", "References", "Sender",
    "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Post", "List-Help",
    "List-Subscribe", "List-Owner", "List-Archive", "Autocrypt", NULL,
};

static const char *const oversign_headers[] = {
    "From", "To", "Subject", "Date", "Message-ID", "Reply-To", "Cc", "Content-Type",
    "MIME-Version", NULL,
};

const char *const *dkim_sign_default_headers(void)
{
    return default_headers;
}

const char *const *dkim_sign_oversign_headers(void)
{
    return oversign_headers;
}

int dkim_keygen(enum dkim_key_type type, int bits, char **pem_r, char **txt_r,
                const char **error_r)
{
    EVP_PKEY *pkey = type == DKIM_KEY_RSA
                         ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(bits > 0 ? bits : 2048))
                         : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey) {
        *error_r = "key generation failed";
        return -1;
    }
    int rc = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    unsigned char raw[32];
    size_t raw_len = sizeof raw;
    char *b64 = NULL;
    if (!bio || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        *error_r = "writing the private key failed";
        goto out;
    }
    if (type == DKIM_KEY_RSA) {
        int n = i2d_PUBKEY(pkey, &der);
        if (n <= 0) {
            *error_r = "encoding the public key failed";
            goto out;
        }
        b64 = dkim_b64_encode(der, (size_t)n);
    } else {
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 || raw_len != 32) {
            *error_r = "encoding the public key failed";
            goto out;
        }
        b64 = dkim_b64_encode(raw, raw_len);
    }
    char *mem = NULL;
    long len = BIO_get_mem_data(bio, &mem);
    *pem_r = xstrndup(mem, (size_t)len);
    *txt_r = xasprintf("v=DKIM1; k=%s; p=%s", type == DKIM_KEY_RSA ? "rsa" : "ed25519", b64);
    rc = 0;
out:
    free(b64);
    OPENSSL_free(der);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return rc;
}

struct dkim_key *dkim_key_load(const char *pem, size_t len, bool allow_short,
                               const char **error_r)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!pkey) {
        *error_r = "not a PEM private key";
        return NULL;
    }
    struct dkim_key *k = xcalloc(1, sizeof *k);
    k->pkey = pkey;
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        k->type = DKIM_KEY_RSA;
        if (EVP_PKEY_get_bits(pkey) < 1024 && !allow_short) {
            *error_r = "RSA key under 1024 bits (RFC 8301)";
            dkim_key_free(k);
            return NULL;
        }
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        k->type = DKIM_KEY_ED25519;
    } else {
        *error_r = "neither an RSA nor an Ed25519 key";
        dkim_key_free(k);
        return NULL;
    }
    return k;
}

enum dkim_key_type dkim_key_type(const struct dkim_key *k)
{
    return k->type;
}

void dkim_key_free(struct dkim_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

/* Signs the 32-byte SHA-256 of the header data: RSASSA-PKCS1-v1_5 with a
 * SHA-256 DigestInfo, or PureEd25519 over the hash (RFC 8463 §3). */
static unsigned char *sign_hash(const struct dkim_key *k, const unsigned char hash[32],
                                size_t *len_r)
{
    unsigned char *sig = NULL;
    size_t len = 0;
    bool ok = false;
    if (k->type == DKIM_KEY_RSA) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
        if (ctx && EVP_PKEY_sign_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
            EVP_PKEY_sign(ctx, NULL, &len, hash, 32) == 1) {
            sig = xmalloc(len);
            ok = EVP_PKEY_sign(ctx, sig, &len, hash, 32) == 1;
        }
        EVP_PKEY_CTX_free(ctx);
    } else {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
            EVP_DigestSign(md, NULL, &len, hash, 32) == 1) {
            sig = xmalloc(len);
            ok = EVP_DigestSign(md, sig, &len, hash, 32) == 1;
        }
        EVP_MD_CTX_free(md);
    }
    if (!ok) {
        free(sig);
        return NULL;
    }
    *len_r = len;
    return sig;
}

/* Appends text to the field being built, folding before it when the line
 * would pass 76 columns. */
static void add(struct buf *out, size_t *col, const char *text, bool may_fold)
{
    size_t n = strlen(text);
    if (may_fold && *col > 1 && *col + n > 76) {
        buf_append_cstr(out, "\r\n\t");
        *col = 8;
        if (text[0] == ' ') {
            text++;
            n--;
        }
    }
    buf_append(out, text, n);
    *col += n;
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

int dkim_sign_header(const struct dkim_key *key, const struct dkim_sign_params *p,
                     struct str header, const unsigned char body_hash[32], struct buf *out,
                     const char **error_r)
{
    if (!p->domain || !valid_name(p->domain, 253) || !p->selector ||
        !valid_name(p->selector, 253)) {
        *error_r = "bad domain or selector";
        return -1;
    }
    if (p->identity) {
        for (const char *c = p->identity; *c; c++) {
            if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == ';') {
                *error_r = "bad identity";
                return -1;
            }
        }
    }
    struct dkim_header h;
    dkim_header_split(header, &h);
    const char *const *names = p->headers ? p->headers : default_headers;
    const char *const *over = p->oversign ? p->oversign : oversign_headers;

    /* h=: each name as often as present, oversigned ones once more. */
    struct str list[256];
    int nl = 0;
    for (int i = 0; names[i] && nl < 255; i++) {
        int count = 0;
        for (int j = 0; j < h.n; j++)
            if (str_eq_nocase_cstr(h.f[j].name, names[i]))
                count++;
        for (int j = 0; over[j]; j++)
            if (strcasecmp(over[j], names[i]) == 0) {
                count++;
                break;
            }
        for (int c = 0; c < count && nl < 255; c++)
            list[nl++] = str_from_cstr(names[i]);
    }
    bool has_from = false;
    for (int i = 0; i < nl; i++)
        has_from |= str_eq_nocase_cstr(list[i], "from");
    if (!has_from) /* §5.4: From must always be signed */
        list[nl++] = STR_LIT("From");

    struct buf f;
    buf_init(&f, 0);
    size_t col = 0;
    char tmp[600];
    add(&f, &col, "DKIM-Signature: v=1;", false);
    snprintf(tmp, sizeof tmp, " a=%s;",
             key->type == DKIM_KEY_RSA ? "rsa-sha256" : "ed25519-sha256");
    add(&f, &col, tmp, true);
    add(&f, &col, " c=relaxed/relaxed;", true);
    snprintf(tmp, sizeof tmp, " d=%s;", p->domain);
    add(&f, &col, tmp, true);
    snprintf(tmp, sizeof tmp, " s=%s;", p->selector);
    add(&f, &col, tmp, true);
    if (p->identity) {
        snprintf(tmp, sizeof tmp, " i=%.500s;", p->identity);
        add(&f, &col, tmp, true);
    }
    if (p->timestamp > 0) {
        snprintf(tmp, sizeof tmp, " t=%lld;", (long long)p->timestamp);
        add(&f, &col, tmp, true);
    }
    if (p->expire_after > 0) {
        long long base = p->timestamp > 0 ? (long long)p->timestamp : (long long)p->now;
        snprintf(tmp, sizeof tmp, " x=%lld;", base + p->expire_after);
        add(&f, &col, tmp, true);
    }
    for (int i = 0; i < nl; i++) {
        snprintf(tmp, sizeof tmp, "%s%.*s%s", i == 0 ? " h=" : "", (int)list[i].len,
                 list[i].p, i + 1 < nl ? ":" : ";");
        for (char *c = tmp; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        add(&f, &col, tmp, true);
    }
    char *bh = dkim_b64_encode(body_hash, 32);
    snprintf(tmp, sizeof tmp, " bh=%s;", bh);
    free(bh);
    add(&f, &col, tmp, true);
    add(&f, &col, " b=", true);

    unsigned char hash[32];
    size_t sig_len = 0;
    unsigned char *sig = NULL;
    int rc = -1;
    if (dkim_hash_headers(&h, list, nl, DKIM_CANON_RELAXED, buf_str(&f), hash) < 0 ||
        !(sig = sign_hash(key, hash, &sig_len))) {
        *error_r = "signing failed";
        goto out;
    }
    char *b = dkim_b64_encode(sig, sig_len);
    /* b= folded: the rest of this line, then lines of 72. */
    size_t blen = strlen(b), off = 0;
    while (off < blen) {
        size_t room = col < 76 ? 76 - col : 0;
        if (room < 8) {
            buf_append_cstr(&f, "\r\n\t");
            col = 8;
            room = 68;
        }
        size_t n = blen - off < room ? blen - off : room;
        buf_append(&f, b + off, n);
        col += n;
        off += n;
    }
    free(b);
    buf_append_cstr(&f, "\r\n");
    buf_append_str(out, buf_str(&f));
    rc = 0;
out:
    free(sig);
    buf_free(&f);
    dkim_header_free(&h);
    return rc;
}

int dkim_sign(const struct dkim_key *key, const struct dkim_sign_params *p, struct str msg,
              struct buf *out, const char **error_r)
{
    struct dkim_header h;
    dkim_header_split(msg, &h);
    size_t body_off = h.body_off;
    dkim_header_free(&h);
    unsigned char bh[32];
    struct dkim_body_hash *b = dkim_body_hash_new(DKIM_CANON_RELAXED, -1);
    dkim_body_hash_update(b, msg.p + body_off, msg.len - body_off);
    dkim_body_hash_final(b, bh, NULL);
    dkim_body_hash_free(b);
    return dkim_sign_header(key, p, (struct str){ msg.p, body_off }, bh, out, error_r);
}
