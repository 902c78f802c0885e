/*
 * core/arena.h — region allocation for sessions, commands and transactions.
 *
 * A connection owns one arena; each command or transaction allocates from a
 * child arena that is reset when it ends, so per-command memory is released in
 * one step and can never accumulate over a long session.
 *
 * Owns: its blocks and its children (freed with it). Never does I/O, never logs.
 * Not thread-safe: an arena belongs to one session on one thread.
 */
#ifndef OUTPOST_CORE_ARENA_H
#define OUTPOST_CORE_ARENA_H

#include <stddef.h>

#include "core/str.h"

struct arena;

/* A new top-level arena. `max` caps the bytes it will hand out (0: no cap),
 * counting each allocation rounded up to the alignment (16 bytes on x86-64). */
struct arena *arena_new(size_t max);
/* A child arena, freed together with its parent (or earlier by arena_free).
 * Its cap is its own: a connection's memory is bounded by the parent's cap
 * plus each child's, so give children caps that add up to the budget. */
struct arena *arena_new_child(struct arena *parent, size_t max);
void arena_free(struct arena *a);
/* Releases everything allocated from `a` (children stay, but are reset too). */
void arena_reset(struct arena *a);

/* Returns memory aligned for any type, or NULL when the cap would be passed.
 * Without a cap it never returns NULL (allocation failure aborts). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* A copy of s in the arena, NUL-terminated after its bytes. */
struct str arena_str(struct arena *a, struct str s);

/* Bytes handed out since creation or the last reset. */
size_t arena_used(const struct arena *a);

#endif
