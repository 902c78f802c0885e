/* What the store indexes: the MIME structure at delivery (kept, so FETCH
 * never re-parses) and, later, the full-text index behind IMAP SEARCH
 * (files pending until store_acct_index_pending or a search indexes them). */
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "mime/mime.h"
#include "store/fs.h"
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
static int64_t acct_id;
static char dir[] = "/tmp/outpost-test-index-XXXXXX";

static long long sql(const char *q)
{
    return fixture_index_sql(dir, acct_id, q);
}

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

static int take_last(void *ctx, const struct store_message *m)
{
    *(uint32_t *)ctx = m->uid;
    return 0;
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
    err = NULL;
    /* Appends index nothing for search yet: both files are pending. */
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 2);
    CHECK_INT(sql("SELECT count(*) FROM fts"), 0);
    free(err);
    arena_free(a);
}

static void test_search_finds_decoded_text(void)
{
    struct uids u;
    /* The first search indexes what is pending, so it finds everything. */
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
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    CHECK_INT(sql("SELECT count(*) FROM fts"), 2);
}

static uint32_t append(const char *text)
{
    char *err = NULL;
    struct store_append_req req = { .mailbox = "INBOX", .data = text, .len = strlen(text) };
    uint32_t uid = 0;
    if (store_message_append(acct, &req, &uid, &err) != STORE_OK)
        fixture_die("store_message_append", err);
    return uid;
}

static void expunge(const char *mailbox, uint32_t uid)
{
    char *err = NULL;
    CHECK_INT(store_message_set_flags(acct, mailbox, &uid, 1, STORE_FLAGS_ADD,
                                      STORE_FLAG_DELETED, NULL, 0, NULL, NULL, &err),
              STORE_OK);
    CHECK_INT(store_message_expunge(acct, mailbox, &uid, 1, NULL, NULL, &err), STORE_OK);
    free(err);
}

static void test_index_pending_in_chunks(void)
{
    char *err = NULL;
    long long fts = sql("SELECT count(*) FROM fts");
    uint32_t uids[3] = { append("Subject: one\r\n\r\naardvark\r\n"),
                         append("Subject: two\r\n\r\nbadger\r\n"),
                         append("Subject: three\r\n\r\ncapybara\r\n") };
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 3);
    unsigned n = 99;
    CHECK_INT(store_acct_index_pending(acct, 2, &n, &err), STORE_OK);
    CHECK_INT(n, 2);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 1);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts + 2);
    /* Oldest first: the third is the one left. */
    CHECK_INT(sql("SELECT file_id = (SELECT max(id) FROM files) FROM fts_pending"), 1);
    CHECK_INT(store_acct_index_pending(acct, 0, &n, &err), STORE_OK);
    CHECK_INT(n, 0);
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    CHECK_INT(n, 1);
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    CHECK_INT(n, 0);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts + 3);
    struct uids u;
    CHECK_INT(search("INBOX", "badger", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], uids[1]);
    for (int i = 0; i < 3; i++)
        expunge("INBOX", uids[i]);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts);
    free(err);
}

static void test_pending_survives_reopen(void)
{
    char *err = NULL;
    uint32_t uid = append("Subject: zebra crossing\r\n\r\nstripes\r\n");
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 1);
    store_acct_close(acct);
    acct = NULL;
    CHECK_INT(store_acct_open(s, acct_id, &acct, &err), STORE_OK);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 1);
    unsigned n = 0;
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    CHECK_INT(n, 1);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    struct uids u;
    CHECK_INT(search("INBOX", "zebra", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], uid);
    expunge("INBOX", uid);
    free(err);
}

static void test_expunge_never_indexed(void)
{
    long long fts = sql("SELECT count(*) FROM fts");
    long long files = sql("SELECT count(*) FROM files");
    uint32_t uid = append("Subject: ephemeral\r\n\r\nmayfly\r\n");
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 1);
    expunge("INBOX", uid);
    /* The file went with its last message, and its pending row with it. */
    CHECK_INT(sql("SELECT count(*) FROM files"), files);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts);
    CHECK_INT(sql("SELECT count(*) FROM fts WHERE rowid NOT IN (SELECT id FROM files)"), 0);
    struct uids u;
    CHECK_INT(search("INBOX", "mayfly", &u), STORE_OK);
    CHECK_INT(u.n, 0);
}

static void test_unreadable_file_is_dropped(void)
{
    char *err = NULL;
    long long fts = sql("SELECT count(*) FROM fts");
    uint32_t gone = append("Subject: vanishing\r\n\r\nghost\r\n");
    uint32_t kept = append("Subject: staying\r\n\r\nghost\r\n");
    struct first f = { "" };
    CHECK_INT(store_message_list(acct, "INBOX", gone, gone, 0, take_file, &f, &err), STORE_OK);
    char *path = xasprintf("%s/accounts/%lld/msg/%.2s/%s", dir, (long long)acct_id, f.file,
                           f.file);
    CHECK_INT(remove(path), 0);
    free(path);
    unsigned n = 0;
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    CHECK_INT(n, 2);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts + 1);
    struct uids u;
    CHECK_INT(search("INBOX", "ghost", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], kept);
    expunge("INBOX", gone);
    expunge("INBOX", kept);
    free(err);
}

/* Between reading a file and its transaction, the indexer may find its
 * message expunged by another connection and the file id taken by a new
 * file: the text read must not land on the new file, which stays pending. */
static int race_fd = -1;
static bool race_armed;
static uint32_t race_new_uid;

static int race_open(const char *path, int flags, mode_t mode)
{
    int fd = store_fs_real.open(path, flags, mode);
    if (race_armed && (flags & O_ACCMODE) == O_RDONLY && !(flags & O_DIRECTORY))
        race_fd = fd;
    return fd;
}

static int race_close(int fd)
{
    int r = store_fs_real.close(fd);
    if (race_armed && fd == race_fd) {
        race_armed = false;
        /* Another session: expunges the message just read, and appends a
         * new one, whose file gets the freed id. */
        struct store_acct *other;
        char *err = NULL;
        if (store_acct_open(s, acct_id, &other, &err) != STORE_OK)
            fixture_die("store_acct_open", err);
        uint32_t uid = 0;
        store_message_list(other, "INBOX", 1, UINT32_MAX, 0, take_last, &uid, &err);
        CHECK_INT(store_message_set_flags(other, "INBOX", &uid, 1, STORE_FLAGS_ADD,
                                          STORE_FLAG_DELETED, NULL, 0, NULL, NULL, &err),
                  STORE_OK);
        CHECK_INT(store_message_expunge(other, "INBOX", &uid, 1, NULL, NULL, &err), STORE_OK);
        const char *text = "Subject: successor\r\n\r\nnewborn\r\n";
        struct store_append_req req = { .mailbox = "INBOX", .data = text, .len = strlen(text) };
        CHECK_INT(store_message_append(other, &req, &race_new_uid, &err), STORE_OK);
        store_acct_close(other);
        free(err);
    }
    return r;
}

static void test_index_races_expunge(void)
{
    char *err = NULL;
    long long fts = sql("SELECT count(*) FROM fts");
    append("Subject: predecessor\r\n\r\nforebear\r\n");
    long long id = sql("SELECT file_id FROM fts_pending");
    CHECK_INT(id, sql("SELECT max(id) FROM files"));
    struct store_fs_ops ops = store_fs_real;
    ops.open = race_open;
    ops.close = race_close;
    store_fs_set(&ops);
    race_armed = true;
    unsigned n = 0;
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    store_fs_set(NULL);
    CHECK(!race_armed);
    CHECK_INT(n, 1);
    /* The id was reused, and the new file is still pending, not indexed
     * with its predecessor's text. */
    CHECK_INT(sql("SELECT file_id FROM fts_pending"), id);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts);
    struct uids u;
    CHECK_INT(search("INBOX", "forebear", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("INBOX", "newborn", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], race_new_uid);
    expunge("INBOX", race_new_uid);
    free(err);
}

/* An index made before deferred indexing (schema 1) has every file in fts
 * and no fts_pending table; opening it adds the table, with nothing pending,
 * and what it had stays searchable. */
static void test_migration_from_v1(void)
{
    char *err = NULL;
    uint32_t old = append("Subject: heirloom\r\n\r\nfrom the old days\r\n");
    unsigned n;
    CHECK_INT(store_acct_index_pending(acct, 64, &n, &err), STORE_OK);
    store_acct_close(acct);
    acct = NULL;
    long long fts = sql("SELECT count(*) FROM fts");
    CHECK_INT(fts, 2); /* "lunch" and this one */
    /* What schemas 2 to 4 added, taken away: a schema 1 index. */
    CHECK_INT(sql("DROP TRIGGER files_fts_pending_delete; DROP TABLE fts_pending;"
                  " DROP INDEX messages_file; ALTER TABLE files DROP COLUMN wire_size;"
                  " ALTER TABLE mailboxes DROP COLUMN recent_uid;"
                  " PRAGMA user_version = 1;"),
              0);
    CHECK_INT(sql("SELECT count(*) FROM sqlite_master WHERE name = 'fts_pending'"), 0);
    CHECK_INT(store_acct_open(s, acct_id, &acct, &err), STORE_OK);
    CHECK_INT(sql("PRAGMA user_version"), 5);
    CHECK_INT(sql("SELECT count(*) FROM sqlite_master WHERE name = 'messages_file'"), 1);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts);
    struct uids u;
    CHECK_INT(search("INBOX", "old days", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    CHECK_INT(u.u[0], old);
    CHECK_INT(search("Archive", "Kathedrale", &u), STORE_OK);
    CHECK_INT(u.n, 0);
    CHECK_INT(search("INBOX", "lunch", &u), STORE_OK);
    CHECK_INT(u.n, 1);
    /* New appends are pending again; the trigger is there. */
    uint32_t fresh = append("Subject: newcomer\r\n\r\nfresh\r\n");
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 1);
    expunge("INBOX", fresh);
    CHECK_INT(sql("SELECT count(*) FROM fts_pending"), 0);
    expunge("INBOX", old);
    CHECK_INT(sql("SELECT count(*) FROM fts"), fts - 1);
    /* Opening it again migrates nothing more. */
    store_acct_close(acct);
    CHECK_INT(store_acct_open(s, acct_id, &acct, &err), STORE_OK);
    CHECK_INT(sql("PRAGMA user_version"), 5);
    free(err);
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
    int64_t id = 0;
    if (auth_init() < 0 || auth_credentials_make("pw", 2, &cred, &why) < 0 ||
        store_open(&opt, &s, &err) != STORE_OK ||
        store_domain_add(s, "example.test", &err) != STORE_OK ||
        store_account_add(s, "alice@example.test", "", &cred, 0, &id, &err) != STORE_OK ||
        store_acct_open(s, id, &acct, &err) != STORE_OK)
        return 1;
    acct_id = id;
    struct store_append_req r1 = { .mailbox = "INBOX", .data = multipart,
                                   .len = sizeof(multipart) - 1 };
    struct store_append_req r2 = { .mailbox = "INBOX", .data = plain, .len = sizeof(plain) - 1 };
    if (store_message_append(acct, &r1, NULL, &err) != STORE_OK ||
        store_message_append(acct, &r2, NULL, &err) != STORE_OK)
        return 1;
    RUN(test_structure_is_kept);
    RUN(test_search_finds_decoded_text);
    RUN(test_search_follows_copies_and_expunges);
    RUN(test_index_pending_in_chunks);
    RUN(test_pending_survives_reopen);
    RUN(test_expunge_never_indexed);
    RUN(test_unreadable_file_is_dropped);
    RUN(test_index_races_expunge);
    RUN(test_migration_from_v1);
    store_acct_close(acct);
    store_close(s);
    fixture_rmtree(dir);
    return TEST_DONE();
}
