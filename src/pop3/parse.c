/* Parsing POP3 command lines (see parse.h). */
#include "pop3/parse.h"

#include <string.h>

static const struct {
    const char *name;
    enum pop3_cmd cmd;
} commands[] = {
    { "USER", POP3_CMD_USER }, { "PASS", POP3_CMD_PASS }, { "APOP", POP3_CMD_APOP },
    { "AUTH", POP3_CMD_AUTH }, { "CAPA", POP3_CMD_CAPA }, { "STLS", POP3_CMD_STLS },
    { "QUIT", POP3_CMD_QUIT }, { "STAT", POP3_CMD_STAT }, { "LIST", POP3_CMD_LIST },
    { "RETR", POP3_CMD_RETR }, { "DELE", POP3_CMD_DELE }, { "NOOP", POP3_CMD_NOOP },
    { "RSET", POP3_CMD_RSET }, { "TOP", POP3_CMD_TOP },   { "UIDL", POP3_CMD_UIDL },
};

const char *pop3_command_name(enum pop3_cmd cmd)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].cmd == cmd)
            return commands[i].name;
    return "?";
}

static bool is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* The next space-separated word of *rest (spaces before it skipped). */
static struct str next_word(struct str *rest)
{
    size_t i = 0;
    while (i < rest->len && rest->p[i] == ' ')
        i++;
    size_t start = i;
    while (i < rest->len && rest->p[i] != ' ')
        i++;
    struct str w = { rest->p + start, i - start };
    *rest = (struct str){ rest->p + i, rest->len - i };
    return w;
}

static bool only_spaces(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] != ' ')
            return false;
    return true;
}

/* A decimal number that fits 32 bits (leading zeros allowed, no sign). */
static int number(struct str w, uint32_t *out)
{
    unsigned long long v;
    if (w.len == 0 || w.len > 20 || str_to_u64(w, UINT32_MAX, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static bool mechanism_name(struct str w)
{
    if (w.len == 0 || w.len > POP3_MECH_MAX)
        return false;
    for (size_t i = 0; i < w.len; i++) {
        char c = w.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int pop3_parse_command(struct str line, struct pop3_command *out, const char **reason_r)
{
    memset(out, 0, sizeof(*out));
    if (line.len == 0) {
        *reason_r = "Empty command";
        return -1;
    }
    if (memchr(line.p, '\0', line.len)) {
        *reason_r = "NUL in the command";
        return -1;
    }
    size_t kw = 0;
    while (kw < line.len && line.p[kw] != ' ')
        kw++;
    struct str keyword = { line.p, kw };
    bool found = false;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (str_eq_nocase_cstr(keyword, commands[i].name)) {
            out->cmd = commands[i].cmd;
            found = true;
            break;
        }
    }
    if (!found) {
        *reason_r = "Unknown command";
        return -1;
    }
    /* What follows the one space after the keyword. */
    struct str rest = kw < line.len ? (struct str){ line.p + kw + 1, line.len - kw - 1 }
                                    : (struct str){ line.p + line.len, 0 };

    if (out->cmd == POP3_CMD_PASS) {
        /* The password is every byte after the space, spaces included. */
        if (rest.len == 0) {
            *reason_r = "PASS needs a password";
            return -1;
        }
        out->arg = rest;
        return 0;
    }
    /* Everything else is text: no control characters. */
    for (size_t i = 0; i < rest.len; i++) {
        if (is_ctl((unsigned char)rest.p[i])) {
            *reason_r = "Control character in the command";
            return -1;
        }
    }
    if (out->cmd == POP3_CMD_USER || out->cmd == POP3_CMD_APOP) {
        while (rest.len && rest.p[rest.len - 1] == ' ')
            rest.len--;
        if (rest.len == 0) {
            *reason_r = out->cmd == POP3_CMD_USER ? "USER needs a user name"
                                                  : "APOP needs a name and a digest";
            return -1;
        }
        if (out->cmd == POP3_CMD_USER && rest.len > POP3_USER_MAX) {
            *reason_r = "User name too long";
            return -1;
        }
        out->arg = rest;
        return 0;
    }

    struct str w1 = next_word(&rest);
    struct str w2 = next_word(&rest);
    bool more = !only_spaces(rest);
    switch (out->cmd) {
    case POP3_CMD_CAPA: case POP3_CMD_STLS: case POP3_CMD_QUIT: case POP3_CMD_STAT:
    case POP3_CMD_NOOP: case POP3_CMD_RSET:
        if (w1.len) {
            *reason_r = "This command takes no arguments";
            return -1;
        }
        return 0;
    case POP3_CMD_LIST: case POP3_CMD_UIDL:
        if (w2.len) {
            *reason_r = "Too many arguments";
            return -1;
        }
        if (w1.len) {
            if (number(w1, &out->msg) < 0) {
                *reason_r = "Invalid message number";
                return -1;
            }
            out->has_msg = true;
        }
        return 0;
    case POP3_CMD_RETR: case POP3_CMD_DELE:
        if (!w1.len) {
            *reason_r = "Missing message number";
            return -1;
        }
        if (w2.len) {
            *reason_r = "Too many arguments";
            return -1;
        }
        if (number(w1, &out->msg) < 0) {
            *reason_r = "Invalid message number";
            return -1;
        }
        out->has_msg = true;
        return 0;
    case POP3_CMD_TOP:
        if (!w1.len || !w2.len) {
            *reason_r = "TOP needs a message number and a number of lines";
            return -1;
        }
        if (more) {
            *reason_r = "Too many arguments";
            return -1;
        }
        if (number(w1, &out->msg) < 0) {
            *reason_r = "Invalid message number";
            return -1;
        }
        if (number(w2, &out->lines) < 0) {
            *reason_r = "Invalid number of lines";
            return -1;
        }
        out->has_msg = true;
        return 0;
    case POP3_CMD_AUTH:
        if (more) {
            *reason_r = "Too many arguments";
            return -1;
        }
        if (w1.len && !mechanism_name(w1)) {
            *reason_r = "Invalid mechanism name";
            return -1;
        }
        out->arg = w1;
        if (w2.len) {
            out->has_initial = true;
            out->initial = w2;
        }
        return 0;
    default:
        break;
    }
    *reason_r = "Unknown command";
    return -1;
}
