#!/usr/bin/env bash
# Where reading a file's SHA-256 in the browser before sending it stops paying, on a release
# build with Garage on loopback (the fastest link there is: on any real network sending costs
# more, so hashing first pays further). For each size: a fresh file, then a copy of it, in
# Chromium, against a server that asks for the hash first (HOIST_BROWSER_HASH_MAX=64GiB) and one
# that does not (0). Not a test. Prints a Markdown table.
#
#   bench/hash_first.sh
# Settings (environment): BENCH_SIZES_MIB ("4 16 64 256"), BENCH_PROFILE (release).
set -euo pipefail

SIZES=${BENCH_SIZES_MIB:-4 16 64 256}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

RESULTS="$WORK/results.jsonl"
for mode in first off; do
  max=64GiB
  [ "$mode" = off ] && max=0
  start_app "hash-$mode" HOIST_BROWSER_HASH_MAX=$max HOIST_RATE_LIMIT=0 HOIST_IP_RATE_LIMIT=0 \
    HOIST_S3_LIFECYCLE_RULE=false
  pairs=()
  for mib in $SIZES; do
    original="$WORK/files/$mode-$mib-original.bin"
    mkdir -p "$WORK/files"
    head -c "$((mib * 1024 * 1024))" /dev/urandom >"$original"
    cp "$original" "$WORK/files/$mode-$mib-copy.bin"
    pairs+=("$original" "$WORK/files/$mode-$mib-copy.bin")
  done
  settle
  node bench/hash_first.mjs "$APP_URL/" "${pairs[@]}" | sed "s/^{/{\"mode\": \"$mode\", /" >>"$RESULTS"
  rm -rf "$WORK/files"
done
stop_app

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src bench Cargo.toml Cargo.lock || commit="$commit (with uncommitted changes)"
python3 - "$RESULTS" "$commit" "$PROFILE" <<'PY'
import json, sys
path, commit, profile = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
by = {(r["mode"], round(r["mib"])): r for r in rows}
print(f"Commit {commit}, {profile} build, headless Chromium and Garage on loopback, one guest page.\n")
print("| size | fresh, sent at once | fresh, SHA-256 read first | cost of reading first | copy, sent again | copy, already stored | saved on a copy |")
print("|---|---|---|---|---|---|---|")
for mib in sorted({m for _, m in by}):
    off, first = by[("off", mib)], by[("first", mib)]
    cost = first["fresh_s"] - off["fresh_s"]
    saved = off["copy_s"] - first["copy_s"]
    print(f"| {mib} MiB | {off['fresh_s']:.2f} s | {first['fresh_s']:.2f} s | {cost:+.2f} s | {off['copy_s']:.2f} s | {first['copy_s']:.2f} s | {saved:.2f} s |")
PY
