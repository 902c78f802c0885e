/* The MIME tree of a message (RFC 2045, RFC 2046 §5) in one pass over its
 * bytes. Boundaries of every open multipart are watched at once (a stack,
 * innermost first), so a part that is never closed ends where an enclosing
 * multipart's boundary appears, and each byte is looked at once whatever the
 * nesting. Recursion is one level per nesting level, bounded by max_depth. */
#include <stdlib.h>
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* Where the scan for boundaries stopped. */
struct hit {
    size_t start;     /* offset of the boundary line; the message size at the end */
    size_t line;      /* LF bytes before start */
    size_t next;      /* offset after the boundary line and its line end */
    size_t next_line; /* LF bytes before next */
    int level;        /* index of the boundary in the stack; -1 at the end */
    bool close;       /* "--boundary--" */
};

/* A place in the message: an offset and the LF bytes before it. */
struct pos {
    size_t off, line;
};

struct parser {
    struct arena *a;
    struct str msg;
    unsigned max_depth, max_parts, n_parts;
    unsigned addr_budget;
    struct str *bounds; /* boundaries of the open multiparts, outermost first */
    unsigned n_bounds;
};

/* Which open boundary, if any, the line "--" + rest is. RFC 2046 only asks
 * that the boundary follow "--" at the start of a line (the rest of the
 * line is ignored); when several match, an exact one (nothing but blanks
 * after it) beats a prefix, then a longer boundary beats a shorter one, then
 * the innermost wins. */
static int match_boundary(const struct parser *p, struct str rest, bool *close_r)
{
    int best = -1;
    bool best_exact = false;
    size_t best_len = 0;
    for (int k = (int)p->n_bounds - 1; k >= 0; k--) {
        struct str b = p->bounds[k];
        if (rest.len < b.len || memcmp(rest.p, b.p, b.len) != 0)
            continue;
        struct str tail = { rest.p + b.len, rest.len - b.len };
        bool close = tail.len >= 2 && tail.p[0] == '-' && tail.p[1] == '-';
        if (close) {
            tail.p += 2;
            tail.len -= 2;
        }
        bool exact = true;
        for (size_t i = 0; i < tail.len && exact; i++)
            exact = mime_is_wsp(tail.p[i]) || tail.p[i] == '\r';
        if (best < 0 || (exact && !best_exact) || (exact == best_exact && b.len > best_len)) {
            best = k;
            best_exact = exact;
            best_len = b.len;
            *close_r = close;
        }
    }
    return best;
}

/* Is the line at off (a line start) a boundary line? Fills *h when it is. */
static bool boundary_at(const struct parser *p, size_t off, size_t line, const char *nl,
                        struct hit *h)
{
    const char *s = p->msg.p;
    size_t eol = nl ? (size_t)(nl - s) : p->msg.len;
    if (!p->n_bounds || eol - off < 2 || s[off] != '-' || s[off + 1] != '-')
        return false;
    bool close = false;
    int level = match_boundary(p, (struct str){ s + off + 2, eol - off - 2 }, &close);
    if (level < 0)
        return false;
    h->start = off;
    h->line = line;
    h->next = nl ? eol + 1 : eol;
    h->next_line = nl ? line + 1 : line;
    h->level = level;
    h->close = close;
    return true;
}

static void hit_end(const struct parser *p, size_t line, struct hit *h)
{
    h->start = h->next = p->msg.len;
    h->line = h->next_line = line;
    h->level = -1;
    h->close = false;
}

/* Scans lines from off (a line start) to the next boundary line. */
static void find_boundary(const struct parser *p, size_t off, size_t line, struct hit *h)
{
    const char *s = p->msg.p;
    size_t len = p->msg.len;
    while (off < len) {
        const char *nl = memchr(s + off, '\n', len - off);
        if (boundary_at(p, off, line, nl, h))
            return;
        if (!nl)
            break;
        off = (size_t)(nl - s) + 1;
        line++;
    }
    hit_end(p, line, h);
}

/* The line end before a boundary line belongs to the boundary (RFC 2046
 * §5.1.1): its length, never reaching back before floor. */
static size_t eol_before(const struct parser *p, const struct hit *h, size_t floor)
{
    const char *s = p->msg.p;
    size_t pos = h->start;
    if (h->level < 0 || pos <= floor || s[pos - 1] != '\n')
        return 0;
    return (pos - 1 > floor && s[pos - 2] == '\r') ? 2 : 1;
}

static struct mime_part *new_part(struct parser *p, struct mime_part *parent)
{
    if (p->n_parts >= p->max_parts)
        return NULL;
    struct mime_part *part = arena_zalloc(p->a, sizeof(*part));
    if (!part)
        return NULL;
    p->n_parts++;
    part->parent = parent;
    part->type = STR_LIT("text");
    part->subtype = STR_LIT("plain");
    return part;
}

/* The tags of a Content-Language value from i; returns how many there are
 * (at most MIME_MAX_PARAMS), storing them when tags is not NULL. */
static unsigned language_tags(struct str v, struct str *tags)
{
    unsigned n = 0;
    size_t i = 0;
    while (i < v.len && n < MIME_MAX_PARAMS) {
        i = mime_skip_cfws(v, i, NULL);
        size_t start = i;
        while (i < v.len && v.p[i] != ',' && v.p[i] != '(' && !mime_is_lwsp(v.p[i]))
            i++;
        if (i > start) {
            if (tags)
                tags[n] = (struct str){ v.p + start, i - start };
            n++;
        } else if (i < v.len && v.p[i] == ',') {
            i++;
        }
    }
    return n;
}

/* Content-Language: a comma-separated list of tags, comments allowed. */
static void parse_languages(struct arena *a, struct str v, struct mime_part *part)
{
    unsigned n = language_tags(v, NULL);
    if (!n || !(part->languages = arena_alloc(a, n * sizeof(struct str))))
        return;
    part->n_languages = language_tags(v, part->languages);
}

static void take_addresses(struct parser *p, struct mime_part *part, struct str value,
                           struct mime_addresses *out)
{
    bool truncated = false;
    *out = mime_addresses_parse(p->a, value, p->addr_budget, &truncated);
    p->addr_budget -= out->n;
    if (truncated)
        part->truncated = true;
}

/* Sets what the header says: content fields, and the envelope when the
 * entity is a message. Kept out of parse_entity's frame, which recursion
 * multiplies. */
__attribute__((noinline)) static void apply_header(struct parser *p, struct mime_part *part, struct str header,
                         bool in_digest)
{
    struct arena *a = p->a;
    struct mime_envelope *env = part->envelope;
    bool have_type = false, have_cte = false, have_disp = false, have_lang = false;
    bool seen_addr[6] = { false };
    struct mime_header_iter it;
    struct mime_field f;
    mime_header_iter_init(&it, header);
    while (mime_header_next(&it, &f)) {
        struct str n = f.name;
        if (n.len > 8 && str_starts_with_nocase(n, "content-")) {
            struct str sub = { n.p + 8, n.len - 8 };
            if (str_eq_nocase_cstr(sub, "type") && !have_type) {
                have_type = true;
                struct str t, st;
                if (mime_content_type_parse(a, f.value, &t, &st, &part->params,
                                            &part->n_params) == 0) {
                    part->type = t;
                    part->subtype = st;
                }
            } else if (str_eq_nocase_cstr(sub, "transfer-encoding") && !have_cte) {
                have_cte = true;
                struct str v = mime_unfold(a, f.value);
                size_t i = mime_skip_cfws(v, 0, NULL), start = i;
                while (i < v.len && !mime_is_lwsp(v.p[i]) && v.p[i] != '(' && v.p[i] != ';')
                    i++;
                part->cte = (struct str){ v.p + start, i - start };
                part->encoding = mime_encoding_parse(part->cte);
            } else if (str_eq_nocase_cstr(sub, "disposition") && !have_disp) {
                have_disp = true;
                struct str t;
                mime_content_type_parse(a, f.value, &t, NULL, &part->disposition_params,
                                        &part->n_disposition_params);
                part->disposition = t.p ? t : STR_LIT("");
            } else if (str_eq_nocase_cstr(sub, "id") && !part->id.p) {
                part->id = mime_unfold(a, f.value);
            } else if (str_eq_nocase_cstr(sub, "description") && !part->description.p) {
                part->description = mime_unfold(a, f.value);
            } else if (str_eq_nocase_cstr(sub, "md5") && !part->md5.p) {
                part->md5 = mime_unfold(a, f.value);
            } else if (str_eq_nocase_cstr(sub, "location") && !part->location.p) {
                part->location = mime_unfold(a, f.value);
            } else if (str_eq_nocase_cstr(sub, "language") && !have_lang) {
                have_lang = true;
                parse_languages(a, mime_unfold(a, f.value), part);
            }
            continue;
        }
        if (!env)
            continue;
        static const char *const addr_fields[6] = { "from", "sender", "reply-to",
                                                    "to",   "cc",     "bcc" };
        struct mime_addresses *lists[6] = { &env->from, &env->sender, &env->reply_to,
                                            &env->to,   &env->cc,     &env->bcc };
        if (str_eq_nocase_cstr(n, "subject") && !env->subject.p)
            env->subject = mime_unfold(a, f.value);
        else if (str_eq_nocase_cstr(n, "date") && !env->date.p)
            env->date = mime_unfold(a, f.value);
        else if (str_eq_nocase_cstr(n, "message-id") && !env->message_id.p)
            env->message_id = mime_unfold(a, f.value);
        else if (str_eq_nocase_cstr(n, "in-reply-to") && !env->in_reply_to.p)
            env->in_reply_to = mime_unfold(a, f.value);
        else
            for (int k = 0; k < 6; k++)
                if (!seen_addr[k] && str_eq_nocase_cstr(n, addr_fields[k])) {
                    seen_addr[k] = true;
                    take_addresses(p, part, f.value, lists[k]);
                    break;
                }
    }
    if (!have_type && in_digest) {
        part->type = STR_LIT("message");
        part->subtype = STR_LIT("rfc822");
    }
}

static void parse_entity(struct parser *p, struct mime_part *part, size_t off, size_t line,
                         unsigned depth, bool in_digest, struct hit *h, struct pos *end_r);

/* The body of a multipart from off: preamble, parts, epilogue. *last_r gets
 * where the last part ended. */
static void parse_multipart(struct parser *p, struct mime_part *part, size_t off, size_t line,
                            unsigned depth, struct str boundary, struct hit *h,
                            struct pos *last_r)
{
    int level = (int)p->n_bounds;
    p->bounds[p->n_bounds++] = boundary;
    bool digest = str_eq_nocase_cstr(part->subtype, "digest");
    struct mime_part **tail = &part->children;
    find_boundary(p, off, line, h); /* the preamble */
    while (h->level == level && !h->close) {
        struct mime_part *child = new_part(p, part);
        if (!child) {
            /* Past max_parts: the rest of this multipart stays opaque. */
            part->truncated = true;
            p->n_bounds--;
            find_boundary(p, h->start, h->line, h);
            return;
        }
        *tail = child;
        tail = &child->next;
        part->n_children++;
        parse_entity(p, child, h->next, h->next_line, depth + 1, digest, h, last_r);
    }
    p->n_bounds--;
    if (h->level == level)
        find_boundary(p, h->next, h->next_line, h); /* the epilogue */
    /* Otherwise the close delimiter is missing: an enclosing boundary or the
     * end of the message ends this multipart too. */
}

static bool is_message_type(const struct mime_part *part)
{
    return str_eq_nocase_cstr(part->type, "message") &&
           (str_eq_nocase_cstr(part->subtype, "rfc822") ||
            str_eq_nocase_cstr(part->subtype, "global"));
}

/* One entity (a message or a body part) from off, a line start: its header,
 * then its body up to the boundary (or end) that *h reports. *end_r gets
 * where the entity ends. */
static void parse_entity(struct parser *p, struct mime_part *part, size_t off, size_t line,
                         unsigned depth, bool in_digest, struct hit *h, struct pos *end_r)
{
    const char *s = p->msg.p;
    size_t len = p->msg.len;
    part->header_offset = off;

    /* The header runs to its blank line, included. A boundary or the end of
     * the input before any blank line leaves the part with no body. */
    size_t pos = off;
    bool blank = false;
    while (pos < len) {
        if (s[pos] == '\n' || (s[pos] == '\r' && pos + 1 < len && s[pos + 1] == '\n')) {
            pos += s[pos] == '\n' ? 1 : 2;
            line++;
            blank = true;
            break;
        }
        const char *nl = memchr(s + pos, '\n', len - pos);
        if (boundary_at(p, pos, line, nl, h))
            break;
        if (!nl) {
            pos = len;
            break;
        }
        pos = (size_t)(nl - s) + 1;
        line++;
    }
    if (!blank && pos >= len)
        hit_end(p, line, h);
    if (!blank) {
        size_t eol = eol_before(p, h, off);
        *end_r = (struct pos){ h->start - eol, h->line - (eol ? 1 : 0) };
    }
    size_t header_end = blank ? pos : end_r->off;
    part->header_len = header_end - off;
    part->body_offset = header_end;
    apply_header(p, part, (struct str){ s + off, part->header_len }, in_digest);
    if (!blank) {
        /* No body: a multipart without parts, or a leaf. */
        if (str_eq_nocase_cstr(part->type, "multipart"))
            part->kind = MIME_KIND_MULTIPART;
        return;
    }

    /* The body. */
    bool multipart = str_eq_nocase_cstr(part->type, "multipart");
    const struct mime_param *bp =
        multipart ? mime_param_get(part->params, part->n_params, "boundary") : NULL;
    bool message = is_message_type(part) &&
                   (part->encoding == MIME_ENC_7BIT || part->encoding == MIME_ENC_8BIT ||
                    part->encoding == MIME_ENC_BINARY);
    if ((bp && bp->value.len) || message) {
        if (depth >= p->max_depth)
            part->truncated = true;
        else if (bp && bp->value.len)
            part->kind = MIME_KIND_MULTIPART;
        else {
            struct mime_envelope *env = arena_zalloc(p->a, sizeof(*env));
            struct mime_part *child = env ? new_part(p, part) : NULL;
            if (child) {
                child->envelope = env;
                part->children = child;
                part->n_children = 1;
                part->kind = MIME_KIND_MESSAGE;
            } else {
                part->truncated = true;
            }
        }
    } else if (multipart) {
        /* No usable boundary: a multipart without parts. */
        part->kind = MIME_KIND_MULTIPART;
    }
    /* Where the inner entity ended: an encapsulated message's end is its
     * parent's; a part that claimed the line end before a boundary as its
     * header's blank line ends after it, and so does its multipart. */
    struct pos inner = { pos, line };
    switch (part->kind) {
    case MIME_KIND_MULTIPART:
        if (bp && bp->value.len)
            parse_multipart(p, part, pos, line, depth, bp->value, h, &inner);
        else
            find_boundary(p, pos, line, h);
        break;
    case MIME_KIND_MESSAGE:
        parse_entity(p, part->children, pos, line, depth + 1, false, h, &inner);
        break;
    case MIME_KIND_LEAF:
        find_boundary(p, pos, line, h);
        break;
    }
    size_t eol = eol_before(p, h, pos);
    struct pos end = { h->start - eol, h->line - (eol ? 1 : 0) };
    if (inner.off > end.off || part->kind == MIME_KIND_MESSAGE)
        end = inner;
    part->body_len = end.off - pos;
    part->body_lines = end.line - line;
    if (part->body_len && s[end.off - 1] != '\n')
        part->body_lines++; /* the last line, without its line end */
    *end_r = end;
}

struct mime_part *mime_parse(struct arena *a, struct str msg, const struct mime_limits *lim)
{
    struct mime_limits l = lim ? *lim : MIME_LIMITS_DEFAULT;
    if (!msg.p)
        msg = STR_LIT("");
    struct parser p = {
        .a = a,
        .msg = msg,
        .max_depth = l.max_depth < MIME_DEPTH_CAP ? l.max_depth : MIME_DEPTH_CAP,
        .max_parts = l.max_parts ? l.max_parts : 1,
        .addr_budget = MIME_MAX_ADDRESSES,
    };
    struct mime_part *root = new_part(&p, NULL);
    if (!root)
        return NULL;
    root->envelope = arena_zalloc(a, sizeof(struct mime_envelope));
    if (!root->envelope)
        return NULL;
    p.bounds = xcalloc(p.max_depth + 1, sizeof(*p.bounds));
    struct hit h;
    struct pos end;
    parse_entity(&p, root, 0, 0, 0, false, &h, &end);
    free(p.bounds);
    return root;
}

const struct mime_part *mime_part_find(const struct mime_part *root, const unsigned *section,
                                       size_t n)
{
    const struct mime_part *node = root;
    for (size_t i = 0; i < n && node; i++) {
        if (node->kind == MIME_KIND_MULTIPART) {
            unsigned k = section[i];
            const struct mime_part *c = node->children;
            for (unsigned j = 1; c && j < k; j++)
                c = c->next;
            node = k ? c : NULL;
        } else if (node->envelope) {
            /* Part 1 of a non-multipart message is its body. */
            if (section[i] != 1)
                return NULL;
        } else {
            return NULL;
        }
        /* Numbers after a message/rfc822 part count in its message. */
        if (node && node->kind == MIME_KIND_MESSAGE && i + 1 < n)
            node = node->children;
    }
    return node;
}

const struct mime_addresses *mime_envelope_sender(const struct mime_envelope *env)
{
    return env->sender.n ? &env->sender : &env->from;
}

const struct mime_addresses *mime_envelope_reply_to(const struct mime_envelope *env)
{
    return env->reply_to.n ? &env->reply_to : &env->from;
}
