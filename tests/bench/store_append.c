/* tests/bench/store-append: appends per second with durability on, for 1, 8
 * and 64 concurrent appenders, with group commit (store_append_async) and
 * without (each appender its own thread, connection and transaction, as a
 * store without group commit would do). Prints one line per case.
 *
 *   store_append DIR SECONDS_PER_CASE
 */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "core/workers.h"
#include "store/store.h"

static char body[4096];
static size_t body_len;
static double seconds;
static int64_t account_id;
static struct store_options opt;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- without group commit: N threads, each appending synchronously ---- */

static atomic_long sync_count;
static double sync_deadline;

static void *sync_thread(void *arg)
{
    struct store *s = arg;
    struct store_acct *acct;
    char *err = NULL;
    if (store_acct_open(s, account_id, &acct, &err) != STORE_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    struct store_append_req req = { .mailbox = "INBOX", .data = body, .len = body_len };
    while (now() < sync_deadline) {
        if (store_message_append(acct, &req, NULL, &err) != STORE_OK) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        atomic_fetch_add(&sync_count, 1);
    }
    store_acct_close(acct);
    return NULL;
}

static double run_sync(struct store *s, int n)
{
    pthread_t t[64];
    atomic_store(&sync_count, 0);
    double start = now();
    sync_deadline = start + seconds;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, sync_thread, s);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (double)atomic_load(&sync_count) / (now() - start);
}

/* ---- with group commit: N appends always in flight ---- */

static struct event_base *base;
static struct store *async_store;
static long async_count;
static double async_deadline;
static int in_flight;
static struct store_append_req async_req;

static void async_done(void *ctx, int result, uint32_t uid, const char *error)
{
    (void)ctx;
    (void)uid;
    if (result != STORE_OK) {
        fprintf(stderr, "%s\n", error);
        exit(1);
    }
    async_count++;
    if (now() < async_deadline) {
        store_append_async(async_store, account_id, &async_req, async_done, NULL);
    } else if (--in_flight == 0) {
        event_base_loopbreak(base);
    }
}

static double run_async(struct store *s, int n, uint64_t *commits_r)
{
    base = event_base_new();
    struct workers *w = workers_new(base, n < 8 ? n + 1 : 8);
    char *err = NULL;
    if (store_attach(s, base, w, &err) != STORE_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    async_store = s;
    async_req = (struct store_append_req){ .mailbox = "INBOX", .data = body, .len = body_len };
    async_count = 0;
    in_flight = n;
    double start = now();
    async_deadline = start + seconds;
    for (int i = 0; i < n; i++)
        store_append_async(s, account_id, &async_req, async_done, NULL);
    event_base_dispatch(base);
    double rate = (double)async_count / (now() - start);
    workers_free(w);
    uint64_t appends;
    store_commit_stats(s, commits_r, &appends);
    return rate; /* the base is freed after store_close (it frees the store's timers) */
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: store_append DIR SECONDS_PER_CASE\n");
        return 2;
    }
    seconds = atof(argv[2]);
    body_len = (size_t)snprintf(body, sizeof(body),
                                "From: a@example.test\r\nTo: b@example.test\r\nSubject: bench\r\n"
                                "\r\n%03000d\r\n", 0);
    static const int ns[] = { 1, 8, 64 };
    printf("%-12s %8s %14s %14s %8s %s\n", "appenders", "bytes", "no-group/s", "group/s",
           "ratio", "appends/commit");
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        double rates[2] = { 0, 0 };
        uint64_t commits = 0;
        long appended = 0;
        for (int mode = 0; mode < 2; mode++) {
            /* A fresh store per case, so file counts do not carry over. */
            char *d = malloc(strlen(argv[1]) + 32);
            sprintf(d, "%s/case-%zu-%d", argv[1], k, mode);
            opt = (struct store_options){ .data_dir = d, .subaddress_separators = "+" };
            struct store *s;
            char *err = NULL;
            struct auth_credentials cred;
            const char *why;
            if (auth_init() < 0 || auth_credentials_make("pw", 2, &cred, &why) < 0 ||
                store_open(&opt, &s, &err) != STORE_OK ||
                store_domain_add(s, "example.test", &err) != STORE_OK ||
                store_account_add(s, "a@example.test", "", &cred, 0, &account_id, &err) !=
                    STORE_OK) {
                fprintf(stderr, "setup: %s\n", err ? err : why);
                return 1;
            }
            if (mode == 0) {
                rates[0] = run_sync(s, ns[k]);
            } else {
                rates[1] = run_async(s, ns[k], &commits);
                appended = async_count;
            }
            store_close(s);
            if (mode == 1)
                event_base_free(base);
            nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            free(d);
        }
        printf("%-12d %8zu %14.0f %14.0f %7.2fx %.1f\n", ns[k], body_len, rates[0], rates[1],
               rates[1] / rates[0], commits ? (double)appended / (double)commits : 0.0);
        fflush(stdout);
    }
    return 0;
}
