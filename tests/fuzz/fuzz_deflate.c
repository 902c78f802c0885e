/* Fuzzes the COMPRESS=DEFLATE input filter: what a client sends, cut into
 * chunks at points the input chooses, inflated with a limit the input
 * chooses. The filter never produces past its limit per call, never fails
 * without saying so, and once failed stays failed. Then the output filter
 * compresses the inflated bytes and zlib must give them back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <zlib.h>

#include "core/deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = 1 + data[0] % 64;
    ev_ssize_t limit = data[1] < 16 ? -1 : (ev_ssize_t)data[1] * 64;
    data += 2;
    size -= 2;
    struct deflate_state *s = deflate_state_new(NULL, NULL);
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new(), *all = evbuffer_new();
    bool failed = false;
    for (size_t off = 0; off < size && !failed; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        evbuffer_add(src, data + off, n);
        /* A reader that drains everything each time, at most 64 rounds per
         * chunk (a bomb is cut off here, not looped over forever). */
        for (int round = 0; round < 64 && evbuffer_get_length(src) > 0; round++) {
            enum bufferevent_filter_result r = deflate_filter_in(src, dst, limit, BEV_NORMAL, s);
            size_t got = evbuffer_get_length(dst);
            if (limit >= 0 && got > (size_t)limit)
                abort();
            if (evbuffer_get_length(all) < (1u << 20))
                evbuffer_add_buffer(all, dst);
            else
                evbuffer_drain(dst, got);
            if (r == BEV_ERROR) {
                if (!deflate_state_failed(s))
                    abort();
                failed = true;
                break;
            }
            if (r == BEV_NEED_MORE)
                break;
        }
    }
    if (failed && deflate_filter_in(src, dst, limit, BEV_NORMAL, s) != BEV_ERROR)
        abort();
    /* Round trip of what came out through the output side. */
    size_t plain_len = evbuffer_get_length(all);
    unsigned char *plain = malloc(plain_len + 1);
    evbuffer_copyout(all, plain, plain_len);
    struct evbuffer *wire = evbuffer_new();
    if (plain_len) {
        if (deflate_filter_out(all, wire, -1, BEV_NORMAL, s) != BEV_OK)
            abort();
        size_t wlen = evbuffer_get_length(wire);
        unsigned char *w = malloc(wlen + 1);
        evbuffer_remove(wire, w, wlen);
        unsigned char *back = malloc(plain_len + 1);
        z_stream z;
        memset(&z, 0, sizeof(z));
        inflateInit2(&z, -15);
        z.next_in = w;
        z.avail_in = (uInt)wlen;
        z.next_out = back;
        z.avail_out = (uInt)plain_len + 1;
        inflate(&z, Z_SYNC_FLUSH);
        if (z.avail_out != 1 || memcmp(back, plain, plain_len) != 0)
            abort();
        inflateEnd(&z);
        free(w);
        free(back);
    }
    free(plain);
    evbuffer_free(wire);
    evbuffer_free(src);
    evbuffer_free(dst);
    evbuffer_free(all);
    deflate_state_free(s);
    return 0;
}
