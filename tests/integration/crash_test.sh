#!/usr/bin/env bash
# Crashes on either side of the socket:
#  - `heapsim run` killed with SIGKILL: its local workers exit too;
#  - a coordinator killed with SIGKILL mid-run: the database stays
#    consistent, its worker notices, tries again with a backoff and joins
#    the next coordinator on the same endpoint, which it serves to the end;
#  - SIGTERM to a worker mid-task: it exits, the coordinator runs the task
#    on the other worker and the run completes.
# Only this test's own child processes are looked at or killed.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

cat >"$T/long.yaml" <<'YAML'
name: long
task: {kernel: churn, objects: 1000000000, live_objects: 20000}
YAML
cat >"$T/mid.yaml" <<'YAML'
name: mid
tasks:
  - kernel: churn
    objects: 6000000
    live_objects: 20000
  - kernel: binary_trees
    depth: 10
YAML

alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
running_task() { [ -n "$(q "$1" "select 1 from tasks where status = 'running'" 2>/dev/null)" ]; }

# ---- heapsim run killed: its workers follow ----------------------------
"$HEAPSIM" run "$T/long.yaml" --workers 2 --db "$T/run.db" --quiet 2>"$T/run.err" &
run=$!
wait_for 30 "run: a task running" running_task "$T/run.db"
workers="$(pgrep -P "$run")"
expect_eq "run: two local workers" "$(echo "$workers" | wc -w)" 2
kill -9 "$run"
wait "$run" 2>/dev/null
for w in $workers; do
    wait_for 30 "run: local worker $w exits with its parent" dead "$w"
done

# ---- coordinator killed: the worker rejoins the next one ---------------
port=$((20000 + RANDOM % 30000))
ep="tcp://127.0.0.1:$port"
"$HEAPSIM" coordinator --bind "$ep" "$T/long.yaml" --db "$T/c.db" --quiet 2>"$T/c1.err" &
c1=$!
"$HEAPSIM" worker --connect "$ep" --name solo 2>"$T/w.err" &
w=$!
wait_for 30 "coordinator 1: its task running" running_task "$T/c.db"
kill -9 "$c1"
wait "$c1" 2>/dev/null
expect_eq "killed coordinator: database intact" "$(q "$T/c.db" "pragma integrity_check")" ok
# The worker is still in its kernel (it cannot be cut short); it is told to
# stop and leaves within its grace.
kill -TERM "$w"
wait "$w"
rc=$?
check "worker stopped in a kernel exits (0 or 143), got $rc" test "$rc" = 143 -o "$rc" = 0

"$HEAPSIM" worker --connect "$ep" --name solo 2>"$T/w2.err" &
w2=$!
# No coordinator yet: the worker waits and tries again.
wait_for 30 "worker without coordinator says it tries again" grep -q "trying again in" "$T/w2.err"
check "worker without coordinator keeps trying" alive "$w2"
"$HEAPSIM" coordinator --bind "$ep" "$REF/tests/data/small.yaml" --db "$T/c.db" \
    --quiet 2>"$T/c2.err" &
c2=$!
wait "$c2"
expect_eq "coordinator 2 finishes with the rejoined worker" "$?" 0
wait "$w2"
expect_eq "rejoined worker exits 0" "$?" 0
expect_eq "second run done" "$(q "$T/c.db" "select status from runs order by id desc limit 1")" done

# ---- SIGTERM to a worker mid-task: the task runs elsewhere -------------
port=$((20000 + RANDOM % 30000))
ep="tcp://127.0.0.1:$port"
"$HEAPSIM" coordinator --bind "$ep" "$T/mid.yaml" --db "$T/t.db" --quiet 2>"$T/t.err" &
c3=$!
"$HEAPSIM" worker --connect "$ep" --name first 2>"$T/first.err" &
first=$!
wait_for 30 "the churn task running on first" running_task "$T/t.db"
"$HEAPSIM" worker --connect "$ep" --name second 2>"$T/second.err" &
second=$!
kill -TERM "$first"
wait "$first"
rc=$?
check "first stopped (0 or 143), got $rc" test "$rc" = 143 -o "$rc" = 0
wait "$c3"
expect_eq "run completes without first" "$?" 0
wait "$second"
expect_eq "second exits 0" "$?" 0
expect_eq "both tasks done" "$(q "$T/t.db" "select count(*) from tasks where status = 'done'")" 2

# Processes killed in a kernel leave their heaps; `heapsim clean` finds
# them stale (no live process attached) and removes them.
"$HEAPSIM" clean >/dev/null 2>&1
check "no heapsim segment left in /dev/shm after clean" no_segments_left
finish
