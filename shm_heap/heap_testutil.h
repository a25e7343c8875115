/*
** shm_heap/heap_testutil.h -- helpers shared by shm_heap's tests.
**
** Every test process calls tu_init() first: it gives the test its own
** segment prefix (HEAPSIM_SHM_PREFIX as found, "heapsim-" when unset, then
** "t<pid>-<nonce>-"; set in HEAPSIM_SHM_PREFIX for the code under test),
** arms a watchdog, and removes the test's segments however the test ends
** (exit, abort, watchdog, SIGTERM). tu_finish() fails the test if a check
** failed or a segment with the prefix is still in /dev/shm, i.e. if the
** code under test leaked one.
**
** The checks are base/testrun.h's; these tests mostly REQUIRE (a failed
** check stops the process: a forked child _exits(1), which the parent's
** tu_wait_ok() then reports too).
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_TESTUTIL_H
#define HEAPSIM_SHM_HEAP_HEAP_TESTUTIL_H

#include "base/testrun.h"
#include "shm_heap/heap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void tu_init(const char *test_name, unsigned watchdog_s);
void tu_finish(void);

/* heap_verify(h) must pass; stops the process otherwise. */
#define REQUIRE_HEAP_VERIFY(h)                                             \
    do {                                                                   \
        char tu_why_[256];                                                 \
        int tu_rc_ = heap_verify((h), tu_why_, sizeof tu_why_);            \
        REQUIRE_MSG(tu_rc_ == 0, "heap_verify(%s): %s", #h, tu_why_);      \
    } while (0)

/* "/<prefix><token>" for this test. */
char *tu_segment(char *buf, size_t size, const char *token);
/* Segments with this test's prefix now in /dev/shm. */
int tu_shm_count(void);

/* Fork a child running fn(arg) then _exit(0); it gets its own watchdog. */
pid_t tu_fork(void (*fn)(void *arg), void *arg);
/* Reap pid; fail unless it exited 0. */
void tu_wait_ok(pid_t pid);
/* Reap pid; returns its raw wait status. */
int tu_wait(pid_t pid);

/* splitmix64: a seeded RNG, and a draw in [0, n). */
uint64_t tu_rand(uint64_t *state);
static inline uint64_t tu_below(uint64_t *state, uint64_t n)
{
    return n ? tu_rand(state) % n : 0;
}
/* Seed from HEAP_TEST_SEED or the clock; printed so a run can be replayed. */
uint64_t tu_seed(void);

/* Memory shared with forked children (MAP_SHARED | MAP_ANONYMOUS, zeroed). */
void *tu_shared(size_t bytes);

/* A barrier for n processes in shared memory. Leave the heap first. */
typedef struct tu_barrier {
    uint32_t arrived;
    uint32_t generation;
    uint32_t n;
} tu_barrier_t;
void tu_barrier_wait(tu_barrier_t *b);

/* A tree reachable from h's globals only: globals slot 0 (one global)
** holds a root of `fanout` refs, each a node of `leaves` refs to 16-byte
** leaves; 1 + fanout + fanout * leaves objects. REQUIREs every allocation. */
void tu_build_tree(heap_t *h, uint32_t fanout, uint32_t leaves);

/* Sleep for ns nanoseconds. */
void tu_sleep_ns(uint64_t ns);
uint64_t tu_now_ns(void);

#endif
