#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *cmd;
    const char *text;
} usages[] = {
    { NULL,
      "usage: outpost COMMAND [ARGS]\n"
      "\n"
      "  quickstart   make a data directory, config and certificate\n"
      "  serve        run the mail server\n"
      "  account      add, delete, list accounts; set passwords\n"
      "  alias        add, delete, list aliases\n"
      "  domain       add, delete, list domains; print DNS records\n"
      "  queue        inspect and manage the outbound queue\n"
      "  check        check DNS and deliverability\n"
      "  config       validate the config; print every setting\n"
      "  dns          look up a name as the server would (testing, diagnosis)\n"
      "\n"
      "Every command but quickstart takes -c FILE (default: $OUTPOST_CONFIG, else\n"
      OUTPOST_DEFAULT_CONFIG "). `outpost COMMAND --help` tells more;\n"
      "docs/cli.md has it all.\n" },
    { "quickstart",
      "usage: outpost quickstart --dir DIR --domain DOMAIN --hostname HOST\n"
      "                          [--listen ADDR]... [--port-base N] [--admin LOCALPART]\n"
      "\n"
      "Writes DIR/outpost.conf with a listener for every protocol, a self-signed\n"
      "certificate for HOST in DIR/tls/, and DIR/data/. Refuses to overwrite an\n"
      "existing DIR/outpost.conf.\n"
      "\n"
      "  --listen ADDR    IP address to listen on (repeatable; default: every address)\n"
      "  --port-base N    add N to every standard port (SMTP N+25, IMAP N+143, ...)\n"
      "  --admin NAME     local part of the administrator's address (default: postmaster)\n" },
    { "serve",
      "usage: outpost serve [-c FILE]\n"
      "\n"
      "Runs the mail server in the foreground, logging to stderr. SIGTERM or SIGINT\n"
      "stop it gracefully; SIGHUP reloads the config and certificates.\n" },
    { "account",
      "usage: outpost account add ADDRESS [--password-stdin] [--name NAME] [--quota SIZE]\n"
      "       outpost account passwd ADDRESS [--password-stdin]\n"
      "       outpost account del ADDRESS\n"
      "       outpost account list [DOMAIN]\n"
      "\n"
      "Without --password-stdin, a password is generated and printed once.\n"
      "--quota takes a size (512M, 2G; 0: no limit); default: [store] default_quota.\n" },
    { "alias",
      "usage: outpost alias add ALIAS TARGET...\n"
      "       outpost alias del ALIAS [TARGET...]\n"
      "       outpost alias list [DOMAIN]\n"
      "\n"
      "ALIAS is local@domain in one of our domains, or @domain for the domain's\n"
      "catch-all. TARGETs are accounts, other aliases or external addresses.\n"
      "del without TARGETs deletes the alias.\n" },
    { "domain",
      "usage: outpost domain add DOMAIN\n"
      "       outpost domain del DOMAIN\n"
      "       outpost domain list\n"
      "       outpost domain dns DOMAIN\n"
      "\n"
      "Internationalised names are accepted and kept in their ASCII form.\n"
      "del refuses while the domain has accounts or aliases.\n" },
    { "queue",
      "usage: outpost queue list [-c FILE]\n"
      "       outpost queue show ID\n"
      "       outpost queue retry|hold|release [ID]\n"
      "       outpost queue drop ID|--all\n"
      "\n"
      "list shows each message with each recipient's state, attempts, next\n"
      "attempt and the last reply of the remote server. retry makes the\n"
      "messages due now; hold stops delivery until release; drop removes\n"
      "messages without a bounce. Without ID: every message. A running server\n"
      "notices within a few seconds.\n" },
    { "check", "usage: outpost check [DOMAIN] [-c FILE]\n" },
    { "dns",
      "usage: outpost dns TYPE NAME [-c FILE]\n"
      "\n"
      "Looks NAME up with the config's [dns] settings and prints a status line\n"
      "(status=ok|nodata|nxdomain|tempfail|permfail secure=yes|no ttl=N) and one\n"
      "line per record. Exits 0 for ok, nodata and nxdomain, 1 for a failure.\n"
      "\n"
      "  TYPE   mx, a, aaaa, addr (AAAA and A together), txt, tlsa, or ptr (then\n"
      "         NAME is an IPv4 or IPv6 address)\n" },
    { "config",
      "usage: outpost config check [-c FILE]\n"
      "       outpost config defaults [--markdown]\n"
      "\n"
      "  check      validate the config; prints the first problem as FILE:LINE: ...\n"
      "  defaults   print every setting with its default and documentation, as a\n"
      "             config file (or as Markdown: docs/config.md)\n" },
};

const char *usage_text(const char *cmd)
{
    for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
        if ((!cmd && !usages[i].cmd) || (cmd && usages[i].cmd && !strcmp(cmd, usages[i].cmd)))
            return usages[i].text;
    }
    return usages[0].text;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    fprintf(stderr, "outpost%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text(cmd));
    return EXIT_USAGE;
}

int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}

const char *config_path_from_args(int *argc, char **argv)
{
    const char *path = NULL;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < *argc) {
            path = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    if (path)
        return path;
    const char *env = getenv("OUTPOST_CONFIG");
    return env && *env ? env : OUTPOST_DEFAULT_CONFIG;
}
