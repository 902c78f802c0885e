#include "core/arena.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 4096
#define ARENA_ALIGN alignof(max_align_t)

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct arena {
    struct arena_block *blocks; /* newest first */
    struct arena *children;     /* owned children */
    struct arena *next_sibling;
    struct arena *parent;
    size_t max;
    size_t used;
};

struct arena *arena_new(size_t max)
{
    struct arena *a = xcalloc(1, sizeof(*a));
    a->max = max;
    return a;
}

struct arena *arena_new_child(struct arena *parent, size_t max)
{
    struct arena *c = arena_new(max);
    c->parent = parent;
    c->next_sibling = parent->children;
    parent->children = c;
    return c;
}

static void free_blocks(struct arena_block *b)
{
    while (b) {
        struct arena_block *n = b->next;
        free(b);
        b = n;
    }
}

static void arena_free_tree(struct arena *a)
{
    struct arena *c = a->children;
    while (c) {
        struct arena *n = c->next_sibling;
        arena_free_tree(c);
        c = n;
    }
    free_blocks(a->blocks);
    free(a);
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    if (a->parent) {
        struct arena **pp = &a->parent->children;
        while (*pp && *pp != a)
            pp = &(*pp)->next_sibling;
        if (*pp)
            *pp = a->next_sibling;
    }
    arena_free_tree(a);
}

void arena_reset(struct arena *a)
{
    for (struct arena *c = a->children; c; c = c->next_sibling)
        arena_reset(c);
    if (!a->blocks)
        return;
    /* Keep the newest block if it is an ordinary one: the next command will
     * most likely need about as much, and a reset then costs no malloc. */
    struct arena_block *keep = a->blocks;
    free_blocks(keep->next);
    if (keep->size > ARENA_BLOCK) {
        free(keep);
        a->blocks = NULL;
    } else {
        keep->next = NULL;
        keep->used = 0;
    }
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t rounded = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    bool impossible = rounded < n || rounded > SIZE_MAX - sizeof(struct arena_block);
    if (a->max && (impossible || rounded > a->max || a->used > a->max - rounded))
        return NULL;
    if (impossible) {
        /* Uncapped arenas promise never to return NULL: like xmalloc. */
        fprintf(stderr, "outpost: out of memory allocating %zu bytes from an arena\n", n);
        abort();
    }
    struct arena_block *b = a->blocks;
    if (!b || b->size - b->used < rounded) {
        size_t size = rounded > ARENA_BLOCK ? rounded : ARENA_BLOCK;
        b = xmalloc(sizeof(*b) + size);
        b->size = size;
        b->used = 0;
        /* A large allocation goes behind the current block, so the current
         * block's free space stays usable for small ones. */
        if (rounded > ARENA_BLOCK && a->blocks) {
            b->next = a->blocks->next;
            a->blocks->next = b;
        } else {
            b->next = a->blocks;
            a->blocks = b;
        }
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used += rounded;
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

struct str arena_str(struct arena *a, struct str s)
{
    char *p = arena_strndup(a, s.p, s.len);
    return p ? (struct str){ p, s.len } : STR_NULL;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}
