#!/usr/bin/env bash
# What per-part checksums cost an upload: the same file size through Hoist in headless
# Chromium with HOIST_PART_CHECKSUM=off, crc32c and sha256, interleaved run by run, measured
# side by side in one run (not a test). Prints a Markdown report.
#
#   bench/checksums.sh
# Settings (environment): BENCH_RUNS (3), BENCH_SIZE_MIB (1024), BENCH_PROFILE (release | debug).
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
PROFILE=${BENCH_PROFILE:-release}
CHECKSUMS="off crc32c sha256"
source "$(dirname "$0")/lib.sh"

step "Hoist with each checksum setting, $RUNS runs each, interleaved"
for run in $(seq "$RUNS"); do
  for checksum in $CHECKSUMS; do
    start_app "checksum-$checksum" HOIST_PART_CHECKSUM="$checksum"
    record "$checksum" "$(hoist_once "$SIZE_MIB")"
  done
  say "run $run done"
done
stop_app

step "Report"
python3 - "$RESULTS" "$SIZE_MIB" "$PROFILE" "$(git rev-parse --short HEAD)" <<'PY'
import json, statistics, sys
path, size_mib, profile, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs, cpus = {}, {}
for line in open(path):
    row = json.loads(line)
    runs.setdefault(row["what"], []).append(row["result"]["seconds"])
    cpus.setdefault(row["what"], []).append(row["result"]["cpu"]["chrom"])
med = {w: statistics.median(s) for w, s in runs.items()}
cpu = {w: statistics.median(c) for w, c in cpus.items()}
print(f"Commit {commit}. File: {size_mib} MiB of random bytes, {len(runs['off'])} runs each, medians; Hoist built {profile}.\n")
print("| HOIST_PART_CHECKSUM | runs (s) | median (s) | MiB/s | throughput ÷ off | Chromium CPU s | extra CPU s per GiB |")
print("|---|---|---|---|---|---|---|")
for what in ["off", "crc32c", "sha256"]:
    times = ", ".join(f"{s:.2f}" for s in runs[what])
    extra = (cpu[what] - cpu["off"]) * 1024 / size_mib
    print(f"| {what} | {times} | {med[what]:.2f} | {size_mib / med[what]:.0f} | {med['off'] / med[what]:.2f} | {cpu[what]:.1f} | {extra:+.1f} |")
PY
