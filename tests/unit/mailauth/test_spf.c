/* SPF (mailauth/spf): macros, record syntax, asynchronous answers,
 * cancellation and the header fragments. The RFC 7208 test suite runs in
 * tests/integration/test_spf_suite.py. */
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"
#include "spf_zone.h"
#include "test.h"

static const char *expand(const char *spec, const char *ip, bool explanation)
{
    static char out[1024];
    struct spf_macro_vars v = {
        .sender = "strong-bad@email.example.com",
        .local = "strong-bad",
        .sender_domain = "email.example.com",
        .domain = "email.example.com",
        .helo = "mx.example.org",
        .receiver = "mx.outpost.test",
        .now = 1234567890,
    };
    spf_ip_parse(ip, &v.ip);
    struct buf b;
    buf_init(&b, 0);
    const char *err = NULL;
    int rc = spf_macro_expand(str_from_cstr(spec), &v, explanation, &b, &err);
    snprintf(out, sizeof(out), "%s", rc == 0 ? buf_cstr(&b) : "ERROR");
    buf_free(&b);
    return out;
}

/* RFC 7208 §7.4's examples. */
static void test_macro_rfc_examples(void)
{
    const char *ip = "192.0.2.3";
    CHECK_STR(expand("%{s}", ip, false), "strong-bad@email.example.com");
    CHECK_STR(expand("%{o}", ip, false), "email.example.com");
    CHECK_STR(expand("%{d4}", ip, false), "email.example.com");
    CHECK_STR(expand("%{d2}", ip, false), "example.com");
    CHECK_STR(expand("%{d1}", ip, false), "com");
    CHECK_STR(expand("%{dr}", ip, false), "com.example.email");
    CHECK_STR(expand("%{d2r}", ip, false), "example.email");
    CHECK_STR(expand("%{l-}", ip, false), "strong.bad");
    CHECK_STR(expand("%{lr}", ip, false), "strong-bad");
    CHECK_STR(expand("%{lr-}", ip, false), "bad.strong");
    CHECK_STR(expand("%{l1r-}", ip, false), "strong");
    CHECK_STR(expand("%{ir}.%{v}._spf.%{d2}", ip, false), "3.2.0.192.in-addr._spf.example.com");
    CHECK_STR(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", ip, false),
              "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
    CHECK_STR(expand("%{d2}.trusted-domains.example.net", ip, false),
              "example.com.trusted-domains.example.net");
    /* Uppercase nibbles, as pyspf and the suite's explanations have them. */
    CHECK_STR(expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01", false),
              "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
    CHECK_STR(expand("%{c}", "2001:db8::cb01", true), "2001:db8::cb01");
}

static void test_macro_syntax(void)
{
    const char *ip = "192.0.2.3";
    CHECK_STR(expand("a%%b%_c%-d", ip, false), "a%b c%20d");
    CHECK_STR(expand("%{L}", ip, false), "strong-bad");
    CHECK_STR(expand("%{S}", ip, false), "strong-bad%40email.example.com");
    CHECK_STR(expand("%{p}", ip, false), "unknown");
    CHECK_STR(expand("%{h}", ip, false), "mx.example.org");
    CHECK_STR(expand("%{d99}", ip, false), "email.example.com");
    /* c, r, t only in explanations. */
    CHECK_STR(expand("%{c}", ip, false), "ERROR");
    CHECK_STR(expand("%{r} %{t} %{c}", ip, true), "mx.outpost.test 1234567890 192.0.2.3");
    CHECK_STR(expand("%{d0}", ip, false), "ERROR");
    CHECK_STR(expand("%{x}", ip, false), "ERROR");
    CHECK_STR(expand("%{d", ip, false), "ERROR");
    CHECK_STR(expand("%(d)", ip, false), "ERROR");
    CHECK_STR(expand("abc%", ip, false), "ERROR");
    CHECK_STR(expand("a b", ip, false), "ERROR");
    CHECK_STR(expand("a b", ip, true), "a b");
}

static bool parses(const char *rec)
{
    const char *err = NULL;
    struct spf_record *r = spf_record_parse(rec, strlen(rec), &err);
    spf_record_free(r);
    return r != NULL;
}

static void test_record_syntax(void)
{
    CHECK(parses("v=spf1"));
    CHECK(parses("v=spf1 -all"));
    CHECK(parses("V=SPF1 IP4:192.0.2.0/24 Ip6:2001:db8::/32 A MX:%{d}/24//64 ~ALL"));
    CHECK(parses("v=spf1 a  mx   -all "));
    CHECK(parses("v=spf1 foo-bar.baz=anything:/x -all"));
    CHECK(parses("v=spf1 a:xn--zckzah.example.xn--zckzah"));
    CHECK(parses("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}"));
    CHECK(!parses("v=spf10"));
    CHECK(!parses("v=spf1 -all\t"));
    CHECK(!parses("v=spf1 moo"));
    CHECK(!parses("v=spf1 a:museum"));
    CHECK(!parses("v=spf1 a:111.222.33.44"));
    CHECK(!parses("v=spf1 a/33"));
    CHECK(!parses("v=spf1 a/24/64"));
    CHECK(!parses("v=spf1 ip4:1.2.3.4/032"));
    CHECK(!parses("v=spf1 ip4:01.2.3.4"));
    CHECK(!parses("v=spf1 ip6:::1//64"));
    CHECK(!parses("v=spf1 include:example.com/24"));
    CHECK(!parses("v=spf1 exp=a.example exp=b.example"));
    CHECK(!parses("v=spf1 redirect="));
    CHECK(!parses("v=spf1 1up=x"));
    CHECK(!parses("v=spf1 -redirect=x.example"));
    CHECK(!parses("v=spf1 unknown=%x"));
    CHECK(!parses("v=spf1 exists:%{c}.example.com"));
}

/* --- Asynchronous answers: a resolver that answers when the test pumps --- */

struct pending {
    struct zone *z;
    char name[256];
    enum zone_type type;
    struct spf_ip ip;
    spf_dns_fn cb;
    void *arg;
    bool used, cancelled;
};

static struct pending queue[8];

static void *defer(void *ctx, const char *name, enum zone_type t, spf_dns_fn cb, void *arg)
{
    for (int i = 0; i < 8; i++) {
        if (!queue[i].used) {
            queue[i] = (struct pending){ .z = ctx, .type = t, .cb = cb, .arg = arg, .used = true };
            snprintf(queue[i].name, sizeof(queue[i].name), "%s", name ? name : "");
            return &queue[i];
        }
    }
    return NULL;
}

static void *d_txt(void *ctx, const char *n, spf_dns_fn cb, void *arg)
{
    return defer(ctx, n, ZT_TXT, cb, arg);
}

static void *d_a(void *ctx, const char *n, spf_dns_fn cb, void *arg)
{
    return defer(ctx, n, ZT_A, cb, arg);
}

static void *d_aaaa(void *ctx, const char *n, spf_dns_fn cb, void *arg)
{
    return defer(ctx, n, ZT_AAAA, cb, arg);
}

static void *d_mx(void *ctx, const char *n, spf_dns_fn cb, void *arg)
{
    return defer(ctx, n, ZT_MX, cb, arg);
}

static void *d_ptr(void *ctx, const struct spf_ip *ip, spf_dns_fn cb, void *arg)
{
    struct pending *p = defer(ctx, NULL, ZT_PTR, cb, arg);
    p->ip = *ip;
    return p;
}

static void d_cancel(void *ctx, void *h)
{
    ((struct pending *)h)->cancelled = true;
}

/* Answers the lookups in flight; returns how many. */
static int pump(void)
{
    int n = 0;
    for (int i = 0; i < 8; i++) {
        if (!queue[i].used)
            continue;
        struct pending p = queue[i];
        queue[i].used = false;
        if (p.cancelled)
            continue;
        n++;
        if (p.type == ZT_PTR)
            zone_ptr(p.z, &p.ip, p.cb, p.arg);
        else
            zone_answer(p.z, p.name, p.type, p.cb, p.arg);
    }
    return n;
}

static int done_calls;
static enum spf_result done_result;

static void on_done(void *arg, const struct spf_outcome *o)
{
    done_calls++;
    done_result = o->result;
}

static void on_done_free(void *arg, const struct spf_outcome *o)
{
    done_calls++;
    spf_check_free(*(struct spf_check **)arg);
}

static void add_txt(struct zone *z, const char *name, const char *txt)
{
    zone_add(z, name, ZT_TXT, txt, strlen(txt));
}

static void test_async(void)
{
    struct zone z = { 0 };
    add_txt(&z, "example.org", "v=spf1 include:_spf.example.org mx -all");
    add_txt(&z, "_spf.example.org", "v=spf1 a:out.example.org -all");
    zone_add(&z, "out.example.org", ZT_A, "192.0.2.9", 9);
    zone_add(&z, "example.org", ZT_MX, "mx.example.org", 14);
    zone_add(&z, "mx.example.org", ZT_AAAA, "2001:db8::25", 12);
    struct spf_resolver res = { .ctx = &z, .txt = d_txt, .a = d_a, .aaaa = d_aaaa,
                                .mx = d_mx, .ptr = d_ptr, .cancel = d_cancel };
    struct spf_request req = { .helo = "mx.example.org", .mail_from = "jane@example.org" };
    spf_ip_parse("2001:db8::25", &req.ip);
    done_calls = 0;
    struct spf_check *c = spf_check_start(&req, &res, on_done, NULL);
    CHECK(c != NULL);
    CHECK_INT(done_calls, 0);
    CHECK(spf_check_outcome(c) == NULL);
    int rounds = 0;
    while (done_calls == 0 && pump() > 0)
        rounds++;
    CHECK_INT(done_calls, 1);
    CHECK_INT(done_result, SPF_PASS);
    /* example.org TXT, _spf TXT, out AAAA, MX, mx AAAA: one at a time. */
    CHECK_INT(rounds, 5);
    const struct spf_outcome *o = spf_check_outcome(c);
    CHECK(o && o->mechanism && strcmp(o->mechanism, "mx") == 0);
    CHECK_INT(o->dns_terms, 3);
    struct buf b;
    buf_init(&b, 0);
    spf_auth_results(o, &b);
    CHECK_STR(buf_cstr(&b), "spf=pass smtp.mailfrom=jane@example.org");
    buf_free(&b);
    spf_check_free(c);

    /* Freed with a lookup in flight: cancelled, done never runs. */
    done_calls = 0;
    c = spf_check_start(&req, &res, on_done, NULL);
    pump();
    spf_check_free(c);
    CHECK_INT(pump(), 0);
    CHECK_INT(done_calls, 0);

    /* done may free the check (answered from the loop). */
    static struct spf_check *self;
    self = spf_check_start(&req, &res, on_done_free, &self);
    while (done_calls == 0 && pump() > 0)
        ;
    CHECK_INT(done_calls, 1);
    zone_free(&z);
}

static enum spf_result check_sync(struct zone *z, const char *ip, const char *helo,
                                  const char *from, struct buf *ar)
{
    struct spf_resolver res;
    zone_resolver(&res, z);
    struct spf_request req = { .helo = helo, .mail_from = from };
    spf_ip_parse(ip, &req.ip);
    struct spf_check *c = spf_check_start(&req, &res, NULL, NULL);
    const struct spf_outcome *o = spf_check_outcome(c);
    enum spf_result r = o ? o->result : SPF_NONE;
    if (ar && o)
        spf_auth_results(o, ar);
    spf_check_free(c);
    return r;
}

static void test_sync_and_helo(void)
{
    struct zone z = { 0 };
    add_txt(&z, "mx.example.net", "v=spf1 a -all");
    zone_add(&z, "mx.example.net", ZT_A, "198.51.100.7", 12);
    add_txt(&z, "example.net", "v=spf1 redirect=_spf.example.net");
    add_txt(&z, "_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ~all");
    struct buf b;
    buf_init(&b, 0);
    CHECK_INT(check_sync(&z, "198.51.100.7", "mx.example.net", "", &b), SPF_PASS);
    CHECK_STR(buf_cstr(&b), "spf=pass smtp.helo=mx.example.net");
    buf_clear(&b);
    CHECK_INT(check_sync(&z, "198.51.100.8", "mx.example.net", NULL, &b), SPF_FAIL);
    CHECK_INT(check_sync(&z, "::ffff:198.51.100.8", "x", "a@example.net", NULL), SPF_PASS);
    CHECK_INT(check_sync(&z, "203.0.113.1", "x", "a@example.net", NULL), SPF_SOFTFAIL);
    CHECK_INT(check_sync(&z, "203.0.113.1", "x", "a@nowhere.example", NULL), SPF_NONE);
    CHECK_INT(check_sync(&z, "203.0.113.1", "x", "a@[192.0.2.1]", NULL), SPF_NONE);
    buf_clear(&b);
    add_txt(&z, "loop.example", "v=spf1 include:loop.example");
    CHECK_INT(check_sync(&z, "203.0.113.1", "x", "b@loop.example", &b), SPF_PERMERROR);
    CHECK_STR(buf_cstr(&b),
              "spf=permerror reason=\"more than 10 DNS-querying terms\" smtp.mailfrom=b@loop.example");
    buf_free(&b);
    zone_free(&z);
}

int main(void)
{
    RUN(test_macro_rfc_examples);
    RUN(test_macro_syntax);
    RUN(test_record_syntax);
    RUN(test_async);
    RUN(test_sync_and_helo);
    return TEST_DONE();
}
