/* Mailbox commands and the selected mailbox's view, run in session jobs
 * (see internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "imap/encode.h"
#include "imap/internal.h"
#include "imap/mutf7.h"

/* ---- the view ---- */

void imap_view_clear(struct imap_view *v)
{
    free(v->mailbox);
    free(v->uids);
    free(v->saved);
    memset(v, 0, sizeof(*v));
}

static void view_push(struct imap_view *v, uint32_t uid)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->uids = xrealloc(v->uids, v->cap * sizeof(*v->uids));
    }
    v->uids[v->n++] = uid;
}

uint32_t imap_u32_find(const uint32_t *v, uint32_t n, uint32_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x ? lo + 1 : 0;
}

uint32_t imap_view_msn(const struct imap_view *v, uint32_t uid)
{
    return imap_u32_find(v->uids, v->n, uid);
}

bool imap_view_saved_has(const struct imap_view *v, uint32_t uid)
{
    return imap_u32_find(v->saved, v->nsaved, uid) != 0;
}

uint32_t *imap_view_resolve(struct imap_job *j, const struct imap_seq_set *set, bool uid,
                            uint32_t *n_r)
{
    const struct imap_view *v = &j->ss->view;
    uint32_t *out = arena_alloc(j->arena, (v->n ? v->n : 1) * sizeof(*out));
    uint32_t n = 0;
    if (uid) {
        uint32_t star = v->n ? v->uids[v->n - 1] : 0;
        for (uint32_t i = 0; i < v->n; i++)
            if (imap_seq_set_contains(set, v->uids[i], star) ||
                (set->dollar && imap_view_saved_has(v, v->uids[i])))
                out[n++] = v->uids[i];
    } else {
        /* "$" is UIDs even in a command that numbers by MSN (RFC 5182 §2.1). */
        for (uint32_t i = 0; i < v->n; i++)
            if (imap_seq_set_contains(set, i + 1, v->n) ||
                (set->dollar && imap_view_saved_has(v, v->uids[i])))
                out[n++] = v->uids[i];
    }
    *n_r = n;
    return out;
}

/* ---- names and flags on the wire ---- */

void imap_write_mailbox_name(struct imap_job *j, const char *name)
{
    struct str s = str_from_cstr(name);
    if (!j->utf8) {
        const char *m = imap_mutf7_encode(j->arena, s);
        s = str_from_cstr(m ? m : name);
    }
    imap_write_string(&j->out, s, j->utf8);
}

static const struct { unsigned bit; const char *name; } system_flags[] = {
    { STORE_FLAG_ANSWERED, "\\Answered" }, { STORE_FLAG_FLAGGED, "\\Flagged" },
    { STORE_FLAG_DELETED, "\\Deleted" }, { STORE_FLAG_SEEN, "\\Seen" },
    { STORE_FLAG_DRAFT, "\\Draft" },
};

void imap_write_flags(struct buf *out, unsigned flags, const char *keywords)
{
    bool first = true;
    buf_append_char(out, '(');
    for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
        if (flags & system_flags[i].bit) {
            buf_printf(out, "%s%s", first ? "" : " ", system_flags[i].name);
            first = false;
        }
    }
    if (keywords && *keywords)
        buf_printf(out, "%s%s", first ? "" : " ", keywords);
    buf_append_char(out, ')');
}

bool imap_view_recent(const struct imap_job *j, uint32_t uid)
{
    const struct imap_view *v = &j->ss->view;
    return !(j->enabled & IMAP_ENABLED_IMAP4REV2) && uid >= v->recent_first && uid < v->recent_next;
}

void imap_write_message_flags(const struct imap_job *j, struct buf *out,
                              const struct store_message *m)
{
    if (!imap_view_recent(j, m->uid)) {
        imap_write_flags(out, m->flags, m->keywords);
        return;
    }
    size_t at = out->len;
    imap_write_flags(out, m->flags, m->keywords);
    out->len--; /* the ")" */
    buf_append_cstr(out, out->len - at > 1 ? " \\Recent)" : "\\Recent)");
}

unsigned imap_flags_parse(const struct imap_strs *list, unsigned *flags, struct buf *keywords)
{
    unsigned unknown = 0;
    *flags = 0;
    for (uint32_t i = 0; i < list->n; i++) {
        struct str fl = list->v[i];
        size_t k = 0;
        while (k < sizeof(system_flags) / sizeof(system_flags[0]) &&
               !str_eq_nocase_cstr(fl, system_flags[k].name))
            k++;
        if (k < sizeof(system_flags) / sizeof(system_flags[0]))
            *flags |= system_flags[k].bit;
        else if (fl.len && fl.p[0] != '\\')
            buf_printf(keywords, "%s%.*s", keywords->len ? " " : "", (int)fl.len, fl.p);
        else
            unknown++;
    }
    return unknown;
}

/* ---- updates ---- */

static int cmp_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct list_ctx {
    struct imap_job *j;
    uint32_t *uids;
    uint32_t n, cap;
};

static int collect_uid(void *ctx, const struct store_message *m)
{
    struct list_ctx *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->uids = xrealloc(l->uids, l->cap * sizeof(*l->uids));
    }
    l->uids[l->n++] = m->uid;
    return 0;
}

/* Once CONDSTORE is on, every unsolicited FETCH carries UID and MODSEQ
 * (RFC 7162). */
static int flags_line(void *ctx, const struct store_message *m)
{
    struct imap_job *j = ctx;
    uint32_t msn = imap_view_msn(&j->ss->view, m->uid);
    if (!msn)
        return 0;
    buf_printf(&j->out, "* %u FETCH (UID %u FLAGS ", msn, m->uid);
    imap_write_message_flags(j, &j->out, m);
    if (j->enabled & IMAP_ENABLED_CONDSTORE)
        buf_printf(&j->out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
    buf_append_cstr(&j->out, ")\r\n");
    return 0;
}

static void push_uid(void *ctx, uint32_t uid)
{
    struct list_ctx *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->uids = xrealloc(l->uids, l->cap * sizeof(*l->uids));
    }
    l->uids[l->n++] = uid;
}

void imap_write_set(struct buf *out, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t k = i;
        while (k + 1 < n && v[k + 1] == v[k] + 1)
            k++;
        buf_printf(out, "%s%u", i ? "," : "", v[i]);
        if (k > i)
            buf_printf(out, ":%u", v[k]);
        i = k + 1;
    }
}

void imap_write_vanished(struct imap_job *j, bool earlier, const uint32_t *uids, uint32_t n)
{
    /* Some clients read lines of 8 KB at most (RFC 7162 §4 recommends
     * 8192 octets): a long set goes out as several responses, which mean
     * the same. */
    struct buf *o = &j->out;
    size_t line = 0;
    bool open = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t k = i;
        while (k + 1 < n && uids[k + 1] == uids[k] + 1)
            k++;
        if (open && o->len - line > 8000) {
            buf_append_cstr(o, "\r\n");
            open = false;
        }
        if (!open) {
            line = o->len;
            buf_append_cstr(o, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
            open = true;
        } else {
            buf_append_char(o, ',');
        }
        buf_printf(o, "%u", uids[i]);
        if (k > i)
            buf_printf(o, ":%u", uids[k]);
        i = k + 1;
    }
    if (open)
        buf_append_cstr(o, "\r\n");
}

/* Takes messages out of the view (`gone`: UIDs, ascending; any not in the
 * view are skipped) and tells the client: one EXPUNGE each, numbered as
 * the previous one left the view, or once QRESYNC is on one VANISHED for
 * them all (RFC 7162 §3.2.10). */
static void view_expunge(struct imap_job *j, const uint32_t *gone, uint32_t ngone)
{
    struct imap_view *v = &j->ss->view;
    bool qresync = j->enabled & IMAP_ENABLED_QRESYNC;
    uint32_t *vanished = arena_alloc(j->arena, (ngone ? ngone : 1) * sizeof(*vanished));
    uint32_t nvanished = 0, k = 0, w = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        uint32_t uid = v->uids[i];
        while (k < ngone && gone[k] < uid)
            k++;
        if (k < ngone && gone[k] == uid) {
            if (qresync)
                vanished[nvanished++] = uid;
            else
                buf_printf(&j->out, "* %u EXPUNGE\r\n", w + 1);
        } else {
            v->uids[w++] = uid;
        }
    }
    v->n = w;
    imap_write_vanished(j, false, vanished, nvanished);
}

/* Messages past the view's last UID join it, told with one EXISTS (once
 * per job). */
static void view_add_new(struct imap_job *j)
{
    struct imap_view *v = &j->ss->view;
    j->appends_done = true;
    uint32_t last = v->n ? v->uids[v->n - 1] : 0;
    struct list_ctx l = { j, NULL, 0, 0 };
    char *err = NULL;
    if (last < UINT32_MAX &&
        store_message_list(j->ss->acct, v->mailbox, last + 1, UINT32_MAX, 0, collect_uid, &l,
                           &err) == STORE_OK && l.n) {
        for (uint32_t i = 0; i < l.n; i++)
            view_push(v, l.uids[i]);
        buf_printf(&j->out, "* %u EXISTS\r\n", v->n);
    }
    free(l.uids);
    free(err);
}

void imap_apply_updates(struct imap_job *j, bool expunges)
{
    struct imap_view *v = &j->ss->view;
    if (!v->selected)
        return;
    bool appended = j->resync, expunged = j->resync;
    for (struct imap_event *e = j->events; e; e = e->next) {
        if (strcmp(e->mailbox, v->mailbox) != 0)
            continue;
        if (e->kind == STORE_EVENT_APPEND)
            appended = true;
        else if (e->kind == STORE_EVENT_EXPUNGE)
            expunged = true;
    }
    if (expunged && !expunges)
        j->expunges_deferred = true; /* job_done keeps them for the next command */
    char *err = NULL;
    if (expunged && expunges && !j->expunges_done) {
        j->expunges_done = true;
        j->expunges_deferred = false;
        /* The store's list against ours: what is gone goes, highest first
         * would renumber less, but clients expect each EXPUNGE to apply to
         * the numbering left by the previous one, so go in order. */
        struct list_ctx l = { j, NULL, 0, 0 };
        if (store_message_list(j->ss->acct, v->mailbox, 1, UINT32_MAX, 0, collect_uid, &l,
                               &err) == STORE_OK) {
            uint32_t *gone = arena_alloc(j->arena, (v->n ? v->n : 1) * sizeof(*gone));
            uint32_t ngone = 0, k = 0;
            for (uint32_t i = 0; i < v->n; i++) {
                uint32_t uid = v->uids[i];
                while (k < l.n && l.uids[k] < uid)
                    k++;
                if (k == l.n || l.uids[k] != uid)
                    gone[ngone++] = uid;
            }
            view_expunge(j, gone, ngone);
        }
        free(l.uids);
        free(err);
        err = NULL;
    }
    if (appended && !j->appends_done)
        view_add_new(j);
    /* Flag changes by others: the current flags of those messages, each
     * once (sorted UIDs), or of every message after an overflow. */
    if (j->flags_done)
        return;
    j->flags_done = true;
    if (j->resync) {
        if (v->n)
            store_message_list(j->ss->acct, v->mailbox, 1, UINT32_MAX, 0, flags_line, j, &err);
        free(err);
        return;
    }
    uint32_t n = 0;
    for (struct imap_event *e = j->events; e; e = e->next)
        n += e->kind == STORE_EVENT_FLAGS;
    if (!n)
        return;
    uint32_t *uids = arena_alloc(j->arena, n * sizeof(*uids));
    n = 0;
    for (struct imap_event *e = j->events; e; e = e->next)
        if (e->kind == STORE_EVENT_FLAGS && strcmp(e->mailbox, v->mailbox) == 0 &&
            imap_view_msn(v, e->uid))
            uids[n++] = e->uid;
    qsort(uids, n, sizeof(*uids), cmp_uid);
    for (uint32_t i = 0; i < n; i++) {
        if (i && uids[i] == uids[i - 1])
            continue;
        store_message_list(j->ss->acct, v->mailbox, uids[i], uids[i], 0, flags_line, j, &err);
        free(err);
        err = NULL;
    }
}

/* ---- SELECT / EXAMINE ---- */

/* SELECT (QRESYNC (uidvalidity modseq [known-uids ...])) with the
 * client's UIDVALIDITY: what its cache lacks since `modseq` — the UIDs
 * expunged since (those it named, when it named them) in one VANISHED
 * (EARLIER), then UID, flags and MODSEQ of every message changed since
 * (RFC 7162 §3.2.5). The store keeps every expunged UID with the MODSEQ of
 * its expunge, so the answer is exact and seq-match-data, which helps
 * servers that forget them, is not needed. */
static int qresync_select(struct imap_job *j, const struct imap_select_args *a)
{
    struct imap_view *v = &j->ss->view;
    struct list_ctx gone = { j, NULL, 0, 0 };
    char *err = NULL;
    int r = store_message_vanished(j->ss->acct, v->mailbox, a->modseq, push_uid, &gone, &err);
    if (r == STORE_OK) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < gone.n; i++)
            if (!a->has_known_uids ||
                imap_seq_set_contains(&a->known_uids, gone.uids[i], UINT32_MAX))
                gone.uids[w++] = gone.uids[i];
        imap_write_vanished(j, true, gone.uids, w);
        if (v->n)
            r = store_message_list(j->ss->acct, v->mailbox, 1, UINT32_MAX, a->modseq, flags_line,
                                   j, &err);
    }
    free(gone.uids);
    if (r != STORE_OK)
        imap_job_store_error(j, r, err);
    free(err);
    return r == STORE_OK ? 0 : -1;
}

/* SELECT's listing: the UIDs, and the first unseen message's number. */
struct select_ctx {
    struct list_ctx l;
    uint32_t first_unseen;   /* MSN; 0: none */
};

static int collect_select(void *ctx, const struct store_message *m)
{
    struct select_ctx *sc = ctx;
    collect_uid(&sc->l, m);
    if (!sc->first_unseen && !(m->flags & STORE_FLAG_SEEN))
        sc->first_unseen = sc->l.n;
    return 0;
}

/* What a LIST (or LSUB) response carries besides \Noselect (below). */
#define LIST_CHILDREN    0x01u  /* \HasChildren or \HasNoChildren */
#define LIST_SUBSCRIBED  0x02u  /* \Subscribed when it is */
#define LIST_SPECIAL     0x04u  /* the special use (RFC 6154) */
static void write_list(struct imap_job *j, const char *kind, const struct store_mailbox *m,
                       const char *name, unsigned what);

static void cmd_select(struct imap_job *j, bool readonly)
{
    struct imap_session *ss = j->ss;
    const struct imap_select_args *a = &j->cmd->u.select;
    if (a->qresync && !(j->enabled & IMAP_ENABLED_QRESYNC)) {
        /* RFC 7162 §3.2.5; the selected mailbox stays as it was. */
        imap_job_result(j, "BAD", NULL, "QRESYNC needs ENABLE QRESYNC first");
        return;
    }
    if (a->condstore || a->qresync)
        j->enabled |= IMAP_ENABLED_CONDSTORE; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
    /* A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2). */
    bool was = ss->view.selected;
    imap_view_clear(&ss->view);
    j->set_state = true;
    j->state = IMAP_STATE_AUTHENTICATED;
    if (was)
        buf_append_cstr(&j->out, "* OK [CLOSED] Previous mailbox closed\r\n");
    char *name = imap_name_from_wire(j, a->mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(ss->acct, j->arena, name, &m, &err);
    if (r != STORE_OK || m.noselect) {
        if (r == STORE_OK)
            imap_job_result(j, "NO", "NONEXISTENT", "Not a selectable mailbox");
        else
            imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    /* \Recent, for an IMAP4rev1 client only: a SELECT takes the mailbox's
     * recent messages for itself, an EXAMINE only looks (RFC 3501 §6.3.2).
     * Before the listing, so that every recent message is in it. */
    bool rev1 = !(j->enabled & IMAP_ENABLED_IMAP4REV2);
    uint32_t recent_first = 0, recent_next = 0;
    if (rev1)
        r = store_mailbox_recent(ss->acct, m.name, !readonly, &recent_first, &recent_next, &err);
    struct select_ctx sc = { { j, NULL, 0, 0 }, 0 };
    if (r == STORE_OK)
        r = store_message_list(ss->acct, m.name, 1, UINT32_MAX, 0, collect_select, &sc, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        free(sc.l.uids);
        return;
    }
    struct imap_view *v = &ss->view;
    v->selected = true;
    v->readonly = readonly;
    v->mailbox = xstrdup(m.name);
    v->uidvalidity = m.uidvalidity;
    v->highestmodseq = m.highestmodseq;
    v->uids = sc.l.uids;
    v->n = v->cap = sc.l.n;
    v->recent_first = recent_first;
    v->recent_next = recent_next;
    /* Changes queued before the select are already in what we listed. */
    buf_printf(&j->out, "* %u EXISTS\r\n", v->n);
    if (rev1) {
        uint32_t recent = 0;
        for (uint32_t i = 0; i < v->n; i++)
            recent += v->uids[i] >= recent_first && v->uids[i] < recent_next;
        buf_printf(&j->out, "* %u RECENT\r\n", recent);
        /* A MUST of RFC 3501 §6.3.1 that RFC 9051 dropped. */
        if (sc.first_unseen)
            buf_printf(&j->out, "* OK [UNSEEN %u] First unseen message\r\n", sc.first_unseen);
    }
    buf_append_cstr(&j->out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
    buf_append_cstr(&j->out, readonly ? "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
                                      : "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted "
                                        "\\Seen \\Draft \\*)] Flags permitted\r\n");
    buf_printf(&j->out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", m.uidvalidity);
    buf_printf(&j->out, "* OK [UIDNEXT %u] Predicted next UID\r\n", m.uidnext);
    /* Every SELECT, whether CONDSTORE is on or not (RFC 7162 §3.1.2.1): a
     * client that does not know the code ignores it. Read before the
     * messages were listed, so it never claims a change not reported. */
    buf_printf(&j->out, "* OK [HIGHESTMODSEQ %llu] Highest mailbox mod-sequence\r\n",
               (unsigned long long)m.highestmodseq);
    /* RFC 9051 §6.3.2: the mailbox's LIST response (its attributes, and
     * its name as the server spells it), as LIST "" name would give it. */
    if (!rev1)
        write_list(j, "LIST", &m, m.name, LIST_CHILDREN | LIST_SPECIAL);
    if (a->qresync && a->uidvalidity == m.uidvalidity && qresync_select(j, a) < 0) {
        imap_view_clear(v);
        return;
    }
    j->state = IMAP_STATE_SELECTED;
    imap_job_result(j, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
                    readonly ? "EXAMINE" : "SELECT");
}

static void cmd_close(struct imap_job *j, bool expunge)
{
    struct imap_view *v = &j->ss->view;
    if (expunge && !v->readonly) {
        char *err = NULL;
        int r = store_message_expunge(j->ss->acct, v->mailbox, NULL, 0, NULL, NULL, &err);
        if (r != STORE_OK) {
            imap_job_store_error(j, r, err);
            free(err);
            return;
        }
    }
    imap_view_clear(v);
    j->set_state = true;
    j->state = IMAP_STATE_AUTHENTICATED;
}

struct deleted_ctx {
    struct imap_job *j;
    const uint32_t *uids; /* the named UIDs, ascending */
    uint32_t n, kept;
    uint32_t *out;        /* the deleted ones among them */
};

static int keep_deleted(void *ctx, const struct store_message *m)
{
    struct deleted_ctx *d = ctx;
    if (!(m->flags & STORE_FLAG_DELETED))
        return 0;
    /* Both ascending: a merge. */
    uint32_t lo = 0, hi = d->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (d->uids[mid] < m->uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < d->n && d->uids[lo] == m->uid)
        d->out[d->kept++] = m->uid;
    return 0;
}

static void cmd_expunge(struct imap_job *j)
{
    struct imap_view *v = &j->ss->view;
    if (v->readonly) {
        imap_job_result(j, "NO", "READ-ONLY", "The mailbox is read-only");
        return;
    }
    const uint32_t *uids = NULL;
    uint32_t n = 0;
    char *err = NULL;
    if (j->cmd->uid) {
        /* UID EXPUNGE removes only the named messages that are \Deleted
         * (RFC 4315); the store's expunge of a UID list takes them all. */
        struct deleted_ctx d = { j, imap_view_resolve(j, &j->cmd->u.expunge, true, &n), 0, 0,
                                 NULL };
        d.n = n;
        d.out = arena_alloc(j->arena, (n ? n : 1) * sizeof(*d.out));
        store_message_list(j->ss->acct, v->mailbox, 1, UINT32_MAX, 0, keep_deleted, &d, &err);
        free(err);
        err = NULL;
        uids = d.out;
        n = d.kept;
        if (n == 0)
            return; /* nothing to expunge: OK */
    }
    struct list_ctx gone = { j, NULL, 0, 0 };
    int r = store_message_expunge(j->ss->acct, v->mailbox, uids, n, push_uid, &gone, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
    } else {
        view_expunge(j, gone.uids, gone.n); /* the store gives them in UID order */
    }
    free(gone.uids);
}

/* ---- LIST / LSUB ---- */

/* IMAP's LIST pattern match: '*' anything, '%' anything but the
 * delimiter. Simulated as an automaton over the pattern's positions, so the
 * time is length of pattern times length of name whatever the wildcards (a
 * backtracking match is exponential in the number of stars). `inbox_ci`:
 * the pattern starts with INBOX in some case, which names match as INBOX. */
static bool pattern_match(const char *p, const char *name, bool *states, bool *next)
{
    size_t plen = strlen(p);
    memset(states, 0, plen + 1);
    states[0] = true;
    for (const char *c = name;; c++) {
        /* Wildcards also match nothing. */
        for (size_t i = 0; i < plen; i++)
            if (states[i] && (p[i] == '*' || p[i] == '%'))
                states[i + 1] = true;
        if (!*c)
            break;
        memset(next, 0, plen + 1);
        bool any = false;
        for (size_t i = 0; i < plen; i++) {
            if (!states[i])
                continue;
            if (p[i] == '*' || (p[i] == '%' && *c != '/'))
                next[i] = any = true;
            else if (p[i] == *c)
                next[i + 1] = any = true;
        }
        if (!any)
            return false;
        memcpy(states, next, plen + 1);
    }
    return states[plen];
}

/* "inbox/x" patterns match the canonical "INBOX/x". */
static char *pattern_canonical(struct arena *a, const char *p)
{
    char *c = arena_strdup(a, p);
    if (strncasecmp(c, "INBOX", 5) == 0 && (c[5] == '\0' || c[5] == '/'))
        memcpy(c, "INBOX", 5);
    return c;
}

struct list_out {
    struct imap_job *j;
    const char **patterns;
    uint32_t npatterns;
    bool *states, *next;        /* the matcher's, sized for the longest pattern */
    bool lsub;
    bool special_only;          /* (SPECIAL-USE) */
    bool recursive;             /* (SUBSCRIBED RECURSIVEMATCH): CHILDINFO (RFC 5258) */
    unsigned what;              /* LIST_* for each response */
    unsigned status_items;      /* RETURN (STATUS (...)): IMAP_STATUS_* (RFC 5819) */
};

static bool list_match(struct list_out *o, const char *name)
{
    for (uint32_t i = 0; i < o->npatterns; i++)
        if (pattern_match(o->patterns[i], name, o->states, o->next))
            return true;
    return false;
}

/* A name with no mailbox behind it (a subscription): LIST says
 * \NonExistent, LSUB nothing, or \Noselect for a parent of a subscription
 * that LSUB's "%" stopped at. */
#define LIST_NONEXISTENT 0x08u
#define LIST_NOSELECT    0x10u
/* ("CHILDINFO" ("SUBSCRIBED")): a subscribed name below (RFC 5258 §3.5). */
#define LIST_CHILDINFO   0x20u

/* "* LIST (attributes) "/" name" for mailbox m, or for a name without one
 * (m NULL). */
static void write_list(struct imap_job *j, const char *kind, const struct store_mailbox *m,
                       const char *name, unsigned what)
{
    struct buf attrs;
    buf_init(&attrs, 0);
    if (m ? m->noselect : (what & LIST_NOSELECT) != 0)
        buf_append_cstr(&attrs, " \\Noselect");
    if (m && (what & LIST_CHILDREN))
        buf_append_cstr(&attrs, m->has_children ? " \\HasChildren" : " \\HasNoChildren");
    if ((what & LIST_SUBSCRIBED) && (!m || m->subscribed))
        buf_append_cstr(&attrs, " \\Subscribed");
    if (!m && (what & LIST_NONEXISTENT))
        buf_append_cstr(&attrs, " \\NonExistent");
    if (m && (what & LIST_SPECIAL) && *m->special_use)
        buf_printf(&attrs, " %s", m->special_use);
    buf_printf(&j->out, "* %s (%s) \"/\" ", kind, attrs.len ? buf_cstr(&attrs) + 1 : "");
    buf_free(&attrs);
    imap_write_mailbox_name(j, name);
    if (what & LIST_CHILDINFO)
        buf_append_cstr(&j->out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
    buf_append_cstr(&j->out, "\r\n");
}

static void write_status(struct imap_job *j, const struct store_mailbox *m, unsigned items);

/* LIST (and LIST-STATUS's STATUS) for one mailbox that matched. */
static void list_mailbox(struct list_out *o, const struct store_mailbox *m, unsigned what)
{
    if (o->special_only && !*m->special_use)
        return;
    write_list(o->j, o->lsub ? "LSUB" : "LIST", m, m->name, what);
    /* RFC 5819: right after the mailbox's LIST, for selectable ones only. */
    if (o->status_items && !m->noselect)
        write_status(o->j, m, o->status_items);
}

static int list_one(void *ctx, const struct store_mailbox *m)
{
    struct list_out *o = ctx;
    if (list_match(o, m->name))
        list_mailbox(o, m, o->what);
    return 0;
}

struct names {
    struct arena *a;
    const char **v;
    uint32_t n, cap;
};

static int push_name(void *ctx, const char *name)
{
    struct names *ns = ctx;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 32;
        ns->v = xrealloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    ns->v[ns->n++] = arena_strdup(ns->a, name);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first index in the sorted v whose name is >= key. */
static uint32_t lower_bound(const struct names *ns, const char *key)
{
    uint32_t lo = 0, hi = ns->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(ns->v[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    bool xi = !strcmp(x, "INBOX"), yi = !strcmp(y, "INBOX");
    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x, y);
}

/* LSUB, and LIST (SUBSCRIBED): every subscribed name, whether a mailbox
 * has it or not (RFC 9051 §6.3.9: "exactly those mailbox names ...
 * subscribed to", the missing ones \NonExistent). Their parents count too:
 * for LSUB, a "%" that stops above a subscribed name returns the level it
 * stopped at, as \Noselect (RFC 3501 §6.3.9); with RECURSIVEMATCH, a
 * parent of a subscribed name comes with CHILDINFO, subscribed or not
 * (RFC 5258 §3.5). Clients may subscribe to any number of names: the
 * subscriptions are sorted (byte order), so a name's own entry and the
 * names below it ("name/...", one contiguous run) are binary searches. */
static int list_subscribed(struct list_out *o, char **error_r)
{
    struct imap_job *j = o->j;
    const char *kind = o->lsub ? "LSUB" : "LIST";
    struct names subs = { j->arena, NULL, 0, 0 }, cands = { j->arena, NULL, 0, 0 };
    int r = store_subscription_list(j->ss->acct, push_name, &subs, error_r);
    if (subs.n)
        qsort(subs.v, subs.n, sizeof(*subs.v), cmp_str);
    bool *matched = arena_alloc(j->arena, subs.n ? subs.n : 1);
    for (uint32_t i = 0; r == STORE_OK && i < subs.n; i++) {
        matched[i] = list_match(o, subs.v[i]);
        push_name(&cands, subs.v[i]);
        if (!o->lsub && !o->recursive)
            continue;
        char *p = arena_strdup(j->arena, subs.v[i]);
        for (char *d = strchr(p, '/'); d; d = strchr(d + 1, '/')) {
            *d = '\0';
            push_name(&cands, p);
            *d = '/';
        }
    }
    /* Each candidate once, INBOX first. */
    if (cands.n)
        qsort(cands.v, cands.n, sizeof(*cands.v), cmp_names);
    uint32_t w = 0;
    for (uint32_t c = 0; c < cands.n; c++)
        if (!w || strcmp(cands.v[c], cands.v[w - 1]))
            cands.v[w++] = cands.v[c];
    cands.n = w;
    for (uint32_t c = 0; r == STORE_OK && c < cands.n; c++) {
        const char *name = cands.v[c];
        if (!list_match(o, name))
            continue;
        size_t len = strlen(name);
        uint32_t at = lower_bound(&subs, name);
        bool sub = at < subs.n && !strcmp(subs.v[at], name);
        bool below = false, below_unmatched = false;
        char *prefix = arena_alloc(j->arena, len + 2);
        memcpy(prefix, name, len);
        memcpy(prefix + len, "/", 2);
        for (uint32_t i = lower_bound(&subs, prefix);
             i < subs.n && !strncmp(subs.v[i], prefix, len + 1); i++) {
            below = true;
            below_unmatched |= !matched[i];
        }
        unsigned what = o->what | (o->recursive && below ? LIST_CHILDINFO : 0);
        if (!sub && o->lsub) {
            if (below_unmatched && !o->special_only)
                write_list(j, kind, NULL, name, LIST_NOSELECT);
            continue;
        }
        if (!sub && !(what & LIST_CHILDINFO))
            continue;
        struct store_mailbox m;
        char *err = NULL;
        r = store_mailbox_get(j->ss->acct, j->arena, name, &m, &err);
        if (r == STORE_OK) {
            list_mailbox(o, &m, what);
        } else if (r == STORE_ERR_NOT_FOUND || r == STORE_ERR_INVALID) {
            /* INVALID: a name subscribed before the rules were stricter. */
            r = STORE_OK;
            if (!o->special_only)
                write_list(j, kind, NULL, name,
                           o->lsub ? 0
                                   : (sub ? LIST_SUBSCRIBED : 0) | LIST_NONEXISTENT |
                                         (what & LIST_CHILDINFO));
        }
        if (r != STORE_OK)
            *error_r = err;
        else
            free(err);
    }
    free(subs.v);
    free(cands.v);
    return r;
}

static void cmd_list(struct imap_job *j, bool lsub)
{
    const struct imap_list_args *a = &j->cmd->u.list;
    if (a->patterns.n == 1 && a->patterns.v[0].len == 0 && !lsub) {
        /* LIST "" "": the hierarchy delimiter and the root. */
        buf_append_cstr(&j->out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
        return;
    }
    char *ref = imap_name_from_wire(j, a->reference);
    if (!ref) {
        imap_job_result(j, "NO", "CANNOT", "Invalid reference");
        return;
    }
    struct list_out o = { .j = j, .lsub = lsub };
    o.patterns = arena_alloc(j->arena, a->patterns.n * sizeof(*o.patterns));
    for (uint32_t i = 0; i < a->patterns.n; i++) {
        char *p = imap_name_from_wire(j, a->patterns.v[i]);
        if (!p) {
            imap_job_result(j, "NO", "CANNOT", "Invalid pattern");
            return;
        }
        size_t rl = strlen(ref);
        char *full = arena_alloc(j->arena, rl + strlen(p) + 1);
        /* RFC 9051 §6.3.9: the reference is prefixed unless the pattern
         * is absolute (starts with the delimiter). */
        if (p[0] == '/' || rl == 0)
            strcpy(full, p);
        else {
            memcpy(full, ref, rl);
            strcpy(full + rl, p);
        }
        o.patterns[o.npatterns++] = pattern_canonical(j->arena, full);
    }
    size_t longest = 0;
    for (uint32_t i = 0; i < o.npatterns; i++)
        if (strlen(o.patterns[i]) > longest)
            longest = strlen(o.patterns[i]);
    o.states = arena_alloc(j->arena, longest + 1);
    o.next = arena_alloc(j->arena, longest + 1);
    bool subscribed_only = lsub || (a->select & IMAP_LIST_SEL_SUBSCRIBED);
    o.special_only = a->select & IMAP_LIST_SEL_SPECIAL_USE;
    o.recursive = (a->select & IMAP_LIST_SEL_RECURSIVEMATCH) && subscribed_only && !lsub;
    if (!lsub) {
        o.what = LIST_CHILDREN | LIST_SPECIAL;
        if ((a->ret & IMAP_LIST_RET_SUBSCRIBED) || (a->select & IMAP_LIST_SEL_SUBSCRIBED))
            o.what |= LIST_SUBSCRIBED;
        if (a->ret & IMAP_LIST_RET_STATUS)
            o.status_items = a->status_items;
    }
    char *err = NULL;
    int r = subscribed_only ? list_subscribed(&o, &err)
                            : store_mailbox_list(j->ss->acct, list_one, &o, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
    }
}

/* ---- STATUS ---- */

static int count_deleted(void *ctx, const struct store_message *m)
{
    if (m->flags & STORE_FLAG_DELETED)
        ++*(uint32_t *)ctx;
    return 0;
}

static int count_one(void *ctx, const struct store_message *m)
{
    (void)m;
    ++*(uint32_t *)ctx;
    return 0;
}

/* "* STATUS name (...)": STATUS, and LIST-STATUS (RFC 5819). */
static void write_status(struct imap_job *j, const struct store_mailbox *m, unsigned items)
{
    char *err = NULL;
    buf_append_cstr(&j->out, "* STATUS ");
    imap_write_mailbox_name(j, m->name);
    buf_append_cstr(&j->out, " (");
    struct buf b;
    buf_init(&b, 0);
    if (items & IMAP_STATUS_MESSAGES)
        buf_printf(&b, " MESSAGES %u", m->messages);
    if (items & IMAP_STATUS_UIDNEXT)
        buf_printf(&b, " UIDNEXT %u", m->uidnext);
    if (items & IMAP_STATUS_UIDVALIDITY)
        buf_printf(&b, " UIDVALIDITY %u", m->uidvalidity);
    if (items & IMAP_STATUS_UNSEEN)
        buf_printf(&b, " UNSEEN %u", m->unseen);
    if (items & IMAP_STATUS_SIZE)
        buf_printf(&b, " SIZE %llu", (unsigned long long)m->size);
    /* RECENT is IMAP4rev1's (RFC 9051 removed it): what the next SELECT
     * would get, counted without taking them. */
    if ((items & IMAP_STATUS_RECENT) && !(j->enabled & IMAP_ENABLED_IMAP4REV2)) {
        uint32_t first = 0, next = 0, recent = 0;
        if (store_mailbox_recent(j->ss->acct, m->name, false, &first, &next, &err) == STORE_OK &&
            first < next)
            store_message_list(j->ss->acct, m->name, first, next - 1, 0, count_one, &recent,
                               &err);
        free(err);
        err = NULL;
        buf_printf(&b, " RECENT %u", recent);
    }
    if (items & IMAP_STATUS_HIGHESTMODSEQ) {
        j->enabled |= IMAP_ENABLED_CONDSTORE; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
        buf_printf(&b, " HIGHESTMODSEQ %llu", (unsigned long long)m->highestmodseq);
    }
    if (items & IMAP_STATUS_DELETED) {
        /* Counted from the list: the store keeps no per-flag counters. */
        uint32_t deleted = 0;
        store_message_list(j->ss->acct, m->name, 1, UINT32_MAX, 0, count_deleted, &deleted, &err);
        free(err);
        err = NULL;
        buf_printf(&b, " DELETED %u", deleted);
    }
    /* RFC 7889: the same limit for every mailbox. */
    if (items & IMAP_STATUS_APPENDLIMIT)
        buf_printf(&b, " APPENDLIMIT %llu", (unsigned long long)j->ss->append_limit);
    buf_append_cstr(&j->out, b.len ? buf_cstr(&b) + 1 : "");
    buf_free(&b);
    buf_append_cstr(&j->out, ")\r\n");
}

static void cmd_status(struct imap_job *j)
{
    const struct imap_status_args *a = &j->cmd->u.status;
    char *name = imap_name_from_wire(j, a->mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(j->ss->acct, j->arena, name, &m, &err);
    if (r != STORE_OK || m.noselect) {
        if (r == STORE_OK)
            imap_job_result(j, "NO", "NONEXISTENT", "Not a selectable mailbox");
        else
            imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    write_status(j, &m, a->items);
}

/* ---- CREATE, DELETE, RENAME, (UN)SUBSCRIBE ---- */

static void cmd_create(struct imap_job *j)
{
    const struct imap_create_args *a = &j->cmd->u.create;
    char *name = imap_name_from_wire(j, a->mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    size_t len = strlen(name);
    if (len && name[len - 1] == '/')
        name[len - 1] = '\0'; /* "a/" creates "a" (RFC 9051 §6.3.4) */
    const char *use = a->use.n ? a->use.v[0].p : NULL;
    if (a->use.n > 1) {
        imap_job_result(j, "NO", "USEATTR", "One special use per mailbox");
        return;
    }
    char *err = NULL;
    int r = store_mailbox_create(j->ss->acct, name, use, &err);
    if (r != STORE_OK)
        imap_job_store_error(j, r, err);
    free(err);
}

static void cmd_delete(struct imap_job *j)
{
    char *name = imap_name_from_wire(j, j->cmd->u.mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    char *err = NULL;
    int r = store_mailbox_delete(j->ss->acct, name, &err);
    if (r == STORE_ERR_IN_USE)
        /* A \Noselect name whose inferiors keep it: there is nothing to
         * delete but them (RFC 9051 §6.3.5, the code of §7.1). */
        imap_job_result(j, "NO", "HASCHILDREN", "Has inferior mailboxes: delete those first");
    else if (r != STORE_OK)
        imap_job_store_error(j, r, err);
    free(err);
}

static void cmd_rename(struct imap_job *j)
{
    char *from = imap_name_from_wire(j, j->cmd->u.rename.from);
    char *to = imap_name_from_wire(j, j->cmd->u.rename.to);
    if (!from || !to) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    char *err = NULL;
    int r = store_mailbox_rename(j->ss->acct, from, to, &err);
    if (r != STORE_OK)
        imap_job_store_error(j, r, err);
    free(err);
}

static void cmd_subscribe(struct imap_job *j, bool on)
{
    char *name = imap_name_from_wire(j, j->cmd->u.mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    char *err = NULL;
    int r = store_mailbox_subscribe(j->ss->acct, name, on, &err);
    if (r != STORE_OK)
        imap_job_store_error(j, r, err);
    free(err);
}

/* ---- APPEND ---- */

static void cmd_append(struct imap_job *j)
{
    const struct imap_append_args *a = &j->cmd->u.append;
    char *name = imap_name_from_wire(j, a->mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(j->ss->acct, j->arena, name, &m, &err);
    if (r == STORE_OK && m.noselect)
        r = STORE_ERR_NOT_FOUND;
    if (r != STORE_OK) {
        /* TRYCREATE where a CREATE would help (RFC 9051 §6.3.12), not for
         * a name that cannot be or a store that failed. */
        if (r == STORE_ERR_NOT_FOUND)
            imap_job_result(j, "NO", "TRYCREATE", "No such mailbox");
        else
            imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    struct store_append_req *reqs = arena_alloc(j->arena, a->n * sizeof(*reqs));
    uint32_t *uids = arena_alloc(j->arena, a->n * sizeof(*uids));
    for (uint32_t i = 0; i < a->n; i++) {
        const struct imap_append_msg *msg = &a->msgs[i];
        unsigned flags;
        struct buf kw;
        buf_init(&kw, 0);
        imap_flags_parse(&msg->flags, &flags, &kw); /* unknown \Flags are dropped */
        reqs[i] = (struct store_append_req){
            .mailbox = m.name,
            .data = msg->data.p,
            .len = msg->data.len,
            .flags = flags,
            .keywords = kw.len ? arena_strdup(j->arena, buf_cstr(&kw)) : NULL,
            .internal_date = msg->has_date ? msg->date.time : 0,
        };
        buf_free(&kw);
    }
    /* MULTIAPPEND is all or nothing (RFC 3502 §6.3.11): one transaction. */
    r = a->n == 1 ? store_message_append(j->ss->acct, reqs, uids, &err)
                  : store_message_append_many(j->ss->acct, reqs, a->n, uids, &err);
    if (r != STORE_OK) {
        if (r == STORE_ERR_NOT_FOUND) /* deleted meanwhile */
            imap_job_result(j, "NO", "TRYCREATE", "No such mailbox");
        else
            imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    /* Into the selected mailbox: EXISTS now, not with the next command
     * (RFC 9051 §6.3.12). The store's own event for it finds nothing new. */
    struct imap_view *v = &j->ss->view;
    if (v->selected && !strcmp(v->mailbox, m.name))
        view_add_new(j);
    struct buf code;
    buf_init(&code, 0);
    buf_printf(&code, "APPENDUID %u ", m.uidvalidity);
    imap_write_set(&code, uids, a->n); /* ascending: one mailbox, one transaction */
    imap_job_result(j, "OK", buf_cstr(&code), "APPEND completed");
    buf_free(&code);
}

/* ---- COPY / MOVE ---- */

struct copy_ctx {
    uint32_t *from, *to;
    uint32_t n, cap;
};

static void copied_one(void *ctx, uint32_t old_uid, uint32_t new_uid)
{
    struct copy_ctx *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->from = xrealloc(c->from, c->cap * sizeof(*c->from));
        c->to = xrealloc(c->to, c->cap * sizeof(*c->to));
    }
    c->from[c->n] = old_uid;
    c->to[c->n++] = new_uid;
}

/* "COPYUID v 1:3,7 10:12,13" — runs where both sides step by one are
 * written as ranges, keeping the pairing by position (RFC 4315 §3). */
static void copyuid_code(struct buf *code, uint32_t uidvalidity, const struct copy_ctx *c)
{
    struct buf to;
    buf_init(&to, 0);
    buf_printf(code, "COPYUID %u ", uidvalidity);
    for (uint32_t i = 0; i < c->n;) {
        uint32_t k = i;
        while (k + 1 < c->n && c->from[k + 1] == c->from[k] + 1 && c->to[k + 1] == c->to[k] + 1)
            k++;
        const char *sep = i ? "," : "";
        if (k > i) {
            buf_printf(code, "%s%u:%u", sep, c->from[i], c->from[k]);
            buf_printf(&to, "%s%u:%u", sep, c->to[i], c->to[k]);
        } else {
            buf_printf(code, "%s%u", sep, c->from[i]);
            buf_printf(&to, "%s%u", sep, c->to[i]);
        }
        i = k + 1;
    }
    buf_printf(code, " %s", buf_cstr(&to));
    buf_free(&to);
}

static void cmd_copy(struct imap_job *j, bool move)
{
    const struct imap_copy_args *a = &j->cmd->u.copy;
    struct imap_view *v = &j->ss->view;
    if (move && v->readonly) {
        imap_job_result(j, "NO", "READ-ONLY", "The mailbox is read-only");
        return;
    }
    char *to = imap_name_from_wire(j, a->mailbox);
    if (!to) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(j->ss->acct, j->arena, to, &m, &err);
    if (r == STORE_OK && m.noselect)
        r = STORE_ERR_NOT_FOUND;
    if (r != STORE_OK) {
        if (r == STORE_ERR_NOT_FOUND)
            imap_job_result(j, "NO", "TRYCREATE", "No such mailbox");
        else
            imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    imap_apply_updates(j, false); /* new mail first; numbers stay as the client knows them */
    uint32_t n;
    uint32_t *uids = imap_view_resolve(j, &a->set, j->cmd->uid, &n);
    if (n == 0) {
        imap_job_result(j, "OK", NULL, "No messages");
        return;
    }
    struct copy_ctx c = { 0 };
    r = store_message_copy(j->ss->acct, v->mailbox, uids, n, m.name, move, copied_one, &c, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
    } else {
        struct buf code;
        buf_init(&code, 0);
        copyuid_code(&code, m.uidvalidity, &c);
        if (move) {
            /* RFC 6851: COPYUID in an untagged OK, then the expunges. */
            buf_printf(&j->out, "* OK [%s] Moved\r\n", buf_cstr(&code));
            view_expunge(j, uids, n);
            imap_job_result(j, "OK", NULL, "MOVE completed");
        } else {
            imap_job_result(j, "OK", buf_cstr(&code), "COPY completed");
        }
        buf_free(&code);
    }
    free(c.from);
    free(c.to);
}

/* ---- dispatch ---- */

/* The selected mailbox was renamed or deleted by another session (its name
 * now means another mailbox, or none): the view is dropped rather than
 * applied to the wrong messages. Returns false then. */
bool imap_view_check(struct imap_job *j)
{
    struct imap_view *v = &j->ss->view;
    if (!v->selected)
        return true;
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(j->ss->acct, j->arena, v->mailbox, &m, &err);
    free(err);
    if (r == STORE_OK && !m.noselect && m.uidvalidity == v->uidvalidity)
        return true;
    if (r != STORE_OK && r != STORE_ERR_NOT_FOUND)
        return true; /* a store error: the command will report it */
    imap_view_clear(v);
    j->set_state = true;
    j->state = IMAP_STATE_AUTHENTICATED;
    buf_append_cstr(&j->out, "* OK [CLOSED] The selected mailbox was renamed or deleted\r\n");
    return false;
}

void imap_cmd_mailbox(struct imap_job *j)
{
    const struct imap_command *c = j->cmd;
    switch (c->cmd) {
    case IMAP_CMD_SELECT: cmd_select(j, false); return;
    case IMAP_CMD_EXAMINE: cmd_select(j, true); return;
    case IMAP_CMD_LIST: cmd_list(j, false); break;
    case IMAP_CMD_LSUB: cmd_list(j, true); break;
    case IMAP_CMD_NAMESPACE:
        buf_append_cstr(&j->out, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
        break;
    case IMAP_CMD_STATUS: cmd_status(j); break;
    case IMAP_CMD_CREATE: cmd_create(j); break;
    case IMAP_CMD_DELETE: cmd_delete(j); break;
    case IMAP_CMD_RENAME: cmd_rename(j); break;
    case IMAP_CMD_SUBSCRIBE: cmd_subscribe(j, true); break;
    case IMAP_CMD_UNSUBSCRIBE: cmd_subscribe(j, false); break;
    case IMAP_CMD_APPEND: cmd_append(j); break;
    case IMAP_CMD_GETQUOTA:
    case IMAP_CMD_GETQUOTAROOT:
    case IMAP_CMD_SETQUOTA: imap_cmd_quota(j); break;
    case IMAP_CMD_NOOP:
    case IMAP_CMD_CHECK:
        break;
    case IMAP_CMD_CLOSE: cmd_close(j, true); return;
    case IMAP_CMD_UNSELECT: cmd_close(j, false); return;
    case IMAP_CMD_EXPUNGE: cmd_expunge(j); break;
    case IMAP_CMD_COPY: cmd_copy(j, false); break;
    case IMAP_CMD_MOVE: cmd_copy(j, true); break;
    default:
        /* Not offered in CAPABILITY: a client that sends it anyway. */
        imap_job_result(j, "BAD", NULL, "%s is not supported", imap_command_name(c->cmd));
        return;
    }
    imap_apply_updates(j, true);
}
