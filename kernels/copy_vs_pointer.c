/*
** kernels/copy_vs_pointer.c -- a pipeline of goroutine stages passing large
** payloads by value or by reference: what copying costs in allocations,
** bytes and time.
**
**   source -> stage 1 -> stage 2 -> ... -> stage N -> sink
**
** The source allocates each of `items` payloads (payload_bytes: its number,
** a stamp word, then bytes of a pattern) and fills it. Each stage stamps
** the payload (adds its stage number) and passes it on: `by: value` copies
** it into a new object first, as passing a large struct or array by value
** does (the old copy becomes garbage); `by: pointer` hands on the same
** object, as passing a pointer or a slice does. The sink checks the
** number, the sum of the stamps and the pattern (sampled), so both modes
** do the same work apart from the copies. Channels are unbuffered: each
** hand-off is a rendezvous, the same in both modes.
**
** Allocations and bytes are the process's heap counters (every object of
** the task, in its size class) read before and after the pipeline.
**
** State: malloc'd, freed when the main goroutine ends (it waits for the
** others). The channels are in one heap array rooted by the main
** goroutine's frame.
*/
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chan.h"
#include "runtime/sync.h"

#define CVP_HEADER_BYTES (2 * sizeof(uint64_t))   /* number, stamps */
#define CVP_SAMPLE_STRIDE 4096

typedef struct cvp_state {
    heap_t *heap;
    heap_ref_t *chans_root;       /* main's root slot: array of stages+1 chans */
    int64_t items;
    int64_t stages;
    size_t payload_bytes;
    bool by_value;
    sync_wg_t done;
    uint64_t bytes_copied;
    int64_t sunk;
    int64_t bad_item;             /* first broken item, -1 none */
    char bad_what[64];
} cvp_state_t;

typedef struct cvp_stage {
    cvp_state_t *st;
    int64_t index;                /* 1..stages */
} cvp_stage_t;

static inline heap_ref_t chan_at(cvp_state_t *st, int64_t i)
{
    return heap_read_ref(st->heap, *st->chans_root, (uint32_t)i);
}

static inline unsigned char pattern_byte(int64_t id)
{
    return (unsigned char)(id * 131 + 7);
}

static void source(rt_t *rt, void *arg)
{
    cvp_state_t *st = arg;
    heap_t *h = st->heap;
    heap_ref_t *frame = rt_push(rt, 1);
    size_t pattern_bytes = st->payload_bytes - CVP_HEADER_BYTES;

    for (int64_t id = 0; id < st->items; id++) {
        frame[0] = rt_alloc_at(rt, 0, st->payload_bytes, "copy_vs_pointer.produce");
        uint64_t *data = heap_data(h, frame[0], 0);
        data[0] = (uint64_t)id;
        data[1] = 0;
        memset(&data[2], pattern_byte(id), pattern_bytes);
        chan_send(rt, chan_at(st, 0), &frame[0], NULL);
    }
    frame[0] = 0;
    rt_pop(rt, 1);
    chan_close(rt, chan_at(st, 0));
    sync_wg_done(rt_sched(rt), &st->done);
}

static void stage(rt_t *rt, void *arg)
{
    cvp_stage_t *me = arg;
    cvp_state_t *st = me->st;
    heap_t *h = st->heap;
    heap_ref_t *frame = rt_push(rt, 2);   /* 0: received, 1: its copy */

    while (chan_recv(rt, chan_at(st, me->index - 1), &frame[0], NULL)) {
        heap_ref_t out = frame[0];
        if (st->by_value) {
            frame[1] = rt_alloc_at(rt, 0, st->payload_bytes, "copy_vs_pointer.stage.copy");
            memcpy(heap_data(h, frame[1], 0), heap_data(h, frame[0], 0), st->payload_bytes);
            st->bytes_copied += st->payload_bytes;
            out = frame[1];
            frame[0] = 0;             /* the old copy is garbage now */
        }
        ((uint64_t *)heap_data(h, out, 0))[1] += (uint64_t)me->index;
        chan_send(rt, chan_at(st, me->index), &out, NULL);
        frame[0] = frame[1] = 0;
    }
    rt_pop(rt, 2);
    chan_close(rt, chan_at(st, me->index));
    sync_wg_done(rt_sched(rt), &st->done);
}

static void note_bad(cvp_state_t *st, int64_t id, const char *what)
{
    if (st->bad_item < 0) {
        st->bad_item = id;
        snprintf(st->bad_what, sizeof st->bad_what, "%s", what);
    }
}

static void sink(rt_t *rt, void *arg)
{
    cvp_state_t *st = arg;
    heap_t *h = st->heap;
    heap_ref_t *frame = rt_push(rt, 1);
    uint64_t stamps = (uint64_t)(st->stages * (st->stages + 1) / 2);
    size_t pattern_bytes = st->payload_bytes - CVP_HEADER_BYTES;

    while (chan_recv(rt, chan_at(st, st->stages), &frame[0], NULL)) {
        const uint64_t *data = heap_data(h, frame[0], 0);
        const unsigned char *bytes = (const unsigned char *)&data[2];
        int64_t id = (int64_t)data[0];
        bool intact = true;

        for (size_t i = 0; i < pattern_bytes && intact; i += CVP_SAMPLE_STRIDE)
            intact = bytes[i] == pattern_byte(id);
        if (pattern_bytes > 0 && bytes[pattern_bytes - 1] != pattern_byte(id))
            intact = false;
        if (id != st->sunk)
            note_bad(st, st->sunk, "did not arrive in order");
        else if (data[1] != stamps)
            note_bad(st, id, "missed a stage's stamp");
        else if (!intact)
            note_bad(st, id, "arrived damaged");
        st->sunk++;
        frame[0] = 0;
    }
    rt_pop(rt, 1);
    sync_wg_done(rt_sched(rt), &st->done);
}

static void state_free(void *arg)
{
    free(arg);
}

void kernel_copy_vs_pointer(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t stages = kparams_int(p, "stages");
    heap_stats_t hs0, hs1;

    cvp_state_t *st = calloc(1, sizeof *st + (size_t)stages * sizeof(cvp_stage_t));
    if (!st)
        rt_fail(rt, "out of memory: copy_vs_pointer state");
    if (sched_defer(s, state_free, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: copy_vs_pointer cleanup");
    }
    cvp_stage_t *stage_args = (cvp_stage_t *)(st + 1);
    st->heap = h;
    st->items = kparams_int(p, "items");
    st->stages = stages;
    st->payload_bytes = (size_t)kparams_int(p, "payload_bytes");
    st->by_value = strcmp(kparams_string(p, "by"), "value") == 0;
    st->bad_item = -1;
    sync_wg_init(&st->done);

    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = rt_alloc_at(rt, (uint32_t)(stages + 1), 0, "copy_vs_pointer.chans");
    st->chans_root = &frame[0];
    for (int64_t i = 0; i <= stages; i++) {
        heap_ref_t ch = chan_make(rt, 1, 0, 0);
        heap_write_ref(h, frame[0], (uint32_t)i, ch);
    }

    heap_stats_read(h, &hs0);
    uint64_t t0 = rt_now_ns();
    sync_wg_add(s, &st->done, stages + 2);
    rt_go(rt, sink, st);
    for (int64_t i = stages; i >= 1; i--) {
        stage_args[i - 1] = (cvp_stage_t){ .st = st, .index = i };
        rt_go(rt, stage, &stage_args[i - 1]);
    }
    rt_go(rt, source, st);
    sync_wg_wait(s, &st->done);
    uint64_t elapsed = rt_now_ns() - t0;
    heap_stats_read(h, &hs1);
    st->chans_root = NULL;
    rt_pop(rt, 1);

    if (st->bad_item >= 0)
        rt_fail(rt, "copy_vs_pointer: item %lld %s", (long long)st->bad_item, st->bad_what);
    if (st->sunk != st->items)
        rt_fail(rt, "copy_vs_pointer: %lld of %lld items arrived", (long long)st->sunk,
                (long long)st->items);

    uint64_t allocs = hs1.proc_alloc_objects - hs0.proc_alloc_objects;
    uint64_t bytes = hs1.proc_alloc_bytes - hs0.proc_alloc_bytes;
    uint64_t cycles = hs1.num_gc - hs0.num_gc;
    rt_printf(rt, "copy_vs_pointer: %lld items of %zu B through %lld stages by %s: "
              "%llu allocations, %.1f MiB allocated, %.1f MiB copied, %llu GC cycles, "
              "%.0f ns per item\n",
              (long long)st->items, st->payload_bytes, (long long)stages,
              st->by_value ? "value" : "pointer", (unsigned long long)allocs,
              (double)bytes / 1048576.0, (double)st->bytes_copied / 1048576.0,
              (unsigned long long)cycles, (double)elapsed / (double)st->items);
    rt_metric(rt, "ns_per_item", (double)elapsed / (double)st->items, "ns");
    rt_metric(rt, "allocs", (double)allocs, "");
    rt_metric(rt, "alloc_bytes", (double)bytes, "B");
    rt_metric(rt, "bytes_per_item", (double)bytes / (double)st->items, "B");
    rt_metric(rt, "bytes_copied", (double)st->bytes_copied, "B");
    rt_metric(rt, "gc_cycles", (double)cycles, "");
}
