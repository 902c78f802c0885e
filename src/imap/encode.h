/*
 * imap/encode.h — writing IMAP response data: strings (RFC 9051 §4.3,
 * RFC 3501 §4.3), ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2,
 * RFC 3501 §7.4.2, formal syntax in §9 of each) from a mime/ tree, and
 * INTERNALDATE.
 *
 * Every function appends to a struct buf and returns 0, or -1 when the
 * buffer's cap was reached; the buffer is then left exactly as it was, so a
 * caller never sends half a structure. Nothing else can fail: any tree that
 * mime_parse or mime_deserialize gives produces well-formed output. The
 * BODY[section] and BINARY[section] data themselves are byte ranges the
 * engine serves; only their literal8 announcement is here.
 *
 * `utf8` says what the client may receive: true for IMAP4rev2, and for
 * IMAP4rev1 after ENABLE UTF8=ACCEPT (RFC 9755). Then quoted strings may
 * carry UTF-8; otherwise any 8-bit byte goes in a literal.
 *
 * Strings. Data is never an atom. A string is quoted when its bytes allow:
 * no CR or LF, and no byte >= 0x80 unless `utf8` and the bytes are valid
 * UTF-8 (RFC 3629, as the ABNF's UTF8-2/3/4); '"' and '\' are escaped.
 * Otherwise it is a literal, {n}CRLF followed by the bytes. NUL bytes
 * cannot be in an IMAP string (CHAR8 excludes them): they are dropped.
 *
 * Decisions (RFC 9051 leaves them to the server):
 *  - Types, subtypes, parameter names, Content-Transfer-Encoding tokens
 *    other than the five standard ones, and every header value (envelope
 *    fields, Content-ID, Content-Description, Content-MD5, Content-Location,
 *    disposition type) are sent as written; header values undecoded, encoded
 *    words and all, as IMAP clients expect. The five standard encodings are
 *    sent as the ABNF spells them ("7BIT", "8BIT", "BINARY", "BASE64",
 *    "QUOTED-PRINTABLE"); no Content-Transfer-Encoding is "7BIT".
 *  - The US-ASCII default: ("CHARSET" "US-ASCII") is added, after the
 *    parameters as written, to text/plain parts without a charset parameter
 *    (RFC 2046 §4.1.2), which includes parts with no or an invalid
 *    Content-Type (RFC 2045 §5.2: text/plain; charset=us-ascii). Other text/
 *    subtypes have no MIME-wide default (RFC 6657 §4) and get none; Dovecot
 *    adds ("charset" "us-ascii") to every text/ part.
 *  - A multipart without children (no boundary, or none found) gets one
 *    empty part in their place, as Dovecot does:
 *    ("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0), with
 *    NIL NIL NIL NIL after it in BODYSTRUCTURE.
 *  - Parameters are sent in the order written, RFC 2231 continuations
 *    joined and charsets decoded (RFC 9051 §7.5.2 asks servers to decode),
 *    i.e. as UTF-8. A client without `utf8` gets a value with 8-bit UTF-8
 *    re-encoded in RFC 2231 form instead, name* "utf-8'lang'%E2%82%AC", so
 *    it never sees raw 8-bit parameters; a value whose 8-bit bytes are not
 *    UTF-8 is sent as written, in a literal.
 *  - message/rfc822 parts with an encapsulated message (MIME_KIND_MESSAGE)
 *    are body-type-msg: fields, the envelope, the body, the line count.
 *    message/global is body-type-msg only with `utf8` (the media-message
 *    ABNF of RFC 9051 and RFC 9755 includes GLOBAL; RFC 3501's does not),
 *    and otherwise a basic body. A message/rfc822 that is a leaf (encoded in
 *    base64 or quoted-printable, no body, past a limit) is a basic body with
 *    the type as written, as mime.h says.
 *  - Line counts (body-fld-lines) go with text/ types (any case) and
 *    body-type-msg; sizes are body_len, in octets as stored.
 *  - Extension data is always complete: md5, disposition, language and
 *    location for single parts; parameters, disposition, language and
 *    location for multiparts (NIL where absent). A disposition is NIL when
 *    the header is absent, or has neither a type nor parameters; languages
 *    are always a parenthesized list.
 *  - Envelope addresses: a mailbox is (name adl mailbox host) with name and
 *    adl NIL when absent, mailbox and host strings ("" when missing, never
 *    NIL, which would mean a group); a group is (NIL NIL "name" NIL) ...
 *    (NIL NIL NIL NIL). An empty list is NIL. Sender and Reply-To fall back
 *    to From (mime_envelope_sender, mime_envelope_reply_to).
 *
 * Bounded work: a tree is walked iteratively (no recursion, whatever its
 * depth); output is linear in the tree's size plus its strings.
 *
 * Owns: nothing. Never does I/O, never logs. Thread-safe.
 * Used by: the IMAP engine (FETCH), the unit tests, fuzz_imap_encode.
 */
#ifndef OUTPOST_IMAP_ENCODE_H
#define OUTPOST_IMAP_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"
#include "mime/mime.h"

/* ---- Strings ---- */

/* An IMAP string (quoted or literal, as above); s.p == NULL gives "". */
int imap_write_string(struct buf *out, struct str s, bool utf8);
/* nstring: NIL when s.p == NULL, else as imap_write_string. */
int imap_write_nstring(struct buf *out, struct str s, bool utf8);
/* Always a literal: {n}CRLF and the bytes, NULs dropped. */
int imap_write_literal(struct buf *out, struct str s);
/* literal8 (RFC 3516, BINARY[...] data): ~{n}CRLF and the bytes, NULs and
 * all. */
int imap_write_literal8(struct buf *out, struct str s);
/* Only the announcement "~{n}\r\n" of a literal8 of n bytes, for data the
 * caller streams itself. */
int imap_write_literal8_prefix(struct buf *out, uint64_t n);

/* ---- Message structure ---- */

/* The envelope: ("date" "subject" (from) (sender) (reply-to) (to) (cc)
 * (bcc) "in-reply-to" "message-id"). env may be NULL (all NIL). */
int imap_write_envelope(struct buf *out, const struct mime_envelope *env, bool utf8);

/* BODY: the non-extensible form. part is normally the root of a message
 * (mime_parse, mime_deserialize), but any part of a tree works. */
int imap_write_body(struct buf *out, const struct mime_part *part, bool utf8);
/* BODYSTRUCTURE: the extensible form, with extension data at every level. */
int imap_write_bodystructure(struct buf *out, const struct mime_part *part, bool utf8);

/* ---- Dates ---- */

/* INTERNALDATE's date-time, quotes included: "17-Jul-1996 02:44:25 -0700"
 * for t (seconds since the epoch, UTC) shown in the zone tz_minutes east of
 * UTC. Times outside the years 1-9999 and zones beyond +-99:59 are clamped
 * to them. */
int imap_write_internaldate(struct buf *out, int64_t t, int tz_minutes);

#endif
