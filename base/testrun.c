/* base/testrun.c -- the fork-per-case runner (see testrun.h). */
#include "base/testrun.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

int testrun_main(int argc, char **argv, const testrun_case_t *cases, size_t ncases,
                 unsigned limit_s, const int *failures)
{
    int failed = 0;

    for (size_t i = 0; i < ncases; i++) {
        pid_t pid;
        int status;

        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        if (argc > 1) {   /* in-process, for a debugger */
            cases[i].fn();
            bool bad = failures && *failures;
            printf("%s %s\n", bad ? "FAIL" : "ok  ", cases[i].name);
            return bad ? 1 : 0;
        }
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        TR_CHECK(pid >= 0);
        if (pid == 0) {
            alarm(limit_s);
            cases[i].fn();
            exit(failures && *failures ? 1 : 0);   /* exit: leak checks run */
        }
        TR_CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d%s)\n", cases[i].name, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? ": time limit" : "");
            else
                printf("FAIL %s (exit %d)\n", cases[i].name, WEXITSTATUS(status));
        }
    }
    printf("%d of %zu failed\n", failed, ncases);
    return failed == 0 ? 0 : 1;
}
