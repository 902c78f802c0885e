/* libFuzzer: whole SMTP sessions. The input is a command stream fed to the
 * engine in chunks of varying size; the callbacks answer at once or later
 * (after the next chunk), accept or refuse, as the input's bytes decide.
 * Invariants: every reply line is well formed (3 digits, then ' ' or '-'),
 * nothing crashes, nothing leaks. */
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "core/log.h"
#include "smtp/server.h"

struct fz {
    struct smtp_server *s;
    const unsigned char *rnd;
    size_t nrnd, pos;
    int pending;          /* 0 none, 1 reply, 2 auth password, 3 scram, 4 auth done */
    bool closed;
};

static struct auth_credentials cred;
static unsigned char secret[32];

static unsigned pick(struct fz *f)
{
    if (!f->nrnd)
        return 0;
    return f->rnd[f->pos++ % f->nrnd];
}

static void check_reply(struct str b)
{
    /* Every line: 3 digits and ' ' or '-' (or a 334 continuation). */
    size_t i = 0;
    while (i < b.len) {
        if (b.len - i < 5 || b.p[i] < '2' || b.p[i] > '5' || (b.p[i + 3] != ' ' && b.p[i + 3] != '-'))
            abort();
        const char *nl = memchr(b.p + i, '\n', b.len - i);
        if (!nl || nl == b.p + i || nl[-1] != '\r')
            abort();
        i = (size_t)(nl - b.p) + 1;
    }
}

static void w(void *ctx, struct str b) { (void)ctx; check_reply(b); }
static void cl(void *ctx, const char *r) { (void)r; ((struct fz *)ctx)->closed = true; }
static void pz(void *ctx, bool p) { (void)ctx; (void)p; }
static void dp(void *ctx, bool d) { (void)ctx; (void)d; }
static void stls(void *ctx) { (void)ctx; }

static void answer(struct fz *f);

static void later_or_now(struct fz *f, int kind)
{
    f->pending = kind;
    if (pick(f) & 1)
        answer(f);
}

static void mail(void *ctx, struct smtp_transaction *t) { (void)t; later_or_now(ctx, 1); }
static void rcpt(void *ctx, struct smtp_transaction *t, struct smtp_rcpt *r)
{
    (void)t;
    r->target = NULL;
    later_or_now(ctx, 1);
}
static void data(void *ctx, struct smtp_transaction *t) { (void)t; later_or_now(ctx, 1); }
static unsigned blocked(void *ctx) { return pick(ctx) == 7 ? 60 : 0; }
static void apw(void *ctx, const char *u, struct str p) { (void)u; (void)p; later_or_now(ctx, 2); }
static void ascram(void *ctx, const char *u) { (void)u; later_or_now(ctx, 3); }
static void adone(void *ctx, const char *u, bool ok, const char *r)
{
    (void)u; (void)ok; (void)r;
    later_or_now(ctx, 4);
}

static void answer(struct fz *f)
{
    int k = f->pending;
    f->pending = 0;
    unsigned v = pick(f);
    switch (k) {
    case 1:
        if (v & 2)
            smtp_server_reply(f->s, 250, "2.0.0", "OK");
        else
            smtp_server_reply(f->s, 550, "5.1.1", "no\nreally not");
        break;
    case 2: smtp_server_auth_checked(f->s, v & 2); break;
    case 3: smtp_server_auth_credentials(f->s, (v & 2) ? &cred : NULL); break;
    case 4: smtp_server_auth_finished(f->s, v & 2, v & 4); break;
    default: break;
    }
}

static const struct smtp_server_callbacks cbs = {
    .write = w, .close = cl, .pause = pz, .data_phase = dp, .starttls = stls,
    .mail = mail, .rcpt = rcpt, .data = data, .auth_blocked = blocked,
    .auth_password = apw, .auth_scram = ascram, .auth_done = adone,
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
    if (n < 2)
        return 0;
    struct fz f = { .rnd = d, .nrnd = n < 16 ? n : 16 };
    struct smtp_server_config cfg = {
        .mode = (d[0] & 1) ? SMTP_MODE_SUBMISSION : SMTP_MODE_MX,
        .hostname = "mx.example.test",
        .session = "fuzz",
        .tls_active = d[0] & 2,
        .starttls = d[0] & 4,
        .auth_plaintext = d[0] & 8,
        .max_line = 512,
        .max_message_size = 4096,
        .max_recipients = 5,
        .max_errors = (d[0] & 16) ? 3 : 50,
        .sasl_secret = secret,
    };
    f.s = smtp_server_new(&cfg, &cbs, &f);
    smtp_server_greet(f.s);
    size_t i = 1;
    while (i < n && !f.closed) {
        size_t chunk = 1 + d[i] % 64;
        i++;
        if (chunk > n - i)
            chunk = n - i;
        smtp_server_input(f.s, (struct str){ (const char *)d + i, chunk });
        i += chunk;
        if (f.pending)
            answer(&f);
        if ((d[i - 1] & 0x7f) == 0x42)
            smtp_server_tls_started(f.s); /* harmless unless STARTTLS was said */
    }
    while (f.pending && !f.closed)
        answer(&f);
    smtp_server_shutdown(f.s);
    while (f.pending)
        answer(&f);
    smtp_server_free(f.s);
    return 0;
}
