/*
** runtime/rt_bench.c -- what the runtime's channel operations cost, in ns:
** an unbuffered ping-pong round trip, a buffered send+receive, a select
** over two ready channels, a pool get+put, an allocation (its collections
** included). One process, a private heap, Go's 10 ms preemption slice.
** Not a test: numbers vary with the machine. Usage: rt_bench [scale, default 1] [pingpong|buffered|select|pool|alloc]
*/
#include "runtime/chan.h"
#include "runtime/pool.h"
#include "runtime/rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double scale = 1;
static double result_ns;

typedef struct pp {
    heap_ref_t ping, pong;
} pp_t;

static void ponger(rt_t *rt, void *arg)
{
    pp_t *pp = arg;
    int64_t v;

    while (chan_recv(rt, pp->ping, NULL, &v)) {
        v++;
        chan_send(rt, pp->pong, NULL, &v);
    }
    chan_close(rt, pp->pong);   /* pp is on the main goroutine's stack: done with it */
}

static void bench_pingpong(rt_t *rt)
{
    long rounds = (long)(2000000 * scale);
    heap_ref_t *frame = rt_push(rt, 2);
    pp_t pp;

    frame[0] = pp.ping = chan_make(rt, 0, 8, 0);
    frame[1] = pp.pong = chan_make(rt, 0, 8, 0);
    rt_go(rt, ponger, &pp);
    uint64_t t0 = rt_now_ns();
    for (int64_t i = 0; i < rounds; i++) {
        int64_t v = i;
        chan_send(rt, pp.ping, NULL, &v);
        chan_recv(rt, pp.pong, NULL, &v);
        if (v != i + 1)
            rt_fail(rt, "bad answer");
    }
    result_ns = (double)(rt_now_ns() - t0) / (double)rounds;
    chan_close(rt, pp.ping);
    while (chan_recv(rt, pp.pong, NULL, NULL))
        ;
    rt_pop(rt, 2);
}

static void bench_buffered(rt_t *rt)
{
    long n = (long)(5000000 * scale);
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = chan_make(rt, 1, 8, 64);
    frame[1] = rt_alloc(rt, 0, 16);
    uint64_t t0 = rt_now_ns();
    for (long i = 0; i < n; i++) {
        int64_t v = i;
        heap_ref_t r;
        chan_send(rt, frame[0], &frame[1], &v);
        chan_recv(rt, frame[0], &r, &v);
    }
    result_ns = (double)(rt_now_ns() - t0) / (double)n;
    rt_pop(rt, 2);
}

static void bench_select(rt_t *rt)
{
    long n = (long)(2000000 * scale);
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = chan_make(rt, 0, 8, 1);
    frame[1] = chan_make(rt, 0, 8, 1);
    int64_t a = 1, b = 2, got;
    chan_case_t cases[2] = {
        {.dir = CHAN_RECV, .ch = frame[0], .scalars_out = &got},
        {.dir = CHAN_RECV, .ch = frame[1], .scalars_out = &got},
    };
    chan_send(rt, frame[0], NULL, &a);
    chan_send(rt, frame[1], NULL, &b);
    uint64_t t0 = rt_now_ns();
    for (long i = 0; i < n; i++) {
        int k = chan_select(rt, cases, 2, false);
        chan_send(rt, cases[k].ch, NULL, &got);
    }
    result_ns = (double)(rt_now_ns() - t0) / (double)n;
    rt_pop(rt, 2);
}

static void bench_pool(rt_t *rt)
{
    long n = (long)(5000000 * scale);
    pool_t *p = pool_new(rt);
    pool_put(rt, p, rt_alloc(rt, 0, 64));
    uint64_t t0 = rt_now_ns();
    for (long i = 0; i < n; i++)
        pool_put(rt, p, pool_get(rt, p));
    result_ns = (double)(rt_now_ns() - t0) / (double)n;
    pool_destroy(rt, &p);
}

/* The allocation fast path: a binary-trees node (two reference slots),
** dropped at once. */
static void bench_alloc(rt_t *rt)
{
    long n = (long)(20000000 * scale);
    heap_ref_t *frame = rt_push(rt, 1);
    uint64_t t0 = rt_now_ns();
    for (long i = 0; i < n; i++)
        frame[0] = rt_alloc(rt, 2, 0);
    result_ns = (double)(rt_now_ns() - t0) / (double)n;
    rt_pop(rt, 1);
}

typedef struct entry {
    void (*fn)(rt_t *rt);
    rt_t *rt;
} entry_t;

static void entry_main(sched_t *s, void *arg)
{
    entry_t *e = arg;
    (void)s;
    e->fn(e->rt);
}

static double run(heap_t *h, sched_t *s, void (*fn)(rt_t *rt))
{
    rt_t *rt = rt_new(s, h, 1);
    entry_t e = {fn, rt};
    if (!rt || sched_spawn(s, entry_main, &e) < 0 || sched_run(s) != 0) {
        fprintf(stderr, "rt_bench: %s\n", sched_failure(s));
        exit(1);
    }
    rt_destroy(&rt);
    return result_ns;
}

int main(int argc, char **argv)
{
    char name[64];
    heap_t *h = NULL;
    sched_t *s = NULL;
    heap_config_t cfg;
    sched_config_t scfg;

    scale = argc > 1 ? atof(argv[1]) : 1;
    if (!(scale > 0))
        scale = 1;
    snprintf(name, sizeof name, "/heapsim-rtbench-%d", (int)getpid());
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 256u << 20;
    sched_config_default(&scfg);
    scfg.max_goroutines = 1024;   /* small enough to run under valgrind too */
    if (heap_open(name, &cfg, true, &h) != 0 || sched_new(&scfg, &s) != 0) {
        fprintf(stderr, "rt_bench: cannot open a heap or a scheduler\n");
        return 1;
    }
    heap_unlink(name);
    sched_set_preempt(s, 10000000);   /* as a worker runs tasks: Go's 10 ms */
    heap_enter(h);
    static const struct {
        const char *name, *what;
        void (*fn)(rt_t *rt);
    } benches[] = {
        {"pingpong", "chan ping-pong round trip: ", bench_pingpong},
        {"buffered", "buffered send + receive:   ", bench_buffered},
        {"select", "select of 2 + send:        ", bench_select},
        {"pool", "pool get + put:            ", bench_pool},
        {"alloc", "rt_alloc of 16 B (GC incl.):", bench_alloc},
    };
    const char *only = argc > 2 ? argv[2] : NULL;   /* one bench, e.g. to profile */
    run(h, s, bench_pingpong);   /* warm up */
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!only || strcmp(only, benches[i].name) == 0)
            printf("%s %6.1f ns\n", benches[i].what, run(h, s, benches[i].fn));
    heap_leave(h);
    sched_destroy(&s);
    heap_close(&h, true);
    return 0;
}
