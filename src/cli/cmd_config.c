#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/tls.h"

int cmd_config(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("config"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 1)
        return usage_error("config", "say check or defaults");
    if (!strcmp(argv[0], "defaults")) {
        bool markdown = false;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--markdown"))
                markdown = true;
            else
                return usage_error("config", "unexpected argument '%s'", argv[i]);
        }
        config_print_defaults(stdout, markdown);
        return 0;
    }
    if (!strcmp(argv[0], "check")) {
        if (argc > 1)
            return usage_error("config", "unexpected argument '%s'", argv[1]);
        char *err = NULL;
        struct config *cfg = config_load(file, &err);
        if (!cfg) {
            fprintf(stderr, "outpost: %s\n", err);
            free(err);
            return 1;
        }
        /* Load the certificates too, as serve would (ciphers, key/cert pairs,
         * passphrases): what check accepts, serve must accept. */
        struct tls_server *tls = NULL;
        if (config_enter_dir(cfg) < 0 || !(tls = tls_server_new(cfg, &err))) {
            fprintf(stderr, "outpost: %s\n", err ? err : "cannot enter the config's directory");
            free(err);
            config_free(cfg);
            return 1;
        }
        tls_server_unref(tls);
        printf("%s: ok\n", file);
        config_free(cfg);
        return 0;
    }
    return usage_error("config", "unknown subcommand '%s'", argv[0]);
}
