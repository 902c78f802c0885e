/* What the index keeps of a message: its MIME structure and its searchable
 * text (see message_index in db.h), and reading them back. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"
#include "mime/mime.h"
#include "store/db.h"

/* A blob past this is not kept (a 10 MB Subject makes a 10 MB blob):
 * FETCH parses the file instead, which is always correct, only slower. */
#define STRUCTURE_MAX (1024 * 1024)
/* Text indexed per message: enough for any real message's words. */
#define SEARCH_TEXT_MAX (1024 * 1024)
/* Memory for parsing one message beyond its own bytes. */
#define PARSE_ARENA_MAX (64 * 1024 * 1024)

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
    buf_init(&out->text, SEARCH_TEXT_MAX);
    struct arena *a = arena_new(PARSE_ARENA_MAX);
    struct str msg = { data, len };
    struct mime_limits lim = MIME_LIMITS_DEFAULT;
    struct mime_part *root = mime_parse(a, msg, &lim);
    if (root) {
        if (mime_serialize(root, &out->structure) < 0)
            buf_clear(&out->structure); /* too big to keep: parse at FETCH */
        mime_search_text(a, msg, root, &out->text); /* a cut text is still useful */
        if (out->text.p) {
            out->text.len = collapse_space(out->text.p, out->text.len);
            out->text.p[out->text.len] = '\0';
        }
    }
    arena_free(a);
}

void message_index_free(struct message_index *idx)
{
    buf_free(&idx->structure);
    buf_free(&idx->text);
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
    sqlite3_finalize(st);
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
        trigram ? "SELECT m.uid FROM messages m JOIN files f ON f.name = m.file JOIN fts ON"
                  " fts.rowid = f.id WHERE m.mailbox_id = ? AND fts MATCH ? ORDER BY m.uid"
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
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "searching");
        r = STORE_ERR_IO;
    }
out:
    arena_free(a);
    return r;
}
