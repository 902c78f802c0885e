/*
 * core/str.h — byte strings: a non-owning slice and a growable buffer with a cap.
 *
 * Owns: a buf owns its heap bytes; a str owns nothing.
 * Never does I/O, never logs. Binary-safe: NUL is an ordinary byte, although a
 * buf keeps a terminating NUL after its bytes so that it can be passed to C APIs.
 */
#ifndef OUTPOST_CORE_STR_H
#define OUTPOST_CORE_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct str {
    const char *p;
    size_t len;
};

#define STR_LIT(s) ((struct str){ (s), sizeof(s) - 1 })
#define STR_NULL ((struct str){ NULL, 0 })

struct str str_from_cstr(const char *s);
bool str_eq(struct str a, struct str b);
bool str_eq_cstr(struct str a, const char *b);
/* ASCII case-insensitive comparison (protocol keywords, domain names). */
bool str_eq_nocase(struct str a, struct str b);
bool str_eq_nocase_cstr(struct str a, const char *b);
bool str_starts_with_nocase(struct str a, const char *prefix);
/* Strips ASCII spaces and tabs at both ends. */
struct str str_trim(struct str s);
/* Finds byte c; returns its offset or -1. */
long str_find_char(struct str s, char c);
/* Parses a whole slice as a decimal unsigned number no larger than max.
 * Returns 0, or -1 on an empty slice, a non-digit, or overflow past max. */
int str_to_u64(struct str s, unsigned long long max, unsigned long long *out);

/* A growable buffer. `max` caps len (0 means no cap); an append that would
 * pass it fails and leaves the buffer unchanged, so network input can never
 * grow a buffer without bound. Allocation failure aborts. */
struct buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_clear(struct buf *b);
/* Each returns 0, or -1 when the cap would be passed. */
int buf_append(struct buf *b, const void *p, size_t len);
int buf_append_str(struct buf *b, struct str s);
int buf_append_cstr(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
struct str buf_str(const struct buf *b);
/* The bytes as a NUL-terminated string ("" for an empty buffer). */
const char *buf_cstr(const struct buf *b);

/* Allocation that aborts on failure: running out of memory is not an error
 * this program can handle meaningfully in the middle of a protocol state. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* ASCII character classes, independent of the locale (protocol text). */
static inline bool ascii_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool ascii_is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static inline bool ascii_is_alnum(char c)
{
    return ascii_is_alpha(c) || ascii_is_digit(c);
}
static inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
