#!/usr/bin/env bash
# Launch benchmark for `weft up` (see the launch issue):
#   1. 100 services in a 10-layer DAG, each ready after a known delay: time from
#      `weft up --detach --wait` to all-ready against the ideal critical path, and
#      the usual hand-made pattern (start a layer, `wait-on` its ports) side by side;
#   2. idle CPU and RSS of the supervisor holding 100 processes for 30 s, side by
#      side with supervisord and pm2 holding the same 100 processes;
#   3. one service writing ~100 MB/s: the supervisor's memory, and another
#      service's readiness latency with and without the flood.
# Prints figures; asserts nothing. Needs: python3; optional peers: wait-on and
# pm2 (npm), supervisord (Debian `supervisor`). Missing peers are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

LAYERS=${LAYERS:-10}
PER_LAYER=${PER_LAYER:-10}
DELAY_MS=${DELAY_MS:-200}
IDLE_SECONDS=${IDLE_SECONDS:-30}
FLOOD_SECONDS=${FLOOD_SECONDS:-8}
# The readiness probes' cadence while starting (weft's default is 50ms).
START_PERIOD=${START_PERIOD:-20ms}

cargo build -q --release -p weft -p weft-testkit --bins
WEFT=$PWD/target/release/weft
TS=$PWD/target/release/weft-test-service
work=$(mktemp -d)
export WEFT_PORT_DIR=$work/ports
cleanup() {
    "$WEFT" -w "$work/dag" down >/dev/null 2>&1 || true
    "$WEFT" -w "$work/flood" down >/dev/null 2>&1 || true
    [ -n "${supervisord_pid:-}" ] && kill "$supervisord_pid" 2>/dev/null || true
    if command -v pm2 >/dev/null 2>&1; then PM2_HOME=$work/pm2 pm2 kill >/dev/null 2>&1 || true; fi
    pkill -f "$TS" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ms() { date +%s%3N; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
system_ticks() { awk '{print $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tick=$(getconf CLK_TCK)

# --- 1. the DAG -------------------------------------------------------------
mkdir -p "$work/dag"
python3 - "$work/dag/weft.yaml" "$TS" "$LAYERS" "$PER_LAYER" "$DELAY_MS" "$START_PERIOD" <<'PY'
import sys
path, ts, layers, per, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start_period = sys.argv[6]
out = ["name: dag", "ports: {range: 20000-29999}", "launch: {readiness_timeout: 60s}", "services:"]
for layer in range(layers):
    for i in range(per):
        out.append(f"  s{layer}_{i}:")
        out.append(f"    command: {ts} --delay {delay}ms")
        out.append("    ports: [{name: http}]")
        out.append('    ready: {tcp: "127.0.0.1:${PORT}", start_period: ' + start_period + '}')
        if layer:
            deps = ", ".join(f"s{layer-1}_{j}: required" for j in range(per))
            out.append(f"    depends_on: {{{deps}}}")
open(path, "w").write("\n".join(out) + "\n")
PY
ideal=$((LAYERS * DELAY_MS))
start=$(ms)
"$WEFT" -w "$work/dag" up --detach --wait --timeout 2m >/dev/null
weft_ms=$(( $(ms) - start ))
echo "== start-up: $((LAYERS * PER_LAYER)) services, $LAYERS layers, ${DELAY_MS} ms each, tcp probes every $START_PERIOD while starting"
echo "ideal critical path:          ${ideal} ms"
echo "weft up --detach --wait:      ${weft_ms} ms  (overhead $((weft_ms - ideal)) ms, $(( (weft_ms - ideal) * 100 / ideal ))%)"

# --- 2. idle cost -----------------------------------------------------------
supervisor=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['supervisor']['pid'])" "$work/dag/.weft/launch.json")
sleep 2
before=$(cpu_ticks "$supervisor"); system_before=$(system_ticks "$supervisor")
sleep "$IDLE_SECONDS"
after=$(cpu_ticks "$supervisor"); system_after=$(system_ticks "$supervisor")
weft_cpu=$(python3 -c "print(f'{($after-$before)/$tick/$IDLE_SECONDS*100:.2f}')")
weft_system=$(python3 -c "print(f'{($system_after-$system_before)/$tick/$IDLE_SECONDS*100:.2f}')")
weft_rss=$(rss_kb "$supervisor")
reaper=$(pgrep -P "$supervisor" -x weft || true)
reaper_rss=$( [ -n "$reaper" ] && rss_kb "$reaper" || echo 0)
ports=$(python3 -c "import json,sys;print(' '.join(str(s['ports'][0]['port']) for s in json.load(open(sys.argv[1]))['services']))" "$work/dag/.weft/launch.json")
"$WEFT" -w "$work/dag" down >/dev/null

# The hand-made pattern: start a layer, wait for its ports with wait-on.
if command -v wait-on >/dev/null 2>&1; then
    set -- $ports
    start=$(ms)
    pids=()
    for ((layer = 0; layer < LAYERS; layer++)); do
        resources=()
        for ((i = 0; i < PER_LAYER; i++)); do
            port=$1; shift
            "$TS" --port "$port" --delay "${DELAY_MS}ms" >/dev/null 2>&1 &
            pids+=($!)
            resources+=("tcp:127.0.0.1:$port")
        done
        wait-on "${resources[@]}"
    done
    manual_ms=$(( $(ms) - start ))
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    echo "start a layer + wait-on:      ${manual_ms} ms  (wait-on's default 250 ms interval)"
    echo "ratio weft / wait-on pattern: $(python3 -c "print(f'{$weft_ms/$manual_ms:.2f}')")"
else
    echo "wait-on not installed (npm i -g wait-on): hand-made pattern skipped"
fi

echo
echo "== idle cost, ${IDLE_SECONDS} s with $((LAYERS * PER_LAYER)) processes running"
echo "weft supervisor:  ${weft_cpu}% of one core (${weft_system}% in the kernel), RSS $((weft_rss / 1024)) MB (+ reaper $((reaper_rss / 1024)) MB); readiness probes keep running every 5 s (a loopback TCP probe asks the kernel for the listener: see crates/weft-launch/src/listener.rs)"

if command -v supervisord >/dev/null 2>&1; then
    conf=$work/supervisord.conf
    {
        echo "[supervisord]"; echo "nodaemon=true"; echo "logfile=$work/supervisord.log"; echo "pidfile=$work/supervisord.pid"; echo "childlogdir=$work"
        n=0
        for port in $ports; do
            echo "[program:s$n]"; echo "command=$TS --port $port"; echo "autorestart=true"; n=$((n + 1))
        done
    } >"$conf"
    supervisord -c "$conf" >/dev/null 2>&1 &
    supervisord_pid=$!
    sleep 5
    before=$(cpu_ticks "$supervisord_pid"); sleep "$IDLE_SECONDS"; after=$(cpu_ticks "$supervisord_pid")
    echo "supervisord:      $(python3 -c "print(f'{($after-$before)/$tick/$IDLE_SECONDS*100:.2f}')")% of one core, RSS $(( $(rss_kb "$supervisord_pid") / 1024 )) MB"
    kill "$supervisord_pid"; wait "$supervisord_pid" 2>/dev/null || true; supervisord_pid=
else
    echo "supervisord not installed (apt-get install supervisor): skipped"
fi

if command -v pm2 >/dev/null 2>&1; then
    export PM2_HOME=$work/pm2
    n=0
    for port in $ports; do
        pm2 start "$TS" --name "s$n" --no-autorestart -- --port "$port" >/dev/null
        n=$((n + 1))
    done
    sleep 5
    god=$(cat "$PM2_HOME/pm2.pid")
    before=$(cpu_ticks "$god"); sleep "$IDLE_SECONDS"; after=$(cpu_ticks "$god")
    echo "pm2 (God daemon): $(python3 -c "print(f'{($after-$before)/$tick/$IDLE_SECONDS*100:.2f}')")% of one core, RSS $(( $(rss_kb "$god") / 1024 )) MB"
    pm2 kill >/dev/null 2>&1 || true
    unset PM2_HOME
else
    echo "pm2 not installed (npm i -g pm2): skipped"
fi

# --- 3. a log flood ---------------------------------------------------------
mkdir -p "$work/flood"
cat >"$work/flood/weft.yaml" <<YAML
name: flood
ports: {range: 20000-29999}
# Room for the whole flood on disk, so that its rate can be measured.
launch: {log_file_size: 50000000, log_files: 30}
services:
  target:
    command: $TS --delay 100ms
    ports: [{name: http}]
    ready: {tcp: "127.0.0.1:\${PORT}", start_period: 20ms}
  flood:
    command: $TS --flood ${FLOOD_RATE:-100000000}
YAML
readiness() {
    # Restarts target 5 times; prints its median own start-to-ready time.
    local samples=()
    for _ in 1 2 3 4 5; do
        "$WEFT" -w "$work/flood" restart target >/dev/null
        local deadline=$(( $(ms) + 10000 ))
        while :; do
            local line
            line=$("$WEFT" -w "$work/flood" status --format json | python3 -c "
import json,sys
s=[x for x in json.load(sys.stdin)['services'] if x['name']=='target'][0]
print(s['state'], s.get('ready_since_ms',0)-s.get('started_at_ms',0))")
            [ "${line%% *}" = ready ] && { samples+=("${line##* }"); break; }
            [ "$(ms)" -gt "$deadline" ] && { samples+=(timeout); break; }
            sleep 0.05
        done
    done
    printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p
}
"$WEFT" -w "$work/flood" up target --detach --wait >/dev/null
quiet=$(readiness)
"$WEFT" -w "$work/flood" down >/dev/null
"$WEFT" -w "$work/flood" up --detach --wait >/dev/null
supervisor=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['supervisor']['pid'])" "$work/flood/.weft/launch.json")
log=$work/flood/.weft/logs/flood/flood.log
size() { du -cb "$log"* 2>/dev/null | tail -1 | cut -f1; }
peak=0
bytes_before=$(size); t0=$(ms)
for ((s = 0; s < FLOOD_SECONDS; s++)); do
    sleep 1
    r=$(rss_kb "$supervisor"); [ "$r" -gt "$peak" ] && peak=$r
done
rate=$(python3 -c "print(f'{(($(size)) - $bytes_before) / (($(ms) - $t0) / 1000) / 1e6:.0f}')")
flooded=$(readiness)
echo
echo "== log flood (flood service asked for ${FLOOD_RATE:-100000000} B/s)"
echo "written to its log by the supervisor: ~${rate} MB/s"
echo "supervisor peak RSS during ${FLOOD_SECONDS} s of flood: $((peak / 1024)) MB"
echo "another service's start-to-ready (median of 5): ${quiet} ms quiet, ${flooded} ms during the flood"
