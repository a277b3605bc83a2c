#!/usr/bin/env bash
# The HLS ladder (issue 31): a 60 s 1080p30 H.264 clip and a 60 s 1080p30 HEVC clip, each of
# moving, textured noise (not a flat test pattern, which encoders make for free), uploaded with
# `hoist upload` to a Hoist with the default settings; timed from verification (the upload's end)
# to playable (the ladder's top rung published) and to the full ladder, with the server's
# resident memory sampled throughout. Beside it, in the same round, ffmpeg alone makes the same
# ladder from the same file on local disk, with the same commands Hoist runs (the top rung, then
# the two lower rungs side by side, as two workers do): the limit. Rounds interleave. Not a test.
#
#   bench/transcode.sh
# Settings (environment): BENCH_RUNS (3), BENCH_SECONDS (60), BENCH_PROFILE (release).
set -euo pipefail

PROFILE=${BENCH_PROFILE:-release}
RUNS=${BENCH_RUNS:-3}
SECONDS_LONG=${BENCH_SECONDS:-60}
source "$(dirname "$0")/lib.sh"
ensure_media_tools

make_clip() {
  local out=$1 codec=$2
  ffmpeg -y -hide_banner -loglevel error \
    -f lavfi -i "testsrc2=duration=$SECONDS_LONG:size=1920x1080:rate=30,noise=alls=10:allf=t+u" \
    -f lavfi -i "sine=frequency=330:duration=$SECONDS_LONG" \
    $codec -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k -shortest "$out"
}
step "Making the clips (${SECONDS_LONG} s, 1080p30)"
make_clip "$WORK/h264.mp4" "-c:v libx264 -preset veryfast -crf 20"
make_clip "$WORK/hevc.mov" "-c:v libx265 -preset ultrafast -crf 24 -tag:v hvc1"

# The commands of src/processing/hls/encode.rs, on a local file (kept in step with it by hand:
# the same codec settings, segment rules and keyframe placement).
segment_args=(-f hls -hls_segment_type fmp4 -hls_flags single_file -hls_playlist_type vod)
remux() { ffmpeg -nostdin -hide_banner -loglevel error -i "$1" -map 0:v:0 -map '0:a:0?' -sn -dn -c copy \
  "${segment_args[@]}" -hls_time 4 -hls_segment_filename "$2/r.mp4" "$2/r.m3u8"; }
encode() { # SOURCE DIR HEIGHT RATE KEYFRAMES
  ffmpeg -nostdin -hide_banner -loglevel error -i "$1" -map 0:v:0 -map '0:a:0?' -sn -dn -threads 2 -filter_threads 2 \
    -vf "scale=-2:$3:flags=bicubic" -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 23 \
    -maxrate "$4" -bufsize "$((2 * $4))" -x264-params scenecut=0:open-gop=0:keyint=100000:min-keyint=1 \
    -force_key_frames "$5" -c:a aac -b:a 128k -ac 2 "${segment_args[@]}" -hls_time 1 \
    -hls_segment_filename "$2/r.mp4" "$2/r.m3u8"
}
# Where the top rung's segments begin, as the lower rungs are cut.
cuts() { python3 - "$1" <<'PY'
import sys
at, out = 0.0, []
for line in open(sys.argv[1]):
    if line.startswith('#EXTINF:'):
        if at > 0: out.append(f'{at:.6f}')
        at += float(line[8:].split(',')[0])
print(','.join(out) or '0')
PY
}
alone() { # SOURCE KIND -> seconds to playable and to the full ladder
  local src=$1 kind=$2 dir=$WORK/alone start top
  rm -rf "$dir"; mkdir -p "$dir"/{top,720,360}
  start=$(date +%s.%N)
  if [ "$kind" = h264 ]; then remux "$src" "$dir/top"; else encode "$src" "$dir/top" 1080 5500000 'expr:gte(t,n_forced*4)'; fi
  top=$(date +%s.%N)
  local keys; keys=$(cuts "$dir/top/r.m3u8")
  encode "$src" "$dir/720" 720 3000000 "$keys" & local a=$!
  encode "$src" "$dir/360" 360 900000 "$keys" & local b=$!
  wait $a $b
  python3 -c "import sys; s, t, e = map(float, sys.argv[1:]); print(f'{{\"playable\": {t - s:.2f}, \"full\": {e - s:.2f}}}')" "$start" "$top" "$(date +%s.%N)"
}

# Seconds from now until the upload's top rung and then its whole ladder are published, with
# the server's peak resident memory meanwhile (and before).
through_hoist() { # FILE ROUNDNAME
  start_app "$2" HOIST_JOB_YIELD=0
  # `hoist upload` speaks as an account, with a token.
  HOIST_DATA_DIR="$WORK/$2" "$SERVER" users create bench@example.com <<<"benchmark password" >/dev/null
  HOIST_DATA_DIR="$WORK/$2" "$SERVER" users set-quota bench@example.com 64TiB >/dev/null
  HOIST_TOKEN=$(HOIST_DATA_DIR="$WORK/$2" "$SERVER" tokens create bench@example.com bench)
  export HOIST_TOKEN XDG_CACHE_HOME="$WORK/cache"
  "$SERVER" upload --server "$APP_URL" "$1" >/dev/null
  python3 - "$WORK/$2/hoist.db" "$APP_PID" <<'PY'
import json, sqlite3, sys, time
db, pid = sys.argv[1], sys.argv[2]
def rss():
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return 0
start, playable, peak, base = time.monotonic(), None, 0.0, rss()
while time.monotonic() - start < 1800:
    peak = max(peak, rss())
    con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
    done = con.execute("SELECT COUNT(*) FROM renditions WHERE playlist IS NOT NULL").fetchone()[0]
    left = con.execute("SELECT COUNT(*) FROM jobs WHERE kind LIKE 'hls%' AND state IN ('queued', 'running')").fetchone()[0]
    con.close()
    if done >= 1 and playable is None:
        playable = time.monotonic() - start
    if done >= 1 and left == 0:
        break
    time.sleep(0.05)
print(json.dumps({"playable": round(playable or -1, 2), "full": round(time.monotonic() - start, 2),
                  "rss_before_mib": round(base, 1), "rss_peak_mib": round(peak, 1), "rungs": done}))
PY
  stop_app
}

for round in $(seq "$RUNS"); do
  for kind in h264 hevc; do
    src=$WORK/h264.mp4; [ "$kind" = hevc ] && src=$WORK/hevc.mov
    step "round $round: $kind through Hoist"
    settle
    hoist=$(through_hoist "$src" "$kind-$round")
    step "round $round: $kind by ffmpeg alone"
    settle
    local_run=$(alone "$src" "$kind")
    printf '{"kind": "%s", "hoist": %s, "alone": %s}\n' "$kind" "$hoist" "$local_run" >>"$RESULTS"
  done
done

python3 - "$RESULTS" "$(git rev-parse --short HEAD)" "$PROFILE" "$SECONDS_LONG" <<'PY'
import json, statistics, sys
path, commit, profile, seconds = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def med(kind, f):
    return statistics.median(f(r) for r in rows if r['kind'] == kind)
print(f"Commit {commit}, {profile} build, Garage on loopback, {seconds} s 1080p30 clips of moving "
      f"textured noise, medians of {sum(r['kind'] == 'h264' for r in rows)} interleaved rounds.\n")
print("| source | playable after verification: Hoist | ffmpeg alone | full ladder: Hoist | ffmpeg alone | ÷ | server RSS before → peak |")
print("|---|---|---|---|---|---|---|")
for kind, label in [('h264', 'H.264 + AAC (MP4): top rung copied'), ('hevc', 'HEVC + AAC (MOV): every rung encoded')]:
    hp, ap = med(kind, lambda r: r['hoist']['playable']), med(kind, lambda r: r['alone']['playable'])
    hf, af = med(kind, lambda r: r['hoist']['full']), med(kind, lambda r: r['alone']['full'])
    b, p = med(kind, lambda r: r['hoist']['rss_before_mib']), med(kind, lambda r: r['hoist']['rss_peak_mib'])
    print(f"| {label} | {hp:.2f} s | {ap:.2f} s | {hf:.2f} s | {af:.2f} s | {hf / af:.2f}× | {b:.0f} → {p:.0f} MiB |")
PY
