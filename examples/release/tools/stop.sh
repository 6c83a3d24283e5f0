#!/bin/sh
# Stops the servers the example's releases started, and the receiver.
cd "$(dirname "$0")/.." || exit 1
for pid in db/.release/server.pid api/.release/server.pid web/.release/server.pid .receiver.pid; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null && rm -f "$pid"
done
exit 0
