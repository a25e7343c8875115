#!/usr/bin/env bash
# Out of heap: a churn task that keeps 200 MiB live in a 64 MiB heap fails
# with "out of memory"; the binary_trees tasks sharing that heap (same
# runtime settings, so one segment, two processes) are done with the
# reference output, the later one after the failure on the same heap; the
# run exits 1, is marked failed, and nothing is left in /dev/shm.
#
# Why binary_trees survives the pressure: churn fails on a 1 MiB request
# (129 pages, a large object) once no such run of free pages is left, while
# binary_trees only needs single 8 KiB pages and keeps < 200 KiB live.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/oom.yaml" <<'YAML'
name: oom
runtime: {heap_max: 64MiB}
tasks:
  - kernel: churn
    objects: 1000
    live_objects: 200
    min_bytes: 1MiB
    max_bytes: 1MiB
  - kernel: binary_trees
    depth: 10
  - kernel: binary_trees
    depth: 10
YAML
"$HEAPSIM" run "$T/oom.yaml" --workers 2 --db "$db" --quiet >"$T/out" 2>"$T/err"
expect_eq "run exit (a task failed)" "$?" 1
expect_eq "churn failed" "$(q "$db" "select status from tasks where kernel = 'churn'")" failed
q "$db" "select error from tasks where kernel = 'churn'" >"$T/churn.err"
expect_grep "the reason" "out of memory" "$T/churn.err"
expect_grep "the heap's limit" "heap exhausted" "$T/churn.err"
expect_eq "binary_trees done" \
    "$(q "$db" "select count(*) from tasks where kernel = 'binary_trees' and status = 'done'")" 2
for seq in 1 2; do
    q "$db" "select writefile('$T/bt$seq.out', output) from tasks where seq = $seq" >/dev/null
    check "binary_trees (seq $seq) output equals the reference" \
        cmp -s "$T/bt$seq.out" "$REF/tests/data/binary_trees_10.out"
done
expect_eq "one heap for the three tasks" "$(q "$db" "select count(distinct heap) from gc_cycles")" 1
expect_eq "run failed" "$(q "$db" "select status from runs")" failed
check "no heapsim segment left in /dev/shm" no_segments_left
finish
