/*
 * core/linereader.h — splitting a byte stream into bounded lines.
 *
 * Protocol engines are fed bytes in arbitrary chunks; this cuts them at LF,
 * tells whether the line ended in CRLF or a bare LF, and never buffers more
 * than the line limit. What to do with a bare LF or an over-long line is the
 * caller's policy (SMTP refuses one, IMAP another), so the reader only reports.
 *
 * Only an incomplete line is ever copied; a complete line inside the chunk is
 * returned in place. Bytes after a line stay in the caller's input, so an
 * engine can switch to reading raw bytes (a literal, DATA, BDAT) mid-chunk.
 *
 * Owns: its partial-line buffer. Never does I/O, never logs.
 */
#ifndef OUTPOST_CORE_LINEREADER_H
#define OUTPOST_CORE_LINEREADER_H

#include <stdbool.h>

#include "core/str.h"

enum line_status {
    LINE_NONE = 0,  /* input used up; no complete line yet */
    LINE_CRLF,      /* a line that ended in CRLF */
    LINE_LF,        /* a line that ended in a bare LF */
    LINE_TOO_LONG,  /* the line passed the limit: `line` holds its first max
                       bytes; the rest, up to and including its LF, is skipped */
};

struct linereader {
    struct buf partial;
    size_t max;       /* longest line, without its terminator */
    bool discarding;  /* inside an over-long line, skipping to its LF */
};

void linereader_init(struct linereader *r, size_t max_line);
void linereader_free(struct linereader *r);
/* Drops any partial line (after STARTTLS: nothing sent in plaintext may
 * survive into the TLS session). */
void linereader_reset(struct linereader *r);
/* True when part of a line is buffered. */
bool linereader_pending(const struct linereader *r);

/* Takes bytes from the front of *in until a line is complete, and returns its
 * status with *line set (without CR/LF; valid until the next call, or until
 * *in's memory goes away). Returns LINE_NONE when *in is used up. */
enum line_status linereader_next(struct linereader *r, struct str *in, struct str *line);

#endif
