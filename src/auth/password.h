/*
 * auth/password.h — what the server keeps instead of a password.
 *
 * For every password we keep an argon2id hash (libsodium; for PLAIN and LOGIN)
 * and SCRAM-SHA-256 keys (RFC 5802/7677: salt, iterations, StoredKey,
 * ServerKey; for SCRAM, which never sends the password). Neither gives the
 * password back. Hashing is deliberately slow (tens of milliseconds and 64 MiB
 * for argon2id): in the server it runs in the worker pool, never on the loop.
 *
 * Owns: nothing. Never logs, never keeps a password: callers wipe theirs
 * (auth_wipe) as soon as they are done with it.
 */
#ifndef OUTPOST_AUTH_PASSWORD_H
#define OUTPOST_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_HASH_MAX 128        /* an argon2id string, NUL included */
#define AUTH_SCRAM_SALT_LEN 16
#define AUTH_SCRAM_KEY_LEN 32
#define AUTH_SCRAM_ITERATIONS 10000
#define AUTH_PASSWORD_MAX 1024   /* longer passwords are refused */

struct auth_credentials {
    char hash[AUTH_HASH_MAX];                       /* "$argon2id$v=19$m=...,t=...,p=1$..." */
    unsigned char scram_salt[AUTH_SCRAM_SALT_LEN];
    unsigned scram_iterations;
    unsigned char scram_stored_key[AUTH_SCRAM_KEY_LEN];
    unsigned char scram_server_key[AUTH_SCRAM_KEY_LEN];
};

/* Starts libsodium once per process. Returns 0 or -1. */
int auth_init(void);

/* Derives both kinds of credentials from a password (blocking: workers).
 * Returns 0, or -1 with *error_r set to a static reason (empty, too long,
 * out of memory). */
int auth_credentials_make(const char *password, size_t len, struct auth_credentials *out,
                          const char **error_r);

/* Checks a password against an argon2id hash in constant time for a given
 * hash (blocking: workers). */
bool auth_password_verify(const char *hash, const char *password, size_t len);

/* SCRAM: SaltedPassword, ClientKey, StoredKey and ServerKey as RFC 5802 §3
 * defines them, for a salt and iteration count. */
int auth_scram_keys(const char *password, size_t len, const unsigned char *salt, size_t saltlen,
                    unsigned iterations, unsigned char stored_key[AUTH_SCRAM_KEY_LEN],
                    unsigned char server_key[AUTH_SCRAM_KEY_LEN]);

/* A new random password: `len` characters from an alphabet without look-alikes
 * (no 0/O, 1/l/I). out must hold len + 1 bytes. */
void auth_password_generate(char *out, size_t len);

/* Overwrites secret memory in a way the compiler cannot drop. */
void auth_wipe(void *p, size_t len);

#endif
