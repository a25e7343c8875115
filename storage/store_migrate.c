/*
** storage/store_migrate.c -- a file of an earlier schema version brought
** to this one.
**
** steps[v] takes a file from version v to v + 1: the statements that
** create what version v + 1 added (copied from schema.sql as it was then)
** and that fill it from what the file already holds. A file is migrated
** in one BEGIN IMMEDIATE transaction, every step from its version to
** STORE_SCHEMA_VERSION and the new user_version together: a failure leaves
** the file as it was, and two processes opening the same old file at once
** migrate it once (the second finds the new version under the lock).
**
** store_test builds a file of every earlier version from its text fixture
** (storage/testdata/vN.sql), migrates it, and checks that it then has the
** same tables, columns, indexes, views and triggers as a fresh file, so a
** step and schema.sql cannot drift apart unnoticed.
**
** Adding version N + 1: write the change in schema.sql, add steps[N] here,
** raise STORE_SCHEMA_VERSION, and keep a fixture of version N (a dump of a
** file written by the build of version N) as storage/testdata/vN.sql.
*/
#include "storage/store_int.h"

#include <stdio.h>

static const char step_1_to_2[] =
    /* Indexes for `heapsim runs --since/--scenario` and a task's cycles in
    ** time order. */
    "CREATE INDEX runs_by_started ON runs (started_unix_ns);\n"
    "CREATE INDEX runs_by_name ON runs (name, started_unix_ns);\n"
    "DROP INDEX gc_cycles_by_task;\n"
    "CREATE INDEX gc_cycles_by_task ON gc_cycles (task_id, start_unix_ns);\n"
    /* params, filled from the tasks already stored. */
    "CREATE TABLE params (\n"
    "    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,\n"
    "    kind    TEXT NOT NULL,\n"
    "    name    TEXT NOT NULL,\n"
    "    value,\n"
    "    UNIQUE (task_id, kind, name)\n"
    ");\n"
    "CREATE INDEX params_by_name ON params (name, value);\n"
    "INSERT INTO params (task_id, kind, name, value)\n"
    "    SELECT t.id, 'kernel', j.key, j.value FROM tasks t, json_each(\n"
    "        CASE WHEN json_valid(t.params_json) AND json_type(t.params_json) = 'object'\n"
    "             THEN t.params_json ELSE '{}' END) j;\n"
    "INSERT INTO params (task_id, kind, name, value)\n"
    "    SELECT t.id, 'runtime', j.key, j.value FROM tasks t, json_each(\n"
    "        CASE WHEN json_valid(t.runtime_json) AND json_type(t.runtime_json) = 'object'\n"
    "             THEN t.runtime_json ELSE '{}' END) j;\n"
    "CREATE TRIGGER tasks_params AFTER INSERT ON tasks\n"
    "BEGIN\n"
    "    INSERT INTO params (task_id, kind, name, value)\n"
    "        SELECT NEW.id, 'kernel', key, value FROM json_each(\n"
    "            CASE WHEN json_valid(NEW.params_json)\n"
    "                  AND json_type(NEW.params_json) = 'object'\n"
    "                 THEN NEW.params_json ELSE '{}' END);\n"
    "    INSERT INTO params (task_id, kind, name, value)\n"
    "        SELECT NEW.id, 'runtime', key, value FROM json_each(\n"
    "            CASE WHEN json_valid(NEW.runtime_json)\n"
    "                  AND json_type(NEW.runtime_json) = 'object'\n"
    "                 THEN NEW.runtime_json ELSE '{}' END);\n"
    "END;\n"
    "CREATE TABLE events (\n"
    "    id      INTEGER PRIMARY KEY,\n"
    "    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "    task_id INTEGER REFERENCES tasks(id) ON DELETE CASCADE,\n"
    "    unix_ns INTEGER NOT NULL,\n"
    "    kind    TEXT NOT NULL,\n"
    "    worker  TEXT,\n"
    "    count   INTEGER,\n"
    "    detail  TEXT\n"
    ");\n"
    "CREATE INDEX events_by_run ON events (run_id, unix_ns);\n"
    "CREATE INDEX events_by_task ON events (task_id);\n"
    "CREATE VIEW task_summary AS\n"
    "SELECT t.id AS task_id, t.run_id, t.seq, t.kernel, t.label, t.sweep_point,\n"
    "       t.repeat_index, t.status, t.worker, t.wall_ns, t.alloc_objects,\n"
    "       t.alloc_bytes, t.gc_cycles, t.pause_max_ns, t.pause_total_ns,\n"
    "       t.peak_heap_bytes, t.peak_rss_bytes, t.stack_hwm_bytes, t.goroutines_max,\n"
    "       (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g\n"
    "        WHERE g.task_id = t.id) AS gc_cpu_ns,\n"
    "       CASE WHEN t.wall_ns > 0 THEN\n"
    "           (SELECT sum(mark_cpu_ns + sweep_cpu_ns) FROM gc_cycles g\n"
    "            WHERE g.task_id = t.id) * 1.0 / t.wall_ns END AS gc_cpu_share,\n"
    "       (SELECT count(*) FROM samples s WHERE s.task_id = t.id) AS samples\n"
    "FROM tasks t;\n"
    "CREATE VIEW run_summary AS\n"
    "SELECT r.id AS run_id, r.token, r.name, r.status, r.host, r.started_unix_ns,\n"
    "       r.ended_unix_ns, r.ended_unix_ns - r.started_unix_ns AS wall_ns,\n"
    "       count(t.id) AS tasks_total,\n"
    "       count(CASE WHEN t.status = 'done' THEN 1 END) AS tasks_done,\n"
    "       count(CASE WHEN t.status = 'failed' THEN 1 END) AS tasks_failed,\n"
    "       sum(t.gc_cycles) AS gc_cycles, sum(t.pause_total_ns) AS pause_total_ns,\n"
    "       max(t.pause_max_ns) AS pause_max_ns, max(t.peak_heap_bytes) AS peak_heap_bytes,\n"
    "       r.error\n"
    "FROM runs r LEFT JOIN tasks t ON t.run_id = r.id\n"
    "GROUP BY r.id;\n";

/* Version 3: heap profiles (`heapsim profile`). */
static const char step_2_to_3[] =
    "CREATE TABLE heap_profiles ("
    " task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
    " cycle INTEGER NOT NULL, final INTEGER NOT NULL, site TEXT NOT NULL,"
    " rate INTEGER NOT NULL, alloc_objects INTEGER NOT NULL,"
    " alloc_bytes INTEGER NOT NULL, inuse_objects INTEGER NOT NULL,"
    " inuse_bytes INTEGER NOT NULL, PRIMARY KEY (task_id, cycle, site));\n";

/* Version 4: why objects are alive (retention, retention_sites,
** goroutine_leaks; `heapsim leaks`). Self-contained: new tables only. */
static const char step_3_to_4[] =
    "CREATE TABLE retention (\n"
    "    task_id    INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,\n"
    "    cycle      INTEGER NOT NULL,\n"
    "    final      INTEGER NOT NULL,\n"
    "    worker     TEXT,\n"
    "    objects    INTEGER NOT NULL,\n"
    "    bytes      INTEGER NOT NULL,\n"
    "    pause_ns   INTEGER NOT NULL,\n"
    "    min_cycles INTEGER NOT NULL,\n"
    "    pprof      BLOB NOT NULL,\n"
    "    PRIMARY KEY (task_id, cycle, final)\n"
    ");\n"
    "CREATE TABLE retention_sites (\n"
    "    task_id    INTEGER NOT NULL,\n"
    "    cycle      INTEGER NOT NULL,\n"
    "    final      INTEGER NOT NULL,\n"
    "    site       TEXT NOT NULL,\n"
    "    root_group TEXT NOT NULL,\n"
    "    root       TEXT NOT NULL,\n"
    "    roots      INTEGER NOT NULL,\n"
    "    objects    INTEGER NOT NULL,\n"
    "    site_objects INTEGER NOT NULL,\n"
    "    retained_bytes INTEGER NOT NULL,\n"
    "    holder     TEXT NOT NULL,\n"
    "    holder_retained_bytes INTEGER NOT NULL,\n"
    "    path       TEXT NOT NULL,\n"
    "    PRIMARY KEY (task_id, cycle, final, site),\n"
    "    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE goroutine_leaks (\n"
    "    task_id    INTEGER NOT NULL,\n"
    "    cycle      INTEGER NOT NULL,\n"
    "    final      INTEGER NOT NULL,\n"
    "    label      TEXT NOT NULL,\n"
    "    reason     TEXT NOT NULL,\n"
    "    count      INTEGER NOT NULL,\n"
    "    min_cycles INTEGER NOT NULL,\n"
    "    max_cycles INTEGER NOT NULL,\n"
    "    PRIMARY KEY (task_id, cycle, final, label, reason),\n"
    "    FOREIGN KEY (task_id, cycle, final) REFERENCES retention(task_id, cycle, final) ON DELETE CASCADE\n"
    ");\n";

/* Version 5: the concurrent collector's figures per cycle (#10): both
** stops, the mark's CPU split, the trigger and heap_live at start and end.
** New columns only; old rows read NULL. */
static const char step_4_to_5[] =
    "ALTER TABLE gc_cycles ADD COLUMN sweep_term_ns INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN mark_term_ns INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN mark_assist_cpu_ns INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN mark_bg_cpu_ns INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN mark_idle_cpu_ns INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN heap_trigger_bytes INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN heap_live_start_bytes INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN heap_live_end_bytes INTEGER;\n"
    "ALTER TABLE gc_cycles ADD COLUMN concurrent INTEGER;\n";

/* Version 6: the runs' liveness mark. Runs written before it have none:
** readers judge a 'running' one without a mark as interrupted (no process
** of an earlier version can still be writing a file of version 6). */
static const char step_5_to_6[] =
    "ALTER TABLE runs ADD COLUMN owner_host TEXT;\n"
    "ALTER TABLE runs ADD COLUMN owner_boot TEXT;\n"
    "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN owner_started INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN heartbeat_unix_ns INTEGER;\n";

/* Version 7: the stack space in use at each cycle (Go's maxStackScan,
** gctrace's MB stacks), beside stack_bytes, the stack scanned. A new
** column only; rows written before it read NULL: their cycles did not
** measure it. */
static const char step_6_to_7[] =
    "ALTER TABLE gc_cycles ADD COLUMN max_stack_bytes INTEGER;\n";

/* steps[v]: version v to v + 1. */
static const char *const steps[STORE_SCHEMA_VERSION] = {
    [1] = step_1_to_2,
    [2] = step_2_to_3,
    [3] = step_3_to_4,
    [4] = step_4_to_5,
    [5] = step_5_to_6,
    [6] = step_6_to_7,
};

int store__migrate(store_t *st, int64_t from)
{
    char set_version[64];
    int64_t version = from;
    sqlite3_stmt *stmt;

    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(st, STORE_EDB, "%s: migrating: %s", st->path,
                           sqlite3_errmsg(st->db));
    /* Under the lock: another process may have migrated it meanwhile. */
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            version = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
    }
    for (int64_t v = version; v >= 1 && v < STORE_SCHEMA_VERSION; v++) {
        if (!steps[v] || sqlite3_exec(st->db, steps[v], NULL, NULL, NULL) != SQLITE_OK) {
            int rc = store__fail(st, STORE_EDB, "%s: migrating from schema version "
                                 "%lld to %lld: %s", st->path, (long long)v,
                                 (long long)v + 1,
                                 steps[v] ? sqlite3_errmsg(st->db) : "no step");
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d",
             STORE_SCHEMA_VERSION);
    if (sqlite3_exec(st->db, set_version, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = store__fail(st, STORE_EDB, "%s: migrating: %s", st->path,
                             sqlite3_errmsg(st->db));
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return 0;
}
