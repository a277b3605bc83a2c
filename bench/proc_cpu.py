"""CPU time of processes by name, from /proc: what the benchmarks charge to each party."""

import os


def cpu_seconds(prefix: str) -> float:
    """CPU seconds used so far by every process whose name starts with `prefix`."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")].startswith(prefix):
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
