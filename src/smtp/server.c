/* The SMTP server engine: commands, transactions, DATA and BDAT, AUTH.
 * See server.h for the contract; sockets and the store live in session.c. */
#include "smtp/server.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/linereader.h"
#include "core/log.h"

/* AUTH responses may be long (RFC 4954 §4: 12288 octets). */
#define SASL_LINE_MAX 12288
/* A message buffer that grew past this is released after the message, so an
 * idle session never keeps a big message's memory. */
#define MSG_KEEP_MAX (1u << 20)
/* Input held back while an answer is outstanding. The caller stops reading
 * then, so one read's worth is all that can arrive; more means a caller that
 * did not stop, and the session ends rather than buffer without bound. */
#define HELD_MAX (256u << 10)

enum state {
    ST_GREETING,   /* greeting not sent yet */
    ST_COMMAND,
    ST_AUTH,       /* a SASL exchange: the next line is a response */
    ST_DATA,
    ST_BDAT,
    ST_TLS,        /* waiting for the TLS handshake */
    ST_CLOSED,
};

enum wait {
    W_NONE, W_MAIL, W_RCPT, W_DATA, W_AUTH_PASSWORD, W_AUTH_SCRAM, W_AUTH_DONE,
};

/* DATA scanner states (dot-stuffing and CRLF checks across chunk edges). */
enum scan { SC_BOL, SC_DOT, SC_DOT_CR, SC_MID, SC_CR };

struct smtp_server {
    struct smtp_server_config cfg;
    char hostname[256];
    char session[32];
    struct smtp_server_callbacks cb;
    void *ctx;

    struct smtp_session_info info;
    char helo[SMTP_DOMAIN_MAX + 1];
    char *auth_user;

    enum state state;
    enum wait wait;
    struct linereader lr;
    struct buf held;            /* input that arrived while an answer was outstanding */
    int busy;                   /* inside process(): answers given now continue the loop */
    bool paused;                /* the caller was asked to stop reading */
    bool shutdown_pending;
    unsigned errors;
    unsigned ext;               /* SMTP_EXT_* offered now */

    struct arena *tarena;       /* the transaction's */
    struct smtp_transaction *t;
    unsigned rcpt_cap;
    struct smtp_rcpt *pending_rcpt;

    struct buf msg;
    enum scan scan;
    bool bad_line_end, bad_nul, too_big;
    uint64_t bdat_left;
    bool bdat_last;
    int bdat_error;             /* reply after the chunk instead of accepting it */
    const char *bdat_error_enh, *bdat_error_text;

    struct sasl *sasl;
    struct buf sasl_out;
    bool have_cb;
    struct sasl_channel_binding cbind;
    bool sasl_final;            /* SCRAM's server-final was sent; the client's empty line ends it */
};

static void process(struct smtp_server *s, struct str in);

/* ---- replies ---- */

static void write_reply(struct smtp_server *s, int code, const char *enh, const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        bool last = nl == NULL;
        size_t len = last ? strlen(p) : (size_t)(nl - p);
        buf_printf(&b, "%03d%c", code, last ? ' ' : '-');
        if (enh && *enh)
            buf_printf(&b, "%s ", enh);
        buf_append(&b, p, len);
        buf_append(&b, "\r\n", 2);
        if (last)
            break;
        p = nl + 1;
    }
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
}

static void close_session(struct smtp_server *s, const char *reason)
{
    if (s->state == ST_CLOSED)
        return;
    s->state = ST_CLOSED;
    s->cb.close(s->ctx, reason);
}

/* Sends a reply; permanent errors (5xx) count towards max_errors. Temporary
 * ones do not: a 452 for too many recipients asks the client to send the rest
 * later, and a 451 or 454 is our own trouble, not the client's. */
static void vreply(struct smtp_server *s, int code, const char *enh, const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof(text), fmt, ap);
    write_reply(s, code, enh, text);
    if (code >= 500 && s->state != ST_CLOSED && ++s->errors >= s->cfg.max_errors) {
        char bye[300];
        snprintf(bye, sizeof(bye), "%s Too many errors; closing the connection", s->hostname);
        write_reply(s, 421, "4.7.0", bye);
        log_info("smtp", "too-many-errors", "session=%s errors=%u", s->session, s->errors);
        close_session(s, "too many errors");
    }
}

static void reply(struct smtp_server *s, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply(struct smtp_server *s, int code, const char *enh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreply(s, code, enh, fmt, ap);
    va_end(ap);
}

/* An error the engine itself finds in the client's input: logged once. */
static void protocol_error(struct smtp_server *s, int code, const char *enh, const char *text)
{
    log_info("smtp", "protocol-error", "session=%s reply=%d enhanced=%s text=%s", s->session,
             code, enh, log_q(text));
    reply(s, code, enh, "%s", text);
}

static void parse_error(struct smtp_server *s, const struct smtp_parse_error *e)
{
    protocol_error(s, e->code, e->enhanced, e->text);
}

/* ---- waiting for the caller ---- */

static void wait_begin(struct smtp_server *s, enum wait w)
{
    s->wait = w;
}

/* After a callback that may have answered at once: pause reading only when
 * the answer is really outstanding. */
static void wait_check(struct smtp_server *s)
{
    if (s->wait != W_NONE && !s->paused && s->state != ST_CLOSED) {
        s->paused = true;
        s->cb.pause(s->ctx, true);
    }
}

/* An answer came: carry on with the input held back meanwhile. */
static void resume(struct smtp_server *s)
{
    if (s->shutdown_pending && s->wait == W_NONE && s->state != ST_CLOSED) {
        reply(s, 421, "4.3.2", "%s Service shutting down", s->hostname);
        close_session(s, "shutdown");
    }
    if (s->busy || s->wait != W_NONE)
        return;
    if (s->paused && s->state != ST_CLOSED) {
        s->paused = false;
        s->cb.pause(s->ctx, false);
    }
    if (s->held.len && s->state != ST_CLOSED) {
        struct buf in = s->held;
        buf_init(&s->held, 0);
        process(s, buf_str(&in));
        buf_free(&in);
    }
}

/* ---- transactions ---- */

static void transaction_end(struct smtp_server *s)
{
    s->t = NULL;
    s->pending_rcpt = NULL;
    s->rcpt_cap = 0;
    arena_reset(s->tarena);
    if (s->msg.cap > MSG_KEEP_MAX) {
        buf_free(&s->msg);
        buf_init(&s->msg, s->cfg.max_message_size);
    } else {
        buf_clear(&s->msg);
    }
}

static void compute_ext(struct smtp_server *s)
{
    s->have_cb = s->info.tls && s->cb.channel_binding &&
                 s->cb.channel_binding(s->ctx, &s->cbind);
    s->ext = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN;
    if (s->info.tls)
        s->ext |= SMTP_EXT_REQUIRETLS;
    if (s->cfg.mode == SMTP_MODE_SUBMISSION)
        s->ext |= SMTP_EXT_AUTH;
    if (!s->info.esmtp)
        s->ext = 0;
}

static bool auth_offered(const struct smtp_server *s)
{
    return s->cfg.mode == SMTP_MODE_SUBMISSION && (s->info.tls || s->cfg.auth_plaintext);
}

/* ---- commands ---- */

static void cmd_helo(struct smtp_server *s, const struct smtp_command *c, bool esmtp)
{
    struct smtp_parse_error e;
    if (smtp_parse_helo(c->arg, &e) < 0) {
        parse_error(s, &e);
        return;
    }
    if (s->t)
        transaction_end(s);
    size_t n = c->arg.len < sizeof(s->helo) - 1 ? c->arg.len : sizeof(s->helo) - 1;
    memcpy(s->helo, c->arg.p, n);
    s->helo[n] = '\0';
    s->info.helo = s->helo;
    s->info.esmtp = esmtp;
    compute_ext(s);
    if (!esmtp) {
        reply(s, 250, NULL, "%s", s->hostname);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s greets %s\nPIPELINING\nSIZE %llu\n8BITMIME\nSMTPUTF8\nENHANCEDSTATUSCODES\n"
                   "CHUNKING\nDSN", s->hostname, s->helo,
               (unsigned long long)s->cfg.max_message_size);
    if (!s->info.tls && s->cfg.starttls)
        buf_append_cstr(&b, "\nSTARTTLS");
    if (s->info.tls)
        buf_append_cstr(&b, "\nREQUIRETLS");
    if (auth_offered(s) && !s->auth_user) {
        buf_append_cstr(&b, "\nAUTH PLAIN LOGIN SCRAM-SHA-256");
        if (s->have_cb)
            buf_append_cstr(&b, " SCRAM-SHA-256-PLUS");
    }
    reply(s, 250, NULL, "%s", buf_cstr(&b));
    buf_free(&b);
}

static void cmd_mail(struct smtp_server *s, const struct smtp_command *c)
{
    if (!s->info.helo) {
        protocol_error(s, 503, "5.5.1", "Send EHLO first");
        return;
    }
    if (s->t) {
        protocol_error(s, 503, "5.5.1", "Nested MAIL command");
        return;
    }
    if (s->cfg.mode == SMTP_MODE_SUBMISSION && !s->auth_user) {
        protocol_error(s, 530, "5.7.0", "Authentication required");
        return;
    }
    struct smtp_transaction *t = arena_zalloc(s->tarena, sizeof(*t));
    struct smtp_parse_error e;
    if (smtp_parse_mail(s->tarena, c->arg, s->ext, &t->mail, &e) < 0) {
        arena_reset(s->tarena);
        parse_error(s, &e);
        return;
    }
    if (t->mail.has_size && t->mail.size > s->cfg.max_message_size) {
        arena_reset(s->tarena);
        reply(s, 552, "5.3.4", "Message size exceeds the limit of %llu bytes",
              (unsigned long long)s->cfg.max_message_size);
        return;
    }
    t->arena = s->tarena;
    s->t = t;
    wait_begin(s, W_MAIL);
    s->cb.mail(s->ctx, t);
}

static void cmd_rcpt(struct smtp_server *s, const struct smtp_command *c)
{
    struct smtp_transaction *t = s->t;
    if (!t) {
        protocol_error(s, 503, "5.5.1", "Need MAIL before RCPT");
        return;
    }
    if (t->nrcpts >= s->cfg.max_recipients) {
        reply(s, 452, "4.5.3", "Too many recipients (at most %u per message)",
              s->cfg.max_recipients);
        return;
    }
    if (t->nrcpts == s->rcpt_cap) {
        unsigned cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
        if (cap > s->cfg.max_recipients)
            cap = s->cfg.max_recipients;
        struct smtp_rcpt *r = arena_alloc(t->arena, cap * sizeof(*r));
        if (t->nrcpts)
            memcpy(r, t->rcpts, t->nrcpts * sizeof(*r));
        t->rcpts = r;
        s->rcpt_cap = cap;
    }
    struct smtp_rcpt *r = &t->rcpts[t->nrcpts];
    memset(r, 0, sizeof(*r));
    struct smtp_parse_error e;
    if (smtp_parse_rcpt(t->arena, c->arg, s->ext, t->mail.smtputf8, &r->args, &e) < 0) {
        parse_error(s, &e);
        return;
    }
    s->pending_rcpt = r;
    wait_begin(s, W_RCPT);
    s->cb.rcpt(s->ctx, t, r);
}

static void data_begin(struct smtp_server *s)
{
    buf_clear(&s->msg);
    s->scan = SC_BOL;
    s->bad_line_end = s->bad_nul = s->too_big = false;
}

static void cmd_data(struct smtp_server *s, const struct smtp_command *c)
{
    if (!s->t) {
        protocol_error(s, 503, "5.5.1", "Need MAIL before DATA");
        return;
    }
    if (s->t->chunking) {
        protocol_error(s, 503, "5.5.1", "DATA cannot follow BDAT");
        return;
    }
    if (s->t->nrcpts == 0) {
        protocol_error(s, 554, "5.5.1", "No valid recipients");
        return;
    }
    if (c->arg.len) {
        protocol_error(s, 501, "5.5.4", "DATA takes no argument");
        return;
    }
    reply(s, 354, NULL, "Start mail input; end with <CRLF>.<CRLF>");
    data_begin(s);
    s->cb.data_phase(s->ctx, true);
    s->state = ST_DATA;
}

static void finish_message(struct smtp_server *s);
static void bdat_chunk_done(struct smtp_server *s);

static void cmd_bdat(struct smtp_server *s, const struct smtp_command *c)
{
    uint64_t size;
    bool last;
    struct smtp_parse_error e;
    if (smtp_parse_bdat(c->arg, &size, &last, &e) < 0) {
        parse_error(s, &e);
        return;
    }
    s->bdat_left = size;
    s->bdat_last = last;
    s->bdat_error = 0;
    if (!s->t) {
        s->bdat_error = 503;
        s->bdat_error_enh = "5.5.1";
        s->bdat_error_text = "Need MAIL before BDAT";
    } else if (s->t->nrcpts == 0) {
        s->bdat_error = 554;
        s->bdat_error_enh = "5.5.1";
        s->bdat_error_text = "No valid recipients";
    } else if (!s->t->chunking) {
        s->t->chunking = true;
        data_begin(s);
    }
    s->cb.data_phase(s->ctx, true);
    s->state = ST_BDAT;
    if (size == 0)
        bdat_chunk_done(s);
}

static void cmd_rset(struct smtp_server *s, const struct smtp_command *c)
{
    if (c->arg.len) {
        protocol_error(s, 501, "5.5.4", "RSET takes no argument");
        return;
    }
    if (s->t)
        transaction_end(s);
    reply(s, 250, "2.0.0", "OK");
}

static void cmd_starttls(struct smtp_server *s, const struct smtp_command *c)
{
    if (s->info.tls) {
        protocol_error(s, 503, "5.5.1", "TLS already active");
        return;
    }
    if (!s->cfg.starttls) {
        protocol_error(s, 502, "5.5.1", "STARTTLS not available");
        return;
    }
    if (c->arg.len) {
        protocol_error(s, 501, "5.5.4", "STARTTLS takes no argument");
        return;
    }
    reply(s, 220, "2.0.0", "Ready to start TLS");
    if (s->t)
        transaction_end(s);
    /* Nothing the client sent in plaintext after the command survives. */
    linereader_reset(&s->lr);
    buf_free(&s->held);
    buf_init(&s->held, 0);
    s->state = ST_TLS;
    s->cb.starttls(s->ctx);
}

/* ---- AUTH ---- */

static void auth_reset(struct smtp_server *s)
{
    sasl_free(s->sasl);
    s->sasl = NULL;
    s->sasl_final = false;
    buf_clear(&s->sasl_out);
    if (s->state == ST_AUTH)
        s->state = ST_COMMAND;
}

static void auth_end(struct smtp_server *s, bool ok, const char *reason)
{
    const char *authzid = sasl_authzid(s->sasl), *authcid = sasl_authcid(s->sasl);
    if (ok && authzid && *authzid && (!authcid || strcasecmp(authzid, authcid) != 0)) {
        ok = false; /* no logging in as someone else */
        reason = "authorization identity differs from the user";
    }
    if (s->state == ST_AUTH)
        s->state = ST_COMMAND;
    wait_begin(s, W_AUTH_DONE);
    s->cb.auth_done(s->ctx, sasl_authcid(s->sasl), ok, reason);
}

static void auth_challenge(struct smtp_server *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "334 ");
    sasl_b64_encode(&b, buf_str(&s->sasl_out));
    buf_append_cstr(&b, "\r\n");
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
    s->state = ST_AUTH;
}

static void auth_status(struct smtp_server *s, enum sasl_status st, const char *reason)
{
    switch (st) {
    case SASL_CHALLENGE:
        auth_challenge(s);
        break;
    case SASL_CHECK_PASSWORD:
        s->state = ST_COMMAND;
        wait_begin(s, W_AUTH_PASSWORD);
        s->cb.auth_password(s->ctx, sasl_authcid(s->sasl), sasl_password(s->sasl));
        break;
    case SASL_NEED_SCRAM:
        s->state = ST_COMMAND;
        wait_begin(s, W_AUTH_SCRAM);
        s->cb.auth_scram(s->ctx, sasl_authcid(s->sasl));
        break;
    case SASL_SUCCESS:
        if (s->sasl_out.len) {
            /* SCRAM's server-final goes in a 334; the client's empty line
             * then ends the exchange (RFC 4954 §4). */
            s->sasl_final = true;
            auth_challenge(s);
        } else {
            auth_end(s, true, NULL);
        }
        break;
    case SASL_FAILURE:
        auth_end(s, false, reason);
        break;
    }
}

static void auth_input(struct smtp_server *s, struct str line)
{
    if (line.len == 1 && line.p[0] == '*') {
        auth_reset(s);
        reply(s, 501, "5.0.0", "Authentication cancelled");
        return;
    }
    if (s->sasl_final) {
        auth_end(s, true, NULL);
        return;
    }
    struct buf in;
    buf_init(&in, 0);
    if (sasl_b64_decode(line, &in) < 0) {
        buf_free(&in);
        auth_reset(s);
        protocol_error(s, 501, "5.5.2", "Invalid base64 in AUTH response");
        return;
    }
    const char *reason = NULL;
    enum sasl_status st = sasl_step(s->sasl, buf_str(&in), false, &s->sasl_out, &reason);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
    auth_status(s, st, reason);
}

static void cmd_auth(struct smtp_server *s, const struct smtp_command *c)
{
    if (s->cfg.mode != SMTP_MODE_SUBMISSION) {
        protocol_error(s, 503, "5.5.1", "Authentication not enabled on this port");
        return;
    }
    if (!s->info.helo) {
        protocol_error(s, 503, "5.5.1", "Send EHLO first");
        return;
    }
    if (s->auth_user) {
        protocol_error(s, 503, "5.5.1", "Already authenticated");
        return;
    }
    if (s->t) {
        protocol_error(s, 503, "5.5.1", "AUTH is not allowed during a mail transaction");
        return;
    }
    if (!s->info.tls && !s->cfg.auth_plaintext) {
        protocol_error(s, 538, "5.7.11",
                       "Encryption required for requested authentication mechanism");
        return;
    }
    struct str arg = c->arg, mech = arg, ir = STR_NULL;
    long sp = str_find_char(arg, ' ');
    if (sp >= 0) {
        mech = (struct str){ arg.p, (size_t)sp };
        ir = str_trim((struct str){ arg.p + sp + 1, arg.len - (size_t)sp - 1 });
    }
    enum sasl_mech m;
    if (mech.len == 0 || sasl_mech_parse(mech, &m) < 0 ||
        (m == SASL_MECH_SCRAM_SHA_256_PLUS && !s->have_cb)) {
        protocol_error(s, 504, "5.5.4", "Unrecognized authentication mechanism");
        return;
    }
    unsigned blocked = s->cb.auth_blocked(s->ctx);
    if (blocked) {
        reply(s, 454, "4.7.0", "Too many failed logins from your address; try again in %u minutes",
              (blocked + 59) / 60);
        return;
    }
    struct buf in;
    buf_init(&in, 0);
    if (ir.p && sasl_b64_decode(ir, &in) < 0) {
        buf_free(&in);
        protocol_error(s, 501, "5.5.2", "Invalid base64 in AUTH initial response");
        return;
    }
    s->sasl = sasl_new(m, s->have_cb ? &s->cbind : NULL, s->cfg.sasl_secret);
    const char *reason = NULL;
    struct str first = ir.p ? buf_str(&in) : STR_NULL;
    if (ir.p && in.len == 0)
        first = (struct str){ "", 0 };
    enum sasl_status st = sasl_step(s->sasl, first, true, &s->sasl_out, &reason);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
    auth_status(s, st, reason);
}

/* ---- the command loop ---- */

static void command(struct smtp_server *s, struct str line)
{
    struct smtp_command c;
    struct smtp_parse_error e;
    if (smtp_parse_command(line, &c, &e) < 0) {
        parse_error(s, &e);
        return;
    }
    switch (c.verb) {
    case SMTP_VERB_EHLO: cmd_helo(s, &c, true); break;
    case SMTP_VERB_HELO: cmd_helo(s, &c, false); break;
    case SMTP_VERB_MAIL: cmd_mail(s, &c); break;
    case SMTP_VERB_RCPT: cmd_rcpt(s, &c); break;
    case SMTP_VERB_DATA: cmd_data(s, &c); break;
    case SMTP_VERB_BDAT: cmd_bdat(s, &c); break;
    case SMTP_VERB_RSET: cmd_rset(s, &c); break;
    case SMTP_VERB_NOOP: reply(s, 250, "2.0.0", "OK"); break;
    case SMTP_VERB_QUIT:
        reply(s, 221, "2.0.0", "%s closing connection", s->hostname);
        close_session(s, "quit");
        break;
    case SMTP_VERB_VRFY:
        reply(s, 252, "2.5.0", "Cannot VRFY user; send mail and delivery will be attempted");
        break;
    case SMTP_VERB_EXPN: protocol_error(s, 502, "5.5.1", "EXPN not available"); break;
    case SMTP_VERB_HELP: reply(s, 214, "2.0.0", "This is outpost; see RFC 5321"); break;
    case SMTP_VERB_STARTTLS: cmd_starttls(s, &c); break;
    case SMTP_VERB_AUTH: cmd_auth(s, &c); break;
    case SMTP_VERB_UNKNOWN: protocol_error(s, 500, "5.5.1", "Command unrecognized"); break;
    }
}

/* ---- message data ---- */

static void msg_put(struct smtp_server *s, const char *p, size_t n)
{
    if (!s->too_big && buf_append(&s->msg, p, n) < 0)
        s->too_big = true;
}

/* Scans DATA bytes: undoes dot-stuffing, finds CRLF.CRLF and notes bare CR,
 * bare LF and NUL. Returns the bytes used; *end is set at the terminator. */
static size_t scan_data(struct smtp_server *s, struct str in, bool *end)
{
    size_t i = 0;
    *end = false;
    while (i < in.len) {
        char ch = in.p[i];
        switch (s->scan) {
        case SC_BOL:
            if (ch == '.') {
                s->scan = SC_DOT;
                i++;
                continue;
            }
            s->scan = SC_MID;
            continue;
        case SC_DOT:
            if (ch == '\r') {
                s->scan = SC_DOT_CR;
                i++;
                continue;
            }
            s->scan = SC_MID; /* the stuffed dot is dropped */
            continue;
        case SC_DOT_CR:
            i++;
            if (ch == '\n') {
                *end = true;
                return i;
            }
            s->bad_line_end = true; /* ".\r" then something else */
            msg_put(s, "\r", 1);
            s->scan = SC_MID;
            i--;
            continue;
        case SC_CR:
            if (ch == '\n') {
                msg_put(s, "\r\n", 2);
                s->scan = SC_BOL;
                i++;
                continue;
            }
            s->bad_line_end = true;
            msg_put(s, "\r", 1);
            s->scan = SC_MID;
            continue;
        case SC_MID: {
            /* The common case: copy up to the next CR, LF or NUL at once. */
            size_t j = i;
            while (j < in.len && in.p[j] != '\r' && in.p[j] != '\n' && in.p[j] != '\0')
                j++;
            msg_put(s, in.p + i, j - i);
            i = j;
            if (i == in.len)
                break;
            ch = in.p[i++];
            if (ch == '\r') {
                s->scan = SC_CR;
            } else if (ch == '\n') {
                s->bad_line_end = true; /* a bare LF never starts a new line */
                msg_put(s, "\n", 1);
            } else {
                s->bad_nul = true;
            }
            continue;
        }
        }
    }
    return i;
}

/* Checks BDAT bytes for bare CR, bare LF and NUL (no dot-stuffing). */
static void scan_bdat(struct smtp_server *s, struct str in)
{
    for (size_t i = 0; i < in.len; i++) {
        char ch = in.p[i];
        if (s->scan == SC_CR) {
            if (ch != '\n')
                s->bad_line_end = true;
            s->scan = SC_MID;
            if (ch == '\n')
                continue;
        }
        if (ch == '\r')
            s->scan = SC_CR;
        else if (ch == '\n')
            s->bad_line_end = true;
        else if (ch == '\0')
            s->bad_nul = true;
    }
    msg_put(s, in.p, in.len);
}

static void finish_message(struct smtp_server *s)
{
    s->state = ST_COMMAND;
    s->cb.data_phase(s->ctx, false);
    if (s->scan == SC_CR)
        s->bad_line_end = true; /* BDAT ended inside a CRLF */
    if (s->too_big) {
        transaction_end(s);
        reply(s, 552, "5.3.4", "Message too big (the limit is %llu bytes)",
              (unsigned long long)s->cfg.max_message_size);
        return;
    }
    if (s->bad_line_end || s->bad_nul) {
        transaction_end(s);
        protocol_error(s, 550, "5.6.0", s->bad_nul
                       ? "Message refused: it contains a NUL byte"
                       : "Message refused: it contains a bare CR or LF (lines must end with CRLF)");
        return;
    }
    s->t->message = buf_str(&s->msg);
    wait_begin(s, W_DATA);
    s->cb.data(s->ctx, s->t);
}

static void bdat_chunk_done(struct smtp_server *s)
{
    s->cb.data_phase(s->ctx, false);
    if (s->bdat_error) {
        s->state = ST_COMMAND;
        if (s->t)
            transaction_end(s);
        protocol_error(s, s->bdat_error, s->bdat_error_enh, s->bdat_error_text);
        return;
    }
    if (s->bdat_last) {
        finish_message(s);
        return;
    }
    s->state = ST_COMMAND;
    if (s->too_big) {
        transaction_end(s);
        reply(s, 552, "5.3.4", "Message too big (the limit is %llu bytes)",
              (unsigned long long)s->cfg.max_message_size);
        return;
    }
    reply(s, 250, "2.0.0", "%llu octets received", (unsigned long long)s->msg.len);
}

/* ---- input ---- */

/* Keeps input for later; past HELD_MAX the session ends (see HELD_MAX). */
static void hold(struct smtp_server *s, struct str in)
{
    if (s->held.len + in.len > HELD_MAX) {
        log_info("smtp", "input-overflow", "session=%s held=%zu", s->session, s->held.len);
        char text[300];
        snprintf(text, sizeof(text), "%s Too much input while waiting; closing", s->hostname);
        write_reply(s, 421, "4.7.0", text);
        close_session(s, "input overflow");
        return;
    }
    buf_append(&s->held, in.p, in.len);
}

static void process(struct smtp_server *s, struct str in)
{
    s->busy++;
    while (s->state != ST_CLOSED && s->state != ST_TLS && s->wait == W_NONE) {
        if (s->state == ST_DATA) {
            if (!in.len)
                break;
            bool end;
            size_t used = scan_data(s, in, &end);
            in.p += used;
            in.len -= used;
            if (end)
                finish_message(s);
            continue;
        }
        if (s->state == ST_BDAT) {
            if (!in.len)
                break;
            size_t n = in.len < s->bdat_left ? in.len : (size_t)s->bdat_left;
            if (!s->bdat_error)
                scan_bdat(s, (struct str){ in.p, n });
            in.p += n;
            in.len -= n;
            s->bdat_left -= n;
            if (s->bdat_left == 0)
                bdat_chunk_done(s);
            continue;
        }
        struct str line;
        enum line_status ls = linereader_next(&s->lr, &in, &line);
        if (ls == LINE_NONE)
            break;
        if (ls == LINE_TOO_LONG) {
            if (s->state == ST_AUTH)
                auth_reset(s);
            char text[80];
            snprintf(text, sizeof(text), "Line too long (the limit is %zu bytes)", s->lr.max);
            protocol_error(s, 500, "5.5.2", text);
            continue;
        }
        if (s->state == ST_AUTH) {
            auth_input(s, line);
            continue;
        }
        if (line.len > s->cfg.max_line) {
            char text[80];
            snprintf(text, sizeof(text), "Line too long (the limit is %zu bytes)",
                     s->cfg.max_line);
            protocol_error(s, 500, "5.5.2", text);
            continue;
        }
        command(s, line);
    }
    /* Whatever started a wait (a command, the end of a message, an AUTH
     * response, a failed login's delay): stop reading until the answer. */
    wait_check(s);
    /* Held back until the answer comes; a handshake or a close drops it. */
    if (in.len && s->wait != W_NONE && s->state != ST_CLOSED && s->state != ST_TLS)
        hold(s, in);
    s->busy--;
}

void smtp_server_input(struct smtp_server *s, struct str bytes)
{
    switch (s->state) {
    case ST_CLOSED:
    case ST_TLS:
        return;
    case ST_GREETING:
        log_info("smtp", "early-talker", "session=%s bytes=%zu", s->session, bytes.len);
        write_reply(s, 554, "5.5.1", "Protocol error: you spoke before the greeting");
        close_session(s, "early talker");
        return;
    default:
        break;
    }
    if (s->wait != W_NONE || s->busy) {
        hold(s, bytes);
        return;
    }
    process(s, bytes);
}

/* ---- answers from the caller ---- */

void smtp_server_reply(struct smtp_server *s, int code, const char *enhanced, const char *fmt, ...)
{
    enum wait w = s->wait;
    s->wait = W_NONE;
    va_list ap;
    va_start(ap, fmt);
    vreply(s, code, enhanced, fmt, ap);
    va_end(ap);
    bool ok = code >= 200 && code < 300;
    switch (w) {
    case W_MAIL:
        if (!ok)
            transaction_end(s);
        break;
    case W_RCPT:
        if (ok && s->t && s->pending_rcpt)
            s->t->nrcpts++;
        s->pending_rcpt = NULL;
        break;
    case W_DATA:
        transaction_end(s);
        break;
    default:
        break;
    }
    resume(s);
}

void smtp_server_auth_checked(struct smtp_server *s, bool ok)
{
    s->wait = W_NONE;
    const char *reason = NULL;
    enum sasl_status st = sasl_password_result(s->sasl, ok, &reason);
    auth_status(s, st, reason);
    wait_check(s);
    resume(s);
}

void smtp_server_auth_credentials(struct smtp_server *s, const struct auth_credentials *cred)
{
    s->wait = W_NONE;
    const char *reason = NULL;
    enum sasl_status st = sasl_scram_credentials(s->sasl, cred, &s->sasl_out, &reason);
    auth_status(s, st, reason);
    wait_check(s);
    resume(s);
}

void smtp_server_auth_finished(struct smtp_server *s, bool ok, bool temporary)
{
    s->wait = W_NONE;
    if (ok && !sasl_authcid(s->sasl))
        ok = false; /* nobody to be: a caller bug, but never a login */
    if (ok) {
        free(s->auth_user);
        s->auth_user = xstrdup(sasl_authcid(s->sasl));
        s->info.auth_user = s->auth_user;
        auth_reset(s);
        reply(s, 235, "2.7.0", "Authentication successful");
    } else {
        auth_reset(s);
        if (temporary)
            reply(s, 454, "4.7.0", "Temporary authentication failure; try again later");
        else
            reply(s, 535, "5.7.8", "Authentication credentials invalid");
    }
    resume(s);
}

/* ---- life cycle ---- */

struct smtp_server *smtp_server_new(const struct smtp_server_config *cfg,
                                    const struct smtp_server_callbacks *cb, void *ctx)
{
    struct smtp_server *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->hostname);
    snprintf(s->session, sizeof(s->session), "%s", cfg->session ? cfg->session : "-");
    s->cfg.hostname = s->hostname;
    s->cfg.session = s->session;
    if (s->cfg.max_errors == 0)
        s->cfg.max_errors = 1;
    s->cb = *cb;
    s->ctx = ctx;
    s->info.tls = cfg->tls_active;
    s->state = ST_GREETING;
    /* The reader takes AUTH responses too; commands are held to max_line. */
    linereader_init(&s->lr, cfg->max_line > SASL_LINE_MAX ? cfg->max_line : SASL_LINE_MAX);
    buf_init(&s->held, 0);
    buf_init(&s->msg, cfg->max_message_size);
    buf_init(&s->sasl_out, 0);
    s->tarena = arena_new(0);
    return s;
}

void smtp_server_free(struct smtp_server *s)
{
    if (!s)
        return;
    sasl_free(s->sasl);
    free(s->auth_user);
    linereader_free(&s->lr);
    buf_free(&s->held);
    buf_free(&s->msg);
    if (s->sasl_out.p)
        sodium_memzero(s->sasl_out.p, s->sasl_out.cap);
    buf_free(&s->sasl_out);
    arena_free(s->tarena);
    sodium_memzero(&s->cbind, sizeof(s->cbind));
    free(s);
}

void smtp_server_greet(struct smtp_server *s)
{
    if (s->state != ST_GREETING)
        return;
    s->state = ST_COMMAND;
    reply(s, 220, NULL, "%s ESMTP ready", s->hostname);
}

void smtp_server_tls_started(struct smtp_server *s)
{
    if (s->state != ST_TLS)
        return;
    s->state = ST_COMMAND;
    s->info.tls = true;
    s->info.helo = NULL;
    s->info.esmtp = false;
    /* RFC 3207 §4.2: forget what the client told us before TLS. */
    free(s->auth_user);
    s->auth_user = NULL;
    s->info.auth_user = NULL;
    compute_ext(s);
}

void smtp_server_shutdown(struct smtp_server *s)
{
    if (s->state == ST_CLOSED)
        return;
    if (s->wait != W_NONE) {
        s->shutdown_pending = true;
        return;
    }
    char text[300];
    snprintf(text, sizeof(text), "%s Service shutting down", s->hostname);
    write_reply(s, 421, "4.3.2", text);
    close_session(s, "shutdown");
}

void smtp_server_timeout(struct smtp_server *s)
{
    if (s->state == ST_CLOSED)
        return;
    /* With an answer outstanding, a 421 now would land among the replies
     * the client is counting: just close. */
    if (s->wait == W_NONE) {
        char text[300];
        snprintf(text, sizeof(text), "%s Timeout waiting for input; closing", s->hostname);
        write_reply(s, 421, "4.4.2", text);
    }
    close_session(s, "timeout");
}

const struct smtp_session_info *smtp_server_info(const struct smtp_server *s)
{
    return &s->info;
}
