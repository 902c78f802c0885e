/* DKIM canonicalization (RFC 6376 §3.4), the header splitter and the hash
 * of the header data. The body canonicalizer is a byte-at-a-time state
 * machine so the body can come in pieces split anywhere. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mailauth/dkim_internal.h"

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

int dkim_canon_header(enum dkim_canon c, struct str field, struct buf *out)
{
    size_t start = out->len;
    int rc = 0;
    if (c == DKIM_CANON_SIMPLE) {
        /* As it is, but a bare LF is the CRLF it was on the wire. */
        for (size_t i = 0; i < field.len && rc == 0; i++) {
            if (field.p[i] == '\n' && (i == 0 || field.p[i - 1] != '\r'))
                rc = buf_append_char(out, '\r');
            if (rc == 0)
                rc = buf_append_char(out, field.p[i]);
        }
    } else {
        long colon = str_find_char(field, ':');
        size_t nend = colon < 0 ? field.len : (size_t)colon;
        size_t ne = nend;
        while (ne > 0 && is_wsp(field.p[ne - 1]))
            ne--;
        for (size_t i = 0; i < ne && rc == 0; i++) {
            char ch = field.p[i];
            rc = buf_append_char(out, ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch);
        }
        if (rc == 0)
            rc = buf_append_char(out, ':');
        /* Unfold (line ends dropped), runs of WSP to one SP, none at the
         * ends of the value. */
        bool pending = false, any = false;
        for (size_t i = colon < 0 ? field.len : nend + 1; i < field.len && rc == 0; i++) {
            char ch = field.p[i];
            if (ch == '\r' || ch == '\n')
                continue;
            if (is_wsp(ch)) {
                pending = true;
                continue;
            }
            if (pending && any)
                rc = buf_append_char(out, ' ');
            if (rc == 0)
                rc = buf_append_char(out, ch);
            pending = false;
            any = true;
        }
    }
    if (rc == 0)
        rc = buf_append(out, "\r\n", 2);
    if (rc < 0)
        out->len = start;
    return rc;
}

struct dkim_body_hash {
    enum dkim_canon canon;
    long long limit;          /* -1: none */
    long long total;          /* canonical bytes so far (uncut) */
    EVP_MD_CTX *md;
    unsigned long long empty_lines; /* CRLFs held back: maybe trailing */
    bool line_content;        /* the current line has output */
    bool pending_ws;          /* relaxed: WSP seen, not yet written */
    bool pending_cr;          /* a CR that may start a CRLF */
    size_t n;
    unsigned char out[4096];
};

static void flush(struct dkim_body_hash *h)
{
    if (h->n)
        EVP_DigestUpdate(h->md, h->out, h->n);
    h->n = 0;
}

static void emit(struct dkim_body_hash *h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (h->limit < 0 || h->total < h->limit) {
            if (h->n == sizeof h->out)
                flush(h);
            h->out[h->n++] = (unsigned char)p[i];
        }
        h->total++;
    }
}

static void content(struct dkim_body_hash *h, char c)
{
    for (; h->empty_lines > 0; h->empty_lines--)
        emit(h, "\r\n", 2);
    if (h->pending_ws) {
        emit(h, " ", 1);
        h->pending_ws = false;
    }
    emit(h, &c, 1);
    h->line_content = true;
}

static void line_end(struct dkim_body_hash *h)
{
    h->pending_ws = false; /* trailing WSP goes (relaxed) */
    if (h->line_content)
        emit(h, "\r\n", 2);
    else
        h->empty_lines++;
    h->line_content = false;
}

struct dkim_body_hash *dkim_body_hash_new(enum dkim_canon c, long long limit)
{
    struct dkim_body_hash *h = xcalloc(1, sizeof *h);
    h->canon = c;
    h->limit = limit < 0 ? -1 : limit;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
        abort();
    return h;
}

void dkim_body_hash_update(struct dkim_body_hash *h, const void *data, size_t n)
{
    const char *p = data;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (h->pending_cr) {
            h->pending_cr = false;
            if (c == '\n') {
                line_end(h);
                continue;
            }
            content(h, '\r');
        }
        if (c == '\r')
            h->pending_cr = true;
        else if (c == '\n')
            line_end(h); /* a bare LF: the CRLF it was */
        else if (h->canon == DKIM_CANON_RELAXED && is_wsp(c))
            h->pending_ws = true;
        else
            content(h, c);
    }
}

void dkim_body_hash_final(struct dkim_body_hash *h, unsigned char out[32], long long *length_r)
{
    if (h->pending_cr) {
        h->pending_cr = false;
        content(h, '\r');
    }
    if (h->line_content)
        line_end(h);
    /* An empty body is one CRLF in simple, nothing in relaxed (§3.4.3,
     * §3.4.4 and erratum 1384). */
    if (h->total == 0 && h->canon == DKIM_CANON_SIMPLE)
        emit(h, "\r\n", 2);
    flush(h);
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->md, out, &len);
    if (length_r)
        *length_r = h->total;
}

void dkim_body_hash_free(struct dkim_body_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

/* The canonical body through the same machine: hashes nothing, captures. */
void dkim_canon_body(enum dkim_canon c, struct str body, struct buf *out)
{
    struct dkim_body_hash *h = dkim_body_hash_new(c, -1);
    /* Capture by flushing into out instead of the digest: feed in 1-byte
     * steps so every emitted byte passes through h->out, copied after. */
    for (size_t i = 0; i < body.len; i++) {
        dkim_body_hash_update(h, body.p + i, 1);
        buf_append(out, h->out, h->n);
        h->n = 0;
    }
    if (h->pending_cr) {
        h->pending_cr = false;
        content(h, '\r');
    }
    if (h->line_content)
        line_end(h);
    if (h->total == 0 && c == DKIM_CANON_SIMPLE)
        emit(h, "\r\n", 2);
    buf_append(out, h->out, h->n);
    h->n = 0;
    dkim_body_hash_free(h);
}

void dkim_header_split(struct str msg, struct dkim_header *h)
{
    h->f = NULL;
    h->n = 0;
    h->body_off = msg.len;
    int cap = 0;
    size_t pos = 0;
    struct dkim_field *cur = NULL; /* the field continuation lines extend */
    while (pos < msg.len) {
        const char *nl = memchr(msg.p + pos, '\n', msg.len - pos);
        size_t next = nl ? (size_t)(nl - msg.p) + 1 : msg.len;
        size_t end = nl ? (size_t)(nl - msg.p) : msg.len;
        if (end > pos && msg.p[end - 1] == '\r')
            end--;
        if (end == pos) { /* the blank line */
            h->body_off = next;
            break;
        }
        if (is_wsp(msg.p[pos])) {
            if (cur)
                cur->raw.len = end - (size_t)(cur->raw.p - msg.p);
        } else {
            cur = NULL;
            struct str line = { msg.p + pos, end - pos };
            long colon = str_find_char(line, ':');
            if (colon > 0 && h->n < DKIM_MAX_FIELDS) {
                if (h->n == cap) {
                    cap = cap ? cap * 2 : 32;
                    h->f = xrealloc(h->f, (size_t)cap * sizeof *h->f);
                }
                cur = &h->f[h->n++];
                size_t ne = (size_t)colon;
                while (ne > 0 && is_wsp(line.p[ne - 1]))
                    ne--;
                cur->name = (struct str){ line.p, ne };
                cur->raw = line;
            }
        }
        pos = next;
    }
    for (int i = 0; i < h->n; i++) {
        size_t colon = (size_t)str_find_char(h->f[i].raw, ':');
        h->f[i].value = (struct str){ h->f[i].raw.p + colon + 1, h->f[i].raw.len - colon - 1 };
    }
}

void dkim_header_free(struct dkim_header *h)
{
    free(h->f);
    h->f = NULL;
    h->n = 0;
}

int dkim_hash_headers(const struct dkim_header *h, const struct str *names, int n_names,
                      enum dkim_canon c, struct str sig_field, unsigned char out[32])
{
    bool *used = xcalloc((size_t)h->n + 1, 1);
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < n_names; i++) {
        for (int j = h->n - 1; j >= 0; j--) {
            if (!used[j] && str_eq_nocase(h->f[j].name, names[i])) {
                used[j] = true;
                dkim_canon_header(c, h->f[j].raw, &b);
                break;
            }
        }
    }
    dkim_canon_header(c, sig_field, &b);
    b.len -= 2; /* the signature field goes without its CRLF */
    unsigned int len = 0;
    int rc = EVP_Digest(b.p, b.len, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -1;
    buf_free(&b);
    free(used);
    return rc;
}
