"""The report of bench/upload.sh: one Markdown table per scenario, medians, and every ratio
the issue sets a target for. Reads the JSON lines the script wrote.

    python3 bench/report.py RESULTS COMMIT PROFILE BIG_MIB SMALL_FILES LINK_FILES LINK_MIB LATENCY MBPS MEMORY_MIB
"""

import json
import os
import statistics
import sys

path, commit, profile = sys.argv[1:4]
big_mib, small_files, link_files, link_mib, latency, mbps, memory_mib = map(int, sys.argv[4:11])
rows = [json.loads(line) for line in open(path)]

LABELS = {
    "boto3": "boto3 direct (default CRC32 checksums, 6 threads)",
    "uppy": "Uppy 5 + @uppy/aws-s3, defaults",
    "uppy16": "Uppy 5 + @uppy/aws-s3, 16 MiB parts",
    "uppy6": "Uppy 6 + @uppy/aws-s3, defaults",
    "uppy6-16": "Uppy 6 + @uppy/aws-s3, 16 MiB parts",
    "uppy6-dash": "Uppy 6 + @uppy/aws-s3 + @uppy/dashboard, defaults",
    "before": f"Hoist before this change (commit {os.environ.get('BENCH_BEFORE_COMMIT', '?')})",
    "hoist": "Hoist, defaults (CRC32C part checksums)",
}
SCENARIOS = {
    "big": (f"one {big_mib} MiB file, loopback", big_mib),
    "small": (f"{small_files} files × 256 KiB, loopback", small_files / 4),
    "small-link": (f"{link_files} files × 256 KiB, {latency} ms latency, {mbps} Mbit/s", link_files / 4),
    "big-link": (f"one {link_mib} MiB file, {latency} ms latency, {mbps} Mbit/s", link_mib),
    "many": (f"{os.environ.get('BENCH_MANY_FILES', 2000)} files × 16 KiB, loopback",
             int(os.environ.get("BENCH_MANY_FILES", 2000)) / 64),
    "tenk": (f"{os.environ.get('BENCH_TENK_FILES', 10000)} files × 1 KiB picked at once, loopback",
             int(os.environ.get("BENCH_TENK_FILES", 10000)) / 1024),
}
PEERS = ["boto3", "uppy", "uppy16", "uppy6", "uppy6-16", "uppy6-dash", "before", "hoist"]
medians = {}
print(f"Commit {commit}; Hoist built {profile}; Garage 2.5.0 on loopback; Debian's Chromium 156 headless.")
print("Medians of interleaved rounds; each upload with freshly written random files on an idle store.")
print("CPU: seconds used during the upload by the client (all Chromium processes, or boto3), the")
print("signing backend (Hoist's server, or Uppy's Node backend) and Garage. Page main thread: seconds")
print("the page's one thread was busy (CDP TaskDuration), of which running script (ScriptDuration).\n")
for scenario, (title, mib) in SCENARIOS.items():
    runs = {}
    for row in rows:
        if row["scenario"] == scenario:
            runs.setdefault(row["peer"], []).append(row["result"])
    if not runs:
        continue
    print(f"#### {title}\n")
    print("| uploader | runs (s) | median (s) | MiB/s | Hoist ÷ it | CPU s: client / backend / Garage | page main thread s: busy / script |")
    print("|---|---|---|---|---|---|---|")
    stalled = {peer: sum(1 for r in results if r.get("stalled")) for peer, results in runs.items()}
    runs = {peer: [r for r in results if not r.get("stalled")] for peer, results in runs.items()}
    med = {peer: statistics.median(r["seconds"] for r in results) for peer, results in runs.items() if results}
    for peer in PEERS:
        if peer not in med:
            continue
        medians[(scenario, peer)] = med[peer]
        times = ", ".join(f"{r['seconds']:.2f}" for r in runs[peer])
        if stalled[peer]:
            times += f" (+{stalled[peer]} stalled: not done after the deadline, left out)"
        cpu = lambda *keys: statistics.median(sum(r["cpu"].get(k, 0) for k in keys) for r in runs[peer])
        client = cpu("chrom", "boto3")
        backend = cpu("hoist", "node") if peer != "boto3" else 0
        ratio = f"{med[peer] / med['hoist']:.2f}×" if "hoist" in med else "–"
        threads = [r["main_thread"] for r in runs[peer] if r.get("main_thread")]
        thread = (f"{statistics.median(t['tasks'] for t in threads):.2f} / {statistics.median(t['script'] for t in threads):.2f}"
                  if threads else "–")
        print(f"| {LABELS[peer]} | {times} | {med[peer]:.2f} | {mib / med[peer]:.0f} | {ratio} | "
              f"{client:.1f} / {backend:.1f} / {cpu('garage'):.1f} | {thread} |")
    felt = [(peer, r) for peer in PEERS for r in runs.get(peer, []) if r.get("responsiveness")]
    if felt:
        print("\nWhile the files went (each run): a click's wait for the page's thread, median / worst, "
              "the page's longest task and how many tasks took over 100 ms; Chromium's memory above idle.\n")
        print("| uploader | clicks | click wait ms: median / worst | longest task ms | tasks > 100 ms | memory above idle MiB |")
        print("|---|---|---|---|---|---|")
        for peer, r in felt:
            f, m = r["responsiveness"], r.get("memory")
            above = f"{(m['rssPeak'] - m['rssBefore']) / 2**20:.0f}" if m else "–"
            print(f"| {LABELS[peer]} | {f['clicks']} | {f['click_p50_ms']} / {f['click_max_ms']} | "
                  f"{f['longest_task_ms']} | {f['tasks_over_100ms']} | {above} |")
    if scenario == "big-link":
        limit = link_mib * 8 * 1024 * 1024 / (mbps * 1e6)
        print(f"\nThe link's limit: {limit:.1f} s; Hoist reaches **{limit / med['hoist']:.2f}×** the link's rate.")
    print()

# The faster Uppy of each pair is the one named here when both ran (see below).
TARGETS = [
    ("small", "uppy", 1.5), ("small", "uppy6", 1.5), ("small-link", "uppy", 1.5), ("small-link", "uppy6", 1.5),
    ("many", "uppy6-dash", 2.0),
    ("big", "uppy", 1.3), ("big", "uppy16", 1.05), ("big", "uppy6-16", 1.05), ("big", "boto3", 0.9),
]
lines = []
for scenario, peer, target in TARGETS:
    if (scenario, "hoist") in medians and (scenario, peer) in medians:
        ratio = medians[(scenario, peer)] / medians[(scenario, "hoist")]
        verdict = "met" if ratio >= target else "not met"
        lines.append(f"| {SCENARIOS[scenario][0]} | {LABELS[peer]} | ≥ {target}× | {ratio:.2f}× | {verdict} |")
if lines:
    print("#### Against the targets (Hoist's speed ÷ the peer's)\n")
    print("| scenario | peer | target | measured | |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
    print()
for row in rows:
    if row["scenario"] == "memory":
        m, s = row["result"]["memory"], row["result"]["seconds"]
        print(f"{memory_mib} MiB upload through Hoist in {s:.1f} s ({memory_mib / s:.0f} MiB/s): Chromium's resident "
              f"memory (all its processes) {m['rssBefore'] / 2**20:.0f} MiB before, peak {m['rssPeak'] / 2**20:.0f} MiB "
              f"(+{(m['rssPeak'] - m['rssBefore']) / 2**20:.0f} MiB); peak JS heap {m['heapPeak'] / 2**20:.1f} MiB.")
