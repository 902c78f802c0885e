/*
 * cli/cli.h — the subcommands of the `outpost` program (docs/cli.md).
 *
 * Each cmd_* takes the arguments after its name and returns the exit code:
 * 0 success, 1 failure (one clear line on stderr), 2 wrong usage (usage on
 * stderr). `--help` prints usage on stdout and returns 0.
 */
#ifndef OUTPOST_CLI_CLI_H
#define OUTPOST_CLI_CLI_H

#include <stdio.h>

#define EXIT_USAGE 2

int cmd_quickstart(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_domain(int argc, char **argv);
int cmd_account(int argc, char **argv);
int cmd_alias(int argc, char **argv);
/* One DNS lookup with the config's [dns] settings (testing, diagnosis). */
int cmd_dns(int argc, char **argv);
int cmd_queue(int argc, char **argv);
/* check: parsed and reported as not built. */
int cmd_unbuilt(const char *name, int argc, char **argv);

/* Usage text of a subcommand (NULL: the program's), and its printing. */
const char *usage_text(const char *cmd);
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv holds -h or --help (before any "--"). */
int wants_help(int argc, char **argv);

/* The config file: -c FILE, else $OUTPOST_CONFIG, else the system default.
 * Removes "-c FILE" from argv. */
const char *config_path_from_args(int *argc, char **argv);

#define OUTPOST_DEFAULT_CONFIG "/etc/outpost/outpost.conf"

struct config;
struct store;
/* For commands that work on the data: loads the config, enters its
 * directory, drops root like serve does (so that every file made belongs to
 * the server's user) and opens the store. Prints the problem and returns 1
 * on failure, else 0. */
int cli_open_store(const char *config_file, struct config **cfg, struct store **store);
void cli_close_store(struct config *cfg, struct store *store);
/* Reads a password: one line from standard input (--password-stdin). */
int cli_read_password(char *out, size_t outlen);

#endif
