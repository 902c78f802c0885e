/* The verified-password cache (see cache.h). */
#include "auth/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "core/str.h"

#define MAC_LEN 32

struct slot {
    unsigned char mac[MAC_LEN];
    int64_t verified_at;
    bool used;
};

struct auth_cache {
    pthread_mutex_t lock;
    unsigned char key[crypto_generichash_KEYBYTES];
    struct slot *slots;
    unsigned mask;
};

struct auth_cache *auth_cache_new(unsigned slots)
{
    unsigned n = 16;
    while (n < slots && n < (1u << 24))
        n <<= 1;
    struct auth_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    randombytes_buf(c->key, sizeof(c->key));
    c->slots = xcalloc(n, sizeof(*c->slots));
    c->mask = n - 1;
    return c;
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    auth_wipe(c->key, sizeof(c->key));
    auth_wipe(c->slots, (size_t)(c->mask + 1) * sizeof(*c->slots));
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void auth_cache_clear(struct auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    auth_wipe(c->slots, (size_t)(c->mask + 1) * sizeof(*c->slots));
    pthread_mutex_unlock(&c->lock);
}

/* The slot (from the stored hash alone) and the MAC over both. The two are
 * separated by a NUL, which a stored hash never contains. */
static unsigned digest(const struct auth_cache *c, const char *stored_hash, const char *password,
                       size_t len, unsigned char mac[MAC_LEN])
{
    unsigned char where[8];
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
    return v & c->mask;
}

bool auth_cache_check(struct auth_cache *c, const char *stored_hash, const char *password,
                      size_t len, int64_t now, unsigned ttl)
{
    if (!c || ttl == 0 || !stored_hash || !*stored_hash)
        return false;
    unsigned char mac[MAC_LEN];
    unsigned i = digest(c, stored_hash, password, len, mac);
    pthread_mutex_lock(&c->lock);
    const struct slot *s = &c->slots[i];
    bool hit = s->used && now >= s->verified_at && now - s->verified_at < ttl &&
               sodium_memcmp(s->mac, mac, MAC_LEN) == 0;
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
    unsigned i = digest(c, stored_hash, password, len, mac);
    pthread_mutex_lock(&c->lock);
    memcpy(c->slots[i].mac, mac, MAC_LEN);
    c->slots[i].verified_at = now;
    c->slots[i].used = true;
    pthread_mutex_unlock(&c->lock);
    auth_wipe(mac, sizeof(mac));
}
