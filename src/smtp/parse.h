/*
 * smtp/parse.h — parsing SMTP command lines (RFC 5321 §4.1, with the
 * parameters of RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3030 BINARYMIME,
 * RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 8689 REQUIRETLS and RFC 4954 AUTH=).
 *
 * Pure functions over one line (without its CRLF). What to do with a parsed
 * command (is it allowed now? is the size too big?) is the session's business;
 * the parser only says what the client sent, or which reply a malformed line
 * deserves.
 *
 * Owns: nothing beyond the caller's arena. Never does I/O, never logs.
 * Used by: the SMTP server engine (smtp/server.c); the SMTP client later.
 */
#ifndef OUTPOST_SMTP_PARSE_H
#define OUTPOST_SMTP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"

/* RFC 5321 §4.5.3.1 */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256

enum smtp_verb {
    SMTP_VERB_UNKNOWN = 0,
    SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT, SMTP_VERB_DATA,
    SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP, SMTP_VERB_QUIT, SMTP_VERB_VRFY,
    SMTP_VERB_EXPN, SMTP_VERB_HELP, SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
};

/* A reply the parser chose for a malformed line: code, enhanced code, text
 * (static strings). */
struct smtp_parse_error {
    int code;
    const char *enhanced;
    const char *text;
};

struct smtp_command {
    enum smtp_verb verb;
    /* What follows the verb and its separating spaces, trailing spaces
     * dropped (for MAIL and RCPT: what follows "FROM:" / "TO:", spaces after
     * the colon skipped). Points into the line. Empty when nothing follows. */
    struct str arg;
};

/* Splits a line into verb and argument. The verb is case-insensitive and
 * ends at the first space (or the end); one or more spaces follow it.
 * Returns 0, or -1 with *err set: a NUL byte or other control character,
 * tab included (500 5.5.2), an unknown verb (500 5.5.1), MAIL without
 * "FROM:" or RCPT without "TO:" (501 5.5.4; "MAIL  FROM:" is accepted,
 * "MAIL FROM :" is not). */
int smtp_parse_command(struct str line, struct smtp_command *out, struct smtp_parse_error *err);

/* A reverse-path or forward-path. */
struct smtp_path {
    const char *address;  /* "local@domain" as sent (a quoted local part keeps its
                             quotes; a source route is dropped); "" for <> */
    const char *local;    /* the local part as sent */
    const char *domain;   /* the domain (or address literal "[...]") as sent; ""
                             for <> and for RCPT TO:<Postmaster> */
    bool null;            /* <> */
    bool postmaster;      /* RCPT TO:<Postmaster> without a domain (any case) */
    bool utf8;            /* contains bytes >= 0x80 (needs SMTPUTF8) */
};

enum smtp_body { SMTP_BODY_UNSPECIFIED = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
                 SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_UNSPECIFIED = 0, SMTP_RET_FULL, SMTP_RET_HDRS };

struct smtp_mail_args {
    struct smtp_path path;
    bool has_size;
    uint64_t size;           /* SIZE=n */
    enum smtp_body body;     /* BODY= */
    bool smtputf8;           /* SMTPUTF8 */
    enum smtp_ret ret;       /* RET= */
    const char *envid;       /* ENVID=, xtext-decoded; NULL when absent */
    bool requiretls;         /* REQUIRETLS */
    const char *auth;        /* AUTH=, xtext-decoded ("<>" kept); NULL when absent */
};

#define SMTP_NOTIFY_NEVER   1u
#define SMTP_NOTIFY_SUCCESS 2u
#define SMTP_NOTIFY_FAILURE 4u
#define SMTP_NOTIFY_DELAY   8u

struct smtp_rcpt_args {
    struct smtp_path path;
    unsigned notify;         /* SMTP_NOTIFY_*; 0 when absent */
    const char *orcpt_type;  /* ORCPT= address type ("rfc822", "utf-8"); NULL when absent */
    const char *orcpt;       /* ORCPT= address, xtext-decoded */
};

/* Parses what follows "MAIL FROM:": a reverse-path and its parameters.
 * Parameters are recognised only when the matching extension is offered
 * (`ext` bits below); an unknown or unoffered parameter (or BODY= value)
 * gives 555 5.5.4, a repeated one, a bad value or anything but a space
 * right after the path 501 5.5.4, a malformed path 501 5.1.7, a non-ASCII
 * address without SMTPUTF8 among the parameters 553 5.6.7 (whatever its
 * bytes); with SMTPUTF8, ill-formed UTF-8 is a malformed path (501 5.1.7).
 * Limits (RFC 5321 §4.5.3.1): the local part as sent, quotes included, 64
 * bytes; the domain 255; the path from "<" to ">", a source route included,
 * 256. Strings are allocated from `a`; when its cap is reached the reply is
 * 452 4.3.1. */
#define SMTP_EXT_SIZE       0x01u
#define SMTP_EXT_8BITMIME   0x02u
#define SMTP_EXT_SMTPUTF8   0x04u
#define SMTP_EXT_DSN        0x08u
#define SMTP_EXT_REQUIRETLS 0x10u
#define SMTP_EXT_AUTH       0x20u
#define SMTP_EXT_BINARYMIME 0x40u
int smtp_parse_mail(struct arena *a, struct str arg, unsigned ext, struct smtp_mail_args *out,
                    struct smtp_parse_error *err);

/* Parses what follows "RCPT TO:": a forward-path (never <>; <Postmaster>
 * allowed) and its parameters (NOTIFY and ORCPT with DSN). `smtputf8` says
 * whether this transaction's MAIL FROM carried SMTPUTF8: without it, a
 * non-ASCII address gives 553 5.6.7. A malformed path (ill-formed UTF-8
 * included) gives 501 5.1.3; parameters, limits and the arena as for MAIL. */
int smtp_parse_rcpt(struct arena *a, struct str arg, unsigned ext, bool smtputf8,
                    struct smtp_rcpt_args *out, struct smtp_parse_error *err);

/* Parses the argument of BDAT: "<size>" or "<size> LAST" (LAST in any
 * case). Returns 0, or -1 with *err (501 5.5.4); a size above INT64_MAX is
 * refused, so it fits an off_t. */
int smtp_parse_bdat(struct str arg, uint64_t *size, bool *last, struct smtp_parse_error *err);

/* Parses the argument of HELO/EHLO: a domain or an address literal. Returns
 * 0, or -1 with *err (501 5.5.4). Non-ASCII (U-labels) is accepted: a client
 * may not know yet whether we offer SMTPUTF8. */
int smtp_parse_helo(struct str arg, struct smtp_parse_error *err);

/* xtext (RFC 3461 §4): "+XX" hex escapes. decode returns NULL on a malformed
 * escape, one that gives NUL ("+00": the result is a C string), a bare '=',
 * or a byte outside 33..126; it takes lower-case hex digits too. encode
 * escapes '+', '=', and bytes outside 33..126, with upper-case digits. Both
 * return NULL when the arena's cap is reached. */
char *smtp_xtext_decode(struct arena *a, struct str s);
char *smtp_xtext_encode(struct arena *a, struct str s);

#endif
