#include "auth/password.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

int auth_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void auth_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

int auth_scram_keys(const char *password, size_t len, const unsigned char *salt, size_t saltlen,
                    unsigned iterations, unsigned char stored_key[AUTH_SCRAM_KEY_LEN],
                    unsigned char server_key[AUTH_SCRAM_KEY_LEN])
{
    unsigned char salted[AUTH_SCRAM_KEY_LEN], client_key[AUTH_SCRAM_KEY_LEN];
    unsigned int n = 0;
    int ok = PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)saltlen, (int)iterations,
                               EVP_sha256(), sizeof(salted), salted) == 1;
    ok = ok && HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Client Key", 10,
                    client_key, &n) != NULL;
    ok = ok && SHA256(client_key, sizeof(client_key), stored_key) != NULL;
    ok = ok && HMAC(EVP_sha256(), salted, sizeof(salted), (const unsigned char *)"Server Key", 10,
                    server_key, &n) != NULL;
    auth_wipe(salted, sizeof(salted));
    auth_wipe(client_key, sizeof(client_key));
    return ok ? 0 : -1;
}

int auth_credentials_make(const char *password, size_t len, struct auth_credentials *out,
                          const char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (len == 0) {
        *error_r = "the password is empty";
        return -1;
    }
    if (len > AUTH_PASSWORD_MAX) {
        *error_r = "the password is longer than 1024 bytes";
        return -1;
    }
    if (memchr(password, '\0', len)) {
        *error_r = "the password contains a NUL byte";
        return -1;
    }
    _Static_assert(crypto_pwhash_STRBYTES <= AUTH_HASH_MAX, "argon2id string fits");
    if (crypto_pwhash_str_alg(out->hash, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        *error_r = "out of memory while hashing the password";
        return -1;
    }
    randombytes_buf(out->scram_salt, sizeof(out->scram_salt));
    out->scram_iterations = AUTH_SCRAM_ITERATIONS;
    if (auth_scram_keys(password, len, out->scram_salt, sizeof(out->scram_salt),
                        out->scram_iterations, out->scram_stored_key, out->scram_server_key) < 0) {
        *error_r = "cannot derive SCRAM keys";
        return -1;
    }
    return 0;
}

bool auth_password_verify(const char *hash, const char *password, size_t len)
{
    if (len == 0 || len > AUTH_PASSWORD_MAX)
        return false;
    return crypto_pwhash_str_verify(hash, password, len) == 0;
}

void auth_password_generate(char *out, size_t len)
{
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    out[len] = '\0';
}
