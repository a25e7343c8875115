/*
** sched/timer.c -- the sleep heap: a binary min-heap of sleeping
** goroutines keyed by (deadline, sequence), on CLOCK_MONOTONIC.
**
** Its room is max_goroutines entries mapped MAP_NORESERVE, committed only
** as deep as the heap ever grows, so pushing never allocates or fails.
*/
#include "sched/sched_int.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>

uint64_t sched__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sched__timers_init(sched_t *s)
{
    size_t bytes = (size_t)s->max_goroutines * sizeof(sched__timer_t);
    void *p;

    bytes = (bytes + s->page_bytes - 1) & ~(s->page_bytes - 1);
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    s->timers = p;
    s->timers_bytes = bytes;
    s->ntimers = 0;
    return 0;
}

void sched__timers_fini(sched_t *s)
{
    if (s->timers != NULL)
        munmap(s->timers, s->timers_bytes);
    s->timers = NULL;
    s->ntimers = 0;
}

static bool timer_before(const sched__timer_t *a, const sched__timer_t *b)
{
    return a->when_ns < b->when_ns || (a->when_ns == b->when_ns && a->seq < b->seq);
}

void sched__timer_push(sched_t *s, uint64_t when_ns, sched__gor_t *g)
{
    sched__timer_t *h = s->timers;
    sched__timer_t t = { .when_ns = when_ns, .seq = s->timer_seq++, .g = g };
    size_t i = s->ntimers++;

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(&t, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = t;
}

sched__gor_t *sched__timer_pop_due(sched_t *s, uint64_t now_ns)
{
    sched__timer_t *h = s->timers;
    sched__gor_t *g;
    sched__timer_t last;
    size_t n, i = 0;

    if (s->ntimers == 0 || h[0].when_ns > now_ns)
        return NULL;
    g = h[0].g;
    n = --s->ntimers;
    if (n == 0)
        return g;
    last = h[n];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && timer_before(&h[child + 1], &h[child]))
            child++;
        if (!timer_before(&h[child], &last))
            break;
        h[i] = h[child];
        i = child;
    }
    h[i] = last;
    return g;
}
