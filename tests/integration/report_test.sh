#!/usr/bin/env bash
# `heapsim report` opened in a real browser: headless Chromium loads the
# HTML with networking off, and the DOM it builds must hold the charts
# with data (SVG elements, data-points > 0). The screenshot is kept in
# $TEST_UNDECLARED_OUTPUTS_DIR (bazel-testlogs/tests/report_test/
# test.outputs/) to look at. Without Chromium the test fails and says so:
# tools/setup installs it on the tests' path (tests/run).
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    fail "chromium is not installed, so the report cannot be checked in a browser" \
         "(tests/run installs it through 'HEAPSIM_SKIP_BUILD=1 tools/setup'; or: apt-get install chromium)"
    finish
    exit 1
fi

db="$T/h.db"
cat >"$T/sweep.yaml" <<'YAML'
name: report-sweep
sample_interval: 10ms
task: {kernel: churn, objects: 300000, live_objects: 5000, goroutines: 2}
sweep: {gogc: [50, 200]}
repeat: 2
YAML
"$HEAPSIM" run "$T/sweep.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "run" "$?" 0
"$HEAPSIM" run "$T/sweep.yaml" --workers 1 --db "$db" --quiet >/dev/null 2>&1
expect_eq "second run" "$?" 0
"$HEAPSIM" report 1 2 --db "$db" -o "$T/report.html" 2>/dev/null
expect_eq "report" "$?" 0

# chrome HEADLESS_ARGS... URL: run the browser with no network and a
# profile of its own, for at most a minute.
chrome() {
    HOME="$T" timeout 60 "$browser" --headless --no-sandbox --disable-gpu \
        --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --disable-dev-shm-usage \
        --user-data-dir="$(mktemp -d "$T/profile.XXXXXX")" "$@" 2>>"$T/chrome.log"
}

chrome --dump-dom "file://$T/report.html" >"$T/dom.html"
expect_eq "chromium loaded the report" "$?" 0
# What the browser parsed, not the file: the DOM it serialises back.
nsvg=$(grep -o '<svg [^>]*class="chart"' "$T/dom.html" | wc -l)
check "the DOM has charts ($nsvg)" test "$nsvg" -ge 10
for chart in heap pauses goroutines stacks sweep metric; do
    expect_grep "the DOM has a $chart chart with data" \
        "data-chart=\"$chart\" data-points=\"[1-9]" "$T/dom.html"
done
expect_grep "the heap chart has a line with points" '<polyline[^>]*points="[0-9]' "$T/dom.html"
expect_grep "GC cycles are marked" 'data-series="gc cycles" data-n="[1-9]' "$T/dom.html"
expect_grep "the second run is overlaid" 'data-series="B heap in use" data-n="[1-9]' "$T/dom.html"
expect_grep "tick labels in human units" 'class="ytick">[0-9.]* MiB<' "$T/dom.html"

out="${TEST_UNDECLARED_OUTPUTS_DIR:-$T}"
chrome --window-size=1400,3000 --screenshot="$out/report.png" "file://$T/report.html" >/dev/null
check "a screenshot" test -s "$out/report.png"
cp "$T/report.html" "$out/report.html" 2>/dev/null
[ "$failed" = 0 ] || tail -n 20 "$T/chrome.log" >&2

check "no heapsim segment left in /dev/shm" no_segments_left
finish
