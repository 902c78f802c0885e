/* QUOTA (RFC 9208), run in session jobs (see internal.h).
 *
 * An account has one quota, so every mailbox has one quota root, "", with
 * one resource, STORAGE: the account's quota against what the store counts
 * towards it (the bytes of its distinct message files: a copy costs
 * nothing), in units of 1024 octets. No message-count limit exists, so
 * MESSAGE is not offered. The administrator sets quotas (outpost account
 * add --quota): SETQUOTA is refused, and QUOTASET not advertised. */
#include <stdlib.h>

#include "imap/internal.h"

/* `* QUOTA "" (STORAGE used limit)`. An account without a quota gets no
 * QUOTA response: a quota list holds one resource at least (RFC 9208 §5),
 * and there is no limit to report. Returns -1 after a store error (the
 * tagged NO is set). */
static int write_quota(struct imap_job *j)
{
    unsigned long long quota;
    uint64_t used;
    char *err = NULL;
    int r = store_acct_usage(j->ss->acct, &quota, &used, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        return -1;
    }
    /* Usage rounded up and the limit down: neither flatters the account. */
    if (quota)
        buf_printf(&j->out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
                   (unsigned long long)((used + 1023) / 1024), quota / 1024);
    return 0;
}

static void cmd_getquota(struct imap_job *j)
{
    if (j->cmd->u.quota_root.len != 0) {
        imap_job_result(j, "NO", "NONEXISTENT", "No such quota root (the only one is \"\")");
        return;
    }
    write_quota(j);
}

static void cmd_getquotaroot(struct imap_job *j)
{
    char *name = imap_name_from_wire(j, j->cmd->u.mailbox);
    if (!name) {
        imap_job_result(j, "NO", "CANNOT", "Invalid mailbox name");
        return;
    }
    struct store_mailbox m;
    char *err = NULL;
    int r = store_mailbox_get(j->ss->acct, j->arena, name, &m, &err);
    if (r != STORE_OK) {
        imap_job_store_error(j, r, err);
        free(err);
        return;
    }
    buf_append_cstr(&j->out, "* QUOTAROOT ");
    imap_write_mailbox_name(j, m.name);
    buf_append_cstr(&j->out, " \"\"\r\n");
    write_quota(j);
}

void imap_cmd_quota(struct imap_job *j)
{
    switch (j->cmd->cmd) {
    case IMAP_CMD_GETQUOTA:
        cmd_getquota(j);
        break;
    case IMAP_CMD_GETQUOTAROOT:
        cmd_getquotaroot(j);
        break;
    default:
        imap_job_result(j, "NO", "NOPERM", "Quotas are set by the administrator");
        break;
    }
}
