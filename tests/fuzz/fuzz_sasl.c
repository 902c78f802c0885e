/* Fuzzes the SASL mechanisms with client messages. The first byte chooses
 * the exchange, the rest is the client's messages, separated by '\n':
 *
 *   bits 0-1  mechanism (PLAIN, LOGIN, SCRAM-SHA-256, SCRAM-SHA-256-PLUS)
 *   bit 2     the connection has channel binding (32 bytes of 0xcb)
 *   bit 3     no initial response (the first step gets none)
 *   bit 4     SCRAM: unknown user (no credentials)
 *   bit 5     PLAIN/LOGIN: the password check says yes
 *   bit 6     SCRAM: the server nonce is fixed to "SERVERNONCE" (test hook),
 *             so the input can send it back
 *   bit 7     SCRAM: the harness acts as the client holding the password
 *             "pencil" and appends the right ",p=..." to the last message
 *
 * Checked: every failure has a reason and sends nothing; a password check is
 * asked only with a user name and a password within the limits; the
 * server-first-message is "r=...,s=...,i=..." in printable ASCII; SCRAM never
 * succeeds for an unknown user, and when it succeeds its "v=" is the server
 * signature the client expects.
 *
 * Seeds (corpus/sasl/): PLAIN and LOGIN exchanges, SCRAM client-first and
 * client-final messages (with and without channel binding), and a complete
 * exchange the harness signs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/sasl_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_credentials cred;
static unsigned char client_key[32], server_key[32];
static const unsigned char secret[32] = "fuzz secret fuzz secret fuzz se";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *err = NULL;
    if (auth_init() != 0 || auth_credentials_make("pencil", 6, &cred, &err) != 0)
        abort();
    /* The client's keys, once: PBKDF2 is slow on purpose. */
    unsigned char salted[32];
    unsigned int n = 0;
    if (PKCS5_PBKDF2_HMAC("pencil", 6, cred.scram_salt, sizeof(cred.scram_salt),
                          (int)cred.scram_iterations, EVP_sha256(), 32, salted) != 1 ||
        !HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &n) ||
        !HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, server_key, &n))
        abort();
    return 0;
}

static void check_failure(enum sasl_status st, const char *reason, const struct buf *out)
{
    if (st == SASL_FAILURE && (!reason || !*reason || out->len))
        abort();
    if (st != SASL_FAILURE && reason)
        abort();
}

static void check_server_first(const struct buf *out, bool unknown)
{
    const char *p = buf_cstr(out);
    if (strncmp(p, "r=", 2) != 0 || !strstr(p, ",s=") || !strstr(p, ",i="))
        abort();
    for (size_t i = 0; i < out->len; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            abort();
    char want[32];
    snprintf(want, sizeof(want), ",i=%u", unknown ? AUTH_SCRAM_ITERATIONS : cred.scram_iterations);
    size_t wl = strlen(want);
    if (out->len < wl || memcmp(p + out->len - wl, want, wl) != 0)
        abort();
}

/* The right proof for this exchange, appended to `final` (the client-final
 * message without proof); *expect_v gets the server signature. */
static void sign(struct buf *final, struct str first, const struct buf *server_first,
                 unsigned char expect_v[32])
{
    /* client-first-message-bare: after the GS2 header's two commas. */
    const char *c1 = memchr(first.p, ',', first.len);
    const char *c2 = c1 ? memchr(c1 + 1, ',', first.len - (size_t)(c1 + 1 - first.p)) : NULL;
    if (!c2)
        abort(); /* the server accepted it, so it has a GS2 header */
    struct buf am;
    buf_init(&am, 0);
    buf_append(&am, c2 + 1, first.len - (size_t)(c2 + 1 - first.p));
    buf_append_char(&am, ',');
    buf_append_str(&am, buf_str(server_first));
    buf_append_char(&am, ',');
    buf_append_str(&am, buf_str(final));
    unsigned char stored[32], sig[32], proof[32];
    unsigned int n = 0;
    SHA256(client_key, 32, stored);
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)am.p, am.len, sig, &n);
    for (int i = 0; i < 32; i++)
        proof[i] = client_key[i] ^ sig[i];
    HMAC(EVP_sha256(), server_key, 32, (const unsigned char *)am.p, am.len, expect_v, &n);
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof(b64), proof, 32, sodium_base64_VARIANT_ORIGINAL);
    buf_printf(final, ",p=%s", b64);
    buf_free(&am);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    enum sasl_mech mech = (enum sasl_mech)(flags & 3);
    bool scram = mech == SASL_MECH_SCRAM_SHA_256 || mech == SASL_MECH_SCRAM_SHA_256_PLUS;
    bool unknown = flags & 16;
    struct sasl_channel_binding cb;
    memset(cb.data, 0xcb, sizeof(cb.data));

    /* The messages. */
    struct str msgs[8];
    size_t nmsgs = 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (nmsgs < 8) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        msgs[nmsgs++] = (struct str){ p, (size_t)((nl ? nl : end) - p) };
        if (!nl)
            break;
        p = nl + 1;
    }

    struct sasl *s = sasl_new(mech, (flags & 4) ? &cb : NULL, secret);
    if (flags & 64)
        sasl_test_set_nonce(s, "SERVERNONCE");
    struct buf out, server_first, final;
    buf_init(&out, 0);
    buf_init(&server_first, 0);
    buf_init(&final, 0);
    struct str client_first = STR_NULL;
    unsigned char expect_v[32];
    bool signed_final = false, password_ok = false;

    const char *reason = NULL;
    size_t next = 0;
    enum sasl_status st;
    if (flags & 8)
        st = sasl_step(s, STR_NULL, true, &out, &reason);
    else {
        client_first = msgs[next];
        st = sasl_step(s, msgs[next++], true, &out, &reason);
    }
    for (int steps = 0; steps < 16; steps++) {
        check_failure(st, reason, &out);
        if (st == SASL_CHALLENGE) {
            if (next >= nmsgs)
                break;
            struct str in = msgs[next++];
            if (scram && server_first.len == 0) {
                client_first = in;
            } else if (scram && (flags & 128) && !signed_final) {
                buf_clear(&final);
                buf_append_str(&final, in);
                sign(&final, client_first, &server_first, expect_v);
                in = buf_str(&final);
                signed_final = true;
            }
            st = sasl_step(s, in, false, &out, &reason);
        } else if (st == SASL_CHECK_PASSWORD) {
            const char *user = sasl_authcid(s);
            struct str pw = sasl_password(s);
            if (scram || !user || !*user || strlen(user) > 255 || pw.len == 0 ||
                pw.len > AUTH_PASSWORD_MAX || memchr(pw.p, '\0', pw.len))
                abort();
            const char *z = sasl_authzid(s);
            if (z && strlen(z) > 255)
                abort();
            password_ok = flags & 32;
            st = sasl_password_result(s, password_ok, &reason);
        } else if (st == SASL_NEED_SCRAM) {
            if (!scram || !sasl_authcid(s) || !*sasl_authcid(s))
                abort();
            st = sasl_scram_credentials(s, unknown ? NULL : &cred, &out, &reason);
            if (st == SASL_CHALLENGE) {
                check_server_first(&out, unknown);
                buf_append_str(&server_first, buf_str(&out));
            }
        } else if (st == SASL_SUCCESS) {
            if (scram) {
                if (unknown || out.len < 2 || memcmp(out.p, "v=", 2) != 0)
                    abort();
                if (signed_final) {
                    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
                    sodium_bin2base64(b64, sizeof(b64), expect_v, 32,
                                      sodium_base64_VARIANT_ORIGINAL);
                    if (strcmp(out.p + 2, b64) != 0)
                        abort();
                } else {
                    abort(); /* a proof the fuzzer guessed: impossible */
                }
            } else if (!password_ok || out.len) {
                abort();
            }
            break;
        } else {
            break;
        }
    }
    /* Whatever state it is in, a further step fails or goes on sanely. */
    st = sasl_step(s, STR_LIT("n,,n=x,r=y"), false, &out, &reason);
    check_failure(st, reason, &out);

    buf_free(&out);
    buf_free(&server_first);
    buf_free(&final);
    sasl_free(s);
    return 0;
}
