#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "test.h"

/* Captures what one log_event call writes. */
static char captured[4096];

static void capture(enum log_level lvl, const char *mod, const char *ev, const char *value)
{
    int fds[2];
    if (pipe(fds) < 0)
        abort();
    log_set_fd(fds[1]);
    log_event(lvl, mod, ev, "value=%s", value);
    log_set_fd(2);
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof(captured) - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fds[0]);
}

static void test_line_shape(void)
{
    log_set_level(LOG_INFO);
    capture(LOG_INFO, "smtp", "deliver", "x");
    /* 2026-11-24T10:15:02.113Z info smtp deliver value=x\n */
    CHECK_INT(strlen(captured), 24 + strlen(" info smtp deliver value=x\n"));
    CHECK(captured[4] == '-' && captured[10] == 'T' && captured[19] == '.' && captured[23] == 'Z');
    CHECK_STR(captured + 24, " info smtp deliver value=x\n");
}

static void test_control_bytes_are_escaped(void)
{
    capture(LOG_WARN, "imap", "bad", "a\r\n2026-01-01T00:00:00.000Z error core forged\x7f");
    CHECK_STR(captured + 24,
              " warn imap bad value=a\\x0d\\x0a2026-01-01T00:00:00.000Z error core forged\\x7f\n");
}

static void test_level_filter(void)
{
    log_set_level(LOG_WARN);
    capture(LOG_INFO, "core", "quiet", "x");
    CHECK_STR(captured, "");
    capture(LOG_ERROR, "core", "loud", "x");
    CHECK(strstr(captured, " error core loud value=x\n") != NULL);
    log_set_level(LOG_INFO);
}

static void test_level_names(void)
{
    enum log_level l;
    CHECK_INT(log_level_parse("debug", &l), 0);
    CHECK_INT(l, LOG_DEBUG);
    CHECK_INT(log_level_parse("error", &l), 0);
    CHECK_INT(l, LOG_ERROR);
    CHECK_INT(log_level_parse("verbose", &l), -1);
    CHECK_STR(log_level_name(LOG_WARN), "warn");
}

static void test_quoting(void)
{
    CHECK_STR(log_q("plain"), "plain");
    CHECK_STR(log_q("two words"), "\"two words\"");
    CHECK_STR(log_q("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
    CHECK_STR(log_q("a=b"), "\"a=b\"");
    CHECK_STR(log_q(""), "\"\"");
    CHECK_STR(log_q(NULL), "-");
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[5] = ' ';
    big[sizeof(big) - 1] = '\0';
    const char *q = log_q(big);
    CHECK(strlen(q) < 512);
    CHECK(strstr(q, "...\"") != NULL);
    /* Eight values can be used in one line. */
    const char *v[8];
    char in[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(in[i], sizeof(in[i]), "v %d", i);
        v[i] = log_q(in[i]);
    }
    CHECK_STR(v[0], "\"v 0\"");
    CHECK_STR(v[7], "\"v 7\"");
}

int main(void)
{
    RUN(test_line_shape);
    RUN(test_control_bytes_are_escaped);
    RUN(test_level_filter);
    RUN(test_level_names);
    RUN(test_quoting);
    return TEST_DONE();
}
