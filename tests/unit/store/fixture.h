/*
 * tests/unit/store/fixture.h — what the store tests share: a store in a fresh
 * temporary directory with one domain, credentials made once, and removing
 * the directory afterwards.
 */
#ifndef OUTPOST_TEST_STORE_FIXTURE_H
#define OUTPOST_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static inline void fixture_die(const char *what, const char *err)
{
    fprintf(stderr, "%s: %s\n", what, err ? err : "failed");
    exit(2);
}

static inline int fixture_rm_entry(const char *path, const struct stat *sb, int type,
                                   struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes a directory and everything below it. */
static inline void fixture_rmtree(const char *dir)
{
    nftw(dir, fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes dir (a mkdtemp template, rewritten), credentials for "secret
 * password", and a store there with the domain example.org; exits on any
 * failure, which is the test harness failing rather than the code. */
static inline void fixture_open(char *dir, struct store **s, struct auth_credentials *cred)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    if (auth_init() < 0)
        fixture_die("auth_init", NULL);
    const char *why = NULL;
    if (auth_credentials_make("secret password", 15, cred, &why) < 0)
        fixture_die("auth_credentials_make", why);
    char *err = NULL;
    struct store_options opt = { .data_dir = dir };
    if (store_open(&opt, s, &err) != STORE_OK)
        fixture_die("store_open", err);
    if (store_domain_add(*s, "example.org", &err) != STORE_OK)
        fixture_die("store_domain_add", err);
}

#endif
