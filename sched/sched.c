/*
** sched/sched.c -- goroutines: spawn, the run loop, switch points, parking,
** cleanups, task failure and unwinding, deadlock reports. The picture
** (states, stack layout, invariants) is in sched_int.h.
*/
#include "sched/sched_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#if SCHED_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* Deadlock reports list goroutines one by one up to this many, then group
** them by park reason. */
#define DEADLOCK_LIST_MAX 10
#define DEADLOCK_GROUPS_MAX 16
#define DEADLOCK_IDS_PER_GROUP 5

static _Noreturn void gor_finish(sched_t *s, sched__gor_t *g);

/* ---- Small helpers ------------------------------------------------------ */

const char *sched_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case SCHED_EFAILED:
        return "the task failed";
    case SCHED_EDEADLOCK:
        return "all goroutines are asleep - deadlock";
    case SCHED_ETOOMANY:
        return "too many goroutines";
    case SCHED_EINTERRUPTED:
        return "the task was interrupted";
    default:
        break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown scheduler error";
}

void sched_config_default(sched_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->stack_reserve_bytes = SCHED__DEFAULT_STACK_BYTES;
    cfg->max_goroutines = SCHED__DEFAULT_MAX_GOROUTINES;
}

/* Misuse from outside a goroutine of a call that cannot return an error. */
static _Noreturn void die_outside(const char *what)
{
    fprintf(stderr, "%s: called outside a goroutine\n", what);
    abort();
}

static inline sched__gor_t *need_current(const sched_t *s, const char *what)
{
    if (s->current == NULL)
        die_outside(what);
    /* s->current is the goroutine whose stack runs; the switch path has
    ** reaped any zombie before anything else runs. */
    assert(s->current->state == SCHED__RUNNING);
    assert(s->zombie == NULL);
    return s->current;
}

/* The thread's x87 control word and MXCSR, as they are. */
static inline uint64_t fpenv_save(void)
{
    uint16_t cw;
    uint32_t mxcsr;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    return (uint64_t)cw | (uint64_t)mxcsr << 32;
}

static inline void fpenv_load(uint64_t env)
{
    uint16_t cw = (uint16_t)env;
    uint32_t mxcsr = (uint32_t)(env >> 32);

    __asm__ volatile("fldcw %0" : : "m"(cw));
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}

/* Switching from `from` to `to` (either NULL: the scheduler's context),
** one of which keeps its own FP control state. */
static __attribute__((noinline)) void fpenv_switch(sched_t *s, sched__gor_t *from,
                                                   sched__gor_t *to)
{
    if (from != NULL && from->fpctl)
        from->fpenv = fpenv_save();
    if (to != NULL && to->fpctl)
        fpenv_load(to->fpenv);
    else
        fpenv_load(s->first_fpenv);
}

static uint64_t fpenv_now(void)
{
    uint16_t cw;
    uint32_t mxcsr;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr &= ~(uint32_t)0x3f;   /* exception flags are not inherited */
    return (uint64_t)cw | (uint64_t)mxcsr << 32;
}

static inline void globq_push(sched_t *s, sched__gor_t *g)
{
    assert(g->state == SCHED__RUNNABLE && g != s->runnext);
    g->next = NULL;
    if (s->globq_tail != NULL)
        s->globq_tail->next = g;
    else
        s->globq_head = g;
    s->globq_tail = g;
}

/* The local queue is full: its older half and g go to the global queue's
** back, in that order (Go's runqputslow). */
static __attribute__((noinline)) void runq_push_slow(sched_t *s, sched__gor_t *g)
{
    sched__gor_t *first = s->runq_head, *last = first;

    for (uint32_t i = 1; i < SCHED__RUNQ_MAX / 2; i++)
        last = last->next;
    s->runq_head = last->next;
    s->runq_len -= SCHED__RUNQ_MAX / 2;
    last->next = NULL;
    if (s->globq_tail != NULL)
        s->globq_tail->next = first;
    else
        s->globq_head = first;
    s->globq_tail = last;
    globq_push(s, g);
}

/* g to the local queue's back (Go's runqput(pp, gp, false)). */
static inline void runq_push(sched_t *s, sched__gor_t *g)
{
    assert(g->state == SCHED__RUNNABLE && g != s->runnext);
    if (__builtin_expect(s->runq_len >= SCHED__RUNQ_MAX, 0)) {
        runq_push_slow(s, g);
        return;
    }
    g->next = NULL;
    if (s->runq_tail != NULL)
        s->runq_tail->next = g;
    else
        s->runq_head = g;
    s->runq_tail = g;
    s->runq_len++;
}

/* g to runnext; the one there goes to the local queue's back (Go's
** runqput(pp, gp, true)). */
static inline void runq_push_next(sched_t *s, sched__gor_t *g)
{
    sched__gor_t *prev = s->runnext;

    if (prev != NULL) {
        s->runnext = NULL;
        runq_push(s, prev);
    }
    s->runnext = g;
}

static inline sched__gor_t *runq_pop_local(sched_t *s)
{
    sched__gor_t *g = s->runq_head;

    if (g != NULL) {
        s->runq_head = g->next;
        if (s->runq_head == NULL)
            s->runq_tail = NULL;
        s->runq_len--;
    }
    return g;
}

/* The global queue's head; with `batch`, up to SCHED__RUNQ_MAX / 2 - 1
** more move to the local queue's back (Go's globrunqget on one P). */
static __attribute__((noinline)) sched__gor_t *globq_pop(sched_t *s, bool batch)
{
    sched__gor_t *g = s->globq_head;

    s->globq_head = g->next;
    for (uint32_t n = 1; batch && n < SCHED__RUNQ_MAX / 2 && s->globq_head != NULL; n++) {
        sched__gor_t *x = s->globq_head;
        s->globq_head = x->next;
        runq_push(s, x);
    }
    if (s->globq_head == NULL)
        s->globq_tail = NULL;
    return g;
}

/* The next goroutine to run, as Go's findRunnable picks it (sched.h, "Run
** queues"): every 61st schedtick the global queue's head; else runnext,
** unless it has had its SCHED_RUNNEXT_MAX turns in a row while the queue
** waited; else the local head; else the global head and a batch. One not
** from runnext starts a slice of its own: schedtick counts it (Go's
** execute without inheritTime). */
static inline sched__gor_t *runq_pop(sched_t *s)
{
    sched__gor_t *g;

    if (__builtin_expect(s->globq_head != NULL, 0) &&
        s->schedtick % SCHED__GLOBAL_EVERY == 0) {
        g = globq_pop(s, false);
        goto new_slice;
    }
    g = s->runnext;
    if (g != NULL) {
        assert(g->state == SCHED__RUNNABLE);
        s->runnext = NULL;
        if (s->runq_head == NULL || ++s->runnext_streak < SCHED_RUNNEXT_MAX)
            return g;
        runq_push(s, g);
    }
    s->runnext_streak = 0;
    g = runq_pop_local(s);
    if (g == NULL) {
        if (s->globq_head == NULL)
            return NULL;
        g = globq_pop(s, true);
    }
new_slice:
    assert(g->state == SCHED__RUNNABLE);
    __atomic_store_n(&s->schedtick, s->schedtick + 1, __ATOMIC_RELAXED);
    return g;
}

static inline bool runq_empty(const sched_t *s)
{
    return s->runq_head == NULL && s->runnext == NULL && s->globq_head == NULL;
}

static inline void runq_clear(sched_t *s)
{
    s->runq_head = s->runq_tail = NULL;
    s->runq_len = 0;
    s->globq_head = s->globq_tail = NULL;
    s->runnext = NULL;
    s->runnext_streak = 0;
}

static void timers_fire(sched_t *s)
{
    uint64_t now = sched__now_ns();
    sched__gor_t *g;

    while ((g = sched__timer_pop_due(s, now)) != NULL) {
        g->state = SCHED__RUNNABLE;
        runq_push(s, g);
    }
}

/* ---- Stack accounting --------------------------------------------------- */

static void stack_grew(sched_t *s, sched__gor_t *g, size_t bytes)
{
    size_t usable = s->slot_bytes - s->guard_bytes;

    if (bytes > usable)
        bytes = usable;
    if (bytes <= g->stack_bytes)
        return;
    sched__stat_add(&s->stats.stack_committed_bytes, bytes - g->stack_bytes);
    g->stack_bytes = (uint32_t)bytes;
    if (bytes > s->stats.stack_hwm_bytes)
        sched__stat_set(&s->stats.stack_hwm_bytes, bytes);
}

/* Go's stack of size go_bytes: the depth from the slot's top beyond which
** it would grow (see the picture). */
static inline uint32_t go_trip(uint32_t go_bytes)
{
    return go_bytes - SCHED__GO_STACK_GUARD + SCHED__FIRST_FRAME_GAP;
}

/* Modelled cost of one copystack of `bytes`. */
static inline uint64_t copy_cost_ns(uint64_t bytes)
{
    return SCHED__COPY_FIXED_NS + bytes * SCHED__COPY_PS_PER_BYTE / 1000u;
}

/* Spend ns of busy time (a copy Go would have made). */
static void busy_ns(uint64_t ns)
{
    uint64_t until = sched__now_ns() + ns;

    while (sched__now_ns() < until)
        __builtin_ia32_pause();
}

/* g is `depth` bytes deep (below its first frame), past go_trip: double
** Go's stack until it fits, one copy per doubling, and charge the copies
** to g as busy time. */
static __attribute__((noinline)) void go_grow(sched_t *s, sched__gor_t *g, size_t depth)
{
    uint64_t copied = 0, ns = 0, n = 0;
    uint32_t size = g->go_bytes;

    while (depth + SCHED__GO_STACK_GUARD > size && size < SCHED__GO_STACK_MAX) {
        uint64_t used = size - SCHED__GO_STACK_GUARD;

        if (used > depth)
            used = depth;
        copied += used;
        ns += copy_cost_ns(used);
        n++;
        size *= 2;
    }
    sched__stat_add(&s->stats.stack_inuse_bytes, size - g->go_bytes);
    g->go_bytes = size;
    g->go_trip = go_trip(size);
    sched__stat_add(&s->stats.stack_growths, n);
    sched__stat_add(&s->stats.stack_copied_bytes, copied);
    sched__stat_add(&s->stats.stack_copy_ns, ns);
    busy_ns(ns);
}

/* Record that g's stack is `from_top` bytes deep (counted from the slot's
** top) right now: real pages, the deepest depth, Go's size. */
static inline void stack_at(sched_t *s, sched__gor_t *g, size_t from_top)
{
    if (from_top > g->stack_bytes)
        stack_grew(s, g, (from_top + s->page_bytes - 1) & ~(s->page_bytes - 1));
    if (from_top > g->go_trip)
        go_grow(s, g, from_top - SCHED__FIRST_FRAME_GAP);
    if (from_top > (size_t)g->depth_hwm + SCHED__FIRST_FRAME_GAP)
        g->depth_hwm = (uint32_t)(from_top - SCHED__FIRST_FRAME_GAP);
}

/* Record how deep g's stack is right now (the caller runs on it). */
static inline __attribute__((always_inline)) void stack_sample(sched_t *s, sched__gor_t *g)
{
    uintptr_t sp;

    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    stack_at(s, g, (size_t)((uintptr_t)sched__stack_top(s, g) - sp));
}

/* Give g Go's starting stack (a spawn). */
static void go_stack_start(sched_t *s, sched__gor_t *g)
{
    g->go_bytes = s->go_start_bytes;
    g->go_trip = go_trip(g->go_bytes);
    g->depth_hwm = 0;
    sched__stat_add(&s->stats.stack_inuse_bytes, g->go_bytes);
}

/* The depth of a goroutine that is not running: from its saved stack
** pointer (none yet: nothing on it). */
static size_t depth_parked(const sched_t *s, const sched__gor_t *g)
{
    uintptr_t top = (uintptr_t)sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP;
    uintptr_t sp = (uintptr_t)g->ctx.sp;

    return sp != 0 && sp < top ? (size_t)(top - sp) : 0;
}

void sched_stacks_gc(sched_t *s)
{
    uint64_t scanned = 0, nscanned = 0, shrinks = 0, copied = 0, ns = 0;

    s->gc_count++;

    for (uint32_t i = 0; i < s->nslots; i++) {
        sched__gor_t *g = &s->gors[i];
        size_t depth;

        if (g->state == SCHED__FREE || g->state == SCHED__DEAD)
            continue;
        if (g == s->current) {
            /* Go shrinks a running goroutine later, at a safe point; its
            ** depth still counts in the average. */
            uintptr_t sp;
            __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
            uintptr_t top = (uintptr_t)sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP;
            scanned += sp < top ? top - sp : 0;
            nscanned++;
            continue;
        }
        depth = depth_parked(s, g);
        uint32_t half = g->go_bytes / 2;
        if (half >= SCHED__GO_STACK_MIN &&
            depth + SCHED__GO_STACK_LIMIT < (size_t)g->go_bytes / 4) {
            sched__stat_sub(&s->stats.stack_inuse_bytes, half);
            g->go_bytes = half;
            g->go_trip = go_trip(half);
            shrinks++;
            copied += depth;
            ns += copy_cost_ns(depth);
        }
        scanned += depth;
        nscanned++;
    }
    sched__stat_add(&s->stats.stack_shrinks, shrinks);
    sched__stat_add(&s->stats.stack_copied_bytes, copied);
    sched__stat_add(&s->stats.stack_copy_ns, ns);
    sched__stat_set(&s->stats.stack_scan_bytes, scanned);
    if (!s->go_adaptive_start)
        return;
    /* gcComputeStartingStackSize: the average plus _StackGuard, rounded
    ** up to a power of two, from 2 KiB to maxstacksize. */
    uint64_t avg = nscanned > 0 ? scanned / nscanned + SCHED__GO_STACK_GUARD : 0;
    uint32_t start = SCHED__GO_STACK_MIN;
    while (start < avg && start < SCHED__GO_STACK_MAX)
        start *= 2;
    s->go_start_bytes = start;
    sched__stat_set(&s->stats.stack_start_bytes, start);
}

void sched_self_stack(sched_t *s, sched_gstack_t *out)
{
    sched__gor_t *g = s->current;
    uintptr_t sp;

    memset(out, 0, sizeof *out);
    if (g == NULL)
        return;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    size_t from_top = (size_t)((uintptr_t)sched__stack_top(s, g) - sp);
    stack_at(s, g, from_top);
    out->go_bytes = g->go_bytes;
    out->depth_bytes = from_top > SCHED__FIRST_FRAME_GAP ? from_top - SCHED__FIRST_FRAME_GAP : 0;
    out->depth_hwm_bytes = g->depth_hwm;
}

/* ---- Switching ---------------------------------------------------------- */

static void gor_free(sched_t *s, sched__gor_t *g)
{
    sched__slot_free(s, g);
    s->live--;
    sched__stat_set(&s->stats.goroutines, s->live);
}

static inline void reap_zombie(sched_t *s)
{
    sched__gor_t *g = s->zombie;

    if (g != NULL) {
        assert(g->state == SCHED__DEAD && g != s->current);
        s->zombie = NULL;
        gor_free(s, g);
    }
}

#if SCHED_ASAN
/* First thing on arriving in a context: tell ASan which stack we are on and
** learn the scheduler's own stack bounds the first time we leave it. */
static void asan_landed(sched_t *s, void *fake_stack)
{
    const void *bottom;
    size_t size;

    __sanitizer_finish_switch_fiber(fake_stack, &bottom, &size);
    if (s->asan_from_sched) {
        s->asan_sched_bottom = bottom;
        s->asan_sched_size = size;
        s->asan_from_sched = false;
    }
}
#endif

/* Forge the frame sched__switch pops for a goroutine that never ran (see
** the picture): it "returns" into sched__trampoline with s in rbx. Done
** when it is first switched to, not at spawn: a goroutine waiting to run
** for the first time touches no stack page. */
static void forge_first_frame(sched_t *s, sched__gor_t *g)
{
    uint64_t *top = (uint64_t *)(void *)(sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP);

    top[-1] = (uint64_t)(uintptr_t)sched__trampoline;   /* return address */
    top[-2] = 0;                                        /* rbp */
    top[-3] = (uint64_t)(uintptr_t)s;                   /* rbx */
    top[-4] = 0;                                        /* r12 */
    top[-5] = 0;                                        /* r13 */
    top[-6] = 0;                                        /* r14 */
    top[-7] = 0;                                        /* r15 */
    g->ctx.sp = &top[-7];
    stack_grew(s, g, s->page_bytes);
}

/* Leave the context `from` (NULL: the scheduler's) for `to` (NULL: the
** scheduler's). The caller has set s->current and the states. Returns when
** something switches back to `from`, never if `from` is DEAD. errno is the
** caller's own again on return. */
static inline __attribute__((always_inline)) void ctx_switch(sched_t *s, sched__gor_t *from, sched__gor_t *to)
{
    sched__ctx_t *from_ctx = from != NULL ? &from->ctx : &s->sched_ctx;
    const sched__ctx_t *to_ctx = to != NULL ? &to->ctx : &s->sched_ctx;
    int saved_errno = *s->errno_p;

    if (to != NULL) {
        if (to->aside != NULL)
            sched__aside_restore(s, to);
        else if (to->ctx.sp == NULL)
            forge_first_frame(s, to);
    }
    if (__builtin_expect((from != NULL && from->fpctl) || (to != NULL && to->fpctl), 0))
        fpenv_switch(s, from, to);
#if SCHED_ASAN
    {
    void **fake_stack = from == NULL ? &s->asan_sched_fake_stack
                        : from->state == SCHED__DEAD ? NULL
                        : &from->asan_fake_stack;

    if (to != NULL)
        __sanitizer_start_switch_fiber(fake_stack, sched__stack_lo(s, to),
                                       s->slot_bytes - s->guard_bytes);
    else
        __sanitizer_start_switch_fiber(fake_stack, s->asan_sched_bottom,
                                       s->asan_sched_size);
    s->asan_from_sched = from == NULL;
    sched__stat_add(&s->stats.switches, 1);
    sched__switch(from_ctx, to_ctx);
    asan_landed(s, fake_stack != NULL ? *fake_stack : NULL);
    }
#else
    sched__stat_add(&s->stats.switches, 1);
    sched__switch(from_ctx, to_ctx);
#endif
    reap_zombie(s);
    /* A set-aside stack is back before its goroutine runs. */
    assert(s->current == NULL || (s->current->aside == NULL &&
                                  s->current->state == SCHED__RUNNING));
    *s->errno_p = saved_errno;
}

/* The running goroutine g has put itself where it waits (run queue, timer
** heap, parked) or is DEAD. Run the next runnable goroutine directly, or
** the scheduler's context when nothing is runnable or the task is failing.
** Returns when g runs again. */
static inline __attribute__((always_inline)) void gor_switch_out(sched_t *s, sched__gor_t *g)
{
    sched__gor_t *next = NULL;

    /* While unwinding, a goroutine switches away only to die. */
    assert(!s->unwinding || g->state == SCHED__DEAD);
    assert(g == s->current && s->zombie == NULL);
    stack_sample(s, g);
    if (!s->failing) {
        if (s->ntimers > 0 &&
            (runq_empty(s) || ++s->timer_tick >= SCHED__TIMER_POLL_EVERY)) {
            s->timer_tick = 0;
            timers_fire(s);
        }
        next = runq_pop(s);
        if (next == g) {          /* a yield with nobody else to run */
            g->state = SCHED__RUNNING;
            return;
        }
    }
    if (g->state == SCHED__DEAD)
        s->zombie = g;
    if (next != NULL)
        next->state = SCHED__RUNNING;
    s->current = next;
    ctx_switch(s, g, next);
}

/* From the scheduler's context: run g until it switches back to us. */
static void dispatch(sched_t *s, sched__gor_t *g)
{
    /* The scheduler's own context runs; failing => only the unwinder
    ** dispatches. */
    assert(s->current == NULL && s->zombie == NULL);
    assert(!s->failing || s->unwinding);
    g->state = SCHED__RUNNING;
    s->current = g;
    ctx_switch(s, NULL, g);
}

static const uint32_t interrupt_word = 1;

/* An interrupt pending (sched_interrupt): the poll's word points back at
** the hooks' own, then the goroutine ends the task. */
static void safepoint_interrupt(sched_t *s, sched__gor_t *g)
{
    bool pending = __atomic_exchange_n(&s->interrupt_pending, 0, __ATOMIC_SEQ_CST);

    __atomic_store_n(&s->hooks.safepoint_word, s->safepoint_word_set, __ATOMIC_SEQ_CST);
    if (pending && !s->unwinding && !g->in_safepoint)
        sched_interrupted(s, "interrupted at a switch point of goroutine %" PRId64, g->id);
}

static inline void safepoint(sched_t *s, sched__gor_t *g)
{
    const uint32_t *word = __atomic_load_n(&s->hooks.safepoint_word, __ATOMIC_RELAXED);

    if (word != NULL && __atomic_load_n(word, __ATOMIC_RELAXED) == 0)
        return;
    if (word == &interrupt_word) {
        safepoint_interrupt(s, g);
        word = s->safepoint_word_set;   /* the hook only when it has work */
        if (word != NULL && __atomic_load_n(word, __ATOMIC_RELAXED) == 0)
            return;
    }
    if (s->hooks.safepoint != NULL && !g->in_safepoint) {
        g->in_safepoint = true;
        s->hooks.safepoint(s->hooks.arg, s);
        g->in_safepoint = false;
    }
}

/* After a switch point resumes g: while the task unwinds, a goroutine that
** was not already ending ends now. */
static inline void resumed(sched_t *s, sched__gor_t *g)
{
    if (s->unwinding && !g->ending)
        gor_finish(s, g);
}

/* ---- Goroutine life ------------------------------------------------------ */

_Noreturn void sched__gor_entry(sched_t *s)
{
    sched__gor_t *g = s->current;

#if SCHED_ASAN
    asan_landed(s, NULL);
#endif
    reap_zombie(s);
    errno = 0;
    g->started = true;
    if (s->hooks.gstart != NULL)
        s->hooks.gstart(s->hooks.arg, s);
    g->fn(s, g->arg);
    if (g->is_main && !s->failing)
        s->main_returned = true;
    gor_finish(s, g);
}

static void exit_report(sched_t *s, const sched__gor_t *self);

/* End g, the running goroutine: gend hook, then its cleanups last first,
** then death. Re-entered from a cleanup that exits or fails, it carries on
** with the cleanups left. */
static _Noreturn void gor_finish(sched_t *s, sched__gor_t *g)
{
    g->ending = true;
    if (!g->gend_done) {
        g->gend_done = true;
        if (s->hooks.gend != NULL)
            s->hooks.gend(s->hooks.arg, s);
    }
    while (g->ndefers > 0) {
        sched__defer_t d = g->defers[--g->ndefers];
        d.fn(d.arg);
    }
    if (g->is_main && s->main_returned && !s->failing) {
        /* The program exits: the others are counted, then ended. */
        exit_report(s, g);
        s->failing = true;
        s->fail_rc = 0;
    }
    g->state = SCHED__DEAD;
    gor_switch_out(s, g);
    abort();   /* a DEAD goroutine is never switched back to */
}

static void fail_task(sched_t *s, int rc, const char *fmt, va_list ap)
{
    if (s->failing)
        return;   /* the first failure is the one reported */
    vsnprintf(s->failure, sizeof s->failure, fmt, ap);
    s->failing = true;
    s->fail_rc = rc;
}

static void fail_taskf(sched_t *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_taskf(sched_t *s, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_task(s, rc, fmt, ap);
    va_end(ap);
}

_Noreturn void sched__gor_overflow(sched_t *s)
{
    sched__gor_t *g = s->current;

#if SCHED_ASAN
    {
        /* The dead frames below us never returned: clear their redzones. */
        uintptr_t sp;
        char *lo = sched__stack_lo(s, g);

        __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
        __asan_unpoison_memory_region(lo, (size_t)((char *)sp - lo));
    }
#endif
    g->in_safepoint = false;
    stack_grew(s, g, s->slot_bytes - s->guard_bytes);
    fail_taskf(s, SCHED_EFAILED, "goroutine %" PRId64 ": stack overflow", g->id);
    gor_finish(s, g);
}

/* ---- Public: lifetime ----------------------------------------------------- */

int sched_new(const sched_config_t *cfg, sched_t **sched_p)
{
    sched_config_t def;
    size_t stack_bytes, page_bytes, guard_bytes;
    uint32_t max_goroutines;
    sched_t *s;
    int rc;

    sched_config_default(&def);
    stack_bytes = cfg != NULL && cfg->stack_reserve_bytes != 0
                      ? cfg->stack_reserve_bytes : def.stack_reserve_bytes;
    max_goroutines = cfg != NULL && cfg->max_goroutines != 0
                         ? cfg->max_goroutines : def.max_goroutines;
    page_bytes = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_bytes < SCHED__MIN_STACK_BYTES || stack_bytes > SCHED__MAX_STACK_BYTES)
        return -EINVAL;
    stack_bytes = (stack_bytes + page_bytes - 1) & ~(page_bytes - 1);
    if ((size_t)max_goroutines > SCHED__MAX_ARENA_BYTES / stack_bytes)
        return -EINVAL;

    s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->max_goroutines = max_goroutines;
    s->page_bytes = page_bytes;
    s->slot_bytes = stack_bytes;
    /* 1/16 of the slot, from one page up to 64 KiB: a frame bigger than the
    ** guard can step over it (build with -fstack-clash-protection to probe). */
    guard_bytes = (stack_bytes / 16) & ~(page_bytes - 1);
    if (guard_bytes < page_bytes)
        guard_bytes = page_bytes;
    if (guard_bytes > ((size_t)64 << 10))
        guard_bytes = (size_t)64 << 10;
    s->guard_bytes = guard_bytes;
    s->keep_bytes = SCHED__KEEP_PAGES * page_bytes;
    s->first_fpenv = fpenv_now();
    s->go_adaptive_start = cfg == NULL || !cfg->go_fixed_stack_start;
    s->go_start_bytes = SCHED__GO_STACK_MIN;
    s->stats.stack_start_bytes = SCHED__GO_STACK_MIN;

    rc = sched__arena_init(s);
    if (rc != 0)
        goto out_free;
    rc = sched__timers_init(s);
    if (rc != 0)
        goto out_arena;
    rc = sched__signals_acquire();
    if (rc != 0)
        goto out_timers;
    *sched_p = s;
    return 0;

out_timers:
    sched__timers_fini(s);
out_arena:
    sched__arena_fini(s);
out_free:
    free(s);
    return rc;
}

void sched_destroy(sched_t **sched_p)
{
    sched_t *s;

    if (sched_p == NULL || *sched_p == NULL)
        return;
    s = *sched_p;
    if (s->running) {
        fprintf(stderr, "sched_destroy: the scheduler is running\n");
        abort();
    }
    sched__signals_release();
    sched__timers_fini(s);
    sched__arena_fini(s);
    free(s);
    *sched_p = NULL;
}

/* ---- Public: spawning and running ------------------------------------------ */

int64_t sched_spawn(sched_t *s, gor_fn_t fn, void *arg)
{
    return sched_spawn_flags(s, fn, arg, 0);
}

int64_t sched_spawn_flags(sched_t *s, gor_fn_t fn, void *arg, unsigned flags)
{
    sched__gor_t *g;
    int rc;

    if (fn == NULL)
        return -EINVAL;
    if (s->live >= s->max_goroutines)
        return SCHED_ETOOMANY;
    rc = sched__slot_alloc(s, &g);
    if (rc != 0)
        return rc;
    g->id = ++s->last_id;
    g->fn = fn;
    g->arg = arg;
    g->local = NULL;
    g->park_reason = NULL;
    g->started = false;
    g->ending = false;
    g->gend_done = false;
    g->in_safepoint = false;
    g->park_aside = false;   /* aside_pending may stay set: see the picture */
    g->is_main = (flags & SCHED_SPAWN_MAIN) != 0;
    g->fpctl = (flags & SCHED_SPAWN_FPCTL) != 0;
    g->fpenv = s->first_fpenv;
    g->ndefers = 0;
    g->stack_bytes = 0;
    go_stack_start(s, g);
#if SCHED_ASAN
    g->asan_fake_stack = NULL;
#endif
    g->ctx.sp = NULL;   /* forged when first switched to */
    assert(g->state == SCHED__FREE && g->aside == NULL);
    g->state = SCHED__RUNNABLE;
    if (s->current != NULL)
        runq_push_next(s, g);   /* Go's newproc */
    else
        runq_push(s, g);
    s->live++;
    sched__stat_set(&s->stats.goroutines, s->live);
    sched__stat_add(&s->stats.spawned, 1);
    return g->id;
}

void sched_set_timer_resolution(sched_t *s, uint64_t resolution_ns)
{
    s->timer_resolution_ns = resolution_ns;
}

/* Sleep until the earliest timer is due, or with a timer resolution the
** time left in whole resolutions, at least one (sched.h); bracketed by the
** idle hooks. The caller looks at the timers again. */
static void idle(sched_t *s)
{
    uint64_t when_ns = sched__timer_next_ns(s);
    uint64_t now_ns = sched__now_ns();
    uint64_t res = s->timer_resolution_ns;
    struct timespec ts;

    if (now_ns >= when_ns)
        return;
    if (res > 0) {
        uint64_t left = when_ns - now_ns;
        when_ns = now_ns + (left < res ? res : left / res * res);
    }
    s->idle_until_ns = when_ns;
    if (s->hooks.idle_begin != NULL)
        s->hooks.idle_begin(s->hooks.arg, s);
    if (runq_empty(s)) {   /* the hook may have readied someone */
        ts.tv_sec = (time_t)(when_ns / 1000000000u);
        ts.tv_nsec = (long)(when_ns % 1000000000u);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    if (s->hooks.idle_end != NULL)
        s->hooks.idle_end(s->hooks.arg, s);
}

typedef struct parked {
    int64_t id;
    const char *reason;
} parked_t;

typedef struct park_group {
    const char *reason;
    size_t first;   /* index in the sorted parked_t array */
    size_t count;
} park_group_t;

static int parked_by_reason(const void *a, const void *b)
{
    const parked_t *pa = a, *pb = b;
    int c = strcmp(pa->reason, pb->reason);

    if (c != 0)
        return c;
    return (pa->id > pb->id) - (pa->id < pb->id);
}

static int parked_by_id(const void *a, const void *b)
{
    const parked_t *pa = a, *pb = b;

    return (pa->id > pb->id) - (pa->id < pb->id);
}

static int group_by_size(const void *a, const void *b)
{
    const park_group_t *ga = a, *gb = b;

    if (ga->count != gb->count)
        return ga->count < gb->count ? 1 : -1;
    return strcmp(ga->reason, gb->reason);
}

typedef struct msgbuf {
    char *buf;
    size_t size, len;
} msgbuf_t;

static void msg_add(msgbuf_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(msgbuf_t *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->len + 1 >= m->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(m->buf + m->len, m->size - m->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len = m->len + (size_t)n < m->size ? m->len + (size_t)n : m->size - 1;
}

/* Every live goroutine is PARKED and no timer is pending: fail the task
** with Go's message and a summary of who waits on what. */
static void deadlock(sched_t *s)
{
    msgbuf_t m = { .buf = s->failure, .size = sizeof s->failure, .len = 0 };
    parked_t *parked;
    park_group_t groups[DEADLOCK_GROUPS_MAX];
    size_t n = 0, ngroups = 0, other = 0;

    s->failure[0] = '\0';
    msg_add(&m, "all goroutines are asleep - deadlock!");
    parked = malloc(s->live * sizeof *parked);
    if (parked == NULL) {
        msg_add(&m, "\n\n%" PRIu64 " goroutines parked", s->live);
        goto out_fail;
    }
    for (uint32_t i = 0; i < s->nslots; i++) {
        const sched__gor_t *g = &s->gors[i];
        if (g->state == SCHED__PARKED) {
            parked[n].id = g->id;
            parked[n].reason = g->park_reason;
            n++;
        }
    }
    msg_add(&m, "\n");
    if (n <= DEADLOCK_LIST_MAX) {
        qsort(parked, n, sizeof *parked, parked_by_id);
        for (size_t i = 0; i < n; i++)
            msg_add(&m, "\ngoroutine %" PRId64 " [%s]", parked[i].id, parked[i].reason);
        goto out_free_parked;
    }
    qsort(parked, n, sizeof *parked, parked_by_reason);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(parked[j].reason, parked[i].reason) == 0)
            j++;
        if (ngroups < DEADLOCK_GROUPS_MAX)
            groups[ngroups++] = (park_group_t){ parked[i].reason, i, j - i };
        else
            other += j - i;
        i = j;
    }
    qsort(groups, ngroups, sizeof *groups, group_by_size);
    for (size_t k = 0; k < ngroups; k++) {
        const park_group_t *gr = &groups[k];
        msg_add(&m, "\n%zu goroutine%s [%s]:", gr->count, gr->count == 1 ? "" : "s",
                gr->reason);
        for (size_t i = 0; i < gr->count && i < DEADLOCK_IDS_PER_GROUP; i++)
            msg_add(&m, "%s %" PRId64, i == 0 ? "" : ",", parked[gr->first + i].id);
        if (gr->count > DEADLOCK_IDS_PER_GROUP)
            msg_add(&m, ", ...");
    }
    if (other > 0)
        msg_add(&m, "\n%zu more goroutines with other reasons", other);

out_free_parked:
    free(parked);
out_fail:
    s->failing = true;
    s->fail_rc = SCHED_EDEADLOCK;
}

#ifndef NDEBUG
/* The picture's counting invariants over every descriptor: live counts
** the non-FREE ones, stats.stack_inuse_bytes sums their stack_bytes,
** stats.stacks_aside counts the set-aside ones, which are PARKED or
** RUNNABLE with stack_bytes 0. O(slots): asserted when a run ends. */
static bool descriptors_consistent(const sched_t *s)
{
    uint64_t live = 0, inuse = 0, aside = 0;

    for (uint32_t i = 0; i < s->nslots; i++) {
        const sched__gor_t *g = &s->gors[i];

        if (g->state == SCHED__FREE) {
            if (g->stack_bytes != 0 || g->aside != NULL)
                return false;
            continue;
        }
        live++;
        inuse += g->stack_bytes;
        if (g->aside != NULL) {
            if ((g->state != SCHED__PARKED && g->state != SCHED__RUNNABLE) ||
                g->stack_bytes != 0)
                return false;
            aside++;
        }
    }
    return live == s->live && inuse == s->stats.stack_inuse_bytes &&
           aside == s->stats.stacks_aside;
}
#endif

static const char *wait_reason(const sched__gor_t *g)
{
    switch (g->state) {
    case SCHED__PARKED:
        return g->park_reason;
    case SCHED__SLEEPING:
        return "sleep";
    default:
        return "runnable";
    }
}

/* The main goroutine `self` returned: count the goroutines still alive,
** grouped by what they wait on, into s->exit_report and the stats. */
static void exit_report(sched_t *s, const sched__gor_t *self)
{
    msgbuf_t m = { .buf = s->exit_report, .size = sizeof s->exit_report, .len = 0 };
    park_group_t groups[DEADLOCK_GROUPS_MAX];
    parked_t *alive;
    size_t n = 0, ngroups = 0, other = 0;

    s->exit_report[0] = '\0';
    sched__stat_set(&s->stats.alive_at_exit, s->live - 1);
    if (s->live <= 1)
        return;
    msg_add(&m, "goroutines alive at exit: %" PRIu64 ", blocked on:", s->live - 1);
    alive = malloc(s->live * sizeof *alive);
    if (alive == NULL)
        return;
    for (uint32_t i = 0; i < s->nslots; i++) {
        const sched__gor_t *g = &s->gors[i];
        if (g != self && g->state != SCHED__FREE && g->state != SCHED__DEAD) {
            alive[n].id = g->id;
            alive[n].reason = wait_reason(g);
            n++;
        }
    }
    qsort(alive, n, sizeof *alive, parked_by_reason);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(alive[j].reason, alive[i].reason) == 0)
            j++;
        if (ngroups < DEADLOCK_GROUPS_MAX)
            groups[ngroups++] = (park_group_t){ alive[i].reason, i, j - i };
        else
            other += j - i;
        i = j;
    }
    qsort(groups, ngroups, sizeof *groups, group_by_size);
    for (size_t k = 0; k < ngroups; k++)
        msg_add(&m, "%s %s %zu", k == 0 ? "" : ",", groups[k].reason, groups[k].count);
    if (other > 0)
        msg_add(&m, ", other %zu", other);
    free(alive);
}

int sched_foreach(const sched_t *s, int (*fn)(void *arg, const sched_ginfo_t *g), void *arg)
{
    for (uint32_t i = 0; i < s->nslots; i++) {
        const sched__gor_t *g = &s->gors[i];
        if (g->state == SCHED__FREE || g->state == SCHED__DEAD || g->ending)
            continue;
        sched_ginfo_t info = {
            .id = g->id,
            .local = g->local,
            .wait_reason = g == s->current ? "running" : wait_reason(g),
            .is_main = g->is_main,
            .parked = g->state == SCHED__PARKED,
            .blocked_cycles = g->state == SCHED__PARKED ? s->gc_count - g->park_gc : 0,
        };
        int rc = fn(arg, &info);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const char *sched_exit_report(const sched_t *s)
{
    return s->exit_report;
}

/* The task failed or deadlocked: end every goroutine. One that never ran
** is just freed; one that did is resumed at its switch point, where it
** sees `unwinding` and runs its gend hook and cleanups. Whatever those
** cleanups spawn, ready or sleep is ended the same way. */
static void unwind(sched_t *s)
{
    s->unwinding = true;
    while (s->live > 0) {
        for (uint32_t i = 0; i < s->nslots && s->live > 0; i++) {
            sched__gor_t *g = &s->gors[i];

            /* Nothing queued is ever run from here, and a goroutine freed
            ** below must not stay linked. */
            runq_clear(s);
            sched__timer_clear(s);
            if (g->state == SCHED__FREE)
                continue;
            if (!g->started)
                gor_free(s, g);
            else
                dispatch(s, g);
        }
    }
    runq_clear(s);
    sched__timer_clear(s);
    s->unwinding = false;
}

int sched_run(sched_t *s)
{
    int rc;

    if (s->running)
        return -EBUSY;   /* from inside one of its goroutines */
    s->failure[0] = '\0';
    s->exit_report[0] = '\0';
    s->fail_rc = 0;
    s->failing = false;
    s->main_returned = false;
    sched__stat_set(&s->stats.alive_at_exit, 0);
    rc = sched__signals_enter(s);
    if (rc != 0)
        return rc;
    s->errno_p = &errno;   /* this thread's; saves a libc call per switch */
    /* time.Sleep should wake when due: the default 50 us timer slack made
    ** sleeps ~70 us late and merged nearby wake-ups (the thread's own
    ** setting is put back when the run ends). */
    int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    s->running = true;
    sched__sysmon_start(s);
    for (;;) {
        sched__gor_t *g;

        if (s->failing) {
            unwind(s);
            break;
        }
        if (s->ntimers > 0)
            timers_fire(s);
        g = runq_pop(s);
        if (g != NULL) {
            dispatch(s, g);
            continue;
        }
        if (s->ntimers > 0) {
            idle(s);
            continue;
        }
        if (s->live == 0)
            break;
        deadlock(s);
    }
    sched__sysmon_stop(s);
    __atomic_store_n(&s->preempt_req, 0, __ATOMIC_RELAXED);
    assert(s->current == NULL && s->zombie == NULL && s->live == 0 && runq_empty(s) &&
           s->ntimers == 0);
    assert(descriptors_consistent(s));
    rc = s->fail_rc;
    s->failing = false;
    s->running = false;
    /* An interrupt that came too late for this task is not the next one's. */
    __atomic_store_n(&s->interrupt_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->hooks.safepoint_word, s->safepoint_word_set, __ATOMIC_SEQ_CST);
    if (old_slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)old_slack, 0, 0, 0);
    sched__signals_leave(s);
    return rc;
}

const char *sched_failure(const sched_t *s)
{
    return s->failure;
}

/* ---- Public: from inside a goroutine ------------------------------------------ */

void sched_gosched(sched_t *s)
{
    sched__gor_t *g = need_current(s, "sched_yield");

    safepoint(s, g);
    if (s->unwinding)
        return;
    g->state = SCHED__RUNNABLE;
    globq_push(s, g);   /* Go's goschedImpl */
    gor_switch_out(s, g);
    resumed(s, g);
}

void sched_set_preempt(sched_t *s, uint64_t slice_ns)
{
    s->preempt_ns = slice_ns;
}

void sched_preempt_request(sched_t *s)
{
    __atomic_store_n(&s->preempt_req, __atomic_load_n(&s->schedtick, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    void (*hook)(void *) = __atomic_load_n(&s->hooks.preempt, __ATOMIC_RELAXED);
    if (hook != NULL)
        hook(__atomic_load_n(&s->hooks.arg, __ATOMIC_RELAXED));
}

bool sched_preempt_point(sched_t *s)
{
    sched__gor_t *g = s->current;
    if (g == NULL || __atomic_load_n(&s->preempt_req, __ATOMIC_RELAXED) == 0)
        return false;
    /* Taken in one step: a request sysmon writes between a load and a
    ** store of 0 would be erased, and the goroutine run a slice more. */
    uint64_t req = __atomic_exchange_n(&s->preempt_req, 0, __ATOMIC_RELAXED);
    if (req == 0)
        return false;
    /* A request for an earlier slice is stale: its goroutine has switched
    ** out since (Go's execute clears gp.preempt). */
    if (req != s->schedtick + 1 || s->on_systemstack || g->in_safepoint || g->ending ||
        s->unwinding || s->failing)
        return false;
    safepoint(s, g);
    if (s->unwinding)
        return false;
    g->state = SCHED__RUNNABLE;
    globq_push(s, g);   /* Go's gopreempt_m -> goschedImpl */
    sched__stat_add(&s->stats.preemptions, 1);
    gor_switch_out(s, g);
    resumed(s, g);
    return true;
}

void sched_sleep_ns(sched_t *s, uint64_t ns)
{
    sched__gor_t *g = need_current(s, "sched_sleep_ns");
    uint64_t now_ns, when_ns;

    safepoint(s, g);
    if (ns == 0 || s->unwinding)
        return;
    now_ns = sched__now_ns();
    when_ns = now_ns + ns < now_ns ? UINT64_MAX : now_ns + ns;
    g->state = SCHED__SLEEPING;
    sched__timer_push(s, when_ns, g);
    gor_switch_out(s, g);
    resumed(s, g);
}

_Noreturn void sched_exit(sched_t *s)
{
    gor_finish(s, need_current(s, "sched_exit"));
}

_Noreturn void sched_fail(sched_t *s, const char *fmt, ...)
{
    sched__gor_t *g = s->current;
    va_list ap;

    if (g == NULL) {
        fprintf(stderr, "sched_fail outside a goroutine: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
    }
    va_start(ap, fmt);
    fail_task(s, SCHED_EFAILED, fmt, ap);
    va_end(ap);
    gor_finish(s, g);
}

_Noreturn void sched_interrupted(sched_t *s, const char *fmt, ...)
{
    sched__gor_t *g = need_current(s, "sched_interrupted");
    va_list ap;

    va_start(ap, fmt);
    fail_task(s, SCHED_EINTERRUPTED, fmt, ap);
    va_end(ap);
    gor_finish(s, g);
}

void sched_interrupt(sched_t *s)
{
    __atomic_store_n(&s->interrupt_pending, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->hooks.safepoint_word, &interrupt_word, __ATOMIC_SEQ_CST);
}

int64_t sched_self_id(const sched_t *s)
{
    return s->current != NULL ? s->current->id : 0;
}

int sched_defer(sched_t *s, void (*fn)(void *arg), void *arg)
{
    sched__gor_t *g = s->current;

    if (g == NULL || fn == NULL)
        return -EINVAL;
    if (g->ndefers == g->defer_cap) {
        uint32_t cap = g->defer_cap != 0 ? 2 * g->defer_cap : 8;
        sched__defer_t *defers = realloc(g->defers, cap * sizeof *defers);
        if (defers == NULL)
            return -ENOMEM;
        g->defers = defers;
        g->defer_cap = cap;
    }
    g->defers[g->ndefers++] = (sched__defer_t){ fn, arg };
    return 0;
}

void *sched_local(const sched_t *s)
{
    return s->current != NULL ? s->current->local : NULL;
}

void sched_set_local(sched_t *s, void *p)
{
    need_current(s, "sched_set_local")->local = p;
}

/* ---- Public: the system stack --------------------------------------------- */

/* systemstack_x86_64.S: run fn(arg) with rsp at stack_top. */
void sched__call_on_stack(void *stack_top, void (*fn)(void *arg), void *arg);

/* Below the scheduler's saved frame: past the x86-64 red zone, with room. */
#define SYSTEMSTACK_GAP 512

typedef struct systemstack_call {
    void (*fn)(void *arg);
    void *arg;
#if SCHED_ASAN
    void *fake_stack;              /* the goroutine's, while away */
    const void *g_bottom;          /* the goroutine's stack, to come back to */
    size_t g_size;
#endif
} systemstack_call_t;

static void systemstack_entry(void *p)
{
    systemstack_call_t *c = p;
#if SCHED_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->g_bottom, &c->g_size);
#endif
    c->fn(c->arg);
#if SCHED_ASAN
    __sanitizer_start_switch_fiber(NULL, c->g_bottom, c->g_size);
#endif
}

void sched_systemstack(sched_t *s, void (*fn)(void *arg), void *arg)
{
    if (s->current == NULL || s->on_systemstack || s->sched_ctx.sp == NULL) {
        fn(arg);
        return;
    }
    systemstack_call_t c = {.fn = fn, .arg = arg};
    s->on_systemstack = true;
#if SCHED_ASAN
    __sanitizer_start_switch_fiber(&c.fake_stack, s->asan_sched_bottom, s->asan_sched_size);
#endif
    sched__call_on_stack((char *)s->sched_ctx.sp - SYSTEMSTACK_GAP, systemstack_entry, &c);
#if SCHED_ASAN
    __sanitizer_finish_switch_fiber(c.fake_stack, NULL, NULL);
#endif
    s->on_systemstack = false;
}

uint64_t sched_idle_until_ns(const sched_t *s)
{
    return s->idle_until_ns;
}

void sched_set_hooks(sched_t *s, const sched_hooks_t *hooks)
{
    if (hooks != NULL)
        s->hooks = *hooks;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
    s->safepoint_word_set = s->hooks.safepoint_word;
    __atomic_store_n(&s->interrupt_pending, 0, __ATOMIC_SEQ_CST);
}

/* ---- Public: parking ------------------------------------------------------------ */

void sched_park_flags(sched_t *s, sched_waiter_t **w_out, const char *reason,
                      unsigned flags)
{
    sched__gor_t *g = need_current(s, "sched_park");

    safepoint(s, g);
    *w_out = (sched_waiter_t *)(void *)g;
    if (s->unwinding)
        return;
    g->park_reason = reason != NULL ? reason : "park";
    g->park_gc = s->gc_count;
    g->state = SCHED__PARKED;
    if (flags & SCHED_PARK_STACK_ASIDE) {
        g->park_aside = true;
        if (!g->aside_pending) {
            /* Everything on the array has switched out: flushing it here,
            ** on g's stack, never touches a stack in use. */
            if (s->naside_pending == SCHED__ASIDE_BATCH)
                sched__aside_flush(s);
            s->aside_pending[s->naside_pending++] = g;
            g->aside_pending = true;
        }
    }
    gor_switch_out(s, g);
    g->park_aside = false;
    resumed(s, g);
}

void sched_park(sched_t *s, sched_waiter_t **w_out, const char *reason)
{
    sched_park_flags(s, w_out, reason, 0);
}

/* w's goroutine, checked to be PARKED; NULL when it may be ignored (a
** failed task unwinding). */
static sched__gor_t *readiable(sched_t *s, sched_waiter_t *w, const char *what)
{
    sched__gor_t *g = (sched__gor_t *)(void *)w;

    if (g == NULL || g->state != SCHED__PARKED) {
        /* While a failed task unwinds, a cleanup may wake a waiter that
        ** has already been ended: nothing to do. */
        if (s->unwinding)
            return NULL;
        fprintf(stderr, "%s: goroutine %" PRId64 " is not parked\n", what,
                g != NULL ? g->id : (int64_t)0);
        abort();
    }
    g->state = SCHED__RUNNABLE;
    g->park_reason = NULL;
    return g;
}

void sched_ready(sched_t *s, sched_waiter_t *w)
{
    sched__gor_t *g = readiable(s, w, "sched_ready");

    if (g != NULL)
        runq_push(s, g);
}

void sched_ready_next(sched_t *s, sched_waiter_t *w)
{
    sched__gor_t *g = readiable(s, w, "sched_ready_next");

    if (g != NULL)
        runq_push_next(s, g);
}

bool sched_unwinding(const sched_t *s)
{
    return s->unwinding;
}

/* ---- Public: stats ------------------------------------------------------------- */

uint64_t sched_stack_scan_bytes(const sched_t *s)
{
    return __atomic_load_n(&s->stats.stack_scan_bytes, __ATOMIC_RELAXED);
}

uint64_t sched_stack_inuse_bytes(const sched_t *s)
{
    return __atomic_load_n(&s->stats.stack_inuse_bytes, __ATOMIC_RELAXED);
}

void sched_stats_read(const sched_t *s, sched_stats_t *st)
{
    st->goroutines = __atomic_load_n(&s->stats.goroutines, __ATOMIC_RELAXED);
    st->spawned = __atomic_load_n(&s->stats.spawned, __ATOMIC_RELAXED);
    st->switches = __atomic_load_n(&s->stats.switches, __ATOMIC_RELAXED);
    st->stack_inuse_bytes = __atomic_load_n(&s->stats.stack_inuse_bytes, __ATOMIC_RELAXED);
    st->stack_committed_bytes = __atomic_load_n(&s->stats.stack_committed_bytes, __ATOMIC_RELAXED);
    st->stack_start_bytes = __atomic_load_n(&s->stats.stack_start_bytes, __ATOMIC_RELAXED);
    st->stack_growths = __atomic_load_n(&s->stats.stack_growths, __ATOMIC_RELAXED);
    st->stack_shrinks = __atomic_load_n(&s->stats.stack_shrinks, __ATOMIC_RELAXED);
    st->stack_copied_bytes = __atomic_load_n(&s->stats.stack_copied_bytes, __ATOMIC_RELAXED);
    st->stack_copy_ns = __atomic_load_n(&s->stats.stack_copy_ns, __ATOMIC_RELAXED);
    st->alive_at_exit = __atomic_load_n(&s->stats.alive_at_exit, __ATOMIC_RELAXED);
    st->stack_scan_bytes = __atomic_load_n(&s->stats.stack_scan_bytes, __ATOMIC_RELAXED);
    st->stack_reserved_bytes = __atomic_load_n(&s->stats.stack_reserved_bytes, __ATOMIC_RELAXED);
    st->stack_hwm_bytes = __atomic_load_n(&s->stats.stack_hwm_bytes, __ATOMIC_RELAXED);
    st->stacks_aside = __atomic_load_n(&s->stats.stacks_aside, __ATOMIC_RELAXED);
    st->stack_aside_bytes = __atomic_load_n(&s->stats.stack_aside_bytes, __ATOMIC_RELAXED);
    st->preemptions = __atomic_load_n(&s->stats.preemptions, __ATOMIC_RELAXED);
}
