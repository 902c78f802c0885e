/* Header blocks: fields, unfolding, and the lexical pieces of RFC 5322
 * (comments, quoted strings) that the other parsers share. */
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

/* RFC 5322 ftext: printable US-ASCII except the colon. */
static bool is_ftext(unsigned char c)
{
    return c >= 33 && c <= 126 && c != ':';
}

/* The offset of the LF ending the line that starts at i, or len. */
static size_t line_end(const char *s, size_t len, size_t i)
{
    const char *nl = memchr(s + i, '\n', len - i);
    return nl ? (size_t)(nl - s) : len;
}

void mime_header_iter_init(struct mime_header_iter *it, struct str header)
{
    it->header = header;
    it->pos = 0;
}

bool mime_header_next(struct mime_header_iter *it, struct mime_field *f)
{
    const char *s = it->header.p;
    size_t len = it->header.len;
    while (it->pos < len) {
        size_t start = it->pos;
        if (s[start] == '\n' || (s[start] == '\r' && start + 1 < len && s[start + 1] == '\n')) {
            it->pos = len;
            return false;
        }
        /* The field is this line and every continuation line after it. */
        size_t end = line_end(s, len, start);
        size_t next = end < len ? end + 1 : len;
        while (next < len && mime_is_wsp(s[next])) {
            end = line_end(s, len, next);
            next = end < len ? end + 1 : len;
        }
        it->pos = next;
        size_t cend = end;
        if (end < len && cend > start && s[cend - 1] == '\r')
            cend--;

        size_t i = start;
        while (i < cend && is_ftext((unsigned char)s[i]))
            i++;
        size_t name_end = i;
        while (i < cend && mime_is_wsp(s[i]))
            i++; /* obs-optional: blanks before the colon */
        if (name_end == start || i >= cend || s[i] != ':')
            continue; /* not a field: skipped with its continuation lines */
        f->name = (struct str){ s + start, name_end - start };
        f->value = (struct str){ s + i + 1, cend - i - 1 };
        f->raw = (struct str){ s + start, cend - start };
        return true;
    }
    return false;
}

bool mime_header_find(struct str header, const char *name, struct mime_field *f)
{
    struct mime_header_iter it;
    mime_header_iter_init(&it, header);
    while (mime_header_next(&it, f))
        if (str_eq_nocase_cstr(f->name, name))
            return true;
    return false;
}

struct str mime_unfold(struct arena *a, struct str value)
{
    struct str t = str_trim(value);
    if (t.len == 0 || !memchr(t.p, '\n', t.len))
        return t;
    char *p = arena_alloc(a, t.len + 1);
    if (!p)
        return t; /* the arena is full: folded beats nothing */
    size_t n = 0;
    for (size_t i = 0; i < t.len; i++) {
        if (t.p[i] == '\n')
            continue;
        if (t.p[i] == '\r' && i + 1 < t.len && t.p[i + 1] == '\n')
            continue;
        p[n++] = t.p[i];
    }
    p[n] = '\0';
    /* A fold may have left blanks at either end ("Subject:\r\n x"). */
    return str_trim((struct str){ p, n });
}

size_t mime_skip_cfws(struct str s, size_t i, struct str *comment_r)
{
    if (comment_r)
        *comment_r = STR_NULL;
    while (i < s.len) {
        if (mime_is_lwsp(s.p[i])) {
            i++;
            continue;
        }
        if (s.p[i] != '(')
            break;
        size_t start = ++i;
        unsigned depth = 1;
        while (i < s.len) {
            char c = s.p[i];
            if (c == '\\' && i + 1 < s.len) {
                i += 2;
                continue;
            }
            if (c == '(')
                depth++;
            else if (c == ')' && --depth == 0)
                break;
            i++;
        }
        if (comment_r)
            *comment_r = (struct str){ s.p + start, (i < s.len ? i : s.len) - start };
        if (i < s.len)
            i++; /* the closing parenthesis */
    }
    return i;
}

struct str mime_unquote(struct arena *a, struct str s, size_t i, size_t *end_r)
{
    size_t start = i + 1, j = start;
    bool escaped = false;
    while (j < s.len && s.p[j] != '"') {
        if (s.p[j] == '\\' && j + 1 < s.len) {
            escaped = true;
            j++;
        }
        j++;
    }
    *end_r = j < s.len ? j + 1 : s.len;
    struct str inside = { s.p + start, j - start };
    if (!escaped)
        return inside;
    char *p = arena_alloc(a, inside.len + 1);
    if (!p)
        return inside;
    size_t n = 0;
    for (size_t k = 0; k < inside.len; k++) {
        if (inside.p[k] == '\\' && k + 1 < inside.len)
            k++;
        p[n++] = inside.p[k];
    }
    p[n] = '\0';
    return (struct str){ p, n };
}
