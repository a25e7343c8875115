/*
** sched/sched_stack_test.c -- goroutine stacks against sched.h: overflow
** fails the task and the scheduler lives on (twice over), a real crash is
** still a crash, deep stacks show in the stats and are given back, and
** 100,000 goroutines are alive at once with lazily committed stacks and a
** handful of VMAs, and stacks parked with SCHED_PARK_STACK_ASIDE are set
** aside and come back intact at the same addresses (also when a deadlock
** unwinds them), their pages handed over to goroutines that need one.
**
** Each case runs in its own forked process with a time limit; pass a case
** name as argv[1] to run just that one in-process. No timed assertions.
*/
#include "sched/sched.h"
#include "base/testrun.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(HEAPSIM_ASAN)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

#define KIB ((size_t)1 << 10)

static size_t count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t lines = 0;
    int c;

    REQUIRE(f != NULL);
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size_pages, resident_pages;

    REQUIRE(f != NULL);
    REQUIRE(fscanf(f, "%lu %lu", &size_pages, &resident_pages) == 2);
    fclose(f);
    return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void sigsegv_not_blocked(void)
{
    sigset_t mask;

    REQUIRE_INT(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
    REQUIRE(!sigismember(&mask, SIGSEGV));
    REQUIRE(!sigismember(&mask, SIGBUS));
}

/* Keeps the compiler from turning recursion into a loop or dropping the
** frame: the buffer escapes and the result is used after the call. */
static void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* ---- Overflow -------------------------------------------------------------- */

static int cleanups_ran;
static sched_waiter_t *bystander_w;

static void count_cleanup(void *arg)
{
    cleanups_ran++;
}

static volatile int recursion_limit = 1 << 30;   /* never reached */

__attribute__((noinline)) static int recurse_forever(int depth)
{
    char frame[256];

    memset(frame, depth, sizeof frame);
    escape(frame);
    if (depth >= recursion_limit)
        return 0;
    return recurse_forever(depth + 1) + frame[depth % sizeof frame];
}

static void overflows(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, count_cleanup, NULL), 0);
    sched_yield(s);   /* the bystander parks first */
    recurse_forever(0);
}

static void bystander(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, count_cleanup, NULL), 0);
    sched_park(s, &bystander_w, "chan receive");
}

static void fine(sched_t *s, void *arg)
{
    int *ran = arg;

    sched_yield(s);
    (*ran)++;
}

static void test_overflow_caught_twice(void)
{
    sched_t *s = NULL;
    stack_t before, after;
    char want[64];

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE_INT(sigaltstack(NULL, &before), 0);
    for (int round = 0; round < 2; round++) {
        int64_t id;
        sched_stats_t st;

        cleanups_ran = 0;
        id = sched_spawn(s, overflows, NULL);
        REQUIRE(id > 0);
        REQUIRE(sched_spawn(s, bystander, NULL) > 0);
        REQUIRE_INT(sched_run(s), SCHED_EFAILED);
        snprintf(want, sizeof want, "goroutine %" PRId64 ": stack overflow", id);
        REQUIRE_STR(sched_failure(s), want);
        REQUIRE_INT(cleanups_ran, 2);   /* its own and the unwound bystander's */
        sched_stats_read(s, &st);
        REQUIRE_INT(st.goroutines, 0);
        REQUIRE_INT(st.stack_inuse_bytes, 0);
        REQUIRE(st.stack_hwm_bytes >= 200 * KIB);   /* it hit the guard */
        sigsegv_not_blocked();
    }
    REQUIRE_INT(sigaltstack(NULL, &after), 0);
    REQUIRE_INT(after.ss_flags, before.ss_flags);
    REQUIRE(after.ss_sp == before.ss_sp);

    /* Still a working scheduler. */
    {
        int ran = 0;
        for (int i = 0; i < 3; i++)
            REQUIRE(sched_spawn(s, fine, &ran) > 0);
        REQUIRE_INT(sched_run(s), 0);
        REQUIRE_INT(ran, 3);
    }
    sched_destroy(&s);

    /* And a new scheduler after the last one went away (handler refcount). */
    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(sched_spawn(s, overflows, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE(strstr(sched_failure(s), ": stack overflow") != NULL);
    sched_destroy(&s);
}

static void overflow_small_stack(sched_t *s, void *arg)
{
    recurse_forever(0);
}

/* A smaller configured stack overflows sooner and is caught the same way. */
static void test_overflow_small_stack(void)
{
    sched_config_t cfg;
    sched_t *s = NULL;
    sched_stats_t st;

    sched_config_default(&cfg);
    cfg.stack_reserve_bytes = 64 * KIB;
    REQUIRE_INT(sched_new(&cfg, &s), 0);
    REQUIRE(sched_spawn(s, overflow_small_stack, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "goroutine 1: stack overflow");
    sched_stats_read(s, &st);
    REQUIRE(st.stack_hwm_bytes >= 48 * KIB && st.stack_hwm_bytes <= 64 * KIB);
    sched_destroy(&s);
}

/* ---- Real crashes stay crashes ------------------------------------------------ */

static volatile int *volatile bad_pointer = (int *)16;

static void null_write(sched_t *s, void *arg)
{
    *bad_pointer = 1;
}

static void crash_outside_goroutine(void *arg, sched_t *s)
{
    *bad_pointer = 1;
}

/* Long enough that the scheduler is sure to go idle (and the hook to
** crash) before the timer is due: with 1 ms, a child descheduled that long
** on a loaded machine found the timer due, never idled and exited 0. */
static void sleeps_a_bit(sched_t *s, void *arg)
{
    sched_sleep_ns(s, 10000000000ull);
}

/* Run `fn` in a child; it must die of the fault, not exit. Under ASan the
** sanitizer's handler (which we chain to) reports and aborts. */
static void expect_crash(void (*fn)(void))
{
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        fn();
        _exit(0);   /* reaching here is the failure */
    }
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE_MSG(WIFSIGNALED(status), "child exited %d instead of crashing",
                WEXITSTATUS(status));
    REQUIRE(WTERMSIG(status) == SIGSEGV || (UNDER_ASAN && WTERMSIG(status) == SIGABRT));
}

static void crash_in_goroutine(void)
{
    sched_t *s = NULL;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(sched_spawn(s, null_write, NULL) > 0);
    sched_run(s);
}

static void crash_in_idle_hook(void)
{
    sched_t *s = NULL;
    sched_hooks_t hooks = { .idle_begin = crash_outside_goroutine };

    REQUIRE_INT(sched_new(NULL, &s), 0);
    sched_set_hooks(s, &hooks);
    REQUIRE(sched_spawn(s, sleeps_a_bit, NULL) > 0);
    sched_run(s);
}

static void crash_after_overflow(void)
{
    sched_t *s = NULL;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(sched_spawn(s, overflow_small_stack, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE(sched_spawn(s, null_write, NULL) > 0);
    sched_run(s);
}

static void test_real_crash_stays_crash(void)
{
    expect_crash(crash_in_goroutine);
    expect_crash(crash_in_idle_hook);
    expect_crash(crash_after_overflow);
}

/* ---- Deep stacks in the stats, and given back ------------------------------------ */

enum { DEEP_GOROUTINES = 64 };
#define DEEP_BYTES (160 * KIB)

static int at_bottom;
static sched_waiter_t *deep_main_w;
static sched_stats_t deep_seen;
static size_t rss_deep;

/* Recurse until this goroutine's stack is DEEP_BYTES deep, then yield
** there (a switch point, where depth is sampled) and wait for the rest. */
__attribute__((noinline)) static int recurse_to(sched_t *s, uintptr_t start, int depth)
{
    char frame[512];
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);

    memset(frame, depth, sizeof frame);
    escape(frame);
    if (start - here < DEEP_BYTES)
        return recurse_to(s, start, depth + 1) + frame[depth % sizeof frame];
    if (++at_bottom == DEEP_GOROUTINES && deep_main_w != NULL)
        sched_ready(s, deep_main_w);
    while (at_bottom < DEEP_GOROUTINES + 1)
        sched_yield(s);
    return frame[0];
}

static void goes_deep(sched_t *s, void *arg)
{
    recurse_to(s, (uintptr_t)__builtin_frame_address(0), 0);
}

static void deep_main(sched_t *s, void *arg)
{
    for (int i = 0; i < DEEP_GOROUTINES; i++)
        REQUIRE(sched_spawn(s, goes_deep, NULL) > 0);
    sched_park(s, &deep_main_w, "wait");
    /* Every goroutine is at the bottom and has passed a switch point. */
    sched_stats_read(s, &deep_seen);
    rss_deep = rss_bytes();
    at_bottom++;   /* let them go */
}

static void test_deep_stacks_in_stats_and_given_back(void)
{
    sched_t *s = NULL;
    sched_stats_t st;
    size_t rss_after, deep_total = DEEP_GOROUTINES * DEEP_BYTES;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(sched_spawn(s, deep_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(deep_seen.goroutines, DEEP_GOROUTINES + 1);
    REQUIRE(deep_seen.stack_hwm_bytes >= DEEP_BYTES);
    REQUIRE(deep_seen.stack_hwm_bytes < 256 * KIB);
    REQUIRE(deep_seen.stack_committed_bytes >= deep_total);
    REQUIRE(deep_seen.stack_committed_bytes < DEEP_GOROUTINES * 256 * KIB);

    sched_stats_read(s, &st);
    REQUIRE_INT(st.goroutines, 0);
    REQUIRE_INT(st.stack_inuse_bytes, 0);
    REQUIRE(st.stack_hwm_bytes == deep_seen.stack_hwm_bytes);
    /* The dead goroutines' deep pages went back to the kernel: at least
    ** half of the 10 MiB they had touched (the rest is slack for noise). */
    rss_after = rss_bytes();
    fprintf(stderr, "rss with %d deep stacks: %zu KiB, after: %zu KiB\n",
            DEEP_GOROUTINES, rss_deep / KIB, rss_after / KIB);
    REQUIRE(rss_deep > rss_after && rss_deep - rss_after >= deep_total / 2);
    sched_destroy(&s);
}

/* ---- Many goroutines alive at once ------------------------------------------------ */

enum { MANY = 100000 };
static sched_waiter_t **many_w;
static int many_parked;
static sched_waiter_t *many_main_w;
static sched_stats_t many_seen;
static size_t many_maps;

static void many_worker(sched_t *s, void *arg)
{
    intptr_t i = (intptr_t)arg;

    if (++many_parked == MANY)
        sched_ready(s, many_main_w);
    sched_park(s, &many_w[i], "chan receive");
}

static void many_main(sched_t *s, void *arg)
{
    for (intptr_t i = 0; i < MANY; i++)
        REQUIRE(sched_spawn(s, many_worker, (void *)i) > 0);
    sched_park(s, &many_main_w, "wait");
    sched_stats_read(s, &many_seen);
    many_maps = count_maps();
    for (intptr_t i = 0; i < MANY; i++)
        sched_ready(s, many_w[i]);
}

static void test_100k_goroutines_alive(void)
{
    sched_t *s = NULL;
    size_t maps_before;
    sched_stats_t st;

    many_w = calloc(MANY, sizeof *many_w);
    REQUIRE(many_w != NULL);
    REQUIRE_INT(sched_new(NULL, &s), 0);
    maps_before = count_maps();
    REQUIRE(sched_spawn(s, many_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    fprintf(stderr, "%d goroutines: maps %zu -> %zu lines, stack in use %" PRIu64
            " MiB, reserved %" PRIu64 " MiB, rss %zu MiB\n",
            MANY + 1, maps_before, many_maps, many_seen.stack_committed_bytes >> 20,
            many_seen.stack_reserved_bytes >> 20, rss_bytes() >> 20);
    REQUIRE_INT(many_seen.goroutines, MANY + 1);
    REQUIRE(many_seen.stack_reserved_bytes >= (uint64_t)(MANY + 1) * 256 * KIB);
    REQUIRE(many_seen.stack_committed_bytes >= (uint64_t)(MANY + 1) * 4 * KIB);
    /* Guards cost no VMA (MADV_GUARD_INSTALL); with the mprotect fallback
    ** this would be 200,000 more lines, past vm.max_map_count. */
    REQUIRE(many_maps < maps_before + 16);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.goroutines, 0);
    REQUIRE_INT(st.spawned, MANY + 1);
    sched_destroy(&s);
    free(many_w);
}

/* ---- Stacks set aside while parked ------------------------------------------------- */

#define ASIDE_N 1000
#define ASIDE_WORDS 200

static sched_waiter_t *aside_w[ASIDE_N];
static uint64_t aside_sum;
static int aside_cleanups;
static sched_stats_t aside_seen;

/* Reads a local of the goroutine that registered it: its stack must be
** back in place when cleanups run during unwinding. */
static void check_local_cleanup(void *arg)
{
    const uint64_t *local = arg;
    REQUIRE(local[0] == 0xc1ea2u + local[1]);
    aside_cleanups++;
}

static void aside_parker(sched_t *s, void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    volatile uint64_t words[ASIDE_WORDS];
    uint64_t local[2] = {0xc1ea2u + i, i};
    volatile uint64_t *mine = &words[3];

    for (int k = 0; k < ASIDE_WORDS; k++)
        words[k] = i * 7919u + (uint64_t)k;
    REQUIRE_INT(sched_defer(s, check_local_cleanup, local), 0);
    sched_park_flags(s, &aside_w[i], "aside", SCHED_PARK_STACK_ASIDE);
    for (int k = 0; k < ASIDE_WORDS; k++)
        REQUIRE(words[k] == i * 7919u + (uint64_t)k);
    REQUIRE(*mine == i * 7919u + 3u);
    aside_sum += words[ASIDE_WORDS - 1];
}

static void aside_main(sched_t *s, void *arg)
{
    bool deadlock = arg != NULL;

    for (uintptr_t i = 0; i < ASIDE_N; i++)
        REQUIRE(sched_spawn(s, aside_parker, (void *)i) > 0);
    sched_yield(s);                        /* every one parks */
    sched_stats_read(s, &aside_seen);
    if (deadlock) {
        sched_park(s, &aside_w[0], "never");   /* all asleep */
        return;
    }
    /* Wake them in reverse (not the order they were set aside in). */
    for (uintptr_t i = ASIDE_N; i-- > 0;)
        sched_ready(s, aside_w[i]);
}

static void test_parked_stacks_set_aside(void)
{
    sched_t *s = NULL;
    sched_stats_t st;
    uint64_t want = 0;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    aside_sum = 0;
    aside_cleanups = 0;
    REQUIRE(sched_spawn(s, aside_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    for (uint64_t i = 0; i < ASIDE_N; i++)
        want += i * 7919u + (ASIDE_WORDS - 1);
    REQUIRE(aside_sum == want);
    REQUIRE_INT(aside_cleanups, ASIDE_N);
    /* While parked: all but the last unflushed batch were set aside, their
    ** committed pages given back. */
    REQUIRE(aside_seen.stacks_aside >= ASIDE_N - 256);
    REQUIRE(aside_seen.stack_aside_bytes >= aside_seen.stacks_aside * ASIDE_WORDS * 8);
    REQUIRE(aside_seen.stack_committed_bytes <= (uint64_t)(256 + 2) * 2 * 4 * KIB);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stacks_aside, 0);
    REQUIRE_INT(st.stack_aside_bytes, 0);

    /* A deadlock unwinds them: each is put back before its cleanups run. */
    aside_cleanups = 0;
    REQUIRE(sched_spawn(s, aside_main, (void *)1) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE_INT(aside_cleanups, ASIDE_N);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stacks_aside, 0);
    REQUIRE_INT(st.goroutines, 0);
    sched_destroy(&s);
}


/* ---- Go's stack model --------------------------------------------------------------- */

#define GO_MIN 2048u
#define GO_GUARD 928u
#define GO_LIMIT 800u

/* Go's size for a goroutine that went `depth` bytes deep: the smallest
** power of two from 2 KiB that leaves _StackGuard below the depth. */
static uint64_t go_size_for(uint64_t depth)
{
    uint64_t size = GO_MIN;

    while (depth + GO_GUARD > size)
        size *= 2;
    return size;
}

/* Bytes Go copies growing from 2 KiB to fit `depth` (a copy per doubling
** of what the old stack held then). */
static uint64_t go_copied_for(uint64_t depth)
{
    uint64_t size = GO_MIN, copied = 0;

    while (depth + GO_GUARD > size) {
        copied += size - GO_GUARD < depth ? size - GO_GUARD : depth;
        size *= 2;
    }
    return copied;
}

/* Sample the stack `pad` bytes below the caller's frame. */
static __attribute__((noinline)) void probe(sched_t *s, size_t pad, sched_gstack_t *out)
{
    volatile char area[pad + 1];

    area[0] = 1;
    area[pad] = 1;
    sched_self_stack(s, out);
    __asm__ volatile("" : : "r"(area) : "memory");
}

static void go_grow_body(sched_t *s, void *arg)
{
    sched_gstack_t gs;
    sched_stats_t st;
    uint64_t deepest = 0;
    bool below[4] = {false}, above[4] = {false};

    (void)arg;
    sched_self_stack(s, &gs);
    REQUIRE_INT(gs.go_bytes, GO_MIN);
    /* Down 40 KiB in 16-byte steps (32 under ASan): every threshold is
    ** approached within 64 bytes from both sides, and Go's size must
    ** follow the deepest depth exactly. */
    for (size_t pad = 0; pad <= 40 * KIB; pad += 16) {
        probe(s, pad, &gs);
        if (gs.depth_bytes > deepest)
            deepest = gs.depth_bytes;
        REQUIRE_INT(gs.go_bytes, go_size_for(deepest));
        REQUIRE(gs.depth_hwm_bytes >= gs.depth_bytes);
        for (int k = 0; k < 4; k++) {
            uint64_t trip = ((uint64_t)GO_MIN << k) - GO_GUARD;
            if (deepest <= trip && deepest + 64 > trip)
                below[k] = true;
            if (deepest > trip && deepest <= trip + 64)
                above[k] = true;
        }
    }
    for (int k = 0; k < 4; k++)
        REQUIRE(below[k] && above[k]);   /* each threshold seen from both sides */
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stack_inuse_bytes, go_size_for(deepest));
    REQUIRE_INT(st.stack_growths, __builtin_ctzll(go_size_for(deepest) / GO_MIN));
    REQUIRE_INT(st.stack_copied_bytes, go_copied_for(deepest));
    REQUIRE(st.stack_copy_ns >= st.stack_growths * 800);
    /* Coming back up shrinks nothing: only a GC does. */
    sched_self_stack(s, &gs);
    REQUIRE_INT(gs.go_bytes, go_size_for(deepest));
}

static void test_go_stack_doubles(void)
{
    sched_t *s = NULL;
    sched_stats_t st;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stack_start_bytes, GO_MIN);
    REQUIRE(sched_spawn(s, go_grow_body, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stack_inuse_bytes, 0);
    REQUIRE_INT(st.stack_committed_bytes, 0);
    REQUIRE(st.stack_growths >= 4);
    sched_destroy(&s);
}

typedef struct shrink_case {
    sched_waiter_t *w;
    size_t pad;                   /* how deep it parks */
    uint64_t depth;               /* its depth just above the park */
    uint64_t go_bytes;            /* after the descent */
} shrink_case_t;

static __attribute__((noinline)) void park_at(sched_t *s, shrink_case_t *c, size_t pad)
{
    volatile char area[pad + 1];
    sched_gstack_t gs;

    area[0] = 1;
    area[pad] = 1;
    sched_self_stack(s, &gs);
    c->depth = gs.depth_bytes;
    sched_park(s, &c->w, "shrink test");
    __asm__ volatile("" : : "r"(area) : "memory");
}

static void shrink_body(sched_t *s, void *arg)
{
    shrink_case_t *c = arg;
    sched_gstack_t gs;

    probe(s, 30 * KIB, &gs);      /* grows Go's stack to 32 KiB */
    c->go_bytes = gs.go_bytes;
    park_at(s, c, c->pad);
}

static shrink_case_t shallow = { .pad = 0 }, deep = { .pad = 4608 };
static bool adaptive = true;

static void shrink_main(sched_t *s, void *arg)
{
    sched_stats_t st0, st;
    uint64_t shallow_size = 32 * KIB, deep_size = 32 * KIB;

    (void)arg;
    REQUIRE(sched_spawn(s, shrink_body, &shallow) > 0);
    REQUIRE(sched_spawn(s, shrink_body, &deep) > 0);
    sched_yield(s);               /* both go down, then park */
    REQUIRE(shallow.w != NULL && deep.w != NULL);
    REQUIRE_INT(shallow.go_bytes, 32 * KIB);
    REQUIRE_INT(deep.go_bytes, 32 * KIB);
    sched_stats_read(s, &st0);
    uint64_t self = st0.stack_inuse_bytes - 64 * KIB;   /* this goroutine's: never shrunk */
    /* The deep one parks 4.5 KiB down: that + 800 is under a quarter of 32
    ** KiB, not of 16 KiB. (Its depth at the park is a little more than
    ** the depth seen just above it.) */
    fprintf(stderr, "parked above: shallow %" PRIu64 " B, deep %" PRIu64 " B\n", shallow.depth, deep.depth);
    REQUIRE(deep.depth + GO_LIMIT < 8 * KIB - 1536);
    REQUIRE(deep.depth + GO_LIMIT >= 4 * KIB);
    for (int gc = 0; gc < 6; gc++) {
        sched_stacks_gc(s);
        sched_stats_read(s, &st);
        if (deep_size == 32 * KIB)
            deep_size = 16 * KIB;
        /* One halving per GC at most, never below 2 KiB, and only while
        ** the depth plus _StackLimit is under a quarter. */
        uint64_t rest = st.stack_inuse_bytes - self - deep_size;
        REQUIRE(rest == shallow_size || (rest == shallow_size / 2 && rest >= GO_MIN));
        if (rest < shallow_size)
            REQUIRE(shallow.depth + GO_LIMIT < shallow_size / 4);
        if (gc < 2)               /* 32 -> 16 -> 8 KiB: a few hundred bytes deep */
            REQUIRE_INT(rest, shallow_size / 2);
        shallow_size = rest;
    }
    REQUIRE(shallow_size >= GO_MIN && shallow_size <= 8 * KIB);
    REQUIRE_INT(st.stack_shrinks - st0.stack_shrinks,
                 1 + __builtin_ctzll(32 * KIB / shallow_size));
    REQUIRE(st.stack_copied_bytes - st0.stack_copied_bytes >= deep.depth + 2 * shallow.depth);
    /* The adaptive start: the average depth scanned plus _StackGuard,
    ** rounded up to a power of two -- the deep one pulls it above 2 KiB. */
    if (adaptive)
        REQUIRE(st.stack_start_bytes >= 4 * KIB);
    else
        REQUIRE_INT(st.stack_start_bytes, GO_MIN);
    REQUIRE((st.stack_start_bytes & (st.stack_start_bytes - 1)) == 0);
    /* What Go's goal counts: the depths scanned, not the sizes. */
    REQUIRE(st.stack_scan_bytes >= deep.depth + shallow.depth);
    REQUIRE(st.stack_scan_bytes < st.stack_inuse_bytes);
    sched_ready(s, shallow.w);
    sched_ready(s, deep.w);
}

static void start_size_body(sched_t *s, void *arg)
{
    sched_gstack_t gs;

    sched_self_stack(s, &gs);
    *(uint64_t *)arg = gs.go_bytes;
}

static void test_go_stack_shrinks_at_gc(void)
{
    sched_t *s = NULL;
    sched_config_t cfg;
    sched_stats_t st;
    uint64_t start = 0;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(sched_spawn(s, shrink_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.stack_inuse_bytes, 0);
    /* A new goroutine starts at the adaptive size. */
    REQUIRE(sched_spawn(s, start_size_body, &start) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(start, st.stack_start_bytes);
    sched_destroy(&s);

    /* With the fixed start (GODEBUG=adaptivestackstart=0) it stays 2 KiB. */
    sched_config_default(&cfg);
    cfg.go_fixed_stack_start = true;
    REQUIRE_INT(sched_new(&cfg, &s), 0);
    deep.w = shallow.w = NULL;
    adaptive = false;
    REQUIRE(sched_spawn(s, shrink_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(sched_spawn(s, start_size_body, &start) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(start, GO_MIN);
    sched_destroy(&s);
}

/* ---- Stack pages handed over (UFFDIO_MOVE) --------------------------------------------- */

#define HAND_N 4096
#define HAND_WORDS 32

static sched_waiter_t *hand_w[HAND_N];
static uint64_t hand_sum;
static long hand_faults;

static long minor_faults(void)
{
    struct rusage ru;

    REQUIRE_INT(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_minflt;
}

/* Does this kernel let us move pages (what the scheduler tries)? */
static bool can_move_pages(void)
{
    struct uffdio_api api = {.api = UFFD_API, .features = (uint64_t)1 << 16};
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    bool ok;

    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return false;
    ok = ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & ((uint64_t)1 << 16)) != 0;
    close(fd);
    return ok && getenv("HEAPSIM_NO_PAGE_HANDOVER") == NULL;
}

/* Its locals are a pattern of its own; a page it is handed may hold another
** goroutine's bytes, which it never reads before writing. */
static void hand_parker(sched_t *s, void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    volatile uint64_t words[HAND_WORDS];

    for (int k = 0; k < HAND_WORDS; k++)
        words[k] = i * 104729u + (uint64_t)k;
    sched_park_flags(s, &hand_w[i], "hand", SCHED_PARK_STACK_ASIDE);
    for (int k = 0; k < HAND_WORDS; k++)
        REQUIRE(words[k] == i * 104729u + (uint64_t)k);
    hand_sum += words[HAND_WORDS - 1];
}

static void hand_main(sched_t *s, void *arg)
{
    long before;

    for (uintptr_t i = 0; i < HAND_N; i++)
        REQUIRE(sched_spawn(s, hand_parker, (void *)i) > 0);
    before = minor_faults();
    sched_yield(s);                        /* every one runs and parks */
    hand_faults = minor_faults() - before;
    for (uintptr_t i = 0; i < HAND_N; i++)
        sched_ready(s, hand_w[i]);
}

/* Run hand_main on s and check every goroutine's locals came back. */
static void hand_run(sched_t *s)
{
    uint64_t want = 0;

    hand_sum = 0;
    REQUIRE(sched_spawn(s, hand_main, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    for (uint64_t i = 0; i < HAND_N; i++)
        want += i * 104729u + (HAND_WORDS - 1);
    REQUIRE(hand_sum == want);
}

/* Each parked goroutine's stack set aside hands its page to a goroutine
** waiting for its first frame: far fewer page faults than goroutines (one
** each without the hand-over; the descriptors and the set-aside bytes
** fault in too, about a page per 16 goroutines). Where the kernel cannot
** move pages, only the stacks' contents are checked. */
static void test_stack_pages_handed_over(void)
{
    sched_t *s = NULL;
    bool can = can_move_pages();

    REQUIRE_INT(sched_new(NULL, &s), 0);
    hand_run(s);
    fprintf(stderr, "%d goroutines parked: %ld page faults (%s)\n", HAND_N, hand_faults,
            can ? "pages handed over" : "no UFFDIO_MOVE here");
    if (can && !UNDER_ASAN)   /* ASan's shadow faults in beside every stack */
        REQUIRE(hand_faults < HAND_N / 4);
    sched_destroy(&s);
}

/* ---- Runner -------------------------------------------------------------------------- */

typedef testrun_case_t test_case_t;

static const test_case_t cases[] = {
    { "overflow_caught_twice", test_overflow_caught_twice },
    { "overflow_small_stack", test_overflow_small_stack },
    { "real_crash_stays_crash", test_real_crash_stays_crash },
    { "deep_stacks_in_stats_and_given_back", test_deep_stacks_in_stats_and_given_back },
    { "100k_goroutines_alive", test_100k_goroutines_alive },
    { "parked_stacks_set_aside", test_parked_stacks_set_aside },
    { "go_stack_doubles", test_go_stack_doubles },
    { "go_stack_shrinks_at_gc", test_go_stack_shrinks_at_gc },
    { "stack_pages_handed_over", test_stack_pages_handed_over },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 240, NULL);
}
