/* SEARCH, run in session jobs (see internal.h). Text keys that the
 * full-text index answers (BODY, TEXT) are looked up once per program;
 * everything else is decided message by message. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imap/encode.h"
#include "imap/internal.h"
#include "mime/mime.h"

/* UIDs the full-text index gave for one key. */
struct text_hits {
    const struct imap_search *key;
    uint32_t *uids;
    uint32_t n, cap;
    struct text_hits *next;
};

struct search_ctx {
    struct imap_job *j;
    const struct imap_search *program;
    struct text_hits *hits;
    uint32_t *out;
    uint64_t *modseqs;         /* of each result, when the program has MODSEQ */
    uint32_t n, cap;
    int64_t now;
    int error;
    struct arena *scratch;     /* one message's structure and header, reset per message */
};

static void hit(void *ctx, uint32_t uid)
{
    struct text_hits *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->uids = xrealloc(h->uids, h->cap * sizeof(*h->uids));
    }
    h->uids[h->n++] = uid;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs the index for every BODY and TEXT key of the program. */
static int prefetch_text(struct search_ctx *s, const struct imap_search *k)
{
    for (; k; k = k->next) {
        if (k->key == IMAP_SK_AND || k->key == IMAP_SK_OR || k->key == IMAP_SK_NOT) {
            if (prefetch_text(s, k->u.sub) < 0)
                return -1;
            continue;
        }
        if (k->key != IMAP_SK_BODY && k->key != IMAP_SK_TEXT)
            continue;
        struct text_hits *h = xcalloc(1, sizeof(*h));
        h->key = k;
        h->next = s->hits;
        s->hits = h;
        char *err = NULL;
        const char *text = arena_strndup(s->j->arena, k->u.str.p, k->u.str.len);
        if (store_message_search(s->j->ss->acct, s->j->ss->view.mailbox, text, hit, h, &err) !=
            STORE_OK) {
            free(err);
            return -1;
        }
        if (h->n) /* no hits: uids is NULL, which qsort must not get */
            qsort(h->uids, h->n, sizeof(*h->uids), cmp_u32);
    }
    return 0;
}

/* Case-insensitive (ASCII) substring. */
static bool contains(struct str hay, struct str needle)
{
    if (needle.len == 0)
        return true;
    for (size_t i = 0; i + needle.len <= hay.len; i++)
        if (strncasecmp(hay.p + i, needle.p, needle.len) == 0)
            return true;
    return false;
}

/* Days since the epoch of an RFC 5322 date ("Tue, 24 Nov 2026 19:31:38
 * +0100"), in the date's own zone as RFC 9051 asks for SENT*; -1 when it
 * does not parse. */
static long sent_day(struct str d)
{
    static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec" };
    char buf[128];
    size_t n = d.len < sizeof(buf) - 1 ? d.len : sizeof(buf) - 1;
    memcpy(buf, d.p, n);
    buf[n] = '\0';
    char *p = strchr(buf, ',');
    p = p ? p + 1 : buf;
    int day, year;
    char m[4];
    if (sscanf(p, " %d %3s %d", &day, m, &year) != 3)
        return -1;
    int mi = -1;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(m, mon[i]) == 0)
            mi = i;
    if (mi < 0 || day < 1 || day > 31)
        return -1;
    if (year < 50)
        year += 2000;
    else if (year < 1000)
        year += 1900;
    struct tm tm = { .tm_mday = day, .tm_mon = mi, .tm_year = year - 1900 };
    time_t t = timegm(&tm);
    return (long)(t / 86400);
}

struct msg_ctx {
    struct search_ctx *s;
    const struct store_message *m;
    uint32_t msn;
    struct mime_part *root;
    struct str header;
    bool header_read;
};

static struct mime_part *msg_root(struct msg_ctx *c)
{
    if (!c->root) {
        char *err = NULL;
        c->root = store_message_structure(c->s->j->ss->acct, c->s->scratch, c->m->file, &err);
        free(err);
    }
    return c->root;
}

/* The message's header block, read from its file. */
static struct str msg_header(struct msg_ctx *c)
{
    if (c->header_read)
        return c->header;
    c->header_read = true;
    struct mime_part *root = msg_root(c);
    if (!root)
        return c->header;
    char *err = NULL;
    int fd = store_message_open(c->s->j->ss->acct, c->m->file, &err);
    free(err);
    if (fd < 0)
        return c->header;
    char *p = arena_alloc(c->s->scratch, root->header_len + 1);
    ssize_t r = pread(fd, p, root->header_len, 0);
    close(fd);
    if (r > 0)
        c->header = (struct str){ p, (size_t)r };
    return c->header;
}

static bool header_has(struct msg_ctx *c, const char *name, struct str value)
{
    struct mime_header_iter it;
    struct mime_field f;
    mime_header_iter_init(&it, msg_header(c));
    while (mime_header_next(&it, &f)) {
        if (!str_eq_nocase_cstr(f.name, name))
            continue;
        if (contains(mime_decode_words(c->s->scratch, mime_unfold(c->s->scratch, f.value)),
                     value))
            return true;
    }
    return false;
}

static bool match(struct msg_ctx *c, const struct imap_search *k);

static bool match_all(struct msg_ctx *c, const struct imap_search *k)
{
    for (; k; k = k->next)
        if (!match(c, k))
            return false;
    return true;
}

static bool match(struct msg_ctx *c, const struct imap_search *k)
{
    const struct store_message *m = c->m;
    long day = (long)(m->internal_date >= 0 ? m->internal_date / 86400
                                            : (m->internal_date - 86399) / 86400);
    struct imap_view *v = &c->s->j->ss->view;
    switch (k->key) {
    case IMAP_SK_AND: return match_all(c, k->u.sub);
    case IMAP_SK_OR: return match(c, k->u.sub) || match(c, k->u.sub->next);
    case IMAP_SK_NOT: return !match(c, k->u.sub);
    case IMAP_SK_ALL: return true;
    case IMAP_SK_ANSWERED: return m->flags & STORE_FLAG_ANSWERED;
    case IMAP_SK_DELETED: return m->flags & STORE_FLAG_DELETED;
    case IMAP_SK_DRAFT: return m->flags & STORE_FLAG_DRAFT;
    case IMAP_SK_FLAGGED: return m->flags & STORE_FLAG_FLAGGED;
    case IMAP_SK_SEEN: return m->flags & STORE_FLAG_SEEN;
    case IMAP_SK_UNANSWERED: return !(m->flags & STORE_FLAG_ANSWERED);
    case IMAP_SK_UNDELETED: return !(m->flags & STORE_FLAG_DELETED);
    case IMAP_SK_UNDRAFT: return !(m->flags & STORE_FLAG_DRAFT);
    case IMAP_SK_UNFLAGGED: return !(m->flags & STORE_FLAG_FLAGGED);
    case IMAP_SK_UNSEEN: return !(m->flags & STORE_FLAG_SEEN);
    /* \Recent is IMAP4rev1's: after ENABLE IMAP4rev2 nothing is recent. */
    case IMAP_SK_NEW: return imap_view_recent(c->s->j, m->uid) && !(m->flags & STORE_FLAG_SEEN);
    case IMAP_SK_RECENT: return imap_view_recent(c->s->j, m->uid);
    case IMAP_SK_OLD: return !imap_view_recent(c->s->j, m->uid);
    case IMAP_SK_KEYWORD:
    case IMAP_SK_UNKEYWORD: {
        bool has = false;
        const char *kw = m->keywords ? m->keywords : "";
        while (*kw && !has) {
            const char *e = strchr(kw, ' ');
            size_t len = e ? (size_t)(e - kw) : strlen(kw);
            has = str_eq_nocase(k->u.str, (struct str){ kw, len });
            kw += len + (e ? 1 : 0);
        }
        return k->key == IMAP_SK_KEYWORD ? has : !has;
    }
    case IMAP_SK_BODY:
    case IMAP_SK_TEXT:
        for (struct text_hits *h = c->s->hits; h; h = h->next)
            if (h->key == k)
                return imap_u32_find(h->uids, h->n, m->uid) != 0;
        return false;
    case IMAP_SK_SUBJECT: {
        /* RFC 3501 defines SUBJECT on the envelope's subject, which the
         * stored structure holds: no need to read the message file. */
        struct mime_part *root = msg_root(c);
        if (root && root->envelope) {
            struct arena *a = c->s->scratch;
            return contains(mime_decode_words(a, mime_unfold(a, root->envelope->subject)),
                            k->u.str);
        }
        return header_has(c, "Subject", k->u.str);
    }
    case IMAP_SK_FROM: return header_has(c, "From", k->u.str);
    case IMAP_SK_TO: return header_has(c, "To", k->u.str);
    case IMAP_SK_CC: return header_has(c, "Cc", k->u.str);
    case IMAP_SK_BCC: return header_has(c, "Bcc", k->u.str);
    case IMAP_SK_HEADER: {
        char *name = arena_strndup(c->s->scratch, k->u.header.field.p, k->u.header.field.len);
        return header_has(c, name, k->u.header.value);
    }
    case IMAP_SK_BEFORE: return day < k->u.date.days;
    case IMAP_SK_ON: return day == k->u.date.days;
    case IMAP_SK_SINCE: return day >= k->u.date.days;
    case IMAP_SK_SENTBEFORE: case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE: {
        struct mime_part *root = msg_root(c);
        long sd = root && root->envelope ? sent_day(root->envelope->date) : -1;
        if (sd < 0)
            sd = day; /* no usable Date: as RFC 9051 suggests, the internal date */
        return k->key == IMAP_SK_SENTBEFORE ? sd < k->u.date.days
               : k->key == IMAP_SK_SENTON   ? sd == k->u.date.days
                                            : sd >= k->u.date.days;
    }
    case IMAP_SK_LARGER: return m->size > k->u.number;
    case IMAP_SK_SMALLER: return m->size < k->u.number;
    case IMAP_SK_OLDER: return c->s->now - m->internal_date >= (int64_t)k->u.number;
    case IMAP_SK_YOUNGER: return c->s->now - m->internal_date <= (int64_t)k->u.number;
    /* "$" (RFC 5182): the saved UIDs, in either key. */
    case IMAP_SK_SEQSET:
        return imap_seq_set_contains(&k->u.set, c->msn, v->n) ||
               (k->u.set.dollar && imap_view_saved_has(v, m->uid));
    case IMAP_SK_UID:
        return imap_seq_set_contains(&k->u.set, m->uid, v->n ? v->uids[v->n - 1] : 0) ||
               (k->u.set.dollar && imap_view_saved_has(v, m->uid));
    case IMAP_SK_MODSEQ: return m->modseq >= k->u.modseq.modseq;
    }
    return false;
}

static int search_one(void *ctx, const struct store_message *m)
{
    struct search_ctx *s = ctx;
    struct msg_ctx c = { .s = s, .m = m, .msn = imap_view_msn(&s->j->ss->view, m->uid) };
    arena_reset(s->scratch);
    if (!c.msn || !match(&c, s->program))
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->out = xrealloc(s->out, s->cap * sizeof(*s->out));
        if (s->modseqs)
            s->modseqs = xrealloc(s->modseqs, s->cap * sizeof(*s->modseqs));
    }
    if (s->modseqs)
        s->modseqs[s->n] = m->modseq;
    s->out[s->n++] = s->j->cmd->uid ? m->uid : c.msn;
    return 0;
}

static bool has_modseq_key(const struct imap_search *k)
{
    for (; k; k = k->next)
        if (k->key == IMAP_SK_MODSEQ ||
            ((k->key == IMAP_SK_AND || k->key == IMAP_SK_OR || k->key == IMAP_SK_NOT) &&
             has_modseq_key(k->u.sub)))
            return true;
    return false;
}

/* The MODSEQ a search with a MODSEQ key answers with (RFC 7162 §3.1.5,
 * and its ESEARCH rule): the highest of the messages it returns — with
 * only MIN and/or MAX, of those one or two. */
static uint64_t result_modseq(const struct search_ctx *s, unsigned ret)
{
    uint64_t h = 0;
    if (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) {
        for (uint32_t i = 0; i < s->n; i++)
            if (s->modseqs[i] > h)
                h = s->modseqs[i];
        return h;
    }
    if (ret & IMAP_SEARCH_RET_MIN)
        h = s->modseqs[0];
    if ((ret & IMAP_SEARCH_RET_MAX) && s->modseqs[s->n - 1] > h)
        h = s->modseqs[s->n - 1];
    return h;
}

/* SEARCHRES (RFC 5182 §2.4): RETURN (SAVE) keeps the matches as UIDs for
 * "$" — all of them, or only those MIN and/or MAX name when they come
 * without ALL or COUNT. s->out is ascending in MSN and so in UID. */
static void save_result(struct imap_job *j, const struct search_ctx *s, unsigned ret)
{
    struct imap_view *v = &j->ss->view;
    free(v->saved);
    v->saved = NULL;
    v->nsaved = 0;
    if (!s->n)
        return;
    bool only_ends = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) &&
                     !(ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT));
    v->saved = xmalloc(s->n * sizeof(*v->saved));
    for (uint32_t i = 0; i < s->n; i++) {
        if (only_ends && !((i == 0 && (ret & IMAP_SEARCH_RET_MIN)) ||
                           (i == s->n - 1 && (ret & IMAP_SEARCH_RET_MAX))))
            continue;
        v->saved[v->nsaved++] = j->cmd->uid ? s->out[i] : v->uids[s->out[i] - 1];
    }
}

/* Runs the program over the selected mailbox: s->out gets the matches
 * (MSNs, or UIDs for a UID command). */
static int run_search(struct search_ctx *s, char **error_r)
{
    struct imap_view *v = &s->j->ss->view;
    int r = STORE_OK;
    s->scratch = arena_new(0);
    if (prefetch_text(s, s->program) < 0)
        r = STORE_ERR_IO;
    else if (v->n)
        r = store_message_list(s->j->ss->acct, v->mailbox, v->uids[0], v->uids[v->n - 1], 0,
                               search_one, s, error_r);
    arena_free(s->scratch);
    s->scratch = NULL;
    while (s->hits) {
        struct text_hits *h = s->hits;
        s->hits = h->next;
        free(h->uids);
        free(h);
    }
    return r;
}

void imap_cmd_search(struct imap_job *j)
{
    const struct imap_search_args *a = &j->cmd->u.search;
    if (a->charset.p && !str_eq_nocase_cstr(a->charset, "UTF-8") &&
        !str_eq_nocase_cstr(a->charset, "US-ASCII")) {
        imap_job_result(j, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
        if (a->ret & IMAP_SEARCH_RET_SAVE)
            save_result(j, &(struct search_ctx){ .j = j }, 0); /* a failed SAVE empties "$" */
        return;
    }
    imap_apply_updates(j, j->cmd->uid);
    struct search_ctx s = { .j = j, .program = a->program, .now = (int64_t)time(NULL) };
    bool modseq = has_modseq_key(a->program);
    if (modseq) {
        j->enabled |= IMAP_ENABLED_CONDSTORE; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
        s.modseqs = xmalloc(sizeof(*s.modseqs)); /* grows with s.out */
    }
    char *err = NULL;
    int r = run_search(&s, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        free(s.out);
        free(s.modseqs);
        s.out = NULL;
        s.n = 0;
        if (a->ret & IMAP_SEARCH_RET_SAVE)
            save_result(j, &s, 0);
        return;
    }
    bool esearch = a->has_return || (j->enabled & IMAP_ENABLED_IMAP4REV2);
    struct buf *o = &j->out;
    unsigned ret = a->has_return && a->ret ? a->ret : IMAP_SEARCH_RET_ALL;
    if (ret & IMAP_SEARCH_RET_SAVE) {
        save_result(j, &s, ret);
        ret &= ~IMAP_SEARCH_RET_SAVE;
        if (!ret) {
            /* SAVE alone: no ESEARCH response (RFC 5182 §2.4). */
            free(s.out);
            free(s.modseqs);
            return;
        }
    }
    if (!esearch) {
        buf_append_cstr(o, "* SEARCH");
        for (uint32_t i = 0; i < s.n; i++)
            buf_printf(o, " %u", s.out[i]);
        if (modseq && s.n)
            buf_printf(o, " (MODSEQ %llu)",
                       (unsigned long long)result_modseq(&s, IMAP_SEARCH_RET_ALL));
        buf_append_cstr(o, "\r\n");
    } else {
        buf_printf(o, "* ESEARCH (TAG \"%.*s\")%s", (int)j->cmd->tag.len, j->cmd->tag.p,
                   j->cmd->uid ? " UID" : "");
        if ((ret & IMAP_SEARCH_RET_MIN) && s.n)
            buf_printf(o, " MIN %u", s.out[0]);
        if ((ret & IMAP_SEARCH_RET_MAX) && s.n)
            buf_printf(o, " MAX %u", s.out[s.n - 1]);
        if ((ret & IMAP_SEARCH_RET_ALL) && s.n) {
            buf_append_cstr(o, " ALL ");
            imap_write_set(o, s.out, s.n);
        }
        if (ret & IMAP_SEARCH_RET_COUNT)
            buf_printf(o, " COUNT %u", s.n);
        if (modseq && s.n)
            buf_printf(o, " MODSEQ %llu", (unsigned long long)result_modseq(&s, ret));
        buf_append_cstr(o, "\r\n");
    }
    free(s.out);
    free(s.modseqs);
}

/* ---- for SORT and THREAD ---- */

int imap_search_uids(struct imap_job *j, const struct imap_search *program, uint32_t **uids_r,
                     uint32_t *n_r, char **error_r)
{
    struct search_ctx s = { .j = j, .program = program, .now = (int64_t)time(NULL) };
    struct imap_view *v = &j->ss->view;
    int r = run_search(&s, error_r);
    if (r != STORE_OK) {
        free(s.out);
        s.out = NULL;
        s.n = 0;
    }
    /* search_one gives what the command names: MSNs for a non-UID one. */
    if (!j->cmd->uid)
        for (uint32_t i = 0; i < s.n; i++)
            s.out[i] = v->uids[s.out[i] - 1];
    *uids_r = s.out;
    *n_r = s.n;
    return r;
}
