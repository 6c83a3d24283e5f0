#!/usr/bin/env bash
# Two `weft` binaries' leases side by side (what is measured: see
# bench/locks.sh). For ROUNDS rounds, each binary in turn serves a new store
# (a new SQLite file; a new database on one throwaway PostgreSQL cluster with
# durable commits) while weft-lockbench measures acquire+release per second
# with each of CLIENTS, then the wake latency. Taking them in turn is what
# makes the two comparable on a machine whose speed wanders by ±20%; a
# summary prints, per backend, each binary's median and new ÷ old. Prints
# figures; asserts nothing.
#
#   bash bench/locks-ab.sh OLD_WEFT NEW_WEFT
#
# Environment: ROUNDS (3), SECONDS_PER_RUN (4), CLIENTS ("1 16 64"),
# WAKE_ROUNDS (200; 0 for none), BACKENDS ("sqlite postgres").
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: bash bench/locks-ab.sh OLD_WEFT NEW_WEFT" >&2
    exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
for binary in "$old" "$new"; do
    if [ ! -x "$binary" ]; then
        echo "error: $binary is not an executable weft" >&2
        exit 2
    fi
done
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
CLIENTS=${CLIENTS:-"1 16 64"}
WAKE_ROUNDS=${WAKE_ROUNDS:-200}
BACKENDS=${BACKENDS:-"sqlite postgres"}

cargo build -q --release -p weft-testkit --bin weft-lockbench
BENCH=$PWD/target/release/weft-lockbench
# shellcheck source=bench/lib/locks.sh
source bench/lib/locks.sh

if [[ " $BACKENDS " == *" postgres "* ]] && ! start_postgres; then
    echo "SKIP PostgreSQL: not installed" >&2
    BACKENDS=${BACKENDS//postgres/}
fi

results=$work/results
field() { sed -n "s|.* $1=\\([0-9.]*\\).*|\\1|p" <<<"$2"; }
store=0
echo "== $old (old) and $new (new), taken in turn (${SECONDS_PER_RUN}s per run, $(nproc) cores)"
for round in $(seq 1 "$ROUNDS"); do
    for backend in $BACKENDS; do
        for side in old new; do
            binary=${!side}
            store=$((store + 1))
            name=store$store
            case $backend in
                sqlite) location="sqlite://$work/$name/.weft/state.db" ;;
                postgres)
                    "${psql_as[@]}" postgres -c "CREATE DATABASE $name"
                    location="postgres://weft@127.0.0.1:$pg_port/$name"
                    ;;
            esac
            start_weft "$binary" "$name" "$location"
            for clients in $CLIENTS; do
                line=$("$BENCH" throughput weft "$url" "$clients" "$SECONDS_PER_RUN")
                ops=$(field ops/s "$line")
                echo "$backend ops/s clients=$clients $side $ops" >>"$results"
                printf 'round %s  %-8s  %-3s  clients=%-3s  ops/s=%s\n' "$round" "$backend" "$side" "$clients" "$ops"
            done
            if [ "$WAKE_ROUNDS" -gt 0 ]; then
                line=$("$BENCH" wake weft "$url" "$WAKE_ROUNDS" 2>/dev/null)
                p50=$(field p50 "$line")
                p99=$(field p99 "$line")
                echo "$backend wake-p50(ms) - $side $p50" >>"$results"
                echo "$backend wake-p99(ms) - $side $p99" >>"$results"
                printf 'round %s  %-8s  %-3s  wake p50=%sms p99=%sms\n' "$round" "$backend" "$side" "$p50" "$p99"
            fi
            kill "$server"
            wait "$server" 2>/dev/null || true
        done
    done
done

echo "== medians of $ROUNDS rounds (new ÷ old: above 1 is more throughput, or a longer wake)"
python3 - "$results" <<'PY'
import statistics, sys
figures = {}
for line in open(sys.argv[1]):
    backend, metric, clients, side, value = line.split()
    if value:
        figures.setdefault((backend, metric, clients), {}).setdefault(side, []).append(float(value))
for (backend, metric, clients), sides in figures.items():
    old, new = (statistics.median(sides.get(side, [float("nan")])) for side in ("old", "new"))
    label = f"{metric} {clients if clients != '-' else ''}".strip()
    ratio = new / old if old else float("nan")
    print(f"{backend:<9} {label:<20} old {old:>9.2f}  new {new:>9.2f}  new/old {ratio:.2f}")
PY
