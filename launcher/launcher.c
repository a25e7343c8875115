/*
** launcher/launcher.c -- a run from this host (see launcher.h).
**
** The local workers are this host's child processes, each in its own
** process group (Ctrl-C reaches the coordinator, which stops the run; the
** launcher then stops them). pids[i] is worker i's pid, 0 once reaped. The
** coordinator learns of a dead one through the supervise hook.
*/
#include "launcher/launcher.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/proc.h"
#include "catalog/catalog.h"
#include "coordinator/coord.h"
#include "metrics/metrics.h"
#include "keys/keys.h"
#include "plan/plan.h"
#include "render/render.h"
#include "scenario/scenario.h"
#include "shm_heap/heap.h"
#include "storage/store.h"

static const char *progname = "heapsim";

/* The local workers and the progress line: the coordinator's hooks. */
typedef struct launch {
    pid_t *pids;                 /* nworkers; 0 once reaped */
    int nworkers;
    FILE *progress;              /* NULL: no progress line */
} launch_t;

/* ---- The summary --------------------------------------------------------- */

/* The run as `heapsim show RUN` (or `show RUN --json`) prints it, on
** stdout: one read model, one renderer. Says on stderr why not. */
static void print_summary(store_t *st, const char *cmd, int64_t run_id, bool json)
{
    store_run_view_t *view;
    int rc;

    if (store_run_read(st, run_id, &view) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, store_errmsg(st));
        return;
    }
    rc = render_show(stdout, view, json ? RENDER_JSON : RENDER_TEXT);
    if (rc != 0)
        fprintf(stderr, "%s %s: the summary: %s\n", progname, cmd, render_strerror(rc));
    store_run_view_free(&view);
}

/* ---- The run's token and what is stored with it ------------------------ */

static void make_token(char *buf, size_t size)
{
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        uint64_t x = (uint64_t)clock_unix_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(raw, &x, sizeof raw);
    }
    snprintf(buf, size, "%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1], raw[2],
             raw[3], raw[4], raw[5], raw[6], raw[7]);
}

static char *settings_json(const scenario_t *scn, const launcher_opts_t *o)
{
    json_object *root = json_object_new_object();
    char *rt = scenario_runtime_json(&scn->runtime);
    json_object_object_add(root, "runtime", rt ? json_tokener_parse(rt) : NULL);
    free(rt);
    json_object *sets = json_object_new_array();
    for (size_t i = 0; i < o->nsets; i++)
        json_object_array_add(sets, json_object_new_string(o->sets[i]));
    json_object_object_add(root, "sets", sets);
    json_object_object_add(root, "repeat", json_object_new_int64(scn->repeat));
    json_object_object_add(root, "seed", json_object_new_int64((int64_t)scn->seed));
    json_object_object_add(root, "sample_interval_ns",
                           json_object_new_int64((int64_t)scn->sample_interval_ns));
    char *s = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return s;
}

/* The run and its tasks in one transaction; each task's id into the plan.
** Returns 0, or -1 after saying why. */
static int store_plan(store_t *st, const launcher_opts_t *o, const store_run_t *run,
                      plan_t *plan, int64_t *run_id)
{
    if (store_begin(st) != 0 || store_run_insert(st, run, run_id) != 0)
        goto out_db_error;
    for (size_t i = 0; i < plan_ntasks(plan); i++) {
        const scn_task_t *t = plan_task(plan, i)->scn;
        char *pj = kparams_json(&t->params);
        char *rj = scenario_runtime_json(&t->runtime);
        int64_t id = 0;
        store_task_t stt = {
            .run_id = *run_id, .seq = t->seq, .kernel = t->params.kernel->name,
            .params_json = pj, .runtime_json = rj, .label = t->label,
            .sweep_point = t->sweep_point, .repeat_index = t->repeat_index,
            .seed = t->seed,
        };
        int trc = pj && rj ? store_task_insert(st, &stt, &id) : -ENOMEM;
        free(pj);
        free(rj);
        if (trc != 0)
            goto out_db_error;
        if ((trc = plan_set_task_id(plan, i, id)) != 0) {
            fprintf(stderr, "%s %s: %s: task %zu: %s\n", progname, o->cmd, o->db, i,
                    plan_strerror(trc));
            return -1;
        }
    }
    if (store_commit(st) != 0)
        goto out_db_error;
    return 0;

out_db_error:
    fprintf(stderr, "%s %s: %s: %s\n", progname, o->cmd, o->db, store_errmsg(st));
    return -1;
}

/* ---- Local workers ----------------------------------------------------- */

/* Start the local workers: `exe worker --connect ep [--keys DIR]`. Returns
** 0, or -errno with the workers started so far in l->pids. */
static int spawn_workers(launch_t *l, const char *worker_exe, const char *ep,
                         const char *keys_dir)
{
    char exe[PATH_MAX];
    if (worker_exe) {
        snprintf(exe, sizeof exe, "%s", worker_exe);
    } else {
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0)
            return -errno;
        exe[len] = '\0';
    }
    for (int i = 0; i < l->nworkers; i++) {
        char name[64];
        pid_t pid = fork();
        if (pid < 0)
            return -errno;
        if (pid == 0) {
            snprintf(name, sizeof name, "local-%d", i);
            /* Ctrl-C goes to the coordinator, which stops the workers. */
            setpgid(0, 0);
            if (keys_dir)
                execl(exe, "heapsim", "worker", "--connect", ep, "--name", name,
                      "--local-child", "--keys", keys_dir, (char *)NULL);
            else
                execl(exe, "heapsim", "worker", "--connect", ep, "--name", name,
                      "--local-child", (char *)NULL);
            fprintf(stderr, "heapsim: cannot start a worker: %s\n", strerror(errno));
            _exit(127);
        }
        l->pids[i] = pid;
    }
    return 0;
}

static void stop_workers(launch_t *l)
{
    pid_t *pids = l->pids;
    int n = l->nworkers;
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    /* Give them a moment to leave their heaps, then insist. */
    for (int tries = 0; tries < 50; tries++) {
        bool any = false;
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            if (waitpid(pids[i], NULL, WNOHANG) == 0)
                any = true;
            else
                pids[i] = 0;
        }
        if (!any)
            return;
        usleep(20000);
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
}

/* The coordinator's supervise hook: reap the workers that exited, tell the
** coordinator, and say how many are left. */
static int supervise_workers(coord_t *c, void *arg)
{
    launch_t *l = arg;
    int alive = 0;
    if (l->nworkers == 0)
        return -1;
    for (int i = 0; i < l->nworkers; i++) {
        int status;
        if (l->pids[i] <= 0)
            continue;
        if (waitpid(l->pids[i], &status, WNOHANG) <= 0) {
            alive++;
            continue;
        }
        char why[256];
        if (WIFSIGNALED(status))
            snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        else
            snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(status));
        coord_worker_exited(c, l->pids[i], why);
        l->pids[i] = 0;
    }
    return alive;
}

/* Remove the run's heaps on this host, should a worker have died holding
** one. */
static void unlink_run_heaps(const plan_t *plan)
{
    for (size_t h = 0; h < plan_nheaps(plan); h++) {
        char name[256];
        if (heap_segment_name(plan_heap_key(plan, h), name, sizeof name))
            heap_unlink(name);
    }
}

/* ---- The progress line ------------------------------------------------- */

static void show_progress(const coord_progress_t *p, bool final, void *arg)
{
    launch_t *l = arg;
    fprintf(l->progress,
            "\r\033[K  run %lld: %zu/%zu tasks done, %zu running, %zu failed | %d workers"
            " | heap %.1f MiB | %lld GC | %.1f s",
            (long long)p->run_id, p->nfinished, p->ntasks, p->nrunning, p->nfailed,
            p->nworkers, (double)p->heap_inuse_bytes / 1048576.0,
            (long long)p->gc_cycles, (double)p->elapsed_ns / 1e9);
    if (final)
        fputs("\n", l->progress);
    fflush(l->progress);
}

/* ---- The run ----------------------------------------------------------- */

/* ---- Resuming a run ---------------------------------------------------- */

/* Open the database and rebuild run `id`'s scenario from its stored text
** and --set overrides. Returns 0, or a LAUNCHER_EXIT_* status after saying
** why (*st_p then NULL). */
static int load_resumed(const launcher_opts_t *o, store_t **st_p, store_resume_t *r,
                        scenario_t **scn_p)
{
    char err[1024], path[] = "/tmp/heapsim-resume-XXXXXX.yaml";
    const char *sets[64];
    size_t nsets = 0;
    int status = LAUNCHER_EXIT_USAGE;

    if (access(o->db, F_OK) != 0) {
        fprintf(stderr, "%s %s: no database at %s\n", progname, o->cmd, o->db);
        return LAUNCHER_EXIT_USAGE;
    }
    if (store_open(o->db, 0, st_p, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, o->cmd, err);
        return LAUNCHER_EXIT_USAGE;
    }
    if (store_resume_load(*st_p, o->resume_run_id, r) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, o->cmd, store_errmsg(*st_p));
        goto out_close;
    }
    if (strcmp(r->status, "done") == 0) {
        fprintf(stderr, "%s %s: run %lld is done: nothing to resume\n", progname, o->cmd,
                (long long)o->resume_run_id);
        goto out_free;
    }
    if (strcmp(r->status, "running") == 0) {
        /* Its owner is alive: two coordinators must not run one run. */
        fprintf(stderr, "%s %s: run %lld is still running (%s): stop it first\n",
                progname, o->cmd, (long long)o->resume_run_id,
                r->owner ? r->owner : "its owner is alive");
        goto out_free;
    }
    json_object *settings = json_tokener_parse(r->settings_json), *arr;
    if (settings && json_object_object_get_ex(settings, "sets", &arr) &&
        json_object_is_type(arr, json_type_array))
        for (size_t i = 0; i < json_object_array_length(arr) && nsets < 64; i++)
            sets[nsets++] = json_object_get_string(json_object_array_get_idx(arr, i));
    int fd = mkstemps(path, 5);
    if (fd < 0 || write(fd, r->scenario_text, strlen(r->scenario_text)) < 0) {
        fprintf(stderr, "%s %s: %s: %s\n", progname, o->cmd, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        json_object_put(settings);
        status = LAUNCHER_EXIT_FAILED;
        goto out_unlink;
    }
    close(fd);
    int rc = scenario_load(path, sets, nsets, scn_p, err, sizeof err);
    json_object_put(settings);
    if (rc != 0) {
        fprintf(stderr, "%s %s: run %lld's stored scenario: %s\n", progname, o->cmd,
                (long long)o->resume_run_id, err);
        goto out_unlink;
    }
    if ((*scn_p)->ntasks != r->ntasks) {
        fprintf(stderr, "%s %s: run %lld's scenario has %zu tasks, %zu stored\n", progname,
                o->cmd, (long long)o->resume_run_id, (*scn_p)->ntasks, r->ntasks);
        scenario_free(scn_p);
        goto out_unlink;
    }
    unlink(path);
    return 0;

out_unlink:
    unlink(path);
out_free:
    store_resume_free(r);
out_close:
    store_close(st_p);
    return status;
}

/* The plan of a resumed run: its token, its stored task ids; the run
** marked running again. 0 or -1 after saying why. */
static int plan_resumed(const launcher_opts_t *o, store_t *st, const store_resume_t *r,
                        const scenario_t *scn, plan_t **plan_p)
{
    int rc = plan_new(scn, r->token, plan_p);
    for (size_t i = 0; rc == 0 && i < r->ntasks; i++)
        rc = plan_set_task_id(*plan_p, i, r->task_ids[i]);
    if (rc != 0) {
        fprintf(stderr, "%s %s: run %lld: %s\n", progname, o->cmd,
                (long long)o->resume_run_id, plan_strerror(rc));
        return -1;
    }
    proc_id_t self;
    proc_self(&self);
    if (store_run_claim(st, o->resume_run_id, &self, clock_unix_ns()) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, o->cmd, store_errmsg(st));
        return -1;
    }
    return 0;
}

/* ---- The run ----------------------------------------------------------- */

int launcher_run(const launcher_opts_t *opts)
{
    const launcher_opts_t *o = opts;
    const char *cmd = o->cmd;
    char err[1024];
    scenario_t *scn = NULL;
    store_t *st = NULL;
    store_resume_t resumed = {0};
    bool resuming = o->resume_run_id > 0;
    int rc;

    /* A bad endpoint is a usage error: said before anything is written. So
    ** is one that other hosts can reach, without keys or --insecure. */
    if (o->bind && !o->keys_dir && !o->insecure && !keys_endpoint_is_local(o->bind)) {
        fprintf(stderr, "%s %s: %s is reachable from other hosts: give --keys DIR"
                " (heapsim keygen DIR makes them), or --insecure to accept any peer\n",
                progname, cmd, o->bind);
        return LAUNCHER_EXIT_USAGE;
    }
    if (o->bind && coord_check_endpoint(o->bind, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        return LAUNCHER_EXIT_USAGE;
    }
    metrics_server_t *metrics = NULL;
    if (o->metrics_addr &&
        metrics_server_new(o->metrics_addr, o->insecure, &metrics, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: --metrics-addr %s\n", progname, cmd, err);
        return LAUNCHER_EXIT_USAGE;
    }
    if (resuming) {
        if ((rc = load_resumed(o, &st, &resumed, &scn)) != 0) {
            metrics_server_destroy(&metrics);
            return rc;
        }
    } else if ((rc = scenario_load(o->scenario_path, o->sets, o->nsets, &scn, err,
                                   sizeof err)) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        metrics_server_destroy(&metrics);
        return rc == SCENARIO_EUSAGE ? LAUNCHER_EXIT_USAGE : LAUNCHER_EXIT_FAILED;
    }

    int status = LAUNCHER_EXIT_FAILED;
    char token[32], host[256] = "localhost", ep[512];
    int64_t run_id = 0;
    plan_t *plan = NULL;
    launch_t l = {.nworkers = 0};
    coord_t *coord = NULL;
    char *settings = NULL;

    if (!resuming && store_open(o->db, 0, &st, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        status = LAUNCHER_EXIT_USAGE;
        goto out_scenario;
    }
    if (resuming)
        snprintf(token, sizeof token, "%s", resumed.token);
    else
        make_token(token, sizeof token);
    gethostname(host, sizeof host - 1);
    if (o->local) {
        long n = o->workers ? o->workers : sysconf(_SC_NPROCESSORS_ONLN);
        l.nworkers = (int)(n > 0 ? n : 1);
        if (o->bind)
            snprintf(ep, sizeof ep, "%s", o->bind);
        else
            snprintf(ep, sizeof ep, "ipc:///tmp/heapsim-%s.sock", token);
    } else if (o->bind) {
        snprintf(ep, sizeof ep, "%s", o->bind);
    } else {
        fprintf(stderr, "%s %s: no endpoint to bind\n", progname, cmd);
        status = LAUNCHER_EXIT_USAGE;
        goto out_free;
    }

    l.pids = calloc((size_t)l.nworkers + 1, sizeof *l.pids);
    settings = settings_json(scn, o);
    if (!l.pids || !settings) {
        fprintf(stderr, "%s %s: out of memory\n", progname, cmd);
        goto out_free;
    }
    if (resuming) {
        if (plan_resumed(o, st, &resumed, scn, &plan) != 0)
            goto out_free;
        run_id = o->resume_run_id;
    } else {
        if (plan_new(scn, token, &plan) != 0) {
            fprintf(stderr, "%s %s: out of memory\n", progname, cmd);
            goto out_free;
        }
        proc_id_t owner;
        proc_self(&owner);
        store_run_t run = {
            .token = token, .name = scn->name, .scenario_path = scn->path,
            .scenario_text = scn->text, .settings_json = settings,
            .command_line = o->command_line, .host = host, .workers = l.nworkers,
            .started_unix_ns = clock_unix_ns(), .owner = &owner,
        };
        if (store_plan(st, o, &run, plan, &run_id) != 0)
            goto out_free;
    }

    l.progress = (!o->quiet && !o->json && isatty(STDERR_FILENO)) ? stderr : NULL;
    coord_opts_t co = {
        .bind = ep, .store = st, .plan = plan, .run_id = run_id,
        .settled = resuming ? resumed.task_done : NULL,
        .taken_names = resuming ? (const char *const *)resumed.workers : NULL,
        .ntaken = resumed.nworkers,
        .keys_dir = o->keys_dir,
        .expect_workers = o->expect_workers,
        .heartbeat_ms = o->heartbeat_ms,
        .misses_max = o->misses,
        .metrics = metrics,
        .hooks = {
            .supervise = o->local ? supervise_workers : NULL,
            .progress = l.progress ? show_progress : NULL,
            .arg = &l,
        },
    };
    if (coord_new(&co, &coord, err, sizeof err) != 0) {
        fprintf(stderr, "%s %s: %s\n", progname, cmd, err);
        store_run_finish(st, run_id, "failed", clock_unix_ns(), err);
        status = strstr(err, "bind") ? LAUNCHER_EXIT_USAGE : LAUNCHER_EXIT_FAILED;
        goto out_free;
    }
    if (!o->quiet && !o->json) {
        if (o->local)
            fprintf(stderr, "heapsim: run %lld (%s, %zu tasks) on %d local worker%s\n",
                    (long long)run_id, scn->name, scn->ntasks, l.nworkers,
                    l.nworkers == 1 ? "" : "s");
        else
            fprintf(stderr, "heapsim: run %lld (%s, %zu tasks) waiting for workers at %s\n",
                    (long long)run_id, scn->name, scn->ntasks, coord_endpoint(coord));
        fflush(stderr);
    }
    if (metrics) {
        fprintf(stderr, "heapsim: run %lld metrics at http://%s/metrics\n", (long long)run_id,
                metrics_server_address(metrics));
        fflush(stderr);
    }
    if (o->local && spawn_workers(&l, o->worker_exe, coord_endpoint(coord), o->keys_dir) != 0) {
        fprintf(stderr, "%s %s: cannot start workers: %s\n", progname, cmd,
                strerror(errno));
        goto out_coord;
    }
    status = coord_run(coord);
    coord_destroy(&coord);
    if (o->local) {
        stop_workers(&l);
        unlink_run_heaps(plan);
        if (strncmp(ep, "ipc://", 6) == 0)
            unlink(ep + 6);
    }
    if (status != LAUNCHER_EXIT_INTERRUPTED) {
        if (!o->json && !o->quiet)
            putchar('\n');
        if (!o->quiet || o->json)
            print_summary(st, cmd, run_id, o->json);
    } else {
        fprintf(stderr, "heapsim: run %lld interrupted; what reached the database is stored (heapsim show %lld)\n",
                (long long)run_id, (long long)run_id);
    }
    goto out_free;

out_coord:
    coord_destroy(&coord);
    stop_workers(&l);
    store_run_finish(st, run_id, "failed", clock_unix_ns(), "cannot start workers");
out_free:
    plan_destroy(&plan);
    free(l.pids);
    free(settings);
    store_close(&st);
out_scenario:
    metrics_server_destroy(&metrics);
    store_resume_free(&resumed);
    store_close(&st);
    scenario_free(&scn);
    return status;
}
