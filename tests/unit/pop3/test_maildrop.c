/* The store's side of POP3 on a real store: the maildrop at login (wire
 * sizes for files with bare LFs, the size cache), opening files, and
 * QUIT's deletions. */
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "pop3/encode.h"
#include "pop3/maildrop.h"
#include "store/fixture.h"
#include "test.h"

static char dir[] = "/tmp/outpost-pop3-XXXXXX";
static struct store *st;
static struct auth_credentials cred;
static int64_t account;

static const char *const stored[] = {
    "Subject: crlf\r\n\r\nbody\r\n",
    "Subject: lf\n\n.dot\nbare\n",
    "Subject: no end\r\n\r\nlast",
};

static uint32_t append(const char *msg)
{
    struct store_acct *acct;
    char *err = NULL;
    if (store_acct_take(st, account, &acct, &err) != STORE_OK)
        fixture_die("store_acct_take", err);
    struct store_append_req req = { .mailbox = "INBOX", .data = msg, .len = strlen(msg) };
    uint32_t uid = 0;
    if (store_message_append(acct, &req, &uid, &err) != STORE_OK)
        fixture_die("store_message_append", err);
    store_acct_give(acct);
    return uid;
}

static uint32_t inbox_uidvalidity(void)
{
    struct store_acct *acct;
    char *err = NULL;
    if (store_acct_take(st, account, &acct, &err) != STORE_OK)
        fixture_die("store_acct_take", err);
    struct arena *a = arena_new(0);
    struct store_mailbox mb;
    if (store_mailbox_get(acct, a, "INBOX", &mb, &err) != STORE_OK)
        fixture_die("store_mailbox_get", err);
    uint32_t v = mb.uidvalidity;
    arena_free(a);
    store_acct_give(acct);
    return v;
}

static void test_load_sizes_and_cache(void)
{
    uint32_t uids[3];
    for (int i = 0; i < 3; i++)
        uids[i] = append(stored[i]);
    struct pop3_maildrop md;
    char *err = NULL;
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.n, 3);
    CHECK_INT(md.uidvalidity, inbox_uidvalidity());
    CHECK_INT(md.scanned, 3);
    for (uint32_t i = 0; i < md.n && i < 3; i++) {
        CHECK_INT(md.msgs[i].uid, uids[i]);
        CHECK_INT(md.msgs[i].size, pop3_wire_size(str_from_cstr(stored[i])));
    }
    /* The bare-LF message: 4 LFs more than stored; the last one a CRLF. */
    CHECK_INT(md.msgs[1].size, strlen(stored[1]) + 4);
    CHECK_INT(md.msgs[2].size, strlen(stored[2]) + 2);
    pop3_maildrop_free(&md);
    /* Files never change: the second login reads none of them, nor does
     * one after a restart (the sizes are kept with the files). */
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.scanned, 0);
    CHECK_INT(md.msgs[1].size, strlen(stored[1]) + 4);
    pop3_maildrop_free(&md);
    store_close(st);
    st = NULL;
    struct store_options opt = { .data_dir = dir };
    CHECK_INT(store_open(&opt, &st, &err), STORE_OK);
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.scanned, 0);
    CHECK_INT(md.n, 3);
    CHECK_INT(md.msgs[1].size, strlen(stored[1]) + 4);
    CHECK_INT(md.msgs[2].size, strlen(stored[2]) + 2);
    pop3_maildrop_free(&md);
    /* New mail is read once (then removed again for the tests below). */
    uint32_t extra = append(stored[0]), removed = 0;
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.scanned, 1);
    CHECK_INT(md.n, 4);
    CHECK_INT(pop3_maildrop_expunge(st, account, md.uidvalidity, &extra, 1, &removed, &err),
              STORE_OK);
    CHECK_INT(removed, 1);
    pop3_maildrop_free(&md);
}

static void test_open_reads_the_stored_bytes(void)
{
    struct pop3_maildrop md;
    char *err = NULL;
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    bool gone = true;
    int fd = pop3_maildrop_open(st, account, md.files[1], &gone, &err);
    CHECK(fd >= 0);
    CHECK(!gone);
    char got[100] = { 0 };
    CHECK_INT(read(fd, got, sizeof(got) - 1), strlen(stored[1]));
    CHECK_STR(got, stored[1]);
    close(fd);
    pop3_maildrop_free(&md);
}

static void test_expunge(void)
{
    struct pop3_maildrop md;
    char *err = NULL;
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.n, 3);
    uint32_t del[2] = { md.msgs[0].uid, md.msgs[2].uid }, removed = 9;
    char *file0 = xstrdup(md.files[0]);
    /* Another UIDVALIDITY: the UIDs would name other messages. */
    CHECK_INT(pop3_maildrop_expunge(st, account, md.uidvalidity + 1, del, 2, &removed, &err),
              STORE_ERR_INVALID);
    CHECK_INT(removed, 0);
    free(err);
    err = NULL;
    CHECK_INT(pop3_maildrop_expunge(st, account, md.uidvalidity, del, 2, &removed, &err),
              STORE_OK);
    CHECK_INT(removed, 2);
    /* Again: nothing left to remove, and that is no error. */
    CHECK_INT(pop3_maildrop_expunge(st, account, md.uidvalidity, del, 2, &removed, &err),
              STORE_OK);
    CHECK_INT(removed, 0);
    pop3_maildrop_free(&md);
    CHECK_INT(pop3_maildrop_load(st, account, "t", &md, &err), STORE_OK);
    CHECK_INT(md.n, 1);
    CHECK_INT(md.n ? md.msgs[0].size : 0, strlen(stored[1]) + 4); /* the one kept */
    pop3_maildrop_free(&md);
    /* The file of a removed message is gone. */
    bool gone = false;
    CHECK_INT(pop3_maildrop_open(st, account, file0, &gone, &err), -1);
    CHECK(gone);
    free(err);
    free(file0);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    fixture_open(dir, &st, &cred);
    char *err = NULL;
    if (store_account_add(st, "alice@example.org", "Alice", &cred, 0, &account, &err) != STORE_OK)
        fixture_die("store_account_add", err);
    RUN(test_load_sizes_and_cache);
    RUN(test_open_reads_the_stored_bytes);
    RUN(test_expunge);
    store_close(st);
    fixture_rmtree(dir);
    return TEST_DONE();
}
