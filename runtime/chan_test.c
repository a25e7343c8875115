/*
** runtime/chan_test.c -- channels and select against Go's documented
** behaviour, on a real scheduler over a real shared heap: FIFO buffers,
** unbuffered rendezvous, close (receivers get zero values and false,
** senders fail), the misuse messages, select (uniform among ready cases,
** default, waking and cleaning up), len/cap, values kept alive by a buffer
** or in flight across forced collections, deadlock reports, stacks set
** aside while parked, and safepoints honoured inside channel loops and
** spawn loops while another process collects.
*/
#include "runtime/chan.h"
#include "runtime/rt_testutil.h"
#include "runtime/sync.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1u << 20)

/* Elements used below: a ref + an 8-byte tag (1, 8). */

/* ---- Buffered FIFO, len and cap ------------------------------------------ */

typedef struct fifo {
    heap_ref_t ch;          /* rooted by the test's frame */
    int n;
} fifo_t;

static void fifo_sender(rt_t *rt, void *arg)
{
    fifo_t *f = arg;
    heap_ref_t *frame = rt_push(rt, 1);

    for (int i = 0; i < f->n; i++) {
        uint64_t tag = 1000 + (uint64_t)i;
        frame[0] = rtt_tagged(rt, tag, i % 3 == 0);
        chan_send(rt, f->ch, frame, &tag);   /* blocks when the buffer is full */
    }
    rt_pop(rt, 1);
}

static void t_fifo(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 2);
    fifo_t *f = malloc(sizeof *f);
    (void)arg;

    frame[0] = chan_make(rt, 1, 8, 4);
    CHECK_INT(chan_len(rt, frame[0]), 0);
    CHECK_INT(chan_cap(rt, frame[0]), 4);
    CHECK_INT(chan_len(rt, 0), 0);
    CHECK_INT(chan_cap(rt, 0), 0);

    /* Fill it: four sends complete without a receiver. */
    for (uint64_t i = 0; i < 4; i++) {
        frame[1] = rtt_tagged(rt, i, true);
        chan_send(rt, frame[0], &frame[1], &i);
        CHECK_INT(chan_len(rt, frame[0]), i + 1);
    }
    frame[1] = 0;
    for (uint64_t i = 0; i < 4; i++) {
        heap_ref_t got = 0;
        uint64_t tag = 99;
        CHECK(chan_recv(rt, frame[0], &got, &tag));
        CHECK_INT(tag, i);
        CHECK(rtt_tag_ok(rt, got, i, true));
    }
    CHECK_INT(chan_len(rt, frame[0]), 0);

    /* A sender that blocks on the full buffer: order is still FIFO. */
    f->ch = frame[0];
    f->n = 50;
    rt_go(rt, fifo_sender, f);
    for (int i = 0; i < 50; i++) {
        heap_ref_t got = 0;
        uint64_t tag = 0;
        if (i % 7 == 0)
            sched_yield(rt_sched(rt));   /* let the buffer fill up */
        CHECK(chan_len(rt, frame[0]) <= 4);
        CHECK(chan_recv(rt, frame[0], &got, &tag));
        CHECK_INT(tag, 1000 + i);
        CHECK(rtt_tag_ok(rt, got, 1000 + (uint64_t)i, i % 3 == 0));
    }
    free(f);
    rt_pop(rt, 2);
}

static void test_buffered_fifo_len_cap(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    rtt_outcome_t o = rtt_run(&w, t_fifo, NULL);
    CHECK_INT(o.rc, 0);
    rtt_close(&w);
}

/* ---- Unbuffered rendezvous --------------------------------------------------- */

typedef struct rv {
    heap_ref_t ch;
    int sent;               /* set by the sender once its send returned */
} rv_t;

static void rv_sender(rt_t *rt, void *arg)
{
    rv_t *r = arg;
    int64_t v = 7;
    chan_send(rt, r->ch, NULL, &v);
    r->sent = 1;
}

static void t_rendezvous(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 1);
    rv_t *r = calloc(1, sizeof *r);
    int64_t v = 0;
    (void)arg;

    frame[0] = chan_make(rt, 0, sizeof(int64_t), 0);
    r->ch = frame[0];
    rt_go(rt, rv_sender, r);
    for (int i = 0; i < 10; i++)
        sched_yield(rt_sched(rt));
    /* Nobody received: the sender is still blocked, nothing is buffered. */
    CHECK_INT(r->sent, 0);
    CHECK_INT(chan_len(rt, frame[0]), 0);
    CHECK(chan_recv(rt, frame[0], NULL, &v));
    CHECK_INT(v, 7);
    sched_yield(rt_sched(rt));
    CHECK_INT(r->sent, 1);
    free(r);
    rt_pop(rt, 1);
}

static void test_unbuffered_rendezvous(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_rendezvous, NULL).rc, 0);
    rtt_close(&w);
}

/* ---- Close ---------------------------------------------------------------------- */

typedef struct closer {
    heap_ref_t ch;
    int woken, ok_count, zero_count;
} closer_t;

static void close_receiver(rt_t *rt, void *arg)
{
    closer_t *c = arg;
    heap_ref_t got = 12345;
    uint64_t tag = 777;
    bool ok = chan_recv(rt, c->ch, &got, &tag);
    c->woken++;
    c->ok_count += ok;
    c->zero_count += got == 0 && tag == 0;
}

static void t_close_wakes_all(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 2);
    closer_t *c = calloc(1, sizeof *c);
    (void)arg;

    frame[0] = chan_make(rt, 1, 8, 0);
    c->ch = frame[0];
    for (int i = 0; i < 5; i++)
        rt_go(rt, close_receiver, c);
    for (int i = 0; i < 3; i++)
        sched_yield(rt_sched(rt));
    CHECK_INT(c->woken, 0);
    chan_close(rt, frame[0]);
    for (int i = 0; i < 3; i++)
        sched_yield(rt_sched(rt));
    CHECK_INT(c->woken, 5);
    CHECK_INT(c->ok_count, 0);
    CHECK_INT(c->zero_count, 5);

    /* A closed buffered channel drains first, then reports false. */
    frame[1] = chan_make(rt, 1, 8, 3);
    for (uint64_t i = 1; i <= 2; i++) {
        heap_ref_t obj = rtt_tagged(rt, i, false);
        chan_send(rt, frame[1], &obj, &i);
    }
    chan_close(rt, frame[1]);
    CHECK_INT(chan_len(rt, frame[1]), 2);
    for (uint64_t i = 1; i <= 2; i++) {
        heap_ref_t got = 0;
        uint64_t tag = 0;
        CHECK(chan_recv(rt, frame[1], &got, &tag));
        CHECK_INT(tag, i);
        CHECK(rtt_tag_ok(rt, got, i, false));
    }
    heap_ref_t got = 1;
    uint64_t tag = 1;
    CHECK(!chan_recv(rt, frame[1], &got, &tag));
    CHECK(got == 0 && tag == 0);
    CHECK(!chan_recv(rt, frame[1], NULL, NULL));   /* again, and discarding */
    free(c);
    rt_pop(rt, 2);
}

static void test_close_wakes_all_receivers(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_close_wakes_all, NULL).rc, 0);
    rtt_close(&w);
}

static void t_send_on_closed(rt_t *rt, void *arg)
{
    heap_ref_t ch = chan_make(rt, 0, 8, 1);
    int64_t v = 1;
    (void)arg;
    chan_close(rt, ch);
    chan_send(rt, ch, NULL, &v);
    CHECK(!"chan_send on a closed channel returned");
}

static void blocked_sender(rt_t *rt, void *arg)
{
    int64_t v = 5;
    chan_send(rt, *(heap_ref_t *)arg, NULL, &v);
    CHECK(!"a blocked sender survived the close");
}

static void t_close_fails_blocked_sender(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 1);
    heap_ref_t *chp = malloc(sizeof *chp);
    (void)arg;
    sched_defer(rt_sched(rt), free, chp);
    frame[0] = *chp = chan_make(rt, 0, 8, 0);
    rt_go(rt, blocked_sender, chp);
    sched_yield(rt_sched(rt));
    chan_close(rt, frame[0]);
    for (int i = 0; i < 3; i++)
        sched_yield(rt_sched(rt));
    CHECK(!"the task should have failed");
}

static void t_close_closed(rt_t *rt, void *arg)
{
    heap_ref_t ch = chan_make(rt, 0, 0, 0);
    (void)arg;
    chan_close(rt, ch);
    chan_close(rt, ch);
}

static void t_close_nil(rt_t *rt, void *arg)
{
    (void)arg;
    chan_close(rt, 0);
}

static void expect_failure(void (*fn)(rt_t *, void *), const char *want)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    rtt_outcome_t o = rtt_run(&w, fn, NULL);
    CHECK_INT(o.rc, SCHED_EFAILED);
    CHECK_STR(o.failure, want);
    rtt_close(&w);
}

static void test_misuse_fails_the_task(void)
{
    expect_failure(t_send_on_closed, "send on closed channel");
    expect_failure(t_close_fails_blocked_sender, "send on closed channel");
    expect_failure(t_close_closed, "close of closed channel");
    expect_failure(t_close_nil, "close of nil channel");
}

/* ---- select ------------------------------------------------------------------------- */

#define FAIR_TRIALS 20000

static void t_select_fair(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 3);
    int counts[3] = {0, 0, 0};
    int64_t vals[3] = {10, 20, 30}, got = -1;
    (void)arg;

    for (int k = 0; k < 3; k++) {
        frame[k] = chan_make(rt, 0, sizeof(int64_t), 1);
        chan_send(rt, frame[k], NULL, &vals[k]);   /* all three always ready */
    }
    chan_case_t cases[3];
    for (int k = 0; k < 3; k++)
        cases[k] = (chan_case_t){.dir = CHAN_RECV, .ch = frame[k], .scalars_out = &got};
    for (int t = 0; t < FAIR_TRIALS; t++) {
        int k = chan_select(rt, cases, 3, false);
        CHECK(k >= 0 && k < 3);
        if (k < 0 || k >= 3)
            break;
        CHECK(cases[k].ok);
        CHECK_INT(got, vals[k]);
        counts[k]++;
        chan_send(rt, frame[k], NULL, &vals[k]);   /* ready again */
    }
    /* Uniform: each near 1/3. The bound is loose (the stream is seeded, so
    ** this is deterministic; a biased choice would be far off). */
    for (int k = 0; k < 3; k++) {
        if (counts[k] < FAIR_TRIALS / 3 - FAIR_TRIALS / 20 ||
            counts[k] > FAIR_TRIALS / 3 + FAIR_TRIALS / 20) {
            CHECK_MSG(false, "select counts %d %d %d", counts[0], counts[1], counts[2]);
            break;
        }
    }
    /* Only one ready of three: always that one. */
    chan_recv(rt, frame[0], NULL, NULL);
    chan_recv(rt, frame[2], NULL, NULL);
    for (int t = 0; t < 100; t++) {
        CHECK_INT(chan_select(rt, cases, 3, true), 1);
        chan_send(rt, frame[1], NULL, &vals[1]);
    }
    rt_pop(rt, 3);
}

static void test_select_picks_uniformly(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_select_fair, NULL).rc, 0);
    rtt_close(&w);
}

typedef struct selw {
    heap_ref_t a, b;        /* unbuffered; rooted by the test */
    int stage;
} selw_t;

static void sel_feeder(rt_t *rt, void *arg)
{
    selw_t *s = arg;
    heap_ref_t obj = rtt_tagged(rt, 4242, true);   /* unrooted: send roots it */
    uint64_t tag = 4242;
    s->stage = 1;
    chan_send(rt, s->b, &obj, &tag);
    s->stage = 2;
}

static void sel_taker(rt_t *rt, void *arg)
{
    selw_t *s = arg;
    heap_ref_t got = 0;
    uint64_t tag = 0;
    CHECK(chan_recv(rt, s->a, &got, &tag));
    CHECK_INT(tag, 99);
    CHECK(rtt_tag_ok(rt, got, 99, false));
    s->stage = 3;
}

static void t_select_default_and_block(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 3);
    selw_t *s = calloc(1, sizeof *s);
    heap_ref_t got = 0;
    uint64_t tag = 0;
    (void)arg;

    frame[0] = s->a = chan_make(rt, 1, 8, 0);
    frame[1] = s->b = chan_make(rt, 1, 8, 0);
    chan_case_t cases[2] = {
        {.dir = CHAN_RECV, .ch = s->a, .refs_out = &got, .scalars_out = &tag},
        {.dir = CHAN_RECV, .ch = s->b, .refs_out = &got, .scalars_out = &tag},
    };
    /* Nothing ready: default. Nil channels are never ready. */
    CHECK_INT(chan_select(rt, cases, 2, true), CHAN_SELECT_DEFAULT);
    chan_case_t nil_case = {.dir = CHAN_SEND, .ch = 0};
    CHECK_INT(chan_select(rt, &nil_case, 1, true), CHAN_SELECT_DEFAULT);
    CHECK_INT(chan_select(rt, NULL, 0, true), CHAN_SELECT_DEFAULT);

    /* Blocking: woken by a send on b, with the value. */
    rt_go(rt, sel_feeder, s);
    int k = chan_select(rt, cases, 2, false);
    CHECK_INT(k, 1);
    CHECK(cases[1].ok);
    CHECK_INT(tag, 4242);
    CHECK(rtt_tag_ok(rt, got, 4242, true));
    sched_yield(rt_sched(rt));
    CHECK_INT(s->stage, 2);
    /* Its wait on `a` is gone: a send on a finds no receiver. */
    int64_t one = 1;
    chan_case_t send_a = {.dir = CHAN_SEND, .ch = s->a, .refs = NULL, .scalars = &one};
    CHECK_INT(chan_select(rt, &send_a, 1, true), CHAN_SELECT_DEFAULT);

    /* A blocking select that sends: a receiver takes the value. */
    rt_go(rt, sel_taker, s);
    frame[2] = rtt_tagged(rt, 99, false);
    uint64_t ninety_nine = 99;
    chan_case_t send_cases[2] = {
        {.dir = CHAN_SEND, .ch = s->a, .refs = &frame[2], .scalars = &ninety_nine},
        {.dir = CHAN_RECV, .ch = s->b, .refs_out = &got, .scalars_out = &tag},
    };
    CHECK_INT(chan_select(rt, send_cases, 2, false), 0);
    sched_yield(rt_sched(rt));
    CHECK_INT(s->stage, 3);

    /* Close wakes a select waiting to receive, with ok == false. */
    frame[2] = chan_make(rt, 0, 0, 0);
    chan_case_t recv_closed = {.dir = CHAN_RECV, .ch = frame[2]};
    chan_close(rt, frame[2]);
    CHECK_INT(chan_select(rt, &recv_closed, 1, false), 0);
    CHECK(!recv_closed.ok);
    free(s);
    rt_pop(rt, 3);
}

static void test_select_default_and_blocking(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_select_default_and_block, NULL).rc, 0);
    rtt_close(&w);
}

/* ---- Values kept alive by the channel ----------------------------------------------- */

static void t_buffer_is_a_root(rt_t *rt, void *arg)
{
    heap_t *h = rt_heap(rt);
    heap_ref_t *frame = rt_push(rt, 1);
    (void)arg;

    frame[0] = chan_make(rt, 1, 8, 64);
    for (uint64_t i = 0; i < 64; i++) {
        /* Nothing but the buffer refers to these. */
        heap_ref_t obj = rtt_tagged(rt, 5000 + i, true);
        uint64_t tag = 5000 + i;
        chan_send(rt, frame[0], &obj, &tag);
    }
    /* Receive some, so the ring wraps and freed cells are nil. */
    for (uint64_t i = 0; i < 10; i++)
        CHECK(chan_recv(rt, frame[0], NULL, NULL));
    for (uint64_t i = 64; i < 74; i++) {
        heap_ref_t obj = rtt_tagged(rt, 5000 + i, i % 2 == 0);
        uint64_t tag = 5000 + i;
        chan_send(rt, frame[0], &obj, &tag);
    }
    for (int round = 0; round < 3; round++) {
        CHECK_INT(heap_collect(h), 0);
        rtt_churn(rt, 20000);   /* reuses every freed slot, scribbling */
    }
    heap_stats_t st;
    heap_stats_read(h, &st);
    CHECK(st.num_gc >= 3);
    for (uint64_t i = 10; i < 74; i++) {
        heap_ref_t got = 0;
        uint64_t tag = 0;
        CHECK(chan_recv(rt, frame[0], &got, &tag));
        CHECK_INT(tag, 5000 + i);
        CHECK(rtt_tag_ok(rt, got, 5000 + i, i < 64 || i % 2 == 0));
    }
    rt_pop(rt, 1);
}

static void test_buffer_values_survive_collection(void)
{
    rtt_world_t w;
    rtt_open(&w, 128 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_buffer_is_a_root, NULL).rc, 0);
    rtt_close(&w);
}

typedef struct flight {
    heap_ref_t ch;
    int received;
} flight_t;

static void flight_receiver(rt_t *rt, void *arg)
{
    flight_t *f = arg;
    heap_ref_t got = 0;
    uint64_t tag = 0;
    CHECK(chan_recv(rt, f->ch, &got, &tag));
    /* Handed over while parked; collections ran before we got here. */
    CHECK_INT(tag, 31337);
    CHECK(rtt_tag_ok(rt, got, 31337, true));
    f->received = 1;
}

static void flight_sender(rt_t *rt, void *arg)
{
    flight_t *f = arg;
    heap_ref_t obj = rtt_tagged(rt, 8086, true);   /* unrooted */
    uint64_t tag = 8086;
    chan_send(rt, f->ch, &obj, &tag);   /* parks: no receiver yet */
}

static void t_in_flight(rt_t *rt, void *arg)
{
    heap_t *h = rt_heap(rt);
    heap_ref_t *frame = rt_push(rt, 1);
    flight_t *f = calloc(1, sizeof *f);
    (void)arg;

    frame[0] = f->ch = chan_make(rt, 1, 8, 0);
    /* To a parked receiver: the sender's value goes straight into the
    ** receiver's wait record, then collections run before it wakes. */
    rt_go(rt, flight_receiver, f);
    sched_yield(rt_sched(rt));          /* it parks */
    heap_ref_t obj = rtt_tagged(rt, 31337, true);   /* unrooted */
    uint64_t tag = 31337;
    chan_send(rt, frame[0], &obj, &tag);   /* hands over, the receiver is runnable */
    obj = 0;
    for (int round = 0; round < 3; round++) {
        CHECK_INT(heap_collect(h), 0);
        rtt_churn(rt, 20000);
    }
    CHECK_INT(f->received, 0);
    sched_yield(rt_sched(rt));
    CHECK_INT(f->received, 1);

    /* From a parked sender: its value waits in its record. */
    rt_go(rt, flight_sender, f);
    sched_yield(rt_sched(rt));          /* it parks with the value */
    for (int round = 0; round < 3; round++) {
        CHECK_INT(heap_collect(h), 0);
        rtt_churn(rt, 20000);
    }
    heap_ref_t got = 0;
    CHECK(chan_recv(rt, frame[0], &got, &tag));
    CHECK_INT(tag, 8086);
    CHECK(rtt_tag_ok(rt, got, 8086, true));
    free(f);
    rt_pop(rt, 1);
}

static void test_values_in_flight_survive_collection(void)
{
    rtt_world_t w;
    rtt_open(&w, 128 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_in_flight, NULL).rc, 0);
    rtt_close(&w);
}

/* ---- Deadlocks -------------------------------------------------------------------------- */

static void dl_recv(rt_t *rt, void *arg)
{
    chan_recv(rt, *(heap_ref_t *)arg, NULL, NULL);
}

static void dl_select(rt_t *rt, void *arg)
{
    chan_case_t c[2] = {
        {.dir = CHAN_RECV, .ch = *(heap_ref_t *)arg},
        {.dir = CHAN_SEND, .ch = 0},
    };
    chan_select(rt, c, 2, false);
}

static void dl_nil(rt_t *rt, void *arg)
{
    (void)arg;
    chan_recv(rt, 0, NULL, NULL);
}

static void dl_empty_select(rt_t *rt, void *arg)
{
    (void)arg;
    chan_select(rt, NULL, 0, false);
}

static void t_deadlock(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 2);
    heap_ref_t *chs = malloc(2 * sizeof *chs);
    (void)arg;
    sched_defer(rt_sched(rt), free, chs);
    frame[0] = chs[0] = chan_make(rt, 0, 0, 0);
    frame[1] = chs[1] = chan_make(rt, 0, 0, 0);
    rt_go(rt, dl_recv, &chs[0]);
    rt_go(rt, dl_select, &chs[1]);
    rt_go(rt, dl_nil, NULL);
    rt_go(rt, dl_empty_select, NULL);
    chan_send(rt, chs[1], NULL, NULL);   /* a select waits to receive on it... */
    chan_send(rt, chs[1], NULL, NULL);   /* ...but only once */
}

static void t_select_deadlock(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 1);
    (void)arg;
    frame[0] = chan_make(rt, 0, 0, 0);
    dl_select(rt, &frame[0]);
}

static void test_deadlock_reports_channel_waits(void)
{
    int failed_before = testrun_failures();
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    rtt_outcome_t o = rtt_run(&w, t_deadlock, NULL);
    CHECK_INT(o.rc, SCHED_EDEADLOCK);
    CHECK(strstr(o.failure, "all goroutines are asleep - deadlock!") != NULL);
    CHECK(strstr(o.failure, "[chan send]") != NULL);
    CHECK(strstr(o.failure, "[chan receive]") != NULL);
    CHECK(strstr(o.failure, "[chan receive (nil chan)]") != NULL);
    CHECK(strstr(o.failure, "[select (no cases)]") != NULL);
    if (testrun_failures() > failed_before)
        fprintf(stderr, "report:\n%s\n", o.failure);
    rtt_close(&w);

    rtt_open(&w, 64 * MiB, 0);
    o = rtt_run(&w, t_select_deadlock, NULL);
    CHECK_INT(o.rc, SCHED_EDEADLOCK);
    CHECK(strstr(o.failure, "[select]") != NULL);
    if (!strstr(o.failure, "[select]"))
        fprintf(stderr, "report:\n%s\n", o.failure);
    rtt_close(&w);
}

/* ---- Stacks set aside while parked ---------------------------------------------------------- */

#define PARKED 3000
#define FRAME_WORDS 96

typedef struct parkers {
    heap_ref_t go;          /* unbuffered: each parker receives its seed */
    heap_ref_t results;     /* buffered PARKED */
} parkers_t;

/* Recurse `depth` frames, each with a local array, park at the bottom,
** then check every frame's array and a pointer into it after waking. */
static uint64_t deep_park(rt_t *rt, parkers_t *p, int depth, uint64_t seed, uint64_t *seed_out)
{
    volatile uint64_t local[FRAME_WORDS];
    volatile uint64_t *self = &local[FRAME_WORDS / 2];   /* a pointer into our own stack */
    uint64_t sum = 0;

    for (int i = 0; i < FRAME_WORDS; i++)
        local[i] = seed * 1315423911u + (uint64_t)i * 2654435761u + (uint64_t)depth;
    if (depth > 0) {
        sum = deep_park(rt, p, depth - 1, seed, seed_out);
    } else {
        uint64_t got = 0;
        CHECK(chan_recv(rt, p->go, NULL, &got));   /* parked here, stack set aside */
        *seed_out = got;
    }
    for (int i = 0; i < FRAME_WORDS; i++) {
        uint64_t want = seed * 1315423911u + (uint64_t)i * 2654435761u + (uint64_t)depth;
        if (local[i] != want) {
            CHECK(local[i] == want);
            break;
        }
    }
    CHECK(*self == local[FRAME_WORDS / 2]);
    return sum + local[7];
}

typedef struct parker_arg {
    parkers_t *p;
    uint64_t index;
} parker_arg_t;

static void parker(rt_t *rt, void *arg)
{
    parker_arg_t *a = arg;
    uint64_t seed_in = 0;
    uint64_t sum = deep_park(rt, a->p, (int)(a->index % 5), a->index, &seed_in);
    uint64_t result = sum ^ seed_in;
    chan_send(rt, a->p->results, NULL, &result);
}

static void t_parked_stacks(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 2);
    parkers_t *p = calloc(1, sizeof *p);
    parker_arg_t *args = calloc(PARKED, sizeof *args);
    sched_stats_t st;
    (void)arg;

    frame[0] = p->go = chan_make(rt, 0, 8, 0);
    frame[1] = p->results = chan_make(rt, 0, 8, PARKED);
    for (uint64_t i = 0; i < PARKED; i++) {
        args[i] = (parker_arg_t){p, i};
        rt_go(rt, parker, &args[i]);
    }
    for (int i = 0; i < 3; i++)
        sched_yield(rt_sched(rt));       /* all of them park */
    sched_stats_read(rt_sched(rt), &st);
    /* Batches of them had their stacks copied aside and pages released. */
    CHECK(st.stacks_aside >= PARKED - 2 * 256);
    CHECK(st.stack_aside_bytes >= st.stacks_aside * 256);
    CHECK(st.stack_committed_bytes < (uint64_t)PARKED * 4096 / 2);
    /* Wake them in the order they parked, each with a seed. */
    for (uint64_t i = 0; i < PARKED; i++) {
        uint64_t seed = 0x5eed0000 + i;
        chan_send(rt, p->go, NULL, &seed);
    }
    uint64_t want = 0, got = 0;
    for (uint64_t i = 0; i < PARKED; i++) {
        /* deep_park's sum: local[7] of every frame, depth d..0. */
        uint64_t sum = 0;
        for (uint64_t d = 0; d <= i % 5; d++)
            sum += i * 1315423911u + 7ull * 2654435761u + d;
        want ^= sum ^ (0x5eed0000 + i);
        uint64_t r = 0;
        CHECK(chan_recv(rt, p->results, NULL, &r));
        got ^= r;
    }
    CHECK(got == want);
    sched_stats_read(rt_sched(rt), &st);
    CHECK_INT(st.stacks_aside, 0);
    CHECK_INT(st.stack_aside_bytes, 0);
    free(args);
    free(p);
    rt_pop(rt, 2);
}

static void test_parked_stacks_set_aside_and_restored(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_parked_stacks, NULL).rc, 0);
    rtt_close(&w);
}

/* ---- Safepoints: a collector in another process is not starved ----------------------- */

typedef struct shared_flag {
    uint32_t collections_done;
} shared_flag_t;

static shared_flag_t *flag;

static void collector_child(const char *name, int cycles)
{
    heap_t *h = NULL;
    if (heap_open(name, NULL, false, &h) != 0)
        _exit(2);
    heap_enter(h);
    for (int i = 0; i < cycles; i++)
        if (heap_collect(h) != 0)
            _exit(3);
    heap_close(&h, false);
    __atomic_store_n(&flag->collections_done, 1, __ATOMIC_SEQ_CST);
    _exit(0);
}

static void nothing(rt_t *rt, void *arg)
{
    (void)rt;
    (void)arg;
}

typedef struct sp_arg {
    const char *name;
    int mode;               /* 0: buffered send+receive, 1: select, 2: spawn */
} sp_arg_t;

static void t_safepoint_loop(rt_t *rt, void *arg)
{
    sp_arg_t *a = arg;
    heap_ref_t *frame = rt_push(rt, 1);
    int64_t v = 1;

    frame[0] = chan_make(rt, 0, 8, 1);
    chan_case_t c = {.dir = CHAN_SEND, .ch = frame[0], .scalars = &v};
    pid_t pid = fork();
    if (pid == 0)
        collector_child(a->name, 5);
    CHECK(pid > 0);
    /* Neither allocating, yielding nor blocking: only the operations' own
    ** polls let the child's collections stop this process. */
    long spins = 0;
    while (!__atomic_load_n(&flag->collections_done, __ATOMIC_SEQ_CST)) {
        if (a->mode == 0) {
            chan_send(rt, frame[0], NULL, &v);
            chan_recv(rt, frame[0], NULL, &v);
        } else if (a->mode == 1) {
            CHECK_INT(chan_select(rt, &c, 1, true), 0);
            chan_recv(rt, frame[0], NULL, &v);
        } else {
            rt_go(rt, nothing, NULL);
        }
        spins++;
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(spins > 0);
    rt_pop(rt, 1);
}

static void test_safepoints_in_channel_and_spawn_loops(void)
{
    flag = mmap(NULL, sizeof *flag, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(flag != MAP_FAILED);
    for (int mode = 0; mode < 3; mode++) {
        rtt_world_t w;
        rtt_open(&w, 64 * MiB, 0);
        /* The child attaches by name: undo rtt_open's unlink for it. */
        char name[96];
        rtt_name(name, sizeof name, "sp");
        heap_close(&w.heap, true);
        heap_config_t cfg;
        heap_config_default(&cfg);
        cfg.heap_max_bytes = 64 * MiB;
        CHECK_INT(heap_open(name, &cfg, true, &w.heap), 0);
        flag->collections_done = 0;
        sp_arg_t a = {name, mode};
        rtt_outcome_t o = rtt_run(&w, t_safepoint_loop, &a);
        CHECK_INT(o.rc, 0);
        heap_unlink(name);
        rtt_close(&w);
    }
    munmap(flag, sizeof *flag);
}

int main(int argc, char **argv)
{
    static const rtt_case_t cases[] = {
        {"buffered_fifo_len_cap", test_buffered_fifo_len_cap},
        {"unbuffered_rendezvous", test_unbuffered_rendezvous},
        {"close_wakes_all_receivers", test_close_wakes_all_receivers},
        {"misuse_fails_the_task", test_misuse_fails_the_task},
        {"select_picks_uniformly", test_select_picks_uniformly},
        {"select_default_and_blocking", test_select_default_and_blocking},
        {"buffer_values_survive_collection", test_buffer_values_survive_collection},
        {"values_in_flight_survive_collection", test_values_in_flight_survive_collection},
        {"deadlock_reports_channel_waits", test_deadlock_reports_channel_waits},
        {"parked_stacks_set_aside_and_restored", test_parked_stacks_set_aside_and_restored},
        {"safepoints_in_channel_and_spawn_loops", test_safepoints_in_channel_and_spawn_loops},
    };
    return rtt_main(argc, argv, cases, sizeof cases / sizeof cases[0], 120);
}
