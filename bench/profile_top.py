#!/usr/bin/env python3
"""Sums a DevTools CPU profile (bench/browser_upload.mjs --cpu-profile) by function: self time
and the time of everything a function called (total), the top rows of each, in milliseconds.

    python3 bench/profile_top.py OUT.cpuprofile [ROWS]
"""
import collections
import json
import sys


def main():
    profile = json.load(open(sys.argv[1]))
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {}
    for n in profile["nodes"]:
        for c in n.get("children", []):
            parent[c] = n["id"]
    deltas = profile["timeDeltas"]
    # Each sample's time is the delta to the next sample.
    spent = collections.Counter()
    for i, node_id in enumerate(profile["samples"]):
        if i + 1 < len(deltas):
            spent[node_id] += deltas[i + 1] / 1000.0

    def name(n):
        f = n["callFrame"]
        where = f["url"].rsplit("/", 1)[-1]
        return f"{f['functionName'] or '(anonymous)'} [{where}]" if where else f["functionName"] or "(anonymous)"

    own = collections.Counter()
    total = collections.Counter()
    for node_id, ms in spent.items():
        own[name(nodes[node_id])] += ms
        seen = set()
        walk = node_id
        while walk is not None:
            label = name(nodes[walk])
            if label not in seen:
                total[label] += ms
                seen.add(label)
            walk = parent.get(walk)
    busy = sum(ms for n, ms in own.items() if not n.startswith("(idle)") and not n.startswith("(program)"))
    print(f"sampled {sum(own.values()):.0f} ms, busy (not idle/program) {busy:.0f} ms")
    print(f"\n{'self ms':>9}  function")
    for label, ms in own.most_common(rows):
        print(f"{ms:9.1f}  {label}")
    print(f"\n{'total ms':>9}  function (with what it called)")
    for label, ms in total.most_common(rows):
        print(f"{ms:9.1f}  {label}")


if __name__ == "__main__":
    main()
