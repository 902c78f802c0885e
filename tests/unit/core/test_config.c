/*
 * Unit tests for core/config.h: parsing outpost.conf from memory.
 *
 * The [tls] cert and key defaults must name readable files, so every parse
 * gets `dir` = a temporary directory holding empty tls/cert.pem and
 * tls/key.pem (the validator only checks that they are readable files).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "test.h"

#define NAME "t.conf"

static char fixture[64];     /* tls/cert.pem, tls/key.pem, a.pem, b.pem, adir/ */
static char empty_dir[80];   /* nothing in it */

/* Where each setting lives in struct config, from the same table. */
static const size_t offs[CFG_COUNT] = {
#define SETTING(sec, k, type, def, valid, mn, mx, d) offsetof(struct config, sec##_##k),
#include "core/config_schema.def"
#undef SETTING
};

static void touch(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    close(fd);
}

static void setup(void)
{
    strcpy(fixture, "/tmp/outpost-unit-config-XXXXXX");
    if (!mkdtemp(fixture)) {
        perror("mkdtemp");
        exit(2);
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/tls", fixture);
    mkdir(path, 0700);
    touch(fixture, "tls/cert.pem");
    touch(fixture, "tls/key.pem");
    touch(fixture, "a.pem");
    touch(fixture, "b.pem");
    snprintf(path, sizeof(path), "%s/adir", fixture);
    mkdir(path, 0700);
    snprintf(empty_dir, sizeof(empty_dir), "%s/empty", fixture);
    mkdir(empty_dir, 0700);
}

static void teardown(void)
{
    static const char *const files[] = { "tls/cert.pem", "tls/key.pem", "a.pem", "b.pem" };
    static const char *const dirs[] = { "tls", "adir", "empty" };
    char path[256];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fixture, files[i]);
        unlink(path);
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fixture, dirs[i]);
        rmdir(path);
    }
    rmdir(fixture);
}

static struct config *parse(const char *text, char **err)
{
    *err = NULL;
    return config_parse_string(text, NAME, fixture, err);
}

/* Parses text that must fail, with exactly this message. */
static void expect_error_in(const char *text, const char *dir, const char *want)
{
    char *err = NULL;
    struct config *cfg = config_parse_string(text, NAME, dir, &err);
    CHECK(cfg == NULL);
    CHECK_STR(err, want);
    if (err && strcmp(err, want) != 0)
        fprintf(stderr, "  for input: %s\n", text);
    free(err);
    config_free(cfg);
}

static void expect_error(const char *text, const char *want)
{
    expect_error_in(text, fixture, want);
}

/* Parses text that must succeed. The caller frees. */
static struct config *expect_ok(const char *text)
{
    char *err = NULL;
    struct config *cfg = parse(text, &err);
    CHECK(cfg != NULL);
    if (!cfg)
        fprintf(stderr, "  unexpected error: %s\n  for input: %s\n", err ? err : "(none)", text);
    free(err);
    return cfg;
}

static bool same_setting(const struct config *a, const struct config *b, int i)
{
    const char *pa = (const char *)a + offs[i];
    const char *pb = (const char *)b + offs[i];
    switch (config_settings[i].type) {
    case CFG_STRING:
    case CFG_PATH:
    case CFG_LIST:
        return strcmp(*(char *const *)pa, *(char *const *)pb) == 0;
    case CFG_INT:
    case CFG_DURATION:
        return *(const long long *)pa == *(const long long *)pb;
    case CFG_SIZE:
        return *(const unsigned long long *)pa == *(const unsigned long long *)pb;
    case CFG_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    }
    return false;
}

static void test_defaults(void)
{
    struct config *cfg = expect_ok("");
    if (!cfg)
        return;
    CHECK_STR(cfg->file, NAME);
    CHECK_STR(cfg->dir, fixture);
    CHECK_STR(cfg->server_user, "outpost");
    CHECK_STR(cfg->server_data_dir, "data");
    CHECK_STR(cfg->server_log_level, "info");
    CHECK_INT(cfg->server_workers, 4);
    CHECK_INT(cfg->server_shutdown_timeout, 10000);
    CHECK_INT(cfg->tls_handshake_timeout, 30000);
    CHECK_STR(cfg->tls_cert, "tls/cert.pem");
    CHECK_STR(cfg->tls_key, "tls/key.pem");
    CHECK_STR(cfg->tls_extra_certs, "");
    CHECK_STR(cfg->tls_min_version, "1.2");
    CHECK_STR(cfg->tls_ciphersuites,
              "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    CHECK(strncmp(cfg->tls_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 ",
                  58) == 0);
    CHECK_STR(cfg->listen_smtp, "*:25");
    CHECK_STR(cfg->listen_submission, "*:587");
    CHECK_STR(cfg->listen_submissions, "*:465");
    CHECK_STR(cfg->listen_imap, "*:143");
    CHECK_STR(cfg->listen_imaps, "*:993");
    CHECK_STR(cfg->listen_pop3, "*:110");
    CHECK_STR(cfg->listen_pop3s, "*:995");
    CHECK_STR(cfg->listen_http, "*:80");
    CHECK_STR(cfg->listen_https, "*:443");
    CHECK_STR(config_string(cfg, CFG_ID_listen_smtp), "*:25");
    CHECK_STR(config_string(cfg, CFG_ID_tls_cert), "tls/cert.pem");

    /* An empty hostname becomes the machine's name. */
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    CHECK(cfg->server_hostname[0] != '\0');
    if (host[0])
        CHECK_STR(cfg->server_hostname, host);

    /* Every setting holds its table default and was not set on a line. */
    int bad = 0, unset = 0;
    for (int i = 0; i < CFG_COUNT; i++) {
        const struct config_setting *s = &config_settings[i];
        const char *slot = (const char *)cfg + offs[i];
        bool ok = true;
        switch (s->type) {
        case CFG_STRING:
        case CFG_PATH:
        case CFG_LIST:
            if (i != CFG_ID_server_hostname)
                ok = strcmp(*(char *const *)slot, s->def) == 0;
            break;
        case CFG_INT:
            ok = *(const long long *)slot == strtoll(s->def, NULL, 10);
            break;
        case CFG_DURATION: {
            long long ms = -1;
            ok = config_parse_duration(s->def, &ms) == 0 && *(const long long *)slot == ms;
            break;
        }
        case CFG_SIZE: {
            unsigned long long b = 0;
            ok = config_parse_size(s->def, &b) == 0 && *(const unsigned long long *)slot == b;
            break;
        }
        case CFG_BOOL: {
            bool v = false;
            ok = config_parse_bool(s->def, &v) == 0 && *(const bool *)slot == v;
            break;
        }
        }
        if (!ok) {
            fprintf(stderr, "  [%s] %s is not its default\n", s->section, s->key);
            bad++;
        }
        if (cfg->line[i] != 0)
            unset++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(unset, 0);
    char where[64];
    CHECK_STR(config_where(cfg, CFG_ID_server_workers, where, sizeof(where)), NAME);
    config_free(cfg);

    /* Comments and blank lines only: still the defaults. */
    cfg = expect_ok("# a comment\n; another\n\n   \n[server]\n# nothing set\n");
    if (cfg)
        CHECK_INT(cfg->server_workers, 4);
    config_free(cfg);
    config_free(NULL);
}

static void test_values(void)
{
    struct config *cfg = expect_ok("[server]\n"
                                   "hostname = mx.example.com\n"
                                   "user = mail\n"
                                   "data_dir = /var/lib/outpost\n"
                                   "log_level = debug\n"
                                   "workers = 16\n"
                                   "shutdown_timeout = 1m\n"
                                   "\n"
                                   "[tls]\n"
                                   "cert = a.pem\n"
                                   "key = b.pem\n"
                                   "extra_certs = a.pem:b.pem tls/cert.pem:tls/key.pem\n"
                                   "min_version = 1.3\n"
                                   "ciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
                                   "ciphersuites = TLS_AES_128_GCM_SHA256\n"
                                   "[listen]\n"
                                   "smtp = 127.0.0.1:2525 [::1]:2525\n"
                                   "submission =\n"
                                   "https = 10.0.0.1:8443\n");
    if (!cfg)
        return;
    CHECK_STR(cfg->server_hostname, "mx.example.com");
    CHECK_STR(cfg->server_user, "mail");
    CHECK_STR(cfg->server_data_dir, "/var/lib/outpost");
    CHECK_STR(cfg->server_log_level, "debug");
    CHECK_INT(cfg->server_workers, 16);
    CHECK_INT(cfg->server_shutdown_timeout, 60000);
    CHECK_STR(cfg->tls_cert, "a.pem");
    CHECK_STR(cfg->tls_key, "b.pem");
    CHECK_STR(cfg->tls_extra_certs, "a.pem:b.pem tls/cert.pem:tls/key.pem");
    CHECK_STR(cfg->tls_min_version, "1.3");
    CHECK_STR(cfg->tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
    CHECK_STR(cfg->tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
    CHECK_STR(cfg->listen_smtp, "127.0.0.1:2525 [::1]:2525");
    CHECK_STR(cfg->listen_submission, "");
    CHECK_STR(cfg->listen_https, "10.0.0.1:8443");
    CHECK_STR(cfg->listen_imap, "*:143"); /* untouched */
    /* Where each was set. */
    CHECK_INT(cfg->line[CFG_ID_server_hostname], 2);
    CHECK_INT(cfg->line[CFG_ID_server_shutdown_timeout], 7);
    CHECK_INT(cfg->line[CFG_ID_tls_cert], 10);
    CHECK_INT(cfg->line[CFG_ID_listen_https], 19);
    CHECK_INT(cfg->line[CFG_ID_listen_imap], 0);
    char where[64];
    CHECK_STR(config_where(cfg, CFG_ID_tls_cert, where, sizeof(where)), "t.conf:10");
    CHECK_STR(config_where(cfg, CFG_ID_listen_pop3, where, sizeof(where)), "t.conf");
    config_free(cfg);

    /* Inline comments, a byte-order mark and CRLF line ends. */
    cfg = expect_ok("\xEF\xBB\xBF[server]\r\nworkers = 8 ; eight\r\nuser = mail\r\n");
    if (cfg) {
        CHECK_INT(cfg->server_workers, 8);
        CHECK_STR(cfg->server_user, "mail");
        CHECK_INT(cfg->line[CFG_ID_server_user], 3);
    }
    config_free(cfg);

    /* Absolute cert and key paths with no directory. */
    char text[512];
    snprintf(text, sizeof(text), "[tls]\ncert = %s/tls/cert.pem\nkey = %s/a.pem\n", fixture, fixture);
    char *err = NULL;
    cfg = config_parse_string(text, NAME, NULL, &err);
    CHECK(cfg != NULL);
    if (!cfg)
        fprintf(stderr, "  %s\n", err ? err : "?");
    free(err);
    if (cfg)
        CHECK(cfg->dir == NULL);
    config_free(cfg);
}

static void test_int(void)
{
    static const struct {
        const char *value;
        long long want;
        const char *err; /* after "t.conf:2: [server] workers: " */
    } cases[] = {
        { "1", 1, NULL },
        { "4", 4, NULL },
        { "64", 64, NULL },
        { "007", 7, NULL },
        { "0", 0, "0 is out of range 1-64" },
        { "65", 0, "65 is out of range 1-64" },
        { "-3", 0, "-3 is out of range 1-64" },
        { "-0", 0, "0 is out of range 1-64" },
        { "9223372036854775807", 0, "9223372036854775807 is out of range 1-64" },
        { "-9223372036854775807", 0, "-9223372036854775807 is out of range 1-64" },
        { "9223372036854775808", 0, "'9223372036854775808' is not a whole number" },
        { "99999999999999999999", 0, "'99999999999999999999' is not a whole number" },
        { "four", 0, "'four' is not a whole number" },
        { "4.5", 0, "'4.5' is not a whole number" },
        { "+4", 0, "'+4' is not a whole number" },
        { "-", 0, "'-' is not a whole number" },
        { "4 4", 0, "'4 4' is not a whole number" },
        { "0x10", 0, "'0x10' is not a whole number" },
        { "", 0, "'' is not a whole number" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[server]\nworkers = %s\n", cases[i].value);
        if (cases[i].err) {
            char want[256];
            snprintf(want, sizeof(want), NAME ":2: [server] workers: %s", cases[i].err);
            expect_error(text, want);
        } else {
            struct config *cfg = expect_ok(text);
            if (cfg)
                CHECK_INT(cfg->server_workers, cases[i].want);
            config_free(cfg);
        }
    }
}

static void test_duration_setting(void)
{
    static const struct {
        const char *value;
        long long ms;
        const char *err; /* after "t.conf:3: [server] shutdown_timeout: " */
    } cases[] = {
        { "500ms", 500, NULL },
        { "30s", 30000, NULL },
        { "5m", 300000, NULL },
        { "30", 30000, NULL }, /* a bare number is seconds */
        { "0", 0, NULL },
        { "0ms", 0, NULL },
        { "300", 300000, NULL },
        { "300000ms", 300000, NULL },
        { "300001ms", 0, "300001ms is out of range 0s-300s" },
        { "301s", 0, "301s is out of range 0s-300s" },
        { "2h", 0, "2h is out of range 0s-300s" },
        { "1d", 0, "1d is out of range 0s-300s" },
        { "10x", 0, "'10x' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
        { "s", 0, "'s' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
        { "1.5s", 0, "'1.5s' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
        { "-1s", 0, "'-1s' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
        { "10 s", 0, "'10 s' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
        { "", 0, "'' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[server]\nworkers = 2\nshutdown_timeout = %s\n", cases[i].value);
        if (cases[i].err) {
            char want[256];
            snprintf(want, sizeof(want), NAME ":3: [server] shutdown_timeout: %s", cases[i].err);
            expect_error(text, want);
        } else {
            struct config *cfg = expect_ok(text);
            if (cfg) {
                CHECK_INT(cfg->server_shutdown_timeout, cases[i].ms);
                CHECK_INT(cfg->line[CFG_ID_server_shutdown_timeout], 3);
            }
            config_free(cfg);
        }
    }
}

static void test_handshake_timeout(void)
{
    static const struct {
        const char *value;
        long long ms;
        const char *err;
    } cases[] = {
        { "1s", 1000, NULL },
        { "1000ms", 1000, NULL },
        { "5m", 300000, NULL },
        { "999ms", 0, NAME ":2: [tls] handshake_timeout: 999ms is out of range 1s-300s" },
        { "0", 0, NAME ":2: [tls] handshake_timeout: 0 is out of range 1s-300s" },
        { "301", 0, NAME ":2: [tls] handshake_timeout: 301 is out of range 1s-300s" },
        { "soon", 0,
          NAME ":2: [tls] handshake_timeout: 'soon' is not a duration (examples: 500ms, 30s, 5m, 2h, 1d)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[tls]\nhandshake_timeout = %s\n", cases[i].value);
        if (cases[i].err) {
            expect_error(text, cases[i].err);
        } else {
            struct config *cfg = expect_ok(text);
            if (cfg)
                CHECK_INT(cfg->tls_handshake_timeout, cases[i].ms);
            config_free(cfg);
        }
    }
}

static void test_parse_duration(void)
{
    static const struct {
        const char *s;
        int ret;
        long long ms;
    } cases[] = {
        { "500ms", 0, 500 },
        { "30s", 0, 30000 },
        { "5m", 0, 300000 },
        { "2h", 0, 7200000 },
        { "1d", 0, 86400000 },
        { "45", 0, 45000 },
        { "0", 0, 0 },
        { "0ms", 0, 0 },
        { "0d", 0, 0 },
        { "007s", 0, 7000 },
        { "9223372036854775807ms", 0, LLONG_MAX },
        { "9223372036854775s", 0, 9223372036854775000LL },
        { "106751991167d", 0, 9223372036828800000LL },
        { "9223372036854775808ms", -1, 0 },     /* past LLONG_MAX */
        { "9223372036854776s", -1, 0 },         /* fits unsigned, not signed */
        { "106751991168d", -1, 0 },
        { "213503982335d", -1, 0 },             /* the multiplication overflows */
        { "18446744073709551616ms", -1, 0 },
        { "18446744073709551615", -1, 0 },
        { "", -1, 0 },
        { "ms", -1, 0 },
        { "s", -1, 0 },
        { "5x", -1, 0 },
        { "5 s", -1, 0 },
        { " 5s", -1, 0 },
        { "5s ", -1, 0 },
        { "-5s", -1, 0 },
        { "+5s", -1, 0 },
        { "5.5s", -1, 0 },
        { "5sec", -1, 0 },
        { "5ss", -1, 0 },
        { "5msx", -1, 0 },
        { "5M", -1, 0 },
        { "5K", -1, 0 },
        { "1h30m", -1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long ms = -12345;
        int r = config_parse_duration(cases[i].s, &ms);
        if (r != cases[i].ret)
            fprintf(stderr, "  config_parse_duration(\"%s\") = %d\n", cases[i].s, r);
        CHECK_INT(r, cases[i].ret);
        CHECK_INT(ms, cases[i].ret == 0 ? cases[i].ms : -12345);
    }
}

static void test_parse_size(void)
{
    static const struct {
        const char *s;
        int ret;
        unsigned long long bytes;
    } cases[] = {
        { "0", 0, 0 },
        { "512", 0, 512 },
        { "1K", 0, 1024 },
        { "1k", 0, 1024 },
        { "512K", 0, 524288 },
        { "25M", 0, 26214400 },
        { "25m", 0, 26214400 },
        { "1G", 0, 1073741824 },
        { "3g", 0, 3221225472ULL },
        { "18446744073709551615", 0, ULLONG_MAX },
        { "17179869183G", 0, 18446744072635809792ULL },
        { "17179869184G", -1, 0 }, /* 2^64 */
        { "18014398509481984K", -1, 0 },
        { "18446744073709551616", -1, 0 },
        { "", -1, 0 },
        { "K", -1, 0 },
        { "1T", -1, 0 },
        { "1KB", -1, 0 },
        { "1 K", -1, 0 },
        { "-1", -1, 0 },
        { "1.5M", -1, 0 },
        { " 1K", -1, 0 },
        { "1ms", -1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned long long b = 12345;
        int r = config_parse_size(cases[i].s, &b);
        if (r != cases[i].ret)
            fprintf(stderr, "  config_parse_size(\"%s\") = %d\n", cases[i].s, r);
        CHECK_INT(r, cases[i].ret);
        CHECK(b == (cases[i].ret == 0 ? cases[i].bytes : 12345));
    }
}

static void test_parse_bool(void)
{
    static const struct {
        const char *s;
        int ret;
        bool v;
    } cases[] = {
        { "yes", 0, true }, { "true", 0, true },   { "on", 0, true },   { "1", 0, true },
        { "no", 0, false }, { "false", 0, false }, { "off", 0, false }, { "0", 0, false },
        { "", -1, false },  { "2", -1, false },    { "yess", -1, false }, { "y", -1, false },
        { "n", -1, false }, { " yes", -1, false }, { "yes ", -1, false }, { "01", -1, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int init = 0; init < 2; init++) {
            bool v = init;
            int r = config_parse_bool(cases[i].s, &v);
            CHECK_INT(r, cases[i].ret);
            CHECK(v == (cases[i].ret == 0 ? cases[i].v : (bool)init));
        }
    }
}

static void test_validators(void)
{
    static const struct {
        const char *text;
        const char *err; /* NULL: accepted */
    } cases[] = {
        { "[server]\nhostname = mx.example.com\n", NULL },
        { "[server]\nhostname = mx.example.com.\n", NAME ":2: [server] hostname: ends with a dot" },
        { "[server]\nhostname = localhost\n", NULL },
        { "[server]\nhostname = a..b\n",
          NAME ":2: [server] hostname: empty label (two dots, or a leading dot)" },
        { "[server]\nhostname = .example.com\n",
          NAME ":2: [server] hostname: empty label (two dots, or a leading dot)" },
        { "[server]\nhostname = mx_1.example.com\n",
          NAME ":2: [server] hostname: not a host name (letters, digits, '-' and '.')" },
        { "[server]\nhostname = "
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\n", NULL },
        { "[server]\nhostname = "
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\n",
          NAME ":2: [server] hostname: a label is longer than 63 characters" },
        { "[server]\nuser = mail\n", NULL },
        { "[server]\nuser =\n", NAME ":2: [server] user: empty (name the unprivileged user to run as)" },
        { "[server]\nuser = a b\n", NAME ":2: [server] user: not a user name" },
        { "[server]\nuser = a:b\n", NAME ":2: [server] user: not a user name" },
        { "[server]\nuser = ../x/y\n", NAME ":2: [server] user: not a user name" },
        { "[server]\nlog_level = warn\n", NULL },
        { "[server]\nlog_level = error\n", NULL },
        { "[server]\nlog_level = verbose\n",
          NAME ":2: [server] log_level: must be debug, info, warn or error" },
        { "[server]\nlog_level = INFO\n",
          NAME ":2: [server] log_level: must be debug, info, warn or error" },
        { "[tls]\nmin_version = 1.3\n", NULL },
        { "[tls]\nmin_version = 1.1\n", NAME ":2: [tls] min_version: must be 1.2 or 1.3" },
        { "[tls]\nmin_version = 1.20\n", NAME ":2: [tls] min_version: must be 1.2 or 1.3" },
        { "[tls]\nextra_certs = a.pem\n", NAME ":2: [tls] extra_certs: 'a.pem' is not CERT:KEY" },
        { "[tls]\nextra_certs = :b.pem\n", NAME ":2: [tls] extra_certs: ':b.pem' is not CERT:KEY" },
        { "[tls]\nextra_certs = a.pem:b.pem a.pem:\n",
          NAME ":2: [tls] extra_certs: 'a.pem:' is not CERT:KEY" },
        { "[tls]\nextra_certs = a.pem:nokey.pem\n",
          NAME ":2: [tls] extra_certs: nokey.pem: No such file or directory" },
        { "[tls]\nextra_certs = nocert.pem:b.pem\n",
          NAME ":2: [tls] extra_certs: nocert.pem: No such file or directory" },
        { "[listen]\nsmtp = 127.0.0.1\n",
          NAME ":2: [listen] smtp: an address needs a port (examples: 127.0.0.1:25, [::1]:25, *:25)" },
        { "[listen]\nimap = 127.0.0.1:143 127.0.0.1:143\n",
          NAME ":2: [listen] imap: the same address is listed twice" },
        { "[listen]\npop3 = 127.0.0.1:0\n", NAME ":2: [listen] pop3: port out of range 1-65535" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].err) {
            expect_error(cases[i].text, cases[i].err);
        } else {
            struct config *cfg = expect_ok(cases[i].text);
            config_free(cfg);
        }
    }
}

static void test_unknown(void)
{
    expect_error("[nosuch]\nkey = 1\n", NAME ":1: unknown section [nosuch]");
    /* A section header alone is checked too, and a key before any section. */
    expect_error("[server]\nworkers = 2\n[tsl]\n", NAME ":3: unknown section [tsl]");
    expect_error("workers = 2\n[server]\n", NAME ":1: workers set before any [section]");
    expect_error("[server]\nworkerz = 4\n", NAME ":2: unknown setting [server] workerz");
    expect_error("[server]\nWorkers = 4\n", NAME ":2: unknown setting [server] Workers");
    expect_error("# comment\n\n; comment\n[tls]\n\nfoo = bar\n", NAME ":6: unknown setting [tls] foo");
    /* A setting of another section. */
    expect_error("[tls]\nworkers = 4\n", NAME ":2: unknown setting [tls] workers");
    /* A key before any section. */
    char *err = NULL;
    struct config *cfg = parse("workers = 4\n", &err);
    CHECK(cfg == NULL);
    CHECK(err != NULL && strncmp(err, NAME ":1: ", strlen(NAME ":1: ")) == 0);
    free(err);
    config_free(cfg);
    /* The name given is the one in messages. */
    err = NULL;
    cfg = config_parse_string("\n[server]\nbogus = 1\n", "/etc/outpost/outpost.conf", fixture, &err);
    CHECK(cfg == NULL);
    CHECK_STR(err, "/etc/outpost/outpost.conf:3: unknown setting [server] bogus");
    free(err);
    config_free(cfg);
}

static void test_set_twice(void)
{
    expect_error("[server]\nworkers = 2\n# x\nworkers = 3\n",
                 NAME ":4: [server] workers is set twice (first on line 2)");
    /* Even with the same value, and across repeated section headers. */
    expect_error("[server]\nworkers = 2\n[tls]\nmin_version = 1.3\n[server]\nworkers = 2\n",
                 NAME ":6: [server] workers is set twice (first on line 2)");
    expect_error("[listen]\nsmtp = 127.0.0.1:25\n  127.0.0.2:25\nsmtp = 127.0.0.3:25\n",
                 NAME ":4: [listen] smtp is set twice (first on line 2)");
}

static void test_continuation(void)
{
    struct config *cfg = expect_ok("[listen]\n"
                                   "smtp = 127.0.0.1:25\n"
                                   "  127.0.0.2:25\n"
                                   "\t[::1]:25\n"
                                   "[tls]\n"
                                   "ciphers =\n"
                                   "    A\n"
                                   "    B\n"
                                   "\n"
                                   "    C\n");
    if (cfg) {
        CHECK_STR(cfg->listen_smtp, "127.0.0.1:25 127.0.0.2:25 [::1]:25");
        CHECK_INT(cfg->line[CFG_ID_listen_smtp], 2);
        CHECK_STR(cfg->tls_ciphers, "A B C");
        CHECK_INT(cfg->line[CFG_ID_tls_ciphers], 6);
    }
    config_free(cfg);

    /* The next key after a continued list is an ordinary setting. */
    cfg = expect_ok("[tls]\nciphers = A\n  B\nmin_version = 1.3\n");
    if (cfg) {
        CHECK_STR(cfg->tls_ciphers, "A B");
        CHECK_STR(cfg->tls_min_version, "1.3");
    }
    config_free(cfg);

    /* Refused for settings that are not lists. */
    expect_error("[server]\nworkers = 4\n  5\n",
                 NAME ":3: [server] workers: only a list continues on an indented line");
    expect_error("[server]\nhostname = mx\n  .example.com\n",
                 NAME ":3: [server] hostname: only a list continues on an indented line");
    expect_error("[server]\nshutdown_timeout = 5s\n\n\t10s\n",
                 NAME ":4: [server] shutdown_timeout: only a list continues on an indented line");
    /* A continued list is validated as a whole; the message names the key's line. */
    expect_error("[listen]\nsmtp = 127.0.0.1:25\n  nonsense\n",
                 NAME ":2: [listen] smtp: an address needs a port (examples: 127.0.0.1:25, [::1]:25, *:25)");
    expect_error("[listen]\nsmtp = 127.0.0.1:25\n  127.0.0.1:25\n",
                 NAME ":2: [listen] smtp: the same address is listed twice");
}

static void test_syntax(void)
{
    expect_error("[server]\nworkers 4\n", NAME ":2: expected \"key = value\" or \"[section]\"");
    expect_error("[server\nworkers = 4\n", NAME ":1: expected \"key = value\" or \"[section]\"");
    expect_error("\n\n\n[tls]\nmin_version = 1.3\njunk\n",
                 NAME ":6: expected \"key = value\" or \"[section]\"");
    /* Line numbers count CRLF lines too. */
    expect_error("[server]\r\n\r\nworkers = 0\r\n", NAME ":3: [server] workers: 0 is out of range 1-64");

    /* A line too long for the parser. */
    char text[400];
    strcpy(text, "[tls]\nciphers = ");
    size_t len = strlen(text);
    memset(text + len, 'A', 250);
    strcpy(text + len + 250, "\n");
    expect_error(text, NAME ":2: line longer than 197 characters (continue a list on indented lines)");
    /* ... while one of 197 characters is fine. */
    strcpy(text, "[tls]\nciphers = ");
    memset(text + len, 'A', 197 - len + strlen("[tls]\n"));
    strcpy(text + 6 + 197, "\n");
    CHECK_INT(strlen(text), 6 + 197 + 1);
    struct config *cfg = expect_ok(text);
    if (cfg)
        CHECK_INT(strlen(cfg->tls_ciphers), 197 - strlen("ciphers = "));
    config_free(cfg);

    /* The first error in the file is the one reported: a syntax error on
     * line 2 comes before a bad value on line 3. */
    expect_error("[server]\nworkers 4\nworkers = 99\n",
                 NAME ":2: expected \"key = value\" or \"[section]\"");
    expect_error("[server\nworkers = 4\n", NAME ":1: expected \"key = value\" or \"[section]\"");
    /* ... and a bad value on line 2 comes before a syntax error on line 3. */
    expect_error("[server]\nworkers = 99\njunk\n", NAME ":2: [server] workers: 99 is out of range 1-64");
    /* A syntax error before an over-long line. */
    strcpy(text, "[server]\njunk\n[tls]\nciphers = ");
    len = strlen(text);
    memset(text + len, 'B', 250);
    strcpy(text + len + 250, "\n");
    expect_error(text, NAME ":2: expected \"key = value\" or \"[section]\"");
}

static void test_parse_buffer(void)
{
    /* Only len bytes are read: the second "workers" is past the end. */
    const char *text = "[server]\nworkers = 5\nworkers = 6\n";
    char *err = NULL;
    struct config *cfg = config_parse_buffer(text, strlen("[server]\nworkers = 5\n"), NAME, fixture,
                                             &err);
    CHECK(cfg != NULL);
    if (!cfg)
        fprintf(stderr, "  %s\n", err ? err : "?");
    free(err);
    if (cfg)
        CHECK_INT(cfg->server_workers, 5);
    config_free(cfg);
    /* The last line need not end in a newline (nor the buffer in a NUL). */
    char raw[] = { '[', 's', 'e', 'r', 'v', 'e', 'r', ']', '\n', 'w', 'o', 'r', 'k', 'e', 'r', 's',
                   '=', '7', 'X' };
    err = NULL;
    cfg = config_parse_buffer(raw, sizeof(raw) - 1, NAME, fixture, &err);
    CHECK(cfg != NULL);
    free(err);
    if (cfg)
        CHECK_INT(cfg->server_workers, 7);
    config_free(cfg);

    /* A NUL byte is an error on its line. */
    static const char nul[] = "[server]\n# fine\nwor\0kers = 4\n";
    err = NULL;
    cfg = config_parse_buffer(nul, sizeof(nul) - 1, NAME, fixture, &err);
    CHECK(cfg == NULL);
    CHECK_STR(err, NAME ":3: NUL byte in the file");
    free(err);
    config_free(cfg);
    static const char nul_end[] = "[server]\nworkers = 4\0";
    err = NULL;
    cfg = config_parse_buffer(nul_end, sizeof(nul_end) - 1, NAME, fixture, &err);
    CHECK(cfg == NULL);
    CHECK_STR(err, NAME ":2: NUL byte in the file");
    free(err);
    config_free(cfg);
    /* config_parse_string stops at the first NUL, like any C string:
     * line 3 is then just "wor". */
    expect_error(nul, NAME ":3: expected \"key = value\" or \"[section]\"");
}

static void test_files(void)
{
    /* The default cert is missing from an empty directory. */
    expect_error_in("", empty_dir,
                    NAME ": [tls] cert (default \"tls/cert.pem\"): tls/cert.pem: No such file or directory");
    expect_error("[tls]\ncert = missing.pem\n",
                 NAME ":2: [tls] cert: missing.pem: No such file or directory");
    expect_error("[tls]\n\nkey = nokey.pem\n", NAME ":3: [tls] key: nokey.pem: No such file or directory");
    expect_error("[tls]\ncert = adir\n", NAME ":2: [tls] cert: adir: not a regular file");
    expect_error("[tls]\ncert =\n", NAME ":2: [tls] cert: empty (name a file)");
    expect_error("[tls]\ncert = /nonexistent-outpost-dir/cert.pem\n",
                 NAME ":2: [tls] cert: /nonexistent-outpost-dir/cert.pem: No such file or directory");
    /* Relative paths are relative to dir, not to the working directory. */
    char text[512];
    snprintf(text, sizeof(text), "[tls]\ncert = %s/a.pem\nkey = %s/b.pem\n", fixture, fixture);
    char *err = NULL;
    struct config *cfg = config_parse_string(text, NAME, empty_dir, &err);
    CHECK(cfg != NULL);
    free(err);
    config_free(cfg);
    expect_error_in("[tls]\ncert = a.pem\nkey = b.pem\n", empty_dir,
                    NAME ":2: [tls] cert: a.pem: No such file or directory");
    /* dir = NULL: relative to the working directory (tests/unit has no tls/). */
    if (access("tls/cert.pem", F_OK) != 0)
        expect_error_in("", NULL,
                        NAME ": [tls] cert (default \"tls/cert.pem\"): tls/cert.pem: No such file or directory");
}

static void test_listener_clash(void)
{
    expect_error("[listen]\nsmtp = 127.0.0.1:2525\nsubmission = 127.0.0.1:2525\n",
                 NAME ":3: [listen] submission: 127.0.0.1:2525 is also used by [listen] smtp");
    expect_error("[listen]\nimaps = 10.0.0.1:1 *:25\n",
                 NAME ":2: [listen] imaps: *:25 is also the default of [listen] smtp (set it to another address, or empty)");
    expect_error("[listen]\nhttps = [::1]:8080\nhttp = [::1]:8080\n",
                 NAME ":2: [listen] https: [::1]:8080 is also used by [listen] http");
    /* A clash with a default that comes later in the table: both are named. */
    char *err = NULL;
    struct config *cfg = parse("[listen]\nsmtp = *:993\n", &err);
    CHECK(cfg == NULL);
    CHECK(err != NULL && strstr(err, "[listen] imaps") && strstr(err, "[listen] smtp") &&
          strstr(err, "*:993"));
    free(err);
    config_free(cfg);

    /* Same port on different addresses, or an emptied listener, is fine. */
    cfg = expect_ok("[listen]\nsmtp = 127.0.0.1:25\nsubmission = 127.0.0.2:25 127.0.0.1:587\n"
                    "submissions = 0.0.0.0:465\nimap =\npop3 =\n");
    if (cfg) {
        CHECK_STR(cfg->listen_imap, "");
        CHECK_STR(cfg->listen_submissions, "0.0.0.0:465");
    }
    config_free(cfg);
    /* Moving a default port elsewhere frees it for another listener. */
    cfg = expect_ok("[listen]\nsmtp = *:2525\nsubmission = *:25\n");
    config_free(cfg);
}

static char *print_defaults(bool markdown, size_t *len)
{
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    CHECK(f != NULL);
    if (!f)
        return NULL;
    config_print_defaults(f, markdown);
    fclose(f);
    return out;
}

static void test_print_defaults(void)
{
    size_t len = 0;
    char *text = print_defaults(false, &len);
    CHECK(text != NULL && len > 1000);
    if (!text)
        return;
    CHECK(strncmp(text, "[server]\n", 9) == 0);
    CHECK(strstr(text, "\nworkers = 4\n") != NULL);
    CHECK(strstr(text, "\nshutdown_timeout = 10s\n") != NULL);
    CHECK(strstr(text, "\n[tls]\n") != NULL);
    CHECK(strstr(text, "\n[listen]\n") != NULL);
    CHECK(strstr(text, "\nsmtp = *:25\n") != NULL);
    /* No line is too long for the parser. */
    size_t longest = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        cur = text[i] == '\n' ? 0 : cur + 1;
        if (cur > longest)
            longest = cur;
    }
    CHECK(longest <= 100);

    struct config *defaults = expect_ok("");
    char *err = NULL;
    struct config *back = config_parse_string(text, "defaults.conf", fixture, &err);
    CHECK(back != NULL);
    if (!back)
        fprintf(stderr, "  %s\n", err ? err : "?");
    free(err);
    if (back && defaults) {
        int differ = 0, not_set = 0;
        for (int i = 0; i < CFG_COUNT; i++) {
            if (!same_setting(back, defaults, i)) {
                fprintf(stderr, "  [%s] %s differs after printing\n", config_settings[i].section,
                        config_settings[i].key);
                differ++;
            }
            if (back->line[i] <= 0)
                not_set++;
        }
        CHECK_INT(differ, 0);
        CHECK_INT(not_set, 0); /* every setting is written out */
        /* The long list of ciphers came back through continuation lines. */
        CHECK_STR(back->tls_ciphers, config_settings[CFG_ID_tls_ciphers].def);
        CHECK_INT(back->server_workers, 4);
    }
    config_free(back);
    config_free(defaults);
    free(text);

    text = print_defaults(true, &len);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK(strncmp(text, "# outpost.conf reference\n", 25) == 0);
    CHECK(strstr(text, "\n## [server]\n") != NULL);
    CHECK(strstr(text, "\n### `workers`\n") != NULL);
    CHECK(strstr(text, "Type: integer. Default: `4`. Range: 1 to 64.") != NULL);
    CHECK(strstr(text, "Type: duration. Default: `10s`. Range: 0s to 300s.") != NULL);
    CHECK(strstr(text, "\n### `hostname`\n\nType: string. Default: empty.") != NULL);
    CHECK(strstr(text, "\n## [listen]\n") != NULL);
    CHECK(strstr(text, "\n### `https`\n") != NULL);
    free(text);
}

int main(void)
{
    setup();
    RUN(test_defaults);
    RUN(test_values);
    RUN(test_int);
    RUN(test_duration_setting);
    RUN(test_handshake_timeout);
    RUN(test_parse_duration);
    RUN(test_parse_size);
    RUN(test_parse_bool);
    RUN(test_validators);
    RUN(test_unknown);
    RUN(test_set_twice);
    RUN(test_continuation);
    RUN(test_syntax);
    RUN(test_parse_buffer);
    RUN(test_files);
    RUN(test_listener_clash);
    RUN(test_print_defaults);
    teardown();
    return TEST_DONE();
}
