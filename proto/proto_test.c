/*
** proto/proto_test.c -- every message survives a round trip; every kind of
** malformed frame is refused with a reason and nothing leaks.
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
    in.u.task.gogc = -1;
    in.u.task.heap_max_bytes = 1LL << 32;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.type == PROTO_TASK);
    CHECK(out.u.task.params.kernel == k);
    CHECK(kparams_int(&out.u.task.params, "depth") == 17);
    CHECK(out.u.task.gogc == -1);
    CHECK(out.u.task.heap_max_bytes == 1LL << 32);
    CHECK(strcmp(out.u.task.heap, "abcdef-0") == 0);
    proto_msg_free(&out);
    kparams_free(&in.u.task.params);
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

static void test_sample_gc(void)
{
    proto_msg_t in = {.type = PROTO_SAMPLE}, out;
    strcpy(in.u.sample.worker, "w");
    in.u.sample.heap_inuse_bytes = 1 << 20;
    in.u.sample.ctx_switches = 99;
    CHECK(roundtrip(&in, &out) == 0);
    CHECK(out.u.sample.heap_inuse_bytes == 1 << 20 && out.u.sample.ctx_switches == 99);

    proto_msg_t g = {.type = PROTO_GC};
    strcpy(g.u.gc.worker, "w");
    strcpy(g.u.gc.heap, "h");
    g.u.gc.cycle = 3;
    g.u.gc.gc_cpu_fraction = 0.25;
    CHECK(roundtrip(&g, &out) == 0);
    CHECK(out.u.gc.cycle == 3 && out.u.gc.gc_cpu_fraction == 0.25);
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
    test_result();
    test_sample_gc();
    test_malformed();
    test_fuzz();
    if (testrun_exit_status("proto_test") != 0)
        return 1;
    printf("proto_test: all checks passed\n");
    return 0;
}
