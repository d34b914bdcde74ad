#!/bin/sh
# Runs the PromQL comparison of Tessera and Prometheus (benches/promql_queries.rs)
# and keeps the report. Scale and repetitions come from the environment; see
# the top of benches/promql_queries.rs. Examples:
#   benches/promql_vs_prometheus.sh                      # defaults
#   PROMQL_BENCH_PROM_HOSTS=10000 benches/promql_vs_prometheus.sh
#   PROMQL_BENCH_HOSTS=500 PROMQL_BENCH_PROM_HOSTS=500 benches/promql_vs_prometheus.sh
set -eu
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null 2>&1; then
    echo "prometheus is not on PATH: only Tessera's numbers will be printed" >&2
fi
out="${PROMQL_BENCH_REPORT:-promql_vs_prometheus.md}"
cargo bench --bench promql_queries | tee "$out"
echo "report written to $out" >&2
