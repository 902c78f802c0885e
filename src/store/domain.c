/* Domains (see store.h). */
#include <idn2.h>
#include <stdlib.h>
#include <time.h>

#include "core/str.h"
#include "store/db.h"

int store_domain_add(struct store *s, const char *domain, char **error_r)
{
    struct arena *a = arena_new(0);
    char *name;
    const char *why;
    int r = store_domain_normalize(a, domain, &name, &why);
    if (r != STORE_OK) {
        *error_r = xasprintf("%s: %s", domain, why);
        goto out;
    }
    sqlite3_stmt *st = db_prepare(s, "INSERT INTO domains (name, created) VALUES (?, ?)", error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    r = db_exec_stmt(s, st, error_r);
    sqlite3_finalize(st);
    if (r == STORE_ERR_EXISTS) {
        free(*error_r);
        *error_r = xasprintf("domain %s exists already", name);
    }
out:
    arena_free(a);
    return r;
}

int store_domain_del(struct store *s, const char *domain, char **error_r)
{
    struct arena *a = arena_new(0);
    char *name;
    const char *why;
    int r = store_domain_normalize(a, domain, &name, &why);
    if (r != STORE_OK) {
        *error_r = xasprintf("%s: %s", domain, why);
        goto out;
    }
    if ((r = db_begin(s, error_r)) != STORE_OK)
        goto out;
    sqlite3_stmt *st = db_prepare(
        s,
        "SELECT d.id, (SELECT count(*) FROM accounts WHERE domain_id = d.id),"
        " (SELECT count(*) FROM aliases WHERE domain_id = d.id) FROM domains d WHERE d.name = ?",
        error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        *error_r = xasprintf("no domain %s", name);
        r = STORE_ERR_NOT_FOUND;
        goto rollback;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    int accounts = sqlite3_column_int(st, 1), aliases = sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    if (accounts || aliases) {
        *error_r = xasprintf("domain %s still has %d account%s and %d alias%s; delete them first",
                             name, accounts, accounts == 1 ? "" : "s", aliases,
                             aliases == 1 ? "" : "es");
        r = STORE_ERR_IN_USE;
        goto rollback;
    }
    st = db_prepare(s, "DELETE FROM domains WHERE id = ?", error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, id);
    r = db_exec_stmt(s, st, error_r);
    sqlite3_finalize(st);
    if (r != STORE_OK)
        goto rollback;
    r = db_commit(s, error_r);
    goto out;
rollback:
    db_rollback(s);
out:
    arena_free(a);
    return r;
}

bool store_domain_exists(struct store *s, const char *domain)
{
    struct arena *a = arena_new(0);
    char *name;
    const char *why;
    bool found = store_domain_normalize(a, domain, &name, &why) == STORE_OK &&
                 db_domain_id(s, name) > 0;
    arena_free(a);
    return found;
}

int store_domain_list(struct store *s, int (*cb)(void *ctx, const struct store_domain *d),
                      void *ctx, char **error_r)
{
    sqlite3_stmt *st = db_prepare(
        s,
        "SELECT d.name, (SELECT count(*) FROM accounts WHERE domain_id = d.id),"
        " (SELECT count(*) FROM aliases WHERE domain_id = d.id) FROM domains d ORDER BY d.name",
        error_r);
    if (!st)
        return STORE_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_domain d = {
            .name = (const char *)sqlite3_column_text(st, 0),
            .accounts = sqlite3_column_int(st, 1),
            .aliases = sqlite3_column_int(st, 2),
        };
        char *uni = NULL;
        d.unicode = idn2_to_unicode_8z8z(d.name, &uni, 0) == IDN2_OK ? uni : d.name;
        int stop = cb(ctx, &d);
        idn2_free(uni);
        if (stop)
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = db_error(s, "listing domains");
        return STORE_ERR_IO;
    }
    return STORE_OK;
}
