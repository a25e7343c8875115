/*
** bench/boehm/pauses.h -- time each Boehm GC collection, for the bench
** scripts' pause figures. Header-only: each anchor program is one file.
**
** libgc (8.2, Debian's build) collects stop-the-world unless incremental
** mode is enabled, which the anchors never do, so a collection from
** GC_EVENT_START to GC_EVENT_END is one pause (the mutator is not running);
** lazy sweeping (reclaim) happens later, during allocation, as in Go.
**
** pauses_install() after GC_INIT(); pauses_report() at the end prints to
** stderr "boehm: N collections" and one "boehm pause NS" line per
** collection (at most PAUSES_MAX kept; the count is libgc's own).
*/
#ifndef HEAPSIM_BENCH_BOEHM_PAUSES_H
#define HEAPSIM_BENCH_BOEHM_PAUSES_H

#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAUSES_MAX (1u << 16)

/* malloc'd, not static: a static array would be data-segment roots, which
** libgc scans and counts in its pacing (more roots, fewer collections). */
static uint64_t *pauses_ns;
static uint64_t pauses_count;
static uint64_t pauses_start_ns;

static uint64_t pauses_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Called by libgc with its allocation lock held: no allocation, no I/O. */
static void GC_CALLBACK pauses_on_event(GC_EventType event)
{
    if (event == GC_EVENT_START) {
        pauses_start_ns = pauses_now_ns();
    } else if (event == GC_EVENT_END) {
        if (pauses_ns && pauses_count < PAUSES_MAX)
            pauses_ns[pauses_count] = pauses_now_ns() - pauses_start_ns;
        pauses_count++;
    }
}

static void pauses_install(void)
{
    pauses_ns = malloc(PAUSES_MAX * sizeof *pauses_ns);
    GC_set_on_collection_event(pauses_on_event);
}

static void pauses_report(void)
{
    uint64_t kept = !pauses_ns ? 0 : pauses_count < PAUSES_MAX ? pauses_count : PAUSES_MAX;

    fprintf(stderr, "boehm: %lu collections\n", (unsigned long)GC_get_gc_no());
    for (uint64_t i = 0; i < kept; i++)
        fprintf(stderr, "boehm pause %llu\n", (unsigned long long)pauses_ns[i]);
}

#endif
