/*
** cli/main.c -- the heapsim command: option parsing and the command table.
**
**   heapsim run SCENARIO        coordinator + local workers, then a summary
**   heapsim coordinator --bind EP SCENARIO
**   heapsim worker --connect EP
**   heapsim runs | show RUN | compare A B | sql "SELECT ..." | export RUN
**   heapsim report RUN [RUN_B] -o FILE.html            (the run history)
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/units.h"
#include "base/clock.h"
#include "catalog/catalog.h"
#include "cli/live.h"
#include "launcher/launcher.h"
#include "profile/leaks.h"
#include "profile/profile.h"
#include "render/render.h"
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
    long task;                   /* --task SEQ, -1 when not given */
    long at_cycle;               /* --at-cycle N, -1 when not given */
    long limit;
    const char *scenario;        /* runs --scenario */
    const char *status;          /* runs --status */
    int64_t since_unix_ns;       /* runs --since; STORE_NONE: any */
    int64_t timeout_ms;          /* sql --timeout */
    int64_t max_value_bytes;     /* sql --max-value */
    const char *format;          /* export --format */
    const char *output;          /* -o / --output */
    bool csv;
    long resume;                 /* --resume RUN_ID, 0 none */
    const char *keys;            /* --keys DIR */
    long expect_workers;
    long heartbeat_ms, misses;
    long procs;
    bool insecure;
    bool json;
    bool quiet;
    bool local_child;
    const char *metrics_addr;    /* --metrics-addr HOST:PORT */
    bool once, live;             /* top, leaks --live: one frame; leaks: live */
    long interval_ms;            /* top, leaks --live: between frames */
    char *const *args;
    int nargs;
} opts_t;

/* Option codes; A(code) is its bit in a command's `options` mask. */
enum { O_DB = 1000, O_SET, O_WORKERS, O_JSON, O_BIND, O_CONNECT, O_NAME, O_LIMIT,
       O_QUIET, O_LOCAL_CHILD, O_SCENARIO, O_SINCE, O_STATUS, O_CSV, O_TIMEOUT,
       O_MAX_VALUE, O_FORMAT, O_OUTPUT, O_GCTRACE, O_TASK, O_AT_CYCLE, O_RESUME, O_KEYS,
       O_INSECURE, O_EXPECT_WORKERS, O_PROCS, O_HEARTBEAT, O_MISSES, O_METRICS_ADDR,
       O_ONCE, O_LIVE, O_INTERVAL };
#define A(o) (1ull << ((o) - O_DB))

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
    {"scenario", required_argument, NULL, O_SCENARIO},
    {"since", required_argument, NULL, O_SINCE},
    {"status", required_argument, NULL, O_STATUS},
    {"csv", no_argument, NULL, O_CSV},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"max-value", required_argument, NULL, O_MAX_VALUE},
    {"format", required_argument, NULL, O_FORMAT},
    {"output", required_argument, NULL, O_OUTPUT},
    {"gctrace", no_argument, NULL, O_GCTRACE},
    {"task", required_argument, NULL, O_TASK},
    {"at-cycle", required_argument, NULL, O_AT_CYCLE},
    {"resume", required_argument, NULL, O_RESUME},
    {"keys", required_argument, NULL, O_KEYS},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"expect-workers", required_argument, NULL, O_EXPECT_WORKERS},
    {"procs", required_argument, NULL, O_PROCS},
    {"heartbeat", required_argument, NULL, O_HEARTBEAT},
    {"misses", required_argument, NULL, O_MISSES},
    {"metrics-addr", required_argument, NULL, O_METRICS_ADDR},
    {"once", no_argument, NULL, O_ONCE},
    {"live", no_argument, NULL, O_LIVE},
    {"interval", required_argument, NULL, O_INTERVAL},
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
    unsigned long long options;  /* A(O_*) of the options it takes */
    int min_args, max_args;      /* arguments besides options */
    bool raw;                    /* takes its argv as is, no parsing */
    /* Runs the command on parsed options; argc/argv as given, argv[0]
    ** the command's name. Returns the exit status. */
    int (*run)(const command_t *cmd, const opts_t *o, int argc, char **argv);
};

/* `heapsim help` in sections; a section's summaries start at `column`
** after the two-space indent, or on a line of their own when 0. */
static int cmd_profile(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_leaks(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_top(const command_t *cmd, const opts_t *o, int argc, char **argv);
static const struct {
    const char *title;
    int column;
} sections[] = {
    {"Run workloads", 0},
    {"Scenarios and kernels", 41},
    {"Run history (the database is ./heapsim.db unless --db PATH)", 0},
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
static int cmd_compare(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_export(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_report(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_clean(const command_t *cmd, const opts_t *o, int argc, char **argv);
static int cmd_help(const command_t *cmd, const opts_t *o, int argc, char **argv);

#define HISTORY_NOTE "The database is ./heapsim.db unless --db PATH."
#define METRICS_NOTE "--metrics-addr HOST:PORT serves the run's live figures to Prometheus" \
    " (GET /metrics; heapsim top HOST:PORT shows them); beyond loopback it needs --insecure."

static const command_t commands[] = {
    {.name = "run",
     .args = "SCENARIO [--set K=V]... [--workers N] [--db PATH] [--json] [--quiet]"
             " [--gctrace] | --resume RUN_ID",
     .summary = "run a scenario on local worker processes (default: one per core)",
     .note = "--resume RUN_ID finishes an interrupted run's unfinished tasks, from the"
             " scenario and token stored with it. --gctrace: each worker prints Go's"
             " gctrace line per GC cycle to stderr (--set gctrace=1). " METRICS_NOTE,
     .section = 0,
     .options = A(O_DB) | A(O_SET) | A(O_JSON) | A(O_QUIET) | A(O_BIND) | A(O_WORKERS) |
                A(O_RESUME) | A(O_KEYS) | A(O_INSECURE) | A(O_HEARTBEAT) | A(O_MISSES) |
                A(O_GCTRACE) | A(O_METRICS_ADDR),
     .min_args = 0, .max_args = 1, .run = cmd_run},
    {.name = "coordinator",
     .args = "--bind ENDPOINT SCENARIO [--set K=V]... [--db PATH] [--json] [--gctrace]"
             " [--keys DIR | --insecure] [--expect-workers N] | --bind ENDPOINT --resume RUN_ID",
     .summary = "hand the scenario's tasks to workers that connect (other machines)",
     .note = "--resume RUN_ID finishes an interrupted run's unfinished tasks; its"
             " workers still running rejoin. --heartbeat MS (1000) and --misses N (3): a"
             " worker not heard for N heartbeats is lost and its task runs elsewhere;"
             " workers learn both when they join. " METRICS_NOTE,
     .section = 0,
     .options = A(O_DB) | A(O_SET) | A(O_JSON) | A(O_QUIET) | A(O_BIND) | A(O_RESUME) |
                A(O_KEYS) | A(O_INSECURE) | A(O_EXPECT_WORKERS) | A(O_HEARTBEAT) | A(O_MISSES) |
                A(O_GCTRACE) | A(O_METRICS_ADDR),
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
     .args = "[--scenario NAME] [--since WHEN] [--status S] [--limit N] [--json]",
     .summary = "recent runs, newest first",
     .note = "WHEN: a date (2026-11-30, 2026-11-30T14:00, local time) or an age "
             "(90m, 24h, 7d).\nS: running, done, failed or interrupted. "
             "--limit defaults to 20.\n" HISTORY_NOTE,
     .section = 2,
     .options = A(O_DB) | A(O_JSON) | A(O_LIMIT) | A(O_SCENARIO) | A(O_SINCE) | A(O_STATUS),
     .run = cmd_runs},
    {.name = "show",
     .args = "RUN [--json]",
     .summary = "one run: settings; per sweep point wall, GC, pauses, heap, metrics",
     .note = HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_JSON),
     .min_args = 1, .max_args = 1, .run = cmd_show},
    {.name = "compare",
     .args = "RUN_A[:POINT] RUN_B[:POINT] [--json|--csv]",
     .summary = "side by side, deltas, Welch's t-test at 95 %",
     .note = "POINT: a sweep point's label (gogc=200) or its number from 0; "
             "RUN:P1 RUN:P2 compares two points of one run.\n" HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_JSON) | A(O_CSV),
     .min_args = 2, .max_args = 2, .run = cmd_compare},
    {.name = "sql",
     .args = "\"SELECT ...\" [--json|--csv] [--timeout T] [--max-value SIZE]",
     .summary = "any read-only query",
     .note = "--timeout stops the query after T (default 5s); --max-value caps "
             "any string or blob it makes (default 16MiB).\n" HISTORY_NOTE,
     .section = 2,
     .options = A(O_DB) | A(O_JSON) | A(O_CSV) | A(O_TIMEOUT) | A(O_MAX_VALUE),
     .min_args = 1, .max_args = 1, .run = cmd_sql},
    {.name = "export",
     .args = "RUN [--format json|csv] [-o FILE]",
     .summary = "everything about a run: tasks, metrics, samples, GC cycles",
     .note = "Writes to standard output unless -o FILE.\n" HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_FORMAT) | A(O_OUTPUT),
     .min_args = 1, .max_args = 1, .run = cmd_export},
    {.name = "report",
     .args = "RUN [RUN_B] -o FILE.html",
     .summary = "one self-contained HTML file of charts (two runs: overlaid)",
     .note = HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_OUTPUT),
     .min_args = 1, .max_args = 2, .run = cmd_report},
    {.name = "profile",
     .args = "RUN [--task SEQ] [--at-cycle N] -o FILE",
     .summary = "a task's heap profile in pprof's format (go tool pprof FILE)",
     .note = "The last snapshot of the task's profile, or the last one taken at or before "
             "GC cycle N of its heap. --task is needed when several tasks of the run have "
             "one. " HISTORY_NOTE,
     .section = 2, .options = A(O_DB) | A(O_TASK) | A(O_AT_CYCLE) | A(O_OUTPUT),
     .min_args = 1, .max_args = 1, .run = cmd_profile},
    {.name = "leaks",
     .args = "RUN [--task SEQ] [-o FILE] | --live [RUN] [--task SEQ] [--once] [--interval T]",
     .summary = "allocation sites whose objects in use grow from GC cycle to cycle",
     .note = "From the task's heap profile snapshots (one each time its heap collected, "
             "at most once per sample interval): a site is listed when it grew by at least "
             "one sample's worth, with a positive trend, rising at least twice as often as "
             "it fell. Then why they are alive, from heap snapshots taken with the world "
             "stopped while profiling: the roots and path that hold each site's objects and "
             "the bytes retained (dominator tree); the goroutines blocked for GC cycles, "
             "grouped by where they block. -o FILE writes the retention profile (pprof; "
             "stacks are reference chains, cum = retained). --live: the growth report for a "
             "run while it runs (the newest running one unless RUN), per task running, "
             "redrawn every T (default 1s) on a terminal until the run ends; --once, or "
             "output not a terminal: one report. " HISTORY_NOTE,
     .section = 2,
     .options = A(O_DB) | A(O_TASK) | A(O_OUTPUT) | A(O_LIVE) | A(O_ONCE) | A(O_INTERVAL),
     .min_args = 0, .max_args = 1, .run = cmd_leaks},
    {.name = "top",
     .args = "HOST:PORT [--once] [--json] [--interval T]",
     .summary = "a running simulation's workers: heap, goal, GC rate, pauses, goroutines",
     .note = "Reads the coordinator's metrics endpoint (heapsim run|coordinator"
             " --metrics-addr HOST:PORT) and redraws every T (default 1s) on a terminal;"
             " with --once, or when the output is not a terminal, prints one frame; --json"
             " one frame as JSON.",
     .section = 0, .options = A(O_ONCE) | A(O_JSON) | A(O_INTERVAL),
     .min_args = 1, .max_args = 1, .run = cmd_top},
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
            /* A usage too long for the section's column: as with none. */
            if (sections[s].column && (int)strlen(usage) < sections[s].column)
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

/* The value of option `name` (as typed: "--workers") as a whole number
** from min to max into *out. false after the one-line usage error "NAME
** VALUE: expected WHAT"; what NULL says "a number from MIN to MAX". *out
** is unchanged on failure. */
static bool parse_opt_long(const char *cmd, const char *name, const char *value, long min,
                           long max, const char *what, long *out)
{
    if (parse_long(value, min, max, out))
        return true;
    if (what)
        usage_error(cmd, "%s %s: expected %s", name, value, what);
    else
        usage_error(cmd, "%s %s: expected a number from %ld to %ld", name, value, min, max);
    return false;
}

/* The same for a duration ("500ms", "5s": base/units.h) from min_ns to
** max_ns, into *ns; what says the range in the error. */
static bool parse_opt_duration(const char *cmd, const char *name, const char *value,
                               uint64_t min_ns, uint64_t max_ns, const char *what,
                               uint64_t *ns)
{
    uint64_t v;
    if (units_parse_duration_ns(value, &v) == 0 && v >= min_ns && v <= max_ns) {
        *ns = v;
        return true;
    }
    usage_error(cmd, "%s %s: expected %s", name, value, what);
    return false;
}

/* A command's RUN argument (a run id, from 1) into *run_id. false after
** the one-line usage error "RUN must be a run number, got 'ARG'". */
static bool parse_run_arg(const char *cmd, const char *arg, long *run_id)
{
    if (parse_long(arg, 1, LONG_MAX, run_id))
        return true;
    usage_error(cmd, "RUN must be a run number, got '%s'", arg);
    return false;
}

/* --since: a local date or date and time, or an age before now. */
static bool parse_since(const char *s, int64_t *unix_ns)
{
    static const char *const formats[] = {"%Y-%m-%d", "%Y-%m-%dT%H:%M",
                                          "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                                          "%Y-%m-%d %H:%M:%S"};
    char *end;
    errno = 0;
    double n = strtod(s, &end);
    if (end != s && !errno && n >= 0 && end[0] && !end[1]) {
        double unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600
                    : end[0] == 'd' ? 86400 : end[0] == 'w' ? 604800 : 0;
        if (unit > 0 && n * unit < 1e9) {
            *unix_ns = ((int64_t)time(NULL) - (int64_t)(n * unit)) * 1000000000LL;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(s, formats[i], &tm);
        if (rest && !*rest) {
            tm.tm_isdst = -1;
            time_t t = mktime(&tm);
            if (t == (time_t)-1)
                return false;
            /* Past 2262 nanoseconds overflow: no run starts that late. */
            *unix_ns = (int64_t)t > INT64_MAX / 1000000000LL
                           ? INT64_MAX : (int64_t)t * 1000000000LL;
            return true;
        }
    }
    return false;
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
    o->since_unix_ns = STORE_NONE;
    o->timeout_ms = 5000;
    o->max_value_bytes = 16 << 20;
    o->task = -1;
    o->at_cycle = -1;
    optind = 1;
    opterr = 0;
    for (;;) {
        int longindex = -1;
        /* GNU getopt permutes: options may follow the arguments. */
        int c = getopt_long(argc, argv, ":ho:", longopts, &longindex);
        if (c == -1)
            break;
        if (c == 'h')
            return PARSE_HELP;
        if (c == 'o')
            c = O_OUTPUT;
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
            if (!parse_opt_long(cmd, "--workers", optarg, 1, 1024, NULL, &o->workers))
                return EXIT_USAGE;
            break;
        case O_LIMIT:
            if (!parse_opt_long(cmd, "--limit", optarg, 1, 1000000, NULL, &o->limit))
                return EXIT_USAGE;
            break;
        case O_SCENARIO: o->scenario = optarg; break;
        case O_STATUS:
            if (strcmp(optarg, "running") && strcmp(optarg, "done") &&
                strcmp(optarg, "failed") && strcmp(optarg, "interrupted")) {
                usage_error(cmd, "--status %s: expected running, done, failed or "
                            "interrupted", optarg);
                return EXIT_USAGE;
            }
            o->status = optarg;
            break;
        case O_SINCE:
            if (!parse_since(optarg, &o->since_unix_ns)) {
                usage_error(cmd, "--since %s: expected a date (2026-11-30, "
                            "2026-11-30T14:00) or an age (90m, 24h, 7d)", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_TIMEOUT: {
            uint64_t ns;
            if (!parse_opt_duration(cmd, "--timeout", optarg, 1000000ull,
                                    3600ull * 1000000000ull,
                                    "a duration from 1ms to 1h (500ms, 5s)", &ns))
                return EXIT_USAGE;
            o->timeout_ms = (int64_t)(ns / 1000000);
            break;
        }
        case O_MAX_VALUE:
            if (units_parse_size(optarg, &o->max_value_bytes) != 0 ||
                o->max_value_bytes < 1024 || o->max_value_bytes > (1LL << 30)) {
                usage_error(cmd, "--max-value %s: expected a size from 1KiB to 1GiB",
                            optarg);
                return EXIT_USAGE;
            }
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") && strcmp(optarg, "csv")) {
                usage_error(cmd, "--format %s: expected json or csv", optarg);
                return EXIT_USAGE;
            }
            o->format = optarg;
            break;
        case O_OUTPUT:
            if (!*optarg) {
                usage_error(cmd, "-o needs a path");
                return EXIT_USAGE;
            }
            o->output = optarg;
            break;
        case O_CSV: o->csv = true; break;
        case O_JSON: o->json = true; break;
        case O_QUIET: o->quiet = true; break;
        case O_LOCAL_CHILD: o->local_child = true; break;
        case O_TASK:
            if (!parse_opt_long(cmd, "--task", optarg, 0, 1000000000,
                                "a task's SEQ (heapsim show RUN)", &o->task))
                return EXIT_USAGE;
            break;
        case O_AT_CYCLE:
            if (!parse_opt_long(cmd, "--at-cycle", optarg, 0, LONG_MAX, "a GC cycle number",
                                &o->at_cycle))
                return EXIT_USAGE;
            break;
        case O_GCTRACE:
            /* The last --set wins: the flag overrides the scenario's key. */
            if (o->nsets == MAX_SETS) {
                usage_error(cmd, "more than %d --set options", MAX_SETS);
                return EXIT_USAGE;
            }
            o->sets[o->nsets++] = "gctrace=1";
            break;
        case O_KEYS: o->keys = optarg; break;
        case O_INSECURE: o->insecure = true; break;
        case O_EXPECT_WORKERS:
            if (!parse_opt_long(cmd, "--expect-workers", optarg, 1, 100000, NULL,
                                &o->expect_workers))
                return EXIT_USAGE;
            break;
        case O_HEARTBEAT:
            if (!parse_opt_long(cmd, "--heartbeat", optarg, 10, 600000,
                                "milliseconds from 10 to 600000", &o->heartbeat_ms))
                return EXIT_USAGE;
            break;
        case O_MISSES:
            if (!parse_opt_long(cmd, "--misses", optarg, 1, 100, NULL, &o->misses))
                return EXIT_USAGE;
            break;
        case O_PROCS:
            if (!parse_opt_long(cmd, "--procs", optarg, 1, 1024, NULL, &o->procs))
                return EXIT_USAGE;
            break;
        case O_RESUME:
            if (!parse_opt_long(cmd, "--resume", optarg, 1, LONG_MAX, "a run id", &o->resume))
                return EXIT_USAGE;
            break;
        case O_METRICS_ADDR:
            if (!*optarg) {
                usage_error(cmd, "--metrics-addr needs HOST:PORT (127.0.0.1:9100)");
                return EXIT_USAGE;
            }
            o->metrics_addr = optarg;
            break;
        case O_ONCE: o->once = true; break;
        case O_LIVE: o->live = true; break;
        case O_INTERVAL: {
            uint64_t ns;
            if (!parse_opt_duration(cmd, "--interval", optarg, 100000000ull,
                                    3600ull * 1000000000ull,
                                    "a duration from 100ms to 1h (2s)", &ns))
                return EXIT_USAGE;
            o->interval_ms = (long)(ns / 1000000);
            break;
        }
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
    if (o->json && o->csv) {
        usage_error(cmd, "--json and --csv: choose one");
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
        .command_line = cmdline, .metrics_addr = o->metrics_addr,
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

static render_format_t out_format(const opts_t *o)
{
    return o->json ? RENDER_JSON : o->csv ? RENDER_CSV : RENDER_TEXT;
}

static int cmd_runs(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_runs_filter_t filter = {
        .scenario = o->scenario, .status = o->status,
        .since_unix_ns = o->since_unix_ns, .limit = (int)o->limit,
    };
    store_run_info_t *runs;
    size_t n;
    store_t *st;
    int rc = open_history(cmd->name, o, &st);
    if (rc)
        return rc;
    rc = store_runs_read(st, &filter, &runs, &n);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
        store_close(&st);
        return 1;
    }
    store_close(&st);
    rc = render_runs(stdout, runs, n, out_format(o));
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rc));
    store_runs_free(&runs, n);
    return rc ? 1 : 0;
}

/* RUN or RUN:POINT into *run_id and *point (NULL when none; points into
** arg). false after printing the reason. */
static bool parse_run_ref(const char *cmd, const char *arg, long *run_id,
                          const char **point, char *buf, size_t size)
{
    const char *colon = strchr(arg, ':');
    snprintf(buf, size, "%.*s", colon ? (int)(colon - arg) : (int)strlen(arg), arg);
    *point = colon ? colon + 1 : NULL;
    if (!parse_long(buf, 1, LONG_MAX, run_id) || (colon && !colon[1])) {
        usage_error(cmd, "'%s': expected a run number, or RUN:POINT", arg);
        return false;
    }
    return true;
}

/* Read run_id into *view; prints why not. Exit status, 0 on success. */
static int read_run(const char *cmd, const opts_t *o, store_t *st, long run_id,
                    store_run_view_t **view)
{
    int rc = store_run_read(st, run_id, view);
    if (rc == STORE_ENOTFOUND) {
        fprintf(stderr, "%s %s: no run %ld in %s\n", progname, cmd, run_id, o->db);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, store_errmsg(st));
        return 1;
    }
    return 0;
}

static int cmd_show(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_run_view_t *view;
    store_t *st;
    long run_id;
    int rc;
    if (!parse_run_arg(cmd->name, o->args[0], &run_id))
        return EXIT_USAGE;
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    rc = read_run(cmd->name, o, st, run_id, &view);
    store_close(&st);
    if (rc)
        return rc;
    rc = render_show(stdout, view, out_format(o));
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rc));
    store_run_view_free(&view);
    return rc ? 1 : 0;
}

static int cmd_compare(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_run_view_t *va = NULL, *vb = NULL;
    const char *pa, *pb;
    char ba[64], bb[64], err[512];
    long ra, rb;
    store_t *st;
    int rc;
    if (!parse_run_ref(cmd->name, o->args[0], &ra, &pa, ba, sizeof ba) ||
        !parse_run_ref(cmd->name, o->args[1], &rb, &pb, bb, sizeof bb))
        return EXIT_USAGE;
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    rc = read_run(cmd->name, o, st, ra, &va);
    if (rc == 0)
        rc = read_run(cmd->name, o, st, rb, &vb);
    store_close(&st);
    if (rc == 0) {
        render_side_t a = {va, pa}, b = {vb, pb};
        rc = render_compare(stdout, &a, &b, out_format(o), err, sizeof err);
        if (rc == RENDER_EUSAGE) {
            fprintf(stderr, "%s %s: %s\n", progname, cmd->name, err);
            rc = EXIT_USAGE;
        } else if (rc != 0) {
            fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rc));
            rc = 1;
        }
    }
    store_run_view_free(&vb);
    store_run_view_free(&va);
    return rc;
}

/* The query's rows, as storage steps them, through render. Nothing is
** printed when the statement fails before its first row. Exit status. */
static int cmd_sql(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_query_opts_t qo = {
        .timeout_ms = o->timeout_ms,
        .max_value_bytes = o->max_value_bytes,
    };
    store_query_t *q = NULL;
    render_rows_t *rows = NULL;
    const store_value_t *values;
    const char **names = NULL;
    store_t *st;
    int src, rrc = 0;
    int rc = open_history(cmd->name, o, &st);
    if (rc)
        return rc;
    if ((src = store_query_open(st, o->args[0], &qo, &q)) == 0 &&
        (src = store_query_step(q, &values)) >= 0) {
        size_t ncols = store_query_columns(q);
        names = calloc(ncols ? ncols : 1, sizeof *names);
        for (size_t col = 0; names && col < ncols; col++)
            names[col] = store_query_column_name(q, col);
        rrc = names ? render_rows_new(stdout, out_format(o), names, ncols, &rows)
                    : RENDER_ENOMEM;
        while (rrc == 0 && src == 1 && (rrc = render_rows_add(rows, values)) == 0)
            src = store_query_step(q, &values);
        if (rrc == 0 && src == 0)
            rrc = render_rows_end(rows);
    }
    render_rows_destroy(&rows);
    if (src < 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
    else if (rrc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rrc));
    free(names);
    store_query_close(&q);
    store_close(&st);
    if (src < 0)
        return src == STORE_EUSAGE ? EXIT_USAGE : 1;
    return rrc == 0 ? 0 : rrc == RENDER_ETOOBIG ? EXIT_USAGE : 1;
}

/* ---- output files ------------------------------------------------------- */

/* An output file written whole or not at all: a temporary file beside
** path, renamed over it only when everything was written. */
typedef struct out_file {
    const char *path;
    char *tmp;
    FILE *f;
} out_file_t;

/* Open a temporary beside path. Exit status, 0 on success (prints why
** not: a directory that does not exist or cannot be written). */
static int out_open(const char *cmd, const char *path, out_file_t *of)
{
    struct stat sb;
    memset(of, 0, sizeof *of);
    of->path = path;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "%s %s: cannot write %s: it is a directory\n", progname, cmd, path);
        return EXIT_USAGE;
    }
    if (asprintf(&of->tmp, "%s.tmp.XXXXXX", path) < 0) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd);
        return 1;
    }
    int fd = mkstemp(of->tmp);
    if (fd < 0 || !(of->f = fdopen(fd, "w"))) {
        fprintf(stderr, "%s %s: cannot write %s: %s\n", progname, cmd, path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(of->tmp);
        }
        free(of->tmp);
        of->tmp = NULL;
        return EXIT_USAGE;
    }
    fchmod(fd, 0644);
    return 0;
}

/* Finish: rename over path when ok, else remove the temporary. Exit
** status: 0, or 1 when the file could not be completed. */
static int out_close(const char *cmd, out_file_t *of, bool ok)
{
    int rc = 0;
    if (!of->f)
        return 0;
    if (fflush(of->f) != 0 || ferror(of->f) || fsync(fileno(of->f)) != 0) {
        if (ok)
            fprintf(stderr, "%s %s: cannot write %s: %s\n", progname, cmd, of->path,
                    strerror(errno ? errno : EIO));
        ok = false;
    }
    fclose(of->f);
    of->f = NULL;
    if (ok && rename(of->tmp, of->path) != 0) {
        fprintf(stderr, "%s %s: cannot write %s: %s\n", progname, cmd, of->path,
                strerror(errno));
        ok = false;
    }
    if (!ok) {
        unlink(of->tmp);
        rc = 1;
    }
    free(of->tmp);
    of->tmp = NULL;
    return rc;
}

static int cmd_export(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_run_view_t *view;
    store_task_series_t *series = NULL;
    out_file_t of = {0};
    store_t *st;
    long run_id;
    int rc;
    if (!parse_run_arg(cmd->name, o->args[0], &run_id))
        return EXIT_USAGE;
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    if ((rc = read_run(cmd->name, o, st, run_id, &view))) {
        store_close(&st);
        return rc;
    }
    series = calloc(view->ntasks ? view->ntasks : 1, sizeof *series);
    if (!series) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
        rc = 1;
        goto out_free;
    }
    for (size_t i = 0; i < view->ntasks; i++) {
        if (store_task_series_read(st, view->tasks[i].task_id, 0, &series[i]) != 0) {
            fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
            rc = 1;
            goto out_free;
        }
    }
    if (o->output && (rc = out_open(cmd->name, o->output, &of)))
        goto out_free;
    rc = render_export(of.f ? of.f : stdout, view, series,
                       o->format && !strcmp(o->format, "csv") ? RENDER_CSV : RENDER_JSON);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rc));
    rc = out_close(cmd->name, &of, rc == 0) || rc ? 1 : 0;
out_free:
    for (size_t i = 0; series && i < view->ntasks; i++)
        store_task_series_clear(&series[i]);
    free(series);
    store_run_view_free(&view);
    store_close(&st);
    return rc;
}

/* Points of a chart per task series: enough for a smooth line on a
** 1000-pixel chart, few enough that a run of millions of samples answers
** at once (one index seek each). */
#define REPORT_SERIES_ROWS 600

static int cmd_report(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    render_report_run_t runs[2] = {{0}};
    store_run_view_t *views[2] = {NULL, NULL};
    store_task_series_t *series[2] = {NULL, NULL};
    out_file_t of = {0};
    long run_ids[2];
    store_t *st;
    int rc = 0;
    size_t nruns = (size_t)o->nargs;
    if (!o->output) {
        usage_error(cmd->name, "-o FILE.html is required");
        return EXIT_USAGE;
    }
    for (size_t r = 0; r < nruns; r++)
        if (!parse_run_arg(cmd->name, o->args[r], &run_ids[r]))
            return EXIT_USAGE;
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    for (size_t r = 0; r < nruns && rc == 0; r++) {
        if ((rc = read_run(cmd->name, o, st, run_ids[r], &views[r])))
            break;
        series[r] = calloc(views[r]->npoints ? views[r]->npoints : 1, sizeof *series[r]);
        if (!series[r]) {
            fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
            rc = 1;
            break;
        }
        /* Per point, the series of its first task done (else its first). */
        for (size_t p = 0; p < views[r]->npoints && rc == 0; p++) {
            const store_point_view_t *pt = &views[r]->points[p];
            const store_task_view_t *pick = NULL;
            for (size_t k = 0; k < pt->ntasks && !pick; k++) {
                const store_task_view_t *t = &views[r]->tasks[pt->tasks[k]];
                if (t->status && !strcmp(t->status, "done"))
                    pick = t;
            }
            if (!pick && pt->ntasks)
                pick = &views[r]->tasks[pt->tasks[0]];
            if (pick && store_task_series_read(st, pick->task_id, REPORT_SERIES_ROWS,
                                               &series[r][p]) != 0) {
                fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
                rc = 1;
            }
        }
        runs[r].run = views[r];
        runs[r].series = series[r];
    }
    store_close(&st);
    if (rc == 0 && (rc = out_open(cmd->name, o->output, &of)) == 0) {
        rc = render_html(of.f, runs, nruns);
        if (rc != 0)
            fprintf(stderr, "%s %s: %s\n", progname, cmd->name, render_strerror(rc));
        rc = out_close(cmd->name, &of, rc == 0) || rc ? 1 : 0;
        if (rc == 0)
            fprintf(stderr, "wrote %s\n", o->output);
    }
    for (size_t r = 0; r < nruns; r++) {
        for (size_t p = 0; series[r] && views[r] && p < views[r]->npoints; p++)
            store_task_series_clear(&series[r][p]);
        free(series[r]);
        store_run_view_free(&views[r]);
    }
    return rc;
}

/* ---- profile ----------------------------------------------------------- */

/* A site as `heapsim profile` lists it: scaled as pprof shows it. */
typedef struct shown_site {
    const char *name;
    int64_t inuse_bytes, alloc_bytes;
} shown_site_t;

static int by_inuse_bytes(const void *a, const void *b)
{
    const shown_site_t *x = a, *y = b;
    if (x->inuse_bytes != y->inuse_bytes)
        return x->inuse_bytes < y->inuse_bytes ? 1 : -1;
    return x->alloc_bytes < y->alloc_bytes ? 1 : x->alloc_bytes > y->alloc_bytes ? -1 : 0;
}

/* What was written, and the sites by estimated bytes in use, as
** `go tool pprof -top` shows them. */
static void print_profile(const char *path, const char *comment, const profile_heap_t *ph)
{
    shown_site_t *shown = calloc(ph->nsites ? ph->nsites : 1, sizeof *shown);
    printf("%s: %s, %zu site%s, 1 sample per %lld B\n", path, comment, ph->nsites,
           ph->nsites == 1 ? "" : "s", (long long)ph->rate);
    if (!shown)
        return;
    for (size_t i = 0; i < ph->nsites; i++) {
        const profile_site_t *s = &ph->sites[i];
        int64_t count;
        shown[i].name = s->name;
        profile_scale(s->inuse_objects, s->inuse_bytes, ph->rate, &count, &shown[i].inuse_bytes);
        profile_scale(s->alloc_objects, s->alloc_bytes, ph->rate, &count, &shown[i].alloc_bytes);
    }
    qsort(shown, ph->nsites, sizeof *shown, by_inuse_bytes);
    printf("  %12s %12s  %s\n", "inuse_space", "alloc_space", "site");
    for (size_t i = 0; i < ph->nsites; i++)
        printf("  %10.2fMB %10.2fMB  %s\n", (double)shown[i].inuse_bytes / (1 << 20),
               (double)shown[i].alloc_bytes / (1 << 20), shown[i].name);
    free(shown);
}

static int cmd_profile(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    store_t *st;
    store_profile_t sp;
    long run_id;
    int rc;
    if (!parse_run_arg(cmd->name, o->args[0], &run_id))
        return EXIT_USAGE;
    if (!o->output) {
        usage_error(cmd->name, "-o FILE is required (e.g. -o heap.pb.gz)");
        return EXIT_USAGE;
    }
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    rc = store_profile_load(st, run_id, o->task, o->at_cycle, &sp);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
        store_close(&st);
        return rc == STORE_ENOTFOUND || rc == STORE_EUSAGE ? EXIT_USAGE : 1;
    }
    store_close(&st);

    profile_site_t *sites = calloc(sp.nsites ? sp.nsites : 1, sizeof *sites);
    if (!sites) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
        store_profile_free(&sp);
        return 1;
    }
    for (size_t i = 0; i < sp.nsites; i++)
        sites[i] = (profile_site_t){
            .name = sp.sites[i].site,
            .alloc_objects = sp.sites[i].alloc_objects, .alloc_bytes = sp.sites[i].alloc_bytes,
            .inuse_objects = sp.sites[i].inuse_objects, .inuse_bytes = sp.sites[i].inuse_bytes,
        };
    char comment[128];
    snprintf(comment, sizeof comment, "heapsim run %ld task %lld, GC cycle %lld%s", run_id,
             (long long)sp.seq, (long long)sp.cycle, sp.final ? " (end of task)" : "");
    profile_heap_t ph = {
        .rate = sp.rate, .time_unix_ns = clock_unix_ns(), .comment = comment,
        .sites = sites, .nsites = sp.nsites,
    };
    rc = profile_heap_write(&ph, o->output);
    if (rc != 0)
        fprintf(stderr, "%s %s: %s: %s\n", progname, cmd->name, o->output,
                profile_strerror(rc));
    else
        print_profile(o->output, comment, &ph);
    free(sites);
    store_profile_free(&sp);
    return rc == 0 ? 0 : 1;
}

/* ---- leaks ------------------------------------------------------------- */

static int cmd_leaks_live(const command_t *cmd, const opts_t *o)
{
    long run_id = 0;
    if (o->nargs && !parse_run_arg(cmd->name, o->args[0], &run_id))
        return EXIT_USAGE;
    live_opts_t lo = {.progname = progname, .once = o->once, .interval_ms = (int)o->interval_ms};
    return live_leaks(&lo, o->db, run_id, o->task);
}

static int cmd_top(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    live_opts_t lo = {.progname = progname, .once = o->once, .json = o->json,
                      .interval_ms = (int)o->interval_ms};
    return live_top(&lo, o->args[0]);
}

/* bytes in the largest unit that keeps a digit before the point. */
static const char *human_bytes(int64_t bytes, char *buf, size_t size)
{
    if (bytes >= (int64_t)1 << 30)
        snprintf(buf, size, "%.2f GiB", (double)bytes / (double)(1 << 30));
    else if (bytes >= 1 << 20)
        snprintf(buf, size, "%.2f MiB", (double)bytes / (double)(1 << 20));
    else if (bytes >= 1 << 10)
        snprintf(buf, size, "%.1f KiB", (double)bytes / 1024.0);
    else
        snprintf(buf, size, "%lld B", (long long)bytes);
    return buf;
}

/* The snapshot (and its row) where `site` is held with the most bytes
** retained; NULL if no snapshot holds it. */
static const store_retention_site_t *best_site(const store_retention_t *snaps, size_t n,
                                               const char *site, const store_retention_t **snap)
{
    const store_retention_site_t *best = NULL;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < snaps[k].nsites; i++) {
            const store_retention_site_t *s = &snaps[k].sites[i];
            if (strcmp(s->site, site) == 0 &&
                (!best || s->holder_retained_bytes >= best->holder_retained_bytes)) {
                best = s;
                *snap = &snaps[k];
            }
        }
    return best;
}

static void print_site_retention(const store_retention_t *snap, const store_retention_site_t *s)
{
    char a[32], b[32];
    printf("\n  %s: %lld of its %lld sampled object%s held by %lld root%s \"%s\" "
           "(GC cycle %lld%s)\n",
           s->site, (long long)s->objects, (long long)s->site_objects,
           s->site_objects == 1 ? "" : "s", (long long)s->roots, s->roots == 1 ? "" : "s",
           s->root_group, (long long)snap->cycle, snap->final ? ", main returned" : "");
    if (strcmp(s->holder, s->root_group) == 0)   /* no one object holds them all */
        printf("    retained: %s by those objects; %s by all the roots of that group\n",
               human_bytes(s->retained_bytes, a, sizeof a),
               human_bytes(s->holder_retained_bytes, b, sizeof b));
    else
        printf("    retained: %s by those objects; %s by \"%s\", which dominates them\n",
               human_bytes(s->retained_bytes, a, sizeof a),
               human_bytes(s->holder_retained_bytes, b, sizeof b), s->holder);
    printf("    path from a root to the one retaining most:\n");
    const char *line = s->path;
    while (*line) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        printf("      %.*s\n", len, line);
        line += len + (end ? 1 : 0);
    }
}

/* `heapsim leaks`' second half: why the growing sites' objects are alive
** (largest first), the goroutines blocked for GC cycles, and with -o the
** retention profile of the snapshot that reached most bytes. */
static int print_retention(const command_t *cmd, store_t *st, long run_id, int64_t seq,
                           const profile_leak_t *leaks, size_t nleaks, const char *output)
{
    store_retention_t *snaps = NULL;
    size_t n = 0;
    char a[32];
    int rc = store_retention_load(st, run_id, seq, &snaps, &n);
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name, store_errmsg(st));
        return rc == STORE_ENOTFOUND ? EXIT_USAGE : 1;
    }
    if (n == 0) {
        printf("\n  no heap snapshot of this task (they are taken while its heap profile is on)\n");
        if (output) {
            fprintf(stderr, "%s %s: -o %s: no retention profile to write\n", progname,
                    cmd->name, output);
            return EXIT_USAGE;
        }
        return 0;
    }
    const store_retention_t *biggest = &snaps[0];
    for (size_t k = 1; k < n; k++)
        if (snaps[k].bytes >= biggest->bytes)
            biggest = &snaps[k];
    printf("\nWhy they are alive: %zu heap snapshot%s taken with the world stopped; the "
           "largest at GC cycle %lld: %lld objects, %s reachable, world stopped %.1f ms\n",
           n, n == 1 ? "" : "s", (long long)biggest->cycle, (long long)biggest->objects,
           human_bytes(biggest->bytes, a, sizeof a), (double)biggest->pause_ns / 1e6);

    /* The growing sites by bytes in use at the last snapshot, largest first. */
    size_t *order = calloc(nleaks ? nleaks : 1, sizeof *order);
    if (!order) {
        store_retention_free(snaps, n);
        return 1;
    }
    for (size_t i = 0; i < nleaks; i++) {
        size_t j = i;
        while (j > 0 && leaks[order[j - 1]].last_bytes < leaks[i].last_bytes) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    size_t shown = 0;
    for (size_t i = 0; i < nleaks && shown < 5; i++) {
        const store_retention_t *snap = NULL;
        const store_retention_site_t *s = best_site(snaps, n, leaks[order[i]].site, &snap);
        if (!s)
            continue;
        print_site_retention(snap, s);
        shown++;
    }
    if (nleaks > 0 && shown == 0)
        printf("\n  no snapshot holds an object of the growing sites\n");
    /* The sites the largest snapshot holds most of, those not shown above:
    ** with no trend to go by the only ones, and otherwise a leak whose few
    ** samples did not grow between profiles (one per 512 KiB by default)
    ** is still named by what it retains, which the walk counts exactly. */
    bool header = false;
    for (size_t i = 0, more = 0; i < biggest->nsites && more < 3; i++) {   /* by retained */
        const store_retention_site_t *s = &biggest->sites[i];
        bool growing = false;
        for (size_t j = 0; j < nleaks && !growing; j++)
            growing = strcmp(leaks[j].site, s->site) == 0;
        if (growing)
            continue;
        if (!header) {
            if (nleaks == 0)
                printf("\n  no growing site to explain; the sites retaining most at GC cycle "
                       "%lld:\n", (long long)biggest->cycle);
            else
                printf("\n  and the sites retaining most at GC cycle %lld that did not grow in "
                       "the profile:\n", (long long)biggest->cycle);
            header = true;
        }
        print_site_retention(biggest, s);
        more++;
    }
    free(order);

    /* Goroutines blocked for cycles: the last snapshot's groups. */
    const store_retention_t *last = &snaps[n - 1];
    if (last->nleaks == 0) {
        printf("\n  no goroutine blocked for %lld GC cycles or more (GC cycle %lld%s)\n",
               (long long)last->min_cycles, (long long)last->cycle,
               last->final ? ", main returned" : "");
    } else {
        int64_t total = 0;
        for (size_t i = 0; i < last->nleaks; i++)
            total += last->leaks[i].count;
        printf("\nGoroutines blocked for %lld GC cycles or more: %lld (GC cycle %lld%s)\n",
               (long long)last->min_cycles, (long long)total, (long long)last->cycle,
               last->final ? ", main returned" : "");
        printf("  %8s  %-32s %-24s %s\n", "COUNT", "WHERE (goroutine label)", "WAIT REASON",
               "GC CYCLES BLOCKED");
        for (size_t i = 0; i < last->nleaks; i++) {
            const store_goroutine_leak_t *l = &last->leaks[i];
            printf("  %8lld  %-32s %-24s %lld..%lld\n", (long long)l->count, l->label,
                   l->reason, (long long)l->min_cycles, (long long)l->max_cycles);
        }
    }

    rc = 0;
    if (output) {
        FILE *fp = fopen(output, "wb");
        if (!fp || fwrite(biggest->pprof, 1, biggest->pprof_len, fp) != biggest->pprof_len) {
            fprintf(stderr, "%s %s: %s: %s\n", progname, cmd->name, output, strerror(errno));
            rc = 1;
        }
        if (fp && fclose(fp) != 0 && rc == 0) {
            fprintf(stderr, "%s %s: %s: %s\n", progname, cmd->name, output, strerror(errno));
            rc = 1;
        }
        if (rc == 0)
            printf("\nWrote %s: the retention profile of GC cycle %lld (go tool pprof -top %s: "
                   "cum = bytes retained)\n", output, (long long)biggest->cycle, output);
    }
    store_retention_free(snaps, n);
    return rc;
}

static int cmd_leaks(const command_t *cmd, const opts_t *o, int argc, char **argv)
{
    if (o->live && o->output) {
        usage_error(cmd->name, "-o goes with a stored run, not --live");
        return EXIT_USAGE;
    }
    if (o->live)
        return cmd_leaks_live(cmd, o);
    if (o->once || o->interval_ms) {
        usage_error(cmd->name, "--once and --interval go with --live");
        return EXIT_USAGE;
    }
    if (o->nargs == 0) {
        usage_error(cmd->name, "missing argument");
        return EXIT_USAGE;
    }
    store_t *st;
    long run_id;
    int64_t *cycles = NULL, seq = -1, rate = 0;
    size_t ncycles = 0, nloaded = 0;
    store_profile_t *loaded = NULL;
    profile_site_t **sites = NULL;
    profile_snapshot_t *snaps = NULL;
    int rc;
    if (!parse_run_arg(cmd->name, o->args[0], &run_id))
        return EXIT_USAGE;
    if ((rc = open_history(cmd->name, o, &st)))
        return rc;
    rc = store_profile_cycles(st, run_id, o->task, &cycles, &ncycles, &seq);
    if (rc == 0) {
        loaded = calloc(ncycles, sizeof *loaded);
        sites = calloc(ncycles, sizeof *sites);
        snaps = calloc(ncycles, sizeof *snaps);
        if (!loaded || !sites || !snaps)
            rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < ncycles; i++) {
        rc = store_profile_load(st, run_id, seq, cycles[i], &loaded[i]);
        if (rc != 0)
            break;
        nloaded++;
        rate = loaded[i].rate;
        sites[i] = calloc(loaded[i].nsites ? loaded[i].nsites : 1, sizeof **sites);
        if (!sites[i]) {
            rc = -ENOMEM;
            break;
        }
        for (size_t k = 0; k < loaded[i].nsites; k++) {
            const store_profile_site_t *s = &loaded[i].sites[k];
            sites[i][k] = (profile_site_t){ s->site, s->alloc_objects, s->alloc_bytes,
                                            s->inuse_objects, s->inuse_bytes };
        }
        snaps[i] = (profile_snapshot_t){ cycles[i], sites[i], loaded[i].nsites };
    }
    if (rc != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd->name,
                rc == -ENOMEM ? "out of memory" : store_errmsg(st));
        rc = rc == STORE_ENOTFOUND || rc == STORE_EUSAGE ? EXIT_USAGE : 1;
        goto out_free;
    }

    profile_leak_t *leaks = NULL;
    size_t nleaks = 0;
    printf("run %ld task %lld: %zu heap profile snapshot%s, GC cycles %lld..%lld, "
           "1 sample per %lld B\n", run_id, (long long)seq, ncycles, ncycles == 1 ? "" : "s",
           (long long)cycles[0], (long long)cycles[ncycles - 1], (long long)rate);
    if (ncycles < PROFILE_LEAKS_MIN_SNAPSHOTS) {
        printf("  too few snapshots to see a trend (at least %d; a shorter sample_interval "
               "or a longer task gives more)\n", PROFILE_LEAKS_MIN_SNAPSHOTS);
    } else if (profile_find_leaks(snaps, ncycles, rate, &leaks, &nleaks) != 0) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd->name);
        rc = 1;
        goto out_free;
    } else if (nleaks == 0) {
        printf("  no site's objects in use grow across the snapshots\n");
    } else {
        printf("  %-32s %22s %14s %8s\n", "SITE (objects in use growing)", "IN USE FIRST -> LAST",
               "PER GC CYCLE", "UP/DOWN");
    }
    for (size_t i = 0; i < nleaks; i++) {
        char span[64];
        snprintf(span, sizeof span, "%.2fMB -> %.2fMB", (double)leaks[i].first_bytes / (1 << 20),
                 (double)leaks[i].last_bytes / (1 << 20));
        printf("  %-32s %22s %11.1fKB %5d/%d\n", leaks[i].site, span,
               leaks[i].bytes_per_cycle / 1024.0, leaks[i].rises, leaks[i].falls);
    }
    rc = print_retention(cmd, st, run_id, seq, leaks, nleaks, o->output);
    free(leaks);
out_free:
    for (size_t i = 0; i < nloaded; i++) {
        free(sites[i]);
        store_profile_free(&loaded[i]);
    }
    free(snaps);
    free(sites);
    free(loaded);
    free(cycles);
    store_close(&st);
    return rc;
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
    char why[256];
    if (strcmp(cmd->name, "help") != 0 && heap_env_check(why, sizeof why) != 0) {
        /* Every heap the command would open refuses it: said once, here. */
        fprintf(stderr, "%s: %s\n", progname, why);
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
