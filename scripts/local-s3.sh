#!/usr/bin/env bash
# A single-node Garage (S3-compatible) server for development and tests.
#
#   scripts/local-s3.sh start DIR [S3_PORT]   start it (or find it running) with its data in DIR;
#                                             writes DIR/s3.env with the HOIST_S3_* and AWS_* settings
#   scripts/local-s3.sh stop DIR              stop it
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

BUCKET=${HOIST_S3_BUCKET:-hoist}

usage() { die "usage: $0 start DIR [S3_PORT] | stop DIR"; }

garage_cli() { garage -c "$DIR/garage.toml" "$@"; }

running() { [ -f "$DIR/garage.pid" ] && kill -0 "$(cat "$DIR/garage.pid")" 2>/dev/null; }

# Fails at once (so wait_for ends early) once the server has died.
answering() {
  running || exit_dead
  garage_cli status
}

exit_dead() {
  grep -E 'ERROR' "$DIR/garage.log" | tail -n 5 >&2 || true
  die "Garage exited while starting (log: $DIR/garage.log)"
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

start() {
  local s3_port=${1:-3900}
  mkdir -p "$DIR/meta" "$DIR/data"
  if running; then
    say "Garage is already running (pid $(cat "$DIR/garage.pid"))"
    [ -f "$DIR/s3.env" ] || die "$DIR/s3.env is missing; stop Garage and start it again"
    return
  fi
  [ -f "$DIR/rpc_secret" ] || random_hex 32 >"$DIR/rpc_secret"
  local rpc_port
  rpc_port=$(free_port)
  umask 077
  cat >"$DIR/garage.toml" <<TOML
metadata_dir = "$DIR/meta"
data_dir = "$DIR/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(cat "$DIR/rpc_secret")"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.localhost"
TOML
  # Not through garage_cli: $! must be Garage's own pid, so that stop can signal it.
  garage -c "$DIR/garage.toml" server >>"$DIR/garage.log" 2>&1 &
  echo $! >"$DIR/garage.pid"
  wait_for 60 "Garage" answering || {
    grep -E 'ERROR|error' "$DIR/garage.log" | tail -n 5 >&2 || true
    stop
    die "Garage did not start within 60 s (log: $DIR/garage.log)"
  }

  if garage_cli status 2>/dev/null | grep -q "NO ROLE ASSIGNED"; then
    local node version
    node=$(garage_cli node id -q 2>/dev/null | cut -d@ -f1)
    garage_cli layout assign -z dc1 -c 10G "$node" >/dev/null
    version=$(garage_cli layout show 2>/dev/null | sed -n 's/.*[Cc]urrent cluster layout version: *\([0-9]*\).*/\1/p' | head -n1)
    garage_cli layout apply --version $((${version:-0} + 1)) >/dev/null
  fi

  if [ ! -f "$DIR/credentials" ]; then
    printf 'GK%s %s\n' "$(random_hex 12)" "$(random_hex 32)" >"$DIR/credentials"
  fi
  local key secret
  read -r key secret <"$DIR/credentials"
  garage_cli key info "$key" >/dev/null 2>&1 ||
    wait_for 30 "key import" garage_cli key import --yes -n hoist "$key" "$secret" ||
    die "Garage refused to import the access key"
  # Made with the CLI, not with S3 CreateBucket: only then does Garage apply the bucket's CORS rules.
  garage_cli bucket info "$BUCKET" >/dev/null 2>&1 ||
    wait_for 30 "bucket" garage_cli bucket create "$BUCKET" ||
    die "Garage could not create the bucket $BUCKET"
  garage_cli bucket allow --read --write --owner "$BUCKET" --key "$key" >/dev/null

  cat >"$DIR/s3.env" <<ENV
export HOIST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export HOIST_S3_REGION=us-east-1
export HOIST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
ENV
  say "Garage is serving S3 at http://127.0.0.1:$s3_port (bucket $BUCKET, data in $DIR)"
}

stop() {
  running || return 0
  local pid
  pid=$(cat "$DIR/garage.pid")
  kill "$pid" 2>/dev/null || true
  if ! wait_for 15 "Garage to stop" bash -c "! kill -0 $pid"; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/garage.pid"
}

[ $# -ge 2 ] || usage
command=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
shift 2
case "$command" in
  start) start "$@" ;;
  stop) stop ;;
  *) usage ;;
esac
