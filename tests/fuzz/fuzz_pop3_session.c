/* libFuzzer: whole POP3 sessions through the engine. The input gives the
 * session's settings, three stored messages (any bytes: bare LFs, CRs,
 * dots, no final newline) and a command stream fed in chunks of varying
 * size; the callbacks answer at once or later, accept or refuse, stream
 * messages in chunks of any size, as the input's bytes decide.
 * Invariants:
 *
 * - every response outside a message starts with "+OK", "-ERR" or "+ "
 *   and ends in CRLF; nothing the server writes holds a bare LF;
 * - every RETR that completes is, once unstuffed, exactly a reference
 *   conversion of the stored message (CRLF line ends, a CRLF after a last
 *   line without one) written independently of pop3/encode, and its
 *   "+OK n octets" is that length; a TOP is a prefix of it in whole lines
 *   with at least the header and its blank line; no line inside either
 *   is a lone ".";
 * - nothing crashes or leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/log.h"
#include "pop3/encode.h"
#include "pop3/server.h"

struct fz {
    struct pop3_server *s;
    const unsigned char *rnd;
    size_t nrnd, pos;
    int pending;            /* 0 none, 1 password, 2 scram, 3 auth done, 4 retrieve, 5 update */
    bool auth_ok;
    bool closed;
    struct str msgs[3];
    uint32_t retr_index;
    size_t retr_sent;
    bool streaming;
    struct buf transcript;  /* the current retrieval's output */
    bool in_retr;
    bool answering;         /* inside answer: callbacks it causes wait */
    const uint32_t *uids;
};

static struct auth_credentials cred;
static unsigned char secret[32];

static unsigned pick(struct fz *f)
{
    if (!f->nrnd)
        return 0;
    return f->rnd[f->pos++ % f->nrnd];
}

static void no_bare_lf(struct str b)
{
    for (size_t i = 0; i < b.len; i++)
        if (b.p[i] == '\n' && (i == 0 || b.p[i - 1] != '\r'))
            abort();
}

static void w(void *ctx, struct str b)
{
    struct fz *f = ctx;
    if (b.len == 0)
        abort();
    if (f->in_retr) {
        buf_append_str(&f->transcript, b);
        return;
    }
    if (!(b.len >= 3 && memcmp(b.p, "+OK", 3) == 0) && !(b.len >= 4 && memcmp(b.p, "-ERR", 4) == 0) &&
        !(b.len >= 2 && memcmp(b.p, "+ ", 2) == 0))
        abort();
    if (b.len < 2 || b.p[b.len - 2] != '\r' || b.p[b.len - 1] != '\n')
        abort();
    no_bare_lf(b);
}

static void cl(void *ctx, const char *r) { (void)r; ((struct fz *)ctx)->closed = true; }
static void pz(void *ctx, bool p) { (void)ctx; (void)p; }
static void stls(void *ctx) { (void)ctx; }
static unsigned blocked(void *ctx) { return pick(ctx) == 7 ? 60 : 0; }

static void answer(struct fz *f);

static void later_or_now(struct fz *f, int kind)
{
    f->pending = kind;
    if ((pick(f) & 1) && !f->answering)
        answer(f);
}

static void apw(void *ctx, const char *u, struct str p) { (void)u; (void)p; later_or_now(ctx, 1); }
static void ascram(void *ctx, const char *u) { (void)u; later_or_now(ctx, 2); }
static void adone(void *ctx, const char *u, bool ok, const char *r)
{
    (void)u;
    (void)r;
    ((struct fz *)ctx)->auth_ok = ok;
    later_or_now(ctx, 3);
}

static void retrieve(void *ctx, uint32_t index, uint32_t uid)
{
    struct fz *f = ctx;
    if (index >= 3 || uid != index + 1)
        abort();
    f->retr_index = index;
    f->retr_sent = 0;
    f->streaming = false;
    later_or_now(f, 4);
}

static void update(void *ctx, const uint32_t *uids, uint32_t n)
{
    struct fz *f = ctx;
    for (uint32_t i = 0; i < n; i++)
        if (uids[i] < 1 || uids[i] > 3 || (i && uids[i] <= uids[i - 1]))
            abort();
    f->uids = uids;
    later_or_now(f, 5);
}

/* The message as RETR must deliver it, by the simplest means. */
static void reference(struct str m, struct buf *out)
{
    for (size_t i = 0; i < m.len; i++) {
        if (m.p[i] == '\n' && (i == 0 || m.p[i - 1] != '\r'))
            buf_append_char(out, '\r');
        buf_append_char(out, m.p[i]);
    }
    if (out->len && out->p[out->len - 1] != '\n')
        buf_append_cstr(out, out->p[out->len - 1] == '\r' ? "\n" : "\r\n");
}

/* TOP's shortest answer: the reference up to its first empty line (all of
 * it when there is none). */
static size_t header_end(struct str r)
{
    size_t i = 0;
    while (i < r.len) {
        const char *lf = memchr(r.p + i, '\n', r.len - i);
        size_t end = (size_t)(lf - r.p) + 1; /* the reference ends every line */
        if (end - i == 2)
            return end;
        i = end;
    }
    return r.len;
}

/* Checks one complete retrieval's output against the reference. */
static void check_retrieval(struct fz *f, uint32_t index)
{
    struct str t = buf_str(&f->transcript);
    no_bare_lf(t);
    const char *eol = memmem(t.p, t.len, "\r\n", 2);
    if (!eol || t.len < 3 || memcmp(t.p, "+OK", 3) != 0)
        abort();
    struct str body = { eol + 2, t.len - (size_t)(eol + 2 - t.p) };
    if (body.len < 3 || memcmp(body.p + body.len - 3, ".\r\n", 3) != 0)
        abort();
    body.len -= 3;
    /* Unstuff, and make sure no line is the terminator. */
    struct buf un;
    buf_init(&un, 0);
    bool start = true;
    for (size_t i = 0; i < body.len; i++) {
        if (start && body.p[i] == '.') {
            if (i + 1 >= body.len || body.p[i + 1] != '.')
                abort(); /* an unstuffed dot at a line start */
            i++;
        }
        buf_append_char(&un, body.p[i]);
        start = body.p[i] == '\n';
    }
    struct buf ref;
    buf_init(&ref, 0);
    reference(f->msgs[index], &ref);
    /* RETR: all of it; TOP: the header and some whole lines after it. */
    bool top = t.len > 7 && memcmp(t.p, "+OK Top", 7) == 0;
    if (top ? un.len < header_end(buf_str(&ref)) || un.len > ref.len ||
                  (un.len && un.p[un.len - 1] != '\n')
            : un.len != ref.len)
        abort();
    if (un.len && memcmp(un.p, ref.p, un.len) != 0)
        abort();
    if (!top) {
        unsigned long long n = 0;
        if (sscanf(t.p, "+OK %llu octets", &n) != 1 || n != un.len)
            abort();
    }
    buf_free(&un);
    buf_free(&ref);
}

static void answer(struct fz *f)
{
    int k = f->pending;
    f->pending = 0;
    unsigned v = pick(f);
    f->answering = true;
    switch (k) {
    case 1: pop3_server_auth_checked(f->s, v & 2); break;
    case 2: pop3_server_auth_credentials(f->s, (v & 2) ? &cred : NULL); break;
    case 3:
        if (!f->auth_ok || (v & 6) == 6) {
            pop3_server_auth_finished(f->s, (v & 8) ? POP3_AUTH_IN_USE : POP3_AUTH_FAILED);
        } else {
            struct pop3_message m[3];
            for (uint32_t i = 0; i < 3; i++)
                m[i] = (struct pop3_message){ i + 1, pop3_wire_size(f->msgs[i]) };
            pop3_server_maildrop(f->s, 77, m, 3);
        }
        break;
    case 4: {
        if ((v & 0x30) == 0x30) {
            pop3_server_retr_failed(f->s, (v & 1) ? "SYS/TEMP" : NULL, "gone");
            break;
        }
        /* Stream the whole message in chunks of the input's choosing.
         * retr_end may start the next retrieval (a held RETR): keep ours. */
        uint32_t index = f->retr_index;
        buf_clear(&f->transcript);
        f->in_retr = true;
        pop3_server_retr_start(f->s);
        struct str m = f->msgs[index];
        bool more = true;
        size_t i = 0;
        while (more && i < m.len && !f->closed) {
            size_t n = 1 + pick(f) % 17;
            if (n > m.len - i)
                n = m.len - i;
            more = pop3_server_retr_data(f->s, (struct str){ m.p + i, n });
            i += n;
        }
        if (f->closed) {
            f->in_retr = false;
            break;
        }
        pop3_server_retr_end(f->s);
        /* retr_end may run held commands: the retrieval ends at the first
         * lone "." line (which no message line may be). */
        f->in_retr = false;
        struct str t = buf_str(&f->transcript);
        const char *end = memmem(t.p, t.len, "\r\n.\r\n", 5);
        if (!end)
            abort();
        f->transcript.len = (size_t)(end - t.p) + 5;
        check_retrieval(f, index);
        break;
    }
    case 5: pop3_server_update_done(f->s, v & 2, (uint32_t)(v % 3)); break;
    default: break;
    }
    f->answering = false;
}

static const struct pop3_server_callbacks cbs = {
    .write = w, .close = cl, .pause = pz, .starttls = stls, .auth_blocked = blocked,
    .auth_password = apw, .auth_scram = ascram, .auth_done = adone, .retrieve = retrieve,
    .update = update,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    auth_init();
    const char *why;
    auth_credentials_make("pencil", 6, &cred, &why);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);
int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)
{
    if (n < 4)
        return 0;
    struct fz f = { .rnd = d, .nrnd = n < 16 ? n : 16 };
    buf_init(&f.transcript, 0);
    /* d[0]: settings; d[1], d[2]: the lengths of the first two messages;
     * then the three messages; then the command stream. */
    size_t i = 3, l1 = d[1] % 64, l2 = d[2] % 64;
    size_t avail = n - i;
    l1 = l1 < avail ? l1 : avail;
    f.msgs[0] = (struct str){ (const char *)d + i, l1 };
    i += l1;
    avail = n - i;
    l2 = l2 < avail ? l2 : avail;
    f.msgs[1] = (struct str){ (const char *)d + i, l2 };
    i += l2;
    f.msgs[2] = str_from_cstr("Subject: fixed\n\n.\n..\nend");
    struct pop3_server_config cfg = {
        .hostname = "mail.example.test",
        .session = "fuzz",
        .tls_active = d[0] & 2,
        .starttls = d[0] & 4,
        .login_plaintext = d[0] & 8,
        .max_line = (d[0] & 32) ? 255 : 2048,
        .max_errors = (d[0] & 16) ? 3 : 50,
        .sasl_secret = secret,
    };
    f.s = pop3_server_new(&cfg, &cbs, &f);
    pop3_server_greet(f.s);
    while (i < n && !f.closed) {
        size_t chunk = 1 + d[i] % 64;
        i++;
        if (chunk > n - i)
            chunk = n - i;
        struct str c = { (const char *)d + i, chunk };
        pop3_server_input(f.s, c);
        i += chunk;
        if (f.pending)
            answer(&f);
        if ((d[i - 1] & 0x7f) == 0x42)
            pop3_server_tls_started(f.s); /* harmless unless STLS was said */
        if ((d[i - 1] & 0x7f) == 0x43) {
            pop3_server_output_blocked(f.s, true);
            pop3_server_output_blocked(f.s, false);
        }
    }
    while (f.pending && !f.closed)
        answer(&f);
    pop3_server_shutdown(f.s);
    while (f.pending)
        answer(&f);
    pop3_server_free(f.s);
    buf_free(&f.transcript);
    return 0;
}
