/*
 * pop3/session.h — POP3 on a real connection: the engine (pop3/server.h)
 * joined to the socket, the login checks (server/login.h), the one-session
 * lock per account (server/usercount.h: a second POP3 session gets
 * "-ERR [IN-USE]"; IMAP sessions are not counted), and the store work
 * (pop3/maildrop.h) as jobs on the worker pool, one at a time: the maildrop
 * at login, each RETR or TOP read in chunks paced by what the client has
 * read, and the deletions at QUIT.
 *
 * Owns: each session, freed when its connection is gone and its last job
 * has come back.
 */
#ifndef OUTPOST_POP3_SESSION_H
#define OUTPOST_POP3_SESSION_H

#include "server/service.h"

/* The start function of the pop3 and pop3s services. */
void pop3_session_start(struct conn *c, const struct service *svc, const struct service_env *env);

#endif
