#!/usr/bin/env bash
# A throwaway ClamAV scanner (clamd) for tests and benchmarks, with the signatures the tests
# ship (tests/clamav): no network, no freshclam.
#
#   scripts/local-clamd.sh start DIR [PORT]   start clamd on 127.0.0.1:PORT with its files in
#                                             DIR; writes DIR/clamd.env with HOIST_TEST_CLAMD
#   scripts/local-clamd.sh stop DIR           stop it
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

usage() { die "usage: $0 start DIR [PORT] | stop DIR"; }

pong() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
PY
}

start() {
  local port=${1:-3310}
  command -v clamd >/dev/null || die "clamd is not installed (scripts install it: ensure_scan_tools)"
  mkdir -p "$DIR"
  # 200 MiB streams, with clamd's own limits raised to match and reported when passed
  # (AlertExceedsMax): a file it could not read whole is never called clean.
  cat >"$DIR/clamd.conf" <<CONF
DatabaseDirectory $ROOT/tests/clamav
TCPSocket $port
TCPAddr 127.0.0.1
Foreground yes
LogFile $DIR/clamd.log
StreamMaxLength 200M
MaxFileSize 200M
MaxScanSize 400M
AlertExceedsMax yes
MaxThreads 4
CONF
  clamd -c "$DIR/clamd.conf" >"$DIR/clamd.out" 2>&1 &
  echo $! >"$DIR/clamd.pid"
  wait_for 60 "clamd" pong "$port" || { tail -n 20 "$DIR/clamd.out" >&2; die "clamd did not answer on port $port"; }
  echo "export HOIST_TEST_CLAMD=tcp://127.0.0.1:$port" >"$DIR/clamd.env"
  say "clamd is up on 127.0.0.1:$port"
}

stop() {
  [ -f "$DIR/clamd.pid" ] || return 0
  kill "$(cat "$DIR/clamd.pid")" 2>/dev/null || true
  rm -f "$DIR/clamd.pid"
}

[ $# -ge 2 ] || usage
COMMAND=$1 DIR=$2
shift 2
case $COMMAND in
  start) start "$@" ;;
  stop) stop ;;
  *) usage ;;
esac
