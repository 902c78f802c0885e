/*
 * Unit tests for the mailboxes of an account (store/store.h, "an account's
 * mail"): the default mailboxes, names, creation, UIDVALIDITY, deletion,
 * renaming (also of INBOX) and subscriptions.
 *
 * One store in a fresh temporary directory; every test opens a new account
 * of its own, so each starts from the default mailboxes.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

static char tmpdir[64];
static struct store *store;
static struct auth_credentials cred;
static int naccounts;
static int64_t last_account_id; /* of the last new_acct() */

static void setup(void)
{
    strcpy(tmpdir, "/tmp/outpost-unit-mailbox-XXXXXX");
    fixture_open(tmpdir, &store, &cred);
}

static void teardown(void)
{
    store_close(store);
    fixture_rmtree(tmpdir);
}

/* A new account with its mail opened: fresh default mailboxes. */
static struct store_acct *new_acct(void)
{
    char address[64], *err = NULL;
    snprintf(address, sizeof(address), "user%d@example.org", ++naccounts);
    int64_t id = 0;
    if (store_account_add(store, address, NULL, &cred, 0, &id, &err) != STORE_OK)
        fixture_die("store_account_add", err);
    last_account_id = id;
    struct store_acct *acct = NULL;
    if (store_acct_open(store, id, &acct, &err) != STORE_OK)
        fixture_die("store_acct_open", err);
    return acct;
}

/* The mailboxes as store_mailbox_list gives them. */
#define MAXBOX 32
struct boxes {
    int n;
    struct {
        char name[600];
        char special[32];
        uint32_t uidvalidity, uidnext, messages;
        bool noselect, has_children, subscribed;
    } b[MAXBOX];
};

static int boxes_cb(void *ctx, const struct store_mailbox *m)
{
    struct boxes *bx = ctx;
    if (bx->n == MAXBOX)
        return 1;
    snprintf(bx->b[bx->n].name, sizeof(bx->b[bx->n].name), "%s", m->name);
    snprintf(bx->b[bx->n].special, sizeof(bx->b[bx->n].special), "%s", m->special_use);
    bx->b[bx->n].uidvalidity = m->uidvalidity;
    bx->b[bx->n].uidnext = m->uidnext;
    bx->b[bx->n].messages = m->messages;
    bx->b[bx->n].noselect = m->noselect;
    bx->b[bx->n].has_children = m->has_children;
    bx->b[bx->n].subscribed = m->subscribed;
    bx->n++;
    return 0;
}

static int list_boxes(struct store_acct *acct, struct boxes *bx)
{
    char *err = NULL;
    memset(bx, 0, sizeof(*bx));
    int r = store_mailbox_list(acct, boxes_cb, bx, &err);
    free(err);
    return r;
}

/* store_mailbox_get into *out (strings from a); the error string is freed. */
static int get(struct store_acct *acct, struct arena *a, const char *name,
               struct store_mailbox *out)
{
    char *err = NULL;
    memset(out, 0, sizeof(*out));
    int r = store_mailbox_get(acct, a, name, out, &err);
    free(err);
    return r;
}

static int create(struct store_acct *acct, const char *name, const char *special)
{
    char *err = NULL;
    int r = store_mailbox_create(acct, name, special, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int delete(struct store_acct *acct, const char *name)
{
    char *err = NULL;
    int r = store_mailbox_delete(acct, name, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int rename_box(struct store_acct *acct, const char *from, const char *to)
{
    char *err = NULL;
    int r = store_mailbox_rename(acct, from, to, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int subscribe(struct store_acct *acct, const char *name, bool on)
{
    char *err = NULL;
    int r = store_mailbox_subscribe(acct, name, on, &err);
    free(err);
    return r;
}

static int append(struct store_acct *acct, const char *mailbox, const char *text, unsigned flags,
                  uint32_t *uid)
{
    char *err = NULL;
    struct store_append_req req = { .mailbox = mailbox, .data = text, .len = strlen(text),
                                     .flags = flags, .keywords = NULL, .internal_date = 0 };
    *uid = 0;
    int r = store_message_append(acct, &req, uid, &err);
    free(err);
    return r;
}

/* Messages of a mailbox: uid, file and flags. */
#define MAXMSG 16
struct msgs {
    int n;
    struct {
        uint32_t uid;
        unsigned flags;
        uint64_t modseq;
        char file[40];
    } m[MAXMSG];
};

static int msgs_cb(void *ctx, const struct store_message *m)
{
    struct msgs *ms = ctx;
    if (ms->n == MAXMSG)
        return 1;
    ms->m[ms->n].uid = m->uid;
    ms->m[ms->n].flags = m->flags;
    ms->m[ms->n].modseq = m->modseq;
    snprintf(ms->m[ms->n].file, sizeof(ms->m[ms->n].file), "%s", m->file);
    ms->n++;
    return 0;
}

static int list_msgs(struct store_acct *acct, const char *mailbox, struct msgs *ms)
{
    char *err = NULL;
    memset(ms, 0, sizeof(*ms));
    int r = store_message_list(acct, mailbox, 1, UINT32_MAX, 0, msgs_cb, ms, &err);
    free(err);
    return r;
}

struct uids {
    int n;
    uint32_t u[MAXMSG];
};

static void uids_cb(void *ctx, uint32_t uid)
{
    struct uids *us = ctx;
    if (us->n < MAXMSG)
        us->u[us->n++] = uid;
}

static int find_box(const struct boxes *bx, const char *name)
{
    for (int i = 0; i < bx->n; i++)
        if (!strcmp(bx->b[i].name, name))
            return i;
    return -1;
}

/* ---- tests ---- */

static void test_defaults(void)
{
    struct store_acct *acct = new_acct();
    struct boxes bx;
    CHECK_INT(list_boxes(acct, &bx), STORE_OK);
    CHECK_INT(bx.n, 6);
    static const char *const names[] = { "INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash" };
    static const char *const specials[] = { "", "\\Archive", "\\Drafts", "\\Junk", "\\Sent",
                                            "\\Trash" };
    for (int i = 0; i < 6 && i < bx.n; i++) {
        CHECK_STR(bx.b[i].name, names[i]);
        CHECK_STR(bx.b[i].special, specials[i]);
        CHECK(bx.b[i].subscribed);
        CHECK(!bx.b[i].noselect);
        CHECK(!bx.b[i].has_children);
        CHECK_INT(bx.b[i].uidnext, 1);
        CHECK_INT(bx.b[i].messages, 0);
        CHECK(bx.b[i].uidvalidity != 0);
        for (int j = 0; j < i; j++)
            CHECK(bx.b[i].uidvalidity != bx.b[j].uidvalidity);
    }

    struct arena *a = arena_new(0);
    struct store_mailbox m;
    CHECK_INT(get(acct, a, "inbox", &m), STORE_OK);
    CHECK_STR(m.name, "INBOX");
    CHECK_STR(m.special_use, "");
    CHECK_INT(m.messages, 0);
    CHECK_INT(m.unseen, 0);
    CHECK_INT(m.size, 0);
    CHECK(m.subscribed);
    CHECK_INT(get(acct, a, "Sent", &m), STORE_OK);
    CHECK_STR(m.special_use, "\\Sent");
    /* Other names are case-sensitive. */
    CHECK_INT(get(acct, a, "sent", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "Nothing", &m), STORE_ERR_NOT_FOUND);
    arena_free(a);
    store_acct_close(acct);
}

static void test_reopen_keeps_mailboxes(void)
{
    struct store_acct *acct = new_acct();
    CHECK_INT(create(acct, "Kept", NULL), STORE_OK);
    struct boxes before, after;
    CHECK_INT(list_boxes(acct, &before), STORE_OK);
    /* Reopen the same account: no second set of defaults. */
    int64_t id = last_account_id;
    store_acct_close(acct);
    char *err = NULL;
    acct = NULL;
    CHECK_INT(store_acct_open(store, id, &acct, &err), STORE_OK);
    free(err);
    if (!acct)
        return;
    CHECK_INT(list_boxes(acct, &after), STORE_OK);
    CHECK_INT(after.n, 7);
    CHECK_INT(after.n, before.n);
    for (int i = 0; i < after.n && i < before.n; i++) {
        CHECK_STR(after.b[i].name, before.b[i].name);
        CHECK_INT(after.b[i].uidvalidity, before.b[i].uidvalidity);
    }
    store_acct_close(acct);
}

static void test_create(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;

    CHECK_INT(create(acct, "a/b/c", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "a", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK(m.has_children);
    CHECK(!m.subscribed);
    CHECK_STR(m.special_use, "");
    CHECK_INT(m.uidnext, 1);
    CHECK_INT(get(acct, a, "a/b", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK(m.has_children);
    CHECK_INT(get(acct, a, "a/b/c", &m), STORE_OK);
    CHECK(!m.has_children);
    CHECK(!m.noselect);

    /* Existing: the leaf or a parent made on the way. */
    CHECK_INT(create(acct, "a/b/c", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "a", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "a/b", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "Sent", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "INBOX", NULL), STORE_ERR_EXISTS);
    /* A sibling under existing parents. */
    CHECK_INT(create(acct, "a/b/d", NULL), STORE_OK);

    /* With a special use. */
    CHECK_INT(create(acct, "Important", "\\Important"), STORE_OK);
    CHECK_INT(get(acct, a, "Important", &m), STORE_OK);
    CHECK_STR(m.special_use, "\\Important");

    /* Listed by name, INBOX first (even though "Archive" sorts before it
     * and "A..." before "I..."). */
    struct boxes bx;
    CHECK_INT(list_boxes(acct, &bx), STORE_OK);
    static const char *const order[] = { "INBOX",  "Archive", "Drafts", "Important", "Junk",
                                         "Sent",   "Trash",   "a",      "a/b",       "a/b/c",
                                         "a/b/d" };
    CHECK_INT(bx.n, 11);
    for (int i = 0; i < 11 && i < bx.n; i++)
        CHECK_STR(bx.b[i].name, order[i]);
    arena_free(a);
    store_acct_close(acct);
}

static void test_names(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;

    /* INBOX in any case, also as the first level. */
    CHECK_INT(create(acct, "inbox", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "InBoX", NULL), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "Inbox/x", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX/x", &m), STORE_OK);
    CHECK_STR(m.name, "INBOX/x");
    CHECK_INT(get(acct, a, "inbox/x", &m), STORE_OK);
    CHECK_STR(m.name, "INBOX/x");
    CHECK_INT(create(acct, "INBOX/x", NULL), STORE_ERR_EXISTS);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK(m.has_children);
    /* Only the first level, only the whole word. */
    CHECK_INT(create(acct, "inbox/Inbox", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX/Inbox", &m), STORE_OK);
    CHECK_STR(m.name, "INBOX/Inbox");
    CHECK_INT(create(acct, "inboxes", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "inboxes", &m), STORE_OK);
    CHECK_STR(m.name, "inboxes");
    CHECK_INT(get(acct, a, "INBOXES", &m), STORE_ERR_NOT_FOUND);

    struct boxes before, after;
    CHECK_INT(list_boxes(acct, &before), STORE_OK);

    char too_long[STORE_MAILBOX_NAME_MAX + 2];
    memset(too_long, 'x', STORE_MAILBOX_NAME_MAX + 1);
    too_long[STORE_MAILBOX_NAME_MAX + 1] = '\0';
    const char *const bad[] = { "", "/", "/a", "a/", "a//b", "a\tb", "a\nb", "a\rb",
                                "a\x01", "a\x7f" "b", "a*", "a%b", "*", "%", too_long };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = create(acct, bad[i], NULL);
        CHECK_INT(r, STORE_ERR_INVALID);
        if (r != STORE_ERR_INVALID)
            fprintf(stderr, "  (bad name #%zu accepted by create)\n", i);
        CHECK_INT(get(acct, a, bad[i], &m), STORE_ERR_INVALID);
        CHECK_INT(delete(acct, bad[i]), STORE_ERR_INVALID);
        CHECK_INT(rename_box(acct, bad[i], "fine"), STORE_ERR_INVALID);
        CHECK_INT(rename_box(acct, "inboxes", bad[i]), STORE_ERR_INVALID);
        CHECK_INT(subscribe(acct, bad[i], true), STORE_ERR_INVALID);
    }
    /* Nothing was made, renamed or deleted by any of them. */
    CHECK_INT(list_boxes(acct, &after), STORE_OK);
    CHECK_INT(after.n, before.n);
    for (int i = 0; i < after.n && i < before.n; i++)
        CHECK_STR(after.b[i].name, before.b[i].name);
    CHECK_INT(get(acct, a, "fine", &m), STORE_ERR_NOT_FOUND);

    /* The longest name allowed, and non-ASCII (UTF-8) names. */
    char longest[STORE_MAILBOX_NAME_MAX + 1];
    memset(longest, 'y', STORE_MAILBOX_NAME_MAX);
    longest[STORE_MAILBOX_NAME_MAX] = '\0';
    CHECK_INT(create(acct, longest, NULL), STORE_OK);
    CHECK_INT(get(acct, a, longest, &m), STORE_OK);
    CHECK_STR(m.name, longest);
    CHECK_INT(create(acct, "Entw\xc3\xbcrfe/\xc3\x84lter", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "Entw\xc3\xbcrfe", &m), STORE_OK);
    CHECK(m.has_children);
    CHECK_INT(get(acct, a, "Entw\xc3\xbcrfe/\xc3\x84lter", &m), STORE_OK);
    CHECK_STR(m.name, "Entw\xc3\xbcrfe/\xc3\x84lter");
    /* Spaces and other punctuation are fine. */
    CHECK_INT(create(acct, "My Folder.with-stuff", NULL), STORE_OK);
    arena_free(a);
    store_acct_close(acct);
}

static void test_uidvalidity_unique(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    struct boxes bx;
    CHECK_INT(list_boxes(acct, &bx), STORE_OK);
    uint32_t max_default = 0;
    for (int i = 0; i < bx.n; i++)
        if (bx.b[i].uidvalidity > max_default)
            max_default = bx.b[i].uidvalidity;

    CHECK_INT(create(acct, "x", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "x", &m), STORE_OK);
    uint32_t prev = m.uidvalidity;
    CHECK(prev > max_default);
    /* Within the same second, five times over: always a new, larger one. */
    for (int i = 0; i < 5; i++) {
        CHECK_INT(delete(acct, "x"), STORE_OK);
        CHECK_INT(get(acct, a, "x", &m), STORE_ERR_NOT_FOUND);
        CHECK_INT(create(acct, "x", NULL), STORE_OK);
        CHECK_INT(get(acct, a, "x", &m), STORE_OK);
        CHECK(m.uidvalidity > prev);
        CHECK_INT(m.uidnext, 1);
        prev = m.uidvalidity;
    }
    /* Another name also gets a new one. */
    CHECK_INT(create(acct, "y", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "y", &m), STORE_OK);
    CHECK(m.uidvalidity > prev);
    arena_free(a);
    store_acct_close(acct);
}

static void test_delete(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;

    CHECK_INT(delete(acct, "INBOX"), STORE_ERR_INVALID);
    CHECK_INT(delete(acct, "inbox"), STORE_ERR_INVALID);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(delete(acct, "Nothing"), STORE_ERR_NOT_FOUND);

    /* A leaf goes away entirely. */
    CHECK_INT(delete(acct, "Junk"), STORE_OK);
    CHECK_INT(get(acct, a, "Junk", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(delete(acct, "Junk"), STORE_ERR_NOT_FOUND);

    /* With children: \Noselect, children untouched. */
    CHECK_INT(create(acct, "p/q", NULL), STORE_OK);
    uint32_t uid;
    CHECK_INT(append(acct, "p", "Subject: in p\r\n\r\nbody\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);
    CHECK_INT(append(acct, "p/q", "Subject: in q\r\n\r\nbody\r\n", 0, &uid), STORE_OK);
    CHECK_INT(get(acct, a, "p", &m), STORE_OK);
    uint32_t old_uidvalidity = m.uidvalidity;
    CHECK_INT(delete(acct, "p"), STORE_OK);
    CHECK_INT(get(acct, a, "p", &m), STORE_OK);
    CHECK(m.noselect);
    CHECK(m.has_children);
    CHECK_INT(m.messages, 0);
    CHECK_INT(get(acct, a, "p/q", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK_INT(m.messages, 1);
    struct boxes bx;
    CHECK_INT(list_boxes(acct, &bx), STORE_OK);
    int i = find_box(&bx, "p");
    CHECK(i >= 0);
    if (i >= 0) {
        CHECK(bx.b[i].noselect);
        CHECK(bx.b[i].has_children);
    }
    /* A \Noselect name holds no messages. */
    struct msgs ms;
    CHECK_INT(list_msgs(acct, "p", &ms), STORE_ERR_NOT_FOUND);
    CHECK_INT(ms.n, 0);

    /* Recreating it works: selectable again, a new UIDVALIDITY, UIDs from 1. */
    CHECK_INT(create(acct, "p", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "p", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK(m.has_children);
    CHECK(m.uidvalidity > old_uidvalidity);
    CHECK_INT(m.uidnext, 1);
    CHECK_INT(m.messages, 0);
    CHECK_INT(create(acct, "p", NULL), STORE_ERR_EXISTS);
    CHECK_INT(append(acct, "p", "Subject: again\r\n\r\nbody\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);

    /* Once the child is gone, the parent no longer has children. */
    CHECK_INT(delete(acct, "p/q"), STORE_OK);
    CHECK_INT(get(acct, a, "p/q", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "p", &m), STORE_OK);
    CHECK(!m.has_children);
    CHECK_INT(m.messages, 1);
    CHECK_INT(delete(acct, "p"), STORE_OK);
    CHECK_INT(get(acct, a, "p", &m), STORE_ERR_NOT_FOUND);
    arena_free(a);
    store_acct_close(acct);
}

static void test_rename(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint32_t uid;

    CHECK_INT(create(acct, "a/b", NULL), STORE_OK);
    CHECK_INT(append(acct, "a", "Subject: 1\r\n\r\none\r\n", STORE_FLAG_SEEN, &uid), STORE_OK);
    CHECK_INT(append(acct, "a", "Subject: 2\r\n\r\ntwo\r\n", 0, &uid), STORE_OK);
    CHECK_INT(append(acct, "a/b", "Subject: 3\r\n\r\nthree\r\n", 0, &uid), STORE_OK);
    struct msgs a_before, b_before, ms;
    CHECK_INT(list_msgs(acct, "a", &a_before), STORE_OK);
    CHECK_INT(a_before.n, 2);
    CHECK_INT(list_msgs(acct, "a/b", &b_before), STORE_OK);
    CHECK_INT(b_before.n, 1);
    struct store_mailbox a_box;
    CHECK_INT(get(acct, a, "a", &a_box), STORE_OK);

    CHECK_INT(rename_box(acct, "a", "c"), STORE_OK);
    CHECK_INT(get(acct, a, "a", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "a/b", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "c", &m), STORE_OK);
    CHECK(m.has_children);
    CHECK(!m.noselect);
    CHECK_INT(m.uidvalidity, a_box.uidvalidity);
    CHECK_INT(m.uidnext, 3);
    CHECK_INT(m.messages, 2);
    CHECK_INT(m.unseen, 1);
    CHECK_INT(m.highestmodseq, a_box.highestmodseq);
    CHECK_INT(get(acct, a, "c/b", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    /* Same messages, same UIDs, same files, same flags. */
    CHECK_INT(list_msgs(acct, "c", &ms), STORE_OK);
    CHECK_INT(ms.n, 2);
    for (int i = 0; i < 2 && i < ms.n; i++) {
        CHECK_INT(ms.m[i].uid, a_before.m[i].uid);
        CHECK_STR(ms.m[i].file, a_before.m[i].file);
        CHECK_INT(ms.m[i].flags, a_before.m[i].flags);
    }
    CHECK_INT(list_msgs(acct, "c/b", &ms), STORE_OK);
    CHECK_INT(ms.n, 1);
    if (ms.n == 1) {
        CHECK_INT(ms.m[0].uid, 1);
        CHECK_STR(ms.m[0].file, b_before.m[0].file);
    }
    /* The next UID continues. */
    CHECK_INT(append(acct, "c", "Subject: 4\r\n\r\nfour\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 3);

    /* Into itself, onto itself. */
    CHECK_INT(rename_box(acct, "c", "c/d"), STORE_ERR_INVALID);
    CHECK_INT(rename_box(acct, "c", "c/b/x"), STORE_ERR_INVALID);
    CHECK_INT(rename_box(acct, "c", "c"), STORE_ERR_INVALID);
    CHECK_INT(get(acct, a, "c/d", &m), STORE_ERR_NOT_FOUND);
    /* "c2" merely starts with "c": not inside it. */
    CHECK_INT(rename_box(acct, "c/b", "c2"), STORE_OK);
    CHECK_INT(get(acct, a, "c2", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(get(acct, a, "c", &m), STORE_OK);
    CHECK(!m.has_children);
    CHECK_INT(rename_box(acct, "c2", "c/b"), STORE_OK);

    /* Onto an existing name (selectable, or a default one). */
    CHECK_INT(rename_box(acct, "c", "Sent"), STORE_ERR_EXISTS);
    CHECK_INT(create(acct, "e", NULL), STORE_OK);
    CHECK_INT(rename_box(acct, "c", "e"), STORE_ERR_EXISTS);
    CHECK_INT(rename_box(acct, "c", "inbox"), STORE_ERR_EXISTS);
    CHECK_INT(get(acct, a, "c", &m), STORE_OK);
    CHECK_INT(m.messages, 3);
    CHECK_INT(get(acct, a, "c/b", &m), STORE_OK);
    CHECK_INT(get(acct, a, "e", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    /* A missing source. */
    CHECK_INT(rename_box(acct, "nothing", "z"), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "z", &m), STORE_ERR_NOT_FOUND);

    /* Deeper, with parents made on the way. */
    CHECK_INT(rename_box(acct, "c", "x/y/z"), STORE_OK);
    CHECK_INT(get(acct, a, "x", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK_INT(get(acct, a, "x/y", &m), STORE_OK);
    CHECK_INT(get(acct, a, "x/y/z", &m), STORE_OK);
    CHECK_INT(m.messages, 3);
    CHECK_INT(m.uidvalidity, a_box.uidvalidity);
    CHECK_INT(get(acct, a, "x/y/z/b", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(get(acct, a, "c", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "c/b", &m), STORE_ERR_NOT_FOUND);

    /* Renaming to an INBOX child goes by the canonical name. */
    CHECK_INT(rename_box(acct, "e", "inbox/e"), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX/e", &m), STORE_OK);
    CHECK_STR(m.name, "INBOX/e");

    /* A default mailbox can be renamed; the name is then free again. */
    CHECK_INT(rename_box(acct, "Trash", "Bin"), STORE_OK);
    CHECK_INT(get(acct, a, "Bin", &m), STORE_OK);
    CHECK_STR(m.special_use, "\\Trash");
    CHECK_INT(get(acct, a, "Trash", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(create(acct, "Trash", NULL), STORE_OK);

    /* Where a child of the new name already exists: refused, nothing moved. */
    CHECK_INT(create(acct, "f/b", NULL), STORE_OK);
    CHECK_INT(create(acct, "g/b", NULL), STORE_OK);
    CHECK_INT(delete(acct, "g"), STORE_OK); /* g: \Noselect, g/b stays */
    CHECK_INT(rename_box(acct, "f", "g"), STORE_ERR_EXISTS);
    CHECK_INT(get(acct, a, "f", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK_INT(get(acct, a, "f/b", &m), STORE_OK);
    CHECK_INT(get(acct, a, "g", &m), STORE_OK);
    CHECK(m.noselect);
    arena_free(a);
    store_acct_close(acct);
}

static void test_rename_inbox(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint32_t uid;
    char *err = NULL;

    for (int i = 1; i <= 4; i++) {
        char text[64];
        snprintf(text, sizeof(text), "Subject: %d\r\n\r\nbody %d\r\n", i, i);
        CHECK_INT(append(acct, "INBOX", text, i == 3 ? STORE_FLAG_SEEN : 0, &uid), STORE_OK);
        CHECK_INT(uid, (uint32_t)i);
    }
    /* A gap: INBOX holds UIDs 1, 3, 4. */
    uint32_t two = 2;
    CHECK_INT(store_message_set_flags(acct, "INBOX", &two, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(store_message_expunge(acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    free(err);
    err = NULL;
    struct msgs inbox_before, ms;
    CHECK_INT(list_msgs(acct, "INBOX", &inbox_before), STORE_OK);
    CHECK_INT(inbox_before.n, 3);
    struct store_mailbox inbox;
    CHECK_INT(get(acct, a, "INBOX", &inbox), STORE_OK);
    CHECK_INT(inbox.uidnext, 5);
    CHECK_INT(create(acct, "INBOX/kid", NULL), STORE_OK);
    CHECK_INT(append(acct, "INBOX/kid", "Subject: kid\r\n\r\nkid\r\n", 0, &uid), STORE_OK);

    CHECK_INT(rename_box(acct, "inbox", "Old/2026"), STORE_OK);

    /* INBOX's children are unaffected (RFC 9051 6.3.6). */
    CHECK_INT(get(acct, a, "INBOX/kid", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(get(acct, a, "Old/2026/kid", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK(m.has_children);
    CHECK_INT(get(acct, a, "Old/2026", &m), STORE_OK);
    CHECK(!m.has_children);

    /* The messages moved, renumbered from 1 in their order. */
    CHECK_INT(get(acct, a, "Old", &m), STORE_OK);
    CHECK(!m.noselect);
    CHECK_INT(get(acct, a, "Old/2026", &m), STORE_OK);
    CHECK_INT(m.messages, 3);
    CHECK_INT(m.unseen, 2);
    CHECK_INT(m.uidnext, 4);
    CHECK(m.uidvalidity != inbox.uidvalidity);
    CHECK_INT(list_msgs(acct, "Old/2026", &ms), STORE_OK);
    CHECK_INT(ms.n, 3);
    for (int i = 0; i < 3 && i < ms.n && i < inbox_before.n; i++) {
        CHECK_INT(ms.m[i].uid, (uint32_t)i + 1);
        CHECK_STR(ms.m[i].file, inbox_before.m[i].file);
        CHECK_INT(ms.m[i].flags, inbox_before.m[i].flags);
        CHECK(ms.m[i].modseq <= m.highestmodseq);
    }
    CHECK_INT(append(acct, "Old/2026", "Subject: 5\r\n\r\nfive\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 4);

    /* INBOX is still there, empty, same UIDVALIDITY; its UIDs are not
     * given out again. */
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    CHECK_INT(m.unseen, 0);
    CHECK_INT(m.size, 0);
    CHECK_INT(m.uidvalidity, inbox.uidvalidity);
    CHECK_INT(m.uidnext, 5);
    /* The messages left INBOX: a change to INBOX, so a new MODSEQ, and
     * their UIDs are reported as vanished (QRESYNC) like any expunge. */
    CHECK(m.highestmodseq > inbox.highestmodseq);
    struct uids van = { 0 };
    CHECK_INT(store_message_vanished(acct, "INBOX", inbox.highestmodseq, uids_cb, &van, &err),
              STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(van.n, 3);
    if (van.n == 3) {
        CHECK_INT(van.u[0], 1);
        CHECK_INT(van.u[1], 3);
        CHECK_INT(van.u[2], 4);
    }
    CHECK_INT(list_msgs(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 0);
    CHECK_INT(append(acct, "INBOX", "Subject: new\r\n\r\nnew\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 5);

    /* Onto an existing name, or into itself: refused, nothing moved. */
    CHECK_INT(rename_box(acct, "INBOX", "Sent"), STORE_ERR_EXISTS);
    CHECK_INT(rename_box(acct, "INBOX", "INBOX"), STORE_ERR_INVALID);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(get(acct, a, "Sent", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    arena_free(a);
    store_acct_close(acct);
}

/* INBOX's rename moves its messages, not its hierarchy, so a new name
 * under INBOX is not "into itself" (a common way to archive INBOX). */
static void test_rename_inbox_to_child(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint32_t uid;
    CHECK_INT(append(acct, "INBOX", "Subject: 1\r\n\r\none\r\n", 0, &uid), STORE_OK);
    CHECK_INT(append(acct, "INBOX", "Subject: 2\r\n\r\ntwo\r\n", 0, &uid), STORE_OK);
    CHECK_INT(rename_box(acct, "INBOX", "INBOX/2025"), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX/2025", &m), STORE_OK);
    CHECK_INT(m.messages, 2);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    CHECK(m.has_children);
    arena_free(a);
    store_acct_close(acct);
}

static void test_subscribe(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;

    /* A name that does not exist may be subscribed; it shows once made. */
    CHECK_INT(subscribe(acct, "Later/box", true), STORE_OK);
    CHECK_INT(get(acct, a, "Later/box", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(create(acct, "Later/box", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "Later/box", &m), STORE_OK);
    CHECK(m.subscribed);
    CHECK_INT(get(acct, a, "Later", &m), STORE_OK);
    CHECK(!m.subscribed);

    /* Off and on again; twice is harmless. */
    CHECK_INT(subscribe(acct, "Sent", false), STORE_OK);
    CHECK_INT(get(acct, a, "Sent", &m), STORE_OK);
    CHECK(!m.subscribed);
    CHECK_INT(subscribe(acct, "Sent", false), STORE_OK);
    CHECK_INT(subscribe(acct, "Sent", true), STORE_OK);
    CHECK_INT(subscribe(acct, "Sent", true), STORE_OK);
    CHECK_INT(get(acct, a, "Sent", &m), STORE_OK);
    CHECK(m.subscribed);
    /* Unsubscribing a name never subscribed is fine too. */
    CHECK_INT(subscribe(acct, "Never", false), STORE_OK);

    /* INBOX by any case. */
    CHECK_INT(subscribe(acct, "inbox", false), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK(!m.subscribed);
    CHECK_INT(subscribe(acct, "Inbox", true), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK(m.subscribed);

    /* Subscriptions outlive their mailbox. */
    CHECK_INT(subscribe(acct, "Gone", true), STORE_OK);
    CHECK_INT(create(acct, "Gone", NULL), STORE_OK);
    CHECK_INT(delete(acct, "Gone"), STORE_OK);
    CHECK_INT(create(acct, "Gone", NULL), STORE_OK);
    CHECK_INT(get(acct, a, "Gone", &m), STORE_OK);
    CHECK(m.subscribed);

    CHECK_INT(subscribe(acct, "", true), STORE_ERR_INVALID);
    CHECK_INT(subscribe(acct, "a//b", true), STORE_ERR_INVALID);
    arena_free(a);
    store_acct_close(acct);
}

/* store_subscription_list: every subscribed name, mailbox or not, INBOX
 * first, then by name. */
struct names {
    int n;
    char v[MAXBOX][64];
};

static int names_cb(void *ctx, const char *name)
{
    struct names *ns = ctx;
    if (ns->n == MAXBOX)
        return 1;
    snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
    return 0;
}

static void test_subscription_list(void)
{
    struct store_acct *acct = new_acct();
    char *err = NULL;
    CHECK_INT(subscribe(acct, "#news.comp.mail.mime", true), STORE_OK);
    CHECK_INT(subscribe(acct, "Fruit/Peach", true), STORE_OK);
    CHECK_INT(subscribe(acct, "Junk", false), STORE_OK);
    struct names ns = { 0 };
    CHECK_INT(store_subscription_list(acct, names_cb, &ns, &err), STORE_OK);
    const char *want[] = { "INBOX", "#news.comp.mail.mime", "Archive", "Drafts", "Fruit/Peach",
                           "Sent", "Trash" };
    CHECK_INT(ns.n, 7);
    for (int i = 0; i < ns.n && i < 7; i++)
        CHECK_STR(ns.v[i], want[i]);
    /* A non-zero return stops. */
    struct names one = { .n = MAXBOX - 1 };
    CHECK_INT(store_subscription_list(acct, names_cb, &one, &err), STORE_OK);
    CHECK_INT(one.n, MAXBOX);
    free(err);
    store_acct_close(acct);
}

static int recent(struct store_acct *acct, const char *name, bool claim, uint32_t *first,
                  uint32_t *next)
{
    char *err = NULL;
    *first = *next = 0;
    int r = store_mailbox_recent(acct, name, claim, first, next, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

/* \Recent: the first session to claim gets the messages, once; looking
 * takes nothing; new mailboxes start at 1; copies are recent. */
static void test_recent(void)
{
    struct store_acct *acct = new_acct();
    uint32_t first, next, uid;
    CHECK_INT(recent(acct, "INBOX", false, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 1);
    CHECK_INT(append(acct, "INBOX", "Subject: a\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    CHECK_INT(append(acct, "INBOX", "Subject: b\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    /* Looking twice sees the same; claiming takes them. */
    CHECK_INT(recent(acct, "inbox", false, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 3);
    CHECK_INT(recent(acct, "INBOX", false, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 3);
    CHECK_INT(recent(acct, "INBOX", true, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 3);
    CHECK_INT(recent(acct, "INBOX", true, &first, &next), STORE_OK);
    CHECK_INT(first, 3);
    CHECK_INT(next, 3);
    CHECK_INT(append(acct, "INBOX", "Subject: c\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    CHECK_INT(recent(acct, "INBOX", true, &first, &next), STORE_OK);
    CHECK_INT(first, 3);
    CHECK_INT(next, 4);
    /* A copy arrives as recent; a claim elsewhere leaves INBOX alone. */
    char *err = NULL;
    CHECK_INT(store_message_copy(acct, "INBOX", &uid, 1, "Archive", false, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(recent(acct, "Archive", true, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 2);
    CHECK_INT(recent(acct, "INBOX", false, &first, &next), STORE_OK);
    CHECK_INT(first, 4);
    CHECK_INT(next, 4);
    /* A \Noselect name has none; made again, it starts over. */
    CHECK_INT(create(acct, "p/q", NULL), STORE_OK);
    CHECK_INT(append(acct, "p", "Subject: p\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    CHECK_INT(recent(acct, "p", true, &first, &next), STORE_OK);
    CHECK_INT(delete(acct, "p"), STORE_OK);
    CHECK_INT(recent(acct, "p", false, &first, &next), STORE_ERR_NOT_FOUND);
    CHECK_INT(recent(acct, "nonesuch", true, &first, &next), STORE_ERR_NOT_FOUND);
    CHECK_INT(recent(acct, "a//b", true, &first, &next), STORE_ERR_INVALID);
    CHECK_INT(create(acct, "p", NULL), STORE_OK);
    CHECK_INT(append(acct, "p", "Subject: p\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);
    CHECK_INT(recent(acct, "p", false, &first, &next), STORE_OK);
    CHECK_INT(first, 1);
    CHECK_INT(next, 2);
    /* INBOX renamed: its messages move, and are not new where they land. */
    CHECK_INT(rename_box(acct, "INBOX", "Old"), STORE_OK);
    CHECK_INT(recent(acct, "Old", false, &first, &next), STORE_OK);
    CHECK_INT(first, next);
    CHECK_INT(next, 4);
    free(err);
    store_acct_close(acct);
}

/* An index from before \Recent was kept: its mail is not new. */
static void test_recent_migration(void)
{
    struct store_acct *acct = new_acct();
    int64_t id = last_account_id;
    uint32_t first, next, uid;
    CHECK_INT(append(acct, "INBOX", "Subject: a\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    store_acct_close(acct);
    CHECK_INT(fixture_index_sql(tmpdir, id,
                                "ALTER TABLE mailboxes DROP COLUMN recent_uid;"
                                " ALTER TABLE files DROP COLUMN wire_size;"
                                " PRAGMA user_version = 3"),
              0);
    char *err = NULL;
    acct = NULL;
    CHECK_INT(store_acct_open(store, id, &acct, &err), STORE_OK);
    free(err);
    if (!acct)
        return;
    CHECK_INT(recent(acct, "INBOX", false, &first, &next), STORE_OK);
    CHECK_INT(first, 2);
    CHECK_INT(next, 2);
    CHECK_INT(append(acct, "INBOX", "Subject: b\r\n\r\nx\r\n", 0, &uid), STORE_OK);
    CHECK_INT(recent(acct, "INBOX", true, &first, &next), STORE_OK);
    CHECK_INT(first, 2);
    CHECK_INT(next, 3);
    store_acct_close(acct);
}

static void test_accounts_separate(void)
{
    struct store_acct *one = new_acct();
    struct store_acct *two = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    CHECK_INT(create(one, "Only/in/one", NULL), STORE_OK);
    CHECK_INT(get(two, a, "Only", &m), STORE_ERR_NOT_FOUND);
    CHECK_INT(delete(two, "Sent"), STORE_OK);
    CHECK_INT(get(one, a, "Sent", &m), STORE_OK);
    arena_free(a);
    store_acct_close(one);
    store_acct_close(two);
}

int main(void)
{
    setup();
    RUN(test_defaults);
    RUN(test_reopen_keeps_mailboxes);
    RUN(test_create);
    RUN(test_names);
    RUN(test_uidvalidity_unique);
    RUN(test_delete);
    RUN(test_rename);
    RUN(test_rename_inbox);
    RUN(test_rename_inbox_to_child);
    RUN(test_subscribe);
    RUN(test_subscription_list);
    RUN(test_recent);
    RUN(test_recent_migration);
    RUN(test_accounts_separate);
    teardown();
    return TEST_DONE();
}
