/*
** runtime/rt_testutil.h -- helpers for the runtime's tests (chan_test,
** pool_test): a real shared heap (a unique segment, unlinked at once), a
** real scheduler, one task run to its end, and a fork-per-case runner.
**
** The checks are base/testrun.h's: CHECK() works anywhere (goroutine or
** not) and counts; the case fails when a check failed, or its process
** crashes or hits its time limit.
*/
#ifndef HEAPSIM_RUNTIME_RT_TESTUTIL_H
#define HEAPSIM_RUNTIME_RT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shm_heap/heap.h"
#include "runtime/rt.h"
#include "sched/sched.h"
#include "base/testrun.h"

/* A segment name no other test process uses, even one with the same pid
** in another sandbox sharing /dev/shm: "/<prefix>rtt-<pid>-<nonce>-<tag><n>",
** <prefix> being HEAPSIM_SHM_PREFIX ("heapsim-" when unset). */
char *rtt_name(char *buf, size_t size, const char *tag);

/* One task's world: heap, scheduler, rt. */
typedef struct rtt_world {
    heap_t *heap;
    sched_t *sched;
    char shm_name[96];
} rtt_world_t;

/* Open a fresh heap of heap_max bytes (its name unlinked right away) and
** a scheduler with max_goroutines (0: the default). Aborts on failure. */
void rtt_open(rtt_world_t *w, uint64_t heap_max, uint32_t max_goroutines);
void rtt_close(rtt_world_t *w);

typedef struct rtt_outcome {
    int rc;                     /* sched_run's */
    char failure[4096];         /* sched_failure() after it */
} rtt_outcome_t;

/* Run fn(rt, arg) as the first goroutine of a task on w (inside the heap,
** seed 42) until the task ends; heap_verify must pass afterwards. */
rtt_outcome_t rtt_run(rtt_world_t *w, void (*fn)(rt_t *rt, void *arg), void *arg);

/* An object of 1 ref + 8 bytes whose scalar is `tag`; and its check. The
** child ref (if any) is an object of 0 refs + 16 bytes holding ~tag. */
heap_ref_t rtt_tagged(rt_t *rt, uint64_t tag, bool with_child);
bool rtt_tag_ok(rt_t *rt, heap_ref_t obj, uint64_t tag, bool with_child);
/* Allocate and drop `n` objects of the tagged sizes, scribbling on them:
** a freed object's slot is reused and overwritten. */
void rtt_churn(rt_t *rt, int n);

/* The fork-per-case runner: runs every case (or the one named in argv[1],
** in-process) each in a child with a `limit_s` second alarm. Returns the
** process exit status. */
typedef testrun_case_t rtt_case_t;
int rtt_main(int argc, char **argv, const rtt_case_t *cases, size_t ncases,
             unsigned limit_s);

#endif
