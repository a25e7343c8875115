/*
** proto/proto_fuzz.c -- the decoder's fuzz check and seed frames
** (proto_fuzz.h).
*/
#include "proto/proto_fuzz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

static _Noreturn void broken(const char *what, const char *detail)
{
    fprintf(stderr, "proto_fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int proto_fuzz_one(const uint8_t *data, size_t size)
{
    proto_msg_t msg, again;
    char err[512], *enc1, *enc2;
    size_t len1, len2;

    memset(err, 0, sizeof err);
    memset(&msg, 0xa5, sizeof msg);        /* the decoder must set it either way */
    if (proto_decode(data, size, &msg, err, sizeof err) != 0) {
        if (!err[0])
            broken("a refused frame without a reason", NULL);
        if (strchr(err, '\n'))
            broken("a reason of more than one line", err);
        if (!all_zero(&msg, sizeof msg))
            broken("a refused frame left something in the message", err);
        return 0;
    }
    if (proto_encode(&msg, &enc1, &len1) != 0)
        broken("an accepted frame does not encode", proto_type_name(msg.type));
    if (proto_decode(enc1, len1, &again, err, sizeof err) != 0)
        broken("the encoding of an accepted frame is refused", err);
    if (again.type != msg.type)
        broken("the round trip changed the type", proto_type_name(msg.type));
    if (proto_encode(&again, &enc2, &len2) != 0)
        broken("the round trip does not encode", proto_type_name(msg.type));
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
        broken("encode(decode(encode(m))) differs from encode(m)", proto_type_name(msg.type));
    free(enc1);
    free(enc2);
    proto_msg_free(&again);
    proto_msg_free(&msg);
    return 1;
}

/* ---- Seeds ------------------------------------------------------------- */

/* The message types other than task, one seed each; then one task per
** kernel of the catalog (its default parameters, every optional field). */
enum { SEED_HELLO, SEED_READY, SEED_DONE, SEED_SAMPLE, SEED_GC, SEED_RESULT,
       SEED_RESULT_FAILED, SEED_PROFILE, SEED_WELCOME, SEED_HEARTBEAT, SEED_ACK,
       SEED_REJECT, SEED_REJECT_INTERRUPTED, SEED_TASKS };

static const char *const seed_names[SEED_TASKS] = {
    "hello", "ready", "done", "sample", "gc", "result", "result-failed", "profile",
    "welcome", "heartbeat", "ack", "reject", "reject-interrupted",
};

size_t proto_fuzz_nseeds(void)
{
    size_t nkernels;
    catalog_kernels(&nkernels);
    return SEED_TASKS + nkernels;
}

int proto_fuzz_seed(size_t i, char **buf_p, size_t *len_p, const char **name_p)
{
    proto_msg_t m;
    size_t nkernels;
    const kernel_spec_t *kernels = catalog_kernels(&nkernels);
    int rc;

    memset(&m, 0, sizeof m);
    if (i >= SEED_TASKS + nkernels)
        return -EINVAL;
    if (i >= SEED_TASKS) {
        const kernel_spec_t *k = &kernels[i - SEED_TASKS];
        proto_task_t *t = &m.u.task;
        m.type = PROTO_TASK;
        if (kparams_init(&t->params, k) != 0)
            return -ENOMEM;
        t->run_id = 3;
        snprintf(t->token, sizeof t->token, "0123456789abcdef");
        snprintf(t->heap, sizeof t->heap, "0123456789abcdef-%zu", i);
        t->task_id = 40 + (int64_t)i;
        t->attempt = 1;
        t->seq = (int64_t)i;
        t->seed = -1;                     /* a uint64 seed above INT64_MAX */
        t->sample_interval_ns = PROTO_SAMPLE_INTERVAL_MIN_NS;
        t->gogc = i % 2 ? -1 : 100;
        t->memory_limit_bytes = 1LL << 30;
        t->heap_max_bytes = 1LL << 32;
        t->stack_reserve_bytes = 1 << 20;
        t->timer_resolution_ns = 1000000;
        t->gctrace = 1;
        t->mem_profile_rate = 512 * 1024;
        t->heap_private = 1;
        *name_p = k->name;
        rc = proto_encode(&m, buf_p, len_p);
        kparams_free(&t->params);
        return rc;
    }
    *name_p = seed_names[i];
    switch (i) {
    case SEED_HELLO:
        m.type = PROTO_HELLO;
        snprintf(m.u.hello.worker, sizeof m.u.hello.worker, "host:1234");
        snprintf(m.u.hello.host, sizeof m.u.hello.host, "host");
        m.u.hello.pid = 1234;
        m.u.hello.ncpu = 2;
        break;
    case SEED_READY:
        m.type = PROTO_READY;
        snprintf(m.worker, sizeof m.worker, "w#2");
        break;
    case SEED_DONE:
        m.type = PROTO_DONE;
        break;
    case SEED_SAMPLE: {
        proto_sample_t *s = &m.u.sample;
        m.type = PROTO_SAMPLE;
        snprintf(s->worker, sizeof s->worker, "w");
        s->task_id = 7;
        s->attempt = 2;
        s->tseq = 9;
        s->t_ns = 100000000;
        s->unix_ns = 1796000000000000000LL;
        s->heap_alloc_bytes = 4 << 20;
        s->heap_inuse_bytes = 5 << 20;
        s->heap_sys_bytes = 64 << 20;
        s->heap_live_bytes = 3 << 20;
        s->heap_goal_bytes = 8 << 20;
        s->num_gc = 12;
        s->goroutines = 3;
        s->rss_bytes = 30 << 20;
        break;
    }
    case SEED_GC: {
        proto_gc_t *g = &m.u.gc;
        m.type = PROTO_GC;
        snprintf(g->worker, sizeof g->worker, "w");
        snprintf(g->heap, sizeof g->heap, "/heapsim-0123456789abcdef-0");
        g->task_id = 7;
        g->attempt = 1;
        g->tseq = 3;
        g->fields.cycle = 4;
        g->fields.gc_cpu_fraction = 0.0625;
        g->fields.stw_ns = 250000;
        g->fields.heap_live_bytes = 1 << 20;
        g->fields.nprocs = 2;
        break;
    }
    case SEED_RESULT:
    case SEED_RESULT_FAILED: {
        proto_result_t *r = &m.u.result;
        m.type = PROTO_RESULT;
        snprintf(r->worker, sizeof r->worker, "w");
        r->task_id = 7;
        r->attempt = 1;
        r->ok = i == SEED_RESULT;
        r->wall_ns = 1234567;
        r->alloc_objects = 1000;
        r->gc_cycles = 2;
        r->peak_heap_bytes = 1 << 20;
        r->tseq_said = i == SEED_RESULT;   /* the optional field, in one seed */
        r->tseq_last = 40;
        if (i == SEED_RESULT) {
            r->output = strdup("stretch tree of depth 7\t check: 255\n");
            if (!r->output || proto_result_add_metric(r, "ns_per_op", 41.5, "ns") != 0 ||
                proto_result_add_metric(r, "ops", 1e6, NULL) != 0) {
                proto_msg_free(&m);
                return -ENOMEM;
            }
        } else if (!(r->error = strdup("out of memory: allocating 64 bytes"))) {
            return -ENOMEM;
        }
        break;
    }
    case SEED_PROFILE: {
        proto_profile_t *p = &m.u.profile;
        m.type = PROTO_PROFILE;
        snprintf(p->worker, sizeof p->worker, "w");
        p->task_id = 7;
        p->cycle = 3;
        p->final = 1;
        p->rate = 1;
        p->nsites = 2;
        if (!(p->sites = calloc(2, sizeof *p->sites)))
            return -ENOMEM;
        snprintf(p->sites[0].site, sizeof p->sites[0].site, "leak.payload");
        p->sites[0].alloc_objects = p->sites[0].inuse_objects = 10;
        p->sites[0].alloc_bytes = p->sites[0].inuse_bytes = 640;
        snprintf(p->sites[1].site, sizeof p->sites[1].site, "tree.node");
        p->sites[1].alloc_objects = 5;
        p->sites[1].alloc_bytes = 80;
        break;
    }
    case SEED_WELCOME:
        m.type = PROTO_WELCOME;
        snprintf(m.u.welcome.worker, sizeof m.u.welcome.worker, "w#2");
        m.u.welcome.heartbeat_ms = PROTO_HEARTBEAT_MIN_MS;
        m.u.welcome.misses = PROTO_MISSES_MAX;
        break;
    case SEED_HEARTBEAT:
    case SEED_ACK:
        m.type = i == SEED_ACK ? PROTO_ACK : PROTO_HEARTBEAT;
        m.u.ref.task_id = 7;
        m.u.ref.attempt = 1;
        break;
    case SEED_REJECT:
    case SEED_REJECT_INTERRUPTED:
        m.type = PROTO_REJECT;
        m.u.ref.task_id = 7;
        m.u.ref.attempt = 1;
        m.u.ref.interrupted = i == SEED_REJECT_INTERRUPTED;
        m.u.ref.tseq_said = m.u.ref.interrupted;
        m.u.ref.tseq_last = 12;
        snprintf(m.u.ref.reason, sizeof m.u.ref.reason, "%s",
                 m.u.ref.interrupted ? "interrupted: the worker was stopped by SIGTERM"
                                     : "unknown kernel 'x'");
        break;
    }
    rc = proto_encode(&m, buf_p, len_p);
    proto_msg_free(&m);
    return rc;
}
