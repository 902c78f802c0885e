/* Fuzzes the SMTP reply reader (what a remote server sends us), the input
 * cut into chunks at points it chooses: every reply read has a code from
 * 200 to 599, an enhanced code of the reply's class or none, no more lines
 * and text than the limits; every byte is consumed or left for the next
 * call; an error is followed by a clean start. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = 1 + data[0] % 97;
    data++;
    size--;
    struct smtp_reply_reader r;
    smtp_reply_reader_init(&r);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        struct str in = { (const char *)data + off, n };
        for (int guard = 0; guard < 100000; guard++) {
            struct smtp_reply rep;
            const char *err = NULL;
            size_t before = in.len;
            enum smtp_reply_status st = smtp_reply_read(&r, &in, &rep, &err);
            if (in.len > before)
                abort();
            if (st == SMTP_REPLY_DONE) {
                if (rep.code < 200 || rep.code > 599 || rep.lines < 1 ||
                    rep.lines > SMTP_REPLY_MAX_LINES || rep.text.len > SMTP_REPLY_MAX_TEXT)
                    abort();
                if (rep.enhanced[0] &&
                    (rep.enhanced[0] != '0' + rep.code / 100 ||
                     smtp_enhanced_code_len(str_from_cstr(rep.enhanced)) !=
                         strlen(rep.enhanced)))
                    abort();
                smtp_reply_free(&rep);
                continue;
            }
            if (st == SMTP_REPLY_ERROR) {
                if (!err)
                    abort();
                continue;
            }
            if (in.len != 0)
                abort(); /* NEED_MORE takes everything */
            break;
        }
        off += n;
    }
    smtp_reply_reader_free(&r);
    return 0;
}
