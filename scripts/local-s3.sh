#!/usr/bin/env bash
# A local Garage (S3-compatible) store for development and tests: one node, or a cluster.
#
#   scripts/local-s3.sh start DIR [S3_PORT] [NODES]   start it (or find it running) with its data
#                       in DIR; writes DIR/s3.env with the HOIST_S3_* and AWS_* settings. NODES > 1
#                       starts that many nodes (DIR/node1, DIR/node2, ...) in zones of their own
#                       with every object on each (replication factor NODES); S3_PORT is node 1's.
#                       DIR/nodeK/garage.pid lets a test kill one node.
#   scripts/local-s3.sh stop DIR              stop it (every node)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

BUCKET=${HOIST_S3_BUCKET:-hoist}

usage() { die "usage: $0 start DIR [S3_PORT] [NODES] | stop DIR"; }

# node_dir K: where node K keeps its configuration, data, log and pid (DIR itself for one node).
node_dir() { if [ "$NODES" = 1 ]; then echo "$DIR"; else echo "$DIR/node$1"; fi; }

garage_on() {
  local dir
  dir=$(node_dir "$1")
  shift
  garage -c "$dir/garage.toml" "$@"
}
garage_cli() { garage_on 1 "$@"; }

running_node() {
  local dir
  dir=$(node_dir "$1")
  [ -f "$dir/garage.pid" ] && kill -0 "$(cat "$dir/garage.pid")" 2>/dev/null
}

# Fails at once (so wait_for ends early) once the server has died.
answering() {
  running_node "$1" || exit_dead "$1"
  garage_on "$1" status
}

exit_dead() {
  local log
  log="$(node_dir "$1")/garage.log"
  grep -E 'ERROR' "$log" | tail -n 5 >&2 || true
  die "Garage exited while starting (log: $log)"
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# launch K S3_PORT: writes node K's configuration and starts it.
launch() {
  local k=$1 s3_port=$2 dir rpc_port
  dir=$(node_dir "$k")
  mkdir -p "$dir/meta" "$dir/data"
  rpc_port=$(free_port)
  (
    umask 077
    cat >"$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = $NODES
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(cat "$DIR/rpc_secret")"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.localhost"
TOML
  )
  # Not through garage_on: $! must be Garage's own pid, so that stop can signal it.
  garage -c "$dir/garage.toml" server >>"$dir/garage.log" 2>&1 &
  echo $! >"$dir/garage.pid"
}

start() {
  local s3_port=${1:-3900}
  NODES=${2:-1}
  mkdir -p "$DIR"
  if running_node 1; then
    say "Garage is already running (pid $(cat "$(node_dir 1)/garage.pid"))"
    [ -f "$DIR/s3.env" ] || die "$DIR/s3.env is missing; stop Garage and start it again"
    return
  fi
  echo "$NODES" >"$DIR/nodes"
  [ -f "$DIR/rpc_secret" ] || random_hex 32 >"$DIR/rpc_secret"
  local k
  for ((k = 1; k <= NODES; k++)); do
    if [ "$k" = 1 ]; then launch 1 "$s3_port"; else launch "$k" "$(free_port)"; fi
  done
  for ((k = 1; k <= NODES; k++)); do
    wait_for 60 "Garage" answering "$k" || {
      grep -E 'ERROR|error' "$(node_dir "$k")/garage.log" | tail -n 5 >&2 || true
      stop
      die "Garage node $k did not start within 60 s (log: $(node_dir "$k")/garage.log)"
    }
  done
  for ((k = 2; k <= NODES; k++)); do
    garage_cli node connect "$(garage_on "$k" node id -q 2>/dev/null)" >/dev/null ||
      die "Garage node $k could not join node 1"
  done

  if garage_cli status 2>/dev/null | grep -q "NO ROLE ASSIGNED"; then
    local node version
    for ((k = 1; k <= NODES; k++)); do
      node=$(garage_on "$k" node id -q 2>/dev/null | cut -d@ -f1)
      garage_cli layout assign -z "dc$k" -c 10G "$node" >/dev/null
    done
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
  wait_for 30 "bucket access" garage_cli bucket allow --read --write --owner "$BUCKET" --key "$key" ||
    die "Garage could not give the key access to $BUCKET"

  cat >"$DIR/s3.env" <<ENV
export HOIST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export HOIST_S3_REGION=us-east-1
export HOIST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
ENV
  say "Garage ($NODES node(s)) is serving S3 at http://127.0.0.1:$s3_port (bucket $BUCKET, data in $DIR)"
}

stop() {
  NODES=$(cat "$DIR/nodes" 2>/dev/null || echo 1)
  local k pid dir
  for ((k = 1; k <= NODES; k++)); do
    running_node "$k" || continue
    dir=$(node_dir "$k")
    pid=$(cat "$dir/garage.pid")
    kill "$pid" 2>/dev/null || true
    if ! wait_for 15 "Garage to stop" bash -c "! kill -0 $pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/garage.pid"
  done
}

[ $# -ge 2 ] || usage
command=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
NODES=1
shift 2
case "$command" in
  start) start "$@" ;;
  stop) stop ;;
  *) usage ;;
esac
