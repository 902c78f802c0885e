/* outpost account add|del|list|passwd (docs/cli.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

#define GENERATED_PASSWORD_LEN 20

static void format_size(unsigned long long b, char *out, size_t outlen)
{
    if (b == 0)
        snprintf(out, outlen, "none");
    else if (b % (1ULL << 30) == 0)
        snprintf(out, outlen, "%lluG", b >> 30);
    else if (b % (1ULL << 20) == 0)
        snprintf(out, outlen, "%lluM", b >> 20);
    else if (b % (1ULL << 10) == 0)
        snprintf(out, outlen, "%lluK", b >> 10);
    else
        snprintf(out, outlen, "%llu", b);
}

static int print_account(void *ctx, const struct store_account *a)
{
    (void)ctx;
    char quota[32];
    format_size(a->quota, quota, sizeof(quota));
    printf("%s\tname=%s\tquota=%s\t%s\n", a->address, a->display_name[0] ? a->display_name : "-",
           quota, a->disabled ? "disabled" : "enabled");
    return 0;
}

/* The password: from stdin, or generated and shown once. */
static int get_password(bool from_stdin, char *pw, size_t pwlen, bool *generated)
{
    *generated = !from_stdin;
    if (from_stdin)
        return cli_read_password(pw, pwlen);
    auth_password_generate(pw, GENERATED_PASSWORD_LEN);
    return 0;
}

int cmd_account(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("account"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 1)
        return usage_error("account", "missing subcommand");
    const char *sub = argv[0];
    static const struct option opts[] = {
        { "password-stdin", no_argument, NULL, 'p' },
        { "name", required_argument, NULL, 'n' },
        { "quota", required_argument, NULL, 'q' },
        { 0, 0, 0, 0 },
    };
    bool pw_stdin = false, have_quota = false;
    const char *name = "";
    unsigned long long quota = 0;
    optind = 1;
    opterr = 0;
    int c;
    /* argv[0] (the subcommand) stands where getopt expects the program. */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pw_stdin = true; break;
        case 'n': name = optarg; break;
        case 'q':
            if (config_parse_size(optarg, &quota) < 0)
                return usage_error("account", "--quota '%s' is not a size (512M, 2G)", optarg);
            have_quota = true;
            break;
        case ':': return usage_error("account", "%s needs a value", argv[optind - 1]);
        default: return usage_error("account", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    bool add = !strcmp(sub, "add"), del = !strcmp(sub, "del"), list = !strcmp(sub, "list"),
         passwd = !strcmp(sub, "passwd");
    if (!add && !del && !list && !passwd)
        return usage_error("account", "unknown subcommand '%s'", sub);
    if ((add || del || passwd) && nargs != 1)
        return usage_error("account", "%s takes one ADDRESS", sub);
    if (list && nargs > 1)
        return usage_error("account", "list takes at most one DOMAIN");
    if ((pw_stdin && !add && !passwd) || ((*name || have_quota) && !add))
        return usage_error("account", "that option does not go with %s", sub);

    struct config *cfg;
    struct store *st;
    if (cli_open_store(file, &cfg, &st))
        return 1;
    if (add && !have_quota)
        quota = cfg->store_default_quota;
    char *err = NULL;
    int r = STORE_OK;
    char pw[AUTH_PASSWORD_MAX + 2];
    bool generated = false;
    if (add || passwd) {
        struct auth_credentials cred;
        const char *why;
        if (get_password(pw_stdin, pw, sizeof(pw), &generated) < 0) {
            r = STORE_ERR_INVALID;
            goto out;
        }
        if (auth_credentials_make(pw, strlen(pw), &cred, &why) < 0) {
            fprintf(stderr, "outpost account %s: %s\n", sub, why);
            r = STORE_ERR_INVALID;
            goto out;
        }
        r = add ? store_account_add(st, args[0], name, &cred, quota, NULL, &err)
                : store_account_set_credentials(st, args[0], &cred, &err);
        auth_wipe(&cred, sizeof(cred));
    } else if (del) {
        r = store_account_del(st, args[0], &err);
    } else {
        r = store_account_list(st, nargs ? args[0] : NULL, print_account, NULL, &err);
    }
    if (r != STORE_OK && err) {
        fprintf(stderr, "outpost account %s: %s\n", sub, err);
    } else if (r == STORE_OK && (add || passwd)) {
        printf("%s %s\n", add ? "Added account" : "Changed the password of", args[0]);
        if (generated)
            printf("Password (shown only now): %s\n", pw);
    } else if (r == STORE_OK && del) {
        printf("Deleted account %s\n", args[0]);
    }
out:
    auth_wipe(pw, sizeof(pw));
    free(err);
    cli_close_store(cfg, st);
    return r == STORE_OK ? 0 : 1;
}
