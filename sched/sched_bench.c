/*
** sched/sched_bench.c -- what the scheduler costs, in ns per operation:
** a yield (one context switch), a spawn + run + exit (inside one run, and
** per sched_run), a park/ready round trip between two goroutines, and a
** yield with many goroutines in turn -- beside the floor: the least a
** switch between two stacks can cost on this machine (below).
** Not a test: numbers vary with the machine. Usage: sched_bench [scale] [spawn1k]
*/
#include "sched/sched.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, sched_strerror(rc));
    exit(1);
}

/* ---- The floor ------------------------------------------------------------
** Two contexts bouncing through the smallest correct switch: push the six
** callee-saved registers, swap rsp, pop, ret -- nothing else, no scheduler.
** floor_switch is that; floor_switch_fp also saves and restores the x87
** control word and MXCSR, as sched__switch does (the SysV ABI makes them
** callee-saved). Every switch of a real scheduler costs at least this. */
void floor_switch(void **from_sp, void *to_sp);
void floor_switch_fp(void **from_sp, void *to_sp);
__asm__(".text\n"
        ".p2align 4\n"
        "floor_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".p2align 4\n"
        "floor_switch_fp:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  subq $8, %rsp\n  fnstcw (%rsp)\n  stmxcsr 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n  movq %rsi, %rsp\n"
        "  fldcw (%rsp)\n  ldmxcsr 4(%rsp)\n  addq $8, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n");

static void *floor_main_sp, *floor_co_sp;
static int floor_fp;

static void floor_co(void)
{
    for (;;) {
        if (floor_fp)
            floor_switch_fp(&floor_co_sp, floor_main_sp);
        else
            floor_switch(&floor_co_sp, floor_main_sp);
    }
}

/* ns per switch (one direction) between two bare contexts. */
static double bench_floor(int with_fp, long n)
{
    static uint64_t stack[8192] __attribute__((aligned(64)));
    uint64_t *top = &stack[8192 - 8];
    uint16_t cw;
    uint32_t mxcsr;
    uint64_t t0;

    floor_fp = with_fp;
    top[-1] = (uint64_t)(uintptr_t)floor_co;   /* the first "return" */
    for (int i = 2; i <= 7; i++)
        top[-i] = 0;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    top[-8] = (uint64_t)cw | (uint64_t)mxcsr << 32;
    floor_co_sp = with_fp ? (void *)&top[-8] : (void *)&top[-7];
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (with_fp)
            floor_switch_fp(&floor_main_sp, floor_co_sp);
        else
            floor_switch(&floor_main_sp, floor_co_sp);
    }
    return (double)(now_ns() - t0) / (2.0 * (double)n);
}

static long yields_each;

static void yielder(sched_t *s, void *arg)
{
    for (long i = 0; i < yields_each; i++)
        sched_yield(s);
}

static void nothing(sched_t *s, void *arg)
{
}

static long spawns;

static void spawns_and_yields(sched_t *s, void *arg)
{
    for (long i = 0; i < spawns; i++) {
        if (sched_spawn(s, nothing, NULL) < 0)
            die("spawn", -1);
        sched_yield(s);   /* the child runs, exits, and comes back here */
    }
}

static sched_waiter_t *ping_w, *pong_w;
static long rounds;

static void pinger(sched_t *s, void *arg)
{
    for (long i = 0; i < rounds; i++) {
        if (pong_w != NULL) {
            sched_waiter_t *w = pong_w;
            pong_w = NULL;
            sched_ready(s, w);
        }
        sched_park(s, &ping_w, "ping");
    }
    if (pong_w != NULL)
        sched_ready(s, pong_w);
}

static void ponger(sched_t *s, void *arg)
{
    for (;;) {
        if (ping_w != NULL) {
            sched_waiter_t *w = ping_w;
            ping_w = NULL;
            sched_ready(s, w);
        }
        sched_park(s, &pong_w, "pong");
        if (ping_w == NULL)
            return;
    }
}

/* ns per yield with `g` goroutines taking turns. */
static double bench_yield(sched_t *s, int g, long total)
{
    uint64_t t0;
    int rc;

    yields_each = total / g;
    for (int i = 0; i < g; i++)
        if (sched_spawn(s, yielder, NULL) < 0)
            die("spawn", -1);
    t0 = now_ns();
    if ((rc = sched_run(s)) != 0)
        die("run", rc);
    return (double)(now_ns() - t0) / (double)(yields_each * g);
}

/* ns per spawn + first switch + exit + recycle, in batches. */
static double bench_spawn(sched_t *s, long total, long batch)
{
    uint64_t t0 = now_ns();
    int rc;

    for (long done = 0; done < total; done += batch) {
        for (long i = 0; i < batch; i++) {
            int64_t id = sched_spawn(s, nothing, NULL);
            if (id < 0)
                die("spawn", (int)id);
        }
        if ((rc = sched_run(s)) != 0)
            die("run", rc);
    }
    return (double)(now_ns() - t0) / (double)total;
}

/* ns per spawn + switch in + exit + switch back + recycle, within one run. */
static double bench_spawn_inside(sched_t *s, long n)
{
    uint64_t t0;
    int rc;

    spawns = n;
    if (sched_spawn(s, spawns_and_yields, NULL) < 0)
        die("spawn", -1);
    t0 = now_ns();
    if ((rc = sched_run(s)) != 0)
        die("run", rc);
    return (double)(now_ns() - t0) / (double)n;
}

static double bench_park_ready(sched_t *s, long n)
{
    uint64_t t0;
    int rc;

    rounds = n;
    if (sched_spawn(s, pinger, NULL) < 0 || sched_spawn(s, ponger, NULL) < 0)
        die("spawn", -1);
    t0 = now_ns();
    if ((rc = sched_run(s)) != 0)
        die("run", rc);
    return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1;
    sched_t *s = NULL;
    int rc;

    if (scale < 1)
        scale = 1;
    if ((rc = sched_new(NULL, &s)) != 0)
        die("sched_new", rc);
    if (argc > 2 && strcmp(argv[2], "spawn1k") == 0) {   /* this one alone, fresh */
        printf("spawn+exit, batches of 1k:  %6.1f ns/goroutine\n", bench_spawn(s, 1000000 * scale, 1000));
        sched_destroy(&s);
        return 0;
    }
    bench_floor(0, 100000);      /* warm up */
    printf("switch floor (bare asm):    %6.1f ns/switch\n", bench_floor(0, 10000000 * scale));
    printf("switch floor + FP env:      %6.1f ns/switch (about what SCHED_SPAWN_FPCTL adds)\n",
           bench_floor(1, 10000000 * scale));
    bench_yield(s, 2, 100000);   /* warm up */
    printf("yield, 2 goroutines:        %6.1f ns/yield\n", bench_yield(s, 2, 10000000 * scale));
    printf("yield, 1000 goroutines:     %6.1f ns/yield\n", bench_yield(s, 1000, 10000000 * scale));
    printf("yield, 100000 goroutines:   %6.1f ns/yield\n", bench_yield(s, 100000, 10000000 * scale));
    printf("spawn+exit, in a goroutine: %6.1f ns/goroutine\n", bench_spawn_inside(s, 5000000 * scale));
    printf("spawn+exit, batches of 1:   %6.1f ns/goroutine (one sched_run each)\n",
           bench_spawn(s, 1000000 * scale, 1));
    printf("spawn+exit, batches of 1k:  %6.1f ns/goroutine\n", bench_spawn(s, 1000000 * scale, 1000));
    printf("spawn+exit, batches of 100k:%6.1f ns/goroutine\n", bench_spawn(s, 1000000 * scale, 100000));
    printf("park/ready round trip:      %6.1f ns/round\n", bench_park_ready(s, 5000000 * scale));
    sched_destroy(&s);
    return 0;
}
