/*
** base/testrun.h -- what the runtime's tests share (test-only): checks
** that stop the case at the first failure, and a runner that gives each
** case its own forked process and time limit.
**
** `prog CASE` runs one case in-process (for a debugger); `prog` runs all,
** prints "ok NAME" / "FAIL NAME (why)" and "N of M failed", and exits
** non-zero when any failed.
*/
#ifndef HEAPSIM_BASE_TESTRUN_H
#define HEAPSIM_BASE_TESTRUN_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TR_CHECK(cond)                                                       \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define TR_CHECK_INT(a, b)                                                   \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
                    __FILE__, __LINE__, #a, #b, a_, b_);                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define TR_CHECK_STR(a, b)                                                   \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (strcmp(a_, b_) != 0) {                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s\n"                \
                            "  got:  \"%s\"\n  want: \"%s\"\n",              \
                    __FILE__, __LINE__, #a, #b, a_, b_);                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

typedef struct testrun_case {
    const char *name;
    void (*fn)(void);
} testrun_case_t;

/* Run the cases as described above, each with `limit_s` seconds. When
** `failures` is not NULL a case also fails if *failures is non-zero when it
** returns (for tests whose checks count instead of aborting). Returns the
** process exit status. */
int testrun_main(int argc, char **argv, const testrun_case_t *cases, size_t ncases,
                 unsigned limit_s, const int *failures);

#endif
