"""Exits 0 when Garage used under 5 % of a core over the last half second, else 1."""

import time

from proc_cpu import cpu_seconds

before = cpu_seconds("garage")
time.sleep(0.5)
raise SystemExit(0 if cpu_seconds("garage") - before < 0.05 * 0.5 else 1)
