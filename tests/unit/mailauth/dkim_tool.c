/* A command-line driver for src/mailauth/dkim, for
 * tests/integration/test_dkim_dkimpy.py to check our signatures and our
 * verifier against dkimpy. Built with the unit tests; not a test itself.
 *
 *   dkim_tool keygen rsa|ed25519 [BITS] PEMFILE      prints the TXT record
 *   dkim_tool sign PEMFILE DOMAIN SELECTOR [NOW EXPIRE] < msg > signed msg
 *   dkim_tool verify NOW KEYS < msg                   one line per signature
 *
 * KEYS is a file of lines "NAME TXT-TEXT", or "NAME !temp" for a lookup
 * that fails temporarily; a name not listed does not exist. verify prints
 * "RESULT d=DOMAIN s=SELECTOR a=ALG reason=REASON", or "none". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

static char *read_all(FILE *f, size_t *len_r)
{
    struct buf b;
    buf_init(&b, 0);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_append(&b, tmp, n);
    *len_r = b.len;
    buf_append_char(&b, '\0');
    return b.p;
}

static char *read_file(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    char *s = read_all(f, len_r);
    fclose(f);
    return s;
}

static char *keys_text;

static void lookup(void *ctx, const char *name, dkim_txt_done_fn *done, void *done_ctx)
{
    size_t nlen = strlen(name);
    for (char *line = keys_text; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t llen = nl ? (size_t)(nl - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ' ') {
            const char *txt = line + nlen + 1;
            size_t tlen = llen - nlen - 1;
            if (tlen && txt[tlen - 1] == '\r')
                tlen--;
            if (tlen == 5 && memcmp(txt, "!temp", 5) == 0)
                return done(done_ctx, DKIM_DNS_TEMPFAIL, NULL, NULL, 0);
            char *copy = strndup(txt, tlen);
            const char *txts[1] = { copy };
            size_t lens[1] = { tlen };
            done(done_ctx, DKIM_DNS_OK, txts, lens, 1);
            free(copy);
            return;
        }
        line = nl ? nl + 1 : NULL;
    }
    done(done_ctx, DKIM_DNS_NONE, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
    const char *err = NULL;
    if (argc >= 4 && strcmp(argv[1], "keygen") == 0) {
        enum dkim_key_type t = strcmp(argv[2], "rsa") == 0 ? DKIM_KEY_RSA : DKIM_KEY_ED25519;
        int bits = argc >= 5 ? atoi(argv[3]) : 0;
        const char *path = argv[argc - 1];
        char *pem, *txt;
        if (dkim_keygen(t, bits, &pem, &txt, &err) < 0) {
            fprintf(stderr, "keygen: %s\n", err);
            return 1;
        }
        FILE *f = fopen(path, "w");
        if (!f || fputs(pem, f) < 0 || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        printf("%s\n", txt);
        free(pem);
        free(txt);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "sign") == 0) {
        size_t plen, mlen;
        char *pem = read_file(argv[2], &plen);
        struct dkim_key *k = dkim_key_load(pem, plen, true, &err);
        if (!k) {
            fprintf(stderr, "sign: %s\n", err);
            return 1;
        }
        char *msg = read_all(stdin, &mlen);
        struct dkim_sign_params p = { .domain = argv[3], .selector = argv[4] };
        if (argc >= 7) {
            p.timestamp = (time_t)atoll(argv[5]);
            p.expire_after = atoll(argv[6]);
        }
        struct buf out;
        buf_init(&out, 0);
        if (dkim_sign(k, &p, (struct str){ msg, mlen }, &out, &err) < 0) {
            fprintf(stderr, "sign: %s\n", err);
            return 1;
        }
        fwrite(out.p, 1, out.len, stdout);
        fwrite(msg, 1, mlen, stdout);
        buf_free(&out);
        free(msg);
        free(pem);
        dkim_key_free(k);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "verify") == 0) {
        size_t klen, mlen;
        keys_text = read_file(argv[3], &klen);
        char *msg = read_all(stdin, &mlen);
        struct dkim_resolver res = { lookup, NULL };
        struct dkim_sig_result r[DKIM_MAX_SIGNATURES];
        int n = dkim_verify_message((struct str){ msg, mlen }, (time_t)atoll(argv[2]), &res, r,
                                    DKIM_MAX_SIGNATURES);
        if (n == 0)
            printf("none\n");
        for (int i = 0; i < n; i++)
            printf("%s d=%s s=%s a=%s reason=%s\n", dkim_result_name(r[i].result), r[i].domain,
                   r[i].selector, r[i].algorithm, r[i].reason ? r[i].reason : "");
        free(msg);
        free(keys_text);
        return 0;
    }
    fprintf(stderr, "usage: dkim_tool keygen|sign|verify ...\n");
    return 2;
}
