/*
 * Unit tests for store_resolve (store/store.h): where mail for a recipient
 * goes: accounts, aliases (recursive, loops cut, deduplicated), sub-addresses,
 * catch-alls, disabled accounts and the limits.
 *
 * Every test starts from a fresh store in a mkdtemp directory with:
 *   a.org: Alice@a.org, bob@a.org, dis@a.org (disabled)
 *   b.org: carol@b.org
 *   bücher.example: max@bücher.example
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

static struct auth_credentials cred; /* made once: hashing is slow */
static char root[64];
static char data_dir[128];
static struct store *S;     /* the fixture's store (separators: the default) */
static struct arena *A;

/* The fixture's accounts and their ids. */
static const char *const account_addr[] = {
    "Alice@a.org", "bob@a.org", "dis@a.org", "carol@b.org", "max@xn--bcher-kva.example",
};
#define NACCOUNTS ((int)(sizeof(account_addr) / sizeof(account_addr[0])))
static int64_t account_id[NACCOUNTS];

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

static struct store *open_store(const char *seps)
{
    struct store_options opt = { .data_dir = data_dir, .subaddress_separators = seps };
    struct store *s = NULL;
    char *err = NULL;
    if (store_open(&opt, &s, &err) != STORE_OK) {
        fprintf(stderr, "store_open %s: %s\n", data_dir, err ? err : "?");
        free(err);
        exit(2);
    }
    return s;
}

static void setup(void)
{
    strcpy(root, "/tmp/outpost-unit-resolve-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", root);
    S = open_store(NULL);
    A = arena_new(0);
    EXPECT(store_domain_add(S, "a.org", &err_), STORE_OK);
    EXPECT(store_domain_add(S, "b.org", &err_), STORE_OK);
    EXPECT(store_domain_add(S, "b\xC3\xBC" "cher.example", &err_), STORE_OK);
    for (int i = 0; i < NACCOUNTS; i++) {
        account_id[i] = 0;
        EXPECT(store_account_add(S, account_addr[i], NULL, &cred, 0, &account_id[i], &err_),
               STORE_OK);
    }
    EXPECT(store_account_set_disabled(S, "dis@a.org", true, &err_), STORE_OK);
}

static void teardown(void)
{
    arena_free(A);
    store_close(S);
    fixture_rmtree(root);
    struct stat st;
    CHECK(stat(root, &st) != 0);
}

static void alias(const char *name, const char *t0, const char *t1, const char *t2)
{
    const char *t[3] = { t0, t1, t2 };
    int n = t2 ? 3 : t1 ? 2 : 1;
    EXPECT(store_alias_add(S, name, t, n, &err_), STORE_OK);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The targets, sorted and joined with ",": an account as its address (with
 * "#bad-id" appended when the id is not that account's), an external address
 * as "ext:address". */
static void format_targets(const struct store_resolution *res, char *out, size_t outlen)
{
    char **items = calloc((size_t)res->ntargets + 1, sizeof(char *));
    for (int i = 0; i < res->ntargets; i++) {
        const struct store_target *t = &res->targets[i];
        char buf[600];
        if (t->account_id > 0) {
            bool ok = false;
            for (int k = 0; k < NACCOUNTS; k++)
                if (account_id[k] == t->account_id && strcmp(account_addr[k], t->address) == 0)
                    ok = true;
            snprintf(buf, sizeof(buf), "%s%s", t->address ? t->address : "(null)",
                     ok ? "" : "#bad-id");
        } else {
            snprintf(buf, sizeof(buf), "ext:%s%s", t->address ? t->address : "(null)",
                     t->account_id == 0 ? "" : "#negative-id");
        }
        items[i] = strdup(buf);
    }
    qsort(items, (size_t)res->ntargets, sizeof(char *), cmp_str);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < res->ntargets; i++) {
        if (len < outlen)
            len += (size_t)snprintf(out + len, outlen - len, "%s%s", i ? "," : "", items[i]);
        free(items[i]);
    }
    free(items);
}

enum { NOTHING = 0, ALIAS = 1, CATCHALL = 2, TRUNCATED = 4 };

/* Resolves `address` through store s and checks everything in the answer:
 * status, the targets (see format_targets), and the flags. */
static void expect_in(struct store *s, int line, const char *address,
                      enum store_rcpt_status status, const char *targets, int flags)
{
    int before = test_failures;
    struct store_resolution res;
    memset(&res, 0x55, sizeof(res));
    char *err = NULL;
    int r = store_resolve(s, A, address, &res, &err);
    CHECK_INT(r, STORE_OK);
    if (r != STORE_OK) {
        fprintf(stderr, "  line %d: resolving %s: %s\n", line, address, err ? err : "?");
        free(err);
        return;
    }
    CHECK(err == NULL);
    char got[4096];
    format_targets(&res, got, sizeof(got));
    CHECK_INT(res.status, status);
    CHECK_STR(got, targets);
    CHECK_INT(res.ntargets == 0, targets[0] == '\0');
    CHECK_INT(res.via_alias, (flags & ALIAS) != 0);
    CHECK_INT(res.via_catchall, (flags & CATCHALL) != 0);
    CHECK_INT(res.truncated, (flags & TRUNCATED) != 0);
    if (test_failures != before)
        fprintf(stderr, "  line %d: resolving %s\n", line, address);
}

#define EXPECT_RCPT(address, status, targets, flags) \
    expect_in(S, __LINE__, address, status, targets, flags)
#define EXPECT_RCPT_IN(s, address, status, targets, flags) \
    expect_in(s, __LINE__, address, status, targets, flags)

#define LOCAL STORE_RCPT_LOCAL
#define UNKNOWN STORE_RCPT_UNKNOWN_USER
#define NOT_LOCAL STORE_RCPT_NOT_LOCAL

static void test_accounts(void)
{
    setup();
    EXPECT_RCPT("Alice@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("alice@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("ALICE@A.ORG", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("bob@a.org", LOCAL, "bob@a.org", NOTHING);
    EXPECT_RCPT("carol@B.org", LOCAL, "carol@b.org", NOTHING);
    EXPECT_RCPT("Max@B\xC3\x9C" "CHER.example", LOCAL, "max@xn--bcher-kva.example", NOTHING);
    EXPECT_RCPT("max@xn--bcher-kva.example", LOCAL, "max@xn--bcher-kva.example", NOTHING);
    /* Our domain, no such address; an account of another of our domains. */
    EXPECT_RCPT("nobody@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("carol@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("alice@b.org", UNKNOWN, "", NOTHING);
    /* Not ours. */
    EXPECT_RCPT("alice@elsewhere.org", NOT_LOCAL, "", NOTHING);
    EXPECT_RCPT("alice@sub.a.org", NOT_LOCAL, "", NOTHING);
    EXPECT_RCPT("alice@bucher.example", NOT_LOCAL, "", NOTHING);
    /* Not an address at all. */
    struct store_resolution res;
    EXPECT(store_resolve(S, A, "alice", &res, &err_), STORE_ERR_INVALID);
    EXPECT(store_resolve(S, A, "alice@localhost", &res, &err_), STORE_ERR_INVALID);
    EXPECT(store_resolve(S, A, "@a.org", &res, &err_), STORE_ERR_INVALID);
    EXPECT(store_resolve(S, A, "al ice@a.org", &res, &err_), STORE_ERR_INVALID);
    teardown();
}

static void test_disabled(void)
{
    setup();
    EXPECT_RCPT("dis@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("DIS@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("dis+tag@a.org", UNKNOWN, "", NOTHING);
    /* Through an alias, the disabled account is left out. */
    alias("both@a.org", "dis@a.org", "bob@a.org", NULL);
    EXPECT_RCPT("both@a.org", LOCAL, "bob@a.org", ALIAS);
    alias("only@a.org", "dis@a.org", NULL, NULL);
    EXPECT_RCPT("only@a.org", UNKNOWN, "", ALIAS);
    /* Enabled again: it counts at once. */
    EXPECT(store_account_set_disabled(S, "dis@a.org", false, &err_), STORE_OK);
    EXPECT_RCPT("dis@a.org", LOCAL, "dis@a.org", NOTHING);
    EXPECT_RCPT("both@a.org", LOCAL, "bob@a.org,dis@a.org", ALIAS);
    EXPECT_RCPT("only@a.org", LOCAL, "dis@a.org", ALIAS);
    /* Deleted accounts are gone too. */
    EXPECT(store_account_del(S, "bob@a.org", &err_), STORE_OK);
    EXPECT_RCPT("bob@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("both@a.org", LOCAL, "dis@a.org", ALIAS);
    teardown();
}

static void test_aliases(void)
{
    setup();
    alias("team@a.org", "alice@a.org", "BOB@A.ORG", "Friend@Ext.Example");
    EXPECT_RCPT("team@a.org", LOCAL, "Alice@a.org,bob@a.org,ext:Friend@ext.example", ALIAS);
    EXPECT_RCPT("TEAM@a.org", LOCAL, "Alice@a.org,bob@a.org,ext:Friend@ext.example", ALIAS);
    /* Only external targets: still ours to accept. */
    alias("fwd@a.org", "someone@elsewhere.org", NULL, NULL);
    EXPECT_RCPT("fwd@a.org", LOCAL, "ext:someone@elsewhere.org", ALIAS);
    /* Across our domains. */
    alias("c@a.org", "carol@b.org", "max@b\xC3\xBC" "cher.example", NULL);
    EXPECT_RCPT("c@a.org", LOCAL, "carol@b.org,max@xn--bcher-kva.example", ALIAS);
    /* An alias of aliases. */
    alias("all@b.org", "team@a.org", "c@a.org", "fwd@a.org");
    EXPECT_RCPT("all@b.org", LOCAL,
                "Alice@a.org,bob@a.org,carol@b.org,ext:Friend@ext.example,"
                "ext:someone@elsewhere.org,max@xn--bcher-kva.example",
                ALIAS);
    /* Targets in our domains that lead nowhere. */
    alias("ghost@a.org", "nobody@a.org", "nobody@b.org", NULL);
    EXPECT_RCPT("ghost@a.org", UNKNOWN, "", ALIAS);
    alias("half@a.org", "nobody@a.org", "carol@b.org", NULL);
    EXPECT_RCPT("half@a.org", LOCAL, "carol@b.org", ALIAS);
    /* A target through a sub-address of an account. */
    alias("tagged@a.org", "alice+from-tagged@a.org", NULL, NULL);
    EXPECT_RCPT("tagged@a.org", LOCAL, "Alice@a.org", ALIAS);
    /* Removing a target shows at once (named as it was added; the domain in
     * any form). */
    const char *del[] = { "BOB@a.ORG" };
    EXPECT(store_alias_del(S, "team@a.org", del, 1, &err_), STORE_OK);
    EXPECT_RCPT("team@a.org", LOCAL, "Alice@a.org,ext:Friend@ext.example", ALIAS);
    EXPECT(store_alias_del(S, "team@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT_RCPT("team@a.org", UNKNOWN, "", NOTHING);
    teardown();
}

static void test_loops(void)
{
    setup();
    /* a -> b -> a: cut, every target once, and said so. */
    alias("a@a.org", "b@a.org", "alice@a.org", NULL);
    alias("b@a.org", "A@A.ORG", "alice@a.org", "bob@a.org");
    EXPECT_RCPT("a@a.org", LOCAL, "Alice@a.org,bob@a.org", ALIAS | TRUNCATED);
    EXPECT_RCPT("b@a.org", LOCAL, "Alice@a.org,bob@a.org", ALIAS | TRUNCATED);
    /* To itself. */
    alias("self@a.org", "self@a.org", NULL, NULL);
    EXPECT_RCPT("self@a.org", UNKNOWN, "", ALIAS | TRUNCATED);
    alias("self2@a.org", "SELF2@a.org", "carol@b.org", NULL);
    EXPECT_RCPT("self2@a.org", LOCAL, "carol@b.org", ALIAS | TRUNCATED);
    /* A longer ring across domains: x -> y -> z -> x. */
    alias("x@a.org", "y@b.org", NULL, NULL);
    alias("y@b.org", "z@a.org", "carol@b.org", NULL);
    alias("z@a.org", "x@a.org", "ext@elsewhere.org", NULL);
    EXPECT_RCPT("x@a.org", LOCAL, "carol@b.org,ext:ext@elsewhere.org", ALIAS | TRUNCATED);
    EXPECT_RCPT("z@a.org", LOCAL, "carol@b.org,ext:ext@elsewhere.org", ALIAS | TRUNCATED);
    /* Through a sub-address: list -> list+x (which is list again). */
    alias("list@a.org", "list+x@a.org", "bob@a.org", NULL);
    EXPECT_RCPT("list@a.org", LOCAL, "bob@a.org", ALIAS | TRUNCATED);
    teardown();
}

/* The same target reached twice is delivered once; nothing was left out, so
 * the answer is not truncated. */
static void test_duplicates(void)
{
    setup();
    alias("team@a.org", "alice@a.org", "bob@a.org", "friend@ext.example");
    alias("dup@a.org", "ALICE@a.org", "team@a.org", NULL);
    EXPECT_RCPT("dup@a.org", LOCAL, "Alice@a.org,bob@a.org,ext:friend@ext.example", ALIAS);
    /* Two aliases sharing a target (a diamond). */
    alias("left@a.org", "team@a.org", NULL, NULL);
    alias("right@a.org", "team@a.org", "friend@ext.example", NULL);
    alias("top@a.org", "left@a.org", "right@a.org", NULL);
    EXPECT_RCPT("top@a.org", LOCAL, "Alice@a.org,bob@a.org,ext:friend@ext.example", ALIAS);
    /* The same account written differently, and through a sub-address. */
    alias("many@a.org", "alice@a.org", "Alice@A.org", "alice+x@a.org");
    EXPECT_RCPT("many@a.org", LOCAL, "Alice@a.org", ALIAS);
    teardown();
}

static void test_subaddress(void)
{
    setup();
    /* Default separator: "+". */
    EXPECT_RCPT("alice+tag@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("ALICE+Tag@A.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("alice+@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("alice+a+b@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("alice-tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("+tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("nobody+tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("alice+tag@elsewhere.org", NOT_LOCAL, "", NOTHING);
    alias("team@a.org", "alice@a.org", "bob@a.org", NULL);
    EXPECT_RCPT("team+x@a.org", LOCAL, "Alice@a.org,bob@a.org", ALIAS);

    /* An alias named with the tag wins over stripping it. */
    alias("alice+list@a.org", "carol@b.org", NULL, NULL);
    EXPECT_RCPT("alice+list@a.org", LOCAL, "carol@b.org", ALIAS);
    EXPECT_RCPT("ALICE+LIST@a.org", LOCAL, "carol@b.org", ALIAS);
    EXPECT_RCPT("alice+other@a.org", LOCAL, "Alice@a.org", NOTHING);

    /* Separators "+-": either one; the first of them in the address cuts. */
    struct store *s2 = open_store("+-");
    EXPECT_RCPT_IN(s2, "alice-tag@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT_IN(s2, "alice+tag@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT_IN(s2, "alice-x+y@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT_IN(s2, "alice.tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT_IN(s2, "alice+list@a.org", LOCAL, "carol@b.org", ALIAS);
    store_close(s2);
    /* Only "-". */
    s2 = open_store("-");
    EXPECT_RCPT_IN(s2, "alice-tag@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT_IN(s2, "alice+tag@a.org", UNKNOWN, "", NOTHING);
    store_close(s2);
    /* "": sub-addressing off. */
    s2 = open_store("");
    EXPECT_RCPT_IN(s2, "alice+tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT_IN(s2, "alice-tag@a.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT_IN(s2, "alice@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT_IN(s2, "alice+list@a.org", LOCAL, "carol@b.org", ALIAS);
    store_close(s2);
    teardown();
}

static void test_catchall(void)
{
    setup();
    alias("team@a.org", "alice@a.org", NULL, NULL);
    alias("@a.org", "bob@a.org", NULL, NULL);
    /* Only when nothing else matches. */
    EXPECT_RCPT("alice@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("alice+tag@a.org", LOCAL, "Alice@a.org", NOTHING);
    EXPECT_RCPT("team@a.org", LOCAL, "Alice@a.org", ALIAS);
    EXPECT_RCPT("team+x@a.org", LOCAL, "Alice@a.org", ALIAS);
    /* The catch-all is an alias ("@domain"). */
    EXPECT_RCPT("nobody@a.org", LOCAL, "bob@a.org", ALIAS | CATCHALL);
    EXPECT_RCPT("nobody+tag@a.org", LOCAL, "bob@a.org", ALIAS | CATCHALL);
    EXPECT_RCPT("NOBODY@A.ORG", LOCAL, "bob@a.org", ALIAS | CATCHALL);
    /* A disabled account is unknown, so the catch-all takes its mail. */
    EXPECT_RCPT("dis@a.org", LOCAL, "bob@a.org", ALIAS | CATCHALL);
    /* Only its own domain. */
    EXPECT_RCPT("nobody@b.org", UNKNOWN, "", NOTHING);
    EXPECT_RCPT("nobody@elsewhere.org", NOT_LOCAL, "", NOTHING);
    /* Reached through an alias whose target is unknown in a domain with a
     * catch-all. */
    alias("stale@b.org", "gone@a.org", NULL, NULL);
    EXPECT_RCPT("stale@b.org", LOCAL, "bob@a.org", ALIAS | CATCHALL);
    /* A catch-all to external addresses. */
    alias("@b.org", "all@elsewhere.org", NULL, NULL);
    EXPECT_RCPT("nobody@b.org", LOCAL, "ext:all@elsewhere.org", ALIAS | CATCHALL);
    EXPECT_RCPT("carol@b.org", LOCAL, "carol@b.org", NOTHING);
    /* Gone again. */
    EXPECT(store_alias_del(S, "@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT_RCPT("nobody@a.org", UNKNOWN, "", NOTHING);
    teardown();
}

/* A catch-all pointing at an unknown address of its own domain would
 * expand forever; it is cut. */
static void test_catchall_loop(void)
{
    setup();
    alias("@a.org", "nowhere@a.org", NULL, NULL);
    EXPECT_RCPT("nobody@a.org", UNKNOWN, "", ALIAS | CATCHALL | TRUNCATED);
    EXPECT_RCPT("alice@a.org", LOCAL, "Alice@a.org", NOTHING);
    teardown();
}

/* Aliases of aliases: an address reached through STORE_RESOLVE_MAX_DEPTH
 * (10) expansions is still looked at; one more level is cut. */
static void test_depth(void)
{
    setup();
    /* l0 -> l1 -> ... -> l10 -> bob */
    char name[32], next[32];
    for (int i = 0; i <= 10; i++) {
        snprintf(name, sizeof(name), "l%d@a.org", i);
        if (i < 10)
            snprintf(next, sizeof(next), "l%d@a.org", i + 1);
        else
            snprintf(next, sizeof(next), "bob@a.org");
        alias(name, next, NULL, NULL);
    }
    CHECK_INT(STORE_RESOLVE_MAX_DEPTH, 10);
    EXPECT_RCPT("l10@a.org", LOCAL, "bob@a.org", ALIAS);
    EXPECT_RCPT("l2@a.org", LOCAL, "bob@a.org", ALIAS);
    /* From l1, bob is the 10th expansion. */
    EXPECT_RCPT("l1@a.org", LOCAL, "bob@a.org", ALIAS);
    /* From l0, the 11th: cut. */
    EXPECT_RCPT("l0@a.org", UNKNOWN, "", ALIAS | TRUNCATED);
    /* What is found before the cut is kept. */
    alias("l5@a.org", "carol@b.org", NULL, NULL);
    EXPECT_RCPT("l0@a.org", LOCAL, "carol@b.org", ALIAS | TRUNCATED);
    teardown();
}

/* At most STORE_RESOLVE_MAX_TARGETS (1000) targets. */
static void test_max_targets(void)
{
    setup();
    enum { N = 600 };
    char (*names)[40] = malloc(sizeof(*names) * 2 * N);
    const char **t = malloc(sizeof(*t) * 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        snprintf(names[i], sizeof(names[i]), "t%04d@ext.example", i);
        t[i] = names[i];
    }
    EXPECT(store_alias_add(S, "big1@a.org", t, N, &err_), STORE_OK);
    EXPECT(store_alias_add(S, "big2@a.org", t + N, N, &err_), STORE_OK);
    /* big3 shares half of big1's targets: 900 different ones in all. */
    EXPECT(store_alias_add(S, "big3@a.org", t + N / 2, N, &err_), STORE_OK);
    alias("both@a.org", "big1@a.org", "big3@a.org", NULL);
    alias("all@a.org", "big1@a.org", "big2@a.org", NULL);

    struct store_resolution res;
    EXPECT(store_resolve(S, A, "big1@a.org", &res, &err_), STORE_OK);
    CHECK_INT(res.status, STORE_RCPT_LOCAL);
    CHECK_INT(res.ntargets, N);
    CHECK(!res.truncated);
    EXPECT(store_resolve(S, A, "both@a.org", &res, &err_), STORE_OK);
    CHECK_INT(res.ntargets, 900);
    CHECK(!res.truncated);
    EXPECT(store_resolve(S, A, "all@a.org", &res, &err_), STORE_OK);
    CHECK_INT(res.status, STORE_RCPT_LOCAL);
    CHECK_INT(res.ntargets, STORE_RESOLVE_MAX_TARGETS);
    CHECK_INT(STORE_RESOLVE_MAX_TARGETS, 1000);
    CHECK(res.truncated);
    CHECK(res.via_alias);
    /* All different, all external. */
    int dups = 0, accounts = 0;
    for (int i = 0; i < res.ntargets; i++) {
        accounts += res.targets[i].account_id != 0;
        for (int k = 0; k < i; k++)
            dups += strcmp(res.targets[i].address, res.targets[k].address) == 0;
    }
    CHECK_INT(dups, 0);
    CHECK_INT(accounts, 0);
    free(t);
    free(names);
    teardown();
}

/* The answer lives in the caller's arena and is complete when another
 * handle changes the store afterwards. */
static void test_answer_owned(void)
{
    setup();
    alias("team@a.org", "alice@a.org", "friend@ext.example", NULL);
    struct store_resolution res;
    EXPECT(store_resolve(S, A, "team@a.org", &res, &err_), STORE_OK);
    EXPECT(store_alias_del(S, "team@a.org", NULL, 0, &err_), STORE_OK);
    EXPECT(store_account_del(S, "alice@a.org", &err_), STORE_OK);
    char got[256];
    format_targets(&res, got, sizeof(got));
    CHECK_STR(got, "Alice@a.org,ext:friend@ext.example");
    teardown();
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
    RUN(test_accounts);
    RUN(test_disabled);
    RUN(test_aliases);
    RUN(test_loops);
    RUN(test_duplicates);
    RUN(test_subaddress);
    RUN(test_catchall);
    RUN(test_catchall_loop);
    RUN(test_depth);
    RUN(test_max_targets);
    RUN(test_answer_owned);
    return TEST_DONE();
}
