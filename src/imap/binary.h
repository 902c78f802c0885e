/*
 * imap/binary.h — the data of FETCH BINARY[section] and BINARY.SIZE[section]
 * (RFC 3516; part of IMAP4rev2, RFC 9051 §6.4.5): a part's content with its
 * Content-Transfer-Encoding undone, apart from sessions so the unit tests
 * can run it on messages made by hand.
 *
 * Decisions (the RFCs leave them open):
 *  - BINARY[] is the whole message as stored. A message has no transfer
 *    encoding of its own; its header's applies to its body, which is
 *    BINARY[1] of a single-part message.
 *  - A section that names no part gives empty data, as BODY[...] does.
 *  - A leaf in base64 or quoted-printable is decoded with mime_decode_body's
 *    tolerance (garbage in base64 skipped, bad escapes in QP kept as they
 *    are): a client asked for bytes, and a best effort beats a refusal.
 *    7bit, 8bit and binary leaves come as they are, and so do multipart and
 *    encapsulated message/rfc822 parts, whose only allowed encodings are
 *    those. Any other encoding (x-uuencode, a typo) cannot be undone:
 *    IMAP_BINARY_UNKNOWN_CTE, for which the command answers NO [UNKNOWN-CTE].
 *
 * Whether the data needs literal8 (it holds NUL) is the caller's question,
 * asked of the bytes it sends (a <partial> range may hold none).
 *
 * Owns: nothing. Never does I/O, never logs. Thread-safe.
 * Used by: FETCH (imap/fetch.c), the unit tests.
 */
#ifndef OUTPOST_IMAP_BINARY_H
#define OUTPOST_IMAP_BINARY_H

#include "core/str.h"
#include "mime/mime.h"

#define IMAP_BINARY_UNKNOWN_CTE (-2)

/* The decoded content of the part `parts` (n numbers, RFC 3501 §6.4.5
 * numbering, 0 for the whole message) of `msg`, whose tree is `root` (may
 * be NULL when n is 0). *data_r points into msg when nothing needed
 * decoding, else into `scratch`, to which the decoded bytes are appended.
 * Returns 0; -1 when scratch's cap was reached; IMAP_BINARY_UNKNOWN_CTE. */
int imap_binary_section(struct str msg, const struct mime_part *root, const unsigned *parts,
                        size_t n, struct buf *scratch, struct str *data_r);

#endif
