/*
 * Unit tests for the directory half of store/store.h: domains, accounts and
 * aliases in a store opened in a fresh temporary directory, a second handle
 * on the same store (as another process would have), and reopening.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

static struct auth_credentials cred;  /* made once: hashing is slow */
static char root[64];                 /* the mkdtemp directory */
static char data_dir[128];            /* root/data: store_open creates it */

/* Runs a store call that takes `&err_` as its error pointer; checks its
 * result, that an error comes with a message, and that success leaves none. */
#define EXPECT(call, want)                                                     \
    do {                                                                       \
        char *err_ = NULL;                                                     \
        int r_ = (call);                                                       \
        CHECK_INT(r_, want);                                                   \
        if (r_ != STORE_OK)                                                    \
            CHECK(err_ != NULL && err_[0] != '\0');                            \
        else                                                                   \
            CHECK(err_ == NULL);                                               \
        if (r_ != (want) && err_)                                              \
            fprintf(stderr, "  %s:%d: error: %s\n", __FILE__, __LINE__, err_); \
        free(err_);                                                            \
    } while (0)

static void fixture_new(void)
{
    strcpy(root, "/tmp/outpost-unit-store-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", root);
}

static void fixture_remove(void)
{
    fixture_rmtree(root);
    struct stat st;
    CHECK(stat(root, &st) != 0);
}

static struct store *open_store(const char *seps)
{
    struct store_options opt = { .data_dir = data_dir, .subaddress_separators = seps };
    struct store *s = NULL;
    char *err = NULL;
    int r = store_open(&opt, &s, &err);
    if (r != STORE_OK) {
        fprintf(stderr, "store_open %s: %s\n", data_dir, err ? err : "?");
        free(err);
        exit(2);
    }
    return s;
}

/* ---- collectors for the list calls ---- */

#define MAX_ROWS 16

struct domain_rows {
    int n, stop_after;
    char name[MAX_ROWS][128], unicode[MAX_ROWS][128];
    int accounts[MAX_ROWS], aliases[MAX_ROWS];
};

static int domain_cb(void *ctx, const struct store_domain *d)
{
    struct domain_rows *rows = ctx;
    if (rows->n < MAX_ROWS) {
        snprintf(rows->name[rows->n], 128, "%s", d->name);
        snprintf(rows->unicode[rows->n], 128, "%s", d->unicode);
        rows->accounts[rows->n] = d->accounts;
        rows->aliases[rows->n] = d->aliases;
    }
    rows->n++;
    return rows->stop_after && rows->n >= rows->stop_after;
}

struct account_rows {
    int n, stop_after;
    int64_t id[MAX_ROWS];
    char address[MAX_ROWS][128], display[MAX_ROWS][128];
    unsigned long long quota[MAX_ROWS];
    bool disabled[MAX_ROWS];
};

static int account_cb(void *ctx, const struct store_account *acct)
{
    struct account_rows *rows = ctx;
    if (rows->n < MAX_ROWS) {
        rows->id[rows->n] = acct->id;
        snprintf(rows->address[rows->n], 128, "%s", acct->address);
        snprintf(rows->display[rows->n], 128, "%s", acct->display_name);
        rows->quota[rows->n] = acct->quota;
        rows->disabled[rows->n] = acct->disabled;
    }
    rows->n++;
    return rows->stop_after && rows->n >= rows->stop_after;
}

/* Each alias as "alias=t1,t2,..."; all of them joined with " ". */
struct alias_rows {
    int n, stop_after;
    int ntargets[MAX_ROWS];
    char text[4096];
};

static int alias_cb(void *ctx, const struct store_alias *al)
{
    struct alias_rows *rows = ctx;
    if (rows->n < MAX_ROWS)
        rows->ntargets[rows->n] = al->ntargets;
    size_t len = strlen(rows->text);
    len += (size_t)snprintf(rows->text + len, sizeof(rows->text) - len, "%s%s=",
                            rows->n ? " " : "", al->alias);
    for (int i = 0; i < al->ntargets && len < sizeof(rows->text); i++)
        len += (size_t)snprintf(rows->text + len, sizeof(rows->text) - len, "%s%s",
                                i ? "," : "", al->targets[i]);
    rows->n++;
    return rows->stop_after && rows->n >= rows->stop_after;
}

static void list_domains(struct store *s, struct domain_rows *rows, int stop_after)
{
    memset(rows, 0, sizeof(*rows));
    rows->stop_after = stop_after;
    EXPECT(store_domain_list(s, domain_cb, rows, &err_), STORE_OK);
}

static void list_accounts(struct store *s, const char *domain, struct account_rows *rows,
                          int stop_after)
{
    memset(rows, 0, sizeof(*rows));
    rows->stop_after = stop_after;
    EXPECT(store_account_list(s, domain, account_cb, rows, &err_), STORE_OK);
}

/* The aliases as one string (see alias_cb). */
static const char *list_aliases(struct store *s, const char *domain, struct alias_rows *rows,
                                int stop_after)
{
    memset(rows, 0, sizeof(*rows));
    rows->stop_after = stop_after;
    EXPECT(store_alias_list(s, domain, alias_cb, rows, &err_), STORE_OK);
    return rows->text;
}

static int64_t add_account(struct store *s, const char *address)
{
    int64_t id = 0;
    EXPECT(store_account_add(s, address, NULL, &cred, 0, &id, &err_), STORE_OK);
    CHECK(id > 0);
    return id;
}

static bool same_credentials(const struct auth_credentials *a, const struct auth_credentials *b)
{
    return strcmp(a->hash, b->hash) == 0 &&
           memcmp(a->scram_salt, b->scram_salt, sizeof(a->scram_salt)) == 0 &&
           a->scram_iterations == b->scram_iterations &&
           memcmp(a->scram_stored_key, b->scram_stored_key, sizeof(a->scram_stored_key)) == 0 &&
           memcmp(a->scram_server_key, b->scram_server_key, sizeof(a->scram_server_key)) == 0;
}

/* ---- tests ---- */

static void test_open(void)
{
    fixture_new();
    /* The data directory is made when missing; its parent must exist. */
    struct store_options opt = { .data_dir = data_dir, .subaddress_separators = NULL };
    char missing[192];
    snprintf(missing, sizeof(missing), "%s/no/such", root);
    opt.data_dir = missing;
    struct store *s = (struct store *)&opt; /* must be reset to NULL */
    EXPECT(store_open(&opt, &s, &err_), STORE_ERR_IO);
    CHECK(s == NULL);

    opt.data_dir = data_dir;
    EXPECT(store_open(&opt, &s, &err_), STORE_OK);
    CHECK(s != NULL);
    struct stat st;
    CHECK(stat(data_dir, &st) == 0 && S_ISDIR(st.st_mode));
    char db[192];
    snprintf(db, sizeof(db), "%s/outpost.db", data_dir);
    CHECK(stat(db, &st) == 0 && S_ISREG(st.st_mode));
    struct domain_rows rows;
    list_domains(s, &rows, 0);
    CHECK_INT(rows.n, 0);
    store_close(s);
    store_close(NULL);
    fixture_remove();
}

static void test_domains(void)
{
    fixture_new();
    struct store *s = open_store(NULL);
    struct domain_rows rows;

    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_ERR_EXISTS);
    EXPECT(store_domain_add(s, "A.ORG", &err_), STORE_ERR_EXISTS);
    EXPECT(store_domain_add(s, "b\xC3\xBC" "cher.example", &err_), STORE_OK);
    EXPECT(store_domain_add(s, "xn--bcher-kva.example", &err_), STORE_ERR_EXISTS);
    EXPECT(store_domain_add(s, "B\xC3\x9C" "CHER.example", &err_), STORE_ERR_EXISTS);
    EXPECT(store_domain_add(s, "Z.example", &err_), STORE_OK);
    EXPECT(store_domain_add(s, "localhost", &err_), STORE_ERR_INVALID);
    EXPECT(store_domain_add(s, "", &err_), STORE_ERR_INVALID);
    EXPECT(store_domain_add(s, "a..org", &err_), STORE_ERR_INVALID);
    EXPECT(store_domain_add(s, "user@a.org", &err_), STORE_ERR_INVALID);

    CHECK(store_domain_exists(s, "a.org"));
    CHECK(store_domain_exists(s, "A.Org"));
    CHECK(store_domain_exists(s, "b\xC3\xBC" "cher.example"));
    CHECK(store_domain_exists(s, "xn--bcher-kva.example"));
    CHECK(store_domain_exists(s, "z.example"));
    CHECK(!store_domain_exists(s, "b.org"));
    CHECK(!store_domain_exists(s, "org"));
    CHECK(!store_domain_exists(s, "not a domain"));
    CHECK(!store_domain_exists(s, ""));

    /* By name (the A-label), with the U-label for display. */
    list_domains(s, &rows, 0);
    CHECK_INT(rows.n, 3);
    CHECK_STR(rows.name[0], "a.org");
    CHECK_STR(rows.unicode[0], "a.org");
    CHECK_STR(rows.name[1], "xn--bcher-kva.example");
    CHECK_STR(rows.unicode[1], "b\xC3\xBC" "cher.example");
    CHECK_STR(rows.name[2], "z.example");
    CHECK_STR(rows.unicode[2], "z.example");
    for (int i = 0; i < 3; i++) {
        CHECK_INT(rows.accounts[i], 0);
        CHECK_INT(rows.aliases[i], 0);
    }
    /* A non-zero return stops the listing. */
    list_domains(s, &rows, 1);
    CHECK_INT(rows.n, 1);
    CHECK_STR(rows.name[0], "a.org");
    list_domains(s, &rows, 2);
    CHECK_INT(rows.n, 2);

    /* Counts. */
    add_account(s, "alice@a.org");
    add_account(s, "bob@a.org");
    add_account(s, "max@b\xC3\xBC" "cher.example");
    const char *t[] = { "alice@a.org" };
    EXPECT(store_alias_add(s, "info@a.org", t, 1, &err_), STORE_OK);
    EXPECT(store_alias_add(s, "@a.org", t, 1, &err_), STORE_OK);
    list_domains(s, &rows, 0);
    CHECK_INT(rows.n, 3);
    CHECK_INT(rows.accounts[0], 2);
    CHECK_INT(rows.aliases[0], 2);
    CHECK_INT(rows.accounts[1], 1);
    CHECK_INT(rows.aliases[1], 0);
    CHECK_INT(rows.accounts[2], 0);
    CHECK_INT(rows.aliases[2], 0);

    /* Deleting: refused while in use, NOT_FOUND when unknown. */
    EXPECT(store_domain_del(s, "a.org", &err_), STORE_ERR_IN_USE);
    EXPECT(store_domain_del(s, "xn--bcher-kva.example", &err_), STORE_ERR_IN_USE);
    EXPECT(store_domain_del(s, "nowhere.org", &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_domain_del(s, "not a domain", &err_), STORE_ERR_INVALID);
    CHECK(store_domain_exists(s, "a.org"));

    EXPECT(store_account_del(s, "alice@a.org", &err_), STORE_OK);
    EXPECT(store_account_del(s, "bob@a.org", &err_), STORE_OK);
    EXPECT(store_domain_del(s, "a.org", &err_), STORE_ERR_IN_USE); /* aliases left */
    EXPECT(store_alias_del(s, "info@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT(store_domain_del(s, "a.org", &err_), STORE_ERR_IN_USE); /* the catch-all */
    EXPECT(store_alias_del(s, "@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT(store_domain_del(s, "A.ORG", &err_), STORE_OK);
    CHECK(!store_domain_exists(s, "a.org"));
    EXPECT(store_domain_del(s, "a.org", &err_), STORE_ERR_NOT_FOUND);

    EXPECT(store_account_del(s, "MAX@xn--bcher-kva.example", &err_), STORE_OK);
    EXPECT(store_domain_del(s, "B\xC3\x9C" "CHER.example", &err_), STORE_OK);
    list_domains(s, &rows, 0);
    CHECK_INT(rows.n, 1);
    CHECK_STR(rows.name[0], "z.example");

    /* A deleted domain can come back, empty. */
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    list_domains(s, &rows, 0);
    CHECK_INT(rows.n, 2);
    CHECK_STR(rows.name[0], "a.org");
    CHECK_INT(rows.accounts[0], 0);
    CHECK_INT(rows.aliases[0], 0);

    store_close(s);
    fixture_remove();
}

static void test_accounts(void)
{
    fixture_new();
    struct store *s = open_store(NULL);
    struct arena *a = arena_new(0);
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    EXPECT(store_domain_add(s, "b.org", &err_), STORE_OK);

    int64_t alice = 0, bob = 0;
    EXPECT(store_account_add(s, "Alice@A.ORG", "Alice A.", &cred, 1000000, &alice, &err_),
           STORE_OK);
    CHECK(alice > 0);
    EXPECT(store_account_add(s, "bob@a.org", NULL, &cred, 0, &bob, &err_), STORE_OK);
    CHECK(bob > 0 && bob != alice);
    /* id_r may be NULL. */
    EXPECT(store_account_add(s, "zed@a.org", "Zed", &cred, 5, NULL, &err_), STORE_OK);
    int64_t dave = add_account(s, "dave@b.org");

    /* Duplicates, whatever the case. */
    EXPECT(store_account_add(s, "alice@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);
    EXPECT(store_account_add(s, "ALICE@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);
    EXPECT(store_account_add(s, "Alice@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);
    /* The same local part in another domain is another address. */
    int64_t alice_b = add_account(s, "alice@b.org");
    /* An address taken by an alias. */
    const char *t[] = { "bob@a.org" };
    EXPECT(store_alias_add(s, "info@a.org", t, 1, &err_), STORE_OK);
    EXPECT(store_account_add(s, "Info@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);
    EXPECT(store_account_add(s, "info@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);
    /* Unknown domain, bad addresses. */
    EXPECT(store_account_add(s, "carol@nowhere.org", NULL, &cred, 0, NULL, &err_),
           STORE_ERR_NOT_FOUND);
    EXPECT(store_account_add(s, "carol", NULL, &cred, 0, NULL, &err_), STORE_ERR_INVALID);
    EXPECT(store_account_add(s, "@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_INVALID);
    EXPECT(store_account_add(s, "car ol@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_INVALID);

    /* get: case-insensitive, the address as written. */
    struct store_account acct;
    memset(&acct, 0, sizeof(acct));
    EXPECT(store_account_get(s, a, "ALICE@a.org", &acct, &err_), STORE_OK);
    CHECK_INT(acct.id, alice);
    CHECK_STR(acct.address, "Alice@a.org");
    CHECK_STR(acct.display_name, "Alice A.");
    CHECK_INT(acct.quota, 1000000);
    CHECK(!acct.disabled);
    EXPECT(store_account_get(s, a, "bob@A.org", &acct, &err_), STORE_OK);
    CHECK_INT(acct.id, bob);
    CHECK_STR(acct.address, "bob@a.org");
    CHECK_STR(acct.display_name, "");
    CHECK_INT(acct.quota, 0);
    EXPECT(store_account_get(s, a, "alice@b.org", &acct, &err_), STORE_OK);
    CHECK_INT(acct.id, alice_b);
    EXPECT(store_account_get(s, a, "nobody@a.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_get(s, a, "info@a.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_get(s, a, "alice@nowhere.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_get(s, a, "alice+tag@a.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_get(s, a, "alice", &acct, &err_), STORE_ERR_INVALID);

    /* list: by domain, then local part; all or one domain. */
    struct account_rows rows;
    list_accounts(s, NULL, &rows, 0);
    CHECK_INT(rows.n, 5);
    CHECK_STR(rows.address[0], "Alice@a.org");
    CHECK_INT(rows.id[0], alice);
    CHECK_STR(rows.display[0], "Alice A.");
    CHECK_INT(rows.quota[0], 1000000);
    CHECK(!rows.disabled[0]);
    CHECK_STR(rows.address[1], "bob@a.org");
    CHECK_STR(rows.address[2], "zed@a.org");
    CHECK_STR(rows.display[2], "Zed");
    CHECK_INT(rows.quota[2], 5);
    CHECK_STR(rows.address[3], "alice@b.org");
    CHECK_STR(rows.address[4], "dave@b.org");
    CHECK_INT(rows.id[4], dave);
    list_accounts(s, "B.ORG", &rows, 0);
    CHECK_INT(rows.n, 2);
    CHECK_STR(rows.address[0], "alice@b.org");
    CHECK_STR(rows.address[1], "dave@b.org");
    list_accounts(s, "nowhere.org", &rows, 0);
    CHECK_INT(rows.n, 0);
    list_accounts(s, NULL, &rows, 2);
    CHECK_INT(rows.n, 2);
    memset(&rows, 0, sizeof(rows));
    EXPECT(store_account_list(s, "not a domain", account_cb, &rows, &err_), STORE_ERR_INVALID);
    CHECK_INT(rows.n, 0);

    /* Credentials: as stored, replaced by set_credentials. */
    struct auth_credentials got;
    EXPECT(store_account_credentials(s, "alice@A.org", &got, &err_), STORE_OK);
    CHECK(same_credentials(&got, &cred));
    CHECK(auth_password_verify(got.hash, "pencil", 6));
    struct auth_credentials other = cred;
    /* Another (fake, never verified) set: every field differs. */
    memcpy(other.hash, "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXI$b3RoZXI", 47);
    other.scram_salt[0] ^= 0xFF;
    other.scram_iterations = 4096;
    other.scram_stored_key[31] ^= 0xFF;
    other.scram_server_key[0] ^= 0xFF;
    CHECK(!same_credentials(&other, &cred));
    EXPECT(store_account_set_credentials(s, "ALICE@a.org", &other, &err_), STORE_OK);
    EXPECT(store_account_credentials(s, "alice@a.org", &got, &err_), STORE_OK);
    CHECK(same_credentials(&got, &other));
    /* Only alice's changed. */
    EXPECT(store_account_credentials(s, "bob@a.org", &got, &err_), STORE_OK);
    CHECK(same_credentials(&got, &cred));
    EXPECT(store_account_credentials(s, "alice@b.org", &got, &err_), STORE_OK);
    CHECK(same_credentials(&got, &cred));
    EXPECT(store_account_set_credentials(s, "nobody@a.org", &other, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_set_credentials(s, "info@a.org", &other, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_set_credentials(s, "x@nowhere.org", &other, &err_),
           STORE_ERR_NOT_FOUND);
    EXPECT(store_account_credentials(s, "nobody@a.org", &got, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_credentials(s, "info@a.org", &got, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_credentials(s, "nobody", &got, &err_), STORE_ERR_INVALID);

    /* Disabled: no credentials, still listed and readable. */
    EXPECT(store_account_set_disabled(s, "Bob@a.org", true, &err_), STORE_OK);
    memset(&got, 0xAA, sizeof(got));
    EXPECT(store_account_credentials(s, "bob@a.org", &got, &err_), STORE_ERR_NOT_FOUND);
    CHECK(got.hash[0] == '\0'); /* nothing handed out */
    EXPECT(store_account_get(s, a, "bob@a.org", &acct, &err_), STORE_OK);
    CHECK(acct.disabled);
    list_accounts(s, "a.org", &rows, 0);
    CHECK_INT(rows.n, 3);
    CHECK(!rows.disabled[0]);
    CHECK(rows.disabled[1]);
    CHECK(!rows.disabled[2]);
    /* Twice is fine; enabling gives them back. */
    EXPECT(store_account_set_disabled(s, "bob@a.org", true, &err_), STORE_OK);
    EXPECT(store_account_set_disabled(s, "bob@a.org", false, &err_), STORE_OK);
    EXPECT(store_account_credentials(s, "bob@a.org", &got, &err_), STORE_OK);
    CHECK(same_credentials(&got, &cred));
    EXPECT(store_account_get(s, a, "bob@a.org", &acct, &err_), STORE_OK);
    CHECK(!acct.disabled);
    EXPECT(store_account_set_disabled(s, "nobody@a.org", true, &err_), STORE_ERR_NOT_FOUND);

    /* Delete. */
    EXPECT(store_account_del(s, "ALICE@A.ORG", &err_), STORE_OK);
    EXPECT(store_account_get(s, a, "alice@a.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_credentials(s, "alice@a.org", &got, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_del(s, "alice@a.org", &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_del(s, "info@a.org", &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_del(s, "x@nowhere.org", &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_del(s, "x", &err_), STORE_ERR_INVALID);
    /* alice@b.org is another account and stays. */
    EXPECT(store_account_get(s, a, "alice@b.org", &acct, &err_), STORE_OK);
    list_accounts(s, NULL, &rows, 0);
    CHECK_INT(rows.n, 4);
    CHECK_STR(rows.address[0], "bob@a.org");
    /* The address is free again. */
    int64_t alice2 = 0;
    EXPECT(store_account_add(s, "alice@a.org", "New", &cred, 0, &alice2, &err_), STORE_OK);
    EXPECT(store_account_get(s, a, "alice@a.org", &acct, &err_), STORE_OK);
    CHECK_INT(acct.id, alice2);
    CHECK_STR(acct.address, "alice@a.org");
    CHECK_STR(acct.display_name, "New");

    arena_free(a);
    store_close(s);
    fixture_remove();
}

static void test_aliases(void)
{
    fixture_new();
    struct store *s = open_store(NULL);
    struct alias_rows rows;
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    EXPECT(store_domain_add(s, "b.org", &err_), STORE_OK);
    add_account(s, "alice@a.org");
    add_account(s, "bob@a.org");

    /* Targets are normalised: the domain to lowercase A-label, the local part
     * as written. */
    const char *t1[] = { "alice@a.org", "Ext@Example.COM" };
    EXPECT(store_alias_add(s, "Info@A.org", t1, 2, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), "Info@a.org=alice@a.org,Ext@example.com");
    CHECK_INT(rows.n, 1);
    /* More targets for the same alias (in any case); a target already there
     * is not added twice. */
    const char *t2[] = { "bob@a.org", "alice@a.org", "x@bücher.example" };
    EXPECT(store_alias_add(s, "INFO@a.org", t2, 3, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0),
              "Info@a.org=alice@a.org,bob@a.org,Ext@example.com,x@xn--bcher-kva.example");
    CHECK_INT(rows.n, 1);

    /* Other aliases, a catch-all, an alias in another domain. */
    const char *t3[] = { "info@a.org" };
    EXPECT(store_alias_add(s, "sales@a.org", t3, 1, &err_), STORE_OK);
    const char *t4[] = { "bob@a.org" };
    EXPECT(store_alias_add(s, "@a.org", t4, 1, &err_), STORE_OK);
    const char *t5[] = { "alice@a.org", "someone@elsewhere.net" };
    EXPECT(store_alias_add(s, "team@b.org", t5, 2, &err_), STORE_OK);
    /* One callback per alias, by domain, then local part (the catch-all first). */
    CHECK_STR(list_aliases(s, NULL, &rows, 0),
              "@a.org=bob@a.org "
              "Info@a.org=alice@a.org,bob@a.org,Ext@example.com,x@xn--bcher-kva.example "
              "sales@a.org=info@a.org "
              "team@b.org=alice@a.org,someone@elsewhere.net");
    CHECK_INT(rows.n, 4);
    CHECK_STR(list_aliases(s, "B.org", &rows, 0), "team@b.org=alice@a.org,someone@elsewhere.net");
    CHECK_INT(rows.n, 1);
    CHECK_STR(list_aliases(s, "nowhere.org", &rows, 0), "");
    CHECK_INT(rows.n, 0);
    CHECK_STR(list_aliases(s, NULL, &rows, 2),
              "@a.org=bob@a.org "
              "Info@a.org=alice@a.org,bob@a.org,Ext@example.com,x@xn--bcher-kva.example");
    CHECK_INT(rows.n, 2);
    memset(&rows, 0, sizeof(rows));
    EXPECT(store_alias_list(s, "bad", alias_cb, &rows, &err_), STORE_ERR_INVALID);
    CHECK_INT(rows.n, 0);

    /* Refused: an account's address, an unknown domain, no targets, bad
     * alias or target; a refused add changes nothing. */
    const char *before = "@a.org=bob@a.org "
                         "Info@a.org=alice@a.org,bob@a.org,Ext@example.com,x@xn--bcher-kva.example "
                         "sales@a.org=info@a.org "
                         "team@b.org=alice@a.org,someone@elsewhere.net";
    EXPECT(store_alias_add(s, "alice@a.org", t4, 1, &err_), STORE_ERR_EXISTS);
    EXPECT(store_alias_add(s, "ALICE@a.org", t4, 1, &err_), STORE_ERR_EXISTS);
    EXPECT(store_alias_add(s, "x@nowhere.org", t4, 1, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_alias_add(s, "new@a.org", t4, 0, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "new@a.org", NULL, 0, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "new", t4, 1, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "a b@a.org", t4, 1, &err_), STORE_ERR_INVALID);
    const char *bad[] = { "carol@a.org", "not an address" };
    EXPECT(store_alias_add(s, "new@a.org", bad, 2, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "info@a.org", bad, 2, &err_), STORE_ERR_INVALID);
    const char *catchall_target[] = { "@a.org" };
    EXPECT(store_alias_add(s, "new@a.org", catchall_target, 1, &err_), STORE_ERR_INVALID);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), before);

    /* Removing some targets. */
    const char *d1[] = { "alice@a.org", "x@B\xC3\x9C" "CHER.example" };
    EXPECT(store_alias_del(s, "info@a.org", d1, 2, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0),
              "@a.org=bob@a.org Info@a.org=bob@a.org,Ext@example.com sales@a.org=info@a.org");
    /* A target that is not there: NOT_FOUND, and nothing removed. */
    const char *d2[] = { "bob@a.org", "carol@a.org" };
    EXPECT(store_alias_del(s, "info@a.org", d2, 2, &err_), STORE_ERR_NOT_FOUND);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0),
              "@a.org=bob@a.org Info@a.org=bob@a.org,Ext@example.com sales@a.org=info@a.org");
    EXPECT(store_alias_del(s, "nosuch@a.org", d2, 1, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_alias_del(s, "nosuch@a.org", NULL, 0, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_alias_del(s, "info@nowhere.org", NULL, 0, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_alias_del(s, "info", NULL, 0, &err_), STORE_ERR_INVALID);
    /* Removing the last targets removes the alias. */
    const char *d3[] = { "Ext@example.com", "bob@a.org" };
    EXPECT(store_alias_del(s, "info@a.org", d3, 2, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0), "@a.org=bob@a.org sales@a.org=info@a.org");
    EXPECT(store_alias_del(s, "info@a.org", NULL, 0, &err_), STORE_ERR_NOT_FOUND);
    /* No targets named: the alias and all its targets go. */
    const char *t6[] = { "bob@a.org", "alice@a.org" };
    EXPECT(store_alias_add(s, "sales@a.org", t6, 2, &err_), STORE_OK);
    EXPECT(store_alias_del(s, "SALES@a.org", NULL, 0, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0), "@a.org=bob@a.org");
    /* Its address can become an account now. */
    add_account(s, "sales@a.org");
    /* The catch-all. */
    const char *t7[] = { "alice@a.org" };
    EXPECT(store_alias_add(s, "@A.ORG", t7, 1, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0), "@a.org=alice@a.org,bob@a.org");
    EXPECT(store_alias_del(s, "@a.org", t7, 1, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, "a.org", &rows, 0), "@a.org=bob@a.org");
    EXPECT(store_alias_del(s, "@a.org", NULL, 0, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), "team@b.org=alice@a.org,someone@elsewhere.net");
    CHECK_INT(rows.n, 1);

    store_close(s);
    fixture_remove();
}

/* store.h: "the local part keeps its spelling for display and is compared
 * ASCII-case-insensitively". So an alias target of one of our addresses
 * written in another case is the same target: adding it again adds nothing,
 * and removing it works whatever the case. */
static void test_alias_target_case(void)
{
    fixture_new();
    struct store *s = open_store(NULL);
    struct alias_rows rows;
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    add_account(s, "bob@a.org");
    const char *t1[] = { "Bob@a.org" };
    EXPECT(store_alias_add(s, "info@a.org", t1, 1, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), "info@a.org=Bob@a.org");
    const char *t2[] = { "bob@A.org", "BOB@a.org" };
    EXPECT(store_alias_add(s, "info@a.org", t2, 2, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), "info@a.org=Bob@a.org");
    CHECK_INT(rows.ntargets[0], 1);
    const char *d[] = { "bob@a.org" };
    EXPECT(store_alias_del(s, "info@a.org", d, 1, &err_), STORE_OK);
    CHECK_STR(list_aliases(s, NULL, &rows, 0), "");
    store_close(s);
    fixture_remove();
}

/* An alias holds at most 1000 targets, however they are added. */
static void test_alias_limit(void)
{
    fixture_new();
    struct store *s = open_store(NULL);
    struct alias_rows rows;
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    enum { N = 1001 };
    char (*names)[32] = malloc(sizeof(*names) * N);
    const char **targets = malloc(sizeof(*targets) * N);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "t%04d@ext.example", i);
        targets[i] = names[i];
    }
    EXPECT(store_alias_add(s, "big@a.org", targets, N, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "big@a.org", targets, 1000, &err_), STORE_OK);
    EXPECT(store_alias_add(s, "big@a.org", targets + 1000, 1, &err_), STORE_ERR_INVALID);
    EXPECT(store_alias_add(s, "big@a.org", targets, 1, &err_), STORE_OK); /* already there */
    EXPECT(store_alias_add(s, "half@a.org", targets, 600, &err_), STORE_OK);
    EXPECT(store_alias_add(s, "half@a.org", targets + 400, 601, &err_), STORE_ERR_INVALID);
    /* The refused add left the alias as it was. */
    list_aliases(s, "a.org", &rows, 0);
    CHECK_INT(rows.n, 2);
    struct domain_rows d;
    list_domains(s, &d, 0);
    CHECK_INT(d.aliases[0], 2);
    CHECK(strncmp(rows.text, "big@a.org=t0000@ext.example,t0001@ext.example,", 46) == 0);
    CHECK_INT(rows.ntargets[0], 1000);
    CHECK_INT(rows.ntargets[1], 600);
    free(targets);
    free(names);
    store_close(s);
    fixture_remove();
}

/* A second handle on the same store, as `outpost serve` and the CLI have:
 * each sees the other's changes at its next call. */
static void test_two_handles(void)
{
    fixture_new();
    struct store *s1 = open_store(NULL);
    struct store *s2 = open_store(NULL);
    struct arena *a = arena_new(0);
    struct store_account acct;
    struct auth_credentials got;
    struct domain_rows d;

    CHECK(!store_domain_exists(s2, "a.org"));
    EXPECT(store_domain_add(s1, "a.org", &err_), STORE_OK);
    CHECK(store_domain_exists(s2, "a.org"));
    EXPECT(store_domain_add(s2, "a.org", &err_), STORE_ERR_EXISTS);

    int64_t id = 0;
    EXPECT(store_account_add(s2, "alice@a.org", "A", &cred, 0, &id, &err_), STORE_OK);
    EXPECT(store_account_get(s1, a, "alice@a.org", &acct, &err_), STORE_OK);
    CHECK_INT(acct.id, id);
    EXPECT(store_account_add(s1, "ALICE@a.org", NULL, &cred, 0, NULL, &err_), STORE_ERR_EXISTS);

    EXPECT(store_account_set_disabled(s1, "alice@a.org", true, &err_), STORE_OK);
    EXPECT(store_account_credentials(s2, "alice@a.org", &got, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_account_set_disabled(s2, "alice@a.org", false, &err_), STORE_OK);
    EXPECT(store_account_credentials(s1, "alice@a.org", &got, &err_), STORE_OK);

    const char *t[] = { "alice@a.org" };
    EXPECT(store_alias_add(s1, "info@a.org", t, 1, &err_), STORE_OK);
    struct store_resolution res;
    EXPECT(store_resolve(s2, a, "info@a.org", &res, &err_), STORE_OK);
    CHECK_INT(res.status, STORE_RCPT_LOCAL);
    CHECK_INT(res.ntargets, 1);
    if (res.ntargets == 1)
        CHECK_INT(res.targets[0].account_id, id);
    list_domains(s2, &d, 0);
    CHECK_INT(d.n, 1);
    CHECK_INT(d.accounts[0], 1);
    CHECK_INT(d.aliases[0], 1);

    EXPECT(store_alias_del(s2, "info@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT(store_account_del(s2, "alice@a.org", &err_), STORE_OK);
    EXPECT(store_account_get(s1, a, "alice@a.org", &acct, &err_), STORE_ERR_NOT_FOUND);
    EXPECT(store_resolve(s1, a, "info@a.org", &res, &err_), STORE_OK);
    CHECK_INT(res.status, STORE_RCPT_UNKNOWN_USER);
    EXPECT(store_domain_del(s1, "a.org", &err_), STORE_OK);
    CHECK(!store_domain_exists(s2, "a.org"));

    arena_free(a);
    store_close(s2);
    store_close(s1);
    fixture_remove();
}

/* Closing and opening again keeps everything; opening an up-to-date store
 * migrates nothing and can be repeated. */
static void test_reopen(void)
{
    fixture_new();
    struct arena *a = arena_new(0);
    struct store_account acct;
    struct auth_credentials got;
    struct alias_rows rows;
    struct domain_rows d;

    struct store *s = open_store(NULL);
    EXPECT(store_domain_add(s, "a.org", &err_), STORE_OK);
    int64_t id = 0;
    EXPECT(store_account_add(s, "Alice@a.org", "Alice", &cred, 42, &id, &err_), STORE_OK);
    EXPECT(store_account_set_disabled(s, "alice@a.org", true, &err_), STORE_OK);
    const char *t[] = { "alice@a.org", "x@ext.example" };
    EXPECT(store_alias_add(s, "info@a.org", t, 2, &err_), STORE_OK);
    store_close(s);

    for (int round = 0; round < 2; round++) {
        s = open_store(NULL);
        list_domains(s, &d, 0);
        CHECK_INT(d.n, 1 + round);
        CHECK_STR(d.name[0], "a.org");
        CHECK_INT(d.accounts[0], 1);
        CHECK_INT(d.aliases[0], 1);
        EXPECT(store_account_get(s, a, "alice@a.org", &acct, &err_), STORE_OK);
        CHECK_INT(acct.id, id);
        CHECK_STR(acct.address, "Alice@a.org");
        CHECK_STR(acct.display_name, "Alice");
        CHECK_INT(acct.quota, 42);
        CHECK(acct.disabled);
        CHECK_STR(list_aliases(s, NULL, &rows, 0), "info@a.org=alice@a.org,x@ext.example");
        EXPECT(store_account_set_disabled(s, "alice@a.org", false, &err_), STORE_OK);
        EXPECT(store_account_credentials(s, "alice@a.org", &got, &err_), STORE_OK);
        CHECK(same_credentials(&got, &cred));
        EXPECT(store_account_set_disabled(s, "alice@a.org", true, &err_), STORE_OK);
        /* Still writable after the reopen. */
        EXPECT(store_domain_add(s, "b.org", &err_), round == 0 ? STORE_OK : STORE_ERR_EXISTS);
        store_close(s);
    }
    arena_free(a);
    fixture_remove();
}

int main(void)
{
    if (auth_init() != 0) {
        fprintf(stderr, "auth_init failed\n");
        return 1;
    }
    const char *err = NULL;
    if (auth_credentials_make("pencil", 6, &cred, &err) != 0) {
        fprintf(stderr, "auth_credentials_make: %s\n", err);
        return 1;
    }
    RUN(test_open);
    RUN(test_domains);
    RUN(test_accounts);
    RUN(test_aliases);
    RUN(test_alias_target_case);
    RUN(test_alias_limit);
    RUN(test_two_handles);
    RUN(test_reopen);
    return TEST_DONE();
}
