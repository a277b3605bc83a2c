# Shared by Hoist's scripts: messages, waiting, free ports, and installing the tools.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS_DIR="$ROOT/.tools"
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"
# Every build of the app (cargo leptos, cargo test) sees the same value, so they share compiled crates.
export LEPTOS_OUTPUT_NAME=hoist

CARGO_LEPTOS_VERSION=0.3.10
GARAGE_VERSION=2.5.0
BINARYEN_VERSION=132.0.0

# step TEXT: says what runs next; CURRENT_STEP keeps it for a failure report.
step() {
  CURRENT_STEP=$*
  # The free disk at every step shows where a run's space went when one runs out of it.
  printf '\n\033[1m==> %s\033[0m (free disk: %s)\n' "$*" \
    "$(df -h --output=avail "${ROOT:-.}" 2>/dev/null | tail -n1 | tr -d ' ')"
}
say() { printf '    %s\n' "$*"; }
die() {
  printf '\n\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND until it succeeds or the deadline passes.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Installs what the app needs to build and run. Cargo installs take long on a cold machine
# (cargo-leptos ~25 min, Garage ~16 min, wasm-bindgen ~8 min), so they run side by side, and
# only when missing.
ensure_build_tools() {
  step "Checking tools"
  command -v cargo >/dev/null || die "cargo is not installed: install Rust with rustup first"
  command -v npm >/dev/null || die "npm is not installed: apt-get install nodejs npm"
  command -v python3 >/dev/null || die "python3 is not installed"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown || die "rustup could not add the wasm32 target"
  fi

  local bindgen
  bindgen=$(wasm_bindgen_version)
  [ -n "$bindgen" ] || die "Cargo.lock names no wasm-bindgen version"
  mkdir -p "$TOOLS_DIR/logs"
  local pids=() names=()
  if ! cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 25 minutes on 2 cores)"
    cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" >"$TOOLS_DIR/logs/cargo-leptos.log" 2>&1 &
    pids+=($!) names+=(cargo-leptos)
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen"; then
    say "installing wasm-bindgen-cli $bindgen (about 8 minutes)"
    cargo install wasm-bindgen-cli --force --version "$bindgen" >"$TOOLS_DIR/logs/wasm-bindgen.log" 2>&1 &
    pids+=($!) names+=(wasm-bindgen)
  fi
  if ! garage --version 2>/dev/null | grep -q "cargo:$GARAGE_VERSION "; then
    say "installing Garage $GARAGE_VERSION, the local S3 server (about 16 minutes)"
    cargo install --locked "garage@$GARAGE_VERSION" >"$TOOLS_DIR/logs/garage.log" 2>&1 &
    pids+=($!) names+=(garage)
  fi
  if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ]; then
    say "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm"
    npm install --silent --no-fund --no-audit --prefix "$TOOLS_DIR" "binaryen@$BINARYEN_VERSION" >"$TOOLS_DIR/logs/binaryen.log" 2>&1 ||
      die "npm could not install binaryen; see $TOOLS_DIR/logs/binaryen.log"
  fi
  local i failed=0
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      printf '\n--- last lines of %s ---\n' "$TOOLS_DIR/logs/${names[$i]}.log" >&2
      tail -n 20 "$TOOLS_DIR/logs/${names[$i]}.log" >&2
      failed=1
    fi
  done
  [ "$failed" = 0 ] || die "a tool failed to install (logs in $TOOLS_DIR/logs)"
  ensure_media_tools
  ensure_player
  say "cargo-leptos, wasm-bindgen $bindgen, wasm-opt and Garage $GARAGE_VERSION are ready"
}

# The video player's one dependency, hls.js, from npm (player/package-lock.json pins it), copied
# into the site's assets (public/vendor, not in git) before any build.
ensure_player() {
  local lock="$ROOT/player/package-lock.json" stamp="$ROOT/player/node_modules/.package-lock.json"
  local vendored="$ROOT/public/vendor/hls.light.min.js"
  if [ ! -d "$ROOT/player/node_modules/hls.js" ] || [ "$lock" -nt "$stamp" ]; then
    step "Installing the video player's package (hls.js)"
    (cd "$ROOT/player" && npm ci --silent --no-fund --no-audit) || die "npm ci failed in player/"
  fi
  if [ ! -f "$vendored" ] || [ "$ROOT/player/node_modules/hls.js/package.json" -nt "$vendored" ]; then
    mkdir -p "$ROOT/public/vendor"
    cp "$ROOT/player/node_modules/hls.js/dist/hls.light.min.js" "$vendored"
  fi
}

# ffmpeg makes video posters; without it that job is skipped, so the app runs either way, but the
# scripts install it so what a user sees matches what the tests check.
ensure_media_tools() {
  if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    step "Installing ffmpeg from Debian"
    as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null ||
      die "apt-get could not install ffmpeg"
  fi
}

# ClamAV's scanner for the malware-scanning tests (clamd) and the scanning benchmark
# (clamdscan). Its signature database is not downloaded: the tests bring their own.
ensure_scan_tools() {
  if ! command -v clamd >/dev/null || ! command -v clamdscan >/dev/null; then
    step "Installing ClamAV (clamd, clamdscan) from Debian"
    as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends clamav-daemon clamdscan >/dev/null ||
      die "apt-get could not install clamav-daemon"
  fi
}

# PostgreSQL for the second pass of the integration tests and the load figures: Debian's server
# package, run as a throwaway cluster by scripts/local-pg.sh (never the system's own cluster).
postgres_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

ensure_database_tools() {
  if ! postgres_bin >/dev/null; then
    step "Installing PostgreSQL from Debian"
    as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
      die "apt-get could not install postgresql"
  fi
}

ensure_browser_tools() {
  if [ ! -x /usr/bin/chromium ]; then
    step "Installing Chromium from Debian"
    as_root apt-get update -qq && as_root apt-get install -y -qq chromium >/dev/null ||
      die "apt-get could not install chromium"
  fi
  local lock="$ROOT/end2end/package-lock.json" stamp="$ROOT/end2end/node_modules/.package-lock.json"
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ "$lock" -nt "$stamp" ]; then
    step "Installing the end-to-end test packages"
    (cd "$ROOT/end2end" && npm ci --silent --no-fund --no-audit) || die "npm ci failed in end2end/"
  fi
}
