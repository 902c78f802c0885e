/*
 * server/server.h — the daemon behind `outpost serve`.
 *
 * Loads the config, binds every listener, reads the TLS keys, drops root,
 * starts the worker pool, logs `ready`, and runs the event loop until SIGTERM
 * or SIGINT. SIGHUP reloads the config and certificates in place.
 *
 * Owns: the event loop, listeners, worker pool, current config and TLS.
 */
#ifndef OUTPOST_SERVER_SERVER_H
#define OUTPOST_SERVER_SERVER_H

/* Runs the server; returns the process exit code (0 after a clean
 * shutdown, 1 when it could not start). */
int server_run(const char *config_file);

#endif
