/*
 * outpost — a complete mail server for small organisations and homes.
 *
 * main.c dispatches the subcommands (docs/cli.md); each lives in src/cli/.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    /* Nothing outpost writes is for the world: mail, keys, the database.
     * Group read keeps files made by root readable to the server's group. */
    umask(027);
    if (argc < 2)
        return usage_error(NULL, "no command given");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_text(NULL), stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("outpost %s\n", OUTPOST_VERSION);
        return 0;
    }
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    if (!strcmp(cmd, "quickstart"))
        return cmd_quickstart(sub_argc, sub_argv);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(sub_argc, sub_argv);
    if (!strcmp(cmd, "config"))
        return cmd_config(sub_argc, sub_argv);
    if (!strcmp(cmd, "domain"))
        return cmd_domain(sub_argc, sub_argv);
    if (!strcmp(cmd, "account"))
        return cmd_account(sub_argc, sub_argv);
    if (!strcmp(cmd, "alias"))
        return cmd_alias(sub_argc, sub_argv);
    if (!strcmp(cmd, "dns"))
        return cmd_dns(sub_argc, sub_argv);
    if (!strcmp(cmd, "queue"))
        return cmd_queue(sub_argc, sub_argv);
    static const char *const unbuilt[] = { "check" };
    for (size_t i = 0; i < sizeof(unbuilt) / sizeof(unbuilt[0]); i++)
        if (!strcmp(cmd, unbuilt[i]))
            return cmd_unbuilt(cmd, sub_argc, sub_argv);
    return usage_error(NULL, "unknown command '%s'", cmd);
}
