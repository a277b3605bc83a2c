# What the benchmarks share: tools, the boto3 baseline, a build of Hoist, a Garage of their
# own, starting Hoist with given settings, fresh files and a settled machine. Sourced.
# Needs PROFILE (release | debug) set by the caller.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
cd "$ROOT"

BOTO3_VERSION=1.40.61

ensure_build_tools
ensure_browser_tools
VENV="$TOOLS_DIR/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
  step "Installing boto3 $BOTO3_VERSION for the direct baseline"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "boto3==$BOTO3_VERSION" || die "pip could not install boto3"
fi

step "Building Hoist ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo leptos build --release || die "cargo leptos build failed"
else
  cargo leptos build || die "cargo leptos build failed"
fi
# BENCH_SERVER: another build of Hoist to measure (an older commit, side by side).
SERVER="${BENCH_SERVER:-target/$PROFILE/hoist}"

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

# start_app NAME SETTING=VALUE...: Hoist on a free port with the given settings; sets APP_URL.
start_app() {
  stop_app
  local name=$1 port
  shift
  port=$(free_port)
  # The benchmarks upload as guests, round after round, all from loopback: the guest quotas
  # must not end them.
  env HOIST_DATA_DIR="$WORK/$name" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
    LEPTOS_ENV=PROD HOIST_MAX_FILE_SIZE=64GiB HOIST_GUEST_QUOTA=64TiB HOIST_GUEST_NETWORK_QUOTA=64TiB "$@" "$SERVER" >"$WORK/$name.log" 2>&1 &
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

# One upload of a fresh file of $1 MiB through the running Hoist in headless Chromium: a JSON
# line with its seconds and CPU.
hoist_once() {
  local file
  file=$(fresh_file "$1")
  settle
  node bench/browser_upload.mjs hoist "$APP_URL/" "$file" | tail -n1
}

RESULTS="$WORK/results.jsonl"
record() { printf '{"what": "%s", "result": %s}\n' "$1" "$2" >>"$RESULTS"; }
