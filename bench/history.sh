#!/usr/bin/env bash
# bench/history.sh [SAMPLES] -- how fast the history commands answer on a
# big database: `heapsim show` and `heapsim report` (and runs, compare) on
# a file holding SAMPLES telemetry samples (default 10 million). The goal:
# under a second each.
#
# The database (bench/out/history-SAMPLES.db, kept for the next time; about
# 90 bytes a sample) holds two runs: run 1, a real GOGC sweep run by
# heapsim (small), and run 2, a synthetic run of 10 tasks (2 sweep points
# x 5 repeats) holding all SAMPLES samples and 20,000 GC cycles per task,
# written with the sqlite3 shell. Each command is timed best of REPEAT
# (default 3), wall clock, the binary as built (tools/setup).
#
#   bench/history.sh               # 10M samples
#   bench/history.sh 1000000       # a smaller one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
samples="${1:-10000000}"
repeat="${REPEAT:-3}"
out="$root/bench/out"
mkdir -p "$out"
case "$samples" in ''|*[!0-9]*) echo "usage: bench/history.sh [SAMPLES]" >&2; exit 2 ;; esac
command -v sqlite3 >/dev/null || { echo "bench/history.sh: needs the sqlite3 shell" >&2; exit 2; }
if [ -n "${HEAPSIM:-}" ]; then
    heapsim="$HEAPSIM"
else
    "$root/tools/setup"
    heapsim="$root/bazel-bin/cli/heapsim"
fi
db="$out/history-$samples.db"

if [ ! -f "$db" ]; then
    echo "== building $db ($samples samples; once, kept for the next time)"
    tmp="$db.tmp"
    rm -f "$tmp" "$tmp-wal" "$tmp-shm"
    cat >"$out/history-sweep.yaml" <<'YAML'
name: history-bench
sample_interval: 10ms
task: {kernel: churn, objects: 300000, live_objects: 5000}
sweep: {gogc: [50, 200]}
repeat: 3
YAML
    "$heapsim" run "$out/history-sweep.yaml" --workers 1 --db "$tmp" --quiet >/dev/null
    per_task=$((samples / 10))
    start=$(date +%s)
    sqlite3 -batch "$tmp" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
INSERT INTO runs (id, token, name, status, started_unix_ns, ended_unix_ns, host, workers,
                  settings_json, command_line)
VALUES (2, 'bench-big', 'history-bench-big', 'done', 1700000000000000000,
        1700000000000000000 + 600000000000, 'bench', 2,
        '{"runtime":{"gogc":100},"repeat":5}', 'bench/history.sh');
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 9)
INSERT INTO tasks (id, run_id, seq, kernel, params_json, runtime_json, label, sweep_point,
                   repeat_index, seed, status, worker, started_unix_ns, ended_unix_ns,
                   wall_ns, alloc_objects, alloc_bytes, gc_cycles, pause_max_ns,
                   pause_total_ns, peak_heap_bytes, goroutines_max, stack_hwm_bytes)
SELECT 1000 + i, 2, i, 'churn', '{"objects":100000000}',
       CASE WHEN i < 5 THEN '{"gogc":50}' ELSE '{"gogc":200}' END,
       CASE WHEN i < 5 THEN 'gogc=50' ELSE 'gogc=200' END, i / 5, i % 5, i, 'done',
       'local-' || (i % 2), 1700000000000000000 + i * 60000000000,
       1700000000000000000 + i * 60000000000 + 55000000000,
       55000000000 + i * 100000000, 100000000, 6400000000, 20000, 30000000,
       20000 * 1000000, 64 << 20, 4, 16384
FROM k;
WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < $per_task - 1)
INSERT INTO samples (run_id, task_id, worker, t_ns, unix_ns, heap_alloc_bytes,
                     heap_inuse_bytes, heap_sys_bytes, heap_live_bytes, heap_goal_bytes,
                     num_gc, goroutines, stack_inuse_bytes, rss_bytes)
SELECT 2, t.id, t.worker, n.j * 1000000, t.started_unix_ns + n.j * 1000000,
       (n.j % 5000) * 8192, (n.j % 5000) * 8192 + 1048576, 128 << 20, 8 << 20, 48 << 20,
       n.j / 5000, 4, 16384, 96 << 20
FROM tasks t, n WHERE t.run_id = 2;
WITH RECURSIVE n(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM n WHERE j < 20000)
INSERT INTO gc_cycles (run_id, task_id, host, heap, worker, cycle, forced, start_unix_ns,
                       since_start_ns, gc_cpu_fraction, stw_ns, stop_ns, mark_ns, sweep_ns,
                       mark_cpu_ns, sweep_cpu_ns, heap_start_bytes, heap_end_bytes,
                       heap_live_bytes, heap_goal_bytes, nprocs)
SELECT 2, t.id, 'bench', 'heap', t.worker, n.j, 0,
       t.started_unix_ns + n.j * 2750000, n.j * 2750000, 0.05,
       500000 + (n.j * 7919) % 1000000, 10000, 400000, 100000, 400000, 100000,
       40 << 20, 9 << 20, 8 << 20, 48 << 20, 1
FROM tasks t, n WHERE t.run_id = 2;
INSERT INTO metrics (task_id, name, value, unit)
SELECT id, 'ns_per_alloc', 500 + seq, 'ns' FROM tasks WHERE run_id = 2;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
    mv "$tmp" "$db"
    rm -f "$tmp-wal" "$tmp-shm"
    echo "== built in $(( $(date +%s) - start )) s: $(du -h "$db" | cut -f1)"
fi
echo "== $db: $(sqlite3 "$db" 'select count(*) from samples') samples," \
     "$(sqlite3 "$db" 'select count(*) from gc_cycles') GC cycles"

# best WHAT CMD...: the best wall time of REPEAT runs, in ms.
results=()
best() {
    local what="$1"; shift
    local best_ms=""
    for _ in $(seq "$repeat"); do
        local t0 t1 ms
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || { echo "bench/history.sh: failed: $*" >&2; exit 1; }
        t1=$(date +%s%N)
        ms=$(( (t1 - t0) / 1000000 ))
        if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then best_ms=$ms; fi
    done
    results+=("$(printf '%-46s %6d ms' "$what" "$best_ms")")
    echo "${results[-1]}"
}

echo "== best of $repeat, wall clock"
best "heapsim runs" "$heapsim" runs --db "$db"
best "heapsim show 1 (small run, big file)" "$heapsim" show 1 --db "$db"
best "heapsim show 2 (the run of all the samples)" "$heapsim" show 2 --db "$db"
best "heapsim show 2 --json" "$heapsim" show 2 --json --db "$db"
best "heapsim compare 2:gogc=50 2:gogc=200" "$heapsim" compare 2:gogc=50 2:gogc=200 --db "$db"
best "heapsim report 1 -o (small run, big file)" "$heapsim" report 1 --db "$db" -o "$out/history-report-1.html"
best "heapsim report 2 -o (the run of all the samples)" "$heapsim" report 2 --db "$db" -o "$out/history-report-2.html"
best "heapsim report 1 2 -o (both, overlaid)" "$heapsim" report 1 2 --db "$db" -o "$out/history-report-12.html"
{
    echo "# bench/history.sh $samples, $(date -u +%Y-%m-%dT%H:%MZ), best of $repeat"
    printf '%s\n' "${results[@]}"
} >"$out/history.txt"
echo "== also in $out/history.txt"
