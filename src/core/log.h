/*
 * core/log.h — one line per event on stderr.
 *
 *   2026-11-24T10:15:02.113Z info smtp deliver session=7f3a2c from=<a@x.test> size=4211
 *
 * Fields after the event name are key=value pairs given by the caller's format.
 * Values that may contain spaces or quotes go through log_q(). Control bytes in
 * the finished line are escaped (\xNN), so a peer can never forge a log line.
 * Each line is written with one write(2), so lines from worker threads never
 * interleave. Callers never log passwords, keys or message bodies.
 *
 * Owns: the level and the output descriptor (process-wide).
 */
#ifndef OUTPOST_CORE_LOG_H
#define OUTPOST_CORE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn" or "error"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
/* Where lines go (default: 2). */
void log_set_fd(int fd);

void log_event(enum log_level level, const char *module, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(mod, ev, ...) log_event(LOG_DEBUG, mod, ev, __VA_ARGS__)
#define log_info(mod, ev, ...) log_event(LOG_INFO, mod, ev, __VA_ARGS__)
#define log_warn(mod, ev, ...) log_event(LOG_WARN, mod, ev, __VA_ARGS__)
#define log_error(mod, ev, ...) log_event(LOG_ERROR, mod, ev, __VA_ARGS__)

/* A log value: s itself when it needs no quoting, else s in double quotes
 * with " and \ escaped. The result lives in a small per-thread ring and stays
 * valid for the next 7 calls on this thread: use it within one log line. */
const char *log_q(const char *s);

#endif
