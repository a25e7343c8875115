#!/usr/bin/env bash
# bench/multiproc.sh [WORKERS ...] -- four churn tasks
# (scenarios/bench/multiproc.yaml) on 1, 2 and 4 worker processes sharing
# one heap, beside Go 1.19 doing the same work in 4 goroutines of one
# process (bench/go/churn) at GOMAXPROCS=1 and 2 (GO_PROCS), measured in
# the same run on this machine.
#
# Prints per configuration: allocations per second (all tasks' objects over
# the run's wall time: first task start to last task end for heapsim, the
# program's own clock for Go), the speedup over one process (one P for Go),
# GC count, max and p99 pause, and for heapsim the longest wait to stop
# every process. Run by hand; each row is the best of REPEAT runs (default
# 3). HEAPSIM=path uses that binary instead of building one.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

workers=("$@")
[ ${#workers[@]} -gt 0 ] || workers=(1 2 4)
read -r -a go_procs <<<"${GO_PROCS:-1 2}"
scenario="$root/scenarios/bench/multiproc.yaml"
tasks=4; objects=10000000; live=100000; min_bytes=16; max_bytes=512   # as in the scenario
go_build churn go-churn

db="$out/bench.db"
ncpu="$(nproc)"

row() {   # name procs wall alloc/s speedup "count max p99" max_stop
    local n mx p99
    read -r n mx p99 <<<"$6"
    printf '%-24s %5s %8s %10s %7s %6s %8sms %8sms%-1s %9s\n' "$1" "$2" "$3" "$4" "$5" "$n" "$mx" \
        "${p99%\*}" "${p99//[^*]/}" "$7"
}

printf '%-24s %5s %8s %10s %7s %6s %10s %11s %9s\n' implementation procs wall_s allocs/s speedup gcs \
    max_pause p99_pause max_stop
base=""
for w in "${workers[@]}"; do
    best_of "$repeat" "$heapsim" run "$scenario" --workers "$w" --db "$db" --quiet
    run=$(best_run "$db" "$repeat")
    read -r span_s rate < <(sqlite3 -separator ' ' "$db" "
        select printf('%.2f', (max(ended_unix_ns) - min(started_unix_ns)) / 1e9),
               sum(alloc_objects) * 1e9 / (max(ended_unix_ns) - min(started_unix_ns))
        from tasks where run_id = $run and status = 'done'")
    [ -n "$base" ] || base="$rate"
    stop=$(sqlite3 "$db" "select printf('%.3fms', max(stop_ns) / 1e6) from gc_cycles where run_id = $run")
    row "heapsim --workers $w" "$w" "$span_s" "$(awk "BEGIN{printf \"%.2fM\", $rate / 1e6}")" \
        "$(awk "BEGIN{printf \"%.2fx\", $rate / $base}")" \
        "$(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)" "$stop"
done
gobase=""
for p in "${go_procs[@]}"; do
    best_of "$repeat" env GOMAXPROCS="$p" GODEBUG=gctrace=1 "$out/go-churn" \
        "$tasks" "$objects" "$live" "$min_bytes" "$max_bytes"
    read -r _ _ wall_ns rate <"$out/best.out"
    [ -n "$gobase" ] || gobase="$rate"
    row "go1.19 GOMAXPROCS=$p" "$p" "$(awk "BEGIN{printf \"%.2f\", $wall_ns / 1e9}")" \
        "$(awk "BEGIN{printf \"%.2fM\", $rate / 1e6}")" "$(awk "BEGIN{printf \"%.2fx\", $rate / $gobase}")" \
        "$(go_pauses "$out/best.err" | stats)" "-"
done
echo "($tasks tasks x $objects objects of $min_bytes..$max_bytes B, $live live each; best of $repeat."
echo " This machine has $ncpu cores: $ncpu processes (or Ps) can at best be ${ncpu}x one, and 4 processes"
echo " no more than that. heapsim's gcs and pauses are the shared heap's (one collector stops every"
echo " process); max_stop is the longest wait for every process to reach a safepoint. Go's pause:"
echo " sweep + mark termination STW per cycle; * p99 of < 100 pauses is the max)"
