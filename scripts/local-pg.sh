#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks, from Debian's postgresql package.
#
#   scripts/local-pg.sh start DIR [PORT]   initialise (first time) and start it with its data in
#                                          DIR, on 127.0.0.1:PORT; writes DIR/pg.env with
#                                          HOIST_TEST_POSTGRES (the server's URL, no database)
#   scripts/local-pg.sh stop DIR           stop it
#
# Trust authentication on loopback and no fsync: it holds nothing worth keeping.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

usage() { die "usage: $0 start DIR [PORT] | stop DIR"; }

# PostgreSQL refuses to run as root; as root, the cluster belongs to the postgres user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local port=${1:-5432} bin
  bin=$(postgres_bin) || die "PostgreSQL is not installed (scripts install it: ensure_database_tools)"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
    as_owner test -w "$DIR" || die "the postgres user cannot reach $DIR: every folder above it must be searchable (chmod o+x)"
  fi
  if [ -f "$DIR/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    say "PostgreSQL is already running in $DIR"
    return
  fi
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$DIR/initdb.log" 2>&1 || die "initdb failed (log: $DIR/initdb.log)"
  fi
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start \
    -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" \
    >/dev/null || {
    tail -n 20 "$DIR/postgres.log" >&2 || true
    die "PostgreSQL did not start (log: $DIR/postgres.log)"
  }
  echo "export HOIST_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port" >"$DIR/pg.env"
  say "PostgreSQL is up on 127.0.0.1:$port (settings in $DIR/pg.env)"
}

stop() {
  local bin
  bin=$(postgres_bin) || return 0
  [ -f "$DIR/data/postmaster.pid" ] || return 0
  as_owner "$bin/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
}

[ $# -ge 2 ] || usage
command=$1 DIR=$(realpath -m "$2")
shift 2
case $command in
start) start "$@" ;;
stop) stop ;;
*) usage ;;
esac
