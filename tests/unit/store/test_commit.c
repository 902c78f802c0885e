/* Group commit, background indexing and change notification: many
 * concurrent appends through store_append_async, on a real event loop and
 * worker pool. */
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/workers.h"
#include "store/fs.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

#define APPENDS 200

static struct event_base *base;
static int done_count, done_ok, events;
static uint32_t uids_seen[APPENDS + 1];
static uint32_t event_uids[APPENDS + 1];

static void on_done(void *ctx, int result, uint32_t uid, const char *error)
{
    (void)ctx;
    done_count++;
    if (result == STORE_OK && uid >= 1 && uid <= APPENDS) {
        done_ok++;
        uids_seen[uid]++;
    } else if (result != STORE_OK && error) {
        fprintf(stderr, "append failed: %s\n", error);
    }
    if (done_count == APPENDS + 1)
        event_base_loopbreak(base);
}

static void on_event(void *ctx, const struct store_event *ev)
{
    (void)ctx;
    if (ev->kind == STORE_EVENT_APPEND && !strcmp(ev->mailbox, "INBOX") && ev->uid <= APPENDS) {
        events++;
        event_uids[ev->uid]++;
    }
}

static void test_concurrent_appends_share_commits(void)
{
    char dir[] = "/tmp/outpost-test-commit-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct store_options opt = { .data_dir = dir, .subaddress_separators = "+" };
    struct store *s;
    char *err = NULL;
    CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
    CHECK_INT(auth_init(), 0);
    struct auth_credentials cred;
    const char *why;
    CHECK_INT(auth_credentials_make("pw", 2, &cred, &why), 0);
    int64_t id;
    CHECK_INT(store_domain_add(s, "example.test", &err), STORE_OK);
    CHECK_INT(store_account_add(s, "a@example.test", "", &cred, 0, &id, &err), STORE_OK);

    base = event_base_new();
    struct workers *w = workers_new(base, 8);
    CHECK_INT(store_attach(s, base, w, &err), STORE_OK);
    struct store_watch *watch = store_watch_add(s, id, on_event, NULL);

    static struct store_append_req reqs[APPENDS + 1];
    static char bodies[APPENDS][64];
    for (int i = 0; i < APPENDS; i++) {
        int n = snprintf(bodies[i], sizeof(bodies[i]), "Subject: %d\r\n\r\nbody %d\r\n", i, i);
        reqs[i] = (struct store_append_req){ .mailbox = "INBOX", .data = bodies[i],
                                             .len = (size_t)n };
        store_append_async(s, id, &reqs[i], on_done, NULL);
    }
    /* One that must fail: no such mailbox. It must not sink the others. */
    reqs[APPENDS] = (struct store_append_req){ .mailbox = "Nope", .data = "x", .len = 1 };
    store_append_async(s, id, &reqs[APPENDS], on_done, NULL);

    event_base_dispatch(base);
    /* Deliver the last notifications. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_INT(done_count, APPENDS + 1);
    CHECK_INT(done_ok, APPENDS);
    int dup = 0;
    for (int u = 1; u <= APPENDS; u++)
        if (uids_seen[u] != 1 || event_uids[u] != 1)
            dup++;
    CHECK_INT(dup, 0);
    CHECK_INT(events, APPENDS);
    uint64_t commits, appends;
    store_commit_stats(s, &commits, &appends);
    CHECK_INT(appends, APPENDS);
    /* Group commit: far fewer index commits than appends. */
    fprintf(stderr, "  %llu appends in %llu commits\n", (unsigned long long)appends,
            (unsigned long long)commits);
    CHECK(commits < APPENDS);

    /* What was acknowledged is there after reopening. */
    store_watch_remove(watch);
    workers_free(w);
    store_close(s);
    event_base_free(base);
    CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
    struct store_acct *acct;
    CHECK_INT(store_acct_open(s, id, &acct, &err), STORE_OK);
    struct arena *a = arena_new(0);
    struct store_mailbox mb;
    CHECK_INT(store_mailbox_get(acct, a, "INBOX", &mb, &err), STORE_OK);
    CHECK_INT(mb.messages, APPENDS);
    CHECK_INT(mb.uidnext, APPENDS + 1);
    arena_free(a);
    store_acct_close(acct);
    store_close(s);
    fixture_rmtree(dir);
    free(err);
}

/* ---- notification of flag changes, expunges, copies and moves ---- */

struct seen_events {
    char log[4096];
};

static void record(void *ctx, const struct store_event *ev)
{
    struct seen_events *se = ctx;
    static const char *const kinds[] = { "append", "flags", "expunge" };
    size_t n = strlen(se->log);
    if (ev->origin)
        snprintf(se->log + n, sizeof(se->log) - n, "%s %s %u@%llu;", kinds[ev->kind],
                 ev->mailbox, ev->uid, (unsigned long long)ev->origin);
    else
        snprintf(se->log + n, sizeof(se->log) - n, "%s %s %u;", kinds[ev->kind], ev->mailbox,
                 ev->uid);
}

static void test_changes_are_notified(void)
{
    char dir[] = "/tmp/outpost-test-notify-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct store_options opt = { .data_dir = dir };
    struct store *s;
    char *err = NULL;
    const char *why;
    struct auth_credentials cred;
    int64_t id, other;
    CHECK_INT(auth_credentials_make("pw", 2, &cred, &why), 0);
    CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
    CHECK_INT(store_domain_add(s, "example.test", &err), STORE_OK);
    CHECK_INT(store_account_add(s, "a@example.test", "", &cred, 0, &id, &err), STORE_OK);
    CHECK_INT(store_account_add(s, "b@example.test", "", &cred, 0, &other, &err), STORE_OK);
    base = event_base_new();
    struct workers *w = workers_new(base, 2);
    CHECK_INT(store_attach(s, base, w, &err), STORE_OK);
    struct seen_events mine = { "" }, theirs = { "" };
    struct store_watch *wm = store_watch_add(s, id, record, &mine);
    struct store_watch *wt = store_watch_add(s, other, record, &theirs);

    /* A session (here: this thread) changes the account through its own
     * handle, as an IMAP session would. */
    struct store_acct *acct;
    CHECK_INT(store_acct_open(s, id, &acct, &err), STORE_OK);
    struct store_append_req req = { .mailbox = "inbox", .data = "Subject: x\r\n\r\n", .len = 15 };
    uint32_t uid;
    CHECK_INT(store_message_append(acct, &req, &uid, &err), STORE_OK);
    CHECK_INT(store_message_append(acct, &req, NULL, &err), STORE_OK);
    /* From here the changes carry the handle's origin (a session's mark). */
    store_acct_set_origin(acct, 7);
    CHECK_INT(store_message_set_flags(acct, "INBOX", &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    /* No change, no event. */
    CHECK_INT(store_message_set_flags(acct, "INBOX", &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_copy(acct, "INBOX", &uid, 1, "Archive", false, NULL, NULL, &err),
              STORE_OK);
    uint32_t two = 2;
    CHECK_INT(store_message_copy(acct, "INBOX", &two, 1, "Trash", true, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_set_flags(acct, "INBOX", &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_expunge(acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    /* Nothing is delivered before the loop runs; then everything, in order. */
    CHECK_STR(mine.log, "");
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_STR(mine.log, "append INBOX 1;append INBOX 2;flags INBOX 1@7;append Archive 1@7;"
                        "append Trash 1@7;expunge INBOX 2@7;flags INBOX 1@7;expunge INBOX 1@7;");
    CHECK_STR(theirs.log, ""); /* another account hears nothing */
    /* A removed watcher hears nothing more. */
    store_watch_remove(wm);
    CHECK_INT(store_message_append(acct, &req, NULL, &err), STORE_OK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(strstr(mine.log, "INBOX 3") == NULL);
    store_watch_remove(wt);
    store_acct_close(acct);
    workers_free(w);
    store_close(s);
    event_base_free(base);
    fixture_rmtree(dir);
    free(err);
}

/* ---- the full-text index, built off the append's path ---- */

struct env {
    char dir[64];
    struct store_options opt;
    struct store *s;
    struct workers *w;
    int64_t id;
    int done, ok;
};

static struct env *env;

static void env_start(struct env *e, unsigned index_delay_ms)
{
    char *err = NULL;
    if (store_open(&e->opt, &e->s, &err) != STORE_OK)
        fixture_die("store_open", err);
    store_set_index_delay(e->s, index_delay_ms);
    base = event_base_new();
    e->w = workers_new(base, 4);
    if (store_attach(e->s, base, e->w, &err) != STORE_OK)
        fixture_die("store_attach", err);
    env = e;
}

static void env_stop(struct env *e)
{
    workers_free(e->w);
    store_close(e->s); /* before the event base: it frees its timers */
    event_base_free(base);
    base = NULL;
}

static void env_open(struct env *e, unsigned index_delay_ms)
{
    memset(e, 0, sizeof(*e));
    strcpy(e->dir, "/tmp/outpost-test-fts-XXXXXX");
    struct auth_credentials cred;
    fixture_open(e->dir, &e->s, &cred);
    char *err = NULL;
    if (store_account_add(e->s, "fts@example.org", "", &cred, 0, &e->id, &err) != STORE_OK)
        fixture_die("store_account_add", err);
    store_close(e->s);
    e->opt = (struct store_options){ .data_dir = e->dir };
    env_start(e, index_delay_ms);
}

static long long env_sql(const char *q)
{
    return fixture_index_sql(env->dir, env->id, q);
}

static void env_done(void *ctx, int result, uint32_t uid, const char *error)
{
    (void)ctx;
    (void)uid;
    env->done++;
    if (result == STORE_OK)
        env->ok++;
    else
        fprintf(stderr, "append failed: %s\n", error ? error : "?");
}

/* Appends `n` messages ("Subject: <tag> <i>", body "word<tag><i>"). The
 * requests stay allocated until env_free_reqs. */
static struct store_append_req *reqs_made[8];
static int nreqs_made;

static void env_append(const char *tag, int n)
{
    struct store_append_req *r = calloc((size_t)n + 1, sizeof(*r)); /* ends with a zero one */
    reqs_made[nreqs_made++] = r;
    for (int i = 0; i < n; i++) {
        char *body = xasprintf("Subject: %s %d\r\n\r\nword%s%03d\r\n", tag, i, tag, i);
        r[i] = (struct store_append_req){ .mailbox = "INBOX", .data = body,
                                          .len = strlen(body) };
        store_append_async(env->s, env->id, &r[i], env_done, NULL);
    }
}

static void env_free_reqs(void)
{
    while (nreqs_made > 0) {
        struct store_append_req *r = reqs_made[--nreqs_made];
        for (int i = 0; r[i].data; i++)
            free((char *)r[i].data);
        free(r);
    }
}

/* Runs the loop until cond() holds (checked every 2 ms) or `ms` pass. */
struct waiting {
    bool (*cond)(void);
    struct timespec deadline;
    bool met;
};

static void waiting_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct waiting *wt = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((wt->met = wt->cond()) || now.tv_sec > wt->deadline.tv_sec ||
        (now.tv_sec == wt->deadline.tv_sec && now.tv_nsec > wt->deadline.tv_nsec))
        event_base_loopbreak(base);
}

static bool run_until(bool (*cond)(void), int ms)
{
    struct waiting wt = { cond, { 0, 0 }, false };
    clock_gettime(CLOCK_MONOTONIC, &wt.deadline);
    wt.deadline.tv_sec += ms / 1000;
    wt.deadline.tv_nsec += (long)(ms % 1000) * 1000000;
    if (wt.deadline.tv_nsec >= 1000000000) {
        wt.deadline.tv_sec++;
        wt.deadline.tv_nsec -= 1000000000;
    }
    struct event *ev = event_new(base, -1, EV_PERSIST, waiting_cb, &wt);
    struct timeval tick = { 0, 2000 };
    event_add(ev, &tick);
    event_base_dispatch(base);
    event_free(ev);
    return wt.met;
}

static int want_done;

static bool all_done(void)
{
    return env->done >= want_done;
}

static bool nothing_pending(void)
{
    return env_sql("SELECT count(*) FROM fts_pending") == 0;
}

struct uid_list {
    uint32_t u[8];
    int n;
};

static void collect_uid(void *ctx, uint32_t uid)
{
    struct uid_list *l = ctx;
    if (l->n < 8)
        l->u[l->n++] = uid;
}

static int session_search(const char *text, struct uid_list *out)
{
    struct store_acct *acct;
    char *err = NULL;
    if (store_acct_open(env->s, env->id, &acct, &err) != STORE_OK)
        fixture_die("store_acct_open", err);
    out->n = 0;
    int r = store_message_search(acct, "INBOX", text, collect_uid, out, &err);
    free(err);
    store_acct_close(acct);
    return r;
}

/* Delivery indexes nothing for search; a search indexes first, so it
 * finds mail that the background indexer has not reached. */
static void test_search_before_indexing(void)
{
    struct env e;
    env_open(&e, 60000); /* no background indexing during the test */
    want_done = 30;
    env_append("a", 30);
    CHECK(run_until(all_done, 30000));
    CHECK_INT(e.ok, 30);
    CHECK_INT(env_sql("SELECT count(*) FROM fts_pending"), 30);
    CHECK_INT(env_sql("SELECT count(*) FROM fts"), 0);
    struct uid_list u;
    CHECK_INT(session_search("worda017", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    /* UIDs follow the commit order, not the submission order: check the
     * subject behind the one found. */
    char q[256];
    snprintf(q, sizeof(q), "SELECT count(*) FROM messages m JOIN files f ON f.name = m.file"
                           " JOIN fts ON fts.rowid = f.id WHERE m.uid = %u AND fts.text LIKE"
                           " '%%a 17 worda017%%'", u.n ? u.u[0] : 0);
    CHECK_INT(env_sql(q), 1);
    CHECK_INT(env_sql("SELECT count(*) FROM fts_pending"), 0);
    CHECK_INT(env_sql("SELECT count(*) FROM fts"), 30);
    env_stop(&e);
    env_free_reqs();
    fixture_rmtree(e.dir);
}

/* Files still pending at shutdown stay pending, and the idle indexer of the
 * next run indexes them with the new ones. */
static void test_idle_indexing_after_restart(void)
{
    struct env e;
    env_open(&e, 60000);
    want_done = 20;
    env_append("b", 20);
    CHECK(run_until(all_done, 30000));
    env_stop(&e);
    CHECK_INT(env_sql("SELECT count(*) FROM fts_pending"), 20);

    env_start(&e, 20);
    e.done = e.ok = 0;
    want_done = 10;
    env_append("c", 10);
    CHECK(run_until(all_done, 30000));
    CHECK_INT(e.ok, 10);
    /* The indexer runs once the queue has been idle for 20 ms. */
    CHECK(run_until(nothing_pending, 30000));
    CHECK_INT(env_sql("SELECT count(*) FROM fts"), 30);
    CHECK_INT(env_sql("SELECT count(*) FROM fts WHERE text LIKE '%wordb007%'"), 1);
    CHECK_INT(env_sql("SELECT count(*) FROM fts WHERE text LIKE '%wordc009%'"), 1);
    /* And then stays idle: nothing more to do, nothing breaks. */
    run_until(all_done, 50);
    env_stop(&e);
    env_free_reqs();
    fixture_rmtree(e.dir);
}

/* ---- appends that arrive while an index chunk runs ---- */

/* The first read of a message file (the indexer's) blocks until released. */
static atomic_int hook; /* 0 off, 1 armed, 2 blocking, 3 released */

static int hook_open(const char *path, int flags, mode_t mode)
{
    int armed = 1;
    if ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_DIRECTORY) &&
        atomic_compare_exchange_strong(&hook, &armed, 2)) {
        for (int i = 0; i < 30000 && atomic_load(&hook) == 2; i++)
            usleep(1000);
    }
    return store_fs_real.open(path, flags, mode);
}

static struct store_fs_ops hook_ops;

static bool hook_blocking(void)
{
    return atomic_load(&hook) == 2;
}

static bool writes_queued(void)
{
    return workers_busy(env->w) == 1; /* only the blocked index job */
}

static long long pending_when_acked = -1;

static void acked_done(void *ctx, int result, uint32_t uid, const char *error)
{
    if (pending_when_acked < 0)
        pending_when_acked = env_sql("SELECT count(*) FROM fts_pending");
    env_done(ctx, result, uid, error);
}

static void test_appends_wait_for_one_chunk(void)
{
    enum { BACKLOG = 100, CHUNK = 64, LATE = 5 };
    struct env e;
    env_open(&e, 20);
    /* A backlog, appended by a session. */
    struct store_acct *acct;
    char *err = NULL;
    CHECK_INT(store_acct_open(e.s, e.id, &acct, &err), STORE_OK);
    for (int i = 0; i < BACKLOG; i++) {
        char *body = xasprintf("Subject: backlog %d\r\n\r\nold%03d\r\n", i, i);
        struct store_append_req req = { .mailbox = "INBOX", .data = body, .len = strlen(body) };
        CHECK_INT(store_message_append(acct, &req, NULL, &err), STORE_OK);
        free(body);
    }
    store_acct_close(acct);
    hook_ops = store_fs_real;
    hook_ops.open = hook_open;
    store_fs_set(&hook_ops);
    atomic_store(&hook, 1);
    /* One append through the queue: after its commit, the idle wait, then
     * the first index chunk, which blocks in its first read. */
    want_done = 1;
    env_append("d", 1);
    CHECK(run_until(hook_blocking, 30000));
    CHECK_INT(e.done, 1);
    /* Now appends arrive: their files are written, and they wait. */
    static struct store_append_req late[LATE];
    static char bodies[LATE][64];
    for (int i = 0; i < LATE; i++) {
        int n = snprintf(bodies[i], sizeof(bodies[i]), "Subject: late %d\r\n\r\nlate\r\n", i);
        late[i] = (struct store_append_req){ .mailbox = "INBOX", .data = bodies[i],
                                             .len = (size_t)n };
        store_append_async(e.s, e.id, &late[i], acked_done, NULL);
    }
    CHECK(run_until(writes_queued, 30000));
    CHECK_INT(e.done, 1); /* none acknowledged while the chunk runs */
    atomic_store(&hook, 3);
    want_done = 1 + LATE;
    CHECK(run_until(all_done, 30000));
    CHECK_INT(e.ok, 1 + LATE);
    /* Committed right after the one chunk, before any other. */
    CHECK_INT(pending_when_acked, BACKLOG + 1 - CHUNK + LATE);
    /* Then the rest, after the next idle wait. */
    CHECK(run_until(nothing_pending, 30000));
    CHECK_INT(env_sql("SELECT count(*) FROM fts"), BACKLOG + 1 + LATE);
    store_fs_set(NULL);
    atomic_store(&hook, 0);
    env_stop(&e);
    env_free_reqs();
    fixture_rmtree(e.dir);
    free(err);
}

int main(void)
{
    RUN(test_concurrent_appends_share_commits);
    RUN(test_changes_are_notified);
    RUN(test_search_before_indexing);
    RUN(test_idle_indexing_after_restart);
    RUN(test_appends_wait_for_one_chunk);
    return TEST_DONE();
}
