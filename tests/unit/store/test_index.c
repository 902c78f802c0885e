/* What the store indexes at delivery: the MIME structure (kept, so FETCH
 * never re-parses) and the full-text index behind IMAP SEARCH. */
#include <ftw.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "mime/mime.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

static const char multipart[] =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.test>\r\n"
    "To: Alice <alice@example.test>\r\n"
    "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Die Kathedrale ist sch=C3=B6n.\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Treffen am <b>Dom</b> um zehn</p>\r\n"
    "--b1--\r\n";

static const char plain[] = "Subject: lunch\r\n\r\nab cd\r\n";

static struct store *s;
static struct store_acct *acct;
static char dir[] = "/tmp/outpost-test-index-XXXXXX";

struct uids {
    uint32_t u[16];
    int n;
};

static void add_uid(void *ctx, uint32_t uid)
{
    struct uids *u = ctx;
    if (u->n < 16)
        u->u[u->n++] = uid;
}

static int search(const char *mailbox, const char *text, struct uids *out)
{
    char *err = NULL;
    out->n = 0;
    int r = store_message_search(acct, mailbox, text, add_uid, out, &err);
    free(err);
    return r;
}

struct first {
    char file[64];
};

static int take_file(void *ctx, const struct store_message *m)
{
    snprintf(((struct first *)ctx)->file, sizeof(((struct first *)ctx)->file), "%s", m->file);
    return 1;
}

static void test_structure_is_kept(void)
{
    char *err = NULL;
    struct first f = { "" };
    CHECK_INT(store_message_list(acct, "INBOX", 1, 1, 0, take_file, &f, &err), STORE_OK);
    struct arena *a = arena_new(0);
    struct mime_part *root = store_message_structure(acct, a, f.file, &err);
    CHECK(root != NULL);
    if (root) {
        CHECK_INT(root->n_children, 2);
        CHECK(str_eq_nocase_cstr(root->type, "multipart"));
        CHECK(str_eq_nocase_cstr(root->subtype, "alternative"));
        CHECK_INT(root->body_offset + root->body_len, sizeof(multipart) - 1);
        if (root->children) {
            CHECK(str_eq_nocase_cstr(root->children->subtype, "plain"));
            CHECK(root->children->next && str_eq_nocase_cstr(root->children->next->subtype,
                                                              "html"));
        }
    }
    /* Without a kept blob (too large, or an older version) the file is
     * parsed instead, with the same result. */
    char *path = xasprintf("%s/accounts/1/index.db", dir);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "UPDATE files SET structure = NULL", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(path);
    struct mime_part *again = store_message_structure(acct, a, f.file, &err);
    CHECK(again != NULL);
    if (again) {
        CHECK_INT(again->n_children, 2);
        CHECK_INT(again->body_offset + again->body_len, sizeof(multipart) - 1);
    }
    CHECK(store_message_structure(acct, a, "0123456789abcdef0123456789abcdef", &err) == NULL);
    free(err);
    arena_free(a);
}

static void test_search_finds_decoded_text(void)
{
    struct uids u;
    /* Subject in ISO-8859-1 encoded words, body in quoted-printable UTF-8,
     * HTML without its tags, From's display name; any case. */
    CHECK_INT(search("INBOX", "Grüße aus Köln", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(search("INBOX", "SCHÖN", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(search("INBOX", "am Dom um", &u), STORE_OK); /* "am <b>Dom</b> um" */
    CHECK_INT(u.n, 1);
    CHECK_INT(search("INBOX", "Jürgen", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(search("INBOX", "<b>", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("INBOX", "preamble", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    /* Short terms, quotes and LIKE metacharacters. */
    CHECK_INT(search("INBOX", "cd", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], 2);
    CHECK_INT(search("INBOX", "%", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("INBOX", "a\"b", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("INBOX", "ab  \t cd", &u), STORE_OK); /* white space as one space */
    CHECK_INT(u.n, 1);
    CHECK_INT(search("INBOX", "lunch", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(search("Nope", "lunch", &u), STORE_ERR_NOT_FOUND);
}

static void test_search_follows_copies_and_expunges(void)
{
    char *err = NULL;
    uint32_t one = 1;
    CHECK_INT(store_message_copy(acct, "INBOX", &one, 1, "Archive", false, NULL, NULL, &err),
              STORE_OK);
    struct uids u;
    CHECK_INT(search("Archive", "Kathedrale", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(store_message_set_flags(acct, "INBOX", &one, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED,
                                      NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_expunge(acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    CHECK_INT(search("INBOX", "Kathedrale", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("Archive", "Kathedrale", &u), STORE_OK); /* the copy still has it */
    CHECK_INT(u.n, 1);
    CHECK_INT(store_message_set_flags(acct, "Archive", &u.u[0], 1, STORE_FLAGS_ADD,
                                      STORE_FLAG_DELETED, NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_expunge(acct, "Archive", NULL, 0, NULL, NULL, &err), STORE_OK);
    CHECK_INT(search("Archive", "Kathedrale", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    free(err);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    struct store_options opt = { .data_dir = dir, .subaddress_separators = "+" };
    char *err = NULL;
    const char *why;
    struct auth_credentials cred;
    int64_t id;
    if (auth_init() < 0 || auth_credentials_make("pw", 2, &cred, &why) < 0 ||
        store_open(&opt, &s, &err) != STORE_OK ||
        store_domain_add(s, "example.test", &err) != STORE_OK ||
        store_account_add(s, "alice@example.test", "", &cred, 0, &id, &err) != STORE_OK ||
        store_acct_open(s, id, &acct, &err) != STORE_OK)
        return 1;
    struct store_append_req r1 = { .mailbox = "INBOX", .data = multipart,
                                   .len = sizeof(multipart) - 1 };
    struct store_append_req r2 = { .mailbox = "INBOX", .data = plain, .len = sizeof(plain) - 1 };
    if (store_message_append(acct, &r1, NULL, &err) != STORE_OK ||
        store_message_append(acct, &r2, NULL, &err) != STORE_OK)
        return 1;
    RUN(test_structure_is_kept);
    RUN(test_search_finds_decoded_text);
    RUN(test_search_follows_copies_and_expunges);
    store_acct_close(acct);
    store_close(s);
    fixture_rmtree(dir);
    return TEST_DONE();
}
