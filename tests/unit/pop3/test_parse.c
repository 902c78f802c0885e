/* The POP3 command parser: every command, its arguments, and what it
 * refuses. */
#include <stdint.h>

#include "pop3/parse.h"
#include "test.h"

static int parse(const char *line, struct pop3_command *c, const char **reason)
{
    *reason = NULL;
    return pop3_parse_command(str_from_cstr(line), c, reason);
}

static bool str_is(struct str s, const char *want)
{
    return str_eq_cstr(s, want);
}

static void test_keywords_any_case(void)
{
    struct pop3_command c;
    const char *why;
    static const struct { const char *line; enum pop3_cmd cmd; } ok[] = {
        { "CAPA", POP3_CMD_CAPA }, { "capa", POP3_CMD_CAPA }, { "StLs", POP3_CMD_STLS },
        { "QUIT", POP3_CMD_QUIT }, { "stat", POP3_CMD_STAT }, { "LIST", POP3_CMD_LIST },
        { "NOOP", POP3_CMD_NOOP }, { "RSET", POP3_CMD_RSET }, { "UIDL", POP3_CMD_UIDL },
        { "top 1 2", POP3_CMD_TOP }, { "RETR 1", POP3_CMD_RETR }, { "DELE 1", POP3_CMD_DELE },
        { "AUTH", POP3_CMD_AUTH }, { "USER a", POP3_CMD_USER }, { "PASS a", POP3_CMD_PASS },
        { "APOP a b", POP3_CMD_APOP },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CHECK_INT(parse(ok[i].line, &c, &why), 0);
        CHECK_INT(c.cmd, ok[i].cmd);
    }
    CHECK_STR(pop3_command_name(POP3_CMD_TOP), "TOP");
    CHECK_STR(pop3_command_name(POP3_CMD_RETR), "RETR");
}

static void test_unknown_and_empty(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("", &c, &why), -1);
    CHECK_STR(why, "Empty command");
    CHECK_INT(parse("XTND XMIT", &c, &why), -1);
    CHECK_STR(why, "Unknown command");
    CHECK_INT(parse("RETRX 1", &c, &why), -1);
    CHECK_INT(parse(" RETR 1", &c, &why), -1); /* a keyword starts the line */
    CHECK_INT(parse("LAST", &c, &why), -1);    /* gone since RFC 1725 */
    CHECK_INT(pop3_parse_command((struct str){ "NOOP\0", 5 }, &c, &why), -1);
    CHECK_STR(why, "NUL in the command");
}

static void test_message_numbers(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("RETR 7", &c, &why), 0);
    CHECK(c.has_msg);
    CHECK_INT(c.msg, 7);
    CHECK_INT(parse("DELE 0004", &c, &why), 0);
    CHECK_INT(c.msg, 4);
    CHECK_INT(parse("RETR 0", &c, &why), 0); /* the engine says "No such message" */
    CHECK_INT(c.msg, 0);
    CHECK_INT(parse("RETR 4294967295", &c, &why), 0);
    CHECK_INT(c.msg, UINT32_MAX);
    CHECK_INT(parse("RETR 4294967296", &c, &why), -1);
    CHECK_STR(why, "Invalid message number");
    CHECK_INT(parse("RETR 99999999999999999999999", &c, &why), -1);
    CHECK_INT(parse("RETR -1", &c, &why), -1);
    CHECK_INT(parse("RETR +1", &c, &why), -1);
    CHECK_INT(parse("RETR 1x", &c, &why), -1);
    CHECK_INT(parse("RETR", &c, &why), -1);
    CHECK_STR(why, "Missing message number");
    CHECK_INT(parse("RETR 1 2", &c, &why), -1);
    CHECK_STR(why, "Too many arguments");
    CHECK_INT(parse("DELE", &c, &why), -1);
    /* Extra spaces do no harm. */
    CHECK_INT(parse("RETR  3  ", &c, &why), 0);
    CHECK_INT(c.msg, 3);
}

static void test_list_uidl_optional(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("LIST", &c, &why), 0);
    CHECK(!c.has_msg);
    CHECK_INT(parse("LIST ", &c, &why), 0);
    CHECK(!c.has_msg);
    CHECK_INT(parse("UIDL 12", &c, &why), 0);
    CHECK(c.has_msg);
    CHECK_INT(c.msg, 12);
    CHECK_INT(parse("LIST 1 2", &c, &why), -1);
    CHECK_INT(parse("UIDL x", &c, &why), -1);
}

static void test_top(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("TOP 2 10", &c, &why), 0);
    CHECK_INT(c.msg, 2);
    CHECK_INT(c.lines, 10);
    CHECK_INT(parse("TOP 2 0", &c, &why), 0);
    CHECK_INT(c.lines, 0);
    CHECK_INT(parse("TOP 2", &c, &why), -1);
    CHECK_INT(parse("TOP", &c, &why), -1);
    CHECK_INT(parse("TOP 2 x", &c, &why), -1);
    CHECK_STR(why, "Invalid number of lines");
    CHECK_INT(parse("TOP 2 5 7", &c, &why), -1);
    CHECK_STR(why, "Too many arguments");
}

static void test_no_argument_commands(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("STAT 1", &c, &why), -1);
    CHECK_STR(why, "This command takes no arguments");
    CHECK_INT(parse("QUIT now", &c, &why), -1);
    CHECK_INT(parse("NOOP ", &c, &why), 0);
    CHECK_INT(parse("CAPA\t", &c, &why), -1); /* a tab is no separator */
}

static void test_user_and_pass(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("USER alice@example.org", &c, &why), 0);
    CHECK(str_is(c.arg, "alice@example.org"));
    CHECK_INT(parse("user alice@example.org  ", &c, &why), 0);
    CHECK(str_is(c.arg, "alice@example.org"));
    CHECK_INT(parse("USER", &c, &why), -1);
    CHECK_INT(parse("USER   ", &c, &why), -1);
    CHECK_INT(parse("USER a\x01", &c, &why), -1);
    CHECK_STR(why, "Control character in the command");
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    memcpy(longname, "USER ", 5);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_INT(parse(longname, &c, &why), -1);
    CHECK_STR(why, "User name too long");
    /* A password is every byte after "PASS ": spaces, leading ones too. */
    CHECK_INT(parse("PASS  two words ", &c, &why), 0);
    CHECK(str_is(c.arg, " two words "));
    CHECK_INT(parse("PASS tab\there", &c, &why), 0);
    CHECK(str_is(c.arg, "tab\there"));
    CHECK_INT(parse("PASS", &c, &why), -1);
    CHECK_INT(parse("PASS ", &c, &why), -1);
    CHECK_INT(pop3_parse_command((struct str){ "PASS a\0b", 8 }, &c, &why), -1);
}

static void test_auth(void)
{
    struct pop3_command c;
    const char *why;
    CHECK_INT(parse("AUTH", &c, &why), 0);
    CHECK_INT(c.arg.len, 0);
    CHECK(!c.has_initial);
    CHECK_INT(parse("AUTH PLAIN", &c, &why), 0);
    CHECK(str_is(c.arg, "PLAIN"));
    CHECK(!c.has_initial);
    CHECK_INT(parse("auth scram-sha-256 biwsbj1h", &c, &why), 0);
    CHECK(str_is(c.arg, "scram-sha-256"));
    CHECK(c.has_initial);
    CHECK(str_is(c.initial, "biwsbj1h"));
    CHECK_INT(parse("AUTH PLAIN =", &c, &why), 0);
    CHECK(str_is(c.initial, "="));
    CHECK_INT(parse("AUTH PLAIN a b", &c, &why), -1);
    CHECK_INT(parse("AUTH PL/AIN", &c, &why), -1);
    CHECK_STR(why, "Invalid mechanism name");
    CHECK_INT(parse("AUTH ABCDEFGHIJKLMNOPQRSTU", &c, &why), -1); /* 21 characters */
}

int main(void)
{
    RUN(test_keywords_any_case);
    RUN(test_unknown_and_empty);
    RUN(test_message_numbers);
    RUN(test_list_uidl_optional);
    RUN(test_top);
    RUN(test_no_argument_commands);
    RUN(test_user_and_pass);
    RUN(test_auth);
    return TEST_DONE();
}
