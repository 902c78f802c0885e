/* Real crashes: a child appends messages (synchronously, and through the
 * group-commit path) and reports each acknowledged append on a pipe; the
 * parent kills it with SIGKILL at a random moment, then checks the store:
 * it opens, every acknowledged append is there with its flags and content,
 * no index entry lacks its file, and the orphan files are cleaned up. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/workers.h"
#include "store/store.h"
#include "fixture.h"
#include "test.h"

#define ROUNDS 24
#define MAX_ACKS 100000

static char dir[64];
static int64_t account_id;
static struct auth_credentials cred;

struct ack {
    uint32_t uid;
    unsigned flags;
};

/* ---- the child ---- */

static int ack_fd;

static void report(uint32_t uid, unsigned flags)
{
    struct ack a = { uid, flags };
    if (write(ack_fd, &a, sizeof(a)) != sizeof(a))
        _exit(3);
}

static char body[8192];

static size_t make_body(unsigned n)
{
    return (size_t)snprintf(body, sizeof(body), "Subject: message %u\r\n\r\n%0*u\r\n", n,
                            (int)(n % 4000) + 1, n);
}

static void child_sync(struct store *s)
{
    struct store_acct *acct;
    char *err = NULL;
    if (store_acct_open(s, account_id, &acct, &err) != STORE_OK)
        _exit(4);
    for (unsigned n = 0;; n++) {
        unsigned flags = n % 3 == 0 ? STORE_FLAG_SEEN : n % 3 == 1 ? STORE_FLAG_FLAGGED : 0;
        size_t len = make_body(n);
        struct store_append_req req = { .mailbox = "INBOX", .data = body, .len = len,
                                        .flags = flags };
        uint32_t uid;
        if (store_message_append(acct, &req, &uid, &err) != STORE_OK)
            _exit(5);
        report(uid, flags);
    }
}

struct async_op {
    struct store_append_req req;
    char data[8192];
    struct store *s;
};

static void async_done(void *ctx, int result, uint32_t uid, const char *error);

static void async_start(struct store *s, unsigned n)
{
    struct async_op *op = calloc(1, sizeof(*op));
    op->s = s;
    size_t len = make_body(n);
    memcpy(op->data, body, len);
    op->req = (struct store_append_req){ .mailbox = "INBOX", .data = op->data, .len = len,
                                         .flags = n % 2 ? STORE_FLAG_SEEN : STORE_FLAG_ANSWERED };
    store_append_async(s, account_id, &op->req, async_done, op);
}

static unsigned async_next;

static void async_done(void *ctx, int result, uint32_t uid, const char *error)
{
    (void)error;
    struct async_op *op = ctx;
    if (result != STORE_OK)
        _exit(6);
    report(uid, op->req.flags);
    struct store *s = op->s;
    free(op);
    async_start(s, async_next++); /* keep 16 in flight */
}

static void child_async(struct store *s)
{
    struct event_base *base = event_base_new();
    struct workers *w = workers_new(base, 4);
    char *err = NULL;
    if (store_attach(s, base, w, &err) != STORE_OK)
        _exit(7);
    for (async_next = 0; async_next < 16; async_next++)
        async_start(s, async_next);
    event_base_dispatch(base);
    _exit(8);
}

/* ---- the parent ---- */

static int count_files(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    static int *counter;
    if (!path) {
        counter = (int *)(void *)sb;
        return 0;
    }
    if (flag == FTW_F && counter)
        (*counter)++;
    return 0;
}

static int backdate(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_F) {
        struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
        utimensat(AT_FDCWD, path, old, 0);
    }
    return 0;
}

struct check {
    struct ack *acks;
    size_t nacks;
    unsigned *flags_by_uid; /* from the index */
    uint32_t max_uid;
    struct store_acct *acct;
    int missing_files;
    size_t rows;
};

static int check_row(void *ctx, const struct store_message *m)
{
    struct check *c = ctx;
    c->rows++;
    if (m->uid <= c->max_uid)
        c->flags_by_uid[m->uid] = m->flags | 0x100; /* 0x100: present */
    char *err = NULL;
    int fd = store_message_open(c->acct, m->file, &err);
    if (fd < 0) {
        c->missing_files++;
        free(err);
    } else {
        struct stat st;
        if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != m->size)
            c->missing_files++;
        close(fd);
    }
    return 0;
}

static void test_sigkill_at_random_moments(void)
{
    struct store_options opt = { .data_dir = dir, .subaddress_separators = "+" };
    srand((unsigned)time(NULL));
    size_t total_acked = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        CHECK_INT(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            ack_fd = fds[1];
            struct store *s;
            char *err = NULL;
            if (store_open(&opt, &s, &err) != STORE_OK)
                _exit(2);
            if (round % 2)
                child_async(s);
            child_sync(s);
        }
        close(fds[1]);
        struct timespec nap = { 0, (long)(5 + rand() % 60) * 1000000L };
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        /* Everything the child was told is durable. */
        struct ack *acks = malloc(sizeof(*acks) * MAX_ACKS);
        size_t nacks = 0;
        ssize_t n;
        while (nacks < MAX_ACKS &&
               (n = read(fds[0], &acks[nacks], sizeof(*acks))) == (ssize_t)sizeof(*acks))
            nacks++;
        close(fds[0]);
        total_acked += nacks;

        struct store *s;
        char *err = NULL;
        CHECK_INT(store_open(&opt, &s, &err), STORE_OK);
        struct store_acct *acct;
        CHECK_INT(store_acct_open(s, account_id, &acct, &err), STORE_OK);
        struct check c = { .acks = acks, .nacks = nacks, .acct = acct, .max_uid = 0 };
        for (size_t i = 0; i < nacks; i++)
            if (acks[i].uid > c.max_uid)
                c.max_uid = acks[i].uid;
        c.flags_by_uid = calloc(c.max_uid + 1, sizeof(unsigned));
        CHECK_INT(store_message_list(acct, "INBOX", 1, UINT32_MAX, 0, check_row, &c, &err),
                  STORE_OK);
        int lost = 0, wrong_flags = 0;
        for (size_t i = 0; i < nacks; i++) {
            unsigned f = c.flags_by_uid[acks[i].uid];
            if (!(f & 0x100))
                lost++;
            else if ((f & 0xff) != acks[i].flags)
                wrong_flags++;
        }
        CHECK_INT(lost, 0);
        CHECK_INT(wrong_flags, 0);
        CHECK_INT(c.missing_files, 0);

        /* Orphans (files of appends that never committed) go, once old. */
        char *msg = malloc(strlen(dir) + 64);
        sprintf(msg, "%s/accounts/%lld/msg", dir, (long long)account_id);
        nftw(msg, backdate, 16, FTW_PHYS);
        unsigned removed;
        CHECK_INT(store_acct_clean_orphans(acct, 3600, &removed, &err), STORE_OK);
        int files = 0;
        count_files(NULL, (const struct stat *)(void *)&files, 0, NULL);
        nftw(msg, count_files, 16, FTW_PHYS);
        count_files(NULL, NULL, 0, NULL);
        /* Every remaining file belongs to exactly one listed message. */
        CHECK_INT(files, (long long)c.rows);
        free(msg);
        free(c.flags_by_uid);
        free(acks);
        store_acct_close(acct);
        store_close(s);
        free(err);
    }
    fprintf(stderr, "  %d kills, %zu acknowledged appends checked\n", ROUNDS, total_acked);
    CHECK(total_acked > 0);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/outpost-test-crash-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    struct store_options opt = { .data_dir = dir, .subaddress_separators = "+" };
    struct store *s;
    char *err = NULL;
    const char *why;
    if (auth_init() < 0 || auth_credentials_make("pw", 2, &cred, &why) < 0 ||
        store_open(&opt, &s, &err) != STORE_OK ||
        store_domain_add(s, "example.test", &err) != STORE_OK ||
        store_account_add(s, "a@example.test", "", &cred, 0, &account_id, &err) != STORE_OK) {
        fprintf(stderr, "setup: %s\n", err ? err : why);
        return 1;
    }
    store_close(s);
    RUN(test_sigkill_at_random_moments);
    fixture_rmtree(dir);
    return TEST_DONE();
}
