/*
** base/clock.h -- the two clocks heapsim reports in, as integer ns.
**
** Monotonic for durations (never jumps), real time for when something
** happened (stored as *_unix_ns). Header-only: one vDSO call each.
*/
#ifndef HEAPSIM_BASE_CLOCK_H
#define HEAPSIM_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int64_t clock_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
