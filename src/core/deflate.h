/*
 * core/deflate.h — DEFLATE (RFC 1951, raw: no zlib or gzip framing) as a
 * pair of libevent filters, for IMAP COMPRESS=DEFLATE (RFC 4978).
 *
 * The output side compresses what the engine writes and ends every batch
 * with a sync flush, so each reply reaches the client whole at once. It
 * honours its limit (the room in the layer below): the rest waits on top. The
 * input side inflates what the client sends, producing at most what the
 * filter's limit allows per call (a few bytes can inflate to megabytes: the
 * rest waits in the compressed input until the engine has read).
 *
 * Memory per connection is fixed: a 4 KB-window deflate state (any inflater
 * takes any window up to 32 KB) and a 32 KB-window inflate state, which RFC
 * 1951 lets the client use.
 *
 * Owns: the two zlib streams (deflate_state_free). Never logs.
 */
#ifndef OUTPOST_CORE_DEFLATE_H
#define OUTPOST_CORE_DEFLATE_H

#include <stdbool.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

struct deflate_state;

/* NULL when zlib cannot allocate its state. `failed(arg)` runs (inside the
 * filter, once) when the peer's data does not inflate: libevent does not
 * report a filter's error itself, so the owner must close the connection,
 * from outside the filter. NULL: nobody is told. */
struct deflate_state *deflate_state_new(void (*failed)(void *arg), void *arg);
void deflate_state_free(void *state); /* the shape libevent's free callback has */
/* True once the peer sent data that does not inflate (the filter then fails). */
bool deflate_state_failed(const struct deflate_state *s);

/* bufferevent_filter_new's input and output filters; ctx: the state. */
enum bufferevent_filter_result deflate_filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t limit,
                                                 enum bufferevent_flush_mode mode, void *ctx);
enum bufferevent_filter_result deflate_filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t limit,
                                                  enum bufferevent_flush_mode mode, void *ctx);

#endif
