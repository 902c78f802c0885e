/*
 * tests/unit/test.h — the smallest test harness that does the job.
 *
 * A test file defines test functions and lists them in main with RUN(name).
 * CHECK records a failure and goes on; the program exits non-zero when any
 * check failed, which is what `meson test` looks at.
 */
#ifndef OUTPOST_TEST_H
#define OUTPOST_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, b)                                                                      \
    do {                                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                \
        test_checks++;                                                                       \
        if (va_ != vb_) {                                                                    \
            test_failures++;                                                                 \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, va_, \
                    vb_);                                                                    \
        }                                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                                        \
    do {                                                                                       \
        const char *sa_ = (a), *sb_ = (b);                                                     \
        test_checks++;                                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                           \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                              \
        }                                                                                      \
    } while (0)

#define RUN(fn)                                      \
    do {                                             \
        int before_ = test_failures;                 \
        fn();                                        \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

#define TEST_DONE()                                                                      \
    (fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures), test_failures ? 1 : 0)

#endif
