#!/usr/bin/env bash
# bench/request_server.sh -- request latency of the request_server kernel
# (scenarios/bench/request_server.yaml: the pool lesson's open-loop
# service, 6000 requests at 2000/s, a 4 KiB graph and a 32 KiB buffer
# each, 16 MiB of graphs kept live), without and with the sync.Pool, under
# each heapsim collector, beside the same program in Go 1.19 (bench/go/
# fidelity request_server: the same objects, sizes, pointer slots, live
# set, goroutines, arrivals and seed; GOMAXPROCS=1, GOGC 100), measured in
# the same run on this machine.
#
# Prints per figure (latency p50, p90, p99, p99.9, max; GC cycles; the
# longest pause) heapsim's, Go's and heapsim/Go, with and without the pool,
# and the pool's effect on p99 (without / with) on each side.
#
# Run by hand. Latency on a shared machine is noisy: each side runs REPEAT
# times (default 3), heapsim's and Go's runs interleaved so that a busy
# spell hits both, and every figure is the MEDIAN over the runs (the
# minimum is printed beside it). Environment:
#   HEAPSIM=path       that binary instead of building one
#   COLLECTORS="a b"   heapsim collectors (default "concurrent stw")
#   GO_GOMAXPROCS=N    Go's GOMAXPROCS (default 1: heapsim runs one worker)
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 0 ] || { echo "usage: bench/request_server.sh (no arguments; see the header)" >&2; exit 2; }
read -r -a collectors <<<"${COLLECTORS:-concurrent stw}"
goprocs="${GO_GOMAXPROCS:-1}"
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
scenario="$root/scenarios/bench/request_server.yaml"
db="$out/request_server.db"
gobin="$out/go-fidelity"
(cd "$root/bench/go/fidelity" && GOFLAGS=-mod=mod go build -o "$gobin" .)

# The tasks as heapsim plans them: label and parameters (Go's flags).
mapfile -t tasks < <("$heapsim" check "$scenario" --json | jq -c '.tasks[] | {label: .label, params: .params}')
[ ${#tasks[@]} -gt 0 ] || { echo "bench: no tasks in $scenario" >&2; exit 1; }
figures=(latency_p50_ns latency_p90_ns latency_p99_ns latency_p999_ns latency_max_ns gc_cycles pause_max_ns)

# V[side,label,figure] = the run's values, space-separated (side: go or a collector)
declare -A V
add() { V[$1,$2,$3]="${V[$1,$2,$3]:+${V[$1,$2,$3]} }$4"; }

for r in $(seq 1 "$repeat"); do
    declare -A seed=()
    for c in "${collectors[@]}"; do
        "$heapsim" run "$scenario" --set "collector=$c" --workers 1 --db "$db" --quiet >"$out/rs.out" 2>&1 || {
            echo "bench: heapsim run $scenario (collector $c) failed:" >&2; tail -n 20 "$out/rs.out" >&2; exit 1; }
        run=$(sqlite3 "$db" "select max(id) from runs")
        while IFS='|' read -r tid label s gcs pmax; do
            seed[$label]="$s"
            add "$c" "$label" gc_cycles "$gcs"
            add "$c" "$label" pause_max_ns "$pmax"
            for f in "${figures[@]:0:5}"; do
                add "$c" "$label" "$f" "$(sqlite3 "$db" "select value from metrics where task_id = $tid and name = '$f'")"
            done
        done < <(sqlite3 "$db" "select id, label, seed, gc_cycles, pause_max_ns from tasks where run_id = $run and status = 'done'")
    done
    for t in "${tasks[@]}"; do
        label=$(jq -r .label <<<"$t")
        goargs=()
        while IFS=$'\t' read -r k v; do goargs+=("-$k=$v"); done < <(jq -r '.params | to_entries[] | "\(.key)\t\(.value)"' <<<"$t")
        env GOMAXPROCS="$goprocs" GOGC=100 GODEBUG=gctrace=1 "$gobin" request_server "${goargs[@]}" \
            -seed="${seed[$label]:-1}" -peak_samples=false >"$out/rs-go.out" 2>"$out/rs-go.err" || {
            echo "bench: Go request_server failed:" >&2; tail -n 20 "$out/rs-go.err" >&2; exit 1; }
        j=$(tail -n 1 "$out/rs-go.out")
        for f in "${figures[@]:0:6}"; do add go "$label" "$f" "$(jq -r ".$f" <<<"$j")"; done
        add go "$label" pause_max_ns "$(go_pauses "$out/rs-go.err" | sort -n | tail -n 1)"
    done
    unset seed
done

# fig VALUES FIGURE: "median (min)" in the figure's unit (ms for ns).
med() { tr ' ' '\n' <<<"$1" | median; }
mn() { tr ' ' '\n' <<<"$1" | grep -v '^-*$' | sort -g | head -n 1; }
show() {   # VALUE FIGURE
    case "$2" in
    *_ns) awk -v v="$1" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.3f\n", v / 1e6 }' ;;
    *) echo "${1:--}" ;;
    esac
}
name() {
    case "$1" in
    latency_p50_ns) echo "latency p50 (ms)" ;; latency_p90_ns) echo "latency p90 (ms)" ;;
    latency_p99_ns) echo "latency p99 (ms)" ;; latency_p999_ns) echo "latency p99.9 (ms)" ;;
    latency_max_ns) echo "latency max (ms)" ;; gc_cycles) echo "GC cycles" ;;
    pause_max_ns) echo "longest GC pause (ms)" ;;
    esac
}

sides=("${collectors[@]}" go)
for t in "${tasks[@]}"; do
    label=$(jq -r .label <<<"$t")
    echo
    echo "== request_server $label: median over $repeat runs (minimum in brackets)"
    line=$(printf '%-24s' figure)
    for s in "${collectors[@]}"; do line+=$(printf ' %20s' "heapsim $s"); done
    line+=$(printf ' %20s' go1.19)
    for s in "${collectors[@]}"; do line+=$(printf ' %8s' "${s:0:4}/go"); done
    echo "$line"
    for f in "${figures[@]}"; do
        line=$(printf '%-24s' "$(name "$f")")
        for s in "${sides[@]}"; do
            line+=$(printf ' %20s' "$(show "$(med "${V[$s,$label,$f]:-}")" "$f") ($(show "$(mn "${V[$s,$label,$f]:-}")" "$f"))")
        done
        for s in "${collectors[@]}"; do
            line+=$(printf ' %8s' "$(ratio "$(med "${V[$s,$label,$f]:-}")" "$(med "${V[go,$label,$f]:-}")")")
        done
        echo "$line"
    done
done

# The pool's effect: p99 without over p99 with, each side.
if [ ${#tasks[@]} -eq 2 ]; then
    l0=$(jq -r .label <<<"${tasks[0]}"); l1=$(jq -r .label <<<"${tasks[1]}")
    echo
    echo "== the pool's effect on p99 latency: ($l0) / ($l1), medians"
    for s in "${sides[@]}"; do
        a=$(med "${V[$s,$l0,latency_p99_ns]:-}"); b=$(med "${V[$s,$l1,latency_p99_ns]:-}")
        printf '  %-22s %9s ms / %9s ms = %s\n' "$([ "$s" = go ] && echo go1.19 || echo "heapsim $s")" \
            "$(show "$a" x_ns)" "$(show "$b" x_ns)" "$(ratio "$a" "$b")"
    done
fi
echo "(latency: arrival (the due time of an open-loop schedule) to completion, heapsim's HDR"
echo " histogram (0.78 % buckets) and Go's exact nearest rank; longest pause: heapsim's stw_ns"
echo " (both stops of a cycle summed), Go's sweep termination + mark termination (gctrace))"
anchor_line "$goprocs"
