#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/str.h"

#define TLS_MAX_NAMES 64

struct tls_cert {
    SSL_CTX *ctx;
    int nnames;
    char *names[TLS_MAX_NAMES]; /* subjectAltName DNS names, lower case */
};

struct tls_server {
    atomic_int refs;
    struct tls_cert def;
    int nextra;
    struct tls_cert *extra;
};

static int ssl_ref_index = -1;

const char *tls_last_error(char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();
    if (!e)
        snprintf(out, outlen, "unknown TLS error");
    else
        ERR_error_string_n(e, out, outlen);
    ERR_clear_error();
    return out;
}

static void cert_free(struct tls_cert *c)
{
    SSL_CTX_free(c->ctx);
    for (int i = 0; i < c->nnames; i++)
        free(c->names[i]);
}

void tls_server_unref(struct tls_server *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    cert_free(&t->def);
    for (int i = 0; i < t->nextra; i++)
        cert_free(&t->extra[i]);
    free(t->extra);
    free(t);
}

/* Runs when an SSL made by tls_server_new_ssl is freed. */
static void ssl_ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    tls_server_unref(ptr);
}

static bool name_matches(const char *pattern, const char *name)
{
    if (strcasecmp(pattern, name) == 0)
        return true;
    /* "*.example.org" covers exactly one more label. */
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot && dot != name && strcasecmp(pattern + 1, dot) == 0;
    }
    return false;
}

static int sni_callback(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    struct tls_server *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    for (int i = 0; i < t->nextra; i++) {
        for (int j = 0; j < t->extra[i].nnames; j++) {
            if (name_matches(t->extra[i].names[j], name)) {
                SSL_set_SSL_CTX(ssl, t->extra[i].ctx);
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_OK; /* the default certificate */
}

static void collect_names(struct tls_cert *c)
{
    X509 *x = SSL_CTX_get0_certificate(c->ctx);
    if (!x)
        return;
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && c->nnames < TLS_MAX_NAMES; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type != GEN_DNS)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(gn->d.dNSName);
        int len = ASN1_STRING_length(gn->d.dNSName);
        c->names[c->nnames++] = xstrndup((const char *)p, (size_t)len);
    }
    GENERAL_NAMES_free(sans);
}

/* A key with a passphrase would make OpenSSL ask on the terminal, freezing
 * the event loop: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* Whether a PEM key file is passphrase-protected (PKCS#8 or the old
 * "Proc-Type: 4,ENCRYPTED" form), to say so instead of OpenSSL's error. */
static bool pem_is_encrypted(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[256];
    bool enc = false;
    for (int i = 0; i < 4 && fgets(line, sizeof(line), f); i++)
        if (strstr(line, "ENCRYPTED"))
            enc = true;
    fclose(f);
    return enc;
}

static int load_cert(struct tls_cert *c, const struct config *cfg, const char *cert,
                     const char *key, enum config_id where_id, enum config_id key_id,
                     char **error_r)
{
    char where[512], err[256];
    config_where(cfg, where_id, where, sizeof(where));
    const struct config_setting *s = &config_settings[where_id];

    c->ctx = SSL_CTX_new(TLS_server_method());
    if (!c->ctx)
        goto openssl_fail;
    int minv = strcmp(cfg->tls_min_version, "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(c->ctx, minv);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_dh_auto(c->ctx, 1);
    SSL_CTX_set_default_passwd_cb(c->ctx, no_passphrase);
    char cwhere[512];
    if (SSL_CTX_set_cipher_list(c->ctx, cfg->tls_ciphers) != 1) {
        *error_r = xasprintf("%s: [tls] ciphers: no usable cipher in the list (%s)",
                             config_where(cfg, CFG_ID_tls_ciphers, cwhere, sizeof(cwhere)),
                             tls_last_error(err, sizeof(err)));
        return -1;
    }
    if (SSL_CTX_set_ciphersuites(c->ctx, cfg->tls_ciphersuites) != 1) {
        *error_r = xasprintf("%s: [tls] ciphersuites: no usable suite in the list (%s)",
                             config_where(cfg, CFG_ID_tls_ciphersuites, cwhere, sizeof(cwhere)),
                             tls_last_error(err, sizeof(err)));
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1) {
        *error_r = xasprintf("%s: [%s] %s: cannot load certificate %s: %s", where, s->section,
                             s->key, cert, tls_last_error(err, sizeof(err)));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_last_error(err, sizeof(err));
        const struct config_setting *ks = &config_settings[key_id];
        config_where(cfg, key_id, where, sizeof(where));
        *error_r = xasprintf("%s: [%s] %s: cannot load private key %s: %s", where, ks->section,
                             ks->key, key,
                             pem_is_encrypted(key) ? "it is protected by a passphrase, which outpost cannot "
                                         "ask for (decrypt it: openssl pkey -in KEY -out KEY)"
                                       : err);
        return -1;
    }
    if (SSL_CTX_check_private_key(c->ctx) != 1) {
        const struct config_setting *ks = &config_settings[key_id];
        config_where(cfg, key_id, where, sizeof(where));
        *error_r = xasprintf("%s: [%s] %s: %s does not belong to certificate %s", where,
                             ks->section, ks->key, key, cert);
        ERR_clear_error();
        return -1;
    }
    collect_names(c);
    return 0;
openssl_fail:
    *error_r = xasprintf("TLS: %s", tls_last_error(err, sizeof(err)));
    return -1;
}

struct tls_server *tls_server_new(const struct config *cfg, char **error_r)
{
    if (ssl_ref_index < 0)
        ssl_ref_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, ssl_ref_free);

    struct tls_server *t = xcalloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    if (load_cert(&t->def, cfg, cfg->tls_cert, cfg->tls_key, CFG_ID_tls_cert, CFG_ID_tls_key,
                  error_r) < 0)
        goto fail;

    /* extra_certs: "CERT:KEY CERT:KEY ..." (validated by the config). */
    const char *p = cfg->tls_extra_certs;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n) {
            char *pair = xstrndup(p, n);
            char *colon = strchr(pair, ':');
            t->extra = xrealloc(t->extra, sizeof(*t->extra) * (size_t)(t->nextra + 1));
            struct tls_cert *c = &t->extra[t->nextra++];
            memset(c, 0, sizeof(*c));
            int r = -1;
            if (colon) {
                *colon = '\0';
                r = load_cert(c, cfg, pair, colon + 1, CFG_ID_tls_extra_certs,
                              CFG_ID_tls_extra_certs, error_r);
            }
            free(pair);
            if (r < 0)
                goto fail;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    SSL_CTX_set_tlsext_servername_callback(t->def.ctx, sni_callback);
    SSL_CTX_set_tlsext_servername_arg(t->def.ctx, t);
    return t;
fail:
    tls_server_unref(t);
    return NULL;
}

SSL *tls_server_new_ssl(struct tls_server *t)
{
    SSL *ssl = SSL_new(t->def.ctx);
    if (!ssl)
        return NULL;
    atomic_fetch_add(&t->refs, 1);
    SSL_set_ex_data(ssl, ssl_ref_index, t);
    return ssl;
}

const char *tls_version_name(const SSL *ssl)
{
    return ssl ? SSL_get_version(ssl) : "-";
}

const char *tls_cipher_name(const SSL *ssl)
{
    const char *c = ssl ? SSL_get_cipher_name(ssl) : NULL;
    return c ? c : "-";
}

static int write_pem(const char *path, mode_t mode, int (*writer)(FILE *, void *), void *obj,
                     char **error_r)
{
    char *tmp = xasprintf("%s.tmp", path);
    unlink(tmp); /* a stale one from a crash, whatever its mode */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0 && fchmod(fd, mode) < 0) { /* exactly `mode`, whatever the umask */
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        *error_r = xasprintf("%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && writer(f, obj) == 1;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f)
        fclose(f);
    else
        close(fd);
    if (!ok || rename(tmp, path) < 0) {
        *error_r = xasprintf("%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int write_key(FILE *f, void *pkey)
{
    return PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
}

static int write_cert(FILE *f, void *x)
{
    return PEM_write_X509(f, x);
}

int tls_write_self_signed(const char *hostname, const char *cert_path, const char *key_path,
                          char **error_r)
{
    char err[256];
    int ret = -1;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext = NULL;
    if (!pkey || !x)
        goto openssl_fail;

    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto openssl_fail;
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto openssl_fail;
    }
    BN_free(bn);

    X509_set_version(x, X509_VERSION_3);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 2L * 365 * 24 * 3600);
    X509_NAME *name = X509_get_subject_name(x);
    /* A CN holds at most 64 characters; a longer host name goes only in the
     * subjectAltName, which is then critical (RFC 5280 §4.2.1.6). */
    bool cn = strlen(hostname) <= 64;
    if (cn && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                         (const unsigned char *)hostname, -1, -1, 0) != 1)
        goto openssl_fail;
    X509_set_issuer_name(x, name);
    if (X509_set_pubkey(x, pkey) != 1)
        goto openssl_fail;

    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    char *san = xasprintf("%sDNS:%s", cn ? "" : "critical,", hostname);
    const char *exts[][2] = {
        { "subjectAltName", san },
        { "basicConstraints", "critical,CA:FALSE" },
        { "keyUsage", "critical,digitalSignature" },
        { "extendedKeyUsage", "serverAuth" },
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        ext = X509V3_EXT_nconf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!ext || X509_add_ext(x, ext, -1) != 1) {
            free(san);
            goto openssl_fail;
        }
        X509_EXTENSION_free(ext);
        ext = NULL;
    }
    free(san);
    if (X509_sign(x, pkey, EVP_sha256()) <= 0)
        goto openssl_fail;

    if (write_pem(key_path, 0600, write_key, pkey, error_r) < 0)
        goto out;
    if (write_pem(cert_path, 0644, write_cert, x, error_r) < 0)
        goto out;
    ret = 0;
    goto out;
openssl_fail:
    *error_r = xasprintf("cannot make a certificate: %s", tls_last_error(err, sizeof(err)));
out:
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ret;
}

bool tls_exporter_binding(SSL *ssl, unsigned char *out, size_t len)
{
    if (!ssl || !SSL_is_init_finished(ssl) || SSL_version(ssl) != TLS1_3_VERSION)
        return false;
    static const char label[] = "EXPORTER-Channel-Binding";
    return SSL_export_keying_material(ssl, out, len, label, sizeof(label) - 1, NULL, 0, 0) == 1;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, char **error_r)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char why[256];
    if (!ctx) {
        *error_r = xasprintf("cannot make a TLS client context: %s",
                             tls_last_error(why, sizeof(why)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    int ok = ca_file && *ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        *error_r = xasprintf("cannot load trusted certificates%s%s: %s",
                             ca_file && *ca_file ? " from " : "", ca_file ? ca_file : "",
                             tls_last_error(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_dane_enable(ctx) <= 0) {
        *error_r = xasprintf("cannot enable DANE: %s", tls_last_error(why, sizeof(why)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
