/*
 * smtp/runner.h — the queue runner: outbound delivery of the queue.
 *
 * It leases due recipients from the queue (store.h), delivers those of our
 * own domains into their mailboxes, groups the rest by destination domain
 * (or the smarthost), finds each destination's mail exchangers (MX, the
 * implicit MX, the null MX of RFC 7505) and their addresses through
 * core/dns, and sends over smtp/client connections: MX hosts in preference
 * order, each address in turn, several messages per connection, at most
 * [queue] max_connections_per_domain connections per destination and
 * [queue] max_connections in all.
 *
 * Each recipient's result is recorded in the queue: delivered; deferred
 * (a 4xx, a network or DNS failure: tried again after retry_min, doubling up
 * to retry_max); or failed (a 5xx, or still deferred after max_lifetime).
 * A failure brings the sender a bounce (RFC 3464), a long deferral a delay
 * notice, and NOTIFY=SUCCESS through a server without DSN a "relayed"
 * notice; never to the null sender. Reports are queued before the results
 * that caused them are recorded, so a crash in between repeats an attempt
 * rather than losing a report.
 *
 * Owns: its destinations, connections and the outcomes not yet recorded.
 * Logs one line per recipient and attempt (delivery sent|deferred|bounced).
 */
#ifndef OUTPOST_SMTP_RUNNER_H
#define OUTPOST_SMTP_RUNNER_H

#include <event2/event.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/dns.h"
#include "core/workers.h"
#include "store/store.h"

struct runner;

struct runner_env {
    struct event_base *base;
    struct workers *workers;
    struct store *store;
    struct dns *dns;
    const struct config *cfg;
};

/* Starts delivering: releases the leases a previous run left, then scans.
 * NULL with *error_r allocated (no TLS client context, an unreadable relay
 * password file). */
struct runner *runner_new(const struct runner_env *env, char **error_r);
/* A reload: new settings for the attempts that start from now on. */
int runner_set_config(struct runner *r, const struct config *cfg, char **error_r);
/* New mail is on the queue: look now rather than at the next poll. */
void runner_kick(struct runner *r);
/* Stops starting deliveries and closes the connections (their recipients
 * are released, not counted as attempts). */
void runner_shutdown(struct runner *r);
/* Nothing in flight: no scan, no connection, no unrecorded outcome. */
bool runner_idle(const struct runner *r);
void runner_free(struct runner *r);

#endif
