/*
** scenario/scenario.c -- load a scenario file, apply overrides, expand.
**
** Loading runs in five steps, each of which may fail with a one-line
** message and leaves nothing allocated behind:
**
**   read     the file into scn->text (at most SCN_MAX_FILE_BYTES)
**   parse    libfyaml builds a document (aliases and merge keys resolved,
**            duplicate keys rejected); its diagnostics are collected, never
**            printed, and the first one becomes "path:line:col: message"
**   walk     the top-level mapping is validated key by key into the
**            scenario settings, the task templates (a kernel and its
**            kparams_t) and the sweep axes (a key and the texts of its
**            values, each value checked against every template it applies
**            to)
**   sets     `--set key=value` overrides change runtime settings or the
**            templates' parameters; a set on a swept key replaces its axis
**   expand   templates x sweep points x repeats become scn->tasks
**
** Positions: libfyaml 0.7.12 has no public "start mark of a node", so
** pos_of() takes a scalar's token mark, and for a collection reports the
** node into a private collecting diagnostic object and reads the position
** back (the only public route); failing both, the first child's position,
** failing that the position of the key that holds the node.
*/
#include "scenario/scenario.h"

#include "base/splitmix64.h"
#include "base/text.h"
#include "base/units.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KIB ((int64_t)1 << 10)
#define MIB ((int64_t)1 << 20)
#define GIB ((int64_t)1 << 30)
#define TIB ((int64_t)1 << 40)
#define MS_NS ((uint64_t)1000000)
#define S_NS ((uint64_t)1000000000)

#define SCN_MAX_FILE_BYTES (1 << 20)
#define SCN_MAX_TASKS 100000
#define SCN_REPEAT_MAX 1000
#define SCN_GOGC_DEFAULT 100
/* Go 1.19 on Linux: an idle P sleeps in whole milliseconds (netpoll's
** epoll_wait timeout), so a 1.25 ms sleep takes about 2.2 ms. */
#define SCN_TIMER_RESOLUTION_DEFAULT_NS (1 * MS_NS)
#define SCN_PREEMPT_MIN_NS (1 * MS_NS)
#define SCN_PREEMPT_DEFAULT_NS (10 * MS_NS)   /* Go 1.19's forcePreemptNS */
#define SCN_GOGC_MAX 1000000
#define SCN_HEAP_MAX_MIN (4 * MIB)
#define SCN_HEAP_MAX_MAX (1 * TIB)
#define SCN_STACK_MIN (64 * KIB)
#define SCN_STACK_MAX (1 * GIB)
#define SCN_SAMPLE_DEFAULT_NS (100 * MS_NS)
#define SCN_SAMPLE_MIN_NS (10 * MS_NS)
#define SCN_SAMPLE_MAX_NS (60 * S_NS)

/* A 1-based position in the file; line 0 = none. */
typedef struct scn_pos {
    int line;
    int col;
} scn_pos_t;

/* The runtime keys, in the order messages list them. */
enum { RT_GOGC, RT_MEMORY_LIMIT, RT_HEAP_MAX, RT_STACK_RESERVE, RT_TIMER_RESOLUTION,
       RT_GCTRACE, RT_MEM_PROFILE_RATE, RT_COLLECTOR, RT_PREEMPT, RT_NKEYS };
static const char *const runtime_keys[RT_NKEYS] = {
    "gogc", "memory_limit", "heap_max", "stack_reserve", "timer_resolution", "gctrace",
    "mem_profile_rate", "collector", "preempt",
};
#define RUNTIME_KEY_LIST \
    "gogc, memory_limit, heap_max, stack_reserve, timer_resolution, gctrace, mem_profile_rate, " \
    "collector, preempt"

/* The top-level keys, in the order messages list them. */
enum {
    TOP_NAME, TOP_DESCRIPTION, TOP_RUNTIME, TOP_TASK, TOP_TASKS, TOP_SWEEP,
    TOP_REPEAT, TOP_SEED, TOP_SAMPLE_INTERVAL, TOP_HEAP, TOP_NKEYS
};
static const char *const top_keys[TOP_NKEYS] = {
    "name", "description", "runtime", "task", "tasks", "sweep", "repeat",
    "seed", "sample_interval", "heap",
};

/* One sweep axis: a runtime key or a parameter name, and the values as
** written (already checked against everything they apply to). */
typedef struct scn_axis {
    char *key;
    int runtime_key;          /* RT_*, or -1 for a kernel parameter */
    char **values;
    size_t nvalues;
} scn_axis_t;

/* One task template: a kernel with its parameters. */
typedef struct scn_template {
    kparams_t params;
    char where[32];           /* "task" or "tasks[3]", for messages */
} scn_template_t;

typedef struct scn_loader {
    const char *path;
    char *err;
    size_t errsize;
    scenario_t *scn;
    size_t text_len;
    scn_template_t *templates;
    size_t ntemplates;
    scn_axis_t *axes;
    size_t naxes;
    scn_pos_t size_pos;       /* where to point when there are too many tasks */
} scn_loader_t;

/* ---- messages --------------------------------------------------------- */

/* `text` made fit for a one-line message: control characters escaped, cut
** at 48 bytes. Returns buf (>= 16 bytes). */
static const char *shown(const char *text, char *buf, size_t size)
{
    static const size_t max_shown = 48;
    size_t out = 0, in;

    for (in = 0; text[in] != '\0'; in++) {
        unsigned char c = (unsigned char)text[in];

        if (in == max_shown || out + 8 >= size) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        if (c == '\n' || c == '\t' || c == '"' || c == '\\') {
            buf[out++] = '\\';
            buf[out++] = c == '\n' ? 'n' : c == '\t' ? 't' : (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            out += (size_t)snprintf(buf + out, size - out, "\\x%02x", c);
        } else {
            buf[out++] = (char)c;
        }
    }
    buf[out] = '\0';
    return buf;
}

static int fail_at(scn_loader_t *L, scn_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(scn_loader_t *L, scn_pos_t pos, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (pos.line > 0)
        text_set_err(L->err, L->errsize, "%s:%d:%d: %s", L->path, pos.line,
                pos.col, msg);
    else
        text_set_err(L->err, L->errsize, "%s: %s", L->path, msg);
    return SCENARIO_EUSAGE;
}

static int fail_nomem(scn_loader_t *L)
{
    text_set_err(L->err, L->errsize, "%s: out of memory", L->path);
    return -ENOMEM;
}

/* ---- YAML nodes ------------------------------------------------------- */

static void diag_discard(struct fy_diag *diag, void *user, const char *buf,
                         size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static struct fy_diag *diag_new_collecting(void)
{
    struct fy_diag_cfg cfg;
    struct fy_diag *diag;

    fy_diag_cfg_default(&cfg);
    cfg.fp = NULL;
    cfg.output_fn = diag_discard;
    cfg.colorize = false;
    diag = fy_diag_create(&cfg);
    if (diag != NULL)
        fy_diag_set_collect_errors(diag, true);
    return diag;
}

/* Where node n starts in the file (see the top of the file). */
static scn_pos_t pos_of(struct fy_node *n, scn_pos_t fallback)
{
    scn_pos_t pos = fallback;
    struct fy_token *token;
    struct fy_diag *probe;
    struct fy_diag_error *report;
    void *iter = NULL;

    if (n == NULL)
        return fallback;
    token = fy_node_get_scalar_token(n);
    if (token != NULL) {
        const struct fy_mark *mark = fy_token_start_mark(token);

        if (mark != NULL) {
            enum fy_node_style style = fy_node_get_style(n);

            pos.line = mark->line + 1;
            pos.col = mark->column + 1;
            /* A quoted scalar's mark is past the opening quote. */
            if ((style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED) &&
                pos.col > 1)
                pos.col--;
            return pos;
        }
    }
    probe = diag_new_collecting();
    if (probe != NULL) {
        bool found = false;

        fy_diag_node_report(probe, n, FYET_ERROR, "position");
        report = fy_diag_errors_iterate(probe, &iter);
        if (report != NULL && report->line > 0) {
            pos.line = report->line;
            pos.col = report->column;
            found = true;
        }
        fy_diag_destroy(probe);
        if (found)
            return pos;
    }
    iter = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *first = fy_node_mapping_iterate(n, &iter);

        if (first != NULL)
            return pos_of(fy_node_pair_key(first), fallback);
    } else if (fy_node_is_sequence(n)) {
        return pos_of(fy_node_sequence_iterate(n, &iter), fallback);
    }
    return fallback;
}

/* A missing value, or a plain ~ / null / empty scalar. */
static bool is_null(struct fy_node *n)
{
    const char *text;

    if (n == NULL)
        return true;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    text = fy_node_get_scalar0(n);
    return text == NULL || text[0] == '\0' || strcmp(text, "~") == 0 ||
           strcmp(text, "null") == 0 || strcmp(text, "Null") == 0 ||
           strcmp(text, "NULL") == 0;
}

/* "null", "a mapping", "a list" or the scalar quoted. */
static const char *describe_node(struct fy_node *n, char *buf, size_t size)
{
    char text[128];

    if (is_null(n))
        snprintf(buf, size, "null");
    else if (fy_node_is_mapping(n))
        snprintf(buf, size, "a mapping");
    else if (fy_node_is_sequence(n))
        snprintf(buf, size, "a list");
    else
        snprintf(buf, size, "\"%s\"",
                 shown(fy_node_get_scalar0(n) != NULL ? fy_node_get_scalar0(n)
                                                      : "", text,
                       sizeof(text)));
    return buf;
}

/* *text = the text of n, which must be a non-null scalar; else fails with
** "<what>: expected <expected>, got <n>" at n (or at `at` when n is
** missing). */
static int want_scalar(scn_loader_t *L, struct fy_node *n, scn_pos_t at,
                       const char *what, const char *expected,
                       const char **text)
{
    char got[160];

    if (is_null(n) || !fy_node_is_scalar(n))
        return fail_at(L, pos_of(n, at), "%s: expected %s, got %s", what,
                       expected, describe_node(n, got, sizeof(got)));
    *text = fy_node_get_scalar0(n);
    if (*text == NULL)
        return fail_nomem(L);
    return 0;
}

/* The key of a mapping pair as text, with its position. */
static int pair_key(scn_loader_t *L, struct fy_node_pair *pair,
                    scn_pos_t at, const char **key, scn_pos_t *key_pos)
{
    struct fy_node *k = fy_node_pair_key(pair);
    char got[160];

    *key_pos = pos_of(k, at);
    if (is_null(k) || !fy_node_is_scalar(k))
        return fail_at(L, *key_pos, "expected a plain key, got %s",
                       describe_node(k, got, sizeof(got)));
    *key = fy_node_get_scalar0(k);
    if (*key == NULL)
        return fail_nomem(L);
    return 0;
}

/* ---- values ----------------------------------------------------------- */

static int runtime_key_index(const char *key)
{
    int i;

    for (i = 0; i < RT_NKEYS; i++)
        if (strcmp(runtime_keys[i], key) == 0)
            return i;
    return -1;
}

static const char *runtime_expected(int which, char *buf, size_t size)
{
    char lo[32], hi[32];

    switch (which) {
    case RT_GOGC:
        snprintf(buf, size, "an integer from 1 to %d or off", SCN_GOGC_MAX);
        break;
    case RT_MEMORY_LIMIT:
        snprintf(buf, size, "a size (like 512MiB), or 0 for no limit");
        break;
    case RT_GCTRACE:
        snprintf(buf, size, "0 or 1");
        break;
    case RT_COLLECTOR:
        snprintf(buf, size, "concurrent or stw");
        break;
    case RT_PREEMPT:
        snprintf(buf, size, "a duration from 1ms to 1s (Go's 10ms), or off");
        break;
    case RT_MEM_PROFILE_RATE:
        snprintf(buf, size, "bytes per sample (like 512KiB; 1: every allocation; 0: off) "
                 "up to %s", units_format_size(SCN_MEM_PROFILE_RATE_MAX, hi, sizeof(hi)));
        break;
    case RT_HEAP_MAX:
        snprintf(buf, size, "0 for the default, or a size from %s to %s",
                 units_format_size(SCN_HEAP_MAX_MIN, lo, sizeof(lo)),
                 units_format_size(SCN_HEAP_MAX_MAX, hi, sizeof(hi)));
        break;
    case RT_TIMER_RESOLUTION:
        snprintf(buf, size, "a duration up to 1s (like 1ms), or 0 for exact timers");
        break;
    default:
        snprintf(buf, size, "0 for the default, or a size from %s to %s",
                 units_format_size(SCN_STACK_MIN, lo, sizeof(lo)),
                 units_format_size(SCN_STACK_MAX, hi, sizeof(hi)));
        break;
    }
    return buf;
}

/* Parse `text` as runtime setting `which` into rt. Returns 0, or -EINVAL
** with "expected ..., got \"text\"" in why and rt unchanged. */
static int runtime_set(scn_runtime_t *rt, int which, const char *text,
                       char *why, size_t whysize)
{
    char expected[128], got[64];
    int64_t v;
    bool ok;

    if (which == RT_GOGC) {
        if (strcasecmp(text, "off") == 0) {
            rt->gogc = -1;
            return 0;
        }
        ok = units_parse_int(text, &v) == 0 && v >= 1 && v <= SCN_GOGC_MAX;
        if (ok)
            rt->gogc = (int)v;
    } else if (which == RT_TIMER_RESOLUTION) {
        uint64_t ns;
        ok = units_parse_duration_ns(text, &ns) == 0 && ns <= S_NS;
        if (ok)
            rt->timer_resolution_ns = (int64_t)ns;
    } else if (which == RT_GCTRACE) {
        ok = units_parse_int(text, &v) == 0 && (v == 0 || v == 1);
        if (ok)
            rt->gctrace = (int)v;
    } else if (which == RT_COLLECTOR) {
        ok = strcmp(text, "concurrent") == 0 || strcmp(text, "stw") == 0;
        if (ok)
            rt->collector = text[0] == 's' ? SCN_COLLECTOR_STW : SCN_COLLECTOR_CONCURRENT;
    } else if (which == RT_PREEMPT) {
        uint64_t ns;
        if (strcmp(text, "off") == 0) {
            ok = true;
            rt->preempt_ns = SCN_PREEMPT_OFF;
        } else {
            ok = units_parse_duration_ns(text, &ns) == 0 && ns >= SCN_PREEMPT_MIN_NS &&
                 ns <= S_NS;
            if (ok)
                rt->preempt_ns = ns == SCN_PREEMPT_DEFAULT_NS ? 0 : (int64_t)ns;
        }
    } else if (which == RT_MEM_PROFILE_RATE) {
        ok = units_parse_size(text, &v) == 0 && v >= 0 && v <= SCN_MEM_PROFILE_RATE_MAX;
        if (ok)
            rt->mem_profile_rate = v;
    } else {
        ok = units_parse_size(text, &v) == 0;
        if (which == RT_HEAP_MAX)
            ok = ok && (v == 0 || (v >= SCN_HEAP_MAX_MIN &&
                                   v <= SCN_HEAP_MAX_MAX));
        else if (which == RT_STACK_RESERVE)
            ok = ok && (v == 0 || (v >= SCN_STACK_MIN && v <= SCN_STACK_MAX));
        if (ok && which == RT_MEMORY_LIMIT)
            rt->memory_limit_bytes = v;
        else if (ok && which == RT_HEAP_MAX)
            rt->heap_max_bytes = v;
        else if (ok)
            rt->stack_reserve_bytes = v;
    }
    if (!ok) {
        text_set_err(why, whysize, "expected %s, got \"%s\"",
                runtime_expected(which, expected, sizeof(expected)),
                shown(text, got, sizeof(got)));
        return -EINVAL;
    }
    return 0;
}

/* Check `text` as a value of parameter `index` of kernel k without
** keeping it. 0, -EINVAL (why says what was wrong) or -ENOMEM. */
static int check_param_text(const kernel_spec_t *k, size_t index,
                            const char *text, char *why, size_t whysize)
{
    kparams_t scratch;
    int rc;

    if (kparams_init(&scratch, k) != 0)
        return -ENOMEM;
    rc = kparams_set_text(&scratch, index, text, why, whysize);
    kparams_free(&scratch);
    return rc;
}

/* "depth (int, ...)" for one kernel among the templates, or
** "binary_trees: depth (...); spawn: goroutines (...), ..." for several. */
static void list_template_params(const scn_loader_t *L, char *buf,
                                 size_t size)
{
    const kernel_spec_t *shown_kernels[64];
    size_t nshown = 0, t, s;
    bool several = false;
    char list[1024];

    for (t = 1; t < L->ntemplates; t++)
        several = several ||
                  L->templates[t].params.kernel != L->templates[0].params.kernel;
    buf[0] = '\0';
    for (t = 0; t < L->ntemplates; t++) {
        const kernel_spec_t *k = L->templates[t].params.kernel;
        bool dup = false;

        for (s = 0; s < nshown; s++)
            dup = dup || shown_kernels[s] == k;
        if (dup || nshown == sizeof(shown_kernels) / sizeof(shown_kernels[0]))
            continue;
        shown_kernels[nshown++] = k;
        catalog_param_list(k, list, sizeof(list));
        if (several)
            text_append(buf, size, "%s%s: %s", nshown > 1 ? "; " : "",
                       k->name, list);
        else
            text_append(buf, size, "%s", list);
    }
}

/* ---- the walk --------------------------------------------------------- */

static int walk_string(scn_loader_t *L, struct fy_node *n, scn_pos_t at,
                       const char *what, bool null_ok, char **out)
{
    const char *text = "";
    int rc;

    if (!(null_ok && is_null(n))) {
        rc = want_scalar(L, n, at, what, "a string", &text);
        if (rc != 0)
            return rc;
        if (!null_ok && text[0] == '\0')
            return fail_at(L, pos_of(n, at), "%s: expected a non-empty string",
                           what);
    }
    free(*out);
    *out = strdup(text);
    return *out != NULL ? 0 : fail_nomem(L);
}

/* An integer in [lo, hi] at n into *v. */
static int walk_int(scn_loader_t *L, struct fy_node *n, scn_pos_t at,
                    const char *what, int64_t lo, int64_t hi,
                    const char *expected, int64_t *v)
{
    const char *text;
    char got[160];
    int64_t parsed;
    int rc;

    rc = want_scalar(L, n, at, what, expected, &text);
    if (rc != 0)
        return rc;
    if (units_parse_int(text, &parsed) != 0 || parsed < lo || parsed > hi)
        return fail_at(L, pos_of(n, at), "%s: expected %s, got %s", what,
                       expected, describe_node(n, got, sizeof(got)));
    *v = parsed;
    return 0;
}

static int walk_runtime(scn_loader_t *L, struct fy_node *map, scn_pos_t at)
{
    struct fy_node_pair *pair;
    void *iter = NULL;
    char got[160], why[512], what[64];
    int rc;

    if (!fy_node_is_mapping(map))
        return fail_at(L, pos_of(map, at),
                       "runtime: expected a mapping of " RUNTIME_KEY_LIST
                       ", got %s", describe_node(map, got, sizeof(got)));
    while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
        struct fy_node *value = fy_node_pair_value(pair);
        const char *key, *text;
        scn_pos_t key_pos;
        int which;

        rc = pair_key(L, pair, at, &key, &key_pos);
        if (rc != 0)
            return rc;
        which = runtime_key_index(key);
        if (which < 0)
            return fail_at(L, key_pos,
                           "unknown runtime key '%s'; known keys: "
                           RUNTIME_KEY_LIST, shown(key, got, sizeof(got)));
        snprintf(what, sizeof(what), "runtime.%s", key);
        rc = want_scalar(L, value, key_pos, what,
                         runtime_expected(which, why, sizeof(why)), &text);
        if (rc != 0)
            return rc;
        if (runtime_set(&L->scn->runtime, which, text, why, sizeof(why)) != 0)
            return fail_at(L, pos_of(value, key_pos), "%s: %s", what, why);
    }
    return 0;
}

static int walk_template(scn_loader_t *L, struct fy_node *map, scn_pos_t at,
                         scn_template_t *t)
{
    struct fy_node_pair *pair;
    struct fy_node *kernel_node = NULL;
    const kernel_spec_t *k;
    const char *key, *text;
    scn_pos_t key_pos, kernel_pos = at;
    char names[256], got[160], why[512], what[96], list[1024];
    void *iter = NULL;
    int rc;

    catalog_kernel_names(names, sizeof(names));
    if (!fy_node_is_mapping(map))
        return fail_at(L, pos_of(map, at),
                       "%s: expected a mapping with 'kernel' and its "
                       "parameters, got %s", t->where,
                       describe_node(map, got, sizeof(got)));
    while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
        rc = pair_key(L, pair, at, &key, &key_pos);
        if (rc != 0)
            return rc;
        if (strcmp(key, "kernel") == 0) {
            kernel_node = fy_node_pair_value(pair);
            kernel_pos = key_pos;
            break;
        }
    }
    if (pair == NULL)
        return fail_at(L, pos_of(map, at),
                       "%s: missing 'kernel'; known kernels: %s", t->where,
                       names);
    snprintf(what, sizeof(what), "%s.kernel", t->where);
    snprintf(why, sizeof(why), "a kernel name (%s)", names);
    rc = want_scalar(L, kernel_node, kernel_pos, what, why, &text);
    if (rc != 0)
        return rc;
    k = catalog_find(text);
    if (k == NULL)
        return fail_at(L, pos_of(kernel_node, kernel_pos),
                       "unknown kernel '%s'; known kernels: %s",
                       shown(text, got, sizeof(got)), names);
    if (kparams_init(&t->params, k) != 0)
        return fail_nomem(L);

    iter = NULL;
    while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
        struct fy_node *value = fy_node_pair_value(pair);
        const kparam_spec_t *spec;
        size_t index;

        rc = pair_key(L, pair, at, &key, &key_pos);
        if (rc != 0)
            return rc;
        if (strcmp(key, "kernel") == 0)
            continue;
        spec = catalog_param(k, key, &index);
        if (spec == NULL)
            return fail_at(L, key_pos,
                           "unknown parameter '%s' for kernel %s; its "
                           "parameters: %s", shown(key, got, sizeof(got)),
                           k->name, catalog_param_list(k, list, sizeof(list)));
        snprintf(what, sizeof(what), "%s.%s", t->where, key);
        rc = want_scalar(L, value, key_pos, what,
                         catalog_param_expected(spec, why, sizeof(why)),
                         &text);
        if (rc != 0)
            return rc;
        rc = kparams_set_text(&t->params, index, text, why, sizeof(why));
        if (rc == -ENOMEM)
            return fail_nomem(L);
        if (rc != 0)
            return fail_at(L, pos_of(value, key_pos), "%s: %s", what, why);
    }
    return 0;
}

static int walk_tasks(scn_loader_t *L, struct fy_node *n, scn_pos_t at,
                      bool is_list)
{
    struct fy_node *item;
    void *iter = NULL;
    char got[160];
    size_t count = 1, i;
    int rc;

    if (is_list) {
        if (!fy_node_is_sequence(n) || fy_node_sequence_item_count(n) <= 0)
            return fail_at(L, pos_of(n, at),
                           "tasks: expected a non-empty list of task "
                           "mappings, got %s",
                           describe_node(n, got, sizeof(got)));
        count = (size_t)fy_node_sequence_item_count(n);
    }
    L->templates = calloc(count, sizeof(*L->templates));
    if (L->templates == NULL)
        return fail_nomem(L);
    for (i = 0; i < count; i++) {
        scn_template_t *t = &L->templates[i];

        item = is_list ? fy_node_sequence_iterate(n, &iter) : n;
        if (is_list)
            snprintf(t->where, sizeof(t->where), "tasks[%zu]", i);
        else
            snprintf(t->where, sizeof(t->where), "task");
        L->ntemplates = i + 1;
        rc = walk_template(L, item, is_list ? pos_of(n, at) : at, t);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Which templates a parameter axis applies to: those whose kernel has it. */
static bool template_has(const scn_template_t *t, const char *key,
                         size_t *index)
{
    return catalog_param(t->params.kernel, key, index) != NULL;
}

/* Check one sweep value against everything its axis applies to. */
static int check_axis_value(scn_loader_t *L, const scn_axis_t *axis,
                            const char *text, scn_pos_t pos, const char *what)
{
    char why[512];
    size_t t, index;
    int rc;

    if (axis->runtime_key >= 0) {
        scn_runtime_t scratch = L->scn->runtime;

        if (runtime_set(&scratch, axis->runtime_key, text, why,
                        sizeof(why)) != 0)
            return fail_at(L, pos, "%s: %s", what, why);
        return 0;
    }
    for (t = 0; t < L->ntemplates; t++) {
        if (!template_has(&L->templates[t], axis->key, &index))
            continue;
        rc = check_param_text(L->templates[t].params.kernel, index, text, why,
                              sizeof(why));
        if (rc == -ENOMEM)
            return fail_nomem(L);
        if (rc != 0)
            return fail_at(L, pos, "%s: %s (%s, kernel %s)", what, why,
                           L->templates[t].where,
                           L->templates[t].params.kernel->name);
    }
    return 0;
}

static int walk_sweep(scn_loader_t *L, struct fy_node *map, scn_pos_t at)
{
    struct fy_node_pair *pair;
    void *iter = NULL;
    char got[160], list[2048], what[96];
    int count, rc;

    if (is_null(map))
        return 0;
    if (!fy_node_is_mapping(map))
        return fail_at(L, pos_of(map, at),
                       "sweep: expected a mapping of key: [values], got %s",
                       describe_node(map, got, sizeof(got)));
    count = fy_node_mapping_item_count(map);
    if (count <= 0)
        return 0;
    L->axes = calloc((size_t)count, sizeof(*L->axes));
    if (L->axes == NULL)
        return fail_nomem(L);
    while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
        struct fy_node *values = fy_node_pair_value(pair), *item;
        scn_axis_t *axis = &L->axes[L->naxes];
        const char *key, *text;
        scn_pos_t key_pos;
        void *item_iter = NULL;
        bool applies = false;
        size_t t, n;

        rc = pair_key(L, pair, at, &key, &key_pos);
        if (rc != 0)
            return rc;
        axis->runtime_key = runtime_key_index(key);
        for (t = 0; axis->runtime_key < 0 && t < L->ntemplates; t++)
            applies = applies || template_has(&L->templates[t], key, NULL);
        if (axis->runtime_key < 0 && !applies) {
            list_template_params(L, list, sizeof(list));
            return fail_at(L, key_pos,
                           "sweep key '%s' is neither a parameter of a task "
                           "nor a runtime key; parameters: %s; runtime "
                           "keys: " RUNTIME_KEY_LIST,
                           shown(key, got, sizeof(got)), list);
        }
        axis->key = strdup(key);
        if (axis->key == NULL)
            return fail_nomem(L);
        L->naxes++;
        if (!fy_node_is_sequence(values) ||
            fy_node_sequence_item_count(values) <= 0)
            return fail_at(L, pos_of(values, key_pos),
                           "sweep.%s: expected a non-empty list of values "
                           "like [1, 2, 4], got %s",
                           shown(key, list, sizeof(list)),
                           describe_node(values, got, sizeof(got)));
        n = (size_t)fy_node_sequence_item_count(values);
        axis->values = calloc(n, sizeof(*axis->values));
        if (axis->values == NULL)
            return fail_nomem(L);
        while ((item = fy_node_sequence_iterate(values, &item_iter)) != NULL) {
            snprintf(what, sizeof(what), "sweep.%s[%zu]",
                     shown(key, list, sizeof(list)), axis->nvalues);
            rc = want_scalar(L, item, pos_of(values, key_pos), what,
                             "a scalar value", &text);
            if (rc != 0)
                return rc;
            rc = check_axis_value(L, axis, text,
                                  pos_of(item, pos_of(values, key_pos)), what);
            if (rc != 0)
                return rc;
            axis->values[axis->nvalues] = strdup(text);
            if (axis->values[axis->nvalues] == NULL)
                return fail_nomem(L);
            axis->nvalues++;
        }
    }
    return 0;
}

static int walk_root(scn_loader_t *L, struct fy_node *root)
{
    static const scn_pos_t start = { 1, 1 };
    struct fy_node *value[TOP_NKEYS] = { 0 };
    scn_pos_t key_pos[TOP_NKEYS];
    bool seen[TOP_NKEYS] = { false };
    struct fy_node_pair *pair;
    scenario_t *scn = L->scn;
    char got[160], expected[128];
    void *iter = NULL;
    int64_t v;
    int rc, i;

    if (root == NULL || is_null(root))
        return fail_at(L, start, "empty scenario: expected a mapping with "
                                 "a 'task' or 'tasks' key");
    if (!fy_node_is_mapping(root))
        return fail_at(L, pos_of(root, start),
                       "expected a mapping of scenario keys (name, task, "
                       "...), got %s", describe_node(root, got, sizeof(got)));
    while ((pair = fy_node_mapping_iterate(root, &iter)) != NULL) {
        const char *key;
        scn_pos_t pos;

        rc = pair_key(L, pair, start, &key, &pos);
        if (rc != 0)
            return rc;
        for (i = 0; i < TOP_NKEYS; i++)
            if (strcmp(top_keys[i], key) == 0)
                break;
        if (i == TOP_NKEYS)
            return fail_at(L, pos,
                           "unknown key '%s'; known keys: name, description, "
                           "runtime, task, tasks, sweep, repeat, seed, "
                           "sample_interval, heap", shown(key, got, sizeof(got)));
        seen[i] = true;
        value[i] = fy_node_pair_value(pair);
        key_pos[i] = pos;
    }

    if (seen[TOP_NAME]) {
        rc = walk_string(L, value[TOP_NAME], key_pos[TOP_NAME], "name", false,
                         &scn->name);
        if (rc != 0)
            return rc;
    }
    if (seen[TOP_DESCRIPTION]) {
        rc = walk_string(L, value[TOP_DESCRIPTION], key_pos[TOP_DESCRIPTION],
                         "description", true, &scn->description);
        if (rc != 0)
            return rc;
    }
    if (seen[TOP_RUNTIME]) {
        rc = walk_runtime(L, value[TOP_RUNTIME], key_pos[TOP_RUNTIME]);
        if (rc != 0)
            return rc;
    }
    if (seen[TOP_REPEAT]) {
        snprintf(expected, sizeof(expected), "an integer from 1 to %d",
                 SCN_REPEAT_MAX);
        rc = walk_int(L, value[TOP_REPEAT], key_pos[TOP_REPEAT], "repeat", 1,
                      SCN_REPEAT_MAX, expected, &v);
        if (rc != 0)
            return rc;
        scn->repeat = (uint32_t)v;
    }
    if (seen[TOP_SEED]) {
        rc = walk_int(L, value[TOP_SEED], key_pos[TOP_SEED], "seed", 0,
                      INT64_MAX, "an integer >= 0", &v);
        if (rc != 0)
            return rc;
        scn->seed = (uint64_t)v;
    }
    if (seen[TOP_SAMPLE_INTERVAL]) {
        static const char expected_duration[] =
            "a duration from 10ms to 60s (like 100ms, 1s, or an integer of "
            "milliseconds)";
        struct fy_node *n = value[TOP_SAMPLE_INTERVAL];
        const char *text;
        uint64_t ns;

        rc = want_scalar(L, n, key_pos[TOP_SAMPLE_INTERVAL],
                         "sample_interval", expected_duration, &text);
        if (rc != 0)
            return rc;
        if (units_parse_duration_ns(text, &ns) != 0 || ns < SCN_SAMPLE_MIN_NS ||
            ns > SCN_SAMPLE_MAX_NS)
            return fail_at(L, pos_of(n, key_pos[TOP_SAMPLE_INTERVAL]),
                           "sample_interval: expected %s, got %s",
                           expected_duration, describe_node(n, got, sizeof(got)));
        scn->sample_interval_ns = ns;
    }
    if (seen[TOP_HEAP]) {
        static const char expected_heap[] =
            "per_task (each task a fresh heap, as a Go program starts with "
            "an empty one) or shared (tasks with equal runtime settings on "
            "one heap per host)";
        struct fy_node *n = value[TOP_HEAP];
        const char *text;

        rc = want_scalar(L, n, key_pos[TOP_HEAP], "heap", expected_heap, &text);
        if (rc != 0)
            return rc;
        if (strcmp(text, "per_task") == 0)
            scn->shared_heap = false;
        else if (strcmp(text, "shared") == 0)
            scn->shared_heap = true;
        else
            return fail_at(L, pos_of(n, key_pos[TOP_HEAP]), "heap: expected %s, got %s",
                           expected_heap, describe_node(n, got, sizeof(got)));
    }
    if (seen[TOP_TASK] && seen[TOP_TASKS]) {
        i = key_pos[TOP_TASK].line > key_pos[TOP_TASKS].line ? TOP_TASK
                                                             : TOP_TASKS;
        return fail_at(L, key_pos[i],
                       "'task' and 'tasks' exclude each other: use 'task' "
                       "for one template, 'tasks' for a list");
    }
    if (!seen[TOP_TASK] && !seen[TOP_TASKS])
        return fail_at(L, pos_of(root, start),
                       "missing 'task' (one template) or 'tasks' (a list)");
    i = seen[TOP_TASK] ? TOP_TASK : TOP_TASKS;
    rc = walk_tasks(L, value[i], key_pos[i], i == TOP_TASKS);
    if (rc != 0)
        return rc;
    L->size_pos = seen[TOP_REPEAT] ? key_pos[TOP_REPEAT] : key_pos[i];
    if (seen[TOP_SWEEP]) {
        L->size_pos = key_pos[TOP_SWEEP];
        rc = walk_sweep(L, value[TOP_SWEEP], key_pos[TOP_SWEEP]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- reading and parsing ---------------------------------------------- */

static int read_file(scn_loader_t *L)
{
    size_t cap = 4096, len = 0;
    char *text, *grown;
    ssize_t got;
    int fd, rc;

    fd = open(L->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        text_set_err(L->err, L->errsize, "%s: cannot read: %s", L->path,
                strerror(errno));
        return SCENARIO_EUSAGE;
    }
    text = malloc(cap);
    if (text == NULL) {
        rc = fail_nomem(L);
        goto out_close;
    }
    for (;;) {
        if (len > SCN_MAX_FILE_BYTES) {
            rc = fail_at(L, (scn_pos_t){ 0, 0 },
                         "too large for a scenario (more than %d bytes)",
                         SCN_MAX_FILE_BYTES);
            goto out_free_text;
        }
        if (len + 1 == cap) {
            grown = realloc(text, cap * 2);
            if (grown == NULL) {
                rc = fail_nomem(L);
                goto out_free_text;
            }
            text = grown;
            cap *= 2;
        }
        got = read(fd, text + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            text_set_err(L->err, L->errsize, "%s: cannot read: %s", L->path,
                    strerror(errno));
            rc = SCENARIO_EUSAGE;
            goto out_free_text;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        rc = fail_at(L, (scn_pos_t){ 0, 0 },
                     "not a text file (it contains a NUL byte)");
        goto out_free_text;
    }
    close(fd);
    L->scn->text = text;
    L->text_len = len;
    return 0;

out_free_text:
    free(text);
out_close:
    close(fd);
    return rc;
}

/* Whether libfyaml collected an error. (fy_diag_got_error() misses some:
** an alias to nowhere under FYPCF_RESOLVE_DOCUMENT is collected, yet the
** flag stays clear.) */
static bool has_yaml_error(struct fy_diag *diag)
{
    struct fy_diag_error *report;
    void *iter = NULL;

    if (fy_diag_got_error(diag))
        return true;
    while ((report = fy_diag_errors_iterate(diag, &iter)) != NULL)
        if (report->type >= FYET_ERROR)
            return true;
    return false;
}

/* The first error libfyaml collected, as our one-line message. */
static int fail_yaml(scn_loader_t *L, struct fy_diag *diag)
{
    struct fy_diag_error *report;
    void *iter = NULL;
    char text[64];

    while ((report = fy_diag_errors_iterate(diag, &iter)) != NULL) {
        if (report->type < FYET_ERROR)
            continue;
        if (report->fyt != NULL && strcmp(report->msg, "duplicate key") == 0 &&
            fy_token_get_text0(report->fyt) != NULL)
            return fail_at(L, (scn_pos_t){ report->line, report->column },
                           "duplicate key '%s'",
                           shown(fy_token_get_text0(report->fyt), text,
                                 sizeof(text)));
        return fail_at(L, (scn_pos_t){ report->line, report->column },
                       "invalid YAML: %s", report->msg);
    }
    return fail_at(L, (scn_pos_t){ 0, 0 }, "invalid YAML");
}

static int parse_and_walk(scn_loader_t *L)
{
    struct fy_parse_cfg cfg;
    struct fy_diag *diag;
    struct fy_parser *parser;
    struct fy_document *doc = NULL, *extra = NULL;
    int rc;

    diag = diag_new_collecting();
    if (diag == NULL)
        return fail_nomem(L);
    memset(&cfg, 0, sizeof(cfg));
    cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_RESOLVE_DOCUMENT;
    cfg.diag = diag;
    parser = fy_parser_create(&cfg);
    if (parser == NULL) {
        rc = fail_nomem(L);
        goto out_destroy_diag;
    }
    if (fy_parser_set_string(parser, L->scn->text, L->text_len) != 0) {
        rc = fail_nomem(L);
        goto out_destroy_parser;
    }
    doc = fy_parse_load_document(parser);
    if (has_yaml_error(diag)) {
        rc = fail_yaml(L, diag);
        goto out_destroy_docs;
    }
    if (doc != NULL) {
        extra = fy_parse_load_document(parser);
        if (has_yaml_error(diag)) {
            rc = fail_yaml(L, diag);
            goto out_destroy_docs;
        }
        if (extra != NULL) {
            rc = fail_at(L, pos_of(fy_document_root(extra), (scn_pos_t){ 0, 0 }),
                         "a second YAML document; a scenario is one mapping");
            goto out_destroy_docs;
        }
    }
    rc = walk_root(L, doc != NULL ? fy_document_root(doc) : NULL);

out_destroy_docs:
    fy_parse_document_destroy(parser, extra);
    fy_parse_document_destroy(parser, doc);
out_destroy_parser:
    fy_parser_destroy(parser);
out_destroy_diag:
    fy_diag_destroy(diag);
    return rc;
}

/* ---- overrides -------------------------------------------------------- */

/* Replace the axis of `key`, if there is one, with the single `value`. */
static int replace_axis(scn_loader_t *L, const char *key, const char *value)
{
    size_t a, v;
    char *copy;

    for (a = 0; a < L->naxes; a++) {
        scn_axis_t *axis = &L->axes[a];

        if (strcmp(axis->key, key) != 0)
            continue;
        copy = strdup(value);
        if (copy == NULL)
            return fail_nomem(L);
        for (v = 0; v < axis->nvalues; v++)
            free(axis->values[v]);
        axis->values[0] = copy;
        axis->nvalues = 1;
    }
    return 0;
}

static int apply_set(scn_loader_t *L, const char *set)
{
    const char *eq = strchr(set, '='), *value;
    char key[128], why[512], list[2048], shown_set[160];
    size_t t, index;
    bool applied = false;
    int which, rc;

    shown(set, shown_set, sizeof(shown_set));
    if (eq == NULL || eq == set) {
        text_set_err(L->err, L->errsize, "--set %s: expected key=value", shown_set);
        return SCENARIO_EUSAGE;
    }
    if ((size_t)(eq - set) >= sizeof(key)) {
        text_set_err(L->err, L->errsize, "--set %s: key too long", shown_set);
        return SCENARIO_EUSAGE;
    }
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = '\0';
    value = eq + 1;

    which = runtime_key_index(key);
    if (which >= 0) {
        if (runtime_set(&L->scn->runtime, which, value, why, sizeof(why)) != 0) {
            text_set_err(L->err, L->errsize, "--set %s: %s", shown_set, why);
            return SCENARIO_EUSAGE;
        }
        return replace_axis(L, key, value);
    }
    for (t = 0; t < L->ntemplates; t++) {
        scn_template_t *tp = &L->templates[t];

        if (!template_has(tp, key, &index))
            continue;
        rc = kparams_set_text(&tp->params, index, value, why, sizeof(why));
        if (rc == -ENOMEM)
            return fail_nomem(L);
        if (rc != 0) {
            text_set_err(L->err, L->errsize, "--set %s: %s.%s: %s", shown_set,
                    tp->params.kernel->name, key, why);
            return SCENARIO_EUSAGE;
        }
        applied = true;
    }
    if (!applied) {
        list_template_params(L, list, sizeof(list));
        text_set_err(L->err, L->errsize,
                "--set %s: no task has a parameter '%s'; parameters: %s; "
                "runtime keys: " RUNTIME_KEY_LIST,
                shown_set, shown(key, why, sizeof(why)), list);
        return SCENARIO_EUSAGE;
    }
    return replace_axis(L, key, value);
}

/* ---- expansion -------------------------------------------------------- */

/* The seq-th output (from 0) of SplitMix64 seeded with `seed`: distinct
** seqs give distinct seeds. */
static uint64_t task_seed(uint64_t seed, uint64_t seq)
{
    return splitmix64_at(seed, seq);
}

static bool axis_applies(const scn_axis_t *axis, const scn_template_t *t)
{
    return axis->runtime_key >= 0 || template_has(t, axis->key, NULL);
}

/* Points in template t's grid (the product of its axes' lengths), capped
** at SCN_MAX_TASKS + 1. */
static uint64_t grid_points(const scn_loader_t *L, const scn_template_t *t)
{
    uint64_t points = 1;
    size_t a;

    for (a = 0; a < L->naxes; a++) {
        if (!axis_applies(&L->axes[a], t))
            continue;
        points *= L->axes[a].nvalues;
        if (points > SCN_MAX_TASKS)
            return SCN_MAX_TASKS + 1;
    }
    return points;
}

/* Fill *task for point `point` of template t (all fields but seq, repeat
** and seed). On failure the task holds what was allocated so far, for
** scenario_free(). */
static int fill_task(scn_loader_t *L, size_t tindex, uint64_t point,
                     scn_task_t *task)
{
    const scn_template_t *t = &L->templates[tindex];
    size_t choice[64], a, index, label_len = 0;
    uint64_t rest = point;
    char why[512];
    int rc;

    /* Mixed radix, the last axis fastest. */
    for (a = L->naxes; a-- > 0;) {
        if (!axis_applies(&L->axes[a], t))
            continue;
        choice[a] = (size_t)(rest % L->axes[a].nvalues);
        rest /= L->axes[a].nvalues;
    }
    task->template_index = (uint32_t)tindex;
    task->sweep_point = (uint32_t)point;
    task->runtime = L->scn->runtime;
    if (kparams_copy(&task->params, &t->params) != 0)
        return fail_nomem(L);
    for (a = 0; a < L->naxes; a++) {
        const scn_axis_t *axis = &L->axes[a];

        if (!axis_applies(axis, t))
            continue;
        label_len += strlen(axis->key) + strlen(axis->values[choice[a]]) + 2;
        if (axis->runtime_key >= 0) {
            rc = runtime_set(&task->runtime, axis->runtime_key,
                             axis->values[choice[a]], why, sizeof(why));
        } else {
            template_has(t, axis->key, &index);
            rc = kparams_set_text(&task->params, index,
                                  axis->values[choice[a]], why, sizeof(why));
        }
        if (rc == -ENOMEM)
            return fail_nomem(L);
        if (rc != 0) /* checked when the sweep was read: our own bug */
            return fail_at(L, L->size_pos, "sweep.%s: %s", axis->key, why);
    }
    task->label = malloc(label_len + 1);
    if (task->label == NULL)
        return fail_nomem(L);
    task->label[0] = '\0';
    for (a = 0; a < L->naxes; a++) {
        if (!axis_applies(&L->axes[a], t))
            continue;
        text_append(task->label, label_len + 1, "%s%s=%s",
                   task->label[0] != '\0' ? " " : "", L->axes[a].key,
                   L->axes[a].values[choice[a]]);
    }
    return 0;
}

static int expand(scn_loader_t *L)
{
    scenario_t *scn = L->scn;
    uint64_t total = 0, points, p;
    size_t t;
    uint32_t r;
    int rc;

    if (L->naxes > 64)
        return fail_at(L, L->size_pos, "sweep: more than 64 keys");
    for (t = 0; t < L->ntemplates; t++) {
        total += grid_points(L, &L->templates[t]) * scn->repeat;
        if (total > SCN_MAX_TASKS)
            return fail_at(L, L->size_pos,
                           "the scenario expands to more than %d tasks "
                           "(templates x sweep points x repeat)",
                           SCN_MAX_TASKS);
    }
    scn->tasks = calloc((size_t)total, sizeof(*scn->tasks));
    if (scn->tasks == NULL)
        return fail_nomem(L);
    for (t = 0; t < L->ntemplates; t++) {
        points = grid_points(L, &L->templates[t]);
        for (p = 0; p < points; p++) {
            for (r = 0; r < scn->repeat; r++) {
                scn_task_t *task = &scn->tasks[scn->ntasks];

                scn->ntasks++;
                if (r == 0) {
                    rc = fill_task(L, t, p, task);
                    if (rc != 0)
                        return rc;
                } else {
                    /* A repeat is a copy of the point's first task. */
                    const scn_task_t *first = task - r;

                    task->template_index = first->template_index;
                    task->sweep_point = first->sweep_point;
                    task->runtime = first->runtime;
                    task->label = strdup(first->label);
                    if (task->label == NULL ||
                        kparams_copy(&task->params, &first->params) != 0)
                        return fail_nomem(L);
                }
                task->seq = (uint32_t)(scn->ntasks - 1);
                task->repeat_index = r;
                task->seed = task_seed(scn->seed, task->seq);
            }
        }
    }
    return 0;
}

/* ---- the public functions --------------------------------------------- */

static void loader_free(scn_loader_t *L)
{
    size_t i, v;

    for (i = 0; i < L->ntemplates; i++)
        kparams_free(&L->templates[i].params);
    free(L->templates);
    L->templates = NULL;
    L->ntemplates = 0;
    for (i = 0; i < L->naxes; i++) {
        for (v = 0; v < L->axes[i].nvalues; v++)
            free(L->axes[i].values[v]);
        free(L->axes[i].values);
        free(L->axes[i].key);
    }
    free(L->axes);
    L->axes = NULL;
    L->naxes = 0;
}

/* The file's name without directories and a .yaml / .yml suffix. */
static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base != NULL ? base + 1 : path;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".yaml") == 0)
        len -= 5;
    else if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
        len -= 4;
    return strndup(base, len);
}

int scenario_load(const char *path, const char *const *sets, size_t nsets,
                  scenario_t **scn_p, char *err, size_t errsize)
{
    scn_loader_t L = { .path = path, .err = err, .errsize = errsize };
    scenario_t *scn;
    size_t i;
    int rc;

    if (err != NULL && errsize > 0)
        err[0] = '\0';
    scn = calloc(1, sizeof(*scn));
    if (scn == NULL)
        return fail_nomem(&L);
    L.scn = scn;
    scn->runtime.gogc = SCN_GOGC_DEFAULT;
    scn->runtime.timer_resolution_ns = SCN_TIMER_RESOLUTION_DEFAULT_NS;
    scn->runtime.mem_profile_rate = SCN_MEM_PROFILE_RATE_DEFAULT;
    scn->repeat = 1;
    scn->seed = 1;
    scn->sample_interval_ns = SCN_SAMPLE_DEFAULT_NS;
    scn->path = strdup(path);
    scn->name = default_name(path);
    scn->description = strdup("");
    if (scn->path == NULL || scn->name == NULL || scn->description == NULL) {
        rc = fail_nomem(&L);
        goto out_free_scn;
    }
    rc = read_file(&L);
    if (rc != 0)
        goto out_free_scn;
    rc = parse_and_walk(&L);
    if (rc != 0)
        goto out_free_loader;
    for (i = 0; i < nsets; i++) {
        rc = apply_set(&L, sets[i]);
        if (rc != 0)
            goto out_free_loader;
    }
    rc = expand(&L);
    if (rc != 0)
        goto out_free_loader;
    loader_free(&L);
    *scn_p = scn;
    return 0;

out_free_loader:
    loader_free(&L);
out_free_scn:
    scenario_free(&scn);
    return rc;
}

void scenario_free(scenario_t **scn_p)
{
    scenario_t *scn;
    size_t i;

    if (scn_p == NULL || *scn_p == NULL)
        return;
    scn = *scn_p;
    for (i = 0; i < scn->ntasks; i++) {
        free(scn->tasks[i].label);
        kparams_free(&scn->tasks[i].params);
    }
    free(scn->tasks);
    free(scn->text);
    free(scn->description);
    free(scn->name);
    free(scn->path);
    free(scn);
    *scn_p = NULL;
}

/* ---- JSON ------------------------------------------------------------- */

/* Five integers, then gctrace when it is on, the collector when stw, the
** preemption slice when not Go's 10 ms ("off", or ms) and
** mem_profile_rate when it is not the default: plain text is the JSON json-c would write, key
** order as given. */
char *scenario_runtime_json(const scn_runtime_t *rt)
{
    char *text = NULL;

    if (asprintf(&text,
                 "{\"gogc\":%d,\"memory_limit\":%lld,\"heap_max\":%lld,"
                 "\"stack_reserve\":%lld,\"timer_resolution\":%lld}",
                 rt->gogc, (long long)rt->memory_limit_bytes,
                 (long long)rt->heap_max_bytes,
                 (long long)rt->stack_reserve_bytes,
                 (long long)rt->timer_resolution_ns) < 0)
        return NULL;
    if (rt->gctrace) {
        char *with = NULL;
        int rc = asprintf(&with, "%.*s,\"gctrace\":%d}", (int)strlen(text) - 1, text,
                          rt->gctrace);
        free(text);
        text = rc < 0 ? NULL : with;
    }
    if (text && rt->collector == SCN_COLLECTOR_STW) {
        char *with = NULL;
        int rc = asprintf(&with, "%.*s,\"collector\":\"stw\"}", (int)strlen(text) - 1, text);
        free(text);
        text = rc < 0 ? NULL : with;
    }
    if (text && rt->preempt_ns != 0) {
        /* "off", or the slice in ms as a duration reads it. */
        char *with = NULL;
        int rc = rt->preempt_ns == SCN_PREEMPT_OFF
                     ? asprintf(&with, "%.*s,\"preempt\":\"off\"}", (int)strlen(text) - 1, text)
                 : rt->preempt_ns % MS_NS == 0
                     ? asprintf(&with, "%.*s,\"preempt\":%lld}", (int)strlen(text) - 1, text,
                                (long long)(rt->preempt_ns / MS_NS))
                     : asprintf(&with, "%.*s,\"preempt\":%lld.%06lld}", (int)strlen(text) - 1,
                                text, (long long)(rt->preempt_ns / MS_NS),
                                (long long)(rt->preempt_ns % MS_NS));
        free(text);
        text = rc < 0 ? NULL : with;
    }
    if (text && rt->mem_profile_rate != SCN_MEM_PROFILE_RATE_DEFAULT) {
        char *with = NULL;
        int rc = asprintf(&with, "%.*s,\"mem_profile_rate\":%lld}", (int)strlen(text) - 1,
                          text, (long long)rt->mem_profile_rate);
        free(text);
        text = rc < 0 ? NULL : with;
    }
    return text;
}
