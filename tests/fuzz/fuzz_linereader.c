/* Fuzzes the line reader: the input is cut into chunks at points the input
 * itself chooses. A line never passes the limit, an over-long line gives
 * exactly the limit, every chunk is used up, and a line that fits comes
 * back byte for byte as it was in the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/linereader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = 1 + data[0] % 64;
    size_t chunk = 1 + data[1] % 17;
    data += 2;
    size -= 2;
    struct linereader r;
    linereader_init(&r, max);
    size_t off = 0;
    size_t line_start = 0; /* offset in data where the current line began */
    bool skipping = false; /* inside an over-long line's remainder */
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        struct str in = { (const char *)data + off, n };
        struct str line;
        enum line_status st;
        while ((st = linereader_next(&r, &in, &line)) != LINE_NONE) {
            size_t end = (size_t)(in.p - (const char *)data); /* just past what was taken */
            if (line.len > max)
                abort();
            if (st == LINE_TOO_LONG) {
                /* Its first max bytes, from where the line began (unknown
                 * after the remainder of an earlier over-long line). */
                if (line.len != max || (!skipping && memcmp(line.p, data + line_start, max)))
                    abort();
                skipping = data[end - 1] != '\n'; /* the rest is skipped later */
                line_start = end;
                continue;
            }
            /* A line that fits is the input up to its LF (CR LF), at or
             * after where the previous one ended. */
            size_t term = st == LINE_CRLF ? 2 : 1;
            if (end < line.len + term)
                abort();
            size_t start = end - term - line.len;
            if (data[end - 1] != '\n' || (term == 2 && data[end - 2] != '\r') ||
                memcmp(line.p, data + start, line.len) != 0 || start < line_start ||
                (!skipping && start != line_start))
                abort();
            skipping = false;
            line_start = end;
        }
        if (in.len != 0)
            abort(); /* LINE_NONE means the chunk is used up */
        off += n;
    }
    linereader_free(&r);
    return 0;
}
