/* Mailboxes of an account (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/str.h"
#include "store/db.h"

char *mailbox_canonical(struct arena *a, const char *name, const char **error_r)
{
    size_t len = strlen(name);
    if (len == 0) {
        *error_r = "empty mailbox name";
        return NULL;
    }
    if (len > STORE_MAILBOX_NAME_MAX) {
        *error_r = "mailbox name too long";
        return NULL;
    }
    if (name[0] == STORE_MAILBOX_DELIM || name[len - 1] == STORE_MAILBOX_DELIM) {
        *error_r = "mailbox name starts or ends with /";
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f) {
            *error_r = "mailbox name with a control character";
            return NULL;
        }
        if (c == STORE_MAILBOX_DELIM && name[i + 1] == STORE_MAILBOX_DELIM) {
            *error_r = "mailbox name with an empty level (//)";
            return NULL;
        }
        if (c == '*' || c == '%') {
            *error_r = "mailbox name with a wildcard (* or %)";
            return NULL;
        }
    }
    char *out = arena_strdup(a, name);
    /* INBOX is case-insensitive, also as the first level of a hierarchy. */
    if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == STORE_MAILBOX_DELIM))
        memcpy(out, "INBOX", 5);
    return out;
}

int64_t mailbox_id(struct store_acct *acct, const char *canonical)
{
    char *err = NULL;
    sqlite3_stmt *st =
        acct_prepare(acct, "SELECT id FROM mailboxes WHERE name = ? AND noselect = 0", &err);
    if (!st) {
        free(err);
        return -1;
    }
    sqlite3_bind_text(st, 1, canonical, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    acct_finish(acct, st);
    return id;
}

/* A mailbox's id by name, with the error set for the caller. */
int64_t mailbox_need(struct store_acct *acct, struct arena *a, const char *name,
                            const char **canon_r, char **error_r)
{
    const char *why;
    char *canon = mailbox_canonical(a, name, &why);
    if (canon_r)
        *canon_r = canon;
    if (!canon) {
        *error_r = xasprintf("%s: %s", name, why);
        return STORE_ERR_INVALID;
    }
    int64_t id = mailbox_id(acct, canon);
    if (id < 0) {
        *error_r = acct_error(acct, "finding a mailbox");
        return STORE_ERR_IO;
    }
    if (id == 0) {
        *error_r = xasprintf("no mailbox %s", canon);
        return STORE_ERR_NOT_FOUND;
    }
    return id;
}

int64_t mailbox_next_modseq(struct store_acct *acct, int64_t id, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(
        acct, "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?"
              " RETURNING highestmodseq", error_r);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int64_t m = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    acct_finish(acct, st);
    if (m < 0)
        *error_r = acct_error(acct, "taking a modseq");
    return m;
}

/* A UIDVALIDITY never used before in this account: the clock, or one more
 * than the last one when the clock has not moved on (or went back). */
static int64_t next_uidvalidity(struct store_acct *acct, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(
        acct,
        "INSERT INTO meta (key, value) VALUES ('uidvalidity', ?1) ON CONFLICT (key) DO UPDATE"
        " SET value = max(?1, value + 1) RETURNING value",
        error_r);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (int64_t)time(NULL) & 0xffffffff);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    acct_finish(acct, st);
    if (v < 0)
        *error_r = acct_error(acct, "taking a uidvalidity");
    else if (v > 0xffffffffLL)
        v = 1; /* after 2106, or 4 billion renames: wrap, still unique enough */
    return v;
}

#define MAILBOX_COLUMNS \
    "m.id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highestmodseq, m.noselect," \
    " (SELECT count(*) FROM messages WHERE mailbox_id = m.id)," \
    " (SELECT count(*) FROM messages WHERE mailbox_id = m.id AND flags & 1 = 0)," \
    " (SELECT coalesce(sum(f.size), 0) FROM messages x JOIN files f ON f.name = x.file" \
    "   WHERE x.mailbox_id = m.id)," \
    " EXISTS (SELECT 1 FROM mailboxes c WHERE substr(c.name, 1, length(m.name) + 1) =" \
    "   m.name || '/')," \
    " EXISTS (SELECT 1 FROM subscriptions s WHERE s.name = m.name)"

static void row_to_mailbox(sqlite3_stmt *st, struct store_mailbox *m)
{
    m->id = sqlite3_column_int64(st, 0);
    m->name = (const char *)sqlite3_column_text(st, 1);
    m->special_use = (const char *)sqlite3_column_text(st, 2);
    m->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
    m->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
    m->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
    m->noselect = sqlite3_column_int(st, 6) != 0;
    m->messages = (uint32_t)sqlite3_column_int64(st, 7);
    m->unseen = (uint32_t)sqlite3_column_int64(st, 8);
    m->size = (uint64_t)sqlite3_column_int64(st, 9);
    m->has_children = sqlite3_column_int(st, 10) != 0;
    m->subscribed = sqlite3_column_int(st, 11) != 0;
}

int store_mailbox_list(struct store_acct *acct, int (*cb)(void *ctx, const struct store_mailbox *m),
                       void *ctx, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(acct,
                                    "SELECT " MAILBOX_COLUMNS " FROM mailboxes m"
                                    " ORDER BY m.name <> 'INBOX', m.name",
                                    error_r);
    if (!st)
        return STORE_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_mailbox m;
        row_to_mailbox(st, &m);
        if (cb(ctx, &m))
            break;
    }
    acct_finish(acct, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "listing mailboxes");
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int store_mailbox_get(struct store_acct *acct, struct arena *a, const char *name,
                      struct store_mailbox *out, char **error_r)
{
    const char *why;
    char *canon = mailbox_canonical(a, name, &why);
    if (!canon) {
        *error_r = xasprintf("%s: %s", name, why);
        return STORE_ERR_INVALID;
    }
    sqlite3_stmt *st =
        acct_prepare(acct, "SELECT " MAILBOX_COLUMNS " FROM mailboxes m WHERE m.name = ?", error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), r = STORE_OK;
    if (rc == SQLITE_ROW) {
        row_to_mailbox(st, out);
        out->name = arena_strdup(a, out->name);
        out->special_use = arena_strdup(a, out->special_use);
    } else if (rc == SQLITE_DONE) {
        *error_r = xasprintf("no mailbox %s", canon);
        r = STORE_ERR_NOT_FOUND;
    } else {
        *error_r = acct_error(acct, "reading a mailbox");
        r = STORE_ERR_IO;
    }
    acct_finish(acct, st);
    return r;
}

/* Inserts one mailbox row (or revives a \Noselect one). 1: made, 0: existed. */
static int insert_mailbox(struct store_acct *acct, const char *name, const char *special,
                          bool must_be_new, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(acct, "SELECT noselect FROM mailboxes WHERE name = ?",
                                    error_r);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int noselect = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    acct_finish(acct, st);
    if (noselect == 0) {
        if (must_be_new) {
            *error_r = xasprintf("mailbox %s exists already", name);
            return -2;
        }
        return 0;
    }
    int64_t uidvalidity = next_uidvalidity(acct, error_r);
    if (uidvalidity < 0)
        return -1;
    st = acct_prepare(acct,
                      noselect == 1
                          ? "UPDATE mailboxes SET noselect = 0, special_use = ?2, uidvalidity = ?3,"
                            " uidnext = 1, recent_uid = 1 WHERE name = ?1"
                          : "INSERT INTO mailboxes (name, special_use, uidvalidity) VALUES (?1, ?2, ?3)",
                      error_r);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, special ? special : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, uidvalidity);
    rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "creating a mailbox");
        return -1;
    }
    return 1;
}

/* Runs `fn` in a transaction, unless one is already open (then inside it). */
static int in_transaction(struct store_acct *acct, int (*fn)(struct store_acct *, void *),
                          void *arg, char **error_r)
{
    bool own = sqlite3_get_autocommit(acct->db) != 0;
    if (own && acct_begin(acct, error_r) != STORE_OK)
        return STORE_ERR_IO;
    int r = fn(acct, arg);
    if (own) {
        if (r == STORE_OK)
            r = acct_commit(acct, error_r);
        else
            acct_rollback(acct);
    }
    return r;
}

struct create_args {
    const char *name, *special;
    char **error_r;
};

static int do_create(struct store_acct *acct, void *arg)
{
    struct create_args *c = arg;
    struct arena *a = arena_new(0);
    const char *why;
    int r = STORE_OK;
    char *canon = mailbox_canonical(a, c->name, &why);
    if (!canon) {
        *c->error_r = xasprintf("%s: %s", c->name, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    /* Parents first, as plain mailboxes (RFC 9051 §6.3.4). */
    for (char *p = strchr(canon, STORE_MAILBOX_DELIM); p; p = strchr(p + 1, STORE_MAILBOX_DELIM)) {
        *p = '\0';
        int k = insert_mailbox(acct, canon, NULL, false, c->error_r);
        *p = STORE_MAILBOX_DELIM;
        if (k < 0) {
            r = STORE_ERR_IO;
            goto out;
        }
    }
    int k = insert_mailbox(acct, canon, c->special, true, c->error_r);
    if (k == -2)
        r = STORE_ERR_EXISTS;
    else if (k < 0)
        r = STORE_ERR_IO;
out:
    arena_free(a);
    return r;
}

int store_mailbox_create(struct store_acct *acct, const char *name, const char *special_use,
                         char **error_r)
{
    struct create_args c = { name, special_use, error_r };
    return in_transaction(acct, do_create, &c, error_r);
}

/* Deletes the messages of a mailbox. With `expunge` (the mailbox lives on:
 * INBOX after a rename) each UID is kept as vanished under one new MODSEQ,
 * reported through uids/modseq_r for the notification after COMMIT. */
static int drop_messages(struct store_acct *acct, int64_t id, bool expunge, uint32_t **uids,
                         size_t *nuids, int64_t *modseq_r, char **error_r)
{
    if (expunge) {
        sqlite3_stmt *sel = acct_prepare(
            acct, "SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", error_r);
        if (!sel)
            return STORE_ERR_IO;
        sqlite3_bind_int64(sel, 1, id);
        size_t cap = 0;
        while (sqlite3_step(sel) == SQLITE_ROW) {
            if (*nuids == cap) {
                cap = cap ? cap * 2 : 64;
                *uids = xrealloc(*uids, cap * sizeof(**uids));
            }
            (*uids)[(*nuids)++] = (uint32_t)sqlite3_column_int64(sel, 0);
        }
        acct_finish(acct, sel);
        if (*nuids) {
            int64_t modseq = mailbox_next_modseq(acct, id, error_r);
            if (modseq < 0)
                return STORE_ERR_IO;
            *modseq_r = modseq;
            sqlite3_stmt *van = acct_prepare(
                acct,
                "INSERT OR REPLACE INTO vanished (mailbox_id, uid, modseq) SELECT mailbox_id,"
                " uid, ? FROM messages WHERE mailbox_id = ?",
                error_r);
            if (!van)
                return STORE_ERR_IO;
            sqlite3_bind_int64(van, 1, modseq);
            sqlite3_bind_int64(van, 2, id);
            int rc = sqlite3_step(van);
            acct_finish(acct, van);
            if (rc != SQLITE_DONE) {
                *error_r = acct_error(acct, "expunging");
                return STORE_ERR_IO;
            }
        }
    }
    sqlite3_stmt *st = acct_prepare(acct, "DELETE FROM messages WHERE mailbox_id = ?", error_r);
    if (!st)
        return STORE_ERR_IO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "deleting messages");
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

struct name_args {
    const char *name, *to;
    char **error_r;
    uint32_t *expunged; /* INBOX's messages moved away by a rename */
    size_t nexpunged;
    int64_t modseq;
};

static int do_delete(struct store_acct *acct, void *arg)
{
    struct name_args *d = arg;
    struct arena *a = arena_new(0);
    const char *why;
    int r = STORE_OK;
    char *canon = mailbox_canonical(a, d->name, &why);
    if (!canon) {
        *d->error_r = xasprintf("%s: %s", d->name, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    if (!strcmp(canon, "INBOX")) {
        *d->error_r = xstrdup("INBOX cannot be deleted");
        r = STORE_ERR_INVALID;
        goto out;
    }
    sqlite3_stmt *st = acct_prepare(
        acct,
        "SELECT id, noselect, EXISTS (SELECT 1 FROM mailboxes c WHERE"
        " substr(c.name, 1, length(?1) + 1) = ?1 || '/') FROM mailboxes WHERE name = ?1",
        d->error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        acct_finish(acct, st);
        *d->error_r = xasprintf("no mailbox %s", canon);
        r = STORE_ERR_NOT_FOUND;
        goto out;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    bool noselect = sqlite3_column_int(st, 1) != 0, children = sqlite3_column_int(st, 2) != 0;
    acct_finish(acct, st);
    if (noselect && children) {
        *d->error_r = xasprintf("%s has inferior mailboxes and holds no messages: delete those "
                                "first", canon);
        r = STORE_ERR_IN_USE;
        goto out;
    }
    if ((r = drop_messages(acct, id, false, NULL, NULL, NULL, d->error_r)) != STORE_OK)
        goto out;
    /* With children it stays, as a \Noselect name (RFC 9051 §6.3.5). */
    st = acct_prepare(acct,
                      children ? "UPDATE mailboxes SET noselect = 1, special_use = '' WHERE id = ?"
                               : "DELETE FROM mailboxes WHERE id = ?",
                      d->error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        *d->error_r = acct_error(acct, "deleting a mailbox");
        r = STORE_ERR_IO;
        goto out;
    }
    st = acct_prepare(acct, "DELETE FROM vanished WHERE mailbox_id = ?", d->error_r);
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_step(st);
        acct_finish(acct, st);
    }
out:
    arena_free(a);
    return r;
}

int store_mailbox_delete(struct store_acct *acct, const char *name, char **error_r)
{
    struct name_args d = { .name = name, .error_r = error_r };
    int r = in_transaction(acct, do_delete, &d, error_r);
    if (r == STORE_OK)
        acct_collect_files(acct);
    return r;
}

static int do_rename(struct store_acct *acct, void *arg)
{
    struct name_args *d = arg;
    struct arena *a = arena_new(0);
    const char *why;
    int r = STORE_OK;
    char *from = mailbox_canonical(a, d->name, &why);
    char *to = from ? mailbox_canonical(a, d->to, &why) : NULL;
    if (!from || !to) {
        *d->error_r = xasprintf("%s: %s", from ? d->to : d->name, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    int64_t from_id = mailbox_id(acct, from);
    if (from_id <= 0) {
        *d->error_r = from_id < 0 ? acct_error(acct, "renaming") : xasprintf("no mailbox %s", from);
        r = from_id < 0 ? STORE_ERR_IO : STORE_ERR_NOT_FOUND;
        goto out;
    }
    size_t flen = strlen(from);
    /* INBOX only gives up its messages (its children stay): INBOX/2025 is
     * a fine new name for them. */
    bool inbox = !strcmp(from, "INBOX");
    if (!strncmp(to, from, flen) && (to[flen] == '\0' || (!inbox && to[flen] == STORE_MAILBOX_DELIM))) {
        *d->error_r = xasprintf("cannot rename %s into itself", from);
        r = STORE_ERR_INVALID;
        goto out;
    }
    /* The new name (and its children's) must be free; parents are made. */
    struct create_args c = { to, NULL, d->error_r };
    if ((r = do_create(acct, &c)) != STORE_OK)
        goto out;
    int64_t to_id = mailbox_id(acct, to);
    sqlite3_stmt *st;
    if (!strcmp(from, "INBOX")) {
        /* INBOX: its messages move; INBOX stays, empty (RFC 9051 §6.3.6). */
        st = acct_prepare(acct,
                          "INSERT INTO messages (mailbox_id, uid, file, flags, keywords,"
                          " internal_date, modseq) SELECT ?2, row_number() OVER (ORDER BY uid),"
                          " file, flags, keywords, internal_date, 1 FROM messages WHERE"
                          " mailbox_id = ?1",
                          d->error_r);
        if (!st) {
            r = STORE_ERR_IO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, from_id);
        sqlite3_bind_int64(st, 2, to_id);
        int rc = sqlite3_step(st);
        acct_finish(acct, st);
        if (rc != SQLITE_DONE) {
            *d->error_r = acct_error(acct, "moving INBOX");
            r = STORE_ERR_IO;
            goto out;
        }
        st = acct_prepare(acct,
                          "UPDATE mailboxes SET uidnext = (SELECT coalesce(max(uid), 0) + 1"
                          " FROM messages WHERE mailbox_id = ?1), recent_uid = (SELECT"
                          " coalesce(max(uid), 0) + 1 FROM messages WHERE mailbox_id = ?1)"
                          " WHERE id = ?1",
                          d->error_r);
        if (!st) {
            r = STORE_ERR_IO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, to_id);
        rc = sqlite3_step(st);
        acct_finish(acct, st);
        if (rc != SQLITE_DONE) {
            *d->error_r = acct_error(acct, "moving INBOX");
            r = STORE_ERR_IO;
            goto out;
        }
        r = drop_messages(acct, from_id, true, &d->expunged, &d->nexpunged, &d->modseq,
                          d->error_r);
        goto out;
    }
    /* Any other: the new row takes the old one's place and identity, and
     * children move along. */
    st = acct_prepare(acct, "DELETE FROM mailboxes WHERE id = ?", d->error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, to_id);
    sqlite3_step(st);
    acct_finish(acct, st);
    st = acct_prepare(acct,
                      "UPDATE mailboxes SET name = ?2 || substr(name, length(?1) + 1) WHERE"
                      " name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
                      d->error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    acct_finish(acct, st);
    if (rc != SQLITE_DONE) {
        if (sqlite3_extended_errcode(acct->db) == SQLITE_CONSTRAINT_UNIQUE) {
            *d->error_r = xasprintf("a mailbox under %s exists already", to);
            r = STORE_ERR_EXISTS;
        } else {
            *d->error_r = acct_error(acct, "renaming");
            r = STORE_ERR_IO;
        }
    }
out:
    arena_free(a);
    return r;
}

int store_mailbox_rename(struct store_acct *acct, const char *from, const char *to,
                         char **error_r)
{
    struct name_args d = { .name = from, .to = to, .error_r = error_r };
    int r = in_transaction(acct, do_rename, &d, error_r);
    for (size_t i = 0; r == STORE_OK && i < d.nexpunged; i++)
        hub_publish(acct->store, acct->id, "INBOX", STORE_EVENT_EXPUNGE, d.expunged[i],
                    (uint64_t)d.modseq, acct->origin);
    free(d.expunged);
    return r;
}

struct sub_args {
    const char *name;
    bool on;
    char **error_r;
};

static int do_subscribe(struct store_acct *acct, void *arg)
{
    struct sub_args *sa = arg;
    struct arena *a = arena_new(0);
    const char *why;
    int r = STORE_OK;
    char *canon = mailbox_canonical(a, sa->name, &why);
    if (!canon) {
        *sa->error_r = xasprintf("%s: %s", sa->name, why);
        r = STORE_ERR_INVALID;
        goto out;
    }
    sqlite3_stmt *st = acct_prepare(acct,
                                    sa->on ? "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)"
                                           : "DELETE FROM subscriptions WHERE name = ?",
                                    sa->error_r);
    if (!st) {
        r = STORE_ERR_IO;
        goto out;
    }
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        *sa->error_r = acct_error(acct, "subscribing");
        r = STORE_ERR_IO;
    }
    acct_finish(acct, st);
out:
    arena_free(a);
    return r;
}

int store_mailbox_subscribe(struct store_acct *acct, const char *name, bool subscribe,
                            char **error_r)
{
    struct sub_args sa = { name, subscribe, error_r };
    return in_transaction(acct, do_subscribe, &sa, error_r);
}

int store_subscription_list(struct store_acct *acct, int (*cb)(void *ctx, const char *name),
                            void *ctx, char **error_r)
{
    sqlite3_stmt *st = acct_prepare(
        acct, "SELECT name FROM subscriptions ORDER BY name <> 'INBOX', name", error_r);
    if (!st)
        return STORE_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(ctx, (const char *)sqlite3_column_text(st, 0)))
            break;
    acct_finish(acct, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *error_r = acct_error(acct, "listing subscriptions");
        return STORE_ERR_IO;
    }
    return STORE_OK;
}

int store_mailbox_recent(struct store_acct *acct, const char *name, bool claim,
                         uint32_t *first_r, uint32_t *next_r, char **error_r)
{
    struct arena *a = arena_new(0);
    int64_t id = mailbox_need(acct, a, name, NULL, error_r);
    arena_free(a);
    if (id < 0)
        return (int)id;
    /* No transaction: a compare-and-set of the marker, tried again when
     * another session claimed in between (it only grows, so this ends). A
     * look, or a claim of nothing, writes nothing. */
    for (;;) {
        sqlite3_stmt *st = acct_prepare(
            acct, "SELECT recent_uid, uidnext FROM mailboxes WHERE id = ?", error_r);
        if (!st)
            return STORE_ERR_IO;
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        int64_t first = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        int64_t next = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
        acct_finish(acct, st);
        if (rc != SQLITE_ROW) {
            *error_r = acct_error(acct, "reading the recent marker");
            return STORE_ERR_IO;
        }
        if (first > next)
            first = next;
        *first_r = (uint32_t)first;
        *next_r = (uint32_t)next;
        if (!claim || first == next)
            return STORE_OK;
        st = acct_prepare(acct,
                          "UPDATE mailboxes SET recent_uid = ?2 WHERE id = ?1 AND recent_uid = ?3",
                          error_r);
        if (!st)
            return STORE_ERR_IO;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, next);
        sqlite3_bind_int64(st, 3, first);
        /* Without an fsync of its own: the marker is worth nothing after a
         * crash (no session survives one), and the next durable commit
         * carries it to disk anyway. A rev1 SELECT after new mail would
         * otherwise wait for the disk. */
        acct_set_fsync(acct, false);
        rc = sqlite3_step(st);
        int changed = sqlite3_changes(acct->db);
        acct_finish(acct, st);
        acct_set_fsync(acct, true);
        if (rc != SQLITE_DONE) {
            *error_r = acct_error(acct, "claiming recent messages");
            return STORE_ERR_IO;
        }
        if (changed == 1)
            return STORE_OK;
    }
}
