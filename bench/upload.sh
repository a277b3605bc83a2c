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
source "$(dirname "$0")/../scripts/lib/common.sh"
cd "$ROOT"

RUNS=${BENCH_RUNS:-3}
SIZE_MIB=${BENCH_SIZE_MIB:-1024}
PART_SIZES=${BENCH_PART_SIZES:-8 16 32 64}
POOLS=${BENCH_POOLS:-4 8}
MEMORY_MIB=${BENCH_MEMORY_MIB:-4096}
PROFILE=${BENCH_PROFILE:-release}
BOTO3_VERSION=1.40.61

ensure_build_tools
ensure_browser_tools
VENV="$TOOLS_DIR/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
  step "Installing boto3 $BOTO3_VERSION for the direct-upload baseline"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "boto3==$BOTO3_VERSION" || die "pip could not install boto3"
fi

step "Building Hoist ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo leptos build --release || die "cargo leptos build failed"
else
  cargo leptos build || die "cargo leptos build failed"
fi
SERVER="target/$PROFILE/hoist"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench.XXXXXX")
APP_PID=
stop_app() {
  if [ -n "$APP_PID" ]; then
    kill "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=
  fi
}
cleanup() {
  stop_app
  "$ROOT/scripts/local-s3.sh" stop "$WORK/s3" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step "Starting Garage"
scripts/local-s3.sh start "$WORK/s3" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/s3/s3.env"

# start_app PART POOL: Hoist on a free port with POOL parts in flight, and parts of PART MiB
# (both part-size settings pinned to it), or the default part sizes if PART is "default".
start_app() {
  stop_app
  local port name="app-$1-$2" parts=()
  [ "$1" = default ] || parts=(HOIST_PART_SIZE="${1}MiB" HOIST_MAX_PART_SIZE="${1}MiB")
  port=$(free_port)
  env HOIST_DATA_DIR="$WORK/$name" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
    LEPTOS_ENV=PROD HOIST_MAX_FILE_SIZE=64GiB HOIST_PARALLEL_PARTS="$2" "${parts[@]}" \
    "$SERVER" >"$WORK/$name.log" 2>&1 &
  APP_PID=$!
  APP_URL="http://127.0.0.1:$port"
  wait_for 60 "Hoist" grep -q "bucket CORS rule set" "$WORK/$name.log" ||
    die "Hoist did not start; see $WORK/$name.log"
}

# A new file of random bytes for every upload: Garage deduplicates blocks it already holds,
# which would flatter whichever upload came second.
fresh_file() {
  rm -f "$WORK"/*.bin
  local path="$WORK/bench-$RANDOM.bin"
  head -c "$(($1 * 1024 * 1024))" /dev/urandom >"$path"
  echo "$path"
}

# Waits until the disk has the new file and Garage is idle (under 5 % of a core over half a
# second): deleting the last upload's object, or writing the file, sets off background work
# that would otherwise land in the next measurement.
settle() {
  sync
  wait_for 60 "Garage to settle" python3 bench/garage_idle.py
}

hoist_once() {
  local file
  file=$(fresh_file "$SIZE_MIB")
  settle
  node bench/browser_upload.mjs "$APP_URL" "$file" 1 | tail -n1
}
direct_once() {
  local file
  file=$(fresh_file "$SIZE_MIB")
  settle
  "$VENV/bin/python" bench/direct_upload.py "$file" 1 | tail -n1
}

RESULTS="$WORK/results.jsonl"
record() { printf '{"what": "%s", "result": %s}\n' "$1" "$2" >>"$RESULTS"; }

step "Hoist (default settings) vs direct, $RUNS runs each, interleaved"
start_app default 6
for run in $(seq "$RUNS"); do
  record hoist-default-6 "$(hoist_once)"
  record direct "$(direct_once)"
  say "run $run done"
done

step "Hoist with fixed part sizes: $PART_SIZES MiB"
for mib in $PART_SIZES; do
  start_app "$mib" 6
  for run in $(seq "$RUNS"); do record "hoist-$mib-6" "$(hoist_once)"; done
  say "$mib MiB done"
done

step "Hoist pool sizes: $POOLS besides 6 (default part sizes)"
for pool in $POOLS; do
  start_app default "$pool"
  for run in $(seq "$RUNS"); do record "hoist-default-$pool" "$(hoist_once)"; done
  say "pool of $pool done"
done

if [ "$MEMORY_MIB" != 0 ]; then
  step "Browser memory during a $MEMORY_MIB MiB upload"
  start_app default 6
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
