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

#include "core/arena.h"
#include "core/workers.h"
#include "store/db.h"
#include "store/fs.h"

#define QUEUE_SCHEMA_VERSION 3

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
    "  last_reply TEXT,"
    "  leased INTEGER NOT NULL DEFAULT 0,"
    "  delay_notified INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX queue_recipients_message ON queue_recipients(message_id);"
    "CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);"
    "CREATE TABLE mta_sts (domain TEXT PRIMARY KEY, policy TEXT NOT NULL);"
    "CREATE TABLE tls_results (day TEXT NOT NULL, domain TEXT NOT NULL, policy TEXT NOT NULL,"
    "  mx TEXT NOT NULL, result TEXT NOT NULL, count INTEGER NOT NULL,"
    "  PRIMARY KEY (day, domain, policy, mx, result));"
    "PRAGMA user_version = 3;";

/* From each older schema to the next. */
static const char *const queue_upgrades[QUEUE_SCHEMA_VERSION] = {
    [1] = "ALTER TABLE queue_recipients ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;"
          "ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;"
          "PRAGMA user_version = 2;",
    [2] = "CREATE TABLE mta_sts (domain TEXT PRIMARY KEY, policy TEXT NOT NULL);"
          "CREATE TABLE tls_results (day TEXT NOT NULL, domain TEXT NOT NULL,"
          "  policy TEXT NOT NULL, mx TEXT NOT NULL, result TEXT NOT NULL,"
          "  count INTEGER NOT NULL, PRIMARY KEY (day, domain, policy, mx, result));"
          "PRAGMA user_version = 3;",
};

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
        if (version == 0 && sqlite3_exec(s->qdb, queue_schema, NULL, NULL, &emsg) != SQLITE_OK) {
            sqlite3_exec(s->qdb, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
        for (int v = version ? version : QUEUE_SCHEMA_VERSION; v < QUEUE_SCHEMA_VERSION; v++)
            if (sqlite3_exec(s->qdb, queue_upgrades[v], NULL, NULL, &emsg) != SQLITE_OK) {
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
    for (int i = 0; i < s->nqstmts; i++)
        sqlite3_finalize(s->qstmts[i].st);
    s->nqstmts = 0;
    if (s->qdb)
        sqlite3_close(s->qdb);
    s->qdb = NULL;
}

/* The hot statements stay prepared on the queue's connection (under
 * qlock): preparing them again for every message cost more than running
 * them. Keyed by the SQL text's address (each is a string literal). */
static int q_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
    for (int i = 0; i < s->nqstmts; i++)
        if (s->qstmts[i].sql == sql) {
            *st = s->qstmts[i].st;
            return SQLITE_OK;
        }
    int rc = sqlite3_prepare_v3(s->qdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return rc;
    }
    if (s->nqstmts < (int)(sizeof(s->qstmts) / sizeof(s->qstmts[0]))) {
        s->qstmts[s->nqstmts].sql = sql;
        s->qstmts[s->nqstmts++].st = *st;
    }
    return SQLITE_OK;
}

/* Done with a statement from q_prepare: reset for its next use (or
 * finalized when the cache was full). */
static void q_release(struct store *s, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (int i = 0; i < s->nqstmts; i++)
        if (s->qstmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    sqlite3_finalize(st);
}

static int insert_rows(struct store *s, const struct store_queue_msg *m, const char *id,
                       char **error_r)
{
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);
    if (q_prepare(s,
                  "INSERT INTO queue_messages (id, sender, account_id, origin, envid, "
                  "ret, body, smtputf8, requiretls, size, created) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st) != SQLITE_OK)
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
    q_release(s, st);
    if (q_prepare(s,
                  "INSERT INTO queue_recipients (message_id, address, notify, "
                  "orcpt_type, orcpt, next_attempt) VALUES (?, ?, ?, ?, ?, ?)", &st) != SQLITE_OK)
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
    q_release(s, st);
    return STORE_OK;
fail:
    *error_r = qerror(s, "cannot queue the message");
    q_release(s, st);
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

/* Takes the lock and opens the queue; the lock is held only on success. */
static int q_lock(struct store *s, char **error_r)
{
    pthread_mutex_lock(&s->qlock);
    int r = queue_open(s, error_r);
    if (r != STORE_OK)
        pthread_mutex_unlock(&s->qlock);
    return r;
}

int store_queue_list(struct store *s, const char *id,
                     int (*cb)(void *ctx, const struct store_queue_entry *e), void *ctx,
                     char **error_r)
{
    /* Under the lock for the whole read: a worker's open transaction on
     * the shared connection must not show through. */
    int r = q_lock(s, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->qdb,
                           "SELECT m.id, m.sender, m.origin, m.account_id, m.created, m.size, "
                           "m.held, r.address, r.state, r.attempts, r.next_attempt, r.last_reply, "
                           "r.leased "
                           "FROM queue_messages m JOIN queue_recipients r ON r.message_id = m.id "
                           "WHERE ?1 IS NULL OR m.id = ?1 "
                           "ORDER BY m.created, m.id, r.id", -1, &st, NULL) != SQLITE_OK) {
        *error_r = qerror(s, "cannot list the queue");
        pthread_mutex_unlock(&s->qlock);
        return STORE_ERR_IO;
    }
    if (id)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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
            .leased = sqlite3_column_int(st, 12) != 0,
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

/* ---- the runner's side ---- */

/* Opens the queue and begins a transaction, with the lock held on success.
 * `durable`: this transaction's commit is fsync'd (new mail); results and
 * leases are not (see store.h). */
static int q_begin(struct store *s, bool durable, const char *what, char **error_r)
{
    int r = q_lock(s, error_r);
    if (r != STORE_OK)
        return r;
    if (sqlite3_exec(s->qdb, durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->qdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        sqlite3_exec(s->qdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
        pthread_mutex_unlock(&s->qlock);
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

/* Commits (or rolls back when r is an error) and releases the lock. */
static int q_end(struct store *s, int r, const char *what, char **error_r)
{
    if (r == STORE_OK && sqlite3_exec(s->qdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        r = STORE_ERR_IO;
    }
    if (r != STORE_OK)
        sqlite3_exec(s->qdb, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->qdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->qlock);
    return r;
}

static const char *arena_col(struct arena *a, sqlite3_stmt *st, int i)
{
    const char *t = col_text(st, i);
    return t ? arena_strdup(a, t) : NULL;
}

int store_queue_lease(struct store *s, struct arena *a, int64_t now, int max,
                      struct store_queue_job **jobs_r, int *njobs_r, char **error_r)
{
    *jobs_r = NULL;
    *njobs_r = 0;
    const char *what = "cannot read the queue";
    int r = q_begin(s, false, what, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL, *up = NULL;
    /* Grouped by message so that a message's due recipients travel
     * together; the soonest due messages first. */
    if (q_prepare(s,
                  "SELECT r.id, r.address, r.notify, r.orcpt_type, r.orcpt, r.attempts, "
                  "r.delay_notified, m.id, m.sender, m.origin, m.account_id, m.envid, "
                  "m.ret, m.body, m.smtputf8, m.requiretls, m.size, m.created "
                  "FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id "
                  "WHERE r.state = 'queued' AND r.next_attempt <= ?1 AND r.leased = 0 "
                  "AND m.held = 0 AND r.message_id IN ("
                  /* Whole messages, so that a message's recipients at one
                   * destination go in one transaction. */
                  "  SELECT r2.message_id FROM queue_recipients r2 "
                  "  JOIN queue_messages m2 ON m2.id = r2.message_id "
                  "  WHERE r2.state = 'queued' AND r2.next_attempt <= ?1 "
                  "  AND r2.leased = 0 AND m2.held = 0 "
                  "  GROUP BY r2.message_id ORDER BY min(r2.next_attempt) LIMIT ?2) "
                  "ORDER BY r.next_attempt, m.id, r.id", &st) != SQLITE_OK ||
        q_prepare(s, "UPDATE queue_recipients SET leased = 1 WHERE id = ?", &up) != SQLITE_OK) {
        *error_r = qerror(s, what);
        q_release(s, st);
        return q_end(s, STORE_ERR_IO, what, error_r);
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    int cap = 0, n = 0;
    struct store_queue_job *jobs = NULL;
    int rc;
    /* Rows come sorted by time, so a message's recipients may be apart:
     * find its job by id (a due batch is small: a linear look is enough). */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mid = col_text(st, 7);
        struct store_queue_job *j = NULL;
        for (int i = n - 1; i >= 0 && !j; i--)
            if (!strcmp(jobs[i].id, mid))
                j = &jobs[i];
        if (!j) {
            if (n == cap) {
                int ncap = cap ? cap * 2 : 16;
                struct store_queue_job *nj = arena_zalloc(a, sizeof(*nj) * (size_t)ncap);
                if (n)
                    memcpy(nj, jobs, sizeof(*nj) * (size_t)n);
                jobs = nj;
                cap = ncap;
            }
            j = &jobs[n++];
            memset(j, 0, sizeof(*j));
            snprintf(j->id, sizeof(j->id), "%s", mid);
            j->sender = arena_col(a, st, 8);
            j->origin = arena_col(a, st, 9);
            j->account_id = sqlite3_column_int64(st, 10);
            j->envid = arena_col(a, st, 11);
            j->ret = sqlite3_column_int(st, 12);
            j->body = sqlite3_column_int(st, 13);
            j->smtputf8 = sqlite3_column_int(st, 14) != 0;
            j->requiretls = sqlite3_column_int(st, 15) != 0;
            j->size = (uint64_t)sqlite3_column_int64(st, 16);
            j->created = sqlite3_column_int64(st, 17);
        }
        /* Grown one at a time: a message's due recipients are few. */
        struct store_queue_job_rcpt *nr = arena_zalloc(a, sizeof(*nr) * (size_t)(j->nrcpts + 1));
        if (j->nrcpts)
            memcpy(nr, j->rcpts, sizeof(*nr) * (size_t)j->nrcpts);
        j->rcpts = nr;
        struct store_queue_job_rcpt *rc_ = &nr[j->nrcpts++];
        rc_->id = sqlite3_column_int64(st, 0);
        rc_->address = arena_col(a, st, 1);
        rc_->notify = (unsigned)sqlite3_column_int(st, 2);
        rc_->orcpt_type = arena_col(a, st, 3);
        rc_->orcpt = arena_col(a, st, 4);
        rc_->attempts = sqlite3_column_int(st, 5);
        rc_->delay_notified = sqlite3_column_int(st, 6) != 0;
    }
    q_release(s, st);
    /* Marked after the read, not while stepping through the same table. */
    for (int i = 0; i < n && rc == SQLITE_DONE; i++)
        for (int k = 0; k < jobs[i].nrcpts && rc == SQLITE_DONE; k++) {
            sqlite3_reset(up);
            sqlite3_bind_int64(up, 1, jobs[i].rcpts[k].id);
            if (sqlite3_step(up) != SQLITE_DONE)
                rc = SQLITE_ERROR;
        }
    q_release(s, up);
    if (rc != SQLITE_DONE) {
        *error_r = qerror(s, what);
        return q_end(s, STORE_ERR_IO, what, error_r);
    }
    r = q_end(s, STORE_OK, what, error_r);
    if (r == STORE_OK) {
        *jobs_r = jobs;
        *njobs_r = n;
    }
    return r;
}

static int queue_change(struct store *s, const char *id, const char *sql, int64_t arg,
                        int *count_r, char ***ids_r, char **error_r);
static void unlink_queued(struct store *s, char **ids, int n);
static void free_ids(char **ids, int n);

int store_queue_release_leases(struct store *s, char **error_r)
{
    const char *what = "cannot release the queue's leases";
    int r = q_begin(s, false, what, error_r);
    if (r != STORE_OK)
        return r;
    if (sqlite3_exec(s->qdb, "UPDATE queue_recipients SET leased = 0 WHERE leased = 1", NULL,
                     NULL, NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        r = STORE_ERR_IO;
    }
    return q_end(s, r, what, error_r);
}

int store_queue_sweep(struct store *s, int *count_r, char **error_r)
{
    /* Messages with no recipient left queued (a crash between the last
     * result and the removal, in older versions): removed with their files. */
    char **ids = NULL;
    int r = queue_change(s, NULL,
                         "DELETE FROM queue_messages WHERE ?1 IS NULL AND ?2 = 0 AND NOT EXISTS "
                         "(SELECT 1 FROM queue_recipients r WHERE r.message_id = "
                         "queue_messages.id AND r.state = 'queued') RETURNING id",
                         0, count_r, &ids, error_r);
    if (r == STORE_OK) {
        unlink_queued(s, ids, *count_r);
        free_ids(ids, *count_r);
    }
    return r;
}

/* Deletes message `id` when no recipient of it is left queued; returns true
 * when it did (its file is then the caller's to remove, after the commit). */
static int remove_if_done(struct store *s, const char *id, bool *removed)
{
    sqlite3_stmt *st = NULL;
    *removed = false;
    if (q_prepare(s,
                  "DELETE FROM queue_messages WHERE id = ?1 AND NOT EXISTS "
                  "(SELECT 1 FROM queue_recipients WHERE message_id = ?1 "
                  "AND state = 'queued')", &st) != SQLITE_OK)
        return STORE_ERR_IO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    q_release(s, st);
    if (rc != SQLITE_DONE)
        return STORE_ERR_IO;
    *removed = sqlite3_changes(s->qdb) > 0;
    return STORE_OK;
}

static void unlink_queued(struct store *s, char **ids, int n)
{
    char *dir = xasprintf("%s/queue/msg", s->data_dir);
    for (int i = 0; i < n; i++)
        message_unlink_file(dir, ids[i]);
    free(dir);
}

static void free_ids(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int store_queue_record(struct store *s, const struct store_queue_result *res, int n,
                       char **error_r)
{
    const char *what = "cannot record delivery results";
    /* One transaction: results, and the removal of messages they finish.
     * It is made durable when it removes anything (the files go right
     * after: a removal lost to a power failure would leave rows without a
     * file); results alone need no fsync (a lost one repeats an attempt). */
    bool final = false;
    for (int i = 0; i < n && !final; i++)
        final = res[i].outcome == STORE_QUEUE_DELIVERED || res[i].outcome == STORE_QUEUE_FAILED;
    int r = q_begin(s, final, what, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *up = NULL;
    char **touched = xcalloc((size_t)n + 1, sizeof(*touched));
    int ntouched = 0;
    char **gone = xcalloc((size_t)n + 1, sizeof(*gone));
    int ngone = 0;
    if (q_prepare(s,
                  "UPDATE queue_recipients SET leased = 0, "
                  "state = CASE ?2 WHEN 0 THEN 'delivered' WHEN 2 THEN 'failed' "
                  "ELSE state END, "
                  "next_attempt = CASE ?2 WHEN 1 THEN ?3 ELSE next_attempt END, "
                  "last_reply = coalesce(?4, last_reply), "
                  "attempts = attempts + ?5, "
                  "delay_notified = delay_notified OR ?6 "
                  "WHERE id = ?1 RETURNING message_id", &up) != SQLITE_OK) {
        r = STORE_ERR_IO;
        goto out;
    }
    for (int i = 0; i < n && r == STORE_OK; i++) {
        const struct store_queue_result *x = &res[i];
        sqlite3_reset(up);
        sqlite3_bind_int64(up, 1, x->rcpt_id);
        sqlite3_bind_int(up, 2, (int)x->outcome);
        sqlite3_bind_int64(up, 3, x->next_attempt);
        if (x->reply)
            sqlite3_bind_text(up, 4, x->reply, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(up, 4);
        sqlite3_bind_int(up, 5, x->attempted ? 1 : 0);
        sqlite3_bind_int(up, 6, x->delay_notified ? 1 : 0);
        int rc = sqlite3_step(up);
        if (rc == SQLITE_ROW) {
            /* No row: the message was dropped meanwhile (queue drop). Only
             * final results can finish a message. */
            const char *mid = col_text(up, 0);
            bool seen = false;
            for (int k = 0; k < ntouched && !seen; k++)
                seen = !strcmp(touched[k], mid);
            if (!seen && (x->outcome == STORE_QUEUE_DELIVERED || x->outcome == STORE_QUEUE_FAILED))
                touched[ntouched++] = xstrdup(mid);
            rc = sqlite3_step(up);
        }
        if (rc != SQLITE_DONE)
            r = STORE_ERR_IO;
    }
    for (int k = 0; k < ntouched && r == STORE_OK; k++) {
        bool removed;
        r = remove_if_done(s, touched[k], &removed);
        if (removed)
            gone[ngone++] = xstrdup(touched[k]);
    }
out:
    if (r != STORE_OK)
        *error_r = qerror(s, what);
    q_release(s, up);
    r = q_end(s, r, what, error_r);
    if (r == STORE_OK)
        unlink_queued(s, gone, ngone);
    free_ids(touched, ntouched);
    free_ids(gone, ngone);
    return r;
}

char *store_queue_message_path(struct store *s, const char *id)
{
    return xasprintf("%s/queue/msg/%.2s/%s", s->data_dir, id, id);
}

/* One CLI change on one message or all; `sql` takes ?1 = id (or NULL) and
 * ?2 = arg, and returns the id of each message it changed (repeats allowed).
 * The distinct ids go to *ids_r when not NULL. */
static int queue_change(struct store *s, const char *id, const char *sql, int64_t arg,
                        int *count_r, char ***ids_r, char **error_r)
{
    const char *what = "cannot change the queue";
    *count_r = 0;
    int r = q_begin(s, true, what, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->qdb, sql, -1, &st, NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        return q_end(s, STORE_ERR_IO, what, error_r);
    }
    if (id)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, arg);
    char **ids = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mid = col_text(st, 0);
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = !strcmp(ids[k], mid);
        if (seen)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = xrealloc(ids, sizeof(*ids) * (size_t)cap);
        }
        ids[n++] = xstrdup(mid);
    }
    if (rc != SQLITE_DONE) {
        *error_r = qerror(s, what);
        r = STORE_ERR_IO;
    }
    sqlite3_finalize(st);
    if (r == STORE_OK && id && n == 0) {
        *error_r = xasprintf("no message %s in the queue", id);
        r = STORE_ERR_NOT_FOUND;
    }
    r = q_end(s, r, what, error_r);
    if (r == STORE_OK)
        *count_r = n;
    if (r == STORE_OK && ids_r) {
        ids = xrealloc(ids, sizeof(*ids) * (size_t)(n + 1));
        ids[n] = NULL;
        *ids_r = ids;
    } else {
        free_ids(ids, n);
    }
    return r;
}

int store_queue_set_held(struct store *s, const char *id, bool held, int *count_r,
                         char **error_r)
{
    return queue_change(s, id,
                        "UPDATE queue_messages SET held = ?2 WHERE ?1 IS NULL OR id = ?1 "
                        "RETURNING id", held ? 1 : 0, count_r, NULL, error_r);
}

int store_queue_retry(struct store *s, const char *id, int *count_r, char **error_r)
{
    /* Held messages stay held: a retry only says "now" for when they go. */
    return queue_change(s, id,
                        "UPDATE queue_recipients SET next_attempt = ?2 "
                        "WHERE state = 'queued' AND (?1 IS NULL OR message_id = ?1) "
                        "RETURNING message_id", (int64_t)time(NULL), count_r, NULL, error_r);
}

int store_queue_drop(struct store *s, const char *id, int *count_r, char **error_r)
{
    char **ids = NULL;
    int r = queue_change(s, id, "DELETE FROM queue_messages WHERE ?1 IS NULL OR id = ?1 "
                                "RETURNING id", 0, count_r, &ids, error_r);
    if (r == STORE_OK) {
        unlink_queued(s, ids, *count_r);
        free_ids(ids, *count_r);
    }
    return r;
}

/* ---- kept for the TLS policy: MTA-STS policies and TLS results ---- */

int store_queue_sts_load(struct store *s, int (*cb)(void *ctx, const char *domain,
                                                    const char *policy),
                         void *ctx, char **error_r)
{
    int r = q_lock(s, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->qdb, "SELECT domain, policy FROM mta_sts", -1, &st, NULL);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (cb(ctx, col_text(st, 0), col_text(st, 1)) != 0) {
                rc = SQLITE_DONE;
                break;
            }
    if (rc != SQLITE_DONE) {
        *error_r = qerror(s, "cannot read the MTA-STS policies");
        r = STORE_ERR_IO;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->qlock);
    return r;
}

int store_queue_sts_save(struct store *s, const char *domain, const char *policy,
                         char **error_r)
{
    const char *what = "cannot keep an MTA-STS policy";
    int r = q_begin(s, false, what, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->qdb, policy ? "INSERT OR REPLACE INTO mta_sts VALUES (?1, ?2)"
                                          : "DELETE FROM mta_sts WHERE domain = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        return q_end(s, STORE_ERR_IO, what, error_r);
    }
    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC);
    if (policy)
        sqlite3_bind_text(st, 2, policy, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        *error_r = qerror(s, what);
        r = STORE_ERR_IO;
    }
    sqlite3_finalize(st);
    return q_end(s, r, what, error_r);
}

int store_queue_tls_count(struct store *s, const struct store_tls_result *res, int n,
                          char **error_r)
{
    if (n <= 0)
        return STORE_OK;
    const char *what = "cannot keep TLS results";
    int r = q_begin(s, false, what, error_r);
    if (r != STORE_OK)
        return r;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->qdb,
                           "INSERT INTO tls_results VALUES (?1, ?2, ?3, ?4, ?5, 1) "
                           "ON CONFLICT DO UPDATE SET count = count + 1", -1, &st,
                           NULL) != SQLITE_OK) {
        *error_r = qerror(s, what);
        return q_end(s, STORE_ERR_IO, what, error_r);
    }
    for (int i = 0; i < n && r == STORE_OK; i++) {
        char day[16];
        time_t t = (time_t)res[i].when;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, res[i].domain, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, res[i].policy, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, res[i].mx, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, res[i].result, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            *error_r = qerror(s, what);
            r = STORE_ERR_IO;
        }
    }
    sqlite3_finalize(st);
    return q_end(s, r, what, error_r);
}
