#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

int cmd_serve(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("serve"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc > 0)
        return usage_error("serve", "unexpected argument '%s'", argv[0]);
    return server_run(file);
}
