/*
 * store/store.h — the mail store's contract: domains, accounts, aliases and
 * how a recipient address resolves (this file grows with mailboxes and
 * messages).
 *
 * The store is the only place that knows how data is kept: today SQLite in
 * WAL mode under the data directory (data/outpost.db); nothing outside
 * src/store/ runs SQL, so a second backend (PostgreSQL, for several servers
 * sharing one store) can implement this header. Calls are synchronous and
 * short (indexed lookups); callers on the event loop keep them so, and send
 * anything heavy to the worker pool.
 *
 * Several processes may use one store at once (`outpost serve` and the CLI):
 * every change is one transaction, and a change made by one is seen by the
 * others at their next call, without a restart.
 *
 * Addresses: the domain is compared case-insensitively and internationalised
 * domains are normalised to their ASCII (A-label) form with libidn2; the local
 * part keeps its spelling for display and is compared ASCII-case-insensitively.
 *
 * Owns: its database connection. Never logs: errors come back as one line.
 */
#ifndef OUTPOST_STORE_STORE_H
#define OUTPOST_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/password.h"
#include "core/arena.h"

struct store;

enum store_error {
    STORE_OK = 0,
    STORE_ERR_INVALID = -1,   /* a malformed address or name */
    STORE_ERR_EXISTS = -2,    /* already there */
    STORE_ERR_NOT_FOUND = -3, /* not there */
    STORE_ERR_IN_USE = -4,    /* a domain that still has accounts or aliases */
    STORE_ERR_IO = -5,        /* the database failed (disk full, corrupt, ...) */
    STORE_ERR_QUOTA = -6,     /* the account's quota would be passed: try later */
    STORE_ERR_QUOTA_PERM = -7, /* the same, configured as permanent (bounce now) */
};

struct store_options {
    const char *data_dir;         /* relative to the current directory or absolute */
    const char *subaddress_separators; /* "+" by default; "" turns sub-addressing off */
    bool quota_permanent;         /* over quota: STORE_ERR_QUOTA_PERM, not STORE_ERR_QUOTA */
};

/* Opens (creating when needed) the store in data_dir. Returns STORE_OK, or an
 * error with *error_r allocated. */
int store_open(const struct store_options *opt, struct store **out, char **error_r);
void store_close(struct store *s);

/* ---- addresses ---- */

struct store_address {
    char *local;     /* as written */
    char *local_key; /* ASCII-lowercased: what comparisons use */
    char *domain;    /* lowercase A-label form */
};

/* Splits and normalises "local@domain" (the domain may be a U-label).
 * With allow_empty_local, "@domain" is accepted (a catch-all). Strings are
 * allocated from `a`. Returns STORE_OK or STORE_ERR_INVALID with a static
 * *error_r. */
int store_address_parse(struct arena *a, const char *address, bool allow_empty_local,
                        struct store_address *out, const char **error_r);
/* Normalises a domain name to its lowercase A-label form (allocated from a). */
int store_domain_normalize(struct arena *a, const char *domain, char **out, const char **error_r);

/* ---- domains ---- */

struct store_domain {
    const char *name;     /* A-label */
    const char *unicode;  /* U-label form, for display (== name when ASCII) */
    int accounts;
    int aliases;
};

int store_domain_add(struct store *s, const char *domain, char **error_r);
/* Refuses (STORE_ERR_IN_USE) while the domain has accounts or aliases. */
int store_domain_del(struct store *s, const char *domain, char **error_r);
bool store_domain_exists(struct store *s, const char *domain);
/* Calls cb for each domain in name order; a non-zero return from cb stops. */
int store_domain_list(struct store *s, int (*cb)(void *ctx, const struct store_domain *d),
                      void *ctx, char **error_r);

/* ---- accounts ---- */

struct store_account {
    int64_t id;
    const char *address;      /* local@domain as written, domain in A-label form */
    const char *display_name;
    unsigned long long quota; /* bytes; 0: no limit */
    bool disabled;
};

/* Adds an account in an existing domain. Fails with STORE_ERR_EXISTS when the
 * address is taken by an account or an alias. */
int store_account_add(struct store *s, const char *address, const char *display_name,
                      const struct auth_credentials *cred, unsigned long long quota,
                      int64_t *id_r, char **error_r);
int store_account_del(struct store *s, const char *address, char **error_r);
int store_account_set_credentials(struct store *s, const char *address,
                                  const struct auth_credentials *cred, char **error_r);
int store_account_set_disabled(struct store *s, const char *address, bool disabled,
                               char **error_r);
/* Looks an account up by address (exact, no sub-addressing); strings from a. */
int store_account_get(struct store *s, struct arena *a, const char *address,
                      struct store_account *out, char **error_r);
/* The stored credentials, for authentication. */
int store_account_credentials(struct store *s, const char *address,
                              struct auth_credentials *out, char **error_r);
/* All accounts (of one domain, or every one when domain is NULL), by address. */
int store_account_list(struct store *s, const char *domain,
                       int (*cb)(void *ctx, const struct store_account *acct), void *ctx,
                       char **error_r);

/* ---- aliases ---- */

/* Adds targets to an alias, creating it. The alias "@domain" is the domain's
 * catch-all. Targets are any addresses: accounts, other aliases, or external
 * addresses. */
int store_alias_add(struct store *s, const char *alias, const char *const *targets, int ntargets,
                    char **error_r);
/* Removes the given targets (all of them and the alias when ntargets is 0). */
int store_alias_del(struct store *s, const char *alias, const char *const *targets, int ntargets,
                    char **error_r);

struct store_alias {
    const char *alias;            /* "local@domain", or "@domain" for a catch-all */
    const char *const *targets;
    int ntargets;
};

int store_alias_list(struct store *s, const char *domain,
                     int (*cb)(void *ctx, const struct store_alias *al), void *ctx,
                     char **error_r);

/* ---- recipients ---- */

#define STORE_RESOLVE_MAX_DEPTH 10    /* aliases of aliases */
#define STORE_RESOLVE_MAX_TARGETS 1000

enum store_rcpt_status {
    STORE_RCPT_LOCAL,        /* ours: see the targets */
    STORE_RCPT_UNKNOWN_USER, /* our domain, no such address */
    STORE_RCPT_NOT_LOCAL,    /* not one of our domains */
};

struct store_target {
    int64_t account_id;       /* > 0: deliver to this account */
    const char *address;      /* the account's address, or the external address */
};

struct store_resolution {
    enum store_rcpt_status status;
    int ntargets;
    struct store_target *targets; /* deduplicated; from the arena */
    bool via_alias;
    bool via_catchall;
    bool truncated;               /* a loop or more than the limits: some were left out */
};

/* Resolves a recipient: an account; else an alias (expanded recursively,
 * loops cut); else, without the sub-address (user+tag), the same again; else
 * the domain's catch-all. Disabled accounts count as unknown. */
int store_resolve(struct store *s, struct arena *a, const char *address,
                  struct store_resolution *out, char **error_r);

/* ---- an account's mail: mailboxes and messages ----
 *
 * Each account has its own index (data/accounts/<id>/index.db) and message
 * files (data/accounts/<id>/msg/xx/<name>), so accounts never wait on each
 * other's locks. A message file is written once (temporary file, fsync,
 * rename, fsync of the directory) before its index row exists, is never
 * changed, and is shared by copies (reference counted). Every change to a
 * mailbox takes the next MODSEQ of that mailbox (RFC 7162); expunged UIDs are
 * kept with the MODSEQ of their expunge for QRESYNC.
 */

struct store_acct;

/* Opens an account's mail, creating its index with INBOX and the special-use
 * mailboxes (Sent, Drafts, Junk, Trash, Archive) the first time. */
int store_acct_open(struct store *s, int64_t account_id, struct store_acct **out, char **error_r);
void store_acct_close(struct store_acct *acct);
/* The same from the process's pool: a handle is used by one thread at a
 * time, so take one around a piece of work and give it back after (outside
 * any transaction); the pool keeps a bounded number of idle handles for a
 * short while, so a session or a delivery keeps none while it waits. */
int store_acct_take(struct store *s, int64_t account_id, struct store_acct **out, char **error_r);
void store_acct_give(struct store_acct *acct);
/* Marks the changes made through this handle until it is given back: their
 * events carry `origin`, so a session can tell its own changes (which it has
 * already reported) from others'. */
void store_acct_set_origin(struct store_acct *acct, uint64_t origin);
/* Idle handles in the pool now (for tests). */
unsigned store_acct_pool_idle(struct store *s);
/* After a crash: removes message files no index entry refers to (written
 * by an append that never committed) and stale temporary files, if older than
 * min_age seconds — younger ones may belong to an append still running in
 * another process. Reports how many went. */
int store_acct_clean_orphans(struct store_acct *acct, unsigned min_age, unsigned *removed,
                             char **error_r);
/* The account's quota in bytes (0: no limit; read when the handle was
 * opened) and what counts against it now: the bytes of its distinct
 * message files (a copy costs nothing). */
int store_acct_usage(struct store_acct *acct, unsigned long long *quota_r, uint64_t *used_r,
                     char **error_r);

#define STORE_MAILBOX_DELIM '/'
#define STORE_MAILBOX_NAME_MAX 512
#define STORE_KEYWORDS_MAX 64        /* per message */

enum store_flag {
    STORE_FLAG_SEEN = 1 << 0,
    STORE_FLAG_ANSWERED = 1 << 1,
    STORE_FLAG_FLAGGED = 1 << 2,
    STORE_FLAG_DELETED = 1 << 3,
    STORE_FLAG_DRAFT = 1 << 4,
};

struct store_mailbox {
    int64_t id;
    const char *name;          /* "INBOX", "Archive/2026" */
    const char *special_use;   /* "\\Sent" ..., or "" */
    uint32_t uidvalidity;
    uint32_t uidnext;
    uint64_t highestmodseq;
    uint32_t messages;
    uint32_t unseen;
    uint64_t size;             /* bytes of all its messages */
    bool noselect;             /* a deleted parent kept for its children */
    bool has_children;
    bool subscribed;
};

/* Every mailbox, by name (INBOX first). */
int store_mailbox_list(struct store_acct *acct, int (*cb)(void *ctx, const struct store_mailbox *m),
                       void *ctx, char **error_r);
/* One mailbox by name (INBOX in any case); strings from a. */
int store_mailbox_get(struct store_acct *acct, struct arena *a, const char *name,
                      struct store_mailbox *out, char **error_r);
/* Creates a mailbox and any missing parents (RFC 9051 §6.3.4). special_use
 * may be NULL. */
int store_mailbox_create(struct store_acct *acct, const char *name, const char *special_use,
                         char **error_r);
/* Deletes a mailbox and its messages; with children it stays as \Noselect.
 * INBOX cannot be deleted. */
int store_mailbox_delete(struct store_acct *acct, const char *name, char **error_r);
/* Renames a mailbox and its children. Renaming INBOX moves its messages to
 * the new mailbox and leaves INBOX empty (RFC 9051 §6.3.6). */
int store_mailbox_rename(struct store_acct *acct, const char *from, const char *to,
                         char **error_r);
/* Subscriptions, which may name mailboxes that do not exist. */
int store_mailbox_subscribe(struct store_acct *acct, const char *name, bool subscribe,
                            char **error_r);
/* Every subscribed name, mailbox or not, in store_mailbox_list's order
 * (INBOX first, then by name); a non-zero return from cb stops. */
int store_subscription_list(struct store_acct *acct, int (*cb)(void *ctx, const char *name),
                            void *ctx, char **error_r);
/* IMAP4rev1's \Recent: a mailbox keeps the first UID no session has been
 * told is recent. The UIDs in [*first_r, *next_r) are recent now; with
 * `claim` the caller takes them (one session only, RFC 3501 §2.3.2), so
 * they are recent for no later call; without, it only looks. A new mailbox
 * starts at 1; copies and moves arrive as recent, like new mail. */
int store_mailbox_recent(struct store_acct *acct, const char *name, bool claim,
                         uint32_t *first_r, uint32_t *next_r, char **error_r);

/* ---- messages ---- */

struct store_message {
    uint32_t uid;
    uint64_t modseq;
    unsigned flags;            /* enum store_flag */
    const char *keywords;      /* space-separated, or "" */
    int64_t internal_date;     /* seconds since the epoch */
    uint64_t size;
    const char *file;          /* file name under the account's msg/ */
    uint64_t wire_size;        /* with every line ended by CRLF (POP3's size), 0: not
                                  learnt yet (store_message_set_wire_sizes) */
};

struct store_append_req {
    const char *mailbox;
    const char *data;
    size_t len;
    unsigned flags;
    const char *keywords;      /* space-separated, or NULL */
    int64_t internal_date;     /* 0: now */
};

/* Stores a message durably (file and index on disk when it returns) and
 * gives its UID. Its text is not indexed for search yet: the file is left
 * pending (see store_acct_index_pending). Blocking: run it in a worker. */
int store_message_append(struct store_acct *acct, const struct store_append_req *req,
                         uint32_t *uid_r, char **error_r);
/* Several messages at once, all or none (IMAP MULTIAPPEND, RFC 3502):
 * every file is written first, then one transaction takes them all (one
 * refusal, such as the quota, refuses them all). uids_r gets their UIDs in
 * order. Blocking: workers. */
int store_message_append_many(struct store_acct *acct, const struct store_append_req *reqs,
                              size_t n, uint32_t *uids_r, char **error_r);

/* Lists the messages of a mailbox with UID in [uid_min, uid_max] and MODSEQ
 * above changed_since (0: all), in UID order. */
int store_message_list(struct store_acct *acct, const char *mailbox, uint32_t uid_min,
                       uint32_t uid_max, uint64_t changed_since,
                       int (*cb)(void *ctx, const struct store_message *m), void *ctx,
                       char **error_r);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* Changes flags and keywords of the messages with the given UIDs (in any
 * order, repeats ignored); the messages changed share one new MODSEQ. With
 * unchanged_since > 0, messages modified after it are left alone and
 * reported through `failed`, in UID order (CONDSTORE's UNCHANGEDSINCE). */
int store_message_set_flags(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                            size_t nuids, enum store_flag_op op, unsigned flags,
                            const char *keywords, uint64_t unchanged_since,
                            void (*failed)(void *ctx, uint32_t uid), void *ctx,
                            char **error_r);
/* Copies (or moves) messages to another mailbox without copying their
 * files; new UIDs are reported in order through `copied`. */
int store_message_copy(struct store_acct *acct, const char *from, const uint32_t *uids,
                       size_t nuids, const char *to, bool move,
                       void (*copied)(void *ctx, uint32_t old_uid, uint32_t new_uid), void *ctx,
                       char **error_r);
/* Expunges the \Deleted messages among the given UIDs (IMAP's UID
 * EXPUNGE), or every \Deleted message when uids is NULL; expunged UIDs go
 * through `expunged` in order. */
int store_message_expunge(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                          size_t nuids, void (*expunged)(void *ctx, uint32_t uid), void *ctx,
                          char **error_r);
/* Records the CRLF sizes of message files (learnt by reading them: a file
 * never changes, so neither does its size). A cache: written without an
 * fsync of its own. */
int store_message_set_wire_sizes(struct store_acct *acct, const char *const *files,
                                 const uint64_t *sizes, size_t n, char **error_r);
/* Removes the given messages whatever their flags, in one transaction
 * (POP3's UPDATE state); UIDs already gone are skipped. */
int store_message_delete(struct store_acct *acct, const char *mailbox, const uint32_t *uids,
                         size_t nuids, void (*deleted)(void *ctx, uint32_t uid), void *ctx,
                         char **error_r);
/* UIDs expunged with a MODSEQ above `since` (QRESYNC's VANISHED). */
int store_message_vanished(struct store_acct *acct, const char *mailbox, uint64_t since,
                           void (*cb)(void *ctx, uint32_t uid), void *ctx, char **error_r);
/* The MIME structure of a message file (kept at delivery; parsed again only
 * when it was not kept), allocated from a; NULL with *error_r on failure. */
struct mime_part;
struct mime_part *store_message_structure(struct store_acct *acct, struct arena *a,
                                          const char *file, char **error_r);
/* UIDs of the mailbox's messages whose decoded headers (Subject, From, To,
 * Cc) or text parts contain `text`, case-insensitively (IMAP SEARCH TEXT).
 * Indexes the account's pending files first (store_acct_index_pending, up
 * to the newest one pending when it starts), so the answer covers every
 * message; after a large backlog that takes a while (some 0.3 ms of CPU per
 * 4 KB message: 3 s for 10,000). Blocking: workers. */
int store_message_search(struct store_acct *acct, const char *mailbox, const char *text,
                         void (*cb)(void *ctx, uint32_t uid), void *ctx, char **error_r);
/* Opens a message file read-only; returns a descriptor or -1. */
int store_message_open(struct store_acct *acct, const char *file, char **error_r);

/* The full-text index is built off the append's path: an append only marks
 * its file pending. This indexes up to `max` pending files, oldest first, in
 * one transaction: it reads each file, builds its search text (decoded
 * headers and text parts, white space collapsed) outside the transaction,
 * and moves the file from pending into the index. A file that cannot be
 * read (gone, or unreadable) just stops being pending: its message is not
 * found by search. *indexed_r gets how many files it took off the pending
 * list (indexed or dropped): 0 only when none was pending, and less than
 * `max` while more remain when the texts gathered grow large (8 MiB). Safe
 * against other connections indexing or expunging at the same time.
 * Pending files survive closing and reopening. Blocking: workers. In the
 * server the store runs it itself once an account's store_append_async
 * commits have been idle for a while (store_set_index_delay), and
 * store_message_search runs it before searching. */
int store_acct_index_pending(struct store_acct *acct, unsigned max, unsigned *indexed_r,
                             char **error_r);

/* ---- the outbound queue ----
 *
 * data/queue/queue.db (SQLite, WAL, synchronous=FULL) and one message file
 * per queued message under data/queue/msg/xx/, written durably before its
 * rows exist. A message is stored once with a row per recipient, each with
 * its own state. The delivery side (the queue runner) comes with outbound
 * delivery; here mail is put on the queue and listed.
 */

struct store_queue_rcpt {
    const char *address;
    unsigned notify;          /* DSN NOTIFY bits (1 NEVER, 2 SUCCESS, 4 FAILURE, 8 DELAY) */
    const char *orcpt_type;   /* DSN ORCPT address type, or NULL */
    const char *orcpt;        /* DSN ORCPT address (decoded), or NULL */
};

struct store_queue_msg {
    const char *sender;       /* the reverse-path ("" for <>) */
    int64_t account_id;       /* the submitting account; 0 for forwarded mail */
    const char *origin;       /* "submission" or "forward" */
    const char *envid;        /* DSN ENVID (decoded), or NULL */
    int ret;                  /* DSN RET: 0 unspecified, 1 FULL, 2 HDRS */
    int body;                 /* BODY: 0 unspecified, 1 7BIT, 2 8BITMIME, 3 BINARYMIME */
    bool smtputf8;
    bool requiretls;          /* RFC 8689: deliver only over verified TLS */
    const char *data;         /* the message, CRLF line ends */
    size_t len;
    const struct store_queue_rcpt *rcpts;
    int nrcpts;
};

#define STORE_QUEUE_ID_LEN 32

/* Queues a message durably (blocking: workers). id gets its queue id. */
int store_queue_add(struct store *s, const struct store_queue_msg *m,
                    char id[STORE_QUEUE_ID_LEN + 1], char **error_r);

typedef void (*store_queue_done_fn)(void *ctx, int result, const char *id, const char *error);
/* store_queue_add in the worker pool; `done` runs on the loop once the
 * message is on disk. m and everything it points to must stay valid until
 * `done`. */
void store_queue_add_async(struct store *s, const struct store_queue_msg *m,
                           store_queue_done_fn done, void *ctx);

struct store_queue_entry {
    const char *id;
    const char *sender;
    const char *origin;
    int64_t account_id;
    int64_t created;          /* seconds since the epoch */
    uint64_t size;
    bool held;
    const char *rcpt;         /* one recipient per call: address */
    const char *state;        /* "queued", "delivered", "failed" */
    bool leased;              /* being delivered now */
    int attempts;
    int64_t next_attempt;
    const char *last_reply;   /* the last remote reply, or NULL */
};

/* Lists the queue, one call per recipient, oldest message first; only
 * message `id` when not NULL. */
int store_queue_list(struct store *s, const char *id,
                     int (*cb)(void *ctx, const struct store_queue_entry *e), void *ctx,
                     char **error_r);

/* ---- the queue runner's side ----
 *
 * The runner leases the recipients it delivers: a leased recipient is not
 * handed out again until its result is recorded. Only one server runs on a
 * data directory, so at start-up every lease is released (a crash left them
 * mid-delivery: they are tried again, at-least-once). Results are recorded
 * without an fsync of their own: a result lost to a power failure means the
 * recipient is tried again, never that mail is lost. A message leaves the
 * queue (rows and file) once no recipient of it is left queued. */

struct store_queue_job_rcpt {
    int64_t id;                /* the recipient's row */
    const char *address;
    unsigned notify;
    const char *orcpt_type, *orcpt;
    int attempts;
    bool delay_notified;
};

/* One message and those of its recipients that are due. */
struct store_queue_job {
    char id[STORE_QUEUE_ID_LEN + 1];
    const char *sender;
    const char *origin;
    int64_t account_id;
    const char *envid;
    int ret, body;
    bool smtputf8, requiretls;
    uint64_t size;
    int64_t created;
    struct store_queue_job_rcpt *rcpts;
    int nrcpts;
};

struct arena;

/* Leases the recipients due at `now` (queued, not held, not leased,
 * next_attempt <= now) of up to `max` messages, soonest first, grouped by
 * message into *jobs_r (allocated in `a`). Blocking: workers. */
int store_queue_lease(struct store *s, struct arena *a, int64_t now, int max,
                      struct store_queue_job **jobs_r, int *njobs_r, char **error_r);
/* Releases every lease (server start-up). */
int store_queue_release_leases(struct store *s, char **error_r);
/* Removes messages that have no recipient left queued, with their files
 * (server start-up: what an interrupted removal left). */
int store_queue_sweep(struct store *s, int *count_r, char **error_r);
enum store_queue_outcome {
    STORE_QUEUE_DELIVERED,
    STORE_QUEUE_DEFERRED,      /* tried again at next_attempt */
    STORE_QUEUE_FAILED,        /* given up (the bounce is the caller's) */
    STORE_QUEUE_RELEASED,      /* not attempted: lease dropped, nothing else changes */
};

struct store_queue_result {
    int64_t rcpt_id;
    enum store_queue_outcome outcome;
    int64_t next_attempt;      /* DEFERRED */
    const char *reply;         /* the remote's reply or our reason, one line; or NULL */
    bool attempted;            /* counts as an attempt */
    bool delay_notified;       /* a delay notice went out (sticky) */
};

/* Records results (one transaction), then removes each message they touched
 * that has no recipient left queued, with its file. Blocking: workers. */
int store_queue_record(struct store *s, const struct store_queue_result *res, int n,
                       char **error_r);

/* MTA-STS policies kept across restarts (RFC 8461 §5.1), as text the
 * caller makes (smtp/mtasts serializes); NULL policy forgets the domain. */
int store_queue_sts_load(struct store *s, int (*cb)(void *ctx, const char *domain,
                                                    const char *policy),
                         void *ctx, char **error_r);
int store_queue_sts_save(struct store *s, const char *domain, const char *policy,
                         char **error_r);

/* What each outbound TLS session used and how it went, counted per day,
 * domain, policy ("sts", "tlsa", "no-policy-found"), MX host and result
 * ("success" or an RFC 8460 failure type), for TLS reports. */
struct store_tls_result {
    int64_t when;
    const char *domain, *policy, *mx, *result;
};
int store_queue_tls_count(struct store *s, const struct store_tls_result *res, int n,
                          char **error_r);

/* The message file of queue entry `id` (allocated). */
char *store_queue_message_path(struct store *s, const char *id);

/* The CLI: hold/release (held messages are not delivered), retry (due
 * now), drop (removed, no bounce). id NULL: every message. *count_r gets the
 * number of messages changed. STORE_ERR_NOT_FOUND for an unknown id. */
int store_queue_set_held(struct store *s, const char *id, bool held, int *count_r,
                         char **error_r);
int store_queue_retry(struct store *s, const char *id, int *count_r, char **error_r);
int store_queue_drop(struct store *s, const char *id, int *count_r, char **error_r);

/* ---- inside the server: group commit and change notification ---- */

struct event_base;
struct workers;

/* Lets the store run appends on the worker pool, index in the background
 * and deliver change notifications on the loop. Call once, on the loop
 * thread, after store_open; store_close must then come before the event
 * base is freed (it frees its timers), and after workers_free. */
int store_attach(struct store *s, struct event_base *base, struct workers *w, char **error_r);

typedef void (*store_append_done_fn)(void *ctx, int result, uint32_t uid, const char *error);

/* Appends in the worker pool; `done` runs on the loop thread once the
 * message file and its index entry are both on disk — never before.
 * Appends to one account that arrive while its index is committing share
 * the next commit (group commit): one index fsync for all of them.
 * req and req->data must stay valid until `done`. */
void store_append_async(struct store *s, int64_t account_id, const struct store_append_req *req,
                        store_append_done_fn done, void *ctx);

/* Index commits and the appends they carried, since store_attach (their
 * ratio is the group-commit batch size; for the benchmark and the logs). */
void store_commit_stats(struct store *s, uint64_t *commits, uint64_t *appends);

/* Background indexing: once an account's commits have been idle (the last
 * one done, no append waiting) for `ms` milliseconds — 1,000 unless set;
 * every new append starts the wait again — the store indexes its pending
 * files (store_acct_index_pending) on the worker pool, 64 per job, one job
 * after another while more remain. A job takes the account's commit slot:
 * appends arriving meanwhile wait for it (one chunk at most) and are
 * committed before the next chunk, which then waits for the next idle
 * period. What is left at shutdown stays pending for the next run (or the
 * next search). For tests: call it before store_attach or on the loop
 * thread. */
void store_set_index_delay(struct store *s, unsigned ms);

enum store_event_kind {
    STORE_EVENT_APPEND,   /* a new message: uid */
    STORE_EVENT_FLAGS,    /* flags or keywords changed: uid, modseq */
    STORE_EVENT_EXPUNGE,  /* a message is gone: uid, modseq */
};

struct store_event {
    int64_t account_id;
    const char *mailbox;  /* canonical name */
    enum store_event_kind kind;
    uint32_t uid;
    uint64_t modseq;
    uint64_t origin;      /* store_acct_set_origin of the handle that made it; 0: none */
};

struct store_watch;

/* Calls cb on the loop thread for every change to the account's messages
 * made by anyone in this process (sessions, delivery), after it is durable. */
struct store_watch *store_watch_add(struct store *s, int64_t account_id,
                                    void (*cb)(void *ctx, const struct store_event *ev),
                                    void *ctx);
void store_watch_remove(struct store_watch *w);

#endif
