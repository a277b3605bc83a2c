#!/usr/bin/env bash
# What one sign-in costs a person: the time of a `sign_in` call over HTTP on loopback (Argon2id
# verify, session row, cookie) for the right password, a wrong one and an unknown email, which
# must cost the same. Not a test. Prints a Markdown table.
#
#   bench/sign_in.sh
# Settings (environment): BENCH_SIGN_INS (8 per kind; the per-IP sign-in limit allows 30 at
# once, so at most 10), BENCH_PROFILE (release | debug).
set -euo pipefail

PER_KIND=${BENCH_SIGN_INS:-8}
PROFILE=${BENCH_PROFILE:-release}
source "$(dirname "$0")/lib.sh"

start_app sign-in HOIST_S3_LIFECYCLE_RULE=false
settle
python3 - "$APP_URL" "$PER_KIND" "$(git rev-parse --short HEAD)" <<'PY'
import statistics, sys, time, urllib.error, urllib.parse, urllib.request

base, per_kind, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def call(name, email, password):
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    started = time.perf_counter()
    try:
        status = urllib.request.urlopen(f"{base}/api/{name}", body, timeout=30).status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, (time.perf_counter() - started) * 1000

# Two accounts, so neither meets the per-email limit (10 attempts at once).
for email in ("right@example.com", "wrong@example.com"):
    assert call("sign_up", email, "correct horse battery")[0] == 200
kinds = [
    ("right password", "right@example.com", "correct horse battery", 200),
    ("wrong password", "wrong@example.com", "not the password", 401),
    ("unknown email", "nobody@example.com", "correct horse battery", 401),
]
times = {k: [] for k, *_ in kinds}
for _ in range(per_kind):
    for kind, email, password, expected in kinds:
        status, ms = call("sign_in", email, password)
        assert status == expected, (kind, status)
        times[kind].append(ms)
print(f"Commit {commit}; {per_kind} sign-ins of each kind, interleaved, over HTTP on loopback.\n")
print("| sign-in | median (ms) | min – max (ms) |")
print("|---|---|---|")
for kind, values in times.items():
    print(f"| {kind} | {statistics.median(values):.1f} | {min(values):.1f} – {max(values):.1f} |")
PY
