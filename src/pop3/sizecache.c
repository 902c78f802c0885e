/* Wire sizes by message file (see sizecache.h). */
#include "pop3/sizecache.h"

#include <pthread.h>

#define SLOTS (1u << 16)

struct slot {
    int64_t account_id;   /* 0: empty (account ids start at 1) */
    uint64_t h1, h2;      /* the file name, hashed two ways: 128 bits */
    uint64_t stored;
    uint64_t wire;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a, 64 bits, from two bases. File names are 128 random bits in hex,
 * so this is only a folding of them; any other name still works. */
static void hash(const char *file, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (const unsigned char *p = (const unsigned char *)file; *p; p++) {
        a = (a ^ *p) * 0x100000001b3ull;
        b = (b ^ *p) * 0x100000001b3ull;
    }
    *h1 = a;
    *h2 = b;
}

static struct slot *slot_of(int64_t account_id, uint64_t h1)
{
    return &slots[(h1 ^ (uint64_t)account_id * 0x9e3779b97f4a7c15ull) % SLOTS];
}

bool pop3_size_cache_get(int64_t account_id, const char *file, uint64_t stored_size,
                         uint64_t *wire_r)
{
    uint64_t h1, h2;
    hash(file, &h1, &h2);
    bool found = false;
    pthread_mutex_lock(&lock);
    struct slot *s = slot_of(account_id, h1);
    if (s->account_id == account_id && s->h1 == h1 && s->h2 == h2 && s->stored == stored_size) {
        *wire_r = s->wire;
        found = true;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void pop3_size_cache_put(int64_t account_id, const char *file, uint64_t stored_size,
                         uint64_t wire)
{
    uint64_t h1, h2;
    hash(file, &h1, &h2);
    pthread_mutex_lock(&lock);
    *slot_of(account_id, h1) = (struct slot){ account_id, h1, h2, stored_size, wire };
    pthread_mutex_unlock(&lock);
}
