/* base/testrun.c -- the checks and the fork-per-case runner (see testrun.h). */
#include "base/testrun.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* One test per process: this is the test's state, set up before main. */
static int *failed_count;           /* shared with forked children */
static int own_count;               /* when the shared page cannot be had */
static pid_t owner_pid;             /* the process whose exit() is the test's */
static int owner_base;              /* *failed_count when owner_pid took over */

static int *counter(void)
{
    return failed_count ? failed_count : &own_count;
}

int testrun_failures(void)
{
    return __atomic_load_n(counter(), __ATOMIC_SEQ_CST);
}

/* exit() of a process whose checks failed (since it became the owner, or
** at all in a forked child) must not report success. */
static void exit_failed_if_checks_failed(void)
{
    int base = getpid() == owner_pid ? owner_base : 0;

    if (testrun_failures() > base) {
        fflush(stdout);
        fflush(stderr);
        _exit(1);
    }
}

__attribute__((constructor)) static void testrun_setup(void)
{
    void *p = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);

    if (p != MAP_FAILED)
        failed_count = p;
    owner_pid = getpid();
    owner_base = 0;
    atexit(exit_failed_if_checks_failed);
}

static void report(const char *file, int line, const char *kind, const char *fmt,
                   va_list ap)
{
    char msg[4096];

    vsnprintf(msg, sizeof msg, fmt, ap);
    __atomic_add_fetch(counter(), 1, __ATOMIC_SEQ_CST);
    if (getpid() == owner_pid)
        fprintf(stderr, "%s:%d: %s failed: %s\n", file, line, kind, msg);
    else
        fprintf(stderr, "%s:%d: %s failed (pid %d): %s\n", file, line, kind,
                (int)getpid(), msg);
    fflush(stderr);
}

void testrun_check_failed(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(file, line, "CHECK", fmt, ap);
    va_end(ap);
}

void testrun_require_failed(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(file, line, "REQUIRE", fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (getpid() != owner_pid)
        _exit(1);
    exit(1);
}

int testrun_exit_status(const char *test)
{
    int n = testrun_failures();

    if (n == 0)
        return 0;
    fprintf(stderr, "%s: %d check(s) failed\n", test, n);
    return 1;
}

int testrun_main(int argc, char **argv, const testrun_case_t *cases, size_t ncases,
                 unsigned limit_s, const int *failures)
{
    int failed = 0;

    for (size_t i = 0; i < ncases; i++) {
        pid_t pid;
        int status;
        int before;

        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        if (argc > 1) {   /* in-process, for a debugger */
            cases[i].fn();
            bool bad = testrun_failures() > 0 || (failures && *failures);
            printf("%s %s\n", bad ? "FAIL" : "ok  ", cases[i].name);
            return bad ? 1 : 0;
        }
        fflush(stdout);
        fflush(stderr);
        before = testrun_failures();
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            owner_pid = getpid();   /* the case is this process's test */
            owner_base = before;
            alarm(limit_s);
            cases[i].fn();
            exit(failures && *failures ? 1 : 0);   /* exit: leak checks run */
        }
        while (waitpid(pid, &status, 0) != pid)
            REQUIRE_MSG(errno == EINTR, "waitpid: %s", strerror(errno));
        int checks = testrun_failures() - before;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && checks == 0) {
            printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d%s)\n", cases[i].name, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? ": time limit" : "");
            else if (checks > 0)
                printf("FAIL %s (%d check(s) failed)\n", cases[i].name, checks);
            else
                printf("FAIL %s (exit %d)\n", cases[i].name, WEXITSTATUS(status));
        }
    }
    printf("%d of %zu failed\n", failed, ncases);
    return failed == 0 ? 0 : 1;
}
