#include "auth/sasl.h"
#include "auth/sasl_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

/* SASL's limit for a user name (and an authorization identity), in bytes. */
#define NAME_MAX_LEN 255
/* Longest SCRAM message we take. A real one is well under 1 KiB: the
 * longest parts are two names of up to 255 bytes, possibly escaped. */
#define SCRAM_MSG_MAX 4096
/* The server's half of the nonce: 24 random bytes, 32 characters of base64. */
#define SERVER_NONCE_BYTES 24
#define TEST_NONCE_MAX 64

/* Why an exchange fails, for the log. */
#define R_ORDER "SASL step out of order"
#define R_NO_CB "SCRAM-SHA-256-PLUS without TLS 1.3 channel binding"
#define R_PLAIN "malformed PLAIN response"
#define R_EMPTY_USER "empty user name"
#define R_EMPTY_PASS "empty password"
#define R_LONG_USER "user name too long"
#define R_LONG_PASS "password too long"
#define R_NUL_USER "NUL in user name"
#define R_NUL_PASS "NUL in password"
#define R_UTF8_USER "user name is not UTF-8"
#define R_WRONG "wrong password"
#define R_TOO_LONG "SCRAM message too long"
#define R_FIRST "malformed client-first-message"
#define R_FINAL "malformed client-final-message"
#define R_MEXT "unsupported mandatory SCRAM extension"
#define R_CB_TYPE "unsupported channel binding type"
#define R_CB_NOT_PLUS "channel binding requested with SCRAM-SHA-256 (not -PLUS)"
#define R_PLUS_NO_CB "SCRAM-SHA-256-PLUS without channel binding"
#define R_DOWNGRADE "channel binding downgrade (client sent y while -PLUS is offered)"
#define R_GS2 "GS2 header mismatch in client-final-message"
#define R_CB "channel binding mismatch"
#define R_NONCE "nonce mismatch"

enum state {
    ST_START,          /* nothing received */
    ST_FIRST,          /* empty challenge sent; waiting for PLAIN's response,
                          LOGIN's user name or SCRAM's client-first-message */
    ST_LOGIN_PASSWORD, /* "Password:" sent */
    ST_CHECK_PASSWORD, /* SASL_CHECK_PASSWORD returned */
    ST_NEED_SCRAM,     /* SASL_NEED_SCRAM returned */
    ST_SCRAM_FINAL,    /* server-first-message sent */
    ST_DONE,           /* succeeded or failed: every further call fails */
};

struct sasl {
    enum sasl_mech mech;
    enum state state;
    bool has_cb;
    struct sasl_channel_binding cb;
    unsigned char secret[32];

    bool has_authcid;
    char authcid[NAME_MAX_LEN + 1];
    char authzid[NAME_MAX_LEN + 1]; /* "" when none */
    char password[AUTH_PASSWORD_MAX + 1];
    size_t password_len;

    /* SCRAM */
    char cbind_flag;             /* 'n', 'y' or 'p' */
    struct buf gs2_header;       /* "n,," ... as the client sent it */
    struct buf first_bare;       /* client-first-message-bare */
    struct buf server_first;     /* server-first-message */
    struct buf nonce;            /* client nonce, then client + server nonce */
    char test_nonce[TEST_NONCE_MAX + 1];
    bool fake;                   /* unknown user: the proof can never pass */
    unsigned char salt[AUTH_SCRAM_SALT_LEN];
    unsigned iterations;
    unsigned char stored_key[AUTH_SCRAM_KEY_LEN];
    unsigned char server_key[AUTH_SCRAM_KEY_LEN];
};

static const char *const mech_names[] = {
    [SASL_MECH_PLAIN] = "PLAIN",
    [SASL_MECH_LOGIN] = "LOGIN",
    [SASL_MECH_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [SASL_MECH_SCRAM_SHA_256_PLUS] = "SCRAM-SHA-256-PLUS",
};

int sasl_mech_parse(struct str name, enum sasl_mech *out)
{
    for (size_t i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
        if (str_eq_nocase_cstr(name, mech_names[i])) {
            *out = (enum sasl_mech)i;
            return 0;
        }
    return -1;
}

const char *sasl_mech_name(enum sasl_mech mech)
{
    if ((unsigned)mech >= sizeof(mech_names) / sizeof(mech_names[0]))
        return "?";
    return mech_names[mech];
}

static bool is_scram(const struct sasl *s)
{
    return s->mech == SASL_MECH_SCRAM_SHA_256 || s->mech == SASL_MECH_SCRAM_SHA_256_PLUS;
}

struct sasl *sasl_new(enum sasl_mech mech, const struct sasl_channel_binding *cb,
                      const unsigned char secret[32])
{
    struct sasl *s = xcalloc(1, sizeof(*s));
    s->mech = mech;
    s->state = ST_START;
    if (cb) {
        s->has_cb = true;
        s->cb = *cb;
    }
    if (secret)
        memcpy(s->secret, secret, sizeof(s->secret));
    else
        randombytes_buf(s->secret, sizeof(s->secret));
    buf_init(&s->gs2_header, SCRAM_MSG_MAX);
    buf_init(&s->first_bare, SCRAM_MSG_MAX);
    buf_init(&s->server_first, 2 * SCRAM_MSG_MAX);
    buf_init(&s->nonce, SCRAM_MSG_MAX + TEST_NONCE_MAX);
    return s;
}

static void wipe_buf(struct buf *b)
{
    if (b->p)
        auth_wipe(b->p, b->cap);
    buf_free(b);
}

void sasl_free(struct sasl *s)
{
    if (!s)
        return;
    wipe_buf(&s->gs2_header);
    wipe_buf(&s->first_bare);
    wipe_buf(&s->server_first);
    wipe_buf(&s->nonce);
    auth_wipe(s, sizeof(*s));
    free(s);
}

void sasl_test_set_nonce(struct sasl *s, const char *suffix)
{
    s->test_nonce[0] = '\0';
    if (!suffix)
        return;
    size_t n = strlen(suffix);
    if (n == 0 || n > TEST_NONCE_MAX)
        return;
    for (size_t i = 0; i < n; i++)
        if (suffix[i] < 0x21 || suffix[i] > 0x7e || suffix[i] == ',')
            return;
    memcpy(s->test_nonce, suffix, n + 1);
}

const char *sasl_authcid(const struct sasl *s)
{
    return s->has_authcid ? s->authcid : NULL;
}

const char *sasl_authzid(const struct sasl *s)
{
    return s->authzid[0] ? s->authzid : NULL;
}

struct str sasl_password(const struct sasl *s)
{
    if (s->password_len == 0)
        return STR_NULL;
    return (struct str){ s->password, s->password_len };
}

static enum sasl_status fail(struct sasl *s, const char **reason_r, const char *reason)
{
    s->state = ST_DONE;
    if (reason_r)
        *reason_r = reason;
    return SASL_FAILURE;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static bool utf8_valid(const char *p, size_t len)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        unsigned char b = c[i];
        size_t n;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            n = 1;
            cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 2;
            cp = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 3;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((c[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (c[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Checks a user name (authcid, or an authzid when `may_be_empty`) and copies
 * it NUL-terminated into out (NAME_MAX_LEN + 1 bytes). Returns NULL or the
 * reason. */
static const char *take_name(struct str name, bool may_be_empty, char *out)
{
    if (name.len == 0 && !may_be_empty)
        return R_EMPTY_USER;
    if (name.len > NAME_MAX_LEN)
        return R_LONG_USER;
    if (name.len && memchr(name.p, '\0', name.len))
        return R_NUL_USER;
    if (!utf8_valid(name.p, name.len))
        return R_UTF8_USER;
    if (name.len)
        memcpy(out, name.p, name.len);
    out[name.len] = '\0';
    return NULL;
}

/* Checks a password and keeps it. Returns NULL or the reason. */
static const char *take_password(struct sasl *s, struct str pw)
{
    if (pw.len == 0)
        return R_EMPTY_PASS;
    if (pw.len > AUTH_PASSWORD_MAX)
        return R_LONG_PASS;
    if (memchr(pw.p, '\0', pw.len))
        return R_NUL_PASS;
    memcpy(s->password, pw.p, pw.len);
    s->password[pw.len] = '\0';
    s->password_len = pw.len;
    return NULL;
}

/* ---- PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd ---- */

static enum sasl_status plain_response(struct sasl *s, struct str in, const char **reason_r)
{
    const char *nul1 = in.len ? memchr(in.p, '\0', in.len) : NULL;
    if (!nul1)
        return fail(s, reason_r, R_PLAIN);
    const char *end = in.p + in.len;
    const char *nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
    if (!nul2 || memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)))
        return fail(s, reason_r, R_PLAIN);
    struct str authzid = { in.p, (size_t)(nul1 - in.p) };
    struct str authcid = { nul1 + 1, (size_t)(nul2 - nul1 - 1) };
    struct str passwd = { nul2 + 1, (size_t)(end - nul2 - 1) };
    const char *why = take_name(authcid, false, s->authcid);
    if (!why)
        why = take_name(authzid, true, s->authzid);
    if (why) {
        s->authzid[0] = '\0';
        return fail(s, reason_r, why);
    }
    s->has_authcid = true;
    if ((why = take_password(s, passwd)))
        return fail(s, reason_r, why);
    s->state = ST_CHECK_PASSWORD;
    return SASL_CHECK_PASSWORD;
}

/* ---- LOGIN: "Username:", "Password:" ---- */

static enum sasl_status login_user(struct sasl *s, struct str in, struct buf *out,
                                   const char **reason_r)
{
    const char *why = take_name(in, false, s->authcid);
    if (why)
        return fail(s, reason_r, why);
    s->has_authcid = true;
    s->state = ST_LOGIN_PASSWORD;
    buf_append_cstr(out, "Password:");
    return SASL_CHALLENGE;
}

static enum sasl_status login_password(struct sasl *s, struct str in, const char **reason_r)
{
    const char *why = take_password(s, in);
    if (why)
        return fail(s, reason_r, why);
    s->state = ST_CHECK_PASSWORD;
    return SASL_CHECK_PASSWORD;
}

/* ---- SCRAM-SHA-256 (RFC 5802, RFC 7677) and -PLUS (RFC 9266) ---- */

/* Takes the next comma-separated field off *rest. Returns false when *rest
 * is used up (a trailing comma leaves one empty field, which is taken). */
static bool next_field(struct str *rest, struct str *field, bool *more)
{
    if (!*more)
        return false;
    long comma = str_find_char(*rest, ',');
    if (comma < 0) {
        *field = *rest;
        rest->p += rest->len;
        rest->len = 0;
        *more = false;
    } else {
        *field = (struct str){ rest->p, (size_t)comma };
        rest->p += comma + 1;
        rest->len -= (size_t)comma + 1;
    }
    return true;
}

static bool attr_is(struct str field, char name)
{
    return field.len >= 2 && field.p[0] == name && field.p[1] == '=';
}

static struct str attr_value(struct str field)
{
    return (struct str){ field.p + 2, field.len - 2 };
}

/* saslname (RFC 5802 §7): 1*(value-safe-char / "=2C" / "=3D"), decoded into
 * out (NAME_MAX_LEN + 1 bytes). Returns NULL or a reason. The field holds no
 * ',' (it was split there) and no NUL (the message was checked). */
static const char *saslname_decode(struct str v, char *out, const char *malformed)
{
    if (v.len == 0)
        return malformed;
    char tmp[NAME_MAX_LEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (c == '=') {
            if (v.len - i < 3)
                return malformed;
            struct str esc = { v.p + i + 1, 2 };
            if (str_eq_nocase_cstr(esc, "2C"))
                c = ',';
            else if (str_eq_nocase_cstr(esc, "3D"))
                c = '=';
            else
                return malformed;
            i += 2;
        }
        if (n == NAME_MAX_LEN)
            return R_LONG_USER;
        tmp[n++] = c;
    }
    const char *why = take_name((struct str){ tmp, n }, false, out);
    auth_wipe(tmp, sizeof(tmp));
    return why;
}

/* printable = %x21-2B / %x2D-7E: the nonce's characters. */
static bool nonce_valid(struct str v)
{
    if (v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c < 0x21 || c > 0x7e || c == ',')
            return false;
    }
    return true;
}

/* An extension (attr-val = ALPHA "=" value): allowed where RFC 5802 allows
 * extensions and ignored, unless its letter is one SCRAM defines (a repeated
 * or misplaced attribute is an error, not an extension). */
static bool extension_valid(struct str field)
{
    if (field.len < 3 || field.p[1] != '=')
        return false;
    char c = field.p[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return false;
    return strchr("aceimnprsv", c) == NULL;
}

/* cb-name = 1*(ALPHA / DIGIT / "." / "-") */
static bool cb_name_valid(struct str v)
{
    if (v.len == 0)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

static enum sasl_status scram_first(struct sasl *s, struct str in, const char **reason_r)
{
    if (in.len > SCRAM_MSG_MAX)
        return fail(s, reason_r, R_TOO_LONG);
    if (in.len == 0 || memchr(in.p, '\0', in.len))
        return fail(s, reason_r, R_FIRST);

    /* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
    struct str rest = in, field;
    bool more = true;
    if (!next_field(&rest, &field, &more) || !more)
        return fail(s, reason_r, R_FIRST);
    struct str cb_name = STR_NULL;
    if (str_eq_cstr(field, "n") || str_eq_cstr(field, "y")) {
        s->cbind_flag = field.p[0];
    } else if (attr_is(field, 'p') && cb_name_valid(attr_value(field))) {
        s->cbind_flag = 'p';
        cb_name = attr_value(field);
    } else {
        return fail(s, reason_r, R_FIRST);
    }
    if (!next_field(&rest, &field, &more) || !more)
        return fail(s, reason_r, R_FIRST);
    if (field.len) {
        if (!attr_is(field, 'a'))
            return fail(s, reason_r, R_FIRST);
        const char *why = saslname_decode(attr_value(field), s->authzid, R_FIRST);
        if (why) {
            s->authzid[0] = '\0';
            return fail(s, reason_r, why);
        }
    }
    struct str bare = rest;

    /* client-first-message-bare = [reserved-mext ","] username "," nonce
     *                             ["," extensions] */
    if (!next_field(&rest, &field, &more))
        return fail(s, reason_r, R_FIRST);
    if (attr_is(field, 'm'))
        return fail(s, reason_r, R_MEXT);
    if (!attr_is(field, 'n'))
        return fail(s, reason_r, R_FIRST);
    const char *why = saslname_decode(attr_value(field), s->authcid, R_FIRST);
    if (why)
        return fail(s, reason_r, why);
    s->has_authcid = true;
    if (!next_field(&rest, &field, &more) || !attr_is(field, 'r') ||
        !nonce_valid(attr_value(field)))
        return fail(s, reason_r, R_FIRST);
    struct str client_nonce = attr_value(field);
    while (next_field(&rest, &field, &more))
        if (!extension_valid(field))
            return fail(s, reason_r, R_FIRST);

    /* The channel binding the client chose against what we offer. */
    if (s->cbind_flag == 'p') {
        if (s->mech != SASL_MECH_SCRAM_SHA_256_PLUS)
            return fail(s, reason_r, R_CB_NOT_PLUS);
        if (!str_eq_cstr(cb_name, "tls-exporter"))
            return fail(s, reason_r, R_CB_TYPE);
    } else if (s->mech == SASL_MECH_SCRAM_SHA_256_PLUS) {
        return fail(s, reason_r, R_PLUS_NO_CB);
    } else if (s->cbind_flag == 'y' && s->has_cb) {
        /* The client could bind but thinks we cannot: someone removed
         * -PLUS from the list we offered (RFC 5802 §6). */
        return fail(s, reason_r, R_DOWNGRADE);
    }

    buf_append(&s->gs2_header, in.p, (size_t)(bare.p - in.p));
    buf_append_str(&s->first_bare, bare);
    buf_append_str(&s->nonce, client_nonce);
    s->state = ST_NEED_SCRAM;
    return SASL_NEED_SCRAM;
}

static bool hmac_sha256(const unsigned char *key, size_t keylen, const void *msg, size_t len,
                        unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) != NULL && n == 32;
}

static bool sha256(const unsigned char *msg, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return EVP_Digest(msg, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

static void append_base64(struct buf *b, const unsigned char *bin, size_t len)
{
    char tmp[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
    if (len > 64)
        abort();
    sodium_bin2base64(tmp, sizeof(tmp), bin, len, sodium_base64_VARIANT_ORIGINAL);
    buf_append_cstr(b, tmp);
}

/* Strict base64 (padding required, no white space). Returns the decoded
 * length, or -1. */
static long base64_decode(struct str v, unsigned char *out, size_t outlen)
{
    size_t n = 0;
    if (v.len == 0 || sodium_base642bin(out, outlen, v.p, v.len, NULL, &n, NULL,
                                        sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return (long)n;
}

enum sasl_status sasl_scram_credentials(struct sasl *s, const struct auth_credentials *cred,
                                        struct buf *out, const char **reason_r)
{
    buf_clear(out);
    if (s->state != ST_NEED_SCRAM)
        return fail(s, reason_r, R_ORDER);
    if (cred && cred->scram_iterations > 0) {
        memcpy(s->salt, cred->scram_salt, sizeof(s->salt));
        s->iterations = cred->scram_iterations;
        memcpy(s->stored_key, cred->scram_stored_key, sizeof(s->stored_key));
        memcpy(s->server_key, cred->scram_server_key, sizeof(s->server_key));
    } else {
        /* Unknown user (or one without SCRAM keys): the salt a real account
         * would have, stable for the name as the store compares it (ASCII
         * case-insensitively), and keys no proof can match. */
        char lower[NAME_MAX_LEN];
        size_t n = strlen(s->authcid);
        for (size_t i = 0; i < n; i++) {
            char c = s->authcid[i];
            lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 'a' - 'A') : c;
        }
        unsigned char mac[32];
        if (!hmac_sha256(s->secret, sizeof(s->secret), lower, n, mac))
            randombytes_buf(mac, sizeof(mac));
        memcpy(s->salt, mac, sizeof(s->salt));
        s->iterations = AUTH_SCRAM_ITERATIONS;
        randombytes_buf(s->stored_key, sizeof(s->stored_key));
        randombytes_buf(s->server_key, sizeof(s->server_key));
        s->fake = true;
        auth_wipe(mac, sizeof(mac));
    }

    if (s->test_nonce[0]) {
        buf_append_cstr(&s->nonce, s->test_nonce);
    } else {
        unsigned char rnd[SERVER_NONCE_BYTES];
        randombytes_buf(rnd, sizeof(rnd));
        append_base64(&s->nonce, rnd, sizeof(rnd));
    }
    buf_printf(&s->server_first, "r=%s,s=", buf_cstr(&s->nonce));
    append_base64(&s->server_first, s->salt, sizeof(s->salt));
    buf_printf(&s->server_first, ",i=%u", s->iterations);
    buf_append_str(out, buf_str(&s->server_first));
    s->state = ST_SCRAM_FINAL;
    return SASL_CHALLENGE;
}

static enum sasl_status scram_final(struct sasl *s, struct str in, struct buf *out,
                                    const char **reason_r)
{
    if (in.len > SCRAM_MSG_MAX)
        return fail(s, reason_r, R_TOO_LONG);
    if (in.len == 0 || memchr(in.p, '\0', in.len))
        return fail(s, reason_r, R_FINAL);

    /* client-final-message = channel-binding "," nonce ["," extensions]
     *                        "," proof */
    struct str rest = in, cbind, nonce, field, proof = STR_NULL;
    bool more = true;
    if (!next_field(&rest, &cbind, &more) || !attr_is(cbind, 'c') ||
        !next_field(&rest, &nonce, &more) || !attr_is(nonce, 'r') || !more)
        return fail(s, reason_r, R_FINAL);
    size_t without_proof = 0;
    while (next_field(&rest, &field, &more)) {
        if (!more) {
            if (!attr_is(field, 'p'))
                return fail(s, reason_r, R_FINAL);
            proof = attr_value(field);
            without_proof = (size_t)(field.p - 1 - in.p);
        } else if (!extension_valid(field)) {
            return fail(s, reason_r, R_FINAL);
        }
    }
    unsigned char client_proof[AUTH_SCRAM_KEY_LEN + 3];
    if (base64_decode(proof, client_proof, sizeof(client_proof)) != AUTH_SCRAM_KEY_LEN)
        return fail(s, reason_r, R_FINAL);

    /* c= is base64(gs2-header [cbind-data]) */
    unsigned char cbind_input[SCRAM_MSG_MAX];
    long n = base64_decode(attr_value(cbind), cbind_input, sizeof(cbind_input));
    if (n < 0)
        return fail(s, reason_r, R_FINAL);
    size_t gs2_len = s->gs2_header.len;
    if ((size_t)n < gs2_len || memcmp(cbind_input, s->gs2_header.p, gs2_len) != 0)
        return fail(s, reason_r, R_GS2);
    size_t cb_len = s->cbind_flag == 'p' ? SASL_CB_LEN : 0;
    if ((size_t)n - gs2_len != cb_len ||
        (cb_len && sodium_memcmp(cbind_input + gs2_len, s->cb.data, SASL_CB_LEN) != 0))
        return fail(s, reason_r, R_CB);
    if (!str_eq(attr_value(nonce), buf_str(&s->nonce)))
        return fail(s, reason_r, R_NONCE);

    /* AuthMessage = client-first-message-bare "," server-first-message ","
     *               client-final-message-without-proof */
    struct buf auth_message;
    buf_init(&auth_message, 0);
    buf_append_str(&auth_message, buf_str(&s->first_bare));
    buf_append_char(&auth_message, ',');
    buf_append_str(&auth_message, buf_str(&s->server_first));
    buf_append_char(&auth_message, ',');
    buf_append(&auth_message, in.p, without_proof);

    /* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
     * the proof is right when H(ClientKey) = StoredKey. */
    unsigned char signature[32], client_key[32], stored[32];
    bool ok = hmac_sha256(s->stored_key, sizeof(s->stored_key), auth_message.p, auth_message.len,
                          signature);
    for (size_t i = 0; i < sizeof(client_key); i++)
        client_key[i] = client_proof[i] ^ signature[i];
    ok = sha256(client_key, sizeof(client_key), stored) && ok;
    ok = sodium_memcmp(stored, s->stored_key, sizeof(stored)) == 0 && ok;
    ok = ok && !s->fake;
    if (ok) {
        /* server-final-message = "v=" base64(HMAC(ServerKey, AuthMessage)) */
        ok = hmac_sha256(s->server_key, sizeof(s->server_key), auth_message.p, auth_message.len,
                         signature);
        if (ok) {
            buf_append_cstr(out, "v=");
            append_base64(out, signature, sizeof(signature));
        }
    }
    auth_wipe(signature, sizeof(signature));
    auth_wipe(client_key, sizeof(client_key));
    auth_wipe(stored, sizeof(stored));
    auth_wipe(client_proof, sizeof(client_proof));
    wipe_buf(&auth_message);
    if (!ok)
        return fail(s, reason_r, R_WRONG);
    s->state = ST_DONE;
    return SASL_SUCCESS;
}

/* ---- the state machine ---- */

static enum sasl_status first_response(struct sasl *s, struct str in, struct buf *out,
                                       const char **reason_r)
{
    switch (s->mech) {
    case SASL_MECH_PLAIN:
        return plain_response(s, in, reason_r);
    case SASL_MECH_LOGIN:
        return login_user(s, in, out, reason_r);
    case SASL_MECH_SCRAM_SHA_256:
    case SASL_MECH_SCRAM_SHA_256_PLUS:
        return scram_first(s, in, reason_r);
    }
    return fail(s, reason_r, R_ORDER);
}

enum sasl_status sasl_step(struct sasl *s, struct str in, bool first, struct buf *out,
                           const char **reason_r)
{
    buf_clear(out);
    if (reason_r)
        *reason_r = NULL;
    bool no_response = in.p == NULL;
    if (no_response)
        in = (struct str){ "", 0 };
    switch (s->state) {
    case ST_START:
        if (s->mech == SASL_MECH_SCRAM_SHA_256_PLUS && !s->has_cb)
            return fail(s, reason_r, R_NO_CB);
        s->state = ST_FIRST;
        if (first && no_response) {
            /* No initial response: PLAIN and SCRAM ask with empty data. */
            if (s->mech == SASL_MECH_LOGIN)
                buf_append_cstr(out, "Username:");
            return SASL_CHALLENGE;
        }
        return first_response(s, in, out, reason_r);
    case ST_FIRST:
        return first_response(s, in, out, reason_r);
    case ST_LOGIN_PASSWORD:
        return login_password(s, in, reason_r);
    case ST_SCRAM_FINAL:
        return scram_final(s, in, out, reason_r);
    case ST_CHECK_PASSWORD:
    case ST_NEED_SCRAM:
    case ST_DONE:
        break;
    }
    return fail(s, reason_r, R_ORDER);
}

enum sasl_status sasl_password_result(struct sasl *s, bool ok, const char **reason_r)
{
    if (reason_r)
        *reason_r = NULL;
    if (s->state != ST_CHECK_PASSWORD || is_scram(s))
        return fail(s, reason_r, R_ORDER);
    if (!ok)
        return fail(s, reason_r, R_WRONG);
    s->state = ST_DONE;
    return SASL_SUCCESS;
}

void sasl_b64_encode(struct buf *out, struct str bin)
{
    size_t enc = sodium_base64_ENCODED_LEN(bin.len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(enc);
    sodium_bin2base64(b64, enc, (const unsigned char *)bin.p, bin.len,
                      sodium_base64_VARIANT_ORIGINAL);
    buf_append_cstr(out, b64);
    free(b64);
}

int sasl_b64_decode(struct str in, struct buf *out)
{
    buf_clear(out);
    if (in.len == 1 && in.p[0] == '=')
        return 0;
    size_t cap = in.len / 4 * 3 + 3;
    char *bin = xmalloc(cap + 1);
    size_t n;
    int r = sodium_base642bin((unsigned char *)bin, cap, in.p, in.len, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL);
    if (r == 0)
        buf_append(out, bin, n);
    sodium_memzero(bin, cap + 1);
    free(bin);
    return r == 0 ? 0 : -1;
}
