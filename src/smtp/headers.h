/*
 * smtp/headers.h — the header fields the SMTP server adds to a message:
 * Return-Path (RFC 5321 §4.4), Received (RFC 5321 §4.4, with the protocol
 * types of RFC 3848 and RFC 6531), and for submission Date and Message-ID
 * when missing (RFC 6409 §8).
 *
 * Owns: nothing. Never does I/O, never logs.
 */
#ifndef OUTPOST_SMTP_HEADERS_H
#define OUTPOST_SMTP_HEADERS_H

#include <stdbool.h>
#include <time.h>

#include "core/str.h"

/* Where the header block ends: the offset just past its blank line, or
 * msg.len when the message has no blank line (all header). */
size_t smtp_header_end(struct str msg);

/* An RFC 5322 date-time ("Tue, 24 Nov 2026 19:31:38 +0000"), in UTC. */
void smtp_format_date(time_t t, char *out, size_t outlen);
/* English day and month abbreviations (RFC 5322 §3.3), index as struct tm. */
extern const char *const smtp_day_names[7];
extern const char *const smtp_month_names[12];

struct smtp_received {
    const char *helo;         /* as the client gave it */
    const char *ip;           /* the client's address */
    const char *hostname;     /* ours */
    bool esmtp, tls, auth, utf8;
    const char *tls_version;  /* "TLSv1.3", when tls */
    const char *tls_cipher;
    const char *id;           /* our id for the transaction */
    const char *for_rcpt;     /* the one recipient, or NULL when several */
    time_t when;
};

/* Appends "Received: ...\r\n", folded. */
void smtp_received_append(struct buf *out, const struct smtp_received *r);
/* Appends "Message-ID: <random@hostname>\r\n". */
void smtp_message_id_append(struct buf *out, const char *hostname);

#endif
