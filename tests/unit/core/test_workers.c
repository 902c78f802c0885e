#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>

#include "core/workers.h"
#include "test.h"

#define JOBS 200

static pthread_t loop_thread;
static atomic_int worked;
static int done_count;       /* only touched on the loop thread */
static int done_wrong_thread;
static struct event_base *base;

struct job {
    int n;
    int squared;
};

static void work(void *arg)
{
    struct job *j = arg;
    j->squared = j->n * j->n;
    atomic_fetch_add(&worked, 1);
}

static void done(void *arg)
{
    struct job *j = arg;
    if (!pthread_equal(pthread_self(), loop_thread))
        done_wrong_thread++;
    if (j->squared != j->n * j->n)
        done_wrong_thread += 1000;
    free(j);
    if (++done_count == JOBS)
        event_base_loopbreak(base);
}

static void test_results_come_back_to_the_loop(void)
{
    loop_thread = pthread_self();
    base = event_base_new();
    struct workers *w = workers_new(base, 4);
    for (int i = 0; i < JOBS; i++) {
        struct job *j = calloc(1, sizeof(*j));
        j->n = i;
        workers_submit(w, work, done, j);
    }
    event_base_dispatch(base);
    CHECK_INT(done_count, JOBS);
    CHECK_INT(atomic_load(&worked), JOBS);
    CHECK_INT(done_wrong_thread, 0);
    CHECK_INT(workers_busy(w), 0);
    workers_free(w);
    event_base_free(base);
}

static void test_free_finishes_queued_jobs(void)
{
    done_count = 0;
    atomic_store(&worked, 0);
    base = event_base_new();
    struct workers *w = workers_new(base, 2);
    for (int i = 0; i < JOBS; i++) {
        struct job *j = calloc(1, sizeof(*j));
        j->n = i;
        workers_submit(w, work, done, j);
    }
    /* No loop runs: workers_free must still run every job and its done. */
    workers_free(w);
    CHECK_INT(atomic_load(&worked), JOBS);
    CHECK_INT(done_count, JOBS);
    event_base_free(base);
}

static struct workers *chain_pool;
static int chained_done;

static void chained_second_done(void *arg)
{
    free(arg);
    chained_done++;
}

static void chained_first_done(void *arg)
{
    free(arg);
    chained_done++;
    /* A done that submits more work, as a write followed by an fsync would. */
    workers_submit(chain_pool, work, chained_second_done, calloc(1, sizeof(struct job)));
}

static void free_job_done(void *arg)
{
    free(arg);
}

static void test_free_runs_jobs_submitted_by_done(void)
{
    base = event_base_new();
    chain_pool = workers_new(base, 2);
    chained_done = 0;
    workers_submit(chain_pool, work, chained_first_done, calloc(1, sizeof(struct job)));
    workers_submit(chain_pool, work, free_job_done, calloc(1, sizeof(struct job)));
    workers_free(chain_pool);
    CHECK_INT(chained_done, 2);
    event_base_free(base);
}

int main(void)
{
    RUN(test_results_come_back_to_the_loop);
    RUN(test_free_finishes_queued_jobs);
    RUN(test_free_runs_jobs_submitted_by_done);
    return TEST_DONE();
}
