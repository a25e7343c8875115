#!/usr/bin/env bash
# The run history as a product: runs with filters, show per sweep point,
# compare (Welch's t-test), sql bounded and as CSV, export, report; and bad
# input: an unknown run, a file that is not a heapsim database, a newer
# schema, an unwritable output -- each a one-line error, exit 2, nothing
# overwritten.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/sweep.yaml" <<'YAML'
name: gogc-sweep
sample_interval: 10ms
task: {kernel: churn, objects: 200000, live_objects: 5000}
sweep: {gogc: [50, 400]}
repeat: 3
seed: 1
YAML
cat >"$T/one.yaml" <<'YAML'
name: one
task: {kernel: binary_trees, depth: 12}
YAML
"$HEAPSIM" run "$T/sweep.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "sweep run" "$?" 0
"$HEAPSIM" run "$T/one.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "second run" "$?" 0
json() { q ":memory:" "select json_extract(readfile('$1'), '$2')"; }

# ---- runs ----
"$HEAPSIM" runs --db "$db" >"$T/runs.txt"
expect_eq "runs exit" "$?" 0
expect_grep "runs: a header" "RUN  STARTED" "$T/runs.txt"
expect_eq "runs: newest first" "$(sed -n 3p "$T/runs.txt" | awk '{print $1}')" 2
"$HEAPSIM" runs --db "$db" --scenario gogc-sweep --json >"$T/r.json"
expect_eq "runs --scenario" "$(json "$T/r.json" '$[0].name')" gogc-sweep
expect_eq "runs --scenario: one run" "$(q ":memory:" "select json_array_length(readfile('$T/r.json'))")" 1
"$HEAPSIM" runs --db "$db" --status failed --json >"$T/r.json"
expect_eq "runs --status failed: none" "$(q ":memory:" "select json_array_length(readfile('$T/r.json'))")" 0
"$HEAPSIM" runs --db "$db" --since 1h --limit 1 --json >"$T/r.json"
expect_eq "runs --since 1h --limit 1" "$(q ":memory:" "select json_array_length(readfile('$T/r.json'))")" 1
"$HEAPSIM" runs --db "$db" --since 2999-01-01 --json >"$T/r.json"
expect_eq "runs --since the future: none" "$(q ":memory:" "select json_array_length(readfile('$T/r.json'))")" 0
"$HEAPSIM" runs --db "$db" --since yesterday >"$T/out" 2>"$T/err"
expect_eq "runs --since nonsense: exit 2" "$?" 2
expect_grep "runs --since nonsense: says why" "expected a date" "$T/err"

# ---- show ----
"$HEAPSIM" show 1 --db "$db" >"$T/show.txt"
expect_eq "show exit" "$?" 0
for want in "GC CPU" "P50 PAUSE" "P99 PAUSE" "MAX PAUSE" "PEAK HEAP" "GOROUTINES" \
            "gogc=50" "gogc=400" "min..max over the repeats done" "ns_per_alloc" \
            "runtime.gogc="; do
    expect_grep "show: $want" "$want" "$T/show.txt"
done
check "show: kernel metrics in human units" grep -qE "ns_per_alloc +[0-9.]+ ns" "$T/show.txt"
"$HEAPSIM" show 1 --db "$db" --json >"$T/show.json"
expect_eq "show --json: points" "$(json "$T/show.json" '$.points[1].label')" "gogc=400"
expect_eq "show --json: repeats" "$(json "$T/show.json" '$.points[0].wall_ns.n')" 3
check "show --json: p99 pause" test -n "$(json "$T/show.json" '$.points[0].pause_p99_ns.mean')"

# ---- compare ----
"$HEAPSIM" compare 1:gogc=50 1:gogc=400 --db "$db" >"$T/cmp.txt"
expect_eq "compare two points exit" "$?" 0
expect_grep "compare states the test" "Welch's t-test, two-sided, at 95 %" "$T/cmp.txt"
expect_grep "compare: GC cycles fall with GOGC, significantly" "^  GC .*-[0-9.]*%  (p=" "$T/cmp.txt"
"$HEAPSIM" compare 1:0 2 --db "$db" >"$T/cmp2.txt"
expect_eq "compare across runs exit" "$?" 0
expect_grep "compare: one repeat on a side is ~" "~  (n=3+1)" "$T/cmp2.txt"
"$HEAPSIM" compare 1:gogc=50 1:gogc=400 --db "$db" --json >"$T/cmp.json"
expect_eq "compare --json: gc_cycles significant" \
    "$(q ":memory:" "select json_extract(value, '\$.significant') from json_each(readfile('$T/cmp.json'), '\$.pairs[0].figures') where json_extract(value, '\$.name') = 'gc_cycles'")" 1
"$HEAPSIM" compare 1:gogc=999 2 --db "$db" >"$T/out" 2>"$T/err"
expect_eq "compare: unknown point exit 2" "$?" 2
expect_grep "compare: unknown point says so" "no point 'gogc=999'" "$T/err"

# ---- sql ----
"$HEAPSIM" sql "select name, value from params where name = 'gogc' order by task_id limit 2" --db "$db" --csv >"$T/sql.csv"
expect_eq "sql --csv" "$(tr -d '\r' <"$T/sql.csv" | tr '\n' ' ')" "name,value gogc,50 gogc,50 "
"$HEAPSIM" sql "select 'a,b' as x, null as y" --db "$db" --csv >"$T/sql.csv"
expect_eq "sql --csv quotes" "$(tr -d '\r' <"$T/sql.csv" | sed -n 2p)" '"a,b",'
start=$(date +%s)
"$HEAPSIM" sql "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c" \
    --db "$db" --timeout 500ms >"$T/out" 2>"$T/err"
expect_eq "sql: endless CTE stopped, exit 2" "$?" 2
expect_grep "sql: endless CTE: says why" "ran longer than 500 ms" "$T/err"
check "sql: endless CTE stopped within the minute" test $(( $(date +%s) - start )) -lt 60
"$HEAPSIM" sql "select length(randomblob(1e9))" --db "$db" >"$T/out" 2>"$T/err"
expect_eq "sql: randomblob(1e9) refused, exit 2" "$?" 2
expect_grep "sql: randomblob(1e9): says why" "larger than 16777216 bytes" "$T/err"
expect_eq "sql: one line" "$(wc -l <"$T/err")" 1
"$HEAPSIM" sql "select count(*) from run_summary" --db "$db" >"$T/out"
expect_eq "sql: the run_summary view" "$?" 0

# ---- export ----
"$HEAPSIM" export 1 --db "$db" -o "$T/e.json"
expect_eq "export json" "$?" 0
expect_eq "export: every task" "$(q ":memory:" "select json_array_length(readfile('$T/e.json'), '\$.tasks')")" 6
expect_eq "export: every sample of the run" \
    "$(q ":memory:" "select sum(json_array_length(value, '\$.samples')) from json_each(readfile('$T/e.json'), '\$.tasks')")" \
    "$(q "$db" 'select count(*) from samples where run_id = 1')"
expect_eq "export: every GC cycle of the run" \
    "$(q ":memory:" "select sum(json_array_length(value, '\$.gc_cycles')) from json_each(readfile('$T/e.json'), '\$.tasks')")" \
    "$(q "$db" 'select count(*) from gc_cycles where run_id = 1')"
"$HEAPSIM" export 1 --db "$db" --format csv >"$T/e.csv"
expect_eq "export csv" "$?" 0
expect_grep "export csv: sections" "^# gc_cycles" "$T/e.csv"

# ---- report ----
"$HEAPSIM" report 1 --db "$db" -o "$T/r.html" 2>"$T/err"
expect_eq "report" "$?" 0
expect_grep "report: heap chart with data" 'data-chart="heap" data-points="[1-9]' "$T/r.html"
expect_grep "report: the sweep over gogc" "wall over gogc" "$T/r.html"
"$HEAPSIM" report 1 2 --db "$db" -o "$T/r2.html" 2>"$T/err"
expect_eq "report of two runs" "$?" 0
expect_grep "report of two runs: both" "Run 2:" "$T/r2.html"

# ---- bad input: one line, exit 2, nothing written or overwritten ----
# expect_bad "what" PATTERN ARGS...
expect_bad() {
    local what="$1" pattern="$2"; shift 2
    "$HEAPSIM" "$@" >"$T/out" 2>"$T/err"
    expect_eq "$what: exit 2" "$?" 2
    expect_grep "$what: message" "$pattern" "$T/err"
    expect_eq "$what: one line" "$(wc -l <"$T/err")" 1
}
for cmd in show export; do
    expect_bad "$cmd of an unknown run" "no run 42 in" $cmd 42 --db "$db"
done
expect_bad "compare with an unknown run" "no run 42 in" compare 1 42 --db "$db"
echo "an earlier report" >"$T/keep.html"
expect_bad "report of an unknown run" "no run 42 in" report 42 --db "$db" -o "$T/keep.html"
expect_eq "report of an unknown run: the file is untouched" "$(cat "$T/keep.html")" "an earlier report"
expect_bad "report to a missing directory" "cannot write $T/nodir/r.html" report 1 --db "$db" -o "$T/nodir/r.html"
check "report to a missing directory: nothing made" test ! -e "$T/nodir"
expect_bad "report to a directory" "it is a directory" report 1 --db "$db" -o "$T"
expect_bad "export to an unwritable place" "cannot write /proc/heapsim-export.json" export 1 --db "$db" -o /proc/heapsim-export.json
check "no temporary left beside the outputs" test -z "$(ls "$T" | grep '\.tmp\.')"

printf 'this is not a database, just text\n%.0s' {1..200} >"$T/text.db"
cp "$T/text.db" "$T/text.orig"
for cmd in "runs" "show 1" "export 1" "report 1 -o $T/x.html"; do
    expect_bad "$cmd on a text file" "not a heapsim database" $cmd --db "$T/text.db"
done
expect_bad "sql on a text file" "not a heapsim database" sql "select 1" --db "$T/text.db"
check "report on a text file: no report" test ! -e "$T/x.html"
check "the text file is untouched" cmp -s "$T/text.db" "$T/text.orig"

cp "$db" "$T/newer.db"
q "$T/newer.db" "pragma user_version = 99" >/dev/null
cp "$T/newer.db" "$T/newer.orig"
expect_bad "a newer schema" "schema version 99 is newer than this heapsim's" show 1 --db "$T/newer.db"
expect_bad "a newer schema, run" "schema version 99 is newer" run "$T/one.yaml" --db "$T/newer.db" --quiet
check "the newer file is untouched" cmp -s "$T/newer.db" "$T/newer.orig"

check "no heapsim segment left in /dev/shm" no_segments_left
finish
