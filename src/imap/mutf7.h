/*
 * imap/mutf7.h — mailbox names in modified UTF-7 (RFC 3501 §5.1.3), for
 * IMAP4rev1 clients that have not enabled UTF8=ACCEPT. The store keeps names
 * in UTF-8; IMAP4rev2 clients use UTF-8 on the wire too.
 *
 * Owns: nothing beyond the caller's arena. Never does I/O, never logs.
 */
#ifndef OUTPOST_IMAP_MUTF7_H
#define OUTPOST_IMAP_MUTF7_H

#include "core/arena.h"
#include "core/str.h"

/* UTF-8 to modified UTF-7. Returns NULL when `in` is not valid UTF-8 (or
 * the arena is full). */
char *imap_mutf7_encode(struct arena *a, struct str in);

/* Modified UTF-7 to UTF-8. Returns NULL for anything RFC 3501 does not
 * allow: bytes outside 0x20-0x7e, an unterminated or empty shift ("&-" is
 * '&'), base64 that encodes printable ASCII, bad padding bits, an unpaired
 * surrogate, or a NUL. */
char *imap_mutf7_decode(struct arena *a, struct str in);

#endif
