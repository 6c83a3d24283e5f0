#!/usr/bin/env bash
# Push benchmark for `weft push` (see the push issue): PUSHERS concurrent pushers, each landing
# COMMITS commits one after the other on `main` of one bare repository. Every commit changes the
# pusher's own file and appends a row to one shared data file, data/results.csv. Side by side, in
# one run:
#   weft  `weft push --add own data -m MSG` after each change; weft.yaml says
#         `push: {policies: {data/results.csv: union}}`;
#   loop  the common hand-made loop, after `git commit`:
#           until git pull --rebase && git push; do sleep $((RANDOM % 5)); done
#         with `data/results.csv merge=union` in .gitattributes, without which every rebase stops
#         on the shared file and the loop never ends. A pusher still trying after TIMEOUT seconds
#         gives up and counts as a failure.
#   literal  (only with LITERAL=1) the same loop without the merge driver, as people write it; each
#         push gives up after LITERAL_TIMEOUT seconds. Its first conflict on the shared file stops
#         `git pull --rebase` half-way, and every later pull fails until it gives up.
# Prints, for each: commits landed, commits landed twice, rows of the shared file kept, failed
# pushes, wall time; for weft also the attempts and the time spent waiting for the lock. Asserts
# nothing. Needs: git, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

PUSHERS=${PUSHERS:-16}
COMMITS=${COMMITS:-5}
TIMEOUT=${TIMEOUT:-300}
LITERAL=${LITERAL:-0}
LITERAL_TIMEOUT=${LITERAL_TIMEOUT:-20}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

cargo build -q --release -p weft
WEFT=$TARGET_DIR/release/weft
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_TERMINAL_PROMPT=0 LC_ALL=C
unset WEFT_SERVER WEFT_WORKSPACE

ms() { date +%s%3N; }

# A bare repository and PUSHERS clones of it, under $work/$1.
setup() {
    local mode=$1 dir=$work/$1
    mkdir -p "$dir"
    git init -q --bare --initial-branch=main "$dir/remote.git"
    git clone -q "$dir/remote.git" "$dir/seed" 2>/dev/null
    (
        cd "$dir/seed"
        git config user.name seed && git config user.email seed@example.invalid
        mkdir -p data own
        echo "pusher,commit" > data/results.csv
        echo "bench" > README.md
        if [ "$mode" = weft ]; then
            echo 'push: {policies: {"data/results.csv": union}}' > weft.yaml
        elif [ "$mode" = loop ]; then
            echo 'data/results.csv merge=union' > .gitattributes
        fi
        git add -A && git commit -q -m seed && git push -q origin HEAD:main
    )
    for p in $(seq 1 "$PUSHERS"); do
        git clone -q "$dir/remote.git" "$dir/c$p" 2>/dev/null
        (
            cd "$dir/c$p"
            git config user.name "pusher$p" && git config user.email "p$p@example.invalid"
            mkdir -p own
        )
    done
}

change() { # pusher commit
    echo "pusher $1 commit $2" > "own/$1.txt"
    echo "$1,$2" >> data/results.csv
}

pusher_weft() {
    local p=$1 dir=$work/weft
    cd "$dir/c$p"
    for c in $(seq 1 "$COMMITS"); do
        change "$p" "$c"
        if ! timeout "$TIMEOUT" "$WEFT" push --add own data -m "pusher $p commit $c" --format json \
            >"$dir/report-$p-$c.json" 2>>"$dir/log-$p"; then
            echo "pusher $p commit $c" >>"$dir/failures"
        fi
    done
}

pusher_literal() {
    TIMEOUT=$LITERAL_TIMEOUT MODE_DIR=$work/literal pusher_loop "$1"
}

pusher_loop() {
    local p=$1 dir=${MODE_DIR:-$work/loop}
    cd "$dir/c$p"
    for c in $(seq 1 "$COMMITS"); do
        change "$p" "$c"
        git add -A && git commit -q -m "pusher $p commit $c"
        local started=$SECONDS
        until git pull -q --rebase >/dev/null 2>>"$dir/log-$p" && git push -q >/dev/null 2>>"$dir/log-$p"; do
            if [ $((SECONDS - started)) -ge "$TIMEOUT" ]; then
                echo "pusher $p commit $c" >>"$dir/failures"
                git rebase --abort >/dev/null 2>&1 || true
                break
            fi
            sleep $((RANDOM % 5))
        done
    done
}

# Runs every pusher of a mode at once; prints the wall time in ms.
race() {
    local mode=$1 start pids=()
    : >"$work/$mode/failures"
    start=$(ms)
    for p in $(seq 1 "$PUSHERS"); do
        "pusher_$mode" "$p" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    echo $(($(ms) - start))
}

setup weft
setup loop
weft_ms=$(race weft)
loop_ms=$(race loop)
literal_ms=0
if [ "$LITERAL" = 1 ]; then
    setup literal
    literal_ms=$(race literal)
fi

python3 - "$work" "$PUSHERS" "$COMMITS" "$weft_ms" "$loop_ms" "$literal_ms" <<'PY'
import collections, glob, json, os, subprocess, sys
work, pushers, commits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
weft_ms, loop_ms, literal_ms = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
expected = pushers * commits

def measure(mode):
    remote = os.path.join(work, mode, "remote.git")
    git = lambda *a: subprocess.run(["git", "-C", remote, *a], capture_output=True, text=True).stdout
    subjects = [s for s in git("log", "--format=%s", "main").splitlines() if s != "seed"]
    counts = collections.Counter(subjects)
    wanted = {f"pusher {p} commit {c}" for p in range(1, pushers + 1) for c in range(1, commits + 1)}
    rows = set(git("show", "main:data/results.csv").splitlines()[1:])
    wanted_rows = {f"{p},{c}" for p in range(1, pushers + 1) for c in range(1, commits + 1)}
    failures = len(open(os.path.join(work, mode, "failures")).read().splitlines())
    return (len(wanted & set(counts)), sum(1 for s in counts if counts[s] > 1),
            len(wanted_rows & rows), failures)

attempts, waited, held = [], [], []
for path in glob.glob(os.path.join(work, "weft", "report-*.json")):
    try:
        report = json.load(open(path))
    except ValueError:
        continue
    attempts.append(report.get("attempts", 0))
    waited.append(report.get("lock", {}).get("waited_ms", 0))
    held.append(report.get("lock", {}).get("held_ms", 0))

print(f"push benchmark: {pushers} pushers x {commits} commits to one bare repository, "
      f"each commit also appending to data/results.csv ({os.cpu_count()} CPUs)")
print(f"{'':34}{'landed':>10}{'twice':>7}{'rows kept':>11}{'failures':>10}{'wall time':>11}")
rows = [("weft push", "weft", weft_ms),
        ("loop + merge=union", "loop", loop_ms)]
if literal_ms:
    rows.append(("loop as written", "literal", literal_ms))
for name, mode, elapsed in rows:
    landed, twice, rows, failures = measure(mode)
    print(f"{name:34}{f'{landed}/{expected}':>10}{twice:>7}{f'{rows}/{expected}':>11}"
          f"{failures:>10}{elapsed / 1000:>10.1f}s")
if attempts:
    print(f"weft push: {sum(attempts)} attempts for {len(attempts)} pushes; lock wait "
          f"mean {sum(waited) / len(waited) / 1000:.2f}s, max {max(waited) / 1000:.2f}s; lock held "
          f"mean {sum(held) / len(held) / 1000:.2f}s, total {sum(held) / 1000:.1f}s")
PY
