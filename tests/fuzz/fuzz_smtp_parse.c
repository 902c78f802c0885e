/* Fuzzes the SMTP command parser with any bytes as one command line (CRLF
 * already cut): smtp_parse_command, then the line's argument and the whole
 * input as the argument of MAIL, RCPT, BDAT and HELO, each with every
 * extension offered and with none, and xtext both ways. Invariants:
 *
 * - an error is 4xx only for a full arena (never here), else 5xx with an
 *   enhanced code "5.x.y" that has the reply code's class, and a text;
 * - a command's argument lies inside the line; a verb is known on success;
 * - an accepted path is at most SMTP_PATH_MAX bytes, its local part and
 *   domain within their limits, "local@domain" is its address, and a
 *   non-null path has an '@' unless it is <Postmaster>; non-ASCII only
 *   with SMTPUTF8, and then well-formed UTF-8; no parameter is accepted
 *   when no extension is offered;
 * - BDAT sizes fit in an int64_t;
 * - xtext: what decodes, encodes and decodes back to itself; what encodes
 *   decodes back unless it holds a NUL.
 *
 * Seeds (corpus/smtp_parse/): realistic command lines, one per file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "smtp/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALL_EXT 0x7fu

static void check_error(const struct smtp_parse_error *e)
{
    const char *x = e->enhanced;
    if (e->code < 500 || e->code > 599 || !x || !e->text || !*e->text)
        abort();
    /* "5.x.y": class, then 1-3 digits, then 1-3 digits */
    if (x[0] != '5' || x[1] != '.')
        abort();
    size_t i = 2, n = 0;
    while (x[i] >= '0' && x[i] <= '9' && n < 4)
        i++, n++;
    if (!n || n > 3 || x[i] != '.')
        abort();
    i++;
    n = 0;
    while (x[i] >= '0' && x[i] <= '9' && n < 4)
        i++, n++;
    if (!n || n > 3 || x[i])
        abort();
}

static bool has_high(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return true;
    return false;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Well-formed UTF-8 (RFC 3629), written independently of the parser's. */
static bool valid_utf8(const unsigned char *s)
{
    while (*s) {
        uint32_t c = *s, min;
        size_t n;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, c &= 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, c &= 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, c &= 0x07, min = 0x10000;
        } else
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return false;
            c = c << 6 | (s[k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        s += n + 1;
    }
    return true;
}

static void check_path(const struct smtp_path *p, bool utf8_allowed, bool rcpt)
{
    if (!p->address || !p->local || !p->domain)
        abort();
    size_t al = strlen(p->address), ll = strlen(p->local), dl = strlen(p->domain);
    if (al > SMTP_PATH_MAX || ll > SMTP_LOCAL_MAX || dl > SMTP_DOMAIN_MAX)
        abort();
    if (has_ctl(p->address))
        abort();
    if (p->null) {
        if (rcpt || al || ll || dl || p->postmaster)
            abort();
        return;
    }
    if (p->postmaster) {
        if (!rcpt || dl || strcmp(p->address, p->local) != 0 ||
            strcasecmp(p->local, "postmaster") != 0)
            abort();
        return;
    }
    if (!ll || !dl || !strchr(p->address, '@') || al != ll + 1 + dl ||
        memcmp(p->address, p->local, ll) != 0 || p->address[ll] != '@' ||
        strcmp(p->address + ll + 1, p->domain) != 0)
        abort();
    if (p->domain[dl - 1] == '.')
        abort();
    if (has_high(p->address) && (!p->utf8 || !utf8_allowed))
        abort();
    if (has_high(p->address) && !valid_utf8((const unsigned char *)p->address))
        abort();
}

static void try_mail(struct arena *a, struct str arg, unsigned ext)
{
    struct smtp_mail_args m;
    struct smtp_parse_error e;
    if (smtp_parse_mail(a, arg, ext, &m, &e) != 0) {
        check_error(&e);
        return;
    }
    check_path(&m.path, m.smtputf8, false);
    if (m.path.utf8 && !m.smtputf8)
        abort();
    if (!ext && (m.has_size || m.body || m.smtputf8 || m.ret || m.envid || m.requiretls || m.auth))
        abort();
    if (m.body == SMTP_BODY_BINARYMIME && !(ext & SMTP_EXT_BINARYMIME))
        abort();
    if (m.envid && (strlen(m.envid) > 100 || has_ctl(m.envid) || has_high(m.envid)))
        abort();
    if (m.auth && has_ctl(m.auth))
        abort();
}

static void try_rcpt(struct arena *a, struct str arg, unsigned ext, bool smtputf8)
{
    struct smtp_rcpt_args r;
    struct smtp_parse_error e;
    if (smtp_parse_rcpt(a, arg, ext, smtputf8, &r, &e) != 0) {
        check_error(&e);
        return;
    }
    check_path(&r.path, smtputf8, true);
    if (r.path.null)
        abort();
    if (!ext && (r.notify || r.orcpt_type || r.orcpt))
        abort();
    if ((r.notify & SMTP_NOTIFY_NEVER) && r.notify != SMTP_NOTIFY_NEVER)
        abort();
    if (r.notify & ~15u)
        abort();
    if (!r.orcpt_type != !r.orcpt)
        abort();
    if (r.orcpt && (!*r.orcpt_type || !*r.orcpt || has_ctl(r.orcpt) || has_high(r.orcpt)))
        abort();
}

static void try_args(struct arena *a, struct str arg)
{
    try_mail(a, arg, ALL_EXT);
    try_mail(a, arg, 0);
    try_rcpt(a, arg, ALL_EXT, true);
    try_rcpt(a, arg, ALL_EXT, false);
    try_rcpt(a, arg, 0, false);

    uint64_t n;
    bool last;
    struct smtp_parse_error e;
    if (smtp_parse_bdat(arg, &n, &last, &e) == 0) {
        if (n > INT64_MAX)
            abort();
    } else
        check_error(&e);
    if (smtp_parse_helo(arg, &e) != 0)
        check_error(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str line = { (const char *)data, size };
    struct arena *a = arena_new(0);

    struct smtp_command c;
    struct smtp_parse_error e;
    if (smtp_parse_command(line, &c, &e) == 0) {
        if (c.verb == SMTP_VERB_UNKNOWN || c.arg.p < line.p ||
            c.arg.p + c.arg.len > line.p + line.len)
            abort();
        for (size_t i = 0; i < line.len; i++)
            if ((unsigned char)line.p[i] < 0x20 || line.p[i] == 0x7f)
                abort();
        if (c.arg.len && (c.arg.p[0] == ' ' || c.arg.p[c.arg.len - 1] == ' '))
            abort();
        try_args(a, c.arg);
    } else
        check_error(&e);
    try_args(a, line);

    /* xtext */
    char *d = smtp_xtext_decode(a, line);
    if (d) {
        char *enc = smtp_xtext_encode(a, str_from_cstr(d));
        char *back = enc ? smtp_xtext_decode(a, str_from_cstr(enc)) : NULL;
        if (!back || strcmp(back, d) != 0)
            abort();
    }
    char *enc = smtp_xtext_encode(a, line);
    if (!enc)
        abort();
    char *back = smtp_xtext_decode(a, str_from_cstr(enc));
    if (line.len && memchr(line.p, '\0', line.len)) {
        if (back)
            abort();
    } else if (!back || strlen(back) != line.len || memcmp(back, line.p, line.len) != 0)
        abort();
    arena_free(a);
    return 0;
}
