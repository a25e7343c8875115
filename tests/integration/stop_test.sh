#!/usr/bin/env bash
# A worker stopped mid-task ends the task at its next safepoint and hands it
# back: SIGTERM to a worker running a long kernel on a heap shared with
# another worker; the task is recorded as interrupted and queued again, the
# worker exits 0 at once with a line saying so, and the other worker goes
# on on the same heap and runs the task to the end. A worker whose
# coordinator is lost (SIGKILL) abandons its running kernel the same way
# and looks for a coordinator again. `heapsim run` killed with SIGKILL: its
# local workers abandon their kernels and exit, leaving no heap behind,
# `heapsim runs` says interrupted, and `heapsim run --resume` finishes it.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

cat >"$T/shared.yaml" <<'YAML'
name: shared
heap: shared
tasks:
  - kernel: churn
    objects: 60000000
    live_objects: 20000
  - kernel: binary_trees
    depth: 12
YAML
churn_running() {
    [ "$(q "$db" "select status from tasks where kernel = 'churn'" 2>/dev/null)" = running ]
}
start_coordinator() {
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        ep="tcp://127.0.0.1:$port"
        "$HEAPSIM" coordinator --bind "$ep" "$@" --db "$db" --quiet \
            --heartbeat 200 --misses 3 2>"$T/coord.err" &
        coord=$!
        sleep 0.3
        kill -0 "$coord" 2>/dev/null && return 0
        wait "$coord"
    done
}

# ---- SIGTERM to a worker in the middle of a task.
db="$T/h.db"
start_coordinator "$T/shared.yaml" --expect-workers 2
"$HEAPSIM" worker --connect "$ep" --name a 2>"$T/a.err" &
a=$!
"$HEAPSIM" worker --connect "$ep" --name b 2>"$T/b.err" &
b=$!
wait_for 30 "the churn task running" churn_running
holder="$(q "$db" "select worker from tasks where kernel = 'churn'")"
case "$holder" in
a) victim=$a other=b ;;
b) victim=$b other=a ;;
*) victim="" other="" ;;
esac
check "the churn task's worker is one of ours" test -n "$victim"
kill -TERM "$victim"
wait "$victim"
expect_eq "the stopped worker exits 0" "$?" 0
# The interrupt is taken at the first poll that sees it: a heap safepoint
# (rt.c) or a scheduler switch point (sched.c), whichever the kernel
# reaches first.
expect_grep "it says the task was interrupted and handed back" \
    "attempt 1 interrupted after .*stopped by SIGTERM (interrupted at a \(.* safepoint\|switch point\) of goroutine.*handed back" \
    "$T/$holder.err"
wait "$coord"
expect_eq "the run completes" "$?" 0
for w in $a $b; do [ "$w" = "$victim" ] || wait "$w"; done
expect_eq "every task done" "$(q "$db" "select count(*) from tasks where status = 'done'")" 2
expect_eq "the churn task ran again on the other worker" \
    "$(q "$db" "select worker from tasks where kernel = 'churn'")" "$other"
expect_eq "the interrupted attempt is recorded, queued again" \
    "$(q "$db" "select count(*) from events where kind = 'task_requeued' and worker = '$holder'
                and detail like 'attempt 1: interrupted after % s: the worker was stopped by SIGTERM%'")" 1
expect_grep "the coordinator says it was queued again" "ended (interrupted after .*); queued again" \
    "$T/coord.err"
# The other worker went on on the shared heap: it collected there after
# the interruption, and finished both tasks.
expect_eq "the survivor collected on the shared heap" \
    "$(q "$db" "select count(*) > 0 from gc_cycles where worker = '$other'
                and start_unix_ns > (select min(unix_ns) from events where kind = 'task_requeued')")" 1
expect_eq "one heap for the run" "$(q "$db" "select count(distinct heap) from gc_cycles")" 1
expect_eq "database intact" "$(q "$db" "pragma integrity_check")" ok

# ---- A worker whose coordinator is lost in the middle of a task.
db="$T/lost.db"
start_coordinator "$T/shared.yaml"
"$HEAPSIM" worker --connect "$ep" --name c 2>"$T/c.err" &
c=$!
wait_for 30 "the churn task running (2)" churn_running
kill -9 "$coord"
wait "$coord" 2>/dev/null
wait_for 30 "the worker says it abandoned the task" \
    grep -q "task [0-9]* attempt 1 interrupted after .*lost its coordinator.*the coordinator runs it again" \
    "$T/c.err"
wait_for 30 "the worker looks for a coordinator again" grep -q "no coordinator at" "$T/c.err"
kill -TERM "$c"
wait "$c"
expect_eq "stopped while looking: exit 0" "$?" 0
expect_eq "database intact (2)" "$(q "$db" "pragma integrity_check")" ok

# ---- `heapsim run` killed with SIGKILL.
db="$T/run.db"
"$HEAPSIM" run "$T/shared.yaml" --workers 2 --db "$db" --quiet 2>"$T/run.err" &
run=$!
wait_for 30 "the churn task running (3)" churn_running
kill -9 "$run"
wait "$run" 2>/dev/null
wait_for 30 "its workers said they abandoned the task" \
    grep -q "interrupted after .*the run's process is gone" "$T/run.err" ||
    sed 's/^/    run.err: /' "$T/run.err"
wait_for 30 "its workers left no heap behind" no_segments_left
expect_eq "runs says interrupted" \
    "$("$HEAPSIM" runs --db "$db" --json | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')" interrupted
expect_eq "database intact (3)" "$(q "$db" "pragma integrity_check")" ok
"$HEAPSIM" run --resume "$(q "$db" "select id from runs")" --workers 2 --db "$db" --quiet \
    >/dev/null 2>"$T/resume.err"
expect_eq "run --resume finishes it" "$?" 0
expect_eq "every task done (3)" "$(q "$db" "select count(*) from tasks where status = 'done'")" 2

"$HEAPSIM" clean >/dev/null 2>&1
check "no heapsim segment left in /dev/shm" no_segments_left
finish
