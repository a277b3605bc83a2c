#!/usr/bin/env bash
# Runs every test of Hoist on this machine, installing whatever is missing first:
#   1. the browser bundle's dependency check,
#   2. cargo test: unit tests and integration tests against a real Garage (started here on free
#      ports, stopped afterwards), twice: on SQLite files, then on a throwaway PostgreSQL
#      cluster (also started here),
#      with a real clamd for the malware scans (started here too),
#   3. Playwright end-to-end tests in Debian's Chromium against the running app.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_build_tools
ensure_browser_tools
ensure_database_tools
ensure_scan_tools

# A test run builds everything once: incremental compilation would only add gigabytes of
# caches and time to it.
export CARGO_INCREMENTAL=0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-test.XXXXXX")
# PostgreSQL runs as its own user, which must be able to reach its folder in here.
chmod 711 "$WORK"
APP_PIDS=()
cleanup() {
  local status=$?
  local pid
  for pid in "${APP_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  "$ROOT/scripts/local-s3.sh" stop "$WORK/s3" >/dev/null 2>&1 || true
  "$ROOT/scripts/local-pg.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  "$ROOT/scripts/local-clamd.sh" stop "$WORK/clamd" >/dev/null 2>&1 || true
  if [ "$status" != 0 ]; then
    local log
    # The apps' logs first, the tests' own last: what a reader of the end needs is which test
    # failed and why, not the servers' last requests.
    for log in "$WORK"/*.log; do
      [ -f "$log" ] || continue
      case $(basename "$log") in cargo-test*.log | e2e.log) continue ;; esac
      printf '\n--- last lines of %s ---\n' "$(basename "$log")" >&2
      tail -n 30 "$log" >&2
    done
    for log in "$WORK"/cargo-test.log "$WORK"/cargo-test-postgres.log "$WORK"/e2e.log; do
      [ -f "$log" ] || continue
      printf '\n--- failures in %s ---\n' "$(basename "$log")" >&2
      # cargo's "failures:" section and Playwright's numbered failures, then the summary lines.
      case $(basename "$log") in
        e2e.log) grep -A 40 -E '^  [0-9]+\) ' "$log" | head -n 150 >&2 || true ;;
        *) sed -n '/^failures:$/,/^test result: /p' "$log" | head -n 150 >&2 ;;
      esac
      grep -E '^test result: |^ *[0-9]+ (passed|failed|flaky|did not run)|✘' "$log" | tail -n 20 >&2 || true
    done
    # Last, so that whoever reads only the end of the output still learns which step failed.
    printf '\nscripts/test.sh failed (exit %s) at: %s; free disk: %s\n' "$status" "${CURRENT_STEP:-the start}" \
      "$(df -h --output=avail "$ROOT" | tail -n1 | tr -d ' ')" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step "Checking that the browser bundle holds no server crates"
scripts/check-bundle-deps.sh

step "Starting a local S3 store (Garage) on a free port"
scripts/local-s3.sh start "$WORK/s3" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/s3/s3.env"

step "Starting a throwaway PostgreSQL on a free port"
scripts/local-pg.sh start "$WORK/pg" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/pg/pg.env"

step "Starting a malware scanner (clamd) with the tests' own signatures on a free port"
scripts/local-clamd.sh start "$WORK/clamd" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/clamd/clamd.env"

step "Unit and integration tests on SQLite (cargo test)"
# cargo-leptos builds debug servers with this flag; passing it here too lets both builds share
# their compiled dependencies instead of compiling everything twice. --show-output prints what
# passing tests measured (the reaper's figures, say).
RUSTFLAGS="--cfg erase_components" cargo test --no-default-features --features ssr -- --show-output 2>&1 | tee "$WORK/cargo-test.log" ||
  die "cargo test failed"

step "Unit and integration tests again, on PostgreSQL (cargo test)"
HOIST_TEST_DATABASE=postgres RUSTFLAGS="--cfg erase_components" cargo test --no-default-features --features ssr -- --show-output 2>&1 | tee "$WORK/cargo-test-postgres.log" ||
  die "cargo test on PostgreSQL failed"
# The browser tests run on SQLite: the cluster and its few hundred test databases can go.
scripts/local-pg.sh stop "$WORK/pg" >/dev/null 2>&1 || true
rm -rf "$WORK/pg"

step "Building the page (cargo leptos build --frontend-only)"
# The server is the one cargo test just built and tested (target/debug/hoist, same flags): a
# `cargo leptos build` of it would compile some 250 dependencies again, because the test build
# unifies their features with the dev-dependencies' and a plain build does not (9 of its 12.5
# minutes on this machine). Only the WebAssembly, JavaScript and CSS are built here.
cargo leptos build --frontend-only 2>&1 | tee "$WORK/build.log" || die "cargo leptos build failed"
[ -x target/debug/hoist ] || die "cargo test left no server binary at target/debug/hoist"

step "Starting the app"
# start_app NAME SETTING=VALUE...: runs the built server on a free port with the test settings
# (plus the given ones), waits until it answers and has set the bucket's CORS rule, and prints
# its base URL. Its pid goes into APP_PIDS. Every browser test is a guest from 127.0.0.1, one
# network: its guests' quota is raised here (tests/accounts.rs tests it).
start_app() {
  local name=$1 port log
  shift
  port=$(free_port)
  log="$WORK/$name.log"
  env HOIST_DATA_DIR="$WORK/$name" \
    LEPTOS_SITE_ADDR="127.0.0.1:$port" \
    LEPTOS_SITE_ROOT=target/site \
    LEPTOS_ENV=PROD \
    HOIST_MAX_FILE_SIZE=1GiB \
    HOIST_ALLOWED_TYPES="application/octet-stream, image/*, video/*, text/*" \
    HOIST_GUEST_NETWORK_QUOTA=1TiB \
    "$@" target/debug/hoist >"$log" 2>&1 &
  APP_PIDS+=($!)
  local base_url="http://127.0.0.1:$port"
  healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$base_url/healthz"; }
  wait_for 60 "$name" healthy || die "$name did not answer on $base_url within 60 s"
  # Browsers can PUT to the bucket only once the app has set its CORS rule.
  wait_for 60 "the CORS rule" grep -q "bucket CORS rule set" "$log" ||
    die "$name did not set the bucket's CORS rule within 60 s"
  say "$name is up at $base_url (pid ${APP_PIDS[-1]})"
  STARTED_URL=$base_url
}
start_app app
base_url=$STARTED_URL
APP_PID=${APP_PIDS[0]}
# A second instance whose URLs expire after 2 s, for the test of re-signing.
start_app short-ttl HOIST_URL_TTL=2s HOIST_PART_SIZE=5MiB
short_ttl_url=$STARTED_URL
# A third whose uploads expire after 3 s without activity, reaped every second: death row.
start_app short-life HOIST_UPLOAD_TTL=3s HOIST_URL_TTL=2s HOIST_REAPER_INTERVAL=1s HOIST_PART_SIZE=5MiB
short_life_url=$STARTED_URL
# A fourth whose accounts may keep 30 MiB, under a prefix of its own: quotas.
start_app small-quota HOIST_DEFAULT_QUOTA=30MiB HOIST_S3_PREFIX=small-quota/ HOIST_PART_SIZE=5MiB
small_quota_url=$STARTED_URL
# A fifth for the 10,000-file test, under a prefix of its own.
start_app many-files HOIST_S3_PREFIX=many-files/
many_url=$STARTED_URL
# A sixth that requires every file to be scanned clean by the tests' clamd: malware scanning.
start_app scanning HOIST_SCAN=required HOIST_CLAMD="$HOIST_TEST_CLAMD" HOIST_S3_PREFIX=scanning/ HOIST_JOB_YIELD=0
scan_url=$STARTED_URL

step "End-to-end tests (Playwright, Chromium)"
# The fault tests kill and restart the local Garage (HOIST_S3_DIR) and an app of their own.
(cd end2end && HOIST_BASE_URL="$base_url" HOIST_SERVER_PID="$APP_PID" HOIST_SHORT_TTL_BASE_URL="$short_ttl_url" \
  HOIST_SHORT_LIFE_BASE_URL="$short_life_url" HOIST_SMALL_QUOTA_BASE_URL="$small_quota_url" HOIST_MANY_BASE_URL="$many_url" HOIST_SCAN_BASE_URL="$scan_url" HOIST_S3_DIR="$WORK/s3" HOIST_APP_BIN="$ROOT/target/debug/hoist" \
  HOIST_SITE_ROOT="$ROOT/target/site" npx playwright test 2>&1) |
  tee "$WORK/e2e.log" || die "the end-to-end tests failed"

cargo_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$WORK/cargo-test.log" "$WORK/cargo-test-postgres.log" | awk '{ s += $1 } END { print s + 0 }')
e2e_passed=$(sed -n 's/^ *\([0-9]*\) passed (.*/\1/p' "$WORK/e2e.log" | tail -n1)
step "All tests passed: $cargo_passed cargo tests, ${e2e_passed:-0} end-to-end tests"
echo "hoist: $((cargo_passed + ${e2e_passed:-0})) passed, 0 failed"
