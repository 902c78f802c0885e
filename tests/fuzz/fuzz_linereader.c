/* Fuzzes the line reader: the input is cut into chunks at points the input
 * itself chooses, and the lines must never exceed the limit or lose bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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
    size_t off = 0, consumed = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        struct str in = { (const char *)data + off, n };
        struct str line;
        enum line_status st;
        while ((st = linereader_next(&r, &in, &line)) != LINE_NONE) {
            if (line.len > max)
                abort();
            if (st == LINE_TOO_LONG && line.len != max)
                abort();
            consumed++;
        }
        if (in.len != 0)
            abort(); /* LINE_NONE means the chunk is used up */
        off += n;
    }
    (void)consumed;
    linereader_free(&r);
    return 0;
}
