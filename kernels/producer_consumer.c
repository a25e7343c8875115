/*
** kernels/producer_consumer.c -- producers and slower consumers over one
** channel, unbuffered or buffered: what a buffer buys and what it costs.
**
** `producers` goroutines make `items` items between them: each item costs
** its producer produce_ns of work, then is allocated (an object of
** item_bytes: its number, a check word, the payload) and sent on a channel
** of `buffer` slots (0: unbuffered, a rendezvous). `consumers` goroutines
** receive, check the item and spend consume_ns of work on it. When every
** producer is done the main goroutine closes the channel; the consumers
** drain it and end. Every item must arrive exactly once, intact, or the
** task fails.
**
** Work is a sleep by default: time spent waiting on something else (I/O,
** another service, another CPU), which on heapsim's single scheduler
** thread is the only work goroutines can overlap; `work: spin` burns the
** thread instead and nothing overlaps (see kernels_int.h). With `variation:
** exponential` (the default) each item's work is drawn around its mean, as
** real per-item costs vary. That is where the buffer matters: without one,
** a producer that finishes an item early waits for a consumer to come
** back, and a consumer that finishes early waits for the next producer --
** each side is held to the other's slow moments. A buffer absorbs those
** bursts, so the slower side (the consumers) can stay busy and throughput
** approaches its capacity. With fixed work, or when one side is always
** slower, the buffer fills and the producers block anyway: it only delays
** the blocking, and it holds buffer x item_bytes of items live meanwhile.
**
** Time blocked is measured around the channel operations: a send that
** finds a waiting consumer or room in the buffer costs next to nothing; one
** that parks counts until a consumer takes the item.
**
** State: malloc'd, shared by every goroutine and freed when the main
** goroutine ends (it waits for all the others; after a failure the others'
** code never runs again). The channel is rooted in the main goroutine's
** frame; the others reach it through that slot.
*/
#include "kernels/kernels.h"
#include "kernels/kernels_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/chan.h"
#include "runtime/sync.h"

#define PC_CHECK_MAGIC 0x5043u    /* "PC" */

typedef struct pc_state {
    heap_t *heap;
    heap_ref_t *ch_root;          /* main's root slot holding the channel */
    int64_t items;
    size_t item_bytes;
    uint64_t produce_ns, consume_ns;
    bool exponential, spin;
    int64_t next_item;            /* the next item number a producer takes */
    sync_wg_t producers, consumers;
    /* what happened */
    uint8_t *seen;                /* items entries: received yet? */
    int64_t received;
    uint64_t send_wait_ns, recv_wait_ns;   /* summed over goroutines */
    uint64_t produce_work_ns, consume_work_ns;   /* work actually spent */
    uint64_t max_queued;
    uint64_t heap_peak_bytes;
    int64_t bad_item;             /* first broken item seen, -1 none */
    char bad_what[64];
    uint64_t seed;
} pc_state_t;

static uint64_t check_word(int64_t id)
{
    return ((uint64_t)id * 0x9e3779b97f4a7c15ull) ^ PC_CHECK_MAGIC;
}

static void note_bad(pc_state_t *st, int64_t id, const char *what)
{
    if (st->bad_item < 0) {
        st->bad_item = id;
        snprintf(st->bad_what, sizeof st->bad_what, "%s", what);
    }
}

static void producer(rt_t *rt, void *arg)
{
    pc_state_t *st = arg;
    heap_t *h = st->heap;
    uint64_t rng = st->seed ^ ((uint64_t)sched_self_id(rt_sched(rt)) * 0x2545f4914f6cdd1dull);
    heap_ref_t *frame = rt_push(rt, 1);
    heap_stats_t hs;

    for (;;) {
        int64_t id = st->next_item;
        if (id >= st->items)
            break;
        st->next_item++;

        uint64_t w0 = rt_now_ns();
        kern__work(rt, kern__duration_ns(&rng, st->produce_ns, st->exponential), st->spin);
        st->produce_work_ns += rt_now_ns() - w0;

        frame[0] = rt_alloc_at(rt, 0, st->item_bytes, "producer_consumer.item");
        uint64_t *data = heap_data(h, frame[0], 0);
        data[0] = (uint64_t)id;
        data[1] = check_word(id);
        memset(&data[2], (int)(id & 0xff), st->item_bytes - 2 * sizeof(uint64_t));

        uint64_t t0 = rt_now_ns();
        chan_send(rt, *st->ch_root, &frame[0], NULL);
        st->send_wait_ns += rt_now_ns() - t0;
        frame[0] = 0;

        size_t queued = chan_len(rt, *st->ch_root);
        if (queued > st->max_queued)
            st->max_queued = queued;
        heap_stats_read(h, &hs);
        if (hs.heap_inuse_bytes > st->heap_peak_bytes)
            st->heap_peak_bytes = hs.heap_inuse_bytes;
    }
    rt_pop(rt, 1);
    sync_wg_done(rt_sched(rt), &st->producers);
}

static void consumer(rt_t *rt, void *arg)
{
    pc_state_t *st = arg;
    heap_t *h = st->heap;
    uint64_t rng = st->seed ^ ((uint64_t)sched_self_id(rt_sched(rt)) * 0xd1b54a32d192ed03ull);
    heap_ref_t *frame = rt_push(rt, 1);
    size_t payload = st->item_bytes - 2 * sizeof(uint64_t);

    for (;;) {
        uint64_t t0 = rt_now_ns();
        bool ok = chan_recv(rt, *st->ch_root, &frame[0], NULL);   /* rooted at once */
        st->recv_wait_ns += rt_now_ns() - t0;
        if (!ok)
            break;

        const uint64_t *data = heap_data(h, frame[0], 0);
        int64_t id = (int64_t)data[0];
        const unsigned char *bytes = (const unsigned char *)&data[2];
        if (id < 0 || id >= st->items) {
            note_bad(st, id, "has a number out of range");
        } else if (data[1] != check_word(id) ||
                   (payload > 0 && (bytes[0] != (id & 0xff) ||
                                    bytes[payload / 2] != (id & 0xff) ||
                                    bytes[payload - 1] != (id & 0xff)))) {
            note_bad(st, id, "arrived damaged");
        } else if (st->seen[id]) {
            note_bad(st, id, "arrived twice");
        } else {
            st->seen[id] = 1;
            st->received++;
        }

        uint64_t w0 = rt_now_ns();
        kern__work(rt, kern__duration_ns(&rng, st->consume_ns, st->exponential), st->spin);
        st->consume_work_ns += rt_now_ns() - w0;
        frame[0] = 0;
    }
    rt_pop(rt, 1);
    sync_wg_done(rt_sched(rt), &st->consumers);
}

static void state_free(void *arg)
{
    pc_state_t *st = arg;
    free(st->seen);
    free(st);
}

void kernel_producer_consumer(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t nprod = kparams_int(p, "producers");
    int64_t ncons = kparams_int(p, "consumers");
    int64_t buffer = kparams_int(p, "buffer");
    heap_stats_t hs0;

    pc_state_t *st = calloc(1, sizeof *st);
    if (!st)
        rt_fail(rt, "out of memory: producer_consumer state");
    if (sched_defer(s, state_free, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: producer_consumer cleanup");
    }
    st->heap = h;
    st->items = kparams_int(p, "items");
    st->item_bytes = (size_t)kparams_int(p, "item_bytes");
    st->produce_ns = (uint64_t)kparams_int(p, "produce_ns");
    st->consume_ns = (uint64_t)kparams_int(p, "consume_ns");
    st->exponential = strcmp(kparams_string(p, "variation"), "exponential") == 0;
    st->spin = strcmp(kparams_string(p, "work"), "spin") == 0;
    st->bad_item = -1;
    st->seed = rt_seed(rt);
    st->seen = calloc((size_t)st->items, 1);
    if (!st->seen)
        rt_fail(rt, "out of memory: producer_consumer item table");
    sync_wg_init(&st->producers);
    sync_wg_init(&st->consumers);

    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = chan_make(rt, 1, 0, (size_t)buffer);   /* chan *item */
    st->ch_root = &frame[0];

    heap_stats_read(h, &hs0);
    st->heap_peak_bytes = hs0.heap_inuse_bytes;
    uint64_t t0 = rt_now_ns();
    sync_wg_add(s, &st->producers, nprod);
    sync_wg_add(s, &st->consumers, ncons);
    for (int64_t i = 0; i < ncons; i++)
        rt_go(rt, consumer, st);
    for (int64_t i = 0; i < nprod; i++)
        rt_go(rt, producer, st);
    sync_wg_wait(s, &st->producers);
    chan_close(rt, frame[0]);
    sync_wg_wait(s, &st->consumers);
    uint64_t elapsed = rt_now_ns() - t0;
    st->ch_root = NULL;
    rt_pop(rt, 1);

    if (st->bad_item >= 0)
        rt_fail(rt, "producer_consumer: item %lld %s", (long long)st->bad_item, st->bad_what);
    if (st->received != st->items)
        rt_fail(rt, "producer_consumer: %lld of %lld items arrived",
                (long long)st->received, (long long)st->items);

    double secs = (double)elapsed / 1e9;
    double prod_blocked = 100.0 * (double)st->send_wait_ns / ((double)elapsed * (double)nprod);
    double cons_blocked = 100.0 * (double)st->recv_wait_ns / ((double)elapsed * (double)ncons);
    double rate = (double)st->items / secs;
    rt_printf(rt, "producer_consumer: %lld items of %zu B, %lld producers (%.0f us each) -> "
              "%lld consumers (%.0f us each), buffer %lld, %s %s work: %.0f items/s; "
              "producers blocked %.1f%% of the time, consumers %.1f%%; at most %llu queued\n",
              (long long)st->items, st->item_bytes, (long long)nprod,
              (double)st->produce_ns / 1e3, (long long)ncons, (double)st->consume_ns / 1e3,
              (long long)buffer, st->exponential ? "exponential" : "fixed",
              st->spin ? "spin" : "sleep", rate, prod_blocked, cons_blocked,
              (unsigned long long)st->max_queued);
    rt_metric(rt, "items_per_sec", rate, "items/s");
    rt_metric(rt, "producer_blocked_percent", prod_blocked, "%");
    rt_metric(rt, "consumer_blocked_percent", cons_blocked, "%");
    rt_metric(rt, "send_wait_ns", (double)st->send_wait_ns / (double)st->items, "ns");
    rt_metric(rt, "recv_wait_ns", (double)st->recv_wait_ns / (double)st->items, "ns");
    rt_metric(rt, "produce_work_ns", (double)st->produce_work_ns / (double)st->items, "ns");
    rt_metric(rt, "consume_work_ns", (double)st->consume_work_ns / (double)st->items, "ns");
    rt_metric(rt, "consumer_busy_percent",
              100.0 * (double)st->consume_work_ns / ((double)elapsed * (double)ncons), "%");
    rt_metric(rt, "max_queued", (double)st->max_queued, "items");
    rt_metric(rt, "queued_bytes_max", (double)st->max_queued * (double)st->item_bytes, "B");
    rt_metric(rt, "heap_peak_bytes", (double)st->heap_peak_bytes, "B");
}
