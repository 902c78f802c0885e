/* Group commit and change notification: many concurrent appends through
 * store_append_async, on a real event loop and worker pool. */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/workers.h"
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
    CHECK_STR(mine.log, "append INBOX 1;append INBOX 2;flags INBOX 1;append Archive 1;"
                        "append Trash 1;expunge INBOX 2;flags INBOX 1;expunge INBOX 1;");
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

int main(void)
{
    RUN(test_concurrent_appends_share_commits);
    RUN(test_changes_are_notified);
    return TEST_DONE();
}
