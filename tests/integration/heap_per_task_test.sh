#!/usr/bin/env bash
# A task is a program: by default each task runs on a fresh heap of its own
# (its GC cycles count from 1, nothing of the task before it is there), and
# the worker removes the heap when the task ends; `heap: shared` puts tasks
# with equal runtime settings on one heap. More runtime groups than a worker
# keeps heaps open (64) still run.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

cat >"$T/per_task.yaml" <<'YAML'
name: per-task
task: {kernel: churn, objects: 300000, live_objects: 20000, goroutines: 1}
# The stop-the-world collector paces by bytes alone, so equal tasks on
# fresh heaps run equal cycles; the concurrent one's trigger learns from
# timings (cons/mark) and may differ by one from run to run.
runtime: {collector: stw}
repeat: 3
YAML
{ cat "$T/per_task.yaml"; echo "heap: shared"; } >"$T/shared.yaml"

"$HEAPSIM" run "$T/per_task.yaml" --workers 1 --db "$T/p.db" --quiet >/dev/null 2>"$T/p.err"
expect_eq "per task: exit" "$?" 0
expect_eq "per task: one heap per task" "$(q "$T/p.db" "select count(distinct heap) from gc_cycles")" 3
expect_eq "per task: every task's cycles count from 1" \
    "$(q "$T/p.db" "select count(*) from (select task_id, min(cycle) c from gc_cycles group by task_id) where c = 1")" 3
expect_eq "per task: the same cycles each time (nothing inherited)" \
    "$(q "$T/p.db" "select count(distinct gc_cycles) from tasks")" 1

"$HEAPSIM" run "$T/shared.yaml" --workers 1 --db "$T/s.db" --quiet >/dev/null 2>"$T/s.err"
expect_eq "shared: exit" "$?" 0
expect_eq "shared: one heap" "$(q "$T/s.db" "select count(distinct heap) from gc_cycles")" 1
expect_eq "shared: cycles go on from one task to the next" \
    "$(q "$T/s.db" "select count(*) from (select task_id, min(cycle) c from gc_cycles group by task_id) where c = 1")" 1

# 70 runtime groups on one worker: per task and shared.
gogcs="$(seq -s, 30 99)"
cat >"$T/many.yaml" <<YAML
name: many
task: {kernel: binary_trees, depth: 4}
sweep: {gogc: [$gogcs]}
YAML
{ cat "$T/many.yaml"; echo "heap: shared"; } >"$T/many_shared.yaml"
for f in many many_shared; do
    "$HEAPSIM" run "$T/$f.yaml" --workers 1 --db "$T/$f.db" --quiet >/dev/null 2>"$T/$f.err"
    expect_eq "$f: exit" "$?" 0
    expect_eq "$f: 70 tasks done" "$(q "$T/$f.db" "select count(*) from tasks where status = 'done'")" 70
done

check "no heapsim segment left in /dev/shm" no_segments_left
finish
