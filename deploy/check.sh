#!/usr/bin/env bash
# deploy/check.sh -- what can be checked offline of deploy/: the systemd
# unit with systemd-analyze verify (against a stand-in binary), the
# Kubernetes manifests with kubectl's client-side dry run when kubectl is
# there (else parsed as YAML), the Slurm script with bash -n. Says what it
# could not check.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null; then
    # verify wants ExecStart's binary to exist: point it at a stand-in.
    sed "s|/opt/heapsim/heapsim|/bin/true|" "$here/systemd/heapsim-worker@.service" \
        >"$tmp/heapsim-worker@.service"
    if systemd-analyze verify "$tmp/heapsim-worker@.service" 2>"$tmp/err" &&
       ! grep -v "Documentation\|EnvironmentFile" "$tmp/err" | grep -q .; then
        echo "systemd unit: ok"
    else
        echo "systemd unit: FAILED"; cat "$tmp/err"; failed=1
    fi
else
    echo "systemd unit: not checked (no systemd-analyze)"
fi

if command -v kubectl >/dev/null &&
   kubectl apply --dry-run=client --validate=false -f "$here/kubernetes/heapsim.yaml" \
       >"$tmp/k" 2>&1; then
    echo "kubernetes: ok ($(wc -l <"$tmp/k") objects)"
elif python3 -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' \
       "$here/kubernetes/heapsim.yaml" 2>"$tmp/err"; then
    echo "kubernetes: parsed as YAML only (kubectl dry run not possible here)"
else
    echo "kubernetes: FAILED"; cat "$tmp/err" "$tmp/k" 2>/dev/null; failed=1
fi

if bash -n "$here/slurm/heapsim.sbatch"; then
    echo "slurm script: syntax ok (not run: no Slurm here)"
else
    echo "slurm script: FAILED"; failed=1
fi
exit "$failed"
