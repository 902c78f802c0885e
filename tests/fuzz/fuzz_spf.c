/* SPF: the input parsed as a record, expanded as a macro-string (both as a
 * domain-spec and as an explanation, with fixed variables), and used as a
 * zone for a whole check (tests/unit/mailauth/spf_zone.h answers from it).
 *
 * Zone form: the first line is the MAIL FROM ("" for the HELO identity);
 * each further line is "NAME TYPE VALUE" with TYPE one of T (TXT), A, 6
 * (AAAA), M (MX), P (PTR), C (CNAME), X (TIMEOUT). The client is 192.0.2.1
 * or 2001:db8::1 (the first byte's low bit), the HELO mx.example.org. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"
#include "mailauth/spf_zone.h" /* tests/unit/mailauth/ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_and_expand(const char *s, size_t n)
{
    const char *err = NULL;
    struct spf_record *r = spf_record_parse(s, n, &err);
    if (r) {
        if (spf_record_terms(r) < 0)
            abort();
        spf_record_free(r);
    } else if (!err) {
        abort(); /* a refusal always says why */
    }
    struct spf_macro_vars v = {
        .sender = "user-a+b@mail.example.com", .local = "user-a+b",
        .sender_domain = "mail.example.com", .domain = "example.com",
        .helo = "mx.example.org", .receiver = "mx.outpost.test", .now = 1,
    };
    spf_ip_parse(n % 2 ? "2001:db8::1" : "192.0.2.1", &v.ip);
    for (int expl = 0; expl < 2; expl++) {
        struct buf b;
        buf_init(&b, 0);
        err = NULL;
        if (spf_macro_expand((struct str){ s, n }, &v, expl, &b, &err) < 0 && !err)
            abort();
        buf_free(&b);
    }
}

static void evaluate(const char *s, size_t n, bool v6)
{
    struct zone z = { 0 };
    const char *end = s + n, *p = s;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    char *from = xstrndup(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
    p = nl ? nl + 1 : end;
    while (p < end && z.n < 200) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *sp1 = memchr(p, ' ', (size_t)(le - p));
        if (sp1 && sp1 + 2 <= le) {
            char *name = xstrndup(p, (size_t)(sp1 - p));
            char t = sp1[1];
            const char *val = sp1 + 2 < le && sp1[2] == ' ' ? sp1 + 3 : sp1 + 2;
            size_t vlen = (size_t)(le - val);
            const char *types = "TA6MPCX";
            const char *k = memchr(types, t, 7);
            if (k)
                zone_add(&z, name, (enum zone_type)(k - types), val, vlen);
            free(name);
        }
        p = nl ? nl + 1 : end;
    }
    struct spf_resolver res;
    zone_resolver(&res, &z);
    struct spf_request req = { .helo = "mx.example.org", .mail_from = from, .now = 1 };
    spf_ip_parse(v6 ? "2001:db8::1" : "192.0.2.1", &req.ip);
    struct spf_check *c = spf_check_start(&req, &res, NULL, NULL);
    const struct spf_outcome *o = spf_check_outcome(c);
    if (!o)
        abort(); /* a synchronous resolver always finishes the check */
    if (o->dns_terms > SPF_MAX_DNS_TERMS + 1 || o->void_lookups > SPF_MAX_VOID + 1)
        abort();
    if (o->explanation && o->result != SPF_FAIL)
        abort();
    struct buf b;
    buf_init(&b, 0);
    spf_auth_results(o, &b);
    spf_received_spf(o, &req, &b);
    buf_free(&b);
    spf_check_free(c);
    zone_free(&z);
    free(from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    const char *s = (const char *)data;
    parse_and_expand(s, size);
    evaluate(s, size, size > 0 && (data[0] & 1));
    return 0;
}
