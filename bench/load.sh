#!/usr/bin/env bash
# The load Hoist's control plane holds: bench/load/main.rs plays N concurrent clients (each a
# guest with its own cookie and connections) doing a page's calls — start a large file, sign its
# parts in batches of 8, abort it; start a 4 KiB file, PUT its part straight to Garage, complete
# it; list the library — against one or two release instances on one database, for 100 and
# 1,000 clients. Parts of the large file are only signed (never sent); the small file's part goes
# to the store: Garage by default, or with BENCH_STORE=stub an in-memory stand-in
# (bench/store_stub/main.rs) for the pure control-plane figure, so that the store's CPU does not
# share the two cores with the Hoist being measured. Not a test. Prints a Markdown table per run
# and the servers' peak memory.
# On SQLite the instances share one file; on PostgreSQL (a throwaway cluster started here, from
# Debian's package) one database, made fresh for each run.
#
#   bench/load.sh
# Settings (environment): BENCH_DATABASES ("sqlite postgres"), BENCH_CLIENTS ("100 1000"),
# BENCH_INSTANCES ("1 2"), BENCH_SECONDS (60), BENCH_PROFILE (release), BENCH_LINK_MBIT (unset:
# every client calls back to back; a number: each is paced as an upload over a link that fast),
# BENCH_STORE (garage | stub), BENCH_RAMP (5s: the clients start over this long; paced clients
# then come back in waves, one a cycle, unless it is about a cycle's length, ~20 s at 100 Mbit/s).
set -euo pipefail

DATABASES=${BENCH_DATABASES:-sqlite postgres}
CLIENTS=${BENCH_CLIENTS:-100 1000}
INSTANCES=${BENCH_INSTANCES:-1 2}
SECONDS_EACH=${BENCH_SECONDS:-60}
PROFILE=${BENCH_PROFILE:-release}
STORE=${BENCH_STORE:-garage}
source "$(dirname "$0")/lib.sh"

step "Building the load generator and the store stub"
cargo build --"$PROFILE" --no-default-features --features ssr --example load --example store_stub ||
  die "the load generator did not build"
LOAD="target/$PROFILE/examples/load"

case $STORE in
garage) ;;
stub)
  stub_port=$(free_port)
  "target/$PROFILE/examples/store_stub" --port "$stub_port" >"$WORK/store-stub.log" 2>&1 &
  STUB_PID=$!
  wait_for 30 "the store stub" curl -fsS -o /dev/null -X HEAD "http://127.0.0.1:$stub_port/$HOIST_S3_BUCKET" ||
    die "the store stub did not start; see $WORK/store-stub.log"
  export HOIST_S3_ENDPOINT="http://127.0.0.1:$stub_port"
  ;;
*) die "BENCH_STORE: garage or stub, not $STORE" ;;
esac

# 1,000 clients hold 1,000 connections each way, and more while they turn over.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PIDS=()
stop_instances() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap 'stop_instances; [ -z "${STUB_PID:-}" ] || kill "$STUB_PID" 2>/dev/null; scripts/local-pg.sh stop "$WORK/pg" >/dev/null 2>&1 || true; cleanup' EXIT

if [[ " $DATABASES " == *" postgres "* ]]; then
  ensure_database_tools
  chmod 711 "$WORK"
  scripts/local-pg.sh start "$WORK/pg" "$(free_port)"
  # shellcheck disable=SC1091
  source "$WORK/pg/pg.env"
fi

# database_for KIND DATA: the URL every instance of a run shares.
database_for() {
  case $1 in
  sqlite) echo "sqlite://$2/hoist.db" ;;
  postgres)
    local name
    name="load_$(basename "$2" | tr -c 'a-z0-9\n' _)"
    psql -q "$HOIST_TEST_POSTGRES/postgres" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null ||
      die "could not make the database $name"
    echo "$HOIST_TEST_POSTGRES/$name"
    ;;
  *) die "BENCH_DATABASES: unknown database $1" ;;
  esac
}

# instance DATA PORT DATABASE_URL: one more Hoist on the shared database and session secret, so
# a cookie from one instance opens the other. Every client is a guest on loopback
# calling back to back, faster than a page would: the per-caller and per-IP limits and the
# guest quotas are lifted, or they, not the server, would set the figures.
instance() {
  env HOIST_DATA_DIR="$1" HOIST_DATABASE_URL="$3" LEPTOS_SITE_ADDR="127.0.0.1:$2" LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
    HOIST_SESSION_SECRET=load-bench-secret-load-bench-secret-0123 HOIST_RATE_LIMIT=0 HOIST_IP_RATE_LIMIT=0 \
    HOIST_GUEST_QUOTA=64TiB HOIST_GUEST_NETWORK_QUOTA=1024TiB HOIST_MAX_FILE_SIZE=64GiB \
    HOIST_S3_LIFECYCLE_RULE=false HOIST_ORPHAN_SWEEP_INTERVAL=off \
    "$SERVER" >>"$1/instance-$2.log" 2>&1 &
  PIDS+=($!)
  wait_for 60 "Hoist on port $2" curl -fsS -o /dev/null "http://127.0.0.1:$2/healthz" ||
    die "Hoist did not start; see $1/instance-$2.log"
}

# CPU seconds used so far by every Hoist, store (Garage or the stub) and PostgreSQL process (the
# machine has 2 cores, shared by the servers, the store, the database and the load generator).
cpu_now() {
  python3 -c 'import sys; sys.path.insert(0, "bench"); from proc_cpu import cpu_seconds; print(cpu_seconds("hoist"), cpu_seconds("garage") + cpu_seconds("store_stub"), cpu_seconds("postgres"))'
}

peak_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

for database in $DATABASES; do
for instances in $INSTANCES; do
  for clients in $CLIENTS; do
    data="$WORK/load-$database-$instances-$clients"
    mkdir -p "$data"
    url=$(database_for "$database" "$data")
    args=()
    for _ in $(seq "$instances"); do
      port=$(free_port)
      instance "$data" "$port" "$url"
      args+=(--server "http://127.0.0.1:$port")
    done
    settle
    step "$clients clients, $instances instance(s), $database, ${SECONDS_EACH}s"
    before=$(cpu_now)
    /usr/bin/time -f '%U %S' -o "$data/load-cpu" \
      "$LOAD" "${args[@]}" --clients "$clients" --duration "${SECONDS_EACH}s" \
      ${BENCH_LINK_MBIT:+--link-mbit "$BENCH_LINK_MBIT"} --ramp "${BENCH_RAMP:-5s}" | tee "$data/table.md"
    read -r hoist_cpu store_cpu postgres_cpu < <(python3 -c "import sys; a, b = sys.argv[1:3]; a, b = a.split(), b.split(); print(*(round(float(y) - float(x), 1) for x, y in zip(a, b)))" "$before" "$(cpu_now)")
    # Where the writers' time went, as the first instance saw it (see db::writer): waiting for
    # the writer connection (transaction) and for the owners a transaction holds (owner).
    curl -fsS "${args[1]}/metrics" | awk '
      /^hoist_db_write_(wait|held)_seconds_(sum|count)\{/ {
        match($1, /kind="[a-z]+"/); kind = substr($1, RSTART + 6, RLENGTH - 7)
        sub(/\{.*/, "", $1); v[kind, $1] = $2; kinds[kind] = 1
      }
      END {
        for (k in kinds) {
          n = v[k, "hoist_db_write_wait_seconds_count"]
          if (n > 0) printf "Writer waits (%s): %d, mean wait %.2f ms\n", k, n,
            1000 * v[k, "hoist_db_write_wait_seconds_sum"] / n
          h = v[k, "hoist_db_write_held_seconds_count"]
          if (h > 0) printf "Write transactions open (%s): mean %.2f ms\n", k,
            1000 * v[k, "hoist_db_write_held_seconds_sum"] / h
        }
      }'
    rss=()
    for pid in "${PIDS[@]}"; do rss+=("$(peak_mib "$pid") MiB"); done
    echo
    echo "Server peak RSS: ${rss[*]}; CPU s during the run: Hoist $hoist_cpu, store ($STORE) $store_cpu," \
      "PostgreSQL $postgres_cpu, load generator $(awk '{print $1 + $2}' "$data/load-cpu");" \
      "commit $(git rev-parse --short HEAD), $database"
    echo
    stop_instances
  done
done
done
