/*
** metrics/expo.c -- the text exposition format: written from a snapshot,
** parsed back.
*/
#include "metrics/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

const double metrics_pause_bounds_s[METRICS_PAUSE_BUCKETS] = {
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1,
};

const char *metrics_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case METRICS_EUSAGE: return "bad address";
    case METRICS_ESYS: return "a socket call failed";
    case METRICS_ENOMEM: return "out of memory";
    case METRICS_EPROTO: return "not an answer in Prometheus's text format";
    default: return "unknown metrics error";
    }
}

/* ---- Writing ------------------------------------------------------------- */

static void put_label_value(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            fputs("\\\\", out);
        else if (*v == '"')
            fputs("\\\"", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{run="R",worker="W",host="H",task="T"[,extra]} */
static void worker_labels(FILE *out, int64_t run_id, const metrics_worker_t *w,
                          const char *extra)
{
    fprintf(out, "{run=\"%lld\",worker=\"", (long long)run_id);
    put_label_value(out, w->name);
    fputs("\",host=\"", out);
    put_label_value(out, w->host);
    fputs("\",task=\"", out);
    if (w->task_seq >= 0)
        fprintf(out, "%lld", (long long)w->task_seq);
    fputc('"', out);
    if (extra)
        fprintf(out, ",%s", extra);
    fputc('}', out);
}

static void fmt_double(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "NaN");
    else if (isinf(v))
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, size, "%.0f", v);     /* a whole number as one */
    else
        text_format_double(buf, size, v);   /* shortest text read back exactly */
}

/* A per-worker figure of the sample, or of the GC messages. */
typedef struct wfig {
    const char *name, *type, *help;
    bool needs_sample;            /* only for workers that sent one */
    double (*get)(const metrics_worker_t *w);
} wfig_t;

#define WGET(fn, expr) \
    static double fn(const metrics_worker_t *w) { return (double)(expr); }
WGET(get_goal, w->heap_goal_bytes)
WGET(get_objects, w->heap_alloc_bytes)
WGET(get_stacks, w->stack_inuse_bytes)
WGET(get_goroutines, w->goroutines)
WGET(get_allocs_bytes, w->alloc_bytes)
WGET(get_allocs_objects, w->alloc_objects)
WGET(get_cycles, w->gc_cycles)
WGET(get_forced, w->gc_forced)
WGET(get_automatic, w->gc_cycles - w->gc_forced)
WGET(get_inuse, w->heap_inuse_bytes)
WGET(get_live, w->heap_live_bytes)
WGET(get_sys, w->heap_sys_bytes)
WGET(get_rss, w->rss_bytes)
WGET(get_cpu, (double)(w->cpu_user_ns + w->cpu_sys_ns) / 1e9)
WGET(get_task_s, (double)w->t_ns / 1e9)
WGET(get_pause_max, (double)w->pause_max_ns / 1e9)
#undef WGET

static const wfig_t wfigs[] = {
    {"go_gc_heap_goal_bytes", "gauge",
     "/gc/heap/goal:bytes: heap size target for the end of the GC cycle", true, get_goal},
    {"go_memory_classes_heap_objects_bytes", "gauge",
     "/memory/classes/heap/objects:bytes: live and not yet swept objects", true, get_objects},
    {"go_memory_classes_heap_stacks_bytes", "gauge",
     "/memory/classes/heap/stacks:bytes: goroutine stacks as Go sizes them", true, get_stacks},
    {"go_sched_goroutines_goroutines", "gauge",
     "/sched/goroutines:goroutines: goroutines alive", true, get_goroutines},
    {"go_gc_heap_allocs_bytes_total", "counter",
     "/gc/heap/allocs:bytes: bytes allocated in the task (size-class bytes)", true,
     get_allocs_bytes},
    {"go_gc_heap_allocs_objects_total", "counter",
     "/gc/heap/allocs:objects: objects allocated in the task", true, get_allocs_objects},
    {"go_gc_cycles_total_gc_cycles_total", "counter",
     "/gc/cycles/total:gc-cycles: GC cycles completed in the task", false, get_cycles},
    {"go_gc_cycles_forced_gc_cycles_total", "counter",
     "/gc/cycles/forced:gc-cycles: GC cycles forced (runtime.GC)", false, get_forced},
    {"go_gc_cycles_automatic_gc_cycles_total", "counter",
     "/gc/cycles/automatic:gc-cycles: GC cycles the pacer started", false, get_automatic},
    {"heapsim_heap_inuse_bytes", "gauge", "bytes in spans in use (Go's HeapInuse)", true,
     get_inuse},
    {"heapsim_heap_live_bytes", "gauge", "bytes marked live by the last GC cycle", true,
     get_live},
    {"heapsim_heap_sys_bytes", "gauge", "bytes of heap mapped (Go's HeapSys)", true, get_sys},
    {"heapsim_worker_rss_bytes", "gauge", "resident set of the worker process", true, get_rss},
    {"heapsim_worker_cpu_seconds_total", "counter", "CPU time of the worker process (user+sys)",
     true, get_cpu},
    {"heapsim_task_seconds", "gauge", "time since the worker's task began, at its last sample",
     true, get_task_s},
    {"heapsim_gc_pause_max_seconds", "gauge", "longest stop-the-world pause of the task", false,
     get_pause_max},
};

static const char *const task_state_names[METRICS_TASK_STATES] = {
    "queued", "leased", "running", "done", "failed",
};

int metrics_write(FILE *out, const metrics_snapshot_t *s)
{
    char v[64];
    long long run = (long long)s->run_id;

    family(out, "heapsim_tasks", "gauge", "tasks of the run by state");
    for (int i = 0; i < METRICS_TASK_STATES; i++)
        fprintf(out, "heapsim_tasks{run=\"%lld\",state=\"%s\"} %lld\n", run,
                task_state_names[i], (long long)s->tasks[i]);
    family(out, "heapsim_workers", "gauge", "workers connected now");
    fprintf(out, "heapsim_workers{run=\"%lld\"} %lld\n", run, (long long)s->workers_live);
    family(out, "heapsim_workers_joined_total", "counter", "workers that said hello");
    fprintf(out, "heapsim_workers_joined_total{run=\"%lld\"} %lld\n", run,
            (long long)s->workers_joined);
    family(out, "heapsim_workers_lost_total", "counter",
           "workers lost (no heartbeat, exited, unreachable)");
    fprintf(out, "heapsim_workers_lost_total{run=\"%lld\"} %lld\n", run,
            (long long)s->workers_lost);
    family(out, "heapsim_frames_dropped_total", "counter",
           "messages the coordinator dropped, by why");
    fprintf(out,
            "heapsim_frames_dropped_total{run=\"%lld\",reason=\"malformed\"} %llu\n"
            "heapsim_frames_dropped_total{run=\"%lld\",reason=\"no_hello\"} %llu\n"
            "heapsim_frames_dropped_total{run=\"%lld\",reason=\"stale\"} %llu\n"
            "heapsim_frames_dropped_total{run=\"%lld\",reason=\"missing\"} %llu\n",
            run, (unsigned long long)s->dropped_malformed, run,
            (unsigned long long)s->dropped_no_hello, run, (unsigned long long)s->dropped_stale,
            run, (unsigned long long)s->dropped_missing);
    family(out, "heapsim_coordinator_uptime_seconds", "gauge", "since the coordinator began");
    fmt_double(v, sizeof v, s->uptime_s);
    fprintf(out, "heapsim_coordinator_uptime_seconds{run=\"%lld\"} %s\n", run, v);

    for (size_t f = 0; f < sizeof wfigs / sizeof wfigs[0]; f++) {
        family(out, wfigs[f].name, wfigs[f].type, wfigs[f].help);
        for (size_t i = 0; i < s->nworkers; i++) {
            const metrics_worker_t *w = &s->workers[i];
            if (wfigs[f].needs_sample && !w->has_sample)
                continue;
            fputs(wfigs[f].name, out);
            worker_labels(out, s->run_id, w, NULL);
            fmt_double(v, sizeof v, wfigs[f].get(w));
            fprintf(out, " %s\n", v);
        }
    }
    family(out, "go_gc_pauses_seconds", "histogram",
           "/gc/pauses:seconds: stop-the-world pauses of the task (one per GC cycle)");
    for (size_t i = 0; i < s->nworkers; i++) {
        const metrics_worker_t *w = &s->workers[i];
        char le[96];
        for (int b = 0; b < METRICS_PAUSE_BUCKETS; b++) {
            fmt_double(v, sizeof v, metrics_pause_bounds_s[b]);
            snprintf(le, sizeof le, "le=\"%s\"", v);
            fputs("go_gc_pauses_seconds_bucket", out);
            worker_labels(out, s->run_id, w, le);
            fprintf(out, " %llu\n", (unsigned long long)w->pause_le[b]);
        }
        fputs("go_gc_pauses_seconds_bucket", out);
        worker_labels(out, s->run_id, w, "le=\"+Inf\"");
        fprintf(out, " %lld\n", (long long)w->gc_cycles);
        fputs("go_gc_pauses_seconds_sum", out);
        worker_labels(out, s->run_id, w, NULL);
        fmt_double(v, sizeof v, (double)w->pause_total_ns / 1e9);
        fprintf(out, " %s\n", v);
        fputs("go_gc_pauses_seconds_count", out);
        worker_labels(out, s->run_id, w, NULL);
        fprintf(out, " %lld\n", (long long)w->gc_cycles);
    }
    if (fflush(out) != 0 || ferror(out))
        return METRICS_ESYS;
    return 0;
}

/* ---- Parsing --------------------------------------------------------------- */

typedef struct parser {
    metrics_parsed_t *p;
    size_t capf, caps;
    int line;
    char *err;
    size_t errsize;
} parser_t;

static int perr(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser_t *ps, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ps->err, ps->errsize, "line %d: ", ps->line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ps->errsize)
        vsnprintf(ps->err + n, ps->errsize - (size_t)n, fmt, ap);
    va_end(ap);
    return METRICS_EPROTO;
}

static bool name_start(int c) { return isalpha(c) || c == '_' || c == ':'; }
static bool name_char(int c) { return isalnum(c) || c == '_' || c == ':'; }
static bool label_start(int c) { return isalpha(c) || c == '_'; }
static bool label_char(int c) { return isalnum(c) || c == '_'; }

/* A metric name at *s (advanced past it) into a fresh string; NULL when
** none. */
static char *take_name(const char **s, const char *end)
{
    const char *b = *s;
    if (b >= end || !name_start((unsigned char)*b))
        return NULL;
    while (*s < end && name_char((unsigned char)**s))
        (*s)++;
    return strndup(b, (size_t)(*s - b));
}

static metrics_family_t *find_family(metrics_parsed_t *p, const char *name)
{
    for (size_t i = 0; i < p->nfamilies; i++)
        if (strcmp(p->families[i].name, name) == 0)
            return &p->families[i];
    return NULL;
}

static metrics_family_t *add_family(parser_t *ps, const char *name)
{
    metrics_parsed_t *p = ps->p;
    if (p->nfamilies == ps->capf) {
        size_t cap = ps->capf ? ps->capf * 2 : 32;
        metrics_family_t *f = realloc(p->families, cap * sizeof *f);
        if (!f)
            return NULL;
        p->families = f;
        ps->capf = cap;
    }
    metrics_family_t *f = &p->families[p->nfamilies];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name)))
        return NULL;
    p->nfamilies++;
    return f;
}

static bool has_suffix(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0)
        return false;
    *stem = n - k;
    return true;
}

/* The family a sample named `name` belongs to, or NULL. */
static metrics_family_t *family_of(metrics_parsed_t *p, const char *name)
{
    static const char *const hist[] = {"_bucket", "_sum", "_count"};
    metrics_family_t *f = find_family(p, name);
    if (f && (!f->type || (strcmp(f->type, "histogram") && strcmp(f->type, "summary"))))
        return f;
    for (size_t i = 0; i < 3; i++) {
        size_t stem;
        char buf[512];
        if (!has_suffix(name, hist[i], &stem) || stem >= sizeof buf)
            continue;
        memcpy(buf, name, stem);
        buf[stem] = '\0';
        metrics_family_t *g = find_family(p, buf);
        if (g && g->type && (strcmp(g->type, "histogram") == 0 ||
                  (strcmp(g->type, "summary") == 0 && i > 0)))
            return g;
    }
    /* A summary's quantile samples carry the family's own name. */
    if (f && strcmp(f->type, "summary") == 0)
        return f;
    return NULL;
}

static int parse_comment(parser_t *ps, const char *s, const char *end)
{
    bool help = false;
    s++;                                    /* '#' */
    while (s < end && *s == ' ')
        s++;
    if ((size_t)(end - s) >= 5 && strncmp(s, "HELP ", 5) == 0)
        help = true;
    else if (!((size_t)(end - s) >= 5 && strncmp(s, "TYPE ", 5) == 0))
        return 0;                           /* an ordinary comment */
    s += 5;
    while (s < end && *s == ' ')
        s++;
    char *name = take_name(&s, end);
    if (!name)
        return perr(ps, "# %s without a valid metric name", help ? "HELP" : "TYPE");
    if (s < end && *s != ' ') {
        free(name);
        return perr(ps, "# %s: the metric name has a character not allowed",
                    help ? "HELP" : "TYPE");
    }
    while (s < end && *s == ' ')
        s++;
    metrics_family_t *f = find_family(ps->p, name);
    if (!f && !(f = add_family(ps, name))) {
        free(name);
        return METRICS_ENOMEM;
    }
    if (help) {
        if (f->help) {
            free(name);
            return perr(ps, "a second # HELP for %s", f->name);
        }
        f->help = strndup(s, (size_t)(end - s));
    } else {
        static const char *const types[] = {"counter", "gauge", "histogram", "summary",
                                            "untyped"};
        bool known = false;
        for (size_t i = 0; i < 5; i++)
            if ((size_t)(end - s) == strlen(types[i]) && strncmp(s, types[i], (size_t)(end - s)) == 0)
                known = true;
        if (f->type) {
            free(name);
            return perr(ps, "a second # TYPE for %s", f->name);
        }
        if (!known) {
            free(name);
            return perr(ps, "# TYPE %.*s: not a metric type", (int)(end - s), s);
        }
        f->type = strndup(s, (size_t)(end - s));
    }
    free(name);
    return 0;
}

static int parse_value(parser_t *ps, const char *s, const char *end, double *out)
{
    char buf[64];
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= sizeof buf)
        return perr(ps, "no value");
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0) {
        *out = buf[0] == '+' ? INFINITY : -INFINITY;
        return 0;
    }
    char *stop;
    errno = 0;
    *out = strtod(buf, &stop);
    if (*stop || stop == buf || isnan(*out) || isinf(*out))
        return perr(ps, "'%s' is not a value", buf);
    return 0;
}

static int parse_sample(parser_t *ps, const char *s, const char *end)
{
    metrics_parsed_t *p = ps->p;
    metrics_sample_t m = {0};
    int rc;

    if (!(m.name = take_name(&s, end)))
        return perr(ps, "a sample without a valid metric name");
    metrics_family_t *f = family_of(p, m.name);
    if (!f || !f->type) {
        rc = perr(ps, "sample %s before its family's # TYPE", m.name);
        goto out_free;
    }
    if (!f->help) {
        rc = perr(ps, "sample %s before its family's # HELP", m.name);
        goto out_free;
    }
    m.family = f->name;
    if (s < end && *s == '{') {
        s++;
        size_t cap = 0;
        for (;;) {
            if (s < end && *s == '}') {
                s++;
                break;
            }
            const char *b = s;
            if (s >= end || !label_start((unsigned char)*s)) {
                rc = perr(ps, "%s: a label name expected", m.name);
                goto out_free;
            }
            while (s < end && label_char((unsigned char)*s))
                s++;
            size_t nlen = (size_t)(s - b);
            if (s + 1 >= end || s[0] != '=' || s[1] != '"') {
                rc = perr(ps, "%s: label %.*s: =\"...\" expected", m.name, (int)nlen, b);
                goto out_free;
            }
            s += 2;
            char *value = malloc((size_t)(end - s) + 1);
            size_t vlen = 0;
            if (!value) {
                rc = METRICS_ENOMEM;
                goto out_free;
            }
            while (s < end && *s != '"') {
                if (*s == '\\') {
                    if (s + 1 >= end || (s[1] != '\\' && s[1] != '"' && s[1] != 'n')) {
                        free(value);
                        rc = perr(ps, "%s: a bad escape in a label value", m.name);
                        goto out_free;
                    }
                    value[vlen++] = s[1] == 'n' ? '\n' : s[1];
                    s += 2;
                } else {
                    value[vlen++] = *s++;
                }
            }
            value[vlen] = '\0';
            if (s >= end) {
                free(value);
                rc = perr(ps, "%s: a label value not closed", m.name);
                goto out_free;
            }
            s++;
            for (size_t i = 0; i < m.nlabels; i++)
                if (strlen(m.labels[i].name) == nlen && strncmp(m.labels[i].name, b, nlen) == 0) {
                    free(value);
                    rc = perr(ps, "%s: label %.*s twice", m.name, (int)nlen, b);
                    goto out_free;
                }
            if (m.nlabels == cap) {
                cap = cap ? cap * 2 : 8;
                metrics_label_t *l = realloc(m.labels, cap * sizeof *l);
                if (!l) {
                    free(value);
                    rc = METRICS_ENOMEM;
                    goto out_free;
                }
                m.labels = l;
            }
            m.labels[m.nlabels].name = strndup(b, nlen);
            m.labels[m.nlabels].value = value;
            m.nlabels++;
            if (s < end && *s == ',')
                s++;
            else if (!(s < end && *s == '}')) {
                rc = perr(ps, "%s: ',' or '}' expected after a label", m.name);
                goto out_free;
            }
        }
    }
    if (s >= end || *s != ' ') {
        rc = perr(ps, "%s: a space and a value expected", m.name);
        goto out_free;
    }
    while (s < end && *s == ' ')
        s++;
    const char *vend = s;
    while (vend < end && *vend != ' ')
        vend++;
    if ((rc = parse_value(ps, s, vend, &m.value)) != 0)
        goto out_free;
    /* An optional timestamp (an integer of milliseconds). */
    for (s = vend; s < end && *s == ' '; s++)
        ;
    for (const char *t = s; t < end; t++)
        if (!isdigit((unsigned char)*t) && !(t == s && *t == '-')) {
            rc = perr(ps, "%s: text after the value", m.name);
            goto out_free;
        }
    if (p->nsamples == ps->caps) {
        size_t cap = ps->caps ? ps->caps * 2 : 128;
        metrics_sample_t *a = realloc(p->samples, cap * sizeof *a);
        if (!a) {
            rc = METRICS_ENOMEM;
            goto out_free;
        }
        p->samples = a;
        ps->caps = cap;
    }
    p->samples[p->nsamples++] = m;
    return 0;

out_free:
    for (size_t i = 0; i < m.nlabels; i++) {
        free(m.labels[i].name);
        free(m.labels[i].value);
    }
    free(m.labels);
    free(m.name);
    return rc;
}

int metrics_parse(const char *text, size_t len, metrics_parsed_t *out, char *err,
                  size_t errsize)
{
    parser_t ps = {.p = out, .err = err, .errsize = errsize};
    const char *s = text, *end = text + len;
    int rc = 0;

    memset(out, 0, sizeof *out);
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol) {
            ps.line++;
            rc = perr(&ps, "the last line has no newline");
            break;
        }
        ps.line++;
        if (memchr(s, '\0', (size_t)(eol - s))) {
            rc = perr(&ps, "a NUL byte");
            break;
        }
        const char *b = s;
        while (b < eol && (*b == ' ' || *b == '\t'))
            b++;
        if (b < eol) {
            rc = *b == '#' ? parse_comment(&ps, b, eol) : parse_sample(&ps, b, eol);
            if (rc != 0)
                break;
        }
        s = eol + 1;
    }
    if (rc != 0)
        metrics_parsed_free(out);
    return rc;
}

void metrics_parsed_free(metrics_parsed_t *p)
{
    for (size_t i = 0; i < p->nsamples; i++) {
        metrics_sample_t *m = &p->samples[i];
        for (size_t k = 0; k < m->nlabels; k++) {
            free(m->labels[k].name);
            free(m->labels[k].value);
        }
        free(m->labels);
        free(m->name);
    }
    for (size_t i = 0; i < p->nfamilies; i++) {
        free(p->families[i].name);
        free(p->families[i].type);
        free(p->families[i].help);
    }
    free(p->samples);
    free(p->families);
    memset(p, 0, sizeof *p);
}

const char *metrics_label(const metrics_sample_t *s, const char *name)
{
    for (size_t i = 0; i < s->nlabels; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}
