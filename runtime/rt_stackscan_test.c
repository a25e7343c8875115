/*
** runtime/rt_stackscan_test.c -- the stack scan work the runtime gives the
** concurrent mark, as Go's scanstack counts it: at this process's root
** scan, each goroutine's depth (stack.hi - sp, every word of its frames),
** summed. So the cycle's stack figure (the next goal's stack term, Go's
** lastStackScan) is the depths that cycle saw: goroutines parked deep in
** a recursion count their frames, not the few root slots they hold, in
** the first cycle that finds them, and no longer in the first cycle after
** they ended.
*/
#include "runtime/rt_testutil.h"
#include "runtime/sync.h"

#include <string.h>

#define MiB (1u << 20)
#define DEEP_GOROUTINES 16
#define LEVELS 4
#define FRAME_BYTES 1024

typedef struct deep {
    sync_wg_t parked;       /* every goroutine at its deepest */
    sync_wg_t release;      /* main lets them go */
    sync_wg_t ended;
    int64_t cycle_stack_bytes;   /* the last cycle's, from the GC hook */
    int64_t cycles;
} deep_t;

static void record_cycle(void *arg, const heap_gc_cycle_t *cycle)
{
    deep_t *d = arg;
    d->cycle_stack_bytes = cycle->fields.stack_bytes;
    d->cycles++;
}

/* Recurse `level` frames of FRAME_BYTES each, then park there. */
static __attribute__((noinline)) int descend(rt_t *rt, deep_t *d, int level)
{
    volatile char frame[FRAME_BYTES];
    memset((char *)frame, level, sizeof frame);
    if (level > 1)
        return descend(rt, d, level - 1) + frame[FRAME_BYTES - 1];
    sync_wg_done(rt_sched(rt), &d->parked);
    sync_wg_wait(rt_sched(rt), &d->release);
    return frame[0];
}

static void deep_goroutine(rt_t *rt, void *arg)
{
    deep_t *d = arg;
    heap_ref_t *frame = rt_push(rt, 1);   /* one root slot: 8 B of pointers */
    frame[0] = rtt_tagged(rt, 7, false);
    CHECK(descend(rt, d, LEVELS) >= 0);
    CHECK(rtt_tag_ok(rt, frame[0], 7, false));
    rt_pop(rt, 1);
    sync_wg_done(rt_sched(rt), &d->ended);
}

static void t_depths(rt_t *rt, void *arg)
{
    deep_t *d = arg;
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    sync_wg_init(&d->parked);
    sync_wg_init(&d->release);
    sync_wg_init(&d->ended);
    sync_wg_add(s, &d->parked, DEEP_GOROUTINES);
    sync_wg_add(s, &d->release, 1);
    sync_wg_add(s, &d->ended, DEEP_GOROUTINES);
    for (int i = 0; i < DEEP_GOROUTINES; i++)
        rt_go(rt, deep_goroutine, d);
    sync_wg_wait(s, &d->parked);

    rt_set_gc_hook(rt, record_cycle, d);
    CHECK_INT(heap_collect(h), 0);
    const int64_t deep = (int64_t)DEEP_GOROUTINES * LEVELS * FRAME_BYTES;
    fprintf(stderr, "rt_stackscan_test: %d goroutines %d frames of %d B deep: cycle's stack "
            "scan %lld B (their frames alone %lld B)\n", DEEP_GOROUTINES, LEVELS, FRAME_BYTES,
            (long long)d->cycle_stack_bytes, (long long)deep);
    CHECK_INT(d->cycles, 1);
    CHECK_MSG(d->cycle_stack_bytes >= deep && d->cycle_stack_bytes < 2 * deep,
              "the cycle's stack scan is %lld B with %lld B of frames parked",
              (long long)d->cycle_stack_bytes, (long long)deep);
    /* The scheduler's scan is the one the mark took (once per cycle). */
    CHECK_INT((int64_t)sched_stack_scan_bytes(s), d->cycle_stack_bytes);

    sync_wg_done(s, &d->release);
    sync_wg_wait(s, &d->ended);
    CHECK_INT(heap_collect(h), 0);
    fprintf(stderr, "rt_stackscan_test: after they ended: %lld B\n",
            (long long)d->cycle_stack_bytes);
    CHECK_INT(d->cycles, 2);
    CHECK_MSG(d->cycle_stack_bytes < FRAME_BYTES,
              "the cycle after the goroutines ended counts %lld B of stack",
              (long long)d->cycle_stack_bytes);
    rt_set_gc_hook(rt, NULL, NULL);
}

static void test_depths(void)
{
    rtt_world_t w;
    deep_t d;
    memset(&d, 0, sizeof d);
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_depths, &d).rc, 0);
    rtt_close(&w);
}

int main(int argc, char **argv)
{
    static const rtt_case_t cases[] = {
        {"depths", test_depths},
    };
    return rtt_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60);
}
