/*
 * core/listener.h — listening sockets on the event loop.
 *
 * Binds each address of a config listen list (IPv4, IPv6, or "*" for every
 * address) and hands accepted sockets to a callback. Whether the service is
 * implicit TLS is the callback's business (it wraps the socket in conn_new
 * with or without an SSL).
 *
 * Owns: the listening sockets. Logs nothing: bind errors come back as a line.
 */
#ifndef OUTPOST_CORE_LISTENER_H
#define OUTPOST_CORE_LISTENER_H

#include <event2/event.h>
#include <sys/socket.h>

#include "core/addr.h"

struct listener;

typedef void (*listener_accept_fn)(void *ctx, int fd, const struct sockaddr *peer,
                                   socklen_t peerlen);

/* Binds and listens on one address. Returns NULL with *error_r allocated
 * ("127.0.0.1:25: Address already in use"). */
struct listener *listener_new(struct event_base *base, const struct sockaddr *addr,
                              socklen_t len, bool wildcard, listener_accept_fn fn, void *ctx,
                              char **error_r);
void listener_free(struct listener *l);
/* The bound address as text ("127.0.0.1:10025", "*:25"). */
const char *listener_name(const struct listener *l);

#endif
