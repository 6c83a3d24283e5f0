#!/bin/sh
# Stops the servers the example's releases started.
cd "$(dirname "$0")/.." || exit 1
for pid in db/.release/server.pid api/.release/server.pid web/.release/server.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null && rm -f "$pid"
done
exit 0
