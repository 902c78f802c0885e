/* FETCH and STORE, run in session jobs (see internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "imap/binary.h"
#include "imap/encode.h"
#include "imap/internal.h"
#include "mime/mime.h"

/* A FETCH, kept in the job's arena from one batch to the next (see
 * internal.h: streaming). */
struct fetch_ctx {
    struct imap_job *j;
    const struct imap_fetch_args *a;
    const uint32_t *uids;      /* wanted, ascending */
    uint32_t n;
    uint32_t next;             /* the UID the next batch starts at */
    bool more;                 /* the batch is full: stop after this message */
    bool flags_too;            /* \Seen was set as a side effect: send FLAGS */
    bool want_uid;
    bool want_modseq;          /* MODSEQ asked for, or implied (CHANGEDSINCE, CONDSTORE) */
    int error;
    bool unknown_cte;          /* BINARY of a part whose encoding we cannot undo */
    struct arena *scratch;     /* one message's file and structure, reset for each */
};

static bool wanted(const struct fetch_ctx *f, uint32_t uid)
{
    return imap_u32_find(f->uids, f->n, uid) != 0;
}

struct uid_list {
    uint32_t *v;
    uint32_t n, cap;
};

static void uid_push(void *ctx, uint32_t uid)
{
    struct uid_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = uid;
}

/* The whole message file (the store never changes it). */
static int read_file(struct fetch_ctx *f, const struct store_message *m, struct str *out)
{
    struct imap_job *j = f->j;
    char *err = NULL;
    int fd = store_message_open(j->ss->acct, m->file, &err);
    if (fd < 0) {
        log_error("imap", "store-failed", "session=%s error=%s", j->ss->id,
                  log_q(err ? err : "?"));
        free(err);
        return -1;
    }
    char *p = arena_alloc(f->scratch, m->size + 1);
    size_t got = 0;
    while (got < m->size) {
        ssize_t r = read(fd, p + got, m->size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != m->size)
        return -1;
    p[got] = '\0';
    *out = (struct str){ p, got };
    return 0;
}

static struct str range(struct str msg, size_t off, size_t len)
{
    if (off > msg.len)
        return (struct str){ msg.p + msg.len, 0 };
    if (len > msg.len - off)
        len = msg.len - off;
    return (struct str){ msg.p + off, len };
}

/* HEADER.FIELDS (names) / HEADER.FIELDS.NOT: the fields kept, then the
 * blank line. */
static struct str header_fields(struct arena *a, struct str header,
                                const struct imap_fetch_att *att)
{
    struct buf b;
    buf_init(&b, 0);
    struct mime_header_iter it;
    struct mime_field f;
    mime_header_iter_init(&it, header);
    bool not = att->text == IMAP_SECTION_HEADER_FIELDS_NOT;
    while (mime_header_next(&it, &f)) {
        bool listed = false;
        for (uint32_t i = 0; i < att->fields.n && !listed; i++)
            listed = str_eq_nocase(f.name, att->fields.v[i]);
        if (listed != not) {
            buf_append_str(&b, f.raw);
            buf_append_cstr(&b, "\r\n");
        }
    }
    buf_append_cstr(&b, "\r\n");
    struct str out = arena_str(a, buf_str(&b));
    buf_free(&b);
    return out;
}

/* The bytes a BODY[section] names. */
static struct str section_bytes(struct arena *a, struct str msg, const struct mime_part *root,
                                const struct imap_fetch_att *att)
{
    const struct mime_part *p = root;
    if (att->n_parts) {
        p = mime_part_find(root, att->parts, att->n_parts);
        if (!p)
            return (struct str){ "", 0 };
    }
    if (att->text == IMAP_SECTION_NONE) {
        if (!att->n_parts)
            return msg;
        return range(msg, p->body_offset, p->body_len);
    }
    if (att->text == IMAP_SECTION_MIME)
        return range(msg, p->header_offset, p->header_len);
    /* HEADER, TEXT, HEADER.FIELDS: of the message, or of the message
     * inside a message/rfc822 part. */
    if (att->n_parts) {
        if (p->kind != MIME_KIND_MESSAGE || !p->children)
            return (struct str){ "", 0 };
        p = p->children;
    }
    struct str header = range(msg, p->header_offset, p->header_len);
    if (att->text == IMAP_SECTION_TEXT)
        return range(msg, p->body_offset, p->body_len);
    if (att->text == IMAP_SECTION_HEADER)
        return header;
    return header_fields(a, header, att);
}

/* The section as the answer names it. Sent as the client wrote it, unless
 * it holds header names, which may have come as literals: then rebuilt. */
static void write_section(struct buf *o, const struct imap_fetch_att *att)
{
    if (att->text != IMAP_SECTION_HEADER_FIELDS && att->text != IMAP_SECTION_HEADER_FIELDS_NOT) {
        buf_append(o, att->section.p, att->section.len);
        return;
    }
    for (uint32_t i = 0; i < att->n_parts; i++)
        buf_printf(o, "%u.", att->parts[i]);
    buf_append_cstr(o, att->text == IMAP_SECTION_HEADER_FIELDS ? "HEADER.FIELDS ("
                                                               : "HEADER.FIELDS.NOT (");
    for (uint32_t i = 0; i < att->fields.n; i++) {
        if (i)
            buf_append_char(o, ' ');
        imap_write_string(o, att->fields.v[i], false);
    }
    buf_append_char(o, ')');
}

/* The message's MIME structure, once per message. */
static struct mime_part *structure(struct fetch_ctx *f, const struct store_message *m,
                                   struct mime_part **root)
{
    if (!*root) {
        char *err = NULL;
        *root = store_message_structure(f->j->ss->acct, f->scratch, m->file, &err);
        free(err);
    }
    return *root;
}

/* The <offset.count> range of section data. */
static struct str partial(struct str data, const struct imap_fetch_att *att)
{
    return range(data, att->offset > data.len ? data.len : (size_t)att->offset,
                 att->count > SIZE_MAX ? SIZE_MAX : (size_t)att->count);
}

/* BINARY[section]<partial> and BINARY.SIZE[section] (RFC 3516): 1 when
 * the part's encoding cannot be undone. */
static int fetch_binary(struct fetch_ctx *f, struct buf *o, struct str msg,
                        const struct mime_part *root, const struct imap_fetch_att *att)
{
    struct buf dec;
    buf_init(&dec, 0);
    struct str data;
    if (imap_binary_section(msg, root, att->parts, att->n_parts, &dec, &data) ==
        IMAP_BINARY_UNKNOWN_CTE) {
        buf_free(&dec);
        return 1;
    }
    if (att->kind == IMAP_FETCH_BINARY_SIZE) {
        buf_printf(o, "BINARY.SIZE[%.*s] %zu", (int)att->section.len, att->section.p, data.len);
    } else {
        buf_printf(o, "BINARY[%.*s]", (int)att->section.len, att->section.p);
        if (att->partial) {
            buf_printf(o, "<%llu>", (unsigned long long)att->offset);
            data = partial(data, att);
        }
        buf_append_char(o, ' ');
        /* literal8 only when the bytes need it: a client that asked for
         * BINARY knows both, and a plain literal suits every parser. */
        if (data.len && memchr(data.p, '\0', data.len))
            imap_write_literal8(o, data);
        else
            imap_write_literal(o, data);
    }
    buf_free(&dec);
    return 0;
}

static int fetch_one(void *ctx, const struct store_message *m)
{
    struct fetch_ctx *f = ctx;
    struct imap_job *j = f->j;
    if (!wanted(f, m->uid))
        return 0;
    uint32_t msn = imap_view_msn(&j->ss->view, m->uid);
    if (!msn)
        return 0;
    arena_reset(f->scratch); /* the previous message's file and tree */
    struct buf *o = &j->out;
    size_t line_start = o->len;
    buf_printf(o, "* %u FETCH (", msn);
    bool sp = false;
#define SEP() do { if (sp) buf_append_char(o, ' '); sp = true; } while (0)
    if (f->want_uid) {
        SEP();
        buf_printf(o, "UID %u", m->uid);
    }
    if (f->want_modseq) {
        SEP();
        buf_printf(o, "MODSEQ (%llu)", (unsigned long long)m->modseq);
    }
    struct str msg = STR_NULL;
    struct mime_part *root = NULL;
    bool flags_sent = false;
    for (uint32_t i = 0; i < f->a->n; i++) {
        const struct imap_fetch_att *att = &f->a->atts[i];
        switch (att->kind) {
        case IMAP_FETCH_UID:
            break; /* always first, above */
        case IMAP_FETCH_FLAGS:
            SEP();
            buf_append_cstr(o, "FLAGS ");
            imap_write_message_flags(f->j, o, m);
            flags_sent = true;
            break;
        case IMAP_FETCH_INTERNALDATE:
            SEP();
            buf_append_cstr(o, "INTERNALDATE ");
            imap_write_internaldate(o, m->internal_date, 0);
            break;
        case IMAP_FETCH_RFC822_SIZE:
            SEP();
            buf_printf(o, "RFC822.SIZE %llu", (unsigned long long)m->size);
            break;
        case IMAP_FETCH_MODSEQ:
            break; /* with UID, above */
        case IMAP_FETCH_ENVELOPE:
        case IMAP_FETCH_BODY:
        case IMAP_FETCH_BODYSTRUCTURE:
            if (!structure(f, m, &root))
                goto unreadable;
            SEP();
            if (att->kind == IMAP_FETCH_ENVELOPE) {
                buf_append_cstr(o, "ENVELOPE ");
                imap_write_envelope(o, root->envelope, j->utf8);
            } else if (att->kind == IMAP_FETCH_BODY) {
                buf_append_cstr(o, "BODY ");
                imap_write_body(o, root, j->utf8);
            } else {
                buf_append_cstr(o, "BODYSTRUCTURE ");
                imap_write_bodystructure(o, root, j->utf8);
            }
            break;
        case IMAP_FETCH_RFC822:
        case IMAP_FETCH_RFC822_HEADER:
        case IMAP_FETCH_RFC822_TEXT:
        case IMAP_FETCH_BODY_SECTION: {
            if (!msg.p && read_file(f, m, &msg) < 0)
                goto unreadable;
            bool need_tree = att->kind != IMAP_FETCH_RFC822 &&
                             !(att->kind == IMAP_FETCH_BODY_SECTION && !att->n_parts &&
                               att->text == IMAP_SECTION_NONE);
            if (need_tree && !structure(f, m, &root))
                goto unreadable;
            struct str data;
            SEP();
            if (att->kind == IMAP_FETCH_RFC822) {
                data = msg;
                buf_append_cstr(o, "RFC822 ");
            } else if (att->kind == IMAP_FETCH_RFC822_HEADER) {
                data = range(msg, root->header_offset, root->header_len);
                buf_append_cstr(o, "RFC822.HEADER ");
            } else if (att->kind == IMAP_FETCH_RFC822_TEXT) {
                data = range(msg, root->body_offset, root->body_len);
                buf_append_cstr(o, "RFC822.TEXT ");
            } else {
                data = section_bytes(f->scratch, msg, root, att);
                buf_append_cstr(o, "BODY[");
                write_section(o, att);
                buf_append_char(o, ']');
                if (att->partial) {
                    buf_printf(o, "<%llu>", (unsigned long long)att->offset);
                    data = partial(data, att);
                }
                buf_append_char(o, ' ');
            }
            imap_write_literal(o, data);
            break;
        }
        case IMAP_FETCH_BINARY:
        case IMAP_FETCH_BINARY_SIZE:
            if (!msg.p && read_file(f, m, &msg) < 0)
                goto unreadable;
            if (att->n_parts && !structure(f, m, &root))
                goto unreadable;
            SEP();
            if (fetch_binary(f, o, msg, root, att)) {
                /* RFC 3516 §4.2: the command fails with NO [UNKNOWN-CTE];
                 * the other messages still go out. */
                o->len = line_start;
                f->unknown_cte = true;
                goto next;
            }
            break;
        }
    }
    if (f->flags_too && !flags_sent) {
        SEP();
        buf_append_cstr(o, "FLAGS ");
        imap_write_message_flags(f->j, o, m);
    }
#undef SEP
    buf_append_cstr(o, ")\r\n");
    goto next;
unreadable:
    /* No half line on the wire: this message is left out, the others go
     * on, and the command ends NO. */
    o->len = line_start;
    f->error = 1;
next:
    /* A full batch ends here; the next one starts after this message. */
    if (o->len >= IMAP_BATCH_BYTES && m->uid < f->uids[f->n - 1]) {
        f->next = m->uid + 1;
        f->more = true;
        return 1;
    }
    return 0;
}

/* UID FETCH ... (CHANGEDSINCE n VANISHED): the UIDs of the set expunged
 * since n, before the FETCH responses (RFC 7162 §3.2.6). "*" counts as
 * past every UID ever given, so "1:*" also covers expunged messages above
 * the highest one left. */
static int fetch_vanished(struct imap_job *j, const struct imap_fetch_args *a)
{
    struct uid_list l = { 0 };
    char *err = NULL;
    int r = store_message_vanished(j->ss->acct, j->ss->view.mailbox, a->changedsince, uid_push,
                                   &l, &err);
    if (r == STORE_OK) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < l.n; i++)
            if (imap_seq_set_contains(&a->set, l.v[i], UINT32_MAX))
                l.v[w++] = l.v[i];
        imap_write_vanished(j, true, l.v, w);
    } else {
        imap_job_store_error(j, r, err);
    }
    free(err);
    free(l.v);
    return r == STORE_OK ? 0 : -1;
}

/* One batch: the wanted messages from f->next on, until the output is
 * IMAP_BATCH_BYTES or more; then the job parks and comes back here. */
static void fetch_batch(struct imap_job *j)
{
    struct fetch_ctx *f = j->resume_ctx;
    const struct imap_fetch_args *a = f->a;
    f->more = false;
    char *err = NULL;
    /* CHANGEDSINCE: only what changed after it (RFC 7162 §3.1.4.1); \Seen
     * set just now is such a change. */
    int r = store_message_list(j->ss->acct, j->ss->view.mailbox, f->next, f->uids[f->n - 1],
                               a->has_changedsince ? a->changedsince : 0, fetch_one, f, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
    } else if (f->more) {
        j->resume = fetch_batch;
    } else if (f->error) {
        imap_job_result(j, "NO", "SERVERBUG", "Some messages could not be read; the others were sent");
    } else if (f->unknown_cte) {
        imap_job_result(j, "NO", "UNKNOWN-CTE",
                        "A part's Content-Transfer-Encoding cannot be decoded");
    }
}

void imap_cmd_fetch(struct imap_job *j)
{
    const struct imap_fetch_args *a = &j->cmd->u.fetch;
    struct imap_view *v = &j->ss->view;
    if (a->vanished && !(j->enabled & IMAP_ENABLED_QRESYNC)) {
        imap_job_result(j, "BAD", NULL, "VANISHED needs ENABLE QRESYNC first");
        return;
    }
    bool mark_seen = false;
    struct fetch_ctx *f = arena_zalloc(j->arena, sizeof(*f));
    f->j = j;
    f->a = a;
    f->want_uid = j->cmd->uid;
    f->want_modseq = a->has_changedsince;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct imap_fetch_att *att = &a->atts[i];
        if (((att->kind == IMAP_FETCH_BODY_SECTION || att->kind == IMAP_FETCH_BINARY) &&
             !att->peek) ||
            att->kind == IMAP_FETCH_RFC822 || att->kind == IMAP_FETCH_RFC822_TEXT)
            mark_seen = true;
        if (att->kind == IMAP_FETCH_UID)
            f->want_uid = true;
        if (att->kind == IMAP_FETCH_MODSEQ)
            f->want_modseq = true;
    }
    if (f->want_modseq)
        j->enabled |= IMAP_ENABLED_CONDSTORE; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
    /* A FETCH that sets \Seen changes flags: once CONDSTORE is on, its
     * answers carry UID and MODSEQ like every other flag change. */
    if (mark_seen && !v->readonly && (j->enabled & IMAP_ENABLED_CONDSTORE))
        f->want_uid = f->want_modseq = true;
    /* New mail first (a UID FETCH 1:* must see it); a non-UID FETCH must
     * not renumber, so its expunges wait. Only here: later batches apply
     * nothing, so the numbers hold until the command ends. */
    imap_apply_updates(j, j->cmd->uid);
    if (a->vanished && fetch_vanished(j, a) < 0)
        return;
    f->uids = imap_view_resolve(j, &a->set, j->cmd->uid, &f->n);
    if (f->n == 0)
        return;
    char *err = NULL;
    if (mark_seen && !v->readonly) {
        int r = store_message_set_flags(j->ss->acct, v->mailbox, f->uids, f->n, STORE_FLAGS_ADD,
                                        STORE_FLAG_SEEN, NULL, 0, NULL, NULL, &err);
        free(err);
        f->flags_too = r == STORE_OK;
    }
    f->next = f->uids[0];
    f->scratch = arena_new_child(j->arena, 0);
    j->resume_ctx = f;
    fetch_batch(j);
}

/* ---- STORE ---- */

struct store_ctx {
    struct imap_job *j;
    const uint32_t *uids;      /* the set, ascending */
    uint32_t n;
    const uint32_t *failed;    /* UNCHANGEDSINCE left these alone, ascending */
    uint32_t nfailed;
    bool want_uid, want_flags, want_modseq;
};

static int store_reply(void *ctx, const struct store_message *m)
{
    struct store_ctx *s = ctx;
    if (!imap_u32_find(s->uids, s->n, m->uid) || imap_u32_find(s->failed, s->nfailed, m->uid))
        return 0;
    uint32_t msn = imap_view_msn(&s->j->ss->view, m->uid);
    if (!msn)
        return 0;
    struct buf *o = &s->j->out;
    buf_printf(o, "* %u FETCH (", msn);
    const char *sep = "";
    if (s->want_uid) {
        buf_printf(o, "UID %u", m->uid);
        sep = " ";
    }
    if (s->want_flags) {
        buf_printf(o, "%sFLAGS ", sep);
        imap_write_message_flags(s->j, o, m);
        sep = " ";
    }
    if (s->want_modseq)
        buf_printf(o, "%sMODSEQ (%llu)", sep, (unsigned long long)m->modseq);
    buf_append_cstr(o, ")\r\n");
    return 0;
}

void imap_cmd_store(struct imap_job *j)
{
    const struct imap_store_args *a = &j->cmd->u.store;
    struct imap_view *v = &j->ss->view;
    if (v->readonly) {
        imap_job_result(j, "NO", "READ-ONLY", "The mailbox is read-only");
        return;
    }
    unsigned flags;
    struct buf kw;
    buf_init(&kw, 0);
    if (imap_flags_parse(&a->flags, &flags, &kw)) {
        buf_free(&kw);
        imap_job_result(j, "BAD", NULL, "Unknown system flag");
        return;
    }
    if (a->has_unchangedsince)
        j->enabled |= IMAP_ENABLED_CONDSTORE; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
    bool condstore = j->enabled & IMAP_ENABLED_CONDSTORE;
    imap_apply_updates(j, j->cmd->uid);
    uint32_t n;
    uint32_t *uids = imap_view_resolve(j, &a->set, j->cmd->uid, &n);
    if (n == 0) {
        buf_free(&kw);
        return;
    }
    enum store_flag_op op = a->op == IMAP_STORE_ADD      ? STORE_FLAGS_ADD
                            : a->op == IMAP_STORE_REMOVE ? STORE_FLAGS_REMOVE
                                                         : STORE_FLAGS_SET;
    struct uid_list failed = { 0 };
    char *err = NULL;
    int r = STORE_OK;
    if (a->has_unchangedsince && a->unchangedsince == 0) {
        /* Every message has a MODSEQ above 0, so UNCHANGEDSINCE 0 fails
         * for all of them (RFC 7162 §3.1.3); the store takes 0 as "no
         * condition". */
        for (uint32_t i = 0; i < n; i++)
            uid_push(&failed, uids[i]);
    } else {
        r = store_message_set_flags(j->ss->acct, v->mailbox, uids, n, op, flags,
                                    kw.len ? buf_cstr(&kw) : (op == STORE_FLAGS_SET ? "" : NULL),
                                    a->has_unchangedsince ? a->unchangedsince : 0, uid_push,
                                    &failed, &err);
    }
    buf_free(&kw);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        free(failed.v);
        return;
    }
    /* .SILENT drops FLAGS, but once CONDSTORE is on the client still
     * learns each new MODSEQ (RFC 7162 §3.1.3). Messages UNCHANGEDSINCE
     * left alone get no FETCH: MODIFIED names them. */
    struct store_ctx s = { j, uids, n, failed.v, failed.n, j->cmd->uid || condstore, !a->silent,
                           condstore };
    if ((s.want_flags || s.want_modseq) && failed.n < n) {
        store_message_list(j->ss->acct, v->mailbox, uids[0], uids[n - 1], 0, store_reply, &s, &err);
        free(err);
    }
    if (failed.n) {
        /* MSNs for STORE, UIDs for UID STORE; both ascending. */
        if (!j->cmd->uid)
            for (uint32_t i = 0; i < failed.n; i++)
                failed.v[i] = imap_view_msn(v, failed.v[i]);
        struct buf code;
        buf_init(&code, 0);
        buf_append_cstr(&code, "MODIFIED ");
        imap_write_set(&code, failed.v, failed.n);
        imap_job_result(j, "OK", buf_cstr(&code), "Conditional STORE failed");
        buf_free(&code);
    }
    free(failed.v);
}
