/*
** proto/proto.c -- MessagePack encoding of the coordinator/worker messages.
**
** Integer fields are described by tables (key, offset) so that a field is
** added in one place and both directions follow; a GC cycle's figures come
** from the list in base/gc_fields.h. Decoding never trusts the
** frame: every key is looked up by name, type-checked, and strings are
** bounded; anything off rejects the frame with a reason.
*/
#include "proto/proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTO_OUTPUT_MAX PROTO_OUTPUT_MAX_BYTES
#define PROTO_TEXT_MAX (1u << 20)     /* an error text */
#define PROTO_METRICS_MAX 4096

typedef struct field {
    const char *key;
    size_t offset;
} field_t;

#define F(type, member) { #member, offsetof(type, member) }

static const field_t hello_fields[] = {
    F(proto_hello_t, pid), F(proto_hello_t, ncpu),
};

static const field_t task_fields[] = {
    F(proto_task_t, run_id), F(proto_task_t, task_id), F(proto_task_t, attempt),
    F(proto_task_t, seq),
    F(proto_task_t, seed), F(proto_task_t, sample_interval_ns),
    F(proto_task_t, gogc), F(proto_task_t, memory_limit_bytes),
    F(proto_task_t, heap_max_bytes), F(proto_task_t, stack_reserve_bytes),
    F(proto_task_t, timer_resolution_ns),
};

/* Task fields added since PROTO_VERSION 1: always sent, 0 when absent (a
** coordinator that predates them). */
static const field_t task_opt_fields[] = {
    F(proto_task_t, gctrace), F(proto_task_t, mem_profile_rate),
    F(proto_task_t, heap_private), F(proto_task_t, collector),
    F(proto_task_t, preempt_ns),
};

static const field_t profile_fields[] = {
    F(proto_profile_t, task_id), F(proto_profile_t, cycle), F(proto_profile_t, final),
    F(proto_profile_t, rate),
};

static const field_t profile_site_fields[] = {
    F(proto_profile_site_t, alloc_objects), F(proto_profile_site_t, alloc_bytes),
    F(proto_profile_site_t, inuse_objects), F(proto_profile_site_t, inuse_bytes),
};

static const field_t retention_fields[] = {
    F(proto_retention_t, task_id), F(proto_retention_t, cycle), F(proto_retention_t, final),
    F(proto_retention_t, objects), F(proto_retention_t, bytes), F(proto_retention_t, pause_ns),
    F(proto_retention_t, min_cycles),
};

static const field_t retention_site_fields[] = {
    F(proto_retention_site_t, roots), F(proto_retention_site_t, objects),
    F(proto_retention_site_t, site_objects), F(proto_retention_site_t, retained_bytes),
    F(proto_retention_site_t, holder_retained_bytes),
};

static const field_t goroutine_group_fields[] = {
    F(proto_goroutine_group_t, count), F(proto_goroutine_group_t, min_cycles),
    F(proto_goroutine_group_t, max_cycles),
};

static const field_t sample_fields[] = {
    F(proto_sample_t, task_id), F(proto_sample_t, attempt), F(proto_sample_t, tseq),
    F(proto_sample_t, t_ns), F(proto_sample_t, unix_ns),
    F(proto_sample_t, heap_alloc_bytes), F(proto_sample_t, heap_inuse_bytes),
    F(proto_sample_t, heap_sys_bytes), F(proto_sample_t, heap_live_bytes),
    F(proto_sample_t, heap_goal_bytes), F(proto_sample_t, num_gc),
    F(proto_sample_t, pause_total_ns), F(proto_sample_t, alloc_objects),
    F(proto_sample_t, alloc_bytes), F(proto_sample_t, goroutines),
    F(proto_sample_t, stack_inuse_bytes), F(proto_sample_t, rss_bytes),
    F(proto_sample_t, cpu_user_ns), F(proto_sample_t, cpu_sys_ns),
    F(proto_sample_t, minor_faults), F(proto_sample_t, major_faults),
    F(proto_sample_t, ctx_switches),
};

static const field_t result_fields[] = {
    F(proto_result_t, task_id), F(proto_result_t, attempt), F(proto_result_t, ok),
    F(proto_result_t, wall_ns),
    F(proto_result_t, alloc_objects), F(proto_result_t, alloc_bytes),
    F(proto_result_t, gc_cycles), F(proto_result_t, pause_max_ns),
    F(proto_result_t, pause_total_ns), F(proto_result_t, peak_heap_bytes),
    F(proto_result_t, peak_rss_bytes), F(proto_result_t, stack_hwm_bytes),
    F(proto_result_t, goroutines_max),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const type_names[] = {
    [PROTO_HELLO] = "hello", [PROTO_READY] = "ready", [PROTO_TASK] = "task",
    [PROTO_DONE] = "done", [PROTO_SAMPLE] = "sample", [PROTO_GC] = "gc",
    [PROTO_RESULT] = "result", [PROTO_PROFILE] = "profile",
    [PROTO_RETENTION] = "retention",
    [PROTO_WELCOME] = "welcome",
    [PROTO_HEARTBEAT] = "heartbeat", [PROTO_ACK] = "ack", [PROTO_REJECT] = "reject",
};

const char *proto_type_name(proto_type_t type)
{
    if ((size_t)type < NFIELDS(type_names) && type_names[type])
        return type_names[type];
    return "unknown";
}

/* ---- Encoding --------------------------------------------------------- */

static void pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

static void pack_str(msgpack_packer *pk, const char *key, const char *value)
{
    pack_key(pk, key);
    if (!value) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(value);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, value, n);
}

static void pack_int(msgpack_packer *pk, const char *key, int64_t value)
{
    pack_key(pk, key);
    msgpack_pack_int64(pk, value);
}

static void pack_fields(msgpack_packer *pk, const void *base,
                        const field_t *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pack_int(pk, fields[i].key,
                 *(const int64_t *)((const char *)base + fields[i].offset));
}

/* The REAL fields of a cycle, then task_id, then its INT fields: the
** order of the gc message since PROTO_VERSION 1; attempt and tseq follow
** since version 2. */
static void pack_gc_fields(msgpack_packer *pk, const proto_gc_t *g)
{
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_REAL) {
            pack_key(pk, f->name);
            msgpack_pack_double(pk, gc_fields_get_real(&g->fields, f));
        }
    }
    pack_int(pk, "task_id", g->task_id);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_INT)
            pack_int(pk, f->name, gc_fields_get_int(&g->fields, f));
    }
    pack_int(pk, "attempt", g->attempt);
    pack_int(pk, "tseq", g->tseq);
}

static void pack_params(msgpack_packer *pk, const kparams_t *p)
{
    const kernel_spec_t *k = p->kernel;
    pack_key(pk, "params");
    msgpack_pack_map(pk, k->nparams);
    for (size_t i = 0; i < k->nparams; i++) {
        const kparam_value_t *v = &p->values[i];
        pack_key(pk, k->params[i].name);
        switch (k->params[i].type) {
        case KPARAM_INT:
        case KPARAM_SIZE:
            msgpack_pack_int64(pk, v->u.i);
            break;
        case KPARAM_FLOAT:
            msgpack_pack_double(pk, v->u.f);
            break;
        case KPARAM_BOOL:
            if (v->u.i)
                msgpack_pack_true(pk);
            else
                msgpack_pack_false(pk);
            break;
        case KPARAM_STRING: {
            const char *s = v->u.s ? v->u.s : "";
            size_t n = strlen(s);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, s, n);
            break;
        }
        }
    }
}

int proto_encode(const proto_msg_t *msg, char **buf_p, size_t *len_p)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    switch (msg->type) {
    case PROTO_HELLO:
        msgpack_pack_map(&pk, 4 + NFIELDS(hello_fields));
        pack_str(&pk, "t", "hello");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", msg->u.hello.worker);
        pack_str(&pk, "host", msg->u.hello.host);
        pack_fields(&pk, &msg->u.hello, hello_fields, NFIELDS(hello_fields));
        break;
    case PROTO_READY:
        msgpack_pack_map(&pk, 3);
        pack_str(&pk, "t", "ready");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", msg->worker);
        break;
    case PROTO_DONE:
        msgpack_pack_map(&pk, 2);
        pack_str(&pk, "t", "done");
        pack_int(&pk, "v", PROTO_VERSION);
        break;
    case PROTO_TASK:
        msgpack_pack_map(&pk, 6 + NFIELDS(task_fields) + NFIELDS(task_opt_fields));
        pack_str(&pk, "t", "task");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "token", msg->u.task.token);
        pack_str(&pk, "heap", msg->u.task.heap);
        pack_str(&pk, "kernel", msg->u.task.params.kernel->name);
        pack_params(&pk, &msg->u.task.params);
        pack_fields(&pk, &msg->u.task, task_fields, NFIELDS(task_fields));
        pack_fields(&pk, &msg->u.task, task_opt_fields, NFIELDS(task_opt_fields));
        break;
    case PROTO_SAMPLE:
        msgpack_pack_map(&pk, 3 + NFIELDS(sample_fields));
        pack_str(&pk, "t", "sample");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", msg->u.sample.worker);
        pack_fields(&pk, &msg->u.sample, sample_fields, NFIELDS(sample_fields));
        break;
    case PROTO_GC:
        msgpack_pack_map(&pk, 7 + GC_FIELDS_COUNT);
        pack_str(&pk, "t", "gc");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", msg->u.gc.worker);
        pack_str(&pk, "heap", msg->u.gc.heap);
        pack_gc_fields(&pk, &msg->u.gc);
        break;
    case PROTO_RESULT: {
        const proto_result_t *r = &msg->u.result;
        msgpack_pack_map(&pk, 6 + NFIELDS(result_fields) + (r->tseq_said ? 1 : 0));
        pack_str(&pk, "t", "result");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", r->worker);
        pack_str(&pk, "error", r->error);
        pack_str(&pk, "output", r->output);
        pack_key(&pk, "metrics");
        msgpack_pack_array(&pk, r->nmetrics);
        for (size_t i = 0; i < r->nmetrics; i++) {
            msgpack_pack_map(&pk, 3);
            pack_str(&pk, "name", r->metrics[i].name);
            pack_str(&pk, "unit", r->metrics[i].unit);
            pack_key(&pk, "value");
            msgpack_pack_double(&pk, r->metrics[i].value);
        }
        pack_fields(&pk, r, result_fields, NFIELDS(result_fields));
        if (r->tseq_said)
            pack_int(&pk, "tseq_last", r->tseq_last);
        break;
    }
    case PROTO_PROFILE: {
        const proto_profile_t *p = &msg->u.profile;
        msgpack_pack_map(&pk, 4 + NFIELDS(profile_fields));
        pack_str(&pk, "t", "profile");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", p->worker);
        pack_key(&pk, "sites");
        msgpack_pack_array(&pk, p->nsites);
        for (size_t i = 0; i < p->nsites; i++) {
            msgpack_pack_map(&pk, 1 + NFIELDS(profile_site_fields));
            pack_str(&pk, "site", p->sites[i].site);
            pack_fields(&pk, &p->sites[i], profile_site_fields, NFIELDS(profile_site_fields));
        }
        pack_fields(&pk, p, profile_fields, NFIELDS(profile_fields));
        break;
    }
    case PROTO_RETENTION: {
        const proto_retention_t *r = &msg->u.retention;
        msgpack_pack_map(&pk, 6 + NFIELDS(retention_fields));
        pack_str(&pk, "t", "retention");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", r->worker);
        pack_key(&pk, "pprof");
        msgpack_pack_bin(&pk, r->pprof_len);
        msgpack_pack_bin_body(&pk, r->pprof, r->pprof_len);
        pack_key(&pk, "sites");
        msgpack_pack_array(&pk, r->nsites);
        for (size_t i = 0; i < r->nsites; i++) {
            const proto_retention_site_t *x = &r->sites[i];
            msgpack_pack_map(&pk, 5 + NFIELDS(retention_site_fields));
            pack_str(&pk, "site", x->site);
            pack_str(&pk, "root_group", x->root_group);
            pack_str(&pk, "root", x->root);
            pack_str(&pk, "holder", x->holder);
            pack_str(&pk, "path", x->path);
            pack_fields(&pk, x, retention_site_fields, NFIELDS(retention_site_fields));
        }
        pack_key(&pk, "goroutines");
        msgpack_pack_array(&pk, r->ngroups);
        for (size_t i = 0; i < r->ngroups; i++) {
            const proto_goroutine_group_t *x = &r->groups[i];
            msgpack_pack_map(&pk, 2 + NFIELDS(goroutine_group_fields));
            pack_str(&pk, "where", x->where);
            pack_str(&pk, "reason", x->reason);
            pack_fields(&pk, x, goroutine_group_fields, NFIELDS(goroutine_group_fields));
        }
        pack_fields(&pk, r, retention_fields, NFIELDS(retention_fields));
        break;
    }
    case PROTO_WELCOME:
        msgpack_pack_map(&pk, 5);
        pack_str(&pk, "t", "welcome");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_str(&pk, "worker", msg->u.welcome.worker);
        pack_int(&pk, "heartbeat_ms", msg->u.welcome.heartbeat_ms);
        pack_int(&pk, "misses", msg->u.welcome.misses ? msg->u.welcome.misses : 3);
        break;
    case PROTO_HEARTBEAT:
    case PROTO_ACK:
        msgpack_pack_map(&pk, 4);
        pack_str(&pk, "t", proto_type_name(msg->type));
        pack_int(&pk, "v", PROTO_VERSION);
        pack_int(&pk, "task_id", msg->u.ref.task_id);
        pack_int(&pk, "attempt", msg->u.ref.attempt);
        break;
    case PROTO_REJECT:
        msgpack_pack_map(&pk, 5 + (msg->u.ref.interrupted ? 1 : 0) +
                                  (msg->u.ref.tseq_said ? 1 : 0));
        pack_str(&pk, "t", "reject");
        pack_int(&pk, "v", PROTO_VERSION);
        pack_int(&pk, "task_id", msg->u.ref.task_id);
        pack_int(&pk, "attempt", msg->u.ref.attempt);
        pack_str(&pk, "reason", msg->u.ref.reason[0] ? msg->u.ref.reason : "?");
        if (msg->u.ref.interrupted)
            pack_int(&pk, "interrupted", msg->u.ref.interrupted);
        if (msg->u.ref.tseq_said)
            pack_int(&pk, "tseq_last", msg->u.ref.tseq_last);
        break;
    default:
        msgpack_sbuffer_destroy(&sb);
        return -EINVAL;
    }
    if (!sb.data) {
        msgpack_sbuffer_destroy(&sb);
        return -ENOMEM;
    }
    *buf_p = sb.data;     /* the sbuffer's storage is plain malloc */
    *len_p = sb.size;
    return 0;
}

/* ---- Decoding --------------------------------------------------------- */

typedef struct decoder {
    const msgpack_object_map *map;
    char *err;
    size_t errsize;
    bool failed;
} decoder_t;

static void fail(decoder_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(decoder_t *d, const char *fmt, ...)
{
    if (d->failed)
        return;                 /* keep the first reason */
    d->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, d->errsize, fmt, ap);
    va_end(ap);
    /* The reason quotes names from the frame: one line, whatever they hold
    ** (found by the fuzzer: a parameter name with a newline). */
    for (char *c = d->err; d->errsize && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *lookup(const msgpack_object_map *map, const char *key)
{
    for (uint32_t i = 0; i < map->size; i++)
        if (str_is(&map->ptr[i].key, key))
            return &map->ptr[i].val;
    return NULL;
}

static bool obj_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

static void get_int(decoder_t *d, const char *key, int64_t *out)
{
    const msgpack_object *o = lookup(d->map, key);
    if (!o)
        fail(d, "missing field '%s'", key);
    else if (!obj_int(o, out))
        fail(d, "field '%s' is not an integer", key);
}

static void get_double(decoder_t *d, const char *key, double *out)
{
    const msgpack_object *o = lookup(d->map, key);
    int64_t i;
    if (!o)
        fail(d, "missing field '%s'", key);
    else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        *out = o->via.f64;
    else if (obj_int(o, &i))
        *out = (double)i;
    else
        fail(d, "field '%s' is not a number", key);
}

/* A bounded string into a fixed buffer; it must not contain NUL. */
static void get_name(decoder_t *d, const char *key, char *out, size_t size)
{
    const msgpack_object *o = lookup(d->map, key);
    if (!o) {
        fail(d, "missing field '%s'", key);
        return;
    }
    if (o->type != MSGPACK_OBJECT_STR) {
        fail(d, "field '%s' is not a string", key);
        return;
    }
    if (o->via.str.size == 0 || o->via.str.size >= size ||
        memchr(o->via.str.ptr, '\0', o->via.str.size)) {
        fail(d, "field '%s' is empty, too long or holds a NUL", key);
        return;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
}

/* An optional string (nil or absent -> NULL), malloc'd. */
static char *get_text(decoder_t *d, const char *key, size_t max)
{
    const msgpack_object *o = lookup(d->map, key);
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return NULL;
    if (o->type != MSGPACK_OBJECT_STR) {
        fail(d, "field '%s' is not a string", key);
        return NULL;
    }
    if (o->via.str.size > max) {
        fail(d, "field '%s' is longer than %zu bytes", key, max);
        return NULL;
    }
    char *s = malloc(o->via.str.size + 1);
    if (!s) {
        fail(d, "out of memory");
        return NULL;
    }
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static void get_fields(decoder_t *d, void *base, const field_t *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        get_int(d, fields[i].key, (int64_t *)((char *)base + fields[i].offset));
}

/* Fields a peer may not send: 0 when absent, an integer when present. */
static void get_opt_fields(decoder_t *d, void *base, const field_t *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t *out = (int64_t *)((char *)base + fields[i].offset);
        *out = 0;
        if (lookup(d->map, fields[i].key))
            get_int(d, fields[i].key, out);
    }
}

/* The optional "tseq_last" of a result or reject: *said 1 and its value
** when present (any integer: the coordinator judges it), else 0 and 0. */
static void get_tseq_last(decoder_t *d, int64_t *said, int64_t *last)
{
    *said = 0;
    *last = 0;
    if (lookup(d->map, "tseq_last")) {
        get_int(d, "tseq_last", last);
        *said = 1;
    }
}

/* As pack_gc_fields packs them, so that the first field missing is the
** one named. */
static void get_gc_fields(decoder_t *d, proto_gc_t *g)
{
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind == GC_FIELDS_KIND_REAL)
            get_double(d, f->name, gc_fields_real(&g->fields, f));
    }
    get_int(d, "task_id", &g->task_id);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        if (f->kind != GC_FIELDS_KIND_INT)
            continue;
        if (i >= GC_FIELDS_V1_COUNT && !lookup(d->map, f->name))
            *gc_fields_int(&g->fields, f) = 0;   /* added since version 1 */
        else
            get_int(d, f->name, gc_fields_int(&g->fields, f));
    }
    get_int(d, "attempt", &g->attempt);
    get_int(d, "tseq", &g->tseq);
}

static void get_params(decoder_t *d, const char *kernel, kparams_t *p)
{
    const kernel_spec_t *k = catalog_find(kernel);
    char why[256];

    if (!k) {
        fail(d, "unknown kernel '%s'", kernel);
        return;
    }
    const msgpack_object *o = lookup(d->map, "params");
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        fail(d, "field 'params' is missing or not a map");
        return;
    }
    if (kparams_init(p, k) != 0) {
        fail(d, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < o->via.map.size && !d->failed; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        const msgpack_object *val = &o->via.map.ptr[i].val;
        char name[64];
        size_t idx;
        int64_t iv;
        int rc;

        if (key->type != MSGPACK_OBJECT_STR || key->via.str.size >= sizeof name) {
            fail(d, "a parameter name is not a short string");
            break;
        }
        memcpy(name, key->via.str.ptr, key->via.str.size);
        name[key->via.str.size] = '\0';
        const kparam_spec_t *spec = catalog_param(k, name, &idx);
        if (!spec) {
            fail(d, "kernel %s has no parameter '%s'", k->name, name);
            break;
        }
        switch (spec->type) {
        case KPARAM_INT:
        case KPARAM_SIZE:
            rc = obj_int(val, &iv) ? kparams_set_int(p, idx, iv, why, sizeof why)
                                   : (snprintf(why, sizeof why, "not an integer"), -1);
            break;
        case KPARAM_FLOAT:
            if (val->type == MSGPACK_OBJECT_FLOAT64 || val->type == MSGPACK_OBJECT_FLOAT32)
                rc = kparams_set_float(p, idx, val->via.f64, why, sizeof why);
            else if (obj_int(val, &iv))
                rc = kparams_set_float(p, idx, (double)iv, why, sizeof why);
            else
                rc = (snprintf(why, sizeof why, "not a number"), -1);
            break;
        case KPARAM_BOOL:
            rc = val->type == MSGPACK_OBJECT_BOOLEAN
                     ? kparams_set_bool(p, idx, val->via.boolean, why, sizeof why)
                     : (snprintf(why, sizeof why, "not a boolean"), -1);
            break;
        case KPARAM_STRING: {
            if (val->type != MSGPACK_OBJECT_STR || val->via.str.size > 4096 ||
                memchr(val->via.str.ptr, '\0', val->via.str.size)) {
                rc = (snprintf(why, sizeof why, "not a string"), -1);
                break;
            }
            char *s = strndup(val->via.str.ptr, val->via.str.size);
            rc = s ? kparams_set_string(p, idx, s, why, sizeof why)
                   : (snprintf(why, sizeof why, "out of memory"), -1);
            free(s);
            break;
        }
        default:
            rc = (snprintf(why, sizeof why, "unsupported type"), -1);
        }
        if (rc != 0)
            fail(d, "parameter '%s': %s", name, why);
    }
    if (d->failed)
        kparams_free(p);
}

static void get_metrics(decoder_t *d, proto_result_t *r)
{
    const msgpack_object *o = lookup(d->map, "metrics");
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_METRICS_MAX) {
        fail(d, "field 'metrics' is not an array of at most %d", PROTO_METRICS_MAX);
        return;
    }
    for (uint32_t i = 0; i < o->via.array.size && !d->failed; i++) {
        const msgpack_object *m = &o->via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_MAP) {
            fail(d, "metric %u is not a map", i);
            break;
        }
        decoder_t md = {.map = &m->via.map, .err = d->err, .errsize = d->errsize};
        char name[PROTO_NAME_MAX];
        char unit[PROTO_NAME_MAX] = "";
        double value = 0;
        get_name(&md, "name", name, sizeof name);
        const msgpack_object *u = lookup(&m->via.map, "unit");
        if (u && !(u->type == MSGPACK_OBJECT_STR && u->via.str.size == 0))
            get_name(&md, "unit", unit, sizeof unit);
        get_double(&md, "value", &value);
        if (md.failed) {
            d->failed = true;
            break;
        }
        if (proto_result_add_metric(r, name, value, unit) != 0)
            fail(d, "out of memory");
    }
}

static void get_profile_sites(decoder_t *d, proto_profile_t *p)
{
    const msgpack_object *o = lookup(d->map, "sites");
    if (!o) {
        fail(d, "missing field 'sites'");
        return;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_PROFILE_SITES_MAX) {
        fail(d, "field 'sites' is not an array of at most %d", PROTO_PROFILE_SITES_MAX);
        return;
    }
    if (o->via.array.size == 0)
        return;
    p->sites = calloc(o->via.array.size, sizeof *p->sites);
    if (!p->sites) {
        fail(d, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < o->via.array.size && !d->failed; i++) {
        const msgpack_object *m = &o->via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_MAP) {
            fail(d, "site %u is not a map", i);
            break;
        }
        decoder_t md = {.map = &m->via.map, .err = d->err, .errsize = d->errsize};
        proto_profile_site_t *s = &p->sites[p->nsites];
        get_name(&md, "site", s->site, sizeof s->site);
        get_fields(&md, s, profile_site_fields, NFIELDS(profile_site_fields));
        if (!md.failed && (s->alloc_objects < 0 || s->alloc_bytes < 0 ||
                           s->inuse_objects < 0 || s->inuse_bytes < 0 ||
                           s->inuse_objects > s->alloc_objects ||
                           s->inuse_bytes > s->alloc_bytes))
            fail(&md, "site %u: figures negative, or more in use than allocated", i);
        if (md.failed) {
            d->failed = true;
            break;
        }
        p->nsites++;
    }
}

/* The array `key` of at most max maps, each decoded by one(md, element,
** i) into a calloc'd array (*array_p, *count_p set as soon as it is
** made, so that the caller frees what a failure leaves): 0, or -1 (d
** failed). */
static int get_maps(decoder_t *d, const char *key, size_t max,
                    void (*one)(decoder_t *md, void *out, size_t i), size_t elem,
                    void **array_p, size_t *count_p)
{
    const msgpack_object *o = lookup(d->map, key);
    if (!o) {
        fail(d, "missing field '%s'", key);
        return -1;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max) {
        fail(d, "field '%s' is not an array of at most %zu", key, max);
        return -1;
    }
    if (o->via.array.size == 0)
        return 0;
    char *array = calloc(o->via.array.size, elem);
    if (!array) {
        fail(d, "out of memory");
        return -1;
    }
    *array_p = array;
    *count_p = o->via.array.size;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *m = &o->via.array.ptr[i];
        if (m->type != MSGPACK_OBJECT_MAP) {
            fail(d, "%s %u is not a map", key, i);
            return -1;
        }
        decoder_t md = {.map = &m->via.map, .err = d->err, .errsize = d->errsize};
        one(&md, array + i * elem, i);
        if (md.failed) {
            d->failed = true;
            return -1;
        }
    }
    return 0;
}

static void get_retention_site(decoder_t *md, void *out, size_t i)
{
    proto_retention_site_t *x = out;
    get_name(md, "site", x->site, sizeof x->site);
    x->root_group = get_text(md, "root_group", PROTO_RETENTION_TEXT_MAX);
    x->root = get_text(md, "root", PROTO_RETENTION_TEXT_MAX);
    x->holder = get_text(md, "holder", PROTO_RETENTION_TEXT_MAX);
    x->path = get_text(md, "path", PROTO_RETENTION_TEXT_MAX);
    get_fields(md, x, retention_site_fields, NFIELDS(retention_site_fields));
    if (!md->failed && (!x->root_group || !x->root || !x->holder || !x->path))
        fail(md, "site %zu: root_group, root, holder and path are required", i);
    if (!md->failed && (x->roots < 0 || x->objects < 0 || x->site_objects < x->objects ||
                        x->retained_bytes < 0 || x->holder_retained_bytes < 0))
        fail(md, "site %zu: figures negative, or more objects than the site has", i);
}

static void get_goroutine_group(decoder_t *md, void *out, size_t i)
{
    proto_goroutine_group_t *x = out;
    get_name(md, "where", x->where, sizeof x->where);
    get_name(md, "reason", x->reason, sizeof x->reason);
    get_fields(md, x, goroutine_group_fields, NFIELDS(goroutine_group_fields));
    if (!md->failed && (x->count <= 0 || x->min_cycles < 0 || x->max_cycles < x->min_cycles))
        fail(md, "goroutine group %zu: count or cycles out of range", i);
}

static void get_retention(decoder_t *d, proto_retention_t *r)
{
    get_name(d, "worker", r->worker, sizeof r->worker);
    get_fields(d, r, retention_fields, NFIELDS(retention_fields));
    if (d->failed)
        return;
    if (r->task_id <= 0 || r->cycle < 0 || r->final < 0 || r->final > 1 || r->objects < 0 ||
        r->bytes < 0 || r->pause_ns < 0 || r->min_cycles < 0) {
        fail(d, "field 'task_id', 'cycle', 'final', 'objects', 'bytes', 'pause_ns' or "
                "'min_cycles' out of range");
        return;
    }
    const msgpack_object *o = lookup(d->map, "pprof");
    if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > PROTO_RETENTION_PPROF_MAX) {
        fail(d, "field 'pprof' is missing, not bytes or longer than %u", PROTO_RETENTION_PPROF_MAX);
        return;
    }
    r->pprof = malloc(o->via.bin.size ? o->via.bin.size : 1);
    if (!r->pprof) {
        fail(d, "out of memory");
        return;
    }
    memcpy(r->pprof, o->via.bin.ptr, o->via.bin.size);
    r->pprof_len = o->via.bin.size;
    if (get_maps(d, "sites", PROTO_RETENTION_SITES_MAX, get_retention_site, sizeof *r->sites,
                 (void **)&r->sites, &r->nsites) != 0)
        return;
    get_maps(d, "goroutines", PROTO_RETENTION_GROUPS_MAX, get_goroutine_group,
             sizeof *r->groups, (void **)&r->groups, &r->ngroups);
}

/*
** msgpack-c allocates what a container header declares before it reads the
** elements, so a 10-byte frame claiming 2^32 entries would cost gigabytes.
** Walk the frame's headers first: every declared element needs at least one
** byte (a map entry two), nesting is bounded, and lengths stay in the frame.
*/
#define PROTO_DEPTH_MAX 16

static int frame_check(const unsigned char *p, size_t len, char *err, size_t errsize)
{
    uint64_t pending[PROTO_DEPTH_MAX + 1];  /* objects still to read per level */
    int depth = 0;
    size_t off = 0;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (off >= len)
            goto out_short;
        unsigned char b = p[off++];
        uint64_t n = 0;         /* payload bytes to skip */
        uint64_t items = 0;     /* child objects of a container */
        size_t w = 0;           /* width of a length field */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            n = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: w = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: w = 2; break;
            case 0xc6: case 0xdb: w = 4; break;
            case 0xc7: w = 1; n = 1; break;                      /* ext: + type */
            case 0xc8: w = 2; n = 1; break;
            case 0xc9: w = 4; n = 1; break;
            case 0xca: n = 4; break;
            case 0xcb: n = 8; break;
            case 0xcc: case 0xd0: n = 1; break;
            case 0xcd: case 0xd1: n = 2; break;
            case 0xce: case 0xd2: n = 4; break;
            case 0xcf: case 0xd3: n = 8; break;
            case 0xd4: n = 2; break;
            case 0xd5: n = 3; break;
            case 0xd6: n = 5; break;
            case 0xd7: n = 9; break;
            case 0xd8: n = 17; break;
            case 0xdc: case 0xde: w = 2; break;                 /* array16, map16 */
            case 0xdd: case 0xdf: w = 4; break;
            default:
                snprintf(err, errsize, "invalid MessagePack byte 0x%02x at offset %zu", b,
                         off - 1);
                return -1;
            }
            if (w) {
                uint64_t v = 0;
                if (len - off < w)
                    goto out_short;
                for (size_t i = 0; i < w; i++)
                    v = (v << 8) | p[off + i];
                off += w;
                if (b == 0xdc || b == 0xdd)
                    items = v;
                else if (b == 0xde || b == 0xdf)
                    items = 2 * v;
                else
                    n += v;
            }
        }
        if (n > len - off)
            goto out_short;
        off += n;
        if (items) {
            if (items > len - off) {
                snprintf(err, errsize, "a container declares %llu elements in a %zu-byte frame",
                         (unsigned long long)items, len);
                return -1;
            }
            if (depth == PROTO_DEPTH_MAX) {
                snprintf(err, errsize, "nested deeper than %d", PROTO_DEPTH_MAX);
                return -1;
            }
            pending[++depth] = items;
        }
    }
    return 0;

out_short:
    snprintf(err, errsize, "truncated frame (%zu bytes)", len);
    return -1;
}

int proto_decode(const void *buf, size_t len, proto_msg_t *msg, char *err,
                 size_t errsize)
{
    msgpack_unpacked up;
    size_t off = 0;
    decoder_t d = {.err = err, .errsize = errsize};
    char type[16];
    int64_t version = 0;

    memset(msg, 0, sizeof *msg);
    if (frame_check(buf, len, err, errsize) != 0)
        return PROTO_EINVAL;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return ur = msgpack_unpack_next(&up, buf, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        snprintf(err, errsize, "not a MessagePack frame (%zu bytes)", len);
        goto out_unpacked;
    }
    if (off != len) {
        snprintf(err, errsize, "%zu trailing bytes after the message", len - off);
        goto out_unpacked;
    }
    if (up.data.type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errsize, "the message is not a map");
        goto out_unpacked;
    }
    d.map = &up.data.via.map;
    get_name(&d, "t", type, sizeof type);
    get_int(&d, "v", &version);
    if (d.failed)
        goto out_unpacked;
    if (version != PROTO_VERSION) {
        snprintf(err, errsize, "protocol version %lld, this heapsim speaks %d",
                 (long long)version, PROTO_VERSION);
        goto out_unpacked;
    }

    if (strcmp(type, "hello") == 0) {
        msg->type = PROTO_HELLO;
        get_name(&d, "worker", msg->u.hello.worker, sizeof msg->u.hello.worker);
        get_name(&d, "host", msg->u.hello.host, sizeof msg->u.hello.host);
        get_fields(&d, &msg->u.hello, hello_fields, NFIELDS(hello_fields));
        memcpy(msg->worker, msg->u.hello.worker, sizeof msg->worker);
    } else if (strcmp(type, "ready") == 0) {
        msg->type = PROTO_READY;
        get_name(&d, "worker", msg->worker, sizeof msg->worker);
    } else if (strcmp(type, "done") == 0) {
        msg->type = PROTO_DONE;
    } else if (strcmp(type, "task") == 0) {
        char kernel[64];
        msg->type = PROTO_TASK;
        get_name(&d, "token", msg->u.task.token, sizeof msg->u.task.token);
        get_name(&d, "heap", msg->u.task.heap, sizeof msg->u.task.heap);
        get_fields(&d, &msg->u.task, task_fields, NFIELDS(task_fields));
        get_opt_fields(&d, &msg->u.task, task_opt_fields, NFIELDS(task_opt_fields));
        get_name(&d, "kernel", kernel, sizeof kernel);
        if (!d.failed && (msg->u.task.task_id <= 0 || msg->u.task.attempt <= 0))
            fail(&d, "field 'task_id' or 'attempt' is not positive");
        if (!d.failed &&
            (msg->u.task.sample_interval_ns < PROTO_SAMPLE_INTERVAL_MIN_NS ||
             msg->u.task.sample_interval_ns > PROTO_SAMPLE_INTERVAL_MAX_NS))
            fail(&d, "field 'sample_interval_ns' is out of range (%lld)",
                 (long long)msg->u.task.sample_interval_ns);
        if (!d.failed && (msg->u.task.memory_limit_bytes < 0 ||
                          msg->u.task.heap_max_bytes < 0 ||
                          msg->u.task.stack_reserve_bytes < 0))
            fail(&d, "a size field is negative");
        if (!d.failed && (msg->u.task.timer_resolution_ns < 0 ||
                          msg->u.task.timer_resolution_ns > 1000000000))
            fail(&d, "field 'timer_resolution_ns' is out of range (0 to 1 s)");
        if (!d.failed && (msg->u.task.gctrace < 0 || msg->u.task.gctrace > 1 ||
                          msg->u.task.heap_private < 0 || msg->u.task.heap_private > 1))
            fail(&d, "field 'gctrace' or 'heap_private' is not 0 or 1");
        if (!d.failed && (msg->u.task.collector < 0 || msg->u.task.collector > 1))
            fail(&d, "field 'collector' is not 0 or 1");
        if (!d.failed && (msg->u.task.preempt_ns < -1 || msg->u.task.preempt_ns > 1000000000 ||
                          (msg->u.task.preempt_ns > 0 && msg->u.task.preempt_ns < 1000000)))
            fail(&d, "field 'preempt_ns' is out of range (-1 off, 0 default, or 1 ms to 1 s)");
        if (!d.failed && msg->u.task.mem_profile_rate < 0)
            fail(&d, "field 'mem_profile_rate' is negative");
        if (!d.failed)
            get_params(&d, kernel, &msg->u.task.params);
    } else if (strcmp(type, "sample") == 0) {
        msg->type = PROTO_SAMPLE;
        get_name(&d, "worker", msg->u.sample.worker, sizeof msg->u.sample.worker);
        get_fields(&d, &msg->u.sample, sample_fields, NFIELDS(sample_fields));
        memcpy(msg->worker, msg->u.sample.worker, sizeof msg->worker);
    } else if (strcmp(type, "gc") == 0) {
        msg->type = PROTO_GC;
        get_name(&d, "worker", msg->u.gc.worker, sizeof msg->u.gc.worker);
        get_name(&d, "heap", msg->u.gc.heap, sizeof msg->u.gc.heap);
        get_gc_fields(&d, &msg->u.gc);
        memcpy(msg->worker, msg->u.gc.worker, sizeof msg->worker);
    } else if (strcmp(type, "result") == 0) {
        proto_result_t *r = &msg->u.result;
        msg->type = PROTO_RESULT;
        get_name(&d, "worker", r->worker, sizeof r->worker);
        get_fields(&d, r, result_fields, NFIELDS(result_fields));
        r->error = get_text(&d, "error", PROTO_TEXT_MAX);
        r->output = get_text(&d, "output", PROTO_OUTPUT_MAX);
        get_metrics(&d, r);
        memcpy(msg->worker, r->worker, sizeof msg->worker);
        get_tseq_last(&d, &r->tseq_said, &r->tseq_last);
        if (!d.failed && r->ok != 0 && r->ok != 1)
            fail(&d, "field 'ok' is neither 0 nor 1");
    } else if (strcmp(type, "profile") == 0) {
        proto_profile_t *p = &msg->u.profile;
        msg->type = PROTO_PROFILE;
        get_name(&d, "worker", p->worker, sizeof p->worker);
        get_fields(&d, p, profile_fields, NFIELDS(profile_fields));
        if (!d.failed && (p->final < 0 || p->final > 1 || p->rate < 0 || p->cycle < 0))
            fail(&d, "field 'final', 'rate' or 'cycle' out of range");
        if (!d.failed)
            get_profile_sites(&d, p);
        memcpy(msg->worker, p->worker, sizeof msg->worker);
    } else if (strcmp(type, "retention") == 0) {
        msg->type = PROTO_RETENTION;
        get_retention(&d, &msg->u.retention);
        memcpy(msg->worker, msg->u.retention.worker, sizeof msg->worker);
    } else if (strcmp(type, "welcome") == 0) {
        msg->type = PROTO_WELCOME;
        get_name(&d, "worker", msg->u.welcome.worker, sizeof msg->u.welcome.worker);
        get_int(&d, "heartbeat_ms", &msg->u.welcome.heartbeat_ms);
        msg->u.welcome.misses = 3;
        if (lookup(d.map, "misses"))
            get_int(&d, "misses", &msg->u.welcome.misses);
        if (!d.failed && (msg->u.welcome.heartbeat_ms < PROTO_HEARTBEAT_MIN_MS ||
                          msg->u.welcome.heartbeat_ms > PROTO_HEARTBEAT_MAX_MS))
            fail(&d, "field 'heartbeat_ms' is out of range");
        if (!d.failed && (msg->u.welcome.misses < 1 || msg->u.welcome.misses > PROTO_MISSES_MAX))
            fail(&d, "field 'misses' is out of range");
    } else if (strcmp(type, "heartbeat") == 0 || strcmp(type, "ack") == 0 ||
               strcmp(type, "reject") == 0) {
        msg->type = type[0] == 'h' ? PROTO_HEARTBEAT : type[0] == 'a' ? PROTO_ACK
                                                                       : PROTO_REJECT;
        get_int(&d, "task_id", &msg->u.ref.task_id);
        get_int(&d, "attempt", &msg->u.ref.attempt);
        if (msg->type == PROTO_REJECT) {
            get_name(&d, "reason", msg->u.ref.reason, sizeof msg->u.ref.reason);
            if (lookup(d.map, "interrupted"))
                get_int(&d, "interrupted", &msg->u.ref.interrupted);
            get_tseq_last(&d, &msg->u.ref.tseq_said, &msg->u.ref.tseq_last);
            if (!d.failed && (msg->u.ref.interrupted < 0 || msg->u.ref.interrupted > 1))
                fail(&d, "field 'interrupted' is out of range");
        }
        if (!d.failed && (msg->u.ref.task_id < 0 || msg->u.ref.attempt < 0))
            fail(&d, "field 'task_id' or 'attempt' is negative");
    } else {
        fail(&d, "unknown message type '%s'", type);
    }
    if (d.failed) {
        if (msg->type == PROTO_TASK && msg->u.task.params.values)
            kparams_free(&msg->u.task.params);
        if (msg->type != PROTO_TASK)
            proto_msg_free(msg);
        memset(msg, 0, sizeof *msg);
        goto out_unpacked;
    }
    msgpack_unpacked_destroy(&up);
    return 0;

out_unpacked:
    msgpack_unpacked_destroy(&up);
    return PROTO_EINVAL;
}

void proto_msg_free(proto_msg_t *msg)
{
    if (!msg)
        return;
    if (msg->type == PROTO_TASK && msg->u.task.params.values)
        kparams_free(&msg->u.task.params);
    if (msg->type == PROTO_RESULT) {
        proto_result_t *r = &msg->u.result;
        free(r->error);
        free(r->output);
        for (size_t i = 0; i < r->nmetrics; i++) {
            free(r->metrics[i].name);
            free(r->metrics[i].unit);
        }
        free(r->metrics);
        r->error = r->output = NULL;
        r->metrics = NULL;
        r->nmetrics = 0;
    }
    if (msg->type == PROTO_RETENTION) {
        proto_retention_t *r = &msg->u.retention;
        for (size_t i = 0; r->sites && i < r->nsites; i++) {
            free(r->sites[i].root_group);
            free(r->sites[i].root);
            free(r->sites[i].holder);
            free(r->sites[i].path);
        }
        free(r->sites);
        free(r->groups);
        free(r->pprof);
        memset(r, 0, sizeof *r);
    }
    if (msg->type == PROTO_PROFILE) {
        free(msg->u.profile.sites);
        msg->u.profile.sites = NULL;
        msg->u.profile.nsites = 0;
    }
}

int proto_result_add_metric(proto_result_t *r, const char *name, double value,
                            const char *unit)
{
    proto_metric_t *m = realloc(r->metrics, (r->nmetrics + 1) * sizeof *m);
    if (!m)
        return -ENOMEM;
    r->metrics = m;
    m = &r->metrics[r->nmetrics];
    m->name = strdup(name);
    m->unit = strdup(unit ? unit : "");
    if (!m->name || !m->unit) {
        free(m->name);
        free(m->unit);
        return -ENOMEM;
    }
    m->value = value;
    r->nmetrics++;
    return 0;
}
