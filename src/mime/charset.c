/* Charset conversion to UTF-8 through glibc's iconv, with our own handling of
 * the cases iconv gets wrong for mail: no charset or "us-ascii" on 8-bit text
 * (read as UTF-8 where valid, else windows-1252), iso-8859-1 (really
 * windows-1252 in practice, as browsers also assume), and invalid bytes
 * (U+FFFD instead of an error). */
#include <errno.h>
#include <iconv.h>
#include <string.h>

#include "mime/internal.h"
#include "mime/mime.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* windows-1252 0x80-0x9F; the five holes map to the C1 controls, as WHATWG
 * does, so no byte is lost. */
static const unsigned short cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Length of the valid UTF-8 sequence at s[i], or 0 when there is none
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t i)
{
    unsigned char c = s[i];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (len - i < n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return n;
}

bool mime_utf8_valid(struct str s)
{
    const unsigned char *u = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(u, s.len, i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

static int put_cp(struct buf *out, unsigned cp)
{
    char b[3];
    if (cp < 0x80)
        return buf_append_char(out, (char)cp);
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        return buf_append(out, b, 2);
    }
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    return buf_append(out, b, 3);
}

enum cs_mode { CS_FALLBACK, CS_UTF8, CS_CP1252, CS_ICONV };

/* CS_FALLBACK: valid UTF-8 sequences pass, every other byte is read as
 * windows-1252. CS_UTF8: the same, with U+FFFD for those bytes. CS_CP1252:
 * every byte is windows-1252. */
static int convert_simple(enum cs_mode mode, struct str in, struct buf *out)
{
    const unsigned char *u = (const unsigned char *)in.p;
    size_t run = 0; /* start of the pending run of bytes that pass as they are */
    for (size_t i = 0; i < in.len;) {
        size_t n = u[i] < 0x80 ? 1 : mode == CS_CP1252 ? 0 : utf8_seq(u, in.len, i);
        if (n) {
            i += n;
            continue;
        }
        if (buf_append(out, in.p + run, i - run) < 0)
            return -1;
        int r;
        if (mode == CS_UTF8)
            r = buf_append(out, replacement, 3);
        else
            r = put_cp(out, u[i] < 0xA0 ? cp1252_high[u[i] - 0x80] : u[i]);
        if (r < 0)
            return -1;
        run = ++i;
    }
    return buf_append(out, in.p + run, in.len - run);
}

/* Normalizes a charset label into name (upper case) and picks the mode. */
static enum cs_mode classify(struct str cs, char *name, size_t size)
{
    cs = str_trim(cs);
    if (cs.len >= 2 && cs.p[0] == '"' && cs.p[cs.len - 1] == '"') {
        cs.p++;
        cs.len -= 2;
    }
    long star = str_find_char(cs, '*'); /* RFC 2231 language: "utf-8*en" */
    if (star >= 0)
        cs.len = (size_t)star;
    if (cs.len == 0 || cs.len >= size)
        return CS_FALLBACK;
    for (size_t i = 0; i < cs.len; i++) {
        char c = cs.p[i];
        /* Only label characters: nothing that would make iconv read "//"
         * suffixes or paths. */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return CS_FALLBACK;
        name[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    name[cs.len] = '\0';
    static const char *const fallback[] = {
        "US-ASCII", "ASCII", "ANSI_X3.4-1968", "US", "UNKNOWN-8BIT", "X-UNKNOWN",
        "UNKNOWN", "DEFAULT", "8BIT", "X-USER-DEFINED",
    };
    for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++)
        if (strcmp(name, fallback[i]) == 0)
            return CS_FALLBACK;
    if (strcmp(name, "UTF-8") == 0 || strcmp(name, "UTF8") == 0)
        return CS_UTF8;
    static const char *const latin1[] = {
        "ISO-8859-1", "ISO8859-1", "ISO_8859-1", "LATIN1", "L1", "CP819", "IBM819",
        "WINDOWS-1252", "CP1252", "X-CP1252",
    };
    for (size_t i = 0; i < sizeof(latin1) / sizeof(latin1[0]); i++)
        if (strcmp(name, latin1[i]) == 0)
            return CS_CP1252;
    static const struct { const char *label, *iconv; } alias[] = {
        { "KS_C_5601-1987", "CP949" },
        { "GB2312", "GB18030" },
        { "GBK", "GB18030" },
        { "X-SJIS", "SHIFT_JIS" },
        { "X-MAC-ROMAN", "MACINTOSH" },
    };
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (strcmp(name, alias[i].label) == 0)
            strcpy(name, alias[i].iconv); /* size is 64: room for any of them */
    return CS_ICONV;
}

static int convert_iconv(iconv_t cd, struct str in, struct buf *out)
{
    char tmp[4096];
    char *inp = (char *)in.p;
    size_t inleft = in.len;
    int rc = 0;
    while (inleft > 0) {
        char *outp = tmp;
        size_t outleft = sizeof(tmp);
        size_t r = iconv(cd, &inp, &inleft, &outp, &outleft);
        int err = errno;
        if (buf_append(out, tmp, (size_t)(outp - tmp)) < 0)
            return -1;
        if (r != (size_t)-1 || err == E2BIG)
            continue;
        if (buf_append(out, replacement, 3) < 0)
            return -1;
        if (err != EILSEQ)
            break; /* EINVAL: a sequence cut short by the end */
        inp++;
        inleft--;
    }
    char *outp = tmp;
    size_t outleft = sizeof(tmp);
    iconv(cd, NULL, NULL, &outp, &outleft); /* back to the initial shift state */
    if (buf_append(out, tmp, (size_t)(outp - tmp)) < 0)
        rc = -1;
    return rc;
}

int mime_charset_to_utf8(struct str charset, struct str in, struct buf *out)
{
    if (!in.len)
        return 0; /* also keeps a NULL in.p out of pointer arithmetic */
    char name[64];
    enum cs_mode mode = classify(charset, name, sizeof(name));
    if (mode != CS_ICONV)
        return convert_simple(mode, in, out);
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1)
        return convert_simple(CS_FALLBACK, in, out);
    int r = convert_iconv(cd, in, out);
    iconv_close(cd);
    return r;
}

struct str mime_charset_to_utf8_arena(struct arena *a, struct str charset, struct str bytes)
{
    char name[64];
    enum cs_mode mode = classify(charset, name, sizeof(name));
    if ((mode == CS_FALLBACK || mode == CS_UTF8) && mime_utf8_valid(bytes))
        return bytes;
    struct buf b;
    buf_init(&b, 0);
    mime_charset_to_utf8(charset, bytes, &b);
    struct str r = arena_str(a, buf_str(&b));
    if (!r.p)
        r = bytes;
    buf_free(&b);
    return r;
}
