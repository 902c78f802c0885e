#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/str.h"

#define CONFIG_MAX_FILE (1024 * 1024)

/* ---- validators: NULL when the value is fine, else a reason ---- */

typedef const char *(*config_validator)(const struct config *cfg, const char *value,
                                        struct buf *why);

static const char *v_hostname(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    return *v ? addr_check_dns_name(v) : NULL; /* empty: the machine's name */
}

static const char *v_user(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    if (!*v)
        return "empty (name the unprivileged user to run as)";
    for (const char *c = v; *c; c++)
        if (*c == ' ' || *c == ':' || *c == '/')
            return "not a user name";
    return NULL;
}

static const char *v_separators(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    if (strlen(v) > 8)
        return "at most 8 characters";
    for (const char *c = v; *c; c++)
        if (!strchr("+-_=#~%", *c))
            return "use characters from + - _ = # ~ %";
    return NULL;
}

static const char *v_quota_exceeded(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    return strcmp(v, "temporary") == 0 || strcmp(v, "permanent") == 0
               ? NULL
               : "must be temporary or permanent";
}

static const char *v_log_level(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    enum log_level l;
    return log_level_parse(v, &l) == 0 ? NULL : "must be debug, info, warn or error";
}

static const char *v_tls_version(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    return strcmp(v, "1.2") == 0 || strcmp(v, "1.3") == 0 ? NULL : "must be 1.2 or 1.3";
}

static const char *check_readable(const struct config *cfg, const char *path, struct buf *why)
{
    char *full = (path[0] == '/' || !cfg->dir) ? xstrdup(path) : xasprintf("%s/%s", cfg->dir, path);
    /* stat first: opening a FIFO or a device named here would block or
     * have effects. */
    struct stat st;
    int r = stat(full, &st);
    int err = errno;
    if (r == 0 && !S_ISREG(st.st_mode)) {
        free(full);
        buf_printf(why, "%s: not a regular file", path);
        return buf_cstr(why);
    }
    if (r == 0 && access(full, R_OK) < 0) {
        r = -1;
        err = errno;
    }
    free(full);
    if (r < 0) {
        buf_printf(why, "%s: %s", path, strerror(err));
        return buf_cstr(why);
    }
    return NULL;
}

static const char *v_ip4_or_empty(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    struct in_addr a;
    return !*v || inet_pton(AF_INET, v, &a) == 1 ? NULL : "not an IPv4 address";
}

static const char *v_ip6_or_empty(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    struct in6_addr a;
    return !*v || inet_pton(AF_INET6, v, &a) == 1 ? NULL : "not an IPv6 address";
}

static const char *v_relay(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    if (!*v)
        return NULL;
    char host[256];
    int port;
    return addr_parse_host_port(v, host, sizeof(host), &port, 587) < 0
               ? "not HOST, HOST:PORT or [IP]:PORT" : NULL;
}

static const char *v_relay_tls(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    (void)why;
    return strcmp(v, "starttls") == 0 || strcmp(v, "implicit") == 0
               ? NULL : "use starttls or implicit";
}

static const char *v_readable_file(const struct config *cfg, const char *v, struct buf *why)
{
    if (!*v)
        return "empty (name a file)";
    return check_readable(cfg, v, why);
}

static const char *v_cert_pairs(const struct config *cfg, const char *v, struct buf *why)
{
    struct str rest = str_from_cstr(v);
    while (rest.len) {
        size_t n = 0;
        while (n < rest.len && rest.p[n] != ' ')
            n++;
        if (n) {
            struct str pair = { rest.p, n };
            long colon = str_find_char(pair, ':');
            if (colon <= 0 || (size_t)colon == n - 1) {
                buf_printf(why, "'%.*s' is not CERT:KEY", (int)n, rest.p);
                return buf_cstr(why);
            }
            char *cert = xstrndup(pair.p, (size_t)colon);
            char *key = xstrndup(pair.p + colon + 1, n - (size_t)colon - 1);
            const char *e = check_readable(cfg, cert, why);
            if (!e)
                e = check_readable(cfg, key, why);
            free(cert);
            free(key);
            if (e)
                return e;
        }
        rest.p += n;
        rest.len -= n;
        while (rest.len && rest.p[0] == ' ') {
            rest.p++;
            rest.len--;
        }
    }
    return NULL;
}

static const char *v_addrs(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    struct addr_list l;
    const char *e;
    if (addr_list_parse(v, &l, &e) < 0) {
        buf_printf(why, "%s", e);
        return buf_cstr(why);
    }
    return NULL;
}

/* [dns] servers: "IP" or "IP@PORT", comma-separated, as libunbound's
 * forwarders take them. */
static const char *v_dns_servers(const struct config *cfg, const char *v, struct buf *why)
{
    (void)cfg;
    const char *p = v;
    int n = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        struct str item = str_trim((struct str){ p, len });
        p += len + (p[len] == ',');
        if (!item.len) {
            if (*v && strspn(v, " \t") != strlen(v))
                return "an empty entry (two commas, or a comma at an end)";
            break;
        }
        if (++n > 16)
            return "more than 16 servers";
        long at = str_find_char(item, '@');
        struct str ip = at < 0 ? item : (struct str){ item.p, (size_t)at };
        char *host = xstrndup(ip.p, ip.len);
        unsigned char bin[sizeof(struct in6_addr)];
        bool ok = inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
        free(host);
        if (!ok) {
            buf_printf(why, "'%.*s' is not an IP address (write 192.0.2.53 or 192.0.2.53@5353)",
                       (int)item.len, item.p);
            return buf_cstr(why);
        }
        unsigned long long port;
        if (at >= 0 && (str_to_u64((struct str){ item.p + at + 1, item.len - (size_t)at - 1 },
                                   65535, &port) < 0 || port == 0)) {
            buf_printf(why, "'%.*s': port out of range 1-65535", (int)item.len, item.p);
            return buf_cstr(why);
        }
    }
    return NULL;
}

/* The default anchor, Debian's root key, may be missing (dns-root-data not
 * installed: core/dns runs unvalidated), also when written out as it is in
 * `outpost config defaults`; any other file the config names must be there. */
static const char *v_dns_trust_anchor(const struct config *cfg, const char *v, struct buf *why)
{
    if (!*v || !strcmp(v, config_settings[CFG_ID_dns_trust_anchor].def))
        return NULL;
    return check_readable(cfg, v, why);
}

/* ---- the table ---- */

const struct config_setting config_settings[CFG_COUNT] = {
#define SETTING(sec_, k_, type_, def_, valid_, mn_, mx_, d_) \
    { .section = #sec_, .key = #k_, .type = CFG_##type_, .def = def_, .doc = d_, .min = mn_, .max = mx_ },
#include "core/config_schema.def"
#undef SETTING
};

static const config_validator validators[CFG_COUNT] = {
#define SETTING(sec, k, type, def, valid, mn, mx, d) valid,
#include "core/config_schema.def"
#undef SETTING
};

static const size_t offsets[CFG_COUNT] = {
#define SETTING(sec, k, type, def, valid, mn, mx, d) offsetof(struct config, sec##_##k),
#include "core/config_schema.def"
#undef SETTING
};

/* ---- value parsers ---- */

int config_parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* A number followed by an optional unit from `units`; returns 0 or -1. */
static int parse_with_unit(const char *s, const char *const *names, const unsigned long long *mult,
                           unsigned long long *out)
{
    size_t digits = 0;
    while (s[digits] >= '0' && s[digits] <= '9')
        digits++;
    unsigned long long n;
    if (str_to_u64((struct str){ s, digits }, ULLONG_MAX, &n) < 0)
        return -1;
    const char *unit = s + digits;
    for (int i = 0; names[i]; i++) {
        if (strcmp(unit, names[i]) == 0) {
            if (mult[i] && n > ULLONG_MAX / mult[i])
                return -1;
            *out = n * mult[i];
            return 0;
        }
    }
    return -1;
}

int config_parse_duration(const char *s, long long *ms)
{
    static const char *const names[] = { "", "ms", "s", "m", "h", "d", NULL };
    static const unsigned long long mult[] = { 1000, 1, 1000, 60000, 3600000, 86400000 };
    unsigned long long v;
    if (parse_with_unit(s, names, mult, &v) < 0 || v > LLONG_MAX)
        return -1;
    *ms = (long long)v;
    return 0;
}

int config_parse_size(const char *s, unsigned long long *bytes)
{
    static const char *const names[] = { "", "K", "M", "G", "k", "m", "g", NULL };
    static const unsigned long long mult[] = { 1, 1ULL << 10, 1ULL << 20, 1ULL << 30,
                                               1ULL << 10, 1ULL << 20, 1ULL << 30 };
    return parse_with_unit(s, names, mult, bytes);
}

/* ---- parsing ---- */

struct parse_state {
    struct config *cfg;
    const char *name;
    const char *p;    /* unread text */
    size_t left;
    int line;         /* line last handed to inih */
    bool cont;        /* that line began with white space (a continuation) */
    int last_id;      /* setting set on the previous key line, for continuations */
    char *error;      /* first error, allocated */
    int error_line;
};

static void fail(struct parse_state *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parse_state *ps, int line, const char *fmt, ...)
{
    if (ps->error)
        return;
    ps->error_line = line;
    struct buf b;
    buf_init(&b, 0);
    if (line > 0)
        buf_printf(&b, "%s:%d: ", ps->name, line);
    else
        buf_printf(&b, "%s: ", ps->name);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ps->error = b.p;
}

static bool section_exists(const char *section);

/* A "[name]" line names a section we know, even when no key follows it
 * (inih only tells us of sections through their keys). */
static void check_section_line(struct parse_state *ps, const char *line)
{
    /* Only an unindented "[": an indented one continues a list ("[::1]:25"). */
    if (*line != '[')
        return;
    const char *end = strchr(line, ']');
    if (!end)
        return; /* inih reports the syntax error */
    char *name = xstrndup(line + 1, (size_t)(end - line - 1));
    if (!section_exists(name))
        fail(ps, ps->line, "unknown section [%s]", name);
    free(name);
    ps->last_id = -1; /* nothing continues across a section header */
}

/* inih's line source: fgets over memory, counting lines. A line too long for
 * inih's buffer is an error of ours rather than a silent split. */
static char *reader(char *str, int num, void *stream)
{
    struct parse_state *ps = stream;
    if (ps->left == 0)
        return NULL;
    const char *nl = memchr(ps->p, '\n', ps->left);
    size_t len = nl ? (size_t)(nl - ps->p) + 1 : ps->left;
    ps->line++;
    ps->cont = len > 0 && (ps->p[0] == ' ' || ps->p[0] == '\t');
    size_t copy = len;
    if (copy > (size_t)num - 1) {
        fail(ps, ps->line, "line longer than %d characters (continue a list on indented lines)",
             num - 3);
        copy = (size_t)num - 1;
    }
    if (memchr(ps->p, '\0', len)) {
        fail(ps, ps->line, "NUL byte in the file");
        copy = 0;
    }
    memcpy(str, ps->p, copy);
    str[copy] = '\0';
    ps->p += len;
    ps->left -= len;
    check_section_line(ps, str);
    return str;
}

static int find_setting(const char *section, const char *key)
{
    for (int i = 0; i < CFG_COUNT; i++)
        if (!strcmp(config_settings[i].section, section) && !strcmp(config_settings[i].key, key))
            return i;
    return -1;
}

static bool section_exists(const char *section)
{
    for (int i = 0; i < CFG_COUNT; i++)
        if (!strcmp(config_settings[i].section, section))
            return true;
    return false;
}

static char **string_slot(struct config *cfg, int id)
{
    return (char **)((char *)cfg + offsets[id]);
}

/* Stores a value of the setting's type. Returns NULL or a reason. */
static const char *set_value(struct config *cfg, int id, const char *value, struct buf *why)
{
    const struct config_setting *s = &config_settings[id];
    void *slot = (char *)cfg + offsets[id];
    switch (s->type) {
    case CFG_STRING:
    case CFG_PATH:
    case CFG_LIST: {
        char **p = slot;
        free(*p);
        *p = xstrdup(value);
        return NULL;
    }
    case CFG_BOOL:
        return config_parse_bool(value, slot) == 0 ? NULL : "must be yes or no";
    case CFG_INT: {
        bool neg = value[0] == '-';
        unsigned long long u;
        if (str_to_u64(str_from_cstr(value + neg), LLONG_MAX, &u) < 0) {
            buf_printf(why, "'%s' is not a whole number", value);
            return buf_cstr(why);
        }
        long long v = neg ? -(long long)u : (long long)u;
        if (v < s->min || v > s->max) {
            buf_printf(why, "%lld is out of range %lld-%lld", v, s->min, s->max);
            return buf_cstr(why);
        }
        *(long long *)slot = v;
        return NULL;
    }
    case CFG_DURATION: {
        long long ms;
        if (config_parse_duration(value, &ms) < 0) {
            buf_printf(why, "'%s' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)", value);
            return buf_cstr(why);
        }
        if (ms < s->min || ms > s->max) {
            buf_printf(why, "%s is out of range %llds-%llds", value, s->min / 1000, s->max / 1000);
            return buf_cstr(why);
        }
        *(long long *)slot = ms;
        return NULL;
    }
    case CFG_SIZE: {
        unsigned long long b;
        if (config_parse_size(value, &b) < 0) {
            buf_printf(why, "'%s' is not a size (examples: 512K, 25M, 1G)", value);
            return buf_cstr(why);
        }
        if ((s->min && b < (unsigned long long)s->min) || (s->max && b > (unsigned long long)s->max)) {
            buf_printf(why, "%s is out of range %lld-%lld bytes", value, s->min, s->max);
            return buf_cstr(why);
        }
        *(unsigned long long *)slot = b;
        return NULL;
    }
    }
    return "unknown type";
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *ps = user;
    if (ps->error)
        return 1;
    int id = find_setting(section, key);
    if (id < 0) {
        if (!*section)
            fail(ps, ps->line, "%s set before any [section]", key);
        else if (!section_exists(section))
            fail(ps, ps->line, "unknown section [%s]", section);
        else
            fail(ps, ps->line, "unknown setting [%s] %s", section, key);
        return 1;
    }
    const struct config_setting *s = &config_settings[id];
    if (ps->cont && id == ps->last_id) {
        /* "  imap = ..." indented by mistake reads as a continuation. */
        const char *eq = strchr(value, '=');
        if (eq) {
            char *k = xstrndup(value, (size_t)(eq - value));
            char *kt = k + strspn(k, " \t");
            for (size_t n = strlen(kt); n && (kt[n - 1] == ' ' || kt[n - 1] == '\t'); n--)
                kt[n - 1] = '\0';
            bool is_key = find_setting(section, kt) >= 0;
            free(k);
            if (is_key) {
                fail(ps, ps->line, "[%s] an indented setting reads as a continuation of %s "
                                   "(remove the leading spaces)", section, key);
                return 1;
            }
        }
        if (s->type != CFG_LIST) {
            fail(ps, ps->line, "[%s] %s: only a list continues on an indented line", section, key);
            return 1;
        }
        char **p = string_slot(ps->cfg, id);
        char *joined = xasprintf("%s%s%s", *p, **p ? " " : "", value);
        free(*p);
        *p = joined;
        return 1;
    }
    if (ps->cfg->line[id]) {
        fail(ps, ps->line, "[%s] %s is set twice (first on line %d)", section, key, ps->cfg->line[id]);
        return 1;
    }
    struct buf why;
    buf_init(&why, 0);
    const char *e = set_value(ps->cfg, id, value, &why);
    if (e)
        fail(ps, ps->line, "[%s] %s: %s", section, key, e);
    buf_free(&why);
    ps->cfg->line[id] = ps->line;
    ps->last_id = id;
    return 1;
}

static void set_defaults(struct config *cfg)
{
    for (int i = 0; i < CFG_COUNT; i++) {
        struct buf why;
        buf_init(&why, 0);
        const char *e = set_value(cfg, i, config_settings[i].def, &why);
        if (e) {
            /* A default that does not parse is a bug in the table. */
            fprintf(stderr, "outpost: bad default for [%s] %s: %s\n", config_settings[i].section,
                    config_settings[i].key, e);
            abort();
        }
        buf_free(&why);
    }
}

static bool is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Whether two listen addresses would compete for one port: the same, or a
 * wildcard and anything of its family ("*" covers IPv4 too). */
static bool addrs_overlap(const struct addr_list *a, int x, const struct addr_list *b, int y)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->addr[x];
    const struct sockaddr *sb = (const struct sockaddr *)&b->addr[y];
    if (addr_port(sa) != addr_port(sb))
        return false;
    if (a->len[x] == b->len[y] && !memcmp(sa, sb, a->len[x]))
        return true;
    bool same_family = sa->sa_family == sb->sa_family;
    if ((is_any(&a->addr[x]) && (same_family || a->wildcard[x])) ||
        (is_any(&b->addr[y]) && (same_family || b->wildcard[y])))
        return true;
    return false;
}

static void validate(struct parse_state *ps)
{
    struct config *cfg = ps->cfg;
    for (int i = 0; i < CFG_COUNT && !ps->error; i++) {
        if (!validators[i])
            continue;
        const struct config_setting *s = &config_settings[i];
        const char *value = *string_slot(cfg, i);
        if (s->type != CFG_STRING && s->type != CFG_PATH && s->type != CFG_LIST)
            continue; /* numbers are checked by their range when parsed */
        struct buf why;
        buf_init(&why, 0);
        const char *e = validators[i](cfg, value, &why);
        if (e) {
            if (cfg->line[i])
                fail(ps, cfg->line[i], "[%s] %s: %s", s->section, s->key, e);
            else
                fail(ps, 0, "[%s] %s (default \"%s\"): %s", s->section, s->key, s->def, e);
        }
        buf_free(&why);
    }
    /* Two listeners on one address would fail to bind; say which two. */
    for (int i = 0; i < CFG_COUNT && !ps->error; i++) {
        if (strcmp(config_settings[i].section, "listen"))
            continue;
        struct addr_list a;
        const char *e;
        if (addr_list_parse(*string_slot(cfg, i), &a, &e) < 0)
            continue;
        for (int j = 0; j < i && !ps->error; j++) {
            if (strcmp(config_settings[j].section, "listen"))
                continue;
            struct addr_list b;
            if (addr_list_parse(*string_slot(cfg, j), &b, &e) < 0)
                continue;
            for (int x = 0; x < a.n; x++)
                for (int y = 0; y < b.n; y++)
                    if (addrs_overlap(&a, x, &b, y)) {
                        char txt[64];
                        addr_format((struct sockaddr *)&a.addr[x], txt, sizeof(txt));
                        /* Point at the setting the user wrote, if only one was. */
                        int here = cfg->line[i] || !cfg->line[j] ? i : j;
                        int other = here == i ? j : i;
                        fail(ps, cfg->line[here], "[listen] %s: %s is also %s [listen] %s%s",
                             config_settings[here].key, txt,
                             cfg->line[other] ? "used by" : "the default of",
                             config_settings[other].key,
                             cfg->line[other] ? "" : " (set it to another address, or empty)");
                    }
        }
    }
}

struct config *config_parse_string(const char *text, const char *name, const char *dir,
                                   char **error_r)
{
    return config_parse_buffer(text, strlen(text), name, dir, error_r);
}

struct config *config_parse_buffer(const char *text, size_t len, const char *name,
                                   const char *dir, char **error_r)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    cfg->file = xstrdup(name);
    cfg->dir = dir ? xstrdup(dir) : NULL;
    set_defaults(cfg);

    struct parse_state ps = { .cfg = cfg, .name = name, .p = text, .left = len,
                              .last_id = -1 };
    int r = ini_parse_stream(reader, &ps, handler, &ps);
    if (r > 0 && ps.error && r < ps.error_line) {
        /* A syntax error inih met before the first error of ours (which
         * may be its consequence: keys landing in the wrong section). */
        free(ps.error);
        ps.error = NULL;
    }
    if (r > 0 && !ps.error)
        fail(&ps, r, "expected \"key = value\" or \"[section]\"");
    else if (r < 0 && !ps.error)
        fail(&ps, 0, "cannot parse (out of memory)");
    if (!ps.error)
        validate(&ps);
    if (ps.error) {
        *error_r = ps.error;
        config_free(cfg);
        return NULL;
    }
    if (!cfg->server_hostname[0]) {
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        free(cfg->server_hostname);
        cfg->server_hostname = xstrdup(host);
    }
    return cfg;
}

struct config *config_load(const char *file, char **error_r)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error_r = xasprintf("%s: %s", file, strerror(errno));
        return NULL;
    }
    struct buf text;
    buf_init(&text, CONFIG_MAX_FILE);
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error_r = xasprintf("%s: %s", file, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (buf_append(&text, chunk, (size_t)n) < 0) {
            *error_r = xasprintf("%s: larger than %d bytes", file, CONFIG_MAX_FILE);
            goto fail;
        }
    }
    close(fd);

    char *abs = realpath(file, NULL);
    char *dir = abs ? xstrdup(abs) : xstrdup(".");
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    free(abs);
    struct config *cfg = config_parse_buffer(buf_cstr(&text), text.len, file, dir, error_r);
    free(dir);
    buf_free(&text);
    return cfg;
fail:
    close(fd);
    buf_free(&text);
    return NULL;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < CFG_COUNT; i++) {
        enum config_type t = config_settings[i].type;
        if (t == CFG_STRING || t == CFG_PATH || t == CFG_LIST)
            free(*string_slot(cfg, i));
    }
    free(cfg->file);
    free(cfg->dir);
    free(cfg);
}

const char *config_string(const struct config *cfg, enum config_id id)
{
    enum config_type t = config_settings[id].type;
    if (t != CFG_STRING && t != CFG_PATH && t != CFG_LIST)
        abort(); /* a bug: asked for the string of a number */
    return *string_slot((struct config *)cfg, id);
}

int config_enter_dir(const struct config *cfg)
{
    return cfg->dir ? chdir(cfg->dir) : 0;
}

const char *config_where(const struct config *cfg, enum config_id id, char *out, size_t outlen)
{
    if (cfg->line[id])
        snprintf(out, outlen, "%s:%d", cfg->file, cfg->line[id]);
    else
        snprintf(out, outlen, "%s", cfg->file);
    return out;
}

static const char *type_name(enum config_type t)
{
    switch (t) {
    case CFG_STRING: return "string";
    case CFG_PATH: return "path";
    case CFG_LIST: return "list";
    case CFG_INT: return "integer";
    case CFG_BOOL: return "yes/no";
    case CFG_DURATION: return "duration";
    case CFG_SIZE: return "size";
    }
    return "?";
}

/* Wraps documentation text at about 76 columns, each line after `prefix`. */
static void print_wrapped(FILE *out, const char *prefix, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t len = strlen(p);
        size_t cut = len;
        if (len > 76) {
            cut = 76;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = len;
        }
        fprintf(out, "%s%.*s\n", prefix, (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
    }
}

/* "key = value"; a long list goes on indented continuation lines, one word
 * each, so the output stays a valid config whatever inih's line limit. */
static void print_setting(FILE *out, const char *key, const char *value)
{
    if (strlen(key) + strlen(value) + 3 <= 76 || !strchr(value, ' ')) {
        fprintf(out, "%s = %s\n", key, value);
        return;
    }
    fprintf(out, "%s =", key);
    const char *p = value;
    bool first = true;
    while (*p) {
        size_t n = strcspn(p, " ");
        fprintf(out, "%s%.*s\n", first ? " " : "    ", (int)n, p);
        first = false;
        p += n;
        while (*p == ' ')
            p++;
    }
}

void config_print_defaults(FILE *out, bool markdown)
{
    const char *section = "";
    if (markdown) {
        fprintf(out, "# outpost.conf reference\n\n"
                     "<!-- Generated by `outpost config defaults --markdown` from "
                     "src/core/config_schema.def; do not edit. `make docs` regenerates it. -->\n\n"
                     "outpost reads one INI file (`outpost serve -c FILE`). Lines starting with `#` "
                     "or `;` are comments. Relative paths are relative to the file's directory. "
                     "A list continues on indented lines. Durations take a unit (`500ms`, `30s`, "
                     "`5m`, `2h`, `1d`; a bare number is seconds); sizes take `K`, `M` or `G`.\n\n"
                     "`outpost config check -c FILE` validates a file: an unknown setting, a "
                     "value of the wrong type or out of range, or a missing file is reported "
                     "as `FILE:LINE: [section] key: what is wrong`.\n");
    }
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_setting *s = &config_settings[i];
        if (strcmp(section, s->section)) {
            section = s->section;
            if (markdown)
                fprintf(out, "\n## [%s]\n", section);
            else
                fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
        }
        if (markdown) {
            fprintf(out, "\n### `%s`\n\n", s->key);
            if (*s->def)
                fprintf(out, "Type: %s. Default: `%s`.", type_name(s->type), s->def);
            else
                fprintf(out, "Type: %s. Default: empty.", type_name(s->type));
            if (s->type == CFG_INT)
                fprintf(out, " Range: %lld to %lld.", s->min, s->max);
            if (s->type == CFG_DURATION)
                fprintf(out, " Range: %llds to %llds.", s->min / 1000, s->max / 1000);
            fprintf(out, "\n\n%s\n", s->doc);
        } else {
            fprintf(out, "\n");
            print_wrapped(out, "# ", s->doc);
            fprintf(out, "# (%s)\n", type_name(s->type));
            print_setting(out, s->key, s->def);
        }
    }
}
