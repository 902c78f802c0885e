/* RFC 5322 §3.4 address lists, with the obsolete syntax of §4.4 (routes,
 * comments and blanks around dots, empty list elements) and with the
 * garbage real mail carries: something sensible always comes out, and the
 * parser never backtracks, so every input is read in linear time. */
#include <stdlib.h>
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* A quoted string or domain literal from s.p[i] (the opening character);
 * returns the offset after its end (or s.len). */
static size_t skip_delimited(struct str s, size_t i, char close)
{
    for (i++; i < s.len; i++) {
        if (s.p[i] == '\\' && i + 1 < s.len)
            i++;
        else if (s.p[i] == close)
            return i + 1;
    }
    return s.len;
}

/* The first byte of `stops` at or after i outside quoted strings, comments
 * and domain literals; s.len when there is none. */
static size_t find_stop(struct str s, size_t i, const char *stops)
{
    while (i < s.len) {
        char c = s.p[i];
        if (c && strchr(stops, c))
            return i;
        if (c == '"')
            i = skip_delimited(s, i, '"');
        else if (c == '[')
            i = skip_delimited(s, i, ']');
        else if (c == '(')
            i = mime_skip_cfws(s, i, NULL);
        else if (c == '\\' && i + 1 < s.len)
            i += 2;
        else
            i++;
    }
    return s.len;
}

enum words_mode {
    WORDS_PHRASE, /* display names: words separated by one space */
    WORDS_ADDR,   /* local parts, domains, routes: blanks and comments dropped */
};

/* The words of s.p[from..to) with comments removed and quoted strings
 * unquoted. NULL when there are no words. *comment_r (may be NULL) gets the
 * last comment. Returns a slice of s when that is the same bytes. */
static struct str build_words(struct arena *a, struct str s, size_t from, size_t to,
                              enum words_mode mode, struct str *comment_r)
{
    struct str r = { s.p, to };
    struct buf b;
    buf_init(&b, 0);
    bool any = false, space = false;
    size_t first = 0, last = 0;
    if (comment_r)
        *comment_r = STR_NULL;
    size_t i = from;
    while (i < to) {
        char c = r.p[i];
        if (mime_is_lwsp(c) || c == '(') {
            struct str comment;
            i = mime_skip_cfws(r, i, &comment);
            if (comment.p && comment_r)
                *comment_r = comment;
            space = true;
            continue;
        }
        if (space && any && mode == WORDS_PHRASE)
            buf_append_char(&b, ' ');
        space = false;
        if (!any)
            first = i;
        any = true;
        if (c == '"') {
            size_t end;
            struct str inside = mime_unquote(a, r, i, &end);
            buf_append_str(&b, inside);
            i = end;
        } else {
            size_t j = i;
            while (j < to && !mime_is_lwsp(r.p[j]) && r.p[j] != '(' && r.p[j] != '"')
                j++;
            buf_append(&b, r.p + i, j - i);
            i = j;
        }
        last = i;
    }
    struct str out = STR_NULL;
    if (any) {
        struct str slice = { s.p + first, last - first };
        if (str_eq(slice, buf_str(&b)))
            out = slice;
        else if (!(out = arena_str(a, buf_str(&b))).p)
            out = slice;
    }
    buf_free(&b);
    return out;
}

struct list {
    struct mime_address *v;
    unsigned n, cap, max;
    bool truncated;
};

/* Room for `need` more entries within the caller's maximum? */
static bool list_room(struct list *l, unsigned need)
{
    if (l->max < need || l->n > l->max - need) {
        l->truncated = true;
        return false;
    }
    return true;
}

static void list_add(struct list *l, const struct mime_address *ad)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = *ad;
}

/* local@domain in s.p[from..to); no '@' means a local part alone. */
static void addr_spec(struct arena *a, struct str s, size_t from, size_t to,
                      struct mime_address *ad, struct str *comment_r)
{
    struct str sub = { s.p, to };
    size_t at = find_stop(sub, from, "@");
    struct str c1 = STR_NULL, c2 = STR_NULL;
    if (at < to) {
        ad->mailbox = build_words(a, s, from, at, WORDS_ADDR, &c1);
        ad->domain = build_words(a, s, at + 1, to, WORDS_ADDR, &c2);
    } else {
        /* "undisclosed recipients" without its colon, a bare local name:
         * kept as written. */
        ad->mailbox = build_words(a, s, from, to, WORDS_PHRASE, &c1);
    }
    if (!ad->mailbox.p)
        ad->mailbox = STR_LIT("");
    if (!ad->domain.p)
        ad->domain = STR_LIT("");
    if (comment_r)
        *comment_r = c2.p ? c2 : c1;
}

/* The inside of <...> from i (after '<'); returns the offset after '>'. */
static size_t angle_addr(struct arena *a, struct str s, size_t i, struct mime_address *ad)
{
    size_t end = find_stop(s, i, ">");
    struct str in = { s.p, end };
    i = mime_skip_cfws(in, i, NULL);
    if (i < end && s.p[i] == '@') {
        size_t colon = find_stop(in, i, ":");
        if (colon < end) {
            ad->route = build_words(a, s, i, colon, WORDS_ADDR, NULL);
            i = colon + 1;
        }
    }
    addr_spec(a, s, i, end, ad, NULL);
    return end < s.len ? end + 1 : s.len;
}

struct mime_addresses mime_addresses_parse(struct arena *a, struct str value, unsigned max,
                                           bool *truncated_r)
{
    struct str s = mime_unfold(a, value);
    struct list l = { .max = max };
    bool in_group = false;
    size_t i = 0;
    while (i < s.len) {
        i = mime_skip_cfws(s, i, NULL);
        if (i >= s.len)
            break;
        char c = s.p[i];
        if (c == ',' || c == '>') {
            i++;
            continue;
        }
        if (c == ';') {
            if (in_group)
                list_add(&l, &(struct mime_address){ .kind = MIME_ADDR_GROUP_END });
            in_group = false;
            i++;
            continue;
        }
        size_t j = find_stop(s, i, in_group ? "<,;" : "<:,;");
        struct mime_address ad = { .kind = MIME_ADDR_MAILBOX };
        if (j < s.len && s.p[j] == ':') {
            /* A group: its end is reserved with its start, so the list
             * stays balanced whatever the cap. */
            if (!list_room(&l, 2))
                break;
            ad.kind = MIME_ADDR_GROUP_START;
            ad.name_raw = build_words(a, s, i, j, WORDS_PHRASE, NULL);
            if (!ad.name_raw.p)
                ad.name_raw = STR_LIT("");
            ad.name = mime_decode_words(a, ad.name_raw);
            list_add(&l, &ad);
            in_group = true;
            i = j + 1;
            continue;
        }
        if (!list_room(&l, in_group ? 2 : 1))
            break;
        if (j < s.len && s.p[j] == '<') {
            ad.name_raw = build_words(a, s, i, j, WORDS_PHRASE, NULL);
            i = angle_addr(a, s, j + 1, &ad);
            /* Whatever follows up to the next separator is garbage. */
            i = find_stop(s, i, ",;");
        } else {
            struct str comment;
            addr_spec(a, s, i, j, &ad, &comment);
            /* "jdoe@example.org (John Doe)": the old way to give a name. */
            if (comment.p)
                ad.name_raw = str_trim(comment);
            i = j;
        }
        if (ad.name_raw.p)
            ad.name = mime_decode_words(a, ad.name_raw);
        list_add(&l, &ad);
    }
    if (in_group)
        list_add(&l, &(struct mime_address){ .kind = MIME_ADDR_GROUP_END });

    struct mime_addresses out = { NULL, 0 };
    if (l.n) {
        out.v = arena_alloc(a, l.n * sizeof(*out.v));
        if (out.v) {
            memcpy(out.v, l.v, l.n * sizeof(*out.v));
            out.n = l.n;
        } else {
            l.truncated = true;
        }
    }
    free(l.v);
    if (truncated_r)
        *truncated_r = l.truncated;
    return out;
}
