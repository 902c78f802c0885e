/* The outbound queue: data/queue/queue.db and data/queue/msg/ (see store.h).
 *
 * A separate database from outpost.db so that a busy queue never holds the
 * directory's write lock (the CLI and recipient lookups use that one). Its
 * connection is shared by worker threads, so qlock serialises transactions
 * on it. The message file is written and fsync'd first, then the rows go in
 * one transaction; a crash in between leaves a file no row names, which is
 * harmless (the queue runner will sweep such files). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/workers.h"
#include "store/db.h"
#include "store/fs.h"

#define QUEUE_SCHEMA_VERSION 1

static const char queue_schema[] =
    "CREATE TABLE queue_messages ("
    "  id TEXT PRIMARY KEY,"
    "  sender TEXT NOT NULL,"
    "  account_id INTEGER NOT NULL DEFAULT 0,"
    "  origin TEXT NOT NULL,"
    "  envid TEXT,"
    "  ret INTEGER NOT NULL DEFAULT 0,"
    "  body INTEGER NOT NULL DEFAULT 0,"
    "  smtputf8 INTEGER NOT NULL DEFAULT 0,"
    "  requiretls INTEGER NOT NULL DEFAULT 0,"
    "  size INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  held INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE queue_recipients ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,"
    "  address TEXT NOT NULL,"
    "  notify INTEGER NOT NULL DEFAULT 0,"
    "  orcpt_type TEXT,"
    "  orcpt TEXT,"
    "  state TEXT NOT NULL DEFAULT 'queued',"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL,"
    "  last_reply TEXT);"
    "CREATE INDEX queue_recipients_message ON queue_recipients(message_id);"
    "CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);"
    "PRAGMA user_version = 1;";

static char *queue_dir(struct store *s)
{
    return xasprintf("%s/queue", s->data_dir);
}

static char *qerror(struct store *s, const char *what)
{
    return xasprintf("queue database: %s: %s", what, sqlite3_errmsg(s->qdb));
}

/* Opens (and creates) the queue database; call with qlock held. */
static int queue_open(struct store *s, char **error_r)
{
    if (s->qdb)
        return STORE_OK;
    /* queue/ and queue/msg/ are made durably once, here: a message file
     * under them is acknowledged only if their entries survive a crash. */
    char *dir = queue_dir(s);
    char *msg = xasprintf("%s/msg", dir);
    int made = 0;
    if (store_fs->mkdir(dir, 0700) == 0)
        made |= 1;
    else if (errno != EEXIST)
        goto dir_fail;
    if (store_fs->mkdir(msg, 0700) == 0)
        made |= 2;
    else if (errno != EEXIST)
        goto dir_fail;
    if (((made & 1) && store_fs_sync_dir(s->data_dir) < 0) ||
        ((made & 2) && store_fs_sync_dir(dir) < 0))
        goto dir_fail;
    free(msg);
    char *path = xasprintf("%s/queue.db", dir);
    free(dir);
    int rc = sqlite3_open_v2(path, &s->qdb,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        *error_r = xasprintf("%s: %s", path, s->qdb ? sqlite3_errmsg(s->qdb) : "cannot open");
        free(path);
        sqlite3_close(s->qdb);
        s->qdb = NULL;
        return STORE_ERR_IO;
    }
    free(path);
    sqlite3_busy_timeout(s->qdb, 10000);
    char *emsg = NULL;
    if (sqlite3_exec(s->qdb, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                             "PRAGMA foreign_keys = ON;", NULL, NULL, &emsg) != SQLITE_OK)
        goto fail;
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(s->qdb, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > QUEUE_SCHEMA_VERSION) {
        *error_r = xasprintf("the queue database is of a newer outpost (schema %d)", version);
        sqlite3_close(s->qdb);
        s->qdb = NULL;
        return STORE_ERR_IO;
    }
    if (version < QUEUE_SCHEMA_VERSION) {
        if (sqlite3_exec(s->qdb, "BEGIN IMMEDIATE", NULL, NULL, &emsg) != SQLITE_OK)
            goto fail;
        /* Another process may have made it meanwhile. */
        version = 0;
        if (sqlite3_prepare_v2(s->qdb, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version < QUEUE_SCHEMA_VERSION &&
            sqlite3_exec(s->qdb, queue_schema, NULL, NULL, &emsg) != SQLITE_OK) {
            sqlite3_exec(s->qdb, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
        if (sqlite3_exec(s->qdb, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK)
            goto fail;
    }
    return STORE_OK;
fail:
    *error_r = xasprintf("queue database: %s", emsg ? emsg : sqlite3_errmsg(s->qdb));
    sqlite3_free(emsg);
    sqlite3_close(s->qdb);
    s->qdb = NULL;
    return STORE_ERR_IO;
dir_fail:
    *error_r = xasprintf("%s: %s", dir, strerror(errno));
    free(dir);
    free(msg);
    return STORE_ERR_IO;
}

void queue_close(struct store *s)
{
    if (s->qdb)
        sqlite3_close(s->qdb);
    s->qdb = NULL;
}

static int insert_rows(struct store *s, const struct store_queue_msg *m, const char *id,
                       char **error_r)
{
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);
    if (sqlite3_prepare_v2(s->qdb,
                           "INSERT INTO queue_messages (id, sender, account_id, origin, envid, "
                           "ret, body, smtputf8, requiretls, size, created) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->sender ? m->sender : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, m->account_id);
    sqlite3_bind_text(st, 4, m->origin ? m->origin : "submission", -1, SQLITE_STATIC);
    if (m->envid)
        sqlite3_bind_text(st, 5, m->envid, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, m->ret);
    sqlite3_bind_int(st, 7, m->body);
    sqlite3_bind_int(st, 8, m->smtputf8);
    sqlite3_bind_int(st, 9, m->requiretls);
    sqlite3_bind_int64(st, 10, (int64_t)m->len);
    sqlite3_bind_int64(st, 11, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->qdb,
                           "INSERT INTO queue_recipients (message_id, address, notify, "
                           "orcpt_type, orcpt, next_attempt) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < m->nrcpts; i++) {
        const struct store_queue_rcpt *r = &m->rcpts[i];
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->address, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)r->notify);
        if (r->orcpt_type)
            sqlite3_bind_text(st, 4, r->orcpt_type, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        if (r->orcpt)
            sqlite3_bind_text(st, 5, r->orcpt, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 5);
        sqlite3_bind_int64(st, 6, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(st);
    return STORE_OK;
fail:
    *error_r = qerror(s, "cannot queue the message");
    sqlite3_finalize(st);
    return STORE_ERR_IO;
}

int store_queue_add(struct store *s, const struct store_queue_msg *m,
                    char id[STORE_QUEUE_ID_LEN + 1], char **error_r)
{
    if (m->nrcpts <= 0) {
        *error_r = xstrdup("no recipients");
        return STORE_ERR_INVALID;
    }
    pthread_mutex_lock(&s->qlock);
    int r = queue_open(s, error_r);
    pthread_mutex_unlock(&s->qlock);
    if (r != STORE_OK)
        return r;
    char *dir = xasprintf("%s/queue/msg", s->data_dir);
    /* The file first, durably; its name is the queue id. */
    r = message_write_file(dir, m->data, m->len, id, error_r);
    if (r != STORE_OK) {
        free(dir);
        return r;
    }
    pthread_mutex_lock(&s->qlock);
    if (sqlite3_exec(s->qdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        *error_r = qerror(s, "cannot queue the message");
        r = STORE_ERR_IO;
    } else if ((r = insert_rows(s, m, id, error_r)) != STORE_OK) {
        sqlite3_exec(s->qdb, "ROLLBACK", NULL, NULL, NULL);
    } else if (sqlite3_exec(s->qdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        *error_r = qerror(s, "cannot queue the message");
        sqlite3_exec(s->qdb, "ROLLBACK", NULL, NULL, NULL);
        r = STORE_ERR_IO;
    }
    pthread_mutex_unlock(&s->qlock);
    if (r != STORE_OK)
        message_unlink_file(dir, id);
    free(dir);
    return r;
}

struct queue_op {
    struct store *s;
    const struct store_queue_msg *m;
    store_queue_done_fn done;
    void *ctx;
    int result;
    char id[STORE_QUEUE_ID_LEN + 1];
    char *error;
};

static void queue_job(void *arg)
{
    struct queue_op *op = arg;
    op->result = store_queue_add(op->s, op->m, op->id, &op->error);
}

static void queue_done(void *arg)
{
    struct queue_op *op = arg;
    op->done(op->ctx, op->result, op->result == STORE_OK ? op->id : NULL, op->error);
    free(op->error);
    free(op);
}

void store_queue_add_async(struct store *s, const struct store_queue_msg *m,
                           store_queue_done_fn done, void *ctx)
{
    if (!s->workers)
        abort(); /* a bug: store_attach first */
    struct queue_op *op = xcalloc(1, sizeof(*op));
    op->s = s;
    op->m = m;
    op->done = done;
    op->ctx = ctx;
    workers_submit(s->workers, queue_job, queue_done, op);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : NULL;
}

int store_queue_list(struct store *s, int (*cb)(void *ctx, const struct store_queue_entry *e),
                     void *ctx, char **error_r)
{
    /* Under the lock for the whole read: a worker's open transaction on
     * the shared connection must not show through. */
    pthread_mutex_lock(&s->qlock);
    int r = queue_open(s, error_r);
    if (r != STORE_OK) {
        pthread_mutex_unlock(&s->qlock);
        return r;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->qdb,
                           "SELECT m.id, m.sender, m.origin, m.account_id, m.created, m.size, "
                           "m.held, r.address, r.state, r.attempts, r.next_attempt, r.last_reply "
                           "FROM queue_messages m JOIN queue_recipients r ON r.message_id = m.id "
                           "ORDER BY m.created, m.id, r.id", -1, &st, NULL) != SQLITE_OK) {
        *error_r = qerror(s, "cannot list the queue");
        pthread_mutex_unlock(&s->qlock);
        return STORE_ERR_IO;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_queue_entry e = {
            .id = col_text(st, 0),
            .sender = col_text(st, 1),
            .origin = col_text(st, 2),
            .account_id = sqlite3_column_int64(st, 3),
            .created = sqlite3_column_int64(st, 4),
            .size = (uint64_t)sqlite3_column_int64(st, 5),
            .held = sqlite3_column_int(st, 6) != 0,
            .rcpt = col_text(st, 7),
            .state = col_text(st, 8),
            .attempts = sqlite3_column_int(st, 9),
            .next_attempt = sqlite3_column_int64(st, 10),
            .last_reply = col_text(st, 11),
        };
        if (cb(ctx, &e) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = qerror(s, "cannot list the queue");
        sqlite3_finalize(st);
        pthread_mutex_unlock(&s->qlock);
        return STORE_ERR_IO;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->qlock);
    return STORE_OK;
}
