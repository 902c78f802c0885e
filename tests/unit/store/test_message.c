/*
 * Unit tests for the messages of an account (store/store.h, "messages"):
 * append, reading files back, listing, flags and keywords with MODSEQ and
 * UNCHANGEDSINCE, copy and move, expunge and vanished UIDs, and the message
 * files on disk (shared by copies, removed with their last message).
 *
 * One store in a fresh temporary directory; every test opens a new account
 * of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

static char tmpdir[64];
static struct store *store;
static struct auth_credentials cred;
static int naccounts;
static int64_t last_account_id;

static void setup(void)
{
    strcpy(tmpdir, "/tmp/outpost-unit-message-XXXXXX");
    fixture_open(tmpdir, &store, &cred);
}

static void teardown(void)
{
    store_close(store);
    fixture_rmtree(tmpdir);
}

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

/* Regular files under data/accounts/<last account>/msg/, and how many of
 * them are temporary (*.tmp). */
static int nfiles, ntmp;

static int count_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F) {
        nfiles++;
        size_t len = strlen(path);
        if (len >= 4 && !strcmp(path + len - 4, ".tmp"))
            ntmp++;
    }
    return 0;
}

static int count_files(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/accounts/%lld/msg", tmpdir, (long long)last_account_id);
    nfiles = ntmp = 0;
    if (nftw(path, count_entry, 16, FTW_PHYS) != 0)
        return -1;
    return nfiles;
}

static int append_full(struct store_acct *acct, const char *mailbox, const void *data, size_t len,
                       unsigned flags, const char *keywords, int64_t date, uint32_t *uid)
{
    char *err = NULL;
    struct store_append_req req = { .mailbox = mailbox, .data = data, .len = len,
                                     .flags = flags, .keywords = keywords,
                                     .internal_date = date };
    *uid = 0;
    int r = store_message_append(acct, &req, uid, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int append(struct store_acct *acct, const char *mailbox, const char *text, unsigned flags,
                  uint32_t *uid)
{
    return append_full(acct, mailbox, text, strlen(text), flags, NULL, 0, uid);
}

static int get(struct store_acct *acct, struct arena *a, const char *name,
               struct store_mailbox *out)
{
    char *err = NULL;
    memset(out, 0, sizeof(*out));
    int r = store_mailbox_get(acct, a, name, out, &err);
    free(err);
    return r;
}

/* The messages store_message_list gives. */
#define MAXMSG 64
struct msgs {
    int n;
    struct {
        uint32_t uid;
        uint64_t modseq;
        unsigned flags;
        char keywords[1024];
        int64_t internal_date;
        uint64_t size;
        char file[40];
    } m[MAXMSG];
};

static int msgs_cb(void *ctx, const struct store_message *m)
{
    struct msgs *ms = ctx;
    if (ms->n == MAXMSG)
        return 1;
    ms->m[ms->n].uid = m->uid;
    ms->m[ms->n].modseq = m->modseq;
    ms->m[ms->n].flags = m->flags;
    snprintf(ms->m[ms->n].keywords, sizeof(ms->m[ms->n].keywords), "%s", m->keywords);
    ms->m[ms->n].internal_date = m->internal_date;
    ms->m[ms->n].size = m->size;
    snprintf(ms->m[ms->n].file, sizeof(ms->m[ms->n].file), "%s", m->file);
    ms->n++;
    return 0;
}

static struct msgs *list_range(struct store_acct *acct, const char *mailbox, uint32_t lo,
                               uint32_t hi, uint64_t since, int *r)
{
    static struct msgs ms;
    char *err = NULL;
    memset(&ms, 0, sizeof(ms));
    *r = store_message_list(acct, mailbox, lo, hi, since, msgs_cb, &ms, &err);
    free(err);
    return &ms;
}

/* Copies the whole list of a mailbox into *out; returns the status. */
static int list_all(struct store_acct *acct, const char *mailbox, struct msgs *out)
{
    int r;
    *out = *list_range(acct, mailbox, 1, UINT32_MAX, 0, &r);
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

struct pairs {
    int n;
    uint32_t from[MAXMSG], to[MAXMSG];
};

static void pairs_cb(void *ctx, uint32_t old_uid, uint32_t new_uid)
{
    struct pairs *p = ctx;
    if (p->n < MAXMSG) {
        p->from[p->n] = old_uid;
        p->to[p->n++] = new_uid;
    }
}

static int set_flags(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                     size_t n, enum store_flag_op op, unsigned flags, const char *keywords,
                     uint64_t unchanged_since, struct uids *failed)
{
    char *err = NULL;
    int r = store_message_set_flags(acct, mailbox, uids, n, op, flags, keywords,
                                    unchanged_since, failed ? uids_cb : NULL, failed, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int expunge(struct store_acct *acct, const char *mailbox, const uint32_t *uids, size_t n,
                   struct uids *out)
{
    char *err = NULL;
    int r = store_message_expunge(acct, mailbox, uids, n, out ? uids_cb : NULL, out, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int copy(struct store_acct *acct, const char *from, const uint32_t *uids, size_t n,
                const char *to, bool move, struct pairs *out)
{
    char *err = NULL;
    int r = store_message_copy(acct, from, uids, n, to, move, out ? pairs_cb : NULL, out, &err);
    if (r != STORE_OK)
        CHECK(err != NULL);
    free(err);
    return r;
}

static int vanished(struct store_acct *acct, const char *mailbox, uint64_t since, struct uids *out)
{
    char *err = NULL;
    memset(out, 0, sizeof(*out));
    int r = store_message_vanished(acct, mailbox, since, uids_cb, out, &err);
    free(err);
    return r;
}

static uint64_t highestmodseq(struct store_acct *acct, const char *mailbox)
{
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint64_t h = get(acct, a, mailbox, &m) == STORE_OK ? m.highestmodseq : 0;
    arena_free(a);
    return h;
}

/* The whole content of a message file, through store_message_open; the
 * length in *len, or NULL when it cannot be opened. */
static char *read_message(struct store_acct *acct, const char *file, size_t *len)
{
    char *err = NULL;
    int fd = store_message_open(acct, file, &err);
    if (fd < 0) {
        free(err);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    *len = n;
    return buf;
}

static const char msg1[] = "From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n";
static const char msg2[] = "From: b@example.org\r\nSubject: two\r\n\r\nsecond message\r\n";
static const char msg3[] = "From: c@example.org\r\nSubject: three\r\n\r\nthird, longer body\r\n";

/* Appends n messages "Subject: i" to a mailbox; checks their UIDs are
 * first..first+n-1. */
static void fill(struct store_acct *acct, const char *mailbox, int n, uint32_t first)
{
    for (int i = 0; i < n; i++) {
        char text[64];
        uint32_t uid;
        snprintf(text, sizeof(text), "Subject: %d\r\n\r\nbody %d\r\n", i, i);
        CHECK_INT(append(acct, mailbox, text, 0, &uid), STORE_OK);
        CHECK_INT(uid, first + (uint32_t)i);
    }
}

/* ---- tests ---- */

static void test_append(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint32_t uid;

    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.uidnext, 1);
    uint64_t h0 = m.highestmodseq;

    int64_t t0 = (int64_t)time(NULL);
    CHECK_INT(append(acct, "INBOX", msg1, 0, &uid), STORE_OK);
    int64_t t1 = (int64_t)time(NULL);
    CHECK_INT(uid, 1);
    CHECK_INT(get(acct, a, "inbox", &m), STORE_OK);
    CHECK_INT(m.uidnext, 2);
    CHECK_INT(m.messages, 1);
    CHECK_INT(m.unseen, 1);
    CHECK_INT(m.size, sizeof(msg1) - 1);
    CHECK(m.highestmodseq > h0);
    uint64_t h1 = m.highestmodseq;

    CHECK_INT(append_full(acct, "INBOX", msg2, sizeof(msg2) - 1,
                          STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
                          "  $Forwarded work $forwarded Work  urgent WORK ", 1700000000, &uid),
              STORE_OK);
    CHECK_INT(uid, 2);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.uidnext, 3);
    CHECK_INT(m.messages, 2);
    CHECK_INT(m.unseen, 1);
    CHECK_INT(m.size, sizeof(msg1) - 1 + sizeof(msg2) - 1);
    CHECK(m.highestmodseq > h1);
    uint64_t h2 = m.highestmodseq;

    CHECK_INT(append_full(acct, "INBOX", msg3, sizeof(msg3) - 1,
                          STORE_FLAG_ANSWERED | STORE_FLAG_DELETED | STORE_FLAG_DRAFT, "", 0,
                          &uid),
              STORE_OK);
    CHECK_INT(uid, 3);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.uidnext, 4);
    CHECK_INT(m.messages, 3);
    CHECK_INT(m.unseen, 2);
    CHECK_INT(m.size, sizeof(msg1) - 1 + sizeof(msg2) - 1 + sizeof(msg3) - 1);
    CHECK(m.highestmodseq > h2);

    struct msgs ms;
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 3);
    if (ms.n == 3) {
        CHECK_INT(ms.m[0].uid, 1);
        CHECK_INT(ms.m[0].flags, 0);
        CHECK_STR(ms.m[0].keywords, "");
        CHECK_INT(ms.m[0].size, sizeof(msg1) - 1);
        CHECK(ms.m[0].internal_date >= t0 && ms.m[0].internal_date <= t1);
        CHECK_INT(ms.m[0].modseq, h1);
        CHECK_INT(ms.m[1].uid, 2);
        CHECK_INT(ms.m[1].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
        /* Deduplicated case-insensitively, first spelling kept, in order. */
        CHECK_STR(ms.m[1].keywords, "$Forwarded work urgent");
        CHECK_INT(ms.m[1].internal_date, 1700000000);
        CHECK_INT(ms.m[1].size, sizeof(msg2) - 1);
        CHECK_INT(ms.m[1].modseq, h2);
        CHECK_INT(ms.m[2].uid, 3);
        CHECK_INT(ms.m[2].flags, STORE_FLAG_ANSWERED | STORE_FLAG_DELETED | STORE_FLAG_DRAFT);
        CHECK_STR(ms.m[2].keywords, "");
        CHECK_INT(ms.m[2].modseq, m.highestmodseq);
        /* Each in a file of its own, 32 lowercase hex digits. */
        for (int i = 0; i < 3; i++) {
            CHECK_INT(strlen(ms.m[i].file), 32);
            CHECK_INT(strspn(ms.m[i].file, "0123456789abcdef"), 32);
        }
        CHECK(strcmp(ms.m[0].file, ms.m[1].file) != 0);
        CHECK(strcmp(ms.m[1].file, ms.m[2].file) != 0);
    }
    CHECK_INT(count_files(), 3);
    CHECK_INT(ntmp, 0);

    /* Other mailboxes count from 1 on their own. */
    CHECK_INT(append(acct, "Sent", msg1, STORE_FLAG_SEEN, &uid), STORE_OK);
    CHECK_INT(uid, 1);
    CHECK_INT(get(acct, a, "Sent", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(m.unseen, 0);
    arena_free(a);
    store_acct_close(acct);
}

static void test_append_keywords(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    uint32_t uid;

    /* Not IMAP atoms: refused, nothing stored. */
    const char *const bad[] = { "\\Seen", "a(b", "ok bad\"", "x)", "{3}", "a]", "per%cent",
                                "st*r", "caf\xc3\xa9", "tab\there" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = append_full(acct, "INBOX", msg1, sizeof(msg1) - 1, 0, bad[i], 0, &uid);
        CHECK_INT(r, STORE_ERR_INVALID);
        if (r != STORE_ERR_INVALID)
            fprintf(stderr, "  (keyword \"%s\" accepted)\n", bad[i]);
    }
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    CHECK_INT(m.uidnext, 1);
    CHECK_INT(count_files(), 0);

    /* STORE_KEYWORDS_MAX distinct keywords fit; one more does not, but a
     * duplicate (in another case) on top does not count. */
    char kw[2048] = "";
    for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sk%d", i ? " " : "", i);
        strcat(kw, one);
    }
    char kw_dup[2100];
    snprintf(kw_dup, sizeof(kw_dup), "%s K0 k63", kw);
    char kw_over[2100];
    snprintf(kw_over, sizeof(kw_over), "%s k%d", kw, STORE_KEYWORDS_MAX);

    CHECK_INT(append_full(acct, "INBOX", msg1, sizeof(msg1) - 1, 0, kw, 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);
    CHECK_INT(append_full(acct, "INBOX", msg1, sizeof(msg1) - 1, 0, kw_dup, 0, &uid), STORE_OK);
    CHECK_INT(uid, 2);
    CHECK_INT(append_full(acct, "INBOX", msg1, sizeof(msg1) - 1, 0, kw_over, 0, &uid),
              STORE_ERR_INVALID);
    struct msgs ms;
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 2);
    if (ms.n == 2) {
        CHECK_STR(ms.m[0].keywords, kw);
        CHECK_STR(ms.m[1].keywords, kw);
    }
    CHECK_INT(count_files(), 2);
    /* The refused one did not take a UID. */
    CHECK_INT(append(acct, "INBOX", msg1, 0, &uid), STORE_OK);
    CHECK_INT(uid, 3);
    arena_free(a);
    store_acct_close(acct);
}

static void test_content(void)
{
    struct store_acct *acct = new_acct();
    uint32_t uid;

    static const char with_nul[] = "Subject: nul\r\n\r\na\0b\0\0c\r\n\0";
    size_t nul_len = sizeof(with_nul); /* the final NUL too */
    CHECK_INT(append_full(acct, "INBOX", with_nul, nul_len, 0, NULL, 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);

    size_t big_len = 2 * 1024 * 1024 + 17;
    unsigned char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)((i * 7 + i / 251) & 0xff); /* NULs and all other bytes */
    CHECK_INT(append_full(acct, "INBOX", big, big_len, 0, NULL, 0, &uid), STORE_OK);
    CHECK_INT(uid, 2);

    struct msgs ms;
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 2);
    if (ms.n == 2) {
        CHECK_INT(ms.m[0].size, nul_len);
        CHECK_INT(ms.m[1].size, big_len);
        size_t len = 0;
        char *back = read_message(acct, ms.m[0].file, &len);
        CHECK(back != NULL);
        CHECK_INT(len, nul_len);
        CHECK(back && len == nul_len && memcmp(back, with_nul, nul_len) == 0);
        free(back);
        back = read_message(acct, ms.m[1].file, &len);
        CHECK(back != NULL);
        CHECK_INT(len, big_len);
        CHECK(back && len == big_len && memcmp(back, big, big_len) == 0);
        free(back);

        /* Read-only. */
        char *err = NULL;
        int fd = store_message_open(acct, ms.m[0].file, &err);
        CHECK(fd >= 0);
        if (fd >= 0) {
            CHECK_INT(write(fd, "x", 1), -1);
            CHECK_INT(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
            close(fd);
        }
        free(err);
    }
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.size, nul_len + big_len);
    arena_free(a);

    /* Only names the store makes. */
    const char *const bad[] = { "", "../../../outpost.db", "0123456789abcdef0123456789abcde",
                                "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdef0",
                                "01/3456789abcdef0123456789abcdef" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *err = NULL;
        CHECK_INT(store_message_open(acct, bad[i], &err), -1);
        CHECK(err != NULL);
        free(err);
    }
    /* A well-formed name that is not there. */
    char *err = NULL;
    CHECK_INT(store_message_open(acct, "0123456789abcdef0123456789abcdef", &err), -1);
    CHECK(err != NULL);
    free(err);
    free(big);
    store_acct_close(acct);
}

static int stop_after_two(void *ctx, const struct store_message *m)
{
    (void)m;
    return ++*(int *)ctx == 2;
}

static void test_list(void)
{
    struct store_acct *acct = new_acct();
    fill(acct, "INBOX", 5, 1);
    int r;
    struct msgs *ms = list_range(acct, "INBOX", 2, 4, 0, &r);
    CHECK_INT(r, STORE_OK);
    CHECK_INT(ms->n, 3);
    for (int i = 0; i < ms->n && i < 3; i++)
        CHECK_INT(ms->m[i].uid, (uint32_t)i + 2);
    ms = list_range(acct, "INBOX", 4, UINT32_MAX, 0, &r);
    CHECK_INT(ms->n, 2);
    if (ms->n == 2) {
        CHECK_INT(ms->m[0].uid, 4);
        CHECK_INT(ms->m[1].uid, 5);
    }
    ms = list_range(acct, "INBOX", 3, 3, 0, &r);
    CHECK_INT(ms->n, 1);
    CHECK_INT(ms->m[0].uid, 3);
    uint64_t modseq3 = ms->m[0].modseq;
    ms = list_range(acct, "INBOX", 6, 100, 0, &r);
    CHECK_INT(r, STORE_OK);
    CHECK_INT(ms->n, 0);
    ms = list_range(acct, "INBOX", 4, 2, 0, &r);
    CHECK_INT(r, STORE_OK);
    CHECK_INT(ms->n, 0);

    /* CHANGEDSINCE: MODSEQ strictly above. */
    ms = list_range(acct, "INBOX", 1, UINT32_MAX, modseq3, &r);
    CHECK_INT(ms->n, 2);
    if (ms->n == 2) {
        CHECK_INT(ms->m[0].uid, 4);
        CHECK_INT(ms->m[1].uid, 5);
    }
    uint64_t h = highestmodseq(acct, "INBOX");
    ms = list_range(acct, "INBOX", 1, UINT32_MAX, h, &r);
    CHECK_INT(ms->n, 0);
    uint32_t one = 1;
    CHECK_INT(set_flags(acct, "INBOX", &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL),
              STORE_OK);
    ms = list_range(acct, "INBOX", 1, UINT32_MAX, h, &r);
    CHECK_INT(ms->n, 1);
    CHECK_INT(ms->m[0].uid, 1);
    /* Both together. */
    ms = list_range(acct, "INBOX", 2, 5, modseq3 - 1, &r);
    CHECK_INT(ms->n, 3);
    if (ms->n == 3) {
        CHECK_INT(ms->m[0].uid, 3);
        CHECK_INT(ms->m[2].uid, 5);
    }
    /* A callback that stops early. */
    int seen = 0;
    char *err = NULL;
    CHECK_INT(store_message_list(acct, "INBOX", 1, UINT32_MAX, 0, stop_after_two, &seen, &err),
              STORE_OK);
    free(err);
    CHECK_INT(seen, 2);
    ms = list_range(acct, "Sent", 1, UINT32_MAX, 0, &r);
    CHECK_INT(r, STORE_OK);
    CHECK_INT(ms->n, 0);
    ms = list_range(acct, "No such box", 1, UINT32_MAX, 0, &r);
    CHECK_INT(r, STORE_ERR_NOT_FOUND);
    CHECK_INT(ms->n, 0);
    store_acct_close(acct);
}

static void test_flags(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    struct msgs ms;
    fill(acct, "INBOX", 3, 1);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    uint64_t modseq3 = ms.m[2].modseq;
    uint64_t h = highestmodseq(acct, "INBOX");

    /* ADD on two messages: one new MODSEQ, shared. */
    uint32_t u12[] = { 2, 1 };
    CHECK_INT(set_flags(acct, "INBOX", u12, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 1);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[0].flags, STORE_FLAG_SEEN);
    CHECK_INT(ms.m[1].flags, STORE_FLAG_SEEN);
    CHECK_INT(ms.m[2].flags, 0);
    CHECK_INT(ms.m[0].modseq, h + 1);
    CHECK_INT(ms.m[1].modseq, h + 1);
    CHECK_INT(ms.m[2].modseq, modseq3);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.unseen, 1);
    h++;

    /* Nothing changes: no new MODSEQ. */
    CHECK_INT(set_flags(acct, "INBOX", u12, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(set_flags(acct, "INBOX", u12, 2, STORE_FLAGS_REMOVE, STORE_FLAG_FLAGGED, "none",
                        0, NULL),
              STORE_OK);
    uint32_t u3 = 3;
    CHECK_INT(set_flags(acct, "INBOX", &u3, 1, STORE_FLAGS_SET, 0, NULL, 0, NULL), STORE_OK);
    uint32_t missing = 99;
    CHECK_INT(set_flags(acct, "INBOX", &missing, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
                        NULL),
              STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[0].modseq, h);
    CHECK_INT(ms.m[2].modseq, modseq3);
    CHECK_INT(ms.n, 3);

    /* Only one of two changes: only it gets the new MODSEQ. */
    uint32_t u13[] = { 1, 3 };
    CHECK_INT(set_flags(acct, "INBOX", u13, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 1);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[0].modseq, h);
    CHECK_INT(ms.m[2].modseq, h + 1);
    CHECK_INT(ms.m[2].flags, STORE_FLAG_SEEN);
    h++;

    /* REMOVE, SET. */
    uint32_t all[] = { 3, 1, 2 };
    CHECK_INT(set_flags(acct, "INBOX", all, 3, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, 0,
                        NULL),
              STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 1);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(ms.m[i].flags, 0);
        CHECK_INT(ms.m[i].modseq, h + 1);
    }
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.unseen, 3);
    h++;
    CHECK_INT(set_flags(acct, "INBOX", &u3, 1, STORE_FLAGS_SET,
                        STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(set_flags(acct, "INBOX", &u3, 1, STORE_FLAGS_SET,
                        STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[2].flags, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT);
    CHECK_INT(ms.m[2].modseq, h + 2);
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 2);
    h += 2;

    /* Keywords: ADD keeps the spelling already there, REMOVE ignores case,
     * SET replaces (flags too). */
    uint32_t u1 = 1;
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_ADD, 0, "Work", 0, NULL), STORE_OK);
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_ADD, 0, "work urgent $Label1", 0,
                        NULL),
              STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_STR(ms.m[0].keywords, "Work urgent $Label1");
    CHECK_INT(ms.m[0].modseq, h + 2);
    h += 2;
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_ADD, 0, "WORK", 0, NULL), STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h);
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_REMOVE, 0, "WORK $label1", 0, NULL),
              STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_STR(ms.m[0].keywords, "urgent");
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 1);
    h++;
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_REMOVE, 0, "absent", 0, NULL),
              STORE_OK);
    CHECK_INT(highestmodseq(acct, "INBOX"), h);
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_SET, STORE_FLAG_SEEN, "a b A", 0,
                        NULL),
              STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_STR(ms.m[0].keywords, "a b");
    CHECK_INT(ms.m[0].flags, STORE_FLAG_SEEN);
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_SET, 0, NULL, 0, NULL), STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_STR(ms.m[0].keywords, "");
    CHECK_INT(ms.m[0].flags, 0);
    h = highestmodseq(acct, "INBOX");

    /* Refused: an invalid keyword, or too many; nothing changes. */
    CHECK_INT(set_flags(acct, "INBOX", all, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "ok \\Bad", 0,
                        NULL),
              STORE_ERR_INVALID);
    char kw[2048] = "";
    for (int i = 0; i < STORE_KEYWORDS_MAX; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sk%d", i ? " " : "", i);
        strcat(kw, one);
    }
    CHECK_INT(set_flags(acct, "INBOX", &u1, 1, STORE_FLAGS_SET, 0, kw, 0, NULL), STORE_OK);
    h++;
    CHECK_INT(set_flags(acct, "INBOX", u12, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "one-more", 0,
                        NULL),
              STORE_ERR_INVALID);
    CHECK_INT(highestmodseq(acct, "INBOX"), h);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_STR(ms.m[0].keywords, kw);
    CHECK_INT(ms.m[1].flags, 0); /* message 2 was not changed either */
    CHECK_STR(ms.m[1].keywords, "");

    CHECK_INT(set_flags(acct, "Nowhere", &u1, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, NULL),
              STORE_ERR_NOT_FOUND);
    arena_free(a);
    store_acct_close(acct);
}

static void test_unchangedsince(void)
{
    struct store_acct *acct = new_acct();
    struct msgs ms;
    fill(acct, "INBOX", 3, 1);
    uint32_t u2 = 2;
    CHECK_INT(set_flags(acct, "INBOX", &u2, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0, NULL),
              STORE_OK);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    uint64_t m1 = ms.m[0].modseq, m2 = ms.m[1].modseq, m3 = ms.m[2].modseq;
    CHECK(m1 < m3 && m3 < m2);

    /* UNCHANGEDSINCE m3: message 2 changed after it, so it fails. */
    uint32_t all[] = { 1, 2, 3 };
    struct uids failed = { 0 };
    CHECK_INT(set_flags(acct, "INBOX", all, 3, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, m3,
                        &failed),
              STORE_OK);
    CHECK_INT(failed.n, 1);
    CHECK_INT(failed.u[0], 2);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[0].flags, STORE_FLAG_SEEN);
    CHECK_INT(ms.m[1].flags, STORE_FLAG_FLAGGED);
    CHECK_INT(ms.m[2].flags, STORE_FLAG_SEEN);
    CHECK_INT(ms.m[1].modseq, m2);
    CHECK_INT(ms.m[0].modseq, m2 + 1);
    CHECK_INT(ms.m[2].modseq, m2 + 1);
    CHECK_INT(highestmodseq(acct, "INBOX"), m2 + 1);

    /* Exactly the message's MODSEQ is "unchanged since". */
    failed.n = 0;
    CHECK_INT(set_flags(acct, "INBOX", &u2, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, m2,
                        &failed),
              STORE_OK);
    CHECK_INT(failed.n, 0);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.m[1].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
    CHECK_INT(ms.m[1].modseq, m2 + 2);

    /* All of them newer: all fail, nothing changes, no new MODSEQ. The
     * report comes in UID order, each UID once. */
    failed.n = 0;
    uint32_t rev[] = { 3, 1, 2 };
    CHECK_INT(set_flags(acct, "INBOX", rev, 3, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, NULL, m1,
                        &failed),
              STORE_OK);
    CHECK_INT(failed.n, 3);
    if (failed.n == 3) {
        CHECK_INT(failed.u[0], 1);
        CHECK_INT(failed.u[1], 2);
        CHECK_INT(failed.u[2], 3);
    }
    CHECK_INT(highestmodseq(acct, "INBOX"), m2 + 2);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    for (int i = 0; i < 3; i++)
        CHECK(ms.m[i].flags & STORE_FLAG_SEEN);

    /* A message that would not change still fails the test (RFC 7162
     * §3.2: the check comes first). */
    failed.n = 0;
    CHECK_INT(set_flags(acct, "INBOX", &u2, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, m1,
                        &failed),
              STORE_OK);
    CHECK_INT(failed.n, 1);

    /* A UID given twice: the message passes the test once, against its
     * MODSEQ before this call, and is not reported as failed because of
     * the change this very call made. */
    uint64_t h = highestmodseq(acct, "INBOX");
    failed.n = 0;
    uint32_t twice[] = { 2, 3, 2 };
    CHECK_INT(set_flags(acct, "INBOX", twice, 3, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, NULL, h,
                        &failed),
              STORE_OK);
    CHECK_INT(failed.n, 0);
    if (failed.n)
        fprintf(stderr, "  (UID %u reported as failed)\n", (unsigned)failed.u[0]);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK(ms.m[1].flags & STORE_FLAG_ANSWERED);
    CHECK(ms.m[2].flags & STORE_FLAG_ANSWERED);
    CHECK_INT(ms.m[1].modseq, h + 1);
    CHECK_INT(highestmodseq(acct, "INBOX"), h + 1);
    store_acct_close(acct);
}

static void test_copy_move(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    char *err = NULL;
    CHECK_INT(store_mailbox_create(acct, "Dest", NULL, &err), STORE_OK);
    free(err);
    err = NULL;
    uint32_t uid;
    CHECK_INT(append(acct, "Dest", msg3, 0, &uid), STORE_OK);
    CHECK_INT(uid, 1);
    CHECK_INT(append_full(acct, "INBOX", msg1, sizeof(msg1) - 1, STORE_FLAG_SEEN, "one", 1111,
                          &uid),
              STORE_OK);
    CHECK_INT(append_full(acct, "INBOX", msg2, sizeof(msg2) - 1, 0, NULL, 2222, &uid), STORE_OK);
    CHECK_INT(append_full(acct, "INBOX", msg3, sizeof(msg3) - 1, STORE_FLAG_FLAGGED, "three", 3333,
                          &uid),
              STORE_OK);
    struct msgs src, dst;
    CHECK_INT(list_all(acct, "INBOX", &src), STORE_OK);
    CHECK_INT(src.n, 3);
    CHECK_INT(count_files(), 4);
    uint64_t dst_h = highestmodseq(acct, "Dest");
    uint64_t src_h = highestmodseq(acct, "INBOX");

    /* COPY 3,1: new UIDs in the order of the old ones. */
    struct pairs p = { 0 };
    uint32_t u31[] = { 3, 1 };
    CHECK_INT(copy(acct, "INBOX", u31, 2, "Dest", false, &p), STORE_OK);
    CHECK_INT(p.n, 2);
    if (p.n == 2) {
        CHECK_INT(p.from[0], 1);
        CHECK_INT(p.to[0], 2);
        CHECK_INT(p.from[1], 3);
        CHECK_INT(p.to[1], 3);
    }
    CHECK_INT(list_all(acct, "Dest", &dst), STORE_OK);
    CHECK_INT(dst.n, 3);
    if (dst.n == 3) {
        CHECK_INT(dst.m[1].uid, 2);
        CHECK_STR(dst.m[1].file, src.m[0].file);
        CHECK_INT(dst.m[1].flags, STORE_FLAG_SEEN);
        CHECK_STR(dst.m[1].keywords, "one");
        CHECK_INT(dst.m[1].internal_date, 1111);
        CHECK_INT(dst.m[1].size, sizeof(msg1) - 1);
        CHECK_INT(dst.m[2].uid, 3);
        CHECK_STR(dst.m[2].file, src.m[2].file);
        CHECK_INT(dst.m[2].flags, STORE_FLAG_FLAGGED);
        CHECK_STR(dst.m[2].keywords, "three");
        CHECK_INT(dst.m[2].internal_date, 3333);
        CHECK(dst.m[1].modseq > dst_h);
    }
    CHECK(highestmodseq(acct, "Dest") > dst_h);
    CHECK_INT(get(acct, a, "Dest", &m), STORE_OK);
    CHECK_INT(m.uidnext, 4);
    CHECK_INT(m.messages, 3);
    CHECK_INT(m.unseen, 2);
    CHECK_INT(m.size, 2 * (sizeof(msg3) - 1) + sizeof(msg1) - 1);
    /* The source is untouched, and no file was copied. */
    CHECK_INT(highestmodseq(acct, "INBOX"), src_h);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 3);
    CHECK_INT(count_files(), 4);
    CHECK_INT(ntmp, 0);

    /* A UID given twice is copied once. */
    p.n = 0;
    uint32_t u11[] = { 1, 1 };
    CHECK_INT(copy(acct, "INBOX", u11, 2, "Junk", false, &p), STORE_OK);
    CHECK_INT(p.n, 1);
    CHECK_INT(p.from[0], 1);
    CHECK_INT(p.to[0], 1);
    CHECK_INT(get(acct, a, "Junk", &m), STORE_OK);
    CHECK_INT(m.messages, 1);

    /* Copies of a missing UID: nothing. */
    p.n = 0;
    uint32_t u99 = 99;
    CHECK_INT(copy(acct, "INBOX", &u99, 1, "Dest", false, &p), STORE_OK);
    CHECK_INT(p.n, 0);
    CHECK_INT(get(acct, a, "Dest", &m), STORE_OK);
    CHECK_INT(m.uidnext, 4);
    /* Into the same mailbox: new UIDs there. */
    p.n = 0;
    uint32_t u2 = 2;
    CHECK_INT(copy(acct, "Dest", &u2, 1, "Dest", false, &p), STORE_OK);
    CHECK_INT(p.n, 1);
    CHECK_INT(p.from[0], 2);
    CHECK_INT(p.to[0], 4);

    /* MOVE 2: gone from INBOX (vanished), there in Dest. */
    p.n = 0;
    CHECK_INT(copy(acct, "INBOX", &u2, 1, "Dest", true, &p), STORE_OK);
    CHECK_INT(p.n, 1);
    CHECK_INT(p.from[0], 2);
    CHECK_INT(p.to[0], 5);
    struct msgs after;
    CHECK_INT(list_all(acct, "INBOX", &after), STORE_OK);
    CHECK_INT(after.n, 2);
    if (after.n == 2) {
        CHECK_INT(after.m[0].uid, 1);
        CHECK_INT(after.m[1].uid, 3);
    }
    CHECK(highestmodseq(acct, "INBOX") > src_h);
    struct uids van;
    CHECK_INT(vanished(acct, "INBOX", src_h, &van), STORE_OK);
    CHECK_INT(van.n, 1);
    CHECK_INT(van.u[0], 2);
    CHECK_INT(list_all(acct, "Dest", &dst), STORE_OK);
    CHECK_INT(dst.n, 5);
    if (dst.n == 5) {
        CHECK_INT(dst.m[4].uid, 5);
        CHECK_STR(dst.m[4].file, src.m[1].file);
        CHECK_INT(dst.m[4].internal_date, 2222);
    }
    CHECK_INT(count_files(), 4);
    /* The moved file is still readable. */
    size_t len = 0;
    char *back = read_message(acct, src.m[1].file, &len);
    CHECK(back && len == sizeof(msg2) - 1 && !memcmp(back, msg2, len));
    free(back);

    /* MOVE of several, given out of order. */
    p.n = 0;
    CHECK_INT(copy(acct, "INBOX", u31, 2, "Sent", true, &p), STORE_OK);
    CHECK_INT(p.n, 2);
    if (p.n == 2) {
        CHECK_INT(p.from[0], 1);
        CHECK_INT(p.to[0], 1);
        CHECK_INT(p.from[1], 3);
        CHECK_INT(p.to[1], 2);
    }
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 0);
    CHECK_INT(vanished(acct, "INBOX", src_h, &van), STORE_OK);
    CHECK_INT(van.n, 3);
    CHECK_INT(count_files(), 4);

    /* To a mailbox that is not there. */
    p.n = 0;
    CHECK_INT(copy(acct, "Dest", &u2, 1, "Nowhere", false, &p), STORE_ERR_NOT_FOUND);
    CHECK_INT(copy(acct, "Dest", &u2, 1, "Nowhere", true, &p), STORE_ERR_NOT_FOUND);
    CHECK_INT(copy(acct, "Nowhere", &u2, 1, "Dest", false, &p), STORE_ERR_NOT_FOUND);
    CHECK_INT(p.n, 0);
    CHECK_INT(get(acct, a, "Dest", &m), STORE_OK);
    CHECK_INT(m.messages, 5);
    arena_free(a);
    store_acct_close(acct);
}

static void test_expunge(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    struct uids ex = { 0 }, van;
    struct msgs ms;
    fill(acct, "INBOX", 7, 1);
    CHECK_INT(count_files(), 7);

    /* Nothing \Deleted: nothing expunged, no new MODSEQ. */
    uint64_t h0 = highestmodseq(acct, "INBOX");
    CHECK_INT(expunge(acct, "INBOX", NULL, 0, &ex), STORE_OK);
    CHECK_INT(ex.n, 0);
    CHECK_INT(highestmodseq(acct, "INBOX"), h0);

    uint32_t del[] = { 5, 2, 4 };
    CHECK_INT(set_flags(acct, "INBOX", del, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0, NULL),
              STORE_OK);
    uint64_t h1 = highestmodseq(acct, "INBOX");
    CHECK_INT(expunge(acct, "INBOX", NULL, 0, &ex), STORE_OK);
    CHECK_INT(ex.n, 3);
    if (ex.n == 3) {
        CHECK_INT(ex.u[0], 2);
        CHECK_INT(ex.u[1], 4);
        CHECK_INT(ex.u[2], 5);
    }
    uint64_t h2 = highestmodseq(acct, "INBOX");
    CHECK(h2 > h1);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 4);
    if (ms.n == 4) {
        CHECK_INT(ms.m[0].uid, 1);
        CHECK_INT(ms.m[1].uid, 3);
        CHECK_INT(ms.m[2].uid, 6);
        CHECK_INT(ms.m[3].uid, 7);
    }
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 4);
    CHECK_INT(m.uidnext, 8);
    /* Their files went with them. */
    CHECK_INT(count_files(), 4);

    /* UID EXPUNGE: only \Deleted ones among those given. */
    uint32_t del2[] = { 1, 3, 6 };
    CHECK_INT(set_flags(acct, "INBOX", del2, 3, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0, NULL),
              STORE_OK);
    ex.n = 0;
    uint32_t which[] = { 7, 6, 3, 42 };
    CHECK_INT(expunge(acct, "INBOX", which, 4, &ex), STORE_OK);
    CHECK_INT(ex.n, 2);
    if (ex.n == 2) {
        CHECK_INT(ex.u[0], 3);
        CHECK_INT(ex.u[1], 6);
    }
    uint64_t h3 = highestmodseq(acct, "INBOX");
    CHECK(h3 > h2);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 2);
    if (ms.n == 2) {
        CHECK_INT(ms.m[0].uid, 1);
        CHECK(ms.m[0].flags & STORE_FLAG_DELETED);
        CHECK_INT(ms.m[1].uid, 7);
    }
    CHECK_INT(count_files(), 2);

    /* Vanished: by the MODSEQ of the expunge. */
    CHECK_INT(vanished(acct, "INBOX", h0, &van), STORE_OK);
    CHECK_INT(van.n, 5);
    if (van.n == 5) {
        CHECK_INT(van.u[0], 2);
        CHECK_INT(van.u[1], 3);
        CHECK_INT(van.u[2], 4);
        CHECK_INT(van.u[3], 5);
        CHECK_INT(van.u[4], 6);
    }
    CHECK_INT(vanished(acct, "INBOX", h2, &van), STORE_OK);
    CHECK_INT(van.n, 2);
    if (van.n == 2) {
        CHECK_INT(van.u[0], 3);
        CHECK_INT(van.u[1], 6);
    }
    CHECK_INT(vanished(acct, "INBOX", h3, &van), STORE_OK);
    CHECK_INT(van.n, 0);
    CHECK_INT(vanished(acct, "Sent", 0, &van), STORE_OK);
    CHECK_INT(van.n, 0);

    /* UIDs are never reused. */
    uint32_t uid;
    CHECK_INT(append(acct, "INBOX", msg1, 0, &uid), STORE_OK);
    CHECK_INT(uid, 8);

    /* An empty UID list expunges nothing. */
    ex.n = 0;
    CHECK_INT(expunge(acct, "INBOX", which, 0, &ex), STORE_OK);
    CHECK_INT(ex.n, 0);
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    CHECK_INT(ms.n, 3);
    CHECK_INT(expunge(acct, "Nowhere", NULL, 0, &ex), STORE_ERR_NOT_FOUND);
    CHECK_INT(vanished(acct, "Nowhere", 0, &van), STORE_ERR_NOT_FOUND);
    arena_free(a);
    store_acct_close(acct);
}

static void test_files_shared_and_collected(void)
{
    struct store_acct *acct = new_acct();
    char *err = NULL;
    uint32_t uid;
    CHECK_INT(append(acct, "INBOX", msg1, STORE_FLAG_DELETED, &uid), STORE_OK);
    CHECK_INT(count_files(), 1);
    struct msgs ms;
    CHECK_INT(list_all(acct, "INBOX", &ms), STORE_OK);
    char file[40];
    snprintf(file, sizeof(file), "%s", ms.m[0].file);

    /* Two copies, one file. */
    CHECK_INT(copy(acct, "INBOX", &uid, 1, "Archive", false, NULL), STORE_OK);
    CHECK_INT(copy(acct, "INBOX", &uid, 1, "Trash", false, NULL), STORE_OK);
    CHECK_INT(count_files(), 1);

    /* The original goes: the file stays for the copies. */
    CHECK_INT(expunge(acct, "INBOX", NULL, 0, NULL), STORE_OK);
    CHECK_INT(count_files(), 1);
    size_t len = 0;
    char *back = read_message(acct, file, &len);
    CHECK(back && len == sizeof(msg1) - 1 && !memcmp(back, msg1, len));
    free(back);
    CHECK_INT(expunge(acct, "Archive", NULL, 0, NULL), STORE_OK);
    CHECK_INT(count_files(), 1);
    /* The last one: the file is gone from disk. */
    CHECK_INT(expunge(acct, "Trash", NULL, 0, NULL), STORE_OK);
    CHECK_INT(count_files(), 0);
    int fd = store_message_open(acct, file, &err);
    CHECK_INT(fd, -1);
    if (fd >= 0)
        close(fd);
    free(err);
    err = NULL;

    /* Several files released by one expunge all go. */
    for (int i = 0; i < 5; i++)
        CHECK_INT(append(acct, "INBOX", msg2, STORE_FLAG_DELETED, &uid), STORE_OK);
    CHECK_INT(count_files(), 5);
    CHECK_INT(expunge(acct, "INBOX", NULL, 0, NULL), STORE_OK);
    CHECK_INT(count_files(), 0);

    /* Deleting a mailbox releases its files; renaming INBOX keeps them. */
    CHECK_INT(store_mailbox_create(acct, "Box", NULL, &err), STORE_OK);
    free(err);
    err = NULL;
    for (int i = 0; i < 3; i++)
        CHECK_INT(append(acct, "Box", msg3, 0, &uid), STORE_OK);
    CHECK_INT(append(acct, "INBOX", msg3, 0, &uid), STORE_OK);
    CHECK_INT(count_files(), 4);
    CHECK_INT(store_mailbox_delete(acct, "Box", &err), STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(count_files(), 1);
    CHECK_INT(store_mailbox_rename(acct, "INBOX", "Moved", &err), STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(count_files(), 1);
    CHECK_INT(list_all(acct, "Moved", &ms), STORE_OK);
    CHECK_INT(ms.n, 1);
    back = ms.n == 1 ? read_message(acct, ms.m[0].file, &len) : NULL;
    CHECK(back && len == sizeof(msg3) - 1 && !memcmp(back, msg3, len));
    free(back);
    CHECK_INT(ntmp, 0);
    store_acct_close(acct);
}

static void test_append_not_found(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    char *err = NULL;
    uint32_t uid = 0;

    CHECK_INT(append(acct, "Nowhere", msg1, 0, &uid), STORE_ERR_NOT_FOUND);
    CHECK_INT(uid, 0);
    CHECK_INT(store_mailbox_create(acct, "p/q", NULL, &err), STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(store_mailbox_delete(acct, "p", &err), STORE_OK); /* \Noselect now */
    free(err);
    err = NULL;
    CHECK_INT(get(acct, a, "p", &m), STORE_OK);
    CHECK(m.noselect);
    CHECK_INT(append(acct, "p", msg1, 0, &uid), STORE_ERR_NOT_FOUND);
    CHECK_INT(uid, 0);
    CHECK_INT(append(acct, "", msg1, 0, &uid), STORE_ERR_INVALID);
    CHECK_INT(append(acct, "a//b", msg1, 0, &uid), STORE_ERR_INVALID);
    CHECK_INT(uid, 0);

    /* Nothing landed anywhere, no file was left. */
    const char *const boxes[] = { "INBOX", "Sent", "Drafts", "Junk", "Trash", "Archive", "p/q" };
    for (size_t i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++) {
        CHECK_INT(get(acct, a, boxes[i], &m), STORE_OK);
        CHECK_INT(m.messages, 0);
        CHECK_INT(m.uidnext, 1);
        if (m.messages)
            fprintf(stderr, "  (a refused append landed in %s)\n", boxes[i]);
    }
    CHECK_INT(count_files(), 0);
    arena_free(a);
    store_acct_close(acct);
}

/* POP3's UPDATE: the named messages go whatever their flags, in one
 * transaction; NULL or none removes nothing (never "all"). */
static void test_delete(void)
{
    struct store_acct *acct = new_acct();
    struct arena *a = arena_new(0);
    struct store_mailbox m;
    char *err = NULL;
    uint32_t uids[3];
    for (int i = 0; i < 3; i++)
        CHECK_INT(append(acct, "INBOX", msg1, 0, &uids[i]), STORE_OK);
    CHECK_INT(store_message_delete(acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 3);
    uint32_t gone[] = { uids[0], uids[2], 999 };
    CHECK_INT(store_message_delete(acct, "INBOX", gone, 3, NULL, NULL, &err), STORE_OK);
    CHECK_INT(get(acct, a, "INBOX", &m), STORE_OK);
    CHECK_INT(m.messages, 1);
    CHECK_INT(store_message_delete(acct, "Nowhere", gone, 1, NULL, NULL, &err),
              STORE_ERR_NOT_FOUND);
    free(err);
    arena_free(a);
    store_acct_close(acct);
}

int main(void)
{
    setup();
    RUN(test_append);
    RUN(test_append_keywords);
    RUN(test_content);
    RUN(test_list);
    RUN(test_flags);
    RUN(test_unchangedsince);
    RUN(test_copy_move);
    RUN(test_expunge);
    RUN(test_files_shared_and_collected);
    RUN(test_append_not_found);
    RUN(test_delete);
    teardown();
    return TEST_DONE();
}
