/*
 * imap/sort.h — SORT and THREAD (RFC 5256, with RFC 5957's DISPLAYFROM and
 * DISPLAYTO): the keys of a message and the algorithms, apart from the
 * store, so that the unit tests can run them on messages made by hand.
 *
 * The session job (imap_cmd_sort, imap_cmd_thread in sort.c) searches with
 * search.c, fills one struct imap_sort_msg per matching message (from the
 * MIME structure the store kept, and for THREAD=REFERENCES the References
 * field of its header), and hands the array here: sortkey.c (the keys,
 * SORT's order) and thread.c (THREAD), which know nothing of sessions.
 *
 * Keys, as RFC 5256 defines them:
 *  - the base subject (§2.1): encoded words decoded, white space collapsed,
 *    then the Re:/Fwd:/[blob]/(fwd)/[fwd: ...] artifacts removed exactly as
 *    the RFC's seven steps say; `reply` tells whether a subj-refwd, a
 *    "(fwd)" trailer or a [fwd: ...] pair was removed (REFERENCES step 5);
 *  - the sent date (§2.2): the Date field in UTC; a bad zone counts as UTC,
 *    a bad time as 00:00:00; no Date field, or one whose date does not
 *    parse, gives the INTERNALDATE;
 *  - FROM, TO, CC: the addr-mailbox of the first address, as ENVELOPE
 *    would send it (the local part; a group's name for a group);
 *  - DISPLAYFROM, DISPLAYTO (RFC 5957): the first address's display name,
 *    decoded; without one (or an empty one) its addr-spec, "local@domain";
 *    a group's decoded name.
 * Strings compare with i;ascii-casemap (RFC 4790: octets, a-z mapped to
 * A-Z), which RFC 5256 makes the default; equal keys fall back to the
 * next criterion, and at the end to the message sequence number.
 *
 * Message-IDs (REFERENCES): each "<...>" of a field is one; quotes,
 * backslashes and white space inside are dropped (RFC 5256 asks for
 * "<\"a\"@b>" and "<a@b>" to be the same), and one without '@' or with an
 * empty side is not valid. Comparisons are case-sensitive, as the RFC says.
 *
 * Cost: SORT is O(n log n) comparisons; REFERENCES is O(n) containers and
 * links, plus the loop checks, which walk up from the would-be parent and
 * run only when the would-be child already has children of its own. Every
 * walk of a tree is iterative: a thread a million replies deep costs no
 * stack.
 *
 * Owns: nothing beyond the caller's arena. Never does I/O, never logs.
 */
#ifndef OUTPOST_IMAP_SORT_H
#define OUTPOST_IMAP_SORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "imap/parse.h"

struct mime_envelope;

struct imap_sort_msg {
    uint32_t seq;            /* message sequence number: the last tie-breaker */
    uint32_t num;            /* what the answer names: the UID or the MSN */
    int64_t arrival;         /* INTERNALDATE, seconds since the epoch */
    uint64_t size;
    /* Set by imap_sort_msg_keys: */
    int64_t date;            /* sent date, seconds since the epoch (UTC) */
    struct str subject;      /* base subject, UTF-8 */
    bool reply;              /* the subject marks a reply or forward */
    struct str from, to, cc; /* addr-mailbox of the first address, or "" */
    struct str display_from, display_to;
    struct str message_id;   /* normalized; { NULL, 0 } when none is valid */
    struct str *refs;        /* References' valid IDs in order (the last
                                IMAP_THREAD_MAX_REFS), else the first valid
                                one of In-Reply-To */
    uint32_t n_refs;
};

/* References kept per message for THREAD=REFERENCES. */
#define IMAP_THREAD_MAX_REFS 64

/* Fills the keys of m (arrival must be set: it is the date's fallback) from
 * the message's envelope (NULL: a message with no header fields) and its
 * References field's value ({ NULL, 0 } when absent, or not wanted). What
 * it keeps is copied into `a`: env and references may go right after. */
void imap_sort_msg_keys(struct arena *a, struct imap_sort_msg *m,
                        const struct mime_envelope *env, struct str references);

/* The base subject of a Subject field's value (raw, maybe folded); *reply_r
 * (may be NULL) as for struct imap_sort_msg. */
struct str imap_base_subject(struct arena *a, struct str subject, bool *reply_r);

/* An RFC 5322 date-time (obsolete forms too) in seconds since the epoch,
 * UTC, as §2.2 asks; false when no date can be read from it. */
bool imap_sent_date(struct str value, int64_t *t_r);

/* The valid Message-IDs of a field's value, normalized, in order, from the
 * arena; returns their count. */
uint32_t imap_msgids(struct arena *a, struct str value, struct str **ids_r);

/* i;ascii-casemap: <0, 0, >0. */
int imap_casemap_cmp(struct str a, struct str b);

/* Orders v (pointers into the messages) by the criteria; ties by seq. */
void imap_sort(const struct imap_sort_msg **v, uint32_t n,
               const struct imap_sort_criterion *criteria, uint32_t n_criteria);

/* Appends the threads of the messages as THREAD's answer lists them
 * ("(1 2)(3 (4)(5))", nothing for no message). msgs must be in sequence
 * order: REFERENCES keeps a duplicated Message-ID for the first message. */
void imap_thread(struct arena *a, const struct imap_sort_msg *msgs, uint32_t n,
                 enum imap_thread_alg alg, struct buf *out);

#endif
