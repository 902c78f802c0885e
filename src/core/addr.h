/*
 * core/addr.h — listen addresses as written in the config, and host names.
 *
 *   127.0.0.1:25   [::1]:25   *:25 (every address, IPv6 and IPv4)
 *
 * Owns: nothing. Never does I/O, never logs.
 */
#ifndef OUTPOST_CORE_ADDR_H
#define OUTPOST_CORE_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#define ADDR_LIST_MAX 16

struct addr_list {
    int n;
    struct sockaddr_storage addr[ADDR_LIST_MAX];
    socklen_t len[ADDR_LIST_MAX];
    bool wildcard[ADDR_LIST_MAX]; /* written as "*": IPv6 socket accepting IPv4 too */
};

/* Parses a space-separated list of addresses (empty: none).
 * Returns 0, or -1 with *error_r set to a static reason. */
int addr_list_parse(const char *s, struct addr_list *out, const char **error_r);
/* Formats an address as in the config ("127.0.0.1:25", "[::1]:25"). */
void addr_format(const struct sockaddr *sa, char *out, size_t outlen);
int addr_port(const struct sockaddr *sa);
/* The IP address alone ("192.0.2.1", "2001:db8::1"); an IPv4-mapped IPv6
 * address is shown as IPv4. */
void addr_format_ip(const struct sockaddr *sa, char *out, size_t outlen);

/* Checks a DNS host or domain name's syntax (LDH labels of 1-63 characters,
 * 253 in all, no empty label; IDNA A-labels pass as LDH). Returns NULL when
 * it is fine, else a static reason. */
const char *addr_check_dns_name(const char *name);

/* A host with an optional port: "host", "host:port", "[IP]" or "[IP]:port"
 * (an IPv6 address needs the brackets). host gets the name or address
 * without brackets; port `defport` when none is given. Returns 0, or -1
 * when malformed (a bad name or address, a port outside 1-65535). */
int addr_parse_host_port(const char *s, char *host, size_t hostlen, int *port, int defport);

#endif
