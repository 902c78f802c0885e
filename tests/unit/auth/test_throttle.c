/*
 * Unit tests for auth/throttle.h: address blocks and their window, the user
 * name's longer delay, IPv6 /64 grouping (and IPv4-mapped addresses), success
 * clearing counts, eviction of the stalest entries, new limits on SIGHUP.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "auth/throttle.h"
#include "test.h"

static const struct auth_throttle_config base = {
    .ip_max_failures = 3,
    .user_max_failures = 2,
    .window_secs = 60,
    .block_secs = 300,
    .failure_delay_ms = 100,
    .max_delay_ms = 5000,
    .max_entries = 100,
};

/* An address as a sockaddr_storage ("192.0.2.1" or "2001:db8::1"). */
static struct sockaddr_storage A(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(25);
    } else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(587);
    } else {
        fprintf(stderr, "bad address %s\n", text);
        abort();
    }
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static unsigned fail_n(struct auth_throttle *t, const char *addr, const char *user, int n,
                       int64_t now)
{
    struct sockaddr_storage ss = A(addr);
    unsigned d = 0;
    for (int i = 0; i < n; i++)
        d = auth_throttle_failure(t, SA(ss), user, now);
    return d;
}

static unsigned blocked(struct auth_throttle *t, const char *addr, int64_t now)
{
    struct sockaddr_storage ss = A(addr);
    return auth_throttle_blocked(t, SA(ss), now);
}

static void test_block(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    CHECK_INT(blocked(t, "192.0.2.1", 1000), 0);
    CHECK_INT(fail_n(t, "192.0.2.1", NULL, 1, 1000), 100);
    CHECK_INT(fail_n(t, "192.0.2.1", NULL, 1, 1001), 100);
    CHECK_INT(blocked(t, "192.0.2.1", 1001), 0);
    /* The third failure reaches the limit: blocked for 300 s from it. */
    CHECK_INT(fail_n(t, "192.0.2.1", NULL, 1, 1010), 100);
    CHECK_INT(blocked(t, "192.0.2.1", 1010), 300);
    CHECK_INT(blocked(t, "192.0.2.1", 1110), 200);
    CHECK_INT(blocked(t, "192.0.2.1", 1309), 1);
    CHECK_INT(blocked(t, "192.0.2.1", 1310), 0);
    /* Another address is not blocked. */
    CHECK_INT(blocked(t, "192.0.2.2", 1010), 0);
    CHECK_INT(blocked(t, "2001:db8::1", 1010), 0);
    auth_throttle_free(t);
    auth_throttle_free(NULL);
}

static void test_window(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    /* Two failures, then the window (60 s from the first) is over: the
     * count starts again. */
    fail_n(t, "192.0.2.1", NULL, 2, 0);
    fail_n(t, "192.0.2.1", NULL, 1, 60);
    CHECK_INT(blocked(t, "192.0.2.1", 60), 0);
    fail_n(t, "192.0.2.1", NULL, 1, 61);
    CHECK_INT(blocked(t, "192.0.2.1", 61), 0);
    fail_n(t, "192.0.2.1", NULL, 1, 119);
    CHECK_INT(blocked(t, "192.0.2.1", 119), 300);

    /* Still inside the window at 59 s. */
    fail_n(t, "198.51.100.7", NULL, 2, 0);
    fail_n(t, "198.51.100.7", NULL, 1, 59);
    CHECK_INT(blocked(t, "198.51.100.7", 59), 300);

    /* Failures during a block do not lengthen it. */
    fail_n(t, "198.51.100.7", NULL, 5, 100);
    CHECK_INT(blocked(t, "198.51.100.7", 100), 259);
    auth_throttle_free(t);

    /* A window longer than the block: a failure after the block, still in
     * the window, blocks again at once. */
    struct auth_throttle_config cfg = base;
    cfg.window_secs = 1000;
    cfg.block_secs = 100;
    t = auth_throttle_new(&cfg);
    fail_n(t, "192.0.2.1", NULL, 3, 0);
    CHECK_INT(blocked(t, "192.0.2.1", 50), 50);
    CHECK_INT(blocked(t, "192.0.2.1", 100), 0);
    fail_n(t, "192.0.2.1", NULL, 1, 150);
    CHECK_INT(blocked(t, "192.0.2.1", 150), 100);
    /* After the window, the count starts again. */
    fail_n(t, "192.0.2.1", NULL, 2, 1000);
    CHECK_INT(blocked(t, "192.0.2.1", 1000), 0);
    auth_throttle_free(t);
}

static void test_user_delay(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    /* Each failure from another address: only the user counts here. */
    CHECK_INT(fail_n(t, "192.0.2.1", "alice@x.test", 1, 0), 100);
    CHECK_INT(fail_n(t, "192.0.2.2", "Alice@X.TEST", 1, 1), 5000);
    CHECK_INT(fail_n(t, "192.0.2.3", "ALICE@x.test", 1, 2), 5000);
    CHECK_INT(fail_n(t, "192.0.2.4", "bob@x.test", 1, 3), 100);
    CHECK_INT(fail_n(t, "192.0.2.5", NULL, 1, 3), 100);
    /* The user is never blocked, only slowed; the addresses are fine. */
    CHECK_INT(blocked(t, "192.0.2.2", 3), 0);
    /* After the window: the normal delay again. */
    CHECK_INT(fail_n(t, "192.0.2.1", "alice@x.test", 1, 60), 100);
    CHECK_INT(fail_n(t, "192.0.2.1", "alice@x.test", 1, 61), 5000);
    /* A success forgets the user's failures. */
    struct sockaddr_storage ss = A("192.0.2.9");
    auth_throttle_success(t, SA(ss), "ALICE@X.test", 62);
    CHECK_INT(fail_n(t, "192.0.2.1", "alice@x.test", 1, 63), 100);
    /* Non-ASCII bytes are kept as they are; a long name works. */
    CHECK_INT(fail_n(t, "192.0.2.1", "j\xc3\xb6rg", 2, 64), 5000);
    CHECK_INT(fail_n(t, "192.0.2.1", "J\xc3\x96RG", 1, 64), 100);
    char longname[1000];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_INT(fail_n(t, "192.0.2.1", longname, 1, 64), 100);
    longname[500] = 'A';
    CHECK_INT(fail_n(t, "192.0.2.1", longname, 1, 64), 5000);
    longname[999 - 1] = 'b';
    CHECK_INT(fail_n(t, "192.0.2.1", longname, 1, 64), 100);
    auth_throttle_free(t);
}

static void test_success_clears_address(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    fail_n(t, "192.0.2.1", "alice", 2, 0);
    struct sockaddr_storage ss = A("192.0.2.1");
    auth_throttle_success(t, SA(ss), NULL, 1);
    fail_n(t, "192.0.2.1", NULL, 2, 2);
    CHECK_INT(blocked(t, "192.0.2.1", 2), 0);
    fail_n(t, "192.0.2.1", NULL, 1, 3);
    CHECK_INT(blocked(t, "192.0.2.1", 3), 300);
    /* The user was not cleared by a success without a name. */
    CHECK_INT(fail_n(t, "192.0.2.7", "alice", 1, 4), 5000);
    /* Success for unknown entries, and with no address. */
    auth_throttle_success(t, NULL, "nobody", 5);
    ss = A("203.0.113.1");
    auth_throttle_success(t, SA(ss), NULL, 5);
    auth_throttle_free(t);
}

static void test_ipv6_prefix(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    /* Three addresses of one /64: one block for the whole /64. */
    fail_n(t, "2001:db8:1:2::1", NULL, 1, 0);
    fail_n(t, "2001:db8:1:2::2", NULL, 1, 0);
    fail_n(t, "2001:db8:1:2:ffff:ffff:ffff:ffff", NULL, 1, 0);
    CHECK_INT(blocked(t, "2001:db8:1:2::99", 0), 300);
    CHECK_INT(blocked(t, "2001:db8:1:2:abcd::", 0), 300);
    CHECK_INT(blocked(t, "2001:db8:1:3::1", 0), 0);
    CHECK_INT(blocked(t, "2001:db8:1:1:ffff:ffff:ffff:ffff", 0), 0);
    CHECK_INT(blocked(t, "2001:db9:1:2::1", 0), 0);

    /* IPv4 addresses are not grouped. */
    fail_n(t, "192.0.2.1", NULL, 1, 0);
    fail_n(t, "192.0.2.2", NULL, 1, 0);
    fail_n(t, "192.0.2.3", NULL, 1, 0);
    CHECK_INT(blocked(t, "192.0.2.1", 0), 0);
    CHECK_INT(blocked(t, "192.0.2.4", 0), 0);

    /* An IPv4-mapped IPv6 address (a "*" listener) is its IPv4 address. */
    fail_n(t, "::ffff:198.51.100.1", NULL, 2, 0);
    fail_n(t, "198.51.100.1", NULL, 1, 0);
    CHECK_INT(blocked(t, "198.51.100.1", 0), 300);
    CHECK_INT(blocked(t, "::ffff:198.51.100.1", 0), 300);
    CHECK_INT(blocked(t, "::ffff:198.51.100.2", 0), 0);
    /* ...and does not share the /64 of other mapped addresses. */
    CHECK_INT(blocked(t, "::ffff:0:0", 0), 0);
    /* A success over IPv4 clears the mapped form. */
    struct sockaddr_storage ss = A("::ffff:198.51.100.1");
    auth_throttle_success(t, SA(ss), NULL, 1);
    CHECK_INT(blocked(t, "198.51.100.1", 1), 0);
    auth_throttle_free(t);
}

static void test_other_peers(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    /* No address, or a UNIX socket: never blocked, the user still counts. */
    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/tmp/x");
    for (int i = 0; i < 5; i++) {
        auth_throttle_failure(t, NULL, NULL, 0);
        auth_throttle_failure(t, (const struct sockaddr *)&un, NULL, 0);
    }
    CHECK_INT(auth_throttle_blocked(t, NULL, 0), 0);
    CHECK_INT(auth_throttle_blocked(t, (const struct sockaddr *)&un, 0), 0);
    CHECK_INT(auth_throttle_failure(t, NULL, "carol", 0), 100);
    CHECK_INT(auth_throttle_failure(t, (const struct sockaddr *)&un, "carol", 0), 5000);
    auth_throttle_success(t, (const struct sockaddr *)&un, "carol", 0);
    CHECK_INT(auth_throttle_failure(t, NULL, "carol", 0), 100);
    auth_throttle_free(t);
}

static void test_eviction(void)
{
    struct auth_throttle_config cfg = base;
    cfg.max_entries = 4;
    struct auth_throttle *t = auth_throttle_new(&cfg);

    /* A blocked, then three others: four entries, A still blocked. */
    fail_n(t, "10.0.0.1", NULL, 3, 0);
    fail_n(t, "10.0.0.2", NULL, 2, 1);
    fail_n(t, "10.0.0.3", NULL, 1, 2);
    fail_n(t, "10.0.0.4", NULL, 1, 3);
    CHECK_INT(blocked(t, "10.0.0.1", 4), 296);
    /* A fails again (its entry is now the freshest); a fifth address
     * pushes out the stalest, 10.0.0.2. */
    fail_n(t, "10.0.0.1", NULL, 1, 4);
    fail_n(t, "10.0.0.5", NULL, 1, 5);
    CHECK_INT(blocked(t, "10.0.0.1", 5), 295);
    /* 10.0.0.2 had two failures; forgotten, one more does not block. */
    fail_n(t, "10.0.0.2", NULL, 1, 6);
    CHECK_INT(blocked(t, "10.0.0.2", 6), 0);
    /* That pushed out 10.0.0.3; now 4, 1, 5, 2 remain. Two more push out
     * 10.0.0.4 and then 10.0.0.1, blocked or not. */
    fail_n(t, "10.0.0.6", NULL, 1, 7);
    CHECK_INT(blocked(t, "10.0.0.1", 7), 293);
    fail_n(t, "10.0.0.7", NULL, 1, 8);
    CHECK_INT(blocked(t, "10.0.0.1", 8), 0);
    auth_throttle_free(t);

    /* User names too. */
    cfg.max_entries = 2;
    t = auth_throttle_new(&cfg);
    CHECK_INT(fail_n(t, "10.0.0.1", "u1", 2, 0), 5000);
    fail_n(t, "10.0.0.1", "u2", 1, 1);
    CHECK_INT(fail_n(t, "10.0.0.1", "u1", 1, 2), 5000); /* u1 freshest again */
    fail_n(t, "10.0.0.1", "u3", 1, 3);                  /* pushes out u2 */
    CHECK_INT(fail_n(t, "10.0.0.1", "u2", 1, 4), 100);  /* pushes out u1 */
    CHECK_INT(fail_n(t, "10.0.0.1", "u1", 1, 5), 100);
    auth_throttle_free(t);

    /* max_entries 0 keeps one entry. */
    cfg.max_entries = 0;
    t = auth_throttle_new(&cfg);
    fail_n(t, "10.0.0.1", NULL, 3, 0);
    CHECK_INT(blocked(t, "10.0.0.1", 0), 300);
    fail_n(t, "10.0.0.2", NULL, 1, 0);
    CHECK_INT(blocked(t, "10.0.0.1", 0), 0);
    auth_throttle_free(t);
}

/* Many addresses through a table of 1,000: the table grows its buckets,
 * keeps the freshest 1,000 and forgets the rest. */
static void test_many(void)
{
    struct auth_throttle_config cfg = base;
    cfg.max_entries = 1000;
    cfg.block_secs = 10000;
    struct auth_throttle *t = auth_throttle_new(&cfg);
    char addr[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i >> 8, i & 0xff);
        fail_n(t, addr, NULL, 3, i);
        snprintf(addr, sizeof(addr), "user%d", i);
        auth_throttle_failure(t, NULL, addr, i);
    }
    int kept = 0, blocked_kept = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof(addr), "2001:db8:%x:%x::2", i >> 8, i & 0xff);
        if (blocked(t, addr, 5000)) {
            kept++;
            if (i >= 4000)
                blocked_kept++;
        }
    }
    CHECK_INT(kept, 1000);
    CHECK_INT(blocked_kept, 1000);
    /* The last users are remembered, the first are not. */
    CHECK_INT(auth_throttle_failure(t, NULL, "user4999", 5000), 5000);
    CHECK_INT(auth_throttle_failure(t, NULL, "user0", 5000), 100);
    auth_throttle_free(t);
}

static void test_configure(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    fail_n(t, "192.0.2.1", "alice", 1, 0);
    fail_n(t, "192.0.2.2", NULL, 3, 0);
    CHECK_INT(blocked(t, "192.0.2.2", 0), 300);

    /* New limits; counts are kept. */
    struct auth_throttle_config cfg = base;
    cfg.ip_max_failures = 2;
    cfg.user_max_failures = 5;
    cfg.block_secs = 100;
    cfg.max_delay_ms = 9000;
    auth_throttle_configure(t, &cfg);
    /* A block in progress is never longer than a block now lasts. */
    CHECK_INT(blocked(t, "192.0.2.2", 10), 100);
    CHECK_INT(blocked(t, "192.0.2.2", 250), 50);
    fail_n(t, "192.0.2.1", NULL, 1, 1);
    CHECK_INT(blocked(t, "192.0.2.1", 1), 100);
    CHECK_INT(fail_n(t, "192.0.2.3", "alice", 3, 1), 100);
    CHECK_INT(fail_n(t, "192.0.2.3", "alice", 1, 1), 9000);

    /* A smaller table keeps the freshest entries. */
    cfg.max_entries = 1;
    auth_throttle_configure(t, &cfg);
    CHECK_INT(blocked(t, "192.0.2.3", 1), 100);
    CHECK_INT(blocked(t, "192.0.2.1", 1), 0);
    CHECK_INT(blocked(t, "192.0.2.2", 1), 0);
    CHECK_INT(fail_n(t, "192.0.2.4", "alice", 1, 1), 9000);

    /* Zero limits: no blocks, no longer delays. */
    cfg = base;
    cfg.ip_max_failures = 0;
    cfg.user_max_failures = 0;
    auth_throttle_configure(t, &cfg);
    CHECK_INT(fail_n(t, "192.0.2.5", "dave", 10, 2), 100);
    CHECK_INT(blocked(t, "192.0.2.5", 2), 0);
    auth_throttle_free(t);
}

/* A clock that goes back starts a new window and never makes a block
 * longer than block_secs. */
static void test_clock_back(void)
{
    struct auth_throttle *t = auth_throttle_new(&base);
    fail_n(t, "192.0.2.1", NULL, 2, 1000);
    fail_n(t, "192.0.2.1", NULL, 1, 900);
    CHECK_INT(blocked(t, "192.0.2.1", 900), 0);
    fail_n(t, "192.0.2.1", NULL, 2, 900);
    CHECK_INT(blocked(t, "192.0.2.1", 900), 300);
    CHECK_INT(blocked(t, "192.0.2.1", 0), 300);
    auth_throttle_free(t);
}

int main(void)
{
    RUN(test_block);
    RUN(test_window);
    RUN(test_user_delay);
    RUN(test_success_clears_address);
    RUN(test_ipv6_prefix);
    RUN(test_other_peers);
    RUN(test_eviction);
    RUN(test_many);
    RUN(test_configure);
    RUN(test_clock_back);
    return TEST_DONE();
}
