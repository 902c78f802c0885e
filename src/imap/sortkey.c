/* The keys of a message for SORT and THREAD, and SORT's order (see
 * sort.h). Pure: the commands that use them are in sort.c, THREAD's
 * algorithms in thread.c. */
#include "imap/sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime.h"

/* ---- the base subject (RFC 5256 §2.1) ---- */

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s: its length, or 0. BLOBCHAR is
 * "any CHAR except '[' and ']'"; step 1 has made the subject UTF-8, so any
 * byte but those two (and NUL) counts, as in other servers. */
static size_t blob(const char *s, size_t len)
{
    if (len == 0 || s[0] != '[')
        return 0;
    size_t i = 1;
    while (i < len && s[i] != '[' && s[i] != ']' && s[i] != '\0')
        i++;
    if (i >= len || s[i] != ']')
        return 0;
    for (i++; i < len && s[i] == ' '; i++)
        ;
    return i;
}

/* *subj-blob subj-refwd at s, where
 * subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":": its length, or 0. */
static size_t refwd_leader(const char *s, size_t len)
{
    size_t i = 0, k;
    while ((k = blob(s + i, len - i)) > 0)
        i += k;
    if (len - i >= 2 && strncasecmp(s + i, "re", 2) == 0) {
        i += 2;
    } else if (len - i >= 2 && strncasecmp(s + i, "fw", 2) == 0) {
        i += 2;
        if (i < len && (s[i] == 'd' || s[i] == 'D'))
            i++;
    } else {
        return 0;
    }
    while (i < len && s[i] == ' ')
        i++;
    i += blob(s + i, len - i);
    return i < len && s[i] == ':' ? i + 1 : 0;
}

struct str imap_base_subject(struct arena *a, struct str subject, bool *reply_r)
{
    bool reply = false;
    if (reply_r)
        *reply_r = false;
    if (!subject.p)
        return STR_LIT("");
    /* (1) Encoded words to UTF-8; tabs and line ends to spaces; runs of
     * spaces to one. Everything after works on spaces only. */
    struct str d = mime_decode_words(a, mime_unfold(a, subject));
    char *s = arena_alloc(a, d.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < d.len; i++) {
        char c = d.p[i];
        if (c == '\t' || c == '\r' || c == '\n')
            c = ' ';
        if (c == ' ' && n && s[n - 1] == ' ')
            continue;
        s[n++] = c;
    }
    size_t b = 0, e = n; /* the text left: s[b..e) */
    for (;;) {
        /* (2) subj-trailer = "(fwd)" / WSP, from the end, while any is left. */
        for (;;) {
            if (e > b && s[e - 1] == ' ') {
                e--;
            } else if (e - b >= 5 && strncasecmp(s + e - 5, "(fwd)", 5) == 0) {
                e -= 5;
                reply = true;
            } else {
                break;
            }
        }
        /* (3) subj-leader = (*subj-blob subj-refwd) / WSP; (4) a subj-blob
         * when text is left after it; (5) both again until neither matches. */
        for (bool again = true; again;) {
            again = false;
            size_t k;
            while (b < e && s[b] == ' ') {
                b++;
                again = true;
            }
            if ((k = refwd_leader(s + b, e - b)) > 0) {
                b += k;
                reply = again = true;
            }
            if ((k = blob(s + b, e - b)) > 0 && b + k < e) {
                b += k;
                again = true;
            }
        }
        /* (6) "[fwd:" ... "]": drop both and start again at (2). */
        if (e - b >= 6 && strncasecmp(s + b, "[fwd:", 5) == 0 && s[e - 1] == ']') {
            b += 5;
            e--;
            reply = true;
            continue;
        }
        break;
    }
    if (reply_r)
        *reply_r = reply;
    s[e] = '\0';
    return (struct str){ s + b, e - b };
}

/* ---- the sent date (RFC 5256 §2.2) ---- */

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Minutes east of UTC of a zone token; 0 for one we cannot read, which
 * §2.2 says to treat as UTC (RFC 5322 says the same of military zones). */
static int zone_minutes(const char *z)
{
    static const struct { const char *name; int hours; } names[] = {
        { "UT", 0 },   { "GMT", 0 },  { "Z", 0 },    { "EST", -5 }, { "EDT", -4 },
        { "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 },
        { "PDT", -7 },
    };
    if ((z[0] == '+' || z[0] == '-') && strlen(z) == 5 && strspn(z + 1, "0123456789") == 4) {
        int hh = (z[1] - '0') * 10 + (z[2] - '0'), mm = (z[3] - '0') * 10 + (z[4] - '0');
        if (mm > 59)
            return 0;
        return (z[0] == '-' ? -1 : 1) * (hh * 60 + mm);
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(z, names[i].name) == 0)
            return names[i].hours * 60;
    return 0;
}

bool imap_sent_date(struct str value, int64_t *t_r)
{
    static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec" };
    if (!value.p)
        return false;
    /* Comments out, separators to spaces; a date needs little room. */
    char buf[160];
    size_t n = 0;
    int depth = 0;
    for (size_t i = 0; i < value.len && n < sizeof(buf) - 1; i++) {
        char c = value.p[i];
        if (c == '(')
            depth++;
        else if (c == ')' && depth)
            depth--;
        else if (depth)
            continue;
        if (c == '(' || c == ')' || c == ',' || c == '\t' || c == '\r' || c == '\n')
            c = ' ';
        buf[n++] = c;
    }
    buf[n] = '\0';
    char *tok[8], *save = NULL;
    int nt = 0;
    for (char *t = strtok_r(buf, " ", &save); t && nt < 8; t = strtok_r(NULL, " ", &save))
        tok[nt++] = t;
    int i = 0;
    if (i < nt && !(tok[i][0] >= '0' && tok[i][0] <= '9'))
        i++; /* the day of the week, whatever it says */
    if (nt - i < 3)
        return false;
    char *end;
    long day = strtol(tok[i], &end, 10);
    if (*end || day < 1 || day > 31)
        return false;
    int month = -1;
    for (int k = 0; k < 12; k++)
        if (strncasecmp(tok[i + 1], months[k], 3) == 0)
            month = k + 1;
    if (month < 0)
        return false;
    if (!(tok[i + 2][0] >= '0' && tok[i + 2][0] <= '9'))
        return false;
    long year = strtol(tok[i + 2], &end, 10);
    size_t ydigits = (size_t)(end - tok[i + 2]);
    if (*end || year > 9999)
        return false;
    if (ydigits <= 2)
        year += year < 50 ? 2000 : 1900; /* RFC 5322 §4.3 */
    else if (ydigits == 3)
        year += 1900;
    i += 3;
    /* A time that does not read counts as 00:00:00, and a zone that does
     * not as UTC (§2.2). */
    int hh = 0, mi = 0, ss = 0, zone = 0;
    if (i < nt) {
        int h, m, s = 0, used = 0;
        if ((sscanf(tok[i], "%2d:%2d:%2d%n", &h, &m, &s, &used) == 3 ||
             sscanf(tok[i], "%2d:%2d%n", &h, &m, &used) == 2) &&
            tok[i][used] == '\0' && h >= 0 && h <= 23 && m >= 0 && m <= 59 && s >= 0 && s <= 60) {
            hh = h;
            mi = m;
            ss = s;
        }
        if (i + 1 < nt)
            zone = zone_minutes(tok[i + 1]);
    }
    *t_r = days_from_civil(year, month, (int)day) * 86400 + hh * 3600 + mi * 60 + ss -
           (int64_t)zone * 60;
    return true;
}

/* ---- Message-IDs ---- */

/* One "<...>" at v.p[i] (a '<'): scans it, or copies it to out when out is
 * not NULL, dropping quotes, backslashes and white space. Returns the index
 * where the next one may start; *len_r gets the bytes kept, *at_r one past
 * the last '@' among them (0: none), *ok_r whether a '>' closed it. */
static size_t msgid_scan(struct str v, size_t i, char *out, size_t *len_r, size_t *at_r,
                         bool *ok_r)
{
    size_t k = 0, at = 0, j = i + 1;
    *ok_r = false;
    for (; j < v.len; j++) {
        char c = v.p[j];
        if (c == '>') {
            *ok_r = true;
            j++;
            break;
        }
        if (c == '<')
            break; /* a new one starts here */
        if (c == '\\' && j + 1 < v.len)
            c = v.p[++j];
        else if (c == '"' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '@')
            at = k + 1;
        if (out)
            out[k] = c;
        k++;
    }
    *len_r = k;
    *at_r = at;
    return j;
}

uint32_t imap_msgids(struct arena *a, struct str v, struct str **ids_r)
{
    uint32_t n = 0, cap = 0;
    struct str *ids = NULL;
    size_t i = 0;
    while (i < v.len) {
        if (v.p[i] != '<') {
            i++;
            continue;
        }
        size_t len, at;
        bool ok;
        size_t next = msgid_scan(v, i, NULL, &len, &at, &ok);
        if (ok && at > 1 && at < len) { /* an '@' with something on both sides */
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                struct str *bigger = arena_alloc(a, cap * sizeof(*bigger));
                if (n)
                    memcpy(bigger, ids, n * sizeof(*ids));
                ids = bigger;
            }
            char *p = arena_alloc(a, len + 1);
            msgid_scan(v, i, p, &len, &at, &ok);
            p[len] = '\0';
            ids[n++] = (struct str){ p, len };
        }
        i = next;
    }
    *ids_r = ids;
    return n;
}

/* ---- keys ---- */

static struct str copy(struct arena *a, struct str s)
{
    return s.p ? arena_str(a, s) : STR_LIT("");
}

/* The addr-mailbox of the first address (a group's name for a group). */
static struct str addr_mailbox(struct arena *a, const struct mime_addresses *l)
{
    if (!l->n)
        return STR_LIT("");
    const struct mime_address *ad = &l->v[0];
    return copy(a, ad->kind == MIME_ADDR_GROUP_START ? ad->name_raw : ad->mailbox);
}

/* RFC 5957's display form of the first address. */
static struct str addr_display(struct arena *a, const struct mime_addresses *l)
{
    if (!l->n)
        return STR_LIT("");
    const struct mime_address *ad = &l->v[0];
    if (ad->kind == MIME_ADDR_GROUP_START || (ad->name.p && ad->name.len))
        return copy(a, ad->name);
    if (!ad->mailbox.p)
        return STR_LIT("");
    if (!ad->domain.p || !ad->domain.len)
        return copy(a, ad->mailbox);
    size_t len = ad->mailbox.len + 1 + ad->domain.len;
    char *p = arena_alloc(a, len + 1);
    memcpy(p, ad->mailbox.p, ad->mailbox.len);
    p[ad->mailbox.len] = '@';
    memcpy(p + ad->mailbox.len + 1, ad->domain.p, ad->domain.len);
    p[len] = '\0';
    return (struct str){ p, len };
}

void imap_sort_msg_keys(struct arena *a, struct imap_sort_msg *m,
                        const struct mime_envelope *env, struct str references)
{
    static const struct mime_addresses none = { NULL, 0 };
    m->date = m->arrival;
    if (env)
        imap_sent_date(env->date, &m->date); /* leaves it alone when it fails */
    m->subject = imap_base_subject(a, env ? env->subject : STR_NULL, &m->reply);
    m->from = addr_mailbox(a, env ? &env->from : &none);
    m->to = addr_mailbox(a, env ? &env->to : &none);
    m->cc = addr_mailbox(a, env ? &env->cc : &none);
    m->display_from = addr_display(a, env ? &env->from : &none);
    m->display_to = addr_display(a, env ? &env->to : &none);
    struct str *ids;
    m->message_id = STR_NULL;
    if (env && imap_msgids(a, env->message_id, &ids) > 0)
        m->message_id = ids[0];
    m->n_refs = imap_msgids(a, references, &m->refs);
    /* Only the last references matter for the parent; a sender's list of
     * thousands would only cost THREAD time (RFC 5322 clients trim it). */
    if (m->n_refs > IMAP_THREAD_MAX_REFS) {
        m->refs += m->n_refs - IMAP_THREAD_MAX_REFS;
        m->n_refs = IMAP_THREAD_MAX_REFS;
    }
    if (m->n_refs == 0 && env && imap_msgids(a, env->in_reply_to, &ids) > 0) {
        m->refs = ids;
        m->n_refs = 1;
    }
}

/* ---- SORT's order ---- */

int imap_casemap_cmp(struct str a, struct str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a.p[i], y = (unsigned char)b.p[i];
        if (x >= 'a' && x <= 'z')
            x -= 'a' - 'A';
        if (y >= 'a' && y <= 'z')
            y -= 'a' - 'A';
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y))

struct criteria {
    const struct imap_sort_criterion *v;
    uint32_t n;
};

static int cmp_msg(const void *pa, const void *pb, void *ctx)
{
    const struct imap_sort_msg *a = *(const struct imap_sort_msg *const *)pa;
    const struct imap_sort_msg *b = *(const struct imap_sort_msg *const *)pb;
    const struct criteria *c = ctx;
    for (uint32_t i = 0; i < c->n; i++) {
        int r = 0;
        switch (c->v[i].key) {
        case IMAP_SORT_ARRIVAL: r = CMP(a->arrival, b->arrival); break;
        case IMAP_SORT_CC: r = imap_casemap_cmp(a->cc, b->cc); break;
        case IMAP_SORT_DATE: r = CMP(a->date, b->date); break;
        case IMAP_SORT_FROM: r = imap_casemap_cmp(a->from, b->from); break;
        case IMAP_SORT_SIZE: r = CMP(a->size, b->size); break;
        case IMAP_SORT_SUBJECT: r = imap_casemap_cmp(a->subject, b->subject); break;
        case IMAP_SORT_TO: r = imap_casemap_cmp(a->to, b->to); break;
        case IMAP_SORT_DISPLAYFROM: r = imap_casemap_cmp(a->display_from, b->display_from); break;
        case IMAP_SORT_DISPLAYTO: r = imap_casemap_cmp(a->display_to, b->display_to); break;
        }
        if (r)
            return c->v[i].reverse ? -r : r;
    }
    /* REVERSE never applies here: equal messages go in sequence order. */
    return CMP(a->seq, b->seq);
}

void imap_sort(const struct imap_sort_msg **v, uint32_t n,
               const struct imap_sort_criterion *criteria, uint32_t n_criteria)
{
    struct criteria c = { criteria, n_criteria };
    if (n > 1)
        qsort_r(v, n, sizeof(*v), cmp_msg, &c);
}
