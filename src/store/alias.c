/* Aliases and catch-alls (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/db.h"

#define ALIAS_MAX_TARGETS 1000

/* Finds or creates the alias row; *id_r is 0 when absent and !create. */
static int alias_row(struct store *s, int64_t domain_id, const struct store_address *al,
                     bool create, int64_t *id_r, char **error_r)
{
    *id_r = 0;
    sqlite3_stmt *st = db_prepare(
        s, "SELECT id FROM aliases WHERE domain_id = ? AND localpart_key = ?", error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, al->local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id_r = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = db_error(s, "finding an alias");
        return STORE_ERR_IO;
    }
    if (*id_r || !create)
        return STORE_OK;
    st = db_prepare(s, "INSERT INTO aliases (domain_id, localpart, localpart_key) VALUES (?, ?, ?)",
                    error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, al->local, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, al->local_key, -1, SQLITE_STATIC);
    int r = db_exec_stmt(s, st, error_r);
    sqlite3_finalize(st);
    if (r == STORE_OK)
        *id_r = sqlite3_last_insert_rowid(s->db);
    return r;
}

/* Parses the alias and its domain, which must be ours. */
static int locate_alias(struct store *s, struct arena *a, const char *alias,
                        struct store_address *al, int64_t *domain_id, char **error_r)
{
    const char *why;
    if (store_address_parse(a, alias, true, al, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", alias, why);
        return STORE_ERR_INVALID;
    }
    *domain_id = db_domain_id(s, al->domain);
    if (*domain_id <= 0) {
        *error_r = *domain_id < 0 ? db_error(s, "finding the domain")
                                  : xasprintf("%s is not one of our domains (outpost domain add %s)",
                                              al->domain, al->domain);
        return *domain_id < 0 ? STORE_ERR_IO : STORE_ERR_NOT_FOUND;
    }
    return STORE_OK;
}

/* "local@domain" with the domain normalised and the local part as written,
 * and its comparison key (the local part ASCII-lowercased). */
static int normalize_target(struct arena *a, const char *target, char **out, char **key,
                            char **error_r)
{
    struct store_address t;
    const char *why;
    if (store_address_parse(a, target, false, &t, &why) != STORE_OK) {
        *error_r = xasprintf("target %s: %s", target, why);
        return STORE_ERR_INVALID;
    }
    size_t n = strlen(t.local) + 1 + strlen(t.domain) + 1;
    *out = arena_alloc(a, n);
    snprintf(*out, n, "%s@%s", t.local, t.domain);
    *key = arena_alloc(a, n);
    snprintf(*key, n, "%s@%s", t.local_key, t.domain);
    return STORE_OK;
}

int store_alias_add(struct store *s, const char *alias, const char *const *targets, int ntargets,
                    char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_address al;
    int64_t domain_id, alias_id;
    int r = STORE_OK;
    if (ntargets < 1 || ntargets > ALIAS_MAX_TARGETS) {
        *error_r = xasprintf("an alias needs 1 to %d targets", ALIAS_MAX_TARGETS);
        r = STORE_ERR_INVALID;
        goto out;
    }
    if ((r = locate_alias(s, a, alias, &al, &domain_id, error_r)) != STORE_OK)
        goto out;
    char **norm = arena_alloc(a, sizeof(char *) * (size_t)ntargets);
    char **keys = arena_alloc(a, sizeof(char *) * (size_t)ntargets);
    for (int i = 0; i < ntargets; i++)
        if ((r = normalize_target(a, targets[i], &norm[i], &keys[i], error_r)) != STORE_OK)
            goto out;
    if ((r = db_begin(s, error_r)) != STORE_OK)
        goto out;
    /* The address must not be an account's. */
    sqlite3_stmt *st = db_prepare(
        s, "SELECT 1 FROM accounts WHERE domain_id = ? AND localpart_key = ?", error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, al.local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        *error_r = xasprintf("%s@%s is an account; an alias cannot have its address", al.local,
                             al.domain);
        r = STORE_ERR_EXISTS;
        goto rollback;
    }
    if ((r = alias_row(s, domain_id, &al, true, &alias_id, error_r)) != STORE_OK)
        goto rollback;
    st = db_prepare(s,
                    "INSERT OR IGNORE INTO alias_targets (alias_id, target, target_key)"
                    " VALUES (?, ?, ?)",
                    error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    for (int i = 0; i < ntargets && r == STORE_OK; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, alias_id);
        sqlite3_bind_text(st, 2, norm[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, keys[i], -1, SQLITE_STATIC);
        r = db_exec_stmt(s, st, error_r);
    }
    sqlite3_finalize(st);
    if (r != STORE_OK)
        goto rollback;
    st = db_prepare(s, "SELECT count(*) FROM alias_targets WHERE alias_id = ?", error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, alias_id);
    int total = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (total > ALIAS_MAX_TARGETS) {
        *error_r = xasprintf("an alias has at most %d targets", ALIAS_MAX_TARGETS);
        r = STORE_ERR_INVALID;
        goto rollback;
    }
    r = db_commit(s, error_r);
    goto out;
rollback:
    db_rollback(s);
out:
    arena_free(a);
    return r;
}

int store_alias_del(struct store *s, const char *alias, const char *const *targets, int ntargets,
                    char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_address al;
    int64_t domain_id, alias_id;
    int r;
    if ((r = locate_alias(s, a, alias, &al, &domain_id, error_r)) != STORE_OK)
        goto out;
    if ((r = db_begin(s, error_r)) != STORE_OK)
        goto out;
    if ((r = alias_row(s, domain_id, &al, false, &alias_id, error_r)) != STORE_OK)
        goto rollback;
    if (!alias_id) {
        *error_r = xasprintf("no alias %s@%s", al.local, al.domain);
        r = STORE_ERR_NOT_FOUND;
        goto rollback;
    }
    sqlite3_stmt *st;
    for (int i = 0; i < ntargets; i++) {
        char *norm, *key;
        if ((r = normalize_target(a, targets[i], &norm, &key, error_r)) != STORE_OK)
            goto rollback;
        st = db_prepare(s, "DELETE FROM alias_targets WHERE alias_id = ? AND target_key = ?",
                        error_r);
        if (!st) {
            r = STORE_ERR_IO;
            goto rollback;
        }
        sqlite3_bind_int64(st, 1, alias_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        r = db_exec_stmt(s, st, error_r);
        sqlite3_finalize(st);
        if (r != STORE_OK)
            goto rollback;
        if (sqlite3_changes(s->db) == 0) {
            *error_r = xasprintf("%s is not a target of %s@%s", norm, al.local, al.domain);
            r = STORE_ERR_NOT_FOUND;
            goto rollback;
        }
    }
    /* With no targets named, or none left, the alias goes. */
    st = db_prepare(s,
                    "DELETE FROM aliases WHERE id = ?1 AND (?2 OR NOT EXISTS"
                    " (SELECT 1 FROM alias_targets WHERE alias_id = ?1))",
                    error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, alias_id);
    sqlite3_bind_int(st, 2, ntargets == 0);
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

int store_alias_list(struct store *s, const char *domain,
                     int (*cb)(void *ctx, const struct store_alias *al), void *ctx,
                     char **error_r)
{
    struct arena *a = arena_new(0);
    char *name = NULL;
    const char *why;
    int r = STORE_OK;
    if (domain && store_domain_normalize(a, domain, &name, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", domain, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    sqlite3_stmt *st = db_prepare(
        s,
        "SELECT al.id, al.localpart || '@' || d.name, t.target FROM aliases al"
        " JOIN domains d ON d.id = al.domain_id JOIN alias_targets t ON t.alias_id = al.id"
        " WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, al.localpart_key, t.target_key",
        error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    /* Rows come grouped by alias; hand each group over in one call. */
    struct arena *group = arena_new_child(a, 0);
    const char **targets = NULL;
    int ntargets = 0, cap = 0, rc;
    int64_t current = 0;
    char *current_name = NULL;
    bool stopped = false;
    while (!stopped) {
        rc = sqlite3_step(st);
        int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        if (current && id != current) {
            struct store_alias al = { current_name, targets, ntargets };
            stopped = cb(ctx, &al) != 0;
            arena_reset(group);
            ntargets = cap = 0;
            targets = NULL;
        }
        if (rc != SQLITE_ROW)
            break;
        if (id != current) {
            current = id;
            current_name = arena_strdup(group, (const char *)sqlite3_column_text(st, 1));
        }
        if (ntargets == cap) {
            cap = cap ? cap * 2 : 8;
            const char **grown = arena_alloc(group, sizeof(char *) * (size_t)cap);
            if (ntargets)
                memcpy(grown, targets, sizeof(char *) * (size_t)ntargets);
            targets = grown;
        }
        targets[ntargets++] = arena_strdup(group, (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    if (!stopped && rc != SQLITE_DONE) {
        *error_r = db_error(s, "listing aliases");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}
