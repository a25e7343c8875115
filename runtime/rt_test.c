/*
** runtime/rt_test.c -- a goroutine's root frames: a chain of root stacks
** that grows with the frames pushed, keeps every slot in place while it is
** pushed (across collections), and is recycled when the goroutine ends;
** and Go's runtime objects on the heap: a g record per goroutine (reused
** once it ends), a closure per `go f(x)`, a sudog per blocked receive
** (reused from the per-P cache), all rooted while they live; where a
** goroutine yields when sysmon preempts it.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chan.h"
#include "runtime/rt_int.h"
#include "runtime/rt_testutil.h"

#define DEEP 30000   /* one-slot frames: beyond the first three levels */

/* 30000 one-slot frames, each holding a tagged object, across forced
** collections: every object survives, every slot stays where it was. */
static void deep_frames(rt_t *rt, void *arg)
{
    heap_ref_t **slot = malloc(DEEP * sizeof *slot);
    (void)arg;
    for (int i = 0; i < DEEP; i++) {
        slot[i] = rt_push(rt, 1);
        slot[i][0] = rtt_tagged(rt, (uint64_t)i, i % 3 == 0);
        if (i % 5000 == 0)
            rtt_churn(rt, 2000);
    }
    CHECK(heap_collect(rt_heap(rt)) == 0);
    rtt_churn(rt, 20000);
    int bad = 0;
    for (int i = 0; i < DEEP; i++)
        bad += !rtt_tag_ok(rt, slot[i][0], (uint64_t)i, i % 3 == 0);
    CHECK_INT(bad, 0);
    for (int i = DEEP - 1; i >= 0; i--)
        rt_pop(rt, 1);
    /* Back at the bottom: the next frame is again the first slot pushed. */
    heap_ref_t *again = rt_push(rt, 1);
    CHECK(again == slot[0]);
    rt_pop(rt, 1);
    free(slot);
}

static void case_deep_frames(void)
{
    rtt_world_t w;
    rtt_open(&w, 512u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, deep_frames, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* A frame larger than the first level goes to the next one; a small frame
** pushed after it stays above it, and popping both returns to level 0. */
static void big_frame(rt_t *rt, void *arg)
{
    (void)arg;
    heap_ref_t *small = rt_push(rt, 8);
    small[0] = rtt_tagged(rt, 1, false);
    heap_ref_t *big = rt_push(rt, 300);
    for (int i = 0; i < 300; i++)
        big[i] = rtt_tagged(rt, (uint64_t)(1000 + i), false);
    heap_ref_t *top = rt_push(rt, 4);
    top[0] = rtt_tagged(rt, 7, true);
    CHECK(heap_collect(rt_heap(rt)) == 0);
    CHECK(rtt_tag_ok(rt, small[0], 1, false));
    CHECK(rtt_tag_ok(rt, top[0], 7, true));
    for (int i = 0; i < 300; i++)
        CHECK(rtt_tag_ok(rt, big[i], (uint64_t)(1000 + i), false));
    rt_pop(rt, 4);
    rt_pop(rt, 300);
    heap_ref_t *next = rt_push(rt, 8);
    CHECK(next == small + 8);        /* level 0 again, right above `small` */
    rt_pop(rt, 8);
    rt_pop(rt, 8);
}

/* A goroutine's first frame too big for the first two levels: its pop
** goes down past levels it never took (it crashed there). */
static void big_first_frame(rt_t *rt, void *arg)
{
    (void)arg;
    heap_ref_t *big = rt_push(rt, 1024);
    big[0] = rtt_tagged(rt, 3, false);
    CHECK(heap_collect(rt_heap(rt)) == 0);
    CHECK(rtt_tag_ok(rt, big[0], 3, false));
    rt_pop(rt, 1024);
    heap_ref_t *small = rt_push(rt, 2);
    small[0] = rtt_tagged(rt, 4, false);
    CHECK(heap_collect(rt_heap(rt)) == 0);
    CHECK(rtt_tag_ok(rt, small[0], 4, false));
    rt_pop(rt, 2);
}

static void case_big_frame(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, big_frame, NULL);
    CHECK_INT(o.rc, 0);
    o = rtt_run(&w, big_first_frame, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* 5000 goroutines one after another, each rooting a frame: the root stacks
** of ended goroutines are reused, so the heap does not grow with them. */
static void one_frame(rt_t *rt, void *arg)
{
    int *done = arg;
    heap_ref_t *f = rt_push(rt, 2);
    f[0] = rtt_tagged(rt, 5, false);
    rt_pop(rt, 2);
    ++*done;
}

static void sequential_handlers(rt_t *rt, void *arg)
{
    int done = 0;
    heap_stats_t before, after;
    (void)arg;
    rt_go(rt, one_frame, &done);
    while (done < 1)
        sched_yield(rt_sched(rt));
    CHECK(heap_collect(rt_heap(rt)) == 0);
    heap_stats_read(rt_heap(rt), &before);
    for (int i = 1; i < 5000; i++) {
        rt_go(rt, one_frame, &done);
        while (done < i + 1)
            sched_yield(rt_sched(rt));
    }
    heap_stats_read(rt_heap(rt), &after);
    CHECK_INT(done, 5000);
    CHECK(after.num_gc == before.num_gc);   /* what follows assumes no cycle */
    /* Without reuse: 5000 root stacks of at least 512 bytes, 2.5 MB, until
    ** the next collection. */
    CHECK(after.heap_inuse_bytes < before.heap_inuse_bytes + (256u << 10));
    if (after.heap_inuse_bytes >= before.heap_inuse_bytes + (256u << 10))
        fprintf(stderr, "heap in use grew from %llu to %llu bytes\n",
                (unsigned long long)before.heap_inuse_bytes,
                (unsigned long long)after.heap_inuse_bytes);
}

static void case_recycled(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, sequential_handlers, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* More frames than the chain holds: the task fails with the reason. */
static void overflow(rt_t *rt, void *arg)
{
    (void)arg;
    for (;;)
        rt_push(rt, 1000);
}

static void case_overflow(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, overflow, NULL);
    CHECK_INT(o.rc, SCHED_EFAILED);
    CHECK(strstr(o.failure, "root stack overflow") != NULL);
    rtt_close(&w);
}

/* ---- Go's runtime objects on the heap -------------------------------------- */

#define OBJ_N 100
static heap_ref_t obj_ch;          /* rooted by the main goroutine's frame */
static int obj_parked, obj_ended;

static void obj_receiver(rt_t *rt, void *arg)
{
    CHECK(arg == &obj_ch);
    obj_parked++;
    chan_recv(rt, obj_ch, NULL, NULL);   /* blocks: a sudog */
    obj_ended++;
}

static void obj_quiet(rt_t *rt, void *arg)
{
    (void)rt;
    CHECK(arg == NULL);
    obj_ended++;
}

static uint64_t objects(rt_t *rt)
{
    heap_stats_t st;
    heap_stats_read(rt_heap(rt), &st);
    return st.proc_alloc_objects;
}

static void runtime_objects_main(rt_t *rt, void *arg)
{
    sched_t *s = rt_sched(rt);
    heap_stats_t st;
    (void)arg;
    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = obj_ch = chan_make(rt, 0, 0, 0);

    /* First time: a g record (392 B) and a closure (16 B) per `go f(x)`,
    ** and a sudog (88 B) per blocked receive: none to reuse yet. */
    uint64_t o0 = objects(rt);
    for (int i = 0; i < OBJ_N; i++)
        rt_go(rt, obj_receiver, &obj_ch);
    while (obj_parked < OBJ_N)
        sched_yield(s);
    sched_yield(s);
    uint64_t o1 = objects(rt);
    /* And allgs, Go's slice of every g, grows by append: 6 gs before
    ** (the runtime's 5 and this task's main) in an array of 8, then 106,
    ** so arrays of 16, 32, 64 and 128 pointers. */
    CHECK_INT(o1 - o0, 3 * OBJ_N + 4);
    /* All rooted while they live: the records, closures and sudogs. */
    CHECK(heap_collect(rt_heap(rt)) == 0);
    heap_stats_read(rt_heap(rt), &st);
    CHECK(st.heap_live_bytes >= OBJ_N * (392 + 16 + 88));
    /* The runtime's own globals are in the cycle's globals term. */
    heap_gc_cycle_t cyc[64];
    int ncyc = heap_gc_history(rt_heap(rt), 0, cyc, 64);
    REQUIRE(ncyc > 0);
    CHECK_INT(cyc[ncyc - 1].fields.globals_bytes, 200336);   /* go1.19 runtime: rt_int.h */
    /* The collection scanned their stacks: the next allocation reports
    ** what Go's goal counts, their depths, to the heap. */
    sched_stats_t ss;
    sched_stats_read(s, &ss);
    CHECK(ss.stack_scan_bytes >= OBJ_N * 64);
    CHECK(ss.stack_scan_bytes < ss.stack_inuse_bytes);
    rt_alloc(rt, 0, 8);
    heap_stats_read(rt_heap(rt), &st);
    CHECK_INT(st.stack_bytes, ss.stack_scan_bytes);
    /* Beside it, the stack space in use (maxStackScan, gctrace's MB
    ** stacks): every goroutine's Go-sized stack, 2 KiB at least. */
    CHECK_INT(st.max_stack_bytes, ss.stack_inuse_bytes);
    CHECK(st.max_stack_bytes >= (OBJ_N + 1) * 2048);
    /* A cycle records both as the process reported them at its stop: the
    ** space in use is at least what the last cycle scanned. */
    CHECK(heap_collect(rt_heap(rt)) == 0);
    ncyc = heap_gc_history(rt_heap(rt), 0, cyc, 64);
    REQUIRE(ncyc > 0);
    CHECK_INT(cyc[ncyc - 1].fields.stack_bytes, ss.stack_scan_bytes);
    CHECK_INT(cyc[ncyc - 1].fields.max_stack_bytes, ss.stack_inuse_bytes);
    CHECK(cyc[ncyc - 1].fields.max_stack_bytes >= OBJ_N * 2048);
    CHECK(cyc[ncyc - 1].fields.max_stack_bytes > cyc[ncyc - 1].fields.stack_bytes);
    rt_safepoint(rt);             /* that cycle's scan, reported */
    chan_close(rt, obj_ch);
    while (obj_ended < OBJ_N)
        sched_yield(s);
    sched_yield(s);               /* the last one's end hook has run */

    /* Again: the ended goroutines' records (gFree) and the per-P sudog
    ** cache are reused; only the closures are new. */
    obj_parked = obj_ended = 0;
    frame[0] = obj_ch = chan_make(rt, 0, 0, 0);
    o0 = objects(rt);
    for (int i = 0; i < OBJ_N; i++)
        rt_go(rt, obj_receiver, &obj_ch);
    while (obj_parked < OBJ_N)
        sched_yield(s);
    sched_yield(s);
    CHECK_INT(objects(rt) - o0, OBJ_N);
    chan_close(rt, obj_ch);
    while (obj_ended < OBJ_N)
        sched_yield(s);
    sched_yield(s);

    /* `go f()` without an argument allocates no closure. */
    obj_ended = 0;
    o0 = objects(rt);
    for (int i = 0; i < OBJ_N; i++)
        rt_go(rt, obj_quiet, NULL);
    while (obj_ended < OBJ_N)
        sched_yield(s);
    CHECK_INT(objects(rt) - o0, 0);
    rt_pop(rt, 1);
}

static void case_runtime_objects(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, runtime_objects_main, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* Goroutines labelled by rt_go_at, parked on a channel nobody sends on
** across collections: grouped as leaks by label and wait reason with the
** cycles they waited; their root stacks described by id, label and
** reason; the snapshot hook called once, at the next rt call, for the
** (forced) collections since. */
#define LEAKY_N 5
static int leaky_ready;

static void leaky(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = *(heap_ref_t *)arg;            /* the channel */
    frame[1] = rtt_tagged(rt, 9, false);
    leaky_ready++;
    chan_recv(rt, frame[0], NULL, NULL);
    rt_pop(rt, 2);
}

typedef struct described {
    int leaky, main_roots, other;
    char leaky_inst[256];
} described_t;

static void on_root(void *arg, heap_ref_t container, const char *group, const char *instance)
{
    described_t *d = arg;
    CHECK(container != 0);
    if (strcmp(group, "goroutine t.leaky [chan receive]") == 0) {
        d->leaky++;
        snprintf(d->leaky_inst, sizeof d->leaky_inst, "%s", instance);
    } else if (strcmp(group, "goroutine [running]") == 0) {
        d->main_roots++;
    } else {
        d->other++;
    }
}

static int snapshots;
static void on_snapshot(void *arg, rt_t *rt)
{
    (void)rt;
    ++*(int *)arg;
}

static void leaky_main(rt_t *rt, void *arg)
{
    sched_t *s = rt_sched(rt);
    (void)arg;
    rt_set_snapshot_hook(rt, on_snapshot, &snapshots, 2);
    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = chan_make(rt, 0, 0, 0);
    for (int i = 0; i < LEAKY_N; i++)
        rt_go_at(rt, leaky, &frame[0], "t.leaky");
    rt_go(rt, leaky, &frame[0]);              /* no label */
    while (leaky_ready < LEAKY_N + 1)
        sched_yield(s);
    rtt_churn(rt, 10);
    CHECK_INT(snapshots, 0);
    for (int c = 0; c < 3; c++)
        CHECK(heap_collect(rt_heap(rt)) == 0);
    rtt_churn(rt, 10);                         /* the snapshot is due: taken here */
    CHECK_INT(snapshots, 1);
    rtt_churn(rt, 10);
    CHECK_INT(snapshots, 1);

    rt_gleak_t *g;
    size_t n;
    REQUIRE(rt_goroutine_leaks(rt, 2, &g, &n) == 0);
    REQUIRE(n == 2);
    CHECK_STR(g[0].where, "t.leaky");
    CHECK_STR(g[0].reason, "chan receive");
    CHECK_UINT(g[0].count, LEAKY_N);
    CHECK_UINT(g[0].min_cycles, 3);
    CHECK_UINT(g[0].max_cycles, 3);
    CHECK_STR(g[1].where, "(no label)");
    CHECK_UINT(g[1].count, 1);
    free(g);
    REQUIRE(rt_goroutine_leaks(rt, 4, &g, &n) == 0);
    CHECK_INT(n, 0);
    free(g);

    described_t d = {0};
    rt_roots_describe(rt, on_root, &d);
    CHECK_INT(d.leaky, LEAKY_N);
    CHECK_INT(d.main_roots, 1);
    CHECK(d.other >= 2);                      /* allgs, the unlabelled one, ... */
    CHECK_CONTAINS(d.leaky_inst, " t.leaky [chan receive, 3 GC cycles]");
    CHECK(strncmp(d.leaky_inst, "goroutine ", 10) == 0);
    chan_close(rt, frame[0]);
    rt_pop(rt, 1);
}

static void case_leaks(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, leaky_main, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* ---- The heap's slow paths on the scheduler's stack ------------------------ */

/* A goroutine with about 512 bytes of its stack left runs a collection and
** a large allocation: both take locks every process on the heap shares,
** and both need more stack than that. They run on the scheduler's stack
** (heap_set_stack_runner), so the goroutine's does not overflow half way
** with a lock held (which would fail the task, then wedge the heap). */
#define SLOW_USABLE ((size_t)(256 - 16) << 10)   /* default reserve less its guard */
#ifdef HEAPSIM_ASAN
#define SLOW_MARGIN 6144   /* ASan's frames are larger, on both sides */
#else
#define SLOW_MARGIN 512
#endif
static int slow_done;

static __attribute__((noinline)) void slow_at_the_edge(rt_t *rt)
{
    volatile char frame[256];
    frame[0] = 1;
    sched_gstack_t gs;
    sched_self_stack(rt_sched(rt), &gs);
    if (gs.depth_bytes + sizeof frame + SLOW_MARGIN < SLOW_USABLE - 64) {
        slow_at_the_edge(rt);
        frame[sizeof frame - 1] = frame[0];
        return;
    }
    CHECK(heap_collect(rt_heap(rt)) == 0);
    heap_ref_t big = heap_alloc(rt_heap(rt), 0, 1u << 20);
    CHECK(big != 0);
    CHECK(heap_collect(rt_heap(rt)) == 0);
    slow_done++;
}

static void slow_main(rt_t *rt, void *arg)
{
    (void)arg;
    slow_at_the_edge(rt);
}

static void case_slow_paths_on_system_stack(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    slow_done = 0;
    rtt_outcome_t o = rtt_run(&w, slow_main, NULL);
    CHECK_INT(o.rc, 0);
    CHECK_INT(slow_done, 1);
    rtt_close(&w);
}

/* ---- rt_interrupt ------------------------------------------------------ */

static int interrupt_allocs;      /* atomic: the interrupter waits for it */

static void *interrupt_later(void *arg)
{
    while (__atomic_load_n(&interrupt_allocs, __ATOMIC_SEQ_CST) < 20000)
        (sched_yield)();
    rt_interrupt(arg);
    return NULL;
}

static heap_ref_t interrupt_ch;

static void interrupt_parked(rt_t *rt, void *arg)
{
    chan_recv(rt, interrupt_ch, NULL, NULL);     /* never sent to: unwound */
    CHECK_MSG(false, "a parked goroutine ran on after the interrupt");
}

/* Only allocates: no switch point, so the heap's poll must find the
** interrupt. A goroutine parked on a channel is unwound with it. */
static void allocates_until_interrupted(rt_t *rt, void *arg)
{
    pthread_t *t = arg;
    heap_ref_t *frame = rt_push(rt, 2);
    frame[1] = interrupt_ch = chan_make(rt, 0, 0, 0);
    rt_go(rt, interrupt_parked, NULL);
    sched_yield(rt_sched(rt));    /* it parks */
    REQUIRE_INT(pthread_create(t, NULL, interrupt_later, rt), 0);
    for (uint64_t n = 0;; n++) {
        frame[0] = rtt_tagged(rt, n, true);
        __atomic_add_fetch(&interrupt_allocs, 1, __ATOMIC_SEQ_CST);
    }
}

static void churns_to_the_end(rt_t *rt, void *arg)
{
    rtt_churn(rt, 50000);
    rt_printf(rt, "ended");
}

/* rt_interrupt from another thread ends a task that only allocates at the
** heap's next poll; heap_verify passes after it (rtt_run checks), and the
** next task on the same heap and scheduler runs to its end. */
static void case_interrupt(void)
{
    rtt_world_t w;
    pthread_t t;

    rtt_open(&w, 256u << 20, 0);
    __atomic_store_n(&interrupt_allocs, 0, __ATOMIC_SEQ_CST);
    rtt_outcome_t o = rtt_run(&w, allocates_until_interrupted, &t);
    pthread_join(t, NULL);
    CHECK_INT(o.rc, SCHED_EINTERRUPTED);
    CHECK_CONTAINS(o.failure, "interrupted at a heap safepoint of goroutine 1");
    CHECK(__atomic_load_n(&interrupt_allocs, __ATOMIC_SEQ_CST) >= 20000);
    o = rtt_run(&w, churns_to_the_end, NULL);
    CHECK_INT(o.rc, 0);
    CHECK_STR(o.failure, "");
    rtt_close(&w);
}

/* ---- Preemption points ----------------------------------------------------------- */

static char pj[64];               /* what ran, in order */
static size_t pj_len;
static void pnote(char c)
{
    if (pj_len + 1 < sizeof pj)
        pj[pj_len++] = c;
}

static void p_note_b(rt_t *rt, void *arg)
{
    pnote((char)(intptr_t)arg);
    (void)rt_alloc(rt, 1, 8);     /* the request was taken: no yield here */
}

static heap_ref_t p_ch;

static void p_sender(rt_t *rt, void *arg)
{
    pnote('d');
    chan_send(rt, p_ch, NULL, NULL);
}

/* sched_preempt_request stands for sysmon: the preempt hook reaches the
** runtime, and the goroutine yields at its next preemption point -- an
** allocation, rt_safepoint, chan_recv -- to the global queue (the
** goroutine in runnext, here the one just spawned, runs first). The
** runtime's own allocations (chan_make's) are not points. */
static void p_main(rt_t *rt, void *arg)
{
    sched_t *s = rt_sched(rt);
    heap_ref_t *frame = rt_push(rt, 1);

    rt_go(rt, p_note_b, (void *)(intptr_t)'b');
    pnote('m');
    sched_preempt_request(s);
    frame[0] = rt_alloc(rt, 1, 8);
    pnote('M');
    rt_go(rt, p_note_b, (void *)(intptr_t)'c');
    sched_preempt_request(s);
    rt_safepoint(rt);
    pnote('N');
    rt_go(rt, p_sender, NULL);
    sched_preempt_request(s);
    frame[0] = p_ch = chan_make(rt, 0, 0, 0);   /* no yield inside */
    pnote('k');
    chan_recv(rt, p_ch, NULL, NULL);           /* yields first: d sends */
    pnote('K');
    rt_pop(rt, 1);
}

static volatile uint64_t p_progress[2];
static bool p_saw_other[2];

/* Generous: at tens of ns an allocation, seconds; sysmon's 1 ms slice
** ends long before, however fast the machine. */
#define P_ALLOC_MAX 200000000L

/* Allocates until the other has made progress, which it can only once
** sysmon has preempted this one: not for a fixed amount of work. Bounded,
** and said clearly if the preemption never came. */
static void p_allocator(rt_t *rt, void *arg)
{
    int me = (int)(intptr_t)arg;
    heap_ref_t *frame = rt_push(rt, 1);
    long i;

    for (i = 0; i < P_ALLOC_MAX && !p_saw_other[me]; i++) {
        frame[0] = rt_alloc(rt, 1, 8);
        p_progress[me]++;
        p_saw_other[me] = p_progress[!me] > 0;
    }
    CHECK_MSG(p_saw_other[me], "goroutine %d allocated %ld times and the other never ran: "
              "sysmon (1 ms slices) never preempted it", me, i);
    rt_pop(rt, 1);
}

static void p_two_allocators(rt_t *rt, void *arg)
{
    rt_go(rt, p_allocator, (void *)(intptr_t)0);
    rt_go(rt, p_allocator, (void *)(intptr_t)1);
}

static void case_preempt_points(void)
{
    rtt_world_t w;

    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, p_main, NULL);
    CHECK_INT(o.rc, 0);
    pj[pj_len] = '\0';
    CHECK_STR(pj, "mbMcNkdK");
    sched_stats_t st;
    sched_stats_read(w.sched, &st);
    CHECK_INT(st.preemptions, 3);
    /* sysmon itself, 1 ms slices: two goroutines that only allocate both
    ** see the other's progress before either ends. */
    sched_set_preempt(w.sched, 1000000);
    o = rtt_run(&w, p_two_allocators, NULL);
    CHECK_INT(o.rc, 0);
    sched_stats_t st2;
    sched_stats_read(w.sched, &st2);
    CHECK_MSG(st2.preemptions > st.preemptions, "sysmon preempted nothing (%llu preemptions)",
              (unsigned long long)(st2.preemptions - st.preemptions));
    rtt_close(&w);
}

/* hook_safepoint's once-per-cycle work (stack depths and shrinking, the
** pacer's stack term, the cycle that ages the sudog cache and paces
** snapshots; rt->gc_seen counts its runs) runs once per completed cycle,
** not at every goroutine switch while the heap's safepoint word is set --
** here by the scavenger, which keeps it set while it has pages to give
** back, and by each collection's lazy sweep. Over 20,000 switches seen
** with the word set, and a collection every 2,000: runs == cycles.
**
** How long the scavenger keeps the word set is its wall-clock pacing: on
** a loaded machine it may give everything back before 20,000 switches.
** So whenever a switch finds the word clear, the test gives it 32 MiB more
** to release (cw_garbage: its collections' sweeps set the word at once,
** and wake the scavenger), at most CW_REFILLS times: enough switches are
** seen however fast the scavenger runs, and the refills' cycles count as
** cycles like any other. */
#define CW_SWITCHES 20000
#define CW_REFILLS 2000

/* 32 MiB live under frame[0] through a collection, then garbage, and two
** more collections: the last one's sweep wakes the scavenger. */
static void cw_garbage(rt_t *rt, heap_ref_t *frame)
{
    heap_t *h = rt_heap(rt);
    frame[0] = rt_alloc(rt, 1024, 0);
    for (uint32_t i = 0; i < 1024; i++)
        heap_write_ref(h, frame[0], i, rt_alloc(rt, 0, 32 << 10));   /* 32 MiB */
    CHECK(heap_collect(h) == 0);
    frame[0] = 0;                                                   /* garbage */
    CHECK(heap_collect(h) == 0);
    CHECK(heap_collect(h) == 0);                 /* its sweep wakes the scavenger */
}

static void cw_main(rt_t *rt, void *arg)
{
    (void)arg;
    heap_t *h = rt_heap(rt);
    sched_t *s = rt_sched(rt);
    const uint32_t *word = heap_safepoint_word(h);
    heap_ref_t *frame = rt_push(rt, 1);
    cw_garbage(rt, frame);
    uint64_t runs0 = rt->gc_seen, cycles0 = heap_num_gc(h), with_word = 0, refills = 0;
    while (with_word < CW_SWITCHES) {
        if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0) {
            if (refills == CW_REFILLS)
                break;
            cw_garbage(rt, frame);
            refills++;
            continue;
        }
        with_word++;
        if (with_word % 2000 == 0)
            CHECK(heap_collect(h) == 0);
        sched_yield(s);
    }
    uint64_t runs = rt->gc_seen - runs0, cycles = heap_num_gc(h) - cycles0;
    printf("cycle work: %llu switches with the safepoint word set, %llu refills, %llu cycles, "
           "the per-cycle work ran %llu times\n", (unsigned long long)with_word,
           (unsigned long long)refills, (unsigned long long)cycles, (unsigned long long)runs);
    REQUIRE_MSG(with_word == CW_SWITCHES,
                "only %llu switches saw the safepoint word set after %llu refills: "
                "nothing to judge by", (unsigned long long)with_word,
                (unsigned long long)refills);
    CHECK(cycles >= CW_SWITCHES / 2000);
    CHECK_MSG(runs == cycles, "the per-cycle work ran %llu times in %llu cycles",
              (unsigned long long)runs, (unsigned long long)cycles);
    rt_pop(rt, 1);
}

static void case_cycle_work_once(void)
{
    rtt_world_t w;
    rtt_open(&w, 256u << 20, 0);
    rtt_outcome_t o = rtt_run(&w, cw_main, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

int main(int argc, char **argv)
{
    static const rtt_case_t cases[] = {
        {"deep_frames", case_deep_frames},
        {"interrupt", case_interrupt},
        {"big_frame", case_big_frame},
        {"recycled", case_recycled},
        {"overflow", case_overflow},
        {"runtime_objects", case_runtime_objects},
        {"leaks", case_leaks},
        {"slow_paths_on_system_stack", case_slow_paths_on_system_stack},
        {"preempt_points", case_preempt_points},
        {"cycle_work_once", case_cycle_work_once},
    };
    return rtt_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60);
}
