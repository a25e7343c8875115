#!/usr/bin/env bash
# A run killed outright (coordinator and workers, SIGKILL) leaves its heap in
# /dev/shm; `heapsim clean` removes it, and leaves alone a heap whose
# processes are alive.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/long.yaml" <<'YAML'
name: long
task:
  kernel: churn
  objects: 1000000000
  live_objects: 1000
YAML

start_run() {
    "$HEAPSIM" run "$T/long.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1 &
    RUN=$!
    for i in $(seq 1 100); do
        sleep 0.1
        [ -n "$(ls /dev/shm | grep "^$HEAPSIM_SHM_PREFIX" || true)" ] && return 0
    done
    return 1
}

check "a run's heap appears" start_run
first=$RUN
worker="$(pgrep -P "$first" | head -n 1)"
check "found the worker" test -n "$worker"
# The worker first: killed after its parent, it gets PDEATHSIG's SIGTERM
# and, if the kill of it comes a moment late, ends its task, closes and
# unlinks the heap cleanly (as it should), leaving nothing to clean.
kill -9 $worker "$first"
wait "$first" 2>/dev/null
sleep 0.2
left="$(ls /dev/shm | grep "^$HEAPSIM_SHM_PREFIX" || true)"
check "the killed run left its heap" test -n "$left"

# A second, live run: clean must not touch its heap.
check "a second run's heap appears" start_run
second=$RUN
sleep 0.2
"$HEAPSIM" clean >"$T/clean.txt" 2>&1
expect_eq "clean exit" "$?" 0
for s in $left; do
    expect_grep "clean names what it removed" "$s" "$T/clean.txt"
    check "the dead run's heap is gone" test ! -e "/dev/shm/$s"
done
check "the live run's heap is still there" test -n "$(ls /dev/shm | grep "^$HEAPSIM_SHM_PREFIX" || true)"
kill -INT "$second"
wait "$second"
expect_eq "the live run, interrupted" "$?" 130
check "no heapsim segment left in /dev/shm" no_segments_left
finish
