/*
 * mime/internal.h — helpers shared by the files of src/mime/; not a contract
 * for anyone outside the folder (tests excepted).
 */
#ifndef OUTPOST_MIME_INTERNAL_H
#define OUTPOST_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/str.h"
#include "mime/mime.h"

static inline bool mime_is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Space, tab, CR or LF: what may separate words once a value is unfolded
 * (an unfolded value has none of CR/LF, a raw one may). */
static inline bool mime_is_lwsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips whitespace and RFC 5322 comments (nested, with quoted pairs) from i.
 * An unterminated comment runs to the end. When comment_r is not NULL it gets
 * the inside of the last comment skipped (NULL when there was none). */
size_t mime_skip_cfws(struct str s, size_t i, struct str *comment_r);

/* A copy of a quoted-string's inside with quoted pairs resolved; s.p[i] is
 * the opening quote. *end_r is just past the closing quote (or the end).
 * Allocates only when there was a backslash. */
struct str mime_unquote(struct arena *a, struct str s, size_t i, size_t *end_r);

/* `bytes` in charset converted to UTF-8, in the arena (see
 * mime_charset_to_utf8). Returns bytes itself when nothing needs to change. */
struct str mime_charset_to_utf8_arena(struct arena *a, struct str charset, struct str bytes);

/* True when s is valid UTF-8 (plain ASCII included). */
bool mime_utf8_valid(struct str s);

/* Base64 as in mime_decode_body, appending to out; returns 0 or -1 (cap). */
int mime_base64_decode(struct str in, struct buf *out);

/* The parameters in s (starting anywhere before the first one: separators
 * and comments are skipped), RFC 2231 joined and decoded, RFC 2047 applied
 * to plain values; at most MIME_MAX_PARAMS of them (the first ones). */
void mime_params_parse(struct arena *a, struct str s, struct mime_param **params_r,
                       unsigned *n_r);

#endif
