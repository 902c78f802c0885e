/*
 * mime/mime.h — the structure of a message: RFC 5322 header fields and
 * addresses, MIME parts (RFC 2045-2049), encoded words (RFC 2047), parameter
 * continuations and charsets (RFC 2231), transfer decoding, and a compact
 * binary form of the whole tree.
 *
 * The store parses each message once, at delivery, with mime_parse(); keeps
 * mime_serialize()'s blob beside the message file; and feeds the full-text
 * index with mime_search_text(). IMAP FETCH turns the blob back into a tree
 * with mime_deserialize() and answers ENVELOPE, BODYSTRUCTURE, BODY[section]
 * and BINARY from the tree and byte ranges of the file: no message is parsed
 * twice.
 *
 * Owns: nothing. Every result is allocated from the caller's arena; a parsed
 * tree also points into the message bytes it was given, so those must outlive
 * it (a deserialized tree points only into its arena). Nothing global, never
 * does I/O, never logs, thread-safe as long as each thread has its own arena.
 * Never fails on bad input: any bytes give a best-effort tree, within the
 * limits below. The only dependency beyond core is glibc's iconv.
 *
 * What the store must know:
 *  - Parse the bytes exactly as they are stored (after any Received: or
 *    Return-Path: is prepended): offsets are byte offsets into that file.
 *    root->body_offset + root->body_len is always the message size; compare
 *    it with the file's size before serving byte ranges from an old blob.
 *  - The blob starts with a version (MIME_SERIAL_VERSION). mime_deserialize
 *    returns NULL for any other version, and for any blob that is damaged in
 *    any way: re-parse the file then, and store the new blob.
 *  - Time is linear in the message size whatever its shape (10 MB of each
 *    hostile shape we know parses in under 0.3 s; test_hostile in
 *    tests/unit/mime/test_parse.c has them). Memory: under 300 bytes per part (max_parts caps the number),
 *    at most ~12 bytes per byte of Content-* fields, and at most ~1 MB of
 *    addresses (MIME_MAX_ADDRESSES); strings point into the message instead
 *    of being copied unless they had to be unfolded or decoded. With a
 *    capped arena, a failed allocation makes the tree poorer (fewer parts,
 *    parameters or addresses), never a crash; mime_parse returns NULL only
 *    when not even the root part fits.
 *  - The blob holds the envelope's strings as written: a message with a
 *    10 MB Subject has a 10 MB blob. Cap what you store if that matters.
 *  - Stack: mime_parse recurses once per nesting level (~130 bytes each, at
 *    most MIME_DEPTH_CAP deep) and briefly needs ~14 KB more; every other
 *    walk of a tree is iterative.
 *
 * What the IMAP encoder must know:
 *  - Sender and Reply-To are stored as written (empty when absent): ENVELOPE
 *    must use From instead when they are empty (RFC 3501 §7.4.2), which is
 *    what mime_envelope_sender() and mime_envelope_reply_to() return.
 *  - A MIME_KIND_MULTIPART part may have no children (no delimiter found, or
 *    no boundary parameter): BODYSTRUCTURE needs at least one, so send one
 *    empty text/plain body in their place, as Dovecot does.
 *  - kind, not type, decides the BODYSTRUCTURE form. A message/rfc822 body in
 *    base64 or quoted-printable is a MIME_KIND_LEAF (its encapsulated message
 *    is not at any byte offset of the file); so is a message/rfc822 part
 *    whose header has no blank line (no body at all), and a multipart or
 *    message past a limit (then `truncated` is set): send those as basic
 *    bodies with the type as written.
 *  - type/subtype are as written (case kept), text/plain when absent or
 *    invalid (message/rfc822 inside multipart/digest). No charset is
 *    invented: add ("CHARSET" "US-ASCII") for text/... without one if wanted.
 *  - A mailbox without a domain has an empty (not NULL) domain: send "" (NIL
 *    there would mean a group). Group entries: see struct mime_address.
 *  - body_lines counts the body's lines: its LF bytes, plus one when it ends
 *    without one (the CRLF before a boundary belongs to the boundary).
 *  - Header values in the envelope and in Content-Description are undecoded,
 *    as IMAP sends them; mime_decode_words() is there for everything else.
 *  - Sections: mime_part_find() maps numbers to parts. BODY[n] is that
 *    part's body range and BODY[n.MIME] its header range; for n.HEADER and
 *    n.TEXT of a message/rfc822 part, use its child (the encapsulated
 *    message); BODY[HEADER] and BODY[TEXT] are the root's two ranges.
 */
#ifndef OUTPOST_MIME_MIME_H
#define OUTPOST_MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/str.h"

/* ---- Limits ------------------------------------------------------------ */

/* Past a limit the rest of a part is kept as an opaque leaf body and the part
 * is marked `truncated`: never an error. */
struct mime_limits {
    unsigned max_depth; /* nesting levels below the root that are parsed */
    unsigned max_parts; /* parts in the tree, the root included */
};
#define MIME_LIMITS_DEFAULT ((struct mime_limits){ .max_depth = 64, .max_parts = 5000 })

/* Ceilings whatever the caller asks for: max_depth bounds mime_parse's
 * recursion, and mime_deserialize refuses deeper trees. */
#define MIME_DEPTH_CAP 256
/* Addresses kept per parse, over every envelope of the message together;
 * further ones are dropped and that part is marked truncated. */
#define MIME_MAX_ADDRESSES 10000
/* Parameters kept per Content-Type or Content-Disposition field (the first
 * ones; more are ignored). */
#define MIME_MAX_PARAMS 64

/* ---- The tree ------------------------------------------------------------ */

enum mime_kind {
    MIME_KIND_LEAF = 0,      /* a body we do not look into */
    MIME_KIND_MULTIPART = 1, /* multipart/...: children in order (maybe none) */
    MIME_KIND_MESSAGE = 2,   /* message/rfc822 or message/global in 7bit, 8bit or
                                binary: exactly one child, the encapsulated
                                message, which has its own envelope */
};

enum mime_encoding {
    MIME_ENC_7BIT = 0, /* also when there is no Content-Transfer-Encoding */
    MIME_ENC_8BIT,
    MIME_ENC_BINARY,
    MIME_ENC_BASE64,
    MIME_ENC_QP,
    MIME_ENC_OTHER, /* anything else: IMAP BINARY answers [UNKNOWN-CTE] */
};

/* A Content-Type or Content-Disposition parameter, RFC 2231 continuations
 * joined and RFC 2231 or RFC 2047 charsets converted: value is UTF-8 (bytes
 * that were 8-bit in the header pass through unchanged). */
struct mime_param {
    struct str name;     /* as written, without any "*0*" suffix */
    struct str value;
    struct str language; /* RFC 2231 language, NULL when none was given */
};

enum mime_address_kind {
    MIME_ADDR_MAILBOX = 0,
    MIME_ADDR_GROUP_START, /* "name:" — IMAP (NIL NIL "name" NIL): the group
                              name (name_raw) goes in the mailbox position */
    MIME_ADDR_GROUP_END,   /* ";" — IMAP (NIL NIL NIL NIL) */
};

/* One entry of an address list. Strings are NULL (IMAP NIL) when absent.
 * name_raw is what IMAP sends: the display name with quotes and comments
 * removed, encoded words kept; name is the same, decoded to UTF-8. */
struct mime_address {
    enum mime_address_kind kind;
    struct str name_raw;
    struct str name;
    struct str route;   /* obsolete source route "@a.example,@b.example" */
    struct str mailbox; /* local part, unquoted */
    struct str domain;  /* as written; "" when the address has none */
};

struct mime_addresses {
    struct mime_address *v;
    unsigned n;
};

/* The envelope of the message and of each encapsulated message. The four
 * strings are the header values as written, unfolded and trimmed, NULL when
 * the field is absent. The first field of each name counts. */
struct mime_envelope {
    struct str date;
    struct str subject;
    struct str message_id;
    struct str in_reply_to;
    struct mime_addresses from, sender, reply_to, to, cc, bcc;
};

struct mime_part {
    struct mime_part *parent;   /* NULL for the root */
    struct mime_part *children; /* first child; siblings through `next` */
    struct mime_part *next;
    unsigned n_children;
    enum mime_kind kind;
    enum mime_encoding encoding;
    bool truncated; /* a limit stopped the parse inside this part (its depth
                       or max_parts), or dropped addresses of its envelope */

    /* Byte ranges in the message. The header includes the blank line that
     * ends it (what IMAP's BODY[HEADER] and BODY[n.MIME] return); the body
     * follows at once: body_offset == header_offset + header_len. */
    size_t header_offset, header_len;
    size_t body_offset, body_len;
    size_t body_lines;

    struct str type, subtype;
    struct mime_param *params;
    unsigned n_params;
    struct str id;          /* Content-ID, raw */
    struct str description; /* Content-Description, raw (maybe encoded words) */
    struct str cte;         /* Content-Transfer-Encoding token as written */
    struct str md5;         /* Content-MD5 */
    struct str disposition; /* Content-Disposition type as written */
    struct mime_param *disposition_params;
    unsigned n_disposition_params;
    struct str *languages; /* Content-Language tags */
    unsigned n_languages;
    struct str location; /* Content-Location, unfolded */

    /* Set for the root and for the child of a MIME_KIND_MESSAGE part. */
    struct mime_envelope *envelope;
};

/* Parses a whole message held in memory. lim may be NULL (the defaults).
 * Returns the root (never NULL unless the arena's cap is already reached). */
struct mime_part *mime_parse(struct arena *a, struct str msg, const struct mime_limits *lim);

/* The part an IMAP section number (1-based, n numbers) names, following
 * RFC 3501 §6.4.5: the numbers after a message/rfc822 part count in its
 * encapsulated message, and part 1 of a non-multipart message (the root, or
 * the child of a MESSAGE part) is that message's own entity, whose body is
 * the part's content. n == 0 gives root; NULL when there is no such part. */
const struct mime_part *mime_part_find(const struct mime_part *root, const unsigned *section,
                                       size_t n);

/* A parameter by name (ASCII case-insensitive); NULL when absent. */
const struct mime_param *mime_param_get(const struct mime_param *params, unsigned n,
                                        const char *name);

/* From when Sender (Reply-To) is empty, as IMAP ENVELOPE requires. */
const struct mime_addresses *mime_envelope_sender(const struct mime_envelope *env);
const struct mime_addresses *mime_envelope_reply_to(const struct mime_envelope *env);

/* ---- Header fields ------------------------------------------------------- */

/* One field of a header block. */
struct mime_field {
    struct str name;  /* without any whitespace before the colon */
    struct str value; /* after the colon, folding kept, final line end dropped */
    struct str raw;   /* the whole field as written, final line end dropped */
};

/* Walks the fields of a header block (which may include its blank line; a
 * blank line ends the walk). A line that is not a field — no colon, or bytes
 * outside RFC 5322's field-name characters before it — is skipped together
 * with its continuation lines. */
struct mime_header_iter {
    struct str header;
    size_t pos;
};
void mime_header_iter_init(struct mime_header_iter *it, struct str header);
bool mime_header_next(struct mime_header_iter *it, struct mime_field *f);
/* The first field named `name` (ASCII case-insensitive). */
bool mime_header_find(struct str header, const char *name, struct mime_field *f);
/* A field value unfolded (RFC 5322 §2.2.3) and trimmed of spaces and tabs.
 * Allocates only when the value was folded. */
struct str mime_unfold(struct arena *a, struct str value);

/* RFC 2047 encoded words (B and Q) decoded to UTF-8, charsets as in
 * mime_charset_to_utf8; adjacent encoded words separated only by whitespace
 * are joined (also across a character split between them); malformed ones
 * stay as they are; the text around them is copied unchanged. Words are
 * found anywhere, also in quoted strings and next to other text, as real
 * mail needs. Allocates only when something was decoded. */
struct str mime_decode_words(struct arena *a, struct str in);

/* A Content-Type value (or Content-Disposition's, with subtype NULL), folded
 * or not: the leading token(s), then parameters as in struct mime_param
 * (comments allowed, a forgotten ';' forgiven). Returns 0, or -1 when the
 * type is missing or invalid (parameters are still parsed: the caller then
 * uses its default type). */
int mime_content_type_parse(struct arena *a, struct str value, struct str *type,
                            struct str *subtype, struct mime_param **params, unsigned *n_params);

/* An RFC 5322 address-list (From, To, Cc, ...), tolerant of obsolete syntax
 * and of garbage: something sensible always comes out. At most max entries
 * are kept; *truncated_r (may be NULL) tells whether some were dropped. */
struct mime_addresses mime_addresses_parse(struct arena *a, struct str value, unsigned max,
                                           bool *truncated_r);

/* ---- Decoding -------------------------------------------------------------- */

enum mime_encoding mime_encoding_parse(struct str cte);

/* Appends body decoded from `enc` to out: base64 (whitespace and garbage
 * skipped, padding anywhere ends a group), quoted-printable (soft breaks
 * joined, trailing blanks dropped, bad escapes kept as they are), 7bit, 8bit
 * and binary unchanged. *binary_r (may be NULL) is set to whether the
 * decoded bytes contain NUL (IMAP BINARY then needs literal8).
 * Returns 0; -1 when out's cap was reached (out holds what fitted); -2 for
 * MIME_ENC_OTHER (nothing appended). */
int mime_decode_body(enum mime_encoding enc, struct str body, struct buf *out, bool *binary_r);

/* Appends `in`, in `charset`, converted to UTF-8 (glibc iconv). Invalid
 * sequences become U+FFFD. With no charset, us-ascii, or one iconv does not
 * know, valid UTF-8 passes and other bytes are read as windows-1252;
 * iso-8859-1 is read as windows-1252, as mailers mean it.
 * Returns 0, or -1 when out's cap was reached. */
int mime_charset_to_utf8(struct str charset, struct str in, struct buf *out);

/* ---- Storage and search ----------------------------------------------------- */

#define MIME_SERIAL_VERSION 1

/* Appends the whole tree (envelopes included) in a compact, versioned binary
 * form. Returns 0, or -1 when out's cap was reached (out is left as it was). */
int mime_serialize(const struct mime_part *root, struct buf *out);
/* The tree back from a blob (copied into the arena). NULL for a blob that is
 * truncated, damaged, not canonical, or of another version; an accepted blob
 * serializes back to exactly the same bytes. */
struct mime_part *mime_deserialize(struct arena *a, struct str blob);

/* Appends the text for the full-text index: Subject, From, To and Cc of each
 * message (decoded), and every text/ part decoded from its transfer encoding
 * and charset to UTF-8 (text/html with tags removed), separated by newlines.
 * Stops at out's cap. Returns 0, or -1 when the cap cut the text short. */
int mime_search_text(struct arena *a, struct str msg, const struct mime_part *root,
                     struct buf *out);

#endif
