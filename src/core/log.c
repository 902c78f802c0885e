#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/str.h"

static atomic_int log_level = LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

void log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

static void append_escaped(struct buf *out, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) {
            char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
            buf_append(out, esc, 4);
        } else {
            buf_append_char(out, (char)c);
        }
    }
}

void log_event(enum log_level level, const char *module, const char *event, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);

    struct buf fields;
    buf_init(&fields, 0);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&fields, fmt, ap);
    va_end(ap);

    struct buf line;
    buf_init(&line, 0);
    buf_printf(&line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000000, log_level_name(level), module, event);
    if (fields.len) {
        buf_append_char(&line, ' ');
        append_escaped(&line, fields.p, fields.len);
    }
    buf_append_char(&line, '\n');

    int saved = errno;
    const char *p = line.p;
    size_t left = line.len;
    int fd = atomic_load(&log_fd);
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    errno = saved;
    buf_free(&line);
    buf_free(&fields);
}

#define LOG_Q_RING 8
#define LOG_Q_SIZE 512

const char *log_q(const char *s)
{
    /* Fixed per-thread slots: no allocation, nothing to free at thread exit.
     * A value too long for a slot is cut and marked with "...". */
    static _Thread_local char ring[LOG_Q_RING][LOG_Q_SIZE];
    static _Thread_local unsigned next;

    if (!s)
        return "-";
    bool plain = *s != '\0';
    for (const char *c = s; *c; c++)
        if (*c == ' ' || *c == '"' || *c == '\\' || *c == '=' || (unsigned char)*c < 0x20)
            plain = false;
    if (plain)
        return s;

    char *out = ring[next++ % LOG_Q_RING];
    size_t n = 0;
    out[n++] = '"';
    for (const char *c = s; *c; c++) {
        if (n + 6 >= LOG_Q_SIZE) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        if (*c == '"' || *c == '\\')
            out[n++] = '\\';
        out[n++] = *c;
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}
