#!/usr/bin/env bash
# Runs every test of Hoist on this machine, installing whatever is missing first:
#   1. the browser bundle's dependency check,
#   2. cargo test: unit tests and integration tests against a real Garage (started here on free
#      ports, stopped afterwards) and real SQLite files,
#   3. Playwright end-to-end tests in Debian's Chromium against the running app.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_build_tools
ensure_browser_tools

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-test.XXXXXX")
APP_PID=
cleanup() {
  local status=$?
  if [ -n "$APP_PID" ]; then
    kill "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
  fi
  "$ROOT/scripts/local-s3.sh" stop "$WORK/s3" >/dev/null 2>&1 || true
  if [ "$status" != 0 ] && [ -f "$WORK/app.log" ]; then
    printf '\n--- last lines of the app log ---\n' >&2
    tail -n 30 "$WORK/app.log" >&2
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

step "Unit and integration tests (cargo test)"
# cargo-leptos builds debug servers with this flag; passing it here too lets both builds share
# their compiled dependencies instead of compiling everything twice.
RUSTFLAGS="--cfg erase_components" cargo test --no-default-features --features ssr 2>&1 | tee "$WORK/cargo-test.log" ||
  die "cargo test failed"

step "Building the app (cargo leptos build)"
cargo leptos build || die "cargo leptos build failed"

step "Starting the app"
port=$(free_port)
base_url="http://127.0.0.1:$port"
HOIST_DATA_DIR="$WORK/app" \
  LEPTOS_SITE_ADDR="127.0.0.1:$port" \
  LEPTOS_SITE_ROOT=target/site \
  LEPTOS_ENV=PROD \
  HOIST_MAX_FILE_SIZE=1GiB \
  HOIST_ALLOWED_TYPES="application/octet-stream, image/*, video/*, text/*" \
  target/debug/hoist >"$WORK/app.log" 2>&1 &
APP_PID=$!
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$base_url/healthz"; }
wait_for 60 "the app" healthy || die "the app did not answer on $base_url within 60 s"
# Browsers can PUT to the bucket only once the app has set its CORS rule.
wait_for 60 "the CORS rule" grep -q "bucket CORS rule set" "$WORK/app.log" ||
  die "the app did not set the bucket's CORS rule within 60 s"
say "Hoist is up at $base_url (pid $APP_PID)"

step "End-to-end tests (Playwright, Chromium)"
(cd end2end && HOIST_BASE_URL="$base_url" HOIST_SERVER_PID="$APP_PID" npx playwright test 2>&1) |
  tee "$WORK/e2e.log" || die "the end-to-end tests failed"

cargo_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$WORK/cargo-test.log" | awk '{ s += $1 } END { print s + 0 }')
e2e_passed=$(sed -n 's/^ *\([0-9]*\) passed (.*/\1/p' "$WORK/e2e.log" | tail -n1)
step "All tests passed: $cargo_passed cargo tests, ${e2e_passed:-0} end-to-end tests"
echo "hoist: $((cargo_passed + ${e2e_passed:-0})) passed, 0 failed"
