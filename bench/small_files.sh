#!/usr/bin/env bash
# What sending every file as a multipart upload costs small files, against a presigned
# PutObject: the server's calls to a real Garage, one file after another, interleaved rounds.
#   bench/small_files.sh [FILES] [SIZE_KIB] [ROUNDS]     (default 200 files of 256 KiB, 6 rounds)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
cd "$ROOT"

FILES=${1:-200} SIZE_KIB=${2:-256} ROUNDS=${3:-6}
BOTO3_VERSION=1.40.61
VENV="$TOOLS_DIR/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import boto3" 2>/dev/null; then
  step "Installing boto3 $BOTO3_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "boto3==$BOTO3_VERSION" || die "pip could not install boto3"
fi
command -v garage >/dev/null || die "Garage is not installed: run scripts/test.sh or scripts/dev.sh once"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench.XXXXXX")
trap '"$ROOT/scripts/local-s3.sh" stop "$WORK/s3" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
step "Starting Garage"
scripts/local-s3.sh start "$WORK/s3" "$(free_port)"
# shellcheck disable=SC1091
source "$WORK/s3/s3.env"

step "$FILES files of $SIZE_KIB KiB, $ROUNDS rounds, PutObject and one-part multipart interleaved"
result=$("$VENV/bin/python" bench/small_files.py "$FILES" "$SIZE_KIB" "$ROUNDS")
echo "$result"
commit=$(git rev-parse --short HEAD)
python3 - "$result" "$commit" <<'PY'
import json, sys
r, commit = json.loads(sys.argv[1]), sys.argv[2]
print(f"commit {commit}: {r['files']} files x {r['size_kib']} KiB, median of {r['rounds']} rounds")
print(f"  presigned PutObject:   {r['put_ms_per_file']:.2f} ms per file (server-side store calls)")
print(f"  one-part multipart:    {r['multipart_ms_per_file']:.2f} ms per file")
print(f"  multipart / PutObject: {r['multipart_over_put']:.2f}x")
PY
