/* outpost quickstart: a working data directory in one step (docs/cli.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "auth/password.h"
#include "core/config.h"
#include "core/privdrop.h"
#include "store/store.h"
#include "core/str.h"
#include "core/tls.h"

#define QS_MAX_LISTEN 8

static const struct {
    const char *key;
    int port;
    const char *what;
} qs_listeners[] = {
    { "smtp", 25, "SMTP (MX, STARTTLS)" },
    { "submission", 587, "submission (STARTTLS)" },
    { "submissions", 465, "submission (implicit TLS)" },
    { "imap", 143, "IMAP (STARTTLS)" },
    { "imaps", 993, "IMAP (implicit TLS)" },
    { "pop3", 110, "POP3 (STLS)" },
    { "pop3s", 995, "POP3 (implicit TLS)" },
    { "http", 80, "HTTP" },
    { "https", 443, "HTTPS" },
};
#define QS_NLISTENERS (sizeof(qs_listeners) / sizeof(qs_listeners[0]))

static bool valid_localpart(const char *s)
{
    if (!*s || strlen(s) > 64 || s[0] == '.')
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(".-_+", *c)))
            return false;
    return true;
}

/* "127.0.0.1" -> "127.0.0.1", "::1" -> "[::1]", "*" -> "*". NULL if not an IP. */
static char *listen_host(const char *ip)
{
    if (!strcmp(ip, "*"))
        return xstrdup("*");
    unsigned char tmp[16];
    if (inet_pton(AF_INET, ip, tmp) == 1)
        return xstrdup(ip);
    if (inet_pton(AF_INET6, ip, tmp) == 1)
        return xasprintf("[%s]", ip);
    if (ip[0] == '[' && ip[strlen(ip) - 1] == ']') {
        char *inner = xstrndup(ip + 1, strlen(ip) - 2);
        bool ok = inet_pton(AF_INET6, inner, tmp) == 1;
        free(inner);
        if (ok)
            return xstrdup(ip);
    }
    return NULL;
}

static int write_file_atomic(const char *path, const char *text, mode_t mode)
{
    char *tmp = xasprintf("%s.tmp", path);
    unlink(tmp); /* a stale one from a crash, whatever its mode */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    int ok = fd >= 0 && fchmod(fd, mode) == 0; /* exactly `mode`, whatever the umask */
    size_t len = strlen(text), off = 0;
    while (ok && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        off += ok ? (size_t)n : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    /* link() refuses to replace: a config made meanwhile by someone else wins. */
    ok = ok && link(tmp, path) == 0;
    int saved = errno;
    unlink(tmp);
    free(tmp);
    errno = saved;
    return ok ? 0 : -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int r = mkdir(p, mode);
    if (r == 0)
        r = chmod(p, mode); /* exactly `mode`, whatever the umask */
    free(p);
    return r < 0 && errno != EEXIST ? -1 : 0;
}

/* Adds the domain and the admin account with a generated password (written
 * to password, 32 bytes), as the server's user (cli_open_store drops root),
 * so that the database belongs to it. */
static int make_domain_and_admin(const char *conf_path, const char *domain,
                                 const char *admin_addr, char *password)
{
    struct config *cfg;
    struct store *st;
    if (cli_open_store(conf_path, &cfg, &st))
        return -1;
    char *err = NULL;
    int r = -1;
    if (store_domain_add(st, domain, &err) != STORE_OK)
        goto out;
    struct auth_credentials cred;
    const char *why;
    auth_password_generate(password, 20);
    if (auth_credentials_make(password, strlen(password), &cred, &why) < 0) {
        err = xstrdup(why);
        goto out;
    }
    int sr = store_account_add(st, admin_addr, "Administrator", &cred, 0, NULL, &err);
    auth_wipe(&cred, sizeof(cred));
    if (sr == STORE_OK)
        r = 0;
out:
    if (r < 0)
        fprintf(stderr, "outpost quickstart: %s\n", err);
    free(err);
    cli_close_store(cfg, st);
    return r;
}

int cmd_quickstart(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domain", required_argument, NULL, 'D' },
        { "hostname", required_argument, NULL, 'H' },
        { "listen", required_argument, NULL, 'l' },
        { "port-base", required_argument, NULL, 'p' },
        { "admin", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *domain = NULL, *hostname = NULL, *admin = "postmaster";
    const char *listen[QS_MAX_LISTEN];
    int nlisten = 0;
    long port_base = 0;

    /* getopt_long wants argv[0] to be the program. */
    char **args = xcalloc((size_t)argc + 2, sizeof(char *));
    args[0] = "outpost quickstart";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    optind = 1;
    opterr = 0;
    int c, rc = EXIT_USAGE;
    char *conf_path = NULL, *tls_dir = NULL, *cert = NULL, *key = NULL, *data = NULL;
    struct buf conf;
    buf_init(&conf, 0);
    while ((c = getopt_long(argc + 1, args, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'D': domain = optarg; break;
        case 'H': hostname = optarg; break;
        case 'a': admin = optarg; break;
        case 'l':
            if (nlisten == QS_MAX_LISTEN) {
                rc = usage_error("quickstart", "at most %d --listen addresses", QS_MAX_LISTEN);
                goto out;
            }
            for (int i = 0; i < nlisten; i++) {
                if (!strcmp(listen[i], optarg)) {
                    rc = usage_error("quickstart", "--listen %s is given twice", optarg);
                    goto out;
                }
            }
            listen[nlisten++] = optarg;
            break;
        case 'p': {
            char *end;
            errno = 0;
            port_base = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || port_base < 0 || port_base > 65535 - 995) {
                rc = usage_error("quickstart", "--port-base must be 0 to %d", 65535 - 995);
                goto out;
            }
            break;
        }
        case 'h':
            fputs(usage_text("quickstart"), stdout);
            rc = 0;
            goto out;
        case ':':
            rc = usage_error("quickstart", "%s needs a value", args[optind - 1]);
            goto out;
        default:
            rc = usage_error("quickstart", "unknown option '%s'", args[optind - 1]);
            goto out;
        }
    }
    if (optind < argc + 1) {
        rc = usage_error("quickstart", "unexpected argument '%s'", args[optind]);
        goto out;
    }
    if (!dir || !domain || !hostname) {
        rc = usage_error("quickstart", "--dir, --domain and --hostname are required");
        goto out;
    }
    const char *why = addr_check_dns_name(domain);
    if (why) {
        rc = usage_error("quickstart", "--domain '%s': %s", domain, why);
        goto out;
    }
    if ((why = addr_check_dns_name(hostname))) {
        rc = usage_error("quickstart", "--hostname '%s': %s", hostname, why);
        goto out;
    }
    if (!valid_localpart(admin)) {
        rc = usage_error("quickstart", "'%s' is not a local part (letters, digits, . - _ +)",
                         admin);
        goto out;
    }
    char *hosts[QS_MAX_LISTEN];
    int nhosts = 0;
    for (int i = 0; i < nlisten; i++) {
        hosts[nhosts] = listen_host(listen[i]);
        if (!hosts[nhosts]) {
            for (int j = 0; j < nhosts; j++)
                free(hosts[j]);
            rc = usage_error("quickstart", "--listen '%s' is not an IP address", listen[i]);
            goto out;
        }
        nhosts++;
    }
    if (!nhosts)
        hosts[nhosts++] = xstrdup("*");

    rc = 1;
    /* As root, serve drops to the outpost user: data/ must be its. */
    bool root = geteuid() == 0;
    unsigned uid = 0, gid = 0;
    const char *run_user = "outpost";
    if (root && privdrop_lookup(run_user, &uid, &gid) < 0) {
        fprintf(stderr, "outpost quickstart: running as root, but there is no user '%s' to run "
                        "the server as; create it first (useradd --system --user-group %s)\n",
                run_user, run_user);
        goto free_hosts;
    }
    if (!root) {
        /* The setting is only used when started as root; name the user
         * that will actually run it. */
        const char *u = getenv("USER");
        run_user = u && *u && !strchr(u, ' ') ? u : "outpost";
    }

    conf_path = xasprintf("%s/outpost.conf", dir);
    if (access(conf_path, F_OK) == 0) {
        fprintf(stderr, "outpost quickstart: %s exists; not overwriting it\n", conf_path);
        goto free_hosts;
    }
    tls_dir = xasprintf("%s/tls", dir);
    cert = xasprintf("%s/cert.pem", tls_dir);
    key = xasprintf("%s/key.pem", tls_dir);
    data = xasprintf("%s/data", dir);
    struct stat dst;
    bool dir_is_new = stat(dir, &dst) < 0;
    if (mkdir_p(dir, 0750) < 0 || mkdir_p(tls_dir, 0750) < 0 || mkdir_p(data, 0700) < 0) {
        fprintf(stderr, "outpost quickstart: cannot make %s: %s\n", dir, strerror(errno));
        goto free_hosts;
    }
    char *err = NULL;
    if (access(cert, F_OK) == 0 && access(key, F_OK) == 0) {
        printf("Keeping the certificate in %s\n", cert);
    } else if (tls_write_self_signed(hostname, cert, key, &err) < 0) {
        fprintf(stderr, "outpost quickstart: %s\n", err);
        free(err);
        goto free_hosts;
    }
    if (root) {
        /* The key stays root's but readable by the server's group, so a
         * SIGHUP after the privilege drop can still reload it. */
        /* DIR itself: the server's group may enter it (the server stands
         * in it after dropping root) but not change it. */
        if ((dir_is_new && chown(dir, 0, gid) < 0) || chown(tls_dir, 0, gid) < 0 ||
            chown(key, 0, gid) < 0 ||
            chmod(key, 0640) < 0 ||
            chown(cert, 0, gid) < 0 || chown(data, uid, gid) < 0) {
            fprintf(stderr, "outpost quickstart: cannot set owners in %s: %s\n", dir,
                    strerror(errno));
            goto free_hosts;
        }
    }

    buf_printf(&conf,
               "# outpost.conf, written by `outpost quickstart` for %s.\n"
               "# Every setting, its default and meaning: `outpost config defaults`\n"
               "# or docs/config.md. Relative paths are relative to this file.\n"
               "\n[server]\nhostname = %s\nuser = %s\ndata_dir = data\nlog_level = info\n"
               "\n[tls]\ncert = tls/cert.pem\nkey = tls/key.pem\n"
               "\n[listen]\n",
               domain, hostname, run_user);
    for (size_t i = 0; i < QS_NLISTENERS; i++) {
        buf_printf(&conf, "%s =", qs_listeners[i].key);
        for (int h = 0; h < nhosts; h++)
            buf_printf(&conf, " %s:%ld", hosts[h], qs_listeners[i].port + port_base);
        buf_append_char(&conf, '\n');
    }
    if (write_file_atomic(conf_path, buf_cstr(&conf), root ? 0640 : 0644) < 0) {
        fprintf(stderr, "outpost quickstart: cannot write %s: %s\n", conf_path, strerror(errno));
        goto free_hosts;
    }
    if (root && chown(conf_path, 0, gid) < 0) {
        fprintf(stderr, "outpost quickstart: cannot set owner of %s: %s\n", conf_path,
                strerror(errno));
        goto free_hosts;
    }
    fsync_dir(tls_dir);
    fsync_dir(dir);

    /* The domain and the administrator, made as the server's user so that
     * the database belongs to it. The process ends soon after: dropping
     * root here costs nothing. */
    char admin_addr[512], password[32];
    snprintf(admin_addr, sizeof(admin_addr), "%s@%s", admin, domain);
    if (make_domain_and_admin(conf_path, domain, admin_addr, password) < 0)
        goto free_hosts;

    printf("Wrote %s for %s (host name %s).\n\n", conf_path, domain, hostname);
    printf("Listeners:\n");
    for (size_t i = 0; i < QS_NLISTENERS; i++)
        printf("  %-28s %s:%ld\n", qs_listeners[i].what,
               !strcmp(hosts[0], "*") ? "*" : hosts[0], qs_listeners[i].port + port_base);
    printf("\nThe certificate in %s is self-signed: clients will warn until you\n"
           "replace it with one from a certificate authority ([tls] cert and key).\n",
           cert);
    printf("\nStart the server:\n  outpost serve -c %s\n", conf_path);
    printf("\nAdministrator: %s\nPassword (shown only now): %s\n", admin_addr, password);
    printf("\nMore accounts: outpost account add NAME@%s -c %s\n", domain, conf_path);
    printf("The DNS records to publish come with email authentication, not built yet.\n");
    auth_wipe(password, sizeof(password));
    rc = 0;
free_hosts:
    for (int j = 0; j < nhosts; j++)
        free(hosts[j]);
out:
    buf_free(&conf);
    free(conf_path);
    free(tls_dir);
    free(cert);
    free(key);
    free(data);
    free(args);
    return rc;
}
