/*
** runtime/chan_1m_test.c -- a million goroutines parked on one channel
** cost less memory than Go's (2733 bytes per parked goroutine, Go 1.19,
** bench/go/spawn): the growth of VmRSS while all are parked, divided by
** their number. Then all are released with one close and must all finish.
** Heavy (half a GiB of page tables, several seconds): tagged manual.
*/
#include "runtime/chan.h"
#include "runtime/rt_testutil.h"
#include "runtime/sync.h"

#include <stdlib.h>
#include <string.h>

#define N 1000000
#define GO_BYTES_PER_PARKED 2733

static long long vm_rss_bytes(void)
{
    char line[256];
    long long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

typedef struct state {
    heap_ref_t release;
    sync_wg_t parked, done;
    long woke;
} state_t;

static void body(rt_t *rt, void *arg)
{
    state_t *st = arg;
    sync_wg_done(rt_sched(rt), &st->parked);
    CHECK(!chan_recv(rt, st->release, NULL, NULL));
    st->woke++;
    sync_wg_done(rt_sched(rt), &st->done);
}

static void t_million(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 1);
    state_t *st = calloc(1, sizeof *st);
    sched_stats_t ss;
    (void)arg;

    frame[0] = st->release = chan_make(rt, 0, 0, 0);
    sync_wg_add(rt_sched(rt), &st->parked, N);
    sync_wg_add(rt_sched(rt), &st->done, N);
    long long rss0 = vm_rss_bytes();
    for (long i = 0; i < N; i++)
        rt_go(rt, body, st);
    sync_wg_wait(rt_sched(rt), &st->parked);
    long long rss1 = vm_rss_bytes();
    sched_stats_read(rt_sched(rt), &ss);
    double per = (double)(rss1 - rss0) / N;
    fprintf(stderr, "%d parked goroutines: %.0f bytes each (VmRSS), %llu stacks aside\n",
            N, per, (unsigned long long)ss.stacks_aside);
    CHECK(rss0 > 0 && rss1 > rss0);
    CHECK(per < GO_BYTES_PER_PARKED);
    CHECK(ss.stacks_aside >= N - 256);
    chan_close(rt, frame[0]);
    sync_wg_wait(rt_sched(rt), &st->done);
    CHECK_INT(st->woke, N);
    free(st);
    rt_pop(rt, 1);
}

static void test_million_parked(void)
{
    rtt_world_t w;
    /* Each parked goroutine holds a g record (416 B) and a sudog (96 B). */
    rtt_open(&w, 1024u << 20, N + 16);
    CHECK_INT(rtt_run(&w, t_million, NULL).rc, 0);
    rtt_close(&w);
}

int main(int argc, char **argv)
{
    static const rtt_case_t cases[] = {
        {"million_parked", test_million_parked},
    };
    return rtt_main(argc, argv, cases, 1, 600);
}
