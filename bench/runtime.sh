#!/usr/bin/env bash
# bench/runtime.sh [GOROUTINES [ROUNDS]] -- the goroutine runtime beside Go
# 1.19 with GOMAXPROCS=1, measured in the same run on this machine:
#
#   switches  the bare-assembly switch floor (sched_bench), a yield and a
#             park/ready round trip of the scheduler (one and two switches)
#   channels  rt_bench: buffered send+receive, select, pool get+put
#   pingpong  scenarios/bench/pingpong.yaml vs bench/go/pingpong:
#             ns_per_roundtrip                       target <= 0.25 x Go
#   spawn     scenarios/bench/spawn.yaml vs bench/go/spawn (GOROUTINES,
#             default 1000000): ns_per_spawn, ns_per_goroutine (spawn,
#             park, release, end)                    target <= 1.0 x Go
#             bytes_per_goroutine while all are parked (heapsim: VmRSS
#             growth; Go: runtime Sys growth)        target <= 0.5 x Go
#             (the targets issue #11 decided)
#
# Run by hand; not a test. Timings on a shared machine are noisy, so every
# figure is the best of REPEAT runs (default 3), Go's and heapsim's alike,
# Go's and heapsim's runs alternating.
# HEAPSIM=path uses that heapsim binary; BAZEL overrides the bazel command
# (e.g. BAZEL="bazel --output_base=/tmp/ob"), HEAPSIM_BAZEL_FLAGS adds
# build flags. The other binaries come from the same bazel.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

goroutines="${1:-1000000}"
rounds="${2:-1000000}"
bazel_cmd=(${BAZEL:-bazel})
command -v python3 >/dev/null || { echo "bench: python3 is needed to read heapsim's JSON" >&2; exit 1; }

# shellcheck disable=SC2086
"${bazel_cmd[@]}" build ${HEAPSIM_BAZEL_FLAGS:-} //sched:sched_bench //runtime:rt_bench >"$out/build.log" 2>&1 || {
    tail -n 30 "$out/build.log" >&2
    exit 1
}
# shellcheck disable=SC2086
bin="$("${bazel_cmd[@]}" info ${HEAPSIM_BAZEL_FLAGS:-} bazel-bin 2>/dev/null)"
go_build pingpong go-pingpong
go_build spawn go-spawn
db="$out/runtime.db"

# Timings on a shared machine drift from one minute to the next, so Go's
# runs and heapsim's alternate (Go, heapsim, Go, heapsim, ...) and each
# side keeps its best: both sides see the same stretch of load.

# heapsim_once I SCENARIO [--set k=v]: run the scenario with one worker;
# its JSON goes to $out/run-I.json.
heapsim_once() {
    local i="$1" scn="$2"; shift 2
    "$heapsim" run "$scn" "$@" --workers 1 --json --db "$db" >"$out/run-$i.json" ||
        { echo "bench: heapsim run $scn failed" >&2; exit 1; }
}

# heapsim_pick KEY: of the runs $out/run-*.json, print the metrics of
# tasks[0].result of the one where KEY is smallest, as "name value" lines;
# remove the runs.
heapsim_pick() {
    python3 - "$1" "$out"/run-*.json <<'EOF2'
import json, sys
key, files = sys.argv[1], sys.argv[2:]
best = None
for f in files:
    r = json.load(open(f))["tasks"][0]["result"]
    if best is None or r[key] < best[key]:
        best = r
for k, v in best.items():
    if k != "output":
        print(k, v)
EOF2
    rm -f "$out"/run-*.json
}

# go_pick KEY FILE...: the file (a Go anchor's output) whose "KEY value"
# line is smallest.
go_pick() {
    local key="$1" f v best="" bestf=""; shift
    for f in "$@"; do
        v=$(awk -v k="$key" '$1 == k {print $2}' "$f")
        [ -n "$v" ] || { echo "bench: $f has no $key" >&2; exit 1; }
        if [ -z "$best" ] || awk "BEGIN{exit !($v < $best)}"; then best="$v"; bestf="$f"; fi
    done
    echo "$bestf"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
verdict() {   # value go factor: PASS when value <= factor x go
    awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN{print (a <= f * b) ? "PASS" : "MISS"}'
}
row() { printf '%-34s %12s %12s %7s   %s\n' "$@"; }

echo "== switches (sched_bench, best of $repeat)"
for i in $(seq 1 "$repeat"); do "$bin/sched/sched_bench" >"$out/sched-$i.txt"; done
sb() {   # the smallest figure of sched_bench's line starting with $1
    grep -h "^$1" "$out"/sched-*.txt | sed -E 's/.*: *([0-9.]+) .*/\1/' | sort -g | head -n 1
}
floor=$(sb "switch floor (bare asm)")
floor_fp=$(sb "switch floor + FP env")
yield=$(sb "yield, 2 goroutines")
park=$(sb "park/ready round trip")
printf '%-34s %8s ns\n' "switch floor, bare asm" "$floor"
printf '%-34s %8s ns\n' "switch floor + x87 CW/MXCSR" "$floor_fp"
printf '%-34s %8s ns   (%s x floor)\n' "yield (one switch)" "$yield" "$(ratio "$yield" "$floor")"
printf '%-34s %8s ns   (%s x floor, two switches)\n' "park/ready round trip" "$park" "$(ratio "$park" "$floor")"
rm -f "$out"/sched-*.txt

echo
echo "== channels and pool (rt_bench, best of $repeat)"
for i in $(seq 1 "$repeat"); do "$bin/runtime/rt_bench" >"$out/rt-$i.txt"; done
for what in "chan ping-pong round trip" "buffered send + receive" "select of 2 + send" "pool get + put"; do
    v=$(grep -h "^$what" "$out"/rt-*.txt | sed -E 's/.*: *([0-9.]+) ns/\1/' | sort -g | head -n 1)
    printf '%-34s %8s ns\n' "$what" "$v"
done
rm -f "$out"/rt-*.txt

echo
echo "== beside Go 1.19, GOMAXPROCS=1 (best of $repeat each, runs alternating)"
row "figure" "heapsim" "go1.19" "ratio" "target"
for i in $(seq 1 "$repeat"); do
    GOMAXPROCS=1 "$out/go-pingpong" "$rounds" >"$out/go-pingpong-$i.txt"
    heapsim_once "$i" "$root/scenarios/bench/pingpong.yaml" --set "rounds=$rounds"
done
go_rt=$(awk '$1 == "ns_per_roundtrip" {print $2}' "$(go_pick ns_per_roundtrip "$out"/go-pingpong-*.txt)")
hs_rt=$(heapsim_pick ns_per_roundtrip | awk '$1 == "ns_per_roundtrip" {print $2}')
rm -f "$out"/go-pingpong-*.txt
row "pingpong ns_per_roundtrip" "$(printf '%.1f' "$hs_rt")" "$go_rt" "$(ratio "$hs_rt" "$go_rt")" \
    "<= 0.25 x Go: $(verdict "$hs_rt" "$go_rt" 0.25)"

# Each side: the run with the best whole cycle, all its figures.
for i in $(seq 1 "$repeat"); do
    GOMAXPROCS=1 "$out/go-spawn" "$goroutines" >"$out/go-spawn-$i.txt"
    heapsim_once "$i" "$root/scenarios/bench/spawn.yaml" --set "goroutines=$goroutines"
done
cp "$(go_pick ns_per_goroutine "$out"/go-spawn-*.txt)" "$out/go-spawn.txt"
rm -f "$out"/go-spawn-*.txt
heapsim_pick ns_per_goroutine >"$out/hs-spawn.txt"
g() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
for m in ns_per_spawn ns_per_goroutine; do
    h=$(g "$m" "$out/hs-spawn.txt"); o=$(g "$m" "$out/go-spawn.txt")
    row "spawn $m" "$(printf '%.0f' "$h")" "$o" "$(ratio "$h" "$o")" "<= 1.0 x Go: $(verdict "$h" "$o" 1)"
done
h=$(g bytes_per_goroutine "$out/hs-spawn.txt"); o=$(g bytes_per_goroutine "$out/go-spawn.txt")
row "spawn bytes_per_goroutine" "$(printf '%.0f' "$h")" "$o" "$(ratio "$h" "$o")" "<= 0.5 x Go: $(verdict "$h" "$o" 0.5)"
printf '%-34s %12s\n' "  (page tables, not in VmRSS)" "$(printf '%.0f' "$(g pte_bytes_per_goroutine "$out/hs-spawn.txt")")"
echo "(spawn: $goroutines goroutines parked on a channel, released by one close;"
echo " heapsim's bytes are its worker's VmRSS growth while all are parked, Go's"
echo " are runtime.MemStats.Sys growth; pingpong: $rounds round trips)"
