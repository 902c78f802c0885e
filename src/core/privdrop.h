/*
 * core/privdrop.h — giving up root after start-up.
 *
 * `outpost serve` started as root binds its ports and reads its TLS keys,
 * then becomes the config's `[server] user` for good (groups, gid, uid; a
 * later setuid(0) must fail). Started as anyone else, nothing changes.
 *
 * Owns: nothing. Never logs: errors come back as one line.
 */
#ifndef OUTPOST_CORE_PRIVDROP_H
#define OUTPOST_CORE_PRIVDROP_H

#include "core/config.h"

/* Returns 1 when privileges were dropped, 0 when not running as root, or -1
 * with *error_r allocated ("FILE:LINE: [server] user: no such user 'x'"). */
int privdrop(const struct config *cfg, char **error_r);
/* The same for a user named directly; `where` prefixes error messages. */
int privdrop_to_user(const char *user, const char *where, char **error_r);

/* The uid and gid privdrop would switch to, for files made before the drop
 * (quickstart's data directory). Returns 0, or -1 when the user is unknown. */
int privdrop_lookup(const char *user, unsigned *uid, unsigned *gid);

#endif
