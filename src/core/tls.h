/*
 * core/tls.h — server-side TLS with OpenSSL 3: the contexts every listener and
 * STARTTLS use, chosen by SNI; and the self-signed certificate quickstart writes.
 *
 * TLS 1.2 is the floor whatever the config says; compression and
 * renegotiation are off; the server's cipher order wins.
 *
 * A tls_server is immutable once made. SIGHUP builds a new one and swaps it in;
 * connections already open keep the one they started with (it is reference
 * counted through their SSL objects), so a reload never drops a connection.
 *
 * Owns: its SSL_CTXs. Never logs: errors come back as one line.
 */
#ifndef OUTPOST_CORE_TLS_H
#define OUTPOST_CORE_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "core/config.h"

struct tls_server;

/* Loads [tls] from cfg; paths are relative to the current directory (the
 * config's, after config_enter_dir). Returns NULL with *error_r allocated:
 * "FILE:LINE: [tls] cert: cannot load tls/cert.pem: reason". */
struct tls_server *tls_server_new(const struct config *cfg, char **error_r);
/* Drops the caller's reference; connections still using it keep it alive. */
void tls_server_unref(struct tls_server *t);
/* A new server-side SSL for one accepted connection (holds a reference). */
SSL *tls_server_new_ssl(struct tls_server *t);

/* The client side (outbound delivery, MTA-STS fetches): TLS 1.2 or newer,
 * trusting `ca_file` (PEM), or the system's store when it is NULL or "",
 * with DANE support enabled (SSL_dane_enable works on its SSLs). Whether a
 * certificate must verify is each connection's decision. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char **error_r);

/* "TLSv1.3", the cipher name, or "-" before a handshake. */
const char *tls_version_name(const SSL *ssl);
const char *tls_cipher_name(const SSL *ssl);
/* The tls-exporter channel binding of RFC 9266 (label
 * "EXPORTER-Channel-Binding", no context) into out[len]: only for a finished
 * TLS 1.3 handshake. Returns false otherwise. */
bool tls_exporter_binding(SSL *ssl, unsigned char *out, size_t len);

/* Writes a new P-256 key (mode 0600) and a self-signed certificate for
 * `hostname` valid two years, in PEM. Returns 0, or -1 with *error_r allocated. */
int tls_write_self_signed(const char *hostname, const char *cert_path, const char *key_path,
                          char **error_r);

/* The first error on OpenSSL's queue as text (the queue is cleared). */
const char *tls_last_error(char *out, size_t outlen);

#endif
