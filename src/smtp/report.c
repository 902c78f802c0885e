/* Delivery reports owed to senders (see report.h). */
#include "smtp/report.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"
#include "smtp/bounce.h"

/* The original message is read up to this much: the report quotes its
 * header, or the whole message when small (bounce.h decides). */
#define ORIGINAL_MAX (1u << 20)

void report_outcomes_free(struct report_outcome *out, int n)
{
    for (int i = 0; i < n; i++) {
        struct report_outcome *o = &out[i];
        free(o->reply);
        free(o->remote);
        free(o->address);
        free(o->orcpt_type);
        free(o->orcpt);
        free(o->msg_id);
        free(o->sender);
        free(o->envid);
    }
    free(out);
}

/* Up to ORIGINAL_MAX bytes of queued message `id` (allocated; *len_r its
 * length, *whole_r whether that is all of it). NULL when unreadable. */
static char *read_original(struct store *s, const char *id, size_t *len_r, bool *whole_r)
{
    char *path = store_queue_message_path(s, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return NULL;
    }
    size_t want = (size_t)st.st_size < ORIGINAL_MAX ? (size_t)st.st_size : ORIGINAL_MAX;
    char *p = xmalloc(want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, p + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    p[got] = '\0';
    *len_r = got;
    *whole_r = got == (size_t)st.st_size;
    return p;
}

enum kind { K_FAILED, K_DELAYED, K_SUCCESS };

static int count_row(void *ctx, const struct store_queue_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

static bool wants(const struct report_outcome *o, enum kind k)
{
    return k == K_FAILED ? o->bounce : k == K_DELAYED ? o->delay_notice : o->success_notice;
}

/* Whole messages up to this size come back in a failure report; larger
 * ones come back as their header only (as Postfix's bounce_size_limit). */
#define REPORT_FULL_MAX 50000

/* One report: message `msg_id`, kind `k`, the outcomes in `idx`. */
static int send_one(const struct report_env *env, const struct report_outcome *out,
                    const int *idx, int nidx, enum kind k, char **error_r)
{
    const struct report_outcome *first = &out[idx[0]];
    size_t olen = 0;
    bool whole = false;
    char *orig = read_original(env->store, first->msg_id, &olen, &whole);
    struct str original = { orig ? orig : "", orig ? olen : 0 };
    if (!orig) {
        /* Dropped from the queue meanwhile (`outpost queue drop`): no
         * report about a message its administrator took away. A file that
         * is merely unreadable still gets its report, without the copy. */
        int rows = 0;
        char *err = NULL;
        if (store_queue_list(env->store, first->msg_id, count_row, &rows, &err) != STORE_OK) {
            *error_r = err;
            return STORE_ERR_IO;
        }
        if (rows == 0) {
            log_info("delivery", "report-skipped", "for=%s reason=%s", first->msg_id,
                     log_q("the message is no longer in the queue"));
            return STORE_OK;
        }
    }
    if (smtp_bounce_is_report(first->sender, original)) {
        /* A report about a report would start a loop between two servers. */
        log_info("delivery", "report-skipped", "for=%s reason=%s", first->msg_id,
                 log_q("the message is itself a delivery report"));
        free(orig);
        return STORE_OK;
    }
    struct smtp_bounce_rcpt *rc = xcalloc((size_t)nidx, sizeof(*rc));
    for (int i = 0; i < nidx; i++) {
        const struct report_outcome *o = &out[idx[i]];
        rc[i] = (struct smtp_bounce_rcpt){
            .address = o->address,
            .orcpt_type = o->orcpt_type,
            .orcpt = o->orcpt,
            .action = k == K_FAILED ? SMTP_BOUNCE_FAILED
                    : k == K_DELAYED ? SMTP_BOUNCE_DELAYED
                    : o->remote && !strcmp(o->remote, "local") ? SMTP_BOUNCE_DELIVERED
                                                              : SMTP_BOUNCE_RELAYED,
            .code = o->code,
            .status = o->enhanced[0] ? o->enhanced : NULL,
            .text = o->reply,
            .remote_mta = o->remote && strcmp(o->remote, "local") ? o->remote : NULL,
            .last_attempt = time(NULL),
            .will_retry_until = (time_t)o->retry_until,
        };
    }
    char uniq[80];
    snprintf(uniq, sizeof(uniq), "%s.%lld.%d", first->msg_id, (long long)first->rcpt_id, (int)k);
    struct smtp_bounce b = {
        .kind = k == K_FAILED ? SMTP_BOUNCE_FAILURE
              : k == K_DELAYED ? SMTP_BOUNCE_DELAY : SMTP_BOUNCE_SUCCESS,
        .hostname = env->hostname,
        .to = first->sender,
        .unique = uniq,
        .date = time(NULL),
        .envid = first->envid,
        .arrival = (time_t)first->created,
        .ret = (enum smtp_bounce_ret)first->ret,
        .full_max = whole ? REPORT_FULL_MAX : 0,
        .smtputf8 = first->smtputf8,
        .message = original,
        .rcpts = rc,
        .n_rcpts = (size_t)nidx,
    };
    struct buf msg;
    buf_init(&msg, 0);
    const char *why = NULL;
    int r;
    if (smtp_bounce_compose(&b, &msg, &why) < 0) {
        *error_r = xasprintf("cannot compose a delivery report: %s", why ? why : "?");
        r = STORE_ERR_INVALID;
    } else {
        struct store_queue_rcpt to = { .address = first->sender, .notify = 1 /* NEVER */ };
        struct store_queue_msg qm = {
            .sender = "",
            .origin = k == K_FAILED ? "bounce" : k == K_DELAYED ? "delay-notice" : "success-notice",
            .data = msg.p,
            .len = msg.len,
            .rcpts = &to,
            .nrcpts = 1,
            .smtputf8 = first->smtputf8,
        };
        char id[STORE_QUEUE_ID_LEN + 1];
        r = store_queue_add(env->store, &qm, id, error_r);
        if (r == STORE_OK)
            log_info("delivery", "report", "id=%s kind=%s for=%s to=%s rcpts=%d", id, qm.origin,
                     first->msg_id, log_q(first->sender), nidx);
    }
    buf_free(&msg);
    free(rc);
    free(orig);
    return r;
}

int report_send_all(const struct report_env *env, const struct report_outcome *out, int n,
                     char **error_r)
{
    bool *done = xcalloc((size_t)n + 1, sizeof(*done));
    int *idx = xcalloc((size_t)n + 1, sizeof(*idx));
    int r = STORE_OK;
    for (int k = K_FAILED; k <= K_SUCCESS && r == STORE_OK; k++) {
        memset(done, 0, sizeof(*done) * (size_t)n);
        for (int i = 0; i < n && r == STORE_OK; i++) {
            if (done[i] || !wants(&out[i], (enum kind)k))
                continue;
            /* Never a report to the null sender (a report about a report). */
            if (!out[i].sender[0])
                continue;
            int nidx = 0;
            for (int j = i; j < n; j++)
                if (!done[j] && wants(&out[j], (enum kind)k) &&
                    !strcmp(out[j].msg_id, out[i].msg_id)) {
                    done[j] = true;
                    idx[nidx++] = j;
                }
            r = send_one(env, out, idx, nidx, (enum kind)k, error_r);
        }
    }
    free(done);
    free(idx);
    return r;
}
