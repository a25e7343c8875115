/*
** catalog/catalog.c -- the kernel registry and parameter values.
**
** The registry is one static table, kept in alphabetical order of kernel
** name (catalog_kernels() and catalog_kernel_names() list it in table
** order; catalog_test checks the order, the uniqueness of names and that
** every default lies in its range). To add a kernel: write its kparam_spec_t
** array with the P_* macros below and add a K() line to `kernels`.
**
** Text syntax accepted by kparams_set_text() and the units_parse_*() (base/units.h)
** functions (all of it locale-independent except the decimal point of
** floats, which is the C locale's '.'):
**   int    decimal, optional sign, '_' allowed between digits: "1_000_000"
**   size   a whole number of bytes, or a number with a unit: "4096",
**          "64KiB", "1.5GiB", "32 MiB". Units, case-insensitive:
**          B; KiB MiB GiB TiB (powers of 1024); kB MB GB TB (powers of
**          1000, as SI and IEC define them). A fraction (at most 6 digits)
**          needs a unit above B and is rounded down to a whole byte.
**          Negative sizes and sizes above INT64_MAX are rejected.
**   float  decimal or exponent notation, finite: "0.5", "1e-3"
**   bool   true/false, yes/no, on/off, 1/0, case-insensitive
**   string the text as is, checked against `choices` when there are any
*/
#include "catalog/catalog.h"

#include "base/text.h"
#include "base/units.h"

#include <assert.h>
#include <ctype.h>
#include <json-c/json.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KIB ((int64_t)1 << 10)
#define MIB ((int64_t)1 << 20)
#define GIB ((int64_t)1 << 30)
#define TIB ((int64_t)1 << 40)

/* ---- the table -------------------------------------------------------- */

#define P_INT(n, lo, hi, def, d) \
    { .name = (n), .type = KPARAM_INT, .doc = (d), .def_i = (def), \
      .min_i = (lo), .max_i = (hi) }
#define P_SIZE(n, lo, hi, def, d) \
    { .name = (n), .type = KPARAM_SIZE, .doc = (d), .def_i = (def), \
      .min_i = (lo), .max_i = (hi) }
#define P_FLOAT(n, lo, hi, def, d) \
    { .name = (n), .type = KPARAM_FLOAT, .doc = (d), .def_f = (def), \
      .min_f = (lo), .max_f = (hi) }
#define P_BOOL(n, def, d) \
    { .name = (n), .type = KPARAM_BOOL, .doc = (d), .def_i = (def) ? 1 : 0, \
      .min_i = 0, .max_i = 1 }
#define P_STRING(n, choices_, def, d) \
    { .name = (n), .type = KPARAM_STRING, .doc = (d), .def_s = (def), \
      .choices = (choices_) }

#define K(n, summary_, params_) \
    { .name = (n), .summary = (summary_), .params = (params_), \
      .nparams = sizeof(params_) / sizeof((params_)[0]) }

static const kparam_spec_t binary_trees_params[] = {
    P_INT("depth", 4, 30, 10, "maximum tree depth (the Benchmarks Game N)"),
};

static const kparam_spec_t churn_params[] = {
    P_INT("objects", 1, 1000000000, 1000000, "objects allocated in all"),
    P_INT("live_objects", 0, 100000000, 10000, "objects kept live at once"),
    P_SIZE("min_bytes", 8, 32 * MIB, 16, "smallest object size"),
    P_SIZE("max_bytes", 8, 32 * MIB, 512, "largest object size"),
    P_INT("goroutines", 1, 100000, 1, "goroutines allocating at once"),
};

static const char *const copy_by[] = { "value", "pointer", NULL };

static const kparam_spec_t copy_vs_pointer_params[] = {
    P_INT("items", 1, 100000000, 20000, "payloads sent through the pipeline"),
    P_SIZE("payload_bytes", 16, 16 * MIB, 64 * KIB, "size of each payload"),
    P_INT("stages", 1, 64, 4, "goroutine stages between the source and the sink"),
    P_STRING("by", copy_by, "value",
             "value: each stage copies the payload into a new object; "
             "pointer: it passes the same object on"),
};

static const kparam_spec_t gcbench_params[] = {
    P_INT("max_depth", 4, 24, 16, "depth of the largest short-lived trees"),
    P_INT("long_lived_depth", 4, 24, 16, "depth of the long-lived tree"),
    P_INT("array_size", 0, 100000000, 500000, "doubles in the long-lived array"),
};

static const char *const leak_modes[] = { "table", "goroutines", NULL };

static const kparam_spec_t leak_params[] = {
    P_INT("requests", 1, 100000000, 200000, "requests handled, 64 goroutines at a time"),
    P_SIZE("request_bytes", 16, MIB, 1024, "payload allocated per request"),
    P_FLOAT("retain_percent", 0, 100, 10,
            "share of the requests that keep something: a table entry, or a watcher goroutine"),
    P_BOOL("release", false,
           "a deferred cleanup releases it when its handler ends "
           "(removes the entry / closes the watcher's channel)"),
    P_STRING("mode", leak_modes, "table",
             "what leaks: table (requests kept in a global table) or goroutines "
             "(watchers blocked on a channel nobody sends to, each holding its request)"),
};

static const kparam_spec_t sessions_params[] = {
    P_INT("requests", 1, 100000000, 100000, "requests handled, one at a time"),
    P_SIZE("body_bytes", 16, MIB, 8 * KIB, "request body read per request (garbage after it)"),
    P_SIZE("response_bytes", 16, MIB, 2 * KIB, "response built per request (garbage after it)"),
    P_SIZE("session_bytes", 16, MIB, 512, "session record kept in the session table"),
    P_FLOAT("new_session_percent", 0, 100, 5, "share of the requests that open a session"),
    P_BOOL("evict", false, "the table is a ring of max_sessions: a new session replaces the "
                           "oldest (else sessions are never closed: the leak)"),
    P_INT("max_sessions", 1, 100000000, 1000, "table slots with evict"),
};

static const kparam_spec_t pingpong_params[] = {
    P_INT("rounds", 1, 1000000000, 1000000, "round trips over the two channels"),
};

static const kparam_spec_t pool_params[] = {
    P_INT("requests", 1, 1000000000, 200000, "requests served"),
    P_SIZE("payload_bytes", 16, 16 * MIB, 4 * KIB, "the buffer each request writes its response to"),
    P_INT("concurrency", 1, 100000, 64, "goroutines serving, each with one request in flight"),
    P_BOOL("pool", false, "take buffers from a sync.Pool and put them back, instead of allocating each"),
};

static const char *const pc_variation[] = { "exponential", "fixed", NULL };
static const char *const pc_work[] = { "sleep", "spin", NULL };

static const kparam_spec_t producer_consumer_params[] = {
    P_INT("producers", 1, 10000, 1, "producer goroutines"),
    P_INT("consumers", 1, 10000, 1, "consumer goroutines"),
    P_INT("items", 1, 100000000, 1000, "items produced and consumed in all"),
    P_INT("buffer", 0, 1000000, 0, "channel buffer in items (0: unbuffered, a rendezvous)"),
    P_SIZE("item_bytes", 16, MIB, KIB, "size of each item (a heap object)"),
    P_INT("produce_ns", 0, 1000000000, 1000000,
          "mean work per item of a producer, ns (sleeps overshoot by ~50-100 us)"),
    P_INT("consume_ns", 0, 1000000000, 1250000, "mean work per item of a consumer, ns"),
    P_STRING("variation", pc_variation, "exponential",
             "per-item work: exponential (varies around its mean) or fixed"),
    P_STRING("work", pc_work, "sleep",
             "sleep (waiting on I/O or another CPU: goroutines overlap) or spin "
             "(CPU on heapsim's one scheduler thread: nothing overlaps)"),
};

static const char *const rs_arrivals[] = { "poisson", "uniform", NULL };

static const kparam_spec_t request_server_params[] = {
    P_FLOAT("rate", 1, 1000000, 2000, "requests arriving per second (open loop)"),
    P_INT("requests", 1, 10000000, 6000, "requests in all (duration = requests / rate)"),
    P_STRING("arrivals", rs_arrivals, "poisson",
             "gaps between arrivals: poisson (exponential gaps) or uniform"),
    P_INT("objects_per_request", 1, 100000, 32, "objects in each request's graph"),
    P_SIZE("object_bytes", 24, 32 * KIB, 128, "size of each graph object (two references and data)"),
    P_SIZE("buffer_bytes", 0, 16 * MIB, 32 * KIB, "each request's response buffer (0: none)"),
    P_INT("cache_requests", 0, 1000000, 4000,
          "the graphs of this many recent requests stay live in a cache"),
    P_BOOL("pool", false, "response buffers from a sync.Pool instead of new ones"),
};

static const kparam_spec_t spawn_params[] = {
    P_INT("goroutines", 1, 10000000, 10000,
          "goroutines spawned, parked on a channel, then released"),
};

static const kparam_spec_t stacks_params[] = {
    P_INT("goroutines", 1, 1000000, 10000, "goroutines recursing at once"),
    P_INT("depth", 0, 10000, 100,
          "recursion depth in frames (beyond the stack reserve: stack overflow)"),
    P_SIZE("frame_bytes", 16, 4 * KIB, 128, "local array written in each frame"),
    P_BOOL("threads", true,
           "also run it on min(goroutines, 2000) pthreads for comparison"),
};

static const kernel_spec_t kernels[] = {
    K("binary_trees",
      "Benchmarks Game binary-trees: allocate and discard perfect binary "
      "trees; mark-and-sweep under a high allocation rate",
      binary_trees_params),
    K("churn",
      "Allocate objects of mixed sizes, keeping a sliding window live; "
      "steady-state GC pacing",
      churn_params),
    K("copy_vs_pointer",
      "A pipeline of goroutine stages passing large payloads by value (a "
      "new copy per stage) or by pointer: allocations, bytes and time per item",
      copy_vs_pointer_params),
    K("gcbench",
      "Ellis-Kovac-Boehm GCBench: long-lived tree and array, many "
      "short-lived trees built top-down and bottom-up",
      gcbench_params),
    K("leak",
      "A request loop that keeps a share of its requests in a global "
      "table, or leaves goroutines blocked on a channel nobody sends to: "
      "the live heap (and the goroutines) grow; with release, a deferred "
      "cleanup removes each entry or closes each channel and they stay flat",
      leak_params),
    K("pingpong",
      "Two goroutines bounce a value over unbuffered channels; what a "
      "channel hand-off and its two switches cost",
      pingpong_params),
    K("pool",
      "Requests writing per-request buffers, allocated fresh or reused "
      "through a sync.Pool: allocations, GC cycles and time per request",
      pool_params),
    K("producer_consumer",
      "Producers and slower consumers over a channel of 0..N buffer slots: "
      "throughput, time blocked on each side and items queued -- a buffer "
      "absorbs bursts, and holds items live",
      producer_consumer_params),
    K("request_server",
      "An open-loop service: requests arrive at a rate, each handled by a "
      "goroutine allocating a graph; latency percentiles (HDR histogram) "
      "with GC pauses in the tail",
      request_server_params),
    K("sessions",
      "A request handler whose leak hides among honest allocations: bodies and "
      "responses lead what is allocated, sessions never closed are what stays; "
      "the heap profile's inuse_space finds them (evict: a bounded table)",
      sessions_params),
    K("spawn",
      "Spawn goroutines that park on a channel, release them all with one "
      "close and wait; what a goroutine costs in time and memory",
      spawn_params),
    K("stacks",
      "Many goroutines blocked at the bottom of a recursion: stack bytes "
      "per goroutine, beside the same on OS threads (pthreads)",
      stacks_params),
};

#define NKERNELS (sizeof(kernels) / sizeof(kernels[0]))

/* ---- small helpers ---------------------------------------------------- */

/* A broken invariant of our own code (a kernel asking for a parameter it
** does not have, an index past the end). Checked in every build mode, not
** only with assert(): opt builds define NDEBUG, and a kernel silently
** reading the wrong slot would corrupt a measurement. */
#define CATALOG_INVARIANT(cond, what) \
    ((cond) ? (void)0 : invariant_failed((what), __FILE__, __LINE__))

static _Noreturn void invariant_failed(const char *what, const char *file,
                                       int line)
{
    fprintf(stderr, "%s:%d: catalog invariant broken: %s\n", file, line, what);
    abort();
}

/* `text` as a double-quoted one-line literal for an error message:
** control characters, quotes and backslashes escaped, cut at 48 bytes. */
static const char *quote(const char *text, char *buf, size_t size)
{
    static const size_t max_shown = 48;
    size_t out = 0, in;

    assert(size >= 16);
    buf[out++] = '"';
    for (in = 0; text[in] != '\0'; in++) {
        unsigned char c = (unsigned char)text[in];

        if (in == max_shown || out + 8 >= size) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[out++] = '\\';
            buf[out++] = (char)c;
        } else if (c == '\n') {
            buf[out++] = '\\';
            buf[out++] = 'n';
        } else if (c == '\t') {
            buf[out++] = '\\';
            buf[out++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            out += (size_t)snprintf(buf + out, size - out, "\\x%02x", c);
        } else {
            buf[out++] = (char)c;
        }
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}

/* ---- the registry ----------------------------------------------------- */

const kernel_spec_t *catalog_kernels(size_t *count)
{
    if (count != NULL)
        *count = NKERNELS;
    return kernels;
}

const kernel_spec_t *catalog_find(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < NKERNELS; i++)
        if (strcmp(kernels[i].name, name) == 0)
            return &kernels[i];
    return NULL;
}

const kparam_spec_t *catalog_param(const kernel_spec_t *k, const char *name,
                                   size_t *index)
{
    size_t i;

    if (k == NULL || name == NULL)
        return NULL;
    for (i = 0; i < k->nparams; i++) {
        if (strcmp(k->params[i].name, name) == 0) {
            if (index != NULL)
                *index = i;
            return &k->params[i];
        }
    }
    return NULL;
}

char *catalog_kernel_names(char *buf, size_t size)
{
    size_t i;

    if (buf == NULL || size == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; i < NKERNELS; i++)
        text_append(buf, size, "%s%s", i > 0 ? ", " : "", kernels[i].name);
    return buf;
}

const char *catalog_type_name(kparam_type_t type)
{
    switch (type) {
    case KPARAM_INT: return "int";
    case KPARAM_SIZE: return "size";
    case KPARAM_FLOAT: return "float";
    case KPARAM_BOOL: return "bool";
    case KPARAM_STRING: return "string";
    }
    return "?";
}

/* "4..30", "8 B..32 MiB", "0..1", "" (bool), "a|b|c" (string). */
static void format_range(const kparam_spec_t *s, char *buf, size_t size)
{
    char lo[32], hi[32];
    size_t i;

    buf[0] = '\0';
    switch (s->type) {
    case KPARAM_INT:
        snprintf(buf, size, "%lld..%lld", (long long)s->min_i,
                 (long long)s->max_i);
        break;
    case KPARAM_SIZE:
        snprintf(buf, size, "%s..%s",
                 units_format_size(s->min_i, lo, sizeof(lo)),
                 units_format_size(s->max_i, hi, sizeof(hi)));
        break;
    case KPARAM_FLOAT:
        snprintf(buf, size, "%g..%g", s->min_f, s->max_f);
        break;
    case KPARAM_BOOL:
        break;
    case KPARAM_STRING:
        for (i = 0; s->choices != NULL && s->choices[i] != NULL; i++)
            text_append(buf, size, "%s%s", i > 0 ? "|" : "", s->choices[i]);
        break;
    }
}

/* The default as text: "10", "16 B", "0.5", "false", "fast". */
static void format_default(const kparam_spec_t *s, char *buf, size_t size)
{
    switch (s->type) {
    case KPARAM_INT:
        snprintf(buf, size, "%lld", (long long)s->def_i);
        break;
    case KPARAM_SIZE:
        units_format_size(s->def_i, buf, size);
        break;
    case KPARAM_FLOAT:
        snprintf(buf, size, "%g", s->def_f);
        break;
    case KPARAM_BOOL:
        snprintf(buf, size, "%s", s->def_i ? "true" : "false");
        break;
    case KPARAM_STRING:
        snprintf(buf, size, "%s", s->def_s != NULL ? s->def_s : "");
        break;
    }
}

char *catalog_param_list(const kernel_spec_t *k, char *buf, size_t size)
{
    char range[256], def[64];
    size_t i;

    if (buf == NULL || size == 0)
        return buf;
    buf[0] = '\0';
    for (i = 0; k != NULL && i < k->nparams; i++) {
        const kparam_spec_t *s = &k->params[i];

        format_range(s, range, sizeof(range));
        format_default(s, def, sizeof(def));
        text_append(buf, size, "%s%s (%s%s%s, default %s)", i > 0 ? ", " : "",
                   s->name, catalog_type_name(s->type),
                   range[0] != '\0' ? ", " : "", range, def);
    }
    return buf;
}

/* ---- text parsing ----------------------------------------------------- */

/* "true"/"yes"/"on"/"1" and their opposites, any case. 0 or -EINVAL. */
static int parse_bool(const char *text, bool *v)
{
    static const char *const truthy[] = { "true", "yes", "on", "1" };
    static const char *const falsy[] = { "false", "no", "off", "0" };
    size_t i;

    for (i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        if (strcasecmp(text, truthy[i]) == 0) {
            *v = true;
            return 0;
        }
        if (strcasecmp(text, falsy[i]) == 0) {
            *v = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* A finite decimal number ("0.5", "-2", "1e-3"). 0 or -EINVAL. Only
** digits, sign, '.', and 'e' are accepted, so strtod's "inf", "nan" and
** hexadecimal forms are not. */
static int parse_float(const char *text, double *v)
{
    double parsed;
    char *end;

    if (text[0] == '\0' || text[strspn(text, "0123456789+-.eE")] != '\0')
        return -EINVAL;
    errno = 0;
    parsed = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(parsed))
        return -EINVAL;
    *v = parsed;
    return 0;
}

/* ---- parameter values ------------------------------------------------- */

int kparams_init(kparams_t *p, const kernel_spec_t *k)
{
    kparam_value_t *values;
    size_t i;

    p->kernel = NULL;
    p->values = NULL;
    values = calloc(k->nparams > 0 ? k->nparams : 1, sizeof(*values));
    if (values == NULL)
        return -ENOMEM;
    for (i = 0; i < k->nparams; i++) {
        const kparam_spec_t *s = &k->params[i];

        values[i].type = s->type;
        if (s->type == KPARAM_FLOAT) {
            values[i].u.f = s->def_f;
        } else if (s->type == KPARAM_STRING) {
            values[i].u.s = strdup(s->def_s != NULL ? s->def_s : "");
            if (values[i].u.s == NULL)
                goto out_free_values;
        } else {
            values[i].u.i = s->def_i;
        }
    }
    p->kernel = k;
    p->values = values;
    return 0;

out_free_values:
    while (i-- > 0)
        if (values[i].type == KPARAM_STRING)
            free(values[i].u.s);
    free(values);
    return -ENOMEM;
}

void kparams_free(kparams_t *p)
{
    size_t i;

    if (p == NULL)
        return;
    if (p->values != NULL) {
        for (i = 0; i < p->kernel->nparams; i++)
            if (p->values[i].type == KPARAM_STRING)
                free(p->values[i].u.s);
        free(p->values);
    }
    p->values = NULL;
    p->kernel = NULL;
}

int kparams_copy(kparams_t *dst, const kparams_t *src)
{
    kparam_value_t *values;
    size_t i, n;

    dst->kernel = NULL;
    dst->values = NULL;
    if (src->values == NULL)
        return 0;
    n = src->kernel->nparams;
    values = calloc(n > 0 ? n : 1, sizeof(*values));
    if (values == NULL)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        values[i] = src->values[i];
        if (values[i].type == KPARAM_STRING) {
            values[i].u.s = strdup(src->values[i].u.s);
            if (values[i].u.s == NULL)
                goto out_free_values;
        }
    }
    dst->kernel = src->kernel;
    dst->values = values;
    return 0;

out_free_values:
    while (i-- > 0)
        if (values[i].type == KPARAM_STRING)
            free(values[i].u.s);
    free(values);
    return -ENOMEM;
}

/* What a value of spec s must be, for "expected %s, got ...". With
** `syntax_hint`, sizes say what they look like. */
static const char *describe_expected(const kparam_spec_t *s, bool syntax_hint,
                                     char *buf, size_t size)
{
    char lo[32], hi[32];
    size_t i;

    switch (s->type) {
    case KPARAM_INT:
        snprintf(buf, size, "an integer from %lld to %lld",
                 (long long)s->min_i, (long long)s->max_i);
        break;
    case KPARAM_SIZE:
        snprintf(buf, size, "a size from %s to %s%s",
                 units_format_size(s->min_i, lo, sizeof(lo)),
                 units_format_size(s->max_i, hi, sizeof(hi)),
                 syntax_hint ? " (like 4096, 64KiB or 1.5GiB)" : "");
        break;
    case KPARAM_FLOAT:
        snprintf(buf, size, "a number from %g to %g", s->min_f, s->max_f);
        break;
    case KPARAM_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case KPARAM_STRING:
        if (s->choices == NULL) {
            snprintf(buf, size, "a string");
            break;
        }
        snprintf(buf, size, "one of ");
        for (i = 0; s->choices[i] != NULL; i++)
            text_append(buf, size, "%s%s", i > 0 ? ", " : "", s->choices[i]);
        break;
    }
    return buf;
}

char *catalog_param_expected(const kparam_spec_t *s, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return buf;
    describe_expected(s, false, buf, size);
    return buf;
}

static const kparam_spec_t *spec_at(const kparams_t *p, size_t index)
{
    CATALOG_INVARIANT(p != NULL && p->kernel != NULL && p->values != NULL,
                      "kparams_t not initialised");
    CATALOG_INVARIANT(index < p->kernel->nparams, "parameter index too large");
    return &p->kernel->params[index];
}

/* Store v into an INT or SIZE slot after the range check. */
static int store_int(kparams_t *p, size_t index, int64_t v, const char *got,
                     char *err, size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char expected[160];

    if (v < s->min_i || v > s->max_i) {
        text_set_err(err, errsize, "expected %s, got %s",
                describe_expected(s, false, expected, sizeof(expected)), got);
        return -EINVAL;
    }
    p->values[index].u.i = v;
    return 0;
}

static int store_float(kparams_t *p, size_t index, double v, const char *got,
                       char *err, size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char expected[160];

    if (!isfinite(v) || v < s->min_f || v > s->max_f) {
        text_set_err(err, errsize, "expected %s, got %s",
                describe_expected(s, false, expected, sizeof(expected)), got);
        return -EINVAL;
    }
    p->values[index].u.f = v;
    return 0;
}

static int store_string(kparams_t *p, size_t index, const char *v,
                        const char *got, char *err, size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char expected[160];
    bool allowed = s->choices == NULL;
    char *copy;
    size_t i;

    for (i = 0; !allowed && s->choices[i] != NULL; i++)
        allowed = strcmp(s->choices[i], v) == 0;
    if (!allowed) {
        text_set_err(err, errsize, "expected %s, got %s",
                describe_expected(s, false, expected, sizeof(expected)), got);
        return -EINVAL;
    }
    copy = strdup(v);
    if (copy == NULL) {
        text_set_err(err, errsize, "out of memory");
        return -ENOMEM;
    }
    free(p->values[index].u.s);
    p->values[index].u.s = copy;
    return 0;
}

static int type_mismatch(const kparam_spec_t *s, const char *got, char *err,
                         size_t errsize)
{
    char expected[160];

    text_set_err(err, errsize, "expected %s, got %s",
            describe_expected(s, false, expected, sizeof(expected)), got);
    return -EINVAL;
}

int kparams_set_text(kparams_t *p, size_t index, const char *text,
                     char *err, size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char got[128], expected[160];
    int64_t i;
    double f;
    bool b;

    quote(text, got, sizeof(got));
    switch (s->type) {
    case KPARAM_INT:
        if (units_parse_int(text, &i) != 0)
            return type_mismatch(s, got, err, errsize);
        return store_int(p, index, i, got, err, errsize);
    case KPARAM_SIZE:
        if (units_parse_size(text, &i) != 0) {
            text_set_err(err, errsize, "expected %s, got %s",
                    describe_expected(s, true, expected, sizeof(expected)),
                    got);
            return -EINVAL;
        }
        return store_int(p, index, i, got, err, errsize);
    case KPARAM_FLOAT:
        if (parse_float(text, &f) != 0)
            return type_mismatch(s, got, err, errsize);
        return store_float(p, index, f, got, err, errsize);
    case KPARAM_BOOL:
        if (parse_bool(text, &b) != 0)
            return type_mismatch(s, got, err, errsize);
        p->values[index].u.i = b;
        return 0;
    case KPARAM_STRING:
        return store_string(p, index, text, got, err, errsize);
    }
    assert(!"unknown parameter type");
    return -EINVAL;
}

int kparams_set_int(kparams_t *p, size_t index, int64_t v, char *err,
                    size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char got[48];

    switch (s->type) {
    case KPARAM_INT:
        snprintf(got, sizeof(got), "%lld", (long long)v);
        return store_int(p, index, v, got, err, errsize);
    case KPARAM_SIZE:
        units_format_size(v, got, sizeof(got));
        return store_int(p, index, v, got, err, errsize);
    case KPARAM_FLOAT:
        snprintf(got, sizeof(got), "%lld", (long long)v);
        /* Only integers a double holds exactly. */
        if (v < -((int64_t)1 << 53) || v > ((int64_t)1 << 53))
            return type_mismatch(s, got, err, errsize);
        return store_float(p, index, (double)v, got, err, errsize);
    case KPARAM_BOOL:
    case KPARAM_STRING:
        snprintf(got, sizeof(got), "%lld", (long long)v);
        return type_mismatch(s, got, err, errsize);
    }
    assert(!"unknown parameter type");
    return -EINVAL;
}

int kparams_set_float(kparams_t *p, size_t index, double v, char *err,
                      size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char got[48];

    snprintf(got, sizeof(got), "%g", v);
    switch (s->type) {
    case KPARAM_FLOAT:
        return store_float(p, index, v, got, err, errsize);
    case KPARAM_INT:
    case KPARAM_SIZE:
        /* A whole number within int64 (2^63 is the first double above). */
        if (!isfinite(v) || v != trunc(v) || v < -9223372036854775808.0 ||
            v >= 9223372036854775808.0)
            return type_mismatch(s, got, err, errsize);
        return store_int(p, index, (int64_t)v, got, err, errsize);
    case KPARAM_BOOL:
    case KPARAM_STRING:
        return type_mismatch(s, got, err, errsize);
    }
    assert(!"unknown parameter type");
    return -EINVAL;
}

int kparams_set_bool(kparams_t *p, size_t index, bool v, char *err,
                     size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);

    if (s->type != KPARAM_BOOL)
        return type_mismatch(s, v ? "true" : "false", err, errsize);
    p->values[index].u.i = v;
    return 0;
}

int kparams_set_string(kparams_t *p, size_t index, const char *v, char *err,
                       size_t errsize)
{
    const kparam_spec_t *s = spec_at(p, index);
    char got[128];

    quote(v, got, sizeof(got));
    if (s->type != KPARAM_STRING)
        return type_mismatch(s, got, err, errsize);
    return store_string(p, index, v, got, err, errsize);
}

/* The value of parameter `name`, which must exist and be of `type`
** (KPARAM_INT also matches KPARAM_SIZE). */
static const kparam_value_t *value_of(const kparams_t *p, const char *name,
                                      kparam_type_t type)
{
    const kparam_spec_t *s;
    size_t index = 0;

    CATALOG_INVARIANT(p != NULL && p->values != NULL,
                      "kparams_t not initialised");
    s = catalog_param(p->kernel, name, &index);
    CATALOG_INVARIANT(s != NULL, "no such parameter for this kernel");
    CATALOG_INVARIANT(s->type == type ||
                      (type == KPARAM_INT && s->type == KPARAM_SIZE),
                      "parameter read with a getter of another type");
    return &p->values[index];
}

int64_t kparams_int(const kparams_t *p, const char *name)
{
    return value_of(p, name, KPARAM_INT)->u.i;
}

double kparams_float(const kparams_t *p, const char *name)
{
    return value_of(p, name, KPARAM_FLOAT)->u.f;
}

bool kparams_bool(const kparams_t *p, const char *name)
{
    return value_of(p, name, KPARAM_BOOL)->u.i != 0;
}

const char *kparams_string(const kparams_t *p, const char *name)
{
    return value_of(p, name, KPARAM_STRING)->u.s;
}

/* ---- JSON ------------------------------------------------------------- */

/* obj as compact JSON text in a malloc'd string; takes obj. NULL on
** failure. */
static char *json_take_text(json_object *obj)
{
    const char *text;
    char *copy = NULL;

    if (obj == NULL)
        return NULL;
    text = json_object_to_json_string_ext(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text != NULL)
        copy = strdup(text);
    json_object_put(obj);
    return copy;
}

/* Add key: value to obj, taking value. false on failure. */
static bool json_add(json_object *obj, const char *key, json_object *value)
{
    if (value == NULL)
        return false;
    if (json_object_object_add(obj, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

/* v as its shortest exact text (text_format_double): 10 -> 10.0, 0.25. */
static json_object *json_double(double v)
{
    char text[TEXT_DOUBLE_MAX];

    text_format_double(text, sizeof text, v);
    return json_object_new_double_s(v, text);
}

char *kparams_json(const kparams_t *p)
{
    json_object *obj = json_object_new_object(), *value = NULL;
    size_t i;

    if (obj == NULL)
        return NULL;
    for (i = 0; p->kernel != NULL && i < p->kernel->nparams; i++) {
        const kparam_value_t *v = &p->values[i];

        switch (v->type) {
        case KPARAM_INT:
        case KPARAM_SIZE:
            value = json_object_new_int64(v->u.i);
            break;
        case KPARAM_FLOAT:
            value = json_double(v->u.f);
            break;
        case KPARAM_BOOL:
            value = json_object_new_boolean(v->u.i != 0);
            break;
        case KPARAM_STRING:
            value = json_object_new_string(v->u.s);
            break;
        }
        if (!json_add(obj, p->kernel->params[i].name, value)) {
            json_object_put(obj);
            return NULL;
        }
    }
    return json_take_text(obj);
}
