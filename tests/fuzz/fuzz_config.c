/* Fuzzes the config parser: any bytes give a config or one error line,
 * never a crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size);
    char *err = NULL;
    struct config *cfg = config_parse_buffer(text, size, "fuzz.conf", NULL, &err);
    if (cfg) {
        /* A config that parsed must be usable: every string is set. */
        for (int i = 0; i < CFG_COUNT; i++) {
            enum config_type t = config_settings[i].type;
            if ((t == CFG_STRING || t == CFG_PATH || t == CFG_LIST) &&
                !config_string(cfg, (enum config_id)i))
                abort();
        }
        config_free(cfg);
    } else if (!err || !*err || strchr(err, '\n')) {
        abort(); /* an error is exactly one line */
    }
    free(err);
    free(text);
    return 0;
}
