#!/usr/bin/env bash
# Hoist against its peers, side by side in one run, on one Garage (not a test: timings never
# decide pass or fail). Prints a Markdown report with the ratios.
#
#   bench/upload.sh
#
# Peers: boto3 straight to the store (its default CRC32 checksums, 6 threads); Uppy 5.1 and
# Uppy 6 (its current release) with @uppy/aws-s3 in the same Chromium, with their defaults and
# with 16 MiB parts, behind Companion's S3 routes (bench/uppy, bench/uppy6), headless (the
# strictest baseline: a page that draws nothing) and Uppy 6 with its Dashboard (a page that
# draws its files, like Hoist's); Hoist with its defaults (CRC32C part checksums on). Scenarios:
#   big         one file of BENCH_BIG_MIB (1024) MiB, loopback
#   small       BENCH_SMALL_FILES (200) files of 256 KiB, loopback
#   small-link  BENCH_LINK_FILES (50) files of 256 KiB over an emulated link
#   big-link    one file of BENCH_LINK_MIB (256) MiB over the emulated link
#   many        BENCH_MANY_FILES (2000) files of 16 KiB, loopback
#   tenk        BENCH_TENK_FILES (10000) files of 1 KiB picked at once, loopback: the page's
#               answer to a click every 250 ms, its long tasks and Chromium's memory
# Not in the default set (ask with BENCH_SCENARIOS): many, tenk.
# The link is CDP network emulation on the page (BENCH_LATENCY_MS 40, BENCH_MBPS 200), the same
# for Uppy and Hoist; boto3 runs on loopback only. Rounds are interleaved (the peers' order
# rotates each round), every upload gets freshly written random files and starts on an idle
# store. BENCH_RUNS (3) rounds; BENCH_SCENARIOS to pick some; BENCH_MEMORY_MIB (4096; 0 skips)
# for the browser's memory during one big Hoist upload; BENCH_PROFILE (release | debug).
# BENCH_BASELINE=DIR adds Hoist as built before a change (DIR/hoist, DIR/site, DIR/commit, and
# DIR/Leptos.toml if it had settings of its own) as
# one more uploader in every scenario: before and after, measured in the same run. Build it in
# its own checkout with its own target directory: two checkouts sharing one make cargo take the
# other's build for up to date.
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
SCENARIOS=${BENCH_SCENARIOS:-big small small-link big-link}
MANY_FILES=${BENCH_MANY_FILES:-2000}
TENK_FILES=${BENCH_TENK_FILES:-10000}
BIG_MIB=${BENCH_BIG_MIB:-1024}
SMALL_FILES=${BENCH_SMALL_FILES:-200}
LINK_FILES=${BENCH_LINK_FILES:-50}
LINK_MIB=${BENCH_LINK_MIB:-256}
LATENCY_MS=${BENCH_LATENCY_MS:-40}
MBPS=${BENCH_MBPS:-200}
MEMORY_MIB=${BENCH_MEMORY_MIB:-4096}
BASELINE=${BENCH_BASELINE:-}
PROFILE=${BENCH_PROFILE:-release}
SMALL_KIB=256
source "$(dirname "$0")/lib.sh"

step "Installing Uppy for the comparison (bench/uppy)"
for dir in uppy uppy6; do
  if [ ! -d bench/$dir/node_modules/@uppy/aws-s3 ]; then
    npm ci --silent --no-fund --no-audit --prefix bench/$dir || die "npm could not install Uppy (bench/$dir)"
  fi
done
garage -c "$WORK/s3/garage.toml" bucket create uppy >/dev/null
garage -c "$WORK/s3/garage.toml" bucket allow --read --write --owner uppy --key "$AWS_ACCESS_KEY_ID" >/dev/null
uppy_port=$(free_port)
node bench/uppy/server.mjs "$uppy_port" uppy >"$WORK/uppy.log" 2>&1 &
UPPY_PID=$!
trap 'kill $UPPY_PID 2>/dev/null || true; cleanup' EXIT
UPPY_URL="http://127.0.0.1:$uppy_port"
wait_for 60 "the Uppy page" grep -q "uppy page on" "$WORK/uppy.log" || die "see $WORK/uppy.log"

start_app hoist
BEFORE_PID=
if [ -n "$BASELINE" ]; then
  before_port=$(free_port)
  # Its own settings file (or none: the built-in defaults): this checkout's may name settings
  # the older build does not know, which it refuses.
  env HOIST_DATA_DIR="$WORK/before" LEPTOS_SITE_ADDR="127.0.0.1:$before_port" LEPTOS_SITE_ROOT="$BASELINE/site" \
    HOIST_CONFIG="$BASELINE/Leptos.toml" LEPTOS_ENV=PROD HOIST_MAX_FILE_SIZE=64GiB "$BASELINE/hoist" >"$WORK/before.log" 2>&1 &
  BEFORE_PID=$!
  BEFORE_URL="http://127.0.0.1:$before_port"
  trap 'kill $UPPY_PID $BEFORE_PID 2>/dev/null || true; cleanup' EXIT
  wait_for 60 "Hoist (before)" grep -q "bucket CORS rule set" "$WORK/before.log" || die "see $WORK/before.log"
fi

# fresh_files COUNT KIB: COUNT new files of random bytes (Garage deduplicates blocks it
# already holds, which would flatter whichever upload came second); prints their paths.
fresh_files() {
  rm -rf "$WORK/files"
  mkdir -p "$WORK/files"
  python3 - "$WORK/files" "$1" "$2" <<'PY'
import os, random, sys
folder, count, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(1, count + 1):
    with open(f"{folder}/photo-{i}-{random.randrange(1 << 30)}.bin", "wb") as f:
        f.write(os.urandom(kib * 1024))
PY
  ls -d "$WORK"/files/*
}

peers() {
  local before=
  [ -z "$BASELINE" ] || before=before
  case $1 in
    big) echo boto3 uppy uppy16 uppy6 uppy6-16 $before hoist ;;
    small) echo boto3 uppy uppy6 uppy6-dash $before hoist ;;
    small-link) echo uppy uppy6 $before hoist ;;
    big-link) echo uppy uppy16 uppy6 uppy6-16 $before hoist ;;
    many) echo uppy uppy6 uppy6-dash $before hoist ;;
    tenk) echo uppy6 $before hoist ;;
  esac
}

files_for() {
  case $1 in
    big) fresh_files 1 $((BIG_MIB * 1024)) ;;
    small) fresh_files "$SMALL_FILES" "$SMALL_KIB" ;;
    small-link) fresh_files "$LINK_FILES" "$SMALL_KIB" ;;
    big-link) fresh_files 1 $((LINK_MIB * 1024)) ;;
    many) fresh_files "$MANY_FILES" 16 ;;
    tenk) fresh_files "$TENK_FILES" 1 ;;
  esac
}

# once SCENARIO PEER: one upload, a JSON line.
once() {
  local link=() files
  mapfile -t files < <(files_for "$1")
  case $1 in
    *-link) link=(--latency "$LATENCY_MS" --mbps "$MBPS") ;;
    many) link=(--responsiveness) ;;
    tenk) link=(--responsiveness --memory) ;;
  esac
  settle
  case $2 in
    boto3) "$VENV/bin/python" bench/direct_upload.py "${files[@]}" | tail -n1 ;;
    uppy) node bench/browser_upload.mjs uppy "$UPPY_URL/" "${link[@]}" "${files[@]}" | tail -n1 ;;
    uppy16) node bench/browser_upload.mjs uppy "$UPPY_URL/?chunk=16" "${link[@]}" "${files[@]}" | tail -n1 ;;
    uppy6) node bench/browser_upload.mjs uppy "$UPPY_URL/?v=6" "${link[@]}" "${files[@]}" | tail -n1 ;;
    uppy6-16) node bench/browser_upload.mjs uppy "$UPPY_URL/?v=6&chunk=16" "${link[@]}" "${files[@]}" | tail -n1 ;;
    uppy6-dash) node bench/browser_upload.mjs uppy "$UPPY_URL/?v=6&dashboard=1" "${link[@]}" "${files[@]}" | tail -n1 ;;
    hoist) node bench/browser_upload.mjs hoist "$APP_URL/" "${link[@]}" "${files[@]}" | tail -n1 ;;
    before) node bench/browser_upload.mjs hoist "$BEFORE_URL/" "${link[@]}" "${files[@]}" | tail -n1 ;;
  esac
}

for scenario in $SCENARIOS; do
  step "$scenario: $RUNS rounds"
  read -r -a order <<<"$(peers "$scenario")"
  for run in $(seq "$RUNS"); do
    for peer in "${order[@]}"; do
      printf '{"scenario": "%s", "peer": "%s", "result": %s}\n' "$scenario" "$peer" "$(once "$scenario" "$peer")" >>"$RESULTS"
    done
    say "round $run done (${order[*]})"
    order=("${order[@]:1}" "${order[0]}")
  done
done

if [ "$MEMORY_MIB" != 0 ]; then
  step "Browser memory during a $MEMORY_MIB MiB Hoist upload"
  mapfile -t files < <(fresh_files 1 $((MEMORY_MIB * 1024)))
  settle
  printf '{"scenario": "memory", "peer": "hoist", "result": %s}\n' \
    "$(node bench/browser_upload.mjs hoist "$APP_URL/" --memory "${files[@]}" | tail -n1)" >>"$RESULTS"
fi
stop_app
[ -z "$BEFORE_PID" ] || kill "$BEFORE_PID" 2>/dev/null || true
rm -rf "$WORK/files"

step "Report"
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src bench Cargo.toml Cargo.lock || commit="$commit (with uncommitted changes)"
before_commit=
[ -z "$BASELINE" ] || before_commit=$(cat "$BASELINE/commit" 2>/dev/null || echo unknown)
BENCH_MANY_FILES=$MANY_FILES BENCH_TENK_FILES=$TENK_FILES BENCH_BEFORE_COMMIT=$before_commit \
  python3 bench/report.py "$RESULTS" "$commit" "$PROFILE" "$BIG_MIB" "$SMALL_FILES" "$LINK_FILES" "$LINK_MIB" "$LATENCY_MS" "$MBPS" "$MEMORY_MIB"
