#!/usr/bin/env bash
# bench/binary_trees.sh [DEPTH ...] -- heapsim's binary_trees kernel (one
# worker) beside Go 1.19 (GOMAXPROCS=1 and all cores) and Boehm GC, measured
# in the same run on this machine. Default depths: 18 21.
#
# Prints per implementation: wall time, peak RSS, GC count, max and p99
# pause; checks that every output equals Go's. Run by hand, as root the
# first time (installs golang-go and libgc-dev). Not a test: timings on a
# shared machine are noisy, so each figure is the best of REPEAT runs
# (default 3), and every figure of a row comes from that best run.
# HEAPSIM=path uses that binary instead of building one.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

depths=("$@")
[ ${#depths[@]} -gt 0 ] || depths=(18 21)
go_build binarytrees go-binarytrees
gcc -O2 -o "$out/boehm-binarytrees" "$root/bench/boehm/binary_trees.c" -lgc

db="$out/bench.db"

row() {   # name depth wall rss_mb "count max p99" output
    local n mx p99
    read -r n mx p99 <<<"$5"
    printf '%-26s %5s %9s %8sMB %6s %8sms %8sms%-1s %s\n' "$1" "$2" "$3" "$4" "$n" "$mx" \
        "${p99%\*}" "${p99//[^*]/}" "$6"
}

printf '%-26s %5s %9s %10s %6s %10s %11s %s\n' implementation depth wall_s peak_rss gcs max_pause p99_pause output
for d in "${depths[@]}"; do
    # Go, one P: the fair anchor for one heapsim worker.
    best_of "$repeat" env GOMAXPROCS=1 GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
    cp "$out/best.out" "$out/go-$d.out"
    row "go1.19 GOMAXPROCS=1" "$d" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" reference
    best_of "$repeat" env GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
    same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    row "go1.19 GOMAXPROCS=$(nproc)" "$d" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" "$same"

    best_of "$repeat" "$out/boehm-binarytrees" "$d"
    n=$(sed -nE 's/^boehm: ([0-9]+) collections/\1/p' "$out/best.err")
    read -r _ mx p99 < <(boehm_pauses "$out/best.err" | stats)
    same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    row "boehm gc 8.2" "$d" "$WALL" "$(mb "$RSS")" "$n $mx $p99" "$same"

    # heapsim: the whole command (coordinator, one worker, storage), and the
    # task's own wall time as the worker measured it; figures of the best run.
    best_of "$repeat" "$heapsim" run "$root/scenarios/binary-trees.yaml" --set "depth=$d" \
        --workers 1 --db "$db" --quiet
    run=$(best_run "$db" "$repeat")
    sqlite3 "$db" "select writefile('$out/heapsim-$d.out', output) from tasks where run_id = $run" >/dev/null
    task_s=$(sqlite3 "$db" "select printf('%.2f', wall_ns / 1e9) from tasks where run_id = $run")
    worker_rss=$(sqlite3 "$db" "select printf('%.1f', peak_rss_bytes / 1048576.0) from tasks where run_id = $run")
    same=$(cmp -s "$out/heapsim-$d.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
    row "heapsim (whole command)" "$d" "$WALL" "$worker_rss" \
        "$(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)" "$same"
    printf '%-26s %5s %9s   (run %s in %s)\n' "heapsim (task wall time)" "$d" "$task_s" "$run" "$db"
done
echo "(wall: best of $repeat; peak RSS: the process for Go and Boehm, the worker process for heapsim,"
echo " shared heap pages included; pause: Go's sweep + mark termination STW per cycle (gctrace),"
echo " Boehm's whole collection (stop-the-world), heapsim's stw_ns; * p99 of < 100 pauses is the max)"
