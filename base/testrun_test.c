/*
** base/testrun_test.c -- the checks and the runner keep testrun.h's
** contract: CHECK counts and goes on, REQUIRE stops the process, a failure
** in a forked child fails the test even when the child exits 0, exit()
** after a failure is never 0, the typed checks print their values, and
** testrun_main() tells each case's outcome.
**
** Each scenario runs as a fresh process (this program re-executed with
** `--scenario NAME`), so its failures are counted apart from this test's;
** the test reads the scenario's exit status and output.
*/
#include "base/testrun.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- The scenarios (each in a process of its own) -------------------- */

static void parent_handler(void)
{
    printf("parent exit handler in pid %d\n", (int)getpid());
}

static int scn_all_pass(void)
{
    CHECK(1 + 1 == 2);
    CHECK_INT(-3, -3);
    CHECK_UINT(7u, 7);
    CHECK_STR("abc", "abc");
    CHECK_CONTAINS("haystack", "st");
    REQUIRE(1);
    printf("failures %d\n", testrun_failures());
    return testrun_exit_status("all_pass");
}

static int scn_check_goes_on(void)
{
    CHECK(1 == 2);
    printf("after the check\n");
    printf("failures %d\n", testrun_failures());
    return 0;   /* exit(0) after a failed check: the process still exits 1 */
}

static int scn_require_stops(void)
{
    REQUIRE(1 == 2);
    printf("after the require\n");
    return 0;
}

static int scn_child_check_counts(void)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        CHECK(0 > 1);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    printf("child exit %d, failures %d\n", WEXITSTATUS(status), testrun_failures());
    return 0;
}

static int scn_child_require_exits(void)
{
    pid_t pid;
    int status;

    atexit(parent_handler);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        REQUIRE(0 > 1);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    printf("child exit %d, failures %d\n", WEXITSTATUS(status), testrun_failures());
    return 0;
}

static const char *fake_strerror(int rc)
{
    return rc == -2 ? "no such thing" : "?";
}

static int scn_typed(void)
{
    CHECK_INT(1 + 1, 3);
    CHECK_UINT(18446744073709551615ull, 1);
    CHECK_STR((const char *)NULL, "want");
    CHECK_STR("got", "want");
    CHECK_CONTAINS("haystack", "needle");
    CHECK_RC(-2, 0, fake_strerror);
    CHECK_MSG(false, "message %d", 42);
    printf("failures %d\n", testrun_failures());
    return 0;
}

static void case_ok(void)
{
    CHECK(1);
}

static void case_check(void)
{
    CHECK(2 < 1);
    CHECK(3 < 1);
}

static void case_require(void)
{
    REQUIRE(2 < 1);
    printf("case_require went on\n");
}

static void case_crash(void)
{
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void case_child_check(void)
{
    pid_t pid = fork();

    if (pid == 0) {
        CHECK(4 < 1);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

static int scn_runner(int argc, char **argv)
{
    static const testrun_case_t cases[] = {
        { "ok_first", case_ok },
        { "check", case_check },
        { "require", case_require },
        { "crash", case_crash },
        { "child_check", case_child_check },
        { "ok_last", case_ok },
    };

    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}

static int run_scenario(const char *name, int argc, char **argv)
{
    if (strcmp(name, "all_pass") == 0)
        return scn_all_pass();
    if (strcmp(name, "check_goes_on") == 0)
        return scn_check_goes_on();
    if (strcmp(name, "require_stops") == 0)
        return scn_require_stops();
    if (strcmp(name, "child_check_counts") == 0)
        return scn_child_check_counts();
    if (strcmp(name, "child_require_exits") == 0)
        return scn_child_require_exits();
    if (strcmp(name, "typed") == 0)
        return scn_typed();
    if (strcmp(name, "runner") == 0)
        return scn_runner(argc, argv);
    fprintf(stderr, "no scenario %s\n", name);
    return 2;
}

/* ---- The test: run each scenario, read what it did ------------------- */

typedef struct outcome {
    int status;          /* raw wait status */
    char out[8192];      /* stdout and stderr, interleaved */
} outcome_t;

/* Run `--scenario name [arg]` in a fresh process; its output into o. */
static void spawn(const char *name, const char *arg, outcome_t *o)
{
    int fds[2];
    pid_t pid;
    size_t len = 0;

    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "testrun_test", "--scenario", name, arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], o->out + len, sizeof o->out - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    o->out[len] = '\0';
    close(fds[0]);
    REQUIRE(waitpid(pid, &o->status, 0) == pid);
    printf("---- %s%s%s: status 0x%x\n%s", name, arg ? " " : "", arg ? arg : "",
           o->status, o->out);
}

static int exit_code(const outcome_t *o)
{
    return WIFEXITED(o->status) ? WEXITSTATUS(o->status) : 128 + WTERMSIG(o->status);
}

int main(int argc, char **argv)
{
    outcome_t o;

    if (argc >= 3 && strcmp(argv[1], "--scenario") == 0)
        return run_scenario(argv[2], argc - 2, argv + 2);

    spawn("all_pass", NULL, &o);
    CHECK_INT(exit_code(&o), 0);
    CHECK_CONTAINS(o.out, "failures 0\n");
    CHECK(strstr(o.out, "failed") == NULL);

    spawn("check_goes_on", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "testrun_test.c:");
    CHECK_CONTAINS(o.out, ": CHECK failed: 1 == 2\n");
    CHECK_CONTAINS(o.out, "after the check\nfailures 1\n");

    spawn("require_stops", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, ": REQUIRE failed: 1 == 2\n");
    CHECK(strstr(o.out, "after the require") == NULL);

    spawn("child_check_counts", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "CHECK failed (pid ");
    CHECK_CONTAINS(o.out, "child exit 0, failures 1\n");

    spawn("child_require_exits", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "REQUIRE failed (pid ");
    CHECK_CONTAINS(o.out, "child exit 1, failures 1\n");
    /* The parent's exit handler ran once, in the parent only. */
    {
        const char *first = strstr(o.out, "parent exit handler");
        CHECK(first != NULL && strstr(first + 1, "parent exit handler") == NULL);
    }

    spawn("typed", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "CHECK failed: 1 + 1 == 3 (2 != 3)\n");
    CHECK_CONTAINS(o.out, "(18446744073709551615 != 1)\n");
    CHECK_CONTAINS(o.out, "CHECK failed: (const char *)NULL == \"want\"\n"
                          "  got:  \"(null)\"\n  want: \"want\"\n");
    CHECK_CONTAINS(o.out, "  got:  \"got\"\n  want: \"want\"\n");
    CHECK_CONTAINS(o.out, "\"needle\" not in \"haystack\":\nhaystack\n");
    CHECK_CONTAINS(o.out, "CHECK failed: -2 = -2 (no such thing), want 0\n");
    CHECK_CONTAINS(o.out, "CHECK failed: message 42\n");
    CHECK_CONTAINS(o.out, "failures 7\n");

    spawn("runner", NULL, &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "ok   ok_first\n");
    CHECK_CONTAINS(o.out, "FAIL check (2 check(s) failed)\n");
    CHECK_CONTAINS(o.out, "FAIL require (1 check(s) failed)\n");
    CHECK(strstr(o.out, "case_require went on") == NULL);
    CHECK_CONTAINS(o.out, "FAIL crash (signal 6)\n");
    CHECK_CONTAINS(o.out, "FAIL child_check (1 check(s) failed)\n");
    CHECK_CONTAINS(o.out, "ok   ok_last\n");
    CHECK_CONTAINS(o.out, "4 of 6 failed\n");

    spawn("runner", "ok_last", &o);     /* one case, in-process */
    CHECK_INT(exit_code(&o), 0);
    CHECK_CONTAINS(o.out, "ok   ok_last\n");

    spawn("runner", "check", &o);
    CHECK_INT(exit_code(&o), 1);
    CHECK_CONTAINS(o.out, "FAIL check\n");

    return testrun_exit_status("testrun_test");
}
