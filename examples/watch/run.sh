#!/bin/sh
# `weft watch` on a copy of the homelab example: it reads the workspace once,
# then this script saves three edits and weft prints what each one changed.
#
#   sh examples/watch/run.sh            # uses target/release/weft (cargo build --release)
#   WEFT=weft sh examples/watch/run.sh  # or any weft on the PATH
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
weft=${WEFT:-$root/target/release/weft}
work=$(mktemp -d)
cp -R "$root/examples/homelab" "$work/homelab"
workspace=$work/homelab

"$weft" watch "$workspace" > "$work/out" &
watcher=$!
trap 'kill $watcher 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM

# Waits until weft has printed N changes (the first line counts as 0).
printed() {
  tries=0
  until [ "$(grep -c -e '^Watching' -e '^changed' "$work/out" 2>/dev/null)" -gt "$1" ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 200 ] || { echo "weft watch printed nothing for 20 s" >&2; cat "$work/out" >&2; exit 3; }
    sleep 0.1
  done
}
printed 0

# 1. A new compose file publishing a port Prometheus already has: a conflict.
# (Written whole and renamed into place, as editors save.)
cat > "$work/tmp" <<'YAML'
services:
  extra:
    image: nginx
    ports: ["9090:80"]
YAML
mv "$work/tmp" "$workspace/infra/extra.compose.yaml"
printed 1
# 2. Move it to a free port: the conflict goes away.
sed 's/9090:80/9190:80/' "$workspace/infra/extra.compose.yaml" > "$work/tmp" && mv "$work/tmp" "$workspace/infra/extra.compose.yaml"
printed 2
# 3. Remove the file again.
rm "$workspace/infra/extra.compose.yaml"
printed 3
cat "$work/out"
