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
};

struct store_options {
    const char *data_dir;         /* relative to the current directory or absolute */
    const char *subaddress_separators; /* "+" by default; "" turns sub-addressing off */
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

#endif
