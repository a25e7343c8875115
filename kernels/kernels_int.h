/*
** kernels/kernels_int.h -- small helpers shared by the kernels' files:
** a seeded random stream, exponential and fixed "work" durations, and the
** two ways a goroutine can spend that work on heapsim's one scheduler
** thread.
**
** Work, sleep or spin. A goroutine that sleeps (sched_sleep_ns) is waiting
** for something outside the process -- a disk, a network peer, another CPU
** doing the computation -- and the scheduler runs the others meanwhile, or
** idles when nobody is runnable (the process then counts as outside the
** heap). A goroutine that spins keeps the only scheduler thread busy:
** nothing else runs until it finishes, as under GOMAXPROCS=1. Sleeps end
** no earlier than asked and typically some 50-100 us later (the kernel's
** timer slack), so short sleeps are longer than they say: kernels measure
** what happened rather than trusting the nominal figure.
*/
#ifndef HEAPSIM_KERNELS_KERNELS_INT_H
#define HEAPSIM_KERNELS_KERNELS_INT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/splitmix64.h"
#include "runtime/rt.h"

/* Uniform in [0, 1). */
static inline double kern__rand_unit(uint64_t *state)
{
    return (double)(splitmix64_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* A duration of mean `mean_ns`: exactly that when !exponential, else drawn
** from the exponential distribution (memoryless arrivals and service
** times, as queueing theory models them). */
static inline uint64_t kern__duration_ns(uint64_t *state, uint64_t mean_ns, bool exponential)
{
    if (!exponential || mean_ns == 0)
        return mean_ns;
    return (uint64_t)(-(double)mean_ns * log(1.0 - kern__rand_unit(state)));
}

/* Spend ns of work: sleeping (the others run) or spinning (nothing else
** runs; a safepoint every few microseconds so collections elsewhere are
** not held off). */
static inline void kern__work(rt_t *rt, uint64_t ns, bool spin)
{
    if (ns == 0)
        return;
    if (!spin) {
        sched_sleep_ns(rt_sched(rt), ns);
        return;
    }
    uint64_t end = rt_now_ns() + ns;
    while (rt_now_ns() < end)
        rt_safepoint(rt);
}

#endif
