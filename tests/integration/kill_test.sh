#!/usr/bin/env bash
# A local worker killed with SIGKILL in the middle of a task: the lost
# attempt is said with its reason, the task runs again on the other worker,
# the run completes and nothing is left in /dev/shm.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/long.yaml" <<'YAML'
name: long
tasks:
  - kernel: churn
    objects: 10000000
    live_objects: 20000
  - kernel: binary_trees
    depth: 12
  - kernel: binary_trees
    depth: 12
YAML
"$HEAPSIM" run "$T/long.yaml" --workers 2 --db "$db" --json >"$T/run.json" 2>"$T/err" &
run=$!
# Wait until the churn task is running, then kill its worker.
victim=""
for i in $(seq 1 100); do
    sleep 0.1
    w="$(q "$db" "select worker from tasks where kernel = 'churn' and status = 'running'" 2>/dev/null)"
    if [ -n "$w" ]; then
        # Only this run's workers (its children): other runs on the machine
        # name their workers local-0, local-1 too.
        victim="$(pgrep -P "$run" -f "heapsim worker --connect .* --name $w( |$)" | head -n 1)"
        [ -n "$victim" ] && break
    fi
done
check "found the churn worker" test -n "$victim"
sleep 0.3
kill -9 "$victim"
wait "$run"
expect_eq "run exit (every task done)" "$?" 0
expect_eq "churn done" "$(q "$db" "select status from tasks where kernel = 'churn'")" done
expect_grep "the lost attempt and its reason" "attempt 1 on worker $w ended (the worker killed by signal 9" "$T/err"
check "churn ran again on the other worker" \
    test "$(q "$db" "select worker from tasks where kernel = 'churn'")" != "$w"
expect_eq "the others done" "$(q "$db" "select count(*) from tasks where kernel = 'binary_trees' and status = 'done'")" 2
expect_eq "run done" "$(q "$db" "select status from runs")" done
check "no heapsim segment left in /dev/shm" no_segments_left
finish
