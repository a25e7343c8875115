#!/usr/bin/env bash
# bench/binary_trees.sh [DEPTH ...] -- heapsim's binary_trees kernel (one
# worker), under each collector, beside Go 1.19 (GOMAXPROCS=1 and all
# cores) and Boehm GC, measured in the same run on this machine. Default
# depths: 18 21.
#
# Prints per implementation: wall time, peak RSS, GC count, max and p99
# pause; checks that every output equals Go's. Then a summary against Go
# GOMAXPROCS=1 with issue #10's targets (depth 21: max pause <= 1 ms, p99
# <= 0.5 ms; depth 18: wall time <= 1.0x Go's), and per heapsim collector
# what its pauses were made of (gc_cycles: stop_ns, sweep_ns, the rest).
#
# Run by hand, as root the first time (installs golang-go and libgc-dev).
# Not a test: timings on a shared machine are noisy, so each
# implementation runs REPEAT times (default 3). Wall time, peak RSS and
# the table's rows come from the fastest run; the summary's pauses are the
# MEDIAN over the REPEAT runs of each run's max and of each run's p99 (a
# pause is not made shorter by a faster run). Environment:
#   HEAPSIM=path          that binary instead of building one
#   COLLECTORS="a b"      heapsim collectors (default "concurrent stw"); the
#                         first one is held to the targets
#   ANCHORS="go1 goall boehm"  which anchors besides heapsim (go1, Go with
#                         GOMAXPROCS=1, is always run: it is the reference)
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

depths=("$@")
[ ${#depths[@]} -gt 0 ] || depths=(18 21)
read -r -a collectors <<<"${COLLECTORS:-concurrent stw}"
anchors=" ${ANCHORS:-go1 goall boehm} "
go_build binarytrees go-binarytrees
[[ "$anchors" != *" boehm "* ]] || gcc -O2 -o "$out/boehm-binarytrees" "$root/bench/boehm/binary_trees.c" -lgc

db="$out/bench.db"

row() {   # name depth wall rss_mb "count max p99" output
    local n mx p99
    read -r n mx p99 <<<"$5"
    printf '%-30s %5s %9s %8sMB %6s %8sms %8sms%-1s %s\n' "$1" "$2" "$3" "$4" "$n" "$mx" \
        "${p99%\*}" "${p99//[^*]/}" "$6"
}

# med_pauses FILE: lines "count max p99" of the runs; prints "median_max median_p99".
med_pauses() {
    echo "$(cut -d' ' -f2 "$1" | median) $(cut -d' ' -f3 "$1" | tr -d '*' | median)"
}

declare -A S   # summary: S[depth,who,figure]
breakdowns=()

printf '%-30s %5s %9s %10s %6s %10s %11s %s\n' implementation depth wall_s peak_rss gcs max_pause p99_pause output
for d in "${depths[@]}"; do
    # Go, one P: the fair anchor for one heapsim worker.
    best_of "$repeat" env GOMAXPROCS=1 GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
    cp "$out/best.out" "$out/go-$d.out"
    row "go1.19 GOMAXPROCS=1" "$d" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" reference
    for i in $(seq 1 "$repeat"); do go_pauses "$out/run-$i.err" | stats; done >"$out/pauses.txt"
    read -r "S[$d,go,max]" "S[$d,go,p99]" < <(med_pauses "$out/pauses.txt")
    S[$d,go,wall]="$WALL"; S[$d,go,task]="$WALL"
    S[$d,go,gcs]=$(go_pauses "$out/best.err" | wc -l)

    if [[ "$anchors" == *" goall "* ]]; then
        best_of "$repeat" env GODEBUG=gctrace=1 "$out/go-binarytrees" "$d"
        same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
        row "go1.19 GOMAXPROCS=$(nproc)" "$d" "$WALL" "$(mb "$RSS")" "$(go_pauses "$out/best.err" | stats)" "$same"
    fi

    if [[ "$anchors" == *" boehm "* ]]; then
        best_of "$repeat" "$out/boehm-binarytrees" "$d"
        n=$(sed -nE 's/^boehm: ([0-9]+) collections/\1/p' "$out/best.err")
        read -r _ mx p99 < <(boehm_pauses "$out/best.err" | stats)
        same=$(cmp -s "$out/best.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
        row "boehm gc 8.2" "$d" "$WALL" "$(mb "$RSS")" "$n $mx $p99" "$same"
    fi

    # heapsim: the whole command (coordinator, one worker, storage), and the
    # task's own wall time as the worker measured it; figures of the best run.
    for c in "${collectors[@]}"; do
        best_of "$repeat" "$heapsim" run "$root/scenarios/binary-trees.yaml" --set "depth=$d" \
            --set "collector=$c" --workers 1 --db "$db" --quiet
        run=$(best_run "$db" "$repeat")
        sqlite3 "$db" "select writefile('$out/heapsim-$d.out', output) from tasks where run_id = $run" >/dev/null
        task_s=$(sqlite3 "$db" "select printf('%.2f', wall_ns / 1e9) from tasks where run_id = $run")
        worker_rss=$(sqlite3 "$db" "select printf('%.1f', peak_rss_bytes / 1048576.0) from tasks where run_id = $run")
        same=$(cmp -s "$out/heapsim-$d.out" "$out/go-$d.out" && echo same || echo DIFFERENT)
        row "heapsim $c (whole command)" "$d" "$WALL" "$worker_rss" \
            "$(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)" "$same"
        printf '%-30s %5s %9s   (run %s in %s)\n' "heapsim $c (task wall time)" "$d" "$task_s" "$run" "$db"
        for r in $(last_runs "$db" "$repeat"); do
            sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $r" | stats
        done >"$out/pauses.txt"
        read -r "S[$d,$c,max]" "S[$d,$c,p99]" < <(med_pauses "$out/pauses.txt")
        S[$d,$c,wall]="$WALL"; S[$d,$c,task]="$task_s"
        S[$d,$c,gcs]=$(sqlite3 "$db" "select count(*) from gc_cycles where run_id = $run")
        # The run whose longest pause is the median one: what its pauses were made of.
        mrun=$(for r in $(last_runs "$db" "$repeat"); do
                   echo "$(sqlite3 "$db" "select max(stw_ns) from gc_cycles where run_id = $r") $r"
               done | sort -n | awk '{a[NR]=$2} END {print a[int((NR + 1) / 2)]}')
        breakdowns+=("$(printf '  %-12s depth %-3s run %-5s %s' "$c" "$d" "$mrun" "$(cycle_breakdown "$db" "$mrun")")")
    done
done
echo "(wall: best of $repeat; peak RSS: the process for Go and Boehm, the worker process for heapsim,"
echo " shared heap pages included; pause: Go's sweep termination + mark termination STW per cycle"
echo " (gctrace), Boehm's whole collection (stop-the-world), heapsim's stw_ns (its two stops summed"
echo " under the concurrent collector, its one stop under stw); * p99 of < 100 pauses is the max)"

# The summary: heapsim's collectors against Go GOMAXPROCS=1.
first="${collectors[0]}"
echo
echo "== summary: heapsim vs go1.19 GOMAXPROCS=1 (pauses: median over $repeat runs of each run's max / p99; wall: best of $repeat)"
hdr=$(printf '%-26s' figure)
for c in "${collectors[@]}"; do hdr+=$(printf ' %12s' "$c"); done
hdr+=$(printf ' %10s' "go1.19")
for c in "${collectors[@]}"; do hdr+=$(printf ' %9s' "${c:0:4}/go"); done
echo "$hdr   target ($first)"
srow() {   # label depth figure target_op target_bound (empty: no target)
    local line c v
    line=$(printf '%-26s' "$1")
    for c in "${collectors[@]}"; do line+=$(printf ' %12s' "${S[$2,$c,$3]:--}"); done
    line+=$(printf ' %10s' "${S[$2,go,$3]:--}")
    for c in "${collectors[@]}"; do line+=$(printf ' %9s' "$(ratio "${S[$2,$c,$3]:-}" "${S[$2,go,$3]:-}")"); done
    if [ -n "${4:-}" ]; then
        case "$3" in
        wall) v=$(ratio "${S[$2,$first,$3]:-}" "${S[$2,go,$3]:-}"); line+="   $4 $5x Go: $(verdict "$v" "$4" "$5")" ;;
        *) line+="   $4 $5 ms: $(verdict "${S[$2,$first,$3]:-}" "$4" "$5")" ;;
        esac
    fi
    echo "$line"
}
for d in "${depths[@]}"; do
    t21=""; t18=""
    [ "$d" != 21 ] || t21=1
    [ "$d" != 18 ] || t18=1
    srow "depth $d max pause (ms)" "$d" max ${t21:+"<=" 1}
    srow "depth $d p99 pause (ms)" "$d" p99 ${t21:+"<=" 0.5}
    srow "depth $d wall, command (s)" "$d" wall ${t18:+"<=" 1.0}
    srow "depth $d wall, task (s)" "$d" task
    srow "depth $d GC cycles" "$d" gcs
done
anchor_line 1
echo
echo "== what heapsim's pauses were made of (gc_cycles of the run with the median max pause)"
printf '%s\n' "${breakdowns[@]}"
echo "(stop: waiting for every process to reach a safepoint, both stops; sweep: the eager sweep inside"
echo " the second stop; rest: the first stop's work, mark termination's drain and the pacer -- under"
echo " stw, the whole mark)"
