/* The IMAP engine: command assembly, states, login, and the commands that
 * need no mailbox. See server.h; mailboxes are the caller's (session.c). */
#include "imap/server.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/linereader.h"
#include "core/log.h"

/* A command's parse may allocate this much (search programs, sets). */
#define CMD_ARENA_MAX (4u << 20)
/* Input held back while a command runs; see smtp/server.c. */
#define HELD_MAX (256u << 10)
/* Bytes of command text around its literals (the lines themselves). */
#define CMD_TEXT_MAX (256u << 10)

enum rstate {
    RS_LINE,      /* reading a line of a command */
    RS_LITERAL,   /* reading a literal's bytes */
    RS_RUNNING,   /* a command is with the caller, or a login check */
    RS_AUTH,      /* an AUTHENTICATE exchange: the next line is a response */
    RS_IDLE,      /* IDLE: waiting for DONE */
    RS_TLS,       /* waiting for the TLS handshake */
    RS_CLOSED,
};

struct imap_server {
    struct imap_server_config cfg;
    char hostname[256];
    char session[32];
    char *caps_auth;
    struct imap_server_callbacks cb;
    void *ctx;

    enum imap_state state;
    unsigned enabled;
    char *user;

    enum rstate rs;
    bool greeted;
    struct linereader lr;
    struct buf cmd;             /* the command being assembled */
    uint64_t text_len;          /* its line bytes (without literals) */
    uint64_t lit_left;
    struct arena *arena;        /* the running command's */
    struct imap_command cur;
    char tag[IMAP_TAG_MAX + 1];
    bool tagged;                /* tag[] holds the running command's tag */
    unsigned bad;

    struct buf held;
    int busy;
    bool paused;
    bool shutdown_pending;
    bool compressed;            /* COMPRESS DEFLATE is active */
    bool drop_input;            /* the rest of this read came before COMPRESS's OK */

    struct sasl *sasl;
    struct buf sasl_out;
    struct sasl_channel_binding cbind;
    bool have_cb;
    bool sasl_final;
};

static void process(struct imap_server *s, struct str in);
static void early_tag(struct imap_server *s, struct str cmd);

/* ---- output ---- */

static void out_str(struct imap_server *s, struct str b)
{
    if (s->rs != RS_CLOSED || b.len)
        s->cb.write(s->ctx, b);
}

static void outf(struct imap_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct imap_server *s, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
}

static void close_session(struct imap_server *s, const char *reason)
{
    if (s->rs == RS_CLOSED)
        return;
    s->rs = RS_CLOSED;
    s->state = IMAP_STATE_LOGOUT;
    s->cb.close(s->ctx, reason);
}

/* The channel binding exists once the TLS 1.3 handshake is done (for
 * implicit TLS maybe only after the greeting): looked for when needed. */
static void refresh_channel_binding(struct imap_server *s)
{
    if (!s->have_cb && s->cfg.tls_active && s->cb.channel_binding)
        s->have_cb = s->cb.channel_binding(s->ctx, &s->cbind);
}

/* The capability list for the current state. */
static void caps(struct imap_server *s, struct buf *b)
{
    refresh_channel_binding(s);
    if (s->state != IMAP_STATE_NOT_AUTHENTICATED) {
        buf_append_cstr(b, s->caps_auth);
        return;
    }
    buf_append_cstr(b, "IMAP4rev2 IMAP4rev1 LITERAL+ SASL-IR ID ENABLE");
    if (!s->cfg.tls_active && s->cfg.starttls)
        buf_append_cstr(b, " STARTTLS");
    if (!s->cfg.tls_active && !s->cfg.login_plaintext) {
        buf_append_cstr(b, " LOGINDISABLED");
        return;
    }
    buf_append_cstr(b, " AUTH=PLAIN AUTH=SCRAM-SHA-256");
    if (s->have_cb)
        buf_append_cstr(b, " AUTH=SCRAM-SHA-256-PLUS");
}

/* "TAG status [code] text" (or "*" without a tag). */
static void tagged(struct imap_server *s, const char *status, const char *code, const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s %s ", s->tagged ? s->tag : "*", status);
    if (code && *code)
        buf_printf(&b, "[%s] ", code);
    buf_printf(&b, "%s\r\n", text);
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
}

/* A BAD for the client's input: logged once, counted. */
static void bad(struct imap_server *s, const char *text)
{
    log_info("imap", "protocol-error", "session=%s tag=%s text=%s", s->session,
             s->tagged ? log_q(s->tag) : "-", log_q(text));
    tagged(s, "BAD", NULL, text);
    if (++s->bad >= s->cfg.max_bad && s->rs != RS_CLOSED) {
        outf(s, "* BYE Too many invalid commands\r\n");
        close_session(s, "too many errors");
    }
}

/* ---- waiting ---- */

static void wait_check(struct imap_server *s)
{
    if (s->rs == RS_RUNNING && !s->paused) {
        s->paused = true;
        s->cb.pause(s->ctx, true);
    }
}

static void command_reset(struct imap_server *s)
{
    buf_clear(&s->cmd);
    if (s->cmd.cap > (1u << 20)) {
        uint64_t max = s->cmd.max;
        buf_free(&s->cmd);
        buf_init(&s->cmd, (size_t)max);
    }
    s->text_len = 0;
    s->tagged = false;
    arena_reset(s->arena);
}

static void resume(struct imap_server *s)
{
    if (s->shutdown_pending && s->rs != RS_RUNNING && s->rs != RS_CLOSED) {
        outf(s, "* BYE %s Server shutting down\r\n", s->hostname);
        close_session(s, "shutdown");
    }
    if (s->busy || s->rs == RS_RUNNING)
        return;
    if (s->paused && s->rs != RS_CLOSED) {
        s->paused = false;
        s->cb.pause(s->ctx, false);
    }
    if (s->held.len && s->rs != RS_CLOSED && s->rs != RS_TLS) {
        struct buf in = s->held;
        buf_init(&s->held, 0);
        process(s, buf_str(&in));
        buf_free(&in);
    }
}

/* A command finished: back to reading lines. */
static void command_end(struct imap_server *s)
{
    if (s->rs == RS_RUNNING || s->rs == RS_AUTH || s->rs == RS_IDLE)
        s->rs = RS_LINE;
    command_reset(s);
}

/* ---- login ---- */

static void auth_reset(struct imap_server *s)
{
    sasl_free(s->sasl);
    s->sasl = NULL;
    s->sasl_final = false;
    if (s->sasl_out.p)
        sodium_memzero(s->sasl_out.p, s->sasl_out.cap);
    buf_clear(&s->sasl_out);
}

static void auth_end(struct imap_server *s, bool ok, const char *reason)
{
    const char *authzid = sasl_authzid(s->sasl), *authcid = sasl_authcid(s->sasl);
    if (ok && authzid && *authzid && (!authcid || strcasecmp(authzid, authcid) != 0)) {
        ok = false; /* no logging in as someone else */
        reason = "authorization identity differs from the user";
    }
    s->rs = RS_RUNNING;
    s->cb.auth_done(s->ctx, authcid, ok, reason);
}

static void auth_challenge(struct imap_server *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "+ ");
    sasl_b64_encode(&b, buf_str(&s->sasl_out));
    buf_append_cstr(&b, "\r\n");
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
    s->rs = RS_AUTH;
}

static void auth_status(struct imap_server *s, enum sasl_status st, const char *reason)
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
            s->sasl_final = true; /* SCRAM's server-final, then an empty line */
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

static void auth_input(struct imap_server *s, struct str line)
{
    if (line.len == 1 && line.p[0] == '*') {
        auth_reset(s);
        /* RFC 9051 §6.2.2: a cancelled exchange is answered BAD. */
        bad(s, "Authentication cancelled");
        command_end(s);
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
        bad(s, "Invalid base64 in the response");
        command_end(s);
        return;
    }
    const char *reason = NULL;
    enum sasl_status st = sasl_step(s->sasl, buf_str(&in), false, &s->sasl_out, &reason);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
    auth_status(s, st, reason);
}

static bool login_allowed(const struct imap_server *s)
{
    return s->cfg.tls_active || s->cfg.login_plaintext;
}

/* Starts a SASL exchange for AUTHENTICATE, or for LOGIN as PLAIN. */
static void auth_start(struct imap_server *s, enum sasl_mech m, struct str first, bool has_first)
{
    unsigned blocked = s->cb.auth_blocked(s->ctx);
    if (blocked) {
        char text[120];
        snprintf(text, sizeof(text),
                 "Too many failed logins from your address; try again in %u minutes",
                 (blocked + 59) / 60);
        tagged(s, "NO", "UNAVAILABLE", text);
        command_end(s);
        return;
    }
    s->sasl = sasl_new(m, s->have_cb ? &s->cbind : NULL, s->cfg.sasl_secret);
    const char *reason = NULL;
    enum sasl_status st = sasl_step(s->sasl, has_first ? first : STR_NULL, true, &s->sasl_out,
                                    &reason);
    auth_status(s, st, reason);
}

static void cmd_login(struct imap_server *s)
{
    if (!login_allowed(s)) {
        tagged(s, "NO", "PRIVACYREQUIRED", "Log in over TLS: use STARTTLS first");
        command_end(s);
        return;
    }
    const struct imap_login_args *a = &s->cur.u.login;
    /* The same path as AUTHENTICATE PLAIN: "\0user\0password". */
    struct buf plain;
    buf_init(&plain, 0);
    buf_append_char(&plain, '\0');
    buf_append_str(&plain, a->user);
    buf_append_char(&plain, '\0');
    buf_append_str(&plain, a->password);
    auth_start(s, SASL_MECH_PLAIN, buf_str(&plain), true);
    sodium_memzero(plain.p, plain.cap);
    buf_free(&plain);
}

static void cmd_authenticate(struct imap_server *s)
{
    const struct imap_authenticate_args *a = &s->cur.u.authenticate;
    refresh_channel_binding(s);
    enum sasl_mech m;
    if (sasl_mech_parse(a->mechanism, &m) < 0 ||
        (m == SASL_MECH_SCRAM_SHA_256_PLUS && !s->have_cb) || m == SASL_MECH_LOGIN) {
        tagged(s, "NO", "CANNOT", "Unsupported authentication mechanism");
        command_end(s);
        return;
    }
    if (!login_allowed(s)) {
        tagged(s, "NO", "PRIVACYREQUIRED", "Log in over TLS: use STARTTLS first");
        command_end(s);
        return;
    }
    struct buf in;
    buf_init(&in, 0);
    if (a->has_initial && sasl_b64_decode(a->initial, &in) < 0) {
        buf_free(&in);
        bad(s, "Invalid base64 in the initial response");
        command_end(s);
        return;
    }
    auth_start(s, m, a->has_initial ? buf_str(&in) : STR_NULL, a->has_initial);
    sodium_memzero(in.p, in.cap);
    buf_free(&in);
}

/* ---- commands the engine answers ---- */

static void cmd_capability(struct imap_server *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "* CAPABILITY ");
    caps(s, &b);
    buf_append_cstr(&b, "\r\n");
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
    tagged(s, "OK", NULL, "CAPABILITY completed");
}

static void cmd_id(struct imap_server *s)
{
    /* RFC 2971: the client's fields are for the logs only. */
    outf(s, "* ID (\"name\" \"outpost\")\r\n");
    tagged(s, "OK", NULL, "ID completed");
}

static void cmd_enable(struct imap_server *s)
{
    const struct imap_strs *e = &s->cur.u.enable;
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "* ENABLED");
    for (uint32_t i = 0; i < e->n; i++) {
        unsigned bit = 0;
        const char *name = NULL;
        if (str_eq_nocase_cstr(e->v[i], "IMAP4rev2")) {
            bit = IMAP_ENABLED_IMAP4REV2;
            name = "IMAP4rev2";
        } else if (str_eq_nocase_cstr(e->v[i], "CONDSTORE") && strstr(s->caps_auth, "CONDSTORE")) {
            bit = IMAP_ENABLED_CONDSTORE;
            name = "CONDSTORE";
        } else if (str_eq_nocase_cstr(e->v[i], "QRESYNC") && strstr(s->caps_auth, "QRESYNC")) {
            bit = IMAP_ENABLED_QRESYNC | IMAP_ENABLED_CONDSTORE;
            name = "QRESYNC";
        } else if (str_eq_nocase_cstr(e->v[i], "UTF8=ACCEPT") &&
                   strstr(s->caps_auth, "UTF8=ACCEPT")) {
            bit = IMAP_ENABLED_UTF8;
            name = "UTF8=ACCEPT";
        }
        /* RFC 5161: list only what this command newly enabled. QRESYNC
         * after CONDSTORE is new: it is enough that part of `bit` is. */
        if (bit && (s->enabled & bit) != bit) {
            s->enabled |= bit;
            buf_printf(&b, " %s", name);
        }
    }
    buf_append_cstr(&b, "\r\n");
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
    tagged(s, "OK", NULL, "ENABLE completed");
}

static void cmd_logout(struct imap_server *s)
{
    outf(s, "* BYE %s logging out\r\n", s->hostname);
    tagged(s, "OK", NULL, "LOGOUT completed");
    close_session(s, "logout");
}

static void cmd_starttls(struct imap_server *s)
{
    if (s->cfg.tls_active || !s->cfg.starttls) {
        bad(s, s->cfg.tls_active ? "TLS is already active" : "STARTTLS is not available");
        command_end(s);
        return;
    }
    tagged(s, "OK", NULL, "Begin TLS negotiation now");
    command_reset(s);
    linereader_reset(&s->lr);
    buf_free(&s->held);
    buf_init(&s->held, 0);
    s->rs = RS_TLS;
    s->cb.starttls(s->ctx);
}

/* COMPRESS DEFLATE (RFC 4978): the OK goes out uncompressed, then both
 * directions are. Input the client sent with the command was sent before it
 * saw the OK: dropped, as for STARTTLS. */
static void cmd_compress(struct imap_server *s)
{
    if (!s->cb.compress) {
        bad(s, "COMPRESS is not available");
        command_end(s);
        return;
    }
    if (!str_eq_nocase_cstr(s->cur.u.compress, "DEFLATE")) {
        bad(s, "Unknown compression mechanism");
        command_end(s);
        return;
    }
    if (s->compressed) {
        tagged(s, "NO", "COMPRESSIONACTIVE", "DEFLATE is already active");
        command_end(s);
        return;
    }
    tagged(s, "OK", NULL, "DEFLATE active");
    command_reset(s);
    linereader_reset(&s->lr);
    buf_free(&s->held);
    buf_init(&s->held, 0);
    s->compressed = true;
    s->drop_input = true;
    s->cb.compress(s->ctx);
}

/* Which states a command is allowed in. */
static bool allowed(enum imap_cmd c, enum imap_state st)
{
    switch (c) {
    case IMAP_CMD_CAPABILITY: case IMAP_CMD_NOOP: case IMAP_CMD_LOGOUT: case IMAP_CMD_ID:
        return true;
    case IMAP_CMD_STARTTLS: case IMAP_CMD_AUTHENTICATE: case IMAP_CMD_LOGIN:
        return st == IMAP_STATE_NOT_AUTHENTICATED;
    case IMAP_CMD_CHECK: case IMAP_CMD_CLOSE: case IMAP_CMD_UNSELECT: case IMAP_CMD_EXPUNGE:
    case IMAP_CMD_SEARCH: case IMAP_CMD_FETCH: case IMAP_CMD_STORE: case IMAP_CMD_COPY:
    case IMAP_CMD_MOVE: case IMAP_CMD_SORT: case IMAP_CMD_THREAD:
        return st == IMAP_STATE_SELECTED;
    default:
        return st == IMAP_STATE_AUTHENTICATED || st == IMAP_STATE_SELECTED;
    }
}

static void dispatch(struct imap_server *s)
{
    const char *reason = NULL;
    memset(&s->cur, 0, sizeof(s->cur));
    int r = imap_parse_command(s->arena, buf_str(&s->cmd), &s->cur, &reason);
    if (s->cur.tag.p && s->cur.tag.len <= IMAP_TAG_MAX) {
        memcpy(s->tag, s->cur.tag.p, s->cur.tag.len);
        s->tag[s->cur.tag.len] = '\0';
        s->tagged = true;
    } else {
        early_tag(s, buf_str(&s->cmd)); /* a client waits for its tag */
    }
    if (r < 0) {
        bad(s, reason ? reason : "Invalid command");
        command_reset(s);
        return;
    }
    if (!allowed(s->cur.cmd, s->state)) {
        const char *why = s->state == IMAP_STATE_NOT_AUTHENTICATED ? "Log in first"
                          : s->cur.cmd == IMAP_CMD_LOGIN || s->cur.cmd == IMAP_CMD_AUTHENTICATE
                              ? "Already logged in"
                          : s->state == IMAP_STATE_AUTHENTICATED ? "No mailbox selected"
                                                                 : "Not allowed now";
        bad(s, why);
        command_reset(s);
        return;
    }
    switch (s->cur.cmd) {
    case IMAP_CMD_CAPABILITY: cmd_capability(s); command_reset(s); return;
    case IMAP_CMD_ID: cmd_id(s); command_reset(s); return;
    case IMAP_CMD_LOGOUT: cmd_logout(s); return;
    case IMAP_CMD_STARTTLS: cmd_starttls(s); return;
    case IMAP_CMD_COMPRESS: cmd_compress(s); return;
    case IMAP_CMD_ENABLE: cmd_enable(s); command_reset(s); return;
    case IMAP_CMD_LOGIN: cmd_login(s); return;
    case IMAP_CMD_AUTHENTICATE: cmd_authenticate(s); return;
    case IMAP_CMD_NOOP:
        if (s->state == IMAP_STATE_NOT_AUTHENTICATED) {
            tagged(s, "OK", NULL, "NOOP completed");
            command_reset(s);
            return;
        }
        break;
    case IMAP_CMD_IDLE:
        s->rs = RS_IDLE;
        outf(s, "+ idling\r\n");
        s->cb.idle(s->ctx, true);
        return;
    default:
        break;
    }
    s->rs = RS_RUNNING;
    s->cb.command(s->ctx, &s->cur);
}

/* ---- assembling commands ---- */

/* The limit for a literal announced in the command so far: APPEND takes a
 * message, anything else a name or a password. */
static uint64_t literal_limit(struct imap_server *s)
{
    struct str c = buf_str(&s->cmd), tag;
    /* Before login nobody may make us hold a message. */
    if (s->state != IMAP_STATE_AUTHENTICATED && s->state != IMAP_STATE_SELECTED)
        return s->cfg.max_literal;
    if (imap_parse_tag(c, &tag) == 0) {
        struct str rest = { c.p + tag.len + 1, c.len - tag.len - 1 };
        if (str_starts_with_nocase(rest, "APPEND "))
            return s->cfg.append_limit;
    }
    return s->cfg.max_literal;
}

/* Takes the tag of the command being assembled, for an early answer. */
static void early_tag(struct imap_server *s, struct str cmd)
{
    struct str tag;
    if (imap_parse_tag(cmd, &tag) == 0) {
        snprintf(s->tag, sizeof(s->tag), "%.*s", (int)tag.len, tag.p);
        s->tagged = true;
    }
}

static void line_done(struct imap_server *s, struct str line)
{
    if (s->text_len + line.len > CMD_TEXT_MAX ||
        buf_append(&s->cmd, line.p, line.len) < 0) {
        early_tag(s, s->cmd.len ? buf_str(&s->cmd) : line);
        bad(s, "Command too long");
        command_reset(s);
        return;
    }
    s->text_len += line.len;
    struct imap_literal lit;
    const char *reason = NULL;
    int r = imap_literal_at_end(line, &lit, &reason);
    if (r == 0) {
        dispatch(s);
        return;
    }
    early_tag(s, buf_str(&s->cmd));
    if (r < 0) {
        bad(s, reason ? reason : "Invalid literal");
        command_reset(s);
        return;
    }
    uint64_t limit = literal_limit(s);
    if (lit.size > limit || lit.size + 2 > s->cmd.max - s->cmd.len) {
        char text[120];
        snprintf(text, sizeof(text), "Literal too large (the limit is %llu bytes)",
                 (unsigned long long)limit);
        if (lit.nonsync) {
            /* Its bytes are on their way and we will not read them: the
             * only way out is to end the session (RFC 7888 §4). */
            outf(s, "* BYE [TOOBIG] %s\r\n", text);
            close_session(s, "literal too large");
            return;
        }
        tagged(s, "NO", "TOOBIG", text);
        command_reset(s);
        return;
    }
    buf_append(&s->cmd, "\r\n", 2);
    s->lit_left = lit.size;
    s->rs = RS_LITERAL;
    if (!lit.nonsync)
        outf(s, "+ Ready for literal data\r\n");
    s->tagged = false;
}

static void idle_input(struct imap_server *s, struct str line)
{
    s->cb.idle(s->ctx, false);
    s->rs = RS_LINE;
    if (str_eq_nocase_cstr(line, "DONE"))
        tagged(s, "OK", NULL, "IDLE terminated");
    else
        bad(s, "Expected DONE");
    command_reset(s);
}

static void process(struct imap_server *s, struct str in)
{
    s->busy++;
    s->drop_input = false;
    while (s->rs != RS_CLOSED && s->rs != RS_TLS && s->rs != RS_RUNNING && !s->drop_input) {
        if (s->rs == RS_LITERAL) {
            if (!in.len)
                break;
            size_t n = in.len < s->lit_left ? in.len : (size_t)s->lit_left;
            buf_append(&s->cmd, in.p, n);
            in.p += n;
            in.len -= n;
            s->lit_left -= n;
            if (s->lit_left == 0)
                s->rs = RS_LINE;
            continue;
        }
        struct str line;
        enum line_status ls = linereader_next(&s->lr, &in, &line);
        if (ls == LINE_NONE)
            break;
        if (ls == LINE_TOO_LONG) {
            early_tag(s, s->cmd.len ? buf_str(&s->cmd) : line);
            if (s->rs == RS_AUTH)
                auth_reset(s);
            if (s->rs == RS_IDLE)
                s->cb.idle(s->ctx, false);
            s->rs = RS_LINE;
            bad(s, "Line too long");
            command_reset(s);
            continue;
        }
        if (s->rs == RS_AUTH)
            auth_input(s, line);
        else if (s->rs == RS_IDLE)
            idle_input(s, line);
        else
            line_done(s, line);
    }
    wait_check(s);
    if (in.len && s->rs == RS_RUNNING && !s->drop_input) {
        if (s->held.len + in.len > HELD_MAX) {
            log_info("imap", "input-overflow", "session=%s held=%zu", s->session, s->held.len);
            outf(s, "* BYE Too much input while a command runs\r\n");
            close_session(s, "input overflow");
        } else {
            buf_append(&s->held, in.p, in.len);
        }
    }
    s->busy--;
}

void imap_server_input(struct imap_server *s, struct str bytes)
{
    if (s->rs == RS_CLOSED || s->rs == RS_TLS)
        return;
    if (s->rs == RS_RUNNING || s->busy) {
        if (s->held.len + bytes.len > HELD_MAX) {
            log_info("imap", "input-overflow", "session=%s held=%zu", s->session, s->held.len);
            outf(s, "* BYE Too much input while a command runs\r\n");
            close_session(s, "input overflow");
            return;
        }
        buf_append(&s->held, bytes.p, bytes.len);
        return;
    }
    process(s, bytes);
}

/* ---- answers ---- */

void imap_server_send(struct imap_server *s, struct str bytes)
{
    if (s->rs != RS_CLOSED)
        out_str(s, bytes);
}

void imap_server_done(struct imap_server *s, const char *status, const char *code,
                      const char *text)
{
    if (s->rs == RS_CLOSED)
        return;
    if (strcmp(status, "BAD") == 0)
        bad(s, text);
    else
        tagged(s, status, code, text);
    command_end(s);
    resume(s);
}

void imap_server_set_state(struct imap_server *s, enum imap_state state)
{
    if (s->state != IMAP_STATE_NOT_AUTHENTICATED && s->state != IMAP_STATE_LOGOUT)
        s->state = state;
}

void imap_server_auth_checked(struct imap_server *s, bool ok)
{
    const char *reason = NULL;
    enum sasl_status st = sasl_password_result(s->sasl, ok, &reason);
    auth_status(s, st, reason);
    resume(s);
}

void imap_server_auth_credentials(struct imap_server *s, const struct auth_credentials *cred)
{
    const char *reason = NULL;
    enum sasl_status st = sasl_scram_credentials(s->sasl, cred, &s->sasl_out, &reason);
    auth_status(s, st, reason);
    wait_check(s);
    resume(s);
}

void imap_server_auth_finished(struct imap_server *s, bool ok, bool temporary)
{
    if (ok && !sasl_authcid(s->sasl))
        ok = false;
    if (ok) {
        free(s->user);
        s->user = xstrdup(sasl_authcid(s->sasl));
        s->state = IMAP_STATE_AUTHENTICATED;
        struct buf b;
        buf_init(&b, 0);
        buf_append_cstr(&b, "CAPABILITY ");
        caps(s, &b);
        tagged(s, "OK", buf_cstr(&b), "Logged in");
        buf_free(&b);
    } else if (temporary) {
        tagged(s, "NO", "UNAVAILABLE", "Temporary authentication failure; try again later");
    } else {
        tagged(s, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
    }
    auth_reset(s);
    command_end(s);
    resume(s);
}

void imap_server_auth_limited(struct imap_server *s)
{
    tagged(s, "NO", "LIMIT", "Too many connections for this user; close some and try again");
    auth_reset(s);
    command_end(s);
    resume(s);
}

/* ---- life cycle ---- */

struct imap_server *imap_server_new(const struct imap_server_config *cfg,
                                    const struct imap_server_callbacks *cb, void *ctx)
{
    struct imap_server *s = xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->hostname);
    snprintf(s->session, sizeof(s->session), "%s", cfg->session ? cfg->session : "-");
    s->caps_auth = xstrdup(cfg->capabilities ? cfg->capabilities : "IMAP4rev2 IMAP4rev1");
    s->cfg.hostname = s->hostname;
    s->cfg.session = s->session;
    s->cfg.capabilities = s->caps_auth;
    if (s->cfg.max_bad == 0)
        s->cfg.max_bad = 1;
    s->cb = *cb;
    s->ctx = ctx;
    s->rs = RS_LINE;
    linereader_init(&s->lr, cfg->max_line);
    uint64_t biggest = cfg->append_limit > cfg->max_literal ? cfg->append_limit : cfg->max_literal;
    buf_init(&s->cmd, (size_t)(biggest + CMD_TEXT_MAX + 2));
    buf_init(&s->held, 0);
    buf_init(&s->sasl_out, 0);
    s->arena = arena_new(CMD_ARENA_MAX);
    return s;
}

void imap_server_free(struct imap_server *s)
{
    if (!s)
        return;
    auth_reset(s);
    buf_free(&s->sasl_out);
    linereader_free(&s->lr);
    buf_free(&s->cmd);
    buf_free(&s->held);
    arena_free(s->arena);
    free(s->caps_auth);
    free(s->user);
    sodium_memzero(&s->cbind, sizeof(s->cbind));
    free(s);
}


void imap_server_greet(struct imap_server *s)
{
    if (s->greeted)
        return;
    s->greeted = true;
    struct buf b;
    buf_init(&b, 0);
    buf_append_cstr(&b, "* OK [CAPABILITY ");
    caps(s, &b);
    buf_printf(&b, "] %s IMAP4rev2 ready\r\n", s->hostname);
    s->cb.write(s->ctx, buf_str(&b));
    buf_free(&b);
}

void imap_server_tls_started(struct imap_server *s)
{
    if (s->rs != RS_TLS)
        return;
    s->rs = RS_LINE;
    s->cfg.tls_active = true;
    refresh_channel_binding(s);
}

void imap_server_shutdown(struct imap_server *s)
{
    if (s->rs == RS_CLOSED)
        return;
    if (s->rs == RS_RUNNING) {
        s->shutdown_pending = true;
        return;
    }
    if (s->rs == RS_IDLE)
        s->cb.idle(s->ctx, false);
    outf(s, "* BYE %s Server shutting down\r\n", s->hostname);
    close_session(s, "shutdown");
}

void imap_server_timeout(struct imap_server *s)
{
    if (s->rs == RS_CLOSED)
        return;
    if (s->rs == RS_IDLE)
        s->cb.idle(s->ctx, false);
    outf(s, "* BYE Autologout; idle for too long\r\n");
    close_session(s, "timeout");
}

enum imap_state imap_server_state(const struct imap_server *s) { return s->state; }
unsigned imap_server_enabled(const struct imap_server *s) { return s->enabled; }
bool imap_server_rev2(const struct imap_server *s) { return s->enabled & IMAP_ENABLED_IMAP4REV2; }
const char *imap_server_user(const struct imap_server *s) { return s->user; }
