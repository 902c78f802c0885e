#include "store/db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"

/* The server database's schema. Bump SCHEMA_VERSION and add a step to
 * `migrations` for every change; old databases are upgraded on open. */
#define SCHEMA_VERSION 1

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: domains, accounts, aliases */
    "CREATE TABLE domains ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"           /* lowercase A-label */
    "  created INTEGER NOT NULL"
    ");"
    "CREATE TABLE accounts ("
    /* AUTOINCREMENT: an id is never given again, so a new account can never
     * find a deleted one's mail under data/accounts/<id>. */
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  domain_id INTEGER NOT NULL REFERENCES domains(id),"
    "  localpart TEXT NOT NULL,"             /* as written */
    "  localpart_key TEXT NOT NULL,"         /* ASCII-lowercased */
    "  display_name TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT NOT NULL,"
    "  scram_salt BLOB NOT NULL,"
    "  scram_iterations INTEGER NOT NULL,"
    "  scram_stored_key BLOB NOT NULL,"
    "  scram_server_key BLOB NOT NULL,"
    "  quota_bytes INTEGER NOT NULL DEFAULT 0,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (domain_id, localpart_key)"
    ");"
    "CREATE TABLE aliases ("
    "  id INTEGER PRIMARY KEY,"
    "  domain_id INTEGER NOT NULL REFERENCES domains(id),"
    "  localpart TEXT NOT NULL,"             /* '' for the catch-all */
    "  localpart_key TEXT NOT NULL,"
    "  UNIQUE (domain_id, localpart_key)"
    ");"
    "CREATE TABLE alias_targets ("
    "  alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,"
    "  target TEXT NOT NULL,"                /* local part as written @ A-label */
    "  target_key TEXT NOT NULL,"            /* ASCII-lowercased: one target once */
    "  PRIMARY KEY (alias_id, target_key)"
    ");",
};

char *db_error(struct store *s, const char *what)
{
    return xasprintf("database error %s: %s", what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *db_prepare(struct store *s, const char *sql, char **error_r)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        *error_r = db_error(s, "preparing a query");
        return NULL;
    }
    return st;
}

int db_exec_stmt(struct store *s, sqlite3_stmt *st, char **error_r)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return STORE_OK;
    if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE ||
        sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
        *error_r = xstrdup("already exists");
        return STORE_ERR_EXISTS;
    }
    *error_r = db_error(s, "writing");
    return STORE_ERR_IO;
}

int db_exec(struct store *s, const char *sql, char **error_r)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        *error_r = xasprintf("database error: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int db_begin(struct store *s, char **error_r)
{
    /* IMMEDIATE: take the write lock now, so a concurrent writer waits
     * (busy_timeout) instead of failing halfway through. */
    return db_exec(s, "BEGIN IMMEDIATE", error_r);
}

int db_commit(struct store *s, char **error_r)
{
    int r = db_exec(s, "COMMIT", error_r);
    if (r != STORE_OK)
        db_rollback(s);
    return r;
}

void db_rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t db_domain_id(struct store *s, const char *domain)
{
    char *err = NULL;
    sqlite3_stmt *st = db_prepare(s, "SELECT id FROM domains WHERE name = ?", &err);
    if (!st) {
        free(err);
        return -1;
    }
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : (rc == SQLITE_DONE ? 0 : -1);
    sqlite3_finalize(st);
    return id;
}

int db_address_taken(struct store *s, int64_t domain_id, const char *local_key)
{
    char *err = NULL;
    sqlite3_stmt *st = db_prepare(
        s,
        "SELECT 1 FROM accounts WHERE domain_id = ?1 AND localpart_key = ?2 "
        "UNION ALL SELECT 1 FROM aliases WHERE domain_id = ?1 AND localpart_key = ?2",
        &err);
    if (!st) {
        free(err);
        return -1;
    }
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int migrate(struct store *s, char **error_r)
{
    sqlite3_stmt *st = db_prepare(s, "PRAGMA user_version", error_r);
    if (!st)
        return STORE_ERR_IO;
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        *error_r = xasprintf("the database is of a newer outpost (schema %d; this one knows %d)",
                             version, SCHEMA_VERSION);
        return STORE_ERR_IO;
    }
    if (version == SCHEMA_VERSION)
        return STORE_OK;
    if (db_begin(s, error_r) != STORE_OK)
        return STORE_ERR_IO;
    /* Another process may have migrated between our read and the lock. */
    st = db_prepare(s, "PRAGMA user_version", error_r);
    if (!st) {
        db_rollback(s);
        return STORE_ERR_IO;
    }
    version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (version >= SCHEMA_VERSION)
        return db_commit(s, error_r);
    for (int v = version; v < SCHEMA_VERSION; v++) {
        if (db_exec(s, migrations[v], error_r) != STORE_OK) {
            db_rollback(s);
            return STORE_ERR_IO;
        }
    }
    char *set = xasprintf("PRAGMA user_version = %d", SCHEMA_VERSION);
    int r = db_exec(s, set, error_r);
    free(set);
    if (r != STORE_OK) {
        db_rollback(s);
        return r;
    }
    return db_commit(s, error_r);
}

int store_open(const struct store_options *opt, struct store **out, char **error_r)
{
    *out = NULL;
    if (mkdir(opt->data_dir, 0700) < 0 && errno != EEXIST) {
        *error_r = xasprintf("%s: %s", opt->data_dir, strerror(errno));
        return STORE_ERR_IO;
    }
    struct store *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->qlock, NULL);
    pthread_mutex_init(&s->pool_lock, NULL);
    s->subaddress_separators =
        xstrdup(opt->subaddress_separators ? opt->subaddress_separators : "+");
    s->data_dir = xstrdup(opt->data_dir);
    s->quota_permanent = opt->quota_permanent;
    s->index_delay_ms = 1000; /* see store_set_index_delay */
    char *path = xasprintf("%s/outpost.db", opt->data_dir);
    int rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        /* SQLite opens files by their absolute path, so every directory
         * above the data directory must be searchable by this user. */
        char cwd[4096];
        char *abs = getcwd(cwd, sizeof(cwd)) ? xasprintf("%s/%s", cwd, opt->data_dir)
                                             : xstrdup(opt->data_dir);
        if (opt->data_dir[0] == '/') {
            free(abs);
            abs = xstrdup(opt->data_dir);
        }
        if (access(abs, R_OK | W_OK | X_OK) < 0 && errno == EACCES)
            *error_r = xasprintf("%s: %s (uid %d cannot reach %s: every directory above it must "
                                 "be searchable by this user)", path,
                                 s->db ? sqlite3_errmsg(s->db) : "cannot open", (int)getuid(), abs);
        else
            *error_r = xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        free(abs);
        free(path);
        store_close(s);
        return STORE_ERR_IO;
    }
    /* WAL: readers never wait for the writer. synchronous=FULL: a change
     * is on disk when its transaction returns (directory changes are rare;
     * message appends get group commit instead). */
    sqlite3_busy_timeout(s->db, 10000);
    char *err = NULL;
    if (db_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                   "PRAGMA foreign_keys = ON;", &err) != STORE_OK ||
        migrate(s, &err) != STORE_OK) {
        *error_r = xasprintf("%s: %s", path, err);
        free(err);
        free(path);
        store_close(s);
        return STORE_ERR_IO;
    }
    free(path);
    *out = s;
    return STORE_OK;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    committer_free(s->committer);
    pool_free(s);
    pthread_mutex_destroy(&s->pool_lock);
    hub_free(s->hub);
    sqlite3_close(s->db);
    queue_close(s);
    pthread_mutex_destroy(&s->qlock);
    free(s->data_dir);
    free(s->subaddress_separators);
    free(s);
}
