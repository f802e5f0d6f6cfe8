"""Memory against simulated time: the demo server's applications writing, with no backup.

Under ``tracemalloc``: the demo world (seed 0), its workloads run for each of ``--minutes``
simulated minutes (by default 1, 2 and 4), the peak memory of each run measured from before the
world was built. Memory grows with the writes, since every write is kept (a trace record and a
history entry of its volume); the figures say how fast, per simulated hour and per write, and
what a day would take at that rate (``soak_peak_bytes_24h``, extrapolated from the slope: a day
itself is not run, it would not fit). Issue 18's target is a day under 256 MiB.

Run: python benchmarks/memory_in_time.py [--minutes 1 2 4]
Prints a table and writes benchmarks/memory_in_time.json.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Sequence
from typing import Any

from _common import report

from vsssim.host.demo import build_demo_world
from vsssim.sim.kernel import SECOND

#: Issue 18's target for a day of the demo's applications.
TARGET_BYTES_24H = 256 * 1024 * 1024


def one_span(minutes: int) -> tuple[int, int]:
    """The peak traced bytes of ``minutes`` simulated minutes of writes, and the writes."""
    gc.collect()
    tracemalloc.start()
    try:
        world = build_demo_world(0)  # its agent is never started: no backup
        world.run_workloads(minutes * 60 * SECOND)
        writes = sum(w.writes_issued for w in world.workloads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, writes


def measure(spans: Sequence[int]) -> dict[str, Any]:
    """Each span's peak and writes; the growth per simulated hour and the day's extrapolation."""
    figures: dict[str, Any] = {}
    points = []
    for minutes in spans:
        peak, writes = one_span(minutes)
        figures[f"peak_bytes_{minutes}min"] = peak
        figures[f"writes_{minutes}min"] = writes
        points.append((minutes, peak, writes))
    (m0, p0, w0), (m1, p1, w1) = points[0], points[-1]
    per_minute = (p1 - p0) / (m1 - m0)
    figures["bytes_per_simulated_hour"] = round(per_minute * 60)
    figures["bytes_per_write"] = round((p1 - p0) / max(w1 - w0, 1), 1)
    figures["soak_peak_bytes_24h"] = round(p0 + per_minute * (24 * 60 - m0))
    figures["soak_peak_bytes_24h_extrapolated"] = True
    figures["target_bytes_24h"] = TARGET_BYTES_24H
    figures["target_met"] = figures["soak_peak_bytes_24h"] <= TARGET_BYTES_24H
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    if len(args.minutes) < 2 or sorted(set(args.minutes)) != args.minutes:
        parser.error("give at least two spans, in increasing order")
    print("the demo server's applications (seed 0), no backup, under tracemalloc")
    report(__file__, measure(args.minutes))


if __name__ == "__main__":
    main()
