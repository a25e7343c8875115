/* runtime/rt_testutil.c -- see rt_testutil.h. */
#include "runtime/rt_testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *rtt_name(char *buf, size_t size, const char *tag)
{
    static uint64_t nonce;
    static int seq;

    if (nonce == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (getrandom(&nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
            nonce = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
        nonce |= 1;
    }
    const char *prefix = getenv("HEAPSIM_SHM_PREFIX");
    if (prefix == NULL || *prefix == '\0' || strchr(prefix, '/') != NULL)
        prefix = "heapsim-";
    snprintf(buf, size, "/%srtt-%d-%016llx-%s%d", prefix, (int)getpid(),
             (unsigned long long)nonce, tag, ++seq);
    return buf;
}

void rtt_open(rtt_world_t *w, uint64_t heap_max, uint32_t max_goroutines)
{
    heap_config_t cfg;
    sched_config_t scfg;
    int rc;

    memset(w, 0, sizeof *w);
    rtt_name(w->shm_name, sizeof w->shm_name, "w");
    heap_config_default(&cfg);
    cfg.heap_max_bytes = heap_max;
    rc = heap_open(w->shm_name, &cfg, true, &w->heap);
    if (rc != 0) {
        fprintf(stderr, "heap_open: %s\n", heap_strerror(rc));
        abort();
    }
    heap_unlink(w->shm_name);   /* nothing left behind, whatever happens */
    sched_config_default(&scfg);
    if (max_goroutines)
        scfg.max_goroutines = max_goroutines;
    rc = sched_new(&scfg, &w->sched);
    if (rc != 0) {
        fprintf(stderr, "sched_new: %s\n", sched_strerror(rc));
        abort();
    }
}

void rtt_close(rtt_world_t *w)
{
    sched_destroy(&w->sched);
    heap_close(&w->heap, true);
}

typedef struct entry {
    void (*fn)(rt_t *rt, void *arg);
    void *arg;
    rt_t *rt;
} entry_t;

static void entry_main(sched_t *s, void *arg)
{
    entry_t *e = arg;
    (void)s;
    e->fn(e->rt, e->arg);
}

rtt_outcome_t rtt_run(rtt_world_t *w, void (*fn)(rt_t *rt, void *arg), void *arg)
{
    rtt_outcome_t out;
    char why[256];
    entry_t e = {fn, arg, NULL};

    memset(&out, 0, sizeof out);
    e.rt = rt_new(w->sched, w->heap, 42);
    if (!e.rt)
        abort();
    heap_enter(w->heap);
    if (sched_spawn(w->sched, entry_main, &e) <= 0)
        abort();
    out.rc = sched_run(w->sched);
    snprintf(out.failure, sizeof out.failure, "%s", sched_failure(w->sched));
    CHECK_MSG(heap_verify(w->heap, why, sizeof why) == 0, "heap_verify after the task: %s",
              why);
    heap_leave(w->heap);
    rt_destroy(&e.rt);
    return out;
}

heap_ref_t rtt_tagged(rt_t *rt, uint64_t tag, bool with_child)
{
    heap_t *h = rt_heap(rt);
    heap_ref_t *frame = rt_push(rt, 1);
    heap_ref_t obj;

    if (with_child) {
        frame[0] = rt_alloc(rt, 0, 16);
        ((uint64_t *)heap_data(h, frame[0], 0))[0] = ~tag;
        ((uint64_t *)heap_data(h, frame[0], 0))[1] = tag * 3;
    }
    obj = rt_alloc(rt, 1, 8);
    heap_write_ref(h, obj, 0, frame[0]);
    *(uint64_t *)heap_data(h, obj, 1) = tag;
    rt_pop(rt, 1);
    return obj;   /* unrooted: the caller roots it */
}

bool rtt_tag_ok(rt_t *rt, heap_ref_t obj, uint64_t tag, bool with_child)
{
    heap_t *h = rt_heap(rt);

    if (obj == 0 || heap_obj_nptrs(h, obj) != 1 || heap_obj_size(h, obj) != 16)
        return false;
    if (*(uint64_t *)heap_data(h, obj, 1) != tag)
        return false;
    heap_ref_t child = heap_read_ref(h, obj, 0);
    if (!with_child)
        return child == 0;
    return child != 0 && heap_obj_size(h, child) == 16 &&
           ((uint64_t *)heap_data(h, child, 0))[0] == ~tag &&
           ((uint64_t *)heap_data(h, child, 0))[1] == tag * 3;
}

void rtt_churn(rt_t *rt, int n)
{
    heap_t *h = rt_heap(rt);

    for (int i = 0; i < n; i++) {
        heap_ref_t a = rt_alloc(rt, 1, 8);
        heap_ref_t b = rt_alloc(rt, 0, 16);
        *(uint64_t *)heap_data(h, a, 1) = 0xdeaddeaddeaddeadull;
        heap_write_ref(h, a, 0, 0);
        memset(heap_data(h, b, 0), 0xa5, 16);
    }
}

int rtt_main(int argc, char **argv, const rtt_case_t *cases, size_t ncases,
             unsigned limit_s)
{
    return testrun_main(argc, argv, cases, ncases, limit_s, NULL);
}
