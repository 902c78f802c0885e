/* Fuzzes DKIM: the input's first byte picks the target — a tag list, a key
 * record, body canonicalization (cut into pieces the input chooses, which
 * must hash like the whole), header canonicalization, or a whole message
 * verified against fixed keys (one Ed25519, one RSA record, and a lookup
 * failing temporarily). Nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ed_txt[] = "v=DKIM1; k=ed25519; p=12ZA3n5GG3JHFDVDcN9rdh9UG2ERGE/I58sK290pEKI=";
static const char rsa_txt[] =
    "v=DKIM1; k=rsa; p="
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDlZ2LZLw4yR4RIGdKtlCSJL1IJOqb+E59j1aNv5Xec"
    "ISnhEkA8eY5707ElkJgY8z/j6rlruJBsYPf/WUHs7BlF4R8WXCC00YLGVU+1FBGq0sJmFRo3yO8m5HwB"
    "Q5rn34neS/m2y0EhYAB13Vu/jggYbPiPiXtT3MeyPqcp50RMQwIDAQAB";

static void lookup(void *ctx, const char *name, dkim_txt_done_fn *done, void *done_ctx)
{
    const char *txt = NULL;
    if (strcmp(name, "ed._domainkey.example.com") == 0)
        txt = ed_txt;
    else if (strcmp(name, "rsa._domainkey.example.com") == 0)
        txt = rsa_txt;
    else if (strcmp(name, "temp._domainkey.example.com") == 0)
        return done(done_ctx, DKIM_DNS_TEMPFAIL, NULL, NULL, 0);
    if (!txt)
        return done(done_ctx, DKIM_DNS_NONE, NULL, NULL, 0);
    size_t len = strlen(txt);
    done(done_ctx, DKIM_DNS_OK, &txt, &len, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t which = data[0] % 5, arg = data[1];
    struct str in = { (const char *)data + 2, size - 2 };
    switch (which) {
    case 0: {
        struct dkim_tags t;
        const char *err;
        if (dkim_tags_parse(in, &t, &err) == 0) {
            for (int i = 0; i < t.n; i++) {
                if (t.tag[i].value_end > in.len || t.tag[i].eq_off >= in.len ||
                    t.tag[i].value.p + t.tag[i].value.len > in.p + in.len)
                    abort();
            }
        }
        break;
    }
    case 1: {
        struct dkim_key_record k;
        const char *err;
        if (dkim_key_record_parse(in, &k, &err) == 0)
            dkim_key_record_free(&k);
        break;
    }
    case 2: {
        enum dkim_canon c = arg & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
        size_t step = 1 + (arg >> 1);
        long long limit = arg & 0x80 ? (long long)(arg & 0x3f) : -1;
        unsigned char whole[32], piece[32];
        long long l1, l2;
        struct dkim_body_hash *h = dkim_body_hash_new(c, limit);
        dkim_body_hash_update(h, in.p, in.len);
        dkim_body_hash_final(h, whole, &l1);
        dkim_body_hash_free(h);
        h = dkim_body_hash_new(c, limit);
        for (size_t off = 0; off < in.len; off += step)
            dkim_body_hash_update(h, in.p + off, in.len - off < step ? in.len - off : step);
        dkim_body_hash_final(h, piece, &l2);
        dkim_body_hash_free(h);
        if (memcmp(whole, piece, 32) != 0 || l1 != l2)
            abort();
        break;
    }
    case 3: {
        struct buf b;
        buf_init(&b, 0);
        dkim_canon_header(arg & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE, in, &b);
        buf_free(&b);
        break;
    }
    default: {
        struct dkim_resolver res = { lookup, NULL };
        struct dkim_sig_result r[DKIM_MAX_SIGNATURES];
        int n = dkim_verify_message(in, (time_t)arg * 10000000, &res, r, DKIM_MAX_SIGNATURES);
        for (int i = 0; i < n; i++)
            if (r[i].result == DKIM_NONE)
                abort(); /* every signature gets a result */
        break;
    }
    }
    return 0;
}
