/*
 * auth/throttle.h — brute-force protection for logins, shared by SMTP, IMAP
 * and POP3.
 *
 * Counts failed logins per client address (IPv4 address; IPv6 /64) and per
 * user name within a sliding window. An address past its limit is refused
 * for a while (the protocols answer 454 4.7.0, NO [UNAVAILABLE], -ERR
 * [SYS/TEMP]); a user name past its limit makes every further failure on it
 * wait the longest delay, but does not lock the user out (that would hand an
 * attacker a way to deny service to anyone). A success clears the address's
 * count and the user's.
 *
 * The window: an entry counts failures from its first one; a failure more
 * than window_secs after that first one starts a new count. The failure that
 * brings an address to ip_max_failures blocks it for block_secs from then
 * (failures during the block do not lengthen it; one after the block, still
 * in the window, blocks again). User names are compared ASCII
 * case-insensitively; an IPv4-mapped IPv6 address counts as its IPv4 address.
 * A limit of 0 disables it (no blocks, or no longer delay).
 *
 * Memory is bounded: at most `max_entries` addresses and as many user names
 * (0 counts as 1); past that the stalest entries (least recently failed) are
 * forgotten, blocked or not. A peer that is neither IPv4 nor IPv6, or NULL,
 * is never blocked.
 *
 * Owns: its tables. Not thread-safe (the loop thread uses it). Time is passed
 * in (seconds, a clock that does not go back: the loop's monotonic time) so
 * tests control it. Never does I/O, never logs.
 */
#ifndef OUTPOST_AUTH_THROTTLE_H
#define OUTPOST_AUTH_THROTTLE_H

#include <stdint.h>
#include <sys/socket.h>

struct auth_throttle_config {
    unsigned ip_max_failures;       /* failures per address in the window before a block */
    unsigned user_max_failures;     /* failures per user name in the window */
    unsigned window_secs;           /* how long a failure counts */
    unsigned block_secs;            /* how long a blocked address stays blocked */
    unsigned failure_delay_ms;      /* delay before answering a failure */
    unsigned max_delay_ms;          /* delay once the user name is past its limit */
    unsigned max_entries;           /* per table */
};

struct auth_throttle;

struct auth_throttle *auth_throttle_new(const struct auth_throttle_config *cfg);
void auth_throttle_free(struct auth_throttle *t);
/* Takes new limits (SIGHUP); counts are kept (the stalest are forgotten if
 * max_entries shrank), and no block in progress lasts longer than the new
 * block_secs. */
void auth_throttle_configure(struct auth_throttle *t, const struct auth_throttle_config *cfg);

/* Seconds the address stays blocked from now, or 0 when it may try. */
unsigned auth_throttle_blocked(struct auth_throttle *t, const struct sockaddr *peer, int64_t now);

/* Records a failure (user may be NULL when the client never named one) and
 * returns the delay in milliseconds before the failure is answered. */
unsigned auth_throttle_failure(struct auth_throttle *t, const struct sockaddr *peer,
                               const char *user, int64_t now);

/* Records a success: the address's and the user's failures are forgotten. */
void auth_throttle_success(struct auth_throttle *t, const struct sockaddr *peer, const char *user,
                           int64_t now);

#endif
