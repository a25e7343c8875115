/*
** proto/proto.h -- the messages between coordinator and workers.
**
** Transport: ZeroMQ. The coordinator binds a ROUTER; each worker connects a
** DEALER for requests and results, and a second DEALER from its sampler
** thread for telemetry. Every message is one frame holding one MessagePack
** map with string keys: "t" (the type, a string) and "v" (PROTO_VERSION),
** then the type's fields. Unknown keys are ignored, so fields can be added
** without breaking older peers; a missing required key, a wrong type or an
** out-of-range value makes the whole frame invalid.
**
**   worker -> coordinator                 coordinator -> worker
**   hello   {worker, host, pid, ncpu}     welcome {worker, heartbeat_ms, misses}
**   ready   {worker}  (asks for a task;   task  {run_id, token, task_id,
**            the reply may come later)           attempt, ...}
**   reject  {task_id, reason, [tseq_last]} done  {}  (no more work: leave)
**            (a task it cannot decode,    ack   {task_id, attempt}
**            or cut short)
**   sample  {worker, task_id, attempt, tseq, ...}  (every sample interval)
**   gc      {worker, task_id, heap, ..., attempt, tseq}  (one cycle)
**   profile {worker, task_id, cycle, ...}  (a heap profile snapshot)
**   retention {worker, task_id, cycle, ...}  (why objects are alive)
**   result  {worker, task_id, attempt, ok, ..., [tseq_last]}  (resent
**            until acked; tseq_last: the attempt's last telemetry number)
**   heartbeat {task_id}  (both ways, every heartbeat_ms)
**
** docs/protocol.md describes the sequences: who sends what when, and what
** a peer does when a message is missing, late, duplicated or malformed.
**
** This module knows nothing of ZeroMQ sockets: it turns messages into bytes
** and back.
*/
#ifndef HEAPSIM_PROTO_PROTO_H
#define HEAPSIM_PROTO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/gc_fields.h"
#include "catalog/catalog.h"

#define PROTO_VERSION 2
#define PROTO_EINVAL (-5001)     /* malformed frame: the error text says why */

#define PROTO_NAME_MAX 128       /* worker, host and heap names */
#define PROTO_OUTPUT_MAX_BYTES (64u << 20)   /* a result's output text */

typedef enum proto_type {
    PROTO_HELLO = 1,
    PROTO_READY,
    PROTO_TASK,
    PROTO_DONE,
    PROTO_SAMPLE,
    PROTO_GC,
    PROTO_RESULT,
    PROTO_PROFILE,
    PROTO_WELCOME,
    PROTO_HEARTBEAT,
    PROTO_ACK,
    PROTO_REJECT,
    PROTO_RETENTION,
} proto_type_t;

/* Ranges checked on decode (a sample interval of 0 would spin a worker). */
#define PROTO_SAMPLE_INTERVAL_MIN_NS 1000000ll          /* 1 ms */
#define PROTO_SAMPLE_INTERVAL_MAX_NS 3600000000000ll    /* 1 h */
#define PROTO_HEARTBEAT_MIN_MS 10
#define PROTO_HEARTBEAT_MAX_MS 600000
#define PROTO_MISSES_MAX 100

typedef struct proto_hello {
    char worker[PROTO_NAME_MAX];     /* unique per process, e.g. "host:pid" */
    char host[PROTO_NAME_MAX];
    int64_t pid;
    int64_t ncpu;
} proto_hello_t;

typedef struct proto_task {
    int64_t run_id;
    char token[PROTO_NAME_MAX];      /* the run's unique token */
    char heap[PROTO_NAME_MAX];       /* heap key: token plus runtime group */
    int64_t task_id;
    int64_t attempt;                 /* 1, 2, ...: the lease this is */
    int64_t seq;
    int64_t seed;
    int64_t sample_interval_ns;
    int64_t gogc;                    /* < 0 = off */
    int64_t memory_limit_bytes;
    int64_t heap_max_bytes;
    int64_t stack_reserve_bytes;
    int64_t timer_resolution_ns;     /* sched_set_timer_resolution(); 0 = exact */
    int64_t gctrace;                 /* 1: print a gctrace line per cycle (optional, 0) */
    int64_t mem_profile_rate;        /* heap profile: bytes per sample, 0 off (optional, 0) */
    int64_t heap_private;            /* 1: no other task runs on this heap: the worker
                                     ** closes and removes it after the task (optional, 0) */
    int64_t collector;               /* 0 Go's concurrent collector, 1 stop-the-world
                                     ** (optional, 0) */
    int64_t preempt_ns;              /* preemption slice (sched_set_preempt): 0 Go's
                                     ** 10 ms, -1 off, else 1 ms to 1 s (optional, 0) */
    kparams_t params;                /* owned; the kernel is params.kernel */
} proto_task_t;

/* Telemetry of one worker while it runs a task. All integers. */
typedef struct proto_sample {
    char worker[PROTO_NAME_MAX];
    int64_t task_id;
    int64_t attempt;
    int64_t tseq;                    /* telemetry sequence in the attempt, from 1,
                                     ** shared by samples and GC cycles */
    int64_t t_ns, unix_ns;
    int64_t heap_alloc_bytes, heap_inuse_bytes, heap_sys_bytes;
    int64_t heap_live_bytes, heap_goal_bytes;
    int64_t num_gc, pause_total_ns;
    int64_t alloc_objects, alloc_bytes;
    int64_t goroutines, stack_inuse_bytes;
    int64_t rss_bytes, cpu_user_ns, cpu_sys_ns;
    int64_t minor_faults, major_faults, ctx_switches;
} proto_sample_t;

/* One collection cycle, as the collecting worker saw it. On the wire:
** "worker", "heap", the REAL fields of base/gc_fields.h, "task_id", then
** its INT fields, each under its name. */
typedef struct proto_gc {
    char worker[PROTO_NAME_MAX];
    char heap[PROTO_NAME_MAX];
    int64_t task_id;
    int64_t attempt, tseq;           /* as in proto_sample_t; after the INT fields */
    gc_fields_t fields;
} proto_gc_t;

/* A snapshot of the heap profile of the worker's task: per allocation
** site, its sampled figures (shm_heap's heap_prof_site_t: not scaled),
** when its heap had run `cycle` collections. On the wire "sites" is an
** array of maps {site, alloc_objects, alloc_bytes, inuse_objects,
** inuse_bytes}. */
#define PROTO_PROFILE_SITES_MAX 1024
typedef struct proto_profile_site {
    char site[PROTO_NAME_MAX];
    int64_t alloc_objects, alloc_bytes;
    int64_t inuse_objects, inuse_bytes;
} proto_profile_site_t;

typedef struct proto_profile {
    char worker[PROTO_NAME_MAX];
    int64_t task_id;
    int64_t cycle;                   /* collections of the task's heap so far */
    int64_t final;                   /* 1: at the end of the task */
    int64_t rate;                    /* bytes per sample */
    proto_profile_site_t *sites;     /* owned (malloc) */
    size_t nsites;
} proto_profile_t;

/* What keeps the task's objects alive, from a heap snapshot taken with
** the world stopped (profile/retain.h): per allocation site the roots
** and path that hold its sampled objects and the bytes they retain; the
** goroutines blocked for GC cycles, grouped by where they block; the
** retention profile (pprof, gzipped). On the wire "sites" and
** "goroutines" are arrays of maps with the fields below, "pprof" a bin. */
#define PROTO_RETENTION_SITES_MAX 1024
#define PROTO_RETENTION_GROUPS_MAX 1024
#define PROTO_RETENTION_PPROF_MAX (32u << 20)
#define PROTO_RETENTION_TEXT_MAX (64u << 10)
typedef struct proto_retention_site {
    char site[PROTO_NAME_MAX];
    char *root_group, *root, *holder, *path;   /* owned */
    int64_t roots, objects, site_objects;
    int64_t retained_bytes, holder_retained_bytes;
} proto_retention_site_t;

typedef struct proto_goroutine_group {
    char where[PROTO_NAME_MAX];
    char reason[PROTO_NAME_MAX];
    int64_t count, min_cycles, max_cycles;
} proto_goroutine_group_t;

typedef struct proto_retention {
    char worker[PROTO_NAME_MAX];
    int64_t task_id;
    int64_t cycle;                   /* GC cycles of the task's heap when taken */
    int64_t final;                   /* 1: when the task's main goroutine returned */
    int64_t objects, bytes;          /* reachable */
    int64_t pause_ns;                /* the world stopped for the walk */
    int64_t min_cycles;              /* goroutines: blocked at least this long */
    unsigned char *pprof;            /* owned */
    size_t pprof_len;
    proto_retention_site_t *sites;   /* owned */
    size_t nsites;
    proto_goroutine_group_t *groups; /* owned */
    size_t ngroups;
} proto_retention_t;

typedef struct proto_metric {
    char *name;                      /* owned */
    char *unit;                      /* owned, "" when none */
    double value;
} proto_metric_t;

typedef struct proto_result {
    char worker[PROTO_NAME_MAX];
    int64_t task_id;
    int64_t attempt;
    int64_t ok;                      /* 1 done, 0 failed */
    char *error;                     /* owned, NULL when ok */
    char *output;                    /* owned, the kernel's text, may be NULL */
    int64_t wall_ns;
    int64_t alloc_objects, alloc_bytes;
    int64_t gc_cycles, pause_max_ns, pause_total_ns;
    int64_t peak_heap_bytes, peak_rss_bytes;
    int64_t stack_hwm_bytes, goroutines_max;
    proto_metric_t *metrics;         /* owned */
    size_t nmetrics;
    /* The attempt's last telemetry sequence number (`tseq` of its last
    ** sample or GC cycle sent, 0 when it sent none), so that the
    ** coordinator knows how much telemetry of the attempt is still on its
    ** way (it travels on another socket and may come after the result).
    ** Optional on the wire: tseq_said 0 leaves it out (a peer that
    ** predates it), and decoded, tseq_said says whether it was there. Any
    ** integer decodes; the coordinator judges the value. */
    int64_t tseq_said;               /* 1: tseq_last is meant */
    int64_t tseq_last;
} proto_result_t;

/* welcome: the name the coordinator knows this worker by (the one it
** asked for, made unique), and the heartbeat interval both sides keep. */
typedef struct proto_welcome {
    char worker[PROTO_NAME_MAX];
    int64_t heartbeat_ms;
    int64_t misses;                  /* heartbeats missed before a peer is lost;
                                     ** optional on the wire (absent: 3) */
} proto_welcome_t;

/* ack (of a result) and heartbeat (task_id 0: none) carry these; reject
** carries a reason too. */
typedef struct proto_ref {
    int64_t task_id;
    int64_t attempt;
    char reason[256];                /* reject only */
    int64_t interrupted;             /* reject only: 1 when the worker cut the
                                     ** task short (stopped), 0 when it could not
                                     ** take it; optional on the wire (absent: 0) */
    int64_t tseq_said, tseq_last;    /* reject only: as in proto_result_t */
} proto_ref_t;

typedef struct proto_msg {
    proto_type_t type;
    char worker[PROTO_NAME_MAX];     /* ready, and copied from the body of others */
    union {
        proto_hello_t hello;
        proto_task_t task;
        proto_sample_t sample;
        proto_gc_t gc;
        proto_result_t result;
        proto_profile_t profile;
        proto_retention_t retention;
        proto_welcome_t welcome;
        proto_ref_t ref;             /* heartbeat, ack, reject */
    } u;
} proto_msg_t;

const char *proto_type_name(proto_type_t type);

/* Encode into a malloc'd buffer (*buf_p, *len_p; the caller frees).
** Returns 0 or -ENOMEM. */
int proto_encode(const proto_msg_t *msg, char **buf_p, size_t *len_p);

/* Decode one frame. On success returns 0 and *msg holds owned fields that
** proto_msg_free() releases; on failure returns PROTO_EINVAL with a
** one-line reason in err and leaves nothing to free. */
int proto_decode(const void *buf, size_t len, proto_msg_t *msg,
                 char *err, size_t errsize);

void proto_msg_free(proto_msg_t *msg);

/* Add a metric to a result (copies name and unit). 0 or -ENOMEM. */
int proto_result_add_metric(proto_result_t *r, const char *name, double value,
                            const char *unit);

#endif
