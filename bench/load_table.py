"""One Markdown row per run of bench/load.sh, from its output, as docs/benchmarks.md shows them:
server-function calls/s (the Hoist calls, not the PUT to the store), p50 / p99 per call, errors,
peak RSS, each party's CPU seconds, Hoist's CPU per call and, where the run printed them, the
mean wait for a write turn by kind. The commit each run names goes to stderr.

    python3 bench/load_table.py LOG [paced]
"""

import re
import sys

CALLS = [
    "start_uploads (multipart)",
    "sign_parts (batch of 8)",
    "abort_upload",
    "start_uploads (one part)",
    "complete_uploads",
    "list_uploads",
]
DATABASES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
ROW = re.compile(r"\| ([^|]+) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|")
HEADING = re.compile(r"(\d+) clients, (\d+) instance\(s\), (\w+), (\d+)s")
FOOTER = re.compile(
    r"Server peak RSS: ([^;]+); CPU s during the run: Hoist ([\d.]+), "
    r"(?:Garage|store \(\w+\)) ([\d.]+), PostgreSQL ([\d.]+), load generator ([\d.]+); "
    r"commit (\w+)"
)
TURNS = re.compile(r"Write turns \((\w+)\): \d+, mean wait ([\d.]+) ms")


def rows_of(block):
    """The table's rows by call name: (requests, per second, p50, p99, max, errors)."""
    rows = {}
    for line in block.splitlines():
        match = ROW.match(line)
        if match:
            name, *values = match.groups()
            rows[name.strip()] = values
    return rows


def parse(path, paced=False):
    out = []
    for block in open(path).read().split("==> ")[1:]:
        heading, footer = HEADING.match(block), FOOTER.search(block)
        if not heading or not footer:
            continue
        clients, instances, database, _ = heading.groups()
        rss, hoist, store, postgres, load, commit = footer.groups()
        rows = rows_of(block)
        served = [values for name, values in rows.items() if "PUT" not in name]
        per_second = sum(int(v[1]) for v in served)
        requests = sum(int(v[0]) for v in served)
        errors = sum(int(v[5]) for v in rows.values())
        latencies = [f"{float(rows[c][2]):.0f} / {float(rows[c][3]):.0f}" for c in CALLS]
        rss = " + ".join(rss.replace(" MiB", "").split()) + " MiB"
        postgres = "–" if database == "sqlite" else postgres
        cells = [DATABASES[database]] + ([] if paced else [clients])
        cells += [instances, str(per_second)] + latencies
        cells += [str(errors), rss, f"{hoist} / {store} / {postgres} / {load}"]
        cells.append(f"{float(hoist) / max(requests, 1) * 1000:.1f} ms")
        waits = dict(TURNS.findall(block))
        if waits:
            cells.append(" / ".join(waits.get(k, "–") for k in ("statement", "transaction")))
        out.append("| " + " | ".join(cells) + " |")
        print(commit, file=sys.stderr)
    return out


if __name__ == "__main__":
    for line in parse(sys.argv[1], len(sys.argv) > 2):
        print(line)
