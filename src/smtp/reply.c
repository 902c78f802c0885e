/* Reading SMTP replies (see reply.h). */
#include "smtp/reply.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void smtp_reply_reader_init(struct smtp_reply_reader *r)
{
    memset(r, 0, sizeof(*r));
    linereader_init(&r->lr, SMTP_REPLY_MAX_LINE);
    buf_init(&r->cur.text, SMTP_REPLY_MAX_TEXT + 2);
}

void smtp_reply_reader_free(struct smtp_reply_reader *r)
{
    linereader_free(&r->lr);
    buf_free(&r->cur.text);
}

void smtp_reply_free(struct smtp_reply *rep)
{
    buf_free(&rep->text);
}

static size_t digits(struct str s, size_t at, size_t max)
{
    size_t n = 0;
    while (at + n < s.len && n <= max && isdigit((unsigned char)s.p[at + n]))
        n++;
    return n >= 1 && n <= max ? n : 0;
}

size_t smtp_enhanced_code_len(struct str s)
{
    if (s.len < 5 || (s.p[0] != '2' && s.p[0] != '4' && s.p[0] != '5') || s.p[1] != '.')
        return 0;
    size_t a = digits(s, 2, 3);
    if (!a || 2 + a >= s.len || s.p[2 + a] != '.')
        return 0;
    size_t b = digits(s, 3 + a, 3);
    if (!b)
        return 0;
    size_t end = 3 + a + b;
    /* The code is a word of its own. */
    if (end < s.len && s.p[end] != ' ' && s.p[end] != '\t')
        return 0;
    return end;
}

static void restart(struct smtp_reply_reader *r)
{
    r->started = false;
    r->cur.code = 0;
    r->cur.enhanced[0] = '\0';
    r->cur.lines = 0;
    buf_clear(&r->cur.text);
}

/* One line of a reply: 0 more to come, 1 the last, -1 an error. */
static int take_line(struct smtp_reply_reader *r, struct str line, const char **error_r)
{
    struct smtp_reply *c = &r->cur;
    if (line.len < 3 || !isdigit((unsigned char)line.p[0]) || line.p[0] < '2' ||
        line.p[0] > '5' || !isdigit((unsigned char)line.p[1]) ||
        !isdigit((unsigned char)line.p[2]) ||
        (line.len > 3 && line.p[3] != ' ' && line.p[3] != '-')) {
        *error_r = "reply line without a valid code";
        return -1;
    }
    int code = (line.p[0] - '0') * 100 + (line.p[1] - '0') * 10 + (line.p[2] - '0');
    if (r->started && code != c->code) {
        *error_r = "reply code changed within a multiline reply";
        return -1;
    }
    if (++c->lines > SMTP_REPLY_MAX_LINES) {
        *error_r = "reply has too many lines";
        return -1;
    }
    bool more = line.len > 3 && line.p[3] == '-';
    struct str text = line.len > 4 ? (struct str){ line.p + 4, line.len - 4 } : STR_NULL;
    size_t elen = smtp_enhanced_code_len(text);
    if (!r->started) {
        r->started = true;
        c->code = code;
        if (elen && elen < sizeof(c->enhanced) && text.p[0] == line.p[0]) {
            memcpy(c->enhanced, text.p, elen);
            c->enhanced[elen] = '\0';
        }
    }
    /* The same enhanced code repeated on each line is not part of the text. */
    if (elen && c->enhanced[0] && elen == strlen(c->enhanced) &&
        !memcmp(text.p, c->enhanced, elen)) {
        text.p += elen;
        text.len -= elen;
        while (text.len && (text.p[0] == ' ' || text.p[0] == '\t')) {
            text.p++;
            text.len--;
        }
    }
    if (c->text.len + text.len + 1 > SMTP_REPLY_MAX_TEXT) {
        *error_r = "reply text too long";
        return -1;
    }
    if (c->lines > 1)
        buf_append_char(&c->text, '\n');
    buf_append(&c->text, text.p, text.len);
    return more ? 0 : 1;
}

enum smtp_reply_status smtp_reply_read(struct smtp_reply_reader *r, struct str *in,
                                       struct smtp_reply *out, const char **error_r)
{
    struct str line;
    enum line_status ls;
    while ((ls = linereader_next(&r->lr, in, &line)) != LINE_NONE) {
        if (ls == LINE_TOO_LONG) {
            *error_r = "reply line too long";
            restart(r);
            return SMTP_REPLY_ERROR;
        }
        int t = take_line(r, line, error_r);
        if (t < 0) {
            restart(r);
            return SMTP_REPLY_ERROR;
        }
        if (t == 1) {
            *out = r->cur; /* the text's buffer goes with it */
            buf_init(&r->cur.text, SMTP_REPLY_MAX_TEXT + 2);
            restart(r);
            return SMTP_REPLY_DONE;
        }
    }
    return SMTP_REPLY_NEED_MORE;
}
