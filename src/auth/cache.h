/*
 * auth/cache.h — remembers passwords that passed their argon2id check, so a
 * mail client that logs in again and again (phones every few minutes, a
 * desktop client with five connections) pays the 64 MiB, tens-of-milliseconds
 * hash once per `ttl`, not per connection.
 *
 * What is kept is no password and no hash that helps offline: per slot, a
 * keyed BLAKE2b of (the account's stored argon2id string, the password) under
 * a random per-process key, and an expiry. A hit needs the same stored hash
 * (a password change or reset misses at once) and the same password; a miss
 * only means the full check runs. Wrong passwords are never cached, so they
 * always cost the full hash: the cache never speeds up guessing.
 *
 * The table has a fixed number of slots in sets of four (the set chosen by
 * the stored hash; the oldest entry of a full set goes): memory is bounded,
 * and an eviction costs a hash, never a wrong answer.
 *
 * Owns: its table. Thread-safe (used by the hashing threads). Time is passed
 * in (seconds, monotonic) so tests control it. Never logs.
 */
#ifndef OUTPOST_AUTH_CACHE_H
#define OUTPOST_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_cache;

/* `slots` is rounded up to a power of two (at least 16). A password change
 * leaves the old entry to age out of its set. */
struct auth_cache *auth_cache_new(unsigned slots);
void auth_cache_free(struct auth_cache *c);

/* True when this password was verified against this stored hash less than
 * `ttl` seconds before `now` (ttl 0: never). */
bool auth_cache_check(struct auth_cache *c, const char *stored_hash, const char *password,
                      size_t len, int64_t now, unsigned ttl);
/* Records a password that has just passed its check. */
void auth_cache_put(struct auth_cache *c, const char *stored_hash, const char *password,
                    size_t len, int64_t now);
/* Forgets everything (tests, and a reload that turns the cache off). */
void auth_cache_clear(struct auth_cache *c);

#endif
