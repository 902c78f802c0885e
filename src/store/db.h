/*
 * store/db.h — private to src/store: the SQLite connection and its helpers.
 */
#ifndef OUTPOST_STORE_DB_H
#define OUTPOST_STORE_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "store/store.h"

struct store_hub;
struct store_committer;
struct message_index;

struct store {
    sqlite3 *db;          /* serialized mode: usable from any thread */
    char *data_dir;
    char *subaddress_separators;
    bool quota_permanent;
    struct store_hub *hub;             /* after store_attach */
    struct store_committer *committer; /* after store_attach */
    struct workers *workers;           /* after store_attach */
    /* The queue database, opened on first use; qlock serialises its
     * transactions (one connection shared by worker threads). */
    pthread_mutex_t qlock;
    sqlite3 *qdb;
    struct { const char *sql; sqlite3_stmt *st; } qstmts[8]; /* queue.c: q_prepare */
    int nqstmts;
    unsigned index_delay_ms;           /* store_set_index_delay */
    /* Idle account handles (pool.c), most recently given back first. */
    pthread_mutex_t pool_lock;
    struct store_acct *pool_idle;
    unsigned pool_nidle;
};

/* A cached prepared statement (acct_prepare). */
struct acct_stmt {
    sqlite3_stmt *st;
    uint64_t used;        /* for LRU */
    bool busy;            /* handed out, not yet finished */
};
#define ACCT_STMT_CACHE 24

/* An open account's mail (store_acct_open). */
struct store_acct {
    struct store *store;
    int64_t id;
    unsigned long long quota; /* bytes; 0: none (read at open) */
    sqlite3 *db;
    char *dir;      /* data/accounts/<id> */
    char *msg_dir;  /* data/accounts/<id>/msg */
    struct store_acct *pool_next; /* in the idle pool */
    time_t pool_since;            /* given back at (monotonic seconds) */
    struct acct_stmt stmts[ACCT_STMT_CACHE];
    uint64_t origin;              /* store_acct_set_origin; 0 when pooled */
    uint64_t stmt_clock;
};

/* Helpers shared by acct.c, mailbox.c and message.c. */
/* A statement from the handle's cache (or newly prepared): give it back
 * with acct_finish, never sqlite3_finalize. */
sqlite3_stmt *acct_prepare(struct store_acct *acct, const char *sql, char **error_r);
/* Resets a statement from acct_prepare for its next use (or finalizes one
 * the cache did not keep); NULL is ignored. */
void acct_finish(struct store_acct *acct, sqlite3_stmt *st);
int acct_exec(struct store_acct *acct, const char *sql, char **error_r);
int acct_begin(struct store_acct *acct, char **error_r);
int acct_commit(struct store_acct *acct, char **error_r);
void acct_rollback(struct store_acct *acct);
/* Off: commits do not wait for an fsync (for caches and markers a crash
 * may lose); on again (the default, synchronous=FULL) right after. */
void acct_set_fsync(struct store_acct *acct, bool on);
char *acct_error(struct store_acct *acct, const char *what);
/* Canonical mailbox name ("inbox/x" -> "INBOX/x"), or NULL with *error_r
 * static when the name is not acceptable. Allocated from a. */
char *mailbox_canonical(struct arena *a, const char *name, const char **error_r);
/* The id of a selectable mailbox (0 when absent or \Noselect, -1 on error). */
int64_t mailbox_id(struct store_acct *acct, const char *canonical);
/* The id of a selectable mailbox named `name` (any spelling of INBOX), its
 * canonical name in *canon_r (from a; may be NULL), or a negative
 * STORE_ERR_* with *error_r set. */
int64_t mailbox_need(struct store_acct *acct, struct arena *a, const char *name,
                     const char **canon_r, char **error_r);
/* The next MODSEQ of a mailbox (stored at once; inside a transaction). */
int64_t mailbox_next_modseq(struct store_acct *acct, int64_t mailbox_id, char **error_r);
/* Removes files no message refers to any more. */
void acct_collect_files(struct store_acct *acct);

/* Queues a change notification (any thread; delivered on the loop). A no-op
 * until store_attach. */
void hub_publish(struct store *s, int64_t account_id, const char *mailbox,
                 enum store_event_kind kind, uint32_t uid, uint64_t modseq, uint64_t origin);
void hub_free(struct store_hub *h);
/* Closes the pool's idle handles (store_close). */
void pool_free(struct store *s);
struct store_committer *committer_new(struct store *s, struct event_base *base,
                                      struct workers *w);
/* Waits for nothing: call after the worker pool has drained, and before the
 * event base is freed (it frees the committer's timers). Files not yet in the
 * full-text index stay pending for the next run. */
void committer_free(struct store_committer *c);
/* An append's index part inside an open transaction (SAVEPOINT-safe):
 * mailbox lookup, keywords, quota, the rows. canon_r gets the mailbox's
 * canonical name (allocated from a). */
int message_append_in_tx(struct store_acct *acct, struct arena *a,
                         const struct store_append_req *req, const char *file,
                         const struct message_index *idx, uint32_t *uid_r, uint64_t *modseq_r,
                         const char **canon_r, char **error_r);

/* What an append keeps of a message besides its file: the MIME structure
 * (empty when too large to keep: FETCH then parses the file). Built outside
 * any transaction (it is CPU work). The full-text index is not built here:
 * the append marks its file pending (fts_pending), and
 * store_acct_index_pending builds the text later, off the append's path. */
struct message_index {
    struct buf structure;
};
void message_index_build(const char *data, size_t len, struct message_index *out);
void message_index_free(struct message_index *idx);

/* The index part of an append, inside an open transaction: a files row (and
 * its fts_pending row), the next UID, a MODSEQ and the message row. */
int message_insert(struct store_acct *acct, int64_t mailbox_id, const char *file, size_t size,
                   const struct message_index *idx, unsigned flags, const char *keywords,
                   int64_t internal_date, uint32_t *uid_r, uint64_t *modseq_r, char **error_r);
/* Writes a message file durably under msg_dir with a new random name
 * (written to name, 33 bytes). Thread-safe: touches no database. */
int message_write_file(const char *msg_dir, const char *data, size_t len, char *name,
                       char **error_r);
/* Removes a message file written by message_write_file (after a failure). */
void message_unlink_file(const char *msg_dir, const char *name);
/* data/accounts/<id>/msg, made if missing; allocated. */
char *acct_msg_dir(struct store *s, int64_t account_id, char **error_r);

/* Closes the queue database if it was opened (store_close). */
void queue_close(struct store *s);

/* Prepares a statement; on failure returns NULL with *error_r allocated. */
sqlite3_stmt *db_prepare(struct store *s, const char *sql, char **error_r);
/* Steps a statement that returns no rows; returns STORE_OK, STORE_ERR_EXISTS
 * for a uniqueness violation, or STORE_ERR_IO with *error_r allocated. */
int db_exec_stmt(struct store *s, sqlite3_stmt *st, char **error_r);
/* Runs plain SQL (no parameters). */
int db_exec(struct store *s, const char *sql, char **error_r);
int db_begin(struct store *s, char **error_r);   /* BEGIN IMMEDIATE */
int db_commit(struct store *s, char **error_r);
void db_rollback(struct store *s);
/* "database error: <sqlite message>" as an allocated line. */
char *db_error(struct store *s, const char *what);

/* The domain's row id, 0 when it is not ours, or -1 on a database error. */
int64_t db_domain_id(struct store *s, const char *domain);
/* Looks an address up among accounts and aliases of its domain: returns 1
 * when taken, 0 when free, -1 on error. */
int db_address_taken(struct store *s, int64_t domain_id, const char *local_key);

#endif
