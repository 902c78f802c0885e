/* The account handle pool: a handle given back is the one taken next for
 * the same account, handles in use at once are distinct, a handle given back
 * inside a transaction is closed rather than pooled, the idle count is
 * capped, and store_close closes the idle ones (LeakSanitizer checks). */
#include <stdlib.h>

#include "store/db.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

#define ACCOUNTS 140

static void test_pool(void)
{
    char dir[] = "/tmp/outpost-test-pool-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct store_options opt = { .data_dir = dir };
    struct store *s;
    char *err = NULL;
    const char *why;
    struct auth_credentials cred;
    CHECK_INT(auth_credentials_make("pw", 2, &cred, &why), 0);
    CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
    CHECK_INT(store_domain_add(s, "example.test", &err), STORE_OK);
    int64_t ids[ACCOUNTS];
    for (int i = 0; i < ACCOUNTS; i++) {
        char addr[64];
        snprintf(addr, sizeof(addr), "u%d@example.test", i);
        CHECK_INT(store_account_add(s, addr, "", &cred, 0, &ids[i], &err), STORE_OK);
    }

    struct store_acct *a1, *a2, *b;
    CHECK_INT(store_acct_take(s, ids[0], &a1, &err), STORE_OK);
    CHECK_INT(store_acct_pool_idle(s), 0);
    store_acct_give(a1);
    CHECK_INT(store_acct_pool_idle(s), 1);
    CHECK_INT(store_acct_take(s, ids[0], &a2, &err), STORE_OK);
    CHECK(a2 == a1);
    CHECK_INT(store_acct_pool_idle(s), 0);
    /* In use at once: two handles. */
    CHECK_INT(store_acct_take(s, ids[0], &b, &err), STORE_OK);
    CHECK(b != a2);
    /* Another account never gets this one's handle. */
    store_acct_give(b);
    struct store_acct *other;
    CHECK_INT(store_acct_take(s, ids[1], &other, &err), STORE_OK);
    CHECK(other != b);
    CHECK_INT(store_acct_pool_idle(s), 1);
    /* A handle works after a round trip through the pool. */
    struct arena *ar = arena_new(0);
    struct store_mailbox mb;
    CHECK_INT(store_mailbox_get(a2, ar, "INBOX", &mb, &err), STORE_OK);
    arena_free(ar);
    /* Given back inside a transaction: closed, not pooled. */
    CHECK_INT(acct_begin(a2, &err), STORE_OK);
    store_acct_give(a2);
    CHECK_INT(store_acct_pool_idle(s), 1);
    store_acct_give(other);
    CHECK_INT(store_acct_pool_idle(s), 2);

    /* The cap: one handle per account given back, the oldest closed. */
    for (int i = 0; i < ACCOUNTS; i++) {
        struct store_acct *h;
        CHECK_INT(store_acct_take(s, ids[i], &h, &err), STORE_OK);
        store_acct_give(h);
    }
    unsigned idle = store_acct_pool_idle(s);
    CHECK(idle >= 100);
    CHECK(idle < ACCOUNTS);
    /* The most recent are still there. */
    struct store_acct *last;
    CHECK_INT(store_acct_take(s, ids[ACCOUNTS - 1], &last, &err), STORE_OK);
    CHECK_INT(store_acct_pool_idle(s), idle - 1);
    store_acct_give(last);

    free(err);
    store_close(s);
    fixture_rmtree(dir);
}

int main(void)
{
    if (auth_init() < 0)
        return 1;
    RUN(test_pool);
    return TEST_DONE();
}
