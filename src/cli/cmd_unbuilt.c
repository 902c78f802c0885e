/* Commands of the contract whose module is not built yet: their usage is
 * checked like any other's, then they say plainly that they are not there. */
#include <stdbool.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *cmd;
    const char *subs[8]; /* accepted first words; empty: any */
    const char *what;
} unbuilt[] = {
    { "check", { NULL }, "DNS checks arrive with email authentication" },
};

int cmd_unbuilt(const char *name, int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text(name), stdout);
        return 0;
    }
    config_path_from_args(&argc, argv);
    for (size_t i = 0; i < sizeof(unbuilt) / sizeof(unbuilt[0]); i++) {
        if (strcmp(unbuilt[i].cmd, name))
            continue;
        if (unbuilt[i].subs[0]) {
            if (argc < 1)
                return usage_error(name, "missing subcommand");
            bool known = false;
            for (int s = 0; s < 8 && unbuilt[i].subs[s]; s++)
                if (!strcmp(argv[0], unbuilt[i].subs[s]))
                    known = true;
            if (!known)
                return usage_error(name, "unknown subcommand '%s'", argv[0]);
        }
        fprintf(stderr, "outpost %s: not built yet: %s\n", name, unbuilt[i].what);
        return EXIT_USAGE;
    }
    return usage_error(NULL, "unknown command '%s'", name);
}
