/*
 * smtp/bounce.h — delivery status notifications for outbound mail: the
 * report the queue runner sends back to a message's sender when delivery
 * failed, is delayed, or (NOTIFY=SUCCESS) succeeded. RFC 3464 (the
 * message/delivery-status fields), RFC 3461 (RET, ENVID, NOTIFY, ORCPT),
 * RFC 6522 (multipart/report), RFC 6533 (the message/global-* types for
 * internationalised mail), RFC 3834 (Auto-Submitted).
 *
 * A report has three parts: a text for the sender saying in plain words
 * what happened to each recipient and what to do about it (quoting what the
 * receiving server said), the machine-readable message/delivery-status, and
 * the original message (whole, or its header only). Whatever a remote server
 * put in its reply is treated as hostile: in the report it is one line of
 * printable text, capped, and it can neither start a header field nor a
 * MIME boundary.
 *
 * The third part: for a failure the whole message (message/rfc822), unless
 * RET=HDRS or it is larger than full_max; otherwise, and for delays and
 * successes (RET is about failures, RFC 3461 §4.3), its header
 * (text/rfc822-headers). A message that is not 7-bit clean goes whole only
 * when the report is sent with SMTPUTF8 (message/global when its header is
 * UTF-8, RFC 6533 §6; message/rfc822 in 8bit when only its body is);
 * otherwise its header goes, as message/global-headers with SMTPUTF8, in
 * quoted-printable without. Without SMTPUTF8 the whole report is 7-bit:
 * the text in quoted-printable when it is not ASCII, a UTF-8 Subject in
 * encoded words, non-ASCII addresses as RFC 6533 utf-8 addresses with
 * \x{HEX} escapes; with it, message/global-delivery-status carries them as
 * they are.
 *
 * smtp_bounce_classify() sorts a refusal into the categories the text
 * explains; the reputation module and the logs can use it as well.
 *
 * When no report is sent at all (smtp_bounce_wanted):
 *  - never to the null reverse-path <>: a report goes back to the envelope
 *    sender, and <> is what reports and other automatic messages are sent
 *    from precisely so that nothing answers them (RFC 5321 §4.5.5, RFC 3464
 *    §2): two servers bouncing each other's bounces would loop forever;
 *  - never about a message that is itself a report (smtp_bounce_is_report):
 *    one sent from <>, which is the rule, or — defence against the senders
 *    that get the rule wrong — one whose top-level Content-Type is
 *    multipart/report with report-type delivery-status;
 *  - NOTIFY (RFC 3461 §4.1): NEVER means none; otherwise a failure is
 *    reported when FAILURE was asked for or NOTIFY was absent, a delay when
 *    DELAY was asked for or NOTIFY was absent, a success only when SUCCESS
 *    was asked for.
 *
 * Owns: nothing beyond the output buffer it is given. Never does I/O, never
 * logs; the date and unique values come from the caller, so the same input
 * gives the same bytes.
 */
#ifndef OUTPOST_SMTP_BOUNCE_H
#define OUTPOST_SMTP_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/str.h"

/* What a refusal was about, as far as the reply tells. */
enum smtp_bounce_category {
    SMTP_BOUNCE_OTHER = 0,
    SMTP_BOUNCE_UNKNOWN_ADDRESS,  /* no such mailbox (5.1.1, "user unknown") */
    SMTP_BOUNCE_MAILBOX_FULL,     /* over quota (4.2.2 / 5.2.2) */
    SMTP_BOUNCE_TOO_BIG,          /* message size (5.3.4, 5.2.3) */
    SMTP_BOUNCE_SPAM,             /* refused as spam or for its content */
    SMTP_BOUNCE_BLOCKLISTED,      /* our server's address is on a blocklist */
    SMTP_BOUNCE_AUTH_POLICY,      /* SPF, DKIM, DMARC, reverse DNS (5.7.23-5.7.27) */
    SMTP_BOUNCE_RATE_LIMITED,     /* too much mail, try later (4.7.x) */
    SMTP_BOUNCE_GREYLISTED,       /* "try again later", first contact */
    SMTP_BOUNCE_TLS,              /* TLS required, or it failed */
    SMTP_BOUNCE_NO_DOMAIN,        /* the domain does not exist / has no mail servers */
    SMTP_BOUNCE_NULL_MX,          /* the domain says it accepts no mail (RFC 7505) */
    SMTP_BOUNCE_NO_CONNECTION,    /* could not connect, timed out (4.4.1, 4.4.2) */
};

/* Sorts a reply: its code (0 when there was none: our own reasons),
 * enhanced status code ("5.1.1", or NULL/"" when none) and text (any
 * case, lines joined; NULL when none). Wording wins over codes where the
 * codes are used loosely (a blocklist refusal says 5.7.1 like a spam
 * refusal does). 5.1.10 is a null MX (RFC 7505) when the text or 556 says
 * so, and otherwise an unknown address (Microsoft's RecipientNotFound). */
enum smtp_bounce_category smtp_bounce_classify(int code, const char *enhanced, const char *text);

/* A short token for logs and counters: "unknown-address", "blocklisted". */
const char *smtp_bounce_category_name(enum smtp_bounce_category c);

enum smtp_bounce_kind {
    SMTP_BOUNCE_FAILURE, /* "Undelivered mail: ..." */
    SMTP_BOUNCE_DELAY,   /* "Delayed mail (still trying): ..." */
    SMTP_BOUNCE_SUCCESS, /* "Delivered: ..." */
};

/* RFC 3464 §2.3.3. */
enum smtp_bounce_action {
    SMTP_BOUNCE_FAILED,
    SMTP_BOUNCE_DELAYED,
    SMTP_BOUNCE_DELIVERED,
    SMTP_BOUNCE_RELAYED,  /* handed to a server that sends no DSNs */
    SMTP_BOUNCE_EXPANDED, /* delivered to a list or alias that passes it on */
};

/* Values as in store.h and smtp/parse.h. */
enum smtp_bounce_ret {
    SMTP_BOUNCE_RET_DEFAULT = 0,
    SMTP_BOUNCE_RET_FULL = 1,
    SMTP_BOUNCE_RET_HDRS = 2,
};

struct smtp_bounce_rcpt {
    const char *address;       /* the recipient we tried (Final-Recipient) */
    const char *orcpt_type;    /* ORCPT address type ("rfc822"), NULL when none */
    const char *orcpt;         /* ORCPT address, xtext-decoded */
    enum smtp_bounce_action action;
    /* The deciding reply. code 0: none came (our own reason: no such
     * domain, no connection...); status and text then say what happened. */
    int code;
    const char *status;        /* enhanced code "5.1.1"; NULL or "": the one
                                  the text starts with, else from code or
                                  action (5.0.0, 4.0.0, 2.0.0) */
    const char *text;          /* the reply's text, any number of lines; it
                                  may start with the code and enhanced code
                                  (smtp_client_rcpt.reply does): they are not
                                  repeated. NULL when none. */
    const char *remote_mta;    /* the host that answered, NULL when none */
    time_t last_attempt;       /* 0: not given */
    time_t will_retry_until;   /* delays: when we give up (0: not given) */
};

struct smtp_bounce {
    enum smtp_bounce_kind kind;  /* the Subject and the opening; each
                                    recipient's action is its own */
    const char *hostname;        /* ours: Reporting-MTA, Message-ID, From */
    const char *postmaster;      /* the From address; NULL: MAILER-DAEMON@hostname */
    const char *to;              /* the report's recipient: the original
                                    envelope sender */
    const char *unique;          /* unique per report (the queue id and a
                                    counter): the Message-ID and boundary */
    time_t date;
    const char *admin;           /* an address to ask for help, shown in the
                                    text; NULL: none shown */

    /* The original message. */
    const char *envid;           /* ENVID, xtext-decoded; NULL when none */
    time_t arrival;              /* when we took it; 0: not given */
    enum smtp_bounce_ret ret;
    size_t full_max;             /* whole message returned up to this size */
    bool smtputf8;               /* the report will be sent with SMTPUTF8
                                    (set it when the original was): 8-bit
                                    content may go back (see the top) */
    struct str message;          /* its bytes, CRLF line ends */

    const struct smtp_bounce_rcpt *rcpts;
    size_t n_rcpts;
};

/* Writes the whole report, header and body, CRLF line ends, to out.
 * Returns 0, or -1 when out's cap was reached or the input is unusable
 * (no hostname, recipient or unique value, no recipients) with *error_r
 * (may be NULL) set and out left as it was. */
int smtp_bounce_compose(const struct smtp_bounce *b, struct buf *out, const char **error_r);

/* See the top: the null reverse-path, a report, and NOTIFY (store.h bits:
 * 1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY; 0 when absent). */
bool smtp_bounce_is_report(const char *sender, struct str message);
bool smtp_bounce_wanted(const char *sender, struct str message, unsigned notify,
                        enum smtp_bounce_kind kind);

#endif
