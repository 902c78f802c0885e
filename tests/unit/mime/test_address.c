/*
 * Unit tests for mime/address.c: address lists, with the examples of
 * RFC 5322 Appendix A first, then obsolete syntax and garbage.
 */
#include <string.h>

#include "core/arena.h"
#include "mime/mime.h"
#include "test.h"

/* An address list rendered the way IMAP's ENVELOPE would show it:
 * (name route mailbox domain) per entry, NIL for NULL, and for groups
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL). Decoded names are checked
 * separately. */
static const char *render(struct arena *a, const struct mime_addresses *l)
{
    struct buf b;
    buf_init(&b, 0);
    for (unsigned i = 0; i < l->n; i++) {
        const struct mime_address *ad = &l->v[i];
        const struct str f[4] = { ad->name_raw, ad->route, ad->mailbox, ad->domain };
        if (ad->kind == MIME_ADDR_GROUP_START)
            buf_printf(&b, "(NIL NIL \"%.*s\" NIL)", (int)ad->name_raw.len, ad->name_raw.p);
        else if (ad->kind == MIME_ADDR_GROUP_END)
            buf_append_cstr(&b, "(NIL NIL NIL NIL)");
        else {
            buf_append_char(&b, '(');
            for (int k = 0; k < 4; k++) {
                if (k)
                    buf_append_char(&b, ' ');
                if (f[k].p)
                    buf_printf(&b, "\"%.*s\"", (int)f[k].len, f[k].p);
                else
                    buf_append_cstr(&b, "NIL");
            }
            buf_append_char(&b, ')');
        }
    }
    char *s = arena_strdup(a, buf_cstr(&b));
    buf_free(&b);
    return s;
}

static const struct {
    const char *in, *out;
} cases[] = {
    /* A.1.1 */
    { "John Doe <jdoe@machine.example>", "(\"John Doe\" NIL \"jdoe\" \"machine.example\")" },
    { "Mary Smith <mary@example.net>", "(\"Mary Smith\" NIL \"mary\" \"example.net\")" },
    /* A.1.2 */
    { "\"Joe Q. Public\" <john.q.public@example.com>",
      "(\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")" },
    { "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
      "(\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
      "(\"Who?\" NIL \"one\" \"y.test\")" },
    { "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
      "(NIL NIL \"boss\" \"nil.test\")(\"Giant; \"Big\" Box\" NIL \"sysservices\" "
      "\"example.net\")" },
    /* A.1.3 */
    { "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
      "(NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" "
      "\"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)" },
    { "Undisclosed recipients:;", "(NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)" },
    /* A.5: white space, comments, and other oddities. */
    { "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
      "(\"Pete\" NIL \"pete\" \"silly.test\")" },
    { "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
      "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the "
      "group)",
      "(NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\" \"public.example\")(NIL NIL \"joe\" "
      "\"example.org\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)" },
    { "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
      "(NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)" },
    /* A.6.1: obsolete syntax. */
    { "Joe Q. Public <john.q.public@example.com>",
      "(\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")" },
    { "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
      "(\"Mary Smith\" \"@node.test\" \"mary\" \"example.net\")(NIL NIL \"jdoe\" "
      "\"test.example\")" },
    /* A.6.3: obsolete white space and comments. */
    { "John Doe <jdoe@machine(comment).  example>",
      "(\"John Doe\" NIL \"jdoe\" \"machine.example\")" },
    { "Mary Smith\r\n    \r\n     <mary@example.net>",
      "(\"Mary Smith\" NIL \"mary\" \"example.net\")" },
    /* Routes with several hops; quoted local parts; domain literals. */
    { "<@a.test,@b.test:x@c.test>", "(NIL \"@a.test,@b.test\" \"x\" \"c.test\")" },
    { "\"john doe\"@example.com", "(NIL NIL \"john doe\" \"example.com\")" },
    { "x@[192.0.2.1]", "(NIL NIL \"x\" \"[192.0.2.1]\")" },
    /* The old "address (Name)" form gives the name. */
    { "jdoe@example.org (John Doe)", "(\"John Doe\" NIL \"jdoe\" \"example.org\")" },
    /* Encoded words stay encoded in name_raw. */
    { "=?utf-8?q?Andr=C3=A9?= <a@b.test>", "(\"=?utf-8?q?Andr=C3=A9?=\" NIL \"a\" \"b.test\")" },
    /* Garbage. */
    { "", "" },
    { " , ,, ", "" },
    { "localrecipient", "(NIL NIL \"localrecipient\" \"\")" },
    { "Undisclosed recipients", "(NIL NIL \"Undisclosed recipients\" \"\")" },
    { "<>", "(NIL NIL \"\" \"\")" },
    { "@example.com", "(NIL NIL \"\" \"example.com\")" },
    { "a@b@c", "(NIL NIL \"a\" \"b@c\")" },
    { "foo@bar.com <foo@bar.com>", "(\"foo@bar.com\" NIL \"foo\" \"bar.com\")" },
    { "Name <unterminated@angle", "(\"Name\" NIL \"unterminated\" \"angle\")" },
    { "\"unterminated quote <a@b>", "(NIL NIL \"unterminated quote <a@b>\" \"\")" },
    { "a@b (unterminated comment", "(\"unterminated comment\" NIL \"a\" \"b\")" },
    { "Name <a@b> trailing junk, c@d", "(\"Name\" NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")" },
    { ">>> a@b", "(NIL NIL \"a\" \"b\")" },
    { "Group: a@b", "(NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)" },
    { "a@b;c@d", "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")" },
    { "G1: a@b; G2: c@d;", "(NIL NIL \"G1\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)"
                           "(NIL NIL \"G2\" NIL)(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)" },
    { "G: x: y@z;", "(NIL NIL \"G\" NIL)(NIL NIL \"x:y\" \"z\")(NIL NIL NIL NIL)" },
    /* 8-bit names (RFC 6532) pass. */
    { "J\xc3\xb6rg <j@x.test>", "(\"J\xc3\xb6rg\" NIL \"j\" \"x.test\")" },
};

static void test_cases(void)
{
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool truncated = true;
        struct mime_addresses l = mime_addresses_parse(a, str_from_cstr(cases[i].in), 100,
                                                       &truncated);
        const char *got = render(a, &l);
        if (strcmp(got, cases[i].out) != 0)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].in);
        CHECK_STR(got, cases[i].out);
        CHECK(!truncated);
    }
    arena_free(a);
}

static void test_decoded_names(void)
{
    struct arena *a = arena_new(0);
    struct mime_addresses l = mime_addresses_parse(
        a,
        STR_LIT("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>, \"=?utf-8?q?caf=C3=A9?=\" "
                "<c@x>, plain <p@x>, =?utf-8?q?Gr=C3=BCppe?=: ;"),
        100, NULL);
    CHECK_INT(l.n, 5);
    CHECK(str_eq(l.v[0].name, STR_LIT("Keld J\xc3\xb8rn Simonsen")));
    /* Encoded words inside quotes are wrong but common: decoded too. */
    CHECK(str_eq(l.v[1].name, STR_LIT("caf\xc3\xa9")));
    CHECK(str_eq(l.v[2].name, STR_LIT("plain")));
    CHECK(l.v[2].name.p == l.v[2].name_raw.p); /* nothing decoded: the same bytes */
    CHECK_INT(l.v[3].kind, MIME_ADDR_GROUP_START);
    CHECK(str_eq(l.v[3].name, STR_LIT("Gr\xc3\xbcppe")));
    CHECK_INT(l.v[4].kind, MIME_ADDR_GROUP_END);
    /* No name: NULL both ways. */
    l = mime_addresses_parse(a, STR_LIT("x@y"), 100, NULL);
    CHECK(l.v[0].name.p == NULL && l.v[0].name_raw.p == NULL && l.v[0].route.p == NULL);
    arena_free(a);
}

static void test_limits(void)
{
    struct arena *a = arena_new(0);
    bool truncated;
    struct mime_addresses l = mime_addresses_parse(a, STR_LIT("a@b, c@d, e@f"), 2, &truncated);
    CHECK_INT(l.n, 2);
    CHECK(truncated);
    l = mime_addresses_parse(a, STR_LIT("a@b, c@d"), 2, &truncated);
    CHECK_INT(l.n, 2);
    CHECK(!truncated);
    l = mime_addresses_parse(a, STR_LIT("a@b"), 0, &truncated);
    CHECK_INT(l.n, 0);
    CHECK(truncated);
    /* A group stays balanced whatever the cap. */
    for (unsigned max = 0; max < 6; max++) {
        l = mime_addresses_parse(a, STR_LIT("G: a@b, c@d, e@f; x@y"), max, &truncated);
        int depth = 0;
        for (unsigned i = 0; i < l.n; i++)
            depth += l.v[i].kind == MIME_ADDR_GROUP_START   ? 1
                     : l.v[i].kind == MIME_ADDR_GROUP_END ? -1
                                                            : 0;
        CHECK_INT(depth, 0);
        CHECK(l.n <= max);
        CHECK(truncated);
    }
    /* Linear on long garbage. */
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 200000; i++)
        buf_append_cstr(&b, "<\"(");
    l = mime_addresses_parse(a, buf_str(&b), 10000, &truncated);
    CHECK(l.n <= 1);
    buf_clear(&b);
    for (int i = 0; i < 100000; i++)
        buf_append_cstr(&b, "a@b,");
    l = mime_addresses_parse(a, buf_str(&b), 10000, &truncated);
    CHECK_INT(l.n, 10000);
    CHECK(truncated);
    buf_free(&b);
    arena_free(a);

    /* A full arena: an empty list, never a crash. */
    struct arena *tiny = arena_new(32);
    l = mime_addresses_parse(tiny, STR_LIT("Someone <a@b>, \"x\\\"y\" <c@d>"), 10, &truncated);
    CHECK(l.n == 0 || l.v != NULL);
    arena_free(tiny);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_decoded_names);
    RUN(test_limits);
    return TEST_DONE();
}
