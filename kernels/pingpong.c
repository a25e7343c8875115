/*
** kernels/pingpong.c -- two goroutines bounce a value over unbuffered
** channels: what a channel hand-off and the two switches it causes cost.
**
** The main goroutine sends i on `ping` and receives on `pong`; the other
** receives from `ping` until it is closed, answers v + 1 on `pong`, and
** closes `pong`. Like bench/go/pingpong. Every answer is checked.
*/
#include "kernels/kernels.h"

#include <stdlib.h>

#include "runtime/chan.h"

/* Shared by the two goroutines: malloc'd, not on the main goroutine's
** stack, which may be set aside while it blocks in a channel operation. */
typedef struct pingpong {
    heap_ref_t ping, pong;    /* rooted by the main goroutine's frame */
} pingpong_t;

static void ponger(rt_t *rt, void *arg)
{
    pingpong_t *pp = arg;
    int64_t v;

    while (chan_recv(rt, pp->ping, NULL, &v)) {
        v++;
        chan_send(rt, pp->pong, NULL, &v);
    }
    chan_close(rt, pp->pong);
}

void kernel_pingpong(rt_t *rt, const kparams_t *p)
{
    int64_t rounds = kparams_int(p, "rounds");
    heap_ref_t *frame = rt_push(rt, 2);
    pingpong_t *pp = malloc(sizeof *pp);

    if (!pp || sched_defer(rt_sched(rt), free, pp) != 0) {
        free(pp);
        rt_fail(rt, "out of memory: pingpong");
    }
    frame[0] = chan_make(rt, 0, sizeof(int64_t), 0);
    frame[1] = chan_make(rt, 0, sizeof(int64_t), 0);
    pp->ping = frame[0];
    pp->pong = frame[1];
    rt_go(rt, ponger, pp);

    uint64_t t0 = rt_now_ns();
    for (int64_t i = 0; i < rounds; i++) {
        int64_t v = i, back = -1;
        chan_send(rt, pp->ping, NULL, &v);
        if (!chan_recv(rt, pp->pong, NULL, &back) || back != i + 1)
            rt_fail(rt, "pingpong: round %lld came back as %lld", (long long)i,
                    (long long)back);
    }
    uint64_t elapsed = rt_now_ns() - t0;
    chan_close(rt, pp->ping);
    if (chan_recv(rt, pp->pong, NULL, NULL))   /* the ponger is done with pp */
        rt_fail(rt, "pingpong: pong not closed");
    rt_pop(rt, 2);

    rt_printf(rt, "pingpong: %lld rounds\n", (long long)rounds);
    rt_metric(rt, "ns_per_roundtrip", (double)elapsed / (double)rounds, "ns");
}
