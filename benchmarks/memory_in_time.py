"""Memory against simulated time: the demo server's applications writing, with no backup.

Under ``tracemalloc``: the demo world (seed 0), its trace batching the applications' writes
(``Trace(batch_writes=True)``, as fuzzing and exploring run), its workloads run for each of
``--minutes`` simulated minutes (by default 1, 10 and 60), the peak memory of each run measured
from before the world was built. Issue 18's target is a day under 256 MiB.

Volumes no longer keep every write (``vsssim.vss.volume_images``): what stays is the current
image of each volume (the blocks ever written), the images of instants marked for reading (a
run with no backup marks none) and a few counters; the batched trace holds one record per
volume and application between two other records. So memory grows with the *distinct blocks*
written, not with the writes, and stops growing once the files' blocks have all been written:
the demo's files have ``allocated_blocks`` blocks, a ceiling the volumes cannot pass.

A day itself does not fit in a few minutes (about a second of computer time per simulated
minute, twice that under ``tracemalloc``), so ``soak_peak_bytes_24h`` is extrapolated
(``soak_peak_bytes_24h_extrapolated``: true) as an upper bound: the longest span's peak plus,
for every allocated block not yet written, the bytes a newly written block cost between the
two longest spans. ``--real-24h`` runs the day instead (tens of minutes).

In the every-write mode (``vsssim demo``, ``vsssim run``) the trace keeps a record per write, so
memory grows with the trace there, as expected; the target is for the batched mode.

Run: python benchmarks/memory_in_time.py [--minutes 1 10 60] [--real-24h]
Prints a table and writes benchmarks/memory_in_time.json.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Sequence
from typing import Any

import attrs
from _common import report

from vsssim.host.demo import build_demo_world
from vsssim.sim.kernel import SECOND

#: Issue 18's target for a day of the demo's applications.
TARGET_BYTES_24H = 256 * 1024 * 1024
DAY_MINUTES = 24 * 60


@attrs.frozen
class Span:
    """What one span measured: its peak, the writes, the distinct blocks written (all
    volumes), the blocks the demo's files have, and the trace's records."""

    minutes: int
    peak: int
    writes: int
    blocks: int
    allocated: int
    records: int


def one_span(minutes: int) -> Span:
    """``minutes`` simulated minutes of the demo's applications, batched, under tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        world = build_demo_world(0)  # its agent is never started: no backup
        world.sim.trace.batch_writes = True
        world.run_workloads(minutes * 60 * SECOND)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    volumes = world.namespace.volumes
    return Span(
        minutes,
        peak,
        sum(w.writes_issued for w in world.workloads),
        sum(v.blocks_in_use for v in volumes),
        sum(f.block_count for f in world.namespace.files()),
        len(world.sim.trace),
    )


def measure(spans: Sequence[int], real_day: bool = False) -> dict[str, Any]:
    """Each span's figures, and a day's peak: run, or bounded from the two longest spans."""
    figures: dict[str, Any] = {}
    points = [one_span(minutes) for minutes in spans]
    for span in points:
        for key, value in attrs.asdict(span).items():
            if key not in ("minutes", "allocated"):
                figures[f"{key}_{span.minutes}min"] = value
    (*_, before, last) = points
    per_block = (last.peak - before.peak) / max(last.blocks - before.blocks, 1)
    figures["allocated_blocks"] = last.allocated
    figures["bytes_per_written_block"] = round(per_block, 1)
    figures["bytes_per_write_last_span"] = round(
        (last.peak - before.peak) / max(last.writes - before.writes, 1), 2
    )
    if real_day:
        day = one_span(DAY_MINUTES)
        figures["soak_peak_bytes_24h"] = day.peak
        figures["soak_peak_bytes_24h_extrapolated"] = False
        figures["writes_24h"] = day.writes
    else:
        unwritten = max(last.allocated - last.blocks, 0)
        figures["soak_peak_bytes_24h"] = round(last.peak + max(per_block, 0) * unwritten)
        figures["soak_peak_bytes_24h_extrapolated"] = True
    figures["target_bytes_24h"] = TARGET_BYTES_24H
    figures["target_met"] = figures["soak_peak_bytes_24h"] <= TARGET_BYTES_24H
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    parser.add_argument("--real-24h", action="store_true", help="run a whole simulated day")
    args = parser.parse_args()
    if len(args.minutes) < 2 or sorted(set(args.minutes)) != args.minutes:
        parser.error("give at least two spans, in increasing order")
    print("the demo server's applications (seed 0), batched trace, no backup, under tracemalloc")
    report(__file__, measure(args.minutes, args.real_24h))


if __name__ == "__main__":
    main()
