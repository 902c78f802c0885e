/*
 * store/db.h — private to src/store: the SQLite connection and its helpers.
 */
#ifndef OUTPOST_STORE_DB_H
#define OUTPOST_STORE_DB_H

#include <sqlite3.h>

#include "store/store.h"

struct store {
    sqlite3 *db;
    char *subaddress_separators;
};

/* Prepares a statement; on failure returns NULL with *error_r allocated. */
sqlite3_stmt *db_prepare(struct store *s, const char *sql, char **error_r);
/* Steps a statement that returns no rows; returns STORE_OK, STORE_ERR_EXISTS
 * for a uniqueness violation, or STORE_ERR_IO with *error_r allocated. */
int db_exec_stmt(struct store *s, sqlite3_stmt *st, char **error_r);
/* Runs plain SQL (no parameters). */
int db_exec(struct store *s, const char *sql, char **error_r);
int db_begin(struct store *s, char **error_r);   /* BEGIN IMMEDIATE */
int db_commit(struct store *s, char **error_r);
void db_rollback(struct store *s);
/* "database error: <sqlite message>" as an allocated line. */
char *db_error(struct store *s, const char *what);

/* The domain's row id, 0 when it is not ours, or -1 on a database error. */
int64_t db_domain_id(struct store *s, const char *domain);
/* Looks an address up among accounts and aliases of its domain: returns 1
 * when taken, 0 when free, -1 on error. */
int db_address_taken(struct store *s, int64_t domain_id, const char *local_key);

#endif
