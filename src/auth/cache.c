/* The verified-password cache (see cache.h). */
#include "auth/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "core/str.h"

#define MAC_LEN 32
/* Slots per set: with one slot per set, two accounts that hash to the same
 * slot (likely among a few dozen: the birthday bound) would evict each
 * other at every login and both pay the full hash each time. */
#define WAYS 4

struct slot {
    unsigned char mac[MAC_LEN];
    uint64_t tag;        /* which stored hash (keyed), to find its own slot */
    int64_t verified_at;
    bool used;
};

struct auth_cache {
    pthread_mutex_t lock;
    unsigned char key[crypto_generichash_KEYBYTES];
    struct slot *slots;  /* (mask + 1) sets of WAYS slots */
    unsigned mask;
};

struct auth_cache *auth_cache_new(unsigned slots)
{
    unsigned sets = 4;
    while (sets * WAYS < slots && sets < (1u << 22))
        sets <<= 1;
    struct auth_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    randombytes_buf(c->key, sizeof(c->key));
    c->slots = xcalloc((size_t)sets * WAYS, sizeof(*c->slots));
    c->mask = sets - 1;
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    auth_wipe(c->key, sizeof(c->key));
    auth_wipe(c->slots, (size_t)(c->mask + 1) * WAYS * sizeof(*c->slots));
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void auth_cache_clear(struct auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    auth_wipe(c->slots, (size_t)(c->mask + 1) * WAYS * sizeof(*c->slots));
    pthread_mutex_unlock(&c->lock);
}

/* The set and tag (from the stored hash alone) and the MAC over both. The
 * two are separated by a NUL, which a stored hash never contains. */
static struct slot *digest(const struct auth_cache *c, const char *stored_hash,
                           const char *password, size_t len, uint64_t *tag,
                           unsigned char mac[MAC_LEN])
{
    unsigned char where[16];
    size_t hlen = strlen(stored_hash);
    crypto_generichash(where, sizeof(where), (const unsigned char *)stored_hash, hlen, c->key,
                       sizeof(c->key));
    crypto_generichash_state st;
    crypto_generichash_init(&st, c->key, sizeof(c->key), MAC_LEN);
    crypto_generichash_update(&st, (const unsigned char *)stored_hash, hlen + 1);
    crypto_generichash_update(&st, (const unsigned char *)password, len);
    crypto_generichash_final(&st, mac, MAC_LEN);
    auth_wipe(&st, sizeof(st));
    uint32_t v;
    memcpy(&v, where, sizeof(v));
    memcpy(tag, where + 8, sizeof(*tag));
    return &c->slots[(size_t)(v & c->mask) * WAYS];
}

bool auth_cache_check(struct auth_cache *c, const char *stored_hash, const char *password,
                      size_t len, int64_t now, unsigned ttl)
{
    if (!c || ttl == 0 || !stored_hash || !*stored_hash)
        return false;
    unsigned char mac[MAC_LEN];
    uint64_t tag;
    struct slot *set = digest(c, stored_hash, password, len, &tag, mac);
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < WAYS; i++) {
        const struct slot *s = &set[i];
        if (s->used && s->tag == tag && now >= s->verified_at && now - s->verified_at < ttl &&
            sodium_memcmp(s->mac, mac, MAC_LEN) == 0)
            hit = true;
    }
    pthread_mutex_unlock(&c->lock);
    auth_wipe(mac, sizeof(mac));
    return hit;
}

void auth_cache_put(struct auth_cache *c, const char *stored_hash, const char *password,
                    size_t len, int64_t now)
{
    if (!c || !stored_hash || !*stored_hash)
        return;
    unsigned char mac[MAC_LEN];
    uint64_t tag;
    struct slot *set = digest(c, stored_hash, password, len, &tag, mac);
    pthread_mutex_lock(&c->lock);
    /* The account's own slot, else an empty one, else the oldest. */
    struct slot *s = NULL;
    for (int i = 0; i < WAYS && !s; i++)
        if (set[i].used && set[i].tag == tag)
            s = &set[i];
    for (int i = 0; i < WAYS && !s; i++)
        if (!set[i].used)
            s = &set[i];
    if (!s) {
        s = &set[0];
        for (int i = 1; i < WAYS; i++)
            if (set[i].verified_at < s->verified_at)
                s = &set[i];
    }
    memcpy(s->mac, mac, MAC_LEN);
    s->tag = tag;
    s->verified_at = now;
    s->used = true;
    pthread_mutex_unlock(&c->lock);
    auth_wipe(mac, sizeof(mac));
}
