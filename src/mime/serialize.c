/* The tree as a blob for the store. Layout (version 1):
 *
 *   "OMT" version(1)  part...        parts in pre-order
 *   part   := kind encoding flags  header_offset header_len body_offset
 *             body_len body_lines  type subtype params  id description cte
 *             md5 disposition params  n_languages str*  location
 *             [envelope when flags & HAS_ENVELOPE]  n_children
 *   params := n (name value language)*
 *   envelope := date subject message_id in_reply_to  6 x (n address*)
 *   address  := kind name_raw name route mailbox domain
 *
 * Numbers are unsigned LEB128 varints, kind/encoding/flags one byte each; a
 * string is varint(length + 1) and its bytes, 0 meaning NULL. The reader
 * takes only the canonical form (shortest varints, known flags, no trailing
 * bytes) and checks every range against its parent's, so an accepted blob is
 * both safe to serve byte ranges from and reproduced exactly by the writer. */
#include <stdint.h>
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

static const char magic[3] = { 'O', 'M', 'T' };

enum {
    FLAG_TRUNCATED = 1,
    FLAG_ENVELOPE = 2,
};

/* ---- Writing ---- */

struct writer {
    struct buf *out;
    int err;
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (!w->err && buf_append(w->out, p, n) < 0)
        w->err = -1;
}

static void put_u8(struct writer *w, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(w, &c, 1);
}

static void put_num(struct writer *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = v & 0x7f;
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    put(w, b, n);
}

static void put_str(struct writer *w, struct str s)
{
    if (!s.p) {
        put_num(w, 0);
        return;
    }
    put_num(w, (uint64_t)s.len + 1);
    put(w, s.p, s.len);
}

static void put_params(struct writer *w, const struct mime_param *v, unsigned n)
{
    put_num(w, n);
    for (unsigned i = 0; i < n; i++) {
        put_str(w, v[i].name);
        put_str(w, v[i].value);
        put_str(w, v[i].language);
    }
}

static void put_addresses(struct writer *w, const struct mime_addresses *l)
{
    put_num(w, l->n);
    for (unsigned i = 0; i < l->n; i++) {
        const struct mime_address *ad = &l->v[i];
        put_u8(w, ad->kind);
        put_str(w, ad->name_raw);
        put_str(w, ad->name);
        put_str(w, ad->route);
        put_str(w, ad->mailbox);
        put_str(w, ad->domain);
    }
}

static void put_part(struct writer *w, const struct mime_part *p)
{
    put_u8(w, p->kind);
    put_u8(w, p->encoding);
    put_u8(w, (p->truncated ? FLAG_TRUNCATED : 0) | (p->envelope ? FLAG_ENVELOPE : 0));
    put_num(w, p->header_offset);
    put_num(w, p->header_len);
    put_num(w, p->body_offset);
    put_num(w, p->body_len);
    put_num(w, p->body_lines);
    put_str(w, p->type);
    put_str(w, p->subtype);
    put_params(w, p->params, p->n_params);
    put_str(w, p->id);
    put_str(w, p->description);
    put_str(w, p->cte);
    put_str(w, p->md5);
    put_str(w, p->disposition);
    put_params(w, p->disposition_params, p->n_disposition_params);
    put_num(w, p->n_languages);
    for (unsigned i = 0; i < p->n_languages; i++)
        put_str(w, p->languages[i]);
    put_str(w, p->location);
    if (p->envelope) {
        const struct mime_envelope *e = p->envelope;
        put_str(w, e->date);
        put_str(w, e->subject);
        put_str(w, e->message_id);
        put_str(w, e->in_reply_to);
        put_addresses(w, &e->from);
        put_addresses(w, &e->sender);
        put_addresses(w, &e->reply_to);
        put_addresses(w, &e->to);
        put_addresses(w, &e->cc);
        put_addresses(w, &e->bcc);
    }
    unsigned n = 0;
    for (const struct mime_part *c = p->children; c; c = c->next)
        n++;
    put_num(w, n);
}

int mime_serialize(const struct mime_part *root, struct buf *out)
{
    size_t start = out->len;
    struct writer w = { out, 0 };
    put(&w, magic, sizeof(magic));
    put_u8(&w, MIME_SERIAL_VERSION);
    /* Pre-order, without recursion. */
    const struct mime_part *p = root;
    while (p && !w.err) {
        put_part(&w, p);
        if (p->children) {
            p = p->children;
            continue;
        }
        while (p != root && !p->next)
            p = p->parent;
        p = p == root ? NULL : p->next;
    }
    if (w.err) {
        out->len = start; /* nothing half-written */
        if (out->p)
            out->p[start] = '\0';
        return -1;
    }
    return 0;
}

/* ---- Reading ---- */

struct reader {
    struct arena *a;
    const char *p;
    size_t len, pos;
    bool bad;
};

static size_t left(const struct reader *r)
{
    return r->len - r->pos;
}

static unsigned get_u8(struct reader *r, unsigned max)
{
    if (r->bad || !left(r) || (unsigned char)r->p[r->pos] > max) {
        r->bad = true;
        return 0;
    }
    return (unsigned char)r->p[r->pos++];
}

static uint64_t get_num(struct reader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; !r->bad && left(r); shift += 7) {
        unsigned char c = (unsigned char)r->p[r->pos++];
        if (shift == 63 && c > 1)
            break; /* past 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift)
                break; /* not the shortest form */
            return v;
        }
        if (shift == 63)
            break;
    }
    r->bad = true;
    return 0;
}

static size_t get_size(struct reader *r)
{
    uint64_t v = get_num(r);
    if (v > SIZE_MAX) {
        r->bad = true;
        return 0;
    }
    return (size_t)v;
}

/* A count of items that take at least `min_bytes` each: never more than the
 * rest of the blob could hold, so no allocation outgrows the blob. */
static unsigned get_count(struct reader *r, size_t min_bytes)
{
    uint64_t v = get_num(r);
    if (r->bad || v > UINT32_MAX || v > left(r) / min_bytes) {
        r->bad = true;
        return 0;
    }
    return (unsigned)v;
}

static struct str get_str(struct reader *r)
{
    uint64_t v = get_num(r);
    if (r->bad || v == 0)
        return STR_NULL;
    if (v - 1 > left(r)) {
        r->bad = true;
        return STR_NULL;
    }
    struct str s = { r->p + r->pos, (size_t)(v - 1) };
    r->pos += s.len;
    return s;
}

static void *get_array(struct reader *r, unsigned n, size_t size)
{
    if (r->bad || !n)
        return NULL;
    void *v = arena_zalloc(r->a, (size_t)n * size);
    if (!v)
        r->bad = true;
    return v;
}

static void get_params(struct reader *r, struct mime_param **v, unsigned *n)
{
    *n = get_count(r, 3);
    *v = get_array(r, *n, sizeof(**v));
    for (unsigned i = 0; i < *n && !r->bad; i++) {
        (*v)[i].name = get_str(r);
        (*v)[i].value = get_str(r);
        (*v)[i].language = get_str(r);
    }
}

static void get_addresses(struct reader *r, struct mime_addresses *l)
{
    l->n = get_count(r, 6);
    l->v = get_array(r, l->n, sizeof(*l->v));
    for (unsigned i = 0; i < l->n && !r->bad; i++) {
        struct mime_address *ad = &l->v[i];
        ad->kind = get_u8(r, MIME_ADDR_GROUP_END);
        ad->name_raw = get_str(r);
        ad->name = get_str(r);
        ad->route = get_str(r);
        ad->mailbox = get_str(r);
        ad->domain = get_str(r);
    }
}

/* One part; *n_children_r gets the number of children that follow it. */
static struct mime_part *get_part(struct reader *r, struct mime_part *parent,
                                  unsigned *n_children_r)
{
    struct mime_part *p = arena_zalloc(r->a, sizeof(*p));
    if (!p) {
        r->bad = true;
        return NULL;
    }
    p->parent = parent;
    p->kind = get_u8(r, MIME_KIND_MESSAGE);
    p->encoding = get_u8(r, MIME_ENC_OTHER);
    unsigned flags = get_u8(r, FLAG_TRUNCATED | FLAG_ENVELOPE);
    p->truncated = flags & FLAG_TRUNCATED;
    p->header_offset = get_size(r);
    p->header_len = get_size(r);
    p->body_offset = get_size(r);
    p->body_len = get_size(r);
    p->body_lines = get_size(r);
    p->type = get_str(r);
    p->subtype = get_str(r);
    get_params(r, &p->params, &p->n_params);
    p->id = get_str(r);
    p->description = get_str(r);
    p->cte = get_str(r);
    p->md5 = get_str(r);
    p->disposition = get_str(r);
    get_params(r, &p->disposition_params, &p->n_disposition_params);
    p->n_languages = get_count(r, 1);
    p->languages = get_array(r, p->n_languages, sizeof(*p->languages));
    for (unsigned i = 0; i < p->n_languages && !r->bad; i++)
        p->languages[i] = get_str(r);
    p->location = get_str(r);
    if (flags & FLAG_ENVELOPE) {
        struct mime_envelope *e = arena_zalloc(r->a, sizeof(*e));
        if (!e)
            r->bad = true;
        else {
            p->envelope = e;
            e->date = get_str(r);
            e->subject = get_str(r);
            e->message_id = get_str(r);
            e->in_reply_to = get_str(r);
            get_addresses(r, &e->from);
            get_addresses(r, &e->sender);
            get_addresses(r, &e->reply_to);
            get_addresses(r, &e->to);
            get_addresses(r, &e->cc);
            get_addresses(r, &e->bcc);
        }
    }
    *n_children_r = get_count(r, 1);
    if (r->bad)
        return NULL;

    /* What mime_parse guarantees, checked so the tree is safe to use. */
    bool envelope_expected = !parent || parent->kind == MIME_KIND_MESSAGE;
    bool ok = p->type.p && p->subtype.p && !!p->envelope == envelope_expected &&
              p->header_len <= SIZE_MAX - p->header_offset &&
              p->body_offset == p->header_offset + p->header_len &&
              p->body_len <= SIZE_MAX - p->body_offset && p->body_lines <= p->body_len &&
              (p->kind != MIME_KIND_LEAF || *n_children_r == 0) &&
              (p->kind != MIME_KIND_MESSAGE || *n_children_r == 1) &&
              (parent || p->header_offset == 0);
    if (!ok) {
        r->bad = true;
        return NULL;
    }
    return p;
}

static size_t end_of(const struct mime_part *p)
{
    return p->body_offset + p->body_len;
}

/* A child lies in its parent's body, after its previous sibling; an
 * encapsulated message is exactly its parent's body. */
static bool child_fits(const struct mime_part *parent, const struct mime_part *prev,
                       const struct mime_part *c)
{
    if (parent->kind == MIME_KIND_MESSAGE)
        return c->header_offset == parent->body_offset && end_of(c) == end_of(parent);
    size_t from = prev ? end_of(prev) : parent->body_offset;
    return c->header_offset >= from && end_of(c) <= end_of(parent);
}

struct mime_part *mime_deserialize(struct arena *a, struct str blob)
{
    if (blob.len < sizeof(magic) + 1 || memcmp(blob.p, magic, sizeof(magic)) != 0 ||
        (unsigned char)blob.p[sizeof(magic)] != MIME_SERIAL_VERSION)
        return NULL;
    struct str copy = arena_str(a, blob);
    if (!copy.p)
        return NULL;
    struct reader r = { a, copy.p, copy.len, sizeof(magic) + 1, false };

    /* The open parents, with the number of children each still expects. */
    struct frame {
        struct mime_part *part, *last;
        unsigned remaining;
    } stack[MIME_DEPTH_CAP + 1];
    unsigned n;
    struct mime_part *root = get_part(&r, NULL, &n);
    if (!root)
        return NULL;
    int depth = 0;
    stack[0] = (struct frame){ root, NULL, n };
    while (depth >= 0) {
        struct frame *f = &stack[depth];
        if (!f->remaining) {
            depth--;
            continue;
        }
        struct mime_part *c = get_part(&r, f->part, &n);
        if (!c || !child_fits(f->part, f->last, c))
            return NULL;
        if (f->last)
            f->last->next = c;
        else
            f->part->children = c;
        f->last = c;
        f->part->n_children++;
        f->remaining--;
        if (n) {
            /* mime_parse gives children only to parts above MIME_DEPTH_CAP. */
            if (depth + 1 >= MIME_DEPTH_CAP)
                return NULL;
            stack[++depth] = (struct frame){ c, NULL, n };
        }
    }
    return r.pos == r.len ? root : NULL;
}
