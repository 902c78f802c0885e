#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/privdrop.h"
#include "store/store.h"

int cli_open_store(const char *config_file, struct config **cfg, struct store **store)
{
    char *err = NULL;
    *store = NULL;
    *cfg = config_load(config_file, &err);
    if (!*cfg) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        return 1;
    }
    if (config_enter_dir(*cfg) < 0) {
        fprintf(stderr, "outpost: %s: cannot enter the config's directory\n", (*cfg)->dir);
        goto fail;
    }
    if (privdrop(*cfg, &err) < 0) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto fail;
    }
    if (auth_init() < 0) {
        fprintf(stderr, "outpost: cannot initialise libsodium\n");
        goto fail;
    }
    struct store_options opt = {
        .data_dir = (*cfg)->server_data_dir,
        .subaddress_separators = (*cfg)->store_subaddress_separator,
        .quota_permanent = strcmp((*cfg)->store_quota_exceeded, "permanent") == 0,
    };
    if (store_open(&opt, store, &err) != STORE_OK) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        goto fail;
    }
    return 0;
fail:
    config_free(*cfg);
    *cfg = NULL;
    return 1;
}

void cli_close_store(struct config *cfg, struct store *store)
{
    store_close(store);
    config_free(cfg);
}

int cli_read_password(char *out, size_t outlen)
{
    if (!fgets(out, (int)outlen, stdin)) {
        fprintf(stderr, "outpost: no password on standard input\n");
        return -1;
    }
    size_t n = strlen(out);
    if (n == outlen - 1 && out[n - 1] != '\n') {
        fprintf(stderr, "outpost: the password is longer than %zu bytes\n", outlen - 2);
        auth_wipe(out, outlen);
        return -1;
    }
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (!n) {
        fprintf(stderr, "outpost: the password is empty\n");
        return -1;
    }
    return 0;
}
