/*
 * Unit tests for smtp/parse.c: command lines, paths (RFC 5321 §4.1.2 with
 * RFC 6531 UTF-8), the ESMTP parameters of MAIL and RCPT, BDAT and HELO
 * arguments, and xtext. Byte strings with a NUL give their length; the rest
 * are C strings. A hex escape is closed with "" before a letter a-f (as in
 * "\xc3\xbc" "cher").
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "smtp/parse.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define ALL 0x7fu /* every SMTP_EXT_ bit */

static struct str in_str(const char *s, size_t len)
{
    return (struct str){ s, len ? len : strlen(s) };
}

static void show(size_t i, const char *in, size_t len, int before)
{
    if (test_failures == before)
        return;
    struct str s = in_str(in, len);
    fprintf(stderr, "  in case %zu: \"", i);
    for (size_t k = 0; k < s.len; k++) {
        unsigned char c = (unsigned char)s.p[k];
        if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"\n");
}

/* ---- command lines ---- */

static const struct {
    const char *line;
    size_t len;
    int code; /* 0: accepted */
    const char *enh;
    enum smtp_verb verb;
    const char *arg;
} command_cases[] = {
    /* Every verb, with and without an argument, in any case. */
    { "HELO mx.example.com", 0, 0, NULL, SMTP_VERB_HELO, "mx.example.com" },
    { "helo mx.example.com", 0, 0, NULL, SMTP_VERB_HELO, "mx.example.com" },
    { "EHLO mx.example.com", 0, 0, NULL, SMTP_VERB_EHLO, "mx.example.com" },
    { "eHlO [192.0.2.1]", 0, 0, NULL, SMTP_VERB_EHLO, "[192.0.2.1]" },
    { "EHLO", 0, 0, NULL, SMTP_VERB_EHLO, "" },
    { "MAIL FROM:<a@b.example>", 0, 0, NULL, SMTP_VERB_MAIL, "<a@b.example>" },
    { "mail from:<a@b.example> SIZE=10", 0, 0, NULL, SMTP_VERB_MAIL, "<a@b.example> SIZE=10" },
    { "Mail From:<>", 0, 0, NULL, SMTP_VERB_MAIL, "<>" },
    { "MAIL FROM: <a@b.example>", 0, 0, NULL, SMTP_VERB_MAIL, "<a@b.example>" },
    { "MAIL FROM:   <a@b.example>  ", 0, 0, NULL, SMTP_VERB_MAIL, "<a@b.example>" },
    { "MAIL  FROM:<a@b.example>", 0, 0, NULL, SMTP_VERB_MAIL, "<a@b.example>" },
    { "MAIL FROM:", 0, 0, NULL, SMTP_VERB_MAIL, "" },
    { "MAIL FROM:a@b.example", 0, 0, NULL, SMTP_VERB_MAIL, "a@b.example" },
    { "RCPT TO:<a@b.example>", 0, 0, NULL, SMTP_VERB_RCPT, "<a@b.example>" },
    { "rcpt to:<a@b.example>", 0, 0, NULL, SMTP_VERB_RCPT, "<a@b.example>" },
    { "RCPT To: <a@b.example> NOTIFY=NEVER", 0, 0, NULL, SMTP_VERB_RCPT,
      "<a@b.example> NOTIFY=NEVER" },
    { "RCPT TO:<Postmaster>", 0, 0, NULL, SMTP_VERB_RCPT, "<Postmaster>" },
    { "DATA", 0, 0, NULL, SMTP_VERB_DATA, "" },
    { "data", 0, 0, NULL, SMTP_VERB_DATA, "" },
    { "DATA   ", 0, 0, NULL, SMTP_VERB_DATA, "" },
    { "DATA extra", 0, 0, NULL, SMTP_VERB_DATA, "extra" },
    { "BDAT 100 LAST", 0, 0, NULL, SMTP_VERB_BDAT, "100 LAST" },
    { "bdat 0", 0, 0, NULL, SMTP_VERB_BDAT, "0" },
    { "RSET", 0, 0, NULL, SMTP_VERB_RSET, "" },
    { "rset", 0, 0, NULL, SMTP_VERB_RSET, "" },
    { "NOOP", 0, 0, NULL, SMTP_VERB_NOOP, "" },
    { "NOOP hello  world ", 0, 0, NULL, SMTP_VERB_NOOP, "hello  world" },
    { "QUIT", 0, 0, NULL, SMTP_VERB_QUIT, "" },
    { "quit  ", 0, 0, NULL, SMTP_VERB_QUIT, "" },
    { "VRFY postmaster", 0, 0, NULL, SMTP_VERB_VRFY, "postmaster" },
    { "EXPN staff", 0, 0, NULL, SMTP_VERB_EXPN, "staff" },
    { "HELP", 0, 0, NULL, SMTP_VERB_HELP, "" },
    { "help mail", 0, 0, NULL, SMTP_VERB_HELP, "mail" },
    { "STARTTLS", 0, 0, NULL, SMTP_VERB_STARTTLS, "" },
    { "StartTls", 0, 0, NULL, SMTP_VERB_STARTTLS, "" },
    { "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=", 0, 0, NULL, SMTP_VERB_AUTH,
      "PLAIN dGVzdAB0ZXN0AHRlc3Q=" },
    { "auth login", 0, 0, NULL, SMTP_VERB_AUTH, "login" },
    { "EHLO    mx.example.com   ", 0, 0, NULL, SMTP_VERB_EHLO, "mx.example.com" },
    /* UTF-8 is the argument's business. */
    { "EHLO b\xc3\xbc" "cher.example", 0, 0, NULL, SMTP_VERB_EHLO, "b\xc3\xbc" "cher.example" },
    /* MAIL without FROM:, RCPT without TO:. */
    { "MAIL", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "MAIL   ", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "MAIL TO:<a@b.example>", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "MAIL FROM <a@b.example>", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "MAIL FROM :<a@b.example>", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "MAIL <a@b.example>", 0, 501, "5.5.4", SMTP_VERB_MAIL, NULL },
    { "RCPT", 0, 501, "5.5.4", SMTP_VERB_RCPT, NULL },
    { "RCPT FROM:<a@b.example>", 0, 501, "5.5.4", SMTP_VERB_RCPT, NULL },
    { "RCPT T:<a@b.example>", 0, 501, "5.5.4", SMTP_VERB_RCPT, NULL },
    /* Unknown verbs. */
    { "", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { " ", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { " NOOP", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "FOO bar", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "NOOPX", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "NOO", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "MAILFROM:<a@b.example>", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "MAIL:FROM:<a@b.example>", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "START TLS", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "\xc3\x89HLO x", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    { "GET / HTTP/1.1", 0, 500, "5.5.1", SMTP_VERB_UNKNOWN, NULL },
    /* NUL and control bytes anywhere. */
    { "NOOP\0", 5, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "\0NOOP", 5, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "MAIL FROM:<a@b\0.example>", 24, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "NOOP\tx", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "EHLO\tmx.example.com", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "NOOP \x7f", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "QUIT\r", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "RCPT TO:<a@b.example>\x1b[0m", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
    { "FOO\x01", 0, 500, "5.5.2", SMTP_VERB_UNKNOWN, NULL },
};

static void test_command(void)
{
    for (size_t i = 0; i < N(command_cases); i++) {
        int before = test_failures;
        struct str line = in_str(command_cases[i].line, command_cases[i].len);
        struct smtp_command c;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_command(line, &c, &e);
        if (!command_cases[i].code) {
            CHECK_INT(r, 0);
            CHECK_INT(c.verb, command_cases[i].verb);
            CHECK(str_eq_cstr(c.arg, command_cases[i].arg));
            /* The argument points into the line. */
            CHECK(c.arg.p >= line.p && c.arg.p + c.arg.len <= line.p + line.len);
        } else {
            CHECK_INT(r, -1);
            CHECK_INT(e.code, command_cases[i].code);
            CHECK_STR(e.enhanced, command_cases[i].enh);
            CHECK(e.text && *e.text);
        }
        show(i, command_cases[i].line, command_cases[i].len, before);
    }
}

/* ---- paths ---- */

/* Flags of a path case. */
#define NUL_PATH 1u
#define PM 2u
#define U8 4u

static const struct {
    const char *arg;
    size_t len;
    unsigned ext;
    int code; /* 0: accepted */
    const char *enh;
    const char *address, *local, *domain;
    unsigned flags;
} mail_path_cases[] = {
    { "<user@example.com>", 0, ALL, 0, NULL, "user@example.com", "user", "example.com", 0 },
    { "<user@example.com>", 0, 0, 0, NULL, "user@example.com", "user", "example.com", 0 },
    { "<>", 0, ALL, 0, NULL, "", "", "", NUL_PATH },
    { "<> SIZE=100", 0, ALL, 0, NULL, "", "", "", NUL_PATH },
    { " <user@example.com>", 0, ALL, 0, NULL, "user@example.com", "user", "example.com", 0 },
    { "<User.Name+tag@Sub.Example.COM>", 0, ALL, 0, NULL, "User.Name+tag@Sub.Example.COM",
      "User.Name+tag", "Sub.Example.COM", 0 },
    { "<!#$%&'*+-/=?^_`{|}~@example.com>", 0, ALL, 0, NULL, "!#$%&'*+-/=?^_`{|}~@example.com",
      "!#$%&'*+-/=?^_`{|}~", "example.com", 0 },
    { "<a.b.c@example.com>", 0, ALL, 0, NULL, "a.b.c@example.com", "a.b.c", "example.com", 0 },
    /* Quoted local parts keep their quotes and escapes. */
    { "<\"john doe\"@example.com>", 0, ALL, 0, NULL, "\"john doe\"@example.com", "\"john doe\"",
      "example.com", 0 },
    { "<\"a\\\"b\\\\c\"@example.com>", 0, ALL, 0, NULL, "\"a\\\"b\\\\c\"@example.com",
      "\"a\\\"b\\\\c\"", "example.com", 0 },
    { "<\"\"@example.com>", 0, ALL, 0, NULL, "\"\"@example.com", "\"\"", "example.com", 0 },
    { "<\"a@b>c\"@example.com>", 0, ALL, 0, NULL, "\"a@b>c\"@example.com", "\"a@b>c\"",
      "example.com", 0 },
    { "<\"\\ \"@example.com>", 0, ALL, 0, NULL, "\"\\ \"@example.com", "\"\\ \"", "example.com",
      0 },
    /* Domains. */
    { "<user@localhost>", 0, ALL, 0, NULL, "user@localhost", "user", "localhost", 0 },
    { "<user@xn--bcher-kva.example>", 0, ALL, 0, NULL, "user@xn--bcher-kva.example", "user",
      "xn--bcher-kva.example", 0 },
    { "<user@a-b--c.example>", 0, ALL, 0, NULL, "user@a-b--c.example", "user", "a-b--c.example",
      0 },
    { "<user@123.example>", 0, ALL, 0, NULL, "user@123.example", "user", "123.example", 0 },
    /* Address literals. */
    { "<user@[192.0.2.1]>", 0, ALL, 0, NULL, "user@[192.0.2.1]", "user", "[192.0.2.1]", 0 },
    { "<user@[255.255.255.255]>", 0, ALL, 0, NULL, "user@[255.255.255.255]", "user",
      "[255.255.255.255]", 0 },
    { "<user@[010.0.0.001]>", 0, ALL, 0, NULL, "user@[010.0.0.001]", "user", "[010.0.0.001]", 0 },
    { "<user@[IPv6:2001:db8::1]>", 0, ALL, 0, NULL, "user@[IPv6:2001:db8::1]", "user",
      "[IPv6:2001:db8::1]", 0 },
    { "<user@[IPv6:2001:DB8:0:0:0:0:0:1]>", 0, ALL, 0, NULL, "user@[IPv6:2001:DB8:0:0:0:0:0:1]",
      "user", "[IPv6:2001:DB8:0:0:0:0:0:1]", 0 },
    { "<user@[IPv6:::1]>", 0, ALL, 0, NULL, "user@[IPv6:::1]", "user", "[IPv6:::1]", 0 },
    { "<user@[IPv6:::]>", 0, ALL, 0, NULL, "user@[IPv6:::]", "user", "[IPv6:::]", 0 },
    { "<user@[IPv6:fe80::]>", 0, ALL, 0, NULL, "user@[IPv6:fe80::]", "user", "[IPv6:fe80::]", 0 },
    { "<user@[ipv6:::ffff:192.0.2.1]>", 0, ALL, 0, NULL, "user@[ipv6:::ffff:192.0.2.1]", "user",
      "[ipv6:::ffff:192.0.2.1]", 0 },
    { "<user@[IPv6:1:2:3:4:5:6:192.0.2.1]>", 0, ALL, 0, NULL,
      "user@[IPv6:1:2:3:4:5:6:192.0.2.1]", "user", "[IPv6:1:2:3:4:5:6:192.0.2.1]", 0 },
    { "<user@[IPv6:1::5:6:192.0.2.1]>", 0, ALL, 0, NULL, "user@[IPv6:1::5:6:192.0.2.1]", "user",
      "[IPv6:1::5:6:192.0.2.1]", 0 },
    /* "::" for a single group: RFC 4291 allows it, RFC 5321's grammar does not. */
    { "<user@[IPv6:1:2:3:4:5:6:7::]>", 0, ALL, 0, NULL, "user@[IPv6:1:2:3:4:5:6:7::]", "user",
      "[IPv6:1:2:3:4:5:6:7::]", 0 },
    { "<user@[x-tag:any:content!]>", 0, ALL, 0, NULL, "user@[x-tag:any:content!]", "user",
      "[x-tag:any:content!]", 0 },
    /* Source routes are dropped. */
    { "<@relay.example:user@example.com>", 0, ALL, 0, NULL, "user@example.com", "user",
      "example.com", 0 },
    { "<@a.example,@b.example:user@example.com>", 0, ALL, 0, NULL, "user@example.com", "user",
      "example.com", 0 },
    /* UTF-8 with SMTPUTF8. */
    { "<j\xc3\xb6ran@example.com> SMTPUTF8", 0, ALL, 0, NULL, "j\xc3\xb6ran@example.com",
      "j\xc3\xb6ran", "example.com", U8 },
    { "<user@b\xc3\xbc" "cher.example> smtputf8", 0, ALL, 0, NULL,
      "user@b\xc3\xbc" "cher.example", "user", "b\xc3\xbc" "cher.example", U8 },
    { "<user@\xc3\xbc-x.\xe4\xbe\x8b\xe5\xad\x90> SMTPUTF8", 0, ALL, 0, NULL,
      "user@\xc3\xbc-x.\xe4\xbe\x8b\xe5\xad\x90", "user", "\xc3\xbc-x.\xe4\xbe\x8b\xe5\xad\x90",
      U8 },
    { "<\"j\xc3\xb6 ran\"@example.com> SMTPUTF8", 0, ALL, 0, NULL,
      "\"j\xc3\xb6 ran\"@example.com", "\"j\xc3\xb6 ran\"", "example.com", U8 },
    { "<\xf0\x9f\x98\x80@example.com> SMTPUTF8", 0, ALL, 0, NULL, "\xf0\x9f\x98\x80@example.com",
      "\xf0\x9f\x98\x80", "example.com", U8 },
    { "<@b\xc3\xbc" "cher.example:user@example.com> SMTPUTF8", 0, ALL, 0, NULL,
      "user@example.com", "user", "example.com", U8 },
    { "<> SMTPUTF8", 0, ALL, 0, NULL, "", "", "", NUL_PATH },
    /* Non-ASCII without SMTPUTF8, whatever the bytes. */
    { "<j\xc3\xb6ran@example.com>", 0, ALL, 553, "5.6.7", NULL, NULL, NULL, 0 },
    { "<user@b\xc3\xbc" "cher.example> SIZE=10", 0, ALL, 553, "5.6.7", NULL, NULL, NULL, 0 },
    { "<j\xffran@example.com>", 0, ALL, 553, "5.6.7", NULL, NULL, NULL, 0 },
    /* SMTPUTF8 not offered. */
    { "<j\xc3\xb6ran@example.com> SMTPUTF8", 0, ALL & ~SMTP_EXT_SMTPUTF8, 555, "5.5.4", NULL,
      NULL, NULL, 0 },
    /* Ill-formed UTF-8 with SMTPUTF8 is a syntax error. */
    { "<j\xffran@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xc3@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xc0\xafn@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xe0\x80\xafn@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xed\xa0\x80n@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xf4\x90\x80\x80n@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<j\xf8\x88\x80\x80\x80n@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL,
      0 },
    { "<user@b\x80" "cher.example> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"j\xc3\" x\"@example.com> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    /* ... and never allowed in address literals. */
    { "<user@[IPv6:\xc3\xa9::1]> SMTPUTF8", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    /* Malformed paths. */
    { "", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "   ", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "user@example.com", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "user@example.com SIZE=10", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com SIZE=10", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "< >", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "< user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com >", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<<user@example.com>>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<Postmaster>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com.>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example..com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@.example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@-example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example-.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@exa_mple.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<.user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user.@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<us..er@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<us er@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<us(er@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"unterminated@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"a\"b@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"a\\\x01\"@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"a\x01\"@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\"a\\", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2.256]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2.1.5]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[1920.0.2.1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2.]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2.1>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[192.0.2.1]x>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:2001:db8::1::2]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:1:2:3:4:5:6:7]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:1:2:3:4:5:6:7:8::]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:12345::1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:::1:]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6::1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:1:::2]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:g::1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:192.0.2.1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:192.0.2.1::]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:1:2:3:4:5:6:7:192.0.2.1]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[IPv6:]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[tag:]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[:x]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[tag-:x]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[t_g:x]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[tag:a b]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[tag:a\\b]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@[tag:a[b]>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@relay.example user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@relay.example,user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@relay.example,:user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@:user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@relay.example:>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@[192.0.2.1]:user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<@relay.example.:user@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    /* NUL and control bytes. */
    { "<user@exa\0mple.com>", 19, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<us\0er@example.com>", 19, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<\0>", 3, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com\x01>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<us\ter@example.com>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    { "<user@example.com\x7f>", 0, ALL, 501, "5.1.7", NULL, NULL, NULL, 0 },
    /* Something after the path that is not a parameter. */
    { "<user@example.com>x", 0, ALL, 501, "5.5.4", NULL, NULL, NULL, 0 },
    { "<user@example.com><x@example.com>", 0, ALL, 501, "5.5.4", NULL, NULL, NULL, 0 },
    { "<>SIZE=10", 0, ALL, 501, "5.5.4", NULL, NULL, NULL, 0 },
};

static void check_path(const struct smtp_path *p, const char *address, const char *local,
                       const char *domain, unsigned flags)
{
    CHECK_STR(p->address, address);
    CHECK_STR(p->local, local);
    CHECK_STR(p->domain, domain);
    CHECK_INT(p->null, !!(flags & NUL_PATH));
    CHECK_INT(p->postmaster, !!(flags & PM));
    CHECK_INT(p->utf8, !!(flags & U8));
}

static void test_mail_paths(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < N(mail_path_cases); i++) {
        int before = test_failures;
        struct smtp_mail_args m;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_mail(a, in_str(mail_path_cases[i].arg, mail_path_cases[i].len),
                                mail_path_cases[i].ext, &m, &e);
        if (!mail_path_cases[i].code) {
            CHECK_INT(r, 0);
            check_path(&m.path, mail_path_cases[i].address, mail_path_cases[i].local,
                       mail_path_cases[i].domain, mail_path_cases[i].flags);
        } else {
            CHECK_INT(r, -1);
            CHECK_INT(e.code, mail_path_cases[i].code);
            CHECK_STR(e.enhanced, mail_path_cases[i].enh);
            CHECK(e.text && *e.text);
        }
        show(i, mail_path_cases[i].arg, mail_path_cases[i].len, before);
    }
    arena_free(a);
}

/* ---- MAIL parameters ---- */

static const struct {
    const char *arg;
    size_t len;
    unsigned ext;
    int code;
    const char *enh;
    /* when accepted: */
    bool has_size;
    uint64_t size;
    enum smtp_body body;
    bool smtputf8;
    enum smtp_ret ret;
    const char *envid;
    bool requiretls;
    const char *auth;
} mail_param_cases[] = {
#define OK 0, NULL
#define BAD(code, enh) code, enh, false, 0, 0, false, 0, NULL, false, NULL
    { "<a@b.example>", 0, ALL, OK, false, 0, 0, false, 0, NULL, false, NULL },
    { "<a@b.example>", 0, 0, OK, false, 0, 0, false, 0, NULL, false, NULL },
    { "<a@b.example>     ", 0, 0, OK, false, 0, 0, false, 0, NULL, false, NULL },
    /* SIZE (RFC 1870) */
    { "<a@b.example> SIZE=0", 0, SMTP_EXT_SIZE, OK, true, 0, 0, false, 0, NULL, false, NULL },
    { "<a@b.example> SIZE=12345", 0, ALL, OK, true, 12345, 0, false, 0, NULL, false, NULL },
    { "<a@b.example> size=12345", 0, ALL, OK, true, 12345, 0, false, 0, NULL, false, NULL },
    { "<a@b.example> Size=000123", 0, ALL, OK, true, 123, 0, false, 0, NULL, false, NULL },
    { "<a@b.example> SIZE=18446744073709551615", 0, ALL, OK, true, UINT64_MAX, 0, false, 0,
      NULL, false, NULL },
    { "<a@b.example> SIZE=18446744073709551616", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=12a", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=-1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=+1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1 SIZE=2", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1 size=1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1", 0, ALL & ~SMTP_EXT_SIZE, BAD(555, "5.5.4") },
    /* BODY (RFC 6152, RFC 3030) */
    { "<a@b.example> BODY=7BIT", 0, SMTP_EXT_8BITMIME, OK, false, 0, SMTP_BODY_7BIT, false, 0,
      NULL, false, NULL },
    { "<a@b.example> BODY=7bit", 0, SMTP_EXT_BINARYMIME, OK, false, 0, SMTP_BODY_7BIT, false, 0,
      NULL, false, NULL },
    { "<a@b.example> body=8bitmime", 0, SMTP_EXT_8BITMIME, OK, false, 0, SMTP_BODY_8BITMIME,
      false, 0, NULL, false, NULL },
    { "<a@b.example> BODY=BINARYMIME", 0, SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, OK, false, 0,
      SMTP_BODY_BINARYMIME, false, 0, NULL, false, NULL },
    { "<a@b.example> BODY=BinaryMime", 0, ALL, OK, false, 0, SMTP_BODY_BINARYMIME, false, 0,
      NULL, false, NULL },
    { "<a@b.example> BODY=BINARYMIME", 0, SMTP_EXT_8BITMIME, BAD(555, "5.5.4") },
    { "<a@b.example> BODY=8BITMIME", 0, SMTP_EXT_BINARYMIME, BAD(555, "5.5.4") },
    { "<a@b.example> BODY=7BIT", 0, ALL & ~(SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME),
      BAD(555, "5.5.4") },
    { "<a@b.example> BODY=8BIT", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> BODY=", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> BODY", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> BODY=7BIT BODY=8BITMIME", 0, ALL, BAD(501, "5.5.4") },
    /* SMTPUTF8 (RFC 6531) */
    { "<a@b.example> SMTPUTF8", 0, SMTP_EXT_SMTPUTF8, OK, false, 0, 0, true, 0, NULL, false,
      NULL },
    { "<a@b.example> smtputf8", 0, ALL, OK, false, 0, 0, true, 0, NULL, false, NULL },
    { "<a@b.example> SMTPUTF8=yes", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SMTPUTF8=", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SMTPUTF8 SMTPUTF8", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SMTPUTF8", 0, ALL & ~SMTP_EXT_SMTPUTF8, BAD(555, "5.5.4") },
    /* RET and ENVID (RFC 3461) */
    { "<a@b.example> RET=FULL", 0, SMTP_EXT_DSN, OK, false, 0, 0, false, SMTP_RET_FULL, NULL,
      false, NULL },
    { "<a@b.example> ret=hdrs", 0, ALL, OK, false, 0, 0, false, SMTP_RET_HDRS, NULL, false,
      NULL },
    { "<a@b.example> RET=ALL", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> RET", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> RET=FULL RET=HDRS", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> RET=FULL", 0, ALL & ~SMTP_EXT_DSN, BAD(555, "5.5.4") },
    { "<a@b.example> ENVID=QQ314159", 0, SMTP_EXT_DSN, OK, false, 0, 0, false, 0, "QQ314159",
      false, NULL },
    { "<a@b.example> envid=a+2Bb+3Dc+20d", 0, ALL, OK, false, 0, 0, false, 0, "a+b=c d", false,
      NULL },
    { "<a@b.example> ENVID=a+2bb", 0, ALL, OK, false, 0, 0, false, 0, "a+b", false, NULL },
    { "<a@b.example> ENVID=a+0Ab", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=a+00", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=a+2", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=a+", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=a+ZZ", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=caf+C3+A9", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=caf\xc3\xa9", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=a=b", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=x ENVID=y", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> ENVID=x", 0, ALL & ~SMTP_EXT_DSN, BAD(555, "5.5.4") },
    /* REQUIRETLS (RFC 8689) */
    { "<a@b.example> REQUIRETLS", 0, SMTP_EXT_REQUIRETLS, OK, false, 0, 0, false, 0, NULL, true,
      NULL },
    { "<a@b.example> requiretls", 0, ALL, OK, false, 0, 0, false, 0, NULL, true, NULL },
    { "<a@b.example> REQUIRETLS=YES", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> REQUIRETLS REQUIRETLS", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> REQUIRETLS", 0, ALL & ~SMTP_EXT_REQUIRETLS, BAD(555, "5.5.4") },
    /* AUTH= (RFC 4954) */
    { "<a@b.example> AUTH=<>", 0, SMTP_EXT_AUTH, OK, false, 0, 0, false, 0, NULL, false, "<>" },
    { "<a@b.example> auth=user+40example.com", 0, ALL, OK, false, 0, 0, false, 0, NULL, false,
      "user@example.com" },
    { "<a@b.example> AUTH=e+3Dmc2@example.com", 0, ALL, OK, false, 0, 0, false, 0, NULL, false,
      "e=mc2@example.com" },
    { "<a@b.example> AUTH=j+C3+B6@example.com", 0, ALL, OK, false, 0, 0, false, 0, NULL, false,
      "j\xc3\xb6@example.com" },
    { "<a@b.example> AUTH=a=b", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=a+0D+0Ab", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=a+7F", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=a+", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=<> AUTH=<>", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> AUTH=<>", 0, ALL & ~SMTP_EXT_AUTH, BAD(555, "5.5.4") },
    /* Unknown parameters, and RCPT's on MAIL. */
    { "<a@b.example> FOO=bar", 0, ALL, BAD(555, "5.5.4") },
    { "<a@b.example> X-FOO", 0, ALL, BAD(555, "5.5.4") },
    { "<a@b.example> NOTIFY=NEVER", 0, ALL, BAD(555, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a@b.example", 0, ALL, BAD(555, "5.5.4") },
    { "<a@b.example> SIZE=1 FOO", 0, ALL, BAD(555, "5.5.4") },
    { "<a@b.example> FOO SIZE=x", 0, ALL, BAD(555, "5.5.4") },
    /* Malformed parameters. */
    { "<a@b.example> =x", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> -X", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> S_IZE=1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE==1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> \xc3\xa9=1", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1\x01", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1\0", 22, ALL, BAD(501, "5.5.4") },
    { "<a@b.example> SIZE=1\tBODY=7BIT", 0, ALL, BAD(501, "5.5.4") },
    { "<a@b.example>SIZE=1", 0, ALL, BAD(501, "5.5.4") },
    /* Many spaces, and everything at once. */
    { "<a@b.example>   SIZE=1    BODY=8BITMIME   SMTPUTF8  ", 0, ALL, OK, true, 1,
      SMTP_BODY_8BITMIME, true, 0, NULL, false, NULL },
    { "<a@b.example> SIZE=1 BODY=BINARYMIME SMTPUTF8 RET=HDRS ENVID=x+2By REQUIRETLS AUTH=<>", 0,
      ALL, OK, true, 1, SMTP_BODY_BINARYMIME, true, SMTP_RET_HDRS, "x+y", true, "<>" },
    /* The path is checked before the parameters. */
    { "<a@b.example FOO=1", 0, ALL, BAD(501, "5.1.7") },
#undef OK
#undef BAD
};

static void test_mail_params(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < N(mail_param_cases); i++) {
        int before = test_failures;
        struct smtp_mail_args m;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_mail(a, in_str(mail_param_cases[i].arg, mail_param_cases[i].len),
                                mail_param_cases[i].ext, &m, &e);
        if (!mail_param_cases[i].code) {
            CHECK_INT(r, 0);
            CHECK_STR(m.path.address, "a@b.example");
            CHECK_INT(m.has_size, mail_param_cases[i].has_size);
            CHECK(m.size == mail_param_cases[i].size);
            CHECK_INT(m.body, mail_param_cases[i].body);
            CHECK_INT(m.smtputf8, mail_param_cases[i].smtputf8);
            CHECK_INT(m.ret, mail_param_cases[i].ret);
            if (mail_param_cases[i].envid)
                CHECK_STR(m.envid, mail_param_cases[i].envid);
            else
                CHECK(m.envid == NULL);
            CHECK_INT(m.requiretls, mail_param_cases[i].requiretls);
            if (mail_param_cases[i].auth)
                CHECK_STR(m.auth, mail_param_cases[i].auth);
            else
                CHECK(m.auth == NULL);
        } else {
            CHECK_INT(r, -1);
            CHECK_INT(e.code, mail_param_cases[i].code);
            CHECK_STR(e.enhanced, mail_param_cases[i].enh);
            CHECK(e.text && *e.text);
        }
        show(i, mail_param_cases[i].arg, mail_param_cases[i].len, before);
    }
    arena_free(a);
}

/* ---- RCPT ---- */

static const struct {
    const char *arg;
    size_t len;
    unsigned ext;
    bool smtputf8;
    int code;
    const char *enh;
    const char *address, *domain;
    unsigned flags;
    unsigned notify;
    const char *orcpt_type, *orcpt;
} rcpt_cases[] = {
#define RBAD(code, enh) code, enh, NULL, NULL, 0, 0, NULL, NULL
    { "<user@example.com>", 0, ALL, false, 0, NULL, "user@example.com", "example.com", 0, 0,
      NULL, NULL },
    { "<user@example.com>", 0, 0, false, 0, NULL, "user@example.com", "example.com", 0, 0, NULL,
      NULL },
    { "<@relay.example:user@example.com>", 0, ALL, false, 0, NULL, "user@example.com",
      "example.com", 0, 0, NULL, NULL },
    /* <Postmaster> without a domain, in any case. */
    { "<Postmaster>", 0, ALL, false, 0, NULL, "Postmaster", "", PM, 0, NULL, NULL },
    { "<postmaster>", 0, ALL, false, 0, NULL, "postmaster", "", PM, 0, NULL, NULL },
    { "<POSTMASTER> NOTIFY=NEVER", 0, ALL, false, 0, NULL, "POSTMASTER", "", PM, 1, NULL, NULL },
    { "<postmaster@example.com>", 0, ALL, false, 0, NULL, "postmaster@example.com",
      "example.com", 0, 0, NULL, NULL },
    { "<@relay.example:Postmaster>", 0, ALL, false, RBAD(501, "5.1.3") },
    { "<\"Postmaster\">", 0, ALL, false, RBAD(501, "5.1.3") },
    { "<postmasterx>", 0, ALL, false, RBAD(501, "5.1.3") },
    { "<Postmaster >", 0, ALL, false, RBAD(501, "5.1.3") },
    { "Postmaster", 0, ALL, false, RBAD(501, "5.1.3") },
    /* <> is not a recipient; a path needs its brackets. */
    { "<>", 0, ALL, false, RBAD(501, "5.1.3") },
    { "", 0, ALL, false, RBAD(501, "5.1.3") },
    { "user@example.com", 0, ALL, false, RBAD(501, "5.1.3") },
    { "<user@example.com", 0, ALL, false, RBAD(501, "5.1.3") },
    { "<user@exa\0mple.com>", 19, ALL, false, RBAD(501, "5.1.3") },
    { "<user@example.com>x", 0, ALL, false, RBAD(501, "5.5.4") },
    /* NOTIFY */
    { "<a@b.example> NOTIFY=NEVER", 0, SMTP_EXT_DSN, false, 0, NULL, "a@b.example", "b.example",
      0, SMTP_NOTIFY_NEVER, NULL, NULL },
    { "<a@b.example> NOTIFY=SUCCESS,FAILURE", 0, ALL, false, 0, NULL, "a@b.example",
      "b.example", 0, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, NULL, NULL },
    { "<a@b.example> notify=delay,Success", 0, ALL, false, 0, NULL, "a@b.example", "b.example",
      0, SMTP_NOTIFY_DELAY | SMTP_NOTIFY_SUCCESS, NULL, NULL },
    { "<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY", 0, ALL, false, 0, NULL, "a@b.example",
      "b.example", 0, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY, NULL, NULL },
    { "<a@b.example> NOTIFY=failure,failure", 0, ALL, false, 0, NULL, "a@b.example",
      "b.example", 0, SMTP_NOTIFY_FAILURE, NULL, NULL },
    { "<a@b.example> NOTIFY=never", 0, ALL, false, 0, NULL, "a@b.example", "b.example", 0,
      SMTP_NOTIFY_NEVER, NULL, NULL },
    { "<a@b.example> NOTIFY=NEVER,SUCCESS", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=DELAY,NEVER", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=NEVER,NEVER", 0, ALL, false, 0, NULL, "a@b.example", "b.example", 0,
      SMTP_NOTIFY_NEVER, NULL, NULL },
    { "<a@b.example> NOTIFY=", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=SUCCESS,", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=,SUCCESS", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=SUCCESS,,DELAY", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=SOMETIMES", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=SUCCESS NOTIFY=DELAY", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> NOTIFY=NEVER", 0, ALL & ~SMTP_EXT_DSN, false, RBAD(555, "5.5.4") },
    /* ORCPT */
    { "<a@b.example> ORCPT=rfc822;a@b.example", 0, SMTP_EXT_DSN, false, 0, NULL, "a@b.example",
      "b.example", 0, 0, "rfc822", "a@b.example" },
    { "<a@b.example> orcpt=RFC822;user+2Btag@example.com", 0, ALL, false, 0, NULL,
      "a@b.example", "b.example", 0, 0, "RFC822", "user+tag@example.com" },
    { "<a@b.example> ORCPT=utf-8;j\\x{00F6}ran@example.com", 0, ALL, false, 0, NULL,
      "a@b.example", "b.example", 0, 0, "utf-8", "j\\x{00F6}ran@example.com" },
    { "<a@b.example> ORCPT=rfc822;+22a+20b+22@example.com", 0, ALL, false, 0, NULL,
      "a@b.example", "b.example", 0, 0, "rfc822", "\"a b\"@example.com" },
    { "<a@b.example> ORCPT=rfc822", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=;a@b.example", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rf(c;a@b.example", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a+0Ab", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a+", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a+C3+A9", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a=b", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a@b ORCPT=rfc822;c@d", 0, ALL, false, RBAD(501, "5.5.4") },
    { "<a@b.example> ORCPT=rfc822;a@b.example", 0, ALL & ~SMTP_EXT_DSN, false, RBAD(555, "5.5.4") },
    /* Both, many spaces. */
    { "<a@b.example>  NOTIFY=NEVER   ORCPT=rfc822;a@b.example ", 0, ALL, false, 0, NULL,
      "a@b.example", "b.example", 0, SMTP_NOTIFY_NEVER, "rfc822", "a@b.example" },
    /* MAIL's parameters and unknown ones. */
    { "<a@b.example> SIZE=1", 0, ALL, false, RBAD(555, "5.5.4") },
    { "<a@b.example> SMTPUTF8", 0, ALL, false, RBAD(555, "5.5.4") },
    { "<a@b.example> FOO", 0, ALL, false, RBAD(555, "5.5.4") },
    { "<a@b.example> =1", 0, ALL, false, RBAD(501, "5.5.4") },
    /* UTF-8 depends on MAIL FROM's SMTPUTF8. */
    { "<j\xc3\xb6ran@example.com>", 0, ALL, true, 0, NULL, "j\xc3\xb6ran@example.com",
      "example.com", U8, 0, NULL, NULL },
    { "<user@b\xc3\xbc" "cher.example>", 0, ALL, true, 0, NULL, "user@b\xc3\xbc" "cher.example",
      "b\xc3\xbc" "cher.example", U8, 0, NULL, NULL },
    { "<j\xc3\xb6ran@example.com>", 0, ALL, false, RBAD(553, "5.6.7") },
    { "<j\xffran@example.com>", 0, ALL, false, RBAD(553, "5.6.7") },
    { "<j\xffran@example.com>", 0, ALL, true, RBAD(501, "5.1.3") },
    { "<j\xc3\xb6ran@example.com> FOO", 0, ALL, true, RBAD(555, "5.5.4") },
#undef RBAD
};

static void test_rcpt(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < N(rcpt_cases); i++) {
        int before = test_failures;
        struct smtp_rcpt_args rc;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_rcpt(a, in_str(rcpt_cases[i].arg, rcpt_cases[i].len),
                                rcpt_cases[i].ext, rcpt_cases[i].smtputf8, &rc, &e);
        if (!rcpt_cases[i].code) {
            CHECK_INT(r, 0);
            CHECK_STR(rc.path.address, rcpt_cases[i].address);
            CHECK_STR(rc.path.domain, rcpt_cases[i].domain);
            CHECK_INT(rc.path.null, false);
            CHECK_INT(rc.path.postmaster, !!(rcpt_cases[i].flags & PM));
            CHECK_INT(rc.path.utf8, !!(rcpt_cases[i].flags & U8));
            CHECK_INT(rc.notify, rcpt_cases[i].notify);
            if (rcpt_cases[i].orcpt_type) {
                CHECK_STR(rc.orcpt_type, rcpt_cases[i].orcpt_type);
                CHECK_STR(rc.orcpt, rcpt_cases[i].orcpt);
            } else
                CHECK(rc.orcpt_type == NULL && rc.orcpt == NULL);
        } else {
            CHECK_INT(r, -1);
            CHECK_INT(e.code, rcpt_cases[i].code);
            CHECK_STR(e.enhanced, rcpt_cases[i].enh);
            CHECK(e.text && *e.text);
        }
        show(i, rcpt_cases[i].arg, rcpt_cases[i].len, before);
    }
    arena_free(a);
}

/* ---- lengths: exactly at each limit, and one past it ---- */

__attribute__((format(printf, 2, 3))) static char *fmt(struct arena *a, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = arena_alloc(a, (size_t)n + 1);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

static char *repeat(struct arena *a, const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = arena_alloc(a, u * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

static int mail(struct arena *a, const char *arg, struct smtp_parse_error *e)
{
    struct smtp_mail_args m;
    int r = smtp_parse_mail(a, str_from_cstr(arg), ALL, &m, e);
    if (r == 0)
        CHECK(strlen(m.path.address) <= SMTP_PATH_MAX);
    return r;
}

static int rcpt(struct arena *a, const char *arg, struct smtp_parse_error *e)
{
    struct smtp_rcpt_args rc;
    return smtp_parse_rcpt(a, str_from_cstr(arg), ALL, true, &rc, e);
}

static void test_lengths(void)
{
    struct arena *a = arena_new(0);
    struct smtp_parse_error e;
    /* Local part: 64 bytes, quotes included. */
    char *l64 = repeat(a, "x", 64), *l65 = repeat(a, "x", 65), *q62 = repeat(a, "q", 62),
         *q63 = repeat(a, "q", 63);
    CHECK_INT(mail(a, fmt(a, "<%s@example.com>", l64), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<%s@example.com>", l65), &e), -1);
    CHECK_INT(e.code, 501);
    CHECK_STR(e.enhanced, "5.1.7");
    CHECK_INT(rcpt(a, fmt(a, "<%s@example.com>", l64), &e), 0);
    CHECK_INT(rcpt(a, fmt(a, "<%s@example.com>", l65), &e), -1);
    CHECK_INT(e.code, 501);
    CHECK_STR(e.enhanced, "5.1.3");
    CHECK_INT(mail(a, fmt(a, "<\"%s\"@example.com>", q62), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<\"%s\"@example.com>", q63), &e), -1);
    /* In UTF-8 the limit is in bytes: 32 two-byte characters fit, 33 do not. */
    char *u32 = repeat(a, "\xc3\xa9", 32), *u33 = repeat(a, "\xc3\xa9", 33);
    CHECK_INT(mail(a, fmt(a, "<%s@example.com> SMTPUTF8", u32), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<%s@example.com> SMTPUTF8", u33), &e), -1);
    CHECK_INT(e.code, 501);

    /* The path, brackets included: 256 bytes. "<" 64 "@" 189 ">" = 256. */
    char *d63 = repeat(a, "d", 63), *d61 = repeat(a, "d", 61), *d62 = repeat(a, "d", 62);
    char *dom189 = fmt(a, "%s.%s.%s", d63, d63, d61);
    char *dom190 = fmt(a, "%s.%s.%s", d63, d63, d62);
    CHECK_INT(strlen(dom189), 189);
    CHECK_INT(mail(a, fmt(a, "<%s@%s>", l64, dom189), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<%s@%s>", l64, dom190), &e), -1);
    CHECK_INT(e.code, 501);
    CHECK_STR(e.enhanced, "5.1.7");
    CHECK_INT(rcpt(a, fmt(a, "<%s@%s>", l64, dom189), &e), 0);
    CHECK_INT(rcpt(a, fmt(a, "<%s@%s>", l64, dom190), &e), -1);
    CHECK_STR(e.enhanced, "5.1.3");
    /* A source route counts towards the path: "@x.example:" is 11 more. */
    char *l53 = repeat(a, "x", 53), *l54 = repeat(a, "x", 54);
    CHECK_INT(mail(a, fmt(a, "<@x.example:%s@%s>", l53, dom189), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<@x.example:%s@%s>", l54, dom189), &e), -1);

    /* A domain: 255 bytes; labels: 63. */
    char *dom255 = fmt(a, "%s.%s.%s.%s", d63, d63, d63, d63);
    char *dom256 = fmt(a, "a.%s.%s.%s.%s", d63, d63, d63, d62);
    CHECK_INT(strlen(dom255), 255);
    CHECK_INT(strlen(dom256), 256);
    CHECK_INT(smtp_parse_helo(str_from_cstr(dom255), &e), 0);
    CHECK_INT(smtp_parse_helo(str_from_cstr(dom256), &e), -1);
    CHECK_INT(e.code, 501);
    CHECK_STR(e.enhanced, "5.5.4");
    CHECK_INT(smtp_parse_helo(str_from_cstr(d63), &e), 0);
    CHECK_INT(smtp_parse_helo(str_from_cstr(repeat(a, "d", 64)), &e), -1);
    CHECK_INT(mail(a, fmt(a, "<a@%s.example>", d63), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<a@%s.example>", repeat(a, "d", 64)), &e), -1);
    /* In a path the domain limit comes before the path limit. */
    CHECK_INT(mail(a, fmt(a, "<a@%s>", dom256), &e), -1);
    CHECK_INT(e.code, 501);
    /* A U-label's limit is on its A-label: 40 "é" (80 bytes) pass. */
    CHECK_INT(smtp_parse_helo(str_from_cstr(fmt(a, "%s.example",
                                                             repeat(a, "\xc3\xa9", 40))),
                              &e),
              0);

    /* ENVID: 100 characters as sent; ORCPT: 500. */
    CHECK_INT(mail(a, fmt(a, "<a@b.example> ENVID=%s", repeat(a, "e", 100)), &e), 0);
    CHECK_INT(mail(a, fmt(a, "<a@b.example> ENVID=%s", repeat(a, "e", 101)), &e),
              -1);
    CHECK_INT(e.code, 501);
    CHECK_INT(mail(a, fmt(a, "<a@b.example> ENVID=%s", repeat(a, "+41", 33)), &e),
              0);
    CHECK_INT(mail(a, fmt(a, "<a@b.example> ENVID=%s+41", repeat(a, "+41", 33)), &e),
              -1);
    CHECK_INT(rcpt(a, fmt(a, "<a@b.example> ORCPT=rfc822;%s", repeat(a, "o", 493)),
                   &e),
              0);
    CHECK_INT(rcpt(a, fmt(a, "<a@b.example> ORCPT=rfc822;%s", repeat(a, "o", 494)),
                   &e),
              -1);
    CHECK_INT(e.code, 501);
    arena_free(a);
}

/* ---- the arena's cap ---- */

static void test_arena_full(void)
{
    struct arena *a = arena_new(16);
    struct smtp_mail_args m;
    struct smtp_rcpt_args rc;
    struct smtp_parse_error e;
    CHECK_INT(smtp_parse_mail(a, STR_LIT("<user@example.com>"), ALL, &m, &e), -1);
    CHECK_INT(e.code, 452);
    CHECK_STR(e.enhanced, "4.3.1");
    arena_reset(a);
    CHECK_INT(smtp_parse_rcpt(a, STR_LIT("<u@e.x> ORCPT=rfc822;user@example.com"), ALL, false,
                              &rc, &e),
              -1);
    CHECK_INT(e.code, 452);
    arena_reset(a);
    /* <> needs no memory. */
    CHECK_INT(smtp_parse_mail(a, STR_LIT("<>"), ALL, &m, &e), 0);
    CHECK(m.path.null);
    CHECK(smtp_xtext_decode(a, STR_LIT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) == NULL);
    CHECK(smtp_xtext_encode(a, STR_LIT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) == NULL);
    arena_free(a);
}

/* ---- BDAT ---- */

static const struct {
    const char *arg;
    size_t len;
    int ret;
    uint64_t size;
    bool last;
} bdat_cases[] = {
    { "0", 0, 0, 0, false },
    { "0 LAST", 0, 0, 0, true },
    { "100", 0, 0, 100, false },
    { "100 LAST", 0, 0, 100, true },
    { "100 last", 0, 0, 100, true },
    { "100 LaSt", 0, 0, 100, true },
    { "100    LAST", 0, 0, 100, true },
    { " 100 ", 0, 0, 100, false },
    { "00010 LAST", 0, 0, 10, true },
    { "9223372036854775807", 0, 0, INT64_MAX, false },
    { "9223372036854775807 LAST", 0, 0, INT64_MAX, true },
    /* Past 2^63 - 1, past 2^64 and far past it. */
    { "9223372036854775808", 0, -1, 0, false },
    { "18446744073709551615", 0, -1, 0, false },
    { "18446744073709551616", 0, -1, 0, false },
    { "99999999999999999999999999999999 LAST", 0, -1, 0, false },
    /* Garbage. */
    { "", 0, -1, 0, false },
    { "   ", 0, -1, 0, false },
    { "LAST", 0, -1, 0, false },
    { "LAST 100", 0, -1, 0, false },
    { "-1", 0, -1, 0, false },
    { "+1", 0, -1, 0, false },
    { "0x10", 0, -1, 0, false },
    { "1e3", 0, -1, 0, false },
    { "10 LAST x", 0, -1, 0, false },
    { "10 LAST LAST", 0, -1, 0, false },
    { "10 LASTX", 0, -1, 0, false },
    { "10 LAS", 0, -1, 0, false },
    { "10 FIRST", 0, -1, 0, false },
    { "10LAST", 0, -1, 0, false },
    { "1 0", 0, -1, 0, false },
    { "10\tLAST", 0, -1, 0, false },
    { "10 LAST\0", 8, -1, 0, false },
    { "1\0", 2, -1, 0, false },
    { "\xd9\xa1", 0, -1, 0, false },
};

static void test_bdat(void)
{
    for (size_t i = 0; i < N(bdat_cases); i++) {
        int before = test_failures;
        uint64_t size = 12345;
        bool last = true;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_bdat(in_str(bdat_cases[i].arg, bdat_cases[i].len), &size, &last, &e);
        CHECK_INT(r, bdat_cases[i].ret);
        if (r == 0) {
            CHECK(size == bdat_cases[i].size);
            CHECK_INT(last, bdat_cases[i].last);
        } else {
            CHECK_INT(e.code, 501);
            CHECK_STR(e.enhanced, "5.5.4");
            CHECK(e.text && *e.text);
        }
        show(i, bdat_cases[i].arg, bdat_cases[i].len, before);
    }
}

/* ---- HELO/EHLO ---- */

static const struct {
    const char *arg;
    size_t len;
    int ret;
} helo_cases[] = {
    { "mx.example.com", 0, 0 },
    { "MX.Example.COM", 0, 0 },
    { "localhost", 0, 0 },
    { "mx1", 0, 0 },
    { "a-b--c.example", 0, 0 },
    { "xn--bcher-kva.example", 0, 0 },
    { "b\xc3\xbc" "cher.example", 0, 0 },
    { "\xe4\xbe\x8b\xe5\xad\x90.\xe6\xb5\x8b\xe8\xaf\x95", 0, 0 },
    { "[192.0.2.1]", 0, 0 },
    { "[IPv6:2001:db8::1]", 0, 0 },
    { "[IPv6:::1]", 0, 0 },
    { "[x-tag:whatever]", 0, 0 },
    /* Digits only is a syntactically valid domain. */
    { "192.0.2.1", 0, 0 },
    { " mx.example.com  ", 0, 0 },
    { "", 0, -1 },
    { "   ", 0, -1 },
    { "mx.example.com.", 0, -1 },
    { ".mx.example.com", 0, -1 },
    { "mx..example.com", 0, -1 },
    { "-mx.example.com", 0, -1 },
    { "mx-.example.com", 0, -1 },
    { "mx.-example.com", 0, -1 },
    { "mx_1.example.com", 0, -1 },
    { "mx.example.com extra", 0, -1 },
    { "mx.example.com (comment)", 0, -1 },
    { "user@mx.example.com", 0, -1 },
    { "[192.0.2.1", 0, -1 },
    { "[192.0.2.1]x", 0, -1 },
    { "[192.0.2.300]", 0, -1 },
    { "[IPv6:zz::1]", 0, -1 },
    { "[IPv6:1::2::3]", 0, -1 },
    { "[]", 0, -1 },
    { "b\xff" "cher.example", 0, -1 },
    { "b\xc3" "cher.example", 0, -1 },
    { "\xed\xa0\x80.example", 0, -1 },
    { "mx.example.com\x01", 0, -1 },
    { "mx\0.example.com", 15, -1 },
    { "mx.example.com\0", 15, -1 },
    { "mx\t.example.com", 0, -1 },
};

static void test_helo(void)
{
    for (size_t i = 0; i < N(helo_cases); i++) {
        int before = test_failures;
        struct smtp_parse_error e = { 0 };
        int r = smtp_parse_helo(in_str(helo_cases[i].arg, helo_cases[i].len), &e);
        CHECK_INT(r, helo_cases[i].ret);
        if (r) {
            CHECK_INT(e.code, 501);
            CHECK_STR(e.enhanced, "5.5.4");
            CHECK(e.text && *e.text);
        }
        show(i, helo_cases[i].arg, helo_cases[i].len, before);
    }
}

/* ---- xtext ---- */

static const struct {
    const char *in;
    size_t len;
    const char *out; /* NULL: malformed */
} xdecode_cases[] = {
    { "", 0, "" },
    { "abc", 0, "abc" },
    { "a+2Bb", 0, "a+b" },
    { "+3D", 0, "=" },
    { "+2b", 0, "+" }, /* lower-case hex: RFC 3461 wants upper, we take both */
    { "+20", 0, " " },
    { "+C3+A9", 0, "\xc3\xa9" },
    { "+7E+21", 0, "~!" },
    { "<>", 0, "<>" },
    { "+0D+0A", 0, "\r\n" },
    { "+", 0, NULL },
    { "a+", 0, NULL },
    { "+2", 0, NULL },
    { "+G0", 0, NULL },
    { "+0G", 0, NULL },
    { "++20", 0, NULL },
    { "+00", 0, NULL }, /* NUL cannot be in a C string */
    { "a b", 0, NULL },
    { "a=b", 0, NULL },
    { "a\x7f", 0, NULL },
    { "\xc3\xa9", 0, NULL },
    { "a\0b", 3, NULL },
    { "a\tb", 0, NULL },
};

static const struct {
    const char *in;
    size_t len;
    const char *out;
} xencode_cases[] = {
    { "", 0, "" },
    { "abc", 0, "abc" },
    { "a+b", 0, "a+2Bb" },
    { "e=mc2", 0, "e+3Dmc2" },
    { "a b", 0, "a+20b" },
    { "\xc3\xa9", 0, "+C3+A9" },
    { "\0", 1, "+00" },
    { "!~", 0, "!~" },
    { "\x7f\x1f", 0, "+7F+1F" },
    { "user@example.com", 0, "user@example.com" },
};

static void test_xtext(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < N(xdecode_cases); i++) {
        int before = test_failures;
        char *d = smtp_xtext_decode(a, in_str(xdecode_cases[i].in, xdecode_cases[i].len));
        if (xdecode_cases[i].out)
            CHECK_STR(d, xdecode_cases[i].out);
        else
            CHECK(d == NULL);
        show(i, xdecode_cases[i].in, xdecode_cases[i].len, before);
    }
    for (size_t i = 0; i < N(xencode_cases); i++) {
        int before = test_failures;
        struct str in = in_str(xencode_cases[i].in, xencode_cases[i].len);
        CHECK_STR(smtp_xtext_encode(a, in), xencode_cases[i].out);
        show(i, xencode_cases[i].in, xencode_cases[i].len, before);
    }
    /* Round trips: every byte but NUL, and strings of the decode table. */
    char all[255];
    for (int c = 1; c < 256; c++)
        all[c - 1] = (char)c;
    char *enc = smtp_xtext_encode(a, (struct str){ all, sizeof(all) });
    char *dec = smtp_xtext_decode(a, str_from_cstr(enc));
    CHECK(dec && strlen(dec) == sizeof(all) && memcmp(dec, all, sizeof(all)) == 0);
    for (const char *p = enc; *p; p++)
        CHECK(*p > 32 && *p < 127 && *p != '=');
    for (size_t i = 0; i < N(xdecode_cases); i++) {
        if (!xdecode_cases[i].out)
            continue;
        const char *d = xdecode_cases[i].out;
        CHECK_STR(smtp_xtext_decode(a, str_from_cstr(smtp_xtext_encode(a, str_from_cstr(d)))),
                  d);
    }
    /* NUL encodes but does not decode. */
    CHECK(smtp_xtext_decode(a, str_from_cstr(smtp_xtext_encode(a, (struct str){ "a\0", 2 }))) ==
          NULL);
    arena_free(a);
}

int main(void)
{
    RUN(test_command);
    RUN(test_mail_paths);
    RUN(test_mail_params);
    RUN(test_rcpt);
    RUN(test_lengths);
    RUN(test_arena_full);
    RUN(test_bdat);
    RUN(test_helo);
    RUN(test_xtext);
    return TEST_DONE();
}
