/*
 * A driver for smtp/mtasts_fetch.h against a real HTTPS server, run by
 * tests/integration/test_mtasts_fetch.py (which starts the server): not a
 * meson test of its own, since it needs that server.
 *
 *   smtp_test_mtasts_fetch --domain DOMAIN --port N --addr IP [--addr IP]...
 *       [--ca FILE] [--timeout-ms N] [--cancel-after-ms N]
 *
 * Prints one line — "result=NAME tlsrpt=TYPE error=TEXT" and, for a policy,
 * "mode=... max_age=... mx=a,b" — and exits 0 when the fetch behaved (its
 * callback ran exactly once, never inside mtasts_fetch_start; or, with
 * --cancel-after-ms, never after the cancel), 1 when it did not, 2 on
 * wrong usage.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/tls.h"
#include "smtp/mtasts_fetch.h"

static int calls;
static bool starting;
static bool bad;
static struct mtasts_fetch *fetch;

static void done(void *ctx, enum mtasts_fetch_result result, const struct mtasts_policy *p,
                 const char *error)
{
    struct event_base *base = ctx;
    if (starting || ++calls > 1)
        bad = true;
    if ((result == MTASTS_FETCH_OK) != (p != NULL) || (result == MTASTS_FETCH_OK) == (error != NULL))
        bad = true;
    fetch = NULL;
    printf("result=%s tlsrpt=%s error=%s", mtasts_fetch_result_name(result),
           result == MTASTS_FETCH_OK ? "-" : mtasts_fetch_result_tlsrpt(result),
           error ? error : "-");
    if (p) {
        printf(" mode=%s max_age=%u mx=", mtasts_mode_name(p->mode), (unsigned)p->max_age);
        for (int i = 0; i < p->nmx; i++)
            printf("%s%s", i ? "," : "", p->mx[i]);
        if (p->fetched_at <= 0)
            bad = true;
    }
    printf("\n");
    fflush(stdout);
    event_base_loopexit(base, NULL);
}

static void cancel_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (fetch) {
        mtasts_fetch_cancel(fetch);
        fetch = NULL;
        printf("result=cancelled\n");
        fflush(stdout);
    }
    /* A while longer, to show that nothing of the fetch is left to run. */
    struct timeval tv = { 0, 300000 };
    event_base_loopexit(arg, &tv);
}

static int usage(void)
{
    fprintf(stderr, "usage: smtp_test_mtasts_fetch --domain DOMAIN --port N --addr IP... "
                    "[--ca FILE] [--timeout-ms N] [--cancel-after-ms N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *domain = NULL, *ca = NULL;
    int port = 0, naddrs = 0;
    long long timeout_ms = 10000, cancel_ms = -1;
    struct sockaddr_storage addrs[8];
    memset(addrs, 0, sizeof(addrs));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--domain")) {
            domain = v;
        } else if (!strcmp(a, "--ca")) {
            ca = v;
        } else if (!strcmp(a, "--port")) {
            port = atoi(v);
        } else if (!strcmp(a, "--timeout-ms")) {
            timeout_ms = atoll(v);
        } else if (!strcmp(a, "--cancel-after-ms")) {
            cancel_ms = atoll(v);
        } else if (!strcmp(a, "--addr")) {
            if (naddrs == 8)
                return usage();
            struct sockaddr_storage *ss = &addrs[naddrs++];
            struct sockaddr_in *sin = (struct sockaddr_in *)ss;
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
            if (inet_pton(AF_INET, v, &sin->sin_addr) == 1)
                ss->ss_family = AF_INET;
            else if (inet_pton(AF_INET6, v, &sin6->sin6_addr) == 1)
                ss->ss_family = AF_INET6;
            else
                return usage();
        } else {
            return usage();
        }
    }
    if (!domain)
        return usage();

    struct event_base *base = event_base_new();
    SSL_CTX *ctx = NULL;
    if (ca) {
        char *err = NULL;
        ctx = tls_client_ctx_new(ca, &err);
        if (!ctx) {
            printf("result=ctx error=%s\n", err);
            free(err);
            event_base_free(base);
            return 1;
        }
    }
    starting = true;
    fetch = mtasts_fetch_start(base, ctx, domain, addrs, naddrs, port, timeout_ms, done, base);
    starting = false;
    struct event *cancel = NULL;
    if (cancel_ms >= 0) {
        cancel = evtimer_new(base, cancel_now, base);
        struct timeval tv = { (time_t)(cancel_ms / 1000), (suseconds_t)(cancel_ms % 1000) * 1000 };
        evtimer_add(cancel, &tv);
    }
    /* A fetch that never ends is a failure, not a hang of the test. */
    struct timeval limit = { (time_t)((timeout_ms + 2000) / 1000), 0 };
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    if (fetch) { /* neither finished nor cancelled within the limit */
        printf("result=hung\n");
        mtasts_fetch_cancel(fetch);
        bad = true;
    }
    if (cancel_ms < 0 && calls != 1)
        bad = true;
    if (cancel)
        event_free(cancel);
    SSL_CTX_free(ctx);
    event_base_free(base);
    return bad ? 1 : 0;
}
