/*
** shm_heap/heap_testutil.c -- see heap_testutil.h.
*/
#include "shm_heap/heap_testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/splitmix64.h"

/* Test-process state: one test per process, so these are the test's own
** context rather than hidden library globals. */
static pid_t tu_parent_pid;
static char tu_prefix[96];
static size_t tu_prefix_len;

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Remove our segments with raw system calls only: async-signal-safe. */
static int remove_segments(void)
{
    int dir = (int)syscall(SYS_openat, AT_FDCWD, "/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0;
    char buf[4096];
    int removed = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (tu_prefix_len && strncmp(d->d_name, tu_prefix, tu_prefix_len) == 0) {
                if (syscall(SYS_unlinkat, dir, d->d_name, 0) == 0)
                    removed++;
            }
            off += d->d_reclen;
        }
    }
    syscall(SYS_close, dir);
    return removed;
}

static void cleanup_at_exit(void)
{
    if (getpid() == tu_parent_pid)
        remove_segments();
}

static void cleanup_on_signal(int sig)
{
    if (getpid() == tu_parent_pid) {
        remove_segments();
        if (sig == SIGALRM) {
            static const char msg[] = "test watchdog fired: something wedged\n";
            ssize_t rc = write(2, msg, sizeof msg - 1);
            (void)rc;
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void tu_init(const char *test_name, unsigned watchdog_s)
{
    tu_parent_pid = getpid();
    /* The pid alone is not unique: test sandboxes have their own pid
    ** namespaces but may share /dev/shm. */
    uint32_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
        nonce = (uint32_t)tu_now_ns();
    /* Inside the prefix we were given (tests/run gives its run one), so
    ** whoever gave it finds what we leave. */
    const char *outer = getenv("HEAPSIM_SHM_PREFIX");
    if (outer == NULL || *outer == '\0' || strchr(outer, '/') != NULL ||
        strlen(outer) > sizeof tu_prefix - 32)
        outer = "heapsim-";
    snprintf(tu_prefix, sizeof tu_prefix, "%st%d-%08x-", outer, (int)tu_parent_pid, nonce);
    tu_prefix_len = strlen(tu_prefix);
    setenv("HEAPSIM_SHM_PREFIX", tu_prefix, 1);
    atexit(cleanup_at_exit);
    signal(SIGALRM, cleanup_on_signal);
    signal(SIGTERM, cleanup_on_signal);
    signal(SIGABRT, cleanup_on_signal);
    signal(SIGINT, cleanup_on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(watchdog_s);
    printf("%s: pid %d, prefix %s\n", test_name, (int)tu_parent_pid, tu_prefix);
}

int tu_shm_count(void)
{
    DIR *dir = opendir("/dev/shm");
    if (!dir)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, tu_prefix, tu_prefix_len) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

void tu_finish(void)
{
    int left = tu_shm_count();
    int failed = testrun_failures();

    if (failed)
        testrun_require_failed(__FILE__, __LINE__, "%d check(s) failed", failed);
    if (left)
        testrun_require_failed(__FILE__, __LINE__, "%d segment(s) with prefix %s left in /dev/shm", left,
                tu_prefix);
    printf("PASS\n");
}

char *tu_segment(char *buf, size_t size, const char *token)
{
    char *name = heap_segment_name(token, buf, size);
    if (!name)
        testrun_require_failed(__FILE__, __LINE__, "heap_segment_name(%s) failed", token);
    return name;
}

pid_t tu_fork(void (*fn)(void *arg), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        testrun_require_failed(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        alarm(120);
        fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    return pid;
}

int tu_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            testrun_require_failed(__FILE__, __LINE__, "waitpid(%d): %s", (int)pid, strerror(errno));
    }
    return status;
}

void tu_wait_ok(pid_t pid)
{
    int status = tu_wait(pid);
    if (WIFSIGNALED(status))
        testrun_require_failed(__FILE__, __LINE__, "child %d killed by signal %d", (int)pid, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        testrun_require_failed(__FILE__, __LINE__, "child %d exited with %d", (int)pid, WEXITSTATUS(status));
}

uint64_t tu_rand(uint64_t *state)
{
    return splitmix64_next(state);
}

uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t tu_seed(void)
{
    const char *env = getenv("HEAP_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : tu_now_ns() ^ ((uint64_t)getpid() << 32);
    printf("seed %llu (HEAP_TEST_SEED to replay)\n", (unsigned long long)seed);
    return seed;
}

void *tu_shared(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        testrun_require_failed(__FILE__, __LINE__, "mmap shared: %s", strerror(errno));
    return p;
}

void tu_barrier_wait(tu_barrier_t *b)
{
    uint32_t gen = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->arrived, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->arrived, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&b->generation, 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &b->generation, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        return;
    }
    while (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == gen) {
        struct timespec ts = { 0, 50000000 };
        syscall(SYS_futex, &b->generation, FUTEX_WAIT, gen, &ts, NULL, 0);
    }
}

void tu_sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void tu_build_tree(heap_t *h, uint32_t fanout, uint32_t leaves)
{
    heap_ref_t *g = heap_globals(h, 1);
    REQUIRE(g);
    heap_ref_t root = heap_alloc(h, fanout, 0);
    REQUIRE(root);
    g[0] = root;
    for (uint32_t i = 0; i < fanout; i++) {
        heap_ref_t kid = heap_alloc(h, leaves, 0);
        REQUIRE(kid);
        heap_write_ref(h, root, i, kid);
        for (uint32_t k = 0; k < leaves; k++) {
            heap_ref_t leaf = heap_alloc(h, 0, 16);
            REQUIRE(leaf);
            heap_write_ref(h, kid, k, leaf);
        }
    }
}
