/* Accounts (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"
#include "store/db.h"

/* Parses `address` and finds its domain; on failure sets *error_r. */
static int locate(struct store *s, struct arena *a, const char *address,
                  struct store_address *addr, int64_t *domain_id, char **error_r)
{
    const char *why;
    if (store_address_parse(a, address, false, addr, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", address, why);
        return STORE_ERR_INVALID;
    }
    *domain_id = db_domain_id(s, addr->domain);
    if (*domain_id < 0) {
        *error_r = db_error(s, "finding the domain");
        return STORE_ERR_IO;
    }
    if (*domain_id == 0) {
        *error_r = xasprintf("%s is not one of our domains (outpost domain add %s)", addr->domain,
                             addr->domain);
        return STORE_ERR_NOT_FOUND;
    }
    return STORE_OK;
}

int store_account_add(struct store *s, const char *address, const char *display_name,
                      const struct auth_credentials *cred, unsigned long long quota,
                      int64_t *id_r, char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_address addr;
    int64_t domain_id;
    int r = locate(s, a, address, &addr, &domain_id, error_r);
    if (r != STORE_OK)
        goto out;
    if ((r = db_begin(s, error_r)) != STORE_OK)
        goto out;
    int taken = db_address_taken(s, domain_id, addr.local_key);
    if (taken != 0) {
        db_rollback(s);
        *error_r = taken < 0 ? db_error(s, "checking the address")
                             : xasprintf("%s@%s exists already (as an account or alias)",
                                         addr.local, addr.domain);
        r = taken < 0 ? STORE_ERR_IO : STORE_ERR_EXISTS;
        goto out;
    }
    sqlite3_stmt *st = db_prepare(
        s,
        "INSERT INTO accounts (domain_id, localpart, localpart_key, display_name, password_hash,"
        " scram_salt, scram_iterations, scram_stored_key, scram_server_key, quota_bytes, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        error_r);
    if (!st) {
        db_rollback(s);
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, addr.local, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, addr.local_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, display_name ? display_name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, cred->hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, cred->scram_salt, sizeof(cred->scram_salt), SQLITE_STATIC);
    sqlite3_bind_int(st, 7, (int)cred->scram_iterations);
    sqlite3_bind_blob(st, 8, cred->scram_stored_key, sizeof(cred->scram_stored_key), SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, cred->scram_server_key, sizeof(cred->scram_server_key), SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, (int64_t)quota);
    sqlite3_bind_int64(st, 11, (int64_t)time(NULL));
    r = db_exec_stmt(s, st, error_r);
    sqlite3_finalize(st);
    if (r != STORE_OK) {
        db_rollback(s);
        goto out;
    }
    if (id_r)
        *id_r = sqlite3_last_insert_rowid(s->db);
    r = db_commit(s, error_r);
out:
    arena_free(a);
    return r;
}

/* Runs an UPDATE or DELETE on one account: `sql` has the account's domain id
 * as ?1, its local key as ?2, and optionally one more value bound by `bind`. */
static int change_account(struct store *s, const char *address, const char *sql,
                          void (*bind)(sqlite3_stmt *st, const void *arg), const void *arg,
                          char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_address addr;
    int64_t domain_id;
    int r = locate(s, a, address, &addr, &domain_id, error_r);
    if (r != STORE_OK)
        goto out;
    sqlite3_stmt *st = db_prepare(s, sql, error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, addr.local_key, -1, SQLITE_STATIC);
    if (bind)
        bind(st, arg);
    r = db_exec_stmt(s, st, error_r);
    sqlite3_finalize(st);
    if (r == STORE_OK && sqlite3_changes(s->db) == 0) {
        *error_r = xasprintf("no account %s@%s", addr.local, addr.domain);
        r = STORE_ERR_NOT_FOUND;
    }
out:
    arena_free(a);
    return r;
}

int store_account_del(struct store *s, const char *address, char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_account acct;
    int r = store_account_get(s, a, address, &acct, error_r);
    if (r == STORE_OK)
        r = change_account(s, address,
                           "DELETE FROM accounts WHERE domain_id = ?1 AND localpart_key = ?2",
                           NULL, NULL, error_r);
    if (r == STORE_OK) {
        /* The mail is set aside, not destroyed: an account deleted by
         * mistake can be recovered by hand (docs/cli.md). */
        char *from = xasprintf("%s/accounts/%lld", s->data_dir, (long long)acct.id);
        char *to = xasprintf("%s/accounts/%lld.deleted-%lld", s->data_dir, (long long)acct.id,
                             (long long)time(NULL));
        /* No mail yet (ENOENT) or a failed rename: the account is gone
         * either way, and its id is never reused. */
        (void)rename(from, to);
        free(from);
        free(to);
    }
    arena_free(a);
    return r;
}

static void bind_credentials(sqlite3_stmt *st, const void *arg)
{
    const struct auth_credentials *c = arg;
    sqlite3_bind_text(st, 3, c->hash, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->scram_salt, sizeof(c->scram_salt), SQLITE_STATIC);
    sqlite3_bind_int(st, 5, (int)c->scram_iterations);
    sqlite3_bind_blob(st, 6, c->scram_stored_key, sizeof(c->scram_stored_key), SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, c->scram_server_key, sizeof(c->scram_server_key), SQLITE_STATIC);
}

int store_account_set_credentials(struct store *s, const char *address,
                                  const struct auth_credentials *cred, char **error_r)
{
    return change_account(s, address,
                          "UPDATE accounts SET password_hash = ?3, scram_salt = ?4,"
                          " scram_iterations = ?5, scram_stored_key = ?6, scram_server_key = ?7"
                          " WHERE domain_id = ?1 AND localpart_key = ?2",
                          bind_credentials, cred, error_r);
}

static void bind_flag(sqlite3_stmt *st, const void *arg)
{
    sqlite3_bind_int(st, 3, *(const bool *)arg ? 1 : 0);
}

int store_account_set_disabled(struct store *s, const char *address, bool disabled,
                               char **error_r)
{
    return change_account(s, address,
                          "UPDATE accounts SET disabled = ?3 WHERE domain_id = ?1 AND"
                          " localpart_key = ?2",
                          bind_flag, &disabled, error_r);
}

#define ACCOUNT_COLUMNS \
    "a.id, a.localpart || '@' || d.name, a.display_name, a.quota_bytes, a.disabled"

static void row_to_account(sqlite3_stmt *st, struct store_account *out)
{
    out->id = sqlite3_column_int64(st, 0);
    out->address = (const char *)sqlite3_column_text(st, 1);
    out->display_name = (const char *)sqlite3_column_text(st, 2);
    out->quota = (unsigned long long)sqlite3_column_int64(st, 3);
    out->disabled = sqlite3_column_int(st, 4) != 0;
}

int store_account_get(struct store *s, struct arena *a, const char *address,
                      struct store_account *out, char **error_r)
{
    struct store_address addr;
    const char *why;
    if (store_address_parse(a, address, false, &addr, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", address, why);
        return STORE_ERR_INVALID;
    }
    sqlite3_stmt *st = db_prepare(s,
                                  "SELECT " ACCOUNT_COLUMNS " FROM accounts a JOIN domains d ON"
                                  " d.id = a.domain_id WHERE d.name = ? AND a.localpart_key = ?",
                                  error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_text(st, 1, addr.domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr.local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), r = STORE_OK;
    if (rc == SQLITE_ROW) {
        row_to_account(st, out);
        out->address = arena_strdup(a, out->address);
        out->display_name = arena_strdup(a, out->display_name);
    } else if (rc == SQLITE_DONE) {
        *error_r = xasprintf("no account %s@%s", addr.local, addr.domain);
        r = STORE_ERR_NOT_FOUND;
    } else {
        *error_r = db_error(s, "reading an account");
        r = STORE_ERR_IO;
    }
    sqlite3_finalize(st);
    return r;
}

int store_account_credentials(struct store *s, const char *address,
                              struct auth_credentials *out, char **error_r)
{
    struct arena *a = arena_new(0);
    struct store_address addr;
    const char *why;
    int r = STORE_OK;
    memset(out, 0, sizeof(*out));
    if (store_address_parse(a, address, false, &addr, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", address, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    sqlite3_stmt *st = db_prepare(
        s,
        "SELECT a.password_hash, a.scram_salt, a.scram_iterations, a.scram_stored_key,"
        " a.scram_server_key FROM accounts a JOIN domains d ON d.id = a.domain_id"
        " WHERE d.name = ? AND a.localpart_key = ? AND a.disabled = 0",
        error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, addr.domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, addr.local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == AUTH_SCRAM_SALT_LEN &&
        sqlite3_column_bytes(st, 3) == AUTH_SCRAM_KEY_LEN &&
        sqlite3_column_bytes(st, 4) == AUTH_SCRAM_KEY_LEN &&
        sqlite3_column_bytes(st, 0) < AUTH_HASH_MAX) {
        memcpy(out->hash, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        memcpy(out->scram_salt, sqlite3_column_blob(st, 1), AUTH_SCRAM_SALT_LEN);
        out->scram_iterations = (unsigned)sqlite3_column_int(st, 2);
        memcpy(out->scram_stored_key, sqlite3_column_blob(st, 3), AUTH_SCRAM_KEY_LEN);
        memcpy(out->scram_server_key, sqlite3_column_blob(st, 4), AUTH_SCRAM_KEY_LEN);
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *error_r = xasprintf("no usable account %s@%s", addr.local, addr.domain);
        r = STORE_ERR_NOT_FOUND;
    } else {
        *error_r = db_error(s, "reading credentials");
        r = STORE_ERR_IO;
    }
    sqlite3_finalize(st);
out:
    arena_free(a);
    return r;
}

int store_account_list(struct store *s, const char *domain,
                       int (*cb)(void *ctx, const struct store_account *acct), void *ctx,
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
    sqlite3_stmt *st = db_prepare(s,
                                  "SELECT " ACCOUNT_COLUMNS " FROM accounts a JOIN domains d ON"
                                  " d.id = a.domain_id WHERE ?1 IS NULL OR d.name = ?1"
                                  " ORDER BY d.name, a.localpart_key",
                                  error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_account acct;
        row_to_account(st, &acct);
        if (cb(ctx, &acct))
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = db_error(s, "listing accounts");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}
