#include "core/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "core/log.h"
#include "core/str.h"

#define LISTEN_BACKLOG 511

#define ACCEPT_PAUSE_MS 100

struct listener {
    struct evconnlistener *evl;
    struct event *resume;   /* re-enables accepting after a pause */
    listener_accept_fn fn;
    void *ctx;
    char name[64];
};

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *peer,
                      int peerlen, void *arg)
{
    (void)evl;
    struct listener *l = arg;
    l->fn(l->ctx, fd, peer, (socklen_t)peerlen);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct listener *l = arg;
    evconnlistener_enable(l->evl);
}

static void error_cb(struct evconnlistener *evl, void *arg)
{
    struct listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    /* Out of descriptors or memory. The pending connection keeps the socket
     * readable, so retrying at once would spin and flood the log: pause this
     * listener briefly, and let open sessions finish meanwhile. */
    log_warn("core", "accept-failed", "listener=%s error=%s pause_ms=%d", l->name,
             log_q(evutil_socket_error_to_string(err)), ACCEPT_PAUSE_MS);
    evconnlistener_disable(evl);
    struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
    evtimer_add(l->resume, &tv);
}

static int bind_socket(const struct sockaddr *addr, socklen_t len, bool v6only, int *err)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6) {
        int v = v6only ? 1 : 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
    }
    if (bind(fd, addr, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

struct listener *listener_new(struct event_base *base, const struct sockaddr *addr,
                              socklen_t len, bool wildcard, listener_accept_fn fn, void *ctx,
                              char **error_r)
{
    char name[64];
    addr_format(addr, name, sizeof(name));
    int err = 0;
    int fd = bind_socket(addr, len, !wildcard, &err);
    if (fd < 0 && wildcard && (err == EAFNOSUPPORT || err == EADDRNOTAVAIL)) {
        /* "*" on a machine without IPv6: every IPv4 address will do. */
        struct sockaddr_in any4 = { .sin_family = AF_INET,
                                    .sin_port = ((const struct sockaddr_in6 *)addr)->sin6_port,
                                    .sin_addr.s_addr = htonl(INADDR_ANY) };
        fd = bind_socket((struct sockaddr *)&any4, sizeof(any4), false, &err);
    }
    if (fd < 0) {
        *error_r = xasprintf("%s: %s", name, strerror(err));
        return NULL;
    }
    struct listener *l = xcalloc(1, sizeof(*l));
    l->fn = fn;
    l->ctx = ctx;
    memcpy(l->name, name, sizeof(name));
    l->evl = evconnlistener_new(base, accept_cb, l, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                0 /* already listening */, fd);
    if (!l->evl) {
        *error_r = xasprintf("%s: cannot watch the socket", name);
        close(fd);
        free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->evl, error_cb);
    l->resume = evtimer_new(base, resume_cb, l);
    return l;
}

void listener_free(struct listener *l)
{
    if (!l)
        return;
    evconnlistener_free(l->evl);
    event_free(l->resume);
    free(l);
}

const char *listener_name(const struct listener *l)
{
    return l->name;
}
