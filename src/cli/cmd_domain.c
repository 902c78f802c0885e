/* outpost domain add|del|list (docs/cli.md). `domain dns` arrives with email
 * authentication. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

static int print_domain(void *ctx, const struct store_domain *d)
{
    (void)ctx;
    if (strcmp(d->name, d->unicode))
        printf("%s (%s)\taccounts=%d\taliases=%d\n", d->unicode, d->name, d->accounts, d->aliases);
    else
        printf("%s\taccounts=%d\taliases=%d\n", d->name, d->accounts, d->aliases);
    return 0;
}

int cmd_domain(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("domain"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 1)
        return usage_error("domain", "missing subcommand");
    const char *sub = argv[0];
    bool add = !strcmp(sub, "add"), del = !strcmp(sub, "del"), list = !strcmp(sub, "list");
    if (!strcmp(sub, "dns")) {
        if (argc != 2)
            return usage_error("domain", "dns takes one DOMAIN");
        fprintf(stderr, "outpost domain dns: not built yet: DNS records arrive with email "
                        "authentication\n");
        return EXIT_USAGE;
    }
    if (!add && !del && !list)
        return usage_error("domain", "unknown subcommand '%s'", sub);
    if ((add || del) && argc != 2)
        return usage_error("domain", "%s takes one DOMAIN", sub);
    if (list && argc != 1)
        return usage_error("domain", "list takes no argument");

    struct config *cfg;
    struct store *st;
    if (cli_open_store(file, &cfg, &st))
        return 1;
    char *err = NULL;
    int r;
    if (add)
        r = store_domain_add(st, argv[1], &err);
    else if (del)
        r = store_domain_del(st, argv[1], &err);
    else
        r = store_domain_list(st, print_domain, NULL, &err);
    if (r != STORE_OK)
        fprintf(stderr, "outpost domain %s: %s\n", sub, err);
    else if (add)
        printf("Added domain %s\n", argv[1]);
    else if (del)
        printf("Deleted domain %s\n", argv[1]);
    free(err);
    cli_close_store(cfg, st);
    return r == STORE_OK ? 0 : 1;
}
