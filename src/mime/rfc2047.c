/* RFC 2047 encoded words: "=?charset?B|Q?text?=". Decoding is lenient in the
 * way real mail needs: encoded words are found anywhere (also inside quoted
 * strings and next to other text), and adjacent ones in the same charset are
 * decoded as one, so a character split across two words survives. */
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

struct encoded_word {
    struct str charset;
    char encoding; /* 'B' or 'Q' */
    struct str text;
    size_t len; /* of the whole word */
};

static bool is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

/* Recognizes an encoded word at s.p[i] ("=?" already seen there). */
static bool parse_word(struct str s, size_t i, struct encoded_word *w)
{
    size_t j = i + 2, start = j;
    while (j < s.len && s.p[j] != '?' && (unsigned char)s.p[j] > ' ' && s.p[j] != 0x7f)
        j++;
    if (j >= s.len || s.p[j] != '?' || j == start)
        return false;
    w->charset = (struct str){ s.p + start, j - start };
    j++;
    if (j + 1 >= s.len || s.p[j + 1] != '?')
        return false;
    char e = s.p[j];
    if (e == 'b' || e == 'B')
        w->encoding = 'B';
    else if (e == 'q' || e == 'Q')
        w->encoding = 'Q';
    else
        return false;
    j += 2;
    start = j;
    while (j < s.len && s.p[j] != '?' && !mime_is_lwsp(s.p[j]))
        j++;
    if (j + 1 >= s.len || s.p[j] != '?' || s.p[j + 1] != '=')
        return false;
    w->text = (struct str){ s.p + start, j - start };
    if (w->encoding == 'B')
        for (size_t k = 0; k < w->text.len; k++)
            if (!is_b64_char(w->text.p[k]))
                return false;
    w->len = j + 2 - i;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void q_decode(struct str t, struct buf *out)
{
    for (size_t i = 0; i < t.len; i++) {
        char c = t.p[i];
        if (c == '_')
            c = ' ';
        else if (c == '=' && i + 2 < t.len && hexval(t.p[i + 1]) >= 0 &&
                 hexval(t.p[i + 2]) >= 0) {
            c = (char)(hexval(t.p[i + 1]) << 4 | hexval(t.p[i + 2]));
            i += 2;
        }
        buf_append_char(out, c);
    }
}

static bool all_lwsp(struct str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!mime_is_lwsp(s.p[i]))
            return false;
    return true;
}

struct str mime_decode_words(struct arena *a, struct str in)
{
    if (in.len < 8 || !memmem(in.p, in.len, "=?", 2))
        return in;
    struct buf out, pending;
    buf_init(&out, 0);
    buf_init(&pending, 0);
    struct str pending_cs = STR_NULL;
    bool have_pending = false, decoded = false;
    size_t lit = 0; /* start of the text since the last encoded word */
    for (size_t i = 0; i + 1 < in.len;) {
        struct encoded_word w;
        if (!(in.p[i] == '=' && in.p[i + 1] == '?' && parse_word(in, i, &w))) {
            i++;
            continue;
        }
        struct str between = { in.p + lit, i - lit };
        /* Whitespace between two encoded words is not text (§6.2). */
        bool joined = have_pending && all_lwsp(between);
        if (have_pending && (!joined || !str_eq_nocase(pending_cs, w.charset))) {
            mime_charset_to_utf8(pending_cs, buf_str(&pending), &out);
            buf_clear(&pending);
            have_pending = false;
        }
        if (!joined)
            buf_append_str(&out, between);
        if (w.encoding == 'B')
            mime_base64_decode(w.text, &pending);
        else
            q_decode(w.text, &pending);
        pending_cs = w.charset;
        have_pending = decoded = true;
        i += w.len;
        lit = i;
    }
    struct str r = in;
    if (decoded) {
        mime_charset_to_utf8(pending_cs, buf_str(&pending), &out);
        buf_append(&out, in.p + lit, in.len - lit);
        r = arena_str(a, buf_str(&out));
        if (!r.p)
            r = in;
    }
    buf_free(&out);
    buf_free(&pending);
    return r;
}
