/*
** base/proc_test.c -- proc_alive() on real processes: this one, a child
** while it runs, exits (a zombie) and is reaped, a pid with another start
** time (reused), another host or boot.
*/
#include "base/proc.h"
#include "base/testrun.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_self(void)
{
    proc_id_t self;

    REQUIRE_INT(proc_self(&self), 0);
    CHECK_INT(self.pid, getpid());
    CHECK(self.started_ticks >= 0);
    CHECK_INT(strlen(self.boot), 36);
    CHECK(proc_here(&self));
    CHECK(proc_alive(&self));
}

static void test_child(void)
{
    proc_id_t id;
    int fds[2], status;
    char c;

    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[1]);
        /* Until the parent closes its end. */
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    REQUIRE_INT(proc_self(&id), 0);
    id.pid = pid;
    id.started_ticks = proc_started_ticks(pid);
    CHECK(id.started_ticks >= 0);
    CHECK(proc_alive(&id));

    /* The same pid with another start time: a reused pid. */
    proc_id_t reused = id;
    reused.started_ticks = id.started_ticks + 1;
    CHECK(!proc_alive(&reused));
    /* Another host, or another boot of this one: not judged alive here. */
    proc_id_t elsewhere = id;
    elsewhere.host[0] = elsewhere.host[0] == 'x' ? 'y' : 'x';
    CHECK(!proc_here(&elsewhere));
    CHECK(!proc_alive(&elsewhere));
    proc_id_t rebooted = id;
    rebooted.boot[0] = rebooted.boot[0] == '0' ? '1' : '0';
    CHECK(!proc_alive(&rebooted));

    /* Exited but not reaped: a zombie is gone. */
    close(fds[1]);
    siginfo_t info;
    REQUIRE(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0);
    CHECK(!proc_alive(&id));
    CHECK_INT(proc_started_ticks(pid), -1);
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(!proc_alive(&id));
    CHECK_INT(proc_started_ticks(pid), -1);
    CHECK_INT(proc_started_ticks(0), -1);
    CHECK_INT(proc_started_ticks(-5), -1);
}

static const testrun_case_t cases[] = {
    { "self", test_self },
    { "child", test_child },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
