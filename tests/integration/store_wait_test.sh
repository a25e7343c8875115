#!/usr/bin/env bash
# `heapsim run` waits at the end of a run for its storage writer to store
# what is queued. With the database locked by another process that wait
# can last the writer's whole minute of retries; Ctrl-C (a real SIGINT)
# stops it: the run exits 130 at once with one line saying how many
# records were not written, and what was written before stays (the file
# sound, its rows untouched). A SQLite file held locked by this script
# (BEGIN EXCLUSIVE in a sqlite3 process), a real run, a real signal.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

# The run must last until the lock is taken: the first stored sample, the
# sqlite3 start and BEGIN EXCLUSIVE all come before its end. A fixed amount
# of work ends too soon on a fast machine, so the run is wall-clock work:
# one producer spinning 1 s on each of 8 items (`work: spin`), 8 s however
# fast or loaded the machine, with a sample every 10 ms meanwhile.
cat >"$T/s.yaml" <<'YAML'
name: locked
task: {kernel: producer_consumer, producers: 1, consumers: 1, items: 8, work: spin,
       variation: fixed, produce_ns: 1000000000, consume_ns: 0}
sample_interval: 10ms
YAML
db="$T/h.db"
"$HEAPSIM" run "$T/s.yaml" --workers 1 --db "$db" --quiet >"$T/out" 2>"$T/err" &
run=$!
samples_stored() { [ "$(q "$db" "select count(*) from samples" 2>/dev/null)" -gt 0 ] 2>/dev/null; }
wait_for 60 "samples stored while the run goes on" samples_stored

# Another process takes the database's write lock and keeps it.
mkfifo "$T/lock.in"
sqlite3 "$db" <"$T/lock.in" >"$T/lock.out" 2>&1 &
locker=$!
exec 3>"$T/lock.in"
echo ".timeout 30000" >&3
echo "BEGIN EXCLUSIVE;" >&3
echo "select 'locked';" >&3
wait_for 60 "the database locked by another process" grep -q '^locked$' "$T/lock.out"
before="$(q "$db" "select count(*) from samples")"

wait_for 60 "the run's end says it waits for the database" \
    grep -q "waiting for the database to store the run's last records" "$T/err"
kill -INT "$run"
wait "$run"
expect_eq "interrupted while waiting for the database: exit status" "$?" 130
expect_grep "one line says how many records were not written" \
    "stopped waiting for the database: [1-9][0-9]* records not written" "$T/err"
expect_eq "said once" "$(grep -c 'records not written' "$T/err")" 1

echo "ROLLBACK;" >&3
exec 3>&-
wait "$locker"
expect_eq "the file is sound" "$(q "$db" "pragma integrity_check")" ok
expect_eq "what was written before stays, nothing after" \
    "$(q "$db" "select count(*) from samples")" "$before"
expect_eq "the run is there, not marked finished" \
    "$(q "$db" "select count(*) from runs where ended_unix_ns is null")" 1
check "no heapsim segment left in /dev/shm" no_segments_left
finish
