/*
 * server/usercount.h — how many sessions each logged-in account has, per
 * protocol, so that one account (a misconfigured client opening a
 * connection per folder, or a stolen password used from many places) cannot
 * take all of the server's connections: `[imap] max_connections_per_user`.
 *
 * Owns: one process-wide table. Loop thread only.
 */
#ifndef OUTPOST_SERVER_USERCOUNT_H
#define OUTPOST_SERVER_USERCOUNT_H

#include <stdint.h>

/* `proto` is compared by pointer: pass the module name constant ("imap"). */
unsigned usercount_get(const char *proto, int64_t account_id);
void usercount_add(const char *proto, int64_t account_id);
void usercount_remove(const char *proto, int64_t account_id);
/* Frees the table (at exit, for LeakSanitizer). */
void usercount_free(void);

#endif
