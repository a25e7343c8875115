/*
** scenario/scenario.h -- scenario files (YAML) expanded into tasks.
**
** A scenario names runtime settings, one task template or a list of them
** (kernel + parameters), an optional sweep (a grid over kernel parameters or
** runtime settings whose cartesian product becomes tasks), repeats and a
** seed. Loading validates everything against the kernel catalog and answers
** bad input with one line naming file:line:column and what was expected.
**
**     name: sync-pool
**     description: Reusing buffers with a pool instead of allocating one per request
**     runtime: {gogc: 100, memory_limit: 0, heap_max: 1GiB}
**     task: {kernel: pool, requests: 200000, payload_bytes: 4096}
**     sweep: {pool: [false, true]}
**     repeat: 3
**     seed: 42
**
** `tasks:` (a list of such mappings) may stand instead of `task:`. The
** sweep applies to every task template that has the swept parameter.
*/
#ifndef HEAPSIM_SCENARIO_SCENARIO_H
#define HEAPSIM_SCENARIO_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

#define SCENARIO_EUSAGE (-3001)  /* bad input: the error text says where */

/* Runtime settings of the heap and scheduler a task runs on. */
typedef struct scn_runtime {
    int gogc;                    /* default 100; "off" -> -1 */
    int64_t memory_limit_bytes;  /* 0 = none */
    int64_t heap_max_bytes;      /* 0 = default */
    int64_t stack_reserve_bytes; /* 0 = default */
    int64_t timer_resolution_ns; /* timers when all sleep: Go 1.19's 1 ms; 0 = exact */
    int gctrace;                 /* 1: a gctrace line per cycle on stderr */
    int64_t mem_profile_rate;    /* heap profile: bytes per sample; 1 every allocation, 0 off */
    int collector;               /* SCN_COLLECTOR_*: Go's concurrent one (the default) or
                                 ** stop-the-world */
    int64_t preempt_ns;          /* `preempt`: a goroutine that has run this long is
                                 ** preempted; 0 = Go's forcePreemptNS (10 ms, the
                                 ** default), SCN_PREEMPT_OFF = off */
} scn_runtime_t;

#define SCN_PREEMPT_OFF (-1)

#define SCN_COLLECTOR_CONCURRENT 0
#define SCN_COLLECTOR_STW 1

#define SCN_MEM_PROFILE_RATE_DEFAULT (512 * 1024)   /* Go's runtime.MemProfileRate */
#define SCN_MEM_PROFILE_RATE_MAX ((int64_t)1 << 40)

typedef struct scn_task {
    uint32_t seq;                /* 0.. in expansion order */
    uint32_t template_index;     /* which task template it came from */
    uint32_t sweep_point;        /* index into the sweep grid, 0 without one */
    uint32_t repeat_index;       /* 0..repeat-1 */
    char *label;                 /* the sweep point, e.g. "gogc=50 pool=true"; "" */
    uint64_t seed;               /* scenario seed mixed with seq */
    scn_runtime_t runtime;
    kparams_t params;
} scn_task_t;

typedef struct scenario {
    char *path;
    char *name;
    char *description;
    char *text;                  /* the file as read, stored with the run */
    scn_runtime_t runtime;       /* scenario-level settings */
    uint32_t repeat;             /* default 1 */
    uint64_t seed;               /* default 1 */
    uint64_t sample_interval_ns; /* telemetry period, default 100 ms */
    bool shared_heap;            /* `heap: shared`: tasks with equal runtime
                                 ** settings share one heap per host; by
                                 ** default (`heap: per_task`) each task gets
                                 ** a fresh heap, as a Go program does */
    scn_task_t *tasks;
    size_t ntasks;
} scenario_t;

/* Load and validate `path`, apply the `--set key=value` overrides in `sets`
** (a kernel parameter of any task template, or a runtime key: gogc,
** memory_limit, heap_max, stack_reserve, timer_resolution, ...; an override of a swept key
** replaces that sweep axis), and expand into tasks. Returns 0 with
** *scn_p set, or SCENARIO_EUSAGE / -ENOMEM with a one-line message in err
** ("scenarios/x.yaml:4:12: unknown parameter 'dpeth' for kernel
** binary_trees; its parameters: depth (int, 4..30, default 10)"). */
int scenario_load(const char *path, const char *const *sets, size_t nsets,
                  scenario_t **scn_p, char *err, size_t errsize);
void scenario_free(scenario_t **scn_p);

/* The runtime settings as a JSON object text ("{\"gogc\":100,...}"),
** malloc'd; NULL when out of memory. (A task's parameters:
** kparams_json() in catalog.h.) */
char *scenario_runtime_json(const scn_runtime_t *rt);

#endif
