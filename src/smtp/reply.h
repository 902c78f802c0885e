/*
 * smtp/reply.h — reading a remote SMTP server's replies (the client side:
 * outbound delivery, issue 7).
 *
 * A reply is one or more lines "CODE-text" ... "CODE text" (RFC 5321
 * §4.2): the same three-digit code on every line, a hyphen on all but the
 * last. With ENHANCEDSTATUSCODES (RFC 2034) each line's text starts with
 * "class.subject.detail"; the reader takes it from the first line and
 * strips it from every line whose text starts with the same code.
 *
 * Remote servers are not trusted: a reply is refused (SMTP_REPLY_ERROR, with
 * a reason) when a line has no valid code, the code changes between lines,
 * a line passes the line limit, or the reply passes SMTP_REPLY_MAX_LINES or
 * SMTP_REPLY_MAX_TEXT bytes of text. A bare LF ends a line like CRLF does
 * (some servers send them; nothing in a reply depends on it). After an
 * error the connection's framing is lost: the caller drops it.
 *
 * Owns: its line buffer and the text of the reply being read. Never does
 * I/O, never logs.
 */
#ifndef OUTPOST_SMTP_REPLY_H
#define OUTPOST_SMTP_REPLY_H

#include <stdbool.h>

#include "core/linereader.h"
#include "core/str.h"

/* RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; some servers send
 * more (long 250-ENHANCEDSTATUSCODES banners, long refusals). */
#define SMTP_REPLY_MAX_LINE 4096
#define SMTP_REPLY_MAX_LINES 100
#define SMTP_REPLY_MAX_TEXT 16384

struct smtp_reply {
    int code;            /* 200..599 (first digit 2-5) */
    char enhanced[16];   /* "5.1.1", or "" when the reply has none */
    struct buf text;     /* the lines' texts, enhanced code removed, joined by "\n" */
    unsigned lines;
};

enum smtp_reply_status {
    SMTP_REPLY_NEED_MORE = 0, /* input used up; the reply is not complete */
    SMTP_REPLY_DONE,          /* *out holds a whole reply */
    SMTP_REPLY_ERROR,         /* not a valid reply; *error_r says why */
};

struct smtp_reply_reader {
    struct linereader lr;
    struct smtp_reply cur;
    bool started;
};

void smtp_reply_reader_init(struct smtp_reply_reader *r);
void smtp_reply_reader_free(struct smtp_reply_reader *r);

/* Takes bytes from the front of *in until a reply is complete. On DONE the
 * reply moves into *out (which must be freed with smtp_reply_free) and the
 * bytes after it stay in *in (pipelined replies: call again). */
enum smtp_reply_status smtp_reply_read(struct smtp_reply_reader *r, struct str *in,
                                       struct smtp_reply *out, const char **error_r);
void smtp_reply_free(struct smtp_reply *rep);

/* "5.1.1" style: class 2, 4 or 5; subject and detail 1 to 3 digits each
 * (RFC 3463). Returns the code's length at the start of s, or 0. */
size_t smtp_enhanced_code_len(struct str s);

#endif
