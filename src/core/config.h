/*
 * core/config.h — outpost.conf: an INI file read into a typed struct.
 *
 * The settings are declared once, in config_schema.def (name, type, default,
 * range, validator, documentation); the struct, the parser, `outpost config
 * defaults` and docs/config.md all come from that table.
 *
 * Relative paths in the file are relative to the file's own directory. Every
 * subcommand chdir()s there after loading (config_enter_dir), so paths stay
 * valid after privileges are dropped even when a parent directory is closed
 * to the unprivileged user.
 *
 * Owns: the struct config and its strings. Never logs: errors come back as one
 * line, "FILE:LINE: [section] key: what is wrong", for the caller to print.
 */
#ifndef OUTPOST_CORE_CONFIG_H
#define OUTPOST_CORE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#define CFG_CTYPE_STRING char *
#define CFG_CTYPE_PATH char *
#define CFG_CTYPE_LIST char *
#define CFG_CTYPE_INT long long
#define CFG_CTYPE_BOOL bool
#define CFG_CTYPE_DURATION long long
#define CFG_CTYPE_SIZE unsigned long long

enum config_type {
    CFG_STRING,
    CFG_PATH,
    CFG_LIST,
    CFG_INT,
    CFG_BOOL,
    CFG_DURATION,
    CFG_SIZE,
};

enum config_id {
#define SETTING(sec, key, type, def, valid, min, max, doc) CFG_ID_##sec##_##key,
#include "core/config_schema.def"
#undef SETTING
    CFG_COUNT
};

struct config {
    char *file; /* as given on the command line */
    char *dir;  /* absolute directory of the file */
    int line[CFG_COUNT]; /* where each setting was set; 0: its default */
#define SETTING(sec, key, type, def, valid, min, max, doc) CFG_CTYPE_##type sec##_##key;
#include "core/config_schema.def"
#undef SETTING
};

struct config_setting {
    const char *section;
    const char *key;
    enum config_type type;
    const char *def;
    const char *doc;
    long long min, max;
};

extern const struct config_setting config_settings[CFG_COUNT];

/* Reads and validates a config file. Returns NULL with *error_r set to one
 * allocated line (the caller frees it). */
struct config *config_load(const char *file, char **error_r);
/* The same from memory; `name` is used in messages and `dir` resolves paths
 * (NULL: the current directory). Used by config_load, the tests and the fuzzer. */
struct config *config_parse_string(const char *text, const char *name, const char *dir,
                                   char **error_r);
/* The same for bytes that may contain NUL (an error in a config). */
struct config *config_parse_buffer(const char *text, size_t len, const char *name,
                                   const char *dir, char **error_r);
void config_free(struct config *cfg);

/* The value of a STRING, PATH or LIST setting by id (for tables of settings,
 * such as the listeners). */
const char *config_string(const struct config *cfg, enum config_id id);

/* chdir() into the config file's directory. Returns 0 or -1 (errno set). */
int config_enter_dir(const struct config *cfg);

/* "FILE:LINE" where a setting was set, or "FILE" for a default, for messages
 * about values that fail later (a certificate that does not load, say).
 * Written into out. */
const char *config_where(const struct config *cfg, enum config_id id, char *out, size_t outlen);

/* Prints every setting with its default and documentation: as an INI file
 * that is itself a valid config, or as the Markdown of docs/config.md. */
void config_print_defaults(FILE *out, bool markdown);

/* Parsers shared with validators and callers: each returns 0 or -1. */
int config_parse_duration(const char *s, long long *ms);
int config_parse_size(const char *s, unsigned long long *bytes);
int config_parse_bool(const char *s, bool *out);

#endif
