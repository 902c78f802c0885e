/* DEFLATE filters for COMPRESS=DEFLATE (see deflate.h). */
#include "core/deflate.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/str.h"

/* A 4 KB window and a small hash table keep the deflate state near 20 KB:
 * mail clients' traffic is short replies and message bodies, where a bigger
 * window gains little. */
#define OUT_WINDOW_BITS 12
#define OUT_MEM_LEVEL 5
#define IN_WINDOW_BITS 15
#define CHUNK 16384

struct deflate_state {
    z_stream in, out;
    bool in_ok, out_ok;
    bool failed;
    void (*on_failed)(void *arg);
    void *arg;
};

struct deflate_state *deflate_state_new(void (*failed)(void *arg), void *arg)
{
    struct deflate_state *s = xcalloc(1, sizeof(*s));
    s->on_failed = failed;
    s->arg = arg;
    /* Negative window bits: raw DEFLATE, as RFC 4978 requires. */
    s->in_ok = inflateInit2(&s->in, -IN_WINDOW_BITS) == Z_OK;
    s->out_ok = deflateInit2(&s->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -OUT_WINDOW_BITS,
                             OUT_MEM_LEVEL, Z_DEFAULT_STRATEGY) == Z_OK;
    if (!s->in_ok || !s->out_ok) {
        deflate_state_free(s);
        return NULL;
    }
    return s;
}

void deflate_state_free(void *state)
{
    struct deflate_state *s = state;
    if (!s)
        return;
    if (s->in_ok)
        inflateEnd(&s->in);
    if (s->out_ok)
        deflateEnd(&s->out);
    free(s);
}

bool deflate_state_failed(const struct deflate_state *s)
{
    return s->failed;
}

enum bufferevent_filter_result deflate_filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                 ev_ssize_t limit,
                                                 enum bufferevent_flush_mode mode, void *ctx)
{
    (void)mode;
    struct deflate_state *s = ctx;
    if (s->failed)
        return BEV_ERROR;
    size_t produced_total = 0;
    while (evbuffer_get_length(src) > 0) {
        if (limit >= 0 && produced_total >= (size_t)limit)
            break; /* the rest waits until the reader has drained dst */
        struct evbuffer_iovec in, out;
        if (evbuffer_peek(src, -1, NULL, &in, 1) < 1)
            break;
        if (evbuffer_reserve_space(dst, CHUNK, &out, 1) < 1)
            return BEV_ERROR;
        s->in.next_in = in.iov_base;
        s->in.avail_in = (uInt)in.iov_len;
        /* The reservation may be larger than asked: stay within the limit. */
        size_t room = out.iov_len < CHUNK ? out.iov_len : CHUNK;
        if (limit >= 0 && room > (size_t)limit - produced_total)
            room = (size_t)limit - produced_total;
        out.iov_len = room;
        s->in.next_out = out.iov_base;
        s->in.avail_out = (uInt)out.iov_len;
        int r = inflate(&s->in, Z_SYNC_FLUSH);
        size_t used = in.iov_len - s->in.avail_in;
        size_t made = out.iov_len - s->in.avail_out;
        out.iov_len = made;
        evbuffer_commit_space(dst, &out, 1);
        evbuffer_drain(src, used);
        produced_total += made;
        /* The client may not end the stream: after the final block nothing
         * could follow, and the session would be dead. */
        if (r == Z_STREAM_END || (r != Z_OK && r != Z_BUF_ERROR)) {
            s->failed = true;
            if (s->on_failed)
                s->on_failed(s->arg);
            return BEV_ERROR;
        }
        if (used == 0 && made == 0)
            break; /* needs more input */
    }
    return produced_total > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* Runs deflate over what is in next_in with `flush`, into dst. */
static bool run_deflate(struct deflate_state *s, struct evbuffer *dst, int flush)
{
    do {
        struct evbuffer_iovec out;
        if (evbuffer_reserve_space(dst, CHUNK, &out, 1) < 1)
            return false;
        s->out.next_out = out.iov_base;
        s->out.avail_out = (uInt)out.iov_len;
        int r = deflate(&s->out, flush);
        out.iov_len = (size_t)(s->out.next_out - (Bytef *)out.iov_base);
        evbuffer_commit_space(dst, &out, 1);
        if (r != Z_OK && r != Z_BUF_ERROR)
            return false;
        /* Done when deflate left output space unused: all is out. */
        if (s->out.avail_out != 0 && s->out.avail_in == 0)
            return true;
    } while (true);
}

/* Input taken per step while a limit applies. The limit is counted in
 * input (zlib holds some back until a flush, so its output lags), and
 * compressed output is never much larger than its input: a pass writes at
 * most about limit + OUT_STEP. */
#define OUT_STEP 16384

enum bufferevent_filter_result deflate_filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t limit,
                                                  enum bufferevent_flush_mode mode, void *ctx)
{
    (void)mode;
    struct deflate_state *s = ctx;
    if (evbuffer_get_length(src) == 0)
        return BEV_NEED_MORE;
    size_t taken = 0; /* input this pass: the output is about as much, or less */
    /* The limit is the room below the lower layer's high-water mark. What
     * does not fit stays here, in the top layer, where conn_set_drain's
     * watermark and the engine's backpressure see it; libevent runs this
     * filter again as the lower layer drains. Taking everything at once
     * would empty the top layer while the bytes wait below, and its write
     * callback (the drain) would never come. */
    while (evbuffer_get_length(src) > 0) {
        if (limit >= 0 && taken >= (size_t)limit)
            break;
        struct evbuffer_iovec in;
        if (evbuffer_peek(src, -1, NULL, &in, 1) < 1)
            break;
        if (limit >= 0 && in.iov_len > OUT_STEP)
            in.iov_len = OUT_STEP;
        s->out.next_in = in.iov_base;
        s->out.avail_in = (uInt)in.iov_len;
        bool last = in.iov_len == evbuffer_get_length(src) ||
                    (limit >= 0 && taken + in.iov_len >= (size_t)limit);
        /* A sync flush after the last piece: the reply goes out whole now,
         * not when more output happens to follow. */
        if (!run_deflate(s, dst, last ? Z_SYNC_FLUSH : Z_NO_FLUSH))
            return BEV_ERROR;
        evbuffer_drain(src, in.iov_len);
        taken += in.iov_len;
    }
    return BEV_OK;
}
