#!/usr/bin/env bash
# The run history: runs, show and sql, as tables and as JSON; sql is
# read-only.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
"$HEAPSIM" run "$REF/scenarios/binary-trees.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "run" "$?" 0

"$HEAPSIM" runs --db "$db" >"$T/runs.txt"
expect_eq "runs exit" "$?" 0
expect_grep "runs lists the run" "binary-trees" "$T/runs.txt"
"$HEAPSIM" runs --db "$db" --json >"$T/runs.json"
expect_eq "runs --json" "$(q ":memory:" "select json_extract(readfile('$T/runs.json'), '\$[0].name')")" binary-trees

"$HEAPSIM" show 1 --db "$db" >"$T/show.txt"
expect_eq "show exit" "$?" 0
expect_grep "show has the kernel" "binary_trees" "$T/show.txt"
"$HEAPSIM" show 1 --db "$db" --json >"$T/show.json"
expect_eq "show --json status" "$(q ":memory:" "select json_extract(readfile('$T/show.json'), '\$.status')")" done

"$HEAPSIM" show 42 --db "$db" >"$T/out" 2>"$T/err"
expect_eq "show of a missing run" "$?" 2
expect_grep "show of a missing run: message" "no run 42" "$T/err"

"$HEAPSIM" sql "select kernel, status from tasks" --db "$db" >"$T/sql.txt"
expect_eq "sql exit" "$?" 0
expect_grep "sql table" "binary_trees" "$T/sql.txt"
"$HEAPSIM" sql "select count(*) as n from tasks" --db "$db" --json >"$T/sql.json"
expect_eq "sql --json" "$(q ":memory:" "select json_extract(readfile('$T/sql.json'), '\$[0].n')")" 1

"$HEAPSIM" sql "delete from runs" --db "$db" >"$T/out" 2>"$T/err"
expect_eq "sql write refused" "$?" 2
expect_eq "nothing deleted" "$(q "$db" 'select count(*) from runs')" 1
"$HEAPSIM" sql "selec nonsense" --db "$db" >"$T/out" 2>"$T/err"
expect_eq "bad sql" "$?" 2
expect_grep "bad sql message" "syntax error" "$T/err"
"$HEAPSIM" runs --db "$T/none.db" >"$T/out" 2>"$T/err"
expect_eq "missing db" "$?" 2
check "missing db not created" test ! -e "$T/none.db"

"$HEAPSIM" kernels >"$T/k.txt"
expect_grep "kernels lists binary_trees" "binary_trees" "$T/k.txt"
"$HEAPSIM" check "$REF/tests/data/small.yaml" >"$T/c.txt"
expect_eq "check exit" "$?" 0
expect_grep "check counts tasks" "5 tasks" "$T/c.txt"

check "no heapsim segment left in /dev/shm" no_segments_left
finish
