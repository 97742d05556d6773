#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; FUZZ_SECONDS overrides),
# on stable Rust without a sanitizer. New inputs go to fuzz/work-corpus/<target>/ (ignored by
# git), so the committed seeds in fuzz/corpus/<target>/ stay as they are. A crash stops the
# run with a non-zero exit; its input is in fuzz/artifacts/<target>/.
# Usage: fuzz/ci.sh [TARGET...]   (CARGO_TARGET_DIR is honoured, as by cargo)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work-corpus/$t"
  echo "== $t: ${seconds}s"
  features=()
  [ "$t" != config_parse ] || features=(--features config)
  cargo fuzz run -s none "${features[@]}" "$t" "fuzz/work-corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
