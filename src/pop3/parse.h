/*
 * pop3/parse.h — parsing one POP3 command line: RFC 1939 (USER, PASS, STAT,
 * LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL, APOP), RFC 2449 (CAPA),
 * RFC 2595 (STLS) and RFC 5034 (AUTH).
 *
 * The line comes without its CRLF (or bare LF). A command is a keyword of
 * three or four letters in any case, then its arguments, each after one
 * space. We are lenient where no harm can come of it: extra spaces between
 * and after arguments are ignored, except in PASS, whose argument is the
 * rest of the line byte for byte (RFC 1939 §7 allows spaces in passwords),
 * and in USER, whose argument is the rest of the line without trailing
 * spaces.
 *
 * What the parser does not do: it knows no state (which commands are allowed
 * now), no maildrop (whether a message number exists) and no SASL (what a
 * mechanism name means); those are the engine's.
 *
 * Pure: no allocation, no I/O, no logging; what it returns points into the
 * line.
 */
#ifndef OUTPOST_POP3_PARSE_H
#define OUTPOST_POP3_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

enum pop3_cmd {
    POP3_CMD_USER,
    POP3_CMD_PASS,
    POP3_CMD_APOP,
    POP3_CMD_AUTH,
    POP3_CMD_CAPA,
    POP3_CMD_STLS,
    POP3_CMD_QUIT,
    POP3_CMD_STAT,
    POP3_CMD_LIST,
    POP3_CMD_RETR,
    POP3_CMD_DELE,
    POP3_CMD_NOOP,
    POP3_CMD_RSET,
    POP3_CMD_TOP,
    POP3_CMD_UIDL,
};

/* The longest user name USER takes, and the longest mechanism name. */
#define POP3_USER_MAX 255
#define POP3_MECH_MAX 20

struct pop3_command {
    enum pop3_cmd cmd;
    /* LIST and UIDL (optional), RETR, DELE and TOP: a message number of 0 to
     * UINT32_MAX (whether it exists, and 0 never does, is the engine's
     * question). */
    bool has_msg;
    uint32_t msg;
    /* TOP: the body lines asked for (0 to UINT32_MAX). */
    uint32_t lines;
    /* USER: the name; PASS: the password (any bytes but NUL); AUTH: the
     * mechanism (empty: "AUTH" alone, the pre-RFC 5034 request for the
     * list of mechanisms); APOP: its whole argument. */
    struct str arg;
    /* AUTH: the initial response (RFC 5034 §4), still base64; "=" is the
     * empty one. */
    bool has_initial;
    struct str initial;
};

/* Parses a line. Returns 0, or -1 with *reason_r set to a short text for
 * the client's "-ERR" (a static string). */
int pop3_parse_command(struct str line, struct pop3_command *out, const char **reason_r);

/* The keyword of a command, upper case ("RETR"). */
const char *pop3_command_name(enum pop3_cmd cmd);

#endif
