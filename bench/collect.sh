#!/usr/bin/env bash
# Collection benchmark for `weft monitor collect` (see the monitor issue):
# REPOS repositories (default 200) on weft-testkit's fake GitHub
# (`weft-fake-github --monitor-fixture`), each with a month of past: about
# 20 workflow runs (some failed, with a short failing log), 5 pull requests
# (some stale, with people's and bots' comments and reviews), 1 or 2 issues,
# 3 branches besides the pull requests' (one old) and 2 releases. Collects
# twice into a fresh workspace: the first collection reads everything; the
# second has nothing new and should cost only 304s. Prints, for each, the
# wall time, the API requests (weft's count and the fake's), the 304s, the
# items written and the requests per repository; then the requests of the
# second collection that were not 304s, from the fake's request log.
# There is no peer tool to compare with: nothing else collects this set
# (runs, failed-job logs, pull requests and issues with their timelines,
# branches, releases, events) incrementally with an ETag cache kept between
# runs. CONCURRENCY sets `monitor.concurrency` (default 4). Prints figures;
# asserts nothing.
#
# The fake's primary budget is RATE_LIMIT requests an hour (default 15000,
# a GitHub App's on Enterprise Cloud): a personal token's 5000 does not
# cover the first collection of 200 such repositories (about 27 budgeted
# calls each, log downloads aside), which then stops and leaves the rest
# for the next one. RATE_LIMIT=5000 shows that.
set -euo pipefail
cd "$(dirname "$0")/.."

REPOS=${REPOS:-200}
RATE_LIMIT=${RATE_LIMIT:-15000}

cargo build -q --release -p weft -p weft-testkit --bins
WEFT=$PWD/target/release/weft
work=$(mktemp -d)
fake_pid=
cleanup() {
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$PWD/target/release/weft-fake-github" --monitor-fixture "$REPOS" --rate-limit "$RATE_LIMIT" \
    --log-requests "$work/requests.log" \
    > "$work/fake.url" &
fake_pid=$!
for _ in $(seq 600); do [ "$(wc -l < "$work/fake.url")" -ge 2 ] && break; sleep 0.05; done
api_url=$(sed -n 1p "$work/fake.url")
[ -n "$api_url" ] || { echo "weft-fake-github did not start" >&2; exit 1; }
WEFT_BENCH_TOKEN=$(sed -n 2p "$work/fake.url")
export WEFT_BENCH_TOKEN

mkdir "$work/ws"
cat > "$work/ws/weft.yaml" <<EOF
name: collect-bench
github: {api_url: "$api_url", token_env: WEFT_BENCH_TOKEN}
monitor: {repositories: ["bench/*"], concurrency: ${CONCURRENCY:-4}}
EOF

stats() { python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/_stats"))["requests"])' "$api_url"; }
ms() { date +%s%3N; }

# collect NAME: one `weft monitor collect`, its answer in NAME.json and its
# figures (wall ms, the fake's request count before and after) in NAME.txt.
# A collection stopped by the rate limit exits 3 with an answer: kept. One
# with no answer (the budget spent before the repositories were listed)
# leaves its error in NAME.err.
collect() {
    local before start end
    before=$(stats)
    start=$(ms)
    "$WEFT" -w "$work/ws" monitor collect --format json > "$work/$1.json" 2> "$work/$1.err" || true
    end=$(ms)
    echo "$((end - start)) $before $(stats)" > "$work/$1.txt"
}

echo "== weft monitor collect: $REPOS repositories on the fake GitHub ($RATE_LIMIT requests an hour), $(nproc) cores =="
collect first
collect second
# The fake appends its request log every 200 ms: wait (with a deadline)
# until it holds every request counted.
total=$(stats)
for _ in $(seq 100); do [ "$(wc -l < "$work/requests.log")" -ge "$total" ] && break; sleep 0.05; done

python3 - "$work" "$REPOS" <<'PY'
import json, os, sys
from collections import Counter
work, repos = sys.argv[1], int(sys.argv[2])
header = (f"{'collection':<11} {'wall s':>7} {'weft ms':>8} {'requests':>9} {'fake saw':>9} {'304s':>6} "
          f"{'budget':>7} {'items':>7} {'logs':>5} {'req/repo':>9} {'failed':>6}")
print(header)
print("-" * len(header))
# "requests" is weft's count, "fake saw" the fake's /_stats delta (both
# count log downloads); "budget" is what x-ratelimit-remaining went down by
# (304s and log downloads are free).
remaining, notes, spans = None, [], {}
for name in ["first", "second"]:
    wall, before, after = map(int, open(os.path.join(work, name + ".txt")).read().split())
    spans[name] = (before, after)
    try:
        answer = json.load(open(os.path.join(work, name + ".json")))
    except ValueError:
        error = open(os.path.join(work, name + ".err")).read().strip()
        print(f"{name:<11} {wall / 1000:>7.2f}  no answer after {after - before} API calls: {error}")
        continue
    budget = answer["rate_limit"]
    spent = (budget["limit"] if remaining is None else remaining) - budget["remaining"]
    remaining = budget["remaining"]
    collected = len(answer["repositories"]) - len(answer["skipped"])
    print(f"{name:<11} {wall / 1000:>7.2f} {answer['elapsed_ms']:>8} {answer['requests']:>9} {after - before:>9} "
          f"{answer['not_modified']:>6} {spent:>7} {answer['items']:>7} {answer['logs_analysed']:>5} "
          f"{answer['requests'] / max(collected, 1):>9.2f} {len(answer['failed']):>6}")
    if len(answer["repositories"]) != repos:
        notes.append(f"{name}: {len(answer['repositories'])} repositories resolved, not {repos}")
    for failure in answer["failed"]:
        notes.append(f"{name}: {failure['repository']} failed: {failure['error']}")
    if answer.get("stopped"):
        notes.append(f"{name}: {len(answer['skipped'])} repositories skipped: {answer['stopped']}")
for note in notes:
    print(note)
before, after = spans["second"]
lines = open(os.path.join(work, "requests.log")).read().splitlines()[before:after]
fresh = [line for line in lines if not line.startswith("304 ")]
print(f"second collection: {len(lines) - len(fresh)} of {len(lines)} requests were 304s")
for line, count in sorted(Counter(fresh).items()):
    print(f"  not 304: {line}" + (f"  (x{count})" if count > 1 else ""))
PY
