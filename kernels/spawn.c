/*
** kernels/spawn.c -- what a goroutine costs: spawn many, let each yield a
** few times and exit, and wait for all of them.
*/
#include "kernels/kernels.h"

typedef struct spawn_state {
    int64_t yields;
    int64_t pending;
    sched_waiter_t *waiter;
    uint64_t peak_stack_bytes;
    uint64_t peak_goroutines;
} spawn_state_t;

static void spawn_body(rt_t *rt, void *arg)
{
    spawn_state_t *st = arg;
    sched_t *s = rt_sched(rt);
    for (int64_t i = 0; i < st->yields; i++)
        sched_yield(s);
    if (--st->pending == 0 && st->waiter)
        sched_ready(s, st->waiter);
}

void kernel_spawn(rt_t *rt)
{
    const kparams_t *p = rt_params(rt);
    int64_t n = kparams_int(p, "goroutines");
    spawn_state_t st = {.yields = kparams_int(p, "yields"), .pending = n};
    sched_stats_t ss;

    uint64_t t0 = rt_now_ns();
    for (int64_t i = 0; i < n; i++)
        rt_go(rt, spawn_body, &st);
    uint64_t t_spawned = rt_now_ns();
    sched_stats_read(rt_sched(rt), &ss);
    st.peak_goroutines = ss.goroutines;
    while (st.pending > 0)
        sched_park(rt_sched(rt), &st.waiter, "spawn: waiting for goroutines");
    uint64_t t_done = rt_now_ns();
    sched_stats_read(rt_sched(rt), &ss);

    rt_printf(rt, "spawn: %lld goroutines, %lld yields each\n", (long long)n,
              (long long)st.yields);
    rt_metric(rt, "ns_per_spawn", (double)(t_spawned - t0) / (double)n, "ns");
    rt_metric(rt, "ns_per_goroutine", (double)(t_done - t0) / (double)n, "ns");
    rt_metric(rt, "goroutines_peak", (double)st.peak_goroutines, "");
}
