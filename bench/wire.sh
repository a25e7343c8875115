#!/usr/bin/env bash
# bench/wire.sh -- the coordinator under load, by hand (bench/wire_bench.c
# says what each figure is and how it is measured).
#
#   bench/wire.sh [ingest|workers|all]
#
# ingest:  WORKERS (4) light clients stream SAMPLES (250,000) samples each
#          into a real `heapsim coordinator`, beside the two floors measured
#          in the same run (ZeroMQ + msgpack alone; SQLite batched inserts
#          alone). Target: >= 50 % of the lower floor, zero samples lost.
#          LOCK_MS (0): another connection holds the database's write lock
#          that long midway (heartbeats must stay on time, nothing lost).
# workers: CLIENTS (1000) simulated workers on one coordinator, TASKS
#          (20,000) tasks of TASK_MS (500) ms each, heartbeats every second.
#          Target: none lost, heartbeats on time.
# Outputs (databases, coordinator logs) go to bench/out/wire/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-all}"
case "$what" in ingest | workers | all) ;; *)
    echo "usage: bench/wire.sh [ingest|workers|all]" >&2; exit 2 ;;
esac
out="$root/bench/out/wire"
mkdir -p "$out"
cd "$root"
if [ -n "${HEAPSIM:-}" ]; then
    heapsim="$HEAPSIM"
else
    "$root/tools/setup"
    heapsim="$root/bazel-bin/cli/heapsim"
fi
bazel build //bench:wire_bench >/dev/null 2>&1 ||
    { echo "bench/wire.sh: bazel build //bench:wire_bench failed" >&2; exit 1; }
bench="$root/bazel-bin/bench/wire_bench"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(git rev-parse --short HEAD)"
status=0
if [ "$what" != workers ]; then
    "$bench" ingest "$heapsim" "${WORKERS:-4}" "${SAMPLES:-250000}" "$out" "${LOCK_MS:-0}" ||
        status=1
fi
if [ "$what" != ingest ]; then
    "$bench" workers "$heapsim" "${CLIENTS:-1000}" "${TASKS:-20000}" "${TASK_MS:-500}" \
        "$out" || status=1
fi
exit "$status"
