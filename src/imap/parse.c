/* IMAP commands (see parse.h): a recursive-descent parser over one
 * assembled command, following the ABNF of RFC 9051 §9 and of the
 * extensions listed in the header.
 *
 * The input is read once, left to right, with one byte of lookahead (two at
 * a literal's "~{"). Every token either matches its production in full or
 * fails with the first error found, which is the one reported. Lists whose
 * length is not known in advance grow by doubling inside the arena (at most
 * twice the final size is wasted); sequence sets are measured first and
 * allocated once. Recursion is bounded by IMAP_MAX_SEARCH_DEPTH (search
 * programs) and by the fixed shape of every other production.
 */
#include "imap/parse.h"

#include <string.h>

struct parser {
    const char *p, *end;
    struct arena *a;
    const char *err;   /* the first error */
    int depth;         /* search program nesting */
    uint32_t keys;     /* search keys so far */
};

static int fail(struct parser *ps, const char *why)
{
    if (!ps->err)
        ps->err = why;
    return -1;
}

static int nomem(struct parser *ps)
{
    return fail(ps, IMAP_PARSE_NOMEM);
}

static void *zalloc(struct parser *ps, size_t n)
{
    return arena_zalloc(ps->a, n ? n : 1);
}

/* ---- Character classes (RFC 9051 §9) ---- */

static bool is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* ATOM-CHAR: any CHAR except atom-specials: "(" ")" "{" SP CTL "%" "*"
 * '"' "\" "]". CHAR is 7-bit. */
static bool is_atom_char(unsigned c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return !strchr("(){%*\"\\]", (int)c);
}

/* ASTRING-CHAR = ATOM-CHAR / "]" */
static bool is_astring_char(unsigned c)
{
    return is_atom_char(c) || c == ']';
}

/* list-char = ATOM-CHAR / "%" / "*" / "]" */
static bool is_list_char(unsigned c)
{
    return is_atom_char(c) || c == '%' || c == '*' || c == ']';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned c)
{
    return is_astring_char(c) && c != '+';
}

/* ---- Cursor ---- */

static bool at_end(const struct parser *ps)
{
    return ps->p >= ps->end;
}

static int peek(const struct parser *ps)
{
    return at_end(ps) ? -1 : (unsigned char)*ps->p;
}

static bool eat(struct parser *ps, char c)
{
    if (!at_end(ps) && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* Something must follow: a space, then the next token. `missing` is the
 * reason when the command (or the parenthesized list) ends here. */
static int need_sp(struct parser *ps, const char *missing)
{
    if (at_end(ps) || *ps->p == ')')
        return fail(ps, missing);
    if (*ps->p != ' ')
        return fail(ps, "Unexpected characters in the command");
    ps->p++;
    if (at_end(ps))
        return fail(ps, missing);
    if (*ps->p == ' ')
        return fail(ps, "Unexpected space in the command");
    return 0;
}

/* Whether an optional part may follow (a space does). */
static bool sp_follows(const struct parser *ps)
{
    return !at_end(ps) && *ps->p == ' ';
}

static int need_char(struct parser *ps, char c, const char *why)
{
    if (!eat(ps, c))
        return fail(ps, why);
    return 0;
}

/* Reads a run of bytes of one class; returns it (possibly empty). */
static struct str take_while(struct parser *ps, bool (*cls)(unsigned))
{
    const char *s = ps->p;
    while (!at_end(ps) && cls((unsigned char)*ps->p))
        ps->p++;
    return (struct str){ s, (size_t)(ps->p - s) };
}

static struct str take_atom(struct parser *ps)
{
    return take_while(ps, is_atom_char);
}

static bool is_keyword_char(unsigned c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '=' || c == '_';
}

/* A keyword (command name, option, search key): letters, digits and ".-=_",
 * compared case-insensitively by the caller. */
static struct str take_keyword(struct parser *ps)
{
    return take_while(ps, is_keyword_char);
}

static bool kw(struct str s, const char *k)
{
    return str_eq_nocase_cstr(s, k);
}

/* Copies bytes into the arena, NUL-terminated. */
static int copy_str(struct parser *ps, const char *p, size_t n, struct str *out)
{
    char *d = arena_alloc(ps->a, n + 1);
    if (!d)
        return nomem(ps);
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    *out = (struct str){ d, n };
    return 0;
}

/* ---- Numbers ---- */

/* number = 1*DIGIT, at most `max`; nz-number = digit-nz *DIGIT. */
static int parse_num(struct parser *ps, uint64_t min, uint64_t max, uint64_t *out,
                     const char *why)
{
    if (at_end(ps) || !is_digit((unsigned char)*ps->p))
        return fail(ps, why);
    if (min > 0 && *ps->p == '0')
        return fail(ps, why);
    uint64_t v = 0;
    while (!at_end(ps) && is_digit((unsigned char)*ps->p)) {
        unsigned d = (unsigned)(*ps->p - '0');
        if (v > (max - d) / 10)
            return fail(ps, why);
        v = v * 10 + d;
        ps->p++;
    }
    if (v < min)
        return fail(ps, why);
    *out = v;
    return 0;
}

#define NUMBER64_MAX ((uint64_t)INT64_MAX)

/* ---- Strings ---- */

/* A literal: "{" number64 ["+"] "}" CRLF *CHAR8, or with `binary` allowed
 * "~{...}" (literal8, which may hold NUL). The data stays in place. */
static int parse_literal(struct parser *ps, bool allow_binary, struct str *data, bool *binary)
{
    bool bin = false;
    if (eat(ps, '~')) {
        if (!allow_binary)
            return fail(ps, "Binary literal not allowed here");
        bin = true;
    }
    if (need_char(ps, '{', "Invalid literal") < 0)
        return -1;
    uint64_t n;
    if (parse_num(ps, 0, NUMBER64_MAX, &n, "Invalid literal size") < 0)
        return -1;
    eat(ps, '+');
    if (need_char(ps, '}', "Invalid literal") < 0)
        return -1;
    if ((size_t)(ps->end - ps->p) < 2 || ps->p[0] != '\r' || ps->p[1] != '\n')
        return fail(ps, "Invalid literal");
    ps->p += 2;
    if ((uint64_t)(ps->end - ps->p) < n)
        return fail(ps, "Truncated literal");
    *data = (struct str){ ps->p, (size_t)n };
    if (!bin && n && memchr(ps->p, '\0', (size_t)n))
        return fail(ps, "NUL in a literal");
    ps->p += n;
    if (binary)
        *binary = bin;
    return 0;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE, with \\ and \" escapes; any byte but
 * NUL, CR and LF inside (RFC 9051 allows UTF-8). Decoded into the arena. */
static int parse_quoted(struct parser *ps, struct str *out)
{
    ps->p++; /* the opening quote */
    const char *s = ps->p;
    size_t n = 0;
    for (;;) {
        if (at_end(ps))
            return fail(ps, "Unterminated quoted string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"')
            break;
        if (c == '\0' || c == '\r' || c == '\n')
            return fail(ps, "Invalid character in a quoted string");
        if (c == '\\') {
            ps->p++;
            if (at_end(ps) || (*ps->p != '"' && *ps->p != '\\'))
                return fail(ps, "Invalid escape in a quoted string");
        }
        ps->p++;
        n++;
    }
    const char *e = ps->p;
    ps->p++; /* the closing quote */
    char *d = arena_alloc(ps->a, n + 1);
    if (!d)
        return nomem(ps);
    size_t k = 0;
    for (const char *q = s; q < e; q++) {
        if (*q == '\\')
            q++;
        d[k++] = *q;
    }
    d[k] = '\0';
    *out = (struct str){ d, k };
    return 0;
}

/* At "{" or "~{": a literal starts here ("~" alone is an ATOM-CHAR). */
static bool at_literal(const struct parser *ps)
{
    int c = peek(ps);
    return c == '{' || (c == '~' && ps->end - ps->p >= 2 && ps->p[1] == '{');
}

/* string = quoted / literal */
static int parse_string(struct parser *ps, struct str *out, const char *missing)
{
    int c = peek(ps);
    if (c == '"')
        return parse_quoted(ps, out);
    if (at_literal(ps)) {
        struct str d;
        if (parse_literal(ps, false, &d, NULL) < 0)
            return -1;
        return copy_str(ps, d.p, d.len, out);
    }
    return fail(ps, missing);
}

/* An atom-like run of `cls`, or a string. */
static int parse_xstring(struct parser *ps, bool (*cls)(unsigned), struct str *out,
                         const char *missing)
{
    int c = peek(ps);
    if (c == '"' || at_literal(ps))
        return parse_string(ps, out, missing);
    struct str s = take_while(ps, cls);
    if (!s.len) {
        if (c < 0 || c == ' ' || c == ')')
            return fail(ps, missing);
        return fail(ps, "Invalid characters in an argument");
    }
    return copy_str(ps, s.p, s.len, out);
}

/* astring = 1*ASTRING-CHAR / string */
static int parse_astring(struct parser *ps, struct str *out, const char *missing)
{
    return parse_xstring(ps, is_astring_char, out, missing);
}

/* nstring = string / NIL (and an astring, for sloppy ID values) */
static int parse_nastring(struct parser *ps, struct str *out, const char *missing)
{
    const char *save = ps->p;
    struct str a = take_atom(ps);
    if (kw(a, "NIL") && (at_end(ps) || !is_astring_char((unsigned char)*ps->p))) {
        *out = STR_NULL;
        return 0;
    }
    ps->p = save;
    return parse_astring(ps, out, missing);
}

/* mailbox = "INBOX" / astring; INBOX in any case is given as "INBOX". */
static int parse_mailbox(struct parser *ps, struct str *out, const char *missing)
{
    if (parse_astring(ps, out, missing) < 0)
        return -1;
    if (str_eq_nocase_cstr(*out, "INBOX"))
        *out = STR_LIT("INBOX");
    return 0;
}

/* list-mailbox = 1*list-char / string */
static int parse_list_mailbox(struct parser *ps, struct str *out, const char *missing)
{
    return parse_xstring(ps, is_list_char, out, missing);
}

/* ---- Growing arrays in the arena ---- */

struct vec {
    void *v;
    uint32_t n, cap;
};

/* Makes room for one more element of `size` bytes (at most `max`). Returns
 * a pointer to the new, zeroed element, or NULL with the error set. */
static void *vec_push(struct parser *ps, struct vec *vec, size_t size, uint32_t max,
                      const char *too_many)
{
    if (vec->n >= max) {
        fail(ps, too_many);
        return NULL;
    }
    if (vec->n == vec->cap) {
        uint32_t cap = vec->cap ? vec->cap * 2 : 4;
        if (cap > max)
            cap = max;
        void *nv = arena_alloc(ps->a, (size_t)cap * size);
        if (!nv) {
            nomem(ps);
            return NULL;
        }
        if (vec->n)
            memcpy(nv, vec->v, (size_t)vec->n * size);
        vec->v = nv;
        vec->cap = cap;
    }
    void *e = (char *)vec->v + (size_t)vec->n * size;
    memset(e, 0, size);
    vec->n++;
    return e;
}

static int push_str(struct parser *ps, struct vec *vec, struct str s, uint32_t max,
                    const char *too_many)
{
    struct str *e = vec_push(ps, vec, sizeof(struct str), max, too_many);
    if (!e)
        return -1;
    *e = s;
    return 0;
}

static struct imap_strs to_strs(const struct vec *vec)
{
    return (struct imap_strs){ vec->n, vec->v };
}

/* ---- Sequence sets ---- */

static bool is_seq_char(unsigned c)
{
    return is_digit(c) || c == '*' || c == ':' || c == ',' || c == '$';
}

/* seq-number = nz-number / "*" */
static int seq_number(const char **pp, const char *end, uint32_t *out)
{
    const char *p = *pp;
    if (p < end && *p == '*') {
        *out = IMAP_SEQ_STAR;
        *pp = p + 1;
        return 0;
    }
    if (p >= end || !is_digit((unsigned char)*p) || *p == '0')
        return -1;
    uint64_t v = 0;
    while (p < end && is_digit((unsigned char)*p)) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > UINT32_MAX)
            return -1;
        p++;
    }
    *out = (uint32_t)v;
    *pp = p;
    return 0;
}

/* sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"; "$" is
 * taken as an element anywhere in the list. `star_ok` and `dollar_ok`
 * allow "*" and "$". */
static int parse_seq_set(struct parser *ps, struct imap_seq_set *out, bool star_ok,
                         bool dollar_ok)
{
    struct str t = take_while(ps, is_seq_char);
    if (!t.len)
        return fail(ps, at_end(ps) ? "Missing sequence set" : "Invalid sequence set");
    size_t elems = 1;
    for (size_t i = 0; i < t.len; i++)
        if (t.p[i] == ',')
            elems++;
    if (elems > IMAP_MAX_SEQ_RANGES)
        return fail(ps, "Too many ranges in a sequence set");
    memset(out, 0, sizeof(*out));
    out->r = arena_alloc(ps->a, elems * sizeof(*out->r));
    if (!out->r)
        return nomem(ps);
    const char *p = t.p, *end = t.p + t.len;
    for (;;) {
        if (p < end && *p == '$') {
            if (!dollar_ok)
                return fail(ps, "Invalid sequence set");
            out->dollar = true;
            p++;
        } else {
            struct imap_seq_range r;
            if (seq_number(&p, end, &r.first) < 0)
                return fail(ps, "Invalid sequence set");
            r.last = r.first;
            if (p < end && *p == ':') {
                p++;
                if (seq_number(&p, end, &r.last) < 0)
                    return fail(ps, "Invalid sequence set");
            }
            if (!star_ok && (r.first == IMAP_SEQ_STAR || r.last == IMAP_SEQ_STAR))
                return fail(ps, "Invalid sequence set");
            out->r[out->n++] = r;
        }
        if (p == end)
            break;
        if (*p != ',')
            return fail(ps, "Invalid sequence set");
        p++;
    }
    return 0;
}

bool imap_seq_set_contains(const struct imap_seq_set *s, uint32_t num, uint32_t star)
{
    if (!num)
        return false;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t a = s->r[i].first, b = s->r[i].last;
        if (a == IMAP_SEQ_STAR)
            a = star;
        if (b == IMAP_SEQ_STAR)
            b = star;
        if (!a || !b)
            continue; /* "*" in an empty mailbox */
        if (a > b) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        if (num >= a && num <= b)
            return true;
    }
    return false;
}

/* ---- Dates ---- */

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static int parse_month(struct parser *ps, int *m)
{
    if (ps->end - ps->p < 3)
        return -1;
    struct str s = { ps->p, 3 };
    for (int i = 0; i < 12; i++)
        if (str_eq_nocase_cstr(s, months[i])) {
            *m = i + 1;
            ps->p += 3;
            return 0;
        }
    return -1;
}

static int digits(struct parser *ps, int n, int *out)
{
    if (ps->end - ps->p < n)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)ps->p[i]))
            return -1;
        v = v * 10 + (ps->p[i] - '0');
    }
    ps->p += n;
    *out = v;
    return 0;
}

/* date-text = date-day "-" date-month "-" date-year, date-day = 1*2DIGIT.
 * `fixed`: date-day-fixed (SP DIGIT / 2DIGIT; a lone digit is taken too). */
static int parse_date_text(struct parser *ps, struct imap_date *out, bool fixed)
{
    int d = 0, m = 0, y = 0;
    if (fixed && eat(ps, ' ')) {
        if (digits(ps, 1, &d) < 0)
            return -1;
    } else {
        if (digits(ps, 1, &d) < 0)
            return -1;
        if (!at_end(ps) && is_digit((unsigned char)*ps->p)) {
            d = d * 10 + (*ps->p - '0');
            ps->p++;
        }
    }
    if (!eat(ps, '-') || parse_month(ps, &m) < 0 || !eat(ps, '-') || digits(ps, 4, &y) < 0)
        return -1;
    if (y < 1 || d < 1 || d > month_days(y, m))
        return -1;
    out->year = y;
    out->month = m;
    out->day = d;
    out->days = days_from_civil(y, m, d);
    return 0;
}

/* date = date-text / DQUOTE date-text DQUOTE */
static int parse_date(struct parser *ps, struct imap_date *out)
{
    bool q = eat(ps, '"');
    if (parse_date_text(ps, out, false) < 0 || (q && !eat(ps, '"')))
        return fail(ps, "Invalid date");
    if (!at_end(ps) && *ps->p != ' ' && *ps->p != ')')
        return fail(ps, "Invalid date");
    return 0;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP
 * zone DQUOTE; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT; zone = ("+" / "-")
 * 4DIGIT. */
static int parse_datetime(struct parser *ps, struct imap_datetime *out)
{
    struct imap_date d;
    int hh, mm, ss, zh, zm;
    if (!eat(ps, '"') || parse_date_text(ps, &d, true) < 0 || !eat(ps, ' ') ||
        digits(ps, 2, &hh) < 0 || !eat(ps, ':') || digits(ps, 2, &mm) < 0 || !eat(ps, ':') ||
        digits(ps, 2, &ss) < 0 || !eat(ps, ' '))
        return fail(ps, "Invalid date-time");
    int sign = peek(ps);
    if (sign != '+' && sign != '-')
        return fail(ps, "Invalid date-time");
    ps->p++;
    if (digits(ps, 2, &zh) < 0 || digits(ps, 2, &zm) < 0 || !eat(ps, '"'))
        return fail(ps, "Invalid date-time");
    if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
        return fail(ps, "Invalid date-time");
    int zone = (zh * 60 + zm) * (sign == '-' ? -1 : 1);
    out->zone = zone;
    out->time = (int64_t)d.days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)zone * 60;
    return 0;
}

/* ---- Flags ---- */

static const char *const system_flags[] = { "\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                            "\\Draft", "\\Recent" };

/* flag = "\" atom (system flags and flag-extension) / flag-keyword (atom).
 * System flags come back in their canonical case. */
static int parse_flag(struct parser *ps, struct str *out)
{
    const char *s = ps->p;
    bool sys = eat(ps, '\\');
    struct str a = take_atom(ps);
    if (!a.len)
        return fail(ps, "Invalid flag");
    if (sys) {
        struct str whole = { s, (size_t)(ps->p - s) };
        for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
            if (str_eq_nocase_cstr(whole, system_flags[i])) {
                *out = str_from_cstr(system_flags[i]);
                return 0;
            }
    }
    return copy_str(ps, s, (size_t)(ps->p - s), out);
}

/* Flags up to ")" (the "(" already taken): [flag *(SP flag)] ")". */
static int parse_flag_list_rest(struct parser *ps, struct imap_strs *out)
{
    struct vec v = { 0 };
    if (!eat(ps, ')')) {
        for (;;) {
            struct str f;
            if (parse_flag(ps, &f) < 0 || push_str(ps, &v, f, IMAP_MAX_FLAGS, "Too many flags") < 0)
                return -1;
            if (eat(ps, ')'))
                break;
            if (!eat(ps, ' '))
                return fail(ps, at_end(ps) ? "Unterminated flag list" : "Invalid flag");
        }
    }
    *out = to_strs(&v);
    return 0;
}

/* ---- FETCH attributes ---- */

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int parse_header_list(struct parser *ps, struct imap_strs *out)
{
    if (!eat(ps, '('))
        return fail(ps, "Missing header field list");
    struct vec v = { 0 };
    for (;;) {
        struct str f;
        if (parse_astring(ps, &f, "Invalid header field list") < 0 ||
            push_str(ps, &v, f, IMAP_MAX_HEADER_FIELDS, "Too many header fields") < 0)
            return -1;
        if (eat(ps, ')'))
            break;
        if (!eat(ps, ' '))
            return fail(ps, "Invalid header field list");
    }
    *out = to_strs(&v);
    return 0;
}

static bool is_section_kw_char(unsigned c)
{
    return is_alpha(c) || c == '.';
}

/* section = "[" [section-spec] "]" (or section-binary = "[" [section-part]
 * "]"), the "[" not yet taken. */
static int parse_section(struct parser *ps, struct imap_fetch_att *att, bool binary)
{
    ps->p++; /* "[" */
    const char *start = ps->p;
    /* section-part = nz-number *("." nz-number) */
    bool dot = false; /* parts end with ".": section-text must follow */
    while (!at_end(ps) && is_digit((unsigned char)*ps->p)) {
        uint64_t n;
        if (att->n_parts >= IMAP_MAX_SECTION_PARTS)
            return fail(ps, "Section nested too deeply");
        if (parse_num(ps, 1, UINT32_MAX, &n, "Invalid section") < 0)
            return -1;
        att->parts[att->n_parts++] = (uint32_t)n;
        if (!eat(ps, '.'))
            break;
        if (at_end(ps) || !is_digit((unsigned char)*ps->p)) {
            if (binary)
                return fail(ps, "Invalid section");
            dot = true;
            break;
        }
    }
    if (!binary && (dot || (!att->n_parts && peek(ps) != ']'))) {
        struct str k = take_while(ps, is_section_kw_char);
        if (kw(k, "HEADER"))
            att->text = IMAP_SECTION_HEADER;
        else if (kw(k, "TEXT"))
            att->text = IMAP_SECTION_TEXT;
        else if (kw(k, "MIME") && att->n_parts)
            att->text = IMAP_SECTION_MIME;
        else if (kw(k, "HEADER.FIELDS") || kw(k, "HEADER.FIELDS.NOT")) {
            att->text = k.len == 13 ? IMAP_SECTION_HEADER_FIELDS : IMAP_SECTION_HEADER_FIELDS_NOT;
            if (!eat(ps, ' '))
                return fail(ps, "Missing header field list");
            if (parse_header_list(ps, &att->fields) < 0)
                return -1;
        } else
            return fail(ps, "Invalid section");
    }
    if (!eat(ps, ']'))
        return fail(ps, "Invalid section");
    att->section = (struct str){ start, (size_t)(ps->p - 1 - start) };
    return 0;
}

/* partial = "<" number64 "." nz-number64 ">" */
static int parse_partial(struct parser *ps, struct imap_fetch_att *att)
{
    if (!eat(ps, '<'))
        return 0;
    if (parse_num(ps, 0, NUMBER64_MAX, &att->offset, "Invalid partial range") < 0 ||
        !eat(ps, '.') ||
        parse_num(ps, 1, NUMBER64_MAX, &att->count, "Invalid partial range") < 0 ||
        !eat(ps, '>'))
        return fail(ps, "Invalid partial range");
    att->partial = true;
    return 0;
}

static const struct {
    const char *name;
    enum imap_fetch_kind kind;
} simple_atts[] = {
    { "ENVELOPE", IMAP_FETCH_ENVELOPE },
    { "FLAGS", IMAP_FETCH_FLAGS },
    { "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
    { "RFC822", IMAP_FETCH_RFC822 },
    { "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
    { "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
    { "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
    { "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
    { "UID", IMAP_FETCH_UID },
    { "MODSEQ", IMAP_FETCH_MODSEQ },
};

static bool is_att_char(unsigned c)
{
    return is_alpha(c) || is_digit(c) || c == '.';
}

/* One fetch-att. */
static int parse_fetch_att(struct parser *ps, struct imap_fetch_att *att)
{
    struct str k = take_while(ps, is_att_char);
    memset(att, 0, sizeof(*att));
    if (!k.len)
        return fail(ps, at_end(ps) ? "Missing fetch item" : "Invalid fetch item");
    if (kw(k, "BODY") || kw(k, "BODY.PEEK")) {
        att->peek = k.len == 9;
        if (peek(ps) != '[') {
            if (att->peek)
                return fail(ps, "Invalid fetch item");
            att->kind = IMAP_FETCH_BODY;
            return 0;
        }
        att->kind = IMAP_FETCH_BODY_SECTION;
        if (parse_section(ps, att, false) < 0)
            return -1;
        return parse_partial(ps, att);
    }
    if (kw(k, "BINARY") || kw(k, "BINARY.PEEK") || kw(k, "BINARY.SIZE")) {
        att->kind = k.len == 11 && (k.p[7] == 'S' || k.p[7] == 's') ? IMAP_FETCH_BINARY_SIZE
                                                                     : IMAP_FETCH_BINARY;
        att->peek = k.len == 11 && att->kind == IMAP_FETCH_BINARY;
        if (peek(ps) != '[')
            return fail(ps, "Invalid fetch item");
        if (parse_section(ps, att, true) < 0)
            return -1;
        if (att->kind == IMAP_FETCH_BINARY)
            return parse_partial(ps, att);
        return 0;
    }
    for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++)
        if (kw(k, simple_atts[i].name)) {
            att->kind = simple_atts[i].kind;
            return 0;
        }
    return fail(ps, "Invalid fetch item");
}

/* "(" fetch-att *(SP fetch-att) ")", the "(" not yet taken. */
static int parse_fetch_att_list(struct parser *ps, uint32_t *n, struct imap_fetch_att **atts)
{
    struct vec v = { 0 };
    ps->p++;
    for (;;) {
        struct imap_fetch_att *att = vec_push(ps, &v, sizeof(*att), IMAP_MAX_FETCH_ATTS,
                                              "Too many fetch items");
        if (!att || parse_fetch_att(ps, att) < 0)
            return -1;
        if (eat(ps, ')'))
            break;
        if (!eat(ps, ' '))
            return fail(ps, at_end(ps) ? "Unterminated fetch item list" : "Invalid fetch item");
    }
    *n = v.n;
    *atts = v.v;
    return 0;
}

/* ---- Search programs ---- */

enum sk_arg { A_NONE, A_ASTRING, A_DATE, A_NUM64, A_NZ, A_KEYWORD, A_HEADER, A_NOT, A_OR,
              A_UIDSET, A_MODSEQ };

static const struct {
    const char *name;
    enum imap_search_key key;
    enum sk_arg arg;
} search_keys[] = {
    { "ALL", IMAP_SK_ALL, A_NONE },
    { "ANSWERED", IMAP_SK_ANSWERED, A_NONE },
    { "BCC", IMAP_SK_BCC, A_ASTRING },
    { "BEFORE", IMAP_SK_BEFORE, A_DATE },
    { "BODY", IMAP_SK_BODY, A_ASTRING },
    { "CC", IMAP_SK_CC, A_ASTRING },
    { "DELETED", IMAP_SK_DELETED, A_NONE },
    { "DRAFT", IMAP_SK_DRAFT, A_NONE },
    { "FLAGGED", IMAP_SK_FLAGGED, A_NONE },
    { "FROM", IMAP_SK_FROM, A_ASTRING },
    { "HEADER", IMAP_SK_HEADER, A_HEADER },
    { "KEYWORD", IMAP_SK_KEYWORD, A_KEYWORD },
    { "LARGER", IMAP_SK_LARGER, A_NUM64 },
    { "MODSEQ", IMAP_SK_MODSEQ, A_MODSEQ },
    { "NEW", IMAP_SK_NEW, A_NONE },
    { "NOT", IMAP_SK_NOT, A_NOT },
    { "OLD", IMAP_SK_OLD, A_NONE },
    { "OLDER", IMAP_SK_OLDER, A_NZ },
    { "ON", IMAP_SK_ON, A_DATE },
    { "OR", IMAP_SK_OR, A_OR },
    { "RECENT", IMAP_SK_RECENT, A_NONE },
    { "SEEN", IMAP_SK_SEEN, A_NONE },
    { "SENTBEFORE", IMAP_SK_SENTBEFORE, A_DATE },
    { "SENTON", IMAP_SK_SENTON, A_DATE },
    { "SENTSINCE", IMAP_SK_SENTSINCE, A_DATE },
    { "SINCE", IMAP_SK_SINCE, A_DATE },
    { "SMALLER", IMAP_SK_SMALLER, A_NUM64 },
    { "SUBJECT", IMAP_SK_SUBJECT, A_ASTRING },
    { "TEXT", IMAP_SK_TEXT, A_ASTRING },
    { "TO", IMAP_SK_TO, A_ASTRING },
    { "UID", IMAP_SK_UID, A_UIDSET },
    { "UNANSWERED", IMAP_SK_UNANSWERED, A_NONE },
    { "UNDELETED", IMAP_SK_UNDELETED, A_NONE },
    { "UNDRAFT", IMAP_SK_UNDRAFT, A_NONE },
    { "UNFLAGGED", IMAP_SK_UNFLAGGED, A_NONE },
    { "UNKEYWORD", IMAP_SK_UNKEYWORD, A_KEYWORD },
    { "UNSEEN", IMAP_SK_UNSEEN, A_NONE },
    { "YOUNGER", IMAP_SK_YOUNGER, A_NZ },
};

static int parse_search_key(struct parser *ps, struct imap_search **out);

static int enter(struct parser *ps)
{
    if (++ps->depth > IMAP_MAX_SEARCH_DEPTH)
        return fail(ps, "Search program nested too deeply");
    return 0;
}

/* search-key after "MODSEQ": [SP entry-name SP entry-type-req] SP
 * mod-sequence-valzer. entry-name = DQUOTE "/flags/" attr-flag DQUOTE. */
static int parse_search_modseq(struct parser *ps, struct imap_search *k)
{
    if (peek(ps) == '"') {
        struct str e;
        if (parse_quoted(ps, &e) < 0)
            return -1;
        if (!str_starts_with_nocase(e, "/flags/") || e.len == 7)
            return fail(ps, "Invalid MODSEQ entry name");
        k->u.modseq.entry = e;
        if (need_sp(ps, "Missing MODSEQ entry type") < 0)
            return -1;
        struct str t = take_atom(ps);
        if (kw(t, "priv"))
            k->u.modseq.type = IMAP_ENTRY_PRIV;
        else if (kw(t, "shared"))
            k->u.modseq.type = IMAP_ENTRY_SHARED;
        else if (kw(t, "all"))
            k->u.modseq.type = IMAP_ENTRY_ALL;
        else
            return fail(ps, "Invalid MODSEQ entry type");
        if (need_sp(ps, "Missing mod-sequence") < 0)
            return -1;
    }
    return parse_num(ps, 0, NUMBER64_MAX, &k->u.modseq.modseq, "Invalid mod-sequence");
}

/* search-key *(SP search-key) up to ")" (taken), for a parenthesized list. */
static int parse_search_list(struct parser *ps, struct imap_search **first)
{
    struct imap_search **tail = first;
    for (;;) {
        if (parse_search_key(ps, tail) < 0)
            return -1;
        tail = &(*tail)->next;
        if (eat(ps, ')'))
            return 0;
        if (need_sp(ps, "Unterminated search key list") < 0)
            return -1;
    }
}

static int parse_search_key(struct parser *ps, struct imap_search **out)
{
    if (++ps->keys > IMAP_MAX_SEARCH_KEYS)
        return fail(ps, "Too many search keys");
    struct imap_search *k = zalloc(ps, sizeof(*k));
    if (!k)
        return nomem(ps);
    *out = k;
    int c = peek(ps);
    if (c < 0)
        return fail(ps, "Missing search key");
    if (c == '(') {
        ps->p++;
        if (enter(ps) < 0)
            return -1;
        k->key = IMAP_SK_AND;
        if (parse_search_list(ps, &k->u.sub) < 0)
            return -1;
        ps->depth--;
        return 0;
    }
    if (is_digit((unsigned)c) || c == '*' || c == '$') {
        k->key = IMAP_SK_SEQSET;
        return parse_seq_set(ps, &k->u.set, true, true);
    }
    struct str name = take_atom(ps);
    size_t i;
    for (i = 0; i < sizeof(search_keys) / sizeof(search_keys[0]); i++)
        if (kw(name, search_keys[i].name))
            break;
    if (i == sizeof(search_keys) / sizeof(search_keys[0]))
        return fail(ps, name.len ? "Unknown search key" : "Invalid search key");
    k->key = search_keys[i].key;
    enum sk_arg arg = search_keys[i].arg;
    if (arg == A_NONE)
        return 0;
    if (need_sp(ps, "Missing search key argument") < 0)
        return -1;
    switch (arg) {
    case A_NONE:
        return 0;
    case A_ASTRING:
        return parse_astring(ps, &k->u.str, "Missing search key argument");
    case A_DATE:
        return parse_date(ps, &k->u.date);
    case A_NUM64:
        return parse_num(ps, 0, NUMBER64_MAX, &k->u.number, "Invalid number");
    case A_NZ:
        return parse_num(ps, 1, UINT32_MAX, &k->u.number, "Invalid number");
    case A_KEYWORD: {
        struct str a = take_atom(ps);
        if (!a.len)
            return fail(ps, "Invalid keyword");
        return copy_str(ps, a.p, a.len, &k->u.str);
    }
    case A_HEADER:
        if (parse_astring(ps, &k->u.header.field, "Missing header field name") < 0 ||
            need_sp(ps, "Missing header value") < 0)
            return -1;
        return parse_astring(ps, &k->u.header.value, "Missing header value");
    case A_NOT:
        if (enter(ps) < 0 || parse_search_key(ps, &k->u.sub) < 0)
            return -1;
        ps->depth--;
        return 0;
    case A_OR:
        if (enter(ps) < 0 || parse_search_key(ps, &k->u.sub) < 0 ||
            need_sp(ps, "Missing second key of OR") < 0 ||
            parse_search_key(ps, &k->u.sub->next) < 0)
            return -1;
        ps->depth--;
        return 0;
    case A_UIDSET:
        return parse_seq_set(ps, &k->u.set, true, true);
    case A_MODSEQ:
        return parse_search_modseq(ps, k);
    }
    return fail(ps, "Invalid search key");
}

/* [CHARSET astring SP] search-key *(SP search-key) up to the end; the
 * program is an AND of the keys. `charset_mandatory` for SORT and THREAD
 * (charset SP ...). */
static int parse_search_program(struct parser *ps, bool charset_mandatory, struct str *charset,
                                struct imap_search **program)
{
    if (charset_mandatory) {
        if (parse_astring(ps, charset, "Missing charset") < 0 ||
            need_sp(ps, "Missing search key") < 0)
            return -1;
    } else {
        const char *save = ps->p;
        struct str k = take_atom(ps);
        if (kw(k, "CHARSET") && peek(ps) == ' ') {
            if (need_sp(ps, "Missing charset") < 0 ||
                parse_astring(ps, charset, "Missing charset") < 0 ||
                need_sp(ps, "Missing search key") < 0)
                return -1;
        } else
            ps->p = save;
    }
    struct imap_search *root = zalloc(ps, sizeof(*root));
    if (!root)
        return nomem(ps);
    root->key = IMAP_SK_AND;
    *program = root;
    struct imap_search **tail = &root->u.sub;
    for (;;) {
        if (parse_search_key(ps, tail) < 0)
            return -1;
        tail = &(*tail)->next;
        if (at_end(ps))
            return 0;
        if (peek(ps) == ')')
            return fail(ps, "Unexpected characters in the command");
        if (need_sp(ps, "Missing search key") < 0)
            return -1;
    }
}

/* ---- Commands ---- */

static int done(struct parser *ps)
{
    if (!at_end(ps))
        return fail(ps, "Unexpected characters after the command");
    return 0;
}

static int cmd_login(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing user name") < 0 ||
        parse_astring(ps, &c->u.login.user, "Missing user name") < 0 ||
        need_sp(ps, "Missing password") < 0 ||
        parse_astring(ps, &c->u.login.password, "Missing password") < 0)
        return -1;
    return done(ps);
}

static bool is_base64_char(unsigned c)
{
    return is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
}

static int cmd_authenticate(struct parser *ps, struct imap_command *c)
{
    struct imap_authenticate_args *a = &c->u.authenticate;
    if (need_sp(ps, "Missing authentication mechanism") < 0)
        return -1;
    struct str m = take_atom(ps);
    if (!m.len)
        return fail(ps, "Invalid authentication mechanism");
    if (copy_str(ps, m.p, m.len, &a->mechanism) < 0)
        return -1;
    if (!sp_follows(ps))
        return done(ps);
    if (need_sp(ps, "Missing initial response") < 0)
        return -1;
    struct str r = take_while(ps, is_base64_char);
    /* base64 = *(4base64-char) [base64-terminal], or "=" for empty */
    bool ok = r.len > 0;
    if (r.len == 1 && r.p[0] == '=')
        r.len = 0;
    else if (r.len % 4)
        ok = false;
    else {
        for (size_t i = 0; i < r.len; i++)
            if (r.p[i] == '=' && !(i >= r.len - 2 && (i == r.len - 1 || r.p[r.len - 1] == '=')))
                ok = false;
    }
    if (!ok)
        return fail(ps, "Invalid initial response");
    a->has_initial = true;
    if (copy_str(ps, r.p, r.len, &a->initial) < 0)
        return -1;
    return done(ps);
}

static int cmd_enable(struct parser *ps, struct imap_command *c)
{
    struct vec v = { 0 };
    if (need_sp(ps, "Missing capability") < 0)
        return -1;
    for (;;) {
        struct str a = take_atom(ps), s;
        if (!a.len)
            return fail(ps, "Invalid capability");
        if (copy_str(ps, a.p, a.len, &s) < 0 ||
            push_str(ps, &v, s, IMAP_MAX_LIST_ITEMS, "Too many capabilities") < 0)
            return -1;
        if (at_end(ps))
            break;
        if (need_sp(ps, "Missing capability") < 0)
            return -1;
    }
    c->u.enable = to_strs(&v);
    return 0;
}

/* QRESYNC (uidvalidity modseq [known-uids] [(known-seqs known-uids)]) */
static int parse_qresync(struct parser *ps, struct imap_select_args *s)
{
    uint64_t n;
    if (need_char(ps, '(', "Invalid QRESYNC parameter") < 0 ||
        parse_num(ps, 1, UINT32_MAX, &n, "Invalid UIDVALIDITY") < 0)
        return -1;
    s->uidvalidity = (uint32_t)n;
    if (need_sp(ps, "Missing mod-sequence") < 0 ||
        parse_num(ps, 1, NUMBER64_MAX, &s->modseq, "Invalid mod-sequence") < 0)
        return -1;
    if (eat(ps, ' ') && peek(ps) != '(') {
        s->has_known_uids = true;
        if (parse_seq_set(ps, &s->known_uids, false, false) < 0)
            return -1;
        if (!eat(ps, ' ') && peek(ps) != ')')
            return fail(ps, "Invalid QRESYNC parameter");
    }
    if (eat(ps, '(')) {
        s->has_seq_match = true;
        if (parse_seq_set(ps, &s->known_seqs, false, false) < 0 ||
            need_sp(ps, "Invalid QRESYNC parameter") < 0 ||
            parse_seq_set(ps, &s->known_seq_uids, false, false) < 0 ||
            need_char(ps, ')', "Invalid QRESYNC parameter") < 0)
            return -1;
    }
    return need_char(ps, ')', "Invalid QRESYNC parameter");
}

static int cmd_select(struct parser *ps, struct imap_command *c)
{
    struct imap_select_args *s = &c->u.select;
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &s->mailbox, "Missing mailbox name") < 0)
        return -1;
    if (!sp_follows(ps))
        return done(ps);
    if (need_sp(ps, "Missing SELECT parameters") < 0 ||
        need_char(ps, '(', "Invalid SELECT parameters") < 0)
        return -1;
    for (;;) {
        struct str k = take_atom(ps);
        if (kw(k, "CONDSTORE") && !s->condstore)
            s->condstore = true;
        else if (kw(k, "QRESYNC") && !s->qresync) {
            s->qresync = true;
            if (need_sp(ps, "Invalid QRESYNC parameter") < 0 || parse_qresync(ps, s) < 0)
                return -1;
        } else
            return fail(ps, "Invalid SELECT parameters");
        if (eat(ps, ')'))
            break;
        if (need_sp(ps, "Invalid SELECT parameters") < 0)
            return -1;
    }
    return done(ps);
}

static int cmd_mailbox(struct parser *ps, struct str *out)
{
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, out, "Missing mailbox name") < 0)
        return -1;
    return done(ps);
}

static int cmd_create(struct parser *ps, struct imap_command *c)
{
    struct imap_create_args *cr = &c->u.create;
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &cr->mailbox, "Missing mailbox name") < 0)
        return -1;
    if (!sp_follows(ps))
        return done(ps);
    if (need_sp(ps, "Missing CREATE parameters") < 0 ||
        need_char(ps, '(', "Invalid CREATE parameters") < 0)
        return -1;
    bool use = false;
    for (;;) {
        struct str k = take_atom(ps);
        if (!kw(k, "USE") || use)
            return fail(ps, "Invalid CREATE parameters");
        use = true;
        if (need_sp(ps, "Missing special-use list") < 0 ||
            need_char(ps, '(', "Invalid special-use list") < 0)
            return -1;
        struct vec v = { 0 };
        if (!eat(ps, ')')) {
            for (;;) {
                struct str f;
                if (peek(ps) != '\\')
                    return fail(ps, "Invalid special-use flag");
                if (parse_flag(ps, &f) < 0 ||
                    push_str(ps, &v, f, IMAP_MAX_LIST_ITEMS, "Too many special-use flags") < 0)
                    return -1;
                if (eat(ps, ')'))
                    break;
                if (need_sp(ps, "Invalid special-use list") < 0)
                    return -1;
            }
        }
        cr->use = to_strs(&v);
        if (eat(ps, ')'))
            break;
        if (need_sp(ps, "Invalid CREATE parameters") < 0)
            return -1;
    }
    return done(ps);
}

static int cmd_rename(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &c->u.rename.from, "Missing mailbox name") < 0 ||
        need_sp(ps, "Missing new mailbox name") < 0 ||
        parse_mailbox(ps, &c->u.rename.to, "Missing new mailbox name") < 0)
        return -1;
    return done(ps);
}

static const struct {
    const char *name;
    unsigned bit;
} status_items[] = {
    { "MESSAGES", IMAP_STATUS_MESSAGES },
    { "UIDNEXT", IMAP_STATUS_UIDNEXT },
    { "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
    { "UNSEEN", IMAP_STATUS_UNSEEN },
    { "DELETED", IMAP_STATUS_DELETED },
    { "SIZE", IMAP_STATUS_SIZE },
    { "RECENT", IMAP_STATUS_RECENT },
    { "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
    { "APPENDLIMIT", IMAP_STATUS_APPENDLIMIT },
};

/* "(" status-att *(SP status-att) ")" */
static int parse_status_items(struct parser *ps, unsigned *items)
{
    if (need_char(ps, '(', "Missing status items") < 0)
        return -1;
    for (;;) {
        struct str k = take_atom(ps);
        size_t i;
        for (i = 0; i < sizeof(status_items) / sizeof(status_items[0]); i++)
            if (kw(k, status_items[i].name))
                break;
        if (i == sizeof(status_items) / sizeof(status_items[0]))
            return fail(ps, "Invalid status item");
        *items |= status_items[i].bit;
        if (eat(ps, ')'))
            return 0;
        if (need_sp(ps, "Unterminated status item list") < 0)
            return -1;
    }
}

static int cmd_status(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &c->u.status.mailbox, "Missing mailbox name") < 0 ||
        need_sp(ps, "Missing status items") < 0 ||
        parse_status_items(ps, &c->u.status.items) < 0)
        return -1;
    return done(ps);
}

static int cmd_list(struct parser *ps, struct imap_command *c, bool lsub)
{
    struct imap_list_args *l = &c->u.list;
    struct vec pats = { 0 };
    if (need_sp(ps, "Missing reference name") < 0)
        return -1;
    if (!lsub && eat(ps, '(')) {
        l->extended = true;
        if (!eat(ps, ')')) {
            for (;;) {
                struct str k = take_atom(ps);
                if (kw(k, "SUBSCRIBED"))
                    l->select |= IMAP_LIST_SEL_SUBSCRIBED;
                else if (kw(k, "REMOTE"))
                    l->select |= IMAP_LIST_SEL_REMOTE;
                else if (kw(k, "RECURSIVEMATCH"))
                    l->select |= IMAP_LIST_SEL_RECURSIVEMATCH;
                else if (kw(k, "SPECIAL-USE"))
                    l->select |= IMAP_LIST_SEL_SPECIAL_USE;
                else
                    return fail(ps, "Invalid LIST selection option");
                if (eat(ps, ')'))
                    break;
                if (need_sp(ps, "Unterminated LIST selection options") < 0)
                    return -1;
            }
        }
        if ((l->select & IMAP_LIST_SEL_RECURSIVEMATCH) &&
            !(l->select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)))
            return fail(ps, "RECURSIVEMATCH needs another selection option");
        if (need_sp(ps, "Missing reference name") < 0)
            return -1;
    }
    if (parse_list_mailbox(ps, &l->reference, "Missing reference name") < 0 ||
        need_sp(ps, "Missing mailbox pattern") < 0)
        return -1;
    if (!lsub && eat(ps, '(')) {
        l->extended = true;
        for (;;) {
            struct str pat;
            if (parse_list_mailbox(ps, &pat, "Missing mailbox pattern") < 0 ||
                push_str(ps, &pats, pat, IMAP_MAX_PATTERNS, "Too many mailbox patterns") < 0)
                return -1;
            if (eat(ps, ')'))
                break;
            if (need_sp(ps, "Unterminated mailbox pattern list") < 0)
                return -1;
        }
    } else {
        struct str pat;
        if (parse_list_mailbox(ps, &pat, "Missing mailbox pattern") < 0 ||
            push_str(ps, &pats, pat, 1, "Too many mailbox patterns") < 0)
            return -1;
    }
    l->patterns = to_strs(&pats);
    if (lsub || !sp_follows(ps))
        return done(ps);
    if (need_sp(ps, "Missing RETURN options") < 0)
        return -1;
    struct str k = take_atom(ps);
    if (!kw(k, "RETURN"))
        return fail(ps, "Unexpected characters after the command");
    l->extended = true;
    if (need_sp(ps, "Missing RETURN options") < 0 ||
        need_char(ps, '(', "Invalid RETURN options") < 0)
        return -1;
    if (!eat(ps, ')')) {
        for (;;) {
            k = take_atom(ps);
            if (kw(k, "SUBSCRIBED"))
                l->ret |= IMAP_LIST_RET_SUBSCRIBED;
            else if (kw(k, "CHILDREN"))
                l->ret |= IMAP_LIST_RET_CHILDREN;
            else if (kw(k, "SPECIAL-USE"))
                l->ret |= IMAP_LIST_RET_SPECIAL_USE;
            else if (kw(k, "STATUS") && !(l->ret & IMAP_LIST_RET_STATUS)) {
                l->ret |= IMAP_LIST_RET_STATUS;
                if (need_sp(ps, "Missing status items") < 0 ||
                    parse_status_items(ps, &l->status_items) < 0)
                    return -1;
            } else
                return fail(ps, "Invalid LIST return option");
            if (eat(ps, ')'))
                break;
            if (need_sp(ps, "Unterminated RETURN options") < 0)
                return -1;
        }
    }
    return done(ps);
}

static int cmd_append(struct parser *ps, struct imap_command *c)
{
    struct imap_append_args *ap = &c->u.append;
    struct vec msgs = { 0 };
    if (need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &ap->mailbox, "Missing mailbox name") < 0)
        return -1;
    do {
        if (need_sp(ps, "Missing message literal") < 0)
            return -1;
        struct imap_append_msg *m = vec_push(ps, &msgs, sizeof(*m), IMAP_MAX_APPEND_MESSAGES,
                                             "Too many messages");
        if (!m)
            return -1;
        if (eat(ps, '(')) {
            if (parse_flag_list_rest(ps, &m->flags) < 0 ||
                need_sp(ps, "Missing message literal") < 0)
                return -1;
        }
        if (peek(ps) == '"') {
            m->has_date = true;
            if (parse_datetime(ps, &m->date) < 0 || need_sp(ps, "Missing message literal") < 0)
                return -1;
        }
        if (at_literal(ps)) {
            if (parse_literal(ps, true, &m->data, &m->binary) < 0)
                return -1;
        } else {
            /* UTF8 (literal8) (RFC 6855) */
            struct str k = take_atom(ps);
            if (!kw(k, "UTF8"))
                return fail(ps, "Missing message literal");
            m->utf8 = true;
            if (need_sp(ps, "Missing message literal") < 0 ||
                need_char(ps, '(', "Missing message literal") < 0)
                return -1;
            if (peek(ps) != '~')
                return fail(ps, "UTF8 data must be a binary literal");
            if (parse_literal(ps, true, &m->data, &m->binary) < 0 ||
                need_char(ps, ')', "Invalid UTF8 message data") < 0)
                return -1;
        }
    } while (!at_end(ps));
    ap->n = msgs.n;
    ap->msgs = msgs.v;
    return 0;
}

static int cmd_search(struct parser *ps, struct imap_command *c)
{
    struct imap_search_args *s = &c->u.search;
    if (need_sp(ps, "Missing search key") < 0)
        return -1;
    const char *save = ps->p;
    struct str k = take_atom(ps);
    if (kw(k, "RETURN") && peek(ps) == ' ') {
        s->has_return = true;
        if (need_sp(ps, "Missing RETURN options") < 0 ||
            need_char(ps, '(', "Invalid RETURN options") < 0)
            return -1;
        if (!eat(ps, ')')) {
            for (;;) {
                k = take_atom(ps);
                if (kw(k, "MIN"))
                    s->ret |= IMAP_SEARCH_RET_MIN;
                else if (kw(k, "MAX"))
                    s->ret |= IMAP_SEARCH_RET_MAX;
                else if (kw(k, "ALL"))
                    s->ret |= IMAP_SEARCH_RET_ALL;
                else if (kw(k, "COUNT"))
                    s->ret |= IMAP_SEARCH_RET_COUNT;
                else if (kw(k, "SAVE"))
                    s->ret |= IMAP_SEARCH_RET_SAVE;
                else
                    return fail(ps, "Invalid SEARCH return option");
                if (eat(ps, ')'))
                    break;
                if (need_sp(ps, "Unterminated RETURN options") < 0)
                    return -1;
            }
        } else
            s->ret = IMAP_SEARCH_RET_ALL;
        if (need_sp(ps, "Missing search key") < 0)
            return -1;
    } else
        ps->p = save;
    return parse_search_program(ps, false, &s->charset, &s->program);
}

static int cmd_sort(struct parser *ps, struct imap_command *c)
{
    struct imap_sort_args *s = &c->u.sort;
    struct vec v = { 0 };
    static const struct {
        const char *name;
        enum imap_sort_key key;
    } sort_keys[] = {
        { "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
        { "DATE", IMAP_SORT_DATE },       { "FROM", IMAP_SORT_FROM },
        { "SIZE", IMAP_SORT_SIZE },       { "SUBJECT", IMAP_SORT_SUBJECT },
        { "TO", IMAP_SORT_TO },           { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
        { "DISPLAYTO", IMAP_SORT_DISPLAYTO },
    };
    if (need_sp(ps, "Missing sort criteria") < 0 ||
        need_char(ps, '(', "Invalid sort criteria") < 0)
        return -1;
    for (;;) {
        struct imap_sort_criterion *cr =
            vec_push(ps, &v, sizeof(*cr), IMAP_MAX_SORT_KEYS, "Too many sort criteria");
        if (!cr)
            return -1;
        struct str k = take_atom(ps);
        if (kw(k, "REVERSE")) {
            cr->reverse = true;
            if (need_sp(ps, "Invalid sort criteria") < 0)
                return -1;
            k = take_atom(ps);
        }
        size_t i;
        for (i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
            if (kw(k, sort_keys[i].name))
                break;
        if (i == sizeof(sort_keys) / sizeof(sort_keys[0]))
            return fail(ps, "Invalid sort criteria");
        cr->key = sort_keys[i].key;
        if (eat(ps, ')'))
            break;
        if (need_sp(ps, "Invalid sort criteria") < 0)
            return -1;
    }
    s->n = v.n;
    s->criteria = v.v;
    if (need_sp(ps, "Missing charset") < 0)
        return -1;
    return parse_search_program(ps, true, &s->charset, &s->program);
}

static int cmd_thread(struct parser *ps, struct imap_command *c)
{
    struct imap_thread_args *t = &c->u.thread;
    if (need_sp(ps, "Missing threading algorithm") < 0)
        return -1;
    struct str k = take_atom(ps);
    if (kw(k, "ORDEREDSUBJECT"))
        t->algorithm = IMAP_THREAD_ORDEREDSUBJECT;
    else if (kw(k, "REFERENCES"))
        t->algorithm = IMAP_THREAD_REFERENCES;
    else
        return fail(ps, "Unknown threading algorithm");
    if (need_sp(ps, "Missing charset") < 0)
        return -1;
    return parse_search_program(ps, true, &t->charset, &t->program);
}

static const struct imap_fetch_att macro_atts[] = {
    { .kind = IMAP_FETCH_FLAGS },
    { .kind = IMAP_FETCH_INTERNALDATE },
    { .kind = IMAP_FETCH_RFC822_SIZE },
    { .kind = IMAP_FETCH_ENVELOPE },
    { .kind = IMAP_FETCH_BODY },
};

static int cmd_fetch(struct parser *ps, struct imap_command *c)
{
    struct imap_fetch_args *f = &c->u.fetch;
    if (need_sp(ps, "Missing sequence set") < 0 ||
        parse_seq_set(ps, &f->set, true, true) < 0 || need_sp(ps, "Missing fetch items") < 0)
        return -1;
    if (peek(ps) == '(') {
        if (parse_fetch_att_list(ps, &f->n, &f->atts) < 0)
            return -1;
    } else {
        const char *save = ps->p;
        struct str k = take_atom(ps);
        uint32_t n = kw(k, "ALL") ? 4 : kw(k, "FAST") ? 3 : kw(k, "FULL") ? 5 : 0;
        if (n) {
            f->atts = arena_alloc(ps->a, n * sizeof(*f->atts));
            if (!f->atts)
                return nomem(ps);
            memcpy(f->atts, macro_atts, n * sizeof(*f->atts));
            f->n = n;
        } else {
            ps->p = save;
            f->atts = zalloc(ps, sizeof(*f->atts));
            if (!f->atts)
                return nomem(ps);
            f->n = 1;
            if (parse_fetch_att(ps, f->atts) < 0)
                return -1;
        }
    }
    if (!sp_follows(ps))
        return done(ps);
    /* fetch-modifiers (RFC 7162 §3.1.4.1, §3.2.6) */
    if (need_sp(ps, "Missing FETCH modifiers") < 0 ||
        need_char(ps, '(', "Unexpected characters after the command") < 0)
        return -1;
    for (;;) {
        struct str k = take_atom(ps);
        if (kw(k, "CHANGEDSINCE") && !f->has_changedsince) {
            f->has_changedsince = true;
            if (need_sp(ps, "Missing mod-sequence") < 0 ||
                parse_num(ps, 0, NUMBER64_MAX, &f->changedsince, "Invalid mod-sequence") < 0)
                return -1;
        } else if (kw(k, "VANISHED") && !f->vanished) {
            if (!c->uid)
                return fail(ps, "VANISHED needs UID FETCH");
            f->vanished = true;
        } else
            return fail(ps, "Invalid FETCH modifier");
        if (eat(ps, ')'))
            break;
        if (need_sp(ps, "Unterminated FETCH modifiers") < 0)
            return -1;
    }
    if (f->vanished && !f->has_changedsince)
        return fail(ps, "VANISHED needs CHANGEDSINCE");
    return done(ps);
}

static int cmd_store(struct parser *ps, struct imap_command *c)
{
    struct imap_store_args *s = &c->u.store;
    if (need_sp(ps, "Missing sequence set") < 0 ||
        parse_seq_set(ps, &s->set, true, true) < 0 || need_sp(ps, "Missing message data item") < 0)
        return -1;
    if (eat(ps, '(')) {
        struct str k = take_atom(ps);
        if (!kw(k, "UNCHANGEDSINCE"))
            return fail(ps, "Invalid STORE modifier");
        s->has_unchangedsince = true;
        if (need_sp(ps, "Missing mod-sequence") < 0 ||
            parse_num(ps, 0, NUMBER64_MAX, &s->unchangedsince, "Invalid mod-sequence") < 0 ||
            need_char(ps, ')', "Invalid STORE modifier") < 0 ||
            need_sp(ps, "Missing message data item") < 0)
            return -1;
    }
    if (eat(ps, '+'))
        s->op = IMAP_STORE_ADD;
    else if (eat(ps, '-'))
        s->op = IMAP_STORE_REMOVE;
    struct str k = take_atom(ps);
    if (kw(k, "FLAGS.SILENT"))
        s->silent = true;
    else if (!kw(k, "FLAGS"))
        return fail(ps, "Invalid message data item");
    if (need_sp(ps, "Missing flags") < 0)
        return -1;
    if (eat(ps, '(')) {
        if (parse_flag_list_rest(ps, &s->flags) < 0)
            return -1;
        return done(ps);
    }
    struct vec v = { 0 };
    for (;;) {
        struct str fl;
        if (parse_flag(ps, &fl) < 0 || push_str(ps, &v, fl, IMAP_MAX_FLAGS, "Too many flags") < 0)
            return -1;
        if (at_end(ps))
            break;
        if (need_sp(ps, "Missing flag") < 0)
            return -1;
    }
    s->flags = to_strs(&v);
    return 0;
}

static int cmd_copy(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing sequence set") < 0 ||
        parse_seq_set(ps, &c->u.copy.set, true, true) < 0 ||
        need_sp(ps, "Missing mailbox name") < 0 ||
        parse_mailbox(ps, &c->u.copy.mailbox, "Missing mailbox name") < 0)
        return -1;
    return done(ps);
}

static int cmd_expunge(struct parser *ps, struct imap_command *c)
{
    if (!c->uid)
        return done(ps);
    if (need_sp(ps, "Missing sequence set") < 0 ||
        parse_seq_set(ps, &c->u.expunge, true, true) < 0)
        return -1;
    return done(ps);
}

static int cmd_getquota(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing quota root") < 0 ||
        parse_astring(ps, &c->u.quota_root, "Missing quota root") < 0)
        return -1;
    return done(ps);
}

static int cmd_setquota(struct parser *ps, struct imap_command *c)
{
    struct imap_setquota_args *q = &c->u.setquota;
    struct vec v = { 0 };
    if (need_sp(ps, "Missing quota root") < 0 ||
        parse_astring(ps, &q->root, "Missing quota root") < 0 ||
        need_sp(ps, "Missing quota resources") < 0 ||
        need_char(ps, '(', "Invalid quota resources") < 0)
        return -1;
    if (!eat(ps, ')')) {
        for (;;) {
            struct imap_quota_resource *r =
                vec_push(ps, &v, sizeof(*r), IMAP_MAX_LIST_ITEMS, "Too many quota resources");
            if (!r)
                return -1;
            struct str k = take_atom(ps);
            if (!k.len)
                return fail(ps, "Invalid quota resources");
            if (copy_str(ps, k.p, k.len, &r->name) < 0 ||
                need_sp(ps, "Missing quota limit") < 0 ||
                parse_num(ps, 0, NUMBER64_MAX, &r->limit, "Invalid quota limit") < 0)
                return -1;
            if (eat(ps, ')'))
                break;
            if (need_sp(ps, "Unterminated quota resources") < 0)
                return -1;
        }
    }
    q->n = v.n;
    q->resources = v.v;
    return done(ps);
}

static int cmd_compress(struct parser *ps, struct imap_command *c)
{
    if (need_sp(ps, "Missing compression mechanism") < 0)
        return -1;
    struct str k = take_atom(ps);
    if (!k.len)
        return fail(ps, "Invalid compression mechanism");
    if (copy_str(ps, k.p, k.len, &c->u.compress) < 0)
        return -1;
    return done(ps);
}

static int cmd_id(struct parser *ps, struct imap_command *c)
{
    struct imap_id_args *id = &c->u.id;
    struct vec v = { 0 };
    if (need_sp(ps, "Missing ID parameters") < 0)
        return -1;
    if (!eat(ps, '(')) {
        struct str k = take_atom(ps);
        if (!kw(k, "NIL"))
            return fail(ps, "Invalid ID parameters");
        return done(ps);
    }
    if (!eat(ps, ')')) {
        for (;;) {
            struct imap_id_pair *pr =
                vec_push(ps, &v, sizeof(*pr), IMAP_MAX_ID_PAIRS, "Too many ID fields");
            if (!pr || parse_astring(ps, &pr->field, "Invalid ID parameters") < 0 ||
                need_sp(ps, "Missing ID value") < 0 ||
                parse_nastring(ps, &pr->value, "Missing ID value") < 0)
                return -1;
            if (eat(ps, ')'))
                break;
            if (need_sp(ps, "Unterminated ID parameters") < 0)
                return -1;
        }
    }
    id->n = v.n;
    id->pairs = v.v;
    return done(ps);
}

/* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
static int parse_notify_mailboxes(struct parser *ps, struct imap_strs *out)
{
    struct vec v = { 0 };
    bool list = eat(ps, '(');
    for (;;) {
        struct str m;
        if (parse_mailbox(ps, &m, "Missing mailbox name") < 0 ||
            push_str(ps, &v, m, IMAP_MAX_LIST_ITEMS, "Too many mailboxes") < 0)
            return -1;
        if (!list || eat(ps, ')'))
            break;
        if (need_sp(ps, "Unterminated mailbox list") < 0)
            return -1;
    }
    *out = to_strs(&v);
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
} notify_events[] = {
    { "MessageNew", IMAP_NOTIFY_EV_MESSAGE_NEW },
    { "MessageExpunge", IMAP_NOTIFY_EV_MESSAGE_EXPUNGE },
    { "FlagChange", IMAP_NOTIFY_EV_FLAG_CHANGE },
    { "AnnotationChange", IMAP_NOTIFY_EV_ANNOTATION_CHANGE },
    { "MailboxName", IMAP_NOTIFY_EV_MAILBOX_NAME },
    { "SubscriptionChange", IMAP_NOTIFY_EV_SUBSCRIPTION_CHANGE },
    { "MailboxMetadataChange", IMAP_NOTIFY_EV_MAILBOX_METADATA_CHANGE },
    { "ServerMetadataChange", IMAP_NOTIFY_EV_SERVER_METADATA_CHANGE },
};

/* An event name and, after MessageNew, its optional fetch attributes. */
static int parse_notify_event(struct parser *ps, struct imap_notify_group *g)
{
    struct str k = take_atom(ps);
    if (!k.len)
        return fail(ps, "Invalid NOTIFY event");
    unsigned bit = IMAP_NOTIFY_EV_UNKNOWN;
    for (size_t i = 0; i < sizeof(notify_events) / sizeof(notify_events[0]); i++)
        if (kw(k, notify_events[i].name))
            bit = notify_events[i].bit;
    g->events |= bit;
    if (bit == IMAP_NOTIFY_EV_MESSAGE_NEW && ps->end - ps->p >= 2 && ps->p[0] == ' ' &&
        ps->p[1] == '(') {
        ps->p++;
        if (g->atts)
            return fail(ps, "Invalid NOTIFY event");
        return parse_fetch_att_list(ps, &g->n_atts, &g->atts);
    }
    return 0;
}

#define NOTIFY_MESSAGE_EVENTS                                                           \
    (IMAP_NOTIFY_EV_MESSAGE_NEW | IMAP_NOTIFY_EV_MESSAGE_EXPUNGE | IMAP_NOTIFY_EV_FLAG_CHANGE | \
     IMAP_NOTIFY_EV_ANNOTATION_CHANGE)

/* "(" filter-mailboxes SP events ")", the "(" taken. events = "(" event
 * *(SP event) ")" / "NONE"; the events of RFC 5465's own examples, without
 * parentheses (an erratum), are taken too. */
static int parse_notify_group(struct parser *ps, struct imap_notify_group *g)
{
    static const struct {
        const char *name;
        enum imap_notify_filter f;
    } filters[] = {
        { "SELECTED", IMAP_NOTIFY_SELECTED },
        { "SELECTED-DELAYED", IMAP_NOTIFY_SELECTED_DELAYED },
        { "INBOXES", IMAP_NOTIFY_INBOXES },
        { "PERSONAL", IMAP_NOTIFY_PERSONAL },
        { "SUBSCRIBED", IMAP_NOTIFY_SUBSCRIBED },
        { "SUBTREE", IMAP_NOTIFY_SUBTREE },
        { "MAILBOXES", IMAP_NOTIFY_MAILBOXES },
    };
    struct str k = take_atom(ps);
    size_t i;
    for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (kw(k, filters[i].name))
            break;
    if (i == sizeof(filters) / sizeof(filters[0]))
        return fail(ps, "Invalid NOTIFY mailbox filter");
    g->filter = filters[i].f;
    if (g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES) {
        if (need_sp(ps, "Missing mailbox name") < 0 ||
            parse_notify_mailboxes(ps, &g->mailboxes) < 0)
            return -1;
    }
    if (need_sp(ps, "Missing NOTIFY events") < 0)
        return -1;
    bool list = eat(ps, '(');
    const char *save = ps->p;
    if (!list && kw(take_atom(ps), "NONE")) {
        /* no events */
    } else {
        ps->p = save;
        for (;;) {
            if (parse_notify_event(ps, g) < 0)
                return -1;
            if (list && eat(ps, ')'))
                break;
            if (!list && peek(ps) == ')')
                break;
            if (need_sp(ps, "Unterminated NOTIFY events") < 0)
                return -1;
        }
    }
    if (need_char(ps, ')', "Invalid NOTIFY event group") < 0)
        return -1;
    /* RFC 5465 §5: MessageNew and MessageExpunge go together, and
     * FlagChange or AnnotationChange need both; §6.1: only message events
     * for the selected mailbox. */
    unsigned ev = g->events;
    unsigned both = IMAP_NOTIFY_EV_MESSAGE_NEW | IMAP_NOTIFY_EV_MESSAGE_EXPUNGE;
    if ((ev & both) && (ev & both) != both)
        return fail(ps, "MessageNew and MessageExpunge go together");
    if ((ev & (IMAP_NOTIFY_EV_FLAG_CHANGE | IMAP_NOTIFY_EV_ANNOTATION_CHANGE)) &&
        (ev & both) != both)
        return fail(ps, "FlagChange needs MessageNew and MessageExpunge");
    if ((g->filter == IMAP_NOTIFY_SELECTED || g->filter == IMAP_NOTIFY_SELECTED_DELAYED) &&
        (ev & ~(NOTIFY_MESSAGE_EVENTS | IMAP_NOTIFY_EV_UNKNOWN)))
        return fail(ps, "Only message events for the selected mailbox");
    return 0;
}

static int cmd_notify(struct parser *ps, struct imap_command *c)
{
    struct imap_notify_args *nt = &c->u.notify;
    struct vec v = { 0 };
    if (need_sp(ps, "Missing NOTIFY arguments") < 0)
        return -1;
    struct str k = take_atom(ps);
    if (kw(k, "NONE")) {
        nt->none = true;
        return done(ps);
    }
    if (!kw(k, "SET"))
        return fail(ps, "Invalid NOTIFY arguments");
    if (need_sp(ps, "Missing NOTIFY event groups") < 0)
        return -1;
    const char *save = ps->p;
    if (kw(take_atom(ps), "STATUS")) {
        nt->status = true;
        if (need_sp(ps, "Missing NOTIFY event groups") < 0)
            return -1;
    } else
        ps->p = save;
    bool selected = false;
    for (;;) {
        if (need_char(ps, '(', "Invalid NOTIFY event group") < 0)
            return -1;
        struct imap_notify_group *g =
            vec_push(ps, &v, sizeof(*g), IMAP_MAX_LIST_ITEMS, "Too many NOTIFY event groups");
        if (!g || parse_notify_group(ps, g) < 0)
            return -1;
        if (g->filter == IMAP_NOTIFY_SELECTED || g->filter == IMAP_NOTIFY_SELECTED_DELAYED) {
            if (selected)
                return fail(ps, "SELECTED given twice");
            selected = true;
        }
        if (at_end(ps))
            break;
        if (need_sp(ps, "Missing NOTIFY event group") < 0)
            return -1;
    }
    nt->n = v.n;
    nt->groups = v.v;
    return 0;
}

/* ---- Dispatch ---- */

static const char *const command_names[IMAP_CMD_COUNT_] = {
    [IMAP_CMD_UNKNOWN] = "",
    [IMAP_CMD_CAPABILITY] = "CAPABILITY",
    [IMAP_CMD_NOOP] = "NOOP",
    [IMAP_CMD_LOGOUT] = "LOGOUT",
    [IMAP_CMD_ID] = "ID",
    [IMAP_CMD_STARTTLS] = "STARTTLS",
    [IMAP_CMD_AUTHENTICATE] = "AUTHENTICATE",
    [IMAP_CMD_LOGIN] = "LOGIN",
    [IMAP_CMD_ENABLE] = "ENABLE",
    [IMAP_CMD_SELECT] = "SELECT",
    [IMAP_CMD_EXAMINE] = "EXAMINE",
    [IMAP_CMD_CREATE] = "CREATE",
    [IMAP_CMD_DELETE] = "DELETE",
    [IMAP_CMD_RENAME] = "RENAME",
    [IMAP_CMD_SUBSCRIBE] = "SUBSCRIBE",
    [IMAP_CMD_UNSUBSCRIBE] = "UNSUBSCRIBE",
    [IMAP_CMD_LIST] = "LIST",
    [IMAP_CMD_LSUB] = "LSUB",
    [IMAP_CMD_NAMESPACE] = "NAMESPACE",
    [IMAP_CMD_STATUS] = "STATUS",
    [IMAP_CMD_APPEND] = "APPEND",
    [IMAP_CMD_IDLE] = "IDLE",
    [IMAP_CMD_GETQUOTA] = "GETQUOTA",
    [IMAP_CMD_GETQUOTAROOT] = "GETQUOTAROOT",
    [IMAP_CMD_SETQUOTA] = "SETQUOTA",
    [IMAP_CMD_COMPRESS] = "COMPRESS",
    [IMAP_CMD_NOTIFY] = "NOTIFY",
    [IMAP_CMD_CHECK] = "CHECK",
    [IMAP_CMD_CLOSE] = "CLOSE",
    [IMAP_CMD_UNSELECT] = "UNSELECT",
    [IMAP_CMD_EXPUNGE] = "EXPUNGE",
    [IMAP_CMD_SEARCH] = "SEARCH",
    [IMAP_CMD_FETCH] = "FETCH",
    [IMAP_CMD_STORE] = "STORE",
    [IMAP_CMD_COPY] = "COPY",
    [IMAP_CMD_MOVE] = "MOVE",
    [IMAP_CMD_SORT] = "SORT",
    [IMAP_CMD_THREAD] = "THREAD",
};

const char *imap_command_name(enum imap_cmd cmd)
{
    if ((unsigned)cmd >= IMAP_CMD_COUNT_)
        return "";
    return command_names[cmd];
}

static bool uid_form(enum imap_cmd cmd)
{
    switch (cmd) {
    case IMAP_CMD_COPY: case IMAP_CMD_MOVE: case IMAP_CMD_FETCH: case IMAP_CMD_STORE:
    case IMAP_CMD_SEARCH: case IMAP_CMD_SORT: case IMAP_CMD_THREAD: case IMAP_CMD_EXPUNGE:
        return true;
    default:
        return false;
    }
}

static enum imap_cmd lookup_command(struct str name)
{
    for (int i = 1; i < IMAP_CMD_COUNT_; i++)
        if (str_eq_nocase_cstr(name, command_names[i]))
            return (enum imap_cmd)i;
    return IMAP_CMD_UNKNOWN;
}

int imap_parse_tag(struct str cmd, struct str *tag)
{
    size_t i = 0;
    while (i < cmd.len && i <= IMAP_TAG_MAX && is_tag_char((unsigned char)cmd.p[i]))
        i++;
    if (i == 0 || i > IMAP_TAG_MAX || i >= cmd.len || cmd.p[i] != ' ')
        return -1;
    *tag = (struct str){ cmd.p, i };
    return 0;
}

int imap_parse_command(struct arena *a, struct str cmd, struct imap_command *out,
                       const char **reason)
{
    struct parser ps = { .p = cmd.p, .end = cmd.p + cmd.len, .a = a };
    memset(out, 0, sizeof(*out));
    int rc = -1;

    if (imap_parse_tag(cmd, &out->tag) < 0) {
        out->tag = STR_NULL;
        fail(&ps, "Invalid tag");
        goto out;
    }
    ps.p += out->tag.len + 1;
    struct str name = take_keyword(&ps);
    if (!name.len) {
        fail(&ps, at_end(&ps) ? "Missing command" : "Invalid command");
        goto out;
    }
    enum imap_cmd c = lookup_command(name);
    if (c == IMAP_CMD_UNKNOWN && kw(name, "UID")) {
        if (need_sp(&ps, "Missing command after UID") < 0)
            goto out;
        name = take_keyword(&ps);
        c = lookup_command(name);
        if (!uid_form(c)) {
            fail(&ps, "Unknown UID command");
            goto out;
        }
        out->uid = true;
    }
    if (c == IMAP_CMD_UNKNOWN || (!at_end(&ps) && *ps.p != ' ')) {
        fail(&ps, "Unknown command");
        goto out;
    }
    out->cmd = c;

    switch (c) {
    case IMAP_CMD_CAPABILITY: case IMAP_CMD_NOOP: case IMAP_CMD_LOGOUT:
    case IMAP_CMD_STARTTLS: case IMAP_CMD_NAMESPACE: case IMAP_CMD_IDLE:
    case IMAP_CMD_CHECK: case IMAP_CMD_CLOSE: case IMAP_CMD_UNSELECT:
        rc = done(&ps);
        break;
    case IMAP_CMD_ID: rc = cmd_id(&ps, out); break;
    case IMAP_CMD_AUTHENTICATE: rc = cmd_authenticate(&ps, out); break;
    case IMAP_CMD_LOGIN: rc = cmd_login(&ps, out); break;
    case IMAP_CMD_ENABLE: rc = cmd_enable(&ps, out); break;
    case IMAP_CMD_SELECT: case IMAP_CMD_EXAMINE: rc = cmd_select(&ps, out); break;
    case IMAP_CMD_CREATE: rc = cmd_create(&ps, out); break;
    case IMAP_CMD_DELETE: case IMAP_CMD_SUBSCRIBE: case IMAP_CMD_UNSUBSCRIBE:
    case IMAP_CMD_GETQUOTAROOT:
        rc = cmd_mailbox(&ps, &out->u.mailbox);
        break;
    case IMAP_CMD_RENAME: rc = cmd_rename(&ps, out); break;
    case IMAP_CMD_LIST: rc = cmd_list(&ps, out, false); break;
    case IMAP_CMD_LSUB: rc = cmd_list(&ps, out, true); break;
    case IMAP_CMD_STATUS: rc = cmd_status(&ps, out); break;
    case IMAP_CMD_APPEND: rc = cmd_append(&ps, out); break;
    case IMAP_CMD_GETQUOTA: rc = cmd_getquota(&ps, out); break;
    case IMAP_CMD_SETQUOTA: rc = cmd_setquota(&ps, out); break;
    case IMAP_CMD_COMPRESS: rc = cmd_compress(&ps, out); break;
    case IMAP_CMD_NOTIFY: rc = cmd_notify(&ps, out); break;
    case IMAP_CMD_EXPUNGE: rc = cmd_expunge(&ps, out); break;
    case IMAP_CMD_SEARCH: rc = cmd_search(&ps, out); break;
    case IMAP_CMD_FETCH: rc = cmd_fetch(&ps, out); break;
    case IMAP_CMD_STORE: rc = cmd_store(&ps, out); break;
    case IMAP_CMD_COPY: case IMAP_CMD_MOVE: rc = cmd_copy(&ps, out); break;
    case IMAP_CMD_SORT: rc = cmd_sort(&ps, out); break;
    case IMAP_CMD_THREAD: rc = cmd_thread(&ps, out); break;
    case IMAP_CMD_UNKNOWN: case IMAP_CMD_COUNT_:
        fail(&ps, "Unknown command");
        break;
    }
    if (rc == 0 && !at_end(&ps))
        rc = fail(&ps, "Unexpected characters after the command");
out:
    if (rc < 0) {
        if (reason)
            *reason = ps.err ? ps.err : "Invalid command";
        return -1;
    }
    return 0;
}

/* ---- Literal announcements ---- */

int imap_literal_at_end(struct str line, struct imap_literal *lit, const char **reason)
{
    /* Find the last "{" outside quoted strings; the line starts outside one
     * (a tag, or what follows a literal's data). */
    bool quoted = false;
    long brace = -1;
    for (size_t i = 0; i < line.len; i++) {
        char c = line.p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < line.len)
                i++;
            else if (c == '"')
                quoted = false;
        } else if (c == '"')
            quoted = true;
        else if (c == '{')
            brace = (long)i;
    }
    if (quoted || brace < 0 || !line.len || line.p[line.len - 1] != '}')
        return 0;
    const char *p = line.p + brace + 1, *end = line.p + line.len - 1;
    bool plus = end > p && end[-1] == '+';
    if (plus)
        end--;
    uint64_t n = 0;
    if (p == end)
        goto bad;
    for (const char *q = p; q < end; q++) {
        if (!is_digit((unsigned char)*q))
            goto bad;
        unsigned d = (unsigned)(*q - '0');
        if (n > ((uint64_t)IMAP_LITERAL_MAX - d) / 10) {
            if (reason)
                *reason = "Literal too large";
            return -1;
        }
        n = n * 10 + d;
    }
    lit->size = n;
    lit->nonsync = plus;
    lit->binary = brace > 0 && line.p[brace - 1] == '~';
    return 1;
bad:
    if (reason)
        *reason = "Invalid literal";
    return -1;
}
