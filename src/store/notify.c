/* Change notification inside the process (see store.h): any thread
 * publishes; the loop thread delivers to watchers. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/str.h"
#include "store/db.h"

struct pending_event {
    struct pending_event *next;
    struct store_event ev;
    char *mailbox;
};

struct store_watch {
    struct store_watch *prev, *next;
    struct store_hub *hub;
    int64_t account_id;
    void (*cb)(void *ctx, const struct store_event *ev);
    void *ctx;
};

struct store_hub {
    pthread_mutex_t lock;
    struct pending_event *head, *tail; /* published, not yet delivered */
    int efd;
    struct event *ev;
    struct store_watch *watches;       /* loop thread only */
};

void hub_publish(struct store *s, int64_t account_id, const char *mailbox,
                 enum store_event_kind kind, uint32_t uid, uint64_t modseq, uint64_t origin)
{
    struct store_hub *h = s->hub;
    if (!h)
        return;
    struct pending_event *p = xcalloc(1, sizeof(*p));
    p->mailbox = xstrdup(mailbox);
    p->ev = (struct store_event){ account_id, p->mailbox, kind, uid, modseq, origin };
    pthread_mutex_lock(&h->lock);
    if (h->tail)
        h->tail->next = p;
    else
        h->head = p;
    h->tail = p;
    pthread_mutex_unlock(&h->lock);
    uint64_t one = 1;
    ssize_t r = write(h->efd, &one, sizeof(one));
    (void)r; /* a full counter already means "wake up" */
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct store_hub *h = arg;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    pthread_mutex_lock(&h->lock);
    struct pending_event *p = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->lock);
    while (p) {
        struct pending_event *next = p->next;
        /* A watcher may remove itself from its callback (not another one):
         * walk with the next one saved. */
        for (struct store_watch *w = h->watches; w;) {
            struct store_watch *wn = w->next;
            if (w->account_id == p->ev.account_id && w->cb)
                w->cb(w->ctx, &p->ev);
            w = wn;
        }
        free(p->mailbox);
        free(p);
        p = next;
    }
}

int store_attach(struct store *s, struct event_base *base, struct workers *w, char **error_r)
{
    struct store_hub *h = xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        *error_r = xasprintf("eventfd: %s", strerror(errno));
        pthread_mutex_destroy(&h->lock);
        free(h);
        return STORE_ERR_IO;
    }
    h->ev = event_new(base, h->efd, EV_READ | EV_PERSIST, deliver, h);
    event_add(h->ev, NULL);
    s->hub = h;
    s->committer = committer_new(s, base, w);
    s->workers = w;
    return STORE_OK;
}

struct store_watch *store_watch_add(struct store *s, int64_t account_id,
                                    void (*cb)(void *ctx, const struct store_event *ev),
                                    void *ctx)
{
    struct store_hub *h = s->hub;
    if (!h)
        abort(); /* a bug: watching before store_attach */
    struct store_watch *w = xcalloc(1, sizeof(*w));
    w->hub = h;
    w->account_id = account_id;
    w->cb = cb;
    w->ctx = ctx;
    w->next = h->watches;
    if (h->watches)
        h->watches->prev = w;
    h->watches = w;
    return w;
}

void store_watch_remove(struct store_watch *w)
{
    if (!w)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        w->hub->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
}

void hub_free(struct store_hub *h)
{
    if (!h)
        return;
    struct pending_event *p = h->head;
    while (p) {
        struct pending_event *n = p->next;
        free(p->mailbox);
        free(p);
        p = n;
    }
    while (h->watches)
        store_watch_remove(h->watches);
    event_free(h->ev);
    close(h->efd);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
