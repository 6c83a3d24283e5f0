#!/usr/bin/env bash
# Failure-log benchmark for `weft monitor analyze-logs` (see the monitor
# issue), side by side in one run with ripgrep (`rg -c -f PATTERNS`) and GNU
# grep (`grep -c -E -f PATTERNS`): SIZE_MB of generated CI logs (default
# 1024) against RULES rules (default 200), each rule one pattern in the
# syntax the three share (no flags, no named groups). Prints each tool's
# wall time, throughput and matching-line count; the counts must agree.
# Prints figures; asserts nothing but the equal counts. Needs: python3; rg
# and grep when present (missing ones are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-1024}
RULES=${RULES:-200}

cargo build -q --release -p weft
WEFT=$PWD/target/release/weft
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== generating ${SIZE_MB} MB of CI logs and ${RULES} rules =="
python3 - "$work" "$SIZE_MB" "$RULES" <<'PY'
import os, random, sys
work, size_mb, rules = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
components = ["api", "web", "db", "cache", "auth", "billing", "search", "queue"]
# Rules: a family of error codes, each with its own shape.
patterns = []
with open(os.path.join(work, "rules.yaml"), "w") as out:
    out.write("rules:\n")
    for i in range(rules):
        component = components[i % len(components)]
        pattern = f"E{i:04d}: {component} [a-z]+ failed after [0-9]+ attempts"
        patterns.append(pattern)
        out.write(f"  - name: code-{i:04d}\n    category: build\n    severity: high\n")
        out.write(f"    pattern: '{pattern}'\n")
        out.write(f"    examples: ['E{i:04d}: {component} step failed after 3 attempts']\n")
with open(os.path.join(work, "patterns.txt"), "w") as out:
    out.write("\n".join(patterns) + "\n")
# Logs: ordinary build output, one failure line in about a thousand.
ordinary = [
    "   Compiling {c} v0.{n}.0 (/home/runner/work/{c})",
    "[{n:3d}%] Building CXX object CMakeFiles/{c}.dir/src/{c}_{n}.cpp.o",
    "test {c}::tests::case_{n} ... ok",
    "Downloaded {c}-{n}.tar.gz (1{n} kB) in 0.{n}s",
    "2024-11-02T08:{n:02d}:01.1234567Z ##[debug]Evaluating condition for step: '{c} {n}'",
    "npm notice {c}@{n}.0.0 is available",
]
lines = []
for k in range(20000):
    c = random.choice(components)
    n = random.randint(1, 99)
    if k % 997 == 0:
        i = random.randrange(rules)
        lines.append(f"E{i:04d}: {components[i % len(components)]} step failed after {n} attempts")
    else:
        lines.append(random.choice(ordinary).format(c=c, n=n))
block = ("\n".join(lines) + "\n").encode()
target = size_mb * 1024 * 1024
with open(os.path.join(work, "ci.log"), "wb") as out:
    written = 0
    while written + len(block) <= target:
        out.write(block)
        written += len(block)
PY
log="$work/ci.log"
bytes=$(stat -c %s "$log")
# Warm the page cache so every tool reads from memory.
cat "$log" > /dev/null

ms() { date +%s%3N; }
report() {
    python3 - "$1" "$2" "$3" "$bytes" <<'PY'
import sys
name, took, count, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print(f"{name:<28} {took:>7} ms   {size / 1e6 / (took / 1000):>8.0f} MB/s   {count} matching lines")
PY
}

start=$(ms)
"$WEFT" monitor analyze-logs "$log" --rules "$work/rules.yaml" --no-builtin --format json > "$work/weft.json"
end=$(ms)
weft_count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$work/weft.json")
report "weft monitor analyze-logs" $((end - start)) "$weft_count"
# The same with weft's built-in rules too (what a user gets by default);
# the peers have no such set, so this line has no partner.
start=$(ms)
"$WEFT" monitor analyze-logs "$log" --rules "$work/rules.yaml" --format json > "$work/weft-builtin.json"
end=$(ms)
builtin_count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$work/weft-builtin.json")
report "  … with the built-in rules" $((end - start)) "$builtin_count"

if command -v rg >/dev/null 2>&1; then
    start=$(ms); rg_count=$(rg -c -f "$work/patterns.txt" "$log" || true); end=$(ms)
    report "rg -c -f PATTERNS" $((end - start)) "$rg_count"
    [ "$rg_count" = "$weft_count" ] || { echo "counts differ: weft $weft_count, rg $rg_count"; exit 1; }
else
    echo "rg: not installed, skipped"
fi
if command -v grep >/dev/null 2>&1; then
    start=$(ms); grep_count=$(grep -c -E -f "$work/patterns.txt" "$log" || true); end=$(ms)
    report "grep -c -E -f PATTERNS" $((end - start)) "$grep_count"
    [ "$grep_count" = "$weft_count" ] || { echo "counts differ: weft $weft_count, grep $grep_count"; exit 1; }
fi
