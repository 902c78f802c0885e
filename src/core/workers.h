/*
 * core/workers.h — a small thread pool for blocking work.
 *
 * The event loop never blocks: password hashing, fsync, large queries and the
 * like run here, and their completion comes back to the loop thread, where
 * `done` runs. `work` runs on a pool thread and must touch nothing that the
 * loop owns; it communicates only through its `arg`.
 *
 * A session with a job outstanding must stay allocated until the job's `done`
 * has run, even when its connection closes meanwhile: mark it closed and
 * free it in `done`.
 *
 * Owns: its threads and queued jobs.
 */
#ifndef OUTPOST_CORE_WORKERS_H
#define OUTPOST_CORE_WORKERS_H

#include <event2/event.h>

struct workers;

struct workers *workers_new(struct event_base *base, int threads);
/* Queues a job; `done(arg)` runs on the loop thread after `work(arg)`. */
void workers_submit(struct workers *w, void (*work)(void *arg), void (*done)(void *arg),
                    void *arg);
/* Jobs queued or running. */
int workers_busy(struct workers *w);
/* Finishes every queued job and runs its `done` (jobs that a `done` submits
 * too), then stops the threads. */
void workers_free(struct workers *w);

#endif
