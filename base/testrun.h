/*
** base/testrun.h -- what every C test shares (test-only): one set of
** checks, and a runner that gives each case its own forked process and
** time limit.
**
** Checks come in two kinds, one meaning each:
**
**   CHECK...(...)    a failed check is reported (file:line, the expression,
**                    the values) and counted; the caller goes on. Guard
**                    what cannot go on (`if (p == NULL) return;`).
**   REQUIRE...(...)  a failed check is reported and counted, then this
**                    process stops: exit(1) in the test's own process (its
**                    exit handlers run: a heap test removes its segments),
**                    _exit(1) in a process the test forked (the parent's
**                    exit handlers are the parent's business).
**
** CHECK keeps the meaning most tests gave it: count and go on.
**
** The count lives in memory shared with every process the test forks, so
** a check failed in a child fails the test even when the child then exits
** 0. A process that counted a failure never exits 0: exit() turns into
** _exit(1) once its checks have failed. testrun_main() judges each case by
** the failures counted while it ran (in its process or any it forked).
**
** Every check evaluates each argument once, in order.
**
**   CHECK(cond)                 REQUIRE(cond)
**   CHECK_MSG(cond, fmt, ...)   REQUIRE_MSG(cond, fmt, ...)   printf message
**   CHECK_INT(got, want)        REQUIRE_INT(got, want)        as long long
**   CHECK_UINT(got, want)       REQUIRE_UINT(got, want)       as unsigned long long
**   CHECK_STR(got, want)        REQUIRE_STR(got, want)        strcmp; NULL got fails
**   CHECK_CONTAINS(hay, needle) REQUIRE_CONTAINS(hay, needle) strstr; NULL hay fails
**   CHECK_RC(expr, want, strerror_fn)  REQUIRE_RC(...)        int return code,
**                                      printed with the module's x_strerror()
*/
#ifndef HEAPSIM_BASE_TESTRUN_H
#define HEAPSIM_BASE_TESTRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Report a failed check at file:line and count it; returns. What the CHECK
** macros call; a helper may call it to report at its caller's line. */
void testrun_check_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, then stop this process as described above. */
_Noreturn void testrun_require_failed(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks failed so far, in this test's processes, since it started. */
int testrun_failures(void);

/* The test's exit status: 0, or 1 after printing "test: N check(s)
** failed" when any check failed. For tests with a main of their own. */
int testrun_exit_status(const char *test);

#define TESTRUN__CHECK(how, cond, ...)                                       \
    do {                                                                     \
        if (!(cond))                                                         \
            how(__FILE__, __LINE__, __VA_ARGS__);                            \
    } while (0)

#define TESTRUN__INT(how, got, want, got_s, want_s)                          \
    do {                                                                     \
        long long testrun_got_ = (long long)(got);                           \
        long long testrun_want_ = (long long)(want);                         \
        if (testrun_got_ != testrun_want_)                                   \
            how(__FILE__, __LINE__, "%s == %s (%lld != %lld)", got_s, want_s, \
                testrun_got_, testrun_want_);                                \
    } while (0)

#define TESTRUN__UINT(how, got, want, got_s, want_s)                         \
    do {                                                                     \
        unsigned long long testrun_got_ = (unsigned long long)(got);         \
        unsigned long long testrun_want_ = (unsigned long long)(want);       \
        if (testrun_got_ != testrun_want_)                                   \
            how(__FILE__, __LINE__, "%s == %s (%llu != %llu)", got_s, want_s, \
                testrun_got_, testrun_want_);                                \
    } while (0)

#define TESTRUN__STR(how, got, want, got_s, want_s)                          \
    do {                                                                     \
        const char *testrun_got_ = (got);                                    \
        const char *testrun_want_ = (want);                                  \
        if (testrun_got_ == NULL || strcmp(testrun_got_, testrun_want_) != 0) \
            how(__FILE__, __LINE__, "%s == %s\n  got:  \"%s\"\n  want: \"%s\"", \
                got_s, want_s, testrun_got_ ? testrun_got_ : "(null)",       \
                testrun_want_);                                              \
    } while (0)

#define TESTRUN__CONTAINS(how, hay, needle, hay_s)                           \
    do {                                                                     \
        const char *testrun_hay_ = (hay);                                    \
        const char *testrun_needle_ = (needle);                              \
        if (testrun_hay_ == NULL || strstr(testrun_hay_, testrun_needle_) == NULL) \
            how(__FILE__, __LINE__, "\"%s\" not in %s:\n%s", testrun_needle_, \
                hay_s, testrun_hay_ ? testrun_hay_ : "(null)");              \
    } while (0)

#define TESTRUN__RC(how, expr, want, strerror_fn, expr_s)                    \
    do {                                                                     \
        int testrun_rc_ = (expr);                                            \
        int testrun_want_ = (want);                                          \
        if (testrun_rc_ != testrun_want_)                                    \
            how(__FILE__, __LINE__, "%s = %d (%s), want %d", expr_s,         \
                testrun_rc_, strerror_fn(testrun_rc_), testrun_want_);       \
    } while (0)

#define CHECK(cond) TESTRUN__CHECK(testrun_check_failed, cond, "%s", #cond)
#define CHECK_MSG(cond, ...) TESTRUN__CHECK(testrun_check_failed, cond, __VA_ARGS__)
#define CHECK_INT(got, want) TESTRUN__INT(testrun_check_failed, got, want, #got, #want)
#define CHECK_UINT(got, want) TESTRUN__UINT(testrun_check_failed, got, want, #got, #want)
#define CHECK_STR(got, want) TESTRUN__STR(testrun_check_failed, got, want, #got, #want)
#define CHECK_CONTAINS(hay, needle)                                          \
    TESTRUN__CONTAINS(testrun_check_failed, hay, needle, #hay)
#define CHECK_RC(expr, want, strerror_fn)                                    \
    TESTRUN__RC(testrun_check_failed, expr, want, strerror_fn, #expr)

#define REQUIRE(cond) TESTRUN__CHECK(testrun_require_failed, cond, "%s", #cond)
#define REQUIRE_MSG(cond, ...) TESTRUN__CHECK(testrun_require_failed, cond, __VA_ARGS__)
#define REQUIRE_INT(got, want) TESTRUN__INT(testrun_require_failed, got, want, #got, #want)
#define REQUIRE_UINT(got, want) TESTRUN__UINT(testrun_require_failed, got, want, #got, #want)
#define REQUIRE_STR(got, want) TESTRUN__STR(testrun_require_failed, got, want, #got, #want)
#define REQUIRE_CONTAINS(hay, needle)                                        \
    TESTRUN__CONTAINS(testrun_require_failed, hay, needle, #hay)
#define REQUIRE_RC(expr, want, strerror_fn)                                  \
    TESTRUN__RC(testrun_require_failed, expr, want, strerror_fn, #expr)

/* ---- The runner ----------------------------------------------------- */

typedef struct testrun_case {
    const char *name;
    void (*fn)(void);
} testrun_case_t;

/* `prog` runs every case, each in a forked child with a `limit_s` second
** alarm, prints "ok   NAME" / "FAIL NAME (why)" and "N of M failed", and
** returns non-zero when any failed. `prog CASE` runs that one case
** in-process (for a debugger). A case fails when it crashes, exits
** non-zero, hits its time limit or fails a check; when `failures` is not
** NULL, also when *failures (a count of the caller's) is non-zero after it.
** Returns the process exit status. */
int testrun_main(int argc, char **argv, const testrun_case_t *cases, size_t ncases,
                 unsigned limit_s, const int *failures);

#endif
