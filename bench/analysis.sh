#!/usr/bin/env bash
# Analysis benchmark: wall time and peak RSS of `weft plan` and `weft
# conflicts` on a synthetic workspace of 1,000 repositories × 10 services,
# ordering alone against coreutils `tsort` on the same edge list, and parser
# throughput for compose and Kubernetes files.
#
#   bench/analysis.sh [REPOSITORIES] [SERVICES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

repositories="${1:-1000}"
services="${2:-10}"
runs="${3:-5}"

for tool in /usr/bin/time tsort; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool (Debian: time, coreutils)" >&2; exit 2; }
done

cargo build --release -q -p weft -p weft-testkit -p weft-analysis -p weft-discover --examples --bins
weft=target/release/weft
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

target/release/examples/weft-generate "$work/workspace" "$repositories" "$services"
echo "workspace: $repositories repositories × $services services ($(du -sh "$work/workspace" | cut -f1), $(find "$work/workspace" -type f | wc -l) files)"

# Median of RUNS runs: "seconds peak_kb".
measure() {
    local samples=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
        end=$(date +%s%N)
        samples+=("$(awk -v ns="$((end - start))" 'BEGIN { printf "%.4f", ns / 1e9 }') $(tail -n1 "$work/time")")
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)'
}

report() {
    local label="$1"; shift
    read -r seconds kilobytes <<<"$(measure "$@")"
    printf '%-28s %6.2f s  %6d MB peak RSS\n' "$label" "$seconds" "$((kilobytes / 1024))"
}

report "weft plan --format json" "$weft" plan -w "$work/workspace" --format json
report "weft conflicts --format json" "$weft" conflicts -w "$work/workspace" --format json

# Ordering alone: the same edge list through `tsort` and through weft's planner.
"$weft" graph -w "$work/workspace" --format json >"$work/graph.json"
python3 - "$work/graph.json" >"$work/edges" <<'PY'
import json, sys
graph = json.load(open(sys.argv[1]))
for edge in graph["edges"]:
    print(edge["to"], edge["from"])  # tsort: BEFORE AFTER
PY
echo "edge list: $(wc -l <"$work/edges") edges"
# Taken in turn, RUNS * 3 of each (a run takes a fraction of a second): on
# a shared machine whose speed drifts, a block of one and then a block of
# the other measured the drift as often as the difference.
read -r tsort_seconds weft_seconds <<<"$(python3 - "$((runs * 3))" "$work/edges" <<'PY'
import statistics, subprocess, sys, time
runs, edges = int(sys.argv[1]), sys.argv[2]
times = {"tsort": [], "order": []}
for _ in range(runs):
    for name, command in (("tsort", ["tsort", edges]), ("order", ["target/release/examples/order", edges])):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times[name].append(time.perf_counter() - start)
print(f"{statistics.median(times['tsort']):.4f} {statistics.median(times['order']):.4f}")
PY
)"
printf '%-28s %6.3f s\n' "tsort (coreutils)" "$tsort_seconds"
printf '%-28s %6.3f s\n' "weft ordering (order example)" "$weft_seconds"
python3 -c "import sys; t, w = map(float, sys.argv[1:]); print(f'ratio weft/tsort: {w / t if t else float(\"nan\"):.2f}')" "$tsort_seconds" "$weft_seconds"

target/release/examples/parse-throughput "$work/workspace"
