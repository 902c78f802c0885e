/*
 * imap/session.h — IMAP on a real connection: the engine (imap/server.h)
 * joined to the socket, the login checks (server/login.h), and the mailbox
 * commands, which run as jobs on the worker pool (imap/internal.h).
 *
 * Owns: each session, freed when its connection is gone and its last job
 * has come back.
 */
#ifndef OUTPOST_IMAP_SESSION_H
#define OUTPOST_IMAP_SESSION_H

#include "server/service.h"

/* The start function of the imap and imaps services. */
void imap_session_start(struct conn *c, const struct service *svc, const struct service_env *env);

/* What an authenticated client is offered. */
extern const char imap_capabilities[];

#endif
