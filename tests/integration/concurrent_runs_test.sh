#!/usr/bin/env bash
# Two runs writing one database at once, as two real processes (each with
# its own workers): both succeed and both are stored whole. WAL, the busy
# timeout and batched telemetry transactions are what make this work.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
# Telemetry every 10 ms, so the two runs' writes interleave for seconds.
cat >"$T/busy.yaml" <<'YAML'
name: busy
sample_interval: 10ms
task: {kernel: churn, objects: 600000, live_objects: 5000}
sweep: {gogc: [50, 100]}
YAML

# Both start on a file that does not exist yet: they race to create it too.
"$HEAPSIM" run "$T/busy.yaml" --workers 1 --db "$db" --quiet >"$T/a.out" 2>"$T/a.err" &
a=$!
"$HEAPSIM" run "$T/busy.yaml" --workers 1 --db "$db" --quiet >"$T/b.out" 2>"$T/b.err" &
b=$!
wait "$a"; rc_a=$?
wait "$b"; rc_b=$?
expect_eq "first run" "$rc_a" 0
expect_eq "second run" "$rc_b" 0
[ "$rc_a" = 0 ] || cat "$T/a.err" >&2
[ "$rc_b" = 0 ] || cat "$T/b.err" >&2

expect_eq "two runs, both done" "$(q "$db" "select group_concat(status) from runs")" "done,done"
expect_eq "every task done" "$(q "$db" "select count(*) from tasks where status = 'done'")" 4
expect_eq "both runs have telemetry" \
    "$(q "$db" "select count(distinct run_id) from samples")" 2
expect_eq "both runs have GC cycles" \
    "$(q "$db" "select count(distinct run_id) from gc_cycles")" 2
expect_eq "the file is in WAL mode" "$(q "$db" "pragma journal_mode")" wal
expect_eq "params filled for every task" \
    "$(q "$db" "select count(distinct task_id) from params where name = 'gogc'")" 4

check "no heapsim segment left in /dev/shm" no_segments_left
finish
