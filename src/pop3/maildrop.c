/* The store's side of a POP3 session (see maildrop.h). */
#include "pop3/maildrop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "pop3/encode.h"

/* Bytes read at a time when a file's wire size is counted. */
#define SCAN_CHUNK (64u << 10)

struct list_ctx {
    struct pop3_maildrop *md;
    uint32_t cap;
};

static int list_cb(void *ctx, const struct store_message *m)
{
    struct list_ctx *l = ctx;
    struct pop3_maildrop *md = l->md;
    if (md->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        md->msgs = xrealloc(md->msgs, l->cap * sizeof(*md->msgs));
        md->files = xrealloc(md->files, l->cap * sizeof(*md->files));
    }
    md->msgs[md->n] = (struct pop3_message){ .uid = m->uid, .size = m->wire_size };
    md->files[md->n] = xstrdup(m->file);
    md->n++;
    return 0;
}

/* The wire size of one file, read through the encoder. */
static int scan(struct store_acct *acct, const char *file, char *chunk, uint64_t *wire_r,
                char **error_r)
{
    int fd = store_message_open(acct, file, error_r);
    if (fd < 0)
        return -1;
    struct pop3_encoder e;
    pop3_encoder_init(&e, false, 0);
    for (;;) {
        ssize_t r = read(fd, chunk, SCAN_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *error_r = xasprintf("%s: %s", file, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        pop3_encode(&e, (struct str){ chunk, (size_t)r }, NULL);
    }
    close(fd);
    pop3_encode_finish(&e, NULL);
    *wire_r = e.octets;
    return 0;
}

int pop3_maildrop_load(struct store *s, int64_t account_id, const char *session,
                       struct pop3_maildrop *md, char **error_r)
{
    memset(md, 0, sizeof(*md));
    struct store_acct *acct;
    int r = store_acct_take(s, account_id, &acct, error_r);
    if (r != STORE_OK)
        return r;
    struct arena *a = arena_new(0);
    struct store_mailbox mb;
    r = store_mailbox_get(acct, a, "INBOX", &mb, error_r);
    if (r == STORE_OK) {
        md->uidvalidity = mb.uidvalidity;
        struct list_ctx l = { md, 0 };
        r = store_message_list(acct, "INBOX", 1, UINT32_MAX, 0, list_cb, &l, error_r);
    }
    arena_free(a);
    if (r != STORE_OK) {
        store_acct_give(acct);
        pop3_maildrop_free(md);
        return r;
    }
    /* Sizes not learnt yet (new mail): read those files once, and record
     * what they gave so that no session reads them again. */
    char *chunk = NULL;
    const char **learnt = NULL;
    uint64_t *sizes = NULL;
    size_t nlearnt = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < md->n; i++) {
        if (!md->msgs[i].size) {
            if (!chunk) {
                chunk = xmalloc(SCAN_CHUNK);
                learnt = xcalloc(md->n, sizeof(*learnt));
                sizes = xcalloc(md->n, sizeof(*sizes));
            }
            char *err = NULL;
            md->scanned++;
            if (scan(acct, md->files[i], chunk, &md->msgs[i].size, &err) < 0) {
                /* Expunged since the listing, or unreadable: not in this
                 * maildrop; the others are still served. */
                log_error("pop3", "store-failed", "session=%s uid=%u error=%s", session,
                          md->msgs[i].uid, log_q(err ? err : "?"));
                free(err);
                free(md->files[i]);
                continue;
            }
            learnt[nlearnt] = md->files[i];
            sizes[nlearnt++] = md->msgs[i].size;
        }
        md->msgs[kept] = md->msgs[i];
        md->files[kept] = md->files[i];
        kept++;
    }
    md->n = kept;
    if (nlearnt) {
        char *err = NULL;
        /* Only a cache: a failure costs reading the files again next time. */
        if (store_message_set_wire_sizes(acct, learnt, sizes, nlearnt, &err) != STORE_OK) {
            log_error("pop3", "store-failed", "session=%s error=%s", session, log_q(err));
            free(err);
        }
    }
    free(learnt);
    free(sizes);
    free(chunk);
    store_acct_give(acct);
    return STORE_OK;
}

void pop3_maildrop_free(struct pop3_maildrop *md)
{
    for (uint32_t i = 0; i < md->n; i++)
        free(md->files[i]);
    free(md->files);
    free(md->msgs);
    memset(md, 0, sizeof(*md));
}

int pop3_maildrop_open(struct store *s, int64_t account_id, const char *file, bool *gone,
                       char **error_r)
{
    *gone = false;
    struct store_acct *acct;
    int r = store_acct_take(s, account_id, &acct, error_r);
    if (r != STORE_OK)
        return -1;
    int fd = store_message_open(acct, file, error_r);
    int e = errno;
    store_acct_give(acct);
    if (fd < 0)
        *gone = e == ENOENT;
    return fd;
}

static void count_cb(void *ctx, uint32_t uid)
{
    (void)uid;
    (*(uint32_t *)ctx)++;
}

int pop3_maildrop_expunge(struct store *s, int64_t account_id, uint32_t uidvalidity,
                          const uint32_t *uids, uint32_t n, uint32_t *removed_r,
                          char **error_r)
{
    *removed_r = 0;
    struct store_acct *acct;
    int r = store_acct_take(s, account_id, &acct, error_r);
    if (r != STORE_OK)
        return r;
    struct arena *a = arena_new(0);
    struct store_mailbox mb;
    r = store_mailbox_get(acct, a, "INBOX", &mb, error_r);
    arena_free(a);
    if (r == STORE_OK && mb.uidvalidity != uidvalidity) {
        *error_r = xasprintf("INBOX has a new UIDVALIDITY (%u, was %u)", mb.uidvalidity,
                             uidvalidity);
        r = STORE_ERR_INVALID;
    }
    /* One transaction: all of them go, or none. */
    if (r == STORE_OK)
        r = store_message_delete(acct, "INBOX", uids, n, count_cb, removed_r, error_r);
    store_acct_give(acct);
    return r;
}
