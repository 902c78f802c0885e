/*
 * Unit tests for core/addr.h: listen addresses as written in the config.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "test.h"

#define E_PORT "port out of range 1-65535"
#define E_NOPORT "an address needs a port (examples: 127.0.0.1:25, [::1]:25, *:25)"
#define E_IP "not an IP address (write 127.0.0.1:25, [::1]:25 or *:25)"
#define E_TWICE "the same address is listed twice"
#define E_MANY "too many addresses (at most 16)"

static const char *fmt(const struct addr_list *l, int i, char *out, size_t outlen)
{
    addr_format((const struct sockaddr *)&l->addr[i], out, outlen);
    return out;
}

static void test_single(void)
{
    static const struct {
        const char *in;
        int family;
        int port;
        bool wildcard;
        const char *formatted;
    } cases[] = {
        { "127.0.0.1:25", AF_INET, 25, false, "127.0.0.1:25" },
        { "0.0.0.0:587", AF_INET, 587, false, "0.0.0.0:587" },
        { "192.168.100.200:65535", AF_INET, 65535, false, "192.168.100.200:65535" },
        { "10.0.0.1:1", AF_INET, 1, false, "10.0.0.1:1" },
        { "10.0.0.1:00025", AF_INET, 25, false, "10.0.0.1:25" },
        { "[::1]:25", AF_INET6, 25, false, "[::1]:25" },
        { "[2001:DB8::42]:993", AF_INET6, 993, false, "[2001:db8::42]:993" },
        { "[fe80::1:2:3:4]:110", AF_INET6, 110, false, "[fe80::1:2:3:4]:110" },
        { "[::ffff:192.0.2.1]:143", AF_INET6, 143, false, "[::ffff:192.0.2.1]:143" },
        { "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:1", AF_INET6, 1, false,
          "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:1" },
        { "*:25", AF_INET6, 25, true, "*:25" },
        { "*:65535", AF_INET6, 65535, true, "*:65535" },
        /* The unspecified IPv6 address, written out, is not the wildcard form
         * but formats the same way. */
        { "[::]:80", AF_INET6, 80, false, "*:80" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct addr_list l;
        const char *err = NULL;
        int r = addr_list_parse(cases[i].in, &l, &err);
        if (r != 0)
            fprintf(stderr, "  \"%s\": %s\n", cases[i].in, err ? err : "?");
        CHECK_INT(r, 0);
        if (r != 0)
            continue;
        CHECK_INT(l.n, 1);
        const struct sockaddr *sa = (const struct sockaddr *)&l.addr[0];
        CHECK_INT(sa->sa_family, cases[i].family);
        CHECK_INT(l.len[0], cases[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                        : sizeof(struct sockaddr_in6));
        CHECK_INT(addr_port(sa), cases[i].port);
        CHECK(l.wildcard[0] == cases[i].wildcard);
        char out[80];
        CHECK_STR(fmt(&l, 0, out, sizeof(out)), cases[i].formatted);
    }
}

static void test_values(void)
{
    struct addr_list l;
    const char *err;
    CHECK_INT(addr_list_parse("192.0.2.7:2525", &l, &err), 0);
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&l.addr[0];
    CHECK_INT(ntohs(s4->sin_port), 2525);
    CHECK_INT(ntohl(s4->sin_addr.s_addr), 0xC0000207);

    CHECK_INT(addr_list_parse("[::1]:143", &l, &err), 0);
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&l.addr[0];
    CHECK(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
    CHECK_INT(ntohs(s6->sin6_port), 143);
    CHECK_INT(s6->sin6_scope_id, 0);

    CHECK_INT(addr_list_parse("*:993", &l, &err), 0);
    s6 = (const struct sockaddr_in6 *)&l.addr[0];
    CHECK(IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr));
    CHECK(l.wildcard[0]);
}

static void test_lists(void)
{
    static const struct {
        const char *in;
        int n;
        const char *formatted[4];
    } cases[] = {
        { "", 0, { NULL } },
        { " ", 0, { NULL } },
        { " \t , ,", 0, { NULL } },
        { "127.0.0.1:25 [::1]:25", 2, { "127.0.0.1:25", "[::1]:25" } },
        { "127.0.0.1:25,[::1]:25", 2, { "127.0.0.1:25", "[::1]:25" } },
        { "127.0.0.1:25, [::1]:25 ,*:26", 3, { "127.0.0.1:25", "[::1]:25", "*:26" } },
        { "  127.0.0.1:25\t\t10.0.0.1:25  ", 2, { "127.0.0.1:25", "10.0.0.1:25" } },
        { ",127.0.0.1:25,,", 1, { "127.0.0.1:25" } },
        /* Same host, different ports; same port, different families. */
        { "127.0.0.1:25 127.0.0.1:587", 2, { "127.0.0.1:25", "127.0.0.1:587" } },
        { "*:25 0.0.0.0:25", 2, { "*:25", "0.0.0.0:25" } },
        { "*:25 127.0.0.1:25 [::1]:25 *:465", 4, { "*:25", "127.0.0.1:25", "[::1]:25", "*:465" } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct addr_list l;
        l.n = 99;
        const char *err = NULL;
        int r = addr_list_parse(cases[i].in, &l, &err);
        if (r != 0)
            fprintf(stderr, "  \"%s\": %s\n", cases[i].in, err ? err : "?");
        CHECK_INT(r, 0);
        CHECK_INT(l.n, cases[i].n);
        for (int k = 0; r == 0 && k < cases[i].n && k < l.n; k++) {
            char out[80];
            CHECK_STR(fmt(&l, k, out, sizeof(out)), cases[i].formatted[k]);
        }
    }
    /* Only the "*" form is marked as the wildcard. */
    struct addr_list l;
    const char *err;
    CHECK_INT(addr_list_parse("127.0.0.1:1 *:2 [::]:3", &l, &err), 0);
    CHECK_INT(l.n, 3);
    CHECK(!l.wildcard[0]);
    CHECK(l.wildcard[1]);
    CHECK(!l.wildcard[2]);
}

static void test_errors(void)
{
    static const struct {
        const char *in;
        const char *err;
    } cases[] = {
        { "127.0.0.1", E_NOPORT },
        { "localhost", E_NOPORT },
        { "*", E_NOPORT },
        { "127.0.0.1:25 10.0.0.1", E_NOPORT },
        { "127.0.0.1:", E_PORT },
        { "127.0.0.1:0", E_PORT },
        { "127.0.0.1:65536", E_PORT },
        { "127.0.0.1:99999999999999999999999", E_PORT },
        { "127.0.0.1:-1", E_PORT },
        { "127.0.0.1:+25", E_PORT },
        { "127.0.0.1:25x", E_PORT },
        { "127.0.0.1:2 5", E_NOPORT }, /* "127.0.0.1:2" then "5" */
        { "*:0", E_PORT },
        { "[::1]:0", E_PORT },
        { "[::1]:65536", E_PORT },
        { "256.0.0.1:25", E_IP },
        { "1.2.3:25", E_IP },
        { "1.2.3.4.5:25", E_IP },
        { "example.com:25", E_IP },
        { ":25", E_IP },
        { "1234.1234.1234.1234:25", E_IP },
        { "::1:25", E_IP },            /* IPv6 without brackets */
        { "2001:db8::1:25", E_IP },
        { "[::1:25", E_IP },
        { "::1]:25", E_IP },
        { "[]:25", E_IP },
        { "[1.2.3.4]:25", E_IP },
        { "[::g]:25", E_IP },
        { "[fe80::1%eth0]:25", E_IP },
        { "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:25", E_IP },
        { "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:25", E_IP },
        { "**:25", E_IP },
        { "127.0.0.1:25 127.0.0.1:25", E_TWICE },
        { "127.0.0.1:25,127.0.0.1:25", E_TWICE },
        { "[::1]:25 127.0.0.1:25 [0:0::1]:25", E_TWICE },
        { "*:25 [::]:25", E_TWICE },
        { "10.0.0.1:25 10.0.0.1:025", E_TWICE },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct addr_list l;
        const char *err = NULL;
        int r = addr_list_parse(cases[i].in, &l, &err);
        if (r != -1)
            fprintf(stderr, "  \"%s\" was accepted\n", cases[i].in);
        CHECK_INT(r, -1);
        CHECK_STR(err, cases[i].err);
    }
    /* [::1] with no port is refused too (its last colon is inside the brackets). */
    struct addr_list l;
    const char *err = NULL;
    CHECK_INT(addr_list_parse("[::1]", &l, &err), -1);
    CHECK_STR(err, E_NOPORT);
}

static void test_limit(void)
{
    char text[1024] = "";
    for (int i = 1; i <= 16; i++) {
        char one[32];
        snprintf(one, sizeof(one), "%s127.0.0.1:%d", i > 1 ? " " : "", 1000 + i);
        strcat(text, one);
    }
    struct addr_list l;
    const char *err = NULL;
    CHECK_INT(addr_list_parse(text, &l, &err), 0);
    CHECK_INT(l.n, ADDR_LIST_MAX);
    CHECK_INT(l.n, 16);
    CHECK_INT(addr_port((const struct sockaddr *)&l.addr[15]), 1016);
    /* Separators after the sixteenth are fine. */
    strcat(text, " , ");
    CHECK_INT(addr_list_parse(text, &l, &err), 0);
    CHECK_INT(l.n, 16);
    strcat(text, "127.0.0.1:1017");
    err = NULL;
    CHECK_INT(addr_list_parse(text, &l, &err), -1);
    CHECK_STR(err, E_MANY);
}

static void test_format_round_trip(void)
{
    static const char *const inputs[] = {
        "127.0.0.1:25", "0.0.0.0:1", "255.255.255.255:65535", "[::1]:587",
        "[2001:db8:0:0:1:0:0:1]:465", "[::ffff:10.1.2.3]:143", "*:993", "[fe80::abcd]:8080",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct addr_list a, b;
        const char *err = NULL;
        CHECK_INT(addr_list_parse(inputs[i], &a, &err), 0);
        char out[80];
        fmt(&a, 0, out, sizeof(out));
        CHECK_INT(addr_list_parse(out, &b, &err), 0);
        CHECK_INT(b.n, 1);
        CHECK_INT(a.len[0], b.len[0]);
        CHECK(memcmp(&a.addr[0], &b.addr[0], a.len[0]) == 0);
        CHECK(a.wildcard[0] == b.wildcard[0]);
        char again[80];
        fmt(&b, 0, again, sizeof(again));
        CHECK_STR(again, out);
    }
    /* Formatting never writes past outlen. */
    struct addr_list l;
    const char *err;
    CHECK_INT(addr_list_parse("[2001:db8::1]:25", &l, &err), 0);
    char small[8];
    memset(small, 'Z', sizeof(small));
    addr_format((const struct sockaddr *)&l.addr[0], small, 6);
    CHECK_STR(small, "[2001");
    CHECK_INT(small[6], 'Z');
    /* An unknown family. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    char out[16];
    addr_format((const struct sockaddr *)&ss, out, sizeof(out));
    CHECK_STR(out, "?");
    CHECK_INT(addr_port((const struct sockaddr *)&ss), 0);
}

static void test_dns_name(void)
{
    char l63[64], l64[65], long253[254], long254[255];
    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'b', 64);
    l64[64] = '\0';
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
    snprintf(long253, sizeof(long253), "%s.%s.%s.%.61s", l63, l63, l63, l63);
    snprintf(long254, sizeof(long254), "%s.%s.%s.%.62s", l63, l63, l63, l63);
    char with63[80], with64[80];
    snprintf(with63, sizeof(with63), "%s.com", l63);
    snprintf(with64, sizeof(with64), "%s.com", l64);
    CHECK_INT(strlen(long253), 253);
    CHECK_INT(strlen(long254), 254);

    const struct {
        const char *name;
        const char *err; /* NULL: fine */
    } cases[] = {
        { "mx.example.com", NULL },
        { "localhost", NULL },
        { "MX-1.Example.COM", NULL },
        { "xn--bcher-kva.example", NULL }, /* an IDNA A-label */
        { "a", NULL },
        { "1.2.3.4", NULL },
        { "-", NULL },
        { with63, NULL },
        { long253, NULL },
        { "", "empty" },
        { with64, "a label is longer than 63 characters" },
        { long254, "longer than 253 characters" },
        { "a..b", "empty label (two dots, or a leading dot)" },
        { ".example.com", "empty label (two dots, or a leading dot)" },
        { ".", "empty label (two dots, or a leading dot)" },
        { "mx.example.com.", "ends with a dot" },
        { "mx_1.example.com", "not a host name (letters, digits, '-' and '.')" },
        { "mx example.com", "not a host name (letters, digits, '-' and '.')" },
        { "b\xc3\xbc" "cher.example", "not a host name (letters, digits, '-' and '.')" },
        { "[::1]", "not a host name (letters, digits, '-' and '.')" },
        { "host:25", "not a host name (letters, digits, '-' and '.')" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *e = addr_check_dns_name(cases[i].name);
        if (cases[i].err) {
            CHECK_STR(e, cases[i].err);
        } else {
            if (e)
                fprintf(stderr, "  \"%s\": %s\n", cases[i].name, e);
            CHECK(e == NULL);
        }
    }
}

int main(void)
{
    RUN(test_single);
    RUN(test_values);
    RUN(test_lists);
    RUN(test_errors);
    RUN(test_limit);
    RUN(test_format_round_trip);
    RUN(test_dns_name);
    return TEST_DONE();
}
