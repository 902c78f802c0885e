/*
 * Unit tests for smtp/mtasts.h: the TXT record (§3.1) and the policy file
 * (§3.2) with the RFC's examples and every field error, the limits, MX
 * pattern matching (§4.1), certificate names (§4.2), the cache's text form,
 * and the HTTP response reader fed in every chunking.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/mtasts.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- TXT --- */

static void test_txt_parse(void)
{
    static const struct {
        const char *in;
        enum mtasts_txt_status st;
        const char *id;
    } cases[] = {
        /* The RFC's example (§3.1), and the same with the delimiters varied. */
        { "v=STSv1; id=20160831085700Z;", MTASTS_TXT_OK, "20160831085700Z" },
        { "v=STSv1; id=20160831085700Z", MTASTS_TXT_OK, "20160831085700Z" },
        { "v=STSv1;id=abc", MTASTS_TXT_OK, "abc" },
        { "v=STSv1 ; id=abc ; ", MTASTS_TXT_OK, "abc" },
        { "v=STSv1;\tid=abc\t", MTASTS_TXT_OK, "abc" },
        /* Extensions are ignored, before or after the id. */
        { "v=STSv1; id=abc; ext=val", MTASTS_TXT_OK, "abc" },
        { "v=STSv1; ext-1.x_y=v!a:l; id=abc", MTASTS_TXT_OK, "abc" },
        /* A repeated id: the first wins, the later ones must be valid. */
        { "v=STSv1; id=first; id=second", MTASTS_TXT_OK, "first" },
        { "v=STSv1; id=first; id=bad-id", MTASTS_TXT_INVALID, "" },
        /* id is 1 to 32 letters and digits. */
        { "v=STSv1; id=12345678901234567890123456789012", MTASTS_TXT_OK,
          "12345678901234567890123456789012" },
        { "v=STSv1; id=123456789012345678901234567890123", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; id=", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; id=abc_def", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; id=abc extra", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; id=abc=def", MTASTS_TXT_INVALID, "" },
        /* No id, or broken fields. */
        { "v=STSv1", MTASTS_TXT_INVALID, "" },
        { "v=STSv1;", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; ext=x", MTASTS_TXT_INVALID, "" },
        { "v=STSv1 id=abc", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; id=abc;; x=y", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; =abc; id=x", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; x y=z; id=a", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; _x=z; id=a", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; ext=; id=a", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; abcdefghijabcdefghijabcdefghijabc=1; id=a", MTASTS_TXT_INVALID, "" },
        { "v=STSv1; abcdefghijabcdefghijabcdefghijab=1; id=a", MTASTS_TXT_OK, "a" },
        /* Not MTA-STS records at all: ignored. */
        { "v=STSv10; id=abc", MTASTS_TXT_NONE, "" },
        { "v=spf1 -all", MTASTS_TXT_NONE, "" },
        { "V=STSv1; id=abc", MTASTS_TXT_NONE, "" },
        { "v=stsv1; id=abc", MTASTS_TXT_NONE, "" },
        { " v=STSv1; id=abc", MTASTS_TXT_NONE, "" },
        { "id=abc; v=STSv1", MTASTS_TXT_NONE, "" },
        { "", MTASTS_TXT_NONE, "" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char id[MTASTS_ID_MAX + 1] = "junk";
        const char *err = NULL;
        enum mtasts_txt_status st = mtasts_txt_parse(str_from_cstr(cases[i].in), id, &err);
        if (st != cases[i].st)
            fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].in);
        CHECK_INT(st, cases[i].st);
        if (st == MTASTS_TXT_OK)
            CHECK_STR(id, cases[i].id);
        else
            CHECK_STR(id, "");
        CHECK(st != MTASTS_TXT_INVALID || err != NULL);
    }
    /* Binary: a NUL inside the id is not a letter or digit. */
    char id[MTASTS_ID_MAX + 1];
    const char *err = NULL;
    CHECK_INT(mtasts_txt_parse((struct str){ "v=STSv1; id=ab\0c", 16 }, id, &err),
              MTASTS_TXT_INVALID);
}

static void test_txt_select(void)
{
    char id[MTASTS_ID_MAX + 1];
    const char *err = NULL;
    const char *spf = "v=spf1 mx -all", *good = "v=STSv1; id=abc", *other = "v=STSv1; id=def",
               *bad = "v=STSv1; id=", *v10 = "v=STSv10; id=x";
    const char *none[] = { spf, v10 };
    size_t none_l[] = { strlen(spf), strlen(v10) };
    CHECK_INT(mtasts_txt_select(none, none_l, 2, id, &err), MTASTS_TXT_NONE);
    CHECK_INT(mtasts_txt_select(NULL, NULL, 0, id, &err), MTASTS_TXT_NONE);
    const char *one[] = { spf, good, v10 };
    size_t one_l[] = { strlen(spf), strlen(good), strlen(v10) };
    CHECK_INT(mtasts_txt_select(one, one_l, 3, id, &err), MTASTS_TXT_OK);
    CHECK_STR(id, "abc");
    /* Several MTA-STS records: no policy (§3.1), even when one is valid. */
    const char *two[] = { good, spf, other };
    size_t two_l[] = { strlen(good), strlen(spf), strlen(other) };
    err = NULL;
    CHECK_INT(mtasts_txt_select(two, two_l, 3, id, &err), MTASTS_TXT_INVALID);
    CHECK_STR(err, "several MTA-STS TXT records");
    CHECK_STR(id, "");
    const char *twob[] = { good, bad };
    size_t twob_l[] = { strlen(good), strlen(bad) };
    CHECK_INT(mtasts_txt_select(twob, twob_l, 2, id, &err), MTASTS_TXT_INVALID);
    /* One invalid record among others. */
    const char *inv[] = { spf, bad };
    size_t inv_l[] = { strlen(spf), strlen(bad) };
    err = NULL;
    CHECK_INT(mtasts_txt_select(inv, inv_l, 2, id, &err), MTASTS_TXT_INVALID);
    CHECK_STR(err, "a field has an empty value");
}

/* --- Policy --- */

static const char rfc_example[] = "version: STSv1\n"
                                  "mode: enforce\n"
                                  "mx: mail.example.com\n"
                                  "mx: *.example.net\n"
                                  "mx: backupmx.example.com\n"
                                  "max_age: 604800\n";

struct policy_case {
    const char *in;
    int ret;
    enum mtasts_mode mode;
    unsigned max_age;
    const char *mx;   /* patterns joined by "," */
    const char *err;  /* the error, exactly */
};

static void check_policy_case(size_t i, const struct policy_case *c)
{
    struct mtasts_policy p;
    char *err = NULL;
    int ret = mtasts_policy_parse(str_from_cstr(c->in), &p, &err);
    if (ret != c->ret || (err && c->err && strcmp(err, c->err)))
        fprintf(stderr, "  case %zu: \"%s\" -> %s\n", i, c->in, err ? err : "ok");
    CHECK_INT(ret, c->ret);
    if (ret == 0) {
        CHECK_INT(p.mode, c->mode);
        CHECK_INT(p.max_age, c->max_age);
        struct buf b;
        buf_init(&b, 0);
        for (int k = 0; k < p.nmx; k++)
            buf_printf(&b, "%s%s", k ? "," : "", p.mx[k]);
        CHECK_STR(buf_cstr(&b), c->mx);
        buf_free(&b);
        CHECK_STR(p.id, "");
        CHECK_INT(p.fetched_at, 0);
        CHECK(err == NULL);
    } else {
        CHECK(err != NULL);
        if (c->err)
            CHECK_STR(err, c->err);
        CHECK_INT(p.nmx, 0);
        CHECK(p.mx == NULL);
    }
    free(err);
    mtasts_policy_free(&p);
}

static void test_policy_parse(void)
{
    static const struct policy_case cases[] = {
        /* The RFC's example (§3.2), with LF, CRLF, and no final line end. */
        { rfc_example, 0, MTASTS_MODE_ENFORCE, 604800,
          "mail.example.com,*.example.net,backupmx.example.com", NULL },
        { "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n", 0,
          MTASTS_MODE_ENFORCE, 86400, "mail.example.com", NULL },
        { "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400", 0,
          MTASTS_MODE_TESTING, 86400, "mx.example.org", NULL },
        /* Fields in any order; mode none needs no mx, but may have some. */
        { "max_age: 1\nmode: none\nversion: STSv1\n", 0, MTASTS_MODE_NONE, 1, "", NULL },
        { "version: STSv1\nmode: none\nmax_age: 1\nmx: a.example\n", 0, MTASTS_MODE_NONE, 1,
          "a.example", NULL },
        /* White space: none after the colon, tabs, trailing; empty lines; a BOM. */
        { "version:STSv1\nmode:\t enforce \t\nmx:   mx.example\t\nmax_age:0\n", 0,
          MTASTS_MODE_ENFORCE, 0, "mx.example", NULL },
        { "\n\r\nversion: STSv1\n\nmode: enforce\n  \nmx: mx.example\nmax_age: 5\n\n\n", 0,
          MTASTS_MODE_ENFORCE, 5, "mx.example", NULL },
        { "\xef\xbb\xbfversion: STSv1\nmode: none\nmax_age: 5\n", 0, MTASTS_MODE_NONE, 5, "",
          NULL },
        /* Extensions are ignored, but must be well-formed (§3.2). */
        { "version: STSv1\nmode: none\nmax_age: 5\nx_y-z.w: any value, at all\ncomment: "
          "caf\xc3\xa9\n",
          0, MTASTS_MODE_NONE, 5, "", NULL },
        { "version: STSv1\nmode: none\nmax_age: 5\nfoo:\n", -1, 0, 0, NULL,
          "line 4: empty value" },
        { "version: STSv1\nmode: none\nmax_age: 5\nfoo: a\x01z\n", -1, 0, 0, NULL,
          "line 4: control character in a value" },
        { "version: STSv1\nmode: none\nmax_age: 5\nfoo: a\rz\n", -1, 0, 0, NULL,
          "line 4: control character in a value" },
        { "version: STSv1\nmode: none\nmax_age: 5\nfoo: a\tz\n", -1, 0, 0, NULL,
          "line 4: control character in a value" },
        { "version: STSv1\nmode: none\nmax_age: 5\n_x: v\n", -1, 0, 0, NULL,
          "line 4: expected \"name: value\"" },
        { "version: STSv1\nmode: none\nmax_age: 5\nabcdefghijabcdefghijabcdefghijabc: v\n", -1,
          0, 0, NULL, "line 4: field name longer than 32 characters" },
        { "version: STSv1\nmode : enforce\n", -1, 0, 0, NULL,
          "line 2: expected \"name: value\"" },
        { "version: STSv1\nno colon here\n", -1, 0, 0, NULL,
          "line 2: expected \"name: value\"" },
        { ": STSv1\n", -1, 0, 0, NULL, "line 1: expected \"name: value\"" },
        { " version: STSv1\n", -1, 0, 0, NULL, "line 1: expected \"name: value\"" },
        /* Required fields. */
        { "mode: enforce\nmx: a.example\nmax_age: 5\n", -1, 0, 0, NULL, "no version field" },
        { "version: STSv1\nmx: a.example\nmax_age: 5\n", -1, 0, 0, NULL, "no mode field" },
        { "version: STSv1\nmode: enforce\nmx: a.example\n", -1, 0, 0, NULL,
          "no max_age field" },
        { "version: STSv1\nmode: enforce\nmax_age: 5\n", -1, 0, 0, NULL,
          "no mx field (required unless mode is none)" },
        { "version: STSv1\nmode: testing\nmax_age: 5\n", -1, 0, 0, NULL,
          "no mx field (required unless mode is none)" },
        { "", -1, 0, 0, NULL, "no version field" },
        /* Keywords and values are case-sensitive (%s in the ABNF). */
        { "version: STSv2\nmode: none\nmax_age: 5\n", -1, 0, 0, NULL,
          "line 1: version: expected STSv1" },
        { "version: stsv1\nmode: none\nmax_age: 5\n", -1, 0, 0, NULL,
          "line 1: version: expected STSv1" },
        { "version: STSv1\nmode: Enforce\nmax_age: 5\n", -1, 0, 0, NULL,
          "line 2: mode: expected enforce, testing or none" },
        { "version: STSv1\nmode: enforcing\nmax_age: 5\n", -1, 0, 0, NULL,
          "line 2: mode: expected enforce, testing or none" },
        { "version: STSv1\nMode: enforce\nmax_age: 5\n", -1, 0, 0, NULL, "no mode field" },
        /* max_age: 1 to 10 digits, capped at a year. */
        { "version: STSv1\nmode: none\nmax_age: 31557600\n", 0, MTASTS_MODE_NONE, 31557600,
          "", NULL },
        { "version: STSv1\nmode: none\nmax_age: 31557601\n", 0, MTASTS_MODE_NONE, 31557600,
          "", NULL },
        { "version: STSv1\nmode: none\nmax_age: 9999999999\n", 0, MTASTS_MODE_NONE, 31557600,
          "", NULL },
        { "version: STSv1\nmode: none\nmax_age: 0000000007\n", 0, MTASTS_MODE_NONE, 7, "",
          NULL },
        { "version: STSv1\nmode: none\nmax_age: 12345678901\n", -1, 0, 0, NULL,
          "line 3: max_age: expected 1 to 10 digits" },
        { "version: STSv1\nmode: none\nmax_age: -1\n", -1, 0, 0, NULL,
          "line 3: max_age: expected 1 to 10 digits" },
        { "version: STSv1\nmode: none\nmax_age: 1e5\n", -1, 0, 0, NULL,
          "line 3: max_age: expected 1 to 10 digits" },
        { "version: STSv1\nmode: none\nmax_age: 86400 s\n", -1, 0, 0, NULL,
          "line 3: max_age: expected 1 to 10 digits" },
        /* Repeated fields: the first wins; later ones must still be valid. */
        { "version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\nmax_age: 2\n",
          0, MTASTS_MODE_ENFORCE, 1, "a.example", NULL },
        { "version: STSv1\nmode: none\nmode: enforce\nmax_age: 1\n", 0, MTASTS_MODE_NONE, 1,
          "", NULL },
        { "version: STSv1\nversion: STSv1\nmode: none\nmax_age: 1\n", 0, MTASTS_MODE_NONE, 1,
          "", NULL },
        { "version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n", -1, 0, 0, NULL,
          "line 2: version: expected STSv1" },
        { "version: STSv1\nmode: none\nmode: bogus\nmax_age: 1\n", -1, 0, 0, NULL,
          "line 3: mode: expected enforce, testing or none" },
        { "version: STSv1\nmode: none\nmax_age: 1\nmax_age: x\n", -1, 0, 0, NULL,
          "line 4: max_age: expected 1 to 10 digits" },
        /* mx patterns: stored lowercase without the trailing dot. */
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: MAIL.Example.COM.\nmx: *.EXAMPLE.net\n"
          "mx: xn--bcher-kva.example\nmx: 1-2.3\nmx: localhost\n",
          0, MTASTS_MODE_ENFORCE, 1,
          "mail.example.com,*.example.net,xn--bcher-kva.example,1-2.3,localhost", NULL },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: *\n", -1, 0, 0, NULL,
          "line 4: mx: \"*\" is allowed only as \"*.\" at the start" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: *.\n", -1, 0, 0, NULL,
          "line 4: mx: no domain name" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: .\n", -1, 0, 0, NULL,
          "line 4: mx: no domain name" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: foo.*.example\n", -1, 0, 0, NULL,
          "line 4: mx: \"*\" is allowed only as \"*.\" at the start" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: *.*.example\n", -1, 0, 0, NULL,
          "line 4: mx: \"*\" is allowed only as \"*.\" at the start" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: mx*.example\n", -1, 0, 0, NULL,
          "line 4: mx: \"*\" is allowed only as \"*.\" at the start" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: -a.example\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (empty label or hyphen at an end)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: a-.example\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (empty label or hyphen at an end)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: a..example\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (empty label or hyphen at an end)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: .a.example\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (empty label or hyphen at an end)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.example..\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (empty label or hyphen at an end)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: mail_1.example\n", -1, 0, 0, NULL,
          "line 4: mx: not a domain name (letters, digits, hyphens and dots only)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: mail.example extra\n", -1, 0, 0,
          NULL, "line 4: mx: not a domain name (letters, digits, hyphens and dots only)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx: b\xc3\xbc" "cher.example\n", -1, 0, 0,
          NULL, "line 4: mx: not ASCII (use the A-label form, xn--...)" },
        { "version: STSv1\nmode: enforce\nmax_age: 1\nmx:\n", -1, 0, 0, NULL,
          "line 4: empty value" },
    };
    for (size_t i = 0; i < N(cases); i++)
        check_policy_case(i, &cases[i]);
}

static void test_policy_limits(void)
{
    struct buf b;
    buf_init(&b, 0);
    char label63[64], label64[65];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'b', 64);
    label64[64] = '\0';
    struct mtasts_policy p;
    char *err = NULL;

    /* A label of 63 characters, not 64. */
    buf_printf(&b, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s.example\n", label63);
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), 0);
    mtasts_policy_free(&p);
    buf_clear(&b);
    buf_printf(&b, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s.example\n", label64);
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), -1);
    CHECK_STR(err, "line 4: mx: a label longer than 63 characters");
    free(err);

    /* A pattern of 253 characters, "*." included, not 254. */
    for (int wild = 0; wild < 2; wild++) {
        for (int len = 253; len <= 254; len++) {
            buf_clear(&b);
            buf_printf(&b, "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s", wild ? "*." : "");
            /* 63-character labels and a shorter last one. */
            int left = len - (wild ? 2 : 0);
            while (left > 0) {
                int n = left > 63 ? 63 : left;
                if (left - n == 1)
                    n--; /* never leave a label of zero characters after a dot */
                buf_append(&b, label63, (size_t)n);
                left -= n;
                if (left > 0) {
                    buf_append_char(&b, '.');
                    left--;
                }
            }
            buf_append_cstr(&b, "\n");
            err = NULL;
            int r = mtasts_policy_parse(buf_str(&b), &p, &err);
            CHECK_INT(r, len == 253 ? 0 : -1);
            if (r == 0) {
                CHECK_INT(strlen(p.mx[0]), 253);
                mtasts_policy_free(&p);
            } else {
                CHECK_STR(err, "line 4: mx: longer than 253 characters");
                free(err);
            }
        }
    }

    /* 100 mx patterns, not 101. */
    buf_clear(&b);
    buf_append_cstr(&b, "version: STSv1\nmode: enforce\nmax_age: 1\n");
    for (int i = 0; i < MTASTS_MAX_MX; i++)
        buf_printf(&b, "mx: mx%d.example\n", i);
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), 0);
    CHECK_INT(p.nmx, MTASTS_MAX_MX);
    CHECK_STR(p.mx[99], "mx99.example");
    mtasts_policy_free(&p);
    buf_append_cstr(&b, "mx: one-more.example\n");
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), -1);
    CHECK_STR(err, "line 104: more than 100 mx patterns");
    free(err);

    /* 64 KB, not a byte more, whatever is in it. */
    buf_clear(&b);
    buf_append_cstr(&b, "version: STSv1\nmode: none\nmax_age: 1\n");
    while (b.len < MTASTS_POLICY_MAX - 1)
        buf_append_char(&b, '\n');
    buf_append_char(&b, '\n');
    CHECK_INT(b.len, MTASTS_POLICY_MAX);
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), 0);
    mtasts_policy_free(&p);
    buf_append_char(&b, '\n');
    CHECK_INT(mtasts_policy_parse(buf_str(&b), &p, &err), -1);
    CHECK_STR(err, "policy larger than 65536 bytes");
    free(err);

    /* A NUL in a value is a control character (binary-safe parsing). */
    static const char nul[] = "version: STSv1\nmode: none\nmax_age: 1\nx: a\0b\n";
    CHECK_INT(mtasts_policy_parse((struct str){ nul, sizeof(nul) - 1 }, &p, &err), -1);
    CHECK_STR(err, "line 4: control character in a value");
    free(err);
    buf_free(&b);
}

/* --- Matching --- */

static void test_pattern_matches(void)
{
    static const struct {
        const char *pattern, *host;
        bool match;
    } cases[] = {
        { "mail.example.com", "mail.example.com", true },
        { "mail.example.com", "MAIL.Example.COM", true },
        { "mail.example.com", "mail.example.com.", true },
        { "mail.example.com", "mail.example.com..", false },
        { "mail.example.com", "mail.example.org", false },
        { "mail.example.com", "example.com", false },
        { "mail.example.com", "x.mail.example.com", false },
        { "mail.example.com", "mail.example.co", false },
        { "mail.example.com", "", false },
        /* §4.1: the wildcard covers exactly one leftmost label. */
        { "*.example.net", "mx1.example.net", true },
        { "*.example.net", "MX1.Example.NET.", true },
        { "*.example.net", "x.example.net", true },
        { "*.example.net", "example.net", false },
        { "*.example.net", "example.net.", false },
        { "*.example.net", "a.b.example.net", false },
        { "*.example.net", ".example.net", false },
        { "*.example.net", "xexample.net", false },
        { "*.example.net", "mx1.example.org", false },
        { "*.example.net", "*.example.net", true }, /* "*" is just a label to the matcher */
        { "*.example.net", ".", false },
        { "*.example.net", "", false },
    };
    for (size_t i = 0; i < N(cases); i++) {
        bool m = mtasts_pattern_matches(cases[i].pattern, str_from_cstr(cases[i].host));
        if (m != cases[i].match)
            fprintf(stderr, "  case %zu: %s vs %s\n", i, cases[i].pattern, cases[i].host);
        CHECK_INT(m, cases[i].match);
    }

    struct mtasts_policy p;
    char *err = NULL;
    CHECK_INT(mtasts_policy_parse(str_from_cstr(rfc_example), &p, &err), 0);
    CHECK(mtasts_mx_matches(&p, str_from_cstr("mail.example.com")));
    CHECK(mtasts_mx_matches(&p, str_from_cstr("backupmx.example.com.")));
    CHECK(mtasts_mx_matches(&p, str_from_cstr("Mx7.Example.Net")));
    CHECK(!mtasts_mx_matches(&p, str_from_cstr("example.net")));
    CHECK(!mtasts_mx_matches(&p, str_from_cstr("evil.example.com")));
    mtasts_policy_free(&p);
    CHECK_INT(mtasts_policy_parse(str_from_cstr("version: STSv1\nmode: none\nmax_age: 1\n"), &p,
                                  &err),
              0);
    CHECK(!mtasts_mx_matches(&p, str_from_cstr("mail.example.com")));
    mtasts_policy_free(&p);
}

/* A certificate with the given subjectAltName dNSNames (NULL-terminated)
 * and common name (or none). */
static X509 *make_cert(const char *cn, const char *const *sans)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    if (cn)
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    if (sans && sans[0]) {
        struct buf b;
        buf_init(&b, 0);
        for (int i = 0; sans[i]; i++)
            buf_printf(&b, "%sDNS:%s", i ? "," : "", sans[i]);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
        X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &v3, "subjectAltName", buf_cstr(&b));
        CHECK(ext != NULL);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        buf_free(&b);
    }
    X509_sign(x, key, EVP_sha256());
    EVP_PKEY_free(key);
    return x;
}

static void test_cert_matches_host(void)
{
    const char *plain[] = { "mail.example.com", "backup.example.com", NULL };
    X509 *x = make_cert("other.example.org", plain);
    CHECK(mtasts_cert_matches_host(x, "mail.example.com"));
    CHECK(mtasts_cert_matches_host(x, "MAIL.example.com."));
    CHECK(mtasts_cert_matches_host(x, "backup.example.com"));
    CHECK(!mtasts_cert_matches_host(x, "other.example.org")); /* the CN is never used */
    CHECK(!mtasts_cert_matches_host(x, "x.mail.example.com"));
    CHECK(!mtasts_cert_matches_host(x, ""));
    X509_free(x);

    const char *wild[] = { "*.example.net", NULL };
    x = make_cert(NULL, wild);
    CHECK(mtasts_cert_matches_host(x, "mx1.example.net"));
    CHECK(!mtasts_cert_matches_host(x, "example.net"));
    CHECK(!mtasts_cert_matches_host(x, "a.b.example.net"));
    X509_free(x);

    /* A wildcard that is only part of a label is not honoured. */
    const char *partial[] = { "mx*.example.org", NULL };
    x = make_cert(NULL, partial);
    CHECK(!mtasts_cert_matches_host(x, "mx1.example.org"));
    X509_free(x);

    /* A certificate with only a common name matches nothing. */
    x = make_cert("mail.example.com", NULL);
    CHECK(!mtasts_cert_matches_host(x, "mail.example.com"));
    X509_free(x);
    CHECK(!mtasts_cert_matches_host(NULL, "mail.example.com"));
}

/* --- Cache --- */

static void test_serialize(void)
{
    struct mtasts_policy p, q;
    char *err = NULL;
    CHECK_INT(mtasts_policy_parse(str_from_cstr(rfc_example), &p, &err), 0);
    strcpy(p.id, "20160831085700Z");
    p.fetched_at = 1700000000;
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(mtasts_policy_serialize(&p, &b), 0);
    CHECK_STR(buf_cstr(&b), "outpost-mtasts: 1\n"
                            "id: 20160831085700Z\n"
                            "fetched_at: 1700000000\n"
                            "version: STSv1\n"
                            "mode: enforce\n"
                            "max_age: 604800\n"
                            "mx: mail.example.com\n"
                            "mx: *.example.net\n"
                            "mx: backupmx.example.com\n");
    CHECK_INT(mtasts_policy_deserialize(buf_str(&b), &q, &err), 0);
    CHECK_STR(q.id, p.id);
    CHECK_INT(q.fetched_at, p.fetched_at);
    CHECK_INT(q.mode, p.mode);
    CHECK_INT(q.max_age, p.max_age);
    CHECK_INT(q.nmx, 3);
    for (int i = 0; i < q.nmx && i < p.nmx; i++)
        CHECK_STR(q.mx[i], p.mx[i]);
    /* A copy is deep and equal. */
    struct mtasts_policy c;
    mtasts_policy_copy(&c, &q);
    mtasts_policy_free(&q);
    CHECK_STR(c.mx[1], "*.example.net");
    CHECK_STR(c.id, "20160831085700Z");
    mtasts_policy_free(&c);

    /* Expiry: fetched_at + max_age. */
    CHECK(!mtasts_policy_expired(&p, 1700000000));
    CHECK(!mtasts_policy_expired(&p, 1700000000 + 604799));
    CHECK(mtasts_policy_expired(&p, 1700000000 + 604800));

    /* A buffer too small for it is left as it was. */
    struct buf small;
    buf_init(&small, 64);
    buf_append_cstr(&small, "keep");
    CHECK_INT(mtasts_policy_serialize(&p, &small), -1);
    CHECK_STR(buf_cstr(&small), "keep");
    buf_free(&small);
    mtasts_policy_free(&p);

    /* Mode none, no id. */
    CHECK_INT(mtasts_policy_parse(str_from_cstr("version: STSv1\nmode: none\nmax_age: 9\n"), &p,
                                  &err),
              0);
    buf_clear(&b);
    CHECK_INT(mtasts_policy_serialize(&p, &b), 0);
    CHECK_STR(buf_cstr(&b),
              "outpost-mtasts: 1\nid:\nfetched_at: 0\nversion: STSv1\nmode: none\nmax_age: 9\n");
    CHECK_INT(mtasts_policy_deserialize(buf_str(&b), &q, &err), 0);
    CHECK_INT(q.mode, MTASTS_MODE_NONE);
    CHECK_STR(q.id, "");
    mtasts_policy_free(&q);
    mtasts_policy_free(&p);
    buf_free(&b);

    static const struct {
        const char *in, *err;
    } bad[] = {
        { "", "not an MTA-STS cache entry (version 1)" },
        { "outpost-mtasts: 2\nid: a\nfetched_at: 1\nversion: STSv1\nmode: none\nmax_age: 1\n",
          "not an MTA-STS cache entry (version 1)" },
        { "outpost-mtasts: 1\nid: a-b\nfetched_at: 1\nversion: STSv1\nmode: none\nmax_age: 1\n",
          "cache entry: bad id line" },
        { "outpost-mtasts: 1\nid: 123456789012345678901234567890123\nfetched_at: 1\n",
          "cache entry: bad id line" },
        { "outpost-mtasts: 1\nfetched_at: 1\nid: a\nversion: STSv1\nmode: none\nmax_age: 1\n",
          "cache entry: bad id line" },
        { "outpost-mtasts: 1\nid: a\nfetched_at: -1\nversion: STSv1\nmode: none\nmax_age: 1\n",
          "cache entry: bad fetched_at line" },
        { "outpost-mtasts: 1\nid: a\nfetched_at: 1", "cache entry: bad fetched_at line" },
        { "outpost-mtasts: 1\nid: a\nfetched_at: 1\nversion: STSv1\nmode: bad\nmax_age: 1\n",
          "line 2: mode: expected enforce, testing or none" },
    };
    for (size_t i = 0; i < N(bad); i++) {
        err = NULL;
        CHECK_INT(mtasts_policy_deserialize(str_from_cstr(bad[i].in), &q, &err), -1);
        CHECK_STR(err, bad[i].err);
        CHECK_INT(q.nmx, 0);
        free(err);
    }
}

/* --- HTTP response --- */

struct http_case {
    const char *in;
    int eof;         /* 0 no end, 1 a clean end, 2 a dirty end */
    enum mtasts_http_status st;
    int status;
    const char *ctype, *body, *err;
};

/* Feeds `in` `chunk` bytes at a time; returns the final status. */
static enum mtasts_http_status http_run(const struct http_case *c, size_t chunk,
                                        struct mtasts_http_reader *r, const char **err,
                                        size_t *left)
{
    size_t len = strlen(c->in), off = 0;
    enum mtasts_http_status st = MTASTS_HTTP_NEED_MORE;
    mtasts_http_reader_init(r);
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        struct str in = { c->in + off, n };
        st = mtasts_http_read(r, &in, err);
        off += n - in.len;
        if (st != MTASTS_HTTP_NEED_MORE)
            break;
        CHECK_INT(in.len, 0);
    }
    *left = len - off;
    if (st == MTASTS_HTTP_NEED_MORE && c->eof)
        st = mtasts_http_eof(r, c->eof == 1, err);
    return st;
}

static void test_http_reader(void)
{
    static const char big_cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\n";
    static const struct http_case cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", 0,
          MTASTS_HTTP_DONE, 200, "text/plain", "hello", NULL },
        /* Bare LF line ends; HTTP/1.0; no reason phrase; odd header case. */
        { "HTTP/1.0 200\ncontent-TYPE:   text/plain; charset=utf-8  \nCONTENT-LENGTH: 2\n\nok",
          0, MTASTS_HTTP_DONE, 200, "text/plain; charset=utf-8", "ok", NULL },
        /* The bytes after a complete body are not taken. */
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 0, MTASTS_HTTP_DONE, 200, "",
          "ok", NULL },
        { "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, MTASTS_HTTP_DONE, 200, "", "",
          NULL },
        /* The same Content-Length twice is fine; two different ones are not. */
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 0,
          MTASTS_HTTP_DONE, 200, "", "ok", NULL },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", 0,
          MTASTS_HTTP_ERROR, 0, NULL, NULL, "conflicting Content-Length fields" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", 0, MTASTS_HTTP_ERROR, 0, NULL,
          NULL, "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", 0, MTASTS_HTTP_ERROR, 0, NULL,
          NULL, "bad Content-Length" },
        /* Chunked, with an extension and a trailer; it wins over Content-Length. */
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
          "5\r\nhello\r\n6;ext=1\r\n world\r\nA \r\n0123456789\r\n0\r\nX-Trailer: a\r\n\r\n",
          0, MTASTS_HTTP_DONE, 200, "text/plain", "hello world0123456789", NULL },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n"
          "2\r\nok\r\n0\r\n\r\n",
          0, MTASTS_HTTP_DONE, 200, "", "ok", NULL },
        { "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n", 0, MTASTS_HTTP_DONE,
          200, "", "ok", NULL },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 0,
          MTASTS_HTTP_ERROR, 0, NULL, NULL, "chunk data longer than its size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, MTASTS_HTTP_ERROR,
          0, NULL, NULL, "bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 0, MTASTS_HTTP_ERROR,
          0, NULL, NULL, "bad chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL,
          NULL, "unsupported Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, MTASTS_HTTP_ERROR,
          0, NULL, NULL, "unsupported Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
          0, MTASTS_HTTP_ERROR, 0, NULL, NULL, "unsupported Transfer-Encoding" },
        /* A chunked body cut short. */
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1, MTASTS_HTTP_ERROR,
          0, NULL, NULL, "connection closed before the response was complete" },
        /* To the end of the connection: only a clean end completes it. */
        { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 1, MTASTS_HTTP_DONE,
          200, "text/plain", "all of it", NULL },
        { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 2,
          MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "connection closed without TLS close_notify: the body may be cut short" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1, MTASTS_HTTP_ERROR, 0, NULL,
          NULL, "connection closed before the response was complete" },
        { "HTTP/1.1 200 OK\r\nContent-Le", 1, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "connection closed before the response was complete" },
        { "", 1, MTASTS_HTTP_ERROR, 0, NULL, NULL, "connection closed without a response" },
        /* Any status but 200 is complete at the end of its head. */
        { "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", 0, MTASTS_HTTP_DONE, 404, "",
          "", NULL },
        { "HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.example/\r\n\r\n", 0,
          MTASTS_HTTP_DONE, 301, "", "", NULL },
        { "HTTP/1.1 500 Oops\r\nContent-Length: 999999999\r\n\r\n", 0, MTASTS_HTTP_DONE, 500,
          "", "", NULL },
        /* Interim responses are skipped; 101 is refused. */
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
          0, MTASTS_HTTP_DONE, 200, "", "ok", NULL },
        { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0,
          NULL, NULL, "unexpected 101 Switching Protocols" },
        /* Status lines. */
        { "HTTP/2 200 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        { "HTTP/1.1 20 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        { "HTTP/1.1 600 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        { "HTTP/1.1 2000 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        { "ICY 200 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        { "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "not an HTTP/1.x status line" },
        /* Header fields. */
        { "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "folded header line" },
        { "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "malformed header line" },
        { "HTTP/1.1 200 OK\r\nContent-Type : text/plain\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0,
          NULL, NULL, "malformed header line" },
        { "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "malformed header line" },
        { "HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "control character in a header field" },
        { "HTTP/1.1 200 OK\r\nX: a\rz\r\n\r\n", 0, MTASTS_HTTP_ERROR, 0, NULL, NULL,
          "control character in a header field" },
        { "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/plain\r\n\r\n", 0,
          MTASTS_HTTP_ERROR, 0, NULL, NULL, "several Content-Type fields" },
        /* Sizes: the body's cap, announced or not. */
        { big_cl, 0, MTASTS_HTTP_TOO_LARGE, 0, NULL, NULL, "policy larger than 65536 bytes" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 0,
          MTASTS_HTTP_TOO_LARGE, 0, NULL, NULL, "policy larger than 65536 bytes" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "ffffffffffffffffffffffffffffffff\r\n",
          0, MTASTS_HTTP_TOO_LARGE, 0, NULL, NULL, "policy larger than 65536 bytes" },
    };
    static const size_t chunks[] = { 1, 2, 3, 7, 64, 100000 };
    for (size_t i = 0; i < N(cases); i++) {
        for (size_t k = 0; k < N(chunks); k++) {
            struct mtasts_http_reader r;
            const char *err = NULL;
            size_t left = 0;
            enum mtasts_http_status st = http_run(&cases[i], chunks[k], &r, &err, &left);
            if (st != cases[i].st)
                fprintf(stderr, "  case %zu chunk %zu: %d (%s)\n", i, chunks[k], st,
                        err ? err : "");
            CHECK_INT(st, cases[i].st);
            if (st == MTASTS_HTTP_DONE) {
                CHECK_INT(r.status, cases[i].status);
                CHECK_STR(buf_cstr(&r.content_type), cases[i].ctype);
                CHECK_STR(buf_cstr(&r.body), cases[i].body);
                /* Finished: nothing more is taken, the answer stays. */
                struct str more = STR_LIT("more");
                CHECK_INT(mtasts_http_read(&r, &more, &err), MTASTS_HTTP_DONE);
                CHECK_INT(more.len, 4);
                CHECK_INT(mtasts_http_eof(&r, false, &err), MTASTS_HTTP_DONE);
            } else if (st != MTASTS_HTTP_NEED_MORE) {
                CHECK_STR(err, cases[i].err);
                struct str more = STR_LIT("more");
                const char *err2 = NULL;
                CHECK_INT(mtasts_http_read(&r, &more, &err2), st);
                CHECK_STR(err2, cases[i].err);
            }
            if (i == 2 && st == MTASTS_HTTP_DONE)
                CHECK_INT(left, 5); /* "EXTRA" */
            mtasts_http_reader_free(&r);
        }
    }
}

static void test_http_limits(void)
{
    struct buf b;
    buf_init(&b, 0);
    struct mtasts_http_reader r;
    const char *err = NULL;

    /* A body of exactly 64 KB, by Content-Length, chunked and to the end. */
    for (int how = 0; how < 3; how++) {
        buf_clear(&b);
        buf_append_cstr(&b, "HTTP/1.1 200 OK\r\n");
        if (how == 0)
            buf_printf(&b, "Content-Length: %d\r\n\r\n", MTASTS_POLICY_MAX);
        else if (how == 1)
            buf_append_cstr(&b, "Transfer-Encoding: chunked\r\n\r\n");
        else
            buf_append_cstr(&b, "\r\n");
        for (int i = 0; i < MTASTS_POLICY_MAX / 1024; i++) {
            if (how == 1)
                buf_append_cstr(&b, "400\r\n");
            for (int k = 0; k < 1024; k++)
                buf_append_char(&b, 'x');
            if (how == 1)
                buf_append_cstr(&b, "\r\n");
        }
        for (int extra = 0; extra < 2; extra++) {
            struct buf whole;
            buf_init(&whole, 0);
            buf_append_str(&whole, buf_str(&b));
            if (extra)
                buf_append_cstr(&whole, how == 1 ? "1\r\ny\r\n" : "y");
            if (how == 1)
                buf_append_cstr(&whole, "0\r\n\r\n");
            mtasts_http_reader_init(&r);
            struct str in = buf_str(&whole);
            enum mtasts_http_status st = mtasts_http_read(&r, &in, &err);
            if (how == 2 && st == MTASTS_HTTP_NEED_MORE)
                st = mtasts_http_eof(&r, true, &err);
            /* Content-Length: the extra byte is just not taken. */
            if (extra && how != 0) {
                CHECK_INT(st, MTASTS_HTTP_TOO_LARGE);
            } else {
                CHECK_INT(st, MTASTS_HTTP_DONE);
                CHECK_INT(r.body.len, MTASTS_POLICY_MAX);
            }
            mtasts_http_reader_free(&r);
            buf_free(&whole);
        }
    }

    /* The head: a line past 8 KB, more than 100 fields, more than 16 KB. */
    buf_clear(&b);
    buf_append_cstr(&b, "HTTP/1.1 200 OK\r\nX: ");
    for (int i = 0; i < MTASTS_HTTP_LINE_MAX; i++)
        buf_append_char(&b, 'a');
    buf_append_cstr(&b, "\r\n\r\n");
    mtasts_http_reader_init(&r);
    struct str in = buf_str(&b);
    CHECK_INT(mtasts_http_read(&r, &in, &err), MTASTS_HTTP_ERROR);
    CHECK_STR(err, "response line too long");
    mtasts_http_reader_free(&r);

    buf_clear(&b);
    buf_append_cstr(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < MTASTS_HTTP_MAX_FIELDS + 1; i++)
        buf_printf(&b, "X-%d: a\r\n", i);
    buf_append_cstr(&b, "\r\n");
    mtasts_http_reader_init(&r);
    in = buf_str(&b);
    CHECK_INT(mtasts_http_read(&r, &in, &err), MTASTS_HTTP_ERROR);
    CHECK_STR(err, "too many header fields");
    mtasts_http_reader_free(&r);

    buf_clear(&b);
    buf_append_cstr(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 3; i++) {
        buf_append_cstr(&b, "X: ");
        for (int k = 0; k < 6000; k++)
            buf_append_char(&b, 'a');
        buf_append_cstr(&b, "\r\n");
    }
    mtasts_http_reader_init(&r);
    in = buf_str(&b);
    CHECK_INT(mtasts_http_read(&r, &in, &err), MTASTS_HTTP_ERROR);
    CHECK_STR(err, "response header too large");
    mtasts_http_reader_free(&r);

    /* Interim responses count towards the same 16 KB. */
    buf_clear(&b);
    for (int i = 0; i < 2000; i++)
        buf_append_cstr(&b, "HTTP/1.1 100 Continue\r\n\r\n");
    mtasts_http_reader_init(&r);
    in = buf_str(&b);
    CHECK_INT(mtasts_http_read(&r, &in, &err), MTASTS_HTTP_ERROR);
    CHECK_STR(err, "response header too large");
    mtasts_http_reader_free(&r);
    buf_free(&b);
}

static void test_content_type(void)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        { "text/plain", true },
        { "text/plain; charset=utf-8", true },
        { "TEXT/Plain;charset=\"us-ascii\"", true },
        { "  text/plain \t; x=y", true },
        { "text/plain\t", true },
        { "text/plain2", false },
        { "text/plainx; a=b", false },
        { "text/plai", false },
        { "text/html", false },
        { "application/octet-stream", false },
        { "text /plain", false },
        { "", false },
    };
    for (size_t i = 0; i < N(cases); i++)
        CHECK_INT(mtasts_content_type_ok(str_from_cstr(cases[i].in)), cases[i].ok);
}

int main(void)
{
    RUN(test_txt_parse);
    RUN(test_txt_select);
    RUN(test_policy_parse);
    RUN(test_policy_limits);
    RUN(test_pattern_matches);
    RUN(test_cert_matches_host);
    RUN(test_serialize);
    RUN(test_http_reader);
    RUN(test_http_limits);
    RUN(test_content_type);
    return TEST_DONE();
}
