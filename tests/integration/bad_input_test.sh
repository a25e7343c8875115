#!/usr/bin/env bash
# Bad input gets a one-line error naming the problem (file:line:column where
# one applies), exit status 2, and no run row.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
s="$T/s.yaml"

# expect_usage "what" PATTERN ARGS...: exit 2, PATTERN on stderr, no run row.
expect_usage() {
    local what="$1" pattern="$2"; shift 2
    "$HEAPSIM" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    expect_eq "$what: exit status" "$rc" 2
    expect_grep "$what: message" "$pattern" "$T/err"
    expect_eq "$what: one line" "$(wc -l <"$T/err")" 1
    if [ -f "$db" ]; then
        expect_eq "$what: no run written" "$(q "$db" 'select count(*) from runs')" 0
    fi
}

expect_usage "missing scenario" "nope.yaml" run "$T/nope.yaml" --db "$db"

# The environment the heap reads: a bad value is refused before anything runs.
HEAPSIM_PAGE_CACHE=yes expect_usage "bad HEAPSIM_PAGE_CACHE" \
    "^heapsim: HEAPSIM_PAGE_CACHE=yes: expected 0 or 1$" run "$REF/scenarios/quickstart.yaml" --db "$db"

printf 'name: x\ntask:\n  kernel: binary_trees\n  depth: [1, 2\n' >"$s"
expect_usage "malformed YAML" "s.yaml:[0-9]*:[0-9]*" run "$s" --db "$db"

printf 'name: x\ntask:\n  kernel: binary_treez\n' >"$s"
expect_usage "unknown kernel" "s.yaml:3:[0-9]*:.*binary_trees" run "$s" --db "$db"

printf 'name: x\ntask:\n  kernel: binary_trees\n  dpeth: 3\n' >"$s"
expect_usage "unknown parameter" "s.yaml:4:3:.*depth" run "$s" --db "$db"

printf 'name: x\ntask:\n  kernel: binary_trees\n  depth: 99\n' >"$s"
expect_usage "out of range" "s.yaml:4:[0-9]*:" run "$s" --db "$db"

good="$REF/scenarios/binary-trees.yaml"
expect_usage "bad flag" "unknown option '--frobnicate'" run "$good" --db "$db" --frobnicate
expect_usage "bad --workers" "--workers" run "$good" --db "$db" --workers zero
# A numeric option out of its range, or no number: "--NAME VALUE: expected ...".
expect_usage "--workers 0" "^heapsim run: --workers 0: expected a number from 1 to 1024" \
    run "$good" --db "$db" --workers 0
expect_usage "--workers 12x" "^heapsim run: --workers 12x: expected a number from 1 to 1024" \
    run "$good" --db "$db" --workers 12x
expect_usage "--heartbeat 5" "^heapsim coordinator: --heartbeat 5: expected milliseconds from 10 to 600000" \
    coordinator "$good" --db "$db" --heartbeat 5
expect_usage "--misses 101" "^heapsim coordinator: --misses 101: expected a number from 1 to 100" \
    coordinator "$good" --db "$db" --misses 101
expect_usage "--resume -1" "^heapsim run: --resume -1: expected a run id" run --resume -1 --db "$db"
expect_usage "--limit 99999999999999999999" "^heapsim runs: --limit 99999999999999999999: expected a number from 1 to 1000000" \
    runs --limit 99999999999999999999 --db "$db"
expect_usage "--task x" "^heapsim profile: --task x: expected a task's SEQ" profile 1 --task x -o "$T/p.pb.gz" --db "$db"
expect_usage "--timeout 0s" "^heapsim sql: --timeout 0s: expected a duration from 1ms to 1h" \
    sql "select 1" --timeout 0s --db "$db"
expect_usage "--interval 1ms" "^heapsim top: --interval 1ms: expected a duration from 100ms to 1h" \
    top 127.0.0.1:1 --interval 1ms
expect_usage "profile of a non-number" "^heapsim profile: RUN must be a run number, got 'abc'" \
    profile abc -o "$T/p.pb.gz" --db "$db"
expect_usage "report of a non-number" "RUN must be a run number, got '0'" \
    report 1 0 -o "$T/r.html" --db "$db"
expect_usage "bad --set" "--set" run "$good" --db "$db" --set depth
expect_usage "unknown --set key" "dpeth" run "$good" --db "$db" --set dpeth=3
expect_usage "--set out of range" "depth" run "$good" --db "$db" --set depth=1000
expect_usage "unknown command" "unknown command" frobnicate
expect_usage "worker without --connect" "--connect" worker
expect_usage "show without a database" "no database at" show 42 --db "$db"
check "show did not create a database" test ! -e "$db"
expect_usage "show of a non-number" "RUN must be a run number" show abc --db "$db"

# A database file that is not one: clear error, the file untouched.
printf 'this is not a database' >"$T/junk.db"
before="$(md5sum <"$T/junk.db")"
"$HEAPSIM" run "$good" --db "$T/junk.db" >"$T/out" 2>"$T/err"
expect_eq "junk db: exit status" "$?" 2
expect_grep "junk db: names the file" "junk.db" "$T/err"
expect_eq "junk db: untouched" "$(md5sum <"$T/junk.db")" "$before"

check "no heapsim segment left in /dev/shm" no_segments_left
finish
