# Shared by bench/locks.sh and bench/locks-ab.sh (sourced, not run): a
# work directory cleaned up on exit, ports on 127.0.0.1, `weft serve` and a
# throwaway PostgreSQL cluster with durable commits. Expects `set -euo
# pipefail` and the repository root as the current directory.

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "${pg_data:-}" ] && [ -f "$pg_data/postmaster.pid" ]; then
        kill -INT "$(head -1 "$pg_data/postmaster.pid")" 2>/dev/null || true
        sleep 1
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nothing listens on $1" >&2
    return 1
}

# start_weft BINARY NAME STORE-URL: serves in $work/NAME; sets `url` and
# `server` (its pid).
start_weft() {
    local port
    port=$(free_port)
    mkdir -p "$work/$2"
    (cd "$work/$2" && exec "$1" serve --listen "127.0.0.1:$port" --store "$3") >"$work/$2.log" 2>&1 &
    server=$!
    pids+=("$server")
    wait_port "$port"
    url="http://127.0.0.1:$port"
}

# start_postgres: a new cluster in $work/pg; sets `pg_bin`, `pg_port` and
# `psql_as` (psql as the cluster's user `weft`, over TCP on 127.0.0.1). Returns 1 when
# PostgreSQL is not installed.
start_postgres() {
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        return 1
    fi
    local run_as=()
    if [ "$(id -u)" = 0 ]; then
        run_as=(runuser -u postgres --)
        chown postgres "$work"
    fi
    pg_data=$work/pg
    pg_port=$(free_port)
    "${run_as[@]}" "$pg_bin/initdb" -D "$pg_data" -U weft --auth=trust -N -E UTF8 --locale=C >/dev/null
    # Durable commits, as a team would run it.
    "${run_as[@]}" "$pg_bin/postgres" -D "$pg_data" -p "$pg_port" -k "$work" \
        -c listen_addresses=127.0.0.1 -c max_connections=200 >"$work/pg.log" 2>&1 &
    pids+=($!)
    wait_port "$pg_port"
    sleep 0.5
    psql_as=("$pg_bin/psql" -qAtX -h 127.0.0.1 -p "$pg_port" -U weft)
}
