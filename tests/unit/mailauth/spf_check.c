/* mailauth_spf_check: one SPF check against zone data read from stdin, for
 * tests/integration/test_spf_suite.py (the RFC 7208 test suite). Built with
 * the unit tests; not a test itself.
 *
 * Input, one entry a line, fields separated by tabs, every free-form value
 * in hex (so that NUL, CR, LF and UTF-8 in the suite's records pass):
 *   RR <name-hex> <TXT|A|AAAA|MX|PTR|CNAME> <value-hex>
 *   TIMEOUT <name-hex>
 *   QUERY <ip> <helo-hex> <mailfrom-hex>
 * (an empty value is "-"). Output on stdout:
 *   result <result>
 *   explanation <hex or ->
 *   mechanism <text or ->
 *   problem <text or ->
 *   authres <Authentication-Results fragment>
 *   received-spf <Received-SPF value>
 * Exit 0, or 2 on bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/spf.h"
#include "spf_zone.h"

static char *unhex(const char *s, size_t *len_r)
{
    if (strcmp(s, "-") == 0) {
        *len_r = 0;
        return xstrdup("");
    }
    size_t n = strlen(s) / 2;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (char)v;
    }
    out[n] = '\0';
    *len_r = n;
    return out;
}

static void print_hex(const char *label, const char *s)
{
    printf("%s ", label);
    if (!s)
        printf("-");
    else
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            printf("%02x", *p);
    printf("\n");
}

static void on_done(void *arg, const struct spf_outcome *o)
{
    *(bool *)arg = true;
}

int main(void)
{
    struct zone z = { 0 };
    char line[65536];
    char *ip = NULL, *helo = NULL, *from = NULL;
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *f[4] = { 0 };
        int nf = 0;
        for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && nf < 4;
             t = strtok_r(NULL, "\t", &save))
            f[nf++] = t;
        if (nf == 0)
            continue;
        size_t l1, l2;
        if (strcmp(f[0], "RR") == 0 && nf == 4) {
            char *name = unhex(f[1], &l1), *val = unhex(f[3], &l2);
            static const char *types[] = { "TXT", "A", "AAAA", "MX", "PTR", "CNAME" };
            int t;
            for (t = 0; t < 6 && strcmp(types[t], f[2]) != 0; t++)
                ;
            if (!name || !val || t == 6 || zone_add(&z, name, (enum zone_type)t, val, l2) < 0) {
                fprintf(stderr, "spf_check: bad RR line\n");
                return 2;
            }
            free(name);
            free(val);
        } else if (strcmp(f[0], "TIMEOUT") == 0 && nf == 2) {
            char *name = unhex(f[1], &l1);
            if (!name)
                return 2;
            zone_add(&z, name, ZT_TIMEOUT, NULL, 0);
            free(name);
        } else if (strcmp(f[0], "QUERY") == 0 && nf == 4) {
            ip = xstrdup(f[1]);
            helo = unhex(f[2], &l1);
            from = unhex(f[3], &l2);
        } else {
            fprintf(stderr, "spf_check: bad line %s\n", f[0]);
            return 2;
        }
    }
    struct spf_request req = { .helo = helo, .mail_from = from, .receiver = "mx.outpost.test",
                               .now = 1700000000 };
    if (!ip || !helo || !from || spf_ip_parse(ip, &req.ip) < 0) {
        fprintf(stderr, "spf_check: no valid QUERY line\n");
        return 2;
    }
    struct spf_resolver res;
    zone_resolver(&res, &z);
    bool done = false;
    struct spf_check *c = spf_check_start(&req, &res, on_done, &done);
    const struct spf_outcome *o = spf_check_outcome(c);
    if (!done || !o) {
        fprintf(stderr, "spf_check: the check did not finish synchronously\n");
        return 2;
    }
    printf("result %s\n", spf_result_name(o->result));
    print_hex("explanation", o->explanation);
    printf("mechanism %s\n", o->mechanism ? o->mechanism : "-");
    printf("problem %s\n", o->problem ? o->problem : "-");
    struct buf b;
    buf_init(&b, 0);
    spf_auth_results(o, &b);
    printf("authres %s\n", buf_cstr(&b));
    buf_clear(&b);
    spf_received_spf(o, &req, &b);
    printf("received-spf %s\n", buf_cstr(&b));
    printf("lookups %d void %d queries %d\n", o->dns_terms, o->void_lookups, z.queries);
    buf_free(&b);
    spf_check_free(c);
    zone_free(&z);
    free(ip);
    free(helo);
    free(from);
    return 0;
}
