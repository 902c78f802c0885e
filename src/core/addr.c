#include "core/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

static int parse_one(struct str tok, struct sockaddr_storage *ss, socklen_t *len, bool *wild,
                     const char **error_r)
{
    long colon = -1;
    for (size_t i = tok.len; i > 0; i--) {
        if (tok.p[i - 1] == ':') {
            colon = (long)i - 1;
            break;
        }
    }
    if (colon < 0 || tok.p[tok.len - 1] == ']') {
        *error_r = "an address needs a port (examples: 127.0.0.1:25, [::1]:25, *:25)";
        return -1;
    }
    struct str host = { tok.p, (size_t)colon };
    struct str port = { tok.p + colon + 1, tok.len - (size_t)colon - 1 };
    unsigned long long p;
    if (str_to_u64(port, 65535, &p) < 0 || p == 0) {
        *error_r = "port out of range 1-65535";
        return -1;
    }
    char h[INET6_ADDRSTRLEN + 1];
    memset(ss, 0, sizeof(*ss));
    *wild = false;
    if (str_eq_cstr(host, "*")) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_any;
        s6->sin6_port = htons((unsigned short)p);
        *len = sizeof(*s6);
        *wild = true;
        return 0;
    }
    if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']') {
        if (host.len - 2 > INET6_ADDRSTRLEN - 1)
            goto bad;
        memcpy(h, host.p + 1, host.len - 2);
        h[host.len - 2] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, h, &s6->sin6_addr) != 1)
            goto bad;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((unsigned short)p);
        *len = sizeof(*s6);
        return 0;
    }
    if (host.len == 0 || host.len > INET_ADDRSTRLEN - 1)
        goto bad;
    memcpy(h, host.p, host.len);
    h[host.len] = '\0';
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, h, &s4->sin_addr) != 1)
        goto bad;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((unsigned short)p);
    *len = sizeof(*s4);
    return 0;
bad:
    *error_r = "not an IP address (write 127.0.0.1:25, [::1]:25 or *:25)";
    return -1;
}

int addr_list_parse(const char *s, struct addr_list *out, const char **error_r)
{
    out->n = 0;
    struct str rest = str_from_cstr(s);
    while (rest.len) {
        while (rest.len && (rest.p[0] == ' ' || rest.p[0] == '\t' || rest.p[0] == ',')) {
            rest.p++;
            rest.len--;
        }
        size_t n = 0;
        while (n < rest.len && rest.p[n] != ' ' && rest.p[n] != '\t' && rest.p[n] != ',')
            n++;
        if (!n)
            break;
        if (out->n == ADDR_LIST_MAX) {
            *error_r = "too many addresses (at most 16)";
            return -1;
        }
        if (parse_one((struct str){ rest.p, n }, &out->addr[out->n], &out->len[out->n],
                      &out->wildcard[out->n], error_r) < 0)
            return -1;
        for (int i = 0; i < out->n; i++) {
            if (out->len[i] == out->len[out->n] &&
                memcmp(&out->addr[i], &out->addr[out->n], out->len[i]) == 0) {
                *error_r = "the same address is listed twice";
                return -1;
            }
        }
        out->n++;
        rest.p += n;
        rest.len -= n;
    }
    return 0;
}

void addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
    char h[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr)) {
            snprintf(out, outlen, "*:%d", ntohs(s6->sin6_port));
            return;
        }
        inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
        snprintf(out, outlen, "[%s]:%d", h, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
        snprintf(out, outlen, "%s:%d", h, ntohs(s4->sin_port));
    } else {
        snprintf(out, outlen, "?");
    }
}

int addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return 0;
}

const char *addr_check_dns_name(const char *v)
{
    size_t len = strlen(v), label = 0;
    if (len == 0)
        return "empty";
    if (len > 253)
        return "longer than 253 characters";
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (c == '.') {
            if (label == 0)
                return "empty label (two dots, or a leading dot)";
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
        if (!ok)
            return "not a host name (letters, digits, '-' and '.')";
        if (++label > 63)
            return "a label is longer than 63 characters";
    }
    if (label == 0)
        return "ends with a dot";
    return NULL;
}

void addr_format_ip(const struct sockaddr *sa, char *out, size_t outlen)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outlen);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outlen);
    } else if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    } else {
        snprintf(out, outlen, "unknown");
    }
}

int addr_parse_host_port(const char *s, char *host, size_t hostlen, int *port, int defport)
{
    const char *end;
    bool bracketed = s[0] == '[';
    if (bracketed) {
        end = strchr(s, ']');
        if (!end)
            return -1;
        s++;
    } else {
        end = strchr(s, ':');
        if (!end)
            end = s + strlen(s);
        if (strchr(end + (*end ? 1 : 0), ':'))
            return -1; /* a bare IPv6 address: ambiguous without brackets */
    }
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    const char *rest = end + (bracketed ? 1 : 0);
    *port = defport;
    if (*rest == ':') {
        char *e;
        long p = strtol(rest + 1, &e, 10);
        if (!rest[1] || *e || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    } else if (*rest) {
        return -1;
    }
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return bracketed ? 0 : -1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return 0;
    return addr_check_dns_name(host) ? -1 : 0;
}
