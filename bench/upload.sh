#!/usr/bin/env bash
# Upload throughput of Hoist against the same store used directly, measured side by side in
# one run (not a test: timings never decide pass or fail). Prints a Markdown report.
#
#   bench/upload.sh             1 GiB through Hoist (headless Chromium) vs boto3 multipart
#                               (16 MiB parts, 6 at a time), part sizes 8/16/32/64 MiB, and the
#                               tab's peak memory during a 4 GiB upload
# Settings (environment): BENCH_RUNS (3), BENCH_SIZE_MIB (1024), BENCH_PART_SIZES ("8 16 32 64":
# fixed part sizes tried), BENCH_POOLS ("4 8": pool sizes tried besides 6, with the default
# part sizes), BENCH_MEMORY_MIB (4096; 0 skips), BENCH_PROFILE (release | debug).
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
PART_SIZES=${BENCH_PART_SIZES:-8 16 32 64}
POOLS=${BENCH_POOLS:-4 8}
MEMORY_MIB=${BENCH_MEMORY_MIB:-4096}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

# start_hoist PART POOL: Hoist with POOL parts in flight, and parts of PART MiB (both
# part-size settings pinned to it), or the default part sizes if PART is "default".
start_hoist() {
  local parts=()
  [ "$1" = default ] || parts=(HOIST_PART_SIZE="${1}MiB" HOIST_MAX_PART_SIZE="${1}MiB")
  start_app "app-$1-$2" HOIST_PARALLEL_PARTS="$2" "${parts[@]}"
}

direct_once() {
  local file
  file=$(fresh_file "$SIZE_MIB")
  settle
  "$VENV/bin/python" bench/direct_upload.py "$file" 1 | tail -n1
}

step "Hoist (default settings) vs direct, $RUNS runs each, interleaved"
start_hoist default 6
for run in $(seq "$RUNS"); do
  record hoist-default-6 "$(hoist_once "$SIZE_MIB")"
  record direct "$(direct_once)"
  say "run $run done"
done

step "Hoist with fixed part sizes: $PART_SIZES MiB"
for mib in $PART_SIZES; do
  start_hoist "$mib" 6
  for run in $(seq "$RUNS"); do record "hoist-$mib-6" "$(hoist_once "$SIZE_MIB")"; done
  say "$mib MiB done"
done

step "Hoist pool sizes: $POOLS besides 6 (default part sizes)"
for pool in $POOLS; do
  start_hoist default "$pool"
  for run in $(seq "$RUNS"); do record "hoist-default-$pool" "$(hoist_once "$SIZE_MIB")"; done
  say "pool of $pool done"
done

if [ "$MEMORY_MIB" != 0 ]; then
  step "Browser memory during a $MEMORY_MIB MiB upload"
  start_hoist default 6
  memory_file=$(fresh_file "$MEMORY_MIB")
  settle
  record memory "$(node bench/browser_upload.mjs "$APP_URL" "$memory_file" 1 --memory | tail -n1)"
fi
stop_app
rm -f "$WORK"/*.bin

step "Report"
python3 - "$RESULTS" "$SIZE_MIB" "$MEMORY_MIB" "$PROFILE" <<'PY'
import json, statistics, sys
path, size_mib, memory_mib, profile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [json.loads(line) for line in open(path)]
runs, cpus = {}, {}
for row in rows:
    if row["what"] != "memory":
        runs.setdefault(row["what"], []).extend(row["result"]["seconds"])
        cpus.setdefault(row["what"], []).extend(row["result"].get("cpu", []))
speed = lambda s: size_mib / s
med = {what: statistics.median(s) for what, s in runs.items()}
print(f"File: {size_mib} MiB of random bytes, {len(runs['direct'])} runs each, medians; Hoist built {profile}.\n")
print("| upload | runs (s) | median (s) | MiB/s | ÷ direct | CPU s per run: client / Garage |")
print("|---|---|---|---|---|---|")
def key(what):
    _, part, pool = what.split("-")
    return (part != "default", int(pool) != 6, 0 if part == "default" else int(part), int(pool))
def label(what):
    if what == "direct":
        return "boto3 direct, 16 MiB parts × 6"
    _, part, pool = what.split("-")
    parts = "default part sizes" if part == "default" else f"{part} MiB parts"
    return f"Hoist in Chromium, {parts} × {pool}"
order = ["direct"] + sorted((w for w in runs if w.startswith("hoist")), key=key)
for what in order:
    ratio = med["direct"] / med[what]
    times = ", ".join(f"{s:.2f}" for s in runs[what])
    client = [c.get("chromium", c.get("boto3", 0)) + c.get("hoist", 0) for c in cpus[what]]
    garage = [c["garage"] for c in cpus[what]]
    cpu = f"{statistics.median(client):.1f} / {statistics.median(garage):.1f}" if client else "–"
    print(f"| {label(what)} | {times} | {med[what]:.2f} | {speed(med[what]):.0f} | {ratio:.2f} | {cpu} |")
best = max((w for w in runs if w.startswith("hoist")), key=lambda w: speed(med[w]))
print(f"\nHoist ÷ direct with the default settings: **{med['direct'] / med['hoist-default-6']:.2f}×**; "
      f"fastest: {label(best)} ({med['direct'] / med[best]:.2f}×).")
for row in rows:
    if row["what"] == "memory":
        m = row["result"]["memory"]
        s = row["result"]["seconds"][0]
        print(f"\n{memory_mib} MiB upload in {s:.1f} s ({memory_mib / s:.0f} MiB/s): Chromium's resident memory (all its processes) "
              f"{m['rssBefore'] / 2**20:.0f} MiB before, peak {m['rssPeak'] / 2**20:.0f} MiB "
              f"(+{(m['rssPeak'] - m['rssBefore']) / 2**20:.0f} MiB); peak JS heap {m['heapPeak'] / 2**20:.1f} MiB.")
PY
