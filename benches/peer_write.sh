#!/usr/bin/env bash
# Remote-write throughput of Tessera, VictoriaMetrics and Prometheus under the
# same load, measured with `tessera bench-write`.
#
# Run by hand from the repository root (not in CI):
#
#     benches/peer_write.sh
#
# Each server starts fresh with its data dir in a temporary directory, bound
# to 127.0.0.1 only, and is stopped afterwards; the temporary directory is
# removed on exit. Needs `victoria-metrics` and `prometheus` (>= 2.33, for
# --web.enable-remote-write-receiver) on PATH, and curl.
#
# Tunables (environment): HOSTS (104 series each), ROUNDS (pre-encoded
# steady-state rounds), DURATION, CONCURRENCY, SERIES_PER_REQUEST, and
# PEERS (a subset of "tessera victoria prometheus").
set -euo pipefail

HOSTS=${HOSTS:-10000}
ROUNDS=${ROUNDS:-80}
DURATION=${DURATION:-30s}
CONCURRENCY=${CONCURRENCY:-4}
SERIES_PER_REQUEST=${SERIES_PER_REQUEST:-2000}
PEERS=${PEERS:-"tessera victoria prometheus"}
TESSERA_PORT=${TESSERA_PORT:-19201}
VM_PORT=${VM_PORT:-8428}
PROM_PORT=${PROM_PORT:-9090}

cd "$(dirname "$0")/.."
cargo build --release --quiet
target_dir=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d -t tessera-peer-write.XXXXXX)
# Copied so that a concurrent build cannot swap the binary mid-run.
cp "$target_dir/release/tessera" "$work/tessera"
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# wait_ready URL: polls until the URL answers 2xx, for up to 60 s.
wait_ready() {
    for _ in $(seq 600); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "server exited; log:" >&2
            cat "$work/server.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "server not ready at $1" >&2
    return 1
}

stop_server() {
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

start_server() {
    local name=$1 data="$work/data-$1"
    mkdir -p "$data"
    case $name in
    tessera)
        "$work/tessera" serve --listen "127.0.0.1:$TESSERA_PORT" --data-dir "$data" \
            >"$work/server.log" 2>&1 &
        server_pid=$!
        url="http://127.0.0.1:$TESSERA_PORT/api/v1/write"
        ready="http://127.0.0.1:$TESSERA_PORT/-/ready"
        ;;
    victoria)
        victoria-metrics -httpListenAddr="127.0.0.1:$VM_PORT" -storageDataPath="$data" \
            >"$work/server.log" 2>&1 &
        server_pid=$!
        url="http://127.0.0.1:$VM_PORT/api/v1/write"
        ready="http://127.0.0.1:$VM_PORT/health"
        ;;
    prometheus)
        printf 'global: {}\n' >"$work/prometheus.yml"
        prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$data" \
            --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
            >"$work/server.log" 2>&1 &
        server_pid=$!
        url="http://127.0.0.1:$PROM_PORT/api/v1/write"
        ready="http://127.0.0.1:$PROM_PORT/-/ready"
        ;;
    *)
        echo "unknown peer $name" >&2
        return 1
        ;;
    esac
    wait_ready "$ready"
}

# field PHASE KEY FILE: the number after "KEY: " on the PHASE's lines.
field() {
    grep "^\[$1\]" "$3" | sed -n "s|.*$2: \([0-9.]*\).*|\1|p" | head -1
}

declare -a rows
for peer in $PEERS; do
    echo "== $peer"
    start_server "$peer"
    out="$work/$peer.out"
    "$work/tessera" bench-write --url "$url" --hosts "$HOSTS" --rounds "$ROUNDS" \
        --duration "$DURATION" --concurrency "$CONCURRENCY" \
        --series-per-request "$SERIES_PER_REQUEST" --server-pid "$server_pid" | tee "$out"
    echo "server RSS after the run: $(ps -o rss= -p "$server_pid") KiB"
    stop_server
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$peer" \
        "$(field create samples/s "$out")" "$(field create 'samples per server CPU-second' "$out")" \
        "$(field steady samples/s "$out")" "$(field steady 'samples per server CPU-second' "$out")" \
        "$(field steady 'server CPU' "$out")")")
done

echo
echo "$HOSTS hosts ($((HOSTS * 104)) series), $SERIES_PER_REQUEST series x 1 sample a request, $CONCURRENCY connections"
echo "| server | create samples/s | create samples/CPU-s | steady samples/s | steady samples/CPU-s | steady server CPU s |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
