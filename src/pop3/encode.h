/*
 * pop3/encode.h — a stored message as POP3 sends it (RFC 1939 §3): every
 * line ends in CRLF whatever the file holds (a bare LF becomes CRLF; a CR
 * not followed by LF is an ordinary byte), the last line gets a CRLF when
 * the file's has none, and a line that starts with "." gets another one in
 * front (dot-stuffing). For TOP, only the header, the blank line that ends
 * it and the first n lines of the body.
 *
 * One encoder both writes the wire form and counts its size, so the size
 * LIST and STAT announce is, by construction, what RETR sends: the octets
 * of the message as the client has it once it has removed the stuffing
 * (RFC 1939 §11 counts them so), final CRLF included, the terminating
 * ".CRLF" not.
 *
 * The encoder is fed the file in chunks of any size (a CR at the end of one
 * chunk and its LF at the start of the next are handled), keeps a few bytes
 * of state and never holds the message.
 *
 * Pure: no I/O, no logging.
 */
#ifndef OUTPOST_POP3_ENCODE_H
#define OUTPOST_POP3_ENCODE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

struct pop3_encoder {
    bool top;           /* TOP: stop after the header and `lines_left` lines */
    uint64_t lines_left;
    bool in_body;       /* past the blank line that ends the header */
    bool done;          /* TOP has everything it wanted */
    bool line_start;    /* the next byte starts a line */
    bool prev_cr;       /* the last byte taken was a CR */
    uint64_t line_len;  /* bytes of the current line so far (its LF excluded) */
    uint64_t octets;    /* bytes of the message as sent, without stuffing */
};

/* For RETR (top false) or TOP with `lines` body lines. */
void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t lines);
/* Takes the next bytes of the file and appends their wire form to `out`
 * (NULL: only counts). Returns how many bytes of `in` it took: all of them
 * unless TOP finished inside it (then pop3_encoder_done is true and the
 * rest of the file is not wanted). */
size_t pop3_encode(struct pop3_encoder *e, struct str in, struct buf *out);
bool pop3_encoder_done(const struct pop3_encoder *e);
/* The end of the file: the CRLF the last line lacks, if any (counted in
 * octets). The ".CRLF" terminator is the caller's. */
void pop3_encode_finish(struct pop3_encoder *e, struct buf *out);

/* The size of a whole message held in memory as RETR sends it (for tests;
 * the session counts files chunk by chunk with the encoder). */
uint64_t pop3_wire_size(struct str message);

#endif
