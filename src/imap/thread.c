/* THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3), on messages
 * whose keys sort.c filled (see sort.h). Both build one tree under a root
 * and write it the same way. Trees are walked with explicit stacks, never
 * by recursion: a chain of replies may be as deep as the mailbox is big. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "imap/sort.h"

struct node {
    const struct imap_sort_msg *msg; /* NULL: a dummy (or the root) */
    struct node *parent, *child, *last; /* first and last child */
    struct node *prev, *next;        /* siblings */
    struct str id;                   /* REFERENCES: the Message-ID it stands for */
    struct node *hnext;              /* in the Message-ID (or subject) table */
};

struct tree {
    struct arena *a;
    struct node *pool;               /* every node; pool[0] is the root */
    size_t n, cap;
    struct node **table;             /* Message-ID -> node, chained */
    size_t mask;
};

static struct node *node_new(struct tree *t)
{
    /* cap is counted before any node is made, so this never runs out. */
    struct node *x = &t->pool[t->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

static void append_child(struct node *p, struct node *c)
{
    c->parent = p;
    c->prev = p->last;
    c->next = NULL;
    if (p->last)
        p->last->next = c;
    else
        p->child = c;
    p->last = c;
}

static void unlink_node(struct node *c)
{
    struct node *p = c->parent;
    if (!p)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->child = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->last = c->prev;
    c->parent = c->prev = c->next = NULL;
}

/* Moves every child of `from` to the end of `to`'s children. */
static void move_children(struct node *from, struct node *to)
{
    while (from->child) {
        struct node *c = from->child;
        unlink_node(c);
        append_child(to, c);
    }
}

/* The message a node sorts and is named by: its own, or a dummy's first
 * child's (RFC 5256 steps 4 and 6). */
static const struct imap_sort_msg *key_msg(const struct node *x)
{
    while (!x->msg && x->child)
        x = x->child;
    return x->msg;
}

static int cmp_date(const void *pa, const void *pb)
{
    const struct imap_sort_msg *a = key_msg(*(struct node *const *)pa);
    const struct imap_sort_msg *b = key_msg(*(struct node *const *)pb);
    if (!a || !b) /* a dummy without children: never left in a tree */
        return !a - !b;
    if (a->date != b->date)
        return a->date < b->date ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sorts a node's children by sent date (ties: sequence number). */
static void sort_children(struct node *p, struct node **scratch)
{
    size_t k = 0;
    for (struct node *c = p->child; c; c = c->next)
        scratch[k++] = c;
    if (k < 2)
        return;
    qsort(scratch, k, sizeof(*scratch), cmp_date);
    p->child = p->last = NULL;
    for (size_t i = 0; i < k; i++)
        append_child(p, scratch[i]);
}

/* ---- the answer ---- */

enum { EMIT_OPEN, EMIT_CLOSE, EMIT_MEMBERS };
struct emit {
    int what;
    const struct node *x;
};

/* "(1 2 (3)(4))" per thread: a message, then its only child's members
 * without parentheses, or each of several children in parentheses. */
static void write_threads(struct tree *t, struct buf *out)
{
    struct emit *st = arena_alloc(t->a, (3 * t->n + 3) * sizeof(*st));
    size_t sp = 0;
    for (const struct node *top = t->pool[0].last; top; top = top->prev) {
        st[sp++] = (struct emit){ EMIT_CLOSE, NULL };
        st[sp++] = (struct emit){ EMIT_MEMBERS, top };
        st[sp++] = (struct emit){ EMIT_OPEN, NULL };
    }
    while (sp) {
        struct emit e = st[--sp];
        if (e.what == EMIT_OPEN) {
            buf_append_char(out, '(');
            continue;
        }
        if (e.what == EMIT_CLOSE) {
            buf_append_char(out, ')');
            continue;
        }
        const struct node *x = e.x;
        if (x->msg)
            buf_printf(out, "%u", x->msg->num);
        if (!x->child)
            continue;
        if (x->msg)
            buf_append_char(out, ' ');
        if (x->child == x->last) {
            st[sp++] = (struct emit){ EMIT_MEMBERS, x->child };
            continue;
        }
        for (const struct node *c = x->last; c; c = c->prev) {
            st[sp++] = (struct emit){ EMIT_CLOSE, NULL };
            st[sp++] = (struct emit){ EMIT_MEMBERS, c };
            st[sp++] = (struct emit){ EMIT_OPEN, NULL };
        }
    }
}

/* ---- ORDEREDSUBJECT ---- */

/* Messages sorted by base subject, then sent date; each run of one base
 * subject is a thread whose first message has all the others as children;
 * threads in the order of their first messages' sent dates. */
static void ordered_subject(struct tree *t, const struct imap_sort_msg *msgs, uint32_t n)
{
    static const struct imap_sort_criterion by[] = { { IMAP_SORT_SUBJECT, false },
                                                     { IMAP_SORT_DATE, false } };
    const struct imap_sort_msg **v = arena_alloc(t->a, n * sizeof(*v));
    for (uint32_t i = 0; i < n; i++)
        v[i] = &msgs[i];
    imap_sort(v, n, by, 2);
    struct node *root = &t->pool[0], *top = NULL;
    for (uint32_t i = 0; i < n; i++) {
        struct node *x = node_new(t);
        x->msg = v[i];
        if (top && imap_casemap_cmp(top->msg->subject, v[i]->subject) == 0) {
            append_child(top, x);
        } else {
            append_child(root, x);
            top = x;
        }
    }
    struct node **scratch = arena_alloc(t->a, (n + 1) * sizeof(*scratch));
    sort_children(root, scratch);
}

/* ---- REFERENCES ---- */

/* Message-IDs come from whoever sends mail: a keyed hash (SipHash, random
 * key per process), so nobody can make them all collide. */
static size_t hash_id(struct str s)
{
    static unsigned char key[crypto_shorthash_KEYBYTES];
    static bool keyed;
    if (!keyed) {
        randombytes_buf(key, sizeof(key)); /* a race only picks one of two keys per tree */
        keyed = true;
    }
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)s.p, s.len, key);
    size_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

/* The node that stands for a Message-ID, made (a dummy) on first sight. */
static struct node *id_node(struct tree *t, struct str id)
{
    size_t h = hash_id(id) & t->mask;
    for (struct node *x = t->table[h]; x; x = x->hnext)
        if (str_eq(x->id, id))
            return x;
    struct node *x = node_new(t);
    x->id = id;
    x->hnext = t->table[h];
    t->table[h] = x;
    return x;
}

/* Whether making p the parent of c would close a loop: c is p, or one of
 * p's ancestors. Only a node with children can be an ancestor. The walk is
 * bounded: crafted References can build very deep chains and make every
 * check walk them (quadratic time on a shared worker); past
 * THREAD_MAX_DEPTH ancestors the link is refused as if it closed a loop,
 * which only splits absurdly deep threads. */
#define THREAD_MAX_DEPTH 256

static bool would_loop(const struct node *p, const struct node *c)
{
    if (p == c)
        return true;
    if (!c->child)
        return false;
    unsigned depth = 0;
    for (const struct node *x = p->parent; x; x = x->parent)
        if (x == c || ++depth > THREAD_MAX_DEPTH)
            return true;
    return false;
}

/* Step 1: link messages by their references. */
static void link_references(struct tree *t, const struct imap_sort_msg *msgs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct imap_sort_msg *m = &msgs[i];
        /* A message without a valid Message-ID, or with one an earlier
         * message has, gets a unique one: a node no reference finds. */
        struct node *x = m->message_id.p ? id_node(t, m->message_id) : NULL;
        if (!x || x->msg)
            x = node_new(t);
        x->msg = m;
        /* (A) Each reference the parent of the next, unless the next has
         * a parent already or the link would close a loop. */
        struct node *prev = NULL;
        for (uint32_t k = 0; k < m->n_refs; k++) {
            struct node *r = id_node(t, m->refs[k]);
            if (prev && !r->parent && !would_loop(prev, r))
                append_child(prev, r);
            prev = r;
        }
        /* (B) The last reference is the parent: an older link (from a
         * truncated References elsewhere) gives way; no reference, no
         * parent; a loop, no link. */
        unlink_node(x);
        if (prev && !would_loop(prev, x))
            append_child(prev, x);
    }
}

/* Step 3: dummies go. Children first (reverse pre-order), so a dummy is
 * judged by the children it has left: none, it is deleted; else they take
 * its place, unless that would put several of them at the top level. */
static void prune(struct tree *t)
{
    struct node *root = &t->pool[0];
    struct node **order = arena_alloc(t->a, t->cap * sizeof(*order));
    struct node **stack = arena_alloc(t->a, t->cap * sizeof(*stack));
    size_t n = 0, sp = 0;
    for (struct node *c = root->child; c; c = c->next)
        stack[sp++] = c;
    while (sp) {
        struct node *x = stack[--sp];
        order[n++] = x;
        for (struct node *c = x->child; c; c = c->next)
            stack[sp++] = c;
    }
    while (n) {
        struct node *x = order[--n];
        if (x->msg)
            continue;
        struct node *p = x->parent;
        if (!x->child) {
            unlink_node(x);
        } else if (p != root || x->child == x->last) {
            while (x->child) { /* in x's place, in order */
                struct node *c = x->child;
                unlink_node(c);
                c->parent = p;
                c->prev = x->prev;
                c->next = x;
                if (x->prev)
                    x->prev->next = c;
                else
                    p->child = c;
                x->prev = c;
            }
            unlink_node(x);
        }
    }
}

/* Step 5's subject table: base subject (case-insensitive) -> node. */
struct subject_entry {
    struct str subject;
    struct node *x;
    struct subject_entry *next;
};

static uint32_t hash_subject(struct str s)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 'a' && c <= 'z')
            c -= 'a' - 'A';
        h = (h ^ c) * 16777619u;
    }
    return h;
}

static struct subject_entry *subject_get(struct subject_entry **tab, size_t mask, struct str s)
{
    for (struct subject_entry *e = tab[hash_subject(s) & mask]; e; e = e->next)
        if (imap_casemap_cmp(e->subject, s) == 0)
            return e;
    return NULL;
}

/* Steps 5.B and 5.C: top-level threads with one base subject join. */
static void group_subjects(struct tree *t)
{
    struct node *root = &t->pool[0];
    size_t ntop = 0;
    for (struct node *c = root->child; c; c = c->next)
        ntop++;
    if (ntop < 2)
        return;
    size_t size = 1;
    while (size < 2 * ntop)
        size <<= 1;
    struct subject_entry **tab = arena_zalloc(t->a, size * sizeof(*tab));
    struct node **tops = arena_alloc(t->a, ntop * sizeof(*tops));
    ntop = 0;
    for (struct node *c = root->child; c; c = c->next)
        tops[ntop++] = c;
    /* (B) One message per subject: a dummy rather than a message, and a
     * message rather than a reply. */
    for (size_t i = 0; i < ntop; i++) {
        struct node *x = tops[i];
        const struct imap_sort_msg *k = key_msg(x);
        struct str s = k ? k->subject : STR_NULL;
        if (!s.len)
            continue;
        struct subject_entry *e = subject_get(tab, size - 1, s);
        if (!e) {
            e = arena_alloc(t->a, sizeof(*e));
            *e = (struct subject_entry){ s, x, tab[hash_subject(s) & (size - 1)] };
            tab[hash_subject(s) & (size - 1)] = e;
        } else if (e->x->msg && (!x->msg || (e->x->msg->reply && !x->msg->reply))) {
            e->x = x;
        }
    }
    /* (C) The others join it. */
    for (size_t i = 0; i < ntop; i++) {
        struct node *x = tops[i];
        if (x->parent != root)
            continue; /* already under a dummy made for its subject */
        const struct imap_sort_msg *k = key_msg(x);
        struct str s = k ? k->subject : STR_NULL;
        if (!s.len)
            continue;
        struct subject_entry *e = subject_get(tab, size - 1, s);
        struct node *y = e->x;
        if (y == x)
            continue;
        if (!y->msg && !x->msg) {
            move_children(x, y);
            unlink_node(x);
        } else if (!y->msg || (x->msg && x->msg->reply && !y->msg->reply)) {
            unlink_node(x);
            append_child(y, x);
        } else if (!x->msg) {
            /* Not reachable after (B), which prefers dummies; kept so a
             * dummy never ends up below another. */
            unlink_node(y);
            append_child(x, y);
            e->x = x;
        } else {
            struct node *d = node_new(t);
            unlink_node(y);
            unlink_node(x);
            append_child(root, d);
            append_child(d, y);
            append_child(d, x);
            e->x = d;
        }
    }
}

static void references(struct tree *t, const struct imap_sort_msg *msgs, uint32_t n)
{
    struct node *root = &t->pool[0];
    size_t size = 1;
    while (size < 2 * (t->cap - n))
        size <<= 1;
    t->table = arena_zalloc(t->a, size * sizeof(*t->table));
    t->mask = size - 1;
    link_references(t, msgs, n);
    /* (2) Every node without a parent goes under the root. */
    size_t made = t->n;
    for (size_t i = 1; i < made; i++)
        if (!t->pool[i].parent)
            append_child(root, &t->pool[i]);
    prune(t);
    /* (4) The top level by sent date, a dummy by its first child's. */
    struct node **scratch = arena_alloc(t->a, t->cap * sizeof(*scratch));
    for (struct node *c = root->child; c; c = c->next)
        if (!c->msg)
            sort_children(c, scratch);
    sort_children(root, scratch);
    group_subjects(t);
    /* (6) Every set of siblings by sent date; the top level last, when its
     * dummies' children are in order. */
    for (size_t i = 1; i < t->n; i++)
        sort_children(&t->pool[i], scratch);
    sort_children(root, scratch);
}

void imap_thread(struct arena *a, const struct imap_sort_msg *msgs, uint32_t n,
                 enum imap_thread_alg alg, struct buf *out)
{
    if (n == 0)
        return;
    size_t refs = 0;
    for (uint32_t i = 0; i < n; i++)
        refs += msgs[i].n_refs;
    /* The root, a node per message and per referenced Message-ID, and at
     * most one dummy per message from step 5. */
    struct tree t = { .a = a, .cap = 1 + 2 * (size_t)n + refs };
    t.pool = arena_alloc(a, t.cap * sizeof(*t.pool));
    node_new(&t); /* the root */
    if (alg == IMAP_THREAD_ORDEREDSUBJECT)
        ordered_subject(&t, msgs, n);
    else
        references(&t, msgs, n);
    write_threads(&t, out);
}
