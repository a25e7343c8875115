#!/usr/bin/env bash
# A coordinator killed with SIGKILL mid-run leaves a consistent database;
# `heapsim runs` and `show` say the run is interrupted (its owner is gone)
# without writing; `heapsim coordinator --resume RUN_ID` rebuilds the run
# from its stored scenario and token, runs only the unfinished tasks, and
# the worker that was still running rejoins it. A run whose coordinator is
# alive, or one that is done, cannot be resumed.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

cat >"$T/three.yaml" <<'YAML'
name: three
tasks:
  - kernel: binary_trees
    depth: 8
  - kernel: churn
    objects: 8000000
    live_objects: 20000
  - kernel: binary_trees
    depth: 9
YAML
churn_running() {
    [ "$(q "$db" "select status from tasks where kernel = 'churn'" 2>/dev/null)" = running ]
}

db="$T/h.db"
port=$((20000 + RANDOM % 30000))
ep="tcp://127.0.0.1:$port"
"$HEAPSIM" coordinator --bind "$ep" "$T/three.yaml" --db "$db" --set gogc=150 --quiet \
    2>"$T/c1.err" &
c1=$!
"$HEAPSIM" worker --connect "$ep" --name w 2>"$T/w.err" &
w=$!
wait_for 30 "the churn task running" churn_running
run_id="$(q "$db" "select id from runs")"
shown_status() {
    "$HEAPSIM" runs --db "$db" --json | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p' | head -n 1
}
expect_eq "a live coordinator's run: running" "$(shown_status)" running
expect_eq "its owner is the coordinator" "$(q "$db" "select owner_pid from runs")" "$c1"
other=$((port + 1))
"$HEAPSIM" coordinator --bind "tcp://127.0.0.1:$other" --resume "$run_id" --db "$db" \
    >/dev/null 2>"$T/c0.err"
expect_eq "resuming a run whose coordinator is alive: usage error" "$?" 2
expect_grep "resuming a live run: said" "is still running (pid $c1 on" "$T/c0.err"
kill -9 "$c1"
wait "$c1" 2>/dev/null
expect_eq "killed coordinator: database intact" "$(q "$db" "pragma integrity_check")" ok
expect_eq "killed coordinator: runs says interrupted" "$(shown_status)" interrupted
"$HEAPSIM" runs --db "$db" >"$T/runs.txt"
expect_grep "killed coordinator: the runs table" " interrupted " "$T/runs.txt"
"$HEAPSIM" runs --db "$db" --status interrupted --json >"$T/interrupted.json"
expect_grep "--status interrupted finds it" "\"run_id\": *$run_id" "$T/interrupted.json"
"$HEAPSIM" show "$run_id" --db "$db" >"$T/show.txt"
expect_grep "killed coordinator: show says interrupted" "interrupted" "$T/show.txt"
expect_grep "killed coordinator: show says why" "pid $c1 on .* is gone" "$T/show.txt"
expect_eq "the readers wrote nothing" "$(q "$db" "select status from runs")" running
expect_eq "the first task was done before" \
    "$(q "$db" "select status from tasks where seq = 0")" done
ended0="$(q "$db" "select ended_unix_ns from tasks where seq = 0")"

"$HEAPSIM" coordinator --bind "$ep" --resume "$run_id" --db "$db" --json \
    >"$T/resumed.json" 2>"$T/c2.err"
expect_eq "resumed coordinator: every task done" "$?" 0
wait "$w"
expect_eq "the worker rejoined and left when told" "$?" 0
expect_eq "one run, done" "$(q "$db" "select count(*) || status from runs")" 1done
expect_eq "three tasks done" "$(q "$db" "select count(*) from tasks where status = 'done'")" 3
expect_eq "the done task was not run again" \
    "$(q "$db" "select ended_unix_ns from tasks where seq = 0")" "$ended0"
expect_eq "the stored --set applies again" \
    "$(q "$db" "select json_extract(runtime_json, '\$.gogc') from tasks where seq = 1")" 150
expect_eq "the rejoined worker is a new row beside its old one" "$(q "$db" "select group_concat(name, ',') from (select name from workers order by id)")" "w,w#2"

"$HEAPSIM" coordinator --bind "$ep" --resume "$run_id" --db "$db" >/dev/null 2>"$T/c3.err"
expect_eq "a done run: usage error" "$?" 2
expect_grep "a done run: said" "nothing to resume" "$T/c3.err"
"$HEAPSIM" run --resume 999 --db "$db" >/dev/null 2>"$T/c4.err"
expect_eq "no such run: usage error" "$?" 2

"$HEAPSIM" clean >/dev/null 2>&1
check "no heapsim segment left in /dev/shm" no_segments_left
finish
