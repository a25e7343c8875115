#!/usr/bin/env bash
# `heapsim run --gctrace`: every worker writes one line per GC cycle to
# stderr, in Go 1.19's gctrace format (extern.go), field by field; as many
# lines as gc_cycles rows; `runtime: {gctrace: 1}` in a scenario and
# `--set gctrace=1` do the same, and without either no line is written.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

# fmtNSAsMS: 0, whole ms >= 10, 0.001..0.099, 0.10..0.99, 1.0..9.9
ms='(0|[1-9][0-9]+|0\.0[0-9][1-9]|0\.0[1-9][0-9]|0\.[1-9][0-9]|[1-9]\.[0-9])'
n='(0|[1-9][0-9]*)'
line="^gc $n @$n\.[0-9]{3}s $n%: $ms\+$ms\+$ms ms clock, $ms\+$ms/$ms/$ms\+$ms ms cpu, "
line+="$n->$n->$n MB, $n MB goal, $n MB stacks, $n MB globals, $n P( \(forced\))?\$"

# The grammar holds for Go 1.19's own lines.
go_lines="$REF/gctrace/testdata/go1.19.txt"
expect_eq "Go's own lines follow the grammar" "$(grep -Ecv "$line" "$go_lines")" 0

db="$T/h.db"
"$HEAPSIM" run "$REF/tests/data/small.yaml" --workers 2 --db "$db" --gctrace \
    >"$T/out.txt" 2>"$T/err.txt"
expect_eq "run exit status" "$?" 0
grep '^gc ' "$T/err.txt" >"$T/lines.txt"
check "gctrace lines written" test -s "$T/lines.txt"
bad="$(grep -Ev "$line" "$T/lines.txt")"
expect_eq "every line in Go's format" "$bad" ""
expect_eq "one line per stored cycle" "$(wc -l <"$T/lines.txt")" \
    "$(q "$db" 'select count(*) from gc_cycles')"
expect_eq "the P field is the processes attached" \
    "$(grep -Ec ', [12] P( \(forced\))?$' "$T/lines.txt")" "$(wc -l <"$T/lines.txt")"

# A cycle's line says what its row says: cycle, live MB, goal MB, and
# stacks MB, the stack space in use (max_stack_bytes, Go's maxStackScan).
q "$db" "select 'gc ' || cycle || ' @.*->' || (heap_live_bytes >> 20) || ' MB, ' ||
         (heap_goal_bytes >> 20) || ' MB goal, ' || (max_stack_bytes >> 20) ||
         ' MB stacks' from gc_cycles" >"$T/want.txt"
missing=0
while read -r want; do
    grep -Eq "^$want" "$T/lines.txt" || missing=$((missing + 1))
done <"$T/want.txt"
expect_eq "each stored cycle has its line" "$missing" 0

# The scenario key, --set, and off by default.
cat >"$T/on.yaml" <<'YAML'
name: gctrace-on
runtime: {gctrace: 1}
task: {kernel: churn, objects: 200000, live_objects: 1000}
YAML
"$HEAPSIM" run "$T/on.yaml" --workers 1 --db "$db" >/dev/null 2>"$T/on.txt"
expect_eq "runtime: {gctrace: 1} exit status" "$?" 0
check "runtime: {gctrace: 1} writes lines" grep -Eq "$line" "$T/on.txt"
"$HEAPSIM" run "$T/on.yaml" --workers 1 --db "$db" --set gctrace=0 >/dev/null 2>"$T/off.txt"
expect_eq "--set gctrace=0: no line" "$(grep -c '^gc ' "$T/off.txt")" 0
"$HEAPSIM" run "$REF/tests/data/small.yaml" --workers 1 --db "$db" >/dev/null 2>"$T/def.txt"
expect_eq "no line by default" "$(grep -c '^gc ' "$T/def.txt")" 0

check "no heapsim segment left in /dev/shm" no_segments_left
finish
