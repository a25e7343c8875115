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
#             park, release, end)                    target <= 0.5 x Go
#             bytes_per_goroutine while all are parked (heapsim: VmRSS
#             growth; Go: runtime Sys growth)        target <= Go
#
# Run by hand; not a test. Timings on a shared machine are noisy, so every
# figure is the best of REPEAT runs (default 3), Go's and heapsim's alike.
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

# min_metric N NAME CMD...: run CMD N times; print the smallest value of
# the line "NAME value" it prints (Go anchors, sched_bench style).
min_metric() {
    local n="$1" name="$2" i v best=""; shift 2
    for i in $(seq 1 "$n"); do
        v=$("$@" | awk -v k="$name" '$1 == k {print $2}')
        [ -n "$v" ] || { echo "bench: '$*' printed no $name" >&2; exit 1; }
        if [ -z "$best" ] || awk "BEGIN{exit !($v < $best)}"; then best="$v"; fi
    done
    echo "$best"
}

# heapsim_best N KEY SCENARIO [--set k=v]: run the scenario N times with one
# worker; print the metrics of tasks[0].result of the run where KEY is
# smallest, as "name value" lines.
heapsim_best() {
    local n="$1" key="$2" scn="$3" i; shift 3
    for i in $(seq 1 "$n"); do
        "$heapsim" run "$scn" "$@" --workers 1 --json --db "$db" >"$out/run-$i.json" ||
            { echo "bench: heapsim run $scn failed" >&2; exit 1; }
    done
    python3 - "$key" "$out"/run-*.json <<'EOF'
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
EOF
    rm -f "$out"/run-*.json
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
echo "== beside Go 1.19, GOMAXPROCS=1 (best of $repeat each)"
row "figure" "heapsim" "go1.19" "ratio" "target"
go_rt=$(min_metric "$repeat" ns_per_roundtrip env GOMAXPROCS=1 "$out/go-pingpong" "$rounds")
hs_rt=$(heapsim_best "$repeat" ns_per_roundtrip "$root/scenarios/bench/pingpong.yaml" \
    --set "rounds=$rounds" | awk '$1 == "ns_per_roundtrip" {print $2}')
row "pingpong ns_per_roundtrip" "$(printf '%.1f' "$hs_rt")" "$go_rt" "$(ratio "$hs_rt" "$go_rt")" \
    "<= 0.25 x Go: $(verdict "$hs_rt" "$go_rt" 0.25)"

# Go: the run with the best whole cycle, all its figures.
best=""
for i in $(seq 1 "$repeat"); do
    GOMAXPROCS=1 "$out/go-spawn" "$goroutines" >"$out/go-spawn-$i.txt"
    v=$(awk '$1 == "ns_per_goroutine" {print $2}' "$out/go-spawn-$i.txt")
    if [ -z "$best" ] || awk "BEGIN{exit !($v < $best)}"; then
        best="$v"; cp "$out/go-spawn-$i.txt" "$out/go-spawn.txt"
    fi
done
rm -f "$out"/go-spawn-*.txt
heapsim_best "$repeat" ns_per_goroutine "$root/scenarios/bench/spawn.yaml" \
    --set "goroutines=$goroutines" >"$out/hs-spawn.txt"
g() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
for m in ns_per_spawn ns_per_goroutine; do
    h=$(g "$m" "$out/hs-spawn.txt"); o=$(g "$m" "$out/go-spawn.txt")
    row "spawn $m" "$(printf '%.0f' "$h")" "$o" "$(ratio "$h" "$o")" "<= 0.5 x Go: $(verdict "$h" "$o" 0.5)"
done
h=$(g bytes_per_goroutine "$out/hs-spawn.txt"); o=$(g bytes_per_goroutine "$out/go-spawn.txt")
row "spawn bytes_per_goroutine" "$(printf '%.0f' "$h")" "$o" "$(ratio "$h" "$o")" "<= Go: $(verdict "$h" "$o" 1)"
printf '%-34s %12s\n' "  (page tables, not in VmRSS)" "$(printf '%.0f' "$(g pte_bytes_per_goroutine "$out/hs-spawn.txt")")"
echo "(spawn: $goroutines goroutines parked on a channel, released by one close;"
echo " heapsim's bytes are its worker's VmRSS growth while all are parked, Go's"
echo " are runtime.MemStats.Sys growth; pingpong: $rounds round trips)"
