/* Fuzzes the IMAP command parser with any bytes as one assembled command
 * (imap_parse_command), the tag helper, and the literal-announcement helper
 * on the input split at CRLFs. Invariants:
 *
 * - an error has a non-empty printable reason; a tag, when kept, is the
 *   input's prefix that imap_parse_tag finds;
 * - a parsed command respects every cap of parse.h: sequence sets (never
 *   empty, numbers or "*", no "*"/"$" where QRESYNC forbids them), search
 *   programs (depth, key count, OR with two operands, NOT with one, valid
 *   dates), fetch items (count, section parts, header fields, partial
 *   counts >= 1, sections inside the input), flags, patterns, APPEND
 *   messages (data inside the input, NUL only in binary literals), and
 *   every string is NUL-terminated;
 * - a parsed command is exactly what the engine would assemble: walking
 *   the input line by line with imap_literal_at_end, skipping CRLF and each
 *   announced literal, ends exactly at the end of the input;
 * - the same input with a small arena either parses the same way or fails
 *   with IMAP_PARSE_NOMEM, or with the same reason as with a large one.
 *
 * Seeds (corpus/imap_parse/): realistic commands, one per file, literals
 * included. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "imap/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *in_lo, *in_hi;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(struct str s)
{
    return s.p && s.p >= in_lo && s.p + s.len <= in_hi;
}

static void check_str(struct str s)
{
    if (!s.p)
        return; /* NIL */
    check(s.p[s.len] == '\0');
}

static void check_nonnil(struct str s)
{
    check(s.p != NULL);
    check_str(s);
}

static void check_strs(struct imap_strs l, uint32_t max)
{
    check(l.n <= max);
    check(l.n == 0 || l.v);
    for (uint32_t i = 0; i < l.n; i++)
        check_nonnil(l.v[i]);
}

static void check_set(const struct imap_seq_set *s, bool star_ok, bool dollar_ok)
{
    check(s->n > 0 || s->dollar);
    check(s->n <= IMAP_MAX_SEQ_RANGES);
    check(dollar_ok || !s->dollar);
    for (uint32_t i = 0; i < s->n; i++)
        if (!star_ok)
            check(s->r[i].first != IMAP_SEQ_STAR && s->r[i].last != IMAP_SEQ_STAR);
}

static void check_flags(struct imap_strs l)
{
    check_strs(l, IMAP_MAX_FLAGS);
    for (uint32_t i = 0; i < l.n; i++) {
        struct str f = l.v[i];
        check(f.len > 0);
        for (size_t k = 0; k < f.len; k++) {
            unsigned char c = (unsigned char)f.p[k];
            check(c > 0x20 && c < 0x7f && !strchr("(){%*\"]", c));
            check(c != '\\' || k == 0);
        }
        check(f.len > 1 || f.p[0] != '\\');
    }
}

static void check_date(const struct imap_date *d)
{
    check(d->year >= 1 && d->year <= 9999 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
          d->day <= 31);
    check(d->days >= -719162 && d->days <= 2932896);
}

static uint32_t keys;

static void check_search(const struct imap_search *k, int depth)
{
    check(k != NULL);
    keys++;
    check(keys <= IMAP_MAX_SEARCH_KEYS);
    check(depth <= IMAP_MAX_SEARCH_DEPTH);
    switch (k->key) {
    case IMAP_SK_AND:
        check(k->u.sub != NULL);
        for (const struct imap_search *s = k->u.sub; s; s = s->next)
            check_search(s, depth + 1);
        break;
    case IMAP_SK_OR:
        check(k->u.sub && k->u.sub->next && !k->u.sub->next->next);
        check_search(k->u.sub, depth + 1);
        check_search(k->u.sub->next, depth + 1);
        break;
    case IMAP_SK_NOT:
        check(k->u.sub && !k->u.sub->next);
        check_search(k->u.sub, depth + 1);
        break;
    case IMAP_SK_KEYWORD: case IMAP_SK_UNKEYWORD:
        check(k->u.str.len > 0);
        check_nonnil(k->u.str);
        break;
    case IMAP_SK_BCC: case IMAP_SK_BODY: case IMAP_SK_CC: case IMAP_SK_FROM:
    case IMAP_SK_SUBJECT: case IMAP_SK_TEXT: case IMAP_SK_TO:
        check_nonnil(k->u.str);
        break;
    case IMAP_SK_HEADER:
        check_nonnil(k->u.header.field);
        check_nonnil(k->u.header.value);
        break;
    case IMAP_SK_BEFORE: case IMAP_SK_ON: case IMAP_SK_SINCE: case IMAP_SK_SENTBEFORE:
    case IMAP_SK_SENTON: case IMAP_SK_SENTSINCE:
        check_date(&k->u.date);
        break;
    case IMAP_SK_LARGER: case IMAP_SK_SMALLER:
        check(k->u.number <= INT64_MAX);
        break;
    case IMAP_SK_OLDER: case IMAP_SK_YOUNGER:
        check(k->u.number >= 1 && k->u.number <= UINT32_MAX);
        break;
    case IMAP_SK_SEQSET: case IMAP_SK_UID:
        check_set(&k->u.set, true, true);
        break;
    case IMAP_SK_MODSEQ:
        check(k->u.modseq.modseq <= INT64_MAX);
        check_str(k->u.modseq.entry);
        break;
    default:
        check(k->key <= IMAP_SK_MODSEQ);
        break;
    }
}

static void check_program(const struct imap_search *p)
{
    keys = 0;
    check(p && p->key == IMAP_SK_AND && !p->next);
    /* the root AND is no nesting level and no key of its own */
    for (const struct imap_search *s = p->u.sub; s; s = s->next)
        check_search(s, 0);
    check(keys >= 1);
}

static void check_atts(uint32_t n, const struct imap_fetch_att *atts)
{
    check(n >= 1 && n <= IMAP_MAX_FETCH_ATTS && atts);
    for (uint32_t i = 0; i < n; i++) {
        const struct imap_fetch_att *a = &atts[i];
        check(a->kind <= IMAP_FETCH_MODSEQ);
        check(a->n_parts <= IMAP_MAX_SECTION_PARTS);
        for (uint32_t k = 0; k < a->n_parts; k++)
            check(a->parts[k] != 0);
        check_strs(a->fields, IMAP_MAX_HEADER_FIELDS);
        bool fields = a->text == IMAP_SECTION_HEADER_FIELDS ||
                      a->text == IMAP_SECTION_HEADER_FIELDS_NOT;
        check(fields == (a->fields.n > 0));
        if (a->text == IMAP_SECTION_MIME)
            check(a->n_parts > 0);
        switch (a->kind) {
        case IMAP_FETCH_BODY_SECTION:
            check(inside(a->section));
            break;
        case IMAP_FETCH_BINARY: case IMAP_FETCH_BINARY_SIZE:
            check(inside(a->section));
            check(a->text == IMAP_SECTION_NONE);
            check(!(a->kind == IMAP_FETCH_BINARY_SIZE && (a->peek || a->partial)));
            break;
        default:
            check(!a->peek && !a->partial && !a->n_parts && a->text == IMAP_SECTION_NONE);
            break;
        }
        if (a->partial)
            check(a->count >= 1 && a->count <= INT64_MAX && a->offset <= INT64_MAX);
    }
}

static void check_command(const struct imap_command *c)
{
    check(c->cmd > IMAP_CMD_UNKNOWN && c->cmd < IMAP_CMD_COUNT_);
    switch (c->cmd) {
    case IMAP_CMD_LOGIN:
        check_nonnil(c->u.login.user);
        check_nonnil(c->u.login.password);
        break;
    case IMAP_CMD_AUTHENTICATE:
        check_nonnil(c->u.authenticate.mechanism);
        check(c->u.authenticate.mechanism.len > 0);
        if (c->u.authenticate.has_initial)
            check(c->u.authenticate.initial.len % 4 == 0);
        break;
    case IMAP_CMD_ENABLE:
        check(c->u.enable.n >= 1);
        check_strs(c->u.enable, IMAP_MAX_LIST_ITEMS);
        break;
    case IMAP_CMD_SELECT: case IMAP_CMD_EXAMINE: {
        const struct imap_select_args *s = &c->u.select;
        check_nonnil(s->mailbox);
        if (s->qresync) {
            check(s->uidvalidity >= 1 && s->modseq >= 1 && s->modseq <= INT64_MAX);
            if (s->has_known_uids)
                check_set(&s->known_uids, false, false);
            if (s->has_seq_match) {
                check_set(&s->known_seqs, false, false);
                check_set(&s->known_seq_uids, false, false);
            }
        } else
            check(!s->has_known_uids && !s->has_seq_match);
        break;
    }
    case IMAP_CMD_CREATE:
        check_nonnil(c->u.create.mailbox);
        check_flags(c->u.create.use);
        break;
    case IMAP_CMD_DELETE: case IMAP_CMD_SUBSCRIBE: case IMAP_CMD_UNSUBSCRIBE:
    case IMAP_CMD_GETQUOTAROOT:
        check_nonnil(c->u.mailbox);
        break;
    case IMAP_CMD_GETQUOTA:
        check_nonnil(c->u.quota_root);
        break;
    case IMAP_CMD_RENAME:
        check_nonnil(c->u.rename.from);
        check_nonnil(c->u.rename.to);
        break;
    case IMAP_CMD_LIST: case IMAP_CMD_LSUB: {
        const struct imap_list_args *l = &c->u.list;
        check_nonnil(l->reference);
        check(l->patterns.n >= 1);
        check_strs(l->patterns, c->cmd == IMAP_CMD_LSUB ? 1 : IMAP_MAX_PATTERNS);
        if (l->select & IMAP_LIST_SEL_RECURSIVEMATCH)
            check(l->select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE));
        check(!(l->ret & IMAP_LIST_RET_STATUS) == !l->status_items);
        if (c->cmd == IMAP_CMD_LSUB)
            check(!l->extended && !l->select && !l->ret);
        break;
    }
    case IMAP_CMD_STATUS:
        check_nonnil(c->u.status.mailbox);
        check(c->u.status.items && c->u.status.items < 0x200);
        break;
    case IMAP_CMD_APPEND:
        check_nonnil(c->u.append.mailbox);
        check(c->u.append.n >= 1 && c->u.append.n <= IMAP_MAX_APPEND_MESSAGES);
        for (uint32_t i = 0; i < c->u.append.n; i++) {
            const struct imap_append_msg *m = &c->u.append.msgs[i];
            check_flags(m->flags);
            check(m->data.len == 0 || inside(m->data));
            if (!m->binary && m->data.len)
                check(!memchr(m->data.p, '\0', m->data.len));
            if (m->utf8)
                check(m->binary);
            if (m->has_date)
                check(m->date.zone > -24 * 60 && m->date.zone < 24 * 60);
        }
        break;
    case IMAP_CMD_SETQUOTA:
        check_nonnil(c->u.setquota.root);
        check(c->u.setquota.n <= IMAP_MAX_LIST_ITEMS);
        for (uint32_t i = 0; i < c->u.setquota.n; i++) {
            check_nonnil(c->u.setquota.resources[i].name);
            check(c->u.setquota.resources[i].limit <= INT64_MAX);
        }
        break;
    case IMAP_CMD_COMPRESS:
        check_nonnil(c->u.compress);
        break;
    case IMAP_CMD_ID:
        check(c->u.id.n <= IMAP_MAX_ID_PAIRS);
        for (uint32_t i = 0; i < c->u.id.n; i++) {
            check_nonnil(c->u.id.pairs[i].field);
            check_str(c->u.id.pairs[i].value);
        }
        break;
    case IMAP_CMD_NOTIFY: {
        const struct imap_notify_args *nt = &c->u.notify;
        if (nt->none) {
            check(!nt->n && !nt->status);
            break;
        }
        check(nt->n >= 1 && nt->n <= IMAP_MAX_LIST_ITEMS);
        for (uint32_t i = 0; i < nt->n; i++) {
            const struct imap_notify_group *g = &nt->groups[i];
            check(g->filter <= IMAP_NOTIFY_MAILBOXES);
            bool mb = g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES;
            check(mb == (g->mailboxes.n > 0));
            check_strs(g->mailboxes, IMAP_MAX_LIST_ITEMS);
            check(g->events < 0x200);
            if (g->atts) {
                check(g->events & IMAP_NOTIFY_EV_MESSAGE_NEW);
                check_atts(g->n_atts, g->atts);
            }
        }
        break;
    }
    case IMAP_CMD_EXPUNGE:
        if (c->uid)
            check_set(&c->u.expunge, true, true);
        break;
    case IMAP_CMD_SEARCH:
        check_str(c->u.search.charset);
        check(c->u.search.ret < 0x20);
        check(c->u.search.has_return || !c->u.search.ret);
        check(!c->u.search.has_return || c->u.search.ret);
        check_program(c->u.search.program);
        break;
    case IMAP_CMD_SORT:
        check(c->u.sort.n >= 1 && c->u.sort.n <= IMAP_MAX_SORT_KEYS);
        for (uint32_t i = 0; i < c->u.sort.n; i++)
            check(c->u.sort.criteria[i].key <= IMAP_SORT_DISPLAYTO);
        check_nonnil(c->u.sort.charset);
        check_program(c->u.sort.program);
        break;
    case IMAP_CMD_THREAD:
        check_nonnil(c->u.thread.charset);
        check_program(c->u.thread.program);
        break;
    case IMAP_CMD_FETCH:
        check_set(&c->u.fetch.set, true, true);
        check_atts(c->u.fetch.n, c->u.fetch.atts);
        if (c->u.fetch.vanished)
            check(c->uid && c->u.fetch.has_changedsince);
        break;
    case IMAP_CMD_STORE:
        check_set(&c->u.store.set, true, true);
        check(c->u.store.op <= IMAP_STORE_REMOVE);
        check_flags(c->u.store.flags);
        break;
    case IMAP_CMD_COPY: case IMAP_CMD_MOVE:
        check_set(&c->u.copy.set, true, true);
        check_nonnil(c->u.copy.mailbox);
        break;
    default:
        break;
    }
    switch (c->cmd) {
    case IMAP_CMD_COPY: case IMAP_CMD_MOVE: case IMAP_CMD_FETCH: case IMAP_CMD_STORE:
    case IMAP_CMD_SEARCH: case IMAP_CMD_SORT: case IMAP_CMD_THREAD: case IMAP_CMD_EXPUNGE:
        break;
    default:
        check(!c->uid);
    }
}

/* Walks the input as the engine assembles a command: line, literal, line...
 * Returns the offset where the command ends (the end of the last line), or
 * SIZE_MAX when a line is malformed or a literal runs past the input. */
static size_t assemble(const char *p, size_t size)
{
    size_t pos = 0;
    for (;;) {
        const char *crlf = NULL;
        for (size_t i = pos; i + 1 < size; i++)
            if (p[i] == '\r' && p[i + 1] == '\n') {
                crlf = p + i;
                break;
            }
        size_t end = crlf ? (size_t)(crlf - p) : size;
        struct imap_literal lit;
        const char *reason = NULL;
        int rc = imap_literal_at_end((struct str){ p + pos, end - pos }, &lit, &reason);
        if (rc < 0) {
            check(reason && *reason);
            return SIZE_MAX;
        }
        if (rc == 0)
            return end;
        check(lit.size <= INT64_MAX);
        check(end > pos && p[end - 1] == '}');
        if (!crlf || lit.size > size - end - 2)
            return SIZE_MAX;
        pos = end + 2 + (size_t)lit.size;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct str cmd = { (const char *)data, size };
    in_lo = cmd.p;
    in_hi = cmd.p + size;

    struct str tag;
    int trc = imap_parse_tag(cmd, &tag);
    if (trc == 0)
        check(tag.p == cmd.p && tag.len >= 1 && tag.len <= IMAP_TAG_MAX && tag.len < size &&
              cmd.p[tag.len] == ' ');

    struct arena *big = arena_new(16 << 20);
    struct imap_command c;
    const char *reason = NULL;
    int rc = imap_parse_command(big, cmd, &c, &reason);
    if (rc == 0) {
        check(trc == 0 && c.tag.p == tag.p && c.tag.len == tag.len);
        check_command(&c);
        check(assemble(cmd.p, size) == size);
    } else {
        check(rc == -1 && reason && *reason);
        for (const char *r = reason; *r; r++)
            check(*r >= 0x20 && *r < 0x7f);
        if (c.tag.p)
            check(trc == 0 && c.tag.p == tag.p && c.tag.len == tag.len);
        else
            check(trc != 0);
    }

    /* A small arena: the same answer, or out of memory. */
    struct arena *small = arena_new(512);
    struct imap_command c2;
    const char *reason2 = NULL;
    int rc2 = imap_parse_command(small, cmd, &c2, &reason2);
    if (rc2 == 0)
        check(rc == 0 && c2.cmd == c.cmd && c2.uid == c.uid);
    else if (strcmp(reason2, IMAP_PARSE_NOMEM) != 0)
        check(rc == -1 && strcmp(reason, reason2) == 0);
    arena_free(small);
    arena_free(big);

    /* The helper on every line, whatever the command. */
    (void)assemble(cmd.p, size);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || (i + 1 < size && cmd.p[i] == '\r' && cmd.p[i + 1] == '\n')) {
            struct imap_literal lit;
            const char *r = NULL;
            int lrc = imap_literal_at_end((struct str){ cmd.p + start, i - start }, &lit, &r);
            check(lrc >= -1 && lrc <= 1);
            if (lrc == 1)
                check(lit.size <= INT64_MAX && cmd.p[i - 1] == '}');
            if (lrc == -1)
                check(r && *r);
            start = i + 2;
            if (i == size)
                break;
            i++;
        }
    }
    return 0;
}
