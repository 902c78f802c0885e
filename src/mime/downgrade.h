/*
 * mime/downgrade.h — converting a message with 8-bit content to 7 bits, for
 * a peer that does not offer 8BITMIME (RFC 6152 §3: a message sent without
 * BODY=8BITMIME must be 7-bit), and the two transfer encoders it uses
 * (RFC 2045 §6.7 quoted-printable, §6.8 base64).
 *
 * What changes, and nothing else:
 *  - A leaf part whose body has a byte >= 0x80, a NUL or a line longer than
 *    998 octets (none of which 7bit allows, RFC 2045 §2.7), with no
 *    Content-Transfer-Encoding or 7bit, 8bit or binary, is re-encoded: text
 *    as quoted-printable (line breaks kept as they are, so the text stays
 *    readable), unless more than a quarter of its bytes would need escaping
 *    (text in a non-Latin script, where base64 is smaller); anything else as
 *    base64. Its Content-Transfer-Encoding field is replaced (every
 *    copy of it) or added. A body already in base64 or quoted-printable that
 *    still carries such bytes is decoded and encoded again the same way.
 *  - A multipart or message/rfc822 part is never encoded itself (RFC 2045
 *    §6.4, RFC 2046 §5.2.1 forbid it): its children are converted, and a
 *    Content-Transfer-Encoding other than 7bit on it becomes 7bit. A
 *    message/global part (RFC 6532 §3.5 allows any encoding) is encoded
 *    whole in base64, which is also how one whose encapsulated header is
 *    UTF-8 still goes. Other message/ types (delivery-status, ...) are
 *    leaves like any other.
 *  - When something was re-encoded and the message has no MIME-Version
 *    field, "MIME-Version: 1.0" is added (without it a reader ignores the
 *    encoding); a re-encoded leaf without Content-Type gets "text/plain" with
 *    charset utf-8 when its bytes are UTF-8, unknown-8bit (RFC 1428) if not.
 *  - Bytes >= 0x80 in the text around the parts of a multipart (preamble,
 *    epilogue, the rest of a boundary line), which no reader shows, become
 *    spaces.
 * The quoted-printable written here never starts a line with "--" (a
 * leading '-' is escaped) or "From " (RFC 2049 §4), so no encoded line can
 * be mistaken for a boundary or split an mbox.
 *
 * What cannot be converted:
 *  - 8-bit bytes in any header block — the message's, an encapsulated
 *    message's, a body part's: MIME_DOWNGRADE_NEEDS_UTF8. Header fields can
 *    only be sent that way with SMTPUTF8 (RFC 6532); the caller refuses or
 *    bounces with 5.6.7 (RFC 6531 §3.7.4.2: the message needs SMTPUTF8).
 *  - 8-bit bytes in a place with no transfer encoding to change: a
 *    multipart in which no part was found, a multipart or message/rfc822
 *    part below the parser's depth limit, the unparsed rest of a multipart past the parser's limits, a body in an
 *    unknown Content-Transfer-Encoding: MIME_DOWNGRADE_UNSUPPORTED (5.6.3,
 *    RFC 3463: conversion required but prohibited or not supported).
 *
 * A message with none of those bytes is left alone, byte for byte — its 8bit
 * labels included (RFC 2045 §6.2 allows labelling 7-bit data 8bit).
 *
 * A converted message has a different body: a DKIM signature made before
 * no longer verifies, so sign after converting.
 *
 * Owns: nothing. The parse tree is allocated from the caller's arena (reset
 * it afterwards). Never does I/O, never logs.
 */
#ifndef OUTPOST_MIME_DOWNGRADE_H
#define OUTPOST_MIME_DOWNGRADE_H

#include <stdbool.h>

#include "core/arena.h"
#include "core/str.h"

enum mime_downgrade_status {
    MIME_DOWNGRADE_DONE = 0,          /* out holds the 7-bit message */
    MIME_DOWNGRADE_CLEAN = 1,         /* already 7-bit: send msg as it is; out untouched */
    MIME_DOWNGRADE_NEEDS_UTF8 = -1,   /* 8-bit header: needs SMTPUTF8 */
    MIME_DOWNGRADE_UNSUPPORTED = -2,  /* 8-bit content that cannot be encoded */
    MIME_DOWNGRADE_TOO_BIG = -3,      /* out's cap was reached */
};

/* Converts msg (CRLF line ends expected; LF is tolerated) to 7 bits,
 * appending the result to out. On an error *error_r (may be NULL) gets a
 * short static reason and out is left as it was. */
enum mime_downgrade_status mime_downgrade(struct arena *a, struct str msg, struct buf *out,
                                          const char **error_r);

/* Whether msg needs converting: a byte >= 0x80 or a NUL anywhere, or a line
 * longer than 998 octets. A cheap check before the parse. */
bool mime_needs_downgrade(struct str msg);

/* Appends `in` in quoted-printable: lines of at most 76 characters with
 * soft breaks, '=' and trailing blanks escaped. With `text`, each CRLF is a
 * line break of the encoding (and a bare CR or LF is escaped); without it
 * every byte is data (CR and LF escaped too). Decoding gives back exactly
 * `in`. Returns 0, or -1 when out's cap was reached. */
int mime_encode_qp(struct str in, bool text, struct buf *out);

/* Appends `in` in base64, 76 characters a line, lines separated by CRLF
 * (none after the last). Returns 0, or -1 when out's cap was reached. */
int mime_encode_base64(struct str in, struct buf *out);

#endif
