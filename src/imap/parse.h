/*
 * imap/parse.h — parsing IMAP commands: IMAP4rev2 (RFC 9051) and IMAP4rev1
 * (RFC 3501), with LITERAL+/LITERAL- (RFC 7888), UIDPLUS (RFC 4315), MOVE
 * (RFC 6851), CONDSTORE/QRESYNC (RFC 7162), ESEARCH (RFC 4731) and SEARCHRES
 * (RFC 5182), SORT/THREAD (RFC 5256, DISPLAYFROM/DISPLAYTO of RFC 5957),
 * LIST-EXTENDED (RFC 5258) with LIST-STATUS (RFC 5819) and SPECIAL-USE
 * (RFC 6154), QUOTA (RFC 9208), MULTIAPPEND (RFC 3502), BINARY (RFC 3516),
 * ENABLE (RFC 5161), ID (RFC 2971), UNSELECT, IDLE, NAMESPACE, COMPRESS
 * (RFC 4978), SASL-IR (RFC 4959), WITHIN (RFC 5032), NOTIFY (RFC 5465) and
 * UTF8=ACCEPT's APPEND data (RFC 6855).
 *
 * The model. The engine assembles one complete command: the bytes of its
 * first line and, for each literal announced at the end of a line ("{n}",
 * "{n+}", "~{n}", "~{n+}"), the CRLF after the announcement, exactly n bytes
 * of literal data, and what follows them, up to (excluding) the CRLF that
 * ends the command. While assembling it asks imap_literal_at_end about each
 * line (without its CRLF); it may answer "TAG BAD" before reading a literal,
 * taking the tag from imap_parse_tag. The whole buffer then goes to
 * imap_parse_command, which parses it in place: literal bytes may be
 * anything (NUL, CR, LF), and the parser never looks for a line end inside
 * them.
 *
 * LITERAL+ and LITERAL- use the same syntax, "{n+}" (RFC 7888 has no
 * "{n-}"): a server offering LITERAL- must refuse a non-synchronizing
 * literal over IMAP_LITERAL_MINUS_MAX bytes (tagged BAD). Which one the
 * server offers is the engine's choice; the helper only reports what the
 * client wrote.
 *
 * What the parser does not do: it does not know the session's state (which
 * commands are allowed now), the enabled extensions (whether a QRESYNC
 * parameter is allowed without ENABLE QRESYNC), or the mailbox (what "*" or
 * "$" stand for). Mailbox names are the raw bytes after astring/quoted/
 * literal decoding; modified UTF-7 (RFC 3501) is the engine's business
 * (imap/mutf7), and so is checking UTF-8 where it matters.
 *
 * Strings. Every string is a struct str allocated from the caller's arena
 * and NUL-terminated after its bytes (so a string from a literal holding a
 * NUL is binary-safe through len, and usable as a C string otherwise),
 * except APPEND message data, which points into the command buffer. NIL,
 * where the grammar allows it, is { NULL, 0 }. A mailbox name that is
 * "INBOX" in any case is given as "INBOX".
 *
 * Errors. imap_parse_command returns -1 with a short static reason for
 * "TAG BAD reason" ("Unknown command", "Missing mailbox name", "Invalid
 * sequence set", "Unexpected characters after the command", ...). A command
 * that parsed but has trailing bytes is an error. The arena's cap is
 * respected: an allocation that fails gives IMAP_PARSE_NOMEM, never a crash.
 * Caps on counts (below) give "Too many ..." reasons.
 *
 * Tolerance, where real clients are sloppy and the grammar allows it: a tag
 * is any ASTRING-CHAR except '+'; command names, keywords, months, flags'
 * system names and fetch items are case-insensitive; a LIST pattern is a
 * list-mailbox (atoms with '%', '*' and ']'); quoted strings take \\ and \"
 * (and any byte >= 0x80, for UTF-8); a SEARCH date may be quoted; the day of
 * an APPEND date-time may be " 1", "01" or "1".
 *
 * Owns: nothing beyond the caller's arena. Never does I/O, never logs.
 * Used by: the IMAP engine (imap/server.c), the unit tests, fuzz_imap_parse.
 */
#ifndef OUTPOST_IMAP_PARSE_H
#define OUTPOST_IMAP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"

/* ---- Limits ---- */

#define IMAP_TAG_MAX 64              /* bytes of a tag */
#define IMAP_LITERAL_MINUS_MAX 4096  /* largest {n+} a LITERAL- server takes */
#define IMAP_LITERAL_MAX INT64_MAX   /* largest n in an announcement (number64) */
#define IMAP_MAX_SEQ_RANGES 100000   /* ranges in one sequence set */
#define IMAP_MAX_SEARCH_DEPTH 64     /* nested "(", NOT, OR in a search program */
#define IMAP_MAX_SEARCH_KEYS 1000    /* search keys in one program, all levels */
#define IMAP_MAX_FETCH_ATTS 100      /* fetch items after macro expansion */
#define IMAP_MAX_SECTION_PARTS 32    /* part numbers in a section ("1.2.3" is 3) */
#define IMAP_MAX_HEADER_FIELDS 100   /* names in HEADER.FIELDS (...) */
#define IMAP_MAX_FLAGS 100           /* flags in one list */
#define IMAP_MAX_PATTERNS 100        /* LIST patterns */
#define IMAP_MAX_LIST_ITEMS 100      /* ENABLE capabilities, USE flags, SETQUOTA
                                        resources, NOTIFY groups and their mailboxes */
#define IMAP_MAX_APPEND_MESSAGES 1000 /* messages in one (MULTI)APPEND */
#define IMAP_MAX_ID_PAIRS 30         /* RFC 2971 §3.3 */
#define IMAP_MAX_SORT_KEYS 32        /* sort criteria */

/* The reason given when the arena's cap is reached. */
#define IMAP_PARSE_NOMEM "Command too large"

/* ---- Sequence sets ---- */

/* "*" (the largest number in use); 0 is never a valid number, so it marks it. */
#define IMAP_SEQ_STAR 0u

/* One element of a sequence set, as written: "5" is {5, 5}, "5:2" is
 * {5, 2} (the same messages as 2:5), "*" is {STAR, STAR}, "3:*" is
 * {3, STAR}. Numbers are 1..4294967295. */
struct imap_seq_range {
    uint32_t first, last;
};

/* A sequence set (or UID set). `dollar` is "$", the saved search result of
 * SEARCHRES (RFC 5182), which the set includes besides its ranges ("$" alone
 * gives n == 0 and dollar). A parsed set is never empty. */
struct imap_seq_set {
    bool dollar;
    uint32_t n;
    struct imap_seq_range *r;
};

/* Whether `num` is in the set's ranges, with `star` the value of "*" (the
 * highest message number or UID; 0 for an empty mailbox, when "*" matches
 * nothing). Ignores `dollar`. */
bool imap_seq_set_contains(const struct imap_seq_set *s, uint32_t num, uint32_t star);

/* ---- Lists of strings ---- */

struct imap_strs {
    uint32_t n;
    struct str *v;
};

/* ---- Dates ---- */

/* A date ("d-Mon-yyyy", SEARCH BEFORE/ON/SINCE/SENT*): checked against the
 * calendar (leap years; year 1..9999). `days` counts days since 1970-01-01
 * (negative before). */
struct imap_date {
    int year, month, day; /* month 1..12 */
    int32_t days;
};

/* An RFC 9051 date-time ("dd-Mon-yyyy hh:mm:ss +zzzz", APPEND). */
struct imap_datetime {
    int64_t time;  /* seconds since the epoch, UTC */
    int zone;      /* the zone as written, in minutes east of UTC (-0700: -420) */
};

/* ---- Search programs ---- */

enum imap_search_key {
    IMAP_SK_AND = 0,  /* u.sub: a list of keys, all must match (the program's
                         root, and every parenthesized list) */
    IMAP_SK_OR,       /* u.sub and u.sub->next */
    IMAP_SK_NOT,      /* u.sub */
    IMAP_SK_ALL,
    /* flags */
    IMAP_SK_ANSWERED, IMAP_SK_DELETED, IMAP_SK_DRAFT, IMAP_SK_FLAGGED, IMAP_SK_SEEN,
    IMAP_SK_UNANSWERED, IMAP_SK_UNDELETED, IMAP_SK_UNDRAFT, IMAP_SK_UNFLAGGED,
    IMAP_SK_UNSEEN,
    IMAP_SK_NEW, IMAP_SK_OLD, IMAP_SK_RECENT, /* RFC 3501 only */
    IMAP_SK_KEYWORD, IMAP_SK_UNKEYWORD,       /* u.str: the keyword */
    /* strings: u.str */
    IMAP_SK_BCC, IMAP_SK_BODY, IMAP_SK_CC, IMAP_SK_FROM, IMAP_SK_SUBJECT, IMAP_SK_TEXT,
    IMAP_SK_TO,
    IMAP_SK_HEADER,   /* u.header */
    /* dates: u.date */
    IMAP_SK_BEFORE, IMAP_SK_ON, IMAP_SK_SINCE, IMAP_SK_SENTBEFORE, IMAP_SK_SENTON,
    IMAP_SK_SENTSINCE,
    /* numbers: u.number */
    IMAP_SK_LARGER, IMAP_SK_SMALLER, /* octets */
    IMAP_SK_OLDER, IMAP_SK_YOUNGER,  /* seconds (RFC 5032) */
    /* sets: u.set */
    IMAP_SK_SEQSET, IMAP_SK_UID,
    IMAP_SK_MODSEQ,   /* u.modseq (RFC 7162) */
};

/* MODSEQ's entry type (RFC 7162 §3.1.5). */
enum imap_entry_type { IMAP_ENTRY_ALL = 0, IMAP_ENTRY_PRIV, IMAP_ENTRY_SHARED };

struct imap_search {
    enum imap_search_key key;
    struct imap_search *next;  /* the next key in the same AND or OR list */
    union {
        struct imap_search *sub;
        struct str str;
        struct {
            struct str field, value;
        } header;
        struct imap_date date;
        uint64_t number;
        struct imap_seq_set set;
        struct {
            struct str entry;  /* "/flags/\\Seen" decoded; { NULL, 0 } when absent */
            enum imap_entry_type type;
            uint64_t modseq;
        } modseq;
    } u;
};

/* ---- FETCH ---- */

enum imap_fetch_kind {
    IMAP_FETCH_ENVELOPE = 0,
    IMAP_FETCH_FLAGS,
    IMAP_FETCH_INTERNALDATE,
    IMAP_FETCH_RFC822,          /* RFC 3501 */
    IMAP_FETCH_RFC822_HEADER,   /* RFC 3501 */
    IMAP_FETCH_RFC822_SIZE,
    IMAP_FETCH_RFC822_TEXT,     /* RFC 3501 */
    IMAP_FETCH_BODY,            /* "BODY" alone: the non-extensible structure */
    IMAP_FETCH_BODYSTRUCTURE,
    IMAP_FETCH_BODY_SECTION,    /* BODY[section]<partial>, BODY.PEEK[...] */
    IMAP_FETCH_BINARY,          /* BINARY[part]<partial>, BINARY.PEEK[...] */
    IMAP_FETCH_BINARY_SIZE,     /* BINARY.SIZE[part] */
    IMAP_FETCH_UID,
    IMAP_FETCH_MODSEQ,          /* RFC 7162 */
};

enum imap_section_text {
    IMAP_SECTION_NONE = 0,      /* the part numbers alone, or "[]" */
    IMAP_SECTION_HEADER,
    IMAP_SECTION_HEADER_FIELDS,
    IMAP_SECTION_HEADER_FIELDS_NOT,
    IMAP_SECTION_TEXT,
    IMAP_SECTION_MIME,          /* only after part numbers */
};

struct imap_fetch_att {
    enum imap_fetch_kind kind;
    bool peek;                  /* BODY.PEEK / BINARY.PEEK */
    /* BODY_SECTION, BINARY, BINARY_SIZE: */
    uint32_t n_parts;           /* 0..IMAP_MAX_SECTION_PARTS */
    uint32_t parts[IMAP_MAX_SECTION_PARTS];
    enum imap_section_text text; /* always NONE for BINARY and BINARY_SIZE */
    struct imap_strs fields;    /* HEADER.FIELDS[.NOT] names, as sent */
    struct str section;         /* the bytes between '[' and ']' as sent (points
                                   into the command), to echo in the answer */
    bool partial;               /* <offset.count>: BODY_SECTION and BINARY */
    uint64_t offset, count;     /* count >= 1 */
};

/* ---- Per-command arguments ---- */

enum imap_cmd {
    IMAP_CMD_UNKNOWN = 0,
    /* any state */
    IMAP_CMD_CAPABILITY, IMAP_CMD_NOOP, IMAP_CMD_LOGOUT, IMAP_CMD_ID,
    /* not authenticated */
    IMAP_CMD_STARTTLS, IMAP_CMD_AUTHENTICATE, IMAP_CMD_LOGIN,
    /* authenticated */
    IMAP_CMD_ENABLE, IMAP_CMD_SELECT, IMAP_CMD_EXAMINE, IMAP_CMD_CREATE, IMAP_CMD_DELETE,
    IMAP_CMD_RENAME, IMAP_CMD_SUBSCRIBE, IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_LIST, IMAP_CMD_LSUB,
    IMAP_CMD_NAMESPACE, IMAP_CMD_STATUS, IMAP_CMD_APPEND, IMAP_CMD_IDLE, IMAP_CMD_GETQUOTA,
    IMAP_CMD_GETQUOTAROOT, IMAP_CMD_SETQUOTA, IMAP_CMD_COMPRESS, IMAP_CMD_NOTIFY,
    /* selected */
    IMAP_CMD_CHECK, IMAP_CMD_CLOSE, IMAP_CMD_UNSELECT, IMAP_CMD_EXPUNGE, IMAP_CMD_SEARCH,
    IMAP_CMD_FETCH, IMAP_CMD_STORE, IMAP_CMD_COPY, IMAP_CMD_MOVE, IMAP_CMD_SORT,
    IMAP_CMD_THREAD,
    IMAP_CMD_COUNT_
};

/* "FETCH", "UID"-less; "" for UNKNOWN. */
const char *imap_command_name(enum imap_cmd cmd);

/* STATUS items (also LIST ... RETURN (STATUS (...))). */
#define IMAP_STATUS_MESSAGES      0x001u
#define IMAP_STATUS_UIDNEXT       0x002u
#define IMAP_STATUS_UIDVALIDITY   0x004u
#define IMAP_STATUS_UNSEEN        0x008u
#define IMAP_STATUS_DELETED       0x010u
#define IMAP_STATUS_SIZE          0x020u
#define IMAP_STATUS_RECENT        0x040u
#define IMAP_STATUS_HIGHESTMODSEQ 0x080u
#define IMAP_STATUS_APPENDLIMIT   0x100u

/* LOGIN */
struct imap_login_args {
    struct str user, password;
};

/* AUTHENTICATE mech [initial-response] */
struct imap_authenticate_args {
    struct str mechanism;        /* as sent (an atom) */
    bool has_initial;            /* SASL-IR */
    struct str initial;          /* the base64 text; "=" gives "" */
};

/* SELECT / EXAMINE mailbox [(CONDSTORE) / (QRESYNC (...))] */
struct imap_select_args {
    struct str mailbox;
    bool condstore;
    bool qresync;
    uint32_t uidvalidity;        /* QRESYNC: nz-number */
    uint64_t modseq;             /* QRESYNC: mod-sequence-value (>= 1) */
    bool has_known_uids;
    struct imap_seq_set known_uids;          /* no "*", no "$" */
    bool has_seq_match;
    struct imap_seq_set known_seqs, known_seq_uids; /* no "*", no "$" */
};

/* CREATE mailbox [(USE (\Drafts ...))] */
struct imap_create_args {
    struct str mailbox;
    struct imap_strs use;        /* special-use flags as sent ("\Drafts") */
};

/* RENAME */
struct imap_rename_args {
    struct str from, to;
};

/* LIST (and LSUB: reference, one pattern, nothing else). */
#define IMAP_LIST_SEL_SUBSCRIBED     0x01u
#define IMAP_LIST_SEL_REMOTE         0x02u
#define IMAP_LIST_SEL_RECURSIVEMATCH 0x04u
#define IMAP_LIST_SEL_SPECIAL_USE    0x08u
#define IMAP_LIST_RET_SUBSCRIBED     0x01u
#define IMAP_LIST_RET_CHILDREN       0x02u
#define IMAP_LIST_RET_SPECIAL_USE    0x04u
#define IMAP_LIST_RET_STATUS         0x08u
struct imap_list_args {
    bool extended;               /* selection options, several patterns or
                                    RETURN were used (RFC 5258) */
    unsigned select;             /* IMAP_LIST_SEL_*; RECURSIVEMATCH never alone */
    unsigned ret;                /* IMAP_LIST_RET_* */
    unsigned status_items;       /* IMAP_STATUS_* with RET_STATUS */
    struct str reference;
    struct imap_strs patterns;   /* 1..IMAP_MAX_PATTERNS; "" possible */
};

/* STATUS mailbox (items) */
struct imap_status_args {
    struct str mailbox;
    unsigned items;              /* IMAP_STATUS_*, at least one */
};

/* APPEND mailbox message... (MULTIAPPEND: several) */
struct imap_append_msg {
    struct imap_strs flags;      /* as for STORE */
    bool has_date;
    struct imap_datetime date;
    struct str data;             /* the literal's bytes, in the command buffer */
    bool binary;                 /* ~{n} (RFC 3516): may hold NUL */
    bool utf8;                   /* UTF8 (~{n}) (RFC 6855) */
};
struct imap_append_args {
    struct str mailbox;
    uint32_t n;                  /* 1..IMAP_MAX_APPEND_MESSAGES */
    struct imap_append_msg *msgs;
};

/* SEARCH [RETURN (...)] [CHARSET x] keys */
#define IMAP_SEARCH_RET_MIN   0x01u
#define IMAP_SEARCH_RET_MAX   0x02u
#define IMAP_SEARCH_RET_ALL   0x04u
#define IMAP_SEARCH_RET_COUNT 0x08u
#define IMAP_SEARCH_RET_SAVE  0x10u
struct imap_search_args {
    bool has_return;             /* RETURN (...) was given: answer ESEARCH */
    unsigned ret;                /* IMAP_SEARCH_RET_*; "RETURN ()" gives ALL */
    struct str charset;          /* { NULL, 0 } when absent */
    struct imap_search *program; /* an IMAP_SK_AND of the top-level keys */
};

/* SORT (criteria) charset keys */
enum imap_sort_key {
    IMAP_SORT_ARRIVAL = 0, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM, IMAP_SORT_SIZE,
    IMAP_SORT_SUBJECT, IMAP_SORT_TO, IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,
};
struct imap_sort_criterion {
    enum imap_sort_key key;
    bool reverse;
};
struct imap_sort_args {
    uint32_t n;                  /* 1..IMAP_MAX_SORT_KEYS */
    struct imap_sort_criterion *criteria;
    struct str charset;
    struct imap_search *program;
};

/* THREAD algorithm charset keys */
enum imap_thread_alg { IMAP_THREAD_ORDEREDSUBJECT = 0, IMAP_THREAD_REFERENCES };
struct imap_thread_args {
    enum imap_thread_alg algorithm;
    struct str charset;
    struct imap_search *program;
};

/* FETCH set items [(CHANGEDSINCE n [VANISHED])] */
struct imap_fetch_args {
    struct imap_seq_set set;
    uint32_t n;                  /* 1..IMAP_MAX_FETCH_ATTS, macros expanded */
    struct imap_fetch_att *atts;
    bool has_changedsince;
    uint64_t changedsince;
    bool vanished;               /* UID FETCH only, with CHANGEDSINCE */
};

/* STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags */
enum imap_store_op { IMAP_STORE_REPLACE = 0, IMAP_STORE_ADD, IMAP_STORE_REMOVE };
struct imap_store_args {
    struct imap_seq_set set;
    bool has_unchangedsince;
    uint64_t unchangedsince;
    enum imap_store_op op;
    bool silent;
    struct imap_strs flags;      /* system flags in their canonical case
                                    ("\Seen"), other flags as sent */
};

/* COPY / MOVE set mailbox */
struct imap_copy_args {
    struct imap_seq_set set;
    struct str mailbox;
};

/* SETQUOTA root (resource limit ...) */
struct imap_quota_resource {
    struct str name;             /* as sent: "STORAGE", "MESSAGE", ... */
    uint64_t limit;
};
struct imap_setquota_args {
    struct str root;
    uint32_t n;                  /* 0..IMAP_MAX_LIST_ITEMS */
    struct imap_quota_resource *resources;
};

/* ID (field value ...) / ID NIL */
struct imap_id_pair {
    struct str field, value;     /* value { NULL, 0 } for NIL */
};
struct imap_id_args {
    uint32_t n;                  /* 0 for NIL (and for "()"; pairs NULL then) */
    struct imap_id_pair *pairs;
};

/* NOTIFY NONE / NOTIFY SET [STATUS] (filter events) ... (RFC 5465). The
 * parser enforces §5 and §6.1: MessageNew and MessageExpunge together,
 * FlagChange/AnnotationChange only with both, only message events (and
 * unknown ones) under SELECTED/SELECTED-DELAYED, one of those at most. */
enum imap_notify_filter {
    IMAP_NOTIFY_SELECTED = 0, IMAP_NOTIFY_SELECTED_DELAYED, IMAP_NOTIFY_INBOXES,
    IMAP_NOTIFY_PERSONAL, IMAP_NOTIFY_SUBSCRIBED, IMAP_NOTIFY_SUBTREE,
    IMAP_NOTIFY_MAILBOXES,
};
#define IMAP_NOTIFY_EV_MESSAGE_NEW            0x001u
#define IMAP_NOTIFY_EV_MESSAGE_EXPUNGE        0x002u
#define IMAP_NOTIFY_EV_FLAG_CHANGE            0x004u
#define IMAP_NOTIFY_EV_ANNOTATION_CHANGE      0x008u
#define IMAP_NOTIFY_EV_MAILBOX_NAME           0x010u
#define IMAP_NOTIFY_EV_SUBSCRIPTION_CHANGE    0x020u
#define IMAP_NOTIFY_EV_MAILBOX_METADATA_CHANGE 0x040u
#define IMAP_NOTIFY_EV_SERVER_METADATA_CHANGE 0x080u
#define IMAP_NOTIFY_EV_UNKNOWN                0x100u /* an event-ext atom: NO [BADEVENT] */
struct imap_notify_group {
    enum imap_notify_filter filter;
    struct imap_strs mailboxes;  /* SUBTREE / MAILBOXES */
    unsigned events;             /* IMAP_NOTIFY_EV_*; 0 for NONE */
    uint32_t n_atts;             /* MessageNew (fetch-att ...) */
    struct imap_fetch_att *atts;
};
struct imap_notify_args {
    bool none;                   /* NOTIFY NONE */
    bool status;                 /* SET STATUS */
    uint32_t n;                  /* groups, 1..IMAP_MAX_LIST_ITEMS with SET */
    struct imap_notify_group *groups;
};

/* ---- The command ---- */

struct imap_command {
    struct str tag;              /* points into the command; set as soon as the
                                    tag has parsed, even when -1 is returned
                                    (else { NULL, 0 }: answer "* BAD") */
    enum imap_cmd cmd;
    bool uid;                    /* UID COPY/MOVE/FETCH/STORE/SEARCH/SORT/THREAD/EXPUNGE */
    union {
        struct imap_login_args login;
        struct imap_authenticate_args authenticate;
        struct imap_strs enable;        /* ENABLE capability names, as sent */
        struct imap_select_args select; /* SELECT, EXAMINE */
        struct imap_create_args create;
        struct str mailbox;             /* DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT */
        struct str quota_root;          /* GETQUOTA */
        struct imap_rename_args rename;
        struct imap_list_args list;     /* LIST, LSUB */
        struct imap_status_args status;
        struct imap_append_args append;
        struct imap_setquota_args setquota;
        struct str compress;            /* COMPRESS mechanism, as sent ("DEFLATE") */
        struct imap_id_args id;
        struct imap_notify_args notify;
        struct imap_seq_set expunge;    /* UID EXPUNGE set (uid == true only) */
        struct imap_search_args search;
        struct imap_sort_args sort;
        struct imap_thread_args thread;
        struct imap_fetch_args fetch;
        struct imap_store_args store;
        struct imap_copy_args copy;     /* COPY, MOVE */
    } u;
};

/* Parses one complete command (see the model above). Returns 0, or -1 with
 * *reason set to a static string (out->tag tells whether the tag parsed).
 * Everything is allocated from `a`. */
int imap_parse_command(struct arena *a, struct str cmd, struct imap_command *out,
                       const char **reason);

/* The tag at the start of a (possibly partial) command: 0 with *tag
 * pointing into `cmd` when it starts with a valid tag followed by a space,
 * else -1. */
int imap_parse_tag(struct str cmd, struct str *tag);

/* A literal announced at the end of a line. */
struct imap_literal {
    uint64_t size;
    bool nonsync;   /* "{n+}": no continuation request */
    bool binary;    /* "~{n}" (literal8, RFC 3516) */
};

/* Looks at one line of a command (without its CRLF): the first line, or
 * what follows a literal's data up to the next CRLF. Returns 1 when it ends
 * with a literal announcement outside a quoted string (*lit filled), 0 when
 * it does not (the command ends with this line), -1 when it ends with a
 * malformed one ("{12x}", "{}", a size past IMAP_LITERAL_MAX) with *reason
 * set: the command cannot be assembled and deserves "TAG BAD". */
int imap_literal_at_end(struct str line, struct imap_literal *lit, const char **reason);

#endif
