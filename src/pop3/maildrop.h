/*
 * pop3/maildrop.h — what a POP3 session needs from the store, as blocking
 * calls for the worker pool: the maildrop at login, the message files for
 * RETR and TOP, and the deletions at QUIT.
 *
 * The maildrop is INBOX as it is when the session logs in: its UIDVALIDITY
 * and, in UID order, each message's UID, file and size on the wire (what
 * RETR sends: pop3/encode.h; learnt once per file and kept by the store,
 * store_message_set_wire_sizes). Mail that
 * arrives later waits for the next session (RFC 1939 leaves the maildrop
 * fixed for a session, and message numbers must not move).
 *
 * Each call takes the account's handle from the pool and gives it back
 * before returning (store_acct_take), so a session holds none between
 * commands.
 *
 * Owns: the maildrop's arrays (pop3_maildrop_free). Never logs except a
 * message file it cannot read at login (module "pop3"); errors come back.
 */
#ifndef OUTPOST_POP3_MAILDROP_H
#define OUTPOST_POP3_MAILDROP_H

#include <stdint.h>

#include "pop3/server.h"
#include "store/store.h"

struct pop3_maildrop {
    uint32_t uidvalidity;       /* INBOX's */
    struct pop3_message *msgs;  /* UID and wire size, in UID order */
    char **files;               /* each message's file, for RETR */
    uint32_t n;
    unsigned scanned;           /* files read to learn their wire size */
};

/* Lists INBOX. A message whose file cannot be read is left out (logged
 * with `session`). Returns STORE_OK or a store error with *error_r. */
int pop3_maildrop_load(struct store *s, int64_t account_id, const char *session,
                       struct pop3_maildrop *md, char **error_r);
void pop3_maildrop_free(struct pop3_maildrop *md);

/* Opens a message file read-only: a descriptor, or -1 with *error_r (and
 * *gone set when the file is not there any more: expunged meanwhile). */
int pop3_maildrop_open(struct store *s, int64_t account_id, const char *file, bool *gone,
                       char **error_r);

/* Removes the UIDs from INBOX, if INBOX still has `uidvalidity` (else they
 * would name other messages: STORE_ERR_INVALID), in one transaction
 * (store_message_delete). *removed_r gets how many were there to remove. */
int pop3_maildrop_expunge(struct store *s, int64_t account_id, uint32_t uidvalidity,
                          const uint32_t *uids, uint32_t n, uint32_t *removed_r,
                          char **error_r);

#endif
