/*
** kernels/spawn.c -- what a goroutine costs: spawn `goroutines` goroutines
** that each park on a channel receive, then release them all with one
** close and wait for every one to end. Like bench/go/spawn:
**
**   ns_per_spawn         spawn until every goroutine is parked, per goroutine
**   ns_per_goroutine     the whole cycle (spawn, park, release, end)
**   bytes_per_goroutine  growth of the process's resident set (VmRSS) while
**                        all are parked, per goroutine: descriptors, the
**                        stacks set aside, wait records, everything
**   pte_bytes_per_goroutine  the same for page tables (VmPTE), which VmRSS
**                        does not include
*/
#include "kernels/kernels.h"

#include <stdio.h>

#include "runtime/chan.h"
#include "runtime/sync.h"

/* On the main goroutine's stack: it only ever blocks in WaitGroup waits,
** which never set its stack aside (see chan.h), so the others may use it. */
typedef struct spawn_state {
    heap_ref_t release;       /* chan struct{}; rooted by the main goroutine */
    sync_wg_t started, done;
} spawn_state_t;

static void spawn_body(rt_t *rt, void *arg)
{
    spawn_state_t *st = arg;
    sched_t *s = rt_sched(rt);

    sync_wg_done(s, &st->started);
    chan_recv(rt, st->release, NULL, NULL);
    sync_wg_done(s, &st->done);
}

/* VmRSS and VmPTE of this process in bytes (0 when unreadable). */
static void proc_memory(int64_t *rss_bytes, int64_t *pte_bytes)
{
    char line[256];
    long long kb;
    FILE *fp = fopen("/proc/self/status", "r");

    *rss_bytes = *pte_bytes = 0;
    if (!fp)
        return;
    while (fgets(line, sizeof line, fp)) {
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            *rss_bytes = kb * 1024;
        else if (sscanf(line, "VmPTE: %lld kB", &kb) == 1)
            *pte_bytes = kb * 1024;
    }
    fclose(fp);
}

void kernel_spawn(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    int64_t n = kparams_int(p, "goroutines");
    heap_ref_t *frame = rt_push(rt, 1);
    spawn_state_t st;
    int64_t rss0, pte0, rss1, pte1;

    frame[0] = chan_make(rt, 0, 0, 0);
    st.release = frame[0];
    sync_wg_init(&st.started);
    sync_wg_init(&st.done);
    sync_wg_add(s, &st.started, n);
    sync_wg_add(s, &st.done, n);

    proc_memory(&rss0, &pte0);
    uint64_t t0 = rt_now_ns();
    for (int64_t i = 0; i < n; i++)
        rt_go(rt, spawn_body, &st);
    sync_wg_wait(s, &st.started);
    uint64_t t_parked = rt_now_ns();
    proc_memory(&rss1, &pte1);
    chan_close(rt, st.release);
    sync_wg_wait(s, &st.done);
    uint64_t t_done = rt_now_ns();
    rt_pop(rt, 1);

    rt_printf(rt, "spawn: %lld goroutines parked and released\n", (long long)n);
    rt_metric(rt, "ns_per_spawn", (double)(t_parked - t0) / (double)n, "ns");
    rt_metric(rt, "ns_per_goroutine", (double)(t_done - t0) / (double)n, "ns");
    rt_metric(rt, "bytes_per_goroutine", (double)(rss1 - rss0) / (double)n, "B");
    rt_metric(rt, "pte_bytes_per_goroutine", (double)(pte1 - pte0) / (double)n, "B");
}
