#include "core/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"

struct job {
    struct job *next;
    void (*work)(void *arg);
    void (*done)(void *arg);
    void *arg;
};

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_cond_t finished;   /* a job reached the done list */
    struct job *queue_head, *queue_tail; /* waiting to run */
    struct job *done_head, *done_tail;   /* finished, `done` not yet run */
    int busy;
    bool stop;
    int nthreads;
    pthread_t *threads;
    int efd;                 /* wakes the loop when a job finishes */
    struct event *ev;
};

static void push(struct job **head, struct job **tail, struct job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *worker_main(void *arg)
{
    struct workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->queue_head && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        struct job *j = w->queue_head;
        if (!j)
            break; /* stopping and nothing left */
        w->queue_head = j->next;
        if (!w->queue_head)
            w->queue_tail = NULL;
        pthread_mutex_unlock(&w->lock);

        j->work(j->arg);

        pthread_mutex_lock(&w->lock);
        push(&w->done_head, &w->done_tail, j);
        pthread_cond_signal(&w->finished);
        uint64_t one = 1;
        ssize_t r = write(w->efd, &one, sizeof(one));
        (void)r; /* a full counter already means "wake up" */
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* On the loop thread: run `done` for every finished job. */
static void run_done(struct workers *w)
{
    pthread_mutex_lock(&w->lock);
    struct job *j = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (j) {
        struct job *next = j->next;
        if (j->done)
            j->done(j->arg);
        free(j);
        pthread_mutex_lock(&w->lock);
        w->busy--;
        pthread_mutex_unlock(&w->lock);
        j = next;
    }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    run_done(arg);
}

struct workers *workers_new(struct event_base *base, int threads)
{
    struct workers *w = xcalloc(1, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->finished, NULL);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        log_error("core", "workers-failed", "error=%s", log_q(strerror(errno)));
        abort();
    }
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, wake_cb, w);
    event_add(w->ev, NULL);
    w->threads = xcalloc((size_t)threads, sizeof(*w->threads));
    for (int i = 0; i < threads; i++) {
        int e = pthread_create(&w->threads[i], NULL, worker_main, w);
        if (e) {
            log_error("core", "workers-failed", "error=%s", log_q(strerror(e)));
            abort();
        }
        w->nthreads++;
    }
    return w;
}

void workers_submit(struct workers *w, void (*work)(void *arg), void (*done)(void *arg),
                    void *arg)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w->lock);
    push(&w->queue_head, &w->queue_tail, j);
    w->busy++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int workers_busy(struct workers *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->busy;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void workers_free(struct workers *w)
{
    if (!w)
        return;
    /* Run everything to the end first, including jobs that `done`
     * callbacks submit in turn (an fsync after a write, say). */
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->busy > 0 && !w->done_head)
            pthread_cond_wait(&w->finished, &w->lock);
        bool idle = w->busy == 0;
        pthread_mutex_unlock(&w->lock);
        if (idle)
            break;
        run_done(w);
    }
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    run_done(w);
    event_free(w->ev);
    close(w->efd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->finished);
    free(w->threads);
    free(w);
}
