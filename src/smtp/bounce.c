/* Delivery status notifications (see bounce.h). The three parts are built
 * first, each in its own buffer; then a boundary that none of them contains
 * is chosen, and the message is put together. Everything that came from
 * outside (the remote server's reply, the original Subject, addresses) goes
 * through clean_line() before it is written: one line, printable, capped. */
#include "smtp/bounce.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "mime/downgrade.h"
#include "mime/mime.h"
#include "smtp/headers.h"
#include "smtp/reply.h"

/* Caps on what goes into the report from outside. The diagnostic cap keeps
 * "Diagnostic-Code: smtp; " plus the text under 998 octets even unfolded. */
#define DIAG_MAX 900
#define QUOTE_MAX 2000
#define SUBJECT_MAX 200
#define ADDRESS_MAX 512
#define HOST_MAX 255
#define MSGID_MAX 250
#define TEXT_WIDTH 72

/* ---- classification --------------------------------------------------------- */

static const char *const category_names[] = {
    [SMTP_BOUNCE_OTHER] = "other",
    [SMTP_BOUNCE_UNKNOWN_ADDRESS] = "unknown-address",
    [SMTP_BOUNCE_MAILBOX_FULL] = "mailbox-full",
    [SMTP_BOUNCE_TOO_BIG] = "too-big",
    [SMTP_BOUNCE_SPAM] = "spam",
    [SMTP_BOUNCE_BLOCKLISTED] = "blocklisted",
    [SMTP_BOUNCE_AUTH_POLICY] = "auth-policy",
    [SMTP_BOUNCE_RATE_LIMITED] = "rate-limited",
    [SMTP_BOUNCE_GREYLISTED] = "greylisted",
    [SMTP_BOUNCE_TLS] = "tls",
    [SMTP_BOUNCE_NO_DOMAIN] = "no-domain",
    [SMTP_BOUNCE_NULL_MX] = "null-mx",
    [SMTP_BOUNCE_NO_CONNECTION] = "no-connection",
};

const char *smtp_bounce_category_name(enum smtp_bounce_category c)
{
    if ((unsigned)c >= sizeof(category_names) / sizeof(category_names[0]))
        return "other";
    return category_names[c];
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Any of the phrases, anywhere, in any case. */
static bool has_any(const char *text, const char *const *phrases)
{
    for (; *phrases; phrases++)
        if (strcasestr(text, *phrases))
            return true;
    return false;
}

/* Any of the words, standing alone (not inside a longer word). */
static bool has_word(const char *text, const char *const *words)
{
    for (; *words; words++) {
        size_t n = strlen(*words);
        for (const char *p = text; (p = strcasestr(p, *words)); p++)
            if ((p == text || !is_alnum(p[-1])) && !is_alnum(p[n]))
                return true;
    }
    return false;
}

/* Microsoft's refusal codes for an IP on its block list or of poor
 * reputation: "(S3140)", "S3150", "SC-001", "DY-001". */
static bool has_microsoft_block_code(const char *text)
{
    for (const char *p = text; *p; p++) {
        if (p > text && is_alnum(p[-1]))
            continue;
        if (p[0] == 'S' && p[1] == '3' && p[2] >= '0' && p[2] <= '9' && p[3] >= '0' &&
            p[3] <= '9' && p[4] >= '0' && p[4] <= '9' && !is_alnum(p[5]))
            return true;
        if (((p[0] == 'S' && p[1] == 'C') || (p[0] == 'D' && p[1] == 'Y')) && p[2] == '-' &&
            p[3] == '0' && p[4] == '0' && p[5] >= '1' && p[5] <= '9' && !is_alnum(p[6]))
            return true;
    }
    return false;
}

struct enhanced {
    int cls, subject, detail; /* -1 when there is no code */
};

static struct enhanced parse_enhanced(const char *s)
{
    struct enhanced e = { -1, -1, -1 };
    if (!s || !*s)
        return e;
    size_t n = smtp_enhanced_code_len(str_from_cstr(s));
    if (!n)
        return e;
    if (sscanf(s, "%d.%d.%d", &e.cls, &e.subject, &e.detail) != 3)
        e.cls = e.subject = e.detail = -1;
    return e;
}

static bool is(struct enhanced e, int subject, int detail)
{
    return e.subject == subject && e.detail == detail;
}

enum smtp_bounce_category smtp_bounce_classify(int code, const char *enhanced, const char *text)
{
    if (!text)
        text = "";
    struct enhanced e = parse_enhanced(enhanced);
    if (e.cls < 0) {
        /* A caller with the reply's text only: the code may lead it. */
        const char *t = text;
        if (t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' &&
            t[2] <= '9' && (t[3] == ' ' || t[3] == '-'))
            t += 4;
        e = parse_enhanced(t);
    }
    bool temporary = code / 100 == 4 || (code == 0 && e.cls == 4);

    static const char *const greylist[] = { "greylist", "grey-list", "graylist", "gray-list",
                                            "grey list", "gray list", NULL };
    if (has_any(text, greylist))
        return SMTP_BOUNCE_GREYLISTED;

    static const char *const blocklists[] = {
        "blocklist", "block list", "blacklist", "black list", "blocked using", "dnsbl",
        "spamhaus", "barracuda", "spamcop", "sorbs", "uceprotect", "abuseat", "spameatingmonkey",
        "surbl", "on our block", NULL,
    };
    static const char *const blocklist_words[] = { "rbl", NULL };
    if (has_any(text, blocklists) || has_microsoft_block_code(text) ||
        has_word(text, blocklist_words))
        return SMTP_BOUNCE_BLOCKLISTED;

    static const char *const null_mx[] = { "null mx", "nullmx", NULL };
    static const char *const no_mail[] = { "accepts no mail", "does not accept mail",
                                           "doesn't accept mail", NULL };
    if (code == 556 || has_any(text, null_mx) || (is(e, 1, 10) && has_any(text, no_mail)))
        return SMTP_BOUNCE_NULL_MX;

    /* RFC 7372: 5.7.20 to 5.7.26 are DKIM, SPF, reverse DNS and
     * combinations; 5.7.27 the sender's domain has a null MX. */
    static const char *const auth_words[] = { "spf", "dkim", "dmarc", "rdns", "ptr", NULL };
    static const char *const auth_phrases[] = {
        "unauthenticated",
        "reverse dns",
        "reverse lookup",
        "reverse-dns",
        "sender policy framework",
        "not authenticated",
        "authentication checks",
        "authentication results",
        NULL,
    };
    if ((e.subject == 7 && e.detail >= 20 && e.detail <= 27) || has_word(text, auth_words) ||
        has_any(text, auth_phrases))
        return SMTP_BOUNCE_AUTH_POLICY;

    /* 5.7.10 encryption needed, 5.7.11 encryption required for the
     * mechanism, 5.7.5 cryptographic failure, 5.7.4 security features not
     * supported, 5.7.30 REQUIRETLS needed (RFC 8689). */
    static const char *const tls_words[] = { "tls", "starttls", "ssl", "dane", "tlsa", "mta-sts",
                                             NULL };
    static const char *const tls_phrases[] = { "certificate", "encryption required",
                                               "encryption needed", "secure connection", NULL };
    if (is(e, 7, 10) || is(e, 7, 11) || is(e, 7, 5) || is(e, 7, 4) || is(e, 7, 30) ||
        has_word(text, tls_words) || has_any(text, tls_phrases))
        return SMTP_BOUNCE_TLS;

    static const char *const no_domain[] = {
        "domain not found", "no such domain", "domain does not exist", "domain doesn't exist",
        "host or domain name not found", "nxdomain", "no mx", "no mail servers",
        "no mail server", "unrouteable domain", "unroutable domain", "domain name not found",
        NULL,
    };
    if (is(e, 1, 2) || (e.cls == 5 && is(e, 4, 4)) || has_any(text, no_domain))
        return SMTP_BOUNCE_NO_DOMAIN;

    static const char *const sending_quota[] = { "sending quota", "send quota", "sending limit",
                                                 NULL };
    static const char *const full[] = { "quota", "mailbox full", "mailbox is full",
                                        "mailbox has exceeded", "full mailbox", "inbox is full",
                                        "storage allocation", "out of storage",
                                        "storage space", NULL };
    if ((is(e, 2, 2) || has_any(text, full)) && !has_any(text, sending_quota))
        return SMTP_BOUNCE_MAILBOX_FULL;

    static const char *const big[] = { "too big", "too large", "size limit", "message size",
                                       "size exceeds", "exceeds size", "exceeds the maximum",
                                       "maximum size", "maximum message size", NULL };
    if (is(e, 3, 4) || is(e, 2, 3) || has_any(text, big))
        return SMTP_BOUNCE_TOO_BIG;

    static const char *const unknown[] = {
        "user unknown", "unknown user", "no such user", "does not exist", "doesn't exist",
        "unknown recipient", "recipient unknown", "recipient not found", "recipientnotfound",
        "no such recipient", "no such mailbox", "mailbox not found", "invalid recipient",
        "invalid mailbox", "not a valid mailbox", "unrouteable address", "unroutable address",
        "user not found", "addressee unknown", "not listed in", "no mailbox here",
        "account disabled", "account is disabled", "is disabled", "mailbox is disabled",
        "account has been disabled", "no longer active", "inactive", "invalid address",
        "address unknown", "unknown address", "unknown local part", "not our customer",
        NULL,
    };
    static const char *const unavailable[] = { "mailbox unavailable", "mailbox not available",
                                               NULL };
    if (is(e, 1, 1) || is(e, 1, 10) || is(e, 1, 6) || is(e, 1, 3) || has_any(text, unknown) ||
        ((e.cls < 0 || e.subject == 1) && has_any(text, unavailable)))
        return SMTP_BOUNCE_UNKNOWN_ADDRESS;

    /* Gmail's 4.7.28, Yahoo's TSxx deferrals, "too many connections". */
    static const char *const rate[] = { "rate limit", "ratelimit", "rate-limit", "too many",
                                        "throttl", "unexpected volume", "user complaints",
                                        "slow down", "sending quota", "send quota",
                                        "sending limit", NULL };
    static const char *const rate_temp[] = { "try again later", "try later", "deferred",
                                             "temporarily", "please retry", "rate of", NULL };
    static const char *const rate_words[] = { "rate", "volume", NULL };
    if (is(e, 7, 28) || has_any(text, rate) ||
        (temporary && (has_any(text, rate_temp) || has_word(text, rate_words))))
        return SMTP_BOUNCE_RATE_LIMITED;

    /* Gmail: "... unsolicited mail originating from your IP address ...
     * has been blocked": our address, not the message. */
    static const char *const our_ip[] = { "your ip", "sending ip", "ip address", "client host",
                                          "your server", "your host", NULL };
    static const char *const ip_refused[] = { "blocked", "reputation", "listed", "banned",
                                              "rejected", NULL };
    if (has_any(text, our_ip) && has_any(text, ip_refused))
        return SMTP_BOUNCE_BLOCKLISTED;

    static const char *const spam[] = { "spam", "unsolicited", "junk", "bulk mail", "content",
                                        "virus", "malware", "phish", "suspicious",
                                        "infected", NULL };
    if (has_any(text, spam))
        return SMTP_BOUNCE_SPAM;

    static const char *const reputation[] = { "reputation", "listed at", "listed on",
                                              "listed by", "is listed", "are listed", NULL };
    if (has_any(text, reputation))
        return SMTP_BOUNCE_BLOCKLISTED;

    static const char *const connection[] = {
        "connection refused", "timed out", "timeout", "could not connect", "couldn't connect",
        "cannot connect", "can't connect", "connection reset", "network is unreachable",
        "unreachable", "no route to host", "connection closed", "lost connection",
        "connection lost", "no answer", NULL,
    };
    if (is(e, 4, 1) || is(e, 4, 2) || (e.cls == 4 && is(e, 4, 3)) || (e.cls == 4 && is(e, 4, 4)) ||
        has_any(text, connection))
        return SMTP_BOUNCE_NO_CONNECTION;

    /* The codes alone. X.1.7 and X.1.8 are about the sender, not the
     * recipient. */
    if (e.subject == 1 && e.detail != 7 && e.detail != 8)
        return SMTP_BOUNCE_UNKNOWN_ADDRESS;
    return SMTP_BOUNCE_OTHER;
}

/* ---- cleaning what came from outside ------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static bool is_ascii(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] >= 0x80)
            return false;
    return true;
}

/* Appends s as one line: CR, LF, tabs and other control characters become
 * spaces, runs of spaces one, none at either end; bytes >= 0x80 stay when
 * `utf8` allows and they are valid UTF-8, else each character becomes '?'.
 * At most `cap` bytes, cut at a character and marked with "...". So a remote
 * server's text can never start a line of ours: not a header field, not a
 * boundary. */
static void clean_line(struct buf *out, struct str s, size_t cap, bool utf8)
{
    size_t start = out->len;
    bool space = false;
    for (size_t i = 0; i < s.len;) {
        const unsigned char *u = (const unsigned char *)s.p + i;
        size_t n = utf8_seq(u, s.len - i);
        if (u[0] < 0x20 || u[0] == 0x7f || u[0] == ' ') {
            space = out->len > start;
            i++;
            continue;
        }
        const char *piece = (const char *)u;
        size_t plen = n;
        if (!n) {
            piece = "?";
            plen = 1;
            n = 1;
        } else if (n > 1 && !utf8) {
            piece = "?";
            plen = 1;
        }
        if (out->len - start + space + plen > cap) {
            buf_append_cstr(out, "...");
            return;
        }
        if (space)
            buf_append_char(out, ' ');
        space = false;
        buf_append(out, piece, plen);
        i += n;
    }
}

static void clean_cstr(struct buf *out, const char *s, size_t cap, bool utf8)
{
    clean_line(out, str_from_cstr(s), cap, utf8);
}

/* A host name (or address literal): its characters up to the first that
 * cannot be in one. */
static void clean_host(struct buf *out, const char *s)
{
    for (size_t n = 0; *s && n < HOST_MAX; s++, n++) {
        if (!is_alnum(*s) && !strchr(".-_:[]", *s))
            break;
        buf_append_char(out, *s);
    }
}

/* The reply's text without the code and enhanced code that may start each
 * of its lines (they are written once, in front). */
static void reply_text(struct buf *out, const struct smtp_bounce_rcpt *r, const char *status)
{
    if (!r->text)
        return;
    char code[8];
    snprintf(code, sizeof(code), "%03d", r->code);
    size_t slen = strlen(status);
    for (const char *p = r->text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        struct str line = { p, len };
        if (r->code && line.len >= 4 && !memcmp(line.p, code, 3) &&
            (line.p[3] == ' ' || line.p[3] == '-')) {
            line.p += 4;
            line.len -= 4;
        } else if (r->code && line.len == 3 && !memcmp(line.p, code, 3)) {
            line.len = 0;
        }
        if (slen && line.len >= slen && !memcmp(line.p, status, slen) &&
            (line.len == slen || line.p[slen] == ' ')) {
            line.p += slen;
            line.len -= slen;
        }
        if (out->len)
            buf_append_char(out, ' ');
        buf_append_str(out, line);
        p += len + (nl ? 1 : 0);
    }
}

/* ---- writing helpers ------------------------------------------------------------ */

/* Columns a UTF-8 string takes (bytes that start a character). */
static size_t columns(const char *p, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)p[i] & 0xc0) != 0x80;
    return c;
}

/* "Name: value" folded at spaces to keep lines within 78 columns where a
 * space allows (RFC 5322 §2.2.3); value is one clean line. */
static void append_field(struct buf *out, const char *name, struct str value)
{
    buf_append_cstr(out, name);
    buf_append_cstr(out, ":");
    size_t col = strlen(name) + 1;
    size_t i = 0;
    while (i < value.len) {
        size_t j = i;
        while (j < value.len && value.p[j] == ' ')
            j++;
        size_t w = j;
        while (w < value.len && value.p[w] != ' ')
            w++;
        size_t word = columns(value.p + j, w - j);
        if (w == j)
            break;
        if (col + 1 + word > 78 && col > 1) {
            buf_append_cstr(out, "\r\n");
            col = 0;
        }
        buf_append_char(out, ' ');
        buf_append(out, value.p + j, w - j);
        col += 1 + word;
        i = w;
    }
    buf_append_cstr(out, "\r\n");
}

static void append_field_cstr(struct buf *out, const char *name, const char *value)
{
    append_field(out, name, str_from_cstr(value));
}

/* A paragraph of text wrapped at TEXT_WIDTH, each line indented; words
 * longer than a line are cut (a remote server's text may have no spaces). */
static void append_wrapped(struct buf *out, struct str text, size_t indent)
{
    size_t width = TEXT_WIDTH - indent;
    size_t col = 0;
    size_t i = 0;
    bool line_started = false;
    while (i < text.len) {
        while (i < text.len && text.p[i] == ' ')
            i++;
        size_t w = i;
        while (w < text.len && text.p[w] != ' ')
            w++;
        if (w == i)
            break;
        size_t wcols = columns(text.p + i, w - i);
        if (line_started && col + 1 + wcols > width) {
            buf_append_cstr(out, "\r\n");
            line_started = false;
        }
        while (wcols > width) {
            /* Cut the word at a character boundary. */
            size_t take = i, cols = 0;
            while (take < w && cols < width) {
                take++;
                while (take < w && ((unsigned char)text.p[take] & 0xc0) == 0x80)
                    take++;
                cols++;
            }
            if (line_started)
                buf_append_cstr(out, "\r\n");
            for (size_t k = 0; k < indent; k++)
                buf_append_char(out, ' ');
            buf_append(out, text.p + i, take - i);
            buf_append_cstr(out, "\r\n");
            line_started = false;
            i = take;
            wcols = columns(text.p + i, w - i);
        }
        if (i == w)
            continue;
        if (!line_started) {
            for (size_t k = 0; k < indent; k++)
                buf_append_char(out, ' ');
            col = 0;
        } else {
            buf_append_char(out, ' ');
            col++;
        }
        buf_append(out, text.p + i, w - i);
        col += wcols;
        line_started = true;
        i = w;
    }
    if (line_started)
        buf_append_cstr(out, "\r\n");
}

/* A template with {rcpt}, {domain} and {server} filled in, wrapped. */
static void append_template(struct buf *out, const char *tmpl, const char *rcpt,
                            const char *domain, const char *server, size_t indent)
{
    struct buf t;
    buf_init(&t, 0);
    for (const char *p = tmpl; *p;) {
        const char *v = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{rcpt}", 6))
            v = rcpt, skip = 6;
        else if (!strncmp(p, "{domain}", 8))
            v = domain, skip = 8;
        else if (!strncmp(p, "{server}", 8))
            v = server, skip = 8;
        if (v) {
            buf_append_cstr(&t, v);
            p += skip;
        } else {
            buf_append_char(&t, *p++);
        }
    }
    append_wrapped(out, buf_str(&t), indent);
    buf_free(&t);
}

/* "Tue, 24 Nov 2026 19:51 UTC": for people. */
static void human_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%s, %d %s %d %02d:%02d UTC", smtp_day_names[tm.tm_wday], tm.tm_mday,
             smtp_month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
}

/* ---- the text for the sender ------------------------------------------------------- */

struct advice {
    const char *failed;  /* we gave up */
    const char *delayed; /* we are still trying */
};

static const struct advice advice[] = {
    [SMTP_BOUNCE_OTHER] = {
        "The mail server of {domain} did not accept your message. Its reply, below, says why. If "
        "it does not help, forward this report to your mail administrator.",
        "A temporary problem has kept us from delivering your message so far. We will keep "
        "trying; the reply below is what the receiving server told us.",
    },
    [SMTP_BOUNCE_UNKNOWN_ADDRESS] = {
        "The address {rcpt} does not exist at {domain}. Check the spelling of the address. If it "
        "is right, the person may have changed address or left: ask them, or someone else there, "
        "for their current address.",
        "The receiving server says the address {rcpt} is unknown, but only for now. We will keep "
        "trying; meanwhile, check that the address is spelled right.",
    },
    [SMTP_BOUNCE_MAILBOX_FULL] = {
        "The mailbox of {rcpt} is full, so {domain} could not take your message. This is not a "
        "problem on your side. Let the person know some other way, or send the message again "
        "once they have made room.",
        "The mailbox of {rcpt} is full at the moment. We will keep trying in case they make "
        "room; you do not need to do anything yet.",
    },
    [SMTP_BOUNCE_TOO_BIG] = {
        "Your message is too big for {domain} to accept. Send it again with fewer or smaller "
        "attachments, or put large files where they can be shared and send a link instead.",
        "The mail server of {domain} says your message is too big. We will keep trying, but if "
        "it keeps refusing, send the message again with fewer or smaller attachments.",
    },
    [SMTP_BOUNCE_SPAM] = {
        "The mail server of {domain} refused your message because its filters took it for spam, "
        "or did not accept something in it. Check for links, attachments or wording that could "
        "look suspicious, and try a shorter, plain message. If you think this is a mistake, your "
        "mail administrator can contact the postmaster of {domain} with this report.",
        "The mail server of {domain} is holding back your message because its filters found it "
        "suspicious. We will keep trying.",
    },
    [SMTP_BOUNCE_BLOCKLISTED] = {
        "The mail server of {domain} refused the message because the address of our mail server "
        "is on a blocklist it uses. This is not about your message or anything you did. Your "
        "mail administrator can see the listing with the command `outpost reputation status` and "
        "ask for it to be removed. Until then, try again later or reach the person another way.",
        "The mail server of {domain} is refusing mail from our server for now, because the "
        "address of our server is on a blocklist it uses. This is not about your message. Your "
        "mail administrator can see the listing with the command `outpost reputation status`; we "
        "will keep trying meanwhile.",
    },
    [SMTP_BOUNCE_AUTH_POLICY] = {
        "The mail server of {domain} requires proof that mail really comes from the domain it "
        "says it is from (the checks called SPF, DKIM and DMARC, and a reverse DNS name for our "
        "server), and your message did not pass. Nothing in the message itself can fix this: "
        "please forward this report to your mail administrator, who can run `outpost check` to "
        "see what is missing.",
        "The mail server of {domain} requires proof that mail really comes from the domain it "
        "says it is from (SPF, DKIM and DMARC, and a reverse DNS name for our server), and your "
        "message did not pass. We will keep trying, but it will most likely not pass until your "
        "mail administrator fixes it (`outpost check` shows what is missing).",
    },
    [SMTP_BOUNCE_RATE_LIMITED] = {
        "The mail server of {domain} accepts mail from our server only slowly for now (too much "
        "mail at once, or it does not know our server well yet), and it did not take your "
        "message before we gave up. This usually clears up by itself: send the message again "
        "later.",
        "The mail server of {domain} accepts mail from our server only slowly for now (too much "
        "mail at once, or it does not know our server well yet). This is common and usually "
        "clears up by itself; we will keep trying.",
    },
    [SMTP_BOUNCE_GREYLISTED] = {
        "The mail server of {domain} kept asking us to come back later (a defence against spam "
        "called greylisting) until we gave up. Send the message again; if it happens again, your "
        "mail administrator can ask {domain} to accept mail from our server.",
        "The mail server of {domain} asked us to try again later. Many servers do this the first "
        "time they see a new sender (it is called greylisting); it usually clears within an "
        "hour, and we will keep trying.",
    },
    [SMTP_BOUNCE_TLS] = {
        "We could not set up a secure (encrypted) connection with the mail server of {domain}, "
        "and one is required, by them or by our own settings, so the message was not sent. This "
        "is a problem between the two servers, not with your message: please forward this report "
        "to your mail administrator.",
        "We could not set up a secure (encrypted) connection with the mail server of {domain} "
        "yet, and the message may only be sent over one. We will keep trying.",
    },
    [SMTP_BOUNCE_NO_DOMAIN] = {
        "The domain {domain} does not exist, or has no mail servers. Check the spelling of the "
        "address {rcpt}, especially the part after the @.",
        "We cannot find the mail servers of {domain} at the moment. We will keep trying; "
        "meanwhile, check that the part of the address after the @ is spelled right.",
    },
    [SMTP_BOUNCE_NULL_MX] = {
        "The domain {domain} says that it accepts no mail at all. Check the address {rcpt}; if "
        "it is right, ask the person for another address.",
        "The domain {domain} says that it accepts no mail at all. Check the address {rcpt}; if "
        "it is right, ask the person for another address.",
    },
    [SMTP_BOUNCE_NO_CONNECTION] = {
        "We could not reach the mail server of {domain}: every attempt failed or timed out until "
        "we gave up. The problem is most likely on their side. Send the message again later, or "
        "reach the person another way.",
        "We could not reach the mail server of {domain} so far: the connection failed or timed "
        "out. The problem is most likely on their side; we will keep trying.",
    },
};

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at && at[1] ? at + 1 : addr;
}

/* The status: the enhanced code given, else the one the text starts with
 * (after the reply code, if it is there), else one from the reply code or
 * the action (RFC 3464 §2.3.4 needs one). */
static void status_of(const struct smtp_bounce_rcpt *r, char *out, size_t outlen)
{
    if (r->status && *r->status) {
        struct str s = str_from_cstr(r->status);
        if (smtp_enhanced_code_len(s) == s.len && s.len < outlen) {
            memcpy(out, s.p, s.len + 1);
            return;
        }
    }
    if (r->text) {
        struct str t = str_from_cstr(r->text);
        if (t.len >= 4 && t.p[0] >= '2' && t.p[0] <= '5' && t.p[1] >= '0' && t.p[1] <= '9' &&
            t.p[2] >= '0' && t.p[2] <= '9' && (t.p[3] == ' ' || t.p[3] == '-')) {
            t.p += 4;
            t.len -= 4;
        }
        size_t n = smtp_enhanced_code_len(t);
        if (n && n < outlen) {
            memcpy(out, t.p, n);
            out[n] = '\0';
            return;
        }
    }
    int cls = r->code / 100;
    if (cls != 2 && cls != 4 && cls != 5)
        cls = r->action == SMTP_BOUNCE_FAILED    ? 5
              : r->action == SMTP_BOUNCE_DELAYED ? 4
                                                        : 2;
    snprintf(out, outlen, "%d.0.0", cls);
}

static void text_for_rcpt(struct buf *t, const struct smtp_bounce *b,
                          const struct smtp_bounce_rcpt *r)
{
    struct buf addr, host, reply;
    buf_init(&addr, 0);
    buf_init(&host, 0);
    buf_init(&reply, 0);
    clean_cstr(&addr, r->address ? r->address : "", ADDRESS_MAX, true);
    if (r->remote_mta)
        clean_host(&host, r->remote_mta);
    const char *rcpt = buf_cstr(&addr);
    const char *domain = domain_of(rcpt);
    const char *server = host.len ? buf_cstr(&host) : domain;
    char status[16];
    status_of(r, status, sizeof(status));

    buf_printf(t, "%s\r\n", rcpt);
    switch (r->action) {
    case SMTP_BOUNCE_DELIVERED:
        append_template(t, "Your message was delivered to {rcpt}.", rcpt, domain, server, 4);
        break;
    case SMTP_BOUNCE_RELAYED:
        append_template(t, "Your message to {rcpt} was handed on to {server}, which does not "
                           "send delivery reports: this is the last news we can give you "
                           "about it.", rcpt, domain, server, 4);
        break;
    case SMTP_BOUNCE_EXPANDED:
        append_template(t, "Your message was delivered to {rcpt}, a mailing list or alias "
                           "that passes it on to its members.", rcpt, domain, server, 4);
        break;
    case SMTP_BOUNCE_FAILED:
    case SMTP_BOUNCE_DELAYED: {
        struct buf raw;
        buf_init(&raw, 0);
        reply_text(&raw, r, status);
        enum smtp_bounce_category c = smtp_bounce_classify(r->code, status, buf_cstr(&raw));
        const struct advice *adv = &advice[c];
        append_template(t, r->action == SMTP_BOUNCE_FAILED ? adv->failed : adv->delayed,
                        rcpt, domain, server, 4);
        if (r->action == SMTP_BOUNCE_DELAYED && (r->last_attempt || r->will_retry_until)) {
            char d1[64], d2[64];
            struct buf when;
            buf_init(&when, 0);
            if (r->last_attempt) {
                human_date(r->last_attempt, d1, sizeof(d1));
                buf_printf(&when, "We last tried on %s.", d1);
            }
            if (r->will_retry_until) {
                human_date(r->will_retry_until, d2, sizeof(d2));
                buf_printf(&when, "%sWe will keep trying until %s; if it has not worked by "
                                  "then, we will tell you.", when.len ? " " : "", d2);
            }
            buf_append_cstr(t, "\r\n");
            append_wrapped(t, buf_str(&when), 4);
            buf_free(&when);
        }
        /* What the server said, quoted as it was (cleaned): the words a
         * helpdesk or a search engine recognises. */
        clean_line(&reply, buf_str(&raw), QUOTE_MAX, true);
        if (reply.len || r->code) {
            struct buf q;
            buf_init(&q, 0);
            if (r->code)
                buf_printf(&q, "%d %s%s", r->code, status, reply.len ? " " : "");
            buf_append_str(&q, buf_str(&reply));
            buf_append_cstr(t, "\r\n");
            if (host.len)
                append_template(t, "The server {server} said:", rcpt, domain, server, 4);
            else
                append_wrapped(t, STR_LIT("Details:"), 4);
            append_wrapped(t, buf_str(&q), 8);
            buf_free(&q);
        }
        buf_free(&raw);
        break;
    }
    }
    buf_free(&addr);
    buf_free(&host);
    buf_free(&reply);
}

/* ---- the parts ----------------------------------------------------------------- */

/* The original's Subject, unfolded, cleaned and capped; "" when none. */
static void original_subject(struct arena *a, struct str header, bool decode, bool utf8,
                             struct buf *out)
{
    struct mime_field f;
    if (!mime_header_find(header, "subject", &f))
        return;
    struct str v = mime_unfold(a, f.value);
    if (decode)
        v = mime_decode_words(a, v);
    clean_line(out, v, SUBJECT_MAX, utf8);
}

static void text_part(struct buf *t, const struct smtp_bounce *b, struct str subject,
                      const char *returned)
{
    buf_append_cstr(t, "This is the mail system at ");
    clean_host(t, b->hostname);
    buf_append_cstr(t, ".\r\n\r\n");

    size_t n = b->n_rcpts;
    const char *opening;
    switch (b->kind) {
    case SMTP_BOUNCE_FAILURE:
        opening = n == 1 ? "Your message could not be delivered to the recipient below. We "
                           "have stopped trying."
                         : "Your message could not be delivered to the recipients below. We "
                           "have stopped trying for them.";
        break;
    case SMTP_BOUNCE_DELAY:
        opening = n == 1 ? "Your message has not reached the recipient below yet. We are "
                           "still trying, and you do not need to do anything now."
                         : "Your message has not reached the recipients below yet. We are "
                           "still trying, and you do not need to do anything now.";
        break;
    default:
        opening = n == 1 ? "Your message was delivered to the recipient below."
                         : "Your message was delivered to the recipients below.";
        break;
    }
    append_wrapped(t, str_from_cstr(opening), 0);
    if (subject.len || b->arrival) {
        struct buf about;
        buf_init(&about, 0);
        buf_append_cstr(&about, "This is about your message");
        if (subject.len) {
            buf_append_cstr(&about, " \"");
            buf_append_str(&about, subject);
            buf_append_cstr(&about, "\"");
        }
        if (b->arrival) {
            char d[64];
            human_date(b->arrival, d, sizeof(d));
            buf_printf(&about, "%s sent on %s", subject.len ? "," : "", d);
        }
        buf_append_cstr(&about, ".");
        buf_append_cstr(t, "\r\n");
        append_wrapped(t, buf_str(&about), 0);
        buf_free(&about);
    }

    for (size_t i = 0; i < n; i++) {
        buf_append_cstr(t, "\r\n");
        text_for_rcpt(t, b, &b->rcpts[i]);
    }

    struct buf end;
    buf_init(&end, 0);
    buf_printf(&end, "Below this text: a technical report for mail administrators, and %s.",
               returned);
    buf_append_cstr(t, "\r\n");
    append_wrapped(t, buf_str(&end), 0);
    buf_free(&end);
    if (b->admin && *b->admin) {
        struct buf help, admin;
        buf_init(&help, 0);
        buf_init(&admin, 0);
        clean_cstr(&admin, b->admin, ADDRESS_MAX, true);
        buf_printf(&help, "If you need help, forward this whole message to your mail "
                          "administrator, %s.", buf_cstr(&admin));
        buf_append_cstr(t, "\r\n");
        append_wrapped(t, buf_str(&help), 0);
        buf_free(&help);
        buf_free(&admin);
    }
}

/* QCHAR of RFC 6533 §3: what an address in message/delivery-status may
 * hold as it is; everything else is written \x{HEX}. */
static bool is_qchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '+' && c != '=' && c != '\\';
}

/* "TYPE; address" for Original- and Final-Recipient: rfc822 when the
 * address is ASCII; utf-8 otherwise (RFC 6533 §3), as UTF-8 in
 * message/global-delivery-status, with \x{HEX} escapes in the plain one. */
static void recipient_field(struct buf *ds, const char *name, const char *type, const char *addr,
                            bool global)
{
    struct buf a, v;
    buf_init(&a, 0);
    buf_init(&v, 0);
    clean_cstr(&a, addr, ADDRESS_MAX, true);
    /* An address has no spaces: what cleaning left of them goes too. */
    size_t w = 0;
    for (size_t i = 0; i < a.len; i++)
        if (a.p[i] != ' ')
            a.p[w++] = a.p[i];
    a.len = w;
    if (a.p)
        a.p[w] = '\0';
    if (is_ascii(buf_str(&a))) {
        /* The given type, when it is a plain token; rfc822 otherwise. */
        bool token = type && *type && strlen(type) < 32;
        for (const char *p = type; token && *p; p++)
            token = is_alnum(*p) || *p == '-';
        if (token && !strcasecmp(type, "utf-8"))
            token = false;
        buf_printf(&v, "%s; %s", token ? type : "rfc822", buf_cstr(&a));
    } else if (global) {
        buf_printf(&v, "utf-8; %s", buf_cstr(&a));
    } else {
        buf_append_cstr(&v, "utf-8; ");
        const unsigned char *u = (const unsigned char *)a.p;
        for (size_t i = 0; i < a.len;) {
            size_t n = utf8_seq(u + i, a.len - i);
            if (n == 1 && is_qchar(u[i])) {
                buf_append_char(&v, (char)u[i]);
            } else {
                unsigned cp = n ? u[i] & (n == 1 ? 0x7f : n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07)
                                : '?';
                for (size_t k = 1; k < n; k++)
                    cp = cp << 6 | (u[i + k] & 0x3f);
                buf_printf(&v, "\\x{%X}", cp);
            }
            i += n ? n : 1;
        }
    }
    append_field(ds, name, buf_str(&v));
    buf_free(&a);
    buf_free(&v);
}

static void date_field(struct buf *ds, const char *name, time_t t)
{
    char d[64];
    smtp_format_date(t, d, sizeof(d));
    append_field_cstr(ds, name, d);
}

/* Whether a delivery-status part would need UTF-8: a non-ASCII address or
 * reply text. */
static bool needs_global(const struct smtp_bounce *b)
{
    for (size_t i = 0; i < b->n_rcpts; i++) {
        const struct smtp_bounce_rcpt *r = &b->rcpts[i];
        if ((r->address && !is_ascii(str_from_cstr(r->address))) ||
            (r->orcpt && !is_ascii(str_from_cstr(r->orcpt))) ||
            (r->text && !is_ascii(str_from_cstr(r->text))))
            return true;
    }
    return false;
}

static void status_part(struct buf *ds, const struct smtp_bounce *b, bool global)
{
    struct buf v;
    buf_init(&v, 0);
    buf_append_cstr(&v, "dns; ");
    clean_host(&v, b->hostname);
    append_field(ds, "Reporting-MTA", buf_str(&v));
    if (b->envid && *b->envid) {
        buf_clear(&v);
        clean_cstr(&v, b->envid, 100, false);
        append_field(ds, "Original-Envelope-Id", buf_str(&v));
    }
    if (b->arrival)
        date_field(ds, "Arrival-Date", b->arrival);

    static const char *const actions[] = {
        [SMTP_BOUNCE_FAILED] = "failed",       [SMTP_BOUNCE_DELAYED] = "delayed",
        [SMTP_BOUNCE_DELIVERED] = "delivered", [SMTP_BOUNCE_RELAYED] = "relayed",
        [SMTP_BOUNCE_EXPANDED] = "expanded",
    };
    for (size_t i = 0; i < b->n_rcpts; i++) {
        const struct smtp_bounce_rcpt *r = &b->rcpts[i];
        char status[16];
        status_of(r, status, sizeof(status));
        buf_append_cstr(ds, "\r\n");
        if (r->orcpt && *r->orcpt)
            recipient_field(ds, "Original-Recipient", r->orcpt_type, r->orcpt, global);
        recipient_field(ds, "Final-Recipient", "rfc822", r->address ? r->address : "", global);
        append_field_cstr(ds, "Action", actions[r->action]);
        append_field_cstr(ds, "Status", status);
        if (r->remote_mta && *r->remote_mta) {
            buf_clear(&v);
            buf_append_cstr(&v, "dns; ");
            clean_host(&v, r->remote_mta);
            append_field(ds, "Remote-MTA", buf_str(&v));
        }
        struct buf raw;
        buf_init(&raw, 0);
        reply_text(&raw, r, status);
        if (r->code || raw.len) {
            buf_clear(&v);
            if (r->code)
                buf_printf(&v, "smtp; %d %s ", r->code, status);
            else
                buf_append_cstr(&v, "X-Outpost; ");
            clean_line(&v, buf_str(&raw), DIAG_MAX, global);
            append_field(ds, "Diagnostic-Code", str_trim(buf_str(&v)));
        }
        buf_free(&raw);
        if (r->last_attempt)
            date_field(ds, "Last-Attempt-Date", r->last_attempt);
        if (r->action == SMTP_BOUNCE_DELAYED && r->will_retry_until)
            date_field(ds, "Will-Retry-Until", r->will_retry_until);
    }
    buf_free(&v);
}

/* A byte >= 0x80 (*eight_r), or something 8bit does not allow either: NUL,
 * a bare CR or LF, a line past 998 octets (*bad_r). Queued messages came
 * through our SMTP server, which refuses those; a report must not depend
 * on it. */
static void scan_bytes(struct str s, bool *eight_r, bool *bad_r)
{
    *eight_r = *bad_r = false;
    size_t line = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x80)
            *eight_r = true;
        if (c == 0 || (c == '\r' && (i + 1 == s.len || s.p[i + 1] != '\n')) ||
            (c == '\n' && (i == 0 || s.p[i - 1] != '\r')))
            *bad_r = true;
        if (c == '\n')
            line = 0;
        else if (++line > 998 && c != '\r')
            *bad_r = true;
    }
}

struct third {
    const char *type;        /* Content-Type value */
    const char *cte;         /* Content-Transfer-Encoding, NULL for 7bit */
    const char *description;
    const char *returned;    /* for the text: "your whole message" */
};

/* The third part (RFC 3462 / RFC 6522 §3, RFC 6533 §6): the whole message
 * for a failure unless RET=HDRS or it is over the cap; its header only
 * otherwise. 8-bit content goes only when the report itself may carry it
 * (SMTPUTF8); otherwise the header, quoted-printable if it must be. */
static void original_part(struct buf *o, const struct smtp_bounce *b, struct third *th)
{
    struct str m = b->message;
    bool eight, bad;
    bool full = b->kind == SMTP_BOUNCE_FAILURE && b->ret != SMTP_BOUNCE_RET_HDRS &&
                m.len <= b->full_max && m.len > 0;
    if (full) {
        scan_bytes(m, &eight, &bad);
        struct str header = { m.p, smtp_header_end(m) };
        bool eight_header, bad_header;
        scan_bytes(header, &eight_header, &bad_header);
        if (!eight && !bad) {
            *th = (struct third){ "message/rfc822", NULL, "Undelivered message",
                                  "your message as it was sent" };
        } else if (b->smtputf8 && !bad) {
            *th = (struct third){ eight_header ? "message/global" : "message/rfc822", "8bit",
                                  "Undelivered message", "your message as it was sent" };
        } else {
            full = false;
        }
        if (full) {
            buf_append_str(o, m);
            return;
        }
    }
    struct str header = { m.p, smtp_header_end(m) };
    /* Without its blank line: the part ends with the last field. */
    if (header.len >= 2 && header.p[header.len - 1] == '\n' && header.p[header.len - 2] == '\n')
        header.len--;
    else if (header.len >= 4 && !memcmp(header.p + header.len - 4, "\r\n\r\n", 4))
        header.len -= 2;
    else if (header.len == 2 && !memcmp(header.p, "\r\n", 2))
        header.len = 0;
    scan_bytes(header, &eight, &bad);
    const char *desc = b->kind == SMTP_BOUNCE_FAILURE   ? "Undelivered message header"
                       : b->kind == SMTP_BOUNCE_DELAY ? "Delayed message header"
                                                      : "Delivered message header";
    if (!eight && !bad) {
        *th = (struct third){ "text/rfc822-headers", NULL, desc, "the header of your message" };
        buf_append_str(o, header);
    } else if (b->smtputf8 && !bad) {
        *th = (struct third){ "message/global-headers", "8bit", desc,
                              "the header of your message" };
        buf_append_str(o, header);
    } else {
        bool utf8 = true;
        for (size_t i = 0; i < header.len && utf8;) {
            size_t n = utf8_seq((const unsigned char *)header.p + i, header.len - i);
            utf8 = n > 0;
            i += n;
        }
        *th = (struct third){ utf8 ? "text/rfc822-headers; charset=utf-8"
                                   : "text/rfc822-headers; charset=unknown-8bit",
                              "quoted-printable", desc, "the header of your message" };
        mime_encode_qp(header, true, o);
    }
}

/* ---- putting it together ----------------------------------------------------------- */

static bool contains(struct str hay, const char *needle)
{
    size_t n = strlen(needle);
    return hay.len >= n && memmem(hay.p, hay.len, needle, n) != NULL;
}

/* The unique value as atext for Message-ID and bchars for the boundary. */
static void unique_token(struct buf *out, const char *u)
{
    for (; *u && out->len < 64; u++)
        if (is_alnum(*u) || *u == '.' || *u == '-' || *u == '_')
            buf_append_char(out, *u);
}

static void msgid_of(struct arena *a, struct str header, struct buf *out)
{
    struct mime_field f;
    if (!mime_header_find(header, "message-id", &f))
        return;
    struct str v = mime_unfold(a, f.value);
    /* One <...> without blanks or controls: anything else is not worth
     * pointing at, and must not smuggle text into our header. */
    if (v.len < 3 || v.len > MSGID_MAX || v.p[0] != '<' || v.p[v.len - 1] != '>')
        return;
    for (size_t i = 1; i + 1 < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>')
            return;
    }
    buf_append_str(out, v);
}

int smtp_bounce_compose(const struct smtp_bounce *b, struct buf *out, const char **error_r)
{
    const char *dummy;
    if (!error_r)
        error_r = &dummy;
    if (!b->hostname || !*b->hostname || !b->to || !*b->to || !b->unique || !*b->unique ||
        !b->n_rcpts || !b->rcpts) {
        *error_r = "a report needs a hostname, a recipient, a unique value and recipients";
        return -1;
    }
    for (size_t i = 0; i < b->n_rcpts; i++)
        if ((unsigned)b->rcpts[i].action > SMTP_BOUNCE_EXPANDED) {
            *error_r = "unknown action";
            return -1;
        }

    struct arena *a = arena_new(0);
    struct str m = b->message.p ? b->message : STR_LIT("");
    struct str header = { m.p, smtp_header_end(m) };
    struct buf subj_text, subj_hdr, msgid, text, ds, orig, token, hdr;
    buf_init(&subj_text, 0);
    buf_init(&subj_hdr, 0);
    buf_init(&msgid, 0);
    buf_init(&text, 0);
    buf_init(&ds, 0);
    buf_init(&orig, 0);
    buf_init(&token, 0);
    buf_init(&hdr, 0);

    /* The parts. */
    original_subject(a, header, true, true, &subj_text);
    struct third th;
    original_part(&orig, b, &th);
    text_part(&text, b, buf_str(&subj_text), th.returned);
    /* UTF-8 text goes as it is when the report may carry 8 bits, else in
     * quoted-printable (mostly ASCII: it stays readable). */
    bool text_ascii = is_ascii(buf_str(&text));
    if (!text_ascii && !b->smtputf8) {
        struct buf qp;
        buf_init(&qp, 0);
        mime_encode_qp(buf_str(&text), true, &qp);
        buf_free(&text);
        text = qp;
    }
    bool global = b->smtputf8 && needs_global(b);
    status_part(&ds, b, global);

    /* A boundary none of them contains. "=_" cannot occur in
     * quoted-printable or base64; the original and the remote's words
     * could hold anything, so each candidate is checked. */
    unique_token(&token, b->unique);
    char boundary[128];
    for (unsigned n = 0;; n++) {
        snprintf(boundary, sizeof(boundary), "=_outpost_%s_%u", buf_cstr(&token), n);
        if (!contains(buf_str(&text), boundary) && !contains(buf_str(&ds), boundary) &&
            !contains(buf_str(&orig), boundary))
            break;
    }

    /* The header. */
    const char *pm = b->postmaster && *b->postmaster ? b->postmaster : NULL;
    struct buf from;
    buf_init(&from, 0);
    buf_append_cstr(&from, "Mail Delivery System <");
    if (pm) {
        clean_cstr(&from, pm, ADDRESS_MAX, b->smtputf8);
    } else {
        buf_append_cstr(&from, "MAILER-DAEMON@");
        clean_host(&from, b->hostname);
    }
    buf_append_cstr(&from, ">");
    append_field(&hdr, "From", buf_str(&from));
    buf_free(&from);

    struct buf to;
    buf_init(&to, 0);
    clean_cstr(&to, b->to, ADDRESS_MAX, true);
    append_field(&hdr, "To", buf_str(&to));
    buf_free(&to);

    static const char *const prefixes[] = {
        [SMTP_BOUNCE_FAILURE] = "Undelivered mail: ",
        [SMTP_BOUNCE_DELAY] = "Delayed mail (still trying): ",
        [SMTP_BOUNCE_SUCCESS] = "Delivered: ",
    };
    struct buf raw_subject;
    buf_init(&raw_subject, 0);
    /* As written (encoded words stay valid), raw UTF-8 only if the report
     * may carry it; otherwise encoded words of our own. */
    original_subject(a, header, false, true, &raw_subject);
    buf_append_cstr(&subj_hdr, prefixes[b->kind <= SMTP_BOUNCE_SUCCESS ? b->kind : 0]);
    if (!raw_subject.len) {
        buf_append_cstr(&subj_hdr, "(no subject)");
    } else if (is_ascii(buf_str(&raw_subject)) || b->smtputf8) {
        buf_append_str(&subj_hdr, buf_str(&raw_subject));
    } else {
        /* RFC 2047 B words of at most 45 bytes (60 base64 characters, 75
         * in all), never splitting a character. */
        struct str s = buf_str(&raw_subject);
        for (size_t i = 0; i < s.len;) {
            size_t take = 0;
            while (i + take < s.len) {
                size_t n = utf8_seq((const unsigned char *)s.p + i + take, s.len - i - take);
                n = n ? n : 1;
                if (take + n > 45)
                    break;
                take += n;
            }
            if (i)
                buf_append_char(&subj_hdr, ' ');
            buf_append_cstr(&subj_hdr, "=?UTF-8?B?");
            mime_encode_base64((struct str){ s.p + i, take }, &subj_hdr);
            buf_append_cstr(&subj_hdr, "?=");
            i += take;
        }
    }
    buf_free(&raw_subject);
    append_field(&hdr, "Subject", buf_str(&subj_hdr));

    char date[64];
    smtp_format_date(b->date, date, sizeof(date));
    append_field_cstr(&hdr, "Date", date);
    struct buf mid;
    buf_init(&mid, 0);
    buf_printf(&mid, "<%s.dsn@", buf_cstr(&token));
    clean_host(&mid, b->hostname);
    buf_append_cstr(&mid, ">");
    append_field(&hdr, "Message-ID", buf_str(&mid));
    buf_free(&mid);
    msgid_of(a, header, &msgid);
    if (msgid.len) {
        append_field(&hdr, "In-Reply-To", buf_str(&msgid));
        append_field(&hdr, "References", buf_str(&msgid));
    }
    /* RFC 3834 §5: an automatic answer to a message. */
    append_field_cstr(&hdr, "Auto-Submitted", "auto-replied");
    append_field_cstr(&hdr, "MIME-Version", "1.0");
    buf_printf(&hdr, "Content-Type: multipart/report; report-type=%s;\r\n\tboundary=\"%s\"\r\n",
               global ? "global-delivery-status" : "delivery-status", boundary);

    /* The body. */
    size_t saved = out->len;
    int err = 0;
    err |= buf_append_str(out, buf_str(&hdr));
    err |= buf_printf(out, "\r\nThis is a delivery status notification in MIME format.\r\n");
    err |= buf_printf(out, "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Description: Notification\r\n%s\r\n",
                      boundary,
                      text_ascii     ? ""
                      : b->smtputf8 ? "Content-Transfer-Encoding: 8bit\r\n"
                                    : "Content-Transfer-Encoding: quoted-printable\r\n");
    err |= buf_append_str(out, buf_str(&text));
    err |= buf_printf(out, "\r\n--%s\r\nContent-Type: %s\r\n"
                           "Content-Description: Delivery report\r\n%s\r\n",
                      boundary,
                      global ? "message/global-delivery-status" : "message/delivery-status",
                      global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
    err |= buf_append_str(out, buf_str(&ds));
    err |= buf_printf(out, "\r\n--%s\r\nContent-Type: %s\r\nContent-Description: %s\r\n", boundary,
                      th.type, th.description);
    if (th.cte)
        err |= buf_printf(out, "Content-Transfer-Encoding: %s\r\n", th.cte);
    err |= buf_append_cstr(out, "\r\n");
    err |= buf_append_str(out, buf_str(&orig));
    /* The delimiter's CRLF belongs to it: a part that ended with its own
     * line end keeps it. */
    err |= buf_printf(out, "\r\n--%s--\r\n", boundary);

    buf_free(&subj_text);
    buf_free(&subj_hdr);
    buf_free(&msgid);
    buf_free(&text);
    buf_free(&ds);
    buf_free(&orig);
    buf_free(&token);
    buf_free(&hdr);
    arena_free(a);
    if (err) {
        out->len = saved;
        if (out->p)
            out->p[saved] = '\0';
        *error_r = "the report is too big";
        return -1;
    }
    return 0;
}

/* ---- when not to send one ------------------------------------------------------------ */

bool smtp_bounce_is_report(const char *sender, struct str message)
{
    if (!sender || !*sender || !strcmp(sender, "<>"))
        return true;
    struct str header = { message.p, message.p ? smtp_header_end(message) : 0 };
    struct mime_field f;
    if (!header.len || !mime_header_find(header, "content-type", &f))
        return false;
    struct arena *a = arena_new(1 << 20);
    struct str type, subtype;
    struct mime_param *params = NULL;
    unsigned n = 0;
    bool report = false;
    if (mime_content_type_parse(a, f.value, &type, &subtype, &params, &n) == 0 &&
        str_eq_nocase_cstr(type, "multipart") && str_eq_nocase_cstr(subtype, "report")) {
        const struct mime_param *rt = mime_param_get(params, n, "report-type");
        report = rt && (str_eq_nocase_cstr(rt->value, "delivery-status") ||
                        str_eq_nocase_cstr(rt->value, "global-delivery-status"));
    }
    arena_free(a);
    return report;
}

bool smtp_bounce_wanted(const char *sender, struct str message, unsigned notify,
                        enum smtp_bounce_kind kind)
{
    if (smtp_bounce_is_report(sender, message))
        return false;
    if (notify & 1u) /* NEVER */
        return false;
    switch (kind) {
    case SMTP_BOUNCE_FAILURE:
        return !notify || (notify & 4u);
    case SMTP_BOUNCE_DELAY:
        return !notify || (notify & 8u);
    case SMTP_BOUNCE_SUCCESS:
        return (notify & 2u) != 0;
    }
    return false;
}
