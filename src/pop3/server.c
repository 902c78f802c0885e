/* The POP3 engine: lines, states, login, the maildrop, and the wire form
 * of retrieved messages. See server.h; the store is the caller's
 * (session.c). */
#include "pop3/server.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/linereader.h"
#include "core/log.h"
#include "pop3/encode.h"
#include "pop3/parse.h"

/* Input held back while a command runs or output drains; see smtp/server.c. */
#define HELD_MAX (256u << 10)
/* The buffer for a retrieved chunk's wire form is released past this. */
#define OUT_KEEP (1u << 20)

enum rstate {
    RS_LINE,      /* reading a command line */
    RS_AUTH,      /* an AUTH exchange: the next line is a response */
    RS_RUNNING,   /* waiting for the caller: a login, a retrieval, the update */
    RS_TLS,       /* waiting for the TLS handshake */
    RS_CLOSED,
};

enum retr {
    RETR_NONE,
    RETR_WAITING,    /* asked the caller; nothing sent yet */
    RETR_STREAMING,  /* "+OK" sent; the message is going out */
};

struct pop3_server {
    struct pop3_server_config cfg;
    char hostname[256];
    char session[32];
    struct pop3_server_callbacks cb;
    void *ctx;

    enum pop3_state state;
    enum rstate rs;
    bool greeted;
    struct linereader lr;
    unsigned errors;

    struct buf held;
    int busy;
    bool paused;
    bool out_blocked;
    bool shutdown_pending;
    bool drop_input;          /* the rest of this read came before STLS's +OK */

    char *user;               /* USER's name, waiting for PASS */
    char *login;              /* the logged-in user */
    struct sasl *sasl;
    struct buf sasl_out;
    struct sasl_channel_binding cbind;
    bool have_cb;
    bool sasl_final;

    /* The maildrop (TRANSACTION): message i is number i + 1. */
    uint32_t uidvalidity;
    struct pop3_message *msgs;
    bool *deleted;
    uint32_t n;
    uint32_t nmarked;
    uint64_t octets_marked, octets_total;
    uint32_t *update_uids;    /* QUIT's, until pop3_server_update_done */

    enum retr retr;
    uint32_t retr_index;
    bool retr_top;
    uint32_t retr_lines;
    struct pop3_encoder enc;
    struct buf out;
};

static void process(struct pop3_server *s, struct str in);
static void resume(struct pop3_server *s);

/* ---- output ---- */

static void outf(struct pop3_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct pop3_server *s, const char *fmt, ...)
{
    if (s->rs == RS_CLOSED)
        return;
    struct buf b;
    buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
}

static void out_buf(struct pop3_server *s, const struct buf *b)
{
    if (s->rs != RS_CLOSED && b->len)
        s->cb.write(s->ctx, buf_str(b));
}

static void close_session(struct pop3_server *s, const char *reason)
{
    if (s->rs == RS_CLOSED)
        return;
    s->rs = RS_CLOSED;
    s->cb.close(s->ctx, reason);
}

/* "-ERR text" for the client's input: logged once, counted; past
 * max_errors the session ends (the reply says so). */
static void err(struct pop3_server *s, enum pop3_cmd cmd, bool parsed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err(struct pop3_server *s, enum pop3_cmd cmd, bool parsed, const char *fmt, ...)
{
    char text[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* Only the keyword: the rest of a line may be a password. */
    log_info("pop3", "protocol-error", "session=%s command=%s text=%s", s->session,
             parsed ? pop3_command_name(cmd) : "-", log_q(text));
    if (++s->errors >= s->cfg.max_errors) {
        log_info("pop3", "too-many-errors", "session=%s errors=%u", s->session, s->errors);
        outf(s, "-ERR %s (too many errors: closing the connection)\r\n", text);
        close_session(s, "too many errors");
        return;
    }
    outf(s, "-ERR %s\r\n", text);
}

static bool login_allowed(const struct pop3_server *s)
{
    return s->cfg.tls_active || s->cfg.login_plaintext;
}

/* The channel binding exists once the TLS 1.3 handshake is done (for
 * implicit TLS maybe only after the greeting): looked for when needed. */
static void refresh_channel_binding(struct pop3_server *s)
{
    if (!s->have_cb && s->cfg.tls_active && s->cb.channel_binding)
        s->have_cb = s->cb.channel_binding(s->ctx, &s->cbind);
}

/* ---- waiting ---- */

static void wait_check(struct pop3_server *s)
{
    if ((s->rs == RS_RUNNING || s->out_blocked) && s->rs != RS_CLOSED && !s->paused) {
        s->paused = true;
        s->cb.pause(s->ctx, true);
    }
}

/* A command that waited for the caller is over. */
static void command_end(struct pop3_server *s)
{
    if (s->rs == RS_RUNNING || s->rs == RS_AUTH)
        s->rs = RS_LINE;
}

static void hold(struct pop3_server *s, struct str in)
{
    if (s->held.len + in.len > HELD_MAX) {
        log_info("pop3", "input-overflow", "session=%s held=%zu", s->session, s->held.len);
        outf(s, "-ERR Too much input while a command runs\r\n");
        close_session(s, "input overflow");
        return;
    }
    buf_append(&s->held, in.p, in.len);
}

static void resume(struct pop3_server *s)
{
    if (s->shutdown_pending && s->rs != RS_RUNNING && s->rs != RS_CLOSED) {
        outf(s, "-ERR [SYS/TEMP] %s shutting down\r\n", s->hostname);
        close_session(s, "shutdown");
    }
    if (s->busy || s->rs == RS_RUNNING || s->rs == RS_CLOSED || s->out_blocked)
        return;
    if (s->paused) {
        s->paused = false;
        s->cb.pause(s->ctx, false);
    }
    if (s->held.len && s->rs != RS_TLS) {
        struct buf in = s->held;
        buf_init(&s->held, 0);
        process(s, buf_str(&in));
        buf_free(&in);
    }
}

/* ---- login ---- */

static void auth_reset(struct pop3_server *s)
{
    sasl_free(s->sasl);
    s->sasl = NULL;
    s->sasl_final = false;
    if (s->sasl_out.p)
        sodium_memzero(s->sasl_out.p, s->sasl_out.cap);
    buf_clear(&s->sasl_out);
}

static void forget_user(struct pop3_server *s)
{
    free(s->user);
    s->user = NULL;
}

static void auth_end(struct pop3_server *s, bool ok, const char *reason)
{
    const char *authzid = sasl_authzid(s->sasl), *authcid = sasl_authcid(s->sasl);
    if (ok && authzid && *authzid && (!authcid || strcasecmp(authzid, authcid) != 0)) {
        ok = false; /* no logging in as someone else */
        reason = "authorization identity differs from the user";
    }
    s->rs = RS_RUNNING;
    s->cb.auth_done(s->ctx, authcid, ok, reason);
}

static void auth_challenge(struct pop3_server *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "+ ");
    sasl_b64_encode(&b, buf_str(&s->sasl_out));
    buf_append_cstr(&b, "\r\n");
    out_buf(s, &b);
    buf_free(&b);
    s->rs = RS_AUTH;
}

static void auth_status(struct pop3_server *s, enum sasl_status st, const char *reason)
{
    switch (st) {
    case SASL_CHALLENGE:
        auth_challenge(s);
        break;
    case SASL_CHECK_PASSWORD:
        s->rs = RS_RUNNING;
        s->cb.auth_password(s->ctx, sasl_authcid(s->sasl), sasl_password(s->sasl));
        break;
    case SASL_NEED_SCRAM:
        s->rs = RS_RUNNING;
        s->cb.auth_scram(s->ctx, sasl_authcid(s->sasl));
        break;
    case SASL_SUCCESS:
        if (s->sasl_out.len) {
            /* SCRAM's server-final goes in a challenge; the client's empty
             * line ends the exchange (RFC 5034 §4). */
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

static void auth_input(struct pop3_server *s, struct str line)
{
    if (line.len == 1 && line.p[0] == '*') {
        /* RFC 5034 §4: a cancelled exchange is answered -ERR. */
        auth_reset(s);
        s->rs = RS_LINE;
        outf(s, "-ERR Authentication cancelled\r\n");
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
        s->rs = RS_LINE;
        err(s, POP3_CMD_AUTH, true, "Invalid base64 in the response");
        return;
    }
    const char *reason = NULL;
    enum sasl_status st = sasl_step(s->sasl, buf_str(&in), false, &s->sasl_out, &reason);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
    auth_status(s, st, reason);
}

/* Starts a SASL exchange for AUTH, or for USER/PASS as PLAIN. */
static void auth_start(struct pop3_server *s, enum sasl_mech m, struct str first, bool has_first)
{
    unsigned blocked = s->cb.auth_blocked(s->ctx);
    if (blocked) {
        outf(s, "-ERR [SYS/TEMP] Too many failed logins from your address; try again in %u "
                "minutes\r\n", (blocked + 59) / 60);
        return;
    }
    s->sasl = sasl_new(m, s->have_cb ? &s->cbind : NULL, s->cfg.sasl_secret);
    const char *reason = NULL;
    enum sasl_status st = sasl_step(s->sasl, has_first ? first : STR_NULL, true, &s->sasl_out,
                                    &reason);
    auth_status(s, st, reason);
}

static void cmd_user(struct pop3_server *s, const struct pop3_command *c)
{
    if (!login_allowed(s)) {
        err(s, c->cmd, true, "[AUTH] Log in over TLS: use STLS first");
        return;
    }
    forget_user(s);
    s->user = xstrndup(c->arg.p, c->arg.len);
    /* The same answer for every name: nothing tells which exist. */
    outf(s, "+OK Send your password\r\n");
}

static void cmd_pass(struct pop3_server *s, const struct pop3_command *c)
{
    if (!login_allowed(s)) {
        err(s, c->cmd, true, "[AUTH] Log in over TLS: use STLS first");
        return;
    }
    if (!s->user) {
        err(s, c->cmd, true, "Send USER first");
        return;
    }
    /* The same path as AUTH PLAIN: "\0user\0password". */
    struct buf plain;
    buf_init(&plain, 0);
    buf_append_char(&plain, '\0');
    buf_append_cstr(&plain, s->user);
    buf_append_char(&plain, '\0');
    buf_append_str(&plain, c->arg);
    /* RFC 1939 §7: after PASS, right or wrong, the next login starts with
     * USER again. */
    forget_user(s);
    auth_start(s, SASL_MECH_PLAIN, buf_str(&plain), true);
    sodium_memzero(plain.p, plain.cap);
    buf_free(&plain);
}

static void mechanisms(struct pop3_server *s, struct buf *b, const char *sep)
{
    refresh_channel_binding(s);
    buf_printf(b, "PLAIN%sSCRAM-SHA-256", sep);
    if (s->have_cb)
        buf_printf(b, "%sSCRAM-SHA-256-PLUS", sep);
}

static void cmd_auth(struct pop3_server *s, const struct pop3_command *c)
{
    if (!login_allowed(s)) {
        err(s, c->cmd, true, "[AUTH] Log in over TLS: use STLS first");
        return;
    }
    if (c->arg.len == 0) {
        /* "AUTH" alone (RFC 1734's clients): the mechanisms, one a line. */
        struct buf b;
        buf_init(&b, 0);
        buf_append_cstr(&b, "+OK Mechanisms follow\r\n");
        mechanisms(s, &b, "\r\n");
        buf_append_cstr(&b, "\r\n.\r\n");
        out_buf(s, &b);
        buf_free(&b);
        return;
    }
    refresh_channel_binding(s);
    enum sasl_mech m;
    if (sasl_mech_parse(c->arg, &m) < 0 || m == SASL_MECH_LOGIN ||
        (m == SASL_MECH_SCRAM_SHA_256_PLUS && !s->have_cb)) {
        err(s, c->cmd, true, "Unsupported authentication mechanism");
        return;
    }
    struct buf in;
    buf_init(&in, 0);
    if (c->has_initial && sasl_b64_decode(c->initial, &in) < 0) {
        buf_free(&in);
        err(s, c->cmd, true, "Invalid base64 in the initial response");
        return;
    }
    forget_user(s);
    auth_start(s, m, c->has_initial ? buf_str(&in) : STR_NULL, c->has_initial);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
}

/* ---- commands that need no maildrop ---- */

static void cmd_capa(struct pop3_server *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "+OK Capability list follows\r\n"
                        "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
    if (s->state == POP3_STATE_AUTHORIZATION) {
        if (!s->cfg.tls_active && s->cfg.starttls)
            buf_append_cstr(&b, "STLS\r\n");
        /* USER and SASL only when a login may happen now (RFC 2449 §6.2,
         * §6.3): before TLS a client must not be invited to send a
         * password. */
        if (login_allowed(s)) {
            buf_append_cstr(&b, "USER\r\nSASL ");
            mechanisms(s, &b, " ");
            buf_append_cstr(&b, "\r\n");
        }
    }
    buf_append_cstr(&b, "IMPLEMENTATION outpost\r\n.\r\n");
    out_buf(s, &b);
    buf_free(&b);
}

static void cmd_stls(struct pop3_server *s, const struct pop3_command *c)
{
    if (s->cfg.tls_active || !s->cfg.starttls) {
        err(s, c->cmd, true, s->cfg.tls_active ? "TLS is already active" : "STLS is not available");
        return;
    }
    outf(s, "+OK Begin TLS negotiation now\r\n");
    /* Nothing sent in plaintext survives into the TLS session (RFC 2595
     * §4): the line reader, what is held and the rest of this read go. */
    linereader_reset(&s->lr);
    buf_free(&s->held);
    buf_init(&s->held, 0);
    forget_user(s);
    s->rs = RS_TLS;
    s->drop_input = true;
    s->cb.starttls(s->ctx);
}

/* ---- the maildrop ---- */

/* Message `msg` (1-based) when it exists and is not marked: its index. */
static int message(struct pop3_server *s, const struct pop3_command *c, uint32_t *index)
{
    if (c->msg == 0 || c->msg > s->n) {
        err(s, c->cmd, true, "No such message");
        return -1;
    }
    if (s->deleted[c->msg - 1]) {
        err(s, c->cmd, true, "Message %u is deleted", c->msg);
        return -1;
    }
    *index = c->msg - 1;
    return 0;
}

static void cmd_stat(struct pop3_server *s)
{
    outf(s, "+OK %u %llu\r\n", s->n - s->nmarked,
         (unsigned long long)(s->octets_total - s->octets_marked));
}

static void write_uidl(struct pop3_server *s, struct buf *b, uint32_t i)
{
    buf_printf(b, "%u %u.%u\r\n", i + 1, s->uidvalidity, s->msgs[i].uid);
}

static void cmd_list(struct pop3_server *s, const struct pop3_command *c, bool uidl)
{
    struct buf b;
    buf_init(&b, 0);
    if (c->has_msg) {
        uint32_t i;
        if (message(s, c, &i) < 0) {
            buf_free(&b);
            return;
        }
        buf_append_cstr(&b, "+OK ");
        if (uidl)
            write_uidl(s, &b, i);
        else
            buf_printf(&b, "%u %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
    } else {
        if (uidl)
            buf_append_cstr(&b, "+OK Unique-ID listing follows\r\n");
        else
            buf_printf(&b, "+OK %u messages (%llu octets)\r\n", s->n - s->nmarked,
                       (unsigned long long)(s->octets_total - s->octets_marked));
        for (uint32_t i = 0; i < s->n; i++) {
            if (s->deleted[i])
                continue;
            if (uidl)
                write_uidl(s, &b, i);
            else
                buf_printf(&b, "%u %llu\r\n", i + 1, (unsigned long long)s->msgs[i].size);
        }
        buf_append_cstr(&b, ".\r\n");
    }
    out_buf(s, &b);
    buf_free(&b);
}

static void cmd_dele(struct pop3_server *s, const struct pop3_command *c)
{
    uint32_t i;
    if (message(s, c, &i) < 0)
        return;
    s->deleted[i] = true;
    s->nmarked++;
    s->octets_marked += s->msgs[i].size;
    outf(s, "+OK Message %u deleted\r\n", c->msg);
}

static void cmd_rset(struct pop3_server *s)
{
    memset(s->deleted, 0, s->n * sizeof(*s->deleted));
    s->nmarked = 0;
    s->octets_marked = 0;
    outf(s, "+OK Maildrop has %u messages (%llu octets)\r\n", s->n,
         (unsigned long long)s->octets_total);
}

static void cmd_retr(struct pop3_server *s, const struct pop3_command *c)
{
    uint32_t i;
    if (message(s, c, &i) < 0)
        return;
    s->retr = RETR_WAITING;
    s->retr_index = i;
    s->retr_top = c->cmd == POP3_CMD_TOP;
    s->retr_lines = c->lines;
    s->rs = RS_RUNNING;
    s->cb.retrieve(s->ctx, i, s->msgs[i].uid);
}

static void cmd_quit(struct pop3_server *s)
{
    if (s->state != POP3_STATE_TRANSACTION) {
        outf(s, "+OK %s closing connection\r\n", s->hostname);
        close_session(s, "quit");
        return;
    }
    s->state = POP3_STATE_UPDATE;
    if (s->nmarked == 0) {
        outf(s, "+OK %s closing connection; no messages deleted\r\n", s->hostname);
        close_session(s, "quit");
        return;
    }
    s->update_uids = xcalloc(s->nmarked, sizeof(*s->update_uids));
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->deleted[i])
            s->update_uids[k++] = s->msgs[i].uid;
    s->rs = RS_RUNNING;
    s->cb.update(s->ctx, s->update_uids, k);
}

static void command(struct pop3_server *s, struct str line)
{
    struct pop3_command c;
    const char *reason = NULL;
    if (pop3_parse_command(line, &c, &reason) < 0) {
        err(s, POP3_CMD_NOOP, false, "%s", reason ? reason : "Invalid command");
        return;
    }
    switch (c.cmd) {
    case POP3_CMD_CAPA:
        cmd_capa(s);
        return;
    case POP3_CMD_QUIT:
        cmd_quit(s);
        return;
    default:
        break;
    }
    if (s->state == POP3_STATE_AUTHORIZATION) {
        switch (c.cmd) {
        case POP3_CMD_USER: cmd_user(s, &c); return;
        case POP3_CMD_PASS: cmd_pass(s, &c); return;
        case POP3_CMD_AUTH: cmd_auth(s, &c); return;
        case POP3_CMD_STLS: cmd_stls(s, &c); return;
        case POP3_CMD_APOP:
            err(s, c.cmd, true, "APOP is not supported: use USER and PASS, or AUTH");
            return;
        default:
            err(s, c.cmd, true, "Log in first");
            return;
        }
    }
    switch (c.cmd) {
    case POP3_CMD_STAT: cmd_stat(s); return;
    case POP3_CMD_LIST: cmd_list(s, &c, false); return;
    case POP3_CMD_UIDL: cmd_list(s, &c, true); return;
    case POP3_CMD_DELE: cmd_dele(s, &c); return;
    case POP3_CMD_RSET: cmd_rset(s); return;
    case POP3_CMD_NOOP: outf(s, "+OK\r\n"); return;
    case POP3_CMD_RETR: case POP3_CMD_TOP: cmd_retr(s, &c); return;
    default:
        err(s, c.cmd, true, "Already logged in");
        return;
    }
}

/* ---- input ---- */

static void process(struct pop3_server *s, struct str in)
{
    s->busy++;
    s->drop_input = false;
    while ((s->rs == RS_LINE || s->rs == RS_AUTH) && !s->out_blocked && !s->drop_input) {
        struct str line;
        enum line_status ls = linereader_next(&s->lr, &in, &line);
        if (ls == LINE_NONE)
            break;
        if (ls == LINE_TOO_LONG) {
            if (s->rs == RS_AUTH) {
                auth_reset(s);
                s->rs = RS_LINE;
            }
            err(s, POP3_CMD_NOOP, false, "Line too long (the limit is %zu bytes)",
                s->cfg.max_line);
            continue;
        }
        if (s->rs == RS_AUTH)
            auth_input(s, line);
        else
            command(s, line);
    }
    if (in.len && !s->drop_input && (s->rs == RS_RUNNING || s->rs == RS_LINE || s->rs == RS_AUTH))
        hold(s, in);
    wait_check(s);
    s->busy--;
}

void pop3_server_input(struct pop3_server *s, struct str bytes)
{
    if (s->rs == RS_CLOSED || s->rs == RS_TLS)
        return;
    if (s->rs == RS_RUNNING || s->busy || s->out_blocked || s->held.len) {
        /* After what is already waiting, in order. */
        hold(s, bytes);
        wait_check(s);
        resume(s);
        return;
    }
    process(s, bytes);
}

void pop3_server_output_blocked(struct pop3_server *s, bool blocked)
{
    s->out_blocked = blocked;
    if (blocked)
        wait_check(s);
    else
        resume(s);
}

/* ---- answers ---- */

void pop3_server_auth_checked(struct pop3_server *s, bool ok)
{
    if (s->rs != RS_RUNNING || !s->sasl)
        return;
    const char *reason = NULL;
    enum sasl_status st = sasl_password_result(s->sasl, ok, &reason);
    auth_status(s, st, reason);
    resume(s);
}

void pop3_server_auth_credentials(struct pop3_server *s, const struct auth_credentials *cred)
{
    if (s->rs != RS_RUNNING || !s->sasl)
        return;
    const char *reason = NULL;
    enum sasl_status st = sasl_scram_credentials(s->sasl, cred, &s->sasl_out, &reason);
    auth_status(s, st, reason);
    resume(s);
}

void pop3_server_auth_finished(struct pop3_server *s, enum pop3_auth_result result)
{
    if (s->rs != RS_RUNNING || s->state != POP3_STATE_AUTHORIZATION)
        return;
    switch (result) {
    case POP3_AUTH_FAILED:
        outf(s, "-ERR [AUTH] Authentication failed\r\n");
        break;
    case POP3_AUTH_TEMPORARY:
        outf(s, "-ERR [SYS/TEMP] Temporary failure; try again later\r\n");
        break;
    case POP3_AUTH_IN_USE:
        outf(s, "-ERR [IN-USE] The mailbox is in use by another POP3 session; try again "
                "later\r\n");
        break;
    }
    auth_reset(s);
    command_end(s);
    resume(s);
}

void pop3_server_maildrop(struct pop3_server *s, uint32_t uidvalidity,
                          const struct pop3_message *msgs, uint32_t n)
{
    if (s->rs != RS_RUNNING || s->state != POP3_STATE_AUTHORIZATION)
        return;
    const char *user = sasl_authcid(s->sasl);
    free(s->login);
    s->login = xstrdup(user ? user : "");
    s->uidvalidity = uidvalidity;
    s->n = n;
    s->msgs = xcalloc(n ? n : 1, sizeof(*s->msgs));
    s->deleted = xcalloc(n ? n : 1, sizeof(*s->deleted));
    if (n)
        memcpy(s->msgs, msgs, n * sizeof(*msgs));
    s->octets_total = 0;
    for (uint32_t i = 0; i < n; i++)
        s->octets_total += msgs[i].size;
    s->state = POP3_STATE_TRANSACTION;
    outf(s, "+OK Logged in; %u messages (%llu octets)\r\n", n,
         (unsigned long long)s->octets_total);
    auth_reset(s);
    command_end(s);
    resume(s);
}

void pop3_server_retr_start(struct pop3_server *s)
{
    if (s->retr != RETR_WAITING || s->rs == RS_CLOSED)
        return;
    const struct pop3_message *m = &s->msgs[s->retr_index];
    if (s->retr_top)
        outf(s, "+OK Top of message %u follows\r\n", s->retr_index + 1);
    else
        outf(s, "+OK %llu octets\r\n", (unsigned long long)m->size);
    pop3_encoder_init(&s->enc, s->retr_top, s->retr_lines);
    s->retr = RETR_STREAMING;
}

bool pop3_server_retr_data(struct pop3_server *s, struct str bytes)
{
    if (s->retr != RETR_STREAMING || s->rs == RS_CLOSED)
        return false;
    buf_clear(&s->out);
    pop3_encode(&s->enc, bytes, &s->out);
    out_buf(s, &s->out);
    if (s->out.cap > OUT_KEEP) {
        buf_free(&s->out);
        buf_init(&s->out, 0);
    }
    return !pop3_encoder_done(&s->enc) && s->rs != RS_CLOSED;
}

void pop3_server_retr_end(struct pop3_server *s)
{
    if (s->retr != RETR_STREAMING) {
        s->retr = RETR_NONE;
        return;
    }
    s->retr = RETR_NONE;
    buf_clear(&s->out);
    pop3_encode_finish(&s->enc, &s->out);
    buf_append_cstr(&s->out, ".\r\n");
    out_buf(s, &s->out);
    const struct pop3_message *m = &s->msgs[s->retr_index];
    if (!s->retr_top && s->enc.octets != m->size) {
        /* A message file never changes (store.h): this is a bug. */
        log_warn("pop3", "size-mismatch", "session=%s uid=%u listed=%llu sent=%llu", s->session,
                 m->uid, (unsigned long long)m->size, (unsigned long long)s->enc.octets);
    }
    command_end(s);
    resume(s);
}

void pop3_server_retr_failed(struct pop3_server *s, const char *code, const char *text)
{
    enum retr was = s->retr;
    s->retr = RETR_NONE;
    if (s->rs == RS_CLOSED)
        return;
    if (was == RETR_STREAMING) {
        /* Half a message is out: no reply can follow it. */
        close_session(s, "retrieval failed");
        return;
    }
    if (was != RETR_WAITING)
        return;
    if (code && *code)
        outf(s, "-ERR [%s] %s\r\n", code, text);
    else
        outf(s, "-ERR %s\r\n", text);
    command_end(s);
    resume(s);
}

void pop3_server_update_done(struct pop3_server *s, bool ok, uint32_t removed)
{
    free(s->update_uids);
    s->update_uids = NULL;
    if (s->rs != RS_RUNNING || s->state != POP3_STATE_UPDATE)
        return;
    if (ok)
        outf(s, "+OK %s closing connection; %u messages deleted\r\n", s->hostname, removed);
    else
        outf(s, "-ERR [SYS/TEMP] Some deleted messages were not removed; try again\r\n");
    close_session(s, ok ? "quit" : "update failed");
}

/* ---- life cycle ---- */

struct pop3_server *pop3_server_new(const struct pop3_server_config *cfg,
                                    const struct pop3_server_callbacks *cb, void *ctx)
{
    struct pop3_server *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->hostname ? cfg->hostname : "");
    snprintf(s->session, sizeof(s->session), "%s", cfg->session ? cfg->session : "-");
    s->cfg.hostname = s->hostname;
    s->cfg.session = s->session;
    if (s->cfg.max_errors == 0)
        s->cfg.max_errors = 1;
    s->cb = *cb;
    s->ctx = ctx;
    s->rs = RS_LINE;
    linereader_init(&s->lr, cfg->max_line);
    buf_init(&s->held, 0);
    buf_init(&s->sasl_out, 0);
    buf_init(&s->out, 0);
    return s;
}

void pop3_server_free(struct pop3_server *s)
{
    if (!s)
        return;
    auth_reset(s);
    buf_free(&s->sasl_out);
    linereader_free(&s->lr);
    buf_free(&s->held);
    buf_free(&s->out);
    forget_user(s);
    free(s->login);
    free(s->msgs);
    free(s->deleted);
    free(s->update_uids);
    sodium_memzero(&s->cbind, sizeof(s->cbind));
    free(s);
}

void pop3_server_greet(struct pop3_server *s)
{
    if (s->greeted)
        return;
    s->greeted = true;
    outf(s, "+OK %s POP3 ready\r\n", s->hostname);
}

void pop3_server_tls_started(struct pop3_server *s)
{
    if (s->rs != RS_TLS)
        return;
    s->rs = RS_LINE;
    s->cfg.tls_active = true;
    refresh_channel_binding(s);
    resume(s);
}

void pop3_server_shutdown(struct pop3_server *s)
{
    if (s->rs == RS_CLOSED)
        return;
    if (s->rs == RS_RUNNING) {
        s->shutdown_pending = true;
        return;
    }
    outf(s, "-ERR [SYS/TEMP] %s shutting down\r\n", s->hostname);
    close_session(s, "shutdown");
}

void pop3_server_timeout(struct pop3_server *s)
{
    if (s->rs == RS_CLOSED)
        return;
    if (s->retr == RETR_STREAMING) {
        close_session(s, "timeout"); /* no reply fits inside a message */
        return;
    }
    outf(s, "-ERR Autologout: idle timeout; closing the connection\r\n");
    close_session(s, "timeout");
}

enum pop3_state pop3_server_state(const struct pop3_server *s) { return s->state; }
const char *pop3_server_user(const struct pop3_server *s) { return s->login; }
uint32_t pop3_server_marked(const struct pop3_server *s) { return s->nmarked; }
