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

A whole day does run, in a child process without ``tracemalloc`` (about 0.1 s of computer
time per simulated minute; ``tracemalloc`` slows it some 25 times, past an hour): its peak is
the child's peak resident set (Linux's ``VmHWM``) less what it held before building the
world, which counts the allocator's overhead too. That is ``soak_peak_bytes_24h``
(``soak_peak_bytes_24h_extrapolated``: false). ``soak_traced_bytes_24h_bound`` bounds the same
day from the traced spans: the longest span's peak plus, for every allocated block not yet
written, the bytes a newly written block cost between the two longest spans. With
``--no-real-24h`` the day is not run and that bound stands in (extrapolated: true).

In the every-write mode (``vsssim demo``, ``vsssim run``) the trace keeps a record per write, so
memory grows with the trace there, as expected; the target is for the batched mode.

Run: python benchmarks/memory_in_time.py [--minutes 1 10 60] [--no-real-24h]
Prints a table and writes benchmarks/memory_in_time.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
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


def _resident() -> tuple[int, int]:
    """This process's resident set now and at its peak, in bytes (Linux's ``VmRSS`` and
    ``VmHWM``: unlike ``ru_maxrss``, the peak is not inherited from the parent process)."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024  # kB
    if len(found) == 2:
        return found["VmRSS"], found["VmHWM"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: a bound
    return peak, peak


def untraced_span(minutes: int) -> dict[str, int]:
    """``minutes`` simulated minutes as :func:`one_span`, without tracemalloc, in this process:
    the growth of its peak resident set (bytes) over building and running the world."""
    gc.collect()
    before, _ = _resident()
    world = build_demo_world(0)
    world.sim.trace.batch_writes = True
    world.run_workloads(minutes * 60 * SECOND)
    _, peak = _resident()
    return {
        "peak_rss_growth_bytes": peak - before,
        "peak_rss_bytes": peak,
        "writes": sum(w.writes_issued for w in world.workloads),
        "blocks": sum(v.blocks_in_use for v in world.namespace.volumes),
        "records": len(world.sim.trace),
    }


def real_day() -> dict[str, int]:
    """A whole simulated day, run by a child process (a fresh heap): :func:`untraced_span`."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(DAY_MINUTES)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, int] = json.loads(done.stdout)
    return figures


def measure(spans: Sequence[int], run_day: bool = True) -> dict[str, Any]:
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
    unwritten = max(last.allocated - last.blocks, 0)
    bound = round(last.peak + max(per_block, 0) * unwritten)
    figures["soak_traced_bytes_24h_bound"] = bound
    if run_day:
        day = real_day()
        figures["soak_peak_bytes_24h"] = day["peak_rss_growth_bytes"]
        figures["soak_peak_bytes_24h_extrapolated"] = False
        figures["soak_peak_rss_bytes_24h_process"] = day["peak_rss_bytes"]
        for key in ("writes", "blocks", "records"):
            figures[f"{key}_24h"] = day[key]
    else:
        figures["soak_peak_bytes_24h"] = bound
        figures["soak_peak_bytes_24h_extrapolated"] = True
    figures["target_bytes_24h"] = TARGET_BYTES_24H
    figures["target_met"] = figures["soak_peak_bytes_24h"] <= TARGET_BYTES_24H
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, nargs="+", default=[1, 10, 60])
    parser.add_argument(
        "--no-real-24h", action="store_true", help="do not run the whole day (bound it only)"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # real_day's child
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(untraced_span(args.child)))
        return
    if len(args.minutes) < 2 or sorted(set(args.minutes)) != args.minutes:
        parser.error("give at least two spans, in increasing order")
    print("the demo server's applications (seed 0), batched trace, no backup, under tracemalloc")
    report(__file__, measure(args.minutes, not args.no_real_24h))


if __name__ == "__main__":
    main()
