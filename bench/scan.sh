#!/usr/bin/env bash
# Malware-scanning throughput (issue 31): files of BENCH_SIZE MiB (100) of fresh random bytes,
# a new one for each way (clamd skips content it has scanned before), scanned by one clamd three
# ways, rounds interleaved:
#   - Hoist: uploaded with `hoist upload`, then its scan job streams the object from Garage to
#     clamd (INSTREAM, ranged GETs); timed by the job's own duration (hoist_job_duration_seconds);
#   - `clamdscan --stream` of a local file (the same INSTREAM, from a local disk: the
#     limit for a client that streams);
#   - `clamdscan` of a local file (clamd opens it itself: no streaming at all).
# The clamd is scripts/local-clamd.sh's, with the tests' two signatures: its absolute speed is
# far above a clamd loaded with ClamAV's real database, so compare the ratios. Not a test.
#
#   bench/scan.sh
# Settings (environment): BENCH_RUNS (3), BENCH_SIZE (100, MiB), BENCH_PROFILE (release),
# BENCH_PREVIOUS (an earlier build's binary, measured in the same rounds).
set -euo pipefail

PROFILE=${BENCH_PROFILE:-release}
RUNS=${BENCH_RUNS:-3}
SIZE=${BENCH_SIZE:-100}
source "$(dirname "$0")/lib.sh"
ensure_scan_tools

step "Starting clamd"
scripts/local-clamd.sh start "$WORK/clamd" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/clamd/clamd.env"
trap 'scripts/local-clamd.sh stop "$WORK/clamd"; cleanup' EXIT

# BENCH_PREVIOUS: an earlier build of Hoist, measured in the same rounds (its own app and data).
PREVIOUS=${BENCH_PREVIOUS:-}
SERVERS=("$SERVER")
[ -n "$PREVIOUS" ] && SERVERS+=("$PREVIOUS")
export XDG_CACHE_HOME="$WORK/cache"

# serve NAME BINARY: that build of Hoist up with scanning on, and an account with a token
# (`hoist upload` speaks as one) in $WORK/NAME.token.
serve() {
  local name=$1 binary=$2
  # One worker: the file's hash job (which reads the same 100 MiB) runs before its scan, not
  # beside it on the machine's two cores, so the figure is the scan's own.
  SERVER=$binary start_app "$name" HOIST_SCAN=best-effort HOIST_CLAMD="$HOIST_TEST_CLAMD" \
    HOIST_SCAN_MAX_SIZE=1GiB HOIST_JOB_YIELD=0 HOIST_WORKERS=1
  if [ ! -f "$WORK/$name.token" ]; then
    HOIST_DATA_DIR="$WORK/$name" "$binary" users create bench@example.com <<<"benchmark password" >/dev/null
    HOIST_DATA_DIR="$WORK/$name" "$binary" users set-quota bench@example.com 64TiB >/dev/null
    HOIST_DATA_DIR="$WORK/$name" "$binary" tokens create bench@example.com bench >"$WORK/$name.token"
  fi
}

# The sum of the scan jobs' durations so far, from the app's own histogram.
scan_seconds() {
  curl -sf "$APP_URL/metrics" | python3 -c '
import sys
total = 0.0
for line in sys.stdin:
    if line.startswith("hoist_job_duration_seconds_sum{") and "kind=\"scan\"" in line:
        total += float(line.rsplit(" ", 1)[1])
print(total)'
}

# Waits until every file in NAME's database has left `pending`.
until_scanned() {
  python3 - "$WORK/$1/hoist.db" <<'PY'
import sqlite3, sys, time
start = time.monotonic()
while time.monotonic() - start < 600:
    con = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)
    left = con.execute("SELECT COUNT(*) FROM files WHERE scan = 'pending'").fetchone()[0]
    verdicts = con.execute("SELECT scan, COUNT(*) FROM files GROUP BY scan").fetchall()
    con.close()
    if left == 0:
        print(dict(verdicts), file=sys.stderr)
        sys.exit(0)
    time.sleep(0.05)
sys.exit("the scan did not end within 10 minutes")
PY
}

seconds_of() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(round($end - $start, 3))"
}

for round in $(seq "$RUNS"); do
  step "round $round"
  row="{"
  # Each build its own fresh file (Garage keeps a block it holds once: the second upload of
  # the same bytes would cost it less), and the builds take turns at going first.
  order=("${!SERVERS[@]}")
  [ $((round % 2)) -eq 0 ] && order=($(printf '%s\n' "${order[@]}" | sort -rn))
  for i in "${order[@]}"; do
    name=scan$i
    file=$(fresh_file "$SIZE")
    serve "$name" "${SERVERS[$i]}"
    settle
    before=$(scan_seconds)
    HOIST_TOKEN=$(cat "$WORK/$name.token") "${SERVERS[$i]}" upload --server "$APP_URL" "$file" >/dev/null
    until_scanned "$name"
    after=$(scan_seconds)
    row+="\"hoist$i\": $(python3 -c "print(round($after - $before, 3))"), "
  done
  stop_app
  # clamd keeps the MD5 of every clean file it scanned and skips a file it knows: each way is
  # given bytes clamd has never seen, or it measures clamd's cache, not a scan.
  file=$(fresh_file "$SIZE")
  settle
  stream=$(seconds_of clamdscan --no-summary --config-file="$WORK/clamd/clamd.conf" --stream "$file")
  file=$(fresh_file "$SIZE")
  settle
  local_file=$(seconds_of clamdscan --no-summary --config-file="$WORK/clamd/clamd.conf" "$file")
  printf '%s"stream": %s, "local": %s}\n' "$row" "$stream" "$local_file" >>"$RESULTS"
done

python3 - "$RESULTS" "$(git rev-parse --short HEAD)" "$PROFILE" "$SIZE" "$PREVIOUS" <<'PY'
import json, statistics, sys
path, commit, profile, size, previous = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
size = int(size)
def med(k):
    return statistics.median(r[k] for r in rows)
print(f"Commit {commit}, {profile} build, Garage and clamd on loopback (clamd with the tests' two "
      f"signatures), a {size} MiB file of random bytes, medians of {len(rows)} interleaved rounds.\n")
print("| scanned by | seconds | MiB/s | ÷ clamdscan --stream |")
print("|---|---|---|---|")
base = med('stream')
hoists = [('hoist0', f'Hoist {commit}: store → scan job → clamd (INSTREAM)')]
if previous:
    hoists.append(('hoist1', f'Hoist, previous build ({previous})'))
for key, label in hoists + [('stream', '`clamdscan --stream` of a local file'),
                   ('local', '`clamdscan` of a local file (clamd reads it)')]:
    s = med(key)
    print(f"| {label} | {s:.2f} | {size / s:.0f} | {s / base:.2f}× |")
PY
