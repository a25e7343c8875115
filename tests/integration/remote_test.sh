#!/usr/bin/env bash
# The two halves run separately, as on several machines: a coordinator bound
# to a TCP port on loopback and two `heapsim worker --connect` processes.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    # A faster heartbeat than the default, learnt by the workers at welcome.
    "$HEAPSIM" coordinator --bind "tcp://127.0.0.1:$port" "$REF/tests/data/small.yaml" \
        --heartbeat 200 --misses 5 --db "$db" --json >"$T/run.json" 2>"$T/coord.err" &
    coord=$!
    sleep 0.5
    kill -0 "$coord" 2>/dev/null && break
    wait "$coord"
done
"$HEAPSIM" worker --connect "tcp://127.0.0.1:$port" --name alpha 2>"$T/w1.err" &
w1=$!
"$HEAPSIM" worker --connect "tcp://127.0.0.1:$port" --name beta 2>"$T/w2.err" &
w2=$!
wait "$coord"
expect_eq "coordinator exit" "$?" 0
wait "$w1"
expect_eq "worker alpha exit" "$?" 0
wait "$w2"
expect_eq "worker beta exit" "$?" 0
expect_eq "tasks done" "$(q "$db" "select count(*) from tasks where status = 'done'")" 5
expect_eq "both workers" "$(q "$db" "select group_concat(name, ',') from (select name from workers order by name)")" "alpha,beta"
expect_eq "json status" "$(q ":memory:" "select json_extract(readfile('$T/run.json'), '\$.status')")" done

# Port taken: a clear usage error.
"$HEAPSIM" coordinator --bind "tcp://127.0.0.1:$port" "$REF/tests/data/small.yaml" \
    --db "$db" >/dev/null 2>"$T/err" &
c1=$!
sleep 0.5
"$HEAPSIM" coordinator --bind "tcp://127.0.0.1:$port" "$REF/tests/data/small.yaml" \
    --db "$T/other.db" >/dev/null 2>"$T/err2"
expect_eq "port in use: exit" "$?" 2
expect_grep "port in use: message" "cannot bind" "$T/err2"
kill -INT "$c1"
wait "$c1"
expect_eq "interrupted coordinator" "$?" 130
expect_eq "interrupted run stored" "$(q "$db" "select status from runs order by id desc limit 1")" interrupted

check "no heapsim segment left in /dev/shm" no_segments_left
finish
