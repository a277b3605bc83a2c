#!/usr/bin/env bash
# The terminal client against the AWS SDK, on a release build with Garage on loopback: the same
# fresh 1 GiB file sent by `hoist upload` (through the server's protocol: read once for its
# SHA-256 and part checksums, signed in batches, parts straight to the store) and by boto3's
# `upload_file` (straight to the bucket), interleaved, with the same number of parts at once;
# then the same content uploaded again (stored once: nothing sent), and the client's memory
# on a 4 GiB file. Not a test. Prints a Markdown table.
#
#   bench/client.sh
# Settings (environment): BENCH_ROUNDS (3), BENCH_MIB (1024), BENCH_BIG_MIB (4096),
# BENCH_THREADS (8), BENCH_PROFILE (release).
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
MIB=${BENCH_MIB:-1024}
BIG_MIB=${BENCH_BIG_MIB:-4096}
export BENCH_THREADS=${BENCH_THREADS:-8}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

start_app client HOIST_RATE_LIMIT=0 HOIST_IP_RATE_LIMIT=0 HOIST_S3_LIFECYCLE_RULE=false
HOIST_DATA_DIR="$WORK/client" "$SERVER" users create bench@example.com <<<"benchmark password" >/dev/null
HOIST_DATA_DIR="$WORK/client" "$SERVER" users set-quota bench@example.com 64TiB >/dev/null
export HOIST_SERVER="$APP_URL" XDG_CACHE_HOME="$WORK/cache"
HOIST_TOKEN=$(HOIST_DATA_DIR="$WORK/client" "$SERVER" tokens create bench@example.com bench)
export HOIST_TOKEN

# hoist_upload FILE: one JSON line with the seconds, the client's peak memory and what it sent.
hoist_upload() {
  local out
  out=$(/usr/bin/time -f '%e %M' -o "$WORK/time" "$SERVER" upload --json --parallel "$BENCH_THREADS" "$1")
  read -r seconds rss_kib <"$WORK/time"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(json.dumps({"seconds": float(sys.argv[2]), "rss_mib": int(sys.argv[3])/1024, "sent": r["sent"], "already_stored": r["already_stored"], "id": r["id"]}))' \
    "$out" "$seconds" "$rss_kib"
}

RESULTS="$WORK/results.jsonl"
for round in $(seq "$ROUNDS"); do
  file=$(fresh_file "$MIB")
  # Alternate who goes first: the page cache and Garage's state favour no one.
  peers=(hoist boto3)
  [ $((round % 2)) = 0 ] && peers=(boto3 hoist)
  for peer in "${peers[@]}"; do
    settle
    if [ "$peer" = hoist ]; then
      line=$(hoist_upload "$file")
    else
      line=$(PYTHONPATH=bench "$VENV/bin/python" bench/direct_upload.py "$file" | tail -n1)
    fi
    printf '{"what": "%s", "result": %s}\n' "$peer" "$line" >>"$RESULTS"
  done
  settle
  # The same content again: the account holds it once processing has hashed it.
  id=$(tail -n2 "$RESULTS" | python3 -c 'import json,sys; print(next(json.loads(l)["result"]["id"] for l in sys.stdin if json.loads(l)["what"]=="hoist"))')
  wait_for 120 "the first upload's hash" sh -c "'$SERVER' ls --json | grep -q '\"id\":\"$id\".*\"processing\":\"ready\"'"
  cp "$file" "$WORK/again.bin"
  printf '{"what": "again", "result": %s}\n' "$(hoist_upload "$WORK/again.bin")" >>"$RESULTS"
  rm -f "$WORK/again.bin"
  say "round $round done"
done

step "Client memory on a $BIG_MIB MiB file"
file=$(fresh_file "$BIG_MIB")
settle
printf '{"what": "big", "result": %s}\n' "$(hoist_upload "$file")" >>"$RESULTS"
rm -f "$file"
stop_app

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src bench Cargo.toml Cargo.lock || commit="$commit (with uncommitted changes)"
python3 - "$RESULTS" "$commit" "$PROFILE" "$MIB" "$BIG_MIB" "$BENCH_THREADS" <<'PY'
import json, statistics, sys
path, commit, profile, mib, big_mib, threads = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def of(what): return [r["result"] for r in rows if r["what"] == what]
hoist, boto, again, big = of("hoist"), of("boto3"), of("again"), of("big")
med = lambda xs: statistics.median(xs)
h, b = med([r["seconds"] for r in hoist]), med([r["seconds"] for r in boto])
print(f"Commit {commit}, {profile} build, Garage on loopback, {len(hoist)} interleaved rounds, {threads} parts at once each; medians.\n")
print("| what | figure |")
print("|---|---|")
print(f"| {mib} MiB, `hoist upload` (reads SHA-256 + part CRC32C first, then sends) | {h:.2f} s ({int(mib)/h:.0f} MiB/s), client peak RSS {med([r['rss_mib'] for r in hoist]):.0f} MiB |")
print(f"| {mib} MiB, boto3 `upload_file` straight to the bucket | {b:.2f} s ({int(mib)/b:.0f} MiB/s) |")
print(f"| ratio hoist / boto3 (time; below 1 is faster) | {h/b:.2f} |")
print(f"| the same {mib} MiB again (already stored) | {med([r['seconds'] for r in again]):.2f} s, {max(r['sent'] for r in again)} bytes sent, already stored: {all(r['already_stored'] for r in again)} |")
print(f"| {big_mib} MiB, `hoist upload`: client peak RSS | {big[0]['rss_mib']:.0f} MiB ({big[0]['seconds']:.1f} s) |")
PY
