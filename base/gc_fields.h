/*
** base/gc_fields.h -- the figures of one garbage-collection cycle, listed
** once.
**
** A cycle is measured by shm_heap, sent by the worker in a "gc" message
** (proto), and stored by the coordinator as a row of gc_cycles (storage).
** All three take their fields from GC_FIELDS below, each in its own way:
**
**   struct   gc_fields_t, one member per field (int64_t or double);
**   wire     proto packs the REAL fields, then "task_id", then the INT
**            fields, each in list order, under the field's name;
**   SQL      storage binds each field to the gc_cycles column of the same
**            name; storage/schema.sql declares that column (INTEGER or
**            REAL) with the doc string below as its comment, and
**            store_test fails when the two disagree.
**
** The list is in the order of the wire (nprocs after forced); gc_cycles
** has nprocs as its last column, as files written so far have it. Columns
** are bound by name, so neither order depends on the other.
**
** Adding a field is one X(...) line at the end of the list plus its
** column at the end of gc_cycles in storage/schema.sql (a new schema
** version, with its upgrade step, for files that already exist), and new
** bytes for proto_test's frame of PROTO_VERSION 1.
**
** The fields that say where a cycle happened (the worker, heap name, task,
** run, host) are not figures of the cycle: each side keeps those beside a
** gc_fields_t.
**
** X(name, KIND, doc): KIND is INT (int64_t, SQL INTEGER) or REAL (double,
** SQL REAL; stored as NULL when not finite).
*/
#ifndef HEAPSIM_BASE_GC_FIELDS_H
#define HEAPSIM_BASE_GC_FIELDS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define GC_FIELDS(X)                                                                    \
    X(cycle,            INT,  "collection number in that heap, from 1")                 \
    X(forced,           INT,  "1 if forced (runtime.GC), 0 if paced")                   \
    X(nprocs,           INT,  "processes attached to the heap")                         \
    X(start_unix_ns,    INT,  "when the collection started")                            \
    X(since_start_ns,   INT,  "since the heap was created")                             \
    X(gc_cpu_fraction,  REAL, "share of CPU spent collecting so far, 0..1")             \
    X(stw_ns,           INT,  "stop-the-world pause in total")                          \
    X(stop_ns,          INT,  "time to stop every process")                             \
    X(mark_ns,          INT,  "wall time of marking")                                   \
    X(sweep_ns,         INT,  "wall time of sweeping")                                  \
    X(mark_cpu_ns,      INT,  "CPU time of marking")                                    \
    X(sweep_cpu_ns,     INT,  "CPU time of sweeping")                                   \
    X(heap_start_bytes, INT,  "heap in use when it started")                            \
    X(heap_end_bytes,   INT,  "heap in use when it ended")                              \
    X(heap_live_bytes,  INT,  "bytes marked live")                                      \
    X(heap_goal_bytes,  INT,  "goal set for the next collection")                       \
    X(stack_bytes,      INT,  "goroutine stacks scanned (Go's lastStackScan)")          \
    X(globals_bytes,    INT,  "globals scanned")                                        \
    X(objects_live,     INT,  "objects marked live")                                    \
    X(objects_freed,    INT,  "objects swept")                                          \
    X(sweep_term_ns,    INT,  "first stop (sweep termination), wall; 0 if stop-the-world") \
    X(mark_term_ns,     INT,  "second stop (mark termination), wall; all of a stw cycle") \
    X(mark_assist_cpu_ns, INT, "CPU time of mark assists")                              \
    X(mark_bg_cpu_ns,   INT,  "CPU time of the background mark workers")                \
    X(mark_idle_cpu_ns, INT,  "CPU time marking while stopping or idle")                \
    X(heap_trigger_bytes, INT, "heap_live at which the cycle was to start")             \
    X(heap_live_start_bytes, INT, "heap_live when the cycle started (gctrace heap0)")   \
    X(heap_live_end_bytes, INT, "heap_live when marking ended (gctrace heap1)")         \
    X(concurrent,       INT,  "1 if the concurrent collector ran it, 0 if stop-the-world") \
    X(max_stack_bytes,  INT,  "stack space in use (Go's maxStackScan; gctrace's MB stacks)")

#define GC_FIELDS_CTYPE_INT int64_t
#define GC_FIELDS_CTYPE_REAL double

typedef struct gc_fields {
#define GC_FIELDS_MEMBER(name, kind, doc) GC_FIELDS_CTYPE_##kind name;
    GC_FIELDS(GC_FIELDS_MEMBER)
#undef GC_FIELDS_MEMBER
} gc_fields_t;

/* The first GC_FIELDS_V1_COUNT fields are in every frame of PROTO_VERSION 1;
** the ones after were added since: a frame without them still decodes
** (they read as 0), as an older worker sends it. */
#define GC_FIELDS_V1_COUNT 20

/* How many fields the list has. */
#define GC_FIELDS_ONE(name, kind, doc) +1
enum { GC_FIELDS_COUNT = 0 GC_FIELDS(GC_FIELDS_ONE) };
#undef GC_FIELDS_ONE

typedef enum gc_fields_kind {
    GC_FIELDS_KIND_INT = 1,       /* an int64_t member */
    GC_FIELDS_KIND_REAL,          /* a double member */
} gc_fields_kind_t;

/* The list as data, for code that walks the fields (encoders, binders,
** tests): gc_fields_desc[i] describes the i-th X(...) line. */
typedef struct gc_fields_desc {
    const char *name;
    gc_fields_kind_t kind;
    size_t offset;                /* of the member in gc_fields_t */
    const char *doc;
} gc_fields_desc_t;

extern const gc_fields_desc_t gc_fields_desc[GC_FIELDS_COUNT];

/* The member d describes, in f; d must be of that kind. */
static inline int64_t gc_fields_get_int(const gc_fields_t *f, const gc_fields_desc_t *d)
{
    assert(d->kind == GC_FIELDS_KIND_INT);
    return *(const int64_t *)(const void *)((const char *)f + d->offset);
}

static inline double gc_fields_get_real(const gc_fields_t *f, const gc_fields_desc_t *d)
{
    assert(d->kind == GC_FIELDS_KIND_REAL);
    return *(const double *)(const void *)((const char *)f + d->offset);
}

static inline int64_t *gc_fields_int(gc_fields_t *f, const gc_fields_desc_t *d)
{
    assert(d->kind == GC_FIELDS_KIND_INT);
    return (int64_t *)(void *)((char *)f + d->offset);
}

static inline double *gc_fields_real(gc_fields_t *f, const gc_fields_desc_t *d)
{
    assert(d->kind == GC_FIELDS_KIND_REAL);
    return (double *)(void *)((char *)f + d->offset);
}

#endif
