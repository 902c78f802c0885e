/*
 * smtp/session.h — SMTP on a real connection: the engine (smtp/server.h)
 * joined to the socket (core/conn), the store (recipients, mailboxes, the
 * queue), the worker pool (password checks) and login throttling.
 *
 * Owns: each session, freed when its connection is gone and its last store
 * or worker job has come back.
 */
#ifndef OUTPOST_SMTP_SESSION_H
#define OUTPOST_SMTP_SESSION_H

#include "server/service.h"

/* The start function of the smtp, submission and submissions services. */
void smtp_session_start(struct conn *c, const struct service *svc, const struct service_env *env);

#endif
