#!/usr/bin/env bash
# The same seed gives the same allocation sequence; another seed another.
# churn draws its object sizes from the task's seed: the bytes it requests
# are equal across runs with one seed and differ with another.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/seeded.yaml" <<'YAML'
name: seeded
task: {kernel: churn, objects: 200000, live_objects: 1000, min_bytes: 16, max_bytes: 4096}
repeat: 2
seed: 7
YAML

bytes() {   # run id -> the bytes_requested of its tasks, one per line
    q "$db" "select cast(m.value as integer) from metrics m join tasks t on m.task_id = t.id
             where t.run_id = $1 and m.name = 'bytes_requested' order by t.seq"
}
for i in 1 2; do
    "$HEAPSIM" run "$T/seeded.yaml" --workers 2 --db "$db" --quiet >/dev/null 2>&1
    expect_eq "run $i" "$?" 0
done
sed 's/seed: 7/seed: 8/' "$T/seeded.yaml" >"$T/other.yaml"
"$HEAPSIM" run "$T/other.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "run 3" "$?" 0

expect_eq "same seed, same sequence" "$(bytes 1)" "$(bytes 2)"
check "two tasks measured" test "$(bytes 1 | wc -l)" = 2
check "repeats get distinct seeds" test "$(bytes 1 | sort -u | wc -l)" = 2
check "another seed, another sequence" test "$(bytes 1 | head -n 1)" != "$(bytes 3 | head -n 1)"
check "no heapsim segment left in /dev/shm" no_segments_left
finish
