-- storage/schema.sql -- the heapsim run-history database, schema version 7.
--
-- This file is the schema: the build embeds it in the library
-- (schema_to_c.awk), store_open() runs it on a fresh file and sets
-- PRAGMA user_version = 7 (STORE_SCHEMA_VERSION) in the same transaction.
-- A file of an earlier version is migrated forward by store_open()
-- (storage/store_migrate.c, one step per version); a file of a later
-- version, or without these tables and columns, is not opened.
-- docs/schema.md documents every column with its unit.

-- Version 2 added params, events and the summary views, version 3
-- heap_profiles, version 4 retention, retention_sites and goroutine_leaks,
-- version 5 gc_cycles' concurrent-collector columns, version 6 the runs'
-- liveness mark (owner_*, heartbeat), version 7 gc_cycles.max_stack_bytes;
-- an older file is upgraded on opening (docs/schema.md).
--
-- Conventions: times are integer nanoseconds, *_unix_ns since the Unix
-- epoch (UTC) and t_ns / since_start_ns relative to the start of a task or
-- run; sizes are bytes (*_bytes). A column is NULL when the figure is not
-- known yet (a task that has not finished has no wall_ns). Deleting a run
-- deletes everything that belongs to it (ON DELETE CASCADE); every foreign
-- key is the first column of an index (the UNIQUE constraints count).

-- One row per `heapsim run`: the scenario as it was run and how it ended.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,  -- run id, shown by `heapsim runs`
    token           TEXT NOT NULL UNIQUE, -- unique id of the run, names its heaps
    name            TEXT,                 -- scenario name
    scenario_path   TEXT,                 -- scenario file as given on the command line
    scenario_text   TEXT,                 -- scenario file contents at the time of the run
    settings_json   TEXT,                 -- scenario-level runtime settings and overrides (JSON)
    command_line    TEXT,                 -- the heapsim command line that started the run
    host            TEXT,                 -- host name of the coordinator
    workers         INTEGER,              -- planned local workers, 0 if remote only
    status          TEXT NOT NULL,        -- 'running', 'done', 'failed' or 'interrupted'
    started_unix_ns INTEGER,              -- when the run started
    ended_unix_ns   INTEGER,              -- when the run ended; NULL while running
    error           TEXT,                 -- why the run failed or stopped; NULL if done
    -- Version 4: the run's liveness mark. The process that owns a running
    -- run (`heapsim run` or `heapsim coordinator`, or the one resuming it)
    -- and its heartbeat. Readers show a 'running' run whose owner is gone
    -- as 'interrupted' (docs/schema.md says how they judge); NULL on runs
    -- written before version 4.
    owner_host      TEXT,                 -- host name of the owning process
    owner_boot      TEXT,                 -- that host's boot id (/proc/sys/kernel/random/boot_id)
    owner_pid       INTEGER,              -- process id of the owner on that host
    owner_started   INTEGER,              -- its start time, clock ticks since boot (a reused pid differs)
    heartbeat_unix_ns INTEGER             -- when the owner last said it runs (every 5 s)
);
CREATE INDEX runs_by_started ON runs (started_unix_ns);
CREATE INDEX runs_by_name ON runs (name, started_unix_ns);

-- One row per worker process that joined a run.
CREATE TABLE workers (
    id             INTEGER PRIMARY KEY,   -- worker row id
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run joined
    name           TEXT NOT NULL,         -- unique in the run, e.g. 'host:pid'
    host           TEXT,                  -- host name of the worker
    pid            INTEGER,               -- process id on that host
    ncpu           INTEGER,               -- CPUs the worker saw
    joined_unix_ns INTEGER,               -- when the worker said hello
    UNIQUE (run_id, name)
);

-- One row per task of a run: a kernel with its parameters at one sweep
-- point and repeat, then what it cost when it finished.
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,  -- task id
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run it belongs to
    seq             INTEGER NOT NULL,     -- position in the run's plan, from 0
    kernel          TEXT NOT NULL,        -- kernel name, as in the catalog
    params_json     TEXT,                 -- kernel parameters (JSON object)
    runtime_json    TEXT,                 -- runtime settings for this task (JSON)
    label           TEXT,                 -- label given by the scenario, may be NULL
    sweep_point     INTEGER,              -- index of the sweep point, from 0
    repeat_index    INTEGER,              -- index of the repeat at that point, from 0
    seed            INTEGER,              -- random seed (the uint64 stored as signed 64-bit)
    status          TEXT NOT NULL,        -- 'pending', 'running', 'done' or 'failed'
    worker          TEXT,                 -- name of the worker that ran it (workers.name)
    host            TEXT,                 -- host of that worker
    started_unix_ns INTEGER,              -- when the worker started it
    ended_unix_ns   INTEGER,              -- when it finished
    error           TEXT,                 -- why it failed; NULL if done
    output          TEXT,                 -- the kernel's output text
    wall_ns         INTEGER,              -- wall time of the kernel
    alloc_objects   INTEGER,              -- objects allocated
    alloc_bytes     INTEGER,              -- bytes allocated
    gc_cycles       INTEGER,              -- collections during the task
    pause_max_ns    INTEGER,              -- longest stop-the-world pause
    pause_total_ns  INTEGER,              -- sum of the pauses
    peak_heap_bytes INTEGER,              -- heap in use, highest seen
    peak_rss_bytes  INTEGER,              -- resident set size of the worker, highest seen
    stack_hwm_bytes INTEGER,              -- goroutine stacks, high-water mark
    goroutines_max  INTEGER,              -- most goroutines alive at once
    UNIQUE (run_id, seq)
);

-- Telemetry: one row per worker every sample interval (100 ms by default)
-- while it runs a task.
CREATE TABLE samples (
    id                INTEGER PRIMARY KEY,  -- sample row id
    run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run
    task_id           INTEGER REFERENCES tasks(id) ON DELETE CASCADE,  -- task being run; NULL if none
    worker            TEXT,                 -- worker that sent it (workers.name)
    t_ns              INTEGER NOT NULL,     -- since the task started
    unix_ns           INTEGER,              -- when it was taken
    heap_alloc_bytes  INTEGER,              -- bytes in allocated objects
    heap_inuse_bytes  INTEGER,              -- bytes in spans in use
    heap_sys_bytes    INTEGER,              -- bytes of the segment mapped
    heap_live_bytes   INTEGER,              -- bytes marked live by the last collection
    heap_goal_bytes   INTEGER,              -- heap size that triggers the next collection
    num_gc            INTEGER,              -- collections so far
    pause_total_ns    INTEGER,              -- sum of the pauses so far
    alloc_objects     INTEGER,              -- objects allocated by this worker in the task, cumulative
    alloc_bytes       INTEGER,              -- bytes allocated by this worker in the task, cumulative
    goroutines        INTEGER,              -- goroutines alive
    stack_inuse_bytes INTEGER,              -- bytes of goroutine stacks in use
    rss_bytes         INTEGER,              -- resident set size of the worker
    cpu_user_ns       INTEGER,              -- user CPU time of the worker
    cpu_sys_ns        INTEGER,              -- system CPU time of the worker
    minor_faults      INTEGER,              -- minor page faults of the worker
    major_faults      INTEGER,              -- major page faults of the worker
    ctx_switches      INTEGER               -- context switches of the worker
);
CREATE INDEX samples_by_task ON samples (task_id, t_ns);
CREATE INDEX samples_by_run ON samples (run_id);

-- One row per garbage collection (the GODEBUG=gctrace line, and more).
CREATE TABLE gc_cycles (
    id               INTEGER PRIMARY KEY,  -- gc row id
    run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run
    task_id          INTEGER REFERENCES tasks(id) ON DELETE CASCADE,  -- task in the collecting worker; NULL if none
    host             TEXT,                 -- host of the heap
    heap             TEXT,                 -- shared-memory segment name
    worker           TEXT,                 -- worker that ran the collection
    cycle            INTEGER NOT NULL,     -- collection number in that heap, from 1
    forced           INTEGER,              -- 1 if forced (runtime.GC), 0 if paced
    start_unix_ns    INTEGER,              -- when the collection started
    since_start_ns   INTEGER,              -- since the heap was created
    gc_cpu_fraction  REAL,                 -- share of CPU spent collecting so far, 0..1
    stw_ns           INTEGER,              -- stop-the-world pause in total
    stop_ns          INTEGER,              -- time to stop every process
    mark_ns          INTEGER,              -- wall time of marking
    sweep_ns         INTEGER,              -- wall time of sweeping
    mark_cpu_ns      INTEGER,              -- CPU time of marking
    sweep_cpu_ns     INTEGER,              -- CPU time of sweeping
    heap_start_bytes INTEGER,              -- heap in use when it started
    heap_end_bytes   INTEGER,              -- heap in use when it ended
    heap_live_bytes  INTEGER,              -- bytes marked live
    heap_goal_bytes  INTEGER,              -- goal set for the next collection
    stack_bytes      INTEGER,              -- goroutine stacks scanned (Go's lastStackScan)
    globals_bytes    INTEGER,              -- globals scanned
    objects_live     INTEGER,              -- objects marked live
    objects_freed    INTEGER,              -- objects swept
    nprocs           INTEGER,              -- processes attached to the heap
    sweep_term_ns          INTEGER,  -- first stop (sweep termination), wall; 0 if stop-the-world
    mark_term_ns           INTEGER,  -- second stop (mark termination), wall; all of a stw cycle
    mark_assist_cpu_ns     INTEGER,  -- CPU time of mark assists
    mark_bg_cpu_ns         INTEGER,  -- CPU time of the background mark workers
    mark_idle_cpu_ns       INTEGER,  -- CPU time marking while stopping or idle
    heap_trigger_bytes     INTEGER,  -- heap_live at which the cycle was to start
    heap_live_start_bytes  INTEGER,  -- heap_live when the cycle started (gctrace heap0)
    heap_live_end_bytes    INTEGER,  -- heap_live when marking ended (gctrace heap1)
    concurrent             INTEGER,  -- 1 if the concurrent collector ran it, 0 if stop-the-world
    max_stack_bytes        INTEGER   -- stack space in use (Go's maxStackScan; gctrace's MB stacks)
);
CREATE INDEX gc_cycles_by_run ON gc_cycles (run_id, start_unix_ns);
CREATE INDEX gc_cycles_by_task ON gc_cycles (task_id, start_unix_ns);

-- A kernel's own figures for a task, e.g. ('ns_per_roundtrip', 41.2, 'ns').
CREATE TABLE metrics (
    id      INTEGER PRIMARY KEY,           -- metric row id
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,  -- the task that reported it
    name    TEXT NOT NULL,                 -- metric name, unique in the task
    value   REAL NOT NULL,                 -- the figure (finite)
    unit    TEXT,                          -- its unit, e.g. 'ns', 'B', 'ops/s'; may be NULL
    UNIQUE (task_id, name)
);

-- Version 2. A task's parameters, one row per name and value (the kernel's
-- from tasks.params_json, the runtime's from tasks.runtime_json), so a
-- sweep point is a WHERE clause: name = 'gogc' AND value = 200. Filled by
-- the trigger below on every task insert (and, for files of version 1, by
-- the migration).
CREATE TABLE params (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,  -- the task
    kind    TEXT NOT NULL,                 -- 'kernel' (params_json) or 'runtime' (runtime_json)
    name    TEXT NOT NULL,                 -- parameter name, e.g. 'depth', 'gogc'
    value,                                 -- its value as JSON gave it: INTEGER, REAL or TEXT
    UNIQUE (task_id, kind, name)
);
CREATE INDEX params_by_name ON params (name, value);
CREATE TRIGGER tasks_params AFTER INSERT ON tasks
BEGIN
    INSERT INTO params (task_id, kind, name, value)
        SELECT NEW.id, 'kernel', key, value FROM json_each(
            CASE WHEN json_valid(NEW.params_json)
                  AND json_type(NEW.params_json) = 'object'
                 THEN NEW.params_json ELSE '{}' END);
    INSERT INTO params (task_id, kind, name, value)
        SELECT NEW.id, 'runtime', key, value FROM json_each(
            CASE WHEN json_valid(NEW.runtime_json)
                  AND json_type(NEW.runtime_json) = 'object'
                 THEN NEW.runtime_json ELSE '{}' END);
END;

-- Version 2. What happened to a run besides its tasks' results: a worker
-- lost, a task re-queued, telemetry dropped. The coordinator writes them.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,           -- event row id
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the run
    task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE,  -- the task concerned; NULL if none
    unix_ns INTEGER NOT NULL,              -- when it happened
    kind    TEXT NOT NULL,                 -- 'worker_lost', 'task_requeued', 'telemetry_dropped', ...
    worker  TEXT,                          -- the worker concerned (workers.name); NULL if none
    count   INTEGER,                       -- how many (messages dropped, ...); NULL if one
    detail  TEXT                           -- what else is known, in words
);
CREATE INDEX events_by_run ON events (run_id, unix_ns);
CREATE INDEX events_by_task ON events (task_id);

-- Version 2. One row per task: its result beside what its GC cycles add
-- up to. gc_cpu_ns is the CPU time of marking and sweeping; gc_cpu_share
-- that over the task's wall time (NULL until the task has a wall time).
CREATE VIEW task_summary AS
SELECT t.id AS task_id, t.run_id, t.seq, t.kernel, t.label, t.sweep_point,
       t.repeat_index, t.status, t.worker, t.wall_ns, t.alloc_objects,
       t.alloc_bytes, t.gc_cycles, t.pause_max_ns, t.pause_total_ns,
       t.peak_heap_bytes, t.peak_rss_bytes, t.stack_hwm_bytes, t.goroutines_max,
       (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g
        WHERE g.task_id = t.id) AS gc_cpu_ns,
       CASE WHEN t.wall_ns > 0 THEN
           (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g
            WHERE g.task_id = t.id) * 1.0 / t.wall_ns END AS gc_cpu_share,
       (SELECT count(*) FROM samples s WHERE s.task_id = t.id) AS samples
FROM tasks t;

-- Version 2. One row per run: how it ended and what its tasks add up to.
CREATE VIEW run_summary AS
SELECT r.id AS run_id, r.token, r.name, r.status, r.host, r.started_unix_ns,
       r.ended_unix_ns, r.ended_unix_ns - r.started_unix_ns AS wall_ns,
       count(t.id) AS tasks_total,
       count(CASE WHEN t.status = 'done' THEN 1 END) AS tasks_done,
       count(CASE WHEN t.status = 'failed' THEN 1 END) AS tasks_failed,
       sum(t.gc_cycles) AS gc_cycles, sum(t.pause_total_ns) AS pause_total_ns,
       max(t.pause_max_ns) AS pause_max_ns, max(t.peak_heap_bytes) AS peak_heap_bytes,
       r.error
FROM runs r LEFT JOIN tasks t ON t.run_id = r.id
GROUP BY r.id;

-- Version 3. A task's heap profile: per allocation site, what the worker's sampled
-- allocations (Go's MemProfileRate) came to when its heap had run `cycle`
-- GC cycles; taken when the cycle count moved (at most once per sample
-- interval) and at the task's end. The figures are of samples, not scaled:
-- `heapsim profile` scales them as Go's pprof writer does.
CREATE TABLE heap_profiles (
    task_id       INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,  -- the task
    cycle         INTEGER NOT NULL,        -- GC cycles of the task's heap when taken
    final         INTEGER NOT NULL,        -- 1 if taken at the end of the task
    site          TEXT NOT NULL,           -- allocation site label, e.g. 'leak.payload'
    rate          INTEGER NOT NULL,        -- bytes per sample (MemProfileRate); 1 = every allocation
    alloc_objects INTEGER NOT NULL,        -- sampled allocations at the site
    alloc_bytes   INTEGER NOT NULL,        -- their bytes (size classes)
    inuse_objects INTEGER NOT NULL,        -- of those, not swept yet
    inuse_bytes   INTEGER NOT NULL,        -- their bytes
    PRIMARY KEY (task_id, cycle, site)     -- one row per site and snapshot
);

-- Version 4. Why a task's objects are alive: a heap snapshot taken with the
-- world stopped (at every few GC cycles while profiling is on, and when the
-- task's main goroutine returns), its dominator tree and paths from the
-- roots. One row per snapshot; retention_sites and goroutine_leaks hang off it.
CREATE TABLE retention (
    task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,  -- the task
    cycle      INTEGER NOT NULL,   -- GC cycles of the task's heap when taken
    final      INTEGER NOT NULL,   -- 1 if taken when the task's main goroutine returned
    worker     TEXT,               -- the worker that took it
    objects    INTEGER NOT NULL,   -- objects reachable from the roots
    bytes      INTEGER NOT NULL,   -- their bytes (size classes)
    pause_ns   INTEGER NOT NULL,   -- how long the world was stopped for the walk
    min_cycles INTEGER NOT NULL,   -- goroutine_leaks counts goroutines blocked this many cycles or more
    pprof      BLOB NOT NULL,      -- retention profile: pprof, gzipped; stacks are dominator chains
    PRIMARY KEY (task_id, cycle, final)  -- one row per snapshot
);
-- Per allocation site (sampled objects carry one): the group of roots that
-- holds most of its objects, what they retain, and the path to the largest.
CREATE TABLE retention_sites (
    task_id    INTEGER NOT NULL,   -- the snapshot: task,
    cycle      INTEGER NOT NULL,   -- cycle
    final      INTEGER NOT NULL,   -- and final, as in retention
    site       TEXT NOT NULL,      -- allocation site label
    root_group TEXT NOT NULL,      -- what holds them, e.g. 'goroutine leak.watcher [chan receive]'
    root       TEXT NOT NULL,      -- the root on the path, e.g. 'goroutine 12 leak.watcher [chan receive, 3 GC cycles]'
    roots      INTEGER NOT NULL,   -- roots of that group holding the site's objects
    objects    INTEGER NOT NULL,   -- the site's sampled objects held through them
    site_objects INTEGER NOT NULL, -- the site's sampled objects reachable at all
    retained_bytes INTEGER NOT NULL,  -- bytes those objects retain (dominator tree)
    holder     TEXT NOT NULL,      -- their closest common dominator (or the root group)
    holder_retained_bytes INTEGER NOT NULL,  -- bytes it retains
    path       TEXT NOT NULL,      -- root, then one '-> label (B B, retains R B)' line per object
    PRIMARY KEY (task_id, cycle, final, site),  -- one row per site and snapshot
    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE  -- the snapshot
);
-- Goroutines blocked for min_cycles GC cycles or more, grouped by where they
-- block (Go 1.26's goroutine-leak profile groups them so).
CREATE TABLE goroutine_leaks (
    task_id    INTEGER NOT NULL,   -- the snapshot: task,
    cycle      INTEGER NOT NULL,   -- cycle
    final      INTEGER NOT NULL,   -- and final, as in retention
    label      TEXT NOT NULL,      -- the goroutine's label (its function), '(no label)' if none
    reason     TEXT NOT NULL,      -- its wait reason, e.g. 'chan receive'
    count      INTEGER NOT NULL,   -- goroutines blocked so
    min_cycles INTEGER NOT NULL,   -- the fewest GC cycles any of them has been blocked
    max_cycles INTEGER NOT NULL,   -- the most
    PRIMARY KEY (task_id, cycle, final, label, reason),  -- one row per group and snapshot
    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE  -- the snapshot
);
