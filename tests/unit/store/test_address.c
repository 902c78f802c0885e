/*
 * Unit tests for the address half of store/store.h: store_address_parse and
 * store_domain_normalize (no database involved).
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "store/store.h"
#include "test.h"

#define E_NOAT "an address needs an @ and a domain (user@example.org)"
#define E_EMPTY_LOCAL "empty local part before the @"
#define E_LOCAL_LONG "local part longer than 64 bytes"
#define E_CHAR "local part has a character not allowed in an address"
#define E_DOTS "local part starts or ends with a dot, or has two in a row"
#define E_ONE_LABEL "a domain needs at least two labels (example.org)"
#define E_EMPTY_DOMAIN "empty domain"
#define E_DOMAIN_LONG "domain too long"
#define ANY_ERROR NULL /* invalid; the wording comes from libidn2 or the DNS name check */

#define L64 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"
#define LABEL63 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"

static void test_parse_table(void)
{
    static const struct {
        const char *in;
        bool allow_empty_local;
        int r;
        const char *local, *local_key, *domain; /* when r == STORE_OK */
        const char *error;                      /* when not; ANY_ERROR: any */
    } cases[] = {
        /* Plain, and case folding: the domain and the key, not the local part. */
        { "user@example.org", false, STORE_OK, "user", "user", "example.org", NULL },
        { "User.Name@Example.ORG", false, STORE_OK, "User.Name", "user.name", "example.org", NULL },
        { "ALICE@MAIL.EXAMPLE.COM", false, STORE_OK, "ALICE", "alice", "mail.example.com", NULL },
        { "bob+Tag@example.org", false, STORE_OK, "bob+Tag", "bob+tag", "example.org", NULL },
        { "a.b.c@example.org", false, STORE_OK, "a.b.c", "a.b.c", "example.org", NULL },
        { "x@a.b.c.example", false, STORE_OK, "x", "x", "a.b.c.example", NULL },
        { "x@my-host.example", false, STORE_OK, "x", "x", "my-host.example", NULL },
        { "x@123.example", false, STORE_OK, "x", "x", "123.example", NULL },
        /* Every atext character of RFC 5322 is allowed. */
        { "!#$%&'*+-/=?^_`{|}~@example.org", false, STORE_OK, "!#$%&'*+-/=?^_`{|}~",
          "!#$%&'*+-/=?^_`{|}~", "example.org", NULL },
        /* Only ASCII letters fold in the key; UTF-8 (SMTPUTF8) is kept. */
        { "J\xC3\x96RG@example.org", false, STORE_OK, "J\xC3\x96RG", "j\xC3\x96rg", "example.org",
          NULL },
        { "\xC3\xBCser@example.org", false, STORE_OK, "\xC3\xBCser", "\xC3\xBCser", "example.org",
          NULL },
        /* Internationalised domains become their A-label, in lowercase. */
        { "x@b\xC3\xBC" "cher.example", false, STORE_OK, "x", "x", "xn--bcher-kva.example", NULL },
        { "x@B\xC3\x9C" "CHER.EXAMPLE", false, STORE_OK, "x", "x", "xn--bcher-kva.example", NULL },
        { "x@XN--BCHER-KVA.example", false, STORE_OK, "x", "x", "xn--bcher-kva.example", NULL },
        /* 64 bytes of local part is the most. */
        { L64 "@example.org", false, STORE_OK, L64, L64, "example.org", NULL },
        { L64 "x@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_LOCAL_LONG },
        /* The catch-all "@domain", only when allowed. */
        { "@example.org", true, STORE_OK, "", "", "example.org", NULL },
        { "@Example.ORG", true, STORE_OK, "", "", "example.org", NULL },
        { "@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_EMPTY_LOCAL },
        { "@", true, STORE_ERR_INVALID, NULL, NULL, NULL, E_EMPTY_DOMAIN },
        /* allow_empty_local changes nothing for ordinary addresses. */
        { "User@Example.org", true, STORE_OK, "User", "user", "example.org", NULL },
        /* No @. */
        { "user.example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_NOAT },
        { "", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_NOAT },
        { "", true, STORE_ERR_INVALID, NULL, NULL, NULL, E_NOAT },
        /* The last @ splits: the local part then holds an @, which is not
         * allowed (a split at the first @ would blame the domain instead). */
        { "a@b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "user@wrong.example@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "@@example.org", true, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        /* Characters not allowed in a local part. */
        { "a b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a\tb@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a\x01" "b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a\x7f" "b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a<b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a>b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "(a)@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a[b]@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a\\b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a,b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a;b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "a:b@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        { "\"ab\"@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_CHAR },
        /* Dots: not first, not last, never two in a row. */
        { ".user@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_DOTS },
        { "user.@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_DOTS },
        { "us..er@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_DOTS },
        { ".@example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_DOTS },
        /* Domains. */
        { "user@", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_EMPTY_DOMAIN },
        { "user@localhost", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_ONE_LABEL },
        { "user@LOCALHOST", false, STORE_ERR_INVALID, NULL, NULL, NULL, E_ONE_LABEL },
        { "@localhost", true, STORE_ERR_INVALID, NULL, NULL, NULL, E_ONE_LABEL },
        { "user@example..org", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@.example.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@example.org.", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@exa_mple.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@exa mple.org", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@[192.0.2.1]", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@example.org:25", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@" LABEL63 "x.example", false, STORE_ERR_INVALID, NULL, NULL, NULL, ANY_ERROR },
        { "user@" LABEL63 ".example", false, STORE_OK, "user", "user", LABEL63 ".example", NULL },
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int before = test_failures;
        struct store_address out = { NULL, NULL, NULL };
        const char *err = NULL;
        int r = store_address_parse(a, cases[i].in, cases[i].allow_empty_local, &out, &err);
        CHECK_INT(r, cases[i].r);
        if (r == STORE_OK && cases[i].r == STORE_OK) {
            CHECK_STR(out.local, cases[i].local);
            CHECK_STR(out.local_key, cases[i].local_key);
            CHECK_STR(out.domain, cases[i].domain);
        } else if (r != STORE_OK && cases[i].r != STORE_OK) {
            CHECK(err != NULL && err[0] != '\0');
            if (cases[i].error)
                CHECK_STR(err, cases[i].error);
        }
        if (test_failures != before)
            fprintf(stderr, "  case %zu: \"%s\"%s -> %d (%s)\n", i, cases[i].in,
                    cases[i].allow_empty_local ? " (catch-all allowed)" : "", r,
                    r == STORE_OK ? (out.domain ? out.domain : "?") : (err ? err : "?"));
    }
    arena_free(a);
}

/* Labels with a hyphen at either end are not host names (RFC 5321 §4.1.2:
 * sub-domain = Let-dig [Ldh-str], and an Ldh-str ends with a letter or digit). */
static void test_parse_hyphens(void)
{
    static const char *const bad[] = {
        "user@-example.org",
        "user@example-.org",
        "user@mail.-example.org",
        "user@example.org-",
        "user@example.-org",
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_address out = { NULL, NULL, NULL };
        const char *err = NULL;
        int r = store_address_parse(a, bad[i], false, &out, &err);
        if (r != STORE_ERR_INVALID)
            fprintf(stderr, "  \"%s\" accepted as domain \"%s\"\n", bad[i],
                    out.domain ? out.domain : "?");
        CHECK_INT(r, STORE_ERR_INVALID);
    }
    arena_free(a);
}

/* Nothing beyond the end of the input is read or kept: the parts are fresh
 * strings from the arena, not pointers into the caller's buffer. */
static void test_parse_copies(void)
{
    struct arena *a = arena_new(0);
    char buf[] = "Mixed.Case@Example.Org";
    struct store_address out;
    const char *err = NULL;
    CHECK_INT(store_address_parse(a, buf, false, &out, &err), STORE_OK);
    memset(buf, 'z', sizeof(buf) - 1);
    CHECK_STR(out.local, "Mixed.Case");
    CHECK_STR(out.local_key, "mixed.case");
    CHECK_STR(out.domain, "example.org");
    CHECK(out.local != out.local_key);
    arena_free(a);
}

static void test_domain_normalize(void)
{
    static const struct {
        const char *in;
        int r;
        const char *out;   /* when r == STORE_OK */
        const char *error; /* when not; ANY_ERROR: any */
    } cases[] = {
        { "example.org", STORE_OK, "example.org", NULL },
        { "Example.ORG", STORE_OK, "example.org", NULL },
        { "MAIL.Example.Org", STORE_OK, "mail.example.org", NULL },
        { "b\xC3\xBC" "cher.example", STORE_OK, "xn--bcher-kva.example", NULL },
        { "B\xC3\x9C" "CHER.example", STORE_OK, "xn--bcher-kva.example", NULL },
        { "xn--bcher-kva.example", STORE_OK, "xn--bcher-kva.example", NULL },
        /* NFC input: u + combining diaeresis is the same domain as ü. */
        { "bu\xCC\x88" "cher.example", STORE_OK, "xn--bcher-kva.example", NULL },
        /* Non-transitional: ß stays ß (transitional processing gives fass.de). */
        { "fa\xC3\x9F.de", STORE_OK, "xn--fa-hia.de", NULL },
        { "m\xC3\xBCnchen.de", STORE_OK, "xn--mnchen-3ya.de", NULL },
        { "\xE4\xBE\x8B\xE3\x81\x88.\xE3\x83\x86\xE3\x82\xB9\xE3\x83\x88", STORE_OK,
          "xn--r8jz45g.xn--zckzah", NULL },
        { LABEL63 ".example", STORE_OK, LABEL63 ".example", NULL },
        { "", STORE_ERR_INVALID, NULL, E_EMPTY_DOMAIN },
        { "localhost", STORE_ERR_INVALID, NULL, E_ONE_LABEL },
        { "b\xC3\xBC" "cher", STORE_ERR_INVALID, NULL, E_ONE_LABEL },
        { "example..org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { ".example.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "example.org.", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { ".", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "exa_mple.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "exa mple.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "user@example.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "example.org/x", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { LABEL63 "x.example", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "-example.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
        { "example-.org", STORE_ERR_INVALID, NULL, ANY_ERROR },
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int before = test_failures;
        char *out = NULL;
        const char *err = NULL;
        int r = store_domain_normalize(a, cases[i].in, &out, &err);
        CHECK_INT(r, cases[i].r);
        if (r == STORE_OK && cases[i].r == STORE_OK) {
            CHECK_STR(out, cases[i].out);
        } else if (r != STORE_OK && cases[i].r != STORE_OK) {
            CHECK(err != NULL && err[0] != '\0');
            if (cases[i].error)
                CHECK_STR(err, cases[i].error);
        }
        if (test_failures != before)
            fprintf(stderr, "  case %zu: \"%s\" -> %d (%s)\n", i, cases[i].in, r,
                    r == STORE_OK ? (out ? out : "?") : (err ? err : "?"));
    }
    arena_free(a);
}

/* Length limits: 253 characters of A-label at most. */
static void test_domain_lengths(void)
{
    struct arena *a = arena_new(0);
    char name[2048];
    char *out = NULL;
    const char *err = NULL;

    /* 4 labels of 63 + 3 dots = 255: too long; 61 + 63*3 + 3 = 253: fine. */
    snprintf(name, sizeof(name), "%s.%s.%s.%s", LABEL63, LABEL63, LABEL63, LABEL63);
    CHECK_INT(strlen(name), 255);
    CHECK_INT(store_domain_normalize(a, name, &out, &err), STORE_ERR_INVALID);
    snprintf(name, sizeof(name), "%.61s.%s.%s.%s", LABEL63, LABEL63, LABEL63, LABEL63);
    CHECK_INT(strlen(name), 253);
    err = NULL;
    int r = store_domain_normalize(a, name, &out, &err);
    CHECK_INT(r, STORE_OK);
    if (r == STORE_OK)
        CHECK_STR(out, name);
    else
        fprintf(stderr, "  253 characters: %s\n", err ? err : "?");

    /* Far too long is refused before libidn2 sees it. */
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    name[100] = '.';
    err = NULL;
    CHECK_INT(store_domain_normalize(a, name, &out, &err), STORE_ERR_INVALID);
    CHECK_STR(err, E_DOMAIN_LONG);
    arena_free(a);
}

int main(void)
{
    RUN(test_parse_table);
    RUN(test_parse_hyphens);
    RUN(test_parse_copies);
    RUN(test_domain_normalize);
    RUN(test_domain_lengths);
    return TEST_DONE();
}
