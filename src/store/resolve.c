/* Where mail for an address goes (see store.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "store/db.h"

struct resolver {
    struct store *s;
    struct arena *a;
    struct store_resolution *out;
    int cap;
    const char **seen; /* addresses expanded so far: each once */
    int nseen, seen_cap;
    const char *path[STORE_RESOLVE_MAX_DEPTH + 2]; /* being expanded: a repeat is a loop */
    int depth;
    char **error_r;
};

static void add_target(struct resolver *r, int64_t account_id, const char *address)
{
    struct store_resolution *out = r->out;
    for (int i = 0; i < out->ntargets; i++) {
        if (account_id ? out->targets[i].account_id == account_id
                       : (!out->targets[i].account_id && !strcmp(out->targets[i].address, address)))
            return;
    }
    if (out->ntargets == STORE_RESOLVE_MAX_TARGETS) {
        out->truncated = true;
        return;
    }
    if (out->ntargets == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        struct store_target *t = arena_alloc(r->a, sizeof(*t) * (size_t)r->cap);
        if (out->ntargets)
            memcpy(t, out->targets, sizeof(*t) * (size_t)out->ntargets);
        out->targets = t;
    }
    out->targets[out->ntargets++] = (struct store_target){ account_id, arena_strdup(r->a, address) };
}

static bool on_path(struct resolver *r, const char *key)
{
    for (int i = 0; i < r->depth; i++)
        if (!strcmp(r->path[i], key))
            return true;
    return false;
}

static bool seen_before(struct resolver *r, const char *key)
{
    for (int i = 0; i < r->nseen; i++)
        if (!strcmp(r->seen[i], key))
            return true;
    if (r->nseen == r->seen_cap) {
        r->seen_cap = r->seen_cap ? r->seen_cap * 2 : 8;
        const char **grown = arena_alloc(r->a, sizeof(char *) * (size_t)r->seen_cap);
        if (r->nseen)
            memcpy(grown, r->seen, sizeof(char *) * (size_t)r->nseen);
        r->seen = grown;
    }
    r->seen[r->nseen++] = arena_strdup(r->a, key);
    return false;
}

/* 1: found an enabled account (its id in *id, its address in *addr);
 * 0: none; -1: database error. */
static int find_account(struct resolver *r, int64_t domain_id, const char *local_key,
                        int64_t *id, const char **addr)
{
    sqlite3_stmt *st = db_prepare(r->s,
                                  "SELECT a.id, a.localpart || '@' || d.name FROM accounts a"
                                  " JOIN domains d ON d.id = a.domain_id WHERE a.domain_id = ?"
                                  " AND a.localpart_key = ? AND a.disabled = 0",
                                  r->error_r);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, local_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *addr = arena_strdup(r->a, (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *r->error_r = db_error(r->s, "resolving an address");
        return -1;
    }
    return rc == SQLITE_ROW;
}

/* The targets of an alias, as an arena array; *n = 0 when there is no alias. */
static int alias_targets(struct resolver *r, int64_t domain_id, const char *local_key,
                         const char ***targets, int *n)
{
    *n = 0;
    *targets = NULL;
    sqlite3_stmt *st = db_prepare(r->s,
                                  "SELECT t.target FROM aliases al JOIN alias_targets t ON"
                                  " t.alias_id = al.id WHERE al.domain_id = ? AND"
                                  " al.localpart_key = ? ORDER BY t.target",
                                  r->error_r);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, domain_id);
    sqlite3_bind_text(st, 2, local_key, -1, SQLITE_STATIC);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            const char **grown = arena_alloc(r->a, sizeof(char *) * (size_t)cap);
            if (*n)
                memcpy(grown, *targets, sizeof(char *) * (size_t)*n);
            *targets = grown;
        }
        (*targets)[(*n)++] = arena_strdup(r->a, (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        *r->error_r = db_error(r->s, "resolving an alias");
        return -1;
    }
    return 0;
}

static int expand(struct resolver *r, const char *address, int depth, bool *found);
static int expand_address(struct resolver *r, const struct store_address *addr,
                          int64_t domain_id, int depth, bool *found);

/* An account or alias named exactly by local_key in domain_id. */
static int expand_local(struct resolver *r, int64_t domain_id, const char *local_key, int depth,
                        bool *found, bool *via_alias)
{
    int64_t id;
    const char *addr;
    int k = find_account(r, domain_id, local_key, &id, &addr);
    if (k < 0)
        return -1;
    if (k) {
        add_target(r, id, addr);
        *found = true;
        return 0;
    }
    const char **targets;
    int n;
    if (alias_targets(r, domain_id, local_key, &targets, &n) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        bool sub = false;
        if (expand(r, targets[i], depth + 1, &sub) < 0)
            return -1;
    }
    if (n) {
        *found = true;
        *via_alias = true;
    }
    return 0;
}

static int expand(struct resolver *r, const char *address, int depth, bool *found)
{
    *found = false;
    struct store_address addr;
    const char *why;
    if (store_address_parse(r->a, address, false, &addr, &why) != STORE_OK)
        return 0; /* a target we cannot even parse goes nowhere */
    int64_t domain_id = db_domain_id(r->s, addr.domain);
    if (domain_id < 0) {
        *r->error_r = db_error(r->s, "resolving a domain");
        return -1;
    }
    if (depth == 0 && domain_id == 0) {
        r->out->status = STORE_RCPT_NOT_LOCAL;
        return 0;
    }
    if (domain_id == 0) {
        /* An alias target elsewhere: the outbound queue's business. */
        add_target(r, 0, address);
        *found = true;
        return 0;
    }
    char *key = arena_alloc(r->a, strlen(addr.local_key) + strlen(addr.domain) + 2);
    sprintf(key, "%s@%s", addr.local_key, addr.domain);
    if (on_path(r, key) || depth > STORE_RESOLVE_MAX_DEPTH) {
        /* A loop, or too deep: what lies beyond is left out. */
        r->out->truncated = true;
        return 0;
    }
    if (seen_before(r, key)) {
        /* Reached again by another way (a diamond): its targets are in. */
        *found = true;
        return 0;
    }
    /* On the path until this address is fully expanded, sub-address and
     * catch-all included: any of them may lead back here. */
    r->path[r->depth++] = key;
    int rc = expand_address(r, &addr, domain_id, depth, found);
    r->depth--;
    return rc;
}

static int expand_address(struct resolver *r, const struct store_address *paddr,
                          int64_t domain_id, int depth, bool *found)
{
    struct store_address addr = *paddr;
    bool via_alias = false;
    if (expand_local(r, domain_id, addr.local_key, depth, found, &via_alias) < 0)
        return -1;
    /* user+tag: the same without the tag. */
    const char *seps = r->s->subaddress_separators;
    size_t cut = *seps ? strcspn(addr.local_key, seps) : strlen(addr.local_key);
    if (!*found && cut > 0 && addr.local_key[cut] != '\0') {
        char *base = arena_strndup(r->a, addr.local_key, cut);
        if (expand_local(r, domain_id, base, depth, found, &via_alias) < 0)
            return -1;
    }
    if (!*found) {
        /* The domain's catch-all ("@domain"). */
        bool catchall = false;
        if (expand_local(r, domain_id, "", depth, &catchall, &via_alias) < 0)
            return -1;
        if (catchall) {
            *found = true;
            r->out->via_catchall = true;
        }
    }
    if (via_alias)
        r->out->via_alias = true;
    return 0;
}

int store_resolve(struct store *s, struct arena *a, const char *address,
                  struct store_resolution *out, char **error_r)
{
    memset(out, 0, sizeof(*out));
    struct store_address addr;
    const char *why;
    if (store_address_parse(a, address, false, &addr, &why) != STORE_OK) {
        *error_r = xasprintf("%s: %s", address, why);
        return STORE_ERR_INVALID;
    }
    struct resolver r = { .s = s, .a = a, .out = out, .error_r = error_r };
    out->status = STORE_RCPT_LOCAL;
    bool found = false;
    if (expand(&r, address, 0, &found) < 0)
        return STORE_ERR_IO;
    if (out->status == STORE_RCPT_LOCAL && out->ntargets == 0)
        out->status = STORE_RCPT_UNKNOWN_USER;
    return STORE_OK;
}
