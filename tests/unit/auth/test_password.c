/*
 * Unit tests for auth/password.h: argon2id credentials, SCRAM-SHA-256 keys
 * (checked against the exchange of RFC 7677 §3) and generated passwords.
 *
 * auth_credentials_make is deliberately slow (~0.1 s and 64 MiB each), so the
 * tests make as few credentials as they can.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "auth/password.h"
#include "test.h"

#define E_EMPTY "the password is empty"
#define E_LONG "the password is longer than 1024 bytes"
#define E_NUL "the password contains a NUL byte"

/* Decodes standard base64 into out (exactly `want` bytes expected). */
static int b64(const char *in, unsigned char *out, size_t outlen, size_t want)
{
    size_t n = 0;
    if (sodium_base642bin(out, outlen, in, strlen(in), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return n == want ? 0 : -1;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

/* A refused password: -1, the exact reason, and nothing left in out. */
static void expect_refused(const char *pw, size_t len, const char *want)
{
    struct auth_credentials c;
    memset(&c, 0xAA, sizeof(c));
    const char *err = NULL;
    CHECK_INT(auth_credentials_make(pw, len, &c, &err), -1);
    CHECK_STR(err, want);
    CHECK(all_zero(&c, sizeof(c)));
}

static void test_make_refuses(void)
{
    expect_refused("", 0, E_EMPTY);
    expect_refused("ignored", 0, E_EMPTY);
    expect_refused("ab\0cd", 5, E_NUL);
    expect_refused("\0", 1, E_NUL);
    expect_refused("abcd\0", 5, E_NUL);

    char *big = malloc(AUTH_PASSWORD_MAX + 2);
    memset(big, 'x', AUTH_PASSWORD_MAX + 1);
    big[AUTH_PASSWORD_MAX + 1] = '\0';
    expect_refused(big, AUTH_PASSWORD_MAX + 1, E_LONG);
    /* Length is checked before content. */
    big[10] = '\0';
    expect_refused(big, AUTH_PASSWORD_MAX + 1, E_LONG);
    free(big);
}

/* The SCRAM keys in c are those of password pw for c's salt and count. */
static bool scram_matches(const struct auth_credentials *c, const char *pw, size_t len)
{
    unsigned char stored[AUTH_SCRAM_KEY_LEN], server[AUTH_SCRAM_KEY_LEN];
    if (auth_scram_keys(pw, len, c->scram_salt, sizeof(c->scram_salt), c->scram_iterations,
                        stored, server) != 0)
        return false;
    return memcmp(stored, c->scram_stored_key, sizeof(stored)) == 0 &&
           memcmp(server, c->scram_server_key, sizeof(server)) == 0;
}

static void test_make_and_verify(void)
{
    static const char pw[] = "correct horse battery staple";
    struct auth_credentials c;
    const char *err = NULL;
    CHECK_INT(auth_credentials_make(pw, strlen(pw), &c, &err), 0);
    CHECK(err == NULL);
    CHECK(strncmp(c.hash, "$argon2id$", 10) == 0);
    CHECK(strncmp(c.hash, "$argon2id$v=19$", 15) == 0);
    CHECK(strlen(c.hash) < AUTH_HASH_MAX);
    /* The hash does not contain the password. */
    CHECK(strstr(c.hash, pw) == NULL);

    CHECK(auth_password_verify(c.hash, pw, strlen(pw)));
    CHECK(!auth_password_verify(c.hash, "correct horse battery stapla", strlen(pw)));
    CHECK(!auth_password_verify(c.hash, "Correct horse battery staple", strlen(pw)));
    CHECK(!auth_password_verify(c.hash, pw, strlen(pw) - 1));
    CHECK(!auth_password_verify(c.hash, "", 0));
    CHECK(!auth_password_verify("not a hash", pw, strlen(pw)));
    CHECK(!auth_password_verify("", pw, strlen(pw)));

    /* SCRAM: 10,000 iterations, a random salt, keys derived from it. */
    CHECK_INT(c.scram_iterations, AUTH_SCRAM_ITERATIONS);
    CHECK_INT(c.scram_iterations, 10000);
    CHECK(!all_zero(c.scram_salt, sizeof(c.scram_salt)));
    CHECK(scram_matches(&c, pw, strlen(pw)));
    CHECK(!scram_matches(&c, "correct horse battery stapla", strlen(pw)));

    /* The same password again: another salt, so other hash and keys, and
     * both hashes verify. */
    struct auth_credentials d;
    CHECK_INT(auth_credentials_make(pw, strlen(pw), &d, &err), 0);
    CHECK(strcmp(c.hash, d.hash) != 0);
    CHECK(memcmp(c.scram_salt, d.scram_salt, sizeof(c.scram_salt)) != 0);
    CHECK(memcmp(c.scram_stored_key, d.scram_stored_key, sizeof(c.scram_stored_key)) != 0);
    CHECK(memcmp(c.scram_server_key, d.scram_server_key, sizeof(c.scram_server_key)) != 0);
    CHECK(auth_password_verify(d.hash, pw, strlen(pw)));
    CHECK(scram_matches(&d, pw, strlen(pw)));
}

/* The longest password accepted is exactly AUTH_PASSWORD_MAX bytes, and
 * verify accepts it too. */
static void test_longest_password(void)
{
    char *pw = malloc(AUTH_PASSWORD_MAX + 2);
    for (size_t i = 0; i < AUTH_PASSWORD_MAX + 1; i++)
        pw[i] = (char)('a' + i % 26);
    pw[AUTH_PASSWORD_MAX + 1] = '\0';
    struct auth_credentials c;
    const char *err = NULL;
    CHECK_INT(auth_credentials_make(pw, AUTH_PASSWORD_MAX, &c, &err), 0);
    CHECK(err == NULL);
    CHECK(auth_password_verify(c.hash, pw, AUTH_PASSWORD_MAX));
    CHECK(!auth_password_verify(c.hash, pw, AUTH_PASSWORD_MAX + 1));
    CHECK(!auth_password_verify(c.hash, pw, AUTH_PASSWORD_MAX - 1));
    free(pw);
}

/*
 * RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==,
 * 4096 iterations. The RFC gives the client's proof and the server's
 * signature; from StoredKey and ServerKey:
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *   ClientKey       = ClientProof XOR HMAC(StoredKey, AuthMessage)
 *   StoredKey       = SHA-256(ClientKey)
 */
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SIGNATURE "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
static const char rfc_auth_message[] =
    "n=user,r=rOprNGfwEbeRWgbNEkqO,"
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

static void hmac256(const unsigned char *key, size_t keylen, const char *msg,
                    unsigned char out[32])
{
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &n);
    CHECK_INT(n, 32);
}

/* Whether keys for (pw, iterations) reproduce the RFC's exchange: the
 * server's signature (*server_ok) and the client's proof (*client_ok). */
static void rfc_check(const char *pw, unsigned iterations, bool *server_ok, bool *client_ok)
{
    unsigned char salt[16], proof[32], signature[32];
    CHECK_INT(b64(RFC_SALT, salt, sizeof(salt), 16), 0);
    CHECK_INT(b64(RFC_PROOF, proof, sizeof(proof), 32), 0);
    CHECK_INT(b64(RFC_SIGNATURE, signature, sizeof(signature), 32), 0);

    unsigned char stored[AUTH_SCRAM_KEY_LEN], server[AUTH_SCRAM_KEY_LEN];
    memset(stored, 0, sizeof(stored));
    memset(server, 0, sizeof(server));
    CHECK_INT(auth_scram_keys(pw, strlen(pw), salt, sizeof(salt), iterations, stored, server), 0);

    unsigned char sig[32];
    hmac256(server, sizeof(server), rfc_auth_message, sig);
    *server_ok = memcmp(sig, signature, 32) == 0;

    unsigned char client_sig[32], client_key[32], hashed[32];
    hmac256(stored, sizeof(stored), rfc_auth_message, client_sig);
    for (int i = 0; i < 32; i++)
        client_key[i] = proof[i] ^ client_sig[i];
    SHA256(client_key, sizeof(client_key), hashed);
    *client_ok = memcmp(hashed, stored, 32) == 0;
}

static void test_scram_rfc7677(void)
{
    bool server_ok = false, client_ok = false;
    rfc_check("pencil", 4096, &server_ok, &client_ok);
    CHECK(server_ok);
    CHECK(client_ok);

    /* The check can fail: another password, or another count. */
    rfc_check("pencil2", 4096, &server_ok, &client_ok);
    CHECK(!server_ok);
    CHECK(!client_ok);
    rfc_check("pencil", 4095, &server_ok, &client_ok);
    CHECK(!server_ok);
    CHECK(!client_ok);
}

/* Same inputs, same keys; StoredKey and ServerKey differ from each other. */
static void test_scram_deterministic(void)
{
    static const unsigned char salt[] = "0123456789abcdef";
    unsigned char s1[32], k1[32], s2[32], k2[32];
    CHECK_INT(auth_scram_keys("secret", 6, salt, 16, 100, s1, k1), 0);
    CHECK_INT(auth_scram_keys("secret", 6, salt, 16, 100, s2, k2), 0);
    CHECK(memcmp(s1, s2, 32) == 0);
    CHECK(memcmp(k1, k2, 32) == 0);
    CHECK(memcmp(s1, k1, 32) != 0);
    /* Another salt changes both. */
    CHECK_INT(auth_scram_keys("secret", 6, salt + 1, 15, 100, s2, k2), 0);
    CHECK(memcmp(s1, s2, 32) != 0);
    CHECK(memcmp(k1, k2, 32) != 0);
    /* The length counts, not the NUL: "secret" and "secre". */
    CHECK_INT(auth_scram_keys("secret", 5, salt, 16, 100, s2, k2), 0);
    CHECK(memcmp(s1, s2, 32) != 0);
}

#define ALPHABET "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

static void test_generate(void)
{
    /* Length, terminator, and nothing written past it. */
    static const size_t lens[] = { 0, 1, 8, 16, 32, 100 };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        char buf[128];
        memset(buf, '#', sizeof(buf));
        auth_password_generate(buf, lens[i]);
        CHECK_INT(strlen(buf), lens[i]);
        CHECK(buf[lens[i] + 1] == '#');
        CHECK_INT(strspn(buf, ALPHABET), lens[i]);
    }

    /* No look-alikes; over many characters every letter of the alphabet
     * shows up (57 letters, 5700 draws: a miss is astronomically unlikely). */
    enum { N = 5700 };
    char *many = malloc(N + 1);
    auth_password_generate(many, N);
    CHECK_INT(strlen(many), N);
    CHECK_INT(strspn(many, ALPHABET), N);
    CHECK(strpbrk(many, "0O1lI") == NULL);
    CHECK(strpbrk(many, " +/=-_") == NULL);
    int missing = 0;
    for (const char *c = ALPHABET; *c; c++)
        if (!strchr(many, *c)) {
            fprintf(stderr, "  '%c' never generated\n", *c);
            missing++;
        }
    CHECK_INT(missing, 0);
    free(many);

    /* Two passwords differ. */
    char a[25], b[25];
    auth_password_generate(a, 24);
    auth_password_generate(b, 24);
    CHECK(strcmp(a, b) != 0);
}

static void test_wipe(void)
{
    char secret[] = "hunter2hunter2";
    auth_wipe(secret, sizeof(secret));
    CHECK(all_zero(secret, sizeof(secret)));
}

int main(void)
{
    if (auth_init() != 0) {
        fprintf(stderr, "auth_init failed\n");
        return 1;
    }
    RUN(test_make_refuses);
    RUN(test_make_and_verify);
    RUN(test_longest_password);
    RUN(test_scram_rfc7677);
    RUN(test_scram_deterministic);
    RUN(test_generate);
    RUN(test_wipe);
    return TEST_DONE();
}
