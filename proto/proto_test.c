/*
** proto/proto_test.c -- every message survives a round trip (a GC cycle
** with every field of base/gc_fields.h, in the bytes it always had); every
** kind of malformed frame is refused with a reason and nothing leaks.
*/
#include "proto/proto.h"
#include "base/testrun.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int roundtrip(const proto_msg_t *in, proto_msg_t *out)
{
    char *buf;
    size_t len;
    char err[256];
    if (proto_encode(in, &buf, &len) != 0)
        return -1;
    int rc = proto_decode(buf, len, out, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "decode: %s\n", err);
    free(buf);
    return rc;
}

static void test_hello(void)
{
    proto_msg_t in = {.type = PROTO_HELLO}, out;
    strcpy(in.u.hello.worker, "box:123");
    strcpy(in.u.hello.host, "box");
    in.u.hello.pid = 123;
    in.u.hello.ncpu = 2;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.type == PROTO_HELLO);
    CHECK(strcmp(out.u.hello.worker, "box:123") == 0);
    CHECK(strcmp(out.worker, "box:123") == 0);
    CHECK(out.u.hello.pid == 123 && out.u.hello.ncpu == 2);
    proto_msg_free(&out);
}

static void test_task(void)
{
    proto_msg_t in = {.type = PROTO_TASK}, out;
    const kernel_spec_t *k = catalog_find("binary_trees");
    char why[128];
    size_t idx;

    CHECK(k != NULL);
    if (!k)
        return;
    CHECK(kparams_init(&in.u.task.params, k) == 0);
    CHECK(catalog_param(k, "depth", &idx) != NULL);
    CHECK(kparams_set_int(&in.u.task.params, idx, 17, why, sizeof why) == 0);
    strcpy(in.u.task.token, "abcdef");
    strcpy(in.u.task.heap, "abcdef-0");
    in.u.task.run_id = 7;
    in.u.task.task_id = 70;
    in.u.task.attempt = 2;
    in.u.task.sample_interval_ns = 100000000;
    in.u.task.gogc = -1;
    in.u.task.heap_max_bytes = 1LL << 32;
    in.u.task.gctrace = 1;
    in.u.task.mem_profile_rate = 524288;
    in.u.task.heap_private = 1;
    in.u.task.preempt_ns = -1;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.u.task.preempt_ns == -1);
    CHECK(out.type == PROTO_TASK);
    CHECK(out.u.task.params.kernel == k);
    CHECK(kparams_int(&out.u.task.params, "depth") == 17);
    CHECK(out.u.task.gogc == -1);
    CHECK(out.u.task.heap_max_bytes == 1LL << 32);
    CHECK(out.u.task.gctrace == 1);
    CHECK(out.u.task.mem_profile_rate == 524288);
    CHECK(out.u.task.heap_private == 1);
    CHECK(strcmp(out.u.task.heap, "abcdef-0") == 0);
    CHECK(out.u.task.attempt == 2);
    proto_msg_free(&out);

    /* Out of range: a sample interval of 0 would spin the worker's
    ** sampler; attempt 0 is no lease. */
    char *buf, err[256];
    size_t len;
    in.u.task.sample_interval_ns = 0;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "sample_interval_ns");
    free(buf);
    in.u.task.sample_interval_ns = 100000000;
    in.u.task.attempt = 0;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "attempt");
    free(buf);
    in.u.task.attempt = 1;
    /* The settings other branches added: each checked for range too. */
    static const struct { int64_t timer, gctrace, rate, private_; const char *why; } bad[] = {
        { -1, 0, 0, 0, "timer_resolution_ns" },
        { 2000000000, 0, 0, 0, "timer_resolution_ns" },
        { 0, 2, 0, 0, "gctrace" },
        { 0, 0, -1, 0, "mem_profile_rate" },
        { 0, 0, 0, -1, "heap_private" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        in.u.task.timer_resolution_ns = bad[i].timer;
        in.u.task.gctrace = bad[i].gctrace;
        in.u.task.mem_profile_rate = bad[i].rate;
        in.u.task.heap_private = bad[i].private_;
        CHECK(proto_encode(&in, &buf, &len) == 0);
        CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
        CHECK_CONTAINS(err, bad[i].why);
        free(buf);
    }
    in.u.task.timer_resolution_ns = 0;
    in.u.task.gctrace = 0;
    in.u.task.mem_profile_rate = 0;
    in.u.task.heap_private = 0;
    static const int64_t bad_preempt[] = { -2, 1, 999999, 1000000001 };   /* under 1 ms: sysmon at every round */
    for (size_t i = 0; i < sizeof bad_preempt / sizeof bad_preempt[0]; i++) {
        in.u.task.preempt_ns = bad_preempt[i];
        CHECK(proto_encode(&in, &buf, &len) == 0);
        CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
        CHECK_CONTAINS(err, "preempt_ns");
        free(buf);
    }
    kparams_free(&in.u.task.params);
}

/* A task from a coordinator that predates gctrace (no such key): 0. */
static void test_task_without_optional_fields(void)
{
    proto_msg_t in = {.type = PROTO_TASK}, out;
    const kernel_spec_t *k = catalog_find("binary_trees");
    static const char key[] = "\xa7gctrace\x01";
    char *buf, err[256];
    size_t len;

    REQUIRE(k != NULL);
    REQUIRE(kparams_init(&in.u.task.params, k) == 0);
    strcpy(in.u.task.token, "abcdef");
    strcpy(in.u.task.heap, "abcdef-0");
    in.u.task.task_id = 1;
    in.u.task.attempt = 1;
    in.u.task.sample_interval_ns = 100000000;
    in.u.task.gctrace = 1;
    REQUIRE(proto_encode(&in, &buf, &len) == 0);
    REQUIRE((unsigned char)buf[0] == 0xde);          /* map16 */
    char *at = memmem(buf, len, key, sizeof key - 1);
    REQUIRE(at != NULL);
    memmove(at, at + sizeof key - 1, len - (size_t)(at - buf) - (sizeof key - 1));
    len -= sizeof key - 1;
    buf[2]--;                                        /* one key fewer */
    CHECK_MSG(proto_decode(buf, len, &out, err, sizeof err) == 0, "%s", err);
    CHECK(out.u.task.gctrace == 0);
    proto_msg_free(&out);
    free(buf);
    kparams_free(&in.u.task.params);
}

static void test_profile(void)
{
    proto_msg_t in = {.type = PROTO_PROFILE}, out;
    proto_profile_site_t sites[3] = {
        { "leak.payload", 100, 102400, 90, 92160 },
        { "leak.request", 100, 1600, 0, 0 },
        { "(unknown)", 1, 16, 1, 16 },
    };
    strcpy(in.u.profile.worker, "w:1");
    in.u.profile.task_id = 9;
    in.u.profile.cycle = 41;
    in.u.profile.final = 1;
    in.u.profile.rate = 524288;
    in.u.profile.sites = sites;
    in.u.profile.nsites = 3;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.type == PROTO_PROFILE);
    CHECK(strcmp(out.worker, "w:1") == 0);
    CHECK(out.u.profile.task_id == 9 && out.u.profile.cycle == 41);
    CHECK(out.u.profile.final == 1 && out.u.profile.rate == 524288);
    CHECK(out.u.profile.nsites == 3);
    for (size_t i = 0; i < 3 && i < out.u.profile.nsites; i++)
        CHECK(memcmp(&out.u.profile.sites[i], &sites[i], sizeof sites[i]) == 0);
    proto_msg_free(&out);
    CHECK(out.u.profile.sites == NULL);

    /* No sites is a profile too. */
    in.u.profile.nsites = 0;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.u.profile.nsites == 0);
    proto_msg_free(&out);

    /* More in use than allocated: refused, nothing to free. */
    sites[1].inuse_objects = 101;
    in.u.profile.nsites = 3;
    char *buf, err[256];
    size_t len;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "site 1") != NULL);
    free(buf);
    sites[1].inuse_objects = 0;
    in.u.profile.final = 2;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    free(buf);
}

/* retention: sites with their texts, goroutine groups, the pprof bytes
** (with a NUL inside); a broken site or group refuses the frame, and what
** the decoder had made is freed (ASan would say otherwise). */
static void test_retention(void)
{
    proto_msg_t in = {.type = PROTO_RETENTION}, out;
    proto_retention_t *r = &in.u.retention;
    proto_retention_site_t sites[2] = {
        { .site = "leak.payload", .root_group = "goroutine leak.watcher [chan receive]",
          .root = "goroutine 7 leak.watcher [chan receive, 3 GC cycles]",
          .holder = "goroutine leak.watcher [chan receive]",
          .path = "goroutine 7 leak.watcher\n-> leak.payload (1024 B, retains 1024 B)",
          .roots = 5, .objects = 5, .site_objects = 6, .retained_bytes = 5120,
          .holder_retained_bytes = 6000 },
        { .site = "t.b", .root_group = "globals", .root = "globals of process 1",
          .holder = "t.table", .path = "globals", .roots = 1, .objects = 1,
          .site_objects = 1, .retained_bytes = 8, .holder_retained_bytes = 80 },
    };
    proto_goroutine_group_t groups[1] = {
        { .where = "leak.watcher", .reason = "chan receive", .count = 3, .min_cycles = 2,
          .max_cycles = 9 },
    };
    unsigned char pprof[5] = { 0x1f, 0x8b, 0, 7, 9 };
    strcpy(r->worker, "w:2");
    r->task_id = 4;
    r->cycle = 17;
    r->final = 1;
    r->objects = 1000;
    r->bytes = 65536;
    r->pause_ns = 12345;
    r->min_cycles = 2;
    r->pprof = pprof;
    r->pprof_len = sizeof pprof;
    r->sites = sites;
    r->nsites = 2;
    r->groups = groups;
    r->ngroups = 1;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.type == PROTO_RETENTION);
    CHECK_STR(out.worker, "w:2");
    const proto_retention_t *o = &out.u.retention;
    CHECK(o->task_id == 4 && o->cycle == 17 && o->final == 1 && o->objects == 1000);
    CHECK(o->bytes == 65536 && o->pause_ns == 12345 && o->min_cycles == 2);
    CHECK(o->pprof_len == sizeof pprof && memcmp(o->pprof, pprof, sizeof pprof) == 0);
    REQUIRE(o->nsites == 2 && o->ngroups == 1);
    CHECK_STR(o->sites[0].site, "leak.payload");
    CHECK_STR(o->sites[0].root, sites[0].root);
    CHECK_STR(o->sites[0].path, sites[0].path);
    CHECK_STR(o->sites[1].holder, "t.table");
    CHECK(o->sites[0].site_objects == 6 && o->sites[0].holder_retained_bytes == 6000);
    CHECK_STR(o->groups[0].where, "leak.watcher");
    CHECK_STR(o->groups[0].reason, "chan receive");
    CHECK(o->groups[0].count == 3 && o->groups[0].max_cycles == 9);
    proto_msg_free(&out);

    char *buf, err[256];
    size_t len;
    sites[1].objects = 2;                 /* more than the site has */
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "site 1");
    free(buf);
    sites[1].objects = 1;
    groups[0].max_cycles = 1;             /* below min_cycles */
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "goroutine group 0");
    free(buf);
    groups[0].max_cycles = 9;
    sites[0].path = NULL;                 /* a path is required */
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    free(buf);
}

static void test_session_messages(void)
{
    proto_msg_t in = {.type = PROTO_WELCOME}, out;
    char *buf, err[256];
    size_t len;
    strcpy(in.u.welcome.worker, "alpha#2");
    in.u.welcome.heartbeat_ms = 1000;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.type == PROTO_WELCOME);
    CHECK_STR(out.u.welcome.worker, "alpha#2");
    CHECK_INT(out.u.welcome.heartbeat_ms, 1000);
    CHECK_INT(out.u.welcome.misses, 3);      /* absent in `in`: the default */
    in.u.welcome.heartbeat_ms = 0;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "heartbeat_ms");
    free(buf);

    proto_type_t refs[] = {PROTO_HEARTBEAT, PROTO_ACK, PROTO_REJECT};
    for (size_t i = 0; i < 3; i++) {
        proto_msg_t r = {.type = refs[i]};
        r.u.ref.task_id = 9;
        r.u.ref.attempt = 3;
        strcpy(r.u.ref.reason, "cannot decode the task: unknown kernel 'x'");
        CHECK(roundtrip(&r, &out) == 0);
        CHECK_INT(out.type, refs[i]);
        CHECK_INT(out.u.ref.task_id, 9);
        CHECK_INT(out.u.ref.attempt, 3);
        if (refs[i] == PROTO_REJECT) {
            CHECK_CONTAINS(out.u.ref.reason, "unknown kernel");
            CHECK_INT(out.u.ref.interrupted, 0);    /* absent: 0 */
        }
        proto_msg_free(&out);
    }
    /* A reject of a task the worker cut short (stopped) says so. */
    proto_msg_t rej = {.type = PROTO_REJECT};
    rej.u.ref.task_id = 9;
    rej.u.ref.attempt = 3;
    rej.u.ref.interrupted = 1;
    strcpy(rej.u.ref.reason, "interrupted: the worker was stopped (SIGTERM)");
    CHECK(roundtrip(&rej, &out) == 0);
    CHECK_INT(out.u.ref.interrupted, 1);
    CHECK_CONTAINS(out.u.ref.reason, "SIGTERM");
    proto_msg_free(&out);
    rej.u.ref.interrupted = 2;
    CHECK(proto_encode(&rej, &buf, &len) == 0);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "interrupted");
    free(buf);

    /* Another version is refused with both numbers. */
    static const unsigned char v1[] = "\x82\xa1t\xa4" "done\xa1v\x01";
    CHECK(proto_decode(v1, sizeof v1 - 1, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "protocol version 1");
}

static void test_result(void)
{
    proto_msg_t in = {.type = PROTO_RESULT}, out;
    strcpy(in.u.result.worker, "w");
    in.u.result.task_id = 5;
    in.u.result.ok = 1;
    in.u.result.output = "stretch tree of depth 11\t check: 4095\n\"q\"\n";
    in.u.result.wall_ns = 123456789;
    CHECK(proto_result_add_metric(&in.u.result, "ns_per_op", 41.5, "ns") == 0);
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(strcmp(out.u.result.output, in.u.result.output) == 0);
    CHECK(out.u.result.error == NULL);
    CHECK(out.u.result.nmetrics == 1);
    CHECK(out.u.result.nmetrics == 1 && out.u.result.metrics[0].value == 41.5);
    CHECK(out.u.result.wall_ns == 123456789);
    proto_msg_free(&out);
    in.u.result.output = NULL;
    proto_msg_free(&in);
}

/* Whether the frame holds the bytes of `key` as a MessagePack string. */
static bool frame_has_key(const char *buf, size_t len, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i + n + 1 <= len; i++)
        if ((unsigned char)buf[i] == (0xa0 | n) && memcmp(buf + i + 1, key, n) == 0)
            return true;
    return false;
}

/* The attempt's last telemetry number, optional in result and reject: left
** out when not said (the frame an older peer sends and expects), kept
** exactly when said, 0 included; any integer decodes (the coordinator
** judges it), anything else is refused. */
static void test_tseq_last(void)
{
    proto_msg_t in = {.type = PROTO_RESULT}, out;
    char *buf, err[256];
    size_t len;
    strcpy(in.u.result.worker, "w");
    in.u.result.task_id = 5;
    in.u.result.attempt = 2;
    in.u.result.ok = 1;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    CHECK(!frame_has_key(buf, len, "tseq_last"));
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == 0);
    CHECK_INT(out.u.result.tseq_said, 0);
    CHECK_INT(out.u.result.tseq_last, 0);
    proto_msg_free(&out);
    free(buf);

    int64_t values[] = {0, 1, 250000, INT64_MAX, -3};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        in.u.result.tseq_said = 1;
        in.u.result.tseq_last = values[i];
        CHECK(proto_encode(&in, &buf, &len) == 0);
        CHECK(frame_has_key(buf, len, "tseq_last"));
        CHECK(proto_decode(buf, len, &out, err, sizeof err) == 0);
        CHECK_INT(out.u.result.tseq_said, 1);
        CHECK_INT(out.u.result.tseq_last, values[i]);
        CHECK_INT(out.u.result.attempt, 2);
        proto_msg_free(&out);
        free(buf);
    }

    proto_msg_t rej = {.type = PROTO_REJECT};
    rej.u.ref.task_id = 9;
    rej.u.ref.attempt = 3;
    rej.u.ref.interrupted = 1;
    strcpy(rej.u.ref.reason, "interrupted after 1.00 s");
    CHECK(proto_encode(&rej, &buf, &len) == 0);
    CHECK(!frame_has_key(buf, len, "tseq_last"));
    free(buf);
    CHECK(roundtrip(&rej, &out) == 0);
    CHECK_INT(out.u.ref.tseq_said, 0);
    proto_msg_free(&out);
    rej.u.ref.tseq_said = 1;
    rej.u.ref.tseq_last = 77;
    CHECK(roundtrip(&rej, &out) == 0);
    CHECK_INT(out.u.ref.tseq_said, 1);
    CHECK_INT(out.u.ref.tseq_last, 77);
    CHECK_INT(out.u.ref.interrupted, 1);
    proto_msg_free(&out);

    /* Not an integer: the frame is refused, naming the field. */
    static const unsigned char bad[] =
        "\x86\xa1t\xa6reject\xa1v\x02\xa7task_id\x09\xa7" "attempt\x03"
        "\xa6reason\xa1x\xa9tseq_last\xa3one";
    CHECK(proto_decode(bad, sizeof bad - 1, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK_CONTAINS(err, "tseq_last");
}

static void test_sample(void)
{
    proto_msg_t in = {.type = PROTO_SAMPLE}, out;
    strcpy(in.u.sample.worker, "w");
    in.u.sample.heap_inuse_bytes = 1 << 20;
    in.u.sample.ctx_switches = 99;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.u.sample.heap_inuse_bytes == 1 << 20 && out.u.sample.ctx_switches == 99);

}

/* A gc message whose every field of base/gc_fields.h holds a value of its
** own (and a REAL one that is not a whole number). */
static void gc_distinct(proto_msg_t *g)
{
    memset(g, 0, sizeof *g);
    g->type = PROTO_GC;
    strcpy(g->u.gc.worker, "w");
    strcpy(g->u.gc.heap, "h");
    g->u.gc.task_id = 77;
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_REAL)
            *gc_fields_real(&g->u.gc.fields, f) = 0.5 + (double)i / 1024;
        else
            *gc_fields_int(&g->u.gc.fields, f) = ((int64_t)(i + 1) << 40) + (int64_t)i;
    }
}

/* Every field of a cycle survives the round trip, each in its own member. */
static void test_gc_every_field(void)
{
    proto_msg_t g, out;
    gc_distinct(&g);
    CHECK(roundtrip(&g, &out) == 0);
    CHECK(out.type == PROTO_GC && out.u.gc.task_id == 77);
    CHECK(strcmp(out.u.gc.worker, "w") == 0 && strcmp(out.u.gc.heap, "h") == 0);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_REAL) {
            CHECK_MSG(gc_fields_get_real(&out.u.gc.fields, f) == 0.5 + (double)i / 1024,
                      "gc field %s lost", f->name);
        } else {
            CHECK_MSG(gc_fields_get_int(&out.u.gc.fields, f) ==
                          ((int64_t)(i + 1) << 40) + (int64_t)i,
                      "gc field %s lost", f->name);
        }
    }
    CHECK(memcmp(&out.u.gc.fields, &g.u.gc.fields, sizeof g.u.gc.fields) == 0);

    /* Negative and zero integers travel too (the wire is int64). */
    gc_distinct(&g);
    g.u.gc.fields.stw_ns = -1;
    g.u.gc.fields.cycle = 0;
    CHECK(roundtrip(&g, &out) == 0);
    CHECK(out.u.gc.fields.stw_ns == -1 && out.u.gc.fields.cycle == 0);
}

/* The frame is the map it was before the field list (PROTO_VERSION 1):
** these bytes were encoded by the hand-written encoder it replaced. */
static void test_gc_wire_unchanged(void)
{
    static const unsigned char want[] =
        "\xde\x00\x1b\xa1\x74\xa2\x67\x63\xa1\x76\x02\xa6\x77\x6f\x72\x6b\x65\x72"
        "\xa2\x77\x31\xa4\x68\x65\x61\x70\xa2\x68\x31\xaf\x67\x63\x5f\x63\x70\x75"
        "\x5f\x66\x72\x61\x63\x74\x69\x6f\x6e\xcb\x3f\xd8\x00\x00\x00\x00\x00\x00"
        "\xa7\x74\x61\x73\x6b\x5f\x69\x64\x07\xa5\x63\x79\x63\x6c\x65\x65\xa6\x66"
        "\x6f\x72\x63\x65\x64\x01\xa6\x6e\x70\x72\x6f\x63\x73\x67\xad\x73\x74\x61"
        "\x72\x74\x5f\x75\x6e\x69\x78\x5f\x6e\x73\xcf\x17\x97\x9c\xfe\x36\x2a\x00"
        "\x68\xae\x73\x69\x6e\x63\x65\x5f\x73\x74\x61\x72\x74\x5f\x6e\x73\x69\xa6"
        "\x73\x74\x77\x5f\x6e\x73\x6a\xa7\x73\x74\x6f\x70\x5f\x6e\x73\x6b\xa7\x6d"
        "\x61\x72\x6b\x5f\x6e\x73\x6c\xa8\x73\x77\x65\x65\x70\x5f\x6e\x73\x6d\xab"
        "\x6d\x61\x72\x6b\x5f\x63\x70\x75\x5f\x6e\x73\x6e\xac\x73\x77\x65\x65\x70"
        "\x5f\x63\x70\x75\x5f\x6e\x73\x6f\xb0\x68\x65\x61\x70\x5f\x73\x74\x61\x72"
        "\x74\x5f\x62\x79\x74\x65\x73\x70\xae\x68\x65\x61\x70\x5f\x65\x6e\x64\x5f"
        "\x62\x79\x74\x65\x73\x71\xaf\x68\x65\x61\x70\x5f\x6c\x69\x76\x65\x5f\x62"
        "\x79\x74\x65\x73\x72\xaf\x68\x65\x61\x70\x5f\x67\x6f\x61\x6c\x5f\x62\x79"
        "\x74\x65\x73\x73\xab\x73\x74\x61\x63\x6b\x5f\x62\x79\x74\x65\x73\x74\xad"
        "\x67\x6c\x6f\x62\x61\x6c\x73\x5f\x62\x79\x74\x65\x73\x75\xac\x6f\x62\x6a"
        "\x65\x63\x74\x73\x5f\x6c\x69\x76\x65\x76\xad\x6f\x62\x6a\x65\x63\x74\x73"
        "\x5f\x66\x72\x65\x65\x64\x77"
        "\xa7" "attempt\x04\xa4" "tseq\x05";
    proto_msg_t g = {.type = PROTO_GC}, out;
    gc_fields_t *x = &g.u.gc.fields;
    strcpy(g.u.gc.worker, "w1");
    strcpy(g.u.gc.heap, "h1");
    g.u.gc.task_id = 7;
    g.u.gc.attempt = 4;
    g.u.gc.tseq = 5;
    x->cycle = 101; x->forced = 1; x->nprocs = 103;
    x->start_unix_ns = 1700000000000000104LL; x->since_start_ns = 105;
    x->gc_cpu_fraction = 0.375; x->stw_ns = 106; x->stop_ns = 107; x->mark_ns = 108;
    x->sweep_ns = 109; x->mark_cpu_ns = 110; x->sweep_cpu_ns = 111;
    x->heap_start_bytes = 112; x->heap_end_bytes = 113; x->heap_live_bytes = 114;
    x->heap_goal_bytes = 115; x->stack_bytes = 116; x->globals_bytes = 117;
    x->objects_live = 118; x->objects_freed = 119;

    char *buf, err[256];
    size_t len;
    /* A worker of version 1 sends exactly these bytes: they still decode,
    ** the fields added since read 0. */
    CHECK(proto_decode(want, sizeof want - 1, &out, err, sizeof err) == 0);
    CHECK(memcmp(&out.u.gc.fields, x, sizeof *x) == 0 && out.u.gc.task_id == 7);
    /* Today's frame is that one with the added fields before "attempt":
    ** the same bytes up to there, the map 9 entries longer. */
    CHECK(proto_encode(&g, &buf, &len) == 0);
    const size_t head = 3, upto = sizeof want - 1 - (1 + 7 + 1 + 1 + 4 + 1);
    CHECK(len > sizeof want - 1 && (unsigned char)buf[0] == want[0] && buf[1] == 0 &&
          (unsigned char)buf[2] == want[2] + (GC_FIELDS_COUNT - GC_FIELDS_V1_COUNT));
    CHECK(memcmp(buf + head, want + head, upto - head) == 0);
    CHECK(memcmp(buf + len - (sizeof want - 1 - upto), want + upto,
                 sizeof want - 1 - upto) == 0);
    free(buf);
}

/* A frame's value under key `name` as an unsigned integer, or -1. */
static int64_t frame_uint(const msgpack_object_map *map, const char *name)
{
    for (uint32_t k = 0; k < map->size; k++)
        if (map->ptr[k].key.type == MSGPACK_OBJECT_STR &&
            map->ptr[k].key.via.str.size == strlen(name) &&
            memcmp(map->ptr[k].key.via.str.ptr, name, strlen(name)) == 0 &&
            map->ptr[k].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            return (int64_t)map->ptr[k].val.via.u64;
    return -1;
}

/* Both stack figures travel, each under its own key: stack_bytes (the
** stack scanned, lastStackScan) and max_stack_bytes (the stack space in
** use, maxStackScan, gctrace's MB stacks); a frame from a worker before
** max_stack_bytes decodes with it 0. */
static void test_gc_stack_figures(void)
{
    proto_msg_t g = {.type = PROTO_GC}, out;
    char *buf, err[256];
    size_t len, off = 0;
    msgpack_unpacked up;

    strcpy(g.u.gc.worker, "w");
    strcpy(g.u.gc.heap, "h");
    g.u.gc.fields.cycle = 3;
    g.u.gc.fields.stack_bytes = 300000;
    g.u.gc.fields.max_stack_bytes = 41943040;
    REQUIRE(proto_encode(&g, &buf, &len) == 0);
    msgpack_unpacked_init(&up);
    REQUIRE(msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS);
    REQUIRE(up.data.type == MSGPACK_OBJECT_MAP);
    const msgpack_object_map *map = &up.data.via.map;
    CHECK_INT(frame_uint(map, "stack_bytes"), 300000);
    CHECK_INT(frame_uint(map, "max_stack_bytes"), 41943040);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == 0);
    CHECK_INT(out.u.gc.fields.stack_bytes, 300000);
    CHECK_INT(out.u.gc.fields.max_stack_bytes, 41943040);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, map->size - 1);
    for (uint32_t k = 0; k < map->size; k++) {
        if (frame_uint(&(msgpack_object_map){1, &map->ptr[k]}, "max_stack_bytes") >= 0)
            continue;
        msgpack_pack_object(&pk, map->ptr[k].key);
        msgpack_pack_object(&pk, map->ptr[k].val);
    }
    CHECK_MSG(proto_decode(sb.data, sb.size, &out, err, sizeof err) == 0, "%s", err);
    CHECK_INT(out.u.gc.fields.stack_bytes, 300000);
    CHECK_INT(out.u.gc.fields.max_stack_bytes, 0);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    free(buf);
}

/* The frame holds one key per field of the list, of the field's type, and
** a frame without any one of them is refused naming it. */
static void test_gc_keys(void)
{
    proto_msg_t g, out;
    char *buf, err[256];
    size_t len;
    msgpack_unpacked up;
    size_t off = 0;

    gc_distinct(&g);
    CHECK(proto_encode(&g, &buf, &len) == 0);
    msgpack_unpacked_init(&up);
    CHECK(msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK(up.data.type == MSGPACK_OBJECT_MAP);
    const msgpack_object_map *map = &up.data.via.map;
    /* t, v, worker, heap, task_id, the fields, attempt and tseq */
    CHECK(map->size == 7 + GC_FIELDS_COUNT);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        const msgpack_object *val = NULL;
        for (uint32_t k = 0; k < map->size; k++)
            if (map->ptr[k].key.via.str.size == strlen(f->name) &&
                memcmp(map->ptr[k].key.via.str.ptr, f->name, strlen(f->name)) == 0)
                val = &map->ptr[k].val;
        CHECK_MSG(val && (f->kind == GC_FIELDS_KIND_REAL
                              ? val->type == MSGPACK_OBJECT_FLOAT64
                              : val->type == MSGPACK_OBJECT_POSITIVE_INTEGER),
                  "gc field %s: no key of its type", f->name);
    }
    /* Drop one key at a time. */
    for (uint32_t drop = 0; drop < map->size; drop++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char key[64];
        uint32_t klen = map->ptr[drop].key.via.str.size;
        if (klen >= sizeof key || klen == 1)      /* "t", "v": tested elsewhere */
            continue;
        memcpy(key, map->ptr[drop].key.via.str.ptr, klen);
        key[klen] = '\0';
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, map->size - 1);
        for (uint32_t k = 0; k < map->size; k++) {
            if (k == drop)
                continue;
            msgpack_pack_object(&pk, map->ptr[k].key);
            msgpack_pack_object(&pk, map->ptr[k].val);
        }
        char want[96];
        snprintf(want, sizeof want, "missing field '%s'", key);
        bool since_v1 = false;   /* added since PROTO_VERSION 1: may be absent */
        for (size_t i = GC_FIELDS_V1_COUNT; i < GC_FIELDS_COUNT; i++)
            since_v1 |= strcmp(gc_fields_desc[i].name, key) == 0;
        if (since_v1) {
            CHECK_MSG(proto_decode(sb.data, sb.size, &out, err, sizeof err) == 0,
                      "a gc frame without %s (added since version 1): refused: %s", key, err);
        } else {
            CHECK_MSG(proto_decode(sb.data, sb.size, &out, err, sizeof err) == PROTO_EINVAL &&
                          strstr(err, want) != NULL,
                      "a gc frame without %s: not refused as missing", key);
        }
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_unpacked_destroy(&up);
    free(buf);
}

/* Encode a hand-made map; return the decode rc and the reason. */
static int decode_map(void (*build)(msgpack_packer *), char *err, size_t errsize)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_msg_t out;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    build(&pk);
    int rc = proto_decode(sb.data, sb.size, &out, err, errsize);
    if (rc == 0)
        proto_msg_free(&out);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
    msgpack_pack_str(pk, strlen(v));
    msgpack_pack_str_body(pk, v, strlen(v));
}

static void kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
    msgpack_pack_int64(pk, v);
}

static void build_wrong_version(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    kv_str(pk, "t", "ready");
    kv_int(pk, "v", 99);
    kv_str(pk, "worker", "w");
}

static void build_missing_worker(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    kv_str(pk, "t", "ready");
    kv_int(pk, "v", PROTO_VERSION);
}

static void build_unknown_type(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    kv_str(pk, "t", "explode");
    kv_int(pk, "v", PROTO_VERSION);
}

static void build_pid_as_string(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    kv_str(pk, "t", "hello");
    kv_int(pk, "v", PROTO_VERSION);
    kv_str(pk, "worker", "w");
    kv_str(pk, "host", "h");
    kv_str(pk, "pid", "12");
    kv_int(pk, "ncpu", 1);
}

static void build_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
}

static void test_malformed(void)
{
    char err[256];
    proto_msg_t out;

    CHECK(proto_decode("\xc1", 1, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(proto_decode("", 0, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(decode_map(build_wrong_version, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "version 99") != NULL);
    CHECK(decode_map(build_missing_worker, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "missing field 'worker'") != NULL);
    CHECK(decode_map(build_unknown_type, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "unknown message type 'explode'") != NULL);
    CHECK(decode_map(build_pid_as_string, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "'pid' is not an integer") != NULL);
    CHECK(decode_map(build_array, err, sizeof err) == PROTO_EINVAL);

    /* Containers that claim more elements than the frame holds: refused
    ** before anything is allocated for them. */
    CHECK(proto_decode("\xdf\xff\xff\xff\xff", 5, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "declares") != NULL);
    CHECK(proto_decode("\x81\xa1t\xdd\x7f\xff\xff\xff\x01", 9, &out, err, sizeof err) ==
          PROTO_EINVAL);
    char deep[64];
    memset(deep, 0x91, sizeof deep);       /* [[[[...]]]] 64 deep */
    CHECK(proto_decode(deep, sizeof deep, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(strstr(err, "nested") != NULL || strstr(err, "truncated") != NULL);

    /* A task whose parameter is out of range or unknown. */
    proto_msg_t in = {.type = PROTO_TASK};
    const kernel_spec_t *k = catalog_find("binary_trees");
    char *buf;
    size_t len;
    if (!k)
        return;
    kparams_init(&in.u.task.params, k);
    strcpy(in.u.task.token, "t");
    strcpy(in.u.task.heap, "t-0");
    in.u.task.task_id = 1;
    in.u.task.attempt = 1;
    in.u.task.sample_interval_ns = 100000000;
    CHECK(proto_encode(&in, &buf, &len) == 0);
    /* "depth" is stored as a small positive fixint right after its key:
    ** patch it to 127, above the range. */
    char *p = memmem(buf, len, "depth", 5);
    CHECK(p != NULL);
    if (p) {
        p[5] = 0x7f;
        CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
        CHECK(strstr(err, "parameter 'depth'") != NULL);
        p[0] = 'D';
        CHECK(proto_decode(buf, len, &out, err, sizeof err) == PROTO_EINVAL);
        CHECK(strstr(err, "no parameter 'Depth'") != NULL);
    }
    /* Every truncation of a valid frame is refused, never a crash. */
    p = memmem(buf, len, "Depth", 5);
    if (p)
        p[0] = 'd', p[5] = 10;
    for (size_t cut = 0; cut < len; cut++)
        CHECK(proto_decode(buf, cut, &out, err, sizeof err) == PROTO_EINVAL);
    CHECK(proto_decode(buf, len, &out, err, sizeof err) == 0);
    proto_msg_free(&out);
    free(buf);
    kparams_free(&in.u.task.params);
}

/* Random bytes, and random mutations of a valid frame: no crash, no leak
** (run under --config=asan). */
static void test_fuzz(void)
{
    proto_msg_t in = {.type = PROTO_RESULT}, out;
    char *buf;
    size_t len;
    char err[256];
    unsigned seed = 12345;

    strcpy(in.u.result.worker, "w");
    in.u.result.output = "some output\n";
    proto_result_add_metric(&in.u.result, "m", 1, "x");
    CHECK(proto_encode(&in, &buf, &len) == 0);
    for (int i = 0; i < 20000; i++) {
        char *m = malloc(len);
        memcpy(m, buf, len);
        for (int j = 0; j < 3; j++) {
            seed = seed * 1103515245 + 12345;
            m[(seed >> 8) % len] = (char)(seed >> 16);
        }
        if (proto_decode(m, len, &out, err, sizeof err) == 0)
            proto_msg_free(&out);
        free(m);
    }
    free(buf);
    in.u.result.output = NULL;
    proto_msg_free(&in);
}

int main(void)
{
    test_hello();
    test_task();
    test_task_without_optional_fields();
    test_profile();
    test_retention();
    test_session_messages();
    test_result();
    test_tseq_last();
    test_sample();
    test_gc_every_field();
    test_gc_wire_unchanged();
    test_gc_keys();
    test_gc_stack_figures();
    test_malformed();
    test_fuzz();
    if (testrun_exit_status("proto_test") != 0)
        return 1;
    printf("proto_test: all checks passed\n");
    return 0;
}
