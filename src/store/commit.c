/* Group commit of appends (see store_append_async in store.h).
 *
 * An append runs in two steps on the worker pool. First its message file is
 * written and fsync'd; these run in parallel, and the filesystem merges their
 * journal commits. Then its index entry joins its account's queue. One commit
 * job per account at a time takes everything queued, inserts it in one
 * transaction (a SAVEPOINT each, so one bad append does not sink the others)
 * and commits: one index fsync for the whole batch. Appends that arrive while
 * a commit runs form the next batch, so batches grow with load and nobody
 * waits for a timer. `done` runs on the loop after the commit.
 *
 * The full-text index is built here too, but off the append's path: a commit
 * only marks its files pending. Once an account's queue has been idle for
 * the index delay (no commit running, none waiting; every append starts the
 * wait again), an index job takes the commit slot and indexes a chunk of
 * pending files; chunks follow one another until none is left, but appends
 * that arrive meanwhile are committed first, and then the wait starts again.
 * So indexing never runs beside the account's commit, never delays an append
 * by more than one chunk, and never keeps a busy account from committing. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/str.h"
#include "core/workers.h"
#include "store/db.h"

struct append_op;

struct acct_queue {
    struct acct_queue *next;
    struct store_committer *c;
    int64_t account_id;
    struct store_acct *acct;             /* used only by this queue's jobs */
    struct append_op *pending, *pending_tail; /* files written, awaiting a commit */
    struct append_op *batch;             /* in the running commit */
    bool committing;                     /* a commit or index job has the slot */
    bool cleaned;                        /* orphans removed (first job) */
    struct event *index_timer;           /* the idle wait, or the next chunk */
    /* Written by the index job, read by its `done`. */
    int index_result;
    unsigned indexed;
};

struct store_committer {
    struct store *s;
    struct event_base *base;
    struct workers *w;
    struct acct_queue *queues;
    /* Written by commit jobs (one per account at a time, but several
     * accounts at once): atomics. */
    _Atomic uint64_t commits, appends;
};

struct append_op {
    struct append_op *next;
    struct store_committer *c;
    int64_t account_id;
    const struct store_append_req *req;
    store_append_done_fn done;
    void *ctx;
    char *msg_dir;
    char name[33];
    struct message_index idx; /* built with the file, in step 1 */
    int result;
    uint32_t uid;
    uint64_t modseq;
    char *mailbox; /* canonical, for the notification */
    char *error;
};

struct store_committer *committer_new(struct store *s, struct event_base *base,
                                      struct workers *w)
{
    struct store_committer *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->base = base;
    c->w = w;
    return c;
}

void committer_free(struct store_committer *c)
{
    if (!c)
        return;
    while (c->queues) {
        struct acct_queue *q = c->queues;
        c->queues = q->next;
        event_free(q->index_timer);
        store_acct_close(q->acct);
        free(q);
    }
    free(c);
}

static void index_timer_cb(evutil_socket_t fd, short what, void *arg);

static struct acct_queue *queue_for(struct store_committer *c, int64_t account_id)
{
    for (struct acct_queue *q = c->queues; q; q = q->next)
        if (q->account_id == account_id)
            return q;
    struct acct_queue *q = xcalloc(1, sizeof(*q));
    q->c = c;
    q->account_id = account_id;
    q->index_timer = evtimer_new(c->base, index_timer_cb, q);
    q->next = c->queues;
    c->queues = q;
    return q;
}

static void finish_op(struct append_op *op)
{
    if (op->result == STORE_OK)
        hub_publish(op->c->s, op->account_id, op->mailbox, STORE_EVENT_APPEND, op->uid,
                    op->modseq, 0);
    op->done(op->ctx, op->result, op->uid, op->error);
    message_index_free(&op->idx);
    free(op->msg_dir);
    free(op->mailbox);
    free(op->error);
    free(op);
}

/* The queue's handle on the account, taken from the pool by each job (on a
 * worker) and given back at its end (queue_give). */
static int queue_acct(struct acct_queue *q, char **error_r)
{
    int r = store_acct_take(q->c->s, q->account_id, &q->acct, error_r);
    if (r != STORE_OK || q->cleaned)
        return r;
    /* First use in this process: files of appends that a crash cut short
     * (older than an hour, so never one still being written). */
    q->cleaned = true;
    unsigned removed;
    char *e = NULL;
    if (store_acct_clean_orphans(q->acct, 3600, &removed, &e) != STORE_OK)
        free(e);
    return r;
}

static void queue_give(struct acct_queue *q)
{
    store_acct_give(q->acct);
    q->acct = NULL;
}

/* ---- step 2: the index ---- */

static void commit_job(void *arg)
{
    struct acct_queue *q = arg;
    struct store_committer *c = q->c;
    char *err = NULL;
    int r = queue_acct(q, &err);
    if (r == STORE_OK)
        r = acct_begin(q->acct, &err);
    struct arena *a = arena_new(0);
    int ok = 0;
    for (struct append_op *op = q->batch; op; op = op->next) {
        if (r != STORE_OK) {
            op->result = r;
            op->error = xstrdup(err);
            continue;
        }
        char *e = NULL;
        const char *canon = NULL;
        acct_exec(q->acct, "SAVEPOINT append", &e);
        free(e);
        e = NULL;
        op->result = message_append_in_tx(q->acct, a, op->req, op->name, &op->idx, &op->uid,
                                          &op->modseq, &canon, &op->error);
        if (op->result == STORE_OK) {
            op->mailbox = xstrdup(canon);
            ok++;
        } else {
            acct_exec(q->acct, "ROLLBACK TO append", &e);
            free(e);
            e = NULL;
        }
        acct_exec(q->acct, "RELEASE append", &e);
        free(e);
    }
    arena_free(a);
    if (r == STORE_OK) {
        c->commits++;
        c->appends += (uint64_t)ok;
        /* synchronous=FULL: one fsync makes the whole batch durable. */
        if (acct_commit(q->acct, &err) != STORE_OK) {
            for (struct append_op *op = q->batch; op; op = op->next) {
                if (op->result == STORE_OK) {
                    op->result = STORE_ERR_IO;
                    op->error = xstrdup(err);
                }
            }
        }
    }
    /* What will not be acknowledged must not stay on disk. */
    for (struct append_op *op = q->batch; op; op = op->next)
        if (op->result != STORE_OK)
            message_unlink_file(op->msg_dir, op->name);
    queue_give(q);
    free(err);
}

static void start_commit(struct acct_queue *q);
static void arm_index(struct acct_queue *q, unsigned ms);

static void commit_done(void *arg)
{
    struct acct_queue *q = arg;
    struct append_op *op = q->batch;
    q->batch = NULL;
    q->committing = false;
    while (op) {
        struct append_op *next = op->next;
        finish_op(op);
        op = next;
    }
    if (q->pending)
        start_commit(q);
    else
        arm_index(q, q->c->s->index_delay_ms); /* idle: index if it stays so */
}

/* At most this many appends per commit, so one transaction (and the write
 * lock it holds) stays short whatever the load. */
#define BATCH_MAX 256

static void start_commit(struct acct_queue *q)
{
    q->batch = q->pending;
    struct append_op *last = q->pending;
    for (int n = 1; n < BATCH_MAX && last->next; n++)
        last = last->next;
    q->pending = last->next;
    if (!q->pending)
        q->pending_tail = NULL;
    last->next = NULL;
    q->committing = true;
    evtimer_del(q->index_timer); /* not idle: wait again after this commit */
    workers_submit(q->c->w, commit_job, commit_done, q);
}

/* ---- background indexing ---- */

/* Pending files per index job: a chunk takes tens of milliseconds, which is
 * as long as an arriving append may have to wait. */
#define INDEX_CHUNK 64

static void index_job(void *arg)
{
    struct acct_queue *q = arg;
    char *err = NULL;
    q->indexed = 0;
    q->index_result = queue_acct(q, &err);
    if (q->index_result == STORE_OK)
        q->index_result = store_acct_index_pending(q->acct, INDEX_CHUNK, &q->indexed, &err);
    queue_give(q);
    /* Nobody to tell: the files stay pending for the next idle period, and
     * a search, which indexes first, reports the error to its caller. */
    free(err);
}

static void index_done(void *arg)
{
    struct acct_queue *q = arg;
    q->committing = false;
    if (q->pending)
        start_commit(q); /* appends first; their commit starts the wait again */
    else if (q->index_result == STORE_OK && q->indexed > 0)
        arm_index(q, 0); /* maybe more: the next chunk */
}

static void index_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct acct_queue *q = arg;
    if (q->committing || q->pending)
        return; /* not idle after all: the commit arms the timer again */
    q->committing = true;
    workers_submit(q->c->w, index_job, index_done, q);
}

/* The next chunk goes through the timer too (with no delay) rather than
 * straight from index_done: workers_free runs `done` callbacks until no job
 * is left, so shutdown would otherwise index the whole backlog. */
static void arm_index(struct acct_queue *q, unsigned ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
    evtimer_add(q->index_timer, &tv);
}

/* ---- step 1: the file ---- */

static void write_job(void *arg)
{
    struct append_op *op = arg;
    op->msg_dir = acct_msg_dir(op->c->s, op->account_id, &op->error);
    if (!op->msg_dir) {
        op->result = STORE_ERR_IO;
        return;
    }
    op->result = message_write_file(op->msg_dir, op->req->data, op->req->len, op->name,
                                    &op->error);
    if (op->result == STORE_OK)
        message_index_build(op->req->data, op->req->len, &op->idx);
}

static void write_done(void *arg)
{
    struct append_op *op = arg;
    if (op->result != STORE_OK) {
        finish_op(op);
        return;
    }
    struct acct_queue *q = queue_for(op->c, op->account_id);
    if (q->pending_tail)
        q->pending_tail->next = op;
    else
        q->pending = op;
    q->pending_tail = op;
    if (!q->committing)
        start_commit(q);
}

void store_append_async(struct store *s, int64_t account_id, const struct store_append_req *req,
                        store_append_done_fn done, void *ctx)
{
    if (!s->committer)
        abort(); /* a bug: store_attach first */
    struct append_op *op = xcalloc(1, sizeof(*op));
    op->c = s->committer;
    op->account_id = account_id;
    op->req = req;
    op->done = done;
    op->ctx = ctx;
    workers_submit(s->committer->w, write_job, write_done, op);
}

void store_set_index_delay(struct store *s, unsigned ms)
{
    s->index_delay_ms = ms;
}

void store_commit_stats(struct store *s, uint64_t *commits, uint64_t *appends)
{
    *commits = s->committer ? s->committer->commits : 0;
    *appends = s->committer ? s->committer->appends : 0;
}
