#!/usr/bin/env bash
# Lock benchmark for `weft serve` (see the coordination issue), side by side
# in one run with etcd (its lease+lock API through the JSON gateway) and Redis
# (`SET NX PX` / `DEL`), all on 127.0.0.1:
#   1. acquire+release operations per second, p50 and p99 latency, with 1, 16
#      and 64 concurrent clients over HTTP (Redis: RESP over TCP), for weft on
#      SQLite and on PostgreSQL, etcd and Redis;
#   2. wake latency, from a holder sending its release to the next waiter's
#      grant arriving (weft pushes it on a long poll; etcd's lock call blocks
#      until granted; Redis has no waiting, so it is not measured);
#   3. the sync latency of the disk under the stores, a floor under a
#      wake's tail (a wake waits on the release's synced commit).
#   (WAKE_ROUNDS=0 measures 1 alone.)
# Each client takes and releases its own lock, so throughput measures the
# request path. Runs wander by ±20% on a small machine, so each client count
# is run ROUNDS times (default 3), the targets taken in turn within a round,
# and the summary prints each target's median and its ratio to etcd's.
# Prints figures; asserts nothing. Needs: etcd (Debian
# `etcd-server`), redis-server, and PostgreSQL (Debian `postgresql`);
# missing ones are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-3}
# A p99 of 200 rounds is their third slowest, two stalls of the machine
# away from another figure; of 1,000 rounds it is the eleventh slowest.
# 0: throughput alone.
WAKE_ROUNDS=${WAKE_ROUNDS:-1000}
case $WAKE_ROUNDS in
    '' | *[!0-9]*)
        echo "error: WAKE_ROUNDS must be a whole number (0 for none), not '$WAKE_ROUNDS'" >&2
        exit 2
        ;;
esac
CLIENTS=${CLIENTS:-"1 16 64"}

cargo build -q --release -p weft -p weft-testkit --bin weft --bin weft-lockbench
WEFT=$PWD/target/release/weft
BENCH=$PWD/target/release/weft-lockbench
# shellcheck source=bench/lib/locks.sh
source bench/lib/locks.sh

targets=()
# The default place, `.weft/` in the workspace (which the server's file
# watcher skips); a database in the watched root would wake the watcher on
# every commit.
start_weft "$WEFT" weft-sqlite "sqlite://$work/weft-sqlite/.weft/state.db"
targets+=("weft-sqlite weft $url")

if start_postgres; then
    start_weft "$WEFT" weft-postgres "postgres://weft@127.0.0.1:$pg_port/postgres"
    targets+=("weft-postgres weft $url")
else
    echo "SKIP weft on PostgreSQL: PostgreSQL is not installed" >&2
fi

if command -v etcd >/dev/null 2>&1; then
    etcd_port=$(free_port)
    peer_port=$(free_port)
    etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "default=http://127.0.0.1:$peer_port" >"$work/etcd.log" 2>&1 &
    pids+=($!)
    wait_port "$etcd_port"
    sleep 0.5
    targets+=("etcd etcd http://127.0.0.1:$etcd_port")
else
    echo "SKIP etcd: not installed (apt-get install etcd-server)" >&2
fi

if command -v redis-server >/dev/null 2>&1; then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_port "$redis_port"
    targets+=("redis redis 127.0.0.1:$redis_port")
else
    echo "SKIP redis: not installed (apt-get install redis-server)" >&2
fi

echo "== acquire+release throughput (${SECONDS_PER_RUN}s per run, $ROUNDS rounds, $(nproc) cores)"
results=$work/results
for clients in $CLIENTS; do
    for round in $(seq 1 "$ROUNDS"); do
        for target in "${targets[@]}"; do
            set -- $target
            line=$("$BENCH" throughput "$2" "$3" "$clients" "$SECONDS_PER_RUN" | cut -c16-)
            printf 'round %s  %-14s %s\n' "$round" "$1" "$line"
            echo "$1 $clients $(sed -n 's|.* ops/s=\([0-9.]*\).*|\1|p' <<<"$line")" >>"$results"
        done
    done
done

echo "== medians of $ROUNDS rounds (acquire+release per second; ÷ etcd: above 1 is faster)"
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    target, clients, ops = line.split()
    runs.setdefault(int(clients), {}).setdefault(target, []).append(float(ops))
for clients, targets in sorted(runs.items()):
    etcd = statistics.median(targets["etcd"]) if "etcd" in targets else None
    for target, values in targets.items():
        median = statistics.median(values)
        ratio = f"{median / etcd:.2f}x etcd" if etcd else ""
        spread = f"({min(values):,.0f}-{max(values):,.0f})"
        print(f"clients={clients:<3} {target:<14} {median:>9,.0f}  {spread:<17} {ratio}")
PY

if [ "$WAKE_ROUNDS" -eq 0 ]; then
    # Throughput alone (WAKE_ROUNDS=0): no wake rounds, and no disk
    # probe, which is there to read the wake latency against.
    exit 0
fi

echo "== wake latency: release → next waiter's grant ($WAKE_ROUNDS rounds)"
for target in "${targets[@]}"; do
    set -- $target
    [ "$2" = redis ] && continue
    printf '%-14s ' "$1"
    "$BENCH" wake "$2" "$3" "$WAKE_ROUNDS" 2>/dev/null | cut -c16-
done

# A wake waits on at least one synced commit (the release's), so the disk's
# sync latency is a floor under its tail: measured here on the same disk,
# the way a commit syncs (a 16 KB write over a file already on disk, then
# fdatasync).
echo "== this disk's sync latency under the stores ($WAKE_ROUNDS rounds, 5 ms apart)"
python3 - "$work" "$WAKE_ROUNDS" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "sync-probe")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
# Laid out and synced first, so that every timed sync is of data alone.
os.pwrite(fd, b"\0" * 64 * 16384, 0)
os.fsync(fd)
times = []
for i in range(int(sys.argv[2])):
    os.pwrite(fd, b"\1" * 16384, (i % 64) * 16384)
    start = time.perf_counter()
    os.fdatasync(fd)
    times.append((time.perf_counter() - start) * 1000)
    time.sleep(0.005)
os.close(fd)
os.unlink(path)
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"fdatasync      p50={pick(0.5):.2f}ms p99={pick(0.99):.2f}ms max={times[-1]:.2f}ms")
PY
