#!/usr/bin/env python3
"""Sums a DevTools timeline trace (bench/browser_upload.mjs --trace) on the page's main thread:
the self time of each kind of event (script, style, layout, paint, …), largest first, in ms.

    python3 bench/trace_top.py OUT.json [ROWS]
"""
import collections
import json
import sys


def main():
    data = json.load(open(sys.argv[1]))
    events = data["traceEvents"] if isinstance(data, dict) else data
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    mains = {key for key, name in names.items() if name == "CrRendererMain"}
    # The renderer main thread that ran the most: the page's (not an idle one).
    busy = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and (e["pid"], e["tid"]) in mains:
            busy[(e["pid"], e["tid"])] += e.get("dur", 0)
    main = busy.most_common(1)[0][0]
    spans = sorted((e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) == main and "dur" in e),
                   key=lambda e: (e["ts"], -e["dur"]))
    own = collections.Counter()
    stack = []
    for e in spans:
        while stack and stack[-1][0] + stack[-1][1] <= e["ts"]:
            stack.pop()
        if stack:
            own[stack[-1][2]] -= e["dur"]
        own[e["name"]] += e["dur"]
        stack.append((e["ts"], e["dur"], e["name"]))
    tasks = sum(e["dur"] for e in spans if e["name"] in ("RunTask", "ThreadControllerImpl::RunTask"))
    print(f"main thread: {tasks / 1000:.0f} ms in tasks")
    for name, us in own.most_common(rows):
        print(f"{us / 1000:9.1f}  {name}")


if __name__ == "__main__":
    main()
