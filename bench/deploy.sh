#!/usr/bin/env bash
# Release benchmark for `weft deploy` (see the deploy issue):
#   1. SERVICES services (default 50) in PHASES layers (default 6), released
#      with the parallel strategy: each service's step takes STEP_MS (default
#      200 ms) and its gate passes on the first observation. Prints the wall
#      time beside the ideal (the sum of the phases' longest step as they ran)
#      and the orchestration overhead over it, whole-process and in-release.
#   2. The same release with one service of the last phase failing its gate:
#      the time from the failed observation to the first rollback step, read
#      from the release's record.
# With GITHUB=1 each step is a `workflow` step against weft-testkit's fake
# GitHub (`weft-fake-github`) with STEP_MS-long runs, and the API calls per
# service are printed as well. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-50}
PHASES=${PHASES:-6}
STEP_MS=${STEP_MS:-200}
RUNS=${RUNS:-3}
GITHUB=${GITHUB:-0}

if [ "$GITHUB" = 1 ]; then
    cargo build -q --release -p weft -p weft-testkit --bins
else
    cargo build -q --release -p weft
fi
WEFT=$PWD/target/release/weft
work=$(mktemp -d)
fake_pid=
cleanup() {
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

api_url=
if [ "$GITHUB" = 1 ]; then
    "$PWD/target/release/weft-fake-github" --run-ms "$STEP_MS" > "$work/fake.url" &
    fake_pid=$!
    for _ in $(seq 100); do [ "$(wc -l < "$work/fake.url")" -ge 2 ] && break; sleep 0.05; done
    api_url=$(sed -n 1p "$work/fake.url")
    WEFT_BENCH_TOKEN=$(sed -n 2p "$work/fake.url")
    export WEFT_BENCH_TOKEN
fi

# write_workspace DIR FAIL: FAIL=1 makes one service of the last phase fail its gate.
write_workspace() {
    python3 - "$1" "$SERVICES" "$PHASES" "$STEP_MS" "$2" "$api_url" <<'PY'
import os, sys
root, services, phases, step_ms, fail, api_url = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6]
os.makedirs(root, exist_ok=True)
per = [services // phases + (1 if i < services % phases else 0) for i in range(phases)]
names, layers = [], []
for layer, count in enumerate(per):
    layers.append([f"s{layer}_{i}" for i in range(count)])
lines = ["name: deploy-bench", "repositories:", "  apps: {path: apps}"]
if api_url:
    lines.append(f"github: {{api_url: \"{api_url}\", token_env: WEFT_BENCH_TOKEN}}")
lines += ["environments:", f"  bench: {{strategy: parallel, max_parallel: {max(per)}}}", "services:"]
os.makedirs(os.path.join(root, "apps"), exist_ok=True)
open(os.path.join(root, "apps", "README.md"), "w").write("bench\n")
for layer, members in enumerate(layers):
    for name in members:
        lines.append(f"  {name}:")
        lines.append("    repository: apps")
        if layer:
            needs = ", ".join(f"{n}: required" for n in layers[layer - 1])
            lines.append(f"    depends_on: {{{needs}}}")
        lines.append("    deploy:")
        if api_url:
            lines.append("      steps: [{workflow: {repository: acme/app, file: deploy.yml, ref: main, inputs: {version: \"${WEFT_VERSION}\"}}}]")
        else:
            lines.append(f"      steps: [{{run: \"sleep {step_ms / 1000}\"}}]")
        failing = fail and layer == len(layers) - 1 and name == members[-1]
        # Fails for the new version only, so its rollback passes.
        check = 'test $WEFT_VERSION != 2.0' if failing else "true"
        lines.append(f"      gates: [{{exec: \"{check}\", interval: 50ms, timeout: 10s}}]")
open(os.path.join(root, "weft.yaml"), "w").write("\n".join(lines) + "\n")
PY
}

sets() {
    python3 - "$SERVICES" "$PHASES" "$1" <<'PY'
import sys
services, phases, version = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
per = [services // phases + (1 if i < services % phases else 0) for i in range(phases)]
print(" ".join(f"--set s{layer}_{i}={version}" for layer, count in enumerate(per) for i in range(count)))
PY
}

ms() { date +%s%3N; }
ideal_ms=$((PHASES * STEP_MS))

echo "== release of $SERVICES services in $PHASES phases, ${STEP_MS} ms steps (parallel) =="
# The ideal is the sum of each phase's longest step as it really ran (a
# step is `sh -c "sleep …"`, or a workflow run: its own cost, not weft's).
# Overhead is measured twice: over the whole `weft deploy run` process
# (start-up, discovery, the store, the lease, the output) and inside the
# release (the deployment's start to its end).
: > "$work/runs.txt"
for run in $(seq "$RUNS"); do
    dir="$work/ok$run"
    write_workspace "$dir" 0
    read -ra set_args <<< "$(sets "1.$run")"
    start=$(ms); "$WEFT" -w "$dir" deploy run bench "${set_args[@]}" --format json > "$dir/out.json"; end=$(ms)
    python3 - "$dir/out.json" "$((end - start))" "$run" <<'PY' | tee -a "$work/runs.txt"
import json, sys
from datetime import datetime
answer = json.load(open(sys.argv[1]))
record, wall, run = answer["deployment"], int(sys.argv[2]), sys.argv[3]
parse = lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
steps = {s["service"]: s for s in record["steps"]}
longest = {}
for service in record["services"]:
    step = steps[service["service"]]
    took = (parse(step["finished"]) - parse(step["started"])).total_seconds() * 1000
    longest[service["phase"]] = max(longest.get(service["phase"], 0), took)
ideal = sum(longest.values())
inside = (parse(record["finished"]) - parse(record["started"])).total_seconds() * 1000
print(f"run {run}: {wall} {ideal:.0f} {inside:.0f} {answer['outcome']['status']}")
PY
done
python3 - "$work/runs.txt" "$ideal_ms" <<'PY'
import sys
runs = [line.split() for line in open(sys.argv[1])]
best = min(runs, key=lambda r: int(r[2]))
wall, ideal, inside = int(best[2]), float(best[3]), float(best[4])
print(f"weft deploy run (best of {len(runs)}): {wall} ms; ideal (sum of the phases' longest step, as run): {ideal:.0f} ms "
      f"(nominal {sys.argv[2]} ms)")
print(f"overhead: {100 * (wall - ideal) / ideal:.1f}% for the whole process, {100 * (inside - ideal) / ideal:.1f}% inside the release ({inside:.0f} ms)")
PY
if [ "$GITHUB" = 1 ]; then
    python3 - "$api_url" "$SERVICES" "$RUNS" <<'PY'
import json, sys, urllib.request
stats = json.load(urllib.request.urlopen(sys.argv[1] + "/_stats"))
releases = int(sys.argv[2]) * int(sys.argv[3])
print(f"GitHub API calls per service: {stats['requests'] / releases:.1f} ({stats['not_modified']} of {stats['requests']} were free 304s)")
PY
fi

echo "== a gate failing in the last phase: time to the first rollback step =="
dir="$work/fail"
write_workspace "$dir" 0
# shellcheck disable=SC2046
"$WEFT" -w "$dir" deploy run bench $(sets 1.0) --format json > /dev/null
write_workspace "$dir" 1
# shellcheck disable=SC2046
"$WEFT" -w "$dir" deploy run bench $(sets 2.0) --format json > "$dir/out.json" || true
python3 - "$dir/out.json" <<'PY'
import json, sys
from datetime import datetime
record = json.load(open(sys.argv[1]))["deployment"]
parse = lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
failed = min(parse(o["at"]) for o in record["observations"] if o["verdict"] == "fail")
first = min(parse(s["started"]) for s in record["steps"] if s["stage"] == "rollback")
rolled = sum(1 for s in record["steps"] if s["stage"] == "rollback")
print(f"status {record['status']}: failed gate → first rollback step {(first - failed).total_seconds() * 1000:.0f} ms ({rolled} services rolled back)")
PY
