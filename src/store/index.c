/* What the index keeps of a message: its MIME structure, kept at append
 * (see message_index in db.h), and its searchable text, indexed later
 * (store_acct_index_pending); and reading them back. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"
#include "mime/mime.h"
#include "store/db.h"
#include "store/fs.h"

/* A blob past this is not kept (a 10 MB Subject makes a 10 MB blob):
 * FETCH parses the file instead, which is always correct, only slower. */
#define STRUCTURE_MAX (1024 * 1024)
/* Text indexed per message: enough for any real message's words. */
#define SEARCH_TEXT_MAX (1024 * 1024)
/* Memory for parsing one message beyond its own bytes. */
#define PARSE_ARENA_MAX (64 * 1024 * 1024)
/* Search text one call of store_acct_index_pending gathers before its
 * transaction; the files past it wait for the next call (one is always
 * done). */
#define INDEX_TEXT_BUDGET (8 * 1024 * 1024)
/* Pending files per transaction when SEARCH catches up. */
#define SEARCH_CATCH_UP_CHUNK 256

/* Runs of white space become one space, in the index and in queries alike:
 * "am  Dom" (from "am <b>Dom</b>") is found by "am Dom", as the reader sees
 * it. Returns the new length. */
static size_t collapse_space(char *p, size_t len)
{
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
        if (ws) {
            space = true;
            continue;
        }
        if (space && o)
            p[o++] = ' ';
        space = false;
        p[o++] = c;
    }
    return o;
}

void message_index_build(const char *data, size_t len, struct message_index *out)
{
    buf_init(&out->structure, STRUCTURE_MAX);
    struct arena *a = arena_new(PARSE_ARENA_MAX);
    struct mime_limits lim = MIME_LIMITS_DEFAULT;
    struct mime_part *root = mime_parse(a, (struct str){ data, len }, &lim);
    if (root && mime_serialize(root, &out->structure) < 0)
        buf_clear(&out->structure); /* too big to keep: parse at FETCH */
    arena_free(a);
}

void message_index_free(struct message_index *idx)
{
    buf_free(&idx->structure);
}

/* The text for the full-text index: decoded Subject, From, To, Cc and text
 * parts, white space collapsed (see collapse_space). */
static void search_text_build(const char *data, size_t len, struct buf *out)
{
    buf_init(out, SEARCH_TEXT_MAX);
    struct arena *a = arena_new(PARSE_ARENA_MAX);
    struct str msg = { data, len };
    struct mime_limits lim = MIME_LIMITS_DEFAULT;
    struct mime_part *root = mime_parse(a, msg, &lim);
    if (root) {
        mime_search_text(a, msg, root, out); /* a cut text is still useful */
        if (out->p) {
            out->len = collapse_space(out->p, out->len);
            out->p[out->len] = '\0';
        }
    }
    arena_free(a);
}

/* A message file's bytes (malloc'd, `size` of them), or NULL with errno set
 * (ENOENT: the file is gone; EIO: shorter than the index says). */
static char *read_message_file(struct store_acct *acct, const char *name, size_t size)
{
    char *path = xasprintf("%s/%.2s/%s", acct->msg_dir, name, name);
    int fd = store_fs->open(path, O_RDONLY | O_CLOEXEC, 0);
    int saved = errno;
    free(path);
    if (fd < 0) {
        errno = saved;
        return NULL;
    }
    char *data = xmalloc(size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            saved = n < 0 ? errno : EIO;
            break;
        }
        got += (size_t)n;
    }
    store_fs->close(fd);
    if (got != size) {
        free(data);
        errno = saved;
        return NULL;
    }
    data[size] = '\0';
    return data;
}

struct mime_part *store_message_structure(struct store_acct *acct, struct arena *a,
                                          const char *file, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(acct, "SELECT structure, size FROM files WHERE name = ?",
                                    error_r);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
    struct mime_part *root = NULL;
    int64_t size = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        size = sqlite3_column_int64(st, 1);
        const void *blob = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (blob && n > 0)
            root = mime_deserialize(a, (struct str){ blob, (size_t)n });
    }
    acct_finish(acct, st);
    if (size < 0) {
        *error_r = xasprintf("no message file %s", file);
        return NULL;
    }
    if (root && root->body_offset + root->body_len == (size_t)size)
        return root;
    /* No blob (too large, or of an older version): parse the file. The tree
     * points into the bytes, so they are read into the caller's arena. */
    int fd = store_message_open(acct, file, error_r);
    if (fd < 0)
        return NULL;
    char *copy = arena_alloc(a, (size_t)size + 1);
    size_t got = 0;
    while (copy && got < (size_t)size) {
        ssize_t n = pread(fd, copy + got, (size_t)size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!copy || got != (size_t)size) {
        *error_r = xasprintf(copy ? "cannot read message %s" : "message %s too large for this "
                                                               "request", file);
        return NULL;
    }
    struct mime_limits lim = MIME_LIMITS_DEFAULT;
    root = mime_parse(a, (struct str){ copy, (size_t)size }, &lim);
    if (!root)
        *error_r = xstrdup("cannot parse the message");
    return root;
}

struct pending_file {
    int64_t id;
    char *name;      /* NULL: no files row (cannot happen with the trigger) */
    size_t size;
    struct buf text; /* empty: nothing to index, or the file is unreadable */
};

/* store_acct_index_pending for the pending files with id <= up_to. */
static int index_pending(struct store_acct *acct, unsigned max, int64_t up_to,
                         unsigned *indexed_r, char **error_r)
{
    *indexed_r = 0;
    if (!max)
        return STORE_OK;
    sqlite3_stmt *st = acct_prepare(acct,
                                    "SELECT p.file_id, f.name, f.size FROM fts_pending p"
                                    " LEFT JOIN files f ON f.id = p.file_id"
                                    " WHERE p.file_id <= ? ORDER BY p.file_id LIMIT ?",
                                    error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, up_to);
    sqlite3_bind_int64(st, 2, max);
    struct pending_file *pf = NULL;
    size_t n = 0, cap = 0;
    int rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            pf = xrealloc(pf, cap * sizeof(*pf));
        }
        memset(&pf[n], 0, sizeof(pf[n]));
        pf[n].id = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        pf[n].name = name ? xstrdup(name) : NULL;
        pf[n].size = (size_t)sqlite3_column_int64(st, 2);
        n++;
    }
    if (n < max && rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "listing files to index");
        acct_finish(acct, st);
        for (size_t i = 0; i < n; i++)
            free(pf[i].name);
        free(pf);
        return STORE_ERR_IO;
    }
    acct_finish(acct, st);

    /* The CPU work, outside the transaction, as at delivery. */
    int r = STORE_OK;
    size_t take = 0, gathered = 0;
    while (take < n && (take == 0 || gathered < INDEX_TEXT_BUDGET)) {
        struct pending_file *p = &pf[take];
        if (p->name) {
            char *data = read_message_file(acct, p->name, p->size);
            if (data) {
                search_text_build(data, p->size, &p->text);
                free(data);
            } else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                /* The process is short of something, not the file: leave
                 * it pending. Any other failure (gone, unreadable) drops
                 * it: a message that cannot be read cannot be found. */
                *error_r = xasprintf("cannot read message %s to index it: %s", p->name,
                                     strerror(errno));
                r = STORE_ERR_IO;
                break;
            }
        }
        gathered += p->text.len;
        take++;
    }

    if (r == STORE_OK && take && (r = acct_begin(acct, error_r)) == STORE_OK) {
        /* Only while the pending row is there and the id still names the
         * file that was read: an expunge (and an append reusing the id) may
         * have come in between. */
        sqlite3_stmt *del = acct_prepare(acct,
                                         "DELETE FROM fts_pending WHERE file_id = ?1 AND NOT"
                                         " EXISTS (SELECT 1 FROM files WHERE id = ?1 AND"
                                         " name IS NOT ?2)",
                                         error_r);
        sqlite3_stmt *ins = del ? acct_prepare(acct, "INSERT INTO fts (rowid, text) VALUES (?, ?)",
                                               error_r)
                                : NULL;
        if (!ins)
            r = STORE_ERR_IO;
        for (size_t i = 0; r == STORE_OK && i < take; i++) {
            sqlite3_reset(del);
            sqlite3_bind_int64(del, 1, pf[i].id);
            sqlite3_bind_text(del, 2, pf[i].name, -1, SQLITE_STATIC);
            if (sqlite3_step(del) != SQLITE_DONE) {
                *error_r = acct_error(acct, "indexing");
                r = STORE_ERR_IO;
                break;
            }
            if (!sqlite3_changes(acct->db) || !pf[i].text.len)
                continue;
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, pf[i].id);
            sqlite3_bind_text(ins, 2, pf[i].text.p, (int)pf[i].text.len, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                *error_r = acct_error(acct, "indexing");
                r = STORE_ERR_IO;
            }
        }
        acct_finish(acct, del);
        acct_finish(acct, ins);
        if (r == STORE_OK)
            r = acct_commit(acct, error_r);
        else
            acct_rollback(acct);
    }
    for (size_t i = 0; i < n; i++) {
        free(pf[i].name);
        buf_free(&pf[i].text); /* zeroed when never built */
    }
    free(pf);
    if (r == STORE_OK)
        *indexed_r = (unsigned)take;
    return r;
}

int store_acct_index_pending(struct store_acct *acct, unsigned max, unsigned *indexed_r,
                             char **error_r)
{
    return index_pending(acct, max, INT64_MAX, indexed_r, error_r);
}

int store_message_search(struct store_acct *acct, const char *mailbox, const char *text,
                         void (*cb)(void *ctx, uint32_t uid), void *ctx, char **error_r)
{
    struct arena *a = arena_new(0);
    int r = STORE_OK;
    int64_t mbox = mailbox_need(acct, a, mailbox, NULL, error_r);
    if (mbox < 0) {
        r = (int)mbox;
        goto out;
    }
    /* Complete answers: first index what is pending. Only up to the newest
     * file pending now, so that mail arriving meanwhile cannot keep the
     * search from ever starting. */
    sqlite3_stmt *last = acct_prepare(acct, "SELECT max(file_id) FROM fts_pending", error_r);
    if (!last) {
        r = STORE_ERR_IO;
        goto out;
    }
    int64_t up_to = sqlite3_step(last) == SQLITE_ROW ? sqlite3_column_int64(last, 0) : 0;
    acct_finish(acct, last);
    unsigned done = 1;
    while (up_to > 0 && done > 0)
        if ((r = index_pending(acct, SEARCH_CATCH_UP_CHUNK, up_to, &done, error_r)) != STORE_OK)
            goto out;
    /* Trigrams find any substring of three characters or more; shorter
     * ones fall back to a scan of the stored text (still case-insensitive
     * for ASCII, like LIKE). */
    char *norm = arena_strdup(a, text);
    norm[collapse_space(norm, strlen(norm))] = '\0';
    text = norm;
    bool trigram = strlen(text) >= 3;
    struct buf q;
    buf_init(&q, 0);
    if (trigram) {
        buf_append_char(&q, '"');
        for (const char *c = text; *c; c++) {
            if (*c == '"')
                buf_append_char(&q, '"');
            buf_append_char(&q, *c);
        }
        buf_append_char(&q, '"');
    } else {
        buf_append_char(&q, '%');
        for (const char *c = text; *c; c++) {
            if (*c == '%' || *c == '_' || *c == '\\')
                buf_append_char(&q, '\\');
            buf_append_char(&q, *c);
        }
        buf_append_char(&q, '%');
    }
    sqlite3_stmt *st = acct_prepare(
        acct,
        /* From the hits to their messages (CROSS JOIN fixes that order:
         * the other way runs the MATCH once per message). */
        trigram ? "SELECT m.uid FROM fts CROSS JOIN files f CROSS JOIN messages m"
                  " WHERE fts MATCH ?2 AND f.id = fts.rowid AND m.file = f.name"
                  " AND m.mailbox_id = ?1 ORDER BY m.uid"
                : "SELECT m.uid FROM messages m JOIN files f ON f.name = m.file JOIN fts ON"
                  " fts.rowid = f.id WHERE m.mailbox_id = ? AND fts.text LIKE ? ESCAPE '\\'"
                  " ORDER BY m.uid",
        error_r);
    if (!st) {
        buf_free(&q);
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mbox);
    sqlite3_bind_text(st, 2, buf_cstr(&q), (int)q.len, SQLITE_TRANSIENT);
    buf_free(&q);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ctx, (uint32_t)sqlite3_column_int64(st, 0));
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "searching");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}
