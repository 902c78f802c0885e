/*
 * Unit tests for auth/cache.h: a verified password hits within the ttl and
 * not after, a wrong password or a changed stored hash misses, two accounts
 * sharing a slot evict each other without a false hit, ttl 0 turns it off,
 * and clear forgets.
 */
#include <stdio.h>
#include <string.h>

#include "auth/cache.h"
#include "auth/password.h"
#include "test.h"

static const char H1[] = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
static const char H2[] = "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo";

static bool check(struct auth_cache *c, const char *hash, const char *pw, int64_t now,
                  unsigned ttl)
{
    return auth_cache_check(c, hash, pw, strlen(pw), now, ttl);
}

static void put(struct auth_cache *c, const char *hash, const char *pw, int64_t now)
{
    auth_cache_put(c, hash, pw, strlen(pw), now);
}

static void test_hit_and_expiry(void)
{
    struct auth_cache *c = auth_cache_new(64);
    CHECK(!check(c, H1, "secret", 100, 3600));
    put(c, H1, "secret", 100);
    CHECK(check(c, H1, "secret", 100, 3600));
    CHECK(check(c, H1, "secret", 3699, 3600));
    CHECK(!check(c, H1, "secret", 3700, 3600));
    /* A clock that went back is no reason to trust it. */
    CHECK(!check(c, H1, "secret", 99, 3600));
    /* ttl 0: off, whatever is stored. */
    CHECK(!check(c, H1, "secret", 100, 0));
    auth_cache_free(c);
}

static void test_misses(void)
{
    struct auth_cache *c = auth_cache_new(64);
    put(c, H1, "secret", 10);
    CHECK(!check(c, H1, "Secret", 10, 60));
    CHECK(!check(c, H1, "secret ", 10, 60));
    CHECK(!check(c, H1, "", 10, 60));
    /* The password changed: the stored hash is another. */
    CHECK(!check(c, H2, "secret", 10, 60));
    /* A password with a NUL in it is not its prefix. */
    CHECK(!auth_cache_check(c, H1, "secret\0x", 8, 10, 60));
    CHECK(!check(c, "", "secret", 10, 60));
    auth_cache_clear(c);
    CHECK(!check(c, H1, "secret", 10, 60));
    auth_cache_free(c);
}

/* With 16 slots (the minimum: 4 sets of 4), 200 accounts must share them:
 * every hit is the right one, and the last ones put are found. */
static void test_collisions(void)
{
    struct auth_cache *c = auth_cache_new(1);
    char hashes[200][80], pws[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(hashes[i], sizeof(hashes[i]), "$argon2id$v=19$m=65536,t=2,p=1$s%03d$h", i);
        snprintf(pws[i], sizeof(pws[i]), "pw%d", i);
        put(c, hashes[i], pws[i], 5);
    }
    int hits = 0;
    for (int i = 0; i < 200; i++) {
        if (check(c, hashes[i], pws[i], 5, 60))
            hits++;
        /* Never another account's password. */
        CHECK(!check(c, hashes[i], pws[(i + 1) % 200], 5, 60));
    }
    CHECK(hits > 0);
    CHECK(hits <= 16);
    CHECK(check(c, hashes[199], pws[199], 5, 60));
    auth_cache_free(c);
}

/* Many slots: nothing is evicted among a few dozen accounts (four to a set,
 * so this holds with overwhelming probability), and a password change
 * replaces the account's entry instead of taking another slot. */
static void test_many_slots(void)
{
    struct auth_cache *c = auth_cache_new(8192);
    char h[80];
    for (int i = 0; i < 60; i++) {
        snprintf(h, sizeof(h), "$argon2id$v=19$m=65536,t=2,p=1$x%03d$h", i);
        put(c, h, "pw", 1);
    }
    int hits = 0;
    for (int i = 0; i < 60; i++) {
        snprintf(h, sizeof(h), "$argon2id$v=19$m=65536,t=2,p=1$x%03d$h", i);
        hits += check(c, h, "pw", 2, 60);
    }
    CHECK_INT(hits, 60);
    auth_cache_free(c);
}

int main(void)
{
    if (auth_init() < 0)
        return 1;
    RUN(test_hit_and_expiry);
    RUN(test_misses);
    RUN(test_collisions);
    RUN(test_many_slots);
    return TEST_DONE();
}
