/*
 * Fault injection for message appends (store/fs.h): with store_fs_set()
 * replacing the filesystem calls, a write failing with EIO or ENOSPC, a
 * write making no progress, a short write that then fails, a failing open,
 * fsync, close or rename, and a failing fsync of the directory. For each:
 * the append reports an error, takes no UID (the next successful one is
 * consecutive with the last successful one), leaves no index entry, and
 * leaves no file (nor *.tmp) under msg/.
 *
 * Two accounts: one whose 256 fan-out directories (msg/xx) exist already, so
 * every fault hits the writing of the file itself, and a fresh one, where the
 * first append also makes its directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "store/fs.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

static char tmpdir[64];
static struct store *store;
static struct auth_credentials cred;
static int naccounts;

static void setup(void)
{
    strcpy(tmpdir, "/tmp/outpost-unit-faults-XXXXXX");
    fixture_open(tmpdir, &store, &cred);
}

static void teardown(void)
{
    store_close(store);
    fixture_rmtree(tmpdir);
}

struct account {
    struct store_acct *acct;
    int64_t id;
    uint32_t last_uid;   /* of the last successful append to INBOX */
};

static void new_account(struct account *ac)
{
    char address[64], *err = NULL;
    snprintf(address, sizeof(address), "user%d@example.org", ++naccounts);
    memset(ac, 0, sizeof(*ac));
    if (store_account_add(store, address, NULL, &cred, 0, &ac->id, &err) != STORE_OK)
        fixture_die("store_account_add", err);
    if (store_acct_open(store, ac->id, &ac->acct, &err) != STORE_OK)
        fixture_die("store_acct_open", err);
}

/* ---- the faulty filesystem ---- */

enum fault {
    F_NONE,
    F_OPEN,                  /* creating the temporary file fails: EACCES */
    F_WRITE_EIO,             /* every write: -1/EIO */
    F_WRITE_ENOSPC,          /* every write: -1/ENOSPC */
    F_WRITE_ZERO,            /* every write returns 0 (no progress) */
    F_SHORT_WRITE,           /* the first write stores half, the next: -1/ENOSPC */
    F_FSYNC,                 /* fsync of a file: -1/EIO */
    F_CLOSE,                 /* close of a file (after closing it): -1/EIO */
    F_RENAME,                /* rename: -1/EIO */
    F_DIR_FSYNC,             /* fsync of any directory: -1/EIO */
    F_DIR_FSYNC_AFTER_RENAME, /* fsync of a directory once a rename was made: -1/EIO */
    F_UNLINK                 /* unlink: -1/EIO (for expunge, not append) */
};

static enum fault fault;
static int nwrites, nrenames, nfaults;

static bool is_dir(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static int f_open(const char *path, int flags, mode_t mode)
{
    if (fault == F_OPEN && (flags & O_CREAT)) {
        nfaults++;
        errno = EACCES;
        return -1;
    }
    return store_fs_real.open(path, flags, mode);
}

static ssize_t f_write(int fd, const void *buf, size_t len)
{
    switch (fault) {
    case F_WRITE_EIO:
        nfaults++;
        errno = EIO;
        return -1;
    case F_WRITE_ENOSPC:
        nfaults++;
        errno = ENOSPC;
        return -1;
    case F_WRITE_ZERO:
        nfaults++;
        return 0;
    case F_SHORT_WRITE:
        if (nwrites++ == 0)
            return store_fs_real.write(fd, buf, len > 1 ? len / 2 : len);
        nfaults++;
        errno = ENOSPC;
        return -1;
    default:
        return store_fs_real.write(fd, buf, len);
    }
}

static int f_fsync(int fd)
{
    bool dir = is_dir(fd);
    if ((fault == F_FSYNC && !dir) || (fault == F_DIR_FSYNC && dir) ||
        (fault == F_DIR_FSYNC_AFTER_RENAME && dir && nrenames > 0)) {
        nfaults++;
        errno = EIO;
        return -1;
    }
    return store_fs_real.fsync(fd);
}

static int f_close(int fd)
{
    if (fault == F_CLOSE && !is_dir(fd)) {
        store_fs_real.close(fd);
        nfaults++;
        errno = EIO;
        return -1;
    }
    return store_fs_real.close(fd);
}

static int f_rename(const char *from, const char *to)
{
    if (fault == F_RENAME) {
        nfaults++;
        errno = EIO;
        return -1;
    }
    int r = store_fs_real.rename(from, to);
    if (r == 0)
        nrenames++;
    return r;
}

static int f_unlink(const char *path)
{
    if (fault == F_UNLINK) {
        nfaults++;
        errno = EIO;
        return -1;
    }
    return store_fs_real.unlink(path);
}

static int f_mkdir(const char *path, mode_t mode)
{
    return store_fs_real.mkdir(path, mode);
}

static const struct store_fs_ops faulty = {
    .open = f_open,
    .write = f_write,
    .fsync = f_fsync,
    .close = f_close,
    .rename = f_rename,
    .unlink = f_unlink,
    .mkdir = f_mkdir,
};

/* ---- looking at the account ---- */

static int nfiles, ntmp;

static int count_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F) {
        nfiles++;
        size_t len = strlen(path);
        if (len >= 4 && !strcmp(path + len - 4, ".tmp"))
            ntmp++;
    }
    return 0;
}

/* Regular files under the account's msg/ (ntmp: how many are *.tmp). */
static int count_files(const struct account *ac)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/accounts/%lld/msg", tmpdir, (long long)ac->id);
    nfiles = ntmp = 0;
    if (nftw(path, count_entry, 16, FTW_PHYS) != 0)
        return -1;
    return nfiles;
}

#define MAXMSG 64
struct uidlist {
    int n;
    uint32_t u[MAXMSG];
};

static int uid_cb(void *ctx, const struct store_message *m)
{
    struct uidlist *l = ctx;
    if (l->n < MAXMSG)
        l->u[l->n++] = m->uid;
    return 0;
}

/* The INBOX holds exactly UIDs 1..last_uid. */
static void check_inbox(const struct account *ac)
{
    struct uidlist l = { 0 };
    char *err = NULL;
    CHECK_INT(store_message_list(ac->acct, "INBOX", 1, UINT32_MAX, 0, uid_cb, &l, &err), STORE_OK);
    free(err);
    CHECK_INT(l.n, ac->last_uid);
    for (int i = 0; i < l.n; i++)
        CHECK_INT(l.u[i], (uint32_t)i + 1);
}

static const char message[] =
    "From: someone@example.net\r\n"
    "To: user@example.org\r\n"
    "Subject: a message that will meet a faulty disk\r\n"
    "\r\n"
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n"
    "tempor incididunt ut labore et dolore magna aliqua.\r\n";

static int append(struct account *ac, uint32_t *uid, char **err)
{
    struct store_append_req req = { .mailbox = "INBOX", .data = message,
                                     .len = sizeof(message) - 1, .flags = 0,
                                     .keywords = NULL, .internal_date = 0 };
    *uid = 0;
    return store_message_append(ac->acct, &req, uid, err);
}

/* A successful append: the next UID after the last successful one. */
static void append_ok(struct account *ac)
{
    char *err = NULL;
    uint32_t uid;
    int before = count_files(ac);
    int r = append(ac, &uid, &err);
    CHECK_INT(r, STORE_OK);
    if (r != STORE_OK)
        fprintf(stderr, "  append: %s\n", err ? err : "(no error)");
    free(err);
    CHECK_INT(uid, ac->last_uid + 1);
    if (r == STORE_OK)
        ac->last_uid = uid;
    CHECK_INT(count_files(ac), before + 1);
    CHECK_INT(ntmp, 0);
    check_inbox(ac);
}

/* One failing append under `f`, then a successful one. */
static void fault_case(struct account *ac, enum fault f, int expect_errno, const char *label)
{
    struct arena *a = arena_new(0);
    struct store_mailbox before, after;
    char *err = NULL;
    CHECK_INT(store_mailbox_get(ac->acct, a, "INBOX", &before, &err), STORE_OK);
    free(err);
    err = NULL;
    int files_before = count_files(ac);
    CHECK_INT(ntmp, 0);

    fault = f;
    nwrites = nrenames = nfaults = 0;
    store_fs_set(&faulty);
    uint32_t uid = 0;
    int r = append(ac, &uid, &err);
    store_fs_set(NULL);
    fault = F_NONE;
    CHECK(store_fs == &store_fs_real);

    int failures = test_failures;
    CHECK(nfaults > 0); /* the fault was met */
    CHECK(r != STORE_OK);
    CHECK_INT(r, STORE_ERR_IO);
    CHECK(err != NULL);
    if (err && expect_errno)
        CHECK(strstr(err, strerror(expect_errno)) != NULL);
    /* Nothing left behind, nothing given out. */
    CHECK_INT(count_files(ac), files_before);
    CHECK_INT(ntmp, 0);
    CHECK_INT(store_mailbox_get(ac->acct, a, "INBOX", &after, &err), STORE_OK);
    CHECK_INT(after.messages, before.messages);
    CHECK_INT(after.uidnext, before.uidnext);
    CHECK_INT(after.highestmodseq, before.highestmodseq);
    CHECK_INT(after.size, before.size);
    check_inbox(ac);
    if (test_failures != failures)
        fprintf(stderr, "  in case %s (r=%d, uid=%u, faults met %d): %s\n", label, r,
                (unsigned)uid, nfaults, err ? err : "(no error)");
    free(err);
    arena_free(a);

    /* The store still works, and the UIDs stay consecutive. */
    append_ok(ac);
}

static void run_all_faults(struct account *ac)
{
    fault_case(ac, F_OPEN, EACCES, "open fails");
    fault_case(ac, F_WRITE_EIO, EIO, "write -1/EIO");
    fault_case(ac, F_WRITE_ENOSPC, ENOSPC, "write -1/ENOSPC");
    fault_case(ac, F_WRITE_ZERO, ENOSPC, "write returns 0");
    fault_case(ac, F_SHORT_WRITE, ENOSPC, "short write, then -1/ENOSPC");
    fault_case(ac, F_FSYNC, EIO, "fsync of the file fails");
    fault_case(ac, F_CLOSE, EIO, "close of the file fails");
    fault_case(ac, F_RENAME, EIO, "rename fails");
    fault_case(ac, F_DIR_FSYNC, EIO, "fsync of the directory fails");
    fault_case(ac, F_DIR_FSYNC_AFTER_RENAME, EIO, "fsync of the directory after rename fails");
    /* Several in a row. */
    fault_case(ac, F_WRITE_ENOSPC, ENOSPC, "write -1/ENOSPC again");
    fault_case(ac, F_RENAME, EIO, "rename fails again");
}

/* ---- tests ---- */

static void test_faults_existing_dirs(void)
{
    struct account ac;
    new_account(&ac);
    /* Every fan-out directory there already: no directory is made. */
    for (int i = 0; i < 256; i++) {
        char path[160];
        snprintf(path, sizeof(path), "%s/accounts/%lld/msg/%02x", tmpdir, (long long)ac.id, i);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            fixture_die(path, strerror(errno));
    }
    append_ok(&ac);
    run_all_faults(&ac);
    CHECK_INT(ac.last_uid, 13);
    store_acct_close(ac.acct);
}

static void test_faults_fresh_account(void)
{
    struct account ac;
    new_account(&ac);
    /* The first append makes its directory: the directory fsync fails
     * there already. */
    fault_case(&ac, F_DIR_FSYNC, EIO, "fsync of a new directory fails");
    run_all_faults(&ac);
    CHECK_INT(ac.last_uid, 13);
    store_acct_close(ac.acct);
}

static void test_faults_other_mailbox_untouched(void)
{
    struct account ac;
    new_account(&ac);
    append_ok(&ac);
    char *err = NULL;
    struct store_append_req req = { .mailbox = "Sent", .data = message,
                                     .len = sizeof(message) - 1, .flags = STORE_FLAG_SEEN,
                                     .keywords = "$Sent", .internal_date = 0 };
    uint32_t uid = 0;
    fault = F_RENAME;
    store_fs_set(&faulty);
    CHECK_INT(store_message_append(ac.acct, &req, &uid, &err), STORE_ERR_IO);
    store_fs_set(NULL);
    fault = F_NONE;
    free(err);
    err = NULL;
    CHECK_INT(store_message_append(ac.acct, &req, &uid, &err), STORE_OK);
    free(err);
    CHECK_INT(uid, 1);
    CHECK_INT(count_files(&ac), 2);
    CHECK_INT(ntmp, 0);
    check_inbox(&ac);
    store_acct_close(ac.acct);
}

/* A file that cannot be removed when its last message goes: the expunge
 * still succeeds, and the file is collected later (here: when the account
 * is opened again). */
static void test_unlink_fails_on_expunge(void)
{
    struct account ac;
    new_account(&ac);
    append_ok(&ac);
    append_ok(&ac);
    CHECK_INT(count_files(&ac), 2);
    char *err = NULL;
    uint32_t one = 1;
    CHECK_INT(store_message_set_flags(ac.acct, "INBOX", &one, 1, STORE_FLAGS_ADD,
                                      STORE_FLAG_DELETED, NULL, 0, NULL, NULL, &err),
              STORE_OK);
    free(err);
    err = NULL;
    fault = F_UNLINK;
    nfaults = 0;
    store_fs_set(&faulty);
    CHECK_INT(store_message_expunge(ac.acct, "INBOX", NULL, 0, NULL, NULL, &err), STORE_OK);
    store_fs_set(NULL);
    fault = F_NONE;
    free(err);
    err = NULL;
    CHECK(nfaults > 0);
    CHECK_INT(count_files(&ac), 2);
    struct uidlist l = { 0 };
    CHECK_INT(store_message_list(ac.acct, "INBOX", 1, UINT32_MAX, 0, uid_cb, &l, &err), STORE_OK);
    free(err);
    err = NULL;
    CHECK_INT(l.n, 1);
    CHECK_INT(l.u[0], 2);
    store_acct_close(ac.acct);
    ac.acct = NULL;
    CHECK_INT(store_acct_open(store, ac.id, &ac.acct, &err), STORE_OK);
    free(err);
    if (!ac.acct)
        return;
    CHECK_INT(count_files(&ac), 1);
    CHECK_INT(ntmp, 0);
    store_acct_close(ac.acct);
}

int main(void)
{
    setup();
    RUN(test_faults_existing_dirs);
    RUN(test_faults_fresh_account);
    RUN(test_faults_other_mailbox_untouched);
    RUN(test_unlink_fails_on_expunge);
    teardown();
    return TEST_DONE();
}
