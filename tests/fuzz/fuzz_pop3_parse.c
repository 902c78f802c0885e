/* Fuzzes the POP3 command parser with any bytes as one command line (its
 * CRLF already cut). Invariants:
 *
 * - an error has a non-empty printable reason;
 * - a line with a NUL never parses;
 * - what parses starts with its keyword (any case) followed by a space or
 *   the end; strings returned lie inside the line;
 * - PASS's argument is exactly the rest of the line after "PASS " and is
 *   never empty; USER's is 1 to POP3_USER_MAX bytes without control
 *   characters or trailing spaces; AUTH's mechanism is 0 to POP3_MECH_MAX
 *   letters, digits, '-' and '_', and an initial response only comes with
 *   one;
 * - RETR, DELE and TOP always have a message number; a command that parses
 *   gives the same result when written back in canonical form
 *   ("TOP 3 10") and parsed again.
 *
 * Seeds (corpus/pop3_parse/): realistic command lines, one per file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct str s, struct str line)
{
    return s.len == 0 || (s.p >= line.p && s.p + s.len <= line.p + line.len);
}

static bool is_mech_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static void check_canonical(const struct pop3_command *c)
{
    char again[64];
    const char *name = pop3_command_name(c->cmd);
    switch (c->cmd) {
    case POP3_CMD_TOP:
        snprintf(again, sizeof(again), "%s %u %u", name, c->msg, c->lines);
        break;
    case POP3_CMD_RETR: case POP3_CMD_DELE: case POP3_CMD_LIST: case POP3_CMD_UIDL:
        if (c->has_msg)
            snprintf(again, sizeof(again), "%s %u", name, c->msg);
        else
            snprintf(again, sizeof(again), "%s", name);
        break;
    case POP3_CMD_CAPA: case POP3_CMD_STLS: case POP3_CMD_QUIT: case POP3_CMD_STAT:
    case POP3_CMD_NOOP: case POP3_CMD_RSET:
        snprintf(again, sizeof(again), "%s", name);
        break;
    default:
        return;
    }
    struct pop3_command d;
    const char *why = NULL;
    if (pop3_parse_command(str_from_cstr(again), &d, &why) != 0 || d.cmd != c->cmd ||
        d.has_msg != c->has_msg || d.msg != c->msg || d.lines != c->lines)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str line = { (const char *)data, size };
    struct pop3_command c;
    const char *why = NULL;
    if (pop3_parse_command(line, &c, &why) != 0) {
        if (!why || !*why)
            abort();
        for (const char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        return 0;
    }
    if (size && memchr(data, '\0', size))
        abort();
    const char *name = pop3_command_name(c.cmd);
    size_t kl = strlen(name);
    if (size < kl || strncasecmp(line.p, name, kl) != 0 || (size > kl && line.p[kl] != ' '))
        abort();
    if (!inside(c.arg, line) || !inside(c.initial, line))
        abort();
    switch (c.cmd) {
    case POP3_CMD_PASS:
        if (c.arg.len == 0 || c.arg.p != line.p + 5 || c.arg.len != size - 5)
            abort();
        break;
    case POP3_CMD_USER:
        if (c.arg.len == 0 || c.arg.len > POP3_USER_MAX || c.arg.p[c.arg.len - 1] == ' ')
            abort();
        for (size_t i = 0; i < c.arg.len; i++)
            if ((unsigned char)c.arg.p[i] < 0x20 || c.arg.p[i] == 0x7f)
                abort();
        break;
    case POP3_CMD_AUTH:
        if (c.arg.len > POP3_MECH_MAX || (c.has_initial && c.arg.len == 0) ||
            (c.has_initial && c.initial.len == 0))
            abort();
        for (size_t i = 0; i < c.arg.len; i++)
            if (!is_mech_char(c.arg.p[i]))
                abort();
        break;
    case POP3_CMD_RETR: case POP3_CMD_DELE: case POP3_CMD_TOP:
        if (!c.has_msg)
            abort();
        break;
    default:
        break;
    }
    check_canonical(&c);
    return 0;
}
