#!/usr/bin/env bash
# Runs Hoist for development at http://127.0.0.1:3000, installing whatever is missing first.
# Unless HOIST_S3_ENDPOINT names a store of yours, a local Garage is started with its data in
# HOIST_DATA_DIR (./data) and stopped again when you stop this script.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_build_tools

if [ -z "${HOIST_S3_ENDPOINT:-}" ]; then
  step "Starting the local S3 store (Garage)"
  garage_dir="${HOIST_DATA_DIR:-$ROOT/data}/garage"
  "$ROOT/scripts/local-s3.sh" start "$garage_dir" 3900
  trap '"$ROOT/scripts/local-s3.sh" stop "$garage_dir"' EXIT
  # shellcheck disable=SC1091
  source "$garage_dir/s3.env"
else
  say "using the S3 store at $HOIST_S3_ENDPOINT"
fi

step "Running Hoist (cargo leptos watch) at http://${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
cargo leptos watch
