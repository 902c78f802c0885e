/* FETCH and STORE, run in session jobs (see internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "imap/encode.h"
#include "imap/internal.h"
#include "mime/mime.h"

struct fetch_ctx {
    struct imap_job *j;
    const struct imap_fetch_args *a;
    const uint32_t *uids;      /* wanted, ascending */
    uint32_t n;
    bool flags_too;            /* \Seen was set as a side effect: send FLAGS */
    bool want_uid;
    int error;
};

static bool wanted(const struct fetch_ctx *f, uint32_t uid)
{
    uint32_t lo = 0, hi = f->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f->uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->uids[lo] == uid;
}

/* The whole message file (the store never changes it). */
static int read_file(struct imap_job *j, const struct store_message *m, struct str *out)
{
    char *err = NULL;
    int fd = store_message_open(j->ss->acct, m->file, &err);
    if (fd < 0) {
        log_error("imap", "store-failed", "session=%s error=%s", j->ss->id,
                  log_q(err ? err : "?"));
        free(err);
        return -1;
    }
    char *p = arena_alloc(j->arena, m->size + 1);
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
static struct str header_fields(struct imap_job *j, struct str header,
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
    struct str out = arena_str(j->arena, buf_str(&b));
    buf_free(&b);
    return out;
}

/* The bytes a BODY[section] names. */
static struct str section_bytes(struct imap_job *j, struct str msg, const struct mime_part *root,
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
    return header_fields(j, header, att);
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

static int fetch_one(void *ctx, const struct store_message *m)
{
    struct fetch_ctx *f = ctx;
    struct imap_job *j = f->j;
    if (!wanted(f, m->uid))
        return 0;
    uint32_t msn = imap_view_msn(&j->ss->view, m->uid);
    if (!msn)
        return 0;
    struct buf *o = &j->out;
    size_t line_start = o->len;
    buf_printf(o, "* %u FETCH (", msn);
    bool sp = false;
#define SEP() do { if (sp) buf_append_char(o, ' '); sp = true; } while (0)
    if (f->want_uid) {
        SEP();
        buf_printf(o, "UID %u", m->uid);
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
            imap_write_flags(o, m->flags, m->keywords);
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
            SEP();
            buf_printf(o, "MODSEQ (%llu)", (unsigned long long)m->modseq);
            break;
        case IMAP_FETCH_ENVELOPE:
        case IMAP_FETCH_BODY:
        case IMAP_FETCH_BODYSTRUCTURE:
            if (!root) {
                char *err = NULL;
                root = store_message_structure(j->ss->acct, j->arena, m->file, &err);
                free(err);
                if (!root)
                    goto unreadable;
            }
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
            if (!msg.p && read_file(j, m, &msg) < 0)
                goto unreadable;
            bool need_tree = att->kind != IMAP_FETCH_RFC822 &&
                             !(att->kind == IMAP_FETCH_BODY_SECTION && !att->n_parts &&
                               att->text == IMAP_SECTION_NONE);
            if (need_tree && !root) {
                char *err = NULL;
                root = store_message_structure(j->ss->acct, j->arena, m->file, &err);
                free(err);
                if (!root)
                    goto unreadable;
            }
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
                data = section_bytes(j, msg, root, att);
                buf_append_cstr(o, "BODY[");
                write_section(o, att);
                buf_append_char(o, ']');
                if (att->partial) {
                    buf_printf(o, "<%llu>", (unsigned long long)att->offset);
                    data = range(data, att->offset > data.len ? data.len : (size_t)att->offset,
                                 att->count > SIZE_MAX ? SIZE_MAX : (size_t)att->count);
                }
                buf_append_char(o, ' ');
            }
            imap_write_literal(o, data);
            break;
        }
        case IMAP_FETCH_BINARY:
        case IMAP_FETCH_BINARY_SIZE:
            break; /* refused before the loop */
        }
    }
    if (f->flags_too && !flags_sent) {
        SEP();
        buf_append_cstr(o, "FLAGS ");
        imap_write_flags(o, m->flags, m->keywords);
    }
#undef SEP
    buf_append_cstr(o, ")\r\n");
    return 0;
unreadable:
    /* No half line on the wire: this message is left out, the others go
     * on, and the command ends NO. */
    o->len = line_start;
    f->error = 1;
    return 0;
}

void imap_cmd_fetch(struct imap_job *j)
{
    const struct imap_fetch_args *a = &j->cmd->u.fetch;
    struct imap_view *v = &j->ss->view;
    bool mark_seen = false;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct imap_fetch_att *att = &a->atts[i];
        if (att->kind == IMAP_FETCH_BINARY || att->kind == IMAP_FETCH_BINARY_SIZE ||
            a->has_changedsince) {
            imap_job_result(j, "BAD", NULL, "Not supported");
            return;
        }
        if ((att->kind == IMAP_FETCH_BODY_SECTION && !att->peek) ||
            att->kind == IMAP_FETCH_RFC822 || att->kind == IMAP_FETCH_RFC822_TEXT)
            mark_seen = true;
    }
    struct fetch_ctx f = { .j = j, .a = a, .want_uid = j->cmd->uid };
    for (uint32_t i = 0; i < a->n; i++)
        if (a->atts[i].kind == IMAP_FETCH_UID)
            f.want_uid = true;
    /* New mail first (a UID FETCH 1:* must see it); a non-UID FETCH must
     * not renumber, so its expunges wait. */
    imap_apply_updates(j, j->cmd->uid);
    f.uids = imap_view_resolve(j, &a->set, j->cmd->uid, &f.n);
    if (f.n == 0)
        return;
    char *err = NULL;
    if (mark_seen && !v->readonly) {
        int r = store_message_set_flags(j->ss->acct, v->mailbox, f.uids, f.n, STORE_FLAGS_ADD,
                                        STORE_FLAG_SEEN, NULL, 0, NULL, NULL, &err);
        free(err);
        err = NULL;
        f.flags_too = r == STORE_OK;
    }
    int r = store_message_list(j->ss->acct, v->mailbox, f.uids[0], f.uids[f.n - 1], 0, fetch_one,
                               &f, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
    } else if (f.error) {
        imap_job_result(j, "NO", "SERVERBUG", "Some messages could not be read; the others were sent");
    }
}

/* ---- STORE ---- */

struct store_ctx {
    struct imap_job *j;
    const uint32_t *uids;
    uint32_t n;
    bool uid;
};

static int store_reply(void *ctx, const struct store_message *m)
{
    struct store_ctx *s = ctx;
    struct fetch_ctx f = { .uids = s->uids, .n = s->n };
    if (!wanted(&f, m->uid))
        return 0;
    uint32_t msn = imap_view_msn(&s->j->ss->view, m->uid);
    if (!msn)
        return 0;
    buf_printf(&s->j->out, "* %u FETCH (", msn);
    if (s->uid)
        buf_printf(&s->j->out, "UID %u ", m->uid);
    buf_append_cstr(&s->j->out, "FLAGS ");
    imap_write_flags(&s->j->out, m->flags, m->keywords);
    buf_append_cstr(&s->j->out, ")\r\n");
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
    if (a->has_unchangedsince) {
        imap_job_result(j, "BAD", NULL, "Not supported");
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
    char *err = NULL;
    int r = store_message_set_flags(j->ss->acct, v->mailbox, uids, n, op, flags,
                                    kw.len ? buf_cstr(&kw) : (op == STORE_FLAGS_SET ? "" : NULL), 0,
                                    NULL, NULL, &err);
    buf_free(&kw);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    if (!a->silent) {
        struct store_ctx s = { j, uids, n, j->cmd->uid };
        store_message_list(j->ss->acct, v->mailbox, uids[0], uids[n - 1], 0, store_reply, &s, &err);
        free(err);
    }
}
