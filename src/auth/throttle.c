/*
 * Two tables of the same shape, one for addresses and one for user names.
 * Each is a chained hash table (SipHash with a per-process random key, so a
 * client cannot choose addresses or names that pile up in one chain) whose
 * entries are also on a list from least to most recently failed: a failure
 * moves its entry to the fresh end, and a new entry in a full table takes
 * the place of the stalest one.
 *
 * Keys are 16 bytes: a family tag and the IPv4 address or the IPv6 /64
 * prefix (an IPv4-mapped IPv6 address counts as IPv4), or a keyed BLAKE2b
 * hash of the ASCII-lowercased user name (so the table has a fixed size and
 * holds no names).
 *
 * The window is a count and the time of the first failure it counts: a
 * failure more than window_secs after that time starts a new window at 1.
 */
#include "auth/throttle.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/str.h"

#define KEY_LEN 16
#define MIN_BUCKETS 16

struct entry {
    unsigned char key[KEY_LEN];
    uint64_t hash;
    struct entry *chain;          /* next in the bucket */
    struct entry *older, *newer;  /* the staleness list */
    unsigned failures;            /* in the current window */
    int64_t window_start;         /* the first failure of the window */
    int64_t blocked_until;        /* addresses: the end of the block, or 0 */
};

struct table {
    struct entry **buckets;
    size_t nbuckets;              /* a power of two */
    size_t n;
    struct entry *oldest, *newest;
};

struct auth_throttle {
    struct auth_throttle_config cfg;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    unsigned char name_key[crypto_generichash_KEYBYTES];
    struct table addrs, users;
};

static void table_init(struct table *t)
{
    t->nbuckets = MIN_BUCKETS;
    t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
    t->n = 0;
    t->oldest = t->newest = NULL;
}

static void table_free(struct table *t)
{
    struct entry *e = t->oldest;
    while (e) {
        struct entry *next = e->newer;
        free(e);
        e = next;
    }
    free(t->buckets);
}

static struct entry **bucket(struct table *t, uint64_t hash)
{
    return &t->buckets[hash & (t->nbuckets - 1)];
}

static struct entry *table_find(struct table *t, const unsigned char *key, uint64_t hash)
{
    for (struct entry *e = *bucket(t, hash); e; e = e->chain)
        if (e->hash == hash && memcmp(e->key, key, KEY_LEN) == 0)
            return e;
    return NULL;
}

static void list_unlink(struct table *t, struct entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = NULL;
}

static void list_push_newest(struct table *t, struct entry *e)
{
    e->older = t->newest;
    e->newer = NULL;
    if (t->newest)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
}

static void table_remove(struct table *t, struct entry *e)
{
    struct entry **pp = bucket(t, e->hash);
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    list_unlink(t, e);
    t->n--;
    free(e);
}

static void table_grow(struct table *t)
{
    size_t n = t->nbuckets * 2;
    struct entry **b = xcalloc(n, sizeof(*b));
    for (struct entry *e = t->oldest; e; e = e->newer) {
        struct entry **pp = &b[e->hash & (n - 1)];
        e->chain = *pp;
        *pp = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Forgets the stalest entries until at most `max` remain. */
static void table_trim(struct table *t, size_t max)
{
    while (t->n > max)
        table_remove(t, t->oldest);
}

/* The entry for key, made (in place of the stalest when the table holds
 * `max`) when there is none. */
static struct entry *table_get(struct table *t, const unsigned char *key, uint64_t hash,
                               size_t max)
{
    struct entry *e = table_find(t, key, hash);
    if (e)
        return e;
    table_trim(t, max - 1);
    if (t->n >= t->nbuckets)
        table_grow(t);
    e = xcalloc(1, sizeof(*e));
    memcpy(e->key, key, KEY_LEN);
    e->hash = hash;
    struct entry **pp = bucket(t, hash);
    e->chain = *pp;
    *pp = e;
    list_push_newest(t, e);
    t->n++;
    return e;
}

static size_t max_entries(const struct auth_throttle *t)
{
    return t->cfg.max_entries ? t->cfg.max_entries : 1;
}

static uint64_t key_hash(const struct auth_throttle *t, const unsigned char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, KEY_LEN, t->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return v;
}

/* The address's key: IPv4 address, or IPv6 /64 prefix. Returns false for
 * anything else (a UNIX socket), which is never throttled. */
static bool addr_key(const struct sockaddr *sa, unsigned char key[KEY_LEN])
{
    memset(key, 0, KEY_LEN);
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof(sin));
        key[0] = 4;
        memcpy(key + 1, &sin.sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof(sin6));
        if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
            key[0] = 4;
            memcpy(key + 1, sin6.sin6_addr.s6_addr + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, sin6.sin6_addr.s6_addr, 8);
        }
        return true;
    }
    return false;
}

static void user_key(const struct auth_throttle *t, const char *user, unsigned char key[KEY_LEN])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, t->name_key, sizeof(t->name_key), KEY_LEN);
    unsigned char chunk[64];
    size_t n = 0;
    for (const char *c = user; *c; c++) {
        chunk[n++] = (unsigned char)((*c >= 'A' && *c <= 'Z') ? *c + ('a' - 'A') : *c);
        if (n == sizeof(chunk)) {
            crypto_generichash_update(&st, chunk, n);
            n = 0;
        }
    }
    crypto_generichash_update(&st, chunk, n);
    crypto_generichash_final(&st, key, KEY_LEN);
}

/* Counts one failure in e's window (starting a new window when the last one
 * is over, or when the clock went back) and marks e the freshest. */
static void count_failure(const struct auth_throttle *t, struct table *tab, struct entry *e,
                          int64_t now)
{
    if (e->failures == 0 || now < e->window_start ||
        now - e->window_start >= (int64_t)t->cfg.window_secs) {
        e->failures = 0;
        e->window_start = now;
    }
    if (e->failures < UINT_MAX)
        e->failures++;
    list_unlink(tab, e);
    list_push_newest(tab, e);
}

struct auth_throttle *auth_throttle_new(const struct auth_throttle_config *cfg)
{
    if (sodium_init() < 0)
        abort();
    struct auth_throttle *t = xcalloc(1, sizeof(*t));
    t->cfg = *cfg;
    crypto_shorthash_keygen(t->hash_key);
    crypto_generichash_keygen(t->name_key);
    table_init(&t->addrs);
    table_init(&t->users);
    return t;
}

void auth_throttle_free(struct auth_throttle *t)
{
    if (!t)
        return;
    table_free(&t->addrs);
    table_free(&t->users);
    free(t);
}

void auth_throttle_configure(struct auth_throttle *t, const struct auth_throttle_config *cfg)
{
    t->cfg = *cfg;
    table_trim(&t->addrs, max_entries(t));
    table_trim(&t->users, max_entries(t));
}

unsigned auth_throttle_blocked(struct auth_throttle *t, const struct sockaddr *peer, int64_t now)
{
    unsigned char key[KEY_LEN];
    if (!addr_key(peer, key))
        return 0;
    struct entry *e = table_find(&t->addrs, key, key_hash(t, key));
    if (!e || e->blocked_until <= now)
        return 0;
    int64_t left = e->blocked_until - now;
    /* Never longer than a block lasts now (a reload may have shortened it). */
    if (left > (int64_t)t->cfg.block_secs)
        left = t->cfg.block_secs;
    return (unsigned)left;
}

unsigned auth_throttle_failure(struct auth_throttle *t, const struct sockaddr *peer,
                               const char *user, int64_t now)
{
    unsigned char key[KEY_LEN];
    if (addr_key(peer, key)) {
        struct entry *e = table_get(&t->addrs, key, key_hash(t, key), max_entries(t));
        count_failure(t, &t->addrs, e, now);
        /* The failure that reaches the limit starts a block; failures during
         * it do not lengthen it, but one after it, still in the window,
         * starts another. */
        if (t->cfg.ip_max_failures && e->failures >= t->cfg.ip_max_failures &&
            e->blocked_until <= now)
            e->blocked_until = now + (int64_t)t->cfg.block_secs;
    }
    unsigned delay = t->cfg.failure_delay_ms;
    if (user) {
        user_key(t, user, key);
        struct entry *e = table_get(&t->users, key, key_hash(t, key), max_entries(t));
        count_failure(t, &t->users, e, now);
        if (t->cfg.user_max_failures && e->failures >= t->cfg.user_max_failures)
            delay = t->cfg.max_delay_ms;
    }
    return delay;
}

void auth_throttle_success(struct auth_throttle *t, const struct sockaddr *peer, const char *user,
                           int64_t now)
{
    (void)now;
    unsigned char key[KEY_LEN];
    struct entry *e;
    if (addr_key(peer, key) && (e = table_find(&t->addrs, key, key_hash(t, key))))
        table_remove(&t->addrs, e);
    if (user) {
        user_key(t, user, key);
        if ((e = table_find(&t->users, key, key_hash(t, key))))
            table_remove(&t->users, e);
    }
}
