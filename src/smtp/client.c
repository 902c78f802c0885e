/* One outbound SMTP connection (see client.h). */
#include "smtp/client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/tls.h"
#include "mime/downgrade.h"
#include "smtp/mtasts.h"
#include "smtp/parse.h"
#include "smtp/reply.h"

/* Queued output above this waits for the peer before more of a message is
 * read into it: a large message is never all in memory twice. */
#define BODY_HIGH (256u << 10)
#define BODY_LOW (64u << 10)
#define BODY_CHUNK (64u << 10)

enum state {
    S_CONNECT,
    S_GREETING,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_TLS,        /* handshake */
    S_AUTH,
    S_READY,
    S_TXN,        /* waiting for the replies in `expect` */
    S_BODY,       /* sending the message */
    S_QUIT,
    S_DONE,
};

/* What each pipelined reply answers. */
enum expect {
    X_MAIL,
    X_RCPT,
    X_DATA,       /* DATA: 354 expected */
    X_END,        /* the end of data (DATA or BDAT LAST) */
    X_END_VOID,   /* the end of an empty DATA nobody was to get */
    X_RSET,
};

#define MAX_EXPECT 4

struct smtp_client {
    struct conn *c;
    struct smtp_client_params p;
    char *host, *tls_name, *helo, *auth_user, *auth_password;
    struct dns_tlsa *tlsa;
    int ntlsa;
    const struct smtp_client_handler *h;
    void *ctx;
    enum state st;
    struct smtp_reply_reader rr;
    struct smtp_client_info info;
    char *verify_error;
    char *peer;
    bool tls_failed;
    bool greeted;
    bool ready_sent;
    bool closing;
    int depth;               /* our callbacks on the stack (enter/leave) */
    bool dead;               /* closed: freed when depth drops to 0 */
    bool txn_ended_in_read;  /* a transaction ended during this read */
    bool body_out;           /* the whole message has left (data_sent) */
    /* The session's failure before ready, for `closed`. */
    int fail_code;
    char *fail_reply;

    /* The transaction. */
    struct smtp_client_txn *txn;
    enum expect *queue;      /* replies still due, in order */
    int qhead, qlen, qcap;
    int rcpt_next;           /* the next RCPT reply's rcpt */
    int rcpt_sent;           /* RCPTs sent (without pipelining: one at a time) */
    int accepted;
    bool mail_ok;
    bool chunking;           /* this transaction uses BDAT */
    int mail_code;
    char mail_enh[16];
    char *mail_reply;
    size_t body_pos;
    const char *data;        /* what goes out: the message, or its 7-bit form */
    size_t len;
    struct buf down;         /* the 7-bit form (8BITMIME downgrade) */
    struct event *later;     /* runs `done` for a transaction refused before sending */
};

static void fail_session(struct smtp_client *cl, int code, const char *reply, bool tls_failed);
static void enter(struct smtp_client *cl);
static bool leave(struct smtp_client *cl);
static void txn_finish(struct smtp_client *cl);

/* "550 5.1.1 text" on one line from a reply (allocated). */
static char *reply_line(const struct smtp_reply *r)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%d", r->code);
    if (r->enhanced[0])
        buf_printf(&b, " %s", r->enhanced);
    struct str t = buf_str(&r->text);
    if (t.len)
        buf_append_char(&b, ' ');
    for (size_t i = 0; i < t.len; i++) {
        unsigned char ch = (unsigned char)t.p[i];
        /* Lines joined with a space; nothing unprintable reaches a log or
         * a bounce. */
        buf_append_char(&b, ch == '\n' ? ' ' : (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch);
    }
    char *s = xstrdup(buf_cstr(&b));
    buf_free(&b);
    return s;
}

static void set_rcpt(struct smtp_client_rcpt *r, int code, const char *enh, const char *reply)
{
    r->code = code;
    snprintf(r->enhanced, sizeof(r->enhanced), "%s", enh ? enh : "");
    free(r->reply);
    r->reply = xstrdup(reply);
}

/* ---- EHLO ---- */

static void parse_ehlo(struct smtp_client *cl, const struct smtp_reply *r)
{
    struct smtp_client_info *in = &cl->info;
    in->pipelining = in->chunking = in->eightbit = in->smtputf8 = in->dsn = false;
    in->requiretls = in->size = false;
    in->size_limit = 0;
    struct str t = buf_str(&r->text);
    size_t at = 0;
    bool first = true;
    while (at <= t.len) {
        size_t end = at;
        while (end < t.len && t.p[end] != '\n')
            end++;
        struct str line = { t.p + at, end - at };
        at = end + 1;
        if (first) { /* the server's name and greeting */
            first = false;
            continue;
        }
        size_t kw = 0;
        while (kw < line.len && line.p[kw] != ' ' && line.p[kw] != '=')
            kw++;
        struct str k = { line.p, kw };
        struct str arg = str_trim((struct str){ line.p + kw, line.len - kw });
        if (str_eq_nocase_cstr(k, "PIPELINING"))
            in->pipelining = true;
        else if (str_eq_nocase_cstr(k, "CHUNKING"))
            in->chunking = true;
        else if (str_eq_nocase_cstr(k, "8BITMIME"))
            in->eightbit = true;
        else if (str_eq_nocase_cstr(k, "SMTPUTF8"))
            in->smtputf8 = true;
        else if (str_eq_nocase_cstr(k, "DSN"))
            in->dsn = true;
        else if (str_eq_nocase_cstr(k, "REQUIRETLS"))
            in->requiretls = true;
        else if (str_eq_nocase_cstr(k, "SIZE")) {
            in->size = true;
            unsigned long long n;
            if (arg.len && str_to_u64(arg, UINT64_MAX, &n) == 0)
                in->size_limit = n;
        }
        if (at > t.len)
            break;
    }
    in->tls = conn_is_tls(cl->c);
}

static bool ehlo_has_starttls(const struct smtp_reply *r)
{
    struct str t = buf_str(&r->text);
    size_t at = 0;
    bool first = true;
    while (at < t.len) {
        size_t end = at;
        while (end < t.len && t.p[end] != '\n')
            end++;
        struct str line = str_trim((struct str){ t.p + at, end - at });
        if (!first && str_eq_nocase_cstr(line, "STARTTLS"))
            return true;
        first = false;
        at = end + 1;
    }
    return false;
}

static void become_ready(struct smtp_client *cl)
{
    cl->st = S_READY;
    conn_set_idle_timeout(cl->c, cl->p.command_timeout_ms);
    if (!cl->ready_sent) {
        cl->ready_sent = true;
        cl->h->ready(cl->ctx, cl);
    }
}

/* The certificate must verify. */
static bool tls_required(const struct smtp_client *cl)
{
    return cl->p.tls == SMTP_TLS_VERIFY || cl->p.tls == SMTP_TLS_DANE;
}

/* STARTTLS must happen (verified or not). */
static bool tls_mandatory(const struct smtp_client *cl)
{
    return tls_required(cl) || cl->p.tls == SMTP_TLS_ENCRYPT;
}

static void wipe_password(struct smtp_client *cl)
{
    if (cl->auth_password) {
        OPENSSL_cleanse(cl->auth_password, strlen(cl->auth_password));
        free(cl->auth_password);
        cl->auth_password = NULL;
    }
}

static void after_tls_or_not(struct smtp_client *cl)
{
    if (cl->auth_user) {
        if (!cl->info.tls && !cl->p.implicit_tls) {
            /* A password never goes over plaintext. */
            fail_session(cl, 0, "the relay offers no TLS; not sending the password in clear",
                         true);
            return;
        }
        struct buf b;
        buf_init(&b, 0);
        buf_append_char(&b, '\0');
        buf_append_cstr(&b, cl->auth_user);
        buf_append_char(&b, '\0');
        buf_append_cstr(&b, cl->auth_password ? cl->auth_password : "");
        size_t enc_len = 4 * ((b.len + 2) / 3) + 1;
        unsigned char *enc = xmalloc(enc_len);
        EVP_EncodeBlock(enc, (const unsigned char *)b.p, (int)b.len);
        /* Not conn_printf: nothing of the secret may pass through a format
         * buffer that could be logged. */
        conn_write(cl->c, str_from_cstr("AUTH PLAIN "));
        conn_write(cl->c, str_from_cstr((const char *)enc));
        conn_write(cl->c, str_from_cstr("\r\n"));
        OPENSSL_cleanse(enc, enc_len);
        OPENSSL_cleanse(b.p, b.len);
        free(enc);
        buf_free(&b);
        wipe_password(cl); /* sent: no longer needed */
        cl->st = S_AUTH;
        return;
    }
    become_ready(cl);
}

static int accept_any_cert(int ok, X509_STORE_CTX *x)
{
    /* Verification runs and records its result (checked after the
     * handshake, where a precise reason can be given); the handshake itself
     * never fails on it. */
    (void)ok;
    (void)x;
    return 1;
}

static void start_tls(struct smtp_client *cl)
{
    SSL *ssl = SSL_new(cl->p.ssl_ctx);
    if (!ssl) {
        fail_session(cl, 0, "cannot make a TLS session", true);
        return;
    }
    SSL_set_connect_state(ssl);
    const char *name = cl->tls_name ? cl->tls_name : cl->host;
    unsigned char ipbuf[16];
    bool ip_literal = name && (inet_pton(AF_INET, name, ipbuf) == 1 ||
                               inet_pton(AF_INET6, name, ipbuf) == 1);
    if (name && *name && !ip_literal)
        SSL_set_tlsext_host_name(ssl, name); /* RFC 6066 §3: never an address */
    SSL_set_verify(ssl, SSL_VERIFY_PEER, accept_any_cert);
    if (cl->p.tls == SMTP_TLS_DANE && cl->ntlsa > 0) {
        if (SSL_dane_enable(ssl, name) <= 0) {
            SSL_free(ssl);
            fail_session(cl, 0, "cannot enable DANE", true);
            return;
        }
        /* RFC 7672 §3.1.1: DANE-EE(3) binds the key, not a name. */
        SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
        int usable = 0;
        for (int i = 0; i < cl->ntlsa; i++) {
            const struct dns_tlsa *t = &cl->tlsa[i];
            if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
                usable++;
        }
        if (!usable) {
            SSL_free(ssl);
            fail_session(cl, 0, "no usable TLSA record", true);
            return;
        }
    } else if (ip_literal) {
        /* A relay given as [IP]: its certificate must name that address. */
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
    } else if (name && *name) {
        SSL_set1_host(ssl, name);
        /* RFC 8461 §4.2 / RFC 6125: subjectAltName only, a wildcard only as
         * the whole leftmost label. */
        SSL_set_hostflags(ssl, MTASTS_X509_HOSTFLAGS);
    }
    cl->st = S_TLS;
    if (conn_starttls(cl->c, ssl) < 0)
        fail_session(cl, 0, "cannot start TLS", true);
}

static void tls_done(struct smtp_client *cl)
{
    SSL *ssl = conn_ssl(cl->c);
    long v = SSL_get_verify_result(ssl);
    X509 *cert = SSL_get0_peer_certificate(ssl);
    cl->info.tls = true;
    cl->info.tls_version = tls_version_name(ssl);
    cl->info.tls_cipher = tls_cipher_name(ssl);
    cl->info.tls_verified = cert && v == X509_V_OK &&
                            (cl->p.tls != SMTP_TLS_DANE || SSL_get0_dane_authority(ssl, NULL, NULL) >= 0);
    free(cl->verify_error);
    cl->verify_error = NULL;
    if (!cl->info.tls_verified)
        cl->verify_error = xstrdup(!cert ? "no certificate"
                                   : v != X509_V_OK ? X509_verify_cert_error_string(v)
                                                    : "no TLSA record matched");
    cl->info.tls_result =
        !tls_required(cl) || cl->info.tls_verified ? "success"
        : cl->p.tls == SMTP_TLS_DANE ? "validation-failure"
        : v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH
            ? "certificate-host-mismatch"
        : v == X509_V_ERR_CERT_HAS_EXPIRED ? "certificate-expired" : "certificate-not-trusted";
    cl->info.verify_error = cl->verify_error;
    log_info("delivery", "tls",
             "session=%s peer=%s host=%s policy=%s version=%s cipher=%s verified=%s%s%s",
             conn_id(cl->c), cl->peer, cl->host, cl->p.policy ? cl->p.policy : "none",
             cl->info.tls_version, cl->info.tls_cipher,
             cl->info.tls_verified ? (cl->p.tls == SMTP_TLS_DANE ? "dane" : "yes") : "no",
             cl->verify_error ? " reason=" : "", cl->verify_error ? log_q(cl->verify_error) : "");
    if (tls_required(cl) && !cl->info.tls_verified) {
        char *why = xasprintf("certificate verification failed: %s", cl->verify_error);
        fail_session(cl, 0, why, true);
        free(why);
        return;
    }
    if (!cl->greeted) {
        cl->st = S_GREETING; /* implicit TLS: the greeting comes now */
        return;
    }
    cl->st = S_EHLO;
    conn_printf(cl->c, "EHLO %s\r\n", cl->helo);
}

/* ---- transactions ---- */

static void expect(struct smtp_client *cl, enum expect x)
{
    if (cl->qlen == cl->qcap) {
        int ncap = cl->qcap ? cl->qcap * 2 : 16;
        enum expect *nq = xcalloc((size_t)ncap, sizeof(*nq));
        for (int i = 0; i < cl->qlen; i++)
            nq[i] = cl->queue[(cl->qhead + i) % cl->qcap];
        free(cl->queue);
        cl->queue = nq;
        cl->qcap = ncap;
        cl->qhead = 0;
    }
    cl->queue[(cl->qhead + cl->qlen) % cl->qcap] = x;
    cl->qlen++;
}

static enum expect expect_pop(struct smtp_client *cl)
{
    enum expect x = cl->queue[cl->qhead];
    cl->qhead = (cl->qhead + 1) % cl->qcap;
    cl->qlen--;
    return x;
}

static void send_rcpt(struct smtp_client *cl, int i)
{
    struct smtp_client_txn *t = cl->txn;
    struct smtp_client_rcpt *r = &t->rcpts[i];
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "RCPT TO:<%s>", r->address);
    if (cl->info.dsn) {
        if (r->notify) {
            if (r->notify & 1)
                buf_append_cstr(&b, " NOTIFY=NEVER");
            else {
                const char *sep = " NOTIFY=";
                if (r->notify & 2) {
                    buf_printf(&b, "%sSUCCESS", sep);
                    sep = ",";
                }
                if (r->notify & 4) {
                    buf_printf(&b, "%sFAILURE", sep);
                    sep = ",";
                }
                if (r->notify & 8)
                    buf_printf(&b, "%sDELAY", sep);
            }
        }
        if (r->orcpt && r->orcpt_type) {
            struct arena *a = arena_new(0);
            buf_printf(&b, " ORCPT=%s;%s", r->orcpt_type,
                       smtp_xtext_encode(a, str_from_cstr(r->orcpt)));
            arena_free(a);
        }
    }
    buf_append(&b, "\r\n", 2);
    conn_write(cl->c, buf_str(&b));
    buf_free(&b);
    expect(cl, X_RCPT);
    cl->rcpt_sent++;
}

static bool data_is_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] & 0x80)
            return true;
    return false;
}

static void refuse_all(struct smtp_client_txn *t, int code, const char *enh, const char *text)
{
    char *line = xasprintf("%d %s %s", code, enh, text);
    for (int i = 0; i < t->nrcpts; i++)
        if (!t->rcpts[i].code)
            set_rcpt(&t->rcpts[i], code, enh, line);
    free(line);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct smtp_client *cl = arg;
    enter(cl);
    txn_finish(cl);
    leave(cl);
}

/* A refusal of our own, before anything is sent: `done` runs from the loop,
 * not from inside smtp_client_send. */
static void refuse_txn(struct smtp_client *cl, int code, const char *enh, const char *text)
{
    refuse_all(cl->txn, code, enh, text);
    log_info("delivery", "refused-locally", "session=%s host=%s reply=%s", conn_id(cl->c),
             cl->host, log_q(text));
    struct timeval zero = { 0, 0 };
    event_add(cl->later, &zero);
}

void smtp_client_send(struct smtp_client *cl, struct smtp_client_txn *txn)
{
    if (cl->st != S_READY || cl->txn)
        abort(); /* a bug: one transaction at a time, when ready */
    cl->txn = txn;
    txn->dsn_passed = false;
    txn->downgraded = false;
    cl->st = S_TXN;
    cl->rcpt_next = cl->rcpt_sent = cl->accepted = 0;
    cl->mail_ok = false;
    cl->mail_code = 0;
    free(cl->mail_reply);
    cl->mail_reply = NULL;
    cl->body_pos = 0;
    const struct smtp_client_info *in = &cl->info;
    if (txn->smtputf8 && !in->smtputf8) {
        refuse_txn(cl, 553, "5.6.7",
                   "The message needs SMTPUTF8 (an address or header in UTF-8), and the "
                   "receiving server does not support it");
        return;
    }
    if (in->size_limit && txn->len > in->size_limit) {
        char *why = xasprintf("The message (%zu bytes) is larger than the receiving server "
                              "accepts (%llu bytes)", txn->len,
                              (unsigned long long)in->size_limit);
        refuse_txn(cl, 552, "5.3.4", why);
        free(why);
        return;
    }
    if (txn->requiretls &&
        !(in->tls && in->tls_verified && in->requiretls && cl->p.authenticated_mx)) {
        /* RFC 8689 §4.2.1: only to an MX found through DNSSEC or MTA-STS,
         * over verified TLS, to a server that offers REQUIRETLS. A TLS
         * problem of this connection may pass; the others are final. */
        bool tls_only = cl->p.authenticated_mx && in->requiretls;
        refuse_txn(cl, tls_only ? 450 : 550, tls_only ? "4.7.30" : "5.7.30",
                   !cl->p.authenticated_mx
                       ? "REQUIRETLS: the receiving server was found without DNSSEC or MTA-STS"
                   : !in->requiretls ? "REQUIRETLS: the receiving server does not support it"
                                     : "REQUIRETLS: the connection's TLS is not verified");
        return;
    }
    bool eight = txn->body == 2 || txn->body == 3 ||
                 (txn->body == 0 && data_is_8bit(txn->data, txn->len));
    if (txn->body == 3 && !(in->chunking && in->eightbit)) {
        refuse_txn(cl, 554, "5.6.3", "The message is binary (BINARYMIME) and the receiving "
                                     "server cannot take it");
        return;
    }
    cl->data = txn->data;
    cl->len = txn->len;
    buf_clear(&cl->down);
    if (eight && !in->eightbit) {
        /* RFC 6152 §3: the sender converts for a server without 8BITMIME. */
        struct arena *a = arena_new(0);
        const char *why = NULL;
        enum mime_downgrade_status ds =
            mime_downgrade(a, (struct str){ txn->data, txn->len }, &cl->down, &why);
        arena_free(a);
        if (ds == MIME_DOWNGRADE_NEEDS_UTF8) {
            refuse_txn(cl, 553, "5.6.7", "The message has 8-bit header fields, which only "
                                         "SMTPUTF8 can carry, and the receiving server does "
                                         "not support SMTPUTF8 or 8BITMIME");
            return;
        }
        if (ds != MIME_DOWNGRADE_DONE && ds != MIME_DOWNGRADE_CLEAN) {
            char *m = xasprintf("The message has 8-bit content that cannot be converted "
                                "for a server without 8BITMIME: %s", why ? why : "?");
            refuse_txn(cl, 554, "5.6.3", m);
            free(m);
            return;
        }
        if (ds == MIME_DOWNGRADE_DONE) {
            cl->data = cl->down.p;
            cl->len = cl->down.len;
            txn->downgraded = true;
        }
        eight = false;
    }
    cl->chunking = in->chunking;
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "MAIL FROM:<%s>", txn->sender ? txn->sender : "");
    if (in->size)
        buf_printf(&b, " SIZE=%zu", cl->len);
    if (eight && in->eightbit)
        buf_append_cstr(&b, txn->body == 3 ? " BODY=BINARYMIME" : " BODY=8BITMIME");
    if (txn->smtputf8)
        buf_append_cstr(&b, " SMTPUTF8");
    if (in->dsn) {
        txn->dsn_passed = true;
        if (txn->ret == 1)
            buf_append_cstr(&b, " RET=FULL");
        else if (txn->ret == 2)
            buf_append_cstr(&b, " RET=HDRS");
        if (txn->envid) {
            struct arena *a = arena_new(0);
            buf_printf(&b, " ENVID=%s", smtp_xtext_encode(a, str_from_cstr(txn->envid)));
            arena_free(a);
        }
    }
    if (txn->requiretls)
        buf_append_cstr(&b, " REQUIRETLS");
    buf_append(&b, "\r\n", 2);
    conn_write(cl->c, buf_str(&b));
    buf_free(&b);
    expect(cl, X_MAIL);
    if (in->pipelining) {
        for (int i = 0; i < txn->nrcpts; i++)
            send_rcpt(cl, i);
        if (!cl->chunking) {
            conn_printf(cl->c, "DATA\r\n");
            expect(cl, X_DATA);
        }
    }
}

/* Writes the next piece of the message; returns true when all is queued. */
static bool body_pump(struct smtp_client *cl)
{
    while (cl->body_pos < cl->len && conn_pending_output(cl->c) < BODY_HIGH) {
        size_t n = cl->len - cl->body_pos;
        if (n > BODY_CHUNK)
            n = BODY_CHUNK;
        const char *p = cl->data + cl->body_pos;
        if (cl->chunking) {
            conn_write(cl->c, (struct str){ p, n });
        } else {
            /* Dot-stuffing (RFC 5321 §4.5.2): a line starting with "."
             * gets another. A line start is the data's start or after LF. */
            size_t from = 0;
            for (size_t i = 0; i < n; i++) {
                bool line_start = (cl->body_pos + i == 0) ||
                                  cl->data[cl->body_pos + i - 1] == '\n';
                if (line_start && p[i] == '.') {
                    conn_write(cl->c, (struct str){ p + from, i - from });
                    conn_write(cl->c, (struct str){ ".", 1 });
                    from = i;
                }
            }
            conn_write(cl->c, (struct str){ p + from, n - from });
        }
        cl->body_pos += n;
    }
    if (cl->body_pos < cl->len)
        return false;
    if (!cl->chunking) {
        bool crlf_end = cl->len >= 2 && cl->data[cl->len - 2] == '\r' &&
                        cl->data[cl->len - 1] == '\n';
        conn_write(cl->c, crlf_end ? str_from_cstr(".\r\n") : str_from_cstr("\r\n.\r\n"));
    }
    return true;
}

static void body_drained(struct conn *c, void *ctx);

/* The whole message is out: the server's verdict may take the data
 * timeout from now (RFC 5321 §4.5.3.2.6), not from when it was queued. */
static void data_sent(struct conn *c, void *ctx)
{
    struct smtp_client *cl = ctx;
    enter(cl);
    if (!cl->dead && cl->txn && cl->qlen && cl->queue[cl->qhead] == X_END) {
        cl->body_out = true;
        conn_set_idle_timeout(c, cl->p.data_timeout_ms);
    }
    leave(cl);
}

static void body_continue(struct smtp_client *cl)
{
    if (body_pump(cl)) {
        cl->st = S_TXN;
        expect(cl, X_END);
        conn_set_drain(cl->c, 0, data_sent);
    } else {
        conn_set_drain(cl->c, BODY_LOW, body_drained);
    }
}

static void body_drained(struct conn *c, void *ctx)
{
    struct smtp_client *cl = ctx;
    enter(cl);
    if (!cl->dead && cl->st == S_BODY) {
        /* The peer is taking the message: that is progress, not idleness. */
        conn_set_idle_timeout(c, cl->p.command_timeout_ms);
        body_continue(cl);
    }
    leave(cl);
}

static void start_body(struct smtp_client *cl)
{
    cl->body_out = false;
    cl->st = S_BODY;
    if (cl->chunking)
        conn_printf(cl->c, "BDAT %zu LAST\r\n", cl->len);
    body_continue(cl);
}

static void txn_reply(struct smtp_client *cl, const struct smtp_reply *r)
{
    struct smtp_client_txn *t = cl->txn;
    enum expect x = expect_pop(cl);
    char *line = reply_line(r);
    bool ok = r->code >= 200 && r->code < 300;
    switch (x) {
    case X_MAIL:
        cl->mail_ok = ok;
        if (!ok) {
            for (int i = 0; i < t->nrcpts; i++)
                set_rcpt(&t->rcpts[i], r->code, r->enhanced, line);
            if (!cl->info.pipelining) {
                conn_printf(cl->c, "RSET\r\n");
                expect(cl, X_RSET);
            }
        } else if (!cl->info.pipelining) {
            send_rcpt(cl, 0);
        }
        break;
    case X_RCPT: {
        int i = cl->rcpt_next++;
        if (cl->mail_ok) {
            if (ok)
                cl->accepted++;
            else
                set_rcpt(&t->rcpts[i], r->code, r->enhanced, line);
        }
        if (cl->rcpt_next < t->nrcpts) {
            if (!cl->info.pipelining)
                send_rcpt(cl, cl->rcpt_next);
        } else if (cl->info.pipelining && !cl->chunking) {
            /* DATA went with the RCPTs: its reply comes next. */
        } else if (cl->mail_ok && cl->accepted > 0) {
            if (cl->chunking) {
                start_body(cl);
            } else {
                conn_printf(cl->c, "DATA\r\n");
                expect(cl, X_DATA);
            }
        } else {
            conn_printf(cl->c, "RSET\r\n");
            expect(cl, X_RSET);
        }
        break;
    }
    case X_DATA:
        if (r->code == 354 && cl->accepted > 0 && cl->mail_ok) {
            start_body(cl);
        } else if (r->code == 354) {
            /* A server that says go ahead with no recipient: end at once. */
            conn_write(cl->c, str_from_cstr(".\r\n"));
            expect(cl, X_END_VOID);
        } else if (r->code >= 400) {
            if (cl->mail_ok)
                for (int i = 0; i < t->nrcpts; i++)
                    if (!t->rcpts[i].code)
                        set_rcpt(&t->rcpts[i], r->code, r->enhanced, line);
            conn_printf(cl->c, "RSET\r\n");
            expect(cl, X_RSET);
        } else {
            /* A success to DATA is no answer to DATA: the replies are out
             * of step, and nothing may be taken as delivered. */
            free(line);
            fail_session(cl, 0, "the server's reply to DATA was neither 354 nor a refusal",
                         false);
            return;
        }
        break;
    case X_END:
        /* 2.1.x answers MAIL or RCPT (RFC 3463): a success of that kind
         * here means the replies are out of step (a stray reply earlier). */
        if (r->code < 200 || (r->code >= 300 && r->code < 400) ||
            (ok && !strncmp(r->enhanced, "2.1.", 4))) {
            free(line);
            fail_session(cl, 0, "the server's reply to the end of the message was not final",
                         false);
            return;
        }
        for (int i = 0; i < t->nrcpts; i++)
            if (!t->rcpts[i].code)
                set_rcpt(&t->rcpts[i], r->code, r->enhanced, line);
        break;
    case X_END_VOID:
    case X_RSET:
        break;
    }
    free(line);
    if (cl->qlen == 0 && cl->st == S_TXN)
        txn_finish(cl);
}

static void txn_finish(struct smtp_client *cl)
{
    struct smtp_client_txn *t = cl->txn;
    if (!t)
        return;
    cl->txn = NULL;
    cl->qlen = 0;
    buf_free(&cl->down); /* a converted message is not kept past its transaction */
    buf_init(&cl->down, 0);
    if (cl->st != S_QUIT && cl->st != S_DONE)
        cl->st = S_READY;
    cl->txn_ended_in_read = true;
    if (cl->c)
        conn_set_idle_timeout(cl->c, cl->p.command_timeout_ms);
    enter(cl);
    cl->h->done(cl->ctx, cl, t);
    leave(cl);
}

/* ---- the session ---- */

static void session_reply(struct smtp_client *cl, const struct smtp_reply *r)
{
    bool ok = r->code >= 200 && r->code < 300;
    bool early = cl->st == S_TXN && cl->qlen && cl->queue[cl->qhead] == X_END && !cl->body_out;
    if (cl->st == S_BODY || early || (r->code == 421 && cl->st != S_QUIT)) {
        /* The server's last word (RFC 5321 §3.8: 421 closes; a reply in
         * the middle of the message is its verdict on it, such as 552 too
         * big): the transaction's recipients take it, and the connection
         * ends without another byte into the message stream. */
        char *line = reply_line(r);
        if (cl->txn)
            for (int i = 0; i < cl->txn->nrcpts; i++)
                if (!cl->txn->rcpts[i].code)
                    set_rcpt(&cl->txn->rcpts[i], r->code >= 400 ? r->code : 0, r->enhanced,
                             line);
        cl->closing = true;
        cl->fail_code = r->code;
        free(cl->fail_reply);
        cl->fail_reply = line;
        conn_close(cl->c, r->code == 421 ? "the server is closing (421)"
                                         : "the server answered during the message");
        return;
    }
    switch (cl->st) {
    case S_GREETING:
        if (r->code != 220) {
            char *line = reply_line(r);
            fail_session(cl, r->code, line, false);
            free(line);
            return;
        }
        cl->greeted = true;
        cl->st = S_EHLO;
        conn_printf(cl->c, "EHLO %s\r\n", cl->helo);
        break;
    case S_EHLO:
        if (!ok) {
            cl->st = S_HELO;
            conn_printf(cl->c, "HELO %s\r\n", cl->helo);
            return;
        }
        parse_ehlo(cl, r);
        if (!conn_is_tls(cl->c) && cl->p.tls != SMTP_TLS_NONE && ehlo_has_starttls(r)) {
            cl->st = S_STARTTLS;
            conn_printf(cl->c, "STARTTLS\r\n");
            return;
        }
        if (!conn_is_tls(cl->c) && tls_mandatory(cl)) {
            cl->info.tls_result = "starttls-not-supported";
            fail_session(cl, 0, "the server does not offer STARTTLS, and TLS is required", true);
            return;
        }
        after_tls_or_not(cl);
        break;
    case S_HELO:
        if (!ok) {
            char *line = reply_line(r);
            fail_session(cl, r->code, line, false);
            free(line);
            return;
        }
        cl->info.pipelining = cl->info.chunking = cl->info.eightbit = false;
        cl->info.smtputf8 = cl->info.dsn = cl->info.requiretls = false;
        if (tls_mandatory(cl) && !conn_is_tls(cl->c)) {
            cl->info.tls_result = "starttls-not-supported";
            fail_session(cl, 0, "the server does not offer STARTTLS, and TLS is required", true);
            return;
        }
        after_tls_or_not(cl);
        break;
    case S_STARTTLS:
        if (r->code != 220) {
            if (tls_mandatory(cl)) {
                cl->info.tls_result = "starttls-not-supported";
                char *line = reply_line(r);
                char *why = xasprintf("STARTTLS refused: %s", line);
                fail_session(cl, 0, why, true);
                free(why);
                free(line);
                return;
            }
            after_tls_or_not(cl);
            return;
        }
        start_tls(cl);
        break;
    case S_AUTH:
        if (r->code != 235) {
            char *line = reply_line(r);
            fail_session(cl, r->code, line, false);
            free(line);
            return;
        }
        become_ready(cl);
        break;
    case S_TXN:
        if (cl->qlen > 0) {
            txn_reply(cl, r);
            return;
        }
        /* A reply nobody asked for. */
        __attribute__((fallthrough));
    default: {
        char *line = reply_line(r);
        log_info("delivery", "protocol-error", "session=%s host=%s reason=%s", conn_id(cl->c),
                 cl->host, log_q("unexpected reply"));
        fail_session(cl, 0, "the server sent a reply nobody asked for", false);
        free(line);
        break;
    }
    }
}

static void on_read(struct conn *c, void *ctx, struct str bytes)
{
    struct smtp_client *cl = ctx;
    enter(cl);
    cl->txn_ended_in_read = false;
    while (bytes.len && !cl->closing && !cl->dead && cl->st != S_DONE) {
        struct smtp_reply r;
        const char *err = NULL;
        enum smtp_reply_status s = smtp_reply_read(&cl->rr, &bytes, &r, &err);
        if (s == SMTP_REPLY_NEED_MORE)
            break;
        if (s == SMTP_REPLY_ERROR) {
            log_info("delivery", "protocol-error", "session=%s host=%s reason=%s", conn_id(c),
                     cl->host, log_q(err));
            char *why = xasprintf("the server's reply was malformed: %s", err);
            fail_session(cl, 0, why, false);
            free(why);
            break;
        }
        enum state before = cl->st;
        cl->txn_ended_in_read = false;
        session_reply(cl, &r);
        smtp_reply_free(&r);
        if (cl->dead || cl->closing)
            break;
        if (before == S_STARTTLS && cl->st == S_TLS)
            break; /* the rest came in plaintext: dropped (conn_starttls) */
        if (cl->txn_ended_in_read &&
            (bytes.len || cl->rr.started || linereader_pending(&cl->rr.lr))) {
            /* Replies after the last one we asked for: they would be taken
             * as the answers to the next message's commands. */
            log_info("delivery", "protocol-error", "session=%s host=%s reason=%s", conn_id(c),
                     cl->host, log_q("replies nobody asked for"));
            fail_session(cl, 0, "the server sent replies nobody asked for", false);
            break;
        }
    }
    leave(cl);
}

static void on_connected(struct conn *c, void *ctx)
{
    struct smtp_client *cl = ctx;
    enter(cl);
    cl->st = S_GREETING;
    conn_set_idle_timeout(c, cl->p.command_timeout_ms);
    if (cl->p.implicit_tls)
        start_tls(cl);
    leave(cl);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
    (void)c;
    struct smtp_client *cl = ctx;
    enter(cl);
    tls_done(cl);
    leave(cl);
}

static void client_free(struct smtp_client *cl)
{
    smtp_reply_reader_free(&cl->rr);
    buf_free(&cl->down);
    if (cl->later)
        event_free(cl->later);
    if (cl->p.ssl_ctx)
        SSL_CTX_free(cl->p.ssl_ctx);
    free(cl->queue);
    free(cl->mail_reply);
    free(cl->fail_reply);
    free(cl->verify_error);
    free(cl->peer);
    free(cl->host);
    free(cl->tls_name);
    free(cl->helo);
    wipe_password(cl);
    free(cl->auth_user);
    for (int i = 0; i < cl->ntlsa; i++)
        free((void *)cl->tlsa[i].data);
    free(cl->tlsa);
    free(cl);
}

/* Around every entry from the loop: the client may be closed (and the
 * runner told) deep inside, and must outlive the frames that still use it. */
static void enter(struct smtp_client *cl)
{
    cl->depth++;
}

/* Returns true when the client is gone (freed, or to be freed). */
static bool leave(struct smtp_client *cl)
{
    bool dead = cl->dead;
    if (--cl->depth == 0 && dead)
        client_free(cl);
    return dead;
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
    (void)c;
    struct smtp_client *cl = ctx;
    enter(cl);
    bool was_ready = cl->ready_sent;
    enum state was = cl->st;
    if (cl->txn) {
        const char *during = cl->st == S_BODY ? "while sending the message"
                           : cl->qlen && cl->queue[cl->qhead] == X_END ? "after the end of data"
                                                                      : "during the transaction";
        char *why = xasprintf("lost connection with %s (%s) %s: %s", cl->host, cl->peer, during,
                              reason);
        for (int i = 0; i < cl->txn->nrcpts; i++)
            if (!cl->txn->rcpts[i].code)
                set_rcpt(&cl->txn->rcpts[i], 0, "4.4.2", why);
        free(why);
        cl->st = S_DONE;
        txn_finish(cl);
    }
    if (!cl->fail_reply && !was_ready) {
        if (was == S_TLS) {
            cl->tls_failed = true;
            cl->info.tls_result = "validation-failure"; /* the handshake itself failed */
        }
        cl->fail_reply = xasprintf("%s (%s): %s", cl->host, cl->peer, reason);
    }
    cl->st = S_DONE;
    cl->c = NULL;
    cl->dead = true;
    cl->h->closed(cl->ctx, cl, was_ready, cl->fail_code, cl->fail_reply, cl->tls_failed);
    leave(cl);
}

static void on_timeout(struct conn *c, void *ctx)
{
    struct smtp_client *cl = ctx;
    conn_close(c, cl->st == S_BODY ? "timed out sending the message"
                                   : "timed out waiting for a reply");
}

static void on_shutdown(struct conn *c, void *ctx)
{
    (void)ctx;
    conn_close(c, "shutting down");
}

static const struct conn_handler client_handler = {
    .read = on_read,
    .tls_ready = on_tls_ready,
    .closed = on_closed,
    .shutdown = on_shutdown,
    .timeout = on_timeout,
    .connected = on_connected,
};

static void fail_session(struct smtp_client *cl, int code, const char *reply, bool tls_failed)
{
    if (cl->closing)
        return;
    cl->closing = true;
    cl->fail_code = code;
    free(cl->fail_reply);
    cl->fail_reply = xstrdup(reply);
    cl->tls_failed = tls_failed;
    if (cl->st != S_TLS && cl->st != S_CONNECT && cl->st != S_BODY && code != 421 &&
        !(cl->txn && !cl->body_out && cl->qlen && cl->queue[cl->qhead] == X_END)) {
        conn_printf(cl->c, "QUIT\r\n");
        cl->st = S_QUIT;
        conn_close_after_flush(cl->c, "session failed");
    } else {
        conn_close(cl->c, "session failed");
    }
}

struct smtp_client *smtp_client_connect(struct event_base *base, const struct sockaddr *addr,
                                        const struct smtp_client_params *p,
                                        const struct smtp_client_handler *h, void *ctx,
                                        char **error_r)
{
    struct smtp_client *cl = xcalloc(1, sizeof(*cl));
    cl->p = *p;
    /* Ours for the client's life: a reload may free the runner's. */
    SSL_CTX_up_ref(p->ssl_ctx);
    cl->p.source = NULL; /* used for the connect only */
    cl->p.auth_password = NULL;
    cl->host = xstrdup(p->host ? p->host : "");
    cl->tls_name = p->tls_name ? xstrdup(p->tls_name) : NULL;
    cl->helo = xstrdup(p->helo);
    cl->auth_user = p->auth_user ? xstrdup(p->auth_user) : NULL;
    cl->auth_password = p->auth_password ? xstrdup(p->auth_password) : NULL;
    if (p->ntlsa > 0) {
        cl->tlsa = xcalloc((size_t)p->ntlsa, sizeof(*cl->tlsa));
        for (int i = 0; i < p->ntlsa; i++) {
            cl->tlsa[i] = p->tlsa[i];
            unsigned char *d = xmalloc(p->tlsa[i].len ? p->tlsa[i].len : 1);
            memcpy(d, p->tlsa[i].data, p->tlsa[i].len);
            cl->tlsa[i].data = d;
        }
        cl->ntlsa = p->ntlsa;
    }
    cl->p.host = cl->host;
    cl->p.tls_name = cl->tls_name;
    cl->p.tlsa = cl->tlsa;
    cl->h = h;
    cl->ctx = ctx;
    smtp_reply_reader_init(&cl->rr);
    buf_init(&cl->down, 0);
    char a[64];
    addr_format(addr, a, sizeof(a));
    cl->peer = xstrdup(a);
    cl->info.peer = cl->peer;
    cl->later = evtimer_new(base, later_cb, cl);
    cl->c = conn_connect(base, addr, p->source, p->connect_timeout_ms, &client_handler, cl,
                         error_r);
    if (!cl->c) {
        client_free(cl);
        return NULL;
    }
    cl->info.id = conn_id(cl->c);
    return cl;
}

void smtp_client_quit(struct smtp_client *cl)
{
    if (cl->closing || !cl->c)
        return;
    cl->closing = true;
    cl->st = S_QUIT;
    conn_printf(cl->c, "QUIT\r\n");
    conn_close_after_flush(cl->c, "quit");
}

void smtp_client_abort(struct smtp_client *cl, const char *reason)
{
    if (cl->c)
        conn_close(cl->c, reason);
}

bool smtp_client_is_ready(const struct smtp_client *cl)
{
    return cl->st == S_READY && !cl->closing && !cl->txn;
}

const struct smtp_client_info *smtp_client_info(const struct smtp_client *cl)
{
    return &cl->info;
}

void smtp_client_txn_clear(struct smtp_client_txn *txn)
{
    for (int i = 0; i < txn->nrcpts; i++) {
        free(txn->rcpts[i].reply);
        txn->rcpts[i].reply = NULL;
        txn->rcpts[i].code = 0;
        txn->rcpts[i].enhanced[0] = '\0';
    }
}
