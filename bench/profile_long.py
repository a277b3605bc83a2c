#!/usr/bin/env python3
"""What the page ran in its long stretches: a DevTools CPU profile (browser_upload.mjs
--cpu-profile) cut into stretches of over 100 ms without an idle sample, and the functions
those stretches spent their samples in, by total (with what they called). A release build's
WebAssembly functions have no names: profile a debug build (server and page) for them.

    python3 bench/profile_long.py PROFILE [--after SECONDS]

--after keeps only the stretches that began that many seconds after the profile did.
"""
import collections
import json
import sys

args = sys.argv[1:]
if not args or args[0].startswith("-"):
    sys.exit("usage: python3 bench/profile_long.py PROFILE [--after SECONDS]")
after = float(args[args.index("--after") + 1]) if "--after" in args else 0.0
profile = json.load(open(args[0]))
nodes = {n["id"]: n for n in profile["nodes"]}
parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}


def name(i):
    return nodes[i]["callFrame"]["functionName"] or "(anonymous)"


# Stretches: consecutive non-idle samples spanning over 100 ms.
t0 = t = profile["startTime"]
stretches, current, began = [], [], None
for sample, delta in zip(profile["samples"], profile["timeDeltas"]):
    t += delta
    if name(sample) == "(idle)":
        if current and t - began > 100_000 and (began - t0) / 1e6 >= after:
            stretches.append((began, t, current))
        current, began = [], None
        continue
    if began is None:
        began = t
    current.append(sample)

total = collections.Counter()
for _, _, samples in stretches:
    for sample in samples:
        seen, i = set(), sample
        while i in nodes:
            if name(i) not in seen:
                seen.add(name(i))
                total[name(i)] += 1
            i = parent.get(i, -1)
count = sum(len(s) for _, _, s in stretches)
print(f"{len(stretches)} stretches over 100 ms, {count} samples in them")
print(" samples  function (with what it called)")
for fn, n in total.most_common(100):
    print(f"{n:8d}  {fn[:150]}")
