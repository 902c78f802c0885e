/*
 * Unit tests for imap/parse.c: every example command of RFC 9051 and RFC
 * 3501 (and of RFC 7162, 5256, 5957, 5258, 5819, 6154, 4978, 3502, 3516,
 * 7888, 4315, 6851, 2971, 9208, 5161, 5182, 4731, 5032, 5465), malformed
 * commands with the reason they get, literals wherever a string can be,
 * sequence sets, search programs and their limits, fetch sections, dates,
 * the literal-announcement helper and the tag helper, and an arena too
 * small for the command.
 *
 * A command's parse is rendered canonically by dump() (strings quoted, sets
 * as "1:5,*", search keys in IMAP syntax with typed values, dates as
 * yyyy-mm-dd), so each case is one line: input, expected rendering or
 * expected reason. In inputs, "{?}" (also "{?+}", "~{?}") is replaced by
 * the length of the literal data that follows its CRLF up to a \x01 byte,
 * which is removed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "imap/parse.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Rendering ---- */

static struct buf out;

static void put(const char *s)
{
    buf_append_cstr(&out, s);
}

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&out, fmt, ap);
    va_end(ap);
}

static void put_str(struct str s)
{
    if (!s.p) {
        put("NIL");
        return;
    }
    put("\"");
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '"' || c == '\\')
            putf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            putf("\\x%02x", c);
        else
            buf_append_char(&out, (char)c);
    }
    put("\"");
}

static void put_num(uint32_t n)
{
    if (n == IMAP_SEQ_STAR)
        put("*");
    else
        putf("%u", n);
}

static void put_set(const struct imap_seq_set *s)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (i)
            put(",");
        put_num(s->r[i].first);
        if (s->r[i].last != s->r[i].first) {
            put(":");
            put_num(s->r[i].last);
        }
    }
    if (s->dollar)
        put(s->n ? ",$" : "$");
}

static void put_strs(struct imap_strs l)
{
    put("(");
    for (uint32_t i = 0; i < l.n; i++) {
        if (i)
            put(" ");
        put_str(l.v[i]);
    }
    put(")");
}

static const char *const sk_names[] = {
    [IMAP_SK_AND] = "AND", [IMAP_SK_OR] = "OR", [IMAP_SK_NOT] = "NOT", [IMAP_SK_ALL] = "ALL",
    [IMAP_SK_ANSWERED] = "ANSWERED", [IMAP_SK_DELETED] = "DELETED", [IMAP_SK_DRAFT] = "DRAFT",
    [IMAP_SK_FLAGGED] = "FLAGGED", [IMAP_SK_SEEN] = "SEEN", [IMAP_SK_UNANSWERED] = "UNANSWERED",
    [IMAP_SK_UNDELETED] = "UNDELETED", [IMAP_SK_UNDRAFT] = "UNDRAFT",
    [IMAP_SK_UNFLAGGED] = "UNFLAGGED", [IMAP_SK_UNSEEN] = "UNSEEN", [IMAP_SK_NEW] = "NEW",
    [IMAP_SK_OLD] = "OLD", [IMAP_SK_RECENT] = "RECENT", [IMAP_SK_KEYWORD] = "KEYWORD",
    [IMAP_SK_UNKEYWORD] = "UNKEYWORD", [IMAP_SK_BCC] = "BCC", [IMAP_SK_BODY] = "BODY",
    [IMAP_SK_CC] = "CC", [IMAP_SK_FROM] = "FROM", [IMAP_SK_SUBJECT] = "SUBJECT",
    [IMAP_SK_TEXT] = "TEXT", [IMAP_SK_TO] = "TO", [IMAP_SK_HEADER] = "HEADER",
    [IMAP_SK_BEFORE] = "BEFORE", [IMAP_SK_ON] = "ON", [IMAP_SK_SINCE] = "SINCE",
    [IMAP_SK_SENTBEFORE] = "SENTBEFORE", [IMAP_SK_SENTON] = "SENTON",
    [IMAP_SK_SENTSINCE] = "SENTSINCE", [IMAP_SK_LARGER] = "LARGER", [IMAP_SK_SMALLER] = "SMALLER",
    [IMAP_SK_OLDER] = "OLDER", [IMAP_SK_YOUNGER] = "YOUNGER", [IMAP_SK_SEQSET] = "SEQSET",
    [IMAP_SK_UID] = "UID", [IMAP_SK_MODSEQ] = "MODSEQ",
};

static void put_search(const struct imap_search *k);

static void put_search_list(const struct imap_search *k)
{
    for (; k; k = k->next) {
        put_search(k);
        if (k->next)
            put(" ");
    }
}

static void put_search(const struct imap_search *k)
{
    switch (k->key) {
    case IMAP_SK_AND:
        put("(");
        put_search_list(k->u.sub);
        put(")");
        return;
    case IMAP_SK_OR:
        put("OR ");
        put_search(k->u.sub);
        put(" ");
        put_search(k->u.sub->next);
        return;
    case IMAP_SK_NOT:
        put("NOT ");
        put_search(k->u.sub);
        return;
    case IMAP_SK_SEQSET:
        put_set(&k->u.set);
        return;
    default:
        break;
    }
    put(sk_names[k->key]);
    switch (k->key) {
    case IMAP_SK_KEYWORD: case IMAP_SK_UNKEYWORD: case IMAP_SK_BCC: case IMAP_SK_BODY:
    case IMAP_SK_CC: case IMAP_SK_FROM: case IMAP_SK_SUBJECT: case IMAP_SK_TEXT: case IMAP_SK_TO:
        put(" ");
        put_str(k->u.str);
        break;
    case IMAP_SK_HEADER:
        put(" ");
        put_str(k->u.header.field);
        put(" ");
        put_str(k->u.header.value);
        break;
    case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SINCE: case IMAP_SK_SENTBEFORE:
    case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
        putf(" %04d-%02d-%02d", k->u.date.year, k->u.date.month, k->u.date.day);
        break;
    case IMAP_SK_LARGER: case IMAP_SK_SMALLER: case IMAP_SK_OLDER: case IMAP_SK_YOUNGER:
        putf(" %llu", (unsigned long long)k->u.number);
        break;
    case IMAP_SK_UID:
        put(" ");
        put_set(&k->u.set);
        break;
    case IMAP_SK_MODSEQ:
        if (k->u.modseq.entry.p) {
            put(" ");
            put_str(k->u.modseq.entry);
            put(k->u.modseq.type == IMAP_ENTRY_PRIV     ? " priv"
                : k->u.modseq.type == IMAP_ENTRY_SHARED ? " shared"
                                                        : " all");
        }
        putf(" %llu", (unsigned long long)k->u.modseq.modseq);
        break;
    default:
        break;
    }
}

static const char *const att_names[] = {
    [IMAP_FETCH_ENVELOPE] = "ENVELOPE", [IMAP_FETCH_FLAGS] = "FLAGS",
    [IMAP_FETCH_INTERNALDATE] = "INTERNALDATE", [IMAP_FETCH_RFC822] = "RFC822",
    [IMAP_FETCH_RFC822_HEADER] = "RFC822.HEADER", [IMAP_FETCH_RFC822_SIZE] = "RFC822.SIZE",
    [IMAP_FETCH_RFC822_TEXT] = "RFC822.TEXT", [IMAP_FETCH_BODY] = "BODY",
    [IMAP_FETCH_BODYSTRUCTURE] = "BODYSTRUCTURE", [IMAP_FETCH_BODY_SECTION] = "BODY",
    [IMAP_FETCH_BINARY] = "BINARY", [IMAP_FETCH_BINARY_SIZE] = "BINARY.SIZE",
    [IMAP_FETCH_UID] = "UID", [IMAP_FETCH_MODSEQ] = "MODSEQ",
};

static const char *const text_names[] = {
    [IMAP_SECTION_NONE] = "", [IMAP_SECTION_HEADER] = "HEADER",
    [IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
    [IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT", [IMAP_SECTION_TEXT] = "TEXT",
    [IMAP_SECTION_MIME] = "MIME",
};

static void put_att(const struct imap_fetch_att *a)
{
    put(att_names[a->kind]);
    if (a->kind != IMAP_FETCH_BODY_SECTION && a->kind != IMAP_FETCH_BINARY &&
        a->kind != IMAP_FETCH_BINARY_SIZE)
        return;
    if (a->peek)
        put(".PEEK");
    put("[");
    for (uint32_t i = 0; i < a->n_parts; i++)
        putf("%s%u", i ? "." : "", a->parts[i]);
    if (a->text) {
        put(a->n_parts ? "." : "");
        put(text_names[a->text]);
        if (a->text == IMAP_SECTION_HEADER_FIELDS || a->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
            put(" ");
            put_strs(a->fields);
        }
    }
    put("]");
    if (a->partial)
        putf("<%llu.%llu>", (unsigned long long)a->offset, (unsigned long long)a->count);
}

static void put_atts(uint32_t n, const struct imap_fetch_att *atts)
{
    put("(");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            put(" ");
        put_att(&atts[i]);
    }
    put(")");
}

static void put_status_items(unsigned items)
{
    static const char *const names[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
                                         "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ",
                                         "APPENDLIMIT" };
    put("(");
    bool first = true;
    for (unsigned i = 0; i < N(names); i++)
        if (items & (1u << i)) {
            putf("%s%s", first ? "" : " ", names[i]);
            first = false;
        }
    put(")");
}

static void put_bits(unsigned bits, const char *const *names, unsigned n)
{
    put("(");
    bool first = true;
    for (unsigned i = 0; i < n; i++)
        if (bits & (1u << i)) {
            putf("%s%s", first ? "" : " ", names[i]);
            first = false;
        }
    put(")");
}

static void put_program(struct str charset, const struct imap_search *program)
{
    if (charset.p) {
        put(" charset=");
        put_str(charset);
    }
    put(" ");
    put_search_list(program->u.sub);
}

static const char *dump(const struct imap_command *c)
{
    buf_clear(&out);
    buf_append_str(&out, c->tag);
    put(c->uid ? " UID " : " ");
    put(imap_command_name(c->cmd));
    switch (c->cmd) {
    case IMAP_CMD_LOGIN:
        put(" ");
        put_str(c->u.login.user);
        put(" ");
        put_str(c->u.login.password);
        break;
    case IMAP_CMD_AUTHENTICATE:
        put(" ");
        put_str(c->u.authenticate.mechanism);
        if (c->u.authenticate.has_initial) {
            put(" ir=");
            put_str(c->u.authenticate.initial);
        }
        break;
    case IMAP_CMD_ENABLE:
        put(" ");
        put_strs(c->u.enable);
        break;
    case IMAP_CMD_SELECT: case IMAP_CMD_EXAMINE: {
        const struct imap_select_args *s = &c->u.select;
        put(" ");
        put_str(s->mailbox);
        if (s->condstore)
            put(" condstore");
        if (s->qresync) {
            putf(" qresync=%u,%llu", s->uidvalidity, (unsigned long long)s->modseq);
            if (s->has_known_uids) {
                put(" known=");
                put_set(&s->known_uids);
            }
            if (s->has_seq_match) {
                put(" seqs=");
                put_set(&s->known_seqs);
                put(" uids=");
                put_set(&s->known_seq_uids);
            }
        }
        break;
    }
    case IMAP_CMD_CREATE:
        put(" ");
        put_str(c->u.create.mailbox);
        if (c->u.create.use.n || c->u.create.use.v) {
            put(" use=");
            put_strs(c->u.create.use);
        }
        break;
    case IMAP_CMD_DELETE: case IMAP_CMD_SUBSCRIBE: case IMAP_CMD_UNSUBSCRIBE:
    case IMAP_CMD_GETQUOTAROOT:
        put(" ");
        put_str(c->u.mailbox);
        break;
    case IMAP_CMD_GETQUOTA:
        put(" ");
        put_str(c->u.quota_root);
        break;
    case IMAP_CMD_RENAME:
        put(" ");
        put_str(c->u.rename.from);
        put(" ");
        put_str(c->u.rename.to);
        break;
    case IMAP_CMD_LIST: case IMAP_CMD_LSUB: {
        static const char *const sel[] = { "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH",
                                           "SPECIAL-USE" };
        static const char *const ret[] = { "SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS" };
        const struct imap_list_args *l = &c->u.list;
        if (l->extended) {
            put(" sel=");
            put_bits(l->select, sel, N(sel));
        }
        put(" ");
        put_str(l->reference);
        put(" ");
        put_strs(l->patterns);
        if (l->extended) {
            put(" ret=");
            put_bits(l->ret, ret, N(ret));
            if (l->ret & IMAP_LIST_RET_STATUS) {
                put(" status=");
                put_status_items(l->status_items);
            }
        }
        break;
    }
    case IMAP_CMD_STATUS:
        put(" ");
        put_str(c->u.status.mailbox);
        put(" ");
        put_status_items(c->u.status.items);
        break;
    case IMAP_CMD_APPEND:
        put(" ");
        put_str(c->u.append.mailbox);
        for (uint32_t i = 0; i < c->u.append.n; i++) {
            const struct imap_append_msg *m = &c->u.append.msgs[i];
            put(" [");
            if (m->flags.v) {
                put("flags=");
                put_strs(m->flags);
                put(" ");
            }
            if (m->has_date)
                putf("date=%lld%+d ", (long long)m->date.time, m->date.zone);
            if (m->binary)
                put("binary ");
            if (m->utf8)
                put("utf8 ");
            put_str(m->data);
            put("]");
        }
        break;
    case IMAP_CMD_SETQUOTA:
        put(" ");
        put_str(c->u.setquota.root);
        put(" (");
        for (uint32_t i = 0; i < c->u.setquota.n; i++) {
            if (i)
                put(" ");
            put_str(c->u.setquota.resources[i].name);
            putf(" %llu", (unsigned long long)c->u.setquota.resources[i].limit);
        }
        put(")");
        break;
    case IMAP_CMD_COMPRESS:
        put(" ");
        put_str(c->u.compress);
        break;
    case IMAP_CMD_ID:
        if (!c->u.id.pairs) {
            put(" NIL");
            break;
        }
        put(" (");
        for (uint32_t i = 0; i < c->u.id.n; i++) {
            if (i)
                put(" ");
            put_str(c->u.id.pairs[i].field);
            put(" ");
            put_str(c->u.id.pairs[i].value);
        }
        put(")");
        break;
    case IMAP_CMD_NOTIFY: {
        static const char *const filters[] = { "selected", "selected-delayed", "inboxes",
                                               "personal", "subscribed", "subtree", "mailboxes" };
        static const char *const events[] = { "MessageNew", "MessageExpunge", "FlagChange",
                                              "AnnotationChange", "MailboxName",
                                              "SubscriptionChange", "MailboxMetadataChange",
                                              "ServerMetadataChange", "unknown" };
        const struct imap_notify_args *nt = &c->u.notify;
        if (nt->none) {
            put(" NONE");
            break;
        }
        put(nt->status ? " SET STATUS" : " SET");
        for (uint32_t i = 0; i < nt->n; i++) {
            const struct imap_notify_group *g = &nt->groups[i];
            putf(" (%s", filters[g->filter]);
            if (g->mailboxes.n) {
                put(" ");
                put_strs(g->mailboxes);
            }
            put(" ");
            put_bits(g->events, events, N(events));
            if (g->atts) {
                put(" ");
                put_atts(g->n_atts, g->atts);
            }
            put(")");
        }
        break;
    }
    case IMAP_CMD_EXPUNGE:
        if (c->uid) {
            put(" ");
            put_set(&c->u.expunge);
        }
        break;
    case IMAP_CMD_SEARCH: {
        static const char *const ret[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
        if (c->u.search.has_return) {
            put(" ret=");
            put_bits(c->u.search.ret, ret, N(ret));
        }
        put_program(c->u.search.charset, c->u.search.program);
        break;
    }
    case IMAP_CMD_SORT: {
        static const char *const keys[] = { "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT",
                                            "TO", "DISPLAYFROM", "DISPLAYTO" };
        put(" (");
        for (uint32_t i = 0; i < c->u.sort.n; i++)
            putf("%s%s%s", i ? " " : "", c->u.sort.criteria[i].reverse ? "REVERSE " : "",
                 keys[c->u.sort.criteria[i].key]);
        put(")");
        put_program(c->u.sort.charset, c->u.sort.program);
        break;
    }
    case IMAP_CMD_THREAD:
        put(c->u.thread.algorithm == IMAP_THREAD_REFERENCES ? " REFERENCES" : " ORDEREDSUBJECT");
        put_program(c->u.thread.charset, c->u.thread.program);
        break;
    case IMAP_CMD_FETCH:
        put(" ");
        put_set(&c->u.fetch.set);
        put(" ");
        put_atts(c->u.fetch.n, c->u.fetch.atts);
        if (c->u.fetch.has_changedsince)
            putf(" changedsince=%llu", (unsigned long long)c->u.fetch.changedsince);
        if (c->u.fetch.vanished)
            put(" vanished");
        break;
    case IMAP_CMD_STORE: {
        const struct imap_store_args *s = &c->u.store;
        put(" ");
        put_set(&s->set);
        if (s->has_unchangedsince)
            putf(" unchangedsince=%llu", (unsigned long long)s->unchangedsince);
        put(s->op == IMAP_STORE_ADD ? " +" : s->op == IMAP_STORE_REMOVE ? " -" : " ");
        put(s->silent ? "FLAGS.SILENT " : "FLAGS ");
        put_strs(s->flags);
        break;
    }
    case IMAP_CMD_COPY: case IMAP_CMD_MOVE:
        put(" ");
        put_set(&c->u.copy.set);
        put(" ");
        put_str(c->u.copy.mailbox);
        break;
    default:
        break;
    }
    return buf_cstr(&out);
}

/* ---- Inputs ---- */

/* Replaces each "{?}", "{?+}" by the length of the data after its CRLF up
 * to \x01 (removed). Returns a heap copy; *len its length. */
static char *expand(const char *in, size_t inlen, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < inlen;) {
        if (in[i] == '{' && i + 2 < inlen && in[i + 1] == '?') {
            const char *close = memchr(in + i, '}', inlen - i);
            const char *data = close + 3; /* after "}\r\n" */
            const char *stop = memchr(data, '\x01', inlen - (size_t)(data - in));
            buf_printf(&b, "{%zu%s}\r\n", (size_t)(stop - data), close[-1] == '+' ? "+" : "");
            buf_append(&b, data, (size_t)(stop - data));
            i = (size_t)(stop - in) + 1;
        } else
            buf_append_char(&b, in[i++]);
    }
    *len = b.len;
    char *r = xmalloc(b.len + 1);
    memcpy(r, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return r;
}

static void show(const char *in, size_t len)
{
    fprintf(stderr, "  input: \"");
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)in[k];
        if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"\n");
}

struct tcase {
    const char *in;
    const char *want; /* rendering, or "!reason" */
};

static void run_case_len(const struct tcase *t, size_t inlen)
{
    size_t len;
    char *in = expand(t->in, inlen, &len);
    struct arena *a = arena_new(1 << 20);
    struct imap_command c;
    const char *reason = NULL;
    int before = test_failures;
    int rc = imap_parse_command(a, (struct str){ in, len }, &c, &reason);
    if (t->want[0] != '!') {
        CHECK_INT(rc, 0);
        if (rc == 0)
            CHECK_STR(dump(&c), t->want);
        else
            fprintf(stderr, "  reason: %s\n", reason);
    } else {
        CHECK_INT(rc, -1);
        if (rc == -1)
            CHECK_STR(reason, t->want + 1);
        else
            fprintf(stderr, "  parsed: %s\n", dump(&c));
    }
    if (test_failures != before)
        show(in, len);
    arena_free(a);
    free(in);
}

static void run_case(const struct tcase *t)
{
    run_case_len(t, strlen(t->in));
}

static void run_cases(const struct tcase *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&t[i]);
}

/* The examples of RFC 9051 §6 (and RFC 3501 §6, where they differ). */
static const struct tcase rfc9051_cases[] = {
    /* 6.1 any state */
    { "abcd CAPABILITY", "abcd CAPABILITY" },
    { "a002 NOOP", "a002 NOOP" },
    { "a047 NOOP", "a047 NOOP" },
    { "A023 LOGOUT", "A023 LOGOUT" },
    /* 6.2 not authenticated */
    { "a001 CAPABILITY", "a001 CAPABILITY" },
    { "a002 STARTTLS", "a002 STARTTLS" },
    { "a003 CAPABILITY", "a003 CAPABILITY" },
    { "a004 LOGIN joe password", "a004 LOGIN \"joe\" \"password\"" },
    { "A001 AUTHENTICATE GSSAPI", "A001 AUTHENTICATE \"GSSAPI\"" },
    { "A001 AUTHENTICATE PLAIN", "A001 AUTHENTICATE \"PLAIN\"" },
    { "A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=",
      "A01 AUTHENTICATE \"PLAIN\" ir=\"dGVzdAB0ZXN0AHRlc3Q=\"" },
    { "a001 LOGIN SMITH SESAME", "a001 LOGIN \"SMITH\" \"SESAME\"" },
    /* 6.3 authenticated */
    { "t2 ENABLE CONDSTORE X-GOOD-IDEA", "t2 ENABLE (\"CONDSTORE\" \"X-GOOD-IDEA\")" },
    { "t1 ENABLE UTF8=ACCEPT", "t1 ENABLE (\"UTF8=ACCEPT\")" },
    { "A142 SELECT INBOX", "A142 SELECT \"INBOX\"" },
    { "A932 EXAMINE blurdybloop", "A932 EXAMINE \"blurdybloop\"" },
    { "A003 CREATE owatagusiam/", "A003 CREATE \"owatagusiam/\"" },
    { "A004 CREATE owatagusiam/blurdybloop", "A004 CREATE \"owatagusiam/blurdybloop\"" },
    { "A682 LIST \"\" *", "A682 LIST \"\" (\"*\")" },
    { "A683 DELETE blurdybloop", "A683 DELETE \"blurdybloop\"" },
    { "A684 DELETE foo", "A684 DELETE \"foo\"" },
    { "A685 DELETE foo/bar", "A685 DELETE \"foo/bar\"" },
    { "A683 RENAME blurdybloop sarasoop", "A683 RENAME \"blurdybloop\" \"sarasoop\"" },
    { "A684 RENAME foo zowie", "A684 RENAME \"foo\" \"zowie\"" },
    { "Z433 RENAME INBOX old-mail", "Z433 RENAME \"INBOX\" \"old-mail\"" },
    { "A002 SUBSCRIBE #news.comp.mail.mime", "A002 SUBSCRIBE \"#news.comp.mail.mime\"" },
    { "A002 UNSUBSCRIBE #news.comp.mail.mime", "A002 UNSUBSCRIBE \"#news.comp.mail.mime\"" },
    { "A101 LIST \"\" \"\"", "A101 LIST \"\" (\"\")" },
    { "A102 LIST #news.comp.mail.misc \"\"", "A102 LIST \"#news.comp.mail.misc\" (\"\")" },
    { "A103 LIST /usr/staff/jones \"\"", "A103 LIST \"/usr/staff/jones\" (\"\")" },
    { "A202 LIST ~/Mail/ %", "A202 LIST \"~/Mail/\" (\"%\")" },
    { "A02 LIST (SUBSCRIBED) \"\" \"*\"",
      "A02 LIST sel=(SUBSCRIBED) \"\" (\"*\") ret=()" },
    { "A03 LIST () \"\" \"%\" RETURN (CHILDREN)",
      "A03 LIST sel=() \"\" (\"%\") ret=(CHILDREN)" },
    { "A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)",
      "A04 LIST sel=(REMOTE) \"\" (\"%\") ret=(CHILDREN)" },
    { "A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"",
      "A05 LIST sel=(SUBSCRIBED REMOTE) \"\" (\"*\") ret=()" },
    { "A06 LIST (SUBSCRIBED REMOTE) \"\" \"*\"",
      "A06 LIST sel=(SUBSCRIBED REMOTE) \"\" (\"*\") ret=()" },
    { "C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"",
      "C04 LIST sel=(SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\") ret=()" },
    { "C05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)",
      "C05 LIST sel=(SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\") ret=(CHILDREN)" },
    { "D01 LIST \"\" \"%\" RETURN (SUBSCRIBED CHILDREN)",
      "D01 LIST sel=() \"\" (\"%\") ret=(SUBSCRIBED CHILDREN)" },
    { "BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")",
      "BBB LIST sel=() \"\" (\"INBOX\" \"Drafts\" \"Sent/%\") ret=()" },
    { "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))",
      "A01 LIST sel=() \"\" (\"%\") ret=(STATUS) status=(MESSAGES UNSEEN)" },
    { "A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))",
      "A02 LIST sel=(SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\") ret=(STATUS) status=(MESSAGES)" },
    { "A001 NAMESPACE", "A001 NAMESPACE" },
    { "A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
      "A042 STATUS \"blurdybloop\" (MESSAGES UIDNEXT)" },
    { "A003 APPEND saved-messages (\\Seen) {?}\r\n"
      "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\n"
      "Subject: afternoon meeting\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n\x01",
      "A003 APPEND \"saved-messages\" [flags=(\"\\\\Seen\") \"Date: Mon, 7 Feb 1994 21:52:25 -0800 "
      "(PST)\\x0d\\x0aFrom: Fred Foobar <foobar@Blurdybloop.example>\\x0d\\x0aSubject: afternoon "
      "meeting\\x0d\\x0a\\x0d\\x0aHello Joe, do you think we can meet at 3:30 tomorrow?\\x0d\\x0a\"]" },
    { "A001 IDLE", "A001 IDLE" },
    /* 6.4 selected */
    { "FXXZ CHECK", "FXXZ CHECK" },
    { "A341 CLOSE", "A341 CLOSE" },
    { "A342 UNSELECT", "A342 UNSELECT" },
    { "A202 EXPUNGE", "A202 EXPUNGE" },
    { "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
      "A282 SEARCH ret=(MIN COUNT) FLAGGED SINCE 1994-02-01 NOT FROM \"Smith\"" },
    { "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
      "A283 SEARCH ret=(ALL) FLAGGED SINCE 1994-02-01 NOT FROM \"Smith\"" },
    { "A284 SEARCH TEXT \"string not in mailbox\"",
      "A284 SEARCH TEXT \"string not in mailbox\"" },
    { "A285 SEARCH CHARSET UTF-8 TEXT {?}\r\n\xd0\xbe\xd1\x82\xd0\xbf\xd1\x83\xd1\x81\xd0\xba\x01",
      "A285 SEARCH charset=\"UTF-8\" TEXT "
      "\"\\xd0\\xbe\\xd1\\x82\\xd0\\xbf\\xd1\\x83\\xd1\\x81\\xd0\\xba\"" },
    { "A286 SEARCH CHARSET WHOTOOK-IT TEXT \"xyz\"",
      "A286 SEARCH charset=\"WHOTOOK-IT\" TEXT \"xyz\"" },
    { "A287 SEARCH CHARSET UTF-8 TEXT {?+}\r\n\xd0\xbe\xd1\x82\x01",
      "A287 SEARCH charset=\"UTF-8\" TEXT \"\\xd0\\xbe\\xd1\\x82\"" },
    { "A282 SEARCH RETURN (SAVE) SINCE 1-Feb-1994 FROM \"Smith\"",
      "A282 SEARCH ret=(SAVE) SINCE 1994-02-01 FROM \"Smith\"" },
    { "A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)",
      "A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)" },
    { "A284 FETCH $ (FLAGS)", "A284 FETCH $ (FLAGS)" },
    { "A300 SEARCH RETURN (SAVE) FLAGGED", "A300 SEARCH ret=(SAVE) FLAGGED" },
    { "A301 SEARCH $ SMALLER 4096", "A301 SEARCH $ SMALLER 4096" },
    { "A302 SEARCH RETURN (SAVE) SUBJECT \"Meeting\"",
      "A302 SEARCH ret=(SAVE) SUBJECT \"Meeting\"" },
    { "A303 SEARCH RETURN (SAVE MIN) FROM \"Jones\"",
      "A303 SEARCH ret=(MIN SAVE) FROM \"Jones\"" },
    { "A304 SEARCH RETURN (COUNT) $", "A304 SEARCH ret=(COUNT) $" },
    { "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
      "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (\"DATE\" \"FROM\")])" },
    { "A003 STORE 2:4 +FLAGS (\\Deleted)", "A003 STORE 2:4 +FLAGS (\"\\\\Deleted\")" },
    { "A003 COPY 2:4 MEETING", "A003 COPY 2:4 \"MEETING\"" },
    { "a UID MOVE 42:69 foo", "a UID MOVE 42:69 \"foo\"" },
    { "A999 UID FETCH 4827313:4828442 FLAGS", "A999 UID FETCH 4827313:4828442 (FLAGS)" },
    { "A003 UID EXPUNGE 3000:3002", "A003 UID EXPUNGE 3000:3002" },
    { "a003 UID SEARCH UID 1:* UNDELETED", "a003 UID SEARCH UID 1:* UNDELETED" },
    /* RFC 3501 examples that RFC 9051 dropped or changed */
    { "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
      "A282 SEARCH FLAGGED SINCE 1994-02-01 NOT FROM \"Smith\"" },
    { "A283 SEARCH TEXT \"string not in mailbox\"", "A283 SEARCH TEXT \"string not in mailbox\"" },
    { "A284 SEARCH CHARSET UTF-8 TEXT {?}\r\nXXXXXX\x01",
      "A284 SEARCH charset=\"UTF-8\" TEXT \"XXXXXX\"" },
    { "A002 LSUB \"#news.\" \"comp.mail.*\"", "A002 LSUB \"#news.\" (\"comp.mail.*\")" },
    { "A003 LSUB \"#news.\" \"comp.%\"", "A003 LSUB \"#news.\" (\"comp.%\")" },
    { "A002 LIST \"~/Mail/\" \"%\"", "A002 LIST \"~/Mail/\" (\"%\")" },
    { "A042 STATUS blurdybloop (UIDNEXT MESSAGES RECENT UIDVALIDITY UNSEEN)",
      "A042 STATUS \"blurdybloop\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)" },
    { "A003 STORE 2:4 +FLAGS (\\Deleted)", "A003 STORE 2:4 +FLAGS (\"\\\\Deleted\")" },
    { "A999 UID FETCH 4827313:4828442 FLAGS", "A999 UID FETCH 4827313:4828442 (FLAGS)" },
    { "a001 fetch 12 full", "a001 FETCH 12 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)" },
    { "a002 fetch 12 body[header]", "a002 FETCH 12 (BODY[HEADER])" },
    { "a003 store 12 +flags \\deleted", "a003 STORE 12 +FLAGS (\"\\\\Deleted\")" },
    { "a004 fetch 12 fast", "a004 FETCH 12 (FLAGS INTERNALDATE RFC822.SIZE)" },
    { "a005 fetch 12 all", "a005 FETCH 12 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)" },
    { "a006 fetch 12 rfc822.header", "a006 FETCH 12 (RFC822.HEADER)" },
    { "a007 fetch 12 rfc822", "a007 FETCH 12 (RFC822)" },
    { "a008 fetch 12 rfc822.text", "a008 FETCH 12 (RFC822.TEXT)" },
    { "a047 NOOP", "a047 NOOP" },
    { "A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man",
      "A001 LOGIN \"FRED FOOBAR\" \"fat man\"" },
};

/* RFC 7888 (LITERAL+/-), 3502 (MULTIAPPEND), 3516 (BINARY), 4315 (UIDPLUS),
 * 6851 (MOVE), 4978 (COMPRESS), 2971 (ID), 9208 (QUOTA), 6154 (SPECIAL-USE),
 * 5161 (ENABLE), 5032 (WITHIN), 6855 (UTF8=ACCEPT) */
static const struct tcase ext_cases[] = {
    { "A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man",
      "A001 LOGIN \"FRED FOOBAR\" \"fat man\"" },
    { "A002 APPEND saved-messages (\\Seen) {?+}\r\nSubject: x\r\n\r\nhi\r\n\x01",
      "A002 APPEND \"saved-messages\" [flags=(\"\\\\Seen\") \"Subject: x\\x0d\\x0a\\x0d\\x0ahi\\x0d\\x0a\"]" },
    { "A003 APPEND saved-messages (\\Seen) {?}\r\nmessage one\r\n\x01 (\\Seen) {?}\r\nmessage two\r\n\x01",
      "A003 APPEND \"saved-messages\" [flags=(\"\\\\Seen\") \"message one\\x0d\\x0a\"] "
      "[flags=(\"\\\\Seen\") \"message two\\x0d\\x0a\"]" },
    { "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {?}\r\nm1\x01"
      " \"7-Feb-1994 22:43:04 -0800\" {?}\r\nm2\x01",
      "A003 APPEND \"saved-messages\" [flags=(\"\\\\Seen\") date=760686745-480 \"m1\"] "
      "[date=760689784-480 \"m2\"]" },
    { "A004 APPEND saved-messages {?}\r\na\x01 {?+}\r\nb\x01 () {?}\r\nc\x01",
      "A004 APPEND \"saved-messages\" [\"a\"] [\"b\"] [\"c\"]" },
    { "A005 APPEND INBOX ~{?}\r\nbin\x01", "A005 APPEND \"INBOX\" [binary \"bin\"]" },
    { "A006 APPEND INBOX (\\Draft) ~{?+}\r\nbin\x01",
      "A006 APPEND \"INBOX\" [flags=(\"\\\\Draft\") binary \"bin\"]" },
    { "A007 APPEND INBOX UTF8 (~{?}\r\nutf8\x01)", "A007 APPEND \"INBOX\" [binary utf8 \"utf8\"]" },
    { "A008 APPEND INBOX (\\Seen) \"01-Jan-2000 00:00:00 +0000\" UTF8 (~{?+}\r\nx\x01)",
      "A008 APPEND \"INBOX\" [flags=(\"\\\\Seen\") date=946684800+0 binary utf8 \"x\"]" },
    { "a003 FETCH 3 BINARY[1.2]", "a003 FETCH 3 (BINARY[1.2])" },
    { "a004 FETCH 3 BINARY.SIZE[1.2]", "a004 FETCH 3 (BINARY.SIZE[1.2])" },
    { "a005 FETCH 3 (BINARY.PEEK[1]<0.100> BINARY.SIZE[1])",
      "a005 FETCH 3 (BINARY.PEEK[1]<0.100> BINARY.SIZE[1])" },
    { "a006 UID FETCH 100:105 (BINARY[])", "a006 UID FETCH 100:105 (BINARY[])" },
    { "a007 FETCH 1 binary.peek[3.1]<10.20>", "a007 FETCH 1 (BINARY.PEEK[3.1]<10.20>)" },
    { "A004 COPY 2:4 meeting", "A004 COPY 2:4 \"meeting\"" },
    { "A005 UID COPY 305:310 meeting", "A005 UID COPY 305:310 \"meeting\"" },
    { "a MOVE 1:3 Archive", "a MOVE 1:3 \"Archive\"" },
    { "a UID MOVE 42:69 foo", "a UID MOVE 42:69 \"foo\"" },
    { "a COMPRESS DEFLATE", "a COMPRESS \"DEFLATE\"" },
    { "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")",
      "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")" },
    { "a042 ID NIL", "a042 ID NIL" },
    { "a043 ID ()", "a043 ID NIL" },
    { "a044 ID (\"name\" NIL \"os\" \"Linux\")", "a044 ID (\"name\" NIL \"os\" \"Linux\")" },
    { "a045 id (name Thunderbird version 115.0)",
      "a045 ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")" },
    { "A003 GETQUOTA \"\"", "A003 GETQUOTA \"\"" },
    { "A003 GETQUOTAROOT INBOX", "A003 GETQUOTAROOT \"INBOX\"" },
    { "S0000 GETQUOTA \"#user/alice\"", "S0000 GETQUOTA \"#user/alice\"" },
    { "S0001 SETQUOTA \"#user/alice\" (STORAGE 510)",
      "S0001 SETQUOTA \"#user/alice\" (\"STORAGE\" 510)" },
    { "S0002 SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)",
      "S0002 SETQUOTA \"\" (\"STORAGE\" 512 \"MESSAGE\" 1000)" },
    { "S0003 SETQUOTA \"\" ()", "S0003 SETQUOTA \"\" ()" },
    { "G0001 GETQUOTAROOT Drafts", "G0001 GETQUOTAROOT \"Drafts\"" },
    { "t1 CREATE \"Everything\" (USE (\\All))", "t1 CREATE \"Everything\" use=(\"\\\\All\")" },
    { "t2 CREATE \"Drafts\" (USE (\\Drafts \\Sent))",
      "t2 CREATE \"Drafts\" use=(\"\\\\Drafts\" \"\\\\Sent\")" },
    { "t3 CREATE \"Nothing\" (USE ())", "t3 CREATE \"Nothing\"" },
    { "t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)",
      "t1 LIST sel=() \"\" (\"%\") ret=(SPECIAL-USE)" },
    { "t3 LIST (SPECIAL-USE) \"\" \"*\"", "t3 LIST sel=(SPECIAL-USE) \"\" (\"*\") ret=()" },
    { "t4 LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"%\" RETURN (STATUS (MESSAGES UNSEEN) CHILDREN)",
      "t4 LIST sel=(RECURSIVEMATCH SPECIAL-USE) \"\" (\"%\") ret=(CHILDREN STATUS) "
      "status=(MESSAGES UNSEEN)" },
    { "t5 ENABLE CONDSTORE QRESYNC", "t5 ENABLE (\"CONDSTORE\" \"QRESYNC\")" },
    { "t6 ENABLE IMAP4rev2", "t6 ENABLE (\"IMAP4rev2\")" },
    { "a SEARCH YOUNGER 3600", "a SEARCH YOUNGER 3600" },
    { "a SEARCH OLDER 86400 UNSEEN", "a SEARCH OLDER 86400 UNSEEN" },
    { "a UID SEARCH RETURN (MIN MAX ALL COUNT) UNDELETED",
      "a UID SEARCH ret=(MIN MAX ALL COUNT) UNDELETED" },
    { "a STATUS INBOX (SIZE DELETED APPENDLIMIT HIGHESTMODSEQ)",
      "a STATUS \"INBOX\" (DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)" },
};

/* RFC 7162 (CONDSTORE/QRESYNC) */
static const struct tcase condstore_cases[] = {
    { "a103 SELECT INBOX (CONDSTORE)", "a103 SELECT \"INBOX\" condstore" },
    { "a104 EXAMINE INBOX (CONDSTORE)", "a104 EXAMINE \"INBOX\" condstore" },
    { "a105 FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)",
      "a105 FETCH 1:* (FLAGS) changedsince=12345" },
    { "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)",
      "s100 UID FETCH 1:* (FLAGS) changedsince=12345" },
    { "s101 UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345)",
      "s101 UID FETCH 1:* (FLAGS MODSEQ) changedsince=12345" },
    { "a FETCH 1:3 (MODSEQ)", "a FETCH 1:3 (MODSEQ)" },
    { "a FETCH 1 MODSEQ", "a FETCH 1 (MODSEQ)" },
    { "a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)",
      "a103 UID STORE 6,4,8 unchangedsince=12121230045 +FLAGS.SILENT (\"\\\\Deleted\")" },
    { "a104 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
      "a104 STORE 7,5,9 unchangedsince=320162338 +FLAGS.SILENT (\"\\\\Deleted\")" },
    { "a105 STORE 50,60 (UNCHANGEDSINCE 0) -FLAGS ($NoJunk)",
      "a105 STORE 50,60 unchangedsince=0 -FLAGS (\"$NoJunk\")" },
    { "a106 STORE 7 (UNCHANGEDSINCE 12345) FLAGS.SILENT (\\Seen $MDNSent)",
      "a106 STORE 7 unchangedsince=12345 FLAGS.SILENT (\"\\\\Seen\" \"$MDNSent\")" },
    { "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
      "a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338" },
    { "a SEARCH MODSEQ \"/flags/$Junk\" priv 1", "a SEARCH MODSEQ \"/flags/$Junk\" priv 1" },
    { "a SEARCH MODSEQ \"/flags/\\\\Seen\" shared 0", "a SEARCH MODSEQ \"/flags/\\\\Seen\" shared 0" },
    { "t SEARCH OR NOT MODSEQ 720162338 LARGER 50000",
      "t SEARCH OR NOT MODSEQ 720162338 LARGER 50000" },
    { "a STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)",
      "a STATUS \"blurdybloop\" (MESSAGES UIDNEXT HIGHESTMODSEQ)" },
    { "A142 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
      "A142 SELECT \"INBOX\" qresync=67890007,20050715194045000 known=41,43:211,214:541" },
    { "B142 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))",
      "B142 SELECT \"INBOX\" qresync=67890007,90060115194045000 known=41:211,214:541" },
    { "A143 SELECT INBOX (QRESYNC (67890007 90060115194045000))",
      "A143 SELECT \"INBOX\" qresync=67890007,90060115194045000" },
    { "B143 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
      "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))",
      "B143 SELECT \"INBOX\" qresync=67890007,90060115194045000 known=1:29997 "
      "seqs=5000,7500,9000,9990:9999 "
      "uids=15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997" },
    { "C1 SELECT INBOX (QRESYNC (1 2 (1:3 10:12)))",
      "C1 SELECT \"INBOX\" qresync=1,2 seqs=1:3 uids=10:12" },
    { "C2 SELECT INBOX (CONDSTORE QRESYNC (1 2))",
      "C2 SELECT \"INBOX\" condstore qresync=1,2" },
    { "s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
      "s100 UID FETCH 300:500 (FLAGS) changedsince=12345 vanished" },
    { "s101 UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 1)",
      "s101 UID FETCH 1:* (FLAGS) changedsince=1 vanished" },
    { "A202 UID EXPUNGE 3:5,8", "A202 UID EXPUNGE 3:5,8" },
    { "A01 UID FETCH 1:* FLAGS (CHANGEDSINCE 0)", "A01 UID FETCH 1:* (FLAGS) changedsince=0" },
};

/* RFC 5256 (SORT, THREAD) and 5957 (DISPLAYFROM/TO) */
static const struct tcase sort_cases[] = {
    { "A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994",
      "A282 SORT (SUBJECT) charset=\"UTF-8\" SINCE 1994-02-01" },
    { "A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
      "A283 SORT (SUBJECT REVERSE DATE) charset=\"UTF-8\" ALL" },
    { "A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"",
      "A284 SORT (SUBJECT) charset=\"US-ASCII\" TEXT \"not in mailbox\"" },
    { "A285 UID SORT (REVERSE ARRIVAL) UTF-8 UNDELETED",
      "A285 UID SORT (REVERSE ARRIVAL) charset=\"UTF-8\" UNDELETED" },
    { "A286 SORT (ARRIVAL CC DATE FROM SIZE SUBJECT TO) UTF-8 ALL",
      "A286 SORT (ARRIVAL CC DATE FROM SIZE SUBJECT TO) charset=\"UTF-8\" ALL" },
    { "A1 SORT (DISPLAYFROM) UTF-8 ALL", "A1 SORT (DISPLAYFROM) charset=\"UTF-8\" ALL" },
    { "A2 SORT (REVERSE DISPLAYTO) UTF-8 ALL",
      "A2 SORT (REVERSE DISPLAYTO) charset=\"UTF-8\" ALL" },
    { "A3 sort (reverse size) \"utf-8\" 1:100",
      "A3 SORT (REVERSE SIZE) charset=\"utf-8\" 1:100" },
    { "A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000",
      "A283 THREAD ORDEREDSUBJECT charset=\"UTF-8\" SINCE 2000-03-05" },
    { "A284 THREAD ORDEREDSUBJECT US-ASCII TEXT \"gewp\"",
      "A284 THREAD ORDEREDSUBJECT charset=\"US-ASCII\" TEXT \"gewp\"" },
    { "A285 UID THREAD REFERENCES UTF-8 SINCE 5-MAR-2000",
      "A285 UID THREAD REFERENCES charset=\"UTF-8\" SINCE 2000-03-05" },
    { "A286 THREAD references us-ascii (OR FROM a FROM b)",
      "A286 THREAD REFERENCES charset=\"us-ascii\" (OR FROM \"a\" FROM \"b\")" },
};

/* RFC 5465 (NOTIFY) */
static const struct tcase notify_cases[] = {
    { "a NOTIFY NONE", "a NOTIFY NONE" },
    { "b notify set status (selected MessageNew (uid body.peek[header.fields (from to subject)]) "
      "MessageExpunge) (subtree Lists MessageNew MessageExpunge)",
      "b NOTIFY SET STATUS (selected (MessageNew MessageExpunge) (UID BODY.PEEK[HEADER.FIELDS "
      "(\"from\" \"to\" \"subject\")])) (subtree (\"Lists\") (MessageNew MessageExpunge))" },
    { "c NOTIFY SET (selected (MessageNew (UID) MessageExpunge FlagChange)) "
      "(mailboxes (INBOX Drafts) (MessageNew MessageExpunge))",
      "c NOTIFY SET (selected (MessageNew MessageExpunge FlagChange) (UID)) "
      "(mailboxes (\"INBOX\" \"Drafts\") (MessageNew MessageExpunge))" },
    { "d NOTIFY SET (personal (MailboxName SubscriptionChange MailboxMetadataChange "
      "ServerMetadataChange))",
      "d NOTIFY SET (personal (MailboxName SubscriptionChange MailboxMetadataChange "
      "ServerMetadataChange))" },
    { "e NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange AnnotationChange)) "
      "(inboxes NONE) (subscribed (MessageNew MessageExpunge XFutureEvent))",
      "e NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange AnnotationChange)) "
      "(inboxes ()) (subscribed (MessageNew MessageExpunge unknown))" },
    { "f NOTIFY SET STATUS (personal (MessageNew MessageExpunge))",
      "f NOTIFY SET STATUS (personal (MessageNew MessageExpunge))" },
    { "g NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew "
      "MessageExpunge))",
      "!SELECTED given twice" },
    { "h NOTIFY SET (selected (MailboxName))", "!Only message events for the selected mailbox" },
    { "i NOTIFY SET (selected (MessageNew))", "!MessageNew and MessageExpunge go together" },
    { "j NOTIFY SET (personal (FlagChange))", "!FlagChange needs MessageNew and MessageExpunge" },
    { "k NOTIFY SET", "!Missing NOTIFY event groups" },
    { "l NOTIFY SET (bogus (MessageNew))", "!Invalid NOTIFY mailbox filter" },
    { "m NOTIFY BOGUS", "!Invalid NOTIFY arguments" },
    { "n NOTIFY SET (personal (MessageNew MessageExpunge)) ", "!Missing NOTIFY event group" },
};

/* LIST, names, strings and literals */
static const struct tcase string_cases[] = {
    { "a SELECT inbox", "a SELECT \"INBOX\"" },
    { "a SELECT \"InBoX\"", "a SELECT \"INBOX\"" },
    { "a SELECT INBOX/sub", "a SELECT \"INBOX/sub\"" },
    { "a SELECT \"a \\\"quoted\\\" \\\\ name\"", "a SELECT \"a \\\"quoted\\\" \\\\ name\"" },
    { "a SELECT \"\"", "a SELECT \"\"" },
    { "a SELECT {0}\r\n", "a SELECT \"\"" },
    { "a SELECT {?}\r\nwith\r\ncrlf\x01", "a SELECT \"with\\x0d\\x0acrlf\"" },
    { "a SELECT \"Entw\xc3\xbc" "rfe\"", "a SELECT \"Entw\\xc3\\xbcrfe\"" },
    { "a SELECT Entw&APw-rfe", "a SELECT \"Entw&APw-rfe\"" },
    { "a SELECT ]weird]", "a SELECT \"]weird]\"" },
    { "a SELECT ~home", "a SELECT \"~home\"" },
    { "a LIST \"\" *", "a LIST \"\" (\"*\")" },
    { "a LIST \"\" %/%", "a LIST \"\" (\"%/%\")" },
    { "a LIST \"\" foo]*", "a LIST \"\" (\"foo]*\")" },
    { "a LIST foo/ bar", "a LIST \"foo/\" (\"bar\")" },
    { "a LIST \"\" {?}\r\n*\x01", "a LIST \"\" (\"*\")" },
    { "a LIST {?}\r\nref\x01 {?+}\r\n%\x01", "a LIST \"ref\" (\"%\")" },
    { "a list \"\" \"\"", "a LIST \"\" (\"\")" },
    { "a LIST (subscribed) \"\" (INBOX Sent* {?}\r\nx y\x01)",
      "a LIST sel=(SUBSCRIBED) \"\" (\"INBOX\" \"Sent*\" \"x y\") ret=()" },
    { "a LIST \"\" % RETURN ()", "a LIST sel=() \"\" (\"%\") ret=()" },
    { "a LIST \"\" % RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE))",
      "a LIST sel=() \"\" (\"%\") ret=(STATUS) status=(MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
      "DELETED SIZE)" },
    { "a LSUB \"\" *", "a LSUB \"\" (\"*\")" },
    { "a LOGIN \"user@example.com\" \"pa ss\\\\w\\\"d\"",
      "a LOGIN \"user@example.com\" \"pa ss\\\\w\\\"d\"" },
    { "a LOGIN {?}\r\nuser\x01 {?}\r\npass\x01", "a LOGIN \"user\" \"pass\"" },
    { "a LOGIN user {?+}\r\np\"a)s(s{\x01", "a LOGIN \"user\" \"p\\\"a)s(s{\"" },
    { "a LOGIN \"\" \"\"", "a LOGIN \"\" \"\"" },
    { "a LOGIN ~user ~pass", "a LOGIN \"~user\" \"~pass\"" },
    { "a LOGIN u\xc3\xa9 p", "!Unexpected characters in the command" },
    { "a LOGIN \"u\xc3\xa9\" p", "a LOGIN \"u\\xc3\\xa9\" \"p\"" },
    { "a RENAME {?}\r\nold\x01 {?}\r\nnew\x01", "a RENAME \"old\" \"new\"" },
    { "a RENAME \"a b\" c", "a RENAME \"a b\" \"c\"" },
    { "a CREATE {?+}\r\nnew box\x01", "a CREATE \"new box\"" },
    { "a DELETE {?}\r\nbox\x01", "a DELETE \"box\"" },
    { "a SUBSCRIBE {?}\r\nbox\x01", "a SUBSCRIBE \"box\"" },
    { "a UNSUBSCRIBE \"box\"", "a UNSUBSCRIBE \"box\"" },
    { "a STATUS {?}\r\nbox\x01 (MESSAGES)", "a STATUS \"box\" (MESSAGES)" },
    { "a EXAMINE {?}\r\nbox\x01 (CONDSTORE)", "a EXAMINE \"box\" condstore" },
    { "a COPY 1 {?}\r\nbox\x01", "a COPY 1 \"box\"" },
    { "a UID MOVE 1 {?+}\r\nbox\x01", "a UID MOVE 1 \"box\"" },
    { "a APPEND {?}\r\nbox\x01 {?}\r\nmsg\x01", "a APPEND \"box\" [\"msg\"]" },
    { "a GETQUOTA {?}\r\nroot\x01", "a GETQUOTA \"root\"" },
    { "a GETQUOTAROOT {?}\r\ninbox\x01", "a GETQUOTAROOT \"INBOX\"" },
    { "a SETQUOTA {?}\r\nroot\x01 (STORAGE 1)", "a SETQUOTA \"root\" (\"STORAGE\" 1)" },
    { "a ID ({?}\r\nname\x01 {?}\r\nvalue\x01)", "a ID (\"name\" \"value\")" },
    { "a SEARCH CHARSET {?}\r\nUTF-8\x01 ALL", "a SEARCH charset=\"UTF-8\" ALL" },
    { "a SEARCH HEADER {?}\r\nX-Foo\x01 {?}\r\nbar\x01",
      "a SEARCH HEADER \"X-Foo\" \"bar\"" },
    { "a SEARCH BCC {?}\r\nb\x01 BODY {?}\r\nb\x01 CC {?}\r\nc\x01 FROM {?}\r\nf\x01",
      "a SEARCH BCC \"b\" BODY \"b\" CC \"c\" FROM \"f\"" },
    { "a SEARCH SUBJECT {?}\r\ns\x01 TEXT {?}\r\nt\x01 TO {?}\r\nt\x01",
      "a SEARCH SUBJECT \"s\" TEXT \"t\" TO \"t\"" },
    { "a SORT (DATE) {?}\r\nUTF-8\x01 ALL", "a SORT (DATE) charset=\"UTF-8\" ALL" },
    { "a THREAD REFERENCES {?}\r\nUTF-8\x01 ALL",
      "a THREAD REFERENCES charset=\"UTF-8\" ALL" },
    { "a FETCH 1 BODY[HEADER.FIELDS ({?}\r\nSubject\x01 To)]",
      "a FETCH 1 (BODY[HEADER.FIELDS (\"Subject\" \"To\")])" },
    { "a NOTIFY SET (mailboxes {?}\r\nbox\x01 (MessageNew MessageExpunge))",
      "a NOTIFY SET (mailboxes (\"box\") (MessageNew MessageExpunge))" },
    { "a SELECT ~{?}\r\nbin\x01", "!Binary literal not allowed here" },
    { "a SELECT {3}\r\nab", "!Truncated literal" },
    { "a SELECT {3}\nabc", "!Invalid literal" },
    { "a SELECT {3} abc", "!Invalid literal" },
    { "a SELECT {x}\r\nabc", "!Invalid literal size" },
    { "a SELECT {99999999999999999999}\r\nabc", "!Invalid literal size" },
    { "a SELECT \"unterminated", "!Unterminated quoted string" },
    { "a SELECT \"bad \\x escape\"", "!Invalid escape in a quoted string" },
    { "a SELECT \"cr\rin\"", "!Invalid character in a quoted string" },
    { "a SELECT foo\"bar", "!Unexpected characters after the command" },
    { "a SELECT foo%", "!Unexpected characters after the command" },
    { "a SELECT INBOX)", "!Unexpected characters after the command" },
    { "a CREATE x)", "!Unexpected characters after the command" },
    { "a LIST \"\" %)", "!Unexpected characters after the command" },
    { "a SELECT (foo)", "!Invalid characters in an argument" },
    { "a LIST \"\" (", "!Missing mailbox pattern" },
    { "a LIST \"\" ()", "!Missing mailbox pattern" },
    { "a LIST \"\" (a b", "!Unterminated mailbox pattern list" },
    { "a LIST (BOGUS) \"\" %", "!Invalid LIST selection option" },
    { "a LIST (RECURSIVEMATCH) \"\" %", "!RECURSIVEMATCH needs another selection option" },
    { "a LIST (REMOTE RECURSIVEMATCH) \"\" %", "!RECURSIVEMATCH needs another selection option" },
    { "a LIST \"\" % RETURN (BOGUS)", "!Invalid LIST return option" },
    { "a LIST \"\" % RETURN (STATUS ())", "!Invalid status item" },
    { "a LIST \"\" % RETURNS (CHILDREN)", "!Unexpected characters after the command" },
    { "a LIST \"\"", "!Missing mailbox pattern" },
    { "a LIST", "!Missing reference name" },
    { "a LSUB \"\" (a b)", "!Invalid characters in an argument" },
    { "a LSUB \"\" * RETURN (CHILDREN)", "!Unexpected characters after the command" },
};

/* Sequence sets */
static const struct tcase seq_cases[] = {
    { "a FETCH 1 FLAGS", "a FETCH 1 (FLAGS)" },
    { "a FETCH * FLAGS", "a FETCH * (FLAGS)" },
    { "a FETCH 1:* FLAGS", "a FETCH 1:* (FLAGS)" },
    { "a FETCH *:1 FLAGS", "a FETCH *:1 (FLAGS)" },
    { "a FETCH 5:2 FLAGS", "a FETCH 5:2 (FLAGS)" },
    { "a FETCH 4294967295 FLAGS", "a FETCH 4294967295 (FLAGS)" },
    { "a FETCH 1:4294967295 FLAGS", "a FETCH 1:4294967295 (FLAGS)" },
    { "a FETCH 1,2,3:5,7:*,* FLAGS", "a FETCH 1,2,3:5,7:*,* (FLAGS)" },
    { "a FETCH 3:3 FLAGS", "a FETCH 3 (FLAGS)" },
    { "a FETCH $ FLAGS", "a FETCH $ (FLAGS)" },
    { "a FETCH 1:3,$ FLAGS", "a FETCH 1:3,$ (FLAGS)" },
    { "a UID FETCH *:* FLAGS", "a UID FETCH * (FLAGS)" },
    { "a FETCH 0 FLAGS", "!Invalid sequence set" },
    { "a FETCH 0:5 FLAGS", "!Invalid sequence set" },
    { "a FETCH 5:0 FLAGS", "!Invalid sequence set" },
    { "a FETCH 4294967296 FLAGS", "!Invalid sequence set" },
    { "a FETCH 99999999999999999999 FLAGS", "!Invalid sequence set" },
    { "a FETCH 01 FLAGS", "!Invalid sequence set" },
    { "a FETCH 1, FLAGS", "!Invalid sequence set" },
    { "a FETCH ,1 FLAGS", "!Invalid sequence set" },
    { "a FETCH 1,,2 FLAGS", "!Invalid sequence set" },
    { "a FETCH 1: FLAGS", "!Invalid sequence set" },
    { "a FETCH :1 FLAGS", "!Invalid sequence set" },
    { "a FETCH 1:2:3 FLAGS", "!Invalid sequence set" },
    { "a FETCH $:3 FLAGS", "!Invalid sequence set" },
    { "a FETCH 3:$ FLAGS", "!Invalid sequence set" },
    { "a FETCH ** FLAGS", "!Invalid sequence set" },
    { "a FETCH -1 FLAGS", "!Invalid sequence set" },
    { "a FETCH x FLAGS", "!Invalid sequence set" },
    { "a FETCH", "!Missing sequence set" },
    { "a FETCH 1", "!Missing fetch items" },
    { "a STORE 1:* +FLAGS \\Seen", "a STORE 1:* +FLAGS (\"\\\\Seen\")" },
    { "a STORE $ -FLAGS \\Seen", "a STORE $ -FLAGS (\"\\\\Seen\")" },
    { "a COPY 2:4,$ box", "a COPY 2:4,$ \"box\"" },
    { "a UID EXPUNGE *", "a UID EXPUNGE *" },
    { "a UID EXPUNGE $", "a UID EXPUNGE $" },
    { "a UID EXPUNGE", "!Missing sequence set" },
    { "a UID EXPUNGE 0", "!Invalid sequence set" },
    { "a EXPUNGE 1:3", "!Unexpected characters after the command" },
    { "a SELECT INBOX (QRESYNC (1 2 1:*))", "!Invalid sequence set" },
    { "a SELECT INBOX (QRESYNC (1 2 $))", "!Invalid sequence set" },
    { "a SELECT INBOX (QRESYNC (1 2 (1:* 1:5)))", "!Invalid sequence set" },
    { "a SELECT INBOX (QRESYNC (0 2))", "!Invalid UIDVALIDITY" },
    { "a SELECT INBOX (QRESYNC (1 0))", "!Invalid mod-sequence" },
    { "a SELECT INBOX (QRESYNC (1 9223372036854775808))", "!Invalid mod-sequence" },
    { "a SELECT INBOX (QRESYNC (1 9223372036854775807))",
      "a SELECT \"INBOX\" qresync=1,9223372036854775807" },
    { "a SELECT INBOX (QRESYNC (1))", "!Missing mod-sequence" },
    { "a SELECT INBOX (QRESYNC (1 2 (1:3)))", "!Invalid QRESYNC parameter" },
    { "a SELECT INBOX (QRESYNC (1 2 1:3 (1 2) x))", "!Invalid QRESYNC parameter" },
    { "a SELECT INBOX (QRESYNC 1 2)", "!Invalid QRESYNC parameter" },
    { "a SELECT INBOX (CONDSTORE CONDSTORE)", "!Invalid SELECT parameters" },
    { "a SELECT INBOX (BOGUS)", "!Invalid SELECT parameters" },
    { "a SELECT INBOX ()", "!Invalid SELECT parameters" },
    { "a SELECT INBOX CONDSTORE", "!Invalid SELECT parameters" },
    { "a SELECT INBOX (CONDSTORE", "!Invalid SELECT parameters" },
};

/* Search programs */
static const struct tcase search_cases[] = {
    { "a SEARCH ALL", "a SEARCH ALL" },
    { "a SEARCH all", "a SEARCH ALL" },
    { "a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN",
      "a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN" },
    { "a SEARCH UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
      "a SEARCH UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN" },
    { "a SEARCH NEW OLD RECENT", "a SEARCH NEW OLD RECENT" },
    { "a SEARCH KEYWORD $Forwarded UNKEYWORD $Junk",
      "a SEARCH KEYWORD \"$Forwarded\" UNKEYWORD \"$Junk\"" },
    { "a SEARCH KEYWORD \\Seen", "!Invalid keyword" },
    { "a SEARCH BCC x BODY y CC z FROM w SUBJECT v TEXT u TO t",
      "a SEARCH BCC \"x\" BODY \"y\" CC \"z\" FROM \"w\" SUBJECT \"v\" TEXT \"u\" TO \"t\"" },
    { "a SEARCH HEADER Message-ID \"<x@y>\"", "a SEARCH HEADER \"Message-ID\" \"<x@y>\"" },
    { "a SEARCH HEADER X-Spam \"\"", "a SEARCH HEADER \"X-Spam\" \"\"" },
    { "a SEARCH BEFORE 1-Jan-2000 ON 29-Feb-2000 SINCE 31-Dec-1999",
      "a SEARCH BEFORE 2000-01-01 ON 2000-02-29 SINCE 1999-12-31" },
    { "a SEARCH SENTBEFORE 01-Jan-2000 SENTON \"2-feb-2001\" SENTSINCE 3-MAR-2002",
      "a SEARCH SENTBEFORE 2000-01-01 SENTON 2001-02-02 SENTSINCE 2002-03-03" },
    { "a SEARCH LARGER 0 SMALLER 9223372036854775807",
      "a SEARCH LARGER 0 SMALLER 9223372036854775807" },
    { "a SEARCH LARGER 9223372036854775808", "!Invalid number" },
    { "a SEARCH LARGER -1", "!Invalid number" },
    { "a SEARCH LARGER x", "!Invalid number" },
    { "a SEARCH UID 1:3,5 2:4", "a SEARCH UID 1:3,5 2:4" },
    { "a SEARCH UID $", "a SEARCH UID $" },
    { "a SEARCH 1:* NOT 3", "a SEARCH 1:* NOT 3" },
    { "a SEARCH (FROM a TO b)", "a SEARCH (FROM \"a\" TO \"b\")" },
    { "a SEARCH ((SEEN))", "a SEARCH ((SEEN))" },
    { "a SEARCH OR SEEN FLAGGED", "a SEARCH OR SEEN FLAGGED" },
    { "a SEARCH OR (SEEN FLAGGED) NOT (DELETED DRAFT)",
      "a SEARCH OR (SEEN FLAGGED) NOT (DELETED DRAFT)" },
    { "a SEARCH OR OR FROM a FROM b FROM c", "a SEARCH OR OR FROM \"a\" FROM \"b\" FROM \"c\"" },
    { "a SEARCH NOT NOT SEEN", "a SEARCH NOT NOT SEEN" },
    { "a SEARCH OLDER 1 YOUNGER 4294967295", "a SEARCH OLDER 1 YOUNGER 4294967295" },
    { "a SEARCH OLDER 0", "!Invalid number" },
    { "a SEARCH MODSEQ 0", "a SEARCH MODSEQ 0" },
    { "a SEARCH MODSEQ \"/flags/\" all 1", "!Invalid MODSEQ entry name" },
    { "a SEARCH MODSEQ \"/annotation/x\" all 1", "!Invalid MODSEQ entry name" },
    { "a SEARCH MODSEQ \"/flags/x\" both 1", "!Invalid MODSEQ entry type" },
    { "a SEARCH MODSEQ \"/flags/x\" all", "!Missing mod-sequence" },
    { "a SEARCH MODSEQ", "!Missing search key argument" },
    { "a SEARCH CHARSET UTF-8 ALL", "a SEARCH charset=\"UTF-8\" ALL" },
    { "a SEARCH charset \"utf-8\" SUBJECT \"x\"", "a SEARCH charset=\"utf-8\" SUBJECT \"x\"" },
    { "a SEARCH RETURN (ALL) CHARSET UTF-8 ALL", "a SEARCH ret=(ALL) charset=\"UTF-8\" ALL" },
    { "a SEARCH CHARSET UTF-8", "!Missing search key" },
    { "a SEARCH CHARSET", "!Unknown search key" },
    { "a SEARCH RETURN (BOGUS) ALL", "!Invalid SEARCH return option" },
    { "a SEARCH RETURN (MIN) ", "!Missing search key" },
    { "a SEARCH RETURN ALL", "!Invalid RETURN options" },
    { "a SEARCH", "!Missing search key" },
    { "a SEARCH ", "!Missing search key" },
    { "a SEARCH  ALL", "!Unexpected space in the command" },
    { "a SEARCH ALL ", "!Missing search key" },
    { "a SEARCH BOGUS", "!Unknown search key" },
    { "a SEARCH FROM", "!Missing search key argument" },
    { "a SEARCH FROM ", "!Missing search key argument" },
    { "a SEARCH (", "!Missing search key" },
    { "a SEARCH ()", "!Invalid search key" },
    { "a SEARCH (SEEN", "!Unterminated search key list" },
    { "a SEARCH SEEN)", "!Unexpected characters in the command" },
    { "a SEARCH OR SEEN", "!Missing second key of OR" },
    { "a SEARCH NOT", "!Missing search key argument" },
    { "a SEARCH HEADER Subject", "!Missing header value" },
    { "a SEARCH SINCE 1-Feb-94", "!Invalid date" },
    { "a SEARCH SINCE 32-Jan-2000", "!Invalid date" },
    { "a SEARCH SINCE 29-Feb-1900", "!Invalid date" },
    { "a SEARCH SINCE 29-Feb-2004", "a SEARCH SINCE 2004-02-29" },
    { "a SEARCH SINCE 31-Apr-2004", "!Invalid date" },
    { "a SEARCH SINCE 0-Jan-2004", "!Invalid date" },
    { "a SEARCH SINCE 100-Jan-2004", "!Invalid date" },
    { "a SEARCH SINCE 1-Foo-2004", "!Invalid date" },
    { "a SEARCH SINCE 1-Jan-0000", "!Invalid date" },
    { "a SEARCH SINCE 1-Jan-20041", "!Invalid date" },
    { "a SEARCH SINCE \"1-Jan-2004", "!Invalid date" },
    { "a SEARCH SINCE 1 Jan 2004", "!Invalid date" },
    { "a SEARCH SINCE 2004-01-01", "!Invalid date" },
    { "a SEARCH SINCE 1-Jan-9999", "a SEARCH SINCE 9999-01-01" },
    { "a UID SEARCH 1:* UID 5", "a UID SEARCH 1:* UID 5" },
};

/* FETCH items and sections */
static const struct tcase fetch_cases[] = {
    { "a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE UID BODY BODYSTRUCTURE)",
      "a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE UID BODY BODYSTRUCTURE)" },
    { "a FETCH 1 BODY[]", "a FETCH 1 (BODY[])" },
    { "a FETCH 1 BODY.PEEK[]", "a FETCH 1 (BODY.PEEK[])" },
    { "a FETCH 1 BODY[]<0.100>", "a FETCH 1 (BODY[]<0.100>)" },
    { "a FETCH 1 BODY[TEXT]", "a FETCH 1 (BODY[TEXT])" },
    { "a FETCH 1 BODY[HEADER]", "a FETCH 1 (BODY[HEADER])" },
    { "a FETCH 1 BODY[1]", "a FETCH 1 (BODY[1])" },
    { "a FETCH 1 BODY[2.MIME]", "a FETCH 1 (BODY[2.MIME])" },
    { "a FETCH 1 BODY[1.2.3]", "a FETCH 1 (BODY[1.2.3])" },
    { "a FETCH 1 BODY[1.2.3.HEADER.FIELDS (A B)]",
      "a FETCH 1 (BODY[1.2.3.HEADER.FIELDS (\"A\" \"B\")])" },
    { "a FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Received DKIM-Signature)]<10.20>",
      "a FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (\"Received\" \"DKIM-Signature\")]<10.20>)" },
    { "a FETCH 1 BODY[4.2.HEADER]", "a FETCH 1 (BODY[4.2.HEADER])" },
    { "a FETCH 1 BODY[4.2.TEXT]", "a FETCH 1 (BODY[4.2.TEXT])" },
    { "a FETCH 1 body.peek[header.fields (\"Subject\" {?}\r\nFrom\x01)]",
      "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (\"Subject\" \"From\")])" },
    { "a FETCH 1 (BODY[]<0.1> BODY[]<18446744073.1>)",
      "a FETCH 1 (BODY[]<0.1> BODY[]<18446744073.1>)" },
    { "a FETCH 1 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date "
      "Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type "
      "Reply-To)])",
      "a FETCH 1 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (\"From\" \"To\" \"Cc\" \"Bcc\" "
      "\"Subject\" \"Date\" \"Message-ID\" \"Priority\" \"X-Priority\" \"References\" "
      "\"Newsgroups\" \"In-Reply-To\" \"Content-Type\" \"Reply-To\")])" },
    { "a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)", "a UID FETCH 1:* (FLAGS) changedsince=5" },
    { "a FETCH 1 BODY[MIME]", "!Invalid section" },
    { "a FETCH 1 BODY[1.]", "!Invalid section" },
    { "a FETCH 1 BODY[.1]", "!Invalid section" },
    { "a FETCH 1 BODY[0]", "!Invalid section" },
    { "a FETCH 1 BODY[1..2]", "!Invalid section" },
    { "a FETCH 1 BODY[1.BOGUS]", "!Invalid section" },
    { "a FETCH 1 BODY[HEADER.FIELDS]", "!Missing header field list" },
    { "a FETCH 1 BODY[HEADER.FIELDS ()]", "!Invalid header field list" },
    { "a FETCH 1 BODY[HEADER.FIELDS (A]", "!Invalid header field list" },
    { "a FETCH 1 BODY[HEADER.FIELDS A]", "!Missing header field list" },
    { "a FETCH 1 BODY[TEXT", "!Invalid section" },
    { "a FETCH 1 BODY[4294967296]", "!Invalid section" },
    { "a FETCH 1 BODY[]<0>", "!Invalid partial range" },
    { "a FETCH 1 BODY[]<0.0>", "!Invalid partial range" },
    { "a FETCH 1 BODY[]<a.1>", "!Invalid partial range" },
    { "a FETCH 1 BODY[]<1.2", "!Invalid partial range" },
    { "a FETCH 1 BODY.PEEK", "!Invalid fetch item" },
    { "a FETCH 1 BINARY", "!Invalid fetch item" },
    { "a FETCH 1 BINARY[TEXT]", "!Invalid section" },
    { "a FETCH 1 BINARY[1.MIME]", "!Invalid section" },
    { "a FETCH 1 BINARY.SIZE[1]<0.5>", "!Unexpected characters after the command" },
    { "a FETCH 1 FLAGS)", "!Unexpected characters after the command" },
    { "a FETCH 1 (FLAGS))", "!Unexpected characters after the command" },
    { "a FETCH 1 BOGUS", "!Invalid fetch item" },
    { "a FETCH 1 (FLAGS", "!Unterminated fetch item list" },
    { "a FETCH 1 ()", "!Invalid fetch item" },
    { "a FETCH 1 (ALL)", "!Invalid fetch item" },
    { "a FETCH 1 (FLAGS)(UID)", "!Unexpected characters after the command" },
    { "a FETCH 1 FLAGS UID", "!Unexpected characters after the command" },
    { "a FETCH 1 (FLAGS) (VANISHED CHANGEDSINCE 1)", "!VANISHED needs UID FETCH" },
    { "a UID FETCH 1 (FLAGS) (VANISHED)", "!VANISHED needs CHANGEDSINCE" },
    { "a FETCH 1 (FLAGS) (CHANGEDSINCE)", "!Missing mod-sequence" },
    { "a FETCH 1 (FLAGS) (CHANGEDSINCE 1 CHANGEDSINCE 2)", "!Invalid FETCH modifier" },
    { "a FETCH 1 (FLAGS) (BOGUS)", "!Invalid FETCH modifier" },
    { "a FETCH 1 (FLAGS) ()", "!Invalid FETCH modifier" },
    { "a FETCH 1 (FLAGS) x", "!Unexpected characters after the command" },
};

/* STORE, flags */
static const struct tcase store_cases[] = {
    { "a STORE 1 FLAGS ()", "a STORE 1 FLAGS ()" },
    { "a STORE 1 FLAGS.SILENT (\\seen \\ANSWERED \\flagged \\deleted \\draft)",
      "a STORE 1 FLAGS.SILENT (\"\\\\Seen\" \"\\\\Answered\" \"\\\\Flagged\" \"\\\\Deleted\" "
      "\"\\\\Draft\")" },
    { "a STORE 1 +FLAGS $Forwarded NonJunk \\Seen",
      "a STORE 1 +FLAGS (\"$Forwarded\" \"NonJunk\" \"\\\\Seen\")" },
    { "a STORE 1 -flags.silent (\\X-Ext)", "a STORE 1 -FLAGS.SILENT (\"\\\\X-Ext\")" },
    { "a STORE 1 +FLAGS (\\*)", "!Invalid flag" },
    { "a STORE 1 +FLAGS (foo]bar)", "!Invalid flag" },
    { "a STORE 1 +FLAGS (\"quoted\")", "!Invalid flag" },
    { "a STORE 1 +FLAGS (a  b)", "!Invalid flag" },
    { "a STORE 1 +FLAGS (a", "!Unterminated flag list" },
    { "a STORE 1 +FLAGS (a) b", "!Unexpected characters after the command" },
    { "a STORE 1 +FLAGS", "!Missing flags" },
    { "a STORE 1 FLAG (\\Seen)", "!Invalid message data item" },
    { "a STORE 1 *FLAGS (\\Seen)", "!Invalid message data item" },
    { "a STORE 1 +FLAGS.LOUD (\\Seen)", "!Invalid message data item" },
    { "a STORE 1 (UNCHANGEDSINCE x) FLAGS ()", "!Invalid mod-sequence" },
    { "a STORE 1 (BOGUS 1) FLAGS ()", "!Invalid STORE modifier" },
    { "a STORE 1 (UNCHANGEDSINCE 1 FLAGS ()", "!Invalid STORE modifier" },
    { "a STORE 1", "!Missing message data item" },
    { "a APPEND box (\\Seen \\bogus-flag) {1}\r\nx", "a APPEND \"box\" [flags=(\"\\\\Seen\" \"\\\\bogus-flag\") \"x\"]" },
    { "a APPEND box (\\Seen {1}\r\nx", "!Invalid flag" },
};

/* APPEND and date-time */
static const struct tcase append_cases[] = {
    { "a APPEND box \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx",
      "a APPEND \"box\" [date=837596665-420 \"x\"]" },
    { "a APPEND box \" 1-Jan-1970 00:00:00 +0000\" {1}\r\nx",
      "a APPEND \"box\" [date=0+0 \"x\"]" },
    { "a APPEND box \"1-Jan-1970 00:00:00 +0100\" {1}\r\nx",
      "a APPEND \"box\" [date=-3600+60 \"x\"]" },
    { "a APPEND box \"31-Dec-1969 23:59:59 +0000\" {1}\r\nx",
      "a APPEND \"box\" [date=-1+0 \"x\"]" },
    { "a APPEND box \"29-feb-2024 12:00:00 -0930\" {1}\r\nx",
      "a APPEND \"box\" [date=1709242200-570 \"x\"]" },
    { "a APPEND box \"31-Dec-9999 23:59:60 +2359\" {1}\r\nx",
      "a APPEND \"box\" [date=253402214460+1439 \"x\"]" },
    { "a APPEND box \"30-Feb-2024 12:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"29-Feb-2023 12:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 24:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:60:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:00:61 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:00:00 +0060\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:00:00 +2400\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:00:00 0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 23:00:00\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 1:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-24 01:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"  1-Jan-2024 01:00:00 +0000\" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box \"1-Jan-2024 01:00:00 +0000 \" {1}\r\nx", "!Invalid date-time" },
    { "a APPEND box 1-Jan-2024 {1}\r\nx", "!Missing message literal" },
    { "a APPEND box", "!Missing message literal" },
    { "a APPEND box (\\Seen)", "!Missing message literal" },
    { "a APPEND box (\\Seen) \"1-Jan-2024 01:00:00 +0000\"", "!Missing message literal" },
    { "a APPEND box \"message\"", "!Invalid date-time" },
    { "a APPEND", "!Missing mailbox name" },
    { "a APPEND box {1}\r\nx ", "!Missing message literal" },
    { "a APPEND box {1}\r\nx y", "!Missing message literal" },
    { "a APPEND box UTF8 ({1}\r\nx)", "!UTF8 data must be a binary literal" },
    { "a APPEND box UTF8 (~{1}\r\nx", "!Invalid UTF8 message data" },
    { "a APPEND box {0}\r\n", "a APPEND \"box\" [\"\"]" },
};

/* Commands, tags and everything else that is malformed */
static const struct tcase misc_cases[] = {
    { "a noop", "a NOOP" },
    { "a NoOp", "a NOOP" },
    { "A1.2_3-x NOOP", "A1.2_3-x NOOP" },
    { "]tag] NOOP", "]tag] NOOP" },
    { "t~!#&'$^ NOOP", "t~!#&'$^ NOOP" },
    { "+tag NOOP", "!Invalid tag" },
    { "ta+g NOOP", "!Invalid tag" },
    { "* NOOP", "!Invalid tag" },
    { "ta%g NOOP", "!Invalid tag" },
    { "t(g NOOP", "!Invalid tag" },
    { "t\"g NOOP", "!Invalid tag" },
    { "t{g NOOP", "!Invalid tag" },
    { "t\\g NOOP", "!Invalid tag" },
    { " NOOP", "!Invalid tag" },
    { "NOOP", "!Invalid tag" },
    { "", "!Invalid tag" },
    { "a", "!Invalid tag" },
    { "a ", "!Missing command" },
    { "a  NOOP", "!Invalid command" },
    { "a NOOP ", "!Unexpected characters after the command" },
    { "a NOOP x", "!Unexpected characters after the command" },
    { "a NOOP\r\n", "!Unknown command" },
    { "a NOOPS", "!Unknown command" },
    { "a XYZZY", "!Unknown command" },
    { "a \xc3\xa9", "!Invalid command" },
    { "a UID", "!Missing command after UID" },
    { "a UID NOOP", "!Unknown UID command" },
    { "a UID LOGIN a b", "!Unknown UID command" },
    { "a uid fetch 1 uid", "a UID FETCH 1 (UID)" },
    { "a UID SORT (DATE) UTF-8 ALL", "a UID SORT (DATE) charset=\"UTF-8\" ALL" },
    { "a UID THREAD REFERENCES UTF-8 ALL", "a UID THREAD REFERENCES charset=\"UTF-8\" ALL" },
    { "a UID STORE 1 FLAGS ()", "a UID STORE 1 FLAGS ()" },
    { "a UID COPY 1 x", "a UID COPY 1 \"x\"" },
    { "a UID SEARCH ALL", "a UID SEARCH ALL" },
    { "a CAPABILITY x", "!Unexpected characters after the command" },
    { "a LOGOUT ", "!Unexpected characters after the command" },
    { "a STARTTLS now", "!Unexpected characters after the command" },
    { "a IDLE x", "!Unexpected characters after the command" },
    { "a NAMESPACE x", "!Unexpected characters after the command" },
    { "a CHECK x", "!Unexpected characters after the command" },
    { "a CLOSE x", "!Unexpected characters after the command" },
    { "a UNSELECT x", "!Unexpected characters after the command" },
    { "a LOGIN", "!Missing user name" },
    { "a LOGIN user", "!Missing password" },
    { "a LOGIN user ", "!Missing password" },
    { "a LOGIN user pass extra", "!Unexpected characters after the command" },
    { "a LOGIN (user) pass", "!Invalid characters in an argument" },
    { "a AUTHENTICATE", "!Missing authentication mechanism" },
    { "a AUTHENTICATE PLAIN =", "a AUTHENTICATE \"PLAIN\" ir=\"\"" },
    { "a AUTHENTICATE SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM",
      "a AUTHENTICATE \"SCRAM-SHA-256\" ir=\"biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM\"" },
    { "a AUTHENTICATE PLAIN AGFsaWNlAHBhc3N3b3Jk", "a AUTHENTICATE \"PLAIN\" ir=\"AGFsaWNlAHBhc3N3b3Jk\"" },
    { "a AUTHENTICATE PLAIN AA==", "a AUTHENTICATE \"PLAIN\" ir=\"AA==\"" },
    { "a AUTHENTICATE PLAIN abc", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN a=bc", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN abc=def=", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN ab=c", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN ====", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN ab!c", "!Invalid initial response" },
    { "a AUTHENTICATE PLAIN ", "!Missing initial response" },
    { "a AUTHENTICATE PLAIN AA== x", "!Unexpected characters after the command" },
    { "a AUTHENTICATE PLAIN)", "!Unexpected characters after the command" },
    { "a AUTHENTICATE \"PLAIN\"", "!Invalid authentication mechanism" },
    { "a ENABLE", "!Missing capability" },
    { "a ENABLE ", "!Missing capability" },
    { "a ENABLE CONDSTORE ", "!Missing capability" },
    { "a ENABLE (CONDSTORE)", "!Invalid capability" },
    { "a SELECT", "!Missing mailbox name" },
    { "a SELECT ", "!Missing mailbox name" },
    { "a EXAMINE", "!Missing mailbox name" },
    { "a CREATE", "!Missing mailbox name" },
    { "a CREATE x (USE (\\Drafts) USE (\\Sent))", "!Invalid CREATE parameters" },
    { "a CREATE x (USE (Drafts))", "!Invalid special-use flag" },
    { "a CREATE x (BOGUS)", "!Invalid CREATE parameters" },
    { "a CREATE x ()", "!Invalid CREATE parameters" },
    { "a CREATE x (USE)", "!Missing special-use list" },
    { "a CREATE x y", "!Invalid CREATE parameters" },
    { "a DELETE", "!Missing mailbox name" },
    { "a DELETE a b", "!Unexpected characters after the command" },
    { "a RENAME a", "!Missing new mailbox name" },
    { "a SUBSCRIBE", "!Missing mailbox name" },
    { "a UNSUBSCRIBE", "!Missing mailbox name" },
    { "a STATUS", "!Missing mailbox name" },
    { "a STATUS box", "!Missing status items" },
    { "a STATUS box ()", "!Invalid status item" },
    { "a STATUS box (BOGUS)", "!Invalid status item" },
    { "a STATUS box MESSAGES", "!Missing status items" },
    { "a STATUS box (MESSAGES", "!Unterminated status item list" },
    { "a STATUS box (MESSAGES) x", "!Unexpected characters after the command" },
    { "a COPY 1", "!Missing mailbox name" },
    { "a MOVE", "!Missing sequence set" },
    { "a GETQUOTA", "!Missing quota root" },
    { "a GETQUOTAROOT", "!Missing mailbox name" },
    { "a SETQUOTA \"\"", "!Missing quota resources" },
    { "a SETQUOTA \"\" (STORAGE)", "!Missing quota limit" },
    { "a SETQUOTA \"\" (STORAGE x)", "!Invalid quota limit" },
    { "a SETQUOTA \"\" (STORAGE 1", "!Unterminated quota resources" },
    { "a SETQUOTA \"\" STORAGE 1", "!Invalid quota resources" },
    { "a COMPRESS", "!Missing compression mechanism" },
    { "a COMPRESS DEFLATE x", "!Unexpected characters after the command" },
    { "a ID", "!Missing ID parameters" },
    { "a ID NILS", "!Invalid ID parameters" },
    { "a ID (\"name\")", "!Missing ID value" },
    { "a ID (\"name\" \"x\"", "!Unterminated ID parameters" },
    { "a ID NIL x", "!Unexpected characters after the command" },
    { "a SORT", "!Missing sort criteria" },
    { "a SORT DATE UTF-8 ALL", "!Invalid sort criteria" },
    { "a SORT () UTF-8 ALL", "!Invalid sort criteria" },
    { "a SORT (BOGUS) UTF-8 ALL", "!Invalid sort criteria" },
    { "a SORT (REVERSE) UTF-8 ALL", "!Invalid sort criteria" },
    { "a SORT (REVERSE REVERSE DATE) UTF-8 ALL", "!Invalid sort criteria" },
    { "a SORT (DATE)", "!Missing charset" },
    { "a SORT (DATE) UTF-8", "!Missing search key" },
    { "a THREAD", "!Missing threading algorithm" },
    { "a THREAD REFS UTF-8 ALL", "!Unknown threading algorithm" },
    { "a THREAD REFERENCES", "!Missing charset" },
    { "a THREAD REFERENCES UTF-8", "!Missing search key" },
};


/* Inputs that hold a NUL byte. */
#define NULCASE(in, want) { { in, want }, sizeof(in) - 1 }
static const struct {
    struct tcase t;
    size_t len;
} nul_cases[] = {
    NULCASE("a SELECT {?}\r\nnul\0inside\x01", "!NUL in a literal"),
    NULCASE("a SELECT \"nul\0in\"", "!Invalid character in a quoted string"),
    NULCASE("a APPEND box {?}\r\nnul\0inside\x01", "!NUL in a literal"),
    NULCASE("a APPEND box ~{?}\r\nnul\0inside\x01", "a APPEND \"box\" [binary \"nul\\x00inside\"]"),
};

/* ---- Literals in every string position ---- */

/* Each template has '@' where an astring (or string) goes; the expected
 * rendering has '@' for the value rendered. Every template is tried with the
 * value as an atom (when it is one), quoted, and as each kind of literal. */
static const struct {
    const char *in, *want;
    bool atom_ok;
} slots[] = {
    { "a LOGIN @ pw", "a LOGIN @ \"pw\"", true },
    { "a LOGIN user @", "a LOGIN \"user\" @", true },
    { "a SELECT @", "a SELECT @", true },
    { "a EXAMINE @", "a EXAMINE @", true },
    { "a SELECT @ (CONDSTORE)", "a SELECT @ condstore", true },
    { "a CREATE @", "a CREATE @", true },
    { "a CREATE @ (USE (\\Junk))", "a CREATE @ use=(\"\\\\Junk\")", true },
    { "a DELETE @", "a DELETE @", true },
    { "a RENAME @ y", "a RENAME @ \"y\"", true },
    { "a RENAME x @", "a RENAME \"x\" @", true },
    { "a SUBSCRIBE @", "a SUBSCRIBE @", true },
    { "a UNSUBSCRIBE @", "a UNSUBSCRIBE @", true },
    { "a LIST @ *", "a LIST @ (\"*\")", true },
    { "a LIST \"\" @", "a LIST \"\" (@)", true },
    { "a LIST \"\" (@ x)", "a LIST sel=() \"\" (@ \"x\") ret=()", true },
    { "a LIST (SUBSCRIBED) @ (x @)", "a LIST sel=(SUBSCRIBED) @ (\"x\" @) ret=()", true },
    { "a LSUB @ *", "a LSUB @ (\"*\")", true },
    { "a LSUB \"\" @", "a LSUB \"\" (@)", true },
    { "a STATUS @ (UNSEEN)", "a STATUS @ (UNSEEN)", true },
    { "a APPEND @ {1}\r\nx", "a APPEND @ [\"x\"]", true },
    { "a COPY 1 @", "a COPY 1 @", true },
    { "a MOVE 1 @", "a MOVE 1 @", true },
    { "a UID COPY 1 @", "a UID COPY 1 @", true },
    { "a SEARCH BCC @", "a SEARCH BCC @", true },
    { "a SEARCH BODY @", "a SEARCH BODY @", true },
    { "a SEARCH CC @", "a SEARCH CC @", true },
    { "a SEARCH FROM @", "a SEARCH FROM @", true },
    { "a SEARCH SUBJECT @", "a SEARCH SUBJECT @", true },
    { "a SEARCH TEXT @", "a SEARCH TEXT @", true },
    { "a SEARCH TO @", "a SEARCH TO @", true },
    { "a SEARCH HEADER @ x", "a SEARCH HEADER @ \"x\"", true },
    { "a SEARCH HEADER x @", "a SEARCH HEADER \"x\" @", true },
    { "a SEARCH NOT (OR FROM @ TO @)", "a SEARCH NOT (OR FROM @ TO @)", true },
    { "a SEARCH CHARSET @ ALL", "a SEARCH charset=@ ALL", true },
    { "a SORT (DATE) @ ALL", "a SORT (DATE) charset=@ ALL", true },
    { "a SORT (DATE) UTF-8 SUBJECT @", "a SORT (DATE) charset=\"UTF-8\" SUBJECT @", true },
    { "a THREAD REFERENCES @ ALL", "a THREAD REFERENCES charset=@ ALL", true },
    { "a FETCH 1 BODY[HEADER.FIELDS (@)]", "a FETCH 1 (BODY[HEADER.FIELDS (@)])", true },
    { "a FETCH 1 BODY[1.HEADER.FIELDS.NOT (x @)]",
      "a FETCH 1 (BODY[1.HEADER.FIELDS.NOT (\"x\" @)])", true },
    { "a GETQUOTA @", "a GETQUOTA @", true },
    { "a GETQUOTAROOT @", "a GETQUOTAROOT @", true },
    { "a SETQUOTA @ (STORAGE 1)", "a SETQUOTA @ (\"STORAGE\" 1)", true },
    { "a ID (@ \"v\")", "a ID (@ \"v\")", true },
    { "a ID (\"f\" @)", "a ID (\"f\" @)", true },
    { "a NOTIFY SET (subtree @ (MessageNew MessageExpunge))",
      "a NOTIFY SET (subtree (@) (MessageNew MessageExpunge))", true },
    { "a NOTIFY SET (mailboxes (x @) NONE)", "a NOTIFY SET (mailboxes (\"x\" @) ())", true },
};

static char *subst(const char *tmpl, const char *value)
{
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@')
            buf_append_cstr(&b, value);
        else
            buf_append_char(&b, *p);
    }
    char *r = xstrdup(buf_cstr(&b));
    buf_free(&b);
    return r;
}

static int slot_cases;

static void test_literal_slots(void)
{
    static const struct {
        const char *wire;     /* how the value is sent */
        const char *rendered; /* how it renders */
        bool atom;            /* the wire form is an atom */
    } values[] = {
        { "Box", "\"Box\"", true },
        { "\"Box\"", "\"Box\"", false },
        { "\"two words\"", "\"two words\"", false },
        { "{?}\r\ntwo words\x01", "\"two words\"", false },
        { "{?+}\r\ntwo words\x01", "\"two words\"", false },
        { "{?}\r\n(\"{x}\")\r\n\x01", "\"(\\\"{x}\\\")\\x0d\\x0a\"", false },
        { "{?}\r\n\x01", "\"\"", false },
        { "\"\"", "\"\"", false },
        { "\"q\\\\u\\\"ote\"", "\"q\\\\u\\\"ote\"", false },
    };
    for (size_t i = 0; i < N(slots); i++)
        for (size_t j = 0; j < N(values); j++) {
            if (values[j].atom && !slots[i].atom_ok)
                continue;
            char *in = subst(slots[i].in, values[j].wire);
            char *want = subst(slots[i].want, values[j].rendered);
            struct tcase t = { in, want };
            run_case(&t);
            slot_cases++;
            free(in);
            free(want);
        }
}

/* ---- Limits ---- */

static int parse_built(struct buf *b, const char **reason)
{
    struct arena *a = arena_new(8 << 20);
    struct imap_command c;
    int rc = imap_parse_command(a, buf_str(b), &c, reason);
    arena_free(a);
    return rc;
}

static void test_search_depth(void)
{
    struct buf b;
    const char *reason = NULL;
    buf_init(&b, 0);
    /* NOT NOT ... SEEN: the depth counts every NOT */
    for (int n = IMAP_MAX_SEARCH_DEPTH; n <= IMAP_MAX_SEARCH_DEPTH + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a SEARCH ");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, "NOT ");
        buf_append_cstr(&b, "SEEN");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SEARCH_DEPTH ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Search program nested too deeply");
    }
    /* ((((...SEEN)))) */
    for (int n = IMAP_MAX_SEARCH_DEPTH; n <= IMAP_MAX_SEARCH_DEPTH + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a SEARCH ");
        for (int i = 0; i < n; i++)
            buf_append_char(&b, '(');
        buf_append_cstr(&b, "SEEN");
        for (int i = 0; i < n; i++)
            buf_append_char(&b, ')');
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SEARCH_DEPTH ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Search program nested too deeply");
    }
    /* OR OR OR ... a b c ...: the first operands nest */
    for (int n = IMAP_MAX_SEARCH_DEPTH; n <= IMAP_MAX_SEARCH_DEPTH + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a SEARCH ");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, "OR ");
        buf_append_cstr(&b, "SEEN");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, " DRAFT");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SEARCH_DEPTH ? 0 : -1);
    }
    /* Mixed: NOT (OR (NOT ... — every level counts once */
    buf_clear(&b);
    buf_append_cstr(&b, "a SEARCH ");
    for (int i = 0; i < 22; i++)
        buf_append_cstr(&b, "NOT (OR (");
    buf_append_cstr(&b, "SEEN");
    for (int i = 0; i < 22; i++)
        buf_append_cstr(&b, ") ALL)");
    CHECK_INT(parse_built(&b, &reason), -1); /* 66 levels */
    CHECK_STR(reason, "Search program nested too deeply");
    /* A long flat program is fine up to the key cap; siblings do not nest. */
    for (int n = IMAP_MAX_SEARCH_KEYS; n <= IMAP_MAX_SEARCH_KEYS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a SEARCH SEEN");
        for (int i = 1; i < n; i++)
            buf_append_cstr(&b, " (DRAFT)");
        /* each "(DRAFT)" is two keys: the list and DRAFT */
        int keys = 1 + 2 * (n - 1);
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, keys <= IMAP_MAX_SEARCH_KEYS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many search keys");
    }
    buf_clear(&b);
    buf_append_cstr(&b, "a SEARCH SEEN");
    for (int i = 1; i < IMAP_MAX_SEARCH_KEYS; i++)
        buf_append_cstr(&b, " DRAFT");
    CHECK_INT(parse_built(&b, &reason), 0);
    buf_append_cstr(&b, " DRAFT");
    CHECK_INT(parse_built(&b, &reason), -1);
    CHECK_STR(reason, "Too many search keys");
    buf_free(&b);
}

static void test_caps(void)
{
    struct buf b;
    const char *reason = NULL;
    buf_init(&b, 0);

    /* fetch items */
    for (int n = IMAP_MAX_FETCH_ATTS; n <= IMAP_MAX_FETCH_ATTS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a FETCH 1 (");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, i ? " UID" : "UID");
        buf_append_cstr(&b, ")");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_FETCH_ATTS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many fetch items");
    }
    /* section parts */
    for (int n = IMAP_MAX_SECTION_PARTS; n <= IMAP_MAX_SECTION_PARTS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a FETCH 1 BODY[");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? ".%d" : "%d", i + 1);
        buf_append_cstr(&b, ".MIME]");
        struct arena *a = arena_new(1 << 20);
        struct imap_command c;
        int rc = imap_parse_command(a, buf_str(&b), &c, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SECTION_PARTS ? 0 : -1);
        if (rc == 0) {
            CHECK_INT(c.u.fetch.atts[0].n_parts, n);
            CHECK_INT(c.u.fetch.atts[0].parts[n - 1], n);
            CHECK_INT(c.u.fetch.atts[0].text, IMAP_SECTION_MIME);
        } else
            CHECK_STR(reason, "Section nested too deeply");
        arena_free(a);
    }
    /* header fields */
    for (int n = IMAP_MAX_HEADER_FIELDS; n <= IMAP_MAX_HEADER_FIELDS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a FETCH 1 BODY[HEADER.FIELDS (");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? " X-%d" : "X-%d", i);
        buf_append_cstr(&b, ")]");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_HEADER_FIELDS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many header fields");
    }
    /* flags, in a list and bare */
    for (int n = IMAP_MAX_FLAGS; n <= IMAP_MAX_FLAGS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a STORE 1 +FLAGS (");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? " k%d" : "k%d", i);
        buf_append_cstr(&b, ")");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_FLAGS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many flags");
        buf_clear(&b);
        buf_append_cstr(&b, "a STORE 1 +FLAGS");
        for (int i = 0; i < n; i++)
            buf_printf(&b, " k%d", i);
        rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_FLAGS ? 0 : -1);
    }
    /* patterns */
    for (int n = IMAP_MAX_PATTERNS; n <= IMAP_MAX_PATTERNS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a LIST \"\" (");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? " p%d" : "p%d", i);
        buf_append_cstr(&b, ")");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_PATTERNS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many mailbox patterns");
    }
    /* ENABLE */
    for (int n = IMAP_MAX_LIST_ITEMS; n <= IMAP_MAX_LIST_ITEMS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a ENABLE");
        for (int i = 0; i < n; i++)
            buf_printf(&b, " X%d", i);
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_LIST_ITEMS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many capabilities");
    }
    /* ID pairs */
    for (int n = IMAP_MAX_ID_PAIRS; n <= IMAP_MAX_ID_PAIRS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a ID (");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? " \"f%d\" \"v\"" : "\"f%d\" \"v\"", i);
        buf_append_cstr(&b, ")");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_ID_PAIRS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many ID fields");
    }
    /* sort criteria */
    for (int n = IMAP_MAX_SORT_KEYS; n <= IMAP_MAX_SORT_KEYS + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a SORT (");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, i ? " DATE" : "DATE");
        buf_append_cstr(&b, ") UTF-8 ALL");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SORT_KEYS ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many sort criteria");
    }
    /* APPEND messages */
    for (int n = IMAP_MAX_APPEND_MESSAGES; n <= IMAP_MAX_APPEND_MESSAGES + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a APPEND box");
        for (int i = 0; i < n; i++)
            buf_append_cstr(&b, " {1}\r\nx");
        int rc = parse_built(&b, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_APPEND_MESSAGES ? 0 : -1);
        if (rc < 0)
            CHECK_STR(reason, "Too many messages");
    }
    /* sequence set ranges */
    for (int n = IMAP_MAX_SEQ_RANGES; n <= IMAP_MAX_SEQ_RANGES + 1; n++) {
        buf_clear(&b);
        buf_append_cstr(&b, "a UID FETCH ");
        for (int i = 0; i < n; i++)
            buf_printf(&b, i ? ",%d" : "%d", 2 * i + 1);
        buf_append_cstr(&b, " FLAGS");
        struct arena *a = arena_new(8 << 20);
        struct imap_command c;
        int rc = imap_parse_command(a, buf_str(&b), &c, &reason);
        CHECK_INT(rc, n <= IMAP_MAX_SEQ_RANGES ? 0 : -1);
        if (rc == 0) {
            CHECK_INT(c.u.fetch.set.n, n);
            CHECK_INT(c.u.fetch.set.r[n - 1].first, 2 * (n - 1) + 1);
        } else
            CHECK_STR(reason, "Too many ranges in a sequence set");
        arena_free(a);
    }
    /* the tag */
    buf_clear(&b);
    for (int i = 0; i < IMAP_TAG_MAX; i++)
        buf_append_char(&b, 't');
    buf_append_cstr(&b, " NOOP");
    CHECK_INT(parse_built(&b, &reason), 0);
    buf_clear(&b);
    for (int i = 0; i <= IMAP_TAG_MAX; i++)
        buf_append_char(&b, 't');
    buf_append_cstr(&b, " NOOP");
    CHECK_INT(parse_built(&b, &reason), -1);
    CHECK_STR(reason, "Invalid tag");
    buf_free(&b);
}

/* Every prefix of the arena's cap: the parse either succeeds or fails with
 * IMAP_PARSE_NOMEM, and succeeds once the cap is large enough. */
static void test_arena_cap(void)
{
    static const char *const cmds[] = {
        "a SEARCH OR (FROM \"alice\" TO {3}\r\nbob) NOT HEADER X-Spam yes SINCE 1-Jan-2020",
        /* one literal, not two joined (clang warns about those in arrays) */
        "a UID FETCH 1:5,7,9:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100>) (CHANGEDSINCE 5 VANISHED)",
        "a APPEND box (\\Seen $x) \"1-Jan-2020 00:00:00 +0000\" {2}\r\nhi {1}\r\nx",
        "a LIST (SUBSCRIBED) \"\" (a b c) RETURN (STATUS (MESSAGES))",
        "a NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge)) (mailboxes (a b) NONE)",
        "a SELECT INBOX (QRESYNC (1 2 1:5 (1:3 1:3)))",
        "a ID (\"name\" \"x\" \"os\" NIL)",
        "a STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS (a b c)",
        "a SORT (REVERSE DATE SUBJECT) UTF-8 ALL",
        "a SETQUOTA \"\" (STORAGE 1 MESSAGE 2)",
        "a CREATE x (USE (\\Drafts \\Sent))",
        "a ENABLE A B C",
        "a LOGIN \"user\" {4}\r\npass",
        "a AUTHENTICATE PLAIN AA==",
    };
    for (size_t i = 0; i < N(cmds); i++) {
        struct str s = str_from_cstr(cmds[i]);
        bool ok = false;
        for (size_t cap = 16; cap < 8192 && !ok; cap += 16) {
            struct arena *a = arena_new(cap);
            struct imap_command c;
            const char *reason = NULL;
            int rc = imap_parse_command(a, s, &c, &reason);
            if (rc == 0)
                ok = true;
            else
                CHECK_STR(reason, IMAP_PARSE_NOMEM);
            arena_free(a);
        }
        CHECK(ok);
    }
}

/* ---- Typed values ---- */

static int parse(struct arena *a, const char *in, struct imap_command *c)
{
    const char *reason;
    return imap_parse_command(a, str_from_cstr(in), c, &reason);
}

static void test_dates(void)
{
    static const struct {
        const char *date;
        int32_t days;
    } dates[] = {
        { "1-Jan-1970", 0 },          { "2-Jan-1970", 1 },      { "31-Dec-1969", -1 },
        { "1-Mar-2000", 11017 },      { "29-Feb-2000", 11016 }, { "1-Jan-2038", 24837 },
        { "1-Jan-0001", -719162 },    { "31-Dec-9999", 2932896 },
        { "\"15-Nov-1984\"", 5432 },
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < N(dates); i++) {
        char in[64];
        snprintf(in, sizeof(in), "a SEARCH ON %s", dates[i].date);
        struct imap_command c;
        CHECK_INT(parse(a, in, &c), 0);
        CHECK_INT(c.u.search.program->u.sub->u.date.days, dates[i].days);
    }
    struct imap_command c;
    CHECK_INT(parse(a, "a APPEND x \"15-Nov-1984 13:37:01 +0730\" {1}\r\nx", &c), 0);
    CHECK_INT(c.u.append.msgs[0].date.time, 469346821);
    CHECK_INT(c.u.append.msgs[0].date.zone, 450);
    CHECK(c.u.append.msgs[0].has_date);
    arena_free(a);
}

static void test_values(void)
{
    struct arena *a = arena_new(0);
    struct imap_command c;

    /* section text as sent, for echoing */
    CHECK_INT(parse(a, "a FETCH 1 (BODY.PEEK[1.2.header.fields (From  To)]<0.5> BINARY[3] BODY[])",
                    &c), -1);
    CHECK_INT(parse(a, "a FETCH 1 (BODY.PEEK[1.2.header.fields (From To)]<0.5> BINARY[3] BODY[])",
                    &c), 0);
    CHECK_INT(c.u.fetch.n, 3);
    CHECK(str_eq_cstr(c.u.fetch.atts[0].section, "1.2.header.fields (From To)"));
    CHECK(c.u.fetch.atts[0].peek);
    CHECK_INT(c.u.fetch.atts[0].fields.n, 2);
    CHECK_INT(c.u.fetch.atts[0].offset, 0);
    CHECK_INT(c.u.fetch.atts[0].count, 5);
    CHECK(str_eq_cstr(c.u.fetch.atts[1].section, "3"));
    CHECK(!c.u.fetch.atts[1].peek);
    CHECK_INT(c.u.fetch.atts[2].section.len, 0);
    CHECK(c.u.fetch.atts[2].section.p != NULL);

    /* strings are NUL-terminated copies; literal data may hold CR LF */
    CHECK_INT(parse(a, "a LOGIN {5}\r\na\r\nbc \"d\\\\e\"", &c), 0);
    CHECK_INT(c.u.login.user.len, 5);
    CHECK_INT(c.u.login.user.p[5], '\0');
    CHECK_STR(c.u.login.password.p, "d\\e");

    /* APPEND data points into the command */
    static const char app[] = "a APPEND box {3}\r\nabc";
    CHECK_INT(imap_parse_command(a, STR_LIT(app), &c, NULL), 0);
    CHECK(c.u.append.msgs[0].data.p == app + 18);
    CHECK_INT(c.u.append.msgs[0].data.len, 3);
    CHECK(!c.u.append.msgs[0].has_date);
    CHECK(c.u.append.msgs[0].flags.v == NULL);

    /* the tag is kept when the rest fails */
    const char *reason = NULL;
    CHECK_INT(imap_parse_command(a, STR_LIT("A17 FETCH"), &c, &reason), -1);
    CHECK(str_eq_cstr(c.tag, "A17"));
    CHECK_STR(reason, "Missing sequence set");
    CHECK_INT(imap_parse_command(a, STR_LIT("+x FETCH"), &c, &reason), -1);
    CHECK(c.tag.p == NULL);
    CHECK_INT(imap_parse_command(a, STR_LIT("A18 BOGUS"), &c, NULL), -1);
    CHECK(str_eq_cstr(c.tag, "A18"));

    /* UID flag */
    CHECK_INT(parse(a, "a UID EXPUNGE 5", &c), 0);
    CHECK(c.uid);
    CHECK_INT(c.cmd, IMAP_CMD_EXPUNGE);
    CHECK_INT(parse(a, "a EXPUNGE", &c), 0);
    CHECK(!c.uid);

    /* SEARCH without RETURN */
    CHECK_INT(parse(a, "a SEARCH ALL", &c), 0);
    CHECK(!c.u.search.has_return);
    CHECK(c.u.search.charset.p == NULL);
    CHECK_INT(c.u.search.program->key, IMAP_SK_AND);
    CHECK(c.u.search.program->next == NULL);

    /* command names */
    CHECK_STR(imap_command_name(IMAP_CMD_FETCH), "FETCH");
    CHECK_STR(imap_command_name(IMAP_CMD_UNKNOWN), "");
    CHECK_STR(imap_command_name(IMAP_CMD_COUNT_), "");
    for (int i = 1; i < IMAP_CMD_COUNT_; i++)
        CHECK(imap_command_name((enum imap_cmd)i)[0] != '\0');
    arena_free(a);
}

static void test_seq_contains(void)
{
    struct arena *a = arena_new(0);
    struct imap_command c;
    CHECK_INT(parse(a, "a FETCH 5:2,10,20:*,$ FLAGS", &c), 0);
    const struct imap_seq_set *s = &c.u.fetch.set;
    CHECK(s->dollar);
    CHECK(!imap_seq_set_contains(s, 1, 100));
    CHECK(imap_seq_set_contains(s, 2, 100));
    CHECK(imap_seq_set_contains(s, 5, 100));
    CHECK(!imap_seq_set_contains(s, 6, 100));
    CHECK(imap_seq_set_contains(s, 10, 100));
    CHECK(!imap_seq_set_contains(s, 19, 100));
    CHECK(imap_seq_set_contains(s, 20, 100));
    CHECK(imap_seq_set_contains(s, 100, 100));
    CHECK(!imap_seq_set_contains(s, 101, 100));
    CHECK(imap_seq_set_contains(s, 15, 15)); /* 20:* is 15:20 when * is 15 */
    CHECK(!imap_seq_set_contains(s, 0, 100));
    CHECK_INT(parse(a, "a FETCH * FLAGS", &c), 0);
    CHECK(!imap_seq_set_contains(&c.u.fetch.set, 1, 0)); /* empty mailbox */
    CHECK(imap_seq_set_contains(&c.u.fetch.set, 7, 7));
    CHECK(!imap_seq_set_contains(&c.u.fetch.set, 6, 7));
    CHECK_INT(parse(a, "a FETCH 4294967295:1 FLAGS", &c), 0);
    CHECK(imap_seq_set_contains(&c.u.fetch.set, 4294967295u, 1));
    CHECK_INT(parse(a, "a FETCH 3:* FLAGS", &c), 0);
    CHECK(imap_seq_set_contains(&c.u.fetch.set, 3, 1)); /* 3:* is 1:3 */
    CHECK(!imap_seq_set_contains(&c.u.fetch.set, 3, 0));
    arena_free(a);
}

/* ---- Helpers for the engine ---- */

static void test_literal_at_end(void)
{
    static const struct {
        const char *line;
        int rc;
        uint64_t size;
        bool nonsync, binary;
        const char *reason;
    } cases[] = {
        { "a LOGIN {5}", 1, 5, false, false, NULL },
        { "a LOGIN {5+}", 1, 5, true, false, NULL },
        { "a APPEND box ~{100}", 1, 100, false, true, NULL },
        { "a APPEND box ~{100+}", 1, 100, true, true, NULL },
        { "a APPEND box (\\Seen) {0}", 1, 0, false, false, NULL },
        { "{9223372036854775807}", 1, 9223372036854775807ull, false, false, NULL },
        { "a X {9223372036854775808}", -1, 0, false, false, "Literal too large" },
        { "a X {99999999999999999999999}", -1, 0, false, false, "Literal too large" },
        { " {7}", 1, 7, false, false, NULL },
        { "x {3} y {4}", 1, 4, false, false, NULL },
        { "a LOGIN {5} x", 0, 0, false, false, NULL },
        { "a LOGIN foo", 0, 0, false, false, NULL },
        { "a LOGIN foo}", 0, 0, false, false, NULL },
        { "", 0, 0, false, false, NULL },
        { "a LOGIN \"{5}\"", 0, 0, false, false, NULL },
        { "a LOGIN \"x {5}", 0, 0, false, false, NULL },
        { "a LOGIN \"x\\\" {5}", 0, 0, false, false, NULL },
        { "a LOGIN \"x\\\\\" {5}", 1, 5, false, false, NULL },
        { "a LOGIN \"a\" \"b\" {5}", 1, 5, false, false, NULL },
        { "a LOGIN {}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {+}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {12x}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {5-}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {-5}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {5++}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN { 5}", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {5 }", -1, 0, false, false, "Invalid literal" },
        { "a LOGIN {abc}", -1, 0, false, false, "Invalid literal" },
        { "a X {1{2}", 1, 2, false, false, NULL },
        { "~{3}", 1, 3, false, true, NULL },
        { "a X ~~{3}", 1, 3, false, true, NULL },
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct imap_literal lit = { 99, true, true };
        const char *reason = NULL;
        int before = test_failures;
        int rc = imap_literal_at_end(str_from_cstr(cases[i].line), &lit, &reason);
        CHECK_INT(rc, cases[i].rc);
        if (rc == 1) {
            CHECK_INT(lit.size, cases[i].size);
            CHECK_INT(lit.nonsync, cases[i].nonsync);
            CHECK_INT(lit.binary, cases[i].binary);
        } else if (rc == -1)
            CHECK_STR(reason, cases[i].reason);
        if (test_failures != before)
            fprintf(stderr, "  line: %s\n", cases[i].line);
    }
}

static void test_tag(void)
{
    static const struct {
        const char *in;
        const char *tag; /* NULL: -1 */
    } cases[] = {
        { "a NOOP", "a" },
        { "A001 APPEND box {999999999999}", "A001" },
        { "tag ", "tag" },
        { "tag", NULL },
        { "", NULL },
        { " x", NULL },
        { "+ x", NULL },
        { "* OK", NULL },
        { "a+b x", NULL },
        { "a]b x", "a]b" },
        { "a\tb x", NULL },
        { "\xc3\xa9 x", NULL },
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct str tag = STR_NULL;
        int rc = imap_parse_tag(str_from_cstr(cases[i].in), &tag);
        CHECK_INT(rc, cases[i].tag ? 0 : -1);
        if (rc == 0 && cases[i].tag)
            CHECK(str_eq_cstr(tag, cases[i].tag));
    }
}

static int count_cases;

#define RUN_TABLE(t)                  \
    do {                              \
        run_cases((t), N(t));         \
        count_cases += (int)N(t);     \
    } while (0)

static void test_rfc9051(void) { RUN_TABLE(rfc9051_cases); }
static void test_extensions(void) { RUN_TABLE(ext_cases); }
static void test_condstore(void) { RUN_TABLE(condstore_cases); }
static void test_sort_thread(void) { RUN_TABLE(sort_cases); }
static void test_notify(void) { RUN_TABLE(notify_cases); }
static void test_strings(void) { RUN_TABLE(string_cases); }
static void test_seq_sets(void) { RUN_TABLE(seq_cases); }
static void test_search(void) { RUN_TABLE(search_cases); }
static void test_fetch(void) { RUN_TABLE(fetch_cases); }
static void test_store(void) { RUN_TABLE(store_cases); }
static void test_append(void) { RUN_TABLE(append_cases); }
static void test_misc(void) { RUN_TABLE(misc_cases); }

static void test_nul(void)
{
    for (size_t i = 0; i < N(nul_cases); i++)
        run_case_len(&nul_cases[i].t, nul_cases[i].len);
    count_cases += (int)N(nul_cases);
}

int main(void)
{
    buf_init(&out, 0);
    RUN(test_rfc9051);
    RUN(test_extensions);
    RUN(test_condstore);
    RUN(test_sort_thread);
    RUN(test_notify);
    RUN(test_strings);
    RUN(test_seq_sets);
    RUN(test_search);
    RUN(test_fetch);
    RUN(test_store);
    RUN(test_append);
    RUN(test_misc);
    RUN(test_nul);
    RUN(test_literal_slots);
    RUN(test_search_depth);
    RUN(test_caps);
    RUN(test_arena_cap);
    RUN(test_dates);
    RUN(test_values);
    RUN(test_seq_contains);
    RUN(test_literal_at_end);
    RUN(test_tag);
    fprintf(stderr, "%d table cases, %d literal-slot cases\n", count_cases, slot_cases);
    buf_free(&out);
    return TEST_DONE();
}
