#!/usr/bin/env bash
# Processing beside uploading (issue 30): BENCH_FILES (200) fresh noise PNGs of 256 KiB, each
# of which gets a thumbnail job, uploaded through Hoist in headless Chromium with processing
# off (HOIST_WORKERS=0), on with jobs run at once (HOIST_JOB_YIELD=0, as before the yield), and
# on with the defaults (jobs wait while their owner still sends). For each: the time until all
# files are verified, the page's main thread and each party's CPU, and when the last thumbnail
# was made. Rounds interleave the three. Not a test. Prints a Markdown table with ratios.
#
#   bench/processing_yield.sh
# Settings (environment): BENCH_RUNS (3), BENCH_FILES (200), BENCH_PROFILE (release).
set -euo pipefail

PROFILE=${BENCH_PROFILE:-release}
RUNS=${BENCH_RUNS:-3}
FILES=${BENCH_FILES:-200}
source "$(dirname "$0")/lib.sh"

# Noise does not compress: 300 x 290 pixels is a 256 KiB PNG. Fresh bytes every round (Garage
# would deduplicate the second round's blocks).
pngs() {
  rm -rf "$WORK/png"
  mkdir -p "$WORK/png"
  python3 - "$WORK/png" "$FILES" <<'PY'
import os, struct, sys, zlib
out, n = sys.argv[1], int(sys.argv[2])
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
for i in range(n):
    w, h = 300, 290
    raw = b''.join(b'\x00' + os.urandom(w * 3) for _ in range(h))
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) \
        + chunk(b'IDAT', zlib.compress(raw, 1)) + chunk(b'IEND', b'')
    open(os.path.join(out, f'p-{i:04}.png'), 'wb').write(png)
PY
}

# Seconds from now until every file in the app's database is ready (processing off: 0).
until_ready() {
  python3 - "$WORK/$1/hoist.db" "$FILES" "$2" <<'PY'
import sqlite3, sys, time
db, n, off = sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'off'
if off:
    print(0); sys.exit()
start = time.monotonic()
while time.monotonic() - start < 300:
    con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
    done = con.execute("SELECT COUNT(*) FROM files WHERE processing IN ('ready', 'failed')").fetchone()[0]
    con.close()
    if done >= n:
        break
    time.sleep(0.05)
print(round(time.monotonic() - start, 2))
PY
}

for round in $(seq "$RUNS"); do
  for mode in off at-once yield; do
    case $mode in
      off) settings=(HOIST_WORKERS=0) ;;
      at-once) settings=(HOIST_JOB_YIELD=0) ;;
      yield) settings=() ;;
    esac
    step "round $round: processing $mode"
    pngs
    settle
    start_app "$mode-$round" "${settings[@]}"
    line=$(node bench/browser_upload.mjs hoist "$APP_URL/" "$WORK"/png/*.png | tail -n1)
    after=$(until_ready "$mode-$round" "$mode")
    stop_app
    printf '{"mode": "%s", "ready_after": %s, "result": %s}\n' "$mode" "$after" "$line" >>"$RESULTS"
  done
done

python3 - "$RESULTS" "$(git rev-parse --short HEAD)" "$PROFILE" "$FILES" <<'PY'
import json, statistics, sys
path, commit, profile, files = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def med(mode, f):
    return statistics.median(f(r) for r in rows if r['mode'] == mode)
print(f"Commit {commit}, {profile} build, Garage on loopback, {files} PNGs of 256 KiB, medians of "
      f"{sum(r['mode'] == 'off' for r in rows)} interleaved rounds.\n")
print("| processing | all verified | ÷ off | main thread busy | Hoist CPU | Chromium CPU | Garage CPU | last thumbnail after |")
print("|---|---|---|---|---|---|---|---|")
off = med('off', lambda r: r['result']['seconds'])
for mode, label in [('off', 'off (`HOIST_WORKERS=0`)'), ('at-once', 'on, jobs at once (`HOIST_JOB_YIELD=0`)'), ('yield', 'on, defaults (jobs yield)')]:
    s = med(mode, lambda r: r['result']['seconds'])
    busy = med(mode, lambda r: r['result']['main_thread']['tasks'])
    cpu = {k: med(mode, lambda r, k=k: r['result']['cpu'][k]) for k in ('hoist', 'chrom', 'garage')}
    last = '—' if mode == 'off' else f"{med(mode, lambda r: r['result']['seconds'] + r['ready_after']):.2f} s"
    print(f"| {label} | {s:.2f} s | {s / off:.2f}× | {busy:.2f} s | {cpu['hoist']:.2f} s | {cpu['chrom']:.2f} s | {cpu['garage']:.2f} s | {last} |")
PY
