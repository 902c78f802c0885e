/* Fuzzes core/dns_parse: any bytes as the DNS message libunbound hands
 * back, read as an answer to each type we ask (MX, A, AAAA, TXT, TLSA, PTR),
 * every record through its rdata parser and the message through the result
 * builders. Whatever parses stays within the message; names are lowercase,
 * at most 253 characters, without empty labels or bytes that need escaping;
 * results keep their promises (OK has records, MX sorted, null and implicit
 * MX as documented, TEMPFAIL has a reason). The bytes also go through the
 * name normalizer as a name someone asks for. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/dns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *n, bool root_ok)
{
    size_t len = strlen(n);
    if (len > 253 || (!root_ok && len == 0))
        abort();
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        if (c == '.') {
            if (label == 0)
                abort();
            label = 0;
            continue;
        }
        if (c < 0x21 || c > 0x7e || c == '\\' || (c >= 'A' && c <= 'Z') || ++label > 63)
            abort();
    }
    if (len && label == 0)
        abort();
}

static void check_answer(const struct dns_answer *a, int n)
{
    if (a->status == DNS_OK && n <= 0)
        abort();
    if (a->status != DNS_OK && n != 0)
        abort();
    if ((a->status == DNS_TEMPFAIL) != (a->error != NULL))
        abort();
    if (a->secure || a->bogus)
        abort(); /* only dns.c sets them */
}

static void run(struct arena *a, const uint8_t *data, size_t size, uint16_t type)
{
    struct dns_msg m;
    const char *err = NULL;
    if (dns_msg_parse(a, data, size, type, &m, &err) < 0) {
        if (!err)
            abort();
        return;
    }
    if (m.qtype != type || m.n < 0 || (m.n > 0 && !m.rr))
        abort();
    for (int i = 0; i < m.n; i++) {
        const struct dns_rr *rr = &m.rr[i];
        if (rr->rdata > size || rr->rdlen > size - rr->rdata)
            abort();
        char name[DNS_NAME_TEXT_MAX];
        uint16_t pref;
        struct sockaddr_storage ss;
        const char *txt;
        size_t len;
        struct dns_tlsa t;
        switch (type) {
        case DNS_TYPE_MX:
            if (dns_rdata_mx(&m, rr, &pref, name) == 0)
                check_name(name, true);
            break;
        case DNS_TYPE_PTR:
            if (dns_rdata_ptr(&m, rr, name) == 0)
                check_name(name, true);
            break;
        case DNS_TYPE_A:
        case DNS_TYPE_AAAA:
            if (dns_rdata_addr(&m, rr, type == DNS_TYPE_A ? AF_INET : AF_INET6, &ss) == 0 &&
                ss.ss_family != (type == DNS_TYPE_A ? AF_INET : AF_INET6))
                abort();
            break;
        case DNS_TYPE_TXT:
            if (dns_rdata_txt(a, &m, rr, &txt, &len) == 0 && (len >= rr->rdlen || txt[len]))
                abort();
            break;
        case DNS_TYPE_TLSA:
            if (dns_rdata_tlsa(&m, rr, &t) == 0 &&
                (t.len + 3 != rr->rdlen || t.data != data + rr->rdata + 3))
                abort();
            break;
        }
    }

    switch (type) {
    case DNS_TYPE_MX: {
        struct dns_mx_result r;
        dns_build_mx(a, &m, "asked.test", &r);
        check_answer(&r.a, r.n);
        if (r.null_mx && (r.n != 1 || r.mx[0].host[0] || r.implicit))
            abort();
        if (r.implicit && (r.n != 1 || strcmp(r.mx[0].host, "asked.test") || m.n))
            abort();
        for (int i = 0; i < r.n; i++) {
            if (!r.null_mx)
                check_name(r.mx[i].host, false);
            if (i && r.mx[i - 1].preference > r.mx[i].preference)
                abort();
        }
        break;
    }
    case DNS_TYPE_PTR: {
        struct dns_ptr_result r;
        dns_build_ptr(a, &m, &r);
        check_answer(&r.a, r.n);
        for (int i = 0; i < r.n; i++)
            check_name(r.names[i], false);
        break;
    }
    case DNS_TYPE_TXT: {
        struct dns_txt_result r;
        dns_build_txt(a, &m, &r);
        check_answer(&r.a, r.n);
        for (int i = 0; i < r.n; i++)
            if (r.txt[i][r.lens[i]])
                abort();
        break;
    }
    case DNS_TYPE_TLSA: {
        struct dns_tlsa_result r;
        dns_build_tlsa(a, &m, &r);
        check_answer(&r.a, r.n);
        for (int i = 0; i < r.n; i++)
            if (!r.tlsa[i].len)
                abort();
        break;
    }
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA: {
        int family = type == DNS_TYPE_A ? AF_INET : AF_INET6;
        struct dns_addr_result r, none, merged;
        dns_build_addrs(a, &m, family, &r);
        check_answer(&r.a, r.n);
        memset(&none, 0, sizeof(none));
        none.a.status = DNS_NODATA;
        if (family == AF_INET6)
            dns_merge_addrs(a, &r, &none, &merged);
        else
            dns_merge_addrs(a, &none, &r, &merged);
        if (merged.a.status != (r.n ? DNS_OK : r.a.status == DNS_NXDOMAIN ? DNS_NXDOMAIN
                                              : r.a.status == DNS_TEMPFAIL ? DNS_TEMPFAIL
                                                                          : DNS_NODATA) ||
            merged.n != r.n)
            abort();
        for (int i = 0; i < merged.n; i++)
            if (merged.addrs[i].ss_family != family)
                abort();
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = { DNS_TYPE_MX, DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_TXT,
                                      DNS_TYPE_TLSA, DNS_TYPE_PTR };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        run(a, data, size, types[i]);
    arena_free(a);

    /* The same bytes as a name asked for. */
    char in[300], out[DNS_NAME_TEXT_MAX], again[DNS_NAME_TEXT_MAX];
    size_t n = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
    memcpy(in, data, n);
    in[n] = '\0';
    if (!dns_name_normalize(in, out)) {
        check_name(out, false);
        if (dns_name_normalize(out, again) || strcmp(out, again))
            abort();
    }
    return 0;
}
