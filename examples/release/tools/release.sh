#!/bin/sh
# Serves version $WEFT_VERSION of $WEFT_SERVICE on 127.0.0.1:PORT: writes its
# /health page, stops the server an earlier release started, starts a new one.
# A version starting with `bad` gets no /health page, so its gate fails.
set -eu
port=$1
state="$(pwd)/.release"
mkdir -p "$state/site"
if [ -f "$state/server.pid" ]; then
    kill "$(cat "$state/server.pid")" 2>/dev/null || true
    sleep 0.3
fi
rm -f "$state/site/health"
case "$WEFT_VERSION" in
    bad*) echo "$WEFT_SERVICE $WEFT_VERSION is broken on purpose: /health will answer 404" ;;
    *) printf '%s %s ok\n' "$WEFT_SERVICE" "$WEFT_VERSION" > "$state/site/health" ;;
esac
nohup python3 -m http.server "$port" --bind 127.0.0.1 --directory "$state/site" \
    > "$state/server.log" 2>&1 &
echo $! > "$state/server.pid"
echo "$WEFT_SERVICE $WEFT_VERSION serving on 127.0.0.1:$port (was ${WEFT_PREVIOUS_VERSION:-nothing}; rollback=$WEFT_ROLLBACK)"
