#!/usr/bin/env bash
# bench/binary_trees.sh [DEPTH ...] -- heapsim's binary_trees kernel (one
# worker) beside Go 1.19 (GOMAXPROCS=1 and all cores) and Boehm GC, measured
# in the same run on this machine. Default depths: 18 21.
#
# Prints per implementation: wall time, peak RSS, GC count, max and p99
# pause; checks that every output equals Go's. Run by hand, as root the
# first time (installs golang-go and libgc-dev). Not a test: timings on a
# shared machine are noisy, so each figure is the best of REPEAT runs
# (default 3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
depths=("$@")
[ ${#depths[@]} -gt 0 ] || depths=(18 21)
repeat="${REPEAT:-3}"
out="$root/bench/out"
mkdir -p "$out"

need=()
command -v go >/dev/null || need+=(golang-go)
[ -f /usr/include/gc.h ] || need+=(libgc-dev)
command -v /usr/bin/time >/dev/null || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$root/tools/setup"
heapsim="$root/bazel-bin/cli/heapsim"
(cd "$root/bench/go/binarytrees" && GOFLAGS=-mod=mod go build -o "$out/go-binarytrees" .)
gcc -O2 -o "$out/boehm-binarytrees" "$root/bench/boehm/binary_trees.c" -lgc

db="$out/bench.db"
rm -f "$db" "$db"-*

# best_of N CMD...: the run with the lowest wall time; sets WALL (s) and RSS (KiB).
best_of() {
    local n="$1"; shift
    WALL=""; RSS=""
    for _ in $(seq 1 "$n"); do
        /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" >"$out/stdout.txt" 2>"$out/stderr.txt"
        read -r w r <"$out/time.txt"
        if [ -z "$WALL" ] || awk "BEGIN{exit !($w < $WALL)}"; then
            WALL="$w"; RSS="$r"
            cp "$out/stdout.txt" "$out/best.out"
            cp "$out/stderr.txt" "$out/best.err"
        fi
    done
}

# Go's pauses from gctrace: "gc N @t s p%: a+b+c ms clock, ..." -- the
# stop-the-world phases are a (sweep termination) and c (mark termination).
go_pauses() {
    grep -E '^gc [0-9]+ @' "$1" | sed -E 's/.*: ([0-9.]+)\+[0-9.]+\+([0-9.]+) ms clock.*/\1 \2/' |
        awk '{print ($1 + $2) * 1000000}'
}

stats() {   # reads pause ns, one per line; prints "count max_ms p99_ms"
    sort -n | awk '{a[NR]=$1} END {
        if (NR == 0) { print "0 - -"; exit }
        i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; if (i < 1) i = 1
        printf "%d %.3f %.3f\n", NR, a[NR] / 1e6, a[i] / 1e6 }'
}

printf '%-26s %5s %9s %10s %6s %10s %10s %s\n' implementation depth wall_s peak_rss gcs max_pause p99_pause output
for d in "${depths[@]}"; do
    # Go, one P: the fair anchor for one heapsim worker.
    best_of "$repeat" env GOMAXPROCS=1 GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
    cp "$out/best.out" "$out/go-$d.out"
    read -r n mx p99 < <(go_pauses "$out/best.err" | stats)
    printf '%-26s %5s %9s %8.1fMB %6s %8sms %8sms %s\n' "go1.19 GOMAXPROCS=1" "$d" "$WALL" \
        "$(echo "$RSS/1024" | bc -l)" "$n" "$mx" "$p99" reference
    best_of "$repeat" env GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
    read -r n mx p99 < <(go_pauses "$out/best.err" | stats)
    same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    printf '%-26s %5s %9s %8.1fMB %6s %8sms %8sms %s\n' "go1.19 GOMAXPROCS=$(nproc)" "$d" "$WALL" \
        "$(echo "$RSS/1024" | bc -l)" "$n" "$mx" "$p99" "$same"

    best_of "$repeat" "$out/boehm-binarytrees" "$d"
    n=$(sed -nE 's/^boehm: ([0-9]+) collections/\1/p' "$out/best.err")
    same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    printf '%-26s %5s %9s %8.1fMB %6s %10s %10s %s\n' "boehm gc 8.2" "$d" "$WALL" \
        "$(echo "$RSS/1024" | bc -l)" "$n" "-" "-" "$same"

    # heapsim: the whole command (coordinator, one worker, storage), and the
    # task's own wall time as the worker measured it.
    best_of "$repeat" "$heapsim" run "$root/scenarios/binary-trees.yaml" --set "depth=$d" \
        --workers 1 --db "$db" --quiet
    run=$(sqlite3 "$db" 'select max(id) from runs')
    sqlite3 "$db" "select writefile('$out/heapsim-$d.out', output) from tasks where run_id = $run" >/dev/null
    task_s=$(sqlite3 "$db" "select printf('%.2f', wall_ns / 1e9) from tasks where run_id = $run")
    worker_rss=$(sqlite3 "$db" "select printf('%.1f', peak_rss_bytes / 1048576.0) from tasks where run_id = $run")
    read -r n mx p99 < <(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)
    same=$(cmp -s "$out/heapsim-$d.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    printf '%-26s %5s %9s %8sMB %6s %8sms %8sms %s\n' "heapsim (whole command)" "$d" "$WALL" \
        "$worker_rss" "$n" "$mx" "$p99" "$same"
    printf '%-26s %5s %9s\n' "heapsim (task wall time)" "$d" "$task_s"
done
echo "(peak RSS: the process for Go and Boehm; the worker process for heapsim, shared heap pages included)"
