#!/usr/bin/env bash
# Time-bounded fuzzing of every target (CI runs this after the test suite).
# A crash fails the run and leaves its input in tests/fuzz/artifacts/<target>/;
# once fixed, the input is kept in tests/fuzz/regressions/<target>/, which
# `cargo test` replays (tests/fuzz_regressions.rs).
#
#   FUZZ_SECONDS=60 tests/fuzz/run.sh            # every target
#   FUZZ_SECONDS=600 tests/fuzz/run.sh promql    # one target, longer
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-60}
targets=${*:-remote_write snappy text push remote_read promql query_params otlp}
# cargo-fuzz passes sanitizer and coverage flags that rustc gates behind
# nightly features; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
# `cargo fuzz build` takes one target or none (all of them).
if [ $# -eq 0 ]; then
  cargo fuzz build --fuzz-dir . 2>&1 | tail -n 3
else
  for t in $targets; do cargo fuzz build --fuzz-dir . "$t" 2>&1 | tail -n 3; done
fi
for t in $targets; do
  work=target/corpus/$t
  mkdir -p "$work" "artifacts/$t" target
  echo "== fuzzing $t for ${secs}s"
  start=$(date +%s)
  log=target/fuzz-$t.log
  set +e
  cargo fuzz run --fuzz-dir . "$t" "$work" "corpus/$t" -- \
    -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread .* panicked|Test unit written)' "$log" | tail -n 20 || true
  echo "   $t: exit $status after $(( $(date +%s) - start ))s"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz target $t crashed; input in tests/fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
