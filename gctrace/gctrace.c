/*
** gctrace/gctrace.c -- Go's gctrace line from a cycle's figures.
*/
#include "gctrace/gctrace.h"

#include <inttypes.h>
#include <stdio.h>

static uint64_t nonneg(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

/* Go's itoaDiv: v / 10^dec with dec decimals. */
static char *itoa_div(uint64_t v, int dec, char *buf, size_t size)
{
    uint64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    if (dec == 0)
        snprintf(buf, size, "%" PRIu64, v);
    else
        snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, v / p, dec, v % p);
    return buf;
}

char *gctrace_format_ms(int64_t ns_signed, char *buf, size_t size)
{
    uint64_t ns = nonneg(ns_signed);
    if (ns >= 10000000)
        return itoa_div(ns / 1000000, 0, buf, size);
    uint64_t x = ns / 1000;
    if (x == 0)
        return itoa_div(0, 0, buf, size);
    int dec = 3;
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    return itoa_div(x, dec, buf, size);
}

int gctrace_format(const gc_fields_t *f, char *buf, size_t size)
{
    char at[24], c0[24], c1[24], c2[24], u0[24], u1[24], u2[24], u3[24], u4[24];
    uint64_t procs = nonneg(f->nprocs);
    uint64_t stop = nonneg(f->stop_ns), mark = nonneg(f->mark_ns);
    uint64_t stw = nonneg(f->stw_ns);
    uint64_t term = stw > stop + mark ? stw - stop - mark : 0;
    uint64_t heap0 = nonneg(f->heap_start_bytes), heap1 = heap0;
    uint64_t assist = 0, bg = nonneg(f->mark_cpu_ns), idle = 0;
    if (f->concurrent) {
        /* Go's phases one to one: the two stops around the concurrent
        ** mark, its CPU split, heapLive at the start and at mark end. */
        stop = nonneg(f->sweep_term_ns);
        term = nonneg(f->mark_term_ns);
        heap0 = nonneg(f->heap_live_start_bytes);
        heap1 = nonneg(f->heap_live_end_bytes);
        assist = nonneg(f->mark_assist_cpu_ns);
        bg = nonneg(f->mark_bg_cpu_ns);
        idle = nonneg(f->mark_idle_cpu_ns);
    }
    double frac = f->gc_cpu_fraction == f->gc_cpu_fraction ? f->gc_cpu_fraction : 0.0;
    int util = frac > 0 ? (int)(frac * 100) : 0;

    return snprintf(buf, size,
                    "gc %" PRIu64 " @%ss %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, "
                    "%" PRIu64 "->%" PRIu64 "->%" PRIu64 " MB, %" PRIu64 " MB goal, "
                    "%" PRIu64 " MB stacks, %" PRIu64 " MB globals, %" PRIu64 " P%s",
                    nonneg(f->cycle),
                    itoa_div(nonneg(f->since_start_ns) / 1000000, 3, at, sizeof at), util,
                    gctrace_format_ms((int64_t)stop, c0, sizeof c0),
                    gctrace_format_ms((int64_t)mark, c1, sizeof c1),
                    gctrace_format_ms((int64_t)term, c2, sizeof c2),
                    gctrace_format_ms((int64_t)(stop * procs), u0, sizeof u0),
                    gctrace_format_ms((int64_t)assist, u1, sizeof u1),
                    gctrace_format_ms((int64_t)bg, u2, sizeof u2),
                    gctrace_format_ms((int64_t)idle, u3, sizeof u3),
                    gctrace_format_ms((int64_t)(term * procs), u4, sizeof u4),
                    heap0 >> 20, heap1 >> 20,
                    nonneg(f->heap_live_bytes) >> 20, nonneg(f->heap_goal_bytes) >> 20,
                    nonneg(f->max_stack_bytes) >> 20, nonneg(f->globals_bytes) >> 20, procs,
                    f->forced ? " (forced)" : "");
}
