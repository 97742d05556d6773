#!/usr/bin/env bash
# End-to-end replay benchmark: >= 1 GB of X v2 lines against 10k rules at ~0.1% matches.
# Prints posts/s, CPU and peak RSS. Usage: bench/replay/run.sh [GIGABYTES]
set -euo pipefail
cd "$(dirname "$0")/../.."
gb="${1:-1}"
out=bench/out
if [ ! -f "$out/x-stream.jsonl" ] || [ "$(stat -c %s "$out/x-stream.jsonl")" -lt "$(python3 -c "print(int($gb*1e9))")" ]; then
  python3 bench/replay/gen.py --out "$out" --gigabytes "$gb"
fi
cargo build --release -p streamer --locked
rm -f "$out/bench.db" "$out/bench.db-wal" "$out/bench.db-shm" "$out/bench-alerts.jsonl"
/usr/bin/time -v target/release/streamer replay --config "$out/bench.toml" "$out/x-stream.jsonl" \
  2> >(tee "$out/replay-time.txt" >&2) >/dev/null
grep -E "Maximum resident|Elapsed|Percent of CPU|User time|System time" "$out/replay-time.txt"
