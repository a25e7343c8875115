#!/usr/bin/env bash
# bench/collector.sh -- issue #10's benchmarks in one go, heapsim's
# collectors (concurrent, stw) beside Go 1.19 in the same run, each
# script's tables as it prints them, kept in bench/out/collector-TIME.txt:
#
#   bench/binary_trees.sh 18 21            max / p99 pause at 21, wall at 18
#   bench/multiproc.sh 1 2                 2 processes on one heap vs 1
#   bench/fidelity.sh --lesson gc-pacing --lesson binary-trees --repeat 3
#                                          GC cycles and peak heap vs Go
#   bench/request_server.sh                p99 latency with/without the pool
#
# About 25 minutes on a quiet 2-core machine. Re-run it after a change to
# the collector; REPEAT (default 3), HEAPSIM and COLLECTORS pass through to
# every script; ANCHORS defaults to go1 here (binary_trees.sh: no Boehm, no
# Go with every core). Give script names to run only those:
#   bench/collector.sh multiproc request_server
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$here/out"
log="$here/out/collector-$(date -u +%Y%m%dT%H%MZ).txt"
export ANCHORS="${ANCHORS:-go1}"
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(binary_trees multiproc fidelity request_server)
for w in "${which[@]}"; do
    case "$w" in
    binary_trees) cmd=("$here/binary_trees.sh" 18 21) ;;
    multiproc) cmd=("$here/multiproc.sh" 1 2) ;;
    fidelity) cmd=("$here/fidelity.sh" --lesson gc-pacing --lesson binary-trees --repeat "${REPEAT:-3}") ;;
    request_server) cmd=("$here/request_server.sh") ;;
    *) echo "collector.sh: no benchmark '$w' (binary_trees, multiproc, fidelity, request_server)" >&2; exit 2 ;;
    esac
    echo "=== ${cmd[*]#"$here/"}  ($(date -u '+%H:%M:%S UTC'))"
    "${cmd[@]}"
    echo
done 2>&1 | tee "$log"
echo "(kept in $log)"
