/* Opening an account's mail index (see store.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"
#include "store/db.h"
#include "store/fs.h"

#define ACCT_SCHEMA_VERSION 5
#define ACCT_CACHE_KB "128"

static const char *const acct_migrations[ACCT_SCHEMA_VERSION] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE mailboxes ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  special_use TEXT NOT NULL DEFAULT '',"
    "  uidvalidity INTEGER NOT NULL,"
    "  uidnext INTEGER NOT NULL DEFAULT 1,"
    "  highestmodseq INTEGER NOT NULL DEFAULT 1,"
    "  noselect INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE subscriptions (name TEXT PRIMARY KEY);"
    /* One row per message file; `refs` counts the messages using it. The
     * MIME structure (mime_serialize) is kept so FETCH never re-parses. */
    "CREATE TABLE files ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  size INTEGER NOT NULL,"
    "  refs INTEGER NOT NULL DEFAULT 0,"
    "  structure BLOB"
    ");"
    /* Full-text index of each file's decoded headers and text parts
     * (rowid = files.id); trigrams give IMAP SEARCH its substring match. */
    "CREATE VIRTUAL TABLE fts USING fts5(text, tokenize = 'trigram');"
    "CREATE TRIGGER files_fts_delete AFTER DELETE ON files BEGIN"
    "  DELETE FROM fts WHERE rowid = OLD.id; END;"
    "CREATE TABLE messages ("
    "  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
    "  uid INTEGER NOT NULL,"
    "  file TEXT NOT NULL REFERENCES files(name),"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  keywords TEXT NOT NULL DEFAULT '',"
    "  internal_date INTEGER NOT NULL,"
    "  modseq INTEGER NOT NULL,"
    "  PRIMARY KEY (mailbox_id, uid)"
    ") WITHOUT ROWID;"
    "CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);"
    /* Bytes in use, kept current by triggers so a quota check is one read. */
    "INSERT INTO meta (key, value) VALUES ('usage', 0);"
    "CREATE TRIGGER files_usage_add AFTER INSERT ON files BEGIN"
    "  UPDATE meta SET value = value + NEW.size WHERE key = 'usage'; END;"
    "CREATE TRIGGER files_usage_sub AFTER DELETE ON files BEGIN"
    "  UPDATE meta SET value = value - OLD.size WHERE key = 'usage'; END;"
    "CREATE TRIGGER messages_ref AFTER INSERT ON messages BEGIN"
    "  UPDATE files SET refs = refs + 1 WHERE name = NEW.file; END;"
    "CREATE TRIGGER messages_unref AFTER DELETE ON messages BEGIN"
    "  UPDATE files SET refs = refs - 1 WHERE name = OLD.file; END;"
    /* Expunged UIDs with the MODSEQ of their expunge (QRESYNC). */
    "CREATE TABLE vanished ("
    "  mailbox_id INTEGER NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  modseq INTEGER NOT NULL,"
    "  PRIMARY KEY (mailbox_id, uid)"
    ") WITHOUT ROWID;"
    "CREATE INDEX vanished_modseq ON vanished (mailbox_id, modseq);",
    /* 2: the full-text index is built off the append's path. An append
     * marks its file here; store_acct_index_pending moves it into fts. A
     * v1 index has every file in fts already, so nothing is pending. */
    "CREATE TABLE fts_pending (file_id INTEGER PRIMARY KEY);"
    "CREATE TRIGGER files_fts_pending_delete AFTER DELETE ON files BEGIN"
    "  DELETE FROM fts_pending WHERE file_id = OLD.id; END;",
    /* 3: from a file to its messages, so a full-text search starts from
     * the index's few hits instead of probing the index once per message
     * of the mailbox (store_message_search). */
    "CREATE INDEX messages_file ON messages (file, mailbox_id);",
    /* 4: \Recent (IMAP4rev1): the first UID no session has been told is
     * recent (store_mailbox_recent). Mail already there is not new. */
    ("ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;"
     "UPDATE mailboxes SET recent_uid = uidnext;"),
    /* 5: a file's size with every line ended by CRLF (what POP3 sends and
     * announces), learnt the first time POP3 reads it; NULL until then. */
    "ALTER TABLE files ADD COLUMN wire_size INTEGER;",
};

/* The mailboxes every account starts with (RFC 6154 special use). */
static const struct {
    const char *name, *special;
} default_mailboxes[] = {
    { "INBOX", "" },      { "Sent", "\\Sent" },   { "Drafts", "\\Drafts" },
    { "Junk", "\\Junk" }, { "Trash", "\\Trash" }, { "Archive", "\\Archive" },
};

char *acct_error(struct store_acct *acct, const char *what)
{
    return xasprintf("database error %s: %s", what, sqlite3_errmsg(acct->db));
}

/* Prepared statements are kept per handle (and handles are pooled), so a
 * query runs without being compiled again: parsing and planning were a fifth
 * of an IMAP session's CPU. A small LRU table; a statement already in use
 * (the same query nested) gets a fresh uncached one. */
sqlite3_stmt *acct_prepare(struct store_acct *acct, const char *sql, char **error_r)
{
    struct acct_stmt *slot = NULL;
    for (unsigned i = 0; i < ACCT_STMT_CACHE; i++) {
        struct acct_stmt *c = &acct->stmts[i];
        if (c->st && !c->busy && !strcmp(sqlite3_sql(c->st), sql)) {
            c->busy = true;
            c->used = ++acct->stmt_clock;
            return c->st;
        }
        /* The slot to fill on a miss: an empty one, else the least
         * recently used one not in use. */
        if (!c->busy && (!slot || (slot->st && (!c->st || c->used < slot->used))))
            slot = c;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(acct->db, sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
        SQLITE_OK) {
        *error_r = acct_error(acct, "preparing a query");
        return NULL;
    }
    if (slot) {
        sqlite3_finalize(slot->st);
        slot->st = st;
        slot->busy = true;
        slot->used = ++acct->stmt_clock;
    }
    return st;
}

void acct_finish(struct store_acct *acct, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (unsigned i = 0; i < ACCT_STMT_CACHE; i++) {
        struct acct_stmt *c = &acct->stmts[i];
        if (c->st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

int acct_exec(struct store_acct *acct, const char *sql, char **error_r)
{
    char *msg = NULL;
    if (sqlite3_exec(acct->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        *error_r = xasprintf("database error: %s", msg ? msg : sqlite3_errmsg(acct->db));
        sqlite3_free(msg);
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int acct_begin(struct store_acct *acct, char **error_r)
{
    return acct_exec(acct, "BEGIN IMMEDIATE", error_r);
}

void acct_set_fsync(struct store_acct *acct, bool on)
{
    /* WAL mode: NORMAL syncs nothing at commit; the next FULL commit (or a
     * checkpoint) carries the change to disk. Setting this pragma on an
     * open connection cannot fail. */
    sqlite3_exec(acct->db, on ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                 NULL, NULL, NULL);
}

void acct_rollback(struct store_acct *acct)
{
    if (!sqlite3_get_autocommit(acct->db))
        sqlite3_exec(acct->db, "ROLLBACK", NULL, NULL, NULL);
}

int acct_commit(struct store_acct *acct, char **error_r)
{
    int r = acct_exec(acct, "COMMIT", error_r);
    if (r != STORE_OK)
        acct_rollback(acct);
    return r;
}

void acct_collect_files(struct store_acct *acct)
{
    char *err = NULL;
    sqlite3_stmt *st = acct_prepare(acct, "SELECT name FROM files WHERE refs <= 0", &err);
    if (!st) {
        free(err);
        return;
    }
    /* The file goes first, then its row: a crash in between leaves a row
     * whose file is gone and refs 0, which the next collection removes. */
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        char *path = xasprintf("%s/%.2s/%s", acct->msg_dir, name, name);
        if (store_fs->unlink(path) < 0 && errno != ENOENT) {
            free(path);
            continue;
        }
        free(path);
        sqlite3_stmt *del = acct_prepare(acct, "DELETE FROM files WHERE name = ? AND refs <= 0",
                                         &err);
        if (del) {
            sqlite3_bind_text(del, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_step(del);
            acct_finish(acct, del);
        } else {
            free(err);
            err = NULL;
        }
    }
    acct_finish(acct, st);
}

static int acct_migrate(struct store_acct *acct, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(acct, "PRAGMA user_version", error_r);
    if (!st)
        return STORE_ERR_IO;
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    acct_finish(acct, st);
    if (version > ACCT_SCHEMA_VERSION) {
        *error_r = xasprintf("the account index is of a newer outpost (schema %d)", version);
        return STORE_ERR_IO;
    }
    if (version == ACCT_SCHEMA_VERSION)
        return STORE_OK;
    if (acct_begin(acct, error_r) != STORE_OK)
        return STORE_ERR_IO;
    /* Another process may have migrated between our read and the lock. */
    st = acct_prepare(acct, "PRAGMA user_version", error_r);
    if (!st) {
        acct_rollback(acct);
        return STORE_ERR_IO;
    }
    version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    acct_finish(acct, st);
    if (version >= ACCT_SCHEMA_VERSION)
        return acct_commit(acct, error_r);
    for (int v = version; v < ACCT_SCHEMA_VERSION; v++)
        if (acct_exec(acct, acct_migrations[v], error_r) != STORE_OK)
            goto fail;
    char *set = xasprintf("PRAGMA user_version = %d", ACCT_SCHEMA_VERSION);
    int r = acct_exec(acct, set, error_r);
    free(set);
    if (r != STORE_OK)
        goto fail;
    if (version == 0) {
        for (size_t i = 0; i < sizeof(default_mailboxes) / sizeof(default_mailboxes[0]); i++) {
            /* Inside the same transaction: an account never exists without
             * its INBOX. */
            if (store_mailbox_create(acct, default_mailboxes[i].name, default_mailboxes[i].special,
                                     error_r) != STORE_OK ||
                store_mailbox_subscribe(acct, default_mailboxes[i].name, true, error_r) != STORE_OK)
                goto fail;
        }
    }
    return acct_commit(acct, error_r);
fail:
    acct_rollback(acct);
    return STORE_ERR_IO;
}

static int make_dir(const char *path, char **error_r)
{
    if (store_fs->mkdir(path, 0700) < 0 && errno != EEXIST) {
        *error_r = xasprintf("%s: %s", path, strerror(errno));
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int store_acct_open(struct store *s, int64_t account_id, struct store_acct **out, char **error_r)
{
    *out = NULL;
    struct store_acct *acct = xcalloc(1, sizeof(*acct));
    acct->store = s;
    acct->id = account_id;
    char *accounts = xasprintf("%s/accounts", s->data_dir);
    acct->dir = xasprintf("%s/%lld", accounts, (long long)account_id);
    acct->msg_dir = xasprintf("%s/msg", acct->dir);
    int r = make_dir(accounts, error_r);
    free(accounts);
    if (r == STORE_OK)
        r = make_dir(acct->dir, error_r);
    if (r == STORE_OK)
        r = make_dir(acct->msg_dir, error_r);
    if (r != STORE_OK) {
        store_acct_close(acct);
        return r;
    }
    char *path = xasprintf("%s/index.db", acct->dir);
    int rc = sqlite3_open_v2(path, &acct->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        *error_r = xasprintf("%s: %s", path, acct->db ? sqlite3_errmsg(acct->db) : "cannot open");
        free(path);
        store_acct_close(acct);
        return STORE_ERR_IO;
    }
    free(path);
    sqlite3_busy_timeout(acct->db, 10000);
    char *err = NULL;
    /* A small page cache: the pool keeps many handles open, and the file's
     * pages are in the kernel's cache anyway (a miss costs a pread, not a
     * disk read). SQLite's default is 2 MB per connection. */
    if (acct_exec(acct, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                        " PRAGMA foreign_keys = ON; PRAGMA cache_size = -" ACCT_CACHE_KB ";",
                  &err) != STORE_OK ||
        acct_migrate(acct, &err) != STORE_OK) {
        *error_r = xasprintf("account %lld: %s", (long long)account_id, err);
        free(err);
        store_acct_close(acct);
        return STORE_ERR_IO;
    }
    /* The quota, from the server database (changes apply at the next open). */
    sqlite3_stmt *q = db_prepare(s, "SELECT quota_bytes FROM accounts WHERE id = ?", &err);
    if (q) {
        sqlite3_bind_int64(q, 1, account_id);
        if (sqlite3_step(q) == SQLITE_ROW)
            acct->quota = (unsigned long long)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    } else {
        free(err);
    }
    acct_collect_files(acct);
    *out = acct;
    return STORE_OK;
}

int store_acct_clean_orphans(struct store_acct *acct, unsigned min_age, unsigned *removed,
                             char **error_r)
{
    *removed = 0;
    DIR *top = opendir(acct->msg_dir);
    if (!top) {
        *error_r = xasprintf("%s: %s", acct->msg_dir, strerror(errno));
        return STORE_ERR_IO;
    }
    sqlite3_stmt *known = acct_prepare(acct, "SELECT 1 FROM files WHERE name = ?", error_r);
    if (!known) {
        closedir(top);
        return STORE_ERR_IO;
    }
    time_t cutoff = time(NULL) - (time_t)min_age;
    struct dirent *d;
    while ((d = readdir(top))) {
        if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
            continue;
        char *sub = xasprintf("%s/%s", acct->msg_dir, d->d_name);
        DIR *dd = opendir(sub);
        struct dirent *f;
        while (dd && (f = readdir(dd))) {
            if (f->d_name[0] == '.')
                continue;
            char *path = xasprintf("%s/%s", sub, f->d_name);
            struct stat st;
            bool orphan = false;
            if (stat(path, &st) == 0 && st.st_mtime <= cutoff) {
                if (strstr(f->d_name, ".tmp")) {
                    orphan = true;
                } else {
                    sqlite3_reset(known);
                    sqlite3_bind_text(known, 1, f->d_name, -1, SQLITE_TRANSIENT);
                    orphan = sqlite3_step(known) == SQLITE_DONE;
                }
            }
            if (orphan && store_fs->unlink(path) == 0)
                (*removed)++;
            free(path);
        }
        if (dd)
            closedir(dd);
        free(sub);
    }
    acct_finish(acct, known);
    closedir(top);
    return STORE_OK;
}

char *acct_msg_dir(struct store *s, int64_t account_id, char **error_r)
{
    char *accounts = xasprintf("%s/accounts", s->data_dir);
    char *dir = xasprintf("%s/%lld", accounts, (long long)account_id);
    char *msg = xasprintf("%s/msg", dir);
    int r = make_dir(accounts, error_r);
    if (r == STORE_OK)
        r = make_dir(dir, error_r);
    if (r == STORE_OK)
        r = make_dir(msg, error_r);
    free(accounts);
    free(dir);
    if (r != STORE_OK) {
        free(msg);
        return NULL;
    }
    return msg;
}

void store_acct_close(struct store_acct *acct)
{
    if (!acct)
        return;
    for (unsigned i = 0; i < ACCT_STMT_CACHE; i++)
        sqlite3_finalize(acct->stmts[i].st);
    sqlite3_close(acct->db);
    free(acct->dir);
    free(acct->msg_dir);
    free(acct);
}

int store_acct_usage(struct store_acct *acct, unsigned long long *quota_r, uint64_t *used_r,
                     char **error_r)
{
    /* meta.usage is kept by triggers: one read, whatever the mailbox sizes. */
    sqlite3_stmt *st = acct_prepare(acct, "SELECT value FROM meta WHERE key = 'usage'", error_r);
    if (!st)
        return STORE_ERR_IO;
    int rc = sqlite3_step(st);
    int64_t used = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    acct_finish(acct, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "reading the usage");
        return STORE_ERR_IO;
    }
    *quota_r = acct->quota;
    *used_r = used > 0 ? (uint64_t)used : 0;
    return STORE_OK;
}
