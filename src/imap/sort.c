/* SORT and THREAD (RFC 5256), run in session jobs (see internal.h): the
 * search is search.c's, the keys and the orders are sort.h's (sortkey.c,
 * thread.c); this file gathers the keys of the matching messages from the
 * store and writes the answers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/internal.h"
#include "imap/sort.h"
#include "mime/mime.h"

struct collect_ctx {
    struct imap_job *j;
    const uint32_t *uids;      /* the matching messages, ascending */
    uint32_t n;
    struct imap_sort_msg *msgs;
    uint32_t n_msgs;
    bool need_env, need_refs;
    struct arena *scratch;     /* one message's tree and header at a time */
};

static bool wanted(const struct collect_ctx *c, uint32_t uid)
{
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && c->uids[lo] == uid;
}

/* The References field's value, from the message's header block. */
static struct str references(struct collect_ctx *c, const struct store_message *m,
                             const struct mime_part *root)
{
    char *err = NULL;
    int fd = store_message_open(c->j->ss->acct, m->file, &err);
    free(err);
    if (fd < 0)
        return STR_NULL;
    char *p = arena_alloc(c->scratch, root->header_len + 1);
    ssize_t r = pread(fd, p, root->header_len, 0);
    close(fd);
    struct mime_field f;
    if (r <= 0 || !mime_header_find((struct str){ p, (size_t)r }, "References", &f))
        return STR_NULL;
    return mime_unfold(c->scratch, f.value);
}

static int collect_one(void *ctx, const struct store_message *m)
{
    struct collect_ctx *c = ctx;
    if (!wanted(c, m->uid))
        return 0;
    uint32_t msn = imap_view_msn(&c->j->ss->view, m->uid);
    if (!msn)
        return 0;
    struct imap_sort_msg *s = &c->msgs[c->n_msgs++];
    memset(s, 0, sizeof(*s));
    s->seq = msn;
    s->num = c->j->cmd->uid ? m->uid : msn;
    s->arrival = m->internal_date;
    s->size = m->size;
    const struct mime_envelope *env = NULL;
    struct str refs = STR_NULL;
    if (c->need_env) {
        /* A message whose structure cannot be read sorts as one without
         * header fields, as SEARCH treats it. */
        char *err = NULL;
        struct mime_part *root = store_message_structure(c->j->ss->acct, c->scratch, m->file,
                                                         &err);
        free(err);
        if (root) {
            env = root->envelope;
            if (c->need_refs)
                refs = references(c, m, root);
        }
    }
    imap_sort_msg_keys(c->j->arena, s, env, refs);
    arena_reset(c->scratch);
    return 0;
}

/* The messages the program matches, with their keys, in sequence order;
 * -1 when the job's result is already set (an error). */
static int gather(struct imap_job *j, const struct imap_search *program, bool need_env,
                  bool need_refs, struct imap_sort_msg **msgs_r, uint32_t *n_r)
{
    struct imap_view *v = &j->ss->view;
    uint32_t *uids = NULL, n = 0;
    char *err = NULL;
    int r = imap_search_uids(j, program, &uids, &n, &err);
    struct collect_ctx c = { .j = j, .uids = uids, .n = n, .need_env = need_env,
                             .need_refs = need_refs };
    c.msgs = arena_alloc(j->arena, (n ? n : 1) * sizeof(*c.msgs));
    if (r == STORE_OK && n) {
        c.scratch = arena_new(0);
        r = store_message_list(j->ss->acct, v->mailbox, uids[0], uids[n - 1], 0, collect_one, &c,
                               &err);
        arena_free(c.scratch);
    }
    free(uids);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        return -1;
    }
    *msgs_r = c.msgs;
    *n_r = c.n_msgs;
    return 0;
}

static bool charset_ok(struct imap_job *j, struct str charset)
{
    if (str_eq_nocase_cstr(charset, "UTF-8") || str_eq_nocase_cstr(charset, "US-ASCII"))
        return true;
    imap_job_result(j, "NO", "BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset");
    return false;
}

void imap_cmd_sort(struct imap_job *j)
{
    const struct imap_sort_args *a = &j->cmd->u.sort;
    if (!charset_ok(j, a->charset))
        return;
    bool need_env = false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->criteria[i].key != IMAP_SORT_ARRIVAL && a->criteria[i].key != IMAP_SORT_SIZE)
            need_env = true;
    /* As SEARCH: a non-UID SORT must not renumber, so its expunges wait. */
    imap_apply_updates(j, j->cmd->uid);
    struct imap_sort_msg *msgs;
    uint32_t n;
    if (gather(j, a->program, need_env, false, &msgs, &n) < 0)
        return;
    const struct imap_sort_msg **v = arena_alloc(j->arena, (n ? n : 1) * sizeof(*v));
    for (uint32_t i = 0; i < n; i++)
        v[i] = &msgs[i];
    imap_sort(v, n, a->criteria, a->n);
    buf_append_cstr(&j->out, "* SORT");
    for (uint32_t i = 0; i < n; i++)
        buf_printf(&j->out, " %u", v[i]->num);
    buf_append_cstr(&j->out, "\r\n");
}

void imap_cmd_thread(struct imap_job *j)
{
    const struct imap_thread_args *a = &j->cmd->u.thread;
    if (!charset_ok(j, a->charset))
        return;
    imap_apply_updates(j, j->cmd->uid);
    struct imap_sort_msg *msgs;
    uint32_t n;
    if (gather(j, a->program, true, a->algorithm == IMAP_THREAD_REFERENCES, &msgs, &n) < 0)
        return;
    buf_append_cstr(&j->out, "* THREAD");
    if (n)
        buf_append_char(&j->out, ' ');
    imap_thread(j->arena, msgs, n, a->algorithm, &j->out);
    buf_append_cstr(&j->out, "\r\n");
}
