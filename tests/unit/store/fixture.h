/*
 * tests/unit/store/fixture.h — what the store tests share: a store in a fresh
 * temporary directory with one domain, credentials made once, removing the
 * directory afterwards, and looking into an account's index.db behind the
 * store's back.
 */
#ifndef OUTPOST_TEST_STORE_FIXTURE_H
#define OUTPOST_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

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

/* Runs SQL (one statement or several) on the index.db of account `id`
 * under the data directory dir, through a connection of its own. Returns
 * the first column of the first row of the last statement that gave one (0
 * when none did), or -1 when a statement fails. */
static inline long long fixture_index_sql(const char *dir, int64_t id, const char *sql)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/accounts/%lld/index.db", dir, (long long)id);
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        const char *tail = sql;
        v = 0;
        while (v >= 0 && tail && *tail) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
                v = -1;
                break;
            }
            if (!st)
                break; /* only white space left */
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
            else if (rc != SQLITE_DONE)
                v = -1;
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

#endif
