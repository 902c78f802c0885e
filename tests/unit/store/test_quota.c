/* Quota: an account's bytes (distinct message files: copies are free)
 * against its limit, refused as temporary or permanent as configured. */
#include <ftw.h>
#include <stdlib.h>

#include "store/store.h"
#include "fixture.h"
#include "test.h"

static char body[600];

static void run(bool permanent)
{
    char dir[] = "/tmp/outpost-test-quota-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct store_options opt = { .data_dir = dir, .quota_permanent = permanent };
    struct store *s;
    struct store_acct *acct;
    char *err = NULL;
    const char *why;
    struct auth_credentials cred;
    int64_t id;
    CHECK_INT(auth_credentials_make("pw", 2, &cred, &why), 0);
    CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
    CHECK_INT(store_domain_add(s, "example.test", &err), STORE_OK);
    CHECK_INT(store_account_add(s, "q@example.test", "", &cred, 1000, &id, &err), STORE_OK);
    CHECK_INT(store_acct_open(s, id, &acct, &err), STORE_OK);
    memset(body, 'x', sizeof(body));
    struct store_append_req req = { .mailbox = "INBOX", .data = body, .len = sizeof(body) };
    uint32_t uid;
    CHECK_INT(store_message_append(acct, &req, &uid, &err), STORE_OK);
    /* 600 + 600 > 1000 */
    int expect = permanent ? STORE_ERR_QUOTA_PERM : STORE_ERR_QUOTA;
    free(err);
    err = NULL;
    CHECK_INT(store_message_append(acct, &req, NULL, &err), expect);
    CHECK(err && strstr(err, "mailbox full: 600 of 1000 bytes used, the message has 600"));
    free(err);
    err = NULL;
    /* A copy shares the file: it costs nothing. */
    CHECK_INT(store_message_copy(acct, "INBOX", &uid, 1, "Archive", false, NULL, NULL, &err),
              STORE_OK);
    /* Expunging the copy frees nothing (the file stays in use)... */
    struct arena *a = arena_new(0);
    struct store_mailbox mb;
    CHECK_INT(store_mailbox_get(acct, a, "Archive", &mb, &err), STORE_OK);
    CHECK_INT(mb.messages, 1);
    /* ...deleting both does. */
    CHECK_INT(store_mailbox_delete(acct, "Archive", &err), STORE_OK);
    CHECK_INT(store_message_set_flags(acct, "INBOX", &uid, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_expunge(acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    CHECK_INT(store_message_append(acct, &req, NULL, &err), STORE_OK);
    arena_free(a);
    free(err);
    store_acct_close(acct);
    store_close(s);
    fixture_rmtree(dir);
}

static void test_quota_temporary(void)
{
    run(false);
}

static void test_quota_permanent(void)
{
    run(true);
}

int main(void)
{
    if (auth_init() < 0)
        return 1;
    RUN(test_quota_temporary);
    RUN(test_quota_permanent);
    return TEST_DONE();
}
