/*
 * Unit tests for auth/sasl.h: PLAIN, LOGIN, SCRAM-SHA-256 (the exchange of
 * RFC 7677 §3, byte for byte) and SCRAM-SHA-256-PLUS with tls-exporter
 * channel binding (an exchange computed independently with Python's hashlib,
 * byte for byte), the downgrade check, unknown users, and every class of
 * malformed message with the reason it gives.
 *
 * SCRAM credentials are made with auth_scram_keys directly (argon2id is not
 * needed, and is slow); the client side is computed here with OpenSSL.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "auth/sasl.h"
#include "auth/sasl_test.h"
#include "test.h"

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

static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
static const unsigned char secret2[32] = "fedcba9876543210fedcba987654321";

static struct str S(const char *s)
{
    return str_from_cstr(s);
}

static const char *b64(const void *bin, size_t len)
{
    static char out[4][1024];
    static int next;
    char *o = out[next++ % 4];
    sodium_bin2base64(o, sizeof(out[0]), bin, len, sodium_base64_VARIANT_ORIGINAL);
    return o;
}

static size_t unb64(const char *in, unsigned char *out, size_t outlen)
{
    size_t n = 0;
    CHECK_INT(sodium_base642bin(out, outlen, in, strlen(in), NULL, &n, NULL,
                                sodium_base64_VARIANT_ORIGINAL),
              0);
    return n;
}

static void hmac256(const unsigned char *key, size_t keylen, const void *msg, size_t len,
                    unsigned char out[32])
{
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n);
    CHECK_INT(n, 32);
}

/* ---- a SCRAM client, for the tests ---- */

struct client {
    unsigned char client_key[32], stored_key[32], server_key[32];
};

static void client_init(struct client *c, const char *pw, const unsigned char *salt,
                        size_t saltlen, unsigned iterations)
{
    unsigned char salted[32];
    CHECK_INT(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen, (int)iterations,
                                EVP_sha256(), 32, salted),
              1);
    hmac256(salted, 32, "Client Key", 10, c->client_key);
    hmac256(salted, 32, "Server Key", 10, c->server_key);
    SHA256(c->client_key, 32, c->stored_key);
}

/* The client-final-message for the message without its proof, and the
 * server-final-message to expect (both malloc'd). */
static char *client_final(const struct client *c, const char *bare, const char *server_first,
                          const char *without_proof, char **expect_v)
{
    char *am = xasprintf("%s,%s,%s", bare, server_first, without_proof);
    unsigned char sig[32], proof[32];
    hmac256(c->stored_key, 32, am, strlen(am), sig);
    for (int i = 0; i < 32; i++)
        proof[i] = c->client_key[i] ^ sig[i];
    if (expect_v) {
        hmac256(c->server_key, 32, am, strlen(am), sig);
        *expect_v = xasprintf("v=%s", b64(sig, 32));
    }
    free(am);
    return xasprintf("%s,p=%s", without_proof, b64(proof, 32));
}

/* Credentials for pw with a fixed salt (auth_scram_keys, no argon2id). */
static void make_cred(struct auth_credentials *cred, const char *pw, const unsigned char *salt,
                      unsigned iterations)
{
    memset(cred, 0, sizeof(*cred));
    memcpy(cred->scram_salt, salt, AUTH_SCRAM_SALT_LEN);
    cred->scram_iterations = iterations;
    CHECK_INT(auth_scram_keys(pw, strlen(pw), salt, AUTH_SCRAM_SALT_LEN, iterations,
                              cred->scram_stored_key, cred->scram_server_key),
              0);
}

static const unsigned char test_salt[16] = "saltsaltsaltsalt";
static struct auth_credentials pencil; /* "pencil", test_salt, 4096 */
static struct client pencil_client;

static struct sasl_channel_binding cb_a, cb_b;

/* Starts a SCRAM exchange up to the server-first-message. Returns the
 * session, with the server-first-message in *sf (malloc'd), or NULL when a
 * step did not give what it should. */
static struct sasl *scram_start(enum sasl_mech mech, const struct sasl_channel_binding *cb,
                                const char *client_first, const struct auth_credentials *cred,
                                char **sf)
{
    struct sasl *s = sasl_new(mech, cb, secret);
    struct buf out;
    buf_init(&out, 0);
    const char *reason = "unset";
    enum sasl_status st = sasl_step(s, S(client_first), true, &out, &reason);
    CHECK_INT(st, SASL_NEED_SCRAM);
    CHECK(reason == NULL);
    CHECK_INT(out.len, 0);
    if (st != SASL_NEED_SCRAM) {
        fprintf(stderr, "  client-first %s: %s\n", client_first, reason);
        sasl_free(s);
        buf_free(&out);
        return NULL;
    }
    CHECK_INT(sasl_scram_credentials(s, cred, &out, &reason), SASL_CHALLENGE);
    *sf = xstrdup(buf_cstr(&out));
    buf_free(&out);
    return s;
}

/* The nonce in a server-first-message. */
static char *sf_nonce(const char *sf)
{
    CHECK(strncmp(sf, "r=", 2) == 0);
    const char *comma = strchr(sf, ',');
    return xstrndup(sf + 2, comma ? (size_t)(comma - sf - 2) : 0);
}

/* A whole exchange with the password client: the final step's status and
 * reason. `gs2` is the GS2 header, `cbdata` what the client binds to. */
static enum sasl_status scram_run(enum sasl_mech mech, const struct sasl_channel_binding *server_cb,
                                  const char *gs2, const char *bare,
                                  const struct sasl_channel_binding *client_cb,
                                  const struct auth_credentials *cred, const struct client *cl,
                                  const char **reason_r)
{
    char *first = xasprintf("%s%s", gs2, bare), *sf = NULL;
    struct sasl *s = scram_start(mech, server_cb, first, cred, &sf);
    free(first);
    *reason_r = "exchange did not start";
    if (!s)
        return SASL_FAILURE;
    unsigned char input[512];
    size_t n = strlen(gs2);
    memcpy(input, gs2, n);
    if (client_cb) {
        memcpy(input + n, client_cb->data, SASL_CB_LEN);
        n += SASL_CB_LEN;
    }
    char *nonce = sf_nonce(sf);
    char *wop = xasprintf("c=%s,r=%s", b64(input, n), nonce);
    char *v = NULL;
    char *final = client_final(cl, bare, sf, wop, &v);
    struct buf out;
    buf_init(&out, 0);
    enum sasl_status st = sasl_step(s, S(final), false, &out, reason_r);
    if (st == SASL_SUCCESS) {
        CHECK_STR(buf_cstr(&out), v);
        CHECK(*reason_r == NULL);
    } else {
        CHECK_INT(out.len, 0);
    }
    buf_free(&out);
    free(final);
    free(v);
    free(wop);
    free(nonce);
    free(sf);
    sasl_free(s);
    return st;
}

/* ---- mechanism names ---- */

static void test_mech_names(void)
{
    static const struct {
        const char *name;
        int ret;
        enum sasl_mech mech;
    } cases[] = {
        { "PLAIN", 0, SASL_MECH_PLAIN },
        { "plain", 0, SASL_MECH_PLAIN },
        { "LOGIN", 0, SASL_MECH_LOGIN },
        { "Login", 0, SASL_MECH_LOGIN },
        { "SCRAM-SHA-256", 0, SASL_MECH_SCRAM_SHA_256 },
        { "scram-sha-256", 0, SASL_MECH_SCRAM_SHA_256 },
        { "SCRAM-SHA-256-PLUS", 0, SASL_MECH_SCRAM_SHA_256_PLUS },
        { "Scram-Sha-256-Plus", 0, SASL_MECH_SCRAM_SHA_256_PLUS },
        { "SCRAM-SHA-1", -1, 0 },
        { "CRAM-MD5", -1, 0 },
        { "PLAIN ", -1, 0 },
        { "SCRAM-SHA-256-", -1, 0 },
        { "", -1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum sasl_mech m = SASL_MECH_LOGIN;
        CHECK_INT(sasl_mech_parse(S(cases[i].name), &m), cases[i].ret);
        if (cases[i].ret == 0)
            CHECK_INT(m, cases[i].mech);
    }
    CHECK_STR(sasl_mech_name(SASL_MECH_PLAIN), "PLAIN");
    CHECK_STR(sasl_mech_name(SASL_MECH_LOGIN), "LOGIN");
    CHECK_STR(sasl_mech_name(SASL_MECH_SCRAM_SHA_256), "SCRAM-SHA-256");
    CHECK_STR(sasl_mech_name(SASL_MECH_SCRAM_SHA_256_PLUS), "SCRAM-SHA-256-PLUS");
}

/* ---- PLAIN ---- */

/* Runs PLAIN with `in` as the initial response; returns the status of the
 * step, the session in *sp (caller frees). */
static enum sasl_status plain(struct str in, struct sasl **sp, const char **reason)
{
    struct sasl *s = sasl_new(SASL_MECH_PLAIN, NULL, secret);
    struct buf out;
    buf_init(&out, 0);
    enum sasl_status st = sasl_step(s, in, true, &out, reason);
    CHECK_INT(out.len, 0);
    buf_free(&out);
    *sp = s;
    return st;
}

static void test_plain_ok(void)
{
    struct sasl *s;
    const char *reason = "unset";
    CHECK_INT(plain(STR_LIT("\0user\0pencil"), &s, &reason), SASL_CHECK_PASSWORD);
    CHECK(reason == NULL);
    CHECK_STR(sasl_authcid(s), "user");
    CHECK(sasl_authzid(s) == NULL);
    CHECK(str_eq_cstr(sasl_password(s), "pencil"));
    CHECK_INT(sasl_password_result(s, true, &reason), SASL_SUCCESS);
    CHECK(reason == NULL);
    /* Nothing more after the end. */
    struct buf out;
    buf_init(&out, 0);
    CHECK_INT(sasl_step(s, S("x"), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_ORDER);
    CHECK_INT(sasl_password_result(s, true, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_ORDER);
    sasl_free(s);

    /* An authorization identity; a password with spaces and UTF-8. */
    CHECK_INT(plain(STR_LIT("admin@x.test\0alice@x.test\0p \xc3\xa4ss w"), &s, &reason),
              SASL_CHECK_PASSWORD);
    CHECK_STR(sasl_authzid(s), "admin@x.test");
    CHECK_STR(sasl_authcid(s), "alice@x.test");
    CHECK(str_eq_cstr(sasl_password(s), "p \xc3\xa4ss w"));
    sasl_free(s);

    /* No initial response: an empty challenge, then the response. */
    s = sasl_new(SASL_MECH_PLAIN, NULL, secret);
    CHECK(sasl_authcid(s) == NULL);
    CHECK(sasl_authzid(s) == NULL);
    CHECK_INT(sasl_password(s).len, 0);
    buf_append_cstr(&out, "stale");
    CHECK_INT(sasl_step(s, STR_NULL, true, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(out.len, 0);
    CHECK_INT(sasl_step(s, STR_LIT("\0bob\0secret"), false, &out, &reason), SASL_CHECK_PASSWORD);
    CHECK_STR(sasl_authcid(s), "bob");
    CHECK(str_eq_cstr(sasl_password(s), "secret"));
    /* Feeding more while the password is checked is a caller's mistake. */
    CHECK_INT(sasl_step(s, S("x"), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_ORDER);
    sasl_free(s);

    /* The longest names and password. */
    char big[3 + 255 + 255 + AUTH_PASSWORD_MAX];
    memset(big, 'a', 255);
    big[255] = '\0';
    memset(big + 256, 'b', 255);
    big[511] = '\0';
    memset(big + 512, 'c', AUTH_PASSWORD_MAX);
    CHECK_INT(plain((struct str){ big, 512 + AUTH_PASSWORD_MAX }, &s, &reason),
              SASL_CHECK_PASSWORD);
    CHECK_INT(strlen(sasl_authzid(s)), 255);
    CHECK_INT(strlen(sasl_authcid(s)), 255);
    CHECK_INT(sasl_password(s).len, AUTH_PASSWORD_MAX);
    sasl_free(s);

    sasl_free(NULL);
    buf_free(&out);
}

static void test_plain_failures(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *reason;
    } cases[] = {
#define C(lit, r) { lit, sizeof(lit) - 1, r }
        C("", R_PLAIN),
        C("user", R_PLAIN),
        C("user pencil", R_PLAIN),
        C("\0user", R_PLAIN),
        C("\0user\0pencil\0", R_PLAIN),
        C("\0user\0pen\0cil", R_PLAIN),
        C("\0\0\0", R_PLAIN),
        C("\0\0pencil", R_EMPTY_USER),
        C("admin\0\0pencil", R_EMPTY_USER),
        C("\0user\0", R_EMPTY_PASS),
        C("\0\xff\0pencil", R_UTF8_USER),
        C("\0\xc0\xaf\0pencil", R_UTF8_USER),          /* overlong '/' */
        C("\0\xe0\x80\xaf\0pencil", R_UTF8_USER),      /* overlong, 3 bytes */
        C("\0\xed\xa0\x80\0pencil", R_UTF8_USER),      /* a surrogate */
        C("\0\xf4\x90\x80\x80\0pencil", R_UTF8_USER),  /* past U+10FFFF */
        C("\0\xc3\0pencil", R_UTF8_USER),              /* truncated */
        C("\0\x80\0pencil", R_UTF8_USER),              /* lone continuation */
        C("\xff\0user\0pencil", R_UTF8_USER),          /* in the authzid */
#undef C
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sasl *s;
        const char *reason = NULL;
        CHECK_INT(plain((struct str){ cases[i].in, cases[i].len }, &s, &reason), SASL_FAILURE);
        CHECK_STR(reason, cases[i].reason);
        if (!reason || strcmp(reason, cases[i].reason) != 0)
            fprintf(stderr, "  case %zu\n", i);
        CHECK(sasl_authzid(s) == NULL);
        sasl_free(s);
    }

    /* Valid UTF-8 of every length passes. */
    struct sasl *s;
    const char *reason = NULL;
    CHECK_INT(plain(STR_LIT("\0\x7f\xc2\x80\xe0\xa0\x80\xef\xbf\xbf"
                            "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\0p"),
                    &s, &reason),
              SASL_CHECK_PASSWORD);
    sasl_free(s);

    /* Length limits: 255 bytes per name, AUTH_PASSWORD_MAX for the password. */
    char big[2 + 256 + AUTH_PASSWORD_MAX + 1];
    big[0] = '\0';
    memset(big + 1, 'u', 256);
    big[257] = '\0';
    big[258] = 'p';
    CHECK_INT(plain((struct str){ big, 259 }, &s, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_LONG_USER);
    sasl_free(s);
    memset(big, 'z', 256);
    big[256] = '\0';
    big[257] = 'u';
    big[258] = '\0';
    big[259] = 'p';
    CHECK_INT(plain((struct str){ big, 260 }, &s, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_LONG_USER);
    sasl_free(s);
    memcpy(big, "\0u\0", 3);
    memset(big + 3, 'p', AUTH_PASSWORD_MAX + 1);
    CHECK_INT(plain((struct str){ big, 3 + AUTH_PASSWORD_MAX + 1 }, &s, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_LONG_PASS);
    sasl_free(s);

    /* A wrong password. */
    CHECK_INT(plain(STR_LIT("\0user\0pencil"), &s, &reason), SASL_CHECK_PASSWORD);
    CHECK_INT(sasl_password_result(s, false, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_WRONG);
    CHECK_STR(sasl_authcid(s), "user"); /* still there, for the log */
    sasl_free(s);

    /* An empty response after the empty challenge. */
    s = sasl_new(SASL_MECH_PLAIN, NULL, secret);
    struct buf out;
    buf_init(&out, 0);
    CHECK_INT(sasl_step(s, STR_NULL, true, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(sasl_step(s, STR_NULL, false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_PLAIN);
    sasl_free(s);

    /* The result without a check, and a SCRAM call on PLAIN. */
    s = sasl_new(SASL_MECH_PLAIN, NULL, secret);
    CHECK_INT(sasl_password_result(s, true, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_ORDER);
    sasl_free(s);
    CHECK_INT(plain(STR_LIT("\0user\0pencil"), &s, &reason), SASL_CHECK_PASSWORD);
    CHECK_INT(sasl_scram_credentials(s, &pencil, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_ORDER);
    sasl_free(s);
    buf_free(&out);
}

/* ---- LOGIN ---- */

static void test_login_ok(void)
{
    struct buf out;
    buf_init(&out, 0);
    const char *reason = "unset";

    struct sasl *s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, STR_NULL, true, &out, &reason), SASL_CHALLENGE);
    CHECK_STR(buf_cstr(&out), "Username:");
    CHECK(reason == NULL);
    CHECK(sasl_authcid(s) == NULL);
    CHECK_INT(sasl_step(s, S("alice@x.test"), false, &out, &reason), SASL_CHALLENGE);
    CHECK_STR(buf_cstr(&out), "Password:");
    CHECK_STR(sasl_authcid(s), "alice@x.test");
    CHECK_INT(sasl_step(s, S("pencil"), false, &out, &reason), SASL_CHECK_PASSWORD);
    CHECK_INT(out.len, 0);
    CHECK(str_eq_cstr(sasl_password(s), "pencil"));
    CHECK(sasl_authzid(s) == NULL);
    CHECK_INT(sasl_password_result(s, true, &reason), SASL_SUCCESS);
    CHECK(reason == NULL);
    sasl_free(s);

    /* The user name as the initial response. */
    s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, S("bob"), true, &out, &reason), SASL_CHALLENGE);
    CHECK_STR(buf_cstr(&out), "Password:");
    CHECK_INT(sasl_step(s, S("hunter2"), false, &out, &reason), SASL_CHECK_PASSWORD);
    CHECK_STR(sasl_authcid(s), "bob");
    CHECK(str_eq_cstr(sasl_password(s), "hunter2"));
    CHECK_INT(sasl_password_result(s, false, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_WRONG);
    sasl_free(s);
    buf_free(&out);
}

static void test_login_failures(void)
{
    static const struct {
        const char *user;
        size_t ulen;
        const char *pass;
        size_t plen;
        const char *reason;
    } cases[] = {
#define C(u, p, r) { u, sizeof(u) - 1, p, sizeof(p) - 1, r }
        C("", "x", R_EMPTY_USER),
        C("us\0er", "x", R_NUL_USER),
        C("\xfe", "x", R_UTF8_USER),
        C("user", "", R_EMPTY_PASS),
        C("user", "pen\0cil", R_NUL_PASS),
        C("user", "\0", R_NUL_PASS),
#undef C
    };
    struct buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sasl *s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
        const char *reason = NULL;
        CHECK_INT(sasl_step(s, STR_NULL, true, &out, &reason), SASL_CHALLENGE);
        enum sasl_status st =
            sasl_step(s, (struct str){ cases[i].user, cases[i].ulen }, false, &out, &reason);
        if (st == SASL_CHALLENGE)
            st = sasl_step(s, (struct str){ cases[i].pass, cases[i].plen }, false, &out, &reason);
        CHECK_INT(st, SASL_FAILURE);
        CHECK_STR(reason, cases[i].reason);
        CHECK_INT(out.len, 0);
        sasl_free(s);
    }

    /* Lengths. */
    char big[AUTH_PASSWORD_MAX + 2];
    memset(big, 'x', sizeof(big));
    const char *reason = NULL;
    struct sasl *s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, (struct str){ big, 256 }, true, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_LONG_USER);
    sasl_free(s);
    s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, (struct str){ big, 255 }, true, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(sasl_step(s, (struct str){ big, AUTH_PASSWORD_MAX + 1 }, false, &out, &reason),
              SASL_FAILURE);
    CHECK_STR(reason, R_LONG_PASS);
    sasl_free(s);
    s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, (struct str){ big, 255 }, true, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(sasl_step(s, (struct str){ big, AUTH_PASSWORD_MAX }, false, &out, &reason),
              SASL_CHECK_PASSWORD);
    CHECK_INT(sasl_password(s).len, AUTH_PASSWORD_MAX);
    sasl_free(s);

    /* An empty initial response is an empty user name. */
    s = sasl_new(SASL_MECH_LOGIN, NULL, secret);
    CHECK_INT(sasl_step(s, S(""), true, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_EMPTY_USER);
    sasl_free(s);
    buf_free(&out);
}

/* ---- SCRAM-SHA-256: RFC 7677 §3 ---- */

#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                                \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==," \
    "i=4096"
#define RFC_CLIENT_FINAL                                             \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_cred(struct auth_credentials *cred)
{
    unsigned char salt[16];
    CHECK_INT(unb64(RFC_SALT, salt, sizeof(salt)), 16);
    make_cred(cred, "pencil", salt, 4096);
}

static void test_scram_rfc7677(void)
{
    struct auth_credentials cred;
    rfc_cred(&cred);
    struct buf out;
    buf_init(&out, 0);
    const char *reason = "unset";

    /* With the client-first-message as the initial response, and without. */
    for (int ir = 0; ir < 2; ir++) {
        struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
        sasl_test_set_nonce(s, RFC_SERVER_NONCE);
        if (!ir) {
            CHECK_INT(sasl_step(s, STR_NULL, true, &out, &reason), SASL_CHALLENGE);
            CHECK_INT(out.len, 0);
        }
        CHECK(sasl_authcid(s) == NULL);
        CHECK_INT(sasl_step(s, S(RFC_CLIENT_FIRST), ir, &out, &reason), SASL_NEED_SCRAM);
        CHECK(reason == NULL);
        CHECK_INT(out.len, 0);
        CHECK_STR(sasl_authcid(s), "user");
        CHECK(sasl_authzid(s) == NULL);
        CHECK_INT(sasl_password(s).len, 0);
        CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
        CHECK_STR(buf_cstr(&out), RFC_SERVER_FIRST);
        CHECK_INT(sasl_step(s, S(RFC_CLIENT_FINAL), false, &out, &reason), SASL_SUCCESS);
        CHECK(reason == NULL);
        CHECK_STR(buf_cstr(&out), RFC_SERVER_FINAL);
        /* Over: no more steps, no password check. */
        CHECK_INT(sasl_step(s, S(RFC_CLIENT_FINAL), false, &out, &reason), SASL_FAILURE);
        CHECK_STR(reason, R_ORDER);
        sasl_free(s);
    }

    /* One bit of the proof changed: a wrong password. */
    struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    sasl_test_set_nonce(s, RFC_SERVER_NONCE);
    CHECK_INT(sasl_step(s, S(RFC_CLIENT_FIRST), true, &out, &reason), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
    char final[] = RFC_CLIENT_FINAL;
    final[strlen(final) - 2] = 'U'; /* ...AndVQ= -> ...AndVU= */
    CHECK_INT(sasl_step(s, S(final), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_WRONG);
    CHECK_INT(out.len, 0);
    sasl_free(s);

    /* Another password's credentials, same salt and count. */
    struct auth_credentials other;
    make_cred(&other, "pencil2", cred.scram_salt, 4096);
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    sasl_test_set_nonce(s, RFC_SERVER_NONCE);
    CHECK_INT(sasl_step(s, S(RFC_CLIENT_FIRST), true, &out, &reason), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s, &other, &out, &reason), SASL_CHALLENGE);
    CHECK_STR(buf_cstr(&out), RFC_SERVER_FIRST);
    CHECK_INT(sasl_step(s, S(RFC_CLIENT_FINAL), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_WRONG);
    sasl_free(s);

    /* The hook refuses what could not be a nonce, and NULL resets it. */
    static const char *bad[] = {
        "", "a,b", "a b", "\x7f", "\xc3\xa4",
        "01234567890123456789012345678901234567890123456789012345678901234", /* 65 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
        sasl_test_set_nonce(s, "fixed");
        sasl_test_set_nonce(s, bad[i]);
        CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &reason), SASL_NEED_SCRAM);
        CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
        CHECK(strncmp(buf_cstr(&out), "r=abc", 5) == 0);
        CHECK_INT(strcspn(buf_cstr(&out), ","), 5 + 32);
        sasl_free(s);
    }
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    sasl_test_set_nonce(s, "fixed");
    sasl_test_set_nonce(s, NULL);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &reason), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(strcspn(buf_cstr(&out), ","), 5 + 32);
    sasl_free(s);
    buf_free(&out);
}

/* The server nonce: the client's, then 32 characters of base64 (24 random
 * bytes), different every time; a whole exchange with it succeeds. */
static void test_scram_nonce_and_exchange(void)
{
    char *sf1 = NULL, *sf2 = NULL;
    struct sasl *s1 = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=user,r=c-nonce", &pencil,
                                  &sf1);
    struct sasl *s2 = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=user,r=c-nonce", &pencil,
                                  &sf2);
    if (!s1 || !s2)
        return;
    char *n1 = sf_nonce(sf1), *n2 = sf_nonce(sf2);
    CHECK(strncmp(n1, "c-nonce", 7) == 0);
    CHECK_INT(strlen(n1), 7 + 32);
    unsigned char raw[24];
    CHECK_INT(unb64(n1 + 7, raw, sizeof(raw)), 24);
    for (const char *c = n1; *c; c++)
        CHECK(*c >= 0x21 && *c <= 0x7e && *c != ',');
    CHECK(strcmp(n1, n2) != 0);
    /* r=NONCE,s=SALT,i=4096 */
    char *want = xasprintf("r=%s,s=%s,i=4096", n1, b64(test_salt, 16));
    CHECK_STR(sf1, want);
    free(want);

    /* Finish the first with the right proof. */
    char *wop = xasprintf("c=biws,r=%s", n1), *v = NULL;
    char *final = client_final(&pencil_client, "n=user,r=c-nonce", sf1, wop, &v);
    struct buf out;
    buf_init(&out, 0);
    const char *reason = "unset";
    CHECK_INT(sasl_step(s1, S(final), false, &out, &reason), SASL_SUCCESS);
    CHECK_STR(buf_cstr(&out), v);
    free(final);
    free(v);
    free(wop);
    /* The second with the first's nonce: refused before the proof. */
    wop = xasprintf("c=biws,r=%s", n1);
    final = client_final(&pencil_client, "n=user,r=c-nonce", sf2, wop, NULL);
    CHECK_INT(sasl_step(s2, S(final), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_NONCE);
    free(final);
    free(wop);

    free(n1);
    free(n2);
    free(sf1);
    free(sf2);
    sasl_free(s1);
    sasl_free(s2);
    buf_free(&out);

    /* Extensions are ignored in both messages but count in the AuthMessage. */
    const char *r = NULL;
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,,", "n=user,r=abc,x=1,Y=a=b",
                        NULL, &pencil, &pencil_client, &r),
              SASL_SUCCESS);
}

/* An authzid and names with escapes; the user name is taken decoded. */
static void test_scram_names(void)
{
    const char *r = NULL;
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,a=ad=2Cmin=3D,", "n=us=3Der=2C,r=abc",
                        NULL, &pencil, &pencil_client, &r),
              SASL_SUCCESS);

    char *sf = NULL;
    struct sasl *s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL,
                                 "n,a=ad=2Cmin=3D,n=us=3Der=2c,r=abc", &pencil, &sf);
    if (s) {
        CHECK_STR(sasl_authzid(s), "ad,min=");
        CHECK_STR(sasl_authcid(s), "us=er,");
        sasl_free(s);
        free(sf);
    }
    s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=J\xc3\xb6rg@x.test,r=abc", &pencil, &sf);
    if (s) {
        CHECK_STR(sasl_authcid(s), "J\xc3\xb6rg@x.test");
        CHECK(sasl_authzid(s) == NULL);
        sasl_free(s);
        free(sf);
    }

    /* 255 bytes, also when they come escaped (765 characters). */
    char msg[1024];
    strcpy(msg, "n,,n=");
    for (int i = 0; i < 255; i++)
        strcat(msg, "=2C");
    strcat(msg, ",r=abc");
    s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, msg, &pencil, &sf);
    if (s) {
        CHECK_INT(strlen(sasl_authcid(s)), 255);
        sasl_free(s);
        free(sf);
    }
}

/* ---- SCRAM-SHA-256-PLUS ---- */

/* An exchange computed with Python's hashlib and hmac: password "pencil",
 * salt bytes(range(16)), 4096 iterations, channel binding
 * bytes(range(0xa0, 0xc0)), authzid "user":
 *   salted = pbkdf2_hmac("sha256", pw, salt, 4096)
 *   ck = HMAC(salted, "Client Key"); sk = sha256(ck)
 *   am = bare + "," + server_first + "," + final_without_proof
 *   proof = ck XOR HMAC(sk, am); v = HMAC(HMAC(salted, "Server Key"), am)
 * with c= base64(b"p=tls-exporter,a=user," + cb). */
#define PY_CLIENT_FIRST "p=tls-exporter,a=user,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
#define PY_SERVER_NONCE "3rfcNHYJY1ZVvWVs7j"
#define PY_SERVER_FIRST \
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=AAECAwQFBgcICQoLDA0ODw==,i=4096"
#define PY_CLIENT_FINAL                                                                 \
    "c=cD10bHMtZXhwb3J0ZXIsYT11c2VyLKChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/,"      \
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"                                    \
    "p=SMoUX5D4uQ9AurLXFMldvPvCqsnhsmnegPwHdyrQWsU="
#define PY_SERVER_FINAL "v=xhm2FW7TDjFYC0kunZx+05OFsn6YEGTFTxIoge0eUqw="

static void test_scram_plus_python(void)
{
    unsigned char salt[16];
    struct sasl_channel_binding cb;
    for (int i = 0; i < 16; i++)
        salt[i] = (unsigned char)i;
    for (int i = 0; i < 32; i++)
        cb.data[i] = (unsigned char)(0xa0 + i);
    struct auth_credentials cred;
    make_cred(&cred, "pencil", salt, 4096);
    struct buf out;
    buf_init(&out, 0);
    const char *reason = "unset";

    struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256_PLUS, &cb, secret);
    sasl_test_set_nonce(s, PY_SERVER_NONCE);
    CHECK_INT(sasl_step(s, S(PY_CLIENT_FIRST), true, &out, &reason), SASL_NEED_SCRAM);
    CHECK_STR(sasl_authzid(s), "user");
    CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
    CHECK_STR(buf_cstr(&out), PY_SERVER_FIRST);
    CHECK_INT(sasl_step(s, S(PY_CLIENT_FINAL), false, &out, &reason), SASL_SUCCESS);
    CHECK_STR(buf_cstr(&out), PY_SERVER_FINAL);
    sasl_free(s);

    /* The same messages on a connection with other binding data. */
    cb.data[31] ^= 1;
    s = sasl_new(SASL_MECH_SCRAM_SHA_256_PLUS, &cb, secret);
    sasl_test_set_nonce(s, PY_SERVER_NONCE);
    CHECK_INT(sasl_step(s, S(PY_CLIENT_FIRST), true, &out, &reason), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s, &cred, &out, &reason), SASL_CHALLENGE);
    CHECK_INT(sasl_step(s, S(PY_CLIENT_FINAL), false, &out, &reason), SASL_FAILURE);
    CHECK_STR(reason, R_CB);
    CHECK_INT(out.len, 0);
    sasl_free(s);
    buf_free(&out);
}

static void test_scram_plus(void)
{
    const char *r = NULL;
    /* Matching binding. */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,,", "n=user,r=abc",
                        &cb_a, &pencil, &pencil_client, &r),
              SASL_SUCCESS);
    /* The client's TLS session is another one (a man in the middle). */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,,", "n=user,r=abc",
                        &cb_b, &pencil, &pencil_client, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_CB);
    /* c= without the binding data. */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,,", "n=user,r=abc",
                        NULL, &pencil, &pencil_client, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_CB);
    /* Matching binding, wrong password. */
    struct client wrong;
    client_init(&wrong, "pencil!", test_salt, 16, 4096);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,,", "n=user,r=abc",
                        &cb_a, &pencil, &wrong, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);

    /* -PLUS needs binding data from the connection; it fails at once, with
     * or without an initial response. */
    struct buf out;
    buf_init(&out, 0);
    for (int ir = 0; ir < 2; ir++) {
        struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256_PLUS, NULL, secret);
        CHECK_INT(sasl_step(s, ir ? S("p=tls-exporter,,n=user,r=abc") : STR_NULL, true, &out, &r),
                  SASL_FAILURE);
        CHECK_STR(r, R_NO_CB);
        sasl_free(s);
    }

    /* The GS2 flag against the mechanism. */
    static const struct {
        enum sasl_mech mech;
        bool cb;
        const char *first;
        const char *reason; /* NULL: accepted */
    } cases[] = {
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "n,,n=user,r=abc", R_PLUS_NO_CB },
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "y,,n=user,r=abc", R_PLUS_NO_CB },
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "p=tls-unique,,n=user,r=abc", R_CB_TYPE },
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "p=tls-server-end-point,,n=user,r=abc", R_CB_TYPE },
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "p=TLS-EXPORTER,,n=user,r=abc", R_CB_TYPE },
        { SASL_MECH_SCRAM_SHA_256_PLUS, true, "p=tls-exporter,,n=user,r=abc", NULL },
        { SASL_MECH_SCRAM_SHA_256, true, "p=tls-exporter,,n=user,r=abc", R_CB_NOT_PLUS },
        { SASL_MECH_SCRAM_SHA_256, false, "p=tls-exporter,,n=user,r=abc", R_CB_NOT_PLUS },
        /* Downgrade: the client supports binding and believes we do not,
         * although we offer -PLUS. */
        { SASL_MECH_SCRAM_SHA_256, true, "y,,n=user,r=abc", R_DOWNGRADE },
        { SASL_MECH_SCRAM_SHA_256, true, "y,a=user,n=user,r=abc", R_DOWNGRADE },
        /* Without TLS 1.3 we offer no -PLUS: "y" is honest. */
        { SASL_MECH_SCRAM_SHA_256, false, "y,,n=user,r=abc", NULL },
        /* A client without binding support is fine either way. */
        { SASL_MECH_SCRAM_SHA_256, true, "n,,n=user,r=abc", NULL },
        { SASL_MECH_SCRAM_SHA_256, false, "n,,n=user,r=abc", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sasl *s = sasl_new(cases[i].mech, cases[i].cb ? &cb_a : NULL, secret);
        r = "unset";
        enum sasl_status st = sasl_step(s, S(cases[i].first), true, &out, &r);
        if (cases[i].reason) {
            CHECK_INT(st, SASL_FAILURE);
            CHECK_STR(r, cases[i].reason);
        } else {
            CHECK_INT(st, SASL_NEED_SCRAM);
        }
        if (cases[i].reason ? st != SASL_FAILURE : st != SASL_NEED_SCRAM)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].first);
        sasl_free(s);
    }

    /* The accepted ones, to the end. */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "y,,", "n=user,r=abc", NULL, &pencil,
                        &pencil_client, &r),
              SASL_SUCCESS);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, &cb_a, "n,,", "n=user,r=abc", NULL, &pencil,
                        &pencil_client, &r),
              SASL_SUCCESS);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,a=ad=2Cmin,",
                        "n=user,r=abc", &cb_a, &pencil, &pencil_client, &r),
              SASL_SUCCESS);
    /* Binding data sent on SCRAM-SHA-256 without "p": not what "n,," says. */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, &cb_a, "n,,", "n=user,r=abc", &cb_a, &pencil,
                        &pencil_client, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_CB);
    buf_free(&out);
}

/* ---- unknown users ---- */

static void test_scram_unknown_user(void)
{
    struct buf out;
    buf_init(&out, 0);
    const char *r = NULL;

    /* The salt is HMAC-SHA256(secret, lowercased name), first 16 bytes. */
    unsigned char mac[32];
    hmac256(secret, 32, "nobody@x.test", 13, mac);
    char *want_salt = xstrdup(b64(mac, 16));
    const char *names[] = { "nobody@x.test", "NoBody@X.Test" };
    for (int i = 0; i < 2; i++) {
        char *first = xasprintf("n,,n=%s,r=abc", names[i]), *sf = NULL;
        struct sasl *s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, first, NULL, &sf);
        free(first);
        if (!s)
            continue;
        CHECK_STR(sasl_authcid(s), names[i]);
        char *nonce = sf_nonce(sf);
        char *want = xasprintf("r=%s,s=%s,i=%d", nonce, want_salt, AUTH_SCRAM_ITERATIONS);
        CHECK_STR(sf, want);
        free(want);
        free(nonce);
        free(sf);
        sasl_free(s);
    }
    free(want_salt);

    /* Another secret, another salt; another name, another salt. */
    char *sf1 = NULL, *sf2 = NULL, *sf3 = NULL;
    struct sasl *s1 = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=nobody,r=abc", NULL, &sf1);
    struct sasl *s3 = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=nobody2,r=abc", NULL, &sf3);
    struct sasl *s2 = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret2);
    CHECK_INT(sasl_step(s2, S("n,,n=nobody,r=abc"), true, &out, &r), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s2, NULL, &out, &r), SASL_CHALLENGE);
    sf2 = xstrdup(buf_cstr(&out));
    if (s1 && s3) {
        CHECK(strcmp(strstr(sf1, ",s="), strstr(sf2, ",s=")) != 0);
        CHECK(strcmp(strstr(sf1, ",s="), strstr(sf3, ",s=")) != 0);
    }
    sasl_free(s1);
    sasl_free(s2);
    sasl_free(s3);
    free(sf1);
    free(sf2);
    free(sf3);

    /* The exchange runs to the proof, which fails as a wrong password does,
     * whatever the client computes. */
    struct client guess;
    client_init(&guess, "pencil", test_salt, 16, 4096);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,,", "n=nobody,r=abc", NULL, NULL,
                        &guess, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256_PLUS, &cb_a, "p=tls-exporter,,", "n=nobody,r=abc",
                        &cb_a, NULL, &guess, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);
    /* Even knowing the fake salt does not help. */
    hmac256(secret, 32, "nobody", 6, mac);
    client_init(&guess, "pencil", mac, 16, AUTH_SCRAM_ITERATIONS);
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,,", "n=nobody,r=abc", NULL, NULL,
                        &guess, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);
    /* A real user with a wrong password: the same reason. */
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,,", "n=user,r=abc", NULL, &pencil,
                        &guess, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);

    /* Credentials without SCRAM keys (no iterations) count as unknown. */
    struct auth_credentials none;
    memset(&none, 0, sizeof(none));
    CHECK_INT(scram_run(SASL_MECH_SCRAM_SHA_256, NULL, "n,,", "n=nobody,r=abc", NULL, &none,
                        &guess, &r),
              SASL_FAILURE);
    CHECK_STR(r, R_WRONG);
    buf_free(&out);
}

/* ---- malformed messages ---- */

static void test_scram_malformed_first(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *reason; /* NULL: accepted */
    } cases[] = {
#define C(lit, r) { lit, sizeof(lit) - 1, r }
        C("", R_FIRST),
        C("n", R_FIRST),
        C("n,", R_FIRST),
        C("n,,", R_FIRST),
        C("N,,n=user,r=abc", R_FIRST),
        C(" n,,n=user,r=abc", R_FIRST),
        C("x,,n=user,r=abc", R_FIRST),
        C("nn,,n=user,r=abc", R_FIRST),
        C("F,n,,n=user,r=abc", R_FIRST),
        C("p,,n=user,r=abc", R_FIRST),
        C("p=,,n=user,r=abc", R_FIRST),
        C("p=tls exporter,,n=user,r=abc", R_FIRST),
        C("n,b=x,n=user,r=abc", R_FIRST),
        C("n,a=,n=user,r=abc", R_FIRST),
        C("n,a,n=user,r=abc", R_FIRST),
        C("n,a=x=41,n=user,r=abc", R_FIRST),
        C("n,a=x=2,n=user,r=abc", R_FIRST),
        C("n,a=x=,n=user,r=abc", R_FIRST),
        C("n,a=\xff,n=user,r=abc", R_UTF8_USER),
        C("n,,m=ext,n=user,r=abc", R_MEXT),
        C("n,,m=,n=user,r=abc", R_MEXT),
        C("n,,n=user", R_FIRST),
        C("n,,n=user,", R_FIRST),
        C("n,,r=abc,n=user", R_FIRST),
        C("n,,r=abc", R_FIRST),
        C("n,,N=user,r=abc", R_FIRST),
        C("n,,n=,r=abc", R_FIRST),
        C("n,,n,r=abc", R_FIRST),
        C("n,,n=us=er,r=abc", R_FIRST),
        C("n,,n=user=2,r=abc", R_FIRST),
        C("n,,n=user=3d=,r=abc", R_FIRST),
        C("n,,n=user=2G,r=abc", R_FIRST),
        C("n,,n=\xff,r=abc", R_UTF8_USER),
        C("n,,n=us\0er,r=abc", R_FIRST),
        C("n,,n=user,r=abc\0", R_FIRST),
        C("n,,n=user,r=", R_FIRST),
        C("n,,n=user,r", R_FIRST),
        C("n,,n=user,R=abc", R_FIRST),
        C("n,,n=user,r=ab c", R_FIRST),
        C("n,,n=user,r=abc\x7f", R_FIRST),
        C("n,,n=user,r=abc\xc3\xa4", R_FIRST),
        C("n,,n=user,r=abc,", R_FIRST),
        C("n,,n=user,r=abc,x", R_FIRST),
        C("n,,n=user,r=abc,x=", R_FIRST),
        C("n,,n=user,r=abc,=x", R_FIRST),
        C("n,,n=user,r=abc,1=x", R_FIRST),
        C("n,,n=user,r=abc,r=def", R_FIRST),
        C("n,,n=user,r=abc,n=other", R_FIRST),
        C("n,,n=user,r=abc,m=x", R_FIRST),
        C("n,,n=user,r=abc,p=x", R_FIRST),
        C("n,,n=user,r=abc,x=1,,y=2", R_FIRST),
        C("n,,n=user,m=x,r=abc", R_FIRST),
        /* Accepted: extensions, any printable nonce. */
        C("n,,n=user,r=abc,x=1", NULL),
        C("n,,n=user,r=abc,x=1,Z=a=b=c", NULL),
        C("n,,n=user,r=!\"#$%&'()*+-./:;<=>?@[\\]^_`{|}~", NULL),
        C("n,a=user,n=user,r=abc", NULL),
#undef C
    };
    struct buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
        const char *r = "unset";
        enum sasl_status st =
            sasl_step(s, (struct str){ cases[i].in, cases[i].len }, true, &out, &r);
        bool good = cases[i].reason ? st == SASL_FAILURE && r && !strcmp(r, cases[i].reason)
                                    : st == SASL_NEED_SCRAM;
        CHECK(good);
        CHECK_INT(out.len, 0);
        if (!good)
            fprintf(stderr, "  case %zu \"%s\": %d %s\n", i, cases[i].in, st, r ? r : "(null)");
        sasl_free(s);
    }

    /* Names: 255 bytes, no more (counted decoded). */
    char msg[8192];
    struct sasl *s;
    const char *r = NULL;
    strcpy(msg, "n,,n=");
    for (int i = 0; i < 256; i++)
        strcat(msg, "=3D");
    strcat(msg, ",r=abc");
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S(msg), true, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_LONG_USER);
    sasl_free(s);
    strcpy(msg, "n,a=");
    memset(msg + 4, 'a', 256);
    strcpy(msg + 260, ",n=user,r=abc");
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S(msg), true, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_LONG_USER);
    CHECK(sasl_authzid(s) == NULL);
    sasl_free(s);

    /* The whole message: 4096 bytes at most. */
    strcpy(msg, "n,,n=user,r=");
    memset(msg + 12, 'x', 4096 - 12);
    msg[4096] = '\0';
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S(msg), true, &out, &r), SASL_NEED_SCRAM);
    sasl_free(s);
    msg[4096] = 'x';
    msg[4097] = '\0';
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S(msg), true, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_TOO_LONG);
    sasl_free(s);

    /* An empty response to the empty challenge. */
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, STR_NULL, true, &out, &r), SASL_CHALLENGE);
    CHECK_INT(sasl_step(s, STR_NULL, false, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_FIRST);
    sasl_free(s);
    buf_free(&out);
}

/* fmt with {N} and {P} replaced (malloc'd). */
static char *subst(const char *fmt, const char *nonce, const char *proof)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = fmt; *p; p++) {
        if (!strncmp(p, "{N}", 3) || !strncmp(p, "{P}", 3)) {
            buf_append_cstr(&b, p[1] == 'N' ? nonce : proof);
            p += 2;
        } else {
            buf_append_char(&b, *p);
        }
    }
    char *out = xstrdup(buf_cstr(&b));
    buf_free(&b);
    return out;
}

static void test_scram_malformed_final(void)
{
    /* In each case {N} stands for the nonce and {P} for the right proof for
     * "c=biws,r={N}". */
    static const struct {
        const char *fmt;
        const char *reason;
    } cases[] = {
        { "", R_FINAL },
        { "c=biws", R_FINAL },
        { "c=biws,r={N}", R_FINAL },
        { "c=biws,r={N},", R_FINAL },
        { "r={N},c=biws,p={P}", R_FINAL },
        { "c=biws,p={P},r={N}", R_FINAL },
        { "c=biws,r={N},p=", R_FINAL },
        { "c=biws,r={N},p=!!!!", R_FINAL },
        { "c=biws,r={N},p={P}=", R_FINAL },
        { "c=biws,r={N},p={P},x=1", R_FINAL },
        { "c=biws,r={N},P={P}", R_FINAL },
        { "c=biws,r={N},x=1,p={P},p={P}", R_FINAL },
        { "c=biws,r={N},m=1,p={P}", R_FINAL },
        { "c=biws,r={N},c=biws,p={P}", R_FINAL },
        { "c=biws,r={N},,p={P}", R_FINAL },
        { "c=biws,r={N},x,p={P}", R_FINAL },
        { "c=biws,r={N},p=AAAA", R_FINAL },                                         /* 3 bytes */
        { "c=biws,r={N},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", R_FINAL },  /* 31 bytes */
        { "c=biws,r={N},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", R_FINAL }, /* 34 */
        { "c=biws,r={N},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", R_FINAL },   /* no = */
        { "c=biws,r={N},p= AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", R_FINAL },
        { "c=,r={N},p={P}", R_FINAL },
        { "c=biw,r={N},p={P}", R_FINAL },
        { "c=bi ws,r={N},p={P}", R_FINAL },
        { "C=biws,r={N},p={P}", R_FINAL },
        { "c=biws,R={N},p={P}", R_FINAL },
        { "c=eSws,r={N},p={P}", R_GS2 },                      /* "y,," */
        { "c=biw=,r={N},p={P}", R_GS2 },                      /* "n," */
        { "c=biwsYT11c2VyLA==,r={N},p={P}", R_CB },           /* "n,,a=user," */
        { "c=biws,r=x{N},p={P}", R_NONCE },
        { "c=biws,r=abc,p={P}", R_NONCE },
        { "c=biws,r={N}x,p={P}", R_NONCE },
        { "c=biws,r=,p={P}", R_NONCE },
        /* The right syntax and nonce, the wrong proof. */
        { "c=biws,r={N},p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", R_WRONG },
        /* The proof is for "c=biws,r=NONCE": an extension changes the
         * AuthMessage, so the proof no longer matches. */
        { "c=biws,r={N},x=1,p={P}", R_WRONG },
                { "c=biws,r={N},p={P}", NULL },
    };
    struct buf out;
    buf_init(&out, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *sf = NULL;
        struct sasl *s =
            scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=user,r=abc", &pencil, &sf);
        if (!s)
            continue;
        char *nonce = sf_nonce(sf);
        char *wop = xasprintf("c=biws,r=%s", nonce);
        char *right = client_final(&pencil_client, "n=user,r=abc", sf, wop, NULL);
        const char *proof = strstr(right, ",p=") + 3;
        char *msg = subst(cases[i].fmt, nonce, proof);
        const char *r = "unset";
        enum sasl_status st = sasl_step(s, S(msg), false, &out, &r);
        bool good = cases[i].reason ? st == SASL_FAILURE && r && !strcmp(r, cases[i].reason)
                                    : st == SASL_SUCCESS;
        CHECK(good);
        if (!good)
            fprintf(stderr, "  case %zu \"%s\": %d %s\n", i, msg, st, r ? r : "(null)");
        if (cases[i].reason)
            CHECK_INT(out.len, 0);
        free(msg);
        free(right);
        free(wop);
        free(nonce);
        free(sf);
        sasl_free(s);
    }

    /* NUL bytes, and the length limit. */
    char *sf = NULL;
    const char *r = NULL;
    struct sasl *s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=user,r=abc", &pencil, &sf);
    if (s) {
        CHECK_INT(sasl_step(s, STR_LIT("c=biws\0,r=abc,p=x"), false, &out, &r), SASL_FAILURE);
        CHECK_STR(r, R_FINAL);
        sasl_free(s);
        free(sf);
    }
    s = scram_start(SASL_MECH_SCRAM_SHA_256, NULL, "n,,n=user,r=abc", &pencil, &sf);
    if (s) {
        char *big = xmalloc(5000);
        memset(big, 'x', 4999);
        big[4999] = '\0';
        memcpy(big, "c=biws,r=abc,x=", 15);
        CHECK_INT(sasl_step(s, S(big), false, &out, &r), SASL_FAILURE);
        CHECK_STR(r, R_TOO_LONG);
        free(big);
        sasl_free(s);
        free(sf);
    }
    buf_free(&out);
}

/* Calls in the wrong state fail (and end the exchange). */
static void test_scram_order(void)
{
    struct buf out;
    buf_init(&out, 0);
    const char *r = NULL;

    struct sasl *s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_scram_credentials(s, &pencil, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    sasl_free(s);

    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &r), SASL_NEED_SCRAM);
    CHECK_INT(sasl_step(s, S("c=biws,r=abc,p=x"), false, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    sasl_free(s);

    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &r), SASL_NEED_SCRAM);
    CHECK_INT(sasl_password_result(s, true, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    sasl_free(s);

    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), true, &out, &r), SASL_NEED_SCRAM);
    CHECK_INT(sasl_scram_credentials(s, &pencil, &out, &r), SASL_CHALLENGE);
    CHECK_INT(sasl_scram_credentials(s, &pencil, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    CHECK_INT(out.len, 0);
    sasl_free(s);

    /* A failed exchange stays failed. */
    s = sasl_new(SASL_MECH_SCRAM_SHA_256, NULL, secret);
    CHECK_INT(sasl_step(s, S("bad"), true, &out, &r), SASL_FAILURE);
    CHECK_INT(sasl_step(s, S("n,,n=user,r=abc"), false, &out, &r), SASL_FAILURE);
    CHECK_STR(r, R_ORDER);
    sasl_free(s);
    buf_free(&out);
}

int main(void)
{
    if (auth_init() != 0) {
        fprintf(stderr, "auth_init failed\n");
        return 1;
    }
    make_cred(&pencil, "pencil", test_salt, 4096);
    client_init(&pencil_client, "pencil", test_salt, 16, 4096);
    for (int i = 0; i < SASL_CB_LEN; i++) {
        cb_a.data[i] = (unsigned char)i;
        cb_b.data[i] = (unsigned char)i;
    }
    cb_b.data[0] ^= 0x80;

    RUN(test_mech_names);
    RUN(test_plain_ok);
    RUN(test_plain_failures);
    RUN(test_login_ok);
    RUN(test_login_failures);
    RUN(test_scram_rfc7677);
    RUN(test_scram_nonce_and_exchange);
    RUN(test_scram_names);
    RUN(test_scram_plus_python);
    RUN(test_scram_plus);
    RUN(test_scram_unknown_user);
    RUN(test_scram_malformed_first);
    RUN(test_scram_malformed_final);
    RUN(test_scram_order);
    return TEST_DONE();
}
