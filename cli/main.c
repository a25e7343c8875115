/*
** cli/main.c -- the heapsim command: option parsing and the command table.
**
**   heapsim run SCENARIO        coordinator + local workers, then a summary
**   heapsim coordinator --bind EP SCENARIO
**   heapsim worker --connect EP
**   heapsim runs | show RUN_ID | sql "SELECT ..."   (the run history)
**   heapsim kernels | check SCENARIO | clean
**
** Each command is one row of `commands`: its usage, its one-line summary,
** the options it takes, how many arguments and its handler. `heapsim help`
** is printed from the table, and `heapsim COMMAND --help` (or -h) prints
** that row's usage. The handlers get parsed, checked options; the work is
** done by the rooms they call (launcher, worker, storage, scenario, ...).
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
#include "keys/keys.h"
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

/* ---- Options ------------------------------------------------------------ */

typedef struct opts {
    const char *db;
    const char *bind;
    const char *connect;
    const char *name;
    const char *sets[MAX_SETS];
    size_t nsets;
    long workers;
    long limit;
    long resume;                 /* --resume RUN_ID, 0 none */
    const char *keys;            /* --keys DIR */
    long expect_workers;
    long heartbeat_ms, misses;
    long procs;
    bool insecure;
    bool json;
    bool quiet;
    bool local_child;
    char *const *args;
    int nargs;
} opts_t;

/* Option codes; A(code) is its bit in a command's `options` mask. */
enum { O_DB = 1000, O_SET, O_WORKERS, O_JSON, O_BIND, O_CONNECT, O_NAME, O_LIMIT,
       O_QUIET, O_LOCAL_CHILD, O_RESUME, O_KEYS, O_INSECURE, O_EXPECT_WORKERS, O_PROCS,
       O_HEARTBEAT, O_MISSES };
#define A(o) (1u << ((o) - O_DB))

/* Indexed by code - O_DB; --help comes last, every command takes it. */
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
    {"resume", required_argument, NULL, O_RESUME},
    {"keys", required_argument, NULL, O_KEYS},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"expect-workers", required_argument, NULL, O_EXPECT_WORKERS},
    {"procs", required_argument, NULL, O_PROCS},
    {"heartbeat", required_argument, NULL, O_HEARTBEAT},
    {"misses", required_argument, NULL, O_MISSES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ---- The command table -------------------------------------------------- */

typedef struct command command_t;

struct command {
    const char *name;
    const char *args;            /* the usage line after the name */
    const char *summary;         /* one line */
    const char *note;            /* shown by COMMAND --help, or NULL */
    int section;                 /* index into sections, for `help` */
    unsigned options;            /* A(O_*) of the options it takes */
    int min_args, max_args;      /* arguments besides options */
    bool raw;                    /* takes its argv as is, no parsing */
    /* Runs the command on parsed options; argc/argv as given, argv[0]
    ** the command's name. Returns the exit status. */
    int (*run)(const command_t *cmd, const opts_t *o, int argc, char **argv);
};

/* `heapsim help` in sections; a section's summaries start at `column`
** after the two-space indent, or on a line of their own when 0. */
static const struct {
    const char *title;
    int column;
} sections[] = {
    {"Run workloads", 0},
    {"Scenarios and kernels", 41},
    {"Run history (the database is ./heapsim.db unless --db PATH)", 31},
    {"Housekeeping", 31},
};

static int cmd_run(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_coordinator(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_worker(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_keygen(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_check(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_kernels(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_runs(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_show(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_sql(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_clean(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_help(const command_t *cmd, const opts_t *o, int argc, char **argv);

#define HISTORY_NOTE "The database is ./heapsim.db unless --db PATH."

static const command_t commands[] = {
    {.name = "run",
     .args = "SCENARIO [--set K=V]... [--workers N] [--db PATH] [--json] [--quiet]"
             " | --resume RUN_ID",
     .summary = "run a scenario on local worker processes (default: one per core)",
     .note = "--resume RUN_ID finishes an interrupted run's unfinished tasks, from the"
             " scenario and token stored with it.",
     .section = 0,
     .options = A(O_DB) | A(O_SET) | A(O_JSON) | A(O_QUIET) | A(O_BIND) | A(O_WORKERS) |
                A(O_RESUME) | A(O_KEYS) | A(O_INSECURE) | A(O_HEARTBEAT) | A(O_MISSES),
     .min_args = 0, .max_args = 1, .run = cmd_run},
    {.name = "coordinator",
     .args = "--bind ENDPOINT SCENARIO [--set K=V]... [--db PATH] [--json]"
             " [--keys DIR | --insecure] [--expect-workers N] | --bind ENDPOINT --resume RUN_ID",
     .summary = "hand the scenario's tasks to workers that connect (other machines)",
     .note = "--resume RUN_ID finishes an interrupted run's unfinished tasks; its"
             " workers still running rejoin. --heartbeat MS (1000) and --misses N (3): a"
             " worker not heard for N heartbeats is lost and its task runs elsewhere;"
             " workers learn both when they join.",
     .section = 0,
     .options = A(O_DB) | A(O_SET) | A(O_JSON) | A(O_QUIET) | A(O_BIND) | A(O_RESUME) |
                A(O_KEYS) | A(O_INSECURE) | A(O_EXPECT_WORKERS) | A(O_HEARTBEAT) | A(O_MISSES),
     .min_args = 0, .max_args = 1, .run = cmd_coordinator},
    {.name = "worker",
     .args = "--connect ENDPOINT [--name NAME] [--keys DIR] [--procs N]",
     .summary = "serve tasks of a coordinator",
     .note = "With --keys DIR the connection is CURVE-encrypted: DIR holds"
             " worker.cert_secret and coordinator.cert (heapsim keygen DIR).",
     .section = 0,
     .options = A(O_CONNECT) | A(O_NAME) | A(O_LOCAL_CHILD) | A(O_QUIET) | A(O_KEYS) |
                A(O_PROCS),
     .run = cmd_worker},
    {.name = "keygen",
     .args = "DIR",
     .summary = "make CURVE keys for --keys DIR (coordinator, worker, allow-list)",
     .note = "Makes DIR/coordinator.cert and DIR/worker.cert with their _secret files"
             " when missing, and allows worker.cert in DIR/workers/. The coordinator"
             " accepts only the workers whose public key is in DIR/workers/.",
     .section = 0,
     .min_args = 1, .max_args = 1, .run = cmd_keygen},
    {.name = "check",
     .args = "SCENARIO [--set K=V]... [--json]",
     .summary = "validate; print the task list",
     .section = 1, .options = A(O_SET) | A(O_JSON),
     .min_args = 1, .max_args = 1, .run = cmd_check},
    {.name = "kernels",
     .args = "[--json]",
     .summary = "kernels and their parameters",
     .section = 1, .options = A(O_JSON), .run = cmd_kernels},
    {.name = "runs",
     .args = "[--limit N] [--json]",
     .summary = "recent runs", .note = HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_JSON) | A(O_LIMIT), .run = cmd_runs},
    {.name = "show",
     .args = "RUN_ID [--json]",
     .summary = "one run: tasks, results, GC summary", .note = HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_JSON),
     .min_args = 1, .max_args = 1, .run = cmd_show},
    {.name = "sql",
     .args = "\"SELECT ...\" [--json]",
     .summary = "any read-only query", .note = HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_JSON),
     .min_args = 1, .max_args = 1, .run = cmd_sql},
    {.name = "clean",
     .args = "",
     .summary = "remove shared-memory heaps of dead runs",
     .section = 3, .run = cmd_clean},
    /* Takes anything and prints the table: `heapsim help x` did so too. */
    {.name = "help",
     .args = "",
     .summary = "this text",
     .section = 3, .raw = true, .run = cmd_help},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* "NAME ARGS", or "NAME" when it takes none, into buf. */
static const char *usage_line(const command_t *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", c->name, *c->args ? " " : "", c->args);
    return buf;
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: %s COMMAND [ARGS]\n", progname);
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        fprintf(out, "\n%s:\n", sections[s].title);
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const command_t *c = &commands[i];
            char usage[256];
            if (c->section != (int)s)
                continue;
            usage_line(c, usage, sizeof usage);
            if (sections[s].column)
                fprintf(out, "  %-*s%s\n", sections[s].column, usage, c->summary);
            else
                fprintf(out, "  %s\n      %s\n", usage, c->summary);
        }
    }
}

/* COMMAND --help. */
static void print_command_help(const command_t *c, FILE *out)
{
    char usage[256];
    fprintf(out, "usage: %s %s\n%s\n", progname, usage_line(c, usage, sizeof usage),
            c->summary);
    if (c->note)
        fprintf(out, "%s\n", c->note);
}

static int cmd_help(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    print_help(stdout);
    return 0;
}

/* ---- Parsing ------------------------------------------------------------ */

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

#define PARSE_HELP 1   /* --help was asked for: print the usage, exit 0 */

/* Parse argv (argv[0] the command's name) against the command's options
** and argument counts. Returns 0, PARSE_HELP, or EXIT_USAGE after printing
** the reason. */
static int parse_opts(const command_t *command, int argc, char **argv, opts_t *o)
{
    const char *cmd = command->name;
    memset(o, 0, sizeof *o);
    o->db = "heapsim.db";
    o->workers = 0;
    o->limit = 20;
    optind = 1;
    opterr = 0;
    for (;;) {
        int longindex = -1;
        /* GNU getopt permutes: options may follow the arguments. */
        int c = getopt_long(argc, argv, ":h", longopts, &longindex);
        if (c == -1)
            break;
        if (c == 'h')
            return PARSE_HELP;
        if (c == ':') {
            usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (c == '?') {
            usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (!(command->options & A(c))) {
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
        case O_KEYS: o->keys = optarg; break;
        case O_INSECURE: o->insecure = true; break;
        case O_EXPECT_WORKERS:
            if (!parse_long(optarg, 1, 100000, &o->expect_workers)) {
                usage_error(cmd, "--expect-workers %s: expected a number from 1 to 100000",
                            optarg);
                return EXIT_USAGE;
            }
            break;
        case O_HEARTBEAT:
            if (!parse_long(optarg, 10, 600000, &o->heartbeat_ms)) {
                usage_error(cmd, "--heartbeat %s: expected milliseconds from 10 to 600000",
                            optarg);
                return EXIT_USAGE;
            }
            break;
        case O_MISSES:
            if (!parse_long(optarg, 1, 100, &o->misses)) {
                usage_error(cmd, "--misses %s: expected a number from 1 to 100", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_PROCS:
            if (!parse_long(optarg, 1, 1024, &o->procs)) {
                usage_error(cmd, "--procs %s: expected a number from 1 to 1024", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_RESUME:
            if (!parse_long(optarg, 1, LONG_MAX, &o->resume)) {
                usage_error(cmd, "--resume %s: expected a run id", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_BIND: o->bind = optarg; break;
        case O_CONNECT: o->connect = optarg; break;
        case O_NAME: o->name = optarg; break;
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    if (o->nargs < command->min_args) {
        usage_error(cmd, "missing argument");
        return EXIT_USAGE;
    }
    if (o->nargs > command->max_args) {
        usage_error(cmd, "unexpected argument '%s'", o->args[command->max_args]);
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- run / coordinator -------------------------------------------------- */

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

/* argv - 1 is main's argv: the whole command line is stored with the run. */
static int launch(const command_t *cmd, const opts_t *o, int argc, char **argv, bool local)
{
    char *cmdline = join_args(argc + 1, argv - 1);
    if (!cmdline) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
        return 1;
    }
    if (o->resume && (o->nargs > 0 || o->nsets > 0)) {
        free(cmdline);
        usage_error(cmd->name, "--resume takes the stored scenario: no SCENARIO, no --set");
        return EXIT_USAGE;
    }
    if (!o->resume && o->nargs == 0) {
        free(cmdline);
        usage_error(cmd->name, "missing argument");
        return EXIT_USAGE;
    }
    launcher_opts_t lo = {
        .cmd = cmd->name, .scenario_path = o->nargs ? o->args[0] : NULL,
        .resume_run_id = o->resume, .keys_dir = o->keys, .insecure = o->insecure,
        .expect_workers = (int)o->expect_workers,
        .heartbeat_ms = (int)o->heartbeat_ms, .misses = (int)o->misses,
        .sets = o->sets,
        .nsets = o->nsets, .db = o->db, .bind = o->bind, .local = local,
        .workers = (int)o->workers, .json = o->json, .quiet = o->quiet,
        .command_line = cmdline,
    };
    int rc = launcher_run(&lo);
    free(cmdline);
    return rc;
}

static int cmd_run(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    return launch(cmd, o, argc, argv, true);
}

static int cmd_coordinator(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    if (!o->bind) {
        usage_error(cmd->name, "--bind ENDPOINT is required (e.g. tcp://0.0.0.0:7878)");
        return EXIT_USAGE;
    }
    return launch(cmd, o, argc, argv, false);
}

/* ---- worker ------------------------------------------------------------- */

static int cmd_worker(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    if (!o->connect) {
        usage_error(cmd->name, "--connect ENDPOINT is required (e.g. tcp://coordinator:7878)");
        return EXIT_USAGE;
    }
    if (o->name && (!*o->name || strlen(o->name) >= 100)) {
        usage_error(cmd->name, "--name must be 1 to 99 characters");
        return EXIT_USAGE;
    }
    worker_opts_t wo = {
        .endpoint = o->connect,
        .name = o->name,
        .exit_with_parent = o->local_child,
        .keys_dir = o->keys,
        .procs = (int)o->procs,
        .quiet = o->quiet,
    };
    return worker_main(&wo);
}

/* ---- keygen ------------------------------------------------------------- */

static int cmd_keygen(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    char err[512];
    (void)argc;
    (void)argv;
    if (keys_generate(o->args[0], err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, err);
        return 1;
    }
    printf("%s: coordinator.cert, worker.cert (and their _secret files), workers/worker.cert\n",
           o->args[0]);
    return 0;
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

static int cmd_runs(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_t *st;
    int rc = open_history(cmd->name, o, &st);
    if (rc)
        return rc;
    rc = store_print_runs(st, stdout, (int)o->limit, o->json);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
    store_close(&st);
    return rc ? 1 : 0;
}

static int cmd_show(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_t *st;
    long run_id;
    int rc;
    if (!parse_long(o->args[0], 1, LONG_MAX, &run_id)) {
        usage_error(cmd->name, "RUN_ID must be a run number, got '%s'", o->args[0]);
        return EXIT_USAGE;
    }
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    rc = store_print_show(st, stdout, run_id, o->json);
    if (rc == STORE_ENOTFOUND)
        fprintf(stderr, "%s %s: no run %ld in %s\n", progname, cmd->name, run_id, o->db);
    else if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
    store_close(&st);
    return rc == 0 ? 0 : rc == STORE_ENOTFOUND ? EXIT_USAGE : 1;
}

static int cmd_sql(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_t *st;
    int rc = open_history(cmd->name, o, &st);
    if (rc)
        return rc;
    rc = store_print_sql(st, stdout, o->args[0], o->json);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
    store_close(&st);
    return rc == 0 ? 0 : rc == STORE_EUSAGE ? EXIT_USAGE : 1;
}

/* ---- kernels / check / clean ------------------------------------------- */

static int cmd_kernels(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    size_t n;
    const kernel_spec_t *ks = catalog_kernels(&n);
    if (o->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            json_object *k = json_object_new_object();
            json_object *ps = json_object_new_array();
            /* The defaults as kparams_json writes every parameter value. */
            kparams_t def;
            char *dj = kparams_init(&def, &ks[i]) == 0 ? kparams_json(&def) : NULL;
            json_object *defaults = dj ? json_tokener_parse(dj) : NULL;
            free(dj);
            kparams_free(&def);
            if (!defaults) {
                json_object_put(ps);
                json_object_put(k);
                json_object_put(arr);
                fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
                return 1;
            }
            json_object_object_add(k, "name", json_object_new_string(ks[i].name));
            json_object_object_add(k, "summary", json_object_new_string(ks[i].summary));
            for (size_t j = 0; j < ks[i].nparams; j++) {
                const kparam_spec_t *p = &ks[i].params[j];
                json_object *pj = json_object_new_object();
                json_object_object_add(pj, "name", json_object_new_string(p->name));
                json_object_object_add(pj, "type", json_object_new_string(catalog_type_name(p->type)));
                json_object_object_add(pj, "doc", json_object_new_string(p->doc ? p->doc : ""));
                json_object *dv = NULL;
                json_object_object_get_ex(defaults, p->name, &dv);
                json_object_object_add(pj, "default", json_object_get(dv));
                if (p->type == KPARAM_INT || p->type == KPARAM_SIZE) {
                    json_object_object_add(pj, "min", json_object_new_int64(p->min_i));
                    json_object_object_add(pj, "max", json_object_new_int64(p->max_i));
                } else if (p->type == KPARAM_FLOAT) {
                    json_object_object_add(pj, "min", json_object_new_double(p->min_f));
                    json_object_object_add(pj, "max", json_object_new_double(p->max_f));
                }
                json_object_array_add(ps, pj);
            }
            json_object_put(defaults);
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
            printf("    %-18s %-6s %s\n", p->name, catalog_type_name(p->type), p->doc ? p->doc : "");
        }
        printf("    parameters: %s\n\n", catalog_param_list(&ks[i], buf, sizeof buf));
    }
    return 0;
}

static int cmd_check(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    char err[1024];
    scenario_t *scn;
    int rc = scenario_load(o->args[0], o->sets, o->nsets, &scn, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, err);
        return rc == SCENARIO_EUSAGE ? EXIT_USAGE : 1;
    }
    if (o->json) {
        json_object *root = json_object_new_object();
        json_object *tasks = json_object_new_array();
        json_object_object_add(root, "name", json_object_new_string(scn->name));
        json_object_object_add(root, "path", json_object_new_string(scn->path));
        for (size_t i = 0; i < scn->ntasks; i++) {
            const scn_task_t *t = &scn->tasks[i];
            json_object *tj = json_object_new_object();
            char *pj = kparams_json(&t->params);
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
            char *pj = kparams_json(&t->params);
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

static int cmd_clean(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    int n = heap_clean_stale(report_clean, NULL);
    if (n < 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, heap_strerror(n));
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
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        name = "help";
    const command_t *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "%s: unknown command '%s' (see '%s help')\n", progname, name,
                progname);
        return EXIT_USAGE;
    }
    opts_t o;
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (!cmd->raw) {
        int rc = parse_opts(cmd, sub_argc, sub_argv, &o);
        if (rc == PARSE_HELP) {
            print_command_help(cmd, stdout);
            return 0;
        }
        if (rc)
            return rc;
    } else {
        memset(&o, 0, sizeof o);
    }
    return cmd->run(cmd, &o, sub_argc, sub_argv);
}
