#!/usr/bin/env bash
# `heapsim run` with two real worker processes on a small scenario, then the
# SQLite file is checked: the run row, every task done, workers, samples,
# GC cycles, binary_trees' output equal to the reference; the --json summary;
# nothing left in /dev/shm.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
"$HEAPSIM" run "$REF/tests/data/small.yaml" --workers 2 --db "$db" >"$T/out.txt" 2>"$T/err.txt"
expect_eq "run exit status" "$?" 0
[ -s "$T/err.txt" ] && sed 's/^/    stderr: /' "$T/err.txt" | head -n 20

expect_eq "one run" "$(q "$db" 'select count(*) from runs')" 1
expect_eq "run status" "$(q "$db" 'select status from runs')" done
expect_eq "run name" "$(q "$db" 'select name from runs')" small
expect_eq "tasks" "$(q "$db" 'select count(*) from tasks')" 5
expect_eq "tasks done" "$(q "$db" "select count(*) from tasks where status = 'done'")" 5
expect_eq "workers" "$(q "$db" 'select count(*) from workers')" 2
expect_eq "tasks spread over both workers" \
    "$(q "$db" 'select count(distinct worker) from tasks')" 2
check "samples stored" test "$(q "$db" 'select count(*) from samples')" -gt 0
check "samples of the long task" \
    test "$(q "$db" "select count(*) from samples s join tasks t on s.task_id = t.id where t.seq = 1")" -gt 0
check "GC cycles stored" test "$(q "$db" 'select count(*) from gc_cycles')" -gt 0
check "GC cycles counted on tasks" test "$(q "$db" 'select sum(gc_cycles) from tasks')" -gt 0
check "wall times" test "$(q "$db" 'select min(wall_ns) from tasks')" -gt 0
check "allocations counted" test "$(q "$db" "select alloc_objects from tasks where seq = 1")" -gt 100000
check "peak heap" test "$(q "$db" "select peak_heap_bytes from tasks where seq = 1")" -gt 0

# binary_trees depth 10: byte for byte the reference output.
q "$db" "select writefile('$T/bt10.out', output) from tasks where seq = 0" >/dev/null
check "binary_trees output equals the reference" cmp -s "$T/bt10.out" "$REF/tests/data/binary_trees_10.out"
expect_grep "gcbench self-check" "Self-check passed" <(q "$db" "select output from tasks where kernel = 'gcbench'")

# The summary table names every kernel.
for k in binary_trees churn gcbench spawn; do
    expect_grep "summary lists $k" "$k" "$T/out.txt"
done

# The --json summary: run id, status, and per task kernel, params, status,
# wall_ns and the result (binary_trees' output text).
"$HEAPSIM" run "$REF/tests/data/small.yaml" --workers 2 --db "$db" --json \
    --set depth=12 >"$T/run.json" 2>"$T/err2.txt"
expect_eq "json run exit status" "$?" 0
j() { q ":memory:" "select json_extract(readfile('$T/run.json'), '$1')"; }
expect_eq "json run_id" "$(j '$.run_id')" 2
expect_eq "json status" "$(j '$.status')" done
expect_eq "json task kernel" "$(j '$.tasks[0].kernel')" binary_trees
expect_eq "json --set applied" "$(j '$.tasks[0].params.depth')" 12
expect_eq "json task status" "$(j '$.tasks[1].status')" done
check "json wall_ns" test "$(j '$.tasks[0].wall_ns')" -gt 0
expect_grep "json output text" "long lived tree of depth 12" <(j '$.tasks[0].result.output')
# Each kernel metric beside the output, a number (bench/runtime.sh reads them).
read -r mseq mname mvalue <<<"$(q "$db" "select t.seq, m.name, m.value from metrics m
    join tasks t on m.task_id = t.id where t.run_id = 2 order by t.seq, m.name limit 1" | tr '|' ' ')"
check "a kernel metric stored" test -n "$mname"
expect_eq "json result: the metric $mname" "$(j "\$.tasks[$mseq].result.\"$mname\"")" "$mvalue"
expect_eq "json: the stored wall_ns" "$(j '$.tasks[1].wall_ns')" \
    "$(q "$db" "select wall_ns from tasks where run_id = 2 and seq = 1")"

# The summary is `heapsim show` of the run: run --json and show --json of
# the same run are one document (every task figure, point, runtime_metrics),
# and the text summary is show's text.
"$HEAPSIM" show 2 --db "$db" --json >"$T/show.json"
expect_eq "show --json exit status" "$?" 0
js() { q ":memory:" "select json(json_extract(readfile('$1'), '$2'))"; }
check "json tasks read" test -n "$(js "$T/run.json" '$.tasks[0].gc_cycles')"
for i in 0 1 2 3 4; do
    expect_eq "run --json and show --json agree on task $i" \
        "$(js "$T/run.json" "\$.tasks[$i]")" "$(js "$T/show.json" "\$.tasks[$i]")"
done
expect_eq "run --json and show --json: the same document" \
    "$(q ":memory:" "select json(readfile('$T/run.json'))")" \
    "$(q ":memory:" "select json(readfile('$T/show.json'))")"
"$HEAPSIM" show 1 --db "$db" >"$T/show.txt"
expect_eq "the text summary is show's text" "$(tail -n +2 "$T/out.txt")" "$(cat "$T/show.txt")"
expect_grep "the summary names the run" "^run 1: small (done)" "$T/out.txt"

# runtime: {preempt: ...} reaches the worker's scheduler: with a slice the
# goroutines are preempted (Go's sysmon), with `off` never; Go's 10 ms when
# not set. The producer and the consumer spin 200 ms per item, polling
# safepoints (`work: spin`): wall-clock work, not a fixed amount of it, so
# however fast or loaded the machine, each runs for 200 slices of 1 ms.
cat >"$T/preempt.yaml" <<'YAML'
name: preempt
task: {kernel: producer_consumer, producers: 1, consumers: 1, items: 2, work: spin,
       variation: fixed, produce_ns: 200000000, consume_ns: 200000000}
sweep: {preempt: [off, 1ms]}
YAML
pdb="$T/preempt.db"
"$HEAPSIM" run "$T/preempt.yaml" --workers 1 --db "$pdb" --quiet >/dev/null 2>&1
expect_eq "preempt run exit status" "$?" 0
preemptions() {   # task seq -> its goroutine_preemptions, "" when none
    q "$pdb" "select cast(m.value as integer) from metrics m join tasks t on m.task_id = t.id
              where t.seq = $1 and m.name = 'goroutine_preemptions'"
}
expect_eq "preempt: off preempts nothing" "$(preemptions 0)" ""
check "preempt: 1ms preempts the spinning goroutines" test "$(preemptions 1)" -gt 0

check "no heapsim segment left in /dev/shm" no_segments_left
finish
