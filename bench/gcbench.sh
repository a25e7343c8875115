#!/usr/bin/env bash
# bench/gcbench.sh [MAX_DEPTH ...] -- heapsim's gcbench kernel (one worker)
# beside Go 1.19 (GOMAXPROCS=1 and all cores) and Boehm GC running the same
# GCBench (bench/go/gcbench, bench/boehm/gcbench.c), measured in the same
# run on this machine. Default: 16 (GCBench's own size, the kernel's
# defaults) and 20; the long-lived tree is as deep as MAX_DEPTH (override
# with LONG_LIVED_DEPTH), the array ARRAY_SIZE doubles (500000).
#
# Prints per implementation: wall time, peak RSS, GC count, max and p99
# pause, the self-check's status, and whether the output equals Go's. Run by
# hand; each figure is the best of REPEAT runs (default 3), and every figure
# of a row comes from that best run. HEAPSIM=path uses that binary.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(16 20)
array_size="${ARRAY_SIZE:-500000}"
go_build gcbench go-gcbench
gcc -O2 -o "$out/boehm-gcbench" "$root/bench/boehm/gcbench.c" -lgc

db="$out/bench.db"
export ALLOW_FAIL=1    # a failed self-check is reported, not fatal

row() {   # name size wall rss_mb "count max p99" check output
    local n mx p99
    read -r n mx p99 <<<"$5"
    printf '%-26s %7s %8s %8sMB %6s %8sms %8sms%-1s %-10s %s\n' "$1" "$2" "$3" "$4" "$n" "$mx" \
        "${p99%\*}" "${p99//[^*]/}" "$6" "$7"
}

# check_of STATUS OUT: the self-check's verdict from an exit status and output.
check_of() {
    if [ "$1" = 0 ] && grep -q '^Self-check passed' "$2"; then echo passed; else echo "FAILED($1)"; fi
}

printf '%-26s %7s %8s %10s %6s %10s %11s %-10s %s\n' implementation depths wall_s peak_rss gcs \
    max_pause p99_pause self-check output
for m in "${sizes[@]}"; do
    ll="${LONG_LIVED_DEPTH:-$m}"
    args=("$m" "$ll" "$array_size")
    size="$m/$ll"

    best_of "$repeat" env GOMAXPROCS=1 GODEBUG=gctrace=1 "$out/go-gcbench" "${args[@]}"
    cp "$out/best.out" "$out/go-gcbench-$m.out"
    row "go1.19 GOMAXPROCS=1" "$size" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" \
        "$(check_of "$STATUS" "$out/best.out")" reference
    best_of "$repeat" env GODEBUG=gctrace=1 "$out/go-gcbench" "${args[@]}"
    same=$(cmp -s "$out/best.out" "$out/go-gcbench-$m.out" && echo same || echo DIFFERENT)
    row "go1.19 GOMAXPROCS=$(nproc)" "$size" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" \
        "$(check_of "$STATUS" "$out/best.out")" "$same"

    best_of "$repeat" "$out/boehm-gcbench" "${args[@]}"
    n=$(sed -nE 's/^boehm: ([0-9]+) collections/\1/p' "$out/best.err")
    read -r _ mx p99 < <(boehm_pauses "$out/best.err" | stats)
    same=$(cmp -s "$out/best.out" "$out/go-gcbench-$m.out" && echo same || echo DIFFERENT)
    row "boehm gc 8.2" "$size" "$WALL" "$(mb "$RSS")" "${n:-?} $mx $p99" \
        "$(check_of "$STATUS" "$out/best.out")" "$same"

    # heapsim: the whole command (coordinator, one worker, storage), and the
    # task's own wall time as the worker measured it. The kernel fails the
    # task when its self-check fails (the run then exits 1).
    best_of "$repeat" "$heapsim" run "$root/scenarios/bench/gcbench.yaml" --set "max_depth=$m" \
        --set "long_lived_depth=$ll" --set "array_size=$array_size" --workers 1 --db "$db" --quiet
    run=$(best_run "$db" "$repeat")
    sqlite3 "$db" "select writefile('$out/heapsim-gcbench-$m.out', output) from tasks where run_id = $run" >/dev/null
    task_s=$(sqlite3 "$db" "select printf('%.2f', wall_ns / 1e9) from tasks where run_id = $run")
    worker_rss=$(sqlite3 "$db" "select printf('%.1f', peak_rss_bytes / 1048576.0) from tasks where run_id = $run")
    status=$(sqlite3 "$db" "select case status when 'done' then 0 else 1 end from tasks where run_id = $run")
    same=$(cmp -s "$out/heapsim-gcbench-$m.out" "$out/go-gcbench-$m.out" && echo same || echo DIFFERENT)
    row "heapsim (whole command)" "$size" "$WALL" "$worker_rss" \
        "$(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)" \
        "$(check_of "$status" "$out/heapsim-gcbench-$m.out")" "$same"
    printf '%-26s %7s %8s   (run %s in %s)\n' "heapsim (task wall time)" "$size" "$task_s" "$run" "$db"
    if [ "$status" != 0 ]; then
        sqlite3 "$db" "select '  heapsim: ' || error from tasks where run_id = $run"
    fi
done
echo "(depths: max_depth/long_lived_depth, stretch tree max_depth+2, array of $array_size doubles;"
echo " wall: best of $repeat; peak RSS: the process for Go and Boehm, the worker process for heapsim,"
echo " shared heap pages included; pause: Go's sweep + mark termination STW per cycle (gctrace),"
echo " Boehm's whole collection (stop-the-world), heapsim's stw_ns; * p99 of < 100 pauses is the max)"
