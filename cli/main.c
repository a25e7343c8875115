/*
** cli/main.c -- the heapsim command.
**
**   heapsim run SCENARIO        coordinator + local workers, then a summary
**   heapsim coordinator --bind EP SCENARIO
**   heapsim worker --connect EP
**   heapsim runs | show RUN_ID | sql "SELECT ..."   (the run history)
**   heapsim kernels | check SCENARIO | clean
**
** Exit status: 0 success, 1 the run had failed tasks (or an internal
** failure), 2 a usage error (bad flag, bad scenario: nothing was written),
** 130 interrupted.
*/
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "launcher/launcher.h"
#include "scenario/scenario.h"
#include "shm_heap/heap.h"
#include "storage/store.h"
#include "worker/worker.h"

#define EXIT_USAGE 2
#define MAX_SETS 256

static const char *progname = "heapsim";

static void usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s %s: ", progname, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s help')\n", progname);
}

static void print_help(FILE *out)
{
    fprintf(out,
        "usage: heapsim COMMAND [ARGS]\n"
        "\n"
        "Run workloads:\n"
        "  run SCENARIO [--set K=V]... [--workers N] [--db PATH] [--json] [--quiet]\n"
        "      run a scenario on local worker processes (default: one per core)\n"
        "  coordinator --bind ENDPOINT SCENARIO [--set K=V]... [--db PATH] [--json]\n"
        "      hand the scenario's tasks to workers that connect (other machines)\n"
        "  worker --connect ENDPOINT [--name NAME]\n"
        "      serve tasks of a coordinator\n"
        "\n"
        "Scenarios and kernels:\n"
        "  check SCENARIO [--set K=V]... [--json]   validate; print the task list\n"
        "  kernels [--json]                          kernels and their parameters\n"
        "\n"
        "Run history (the database is ./heapsim.db unless --db PATH):\n"
        "  runs [--limit N] [--json]      recent runs\n"
        "  show RUN_ID [--json]           one run: tasks, results, GC summary\n"
        "  sql \"SELECT ...\" [--json]      any read-only query\n"
        "\n"
        "Housekeeping:\n"
        "  clean                          remove shared-memory heaps of dead runs\n"
        "  help                           this text\n");
}

/* ---- Common option parsing ---------------------------------------------- */

typedef struct opts {
    const char *db;
    const char *bind;
    const char *connect;
    const char *name;
    const char *sets[MAX_SETS];
    size_t nsets;
    long workers;
    long limit;
    bool json;
    bool quiet;
    bool local_child;
    char *const *args;
    int nargs;
} opts_t;

enum { O_DB = 1000, O_SET, O_WORKERS, O_JSON, O_BIND, O_CONNECT, O_NAME, O_LIMIT,
       O_QUIET, O_LOCAL_CHILD };

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Parse argv for `cmd`, accepting only the options in `allowed` (a string
** of O_* codes' letters is awkward in C; we pass a mask). Returns 0, or
** EXIT_USAGE after printing the reason. */
#define A(o) (1u << ((o) - O_DB))

static int parse_opts(const char *cmd, int argc, char **argv, unsigned allowed,
                      int min_args, int max_args, opts_t *o)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB},
        {"set", required_argument, NULL, O_SET},
        {"workers", required_argument, NULL, O_WORKERS},
        {"json", no_argument, NULL, O_JSON},
        {"bind", required_argument, NULL, O_BIND},
        {"connect", required_argument, NULL, O_CONNECT},
        {"name", required_argument, NULL, O_NAME},
        {"limit", required_argument, NULL, O_LIMIT},
        {"quiet", no_argument, NULL, O_QUIET},
        {"local-child", no_argument, NULL, O_LOCAL_CHILD},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->db = "heapsim.db";
    o->workers = 0;
    o->limit = 20;
    optind = 1;
    opterr = 0;
    for (;;) {
        int longindex = -1;
        /* GNU getopt permutes: options may follow the arguments. */
        int c = getopt_long(argc, argv, ":", longopts, &longindex);
        if (c == -1)
            break;
        if (c == ':') {
            usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (c == '?') {
            usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (!(allowed & A(c))) {
            usage_error(cmd, "option '--%s' does not apply here", longopts[c - O_DB].name);
            return EXIT_USAGE;
        }
        switch (c) {
        case O_DB:
            if (!*optarg) {
                usage_error(cmd, "--db needs a path");
                return EXIT_USAGE;
            }
            o->db = optarg;
            break;
        case O_SET:
            if (o->nsets == MAX_SETS) {
                usage_error(cmd, "more than %d --set options", MAX_SETS);
                return EXIT_USAGE;
            }
            o->sets[o->nsets++] = optarg;
            break;
        case O_WORKERS:
            if (!parse_long(optarg, 1, 1024, &o->workers)) {
                usage_error(cmd, "--workers %s: expected a number from 1 to 1024", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_LIMIT:
            if (!parse_long(optarg, 1, 1000000, &o->limit)) {
                usage_error(cmd, "--limit %s: expected a number from 1 to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_JSON: o->json = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_LOCAL_CHILD: o->local_child = true; break;
        case O_BIND: o->bind = optarg; break;
        case O_CONNECT: o->connect = optarg; break;
        case O_NAME: o->name = optarg; break;
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    if (o->nargs < min_args) {
        usage_error(cmd, "missing argument");
        return EXIT_USAGE;
    }
    if (o->nargs > max_args) {
        usage_error(cmd, "unexpected argument '%s'", o->args[max_args]);
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- run / coordinator ------------------------------------------------- */

static char *join_args(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static int cmd_run(const char *cmd, int argc, char **argv, bool local)
{
    opts_t o;
    unsigned allowed = A(O_DB) | A(O_SET) | A(O_JSON) | A(O_QUIET) | A(O_BIND) |
                       (local ? A(O_WORKERS) : 0);
    int rc = parse_opts(cmd, argc, argv, allowed, 1, 1, &o);
    if (rc)
        return rc;
    if (!local && !o.bind) {
        usage_error(cmd, "--bind ENDPOINT is required (e.g. tcp://0.0.0.0:7878)");
        return EXIT_USAGE;
    }
    char *cmdline = join_args(argc + 1, argv - 1);
    if (!cmdline) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd);
        return 1;
    }
    launcher_opts_t lo = {
        .cmd = cmd, .scenario_path = o.args[0], .sets = o.sets, .nsets = o.nsets,
        .db = o.db, .bind = o.bind, .local = local, .workers = (int)o.workers,
        .json = o.json, .quiet = o.quiet, .command_line = cmdline,
    };
    rc = launcher_run(&lo);
    free(cmdline);
    return rc;
}

/* ---- worker ------------------------------------------------------------ */

static int cmd_worker(const char *cmd, int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(cmd, argc, argv, A(O_CONNECT) | A(O_NAME) | A(O_LOCAL_CHILD) | A(O_QUIET),
                        0, 0, &o);
    if (rc)
        return rc;
    if (!o.connect) {
        usage_error(cmd, "--connect ENDPOINT is required (e.g. tcp://coordinator:7878)");
        return EXIT_USAGE;
    }
    if (o.name && (!*o.name || strlen(o.name) >= 100)) {
        usage_error(cmd, "--name must be 1 to 99 characters");
        return EXIT_USAGE;
    }
    worker_opts_t wo = {
        .endpoint = o.connect,
        .name = o.name,
        .exit_with_parent = o.local_child,
        .quiet = o.quiet,
    };
    return worker_main(&wo);
}

/* ---- history ----------------------------------------------------------- */

static int open_history(const char *cmd, const opts_t *o, store_t **st)
{
    char err[1024];
    if (store_open(o->db, STORE_READONLY, st, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_runs(const char *cmd, int argc, char **argv)
{
    opts_t o;
    store_t *st;
    int rc = parse_opts(cmd, argc, argv, A(O_DB) | A(O_JSON) | A(O_LIMIT), 0, 0, &o);
    if (rc || (rc = open_history(cmd, &o, &st)))
        return rc;
    rc = store_print_runs(st, stdout, (int)o.limit, o.json);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd, store_errmsg(st));
    store_close(&st);
    return rc ? 1 : 0;
}

static int cmd_show(const char *cmd, int argc, char **argv)
{
    opts_t o;
    store_t *st;
    long run_id;
    int rc = parse_opts(cmd, argc, argv, A(O_DB) | A(O_JSON), 1, 1, &o);
    if (rc)
        return rc;
    if (!parse_long(o.args[0], 1, LONG_MAX, &run_id)) {
        usage_error(cmd, "RUN_ID must be a run number, got '%s'", o.args[0]);
        return EXIT_USAGE;
    }
    if ((rc = open_history(cmd, &o, &st)))
        return rc;
    rc = store_print_show(st, stdout, run_id, o.json);
    if (rc == STORE_ENOTFOUND)
        fprintf(stderr, "%s %s: no run %ld in %s\n", progname, cmd, run_id, o.db);
    else if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd, store_errmsg(st));
    store_close(&st);
    return rc == 0 ? 0 : rc == STORE_ENOTFOUND ? EXIT_USAGE : 1;
}

static int cmd_sql(const char *cmd, int argc, char **argv)
{
    opts_t o;
    store_t *st;
    int rc = parse_opts(cmd, argc, argv, A(O_DB) | A(O_JSON), 1, 1, &o);
    if (rc || (rc = open_history(cmd, &o, &st)))
        return rc;
    rc = store_print_sql(st, stdout, o.args[0], o.json);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd, store_errmsg(st));
    store_close(&st);
    return rc == 0 ? 0 : rc == STORE_EUSAGE ? EXIT_USAGE : 1;
}

/* ---- kernels / check / clean ------------------------------------------- */

static json_object *param_value_json(const kparam_value_t *v)
{
    switch (v->type) {
    case KPARAM_INT:
    case KPARAM_SIZE: return json_object_new_int64(v->u.i);
    case KPARAM_FLOAT: return json_object_new_double(v->u.f);
    case KPARAM_BOOL: return json_object_new_boolean(v->u.i != 0);
    case KPARAM_STRING: return json_object_new_string(v->u.s ? v->u.s : "");
    }
    return NULL;
}

static const char *type_name(kparam_type_t t)
{
    switch (t) {
    case KPARAM_INT: return "int";
    case KPARAM_SIZE: return "size";
    case KPARAM_FLOAT: return "float";
    case KPARAM_BOOL: return "bool";
    case KPARAM_STRING: return "string";
    }
    return "?";
}

static int cmd_kernels(const char *cmd, int argc, char **argv)
{
    opts_t o;
    size_t n;
    int rc = parse_opts(cmd, argc, argv, A(O_JSON), 0, 0, &o);
    if (rc)
        return rc;
    const kernel_spec_t *ks = catalog_kernels(&n);
    if (o.json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *k = json_object_new_object();
            json_object *ps = json_object_new_array();
            kparams_t def;
            kparams_init(&def, &ks[i]);
            json_object_object_add(k, "name", json_object_new_string(ks[i].name));
            json_object_object_add(k, "summary", json_object_new_string(ks[i].summary));
            for (size_t j = 0; j < ks[i].nparams; j++) {
                const kparam_spec_t *p = &ks[i].params[j];
                json_object *pj = json_object_new_object();
                json_object_object_add(pj, "name", json_object_new_string(p->name));
                json_object_object_add(pj, "type", json_object_new_string(type_name(p->type)));
                json_object_object_add(pj, "doc", json_object_new_string(p->doc ? p->doc : ""));
                json_object_object_add(pj, "default", param_value_json(&def.values[j]));
                if (p->type == KPARAM_INT || p->type == KPARAM_SIZE) {
                    json_object_object_add(pj, "min", json_object_new_int64(p->min_i));
                    json_object_object_add(pj, "max", json_object_new_int64(p->max_i));
                } else if (p->type == KPARAM_FLOAT) {
                    json_object_object_add(pj, "min", json_object_new_double(p->min_f));
                    json_object_object_add(pj, "max", json_object_new_double(p->max_f));
                }
                json_object_array_add(ps, pj);
            }
            kparams_free(&def);
            json_object_object_add(k, "params", ps);
            json_object_array_add(arr, k);
        }
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char buf[2048];
        printf("%s\n    %s\n", ks[i].name, ks[i].summary);
        for (size_t j = 0; j < ks[i].nparams; j++) {
            const kparam_spec_t *p = &ks[i].params[j];
            printf("    %-18s %-6s %s\n", p->name, type_name(p->type), p->doc ? p->doc : "");
        }
        printf("    parameters: %s\n\n", catalog_param_list(&ks[i], buf, sizeof buf));
    }
    return 0;
}

static int cmd_check(const char *cmd, int argc, char **argv)
{
    opts_t o;
    char err[1024];
    scenario_t *scn;
    int rc = parse_opts(cmd, argc, argv, A(O_SET) | A(O_JSON), 1, 1, &o);
    if (rc)
        return rc;
    rc = scenario_load(o.args[0], o.sets, o.nsets, &scn, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        return rc == SCENARIO_EUSAGE ? EXIT_USAGE : 1;
    }
    if (o.json) {
        json_object *root = json_object_new_object();
        json_object *tasks = json_object_new_array();
        json_object_object_add(root, "name", json_object_new_string(scn->name));
        json_object_object_add(root, "path", json_object_new_string(scn->path));
        for (size_t i = 0; i < scn->ntasks; i++) {
            const scn_task_t *t = &scn->tasks[i];
            json_object *tj = json_object_new_object();
            char *pj = scenario_params_json(&t->params);
            char *rj = scenario_runtime_json(&t->runtime);
            json_object_object_add(tj, "seq", json_object_new_int64(t->seq));
            json_object_object_add(tj, "kernel", json_object_new_string(t->params.kernel->name));
            json_object_object_add(tj, "params", pj ? json_tokener_parse(pj) : NULL);
            json_object_object_add(tj, "runtime", rj ? json_tokener_parse(rj) : NULL);
            json_object_object_add(tj, "label", json_object_new_string(t->label ? t->label : ""));
            json_object_object_add(tj, "sweep_point", json_object_new_int64(t->sweep_point));
            json_object_object_add(tj, "repeat_index", json_object_new_int64(t->repeat_index));
            json_object_object_add(tj, "seed", json_object_new_int64((int64_t)t->seed));
            free(pj);
            free(rj);
            json_object_array_add(tasks, tj);
        }
        json_object_object_add(root, "tasks", tasks);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    } else {
        printf("%s: scenario '%s', %zu tasks\n", scn->path, scn->name, scn->ntasks);
        for (size_t i = 0; i < scn->ntasks; i++) {
            const scn_task_t *t = &scn->tasks[i];
            char *pj = scenario_params_json(&t->params);
            printf("  %4u  %-14s %s%s%s  repeat %u\n", t->seq, t->params.kernel->name,
                   pj ? pj : "", t->label && *t->label ? "  " : "",
                   t->label ? t->label : "", t->repeat_index);
            free(pj);
        }
    }
    scenario_free(&scn);
    return 0;
}

static void report_clean(void *arg, const char *name)
{
    (void)arg;
    printf("removed %s\n", name);
}

static int cmd_clean(const char *cmd, int argc, char **argv)
{
    opts_t o;
    int rc = parse_opts(cmd, argc, argv, 0, 0, 0, &o);
    if (rc)
        return rc;
    int n = heap_clean_stale(report_clean, NULL);
    if (n < 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, heap_strerror(n));
        return 1;
    }
    printf("%d stale heap%s removed\n", n, n == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;

    if (!strcmp(cmd, "run"))
        return cmd_run(cmd, sub_argc, sub_argv, true);
    if (!strcmp(cmd, "coordinator"))
        return cmd_run(cmd, sub_argc, sub_argv, false);
    if (!strcmp(cmd, "worker"))
        return cmd_worker(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "runs"))
        return cmd_runs(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "show"))
        return cmd_show(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "sql"))
        return cmd_sql(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "kernels"))
        return cmd_kernels(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "check"))
        return cmd_check(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "clean"))
        return cmd_clean(cmd, sub_argc, sub_argv);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        print_help(stdout);
        return 0;
    }
    fprintf(stderr, "%s: unknown command '%s' (see '%s help')\n", progname, cmd, progname);
    return EXIT_USAGE;
}
