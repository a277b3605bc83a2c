#!/usr/bin/env bash
# What follows an upload, on a release build with Garage: time from upload complete to `ready`
# for a 20 MiB PNG and a 20 MiB MP4 (made here by ffmpeg), and the live feed with many idle
# clients connected (events per second to one watching client, the server's memory). Not a
# test. Prints a Markdown table.
#
#   bench/processing.sh
# Settings (environment): BENCH_LIVE_CLIENTS (1000), BENCH_EVENTS (2000), BENCH_PROFILE.
set -euo pipefail

CLIENTS=${BENCH_LIVE_CLIENTS:-1000}
EVENTS=${BENCH_EVENTS:-2000}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

step "Making a 20 MiB PNG and a 20 MiB MP4"
# Noise barely compresses: 4400 × 3400 is about 20 MiB as a PNG, and a noisy 40 s video at
# 4 Mbit/s about 20 MiB as an MP4.
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "nullsrc=s=4400x3400,geq=r='random(1)*255':g='random(2)*255':b='random(3)*255'" \
  -frames:v 1 "$WORK/noise.png"
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc=duration=40:size=640x360:rate=25,noise=alls=30:allf=t" \
  -f lavfi -i sine=frequency=440:duration=40 -c:v libx264 -preset veryfast -b:v 4M -maxrate 4M -bufsize 2M \
  -pix_fmt yuv420p -c:a aac -movflags +faststart -shortest "$WORK/clip.mp4"

start_app processing HOIST_PART_CHECKSUM=off HOIST_RATE_LIMIT=0 HOIST_IP_RATE_LIMIT=0 \
  HOIST_S3_LIFECYCLE_RULE=false HOIST_MAX_CONNECTIONS=8192 \
  HOIST_LIVE_PER_NETWORK=4096 HOIST_LIVE_MAX=4096
settle
ulimit -n 65536 2>/dev/null || true
line=$(node bench/processing.mjs "$APP_URL" "$APP_PID" "$WORK/noise.png" "$WORK/clip.mp4" "$CLIENTS" "$EVENTS")
python3 - "$line" "$(git rev-parse --short HEAD)" "$PROFILE" <<'PY'
import json, sys
r, commit, profile = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f"Commit {commit}, {profile} build, Garage on loopback, HOIST_WORKERS=2 inside the server.\n")
print("| what | figure |")
print("|---|---|")
print(f"| {r['image_mib']} MiB PNG: upload complete → ready (hash + thumbnail) | {r['image_to_ready_ms']} ms |")
print(f"| {r['video_mib']} MiB MP4: upload complete → ready (hash + media + poster) | {r['video_to_ready_ms']} ms |")
print(f"| live clients connected (idle, each its own guest) | {r['clients']} |")
print(f"| server RSS before → with them connected | {r['rss_before_clients_mib']} → {r['rss_with_clients_mib']} MiB |")
print(f"| events delivered to one watching client, with the others connected | {r['events']} at {r['events_per_s']} events/s |")
print(f"| server RSS after the events → after every client left | {r['rss_after_events_mib']} → {r['rss_after_close_mib']} MiB |")
print(f"| live clients left after they went | {r['clients_left']} |")
PY
