/*
** gctrace/gctrace.h -- one GC cycle as the line Go 1.19 prints with
** GODEBUG=gctrace=1.
**
**   gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB, # MB goal,
**   # MB stacks, # MB globals, # P
**
** with " (forced)" at the end when runtime.GC() asked for the cycle. The
** fields mean what /usr/lib/go-1.19/src/runtime/extern.go says, and are
** written as runtime/mgc.go writes them (times through fmtNSAsMS, sizes
** truncated to whole MiB, the percentage truncated), from the figures of
** base/gc_fields.h:
**
**   gc #         cycle
**   @#s          since_start_ns, in seconds with three decimals (the heap's
**                start stands for the program's)
**   #%           gc_cpu_fraction * 100
**   clock        sweep termination + mark + mark termination, wall.
**                A concurrent cycle (concurrent = 1): sweep_term_ns +
**                mark_ns + mark_term_ns, as Go's. A stop-the-world cycle:
**                stop_ns + mark_ns + (stw_ns - stop_ns - mark_ns); the
**                three add up to the pause
**   cpu          sweep termination + assist/background/idle + mark
**                termination; the stops as Go counts them, wall time times
**                the processes stopped (nprocs). A concurrent cycle:
**                mark_assist_cpu_ns / mark_bg_cpu_ns / mark_idle_cpu_ns. A
**                stop-the-world cycle prints what Go does under
**                GODEBUG=gcstoptheworld=1: no assist and no idle marking,
**                all marking as background work (mark_cpu_ns)
**   #->#-># MB   heapLive at the start, at the end of marking, marked
**                live: heap_live_start_bytes, heap_live_end_bytes,
**                heap_live_bytes for a concurrent cycle; heap_start_bytes
**                twice (nothing is allocated while the world is stopped),
**                heap_live_bytes for a stop-the-world one
**   # MB goal    heap_goal_bytes
**   # MB stacks  max_stack_bytes: the stack space in use (Go's
**                maxStackScan), not stack_bytes, the stack scanned
**                (lastStackScan), which the goal counts and gctrace
**                does not print
**   # MB globals globals_bytes
**   # P          nprocs (processes attached: heapsim's Ps)
**
** The module is pure: it formats, it does not print.
*/
#ifndef HEAPSIM_GCTRACE_GCTRACE_H
#define HEAPSIM_GCTRACE_GCTRACE_H

#include <stddef.h>

#include "base/gc_fields.h"

/* The longest line gctrace_format() writes, with its NUL. */
#define GCTRACE_LINE_MAX 256

/* Write f's line into buf (size bytes, NUL-terminated, no newline; at most
** GCTRACE_LINE_MAX bytes are ever needed). Returns the line's length, as
** snprintf does: >= size means it was cut short. Negative figures (which a
** heap never reports) are written as 0. */
int gctrace_format(const gc_fields_t *f, char *buf, size_t size);

/* A duration as Go's fmtNSAsMS writes it, into buf (>= 24 bytes): whole
** milliseconds from 10 ms up, else two significant digits with at most
** three decimals ("0.012", "1.5", "0"). Returns buf. */
char *gctrace_format_ms(int64_t ns, char *buf, size_t size);

#endif
