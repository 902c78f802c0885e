/*
 * smtp/report.h — what the queue runner learnt of each recipient, and the
 * delivery reports (bounces, delay and success notices) it owes senders.
 *
 * The runner collects outcomes on the loop; a worker then queues the
 * reports they call for (report_send_all) and records the outcomes in the
 * queue. One report per message and kind covers all of that message's
 * recipients in the batch. Reports go through the queue like any mail (the
 * runner delivers them, into a local mailbox or to a remote server), from
 * the null sender, so that a report is never answered by another report.
 *
 * Owns: nothing beyond the outcomes' strings. Blocking (reads the original
 * message, writes to the queue): workers only.
 */
#ifndef OUTPOST_SMTP_REPORT_H
#define OUTPOST_SMTP_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct report_outcome {
    int64_t rcpt_id;
    enum store_queue_outcome kind;
    int64_t next_attempt;
    bool attempted;
    int attempts;             /* counting this one */
    int code;                 /* the deciding reply (0: none, a network failure) */
    char enhanced[16];
    char *reply;              /* one line, or NULL */
    char *remote;             /* "mx.example.org[192.0.2.1:25]", "local", or NULL */
    char *address;
    char *orcpt_type, *orcpt;
    unsigned notify;
    /* The message. */
    char *msg_id;
    char *sender;
    char *envid;
    int ret;
    bool smtputf8;
    int64_t created;
    /* The reports it calls for. */
    bool bounce;              /* failed: tell the sender */
    bool expired;             /* failed because max_lifetime passed */
    bool delay_notice;        /* still deferred after delay_warning */
    int64_t retry_until;      /* for the delay notice */
    bool success_notice;      /* NOTIFY=SUCCESS and the remote did not take DSN */
};

struct report_env {
    struct store *store;
    const char *hostname;     /* the Reporting-MTA and MAILER-DAEMON@ domain */
};

/* Queues every report the outcomes call for. Returns STORE_OK, or an error
 * (then nothing of the batch may be recorded: the attempt is repeated). */
int report_send_all(const struct report_env *env, const struct report_outcome *out, int n,
                     char **error_r);

void report_outcomes_free(struct report_outcome *out, int n);

#endif
