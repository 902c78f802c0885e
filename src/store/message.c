/* Messages of an account's mailboxes (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/str.h"
#include "store/db.h"
#include "store/fs.h"

#define FILE_NAME_LEN 32 /* hex of 128 random bits */

/* The error code of a need_mailbox failure. */
static int mailbox_error(int64_t id)
{
    return (int)id;
}

/* Keywords as stored: IMAP atoms without '\', deduplicated case-insensitively,
 * space-separated. NULL with *why set when one is not acceptable. */
static char *normalize_keywords(struct arena *a, const char *in, const char **why)
{
    struct buf out;
    buf_init(&out, 0);
    int n = 0;
    const char *p = in ? in : "";
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (!len)
            break;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c)) {
                *why = "a keyword is not an IMAP atom";
                buf_free(&out);
                return NULL;
            }
        }
        bool dup = false;
        const char *q = buf_cstr(&out);
        while (*q && !dup) {
            size_t l = strcspn(q, " ");
            if (l == len && !strncasecmp(q, p, len))
                dup = true;
            q += l;
            while (*q == ' ')
                q++;
        }
        if (!dup) {
            if (++n > STORE_KEYWORDS_MAX) {
                *why = "too many keywords on one message";
                buf_free(&out);
                return NULL;
            }
            if (out.len)
                buf_append_char(&out, ' ');
            buf_append(&out, p, len);
        }
        p += len;
    }
    char *r = arena_strdup(a, buf_cstr(&out));
    buf_free(&out);
    return r;
}

/* Adds or removes keywords of `change` in `have`. */
static char *apply_keywords(struct arena *a, const char *have, const char *change,
                            enum store_flag_op op, const char **why)
{
    if (op == STORE_FLAGS_SET)
        return normalize_keywords(a, change, why);
    if (op == STORE_FLAGS_ADD) {
        char *joined = xasprintf("%s %s", have, change);
        char *r = normalize_keywords(a, joined, why);
        free(joined);
        return r;
    }
    struct buf out;
    buf_init(&out, 0);
    const char *p = have;
    while (*p) {
        size_t len = strcspn(p, " ");
        bool drop = false;
        const char *q = change;
        while (*q && !drop) {
            while (*q == ' ')
                q++;
            size_t l = strcspn(q, " ");
            if (l && l == len && !strncasecmp(q, p, len))
                drop = true;
            q += l;
        }
        if (!drop && len) {
            if (out.len)
                buf_append_char(&out, ' ');
            buf_append(&out, p, len);
        }
        p += len;
        while (*p == ' ')
            p++;
    }
    char *r = arena_strdup(a, buf_cstr(&out));
    buf_free(&out);
    return r;
}

static int ensure_fanout_dir(const char *msg_dir, const char *name, char **dir_r,
                             char **error_r)
{
    *dir_r = xasprintf("%s/%.2s", msg_dir, name);
    if (store_fs->mkdir(*dir_r, 0700) == 0) {
        /* A new directory entry: make it durable before files go in. */
        if (store_fs_sync_dir(msg_dir) < 0) {
            *error_r = xasprintf("%s: %s", msg_dir, strerror(errno));
            return STORE_ERR_IO;
        }
    } else if (errno == EEXIST) {
        /* Another thread may have just made it and not yet synced its
         * entry: a young directory gets the sync again (cheap when done). */
        struct stat st;
        if (stat(*dir_r, &st) == 0 && time(NULL) - st.st_ctime < 60 &&
            store_fs_sync_dir(msg_dir) < 0) {
            *error_r = xasprintf("%s: %s", msg_dir, strerror(errno));
            return STORE_ERR_IO;
        }
    } else {
        *error_r = xasprintf("%s: %s", *dir_r, strerror(errno));
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int message_write_file(const char *msg_dir, const char *data, size_t len, char *name,
                       char **error_r)
{
    unsigned char rnd[FILE_NAME_LEN / 2];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(name, FILE_NAME_LEN + 1, rnd, sizeof(rnd));
    char *dir = NULL;
    int r = ensure_fanout_dir(msg_dir, name, &dir, error_r);
    /* The file is durable before any index entry points at it. */
    if (r == STORE_OK && store_fs_write_file(dir, name, data, len, 0640) < 0) {
        *error_r = xasprintf("cannot store the message: %s", strerror(errno));
        r = STORE_ERR_IO;
    }
    free(dir);
    return r;
}

void message_unlink_file(const char *msg_dir, const char *name)
{
    char *path = xasprintf("%s/%.2s/%s", msg_dir, name, name);
    store_fs->unlink(path);
    free(path);
}

int message_insert(struct store_acct *acct, int64_t mbox, const char *file, size_t size,
                   const struct message_index *idx, unsigned flags, const char *keywords,
                   int64_t internal_date, uint32_t *uid_r, uint64_t *modseq_r, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(
        acct, "INSERT INTO files (name, size, structure) VALUES (?, ?, ?) RETURNING id", error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)size);
    if (idx && idx->structure.len)
        sqlite3_bind_blob(st, 3, idx->structure.p, (int)idx->structure.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    int rc = sqlite3_step(st);
    int64_t file_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    acct_finish(acct, st);
    if (file_id < 0)
        goto db_fail;
    /* The full-text index comes later (store_acct_index_pending). */
    st = acct_prepare(acct, "INSERT INTO fts_pending (file_id) VALUES (?)", error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, file_id);
    rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE)
        goto db_fail;
    st = acct_prepare(acct,
                      "UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1",
                      error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, mbox);
    int64_t uid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    acct_finish(acct, st);
    if (uid < 1 || uid > 0xffffffffLL)
        goto db_fail;
    int64_t modseq = mailbox_next_modseq(acct, mbox, error_r);
    if (modseq < 0)
        return STORE_ERR_IO;
    st = acct_prepare(acct,
                      "INSERT INTO messages (mailbox_id, uid, file, flags, keywords, internal_date,"
                      " modseq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, mbox);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_text(st, 3, file, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)(flags & 0x1f));
    sqlite3_bind_text(st, 5, keywords, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, internal_date ? internal_date : (int64_t)time(NULL));
    sqlite3_bind_int64(st, 7, modseq);
    rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE)
        goto db_fail;
    *uid_r = (uint32_t)uid;
    *modseq_r = (uint64_t)modseq;
    return STORE_OK;
db_fail:
    *error_r = acct_error(acct, "storing the message");
    return STORE_ERR_IO;
}

int message_append_in_tx(struct store_acct *acct, struct arena *a,
                         const struct store_append_req *req, const char *file,
                         const struct message_index *idx, uint32_t *uid_r, uint64_t *modseq_r,
                         const char **canon_r, char **error_r)
{
    int64_t mbox = mailbox_need(acct, a, req->mailbox, canon_r, error_r);
    if (mbox < 0)
        return mailbox_error(mbox);
    const char *why;
    const char *keywords = normalize_keywords(a, req->keywords, &why);
    if (!keywords) {
        *error_r = xstrdup(why);
        return STORE_ERR_INVALID;
    }
    if (acct->quota) {
        sqlite3_stmt *st = acct_prepare(acct, "SELECT value FROM meta WHERE key = 'usage'",
                                        error_r);
        if (!st)
            return STORE_ERR_IO;
        int64_t used = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        acct_finish(acct, st);
        if ((unsigned long long)used + req->len > acct->quota) {
            *error_r = xasprintf("mailbox full: %lld of %llu bytes used, the message has %zu",
                                 (long long)used, acct->quota, req->len);
            return acct->store->quota_permanent ? STORE_ERR_QUOTA_PERM : STORE_ERR_QUOTA;
        }
    }
    return message_insert(acct, mbox, file, req->len, idx, req->flags, keywords,
                          req->internal_date, uid_r, modseq_r, error_r);
}

int store_message_append(struct store_acct *acct, const struct store_append_req *req,
                         uint32_t *uid_r, char **error_r)
{
    struct arena *a = arena_new(0);
    int r;
    char name[FILE_NAME_LEN + 1];
    const char *mname = NULL;
    /* Refuse early what the index would refuse, before writing a file. */
    int64_t mbox = mailbox_need(acct, a, req->mailbox, &mname, error_r);
    if (mbox < 0) {
        r = mailbox_error(mbox);
        goto out;
    }
    if ((r = message_write_file(acct->msg_dir, req->data, req->len, name, error_r)) != STORE_OK)
        goto out;
    struct message_index idx;
    message_index_build(req->data, req->len, &idx);
    uint32_t uid;
    uint64_t modseq;
    if ((r = acct_begin(acct, error_r)) == STORE_OK) {
        r = message_append_in_tx(acct, a, req, name, &idx, &uid, &modseq, &mname, error_r);
        /* synchronous=FULL: the index entry is on disk when COMMIT returns. */
        if (r == STORE_OK)
            r = acct_commit(acct, error_r);
        else
            acct_rollback(acct);
    }
    message_index_free(&idx);
    if (r != STORE_OK) {
        message_unlink_file(acct->msg_dir, name);
        goto out;
    }
    if (uid_r)
        *uid_r = uid;
    hub_publish(acct->store, acct->id, mname, STORE_EVENT_APPEND, uid, modseq, acct->origin);
out:
    arena_free(a);
    return r;
}

int store_message_append_many(struct store_acct *acct, const struct store_append_req *reqs,
                              size_t n, uint32_t *uids_r, char **error_r)
{
    struct arena *a = arena_new(0);
    char (*names)[FILE_NAME_LEN + 1] = xcalloc(n ? n : 1, sizeof(*names));
    struct message_index *idx = xcalloc(n ? n : 1, sizeof(*idx));
    uint64_t *modseqs = xcalloc(n ? n : 1, sizeof(*modseqs));
    const char **mnames = xcalloc(n ? n : 1, sizeof(*mnames));
    int r = STORE_OK;
    /* Refuse early what the index would refuse, before writing a file. */
    for (size_t i = 0; i < n && r == STORE_OK; i++) {
        int64_t mbox = mailbox_need(acct, a, reqs[i].mailbox, NULL, error_r);
        if (mbox < 0)
            r = mailbox_error(mbox);
    }
    size_t written = 0;
    while (r == STORE_OK && written < n) {
        const struct store_append_req *q = &reqs[written];
        r = message_write_file(acct->msg_dir, q->data, q->len, names[written], error_r);
        if (r == STORE_OK)
            message_index_build(q->data, q->len, &idx[written++]);
    }
    /* One transaction: the quota check of each sees the ones before it. */
    if (r == STORE_OK && (r = acct_begin(acct, error_r)) == STORE_OK) {
        for (size_t i = 0; i < n && r == STORE_OK; i++)
            r = message_append_in_tx(acct, a, &reqs[i], names[i], &idx[i], &uids_r[i],
                                     &modseqs[i], &mnames[i], error_r);
        if (r == STORE_OK)
            r = acct_commit(acct, error_r);
        else
            acct_rollback(acct);
    }
    for (size_t i = 0; i < written; i++) {
        message_index_free(&idx[i]);
        if (r != STORE_OK)
            message_unlink_file(acct->msg_dir, names[i]);
    }
    for (size_t i = 0; r == STORE_OK && i < n; i++)
        hub_publish(acct->store, acct->id, mnames[i], STORE_EVENT_APPEND, uids_r[i], modseqs[i],
                    acct->origin);
    free(names);
    free(idx);
    free(modseqs);
    free(mnames);
    arena_free(a);
    return r;
}

static void row_to_message(sqlite3_stmt *st, struct store_message *m)
{
    m->uid = (uint32_t)sqlite3_column_int64(st, 0);
    m->modseq = (uint64_t)sqlite3_column_int64(st, 1);
    m->flags = (unsigned)sqlite3_column_int(st, 2);
    m->keywords = (const char *)sqlite3_column_text(st, 3);
    m->internal_date = sqlite3_column_int64(st, 4);
    m->size = (uint64_t)sqlite3_column_int64(st, 5);
    m->file = (const char *)sqlite3_column_text(st, 6);
    m->wire_size = (uint64_t)sqlite3_column_int64(st, 7); /* NULL reads as 0 */
}

int store_message_list(struct store_acct *acct, const char *mailbox, uint32_t uid_min,
                       uint32_t uid_max, uint64_t changed_since,
                       int (*cb)(void *ctx, const struct store_message *m), void *ctx,
                       char **error_r)
{
    struct arena *a = arena_new(0);
    int r = STORE_OK;
    const char *mname;
    int64_t mbox = mailbox_need(acct, a, mailbox, &mname, error_r);
    if (mbox < 0) {
        r = mailbox_error(mbox);
        goto out;
    }
    sqlite3_stmt *st = acct_prepare(
        acct,
        "SELECT m.uid, m.modseq, m.flags, m.keywords, m.internal_date, f.size, m.file,"
        " f.wire_size"
        " FROM messages m JOIN files f ON f.name = m.file WHERE m.mailbox_id = ? AND"
        " m.uid BETWEEN ? AND ? AND m.modseq > ? ORDER BY m.uid",
        error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mbox);
    sqlite3_bind_int64(st, 2, uid_min);
    sqlite3_bind_int64(st, 3, uid_max);
    sqlite3_bind_int64(st, 4, (int64_t)changed_since);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_message m;
        row_to_message(st, &m);
        if (cb(ctx, &m))
            break;
    }
    acct_finish(acct, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "listing messages");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* Collects callbacks until the transaction commits, so nothing is reported
 * that a failed COMMIT would undo. */
struct uid_pairs {
    uint32_t *a, *b;
    size_t n, cap;
};

static void pairs_add(struct uid_pairs *p, uint32_t x, uint32_t y)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->a = xrealloc(p->a, p->cap * sizeof(uint32_t));
        p->b = xrealloc(p->b, p->cap * sizeof(uint32_t));
    }
    p->a[p->n] = x;
    p->b[p->n++] = y;
}

int store_message_set_flags(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                            size_t nuids, enum store_flag_op op, unsigned flags,
                            const char *keywords, uint64_t unchanged_since,
                            void (*failed)(void *ctx, uint32_t uid), void *ctx,
                            char **error_r)
{
    struct arena *a = arena_new(0);
    int r = STORE_OK;
    const char *why;
    flags &= 0x1f;
    const char *mname;
    int64_t mbox = mailbox_need(acct, a, mailbox, &mname, error_r);
    if (mbox < 0) {
        r = mailbox_error(mbox);
        goto out;
    }
    const char *change = normalize_keywords(a, keywords, &why);
    if (!change) {
        *error_r = xstrdup(why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    /* Each UID once: a repeat would be tested against the MODSEQ this very
     * call gave it. */
    uint32_t *sorted = xmalloc((nuids ? nuids : 1) * sizeof(*sorted));
    if (nuids)
        memcpy(sorted, uids, nuids * sizeof(*sorted));
    qsort(sorted, nuids, sizeof(*sorted), cmp_u32);
    size_t nu = 0;
    for (size_t i = 0; i < nuids; i++)
        if (!nu || sorted[i] != sorted[nu - 1])
            sorted[nu++] = sorted[i];
    uids = sorted;
    nuids = nu;
    if ((r = acct_begin(acct, error_r)) != STORE_OK) {
        free(sorted);
        goto out;
    }
    sqlite3_stmt *get = acct_prepare(
        acct, "SELECT flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid = ?",
        error_r);
    sqlite3_stmt *put = get ? acct_prepare(acct,
                                           "UPDATE messages SET flags = ?, keywords = ?, modseq = ?"
                                           " WHERE mailbox_id = ? AND uid = ?",
                                           error_r)
                            : NULL;
    int64_t modseq = 0; /* one new MODSEQ for everything this call changes */
    struct uid_pairs changed = { 0 };
    for (size_t i = 0; get && put && i < nuids && r == STORE_OK; i++) {
        sqlite3_reset(get);
        sqlite3_bind_int64(get, 1, mbox);
        sqlite3_bind_int64(get, 2, uids[i]);
        int rc = sqlite3_step(get);
        if (rc == SQLITE_DONE)
            continue; /* expunged meanwhile: nothing to change */
        if (rc != SQLITE_ROW) {
            *error_r = acct_error(acct, "reading flags");
            r = STORE_ERR_IO;
            break;
        }
        unsigned have = (unsigned)sqlite3_column_int(get, 0);
        char *have_kw = arena_strdup(a, (const char *)sqlite3_column_text(get, 1));
        uint64_t have_modseq = (uint64_t)sqlite3_column_int64(get, 2);
        if (unchanged_since && have_modseq > unchanged_since) {
            if (failed)
                failed(ctx, uids[i]);
            continue;
        }
        unsigned want = op == STORE_FLAGS_SET ? flags
                        : op == STORE_FLAGS_ADD ? (have | flags)
                                                : (have & ~flags);
        char *want_kw = apply_keywords(a, have_kw, change, op, &why);
        if (!want_kw) {
            *error_r = xstrdup(why);
            r = STORE_ERR_INVALID;
            break;
        }
        if (want == have && !strcmp(want_kw, have_kw))
            continue;
        if (!modseq && (modseq = mailbox_next_modseq(acct, mbox, error_r)) < 0) {
            r = STORE_ERR_IO;
            break;
        }
        sqlite3_reset(put);
        sqlite3_bind_int(put, 1, (int)want);
        sqlite3_bind_text(put, 2, want_kw, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(put, 3, modseq);
        sqlite3_bind_int64(put, 4, mbox);
        sqlite3_bind_int64(put, 5, uids[i]);
        if (sqlite3_step(put) != SQLITE_DONE) {
            *error_r = acct_error(acct, "writing flags");
            r = STORE_ERR_IO;
        } else {
            pairs_add(&changed, uids[i], 0);
        }
    }
    if (!get || !put)
        r = STORE_ERR_IO;
    acct_finish(acct, get);
    acct_finish(acct, put);
    if (r == STORE_OK)
        r = acct_commit(acct, error_r);
    else
        acct_rollback(acct);
    for (size_t i = 0; r == STORE_OK && i < changed.n; i++)
        hub_publish(acct->store, acct->id, mname, STORE_EVENT_FLAGS, changed.a[i],
                    (uint64_t)modseq, acct->origin);
    free(changed.a);
    free(changed.b);
    free(sorted);
out:
    arena_free(a);
    return r;
}


/* Removes messages (with \Deleted only, unless `any`), recording them as
 * vanished; inside the caller's transaction. */
static int remove_messages(struct store_acct *acct, int64_t mbox, const uint32_t *uids,
                           size_t nuids, bool any, void (*expunged)(void *ctx, uint32_t uid),
                           void *ctx, int64_t *modseq_r, char **error_r)
{
    sqlite3_stmt *sel = acct_prepare(
        acct,
        uids ? "SELECT uid FROM messages WHERE mailbox_id = ?1 AND uid = ?2 AND (?3 OR flags & 8)"
             : "SELECT uid FROM messages WHERE mailbox_id = ?1 AND (?3 OR flags & 8) ORDER BY uid",
        error_r);
    sqlite3_stmt *del = sel ? acct_prepare(acct,
                                           "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?",
                                           error_r)
                            : NULL;
    sqlite3_stmt *van = del ? acct_prepare(acct,
                                           "INSERT OR REPLACE INTO vanished (mailbox_id, uid, modseq)"
                                           " VALUES (?, ?, ?)",
                                           error_r)
                            : NULL;
    int r = van ? STORE_OK : STORE_ERR_IO;
    int64_t modseq = 0;
    uint32_t *found = NULL;
    size_t nfound = 0, cap = 0;
    /* Collect first, then delete: no writes while a SELECT walks the table. */
    for (size_t i = 0; r == STORE_OK && i < (uids ? nuids : 1); i++) {
        sqlite3_reset(sel);
        sqlite3_bind_int64(sel, 1, mbox);
        if (uids)
            sqlite3_bind_int64(sel, 2, uids[i]);
        sqlite3_bind_int(sel, 3, any);
        int rc;
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
            if (nfound == cap) {
                cap = cap ? cap * 2 : 64;
                found = xrealloc(found, cap * sizeof(*found));
            }
            found[nfound++] = (uint32_t)sqlite3_column_int64(sel, 0);
        }
        if (rc != SQLITE_DONE) {
            *error_r = acct_error(acct, "finding messages to expunge");
            r = STORE_ERR_IO;
        }
    }
    if (nfound)
        qsort(found, nfound, sizeof(*found), cmp_u32);
    for (size_t i = 0; r == STORE_OK && i < nfound; i++) {
        if (i && found[i] == found[i - 1])
            continue;
        if (!modseq && (modseq = mailbox_next_modseq(acct, mbox, error_r)) < 0) {
            r = STORE_ERR_IO;
            break;
        }
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, mbox);
        sqlite3_bind_int64(del, 2, found[i]);
        sqlite3_reset(van);
        sqlite3_bind_int64(van, 1, mbox);
        sqlite3_bind_int64(van, 2, found[i]);
        sqlite3_bind_int64(van, 3, modseq);
        if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(van) != SQLITE_DONE) {
            *error_r = acct_error(acct, "expunging");
            r = STORE_ERR_IO;
        }
    }
    /* The caller reports these to its client only after COMMIT. */
    if (r == STORE_OK && expunged)
        for (size_t i = 0; i < nfound; i++)
            if (!i || found[i] != found[i - 1])
                expunged(ctx, found[i]);
    free(found);
    if (modseq_r)
        *modseq_r = modseq;
    acct_finish(acct, sel);
    acct_finish(acct, del);
    acct_finish(acct, van);
    return r;
}

static void collect_one(void *ctx, uint32_t uid)
{
    pairs_add(ctx, uid, 0);
}

static int expunge(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                   size_t nuids, bool any, void (*expunged)(void *ctx, uint32_t uid), void *ctx,
                   char **error_r)
{
    struct arena *a = arena_new(0);
    struct uid_pairs done = { 0 };
    int r = STORE_OK;
    const char *mname;
    int64_t mbox = mailbox_need(acct, a, mailbox, &mname, error_r);
    if (mbox < 0) {
        r = mailbox_error(mbox);
        goto out;
    }
    if ((r = acct_begin(acct, error_r)) != STORE_OK)
        goto out;
    int64_t modseq = 0;
    r = remove_messages(acct, mbox, uids, nuids, any, collect_one, &done, &modseq, error_r);
    if (r == STORE_OK)
        r = acct_commit(acct, error_r);
    else
        acct_rollback(acct);
    if (r == STORE_OK) {
        for (size_t i = 0; i < done.n; i++) {
            if (expunged)
                expunged(ctx, done.a[i]);
            hub_publish(acct->store, acct->id, mname, STORE_EVENT_EXPUNGE, done.a[i],
                        (uint64_t)modseq, acct->origin);
        }
        acct_collect_files(acct);
    }
out:
    free(done.a);
    free(done.b);
    arena_free(a);
    return r;
}

int store_message_expunge(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                          size_t nuids, void (*expunged)(void *ctx, uint32_t uid), void *ctx,
                          char **error_r)
{
    return expunge(acct, mailbox, uids, nuids, false, expunged, ctx, error_r);
}

int store_message_set_wire_sizes(struct store_acct *acct, const char *const *files,
                                 const uint64_t *sizes, size_t n, char **error_r)
{
    if (n == 0)
        return STORE_OK;
    acct_set_fsync(acct, false);
    int r = acct_begin(acct, error_r);
    sqlite3_stmt *st = r == STORE_OK
                           ? acct_prepare(acct, "UPDATE files SET wire_size = ? WHERE name = ?",
                                          error_r)
                           : NULL;
    if (r == STORE_OK && !st)
        r = STORE_ERR_IO;
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (int64_t)sizes[i]);
        sqlite3_bind_text(st, 2, files[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            *error_r = acct_error(acct, "recording wire sizes");
            r = STORE_ERR_IO;
        }
    }
    acct_finish(acct, st);
    if (r == STORE_OK)
        r = acct_commit(acct, error_r);
    else
        acct_rollback(acct);
    acct_set_fsync(acct, true);
    return r;
}

int store_message_delete(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                         size_t nuids, void (*deleted)(void *ctx, uint32_t uid), void *ctx,
                         char **error_r)
{
    if (!uids || !nuids)
        return STORE_OK; /* never "everything": that is what NULL means to expunge */
    return expunge(acct, mailbox, uids, nuids, true, deleted, ctx, error_r);
}

int store_message_copy(struct store_acct *acct, const char *from, const uint32_t *uids,
                       size_t nuids, const char *to, bool move,
                       void (*copied)(void *ctx, uint32_t old_uid, uint32_t new_uid), void *ctx,
                       char **error_r)
{
    struct arena *a = arena_new(0);
    struct uid_pairs done = { 0 };
    uint32_t *sorted = NULL;
    int r = STORE_OK;
    const char *src_name = NULL, *dst_name = NULL;
    int64_t src = mailbox_need(acct, a, from, &src_name, error_r);
    int64_t dst = src > 0 ? mailbox_need(acct, a, to, &dst_name, error_r) : 0;
    if (src < 0 || dst < 0) {
        r = mailbox_error(src < 0 ? src : dst);
        goto out;
    }
    /* New UIDs follow the order of the old ones (RFC 4315 COPYUID). */
    sorted = xmalloc((nuids ? nuids : 1) * sizeof(*sorted));
    if (nuids)
        memcpy(sorted, uids, nuids * sizeof(*sorted));
    qsort(sorted, nuids, sizeof(*sorted), cmp_u32);
    if ((r = acct_begin(acct, error_r)) != STORE_OK)
        goto out;
    sqlite3_stmt *ins = acct_prepare(
        acct,
        "INSERT INTO messages (mailbox_id, uid, file, flags, keywords, internal_date, modseq)"
        " SELECT ?1, (SELECT uidnext FROM mailboxes WHERE id = ?1), file, flags, keywords,"
        " internal_date, ?2 FROM messages WHERE mailbox_id = ?3 AND uid = ?4",
        error_r);
    sqlite3_stmt *bump = ins ? acct_prepare(acct,
                                            "UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ?"
                                            " RETURNING uidnext - 1",
                                            error_r)
                             : NULL;
    sqlite3_stmt *has = bump ? acct_prepare(acct,
                                            "SELECT 1 FROM messages WHERE mailbox_id = ? AND"
                                            " uid = ?",
                                            error_r)
                             : NULL;
    int64_t modseq = 0;
    if (!ins || !bump || !has)
        r = STORE_ERR_IO;
    for (size_t i = 0; r == STORE_OK && i < nuids; i++) {
        if (i && sorted[i] == sorted[i - 1])
            continue;
        /* A UID not there (expunged meanwhile) changes nothing, and takes
         * no MODSEQ. */
        sqlite3_reset(has);
        sqlite3_bind_int64(has, 1, src);
        sqlite3_bind_int64(has, 2, sorted[i]);
        if (sqlite3_step(has) != SQLITE_ROW)
            continue;
        if (!modseq && (modseq = mailbox_next_modseq(acct, dst, error_r)) < 0) {
            r = STORE_ERR_IO;
            break;
        }
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, dst);
        sqlite3_bind_int64(ins, 2, modseq);
        sqlite3_bind_int64(ins, 3, src);
        sqlite3_bind_int64(ins, 4, sorted[i]);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            *error_r = acct_error(acct, "copying");
            r = STORE_ERR_IO;
            break;
        }
        if (sqlite3_changes(acct->db) == 0)
            continue; /* no such message (expunged meanwhile) */
        sqlite3_reset(bump);
        sqlite3_bind_int64(bump, 1, dst);
        if (sqlite3_step(bump) != SQLITE_ROW) {
            *error_r = acct_error(acct, "copying");
            r = STORE_ERR_IO;
            break;
        }
        pairs_add(&done, sorted[i], (uint32_t)sqlite3_column_int64(bump, 0));
        sqlite3_step(bump);
    }
    acct_finish(acct, ins);
    acct_finish(acct, bump);
    acct_finish(acct, has);
    int64_t src_modseq = 0;
    if (r == STORE_OK && move && done.n)
        r = remove_messages(acct, src, done.a, done.n, true, NULL, NULL, &src_modseq, error_r);
    if (r == STORE_OK)
        r = acct_commit(acct, error_r);
    else
        acct_rollback(acct);
    for (size_t i = 0; r == STORE_OK && i < done.n; i++) {
        if (copied)
            copied(ctx, done.a[i], done.b[i]);
        hub_publish(acct->store, acct->id, dst_name, STORE_EVENT_APPEND, done.b[i],
                    (uint64_t)modseq, acct->origin);
        if (move)
            hub_publish(acct->store, acct->id, src_name, STORE_EVENT_EXPUNGE, done.a[i],
                        (uint64_t)src_modseq, acct->origin);
    }
out:
    free(sorted);
    free(done.a);
    free(done.b);
    arena_free(a);
    return r;
}

int store_message_vanished(struct store_acct *acct, const char *mailbox, uint64_t since,
                           void (*cb)(void *ctx, uint32_t uid), void *ctx, char **error_r)
{
    struct arena *a = arena_new(0);
    int r = STORE_OK;
    const char *mname;
    int64_t mbox = mailbox_need(acct, a, mailbox, &mname, error_r);
    if (mbox < 0) {
        r = mailbox_error(mbox);
        goto out;
    }
    sqlite3_stmt *st = acct_prepare(
        acct, "SELECT uid FROM vanished WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
        error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mbox);
    sqlite3_bind_int64(st, 2, (int64_t)since);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "listing vanished messages");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}

int store_message_open(struct store_acct *acct, const char *file, char **error_r)
{
    /* Only names we make: 32 hex digits, nothing that could leave msg/. */
    bool ok = strlen(file) == FILE_NAME_LEN;
    for (size_t i = 0; ok && i < FILE_NAME_LEN; i++)
        ok = (file[i] >= '0' && file[i] <= '9') || (file[i] >= 'a' && file[i] <= 'f');
    if (!ok) {
        *error_r = xasprintf("not a message file name: %s", file);
        return -1;
    }
    char *path = xasprintf("%s/%.2s/%s", acct->msg_dir, file, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        *error_r = xasprintf("%s: %s", path, strerror(errno));
    free(path);
    return fd;
}
