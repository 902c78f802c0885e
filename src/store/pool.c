/* The process's pool of open account handles (see store_acct_take in
 * store.h).
 *
 * Why a pool: a handle is an SQLite connection with its own page cache (up
 * to a few MB once warm). Held per session, 10,000 idle IMAP clients would
 * mean 10,000 connections and 30,000 descriptors; held per account by the
 * committer, every account that ever received mail would keep one for the
 * life of the process. Taken only around one piece of work, the handles in
 * use are bounded by the worker threads, and the idle ones by POOL_IDLE_MAX
 * and POOL_IDLE_SECS.
 */
#include <stdlib.h>
#include <time.h>

#include "store/db.h"

/* Idle handles kept at most, and for at most this long unused: enough for
 * every client that is actively working (between two commands of one
 * client, the others' commands run), few enough to stay small. */
#define POOL_IDLE_MAX 128
#define POOL_IDLE_SECS 30

static time_t pool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Unlinks idle handles past their time, or past the count (the oldest are
 * at the tail), onto *out; call with the lock held. */
static void pool_expire(struct store *s, time_t now, struct store_acct **out)
{
    struct store_acct **pp = &s->pool_idle;
    unsigned n = 0;
    while (*pp) {
        struct store_acct *a = *pp;
        if (n >= POOL_IDLE_MAX || now - a->pool_since > POOL_IDLE_SECS) {
            *pp = a->pool_next;
            s->pool_nidle--;
            a->pool_next = *out;
            *out = a;
            continue;
        }
        n++;
        pp = &a->pool_next;
    }
}

static void close_all(struct store_acct *list)
{
    while (list) {
        struct store_acct *next = list->pool_next;
        store_acct_close(list);
        list = next;
    }
}

int store_acct_take(struct store *s, int64_t account_id, struct store_acct **out, char **error_r)
{
    struct store_acct *found = NULL, *expired = NULL;
    pthread_mutex_lock(&s->pool_lock);
    for (struct store_acct **pp = &s->pool_idle; *pp; pp = &(*pp)->pool_next) {
        if ((*pp)->id == account_id) {
            found = *pp;
            *pp = found->pool_next;
            s->pool_nidle--;
            break;
        }
    }
    pool_expire(s, pool_now(), &expired);
    pthread_mutex_unlock(&s->pool_lock);
    close_all(expired);
    if (found) {
        found->pool_next = NULL;
        *out = found;
        return STORE_OK;
    }
    return store_acct_open(s, account_id, out, error_r);
}

void store_acct_give(struct store_acct *acct)
{
    if (!acct)
        return;
    struct store *s = acct->store;
    /* A handle left inside a transaction (a bug) must not carry it to the
     * next user. */
    if (!sqlite3_get_autocommit(acct->db)) {
        store_acct_close(acct);
        return;
    }
    struct store_acct *expired = NULL;
    time_t now = pool_now();
    acct->pool_since = now;
    acct->origin = 0;
    pthread_mutex_lock(&s->pool_lock);
    acct->pool_next = s->pool_idle;
    s->pool_idle = acct;
    s->pool_nidle++;
    pool_expire(s, now, &expired);
    pthread_mutex_unlock(&s->pool_lock);
    close_all(expired);
}

void store_acct_set_origin(struct store_acct *acct, uint64_t origin)
{
    acct->origin = origin;
}

unsigned store_acct_pool_idle(struct store *s)
{
    pthread_mutex_lock(&s->pool_lock);
    unsigned n = s->pool_nidle;
    pthread_mutex_unlock(&s->pool_lock);
    return n;
}

void pool_free(struct store *s)
{
    close_all(s->pool_idle);
    s->pool_idle = NULL;
    s->pool_nidle = 0;
}
