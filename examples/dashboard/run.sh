#!/bin/sh
# The dashboard on the homelab example: `weft serve` on it, a lease held
# and one waiting so the leases view has something to show, then open
# http://127.0.0.1:7700/ in a browser. Ctrl-C stops everything.
#
#   sh examples/dashboard/run.sh            # uses target/release/weft (cargo build --release)
#   WEFT=weft sh examples/dashboard/run.sh  # or any weft on the PATH
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
weft=${WEFT:-$root/target/release/weft}
url=http://127.0.0.1:7700
workspace=$root/examples/homelab

"$weft" serve -w "$workspace" --listen 127.0.0.1:7700 &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

# Wait until it answers.
tries=0
until "$weft" lock list --server "$url" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "weft serve did not start" >&2; exit 3; }
  sleep 0.1
done

"$weft" lock acquire release-train --server "$url" --ttl 10m >/dev/null
# A second job waits in the queue behind the first (in the background).
"$weft" lock acquire release-train --server "$url" --ttl 10m --wait 10m --priority 50 >/dev/null &

echo "the dashboard: $url/  (graph, services, leases, releases, alerts, health)"
echo "release the lease with: $weft lock force-release release-train --server $url --reason demo"
wait $server
