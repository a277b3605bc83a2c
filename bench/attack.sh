#!/usr/bin/env bash
# The attack run: the adversarial suite and 10,000 random bodies to every server function and
# route against the real `hoist` binary and a real Garage, the server's memory and /healthz
# watched throughout. Prints the figures and writes them into docs/security.md, naming the
# commit. Pass/fail is the tests' own; this only runs them and keeps what they measured.
#
#   bench/attack.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
cd "$ROOT"

ensure_build_tools
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-attack.XXXXXX")
cleanup() {
  "$ROOT/scripts/local-s3.sh" stop "$WORK/s3" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step "Starting a local S3 store (Garage)"
scripts/local-s3.sh start "$WORK/s3" "$(free_port)"
set -a
# shellcheck disable=SC1091
source "$WORK/s3/s3.env"
set +a

step "The adversarial suite and the attack run (cargo test)"
SUITES=(--test attacks --test live_feed_abuse --test processing_abuse --test processing_isolation)
present=()
for ((i = 1; i < ${#SUITES[@]}; i += 2)); do
  [ -f "tests/${SUITES[$i]}.rs" ] && present+=(--test "${SUITES[$i]}")
done
RUSTFLAGS="--cfg erase_components" cargo test --no-default-features --features ssr "${present[@]}" \
  -- --nocapture --test-threads 1 2>&1 | tee "$WORK/attack.log"

commit=$(git rev-parse --short HEAD)
dirty=$(git diff --quiet HEAD -- src tests || echo " (with uncommitted changes)")
figures=$(grep -E '^(attack run|live feed|mp4|decoder|processing)[^:]*:' "$WORK/attack.log" || true)
passed=$(grep -E '^test result:' "$WORK/attack.log" | awk '{p += $4; f += $6} END {print p " passed, " f " failed"}')
report=$(printf 'Commit %s%s, %s, %s.\n\n```\n%s\n```\n' "$commit" "$dirty" "$(date -u +%Y-%m-%d)" "$passed" "$figures")
printf '\n%s\n' "$report"
python3 - "$report" <<'PY'
import re, sys
path = "docs/security.md"
text = open(path).read()
marker = "<!-- figures: printed by bench/attack.sh -->"
head = text.split(marker)[0]
open(path, "w").write(head + marker + "\n\n" + sys.argv[1] + "\n")
PY
say "figures written to docs/security.md"
