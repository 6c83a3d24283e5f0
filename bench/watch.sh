#!/usr/bin/env bash
# Re-analysis benchmark: one saved compose file in a synthetic workspace
# (default 1,000 repositories × 10 services), answered by the model weft
# keeps in memory, beside a fresh read of the same files.
#
# 1. In one process (the `reanalysis` example): the time to bring the model up
#    to date, plan it, find its conflicts and what changed, beside a fresh
#    discovery and analysis; it also checks that both give the same answer.
# 2. End to end: `weft watch --format json` running, a file saved, and the time
#    until its `change` line is read, beside `weft plan` + `weft conflicts`
#    run as processes on the same files (what a user runs without watch).
#
#   bench/watch.sh [REPOSITORIES] [SERVICES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

repositories="${1:-1000}"
services="${2:-10}"
runs="${3:-10}"

cargo build --release -q -p weft -p weft-testkit -p weft-discover --examples --bins
weft=target/release/weft
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

target/release/examples/weft-generate "$work/workspace" "$repositories" "$services"
echo "workspace: $repositories repositories × $services services ($(find "$work/workspace" -type f | wc -l) files)"
echo
target/release/examples/reanalysis "$work/workspace" "$runs"
echo
python3 - "$weft" "$work/workspace" "$runs" <<'PY'
import json, os, statistics, subprocess, sys, time

weft, root, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
first = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "compose.yaml")))[0]
path = os.path.join(root, first, "compose.yaml")
original = open(path).read()
edited = original + '  watch-probe:\n    image: example/probe:1.0\n    ports:\n      - "20001:9090"\n'

def fresh():
    start = time.perf_counter()
    for command in ("plan", "conflicts"):
        subprocess.run([weft, command, "-w", root, "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start

watch = subprocess.Popen([weft, "watch", root, "--format", "json", "--debounce", "20ms"],
                         stdout=subprocess.PIPE, text=True)
try:
    ready = json.loads(watch.stdout.readline())
    assert ready["event"] == "ready", ready
    latencies, totals = [], []
    for run in range(runs * 2):
        text = edited if run % 2 == 0 else original
        start = time.perf_counter()
        with open(path, "w") as f:
            f.write(text)
        line = json.loads(watch.stdout.readline())
        latencies.append(time.perf_counter() - start)
        services = line["changes"]["services"]
        assert line["event"] == "change" and (services["added"] or services["removed"]), line
        totals.append(line["timings_ms"]["total"] / 1e3)
finally:
    watch.kill()
    watch.wait()
    open(path, "w").write(original)
fresh_runs = [fresh() for _ in range(max(3, runs // 2))]
ms = lambda xs: statistics.median(xs) * 1e3
print(f"weft watch, one file saved, median of {runs * 2}:")
print(f"  save to change line read      {ms(latencies):8.1f} ms  (20 ms of it the debounce)")
print(f"  of which weft's work          {ms(totals):8.1f} ms")
print(f"weft plan + weft conflicts, fresh processes, median of {len(fresh_runs)}:")
print(f"  both                          {ms(fresh_runs):8.1f} ms  ({ms(fresh_runs) / ms(latencies):.1f}x the watched answer)")
PY
