/* `outpost dns TYPE NAME`: one lookup through core/dns with the config's
 * [dns] settings, as the server would make it — for testing and diagnosis
 * (which MX would mail go to, is this TLSA record validated). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/config.h"
#include "core/dns.h"

struct lookup {
    struct event_base *base;
    bool answered;
    bool both_families; /* addr: AAAA and A */
    int exit_code;
};

static void print_status(const struct dns_answer *a, const char *extra)
{
    printf("status=%s secure=%s ttl=%u%s%s\n", dns_status_name(a->status),
           a->secure ? "yes" : "no", a->ttl, a->bogus ? " bogus=yes" : "", extra);
}

/* The answer's end: the exit code, the error on stderr, the loop stopped. */
static void finish(struct lookup *l, const struct dns_answer *a)
{
    if (a->status == DNS_TEMPFAIL || a->status == DNS_PERMFAIL) {
        fprintf(stderr, "outpost dns: %s: %s\n", dns_status_name(a->status),
                a->error ? a->error : "lookup failed");
        l->exit_code = 1;
    }
    l->answered = true;
    event_base_loopbreak(l->base);
}

static void mx_done(void *ctx, const struct dns_mx_result *r)
{
    print_status(&r->a, r->null_mx ? " null_mx=yes" : r->implicit ? " implicit=yes" : "");
    for (int i = 0; i < r->n; i++)
        printf("mx %u %s\n", r->mx[i].preference, r->mx[i].host[0] ? r->mx[i].host : ".");
    finish(ctx, &r->a);
}

static void addr_done(void *ctx, const struct dns_addr_result *r)
{
    struct lookup *l = ctx;
    char extra[64] = "";
    if (l->both_families) /* each family's own DNSSEC status */
        snprintf(extra, sizeof(extra), " secure6=%s secure4=%s", r->secure6 ? "yes" : "no",
                 r->secure4 ? "yes" : "no");
    print_status(&r->a, extra);
    for (int i = 0; i < r->n; i++) {
        char ip[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[i];
        addr_format_ip(sa, ip, sizeof(ip));
        printf("%s %s\n", sa->sa_family == AF_INET6 ? "aaaa" : "a", ip);
    }
    finish(ctx, &r->a);
}

/* TXT as a quoted string: the bytes as they are where printable, \" \\
 * and \DDD (RFC 1035 §5.1) otherwise. */
static void print_txt(const char *s, size_t len)
{
    fputs("txt \"", stdout);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            printf("\\%03u", c);
        else
            putchar(c);
    }
    fputs("\"\n", stdout);
}

static void txt_done(void *ctx, const struct dns_txt_result *r)
{
    print_status(&r->a, "");
    for (int i = 0; i < r->n; i++)
        print_txt(r->txt[i], r->lens[i]);
    finish(ctx, &r->a);
}

static void tlsa_done(void *ctx, const struct dns_tlsa_result *r)
{
    print_status(&r->a, "");
    for (int i = 0; i < r->n; i++) {
        printf("tlsa %u %u %u ", r->tlsa[i].usage, r->tlsa[i].selector, r->tlsa[i].mtype);
        for (size_t j = 0; j < r->tlsa[i].len; j++)
            printf("%02x", r->tlsa[i].data[j]);
        putchar('\n');
    }
    finish(ctx, &r->a);
}

static void ptr_done(void *ctx, const struct dns_ptr_result *r)
{
    print_status(&r->a, "");
    for (int i = 0; i < r->n; i++)
        printf("ptr %s\n", r->names[i]);
    finish(ctx, &r->a);
}

/* Starts the lookup; returns 0, or EXIT_USAGE for a type or address that
 * is not one. */
static int start(struct dns *d, struct lookup *l, const char *type, const char *name)
{
    if (!strcmp(type, "mx"))
        dns_lookup_mx(d, name, mx_done, l);
    else if (!strcmp(type, "a"))
        dns_lookup_addr(d, name, AF_INET, addr_done, l);
    else if (!strcmp(type, "aaaa"))
        dns_lookup_addr(d, name, AF_INET6, addr_done, l);
    else if (!strcmp(type, "addr")) {
        l->both_families = true;
        dns_lookup_addr(d, name, AF_UNSPEC, addr_done, l);
    }
    else if (!strcmp(type, "txt"))
        dns_lookup_txt(d, name, txt_done, l);
    else if (!strcmp(type, "tlsa"))
        dns_lookup_tlsa(d, name, tlsa_done, l);
    else if (!strcmp(type, "ptr")) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, name, &s4->sin_addr) == 1)
            s4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1)
            s6->sin6_family = AF_INET6;
        else
            return usage_error("dns", "'%s' is not an IP address", name);
        dns_lookup_ptr(d, (struct sockaddr *)&ss, ptr_done, l);
    } else {
        return usage_error("dns", "unknown type '%s'", type);
    }
    return 0;
}

int cmd_dns(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text("dns"), stdout);
        return 0;
    }
    const char *file = config_path_from_args(&argc, argv);
    if (argc < 2)
        return usage_error("dns", "say TYPE and NAME");
    if (argc > 2)
        return usage_error("dns", "unexpected argument '%s'", argv[2]);
    static const char *const types[] = { "mx", "a", "aaaa", "addr", "txt", "tlsa", "ptr" };
    bool known = false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        known |= !strcmp(argv[0], types[i]);
    if (!known)
        return usage_error("dns", "unknown type '%s'", argv[0]);

    char *err = NULL;
    struct config *cfg = config_load(file, &err);
    if (!cfg || config_enter_dir(cfg) < 0) {
        fprintf(stderr, "outpost: %s\n", err ? err : "cannot enter the config's directory");
        free(err);
        config_free(cfg);
        return 1;
    }
    struct dns_config dc;
    dns_config_init(&dc, cfg);
    struct event_base *base = event_base_new();
    struct dns *d = dns_new(base, &dc, &err);
    if (!d) {
        fprintf(stderr, "outpost: %s\n", err);
        free(err);
        event_base_free(base);
        config_free(cfg);
        return 1;
    }
    struct lookup l = { .base = base };
    int r = start(d, &l, argv[0], argv[1]);
    if (r == 0 && !l.answered)
        event_base_dispatch(base);
    if (r == 0 && !l.answered) {
        /* Cannot happen: the lookup's own timer ends it. */
        fprintf(stderr, "outpost dns: no answer\n");
        r = 1;
    }
    dns_free(d);
    event_base_free(base);
    config_free(cfg);
    fflush(stdout);
    return r ? r : l.exit_code;
}
