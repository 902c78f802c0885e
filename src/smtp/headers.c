/* Header fields the SMTP server adds (see headers.h). */
#include "smtp/headers.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

size_t smtp_header_end(struct str msg)
{
    if (msg.len >= 2 && msg.p[0] == '\r' && msg.p[1] == '\n')
        return 2; /* no header at all */
    for (size_t i = 0; i + 3 < msg.len; i++) {
        if (msg.p[i] == '\r' && msg.p[i + 1] == '\n' && msg.p[i + 2] == '\r' &&
            msg.p[i + 3] == '\n')
            return i + 4;
    }
    return msg.len;
}

/* Not strftime's %a and %b: they follow the locale. */
const char *const smtp_day_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
const char *const smtp_month_names[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void smtp_format_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%s, %d %s %d %02d:%02d:%02d +0000", smtp_day_names[tm.tm_wday],
             tm.tm_mday, smtp_month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/* The HELO name goes into a comment-free position of the header: keep only
 * characters that cannot break it (a client controls this string). */
static void append_clean(struct buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        buf_append_char(out, (c > 32 && c < 127 && c != '(' && c != ')' && c != ';') || c >= 128
                                 ? (char)c : '_');
    }
}

void smtp_received_append(struct buf *out, const struct smtp_received *r)
{
    /* RFC 3848 / RFC 6531 protocol types. */
    char with[16];
    snprintf(with, sizeof(with), "%s%s%s%s", r->utf8 ? "UTF8SMTP" : r->esmtp ? "ESMTP" : "SMTP",
             r->tls && (r->esmtp || r->utf8) ? "S" : "", r->auth && (r->esmtp || r->utf8) ? "A" : "",
             "");
    buf_append_cstr(out, "Received: from ");
    append_clean(out, r->helo && *r->helo ? r->helo : "unknown");
    /* RFC 5321 §4.1.3: an IPv6 address literal is tagged. */
    buf_printf(out, " ([%s%s])\r\n\tby %s (outpost) with %s id %s", strchr(r->ip, ':') ? "IPv6:" : "",
               r->ip, r->hostname, with, r->id);
    if (r->tls)
        buf_printf(out, "\r\n\t(version=%s cipher=%s)", r->tls_version ? r->tls_version : "TLS",
                   r->tls_cipher ? r->tls_cipher : "unknown");
    char date[64];
    smtp_format_date(r->when, date, sizeof(date));
    if (r->for_rcpt) {
        buf_append_cstr(out, "\r\n\tfor <");
        append_clean(out, r->for_rcpt);
        buf_append_cstr(out, ">");
    }
    buf_printf(out, ";\r\n\t%s\r\n", date);
}

void smtp_message_id_append(struct buf *out, const char *hostname)
{
    unsigned char rnd[12];
    char hex[sizeof(rnd) * 2 + 1];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    buf_printf(out, "Message-ID: <%s@%s>\r\n", hex, hostname);
}
