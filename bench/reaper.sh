#!/usr/bin/env bash
# Reaper throughput: `hoist reap --once` over BENCH_REAPER_ROWS expired uploads in a real
# SQLite file against a real Garage, beside the same number of store calls sent straight to
# Garage with boto3, in one run (not a test). Prints a Markdown report.
#
#   bench/reaper.sh
# Settings (environment): BENCH_REAPER_ROWS (100000), BENCH_PROFILE (release | debug).
set -euo pipefail

ROWS=${BENCH_REAPER_ROWS:-100000}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

reap() {
  env HOIST_DATA_DIR="$WORK/reaper" "$SERVER" reap --once
}

step "Planting $ROWS expired uploads"
mkdir -p "$WORK/reaper"
reap >/dev/null # creates the database
python3 bench/plant_expired.py "$WORK/reaper/hoist.db" "$ROWS"
settle

step "hoist reap --once"
started=$(date +%s.%N)
summary=$(reap | tail -n1)
seconds=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$started" "$(date +%s.%N)")
say "$summary"
calls=$(sed -n 's/.*, \([0-9]*\) store calls).*/\1/p' <<<"$summary")
settle

step "The same number of DeleteObject calls straight to Garage (boto3, 16 threads)"
direct=$("$VENV/bin/python" bench/direct_deletes.py "$calls" | tail -n1)

python3 - "$ROWS" "$seconds" "$calls" "$direct" "$summary" <<'PY'
import json, sys
rows, seconds, calls = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
direct = json.loads(sys.argv[4])
print(f"\n`hoist reap --once` said: {sys.argv[5]}\n")
print("| | calls | seconds | uploads/s | store calls/s |")
print("|---|---|---|---|---|")
print(f"| reaper ({rows} expired uploads) | {calls} | {seconds:.1f} | {rows / seconds:.0f} | {calls / seconds:.0f} |")
print(f"| boto3 DeleteObject, 16 threads | {direct['calls']} | {direct['seconds']:.1f} | – | {direct['calls'] / direct['seconds']:.0f} |")
print(f"\nReaper store calls/s ÷ direct: **{(calls / seconds) / (direct['calls'] / direct['seconds']):.2f}×**; "
      f"{calls / rows:.2f} store calls per expired upload, 0 bucket listings.")
PY
