/*
** shm_heap/heap_pacer.c -- the GC pacer and CPU limiter (heap_pacer.h has
** the picture and the contracts). Written from Go 1.19's design; the
** arithmetic follows Go's where the result would otherwise differ
** (integer rounding of the trigger bounds, the order of clamps).
*/
#include "heap_pacer.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>

/* The segment holds the struct at an 8-aligned offset; every 64-bit field
** read with atomics must then be 8-aligned too. */
_Static_assert(offsetof(heap__pacer_t, memory_limit_bytes) % 8 == 0, "aligned");
_Static_assert(offsetof(heap__pacer_t, cons_mark) % 8 == 0, "aligned");
_Static_assert(offsetof(heap__pacer_t, triggered_bytes) % 8 == 0, "aligned");
_Static_assert(offsetof(heap__pacer_t, limiter) % 8 == 0, "aligned");
_Static_assert(offsetof(heap__limiter_t, fill_ns) % 8 == 0, "aligned");
_Static_assert(sizeof(heap__pacer_t) % 8 == 0, "whole words");

/* Go 1.19's cons/mark PI controller (mgcpacer.go, init). */
#define PI_KP 0.9
#define PI_TI 4.0
#define PI_TT 1000.0
#define PI_MIN (-1000.0)
#define PI_MAX 1000.0

#define LD(f) heap__pacer_ld(&(f))
#define ST(f, v) heap__pacer_st(&(f), (v))

static int32_t ld_gogc(const heap__pacer_t *p)
{
    return __atomic_load_n(&p->gogc, __ATOMIC_RELAXED);
}

/* ---- settings -------------------------------------------------------- */

void heap__pacer_init(heap__pacer_t *p, int32_t gogc, uint64_t memory_limit_bytes,
                      int64_t now_ns, int32_t nprocs)
{
    assert(nprocs >= 1);
    memset(p, 0, sizeof *p);
    ST(p->triggered_bytes, HEAP__PACER_NONE);
    ST(p->memory_limit_bytes, HEAP__PACER_NONE);
    heap__pacer_set_gogc(p, gogc);
    heap__pacer_set_memory_limit(p, memory_limit_bytes);
    heap__pacer_commit(p, 0, true);
    p->limiter.nprocs = nprocs;
    p->limiter.capacity_ns = (uint64_t)nprocs * HEAP__LIMITER_CAPACITY_PER_PROC_NS;
    __atomic_store_n(&p->limiter.last_update_ns, now_ns, __ATOMIC_RELAXED);
}

int32_t heap__pacer_set_gogc(heap__pacer_t *p, int32_t gogc)
{
    int32_t old = ld_gogc(p);
    if (gogc < 0)
        gogc = -1;
    /* Go: defaultHeapMinimum * uint64(in) / 100, with in = -1 wrapping;
    ** the minimum is never used with GOGC off (no GOGC goal), so 0. */
    p->heap_minimum_bytes = gogc < 0 ? 0 : HEAP__PACER_HEAP_MINIMUM * (uint64_t)gogc / 100;
    __atomic_store_n(&p->gogc, gogc, __ATOMIC_RELAXED);
    return old;
}

uint64_t heap__pacer_set_memory_limit(heap__pacer_t *p, uint64_t memory_limit_bytes)
{
    uint64_t old = LD(p->memory_limit_bytes);
    ST(p->memory_limit_bytes, memory_limit_bytes);
    return old;
}

void heap__pacer_set_globals(heap__pacer_t *p, uint64_t globals_scan_bytes)
{
    ST(p->globals_scan_bytes, globals_scan_bytes);
}

void heap__pacer_commit(heap__pacer_t *p, uint64_t heap_live, bool sweep_done)
{
    ST(p->sweep_dist_min_trigger, sweep_done ? 0 : heap_live + HEAP__PACER_SWEEP_MIN_DISTANCE);

    uint64_t marked = LD(p->heap_marked_bytes);
    uint64_t stack = LD(p->last_stack_scan_bytes);
    uint64_t globals = LD(p->globals_scan_bytes);
    int32_t gogc = ld_gogc(p);
    uint64_t goal = HEAP__PACER_NONE;
    if (gogc >= 0)
        goal = marked + (marked + stack + globals) * (uint64_t)gogc / 100;
    if (goal < p->heap_minimum_bytes)
        goal = p->heap_minimum_bytes;
    ST(p->gogc_goal_bytes, goal);

    /* The bytes the mutator allocates while the GC, at its goal share of
    ** the CPU, does the expected scan work: cons/mark is per CPU-ns on
    ** each side, so weigh it by the split of the CPU. */
    double expected = (double)(LD(p->last_heap_scan_bytes) + stack + globals);
    double runway = p->cons_mark * (1.0 - HEAP__PACER_BG_UTILIZATION) /
                    HEAP__PACER_BG_UTILIZATION * expected;
    /* Go converts a negative float to uint64 (implementation-defined);
    ** on amd64 a small negative one wraps huge, i.e. trigger at the
    ** lower bound. Say so explicitly, and cap what C cannot convert. */
    uint64_t runway_bytes;
    if (!(runway >= 0.0) || runway >= 18446744073709551615.0)
        runway_bytes = HEAP__PACER_NONE;
    else
        runway_bytes = (uint64_t)runway;
    ST(p->runway_bytes, runway_bytes);
}

/* ---- goal and trigger ------------------------------------------------ */

uint64_t heap__pacer_limit_goal(const heap__pacer_t *p, uint64_t mapped_ready,
                                uint64_t heap_free, uint64_t heap_alloc)
{
    uint64_t limit = LD(p->memory_limit_bytes);
    if (limit == HEAP__PACER_NONE)
        return HEAP__PACER_NONE;
    uint64_t marked = LD(p->heap_marked_bytes);
    uint64_t non_heap = 0;
    if (heap_free <= mapped_ready && heap_alloc <= mapped_ready - heap_free)
        non_heap = mapped_ready - heap_free - heap_alloc;
    uint64_t overage = mapped_ready > limit ? mapped_ready - limit : 0;
    if (non_heap >= limit || overage >= limit - non_heap)
        return marked;
    uint64_t goal = limit - (non_heap + overage);
    if (goal < 2 * HEAP__PACER_LIMIT_HEADROOM)
        goal = HEAP__PACER_LIMIT_HEADROOM;
    else
        goal -= HEAP__PACER_LIMIT_HEADROOM;
    if (goal < marked)
        goal = marked;
    return goal;
}

uint64_t heap__pacer_gogc_goal(const heap__pacer_t *p)
{
    return LD(p->gogc_goal_bytes);
}

/* Go's heapGoalInternal: the goal, and the lowest trigger the sweeper
** needs (always <= the goal). */
static uint64_t goal_internal(const heap__pacer_t *p, uint64_t limit_goal, uint64_t *min_trigger)
{
    uint64_t goal = LD(p->gogc_goal_bytes);
    *min_trigger = 0;
    if (limit_goal < goal)
        return limit_goal;
    /* Not limited by the memory limit: the goal may move forward. */
    uint64_t sweep = LD(p->sweep_dist_min_trigger);
    if (sweep > goal)
        goal = sweep;
    *min_trigger = sweep;
    uint64_t triggered = LD(p->triggered_bytes);
    if (triggered != HEAP__PACER_NONE && goal != HEAP__PACER_NONE &&
        goal < triggered + HEAP__PACER_MIN_RUNWAY)
        goal = triggered + HEAP__PACER_MIN_RUNWAY;
    return goal;
}

uint64_t heap__pacer_goal(const heap__pacer_t *p, uint64_t limit_goal)
{
    uint64_t min_trigger;
    return goal_internal(p, limit_goal, &min_trigger);
}

/* The point `num`/64 of the way from marked to goal, rounded as Go does
** (the distance divided first). */
static uint64_t trigger_at(uint64_t marked, uint64_t goal, uint64_t num)
{
    return (goal - marked) / HEAP__PACER_TRIGGER_DEN * num + marked;
}

uint64_t heap__pacer_trigger(const heap__pacer_t *p, uint64_t limit_goal, uint64_t *goal_out)
{
    uint64_t min_trigger;
    uint64_t goal = goal_internal(p, limit_goal, &min_trigger);
    if (goal_out != NULL)
        *goal_out = goal;
    if (goal == HEAP__PACER_NONE)
        return HEAP__PACER_NONE;

    uint64_t marked = LD(p->heap_marked_bytes);
    if (marked >= goal)
        return goal;   /* collect continuously at the goal */

    if (min_trigger < marked)
        min_trigger = marked;
    /* Not lower than 0.7 of the way: a trigger near `marked` would keep
    ** the GC on nearly always, allocating black, and grow the heap. */
    uint64_t lower = trigger_at(marked, goal, HEAP__PACER_MIN_TRIGGER_NUM);
    if (min_trigger < lower)
        min_trigger = lower;
    /* Not higher than 0.95 of the way, or for big heaps goal - 4 MiB,
    ** what a cycle with no work to do needs. */
    uint64_t max_trigger = trigger_at(marked, goal, HEAP__PACER_MAX_TRIGGER_NUM);
    if (goal > HEAP__PACER_HEAP_MINIMUM && goal - HEAP__PACER_HEAP_MINIMUM > max_trigger)
        max_trigger = goal - HEAP__PACER_HEAP_MINIMUM;
    if (max_trigger < min_trigger)
        max_trigger = min_trigger;

    uint64_t runway = LD(p->runway_bytes);
    uint64_t trigger = runway > goal ? min_trigger : goal - runway;
    if (trigger < min_trigger)
        trigger = min_trigger;
    if (trigger > max_trigger)
        trigger = max_trigger;
    assert(trigger <= goal);
    return trigger;
}

/* ---- the cycle ------------------------------------------------------- */

void heap__pacer_start_cycle(heap__pacer_t *p, int64_t now_ns, int32_t procs,
                             uint64_t limit_goal, uint64_t heap_live, uint64_t heap_scan,
                             uint64_t max_stack_scan, bool periodic)
{
    assert(procs >= 1);
    __atomic_store_n(&p->bg_scan_credit, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->mark_start_ns, now_ns, __ATOMIC_RELAXED);
    ST(p->triggered_bytes, heap__pacer_trigger(p, limit_goal, NULL));

    /* Dedicated workers as near 25 % of the procs as rounding gets;
    ** when that is more than 30 % off (procs <= 3, or 6), one fewer
    ** if it overshot, and fractional workers make up the rest. */
    double total = (double)procs * HEAP__PACER_BG_UTILIZATION;
    int64_t dedicated = (int64_t)(total + 0.5);
    double error = (double)dedicated / total - 1.0;
    double fractional = 0.0;
    if (error < -0.3 || error > 0.3) {
        if ((double)dedicated > total)
            dedicated--;
        fractional = (total - (double)dedicated) / (double)procs;
    }
    __atomic_store_n(&p->dedicated_needed, dedicated, __ATOMIC_RELAXED);
    heap__pacer_st_double(&p->fractional_goal_bits, fractional);

    if (periodic)
        heap__pacer_idle_set_max(p, dedicated > 0 ? 0 : 1);
    else
        heap__pacer_idle_set_max(p, procs - (int32_t)dedicated);

    heap__pacer_revise(p, heap_live, heap_scan, max_stack_scan, 0, limit_goal);
}

int64_t heap__pacer_dedicated_needed(const heap__pacer_t *p)
{
    return __atomic_load_n(&p->dedicated_needed, __ATOMIC_RELAXED);
}

void heap__pacer_revise(heap__pacer_t *p, uint64_t heap_live, uint64_t heap_scan,
                        uint64_t max_stack_scan, int64_t scan_work, uint64_t limit_goal)
{
    int32_t gogc = ld_gogc(p);
    if (gogc < 0)
        gogc = HEAP__PACER_GOGC_OFF_REVISE;   /* a forced cycle with GOGC off */
    uint64_t globals = LD(p->globals_scan_bytes);
    uint64_t triggered = LD(p->triggered_bytes);

    uint64_t goal_u = heap__pacer_goal(p, limit_goal);
    int64_t goal = goal_u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)goal_u;

    int64_t expected = (int64_t)(LD(p->last_heap_scan_bytes) + LD(p->last_stack_scan_bytes) + globals);
    int64_t worst = (int64_t)(heap_scan + max_stack_scan + globals);
    if (scan_work > expected && triggered != HEAP__PACER_NONE && expected > 0) {
        /* More work than expected: the heap is growing. Stretch the
        ** runway in proportion to the worst case, so that assists stay
        ** flat; never past (1 + GOGC/100) times the goal. */
        double ext = (double)(goal - (int64_t)triggered) / (double)expected * (double)worst +
                     (double)triggered;
        double hard = (1.0 + (double)gogc / 100.0) * (double)goal;
        if (ext > hard)
            ext = hard;
        goal = ext >= 9.2e18 ? INT64_MAX : (int64_t)ext;
        expected = worst;
    }
    if ((int64_t)heap_live > goal) {
        /* Past even that: aim at 10 % over, with all the worst-case work. */
        double over = (double)goal * 1.1;
        goal = over >= 9.2e18 ? INT64_MAX : (int64_t)over;
        expected = worst;
    }

    int64_t work_left = expected - scan_work;
    if (work_left < 1000)
        work_left = 1000;
    int64_t heap_left = goal - (int64_t)heap_live;
    if (heap_left <= 0)
        heap_left = 1;

    heap__pacer_st_double(&p->assist_work_per_byte_bits, (double)work_left / (double)heap_left);
    heap__pacer_st_double(&p->assist_bytes_per_work_bits, (double)heap_left / (double)work_left);
}

/* One step of Go 1.19's PI controller toward `setpoint` from `input`;
** false (and the output at its minimum, the integral reset) when the
** figures overflowed. */
static bool pi_next(heap__pacer_t *p, double input, double setpoint, double *out)
{
    double raw = PI_KP * (setpoint - input) + p->pi_err_integral;
    if (isinf(raw) || isnan(raw)) {
        p->pi_err_integral = 0;
        *out = PI_MIN;
        return false;
    }
    double output = raw < PI_MIN ? PI_MIN : raw > PI_MAX ? PI_MAX : raw;
    p->pi_err_integral += (PI_KP / PI_TI) * (setpoint - input) + (output - raw) / PI_TT;
    if (isinf(p->pi_err_integral) || isnan(p->pi_err_integral)) {
        p->pi_err_integral = 0;
        *out = PI_MIN;
        return false;
    }
    *out = output;
    return true;
}

double heap__pacer_end_cycle(heap__pacer_t *p, int64_t now_ns, int32_t procs,
                             uint64_t heap_live, int64_t assist_ns, int64_t idle_ns,
                             int64_t scan_work, uint64_t limit_goal)
{
    assert(procs >= 1);
    p->last_heap_goal_bytes = heap__pacer_goal(p, limit_goal);

    int64_t duration = now_ns - __atomic_load_n(&p->mark_start_ns, __ATOMIC_RELAXED);
    double utilization = HEAP__PACER_BG_UTILIZATION;
    double idle = 0.0;
    if (duration > 0) {
        utilization += (double)assist_ns / ((double)duration * procs);
        idle = (double)idle_ns / ((double)duration * procs);
    }
    p->last_utilization = utilization;

    uint64_t triggered = LD(p->triggered_bytes);
    if (heap_live <= triggered || scan_work <= 0)
        return p->cons_mark;   /* nothing to learn from this cycle */

    /* Bytes allocated per mutator CPU-ns over bytes scanned per GC CPU-ns
    ** (the wall time and procs cancel). Idle marking counts as GC time on
    ** the scan side only: the mutator could have had it. */
    /* Assists on every CPU (utilization 1) make this infinite, and the
    ** controller resets, as Go's does. */
    double now_cons_mark = (double)(heap_live - triggered) * (utilization + idle) /
                           ((double)scan_work * (1.0 - utilization));
    double next;
    if (!pi_next(p, p->cons_mark, now_cons_mark, &next)) {
        p->pi_resets++;
        next = 0.0;
    }
    p->cons_mark = next;
    return next;
}

void heap__pacer_reset_live(heap__pacer_t *p, uint64_t marked, uint64_t heap_scan_work,
                            uint64_t stack_scan_work, uint64_t globals_scan_bytes)
{
    ST(p->heap_marked_bytes, marked);
    ST(p->last_heap_scan_bytes, heap_scan_work);
    ST(p->last_stack_scan_bytes, stack_scan_work);
    ST(p->globals_scan_bytes, globals_scan_bytes);
    ST(p->triggered_bytes, HEAP__PACER_NONE);
}

/* ---- mark workers ---------------------------------------------------- */

bool heap__pacer_claim_dedicated(heap__pacer_t *p)
{
    int64_t v = __atomic_load_n(&p->dedicated_needed, __ATOMIC_RELAXED);
    while (v > 0) {
        if (__atomic_compare_exchange_n(&p->dedicated_needed, &v, v - 1, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

void heap__pacer_release_dedicated(heap__pacer_t *p)
{
    __atomic_fetch_add(&p->dedicated_needed, 1, __ATOMIC_ACQ_REL);
}

bool heap__pacer_fractional_start(const heap__pacer_t *p, int64_t now_ns, int64_t self_ns)
{
    double goal = heap__pacer_fractional_goal(p);
    if (goal == 0.0)
        return false;
    int64_t delta = now_ns - __atomic_load_n(&p->mark_start_ns, __ATOMIC_RELAXED);
    return !(delta > 0 && (double)self_ns / (double)delta > goal);
}

bool heap__pacer_fractional_stop(const heap__pacer_t *p, int64_t now_ns, int64_t self_ns)
{
    int64_t delta = now_ns - __atomic_load_n(&p->mark_start_ns, __ATOMIC_RELAXED);
    if (delta <= 0)
        return true;
    return (double)self_ns / (double)delta > 1.2 * heap__pacer_fractional_goal(p);
}

/* idle_workers packs (max << 32) | running, both int32. */
static int32_t idle_running(uint64_t w) { return (int32_t)(uint32_t)w; }
static int32_t idle_max(uint64_t w) { return (int32_t)(uint32_t)(w >> 32); }
static uint64_t idle_pack(int32_t running, int32_t max)
{
    return (uint64_t)(uint32_t)running | ((uint64_t)(uint32_t)max << 32);
}

bool heap__pacer_idle_add(heap__pacer_t *p)
{
    uint64_t old = __atomic_load_n(&p->idle_workers, __ATOMIC_RELAXED);
    for (;;) {
        int32_t n = idle_running(old), max = idle_max(old);
        if (n >= max)
            return false;   /* n > max is possible just after set_max */
        assert(n >= 0);
        if (__atomic_compare_exchange_n(&p->idle_workers, &old, idle_pack(n + 1, max), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
    }
}

bool heap__pacer_idle_need(const heap__pacer_t *p)
{
    uint64_t w = __atomic_load_n(&p->idle_workers, __ATOMIC_RELAXED);
    return idle_running(w) < idle_max(w);
}

void heap__pacer_idle_remove(heap__pacer_t *p)
{
    uint64_t old = __atomic_load_n(&p->idle_workers, __ATOMIC_RELAXED);
    for (;;) {
        int32_t n = idle_running(old), max = idle_max(old);
        assert(n >= 1);
        if (__atomic_compare_exchange_n(&p->idle_workers, &old, idle_pack(n - 1, max), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
}

void heap__pacer_idle_set_max(heap__pacer_t *p, int32_t max)
{
    uint64_t old = __atomic_load_n(&p->idle_workers, __ATOMIC_RELAXED);
    for (;;) {
        int32_t n = idle_running(old);
        assert(n >= 0);
        if (__atomic_compare_exchange_n(&p->idle_workers, &old, idle_pack(n, max), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return;
    }
}

void heap__pacer_credit_add(heap__pacer_t *p, int64_t work)
{
    __atomic_fetch_add(&p->bg_scan_credit, work, __ATOMIC_RELAXED);
}

int64_t heap__pacer_credit_take(heap__pacer_t *p, int64_t want)
{
    if (want <= 0)
        return 0;
    int64_t have = __atomic_load_n(&p->bg_scan_credit, __ATOMIC_RELAXED);
    for (;;) {
        if (have <= 0)
            return 0;
        int64_t got = have < want ? have : want;
        if (__atomic_compare_exchange_n(&p->bg_scan_credit, &have, have - got, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return got;
    }
}

/* ---- the GC CPU limiter ---------------------------------------------- */

void heap__limiter_add_assist(heap__limiter_t *l, int64_t ns)
{
    __atomic_fetch_add(&l->assist_pool_ns, ns, __ATOMIC_RELAXED);
}

void heap__limiter_add_idle(heap__limiter_t *l, int64_t ns)
{
    __atomic_fetch_add(&l->idle_pool_ns, ns, __ATOMIC_RELAXED);
}

bool heap__limiter_need_update(const heap__limiter_t *l, int64_t now_ns)
{
    return now_ns - __atomic_load_n(&l->last_update_ns, __ATOMIC_RELAXED) >
           HEAP__LIMITER_UPDATE_PERIOD_NS;
}

static void set_enabled(heap__limiter_t *l, bool on)
{
    __atomic_store_n(&l->enabled, on ? 1u : 0u, __ATOMIC_RELAXED);
}

/* Add mutator and GC time to the bucket (Go's accumulate). */
static void accumulate(heap__limiter_t *l, int64_t mutator_ns, int64_t gc_ns)
{
    assert(l->fill_ns <= l->capacity_ns);
    uint64_t headroom = l->capacity_ns - l->fill_ns;
    bool was_enabled = headroom == 0;
    int64_t change = gc_ns - mutator_ns;
    if (change > 0 && headroom <= (uint64_t)change) {
        l->overflow_ns += (uint64_t)change - headroom;
        l->fill_ns = l->capacity_ns;
        if (!was_enabled)
            set_enabled(l, true);
        return;
    }
    uint64_t drain = (uint64_t)0 - (uint64_t)change;   /* -change, mod 2^64 */
    if (change < 0 && l->fill_ns <= drain)
        l->fill_ns = 0;
    else
        l->fill_ns -= drain;   /* for change >= 0 this wraps to fill + change */
    if (change != 0 && was_enabled)
        set_enabled(l, false);
}

static void update_locked(heap__limiter_t *l, int64_t now_ns)
{
    int64_t last = __atomic_load_n(&l->last_update_ns, __ATOMIC_RELAXED);
    if (now_ns < last)
        return;
    int64_t total = (now_ns - last) * l->nprocs;
    __atomic_store_n(&l->last_update_ns, now_ns, __ATOMIC_RELAXED);
    int64_t assist = __atomic_exchange_n(&l->assist_pool_ns, 0, __ATOMIC_RELAXED);
    int64_t idle = __atomic_exchange_n(&l->idle_pool_ns, 0, __ATOMIC_RELAXED);
    int64_t gc = assist;
    if (l->gc_enabled)
        gc += (int64_t)((double)total * HEAP__PACER_BG_UTILIZATION);
    /* Idle time is nobody's: out of the total after the background share
    ** (which is of the real total) is taken. */
    total -= idle;
    accumulate(l, total - gc, gc);
}

bool heap__limiter_update(heap__limiter_t *l, int64_t now_ns)
{
    assert(!l->transitioning);
    update_locked(l, now_ns);
    return heap__limiter_limiting(l);
}

void heap__limiter_start_transition(heap__limiter_t *l, bool enable_gc, int64_t now_ns)
{
    assert(!l->transitioning);
    assert((l->gc_enabled != 0) != enable_gc);
    update_locked(l, now_ns);
    l->gc_enabled = enable_gc;
    l->transitioning = 1;
}

void heap__limiter_finish_transition(heap__limiter_t *l, int64_t now_ns)
{
    assert(l->transitioning);
    int64_t last = __atomic_load_n(&l->last_update_ns, __ATOMIC_RELAXED);
    if (now_ns >= last)
        accumulate(l, 0, (now_ns - last) * l->nprocs);
    __atomic_store_n(&l->last_update_ns, now_ns, __ATOMIC_RELAXED);
    l->transitioning = 0;
}

void heap__limiter_reset_capacity(heap__limiter_t *l, int64_t now_ns, int32_t nprocs)
{
    assert(nprocs >= 1);
    assert(!l->transitioning);
    update_locked(l, now_ns);
    l->nprocs = nprocs;
    l->capacity_ns = (uint64_t)nprocs * HEAP__LIMITER_CAPACITY_PER_PROC_NS;
    if (l->fill_ns > l->capacity_ns) {
        l->fill_ns = l->capacity_ns;
        set_enabled(l, true);
    } else if (l->fill_ns < l->capacity_ns) {
        set_enabled(l, false);
    }
}
