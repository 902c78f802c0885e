/* outpost alias add|del|list (docs/cli.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "store/store.h"

static int print_alias(void *ctx, const struct store_alias *al)
{
    (void)ctx;
    printf("%s\t", al->alias);
    for (int i = 0; i < al->ntargets; i++)
        printf("%s%s", i ? " " : "", al->targets[i]);
    printf("\n");
    return 0;
}

int cmd_alias(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("alias"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 1)
        return usage_error("alias", "missing subcommand");
    const char *sub = argv[0];
    bool add = !strcmp(sub, "add"), del = !strcmp(sub, "del"), list = !strcmp(sub, "list");
    if (!add && !del && !list)
        return usage_error("alias", "unknown subcommand '%s'", sub);
    if (add && argc < 3)
        return usage_error("alias", "add takes ALIAS and at least one TARGET");
    if (del && argc < 2)
        return usage_error("alias", "del takes ALIAS [TARGET...]");
    if (list && argc > 2)
        return usage_error("alias", "list takes at most one DOMAIN");

    struct config *cfg;
    struct store *st;
    if (cli_open_store(file, &cfg, &st))
        return 1;
    char *err = NULL;
    int r;
    const char *const *targets = (const char *const *)argv + 2;
    if (add)
        r = store_alias_add(st, argv[1], targets, argc - 2, &err);
    else if (del)
        r = store_alias_del(st, argv[1], targets, argc - 2, &err);
    else
        r = store_alias_list(st, argc == 2 ? argv[1] : NULL, print_alias, NULL, &err);
    if (r != STORE_OK)
        fprintf(stderr, "outpost alias %s: %s\n", sub, err);
    else if (add)
        printf("Alias %s: added %d target%s\n", argv[1], argc - 2, argc == 3 ? "" : "s");
    else if (del)
        printf("Alias %s: %s\n", argv[1], argc == 2 ? "deleted" : "removed the targets");
    free(err);
    cli_close_store(cfg, st);
    return r == STORE_OK ? 0 : 1;
}
