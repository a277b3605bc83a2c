#!/usr/bin/env bash
# The browser bundle (hydrate feature, wasm32) must not contain server crates: they would bloat
# it, and their presence would mean server code leaked into the browser.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

tree=$(cargo tree -e normal --prefix none --target wasm32-unknown-unknown --no-default-features --features hydrate)
leaked=$(printf '%s\n' "$tree" | awk '{print $1}' | sort -u |
  grep -E '^(sqlx.*|aws-.*|tokio|axum.*|hyper.*|rustls.*|leptos_axum|tower-http|clap)$' || true)
if [ -n "$leaked" ]; then
  die "the hydrate build depends on server crates: $(echo $leaked)"
fi
say "$(printf '%s\n' "$tree" | awk '{print $1}' | sort -u | wc -l) crates in the browser bundle, none of them server-only"
