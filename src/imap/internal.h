/*
 * imap/internal.h — private to src/imap: an IMAP session on a real
 * connection, and the jobs that run its mailbox commands.
 *
 * The store is blocking, so every command that touches mail runs as one job
 * on the worker pool (one job per session at a time: the engine runs one
 * command at a time). While a job runs, only the job touches the session's
 * view of its selected mailbox; the loop side only queues the store's change
 * events, which the next job (or an IDLE update job) applies. A job writes
 * its untagged responses into `out` and sets the tagged result; `done` on
 * the loop sends them (a long FETCH in batches: see `resume` below).
 */
#ifndef OUTPOST_IMAP_INTERNAL_H
#define OUTPOST_IMAP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/server.h"
#include "server/login.h"
#include "server/service.h"
#include "store/store.h"

/* The selected mailbox as this session sees it: message sequence numbers
 * are indexes into uids (MSN = index + 1). */
struct imap_view {
    bool selected;
    bool readonly;
    char *mailbox;            /* canonical name */
    uint32_t uidvalidity;
    uint32_t *uids;
    uint32_t n, cap;
    uint64_t highestmodseq;
    /* IMAP4rev1's \Recent: the UIDs in [recent_first, recent_next), as
     * store_mailbox_recent gave them at SELECT (claimed) or EXAMINE (only
     * looked at). Mail that arrives later is recent for the next session
     * that selects the mailbox, not for this one. */
    uint32_t recent_first, recent_next;
    /* SEARCHRES (RFC 5182): what SEARCH RETURN (SAVE) kept, as UIDs,
     * ascending; "$" stands for it. It goes with the view, so SELECT,
     * EXAMINE, CLOSE and UNSELECT (and a mailbox lost under the session)
     * empty it. Expunges need no bookkeeping: "$" resolves to these UIDs
     * that are still in the view, and UIDs are never reused, so a message
     * drops out exactly when the client is told it is gone. */
    uint32_t *saved;
    uint32_t nsaved;
};

/* A change from the store, queued on the loop for the next job. */
struct imap_event {
    struct imap_event *next;
    enum store_event_kind kind;
    char *mailbox;
    uint32_t uid;
    uint64_t modseq;
};

/* Queued events past this collapse into one full resync. */
#define IMAP_EVENTS_MAX 10000

struct imap_session {
    char id[16];              /* the connection's id, for logs from jobs */
    uint64_t append_limit;    /* APPENDLIMIT: [smtp] max_message_size at connection */
    uint64_t origin;          /* marks this session's changes in store events */
    int64_t counted;          /* the account counted in usercount, or 0 */
    struct conn *c;
    const struct service *svc;
    const struct service_env *env;
    struct imap_server *engine;
    struct login login;
    int refs;
    bool closed;
    bool engine_paused, output_paused;
    bool idling;
    bool job_running;
    struct store_acct *acct;  /* the pool's handle, held only while a job runs */
    struct store_watch *watch;
    struct imap_event *events, *events_tail;
    unsigned nevents;
    bool resync;              /* too many events: compare everything instead */
    bool condstore;           /* a CONDSTORE enabling command other than ENABLE ran
                                 (RFC 7162 §3.1); the engine knows only ENABLE */
    char *selected;           /* loop-side copy of the selected mailbox's name */
    const struct imap_command *pending; /* a command waiting for a job or for output */
    struct imap_job *parked;  /* a streaming command between two batches (below) */
    struct imap_view view;
};

struct imap_job {
    struct imap_session *ss;
    const struct imap_command *cmd; /* NULL: only apply pending updates (IDLE) */
    struct imap_event *events;      /* taken from the session when submitted */
    unsigned enabled;               /* IMAP_ENABLED_* at submission; a CONDSTORE
                                       enabling command adds CONDSTORE */
    bool utf8;                      /* the client takes UTF-8 (rev2 or UTF8=ACCEPT) */
    bool resync;                    /* compare the whole mailbox (events overflowed) */
    bool expunges_deferred;         /* EXPUNGE events kept for a later job */
    bool appends_done, flags_done, expunges_done;
    struct arena *arena;
    struct buf out;                 /* untagged responses */
    const char *status;             /* "OK", "NO", "BAD" */
    struct buf code;                /* response code, without brackets */
    char text[256];
    bool set_state;
    enum imap_state state;
    /* Streaming. A command whose output may be as large as the mailbox
     * (FETCH 1:* BODY.PEEK[]) works in batches: it stops once `out` holds
     * about IMAP_BATCH_BYTES and sets `resume` (what it keeps between
     * batches lives in `arena` and `resume_ctx`). done then sends the
     * batch without the tagged result and parks the job on the session
     * (ss->parked), account handle given back. When the client has read
     * enough (the session's output below OUTPUT_LOW, or at once if it never
     * went past OUTPUT_HIGH) the job goes back to the pool and runs
     * `resume` instead of the command, until a batch ends without setting
     * it. The command stays the running one all along: the engine holds
     * later input, no update job runs, and store events wait on the session
     * for the next command, so nothing is renumbered and no EXPUNGE goes
     * out in the middle. Memory per session: one batch, one message, and
     * the output queued for the client, whatever the mailbox. */
    void (*resume)(struct imap_job *j);
    void *resume_ctx;
};

/* Output after which a streaming command stops for a batch. */
#define IMAP_BATCH_BYTES (256u << 10)

/* Sets the tagged result of a job (text printf-style). */
void imap_job_result(struct imap_job *j, const char *status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A store error as the tagged NO (logged). */
void imap_job_store_error(struct imap_job *j, int r, const char *error);
/* Mailbox names: wire form <-> UTF-8 (modified UTF-7 unless j->utf8). NULL
 * when the client's name is not valid. */
char *imap_name_from_wire(struct imap_job *j, struct str name);
void imap_write_mailbox_name(struct imap_job *j, const char *utf8_name);

/* Applies queued store events to the view and writes the untagged
 * responses allowed now (`expunges`: EXPUNGE/VANISHED may be sent). */
void imap_apply_updates(struct imap_job *j, bool expunges);
/* False (and the view dropped, with an untagged OK [CLOSED]) when the
 * selected mailbox was renamed or deleted under this session. */
bool imap_view_check(struct imap_job *j);
/* Where x is in the ascending array v: its index + 1, or 0 when absent. */
uint32_t imap_u32_find(const uint32_t *v, uint32_t n, uint32_t x);
/* MSN of a UID in the view, or 0. */
uint32_t imap_view_msn(const struct imap_view *v, uint32_t uid);
/* Whether the saved search result ("$") holds a UID. */
bool imap_view_saved_has(const struct imap_view *v, uint32_t uid);
/* The UIDs a sequence set (MSNs, or UIDs with `uid`; "$" is always the
 * saved UIDs) names, among those in the view, ascending, from j->arena;
 * *n_r their count. */
uint32_t *imap_view_resolve(struct imap_job *j, const struct imap_seq_set *set, bool uid,
                            uint32_t *n_r);
void imap_view_clear(struct imap_view *v);
/* "1:3,7" from ascending numbers. */
void imap_write_set(struct buf *out, const uint32_t *v, uint32_t n);
/* "* VANISHED [(EARLIER)] 1:3,7" (RFC 7162 §3.2.10) for ascending UIDs,
 * split over several responses when long; nothing when n is 0. */
void imap_write_vanished(struct imap_job *j, bool earlier, const uint32_t *uids, uint32_t n);

/* Command bodies (run in the job). */
void imap_cmd_mailbox(struct imap_job *j);  /* SELECT ... UNSUBSCRIBE, LIST, STATUS, APPEND, ... */
void imap_cmd_fetch(struct imap_job *j);
void imap_cmd_store(struct imap_job *j);
void imap_cmd_search(struct imap_job *j);
void imap_cmd_sort(struct imap_job *j);    /* SORT (sort.c) */
void imap_cmd_thread(struct imap_job *j);  /* THREAD (sort.c, thread.c) */
void imap_cmd_quota(struct imap_job *j);   /* GETQUOTA, GETQUOTAROOT, SETQUOTA (quota.c) */

/* The UIDs of the selected mailbox's messages that a search program
 * matches, ascending, in *uids_r (malloc'd, the caller frees it; NULL when
 * none): what SORT and THREAD order. Returns STORE_OK or a store error
 * with *error_r. */
int imap_search_uids(struct imap_job *j, const struct imap_search *program, uint32_t **uids_r,
                     uint32_t *n_r, char **error_r);

/* A client's flag list to store flags and space-separated keywords
 * (appended to `keywords`); returns how many unknown \Flags it held. */
unsigned imap_flags_parse(const struct imap_strs *list, unsigned *flags, struct buf *keywords);
/* The flag list of a message: "(\Seen \Flagged $Label)". */
void imap_write_flags(struct buf *out, unsigned flags, const char *keywords);
/* Whether a message of the view is \Recent for this session: never once
 * IMAP4rev2 is enabled (RFC 9051 dropped \Recent). */
bool imap_view_recent(const struct imap_job *j, uint32_t uid);
/* A message's flag list as this session sees it: imap_write_flags, with
 * \Recent for an IMAP4rev1 client when it is recent here. */
void imap_write_message_flags(const struct imap_job *j, struct buf *out,
                              const struct store_message *m);

#endif
