#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS overrides),
# on stable Rust without a sanitizer. New inputs go to fuzz/work-corpus/<target>/ (ignored by
# git), so the committed seeds in fuzz/corpus/<target>/ stay as they are. A crash stops the
# run with a non-zero exit; its input is in fuzz/artifacts/<target>/.
# Usage: fuzz/ci.sh [TARGET...]   (CARGO_TARGET_DIR is honoured, as by cargo)
# FUZZ_RUNS=N FUZZ_SEED=S run exactly N inputs from seed S instead of for a time: the same
# inputs on every run, so a CI pass cannot turn into a failure by chance (.ci/run does this).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
limit=(-max_total_time="$seconds")
if [ -n "${FUZZ_RUNS:-}" ]; then
  limit=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  work="fuzz/work-corpus/$t"
  # A counted run starts from the committed seeds only, so that it is the same everywhere.
  [ -z "${FUZZ_RUNS:-}" ] || work="$(mktemp -d)"
  mkdir -p "$work"
  echo "== $t: ${limit[*]}"
  features=()
  [ "$t" != config_parse ] || features=(--features config)
  cargo fuzz run -s none "${features[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    "${limit[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
